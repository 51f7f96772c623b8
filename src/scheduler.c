/*-------------------------------------------------------------------------
 * scheduler.c
 *	  The background workers, and workflow.tick().
 *
 * A launcher (static background worker, no database) keeps one scheduler
 * (dynamic background worker) running per database where the extension is
 * created: it starts one for every database that allows connections; a
 * scheduler that finds no extension says so in shared memory and exits,
 * and is started again only when CREATE EXTENSION workflow commits there.
 *
 * A scheduler sleeps on its latch until the earliest due time (timer,
 * backoff, lease, deadline, workflow-task retry), at most
 * workflow.max_naptime; commits that create work or a nearer due time set
 * its latch.  Each wake-up sends the batched NOTIFYs, then does due work
 * in bounded batches, one transaction per batch, with SKIP LOCKED so that
 * tick() and the scheduler can run at once.
 *
 * DROP DATABASE (and the other commands that need a database without
 * sessions) stop its scheduler first, from a ProcessUtility hook.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "commands/extension.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "workflow.h"

PG_FUNCTION_INFO_V1(wf_tick);
PG_FUNCTION_INFO_V1(wf_skip_time);

PGDLLEXPORT void wf_launcher_main(Datum arg);
PGDLLEXPORT void wf_scheduler_main(Datum arg);

/* How long DROP DATABASE waits for a scheduler to exit. */
#define STOP_WAIT_MS 10000
/* How soon a scheduler first retries due work another session holds ... */
#define HELD_RETRY_MS 10
/* ... and the longest it waits between such retries. */
#define HELD_RETRY_MAX_MS 1000
/* How long the launcher leaves a database alone after such a command. */
#define PAUSE_MS 15000
/* Databases the launcher probes for the extension at once. */
#define MAX_PROBES 2

static ProcessUtility_hook_type prev_utility_hook = NULL;

/* Scheduler: queues overflowed shared memory; announce every ready queue. */
static bool announce_all = false;

/* Scheduler: its index in its database's pool, and its held-work backoff. */
static int	worker_index = 0;
static long held_retry_ms = HELD_RETRY_MS;

/*
 * Launcher only: the handles of the schedulers it started, by slot and
 * index, and the databases without a slot it probed or is probing.
 */
static BackgroundWorkerHandle **scheduler_handles;

typedef struct ProbedDb
{
	Oid			dboid;			/* hash key */
	BackgroundWorkerHandle *probe;	/* while a probe runs */
	bool		probed;			/* a probe ran since the last slot was freed */
	uint64		pass;			/* the last launcher pass that saw it */
} ProbedDb;

static HTAB *probed_dbs;

static SPIPlanPtr task_retry_plan;
static SPIPlanPtr deadline_plan;
static SPIPlanPtr notices_plan;
static SPIPlanPtr next_due_plan;
static SPIPlanPtr postpone_notices_plan;
static SPIPlanPtr postpone_deadline_plan;

/* Register the launcher (from _PG_init, when preloaded). */
void
wf_scheduler_register(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 5;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "workflow");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "wf_launcher_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "workflow launcher");
	snprintf(worker.bgw_type, BGW_MAXLEN, "workflow launcher");
	RegisterBackgroundWorker(&worker);
}

/*
 * Start scheduler number index of a database (number 0 of a database
 * without a slot is a probe: it takes a slot if it finds the extension,
 * and exits otherwise).  Returns its handle, or NULL with a WARNING.
 */
