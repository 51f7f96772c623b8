/*-------------------------------------------------------------------------
 * sandbox.c
 *	  What workflow code may and may not do to the session that runs it.
 *
 * Workflow code runs inside whichever session advances its run: a
 * client's start_workflow or signal_workflow, a worker's
 * complete_activity, the scheduler.  That session belongs to someone else
 * (often a superuser or a shared worker), so nothing the code does may
 * outlive its attempt there:
 *
 *	 - the code runs as the run's owner, in a security-restricted operation
 *	   (no SET ROLE, no LISTEN, no cursors WITH HOLD, no temporary tables);
 *	 - every setting it changes, with SET, SET LOCAL or set_config(), is
 *	   undone when the attempt ends, whatever the outcome: the attempt
 *	   runs at a GUC nest level of its own, closed as if it had aborted;
 *	 - what would stay in the session otherwise is refused: advisory locks
 *	   (code that replays has nothing to lock; a session-level lock would
 *	   outlive the attempt: the backend's own lock list is compared before
 *	   and after, and what the attempt took is released), prepared
 *	   statements, LOAD, and objects created in the temporary schema;
 *	 - the client, worker and administrative functions refuse to run
 *	   (WF005): code acts through its own commands (activity, signal
 *	   waits, child workflows), never on other runs directly;
 *	 - an attempt may take at most workflow.task_timeout; past it the
 *	   statement is cancelled and the attempt is a failed workflow task.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/guc.h"
#include "utils/timeout.h"

#include "core/core.h"

char	   *wf_code_search_path = NULL;
int			wf_task_timeout_ms = 10000;

/* The timeout that ends an attempt, registered on first use. */
static TimeoutId task_timeout_id = MAX_TIMEOUTS;
static volatile sig_atomic_t task_timeout_fired = false;

/* Between wf_sandbox_enter and the end of the attempt (leave or disarm). */
static bool in_workflow_code = false;

/*
 * The advisory locks this backend holds (tag and held modes), read from
 * its own list of lock entries in shared memory: advisory locks never
 * take the fast path, so they are all there.  Returns how many, in a
 * palloc'd array.
 */
static int
my_advisory_locks(WfHeldLock **out)
{
	int			n = 0,
				size = 4;
	int			i;

	*out = palloc(sizeof(WfHeldLock) * size);
	for (i = 0; i < NUM_LOCK_PARTITIONS; i++)
	{
		LWLock	   *partition = LockHashPartitionLockByIndex(i);
		PROCLOCK   *proclock;
		WF_PROCLOCK_ITER_DECL;

		LWLockAcquire(partition, LW_SHARED);
		WF_FOREACH_MY_PROCLOCK(i, proclock)
		{
			LOCK	   *lock = proclock->tag.myLock;

			if (lock->tag.locktag_type != LOCKTAG_ADVISORY || proclock->holdMask == 0)
				continue;
			if (n == size)
				*out = repalloc(*out, sizeof(WfHeldLock) * (size *= 2));
			(*out)[n].tag = lock->tag;
			(*out)[n].mask = proclock->holdMask;
			n++;
		}
		LWLockRelease(partition);
	}
	return n;
}

/* The modes of tag held in locks[0..n), 0 if none. */
static LOCKMASK
held_modes(WfHeldLock *locks, int n, const LOCKTAG *tag)
{
	int			i;

	for (i = 0; i < n; i++)
		if (memcmp(&locks[i].tag, tag, sizeof(LOCKTAG)) == 0)
			return locks[i].mask;
	return 0;
}

/*
 * Did the attempt take advisory locks (modes not held when it began)?
 * With release, let go of those still held: called once the attempt's
 * subtransaction has been rolled back, when whatever is left is a
 * session-level lock.
 */
bool
wf_sandbox_took_locks(WfSandbox *sb, bool release)
{
	WfHeldLock *now;
	int			n = my_advisory_locks(&now);
	bool		took = false;
	int			i;

	for (i = 0; i < n; i++)
	{
		LOCKMASK	added = now[i].mask & ~held_modes(sb->locks, sb->nlocks, &now[i].tag);
		LOCKMODE	mode;

		if (added == 0)
			continue;
		took = true;
		for (mode = 1; release && mode <= MaxLockMode; mode++)
			if (added & LOCKBIT_ON(mode))
				(void) LockRelease(&now[i].tag, mode, true);
	}
	return took;
}

/* The workflow task took longer than workflow.task_timeout. */
static void
task_timeout_handler(void)
{
	task_timeout_fired = true;
	QueryCancelPending = true;
	InterruptPending = true;
	SetLatch(MyLatch);
}

/*
 * Start an attempt of workflow code owned by owner: switch to the owner in
 * a security-restricted operation, open a GUC nest level with the pinned
 * settings, and arm the task timeout.
 */
