-- The engine trusts only the extension's own schema: CREATE EXTENSION
-- refuses a schema "workflow" that another role prepared, and the engine
-- refuses to run when schema "workflow" is not the extension's (renamed,
-- with a look-alike planted under the name) or not its owner's.
BEGIN;
SELECT plan(15);

CREATE ROLE wf_mallory;
DO $$ BEGIN EXECUTE format('GRANT CREATE ON DATABASE %I TO wf_mallory', current_database()); END $$;
-- (DROP EXTENSION leaves the schema that CREATE EXTENSION made.)
DROP EXTENSION workflow;
DROP SCHEMA workflow;

-- A role with CREATE on the database prepares the schema beforehand.
SET ROLE wf_mallory;
CREATE SCHEMA workflow;
RESET ROLE;
SELECT throws_ok($$CREATE EXTENSION workflow$$, '42P06',
				 'schema "workflow" already exists and is owned by role "wf_mallory"',
				 'CREATE EXTENSION refuses a schema "workflow" owned by another role');
SELECT is((SELECT count(*) FROM pg_extension WHERE extname = 'workflow'), 0::bigint,
		  'and installs nothing');
DROP SCHEMA workflow;

-- The installing role's own empty schema is fine.
CREATE SCHEMA workflow;
SELECT lives_ok($$CREATE EXTENSION workflow$$, 'an empty schema of the installing role is accepted');
DROP EXTENSION workflow;
DROP SCHEMA workflow;
CREATE EXTENSION workflow;

-- After installation: the extension's schema is renamed and a look-alike
-- planted under the name, with a trigger that would run as the engine.
CREATE FUNCTION good(input jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT input $$;
SELECT workflow.register_workflow('t', 'good(jsonb)');
ALTER SCHEMA workflow RENAME TO wf_real;
SET ROLE wf_mallory;
CREATE SCHEMA workflow;
CREATE TABLE workflow.workflow_types (LIKE wf_real.workflow_types INCLUDING ALL);
INSERT INTO workflow.workflow_types (workflow_type, fn, options, owner)
	VALUES ('t', 'good(jsonb)', '{}', 'wf_mallory');
CREATE TABLE workflow.workflows (LIKE wf_real.workflows INCLUDING ALL);
CREATE FUNCTION workflow.pwn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'planted trigger ran as %', current_user USING ERRCODE = 'MA001'; END $$;
CREATE TRIGGER pwn BEFORE INSERT ON workflow.workflows FOR EACH ROW EXECUTE FUNCTION workflow.pwn();
CREATE TABLE workflow.timers (workflow_id text, run_id uuid, seq integer, fire_at timestamptz,
							  PRIMARY KEY (workflow_id, run_id, seq));
INSERT INTO workflow.timers VALUES ('x', gen_random_uuid(), 1, now());
CREATE TRIGGER pwn BEFORE INSERT OR UPDATE OR DELETE ON workflow.timers
	FOR EACH ROW EXECUTE FUNCTION workflow.pwn();
RESET ROLE;

SELECT throws_ok($$SELECT wf_real.start_workflow('t', '{}', 'w-1')$$, '55000',
				 'schema "workflow" is not the extension''s',
				 'start_workflow refuses the planted schema');
SELECT throws_ok($$SELECT wf_real.tick(now() + interval '1 day')$$, '55000', NULL, 'so does tick()');
SELECT throws_ok($$SELECT * FROM wf_real.claim_activities('q')$$, '55000', NULL, 'and claim_activities()');
SELECT throws_ok($$SELECT wf_real.register_workflow('t2', 'good(jsonb)')$$, '55000', NULL,
				 'and register_workflow()');
SELECT is((SELECT count(*) FROM workflow.workflows), 0::bigint, 'nothing was written to the planted tables');

-- Renamed without a look-alike: the same clear error.
DROP SCHEMA workflow CASCADE;
SELECT throws_ok($$SELECT wf_real.tick()$$, '55000', 'schema "workflow" is not the extension''s',
				 'with no schema "workflow" at all, the error says why');

-- Back under its name, the engine works again.
ALTER SCHEMA wf_real RENAME TO workflow;
SELECT lives_ok($$SELECT workflow.start_workflow('t', '{}', 'w-1')$$, 'with its schema back, the engine works');
SELECT is((SELECT status FROM workflow.workflows WHERE workflow_id = 'w-1'), 'completed', 'and the run completed');

-- A 0.1 install into a schema another role prepared (0.1 accepted an
-- empty one): the library refuses it, and so does the update to 0.2.
DROP EXTENSION workflow;
DROP SCHEMA workflow;
SET ROLE wf_mallory;
CREATE SCHEMA workflow;
RESET ROLE;
CREATE EXTENSION workflow VERSION '0.1';
SELECT throws_ok($$SELECT workflow.tick()$$, '55000',
				 'schema "workflow" is not owned by the owner of extension "workflow"',
				 'the engine refuses an extension schema owned by another role');
SELECT throws_ok($$ALTER EXTENSION workflow UPDATE TO '0.2'$$, '55000', NULL, 'so does the update to 0.2');
ALTER SCHEMA workflow OWNER TO CURRENT_USER;
SELECT lives_ok($$ALTER EXTENSION workflow UPDATE TO '0.2'$$,
				'given to the extension''s owner, the schema is updated');
SELECT lives_ok($$SELECT workflow.tick()$$, 'and the engine works');

SELECT * FROM finish();
ROLLBACK;
