/*-------------------------------------------------------------------------
 * ops.c
 *	  Operating runs: workflow.describe, workflow.await_result,
 *	  workflow.retry_now.  (workflow.stats is SQL: a SECURITY DEFINER
 *	  function of aggregates behind a view, in the install script.)
 *
 * await_result waits on a condition variable that the commit closing the
 * run broadcasts (core/await.c), never in a sleep loop -- except where the
 * run tables are distributed (Citus), where that commit may run on another
 * node and the wait is re-checked every AWAIT_DISTRIBUTED_RECHECK_MS.  It checks the run
 * with a fresh snapshot each time and keeps no lock between checks
 * (model/ops.c), follows continue-as-new to the next run, and is
 * cancellable (statement_timeout, pg_cancel_backend) while it sleeps.
 * A reset (reset_workflow) is followed as continue-as-new is: the caller
 * awaits the workflow's outcome, and the run a reset replaced has none.
 * The statement's own snapshot stays registered while it waits, as it
 * does for any statement (pg_sleep too): bound the wait with a timeout on
 * a busy server.  Inside REPEATABLE READ or SERIALIZABLE it is refused:
 * such a transaction must not see the commit it waits for.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "api/api.h"

PG_FUNCTION_INFO_V1(wf_describe);
PG_FUNCTION_INFO_V1(wf_await_result);
PG_FUNCTION_INFO_V1(wf_retry_now);

/* workflow.describe(workflow_id): where the latest run stopped, and why. */
Datum
wf_describe(PG_FUNCTION_ARGS)
{
	char	   *workflow_id = wf_text_arg(fcinfo, 0, "workflow_id");
	WfInternal	save;
	Jsonb	   *described;

	wf_check_name(workflow_id, "workflow_id");
	(void) wf_api_enter(&save, "workflow.describe()");
	described = wf_describe_run(workflow_id, save.saved_userid);
	wf_api_leave(&save);
	PG_RETURN_JSONB_P(described);
}

/*
 * Where the run tables are distributed (Citus), the commit that closes a
 * run wakes the waiters of the node it ran on only: a caller connected to
 * another node (the coordinator, say) checks again after at most this long.
 */
#define AWAIT_DISTRIBUTED_RECHECK_MS 500

/* An unknown id, or one the caller may not see: the same error. */
static void
unknown_workflow(const char *workflow_id)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("workflow \"%s\" does not exist", workflow_id),
			 errhint("Check the id in workflow.workflows: a role sees only the runs of the roles it is a member of.")));
}

/* The awaited run ended other than completed: WF013 with its status and error. */
static void
raise_not_completed(const char *workflow_id, WfRunEnding *run)
{
	ereport(ERROR,
			(errcode(ERRCODE_WF_NOT_COMPLETED),
			 errmsg("workflow \"%s\" did not complete: its run ended with status \"%s\"",
					workflow_id, run->status),
			 run->error ?
			 errdetail("Run %s ended with error %s.", wf_uuid_out(run->run_id),
					   JsonbToCString(NULL, &run->error->root, VARSIZE(run->error))) :
			 errdetail("Run %s ended without an error.", wf_uuid_out(run->run_id)),
			 errhint("See workflow.describe('%s') and the run's history.", workflow_id)));
}

/* Milliseconds left until deadline (0 = none: -1, wait without end). */
static long
ms_left(TimestampTz deadline)
{
	if (deadline == 0)
		return -1;
	return (long) TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
}

/* The deadline of a timeout argument (0 when there is none). */
static TimestampTz
await_deadline(FunctionCallInfo fcinfo)
{
	Interval   *timeout;

	if (PG_ARGISNULL(1))
		return 0;
	timeout = PG_GETARG_INTERVAL_P(1);
	wf_check_interval(timeout, "timeout");
	return DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
												   TimestampTzGetDatum(GetCurrentTimestamp()),
												   IntervalPGetDatum(timeout)));
}

/* Are two uuid Datums the same run? */
static bool
same_run(Datum a, Datum b)
{
	return memcmp(DatumGetUUIDP(a), DatumGetUUIDP(b), UUID_LEN) == 0;
}

/*
 * Wait for the run followed (*run: the latest run of the id when the call
 * began, then its successor after each continue-as-new or reset) to end; false on
 * timeout.  *run holds its ending.  Each check after a wake-up reads into
 * a context reset before the next one, so that a waiter woken often (by
 * other runs of its bucket) does not grow.
 */
