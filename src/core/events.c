/*-------------------------------------------------------------------------
 * events.c
 *	  The history's vocabulary spelled out (events.h), and the typed
 *	  helpers that build and read event data with it.
 *
 *	  An event's data under construction is a WfEvent, a jsonb object
 *	  built with keys of the vocabulary; wf_event_data finishes it for
 *	  wf_append_event (history.c).
 *	  Keys are WfEventKey values, so a misspelt key does not compile and
 *	  every key an event may carry is listed in one place.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "core/core.h"

static const char *const event_names[WF_EV_COUNT] = {
	[WF_EV_WORKFLOW_STARTED] = "WorkflowStarted",
	[WF_EV_WORKFLOW_QUEUED] = "WorkflowQueued",
	[WF_EV_WORKFLOW_COMPLETED] = "WorkflowCompleted",
	[WF_EV_WORKFLOW_FAILED] = "WorkflowFailed",
	[WF_EV_WORKFLOW_CANCEL_REQUESTED] = "WorkflowCancelRequested",
	[WF_EV_WORKFLOW_CANCELLED] = "WorkflowCancelled",
	[WF_EV_WORKFLOW_COMPENSATED] = "WorkflowCompensated",
	[WF_EV_WORKFLOW_TERMINATED] = "WorkflowTerminated",
	[WF_EV_WORKFLOW_TIMED_OUT] = "WorkflowTimedOut",
	[WF_EV_WORKFLOW_CONTINUED_AS_NEW] = "WorkflowContinuedAsNew",
	[WF_EV_WORKFLOW_TASK_FAILED] = "WorkflowTaskFailed",
	[WF_EV_ACTIVITY_SCHEDULED] = "ActivityScheduled",
	[WF_EV_ACTIVITY_STARTED] = "ActivityStarted",
	[WF_EV_ACTIVITY_COMPLETED] = "ActivityCompleted",
	[WF_EV_ACTIVITY_FAILED] = "ActivityFailed",
	[WF_EV_ACTIVITY_TIMED_OUT] = "ActivityTimedOut",
	[WF_EV_ACTIVITY_CANCELLED] = "ActivityCancelled",
	[WF_EV_COMPENSATION_SCHEDULED] = "CompensationScheduled",
	[WF_EV_TIMER_STARTED] = "TimerStarted",
	[WF_EV_TIMER_FIRED] = "TimerFired",
	[WF_EV_TIMER_CANCELLED] = "TimerCancelled",
	[WF_EV_CHILD_STARTED] = "ChildWorkflowStarted",
	[WF_EV_CHILD_COMPLETED] = "ChildWorkflowCompleted",
	[WF_EV_CHILD_FAILED] = "ChildWorkflowFailed",
	[WF_EV_CHILD_CANCELLED] = "ChildWorkflowCancelled",
	[WF_EV_SIGNAL_RECEIVED] = "SignalReceived",
	[WF_EV_SIGNAL_CONSUMED] = "SignalConsumed",
	[WF_EV_MARKER_RECORDED] = "MarkerRecorded",
};

static const char *const key_names[WF_KEY_COUNT] = {
	[WF_KEY_ACTIVITY] = "activity",
	[WF_KEY_ACTIVITY_ID] = "activity_id",
	[WF_KEY_ATTEMPT] = "attempt",
	[WF_KEY_CHILD_RUN_ID] = "child_run_id",
	[WF_KEY_CHILD_WORKFLOW_ID] = "child_workflow_id",
	[WF_KEY_COMPENSATION] = "compensation",
	[WF_KEY_COMPENSATION_ERROR] = "compensation_error",
	[WF_KEY_COMPENSATION_INPUT] = "compensation_input",
	[WF_KEY_COMPENSATION_QUEUE] = "compensation_queue",
	[WF_KEY_CONTEXT] = "context",
	[WF_KEY_CONCURRENCY_KEY] = "concurrency_key",
	[WF_KEY_CONTINUED_FROM_RUN_ID] = "continued_from_run_id",
	[WF_KEY_DETAIL] = "detail",
	[WF_KEY_DETAILS] = "details",
	[WF_KEY_DURATION] = "duration",
	[WF_KEY_ERROR] = "error",
	[WF_KEY_FINAL] = "final",
	[WF_KEY_FIRE_AT] = "fire_at",
	[WF_KEY_HINT] = "hint",
	[WF_KEY_INPUT] = "input",
	[WF_KEY_IS_COMPENSATION] = "is_compensation",
	[WF_KEY_ITEM] = "item",
	[WF_KEY_MARKER] = "marker",
	[WF_KEY_MESSAGE] = "message",
	[WF_KEY_NAME] = "name",
	[WF_KEY_NEW_RUN_ID] = "new_run_id",
	[WF_KEY_NEXT_ATTEMPT_AT] = "next_attempt_at",
	[WF_KEY_OPTIONS] = "options",
	[WF_KEY_PARENT_RUN_ID] = "parent_run_id",
	[WF_KEY_PARENT_WORKFLOW_ID] = "parent_workflow_id",
	[WF_KEY_PAYLOAD] = "payload",
	[WF_KEY_PRIORITY] = "priority",
	[WF_KEY_QUEUE] = "queue",
	[WF_KEY_REAPPLIED] = "reapplied",
	[WF_KEY_REASON] = "reason",
	[WF_KEY_REQUESTED_BY] = "requested_by",
	[WF_KEY_RESET_FROM] = "reset_from",
	[WF_KEY_RESULT] = "result",
	[WF_KEY_RETRY_AT] = "retry_at",
	[WF_KEY_RETRYABLE] = "retryable",
	[WF_KEY_SENT_BY] = "sent_by",
	[WF_KEY_SEQ] = "seq",
	[WF_KEY_SIGNAL] = "signal",
	[WF_KEY_SIGNAL_ID] = "signal_id",
	[WF_KEY_SQLSTATE] = "sqlstate",
	[WF_KEY_STARTED_AT] = "started_at",
	[WF_KEY_STARTED_BY] = "started_by",
	[WF_KEY_STATUS] = "status",
	[WF_KEY_TASK_ID] = "task_id",
	[WF_KEY_TIMEOUT_TYPE] = "timeout_type",
	[WF_KEY_VALUE] = "value",
	[WF_KEY_WORKER_ID] = "worker_id",
	[WF_KEY_WORKFLOW_TYPE] = "workflow_type",
};

/* The spellings of the CHECK constraint on workflow.workflows.status. */
static const char *const status_names[WF_RUN_STATUS_COUNT] = {
	[WF_RUN_RUNNING] = "running",
	[WF_RUN_COMPENSATING] = "compensating",
	[WF_RUN_COMPLETED] = "completed",
	[WF_RUN_FAILED] = "failed",
	[WF_RUN_COMPENSATED] = "compensated",
	[WF_RUN_CANCELLED] = "cancelled",
	[WF_RUN_TERMINATED] = "terminated",
	[WF_RUN_TIMED_OUT] = "timed_out",
	[WF_RUN_CONTINUED_AS_NEW] = "continued_as_new",
	[WF_RUN_QUEUED] = "queued",
};

