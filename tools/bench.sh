#!/usr/bin/env bash
# make bench: throughput, latency and scale of the workflow engine, measured
# against pgbench on the same throwaway cluster in the same run.
#
# Scenarios (each prints one "BENCH {json}" line; the table at the end
# quotes every figure as a ratio to the pgbench baseline of this run):
#   1 baseline    pgbench: single-row INSERT + UPDATE by key, 8 clients and 1
#   2 start_rate  workflow.start_workflow() calls/s, 8 clients (the seed's
#                 order saga; these runs are drained by scenario 3)
#   3 throughput  8 workers that LISTEN, claim and complete drain them
#     (3b: the same with eager dispatch, workflow.complete_and_claim, when
#     the engine has it; 5b likewise for latency; 3c: claims/s from a
#     queue with max_concurrency, and with a rate_limit, neither binding,
#     as ratios to the claims/s from a queue without limits)
#   4 steady      starts at a fixed rate while 8 workers drain; latency
#   5 latency_c1  one workflow at a time; notification-to-claim latency
#   6 timers      10,000 workflow.sleep()s due over ten seconds; lateness
#   7 scale       claim / complete latency with 10k, 100k, 1M closed
#                 workflows in the history; backend and scheduler RSS
#   8 history     one run looping over activities (no continue-as-new):
#                 step time at 10, 1,000 and 10,000 history events, and
#                 the backend's memory (run before 7, which empties history)
#
# Nothing here asserts a timing.  Results: bench/results/<date>-<host>.txt
# (not tracked; copy the runs worth keeping to bench/published/)
#
# Environment (defaults in brackets):
#   BENCH_WORKFLOWS        workflows started and drained (2, 3)   [20000]
#   BENCH_CLIENTS          client connections (1, 2, 6)           [8]
#   BENCH_WORKERS          worker connections (3, 4)              [8]
#   BENCH_BATCH            max_tasks per claim (3, 4)             [10]
#   BENCH_PGBENCH_SECONDS  pgbench duration, 8 clients            [20]
#   BENCH_PGBENCH1_SECONDS pgbench duration, 1 client             [10]
#   BENCH_STEADY_SECONDS   steady-state duration                  [20]
#   BENCH_CLAIM_TASKS      tasks per queue claimed in 3c           [20000]
#   BENCH_STEADY_FRACTION  steady start rate, as a fraction of
#                          scenario 3's workflows/s               [0.5]
#   BENCH_STEADY_RATE      steady start rate, workflows/s (overrides)
#   BENCH_LATENCY_WORKFLOWS workflows run one at a time (5)       [500]
#   BENCH_TIMERS           sleeping workflows (6)                 [10000]
#   BENCH_TIMER_WINDOW     seconds their due times spread over    [10]
#   BENCH_SCALE_LEVELS     closed workflows per level (7)   [10000,100000,1000000]
#   BENCH_SCALE_PROBES     sequential workflows probed per level  [300]
#   BENCH_HISTORY_LEVELS   history events per level (8)    [10,1000,10000]
#   BENCH_HISTORY_PROBES   steps timed per level (8)              [100]
#   BENCH_CLUSTER_DIR      throwaway cluster directory            [/tmp/wf-bench]
#   BENCH_PORT             its port                               [54500]
#   BENCH_EXTRA_CONF       extra postgresql.conf lines
#   BENCH_KEEP_CLUSTER     1: leave the cluster running afterwards [0: wipe it]
#   PG_CONFIG              the server's pg_config        [pg_config on PATH]
set -euo pipefail
cd "$(dirname "$0")/.."

REPO=$(pwd)
# shellcheck source=tools/pgconfig.bash
source tools/pgconfig.bash
pg_locate || exit 1

WORKFLOWS=${BENCH_WORKFLOWS:-20000}
CLIENTS=${BENCH_CLIENTS:-8}
WORKERS=${BENCH_WORKERS:-8}
BATCH=${BENCH_BATCH:-10}
CLAIM_TASKS=${BENCH_CLAIM_TASKS:-20000}
PGBENCH_SECONDS=${BENCH_PGBENCH_SECONDS:-20}
PGBENCH1_SECONDS=${BENCH_PGBENCH1_SECONDS:-10}
STEADY_SECONDS=${BENCH_STEADY_SECONDS:-20}
STEADY_FRACTION=${BENCH_STEADY_FRACTION:-0.5}
STEADY_RATE=${BENCH_STEADY_RATE:-}
LATENCY_WORKFLOWS=${BENCH_LATENCY_WORKFLOWS:-500}
TIMERS=${BENCH_TIMERS:-10000}
TIMER_WINDOW=${BENCH_TIMER_WINDOW:-10}
SCALE_LEVELS=${BENCH_SCALE_LEVELS:-10000,100000,1000000}
SCALE_PROBES=${BENCH_SCALE_PROBES:-300}
HISTORY_LEVELS=${BENCH_HISTORY_LEVELS:-10,1000,10000}
HISTORY_PROBES=${BENCH_HISTORY_PROBES:-100}
KEEP_CLUSTER=${BENCH_KEEP_CLUSTER:-0}

export WF_CLUSTER_DIR=${BENCH_CLUSTER_DIR:-/tmp/wf-bench}
export WF_PORT=${BENCH_PORT:-54500}
export WF_PRELOAD='workflow,pg_stat_statements'
# pg_stat_statements tracks the engine's SPI statements too (track = all).
# max_wal_size only spaces out checkpoints during the 1M-row generation;
# fsync and synchronous_commit stay on (tools/cluster.sh).
export WF_EXTRA_CONF="pg_stat_statements.track = all
pg_stat_statements.max = 2000
max_wal_size = 8GB
${BENCH_EXTRA_CONF:-}"

STAMP=$(date -u +%Y%m%d-%H%M%S)
# The commit being measured (make bench has just built and installed it).
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$(git status --porcelain -- src sql 2>/dev/null | wc -l)
HOST=$(hostname -s 2>/dev/null || hostname)
RESULTS_DIR=$REPO/bench/results
RESULT=$RESULTS_DIR/$STAMP-$HOST.txt
WORK=$(mktemp -d /tmp/wf-bench-run.XXXXXX)
LINES=$WORK/bench.lines		# BENCH lines
PROFILE=$WORK/profile.txt	# pg_stat_statements, load, notes
LOADGEN=$REPO/bench/loadgen
T_BEGIN=$(date +%s)

