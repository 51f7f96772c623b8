/*-------------------------------------------------------------------------
 * tasks.c
 *	  Activity tasks: scheduling, claiming, reporting, heartbeats, and the
 *	  time-based transitions (backoff over, lease lost, timeouts).
 *
 * A task row lives from scheduling until the activity completes or fails
 * for good; the history keeps the record.  Locking order, everywhere: the
 * run's row first, then the task's, so that reports, cancellation and the
 * scheduler never deadlock.  Claims lock only task rows, with SKIP LOCKED.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"

#include "workflow.h"

PG_FUNCTION_INFO_V1(wf_claim_activities);
PG_FUNCTION_INFO_V1(wf_complete_activity);
PG_FUNCTION_INFO_V1(wf_complete_and_claim);
PG_FUNCTION_INFO_V1(wf_fail_activity);
PG_FUNCTION_INFO_V1(wf_heartbeat_activity);
PG_FUNCTION_INFO_V1(wf_grant_queue);
PG_FUNCTION_INFO_V1(wf_revoke_queue);

/* A task row, as the reporting functions need it. */
typedef struct WfTask
{
	int64		task_id;
	char	   *workflow_id;
	Datum		run_id;
	int			seq;
	bool		is_compensation;
	char	   *activity;
	char	   *queue;
	char	   *status;
	int			attempt;
	char	   *claimed_by;
	TimestampTz claimed_at;
	bool		cancel_requested;
} WfTask;

#define TASK_COLUMNS \
	"task_id, workflow_id, run_id, seq, is_compensation, activity, queue, status," \
	" attempt, claimed_by, claimed_at, cancel_requested"

/*
 * The delay before the next attempt: initial_interval * coefficient ^
 * (attempt - 1), capped by maximum_interval.  The exponent stops growing
 * once the cap is reached, so that the product never overflows however
 * many attempts an unlimited policy makes.
 */
#define BACKOFF_DELAY \
	"LEAST(maximum_interval, initial_interval * power(backoff_coefficient," \
	"   LEAST(attempt - 1, CASE WHEN backoff_coefficient > 1 THEN ceil(ln(GREATEST(" \
	"     extract(epoch FROM maximum_interval) / NULLIF(extract(epoch FROM initial_interval), 0)," \
	"     1)) / ln(backoff_coefficient)) ELSE 0 END)))"

static const char *const activity_option_keys[] = {
	"retry", "start_to_close_timeout", "schedule_to_close_timeout",
	"schedule_to_start_timeout", "heartbeat_timeout", "compensation_queue", NULL
};
static const char *const retry_option_keys[] = {
	"initial_interval", "backoff_coefficient", "maximum_interval",
	"maximum_attempts", "non_retryable_errors", NULL
};

static SPIPlanPtr schedule_plan;
static SPIPlanPtr claim_plan;
static SPIPlanPtr delete_task_plan;
static SPIPlanPtr retry_task_plan;
static SPIPlanPtr final_check_plan;
static SPIPlanPtr heartbeat_plan;
static SPIPlanPtr withdraw_plan;
static SPIPlanPtr withdraw_all_plan;
static SPIPlanPtr queue_grant_plan;
static SPIPlanPtr grant_plan;
static SPIPlanPtr revoke_plan;
static SPIPlanPtr due_plan;
static SPIPlanPtr due_list_plan;
static SPIPlanPtr ready_queues_plan;
static SPIPlanPtr make_ready_plan;
static SPIPlanPtr postpone_plan;

/* Check one interval-valued option, if present. */
static void
check_interval_option(Jsonb *obj, const char *key)
{
	char	   *text = wf_jsonb_get_text(obj, key);

	if (text != NULL)
		(void) wf_parse_interval(text, key);
}

/*
 * Check a numeric option against its bounds, comparing as numeric (a value
 * like 1e400 has no float8 form).
 */
static void
check_number_option(Jsonb *obj, const char *key, int64 min, int64 max, bool integer)
{
	JsonbValue	v;
	Datum		d;

	if (!wf_jsonb_get(obj, key, &v) || v.type == jbvNull)
		return;
	if (v.type != jbvNumeric)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" must be a number", key),
				 errhint("Write it as a JSON number, e.g. 3.")));
	d = NumericGetDatum(v.val.numeric);
	if (numeric_is_nan(v.val.numeric) ||
		DatumGetInt32(DirectFunctionCall2(numeric_cmp, d,
										  NumericGetDatum(int64_to_numeric(min)))) < 0 ||
		DatumGetInt32(DirectFunctionCall2(numeric_cmp, d,
										  NumericGetDatum(int64_to_numeric(max)))) > 0 ||
		(integer && DatumGetInt32(DirectFunctionCall2(numeric_cmp, d,
													  DirectFunctionCall1(numeric_floor, d))) != 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" must be %s between " INT64_FORMAT " and " INT64_FORMAT,
						key, integer ? "an integer" : "a number", min, max),
				 errhint("See the retry policy in the README.")));
}

