/*-------------------------------------------------------------------------
 * client.c
 *	  Defining, starting and steering workflows: register_workflow,
 *	  register_saga, start_workflow, cancel_workflow, terminate_workflow,
 *	  get_state.
 *
 * Each function does its writes as the extension owner and checks the
 * caller's rights itself: a role steers only runs it owns (or a role it
 * is a member of owns).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_proc.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/regproc.h"
#include "utils/syscache.h"

#include "api/api.h"

char	   *wf_default_queue = NULL;

PG_FUNCTION_INFO_V1(wf_register_workflow);
PG_FUNCTION_INFO_V1(wf_register_saga);
PG_FUNCTION_INFO_V1(wf_start_workflow);
PG_FUNCTION_INFO_V1(wf_cancel_workflow);
PG_FUNCTION_INFO_V1(wf_terminate_workflow);
PG_FUNCTION_INFO_V1(wf_get_state);
PG_FUNCTION_INFO_V1(wf_signal_workflow);


static const char *const type_option_keys[] = {
	"queue", "activity_options", "execution_timeout", "max_running", "max_running_per_key",
	"retention", NULL
};
static const char *const start_option_keys[] = {
	"queue", "activity_options", "execution_timeout", "search_attributes", "if_exists",
	"concurrency_key", "priority", NULL
};
static const char *const step_keys[] = {
	"activity", "queue", "compensation", "options", NULL
};

static SPIPlanPtr type_owner_plan;
static SPIPlanPtr upsert_type_plan;
static SPIPlanPtr get_state_plan;
static SPIPlanPtr buffer_signal_plan;

/*
 * The registration's current owner must be the caller (or a role it is a
 * member of): otherwise a role could swap the code that others' runs use.
 */
static void
check_replace_allowed(const char *type, Oid caller)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(type)};
	bool		isnull;
	Oid			owner;

	if (wf_exec(&type_owner_plan,
				"SELECT owner FROM workflow.workflow_types WHERE workflow_type = $1 FOR UPDATE",
				1, types, values, NULL, 1) == 0)
		return;
	owner = DatumGetObjectId(wf_get_datum(0, 1, &isnull));
	if (!has_privs_of_role(caller, owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("workflow type \"%s\" is registered by role \"%s\"",
						type, GetUserNameFromId(owner, false)),
				 errhint("Only that role (or a member of it) may register it again.")));
}

/* Insert or replace a registration. */
static void
upsert_type(const char *type, Oid fn, Jsonb *steps, Jsonb *options, Oid owner)
{
	Oid			types[5] = {TEXTOID, REGPROCEDUREOID, JSONBOID, JSONBOID, OIDOID};
	Datum		values[5] = {CStringGetTextDatum(type), ObjectIdGetDatum(fn),
		steps ? JsonbPGetDatum(steps) : (Datum) 0, JsonbPGetDatum(options),
	ObjectIdGetDatum(owner)};
	char		nulls[5] = {' ', OidIsValid(fn) ? ' ' : 'n', steps ? ' ' : 'n', ' ', ' '};

	wf_check_type_limits_supported(options);
	wf_exec(&upsert_type_plan,
			"INSERT INTO workflow.workflow_types (workflow_type, fn, steps, options, owner)"
			" VALUES ($1, $2, $3, $4, $5)"
			" ON CONFLICT (workflow_type) DO UPDATE SET fn = EXCLUDED.fn, steps = EXCLUDED.steps,"
			" options = EXCLUDED.options, owner = EXCLUDED.owner,"
			" registered_at = EXCLUDED.registered_at",
			5, types, values, nulls, 0);
	wf_forget_type();
	/* Its limits may have been raised or removed: start the queued runs that now fit. */
	wf_start_queued(type, true);
}

/* The function must be f(jsonb) RETURNS jsonb, and callable by the caller. */
static void
check_workflow_function(Oid fn, Oid caller)
{
	HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn));
	Form_pg_proc proc;
	bool		ok;

	if (!HeapTupleIsValid(tup))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("function with OID %u does not exist", fn),
				 errhint("Pass the function as 'name(jsonb)'::regprocedure.")));
	proc = (Form_pg_proc) GETSTRUCT(tup);
	ok = proc->prokind == PROKIND_FUNCTION && !proc->proretset &&
		proc->pronargs == 1 && proc->proargtypes.values[0] == JSONBOID &&
		proc->prorettype == JSONBOID;
	ReleaseSysCache(tup);
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_FUNCTION_DEFINITION),
				 errmsg("%s cannot be a workflow function", format_procedure(fn)),
				 errdetail("A workflow function takes one jsonb argument and returns jsonb."),
				 errhint("Declare it as CREATE FUNCTION f(input jsonb) RETURNS jsonb.")));
	if (object_aclcheck(ProcedureRelationId, fn, caller, ACL_EXECUTE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for function %s", format_procedure(fn)),
				 errhint("The role that registers a workflow must be able to execute its function.")));
}

