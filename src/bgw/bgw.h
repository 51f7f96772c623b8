/*-------------------------------------------------------------------------
 * bgw.h
 *	  The processes: the launcher (one per cluster, with the utility hook
 *	  every backend runs) and the schedulers (a pool per database).
 *-------------------------------------------------------------------------
 */
#ifndef WF_BGW_H
#define WF_BGW_H

#include "api/api.h"

/* Settings of this layer. */
extern int	wf_batch_size;			/* scheduler.c */
extern int	wf_max_naptime_ms;		/* scheduler.c */
extern int	wf_launcher_naptime_ms; /* launcher.c */

/* launcher.c */
extern void wf_scheduler_register(void);
extern void wf_utility_hook_init(void);

/* scheduler.c: what the launcher needs to know of a scheduler */
PGDLLEXPORT void wf_scheduler_main(Datum arg);
extern void wf_hold_schedulers_for_restore(void);

#endif							/* WF_BGW_H */
