/*-------------------------------------------------------------------------
 * reset.c
 *	  workflow.reset_workflow(workflow_id, event_id, reason): Temporal's
 *	  reset, for the run's owner (or a member of it) and the extension's
 *	  owner.  The rules are model/reset.c's; this is the SQL face.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/uuid.h"

#include "api/api.h"

PG_FUNCTION_INFO_V1(wf_reset_workflow);

/* workflow.reset_workflow(workflow_id, event_id, reason) RETURNS uuid: the new run's id */
Datum
wf_reset_workflow(PG_FUNCTION_ARGS)
{
	char	   *workflow_id = wf_text_arg(fcinfo, 0, "workflow_id");
	int64		event_id = wf_int64_arg(fcinfo, 1, "event_id");
	char	   *reason = PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2));
	pg_uuid_t  *run_id = palloc(sizeof(pg_uuid_t));
	WfInternal	save;

	wf_check_text(reason, "reason", WF_MAX_PAYLOAD);
	(void) wf_api_enter(&save, "workflow.reset_workflow()");
	memcpy(run_id, DatumGetUUIDP(wf_reset_run(workflow_id, event_id, reason, save.saved_userid)),
		   sizeof(pg_uuid_t));
	wf_api_leave(&save);
	PG_RETURN_UUID_P(run_id);
}
