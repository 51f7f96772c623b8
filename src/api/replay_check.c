/*-------------------------------------------------------------------------
 * replay_check.c
 *	  Is the code as it is now still able to replay the runs in flight?
 *	  workflow.check_replay(workflow_type, max_runs), and the DDL gate: the
 *	  event trigger workflow_replay_check (ddl_command_end, CREATE and
 *	  ALTER FUNCTION) that runs the same check when the function changed
 *	  is a registered workflow type's.
 *
 * Both replay each run with the engine in dry-run mode
 * (engine/replay.c, wf_replay_check_run): as a workflow task would, in
 * the sandbox, as the run's owner, in a subtransaction that is rolled
 * back.  Only runs of roles the caller has the privileges of are
 * replayed: another role's code never runs in the caller's session (its
 * messages would reach the caller), and a caller never learns of runs it
 * cannot see.
 *
 * The gate costs an unrelated CREATE FUNCTION one query (the command's
 * objects joined with the registry: core/registry.c).  It runs as the
 * role that issued the DDL (the trigger's function is not SECURITY
 * DEFINER), and never runs user code as that role unless it is the run's
 * owner: the sandbox switches to the owner, as the engine does.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/event_trigger.h"
#include "commands/extension.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "api/api.h"

PG_FUNCTION_INFO_V1(wf_check_replay);
PG_FUNCTION_INFO_V1(wf_replay_gate);

int			wf_replay_check_mode = WF_REPLAY_CHECK_WARNING;
int			wf_replay_check_runs = 100;

const struct config_enum_entry wf_replay_check_options[] = {
	{"off", WF_REPLAY_CHECK_OFF, false},
	{"warning", WF_REPLAY_CHECK_WARNING, false},
	{"error", WF_REPLAY_CHECK_ERROR, false},
	{NULL, 0, false}
};

static SPIPlanPtr open_runs_plan;
static SPIPlanPtr hidden_runs_plan;

/* One replayed run. */
typedef struct CheckedRun
{
	char	   *workflow_id;
	Datum		run_id;
	char	   *detail;			/* NULL if it replays */
} CheckedRun;

/*
 * Replay up to max_runs running runs of type that caller may see, oldest
 * first; returns a list of CheckedRun.
 */
static List *
check_runs(const char *type, int max_runs, Oid caller)
{
	Oid			types[3] = {TEXTOID, OIDOID, INT4OID};
	Datum		values[3] = {CStringGetTextDatum(type), ObjectIdGetDatum(caller),
	Int32GetDatum(max_runs)};
	char	  **ids;
	Datum	   *run_ids;
	List	   *checked = NIL;
	int			n,
				i;

	n = wf_exec(&open_runs_plan,
				"SELECT workflow_id, run_id FROM workflow.workflows"
				" WHERE workflow_type = $1 AND status = 'running'"
				"   AND pg_catalog.pg_has_role($2, owner, 'MEMBER')"
				" ORDER BY created_at, workflow_id LIMIT $3",
				3, types, values, NULL, 0);
	wf_copy_run_ids(n, 1, &ids, &run_ids);
	for (i = 0; i < n; i++)
	{
		WfRun	   *run = wf_read_run_by_id(ids[i], run_ids[i]);
		CheckedRun *c;

		if (run == NULL || run->status != WF_RUN_RUNNING)
			continue;
		c = palloc0(sizeof(CheckedRun));
		c->workflow_id = ids[i];
		c->run_id = run_ids[i];
		(void) wf_replay_check_run(run, &c->detail);
		checked = lappend(checked, c);
	}
	return checked;
}

/* Running runs of type that caller may not see (and so were not replayed). */
static int64
hidden_runs(const char *type, Oid caller)
{
	Oid			types[2] = {TEXTOID, OIDOID};
	Datum		values[2] = {CStringGetTextDatum(type), ObjectIdGetDatum(caller)};
	bool		isnull;

	wf_exec(&hidden_runs_plan,
			"SELECT count(*) FROM workflow.workflows"
			" WHERE workflow_type = $1 AND status = 'running'"
			"   AND NOT pg_catalog.pg_has_role($2, owner, 'MEMBER')",
			2, types, values, NULL, 1);
	return DatumGetInt64(wf_get_datum(0, 1, &isnull));
}

/*
 * workflow.check_replay(workflow_type, max_runs) RETURNS TABLE(workflow_id,
 * run_id, ok, detail): one row per replayed run.
 */
