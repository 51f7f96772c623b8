/*-------------------------------------------------------------------------
 * history.c
 *	  Runs and their event history.
 *
 * Every change to a run happens with its row locked (FOR UPDATE), so the
 * transitions of one workflow are serialized; that lock is also what keeps
 * event ids gapless: the next id comes from the locked row, and the event
 * insert and the row's last_event_id update are one statement, in the same
 * transaction as the state change the event describes.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "core/core.h"

#define RUN_COLUMNS \
	"workflow_id, run_id, workflow_type, status, queue, owner, input, options, " \
	"cancel_requested, task_failures, last_event_id, parent_workflow_id, parent_run_id, error," \
	" has_children, awaiting_signal"

static SPIPlanPtr lock_open_plan;
static SPIPlanPtr lock_by_id_plan;
static SPIPlanPtr lock_by_id_skip_plan;
static SPIPlanPtr read_by_id_plan;
static SPIPlanPtr run_exists_plan;
static SPIPlanPtr closed_status_plan;
static SPIPlanPtr append_plan;
static SPIPlanPtr update_plan;
static SPIPlanPtr close_plan;

static int64 buffered_last_event_id(WfRun *run);

/* Build a WfRun from row 0 of the last SPI result. */
static WfRun *
run_from_spi(void)
{
	WfRun	   *run = palloc0(sizeof(WfRun));
	bool		isnull;

	run->workflow_id = wf_get_text(0, 1);
	run->run_id = datumCopy(wf_get_datum(0, 2, &isnull), false, UUID_LEN);
	run->workflow_type = wf_get_text(0, 3);
	run->status = wf_run_status_of(wf_get_text(0, 4));
	run->queue = wf_get_text(0, 5);
	run->owner = DatumGetObjectId(wf_get_datum(0, 6, &isnull));
	run->input = wf_get_jsonb(0, 7);
	run->options = wf_get_jsonb(0, 8);
	run->cancel_requested = DatumGetBool(wf_get_datum(0, 9, &isnull));
	run->task_failures = DatumGetInt32(wf_get_datum(0, 10, &isnull));
	run->last_event_id = DatumGetInt64(wf_get_datum(0, 11, &isnull));
	run->parent_workflow_id = wf_get_text(0, 12);
	run->error = wf_get_jsonb(0, 14);
	run->has_children = DatumGetBool(wf_get_datum(0, 15, &isnull));
	run->awaiting_signal = wf_get_text(0, 16);
	if (run->parent_workflow_id)
		run->parent_run_id = datumCopy(wf_get_datum(0, 13, &isnull), false, UUID_LEN);
	run->last_event_id = buffered_last_event_id(run);
	return run;
}

/*
 * Lock the open run of workflow_id.  Returns NULL if there is none and
 * !must_exist; otherwise says whether the workflow is unknown or closed
 * (how it ended only to a caller with the privileges of its owner).
 */
WfRun *
wf_lock_run(const char *workflow_id, bool must_exist, Oid caller)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(workflow_id)};

	if (wf_exec(&lock_open_plan,
				"SELECT " RUN_COLUMNS " FROM workflow.workflows"
				" WHERE workflow_id = $1 AND closed_at IS NULL FOR UPDATE",
				1, types, values, NULL, 1) == 1)
		return run_from_spi();
	if (!must_exist)
		return NULL;

	if (wf_exec(&closed_status_plan,
				"SELECT status, owner FROM workflow.workflows WHERE workflow_id = $1"
				" ORDER BY " WF_LATEST_RUN_ORDER " LIMIT 1",
				1, types, values, NULL, 1) == 1)
	{
		bool		isnull;

		if (!has_privs_of_role(caller, DatumGetObjectId(wf_get_datum(0, 2, &isnull))))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied for workflow \"%s\"", workflow_id),
					 errhint("Only its owner or a member of that role may steer it.")));
		ereport(ERROR,
				(errcode(ERRCODE_WF_NOT_RUNNING),
				 errmsg("workflow \"%s\" is not running", workflow_id),
				 errdetail("Its latest run ended with status \"%s\".", wf_get_text(0, 1)),
				 errhint("Start a new run with workflow.start_workflow.")));
	}
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("workflow \"%s\" does not exist", workflow_id),
			 errhint("Check the id in workflow.workflows.")));
	return NULL;				/* keep compiler quiet */
}

