/*-------------------------------------------------------------------------
 * saga.c
 *	  Declarative sagas (workflow.register_saga): the built-in workflow
 *	  code that runs a list of steps.
 *
 * Each step is an activity with its optional compensation.  A step's input
 * is the workflow input merged with the results of the earlier steps (each
 * object result is merged in; any other result is stored under the step's
 * activity name).  The saga's result is that merged object.  Failures and
 * compensations are the engine's, exactly as for code (see lifecycle.c).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/builtins.h"

#include "engine/engine.h"

/* Merge a step's result into the running state. */
static Jsonb *
merge_result(Jsonb *state, const char *activity, Jsonb *result)
{
	Jsonb	   *add;

	if (result == NULL)
		return state;
	if (JB_ROOT_IS_OBJECT(result))
		add = result;
	else
	{
		WfJson		b;

		wf_json_begin(&b);
		wf_json_jsonb(&b, activity, result);
		add = wf_json_end(&b);
	}
	return DatumGetJsonbP(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(state),
											  JsonbPGetDatum(add)));
}

/* Run the saga's steps in order; returns the merged result. */
Datum
wf_saga_body(ReplayContext *ctx)
{
	Jsonb	   *state = ctx->run->input;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	List	   *steps = NIL;
	ListCell   *lc;

	if (!JB_ROOT_IS_OBJECT(state))
	{
		WfJson		b;

		wf_json_begin(&b);
		wf_json_jsonb(&b, "input", state);
		state = wf_json_end(&b);
	}

	it = JsonbIteratorInit(&ctx->saga_steps->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		if (tok == WJB_ELEM)
			steps = lappend(steps, JsonbValueToJsonb(&v));

	foreach(lc, steps)
	{
		Jsonb	   *step = lfirst(lc);
		char	   *activity = wf_jsonb_get_text(step, "activity");
		Jsonb	   *options = wf_jsonb_get_jsonb(step, "options");
		WfHistCmd  *h;

		h = wf_cmd_activity(ctx, activity, state, wf_jsonb_get_text(step, "queue"),
							options ? options : wf_jsonb_from_cstring("{}"),
							wf_jsonb_get_text(step, "compensation"), NULL);
		state = merge_result(state, activity, wf_cmd_await(ctx, h, "waiting for a saga step"));
	}
	return JsonbPGetDatum(state);
}