Datum
wf_check_replay(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *type = wf_text_arg(fcinfo, 0, "workflow_type");
	int32		max_runs = wf_int32_arg(fcinfo, 1, "max_runs");
	WfInternal	save;
	List	   *checked;
	ListCell   *lc;

	if (max_runs < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_runs must not be negative"),
				 errhint("Pass how many running runs to replay, e.g. 100.")));
	InitMaterializedSRF(fcinfo, 0);
	(void) wf_api_enter(&save, "workflow.check_replay()");
	(void) wf_type_options(type);	/* refuses an unregistered type */
	checked = check_runs(type, max_runs, save.saved_userid);
	foreach(lc, checked)
	{
		CheckedRun *c = lfirst(lc);
		Datum		values[4];
		bool		nulls[4] = {false, false, false, c->detail == NULL};

		values[0] = CStringGetTextDatum(c->workflow_id);
		values[1] = c->run_id;
		values[2] = BoolGetDatum(c->detail == NULL);
		values[3] = c->detail ? CStringGetTextDatum(c->detail) : (Datum) 0;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	wf_api_leave(&save);
	return (Datum) 0;
}

/* The gate's verdict on one type whose function changed. */
static void
gate_type(const char *type, Oid issuer, const char *command)
{
	List	   *checked = check_runs(type, wf_replay_check_runs, issuer);
	int64		hidden = hidden_runs(type, issuer);
	CheckedRun *first = NULL;
	int			diverging = 0;
	ListCell   *lc;

	foreach(lc, checked)
	{
		CheckedRun *c = lfirst(lc);

		if (c->detail == NULL)
			continue;
		diverging++;
		if (first == NULL)
			first = c;
		if (wf_replay_check_mode == WF_REPLAY_CHECK_WARNING)
			ereport(WARNING,
					(errcode(ERRCODE_WF_NONDETERMINISM),
					 errmsg("running workflow \"%s\" of type \"%s\" cannot replay with the new code",
							c->workflow_id, type),
					 errdetail("%s", c->detail),
					 errhint("Guard the change with workflow.patched(), or keep the old code until these runs end.")));
	}
	if (hidden > 0)
		ereport(NOTICE,
				(errmsg(INT64_FORMAT " running workflows of type \"%s\" belong to roles you are not a member of and were not checked",
						hidden, type),
				 errhint("Their owners can run workflow.check_replay('%s').", type)));
	if (diverging > 0 && wf_replay_check_mode == WF_REPLAY_CHECK_ERROR)
		ereport(ERROR,
				(errcode(ERRCODE_WF_NONDETERMINISM),
				 errmsg("%s would break %d running workflow%s of type \"%s\"",
						command, diverging, diverging == 1 ? "" : "s", type),
				 errdetail("Workflow \"%s\": %s", first->workflow_id, first->detail),
				 errhint("Guard the change with workflow.patched(), or set workflow.replay_check to "
						 "'warning' or 'off' to make it anyway; workflow.check_replay('%s') lists the runs.",
						 type)));
}

/*
 * The event trigger workflow_replay_check (ddl_command_end, CREATE and
 * ALTER FUNCTION).  Quiet while an extension script runs, in a binary
 * upgrade, inside workflow code, when schema "workflow" is not the
 * extension's (a user's DDL must not fail for that: every function of the
 * extension refuses to work until it is fixed), and with a schema of
 * another version than the library's.
 */
Datum
wf_replay_gate(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigdata;
	WfInternal	save;
	List	   *changed;
	ListCell   *lc;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("workflow.replay_check_trigger() can only run as an event trigger")));
	trigdata = (EventTriggerData *) fcinfo->context;
	if (wf_replay_check_mode == WF_REPLAY_CHECK_OFF || wf_replay_check_runs == 0 ||
		creating_extension || IsBinaryUpgrade || wf_in_workflow_code() ||
		wf_citus_applying_propagated_ddl() ||
		!wf_extension_schema_ok() || wf_schema_mismatch() != NULL)
		PG_RETURN_NULL();
	wf_spi_enter(&save);
	changed = wf_types_of_changed_functions();
	foreach(lc, changed)
		gate_type(lfirst(lc), save.saved_userid, GetCommandTagName(trigdata->tag));
	wf_spi_leave(&save);
	PG_RETURN_NULL();
}