/* workflow.register_workflow(workflow_type, fn, options) */
Datum
wf_register_workflow(PG_FUNCTION_ARGS)
{
	char	   *type = wf_text_arg(fcinfo, 0, "workflow_type");
	Oid			fn;
	Jsonb	   *options = wf_jsonb_arg(fcinfo, 2, "{}");
	WfInternal	save;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("fn must not be null"),
				 errhint("Pass the function as 'name(jsonb)'::regprocedure.")));
	fn = PG_GETARG_OID(1);
	wf_check_name(type, "workflow_type");
	wf_check_run_options(options, "workflow options", type_option_keys);
	(void) wf_api_enter(&save, "workflow.register_workflow()");
	check_workflow_function(fn, save.saved_userid);
	check_replace_allowed(type, save.saved_userid);
	upsert_type(type, fn, NULL, options, save.saved_userid);
	wf_api_leave(&save);
	PG_RETURN_VOID();
}

/*
 * A member of saga step n that names something (activity, queue,
 * compensation): a non-empty JSON string, or NULL when absent (or JSON
 * null) and not required.
 */
static char *
step_name(Jsonb *step, const char *key, int n, bool required, const char *example)
{
	JsonbValue	v;

	if (!wf_jsonb_get(step, key, &v) || v.type == jbvNull)
	{
		if (required)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("saga step %d has no \"%s\"", n, key),
					 errhint("Name the activity the step runs.")));
		return NULL;
	}
	if (v.type != jbvString || v.val.string.len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" of saga step %d must be a non-empty string", key, n),
				 errhint("Write it as a JSON string, e.g. \"%s\": \"%s\".", key, example)));
	return pnstrdup(v.val.string.val, v.val.string.len);
}

/*
 * Each saga step is {"activity", "queue", "compensation", "options"}, all
 * checked here as the engine will use them: a step that fails when run
 * would fail its workflow task on every attempt.
 */
static void
check_saga_steps(Jsonb *steps)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			n = 0;

	if (!JB_ROOT_IS_ARRAY(steps) || JB_ROOT_IS_SCALAR(steps) ||
		JB_ROOT_COUNT(steps) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("saga steps must be a non-empty jsonb array"),
				 errhint("Pass [{\"activity\": \"ReserveInventory\", \"queue\": \"inventory\", "
						 "\"compensation\": \"ReleaseInventory\"}, ...].")));
	it = JsonbIteratorInit(&steps->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		Jsonb	   *step;
		char	   *activity;
		char	   *queue;
		char	   *compensation;
		Jsonb	   *opts;

		if (tok != WJB_ELEM)
			continue;
		n++;
		if (v.type != jbvBinary || !JsonContainerIsObject(v.val.binary.data))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("saga step %d is not a jsonb object", n),
					 errhint("Each step looks like {\"activity\": \"ChargePayment\", \"queue\": \"payments\"}.")));
		step = JsonbValueToJsonb(&v);
		wf_check_options_object(step, psprintf("saga step %d", n), step_keys);
		activity = step_name(step, "activity", n, true, "ChargePayment");
		wf_check_name(activity, psprintf("activity of saga step %d", n));
		queue = step_name(step, "queue", n, false, "payments");
		if (queue)
			wf_check_queue_name(queue);
		compensation = step_name(step, "compensation", n, false, "RefundPayment");
		if (compensation)
			wf_check_name(compensation, psprintf("compensation of saga step %d", n));
		opts = wf_jsonb_get_jsonb(step, "options");
		wf_validate_activity_options(opts, NULL);
	}
}

/* workflow.register_saga(workflow_type, steps, options) */
Datum
wf_register_saga(PG_FUNCTION_ARGS)
{
	char	   *type = wf_text_arg(fcinfo, 0, "workflow_type");
	Jsonb	   *steps;
	Jsonb	   *options = wf_jsonb_arg(fcinfo, 2, "{}");
	WfInternal	save;

	wf_require_arg(fcinfo, 1, "steps");
	steps = PG_GETARG_JSONB_P(1);
	wf_check_name(type, "workflow_type");
	wf_check_payload(steps, "saga steps");
	check_saga_steps(steps);
	wf_check_run_options(options, "workflow options", type_option_keys);
	(void) wf_api_enter(&save, "workflow.register_saga()");
	check_replace_allowed(type, save.saved_userid);
	upsert_type(type, InvalidOid, steps, options, save.saved_userid);
	wf_api_leave(&save);
	PG_RETURN_VOID();
}

