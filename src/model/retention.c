/*-------------------------------------------------------------------------
 * retention.c
 *	  Deleting closed runs: workflow.retention, the type option retention,
 *	  and workflow.purge().
 *
 * A closed run goes with everything keyed by it: its row, history, state,
 * signals, timers, tasks (a late report of one is then refused as stale),
 * kept reports and the child notices it was to receive.  Runs are deleted
 * in batches of RETENTION_BATCH, oldest closed first, the rows locked
 * SKIP LOCKED (a run someone else holds is left for the next batch), each
 * batch one statement; the scheduler commits each batch on its own, so no
 * lock is held long and autovacuum can follow.
 *
 * Which closed runs may go (the family rule):
 *   - not one that still has an open child: the child's end looks for it;
 *   - not a child whose outcome its parent has not received yet (a row in
 *     child_notices);
 *   - a closed child of an open parent may go: the parent's history holds
 *     the child's outcome, and the engine never reads a closed child.
 *
 * The retention of a run is its type's option retention if the type has
 * one (0 keeps that type's runs forever), else workflow.retention (0, the
 * default: keep forever).  The scheduler finds candidates per type through
 * workflows_closed_idx (workflow_type, closed_at), so a type kept forever
 * costs nothing however many runs it has.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "model/model.h"

/* workflow.retention, in seconds; 0 keeps closed runs forever. */
int			wf_retention_s = 0;

/* Runs deleted per batch (one statement, and one transaction in the scheduler). */
#define RETENTION_BATCH 500

static SPIPlanPtr delete_plan;
static SPIPlanPtr cutoffs_plan;

/*
 * Delete up to RETENTION_BATCH closed runs of a type closed before cutoff
 * (of runs whose owner role may act as, when role is valid); returns how
 * many.  The batch size is a constant of the statement, so that even the
 * generic plan joins the few runs to the large tables by their keys.
 */
static int
delete_batch(const char *type, TimestampTz cutoff, Oid role)
{
	Oid			types[3] = {TEXTOID, TIMESTAMPTZOID, OIDOID};
	Datum		values[3] = {CStringGetTextDatum(type), TimestampTzGetDatum(cutoff),
	ObjectIdGetDatum(role)};
	char		nulls[3] = {' ', ' ', OidIsValid(role) ? ' ' : 'n'};
	bool		isnull;

	wf_exec(&delete_plan,
			"WITH v AS MATERIALIZED (SELECT w.workflow_id, w.run_id FROM workflow.workflows w"
			"   WHERE w.workflow_type = $1 AND w.closed_at IS NOT NULL AND w.closed_at < $2"
			"     AND ($3 IS NULL OR pg_has_role($3, w.owner, 'USAGE'))"
			"     AND NOT (w.has_children AND EXISTS (SELECT FROM workflow.workflows c"
			"       WHERE c.parent_workflow_id = w.workflow_id AND c.parent_run_id = w.run_id"
			"         AND c.closed_at IS NULL))"
			"     AND NOT (w.parent_workflow_id IS NOT NULL AND EXISTS (SELECT FROM workflow.child_notices n"
			"       WHERE n.workflow_id = w.parent_workflow_id AND n.run_id = w.parent_run_id"
			"         AND n.child_workflow_id = w.workflow_id))"
			"   ORDER BY w.closed_at LIMIT " CppAsString2(RETENTION_BATCH)
			"   FOR UPDATE OF w SKIP LOCKED),"
			" h AS (DELETE FROM workflow.history x USING v"
			"   WHERE x.workflow_id = v.workflow_id AND x.run_id = v.run_id),"
			" s AS (DELETE FROM workflow.state x USING v"
			"   WHERE x.workflow_id = v.workflow_id AND x.run_id = v.run_id),"
			" g AS (DELETE FROM workflow.signals x USING v"
			"   WHERE x.workflow_id = v.workflow_id AND x.run_id = v.run_id),"
			" t AS (DELETE FROM workflow.timers x USING v"
			"   WHERE x.workflow_id = v.workflow_id AND x.run_id = v.run_id),"
			" k AS (DELETE FROM workflow.tasks x USING v"
			"   WHERE x.workflow_id = v.workflow_id AND x.run_id = v.run_id),"
			" r AS (DELETE FROM workflow.task_reports x USING v"
			"   WHERE x.workflow_id = v.workflow_id AND x.run_id = v.run_id),"
			" n AS (DELETE FROM workflow.child_notices x USING v"
			"   WHERE x.workflow_id = v.workflow_id AND x.run_id = v.run_id),"
			" d AS (DELETE FROM workflow.workflows x USING v"
			"   WHERE x.workflow_id = v.workflow_id AND x.run_id = v.run_id RETURNING 1)"
			" SELECT count(*)::int4 FROM d",
			3, types, values, nulls, 1);
	return DatumGetInt32(wf_get_datum(0, 1, &isnull));
}

