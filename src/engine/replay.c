/*-------------------------------------------------------------------------
 * replay.c
 *	  The replay engine: runs workflow code against its history.
 *
 * A workflow task (wf_advance) loads the run's history once, then calls the
 * workflow function inside a subtransaction, as the role that started the
 * workflow, with a pinned search_path.  Each blocking call in the code
 * takes the next sequence number:
 *
 *	 - if the history has an outcome for that number, the call returns it
 *	   (or raises the recorded failure);
 *	 - if the history has a different kind or name there, the code is not
 *	   deterministic: the task fails and names the position;
 *	 - otherwise the call records its command in the replay context, which
 *	   lives outside the subtransaction, and raises WF004 to unwind.
 *
 * Whatever the function did is then rolled back, and the recorded commands
 * are written (tasks, timers, history events) in the caller's transaction.
 * The flags in the context, not the error that reaches us, decide the
 * outcome, so code that catches WF004 (WHEN OTHERS) cannot confuse the
 * engine: once blocked, every further call raises WF004 again.
 *
 * Only a run that returns normally without blocking commits the function's
 * own effects, together with WorkflowCompleted.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_proc.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/regproc.h"
#include "utils/syscache.h"

#include "engine/engine.h"

int			wf_task_retry_initial_ms = 1000;
int			wf_task_retry_max_ms = 600000;

typedef enum WfOutcome
{
	WF_OUT_COMPLETED,
	WF_OUT_CONTINUED,
	WF_OUT_SUSPENDED,
	WF_OUT_FAILED,
	WF_OUT_CANCELLED,
	WF_OUT_TASK_FAILED
} WfOutcome;

/* The context of the workflow task running in this backend, if any. */
static ReplayContext *current_replay = NULL;

static void advance_task(ReplayContext *ctx);

static SPIPlanPtr load_history_plan;

/* Name of a command kind, for messages and history. */
static const char *
wf_cmd_kind_name(WfCmdKind kind)
{
	switch (kind)
	{
		case WF_CMD_ACTIVITY:
			return "activity";
		case WF_CMD_TIMER:
			return "timer";
		case WF_CMD_SIGNAL:
			return "signal";
		case WF_CMD_MARKER:
			return "marker";
		case WF_CMD_CHILD:
			return "child workflow";
	}
	return "?";
}

/* The running workflow task's context, or an error naming the function. */
ReplayContext *
wf_replay_require(const char *function)
{
	if (current_replay == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_WF_NOT_IN_WORKFLOW),
				 errmsg("%s can only be called from workflow code", function),
				 errdetail("It was called outside a workflow task."),
				 errhint("Call it inside a function registered with workflow.register_workflow, "
						 "and start that with workflow.start_workflow.")));
	/* Once blocked, diverged or continued, nothing more happens in this attempt. */
	if (current_replay->blocked || current_replay->nondeterminism ||
		current_replay->continue_input)
		ereport(ERROR,
				(errcode(ERRCODE_WF_SUSPENDED),
				 errmsg("workflow task is suspended"),
				 errhint("Do not catch SQLSTATE WF004 in workflow code.")));
	return current_replay;
}

/* The history entry at seq, creating empty ones up to it. */
static WfHistCmd *
hist_slot(ReplayContext *ctx, int seq)
{
	if (seq > ctx->ncmds)
	{
		int			n = Max(seq, ctx->ncmds * 2);

		if (ctx->cmds == NULL)
			ctx->cmds = MemoryContextAllocZero(ctx->hist_mcxt, n * sizeof(WfHistCmd));
		else
		{
			ctx->cmds = repalloc(ctx->cmds, n * sizeof(WfHistCmd));
			memset(ctx->cmds + ctx->ncmds, 0, (n - ctx->ncmds) * sizeof(WfHistCmd));
		}
		ctx->ncmds = n;
	}
	return &ctx->cmds[seq - 1];
}

/* Start a command entry (Scheduled/Started events and markers). */
static void
hist_open(ReplayContext *ctx, int seq, WfCmdKind kind, const char *name)
{
	WfHistCmd  *h = hist_slot(ctx, seq);

	if (h->present)
		return;
	h->present = true;
	h->kind = kind;
	h->name = name ? MemoryContextStrdup(ctx->hist_mcxt, name) : NULL;
	h->state = WF_CMD_PENDING;
}

