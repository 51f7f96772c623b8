#!/usr/bin/env bash
# Retention under load: the delete rate of the scheduler's retention on many
# closed runs, the claim latency of 8 workers without and with retention
# running in the same run, and table size and dead tuples before and after
# VACUUM.  Not part of make bench; run it as root after make install:
#
#   PG_CONFIG=... WF_CLUSTER_DIR=/tmp/wf-retention WF_PORT=54500 bench/retention.sh
#
# Knobs: RET_RUNS closed runs to delete (200000), RET_EVENTS history
# events per run (5), RET_JOBS one-activity workflows the workers drain
# (60000), RET_SECONDS per latency phase (15).  Nothing is asserted; the
# figures go to stdout.  The cluster is a throwaway one (tools/cluster.sh
# fresh: fsync and synchronous_commit on).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RET_RUNS:-200000}
EVENTS=${RET_EVENTS:-5}
JOBS=${RET_JOBS:-60000}
SECONDS_PER_PHASE=${RET_SECONDS:-15}
export WF_CLUSTER_DIR=${WF_CLUSTER_DIR:-/tmp/wf-retention}
export WF_EXTRA_CONF=${WF_EXTRA_CONF:-"workflow.max_naptime = 1000"}
WORK=$(mktemp -d /tmp/wf-retention-bench.XXXXXX)
chmod 777 "$WORK"
trap 'rm -rf "$WORK"; "$REPO/tools/cluster.sh" stop >/dev/null 2>&1 || true' EXIT

"$REPO/tools/cluster.sh" fresh >/dev/null
eval "$("$REPO/tools/cluster.sh" env)"
q() { psql -X -A -t -q -v ON_ERROR_STOP=1 -c "$1"; }
now_s() { date +%s.%N; }

q "CREATE EXTENSION workflow" >/dev/null
q "CREATE FUNCTION job(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS \$\$
BEGIN RETURN workflow.activity('Step', input, 'bq'); END \$\$" >/dev/null
q "CREATE FUNCTION quick(input jsonb) RETURNS jsonb LANGUAGE sql AS 'SELECT input'" >/dev/null
q "SELECT workflow.register_workflow('job', 'job(jsonb)')" >/dev/null
q "SELECT workflow.register_workflow('closed_old', 'quick(jsonb)')" >/dev/null

echo "generating $RUNS closed runs of $EVENTS events each (closed two days ago) ..."
q "INSERT INTO workflow.workflows (workflow_id, workflow_type, status, input, result, queue, owner,
	created_at, updated_at, closed_at, last_event_id)
	SELECT 'old-' || i, 'closed_old', 'completed', '{\"i\": 1}', '{\"ok\": true}', 'default', current_user::regrole,
		now() - interval '3 days', now() - interval '2 days', now() - interval '2 days' + i * interval '1 ms', $EVENTS
	FROM generate_series(1, $RUNS) i" >/dev/null
q "INSERT INTO workflow.history (workflow_id, run_id, event_id, event_type, created_at, data)
	SELECT w.workflow_id, w.run_id, e, CASE e WHEN 1 THEN 'WorkflowStarted' WHEN $EVENTS THEN 'WorkflowCompleted'
		ELSE 'ActivityCompleted' END, w.created_at, '{\"seq\": 1, \"result\": {\"ok\": true}}'
	FROM workflow.workflows w, generate_series(1, $EVENTS) e WHERE w.workflow_type = 'closed_old'" >/dev/null
q "INSERT INTO workflow.state (workflow_id, run_id, key, value)
	SELECT workflow_id, run_id, 'k', '1' FROM workflow.workflows WHERE workflow_type = 'closed_old'" >/dev/null
q "VACUUM ANALYZE workflow.workflows, workflow.history, workflow.state" >/dev/null
echo "starting $JOBS one-activity workflows for the workers ..."
q "SELECT count(workflow.start_workflow('job', jsonb_build_object('i', i))) FROM generate_series(1, $JOBS) i" >/dev/null

