/*-------------------------------------------------------------------------
 * workflow.h
 *	  Shared declarations of the workflow extension.
 *-------------------------------------------------------------------------
 */
#ifndef WORKFLOW_H
#define WORKFLOW_H

#include "postgres.h"

#include "executor/spi.h"
#include "nodes/pg_list.h"
#include "postmaster/bgworker.h"
#include "storage/latch.h"
#include "storage/lock.h"
#include "storage/lwlock.h"
#include "utils/jsonb.h"
#include "utils/datum.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

/*
 * SQLSTATEs of our own (class WF).  Users catch the first three in
 * PL/pgSQL; the README lists them all.
 */
#define ERRCODE_WF_ACTIVITY_FAILED		MAKE_SQLSTATE('W','F','0','0','1')
#define ERRCODE_WF_CANCELLED			MAKE_SQLSTATE('W','F','0','0','2')
#define ERRCODE_WF_NONDETERMINISM		MAKE_SQLSTATE('W','F','0','0','3')
#define ERRCODE_WF_SUSPENDED			MAKE_SQLSTATE('W','F','0','0','4')
#define ERRCODE_WF_NOT_IN_WORKFLOW		MAKE_SQLSTATE('W','F','0','0','5')
#define ERRCODE_WF_CHILD_FAILED			MAKE_SQLSTATE('W','F','0','0','6')
#define ERRCODE_WF_CONTINUE_AS_NEW		MAKE_SQLSTATE('W','F','0','0','7')
#define ERRCODE_WF_ALREADY_RUNNING		MAKE_SQLSTATE('W','F','0','1','1')
#define ERRCODE_WF_NOT_RUNNING			MAKE_SQLSTATE('W','F','0','1','2')
#define ERRCODE_WF_STALE_TASK			MAKE_SQLSTATE('W','F','0','1','0')

/* Largest jsonb payload (input, result, details) we accept, in bytes. */
#define WF_MAX_PAYLOAD	(1024 * 1024)

/* Longest interval (timeout, backoff, sleep, horizon) we accept, in years. */
#define WF_MAX_INTERVAL_YEARS 100
/* Bounds of the retry policy's backoff_coefficient and maximum_attempts. */
#define WF_MAX_BACKOFF_COEFFICIENT 100
#define WF_MAX_ATTEMPTS 1000000

/* GUCs (workflow.c) */
extern int	wf_task_retry_initial_ms;
extern int	wf_task_retry_max_ms;
extern int	wf_batch_size;
extern int	wf_max_naptime_ms;
extern int	wf_launcher_naptime_ms;
extern int	wf_default_timeout_ms;
extern char *wf_code_search_path;
extern char *wf_default_queue;
extern int	wf_task_timeout_ms;
extern int	wf_max_workers;
extern int	wf_max_databases;

/* Most schedulers per database (workflow.max_workers). */
#define WF_MAX_WORKERS 8
/* Longest workflow.search_path, in bytes. */
#define WF_MAX_SEARCH_PATH 1024

/* util.c: privileges, SPI, jsonb and option helpers */
typedef struct WfInternal
{
	Oid			saved_userid;
	int			saved_sec_context;
	int			guc_nestlevel;
} WfInternal;

extern Oid	wf_extension_owner(void);
extern void wf_enter_internal(WfInternal *save);
extern void wf_leave_internal(WfInternal *save);
extern int	wf_exec(SPIPlanPtr *cache, const char *sql, int nargs, const Oid *argtypes,
					Datum *values, const char *nulls, long count);
extern Datum wf_get_datum(int row, int col, bool *isnull);
extern char *wf_get_text(int row, int col);
extern Jsonb *wf_get_jsonb(int row, int col);
extern ErrorData *wf_isolated(void (*fn) (void *), void *arg);
extern void wf_check_payload(Jsonb *value, const char *what);
extern bool wf_queue_name_ok(const char *queue, const char **detail, const char **hint);
extern void wf_check_text(const char *value, const char *what, size_t max);
extern void wf_check_queue_name(const char *queue);
extern void wf_check_options_object(Jsonb *options, const char *what,
									const char *const *allowed);
extern bool wf_jsonb_get(Jsonb *obj, const char *key, JsonbValue *out);
extern char *wf_jsonb_get_text(Jsonb *obj, const char *key);
extern Jsonb *wf_jsonb_get_jsonb(Jsonb *obj, const char *key);
extern Interval *wf_parse_interval(const char *text, const char *what);
extern void wf_check_interval(Interval *iv, const char *what);
extern void wf_require_arg(FunctionCallInfo fcinfo, int argno, const char *argname);
extern char *wf_text_arg(FunctionCallInfo fcinfo, int argno, const char *argname);
extern int64 wf_int64_arg(FunctionCallInfo fcinfo, int argno, const char *argname);
extern int32 wf_int32_arg(FunctionCallInfo fcinfo, int argno, const char *argname);
extern bool wf_bool_arg(FunctionCallInfo fcinfo, int argno, const char *argname);
extern Jsonb *wf_jsonb_arg(FunctionCallInfo fcinfo, int argno, const char *default_json);
extern Jsonb *wf_jsonb_from_cstring(const char *json);
extern bool wf_jsonb_is_null(Jsonb *value);
extern TimestampTz wf_now(void);

