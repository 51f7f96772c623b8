-- Commands of workflow code: validated when the code calls them; what
-- still fails while an attempt's decisions are written is a failed
-- workflow task of that run, never the error of whoever advanced it;
-- consumed signals are recorded whatever ends the attempt; compensations
-- inherit their activity's options.
BEGIN;
SELECT plan(23);

CREATE FUNCTION claim_one(q text) RETURNS bigint LANGUAGE sql AS $$
	SELECT task_id FROM workflow.claim_activities(q, 'w', 1)
$$;

CREATE FUNCTION last_task_failure(id text) RETURNS jsonb LANGUAGE sql AS $$
	SELECT data->'error' FROM workflow.history
	 WHERE workflow_id = id AND event_type = 'WorkflowTaskFailed'
	 ORDER BY event_id DESC LIMIT 1
$$;

CREATE FUNCTION gapless(id text) RETURNS boolean LANGUAGE sql AS $$
	SELECT bool_and(n = event_id) AND max(event_id) = (SELECT last_event_id FROM workflow.workflows w
														WHERE w.workflow_id = id AND w.closed_at IS NULL)
	  FROM (SELECT event_id, row_number() OVER (ORDER BY event_id) AS n
			  FROM workflow.history h
			 WHERE h.workflow_id = id
			   AND h.run_id = (SELECT run_id FROM workflow.workflows w
								WHERE w.workflow_id = id AND w.closed_at IS NULL)) e
$$;

