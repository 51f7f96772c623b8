/*-------------------------------------------------------------------------
 * retention.c
 *	  workflow.purge(older_than): delete closed runs now (model/retention.c
 *	  says which and how).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/timestamp.h"

#include "api/api.h"

PG_FUNCTION_INFO_V1(wf_purge);

/*
 * workflow.purge(older_than): delete the caller's runs closed more than
 * older_than ago (every role's for the extension owner or a superuser);
 * returns how many runs were deleted.
 */
Datum
wf_purge(PG_FUNCTION_ARGS)
{
	WfInternal	save;
	Oid			caller;
	Interval   *older_than;
	int64		deleted;

	caller = wf_api_enter(&save, "workflow.purge()");
	wf_require_arg(fcinfo, 0, "older_than");
	older_than = PG_GETARG_INTERVAL_P(0);
	wf_check_interval(older_than, "older_than");
	deleted = wf_purge_runs(older_than, caller);
	wf_api_leave(&save);
	PG_RETURN_INT64(deleted);
}