log() { printf '\n== %s  [%ds]\n' "$*" $(($(date +%s) - T_BEGIN)) >&2; }

cleanup() {
	local rc=$?
	if [[ $KEEP_CLUSTER != 1 ]]; then
		tools/cluster.sh stop >/dev/null 2>&1 || true
		rm -rf "${WF_CLUSTER_DIR:?}/data"
	fi
	rm -rf "$WORK"
	exit $rc
}
trap cleanup EXIT

# ---------------------------------------------------------------------
# Build the load driver (bench/Makefile; make bench has built it already).
# ---------------------------------------------------------------------
if ! make -s -q -C bench PG_CONFIG="$PG_CONFIG" 2>/dev/null; then
	log "building bench/loadgen"
	make -s -C bench PG_CONFIG="$PG_CONFIG"
fi

# ---------------------------------------------------------------------
# Cluster
# ---------------------------------------------------------------------
log "fresh cluster in $WF_CLUSTER_DIR (port $WF_PORT)"
tools/cluster.sh fresh
eval "$(tools/cluster.sh env)"
export PGDATABASE=bench
"$PG_BINDIR/psql" -X -q -d postgres -c "CREATE DATABASE bench"
"$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -f examples/order/setup.sql >/dev/null
"$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -f bench/setup.sql >/dev/null

q() { "$PG_BINDIR/psql" -X -A -t -v ON_ERROR_STOP=1 -c "$1"; }

scheduler_pid() {
	q "SELECT coalesce(max(pid), 0) FROM pg_stat_activity
	   WHERE backend_type = 'workflow scheduler' AND datname = 'bench'"
}

# VmRSS and RssAnon (kB) of a process.
rss_of() {
	awk '/^VmRSS:/ { r = $2 } /^RssAnon:/ { a = $2 } END { printf "%d %d", r, a }' \
		"/proc/$1/status" 2>/dev/null || echo "-1 -1"
}

for _ in $(seq 1 100); do
	SCHED_PID=$(scheduler_pid)
	[[ $SCHED_PID != 0 ]] && break
	sleep 0.1
done
read -r SCHED_RSS0 SCHED_ANON0 <<<"$(rss_of "$SCHED_PID")"

# A field of the last BENCH line of a scenario.
bench_get() {
	python3 - "$LINES" "$1" "$2" <<'PY'
import json, sys
v = None
for line in open(sys.argv[1]):
    if line.startswith("BENCH "):
        d = json.loads(line[6:])
        if d.get("scenario") == sys.argv[2]:
            v = d.get(sys.argv[3])
print("" if v is None else v)
PY
}

emit() { echo "$1" | tee -a "$LINES"; }

# Run loadgen, keep its BENCH lines and PGSS lines.
loadgen() {
	"$LOADGEN" "$@" | while IFS= read -r line; do
		case $line in
		BENCH*) emit "$line" ;;
		PGSS*) echo "$line" >>"$PROFILE" ;;
		*) echo "$line" ;;
		esac
	done
	return "${PIPESTATUS[0]}"
}

load_note() { echo "loadavg $1: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$PROFILE"; }

# CPU accounting, to say where the time goes and how much of the machine
# other processes took: the whole machine (/proc/stat), the cluster (live
# children of the postmaster plus the children it has reaped), the
# scheduler and the WAL writer.
PM_PID=$(head -1 "$WF_CLUSTER_DIR/data/postmaster.pid")
CLK=$(getconf CLK_TCK)
WALWRITER_PID=$(q "SELECT pid FROM pg_stat_activity WHERE backend_type = 'walwriter'")

proc_ticks() { awk '{ sub(/^[0-9]+ \(.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

cpu_snap() {
	local machine cluster
	machine=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat)
	cluster=$( (cat /proc/[0-9]*/stat 2>/dev/null || true) | awk -v pm="$PM_PID" '
		{ pid = $1; sub(/^[0-9]+ \(.*\) /, "") }
		pid == pm { t += $12 + $13 + $14 + $15 }
		pid != pm && $2 == pm { t += $12 + $13 }
		END { print t + 0 }')
	echo "$(date +%s.%N) $machine $cluster $(proc_ticks "$SCHED_PID") $(proc_ticks "$WALWRITER_PID")"
}

# The live-task table under churn: updates, HOT updates, (auto)vacuums.
tasks_snap() {
	q "SELECT n_tup_upd, n_tup_hot_upd, autovacuum_count + vacuum_count, n_dead_tup,
	          pg_relation_size('workflow.tasks') / 8192, pg_indexes_size('workflow.tasks') / 8192
	   FROM pg_stat_user_tables WHERE relid = 'workflow.tasks'::regclass" | tr '|' ' '
}

cpu_begin() { sleep 0.2; CPU0=$(cpu_snap); TASKS0=$(tasks_snap); }

# cpu_end NAME [CLIENT_CPU_S]: emit the CPU used since cpu_begin.
cpu_end() {
	sleep 0.2	# let the postmaster reap the run's backends
	sleep 0.8	# statistics of exited backends
	python3 - "$1" "${2:-null}" "$CLK" "$(nproc)" $CPU0 $(cpu_snap) $TASKS0 $(tasks_snap) <<'PY' | tee -a "$LINES"
import json, sys
name, client, clk, ncpu = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
a = [float(x) for x in sys.argv[5:10]]
b = [float(x) for x in sys.argv[10:15]]
t0 = [int(x) for x in sys.argv[15:21]]
t1 = [int(x) for x in sys.argv[21:27]]
d = {"scenario": "cpu_" + name, "wall_s": round(b[0] - a[0], 3), "cores": ncpu,
     "machine_busy_cpu_s": round((b[1] - a[1]) / clk, 2),
     "cluster_cpu_s": round((b[2] - a[2]) / clk, 2),
     "scheduler_cpu_s": round((b[3] - a[3]) / clk, 2),
     "walwriter_cpu_s": round((b[4] - a[4]) / clk, 2),
     "tasks_updates": t1[0] - t0[0], "tasks_hot_updates": t1[1] - t0[1],
     "tasks_vacuums": t1[2] - t0[2], "tasks_dead_rows_end": t1[3],
     "tasks_heap_pages_end": t1[4], "tasks_index_pages_end": t1[5]}
if client != "null":
    d["client_cpu_s"] = round(float(client), 2)
    d["other_processes_cpu_s"] = round(d["machine_busy_cpu_s"] - d["cluster_cpu_s"] - d["client_cpu_s"], 2)
print("BENCH " + json.dumps(d))
PY
}

pgss_reset() { q "SELECT pg_stat_statements_reset()" >/dev/null; }

# Top statements since the last reset: where the time went.
pgss_dump() {
	{
		echo
		echo "--- pg_stat_statements, $1 (top 12 by total time; nested engine statements included) ---"
		"$PG_BINDIR/psql" -X -P pager=off -P format=aligned -c "
			SELECT calls, round(total_exec_time::numeric, 1) AS total_ms,
			       round(mean_exec_time::numeric, 4) AS mean_ms,
			       round((shared_blks_hit + shared_blks_read)::numeric / greatest(calls, 1), 1) AS blks_per_call,
			       round(wal_bytes::numeric / greatest(calls, 1)) AS wal_b_per_call,
			       regexp_replace(left(query, 150), '\s+', ' ', 'g') AS query
			FROM pg_stat_statements
			WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'bench')
			ORDER BY total_exec_time DESC LIMIT 12"
	} >>"$PROFILE"
}

