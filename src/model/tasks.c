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

#include "commands/async.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"

#include "model/model.h"

int			wf_default_timeout_ms = 300000;

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
	bool		running;		/* status 'running': a worker holds it */
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

/* Longest worker_id, in bytes. */
#define MAX_WORKER_ID_LEN 255

static const char *const activity_option_keys[] = {
	"retry", "start_to_close_timeout", "schedule_to_close_timeout",
	"schedule_to_start_timeout", "heartbeat_timeout", "compensation_queue",
	"compensation_options", "priority", "concurrency_key", NULL
};
static const char *const retry_option_keys[] = {
	"initial_interval", "backoff_coefficient", "maximum_interval",
	"maximum_attempts", "non_retryable_errors", NULL
};

static void delete_task(WfTask *t);

static SPIPlanPtr schedule_plan;
static SPIPlanPtr claim_plan;
static SPIPlanPtr delete_task_plan;
static SPIPlanPtr retry_task_plan;
static SPIPlanPtr final_check_plan;
static SPIPlanPtr heartbeat_plan;
static SPIPlanPtr heartbeat_lease_plan;
static SPIPlanPtr withdraw_plan;
static SPIPlanPtr withdraw_all_plan;
static SPIPlanPtr queue_grant_plan;
static SPIPlanPtr grant_plan;
static SPIPlanPtr revoke_plan;
static SPIPlanPtr due_plan;
static SPIPlanPtr due_list_plan;
static SPIPlanPtr ready_queues_plan;
static SPIPlanPtr make_ready_plan;
static SPIPlanPtr defer_report_plan;
static SPIPlanPtr report_due_plan;
static SPIPlanPtr reports_plan;
static SPIPlanPtr take_report_plan;
static SPIPlanPtr postpone_plan;
static SPIPlanPtr postpone_report_plan;

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
	(void) wf_run_priority(options);
	(void) wf_name_option(options, "concurrency_key", ERRCODE_INVALID_PARAMETER_VALUE);
	queue = wf_jsonb_get_text(options, "compensation_queue");
	if (queue)
		wf_check_queue_name(queue);
	check_activity_options(wf_jsonb_get_jsonb(options, "compensation_options"));

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
	Oid			types[12] = {TEXTOID, UUIDOID, INT4OID, BOOLOID, TEXTOID, TEXTOID,
	JSONBOID, JSONBOID, TIMESTAMPTZOID, JSONBOID, INT4OID, OIDOID};
	Datum		values[12];
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
	values[11] = ObjectIdGetDatum(run->owner);

	wf_exec(&schedule_plan,
			"WITH o AS (SELECT $10 || $8 || jsonb_build_object('retry',"
			"   COALESCE($10->'retry', '{}') || COALESCE($8->'retry', '{}')) AS opt),"
			" r AS (SELECT opt, COALESCE((opt->'retry'->>'initial_interval')::interval, '1 second') AS ii"
			"   FROM o)"
			" INSERT INTO workflow.tasks (workflow_id, run_id, seq, is_compensation, activity_id,"
			"   queue, activity, input, initial_interval, backoff_coefficient, maximum_interval,"
			"   maximum_attempts, non_retryable_errors, start_to_close_timeout,"
			"   schedule_to_close_timeout, schedule_to_start_timeout, heartbeat_timeout,"
			"   scheduled_at, ready_at, due_at, producer, priority, concurrency_key)"
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
			"                 $9 + (opt->>'schedule_to_close_timeout')::interval), $12,"
			"   COALESCE((opt->>'priority')::int2, 5), opt->>'concurrency_key'"
			" FROM r RETURNING task_id, activity_id, due_at",
			12, types, values, NULL, 0);
	task_id = DatumGetInt64(wf_get_datum(0, 1, &isnull));
	*activity_id = wf_get_text(0, 2);
	d = wf_get_datum(0, 3, &isnull);
	if (!isnull)
		wf_note_due(DatumGetTimestampTz(d));
	wf_notify_queue(queue);
	return task_id;
}

/*
 * Has role the privilege ("consume" or "produce") on queue?  The extension
 * owner and superusers always have.
 */
static bool
has_queue_privilege(Oid role, const char *queue, const char *privilege)
{
	Oid			types[3] = {TEXTOID, OIDOID, TEXTOID};
	Datum		values[3] = {CStringGetTextDatum(queue), ObjectIdGetDatum(role),
	CStringGetTextDatum(privilege)};

	if (superuser_arg(role) || has_privs_of_role(role, wf_extension_owner()))
		return true;
	return wf_exec(&queue_grant_plan,
				   "SELECT 1 FROM workflow.queue_grants"
				   " WHERE queue IN ($1, '*') AND privilege = $3"
				   "   AND pg_has_role($2, grantee, 'MEMBER') LIMIT 1",
				   3, types, values, NULL, 1) == 1;
}

/*
 * The grant_queue call that would give role the privilege, quoted so that
 * copying it runs exactly that, whatever the names hold.
 */
static char *
grant_queue_sql(Oid role, const char *queue, const char *privilege)
{
	return psprintf("SELECT workflow.grant_queue(%s, %s, %s);",
					quote_literal_cstr(queue),
					quote_literal_cstr(quote_identifier(GetUserNameFromId(role, false))),
					quote_literal_cstr(privilege));
}

