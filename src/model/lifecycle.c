/*-------------------------------------------------------------------------
 * lifecycle.c
 *	  How runs end: completion, failure, compensation, cancellation,
 *	  termination.
 *
 * When workflow code fails (RAISE EXCEPTION, an uncaught activity failure)
 * or ends on a cancellation, the compensations registered with completed
 * activities run one at a time, in reverse order of completion, each as an
 * activity task with its own retries.  The run is "compensating" meanwhile;
 * it ends "compensated" (or "cancelled"), or "failed" if a compensation
 * fails for good.  The next compensation is always derived from the
 * history, so a crash between two of them loses nothing.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"

#include "model/model.h"

static SPIPlanPtr next_compensation_plan;

static void next_compensation(WfRun *run, bool first);

/* Stop everything the code left pending: tasks and timers. */
static void
withdraw_pending(WfRun *run)
{
	wf_withdraw_tasks(run, 0, true);
	wf_cancel_all_timers(run);
}

/* The code returned: WorkflowCompleted. */
void
wf_complete_run(WfRun *run, Jsonb *result)
{
	WfEvent		b;

	withdraw_pending(run);
	wf_event_begin(&b);
	wf_event_jsonb(&b, WF_KEY_RESULT, result);
	wf_append_event(run, WF_EV_WORKFLOW_COMPLETED, wf_event_data(&b));
	wf_end_run(run, WF_RUN_COMPLETED, result, NULL);
}

/* Is this failure a delivered cancellation? */
static bool
is_cancellation(Jsonb *error)
{
	char	   *sqlstate = wf_event_text(error, WF_KEY_SQLSTATE);

	return sqlstate && strcmp(sqlstate, unpack_sql_state(ERRCODE_WF_CANCELLED)) == 0;
}

/*
 * Close a failed or cancelled run with its final event.  A failed
 * compensation makes it "failed" whatever the first error was; the run's
 * error then holds both.
 */
static void
close_failed(WfRun *run, Jsonb *error, Jsonb *compensation_error)
{
	bool		cancelled = is_cancellation(error) && compensation_error == NULL;
	Jsonb	   *data;
	WfEvent		b;

	wf_event_begin(&b);
	wf_event_jsonb(&b, WF_KEY_ERROR, error);
	if (compensation_error)
		wf_event_jsonb(&b, WF_KEY_COMPENSATION_ERROR, compensation_error);
	data = wf_event_data(&b);
	wf_append_event(run, cancelled ? WF_EV_WORKFLOW_CANCELLED : WF_EV_WORKFLOW_FAILED, data);
	wf_end_run(run, cancelled ? WF_RUN_CANCELLED : WF_RUN_FAILED, NULL,
				 compensation_error ? data : error);
}

/* Every compensation succeeded: "compensated", or "cancelled" for a cancellation. */
static void
close_compensated(WfRun *run)
{
	bool		cancelled = is_cancellation(run->error);
	WfEvent		b;

	wf_event_begin(&b);
	wf_event_jsonb(&b, WF_KEY_ERROR, run->error);
	wf_append_event(run, cancelled ? WF_EV_WORKFLOW_CANCELLED : WF_EV_WORKFLOW_COMPENSATED,
					wf_event_data(&b));
	wf_end_run(run, cancelled ? WF_RUN_CANCELLED : WF_RUN_COMPENSATED, NULL, run->error);
}

/*
 * The code failed or was cancelled: withdraw what it left pending and start
 * the compensations, if there are any.
 */
void
wf_fail_run(WfRun *run, Jsonb *error)
{
	withdraw_pending(run);
	run->error = error;
	run->status = WF_RUN_COMPENSATING;
	next_compensation(run, true);
}

/*
 * A compensation task finished for good: schedule the next one, or, with
 * failure set (it failed), fail the run.
 */
void
wf_continue_compensation(WfRun *run, Jsonb *failure)
{
	if (failure != NULL)
		close_failed(run, run->error, failure);
	else
		next_compensation(run, false);
}