/* Resolve a command; the first outcome recorded for a seq wins. */
static void
hist_resolve(ReplayContext *ctx, int seq, WfCmdKind kind, const char *name,
			 WfCmdState state, Jsonb *result, char *error)
{
	WfHistCmd  *h;

	hist_open(ctx, seq, kind, name);
	h = hist_slot(ctx, seq);
	if (h->state != WF_CMD_PENDING)
		return;
	h->state = state;
	h->result = NULL;
	if (result)
	{
		MemoryContext old = MemoryContextSwitchTo(ctx->hist_mcxt);

		h->result = DatumGetJsonbPCopy(JsonbPGetDatum(result));
		MemoryContextSwitchTo(old);
	}
	h->error = error ? MemoryContextStrdup(ctx->hist_mcxt, error) : NULL;
}

/* A scalar member of an event's data as text; NULL if absent or not scalar. */
static char *
event_text(Jsonb *data, WfEventKey key)
{
	JsonbValue	v;

	if (!wf_jsonb_get(data, wf_event_key_name(key), &v) || v.type == jbvNull ||
		v.type == jbvBinary)
		return NULL;
	return wf_event_text(data, key);
}

/* The name a command event carries: activity, marker, signal, timer or child. */
static char *
event_command_name(Jsonb *data)
{
	static const WfEventKey name_keys[] = {
		WF_KEY_ACTIVITY, WF_KEY_MARKER, WF_KEY_SIGNAL, WF_KEY_NAME, WF_KEY_WORKFLOW_TYPE
	};
	int			i;

	for (i = 0; i < lengthof(name_keys); i++)
	{
		char	   *name = event_text(data, name_keys[i]);

		if (name != NULL)
			return name;
	}
	return NULL;
}

/*
 * Take one history event into the replay context.  Only command events
 * (with a seq) matter; events of compensation tasks are the engine's, not
 * the code's.
 */
static void
load_event(ReplayContext *ctx, WfEventType type, Jsonb *data)
{
	char	   *seq_text = event_text(data, WF_KEY_SEQ);
	char	   *compensation = event_text(data, WF_KEY_IS_COMPENSATION);
	char	   *final_text = event_text(data, WF_KEY_FINAL);
	bool		final = final_text == NULL || strcmp(final_text, "true") == 0;
	WfCmdKind	timer_kind = event_text(data, WF_KEY_SIGNAL) ? WF_CMD_SIGNAL : WF_CMD_TIMER;
	char	   *name;
	int			seq;

	if (seq_text == NULL || (compensation && strcmp(compensation, "true") == 0))
		return;
	seq = atoi(seq_text);
	name = event_command_name(data);

	switch (type)
	{
		case WF_EV_ACTIVITY_SCHEDULED:
			hist_open(ctx, seq, WF_CMD_ACTIVITY, name);
			break;
		case WF_EV_ACTIVITY_COMPLETED:
			hist_resolve(ctx, seq, WF_CMD_ACTIVITY, name, WF_CMD_DONE,
						 wf_event_value(data, WF_KEY_RESULT), NULL);
			break;
		case WF_EV_ACTIVITY_FAILED:
		case WF_EV_ACTIVITY_TIMED_OUT:
			if (final)
				hist_resolve(ctx, seq, WF_CMD_ACTIVITY, name, WF_CMD_FAILED, data,
							 event_text(data, WF_KEY_ERROR));
			break;
		case WF_EV_ACTIVITY_CANCELLED:
			hist_resolve(ctx, seq, WF_CMD_ACTIVITY, name, WF_CMD_CANCELLED, NULL, NULL);
			break;
		case WF_EV_TIMER_STARTED:
			hist_open(ctx, seq, timer_kind, name);
			break;
		case WF_EV_TIMER_FIRED:
			hist_resolve(ctx, seq, timer_kind, name, WF_CMD_DONE, NULL, NULL);
			break;
		case WF_EV_TIMER_CANCELLED:
			hist_resolve(ctx, seq, timer_kind, name, WF_CMD_CANCELLED, NULL, NULL);
			break;
		case WF_EV_CHILD_STARTED:
			hist_open(ctx, seq, WF_CMD_CHILD, name);
			break;
		case WF_EV_CHILD_COMPLETED:
			hist_resolve(ctx, seq, WF_CMD_CHILD, name, WF_CMD_DONE,
						 wf_event_value(data, WF_KEY_RESULT), NULL);
			break;
		case WF_EV_CHILD_CANCELLED:
			hist_resolve(ctx, seq, WF_CMD_CHILD, name, WF_CMD_CANCELLED, NULL, NULL);
			break;
		case WF_EV_CHILD_FAILED:
			hist_resolve(ctx, seq, WF_CMD_CHILD, name, WF_CMD_FAILED, data,
						 event_text(data, WF_KEY_ERROR));
			break;
		case WF_EV_SIGNAL_CONSUMED:
			hist_resolve(ctx, seq, WF_CMD_SIGNAL, name, WF_CMD_DONE,
						 wf_event_value(data, WF_KEY_PAYLOAD), NULL);
			break;
		case WF_EV_MARKER_RECORDED:
			hist_resolve(ctx, seq, WF_CMD_MARKER, name, WF_CMD_DONE,
						 wf_event_value(data, WF_KEY_VALUE), NULL);
			break;
		default:
			/* the other events with a seq (ActivityStarted, ...) are progress */
			break;
	}
}

