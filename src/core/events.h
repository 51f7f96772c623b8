/*-------------------------------------------------------------------------
 * events.h
 *	  The history's vocabulary: the event types a run's history holds, the
 *	  keys of their data, and the statuses of a run.  Code names them by
 *	  these enums; the spelling users read in workflow.history and
 *	  workflow.workflows lives once, in events.c.  Events are built with
 *	  the typed helpers of core.h (wf_event_begin, wf_event_str, ...).
 *
 *	  The spellings are part of the public interface (DESIGN.md, History):
 *	  renaming one is a schema change that needs an upgrade script.  The
 *	  few SQL statements that search the history (the next compensation in
 *	  lifecycle.c, a child's seq in runs.c, replay's "data ? 'seq'") spell
 *	  names in SQL, as a user's query would.
 *-------------------------------------------------------------------------
 */
#ifndef WF_EVENTS_H
#define WF_EVENTS_H

typedef enum WfEventType
{
	WF_EV_WORKFLOW_STARTED,
	WF_EV_WORKFLOW_QUEUED,
	WF_EV_WORKFLOW_COMPLETED,
	WF_EV_WORKFLOW_FAILED,
	WF_EV_WORKFLOW_CANCEL_REQUESTED,
	WF_EV_WORKFLOW_CANCELLED,
	WF_EV_WORKFLOW_COMPENSATED,
	WF_EV_WORKFLOW_TERMINATED,
	WF_EV_WORKFLOW_TIMED_OUT,
	WF_EV_WORKFLOW_CONTINUED_AS_NEW,
	WF_EV_WORKFLOW_TASK_FAILED,
	WF_EV_ACTIVITY_SCHEDULED,
	WF_EV_ACTIVITY_STARTED,
	WF_EV_ACTIVITY_COMPLETED,
	WF_EV_ACTIVITY_FAILED,
	WF_EV_ACTIVITY_TIMED_OUT,
	WF_EV_ACTIVITY_CANCELLED,
	WF_EV_COMPENSATION_SCHEDULED,
	WF_EV_TIMER_STARTED,
	WF_EV_TIMER_FIRED,
	WF_EV_TIMER_CANCELLED,
	WF_EV_CHILD_STARTED,
	WF_EV_CHILD_COMPLETED,
	WF_EV_CHILD_FAILED,
	WF_EV_CHILD_CANCELLED,
	WF_EV_SIGNAL_RECEIVED,
	WF_EV_SIGNAL_CONSUMED,
	WF_EV_MARKER_RECORDED
} WfEventType;

#define WF_EV_COUNT (WF_EV_MARKER_RECORDED + 1)

/* Keys of event data, and of the error objects events carry. */
typedef enum WfEventKey
{
	WF_KEY_ACTIVITY,
	WF_KEY_ACTIVITY_ID,
	WF_KEY_ATTEMPT,
	WF_KEY_CHILD_RUN_ID,
	WF_KEY_CHILD_WORKFLOW_ID,
	WF_KEY_COMPENSATION,
	WF_KEY_COMPENSATION_ERROR,
	WF_KEY_COMPENSATION_INPUT,
	WF_KEY_COMPENSATION_QUEUE,
	WF_KEY_CONTEXT,
	WF_KEY_CONCURRENCY_KEY,
	WF_KEY_CONTINUED_FROM_RUN_ID,
	WF_KEY_DETAIL,
	WF_KEY_DETAILS,
	WF_KEY_DURATION,
	WF_KEY_ERROR,
	WF_KEY_FINAL,
	WF_KEY_FIRE_AT,
	WF_KEY_HINT,
	WF_KEY_INPUT,
	WF_KEY_IS_COMPENSATION,
	WF_KEY_ITEM,
	WF_KEY_MARKER,
	WF_KEY_MESSAGE,
	WF_KEY_NAME,
	WF_KEY_NEW_RUN_ID,
	WF_KEY_NEXT_ATTEMPT_AT,
	WF_KEY_OPTIONS,
	WF_KEY_PARENT_RUN_ID,
	WF_KEY_PARENT_WORKFLOW_ID,
	WF_KEY_PAYLOAD,
	WF_KEY_PRIORITY,
	WF_KEY_QUEUE,
	WF_KEY_REAPPLIED,
	WF_KEY_REASON,
	WF_KEY_REQUESTED_BY,
	WF_KEY_RESET_FROM,
	WF_KEY_RESULT,
	WF_KEY_RETRY_AT,
	WF_KEY_RETRYABLE,
	WF_KEY_SENT_BY,
	WF_KEY_SEQ,
	WF_KEY_SIGNAL,
	WF_KEY_SIGNAL_ID,
	WF_KEY_SQLSTATE,
	WF_KEY_STARTED_AT,
	WF_KEY_STARTED_BY,
	WF_KEY_STATUS,
	WF_KEY_TASK_ID,
	WF_KEY_TIMEOUT_TYPE,
	WF_KEY_VALUE,
	WF_KEY_WORKER_ID,
	WF_KEY_WORKFLOW_TYPE
} WfEventKey;

#define WF_KEY_COUNT (WF_KEY_WORKFLOW_TYPE + 1)

/*
 * A run's status (workflow.workflows.status).  Running, compensating and
 * queued runs are open (closed_at is NULL); a queued run waits for a slot
 * of its type's max_running (model/flow.c) and has run no code yet.
 */
typedef enum WfRunStatus
{
	WF_RUN_RUNNING,
	WF_RUN_COMPENSATING,
	WF_RUN_COMPLETED,
	WF_RUN_FAILED,
	WF_RUN_COMPENSATED,
	WF_RUN_CANCELLED,
	WF_RUN_TERMINATED,
	WF_RUN_TIMED_OUT,
	WF_RUN_CONTINUED_AS_NEW,
	WF_RUN_QUEUED
} WfRunStatus;

#define WF_RUN_STATUS_COUNT (WF_RUN_QUEUED + 1)

extern const char *wf_event_name(WfEventType type);
extern bool wf_event_type_of(const char *name, WfEventType *type);
extern const char *wf_event_key_name(WfEventKey key);
extern const char *wf_run_status_name(WfRunStatus status);
extern WfRunStatus wf_run_status_of(const char *name);
extern bool wf_run_status_is_open(WfRunStatus status);

#endif							/* WF_EVENTS_H */