static BackgroundWorkerHandle *
start_scheduler(Oid dboid, int index, const char *dbname)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	MemoryContext old;
	bool		registered;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "workflow");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "wf_scheduler_main");
	if (index == 0)
	{
		snprintf(worker.bgw_name, BGW_MAXLEN, "workflow scheduler %s", dbname);
		snprintf(worker.bgw_type, BGW_MAXLEN, "workflow scheduler");
	}
	else
	{
		snprintf(worker.bgw_name, BGW_MAXLEN, "workflow scheduler helper %d %s", index, dbname);
		snprintf(worker.bgw_type, BGW_MAXLEN, "workflow scheduler helper");
	}
	worker.bgw_main_arg = ObjectIdGetDatum(dboid);
	memcpy(worker.bgw_extra, &index, sizeof(index));
	worker.bgw_notify_pid = MyProcPid;
	/* The handle must outlive the launcher's transaction. */
	old = MemoryContextSwitchTo(TopMemoryContext);
	registered = RegisterDynamicBackgroundWorker(&worker, &handle);
	MemoryContextSwitchTo(old);
	if (!registered)
	{
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("could not start the workflow scheduler for database \"%s\"", dbname),
				 errdetail("All background worker slots (max_worker_processes = %d) are in use.",
						   max_worker_processes),
				 errhint("Raise max_worker_processes, or lower workflow.max_workers.")));
		return NULL;
	}
	return handle;
}

/* Is the process behind *handle still alive?  Forgets it once it is not. */
static bool
handle_alive(BackgroundWorkerHandle **handle)
{
	pid_t		pid;

	if (*handle == NULL)
		return false;
	if (GetBackgroundWorkerPid(*handle, &pid) != BGWH_STOPPED)
		return true;
	pfree(*handle);
	*handle = NULL;
	return false;
}

/* Keep the pool of a served database full (caller holds the lock). */
static void
fill_pool(WfDbSlot *slot, int slotno, const char *dbname, bool probing)
{
	int			i;

	for (i = 0; i < wf_max_workers; i++)
	{
		BackgroundWorkerHandle **h = &scheduler_handles[slotno * WF_MAX_WORKERS + i];

		/*
		 * A scheduler started by an earlier launcher (this one was
		 * restarted), or a probe that took the slot, has no handle here but
		 * has published its pid.
		 */
		if (slot->workers[i].pid != 0 || handle_alive(h) || (i == 0 && probing))
			continue;
		*h = start_scheduler(slot->dboid, i, dbname);
	}
}

/*
 * A database without a slot: probe it for the extension, at most
 * MAX_PROBES at a time, once until a slot is freed.
 */
static void
probe_database(Oid dboid, const char *dbname, uint64 pass, int *probes)
{
	bool		found;
	ProbedDb   *p = hash_search(probed_dbs, &dboid, HASH_ENTER, &found);

	if (!found)
	{
		p->probe = NULL;
		p->probed = false;
	}
	p->pass = pass;
	if (handle_alive(&p->probe))
	{
		(*probes)++;
		return;
	}
	if (p->probed || *probes >= MAX_PROBES)
		return;
	p->probe = start_scheduler(dboid, 0, dbname);
	p->probed = p->probe != NULL;
	if (p->probe)
		(*probes)++;
}

/*
 * One pass of the launcher: full pools for the databases that have a slot
 * (they have the extension), probes for the others, and the slots of
 * databases that are gone or lost the extension freed.
 */