/* A stored event, by the name workflow.history spells its type with. */
static void
load_stored_event(ReplayContext *ctx, const char *type_name, Jsonb *data)
{
	WfEventType type;

	if (wf_event_type_of(type_name, &type))
		load_event(ctx, type, data);
}

/*
 * Load the run's command history, once per workflow task: the stored
 * events, then those this transaction appended and has not written yet
 * (so a completion need not be written before the replay it triggers).
 * With the history cache (a workflow task, the run locked), only the
 * events after those the cache holds are read (engine/histcache.c).
 * Events are decoded in a scratch context; what a command keeps of them
 * is copied to ctx->hist_mcxt.
 */
static void
load_history(ReplayContext *ctx, bool use_cache)
{
	WfRun	   *run = ctx->run;
	WfHistCacheEntry *entry = NULL;
	int64		known = 0;
	int64		stored;
	int64		id;
	List	   *pending_types;
	List	   *pending_data;
	ListCell   *lt,
			   *ld;
	MemoryContext scratch,
				old;

	stored = run->last_event_id - wf_buffered_events(run, &pending_types, &pending_data);
	ctx->hist_mcxt = ctx->mcxt;
	if (use_cache)
	{
		entry = wf_hist_cache_get(run);
		known = wf_hist_cache_through(entry);
		wf_hist_cache_commands(entry, &ctx->cmds, &ctx->ncmds, &ctx->hist_mcxt);
	}
	scratch = AllocSetContextCreate(CurrentMemoryContext, "workflow history load",
									ALLOCSET_DEFAULT_SIZES);
	if (known < stored)
	{
		Oid			types[3] = {TEXTOID, UUIDOID, INT8OID};
		Datum		values[3];
		int			n,
					i;

		values[0] = CStringGetTextDatum(run->workflow_id);
		values[1] = run->run_id;
		values[2] = Int64GetDatum(known);
		n = wf_exec(&load_history_plan,
					"SELECT event_type, data FROM workflow.history"
					" WHERE workflow_id = $1 AND run_id = $2 AND event_id > $3"
					" AND data ? 'seq' ORDER BY event_id",
					3, types, values, NULL, 0);
		old = MemoryContextSwitchTo(scratch);
		for (i = 0; i < n; i++)
			load_stored_event(ctx, wf_get_text(i, 1), wf_get_jsonb(i, 2));
		MemoryContextSwitchTo(old);
	}
	old = MemoryContextSwitchTo(scratch);
	id = stored;
	forboth(lt, pending_types, ld, pending_data)
	{
		if (++id > known)
			load_event(ctx, (WfEventType) lfirst_int(lt), (Jsonb *) lfirst(ld));
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(scratch);
	if (entry)
		wf_hist_cache_loaded(entry, ctx->cmds, ctx->ncmds, run->last_event_id);
}

/*
 * Take the next sequence number for a call of kind/name.  Returns what the
 * history holds there, or NULL if the call is new.  A mismatch is a
 * non-determinism error.
 */
WfHistCmd *
wf_replay_next(ReplayContext *ctx, WfCmdKind kind, const char *name)
{
	int			seq = ++ctx->seq;
	WfHistCmd  *h;

	/*
	 * A patch marker the code no longer asks for (the patch was removed
	 * once no run needed the old branch) is stepped over.
	 */
	while (seq <= ctx->ncmds && ctx->cmds[seq - 1].present &&
		   ctx->cmds[seq - 1].kind == WF_CMD_MARKER &&
		   strncmp(ctx->cmds[seq - 1].name, "patch:", 6) == 0 &&
		   (kind != WF_CMD_MARKER || strcmp(ctx->cmds[seq - 1].name, name) != 0))
		seq = ++ctx->seq;

	if (seq > ctx->ncmds || !ctx->cmds[seq - 1].present)
		return NULL;
	h = &ctx->cmds[seq - 1];
	if (h->kind != kind || (h->name && name && strcmp(h->name, name) != 0))
	{
		MemoryContext old = MemoryContextSwitchTo(ctx->mcxt);

		ctx->nondeterminism =
			psprintf("non-determinism at position %d: history recorded %s \"%s\", code asked for %s \"%s\"",
					 seq, wf_cmd_kind_name(h->kind), h->name ? h->name : "",
					 wf_cmd_kind_name(kind), name ? name : "");
		MemoryContextSwitchTo(old);
		ereport(ERROR,
				(errcode(ERRCODE_WF_NONDETERMINISM),
				 errmsg("%s", ctx->nondeterminism),
				 errhint("Restore the code the run started with, or guard the change with workflow.patched().")));
	}
	return h;
}

/* Record a new command at the current sequence number. */
WfNewCmd *
wf_replay_record(ReplayContext *ctx, WfCmdKind kind, const char *name)
{
	MemoryContext old = MemoryContextSwitchTo(ctx->mcxt);
	WfNewCmd   *c = palloc0(sizeof(WfNewCmd));

	c->seq = ctx->seq;
	c->kind = kind;
	c->name = name ? pstrdup(name) : NULL;
	ctx->new_cmds = lappend(ctx->new_cmds, c);
	MemoryContextSwitchTo(old);
	return c;
}

/* Suspend the attempt: the code waits for something not yet in history. */
void
wf_replay_block(ReplayContext *ctx, const char *why)
{
	ctx->blocked = true;
	ereport(ERROR,
			(errcode(ERRCODE_WF_SUSPENDED),
			 errmsg("workflow suspended: %s", why),
			 errhint("Do not catch SQLSTATE WF004 in workflow code.")));
}

/* Raise the cancellation error in workflow code. */
void
wf_replay_raise_cancelled(ReplayContext *ctx)
{
	ctx->cancel_delivered = true;
	ereport(ERROR,
			(errcode(ERRCODE_WF_CANCELLED),
			 errmsg("workflow \"%s\" was cancelled", ctx->run->workflow_id),
			 errhint("Catch SQLSTATE WF002 to clean up; compensations run when the code ends.")));
}

/*
 * If the run was asked to cancel and the code has not seen it yet, deliver
 * it at the current (unresolved) call: record that, and raise.
 */
bool
wf_replay_deliver_cancel(ReplayContext *ctx, WfCmdKind kind, const char *name)
{
	WfNewCmd   *c;

	if (!ctx->run->cancel_requested || ctx->cancel_delivered)
		return false;
	c = wf_replay_record(ctx, kind, name);
	c->cancel = true;
	wf_replay_raise_cancelled(ctx);
	return true;				/* not reached */
}

/* Raise a recorded failure of an activity in workflow code. */
void
wf_replay_raise_failure(WfHistCmd *h)
{
	char	   *details = h->result ? JsonbToCString(NULL, &h->result->root, VARSIZE(h->result)) : NULL;

	if (h->kind == WF_CMD_CHILD)
		ereport(ERROR,
				(errcode(ERRCODE_WF_CHILD_FAILED),
				 errmsg("%s", h->error ? h->error : "child workflow failed"),
				 details ? errdetail("%s", details) : 0,
				 errhint("Catch SQLSTATE WF006 in workflow code to handle the failure.")));
	ereport(ERROR,
			(errcode(ERRCODE_WF_ACTIVITY_FAILED),
			 errmsg("activity \"%s\" failed: %s", h->name ? h->name : "", h->error ? h->error : "unknown error"),
			 details ? errdetail("%s", details) : 0,
			 errhint("Catch SQLSTATE WF001 in workflow code to handle the failure.")));
}

/* The failure as jsonb, from an error. */
static Jsonb *
error_to_jsonb(ErrorData *edata)
{
	return wf_error_object(edata->sqlerrcode, edata->message, edata->detail, edata->hint,
						   edata->context);
}

/*
 * Call the workflow function once, inside a subtransaction, in the
 * sandbox (as the run's owner, settings undone afterwards, bounded by
 * workflow.task_timeout).  Sets *result or *edata; the outcome is decided
 * by the caller.
 */
static void
run_attempt(ReplayContext *ctx, Oid fn, Jsonb **result, ErrorData **edata)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	WfSandbox	sb;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	current_replay = ctx;
	wf_sandbox_enter(&sb, ctx->run->owner);

	PG_TRY();
	{
		LOCAL_FCINFO(fcinfo, 1);
		FmgrInfo	flinfo;
		Datum		d;

		if (ctx->saga_steps)
		{
			d = wf_saga_body(ctx);
			fcinfo->isnull = false;
		}
		else
		{
			fmgr_info(fn, &flinfo);
			InitFunctionCallInfoData(*fcinfo, &flinfo, 1, InvalidOid, NULL, NULL);
			fcinfo->args[0].value = JsonbPGetDatum(ctx->run->input);
			fcinfo->args[0].isnull = false;
			d = FunctionCallInvoke(fcinfo);
		}
		if (!fcinfo->isnull)
		{
			MemoryContext old = MemoryContextSwitchTo(ctx->mcxt);

			*result = DatumGetJsonbPCopy(d);
			MemoryContextSwitchTo(old);
		}

		wf_sandbox_leave(&sb);
		current_replay = NULL;
		/* Code that caught the cancellation still ran too long. */
		ctx->timed_out = wf_sandbox_timed_out() && !ctx->blocked;
		ctx->took_locks = wf_sandbox_took_locks(&sb, false);
		if (ctx->blocked || ctx->nondeterminism || ctx->timed_out || ctx->took_locks ||
			ctx->dry_run)
			RollbackAndReleaseCurrentSubTransaction();
		else
			ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		wf_sandbox_disarm();
		current_replay = NULL;
		MemoryContextSwitchTo(ctx->mcxt);
		*edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		SetUserIdAndSecContext(sb.saved_userid, sb.saved_sec_context);
	}
	PG_END_TRY();

	/* Rolled back: what is still held is a session-level lock; let go. */
	ctx->took_locks |= wf_sandbox_took_locks(&sb, true);
	if (*edata)
		ctx->timed_out = wf_sandbox_timed_out() && !ctx->blocked;
	/* The caller's own cancellation (Ctrl-C, statement_timeout) is not ours. */
	if (*edata && !ctx->blocked && !ctx->timed_out &&
			 ((*edata)->sqlerrcode == ERRCODE_QUERY_CANCELED ||
			  (*edata)->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN))
		ReThrowError(*edata);
}

