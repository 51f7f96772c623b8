/*-------------------------------------------------------------------------
 * ops.c
 *	  Operating runs: what a run waits on and why (workflow.describe), and
 *	  making its backing-off items due now (workflow.retry_now), and how
 *	  runs ended, read without keeping locks (workflow.await_result).
 *
 * describe is one statement of keyed lookups: the run row (the open run of
 * the id, else the last closed), its tasks (tasks_run_idx), timers,
 * signals, kept reports and child notices (their primary keys), open
 * children (workflows_parent_idx), the queued runs ahead of a queued one
 * (workflows_queued_idx), and, only where there is one, the last failure
 * of a workflow task or of an activity's attempt (the run's history read
 * backwards from its end).  Nothing scans a whole table, so it is cheap
 * enough to call in a loop.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"

#include "model/model.h"

static SPIPlanPtr describe_plan;
static SPIPlanPtr describe_distributed_plan;
static SPIPlanPtr describe_children_plan;
static SPIPlanPtr describe_ahead_plan;
static SPIPlanPtr retry_task_plan;
static SPIPlanPtr retry_tasks_plan;
static SPIPlanPtr retry_tasks_due_plan;
static SPIPlanPtr retry_task_set_plan;
static SPIPlanPtr retry_reports_plan;
static SPIPlanPtr retry_notices_plan;
static SPIPlanPtr routed_endings_plan;

/*
 * The pieces of waiting_on, each (ord, seq, item): ord puts a failed
 * workflow task first, then activities, timers, the signal, children,
 * kept reports and child outcomes, the start slot of a queued run.
 */
#define WAIT_TASK_RETRY \
	"SELECT 0 AS ord, 0 AS seq, jsonb_strip_nulls(jsonb_build_object(" \
	"  'kind', 'workflow_task', 'state', 'backing_off', 'attempt', r.task_failures," \
	"  'next_attempt_at', r.task_retry_at, 'last_error', f.failure->'error')) AS item" \
	" WHERE r.task_retry_at IS NOT NULL"

#define WAIT_ACTIVITIES(RUN_KEY, TASK_KEY) \
	" UNION ALL SELECT 1, t.seq, jsonb_strip_nulls(jsonb_build_object(" \
	"  'kind', CASE WHEN t.is_compensation THEN 'compensation' ELSE 'activity' END," \
	"  'seq', t.seq, 'activity', t.activity, 'activity_id', t.activity_id, 'task_id', t.task_id," \
	"  'queue', t.queue, 'attempt', t.attempt," \
	"  'state', CASE t.status WHEN 'running' THEN 'claimed' WHEN 'backoff' THEN 'backing_off'" \
	"           ELSE 'ready' END," \
	"  'ready_since', CASE WHEN t.status = 'ready' THEN t.ready_at END," \
	"  'queue_paused', (SELECT CASE WHEN c.paused THEN true END FROM workflow.queue_config c" \
	"                   WHERE c.queue = t.queue)," \
	"  'worker', t.claimed_by, 'claimed_at', t.claimed_at, 'lease_expires_at', t.lease_expires_at," \
	"  'heartbeat_at', t.heartbeat_at," \
	"  'next_attempt_at', CASE WHEN t.status = 'backoff' THEN t.ready_at END," \
	"  'cancel_requested', CASE WHEN t.cancel_requested THEN true END," \
	"  'last_error', CASE WHEN t.attempt > 1 THEN" \
	"    (SELECT jsonb_strip_nulls(jsonb_build_object('error', h.data->'error'," \
	"       'attempt', h.data->'attempt', 'timeout_type', h.data->'timeout_type'," \
	"       'details', h.data->'details', 'at', h.created_at))" \
	"     FROM workflow.history h WHERE h.workflow_id = " TASK_KEY " AND h.run_id = t.run_id" \
	"       AND h.event_type IN ('ActivityFailed', 'ActivityTimedOut')" \
	"       AND h.data->'seq' = to_jsonb(t.seq)" \
	"       AND (h.data ? 'is_compensation') = t.is_compensation" \
	"     ORDER BY h.event_id DESC LIMIT 1) END))" \
	" FROM workflow.tasks t WHERE t.workflow_id = " RUN_KEY " AND t.run_id = r.run_id"

