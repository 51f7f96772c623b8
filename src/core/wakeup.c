/*-------------------------------------------------------------------------
 * wakeup.c
 *	  The runs a change made ready to go on, in the order it made them.
 *
 * The model layer records here that a run has something new to replay
 * (an activity finished, a timer fired, a signal or a child's outcome
 * arrived, the run was started or asked to cancel) instead of calling the
 * engine; whoever made the change drains the queue afterwards through the
 * engine (the api frame as a SQL-callable function ends, complete_and_claim
 * before it claims, the scheduler after each due item).  So the engine is
 * never entered from below, and never from inside itself: a run that one
 * workflow task wakes (its child, its next run) is advanced after it.
 *
 * Entries are the run's ids, not its WfRun: the run is locked again when
 * its turn comes, so what it is advanced from is its current row.  Each
 * entry remembers its subtransaction, so a rolled-back one takes back its
 * wake-ups along with the events it appended.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "core/core.h"

typedef struct WfWakeup
{
	char	   *workflow_id;
	Datum		run_id;
	SubTransactionId subid;
} WfWakeup;

/* In TopTransactionContext; NIL between transactions. */
static List *wakeups = NIL;

static bool
same_run(WfWakeup *w, const char *workflow_id, Datum run_id)
{
	return strcmp(w->workflow_id, workflow_id) == 0 &&
		memcmp(DatumGetPointer(w->run_id), DatumGetPointer(run_id), UUID_LEN) == 0;
}

/* Let the run go on once the change at hand is written (once, if asked twice). */
void
wf_wake_run(WfRun *run)
{
	MemoryContext old;
	WfWakeup   *w;
	ListCell   *lc;

	foreach(lc, wakeups)
		if (same_run(lfirst(lc), run->workflow_id, run->run_id))
			return;
	old = MemoryContextSwitchTo(TopTransactionContext);
	w = palloc(sizeof(WfWakeup));
	w->workflow_id = pstrdup(run->workflow_id);
	w->run_id = datumCopy(run->run_id, false, UUID_LEN);
	w->subid = GetCurrentSubTransactionId();
	wakeups = lappend(wakeups, w);
	MemoryContextSwitchTo(old);
}

/* Take the oldest wake-up; false when there is none. */
bool
wf_next_woken(char **workflow_id, Datum *run_id)
{
	WfWakeup   *w;

	if (wakeups == NIL)
		return false;
	w = linitial(wakeups);
	wakeups = list_delete_first(wakeups);
	*workflow_id = pstrdup(w->workflow_id);
	*run_id = datumCopy(w->run_id, false, UUID_LEN);
	pfree(w->workflow_id);
	pfree(DatumGetPointer(w->run_id));
	pfree(w);
	return true;
}

/* Transaction end: whatever was not drained is forgotten with the transaction. */
void
wf_wakeups_at_end(void)
{
	wakeups = NIL;				/* freed with TopTransactionContext */
}

/*
 * Subtransaction end: a rolled-back one takes back its wake-ups (the
 * changes that asked for them are gone); a committed one hands them to
 * its parent.
 */
void
wf_wakeups_at_subend(SubTransactionId subid, SubTransactionId parent, bool commit)
{
	ListCell   *lc;

	foreach(lc, wakeups)
	{
		WfWakeup   *w = lfirst(lc);

		if (w->subid != subid)
			continue;
		if (commit)
			w->subid = parent;
		else
			wakeups = foreach_delete_current(wakeups, lc);
	}
}
