/*-------------------------------------------------------------------------
 * launcher.c
 *	  The launcher, and the utility hook every backend runs.
 *
 * The launcher (a static background worker, one per cluster, connected
 * to no database) keeps a pool of schedulers (scheduler.c) running for
 * every database where the extension is created.  It learns of such a
 * database from a slot in shared memory, taken when CREATE EXTENSION
 * commits; databases without a slot are probed (a scheduler started for
 * them exits at once if it finds no extension), a few at a time.
 *
 * The utility hook stops a database's schedulers before the commands that
 * need the database without sessions (DROP DATABASE, ALTER DATABASE ...
 * RENAME, CREATE DATABASE ... TEMPLATE), and keeps workflow runs
 * consistent with DROP ROLE, DROP OWNED and REASSIGN OWNED.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "catalog/namespace.h"
#include "catalog/pg_database.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "commands/extension.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"

#include "bgw/bgw.h"

int			wf_launcher_naptime_ms = 10000;

PGDLLEXPORT void wf_launcher_main(Datum arg);

/* How long DROP DATABASE waits for a scheduler to exit. */
#define STOP_WAIT_MS 10000
/* How long the launcher leaves a database alone after such a command. */
#define PAUSE_MS 15000
/* Databases the launcher probes for the extension at once. */
#define MAX_PROBES 2

static ProcessUtility_hook_type prev_utility_hook = NULL;

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

/* Is this ALTER EXTENSION workflow UPDATE? */
static bool
is_update_workflow_extension(Node *stmt)
{
	return IsA(stmt, AlterExtensionStmt) &&
		strcmp(((AlterExtensionStmt *) stmt)->extname, "workflow") == 0;
}

/*
 * Is this a COPY into a table of the extension's schema (a restore of a
 * dump), outside CREATE EXTENSION?
 */
