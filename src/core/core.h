/*-------------------------------------------------------------------------
 * core.h
 *	  The core layer: what knows only PostgreSQL.  SPI and option helpers,
 *	  the run row and its event buffer, the type registry, the sandbox
 *	  workflow code runs in, shared memory, commit-time announcements and
 *	  the wake-up queue.  Nothing here calls a layer above (src/README.md).
 *-------------------------------------------------------------------------
 */
#ifndef WF_CORE_H
#define WF_CORE_H

#include "postgres.h"

#include "executor/spi.h"
#include "nodes/pg_list.h"
#include "storage/latch.h"
#include "storage/lock.h"
#include "storage/lwlock.h"
#include "utils/jsonb.h"
#include "utils/datum.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "compat.h"
#include "events.h"

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
/* The awaited run did not complete (workflow.await_result): the message names its status. */
#define ERRCODE_WF_NOT_COMPLETED		MAKE_SQLSTATE('W','F','0','1','3')
/* A schedule, queue option or reset point that does not exist or cannot be used. */
#define ERRCODE_WF_UNUSABLE				MAKE_SQLSTATE('W','F','0','1','4')

/* Largest jsonb payload (input, result, details) we accept, in bytes. */
#define WF_MAX_PAYLOAD	(1024 * 1024)

/* Longest interval (timeout, backoff, sleep, horizon) we accept, in years. */
#define WF_MAX_INTERVAL_YEARS 100
/* Bounds of the retry policy's backoff_coefficient and maximum_attempts. */
#define WF_MAX_BACKOFF_COEFFICIENT 100
#define WF_MAX_ATTEMPTS 1000000

/* Longest name (workflow type, workflow id, signal, state key), in bytes. */
#define WF_MAX_NAME_LEN 255

/* Most schedulers per database (workflow.max_workers). */
#define WF_MAX_WORKERS 8
/* Longest workflow.search_path, in bytes. */
#define WF_MAX_SEARCH_PATH 1024

/*
 * The order in which the runs of a workflow_id are "latest first": the
 * open one, else the last closed (SQL, for ORDER BY).
 */
#define WF_LATEST_RUN_ORDER "closed_at DESC NULLS FIRST, created_at DESC"

/* Settings of this layer (defined by workflow.c's _PG_init). */
extern char *wf_code_search_path;	/* sandbox.c */
extern int	wf_task_timeout_ms;		/* sandbox.c */
extern int	wf_max_workers;			/* shmem.c */
extern int	wf_max_databases;		/* shmem.c */

/* spi.c: the extension's identity, SPI, subtransactions, the clock */
typedef struct WfInternal
{
	Oid			saved_userid;
	int			saved_sec_context;
	int			guc_nestlevel;
} WfInternal;

/*
 * The extension's version whose schema this library's statements are
 * written for (workflow.control's default_version).
 */
#define WF_SCHEMA_VERSION "0.2"

extern Oid	wf_extension_owner(void);
extern bool wf_extension_schema_ok(void);
extern const char *wf_schema_mismatch(void);
extern void wf_require_schema(void);
extern void wf_forget_schema_version(void);
extern void wf_enter_internal(WfInternal *save);
extern void wf_leave_internal(WfInternal *save);
extern void wf_spi_enter(WfInternal *save);
extern void wf_spi_leave(WfInternal *save);
extern int	wf_exec(SPIPlanPtr *cache, const char *sql, int nargs, const Oid *argtypes,
					Datum *values, const char *nulls, long count);
extern Datum wf_get_datum(int row, int col, bool *isnull);
extern char *wf_get_text(int row, int col);
extern Jsonb *wf_get_jsonb(int row, int col);
extern ErrorData *wf_isolated(void (*fn) (void *), void *arg);
extern TimestampTz wf_now(void);
extern void wf_set_now(TimestampTz at);
extern char *wf_uuid_out(Datum uuid);

/* checks.c: bad input gets a clear error */
extern void wf_check_payload(Jsonb *value, const char *what);
extern bool wf_queue_name_ok(const char *queue, const char **detail, const char **hint);
extern void wf_check_text(const char *value, const char *what, size_t max);
extern void wf_check_name(const char *value, const char *what);
extern void wf_check_queue_name(const char *queue);
extern void wf_check_options_object(Jsonb *options, const char *what,
									const char *const *allowed);
