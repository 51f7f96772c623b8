-- A workflow_id belongs to the role that owns its runs: another role can
-- neither start it again, nor get its open run with if_exists, nor take the
-- id of another run's next child; state is kept per run; errors say
-- nothing about another role's runs.
BEGIN;
SELECT plan(23);

CREATE ROLE wf_alice;
CREATE ROLE wf_bob;
CREATE SCHEMA app AUTHORIZATION wf_alice;
GRANT USAGE ON SCHEMA app TO wf_bob;
SELECT workflow.grant_queue('*', 'wf_alice', 'produce');
SELECT workflow.grant_queue('*', 'wf_bob', 'produce');

SET ROLE wf_alice;
CREATE FUNCTION app.publish(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	IF input ? 'secret' THEN
		PERFORM workflow.set_state('secret', input->'secret');
	END IF;
	IF input ? 'wait' THEN
		PERFORM workflow.wait_signal('go');
	END IF;
	IF input ? 'again' THEN
		PERFORM workflow.continue_as_new(input - 'again' - 'secret');
	END IF;
	RETURN '{}';
END $$;
SELECT workflow.register_workflow('publish', 'app.publish(jsonb)');
CREATE FUNCTION app.kid(input jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT '{"kid": true}'::jsonb $$;
SELECT workflow.register_workflow('kid', 'app.kid(jsonb)');
CREATE FUNCTION app.parent(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM workflow.wait_signal('go');
	RETURN workflow.child_workflow('kid');
END $$;
SELECT workflow.register_workflow('parent', 'app.parent(jsonb)');
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA app TO wf_bob;

SELECT workflow.start_workflow('publish', '{"secret": "alice-1"}', 'order-1');
SELECT workflow.start_workflow('publish', '{"secret": "alice-2", "wait": true}', 'order-2');
SELECT workflow.start_workflow('parent', '{}', 'par');
RESET ROLE;
SELECT is(status, 'completed', 'alice''s first run is closed') FROM workflow.workflows WHERE workflow_id = 'order-1';

-- Another role's ids ----------------------------------------------------
SET ROLE wf_bob;
SELECT throws_ok($$SELECT workflow.start_workflow('publish', '{"secret": "bob"}', 'order-1')$$, '42501',
				 'workflow_id "order-1" belongs to another role',
				 'bob cannot start a new run of alice''s closed id');
SELECT throws_ok($$SELECT workflow.start_workflow('publish', '{}', 'order-2', '{"if_exists": "return"}')$$,
				 '42501', 'workflow_id "order-2" belongs to another role',
				 'nor get alice''s running run with if_exists');
SELECT throws_ok($$SELECT workflow.get_state('order-1', 'secret')$$, '42501', NULL,
				 'nor read the state of alice''s runs');
SELECT throws_ok($$SELECT workflow.signal_workflow('order-1', 'go')$$, '42501',
				 'permission denied for workflow "order-1"',
				 'a signal to alice''s closed run does not tell how it ended');
SELECT throws_ok($$SELECT workflow.cancel_workflow('order-1')$$, '42501', NULL,
				 'nor does a cancellation');
SELECT throws_ok($$SELECT workflow.start_workflow('publish', '{}', 'par/child-2')$$, '22023', NULL,
				 'bob cannot take the default id of alice''s next child');
SELECT throws_ok($$SELECT workflow.start_workflow('publish', '{}', 'x/child-007')$$, '22023', NULL,
				 'ids of the form <x>/child-<n> are reserved for children');
SELECT lives_ok($$SELECT workflow.start_workflow('publish', '{"secret": "bob"}', 'par/child-x')$$,
				'other ids with slashes are free to use');

-- Nor with an explicit child id chosen by his code.
CREATE FUNCTION pg_temp.squat(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN RETURN workflow.child_workflow('kid', '{}', 'par/child-3'); END $$;
SELECT workflow.register_workflow('squat', 'pg_temp.squat(jsonb)');
SELECT workflow.start_workflow('squat', '{}', 'bob-squat');
CREATE FUNCTION pg_temp.reuse(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN RETURN workflow.child_workflow('kid', '{}', 'order-1'); END $$;
SELECT workflow.register_workflow('reuse', 'pg_temp.reuse(jsonb)');
SELECT workflow.start_workflow('reuse', '{}', 'bob-reuse');
RESET ROLE;
SELECT is(data->'error'->>'sqlstate', '22023', 'code cannot start another run''s default child id')
  FROM workflow.history WHERE workflow_id = 'bob-squat' AND event_type = 'WorkflowTaskFailed';
SELECT is(data->'error'->>'sqlstate', '42501', 'nor a child with another role''s id')
  FROM workflow.history WHERE workflow_id = 'bob-reuse' AND event_type = 'WorkflowTaskFailed';
SELECT is(count(*), 0::bigint, 'bob started no run of alice''s ids')
  FROM workflow.workflows WHERE owner = 'wf_bob'::regrole
   AND workflow_id IN ('order-1', 'order-2', 'par/child-2', 'par/child-3');

-- The owner's flows are unchanged ---------------------------------------
SET ROLE wf_alice;
SELECT is(workflow.get_state('order-2', 'secret'), '"alice-2"', 'alice reads her state');
SELECT is(workflow.start_workflow('publish', '{}', 'order-2', '{"if_exists": "return"}'), 'order-2',
		  'alice gets her running run with if_exists');
SELECT throws_ok($$SELECT workflow.signal_workflow('order-1', 'go')$$, 'WF012', NULL,
				 'alice is told that her run is closed');
SELECT lives_ok($$SELECT workflow.start_workflow('publish', '{"secret": "alice-1b"}', 'order-1')$$,
				'alice starts a new run of her closed id');
SELECT is(workflow.get_state('order-1', 'secret'), '"alice-1b"', 'get_state reads the latest run''s state');
SELECT lives_ok($$SELECT workflow.signal_workflow('par', 'go')$$, 'alice''s parent starts its child');
RESET ROLE;
SELECT is(status, 'completed', 'the parent got its default child id') FROM workflow.workflows WHERE workflow_id = 'par';
SELECT is(owner::text, 'wf_alice', 'owned by alice') FROM workflow.workflows WHERE workflow_id = 'par/child-2';
SELECT is(count(DISTINCT run_id), 2::bigint, 'state is kept per run')
  FROM workflow.state WHERE workflow_id = 'order-1';

-- State published before continue_as_new is the next run's too.
SET ROLE wf_alice;
SELECT workflow.start_workflow('publish', '{"secret": "kept", "again": true, "wait": true}', 'cont');
SELECT workflow.signal_workflow('cont', 'go');
SELECT is(workflow.get_state('cont', 'secret'), '"kept"', 'state goes on to the next run');
RESET ROLE;
SELECT is(count(*), 2::bigint, 'continue_as_new kept the id''s runs together')
  FROM workflow.workflows WHERE workflow_id = 'cont';

SELECT * FROM finish();
ROLLBACK;
