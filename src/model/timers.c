/*-------------------------------------------------------------------------
 * timers.c
 *	  Durable timers (workflow.sleep), fired by the scheduler or tick().
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"

#include "model/model.h"

static SPIPlanPtr insert_plan;
static SPIPlanPtr delete_plan;
static SPIPlanPtr delete_all_plan;
static SPIPlanPtr due_plan;
static SPIPlanPtr postpone_plan;

/* Start a timer for the run's command seq. */
void
wf_start_timer(WfRun *run, int seq, TimestampTz fire_at)
{
	Oid			types[4] = {TEXTOID, UUIDOID, INT4OID, TIMESTAMPTZOID};
	Datum		values[4] = {CStringGetTextDatum(run->workflow_id), run->run_id,
	Int32GetDatum(seq), TimestampTzGetDatum(fire_at)};

	wf_exec(&insert_plan,
			"INSERT INTO workflow.timers (workflow_id, run_id, seq, fire_at) VALUES ($1, $2, $3, $4)",
			4, types, values, NULL, 0);
	wf_note_due(fire_at);
}

/* Remove the timer of seq; true if it was still there. */
bool
wf_cancel_timer(WfRun *run, int seq)
{
	Oid			types[3] = {TEXTOID, UUIDOID, INT4OID};
	Datum		values[3] = {CStringGetTextDatum(run->workflow_id), run->run_id, Int32GetDatum(seq)};

	return wf_exec(&delete_plan,
				   "DELETE FROM workflow.timers WHERE workflow_id = $1 AND run_id = $2 AND seq = $3",
				   3, types, values, NULL, 0) == 1;
}

/* Remove every timer of the run. */
void
wf_cancel_all_timers(WfRun *run)
{
	Oid			types[2] = {TEXTOID, UUIDOID};
	Datum		values[2] = {CStringGetTextDatum(run->workflow_id), run->run_id};

	wf_exec(&delete_all_plan,
			"DELETE FROM workflow.timers WHERE workflow_id = $1 AND run_id = $2",
			2, types, values, NULL, 0);
}

/* Up to batch timers that are due, as WfDueItems, earliest first. */
List *
wf_due_timers(TimestampTz now, int batch)
{
	return wf_due_items(&due_plan,
						"SELECT workflow_id, run_id, seq::int8 FROM workflow.timers"
						" WHERE fire_at <= $1 ORDER BY fire_at LIMIT $2",
						now, batch, WF_DUE_TIMER);
}

/*
 * Fire one due timer; returns 1 if it fired (or was an orphan, removed), 0
 * if another session holds its run.
 */
int
wf_fire_timer(WfDueItem *item)
{
	WfRun	   *run = wf_lock_run_by_id(item->workflow_id, item->run_id, true);
	WfEvent		b;

	if (run == NULL)
	{
		WfRun		orphan = {0};

		/* Locked by someone else: the next tick gets it. */
		if (wf_run_exists(item->workflow_id, item->run_id))
			return 0;
		/* An orphan (its run is gone): drop it. */
		orphan.workflow_id = item->workflow_id;
		orphan.run_id = item->run_id;
		(void) wf_cancel_timer(&orphan, (int) item->key);
		return 1;
	}
	if (!wf_cancel_timer(run, (int) item->key))
		return 0;
	if (!wf_run_is_open(run))
		return 1;
	wf_event_begin(&b);
	wf_event_int(&b, WF_KEY_SEQ, item->key);
	wf_append_event(run, WF_EV_TIMER_FIRED, wf_event_data(&b));
	wf_wake_run(run);
	return 1;
}

/* Retry a timer that could not be fired at at. */
void
wf_postpone_timer(WfDueItem *item, TimestampTz at)
{
	Oid			types[4] = {TEXTOID, UUIDOID, INT4OID, TIMESTAMPTZOID};
	Datum		values[4] = {CStringGetTextDatum(item->workflow_id), item->run_id,
	Int32GetDatum((int) item->key), TimestampTzGetDatum(at)};

	wf_exec(&postpone_plan,
			"UPDATE workflow.timers SET fire_at = $4"
			" WHERE workflow_id = $1 AND run_id = $2 AND seq = $3",
			4, types, values, NULL, 0);
}
