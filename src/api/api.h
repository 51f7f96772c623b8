/*-------------------------------------------------------------------------
 * api.h
 *	  The api layer: SQL-callable functions by audience (client.c for
 *	  applications, commands.c for workflow code, worker.c for activity
 *	  workers), all inside one entry/exit frame (frame.c).
 *-------------------------------------------------------------------------
 */
#ifndef WF_API_H
#define WF_API_H

#include "engine/engine.h"

/* Settings of this layer. */
extern char *wf_default_queue;	/* client.c */

/* frame.c: the entry/exit frame of client and worker functions */
extern Oid	wf_api_enter(WfInternal *save, const char *function);
extern void wf_api_settle(void);
extern void wf_api_leave(WfInternal *save);

#endif							/* WF_API_H */
