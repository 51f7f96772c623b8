/*-------------------------------------------------------------------------
 * commands.c
 *	  The functions workflow code calls (workflow.activity, sleep, now ...).
 *
 * Each function takes the next sequence number from the replay context,
 * returns what the history holds there, or records a command and, if it
 * is a blocking call, suspends the attempt (engine/replay.c); what the
 * attempt recorded is written after it by engine/apply.c.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/pg_prng.h"
#include "utils/builtins.h"

#include "api/api.h"

PG_FUNCTION_INFO_V1(wf_activity);
PG_FUNCTION_INFO_V1(wf_activity_async);
PG_FUNCTION_INFO_V1(wf_wait);
PG_FUNCTION_INFO_V1(wf_wait_all);
PG_FUNCTION_INFO_V1(wf_sleep);
PG_FUNCTION_INFO_V1(wf_now_fn);
PG_FUNCTION_INFO_V1(wf_random);
PG_FUNCTION_INFO_V1(wf_uuid);
PG_FUNCTION_INFO_V1(wf_patched);
PG_FUNCTION_INFO_V1(wf_set_state);
PG_FUNCTION_INFO_V1(wf_wait_signal);
PG_FUNCTION_INFO_V1(wf_child_workflow);
PG_FUNCTION_INFO_V1(wf_continue_as_new_fn);

static const char *const child_option_keys[] = {
	"queue", "activity_options", "execution_timeout", "search_attributes",
	"concurrency_key", "priority", NULL
};

#define PATCH_PREFIX "patch:"

/* wf_cmd_activity with the arguments of workflow.activity(). */
static WfHistCmd *
activity_command(FunctionCallInfo fcinfo, ReplayContext *ctx)
{
	return wf_cmd_activity(ctx,
						   wf_text_arg(fcinfo, 0, "activity"),
						   wf_jsonb_arg(fcinfo, 1, "{}"),
						   PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2)),
						   wf_jsonb_arg(fcinfo, 3, "{}"),
						   PG_ARGISNULL(4) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(4)),
						   wf_jsonb_arg(fcinfo, 5, NULL));
}

/* workflow.activity(...): run an activity and return its result. */
Datum
wf_activity(PG_FUNCTION_ARGS)
{
	ReplayContext *ctx = wf_replay_require("workflow.activity()");
	WfHistCmd  *h = activity_command(fcinfo, ctx);
	Jsonb	   *result = wf_cmd_await(ctx, h, "waiting for an activity");

	if (result == NULL)
		PG_RETURN_NULL();
	PG_RETURN_JSONB_P(result);
}

/* workflow.activity_async(...): schedule an activity, return its handle. */
Datum
wf_activity_async(PG_FUNCTION_ARGS)
{
	ReplayContext *ctx = wf_replay_require("workflow.activity_async()");

	(void) activity_command(fcinfo, ctx);
	PG_RETURN_INT64(ctx->seq);
}

/* The history entry of an activity handle; NULL if scheduled just now. */
static WfHistCmd *
handle_command(ReplayContext *ctx, int64 handle)
{
	ListCell   *lc;

	if (handle >= 1 && handle <= ctx->ncmds && ctx->cmds[handle - 1].present &&
		ctx->cmds[handle - 1].kind == WF_CMD_ACTIVITY)
		return &ctx->cmds[handle - 1];
	foreach(lc, ctx->new_cmds)
	{
		WfNewCmd   *c = lfirst(lc);

		if (c->seq == handle && c->kind == WF_CMD_ACTIVITY && !c->cancel)
			return NULL;
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%lld is not an activity handle of this workflow", (long long) handle),
			 errhint("Pass a value returned by workflow.activity_async().")));
	return NULL;				/* not reached */
}

/* workflow.wait(handle): the result of an activity started with activity_async. */
Datum
wf_wait(PG_FUNCTION_ARGS)
{
	ReplayContext *ctx = wf_replay_require("workflow.wait()");
	int64		handle = wf_int64_arg(fcinfo, 0, "handle");
	Jsonb	   *result = wf_cmd_await(ctx, handle_command(ctx, handle),
									   "waiting for an activity");

	if (result == NULL)
		PG_RETURN_NULL();
	PG_RETURN_JSONB_P(result);
}