typedef struct WfJson
{
	JsonbParseState *state;
} WfJson;

extern void wf_json_begin(WfJson *b);
extern void wf_json_str(WfJson *b, const char *key, const char *value);
extern void wf_json_int(WfJson *b, const char *key, int64 value);
extern void wf_json_bool(WfJson *b, const char *key, bool value);
extern void wf_json_jsonb(WfJson *b, const char *key, Jsonb *value);
extern void wf_json_time(WfJson *b, const char *key, TimestampTz value);
extern Jsonb *wf_json_end(WfJson *b);
extern void wf_set_now(TimestampTz at);

/* history.c: runs and the event log */
typedef struct WfRun
{
	char	   *workflow_id;
	Datum		run_id;			/* uuid */
	char	   *workflow_type;
	char	   *status;
	char	   *queue;
	Oid			owner;
	Jsonb	   *input;
	Jsonb	   *options;
	bool		cancel_requested;
	bool		has_children;	/* started a child workflow at some point */
	int			task_failures;
	TimestampTz task_retry_at;	/* when a failed workflow task is retried */
	int64		last_event_id;
	char	   *parent_workflow_id;
	Datum		parent_run_id;	/* uuid, valid if parent_workflow_id */
	Jsonb	   *error;			/* the failure being compensated */
} WfRun;

extern WfRun *wf_lock_run(const char *workflow_id, bool must_exist, Oid caller);
extern WfRun *wf_lock_run_by_id(const char *workflow_id, Datum run_id, bool skip_locked);
extern bool wf_run_exists(const char *workflow_id, Datum run_id);
extern void wf_copy_run_ids(int n, int col, char ***ids, Datum **run_ids);
extern int64 wf_append_event(WfRun *run, const char *event_type, Jsonb *data);
extern int	wf_buffered_events(WfRun *run, List **types, List **data);
extern void wf_flush_events(void);
extern void wf_check_flushed(void);
extern void wf_forget_events(void);
extern void wf_forget_events_since(SubTransactionId subid);
extern void wf_update_run(WfRun *run);
extern void wf_close_run(WfRun *run, const char *status, Jsonb *result, Jsonb *error);
extern bool wf_run_is_open(WfRun *run);
extern char *wf_uuid_out(Datum uuid);

/* sandbox.c: what workflow code may do to the session that runs it */
typedef struct WfHeldLock
{
	LOCKTAG		tag;
	LOCKMASK	mask;
} WfHeldLock;

typedef struct WfSandbox
{
	Oid			saved_userid;
	int			saved_sec_context;
	int			guc_nestlevel;
	WfHeldLock *locks;			/* advisory locks held before the attempt */
	int			nlocks;
} WfSandbox;

extern void wf_sandbox_enter(WfSandbox *sb, Oid owner);
extern bool wf_sandbox_took_locks(WfSandbox *sb, bool release);
extern void wf_sandbox_leave(WfSandbox *sb);
extern void wf_sandbox_disarm(void);
extern bool wf_sandbox_timed_out(void);
extern void wf_refuse_in_workflow_code(const char *function);
extern void wf_sandbox_check_utility(Node *stmt);

/* replay.c: the replay engine */
extern void wf_advance(WfRun *run);
extern void wf_defer_advance(WfRun *run);
extern bool wf_in_workflow_code(void);
extern void wf_replay_reset(void);
extern void wf_replay_subxact_abort(SubTransactionId subid);
extern TimestampTz wf_task_retry_time(int failures);
extern TimestampTz wf_record_task_failure(WfRun *run, Jsonb *error, const char *item,
										  bool retry_task);

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
} WfRunSpec;

extern WfRun *wf_create_run(WfRunSpec *spec);
extern void wf_check_workflow_id(const char *workflow_id, Oid owner, const char *parent_id);
extern void wf_continue_as_new(WfRun *run, Jsonb *input);
extern void wf_request_cancel(WfRun *run, const char *reason, const char *requested_by);
extern void wf_mark_parent(WfRun *run);
extern int	wf_deliver_child_notices(WfRun *parent);
extern void wf_run_closed(WfRun *run, const char *status, Jsonb *result, Jsonb *error);
extern void wf_check_name(const char *value, const char *what);
extern void wf_check_run_options(Jsonb *options, const char *what, const char *const *allowed);
typedef struct WfType
{
	char	   *name;
	Oid			fn;				/* the workflow function, or InvalidOid */
	Jsonb	   *steps;			/* a declarative saga, or NULL */
	Jsonb	   *options;
} WfType;