/* Check the options of one activity (and the defaults they extend). */
static void
check_activity_options(Jsonb *options)
{
	Jsonb	   *retry;
	JsonbValue	v;
	char	   *queue;

	if (options == NULL)
		return;
	wf_check_options_object(options, "activity options", activity_option_keys);
	check_interval_option(options, "start_to_close_timeout");
	check_interval_option(options, "schedule_to_close_timeout");
	check_interval_option(options, "schedule_to_start_timeout");
	check_interval_option(options, "heartbeat_timeout");
	queue = wf_jsonb_get_text(options, "compensation_queue");
	if (queue)
		wf_check_queue_name(queue);

	retry = wf_jsonb_get_jsonb(options, "retry");
	if (retry == NULL)
		return;
	wf_check_options_object(retry, "retry options", retry_option_keys);
	check_interval_option(retry, "initial_interval");
	check_interval_option(retry, "maximum_interval");
	check_number_option(retry, "backoff_coefficient", 1, WF_MAX_BACKOFF_COEFFICIENT, false);
	check_number_option(retry, "maximum_attempts", 0, WF_MAX_ATTEMPTS, true);
	if (wf_jsonb_get(retry, "non_retryable_errors", &v) &&
		!(v.type == jbvBinary && JsonContainerIsArray(v.val.binary.data)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"non_retryable_errors\" must be an array of error names"),
				 errhint("Write it as [\"CardDeclined\", \"InvalidAddress\"].")));
}

/* Validate activity options and the run's activity defaults. */
void
wf_validate_activity_options(Jsonb *options, Jsonb *run_options)
{
	check_activity_options(options);
	check_activity_options(wf_jsonb_get_jsonb(run_options, "activity_options"));
}

/*
 * Insert a task for seq; options are merged over the run's defaults and
 * resolved to columns here.  Returns the task id and its activity_id,
 * which is the same for every attempt.
 */
int64
wf_schedule_task(WfRun *run, int seq, bool is_compensation, const char *activity,
				 const char *queue, Jsonb *input, Jsonb *options, char **activity_id)
{
	Oid			types[11] = {TEXTOID, UUIDOID, INT4OID, BOOLOID, TEXTOID, TEXTOID,
	JSONBOID, JSONBOID, TIMESTAMPTZOID, JSONBOID, INT4OID};
	Datum		values[11];
	Jsonb	   *defaults = wf_jsonb_get_jsonb(run->options, "activity_options");
	bool		isnull;
	int64		task_id;
	Datum		d;

	if (defaults == NULL || !JB_ROOT_IS_OBJECT(defaults))
		defaults = wf_jsonb_from_cstring("{}");
	values[0] = CStringGetTextDatum(run->workflow_id);
	values[1] = run->run_id;
	values[2] = Int32GetDatum(seq);
	values[3] = BoolGetDatum(is_compensation);
	values[4] = CStringGetTextDatum(activity);
	values[5] = CStringGetTextDatum(queue);
	values[6] = JsonbPGetDatum(input);
	values[7] = JsonbPGetDatum(options ? options : wf_jsonb_from_cstring("{}"));
	values[8] = TimestampTzGetDatum(wf_now());
	values[9] = JsonbPGetDatum(defaults);
	values[10] = Int32GetDatum(wf_default_timeout_ms);

	wf_exec(&schedule_plan,
			"WITH o AS (SELECT $10 || $8 || jsonb_build_object('retry',"
			"   COALESCE($10->'retry', '{}') || COALESCE($8->'retry', '{}')) AS opt),"
			" r AS (SELECT opt, COALESCE((opt->'retry'->>'initial_interval')::interval, '1 second') AS ii"
			"   FROM o)"
			" INSERT INTO workflow.tasks (workflow_id, run_id, seq, is_compensation, activity_id,"
			"   queue, activity, input, initial_interval, backoff_coefficient, maximum_interval,"
			"   maximum_attempts, non_retryable_errors, start_to_close_timeout,"
			"   schedule_to_close_timeout, schedule_to_start_timeout, heartbeat_timeout,"
			"   scheduled_at, ready_at, due_at)"
			" SELECT $1, $2, $3, $4,"
			"   $1 || '/' || $2::text || '/' || $3 || CASE WHEN $4 THEN '/compensation' ELSE '' END,"
			"   $6, $5, $7, ii, COALESCE((opt->'retry'->>'backoff_coefficient')::float8, 2.0),"
			"   COALESCE((opt->'retry'->>'maximum_interval')::interval,"
			"            LEAST(ii * 100, interval '" CppAsString2(WF_MAX_INTERVAL_YEARS) " years')),"
			"   COALESCE((opt->'retry'->>'maximum_attempts')::int4, 0),"
			"   ARRAY(SELECT jsonb_array_elements_text(COALESCE(opt->'retry'->'non_retryable_errors', '[]'))),"
			"   COALESCE((opt->>'start_to_close_timeout')::interval, $11 * interval '1 millisecond'),"
			"   (opt->>'schedule_to_close_timeout')::interval,"
			"   (opt->>'schedule_to_start_timeout')::interval,"
			"   (opt->>'heartbeat_timeout')::interval,"
			"   $9, $9, LEAST($9 + (opt->>'schedule_to_start_timeout')::interval,"
			"                 $9 + (opt->>'schedule_to_close_timeout')::interval)"
			" FROM r RETURNING task_id, activity_id, due_at",
			11, types, values, NULL, 0);
	task_id = DatumGetInt64(wf_get_datum(0, 1, &isnull));
	*activity_id = wf_get_text(0, 2);
	d = wf_get_datum(0, 3, &isnull);
	if (!isnull)
		wf_note_due(DatumGetTimestampTz(d));
	wf_notify_queue(queue);
	return task_id;
}