/* Decide what one attempt amounted to. */
static WfOutcome
classify(ReplayContext *ctx, ErrorData *edata)
{
	if (ctx->nondeterminism || ctx->timed_out || ctx->took_locks)
		return WF_OUT_TASK_FAILED;
	if (ctx->blocked)
		return WF_OUT_SUSPENDED;
	if (ctx->continue_input)
		return WF_OUT_CONTINUED;
	if (edata == NULL)
		return WF_OUT_COMPLETED;
	if (edata->sqlerrcode == ERRCODE_RAISE_EXCEPTION ||
		edata->sqlerrcode == ERRCODE_WF_ACTIVITY_FAILED ||
		edata->sqlerrcode == ERRCODE_WF_CHILD_FAILED)
		return WF_OUT_FAILED;
	if (edata->sqlerrcode == ERRCODE_WF_CANCELLED && ctx->cancel_delivered)
		return WF_OUT_CANCELLED;
	return WF_OUT_TASK_FAILED;
}

/* Write the commands this attempt decided on. */
static void
apply_commands(ReplayContext *ctx)
{
	ListCell   *lc;

	foreach(lc, ctx->new_cmds)
		wf_apply_command(ctx->run, (WfNewCmd *) lfirst(lc));
}

/* Backoff before retrying a failed workflow task. */
TimestampTz
wf_task_retry_time(int failures)
{
	double		delay = wf_task_retry_initial_ms;
	int			i;

	for (i = 1; i < failures && delay < wf_task_retry_max_ms; i++)
		delay *= 2;
	delay = Min(delay, (double) wf_task_retry_max_ms);
	return TimestampTzPlusMilliseconds(wf_now(), (int64) delay);
}

