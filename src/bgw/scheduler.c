/*-------------------------------------------------------------------------
 * scheduler.c
 *	  The per-database schedulers, and workflow.tick() / skip_time().
 *
 * A scheduler (dynamic background worker, started by the launcher, one of
 * a pool of workflow.max_workers per database) sleeps on its latch until
 * the earliest due time (timer, backoff, lease, deadline, workflow-task
 * retry), at most workflow.max_naptime; commits that create work or a
 * nearer due time set its latch.  Each wake-up sends the batched NOTIFYs,
 * then does due work in bounded batches, one transaction per batch, each
 * item in a subtransaction of its own (its failure is recorded on its run
 * and the item postponed), with SKIP LOCKED so that the schedulers of a
 * pool and tick() can run at once.  A scheduler that finds no extension
 * says so in shared memory and exits; the launcher starts it again only
 * when CREATE EXTENSION workflow commits there.  A scheduler idles (and
 * says so once in the log) while the installed schema is not the
 * library's version (until ALTER EXTENSION workflow UPDATE, whose commit
 * wakes it), and while a session restores the extension's tables.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_extension.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/lmgr.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"

#include "bgw/bgw.h"

int			wf_batch_size = 100;
int			wf_max_naptime_ms = 10000;

PG_FUNCTION_INFO_V1(wf_tick);
PG_FUNCTION_INFO_V1(wf_skip_time);

/* How soon a scheduler first retries due work another session holds ... */
#define HELD_RETRY_MS 10
/* ... and the longest it waits between such retries. */
#define HELD_RETRY_MAX_MS 1000

/* Scheduler: queues overflowed shared memory; announce every ready queue. */
static bool announce_all = false;

/* Scheduler: its index in its database's pool, and its held-work backoff. */
static int	worker_index = 0;
static long held_retry_ms = HELD_RETRY_MS;

/* Scheduler 0: when its next retention batch is due (model/retention.c). */
static TimestampTz next_retention_at = 0;

static SPIPlanPtr task_retry_plan;
static SPIPlanPtr deadline_plan;
static SPIPlanPtr notices_plan;
static SPIPlanPtr next_due_plan;
static SPIPlanPtr postpone_notices_plan;
static SPIPlanPtr postpone_deadline_plan;
static SPIPlanPtr schedules_plan;

/*
 * The restore lock: an advisory lock of the database (in its own key
 * space: SQL's advisory locks have field4 1 or 2), held in RowExclusiveLock
 * from its first COPY into a table of schema workflow until it disconnects
 * by each session that restores the extension's tables (pg_restore, or
 * psql running a plain dump), and tried in ShareLock by each pass of a
 * scheduler.  A dump's tables are restored one by one, each committed on
 * its own, workflows last: a scheduler working in between would take the
 * due timers and tasks of runs not yet restored for orphans and drop them.
 */
#define RESTORE_LOCK_FIELD4 0x5746

/* The restore lock's tag in this database. */
static void
restore_locktag(LOCKTAG *tag)
{
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, 0, 0, RESTORE_LOCK_FIELD4);
}

/*
 * This session restores the extension's tables: hold the database's
 * schedulers off until it disconnects (see restore_locktag).
 */
void
wf_hold_schedulers_for_restore(void)
{
	static bool held = false;
	LOCKTAG		tag;

	if (held)
		return;
	restore_locktag(&tag);
	(void) LockAcquire(&tag, RowExclusiveLock, true, false);
	held = true;
}

/* Check the installed schema's version, for wf_isolated. */
static void
require_schema(void *arg)
{
	wf_require_schema();
}

/*
 * May this pass do the database's work?  Not with a schema of another
 * version than the library's, nor while a session restores the tables.
 * The log says when a scheduler starts and stops idling, once each.
 */