/* Is the calling role allowed to work this queue? */
static void
check_queue_access(Oid role, const char *queue)
{
	Oid			types[2] = {TEXTOID, OIDOID};
	Datum		values[2] = {CStringGetTextDatum(queue), ObjectIdGetDatum(role)};

	if (superuser_arg(role) || has_privs_of_role(role, wf_extension_owner()))
		return;
	if (wf_exec(&queue_grant_plan,
				"SELECT 1 FROM workflow.queue_grants"
				" WHERE queue IN ($1, '*') AND pg_has_role($2, grantee, 'MEMBER') LIMIT 1",
				2, types, values, NULL, 1) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("role \"%s\" may not work queue \"%s\"",
						GetUserNameFromId(role, false), queue),
				 errhint("Ask the extension owner to run: SELECT workflow.grant_queue('%s', '%s');",
						 queue, GetUserNameFromId(role, false))));
}

/* Check the arguments of a claim. */
static void
check_claim_args(const char *queue, int32 max_tasks)
{
	wf_check_queue_name(queue);
	if (max_tasks < 1 || max_tasks > 1000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_tasks must be between 1 and 1000, not %d", max_tasks),
				 errhint("Claim in batches of at most 1000 tasks.")));
}

/*
 * Claim up to max_tasks ready tasks of the queue, never one another worker
 * holds, into the function's result set.
 */
static void
claim_tasks(FunctionCallInfo fcinfo, Oid caller, const char *queue, const char *worker,
			int32 max_tasks)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			types[4] = {TEXTOID, TEXTOID, INT4OID, TIMESTAMPTZOID};
	Datum		values[4];
	char		nulls[4] = {' ', worker ? ' ' : 'n', ' ', ' '};
	int			n,
				i;

	check_queue_access(caller, queue);
	values[0] = CStringGetTextDatum(queue);
	values[1] = worker ? CStringGetTextDatum(worker) : (Datum) 0;
	values[2] = Int32GetDatum(max_tasks);
	values[3] = TimestampTzGetDatum(wf_now());
	/* An array, not a join: the generic plan must not hash the whole table. */
	n = wf_exec(&claim_plan,
				"UPDATE workflow.tasks t SET status = 'running', claimed_by = $2,"
				"   claimed_at = $4, heartbeat_at = NULL,"
				"   lease_expires_at = LEAST($4 + t.start_to_close_timeout, $4 + t.heartbeat_timeout),"
				"   due_at = LEAST($4 + t.start_to_close_timeout, $4 + t.heartbeat_timeout,"
				"                  t.scheduled_at + t.schedule_to_close_timeout)"
				" WHERE t.task_id = ANY (ARRAY(SELECT task_id FROM workflow.tasks"
				"   WHERE queue = $1 AND status = 'ready'"
				"   ORDER BY ready_at, task_id LIMIT $3 FOR UPDATE SKIP LOCKED))"
				" RETURNING t.task_id, t.activity_id, t.workflow_id, t.run_id, t.queue, t.activity,"
				"   t.input, t.attempt, t.lease_expires_at, t.heartbeat_timeout, t.start_to_close_timeout",
				4, types, values, nulls, 0);

	for (i = 0; i < n; i++)
	{
		Datum		row[11];
		bool		rownulls[11];
		int			col;

		for (col = 0; col < 11; col++)
			row[col] = wf_get_datum(i, col + 1, &rownulls[col]);
		if (!rownulls[8])
			wf_note_due(DatumGetTimestampTz(row[8]));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, row, rownulls);
	}
	wf_claimed_from_queue(queue, n);
}