/* Lock one run by its ids, open or not; NULL if it does not exist. */
WfRun *
wf_lock_run_by_id(const char *workflow_id, Datum run_id, bool skip_locked)
{
	Oid			types[2] = {TEXTOID, UUIDOID};
	Datum		values[2] = {CStringGetTextDatum(workflow_id), run_id};
	int			n;

	if (skip_locked)
		n = wf_exec(&lock_by_id_skip_plan,
					"SELECT " RUN_COLUMNS " FROM workflow.workflows"
					" WHERE workflow_id = $1 AND run_id = $2 FOR UPDATE SKIP LOCKED",
					2, types, values, NULL, 1);
	else
		n = wf_exec(&lock_by_id_plan,
					"SELECT " RUN_COLUMNS " FROM workflow.workflows"
					" WHERE workflow_id = $1 AND run_id = $2 FOR UPDATE",
					2, types, values, NULL, 1);
	return n == 1 ? run_from_spi() : NULL;
}

/*
 * Read one run by its ids without locking it (a dry run that writes
 * nothing: workflow.check_replay); NULL if it does not exist.
 */
WfRun *
wf_read_run_by_id(const char *workflow_id, Datum run_id)
{
	Oid			types[2] = {TEXTOID, UUIDOID};
	Datum		values[2] = {CStringGetTextDatum(workflow_id), run_id};

	if (wf_exec(&read_by_id_plan,
				"SELECT " RUN_COLUMNS " FROM workflow.workflows"
				" WHERE workflow_id = $1 AND run_id = $2",
				2, types, values, NULL, 1) != 1)
		return NULL;
	return run_from_spi();
}

/* Does the run exist at all (whether or not someone holds its lock)? */
bool
wf_run_exists(const char *workflow_id, Datum run_id)
{
	Oid			types[2] = {TEXTOID, UUIDOID};
	Datum		values[2] = {CStringGetTextDatum(workflow_id), run_id};

	return wf_exec(&run_exists_plan,
				   "SELECT 1 FROM workflow.workflows WHERE workflow_id = $1 AND run_id = $2",
				   2, types, values, NULL, 1) == 1;
}

/* Is the run still open (running or compensating)? */
bool
wf_run_is_open(WfRun *run)
{
	return wf_run_status_is_open(run->status);
}

/*
 * The event buffer.  Events are buffered per run and written by
 * wf_flush_events, all at once with the new last_event_id, so that a step
 * that records several events (ActivityStarted, ActivityCompleted, the
 * next ActivityScheduled) costs one UPDATE and one INSERT.
 *
 * The buffer owns everything it needs, in TopTransactionContext, and is
 * keyed by the run's ids: whatever happens to the WfRun that appended (it
 * may live in a context that is gone by the time of the flush), the flush
 * never looks at it.  Each event remembers the subtransaction it was
 * appended in, so a rolled-back subtransaction takes back exactly its own
 * events (always a suffix of a run's buffer: subtransaction ids grow).
 */
typedef struct BufferedEvent
{
	WfEventType type;
	Jsonb	   *data;
	SubTransactionId subid;
} BufferedEvent;

typedef struct RunBuffer
{
	char	   *workflow_id;
	Datum		run_id;
	int64		stored_event_id;	/* last_event_id of the stored row */
	List	   *events;			/* of BufferedEvent */
} RunBuffer;

/* Runs with buffered events (in TopTransactionContext). */
static List *run_buffers = NIL;

/* The buffer of a run; NULL if it has none and !create. */
static RunBuffer *
run_buffer(const char *workflow_id, Datum run_id, bool create, int64 stored_event_id)
{
	ListCell   *lc;
	RunBuffer  *rb;
	MemoryContext old;

	foreach(lc, run_buffers)
	{
		rb = lfirst(lc);
		if (strcmp(rb->workflow_id, workflow_id) == 0 &&
			memcmp(DatumGetPointer(rb->run_id), DatumGetPointer(run_id), UUID_LEN) == 0)
			return rb;
	}
	if (!create)
		return NULL;
	old = MemoryContextSwitchTo(TopTransactionContext);
	rb = palloc0(sizeof(RunBuffer));
	rb->workflow_id = pstrdup(workflow_id);
	rb->run_id = datumCopy(run_id, false, UUID_LEN);
	rb->stored_event_id = stored_event_id;
	run_buffers = lappend(run_buffers, rb);
	MemoryContextSwitchTo(old);
	return rb;
}

/*
 * Append one event to the run's history.  The run must be locked by this
 * transaction.  Returns the event's id.
 */
int64
wf_append_event(WfRun *run, WfEventType type, Jsonb *data)
{
	RunBuffer  *rb = run_buffer(run->workflow_id, run->run_id, true,
								run->last_event_id);
	MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);
	BufferedEvent *e = palloc(sizeof(BufferedEvent));

	e->type = type;
	e->data = DatumGetJsonbPCopy(JsonbPGetDatum(data));
	e->subid = GetCurrentSubTransactionId();
	rb->events = lappend(rb->events, e);
	MemoryContextSwitchTo(old);
	run->last_event_id = rb->stored_event_id + list_length(rb->events);
	return run->last_event_id;
}

/*
 * The run's events appended in this transaction and not written yet, in
 * order (an integer list of WfEventType and a list of jsonb data);
 * returns how many.
 */
