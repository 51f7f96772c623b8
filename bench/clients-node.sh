#!/usr/bin/env bash
# Throughput of one pgworkflow Node.js worker process (clients/node) as a
# ratio to one workflow-worker process, in the same run on the same
# throwaway cluster: trivial activities, one queue, concurrency 8.
#
# Each round starts BENCH_TASKS one-activity workflows (their tasks wait on
# the queue), then times one worker process draining them (--max-tasks);
# the rounds alternate, BENCH_ROUNDS each, and the best round of each
# counts.  Nothing is asserted.  Prints one "BENCH {json}" line.
#
# Environment: PG_CONFIG (pg_config on PATH), BENCH_TASKS [2000],
# BENCH_ROUNDS [2], WF_CLUSTER_DIR [/tmp/wf-bench-node], WF_PORT [54510].
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
# shellcheck source=tools/pgconfig.bash
source tools/pgconfig.bash
pg_locate || exit 1
export PATH=$PG_BINDIR:$PATH
export WF_CLUSTER_DIR=${WF_CLUSTER_DIR:-/tmp/wf-bench-node} WF_PORT=${WF_PORT:-54510}
TASKS=${BENCH_TASKS:-2000}
ROUNDS=${BENCH_ROUNDS:-2}
WORKER=$PG_BINDIR/workflow-worker
[[ -x $REPO/worker/workflow-worker ]] && WORKER=$REPO/worker/workflow-worker

(cd clients/node && { [[ -d node_modules/pg ]] || npm ci --no-audit --no-fund --loglevel=error; })

tools/cluster.sh fresh >/dev/null
trap 'tools/cluster.sh stop >/dev/null 2>&1 || true' EXIT
eval "$(tools/cluster.sh env)"
export PGDATABASE=bench_clients
psql -X -q -d postgres -c "CREATE DATABASE bench_clients"
psql -X -q -v ON_ERROR_STOP=1 <<'SQL'
CREATE EXTENSION workflow;
CREATE FUNCTION noop_wf(input jsonb) RETURNS jsonb LANGUAGE plpgsql
	AS $$ BEGIN RETURN workflow.activity('Noop', input, 'bench'); END $$;
SELECT workflow.register_workflow('noop', 'noop_wf(jsonb)'::regprocedure);
SQL

enqueue() {
	psql -X -q -c "SELECT count(workflow.start_workflow('noop', '{}')) FROM generate_series(1, $TASKS)" >/dev/null
}

# Seconds (with fractions) the command takes.
timed() {
	local t0 t1
	t0=$(date +%s.%N)
	"$@"
	t1=$(date +%s.%N)
	echo "$t1 - $t0" | bc -l
}

run_workflow_worker() {
	"$WORKER" -q bench -c 8 --max-tasks "$TASKS" --handler Noop=/bin/cat 2>/dev/null
}

run_node() {
	node --input-type=module -e '
import { Worker } from "'"$REPO"'/clients/node/src/index.js";
const w = new Worker({ queues: ["bench"], concurrency: 8, maxTasks: Number(process.argv[1]),
  activities: { Noop: async () => ({}) }, log: () => {} });
await w.run();
' -- "$TASKS"
}

best_ww=0 best_node=0
for ((r = 1; r <= ROUNDS; r++)); do
	enqueue
	s=$(timed run_workflow_worker)
	rate=$(echo "$TASKS / $s" | bc -l)
	printf 'round %d workflow-worker: %d tasks in %.2f s, %.0f tasks/s\n' "$r" "$TASKS" "$s" "$rate"
	(($(echo "$rate > $best_ww" | bc -l))) && best_ww=$rate
	enqueue
	s=$(timed run_node)
	rate=$(echo "$TASKS / $s" | bc -l)
	printf 'round %d pgworkflow (node): %d tasks in %.2f s, %.0f tasks/s\n' "$r" "$TASKS" "$s" "$rate"
	(($(echo "$rate > $best_node" | bc -l))) && best_node=$rate
done
open=$(psql -X -A -t -c "SELECT count(*) FROM workflow.workflows WHERE status <> 'completed'")
ratio=$(echo "$best_node / $best_ww" | bc -l)
printf 'BENCH {"scenario": "clients_node", "tasks": %d, "concurrency": 8, "workflow_worker_tasks_per_s": %.0f, "node_tasks_per_s": %.0f, "ratio_node_to_workflow_worker": %.2f, "not_completed": %d}\n' \
	"$TASKS" "$best_ww" "$best_node" "$ratio" "$open"