static bool
scheduler_may_work(void)
{
	static int	idle_reason = 0;	/* 1: schema version, 2: restore */
	ErrorData  *edata = NULL;
	LOCKTAG		tag;
	int			reason = 0;

	if (wf_schema_mismatch() != NULL)
	{
		reason = 1;
		if (idle_reason != 1)
			edata = wf_isolated(require_schema, NULL);
	}
	else
	{
		restore_locktag(&tag);
		if (LockAcquire(&tag, ShareLock, false, true) == LOCKACQUIRE_NOT_AVAIL)
			reason = 2;
	}
	if (reason == idle_reason)
		return reason == 0;
	if (reason == 1 && edata != NULL)
		ereport(LOG,
				(errcode(edata->sqlerrcode),
				 errmsg("workflow scheduler of database \"%s\" is idle: %s",
						get_database_name(MyDatabaseId), edata->message),
				 edata->hint ? errhint("%s", edata->hint) : 0));
	else if (reason == 2)
		ereport(LOG,
				(errmsg("workflow scheduler of database \"%s\" waits for a restore to end",
						get_database_name(MyDatabaseId)),
				 errdetail("A session that copied rows into tables of schema \"workflow\" "
						   "(as pg_restore does) is connected."),
				 errhint("It goes on within workflow.max_naptime of that session's end.")));
	else if (reason == 0)
		ereport(LOG,
				(errmsg("workflow scheduler of database \"%s\" resumes",
						get_database_name(MyDatabaseId))));
	idle_reason = reason;
	return reason == 0;
}

/* Unpublish this scheduler's latch when it exits. */
static void
scheduler_exit(int code, Datum arg)
{
	WfDbSlot   *slot;

	LWLockAcquire(wf_shared_lock(), LW_EXCLUSIVE);
	slot = wf_db_slot(MyDatabaseId);
	if (slot && slot->workers[worker_index].pid == MyProcPid)
		memset(&slot->workers[worker_index], 0, sizeof(WfWorkerSlot));
	LWLockRelease(wf_shared_lock());
}

/*
 * The extension is absent: say so in this database's slot, if it has one
 * (the launcher frees it once its schedulers are gone), and exit.
 */
static void
scheduler_no_extension(void)
{
	WfDbSlot   *slot;

	LWLockAcquire(wf_shared_lock(), LW_EXCLUSIVE);
	slot = wf_db_slot(MyDatabaseId);
	if (slot)
		slot->no_extension = true;
	LWLockRelease(wf_shared_lock());
	proc_exit(0);
}

/*
 * Lock the extension (as DROP EXTENSION does, exclusively, before it drops
 * any table) for this transaction, so that a DROP waits for the iteration
 * instead of deadlocking with it.  False if the extension is gone.
 */
static bool
lock_extension(void)
{
	Oid			extoid = get_extension_oid("workflow", true);

	if (!OidIsValid(extoid))
		return false;
	LockDatabaseObject(ExtensionRelationId, extoid, 0, AccessShareLock);
	/* A DROP may have committed while we waited. */
	return get_extension_oid("workflow", true) == extoid;
}

/*
 * Join this database's pool: check that the extension is here (exit if
 * not), take the database's slot if it has none (a probe; exit if all are
 * taken), and publish this scheduler's latch so that commits can wake it.
 */
static void
scheduler_attach(void)
{
	WfDbSlot   *slot;
	bool		present;
	bool		taken = false;
	char	   *dbname;

	StartTransactionCommand();
	present = OidIsValid(get_extension_oid("workflow", true));
	dbname = get_database_name(MyDatabaseId);
	LWLockAcquire(wf_shared_lock(), LW_EXCLUSIVE);
	slot = present ? wf_take_db_slot(MyDatabaseId, dbname) : wf_db_slot(MyDatabaseId);
	if (slot && present && slot->workers[worker_index].pid == 0)
	{
		slot->no_extension = false;
		slot->workers[worker_index].latch = MyLatch;
		slot->workers[worker_index].pid = MyProcPid;
		taken = true;
	}
	LWLockRelease(wf_shared_lock());
	CommitTransactionCommand();
	if (!present)
		scheduler_no_extension();
	if (!taken)
		proc_exit(0);			/* no slot, or another has this index */
	before_shmem_exit(scheduler_exit, (Datum) 0);
	wf_set_worker_index(worker_index);
}