/* workflow.wait_all(handles): a jsonb array of the results, in order. */
Datum
wf_wait_all(PG_FUNCTION_ARGS)
{
	ReplayContext *ctx = wf_replay_require("workflow.wait_all()");
	ArrayType  *arr;
	Datum	   *handles;
	bool	   *nulls;
	int			n,
				i;
	JsonbParseState *state = NULL;
	JsonbValue *res;

	wf_require_arg(fcinfo, 0, "handles");
	arr = PG_GETARG_ARRAYTYPE_P(0);
	deconstruct_array(arr, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &handles, &nulls, &n);
	for (i = 0; i < n; i++)
	{
		WfHistCmd  *h;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("activity handles must not be null"),
					 errhint("Pass the values returned by workflow.activity_async().")));
		h = handle_command(ctx, DatumGetInt64(handles[i]));
		if (h == NULL || h->state != WF_CMD_DONE)
			(void) wf_cmd_await(ctx, h, "waiting for activities");
	}

	pushJsonbValue(&state, WJB_BEGIN_ARRAY, NULL);
	for (i = 0; i < n; i++)
	{
		Jsonb	   *r = handle_command(ctx, DatumGetInt64(handles[i]))->result;
		JsonbValue	v;

		if (r == NULL)
			v.type = jbvNull;
		else
			JsonbToJsonbValue(r, &v);
		pushJsonbValue(&state, WJB_ELEM, &v);
	}
	res = pushJsonbValue(&state, WJB_END_ARRAY, NULL);
	PG_RETURN_JSONB_P(JsonbValueToJsonb(res));
}

/* Record a timer command (sleep, or a signal wait's timeout). */
static void
record_timer(ReplayContext *ctx, WfCmdKind kind, const char *name, Interval *duration)
{
	WfNewCmd   *c = wf_replay_record(ctx, kind, name);

	c->duration = MemoryContextAlloc(ctx->mcxt, sizeof(Interval));
	memcpy(c->duration, duration, sizeof(Interval));
	c->fire_at = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
														 TimestampTzGetDatum(wf_now()),
														 IntervalPGetDatum(duration)));
}

/* workflow.sleep(duration): a durable timer. */
Datum
wf_sleep(PG_FUNCTION_ARGS)
{
	ReplayContext *ctx = wf_replay_require("workflow.sleep()");
	Interval   *duration;
	WfHistCmd  *h;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("sleep duration must not be null"),
				 errhint("Pass an interval such as '10 seconds'.")));
	duration = PG_GETARG_INTERVAL_P(0);
	wf_check_interval(duration, "sleep duration");

	h = wf_replay_next(ctx, WF_CMD_TIMER, "sleep");
	if (h == NULL)
	{
		wf_replay_deliver_cancel(ctx, WF_CMD_TIMER, "sleep");
		record_timer(ctx, WF_CMD_TIMER, "sleep", duration);
	}
	(void) wf_cmd_await(ctx, h, "waiting for a timer");
	PG_RETURN_VOID();
}

/*
 * A value recorded once (MarkerRecorded) and replayed identically: the
 * history's value, or make() recorded now.
 */
static Jsonb *
marker_value(ReplayContext *ctx, const char *marker, Jsonb *(*make) (void))
{
	WfHistCmd  *h = wf_replay_next(ctx, WF_CMD_MARKER, marker);
	WfNewCmd   *c;
	MemoryContext old;

	if (h != NULL)
		return h->result;
	c = wf_replay_record(ctx, WF_CMD_MARKER, marker);
	old = MemoryContextSwitchTo(ctx->mcxt);
	c->value = make();
	MemoryContextSwitchTo(old);
	return c->value;
}

/* The marker value of workflow.now(). */
static Jsonb *
make_now(void)
{
	char	   *ts = DatumGetCString(DirectFunctionCall1(timestamptz_out,
														 TimestampTzGetDatum(wf_now())));

	return wf_jsonb_from_cstring(psprintf("\"%s\"", ts));
}