/* Shallow merge of two jsonb objects, b's keys winning. */
static Jsonb *
jsonb_merge(Jsonb *a, Jsonb *b)
{
	return DatumGetJsonbP(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(a), JsonbPGetDatum(b)));
}

/* workflow.start_workflow(workflow_type, input, workflow_id, options) */
Datum
wf_start_workflow(PG_FUNCTION_ARGS)
{
	char	   *type = wf_text_arg(fcinfo, 0, "workflow_type");
	Jsonb	   *input = wf_jsonb_arg(fcinfo, 1, "{}");
	char	   *workflow_id;
	Jsonb	   *options = wf_jsonb_arg(fcinfo, 3, "{}");
	char	   *if_exists;
	char	   *queue;
	WfInternal	save;
	WfRun	   *run;
	WfRunSpec	spec;

	wf_check_run_options(options, "start options", start_option_keys);
	wf_check_payload(input, "workflow input");
	if (PG_ARGISNULL(2))
		workflow_id = wf_uuid_out(DirectFunctionCall1(gen_random_uuid, (Datum) 0));
	else
		workflow_id = text_to_cstring(PG_GETARG_TEXT_PP(2));
	wf_check_name(workflow_id, "workflow_id");
	if_exists = wf_jsonb_get_text(options, "if_exists");

	(void) wf_api_enter(&save, "workflow.start_workflow()");
	memset(&spec, 0, sizeof(spec));
	spec.workflow_id = workflow_id;
	spec.workflow_type = type;
	spec.input = input;
	spec.options = jsonb_merge(wf_type_options(type), options);
	queue = wf_jsonb_get_text(spec.options, "queue");
	spec.queue = queue ? queue : wf_default_queue;
	wf_check_start_queues(save.saved_userid, type, spec.queue);
	spec.owner = save.saved_userid;
	spec.started_by = GetUserNameFromId(save.saved_userid, false);
	run = wf_create_run(&spec);
	if (run == NULL)
	{
		if (if_exists == NULL || strcmp(if_exists, "return") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_WF_ALREADY_RUNNING),
					 errmsg("workflow \"%s\" is already running", workflow_id),
					 errhint("Use another workflow_id, or pass '{\"if_exists\": \"return\"}' to get the running one.")));
	}
	wf_api_leave(&save);
	PG_RETURN_TEXT_P(cstring_to_text(workflow_id));
}

/* The caller must own the run (or be a member of its owner). */
void
wf_check_run_access(WfRun *run, Oid caller)
{
	if (!has_privs_of_role(caller, run->owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for workflow \"%s\"", run->workflow_id),
				 errhint("Only its owner, role \"%s\", or a member of it may steer it.",
						 GetUserNameFromId(run->owner, false))));
}

/* An optional reason argument, bounded like a payload. */
static char *
reason_arg(FunctionCallInfo fcinfo, int argno)
{
	char	   *reason = PG_ARGISNULL(argno) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(argno));

	wf_check_text(reason, "reason", WF_MAX_PAYLOAD);
	return reason;
}

/* Enter the frame for a call that steers the caller's open run of workflow_id. */
static WfRun *
enter_for_open_run(WfInternal *save, const char *function, const char *workflow_id)
{
	WfRun	   *run;

	(void) wf_api_enter(save, function);
	run = wf_lock_run(workflow_id, true, save->saved_userid);
	wf_check_run_access(run, save->saved_userid);
	return run;
}

/*
 * workflow.cancel_workflow(workflow_id, reason): the code sees WF002 at its
 * next blocking call; compensations run; the run ends "cancelled".
 */
Datum
wf_cancel_workflow(PG_FUNCTION_ARGS)
{
	char	   *workflow_id = wf_text_arg(fcinfo, 0, "workflow_id");
	char	   *reason = reason_arg(fcinfo, 1);
	WfInternal	save;
	WfRun	   *run;

	run = enter_for_open_run(&save, "workflow.cancel_workflow()", workflow_id);
	if (run->cancel_requested || run->status == WF_RUN_COMPENSATING)
		ereport(NOTICE,
				(errmsg("workflow \"%s\" is already %s",
						workflow_id, run->cancel_requested ? "being cancelled" : "compensating")));
	else
		wf_request_cancel(run, reason, GetUserNameFromId(save.saved_userid, false));
	wf_api_leave(&save);
	PG_RETURN_VOID();
}