/* One batch (per kind) of everything that is due at now. */
static List *
collect_due(TimestampTz now, int batch)
{
	/* Kept reports first: a task reported in time is never timed out. */
	List	   *items = list_concat(wf_due_reports(now, batch), wf_due_timers(now, batch));

	items = list_concat(items, wf_due_tasks(now, batch));

	/* Failed workflow tasks whose retry time has come. */
	items = list_concat(items,
						wf_due_items(&task_retry_plan,
								 "SELECT workflow_id, run_id FROM workflow.workflows"
								 " WHERE task_retry_at <= $1 ORDER BY task_retry_at LIMIT $2",
								 now, batch, WF_DUE_TASK_RETRY));
	items = list_concat(items,
						wf_due_items(&notices_plan,
								 "SELECT DISTINCT n.workflow_id, n.run_id FROM workflow.child_notices n"
								 " JOIN workflow.workflows w USING (workflow_id, run_id)"
								 " WHERE n.created_at <= $1 LIMIT $2",
								 now, batch, WF_DUE_NOTICES));
	items = list_concat(items,
						wf_due_items(&deadline_plan,
								 "SELECT workflow_id, run_id FROM workflow.workflows"
								 " WHERE execution_deadline <= $1 AND closed_at IS NULL"
								 "   AND execution_deadline IS NOT NULL"
								 " ORDER BY execution_deadline LIMIT $2",
								 now, batch, WF_DUE_DEADLINE));
	/*
	 * Schedules with a fire due, or a kept fire whose wait is over.  Citus
	 * refuses the correlated subquery from a reference table: there, a kept
	 * fire waits for the schedule's next due time (doc/citus.md, Limits).
	 */
	items = list_concat(items,
						wf_due_items(&schedules_plan,
								 wf_citus_loaded() ?
								 "SELECT schedule_id, '00000000-0000-0000-0000-000000000000'::uuid,"
								 "   failures::int8 FROM workflow.schedule_state s"
								 " WHERE NOT paused AND due_at <= $1"
								 " ORDER BY due_at LIMIT $2" :
								 "SELECT schedule_id, '00000000-0000-0000-0000-000000000000'::uuid,"
								 "   failures::int8 FROM workflow.schedule_state s"
								 " WHERE NOT paused AND (due_at <= $1"
								 "   OR (failures = 0 AND cardinality(buffered) > 0"
								 "     AND NOT EXISTS (SELECT FROM workflow.workflows w"
								 "       WHERE w.workflow_id = s.last_workflow_id AND w.closed_at IS NULL)))"
								 " ORDER BY due_at LIMIT $2",
								 now, batch, WF_DUE_SCHEDULE));
	return items;
}

/* Do one due item; 1 if done, 0 if held. */
static int
do_item(WfDueItem *item, TimestampTz now)
{
	WfRun	   *run;

	switch (item->kind)
	{
		case WF_DUE_REPORT:
			return wf_apply_report(item);
		case WF_DUE_TIMER:
			return wf_fire_timer(item);
		case WF_DUE_TASK:
			return wf_tick_due_task(item, now);
		case WF_DUE_SCHEDULE:
			return wf_fire_schedule(item, now);
		default:
			break;
	}
	run = wf_lock_run_by_id(item->workflow_id, item->run_id, true);
	if (run == NULL)
		return 0;
	if (item->kind == WF_DUE_NOTICES)
		(void) wf_deliver_child_notices(run);	/* a closed parent drops them */
	else if (!wf_run_is_open(run))
		return 0;
	else if (item->kind == WF_DUE_TASK_RETRY)
		wf_advance(run);
	else
		wf_terminate_run(run, WF_EV_WORKFLOW_TIMED_OUT, WF_RUN_TIMED_OUT, "execution_timeout");
	return 1;
}

/*
 * Do one due item (arg: the TimestampTz now) and advance the runs it woke,
 * as one unit of work; 1 if done, 0 if held.
 */
static int
process_item(WfDueItem *item, void *arg)
{
	int			done = do_item(item, *(TimestampTz *) arg);

	wf_api_settle();
	return done;
}

/* What an item is, for messages and the history. */
static char *
describe_item(WfDueItem *item)
{
	switch (item->kind)
	{
		case WF_DUE_REPORT:
			return psprintf("report of activity task %lld", (long long) item->key);
		case WF_DUE_TIMER:
			return psprintf("timer %lld", (long long) item->key);
		case WF_DUE_TASK:
			return psprintf("activity task %lld", (long long) item->key);
		case WF_DUE_TASK_RETRY:
			return pstrdup("workflow task retry");
		case WF_DUE_NOTICES:
			return pstrdup("child outcome delivery");
		case WF_DUE_DEADLINE:
			return pstrdup("execution timeout");
		case WF_DUE_SCHEDULE:
			return pstrdup("fire");
	}
	return pstrdup("item");		/* keep compiler quiet */
}