/* Is the calling role allowed to work (claim from, report on) this queue? */
static void
check_queue_access(Oid role, const char *queue)
{
	if (!has_queue_privilege(role, queue, "consume"))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("role \"%s\" may not work queue \"%s\"",
						GetUserNameFromId(role, false), queue),
				 errhint("Ask the extension owner to run: %s",
						 grant_queue_sql(role, queue, "consume"))));
}

/*
 * May role (a run's owner) schedule tasks on queue?  A worker trusts what it
 * claims only as far as it trusts the roles that may produce onto its queue.
 */
void
wf_check_queue_produce(Oid role, const char *queue)
{
	if (!has_queue_privilege(role, queue, "produce"))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("role \"%s\" may not schedule tasks on queue \"%s\"",
						GetUserNameFromId(role, false), queue),
				 errhint("Ask the extension owner to run: %s",
						 grant_queue_sql(role, queue, "produce"))));
}

/*
 * May role change the limits of queue?  The extension owner (and
 * superusers) may; a role granted EXECUTE on configure_queue only for the
 * queues it may consume.
 */
void
wf_check_queue_configure(Oid role, const char *queue)
{
	if (!has_queue_privilege(role, queue, "consume"))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("role \"%s\" may not configure queue \"%s\"",
						GetUserNameFromId(role, false), queue),
				 errdetail("A role other than the extension owner configures only the queues it may work."),
				 errhint("Ask the extension owner to configure it, or to run: %s",
						 grant_queue_sql(role, queue, "consume"))));
}

/* Check the arguments of a claim. */
void
wf_check_claim_args(const char *queue, const char *worker, int32 max_tasks)
{
	wf_check_queue_name(queue);
	wf_check_text(worker, "worker_id", MAX_WORKER_ID_LEN);
	if (max_tasks < 1 || max_tasks > 1000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_tasks must be between 1 and 1000, not %d", max_tasks),
				 errhint("Claim in batches of at most 1000 tasks.")));
}

/* What a claim sets and returns, for both ways of choosing the tasks. */
#define CLAIM_SET \
	"UPDATE workflow.tasks t SET status = 'running', claimed_by = $2," \
	"   claimed_at = $4, heartbeat_at = NULL," \
	"   claimed_pid = $5, claimed_session_start = $6, session_ended = false," \
	"   lease_expires_at = LEAST($4 + t.start_to_close_timeout, $4 + t.heartbeat_timeout)," \
	"   due_at = LEAST($4 + t.start_to_close_timeout, $4 + t.heartbeat_timeout," \
	"                  t.scheduled_at + t.schedule_to_close_timeout)"
#define CLAIM_RETURNING \
	" RETURNING t.task_id, t.activity_id, t.workflow_id, t.run_id, t.queue, t.activity," \
	"   t.input, t.attempt, t.lease_expires_at, t.heartbeat_timeout, t.start_to_close_timeout," \
	"   pg_get_userbyid(t.producer)"

/*
 * The parameters of a claim statement but its $3 (how many, or which):
 * $1 queue, $2 worker, $4 now, $5 and $6 the claiming session (NULL when
 * leases do not follow sessions).
 */
static void
claim_params(const char *queue, const char *worker, TimestampTz now, Datum *values, char *nulls)
{
	bool		session_known;

	memset(nulls, ' ', 6);
	values[0] = CStringGetTextDatum(queue);
	values[1] = worker ? CStringGetTextDatum(worker) : (Datum) 0;
	nulls[1] = worker ? ' ' : 'n';
	values[3] = TimestampTzGetDatum(now);
	wf_claim_session(&values[4], &values[5], &session_known);
	if (!session_known)
		nulls[4] = nulls[5] = 'n';
}

/*
 * Claim: the first allowed ready tasks of the queue in claim order
 * (priority, then longest ready), or those wf_pick_keyed_tasks chose
 * under a key_concurrency limit.  Returns how many (the rows in
 * SPI_tuptable).
 */
static int
claim_rows(const char *queue, const char *worker, WfClaimLimits *lim, TimestampTz now)
{
	static SPIPlanPtr keyed_claim_plan;
	Oid			types[6] = {TEXTOID, TEXTOID, INT4OID, TIMESTAMPTZOID, INT4OID, TIMESTAMPTZOID};
	Datum		values[6];
	char		nulls[6];

	claim_params(queue, worker, now, values, nulls);
	if (lim->key_limit > 0)
	{
		types[2] = INT8ARRAYOID;
		values[2] = wf_pick_keyed_tasks(queue, lim, now);
		return wf_exec(&keyed_claim_plan,
					   CLAIM_SET " WHERE t.task_id = ANY ($3) AND t.queue = $1 AND t.status = 'ready'"
					   CLAIM_RETURNING,
					   6, types, values, nulls, 0);
	}
	values[2] = Int32GetDatum(lim->allowed);
	/* An array, not a join: the generic plan must not hash the whole table. */
	return wf_exec(&claim_plan,
				   CLAIM_SET " WHERE t.task_id = ANY (ARRAY(SELECT task_id FROM workflow.tasks"
				   "   WHERE queue = $1 AND status = 'ready'"
				   "   ORDER BY priority, ready_at, task_id LIMIT $3 FOR UPDATE SKIP LOCKED))"
				   CLAIM_RETURNING,
				   6, types, values, nulls, 0);
}

/* The claim statement on one shard of workflow.tasks (core/citus.c). */
static char *
claim_sql_on(const char *shard)
{
	return wf_citus_on_shard(CLAIM_SET " WHERE t.task_id = ANY (ARRAY(SELECT task_id FROM workflow.tasks"
							 "   WHERE queue = $1 AND status = 'ready'"
							 "   ORDER BY priority, ready_at, task_id LIMIT $3 FOR UPDATE SKIP LOCKED))"
							 CLAIM_RETURNING, "workflow.tasks", shard);
}

