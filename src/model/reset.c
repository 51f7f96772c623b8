/*-------------------------------------------------------------------------
 * reset.c
 *	  Temporal's reset (workflow.reset_workflow): a new run of the same
 *	  workflow_id whose history is a kept prefix of the latest run's.
 *
 * The reset point is an event where a result reached the code (an
 * activity's outcome, a fired timer, a received signal, a child's outcome)
 * or 1, the start.  It must come before the code ended (before the first
 * compensation, the final event or a cancellation request) and leave no
 * child workflow in flight (a child run belongs to its parent run: it
 * cannot be handed over).  The new run is rebuilt from the prefix by
 * replay; activities and timers the code had started and whose outcome
 * came after the point are scheduled again for the new run as they were
 * (a fresh task, attempt 1; the timer's fire_at); what the code did after
 * the point is scheduled again by the replay, with the function as it is
 * now.
 *
 * The new run:
 *	 - WorkflowStarted carries the old run's start data and reset_from
 *	   {run_id, event_id}; the events after it, up to the point, are copied
 *	   (same types and data, so the same event ids for a run that was never
 *	   queued: a queued run's WorkflowQueued is not copied);
 *	 - signals: Temporal re-applies the signals received after the point,
 *	   and so do we: they are appended (SignalReceived, "reapplied": true)
 *	   and buffered, with those of the prefix the code had not consumed;
 *	 - takes over the old run's place: its parent, its slot under the
 *	   type's limits, its workflow_id (a schedule's fire keeps its id).
 *
 * The old run, if open, ends "terminated" (tasks and timers withdrawn, no
 * compensation runs, open children terminated) without telling its
 * parent: for the parent the new run is the same child.  A closed run is
 * left as it is.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "lib/stringinfo.h"

#include "model/model.h"

/* At most this many valid points are listed in an error. */
#define RESET_POINTS_LISTED 50

static SPIPlanPtr latest_run_plan;
static SPIPlanPtr points_plan;
static SPIPlanPtr started_plan;
static SPIPlanPtr prefix_plan;
static SPIPlanPtr signals_plan;
static SPIPlanPtr buffer_signal_plan;
static SPIPlanPtr in_flight_plan;

/*
 * The valid reset points of a run, ascending: see the file header.  A
 * point is valid when no child (by its seq) is started at or before it
 * without its outcome at or before it.
 */
static int
reset_points(WfRun *run, int64 **points)
{
	Oid			types[2] = {TEXTOID, UUIDOID};
	Datum		values[2] = {CStringGetTextDatum(run->workflow_id), run->run_id};
	int			n,
				i;
	bool		isnull;

	n = wf_exec(&points_plan,
				"WITH ev AS MATERIALIZED ("
				"  SELECT event_id, event_type, data,"
				"    data ? 'seq' AND NOT data @> '{\"is_compensation\": true}'"
				"      AND COALESCE(data->>'final', 'true') = 'true'"
				"      AND event_type IN ('ActivityCompleted', 'ActivityFailed', 'ActivityTimedOut',"
				"        'ActivityCancelled', 'TimerFired', 'TimerCancelled', 'ChildWorkflowCompleted',"
				"        'ChildWorkflowFailed', 'ChildWorkflowCancelled', 'SignalConsumed') AS resolves"
				"  FROM workflow.history WHERE workflow_id = $1 AND run_id = $2),"
				" code_end AS (SELECT COALESCE(min(event_id), 9223372036854775807::int8) AS id FROM ev"
				"  WHERE event_type IN ('WorkflowCompleted', 'WorkflowFailed', 'WorkflowCompensated',"
				"    'WorkflowCancelled', 'WorkflowTerminated', 'WorkflowTimedOut',"
				"    'WorkflowContinuedAsNew', 'CompensationScheduled', 'WorkflowCancelRequested')),"
				" started AS (SELECT min(event_id) AS id FROM ev WHERE event_type = 'WorkflowStarted')"
				" SELECT p.event_id FROM ev p, code_end, started"
				" WHERE p.event_id < code_end.id"
				"   AND (p.event_id = 1 OR (p.event_id > started.id AND"
				"     ((p.resolves AND p.event_type <> 'SignalConsumed')"
				"      OR p.event_type = 'SignalReceived')))"
				"   AND NOT EXISTS (SELECT 1 FROM ev o"
				"     WHERE o.event_id <= p.event_id AND o.data ? 'seq'"
				"       AND o.event_type = 'ChildWorkflowStarted'"
				"       AND NOT EXISTS (SELECT 1 FROM ev r WHERE r.event_id <= p.event_id"
				"         AND r.resolves AND r.data->'seq' = o.data->'seq'))"
				" ORDER BY 1",
				2, types, values, NULL, 0);
	*points = palloc(sizeof(int64) * (n + 1));
	for (i = 0; i < n; i++)
		(*points)[i] = DatumGetInt64(wf_get_datum(i, 1, &isnull));
	return n;
}

