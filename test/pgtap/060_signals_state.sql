-- Signals (buffered in order, waited for, timed out), queryable state,
-- deterministic helpers and patching.
BEGIN;
SELECT plan(24);

CREATE FUNCTION approvals(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE a jsonb; b jsonb; late jsonb;
BEGIN
	PERFORM workflow.set_state('stage', '"waiting for approvals"');
	a := workflow.wait_signal('approve');
	b := workflow.wait_signal('approve');
	PERFORM workflow.set_state('stage', '"waiting for a late signal"');
	late := workflow.wait_signal('late', '1 hour');
	RETURN jsonb_build_object('first', a, 'second', b, 'late', late);
END $$;
SELECT workflow.register_workflow('approvals', 'approvals(jsonb)');
SELECT workflow.start_workflow('approvals', '{}', 'appr');

SELECT is(workflow.get_state('appr', 'stage'), '"waiting for approvals"', 'set_state is readable with get_state');
SELECT is(workflow.get_state('appr', 'nothing'), NULL, 'an unset key reads NULL');
SELECT lives_ok($$SELECT workflow.signal_workflow('appr', 'approve', '{"by": "ann"}')$$, 'a signal to a waiting run');
SELECT lives_ok($$SELECT workflow.signal_workflow('appr', 'other', '{"ignored": true}')$$, 'a signal nobody waits for is kept');
SELECT lives_ok($$SELECT workflow.signal_workflow('appr', 'approve', '{"by": "bob"}')$$, 'a second signal');
SELECT is(workflow.get_state('appr', 'stage'), '"waiting for a late signal"', 'the code went on');
SELECT is(workflow.tick(now() + interval '59 minutes'), 0, 'the signal timeout is not due yet');
SELECT is(workflow.tick(now() + interval '1 hour'), 1, 'the signal timeout fires');
SELECT is(result, '{"first": {"by": "ann"}, "second": {"by": "bob"}, "late": null}'::jsonb,
		  'signals are consumed in order; a timeout returns NULL')
  FROM workflow.workflows WHERE workflow_id = 'appr';
SELECT is(array_agg(event_type ORDER BY event_id),
		  ARRAY['WorkflowStarted', 'SignalReceived', 'SignalConsumed', 'SignalReceived', 'SignalReceived',
				'SignalConsumed', 'TimerStarted', 'TimerFired', 'WorkflowCompleted'],
		  'the history shows each signal received and consumed')
  FROM workflow.history WHERE workflow_id = 'appr';
SELECT is(count(*), 0::bigint, 'signals nobody consumed are dropped when the workflow ends')
  FROM workflow.signals WHERE workflow_id = 'appr';

-- Signals sent before the code waits are buffered, in order.
SELECT workflow.start_workflow('approvals', '{}', 'appr2');
SELECT workflow.terminate_workflow('appr2');
SELECT throws_ok($$SELECT workflow.signal_workflow('appr2', 'approve')$$, 'WF012', NULL,
				 'a signal to a closed run is an error');
SELECT throws_ok($$SELECT workflow.signal_workflow('nobody', 'approve')$$, '42704', NULL,
				 'a signal to an unknown workflow is an error');

-- now(), random(), uuid() are recorded once and replayed identically ----
CREATE TABLE seen (k text, v text);
CREATE FUNCTION helpers(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE t timestamptz := workflow.now(); r float8 := workflow.random(); u uuid := workflow.uuid();
BEGIN
	PERFORM workflow.activity('Step', '{}', 'hq');
	RETURN jsonb_build_object('t', t, 'r', r, 'u', u);
END $$;
SELECT workflow.register_workflow('helpers', 'helpers(jsonb)');
SELECT workflow.start_workflow('helpers', '{}', 'help');
SELECT is(count(*), 3::bigint, 'three MarkerRecorded events')
  FROM workflow.history WHERE workflow_id = 'help' AND event_type = 'MarkerRecorded';
SELECT workflow.complete_activity(task_id, '{}') FROM workflow.claim_activities('hq');
SELECT is(result->>'u', (SELECT data->>'value' FROM workflow.history WHERE workflow_id = 'help'
						  AND data->>'marker' = 'uuid'), 'uuid() replays the recorded value')
  FROM workflow.workflows WHERE workflow_id = 'help';
SELECT is((result->>'r')::float8, (SELECT (data->>'value')::float8 FROM workflow.history WHERE workflow_id = 'help'
								   AND data->>'marker' = 'random'), 'random() replays the recorded value')
  FROM workflow.workflows WHERE workflow_id = 'help';
SELECT is((result->>'t')::timestamptz, (SELECT (data->>'value')::timestamptz FROM workflow.history
										WHERE workflow_id = 'help' AND data->>'marker' = 'now'),
		  'now() replays the recorded value')
  FROM workflow.workflows WHERE workflow_id = 'help';

-- patched(): old runs keep the old branch, new runs take the new one -----
CREATE FUNCTION evolving(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM workflow.activity('Old', '{}', 'pq');
	PERFORM workflow.activity('End', '{}', 'pq');
	RETURN '{"version": 1}';
END $$;
SELECT workflow.register_workflow('evolving', 'evolving(jsonb)');
SELECT workflow.start_workflow('evolving', '{}', 'ev-old');
CREATE OR REPLACE FUNCTION evolving(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	IF workflow.patched('use-new-step') THEN
		PERFORM workflow.activity('New', '{}', 'pq');
	ELSE
		PERFORM workflow.activity('Old', '{}', 'pq');
	END IF;
	PERFORM workflow.activity('End', '{}', 'pq');
	RETURN jsonb_build_object('patched', workflow.patched('use-new-step'));
END $$;
SELECT workflow.start_workflow('evolving', '{}', 'ev-new');
SELECT is(activity, 'New', 'a new run takes the patched branch')
  FROM workflow.tasks WHERE workflow_id = 'ev-new';
SELECT workflow.complete_activity(task_id, '{}') FROM workflow.claim_activities('pq', 'w', 10);
SELECT is(count(*), 0::bigint, 'the old run replays without a non-determinism error')
  FROM workflow.history WHERE workflow_id = 'ev-old' AND event_type = 'WorkflowTaskFailed';
SELECT workflow.complete_activity(task_id, '{}') FROM workflow.claim_activities('pq', 'w', 10);
SELECT is(status, 'completed', 'the old run completes') FROM workflow.workflows WHERE workflow_id = 'ev-old';
SELECT is(result, '{"patched": true}'::jsonb, 'the new run completes on the new branch')
  FROM workflow.workflows WHERE workflow_id = 'ev-new';
SELECT is(result, '{"patched": false}'::jsonb, 'and the old run on the old one')
  FROM workflow.workflows WHERE workflow_id = 'ev-old';
SELECT is(array_agg(event_type || ':' || COALESCE(data->>'activity', data->>'marker', '') ORDER BY event_id),
		  ARRAY['WorkflowStarted:', 'MarkerRecorded:patch:use-new-step', 'ActivityScheduled:New',
				'ActivityStarted:New', 'ActivityCompleted:New', 'ActivityScheduled:End',
				'ActivityStarted:End', 'ActivityCompleted:End', 'WorkflowCompleted:'],
		  'the new run''s history records the patch marker')
  FROM workflow.history WHERE workflow_id = 'ev-new';
SELECT is(count(*), 0::bigint, 'the old run''s history has no patch marker')
  FROM workflow.history WHERE workflow_id = 'ev-old' AND event_type = 'MarkerRecorded';

SELECT * FROM finish();
ROLLBACK;
