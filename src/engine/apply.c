/*-------------------------------------------------------------------------
 * apply.c
 *	  The commands an attempt decides on: recorded while the code runs
 *	  (wf_cmd_activity and wf_cmd_await, shared by the activity functions
 *	  and the declarative saga), written once the attempt is over
 *	  (wf_apply_command: tasks, timers, child runs, their history events;
 *	  wf_apply_state: published state).  Writing a command may wake runs
 *	  (a child it started, the run itself when the child could not start);
 *	  never advance them.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/builtins.h"

#include "engine/engine.h"

static void apply_timer(WfRun *run, WfNewCmd *cmd);

/* May the run's owner schedule tasks on queue?  (Asked as the extension owner.) */
static void
check_produce(ReplayContext *ctx, const char *queue)
{
	WfInternal	save;

	wf_spi_enter(&save);
	wf_check_queue_produce(ctx->run->owner, queue);
	wf_spi_leave(&save);
}

/*
 * Schedule (or find in history) an activity.  Returns the history entry,
 * NULL when newly scheduled by this attempt.
 */
WfHistCmd *
wf_cmd_activity(ReplayContext *ctx, const char *activity, Jsonb *input, const char *queue,
				Jsonb *options, const char *compensation, Jsonb *compensation_input)
{
	WfHistCmd  *h;
	WfNewCmd   *c;
	MemoryContext old;

	/*
	 * A call the history already holds was checked when it was recorded:
	 * replaying it costs only the lookup (a long run replays many).
	 */
	h = wf_replay_next(ctx, WF_CMD_ACTIVITY, activity);
	if (h != NULL)
		return h;

	if (activity[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("activity name must not be empty"),
				 errhint("Name the activity your worker handles, e.g. 'ChargePayment'.")));
	wf_check_name(activity, "activity name");
	if (compensation)
		wf_check_name(compensation, "compensation activity name");
	if (queue == NULL)
		queue = ctx->run->queue;
	wf_check_queue_name(queue);
	wf_check_payload(input, "activity input");
	wf_check_payload(compensation_input, "compensation input");
	wf_validate_activity_options(options, ctx->run->options);

	wf_replay_deliver_cancel(ctx, WF_CMD_ACTIVITY, activity);
	check_produce(ctx, queue);
	if (compensation != NULL && wf_jsonb_get_text(options, "compensation_queue") != NULL)
		check_produce(ctx, wf_jsonb_get_text(options, "compensation_queue"));
	c = wf_replay_record(ctx, WF_CMD_ACTIVITY, activity);
	old = MemoryContextSwitchTo(ctx->mcxt);
	c->queue = pstrdup(queue);
	c->input = DatumGetJsonbPCopy(JsonbPGetDatum(input));
	c->options = DatumGetJsonbPCopy(JsonbPGetDatum(options));
	c->compensation = compensation ? pstrdup(compensation) : NULL;
	c->compensation_input = compensation_input ?
		DatumGetJsonbPCopy(JsonbPGetDatum(compensation_input)) : NULL;
	MemoryContextSwitchTo(old);
	return NULL;
}

/*
 * The outcome of a command the code waits for: its result, or raise its
 * failure or cancellation, or suspend.
 */
Jsonb *
wf_cmd_await(ReplayContext *ctx, WfHistCmd *h, const char *why)
{
	if (h == NULL || h->state == WF_CMD_PENDING)
	{
		if (h != NULL)
			wf_replay_deliver_cancel(ctx, h->kind, h->name);
		wf_replay_block(ctx, why);
	}
	switch (h->state)
	{
		case WF_CMD_DONE:
			/* a copy: h may belong to the history cache */
			return h->result ? DatumGetJsonbPCopy(JsonbPGetDatum(h->result)) : NULL;
		case WF_CMD_FAILED:
			wf_replay_raise_failure(h);
		case WF_CMD_CANCELLED:
			wf_replay_raise_cancelled(ctx);
		case WF_CMD_PENDING:
			break;
	}
	return NULL;				/* not reached */
}

