-- Every bad input gets a clear error with a SQLSTATE and a hint, and
-- changes nothing.  This file is the list of bad inputs tried.
CREATE EXTENSION workflow;
\set VERBOSITY default
\set SHOW_CONTEXT never
CREATE FUNCTION good(input jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT input $$;
CREATE FUNCTION wrong_args(input json) RETURNS jsonb LANGUAGE sql AS $$ SELECT '{}'::jsonb $$;
CREATE FUNCTION wrong_result(input jsonb) RETURNS text LANGUAGE sql AS $$ SELECT 'x' $$;
CREATE FUNCTION set_returning(input jsonb) RETURNS SETOF jsonb LANGUAGE sql AS $$ SELECT input $$;
CREATE PROCEDURE a_procedure(input jsonb) LANGUAGE sql AS $$ SELECT 1 $$;

-- registering
SELECT workflow.register_workflow('t', 'wrong_args(json)');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.register_workflow('t', 'wrong_result(jsonb)');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.register_workflow('t', 'set_returning(jsonb)');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.register_workflow('t', 'a_procedure(jsonb)');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.register_workflow('t', 'no_such_function(jsonb)');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.register_workflow('', 'good(jsonb)');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.register_workflow(NULL, 'good(jsonb)');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.register_workflow('t', 'good(jsonb)', '{"colour": "red"}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.register_workflow('t', 'good(jsonb)', '[1, 2]');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.register_workflow('t', 'good(jsonb)', '{"queue": "bad\"queue"}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.register_workflow('t', 'good(jsonb)', '{"execution_timeout": "-5 minutes"}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.register_workflow('t', 'good(jsonb)', '{"execution_timeout": "soon"}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.register_workflow('t', 'good(jsonb)', '{"activity_options": {"retry": {"maximum_attempts": -1}}}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.register_workflow('t', 'good(jsonb)', '{"activity_options": {"retry": {"backoff_coefficient": 0.5}}}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.register_workflow('t', 'good(jsonb)', '{"activity_options": {"retry": {"non_retryable_errors": "Oops"}}}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.register_workflow('t', 'good(jsonb)', '{"activity_options": {"heartbeat_timeout": "-1 second"}}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.register_saga('s', '[]');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.register_saga('s', '{"activity": "A"}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.register_saga('s', '[{"queue": "q"}]');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.register_saga('s', '[{"activity": "A", "retries": 3}]');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.register_saga('s', NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.register_saga('s', '[{"activity": "A", "compensation": {"activity": "B"}}]');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.register_saga('s', '[{"activity": "A", "compensation": 5}]');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.register_saga('s', '[{"activity": "A", "compensation": ""}]');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.register_saga('s', '[{"activity": 5}]');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.register_saga('s', '[{"activity": ["A"]}]');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.register_saga('s', '[{"activity": "A", "queue": true}]');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.register_saga('s', jsonb_build_array(jsonb_build_object('activity', repeat('a', 300))));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.register_saga('s', jsonb_build_array(jsonb_build_object('activity', 'A', 'compensation', repeat('c', 300))));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.register_saga('s', '[{"activity": "A", "options": {"start_to_close_timeout": "soon"}}]');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.register_saga('s', '[{"activity": "A", "options": "fast"}]');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.register_saga('s', jsonb_build_array(jsonb_build_object('activity', 'A', 'x', repeat('x', 1100000))));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.register_saga('s', '[{"activity": "A"}]', jsonb_build_object('activity_options', jsonb_build_object('retry', jsonb_build_object('non_retryable_errors', jsonb_build_array(repeat('x', 1100000))))));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.register_workflow('t', 'good(jsonb)', jsonb_build_object('activity_options', jsonb_build_object('retry', jsonb_build_object('non_retryable_errors', jsonb_build_array(repeat('x', 1100000))))));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) AS registered FROM workflow.workflow_types;

-- starting
SELECT workflow.register_workflow('t', 'good(jsonb)');
SELECT workflow.start_workflow('unknown');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.start_workflow('t', '{}', '');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.start_workflow('t', '{}', repeat('x', 300));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.start_workflow('t', '{}', NULL, '{"if_exists": "maybe"}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.start_workflow('t', '{}', NULL, '{"queue": ""}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.start_workflow('t', '{}', NULL, jsonb_build_object('queue', repeat('q', 80)));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.start_workflow('t', '{}', NULL, '{"search_attributes": [1]}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.start_workflow('t', jsonb_build_object('blob', repeat('x', 1100000)));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.start_workflow(NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.start_workflow('t', '{}', NULL, jsonb_build_object('search_attributes', jsonb_build_object('blob', repeat('x', 1100000))));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.start_workflow('t', '{}', NULL, jsonb_build_object('activity_options', jsonb_build_object('retry', jsonb_build_object('non_retryable_errors', jsonb_build_array(repeat('x', 1100000))))));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) AS runs FROM workflow.workflows;

-- steering
SELECT workflow.cancel_workflow('nobody');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.terminate_workflow('nobody');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.get_state('nobody', 'k');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.cancel_workflow(NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
CREATE FUNCTION sleeper(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN PERFORM workflow.sleep('1 hour'); RETURN input; END $$;
SELECT workflow.register_workflow('sleeper', 'sleeper(jsonb)');
SELECT workflow.start_workflow('sleeper', '{}', 'r1');
CREATE TEMP TABLE before_steering AS
	SELECT status, cancel_requested, last_event_id FROM workflow.workflows WHERE workflow_id = 'r1';
SELECT workflow.cancel_workflow('r1', repeat('x', 1100000));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.terminate_workflow('r1', repeat('x', 1100000));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.signal_workflow('r1', NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT (SELECT row(status, cancel_requested, last_event_id) FROM workflow.workflows WHERE workflow_id = 'r1')
	IS NOT DISTINCT FROM (SELECT row(status, cancel_requested, last_event_id) FROM before_steering) AS r1_unchanged;

-- in-workflow functions outside workflow code
SELECT workflow.activity('A');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.sleep('1 second');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.now();
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.random();
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.uuid();
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.patched('x');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.set_state('k', '1');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.wait(1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- NULL arguments of in-workflow functions inside workflow code: the
-- workflow task fails (22004), the caller's start does not
CREATE FUNCTION waits_null(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	IF input->>'call' = 'wait' THEN PERFORM workflow.wait(NULL); END IF;
	IF input->>'call' = 'wait_all' THEN PERFORM workflow.wait_all(NULL); END IF;
	RETURN input;
END $$;
SELECT workflow.register_workflow('waits_null', 'waits_null(jsonb)');
SELECT workflow.start_workflow('waits_null', '{"call": "wait"}', 'wn-wait');
SELECT workflow.start_workflow('waits_null', '{"call": "wait_all"}', 'wn-wait-all');
SELECT workflow_id, data->'error'->>'sqlstate' AS sqlstate, data->'error'->>'message' AS message
  FROM workflow.history WHERE event_type = 'WorkflowTaskFailed' AND workflow_id LIKE 'wn-%'
 ORDER BY workflow_id;

-- workers
SELECT * FROM workflow.claim_activities('q', 'w', 0);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM workflow.claim_activities('q', 'w', 5000);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM workflow.claim_activities('', 'w');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM workflow.claim_activities(NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM workflow.claim_activities('q', 'w', NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM workflow.claim_activities('q', repeat('w', 300));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.complete_activity(NULL, '{}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM workflow.complete_and_claim(NULL, '{}', 'q');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM workflow.complete_and_claim(999999, '{}', 'q', 'w', NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.fail_activity(NULL, 'boom');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.fail_activity(999999, 'boom', NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.fail_activity(999999, repeat('x', 1100000));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.heartbeat_activity(NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.complete_activity(999999, '{}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.fail_activity(999999, 'boom');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.fail_activity(999999, NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.heartbeat_activity(999999);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.complete_activity(999999, jsonb_build_object('blob', repeat('x', 1100000)));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT workflow.grant_queue('q', NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- nothing above changed anything, but for the three runs (and their types)
-- made on purpose: r1 (2 events, a timer), wn-wait and wn-wait-all (2 each)
SELECT (SELECT count(*) FROM workflow.workflows) AS runs,
	   (SELECT count(*) FROM workflow.history) AS events,
	   (SELECT count(*) FROM workflow.tasks) AS tasks,
	   (SELECT count(*) FROM workflow.timers) AS timers,
	   (SELECT count(*) FROM workflow.signals) AS signals,
	   (SELECT count(*) FROM workflow.workflow_types) AS types,
	   (SELECT count(*) FROM workflow.queue_grants) AS grants;
DROP EXTENSION workflow;
