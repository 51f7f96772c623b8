-- Operating runs: workflow.describe names what a run waits on and why, in
-- each waiting state (activity ready, claimed, backing off; timer; signal;
-- open child; queued start; failed workflow task); retry_now makes
-- backing-off items due now, for the run's owner only; workflow.stats
-- gives pg_monitor real counts and no row; every function and view has a
-- comment.  (await_result waits across sessions: test/t/120_await_result.pl.)
BEGIN;
SELECT plan(63);

CREATE ROLE wf_owner;
CREATE ROLE wf_other;
CREATE ROLE wf_watcher IN ROLE pg_monitor;
CREATE SCHEMA app AUTHORIZATION wf_owner;
SELECT workflow.grant_queue('*', 'wf_owner', 'produce');
SELECT workflow.grant_queue('*', 'wf_owner', 'consume');

SET ROLE wf_owner;
CREATE FUNCTION app.one(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	RETURN workflow.activity('Work', input, 'q1', '{"retry": {"initial_interval": "1 hour"}}');
END $$;
CREATE FUNCTION app.nap(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM workflow.sleep('1 hour');
	RETURN '{}';
END $$;
CREATE FUNCTION app.listen(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	RETURN workflow.wait_signal('go', (input->>'timeout')::interval);
END $$;
CREATE FUNCTION app.parent(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	RETURN workflow.child_workflow('listen', '{}', input->>'child');
END $$;
CREATE FUNCTION app.broken(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	RETURN to_jsonb(1 / 0);
END $$;
SELECT workflow.register_workflow('one', 'app.one(jsonb)');
SELECT workflow.register_workflow('nap', 'app.nap(jsonb)');
SELECT workflow.register_workflow('listen', 'app.listen(jsonb)');
SELECT workflow.register_workflow('parent', 'app.parent(jsonb)');
CREATE FUNCTION app.awaiter(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	RETURN workflow.await_result('listener', '1 s');
END $$;
SELECT workflow.register_workflow('broken', 'app.broken(jsonb)');
SELECT workflow.register_workflow('awaiter', 'app.awaiter(jsonb)');
SELECT workflow.register_workflow('capped', 'app.nap(jsonb)', '{"max_running": 1}');

-- An activity: ready, claimed, backing off ---------------------------------
SELECT workflow.start_workflow('one', '{"n": 1}', 'act');
CREATE TEMP VIEW d AS SELECT workflow.describe('act') AS j;
SELECT is((SELECT j->>'status' FROM d), 'running', 'describe: status');
SELECT is((SELECT j->>'workflow_type' FROM d), 'one', 'describe: workflow_type');
SELECT is((SELECT (j->>'run_id')::uuid FROM d),
		  (SELECT run_id FROM workflow.workflows WHERE workflow_id = 'act'), 'describe: run_id');
SELECT is((SELECT (j->>'events')::int FROM d), 2, 'describe: events (WorkflowStarted, ActivityScheduled)');
SELECT ok((SELECT j->>'started_at' IS NOT NULL AND j->'closed_at' = 'null' FROM d),
		  'describe: started_at, and closed_at null while open');
SELECT is((SELECT jsonb_array_length(j->'waiting_on') FROM d), 1, 'one thing to wait on');
SELECT is((SELECT j->'waiting_on'->0->>'kind' FROM d), 'activity', 'an activity');
SELECT is((SELECT j->'waiting_on'->0->>'activity' FROM d), 'Work', 'named');
SELECT is((SELECT j->'waiting_on'->0->>'queue' FROM d), 'q1', 'with its queue');
SELECT is((SELECT j->'waiting_on'->0->>'state' FROM d), 'ready', 'ready: no worker has claimed it');
SELECT is((SELECT (j->'waiting_on'->0->>'attempt')::int FROM d), 1, 'first attempt');

RESET ROLE;
SELECT workflow.configure_queue('q1', '{"paused": true}');
SET ROLE wf_owner;
SELECT is((SELECT j->'waiting_on'->0->'queue_paused' FROM d), 'true'::jsonb,
		  'a ready task of a paused queue says so');
RESET ROLE;
SELECT workflow.configure_queue('q1', '{"paused": false}');
SET ROLE wf_owner;

CREATE TEMP TABLE claimed AS SELECT * FROM workflow.claim_activities('q1', 'worker-7');
SELECT is((SELECT j->'waiting_on'->0->>'state' FROM d), 'claimed', 'claimed');
SELECT is((SELECT j->'waiting_on'->0->>'worker' FROM d), 'worker-7', 'by which worker');
SELECT ok((SELECT (j->'waiting_on'->0->>'lease_expires_at')::timestamptz > now() FROM d),
		  'until when (its lease)');

SELECT workflow.fail_activity(task_id, 'card declined') FROM claimed;
SELECT is((SELECT j->'waiting_on'->0->>'state' FROM d), 'backing_off', 'backing off after a failure');
SELECT is((SELECT (j->'waiting_on'->0->>'attempt')::int FROM d), 2, 'the next attempt is the second');
SELECT ok((SELECT (j->'waiting_on'->0->>'next_attempt_at')::timestamptz > now() + interval '50 minutes' FROM d),
		  'due after the backoff');
SELECT is((SELECT j->'waiting_on'->0->'last_error'->>'error' FROM d), 'card declined', 'with the last error');

-- retry_now: the owner only, and it makes the attempt due now
SET ROLE wf_other;
SELECT throws_ok($$SELECT workflow.retry_now('act')$$, '42501', NULL,
				 'retry_now of another role''s run is refused (42501)');
SET ROLE wf_owner;
SELECT is(workflow.retry_now('act'), 1, 'retry_now: one backing-off item made due');
SELECT is((SELECT j->'waiting_on'->0->>'state' FROM d), 'ready', 'the attempt is ready now');
SELECT is((SELECT count(*) FROM workflow.claim_activities('q1', 'worker-8')), 1::bigint,
		  'and a worker claims it at once');
SELECT is(workflow.retry_now('act'), 0, 'nothing left backing off: 0');
SELECT throws_ok($$SELECT workflow.retry_now('nope')$$, '42704', NULL, 'retry_now of an unknown id: 42704');

-- A timer ---------------------------------------------------------------
SELECT workflow.start_workflow('nap', '{}', 'napper');
SELECT is(workflow.describe('napper')->'waiting_on'->0->>'kind', 'timer', 'a timer');
SELECT ok((workflow.describe('napper')->'waiting_on'->0->>'fire_at')::timestamptz
		  BETWEEN now() + interval '59 minutes' AND now() + interval '61 minutes', 'with fire_at');

-- A signal, with and without a timeout ------------------------------------
SELECT workflow.start_workflow('listen', '{}', 'listener');
SELECT is(workflow.describe('listener')->'waiting_on',
		  '[{"kind": "signal", "signal": "go", "buffered": 0}]'::jsonb, 'an awaited signal, by name');
SELECT workflow.start_workflow('listen', '{"timeout": "10 minutes"}', 'listener-t');
SELECT is(jsonb_path_query_array(workflow.describe('listener-t')->'waiting_on', '$[*].kind'),
		  '["timer", "signal"]'::jsonb, 'with a timeout: the signal and its timer');
SELECT is(workflow.describe('listener-t')->'waiting_on'->0->>'signal', 'go', 'the timer names its signal');
SELECT workflow.signal_workflow('listener', 'go', '{"ok": true}');
SELECT is(workflow.describe('listener')->>'status', 'completed', 'signalled: completed');
SELECT is(workflow.describe('listener')->'waiting_on', '[]'::jsonb, 'and waits on nothing');
SELECT ok((SELECT awaiting_signal IS NULL FROM workflow.workflows WHERE workflow_id = 'listener-t')
		  IS FALSE, 'the awaited signal is kept on the run row');

-- An open child -----------------------------------------------------------
SELECT workflow.start_workflow('parent', '{"child": "kid"}', 'mum');
SELECT is((workflow.describe('mum')->'waiting_on'->0) - 'run_id',
		  '{"kind": "child", "workflow_id": "kid", "workflow_type": "listen", "status": "running"}'::jsonb,
		  'an open child, with its status');
SELECT is(workflow.describe('kid')->'waiting_on'->0->>'signal', 'go', 'which waits for a signal itself');

-- Queued starts (max_running) ---------------------------------------------
SELECT workflow.start_workflow('capped', '{}', 'cap-1');
SELECT workflow.start_workflow('capped', '{}', 'cap-2');
SELECT workflow.start_workflow('capped', '{}', 'cap-3');
SELECT is(workflow.describe('cap-2')->>'status', 'queued', 'a start over max_running is queued');
SELECT is((workflow.describe('cap-2')->>'queued_behind')::int, 0, 'first in line: 0 ahead');
SELECT is((workflow.describe('cap-3')->>'queued_behind')::int, 1, 'second in line: 1 ahead');
SELECT is(workflow.describe('cap-3')->'waiting_on'->0->>'kind', 'start', 'it waits for a start slot');
SELECT is(workflow.describe('cap-3')->'waiting_on'->0->'max_running', '1'::jsonb, 'of max_running 1');
SELECT ok(workflow.describe('cap-1')->'queued_behind' = 'null', 'a running run has no queued_behind');

-- A failed workflow task --------------------------------------------------
SELECT workflow.start_workflow('broken', '{}', 'bug');
SELECT is(workflow.describe('bug')->'last_task_failure'->'error'->>'sqlstate', '22012',
		  'a failed workflow task: its error');
SELECT is(workflow.describe('bug')->'waiting_on'->0->>'kind', 'workflow_task', 'it waits for the retry');
SELECT is(workflow.describe('bug')->'waiting_on'->0->>'state', 'backing_off', 'backing off');
SELECT is(workflow.retry_now('bug'), 1, 'retry_now: the workflow task retry');
SELECT ok((SELECT task_retry_at <= now() FROM workflow.workflows WHERE workflow_id = 'bug'),
		  'is due now');

-- await_result without waiting (waiting: test/t/120_await_result.pl) -------
SELECT is(workflow.await_result('listener'), '{"ok": true}'::jsonb,
		  'await_result of a completed run: its result at once');
SELECT throws_ok($$SELECT workflow.await_result('act', '1 s')$$, '25000',
				 'workflow.await_result() would wait for its own transaction',
				 'await_result of a run this transaction changed is refused (nobody else could close it)');
SELECT throws_ok($$SELECT workflow.await_result('act', '-1 s')$$, '22023', NULL,
				 'a negative timeout is refused');

SELECT workflow.start_workflow('awaiter', '{}', 'awaiting-in-code');
SELECT is(workflow.describe('awaiting-in-code')->'last_task_failure'->'error'->>'sqlstate', 'WF005',
		  'workflow code may not call await_result (WF005)');

-- Another role sees nothing -----------------------------------------------
SET ROLE wf_other;
SELECT throws_ok($$SELECT workflow.describe('act')$$, '42704', NULL,
				 'another role: describe of a run it may not see is 42704');
SELECT throws_ok($$SELECT workflow.describe('no-such-id')$$, '42704',
				 'workflow "no-such-id" does not exist', 'as for an unknown id');
SELECT throws_ok($$SELECT workflow.await_result('listener')$$, '42704', NULL,
				 'nor await it (42704)');
SELECT throws_ok($$SELECT * FROM workflow.stats$$, '42501', NULL,
				 'workflow.stats is not for every role');

-- pg_monitor: real counts, no rows ----------------------------------------
SET ROLE wf_watcher;
SELECT is((SELECT sum(runs) FROM workflow.stats), 11::numeric, 'pg_monitor sees the real count of runs');
SELECT is((SELECT runs FROM workflow.stats WHERE workflow_type = 'capped' AND status = 'queued'), 2::bigint,
		  'by type and status');
SELECT is((SELECT with_task_failures FROM workflow.stats WHERE workflow_type = 'broken'), 1::bigint,
		  'with task failures');
SELECT ok((SELECT min(oldest_started_at) IS NOT NULL FROM workflow.stats), 'and the oldest open run');
SELECT is((SELECT count(*) FROM workflow.workflows), 0::bigint, 'but no run row');
SELECT is((SELECT count(*) FROM workflow.history), 0::bigint, 'nor history');
SELECT throws_ok($$SELECT * FROM workflow.tasks$$, '42501', NULL, 'nor tasks');
RESET ROLE;

-- Every function and view has a comment -----------------------------------
SELECT is(ARRAY(SELECT p.oid::regprocedure::text FROM pg_proc p
				 WHERE p.pronamespace = 'workflow'::regnamespace
				   AND obj_description(p.oid, 'pg_proc') IS NULL ORDER BY 1),
		  '{}'::text[], 'every function of schema workflow has a comment');
SELECT is(ARRAY(SELECT c.relname::text FROM pg_class c
				 WHERE c.relnamespace = 'workflow'::regnamespace AND c.relkind IN ('v', 'm')
				   AND obj_description(c.oid, 'pg_class') IS NULL ORDER BY 1),
		  '{}'::text[], 'every view of schema workflow has a comment');

SELECT * FROM finish();
ROLLBACK;