/*
 * Record on its run that an item failed (WorkflowTaskFailed, with the
 * error, arg, and the item), and postpone the item by the run's
 * workflow-task backoff.  Returns 1 if postponed, 0 if the run is held.
 */
static int
record_item_failure(WfDueItem *item, void *arg)
{
	ErrorData  *edata = arg;
	WfRun	   *run = wf_lock_run_by_id(item->workflow_id, item->run_id, true);
	Datum		values[3] = {CStringGetTextDatum(item->workflow_id), item->run_id, 0};
	Oid			types[3] = {TEXTOID, UUIDOID, TIMESTAMPTZOID};
	TimestampTz retry_at;

	if (item->kind == WF_DUE_SCHEDULE)
	{
		retry_at = wf_task_retry_time(item->key + 1);
		wf_postpone_schedule(item, retry_at);
		wf_note_due(retry_at);
		return 1;
	}
	if (run == NULL && wf_run_exists(item->workflow_id, item->run_id))
		return 0;
	if (run == NULL)
		retry_at = wf_task_retry_time(1);
	else
	{
		retry_at = wf_record_task_failure(run, wf_error_object(edata->sqlerrcode,
																edata->message,
																NULL, NULL, NULL),
										  describe_item(item),
										  item->kind == WF_DUE_TASK_RETRY);
		wf_flush_events();
	}
	values[2] = TimestampTzGetDatum(retry_at);
	if (item->kind == WF_DUE_REPORT)
		wf_postpone_report(item, retry_at);
	else if (item->kind == WF_DUE_TIMER)
		wf_postpone_timer(item, retry_at);
	else if (item->kind == WF_DUE_TASK)
		wf_postpone_task(item, retry_at);
	else if (item->kind == WF_DUE_NOTICES)
		wf_exec(&postpone_notices_plan,
				"UPDATE workflow.child_notices SET created_at = $3"
				" WHERE workflow_id = $1 AND run_id = $2",
				3, types, values, NULL, 0);
	else if (item->kind == WF_DUE_DEADLINE)
		wf_exec(&postpone_deadline_plan,
				"UPDATE workflow.workflows SET execution_deadline = $3"
				" WHERE workflow_id = $1 AND run_id = $2",
				3, types, values, NULL, 0);
	wf_note_due(retry_at);
	return 1;
}

/* One call of an item's function, for wf_isolated. */
typedef struct ItemCall
{
	int			(*fn) (WfDueItem *, void *);
	WfDueItem  *item;
	void	   *arg;
	int			result;
} ItemCall;

/* Make the call an ItemCall describes. */
static void
call_item(void *arg)
{
	ItemCall   *call = arg;

	call->result = call->fn(call->item, call->arg);
}

/*
 * Run fn(item, arg) inside an internal subtransaction (wf_isolated).
 * Returns false, with the error in *edata, if it failed.
 */
static bool
run_isolated(int (*fn) (WfDueItem *, void *), WfDueItem *item, void *arg,
			 int *result, ErrorData **edata)
{
	ItemCall	call = {fn, item, arg, 0};

	*edata = wf_isolated(call_item, &call);
	*result = call.result;
	return *edata == NULL;
}

/*
 * Do one item so that its failure never stops the caller's loop: an error
 * rolls back only the item's work, is logged as a WARNING naming the run,
 * recorded on the run, and the item is postponed with backoff.  Returns 1
 * if the item was done or postponed, 0 if another session holds it.
 */
static int
process_isolated(WfDueItem *item, TimestampTz now)
{
	ErrorData  *edata;
	ErrorData  *edata2;
	int			n = 0;

	if (run_isolated(process_item, item, &now, &n, &edata))
		return n;
	if (item->kind == WF_DUE_SCHEDULE)
		ereport(WARNING,
				(errcode(edata->sqlerrcode),
				 errmsg("workflow: fire of schedule \"%s\" failed: %s",
						item->workflow_id, edata->message),
				 errdetail("It is retried with backoff.")));
	else
		ereport(WARNING,
				(errcode(edata->sqlerrcode),
				 errmsg("workflow: %s of workflow \"%s\" (run %s) failed: %s",
						describe_item(item), item->workflow_id, wf_uuid_out(item->run_id),
						edata->message),
				 errdetail("It is recorded on the run as WorkflowTaskFailed and retried with backoff.")));
	if (run_isolated(record_item_failure, item, edata, &n, &edata2))
		return n;
	ereport(WARNING,
			(errcode(edata2->sqlerrcode),
			 errmsg("workflow: could not record the failure of workflow \"%s\" (run %s): %s",
					item->workflow_id, wf_uuid_out(item->run_id), edata2->message)));
	return 0;
}