/* workflow.terminate_workflow(workflow_id, reason): end now, no code, no compensations. */
Datum
wf_terminate_workflow(PG_FUNCTION_ARGS)
{
	char	   *workflow_id = wf_text_arg(fcinfo, 0, "workflow_id");
	char	   *reason = reason_arg(fcinfo, 1);
	WfInternal	save;
	WfRun	   *run;

	run = enter_for_open_run(&save, "workflow.terminate_workflow()", workflow_id);
	wf_terminate_run(run, WF_EV_WORKFLOW_TERMINATED, WF_RUN_TERMINATED, reason);
	wf_api_leave(&save);
	PG_RETURN_VOID();
}

/* workflow.get_state(workflow_id, key): state published with set_state. */
Datum
wf_get_state(PG_FUNCTION_ARGS)
{
	char	   *workflow_id = wf_text_arg(fcinfo, 0, "workflow_id");
	char	   *key = wf_text_arg(fcinfo, 1, "key");
	Oid			types[3] = {TEXTOID, TEXTOID, OIDOID};
	Datum		values[3];
	WfInternal	save;
	Jsonb	   *value = NULL;
	int			n;

	(void) wf_api_enter(&save, "workflow.get_state()");
	values[0] = CStringGetTextDatum(workflow_id);
	values[1] = CStringGetTextDatum(key);
	values[2] = ObjectIdGetDatum(save.saved_userid);
	/* The latest run the caller may see, else any (to refuse it). */
	n = wf_exec(&get_state_plan,
				"SELECT s.value, w.visible"
				" FROM (SELECT workflow_id, run_id, pg_has_role($3, owner, 'MEMBER') AS visible"
				"   FROM workflow.workflows WHERE workflow_id = $1"
				"   ORDER BY 3 DESC, " WF_LATEST_RUN_ORDER " LIMIT 1) w"
				" LEFT JOIN workflow.state s ON s.workflow_id = w.workflow_id"
				"   AND s.run_id = w.run_id AND s.key = $2",
				3, types, values, NULL, 1);
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("workflow \"%s\" does not exist", workflow_id),
				 errhint("Check the id in workflow.workflows.")));
	{
		bool		isnull;

		if (!DatumGetBool(wf_get_datum(0, 2, &isnull)))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied for workflow \"%s\"", workflow_id),
					 errhint("Only its owner or a member of that role may read its state.")));
	}
	value = wf_get_jsonb(0, 1);
	if (value)
		value = (Jsonb *) SPI_datumTransfer(JsonbPGetDatum(value), false, -1);
	wf_api_leave(&save);
	if (value == NULL)
		PG_RETURN_NULL();
	PG_RETURN_JSONB_P(value);
}

/*
 * workflow.signal_workflow(workflow_id, signal, payload): buffer the signal
 * (SignalReceived) and let the code consume it with wait_signal().
 */
Datum
wf_signal_workflow(PG_FUNCTION_ARGS)
{
	char	   *workflow_id = wf_text_arg(fcinfo, 0, "workflow_id");
	char	   *signal = wf_text_arg(fcinfo, 1, "signal");
	Jsonb	   *payload = wf_jsonb_arg(fcinfo, 2, NULL);
	Oid			types[4] = {TEXTOID, UUIDOID, TEXTOID, JSONBOID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', payload ? ' ' : 'n'};
	WfInternal	save;
	WfRun	   *run;
	WfEvent		b;
	bool		isnull;

	wf_check_name(signal, "signal name");
	wf_check_payload(payload, "signal payload");
	(void) wf_api_enter(&save, "workflow.signal_workflow()");
	run = wf_lock_run(workflow_id, true, save.saved_userid);
	wf_check_run_access(run, save.saved_userid);
	values[0] = CStringGetTextDatum(run->workflow_id);
	values[1] = run->run_id;
	values[2] = CStringGetTextDatum(signal);
	values[3] = payload ? JsonbPGetDatum(payload) : (Datum) 0;
	wf_exec(&buffer_signal_plan,
			"INSERT INTO workflow.signals (workflow_id, run_id, signal, payload)"
			" VALUES ($1, $2, $3, $4) RETURNING signal_id",
			4, types, values, nulls, 0);
	wf_event_begin(&b);
	wf_event_str(&b, WF_KEY_SIGNAL, signal);
	wf_event_jsonb(&b, WF_KEY_PAYLOAD, payload);
	wf_event_int(&b, WF_KEY_SIGNAL_ID, DatumGetInt64(wf_get_datum(0, 1, &isnull)));
	wf_event_str(&b, WF_KEY_SENT_BY, GetUserNameFromId(save.saved_userid, false));
	wf_append_event(run, WF_EV_SIGNAL_RECEIVED, wf_event_data(&b));
	wf_wake_run(run);
	wf_api_leave(&save);
	PG_RETURN_VOID();
}
