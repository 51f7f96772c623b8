-- Errors in workflow code: non-determinism, bugs (task failures, retried),
-- RAISE EXCEPTION (fails the run), swallowed suspension.
BEGIN;
SELECT plan(19);

CREATE FUNCTION complete_next(q text, result jsonb DEFAULT '{}') RETURNS text LANGUAGE plpgsql AS $$
DECLARE t record;
BEGIN
	SELECT * INTO t FROM workflow.claim_activities(q, 'w', 1);
	IF t.task_id IS NULL THEN RETURN NULL; END IF;
	PERFORM workflow.complete_activity(t.task_id, result);
	RETURN t.activity;
END $$;

-- Non-determinism ---------------------------------------------------------
CREATE FUNCTION nd(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM workflow.activity('First', '{}', 'q');
	PERFORM workflow.activity('Second', '{}', 'q');
	RETURN '{"done": true}';
END $$;
SELECT workflow.register_workflow('nd', 'nd(jsonb)');
SELECT workflow.start_workflow('nd', '{}', 'wf-nd');

-- The code changes under the running workflow: position 1 is now another activity.
CREATE OR REPLACE FUNCTION nd(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM workflow.activity('Other', '{}', 'q');
	RETURN '{}';
END $$;
SELECT is(complete_next('q'), 'First', 'First was scheduled by the original code');
SELECT is(data->'error'->>'message',
		  'non-determinism at position 1: history recorded activity "First", code asked for activity "Other"',
		  'WorkflowTaskFailed names the position, what was recorded and what was asked')
  FROM workflow.history WHERE workflow_id = 'wf-nd' AND event_type = 'WorkflowTaskFailed';
SELECT is(status, 'running', 'the run stays running') FROM workflow.workflows WHERE workflow_id = 'wf-nd';
SELECT isnt(task_retry_at, NULL, 'a retry of the workflow task is scheduled')
  FROM workflow.workflows WHERE workflow_id = 'wf-nd';

-- Restoring the code lets the retry go on.
CREATE OR REPLACE FUNCTION nd(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM workflow.activity('First', '{}', 'q');
	PERFORM workflow.activity('Second', '{}', 'q');
	RETURN '{"done": true}';
END $$;
SELECT cmp_ok(workflow.tick(now() + interval '1 hour'), '>=', 1, 'tick retries the workflow task');
SELECT is(complete_next('q'), 'Second', 'the run goes on with the restored code');
SELECT is(status, 'completed', 'and completes') FROM workflow.workflows WHERE workflow_id = 'wf-nd';

-- A bug (division by zero) fails only the workflow task --------------------
CREATE FUNCTION buggy(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE r jsonb;
BEGIN
	r := workflow.activity('Step', '{}', 'q');
	RETURN jsonb_build_object('ratio', 1 / (r->>'d')::int);
END $$;
SELECT workflow.register_workflow('buggy', 'buggy(jsonb)');
SELECT workflow.start_workflow('buggy', '{}', 'wf-bug');
SELECT complete_next('q', '{"d": 0}');
SELECT is(data->'error'->>'sqlstate', '22012', 'division by zero is recorded as WorkflowTaskFailed')
  FROM workflow.history WHERE workflow_id = 'wf-bug' AND event_type = 'WorkflowTaskFailed';
SELECT is(status, 'running', 'and the run stays running') FROM workflow.workflows WHERE workflow_id = 'wf-bug';

CREATE OR REPLACE FUNCTION buggy(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE r jsonb;
BEGIN
	r := workflow.activity('Step', '{}', 'q');
	RETURN jsonb_build_object('ratio', 1 / NULLIF((r->>'d')::int, 0));
END $$;
SELECT workflow.tick(now() + interval '1 hour');
SELECT is(status, 'completed', 'the fixed function completes the same run')
  FROM workflow.workflows WHERE workflow_id = 'wf-bug';

-- RAISE EXCEPTION fails the run ---------------------------------------------
CREATE FUNCTION raising(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM workflow.activity('Check', '{}', 'q');
	RAISE EXCEPTION 'order % rejected', input->>'id';
END $$;
SELECT workflow.register_workflow('raising', 'raising(jsonb)');
SELECT workflow.start_workflow('raising', '{"id": 42}', 'wf-raise');
SELECT complete_next('q');
SELECT is(status, 'failed', 'RAISE EXCEPTION fails the run') FROM workflow.workflows WHERE workflow_id = 'wf-raise';
SELECT is(error->>'message', 'order 42 rejected', 'with its message') FROM workflow.workflows WHERE workflow_id = 'wf-raise';
SELECT is((SELECT event_type FROM workflow.history WHERE workflow_id = 'wf-raise' ORDER BY event_id DESC LIMIT 1),
		  'WorkflowFailed', 'the last event is WorkflowFailed');

-- Code that swallows the suspension still suspends -------------------------
CREATE FUNCTION swallower(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE r jsonb;
BEGIN
	BEGIN
		r := workflow.activity('A', '{}', 'q');
	EXCEPTION WHEN OTHERS THEN
		r := '{"swallowed": true}';
	END;
	RETURN r;
END $$;
SELECT workflow.register_workflow('swallower', 'swallower(jsonb)');
SELECT workflow.start_workflow('swallower', '{}', 'wf-swallow');
SELECT is(status, 'running', 'WHEN OTHERS around a blocking call does not complete the run')
  FROM workflow.workflows WHERE workflow_id = 'wf-swallow';
SELECT is(complete_next('q', '{"real": true}'), 'A', 'the activity was scheduled anyway');
SELECT is(result, '{"real": true}'::jsonb, 'and its real result is returned on replay')
  FROM workflow.workflows WHERE workflow_id = 'wf-swallow';

-- A statement cancelled in the middle of a workflow task, caught by a
-- savepoint, leaves no half-written step behind --------------------------
CREATE FUNCTION slow(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM workflow.activity('A', '{}', 'slowq');
	PERFORM pg_sleep(2);
	RETURN '{"slow": true}';
END $$;
SELECT workflow.register_workflow('slow', 'slow(jsonb)');
SELECT workflow.start_workflow('slow', '{}', 'wf-slow');
CREATE FUNCTION complete_cancelled(task bigint) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	PERFORM workflow.complete_activity(task, '{}');
	RETURN 'not cancelled';
EXCEPTION WHEN query_canceled THEN
	RETURN SQLSTATE;
END $$;
CREATE TEMP TABLE slow_task AS SELECT task_id FROM workflow.claim_activities('slowq', 'w', 1);
SET statement_timeout = '300ms';
SELECT is(complete_cancelled((SELECT task_id FROM slow_task)), '57014',
		  'a cancel during the workflow code reaches the caller');
RESET statement_timeout;
SELECT is(array_agg(event_type ORDER BY event_id), ARRAY['WorkflowStarted', 'ActivityScheduled'],
		  'the completion was rolled back with the statement')
  FROM workflow.history WHERE workflow_id = 'wf-slow';
SELECT workflow.start_workflow('swallower', '{}', 'wf-after-cancel');
SELECT is(array_agg(event_id ORDER BY event_id), '{1,2}'::bigint[],
		  'the engine goes on cleanly in the same transaction')
  FROM workflow.history WHERE workflow_id = 'wf-after-cancel';

SELECT * FROM finish();
ROLLBACK;