/* One batch of everything that is due at now; returns how much was done. */
static int
wf_tick_all(TimestampTz now, int batch)
{
	List	   *items;
	ListCell   *lc;
	int			done = 0;
	bool		sessions_held;

	(void) wf_fail_ended_sessions(now, &sessions_held);
	items = collect_due(now, batch);

	foreach(lc, items)
		done += process_isolated(lfirst(lc), now);
	return done;
}

/*
 * The earliest due times next_due reads, but the kept fires of schedules
 * (not under Citus: see the schedules' due items).
 */
#define NEXT_DUE_COMMON \
	" (SELECT fire_at FROM workflow.timers ORDER BY fire_at LIMIT 1)," \
	" (SELECT reported_at FROM workflow.task_reports ORDER BY reported_at LIMIT 1)," \
	" (SELECT due_at FROM workflow.tasks WHERE due_at IS NOT NULL ORDER BY due_at LIMIT 1)," \
	" (SELECT task_retry_at FROM workflow.workflows WHERE task_retry_at IS NOT NULL" \
	"   ORDER BY task_retry_at LIMIT 1)," \
	" (SELECT execution_deadline FROM workflow.workflows" \
	"   WHERE closed_at IS NULL AND execution_deadline IS NOT NULL" \
	"   ORDER BY execution_deadline LIMIT 1)," \
	" (SELECT n.created_at FROM workflow.child_notices n" \
	"   JOIN workflow.workflows w USING (workflow_id, run_id)" \
	"   ORDER BY n.created_at LIMIT 1)," \
	" (SELECT due_at FROM workflow.schedule_state WHERE NOT paused AND due_at IS NOT NULL" \
	"   ORDER BY due_at LIMIT 1)"

/* The earliest due time of any kind, or 0 if nothing is scheduled. */
static TimestampTz
next_due(void)
{
	bool		isnull;
	Datum		d;

	wf_exec(&next_due_plan,
			wf_citus_loaded() ? "SELECT LEAST(" NEXT_DUE_COMMON ")" :
			"SELECT LEAST(" NEXT_DUE_COMMON ","
			" (SELECT pg_catalog.now() FROM workflow.schedule_state s"
			"   WHERE NOT paused AND failures = 0 AND cardinality(buffered) > 0"
			"     AND NOT EXISTS (SELECT FROM workflow.workflows w"
			"       WHERE w.workflow_id = s.last_workflow_id AND w.closed_at IS NULL) LIMIT 1))",
			0, NULL, NULL, NULL, 1);
	d = wf_get_datum(0, 1, &isnull);
	return isnull ? 0 : DatumGetTimestampTz(d);
}

/*
 * Copy due items into cxt, so that they outlive the transaction (SPI
 * allocates in its own contexts, freed by SPI_finish).
 */
static List *
copy_items(List *items, MemoryContext cxt)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	List	   *copy = NIL;
	ListCell   *lc;

	foreach(lc, items)
	{
		WfDueItem  *item = palloc(sizeof(WfDueItem));

		*item = *(WfDueItem *) lfirst(lc);
		item->workflow_id = pstrdup(item->workflow_id);
		item->run_id = datumCopy(item->run_id, false, UUID_LEN);
		copy = lappend(copy, item);
	}
	MemoryContextSwitchTo(old);
	return copy;
}

/*
 * Start a transaction of the scheduler, as the extension owner; exits the
 * process when the extension is gone.
 */
static void
begin_work(WfInternal *save, const char *activity)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (!lock_extension())
	{
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
		scheduler_no_extension();
	}
	pgstat_report_activity(STATE_RUNNING, activity);
	wf_enter_internal(save);
}

/* Commit a transaction begin_work started. */
static void
end_work(WfInternal *save)
{
	wf_api_settle();
	wf_leave_internal(save);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	/*
	 * Hand over the table statistics (at most once a second): without it a
	 * background worker keeps them until it exits, and autovacuum would not
	 * see the rows the scheduler deletes (retention) and updates.
	 */
	(void) pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
}

/* One retention batch, for wf_isolated (arg: a bool, set if more is due). */
static void
retention_batch(void *arg)
{
	(void) wf_apply_retention(GetCurrentTimestamp(), (bool *) arg);
}