#define WAIT_TIMERS(RUN_KEY, TIMER_KEY) \
	" UNION ALL SELECT 2, m.seq, jsonb_strip_nulls(jsonb_build_object(" \
	"  'kind', 'timer', 'seq', m.seq, 'fire_at', m.fire_at," \
	"  'signal', (SELECT h.data->'signal' FROM workflow.history h" \
	"             WHERE h.workflow_id = " TIMER_KEY " AND h.run_id = m.run_id" \
	"               AND h.event_type = 'TimerStarted' AND h.data->'seq' = to_jsonb(m.seq)" \
	"             ORDER BY h.event_id DESC LIMIT 1)))" \
	" FROM workflow.timers m WHERE m.workflow_id = " RUN_KEY " AND m.run_id = r.run_id"

#define WAIT_SIGNAL(RUN_KEY) \
	" UNION ALL SELECT 3, 0, jsonb_build_object('kind', 'signal', 'signal', r.awaiting_signal," \
	"  'buffered', (SELECT count(*) FROM workflow.signals s WHERE s.workflow_id = " RUN_KEY \
	"               AND s.run_id = r.run_id AND s.signal = r.awaiting_signal))" \
	" WHERE r.awaiting_signal IS NOT NULL AND r.status = 'running'"

#define WAIT_CHILDREN \
	" UNION ALL SELECT 4, 0, jsonb_build_object('kind', 'child', 'workflow_id', c.workflow_id," \
	"  'run_id', c.run_id, 'workflow_type', c.workflow_type, 'status', c.status)" \
	" FROM workflow.workflows c WHERE r.has_children AND c.parent_workflow_id = r.workflow_id" \
	"  AND c.parent_run_id = r.run_id AND c.closed_at IS NULL"

#define WAIT_KEPT(RUN_KEY) \
	" UNION ALL SELECT 5, 0, jsonb_build_object('kind', 'report', 'task_id', k.task_id," \
	"  'completed', k.completed, 'due_at', k.reported_at)" \
	" FROM workflow.task_reports k WHERE k.workflow_id = " RUN_KEY " AND k.run_id = r.run_id" \
	" UNION ALL SELECT 5, 0, jsonb_build_object('kind', 'child_outcome'," \
	"  'workflow_id', n.child_workflow_id, 'status', n.status, 'due_at', n.created_at)" \
	" FROM workflow.child_notices n WHERE n.workflow_id = " RUN_KEY " AND n.run_id = r.run_id"

#define WAIT_START_SLOT \
	" UNION ALL SELECT 6, 0, jsonb_strip_nulls(jsonb_build_object('kind', 'start'," \
	"  'queued_at', r.queued_at, 'queued_behind', q.ahead, 'concurrency_key', r.concurrency_key," \
	"  'max_running', y.options->'max_running'," \
	"  'max_running_per_key', y.options->'max_running_per_key'))" \
	" WHERE r.status = 'queued'"

/*
 * The open children of the run, and how many queued runs are ahead of a
 * queued one, read by joins on other columns than the workflow_id.
 */
#define WAIT_CHILDREN_JOINED WAIT_CHILDREN

#define QUEUED_AHEAD_JOINED \
	" LEFT JOIN LATERAL (SELECT count(*) AS ahead FROM workflow.workflows a" \
	"   WHERE r.status = 'queued' AND a.workflow_type = r.workflow_type AND a.status = 'queued'" \
	"     AND (a.priority, a.queued_at, a.run_id) < (r.priority, r.queued_at, r.run_id)" \
	"     AND (y.options->'max_running' IS NOT NULL OR r.concurrency_key IS NULL" \
	"          OR a.concurrency_key = r.concurrency_key)) q0 ON true"

/*
 * The same where the run tables are distributed (Citus): read before, by
 * their own statements (CHILDREN_SQL, AHEAD_SQL), and given as $3 (the
 * open children of the id's runs, each with its parent_run_id) and $4.
 */
#define WAIT_CHILDREN_GIVEN \
	" UNION ALL SELECT 4, 0, c OPERATOR(pg_catalog.-) 'parent_run_id'" \
	" FROM jsonb_array_elements($3) c" \
	" WHERE r.has_children AND c->>'parent_run_id' = r.run_id::text"

#define QUEUED_AHEAD_GIVEN " CROSS JOIN (SELECT $4::bigint AS ahead) q0"

