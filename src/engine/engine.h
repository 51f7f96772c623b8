/*-------------------------------------------------------------------------
 * engine.h
 *	  The engine layer: runs workflow code against its history.  Replay,
 *	  the commands an attempt decides on and how they are written, the
 *	  declarative saga.  The engine is driven from above (the api frame,
 *	  the scheduler) by draining the wake-up queue with wf_advance_woken.
 *-------------------------------------------------------------------------
 */
#ifndef WF_ENGINE_H
#define WF_ENGINE_H

#include "model/model.h"

/* Settings of this layer. */
extern int	wf_task_retry_initial_ms;	/* replay.c */
extern int	wf_task_retry_max_ms;		/* replay.c */

typedef enum WfCmdKind
{
	WF_CMD_ACTIVITY,
	WF_CMD_TIMER,
	WF_CMD_SIGNAL,
	WF_CMD_MARKER,
	WF_CMD_CHILD
} WfCmdKind;

typedef enum WfCmdState
{
	WF_CMD_PENDING,				/* scheduled, no outcome yet */
	WF_CMD_DONE,				/* result available */
	WF_CMD_FAILED,				/* failed for good */
	WF_CMD_CANCELLED			/* cancellation delivered here */
} WfCmdState;

/* What the history says about the command at one sequence number. */
typedef struct WfHistCmd
{
	bool		present;
	WfCmdKind	kind;
	char	   *name;
	WfCmdState	state;
	Jsonb	   *result;			/* DONE: the result; FAILED: the failure */
	char	   *error;			/* FAILED: the message */
} WfHistCmd;

/* A decision taken by this attempt, written once the attempt is over. */
typedef struct WfNewCmd
{
	int			seq;
	WfCmdKind	kind;
	char	   *name;
	bool		cancel;			/* deliver cancellation at seq */
	char	   *queue;
	Jsonb	   *input;
	Jsonb	   *options;
	char	   *compensation;
	Jsonb	   *compensation_input;
	TimestampTz fire_at;
	Interval   *duration;
	Jsonb	   *value;			/* markers, consumed signals */
	int64		signal_id;		/* consumed signal, 0 if none */
	char	   *child_id;		/* child workflows */
} WfNewCmd;

/* A workflow.set_state() call, published whatever the attempt's outcome. */
typedef struct WfStateUpdate
{
	char	   *key;
	Jsonb	   *value;
} WfStateUpdate;

typedef struct ReplayContext
{
	MemoryContext mcxt;			/* survives the attempt's rollback */
	MemoryContext hist_mcxt;	/* of cmds: mcxt, or the history cache's */
	WfRun	   *run;
	Jsonb	   *saga_steps;		/* declarative saga, or NULL */
	WfHistCmd  *cmds;			/* indexed by seq - 1 */
	int			ncmds;
	int			seq;			/* last sequence number handed out */
	List	   *new_cmds;		/* of WfNewCmd */
	List	   *state_updates;	/* of WfStateUpdate */
	List	   *patches_seen;	/* change ids patched() answered true */
	List	   *patches_unseen; /* change ids patched() answered false */
	bool		blocked;		/* a call could not be satisfied: suspend */
	char	   *awaited_signal; /* blocked in wait_signal() for this signal */
	char	   *nondeterminism; /* set when code diverged from history */
	bool		cancel_delivered;
	bool		timed_out;		/* ran past workflow.task_timeout */
	bool		took_locks;		/* took advisory locks */
	Jsonb	   *continue_input; /* set by continue_as_new() */
	bool		dry_run;		/* check_replay: keep nothing the attempt did */
} ReplayContext;

extern ReplayContext *wf_replay_require(const char *function);
extern WfHistCmd *wf_replay_next(ReplayContext *ctx, WfCmdKind kind, const char *name);
extern WfNewCmd *wf_replay_record(ReplayContext *ctx, WfCmdKind kind, const char *name);
pg_noreturn extern void wf_replay_block(ReplayContext *ctx, const char *why);
pg_noreturn extern void wf_replay_raise_cancelled(ReplayContext *ctx);
extern bool wf_replay_deliver_cancel(ReplayContext *ctx, WfCmdKind kind, const char *name);
pg_noreturn extern void wf_replay_raise_failure(WfHistCmd *h);

/* replay.c: the replay engine */
extern void wf_advance(WfRun *run);
extern void wf_advance_woken(void);
extern void wf_replay_at_end(void);
extern bool wf_replay_check_run(WfRun *run, char **detail);
extern TimestampTz wf_task_retry_time(int failures);
extern TimestampTz wf_record_task_failure(WfRun *run, Jsonb *error, const char *item,
										  bool retry_task);

/* histcache.c: the decoded history of runs this backend advanced */
typedef struct WfHistCacheEntry WfHistCacheEntry;
extern WfHistCacheEntry *wf_hist_cache_get(WfRun *run);
extern int64 wf_hist_cache_through(WfHistCacheEntry *e);
extern void wf_hist_cache_commands(WfHistCacheEntry *e, WfHistCmd **cmds, int *ncmds,
								   MemoryContext *mcxt);
extern void wf_hist_cache_loaded(WfHistCacheEntry *e, WfHistCmd *cmds, int ncmds,
								 int64 through);
extern void wf_hist_cache_at_subabort(SubTransactionId subid);
extern void wf_hist_cache_at_end(bool commit);

/* apply.c: what an attempt decided, recorded and written */
extern WfHistCmd *wf_cmd_activity(ReplayContext *ctx, const char *activity, Jsonb *input,
								  const char *queue, Jsonb *options, const char *compensation,
								  Jsonb *compensation_input);
extern Jsonb *wf_cmd_await(ReplayContext *ctx, WfHistCmd *h, const char *why);
extern void wf_apply_command(WfRun *run, WfNewCmd *cmd);
extern void wf_apply_state(WfRun *run, List *updates);

/* saga.c */
extern Datum wf_saga_body(ReplayContext *ctx);

#endif							/* WF_ENGINE_H */