/* The marker value of workflow.random(). */
static Jsonb *
make_random(void)
{
	/* float8out prints the shortest text that reads back exactly. */
	return wf_jsonb_from_cstring(DatumGetCString(DirectFunctionCall1(float8out,
																	 Float8GetDatum(pg_prng_double(&pg_global_prng_state)))));
}

/* The marker value of workflow.uuid(). */
static Jsonb *
make_uuid(void)
{
	Datum		u = DirectFunctionCall1(gen_random_uuid, (Datum) 0);

	return wf_jsonb_from_cstring(psprintf("\"%s\"", wf_uuid_out(u)));
}

/* The text of a scalar jsonb. */
static char *
scalar_text(Jsonb *j)
{
	JsonbValue	v;

	if (JsonbExtractScalar(&j->root, &v) && v.type == jbvString)
		return pnstrdup(v.val.string.val, v.val.string.len);
	return JsonbToCString(NULL, &j->root, VARSIZE(j));
}

/* workflow.now(): the time, recorded once. */
Datum
wf_now_fn(PG_FUNCTION_ARGS)
{
	ReplayContext *ctx = wf_replay_require("workflow.now()");
	char	   *ts = scalar_text(marker_value(ctx, "now", make_now));

	return DirectFunctionCall3(timestamptz_in, CStringGetDatum(ts),
							   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
}

/* workflow.random(): a random number in [0, 1), recorded once. */
Datum
wf_random(PG_FUNCTION_ARGS)
{
	ReplayContext *ctx = wf_replay_require("workflow.random()");
	char	   *num = scalar_text(marker_value(ctx, "random", make_random));

	return DirectFunctionCall1(float8in, CStringGetDatum(num));
}

/* workflow.uuid(): a random uuid, recorded once. */
Datum
wf_uuid(PG_FUNCTION_ARGS)
{
	ReplayContext *ctx = wf_replay_require("workflow.uuid()");
	char	   *u = scalar_text(marker_value(ctx, "uuid", make_uuid));

	return DirectFunctionCall1(uuid_in, CStringGetDatum(u));
}

/* The marker value of a patch. */
static Jsonb *
make_true(void)
{
	return wf_jsonb_from_cstring("true");
}

/*
 * workflow.patched(change_id): true for runs that reach this point with the
 * new code (recorded), false for runs whose history went the old way.
 */
Datum
wf_patched(PG_FUNCTION_ARGS)
{
	ReplayContext *ctx = wf_replay_require("workflow.patched()");
	char	   *change = wf_text_arg(fcinfo, 0, "change_id");
	char	   *marker;
	int			next = ctx->seq + 1;
	MemoryContext old;

	wf_check_name(change, "change_id");
	marker = psprintf(PATCH_PREFIX "%s", change);

	/* The first answer for a change id holds for the rest of the run. */
	if (list_member(ctx->patches_seen, makeString(marker)))
		PG_RETURN_BOOL(true);
	if (list_member(ctx->patches_unseen, makeString(marker)))
		PG_RETURN_BOOL(false);

	old = MemoryContextSwitchTo(ctx->mcxt);
	if (next <= ctx->ncmds && ctx->cmds[next - 1].present &&
		(ctx->cmds[next - 1].kind != WF_CMD_MARKER ||
		 strcmp(ctx->cmds[next - 1].name, marker) != 0))
	{
		/* The history went on without the patch: the old branch. */
		ctx->patches_unseen = lappend(ctx->patches_unseen, makeString(pstrdup(marker)));
		MemoryContextSwitchTo(old);
		PG_RETURN_BOOL(false);
	}
	ctx->patches_seen = lappend(ctx->patches_seen, makeString(pstrdup(marker)));
	MemoryContextSwitchTo(old);
	(void) marker_value(ctx, marker, make_true);
	PG_RETURN_BOOL(true);
}

/* workflow.set_state(key, value): publish state for workflow.get_state(). */
Datum
wf_set_state(PG_FUNCTION_ARGS)
{
	ReplayContext *ctx = wf_replay_require("workflow.set_state()");
	char	   *key = wf_text_arg(fcinfo, 0, "key");
	Jsonb	   *value = wf_jsonb_arg(fcinfo, 1, NULL);
	MemoryContext old;
	WfStateUpdate *u;

	wf_check_name(key, "state key");
	wf_check_payload(value, "state value");
	old = MemoryContextSwitchTo(ctx->mcxt);
	u = palloc0(sizeof(WfStateUpdate));
	u->key = pstrdup(key);
	u->value = value ? DatumGetJsonbPCopy(JsonbPGetDatum(value)) : NULL;
	ctx->state_updates = lappend(ctx->state_updates, u);
	MemoryContextSwitchTo(old);
	PG_RETURN_VOID();
}

/*
 * The oldest buffered signal of that name for this workflow, if any:
 * fills *signal_id and returns the payload (JSON null if none was sent).
 */
static bool
buffered_signal(ReplayContext *ctx, const char *signal, int64 *signal_id, Jsonb **payload)
{
	static SPIPlanPtr plan;
	Oid			types[4] = {TEXTOID, TEXTOID, INT8ARRAYOID, UUIDOID};
	Datum		values[4];
	Datum	   *taken = palloc(sizeof(Datum) * (list_length(ctx->new_cmds) + 1));
	int			ntaken = 0;
	ListCell   *lc;
	WfInternal	save;
	bool		found;
	bool		isnull;

	/* Signals consumed earlier in this attempt are still in the buffer. */
	foreach(lc, ctx->new_cmds)
	{
		WfNewCmd   *c = lfirst(lc);

		if (c->signal_id != 0)
			taken[ntaken++] = Int64GetDatum(c->signal_id);
	}
	values[0] = CStringGetTextDatum(ctx->run->workflow_id);
	values[1] = CStringGetTextDatum(signal);
	values[2] = PointerGetDatum(construct_array(taken, ntaken, INT8OID, 8,
												FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[3] = ctx->run->run_id;
	wf_spi_enter(&save);
	found = wf_exec(&plan,
					"SELECT signal_id, payload FROM workflow.signals"
					" WHERE workflow_id = $1 AND run_id = $4 AND signal = $2 AND signal_id <> ALL ($3)"
					" ORDER BY signal_id LIMIT 1",
					4, types, values, NULL, 1) == 1;
	if (found)
	{
		MemoryContext old = MemoryContextSwitchTo(ctx->mcxt);

		*signal_id = DatumGetInt64(wf_get_datum(0, 1, &isnull));
		*payload = wf_get_jsonb(0, 2);
		MemoryContextSwitchTo(old);
	}
	wf_spi_leave(&save);
	return found;
}

/*
 * workflow.wait_signal(signal, timeout): the next unconsumed signal of that
 * name, NULL on timeout.  A buffered signal is consumed at once and the
 * consumption recorded (SignalConsumed); otherwise the code waits, with a
 * timer when a timeout is given.
 */
Datum
wf_wait_signal(PG_FUNCTION_ARGS)
{
	ReplayContext *ctx = wf_replay_require("workflow.wait_signal()");
	char	   *signal = wf_text_arg(fcinfo, 0, "signal");
	Interval   *timeout = PG_ARGISNULL(1) ? NULL : PG_GETARG_INTERVAL_P(1);
	WfHistCmd  *h;
	WfNewCmd   *c;
	int64		signal_id;
	Jsonb	   *payload;

	wf_check_name(signal, "signal name");
	if (timeout)
		wf_check_interval(timeout, "signal timeout");
	h = wf_replay_next(ctx, WF_CMD_SIGNAL, signal);
	if (h != NULL && h->state != WF_CMD_PENDING)
	{
		Jsonb	   *result = wf_cmd_await(ctx, h, "waiting for a signal");

		if (result == NULL || (wf_jsonb_is_null(result)))
			PG_RETURN_NULL();
		PG_RETURN_JSONB_P(result);
	}
	if (buffered_signal(ctx, signal, &signal_id, &payload))
	{
		c = wf_replay_record(ctx, WF_CMD_SIGNAL, signal);
		c->signal_id = signal_id;
		c->value = payload;
		if (payload == NULL)
			PG_RETURN_NULL();
		PG_RETURN_JSONB_P(payload);
	}
	wf_replay_deliver_cancel(ctx, WF_CMD_SIGNAL, signal);
	if (h == NULL && timeout != NULL)
	{
		record_timer(ctx, WF_CMD_SIGNAL, signal, timeout);
	}
	ctx->awaited_signal = MemoryContextStrdup(ctx->mcxt, signal);
	wf_replay_block(ctx, "waiting for a signal");
}

/*
 * May the run start this child?  Its type must be registered, the run's
 * owner must be allowed to produce onto the child's queue and to use its
 * workflow_id.  (Asked as the extension owner.)
 */
static void
check_child_allowed(ReplayContext *ctx, const char *type, Jsonb *options, const char *child_id)
{
	WfInternal	save;
	char	   *queue;

	wf_spi_enter(&save);
	queue = wf_jsonb_get_text(options, "queue");
	if (queue == NULL)
		queue = wf_jsonb_get_text(wf_type_options(type), "queue");
	wf_check_queue_produce(ctx->run->owner, queue ? queue : ctx->run->queue);
	wf_check_workflow_id(child_id, ctx->run->owner, ctx->run->workflow_id);
	wf_spi_leave(&save);
}

/*
 * workflow.child_workflow(workflow_type, input, workflow_id, options): run
 * another workflow and return its result; its failure raises WF006.
 */
Datum
wf_child_workflow(PG_FUNCTION_ARGS)
{
	ReplayContext *ctx = wf_replay_require("workflow.child_workflow()");
	char	   *type = wf_text_arg(fcinfo, 0, "workflow_type");
	Jsonb	   *input = wf_jsonb_arg(fcinfo, 1, "{}");
	Jsonb	   *options = wf_jsonb_arg(fcinfo, 3, "{}");
	WfHistCmd  *h;
	WfNewCmd   *c;
	MemoryContext old;
	Jsonb	   *result;

	wf_check_name(type, "workflow_type");
	wf_check_payload(input, "child workflow input");
	wf_check_run_options(options, "child workflow options", child_option_keys);
	h = wf_replay_next(ctx, WF_CMD_CHILD, type);
	if (h == NULL)
	{
		/* The default id is derived from the parent's, so replays agree. */
		char	   *child_id = PG_ARGISNULL(2) ?
			psprintf("%s/child-%d", ctx->run->workflow_id, ctx->seq) :
			text_to_cstring(PG_GETARG_TEXT_PP(2));

		wf_check_name(child_id, "child workflow_id");
		wf_replay_deliver_cancel(ctx, WF_CMD_CHILD, type);
		check_child_allowed(ctx, type, options, child_id);
		c = wf_replay_record(ctx, WF_CMD_CHILD, type);
		old = MemoryContextSwitchTo(ctx->mcxt);
		c->input = DatumGetJsonbPCopy(JsonbPGetDatum(input));
		c->options = DatumGetJsonbPCopy(JsonbPGetDatum(options));
		c->child_id = pstrdup(child_id);
		MemoryContextSwitchTo(old);
	}
	result = wf_cmd_await(ctx, h, "waiting for a child workflow");
	if (result == NULL)
		PG_RETURN_NULL();
	PG_RETURN_JSONB_P(result);
}

/* workflow.continue_as_new(input): end this run, start the next with input. */
Datum
wf_continue_as_new_fn(PG_FUNCTION_ARGS)
{
	ReplayContext *ctx = wf_replay_require("workflow.continue_as_new()");
	Jsonb	   *input = wf_jsonb_arg(fcinfo, 0, "{}");
	MemoryContext old;

	wf_check_payload(input, "workflow input");
	old = MemoryContextSwitchTo(ctx->mcxt);
	ctx->continue_input = DatumGetJsonbPCopy(JsonbPGetDatum(input));
	MemoryContextSwitchTo(old);
	ereport(ERROR,
			(errcode(ERRCODE_WF_CONTINUE_AS_NEW),
			 errmsg("workflow continues as new"),
			 errhint("Do not catch SQLSTATE WF007 in workflow code.")));
	PG_RETURN_VOID();
}