#define CHILDREN_SQL \
	"SELECT COALESCE(jsonb_agg(jsonb_build_object('kind', 'child', 'workflow_id', c.workflow_id," \
	"  'run_id', c.run_id, 'workflow_type', c.workflow_type, 'status', c.status," \
	"  'parent_run_id', c.parent_run_id)), '[]')" \
	" FROM workflow.workflows c WHERE c.parent_workflow_id = $1 AND c.closed_at IS NULL"

/* Not a lateral join (Citus refuses it next to a reference table). */
#define AHEAD_SQL \
	"WITH r AS MATERIALIZED (SELECT * FROM workflow.workflows WHERE workflow_id = $1" \
	"           ORDER BY " WF_LATEST_RUN_ORDER " LIMIT 1)" \
	" SELECT count(*) FROM r" \
	" LEFT JOIN workflow.workflow_types y ON y.workflow_type = r.workflow_type" \
	" JOIN workflow.workflows a" \
	"   ON r.status = 'queued' AND a.workflow_type = r.workflow_type AND a.status = 'queued'" \
	"     AND (a.priority, a.queued_at, a.run_id) < (r.priority, r.queued_at, r.run_id)" \
	"     AND (y.options->'max_running' IS NOT NULL OR r.concurrency_key IS NULL" \
	"          OR a.concurrency_key = r.concurrency_key)"

/*
 * describe's statement.  RUN_KEY, TASK_KEY and TIMER_KEY are the
 * workflow_id its reads of the run's tables are keyed by: the run's,
 * task's and timer's columns (as written first), or $1 where Citus must
 * see each read keyed by the one value to route the whole statement to
 * the run's shard.
 */
#define DESCRIBE_SQL_OF(RUN_KEY, TASK_KEY, TIMER_KEY, CHILDREN, AHEAD) \
	"WITH r AS (SELECT * FROM workflow.workflows WHERE workflow_id = $1" \
	"           ORDER BY " WF_LATEST_RUN_ORDER " LIMIT 1)" \
	" SELECT pg_has_role($2, r.owner::oid, 'MEMBER'), jsonb_build_object(" \
	"  'workflow_id', r.workflow_id, 'run_id', r.run_id, 'workflow_type', r.workflow_type," \
	"  'status', r.status, 'cancel_requested', r.cancel_requested," \
	"  'waiting_on', CASE WHEN r.closed_at IS NULL THEN COALESCE(" \
	"     (SELECT jsonb_agg(w.item ORDER BY w.ord, w.seq) FROM (" \
	WAIT_TASK_RETRY WAIT_ACTIVITIES(RUN_KEY, TASK_KEY) WAIT_TIMERS(RUN_KEY, TIMER_KEY) \
	WAIT_SIGNAL(RUN_KEY) CHILDREN WAIT_KEPT(RUN_KEY) \
	WAIT_START_SLOT ") w), '[]') ELSE '[]' END," \
	"  'last_task_failure', f.failure," \
	"  'queued_behind', q.ahead," \
	"  'events', r.last_event_id, 'started_at', r.created_at, 'closed_at', r.closed_at)" \
	" FROM r" \
	" LEFT JOIN workflow.workflow_types y ON y.workflow_type = r.workflow_type" \
	" LEFT JOIN LATERAL (SELECT jsonb_strip_nulls(jsonb_build_object(" \
	"     'attempt', h.data->'attempt', 'error', h.data->'error', 'item', h.data->'item'," \
	"     'retry_at', h.data->'retry_at', 'at', h.created_at)) AS failure" \
	"   FROM workflow.history h WHERE r.task_failures > 0 AND h.workflow_id = " RUN_KEY \
	"     AND h.run_id = r.run_id AND h.event_type = 'WorkflowTaskFailed'" \
	"   ORDER BY h.event_id DESC LIMIT 1) f ON true" \
	AHEAD \
	" CROSS JOIN LATERAL (SELECT CASE WHEN r.status = 'queued' THEN q0.ahead END AS ahead) q"

#define DESCRIBE_SQL \
	DESCRIBE_SQL_OF("r.workflow_id", "t.workflow_id", "m.workflow_id", \
					WAIT_CHILDREN_JOINED, QUEUED_AHEAD_JOINED)

