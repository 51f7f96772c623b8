-- Everything that happens because time passes, driven by tick(at) (no
-- real sleeping): each retry-policy field, each timeout kind, durable
-- sleep, execution timeout, workflow-task retry backoff.
BEGIN;
SELECT plan(27);

-- One activity with the options given in the input; the code catches the
-- final failure and returns it, so the test can read it.
CREATE FUNCTION one_activity(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	RETURN workflow.activity('Act', '{}', 'tq', input->'options');
EXCEPTION WHEN SQLSTATE 'WF001' THEN
	RETURN jsonb_build_object('failed', SQLERRM);
END $$;
SELECT workflow.register_workflow('one', 'one_activity(jsonb)');

CREATE FUNCTION claim_fail(error text DEFAULT 'Boom', retryable boolean DEFAULT true) RETURNS int LANGUAGE plpgsql AS $$
DECLARE t record;
BEGIN
	SELECT * INTO t FROM workflow.claim_activities('tq', 'w', 1);
	IF t.task_id IS NULL THEN RETURN NULL; END IF;
	PERFORM workflow.fail_activity(t.task_id, error, retryable);
	RETURN t.attempt;
END $$;
CREATE FUNCTION delays(wf text) RETURNS interval[] LANGUAGE sql AS $$
	SELECT array_agg((data->>'next_attempt_at')::timestamptz - now() ORDER BY event_id)
	  FROM workflow.history WHERE workflow_id = wf AND event_type = 'ActivityFailed' AND NOT (data->>'final')::bool
$$;
CREATE FUNCTION claimable() RETURNS bigint LANGUAGE sql AS $$
	SELECT count(*) FROM workflow.tasks WHERE queue = 'tq' AND status = 'ready'
$$;

-- initial_interval, backoff_coefficient, maximum_interval -------------------
SELECT workflow.start_workflow('one', '{"options": {"retry": {"initial_interval": "10 seconds",
	"backoff_coefficient": 3, "maximum_interval": "60 seconds"}}}', 'backoff');
SELECT is(claim_fail(), 1, 'attempt 1 fails');
SELECT is(claimable(), 0::bigint, 'the retry waits for its backoff');
SELECT workflow.tick(now() + interval '9 seconds');
SELECT is(claimable(), 0::bigint, 'not yet after 9 s');
SELECT workflow.tick(now() + interval '10 seconds');
SELECT is(claimable(), 1::bigint, 'initial_interval: ready after 10 s');
SELECT is(claim_fail(), 2, 'attempt 2 fails');
SELECT workflow.tick(now() + interval '30 seconds');
SELECT is(claim_fail(), 3, 'attempt 3 fails');
SELECT workflow.tick(now() + interval '60 seconds');
SELECT is(claim_fail(), 4, 'attempt 4 fails');
SELECT is(delays('backoff'), ARRAY['10 seconds', '30 seconds', '60 seconds', '60 seconds']::interval[],
		  'backoff_coefficient multiplies the delay, maximum_interval caps it');
SELECT is(count(*), 4::bigint, 'each failed attempt is in the history')
  FROM workflow.history WHERE workflow_id = 'backoff' AND event_type = 'ActivityFailed';
SELECT workflow.terminate_workflow('backoff');

-- maximum_attempts -----------------------------------------------------------
SELECT workflow.start_workflow('one', '{"options": {"retry": {"initial_interval": "1 second", "maximum_attempts": 2}}}', 'max');
SELECT claim_fail();
SELECT workflow.tick(now() + interval '1 second');
SELECT is(claim_fail(), 2, 'attempt 2 is the last');
SELECT is(result->>'failed', 'activity "Act" failed: Boom', 'maximum_attempts: the failure reaches the code')
  FROM workflow.workflows WHERE workflow_id = 'max';

-- non_retryable_errors and retryable = false --------------------------------
SELECT workflow.start_workflow('one', '{"options": {"retry": {"non_retryable_errors": ["CardDeclined"]}}}', 'nonretry');
SELECT claim_fail('CardDeclined');
SELECT is(result->>'failed', 'activity "Act" failed: CardDeclined', 'non_retryable_errors: no retry for that error')
  FROM workflow.workflows WHERE workflow_id = 'nonretry';
SELECT workflow.start_workflow('one', '{}', 'notretryable');
SELECT claim_fail('Fatal', false);
SELECT is(status, 'completed', 'retryable = false fails the activity at once')
  FROM workflow.workflows WHERE workflow_id = 'notretryable';

-- start_to_close_timeout: the claim's lease ---------------------------------
SELECT workflow.start_workflow('one', '{"options": {"start_to_close_timeout": "30 seconds",
	"retry": {"initial_interval": "1 second"}}}', 'stc');
