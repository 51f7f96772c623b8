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

/* ---------------------------------------------------------------------
 * Flow control: queue limits, priorities, workflow-level limits
 * (README, Flow control).
 * --------------------------------------------------------------------- */

/* Runs: the start options concurrency_key and priority; queued starts. */
ALTER TABLE workflow.workflows
	ADD COLUMN concurrency_key text,
	ADD COLUMN priority smallint NOT NULL DEFAULT 5,
	ADD COLUMN queued_at timestamptz,
	DROP CONSTRAINT workflows_status_check,
	ADD CONSTRAINT workflows_status_check
	CHECK (status OPERATOR(pg_catalog.=) ANY (ARRAY['running', 'compensating', 'completed',
		'failed', 'compensated', 'cancelled', 'terminated', 'timed_out', 'continued_as_new',
		'queued']));
/* Tasks: the activity options priority and concurrency_key; claims by priority. */
ALTER TABLE workflow.tasks
	ADD COLUMN priority smallint NOT NULL DEFAULT 5,
	ADD COLUMN concurrency_key text;
DROP INDEX workflow.tasks_ready_idx;
CREATE INDEX tasks_ready_idx ON workflow.tasks (queue, priority, ready_at, task_id)
	WHERE status = 'ready';

/*
 * The limits of a queue (workflow.configure_queue), one row per configured
 * queue: a queue without a row has none, and its claims pay nothing for
 * them.  What changes with each claim (the rate limit's token bucket, the
 * claims of the last minutes, the claims not yet committed) is in shared
 * memory (src/core/flowstate.c), so that claims never write this row.
 */
CREATE TABLE workflow.queue_config (
	queue			text PRIMARY KEY,
	max_concurrency	integer CHECK (max_concurrency OPERATOR(pg_catalog.>) 0),
	rate_tasks		integer CHECK (rate_tasks OPERATOR(pg_catalog.>) 0),
	rate_per		interval CHECK (rate_per OPERATOR(pg_catalog.>) '0'::interval),
	key_concurrency	integer CHECK (key_concurrency OPERATOR(pg_catalog.>) 0),
	paused			boolean NOT NULL DEFAULT false,
	updated_at		timestamptz NOT NULL DEFAULT pg_catalog.now(),
	CHECK ((rate_tasks IS NULL) OPERATOR(pg_catalog.=) (rate_per IS NULL))
);
COMMENT ON TABLE workflow.queue_config IS
	'Limits of the queues configured with workflow.configure_queue; read them in workflow.queues.';

/* What the limits count: a queue's in-flight tasks, by concurrency key. */
CREATE INDEX tasks_running_idx ON workflow.tasks (queue, concurrency_key) WHERE status = 'running';
/* A type's open runs, by concurrency key: what max_running counts. */
CREATE INDEX workflows_type_open_idx ON workflow.workflows (workflow_type, concurrency_key)
	WHERE closed_at IS NULL;
/* A type's queued runs, in the order they start: priority, then FIFO. */
CREATE INDEX workflows_queued_idx ON workflow.workflows (workflow_type, priority, queued_at)
	WHERE status = 'queued';

/* The claims of a configured queue in the last 60 seconds (shared memory). */
CREATE FUNCTION workflow.queue_claims_last_minute(queue text)
	RETURNS bigint LANGUAGE c STRICT AS 'MODULE_PATHNAME', 'wf_queue_claims_last_minute';
REVOKE EXECUTE ON FUNCTION workflow.queue_claims_last_minute(text) FROM PUBLIC;
COMMENT ON FUNCTION workflow.queue_claims_last_minute(text) IS
	'Tasks claimed from a configured queue in the last 60 seconds (workflow.queues.claimed_last_minute); counted in shared memory, forgotten at restart.';

/*
 * One row per queue that has tasks or limits.  claimed_last_minute is
 * counted for configured queues only (NULL otherwise: counting would cost
 * every claim), as the claims of the current minute plus the share of the
 * minute before that the last 60 seconds still cover.
 */
CREATE VIEW workflow.queues AS
SELECT q.queue,
	   COALESCE(pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
		   'max_concurrency', c.max_concurrency,
		   'rate_limit', CASE WHEN c.rate_tasks IS NOT NULL
							  THEN pg_catalog.jsonb_build_object('tasks', c.rate_tasks,
																 'per', c.rate_per::text) END,
		   'key_concurrency', c.key_concurrency,
		   'paused', CASE WHEN c.paused THEN true END)), '{}') AS options,
	   COALESCE(t.ready, 0) AS ready,
	   COALESCE(t.in_flight, 0) AS in_flight,
	   COALESCE(t.backing_off, 0) AS backing_off,
	   t.oldest_ready_at,
	   CASE WHEN c.queue IS NOT NULL
			THEN workflow.queue_claims_last_minute(q.queue) END AS claimed_last_minute
  FROM (SELECT queue FROM workflow.tasks UNION SELECT queue FROM workflow.queue_config) q
  LEFT JOIN (SELECT queue,
					pg_catalog.count(*) FILTER (WHERE status OPERATOR(pg_catalog.=) 'ready') AS ready,
					pg_catalog.count(*) FILTER (WHERE status OPERATOR(pg_catalog.=) 'running') AS in_flight,
					pg_catalog.count(*) FILTER (WHERE status OPERATOR(pg_catalog.=) 'backoff') AS backing_off,
					pg_catalog.min(ready_at) FILTER (WHERE status OPERATOR(pg_catalog.=) 'ready') AS oldest_ready_at
			   FROM workflow.tasks GROUP BY queue) t ON t.queue OPERATOR(pg_catalog.=) q.queue
  LEFT JOIN workflow.queue_config c ON c.queue OPERATOR(pg_catalog.=) q.queue;
COMMENT ON VIEW workflow.queues IS
	'One row per queue with tasks or limits: its options, ready, in-flight and backing-off tasks.';

CREATE FUNCTION workflow.configure_queue(queue text, options jsonb)
	RETURNS void LANGUAGE c AS 'MODULE_PATHNAME', 'wf_configure_queue';