static void
launcher_pass(void)
{
	static uint64 pass = 0;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	TimestampTz now = GetCurrentTimestamp();
	WfDbSlot   *slots = wf_db_slots();
	bool	   *seen = palloc0(sizeof(bool) * wf_max_databases);
	bool		freed = false;
	List	   *known_absent = NIL;
	ListCell   *lc;
	int			probes = 0;
	HASH_SEQ_STATUS hs;
	ProbedDb   *p;
	int			i;

	pass++;
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	LWLockAcquire(wf_shared_lock(), LW_EXCLUSIVE);
	while (HeapTupleIsValid(tup = heap_getnext(scan, ForwardScanDirection)))
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);
		WfDbSlot   *slot;
		ProbedDb   *probe;

		if (!db->datallowconn || db->datistemplate)
			continue;
		slot = wf_db_slot(db->oid);
		if (slot == NULL)
		{
			probe_database(db->oid, NameStr(db->datname), pass, &probes);
			continue;
		}
		seen[slot - slots] = true;
		probe = hash_search(probed_dbs, &db->oid, HASH_FIND, NULL);
		if (probe)
			probe->pass = pass;
		if (!slot->no_extension && slot->paused_until <= now)
			fill_pool(slot, slot - slots, NameStr(db->datname),
					  probe != NULL && handle_alive(&probe->probe));
	}
	for (i = 0; i < wf_max_databases; i++)
	{
		int			j;
		bool		alive = wf_slot_has_workers(&slots[i]);

		if (!OidIsValid(slots[i].dboid) || (seen[i] && !slots[i].no_extension))
			continue;
		for (j = 0; j < WF_MAX_WORKERS; j++)
			alive |= handle_alive(&scheduler_handles[i * WF_MAX_WORKERS + j]);
		if (!alive)
		{
			if (slots[i].no_extension)
				known_absent = lappend_oid(known_absent, slots[i].dboid);
			memset(&slots[i], 0, sizeof(WfDbSlot));
			freed = true;
		}
	}
	LWLockRelease(wf_shared_lock());
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	PopActiveSnapshot();
	CommitTransactionCommand();

	/* Forget databases that are gone; after a slot was freed, probe again. */
	hash_seq_init(&hs, probed_dbs);
	while ((p = hash_seq_search(&hs)) != NULL)
	{
		if (p->pass != pass && !handle_alive(&p->probe))
			hash_search(probed_dbs, &p->dboid, HASH_REMOVE, NULL);
		else if (freed)
			p->probed = false;
	}
	/* Those whose schedulers just found no extension need no probe. */
	foreach(lc, known_absent)
	{
		Oid			dboid = lfirst_oid(lc);
		bool		found;

		p = hash_search(probed_dbs, &dboid, HASH_ENTER, &found);
		if (!found)
			p->probe = NULL;
		p->probed = true;
		p->pass = pass;
	}
	pfree(seen);
}

/* Main loop of the launcher. */
void
wf_launcher_main(Datum arg)
{
	HASHCTL		ctl;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	wf_set_launcher_latch(MyLatch);
	scheduler_handles = MemoryContextAllocZero(TopMemoryContext,
											   sizeof(BackgroundWorkerHandle *) *
											   wf_max_databases * WF_MAX_WORKERS);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(ProbedDb);
	probed_dbs = hash_create("workflow probed databases", 64, &ctl, HASH_ELEM | HASH_BLOBS);

	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		launcher_pass();
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 wf_launcher_naptime_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
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
	return items;
}