static bool
is_copy_into_workflow(Node *stmt)
{
	CopyStmt   *copy = (CopyStmt *) stmt;
	Oid			relid;

	if (!IsA(stmt, CopyStmt) || !copy->is_from || copy->relation == NULL || creating_extension)
		return false;
	relid = RangeVarGetRelid(copy->relation, NoLock, true);
	return OidIsValid(relid) &&
		OidIsValid(get_extension_oid("workflow", true)) &&
		get_rel_namespace(relid) == get_namespace_oid("workflow", true);
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

/* How many rows the count query sql ($1: the role) finds. */
static int64
owned_count(SPIPlanPtr *plan, Oid role, const char *sql)
{
	Datum		values[1] = {ObjectIdGetDatum(role)};
	bool		isnull;

	wf_exec(plan, sql, 1, (Oid[]) {OIDOID}, values, NULL, 1);
	return DatumGetInt64(wf_get_datum(0, 1, &isnull));
}

/*
 * DROP ROLE refuses while the role owns open runs or schedules in this
 * database (runs in other databases, which this backend cannot see, are
 * terminated by the engine when it next advances them: see wf_advance).  Once the drop may
 * go on, the role's queue grants here go with it, so that a later role
 * with the same OID inherits nothing.
 */
static void
check_drop_role(DropRoleStmt *stmt)
{
	static SPIPlanPtr open_plan;
	static SPIPlanPtr schedules_plan;
	static SPIPlanPtr grants_plan;
	List	   *oids = role_oids(stmt->roles);
	ListCell   *lc;
	WfInternal	save;

	if (oids == NIL || !OidIsValid(get_extension_oid("workflow", true)))
		return;
	wf_spi_enter(&save);
	foreach(lc, oids)
	{
		Oid			role = lfirst_oid(lc);
		Datum		values[1] = {ObjectIdGetDatum(role)};
		int64		n;

		n = owned_count(&open_plan, role,
						"SELECT count(*) FROM workflow.workflows WHERE owner = $1 AND closed_at IS NULL");
		if (n > 0)
			ereport(ERROR,
					(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
					 errmsg("role \"%s\" cannot be dropped because it owns open workflow runs",
							GetUserNameFromId(role, false)),
					 errdetail("It owns " INT64_FORMAT " running workflow runs in database \"%s\".",
							   n, get_database_name(MyDatabaseId)),
					 errhint("Use REASSIGN OWNED to give them to another role, DROP OWNED to terminate them, "
							 "or wait for them to end.")));
		n = owned_count(&schedules_plan, role,
						"SELECT count(*) FROM workflow.schedule_state WHERE owner = $1");
		if (n > 0)
			ereport(ERROR,
					(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
					 errmsg("role \"%s\" cannot be dropped because it owns workflow schedules",
							GetUserNameFromId(role, false)),
					 errdetail("It owns " INT64_FORMAT " schedules in database \"%s\".",
							   n, get_database_name(MyDatabaseId)),
					 errhint("Use REASSIGN OWNED to give them to another role, DROP OWNED to delete them, "
							 "or workflow.delete_schedule().")));
		wf_exec(&grants_plan, "DELETE FROM workflow.queue_grants WHERE grantee = $1",
				1, (Oid[]) {OIDOID}, values, NULL, 0);
	}
	wf_spi_leave(&save);
}

/*
 * After REASSIGN OWNED (to is valid) or DROP OWNED (it is not) of roles in
 * this database: their workflow runs, types and schedules move to the new
 * owner, or their schedules are deleted and their open runs terminated, as
 * the other objects they own are reassigned or dropped.
 */
static void
after_owned_change(List *specs, RoleSpec *to)
{
	static SPIPlanPtr reassign_runs_plan;
	static SPIPlanPtr reassign_types_plan;
	static SPIPlanPtr reassign_schedules_plan;
	static SPIPlanPtr drop_schedules_plan;
	static SPIPlanPtr open_runs_plan;
	List	   *oids = role_oids(specs);
	ListCell   *lc;
	WfInternal	save;
	Oid			newowner = to ? get_rolespec_oid(to, false) : InvalidOid;

	if (oids == NIL || !OidIsValid(get_extension_oid("workflow", true)))
		return;
	(void) wf_api_enter(&save, "DROP OWNED");
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
			wf_exec(&reassign_schedules_plan,
					"UPDATE workflow.schedule_state SET owner = $2 WHERE owner = $1",
					2, (Oid[]) {OIDOID, OIDOID}, values, NULL, 0);
			continue;
		}
		wf_exec(&drop_schedules_plan, "DELETE FROM workflow.schedule_state WHERE owner = $1",
				1, (Oid[]) {OIDOID}, values, NULL, 0);
		n = wf_exec(&open_runs_plan,
					"SELECT workflow_id, run_id FROM workflow.workflows"
					" WHERE owner = $1 AND closed_at IS NULL",
					1, (Oid[]) {OIDOID}, values, NULL, 0);
		wf_copy_run_ids(n, 1, &wfids, &runids);
		for (i = 0; i < n; i++)
		{
			WfRun	   *run = wf_lock_run_by_id(wfids[i], runids[i], false);

			if (run != NULL && wf_run_is_open(run))
				wf_terminate_run(run, WF_EV_WORKFLOW_TERMINATED, WF_RUN_TERMINATED,
								 psprintf("DROP OWNED BY %s", GetUserNameFromId(run->owner, false)));
		}
	}
	wf_api_leave(&save);
}

/*
 * Stop a database's scheduler before commands that need the database
 * free; wake the launcher after CREATE EXTENSION workflow commits, and
 * the schedulers after ALTER EXTENSION workflow UPDATE (the schema they
 * waited for); hold them off while a session restores the extension's
 * tables; keep workflow runs consistent with DROP ROLE, DROP OWNED and
 * REASSIGN OWNED.
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
	else if (is_update_workflow_extension(stmt))
		wf_wake_scheduler();
	else if (is_copy_into_workflow(stmt))
		wf_hold_schedulers_for_restore();

	if (prev_utility_hook)
		prev_utility_hook(pstmt, queryString, readOnlyTree, context, params,
						  queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);

	/* The installed version may have changed within this transaction. */
	if (is_create_workflow_extension(stmt) || is_update_workflow_extension(stmt) ||
		(IsA(stmt, DropStmt) && ((DropStmt *) stmt)->removeType == OBJECT_EXTENSION))
		wf_forget_schema_version();
	else if (IsA(stmt, ReassignOwnedStmt))
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
