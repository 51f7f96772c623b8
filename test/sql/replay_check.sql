-- The DDL gate's WARNING (workflow.replay_check = warning, the default):
-- CREATE OR REPLACE FUNCTION that inserts an activity before an existing
-- one warns once per running workflow that would not replay, names the
-- position, and keeps the new code; a compatible change is silent.  The
-- rest of the gate is test/pgtap/155_replay_check.sql's.
CREATE EXTENSION workflow;
\set VERBOSITY default
\set SHOW_CONTEXT never
CREATE FUNCTION ship(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM workflow.activity('Pack', input, 'q');
	PERFORM workflow.activity('Ship', input, 'q');
	RETURN '{}';
END $$;
SELECT workflow.register_workflow('ship', 'ship(jsonb)');
SELECT workflow.start_workflow('ship', '{}', 'ship-1');
SHOW workflow.replay_check;
-- Diverges: one WARNING per running workflow; the command succeeds.
CREATE OR REPLACE FUNCTION ship(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM workflow.activity('Weigh', input, 'q');
	PERFORM workflow.activity('Pack', input, 'q');
	PERFORM workflow.activity('Ship', input, 'q');
	RETURN '{}';
END $$;
SELECT prosrc LIKE '%Weigh%' AS new_code_in_place FROM pg_proc WHERE proname = 'ship';
-- Compatible (guarded by patched()): silent.
CREATE OR REPLACE FUNCTION ship(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	IF workflow.patched('weigh') THEN
		PERFORM workflow.activity('Weigh', input, 'q');
	END IF;
	PERFORM workflow.activity('Pack', input, 'q');
	PERFORM workflow.activity('Ship', input, 'q');
	RETURN '{}';
END $$;
-- ALTER FUNCTION of it runs the check too (silent here).
ALTER FUNCTION ship(jsonb) SET work_mem = '4MB';
-- An unrelated function: nothing.
CREATE FUNCTION unrelated() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;
-- Off: nothing is checked.
SET workflow.replay_check = off;
CREATE OR REPLACE FUNCTION ship(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM workflow.activity('Other', input, 'q');
	RETURN '{}';
END $$;
RESET workflow.replay_check;
SET workflow.replay_check = 'sometimes';
DROP EXTENSION workflow;
SELECT count(*) AS event_triggers_left FROM pg_event_trigger WHERE evtname = 'workflow_replay_check';
DROP FUNCTION ship(jsonb);
DROP FUNCTION unrelated();