/*
 * Record a failure on a locked run: WorkflowTaskFailed with the error (and
 * the due item that failed, if item), after the workflow-task backoff.
 * With retry_task, the workflow task itself is retried then; otherwise
 * the caller postpones its item to the returned time.
 */
TimestampTz
wf_record_task_failure(WfRun *run, Jsonb *error, const char *item, bool retry_task)
{
	TimestampTz retry_at;
	WfEvent		b;

	run->task_failures++;
	retry_at = wf_task_retry_time(run->task_failures);
	if (retry_task)
		run->task_retry_at = retry_at;
	wf_event_begin(&b);
	wf_event_jsonb(&b, WF_KEY_ERROR, error);
	if (item)
		wf_event_str(&b, WF_KEY_ITEM, item);
	wf_event_int(&b, WF_KEY_ATTEMPT, run->task_failures);
	wf_event_time(&b, WF_KEY_RETRY_AT, retry_at);
	wf_append_event(run, WF_EV_WORKFLOW_TASK_FAILED, wf_event_data(&b));
	wf_update_run(run);
	wf_note_due(retry_at);
	return retry_at;
}

/* Record a failed workflow task and schedule its retry. */
static void
record_task_failure(ReplayContext *ctx, Jsonb *error)
{
	(void) wf_record_task_failure(ctx->run, error, NULL, true);
}

