/*-------------------------------------------------------------------------
 * runs.c
 *	  Creating runs (start, continue-as-new, child workflows), and what
 *	  a run's end means for its relatives.
 *
 * A child run records its parent; when it closes, the parent gets
 * ChildWorkflowCompleted or ChildWorkflowFailed and goes on.  When a parent
 * closes, its open children are terminated (Temporal's default parent
 * close policy), or asked to cancel if the parent was cancelled;
 * cancelling a parent asks its children to cancel too.  Signals still
 * buffered when a workflow ends are dropped (they go on to the next run on
 * continue-as-new).
 * Locking order is parent before child, except for the child's closing
 * notice, which locks the parent while holding the child (a deadlock
 * there is resolved by PostgreSQL and the report is retried).
 *
 * A new run is woken (core/wakeup.c), not advanced here: a child created
 * by its parent's workflow task is advanced once that task is over, so
 * that no two workflow tasks of related runs interleave.
 *
 * A workflow_id belongs to the role that owns its latest run: another role
 * cannot start it again (nor get its open run with if_exists), and the
 * default ids of children, "<parent>/child-<n>", are only ever started by
 * <parent>'s own runs.  Published state is kept per run.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"

#include "model/model.h"

static void wf_cancel_children(WfRun *run);

static SPIPlanPtr insert_run_plan;
static SPIPlanPtr children_plan;
static SPIPlanPtr cancel_flag_plan;
static SPIPlanPtr child_seq_plan;
static SPIPlanPtr drop_signals_plan;
static SPIPlanPtr mark_parent_plan;
static SPIPlanPtr notice_plan;
static SPIPlanPtr take_notices_plan;
static SPIPlanPtr id_owner_plan;
static SPIPlanPtr carry_signals_plan;
static SPIPlanPtr carry_state_plan;

/* For a default child id "<parent>/child-<n>": the length of <parent>; else -1. */
static int
default_child_prefix(const char *workflow_id)
{
	const char *slash = strrchr(workflow_id, '/');
	const char *p;

	if (slash == NULL || slash == workflow_id || strncmp(slash, "/child-", 7) != 0 ||
		slash[7] == '\0')
		return -1;
	for (p = slash + 7; *p; p++)
		if (*p < '0' || *p > '9')
			return -1;
	return slash - workflow_id;
}

/*
 * Refuse a workflow_id that owner may not start a run of: a default child
 * id unless parent_id is its parent, or an id whose latest run belongs to a
 * role owner has no privileges of.
 */
void
wf_check_workflow_id(const char *workflow_id, Oid owner, const char *parent_id)
{
	int			prefix = default_child_prefix(workflow_id);
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(workflow_id)};
	bool		isnull;

	if (prefix >= 0 && (parent_id == NULL || strlen(parent_id) != prefix ||
						strncmp(parent_id, workflow_id, prefix) != 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("workflow_id \"%s\" is reserved for a child workflow of \"%.*s\"",
						workflow_id, prefix, workflow_id),
				 errdetail("Ids ending in \"/child-\" and a number are the default ids of child workflows."),
				 errhint("Choose a workflow_id that does not end in \"/child-\" and a number.")));
	if (superuser_arg(owner))
		return;
	if (wf_exec(&id_owner_plan,
				"SELECT owner FROM workflow.workflows WHERE workflow_id = $1"
				" ORDER BY " WF_LATEST_RUN_ORDER " LIMIT 1",
				1, types, values, NULL, 1) == 1 &&
		!has_privs_of_role(owner, DatumGetObjectId(wf_get_datum(0, 1, &isnull))))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("workflow_id \"%s\" belongs to another role", workflow_id),
				 errdetail("A workflow_id belongs to the role that owns its latest run."),
				 errhint("Choose another workflow_id.")));
}

/*
 * Lock a workflow_id until commit, so that the owner check sees the runs
 * that other sessions are creating with it.  Field 4 is 3: pg_advisory_lock
 * uses 1 and 2, so no application lock collides with it.
 */
static void
lock_workflow_id(const char *workflow_id)
{
	LOCKTAG		tag;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId,
						 DatumGetUInt32(hash_any((const unsigned char *) workflow_id,
												 strlen(workflow_id))), 0, 3);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
}

