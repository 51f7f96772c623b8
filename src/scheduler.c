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
/* How soon the scheduler retries due work another session holds. */
#define HELD_RETRY_MS 10
/* How long the launcher leaves a database alone after such a command. */
#define PAUSE_MS 15000

static ProcessUtility_hook_type prev_utility_hook = NULL;

/* Scheduler: queues overflowed shared memory; announce every ready queue. */
static bool announce_all = false;

/* Launcher only: the handles of the schedulers it started, by slot. */
static BackgroundWorkerHandle *scheduler_handles[WF_MAX_DATABASES];

static SPIPlanPtr task_retry_plan;
static SPIPlanPtr deadline_plan;
static SPIPlanPtr notices_plan;
static SPIPlanPtr next_due_plan;

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

/* Start the scheduler of one database. */
static void
start_scheduler(WfDbSlot *slot, int slotno, const char *dbname)
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
	snprintf(worker.bgw_name, BGW_MAXLEN, "workflow scheduler %s", dbname);
	snprintf(worker.bgw_type, BGW_MAXLEN, "workflow scheduler");
	worker.bgw_main_arg = ObjectIdGetDatum(slot->dboid);
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
				 errhint("Raise max_worker_processes.")));
		return;
	}
	scheduler_handles[slotno] = handle;
}

/* Is the scheduler the launcher started for this slot still alive? */
static bool
scheduler_alive(int slotno)
{
	pid_t		pid;

	if (scheduler_handles[slotno] == NULL)
		return false;
	if (GetBackgroundWorkerPid(scheduler_handles[slotno], &pid) != BGWH_STOPPED)
		return true;
	pfree(scheduler_handles[slotno]);
	scheduler_handles[slotno] = NULL;
	return false;
}

/*
 * One pass of the launcher: a scheduler for every database that may have
 * the extension; free the slots of databases that are gone.
 */
static void
launcher_pass(void)
{
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	TimestampTz now = GetCurrentTimestamp();
	WfDbSlot   *slots = wf_db_slots();
	bool		seen[WF_MAX_DATABASES] = {0};
	int			i;

	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	LWLockAcquire(wf_shared_lock(), LW_EXCLUSIVE);
	while (HeapTupleIsValid(tup = heap_getnext(scan, ForwardScanDirection)))
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);
		WfDbSlot   *slot;

		if (!db->datallowconn || db->datistemplate)
			continue;
		slot = wf_db_slot(db->oid);
		if (slot == NULL && (slot = wf_db_slot(InvalidOid)) != NULL)
		{
			memset(slot, 0, sizeof(WfDbSlot));
			slot->dboid = db->oid;
		}
		if (slot == NULL)
			continue;
		seen[slot - slots] = true;
		/*
		 * A scheduler started by an earlier launcher (this one was
		 * restarted) has no handle here, but has published its pid.
		 */
		if (!slot->no_extension && slot->paused_until <= now && slot->pid == 0 &&
			!scheduler_alive(slot - slots))
			start_scheduler(slot, slot - slots, NameStr(db->datname));
	}
	for (i = 0; i < WF_MAX_DATABASES; i++)
		if (!seen[i] && OidIsValid(slots[i].dboid) && slots[i].pid == 0 && !scheduler_alive(i))
			memset(&slots[i], 0, sizeof(WfDbSlot));
	LWLockRelease(wf_shared_lock());
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	PopActiveSnapshot();
	CommitTransactionCommand();
}

/* Main loop of the launcher. */
void
wf_launcher_main(Datum arg)
{
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	wf_set_launcher_latch(MyLatch);

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
	if (slot && slot->pid == MyProcPid)
	{
		slot->latch = NULL;
		slot->pid = 0;
		slot->no_extension = DatumGetBool(arg) || slot->no_extension;
	}
	LWLockRelease(wf_shared_lock());
}

/* Publish this scheduler's latch, so commits can wake it. */
static void
scheduler_attach(void)
{
	WfDbSlot   *slot;

	LWLockAcquire(wf_shared_lock(), LW_EXCLUSIVE);
	slot = wf_db_slot(MyDatabaseId);
	if (slot)
	{
		slot->latch = MyLatch;
		slot->pid = MyProcPid;
	}
	LWLockRelease(wf_shared_lock());
	before_shmem_exit(scheduler_exit, BoolGetDatum(false));
}

/* Tell the launcher this database has no extension, and exit. */
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
 * Lock each run that sql ($1 = now, $2 = batch) selects and apply act to
 * it (only to open runs, if open_only); runs another session holds are
 * left for the next tick.
 */