# ---------------------------------------------------------------------
# 1. Baseline: pgbench, single-row INSERT + UPDATE by key
# ---------------------------------------------------------------------
# Prints: tps mean_latency_ms p50_ms p99_ms transactions
run_pgbench() {
	local clients=$1 seconds=$2 dir=$WORK/pgbench-$1 out
	mkdir -p "$dir"
	out=$(
		cd "$dir"
		TIMEFORMAT='PGBENCH_CPU %U %S'
		{ time "$PG_BINDIR/pgbench" -n -M prepared -f "$REPO/bench/baseline.pgbench" \
			-c "$clients" -j "$((clients < 2 ? 1 : 2))" -T "$seconds" -l --log-prefix=tx 2>&1; } 2>&1
	)
	local tps lat n
	tps=$(sed -n 's/^tps = \([0-9.]*\) (without.*/\1/p' <<<"$out")
	lat=$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' <<<"$out")
	n=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")
	local pcts
	pcts=$(cat "$dir"/tx.* | awk '{ print $3 / 1000.0 }' | sort -n |
		awk '{ v[NR] = $1 } END {
			i50 = int(NR * 0.50 + 0.999999); i99 = int(NR * 0.99 + 0.999999)
			printf "%.3f %.3f", v[i50], v[i99] }')
	local ccpu
	ccpu=$(awk '/^PGBENCH_CPU/ { print $2 + $3 }' <<<"$out")
	echo "$tps $lat $pcts $n ${ccpu:-null}"
}

log "1. baseline: pgbench warm-up (3 s, not reported)"
(cd "$WORK" && "$PG_BINDIR/pgbench" -n -M prepared -f "$REPO/bench/baseline.pgbench" \
	-c "$CLIENTS" -j 2 -T 3 >/dev/null 2>&1)
# run_baseline SUFFIX: pgbench with 8 clients, then 1.  It runs at the
# start and again before scenario 7; the table's yardstick is the better of
# the two (highest TPS, lowest p50 latency), so that a burst of load from
# other processes during one of them cannot flatter the ratios.
run_baseline() {
	local c secs tps lat p50 p99 n ccpu
	for c in "$CLIENTS" 1; do
		secs=$PGBENCH_SECONDS
		[[ $c == 1 ]] && secs=$PGBENCH1_SECONDS
		log "1. baseline$1: pgbench, $c client(s), $secs s"
		load_note "before baseline$1 c=$c"
		pgss_reset
		cpu_begin
		read -r tps lat p50 p99 n ccpu <<<"$(run_pgbench "$c" "$secs")"
		emit "BENCH {\"scenario\": \"baseline_c$c$1\", \"clients\": $c, \"seconds\": $secs, \"tps\": $tps, \"lat_mean_ms\": $lat, \"lat_p50_ms\": $p50, \"lat_p99_ms\": $p99, \"transactions\": $n}"
		cpu_end "baseline_c$c$1" "$ccpu"
		[[ $c == 1 || -n $1 ]] || pgss_dump "1. baseline, pgbench $c clients"
	done
}
run_baseline ""

# ---------------------------------------------------------------------
# 2. Start rate  /  3. Throughput
# ---------------------------------------------------------------------
log "2. start rate: $WORKFLOWS start_workflow() calls, $CLIENTS clients"
load_note "before start_rate"
pgss_reset
cpu_begin
loadgen start -c "$CLIENTS" -n "$WORKFLOWS" -p "w-"
cpu_end start_rate "$(bench_get start_rate loadgen_cpu_s)"
pgss_dump "2. start_rate"

log "3. throughput: $WORKERS LISTENing workers drain $WORKFLOWS workflows ($((WORKFLOWS * 4)) steps)"
load_note "before throughput"
pgss_reset
cpu_begin
loadgen drain -w "$WORKERS" -n "$WORKFLOWS" -b "$BATCH" -p "w-"
cpu_end throughput "$(bench_get throughput loadgen_cpu_s)"
pgss_dump "3. throughput"

# The engine's eager dispatch, when it has it: the same drain with
# workers that complete with complete_and_claim() for the next step's queue.
HAS_EAGER=$(q "SELECT to_regprocedure('workflow.complete_and_claim(bigint,jsonb,text,text,integer)') IS NOT NULL")
if [[ $HAS_EAGER == t ]]; then
	log "3b. throughput with eager dispatch (complete_and_claim): start $WORKFLOWS more, drain them"
	loadgen start -c "$CLIENTS" -n "$WORKFLOWS" -p "e-" --name start_rate_eager_setup
	load_note "before throughput_eager"
	pgss_reset
	cpu_begin
	loadgen drain --eager -w "$WORKERS" -n "$WORKFLOWS" -b "$BATCH" -p "e-"
	cpu_end throughput_eager "$(bench_get throughput_eager loadgen_cpu_s)"
	pgss_dump "3b. throughput_eager"
fi