/*
 * Scheduler 0 deletes closed runs past their retention: a batch in a
 * transaction of its own, at most once per workflow.max_naptime unless the
 * last batch was full.  Then the next one follows after a pause of
 * RETENTION_PAUSE_FACTOR times the batch's duration, so that retention
 * takes at most a fifth of the time of one process (and of the WAL it
 * writes per second): a backlog of millions of runs drains over minutes
 * without slowing the workers' claims.
 */
#define RETENTION_PAUSE_FACTOR 4

static void
retention_pass(void)
{
	WfInternal	save;
	ErrorData  *edata;
	bool		more = false;
	TimestampTz start = GetCurrentTimestamp();
	TimestampTz end;

	if (worker_index != 0 || start < next_retention_at)
		return;
	begin_work(&save, "workflow scheduler: retention");
	edata = wf_isolated(retention_batch, &more);
	end_work(&save);
	if (edata != NULL)
		ereport(WARNING,
				(errcode(edata->sqlerrcode),
				 errmsg("workflow: deleting closed runs failed: %s", edata->message),
				 errdetail("It is tried again after workflow.max_naptime.")));
	end = GetCurrentTimestamp();
	if (more && edata == NULL)
		next_retention_at = end + Max(RETENTION_PAUSE_FACTOR * (end - start), 10 * 1000);
	else
		next_retention_at = TimestampTzPlusMilliseconds(end, wf_max_naptime_ms);
}

/* Milliseconds from now until at, rounded up (0 or less if it has passed). */
static long
ms_until(TimestampTz at)
{
	long		secs;
	int			usecs;

	TimestampDifference(GetCurrentTimestamp(), at, &secs, &usecs);
	return secs * 1000 + (usecs + 999) / 1000;
}

/*
 * One pass of the scheduler: notifications and the list of what is due in
 * one transaction, then each due item in a transaction of its own, so that
 * one run's slow code holds no other run's lock or result, and the other
 * schedulers of the database (SKIP LOCKED) take the other items meanwhile.
 * Returns the time to sleep, in ms (0 = go on at once).
 */
static long
scheduler_iteration(MemoryContext items_cxt)
{
	WfInternal	save;
	TimestampTz now;
	TimestampTz due = 0;
	int			done = 0;
	bool		overflow;
	bool		sessions_held;
	long		sleep_ms = wf_max_naptime_ms;
	List	   *items;
	ListCell   *lc;

	/* Awake: any commit from now on that makes something due sets our latch. */
	wf_set_next_wakeup(0);
	begin_work(&save, "workflow scheduler: due work");
	if (!scheduler_may_work())
	{
		end_work(&save);
		wf_set_next_wakeup(TimestampTzPlusMilliseconds(GetCurrentTimestamp(), sleep_ms));
		return sleep_ms;
	}
	(void) wf_send_pending_notifies(&overflow);
	if (overflow || announce_all)
		(void) wf_notify_all_ready_queues();
	announce_all = false;
	now = GetCurrentTimestamp();
	(void) wf_fail_ended_sessions(now, &sessions_held);
	items = copy_items(collect_due(now, wf_batch_size), items_cxt);
	if (items == NIL)
		due = next_due();
	end_work(&save);

	foreach(lc, items)
	{
		CHECK_FOR_INTERRUPTS();
		begin_work(&save, "workflow scheduler: due item");
		done += process_isolated(lfirst(lc), now);
		end_work(&save);
	}

	retention_pass();
	if (done > 0)
	{
		held_retry_ms = HELD_RETRY_MS;
		return 0;
	}
	if (items != NIL || sessions_held)
	{
		/* All of it is held by other sessions: retry, less often each time. */
		sleep_ms = Min(held_retry_ms, sleep_ms);
		held_retry_ms = Min(held_retry_ms * 2, HELD_RETRY_MAX_MS);
	}
	else if (due != 0)
	{
		sleep_ms = Min(sleep_ms, ms_until(due));
		if (sleep_ms <= 0)
			sleep_ms = HELD_RETRY_MS;
	}
	if (worker_index == 0)
		sleep_ms = Max(1, Min(sleep_ms, ms_until(next_retention_at)));
	wf_set_next_wakeup(TimestampTzPlusMilliseconds(GetCurrentTimestamp(), sleep_ms));
	return sleep_ms;
}