int
wf_buffered_events(WfRun *run, List **types, List **data)
{
	RunBuffer  *rb = run_buffer(run->workflow_id, run->run_id, false, 0);
	ListCell   *lc;

	*types = NIL;
	*data = NIL;
	if (rb == NULL)
		return 0;
	foreach(lc, rb->events)
	{
		BufferedEvent *e = lfirst(lc);

		*types = lappend_int(*types, e->type);
		*data = lappend(*data, e->data);
	}
	return list_length(rb->events);
}

/* Write the buffered events of one run. */
static void
flush_run(RunBuffer *rb)
{
	Oid			types[5] = {TEXTOID, UUIDOID, INT8OID, TEXTARRAYOID, JSONBARRAYOID};
	Datum		values[5];
	int			n = list_length(rb->events);
	Datum	   *type_datums = palloc(sizeof(Datum) * n);
	Datum	   *data_datums = palloc(sizeof(Datum) * n);
	int			i = 0;
	ListCell   *lc;

	foreach(lc, rb->events)
	{
		BufferedEvent *e = lfirst(lc);

		type_datums[i] = CStringGetTextDatum(wf_event_name(e->type));
		data_datums[i] = JsonbPGetDatum(e->data);
		i++;
	}
	values[0] = CStringGetTextDatum(rb->workflow_id);
	values[1] = rb->run_id;
	values[2] = Int64GetDatum(rb->stored_event_id + n);
	values[3] = PointerGetDatum(construct_array(type_datums, n, TEXTOID, -1, false, TYPALIGN_INT));
	values[4] = PointerGetDatum(construct_array(data_datums, n, JSONBOID, -1, false, TYPALIGN_INT));
	wf_exec(&append_plan,
			"WITH bump AS (UPDATE workflow.workflows SET last_event_id = $3"
			"  WHERE workflow_id = $1 AND run_id = $2)"
			" INSERT INTO workflow.history (workflow_id, run_id, event_id, event_type, data)"
			" SELECT $1, $2, $3 - cardinality($4) + e.n, e.t, e.d"
			" FROM unnest($4, $5) WITH ORDINALITY AS e(t, d, n)",
			5, types, values, NULL, 0);
}

/*
 * The last event id of a run just read from its row, counting the events
 * this transaction appended and has not written yet: a run locked again
 * (by the wake-up queue, say) goes on numbering where it left off, and
 * its buffer needs no write first.
 */
static int64
buffered_last_event_id(WfRun *run)
{
	RunBuffer  *rb = run_buffer(run->workflow_id, run->run_id, false, 0);

	if (rb == NULL)
		return run->last_event_id;
	return rb->stored_event_id + list_length(rb->events);
}

/*
 * Write every buffered event of this transaction: when each client or
 * worker function ends (the api frame), when the scheduler's item is
 * done, and before a query reads the history table itself; replay reads
 * buffered events itself.  Workflow code never gets here: its commands
 * only record what the attempt decided, which is written after it.
 */
void
wf_flush_events(void)
{
	while (run_buffers != NIL)
	{
		RunBuffer  *rb = linitial(run_buffers);

		run_buffers = list_delete_first(run_buffers);
		if (rb->events != NIL)
			flush_run(rb);
	}
}

/* At commit every event must have been written: a bug otherwise. */
void
wf_history_at_pre_commit(void)
{
	if (run_buffers != NIL)
		elog(ERROR, "workflow: history events were left unwritten");
}

/* Transaction end: forget the buffers (after commit they are empty). */
void
wf_history_at_end(void)
{
	run_buffers = NIL;			/* freed with TopTransactionContext */
}

/*
 * A subtransaction was rolled back: take back the events appended inside
 * it (and inside its children), the tail of each run's buffer.
 */
void
wf_history_at_subabort(SubTransactionId subid)
{
	ListCell   *lc;

	foreach(lc, run_buffers)
	{
		RunBuffer  *rb = lfirst(lc);
		int			keep = 0;
		ListCell   *le;

		foreach(le, rb->events)
		{
			if (((BufferedEvent *) lfirst(le))->subid >= subid)
				break;
			keep++;
		}
		rb->events = list_truncate(rb->events, keep);
		if (rb->events == NIL)
			run_buffers = foreach_delete_current(run_buffers, lc);
	}
}