#define DESCRIBE_DISTRIBUTED_SQL \
	DESCRIBE_SQL_OF("$1", "$1", "$1", WAIT_CHILDREN_GIVEN, QUEUED_AHEAD_GIVEN)

/*
 * Where the latest run of workflow_id (the open one, else the last closed)
 * stopped, and why, as jsonb; an error, the same as for an unknown id,
 * when caller is not a member of the run's owner (it sees nothing of it).
 */
Jsonb *
wf_describe_run(const char *workflow_id, Oid caller)
{
	Oid			types[4] = {TEXTOID, OIDOID, JSONBOID, INT8OID};
	Datum		values[4] = {CStringGetTextDatum(workflow_id), ObjectIdGetDatum(caller)};
	bool		isnull;
	Jsonb	   *described;
	int			n;

	if (wf_runs_distributed())
	{
		wf_exec(&describe_children_plan, CHILDREN_SQL, 1, types, values, NULL, 1);
		values[2] = JsonbPGetDatum(wf_get_jsonb(0, 1));
		values[3] = Int64GetDatum(0);
		if (wf_exec(&describe_ahead_plan, AHEAD_SQL, 1, types, values, NULL, 1) == 1)
			values[3] = Int64GetDatum(DatumGetInt64(wf_get_datum(0, 1, &isnull)));
		n = wf_exec(&describe_distributed_plan, DESCRIBE_DISTRIBUTED_SQL, 4, types, values,
					NULL, 1);
	}
	else
		n = wf_exec(&describe_plan, DESCRIBE_SQL, 2, types, values, NULL, 1);
	if (n == 0 || !DatumGetBool(wf_get_datum(0, 1, &isnull)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("workflow \"%s\" does not exist", workflow_id),
				 errhint("Check the id in workflow.workflows: a role sees only the runs of the roles it is a member of.")));
	described = wf_get_jsonb(0, 2);
	return (Jsonb *) SPI_datumTransfer(JsonbPGetDatum(described), false, -1);
}

/*
 * retry_now's activity attempts where the run tables are distributed:
 * Citus refuses timestamptz arithmetic on columns in an UPDATE, so each
 * task's new deadline is computed by a SELECT of the locked rows and
 * written as a value.  How many tasks were made ready (their queues
 * announced at commit).
 */
static int
retry_tasks_distributed(WfRun *run, TimestampTz now)
{
	Oid			types[4] = {TEXTOID, UUIDOID, TIMESTAMPTZOID, INT8OID};
	Datum		values[4] = {CStringGetTextDatum(run->workflow_id), run->run_id,
	TimestampTzGetDatum(now)};
	Datum	   *task_ids;
	Datum	   *due;
	bool	   *due_null;
	int			tasks;
	int			made = 0;
	int			i;

	tasks = wf_exec(&retry_tasks_due_plan,
					"SELECT task_id, LEAST($3 + schedule_to_start_timeout,"
					"                      scheduled_at + schedule_to_close_timeout)"
					" FROM workflow.tasks"
					" WHERE workflow_id = $1 AND run_id = $2 AND status = 'backoff'"
					" FOR UPDATE",
					3, types, values, NULL, 0);
	task_ids = palloc(sizeof(Datum) * Max(tasks, 1));
	due = palloc(sizeof(Datum) * Max(tasks, 1));
	due_null = palloc(sizeof(bool) * Max(tasks, 1));
	for (i = 0; i < tasks; i++)
	{
		bool		isnull;

		task_ids[i] = wf_get_datum(i, 1, &isnull);
		due[i] = wf_get_datum(i, 2, &due_null[i]);
	}
	for (i = 0; i < tasks; i++)
	{
		Oid			set_types[4] = {TEXTOID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID};
		Datum		set_values[4] = {values[0], task_ids[i], values[2], due[i]};
		const char *set_nulls = due_null[i] ? "   n" : "    ";

		if (wf_exec(&retry_task_set_plan,
					"UPDATE workflow.tasks SET status = 'ready', ready_at = $3, due_at = $4"
					" WHERE workflow_id = $1 AND task_id = $2 AND status = 'backoff'"
					" RETURNING queue",
					4, set_types, set_values, set_nulls, 0) == 1)
		{
			wf_notify_queue(wf_get_text(0, 1));
			made++;
		}
	}
	return made;
}

