/*-------------------------------------------------------------------------
 * leases.c
 *	  Session-bound leases: the tasks of a claiming session that ended
 *	  without reporting become failed attempts at once.
 *
 * A claim records the claiming backend (pid and start time, see
 * core/sessions.c).  When that session ends, the schedulers take its end
 * from shared memory and mark each task it still holds (status 'running',
 * same pid and start time) session_ended and due now; the due task is
 * then failed as any lost lease is (tasks.c, tick_task): ActivityFailed,
 * error "worker session ended", retryable, following the retry policy.
 * Only the identity of a session that has ended is ever matched, so a
 * live session's tasks -- however slow -- are never touched.
 *
 * A task row another session holds (a report being written) is skipped,
 * and the end kept for the next pass: the report either removes the task
 * or, rolled back, leaves it to be failed then.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "model/model.h"

/* workflow.session_leases: claims record their session. */
bool		wf_session_leases = true;

/* Ended sessions taken per pass. */
#define ENDED_BATCH 64

static SPIPlanPtr mark_plan;
static SPIPlanPtr left_plan;

/*
 * The session a claim should record, as the claim's parameters (both NULL
 * when leases are off for this session, or no end could be announced).
 */
void
wf_claim_session(Datum *pid, Datum *started, bool *known)
{
	int			p;
	TimestampTz s;

	*known = wf_session_leases && wf_session_claims(&p, &s);
	*pid = *known ? Int32GetDatum(p) : (Datum) 0;
	*started = *known ? TimestampTzGetDatum(s) : (Datum) 0;
}

#define MARK_SESSION_TASKS \
	"UPDATE workflow.tasks SET session_ended = true, due_at = $3" \
	" WHERE task_id = ANY (ARRAY(SELECT task_id FROM workflow.tasks" \
	"   WHERE claimed_pid = $1 AND claimed_session_start = $2" \
	"     AND status = 'running' AND NOT session_ended" \
	"   FOR UPDATE SKIP LOCKED))"
#define SESSION_TASKS_LEFT \
	"SELECT count(*) FROM workflow.tasks WHERE claimed_pid = $1" \
	"   AND claimed_session_start = $2 AND status = 'running' AND NOT session_ended"

/*
 * Under Citus: the same on each of this node's shards of workflow.tasks,
 * the only ones a session of this node claimed from (model/tasks.c).
 */
static bool
mark_session_tasks_on_shards(List *shards, Oid *types, Datum *values, int *marked)
{
	ListCell   *lc;
	bool		isnull;
	int64		left = 0;

	foreach(lc, shards)
	{
		const char *shard = lfirst(lc);

		if (SPI_execute_with_args(wf_citus_on_shard(MARK_SESSION_TASKS, "workflow.tasks", shard),
								  3, types, values, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "marking the tasks of an ended session on %s failed", shard);
		*marked += (int) SPI_processed;
		if (SPI_execute_with_args(wf_citus_on_shard(SESSION_TASKS_LEFT, "workflow.tasks", shard),
								  2, types, values, NULL, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "counting the tasks of an ended session on %s failed", shard);
		left += DatumGetInt64(wf_get_datum(0, 1, &isnull));
	}
	return left == 0;
}

/*
 * Mark the tasks an ended session still holds as due at now; true when
 * all are marked, false when another session holds one of them.
 */
static bool
mark_session_tasks(const WfEndedSession *s, TimestampTz now, int *marked)
{
	Oid			types[3] = {INT4OID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[3] = {Int32GetDatum(s->pid), TimestampTzGetDatum(s->started),
	TimestampTzGetDatum(now)};
	bool		isnull;
	List	   *shards;

	if (wf_citus_local_shards("workflow.tasks", &shards))
		return mark_session_tasks_on_shards(shards, types, values, marked);
	*marked += wf_exec(&mark_plan, MARK_SESSION_TASKS, 3, types, values, NULL, 0);
	wf_exec(&left_plan, SESSION_TASKS_LEFT, 2, types, values, NULL, 1);
	return DatumGetInt64(wf_get_datum(0, 1, &isnull)) == 0;
}

/*
 * Take the sessions of this database that ended and make the tasks they
 * held due at now.  Returns how many tasks; *held is set when some end
 * must be looked at again (a row was held by another session).
 */
int
wf_fail_ended_sessions(TimestampTz now, bool *held)
{
	WfEndedSession ended[ENDED_BATCH];
	uint64		lost;
	int			n = wf_take_ended_sessions(ended, ENDED_BATCH, &lost);
	int			marked = 0;
	int			i;

	*held = n == ENDED_BATCH;
	if (lost > 0)
		ereport(LOG,
				(errmsg("workflow: the ends of " UINT64_FORMAT " claiming sessions were not recorded",
						lost),
				 errdetail("Shared memory for ended sessions was full."),
				 errhint("Their tasks are retried when their leases time out.")));
	for (i = 0; i < n; i++)
		if (!mark_session_tasks(&ended[i], now, &marked))
		{
			*held = true;
			if (!wf_keep_ended_session(&ended[i]))
				ereport(LOG,
						(errmsg("workflow: could not keep the end of session %d for a retry",
								ended[i].pid),
						 errhint("Its tasks are retried when their leases time out.")));
		}
	if (marked > 0)
		wf_note_due(now);
	return marked;
}