/* workflow.claim_activities(queue, worker_id, max_tasks) */
Datum
wf_claim_activities(PG_FUNCTION_ARGS)
{
	char	   *queue = wf_text_arg(fcinfo, 0, "queue");
	char	   *worker = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	int32		max_tasks = PG_ARGISNULL(2) ? 1 : PG_GETARG_INT32(2);
	WfInternal	save;

	bool		only_claims;

	check_claim_args(queue, max_tasks);
	only_claims = wf_claim_starts_clean();
	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	wf_enter_internal(&save);
	claim_tasks(fcinfo, save.saved_userid, queue, worker, max_tasks);
	wf_leave_internal(&save);
	SPI_finish();
	wf_claim_done(only_claims);
	return (Datum) 0;
}

/* How read_task locks the row it reads. */
typedef enum TaskLock
{
	TASK_PEEK,					/* no lock */
	TASK_LOCK,					/* FOR UPDATE */
	TASK_LOCK_SKIP				/* FOR UPDATE SKIP LOCKED */
} TaskLock;

/* Read (and lock) a task by id; NULL if unknown, or locked by another with TASK_LOCK_SKIP. */
static WfTask *
read_task(int64 task_id, TaskLock lock)
{
	static SPIPlanPtr plans[3];
	static const char *const sql[3] = {
		"SELECT " TASK_COLUMNS " FROM workflow.tasks WHERE task_id = $1",
		"SELECT " TASK_COLUMNS " FROM workflow.tasks WHERE task_id = $1 FOR UPDATE",
		"SELECT " TASK_COLUMNS " FROM workflow.tasks WHERE task_id = $1 FOR UPDATE SKIP LOCKED"
	};
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(task_id)};
	WfTask	   *t;
	bool		isnull;
	Datum		d;

	if (wf_exec(&plans[lock], sql[lock], 1, types, values, NULL, 1) != 1)
		return NULL;
	t = palloc0(sizeof(WfTask));
	t->task_id = task_id;
	t->workflow_id = wf_get_text(0, 2);
	t->run_id = datumCopy(wf_get_datum(0, 3, &isnull), false, UUID_LEN);
	t->seq = DatumGetInt32(wf_get_datum(0, 4, &isnull));
	t->is_compensation = DatumGetBool(wf_get_datum(0, 5, &isnull));
	t->activity = wf_get_text(0, 6);
	t->queue = wf_get_text(0, 7);
	t->status = wf_get_text(0, 8);
	t->attempt = DatumGetInt32(wf_get_datum(0, 9, &isnull));
	t->claimed_by = wf_get_text(0, 10);
	d = wf_get_datum(0, 11, &isnull);
	t->claimed_at = isnull ? 0 : DatumGetTimestampTz(d);
	t->cancel_requested = DatumGetBool(wf_get_datum(0, 12, &isnull));
	return t;
}

/* The error for a report about a task this worker no longer holds. */
static void
stale_task_error(int64 task_id, const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_WF_STALE_TASK),
			 errmsg("activity task %lld is not held by a worker", (long long) task_id),
			 errdetail("%s", why),
			 errhint("Drop this result: the engine has already moved on (the task was reported, "
					 "timed out and retried, or withdrawn).")));
}

/*
 * Lock, in order, the run and the task a worker reports on, and check that
 * the report is still wanted.  Returns the task, or NULL when the report is
 * a documented no-op (the workflow was cancelled or terminated meanwhile);
 * the task row is then deleted.
 */
static WfTask *
lock_reported_task(int64 task_id, Oid caller, WfRun **run_out)
{
	WfTask	   *t = read_task(task_id, TASK_PEEK);
	WfRun	   *run;

	if (t == NULL)
		stale_task_error(task_id, "No such task exists (any more).");
	check_queue_access(caller, t->queue);
	run = wf_lock_run_by_id(t->workflow_id, t->run_id, false);
	/* Lock and re-read: the task may have moved meanwhile. */
	t = read_task(task_id, TASK_LOCK);
	if (t == NULL)
		stale_task_error(task_id, "No such task exists (any more).");
	if (strcmp(t->status, "running") != 0)
		stale_task_error(task_id, "The task is not claimed; its lease may have expired.");
	if (t->cancel_requested || run == NULL || !wf_run_is_open(run))
	{
		wf_delete_task(task_id);
		return NULL;
	}
	*run_out = run;
	return t;
}