/* Schedule the next compensation, or end the run when none is left. */
static void
next_compensation(WfRun *run, bool first)
{
	Oid			types[2] = {TEXTOID, UUIDOID};
	Datum		values[2] = {CStringGetTextDatum(run->workflow_id), run->run_id};
	bool		isnull;
	int			seq;
	char	   *activity;
	char	   *queue;
	Jsonb	   *input;
	Jsonb	   *options;
	char	   *activity_id;
	int64		task_id;
	WfEvent		b;

	/*
	 * The most recently completed activity with a compensation that has not
	 * completed yet.
	 */
	wf_flush_events();
	if (wf_exec(&next_compensation_plan,
				"SELECT (s.data->>'seq')::int4, s.data->>'compensation', s.data->>'compensation_queue',"
				"   COALESCE(s.data->'compensation_input',"
				"     CASE WHEN jsonb_typeof(s.data->'input') = 'object'"
				"           AND jsonb_typeof(c.data->'result') = 'object'"
				"          THEN (s.data->'input') || (c.data->'result')"
				"          ELSE jsonb_build_object('input', s.data->'input', 'result', c.data->'result')"
				"     END),"
				/*
				 * Options: the activity's (timeouts, backoff), retried without
				 * limit, then what compensation_options says.
				 */
				"   (COALESCE(s.data->'options', '{}') - 'schedule_to_close_timeout'"
				"      - 'compensation_options' - 'compensation_queue' - 'retry')"
				"   || (COALESCE(s.data->'options'->'compensation_options', '{}') - 'retry')"
				"   || jsonb_build_object('retry', COALESCE(s.data->'options'->'retry', '{}')"
				"        || '{\"maximum_attempts\": 0}'"
				"        || COALESCE(s.data->'options'->'compensation_options'->'retry', '{}'))"
				" FROM workflow.history c"
				" JOIN workflow.history s ON s.workflow_id = c.workflow_id AND s.run_id = c.run_id"
				"   AND s.event_type = 'ActivityScheduled' AND s.data->'seq' = c.data->'seq'"
				" WHERE c.workflow_id = $1 AND c.run_id = $2 AND c.event_type = 'ActivityCompleted'"
				"   AND NOT c.data @> '{\"is_compensation\": true}'"
				"   AND s.data ? 'compensation'"
				"   AND NOT EXISTS (SELECT 1 FROM workflow.history d"
				"     WHERE d.workflow_id = c.workflow_id AND d.run_id = c.run_id"
				"       AND d.event_type = 'ActivityCompleted' AND d.data->'seq' = c.data->'seq'"
				"       AND d.data @> '{\"is_compensation\": true}')"
				" ORDER BY c.event_id DESC LIMIT 1",
				2, types, values, NULL, 1) == 0)
	{
		if (first)
			close_failed(run, run->error, NULL);
		else
			close_compensated(run);
		return;
	}

	seq = DatumGetInt32(wf_get_datum(0, 1, &isnull));
	activity = wf_get_text(0, 2);
	queue = wf_get_text(0, 3);
	input = wf_get_jsonb(0, 4);
	options = wf_get_jsonb(0, 5);

	task_id = wf_schedule_task(run, seq, true, activity, queue, input, options, &activity_id);
	wf_event_begin(&b);
	wf_event_int(&b, WF_KEY_SEQ, seq);
	wf_event_str(&b, WF_KEY_ACTIVITY, activity);
	wf_event_str(&b, WF_KEY_QUEUE, queue);
	wf_event_jsonb(&b, WF_KEY_INPUT, input);
	wf_event_int(&b, WF_KEY_TASK_ID, task_id);
	wf_event_str(&b, WF_KEY_ACTIVITY_ID, activity_id);
	wf_event_bool(&b, WF_KEY_IS_COMPENSATION, true);
	wf_append_event(run, WF_EV_COMPENSATION_SCHEDULED, wf_event_data(&b));
	wf_update_run(run);
}

/* End a run at once, without code or compensations. */
void
wf_terminate_run(WfRun *run, WfEventType event_type, WfRunStatus status, const char *reason)
{
	WfEvent		b;

	withdraw_pending(run);
	wf_event_begin(&b);
	wf_event_str(&b, WF_KEY_REASON, reason);
	wf_append_event(run, event_type, wf_event_data(&b));
	wf_end_run(run, status, NULL, NULL);
}