/*
 * Make every backing-off item of a locked, open run due now: a failed
 * workflow task's retry, activity attempts waiting out their backoff (made
 * ready at once, their queues announced at commit), and kept reports and
 * child outcomes postponed after a failure.  Returns how many.
 */
int
wf_retry_now_items(WfRun *run)
{
	TimestampTz now = wf_now();
	Oid			types[3] = {TEXTOID, UUIDOID, TIMESTAMPTZOID};
	Datum		values[3] = {CStringGetTextDatum(run->workflow_id), run->run_id,
	TimestampTzGetDatum(now)};
	int			n = 0;
	int			tasks;
	int			i;

	n += wf_exec(&retry_task_plan,
				 "UPDATE workflow.workflows SET task_retry_at = $3"
				 " WHERE workflow_id = $1 AND run_id = $2 AND task_retry_at > $3",
				 3, types, values, NULL, 0);
	if (wf_runs_distributed())
		tasks = retry_tasks_distributed(run, now);
	else
	{
		tasks = wf_exec(&retry_tasks_plan,
						"UPDATE workflow.tasks SET status = 'ready', ready_at = $3,"
						" due_at = LEAST($3 + schedule_to_start_timeout,"
						"                scheduled_at + schedule_to_close_timeout)"
						" WHERE workflow_id = $1 AND run_id = $2 AND status = 'backoff'"
						" RETURNING queue",
						3, types, values, NULL, 0);
		for (i = 0; i < tasks; i++)
			wf_notify_queue(wf_get_text(i, 1));
	}
	n += tasks;
	n += wf_exec(&retry_reports_plan,
				 "UPDATE workflow.task_reports SET reported_at = $3"
				 " WHERE workflow_id = $1 AND run_id = $2 AND reported_at > $3",
				 3, types, values, NULL, 0);
	n += wf_exec(&retry_notices_plan,
				 "UPDATE workflow.child_notices SET created_at = $3"
				 " WHERE workflow_id = $1 AND run_id = $2 AND created_at > $3",
				 3, types, values, NULL, 0);
	if (n > 0)
		wf_note_due(now);
	return n;
}

/*
 * One run read by wf_read_run_endings: it is *target if it is the run
 * target_run_id, and becomes *latest if it is open, or closed later than
 * *latest (and *latest is not open).
 */
static void
sort_run_ending(const WfRunEnding *run, Datum target_run_id,
				WfRunEnding *target, WfRunEnding *latest)
{
	if (target_run_id != (Datum) 0 &&
		memcmp(DatumGetUUIDP(run->run_id), DatumGetUUIDP(target_run_id), UUID_LEN) == 0)
		*target = *run;
	if (!latest->found || (run->open && !latest->open) ||
		(!latest->open && !run->open &&
		 (run->closed_at > latest->closed_at ||
		  (run->closed_at == latest->closed_at && run->created_at > latest->created_at))))
		*latest = *run;
}

/*
 * Are the run tables distributed by Citus?  Then workflow.workflows here
 * is an empty shell: its rows are read by statements Citus routes to the
 * run's shard.  Needs SPI.
 */
bool
wf_runs_distributed(void)
{
	return wf_citus_distributed("workflow.workflows");
}

/*
 * wf_read_run_endings where the run tables are distributed: one statement
 * routed to the run's shard, with the statement's own (latest, in READ
 * COMMITTED) snapshot.  Its lock on the shell table lasts until the end of
 * the transaction; what the transaction itself wrote is not told apart
 * (mine stays false: the row's xmin is the shard node's).
 */
static void
read_run_endings_routed(const char *workflow_id, Datum target_run_id,
						WfRunEnding *target, WfRunEnding *latest)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(workflow_id)};
	int			n;
	int			i;

	n = wf_exec(&routed_endings_plan,
				"SELECT run_id, status, owner, result, error, closed_at, created_at"
				" FROM workflow.workflows WHERE workflow_id OPERATOR(pg_catalog.=) $1",
				1, types, values, NULL, 0);
	for (i = 0; i < n; i++)
	{
		WfRunEnding run;
		bool		isnull;
		Datum		d;

		memset(&run, 0, sizeof(run));
		run.found = true;
		run.run_id = datumCopy(wf_get_datum(i, 1, &isnull), false, UUID_LEN);
		run.status = wf_get_text(i, 2);
		run.owner = DatumGetObjectId(wf_get_datum(i, 3, &isnull));
		d = wf_get_datum(i, 4, &isnull);
		run.result = isnull ? NULL : DatumGetJsonbPCopy(d);
		d = wf_get_datum(i, 5, &isnull);
		run.error = isnull ? NULL : DatumGetJsonbPCopy(d);
		d = wf_get_datum(i, 6, &isnull);
		run.open = isnull;
		run.closed_at = isnull ? 0 : DatumGetTimestampTz(d);
		run.created_at = DatumGetTimestampTz(wf_get_datum(i, 7, &isnull));
		sort_run_ending(&run, target_run_id, target, latest);
	}
}

