/*-------------------------------------------------------------------------
 * model.h
 *	  The model layer: rules over rows that never run workflow code.
 *	  Activity tasks, timers, runs and their relatives, how a run ends.
 *	  What makes a run go on is recorded as a wake-up (core.h), never by
 *	  calling the engine.
 *-------------------------------------------------------------------------
 */
#ifndef WF_MODEL_H
#define WF_MODEL_H

#include "core/core.h"

#include "funcapi.h"

/* Settings of this layer. */
extern int	wf_default_timeout_ms;	/* tasks.c */
extern bool wf_session_leases;	/* leases.c */
extern int	wf_retention_s;		/* retention.c */

/* runs.c: creating runs; children and parents */
typedef struct WfRunSpec
{
	const char *workflow_id;
	const char *workflow_type;
	Jsonb	   *input;
	const char *queue;
	Jsonb	   *options;
	Oid			owner;
	const char *started_by;
	const char *parent_workflow_id;
	Datum		parent_run_id;
	Datum		run_id;			/* preset run id, or 0 */
	Datum		continued_from; /* previous run id, or 0 */
	bool		admitted;		/* reset: starts at once, outside type limits */
	Jsonb	   *started_data;	/* reset: WorkflowStarted's data as given, or NULL */
} WfRunSpec;

extern WfRun *wf_create_run(WfRunSpec *spec);
extern void wf_check_run_options(Jsonb *options, const char *what, const char *const *allowed);
extern void wf_check_workflow_id(const char *workflow_id, Oid owner, const char *parent_id);
extern void wf_continue_as_new(WfRun *run, Jsonb *input);
extern void wf_request_cancel(WfRun *run, const char *reason, const char *requested_by);
extern void wf_mark_parent(WfRun *run);
extern int	wf_deliver_child_notices(WfRun *parent);
extern void wf_end_run(WfRun *run, WfRunStatus status, Jsonb *result, Jsonb *error);
extern void wf_check_start_queues(Oid role, const char *type, const char *queue);

/* reset.c: a new run from a kept prefix of the history (workflow.reset_workflow) */
extern Datum wf_reset_run(const char *workflow_id, int64 event_id, const char *reason,
						  Oid caller);

/* lifecycle.c: how runs end */
extern void wf_complete_run(WfRun *run, Jsonb *result);
extern void wf_fail_run(WfRun *run, Jsonb *error);
extern void wf_continue_compensation(WfRun *run, Jsonb *failure);
extern void wf_terminate_run(WfRun *run, WfEventType event_type, WfRunStatus status,
							 const char *reason);

/* flow.c: flow control (queue limits, type limits, queued runs) */
typedef struct WfClaimLimits
{
	bool		configured;		/* the queue has a queue_config row */
	bool		locked;			/* the queue's claim lock is held */
	bool		keep_lock;		/* to commit: the pending counts had no room */
	int32		allowed;		/* how many tasks the claim may take */
	int32		max_concurrency;	/* 0 if none */
	int32		key_limit;		/* key_concurrency, 0 if none */
	bool		rate_limited;
	int32		tokens_taken;	/* from the bucket, if rate_limited */
	int32		reserved;		/* room reserved under max_concurrency */
	List	   *keys;			/* a keyed claim's keys (flow.c's KeyCount) */
} WfClaimLimits;

extern void wf_set_queue_limits(const char *queue, Jsonb *options, Oid caller);
extern void wf_claim_limits(const char *queue, int32 max_tasks, TimestampTz now,
							WfClaimLimits *lim);
extern Datum wf_pick_keyed_tasks(const char *queue, WfClaimLimits *lim, TimestampTz now);
extern void wf_claims_taken(const char *queue, WfClaimLimits *lim, int n, TimestampTz now);
extern void wf_check_flow_options(Jsonb *options);
extern void wf_check_type_limits_supported(Jsonb *options);
extern int	wf_run_priority(Jsonb *options);
extern bool wf_admit_run(const char *type, const char *key);
extern void wf_start_queued(const char *type, bool always);

/* leases.c: session-bound leases */
extern void wf_claim_session(Datum *pid, Datum *started, bool *known);
extern int	wf_fail_ended_sessions(TimestampTz now, bool *held);

/* retention.c: deleting closed runs */
extern int	wf_apply_retention(TimestampTz now, bool *more);
extern int64 wf_purge_runs(Interval *older_than, Oid caller);
extern void wf_check_retention_option(Jsonb *options);

/* tasks.c: activity tasks */
extern void wf_validate_activity_options(Jsonb *options, Jsonb *defaults);
extern void wf_check_queue_produce(Oid role, const char *queue);
extern void wf_check_queue_configure(Oid role, const char *queue);
extern int64 wf_schedule_task(WfRun *run, int seq, bool is_compensation, const char *activity,
							  const char *queue, Jsonb *input, Jsonb *options,
							  char **activity_id);