/* The seq of the parent's ChildWorkflowStarted for child_id, 0 if none. */
static int
child_seq(WfRun *parent, const char *child_id)
{
	Oid			types[3] = {TEXTOID, UUIDOID, TEXTOID};
	Datum		values[3] = {CStringGetTextDatum(parent->workflow_id), parent->run_id,
	CStringGetTextDatum(child_id)};
	bool		isnull;

	wf_flush_events();
	if (wf_exec(&child_seq_plan,
				"SELECT (data->>'seq')::int4 FROM workflow.history"
				" WHERE workflow_id = $1 AND run_id = $2 AND event_type = 'ChildWorkflowStarted'"
				"   AND data->>'child_workflow_id' = $3 ORDER BY event_id DESC LIMIT 1",
				3, types, values, NULL, 1) == 0)
		return 0;
	return DatumGetInt32(wf_get_datum(0, 1, &isnull));
}

/*
 * Insert a run and its WorkflowStarted event, or, when its type's
 * max_running or max_running_per_key is reached, its WorkflowQueued event
 * (model/flow.c starts it later).  The next run of a continue-as-new
 * takes its predecessor's slot.  Returns NULL if an open run of that
 * workflow_id exists (the unique index on open runs decides, also against
 * concurrent starts); errors if the id is not the owner's to use.
 */
WfRun *
wf_create_run(WfRunSpec *spec)
{
	Oid			types[13] = {TEXTOID, TEXTOID, JSONBOID, TEXTOID, OIDOID, JSONBOID,
	TIMESTAMPTZOID, TEXTOID, UUIDOID, UUIDOID, TEXTOID, TEXTOID, INT2OID};
	Datum		values[13];
	char		nulls[13] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', 'n', 'n', 'n', 'n', ' ', ' '};
	char	   *key = wf_name_option(spec->options, "concurrency_key",
									 ERRCODE_INVALID_PARAMETER_VALUE);
	bool		queued = false;
	WfRun	   *run;
	WfEvent		b;
	bool		isnull;
	Datum		deadline;

	if (!spec->continued_from && !spec->admitted)
	{
		if (!superuser_arg(spec->owner))
			lock_workflow_id(spec->workflow_id);
		wf_check_workflow_id(spec->workflow_id, spec->owner, spec->parent_workflow_id);
		queued = !wf_admit_run(spec->workflow_type, key);
	}
	values[0] = CStringGetTextDatum(spec->workflow_id);
	values[1] = CStringGetTextDatum(spec->workflow_type);
	values[2] = JsonbPGetDatum(spec->input);
	values[3] = CStringGetTextDatum(spec->queue);
	values[4] = ObjectIdGetDatum(spec->owner);
	values[5] = JsonbPGetDatum(spec->options);
	values[6] = TimestampTzGetDatum(wf_now());
	values[7] = values[8] = values[9] = (Datum) 0;
	if (spec->parent_workflow_id)
	{
		values[7] = CStringGetTextDatum(spec->parent_workflow_id);
		values[8] = spec->parent_run_id;
		nulls[7] = nulls[8] = ' ';
	}
	if (spec->run_id)
	{
		values[9] = spec->run_id;
		nulls[9] = ' ';
	}
	values[10] = key ? CStringGetTextDatum(key) : (Datum) 0;
	nulls[10] = key ? ' ' : 'n';
	values[11] = CStringGetTextDatum(wf_run_status_name(queued ? WF_RUN_QUEUED : WF_RUN_RUNNING));
	values[12] = Int16GetDatum(wf_run_priority(spec->options));
	/* The execution_timeout counts from the start, queued or not. */
	if (wf_exec(&insert_run_plan,
				"INSERT INTO workflow.workflows (workflow_id, workflow_type, input, queue, owner,"
				"   options, search_attributes, execution_deadline, parent_workflow_id,"
				"   parent_run_id, run_id, concurrency_key, status, priority, queued_at)"
				" VALUES ($1, $2, $3, $4, $5, $6, COALESCE($6->'search_attributes', '{}'),"
				"   $7 + ($6->>'execution_timeout')::interval, $8, $9,"
				"   COALESCE($10, gen_random_uuid()), $11, $12, $13,"
				"   CASE WHEN $12 = 'queued' THEN clock_timestamp() END)"
				" ON CONFLICT (workflow_id) WHERE closed_at IS NULL DO NOTHING"
				" RETURNING run_id, execution_deadline",
				13, types, values, nulls, 0) == 0)
		return NULL;
	deadline = wf_get_datum(0, 2, &isnull);
	if (!isnull)
		wf_note_due(DatumGetTimestampTz(deadline));

	run = palloc0(sizeof(WfRun));
	run->workflow_id = pstrdup(spec->workflow_id);
	run->run_id = datumCopy(wf_get_datum(0, 1, &isnull), false, UUID_LEN);
	run->workflow_type = pstrdup(spec->workflow_type);
	run->status = queued ? WF_RUN_QUEUED : WF_RUN_RUNNING;
	run->queue = pstrdup(spec->queue);
	run->owner = spec->owner;
	run->input = spec->input;
	run->options = spec->options;
	if (spec->parent_workflow_id)
	{
		run->parent_workflow_id = pstrdup(spec->parent_workflow_id);
		run->parent_run_id = spec->parent_run_id;
	}

	wf_event_begin(&b);
	wf_event_str(&b, WF_KEY_WORKFLOW_TYPE, spec->workflow_type);
	wf_event_jsonb(&b, WF_KEY_INPUT, spec->input);
	wf_event_str(&b, WF_KEY_QUEUE, spec->queue);
	wf_event_str(&b, WF_KEY_STARTED_BY, spec->started_by);
	wf_event_jsonb(&b, WF_KEY_OPTIONS, spec->options);
	if (spec->parent_workflow_id)
	{
		wf_event_str(&b, WF_KEY_PARENT_WORKFLOW_ID, spec->parent_workflow_id);
		wf_event_str(&b, WF_KEY_PARENT_RUN_ID, wf_uuid_out(spec->parent_run_id));
	}
	if (spec->continued_from)
		wf_event_str(&b, WF_KEY_CONTINUED_FROM_RUN_ID, wf_uuid_out(spec->continued_from));
	if (spec->started_data)
	{
		wf_append_event(run, WF_EV_WORKFLOW_STARTED, spec->started_data);
		wf_wake_run(run);
		return run;
	}
	if (queued)
	{
		wf_append_event(run, WF_EV_WORKFLOW_QUEUED, wf_event_data(&b));
		return run;
	}
	wf_append_event(run, WF_EV_WORKFLOW_STARTED, wf_event_data(&b));
	wf_wake_run(run);
	return run;
}