# ---------------------------------------------------------------------
# 3c. Claim throughput under queue limits that do not bind
# ---------------------------------------------------------------------
# The same backlog claimed by 8 pgbench clients (max_tasks $BATCH, never
# reported) from a queue without limits, one with max_concurrency and one
# with a rate_limit, both far above the rate reached: what the limits
# cost when they are not binding, as ratios to the unlimited queue.  The
# tasks claimed stay in the table, so each queue is claimed from a larger
# table than the one before: the unlimited queue is measured first and
# last, and the ratios are to the mean of the two.
log "3c. claim throughput: $CLAIM_TASKS tasks per queue, 8 clients; no limit, max_concurrency, rate_limit"
q "CREATE FUNCTION public.bench_claim_one(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS \$\$
BEGIN RETURN workflow.activity('Claimed', input, input->>'queue'); END \$\$" >/dev/null
q "SELECT workflow.register_workflow('bench_claim_one', 'public.bench_claim_one(jsonb)')" >/dev/null
q "SELECT workflow.configure_queue('cq_concurrency', '{\"max_concurrency\": 1000000}')" >/dev/null
q "SELECT workflow.configure_queue('cq_rate', '{\"rate_limit\": {\"tasks\": 1000000, \"per\": \"1 second\"}}')" >/dev/null
for mode in none concurrency rate none_after; do
	q "SELECT count(workflow.start_workflow('bench_claim_one', jsonb_build_object('queue', 'cq_$mode', 'i', i)))
	   FROM generate_series(1, $CLAIM_TASKS) i" >/dev/null
	echo "SELECT count(*) FROM workflow.claim_activities('cq_$mode', 'bench', $BATCH);" >"$WORK/claim_$mode.sql"
	out=$(cd "$WORK" && "$PG_BINDIR/pgbench" -n -M prepared -c 8 -j 4 \
		-t $((CLAIM_TASKS / 8 / BATCH)) -f "$WORK/claim_$mode.sql" 2>&1)
	tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' <<<"$out" | tail -1)
	claimed=$(q "SELECT count(*) FROM workflow.tasks WHERE queue = 'cq_$mode' AND status = 'running'")
	emit "BENCH $(python3 -c "import json; t=float('$tps' or 0); n=$CLAIM_TASKS // 8 // $BATCH * 8; print(json.dumps({'scenario': 'claim_$mode', 'claims_per_s': round(t * $claimed / n, 1) if n else None, 'claimed': $claimed}))")"
done
# The claimed tasks are never reported: end their runs, so that their
# timeouts and retries do not load the scenarios after this one.
q "SELECT workflow.terminate_workflow(workflow_id) FROM workflow.workflows
   WHERE workflow_type = 'bench_claim_one' AND closed_at IS NULL" >/dev/null

# ---------------------------------------------------------------------
# 3d. Steps driven by pgbench (issue 17's independent check)
# ---------------------------------------------------------------------
# A four-step saga whose steps share one queue, so that any client can
# take any step.  8 pgbench clients step $WORKFLOWS of them, first claim
# then complete in two transactions per step, then (on as many new runs)
# claim $BATCH and complete them in one statement.  Each client stops at
# 80% of the steps, so that the queue never runs dry.  The tasks table is
# vacuumed first: the dead index entries earlier scenarios left at the head
# of the ready index would otherwise be walked by every claim.
log "3d. pgbench-driven steps: claim + complete (two transactions), claim $BATCH + complete $BATCH (one statement)"
q "SELECT workflow.register_saga('bench_steps4', '[{\"activity\": \"S1\", \"queue\": \"bsteps\"},
   {\"activity\": \"S2\", \"queue\": \"bsteps\"}, {\"activity\": \"S3\", \"queue\": \"bsteps\"},
   {\"activity\": \"S4\", \"queue\": \"bsteps\"}]')" >/dev/null
cat >"$WORK/steps_two.sql" <<'SQL'
SELECT COALESCE((SELECT task_id FROM workflow.claim_activities('bsteps', 'bench', 1)), 0) AS task_id \gset
\if :task_id
SELECT workflow.complete_activity(:task_id, '{}');
\endif
SQL
echo "SELECT count(workflow.complete_activity(task_id, '{}')) FROM workflow.claim_activities('bsteps', 'bench', $BATCH);" \
	>"$WORK/steps_batch.sql"
for mode in two batch; do
	per=$([[ $mode == two ]] && echo 1 || echo "$BATCH")
	q "SELECT count(workflow.start_workflow('bench_steps4', '{}'::jsonb)) FROM generate_series(1, $WORKFLOWS)" >/dev/null
	q "VACUUM workflow.tasks" >/dev/null
	q "CHECKPOINT" >/dev/null
	txs=$((WORKFLOWS * 4 * 8 / 10 / 8 / per))
	load_note "before steps_$mode"
	pgss_reset
	cpu_begin
	t0=$(date +%s.%N)
	out=$(
		cd "$WORK"
		TIMEFORMAT='PGBENCH_CPU %U %S'
		{ time "$PG_BINDIR/pgbench" -n -M prepared -c 8 -j 2 -t "$txs" -f "$WORK/steps_$mode.sql" 2>&1; } 2>&1
	)
	t1=$(date +%s.%N)
	cpu_end "steps_$mode" "$(awk '/^PGBENCH_CPU/ { print $2 + $3 }' <<<"$out")"
	tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' <<<"$out" | tail -1)
	steps=$(q "SELECT count(*) FROM workflow.history h JOIN workflow.workflows w USING (workflow_id, run_id)
	           WHERE w.workflow_type = 'bench_steps4' AND h.event_type = 'ActivityCompleted'")
	q "SELECT workflow.terminate_workflow(workflow_id) FROM workflow.workflows
	   WHERE workflow_type = 'bench_steps4' AND closed_at IS NULL" >/dev/null
	emit "BENCH $(python3 -c "import json; w=$t1-$t0; s=$steps-${STEPS_BEFORE:-0}; print(json.dumps({'scenario': 'steps_$mode', 'per_tx': $per, 'steps': s, 'seconds': round(w, 3), 'steps_per_s': round(s / w, 1), 'pgbench_tps': float('$tps' or 0)}))")"
	STEPS_BEFORE=$steps
	pgss_dump "3d. steps_$mode"
done

# ---------------------------------------------------------------------
# 4. Steady state
# ---------------------------------------------------------------------
if [[ -z $STEADY_RATE ]]; then
	wfps=$(bench_get throughput workflows_per_s)
	STEADY_RATE=$(python3 -c "print(max(1.0, round(${wfps:-100} * $STEADY_FRACTION, 1)))")
fi
log "4. steady state: $STEADY_RATE workflows/s for $STEADY_SECONDS s, $WORKERS workers"
load_note "before steady"
cpu_begin
loadgen steady -w "$WORKERS" -r "$STEADY_RATE" -s "$STEADY_SECONDS" -b "$BATCH" -p "s-" --timeout 120
cpu_end steady "$(bench_get steady loadgen_cpu_s)"
# The server's view of the same runs (created_at is the start's transaction time).
emit "BENCH $(q "SELECT json_build_object('scenario', 'steady_server',
	'workflows', count(*),
	'e2e_p50_ms', round((1000 * percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM closed_at - created_at)))::numeric, 3),
	'e2e_p95_ms', round((1000 * percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM closed_at - created_at)))::numeric, 3),
	'e2e_p99_ms', round((1000 * percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM closed_at - created_at)))::numeric, 3))
	FROM workflow.workflows WHERE workflow_id LIKE 's-%' AND closed_at IS NOT NULL")"