extern WfType *wf_lookup_type(const char *type);
extern void wf_forget_type(void);
extern Jsonb *wf_type_options(const char *type);

/* lifecycle.c: how runs end */
extern void wf_complete_run(WfRun *run, Jsonb *result);
extern void wf_fail_run(WfRun *run, Jsonb *error);
extern void wf_continue_compensation(WfRun *run, Jsonb *failure);
extern void wf_terminate_run(WfRun *run, const char *event_type, const char *status,
							 const char *reason);

/* A piece of due work of one run; the scheduler does them one at a time. */
typedef enum WfDueKind
{
	WF_DUE_REPORT,				/* key: the task id of a kept report */
	WF_DUE_TIMER,				/* key: the timer's seq */
	WF_DUE_TASK,				/* key: the task id */
	WF_DUE_TASK_RETRY,			/* a failed workflow task's retry */
	WF_DUE_NOTICES,				/* child outcomes to deliver */
	WF_DUE_DEADLINE				/* execution_timeout */
} WfDueKind;

typedef struct WfDueItem
{
	WfDueKind	kind;
	char	   *workflow_id;
	Datum		run_id;
	int64		key;
} WfDueItem;

/* history.c: due work as items */
extern List *wf_due_items(SPIPlanPtr *plan, const char *sql, TimestampTz now, int batch,
						  WfDueKind kind);

/* tasks.c: activity tasks */
extern void wf_validate_activity_options(Jsonb *options, Jsonb *defaults);
extern void wf_check_queue_produce(Oid role, const char *queue);
extern int64 wf_schedule_task(WfRun *run, int seq, bool is_compensation, const char *activity,
							  const char *queue, Jsonb *input, Jsonb *options,
							  char **activity_id);
extern void wf_withdraw_tasks(WfRun *run, int seq, bool all);
extern List *wf_due_reports(TimestampTz now, int batch);
extern int	wf_apply_report(WfDueItem *item);
extern void wf_postpone_report(WfDueItem *item, TimestampTz at);
extern List *wf_due_tasks(TimestampTz now, int batch);
extern int	wf_tick_due_task(WfDueItem *item, TimestampTz now);
extern void wf_postpone_task(WfDueItem *item, TimestampTz at);

/* timers.c */
extern void wf_start_timer(WfRun *run, int seq, TimestampTz fire_at);
extern bool wf_cancel_timer(WfRun *run, int seq);
extern void wf_cancel_all_timers(WfRun *run);
extern List *wf_due_timers(TimestampTz now, int batch);
extern int	wf_fire_timer(WfDueItem *item);
extern void wf_postpone_timer(WfDueItem *item, TimestampTz at);

/* notify.c: announcing queues after commit; per-database scheduler slots */
typedef struct WfWorkerSlot
{
	Latch	   *latch;			/* the scheduler's, while it runs */
	pid_t		pid;			/* the scheduler's, while it runs */
	TimestampTz next_wakeup;	/* when it means to wake, 0 = awake now */
	bool		due_changed;	/* a commit made something due before that */
} WfWorkerSlot;

typedef struct WfDbSlot
{
	Oid			dboid;			/* InvalidOid = free */
	bool		no_extension;	/* a scheduler found no extension here */
	bool		notify_overflow;	/* too many queues: notify all ready ones */
	TimestampTz paused_until;	/* DROP/ALTER DATABASE in progress */
	WfWorkerSlot workers[WF_MAX_WORKERS];	/* the pool (workflow.max_workers) */
} WfDbSlot;

struct WfShared;
extern Size wf_shmem_size(void);
extern void wf_shmem_startup(void);
extern struct WfShared *wf_shared_state(void);
extern WfDbSlot *wf_db_slot(Oid dboid);
extern WfDbSlot *wf_take_db_slot(Oid dboid, const char *dbname);
extern void wf_set_worker_index(int i);
extern bool wf_slot_has_workers(WfDbSlot *slot);
extern WfDbSlot *wf_db_slots(void);
extern LWLock *wf_shared_lock(void);
extern void wf_set_launcher_latch(Latch *latch);
extern void wf_wake_launcher_at_commit(void);
extern void wf_notify_queue(const char *queue);
extern void wf_notify_init(void);
extern int	wf_send_pending_notifies(bool *overflow);
extern void wf_claimed_from_queue(const char *queue, int n);
extern bool wf_claim_starts_clean(void);
extern void wf_claim_done(bool clean);
extern bool wf_scheduler_needs_pass(TimestampTz now);
extern TimestampTz wf_scheduler_planned_wakeup(void);
extern void wf_wake_scheduler(void);
extern void wf_note_due(TimestampTz due);
extern void wf_set_next_wakeup(TimestampTz at);
extern int	wf_notify_all_ready_queues(void);

/* scheduler.c: the background workers and tick() */
extern void wf_scheduler_register(void);
extern void wf_utility_hook_init(void);

#endif							/* WORKFLOW_H */
