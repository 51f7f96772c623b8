-- One run's failing due item never stops tick(): the item's work is rolled
-- back, the failure is recorded on its run (WorkflowTaskFailed naming the
-- item) and the item is postponed with backoff, and the other runs' due
-- work goes on (issue 10, item 4).
BEGIN;
SELECT plan(7);

CREATE FUNCTION nap(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM workflow.sleep((input->>'d')::interval);
	RETURN '{"woke": true}';
END $$;
SELECT workflow.register_workflow('nap', 'nap(jsonb)');
SELECT workflow.start_workflow('nap', '{"d": "1 day"}', 'victim');
SELECT workflow.start_workflow('nap', '{"d": "1 minute"}', 'bystander');

-- A poisoned task, planted as only a superuser could: its lease deadline
-- is out of the timestamp range, so handling it fails.
INSERT INTO workflow.tasks (workflow_id, run_id, seq, activity_id, queue, activity, input,
	initial_interval, backoff_coefficient, maximum_interval, maximum_attempts,
	non_retryable_errors, start_to_close_timeout, scheduled_at, ready_at, due_at,
	status, claimed_at, producer)
SELECT workflow_id, run_id, 99, 'poison', 'pq', 'Poison', '{}', '1 second', 2, '100 seconds', 0,
	'{}', '300000 years', now(), now(), now(), 'running', now(), owner
  FROM workflow.workflows WHERE workflow_id = 'victim';

SELECT lives_ok($$SELECT workflow.tick(now() + interval '1 minute')$$,
	'tick() goes on past the poisoned item');
SELECT is((SELECT status FROM workflow.workflows WHERE workflow_id = 'bystander'), 'completed',
	'another run''s timer fires');
SELECT is((SELECT data->>'item' FROM workflow.history
	WHERE workflow_id = 'victim' AND event_type = 'WorkflowTaskFailed'),
	(SELECT 'activity task ' || task_id FROM workflow.tasks WHERE activity_id = 'poison'),
	'the failure is recorded on the poisoned item''s run, naming the item');
SELECT is((SELECT data->'error'->>'message' FROM workflow.history
	WHERE workflow_id = 'victim' AND event_type = 'WorkflowTaskFailed'),
	'timestamp out of range', 'with the error');
SELECT ok((SELECT due_at > now() + interval '1 minute' FROM workflow.tasks WHERE activity_id = 'poison'),
	'the item is postponed with backoff');
SELECT is(workflow.tick(now() + interval '1 minute'), 0,
	'and is not retried before its backoff');
SELECT is((SELECT status FROM workflow.workflows WHERE workflow_id = 'victim'), 'running',
	'the poisoned item''s run stays running');

SELECT * FROM finish();
ROLLBACK;