/*
 * A wake-up for notifications only (nothing became due sooner): send them
 * in a transaction of their own and go back to sleep until the planned
 * time.  Returns that sleep, in ms.
 */
static long
notify_only_iteration(void)
{
	bool		overflow;

	StartTransactionCommand();
	(void) wf_send_pending_notifies(&overflow);
	CommitTransactionCommand();
	if (overflow)
	{
		announce_all = true;	/* the next, full, pass does it */
		return 0;
	}
	return Max(1, ms_until(wf_scheduler_planned_wakeup()));
}

/* Main loop of one scheduler of a database's pool. */
void
wf_scheduler_main(Datum arg)
{
	MemoryContext loop_cxt;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	memcpy(&worker_index, MyBgworkerEntry->bgw_extra, sizeof(worker_index));
	BackgroundWorkerInitializeConnectionByOid(DatumGetObjectId(arg), InvalidOid, 0);
	scheduler_attach();
	loop_cxt = AllocSetContextCreate(TopMemoryContext, "workflow scheduler loop",
									 ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		long		sleep_ms = wf_max_naptime_ms;
		MemoryContext old;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			/* workflow.max_workers was lowered below this one's number */
			if (worker_index >= wf_max_workers)
				proc_exit(0);
		}
		old = MemoryContextSwitchTo(loop_cxt);
		/* A standby does nothing until it is promoted. */
		if (!RecoveryInProgress())
		{
			if (announce_all || wf_scheduler_needs_pass(GetCurrentTimestamp()))
				sleep_ms = scheduler_iteration(loop_cxt);
			else
				sleep_ms = notify_only_iteration();
		}
		MemoryContextSwitchTo(old);
		MemoryContextReset(loop_cxt);
		if (sleep_ms > 0)
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 sleep_ms, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
		}
	}
}

/*
 * The end of tick() and skip_time(): announce what they made ready (a
 * scheduler does that on its next pass; these calls are how tests and
 * pg_cron drive the engine without one), back to the real clock, leave.
 */
static void
end_manual_tick(WfInternal *save)
{
	bool		overflow;

	(void) wf_send_pending_notifies(&overflow);
	if (overflow)
		(void) wf_notify_all_ready_queues();
	wf_set_now(0);
	wf_api_leave(save);
}

/*
 * workflow.tick(at): do all due work now (as if the time were at), send
 * pending notifications, and return how much was done.  Who may call it
 * (and skip_time) is the SQL privilege: EXECUTE is revoked from PUBLIC,
 * and GRANT EXECUTE delegates it.
 */
Datum
wf_tick(PG_FUNCTION_ARGS)
{
	TimestampTz at = PG_ARGISNULL(0) ? 0 : PG_GETARG_TIMESTAMPTZ(0);
	WfInternal	save;
	int			total = 0;
	int			n;

	(void) wf_api_enter(&save, "workflow.tick()");
	if (at != 0)
		wf_set_now(at);
	do
	{
		n = wf_tick_all(wf_now(), wf_batch_size);
		total += n;
	} while (n > 0);
	end_manual_tick(&save);
	PG_RETURN_INT32(total);
}

/*
 * workflow.skip_time(horizon): time-skipping for tests.  Moves a virtual
 * clock from due time to due time, doing the work due at each, until
 * nothing is due within horizon from now; returns how much was done.  A
 * 30-day workflow of timers runs to its end in one call.
 */
Datum
wf_skip_time(PG_FUNCTION_ARGS)
{
	Interval   *horizon = PG_GETARG_INTERVAL_P(0);
	WfInternal	save;
	TimestampTz limit;
	TimestampTz clock = GetCurrentTransactionStartTimestamp();
	int			total = 0;

	wf_check_interval(horizon, "horizon");
	limit = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
													TimestampTzGetDatum(clock),
													IntervalPGetDatum(horizon)));
	(void) wf_api_enter(&save, "workflow.skip_time()");
	for (;;)
	{
		TimestampTz due = next_due();
		int			n;

		if (due == 0 || due > limit)
			break;
		clock = Max(clock, due);
		wf_set_now(clock);
		n = wf_tick_all(clock, wf_batch_size);
		if (n == 0)
			break;				/* what is due is locked by another session */
		total += n;
	}
	end_manual_tick(&save);
	PG_RETURN_INT32(total);
}
