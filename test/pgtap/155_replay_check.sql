-- workflow.check_replay and the DDL gate (the event trigger
-- workflow_replay_check): an activity inserted before an existing one
-- diverges; with workflow.replay_check = error the CREATE OR REPLACE
-- fails and the old code stays; a change guarded by workflow.patched()
-- passes; the dry run leaves nothing behind; a non-superuser's DDL fires
-- the gate and replays only runs of roles it is a member of.  The WARNING
-- text itself is test/sql/replay_check.sql's (pg_regress output).
BEGIN;
SELECT plan(24);

CREATE ROLE wf_rc_owner;
CREATE ROLE wf_rc_other;
SELECT workflow.grant_queue('*', 'wf_rc_owner', 'produce');
SELECT workflow.grant_queue('*', 'wf_rc_other', 'produce');
GRANT CREATE, USAGE ON SCHEMA public TO wf_rc_owner, wf_rc_other;

CREATE FUNCTION work(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE t record;
BEGIN
	SELECT * INTO t FROM workflow.claim_activities(q, 'w', 1);
	IF t.task_id IS NULL THEN RETURN NULL; END IF;
	PERFORM workflow.complete_activity(t.task_id, jsonb_build_object(lower(t.activity), 'ok'));
	RETURN t.activity;
END $$;
-- Everything the engine keeps about runs, to see that a dry run wrote nothing.
CREATE FUNCTION engine_rows() RETURNS text LANGUAGE sql AS $$
	SELECT (SELECT count(*) FROM workflow.history) || '/' || (SELECT count(*) FROM workflow.tasks) || '/' ||
		   (SELECT count(*) FROM workflow.timers) || '/' ||
		   (SELECT string_agg(status || task_failures, ',' ORDER BY workflow_id) FROM workflow.workflows)
$$;
CREATE TABLE side_effects (n int);
GRANT INSERT ON side_effects TO wf_rc_owner;

SET ROLE wf_rc_owner;
CREATE FUNCTION ship(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM workflow.activity('Pack', input, 'q');
	PERFORM workflow.activity('Ship', input, 'q');
	RETURN '{}';
END $$;
SELECT workflow.register_workflow('ship', 'ship(jsonb)');
SELECT workflow.start_workflow('ship', '{}', 'ship-1');
SELECT workflow.start_workflow('ship', '{}', 'ship-2');
RESET ROLE;
SELECT work('q');		-- ship-1 packed, waits on Ship; ship-2 waits on Pack

SET ROLE wf_rc_owner;
SELECT is((SELECT array_agg(workflow_id || ':' || ok ORDER BY workflow_id) FROM workflow.check_replay('ship')),
		  ARRAY['ship-1:true', 'ship-2:true'], 'check_replay: the unchanged code replays every run');
RESET ROLE;
SELECT engine_rows() AS rows_before \gset

-- Inserting an activity before an existing one, with the gate on error.
SET workflow.replay_check = error;
SET ROLE wf_rc_owner;
SELECT throws_like($q$CREATE OR REPLACE FUNCTION ship(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $f$
BEGIN
	INSERT INTO public.side_effects VALUES (1);
	PERFORM workflow.activity('Weigh', input, 'q');
	PERFORM workflow.activity('Pack', input, 'q');
	PERFORM workflow.activity('Ship', input, 'q');
	RETURN '{}';
END $f$$q$, 'CREATE FUNCTION would break 2 running workflows of type "ship"',
		   'replay_check = error: CREATE OR REPLACE FUNCTION that inserts an activity fails');
RESET ROLE;
SELECT matches(prosrc, 'Pack.*Ship', 'the old function is still in place') FROM pg_proc WHERE proname = 'ship';
SELECT doesnt_match(prosrc, 'Weigh', 'without the new activity') FROM pg_proc WHERE proname = 'ship';
SELECT is(engine_rows(), :'rows_before', 'the check wrote nothing: history, tasks, timers, runs unchanged');
SELECT is(count(*), 0::bigint, 'and kept no side effect of the code') FROM side_effects;

-- The error names the position, as the non-determinism error would.
CREATE FUNCTION gate_error(ddl text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE s text; d text;
BEGIN
	EXECUTE ddl;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS s = RETURNED_SQLSTATE, d = PG_EXCEPTION_DETAIL;
	RETURN s || ': ' || d;
END $$;
SELECT matches(gate_error($q$CREATE OR REPLACE FUNCTION ship(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $f$
BEGIN
	PERFORM workflow.activity('Weigh', input, 'q');
	PERFORM workflow.activity('Pack', input, 'q');
	RETURN '{}';
END $f$$q$),
			   '^WF003: Workflow "ship-[12]": non-determinism at position 1: history recorded activity "Pack", code asked for activity "Weigh"$',
			   'the error''s detail is the non-determinism error''s message');

-- check_replay sees the same divergence while the new code is in place (in a savepoint).
SET workflow.replay_check = off;
SAVEPOINT changed;
CREATE OR REPLACE FUNCTION ship(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $f$
BEGIN
	PERFORM workflow.activity('Weigh', input, 'q');
	PERFORM workflow.activity('Pack', input, 'q');
	PERFORM workflow.activity('Ship', input, 'q');
	RETURN '{}';
END $f$;
SELECT is((SELECT array_agg(workflow_id || ':' || ok || ':' || detail ORDER BY workflow_id)
			 FROM workflow.check_replay('ship')),
		  ARRAY['ship-1:false:non-determinism at position 1: history recorded activity "Pack", code asked for activity "Weigh"',
				'ship-2:false:non-determinism at position 1: history recorded activity "Pack", code asked for activity "Weigh"'],
		  'check_replay: one row per run, with the non-determinism message');
SELECT is((SELECT count(*) FROM workflow.check_replay('ship', 1)), 1::bigint, 'max_runs bounds the runs replayed');
SELECT is((SELECT count(*) FROM workflow.check_replay('ship', 0)), 0::bigint, 'max_runs 0 replays none');
ROLLBACK TO SAVEPOINT changed;

-- Code that ends before the history does: a divergence too.
SAVEPOINT shorter;
CREATE OR REPLACE FUNCTION ship(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $f$
BEGIN
	RETURN '{}';
END $f$;
SELECT is((SELECT detail FROM workflow.check_replay('ship') WHERE workflow_id = 'ship-1'),
		  'non-determinism at position 1: history recorded activity "Pack", code asked for nothing (it stopped at position 0)',
		  'code that stops before the history does diverges');
ROLLBACK TO SAVEPOINT shorter;

-- The replay runs as the run's owner, not as the role that asks (here a superuser).
SAVEPOINT whoami;
CREATE OR REPLACE FUNCTION ship(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $f$
BEGIN
	RAISE EXCEPTION USING ERRCODE = '22000', MESSAGE = 'ran as ' || current_user;
END $f$;
SELECT is((SELECT detail FROM workflow.check_replay('ship') WHERE workflow_id = 'ship-1'),
		  'ran as wf_rc_owner', 'check_replay runs the code as the run''s owner, not as the caller');
ROLLBACK TO SAVEPOINT whoami;

-- A compatible change: the new step guarded by patched(), and one after the frontier.
SET workflow.replay_check = error;
SET ROLE wf_rc_owner;
SELECT lives_ok($q$CREATE OR REPLACE FUNCTION ship(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $f$
BEGIN
	IF workflow.patched('weigh-first') THEN
		PERFORM workflow.activity('Weigh', input, 'q');
	END IF;
	PERFORM workflow.activity('Pack', input, 'q');
	PERFORM workflow.activity('Ship', input, 'q');
	PERFORM workflow.activity('Notify', input, 'q');
	RETURN '{}';
END $f$$q$, 'a change guarded by workflow.patched() (and a step after the frontier) passes');
SELECT is((SELECT bool_and(ok) FROM workflow.check_replay('ship')), true, 'check_replay agrees');
RESET ROLE;
SELECT matches(prosrc, 'weigh-first', 'the new code is in place') FROM pg_proc WHERE proname = 'ship';
SELECT is(work('q'), 'Pack', 'the runs go on with it: ship-2 packs (its history went the old way)');
SELECT is(work('q'), 'Ship', 'ship-1 ships');

-- Bad input.
SELECT throws_ok($$SELECT * FROM workflow.check_replay('no-such-type')$$, '42704', NULL,
				 'check_replay of an unknown type is refused');
SELECT throws_ok($$SELECT * FROM workflow.check_replay(NULL)$$, '22004', NULL, 'a NULL type is refused');
SELECT throws_ok($$SELECT * FROM workflow.check_replay('ship', -1)$$, '22023', NULL, 'a negative max_runs is refused');

-- Another role: check_replay shows it none of the owner's runs, and its DDL
-- of a function another role's type uses replays none of them in its session.
SET ROLE wf_rc_other;
SELECT is((SELECT count(*) FROM workflow.check_replay('ship')), 0::bigint,
		  'check_replay replays only runs of roles the caller is a member of');
CREATE FUNCTION other_fn(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $f$
BEGIN PERFORM workflow.activity('A', input, 'q2'); RETURN '{}'; END $f$;
RESET ROLE;
GRANT EXECUTE ON FUNCTION other_fn(jsonb) TO wf_rc_owner;
SET ROLE wf_rc_owner;
SELECT workflow.register_workflow('borrowed', 'other_fn(jsonb)');
SELECT workflow.start_workflow('borrowed', '{}', 'borrowed-1');
RESET ROLE;
SET ROLE wf_rc_other;
SELECT lives_ok($q$CREATE OR REPLACE FUNCTION other_fn(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $f$
BEGIN INSERT INTO public.side_effects VALUES (2); PERFORM workflow.activity('B', input, 'q2'); RETURN '{}'; END $f$$q$,
				'a non-superuser''s DDL of a function in another role''s type: the gate does not replay that role''s run');
RESET ROLE;
SELECT is(count(*), 0::bigint, 'so the new code never ran in the DDL''s session') FROM side_effects;

-- The gate is an extension member, not the DDL issuer's.
SELECT is((SELECT count(*) FROM pg_depend d JOIN pg_event_trigger e ON d.objid = e.oid
			WHERE e.evtname = 'workflow_replay_check' AND d.deptype = 'e'), 1::bigint,
		  'the event trigger is a member of the extension (pg_dump leaves it out, DROP EXTENSION drops it)');

SELECT * FROM finish();
ROLLBACK;
