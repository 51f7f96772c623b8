-- The sandbox: nothing workflow code does outlives its attempt in the
-- session that advanced the run (settings, session locks, temporary
-- objects, prepared statements); client functions are refused in code;
-- workflow.task_timeout bounds an attempt.
BEGIN;
SELECT plan(25);

CREATE FUNCTION complete_next(q text, result jsonb DEFAULT '{}') RETURNS text LANGUAGE plpgsql AS $$
DECLARE t record;
BEGIN
	SELECT * INTO t FROM workflow.claim_activities(q, 'w', 1);
	IF t.task_id IS NULL THEN RETURN NULL; END IF;
	PERFORM workflow.complete_activity(t.task_id, result);
	RETURN t.activity;
END $$;

CREATE FUNCTION last_task_failure(id text) RETURNS jsonb LANGUAGE sql AS $$
	SELECT data->'error' FROM workflow.history
	 WHERE workflow_id = id AND event_type = 'WorkflowTaskFailed'
	 ORDER BY event_id DESC LIMIT 1
$$;

CREATE SCHEMA tenant;

-- Settings changed by code are undone, whatever the outcome -----------------
-- The code changes settings with SET, SET LOCAL and set_config(..., false)
-- and then completes (its effects are kept, its settings must not be).
CREATE FUNCTION setter(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM workflow.activity('Step', '{}', 'q');
	PERFORM set_config('search_path', 'tenant, public', false);
	SET statement_timeout = '1ms';
	SET LOCAL TimeZone = 'Pacific/Kiritimati';
	PERFORM set_config('default_transaction_read_only', 'on', false);
	RETURN jsonb_build_object('path', current_setting('search_path'));
END $$;
SELECT workflow.register_workflow('setter', 'setter(jsonb)');

SET search_path = public;
SET statement_timeout = 0;
SET TimeZone = 'UTC';
SELECT workflow.start_workflow('setter', '{}', 'wf-set');
SELECT is(complete_next('q'), 'Step', 'the step is completed by this (superuser) session');
SELECT is(result->>'path', 'tenant, public', 'the code saw its own setting')
  FROM workflow.workflows WHERE workflow_id = 'wf-set';
SELECT is(status, 'completed', 'and the run completed') FROM workflow.workflows WHERE workflow_id = 'wf-set';
SELECT is(current_setting('search_path'), 'public', 'search_path is the session''s own again');
SELECT is(current_setting('statement_timeout'), '0', 'statement_timeout too');
SELECT is(current_setting('TimeZone'), 'UTC', 'TimeZone too');
SELECT is(current_setting('default_transaction_read_only'), 'off', 'default_transaction_read_only too');

-- A code that fails (RAISE) after changing settings leaves nothing behind.
CREATE FUNCTION set_then_raise(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM set_config('search_path', 'tenant', false);
	RAISE EXCEPTION 'no';
END $$;
SELECT workflow.register_workflow('set_then_raise', 'set_then_raise(jsonb)');
SELECT workflow.start_workflow('set_then_raise', '{}', 'wf-set-raise');
SELECT is(current_setting('search_path'), 'public', 'a failing attempt leaves search_path alone');

-- Advisory locks are refused ----------------------------------
CREATE FUNCTION locker(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_advisory_lock(4242);
	RETURN '{}';
END $$;
SELECT workflow.register_workflow('locker', 'locker(jsonb)');
SELECT workflow.start_workflow('locker', '{}', 'wf-lock');
SELECT is(last_task_failure('wf-lock')->>'sqlstate', 'WF005',
		  'pg_advisory_lock in code is a failed workflow task (WF005)');
SELECT is((SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()),
		  0::bigint, 'and the session holds no advisory lock');

CREATE FUNCTION xact_locker(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_advisory_xact_lock(4243);
	RETURN '{}';
END $$;
SELECT workflow.register_workflow('xact_locker', 'xact_locker(jsonb)');
SELECT workflow.start_workflow('xact_locker', '{}', 'wf-xlock');
SELECT is(last_task_failure('wf-xlock')->>'sqlstate', 'WF005',
		  'transaction-level advisory locks are refused as well (code that replays has nothing to lock)');

-- Temporary objects and prepared statements are refused ----------------------
CREATE TEMP TABLE session_has_temp_schema (x int);
CREATE FUNCTION temp_fn(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	CREATE FUNCTION pg_temp.lower(text) RETURNS text LANGUAGE sql AS 'SELECT ''pwned''';
	RETURN '{}';
END $$;
SELECT workflow.register_workflow('temp_fn', 'temp_fn(jsonb)');
SELECT workflow.start_workflow('temp_fn', '{}', 'wf-tempfn');
SELECT is(last_task_failure('wf-tempfn')->>'sqlstate', 'WF005',
		  'a function in pg_temp is refused');
SELECT is((SELECT count(*) FROM pg_proc WHERE pronamespace = pg_my_temp_schema()), 0::bigint,
		  'and none was left in the session''s temporary schema');

CREATE FUNCTION temp_table(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	CREATE TEMP TABLE leftover (x int);
	RETURN '{}';
END $$;
SELECT workflow.register_workflow('temp_table', 'temp_table(jsonb)');
SELECT workflow.start_workflow('temp_table', '{}', 'wf-temptable');
SELECT is(last_task_failure('wf-temptable')->>'sqlstate', '42501', 'a temporary table is refused');

CREATE FUNCTION preparer(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE 'PREPARE planted AS SELECT 1';
	RETURN '{}';
END $$;
SELECT workflow.register_workflow('preparer', 'preparer(jsonb)');
SELECT workflow.start_workflow('preparer', '{}', 'wf-prep');
SELECT is(last_task_failure('wf-prep')->>'sqlstate', 'WF005', 'PREPARE is refused');
SELECT is((SELECT count(*) FROM pg_prepared_statements WHERE name = 'planted'), 0::bigint,
		  'and no prepared statement was left');

-- Client functions in workflow code are refused (WF005) ------------------------
CREATE FUNCTION victim(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM workflow.activity('Wait', '{}', 'q');
	RETURN '{}';
END $$;
SELECT workflow.register_workflow('victim', 'victim(jsonb)');
SELECT workflow.start_workflow('victim', '{}', 'wf-victim');

CREATE FUNCTION terminator(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM workflow.terminate_workflow(input->>'target', 'from code');
	RETURN '{}';
END $$;
SELECT workflow.register_workflow('terminator', 'terminator(jsonb)');
SELECT lives_ok($$SELECT workflow.start_workflow('terminator', '{"target": "wf-victim"}', 'wf-term')$$,
				'terminating another run from code does not crash the session');
SELECT is(last_task_failure('wf-term')->>'sqlstate', 'WF005', 'it is a failed workflow task (WF005)');
SELECT is(status, 'running', 'the other run was not touched')
  FROM workflow.workflows WHERE workflow_id = 'wf-victim';
SELECT lives_ok($$SELECT workflow.start_workflow('terminator', '{"target": "wf-self"}', 'wf-self')$$,
				'terminating its own run from code does not crash either');
SELECT is(last_task_failure('wf-self')->>'sqlstate', 'WF005', 'and is refused the same way');
SELECT is((SELECT max(event_id) FROM workflow.history WHERE workflow_id = 'wf-self'),
		  (SELECT last_event_id FROM workflow.workflows WHERE workflow_id = 'wf-self'),
		  'the history is intact');

CREATE FUNCTION starter(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM workflow.claim_activities('q');
	RETURN '{}';
END $$;
SELECT workflow.register_workflow('starter', 'starter(jsonb)');
SELECT workflow.start_workflow('starter', '{}', 'wf-claimer');
SELECT is(last_task_failure('wf-claimer')->>'message',
		  'workflow.claim_activities() cannot be called from workflow code',
		  'worker functions are refused too, with a message naming the function');

-- workflow.task_timeout bounds an attempt ------------------------------------
CREATE FUNCTION slow(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_sleep(30);
	RETURN '{}';
END $$;
SELECT workflow.register_workflow('slow', 'slow(jsonb)');
SET workflow.task_timeout = '200ms';
SELECT workflow.start_workflow('slow', '{}', 'wf-slow');
RESET workflow.task_timeout;
SELECT is(last_task_failure('wf-slow')->>'sqlstate', '57014', 'an attempt past workflow.task_timeout is a failed task');
SELECT is(status, 'running', 'the run stays running, to be retried')
  FROM workflow.workflows WHERE workflow_id = 'wf-slow';

SELECT * FROM finish();
ROLLBACK;