/* Delete a task row. */
void
wf_delete_task(int64 task_id)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(task_id)};

	wf_exec(&delete_task_plan, "DELETE FROM workflow.tasks WHERE task_id = $1",
			1, types, values, NULL, 0);
}

/* ActivityStarted for the attempt being reported (written lazily). */
static void
append_started(WfRun *run, WfTask *t)
{
	WfJson		b;

	wf_json_begin(&b);
	wf_json_int(&b, "seq", t->seq);
	wf_json_str(&b, "activity", t->activity);
	wf_json_int(&b, "task_id", t->task_id);
	wf_json_int(&b, "attempt", t->attempt);
	wf_json_str(&b, "worker_id", t->claimed_by);
	if (t->claimed_at)
		wf_json_time(&b, "started_at", t->claimed_at);
	if (t->is_compensation)
		wf_json_bool(&b, "is_compensation", true);
	wf_append_event(run, "ActivityStarted", wf_json_end(&b));
}

/*
 * Let the run go on after one of its activities finished for good; failure
 * is the final failure event's data, or NULL on success.
 */
static void
activity_resolved(WfRun *run, WfTask *t, Jsonb *failure)
{
	if (t->is_compensation)
		wf_continue_compensation(run, failure);
	else
		wf_advance(run);
}

/* Record the completion of a task this worker holds and advance the run. */
static void
complete_task(int64 task_id, Jsonb *result, Oid caller)
{
	WfRun	   *run = NULL;
	WfTask	   *t = lock_reported_task(task_id, caller, &run);
	WfJson		b;

	if (t == NULL)
		return;
	append_started(run, t);
	wf_json_begin(&b);
	wf_json_int(&b, "seq", t->seq);
	wf_json_str(&b, "activity", t->activity);
	wf_json_int(&b, "task_id", t->task_id);
	wf_json_jsonb(&b, "result", result);
	if (t->is_compensation)
		wf_json_bool(&b, "is_compensation", true);
	wf_append_event(run, "ActivityCompleted", wf_json_end(&b));
	wf_delete_task(task_id);
	activity_resolved(run, t, NULL);
}

/* workflow.complete_activity(task_id, result) */
Datum
wf_complete_activity(PG_FUNCTION_ARGS)
{
	int64		task_id = PG_GETARG_INT64(0);
	Jsonb	   *result = wf_jsonb_arg(fcinfo, 1, NULL);
	WfInternal	save;

	wf_check_payload(result, "activity result");
	SPI_connect();
	wf_enter_internal(&save);
	complete_task(task_id, result, save.saved_userid);
	wf_leave_internal(&save);
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * workflow.complete_and_claim(task_id, result, queue, worker_id, max_tasks):
 * complete_activity, then claim_activities, in one call and one commit --
 * the next task a step creates is handed to the worker that finished it
 * (eager dispatch).
 */
Datum
wf_complete_and_claim(PG_FUNCTION_ARGS)
{
	int64		task_id = PG_GETARG_INT64(0);
	Jsonb	   *result = wf_jsonb_arg(fcinfo, 1, NULL);
	char	   *queue = wf_text_arg(fcinfo, 2, "queue");
	char	   *worker = PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3));
	int32		max_tasks = PG_ARGISNULL(4) ? 1 : PG_GETARG_INT32(4);
	WfInternal	save;

	wf_check_payload(result, "activity result");
	check_claim_args(queue, max_tasks);
	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	wf_enter_internal(&save);
	complete_task(task_id, result, save.saved_userid);
	claim_tasks(fcinfo, save.saved_userid, queue, worker, max_tasks);
	wf_leave_internal(&save);
	SPI_finish();
	return (Datum) 0;
}

/*
 * An attempt failed (reported, or its lease was lost): record it, then
 * schedule the next attempt with backoff or, if the policy says this was
 * the last, fail the activity for good.
 */
