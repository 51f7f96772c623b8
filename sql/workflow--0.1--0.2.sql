/* workflow--0.1--0.2.sql: from 0.1 to 0.2 (ALTER EXTENSION workflow UPDATE) */

\echo Use "ALTER EXTENSION workflow UPDATE TO '0.2'" to load this file. \quit

/*
 * 0.1 accepted an empty schema "workflow" created by any role; its owner
 * could rename it and plant look-alike tables.  The library now refuses
 * to work with a schema not owned by the extension's owner: say so here,
 * where it can be fixed.
 */
DO $guard$
DECLARE
	schema_owner text;
BEGIN
	SELECT pg_catalog.pg_get_userbyid(n.nspowner) INTO schema_owner
	  FROM pg_catalog.pg_extension e
	  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace
	 WHERE e.extname OPERATOR(pg_catalog.=) 'workflow'
	   AND n.nspowner OPERATOR(pg_catalog.<>) e.extowner;
	IF FOUND THEN
		RAISE EXCEPTION 'schema "workflow" is owned by role "%", not by the owner of extension "workflow"', schema_owner
			USING ERRCODE = '55000',
				  DETAIL = 'That role could rename the schema and plant tables the engine would use.',
				  HINT = 'Check the schema for objects you did not create, make the extension''s owner its owner (ALTER SCHEMA workflow OWNER TO ...), then update again.';
	END IF;
END
$guard$;

/*
 * Queue grants gain a privilege: the grants of 0.1 let a role work a queue,
 * so they become 'consume' grants; 'produce' is needed to schedule tasks.
 * The owners of open runs keep producing onto the queues those runs use.
 */
ALTER TABLE workflow.queue_grants
	ADD COLUMN privilege text NOT NULL DEFAULT 'consume'
		CHECK (privilege OPERATOR(pg_catalog.=) ANY (ARRAY['consume', 'produce'])),
	DROP CONSTRAINT queue_grants_pkey,
	ADD PRIMARY KEY (queue, grantee, privilege);
INSERT INTO workflow.queue_grants (queue, grantee, privilege)
	SELECT DISTINCT q.queue, w.owner, 'produce'
	  FROM workflow.workflows w,
		   LATERAL (SELECT w.queue
					UNION SELECT h.data OPERATOR(pg_catalog.->>) 'queue'
					  FROM workflow.history h
					 WHERE h.workflow_id OPERATOR(pg_catalog.=) w.workflow_id
					   AND h.run_id OPERATOR(pg_catalog.=) w.run_id
					   AND h.event_type OPERATOR(pg_catalog.=) 'ActivityScheduled'
					UNION SELECT h.data OPERATOR(pg_catalog.->>) 'compensation_queue'
					  FROM workflow.history h
					 WHERE h.workflow_id OPERATOR(pg_catalog.=) w.workflow_id
					   AND h.run_id OPERATOR(pg_catalog.=) w.run_id
					   AND h.event_type OPERATOR(pg_catalog.=) 'ActivityScheduled') q(queue)
	 WHERE w.closed_at IS NULL AND q.queue IS NOT NULL
	ON CONFLICT DO NOTHING;
DROP FUNCTION workflow.grant_queue(text, pg_catalog.regrole);
DROP FUNCTION workflow.revoke_queue(text, pg_catalog.regrole);
CREATE FUNCTION workflow.grant_queue(queue text, grantee regrole, privilege text DEFAULT 'consume')
	RETURNS void LANGUAGE c AS 'MODULE_PATHNAME', 'wf_grant_queue';
CREATE FUNCTION workflow.revoke_queue(queue text, grantee regrole, privilege text DEFAULT 'consume')
	RETURNS void LANGUAGE c AS 'MODULE_PATHNAME', 'wf_revoke_queue';

/* A task shows the role that produced it (its run's owner) to the worker. */
ALTER TABLE workflow.tasks ADD COLUMN producer pg_catalog.regrole;
UPDATE workflow.tasks t SET producer = w.owner
  FROM workflow.workflows w
 WHERE w.workflow_id OPERATOR(pg_catalog.=) t.workflow_id
   AND w.run_id OPERATOR(pg_catalog.=) t.run_id;