/* Write a signal command: its timeout timer, or the consumption. */
static void
apply_signal(WfRun *run, WfNewCmd *cmd)
{
	static SPIPlanPtr plan;
	Oid			types[2] = {TEXTOID, INT8OID};
	Datum		values[2];
	WfEvent		b;

	if (cmd->signal_id == 0)
	{
		apply_timer(run, cmd);
		return;
	}
	values[0] = CStringGetTextDatum(run->workflow_id);
	values[1] = Int64GetDatum(cmd->signal_id);
	wf_exec(&plan, "DELETE FROM workflow.signals WHERE workflow_id = $1 AND signal_id = $2",
			2, types, values, NULL, 0);
	(void) wf_cancel_timer(run, cmd->seq);
	wf_event_begin(&b);
	wf_event_int(&b, WF_KEY_SEQ, cmd->seq);
	wf_event_str(&b, WF_KEY_SIGNAL, cmd->name);
	wf_event_jsonb(&b, WF_KEY_PAYLOAD, cmd->value);
	wf_event_int(&b, WF_KEY_SIGNAL_ID, cmd->signal_id);
	wf_append_event(run, WF_EV_SIGNAL_CONSUMED, wf_event_data(&b));
}

/* Write a child command: start the child, ChildWorkflowStarted in the parent. */
static void
apply_child(WfRun *run, WfNewCmd *cmd)
{
	WfRunSpec	spec;
	WfRun	   *child;
	char	   *queue;
	WfEvent		b;

	memset(&spec, 0, sizeof(spec));
	spec.workflow_id = cmd->child_id;
	spec.workflow_type = cmd->name;
	spec.input = cmd->input;
	spec.options = DatumGetJsonbP(DirectFunctionCall2(jsonb_concat,
													  JsonbPGetDatum(wf_type_options(cmd->name)),
													  JsonbPGetDatum(cmd->options)));
	queue = wf_jsonb_get_text(spec.options, "queue");
	spec.queue = queue ? queue : run->queue;
	spec.owner = run->owner;
	spec.started_by = run->workflow_id;
	spec.parent_workflow_id = run->workflow_id;
	spec.parent_run_id = run->run_id;
	child = wf_create_run(&spec);

	wf_event_begin(&b);
	wf_event_int(&b, WF_KEY_SEQ, cmd->seq);
	wf_event_str(&b, WF_KEY_WORKFLOW_TYPE, cmd->name);
	wf_event_str(&b, WF_KEY_CHILD_WORKFLOW_ID, cmd->child_id);
	if (child == NULL)
	{
		/* The id is taken by an open run: the call fails at once. */
		wf_event_str(&b, WF_KEY_ERROR, psprintf("workflow \"%s\" is already running", cmd->child_id));
		wf_append_event(run, WF_EV_CHILD_FAILED, wf_event_data(&b));
		wf_wake_run(run);
		return;
	}
	wf_event_str(&b, WF_KEY_CHILD_RUN_ID, wf_uuid_out(child->run_id));
	wf_append_event(run, WF_EV_CHILD_STARTED, wf_event_data(&b));
	wf_mark_parent(run);
}

/* History data of a cancellation delivered at a command. */
static void
apply_cancel(WfRun *run, WfNewCmd *cmd)
{
	WfEvent		b;

	wf_event_begin(&b);
	wf_event_int(&b, WF_KEY_SEQ, cmd->seq);
	wf_event_str(&b, cmd->kind == WF_CMD_ACTIVITY ? WF_KEY_ACTIVITY :
				 cmd->kind == WF_CMD_SIGNAL ? WF_KEY_SIGNAL : WF_KEY_NAME, cmd->name);
	if (cmd->kind == WF_CMD_ACTIVITY)
	{
		wf_withdraw_tasks(run, cmd->seq, false);
		wf_append_event(run, WF_EV_ACTIVITY_CANCELLED, wf_event_data(&b));
	}
	else if (cmd->kind == WF_CMD_CHILD)
		wf_append_event(run, WF_EV_CHILD_CANCELLED, wf_event_data(&b));
	else
	{
		wf_cancel_timer(run, cmd->seq);
		wf_append_event(run, WF_EV_TIMER_CANCELLED, wf_event_data(&b));
	}
}