# ---------------------------------------------------------------------
# 5. Latency at concurrency 1
# ---------------------------------------------------------------------
log "5. latency: $LATENCY_WORKFLOWS workflows one at a time, one LISTENing worker per queue"
load_note "before latency_c1"
pgss_reset
cpu_begin
loadgen latency -n "$LATENCY_WORKFLOWS" -p "c1-"
cpu_end latency_c1 "$(bench_get latency_c1 loadgen_cpu_s)"
pgss_dump "5. latency_c1"
if [[ $HAS_EAGER == t ]]; then
	log "5b. latency with eager dispatch: $LATENCY_WORKFLOWS workflows one at a time, 4 workers serving every queue"
	load_note "before latency_c1_eager"
	cpu_begin
	loadgen latency --eager -n "$LATENCY_WORKFLOWS" -p "c1e-"
	cpu_end latency_c1_eager "$(bench_get latency_c1_eager loadgen_cpu_s)"
fi

# ---------------------------------------------------------------------
# 6. Timers
# ---------------------------------------------------------------------
# Start them all before the first is due: lead = 1.5 x the time scenario 2's
# rate needs for them, plus 2 s.
srate=$(bench_get start_rate starts_per_s)
LEAD=$(python3 -c "print(min(60.0, max(3.0, round(1.5 * $TIMERS / max(${srate:-500}, 1.0) + 2, 1))))")
log "6. timers: $TIMERS sleeps due over $TIMER_WINDOW s (first due after $LEAD s)"
load_note "before timers"
pgss_reset
cpu_begin
loadgen timers -c "$CLIENTS" -n "$TIMERS" -t bench_sleep -p "t-" --window "$TIMER_WINDOW" \
	--lead "$LEAD" --timeout 60
cpu_end timers
pgss_dump "6. timers (mostly the scheduler)"

# ---------------------------------------------------------------------
# 8. History length (before 7, which empties the history)
# ---------------------------------------------------------------------
log "8. history: step time at $HISTORY_LEVELS events of one run, $HISTORY_PROBES steps per level"
load_note "before history"
pgss_reset
cpu_begin
loadgen history -t bench_history -q history -n "$HISTORY_PROBES" --levels "$HISTORY_LEVELS" -p "h-"
cpu_end history
pgss_dump "8. history length (one run, one connection)"

run_baseline _end

# ---------------------------------------------------------------------
# 7. Scale
# ---------------------------------------------------------------------
log "7. scale: closed workflows $SCALE_LEVELS, $SCALE_PROBES sequential probes per level"
load_note "before scale"
# Every run so far is closed: empty the history so that each level holds
# exactly that many closed workflows (plain SQL, as the superuser).
open_runs=$(q "SELECT count(*) FROM workflow.workflows WHERE closed_at IS NULL")
if [[ $open_runs == 0 ]]; then
	q "TRUNCATE workflow.history, workflow.workflows" >/dev/null
else
	echo "bench: $open_runs runs still open; the scale levels also count the earlier scenarios' runs" >&2
	echo "note: $open_runs runs were still open before scenario 7; history not emptied" >>"$PROFILE"
fi
loadgen scale -n "$SCALE_PROBES" --levels "$SCALE_LEVELS" --pgss-top 12
load_note "end"

SCHED_PID_END=$(scheduler_pid)
read -r SCHED_RSS1 SCHED_ANON1 <<<"$(rss_of "$SCHED_PID_END")"
emit "BENCH {\"scenario\": \"memory\", \"scheduler_pid_start\": $SCHED_PID, \"scheduler_pid_end\": $SCHED_PID_END, \"scheduler_rss_kb_start\": $SCHED_RSS0, \"scheduler_rss_kb_end\": $SCHED_RSS1, \"scheduler_anon_kb_start\": $SCHED_ANON0, \"scheduler_anon_kb_end\": $SCHED_ANON1}"

T_END=$(date +%s)
ELAPSED=$((T_END - T_BEGIN))