/*
 * The types whose runs may be deleted, each with its cutoff (now less its
 * retention), into *types_out and *cutoffs_out; returns how many.
 */
static int
retention_cutoffs(TimestampTz now, char ***types_out, TimestampTz **cutoffs_out)
{
	Oid			types[2] = {TIMESTAMPTZOID, INT4OID};
	Datum		values[2] = {TimestampTzGetDatum(now), Int32GetDatum(wf_retention_s)};
	int			n;
	int			i;
	bool		isnull;

	n = wf_exec(&cutoffs_plan,
				"SELECT workflow_type, $1 - r FROM (SELECT workflow_type,"
				"   COALESCE((options->>'retention')::interval, make_interval(secs => $2)) r"
				"   FROM workflow.workflow_types) t"
				" WHERE r > '0'::interval ORDER BY workflow_type",
				2, types, values, NULL, 0);
	*types_out = palloc(sizeof(char *) * Max(n, 1));
	*cutoffs_out = palloc(sizeof(TimestampTz) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		(*types_out)[i] = wf_get_text(i, 1);
		(*cutoffs_out)[i] = DatumGetTimestampTz(wf_get_datum(i, 2, &isnull));
	}
	return n;
}

/*
 * The scheduler's retention: one batch (at most RETENTION_BATCH runs in
 * all) of closed runs past their retention.  Returns how many were
 * deleted; *more is set when there may be more to delete now.
 */
int
wf_apply_retention(TimestampTz now, bool *more)
{
	char	  **types;
	TimestampTz *cutoffs;
	int			n = retention_cutoffs(now, &types, &cutoffs);
	int			deleted = 0;
	int			i;

	*more = false;
	for (i = 0; i < n && deleted < RETENTION_BATCH; i++)
	{
		int			got = delete_batch(types[i], cutoffs[i], InvalidOid);

		deleted += got;
		*more |= got == RETENTION_BATCH;
	}
	*more |= deleted >= RETENTION_BATCH;
	return deleted;
}

/*
 * workflow.purge(older_than): delete now the closed runs closed more than
 * older_than ago, of the roles the caller may act as (every role's for the
 * extension owner or a superuser), whatever the retention settings; the
 * family rule applies.  Returns how many runs were deleted.
 */
int64
wf_purge_runs(Interval *older_than, Oid caller)
{
	static SPIPlanPtr all_types_plan;
	TimestampTz cutoff;
	Oid			role = caller;
	int64		total = 0;
	char	  **type_names;
	int			n;
	int			i;

	if (superuser_arg(caller) || has_privs_of_role(caller, wf_extension_owner()))
		role = InvalidOid;
	cutoff = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval,
													 TimestampTzGetDatum(wf_now()),
													 IntervalPGetDatum(older_than)));
	n = wf_exec(&all_types_plan,
				"SELECT workflow_type FROM workflow.workflow_types ORDER BY workflow_type",
				0, NULL, NULL, NULL, 0);
	type_names = palloc(sizeof(char *) * Max(n, 1));
	for (i = 0; i < n; i++)
		type_names[i] = wf_get_text(i, 1);
	for (i = 0; i < n; i++)
	{
		int			got;

		do
		{
			CHECK_FOR_INTERRUPTS();
			got = delete_batch(type_names[i], cutoff, role);
			total += got;
		} while (got == RETENTION_BATCH);
	}
	return total;
}

/* Check the type option retention: an interval, zero (keep forever) or more. */
void
wf_check_retention_option(Jsonb *options)
{
	char	   *text = wf_jsonb_get_text(options, "retention");

	if (text != NULL)
		(void) wf_parse_interval_or_zero(text, "retention");
}