/* The valid points as text ("1, 7, 10"), the first RESET_POINTS_LISTED of them. */
static char *
points_text(int64 *points, int n)
{
	StringInfoData s;
	int			i;

	initStringInfo(&s);
	for (i = 0; i < n && i < RESET_POINTS_LISTED; i++)
		appendStringInfo(&s, "%s" INT64_FORMAT, i > 0 ? ", " : "", points[i]);
	if (n > RESET_POINTS_LISTED)
		appendStringInfo(&s, " and %d more", n - RESET_POINTS_LISTED);
	return s.data;
}

/* Refuse event_id unless it is a valid point of the run. */
static void
check_reset_point(WfRun *run, int64 event_id)
{
	int64	   *points;
	int			n = reset_points(run, &points);
	int			i;

	if (event_id < 1 || event_id > run->last_event_id)
		ereport(ERROR,
				(errcode(ERRCODE_WF_UNUSABLE),
				 errmsg("event " INT64_FORMAT " is not in the history of workflow \"%s\"",
						event_id, run->workflow_id),
				 errdetail("Its latest run has events 1 to " INT64_FORMAT "; the valid reset points are %s.",
						   run->last_event_id, points_text(points, n)),
				 errhint("Pass one of the valid reset points.")));
	for (i = 0; i < n; i++)
		if (points[i] == event_id)
			return;
	ereport(ERROR,
			(errcode(ERRCODE_WF_UNUSABLE),
			 errmsg("event " INT64_FORMAT " of workflow \"%s\" is not a reset point",
					event_id, run->workflow_id),
			 errdetail("The valid reset points are %s.", points_text(points, n)),
			 errhint("Reset to 1 (the start), or to an event where a result reached the code "
					 "(ActivityCompleted, a final ActivityFailed, TimerFired, SignalReceived, a child's outcome) "
					 "while no child workflow was in flight, before it ended or was asked to cancel.")));
}

/*
 * Lock the latest run of workflow_id, open or closed; refuse an unknown
 * id and a caller who is neither a member of the run's owner nor the
 * extension owner.
 */
static WfRun *
lock_latest_run(const char *workflow_id, Oid caller)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(workflow_id)};
	char	  **ids;
	Datum	   *run_ids;
	WfRun	   *run;

	if (wf_exec(&latest_run_plan,
				"SELECT workflow_id, run_id FROM workflow.workflows WHERE workflow_id = $1"
				" ORDER BY " WF_LATEST_RUN_ORDER " LIMIT 1",
				1, types, values, NULL, 1) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("workflow \"%s\" does not exist", workflow_id),
				 errhint("Check the id in workflow.workflows.")));
	wf_copy_run_ids(1, 1, &ids, &run_ids);
	run = wf_lock_run_by_id(ids[0], run_ids[0], false);
	if (run == NULL)
		elog(ERROR, "run of workflow \"%s\" vanished", workflow_id);
	if (!has_privs_of_role(caller, run->owner) && caller != wf_extension_owner())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for workflow \"%s\"", workflow_id),
				 errhint("Only its owner, role \"%s\", a member of it, or the extension's owner may reset it.",
						 GetUserNameFromId(run->owner, false))));
	if (run->status == WF_RUN_QUEUED)
		ereport(ERROR,
				(errcode(ERRCODE_WF_UNUSABLE),
				 errmsg("workflow \"%s\" is queued and has not started", workflow_id),
				 errdetail("A queued run has run no code: there is nothing to reset."),
				 errhint("Wait for it to start, or cancel it with workflow.cancel_workflow.")));
	return run;
}