/* Put the n claimed rows of the last statement into the result set. */
static void
emit_claimed(ReturnSetInfo *rsinfo, int n)
{
	int			i;

	for (i = 0; i < n; i++)
	{
		Datum		row[12];
		bool		rownulls[12];
		int			col;

		for (col = 0; col < 12; col++)
			row[col] = wf_get_datum(i, col + 1, &rownulls[col]);
		if (!rownulls[8])
			wf_note_due(DatumGetTimestampTz(row[8]));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, row, rownulls);
	}
}

/*
 * Under Citus: claim from this node's shards of workflow.tasks, one after
 * the other from a rotating first one (so that no shard starves), until
 * lim->allowed tasks are taken.  Priorities and FIFO hold per shard.
 */
static int
claim_on_shards(ReturnSetInfo *rsinfo, List *shards, const char *queue, const char *worker,
				WfClaimLimits *lim, TimestampTz now)
{
	static uint32 rotation;
	Oid			types[6] = {TEXTOID, TEXTOID, INT4OID, TIMESTAMPTZOID, INT4OID, TIMESTAMPTZOID};
	Datum		values[6];
	char		nulls[6];
	int			nshards = list_length(shards);
	int			n = 0,
				i;

	claim_params(queue, worker, now, values, nulls);
	rotation++;
	for (i = 0; i < nshards && n < lim->allowed; i++)
	{
		const char *shard = list_nth(shards, (rotation + i) % nshards);

		values[2] = Int32GetDatum(lim->allowed - n);
		if (SPI_execute_with_args(claim_sql_on(shard), 6, types, values, nulls, false, 0) !=
			SPI_OK_UPDATE_RETURNING)
			elog(ERROR, "claim on %s failed", shard);
		emit_claimed(rsinfo, (int) SPI_processed);
		n += (int) SPI_processed;
	}
	return n;
}

/*
 * Claim up to max_tasks ready tasks of the queue, never one another worker
 * holds and never beyond the queue's limits, into the function's result
 * set.  Under Citus, from this node's shards only (doc/citus.md); a
 * key_concurrency limit is then refused (its choice reads every shard).
 */
void
wf_claim_tasks(ReturnSetInfo *rsinfo, Oid caller, const char *queue, const char *worker,
			   int32 max_tasks)
{
	TimestampTz now = wf_now();
	WfClaimLimits lim;
	List	   *shards;
	int			n = 0;

	check_queue_access(caller, queue);
	wf_claim_limits(queue, max_tasks, now, &lim);
	if (lim.allowed > 0 && wf_citus_local_shards("workflow.tasks", &shards))
	{
		if (lim.key_limit > 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("queue \"%s\" has a key_concurrency limit, which a Citus cluster does not support",
							queue),
					 errhint("Remove it with workflow.configure_queue (doc/citus.md, Limits).")));
		n = claim_on_shards(rsinfo, shards, queue, worker, &lim, now);
	}
	else if (lim.allowed > 0)
	{
		n = claim_rows(queue, worker, &lim, now);
		emit_claimed(rsinfo, n);
	}
	wf_claims_taken(queue, &lim, n, now);
	wf_claimed_from_queue(queue, n);
}

/* How read_task finds and locks the row it reads. */
typedef enum TaskLock
{
	TASK_PEEK_ANY,				/* by task_id alone, no lock */
	TASK_PEEK,					/* no lock */
	TASK_LOCK_SKIP,				/* FOR UPDATE SKIP LOCKED */
	TASK_LOCK_DUE				/* the same, only if it is due now */
} TaskLock;

/*
 * Read (and lock) a task by its key; NULL if unknown, or locked by another
 * (TASK_LOCK_SKIP, TASK_LOCK_DUE), or not due (TASK_LOCK_DUE).  Only
 * TASK_PEEK_ANY does without the workflow_id (NULL there): under Citus it
 * reads every shard, and the others read the run's shard alone.
 */
static WfTask *
read_task(int64 task_id, const char *workflow_id, TaskLock lock)
{
	static SPIPlanPtr plans[4];
	static const char *const sql[4] = {
		"SELECT " TASK_COLUMNS " FROM workflow.tasks WHERE task_id = $1",
		"SELECT " TASK_COLUMNS " FROM workflow.tasks WHERE task_id = $1 AND workflow_id = $2",
		"SELECT " TASK_COLUMNS " FROM workflow.tasks WHERE task_id = $1 AND workflow_id = $2"
		" FOR UPDATE SKIP LOCKED",
		"SELECT " TASK_COLUMNS " FROM workflow.tasks WHERE task_id = $1 AND workflow_id = $2"
		" AND due_at <= $3 FOR UPDATE SKIP LOCKED"
	};
	Oid			types[3] = {INT8OID, TEXTOID, TIMESTAMPTZOID};
	Datum		values[3] = {Int64GetDatum(task_id), (Datum) 0, (Datum) 0};
	WfTask	   *t;
	bool		isnull;
	Datum		d;

	Assert(lock == TASK_PEEK_ANY || workflow_id != NULL);
	if (lock != TASK_PEEK_ANY)
		values[1] = CStringGetTextDatum(workflow_id);
	if (lock == TASK_LOCK_DUE)
		values[2] = TimestampTzGetDatum(wf_now());
	if (wf_exec(&plans[lock], sql[lock], lock == TASK_LOCK_DUE ? 3 : lock == TASK_PEEK_ANY ? 1 : 2,
				types, values, NULL, 1) != 1)
		return NULL;
	t = palloc0(sizeof(WfTask));
	t->task_id = task_id;
	t->workflow_id = wf_get_text(0, 2);
	t->run_id = datumCopy(wf_get_datum(0, 3, &isnull), false, UUID_LEN);
	t->seq = DatumGetInt32(wf_get_datum(0, 4, &isnull));
	t->is_compensation = DatumGetBool(wf_get_datum(0, 5, &isnull));
	t->activity = wf_get_text(0, 6);
	t->queue = wf_get_text(0, 7);
	t->running = strcmp(wf_get_text(0, 8), "running") == 0;
	t->attempt = DatumGetInt32(wf_get_datum(0, 9, &isnull));
	t->claimed_by = wf_get_text(0, 10);
	d = wf_get_datum(0, 11, &isnull);
	t->claimed_at = isnull ? 0 : DatumGetTimestampTz(d);
	t->cancel_requested = DatumGetBool(wf_get_datum(0, 12, &isnull));
	return t;
}

