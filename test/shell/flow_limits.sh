#!/usr/bin/env bash
# Queue limits under concurrency (workflow.configure_queue), eight claimers
# at once, each claim and each report its own transaction:
#   1. max_concurrency = 3 over 200 tasks: a sampler sees at most 3 tasks
#      in flight at any moment (and 3 at some moment), and all 200 finish;
#   2. key_concurrency = 1 over four keys: never two tasks of one key in
#      flight, while tasks of other keys are (two or more keys at once);
#   3. rate_limit 50 per second for 5 seconds: 250 claims, plus or minus
#      one bucket (50).
set -euo pipefail
export PGDATABASE=flow_limits
psql -X -q -d postgres -c "CREATE DATABASE flow_limits"
trap 'psql -X -q -d postgres -c "DROP DATABASE IF EXISTS flow_limits" >/dev/null 2>&1 || true' EXIT
fail() { echo "FAIL: $*"; exit 1; }
q() { psql -X -A -t -v ON_ERROR_STOP=1 -c "$1"; }

psql -X -q -v ON_ERROR_STOP=1 <<'SQL'
CREATE EXTENSION workflow;
CREATE FUNCTION one(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	RETURN workflow.activity('Work', input, input->>'queue',
							 jsonb_build_object('concurrency_key', input->>'key'));
END $$;
SELECT workflow.register_workflow('one', 'one(jsonb)');
CREATE TABLE samples (queue text, in_flight int, keys_in_flight int, max_per_key int);
CREATE TABLE worker_seen (queue text, key text, same_key int);
CREATE TABLE rate_claims (task_id bigint);
CREATE TABLE rate_start (t0 timestamptz);

-- A worker: claim up to two tasks, commit, look, work a little, complete
-- them one by one (each its own commit), until the queue is drained.
CREATE PROCEDURE work(q text, w int) LANGUAGE plpgsql AS $$
DECLARE
	ids bigint[];
	id bigint;
	idle int := 0;
BEGIN
	LOOP
		SELECT array_agg(c.task_id) INTO ids FROM workflow.claim_activities(q, 'w' || w, 2) c;
		COMMIT;
		IF ids IS NULL THEN
			EXIT WHEN NOT EXISTS (SELECT 1 FROM workflow.tasks t WHERE t.queue = q);
			idle := idle + 1;
			EXIT WHEN idle > 20000;
			PERFORM pg_sleep(0.002);
			CONTINUE;
		END IF;
		INSERT INTO worker_seen
			SELECT q, t.concurrency_key, (SELECT count(*) FROM workflow.tasks u
										   WHERE u.queue = q AND u.status = 'running'
											 AND u.concurrency_key = t.concurrency_key)
			  FROM workflow.tasks t WHERE t.task_id = ANY (ids) AND t.concurrency_key IS NOT NULL;
		COMMIT;
		PERFORM pg_sleep(0.01);
		FOREACH id IN ARRAY ids LOOP
			PERFORM workflow.complete_activity(id, '{}');
			COMMIT;
		END LOOP;
	END LOOP;
END $$;

-- The sampler: what is in flight, every 2 ms, until the queue is drained.
CREATE PROCEDURE sample(q text) LANGUAGE plpgsql AS $$
BEGIN
	FOR i IN 1..30000 LOOP
		INSERT INTO samples
			SELECT q, count(*), count(DISTINCT concurrency_key),
				   COALESCE(max(n), 0)
			  FROM (SELECT concurrency_key, count(*) OVER (PARTITION BY concurrency_key) n
					  FROM workflow.tasks WHERE queue = q AND status = 'running') r;
		COMMIT;
		EXIT WHEN NOT EXISTS (SELECT 1 FROM workflow.tasks t WHERE t.queue = q);
		PERFORM pg_sleep(0.002);
	END LOOP;
END $$;

-- A rate-limited claimer: claim for five seconds from t0, never report.
CREATE PROCEDURE rate_claim(w int) LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz := (SELECT t0 FROM rate_start);
BEGIN
	WHILE clock_timestamp() < t0 + interval '5 seconds' LOOP
		INSERT INTO rate_claims SELECT task_id FROM workflow.claim_activities('rated', 'r' || w, 5);
		COMMIT;
		PERFORM pg_sleep(0.002);
	END LOOP;
END $$;
SQL

# Eight workers and a sampler on queue $1, all at once.
run_workers() {
	local pids=()
	psql -X -q -v ON_ERROR_STOP=1 -c "CALL sample('$1')" & pids+=($!)
	for w in 1 2 3 4 5 6 7 8; do
		psql -X -q -v ON_ERROR_STOP=1 -c "CALL work('$1', $w)" & pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || fail "a worker of queue $1 failed"; done
}

# 1. max_concurrency = 3, 200 tasks.
q "SELECT workflow.configure_queue('capped', '{\"max_concurrency\": 3}')" >/dev/null
q "SELECT count(workflow.start_workflow('one', jsonb_build_object('queue', 'capped', 'i', i))) FROM generate_series(1, 200) i" >/dev/null
run_workers capped
read -r nsamples peak <<<"$(q "SELECT count(*), max(in_flight) FROM samples WHERE queue = 'capped'" | tr '|' ' ')"
done_runs=$(q "SELECT count(*) FROM workflow.workflows WHERE input->>'queue' = 'capped' AND status = 'completed'")
echo "max_concurrency 3: $nsamples samples, at most $peak in flight, $done_runs of 200 runs completed"
((peak <= 3)) || fail "more than 3 tasks in flight at once ($peak)"
((peak == 3)) || fail "never 3 tasks in flight: the workers did not contend"
((done_runs == 200)) || fail "only $done_runs of 200 runs completed"

# 2. key_concurrency = 1, four keys of 25 tasks each.
q "SELECT workflow.configure_queue('keyed', '{\"key_concurrency\": 1}')" >/dev/null
q "SELECT count(workflow.start_workflow('one', jsonb_build_object('queue', 'keyed', 'key', 'k' || (i % 4), 'i', i))) FROM generate_series(1, 100) i" >/dev/null
run_workers keyed
read -r per_key keys <<<"$(q "SELECT max(max_per_key), max(keys_in_flight) FROM samples WHERE queue = 'keyed'" | tr '|' ' ')"
seen=$(q "SELECT max(same_key) FROM worker_seen WHERE queue = 'keyed'")
done_runs=$(q "SELECT count(*) FROM workflow.workflows WHERE input->>'queue' = 'keyed' AND status = 'completed'")
echo "key_concurrency 1: at most $per_key in flight per key (workers saw $seen), up to $keys keys at once, $done_runs of 100 completed"
((per_key <= 1 && seen <= 1)) || fail "two tasks of one key were in flight at once"
((keys >= 2)) || fail "other keys did not proceed while one was in flight"
((done_runs == 100)) || fail "only $done_runs of 100 runs completed"

# 3. rate_limit 50 per second, claimed for 5 seconds by eight claimers.
q "SELECT count(workflow.start_workflow('one', jsonb_build_object('queue', 'rated', 'i', i))) FROM generate_series(1, 600) i" >/dev/null
q "SELECT workflow.configure_queue('rated', '{\"rate_limit\": {\"tasks\": 50, \"per\": \"1 second\"}}')" >/dev/null
q "INSERT INTO rate_start SELECT clock_timestamp()" >/dev/null
pids=()
for w in 1 2 3 4 5 6 7 8; do
	# Claims that outlive their sessions (never reported, counted in flight below).
	PGOPTIONS="-c workflow.session_leases=off" psql -X -q -v ON_ERROR_STOP=1 -c "CALL rate_claim($w)" & pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "a rate-limited claimer failed"; done
claimed=$(q "SELECT count(*) FROM rate_claims")
echo "rate_limit 50/s: $claimed claims in 5 seconds"
((claimed >= 200 && claimed <= 300)) || fail "expected 250 +- 50 claims, got $claimed"
view=$(q "SELECT options->'rate_limit'->>'tasks', in_flight, claimed_last_minute FROM workflow.queues WHERE queue = 'rated'")
[[ $view == "50|$claimed|$claimed" ]] || fail "workflow.queues shows '$view', expected '50|$claimed|$claimed'"
echo "ok: max_concurrency, key_concurrency and rate_limit hold under 8 concurrent claimers"