static void
attempt_failed(WfRun *run, WfTask *t, const char *event_type, const char *error,
			   Jsonb *details, bool retryable, const char *timeout_type)
{
	Oid			types[4] = {INT8OID, TEXTOID, TIMESTAMPTZOID, BOOLOID};
	Datum		values[4];
	bool		isnull;
	bool		final;
	TimestampTz next_at;
	WfJson		b;
	Jsonb	   *event;

	values[0] = Int64GetDatum(t->task_id);
	values[1] = CStringGetTextDatum(error);
	values[2] = TimestampTzGetDatum(wf_now());
	values[3] = BoolGetDatum(retryable);
	wf_exec(&final_check_plan,
			"SELECT NOT $4 OR $2 = ANY (non_retryable_errors)"
			"   OR (maximum_attempts > 0 AND attempt >= maximum_attempts)"
			"   OR COALESCE($3 + " BACKOFF_DELAY " >= scheduled_at + schedule_to_close_timeout, false),"
			" $3 + " BACKOFF_DELAY
			" FROM workflow.tasks WHERE task_id = $1",
			4, types, values, NULL, 1);
	final = DatumGetBool(wf_get_datum(0, 1, &isnull));
	next_at = DatumGetTimestampTz(wf_get_datum(0, 2, &isnull));

	append_started(run, t);
	wf_json_begin(&b);
	wf_json_int(&b, "seq", t->seq);
	wf_json_str(&b, "activity", t->activity);
	wf_json_int(&b, "task_id", t->task_id);
	wf_json_int(&b, "attempt", t->attempt);
	if (timeout_type)
		wf_json_str(&b, "timeout_type", timeout_type);
	wf_json_str(&b, "error", error);
	if (details)
		wf_json_jsonb(&b, "details", details);
	wf_json_bool(&b, "retryable", retryable);
	wf_json_bool(&b, "final", final);
	if (!final)
		wf_json_time(&b, "next_attempt_at", next_at);
	if (t->is_compensation)
		wf_json_bool(&b, "is_compensation", true);
	event = wf_json_end(&b);
	wf_append_event(run, event_type, event);

	if (final)
	{
		wf_delete_task(t->task_id);
		activity_resolved(run, t, event);
		return;
	}
	values[1] = TimestampTzGetDatum(next_at);
	/*
	 * The next attempt is a new task (new task_id, same activity_id), so a
	 * late report about this attempt can never be taken for the next one's.
	 */
	wf_exec(&retry_task_plan,
			"WITH old AS (DELETE FROM workflow.tasks WHERE task_id = $1 RETURNING *)"
			" INSERT INTO workflow.tasks (workflow_id, run_id, seq, is_compensation, activity_id,"
			"   queue, activity, input, status, attempt, initial_interval, backoff_coefficient,"
			"   maximum_interval, maximum_attempts, non_retryable_errors, start_to_close_timeout,"
			"   schedule_to_close_timeout, schedule_to_start_timeout, heartbeat_timeout,"
			"   scheduled_at, ready_at, due_at)"
			" SELECT workflow_id, run_id, seq, is_compensation, activity_id,"
			"   queue, activity, input, 'backoff', attempt + 1, initial_interval, backoff_coefficient,"
			"   maximum_interval, maximum_attempts, non_retryable_errors, start_to_close_timeout,"
			"   schedule_to_close_timeout, schedule_to_start_timeout, heartbeat_timeout,"
			"   scheduled_at, $2, $2 FROM old",
			2, (Oid[]) {INT8OID, TIMESTAMPTZOID}, values, NULL, 0);
	wf_note_due(next_at);
}

/* workflow.fail_activity(task_id, error, retryable, details) */
Datum
wf_fail_activity(PG_FUNCTION_ARGS)
{
	int64		task_id = PG_GETARG_INT64(0);
	char	   *error = wf_text_arg(fcinfo, 1, "error");
	bool		retryable = PG_ARGISNULL(2) ? true : PG_GETARG_BOOL(2);
	Jsonb	   *details = wf_jsonb_arg(fcinfo, 3, NULL);
	WfInternal	save;
	WfRun	   *run = NULL;
	WfTask	   *t;

	wf_check_payload(details, "failure details");
	if (strlen(error) > WF_MAX_PAYLOAD)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("error message is too large"),
				 errhint("Put long output in details, or shorten it.")));
	SPI_connect();
	wf_enter_internal(&save);
	t = lock_reported_task(task_id, save.saved_userid, &run);
	if (t != NULL)
		attempt_failed(run, t, "ActivityFailed", error, details, retryable, NULL);
	wf_leave_internal(&save);
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * workflow.heartbeat_activity(task_id, details): extend the lease; true
 * when the workflow asks the activity to stop.
 */