/*
 * Read the runs of workflow_id without holding a lock afterwards: as
 * workflow.await_result checks again after each wake-up, its locks would
 * otherwise pile up for as long as it waits, and hold off DDL (DROP
 * EXTENSION, TRUNCATE) on workflow.workflows meanwhile.  So the table and
 * its primary key are opened here and closed with their locks released,
 * and each read takes the latest snapshot, registered only while it scans.
 * Fills *target with the run target_run_id (found = false if it is gone;
 * unless target_run_id is NULL) and *latest with the open run, else the
 * last closed (found = false if the id has no run).
 */
void
wf_read_run_endings(const char *workflow_id, Datum target_run_id,
					WfRunEnding *target, WfRunEnding *latest)
{
	Oid			nsp = get_namespace_oid("workflow", false);
	Oid			relid = get_relname_relid("workflows", nsp);
	Oid			pkey = get_relname_relid("workflows_pkey", nsp);
	Relation	rel;
	Relation	idx;
	ScanKeyData key;
	Snapshot	snap;
	SysScanDesc scan;
	HeapTuple	tuple;
	AttrNumber	att_run_id, att_status, att_owner, att_result, att_error, att_closed, att_created;

	memset(target, 0, sizeof(WfRunEnding));
	memset(latest, 0, sizeof(WfRunEnding));
	if (wf_runs_distributed())
	{
		read_run_endings_routed(workflow_id, target_run_id, target, latest);
		return;
	}
	rel = table_open(relid, AccessShareLock);
	idx = index_open(pkey, AccessShareLock);
	att_run_id = get_attnum(relid, "run_id");
	att_status = get_attnum(relid, "status");
	att_owner = get_attnum(relid, "owner");
	att_result = get_attnum(relid, "result");
	att_error = get_attnum(relid, "error");
	att_closed = get_attnum(relid, "closed_at");
	att_created = get_attnum(relid, "created_at");

	ScanKeyEntryInitialize(&key, 0, 1, BTEqualStrategyNumber, InvalidOid,
						   idx->rd_indcollation[0], F_TEXTEQ,
						   CStringGetTextDatum(workflow_id));
	snap = RegisterSnapshot(GetLatestSnapshot());
	scan = systable_beginscan(rel, pkey, true, snap, 1, &key);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		TupleDesc	desc = RelationGetDescr(rel);
		WfRunEnding run;
		bool		isnull;
		Datum		d;

		memset(&run, 0, sizeof(run));
		run.found = true;
		run.run_id = datumCopy(heap_getattr(tuple, att_run_id, desc, &isnull), false, UUID_LEN);
		run.status = TextDatumGetCString(heap_getattr(tuple, att_status, desc, &isnull));
		run.owner = DatumGetObjectId(heap_getattr(tuple, att_owner, desc, &isnull));
		d = heap_getattr(tuple, att_result, desc, &isnull);
		run.result = isnull ? NULL : DatumGetJsonbPCopy(d);
		d = heap_getattr(tuple, att_error, desc, &isnull);
		run.error = isnull ? NULL : DatumGetJsonbPCopy(d);
		d = heap_getattr(tuple, att_closed, desc, &isnull);
		run.open = isnull;
		run.closed_at = isnull ? 0 : DatumGetTimestampTz(d);
		run.created_at = DatumGetTimestampTz(heap_getattr(tuple, att_created, desc, &isnull));
		run.mine = TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetXmin(tuple->t_data));
		sort_run_ending(&run, target_run_id, target, latest);
	}
	systable_endscan(scan);
	UnregisterSnapshot(snap);
	index_close(idx, AccessShareLock);
	table_close(rel, AccessShareLock);
}