extern void wf_check_option_keys(Jsonb *options, const char *what,
								 const char *const *allowed, int sqlerrcode);
extern bool wf_int_option(Jsonb *obj, const char *key, int64 min, int64 max, int sqlerrcode,
						  const char *hint, int64 *value);
extern char *wf_name_option(Jsonb *obj, const char *key, int sqlerrcode);
extern Interval *wf_parse_interval(const char *text, const char *what);
extern Interval *wf_parse_interval_or_zero(const char *text, const char *what);
extern void wf_check_interval(Interval *iv, const char *what);
extern void wf_require_arg(FunctionCallInfo fcinfo, int argno, const char *argname);
extern char *wf_text_arg(FunctionCallInfo fcinfo, int argno, const char *argname);
extern int64 wf_int64_arg(FunctionCallInfo fcinfo, int argno, const char *argname);
extern int32 wf_int32_arg(FunctionCallInfo fcinfo, int argno, const char *argname);
extern bool wf_bool_arg(FunctionCallInfo fcinfo, int argno, const char *argname);
extern Jsonb *wf_jsonb_arg(FunctionCallInfo fcinfo, int argno, const char *default_json);

/* cron.c: schedule specs (cron, @ macros, every <interval>) and fire times */
typedef struct WfCron
{
	bool		every;			/* "every <interval>" */
	int64		period;			/* every: the interval, in microseconds */
	uint64		minutes;		/* cron: bit m set for minute m (0-59) */
	uint32		hours;			/* bit h: hour h (0-23) */
	uint32		days;			/* bit d: day of month d (1-31) */
	uint32		months;			/* bit m: month m (1-12) */
	uint32		weekdays;		/* bit d: day of week d (0-6, Sunday 0) */
	bool		any_day;		/* the day-of-month field starts with '*' */
	bool		any_weekday;	/* the day-of-week field starts with '*' */
} WfCron;

extern void wf_cron_parse(const char *spec, WfCron *cron);
extern pg_tz *wf_time_zone(const char *name);
extern TimestampTz wf_cron_next(const WfCron *cron, pg_tz *tz, TimestampTz after);
extern char *wf_iso_utc(TimestampTz t);

/* json.c: reading and building jsonb */
typedef struct WfJson
{
	JsonbParseState *state;
} WfJson;

extern bool wf_jsonb_get(Jsonb *obj, const char *key, JsonbValue *out);
extern char *wf_jsonb_get_text(Jsonb *obj, const char *key);
extern Jsonb *wf_jsonb_get_jsonb(Jsonb *obj, const char *key);
extern Jsonb *wf_jsonb_from_cstring(const char *json);
extern bool wf_jsonb_is_null(Jsonb *value);
extern void wf_json_begin(WfJson *b);
extern void wf_json_str(WfJson *b, const char *key, const char *value);
extern void wf_json_int(WfJson *b, const char *key, int64 value);
extern void wf_json_bool(WfJson *b, const char *key, bool value);
extern void wf_json_jsonb(WfJson *b, const char *key, Jsonb *value);
extern void wf_json_time(WfJson *b, const char *key, TimestampTz value);
extern Jsonb *wf_json_end(WfJson *b);

/* events.c: events built and read by the vocabulary of events.h */
typedef struct WfEvent
{
	WfJson		data;
} WfEvent;

extern void wf_event_begin(WfEvent *ev);
extern void wf_event_str(WfEvent *ev, WfEventKey key, const char *value);
extern void wf_event_int(WfEvent *ev, WfEventKey key, int64 value);
extern void wf_event_bool(WfEvent *ev, WfEventKey key, bool value);
extern void wf_event_jsonb(WfEvent *ev, WfEventKey key, Jsonb *value);
extern void wf_event_time(WfEvent *ev, WfEventKey key, TimestampTz value);
extern Jsonb *wf_event_data(WfEvent *ev);
extern char *wf_event_text(Jsonb *data, WfEventKey key);
extern Jsonb *wf_event_value(Jsonb *data, WfEventKey key);
extern Jsonb *wf_error_object(int sqlerrcode, const char *message, const char *detail,
							  const char *hint, const char *context);

