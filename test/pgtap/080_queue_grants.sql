-- Producing onto a queue needs a grant, as consuming does; a worker sees
-- the role that produced each task; hints that show SQL quote the names.
BEGIN;
SELECT plan(24);

CREATE ROLE wf_alice;
CREATE ROLE wf_bob;
CREATE ROLE "Wf Mallory";
CREATE SCHEMA app AUTHORIZATION wf_alice;
SELECT workflow.grant_queue('q', 'wf_bob');

-- Privileges of grant_queue / revoke_queue ------------------------------
SELECT throws_ok($$SELECT workflow.grant_queue('q', 'wf_alice', 'write')$$, '22023', NULL,
				 'an unknown queue privilege is refused');
SELECT workflow.grant_queue('both', 'wf_bob', 'all');
SELECT is(array_agg(privilege ORDER BY privilege), ARRAY['consume', 'produce'],
		  '''all'' grants consume and produce')
  FROM workflow.queue_grants WHERE queue = 'both';
SELECT workflow.revoke_queue('both', 'wf_bob', 'produce');
SELECT is(array_agg(privilege ORDER BY privilege), ARRAY['consume'], 'revoke_queue takes one privilege away')
  FROM workflow.queue_grants WHERE queue = 'both';
SELECT is(privilege, 'consume', 'grant_queue grants consume by default')
  FROM workflow.queue_grants WHERE queue = 'q' AND grantee = 'wf_bob'::regrole;

SET ROLE wf_alice;
CREATE FUNCTION app.one(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN RETURN workflow.activity('Step', '{}', 'q'); END $$;
SELECT workflow.register_workflow('one', 'app.one(jsonb)');
RESET ROLE;

-- Starting: the run's default queue -------------------------------------
SET ROLE wf_alice;
SELECT throws_ok($$SELECT workflow.start_workflow('one', '{}', 'one-1')$$, '42501', NULL,
				 'a role may not start a run on a queue it may not produce onto');
RESET ROLE;
SELECT is(count(*), 0::bigint, 'and nothing was started') FROM workflow.workflows;
SELECT workflow.grant_queue('default', 'wf_alice', 'produce');

-- Activities: refused while the code runs, as a workflow task failure -----
SET ROLE wf_alice;
SELECT lives_ok($$SELECT workflow.start_workflow('one', '{}', 'one-1')$$,
				'with a produce grant on its default queue the run starts');
RESET ROLE;
SELECT is(status, 'running', 'the run stays running') FROM workflow.workflows WHERE workflow_id = 'one-1';
SELECT is(data->'error'->>'sqlstate', '42501', 'an activity on a queue not granted fails the workflow task')
  FROM workflow.history WHERE workflow_id = 'one-1' AND event_type = 'WorkflowTaskFailed';
SELECT is(count(*), 0::bigint, 'and schedules nothing') FROM workflow.tasks;
SELECT workflow.grant_queue('q', 'wf_alice', 'produce');
SELECT cmp_ok(workflow.tick(now() + interval '1 hour'), '>', 0, 'the task is retried after the grant');
SET ROLE wf_bob;
SELECT is(producer, 'wf_alice'::name, 'the worker sees the role that produced the task')
  FROM workflow.claim_activities('q', 'bob');
RESET ROLE;

-- A compensation on another queue, a child on another queue -------------
SET ROLE wf_alice;
CREATE FUNCTION app.comp(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	RETURN workflow.activity('Charge', '{}', 'q', '{"compensation_queue": "refunds"}', 'Refund');
END $$;
SELECT workflow.register_workflow('comp', 'app.comp(jsonb)');
SELECT workflow.start_workflow('comp', '{}', 'comp-1');
CREATE FUNCTION app.kid(input jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT '{}'::jsonb $$;
SELECT workflow.register_workflow('kid', 'app.kid(jsonb)', '{"queue": "kids"}');
CREATE FUNCTION app.parent(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN RETURN workflow.child_workflow('kid'); END $$;
SELECT workflow.register_workflow('parent', 'app.parent(jsonb)');
SELECT workflow.start_workflow('parent', '{}', 'par-1');
RESET ROLE;
SELECT is(data->'error'->>'message', 'role "wf_alice" may not schedule tasks on queue "refunds"',
		  'the compensation queue needs a produce grant')
  FROM workflow.history WHERE workflow_id = 'comp-1' AND event_type = 'WorkflowTaskFailed';
SELECT is(data->'error'->>'message', 'role "wf_alice" may not schedule tasks on queue "kids"',
		  'so does a child workflow''s queue')
  FROM workflow.history WHERE workflow_id = 'par-1' AND event_type = 'WorkflowTaskFailed';
SELECT is(count(*), 0::bigint, 'no child was started') FROM workflow.workflows WHERE workflow_id LIKE 'par-1/%';
SELECT workflow.grant_queue('kids', 'wf_alice', 'produce');
SELECT workflow.grant_queue('refunds', 'wf_alice', 'produce');
SELECT workflow.tick(now() + interval '1 hour');
SELECT is(status, 'completed', 'the parent goes on once granted') FROM workflow.workflows WHERE workflow_id = 'par-1';
SELECT is(count(*), 1::bigint, 'the charge is scheduled once granted')
  FROM workflow.tasks WHERE workflow_id = 'comp-1' AND activity = 'Charge';

-- A saga: every step's queue is checked at the start -------------------
SET ROLE wf_alice;
SELECT workflow.register_saga('order', '[{"activity": "Reserve", "queue": "q"},
										  {"activity": "Pay", "queue": "payments", "compensation": "Refund"}]');
SELECT throws_ok($$SELECT workflow.start_workflow('order', '{}', 'order-1')$$, '42501',
				 'role "wf_alice" may not schedule tasks on queue "payments"',
				 'a saga is refused at the start if a step''s queue is not granted');
RESET ROLE;

-- The extension owner (here a superuser) may always produce --------------
SELECT lives_ok($$SELECT workflow.start_workflow('one', '{}', 'one-admin', '{"queue": "anything"}')$$,
				'the extension owner produces onto any queue');

-- Hints that show SQL quote the names they show -------------------------
CREATE SCHEMA hints;
GRANT USAGE ON SCHEMA hints TO PUBLIC;
CREATE FUNCTION hints.hint_of(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE h text;
BEGIN
	EXECUTE sql;
	RETURN NULL;
EXCEPTION WHEN insufficient_privilege THEN
	GET STACKED DIAGNOSTICS h = PG_EXCEPTION_HINT;
	RETURN h;
END $$;
SET ROLE "Wf Mallory";
SELECT is(hints.hint_of($$SELECT * FROM workflow.claim_activities('q''); ALTER ROLE mallory SUPERUSER; --')$$),
		  $$Ask the extension owner to run: SELECT workflow.grant_queue('q''); ALTER ROLE mallory SUPERUSER; --', '"Wf Mallory"', 'consume');$$,
		  'the claim hint quotes the queue and the role');
SELECT is(hints.hint_of($$SELECT workflow.start_workflow('one', '{}', 'm-1', '{"queue": "it''s"}')$$),
		  $$Ask the extension owner to run: SELECT workflow.grant_queue('it''s', '"Wf Mallory"', 'produce');$$,
		  'so does the produce hint');
RESET ROLE;
SELECT lives_ok($$SELECT workflow.grant_queue('q''); ALTER ROLE mallory SUPERUSER; --', '"Wf Mallory"', 'consume')$$,
				'the hint runs as shown');
SELECT is(count(*), 1::bigint, 'and grants exactly what it says')
  FROM workflow.queue_grants WHERE queue = 'q''); ALTER ROLE mallory SUPERUSER; --'
   AND grantee = '"Wf Mallory"'::regrole AND privilege = 'consume';
SELECT is(count(*), 0::bigint, 'a revoked produce grant no longer counts')
  FROM workflow.queue_grants WHERE queue = 'both' AND privilege = 'produce';

SELECT * FROM finish();
ROLLBACK;