const char *
wf_event_name(WfEventType type)
{
	Assert(type >= 0 && type < WF_EV_COUNT && event_names[type] != NULL);
	return event_names[type];
}

/* The type an event name spells; false for a name that is not ours. */
bool
wf_event_type_of(const char *name, WfEventType *type)
{
	int			i;

	for (i = 0; i < WF_EV_COUNT; i++)
	{
		if (strcmp(event_names[i], name) == 0)
		{
			*type = (WfEventType) i;
			return true;
		}
	}
	return false;
}

const char *
wf_event_key_name(WfEventKey key)
{
	Assert(key >= 0 && key < WF_KEY_COUNT && key_names[key] != NULL);
	return key_names[key];
}

const char *
wf_run_status_name(WfRunStatus status)
{
	Assert(status >= 0 && status < WF_RUN_STATUS_COUNT && status_names[status] != NULL);
	return status_names[status];
}

/*
 * The status a workflow.workflows.status value spells.  The table's CHECK
 * constraint admits only these, so anything else is a corrupted row.
 */
WfRunStatus
wf_run_status_of(const char *name)
{
	int			i;

	for (i = 0; i < WF_RUN_STATUS_COUNT; i++)
	{
		if (strcmp(status_names[i], name) == 0)
			return (WfRunStatus) i;
	}
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("workflow run has unknown status \"%s\"", name),
			 errhint("Only the workflow functions should change workflow.workflows.")));
	return WF_RUN_RUNNING;		/* keep compiler quiet */
}

bool
wf_run_status_is_open(WfRunStatus status)
{
	return status == WF_RUN_RUNNING || status == WF_RUN_COMPENSATING ||
		status == WF_RUN_QUEUED;
}

void
wf_event_begin(WfEvent *ev)
{
	wf_json_begin(&ev->data);
}

void
wf_event_str(WfEvent *ev, WfEventKey key, const char *value)
{
	wf_json_str(&ev->data, wf_event_key_name(key), value);
}

void
wf_event_int(WfEvent *ev, WfEventKey key, int64 value)
{
	wf_json_int(&ev->data, wf_event_key_name(key), value);
}

void
wf_event_bool(WfEvent *ev, WfEventKey key, bool value)
{
	wf_json_bool(&ev->data, wf_event_key_name(key), value);
}

void
wf_event_jsonb(WfEvent *ev, WfEventKey key, Jsonb *value)
{
	wf_json_jsonb(&ev->data, wf_event_key_name(key), value);
}

void
wf_event_time(WfEvent *ev, WfEventKey key, TimestampTz value)
{
	wf_json_time(&ev->data, wf_event_key_name(key), value);
}

/* The event's data, built: the builder is spent. */
Jsonb *
wf_event_data(WfEvent *ev)
{
	return wf_json_end(&ev->data);
}

/* A member of event data as text (see wf_jsonb_get_text); NULL if absent. */
char *
wf_event_text(Jsonb *data, WfEventKey key)
{
	return wf_jsonb_get_text(data, wf_event_key_name(key));
}

/* A member of event data as jsonb; NULL if absent. */
Jsonb *
wf_event_value(Jsonb *data, WfEventKey key)
{
	return wf_jsonb_get_jsonb(data, wf_event_key_name(key));
}

/*
 * The error object events and runs carry: message and SQLSTATE, and the
 * detail, hint and context an error has (NULL ones are left out).
 */
Jsonb *
wf_error_object(int sqlerrcode, const char *message, const char *detail,
				const char *hint, const char *context)
{
	WfJson		b;

	wf_json_begin(&b);
	wf_json_str(&b, wf_event_key_name(WF_KEY_MESSAGE), message);
	wf_json_str(&b, wf_event_key_name(WF_KEY_SQLSTATE), unpack_sql_state(sqlerrcode));
	if (detail)
		wf_json_str(&b, wf_event_key_name(WF_KEY_DETAIL), detail);
	if (hint)
		wf_json_str(&b, wf_event_key_name(WF_KEY_HINT), hint);
	if (context)
		wf_json_str(&b, wf_event_key_name(WF_KEY_CONTEXT), context);
	return wf_json_end(&b);
}