static bool
wait_for_ending(const char *workflow_id, Oid caller, WfRunEnding *run, TimestampTz deadline)
{
	bool		distributed = wf_runs_distributed();
	MemoryContext outer = CurrentMemoryContext;
	MemoryContext check_cxt = AllocSetContextCreate(outer, "await_result check",
													 ALLOCSET_SMALL_SIZES);
	Datum		target = datumCopy(run->run_id, false, UUID_LEN);
	WfRunEnding latest;

	for (;;)
	{
		long		left;

		if (!run->open && strcmp(run->status, "completed") == 0)
			break;
		if (!run->open)
		{
			WfRunEnding ended = *run;

			/*
			 * Follow the run's successor: the next run of a continue-as-new,
			 * or the new run of a reset (reset_workflow terminates the run
			 * it replaces).  Either was created by the transaction that
			 * closed this run, so it started (created_at: that
			 * transaction's start) no later than this run closed.
			 */
			wf_read_run_endings(workflow_id, (Datum) 0, run, &latest);
			if (!latest.found || !is_member_of_role(caller, latest.owner))
				unknown_workflow(workflow_id);
			if (same_run(latest.run_id, target) ||
				(strcmp(ended.status, "continued_as_new") != 0 &&
				 latest.created_at > ended.closed_at))
			{
				*run = ended;
				break;
			}
			*run = latest;
			target = datumCopy(run->run_id, false, UUID_LEN);
			continue;
		}
		left = ms_left(deadline);
		if (left == 0)
		{
			MemoryContextDelete(check_cxt);
			return false;
		}
		if (distributed && (left < 0 || left > AWAIT_DISTRIBUTED_RECHECK_MS))
			left = AWAIT_DISTRIBUTED_RECHECK_MS;
		wf_await_sleep(left);
		MemoryContextReset(check_cxt);
		MemoryContextSwitchTo(check_cxt);
		wf_read_run_endings(workflow_id, target, run, &latest);
		MemoryContextSwitchTo(outer);
		if (!run->found)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("the run of workflow \"%s\" that was awaited no longer exists", workflow_id),
					 errhint("It was deleted (retention, workflow.purge or DROP ROLE) while awaited.")));
	}
	/* Keep the ending beyond the check context. */
	run->status = pstrdup(run->status);
	run->result = run->result ? DatumGetJsonbPCopy(JsonbPGetDatum(run->result)) : NULL;
	run->error = run->error ? DatumGetJsonbPCopy(JsonbPGetDatum(run->error)) : NULL;
	run->run_id = datumCopy(run->run_id, false, UUID_LEN);
	MemoryContextDelete(check_cxt);
	return true;
}

/*
 * workflow.await_result(workflow_id, timeout): the result of the latest
 * run once it completes (following continue-as-new and resets); WF013 if it ends
 * otherwise; NULL when timeout passes first.
 */
Datum
wf_await_result(PG_FUNCTION_ARGS)
{
	char	   *workflow_id = wf_text_arg(fcinfo, 0, "workflow_id");
	TimestampTz deadline;
	WfInternal	save;
	WfRunEnding run;
	WfRunEnding unused;
	bool		ended;
	Jsonb	   *result = NULL;

	wf_check_name(workflow_id, "workflow_id");
	deadline = await_deadline(fcinfo);
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_STATE),
				 errmsg("workflow.await_result() cannot wait inside a REPEATABLE READ or SERIALIZABLE transaction"),
				 errdetail("The transaction's snapshot would never show the commit that closes the run."),
				 errhint("Call it in a READ COMMITTED transaction (the default), or look with workflow.describe() without waiting.")));
	(void) wf_api_enter(&save, "workflow.await_result()");
	if (!wf_await_available())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("workflow.await_result() needs the workflow library preloaded"),
				 errhint("Add workflow to shared_preload_libraries and restart the server.")));

	/* Counted in before the first check, so that no closing commit is missed. */
	wf_await_enter(workflow_id);
	wf_read_run_endings(workflow_id, (Datum) 0, &unused, &run);
	if (!run.found || !is_member_of_role(save.saved_userid, run.owner))
		unknown_workflow(workflow_id);
	if (run.open && run.mine)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_STATE),
				 errmsg("workflow.await_result() would wait for its own transaction"),
				 errdetail("This transaction started or changed the open run of workflow \"%s\": nobody else can advance it before it commits.",
						   workflow_id),
				 errhint("Commit first, then await the result in a new transaction.")));
	ended = wait_for_ending(workflow_id, save.saved_userid, &run, deadline);
	wf_await_leave();
	if (ended && strcmp(run.status, "completed") != 0)
		raise_not_completed(workflow_id, &run);
	/* The result outlives the frame's SPI memory. */
	if (ended && run.result != NULL)
		result = (Jsonb *) SPI_datumTransfer(JsonbPGetDatum(run.result), false, -1);
	wf_api_leave(&save);

	if (result == NULL)
		PG_RETURN_NULL();
	PG_RETURN_JSONB_P(result);
}

/*
 * workflow.retry_now(workflow_id): make every backing-off item of the
 * open run due now, for its owner; how many.
 */
Datum
wf_retry_now(PG_FUNCTION_ARGS)
{
	char	   *workflow_id = wf_text_arg(fcinfo, 0, "workflow_id");
	WfInternal	save;
	WfRun	   *run;
	int			n;

	wf_check_name(workflow_id, "workflow_id");
	(void) wf_api_enter(&save, "workflow.retry_now()");
	run = wf_lock_run(workflow_id, true, save.saved_userid);
	wf_check_run_access(run, save.saved_userid);
	n = wf_retry_now_items(run);
	wf_api_leave(&save);
	PG_RETURN_INT32(n);
}
