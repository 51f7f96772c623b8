-- Roles: code runs as the starter whoever advances it; workers need a
-- queue grant; a role sees and steers only its own runs.
BEGIN;
SELECT plan(12);

CREATE ROLE wf_alice;
CREATE ROLE wf_bob;
CREATE ROLE wf_carol;
CREATE SCHEMA app AUTHORIZATION wf_alice;
SELECT workflow.grant_queue('q', 'wf_bob');
SELECT workflow.grant_queue('*', 'wf_alice', 'produce');

SET ROLE wf_alice;
CREATE FUNCTION app.whoami(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE before_user text := current_user;
BEGIN
	PERFORM workflow.activity('Step', '{}', 'q');
	RETURN jsonb_build_object('code_ran_as', current_user, 'before', before_user,
							  'search_path', current_setting('search_path'));
END $$;
SELECT workflow.register_workflow('whoami', 'app.whoami(jsonb)');
SELECT workflow.start_workflow('whoami', '{}', 'wf-alice');
RESET ROLE;

SET ROLE wf_carol;
SELECT throws_ok($$SELECT * FROM workflow.claim_activities('q')$$, '42501', NULL,
				 'a role without a grant on the queue cannot claim');
SELECT is(count(*), 0::bigint, 'nor see another role''s runs') FROM workflow.workflows;
SELECT throws_ok($$SELECT workflow.cancel_workflow('wf-alice')$$, '42501', NULL,
				 'nor steer them');
SELECT throws_ok($$SELECT workflow.register_workflow('whoami', 'app.whoami(jsonb)')$$, '42501', NULL,
				 'nor replace their registration');
RESET ROLE;

SET ROLE wf_bob;
SELECT lives_ok($$SELECT workflow.complete_activity(task_id, '{}') FROM workflow.claim_activities('q', 'bob')$$,
				'the worker role claims and completes');
RESET ROLE;

SELECT is(result->>'code_ran_as', 'wf_alice', 'the code ran as the role that started the workflow')
  FROM workflow.workflows WHERE workflow_id = 'wf-alice';
SELECT is(result->>'search_path', '"$user", public', 'with the pinned search_path')
  FROM workflow.workflows WHERE workflow_id = 'wf-alice';
SELECT is(owner::text, 'wf_alice', 'the run is owned by its starter')
  FROM workflow.workflows WHERE workflow_id = 'wf-alice';

-- A task of a queue the worker role was not granted is foreign to it.
SET ROLE wf_alice;
CREATE FUNCTION app.elsewhere(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN RETURN workflow.activity('Step', '{}', 'private'); END $$;
SELECT workflow.register_workflow('elsewhere', 'app.elsewhere(jsonb)');
SELECT workflow.start_workflow('elsewhere', '{}', 'wf-private');
RESET ROLE;
CREATE TEMP TABLE private_task AS SELECT task_id FROM workflow.claim_activities('private', 'admin');
GRANT SELECT ON private_task TO wf_bob;
SET ROLE wf_bob;
SELECT throws_ok($$SELECT workflow.complete_activity((SELECT task_id FROM private_task), '{}')$$, '42501', NULL,
				 'a worker cannot report on a task of a queue it was not granted');
SELECT throws_ok($$SELECT workflow.heartbeat_activity((SELECT task_id FROM private_task))$$, '42501', NULL,
				 'nor heartbeat it');
RESET ROLE;

SET ROLE wf_alice;
SELECT is(count(*), 2::bigint, 'the owner sees its runs') FROM workflow.workflows;
SELECT cmp_ok(count(*), '>', 0::bigint, 'and its history') FROM workflow.history;
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