# ---------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------
settings=$("$PG_BINDIR/psql" -X -A -t -F ' = ' -c "SELECT name, setting || coalesce(' ' || unit, '')
	FROM pg_settings WHERE name IN ('shared_buffers', 'fsync', 'synchronous_commit', 'wal_sync_method',
	'full_page_writes', 'wal_level', 'max_wal_size', 'checkpoint_timeout', 'wal_buffers',
	'commit_delay', 'max_connections', 'shared_preload_libraries', 'pg_stat_statements.track',
	'autovacuum', 'work_mem', 'huge_pages', 'jit') ORDER BY name")
pgversion=$(q "SELECT version()")

mkdir -p "$RESULTS_DIR"
{
	echo "workflow benchmark (make bench) -- $STAMP UTC on $HOST"
	echo
	echo "machine:    $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1),"
	echo "            $(awk '/MemTotal/ { printf "%.1f GiB RAM", $2 / 1048576 }' /proc/meminfo), kernel $(uname -r)"
	echo "postgres:   $pgversion"
	echo "extension:  commit $COMMIT$([[ $DIRTY != 0 ]] && echo " + $DIRTY uncommitted file(s) in src/ sql/")"
	echo "cluster:    tools/cluster.sh (fresh), $WF_CLUSTER_DIR, unix socket, postgres superuser"
	echo "settings:"
	sed 's/^/            /' <<<"$settings"
	echo "run:        $ELAPSED s for all scenarios; loadavg at start/end in the profile below"
	echo "            (other processes on this machine share its $(nproc) cores: see loadavg)"
	echo "knobs:      BENCH_WORKFLOWS=$WORKFLOWS BENCH_CLIENTS=$CLIENTS BENCH_WORKERS=$WORKERS BENCH_BATCH=$BATCH"
	echo "            BENCH_STEADY_RATE=$STEADY_RATE BENCH_STEADY_SECONDS=$STEADY_SECONDS BENCH_LATENCY_WORKFLOWS=$LATENCY_WORKFLOWS"
	echo "            BENCH_TIMERS=$TIMERS BENCH_TIMER_WINDOW=$TIMER_WINDOW BENCH_SCALE_LEVELS=$SCALE_LEVELS BENCH_SCALE_PROBES=$SCALE_PROBES"
	echo
	python3 - "$LINES" <<'PY'
import json, sys

runs = {}
scale = []
for line in open(sys.argv[1]):
    if not line.startswith("BENCH "):
        continue
    d = json.loads(line[6:])
    if d["scenario"] == "scale":
        scale.append(d)
    else:
        runs[d["scenario"]] = d

def g(s, k):
    return runs.get(s, {}).get(k)

def cpu_per(name, units):
    c = runs.get("cpu_" + name)
    return 1000 * c["cluster_cpu_s"] / units if c and units else None

def cpu_row(name, units, unit_name):
    c = runs.get("cpu_" + name)
    if not c:
        return
    per = cpu_per(name, units)
    if per is not None:
        row("", f"server CPU per {unit_name} (interference-robust)", per, "ms",
            ratio(per, cpu_tx) if name.startswith(("baseline", "start", "throughput", "steady", "steps")) else None)
    others = c.get("other_processes_cpu_s")
    avail = c["cores"] * c["wall_s"]
    row("", "CPU s: server; client; other processes; machine busy / available",
        f"{c['cluster_cpu_s']:.1f}; {c['client_cpu_s'] if 'client_cpu_s' in c else 'n/a'}; "
        f"{'n/a' if others is None else f'{others:.1f}'}; {c['machine_busy_cpu_s']:.1f} / {avail:.1f}"
        + ("  DISTURBED" if others is not None and others > 0.1 * avail else ""))
    if c.get("tasks_updates"):
        row("", "tasks table: HOT updates; vacuums; dead rows, heap+index pages at end",
            f"{c['tasks_hot_updates']}/{c['tasks_updates']}; {c['tasks_vacuums']}; "
            f"{c['tasks_dead_rows_end']:,}, {c['tasks_heap_pages_end']:,}+{c['tasks_index_pages_end']:,}")

rows = []

def row(scn, metric, value, unit="", ratio=None, target=None, ok=None):
    if value is None:
        v = "n/a"
    elif isinstance(value, str):
        v = value
    else:
        v = f"{value:,.1f}" if abs(value) >= 100 else f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"
    r = "" if ratio is None else f"{ratio:.2f}x"
    t = "" if target is None else target
    m = "" if ok is None else ("yes" if ok else "NO")
    rows.append((scn, metric, f"{v} {unit}".strip(), r, t, m))

def ratio(a, b):
    return None if a is None or not b else a / b

# The yardstick: the better of the two pgbench runs (start, end).
def best(key, pick, *names):
    vals = [runs[n][key] for n in names if n in runs and runs[n].get(key) is not None]
    return pick(vals) if vals else None

b8 = best("tps", max, "baseline_c8", "baseline_c8_end")
b1 = best("lat_p50_ms", min, "baseline_c1", "baseline_c1_end")
_c = [1000 * runs["cpu_" + n]["cluster_cpu_s"] / runs[n]["transactions"]
      for n in ("baseline_c8", "baseline_c8_end") if "cpu_" + n in runs and runs[n].get("transactions")]
cpu_tx = min(_c) if _c else None

row("1 baseline", "pgbench TPS, 8 clients (yardstick: best run)", b8, "tx/s", 1.0)
row("", "latency p50, 1 client (yardstick: best run)", b1, "ms", 1.0)
row("", "server CPU per pgbench tx, 8 clients (best run)", cpu_tx, "ms", 1.0)
for sfx, when in (("", "start"), ("_end", "end")):
    n8, n1 = "baseline_c8" + sfx, "baseline_c1" + sfx
    if n8 not in runs:
        continue
    row("", f"run at {when}: TPS 8 clients; p50 / p99 ms",
        f"{runs[n8]['tps']:,.0f}; {runs[n8]['lat_p50_ms']:.3f} / {runs[n8]['lat_p99_ms']:.3f}", "",
        ratio(runs[n8]["tps"], b8))
    cpu_row(n8, runs[n8].get("transactions"), "tx")
    if n1 in runs:
        row("", f"run at {when}: TPS 1 client; p50 / p99 / mean ms",
            f"{runs[n1]['tps']:,.0f}; {runs[n1]['lat_p50_ms']:.3f} / {runs[n1]['lat_p99_ms']:.3f} / {runs[n1]['lat_mean_ms']:.3f}", "",
            ratio(runs[n1]["lat_p50_ms"], b1))
        cpu_row(n1, None, "tx")

sr = g("start_rate", "starts_per_s")
row("2 start rate", f"start_workflow()/s, {g('start_rate','clients')} clients", sr, "calls/s",
    ratio(sr, b8), ">= 0.80x TPS", None if sr is None else sr / b8 >= 0.8)
row("", "start call p50 / p99",
    f"{g('start_rate','start_p50_ms'):.2f} / {g('start_rate','start_p99_ms'):.2f}" if sr else None, "ms")
cpu_row("start_rate", g("start_rate", "started"), "start")

sp = g("throughput", "steps_per_s")
row("3 throughput", f"activity steps/s ({g('throughput','workflows')} wf, {g('throughput','workers')} workers, batch {g('throughput','batch')})",
    sp, "steps/s", ratio(sp, b8), ">= 1.00x TPS", None if sp is None else sp / b8 >= 1.0)
row("", "workflows/s", g("throughput", "workflows_per_s"), "wf/s", ratio(g("throughput", "workflows_per_s"), b8))
row("", "drain time", g("throughput", "drain_seconds"), "s")
row("", "claims (empty) / notifications",
    f"{g('throughput','claims')} ({g('throughput','empty_claims')}) / {g('throughput','notifications')}" if sp else None)
row("", "claim call p50 / p99 (batch)",
    f"{g('throughput','claim_p50_ms'):.2f} / {g('throughput','claim_p99_ms'):.2f}" if sp else None, "ms")
cpu_row("throughput", g("throughput", "steps"), "step")
if sp:
    row("", "  of which worker backends / scheduler / WAL writer",
        f"{g('throughput','worker_backends_cpu_s'):.1f} / {runs['cpu_throughput']['scheduler_cpu_s']:.1f} / {runs['cpu_throughput']['walwriter_cpu_s']:.1f}" if "cpu_throughput" in runs else None, "CPU s")

cn_first, cn_last = g("claim_none", "claims_per_s"), g("claim_none_after", "claims_per_s")
cn = (cn_first + cn_last) / 2 if cn_first and cn_last else cn_first
row("3c claims", f"claims/s, no queue limit, mean of first and last (8 clients, batch {g('throughput','batch')})",
    cn, "tasks/s")
row("", "claims/s with max_concurrency (not binding), ratio to no limit",
    g("claim_concurrency", "claims_per_s"), "tasks/s", ratio(g("claim_concurrency", "claims_per_s"), cn))
row("", "claims/s with rate_limit (not binding), ratio to no limit",
    g("claim_rate", "claims_per_s"), "tasks/s", ratio(g("claim_rate", "claims_per_s"), cn))

for mode, label, goal in (("two", "claim then complete, two transactions per step", 0.45),
                          ("batch", f"claim {g('throughput','batch')} + complete them in one statement", 1.2)):
    st = runs.get("steps_" + mode)
    if not st:
        continue
    row("3d pgbench" if mode == "two" else "", f"{label}, 8 clients, steps/s", st["steps_per_s"], "steps/s",
        ratio(st["steps_per_s"], b8), f">= {goal:.2f}x TPS", st["steps_per_s"] / b8 >= goal if b8 else None)
    cpu_row("steps_" + mode, st.get("steps"), "step")

te = runs.get("throughput_eager", {})
if te:
    row("3b eager", f"steps/s with complete_and_claim ({te['workflows']} wf)", te["steps_per_s"], "steps/s",
        ratio(te["steps_per_s"], b8), ">= 1.00x TPS", te["steps_per_s"] / b8 >= 1.0 if b8 else None)
    row("", "workflows/s; eager-dispatched steps", f"{te['workflows_per_s']:.1f}; {te['eager_dispatched']}", "",
        ratio(te["workflows_per_s"], b8))
    row("", "complete(_and_claim) call p50 / p99",
        f"{te['complete_p50_ms']:.2f} / {te['complete_p99_ms']:.2f}", "ms")
    cpu_row("throughput_eager", te.get("steps"), "step")

e = runs.get("steady", {})
if e:
    row("4 steady", f"start rate target / achieved", f"{e['target_rate_per_s']:.1f} / {e['achieved_rate_per_s']:.1f}", "wf/s",
        ratio(e["achieved_rate_per_s"], b8))
    row("", "start-to-completion p50", e.get("e2e_p50_ms"), "ms", ratio(e.get("e2e_p50_ms"), b1))
    row("", "start-to-completion p95", e.get("e2e_p95_ms"), "ms", ratio(e.get("e2e_p95_ms"), b1))
    row("", "start-to-completion p99", e.get("e2e_p99_ms"), "ms", ratio(e.get("e2e_p99_ms"), b1))
    row("", "completed / started", f"{e['completed']} / {e['started']}")
    row("", "claims (empty)", f"{e['claims']} ({e['empty_claims']})")
    s = runs.get("steady_server", {})
    if s:
        row("", "server closed_at - created_at p50 / p99",
            f"{s['e2e_p50_ms']} / {s['e2e_p99_ms']}", "ms")
    cpu_row("steady", e.get("steps"), "step")

c = runs.get("latency_c1", {})
if c:
    p50, p99 = c.get("e2e_p50_ms"), c.get("e2e_p99_ms")
    row("5 latency c=1", f"start-to-completion p50 ({c['workflows']} wf)", p50, "ms", ratio(p50, b1), "<= 5x 1-client",
        None if p50 is None else p50 / b1 <= 5)
    row("", "start-to-completion p99", p99, "ms", ratio(p99, b1), "<= 15x 1-client",
        None if p99 is None else p99 / b1 <= 15)
    row("", "notification-to-claim p50 / p99",
        f"{c['notify_to_claim_p50_ms']:.2f} / {c['notify_to_claim_p99_ms']:.2f}", "ms",
        ratio(c["notify_to_claim_p50_ms"], b1))
    row("", "  commit -> NOTIFY arrives p50 / p99",
        f"{c['commit_to_notify_p50_ms']:.2f} / {c['commit_to_notify_p99_ms']:.2f}", "ms")
    row("", "  NOTIFY -> claim returned p50 / p99",
        f"{c['notify_arrival_to_claim_p50_ms']:.2f} / {c['notify_arrival_to_claim_p99_ms']:.2f}", "ms")
    row("", "start / complete call p50",
        f"{c['start_p50_ms']:.2f} / {c['complete_call_p50_ms']:.2f}", "ms")
    row("", "fallback polls (missed NOTIFY)", f"{c['fallback_polls_with_work']}")
    cpu_row("latency_c1", c.get("workflows"), "wf")
ce = runs.get("latency_c1_eager", {})
if ce:
    p50, p99 = ce.get("e2e_p50_ms"), ce.get("e2e_p99_ms")
    row("5b eager c=1", f"start-to-completion p50 ({ce['workflows']} wf, complete_and_claim)", p50, "ms",
        ratio(p50, b1), "<= 5x 1-client", None if p50 is None else p50 / b1 <= 5)
    row("", "start-to-completion p99", p99, "ms", ratio(p99, b1), "<= 15x 1-client",
        None if p99 is None else p99 / b1 <= 15)
    row("", "first notification-to-claim p50; complete_and_claim p50",
        f"{ce['first_notify_to_claim_p50_ms']:.2f}; {ce['complete_call_p50_ms']:.2f}", "ms")

t = runs.get("timers", {})
if t:
    row("6 timers", f"firing lateness p50 ({t['timers']} due over {t['window_s']:.0f} s)", t.get("late_p50_ms"), "ms")
    row("", "firing lateness p99", t.get("late_p99_ms"), "ms", None, "<= 20 ms",
        None if t.get("late_p99_ms") is None else t["late_p99_ms"] <= 20)
    row("", "firing lateness max", t.get("late_max_ms"), "ms")
    row("", "completed after due p50 / p99",
        f"{t['completed_after_due_p50_ms']:.2f} / {t['completed_after_due_p99_ms']:.2f}", "ms")
    row("", "fired / closed", f"{t['fired']} / {t['closed']} (due before started: {t['due_before_started']})")
    cpu_row("timers", None, None)
    if "cpu_timers" in runs:
        row("", "  scheduler CPU during the run", runs["cpu_timers"]["scheduler_cpu_s"], "s")

if scale:
    base = scale[0]
    for s in scale:
        lvl = s["closed_workflows"]
        first = s is base
        lab = f"{lvl:,} closed"
        tgt = None if first else "<= 1.20x smallest"
        row("7 scale" if first else "", f"{lab}: claim p50 / p99",
            f"{s['claim_p50_ms']:.3f} / {s['claim_p99_ms']:.3f}", "ms",
            ratio(s["claim_p50_ms"], base["claim_p50_ms"]), tgt,
            None if first else s["claim_p50_ms"] / base["claim_p50_ms"] <= 1.2)
        row("", f"{lab}: complete p50 / p99",
            f"{s['complete_p50_ms']:.3f} / {s['complete_p99_ms']:.3f}", "ms",
            ratio(s["complete_p50_ms"], base["complete_p50_ms"]), tgt,
            None if first else s["complete_p50_ms"] / base["complete_p50_ms"] <= 1.2)
        row("", f"{lab}: history rows (est.) / size / generated in",
            f"{s['history_rows']:,} / {s['history_mb']:,} MB / {s['generate_seconds']:.0f} s")
        row("", f"{lab}: backend / scheduler private RSS (VmRSS)",
            f"{s['backend_anon_kb']/1024:.1f} ({s['backend_rss_kb']/1024:.0f}) / {s['scheduler_anon_kb']/1024:.1f} ({s['scheduler_rss_kb']/1024:.0f})", "MB")

hist = [json.loads(l[6:]) for l in open(sys.argv[1])
        if l.startswith("BENCH ") and '"scenario": "history"' in l]
if hist:
    h0 = hist[0]
    for h in hist:
        first = h is h0
        lab = f"{h['level_events']:,} events"
        tgt = "<= 1.50x smallest" if h["level_events"] == 1000 else None
        cpu, cpu0 = h.get("step_backend_cpu_ms"), h0.get("step_backend_cpu_ms")
        row("8 history" if first else "", f"{lab}: step (claim + complete) p50 / p99",
            f"{h['step_p50_ms']:.3f} / {h['step_p99_ms']:.3f}", "ms", ratio(h["step_p50_ms"], b1))
        row("", f"{lab}: step p50, ratio to the smallest level's", "",
            "", ratio(h["step_p50_ms"], h0["step_p50_ms"]))
        row("", f"{lab}: backend CPU per step (interference-robust), ratio to the smallest level's",
            cpu, "ms", ratio(cpu, cpu0), tgt,
            None if tgt is None or not cpu or not cpu0 else cpu / cpu0 <= 1.5)
        row("", f"{lab}: complete p50; backend private RSS (VmRSS)",
            f"{h['complete_p50_ms']:.3f} ms; {h['backend_anon_kb']/1024:.1f} ({h['backend_rss_kb']/1024:.0f}) MB")
    row("", "(step p50 ratio: to the pgbench 1-client p50; the others to the 10-event level)", "")

m = runs.get("memory", {})
if m:
    row("memory", "scheduler private RSS start -> end (VmRSS)",
        f"{m['scheduler_anon_kb_start']/1024:.1f} -> {m['scheduler_anon_kb_end']/1024:.1f} ({m['scheduler_rss_kb_start']/1024:.0f} -> {m['scheduler_rss_kb_end']/1024:.0f})", "MB")
    tp = runs.get("throughput", {})
    if tp:
        row("", "worker backend private RSS, scenario 3 start -> end (VmRSS)",
            f"{tp['worker_backend_anon_kb_start']/1024:.1f} -> {tp['worker_backend_anon_kb_end']/1024:.1f} ({tp['worker_backend_rss_kb_start']/1024:.0f} -> {tp['worker_backend_rss_kb_end']/1024:.0f})", "MB")
    row("", "(private = RssAnon; VmRSS also counts the shared buffers a process touched)", "")

w = [max(len(r[i]) for r in rows + [("scenario", "metric", "value", "ratio", "target", "met")]) for i in range(6)]
hdr = ("scenario", "metric", "value", "ratio", "target", "met")
print("  ".join(h.ljust(w[i]) for i, h in enumerate(hdr)))
print("  ".join("-" * w[i] for i in range(6)))
for r in rows:
    print("  ".join(r[i].ljust(w[i]) if i != 3 else r[i].rjust(w[i]) for i in range(6)).rstrip())
print()
print("ratio: rates to the pgbench 8-client TPS, latencies to the pgbench 1-client p50 latency, CPU per")
print("unit to the server CPU per pgbench transaction -- the better of this run's two pgbench runs;")
print("scale ratios to the smallest level.  \"met\" is information, not an assertion.  DISTURBED: other")
print("processes on the machine took more than 10% of its CPU during that scenario.")
PY
	echo
	echo "--- machine-readable, one line per scenario ---"
	cat "$LINES"
	echo
	echo "--- profile ---"
	cat "$PROFILE"
} >"$RESULT"

echo
sed -n '/^scenario /,/^processes on the machine/p' "$RESULT"
echo
echo "bench: $ELAPSED s; results in ${RESULT#"$REPO"/}"