/* The data and id of the old run's WorkflowStarted. */
static Jsonb *
started_event(WfRun *run, int64 *event_id)
{
	Oid			types[2] = {TEXTOID, UUIDOID};
	Datum		values[2] = {CStringGetTextDatum(run->workflow_id), run->run_id};
	bool		isnull;

	if (wf_exec(&started_plan,
				"SELECT event_id, data FROM workflow.history"
				" WHERE workflow_id = $1 AND run_id = $2 AND event_type = 'WorkflowStarted'"
				" ORDER BY event_id LIMIT 1",
				2, types, values, NULL, 1) != 1)
		elog(ERROR, "run of workflow \"%s\" has no WorkflowStarted event", run->workflow_id);
	*event_id = DatumGetInt64(wf_get_datum(0, 1, &isnull));
	return wf_get_jsonb(0, 2);
}

/* The started data with reset_from {run_id, event_id}. */
static Jsonb *
with_reset_from(Jsonb *started, WfRun *old, int64 event_id)
{
	WfJson		from;
	WfEvent		b;

	wf_json_begin(&from);
	wf_json_str(&from, "run_id", wf_uuid_out(old->run_id));
	wf_json_int(&from, "event_id", event_id);
	wf_event_begin(&b);
	wf_event_jsonb(&b, WF_KEY_RESET_FROM, wf_json_end(&from));
	return DatumGetJsonbP(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(started),
											  JsonbPGetDatum(wf_event_data(&b))));
}

/*
 * The rows of the last statement as (text, jsonb) pairs, copied out of
 * SPI's result before the caller runs statements of its own.
 */
static int
text_jsonb_rows(int n, char ***texts, Jsonb ***data)
{
	int			i;

	*texts = palloc(sizeof(char *) * (n + 1));
	*data = palloc(sizeof(Jsonb *) * (n + 1));
	for (i = 0; i < n; i++)
	{
		(*texts)[i] = wf_get_text(i, 1);
		(*data)[i] = wf_get_jsonb(i, 2);
	}
	return n;
}

/* Copy the old run's events after its WorkflowStarted, up to event_id, to the new run. */
static void
copy_prefix(WfRun *old, WfRun *run, int64 from, int64 to)
{
	Oid			types[4] = {TEXTOID, UUIDOID, INT8OID, INT8OID};
	Datum		values[4] = {CStringGetTextDatum(old->workflow_id), old->run_id,
	Int64GetDatum(from), Int64GetDatum(to)};
	int			n,
				i;
	char	  **names;
	Jsonb	  **data;

	n = wf_exec(&prefix_plan,
				"SELECT event_type, data FROM workflow.history"
				" WHERE workflow_id = $1 AND run_id = $2 AND event_id > $3 AND event_id <= $4"
				" ORDER BY event_id",
				4, types, values, NULL, 0);
	n = text_jsonb_rows(n, &names, &data);
	for (i = 0; i < n; i++)
	{
		WfEventType type;

		if (!wf_event_type_of(names[i], &type))
			elog(ERROR, "unknown event type \"%s\" in the history of workflow \"%s\"",
				 names[i], old->workflow_id);
		wf_append_event(run, type, data[i]);
	}
}

/*
 * Schedule again for the new run the activities and timers the code had
 * started by the point and whose outcome came after it: the replay finds
 * them pending in the prefix and waits for them.
 */