/* Write back the engine state of an open run. */
void
wf_update_run(WfRun *run)
{
	Oid			types[8] = {TEXTOID, UUIDOID, TEXTOID, INT4OID, TIMESTAMPTZOID, JSONBOID, TEXTOID,
	TIMESTAMPTZOID};
	Datum		values[8];
	char		nulls[8] = {' ', ' ', ' ', ' ', 'n', 'n', 'n', ' '};

	values[0] = CStringGetTextDatum(run->workflow_id);
	values[1] = run->run_id;
	values[2] = CStringGetTextDatum(wf_run_status_name(run->status));
	values[3] = Int32GetDatum(run->task_failures);
	values[4] = (Datum) 0;
	if (run->task_retry_at != 0)
	{
		values[4] = TimestampTzGetDatum(run->task_retry_at);
		nulls[4] = ' ';
	}
	values[5] = (Datum) 0;
	if (run->error)
	{
		values[5] = JsonbPGetDatum(run->error);
		nulls[5] = ' ';
	}
	values[6] = (Datum) 0;
	if (run->awaiting_signal)
	{
		values[6] = CStringGetTextDatum(run->awaiting_signal);
		nulls[6] = ' ';
	}
	/* the clock as a value: Citus refuses volatile functions in an UPDATE */
	values[7] = TimestampTzGetDatum(GetCurrentTimestamp());
	wf_exec(&update_plan,
			"UPDATE workflow.workflows SET status = $3, task_failures = $4,"
			" task_retry_at = $5, error = COALESCE($6, error), awaiting_signal = $7,"
			" updated_at = $8"
			" WHERE workflow_id = $1 AND run_id = $2",
			8, types, values, nulls, 0);
}

/*
 * The signal the run's code now waits for (NULL: none), for
 * workflow.describe; true if it changed, and wf_update_run must write it.
 */
bool
wf_set_awaiting_signal(WfRun *run, const char *signal)
{
	if ((signal == NULL && run->awaiting_signal == NULL) ||
		(signal != NULL && run->awaiting_signal != NULL &&
		 strcmp(signal, run->awaiting_signal) == 0))
		return false;
	run->awaiting_signal = signal ? pstrdup(signal) : NULL;
	return true;
}

/* Close the run with a final status. */
void
wf_close_run(WfRun *run, WfRunStatus status, Jsonb *result, Jsonb *error)
{
	Oid			types[6] = {TEXTOID, UUIDOID, TEXTOID, JSONBOID, JSONBOID, TIMESTAMPTZOID};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', result ? ' ' : 'n', error ? ' ' : 'n', ' '};

	run->status = status;
	wf_await_note_closed(run->workflow_id);
	values[0] = CStringGetTextDatum(run->workflow_id);
	values[1] = run->run_id;
	values[2] = CStringGetTextDatum(wf_run_status_name(status));
	values[3] = result ? JsonbPGetDatum(result) : (Datum) 0;
	values[4] = error ? JsonbPGetDatum(error) : (Datum) 0;
	values[5] = TimestampTzGetDatum(GetCurrentTimestamp());
	wf_exec(&close_plan,
			"UPDATE workflow.workflows SET status = $3, result = $4,"
			" error = COALESCE($5, error), closed_at = $6,"
			" updated_at = $6, task_retry_at = NULL"
			" WHERE workflow_id = $1 AND run_id = $2",
			6, types, values, nulls, 0);
}

/*
 * Copy the (workflow_id, run_id) pairs in columns col and col + 1 of the
 * last SPI result, so that the runs can be locked one by one afterwards.
 */
void
wf_copy_run_ids(int n, int col, char ***ids, Datum **run_ids)
{
	int			i;

	*ids = palloc(sizeof(char *) * (n + 1));
	*run_ids = palloc(sizeof(Datum) * (n + 1));
	for (i = 0; i < n; i++)
	{
		bool		isnull;

		(*ids)[i] = wf_get_text(i, col);
		(*run_ids)[i] = datumCopy(wf_get_datum(i, col + 1, &isnull), false, UUID_LEN);
	}
}

/*
 * The due work that sql selects ($1 = now, $2 = batch; columns
 * workflow_id, run_id and, if there is a third, an int8 key), as
 * WfDueItems of kind.
 */
List *
wf_due_items(SPIPlanPtr *plan, const char *sql, TimestampTz now, int batch, WfDueKind kind)
{
	Oid			types[2] = {TIMESTAMPTZOID, INT4OID};
	Datum		values[2] = {TimestampTzGetDatum(now), Int32GetDatum(batch)};
	int			n = wf_exec(plan, sql, 2, types, values, NULL, 0);
	bool		keyed = SPI_tuptable->tupdesc->natts >= 3;
	char	  **wfids;
	Datum	   *runids;
	List	   *items = NIL;
	int			i;

	wf_copy_run_ids(n, 1, &wfids, &runids);
	for (i = 0; i < n; i++)
	{
		WfDueItem  *item = palloc0(sizeof(WfDueItem));
		bool		isnull;

		item->kind = kind;
		item->workflow_id = wfids[i];
		item->run_id = runids[i];
		if (keyed)
			item->key = DatumGetInt64(wf_get_datum(i, 3, &isnull));
		items = lappend(items, item);
	}
	return items;
}