Datum
wf_heartbeat_activity(PG_FUNCTION_ARGS)
{
	int64		task_id = PG_GETARG_INT64(0);
	Jsonb	   *details = wf_jsonb_arg(fcinfo, 1, NULL);
	Oid			types[3] = {INT8OID, JSONBOID, TIMESTAMPTZOID};
	Datum		values[3];
	char		nulls[3] = {' ', details ? ' ' : 'n', ' '};
	WfInternal	save;
	WfTask	   *t;
	bool		cancel;
	bool		isnull;

	wf_check_payload(details, "heartbeat details");
	SPI_connect();
	wf_enter_internal(&save);
	t = read_task(task_id, TASK_PEEK);
	if (t == NULL || strcmp(t->status, "running") != 0)
		stale_task_error(task_id, t ? "The task is not claimed; its lease may have expired."
						 : "No such task exists (any more).");
	check_queue_access(save.saved_userid, t->queue);

	values[0] = Int64GetDatum(task_id);
	values[1] = details ? JsonbPGetDatum(details) : (Datum) 0;
	values[2] = TimestampTzGetDatum(wf_now());
	if (wf_exec(&heartbeat_plan,
				"UPDATE workflow.tasks SET heartbeat_at = $3,"
				" heartbeat_details = COALESCE($2, heartbeat_details),"
				" lease_expires_at = LEAST(claimed_at + start_to_close_timeout, $3 + heartbeat_timeout),"
				" due_at = LEAST(claimed_at + start_to_close_timeout, $3 + heartbeat_timeout,"
				"                scheduled_at + schedule_to_close_timeout)"
				" WHERE task_id = $1 AND status = 'running' RETURNING cancel_requested",
				3, types, values, nulls, 0) != 1)
		stale_task_error(task_id, "The task is not claimed; its lease may have expired.");
	cancel = DatumGetBool(wf_get_datum(0, 1, &isnull));
	wf_leave_internal(&save);
	SPI_finish();
	PG_RETURN_BOOL(cancel);
}

/*
 * Withdraw the tasks of a run (of one seq, or all): tasks not yet claimed
 * are deleted; claimed ones are flagged, so heartbeats answer "stop" and
 * the worker's report becomes a no-op.
 */
void
wf_withdraw_tasks(WfRun *run, int seq, bool all)
{
	Oid			types[3] = {TEXTOID, UUIDOID, INT4OID};
	Datum		values[3] = {CStringGetTextDatum(run->workflow_id), run->run_id, Int32GetDatum(seq)};

	if (all)
		wf_exec(&withdraw_all_plan,
				"WITH d AS (DELETE FROM workflow.tasks WHERE workflow_id = $1 AND run_id = $2"
				"   AND status <> 'running')"
				" UPDATE workflow.tasks SET cancel_requested = true"
				" WHERE workflow_id = $1 AND run_id = $2 AND status = 'running'",
				2, types, values, NULL, 0);
	else
		wf_exec(&withdraw_plan,
				"WITH d AS (DELETE FROM workflow.tasks WHERE workflow_id = $1 AND run_id = $2"
				"   AND seq = $3 AND NOT is_compensation AND status <> 'running')"
				" UPDATE workflow.tasks SET cancel_requested = true"
				" WHERE workflow_id = $1 AND run_id = $2 AND seq = $3 AND NOT is_compensation"
				"   AND status = 'running'",
				3, types, values, NULL, 0);
}

/* One due task: promote, time out or clean up.  The run is locked. */
static int
tick_task(WfRun *run, WfTask *t, TimestampTz now)
{
	Oid			types[2] = {INT8OID, TIMESTAMPTZOID};
	Datum		values[2] = {Int64GetDatum(t->task_id), TimestampTzGetDatum(now)};
	char	   *what;

	if (t->cancel_requested || run == NULL || !wf_run_is_open(run))
	{
		wf_delete_task(t->task_id);
		return 1;
	}

	/* Which deadline fell due?  Checked in order of precedence. */
	wf_exec(&make_ready_plan,
			"SELECT CASE"
			" WHEN scheduled_at + schedule_to_close_timeout <= $2 THEN 'schedule_to_close'"
			" WHEN status = 'ready' AND ready_at + schedule_to_start_timeout <= $2 THEN 'schedule_to_start'"
			" WHEN status = 'running' AND claimed_at + start_to_close_timeout <= $2 THEN 'start_to_close'"
			" WHEN status = 'running' AND COALESCE(heartbeat_at, claimed_at) + heartbeat_timeout <= $2 THEN 'heartbeat'"
			" WHEN status = 'backoff' AND ready_at <= $2 THEN 'ready'"
			" END FROM workflow.tasks WHERE task_id = $1",
			2, types, values, NULL, 1);
	what = wf_get_text(0, 1);
	if (what == NULL)
		return 0;
	if (strcmp(what, "ready") == 0)
	{
		wf_exec(&due_plan,
				"UPDATE workflow.tasks SET status = 'ready',"
				" due_at = LEAST(ready_at + schedule_to_start_timeout,"
				"                scheduled_at + schedule_to_close_timeout)"
				" WHERE task_id = $1",
				1, types, values, NULL, 0);
		wf_notify_queue(t->queue);
		return 1;
	}
	/* Timeouts before start and of the whole schedule are not retried. */
	attempt_failed(run, t, "ActivityTimedOut",
				   psprintf("activity timed out (%s)", what), NULL,
				   strcmp(what, "start_to_close") == 0 || strcmp(what, "heartbeat") == 0,
				   what);
	return 1;
}