/*
 * Hand what a run continuing as new leaves to its next run: the signals
 * nobody consumed yet, and a copy of its published state.
 */
static void
carry_over(WfRun *run, Datum next_run_id)
{
	Oid			types[3] = {TEXTOID, UUIDOID, UUIDOID};
	Datum		values[3] = {CStringGetTextDatum(run->workflow_id), run->run_id, next_run_id};

	wf_exec(&carry_signals_plan,
			"UPDATE workflow.signals SET run_id = $3 WHERE workflow_id = $1 AND run_id = $2",
			3, types, values, NULL, 0);
	wf_exec(&carry_state_plan,
			"INSERT INTO workflow.state (workflow_id, run_id, key, value, updated_at)"
			" SELECT workflow_id, $3, key, value, updated_at FROM workflow.state"
			" WHERE workflow_id = $1 AND run_id = $2",
			3, types, values, NULL, 0);
}

/*
 * continue_as_new: close this run and start the next run of the same
 * workflow_id with input, in this transaction.
 */
void
wf_continue_as_new(WfRun *run, Jsonb *input)
{
	WfRunSpec	spec;
	Datum		next_run_id = DirectFunctionCall1(gen_random_uuid, (Datum) 0);
	WfEvent		b;
	WfRun	   *next;

	wf_withdraw_tasks(run, 0, true);
	wf_cancel_all_timers(run);
	wf_event_begin(&b);
	wf_event_jsonb(&b, WF_KEY_INPUT, input);
	wf_event_str(&b, WF_KEY_NEW_RUN_ID, wf_uuid_out(next_run_id));
	wf_append_event(run, WF_EV_WORKFLOW_CONTINUED_AS_NEW, wf_event_data(&b));
	wf_end_run(run, WF_RUN_CONTINUED_AS_NEW, NULL, NULL);

	memset(&spec, 0, sizeof(spec));
	spec.workflow_id = run->workflow_id;
	spec.workflow_type = run->workflow_type;
	spec.input = input;
	spec.queue = run->queue;
	spec.options = run->options;
	spec.owner = run->owner;
	spec.started_by = "continue_as_new";
	spec.parent_workflow_id = run->parent_workflow_id;
	spec.parent_run_id = run->parent_run_id;
	spec.run_id = next_run_id;
	spec.continued_from = run->run_id;
	next = wf_create_run(&spec);
	if (next == NULL)
		elog(ERROR, "could not start the next run of workflow \"%s\"", run->workflow_id);
	carry_over(run, next_run_id);
}