/* Do one due item (arg: the TimestampTz now); 1 if done, 0 if held. */
static int
process_item(WfDueItem *item, void *arg)
{
	TimestampTz now = *(TimestampTz *) arg;
	WfRun	   *run;

	switch (item->kind)
	{
		case WF_DUE_REPORT:
			return wf_apply_report(item);
		case WF_DUE_TIMER:
			return wf_fire_timer(item);
		case WF_DUE_TASK:
			return wf_tick_due_task(item, now);
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
		wf_terminate_run(run, "WorkflowTimedOut", "timed_out", "execution_timeout");
	return 1;
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
	WfJson		e;

	if (run == NULL && wf_run_exists(item->workflow_id, item->run_id))
		return 0;
	if (run == NULL)
		retry_at = wf_task_retry_time(1);
	else
	{
		wf_json_begin(&e);
		wf_json_str(&e, "message", edata->message);
		wf_json_str(&e, "sqlstate", unpack_sql_state(edata->sqlerrcode));
		retry_at = wf_record_task_failure(run, wf_json_end(&e), describe_item(item),
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
	List	   *items = collect_due(now, batch);
	ListCell   *lc;
	int			done = 0;

	foreach(lc, items)
		done += process_isolated(lfirst(lc), now);
	return done;
}

/* The earliest due time of any kind, or 0 if nothing is scheduled. */
static TimestampTz
next_due(void)
{
	bool		isnull;
	Datum		d;

	wf_exec(&next_due_plan,
			"SELECT LEAST("
			" (SELECT fire_at FROM workflow.timers ORDER BY fire_at LIMIT 1),"
			" (SELECT reported_at FROM workflow.task_reports ORDER BY reported_at LIMIT 1),"
			" (SELECT due_at FROM workflow.tasks WHERE due_at IS NOT NULL ORDER BY due_at LIMIT 1),"
			" (SELECT task_retry_at FROM workflow.workflows WHERE task_retry_at IS NOT NULL"
			"   ORDER BY task_retry_at LIMIT 1),"
			" (SELECT execution_deadline FROM workflow.workflows"
			"   WHERE closed_at IS NULL AND execution_deadline IS NOT NULL"
			"   ORDER BY execution_deadline LIMIT 1),"
			" (SELECT n.created_at FROM workflow.child_notices n"
			"   JOIN workflow.workflows w USING (workflow_id, run_id)"
			"   ORDER BY n.created_at LIMIT 1))",
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
	wf_leave_internal(save);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
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
	long		sleep_ms = wf_max_naptime_ms;
	List	   *items;
	ListCell   *lc;

	/* Awake: any commit from now on that makes something due sets our latch. */
	wf_set_next_wakeup(0);
	begin_work(&save, "workflow scheduler: due work");
	(void) wf_send_pending_notifies(&overflow);
	if (overflow || announce_all)
		(void) wf_notify_all_ready_queues();
	announce_all = false;
	now = GetCurrentTimestamp();
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

	if (done > 0)
	{
		held_retry_ms = HELD_RETRY_MS;
		return 0;
	}
	if (items != NIL)
	{
		/* All of it is held by other sessions: retry, less often each time. */
		sleep_ms = Min(held_retry_ms, sleep_ms);
		held_retry_ms = Min(held_retry_ms * 2, HELD_RETRY_MAX_MS);
	}
	else if (due != 0)
	{
		long		secs;
		int			usecs;

		TimestampDifference(GetCurrentTimestamp(), due, &secs, &usecs);
		sleep_ms = Min(sleep_ms, secs * 1000 + (usecs + 999) / 1000);
		if (sleep_ms <= 0)
			sleep_ms = HELD_RETRY_MS;
	}
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
	long		secs;
	int			usecs;

	StartTransactionCommand();
	(void) wf_send_pending_notifies(&overflow);
	CommitTransactionCommand();
	if (overflow)
	{
		announce_all = true;	/* the next, full, pass does it */
		return 0;
	}
	TimestampDifference(GetCurrentTimestamp(), wf_scheduler_planned_wakeup(), &secs, &usecs);
	return Max(1, secs * 1000 + (usecs + 999) / 1000);
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
	bool		overflow;

	wf_refuse_in_workflow_code("workflow.tick()");
	SPI_connect();
	wf_enter_internal(&save);
	if (at != 0)
		wf_set_now(at);
	do
	{
		n = wf_tick_all(wf_now(), wf_batch_size);
		total += n;
	} while (n > 0);
	(void) wf_send_pending_notifies(&overflow);
	if (overflow)
		(void) wf_notify_all_ready_queues();
	wf_set_now(0);
	wf_leave_internal(&save);
	SPI_finish();
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
	bool		overflow;

	wf_refuse_in_workflow_code("workflow.skip_time()");
	wf_check_interval(horizon, "horizon");
	limit = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
													TimestampTzGetDatum(clock),
													IntervalPGetDatum(horizon)));
	SPI_connect();
	wf_enter_internal(&save);
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
	(void) wf_send_pending_notifies(&overflow);
	if (overflow)
		(void) wf_notify_all_ready_queues();
	wf_set_now(0);
	wf_leave_internal(&save);
	SPI_finish();
	PG_RETURN_INT32(total);
}

/* Stop the schedulers of a database (by name) and keep them stopped a while. */
static void
stop_scheduler_of(const char *dbname)
{
	Oid			dboid;
	WfDbSlot   *slot;
	int			waited;

	if (dbname == NULL || wf_shared_state() == NULL)
		return;
	dboid = get_database_oid(dbname, true);
	if (!OidIsValid(dboid))
		return;
	for (waited = 0; waited <= STOP_WAIT_MS; waited += 10)
	{
		pid_t		pids[WF_MAX_WORKERS] = {0};
		bool		any = false;
		int			i;

		LWLockAcquire(wf_shared_lock(), LW_EXCLUSIVE);
		slot = wf_db_slot(dboid);
		if (slot)
		{
			slot->paused_until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), PAUSE_MS);
			for (i = 0; i < WF_MAX_WORKERS; i++)
				pids[i] = slot->workers[i].pid;
		}
		LWLockRelease(wf_shared_lock());
		for (i = 0; i < WF_MAX_WORKERS; i++)
		{
			if (pids[i] == 0)
				continue;
			any = true;
			if (waited == 0)
				(void) kill(pids[i], SIGTERM);
		}
		if (!any)
			return;
		CHECK_FOR_INTERRUPTS();
		pg_usleep(10 * 1000L);
	}
}