/* Write an activity command: its task and ActivityScheduled. */
static void
apply_activity(WfRun *run, WfNewCmd *cmd)
{
	WfEvent		b;
	int64		task_id;
	char	   *activity_id;
	char	   *comp_queue = wf_jsonb_get_text(cmd->options, "compensation_queue");

	task_id = wf_schedule_task(run, cmd->seq, false, cmd->name, cmd->queue,
							   cmd->input, cmd->options, &activity_id);
	wf_event_begin(&b);
	wf_event_int(&b, WF_KEY_SEQ, cmd->seq);
	wf_event_str(&b, WF_KEY_ACTIVITY, cmd->name);
	wf_event_str(&b, WF_KEY_QUEUE, cmd->queue);
	wf_event_jsonb(&b, WF_KEY_INPUT, cmd->input);
	wf_event_int(&b, WF_KEY_TASK_ID, task_id);
	wf_event_str(&b, WF_KEY_ACTIVITY_ID, activity_id);
	wf_event_jsonb(&b, WF_KEY_OPTIONS, cmd->options);
	if (cmd->compensation)
	{
		wf_event_str(&b, WF_KEY_COMPENSATION, cmd->compensation);
		wf_event_str(&b, WF_KEY_COMPENSATION_QUEUE, comp_queue ? comp_queue : cmd->queue);
		if (cmd->compensation_input)
			wf_event_jsonb(&b, WF_KEY_COMPENSATION_INPUT, cmd->compensation_input);
	}
	wf_append_event(run, WF_EV_ACTIVITY_SCHEDULED, wf_event_data(&b));
}

/* Write a timer command: the timer and TimerStarted. */
static void
apply_timer(WfRun *run, WfNewCmd *cmd)
{
	WfEvent		b;

	wf_start_timer(run, cmd->seq, cmd->fire_at);
	wf_event_begin(&b);
	wf_event_int(&b, WF_KEY_SEQ, cmd->seq);
	wf_event_str(&b, cmd->kind == WF_CMD_SIGNAL ? WF_KEY_SIGNAL : WF_KEY_NAME, cmd->name);
	wf_event_str(&b, WF_KEY_DURATION,
				DatumGetCString(DirectFunctionCall1(interval_out,
													IntervalPGetDatum(cmd->duration))));
	wf_event_time(&b, WF_KEY_FIRE_AT, cmd->fire_at);
	wf_append_event(run, WF_EV_TIMER_STARTED, wf_event_data(&b));
}

/* Write a marker: MarkerRecorded. */
static void
apply_marker(WfRun *run, WfNewCmd *cmd)
{
	WfEvent		b;

	wf_event_begin(&b);
	wf_event_int(&b, WF_KEY_SEQ, cmd->seq);
	wf_event_str(&b, WF_KEY_MARKER, cmd->name);
	wf_event_jsonb(&b, WF_KEY_VALUE, cmd->value);
	wf_append_event(run, WF_EV_MARKER_RECORDED, wf_event_data(&b));
}

/* Write one command recorded by an attempt. */
void
wf_apply_command(WfRun *run, WfNewCmd *cmd)
{
	if (cmd->cancel)
		apply_cancel(run, cmd);
	else if (cmd->kind == WF_CMD_ACTIVITY)
		apply_activity(run, cmd);
	else if (cmd->kind == WF_CMD_TIMER)
		apply_timer(run, cmd);
	else if (cmd->kind == WF_CMD_MARKER)
		apply_marker(run, cmd);
	else if (cmd->kind == WF_CMD_SIGNAL)
		apply_signal(run, cmd);
	else if (cmd->kind == WF_CMD_CHILD)
		apply_child(run, cmd);
	else
		elog(ERROR, "unexpected command kind %d", (int) cmd->kind);
}

/* Publish the state the attempt set (last value per key wins). */
void
wf_apply_state(WfRun *run, List *updates)
{
	static SPIPlanPtr plan;
	Oid			types[5] = {TEXTOID, TEXTOID, JSONBOID, UUIDOID, TIMESTAMPTZOID};
	ListCell   *lc;

	foreach(lc, updates)
	{
		WfStateUpdate *u = lfirst(lc);
		Datum		values[5] = {CStringGetTextDatum(run->workflow_id),
			CStringGetTextDatum(u->key), u->value ? JsonbPGetDatum(u->value) : (Datum) 0,
			run->run_id, TimestampTzGetDatum(GetCurrentTimestamp())};
		char		nulls[5] = {' ', ' ', u->value ? ' ' : 'n', ' ', ' '};

		/* the clock as a value: Citus refuses volatile functions in DO UPDATE */
		wf_exec(&plan,
				"INSERT INTO workflow.state (workflow_id, run_id, key, value, updated_at)"
				" VALUES ($1, $4, $2, $3, $5)"
				" ON CONFLICT (workflow_id, run_id, key) DO UPDATE SET value = EXCLUDED.value,"
				" updated_at = EXCLUDED.updated_at",
				5, types, values, nulls, 0);
	}
}