/* The ids of the open children of a run (lists of text and uuid datums). */
static int
open_children(WfRun *run, char ***ids, Datum **run_ids)
{
	Oid			types[2] = {TEXTOID, UUIDOID};
	Datum		values[2] = {CStringGetTextDatum(run->workflow_id), run->run_id};
	int			n;

	n = wf_exec(&children_plan,
				"SELECT workflow_id, run_id FROM workflow.workflows"
				" WHERE parent_workflow_id = $1 AND parent_run_id = $2 AND closed_at IS NULL"
				" ORDER BY created_at",
				2, types, values, NULL, 0);
	wf_copy_run_ids(n, 1, ids, run_ids);
	return n;
}

/*
 * Ask a running run to cancel: WorkflowCancelRequested, then a workflow
 * task.  A queued run, which has run no code, is cancelled at once.
 */
void
wf_request_cancel(WfRun *run, const char *reason, const char *requested_by)
{
	Oid			types[2] = {TEXTOID, UUIDOID};
	Datum		values[2] = {CStringGetTextDatum(run->workflow_id), run->run_id};
	WfEvent		b;

	wf_event_begin(&b);
	wf_event_str(&b, WF_KEY_REASON, reason);
	wf_event_str(&b, WF_KEY_REQUESTED_BY, requested_by);
	wf_append_event(run, WF_EV_WORKFLOW_CANCEL_REQUESTED, wf_event_data(&b));
	if (run->status == WF_RUN_QUEUED)
	{
		wf_terminate_run(run, WF_EV_WORKFLOW_CANCELLED, WF_RUN_CANCELLED, reason);
		return;
	}
	wf_exec(&cancel_flag_plan,
			"UPDATE workflow.workflows SET cancel_requested = true"
			" WHERE workflow_id = $1 AND run_id = $2",
			2, types, values, NULL, 0);
	run->cancel_requested = true;
	wf_wake_run(run);
	wf_cancel_children(run);
}

/*
 * Ask the open children of a run to cancel (cancel) or terminate them.
 */
static void
settle_children(WfRun *run, bool cancel)
{
	char	  **ids;
	Datum	   *run_ids;
	int			n = open_children(run, &ids, &run_ids);
	int			i;

	for (i = 0; i < n; i++)
	{
		WfRun	   *child = wf_lock_run_by_id(ids[i], run_ids[i], false);

		if (child == NULL || !wf_run_is_open(child))
			continue;
		if (!cancel)
			wf_terminate_run(child, WF_EV_WORKFLOW_TERMINATED, WF_RUN_TERMINATED, "parent closed");
		else if ((child->status == WF_RUN_RUNNING || child->status == WF_RUN_QUEUED) &&
				 !child->cancel_requested)
			wf_request_cancel(child, "parent cancelled", run->workflow_id);
	}
}

/* Cancelling a parent asks its open children to cancel. */
static void
wf_cancel_children(WfRun *run)
{
	if (run->has_children)
		settle_children(run, true);
}

/* Remember that the run started a child (so its end settles children). */
void
wf_mark_parent(WfRun *run)
{
	Oid			types[2] = {TEXTOID, UUIDOID};
	Datum		values[2] = {CStringGetTextDatum(run->workflow_id), run->run_id};

	if (run->has_children)
		return;
	wf_exec(&mark_parent_plan,
			"UPDATE workflow.workflows SET has_children = true"
			" WHERE workflow_id = $1 AND run_id = $2",
			2, types, values, NULL, 0);
	run->has_children = true;
}

/*
 * Record a closed child's outcome in its (locked) parent, if the parent
 * still runs and waits for it, and let the parent's code go on.
 */