static int
tick_due_runs(SPIPlanPtr *plan, const char *sql, TimestampTz now, int batch,
			  bool open_only, void (*act) (WfRun *run))
{
	Oid			types[2] = {TIMESTAMPTZOID, INT4OID};
	Datum		values[2] = {TimestampTzGetDatum(now), Int32GetDatum(batch)};
	int			n,
				i,
				done = 0;
	char	  **wfids;
	Datum	   *runids;

	n = wf_exec(plan, sql, 2, types, values, NULL, 0);
	wf_copy_run_ids(n, 1, &wfids, &runids);
	for (i = 0; i < n; i++)
	{
		WfRun	   *run = wf_lock_run_by_id(wfids[i], runids[i], true);

		if (run == NULL || (open_only && !wf_run_is_open(run)))
			continue;
		act(run);
		done++;
	}
	return done;
}

/*
 * Deliver the outcomes of children that closed while their parent was busy
 * (a closed parent just drops them).
 */
static void
deliver_notices(WfRun *parent)
{
	(void) wf_deliver_child_notices(parent);
}

/* A run past its execution_timeout ends as timed_out. */
static void
time_out_run(WfRun *run)
{
	wf_terminate_run(run, "WorkflowTimedOut", "timed_out", "execution_timeout");
}

/* One batch of everything that is due at now; returns how much was done. */
int
wf_tick_all(TimestampTz now, int batch)
{
	int			done = wf_tick_timers(now, batch) + wf_tick_tasks(now, batch);

	/* Failed workflow tasks whose retry time has come. */
	done += tick_due_runs(&task_retry_plan,
						  "SELECT workflow_id, run_id FROM workflow.workflows"
						  " WHERE task_retry_at <= $1 ORDER BY task_retry_at LIMIT $2",
						  now, batch, true, wf_advance);
	done += tick_due_runs(&notices_plan,
						  "SELECT DISTINCT n.workflow_id, n.run_id FROM workflow.child_notices n"
						  " JOIN workflow.workflows w USING (workflow_id, run_id)"
						  " WHERE n.created_at <= $1 LIMIT $2",
						  now, batch, false, deliver_notices);
	done += tick_due_runs(&deadline_plan,
						  "SELECT workflow_id, run_id FROM workflow.workflows"
						  " WHERE execution_deadline <= $1 AND closed_at IS NULL"
						  "   AND execution_deadline IS NOT NULL"
						  " ORDER BY execution_deadline LIMIT $2",
						  now, batch, true, time_out_run);
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
 * One transaction of the scheduler: notifications, one batch of due work.
 * Returns the time to sleep, in ms (0 = go on at once); exits the process
 * when the extension is gone.
 */
static long
scheduler_iteration(void)
{
	WfInternal	save;
	TimestampTz now;
	TimestampTz due;
	int			done;
	bool		overflow;
	long		sleep_ms = wf_max_naptime_ms;

	/* Awake: any commit from now on that makes something due sets our latch. */
	wf_set_next_wakeup(0);
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
	pgstat_report_activity(STATE_RUNNING, "workflow scheduler: due work");
	wf_enter_internal(&save);
	(void) wf_send_pending_notifies(&overflow);
	if (overflow || announce_all)
		(void) wf_notify_all_ready_queues();
	announce_all = false;
	now = GetCurrentTimestamp();
	done = wf_tick_all(now, wf_batch_size);
	due = next_due();
	wf_leave_internal(&save);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);

	if (done > 0)
		return 0;
	if (due != 0)
	{
		long		secs;
		int			usecs;

		TimestampDifference(GetCurrentTimestamp(), due, &secs, &usecs);
		sleep_ms = Min(sleep_ms, secs * 1000 + (usecs + 999) / 1000);
		/* Overdue but nothing done: another session holds it; retry soon. */
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

/* Main loop of a database's scheduler. */
void
wf_scheduler_main(Datum arg)
{
	MemoryContext loop_cxt;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
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
		}
		old = MemoryContextSwitchTo(loop_cxt);
		/* A standby does nothing until it is promoted. */
		if (!RecoveryInProgress())
		{
			if (announce_all || wf_scheduler_needs_pass(GetCurrentTimestamp()))
				sleep_ms = scheduler_iteration();
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

/* Stop the scheduler of a database (by name) and keep it stopped a while. */
static void
stop_scheduler_of(const char *dbname)
{
	Oid			dboid;
	WfDbSlot   *slot;
	pid_t		pid = 0;
	int			waited;

	if (dbname == NULL || wf_shared_state() == NULL)
		return;
	dboid = get_database_oid(dbname, true);
	if (!OidIsValid(dboid))
		return;
	for (waited = 0; waited <= STOP_WAIT_MS; waited += 10)
	{
		LWLockAcquire(wf_shared_lock(), LW_EXCLUSIVE);
		slot = wf_db_slot(dboid);
		if (slot)
		{
			slot->paused_until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), PAUSE_MS);
			pid = slot->pid;
		}
		LWLockRelease(wf_shared_lock());
		if (pid == 0)
			return;
		if (waited == 0)
			(void) kill(pid, SIGTERM);
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