/* The database a utility statement needs free of sessions, if any. */
static const char *
database_needing_exclusive_access(Node *stmt)
{
	ListCell   *lc;

	switch (nodeTag(stmt))
	{
		case T_DropdbStmt:
			return ((DropdbStmt *) stmt)->dbname;
		case T_RenameStmt:
			if (((RenameStmt *) stmt)->renameType == OBJECT_DATABASE)
				return ((RenameStmt *) stmt)->subname;
			return NULL;
		case T_AlterDatabaseStmt:
			return ((AlterDatabaseStmt *) stmt)->dbname;
		case T_CreatedbStmt:
			foreach(lc, ((CreatedbStmt *) stmt)->options)
			{
				DefElem    *def = lfirst(lc);

				if (strcmp(def->defname, "template") == 0)
					return defGetString(def);
			}
			return NULL;
		default:
			return NULL;
	}
}

/* Is this CREATE EXTENSION workflow? */
static bool
is_create_workflow_extension(Node *stmt)
{
	return IsA(stmt, CreateExtensionStmt) &&
		strcmp(((CreateExtensionStmt *) stmt)->extname, "workflow") == 0;
}

/* The role OIDs a list of RoleSpecs names (those that exist). */
static List *
role_oids(List *specs)
{
	List	   *oids = NIL;
	ListCell   *lc;

	foreach(lc, specs)
	{
		RoleSpec   *spec = lfirst(lc);
		Oid			oid;

		if (spec->roletype != ROLESPEC_CSTRING)
			continue;
		oid = get_role_oid(spec->rolename, true);
		if (OidIsValid(oid))
			oids = lappend_oid(oids, oid);
	}
	return oids;
}

/*
 * DROP ROLE refuses while the role owns open runs in this database (runs
 * in other databases, which this backend cannot see, are terminated by the
 * engine when it next advances them: see wf_advance).  Once the drop may
 * go on, the role's queue grants here go with it, so that a later role
 * with the same OID inherits nothing.
 */
static void
check_drop_role(DropRoleStmt *stmt)
{
	static SPIPlanPtr open_plan;
	static SPIPlanPtr grants_plan;
	List	   *oids = role_oids(stmt->roles);
	ListCell   *lc;
	WfInternal	save;

	if (oids == NIL || !OidIsValid(get_extension_oid("workflow", true)))
		return;
	SPI_connect();
	wf_enter_internal(&save);
	foreach(lc, oids)
	{
		Oid			role = lfirst_oid(lc);
		Datum		values[1] = {ObjectIdGetDatum(role)};
		bool		isnull;
		int64		n;

		wf_exec(&open_plan,
				"SELECT count(*) FROM workflow.workflows WHERE owner = $1 AND closed_at IS NULL",
				1, (Oid[]) {OIDOID}, values, NULL, 1);
		n = DatumGetInt64(wf_get_datum(0, 1, &isnull));
		if (n > 0)
			ereport(ERROR,
					(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
					 errmsg("role \"%s\" cannot be dropped because it owns open workflow runs",
							GetUserNameFromId(role, false)),
					 errdetail("It owns " INT64_FORMAT " running workflow runs in database \"%s\".",
							   n, get_database_name(MyDatabaseId)),
					 errhint("Use REASSIGN OWNED to give them to another role, DROP OWNED to terminate them, "
							 "or wait for them to end.")));
		wf_exec(&grants_plan, "DELETE FROM workflow.queue_grants WHERE grantee = $1",
				1, (Oid[]) {OIDOID}, values, NULL, 0);
	}
	wf_leave_internal(&save);
	SPI_finish();
}