static void
deliver_child_outcome(WfRun *parent, const char *child_id, const char *child_type,
					  WfRunStatus status, Jsonb *result, Jsonb *error)
{
	WfEvent		b;
	int			seq;

	if (parent->status != WF_RUN_RUNNING)
		return;
	seq = child_seq(parent, child_id);
	if (seq == 0)
		return;
	wf_event_begin(&b);
	wf_event_int(&b, WF_KEY_SEQ, seq);
	wf_event_str(&b, WF_KEY_WORKFLOW_TYPE, child_type);
	wf_event_str(&b, WF_KEY_CHILD_WORKFLOW_ID, child_id);
	wf_event_str(&b, WF_KEY_STATUS, wf_run_status_name(status));
	if (status == WF_RUN_COMPLETED)
	{
		wf_event_jsonb(&b, WF_KEY_RESULT, result);
		wf_append_event(parent, WF_EV_CHILD_COMPLETED, wf_event_data(&b));
	}
	else
	{
		wf_event_str(&b, WF_KEY_ERROR, psprintf("child workflow \"%s\" ended %s", child_id,
															 wf_run_status_name(status)));
		if (error)
			wf_event_jsonb(&b, WF_KEY_DETAILS, error);
		wf_append_event(parent, WF_EV_CHILD_FAILED, wf_event_data(&b));
	}
	wf_wake_run(parent);
}

/*
 * A child closed: tell its parent.  The child's row is locked, and the
 * usual order is parent before child (a cancelled parent locks its
 * children), so the parent is not waited for: if another session holds
 * it, the outcome is left as a notice that the scheduler delivers,
 * parent first, right after this commit.
 */