static void
resume_in_flight(WfRun *old, WfRun *run, int64 point)
{
	Oid			types[3] = {TEXTOID, UUIDOID, INT8OID};
	Datum		values[3] = {CStringGetTextDatum(old->workflow_id), old->run_id,
	Int64GetDatum(point)};
	int			n,
				i;
	char	  **kinds;
	Jsonb	  **data;

	n = wf_exec(&in_flight_plan,
				"SELECT o.event_type, o.data FROM workflow.history o"
				" WHERE o.workflow_id = $1 AND o.run_id = $2 AND o.event_id <= $3 AND o.data ? 'seq'"
				"   AND o.event_type IN ('ActivityScheduled', 'TimerStarted')"
				"   AND NOT EXISTS (SELECT 1 FROM workflow.history r"
				"     WHERE r.workflow_id = $1 AND r.run_id = $2 AND r.event_id <= $3"
				"       AND r.data->'seq' = o.data->'seq' AND NOT r.data @> '{\"is_compensation\": true}'"
				"       AND COALESCE(r.data->>'final', 'true') = 'true'"
				"       AND r.event_type IN ('ActivityCompleted', 'ActivityFailed', 'ActivityTimedOut',"
				"         'ActivityCancelled', 'TimerFired', 'TimerCancelled', 'SignalConsumed'))"
				" ORDER BY o.event_id",
				3, types, values, NULL, 0);
	n = text_jsonb_rows(n, &kinds, &data);
	for (i = 0; i < n; i++)
	{
		int			seq = atoi(wf_event_text(data[i], WF_KEY_SEQ));
		char	   *activity_id;

		if (strcmp(kinds[i], "TimerStarted") == 0)
			wf_start_timer(run, seq,
						   DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in,
																   CStringGetDatum(wf_event_text(data[i], WF_KEY_FIRE_AT)),
																   ObjectIdGetDatum(InvalidOid),
																   Int32GetDatum(-1))));
		else
			(void) wf_schedule_task(run, seq, false, wf_event_text(data[i], WF_KEY_ACTIVITY),
									wf_event_text(data[i], WF_KEY_QUEUE),
									wf_event_value(data[i], WF_KEY_INPUT),
									wf_event_value(data[i], WF_KEY_OPTIONS), &activity_id);
	}
}

/*
 * Buffer for the new run the signals it has not consumed: those received
 * up to the point and not consumed by then, and those received after it
 * (re-applied: appended as SignalReceived), in arrival order.
 */