/* Tasks of runs that no longer exist are never claimed usefully. */
DELETE FROM workflow.tasks WHERE producer IS NULL;
ALTER TABLE workflow.tasks ALTER COLUMN producer SET NOT NULL;
DROP FUNCTION workflow.claim_activities(text, text, integer);
DROP FUNCTION workflow.complete_and_claim(bigint, jsonb, text, text, integer);
CREATE FUNCTION workflow.claim_activities(queue text, worker_id text DEFAULT NULL, max_tasks integer DEFAULT 1)
	RETURNS TABLE (task_id bigint, activity_id text, workflow_id text, run_id uuid, queue text,
				   activity text, input jsonb, attempt integer, lease_expires_at timestamptz,
				   heartbeat_timeout interval, start_to_close_timeout interval, producer name)
	LANGUAGE c AS 'MODULE_PATHNAME', 'wf_claim_activities';
CREATE FUNCTION workflow.complete_and_claim(task_id bigint, result jsonb, queue text,
										   worker_id text DEFAULT NULL, max_tasks integer DEFAULT 1)
	RETURNS TABLE (task_id bigint, activity_id text, workflow_id text, run_id uuid, queue text,
				   activity text, input jsonb, attempt integer, lease_expires_at timestamptz,
				   heartbeat_timeout interval, start_to_close_timeout interval, producer name)
	LANGUAGE c AS 'MODULE_PATHNAME', 'wf_complete_and_claim';

/* Published state is kept per run: existing state belongs to the latest run. */
ALTER TABLE workflow.state ADD COLUMN run_id uuid;
UPDATE workflow.state s
   SET run_id = (SELECT w.run_id FROM workflow.workflows w
				  WHERE w.workflow_id OPERATOR(pg_catalog.=) s.workflow_id
				  ORDER BY w.created_at DESC LIMIT 1);
DELETE FROM workflow.state WHERE run_id IS NULL;
ALTER TABLE workflow.state ALTER COLUMN run_id SET NOT NULL,
	DROP CONSTRAINT state_pkey,
	ADD PRIMARY KEY (workflow_id, run_id, key);

/*
 * Worker reports (complete, fail) that found their run locked by another
 * session: kept here instead of waiting for it, and applied under the
 * run's lock by the scheduler (or tick()), with the rules of a direct one.
 */
CREATE TABLE workflow.task_reports (
	workflow_id		text NOT NULL,
	task_id			bigint NOT NULL,
	run_id			uuid NOT NULL,
	completed		boolean NOT NULL,
	result			jsonb,
	error			text,
	retryable		boolean NOT NULL,
	details			jsonb,
	reported_at		timestamptz NOT NULL,
	PRIMARY KEY (workflow_id, task_id)
);
CREATE INDEX task_reports_reported_idx ON workflow.task_reports (reported_at);
REVOKE ALL ON workflow.task_reports FROM PUBLIC;

/* Administrative functions: not for PUBLIC; GRANT EXECUTE delegates them. */
REVOKE EXECUTE ON FUNCTION workflow.tick(timestamptz), workflow.skip_time(interval),
	workflow.grant_queue(text, pg_catalog.regrole, text),
	workflow.revoke_queue(text, pg_catalog.regrole, text)
	FROM PUBLIC;

/*
 * pg_dump keeps the engine (0.1 did not): the state tables and the
 * identity sequences become extension configuration, as in a fresh
 * install of 0.2.
 */
SELECT pg_catalog.pg_extension_config_dump('workflow.workflow_types', '');
SELECT pg_catalog.pg_extension_config_dump('workflow.workflows', '');
SELECT pg_catalog.pg_extension_config_dump('workflow.history', '');
SELECT pg_catalog.pg_extension_config_dump('workflow.tasks', '');
SELECT pg_catalog.pg_extension_config_dump(
	pg_catalog.pg_get_serial_sequence('workflow.tasks', 'task_id')::pg_catalog.regclass, '');
SELECT pg_catalog.pg_extension_config_dump('workflow.timers', '');
SELECT pg_catalog.pg_extension_config_dump('workflow.child_notices', '');
SELECT pg_catalog.pg_extension_config_dump('workflow.signals', '');
SELECT pg_catalog.pg_extension_config_dump(
	pg_catalog.pg_get_serial_sequence('workflow.signals', 'signal_id')::pg_catalog.regclass, '');
SELECT pg_catalog.pg_extension_config_dump('workflow.state', '');
SELECT pg_catalog.pg_extension_config_dump('workflow.queue_grants', '');
SELECT pg_catalog.pg_extension_config_dump('workflow.task_reports', '');
