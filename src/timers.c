/*-------------------------------------------------------------------------
 * timers.c
 *	  Durable timers (workflow.sleep), fired by the scheduler or tick().
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"

#include "workflow.h"

static SPIPlanPtr insert_plan;
static SPIPlanPtr delete_plan;
static SPIPlanPtr delete_all_plan;
static SPIPlanPtr due_plan;

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

/* Fire up to batch timers that are due; returns how many fired. */
int
wf_tick_timers(TimestampTz now, int batch)
{
	Oid			types[2] = {TIMESTAMPTZOID, INT4OID};
	Datum		values[2] = {TimestampTzGetDatum(now), Int32GetDatum(batch)};
	int			n,
				i,
				fired = 0;
	char	  **wfids;
	Datum	   *runids;
	int		   *seqs;

	n = wf_exec(&due_plan,
				"SELECT workflow_id, run_id, seq FROM workflow.timers"
				" WHERE fire_at <= $1 ORDER BY fire_at LIMIT $2",
				2, types, values, NULL, 0);
	seqs = palloc(sizeof(int) * (n + 1));
	for (i = 0; i < n; i++)
	{
		bool		isnull;

		seqs[i] = DatumGetInt32(wf_get_datum(i, 3, &isnull));
	}
	wf_copy_run_ids(n, 1, &wfids, &runids);
	for (i = 0; i < n; i++)
	{
		WfRun	   *run = wf_lock_run_by_id(wfids[i], runids[i], true);
		WfJson		b;

		/* Locked by someone else: the next tick gets it. */
		if (run == NULL || !wf_cancel_timer(run, seqs[i]))
			continue;
		fired++;
		if (!wf_run_is_open(run))
			continue;
		wf_json_begin(&b);
		wf_json_int(&b, "seq", seqs[i]);
		wf_append_event(run, "TimerFired", wf_json_end(&b));
		wf_advance(run);
	}
	return fired;
}