extern void wf_withdraw_tasks(WfRun *run, int seq, bool all);
extern void wf_check_claim_args(const char *queue, const char *worker, int32 max_tasks);
extern void wf_claim_tasks(ReturnSetInfo *rsinfo, Oid caller, const char *queue,
						   const char *worker, int32 max_tasks);
extern void wf_complete_task(int64 task_id, const char *workflow_id, Jsonb *result, Oid caller);
extern void wf_fail_task(int64 task_id, const char *workflow_id, const char *error, bool retryable, Jsonb *details,
						 Oid caller);
extern bool wf_heartbeat_task(int64 task_id, const char *workflow_id, Jsonb *details, Oid caller);
extern void wf_change_queue_grant(const char *queue, Oid role, const char *privilege,
								  Oid caller, bool grant);
extern List *wf_due_reports(TimestampTz now, int batch);
extern int	wf_apply_report(WfDueItem *item);
extern void wf_postpone_report(WfDueItem *item, TimestampTz at);
extern List *wf_due_tasks(TimestampTz now, int batch);
extern int	wf_tick_due_task(WfDueItem *item, TimestampTz now);
extern void wf_postpone_task(WfDueItem *item, TimestampTz at);
extern int	wf_notify_all_ready_queues(void);

/* schedules.c: schedules and their fires */
typedef enum WfOverlap
{
	WF_OVERLAP_SKIP,
	WF_OVERLAP_BUFFER_ONE,
	WF_OVERLAP_BUFFER_ALL,
	WF_OVERLAP_CANCEL_OTHER,
	WF_OVERLAP_TERMINATE_OTHER,
	WF_OVERLAP_ALLOW_ALL
} WfOverlap;

typedef struct WfSchedule
{
	/* the row */
	char	   *schedule_id;
	char	   *spec;
	char	   *workflow_type;
	Jsonb	   *input;
	Jsonb	   *options;
	char	   *queue;			/* the default queue at creation */
	Oid			owner;
	bool		paused;
	char	   *note;
	TimestampTz next_fire_at;	/* scheduled time of the next fire, 0 = none */
	TimestampTz last_fire_at;
	char	   *last_workflow_id;
	int64		missed;
	TimestampTz *buffered;		/* fires kept for when the open run closes */
	int			nbuffered;
	int			failures;
	/* read from spec and options */
	WfCron		cron;
	pg_tz	   *tz;
	WfOverlap	overlap;
	int64		catchup;		/* microseconds */
	int64		jitter;			/* microseconds, 0 = none */
	TimestampTz start_at;		/* 0 = none */
	TimestampTz end_at;			/* 0 = none */
	Jsonb	   *workflow_options;
} WfSchedule;

extern const char *const wf_schedule_option_keys[];
extern void wf_schedule_read_options(WfSchedule *s);
extern TimestampTz wf_schedule_next(WfSchedule *s, TimestampTz after);
extern WfSchedule *wf_lock_schedule(const char *schedule_id, Oid caller);
extern bool wf_insert_schedule(WfSchedule *s);
extern void wf_save_schedule(WfSchedule *s);
extern void wf_postpone_schedule(WfDueItem *item, TimestampTz at);
extern int	wf_fire_schedule(WfDueItem *item, TimestampTz now);
extern char *wf_schedule_fire_one(WfSchedule *s, TimestampTz t, bool *started);

/* timers.c */
extern void wf_start_timer(WfRun *run, int seq, TimestampTz fire_at);
extern bool wf_cancel_timer(WfRun *run, int seq);
extern void wf_cancel_all_timers(WfRun *run);
extern List *wf_due_timers(TimestampTz now, int batch);
extern int	wf_fire_timer(WfDueItem *item);
extern void wf_postpone_timer(WfDueItem *item, TimestampTz at);

/* ops.c: describing runs, retrying now, reading how runs ended */
typedef struct WfRunEnding
{
	bool		found;
	Datum		run_id;			/* uuid */
	char	   *status;
	Oid			owner;
	bool		open;
	bool		mine;			/* written by the current transaction */
	Jsonb	   *result;
	Jsonb	   *error;
	TimestampTz closed_at;
	TimestampTz created_at;
} WfRunEnding;

extern Jsonb *wf_describe_run(const char *workflow_id, Oid caller);
extern int	wf_retry_now_items(WfRun *run);
extern bool wf_runs_distributed(void);
extern void wf_read_run_endings(const char *workflow_id, Datum target_run_id,
								WfRunEnding *target, WfRunEnding *latest);

#endif							/* WF_MODEL_H */