-- Commands that start_workflow would refuse are refused when code calls them.
-- Each runs after a first activity, so it is the worker's completion that
-- advances the run: the completion must succeed.
CREATE FUNCTION bad_command(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM workflow.activity('First', '{}', 'q');
	CASE input->>'case'
		WHEN 'state_key' THEN PERFORM workflow.set_state(repeat('k', 3000), '1');
		WHEN 'child_timeout' THEN PERFORM workflow.child_workflow('bad_command', '{}', NULL,
																   '{"execution_timeout": "soon"}');
		WHEN 'child_empty_id' THEN PERFORM workflow.child_workflow('bad_command', '{}', '');
		WHEN 'child_long_id' THEN PERFORM workflow.child_workflow('bad_command', '{}', repeat('x', 300));
		WHEN 'child_queue' THEN PERFORM workflow.child_workflow('bad_command', '{}', NULL,
																 '{"queue": "a\"b"}');
		WHEN 'signal_name' THEN PERFORM workflow.wait_signal('');
	END CASE;
	RETURN '{}';
END $$;
SELECT workflow.register_workflow('bad_command', 'bad_command(jsonb)');

CREATE FUNCTION try_case(c text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE id text := 'wf-bad-' || c;
BEGIN
	PERFORM workflow.start_workflow('bad_command', jsonb_build_object('case', c), id);
	PERFORM workflow.complete_activity(claim_one('q'), '{}');
	RETURN last_task_failure(id);
END $$;

SELECT is(try_case('state_key')->>'sqlstate', '22023', 'an over-long state key: failed task, completion kept');
SELECT is(try_case('child_timeout')->>'sqlstate', '22023', 'a child execution_timeout that is no interval');
SELECT is(try_case('child_empty_id')->>'sqlstate', '22023', 'an empty child workflow_id');
SELECT is(try_case('child_long_id')->>'sqlstate', '22023', 'an over-long child workflow_id');
SELECT is(try_case('child_queue')->>'sqlstate', '42602', 'a child queue name start_workflow refuses');
SELECT is(try_case('signal_name')->>'sqlstate', '22023', 'an empty signal name');
SELECT is((SELECT count(*) FROM workflow.workflows WHERE workflow_id LIKE 'wf-bad-%' AND status = 'running'),
		  6::bigint, 'every one of those runs is still running, to be retried');
SELECT is((SELECT count(*) FROM workflow.history
			WHERE workflow_id LIKE 'wf-bad-%' AND event_type = 'ActivityCompleted'),
		  6::bigint, 'and every completion was recorded');
SELECT is((SELECT count(*) FROM workflow.workflows WHERE parent_workflow_id LIKE 'wf-bad-%'),
		  0::bigint, 'no child was started');

-- What fails only while the decisions are written (here a trigger stands in
-- for any failure of the engine's writes) is a failed task, with nothing of
-- the attempt's writes left behind.
CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'cannot schedule %', NEW.activity USING ERRCODE = '23514';
END $$;
CREATE TRIGGER refuse_boom BEFORE INSERT ON workflow.tasks
	FOR EACH ROW WHEN (NEW.activity = 'Boom') EXECUTE FUNCTION refuse_boom();
CREATE FUNCTION two_steps(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM workflow.activity('First', '{}', 'q');
	PERFORM workflow.set_state('progress', '"half"');
	PERFORM workflow.activity('Boom', '{}', 'q');
	RETURN '{}';
END $$;
SELECT workflow.register_workflow('two_steps', 'two_steps(jsonb)');
SELECT workflow.start_workflow('two_steps', '{}', 'wf-boom');
SELECT lives_ok($$SELECT workflow.complete_activity(claim_one('q'), '{}')$$,
				'the completion succeeds although the next step cannot be written');
SELECT is(last_task_failure('wf-boom')->>'message', 'cannot schedule Boom', 'the failure is recorded on the run');
SELECT is((SELECT count(*) FROM workflow.history WHERE workflow_id = 'wf-boom'
			AND event_type = 'ActivityScheduled' AND data->>'activity' = 'Boom'),
		  0::bigint, 'no ActivityScheduled of the failed write is left');
SELECT is(workflow.get_state('wf-boom', 'progress'), NULL, 'nor the state the attempt published');
SELECT ok(gapless('wf-boom'), 'the history is gapless');
DROP TRIGGER refuse_boom ON workflow.tasks;
SELECT cmp_ok(workflow.tick(now() + interval '1 hour'), '>=', 1, 'the retry of the task runs');
SELECT is((SELECT activity FROM workflow.tasks WHERE workflow_id = 'wf-boom'), 'Boom',
		  'and schedules the step once the cause is gone');

-- A signal consumed in the attempt that continues as new is consumed once --
CREATE FUNCTION looper(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE n int := coalesce((input->>'n')::int, 0);
BEGIN
	PERFORM workflow.wait_signal('go');
	IF n < 5 THEN
		PERFORM workflow.continue_as_new(jsonb_build_object('n', n + 1));
	END IF;
	RETURN jsonb_build_object('n', n);
END $$;
SELECT workflow.register_workflow('looper', 'looper(jsonb)');
SELECT workflow.start_workflow('looper', '{}', 'wf-loop');
SELECT workflow.signal_workflow('wf-loop', 'go', '1');
SELECT is((SELECT count(*) FROM workflow.workflows WHERE workflow_id = 'wf-loop'), 2::bigint,
		  'one signal moves the loop on by one run');
SELECT is((SELECT count(*) FROM workflow.history WHERE workflow_id = 'wf-loop' AND event_type = 'SignalConsumed'),
		  1::bigint, 'the consumption is recorded in the run that consumed it');
SELECT is((SELECT count(*) FROM workflow.signals WHERE workflow_id = 'wf-loop'), 0::bigint,
		  'and the signal is gone');

-- ... and in a run that completes in the consuming attempt.
CREATE FUNCTION one_signal(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	RETURN workflow.wait_signal('go');
END $$;
SELECT workflow.register_workflow('one_signal', 'one_signal(jsonb)');
SELECT workflow.start_workflow('one_signal', '{}', 'wf-one');
SELECT workflow.signal_workflow('wf-one', 'go', '{"x": 1}');
SELECT is(array_agg(event_type ORDER BY event_id),
		  ARRAY['WorkflowStarted', 'SignalReceived', 'SignalConsumed', 'WorkflowCompleted'],
		  'a completed run''s history has its last SignalConsumed')
  FROM workflow.history WHERE workflow_id = 'wf-one';

-- Compensations inherit their activity's options -----------------------------
CREATE FUNCTION comp(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM workflow.activity('Charge', '{}', 'q',
		'{"start_to_close_timeout": "2 seconds", "heartbeat_timeout": "1 second",
		  "retry": {"initial_interval": "3 seconds", "maximum_attempts": 2}}', 'Refund');
	PERFORM workflow.activity('Ship', '{}', 'q',
		'{"start_to_close_timeout": "2 seconds",
		  "compensation_options": {"start_to_close_timeout": "7 seconds",
								   "retry": {"maximum_attempts": 4}}}', 'Unship');
	RAISE EXCEPTION 'give up';
END $$;
SELECT workflow.register_workflow('comp', 'comp(jsonb)');
SELECT workflow.start_workflow('comp', '{}', 'wf-comp');
SELECT workflow.complete_activity(claim_one('q'), '{}');
SELECT workflow.complete_activity(claim_one('q'), '{}');
SELECT is(ARRAY[activity, start_to_close_timeout::text, maximum_attempts::text],
		  ARRAY['Unship', '00:00:07', '4'],
		  'compensation_options override the activity''s options')
  FROM workflow.tasks WHERE workflow_id = 'wf-comp';
SELECT workflow.complete_activity(claim_one('q'), '{}');
SELECT is(ARRAY[activity, start_to_close_timeout::text, heartbeat_timeout::text, initial_interval::text,
				maximum_attempts::text],
		  ARRAY['Refund', '00:00:02', '00:00:01', '00:00:03', '0'],
		  'otherwise a compensation has its activity''s timeouts and backoff, retried without limit')
  FROM workflow.tasks WHERE workflow_id = 'wf-comp';
SELECT workflow.complete_activity(claim_one('q'), '{}');
SELECT is(status, 'compensated', 'and the saga ends compensated') FROM workflow.workflows WHERE workflow_id = 'wf-comp';

SELECT * FROM finish();
ROLLBACK;