/* A task failure for a reason of the engine's, not an error in the code. */
static void
record_task_failure_msg(ReplayContext *ctx, int sqlerrcode, const char *message)
{
	record_task_failure(ctx, wf_error_object(sqlerrcode, message, NULL, NULL, NULL));
}

/*
 * Find the run's workflow function (or saga).  Returns InvalidOid when it
 * cannot be run, with *sqlerrcode and *problem saying why (a saga returns
 * InvalidOid too, with ctx->saga_steps set and no problem).
 */
static Oid
resolve_workflow_fn(ReplayContext *ctx, int *sqlerrcode, char **problem)
{
	WfType	   *type = wf_lookup_type(ctx->run->workflow_type);
	Oid			fn;

	*problem = NULL;
	if (type == NULL)
	{
		*sqlerrcode = ERRCODE_UNDEFINED_OBJECT;
		*problem = psprintf("workflow type \"%s\" is not registered", ctx->run->workflow_type);
		return InvalidOid;
	}
	ctx->saga_steps = type->steps;
	if (ctx->saga_steps)
		return InvalidOid;
	fn = type->fn;
	if (!SearchSysCacheExists1(PROCOID, ObjectIdGetDatum(fn)))
	{
		*sqlerrcode = ERRCODE_UNDEFINED_FUNCTION;
		*problem = psprintf("the function of workflow type \"%s\" no longer exists",
							ctx->run->workflow_type);
		return InvalidOid;
	}
	if (object_aclcheck(ProcedureRelationId, fn, ctx->run->owner, ACL_EXECUTE) != ACLCHECK_OK)
	{
		*sqlerrcode = ERRCODE_INSUFFICIENT_PRIVILEGE;
		*problem = psprintf("role \"%s\" may not execute %s",
							GetUserNameFromId(ctx->run->owner, false), format_procedure(fn));
		return InvalidOid;
	}
	return fn;
}

/*
 * Find the run's workflow function (or saga).  Returns InvalidOid, after
 * recording a task failure, if it cannot be run.
 */
static Oid
lookup_workflow_fn(ReplayContext *ctx)
{
	int			sqlerrcode;
	char	   *problem;
	Oid			fn = resolve_workflow_fn(ctx, &sqlerrcode, &problem);

	if (problem)
		record_task_failure_msg(ctx, sqlerrcode, problem);
	return fn;
}

/*
 * Run one workflow task for a locked, running run: replay its code and
 * write what it decided.  Never raises for problems in the code: those are
 * recorded in the history.
 */