void
wf_sandbox_enter(WfSandbox *sb, Oid owner)
{
	GetUserIdAndSecContext(&sb->saved_userid, &sb->saved_sec_context);
	SetUserIdAndSecContext(owner, sb->saved_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	sb->guc_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", wf_code_search_path,
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	/* The engine's own planner setting is not the code's. */
	(void) set_config_option("enable_seqscan",
							 GetConfigOptionResetString("enable_seqscan"),
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);

	sb->nlocks = my_advisory_locks(&sb->locks);
	if (task_timeout_id == MAX_TIMEOUTS)
		task_timeout_id = RegisterTimeout(USER_TIMEOUT, task_timeout_handler);
	task_timeout_fired = false;
	if (wf_task_timeout_ms > 0)
		enable_timeout_after(task_timeout_id, wf_task_timeout_ms);
	in_workflow_code = true;
}

/*
 * End an attempt that returned: undo every setting the code changed (as
 * an abort would, so that SET and set_config(..., false) go too), disarm
 * the timeout, switch back to the caller.
 */
void
wf_sandbox_leave(WfSandbox *sb)
{
	wf_sandbox_disarm();
	AtEOXact_GUC(false, sb->guc_nestlevel);
	SetUserIdAndSecContext(sb->saved_userid, sb->saved_sec_context);
}

/*
 * Disarm the task timeout (also after an error, when the rollback of the
 * attempt's subtransaction undoes the settings).  A cancel the timeout
 * requested and nobody acted on yet is withdrawn.
 */
void
wf_sandbox_disarm(void)
{
	in_workflow_code = false;
	if (task_timeout_id == MAX_TIMEOUTS)
		return;
	disable_timeout(task_timeout_id, false);
	if (task_timeout_fired)
		QueryCancelPending = false;
}

/* Did the attempt that just ended run past workflow.task_timeout? */
bool
wf_sandbox_timed_out(void)
{
	return task_timeout_fired;
}

/* Is workflow code running in this backend right now? */
bool
wf_in_workflow_code(void)
{
	return in_workflow_code;
}

/* Refuse a client, worker or administrative function in workflow code. */
void
wf_refuse_in_workflow_code(const char *function)
{
	if (wf_in_workflow_code())
		ereport(ERROR,
				(errcode(ERRCODE_WF_NOT_IN_WORKFLOW),
				 errmsg("%s cannot be called from workflow code", function),
				 errdetail("Workflow code acts only through its own commands, which are recorded and replayed."),
				 errhint("Use workflow.child_workflow() to run another workflow, or an activity to act "
						 "on other runs.")));
}

/* Is a name list (or a RangeVar's schema) resolved into the temporary schema? */
static bool
names_in_temp_schema(List *names)
{
	char	   *objname;

	return isTempNamespace(QualifiedNameGetCreationNamespace(names, &objname));
}

/* Does this utility statement create an object in the temporary schema? */
static bool
creates_temp_object(Node *stmt)
{
	switch (nodeTag(stmt))
	{
		case T_CreateFunctionStmt:
			return names_in_temp_schema(((CreateFunctionStmt *) stmt)->funcname);
		case T_DefineStmt:
			return names_in_temp_schema(((DefineStmt *) stmt)->defnames);
		case T_CreateDomainStmt:
			return names_in_temp_schema(((CreateDomainStmt *) stmt)->domainname);
		case T_CreateEnumStmt:
			return names_in_temp_schema(((CreateEnumStmt *) stmt)->typeName);
		case T_CreateRangeStmt:
			return names_in_temp_schema(((CreateRangeStmt *) stmt)->typeName);
		case T_CompositeTypeStmt:
			return isTempNamespace(RangeVarGetCreationNamespace(((CompositeTypeStmt *) stmt)->typevar));
		default:
			return false;
	}
}

/*
 * Called for every utility statement: in workflow code, refuse those whose
 * effect would stay in the session after the attempt.  (Temporary tables,
 * views and sequences are refused by PostgreSQL itself in a
 * security-restricted operation.)
 */
void
wf_sandbox_check_utility(Node *stmt)
{
	const char *what = NULL;

	if (!wf_in_workflow_code())
		return;
	if (IsA(stmt, PrepareStmt) || IsA(stmt, DeallocateStmt))
		what = "PREPARE and DEALLOCATE";
	else if (IsA(stmt, LoadStmt))
		what = "LOAD";
	else if (creates_temp_object(stmt))
		what = "objects in the temporary schema";
	if (what)
		ereport(ERROR,
				(errcode(ERRCODE_WF_NOT_IN_WORKFLOW),
				 errmsg("workflow code cannot use %s", what),
				 errdetail("It would outlive the attempt in the session that advanced the run."),
				 errhint("Keep such state in tables, or in the activities' workers.")));
}
