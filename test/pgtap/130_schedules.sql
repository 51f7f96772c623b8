-- Schedules, driven by tick(at), skip_time and backfill_schedule: the spec
-- parser's next fire times across DST changes in two time zones, fires
-- with their deterministic ids, overlap policies, catch-up, pause, resume,
-- trigger, backfill, DST in Europe/Berlin, bad input, and who may see and
-- change a schedule.
BEGIN;
SELECT plan(97);

CREATE ROLE wf_sched;
CREATE ROLE wf_other;
SELECT workflow.grant_queue('*', 'wf_sched', 'produce');
CREATE FUNCTION noop(input jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT '{"ok": true}'::jsonb $$;
CREATE FUNCTION blocker(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	RETURN workflow.activity('Work', input, 'sq');
END $$;
SET ROLE wf_sched;
SELECT workflow.register_workflow('noop', 'noop(jsonb)');
SELECT workflow.register_workflow('blocker', 'blocker(jsonb)');
RESET ROLE;

-- The n-th multiple of 5 minutes after the transaction's now().
CREATE FUNCTION fire5(n int) RETURNS timestamptz LANGUAGE sql AS $$
	SELECT date_trunc('hour', now()) + ((floor(extract(minute FROM now()) / 5) + n) * 5) * interval '1 minute'
$$;
CREATE FUNCTION fire_id(sched text, t timestamptz) RETURNS text LANGUAGE sql AS $$
	SELECT sched || ':' || to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
$$;
CREATE FUNCTION runs_of(sched text) RETURNS text[] LANGUAGE sql AS $$
	SELECT coalesce(array_agg(workflow_id ORDER BY workflow_id), '{}') FROM workflow.workflows
	 WHERE search_attributes->>'schedule_id' = sched
$$;

-- The spec parser: next fire times, across DST in Europe/Berlin (2025-03-30
-- 02:00 -> 03:00, 2025-10-26 03:00 -> 02:00) and America/New_York
-- (2025-03-09 02:00 -> 03:00, 2025-11-02 02:00 -> 01:00).
SELECT is(workflow.schedule_next_fire(spec, tz, after::timestamptz), expected::timestamptz,
		  format('%s in %s after %s', spec, tz, after))
  FROM (VALUES
	('*/5 * * * *', 'UTC', '2025-01-01 00:00:00Z', '2025-01-01 00:05:00Z'),
	('*/5 * * * *', 'UTC', '2025-01-01 00:03:10Z', '2025-01-01 00:05:00Z'),
	('5/15 * * * *', 'UTC', '2025-01-01 00:06:00Z', '2025-01-01 00:20:00Z'),
	('0 9-17 * * 1-5', 'UTC', '2025-01-03 17:30:00Z', '2025-01-06 09:00:00Z'),
	('*/15 9-17 * * mon-fri', 'Europe/Berlin', '2025-01-03 16:50:00Z', '2025-01-06 08:00:00Z'),
	('0 0 1 jan,JUL *', 'UTC', '2025-02-01 00:00:00Z', '2025-07-01 00:00:00Z'),
	('0 12 13 * 5', 'UTC', '2025-06-01 00:00:00Z', '2025-06-06 12:00:00Z'),
	('0 0 29 2 *', 'UTC', '2025-01-01 00:00:00Z', '2028-02-29 00:00:00Z'),
	('0 0 * * 7', 'UTC', '2025-01-01 00:00:00Z', '2025-01-05 00:00:00Z'),
	('@hourly', 'UTC', '2025-01-01 10:00:00Z', '2025-01-01 11:00:00Z'),
	('@daily', 'America/New_York', '2025-01-01 12:00:00Z', '2025-01-02 05:00:00Z'),
	('@weekly', 'UTC', '2025-01-01 00:00:00Z', '2025-01-05 00:00:00Z'),
	('@monthly', 'UTC', '2025-01-15 00:00:00Z', '2025-02-01 00:00:00Z'),
	('@yearly', 'UTC', '2025-01-15 00:00:00Z', '2026-01-01 00:00:00Z'),
	('every 10 minutes', 'UTC', '2025-01-01 00:03:00Z', '2025-01-01 00:10:00Z'),
	('every 90 minutes', 'UTC', '2025-01-01 00:00:00Z', '2025-01-01 01:30:00Z'),
	('every 1 day', 'Europe/Berlin', '2025-03-30 12:00:00Z', '2025-03-31 00:00:00Z'),
	-- Berlin, spring forward: 02:30 does not exist and fires at 03:30 CEST
	('30 2 * * *', 'Europe/Berlin', '2025-03-29 12:00:00Z', '2025-03-30 01:30:00Z'),
	('30 2 * * *', 'Europe/Berlin', '2025-03-30 01:30:00Z', '2025-03-31 00:30:00Z'),
	('*/30 * * * *', 'Europe/Berlin', '2025-03-30 00:45:00Z', '2025-03-30 01:00:00Z'),
	('*/30 * * * *', 'Europe/Berlin', '2025-03-30 01:00:00Z', '2025-03-30 01:30:00Z'),
	-- Berlin, fall back: 02:30 happens twice and fires once, the first time
	('30 2 * * *', 'Europe/Berlin', '2025-10-25 12:00:00Z', '2025-10-26 00:30:00Z'),
	('30 2 * * *', 'Europe/Berlin', '2025-10-26 00:30:00Z', '2025-10-27 01:30:00Z'),
	('0 * * * *', 'Europe/Berlin', '2025-10-26 00:00:00Z', '2025-10-26 02:00:00Z'),
	-- New York, both changes
	('30 2 * * *', 'America/New_York', '2025-03-08 12:00:00Z', '2025-03-09 07:30:00Z'),
	('30 2 * * *', 'America/New_York', '2025-03-09 07:30:00Z', '2025-03-10 06:30:00Z'),
	('30 1 * * *', 'America/New_York', '2025-11-01 12:00:00Z', '2025-11-02 05:30:00Z'),
	('30 1 * * *', 'America/New_York', '2025-11-02 05:30:00Z', '2025-11-03 06:30:00Z')
  ) AS t(spec, tz, after, expected);
SELECT is(workflow.schedule_next_fire('0 0 31 2 *', 'UTC', '2025-01-01Z'), NULL,
		  'a spec that never fires has no next fire time');

-- */5 over a simulated hour: exactly 12 runs, with the expected ids ---------
SET ROLE wf_sched;
SELECT workflow.create_schedule('every5', '*/5 * * * *', 'noop', '{"n": 1}');
RESET ROLE;
SELECT is(next_fire_at, fire5(1), 'the first fire is the next multiple of 5 minutes')
  FROM workflow.schedules WHERE schedule_id = 'every5';
SELECT ok(workflow.skip_time('1 hour') >= 12, 'skip_time runs the hour');
SELECT is(runs_of('every5'), (SELECT array_agg(fire_id('every5', fire5(i)) ORDER BY i) FROM generate_series(1, 12) i),
		  '12 fires, ids <schedule_id>:<scheduled time, ISO 8601 UTC>');
SELECT is(count(*), 12::bigint, 'each completed, as the schedule''s owner, with its input')
  FROM workflow.workflows WHERE search_attributes->>'schedule_id' = 'every5'
   AND status = 'completed' AND owner = 'wf_sched'::regrole AND input = '{"n": 1}';
SELECT is(search_attributes->>'scheduled_at', to_char(fire5(1) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
		  'search attribute scheduled_at') FROM workflow.workflows WHERE workflow_id = fire_id('every5', fire5(1));
SELECT is(data->>'started_by', 'schedule:every5', 'WorkflowStarted names the schedule')
  FROM workflow.history WHERE workflow_id = fire_id('every5', fire5(1)) AND event_type = 'WorkflowStarted';
SELECT is((last_workflow_id, last_fire_at, next_fire_at, missed),
		  (fire_id('every5', fire5(12)), fire5(12), fire5(13), 0::bigint), 'the view: last and next fire')
  FROM workflow.schedules WHERE schedule_id = 'every5';
SELECT workflow.delete_schedule('every5');
SELECT is(count(*), 0::bigint, 'delete_schedule removes it') FROM workflow.schedules WHERE schedule_id = 'every5';
SELECT is(count(*), 12::bigint, 'its runs stay') FROM workflow.workflows WHERE search_attributes->>'schedule_id' = 'every5';

-- catch-up: a tick far later fires the last due time only; the rest are missed
SET ROLE wf_sched;
SELECT workflow.create_schedule('late', '*/5 * * * *', 'noop', '{}',
	'{"catchup_window": "8 minutes", "overlap": "allow_all"}');
RESET ROLE;
SELECT workflow.tick(fire5(4) + interval '2 minutes');
SELECT is(runs_of('late'), ARRAY[fire_id('late', fire5(3)), fire_id('late', fire5(4))],
		  'catchup_window: fires due within it start');
SELECT is((missed, next_fire_at), (2::bigint, fire5(5)), 'older ones are skipped and counted in missed')
  FROM workflow.schedules WHERE schedule_id = 'late';
SELECT workflow.delete_schedule('late');

-- overlap skip: a fire while the previous run is open is dropped -----------
SET ROLE wf_sched;
SELECT workflow.create_schedule('sk', '*/5 * * * *', 'blocker');
RESET ROLE;
SELECT workflow.tick(fire5(1));
SELECT workflow.tick(fire5(2));
SELECT is(runs_of('sk'), ARRAY[fire_id('sk', fire5(1))], 'skip: the second fire is dropped while the first runs');
SELECT workflow.terminate_workflow(fire_id('sk', fire5(1)));
SELECT workflow.tick(fire5(3));
SELECT is(runs_of('sk'), ARRAY[fire_id('sk', fire5(1)), fire_id('sk', fire5(3))],
		  'skip: the next fire after it closed starts');
SELECT workflow.delete_schedule('sk');

-- buffer_one: exactly one kept, started when the open run closes ------------
SET ROLE wf_sched;
SELECT workflow.create_schedule('b1', '*/5 * * * *', 'blocker', '{}', '{"overlap": "buffer_one"}');
RESET ROLE;
SELECT workflow.tick(fire5(1));
SELECT workflow.tick(fire5(2));
SELECT workflow.tick(fire5(3));
SELECT is(runs_of('b1'), ARRAY[fire_id('b1', fire5(1))], 'buffer_one: nothing starts while the first runs');
SELECT workflow.terminate_workflow(fire_id('b1', fire5(1)));
SELECT workflow.tick(fire5(3) + interval '1 minute');
SELECT is(runs_of('b1'), ARRAY[fire_id('b1', fire5(1)), fire_id('b1', fire5(2))],
		  'buffer_one: the kept fire starts when it closed, the third was dropped');
SELECT workflow.terminate_workflow(fire_id('b1', fire5(2)));
SELECT workflow.tick(fire5(3) + interval '2 minutes');
SELECT is(cardinality(runs_of('b1')), 2, 'buffer_one: exactly one was kept');
SELECT workflow.delete_schedule('b1');

-- buffer_all: all kept, started one after another ---------------------------
SET ROLE wf_sched;
SELECT workflow.create_schedule('ba', '*/5 * * * *', 'blocker', '{}', '{"overlap": "buffer_all"}');
RESET ROLE;
SELECT workflow.tick(fire5(1));
SELECT workflow.tick(fire5(2));
SELECT workflow.tick(fire5(3));
SELECT workflow.terminate_workflow(fire_id('ba', fire5(1)));
SELECT workflow.tick(fire5(3) + interval '1 minute');
SELECT workflow.terminate_workflow(fire_id('ba', fire5(2)));
SELECT workflow.tick(fire5(3) + interval '2 minutes');
SELECT is(runs_of('ba'), ARRAY[fire_id('ba', fire5(1)), fire_id('ba', fire5(2)), fire_id('ba', fire5(3))],
		  'buffer_all: every fire starts, in order');
SELECT workflow.delete_schedule('ba');

-- cancel_other: the open run is cancelled, the new one starts after it -----
SET ROLE wf_sched;
SELECT workflow.create_schedule('co', '*/5 * * * *', 'blocker', '{}', '{"overlap": "cancel_other"}');
RESET ROLE;
SELECT workflow.tick(fire5(1));
SELECT workflow.tick(fire5(2));
SELECT is(status, 'cancelled', 'cancel_other: the open run is cancelled')
  FROM workflow.workflows WHERE workflow_id = fire_id('co', fire5(1));
SELECT is(data->>'reason', 'schedule "co" fired again (overlap policy cancel_other)', 'with a reason')
  FROM workflow.history WHERE workflow_id = fire_id('co', fire5(1)) AND event_type = 'WorkflowCancelRequested';
SELECT is(status, 'running', 'cancel_other: the new fire started once it closed')
  FROM workflow.workflows WHERE workflow_id = fire_id('co', fire5(2));
SELECT workflow.delete_schedule('co');

-- terminate_other and allow_all ---------------------------------------------
SET ROLE wf_sched;
SELECT workflow.create_schedule('to', '*/5 * * * *', 'blocker', '{}', '{"overlap": "terminate_other"}');
SELECT workflow.create_schedule('aa', '*/5 * * * *', 'blocker', '{}', '{"overlap": "allow_all"}');
RESET ROLE;
SELECT workflow.tick(fire5(1));
SELECT workflow.tick(fire5(2));
SELECT is(array_agg(status ORDER BY workflow_id), ARRAY['terminated', 'running'], 'terminate_other')
  FROM workflow.workflows WHERE search_attributes->>'schedule_id' = 'to';
SELECT is(array_agg(status ORDER BY workflow_id), ARRAY['running', 'running'], 'allow_all')
  FROM workflow.workflows WHERE search_attributes->>'schedule_id' = 'aa';
SELECT workflow.delete_schedule('to');
SELECT workflow.delete_schedule('aa');

-- pause, resume, trigger ------------------------------------------------------
SET ROLE wf_sched;
SELECT workflow.create_schedule('p', '*/5 * * * *', 'noop', '{}', '{"paused": true}');
SELECT is((paused, options), (true, '{}'::jsonb), 'created paused ("paused" is state, not a kept option)')
  FROM workflow.schedules WHERE schedule_id = 'p';
SELECT workflow.resume_schedule('p');
SELECT workflow.pause_schedule('p', 'maintenance');
SELECT is((paused, note), (true, 'maintenance'::text), 'pause_schedule with a note')
  FROM workflow.schedules WHERE schedule_id = 'p';
RESET ROLE;
SELECT workflow.tick(fire5(1));
SELECT is(runs_of('p'), '{}', 'a paused schedule does not fire');
SET ROLE wf_sched;
SELECT is(workflow.trigger_schedule('p'),
		  'p:' || to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
		  'trigger_schedule starts a fire now, even paused, and returns its workflow_id');
SELECT workflow.resume_schedule('p');
SELECT is((paused, note, next_fire_at), (false, NULL::text, fire5(1)), 'resume_schedule: from the next fire time after now')
  FROM workflow.schedules WHERE schedule_id = 'p';
RESET ROLE;
SELECT workflow.tick(fire5(1));
SELECT is(cardinality(runs_of('p')), 2, 'resumed, it fires again');

-- backfill ------------------------------------------------------------------
SET ROLE wf_sched;
SELECT is(workflow.backfill_schedule('p', '2025-01-01 00:00Z', '2025-01-01 01:00Z'), 12,
		  'backfill_schedule starts the 12 fires of [from, to)');
SELECT is(workflow.backfill_schedule('p', '2025-01-01 00:00Z', '2025-01-01 01:00Z'), 0,
		  'a second backfill of the range starts nothing (once per fire time)');
SELECT is(count(*), 12::bigint, 'the backfilled runs, ids of their scheduled times')
  FROM workflow.workflows WHERE workflow_id LIKE 'p:2025-01-01T00:%:00Z';
RESET ROLE;

-- a daily 02:30 in Europe/Berlin across both DST changes ---------------------
SET ROLE wf_sched;
SELECT workflow.pause_schedule('p');
SELECT workflow.create_schedule('berlin', '30 2 * * *', 'noop', '{}', '{"timezone": "Europe/Berlin"}');
SELECT is(workflow.backfill_schedule('berlin', '2025-03-28Z', '2025-04-01Z'), 4, 'spring: four days, four fires');
SELECT is(workflow.backfill_schedule('berlin', '2025-10-24Z', '2025-10-28Z'), 4, 'fall: four days, four fires');
SELECT is(runs_of('berlin'), ARRAY[
	'berlin:2025-03-28T01:30:00Z', 'berlin:2025-03-29T01:30:00Z',
	'berlin:2025-03-30T01:30:00Z',	-- 02:30 does not exist: 03:30 CEST
	'berlin:2025-03-31T00:30:00Z', 'berlin:2025-10-24T00:30:00Z', 'berlin:2025-10-25T00:30:00Z',
	'berlin:2025-10-26T00:30:00Z',	-- 02:30 happens twice: once, the first (CEST)
	'berlin:2025-10-27T01:30:00Z'], '02:30 local each day, DST-correct');
SELECT workflow.update_schedule('berlin', '{"start_at": "2035-03-24T00:00:00Z"}');
RESET ROLE;
SELECT is(next_fire_at, '2035-03-24 01:30Z', 'update_schedule: start_at moves the next fire')
  FROM workflow.schedules WHERE schedule_id = 'berlin';
SELECT workflow.tick('2035-03-24 01:30Z');
SELECT workflow.tick('2035-03-25 01:30Z');
SELECT workflow.tick('2035-03-26 00:30Z');
SELECT is(runs_of('berlin') @> ARRAY['berlin:2035-03-24T01:30:00Z', 'berlin:2035-03-25T01:30:00Z',
	'berlin:2035-03-26T00:30:00Z'], true, 'the scheduler fires it across the 2035 spring change');

-- jitter: deterministic per fire time, within the jitter ------------------
SET ROLE wf_sched;
SELECT workflow.create_schedule('jit', '0 * * * *', 'noop', '{}', '{"jitter": "10 minutes"}');
RESET ROLE;
SELECT ok(due_at >= next_fire_at AND due_at < next_fire_at + interval '10 minutes',
		  'jitter: due within the jitter after the scheduled time')
  FROM workflow.schedule_state WHERE schedule_id = 'jit';
-- To 15 minutes past the next hour, not a fixed span from now: near the
-- end of an hour that would reach the jittered fire of the hour after.
SELECT is(workflow.skip_time(date_trunc('hour', now()) + interval '1 hour 15 minutes' - now()) > 0,
		  true, 'skip_time reaches the jittered fire');
SELECT is(runs_of('jit'), ARRAY[fire_id('jit', date_trunc('hour', now()) + interval '1 hour')],
		  'the id is of the scheduled time, not the jittered one');
SELECT workflow.delete_schedule('jit');

-- bad input: clear errors, nothing changed ----------------------------------
SELECT throws_ok($$SELECT workflow.create_schedule('x', '61 * * * *', 'noop')$$, '22023',
				 'invalid schedule spec "61 * * * *"', 'a minute out of range');
SELECT throws_ok($$SELECT workflow.create_schedule('x', '* * * *', 'noop')$$, '22023', NULL, 'four fields');
SELECT throws_ok($$SELECT workflow.create_schedule('x', '*/0 * * * *', 'noop')$$, '22023', NULL, 'a zero step');
SELECT throws_ok($$SELECT workflow.create_schedule('x', '5-1 * * * *', 'noop')$$, '22023', NULL, 'a backwards range');
SELECT throws_ok($$SELECT workflow.create_schedule('x', '0 0 * foo *', 'noop')$$, '22023', NULL, 'an unknown month name');
SELECT throws_ok($$SELECT workflow.create_schedule('x', '@fortnightly', 'noop')$$, '22023', NULL, 'an unknown macro');
SELECT throws_ok($$SELECT workflow.create_schedule('x', 'every 1 month', 'noop')$$, '22023', NULL, 'every with months');
SELECT throws_ok($$SELECT workflow.create_schedule('x', 'every soon', 'noop')$$, '22023', NULL, 'every without an interval');
SELECT throws_ok($$SELECT workflow.create_schedule('x', '@daily', 'noop', '{}', '{"timezone": "Mars/Olympus"}')$$,
				 '22023', 'time zone "Mars/Olympus" not recognized', 'an unknown time zone');
SELECT throws_ok($$SELECT workflow.create_schedule('x', '@daily', 'noop', '{}', '{"overlapp": "skip"}')$$,
				 '22023', NULL, 'an unknown option key');
SELECT throws_ok($$SELECT workflow.create_schedule('x', '@daily', 'noop', '{}', '{"overlap": "queue"}')$$,
				 '22023', NULL, 'an unknown overlap policy');
SELECT throws_ok($$SELECT workflow.create_schedule('x', '@daily', 'noop', '{}', '{"catchup_window": "-1 minute"}')$$,
				 '22023', NULL, 'a negative catchup_window');
SELECT throws_ok($$SELECT workflow.create_schedule('x', '@daily', 'noop', '{}', '{"workflow_options": {"if_exists": "return"}}')$$,
				 '22023', NULL, 'an unknown workflow option');
SELECT throws_ok($$SELECT workflow.create_schedule('x', '@daily', 'noop', '{}',
				 '{"start_at": "2030-01-02Z", "end_at": "2030-01-01Z"}')$$, '22023', NULL, 'end_at before start_at');
SELECT throws_ok($$SELECT workflow.create_schedule('x', '@daily', 'nosuchtype')$$, '42704', NULL,
				 'an unknown workflow type');
SELECT throws_ok($$SELECT workflow.create_schedule('p', '@daily', 'noop')$$, '42710',
				 'schedule "p" already exists', 'an existing schedule_id');
SELECT throws_ok($$SELECT workflow.create_schedule('x', '0 0 31 2 *', 'noop')$$, 'WF014',
				 'schedule "x" would never fire', 'a spec that never fires');
SELECT throws_ok($$SELECT workflow.pause_schedule('nope')$$, 'WF014', 'schedule "nope" does not exist',
				 'a schedule that does not exist');
SELECT throws_ok($$SELECT workflow.update_schedule('p', '{"spec": "bad"}')$$, '22023', NULL, 'a bad update');
SELECT throws_ok($$SELECT workflow.update_schedule('p', '{"color": "red"}')$$, '22023', NULL, 'an unknown change');
SELECT throws_ok($$SELECT workflow.backfill_schedule('p', now(), now() - interval '1 hour')$$, '22023', NULL,
				 'a backwards backfill');
SELECT is((SELECT count(*) FROM workflow.schedule_state WHERE schedule_id = 'x'), 0::bigint, 'nothing was created');
SELECT is(spec, '*/5 * * * *', 'the failed update changed nothing') FROM workflow.schedules WHERE schedule_id = 'p';

-- access: the owner's, like runs ---------------------------------------------
SET ROLE wf_other;
SELECT is(count(*), 0::bigint, 'another role does not see the schedules') FROM workflow.schedules;
SELECT throws_ok($$SELECT workflow.pause_schedule('p')$$, '42501', NULL, 'nor pause');
SELECT throws_ok($$SELECT workflow.trigger_schedule('p')$$, '42501', NULL, 'nor trigger');
SELECT throws_ok($$SELECT workflow.delete_schedule('p')$$, '42501', NULL, 'nor delete');
SELECT throws_ok($$SELECT * FROM workflow.schedule_state$$, '42501', NULL, 'nor read the table');
RESET ROLE;
SELECT is(count(*), 2::bigint, 'the owner (and a superuser) sees them') FROM workflow.schedules;

SELECT * FROM finish();
ROLLBACK;
