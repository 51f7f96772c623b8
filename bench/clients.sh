#!/usr/bin/env bash
# Worker throughput per process: trivial activities, one queue,
# concurrency 8, for workflow-worker (its handler is /bin/cat: a fork and
# exec per task) and the Python library's Worker (clients/python: an
# async activity, and a plain function run in a thread), as tasks per
# second and as a ratio to workflow-worker in the same run.  Not part of
# make bench; run it as root after make install:
#
#   PG_CONFIG=... WF_CLUSTER_DIR=/tmp/wf-clients WF_PORT=54510 bench/clients.sh
#
# Knobs: CLIENTS_TASKS one-activity workflows drained per measure (3000),
# CLIENTS_ROUNDS measures per worker, alternating (3).  Each measure
# starts the tasks first, then times one worker process from its start to
# its exit on the empty queue (--once / until_idle).  Nothing is asserted.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
TASKS=${CLIENTS_TASKS:-3000}
ROUNDS=${CLIENTS_ROUNDS:-3}
PY=/usr/bin/python3
export WF_CLUSTER_DIR=${WF_CLUSTER_DIR:-/tmp/wf-clients}
trap '"$REPO/tools/cluster.sh" stop >/dev/null 2>&1 || true' EXIT

"$REPO/tools/cluster.sh" fresh >/dev/null
eval "$("$REPO/tools/cluster.sh" env)"
WORKER=$("${PG_CONFIG:-pg_config}" --bindir)/workflow-worker
q() { psql -X -A -t -q -v ON_ERROR_STOP=1 -c "$1"; }
now_s() { date +%s.%N; }

q "CREATE EXTENSION workflow" >/dev/null
q "CREATE FUNCTION job(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS \$\$
BEGIN RETURN workflow.activity('Step', input, 'bq'); END \$\$" >/dev/null
q "SELECT workflow.register_workflow('job', 'job(jsonb)')" >/dev/null

PY_WORKER='
import sys
sys.path.insert(0, sys.argv[1])
from pgworkflow import Worker
w = Worker("", ["bq"], 8, poll_interval=1)
if sys.argv[2] == "async":
    async def step(inp):
        return inp
else:
    def step(inp):
        return inp
w.register("Step", step)
w.run_sync(until_idle=True)
'

# Time one worker draining TASKS ready tasks; print tasks per second.
measure() {
	local kind=$1 t0 t1
	q "SELECT count(workflow.start_workflow('job', jsonb_build_object('i', i))) FROM generate_series(1, $TASKS) i" >/dev/null
	t0=$(now_s)
	case $kind in
	workflow-worker) "$WORKER" -q bq -c 8 --once --handler Step=/bin/cat 2>/dev/null ;;
	python-async) "$PY" -c "$PY_WORKER" "$REPO/clients/python" async ;;
	python-thread) "$PY" -c "$PY_WORKER" "$REPO/clients/python" thread ;;
	esac
	t1=$(now_s)
	local left
	left=$(q "SELECT count(*) FROM workflow.workflows WHERE closed_at IS NULL")
	((left == 0)) || { echo "$kind left $left runs open" >&2; exit 1; }
	echo "$t0 $t1" | awk -v n="$TASKS" '{ printf "%.0f", n / ($2 - $1) }'
}

declare -A SUM
KINDS=(workflow-worker python-async python-thread)
echo "tasks per second, one worker process, concurrency 8, $TASKS tasks per measure"
for ((r = 1; r <= ROUNDS; r++)); do
	line="round $r:"
	for kind in "${KINDS[@]}"; do
		rate=$(measure "$kind")
		SUM[$kind]=$(( ${SUM[$kind]:-0} + rate ))
		line+=" $kind $rate"
	done
	echo "$line"
done
ww=$(( SUM[workflow-worker] / ROUNDS ))
for kind in "${KINDS[@]}"; do
	avg=$(( SUM[$kind] / ROUNDS ))
	awk -v k="$kind" -v a="$avg" -v w="$ww" 'BEGIN { printf "%-16s %6d tasks/s  ratio to workflow-worker %.2f\n", k, a, a / w }'
done