/*
 * A report's first, unlocked read of its task: on the run's shard when the
 * report names the run (workflow_id not NULL), else by task id alone.
 */
static WfTask *
first_read(int64 task_id, const char *workflow_id)
{
	return read_task(task_id, workflow_id, workflow_id ? TASK_PEEK : TASK_PEEK_ANY);
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
 *
 * A report never waits for a run or task row that another session holds
 * (a tenant's open transaction would stall the worker, and every other
 * tenant's tasks on it): then *held is set and the task returned unlocked,
 * for the report to be deferred.
 */
static WfTask *
lock_reported_task(int64 task_id, const char *workflow_id, Oid caller, WfRun **run_out,
				   bool *held)
{
	WfTask	   *t = first_read(task_id, workflow_id);
	WfTask	   *locked;
	WfRun	   *run;

	*held = false;
	if (t == NULL)
		stale_task_error(task_id, "No such task exists (any more).");
	check_queue_access(caller, t->queue);
	if (!t->running)
		stale_task_error(task_id, "The task is not claimed; its lease may have expired.");
	run = wf_lock_run_by_id(t->workflow_id, t->run_id, true);
	if (run == NULL && wf_run_exists(t->workflow_id, t->run_id))
	{
		*held = true;
		return t;
	}
	/* Lock and re-read: the task may have moved meanwhile. */
	locked = read_task(task_id, t->workflow_id, TASK_LOCK_SKIP);
	if (locked == NULL && (t = read_task(task_id, t->workflow_id, TASK_PEEK)) != NULL)
	{
		*held = true;
		return t;
	}
	t = locked;
	if (t == NULL)
		stale_task_error(task_id, "No such task exists (any more).");
	if (!t->running)
		stale_task_error(task_id, "The task is not claimed; its lease may have expired.");
	if (t->cancel_requested || run == NULL || !wf_run_is_open(run))
	{
		delete_task(t);
		return NULL;
	}
	*run_out = run;
	return t;
}

/* Delete a task row. */
static void
delete_task(WfTask *t)
{
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		values[2] = {Int64GetDatum(t->task_id), CStringGetTextDatum(t->workflow_id)};

	wf_exec(&delete_task_plan, "DELETE FROM workflow.tasks WHERE task_id = $1 AND workflow_id = $2",
			2, types, values, NULL, 0);
}

/* ActivityStarted for the attempt being reported (written lazily). */
static void
append_started(WfRun *run, WfTask *t)
{
	WfEvent		b;

	wf_event_begin(&b);
	wf_event_int(&b, WF_KEY_SEQ, t->seq);
	wf_event_str(&b, WF_KEY_ACTIVITY, t->activity);
	wf_event_int(&b, WF_KEY_TASK_ID, t->task_id);
	wf_event_int(&b, WF_KEY_ATTEMPT, t->attempt);
	wf_event_str(&b, WF_KEY_WORKER_ID, t->claimed_by);
	if (t->claimed_at)
		wf_event_time(&b, WF_KEY_STARTED_AT, t->claimed_at);
	if (t->is_compensation)
		wf_event_bool(&b, WF_KEY_IS_COMPENSATION, true);
	wf_append_event(run, WF_EV_ACTIVITY_STARTED, wf_event_data(&b));
}

/*
 * Let the run go on after one of its activities finished for good (its
 * code is woken; a compensation goes on with the next one); failure is
 * the final failure event's data, or NULL on success.
 */
static void
activity_resolved(WfRun *run, WfTask *t, Jsonb *failure)
{
	if (t->is_compensation)
		wf_continue_compensation(run, failure);
	else
		wf_wake_run(run);
}

/*
 * Keep a report whose run or task another session holds, instead of
 * waiting: wf_apply_report applies it under the run's lock once it is free.
 * The task, if its row is free, is made due now, so that the scheduler
 * retries it as it retries any held due work, until it gets the lock.
 */
static void
defer_report(WfTask *t, bool completed, Jsonb *result, const char *error, bool retryable,
			 Jsonb *details)
{
	Oid			types[9] = {TEXTOID, INT8OID, UUIDOID, BOOLOID, JSONBOID, TEXTOID, BOOLOID,
	JSONBOID, TIMESTAMPTZOID};
	Datum		values[9];
	char		nulls[9] = {' ', ' ', ' ', ' ', result ? ' ' : 'n', error ? ' ' : 'n', ' ',
	details ? ' ' : 'n', ' '};
	TimestampTz now = wf_now();

	values[0] = CStringGetTextDatum(t->workflow_id);
	values[1] = Int64GetDatum(t->task_id);
	values[2] = t->run_id;
	values[3] = BoolGetDatum(completed);
	values[4] = result ? JsonbPGetDatum(result) : (Datum) 0;
	values[5] = error ? CStringGetTextDatum(error) : (Datum) 0;
	values[6] = BoolGetDatum(retryable);
	values[7] = details ? JsonbPGetDatum(details) : (Datum) 0;
	values[8] = TimestampTzGetDatum(now);
	/* A second report of the same attempt is a duplicate: the first one stands. */
	wf_exec(&defer_report_plan,
			"INSERT INTO workflow.task_reports (workflow_id, task_id, run_id, completed, result,"
			"   error, retryable, details, reported_at)"
			" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
			9, types, values, nulls, 0);
	if (read_task(t->task_id, t->workflow_id, TASK_LOCK_SKIP) != NULL)
		wf_exec(&report_due_plan,
				"UPDATE workflow.tasks SET due_at = $2 WHERE task_id = $1 AND workflow_id = $3",
				3, (Oid[]) {INT8OID, TIMESTAMPTZOID, TEXTOID},
				(Datum[]) {values[1], values[8], values[0]}, NULL, 0);
	wf_note_due(now);
}

/* Record the completion of a task (its run locked); the run goes on. */
static void
record_completion(WfRun *run, WfTask *t, Jsonb *result)
{
	WfEvent		b;

	append_started(run, t);
	wf_event_begin(&b);
	wf_event_int(&b, WF_KEY_SEQ, t->seq);
	wf_event_str(&b, WF_KEY_ACTIVITY, t->activity);
	wf_event_int(&b, WF_KEY_TASK_ID, t->task_id);
	wf_event_jsonb(&b, WF_KEY_RESULT, result);
	if (t->is_compensation)
		wf_event_bool(&b, WF_KEY_IS_COMPENSATION, true);
	wf_append_event(run, WF_EV_ACTIVITY_COMPLETED, wf_event_data(&b));
	delete_task(t);
	activity_resolved(run, t, NULL);
}

/* Record the completion of a task this worker holds; the run goes on. */
void
wf_complete_task(int64 task_id, const char *workflow_id, Jsonb *result, Oid caller)
{
	WfRun	   *run = NULL;
	bool		held;
	WfTask	   *t = lock_reported_task(task_id, workflow_id, caller, &run, &held);

	if (held)
		defer_report(t, true, result, NULL, true, NULL);
	else if (t != NULL)
		record_completion(run, t, result);
}

/*
 * An attempt failed (reported, or its lease was lost): record it, then
 * schedule the next attempt with backoff or, if the policy says this was
 * the last, fail the activity for good.
 */
static void
attempt_failed(WfRun *run, WfTask *t, WfEventType event_type, const char *error,
			   Jsonb *details, bool retryable, const char *timeout_type)
{
	Oid			types[5] = {INT8OID, TEXTOID, TIMESTAMPTZOID, BOOLOID, TEXTOID};
	Datum		values[5];
	bool		isnull;
	bool		final;
	TimestampTz next_at;
	WfEvent		b;
	Jsonb	   *event;

	values[0] = Int64GetDatum(t->task_id);
	values[1] = CStringGetTextDatum(error);
	values[2] = TimestampTzGetDatum(wf_now());
	values[3] = BoolGetDatum(retryable);
	values[4] = CStringGetTextDatum(t->workflow_id);
	wf_exec(&final_check_plan,
			"SELECT NOT $4 OR $2 = ANY (non_retryable_errors)"
			"   OR (maximum_attempts > 0 AND attempt >= maximum_attempts)"
			"   OR COALESCE($3 + " BACKOFF_DELAY " >= scheduled_at + schedule_to_close_timeout, false),"
			" $3 + " BACKOFF_DELAY
			" FROM workflow.tasks WHERE task_id = $1 AND workflow_id = $5",
			5, types, values, NULL, 1);
	final = DatumGetBool(wf_get_datum(0, 1, &isnull));
	next_at = DatumGetTimestampTz(wf_get_datum(0, 2, &isnull));

	append_started(run, t);
	wf_event_begin(&b);
	wf_event_int(&b, WF_KEY_SEQ, t->seq);
	wf_event_str(&b, WF_KEY_ACTIVITY, t->activity);
	wf_event_int(&b, WF_KEY_TASK_ID, t->task_id);
	wf_event_int(&b, WF_KEY_ATTEMPT, t->attempt);
	if (timeout_type)
		wf_event_str(&b, WF_KEY_TIMEOUT_TYPE, timeout_type);
	wf_event_str(&b, WF_KEY_ERROR, error);
	if (details)
		wf_event_jsonb(&b, WF_KEY_DETAILS, details);
	wf_event_bool(&b, WF_KEY_RETRYABLE, retryable);
	wf_event_bool(&b, WF_KEY_FINAL, final);
	if (!final)
		wf_event_time(&b, WF_KEY_NEXT_ATTEMPT_AT, next_at);
	if (t->is_compensation)
		wf_event_bool(&b, WF_KEY_IS_COMPENSATION, true);
	event = wf_event_data(&b);
	wf_append_event(run, event_type, event);

	if (final)
	{
		delete_task(t);
		activity_resolved(run, t, event);
		return;
	}
	values[1] = TimestampTzGetDatum(next_at);
	values[2] = values[4];
	/*
	 * The next attempt is a new task (new task_id, same activity_id), so a
	 * late report about this attempt can never be taken for the next one's.
	 */
	wf_exec(&retry_task_plan,
			"WITH old AS (DELETE FROM workflow.tasks WHERE task_id = $1 AND workflow_id = $3"
			"   RETURNING *)"
			" INSERT INTO workflow.tasks (workflow_id, run_id, seq, is_compensation, activity_id,"
			"   queue, activity, input, status, attempt, initial_interval, backoff_coefficient,"
			"   maximum_interval, maximum_attempts, non_retryable_errors, start_to_close_timeout,"
			"   schedule_to_close_timeout, schedule_to_start_timeout, heartbeat_timeout,"
			"   scheduled_at, ready_at, due_at, producer, priority, concurrency_key)"
			" SELECT workflow_id, run_id, seq, is_compensation, activity_id,"
			"   queue, activity, input, 'backoff', attempt + 1, initial_interval, backoff_coefficient,"
			"   maximum_interval, maximum_attempts, non_retryable_errors, start_to_close_timeout,"
			"   schedule_to_close_timeout, schedule_to_start_timeout, heartbeat_timeout,"
			"   scheduled_at, $2, $2, producer, priority, concurrency_key FROM old",
			3, (Oid[]) {INT8OID, TIMESTAMPTZOID, TEXTOID}, values, NULL, 0);
	wf_note_due(next_at);
}

/* Record a failed attempt of a task this worker holds: retried, or failed for good. */
void
wf_fail_task(int64 task_id, const char *workflow_id, const char *error, bool retryable,
			 Jsonb *details, Oid caller)
{
	WfRun	   *run = NULL;
	bool		held;
	WfTask	   *t = lock_reported_task(task_id, workflow_id, caller, &run, &held);

	if (held)
		defer_report(t, false, NULL, error, retryable, details);
	else if (t != NULL)
		attempt_failed(run, t, WF_EV_ACTIVITY_FAILED, error, details, retryable, NULL);
}

/*
 * Extend the lease of a task this worker holds; true when the workflow
 * asks the activity to stop.
 */
bool
wf_heartbeat_task(int64 task_id, const char *workflow_id, Jsonb *details, Oid caller)
{
	Oid			types[6] = {INT8OID, JSONBOID, TIMESTAMPTZOID, TEXTOID, TIMESTAMPTZOID,
	TIMESTAMPTZOID};
	Datum		values[6];
	char		nulls[6] = {' ', details ? ' ' : 'n', ' ', ' ', ' ', ' '};
	WfTask	   *t = first_read(task_id, workflow_id);
	bool		isnull;

	if (t == NULL || !t->running)
		stale_task_error(task_id, t ? "The task is not claimed; its lease may have expired."
						 : "No such task exists (any more).");
	check_queue_access(caller, t->queue);

	values[0] = Int64GetDatum(task_id);
	values[1] = details ? JsonbPGetDatum(details) : (Datum) 0;
	values[2] = TimestampTzGetDatum(wf_now());
	values[3] = CStringGetTextDatum(t->workflow_id);
	/*
	 * Never wait for a session that holds the task row: answer from what was
	 * read; the lease (which nobody can expire meanwhile) is extended by the
	 * next heartbeat.
	 */
	if (read_task(task_id, t->workflow_id, TASK_LOCK_SKIP) == NULL)
	{
		if (read_task(task_id, t->workflow_id, TASK_PEEK) == NULL)
			stale_task_error(task_id, "No such task exists (any more).");
		return t->cancel_requested;
	}
	/*
	 * The new lease and deadline are computed first and written as values:
	 * Citus refuses timestamptz arithmetic on columns in an UPDATE.  The
	 * row is locked, so nothing changes in between.
	 */
	if (wf_exec(&heartbeat_lease_plan,
				"SELECT LEAST(claimed_at + start_to_close_timeout, $3 + heartbeat_timeout),"
				" CASE WHEN session_ended THEN due_at"
				"   ELSE LEAST(claimed_at + start_to_close_timeout, $3 + heartbeat_timeout,"
				"              scheduled_at + schedule_to_close_timeout) END"
				" FROM workflow.tasks WHERE task_id = $1 AND workflow_id = $4 AND status = 'running'",
				4, types, values, nulls, 1) != 1)
		stale_task_error(task_id, "The task is not claimed; its lease may have expired.");
	values[4] = wf_get_datum(0, 1, &isnull);
	nulls[4] = isnull ? 'n' : ' ';
	values[5] = wf_get_datum(0, 2, &isnull);
	nulls[5] = isnull ? 'n' : ' ';
	if (wf_exec(&heartbeat_plan,
				"UPDATE workflow.tasks SET heartbeat_at = $3,"
				" heartbeat_details = COALESCE($2, heartbeat_details),"
				" lease_expires_at = $5, due_at = $6"
				" WHERE task_id = $1 AND workflow_id = $4 AND status = 'running'"
				" RETURNING cancel_requested",
				6, types, values, nulls, 0) != 1)
		stale_task_error(task_id, "The task is not claimed; its lease may have expired.");
	return DatumGetBool(wf_get_datum(0, 1, &isnull));
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
	Oid			types[3] = {INT8OID, TIMESTAMPTZOID, TEXTOID};
	Datum		values[3] = {Int64GetDatum(t->task_id), TimestampTzGetDatum(now),
	CStringGetTextDatum(t->workflow_id)};
	char	   *what;

	if (t->cancel_requested || run == NULL || !wf_run_is_open(run))
	{
		delete_task(t);
		return 1;
	}

	/* Which deadline fell due?  Checked in order of precedence. */
	wf_exec(&make_ready_plan,
			"SELECT CASE"
			" WHEN scheduled_at + schedule_to_close_timeout <= $2 THEN 'schedule_to_close'"
			" WHEN status = 'running' AND session_ended THEN 'session'"
			" WHEN status = 'ready' AND ready_at + schedule_to_start_timeout <= $2 THEN 'schedule_to_start'"
			" WHEN status = 'running' AND claimed_at + start_to_close_timeout <= $2 THEN 'start_to_close'"
			" WHEN status = 'running' AND COALESCE(heartbeat_at, claimed_at) + heartbeat_timeout <= $2 THEN 'heartbeat'"
			" WHEN status = 'backoff' AND ready_at <= $2 THEN 'ready'"
			" END, LEAST(ready_at + schedule_to_start_timeout, scheduled_at + schedule_to_close_timeout)"
			" FROM workflow.tasks WHERE task_id = $1 AND workflow_id = $3",
			3, types, values, NULL, 1);
	what = wf_get_text(0, 1);
	if (what == NULL)
		return 0;
	if (strcmp(what, "ready") == 0)
	{
		bool		no_due;
		Datum		due = wf_get_datum(0, 2, &no_due);

		/* The deadline as a value: Citus refuses timestamptz arithmetic on columns in an UPDATE. */
		wf_exec(&due_plan,
				"UPDATE workflow.tasks SET status = 'ready', due_at = $4"
				" WHERE task_id = $1 AND workflow_id = $3",
				4, (Oid[]) {INT8OID, TIMESTAMPTZOID, TEXTOID, TIMESTAMPTZOID},
				(Datum[]) {values[0], values[1], values[2], due},
				no_due ? "   n" : "    ", 0);
		wf_notify_queue(t->queue);
		return 1;
	}
	if (strcmp(what, "session") == 0)
	{
		/* The claiming session ended (leases.c): a failed attempt, retried. */
		attempt_failed(run, t, WF_EV_ACTIVITY_FAILED, "worker session ended", NULL, true, NULL);
		return 1;
	}
	/* Timeouts before start and of the whole schedule are not retried. */
	attempt_failed(run, t, WF_EV_ACTIVITY_TIMED_OUT,
				   psprintf("activity timed out (%s)", what), NULL,
				   strcmp(what, "start_to_close") == 0 || strcmp(what, "heartbeat") == 0,
				   what);
	return 1;
}

/*
 * Up to batch kept reports (reports that found their run held by another
 * session) as WfDueItems (key: the task id), oldest first.
 */
List *
wf_due_reports(TimestampTz now, int batch)
{
	return wf_due_items(&reports_plan,
						"SELECT workflow_id, run_id, task_id FROM workflow.task_reports"
						" WHERE reported_at <= $1 ORDER BY reported_at LIMIT $2",
						now, batch, WF_DUE_REPORT);
}

/*
 * Is a report of the same run kept from before this one?  Then this one
 * waits for it: the schedulers of a pool take kept reports side by side,
 * and a run's history must show its reports in the order they were made.
 */
static bool
older_report_kept(WfDueItem *item)
{
	static SPIPlanPtr older_plan;
	Oid			types[2] = {TEXTOID, INT8OID};
	Datum		values[2] = {CStringGetTextDatum(item->workflow_id), Int64GetDatum(item->key)};

	return wf_exec(&older_plan,
				   "SELECT FROM workflow.task_reports o, workflow.task_reports k"
				   " WHERE k.workflow_id = $1 AND k.task_id = $2"
				   "   AND o.workflow_id = $1 AND o.run_id = k.run_id"
				   "   AND (o.reported_at, o.task_id) < (k.reported_at, k.task_id)"
				   " LIMIT 1",
				   2, types, values, NULL, 1) > 0;
}

/*
 * Apply one kept report under its run's lock; 1 if applied or dropped, 0
 * if the run or task is still held, or an older report of the run waits.  A report of a task that moved on
 * meanwhile (reported again, timed out, withdrawn) is dropped, as a late
 * one is.
 */
int
wf_apply_report(WfDueItem *item)
{
	Oid			types[2] = {TEXTOID, INT8OID};
	Datum		values[2] = {CStringGetTextDatum(item->workflow_id), Int64GetDatum(item->key)};
	WfRun	   *run = wf_lock_run_by_id(item->workflow_id, item->run_id, true);
	WfTask	   *t;
	bool		completed;
	bool		retryable;
	bool		isnull;
	Jsonb	   *result;
	char	   *error;
	Jsonb	   *details;

	if (run == NULL && wf_run_exists(item->workflow_id, item->run_id))
		return 0;
	if (older_report_kept(item))
		return 0;
	t = read_task(item->key, item->workflow_id, TASK_LOCK_SKIP);
	if (t == NULL && read_task(item->key, item->workflow_id, TASK_PEEK) != NULL)
		return 0;
	if (wf_exec(&take_report_plan,
				"DELETE FROM workflow.task_reports WHERE workflow_id = $1 AND task_id = $2"
				" RETURNING completed, result, error, retryable, details",
				2, types, values, NULL, 0) != 1)
		return 0;
	completed = DatumGetBool(wf_get_datum(0, 1, &isnull));
	result = wf_get_jsonb(0, 2);
	error = wf_get_text(0, 3);
	retryable = DatumGetBool(wf_get_datum(0, 4, &isnull));
	details = wf_get_jsonb(0, 5);
	if (t == NULL || !t->running)
		return 1;
	if (t->cancel_requested || run == NULL || !wf_run_is_open(run))
		delete_task(t);
	else if (completed)
		record_completion(run, t, result);
	else
		attempt_failed(run, t, WF_EV_ACTIVITY_FAILED, error, details, retryable, NULL);
	return 1;
}

/* Postpone a kept report whose application failed. */
void
wf_postpone_report(WfDueItem *item, TimestampTz at)
{
	Oid			types[3] = {TEXTOID, INT8OID, TIMESTAMPTZOID};
	Datum		values[3] = {CStringGetTextDatum(item->workflow_id), Int64GetDatum(item->key),
	TimestampTzGetDatum(at)};

	wf_exec(&postpone_report_plan,
			"UPDATE workflow.task_reports SET reported_at = $3"
			" WHERE workflow_id = $1 AND task_id = $2",
			3, types, values, NULL, 0);
}

/* Up to batch tasks whose due time has come, as WfDueItems, earliest first. */
List *
wf_due_tasks(TimestampTz now, int batch)
{
	return wf_due_items(&due_list_plan,
						"SELECT workflow_id, run_id, task_id FROM workflow.tasks"
						" WHERE due_at <= $1 ORDER BY due_at LIMIT $2",
						now, batch, WF_DUE_TASK);
}

/* Handle one due task; returns 1 if done, 0 if another session holds it. */
int
wf_tick_due_task(WfDueItem *item, TimestampTz now)
{
	WfRun	   *run = wf_lock_run_by_id(item->workflow_id, item->run_id, true);
	WfTask	   *t;

	/* Skip what another session is working on; the next tick gets it. */
	if (run == NULL && wf_run_exists(item->workflow_id, item->run_id))
		return 0;

	/*
	 * Lock the task only if it is still due: another scheduler may have just
	 * made it ready and announced it, and a lock held on a ready task until
	 * this transaction ends would make the claims that announcement brings
	 * skip it, with no second announcement to come.
	 */
	if ((t = read_task(item->key, item->workflow_id, TASK_LOCK_DUE)) == NULL)
		return 0;
	return tick_task(run, t, now);
}

/* Retry a due task that could not be handled at at. */
void
wf_postpone_task(WfDueItem *item, TimestampTz at)
{
	Oid			types[3] = {INT8OID, TIMESTAMPTZOID, TEXTOID};
	Datum		values[3] = {Int64GetDatum(item->key), TimestampTzGetDatum(at),
	CStringGetTextDatum(item->workflow_id)};

	wf_exec(&postpone_plan,
			"UPDATE workflow.tasks SET due_at = $2 WHERE task_id = $1 AND workflow_id = $3",
			3, types, values, NULL, 0);
}

/*
 * The privileges a grant_queue/revoke_queue privilege argument names, as
 * a text array; a role other than the extension owner or a superuser (the
 * SQL privilege EXECUTE, revoked from PUBLIC, says who may call at all)
 * acts only on privileges it holds on that queue itself, so that it never
 * hands out more than it has ("*" only if it holds "*").
 */
static Datum
queue_privileges(const char *privilege, Oid caller, const char *queue)
{
	Datum		names[2];
	int			n = 0;
	int			i;

	if (strcmp(privilege, "consume") == 0 || strcmp(privilege, "all") == 0)
		names[n++] = CStringGetTextDatum("consume");
	if (strcmp(privilege, "produce") == 0 || strcmp(privilege, "all") == 0)
		names[n++] = CStringGetTextDatum("produce");
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid queue privilege \"%s\"", privilege),
				 errhint("Use 'consume' (claim and report tasks), 'produce' (schedule tasks) or 'all'.")));
	for (i = 0; i < n; i++)
		if (!has_queue_privilege(caller, queue, TextDatumGetCString(names[i])))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("role \"%s\" may not grant or revoke %s on queue \"%s\"",
							GetUserNameFromId(caller, false), TextDatumGetCString(names[i]), queue),
					 errdetail("A role other than the extension owner grants only what it holds itself."),
					 errhint("Ask the owner of extension \"workflow\" to do it.")));
	return PointerGetDatum(construct_array(names, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/* Add (grant) or remove a queue grant, as caller. */
void
wf_change_queue_grant(const char *queue, Oid role, const char *privilege, Oid caller,
					  bool grant)
{
	Oid			types[3] = {TEXTOID, OIDOID, TEXTARRAYOID};
	Datum		values[3];
	Datum		privileges = queue_privileges(privilege, caller, queue);

	values[0] = CStringGetTextDatum(queue);
	values[1] = ObjectIdGetDatum(role);
	values[2] = privileges;
	if (grant)
		wf_exec(&grant_plan,
				"INSERT INTO workflow.queue_grants (queue, grantee, privilege)"
				" SELECT $1, $2, p FROM unnest($3) p"
				" ON CONFLICT DO NOTHING",
				3, types, values, NULL, 0);
	else
		wf_exec(&revoke_plan,
				"DELETE FROM workflow.queue_grants"
				" WHERE queue = $1 AND grantee = $2 AND privilege = ANY ($3)",
				3, types, values, NULL, 0);
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
