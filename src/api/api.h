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

#include "utils/guc.h"

/* Settings of this layer. */
extern char *wf_default_queue;	/* client.c */

typedef enum WfReplayCheckMode
{
	WF_REPLAY_CHECK_OFF,
	WF_REPLAY_CHECK_WARNING,
	WF_REPLAY_CHECK_ERROR
} WfReplayCheckMode;

extern int	wf_replay_check_mode;	/* replay_check.c: workflow.replay_check */
extern int	wf_replay_check_runs;	/* replay_check.c */
extern const struct config_enum_entry wf_replay_check_options[];

/* frame.c: the entry/exit frame of client and worker functions */
extern Oid	wf_api_enter(WfInternal *save, const char *function);
extern void wf_api_settle(void);
extern void wf_api_leave(WfInternal *save);

/* client.c: the caller must own the run (or be a member of its owner) to steer it */
extern void wf_check_run_access(WfRun *run, Oid caller);

#endif							/* WF_API_H */