/*
 * An administrative function, like grant_queue: GRANT EXECUTE delegates
 * it; a delegate configures only the queues it may consume.  The view
 * shows every queue: for monitoring roles, or whom it is granted to.
 */
REVOKE EXECUTE ON FUNCTION workflow.configure_queue(text, jsonb) FROM PUBLIC;
REVOKE ALL ON workflow.queue_config, workflow.queues FROM PUBLIC;
GRANT SELECT ON workflow.queues TO pg_monitor;
SELECT pg_catalog.pg_extension_config_dump('workflow.queue_config', '');

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

/* ---------------------------------------------------------------------
 * Schedules
 * --------------------------------------------------------------------- */

/*
 * Schedules (workflow.create_schedule): a spec, the workflow each fire
 * starts, and the firing state.  Read them in workflow.schedules; change
 * them only through the schedule functions.  next_fire_at is the next
 * fire's scheduled time, due_at that plus its jitter (when the scheduler
 * acts); buffered holds fires kept by the overlap policy until the run of
 * last_workflow_id closes.
 */
CREATE TABLE workflow.schedule_state (
	schedule_id		text PRIMARY KEY,
	spec			text NOT NULL,
	workflow_type	text NOT NULL,
	input			jsonb NOT NULL,
	options			jsonb NOT NULL DEFAULT '{}',
	queue			text NOT NULL,	/* workflow.default_queue at creation */
	owner			pg_catalog.regrole NOT NULL,
	paused			boolean NOT NULL DEFAULT false,
	note			text,
	next_fire_at	timestamptz,
	due_at			timestamptz,
	last_fire_at	timestamptz,
	last_workflow_id text,
	missed			bigint NOT NULL DEFAULT 0,
	buffered		timestamptz[] NOT NULL DEFAULT '{}',
	failures		integer NOT NULL DEFAULT 0,
	created_at		timestamptz NOT NULL DEFAULT pg_catalog.now(),
	updated_at		timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE workflow.schedule_state IS
	'Schedules and their firing state. Read workflow.schedules; change them only through the schedule functions.';
/* The scheduler's paths: fires that fall due, and kept fires. */
CREATE INDEX schedule_state_due_idx ON workflow.schedule_state (due_at)
	WHERE NOT paused AND due_at IS NOT NULL;
CREATE INDEX schedule_state_buffered_idx ON workflow.schedule_state (schedule_id)
	WHERE NOT paused AND failures OPERATOR(pg_catalog.=) 0
	  AND pg_catalog.cardinality(buffered) OPERATOR(pg_catalog.>) 0;
REVOKE ALL ON workflow.schedule_state FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('workflow.schedule_state', '');

/* A role sees the schedules of the roles it is a member of. */
CREATE VIEW workflow.schedules WITH (security_barrier = true) AS
	SELECT schedule_id, spec, workflow_type, options, paused, note, next_fire_at,
		   last_fire_at, last_workflow_id, missed, owner
	  FROM workflow.schedule_state
	 WHERE pg_catalog.pg_has_role(owner, 'MEMBER');
GRANT SELECT ON workflow.schedules TO PUBLIC;

CREATE FUNCTION workflow.create_schedule(schedule_id text, spec text, workflow_type text,
										 input jsonb DEFAULT '{}', options jsonb DEFAULT '{}')
	RETURNS void LANGUAGE c AS 'MODULE_PATHNAME', 'wf_create_schedule';
CREATE FUNCTION workflow.update_schedule(schedule_id text, changes jsonb)
	RETURNS void LANGUAGE c AS 'MODULE_PATHNAME', 'wf_update_schedule';
CREATE FUNCTION workflow.pause_schedule(schedule_id text, note text DEFAULT NULL)
	RETURNS void LANGUAGE c AS 'MODULE_PATHNAME', 'wf_pause_schedule';
CREATE FUNCTION workflow.resume_schedule(schedule_id text)
	RETURNS void LANGUAGE c AS 'MODULE_PATHNAME', 'wf_resume_schedule';
CREATE FUNCTION workflow.trigger_schedule(schedule_id text)
	RETURNS text LANGUAGE c AS 'MODULE_PATHNAME', 'wf_trigger_schedule_fn';
CREATE FUNCTION workflow.backfill_schedule(schedule_id text, from_time timestamptz, to_time timestamptz)
	RETURNS integer LANGUAGE c AS 'MODULE_PATHNAME', 'wf_backfill_schedule_fn';
CREATE FUNCTION workflow.delete_schedule(schedule_id text)
	RETURNS void LANGUAGE c AS 'MODULE_PATHNAME', 'wf_delete_schedule';
/* When does a spec fire next (in a time zone, after an instant)? */
CREATE FUNCTION workflow.schedule_next_fire(spec text, timezone text DEFAULT 'UTC',
											after timestamptz DEFAULT pg_catalog.now())
	RETURNS timestamptz LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'wf_schedule_next_fire';

/* ---------------------------------------------------------------------
 * Session-bound leases (README, Operating runs): a claim records the
 * claiming backend (pid and start time); when that session ends, the
 * scheduler fails the tasks it still holds (session_ended, then due).
 * --------------------------------------------------------------------- */

ALTER TABLE workflow.tasks
	ADD COLUMN claimed_pid integer,
	ADD COLUMN claimed_session_start timestamptz,
	ADD COLUMN session_ended boolean NOT NULL DEFAULT false;
/* The tasks a session holds: what the scheduler looks for when it ends. */
CREATE INDEX tasks_session_idx ON workflow.tasks (claimed_pid, claimed_session_start)
	WHERE status = 'running';

/* ---------------------------------------------------------------------
 * Retention (README, Operating runs): the scheduler deletes closed runs
 * past workflow.retention or their type's option retention, in batches;
 * workflow.purge() does it now for the caller's runs.
 * --------------------------------------------------------------------- */

/* The closed runs of a type, oldest first: what retention deletes. */
CREATE INDEX workflows_closed_idx ON workflow.workflows (workflow_type, closed_at)
	WHERE closed_at IS NOT NULL;

CREATE FUNCTION workflow.purge(older_than interval)
	RETURNS bigint LANGUAGE c AS 'MODULE_PATHNAME', 'wf_purge';
COMMENT ON FUNCTION workflow.purge(interval) IS
	'Delete now the runs closed more than older_than ago (the caller''s own; every role''s for the extension owner), with their history, state, signals and tasks; returns how many runs.';

/* ---------------------------------------------------------------------
 * Operating runs: describe, await_result, retry_now, stats (README,
 * Operating runs).  Runs gain awaiting_signal: the signal the code waits
 * for, written when the code blocks in wait_signal(), for describe.
 * --------------------------------------------------------------------- */

ALTER TABLE workflow.workflows ADD COLUMN awaiting_signal text;

CREATE FUNCTION workflow.describe(workflow_id text)
	RETURNS jsonb LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'wf_describe';
CREATE FUNCTION workflow.await_result(workflow_id text, timeout interval DEFAULT NULL)
	RETURNS jsonb LANGUAGE c AS 'MODULE_PATHNAME', 'wf_await_result';
CREATE FUNCTION workflow.retry_now(workflow_id text)
	RETURNS integer LANGUAGE c AS 'MODULE_PATHNAME', 'wf_retry_now';

/*
 * Counts for monitoring roles, which row-level security would show no
 * run: a SECURITY DEFINER function (owned by the extension owner, who
 * owns the tables and so is not subject to their policies) that returns
 * aggregates only, and a view over it.  Only pg_monitor (and whom it is
 * granted to) may call it; a view's functions run with the caller's
 * EXECUTE right.
 */
CREATE FUNCTION workflow.stats_counts()
	RETURNS TABLE (workflow_type text, status text, runs bigint, with_task_failures bigint,
				   oldest_started_at timestamptz)
	LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS $stats$
	SELECT w.workflow_type, w.status, pg_catalog.count(*),
		   pg_catalog.count(*) FILTER (WHERE w.task_failures OPERATOR(pg_catalog.>) 0),
		   pg_catalog.min(w.created_at) FILTER (WHERE w.closed_at IS NULL)
	  FROM workflow.workflows w
	 GROUP BY w.workflow_type, w.status
	$stats$;
REVOKE EXECUTE ON FUNCTION workflow.stats_counts() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION workflow.stats_counts() TO pg_monitor;

CREATE VIEW workflow.stats AS
	SELECT s.workflow_type, s.status, s.runs, s.with_task_failures, s.oldest_started_at
	  FROM workflow.stats_counts() s;
REVOKE ALL ON workflow.stats FROM PUBLIC;
GRANT SELECT ON workflow.stats TO pg_monitor;

/*
 * Every function and view of the extension says what it is for (\df+,
 * \dv+, and the catalog for tools); test/pgtap/140_describe.sql checks
 * that none is left without.
 */
COMMENT ON FUNCTION workflow.register_workflow(text, pg_catalog.regprocedure, jsonb) IS
	'Register (or replace) a workflow type run by a PL/pgSQL or SQL function taking jsonb.';
COMMENT ON FUNCTION workflow.register_saga(text, jsonb, jsonb) IS
	'Register (or replace) a workflow type as a declarative saga: steps with compensations.';
COMMENT ON FUNCTION workflow.start_workflow(text, jsonb, text, jsonb) IS
	'Start a run of a registered workflow type; returns its workflow_id.';
COMMENT ON FUNCTION workflow.signal_workflow(text, text, jsonb) IS
	'Send a signal with a payload to the open run of a workflow.';
COMMENT ON FUNCTION workflow.cancel_workflow(text, text) IS
	'Ask the open run of a workflow to cancel: its code sees WF002 at its next blocking call.';
COMMENT ON FUNCTION workflow.terminate_workflow(text, text) IS
	'End the open run of a workflow now, without running its code or compensations.';
COMMENT ON FUNCTION workflow.get_state(text, text) IS
	'A value the latest run of a workflow published with workflow.set_state.';
COMMENT ON FUNCTION workflow.activity(text, jsonb, text, jsonb, text, jsonb) IS
	'In workflow code: run an activity on a queue (with retries) and return its result.';
COMMENT ON FUNCTION workflow.activity_async(text, jsonb, text, jsonb, text, jsonb) IS
	'In workflow code: schedule an activity and return a handle for workflow.wait or wait_all.';
COMMENT ON FUNCTION workflow.wait(bigint) IS
	'In workflow code: the result of an activity started with activity_async.';
COMMENT ON FUNCTION workflow.wait_all(bigint[]) IS
	'In workflow code: the results of several activities started with activity_async, as an array.';
COMMENT ON FUNCTION workflow.sleep(interval) IS
	'In workflow code: a durable timer; the run suspends until it fires.';
COMMENT ON FUNCTION workflow.wait_signal(text, interval) IS
	'In workflow code: the payload of the next signal of that name, or NULL after the timeout.';
COMMENT ON FUNCTION workflow.child_workflow(text, jsonb, text, jsonb) IS
	'In workflow code: run a child workflow and return its result.';
COMMENT ON FUNCTION workflow.continue_as_new(jsonb) IS
	'In workflow code: end this run and start the next run of the workflow with a new input and an empty history.';
COMMENT ON FUNCTION workflow.now() IS
	'In workflow code: the time, recorded once and the same on every replay.';
COMMENT ON FUNCTION workflow.random() IS
	'In workflow code: a random number, recorded once and the same on every replay.';
COMMENT ON FUNCTION workflow.uuid() IS
	'In workflow code: a random UUID, recorded once and the same on every replay.';
COMMENT ON FUNCTION workflow.patched(text) IS
	'In workflow code: true for runs that reach this point under the new code (versioning a change).';
COMMENT ON FUNCTION workflow.set_state(text, jsonb) IS
	'In workflow code: publish a value that workflow.get_state reads.';
COMMENT ON FUNCTION workflow.claim_activities(text, text, integer) IS
	'For workers: claim up to max_tasks ready activity tasks of a queue.';
COMMENT ON FUNCTION workflow.complete_activity(bigint, jsonb) IS
	'For workers: report a claimed task completed, with its result.';
COMMENT ON FUNCTION workflow.complete_and_claim(bigint, jsonb, text, text, integer) IS
	'For workers: complete a task and claim the next ones in one call.';
COMMENT ON FUNCTION workflow.fail_activity(bigint, text, boolean, jsonb) IS
	'For workers: report a claimed task failed; retried by its policy when retryable.';
COMMENT ON FUNCTION workflow.heartbeat_activity(bigint, jsonb) IS
	'For workers: extend the lease of a claimed task; true when the workflow asks it to stop.';
COMMENT ON FUNCTION workflow.grant_queue(text, pg_catalog.regrole, text) IS
	'Let a role consume (claim and report) or produce (schedule) tasks of a queue.';
COMMENT ON FUNCTION workflow.revoke_queue(text, pg_catalog.regrole, text) IS
	'Take back a queue privilege given with workflow.grant_queue.';
COMMENT ON FUNCTION workflow.tick(timestamptz) IS
	'Do the due work (timers, retries, timeouts) now, as the scheduler would, optionally as of a time.';
COMMENT ON FUNCTION workflow.skip_time(interval) IS
	'For tests: fire every timer and backoff due within the horizon now.';
COMMENT ON FUNCTION workflow.configure_queue(text, jsonb) IS
	'Set the limits of a queue: max_concurrency, rate_limit, key_concurrency, paused.';
COMMENT ON FUNCTION workflow.create_schedule(text, text, text, jsonb, jsonb) IS
	'Create a schedule that starts a workflow type by a cron spec, @macro or every <interval>.';
COMMENT ON FUNCTION workflow.update_schedule(text, jsonb) IS
	'Change a schedule''s spec, input or options.';
COMMENT ON FUNCTION workflow.pause_schedule(text, text) IS
	'Pause a schedule, with a note saying why.';
COMMENT ON FUNCTION workflow.resume_schedule(text) IS
	'Resume a paused schedule.';
COMMENT ON FUNCTION workflow.trigger_schedule(text) IS
	'Fire a schedule now; returns the workflow_id it started.';
COMMENT ON FUNCTION workflow.backfill_schedule(text, timestamptz, timestamptz) IS
	'Fire a schedule for each of its fire times in a past range; returns how many.';
COMMENT ON FUNCTION workflow.delete_schedule(text) IS
	'Delete a schedule (the runs it started go on).';
COMMENT ON FUNCTION workflow.schedule_next_fire(text, text, timestamptz) IS
	'When a schedule spec fires next, in a time zone, after an instant.';
COMMENT ON FUNCTION workflow.describe(text) IS
	'Where the latest run of a workflow stopped, and why: status, what it waits on, its last task failure.';
COMMENT ON FUNCTION workflow.await_result(text, interval) IS
	'Wait until the latest run of a workflow closes (following continue-as-new): its result, WF013 if it did not complete, NULL on timeout.';
COMMENT ON FUNCTION workflow.retry_now(text) IS
	'Make every backing-off item of a workflow''s open run due now; returns how many.';
COMMENT ON FUNCTION workflow.stats_counts() IS
	'Run counts by workflow type and status, for monitoring (behind workflow.stats; aggregates only).';
COMMENT ON VIEW workflow.stats IS
	'Runs by workflow type and status, with task failures and the oldest open run: counts only, for pg_monitor.';
COMMENT ON VIEW workflow.schedules IS
	'The schedules of the roles the current role is a member of, with their next and last fires.';

/* ---------------------------------------------------------------------
 * Seeing it: workflow.timeline() and the indexes of workflow-ui's runs
 * page (README, workflow-ui).
 * --------------------------------------------------------------------- */

/*
 * One row per span of every run of a workflow_id (all runs: a
 * continue-as-new chain, or the runs a reset left behind), oldest run
 * first and, within a run, in the order the history opened the spans
 * (the run itself first), for charts.  A function run with the caller's rights: it
 * reads workflow.workflows and workflow.history, whose row-level security
 * shows a role only the runs of the roles it is a member of, so another
 * role's workflow_id gives no rows.  Everything comes from the history;
 * the live tables (tasks, timers) are not readable by the caller, so an
 * attempt still open starts at its scheduling (or its retry time) and
 * ends NULL (workflow.describe() tells where it is).  A span left open
 * by a run that closed ends with the run, 'cancelled'.
 *
 * Kinds: run (status as outcome), activity and compensation (one row per
 * attempt: completed, failed, timed_out, cancelled, NULL while open; seq
 * is the activity's, a compensation's that of the activity it undoes),
 * timer (fired, cancelled), signal (a wait: received, timed_out,
 * cancelled; a wait without timeout starts at the event before it),
 * child (the child's closing status), task_failure (a failed workflow
 * task, until its retry).
 */
CREATE FUNCTION workflow.timeline(workflow_id text)
	RETURNS TABLE (run_id uuid, seq integer, kind text, name text, attempt integer,
				   started_at timestamptz, ended_at timestamptz, outcome text, detail jsonb)
	LANGUAGE plpgsql STABLE STRICT SECURITY INVOKER
	SET search_path = pg_catalog, pg_temp
	/*
	 * Every join below is between CTEs, whose row counts the planner can
	 * only guess: a nested loop there is quadratic in the history's length
	 * (11 s for 12,000 events), hash joins linear (0.1 s).
	 */
	SET enable_nestloop = off
AS $timeline$
BEGIN
/*
 * One statement, planned for the given id at each call (EXECUTE): on a
 * Citus cluster every read in it is then routed to the run's shard (Citus
 * cannot plan a SQL function's parameter).
 */
RETURN QUERY EXECUTE $query$
WITH runs AS (
	SELECT w.run_id, w.workflow_type, w.status, w.created_at, w.closed_at, w.parent_workflow_id,
		   w.parent_run_id,
		   (SELECT h.created_at FROM workflow.history h	-- the clock's, for runs of one transaction
			 WHERE h.workflow_id = $1 AND h.run_id = w.run_id AND h.event_id = 1) AS first_event_at
	  FROM workflow.workflows w
	 WHERE w.workflow_id = $1
), h AS (						-- with the last event before each that is not a signal's arrival
	SELECT h.run_id, h.event_id, h.event_type, h.created_at, h.data,
		   (h.data->>'seq')::integer AS seq,
		   COALESCE((h.data->>'is_compensation')::boolean, false) AS is_comp,
		   max(h.event_id) FILTER (WHERE h.event_type <> 'SignalReceived')
			   OVER (PARTITION BY h.run_id ORDER BY h.event_id
					 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before_id,
		   max(h.created_at) FILTER (WHERE h.event_type <> 'SignalReceived')
			   OVER (PARTITION BY h.run_id ORDER BY h.event_id
					 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before_at
	  FROM workflow.history h
	 WHERE h.workflow_id = $1
), scheduled AS (				-- each activity and compensation, once
	SELECT s.run_id, s.seq, s.is_comp OR s.event_type = 'CompensationScheduled' AS is_comp,
		   s.data->>'activity' AS activity, s.created_at, s.event_id, s.data,
		   CASE WHEN s.event_type = 'CompensationScheduled' THEN o.data->'activity' END AS compensates
	  FROM h s
	  LEFT JOIN h o ON o.run_id = s.run_id AND o.seq = s.seq AND o.event_type = 'ActivityScheduled'
				   AND s.event_type = 'CompensationScheduled'
	 WHERE s.event_type IN ('ActivityScheduled', 'CompensationScheduled')
), ended AS (					-- each attempt that ended, with its start (by task) and the one before
	SELECT e.run_id, e.seq, e.is_comp, e.event_id, e.event_type, e.created_at, e.data,
		   s.data AS started,
		   row_number() OVER w AS n,
		   lag(e.event_id) OVER w AS prev_event_id,
		   lag((e.data->>'next_attempt_at')::timestamptz) OVER w AS prev_next_at
	  FROM h e
	  LEFT JOIN h s ON s.run_id = e.run_id AND s.event_type = 'ActivityStarted'
				   AND (s.data->>'task_id')::bigint = (e.data->>'task_id')::bigint
	 WHERE e.event_type IN ('ActivityCompleted', 'ActivityFailed', 'ActivityTimedOut')
	WINDOW w AS (PARTITION BY e.run_id, e.seq, e.is_comp ORDER BY e.event_id)
), attempts AS (
	SELECT a.run_id, a.seq, a.is_comp, sc.activity, a.event_id,
		   COALESCE(a.prev_event_id, sc.event_id) AS opened_by,
		   COALESCE((a.data->>'attempt')::integer, (a.started->>'attempt')::integer,
					a.n::integer) AS attempt,
		   COALESCE((a.started->>'started_at')::timestamptz, a.prev_next_at, sc.created_at) AS started_at,
		   a.created_at AS ended_at,
		   CASE a.event_type WHEN 'ActivityCompleted' THEN 'completed'
							 WHEN 'ActivityFailed' THEN 'failed' ELSE 'timed_out' END AS outcome,
		   a.event_type = 'ActivityCompleted' OR COALESCE((a.data->>'final')::boolean, false) AS final,
		   (a.data->>'next_attempt_at')::timestamptz AS next_at,
		   jsonb_strip_nulls(jsonb_build_object(
			   'queue', sc.data->'queue', 'compensates', sc.compensates, 'task_id', a.data->'task_id',
			   'worker_id', a.started->'worker_id', 'error', a.data->'error',
			   'timeout_type', a.data->'timeout_type', 'retryable', a.data->'retryable',
			   'final', a.data->'final', 'next_attempt_at', a.data->'next_attempt_at')) AS detail
	  FROM ended a
	  JOIN scheduled sc ON sc.run_id = a.run_id AND sc.seq = a.seq AND sc.is_comp = a.is_comp
), last_attempt AS (			-- per activity: its last ended attempt, and whether one was final
	SELECT DISTINCT ON (a.run_id, a.seq, a.is_comp) a.run_id, a.seq, a.is_comp, a.event_id,
		   a.attempt, a.next_at,
		   bool_or(a.final) OVER (PARTITION BY a.run_id, a.seq, a.is_comp) AS resolved
	  FROM attempts a
	 ORDER BY a.run_id, a.seq, a.is_comp, a.event_id DESC
), cancels AS (
	SELECT c.run_id, c.seq, min(c.created_at) AS cancelled_at
	  FROM h c WHERE c.event_type = 'ActivityCancelled'
	 GROUP BY c.run_id, c.seq
), unresolved AS (				-- the attempt after the last one, if any
	SELECT sc.run_id, sc.seq, sc.is_comp, sc.activity, sc.data, sc.compensates,
		   COALESCE(l.event_id, sc.event_id) AS opened_by,
		   COALESCE(l.attempt + 1, 1) AS attempt,
		   COALESCE(l.next_at, sc.created_at) AS started_at,
		   CASE WHEN NOT sc.is_comp THEN c.cancelled_at END AS cancelled_at
	  FROM scheduled sc
	  LEFT JOIN last_attempt l ON l.run_id = sc.run_id AND l.seq = sc.seq AND l.is_comp = sc.is_comp
	  LEFT JOIN cancels c ON c.run_id = sc.run_id AND c.seq = sc.seq
	 WHERE NOT COALESCE(l.resolved, false)
), wait_ends AS (				-- the first end of each timer or signal wait
	SELECT DISTINCT ON (e.run_id, e.seq) e.run_id, e.seq, e.event_id, e.event_type, e.created_at, e.data
	  FROM h e
	 WHERE e.event_type IN ('TimerFired', 'TimerCancelled', 'SignalConsumed')
	 ORDER BY e.run_id, e.seq, e.event_id
), waits AS (					-- timers and signal waits with a timeout
	SELECT t.run_id, t.seq, t.event_id, t.created_at, t.data, e.event_type AS end_type,
		   e.created_at AS end_at, e.data AS end_data
	  FROM h t
	  LEFT JOIN wait_ends e ON e.run_id = t.run_id AND e.seq = t.seq AND e.event_id > t.event_id
	 WHERE t.event_type = 'TimerStarted'
), child_ends AS (				-- the first end of each child
	SELECT DISTINCT ON (e.run_id, e.seq) e.run_id, e.seq, e.event_id, e.event_type, e.created_at, e.data
	  FROM h e
	 WHERE e.event_type IN ('ChildWorkflowCompleted', 'ChildWorkflowFailed', 'ChildWorkflowCancelled')
	 ORDER BY e.run_id, e.seq, e.event_id
), children AS (
	SELECT c.run_id, c.seq, c.event_id, c.event_type, c.created_at, c.data, e.event_type AS end_type,
		   e.created_at AS end_at, e.data AS end_data
	  FROM h c
	  LEFT JOIN child_ends e ON e.run_id = c.run_id AND e.seq = c.seq AND e.event_id > c.event_id
	 WHERE c.event_type = 'ChildWorkflowStarted'
	UNION ALL					-- a child whose id was taken: it never started
	SELECT c.run_id, c.seq, c.event_id, c.event_type, c.created_at, c.data, NULL, NULL, NULL
	  FROM h c
	 WHERE c.event_type = 'ChildWorkflowFailed'
	   AND NOT EXISTS (SELECT 1 FROM h s WHERE s.run_id = c.run_id AND s.seq = c.seq
						 AND s.event_type = 'ChildWorkflowStarted')
), spans AS (
	SELECT r.run_id, NULL::integer AS seq, 'run' AS kind, r.workflow_type AS name,
		   NULL::integer AS attempt, r.created_at AS started_at, r.closed_at AS ended_at,
		   CASE WHEN r.closed_at IS NOT NULL THEN r.status END AS outcome,
		   jsonb_strip_nulls(jsonb_build_object(
			   'status', r.status, 'parent_workflow_id', r.parent_workflow_id,
			   'parent_run_id', r.parent_run_id)) AS detail,
		   0::bigint AS opened_by
	  FROM runs r
	UNION ALL
	SELECT a.run_id, a.seq, CASE WHEN a.is_comp THEN 'compensation' ELSE 'activity' END,
		   a.activity, a.attempt, a.started_at, a.ended_at, a.outcome, a.detail, a.opened_by
	  FROM attempts a
	UNION ALL
	SELECT u.run_id, u.seq, CASE WHEN u.is_comp THEN 'compensation' ELSE 'activity' END,
		   u.activity, u.attempt, u.started_at, COALESCE(u.cancelled_at, r.closed_at),
		   CASE WHEN u.cancelled_at IS NOT NULL OR r.closed_at IS NOT NULL THEN 'cancelled' END,
		   jsonb_strip_nulls(jsonb_build_object(
			   'queue', u.data->'queue', 'compensates', u.compensates, 'task_id', CASE WHEN u.attempt = 1 THEN u.data->'task_id' END,
			   'state', CASE WHEN u.cancelled_at IS NULL AND r.closed_at IS NULL THEN 'pending' END,
			   'reason', CASE WHEN u.cancelled_at IS NULL AND r.closed_at IS NOT NULL
							  THEN 'the run closed' END)),
		   u.opened_by
	  FROM unresolved u JOIN runs r ON r.run_id = u.run_id
	UNION ALL
	SELECT w.run_id, w.seq, CASE WHEN w.data ? 'signal' THEN 'signal' ELSE 'timer' END,
		   COALESCE(w.data->>'signal', w.data->>'name'), NULL, w.created_at,
		   COALESCE(w.end_at, r.closed_at),
		   CASE w.end_type
				WHEN 'TimerFired' THEN CASE WHEN w.data ? 'signal' THEN 'timed_out' ELSE 'fired' END
				WHEN 'SignalConsumed' THEN 'received'
				WHEN 'TimerCancelled' THEN 'cancelled'
				ELSE CASE WHEN r.closed_at IS NOT NULL THEN 'cancelled' END END,
		   jsonb_strip_nulls(jsonb_build_object(
			   'fire_at', w.data->'fire_at', 'duration', w.data->'duration',
			   'payload', w.end_data->'payload', 'signal_id', w.end_data->'signal_id')),
		   w.event_id
	  FROM waits w JOIN runs r ON r.run_id = w.run_id
	UNION ALL					-- signal waits without a timer: only their end is written
	SELECT s.run_id, s.seq, 'signal', s.data->>'signal', NULL, COALESCE(s.before_at, s.created_at),
		   s.created_at, 'received',
		   jsonb_strip_nulls(jsonb_build_object('payload', s.data->'payload',
												'signal_id', s.data->'signal_id')),
		   COALESCE(s.before_id, s.event_id)
	  FROM h s
	 WHERE s.event_type = 'SignalConsumed'
	   AND NOT EXISTS (SELECT 1 FROM h t WHERE t.run_id = s.run_id AND t.seq = s.seq
						 AND t.event_type = 'TimerStarted')
	UNION ALL
	SELECT c.run_id, c.seq, 'child', c.data->>'workflow_type', NULL, c.created_at,
		   CASE WHEN c.event_type = 'ChildWorkflowFailed' THEN c.created_at
				ELSE COALESCE(c.end_at, r.closed_at) END,
		   CASE WHEN c.event_type = 'ChildWorkflowFailed' THEN 'failed'
				WHEN c.end_type = 'ChildWorkflowCancelled' THEN 'cancelled'
				WHEN c.end_type IS NOT NULL
				THEN COALESCE(c.end_data->>'status',
							  CASE c.end_type WHEN 'ChildWorkflowCompleted' THEN 'completed'
														 ELSE 'failed' END)
				WHEN r.closed_at IS NOT NULL THEN 'cancelled' END,
		   jsonb_strip_nulls(jsonb_build_object(
			   'child_workflow_id', c.data->'child_workflow_id', 'child_run_id', c.data->'child_run_id',
			   'error', COALESCE(c.end_data->'error', CASE WHEN c.event_type = 'ChildWorkflowFailed'
																 THEN c.data->'error' END))),
		   c.event_id
	  FROM children c JOIN runs r ON r.run_id = c.run_id
	UNION ALL
	SELECT f.run_id, NULL, 'task_failure', COALESCE(f.data->>'item', 'workflow task'),
		   (f.data->>'attempt')::integer, f.created_at,
		   COALESCE((f.data->>'retry_at')::timestamptz, f.created_at), 'failed',
		   jsonb_strip_nulls(jsonb_build_object('error', f.data->'error', 'retry_at', f.data->'retry_at')),
		   f.event_id
	  FROM h f
	 WHERE f.event_type = 'WorkflowTaskFailed'
)
SELECT s.run_id, s.seq, s.kind, s.name, s.attempt, s.started_at, s.ended_at, s.outcome, s.detail
  FROM spans s JOIN runs r ON r.run_id = s.run_id
 ORDER BY r.created_at, r.first_event_at, r.run_id, s.opened_by, s.kind, s.attempt
$query$ USING workflow_id;
END
$timeline$;
COMMENT ON FUNCTION workflow.timeline(text) IS
	'One row per span of every run of a workflow_id (run, activity and compensation attempts, timer, signal wait, child, workflow task failure) with its times and outcome, for charts; read with the caller''s rights.';

/*
 * The runs page of workflow-ui lists runs newest first and pages by the
 * key (created_at, workflow_id, run_id): all runs, those of one status,
 * or, under row-level security, those of the roles the reader is a member
 * of (the UI adds "owner = ANY(those roles)", which this index serves and
 * the policy's pg_has_role() per row cannot).  Without these, each page
 * sorts every run, or reads every run to find a small tenant's.
 */
CREATE INDEX workflows_created_idx ON workflow.workflows (created_at, workflow_id, run_id);
CREATE INDEX workflows_status_created_idx ON workflow.workflows (status, created_at, workflow_id, run_id);
CREATE INDEX workflows_owner_created_idx ON workflow.workflows (owner, created_at, workflow_id, run_id);

/* ---------------------------------------------------------------------
 * Operating runs: reset, the replay check and its DDL gate
 * (api/reset.c, model/reset.c, api/replay_check.c).
 * --------------------------------------------------------------------- */

CREATE FUNCTION workflow.reset_workflow(workflow_id text, event_id bigint, reason text DEFAULT NULL)
	RETURNS uuid LANGUAGE c AS 'MODULE_PATHNAME', 'wf_reset_workflow';
COMMENT ON FUNCTION workflow.reset_workflow(text, bigint, text) IS
	'Temporal''s reset: a new run of workflow_id whose history is its latest run''s events up to event_id (a point where a result reached the code, or 1); an open run ends terminated, without compensations. Returns the new run''s id.';

CREATE FUNCTION workflow.check_replay(workflow_type text, max_runs integer DEFAULT 100)
	RETURNS TABLE(workflow_id text, run_id uuid, ok boolean, detail text)
	LANGUAGE c AS 'MODULE_PATHNAME', 'wf_check_replay';
COMMENT ON FUNCTION workflow.check_replay(text, integer) IS
	'Replays up to max_runs running runs of workflow_type (those of roles you are a member of) against the current code, without effect; detail is the error a workflow task would record.';

/* ---------------------------------------------------------------------
 * Citus (doc/citus.md): a task's key carries its run's workflow_id, the
 * distribution column, which Citus requires in every unique index.  The
 * key is (task_id, workflow_id), in that order, so that the lookups by
 * task_id alone (reports on one node) still use it.
 * workflow.distribute() turns the tables into Citus tables.
 * --------------------------------------------------------------------- */

ALTER TABLE workflow.tasks DROP CONSTRAINT tasks_pkey;
ALTER TABLE workflow.tasks ADD CONSTRAINT tasks_pkey PRIMARY KEY (task_id, workflow_id);

/*
 * Reports that name their task's run (doc/citus.md): the same functions
 * with the workflow_id the claim returned as last argument.  On Citus the
 * task is then read on its run's shard only, not on every shard; on one
 * node it only narrows the lookup.  A workflow_id that is not the task's
 * makes the report stale (WF010), as an unknown task id does.
 */
CREATE FUNCTION workflow.complete_activity(task_id bigint, result jsonb, workflow_id text)
	RETURNS void LANGUAGE c AS 'MODULE_PATHNAME', 'wf_complete_activity';
COMMENT ON FUNCTION workflow.complete_activity(bigint, jsonb, text) IS
	'For workers: report a claimed task of run workflow_id completed, with its result.';
CREATE FUNCTION workflow.complete_and_claim(task_id bigint, result jsonb, queue text,
											worker_id text, max_tasks integer, workflow_id text)
	RETURNS TABLE (task_id bigint, activity_id text, workflow_id text, run_id uuid, queue text,
				   activity text, input jsonb, attempt integer, lease_expires_at timestamptz,
				   heartbeat_timeout interval, start_to_close_timeout interval, producer name)
	LANGUAGE c AS 'MODULE_PATHNAME', 'wf_complete_and_claim';
COMMENT ON FUNCTION workflow.complete_and_claim(bigint, jsonb, text, text, integer, text) IS
	'For workers: complete a task of run workflow_id and claim the next ones in one call.';
CREATE FUNCTION workflow.fail_activity(task_id bigint, error text, retryable boolean,
									   details jsonb, workflow_id text)
	RETURNS void LANGUAGE c AS 'MODULE_PATHNAME', 'wf_fail_activity';
COMMENT ON FUNCTION workflow.fail_activity(bigint, text, boolean, jsonb, text) IS
	'For workers: report a claimed task of run workflow_id failed; retried by its policy when retryable.';
CREATE FUNCTION workflow.heartbeat_activity(task_id bigint, details jsonb, workflow_id text)
	RETURNS boolean LANGUAGE c AS 'MODULE_PATHNAME', 'wf_heartbeat_activity';
COMMENT ON FUNCTION workflow.heartbeat_activity(bigint, jsonb, text) IS
	'For workers: extend the lease of a claimed task of run workflow_id; true when the workflow asks it to stop.';

CREATE FUNCTION workflow.distribute(shard_count integer DEFAULT 32)
	RETURNS void LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
AS $distribute$
DECLARE
	t text;
	failed text;
BEGIN
	IF shard_count IS NULL OR shard_count OPERATOR(pg_catalog.<) 1
	   OR shard_count OPERATOR(pg_catalog.>) 64000 THEN
		RAISE EXCEPTION 'shard_count must be between 1 and 64000'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Choose a few shards per node, e.g. 32.';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname OPERATOR(pg_catalog.=) 'citus') THEN
		RAISE EXCEPTION 'workflow.distribute() needs the citus extension'
			USING ERRCODE = 'feature_not_supported',
				  HINT = 'Run it on a Citus coordinator: CREATE EXTENSION citus, add the nodes, then call it again.';
	END IF;
	IF EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition
				WHERE logicalrelid OPERATOR(pg_catalog.=) 'workflow.workflows'::pg_catalog.regclass) THEN
		RAISE EXCEPTION 'the workflow tables are already distributed'
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Move shards with Citus''s rebalancer; the shard count is fixed at distribution.';
	END IF;
	FOREACH t IN ARRAY ARRAY['workflow_types', 'queue_config', 'queue_grants', 'schedule_state'] LOOP
		PERFORM create_reference_table(pg_catalog.format('workflow.%I', t)::pg_catalog.regclass);
	END LOOP;
	/*
	 * Citus refuses policies with subqueries on distributed tables, and
	 * history's joins its run.  Reading history directly becomes the
	 * extension owner's; roles read their runs' events through the
	 * functions (describe, timeline run with the caller's rights over
	 * workflow.workflows, whose policy stays).
	 */
	DROP POLICY history_owner ON workflow.history;
	REVOKE SELECT ON workflow.history FROM PUBLIC;
	PERFORM create_distributed_table('workflow.workflows'::pg_catalog.regclass, 'workflow_id',
									 shard_count => distribute.shard_count, colocate_with => 'none');
	FOREACH t IN ARRAY ARRAY['history', 'tasks', 'timers', 'child_notices', 'signals', 'state',
							 'task_reports'] LOOP
		PERFORM create_distributed_table(pg_catalog.format('workflow.%I', t)::pg_catalog.regclass,
										 'workflow_id', colocate_with => 'workflow.workflows');
	END LOOP;
	/*
	 * Task and signal ids come from each node's own identity sequence
	 * (inserts run on the node of the run's shard); Citus leaves those
	 * ranges alone for identity columns, so give each worker node its own
	 * range: group id << 48 onwards, as Citus does for its sequences.
	 */
	FOR failed IN
		SELECT r.result FROM run_command_on_workers($cmd$DO $do$
DECLARE
	g bigint := (SELECT groupid FROM pg_catalog.pg_dist_local_group);
	s text;
BEGIN
	SET LOCAL citus.enable_ddl_propagation = off;
	FOREACH s IN ARRAY ARRAY[pg_catalog.pg_get_serial_sequence('workflow.tasks', 'task_id'),
							 pg_catalog.pg_get_serial_sequence('workflow.signals', 'signal_id')] LOOP
		EXECUTE pg_catalog.format('ALTER SEQUENCE %s MINVALUE %s MAXVALUE %s START WITH %s RESTART WITH %s',
								  s, (g OPERATOR(pg_catalog.<<) 48) OPERATOR(pg_catalog.+) 1,
								  ((g OPERATOR(pg_catalog.+) 1) OPERATOR(pg_catalog.<<) 48) OPERATOR(pg_catalog.-) 1,
								  (g OPERATOR(pg_catalog.<<) 48) OPERATOR(pg_catalog.+) 1,
								  (g OPERATOR(pg_catalog.<<) 48) OPERATOR(pg_catalog.+) 1);
	END LOOP;
END
$do$$cmd$) r WHERE NOT r.success
	LOOP
		RAISE EXCEPTION 'could not give a worker node its range of task and signal ids: %', failed;
	END LOOP;
END
$distribute$;
REVOKE EXECUTE ON FUNCTION workflow.distribute(integer) FROM PUBLIC;
COMMENT ON FUNCTION workflow.distribute(integer) IS
	'On a Citus coordinator: distribute the run tables by workflow_id in shard_count co-located shards and make the configuration tables reference tables (doc/citus.md).';

/*
 * The DDL gate: CREATE or ALTER FUNCTION of a registered workflow type's
 * function replays its running runs (workflow.replay_check,
 * workflow.replay_check_runs).  The function runs as the role issuing the
 * DDL; the replays run as each run's owner.  An extension member: pg_dump
 * does not dump it, DROP EXTENSION drops it.  Created last, so that this
 * script's own functions never meet it.
 */
CREATE FUNCTION workflow.replay_check_trigger()
	RETURNS event_trigger LANGUAGE c AS 'MODULE_PATHNAME', 'wf_replay_gate';
COMMENT ON FUNCTION workflow.replay_check_trigger() IS
	'The event trigger workflow_replay_check: checks running workflows when their function changes.';
REVOKE EXECUTE ON FUNCTION workflow.replay_check_trigger() FROM PUBLIC;
CREATE EVENT TRIGGER workflow_replay_check ON ddl_command_end
	WHEN TAG IN ('CREATE FUNCTION', 'ALTER FUNCTION')
	EXECUTE FUNCTION workflow.replay_check_trigger();
