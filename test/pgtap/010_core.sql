-- Core engine: a PL/pgSQL workflow driven only through claim/complete,
-- exact history, result, activity ids, and the at-least-once contract.
BEGIN;
SELECT plan(17);

CREATE FUNCTION four_steps(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	r1 jsonb; r2 jsonb; r3 jsonb; r4 jsonb;
BEGIN
	r1 := workflow.activity('Reserve', input, 'inventory');
	r2 := workflow.activity('Charge', input || r1, 'payments');
	r3 := workflow.activity('Ship', input || r2, 'inventory');
	r4 := workflow.activity('Confirm', r3, 'payments');
	RETURN jsonb_build_object('sum', (r1->>'n')::int + (r2->>'n')::int + (r3->>'n')::int + (r4->>'n')::int,
							  'last', r4);
END $$;

SELECT lives_ok($$SELECT workflow.register_workflow('four', 'four_steps(jsonb)')$$, 'register_workflow accepts f(jsonb) RETURNS jsonb');
SELECT is(workflow.start_workflow('four', '{"order": 7}', 'wf-four'), 'wf-four', 'start_workflow returns the given id');

-- A tiny worker: claim one task from a queue and complete it with n.
CREATE FUNCTION work_one(q text, n int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE t record;
BEGIN
	SELECT * INTO t FROM workflow.claim_activities(q, 'test-worker', 1);
	IF t.task_id IS NULL THEN RETURN NULL; END IF;
	PERFORM workflow.complete_activity(t.task_id, jsonb_build_object('n', n, 'activity', t.activity));
	RETURN t.activity;
END $$;

SELECT is(work_one('payments', 1), NULL, 'nothing is claimable on payments before Reserve completes');
SELECT is(work_one('inventory', 1), 'Reserve', 'Reserve is claimed from inventory');
SELECT is(work_one('payments', 10), 'Charge', 'Charge follows on payments');
SELECT is(work_one('inventory', 100), 'Ship', 'Ship follows on inventory');
SELECT is(work_one('payments', 1000), 'Confirm', 'Confirm follows on payments');

SELECT is(status, 'completed', 'the run completed') FROM workflow.workflows WHERE workflow_id = 'wf-four';
SELECT is(result, '{"sum": 1111, "last": {"n": 1000, "activity": "Confirm"}}'::jsonb,
		  'the result is built from the activity results')
  FROM workflow.workflows WHERE workflow_id = 'wf-four';

SELECT is(array_agg(event_type ORDER BY event_id),
		  ARRAY['WorkflowStarted',
				'ActivityScheduled', 'ActivityStarted', 'ActivityCompleted',
				'ActivityScheduled', 'ActivityStarted', 'ActivityCompleted',
				'ActivityScheduled', 'ActivityStarted', 'ActivityCompleted',
				'ActivityScheduled', 'ActivityStarted', 'ActivityCompleted',
				'WorkflowCompleted'],
		  'the history is exactly the expected sequence')
  FROM workflow.history WHERE workflow_id = 'wf-four';

SELECT is(array_agg(event_id ORDER BY event_id), array(SELECT generate_series(1, 14)::bigint),
		  'event ids are 1..14 without gaps')
  FROM workflow.history WHERE workflow_id = 'wf-four';

SELECT is(count(DISTINCT data->>'activity_id'), 4::bigint, 'each activity has its own activity_id')
  FROM workflow.history WHERE workflow_id = 'wf-four' AND event_type = 'ActivityScheduled';

SELECT is(count(*), 0::bigint, 'no task row is left behind') FROM workflow.tasks;

-- A duplicate report is an error, never a second event.
SELECT throws_ok($$SELECT workflow.complete_activity(
	(SELECT (data->>'task_id')::bigint FROM workflow.history
	  WHERE workflow_id = 'wf-four' AND event_type = 'ActivityCompleted' ORDER BY event_id LIMIT 1), '{}')$$,
	'WF010', NULL, 'a duplicate completion is refused with WF010');

-- Eager dispatch: completing a step hands the worker the next one.
SELECT workflow.start_workflow('four', '{"order": 8}', 'wf-eager');
CREATE TEMP TABLE first_task AS SELECT task_id FROM workflow.claim_activities('inventory', 'eager', 1);
SELECT is(activity, 'Charge', 'complete_and_claim returns the next task of the queue')
  FROM workflow.complete_and_claim((SELECT task_id FROM first_task), '{"n": 1}', 'payments', 'eager');
SELECT is(count(*), 0::bigint, 'already claimed: nothing left to claim on payments')
  FROM workflow.claim_activities('payments');
SELECT is(claimed_by, 'eager', 'by the worker that completed the step')
  FROM workflow.tasks WHERE workflow_id = 'wf-eager';

SELECT * FROM finish();
ROLLBACK;