static void
notify_parent(WfRun *child, WfRunStatus status, Jsonb *result, Jsonb *error)
{
	WfRun	   *parent = wf_lock_run_by_id(child->parent_workflow_id, child->parent_run_id, true);
	Oid			types[7] = {TEXTOID, UUIDOID, TEXTOID, TEXTOID, TEXTOID, JSONBOID, JSONBOID};
	Datum		values[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', result ? ' ' : 'n', error ? ' ' : 'n'};

	if (parent != NULL)
	{
		deliver_child_outcome(parent, child->workflow_id, child->workflow_type,
							  status, result, error);
		return;
	}
	if (!wf_run_exists(child->parent_workflow_id, child->parent_run_id))
		return;
	values[0] = CStringGetTextDatum(child->parent_workflow_id);
	values[1] = child->parent_run_id;
	values[2] = CStringGetTextDatum(child->workflow_id);
	values[3] = CStringGetTextDatum(child->workflow_type);
	values[4] = CStringGetTextDatum(wf_run_status_name(status));
	values[5] = result ? JsonbPGetDatum(result) : (Datum) 0;
	values[6] = error ? JsonbPGetDatum(error) : (Datum) 0;
	wf_exec(&notice_plan,
			"INSERT INTO workflow.child_notices (workflow_id, run_id, child_workflow_id,"
			"   child_type, status, result, error) VALUES ($1, $2, $3, $4, $5, $6, $7)",
			7, types, values, nulls, 0);
	wf_note_due(wf_now());
}

/*
 * Deliver the child notices of one locked parent (scheduler and tick());
 * returns how many.  A closed parent just drops them.
 */
int
wf_deliver_child_notices(WfRun *parent)
{
	Oid			types[2] = {TEXTOID, UUIDOID};
	Datum		values[2] = {CStringGetTextDatum(parent->workflow_id), parent->run_id};
	int			n,
				i;
	char	  **child_ids;
	char	  **child_types;
	WfRunStatus *statuses;
	Jsonb	  **results;
	Jsonb	  **errors;

	n = wf_exec(&take_notices_plan,
				"DELETE FROM workflow.child_notices WHERE workflow_id = $1 AND run_id = $2"
				" RETURNING child_workflow_id, child_type, status, result, error",
				2, types, values, NULL, 0);
	child_ids = palloc(sizeof(char *) * (n + 1));
	child_types = palloc(sizeof(char *) * (n + 1));
	statuses = palloc(sizeof(WfRunStatus) * (n + 1));
	results = palloc(sizeof(Jsonb *) * (n + 1));
	errors = palloc(sizeof(Jsonb *) * (n + 1));
	for (i = 0; i < n; i++)
	{
		child_ids[i] = wf_get_text(i, 1);
		child_types[i] = wf_get_text(i, 2);
		statuses[i] = wf_run_status_of(wf_get_text(i, 3));
		results[i] = wf_get_jsonb(i, 4);
		errors[i] = wf_get_jsonb(i, 5);
	}
	for (i = 0; i < n; i++)
		deliver_child_outcome(parent, child_ids[i], child_types[i], statuses[i],
							  results[i], errors[i]);
	return n;
}

/* Forget the signals buffered for a run that has ended. */
static void
drop_buffered_signals(WfRun *run)
{
	Oid			types[2] = {TEXTOID, UUIDOID};
	Datum		values[2] = {CStringGetTextDatum(run->workflow_id), run->run_id};

	wf_exec(&drop_signals_plan,
			"DELETE FROM workflow.signals WHERE workflow_id = $1 AND run_id = $2",
			2, types, values, NULL, 0);
}

/*
 * Close the run with a final status, then settle its relatives: its
 * children (cancelled with it if it was cancelled, else terminated), its
 * buffered signals, its parent; and hand the slot it held under its
 * type's limits to the next queued run (model/flow.c).
 */
void
wf_end_run(WfRun *run, WfRunStatus status, Jsonb *result, Jsonb *error)
{
	bool		held_slot = run->status != WF_RUN_QUEUED && !run->replaced;
	/* A run a reset replaces goes on, for its parent, as the new run. */
	bool		tell_parent = run->parent_workflow_id && !run->replaced;

	wf_close_run(run, status, result, error);
	if (run->has_children)
		settle_children(run, run->cancel_requested);
	/* Buffered signals go on to the next run; otherwise nobody reads them. */
	if (status != WF_RUN_CONTINUED_AS_NEW)
		drop_buffered_signals(run);
	if (tell_parent && status != WF_RUN_CONTINUED_AS_NEW)
		notify_parent(run, status, result, error);
	/* A schedule's fire (its id has a ':') may have a fire kept for its end. */
	if (status != WF_RUN_CONTINUED_AS_NEW && strchr(run->workflow_id, ':') != NULL)
		wf_note_due(wf_now());
	/* The next run of a continue-as-new keeps the slot. */
	if (held_slot && status != WF_RUN_CONTINUED_AS_NEW)
		wf_start_queued(run->workflow_type, false);
}

/*
 * May role produce onto every queue a run of this type schedules on at
 * once: its default queue and, for a saga, each step's queues.
 */
void
wf_check_start_queues(Oid role, const char *type, const char *queue)
{
	WfType	   *t = wf_lookup_type(type);
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;

	wf_check_queue_produce(role, queue);
	if (t == NULL || t->steps == NULL)
		return;
	it = JsonbIteratorInit(&t->steps->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		Jsonb	   *step;
		char	   *step_queue;
		char	   *comp_queue;

		if (tok != WJB_ELEM || v.type != jbvBinary)
			continue;
		step = JsonbValueToJsonb(&v);
		step_queue = wf_jsonb_get_text(step, "queue");
		if (step_queue)
			wf_check_queue_produce(role, step_queue);
		comp_queue = wf_jsonb_get_text(wf_jsonb_get_jsonb(step, "options"), "compensation_queue");
		if (comp_queue && wf_jsonb_get_text(step, "compensation"))
			wf_check_queue_produce(role, comp_queue);
	}
}

/* Options shared by workflow types, starts and child workflows. */
void
wf_check_run_options(Jsonb *options, const char *what, const char *const *allowed)
{
	char	   *queue;
	char	   *timeout;
	char	   *if_exists;
	Jsonb	   *attrs;

	wf_check_options_object(options, what, allowed);
	queue = wf_jsonb_get_text(options, "queue");
	if (queue)
		wf_check_queue_name(queue);
	timeout = wf_jsonb_get_text(options, "execution_timeout");
	if (timeout)
		(void) wf_parse_interval(timeout, "execution_timeout");
	wf_validate_activity_options(NULL, options);
	wf_check_flow_options(options);
	wf_check_retention_option(options);
	if_exists = wf_jsonb_get_text(options, "if_exists");
	if (if_exists && strcmp(if_exists, "error") != 0 && strcmp(if_exists, "return") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value \"%s\" for option \"if_exists\"", if_exists),
				 errhint("Use \"error\" (the default) or \"return\".")));
	attrs = wf_jsonb_get_jsonb(options, "search_attributes");
	if (attrs && !JB_ROOT_IS_OBJECT(attrs))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"search_attributes\" must be a jsonb object"),
				 errhint("Write it as {\"customer\": \"c-42\"}.")));
	wf_check_payload(attrs, "search_attributes");
	wf_check_payload(options, what);
}