sizes() {
	q "SELECT pg_stat_force_next_flush()" >/dev/null
	sleep 1
	q "SELECT string_agg(format('%s: %s, %s live, %s dead', relname,
		pg_size_pretty(pg_total_relation_size(relid)), n_live_tup, n_dead_tup), E'\n' ORDER BY relname)
	FROM pg_stat_user_tables WHERE schemaname = 'workflow' AND relname IN ('workflows', 'history', 'state')"
}
echo "--- before retention"
sizes

cat >"$WORK/step.sql" <<'SQL'
SELECT workflow.complete_activity(task_id, '{}') FROM workflow.claim_activities('bq', 'w' || :client_id, 1);
SQL
# One phase of 8 workers claiming and completing; per-transaction log in $WORK/$1.*
phase() {
	(cd "$WORK" && pgbench -n -c 8 -j 2 -T "$SECONDS_PER_PHASE" -f step.sql --log --log-prefix="$1" >"$1.out" 2>&1)
	grep -E "^(number of transactions actually processed|tps)" "$WORK/$1.out" | sed "s/^/$1: /"
}
# p50 and p99 in ms of the transactions logged between $2 and $3 (epoch seconds).
percentiles() {
	cat "$WORK"/$1.* | awk -v from="$2" -v to="$3" '{ t = $5 + $6 / 1e6; if (t >= from && t <= to) print $3 / 1000 }' |
		sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) { print "none"; exit }
			printf "%d transactions, p50 %.2f ms, p99 %.2f ms\n", NR, v[int(NR * 0.5) + (NR * 0.5 > int(NR * 0.5))], v[int(NR * 0.99) + (NR * 0.99 > int(NR * 0.99))] }'
}

# Phases alternate, so that the load of the machine (shared) weighs on both
# alike: A without retention, B with it (workflow.retention set or reset,
# and a reload, between phases).
retention() {
	q "ALTER SYSTEM SET workflow.retention = '$1'" >/dev/null
	q "SELECT pg_reload_conf()" >/dev/null
}
left() { q "SELECT count(*) FROM workflow.workflows WHERE workflow_type = 'closed_old'"; }
deleted_under_load=0
seconds_under_load=0
for round in 1 2 3; do
	echo "--- round $round, phase A: 8 workers, no retention"
	retention 0
	sleep 1
	phase "A$round"
	((round == 3)) && break
	echo "--- round $round, phase B: 8 workers while the scheduler deletes closed runs (workflow.retention = 1d)"
	before=$(left)
	retention 1d
	b0=$(now_s)
	phase "B$round"
	b1=$(now_s)
	after=$(left)
	echo "  deleted $((before - after)) runs during the phase, $after left"
	deleted_under_load=$((deleted_under_load + before - after))
	seconds_under_load=$(echo "$seconds_under_load + $b1 - $b0" | bc)
done
echo "--- latency (claim_activities + complete_activity, one statement, per transaction)"
echo "A, no retention:          $(percentiles 'A?' 0 9999999999)"
echo "B, while deleting:        $(percentiles 'B?' 0 9999999999)"
echo "delete rate under load:   $(echo "scale=0; $deleted_under_load / $seconds_under_load" | bc) runs/s"
echo "--- the rest, without load"
retention 1d
r0=$(now_s)
rest=$(left)
while (($(left) > 0)); do sleep 0.5; done
r1=$(now_s)
echo "deleted the remaining $rest runs in $(echo "$r1 - $r0" | bc) s: $(echo "scale=0; $rest / ($r1 - $r0)" | bc) runs/s"
echo "--- after retention, before VACUUM"
sizes
q "VACUUM workflow.workflows, workflow.history, workflow.state" >/dev/null
echo "--- after VACUUM"
sizes
echo "autovacuum runs: $(q "SELECT string_agg(relname || ' ' || autovacuum_count, ', ') FROM pg_stat_user_tables
	WHERE schemaname = 'workflow' AND relname IN ('workflows', 'history', 'state')")"