static void
reapply_signals(WfRun *old, WfRun *run, int64 point)
{
	Oid			types[3] = {TEXTOID, UUIDOID, INT8OID};
	Datum		values[3] = {CStringGetTextDatum(old->workflow_id), old->run_id,
	Int64GetDatum(point)};
	int			n,
				i;
	char	  **names;
	Jsonb	  **payloads;
	char	  **sent_by;
	bool	   *after;

	n = wf_exec(&signals_plan,
				"SELECT r.data->>'signal', r.data->'payload', r.data->>'sent_by', r.event_id > $3"
				" FROM workflow.history r"
				" WHERE r.workflow_id = $1 AND r.run_id = $2 AND r.event_type = 'SignalReceived'"
				"   AND NOT EXISTS (SELECT 1 FROM workflow.history c"
				"     WHERE c.workflow_id = $1 AND c.run_id = $2 AND c.event_type = 'SignalConsumed'"
				"       AND c.event_id <= $3 AND c.data->'signal_id' = r.data->'signal_id')"
				" ORDER BY r.event_id",
				3, types, values, NULL, 0);
	names = palloc(sizeof(char *) * (n + 1));
	payloads = palloc(sizeof(Jsonb *) * (n + 1));
	sent_by = palloc(sizeof(char *) * (n + 1));
	after = palloc(sizeof(bool) * (n + 1));
	for (i = 0; i < n; i++)
	{
		bool		isnull;

		names[i] = wf_get_text(i, 1);
		payloads[i] = wf_get_jsonb(i, 2);
		sent_by[i] = wf_get_text(i, 3);
		after[i] = DatumGetBool(wf_get_datum(i, 4, &isnull));
	}
	for (i = 0; i < n; i++)
	{
		Oid			btypes[4] = {TEXTOID, UUIDOID, TEXTOID, JSONBOID};
		Datum		bvalues[4] = {CStringGetTextDatum(run->workflow_id), run->run_id,
		CStringGetTextDatum(names[i]), payloads[i] ? JsonbPGetDatum(payloads[i]) : (Datum) 0};
		char		bnulls[4] = {' ', ' ', ' ', payloads[i] ? ' ' : 'n'};
		bool		isnull;
		WfEvent		b;

		wf_exec(&buffer_signal_plan,
				"INSERT INTO workflow.signals (workflow_id, run_id, signal, payload)"
				" VALUES ($1, $2, $3, $4) RETURNING signal_id",
				4, btypes, bvalues, bnulls, 0);
		if (!after[i])
			continue;
		wf_event_begin(&b);
		wf_event_str(&b, WF_KEY_SIGNAL, names[i]);
		wf_event_jsonb(&b, WF_KEY_PAYLOAD, payloads[i]);
		wf_event_int(&b, WF_KEY_SIGNAL_ID, DatumGetInt64(wf_get_datum(0, 1, &isnull)));
		wf_event_str(&b, WF_KEY_SENT_BY, sent_by[i]);
		wf_event_bool(&b, WF_KEY_REAPPLIED, true);
		wf_append_event(run, WF_EV_SIGNAL_RECEIVED, wf_event_data(&b));
	}
}

/*
 * Reset workflow_id to event_id of its latest run, for caller: returns the
 * new run's id.  The new run is woken; the caller's frame advances it.
 */
Datum
wf_reset_run(const char *workflow_id, int64 event_id, const char *reason, Oid caller)
{
	WfRun	   *old = lock_latest_run(workflow_id, caller);
	Datum		new_run_id = DirectFunctionCall1(gen_random_uuid, (Datum) 0);
	int64		started_id;
	Jsonb	   *started;
	int64		point;
	WfRunSpec	spec;
	WfRun	   *run;

	wf_flush_events();
	check_reset_point(old, event_id);
	started = started_event(old, &started_id);
	point = Max(event_id, started_id);

	if (wf_run_is_open(old))
	{
		old->replaced = true;
		wf_terminate_run(old, WF_EV_WORKFLOW_TERMINATED, WF_RUN_TERMINATED,
						 psprintf("reset to event " INT64_FORMAT " by %s: new run %s%s%s",
								  event_id, GetUserNameFromId(caller, false),
								  wf_uuid_out(new_run_id), reason ? ": " : "",
								  reason ? reason : ""));
	}

	memset(&spec, 0, sizeof(spec));
	spec.workflow_id = old->workflow_id;
	spec.workflow_type = old->workflow_type;
	spec.input = old->input;
	spec.queue = old->queue;
	spec.options = old->options;
	spec.owner = old->owner;
	spec.started_by = wf_event_text(started, WF_KEY_STARTED_BY);
	spec.parent_workflow_id = old->parent_workflow_id;
	spec.parent_run_id = old->parent_run_id;
	spec.run_id = new_run_id;
	spec.admitted = true;
	spec.started_data = with_reset_from(started, old, event_id);
	run = wf_create_run(&spec);
	if (run == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_WF_ALREADY_RUNNING),
				 errmsg("workflow \"%s\" is already running", workflow_id),
				 errdetail("Another run of it was started while the reset was under way."),
				 errhint("Reset that run instead.")));
	copy_prefix(old, run, started_id, point);
	resume_in_flight(old, run, point);
	reapply_signals(old, run, point);
	return new_run_id;
}
