/*-------------------------------------------------------------------------
 *
 * slots.h
 *	  The worker's concurrency slots and its event loop.
 *
 * worker/slots.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef WORKER_SLOTS_H
#define WORKER_SLOTS_H

extern void setup_signals(void);
extern void slots_init(void);
extern int	run_worker(void);
extern void slots_cleanup(void);

#endif							/* WORKER_SLOTS_H */
