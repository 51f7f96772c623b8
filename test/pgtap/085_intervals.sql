-- Every interval and number the engine adds to timestamps or multiplies a
-- backoff with is bounded, finite and of the right sign (issue 10, items 4
-- and 16): a bad value is a 22023 when it is given, never a "timestamp out
-- of range" later for everyone on the queue or in the scheduler.
BEGIN;
SELECT plan(22);

CREATE FUNCTION one_activity(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	RETURN workflow.activity('Act', '{}', 'iq', input->'options');
END $$;
SELECT workflow.register_workflow('one', 'one_activity(jsonb)');
CREATE FUNCTION nap(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM workflow.sleep((input->>'d')::interval);
	RETURN '{"woke": true}';
END $$;
SELECT workflow.register_workflow('nap', 'nap(jsonb)');

-- Activity timeouts: bounded, positive ------------------------------------
SELECT throws_ok($$SELECT workflow.start_workflow('one', '{}', NULL,
	'{"activity_options": {"start_to_close_timeout": "300000 years"}}')$$, '22023', NULL,
	'start_to_close_timeout of 300000 years is refused');
SELECT throws_ok($$SELECT workflow.start_workflow('one', '{}', NULL,
	'{"activity_options": {"schedule_to_start_timeout": "300000 years"}}')$$, '22023', NULL,
	'schedule_to_start_timeout of 300000 years is refused');
SELECT throws_ok($$SELECT workflow.start_workflow('one', '{}', NULL,
	'{"activity_options": {"schedule_to_close_timeout": "101 years"}}')$$, '22023',
	'schedule_to_close_timeout must be at most 100 years',
	'the bound is 100 years, and the message says so');
SELECT throws_ok($$SELECT workflow.start_workflow('one', '{}', NULL,
	'{"activity_options": {"heartbeat_timeout": "0 seconds"}}')$$, '22023',
	'heartbeat_timeout must be greater than zero', 'a zero timeout is refused');
SELECT throws_ok($$SELECT workflow.start_workflow('one', '{}', NULL,
	'{"activity_options": {"start_to_close_timeout": "1 month -40 days"}}')$$, '22023',
	'start_to_close_timeout must not be negative', 'negative by its total is negative');
SELECT throws_ok($$SELECT workflow.start_workflow('one', '{}', NULL,
	'{"activity_options": {"start_to_close_timeout": "1300 months -36000 days"}}')$$, '22023', NULL,
	'no field may exceed the bound, even if the total is small');
SELECT lives_ok($$SELECT workflow.start_workflow('one', '{}', 'ok-100y',
	'{"activity_options": {"start_to_close_timeout": "100 years"}}')$$,
	'100 years is accepted');
SELECT is((SELECT count(*) FROM workflow.claim_activities('iq', 'w', 10)), 1::bigint,
	'a task with a 100-year timeout can be claimed');

-- Retry policy ---------------------------------------------------------------
SELECT throws_ok($$SELECT workflow.start_workflow('one', '{}', NULL,
	'{"activity_options": {"retry": {"backoff_coefficient": 1e400}}}')$$, '22023', NULL,
	'backoff_coefficient 1e400 is refused with 22023');
SELECT throws_ok($$SELECT workflow.start_workflow('one', '{}', NULL,
	'{"activity_options": {"retry": {"backoff_coefficient": 101}}}')$$, '22023', NULL,
	'backoff_coefficient is at most 100');
SELECT throws_ok($$SELECT workflow.start_workflow('one', '{}', NULL,
	'{"activity_options": {"retry": {"maximum_attempts": 1e400}}}')$$, '22023', NULL,
	'maximum_attempts 1e400 is refused with 22023');
SELECT throws_ok($$SELECT workflow.start_workflow('one', '{}', NULL,
	'{"activity_options": {"retry": {"maximum_attempts": 2.5}}}')$$, '22023', NULL,
	'maximum_attempts must be an integer');
SELECT throws_ok($$SELECT workflow.start_workflow('one', '{}', NULL,
	'{"activity_options": {"retry": {"initial_interval": "300000 years"}}}')$$, '22023', NULL,
	'initial_interval is bounded');
SELECT throws_ok($$SELECT workflow.start_workflow('one', '{}', NULL,
	'{"activity_options": {"retry": {"maximum_interval": "0 seconds"}}}')$$, '22023', NULL,
	'maximum_interval must be greater than zero');

-- The backoff never overflows, however many attempts an unlimited policy makes.
SELECT workflow.start_workflow('one', '{"options": {"retry": {"initial_interval": "100 years",
	"backoff_coefficient": 100}}}', 'many');
UPDATE workflow.tasks SET attempt = 5000 WHERE workflow_id = 'many';
SELECT lives_ok($$SELECT workflow.fail_activity(task_id, 'Boom')
	FROM workflow.claim_activities('iq', 'w', 1)$$,
	'attempt 5000 of an unlimited policy with the largest intervals fails cleanly');
SELECT is((SELECT data->>'final' FROM workflow.history WHERE workflow_id = 'many'
	AND event_type = 'ActivityFailed'), 'false', 'and is retried');
SELECT is((SELECT ready_at FROM workflow.tasks WHERE workflow_id = 'many'),
	now() + interval '100 years', 'after maximum_interval (100 times initial, capped at 100 years)');

-- Runs, sleeps, the clock ----------------------------------------------------
SELECT throws_ok($$SELECT workflow.start_workflow('nap', '{}', NULL,
	'{"execution_timeout": "300000 years"}')$$, '22023', NULL,
	'execution_timeout of 300000 years is refused with 22023');
SELECT throws_ok($$SELECT workflow.skip_time('178000000 years')$$, '22023', NULL,
	'skip_time of 178000000 years is refused with 22023');
SELECT workflow.start_workflow('nap', '{"d": "1 day -1 hour"}', 'nap-23h');
SELECT is((SELECT string_agg(event_type, ',' ORDER BY event_id) FROM workflow.history
	WHERE workflow_id = 'nap-23h'), 'WorkflowStarted,TimerStarted',
	'sleep(''1 day -1 hour'') is a 23-hour timer, not a negative one');
SELECT workflow.tick(now() + interval '23 hours');
SELECT is((SELECT status FROM workflow.workflows WHERE workflow_id = 'nap-23h'), 'completed',
	'it fires after 23 hours');
SELECT workflow.start_workflow('nap', '{"d": "-1 day 1 hour"}', 'nap-neg');
SELECT is((SELECT data->'error'->>'message' FROM workflow.history WHERE workflow_id = 'nap-neg'
	AND event_type = 'WorkflowTaskFailed'), 'sleep duration must not be negative',
	'a sleep that is negative by its total is a task failure');

SELECT * FROM finish();
ROLLBACK;