SELECT count(*) FROM workflow.claim_activities('tq', 'vanishing-worker', 1);
SELECT workflow.tick(now() + interval '29 seconds');
SELECT is(claimable(), 0::bigint, 'the lease holds for 29 s');
SELECT workflow.tick(now() + interval '30 seconds');
SELECT is(data->>'timeout_type', 'start_to_close', 'start_to_close_timeout: ActivityTimedOut')
  FROM workflow.history WHERE workflow_id = 'stc' AND event_type = 'ActivityTimedOut';
SELECT workflow.tick(now() + interval '31 seconds');
SELECT is(claimable(), 1::bigint, 'and the task is retried for another worker');
SELECT workflow.terminate_workflow('stc');

-- heartbeat_timeout -----------------------------------------------------------
SELECT workflow.start_workflow('one', '{"options": {"heartbeat_timeout": "10 seconds",
	"start_to_close_timeout": "1 hour", "retry": {"maximum_attempts": 1}}}', 'hb');
SELECT is(workflow.heartbeat_activity(task_id, '{"progress": 1}'), false, 'a heartbeat extends the lease')
  FROM workflow.claim_activities('tq', 'w', 1);
SELECT is(lease_expires_at, now() + interval '10 seconds', 'to heartbeat_timeout from the last heartbeat')
  FROM workflow.tasks WHERE workflow_id = 'hb';
SELECT workflow.tick(now() + interval '11 seconds');
SELECT is(data->>'timeout_type', 'heartbeat', 'heartbeat_timeout: ActivityTimedOut')
  FROM workflow.history WHERE workflow_id = 'hb' AND event_type = 'ActivityTimedOut';

-- schedule_to_start_timeout and schedule_to_close_timeout: not retried -------
SELECT workflow.start_workflow('one', '{"options": {"schedule_to_start_timeout": "5 minutes"}}', 'sts');
SELECT workflow.tick(now() + interval '5 minutes');
SELECT is(result->>'failed', 'activity "Act" failed: activity timed out (schedule_to_start)',
		  'schedule_to_start_timeout: fails when no worker starts it in time')
  FROM workflow.workflows WHERE workflow_id = 'sts';
SELECT workflow.start_workflow('one', '{"options": {"schedule_to_close_timeout": "15 seconds",
	"retry": {"initial_interval": "10 seconds"}}}', 'stclose');
SELECT claim_fail();
SELECT workflow.tick(now() + interval '10 seconds');
SELECT claim_fail();
SELECT is(result->>'failed', 'activity "Act" failed: Boom',
		  'schedule_to_close_timeout: no retry that would end after the deadline')
  FROM workflow.workflows WHERE workflow_id = 'stclose';

-- Durable sleep --------------------------------------------------------------
CREATE FUNCTION sleeper(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM workflow.sleep('1 day');
	RETURN '{"woke": true}';
END $$;
SELECT workflow.register_workflow('sleeper', 'sleeper(jsonb)');
SELECT workflow.start_workflow('sleeper', '{}', 'sleepy');
SELECT is(workflow.tick(now() + interval '23 hours'), 0, 'nothing is due before the timer');
SELECT is(workflow.tick(now() + interval '1 day'), 1, 'the timer fires at its time');
SELECT is(array_agg(event_type ORDER BY event_id),
		  ARRAY['WorkflowStarted', 'TimerStarted', 'TimerFired', 'WorkflowCompleted'],
		  'the history shows TimerStarted and TimerFired')
  FROM workflow.history WHERE workflow_id = 'sleepy';

-- Execution timeout ----------------------------------------------------------
SELECT workflow.start_workflow('sleeper', '{}', 'deadline', '{"execution_timeout": "1 hour"}');
SELECT workflow.tick(now() + interval '1 hour');
SELECT is(status, 'timed_out', 'execution_timeout ends the run as timed_out')
  FROM workflow.workflows WHERE workflow_id = 'deadline';
SELECT is(count(*), 0::bigint, 'and withdraws its timer')
  FROM workflow.timers WHERE workflow_id = 'deadline';

-- Workflow-task retries back off --------------------------------------------
CREATE FUNCTION broken(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN RETURN jsonb_build_object('x', 1 / 0); END $$;
SELECT workflow.register_workflow('broken', 'broken(jsonb)');
SELECT workflow.start_workflow('broken', '{}', 'broken');
SELECT workflow.tick(now() + interval '1 second');
SELECT workflow.tick(now() + interval '3 seconds');
SELECT is(array_agg((data->>'retry_at')::timestamptz - now() ORDER BY event_id),
		  ARRAY['1 second', '3 seconds', '7 seconds']::interval[],
		  'a failing workflow task is retried after 1 s, 2 s, 4 s ...')
  FROM workflow.history WHERE workflow_id = 'broken' AND event_type = 'WorkflowTaskFailed';

SELECT * FROM finish();
ROLLBACK;