void
wf_advance(WfRun *run)
{
	ReplayContext ctx;

	if (run->status != WF_RUN_RUNNING)
		return;
	/* A role dropped in another database leaves its runs here ownerless. */
	if (!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(run->owner)))
	{
		wf_terminate_run(run, WF_EV_WORKFLOW_TERMINATED, WF_RUN_TERMINATED,
						 psprintf("the owner of the run (role %u) no longer exists", run->owner));
		return;
	}
	memset(&ctx, 0, sizeof(ctx));
	ctx.mcxt = AllocSetContextCreate(CurrentMemoryContext, "workflow replay",
									 ALLOCSET_DEFAULT_SIZES);
	ctx.run = run;
	advance_task(&ctx);
	MemoryContextDelete(ctx.mcxt);
}

/*
 * Advance every run on the wake-up queue, oldest first, each locked again
 * (so it is advanced from its current row) in its own workflow task.  A
 * task may wake further runs (a child it started, the next run of a
 * continue-as-new, a child's cancellation): they are advanced in turn,
 * after it, until the queue is empty.
 */
void
wf_advance_woken(void)
{
	char	   *workflow_id;
	Datum		run_id;

	while (wf_next_woken(&workflow_id, &run_id))
	{
		WfRun	   *run = wf_lock_run_by_id(workflow_id, run_id, false);

		if (run != NULL)
			wf_advance(run);
	}
}

/* Transaction end: no workflow task is running any more. */
void
wf_replay_at_end(void)
{
	current_replay = NULL;
}

/*
 * Write the commands of an attempt that ended the code (completed,
 * continued, failed) rather than suspending it: what the code recorded
 * without waiting (markers, consumed signals) still happened.
 */
static void
apply_records(ReplayContext *ctx)
{
	ListCell   *lc;

	foreach(lc, ctx->new_cmds)
	{
		WfNewCmd   *c = lfirst(lc);

		if (c->kind == WF_CMD_MARKER || (c->kind == WF_CMD_SIGNAL && c->signal_id != 0))
			wf_apply_command(ctx->run, c);
	}
}

/* Write what one attempt decided. */
static void
apply_outcome(ReplayContext *ctx, WfOutcome outcome, Jsonb *result, ErrorData *edata)
{
	WfRun	   *run = ctx->run;

	wf_apply_state(run, ctx->state_updates);
	switch (outcome)
	{
		case WF_OUT_COMPLETED:
			apply_records(ctx);
			wf_complete_run(run, result);
			break;
		case WF_OUT_CONTINUED:
			apply_records(ctx);
			wf_continue_as_new(run, ctx->continue_input);
			break;
		case WF_OUT_SUSPENDED:
			apply_commands(ctx);
			/* One UPDATE of the run row for both, and none if neither changed. */
			if (wf_set_awaiting_signal(run, ctx->awaited_signal) ||
				run->task_failures > 0 || run->task_retry_at != 0)
			{
				run->task_failures = 0;
				run->task_retry_at = 0;
				wf_update_run(run);
			}
			break;
		case WF_OUT_FAILED:
			apply_records(ctx);
			wf_fail_run(run, error_to_jsonb(edata));
			break;
		case WF_OUT_CANCELLED:
			apply_commands(ctx);
			wf_fail_run(run, error_to_jsonb(edata));
			break;
		case WF_OUT_TASK_FAILED:
			elog(ERROR, "a failed workflow task has nothing to apply");
	}
}

/* One workflow task for a locked, running run: replay it, write what it decided. */
static void
advance_body(void *arg)
{
	ReplayContext *ctx = arg;
	Oid			fn;
	Jsonb	   *result = NULL;
	ErrorData  *edata = NULL;
	WfOutcome	outcome;

	fn = lookup_workflow_fn(ctx);
	if (!OidIsValid(fn) && ctx->saga_steps == NULL)
		return;
	load_history(ctx, true);
	run_attempt(ctx, fn, &result, &edata);

	outcome = classify(ctx, edata);
	if (outcome != WF_OUT_TASK_FAILED)
		apply_outcome(ctx, outcome, result, edata);
	else if (ctx->nondeterminism)
		record_task_failure_msg(ctx, ERRCODE_WF_NONDETERMINISM, ctx->nondeterminism);
	else if (ctx->took_locks)
		record_task_failure_msg(ctx, ERRCODE_WF_NOT_IN_WORKFLOW,
								"workflow code cannot take advisory locks: take them in an activity");
	else if (ctx->timed_out)
		record_task_failure_msg(ctx, ERRCODE_QUERY_CANCELED,
								psprintf("workflow task timed out after %d ms (workflow.task_timeout)",
										 wf_task_timeout_ms));
	else
		record_task_failure(ctx, error_to_jsonb(edata));
}