/*
 * After REASSIGN OWNED (to is valid) or DROP OWNED (it is not) of roles in
 * this database: their workflow runs and types move to the new owner, or
 * their open runs are terminated, as the other objects they own are
 * reassigned or dropped.
 */
static void
after_owned_change(List *specs, RoleSpec *to)
{
	static SPIPlanPtr reassign_runs_plan;
	static SPIPlanPtr reassign_types_plan;
	static SPIPlanPtr open_runs_plan;
	List	   *oids = role_oids(specs);
	ListCell   *lc;
	WfInternal	save;
	Oid			newowner = to ? get_rolespec_oid(to, false) : InvalidOid;

	if (oids == NIL || !OidIsValid(get_extension_oid("workflow", true)))
		return;
	SPI_connect();
	wf_enter_internal(&save);
	foreach(lc, oids)
	{
		Datum		values[2] = {ObjectIdGetDatum(lfirst_oid(lc)), ObjectIdGetDatum(newowner)};
		char	  **wfids;
		Datum	   *runids;
		int			n,
					i;

		if (OidIsValid(newowner))
		{
			wf_exec(&reassign_runs_plan,
					"UPDATE workflow.workflows SET owner = $2 WHERE owner = $1",
					2, (Oid[]) {OIDOID, OIDOID}, values, NULL, 0);
			wf_exec(&reassign_types_plan,
					"UPDATE workflow.workflow_types SET owner = $2 WHERE owner = $1",
					2, (Oid[]) {OIDOID, OIDOID}, values, NULL, 0);
			continue;
		}
		n = wf_exec(&open_runs_plan,
					"SELECT workflow_id, run_id FROM workflow.workflows"
					" WHERE owner = $1 AND closed_at IS NULL",
					1, (Oid[]) {OIDOID}, values, NULL, 0);
		wf_copy_run_ids(n, 1, &wfids, &runids);
		for (i = 0; i < n; i++)
		{
			WfRun	   *run = wf_lock_run_by_id(wfids[i], runids[i], false);

			if (run != NULL && wf_run_is_open(run))
				wf_terminate_run(run, "WorkflowTerminated", "terminated",
								 psprintf("DROP OWNED BY %s", GetUserNameFromId(run->owner, false)));
		}
	}
	wf_leave_internal(&save);
	SPI_finish();
}

/*
 * Stop a database's scheduler before commands that need the database
 * free; wake the launcher after CREATE EXTENSION workflow commits; keep
 * workflow runs consistent with DROP ROLE, DROP OWNED and REASSIGN OWNED.
 */
static void
wf_process_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
				   ProcessUtilityContext context, ParamListInfo params,
				   QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *stmt = pstmt->utilityStmt;

	wf_sandbox_check_utility(stmt);
	stop_scheduler_of(database_needing_exclusive_access(stmt));
	if (is_create_workflow_extension(stmt))
		wf_wake_launcher_at_commit();
	else if (IsA(stmt, DropStmt) && ((DropStmt *) stmt)->removeType == OBJECT_EXTENSION)
		wf_wake_scheduler();
	else if (IsA(stmt, DropRoleStmt))
		check_drop_role((DropRoleStmt *) stmt);

	if (prev_utility_hook)
		prev_utility_hook(pstmt, queryString, readOnlyTree, context, params,
						  queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);

	if (IsA(stmt, ReassignOwnedStmt))
		after_owned_change(((ReassignOwnedStmt *) stmt)->roles,
						   ((ReassignOwnedStmt *) stmt)->newrole);
	else if (IsA(stmt, DropOwnedStmt))
		after_owned_change(((DropOwnedStmt *) stmt)->roles, NULL);
}

/* Install the utility hook. */
void
wf_utility_hook_init(void)
{
	prev_utility_hook = ProcessUtility_hook;
	ProcessUtility_hook = wf_process_utility;
}
