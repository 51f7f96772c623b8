/*-------------------------------------------------------------------------
 * worker.c
 *	  The worker protocol, as SQL: claim, complete, fail and heartbeat
 *	  activity tasks, the queue grants that say who may, and the queue
 *	  limits that say how many at once.
 *
 * Each function checks its arguments, enters the api frame and calls the
 * task rules of the model (model/tasks.c); the frame's exit advances the
 * runs a report woke, so that a completion and the workflow task it
 * triggers commit together.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/builtins.h"

#include "api/api.h"

PG_FUNCTION_INFO_V1(wf_claim_activities);
PG_FUNCTION_INFO_V1(wf_complete_activity);
PG_FUNCTION_INFO_V1(wf_complete_and_claim);
PG_FUNCTION_INFO_V1(wf_fail_activity);
PG_FUNCTION_INFO_V1(wf_heartbeat_activity);
PG_FUNCTION_INFO_V1(wf_grant_queue);
PG_FUNCTION_INFO_V1(wf_revoke_queue);
PG_FUNCTION_INFO_V1(wf_configure_queue);
PG_FUNCTION_INFO_V1(wf_queue_claims_last_minute);

/* The worker_id argument: optional. */
static char *
worker_arg(FunctionCallInfo fcinfo, int argno)
{
	return PG_ARGISNULL(argno) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

/*
 * The workflow_id of a report's task: the optional last argument of the
 * overloads that take it (argno), NULL when not given or NULL.
 */
static char *
run_arg(FunctionCallInfo fcinfo, int argno)
{
	char	   *workflow_id;

	if (PG_NARGS() <= argno || PG_ARGISNULL(argno))
		return NULL;
	workflow_id = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	wf_check_text(workflow_id, "workflow_id", WF_MAX_PAYLOAD);
	return workflow_id;
}

/* workflow.claim_activities(queue, worker_id, max_tasks) */
Datum
wf_claim_activities(PG_FUNCTION_ARGS)
{
	char	   *queue = wf_text_arg(fcinfo, 0, "queue");
	char	   *worker = worker_arg(fcinfo, 1);
	int32		max_tasks = wf_int32_arg(fcinfo, 2, "max_tasks");
	WfInternal	save;
	Oid			caller;
	bool		only_claims;

	only_claims = wf_claim_starts_clean();
	caller = wf_api_enter(&save, "workflow.claim_activities()");
	wf_check_claim_args(queue, worker, max_tasks);
	InitMaterializedSRF(fcinfo, 0);
	wf_claim_tasks((ReturnSetInfo *) fcinfo->resultinfo, caller, queue, worker, max_tasks);
	wf_api_leave(&save);
	wf_claim_done(only_claims);
	return (Datum) 0;
}

/* workflow.complete_activity(task_id, result[, workflow_id]) */
Datum
wf_complete_activity(PG_FUNCTION_ARGS)
{
	int64		task_id = wf_int64_arg(fcinfo, 0, "task_id");
	Jsonb	   *result = wf_jsonb_arg(fcinfo, 1, NULL);
	char	   *workflow_id = run_arg(fcinfo, 2);
	WfInternal	save;
	Oid			caller;

	caller = wf_api_enter(&save, "workflow.complete_activity()");
	wf_check_payload(result, "activity result");
	wf_complete_task(task_id, workflow_id, result, caller);
	wf_api_leave(&save);
	PG_RETURN_VOID();
}

/*
 * workflow.complete_and_claim(task_id, result, queue, worker_id, max_tasks[, workflow_id]):
 * complete_activity, then claim_activities, in one call and one commit --
 * the run is advanced before the claim, so the next task its step creates
 * is handed to the worker that finished it (eager dispatch).
 */
Datum
wf_complete_and_claim(PG_FUNCTION_ARGS)
{
	int64		task_id = wf_int64_arg(fcinfo, 0, "task_id");
	Jsonb	   *result = wf_jsonb_arg(fcinfo, 1, NULL);
	char	   *queue = wf_text_arg(fcinfo, 2, "queue");
	char	   *worker = worker_arg(fcinfo, 3);
	int32		max_tasks = wf_int32_arg(fcinfo, 4, "max_tasks");
	char	   *workflow_id = run_arg(fcinfo, 5);
	WfInternal	save;
	Oid			caller;

	caller = wf_api_enter(&save, "workflow.complete_and_claim()");
	wf_check_payload(result, "activity result");
	wf_check_claim_args(queue, worker, max_tasks);
	InitMaterializedSRF(fcinfo, 0);
	wf_complete_task(task_id, workflow_id, result, caller);
	wf_api_settle();
	wf_claim_tasks((ReturnSetInfo *) fcinfo->resultinfo, caller, queue, worker, max_tasks);
	wf_api_leave(&save);
	return (Datum) 0;
}

/* workflow.fail_activity(task_id, error, retryable, details[, workflow_id]) */
Datum
wf_fail_activity(PG_FUNCTION_ARGS)
{
	int64		task_id = wf_int64_arg(fcinfo, 0, "task_id");
	char	   *error = wf_text_arg(fcinfo, 1, "error");
	bool		retryable = wf_bool_arg(fcinfo, 2, "retryable");
	Jsonb	   *details = wf_jsonb_arg(fcinfo, 3, NULL);
	char	   *workflow_id = run_arg(fcinfo, 4);
	WfInternal	save;
	Oid			caller;

	caller = wf_api_enter(&save, "workflow.fail_activity()");
	wf_check_payload(details, "failure details");
	wf_check_text(error, "error message", WF_MAX_PAYLOAD);
	wf_fail_task(task_id, workflow_id, error, retryable, details, caller);
	wf_api_leave(&save);
	PG_RETURN_VOID();
}

/*
 * workflow.heartbeat_activity(task_id, details[, workflow_id]): extend the lease; true
 * when the workflow asks the activity to stop.
 */
Datum
wf_heartbeat_activity(PG_FUNCTION_ARGS)
{
	int64		task_id = wf_int64_arg(fcinfo, 0, "task_id");
	Jsonb	   *details = wf_jsonb_arg(fcinfo, 1, NULL);
	char	   *workflow_id = run_arg(fcinfo, 2);
	WfInternal	save;
	Oid			caller;
	bool		cancel;

	caller = wf_api_enter(&save, "workflow.heartbeat_activity()");
	wf_check_payload(details, "heartbeat details");
	cancel = wf_heartbeat_task(task_id, workflow_id, details, caller);
	wf_api_leave(&save);
	PG_RETURN_BOOL(cancel);
}

/* grant_queue/revoke_queue(queue, role, privilege) */
static Datum
change_queue_grant(FunctionCallInfo fcinfo, const char *function, bool grant)
{
	char	   *queue;
	char	   *privilege;
	Oid			role;
	WfInternal	save;
	Oid			caller;

	caller = wf_api_enter(&save, function);
	queue = wf_text_arg(fcinfo, 0, "queue");
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("grantee must not be null"),
				 errhint("Name a role.")));
	role = PG_GETARG_OID(1);
	if (strcmp(queue, "*") != 0)
		wf_check_queue_name(queue);
	privilege = wf_text_arg(fcinfo, 2, "privilege");
	wf_change_queue_grant(queue, role, privilege, caller, grant);
	wf_api_leave(&save);
	PG_RETURN_VOID();
}