/*
 * advance_body in a subtransaction of its own: whatever fails in the
 * engine while it advances the run (reading its history, writing a
 * command it cannot carry out) is a failed workflow task of this run,
 * recorded and retried, never the error of the session that advanced it.
 */
static void
advance_task(ReplayContext *ctx)
{
	WfRun		saved = *ctx->run;
	ErrorData  *failure = wf_isolated(advance_body, ctx);

	if (failure == NULL)
		return;
	current_replay = NULL;
	/* Undo what the rolled-back writes did to the run (the wake-ups went with them). */
	*ctx->run = saved;
	record_task_failure(ctx, error_to_jsonb(failure));
}

/*
 * The message a failed workflow task of this attempt would record, or
 * NULL if the attempt did not fail its task.  Non-determinism is worded
 * exactly as the engine records it.
 */
static char *
task_failure_message(ReplayContext *ctx, ErrorData *edata)
{
	if (ctx->nondeterminism)
		return ctx->nondeterminism;
	if (ctx->took_locks)
		return "workflow code cannot take advisory locks: take them in an activity";
	if (ctx->timed_out)
		return psprintf("workflow task timed out after %d ms (workflow.task_timeout)",
						wf_task_timeout_ms);
	if (classify(ctx, edata) == WF_OUT_TASK_FAILED)
		return pstrdup(edata->message);
	return NULL;
}

/*
 * After an attempt that did not diverge at a call: a command the history
 * recorded after the last call the code made (the code now stops earlier,
 * or ends, where the run went on), patch markers aside.  NULL if none.
 */
static char *
history_goes_further(ReplayContext *ctx)
{
	int			seq;

	for (seq = ctx->seq + 1; seq <= ctx->ncmds; seq++)
	{
		WfHistCmd  *h = &ctx->cmds[seq - 1];

		if (!h->present ||
			(h->kind == WF_CMD_MARKER && strncmp(h->name, "patch:", 6) == 0))
			continue;
		return psprintf("non-determinism at position %d: history recorded %s \"%s\", "
						"code asked for nothing (it stopped at position %d)",
						seq, wf_cmd_kind_name(h->kind), h->name ? h->name : "", ctx->seq);
	}
	return NULL;
}

/* check_replay's attempt, isolated: its argument. */
typedef struct DryRun
{
	ReplayContext *ctx;
	char	   *detail;
} DryRun;

/* Replay once without effect and say what went wrong, if anything. */
static void
dry_run_body(void *arg)
{
	DryRun	   *dr = arg;
	ReplayContext *ctx = dr->ctx;
	int			sqlerrcode;
	Oid			fn = resolve_workflow_fn(ctx, &sqlerrcode, &dr->detail);
	Jsonb	   *result = NULL;
	ErrorData  *edata = NULL;

	if (dr->detail)
		return;
	load_history(ctx, false);
	run_attempt(ctx, fn, &result, &edata);
	dr->detail = task_failure_message(ctx, edata);
	if (dr->detail == NULL)
		dr->detail = history_goes_further(ctx);
	if (dr->detail)
		dr->detail = MemoryContextStrdup(ctx->mcxt, dr->detail);
}

/*
 * Replay a running run against its current function in dry-run mode
 * (workflow.check_replay and the DDL gate): the code runs as in a
 * workflow task, in the sandbox as the run's owner, and everything it did
 * is rolled back; nothing is written and nothing scheduled.  The run need
 * not be locked.  Returns true if the code replays its history; otherwise
 * *detail says why (the message the failed workflow task would record).
 */
bool
wf_replay_check_run(WfRun *run, char **detail)
{
	ReplayContext ctx;
	DryRun		dr;
	ErrorData  *failure;

	memset(&ctx, 0, sizeof(ctx));
	ctx.mcxt = AllocSetContextCreate(CurrentMemoryContext, "workflow replay check",
									 ALLOCSET_DEFAULT_SIZES);
	ctx.run = run;
	ctx.dry_run = true;
	dr.ctx = &ctx;
	dr.detail = NULL;
	failure = wf_isolated(dry_run_body, &dr);
	current_replay = NULL;
	*detail = failure ? pstrdup(failure->message) : dr.detail ? pstrdup(dr.detail) : NULL;
	MemoryContextDelete(ctx.mcxt);
	return *detail == NULL;
}