/* Up to batch tasks whose due time has come, as WfDueItems, earliest first. */
List *
wf_due_tasks(TimestampTz now, int batch)
{
	Oid			types[2] = {TIMESTAMPTZOID, INT4OID};
	Datum		values[2] = {TimestampTzGetDatum(now), Int32GetDatum(batch)};
	int			n,
				i;
	char	  **wfids;
	Datum	   *runids;
	List	   *items = NIL;

	n = wf_exec(&due_list_plan,
				"SELECT task_id, workflow_id, run_id FROM workflow.tasks"
				" WHERE due_at <= $1 ORDER BY due_at LIMIT $2",
				2, types, values, NULL, 0);
	wf_copy_run_ids(n, 2, &wfids, &runids);
	for (i = 0; i < n; i++)
	{
		WfDueItem  *item = palloc0(sizeof(WfDueItem));
		bool		isnull;

		item->kind = WF_DUE_TASK;
		item->workflow_id = wfids[i];
		item->run_id = runids[i];
		item->key = DatumGetInt64(wf_get_datum(i, 1, &isnull));
		items = lappend(items, item);
	}
	return items;
}

/* Handle one due task; returns 1 if done, 0 if another session holds it. */
int
wf_tick_due_task(WfDueItem *item, TimestampTz now)
{
	WfRun	   *run = wf_lock_run_by_id(item->workflow_id, item->run_id, true);
	WfTask	   *t;

	/* Skip what another session is working on; the next tick gets it. */
	if ((t = read_task(item->key, TASK_LOCK_SKIP)) == NULL)
		return 0;
	if (run == NULL && wf_run_exists(item->workflow_id, item->run_id))
		return 0;
	return tick_task(run, t, now);
}

/* Retry a due task that could not be handled at at. */
void
wf_postpone_task(WfDueItem *item, TimestampTz at)
{
	Oid			types[2] = {INT8OID, TIMESTAMPTZOID};
	Datum		values[2] = {Int64GetDatum(item->key), TimestampTzGetDatum(at)};

	wf_exec(&postpone_plan, "UPDATE workflow.tasks SET due_at = $2 WHERE task_id = $1",
			2, types, values, NULL, 0);
}

/* Add or remove a queue grant; only the extension owner may. */
static Datum
wf_change_queue_grant(FunctionCallInfo fcinfo, bool grant)
{
	char	   *queue = wf_text_arg(fcinfo, 0, "queue");
	Oid			role;
	Oid			types[2] = {TEXTOID, OIDOID};
	Datum		values[2];
	WfInternal	save;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("grantee must not be null"),
				 errhint("Name a role.")));
	role = PG_GETARG_OID(1);
	if (strcmp(queue, "*") != 0)
		wf_check_queue_name(queue);
	SPI_connect();
	wf_enter_internal(&save);
	if (!has_privs_of_role(save.saved_userid, wf_extension_owner()))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only the owner of extension \"workflow\" may grant or revoke queues"),
				 errhint("Ask the role that ran CREATE EXTENSION workflow.")));
	values[0] = CStringGetTextDatum(queue);
	values[1] = ObjectIdGetDatum(role);
	if (grant)
		wf_exec(&grant_plan,
				"INSERT INTO workflow.queue_grants (queue, grantee) VALUES ($1, $2)"
				" ON CONFLICT DO NOTHING",
				2, types, values, NULL, 0);
	else
		wf_exec(&revoke_plan,
				"DELETE FROM workflow.queue_grants WHERE queue = $1 AND grantee = $2",
				2, types, values, NULL, 0);
	wf_leave_internal(&save);
	SPI_finish();
	PG_RETURN_VOID();
}

/* workflow.grant_queue(queue, role): let role claim from and report on queue. */
Datum
wf_grant_queue(PG_FUNCTION_ARGS)
{
	return wf_change_queue_grant(fcinfo, true);
}

/* workflow.revoke_queue(queue, role) */
Datum
wf_revoke_queue(PG_FUNCTION_ARGS)
{
	return wf_change_queue_grant(fcinfo, false);
}

/* NOTIFY every queue that has ready tasks (after a notification overflow). */
int
wf_notify_all_ready_queues(void)
{
	int			n,
				i;

	n = wf_exec(&ready_queues_plan,
				"SELECT DISTINCT queue FROM workflow.tasks WHERE status = 'ready'",
				0, NULL, NULL, NULL, 0);
	for (i = 0; i < n; i++)
		Async_Notify(wf_get_text(i, 1), "");
	return n;
}