/*
 * workflow.grant_queue(queue, role, privilege): let role claim from and
 * report on queue ('consume'), schedule tasks on it ('produce'), or both.
 */
Datum
wf_grant_queue(PG_FUNCTION_ARGS)
{
	return change_queue_grant(fcinfo, "workflow.grant_queue()", true);
}

/* workflow.revoke_queue(queue, role, privilege) */
Datum
wf_revoke_queue(PG_FUNCTION_ARGS)
{
	return change_queue_grant(fcinfo, "workflow.revoke_queue()", false);
}

/*
 * workflow.configure_queue(queue, options): set or remove the limits of a
 * queue (max_concurrency, rate_limit, key_concurrency, paused).
 */
Datum
wf_configure_queue(PG_FUNCTION_ARGS)
{
	char	   *queue;
	Jsonb	   *options;
	WfInternal	save;
	Oid			caller;

	caller = wf_api_enter(&save, "workflow.configure_queue()");
	queue = wf_text_arg(fcinfo, 0, "queue");
	wf_check_queue_name(queue);
	wf_require_arg(fcinfo, 1, "options");
	options = PG_GETARG_JSONB_P(1);
	wf_set_queue_limits(queue, options, caller);
	wf_api_leave(&save);
	PG_RETURN_VOID();
}

/*
 * workflow.queue_claims_last_minute(queue): the tasks claimed from a
 * configured queue in the last 60 seconds, as shared memory counts them
 * (workflow.queues shows it); NULL without shared memory.
 */
Datum
wf_queue_claims_last_minute(PG_FUNCTION_ARGS)
{
	char	   *queue = text_to_cstring(PG_GETARG_TEXT_PP(0));
	int64		claims;

	if (!wf_flow_claimed_last_minute(queue, wf_now(), &claims))
		PG_RETURN_NULL();
	PG_RETURN_INT64(claims);
}
