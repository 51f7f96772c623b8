-- What issue 18 (doc/citus.md) changes on one node: the task key carries
-- the run's workflow_id, reports may name their run, and
-- workflow.distribute() refuses to run without Citus.
BEGIN;
SELECT plan(15);

SELECT is((SELECT array_agg(a.attname ORDER BY k.n)
			 FROM pg_constraint c, unnest(c.conkey) WITH ORDINALITY k(attnum, n)
			 JOIN pg_attribute a ON a.attrelid = 'workflow.tasks'::regclass AND a.attnum = k.attnum
			WHERE c.conname = 'tasks_pkey' AND c.conrelid = 'workflow.tasks'::regclass),
		  ARRAY['task_id', 'workflow_id']::name[], 'workflow.tasks is keyed (task_id, workflow_id)');

CREATE FUNCTION three_steps(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM workflow.activity('A', input, 'keys');
	PERFORM workflow.activity('B', input, 'keys', '{"retry": {"maximum_attempts": 2, "initial_interval": "1 second"}}');
	RETURN workflow.activity('C', input, 'keys');
END $$;
SELECT workflow.register_workflow('three', 'three_steps(jsonb)');
SELECT workflow.start_workflow('three', '{}', 'wf-keys');

CREATE TEMP TABLE claimed AS SELECT * FROM workflow.claim_activities('keys', 'w', 1);
SELECT throws_ok($$SELECT workflow.complete_activity((SELECT task_id FROM claimed), '{}', 'wf-other')$$,
				 'WF010', NULL, 'a report naming another run is stale (WF010)');
SELECT is((SELECT status FROM workflow.tasks WHERE task_id = (SELECT task_id FROM claimed)), 'running',
		  'and changes nothing');
SELECT throws_ok($$SELECT workflow.heartbeat_activity((SELECT task_id FROM claimed), NULL, 'wf-other')$$,
				 'WF010', NULL, 'so is a heartbeat naming another run');
SELECT is(workflow.heartbeat_activity((SELECT task_id FROM claimed), '{"p": 1}', 'wf-keys'), false,
		  'a heartbeat naming its run extends the lease');
SELECT is((SELECT heartbeat_details FROM workflow.tasks WHERE task_id = (SELECT task_id FROM claimed)),
		  '{"p": 1}'::jsonb, 'and records its details');

-- complete_and_claim naming the run: A completes, B (scheduled by it) is claimed.
CREATE TEMP TABLE next AS
	SELECT * FROM workflow.complete_and_claim((SELECT task_id FROM claimed), '{"a": 1}', 'keys', 'w', 1, 'wf-keys');
SELECT is((SELECT activity FROM next), 'B', 'complete_and_claim naming the run completes A and claims B');

SELECT lives_ok($$SELECT workflow.fail_activity((SELECT task_id FROM next), 'boom', true, NULL, 'wf-keys')$$,
				'fail_activity naming the run fails an attempt');
SELECT is((SELECT attempt FROM workflow.tasks WHERE workflow_id = 'wf-keys'), 2,
		  'which is retried as attempt 2');
SELECT is((SELECT count(*)::int FROM workflow.history
			WHERE workflow_id = 'wf-keys' AND event_type = 'ActivityFailed'), 1,
		  'with one ActivityFailed in the history');
SELECT throws_ok($$SELECT workflow.complete_activity(1, NULL, repeat('x', 2000000))$$,
				 '54000', NULL, 'an oversized workflow_id is refused');
SELECT throws_ok($$SELECT workflow.complete_activity(NULL::bigint, NULL, 'wf-keys')$$,
				 '22004', NULL, 'a NULL task_id is refused');

-- distribute() needs Citus.
SELECT throws_ok($$SELECT workflow.distribute()$$, '0A000', NULL, 'distribute() without Citus is refused');
SELECT throws_ok($$SELECT workflow.distribute(0)$$, '22023', NULL, 'distribute(0) is refused');
SELECT is(has_function_privilege('public', 'workflow.distribute(integer)', 'EXECUTE'), false,
		  'distribute() is not executable by PUBLIC');
SELECT * FROM finish();
ROLLBACK;
