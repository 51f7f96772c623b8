/*-------------------------------------------------------------------------
 * frame.c
 *	  The frame every SQL-callable function of the client and worker
 *	  audiences runs in.
 *
 * On entry: refuse to run inside workflow code (where a workflow could
 * start or steer workflows, or report tasks, from a replay that rolls
 * back), and with a schema of another version than the library's (before
 * ALTER EXTENSION workflow UPDATE: every statement of the engine is
 * written for its own version's tables), connect to SPI and switch to the
 * extension owner with a pinned search_path.  On exit: advance every run
 * the call woke (the wake-up queue: the model records, the engine drains),
 * write the buffered history, switch back and disconnect.  An error skips the exit; the
 * transaction callbacks forget what the call had buffered.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "api/api.h"

/* Enter the frame for function (its SQL name, for the refusal); returns the caller's role. */
Oid
wf_api_enter(WfInternal *save, const char *function)
{
	wf_refuse_in_workflow_code(function);
	wf_require_schema();
	wf_spi_enter(save);
	return save->saved_userid;
}

/*
 * What a call changed takes effect: the runs it woke are advanced (which
 * may wake others: children, parents, next runs, all advanced in turn),
 * then the history is written.  complete_and_claim settles before it
 * claims, so that the worker may take the task its completion scheduled.
 */
void
wf_api_settle(void)
{
	wf_advance_woken();
	wf_flush_events();
}

/* Leave the frame: settle, then undo wf_api_enter. */
void
wf_api_leave(WfInternal *save)
{
	wf_api_settle();
	wf_spi_leave(save);
}