/* history.c: runs and the event log */
typedef struct WfRun
{
	char	   *workflow_id;
	Datum		run_id;			/* uuid */
	char	   *workflow_type;
	WfRunStatus status;
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
	bool		replaced;		/* closed by a reset: its next run takes over (model/reset.c) */
	char	   *awaiting_signal;	/* the signal the code waits for, or NULL */
} WfRun;

extern WfRun *wf_lock_run(const char *workflow_id, bool must_exist, Oid caller);
extern WfRun *wf_lock_run_by_id(const char *workflow_id, Datum run_id, bool skip_locked);
extern WfRun *wf_read_run_by_id(const char *workflow_id, Datum run_id);
extern bool wf_run_exists(const char *workflow_id, Datum run_id);
extern void wf_copy_run_ids(int n, int col, char ***ids, Datum **run_ids);
extern int64 wf_append_event(WfRun *run, WfEventType type, Jsonb *data);
extern int	wf_buffered_events(WfRun *run, List **types, List **data);
extern void wf_flush_events(void);
extern void wf_history_at_pre_commit(void);
extern void wf_history_at_end(void);
extern void wf_history_at_subabort(SubTransactionId subid);
extern void wf_update_run(WfRun *run);
extern bool wf_set_awaiting_signal(WfRun *run, const char *signal);
extern void wf_close_run(WfRun *run, WfRunStatus status, Jsonb *result, Jsonb *error);
extern bool wf_run_is_open(WfRun *run);

/* A piece of due work of one run; the scheduler does them one at a time. */
typedef enum WfDueKind
{
	WF_DUE_REPORT,				/* key: the task id of a kept report */
	WF_DUE_TIMER,				/* key: the timer's seq */
	WF_DUE_TASK,				/* key: the task id */
	WF_DUE_TASK_RETRY,			/* a failed workflow task's retry */
	WF_DUE_NOTICES,				/* child outcomes to deliver */
	WF_DUE_DEADLINE,			/* execution_timeout */
	WF_DUE_SCHEDULE				/* workflow_id: a schedule's id; key: its failures */
} WfDueKind;

typedef struct WfDueItem
{
	WfDueKind	kind;
	char	   *workflow_id;
	Datum		run_id;
	int64		key;
} WfDueItem;

extern List *wf_due_items(SPIPlanPtr *plan, const char *sql, TimestampTz now, int batch,
						  WfDueKind kind);

/* wakeup.c: runs to advance once the change at hand is written */
extern void wf_wake_run(WfRun *run);
extern bool wf_next_woken(char **workflow_id, Datum *run_id);
extern void wf_wakeups_at_end(void);
extern void wf_wakeups_at_subend(SubTransactionId subid, SubTransactionId parent, bool commit);

/* registry.c: registered workflow types, read once per transaction */
typedef struct WfType
{
	char	   *name;
	Oid			fn;				/* the workflow function, or InvalidOid */
	Jsonb	   *steps;			/* a declarative saga, or NULL */
	Jsonb	   *options;
} WfType;

extern WfType *wf_lookup_type(const char *type);
extern Jsonb *wf_type_options(const char *type);
extern void wf_forget_type(void);
extern List *wf_types_of_changed_functions(void);

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
extern bool wf_in_workflow_code(void);
extern void wf_refuse_in_workflow_code(const char *function);
extern void wf_sandbox_check_utility(Node *stmt);

/* shmem.c: shared memory; per-database scheduler slots */
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

#define WF_NOTIFY_SLOTS 1024

typedef struct WfQueueSlot
{
	Oid			dboid;			/* InvalidOid = free */
	char		queue[NAMEDATALEN];
} WfQueueSlot;

typedef struct WfShared
{
	LWLock	   *lock;
	Latch	   *launcher_latch;
	WfQueueSlot queues[WF_NOTIFY_SLOTS];
	WfDbSlot	dbs[FLEXIBLE_ARRAY_MEMBER]; /* workflow.max_databases */
} WfShared;

