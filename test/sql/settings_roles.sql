-- Settings are checked when they are set, and roles cannot be dropped
-- from under their running workflows (issue 10, item 12).
CREATE EXTENSION workflow;
\set VERBOSITY default
\set SHOW_CONTEXT never

-- workflow.search_path: a list of schema names, of bounded length
SELECT set_config('workflow.search_path', '', false);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT set_config('workflow.search_path', '"unclosed, public', false);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT set_config('workflow.search_path', 'a,,b', false);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DO $$
DECLARE d text;
BEGIN
	PERFORM set_config('workflow.search_path', repeat('s,', 600) || 's', false);
EXCEPTION WHEN invalid_parameter_value THEN
	GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
	RAISE NOTICE 'refused: %', d;
END $$;
SELECT set_config('workflow.search_path', 'app, "My Schema", "$user"', false);
SHOW workflow.search_path;
RESET workflow.search_path;

-- workflow.default_queue (reloaded from the configuration): a queue name
ALTER SYSTEM SET workflow.default_queue = '';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ALTER SYSTEM SET workflow.default_queue = 'bad"queue';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ALTER SYSTEM SET workflow.default_queue = 'qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ALTER SYSTEM SET workflow.default_queue = 'jobs';
ALTER SYSTEM RESET workflow.default_queue;

-- DROP ROLE while the role owns running workflows
CREATE ROLE regress_wf_owner;
CREATE ROLE regress_wf_heir;
GRANT USAGE ON SCHEMA workflow TO regress_wf_owner;
CREATE FUNCTION nap(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM workflow.sleep('1 hour');
	RETURN '{}';
END $$;
SELECT workflow.register_workflow('nap', 'nap(jsonb)');
SELECT workflow.grant_queue('default', 'regress_wf_owner', 'produce');
SELECT workflow.grant_queue('default', 'regress_wf_heir', 'produce');
SET ROLE regress_wf_owner;
SELECT workflow.start_workflow('nap', '{}', 'owned-1');
SELECT workflow.start_workflow('nap', '{}', 'owned-2');
RESET ROLE;
SELECT workflow.grant_queue('q', 'regress_wf_owner');
DROP ROLE regress_wf_owner;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) AS grants_kept FROM workflow.queue_grants;

-- DROP OWNED terminates the role's open runs here; REASSIGN OWNED moves them
SELECT workflow.terminate_workflow('owned-2');
SET ROLE regress_wf_owner;
SELECT workflow.start_workflow('nap', '{}', 'owned-3');
RESET ROLE;
REASSIGN OWNED BY regress_wf_owner TO regress_wf_heir;
SELECT workflow_id, status, owner FROM workflow.workflows ORDER BY workflow_id;
UPDATE workflow.workflows SET owner = 'regress_wf_owner' WHERE workflow_id = 'owned-3';
DROP OWNED BY regress_wf_owner;
SELECT workflow_id, status, owner FROM workflow.workflows ORDER BY workflow_id;
SELECT data->>'reason' AS reason FROM workflow.history
 WHERE workflow_id = 'owned-3' AND event_type = 'WorkflowTerminated';
DROP ROLE regress_wf_owner;
SELECT count(*) AS grants_left FROM workflow.queue_grants;

-- a run whose owner vanished (dropped from another database) is terminated
SELECT workflow.terminate_workflow('owned-1');
SET ROLE regress_wf_heir;
SELECT workflow.start_workflow('nap', '{}', 'orphan');
RESET ROLE;
UPDATE workflow.workflows SET owner = 4000000000::oid::regrole WHERE workflow_id = 'orphan';
SELECT workflow.tick(now() + interval '2 hours');
SELECT status, data->>'reason' AS reason FROM workflow.workflows w
  JOIN workflow.history h USING (workflow_id, run_id)
 WHERE workflow_id = 'orphan' AND event_type = 'WorkflowTerminated';
DROP EXTENSION workflow;
DROP FUNCTION nap(jsonb);
DROP ROLE regress_wf_heir;