extern Size wf_shmem_size(void);
extern void wf_shmem_startup(void);
extern WfShared *wf_shared_state(void);
extern WfDbSlot *wf_db_slot(Oid dboid);
extern WfDbSlot *wf_take_db_slot(Oid dboid, const char *dbname);
extern void wf_set_worker_index(int i);
extern int	wf_worker_index(void);
extern bool wf_slot_has_workers(WfDbSlot *slot);
extern WfDbSlot *wf_db_slots(void);
extern LWLock *wf_shared_lock(void);
extern void wf_set_launcher_latch(Latch *latch);

/* flowstate.c: flow control's shared state (pending claims, buckets, claim counts) */
extern Size wf_flow_shmem_size(void);
extern void wf_flow_shmem_startup(void);
extern bool wf_flow_available(void);
extern int64 wf_flow_pending(const char *queue, const char *key, int64 *own);
extern bool wf_flow_add_pending(const char *queue, const char *key, int64 n);
extern void wf_flow_at_end(bool committed);
extern void wf_flow_at_pre_prepare(void);
extern int64 wf_flow_committed(const char *queue);
extern void wf_flow_set_count(const char *queue, int64 committed, int64 count);
extern bool wf_flow_in_flight_bound(const char *queue, int64 *bound);
extern void wf_flow_limits_set(const char *queue, bool rate_set);
extern int32 wf_flow_take_tokens(const char *queue, int32 rate_tasks, double per,
								 TimestampTz now, int32 want);
extern void wf_flow_return_tokens(const char *queue, int32 n);
extern void wf_flow_claimed(const char *queue, int n, TimestampTz now);
extern bool wf_flow_claimed_last_minute(const char *queue, TimestampTz now, int64 *claims);
/* await.c: waking await_result's waiters at the commit that closes their run */
extern Size wf_await_shmem_size(void);
extern void wf_await_shmem_startup(void);
extern bool wf_await_available(void);
extern void wf_await_note_closed(const char *workflow_id);
extern void wf_await_at_commit(void);
extern void wf_await_at_end(void);
extern void wf_await_enter(const char *workflow_id);
extern void wf_await_sleep(long timeout_ms);
extern void wf_await_leave(void);
/* sessions.c: the ends of claiming sessions (session-bound leases) */
typedef struct WfEndedSession
{
	Oid			dboid;
	int			pid;
	TimestampTz started;		/* the backend's start: a pid may be reused */
} WfEndedSession;

extern Size wf_sessions_shmem_size(void);
extern void wf_sessions_shmem_startup(void);
extern bool wf_session_claims(int *pid, TimestampTz *started);
extern int	wf_take_ended_sessions(WfEndedSession *out, int max, uint64 *lost);
extern bool wf_keep_ended_session(const WfEndedSession *s);

/* citus.c: what the engine knows of Citus */
extern bool wf_citus_loaded(void);
extern bool wf_citus_applying_propagated_ddl(void);
extern bool wf_citus_distributed(const char *table);
extern bool wf_citus_local_shards(const char *table, List **shards);
extern char *wf_citus_on_shard(const char *sql, const char *table, const char *shard);

/* notify.c: what a commit announces (queues, due times, the launcher) */
extern void wf_wake_launcher_at_commit(void);
extern void wf_notify_queue(const char *queue);
extern int	wf_send_pending_notifies(bool *overflow);
extern void wf_claimed_from_queue(const char *queue, int n);
extern bool wf_claim_starts_clean(void);
extern void wf_claim_done(bool clean);
extern bool wf_scheduler_needs_pass(TimestampTz now);
extern TimestampTz wf_scheduler_planned_wakeup(void);
extern void wf_wake_scheduler(void);
extern void wf_note_due(TimestampTz due);
extern void wf_set_next_wakeup(TimestampTz at);
extern void wf_notify_at_pre_commit(void);
extern void wf_notify_at_commit(void);
extern void wf_notify_at_end(void);
extern void wf_notify_at_subend(SubTransactionId subid, SubTransactionId parent, bool commit);

#endif							/* WF_CORE_H */
