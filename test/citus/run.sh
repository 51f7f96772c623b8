#!/usr/bin/env bash
# make test-citus: the workflow extension on a three-node Citus cluster
# (test/citus/cluster.sh: a coordinator and two workers on this machine).
# Shows what issue 18 asks (doc/citus.md): the seed saga and 1,000
# four-step workflows complete with one workflow-worker connected to each
# worker node; every run's history is gapless; each workflow's rows are on
# one node; a worker node stopped with -m immediate and restarted mid-load
# loses and duplicates nothing.  Ends with "N passed, N failed".
#
# Environment: PG_CONFIG, WF_CITUS_DIR, WF_CITUS_PORT (test/citus/cluster.sh),
#   WF_CITUS_RUNS   four-step workflows to start (default 1000)
#   WF_CITUS_WAIT   seconds allowed for them to finish (default 240)
#   WF_CITUS_KILL   0: do not stop node 2 (to measure throughput; default 1)
#   WF_CITUS_KEEP   1: leave the cluster running at the end
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CLUSTER=$REPO/test/citus/cluster.sh
RUNS=${WF_CITUS_RUNS:-1000}
WAIT=${WF_CITUS_WAIT:-240}
PORT0=${WF_CITUS_PORT:-5610}
LOGDIR=$(mktemp -d /tmp/citus-test.XXXXXX)
chmod 755 "$LOGDIR"
# shellcheck source=tools/pgconfig.bash
source "$REPO/tools/pgconfig.bash"
pg_locate || exit 1
WORKER_BIN=$PG_BINDIR/workflow-worker
PASSED=0
FAILED=0
WORKERS=()

q() { "$CLUSTER" psql "$@"; }
val() { "$CLUSTER" psql "$1" -At -c "$2"; }

check() {
	local what=$1
	shift
	if "$@"; then
		echo "ok - $what"
		PASSED=$((PASSED + 1))
	else
		echo "not ok - $what"
		FAILED=$((FAILED + 1))
	fi
}

# Stop the workers and (unless WF_CITUS_KEEP=1) the cluster; the closing
# line; a non-zero status when a check failed or the script stopped early.
finish() {
	local rc=$? pid
	for pid in "${WORKERS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${WORKERS[@]}"; do wait "$pid" 2>/dev/null || true; done
	if [[ ${WF_CITUS_KEEP:-0} == 1 ]]; then
		echo "(logs: $LOGDIR; cluster left running under ${WF_CITUS_DIR:-/tmp/citus-cluster}: $CLUSTER stop)"
	else
		"$CLUSTER" stop >/dev/null 2>&1 || true
		echo "(logs: $LOGDIR)"
	fi
	if ((rc != 0 && FAILED == 0)); then
		echo "not ok - the test stopped early (exit status $rc)"
		FAILED=1
	fi
	echo "$PASSED passed, $FAILED failed"
	((FAILED == 0)) || exit 1
}
trap finish EXIT

echo "== a coordinator and two workers, shared_preload_libraries = 'citus,workflow'"
"$CLUSTER" fresh >"$LOGDIR/cluster.log"
q 0 -c "SELECT workflow.distribute(shard_count => 8)" >/dev/null
check "distribute(): run tables hash-distributed by workflow_id in one co-location group" \
	test "$(val 0 "SELECT count(DISTINCT colocationid) || '/' || count(*) FROM pg_dist_partition
		WHERE partmethod = 'h' AND logicalrelid::text LIKE 'workflow.%'")" = "1/8"
check "distribute(): registry, grants, queue limits and schedules are reference tables" \
	test "$(val 0 "SELECT count(*) FROM pg_dist_partition
		WHERE partmethod = 'n' AND logicalrelid::text LIKE 'workflow.%'")" = 4
check "both worker nodes hold shards" \
	test "$(val 0 "SELECT count(DISTINCT groupid) FROM pg_dist_placement p JOIN pg_dist_shard s USING (shardid)
		WHERE s.logicalrelid = 'workflow.workflows'::regclass")" = 2

# The seed saga (examples/order/setup.sql) with a 10 s lease per step: a
# task claimed through the node that is stopped is retried when its lease
# ends (a crash loses the node's record of ended sessions, as on one node).
q 0 <<'SQL'
SELECT workflow.register_saga('order', '[
	{"activity": "ReserveInventory", "queue": "inventory", "compensation": "ReleaseInventory",
	 "options": {"start_to_close_timeout": "10 seconds"}},
	{"activity": "ChargePayment", "queue": "payments", "compensation": "RefundPayment",
	 "options": {"start_to_close_timeout": "10 seconds"}},
	{"activity": "CreateShipment", "queue": "shipping",
	 "options": {"start_to_close_timeout": "10 seconds",
				 "retry": {"maximum_attempts": 3, "initial_interval": "1 second"}}},
	{"activity": "SendConfirmation", "queue": "notifications",
	 "options": {"start_to_close_timeout": "10 seconds"}}
]');
CREATE FUNCTION public.four_steps(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE r jsonb := input;
BEGIN
	FOR i IN 1 .. 4 LOOP
		r := workflow.activity('Step', jsonb_build_object('step', i, 'prev', r), 'steps',
							   '{"start_to_close_timeout": "10 seconds"}');
	END LOOP;
	RETURN r;
END $$;
SELECT workflow.register_workflow('four_steps', 'public.four_steps(jsonb)');
-- For describe, retry_now and reset: an activity on a queue nobody serves,
-- started by a parent as its child; one that fails and backs off for an hour.
CREATE FUNCTION public.idle(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	RETURN workflow.activity('Idle', input, 'idle');
END $$;
SELECT workflow.register_workflow('idle', 'public.idle(jsonb)');
CREATE FUNCTION public.parent(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	RETURN workflow.child_workflow('idle', input, input->>'child');
END $$;
SELECT workflow.register_workflow('parent', 'public.parent(jsonb)');
CREATE FUNCTION public.flaky(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	RETURN workflow.activity('Flaky', input, 'steps',
		'{"retry": {"maximum_attempts": 2, "initial_interval": "1 hour"}}');
END $$;
SELECT workflow.register_workflow('flaky', 'public.flaky(jsonb)');
SQL

HANDLER=$REPO/examples/order/handlers/activity.sh
# A worker's session refuses any statement Citus would run on more than
# one shard (citus.multi_task_query_log_level = error): its claims are
# per local shard, and its reports name the task's run (the workflow_id
# overloads), so each of their reads is routed to the run's shard.
WORKER_OPTIONS="options='-c citus.multi_task_query_log_level=error'"
echo "== one workflow-worker per worker node, each serving every queue"
start_worker() {
	local n=$1
	"$WORKER_BIN" -d "host=127.0.0.1 port=$((PORT0 + n)) dbname=${WF_CITUS_DB:-postgres} user=postgres $WORKER_OPTIONS" \
		-q inventory -q payments -q shipping -q notifications -q steps -c 4 -b 10 --poll-interval 1 --worker-id "node$n" \
		--handler ReserveInventory="$HANDLER" --handler ReleaseInventory="$HANDLER" \
		--handler ChargePayment="$HANDLER" --handler RefundPayment="$HANDLER" \
		--handler CreateShipment="$HANDLER" --handler SendConfirmation="$HANDLER" \
		--handler Step=/bin/cat --handler Flaky=/bin/false 2>>"$LOGDIR/worker$n.log" &
	WORKERS+=($!)
}
start_worker 1
start_worker 2

echo "== the seed saga (four orders, order-3's carrier down) and $RUNS four-step workflows"
q 0 -At <<'SQL' >/dev/null
SELECT workflow.start_workflow('order', '{"order_id": "order-1", "items": 2}', 'order-1');
SELECT workflow.start_workflow('order', '{"order_id": "order-2", "items": 1}', 'order-2');
SELECT workflow.start_workflow('order', '{"order_id": "order-3", "items": 5, "carrier_down": true}', 'order-3');
SELECT workflow.start_workflow('order', '{"order_id": "order-4", "items": 3}', 'order-4');
SQL
half=$((RUNS / 2))
started=$(date +%s.%N)
q 0 -At -c "SELECT count(workflow.start_workflow('four_steps', '{}', 'steps-' || i)) FROM generate_series(1, $half) i" >/dev/null

if [[ ${WF_CITUS_KILL:-1} != 0 ]]; then
	echo "== node 2 stopped with -m immediate mid-load, restarted 3 s later"
	for _ in $(seq 1 60); do
		done_runs=$(val 0 "SELECT count(*) FROM workflow.workflows WHERE status = 'completed'")
		((done_runs >= half / 4)) && break
		sleep 0.5
	done
	echo "   ($done_runs runs completed when node 2 went down)"
	"$CLUSTER" kill 2 >/dev/null
	sleep 3
	"$CLUSTER" restart 2 >/dev/null
fi
q 0 -At -c "SELECT count(workflow.start_workflow('four_steps', '{}', 'steps-' || i)) FROM generate_series($((half + 1)), $RUNS) i" >/dev/null

echo "== waiting for every run to close (at most ${WAIT}s)"
open=-1
for _ in $(seq 1 $((WAIT * 2))); do
	open=$(val 0 "SELECT count(*) FROM workflow.workflows WHERE closed_at IS NULL" 2>/dev/null || echo -1)
	[[ $open == 0 ]] && break
	sleep 0.5
done
finished=$(date +%s.%N)
check "every run closed (open: $open)" test "$open" = 0
# Not a check: the rate, and each node's share (the completions of the
# worker connected to it).
val 0 "SELECT format('   %s activity tasks in %s s from the first start: %s tasks/s; by worker: %s',
		sum(n), round($finished - $started, 1), round(sum(n) / ($finished - $started), 0),
		string_agg(w || ' ' || n, ', ' ORDER BY w))
	FROM (SELECT s.data->>'worker_id' w, count(*) n
			FROM workflow.history c JOIN workflow.history s
			  ON s.workflow_id = c.workflow_id AND s.run_id = c.run_id
			 AND s.event_type = 'ActivityStarted' AND s.data->'task_id' = c.data->'task_id'
		   WHERE c.event_type = 'ActivityCompleted' GROUP BY 1) c"
check "$RUNS four-step workflows completed" \
	test "$(val 0 "SELECT count(*) FROM workflow.workflows WHERE workflow_type = 'four_steps' AND status = 'completed'")" = "$RUNS"
check "seed saga: order-1, 2, 4 completed, order-3 compensated" \
	test "$(val 0 "SELECT string_agg(workflow_id || '=' || status, ' ' ORDER BY workflow_id)
		FROM workflow.workflows WHERE workflow_type = 'order'")" = \
	"order-1=completed order-2=completed order-3=compensated order-4=completed"
check "one run per workflow_id (nothing started twice)" \
	test "$(val 0 "SELECT count(*) FROM (SELECT workflow_id FROM workflow.workflows GROUP BY 1 HAVING count(*) > 1) d")" = 0
check "every run's history is gapless (event ids 1 .. last_event_id)" \
	test "$(val 0 "SELECT count(*) FROM workflow.workflows w
		JOIN (SELECT workflow_id, run_id, count(*) n, min(event_id) lo, max(event_id) hi
				FROM workflow.history GROUP BY 1, 2) h USING (workflow_id, run_id)
		WHERE NOT (h.lo = 1 AND h.hi = h.n AND h.hi = w.last_event_id)")" = 0
check "each step of each four-step run completed exactly once" \
	test "$(val 0 "SELECT count(*) FROM (SELECT workflow_id, data->>'seq' FROM workflow.history
		WHERE event_type = 'ActivityCompleted' AND workflow_id LIKE 'steps-%' GROUP BY 1, 2
		HAVING count(*) <> 1) d") $(val 0 "SELECT count(*) FROM workflow.history
		WHERE event_type = 'ActivityCompleted' AND workflow_id LIKE 'steps-%'")" = "0 $((RUNS * 4))"
check "no task left behind" test "$(val 0 "SELECT count(*) FROM workflow.tasks")" = 0

# Where each workflow's rows are: on each worker node, the workflow_ids
# of the rows in that node's own shards of every table.
rows_on_node() {
	val "$1" "SELECT string_agg(format('SELECT DISTINCT workflow_id FROM workflow.%I', s.rel), ' UNION ')
		FROM (SELECT (parse_ident(logicalrelid::text))[2] || '_' || shardid AS rel
				FROM pg_dist_shard JOIN pg_dist_placement USING (shardid)
				WHERE logicalrelid::text IN ('workflow.workflows', 'workflow.history', 'workflow.state',
					'workflow.tasks', 'workflow.timers', 'workflow.signals')
				AND groupid = (SELECT groupid FROM pg_dist_local_group)) s" >"$LOGDIR/query$1.sql"
	val "$1" "$(cat "$LOGDIR/query$1.sql")" | sort -u
}
rows_on_node 1 >"$LOGDIR/ids1"
rows_on_node 2 >"$LOGDIR/ids2"
check "each workflow's rows are on one node ($(wc -l <"$LOGDIR/ids1") + $(wc -l <"$LOGDIR/ids2") ids)" \
	test "$(comm -12 "$LOGDIR/ids1" "$LOGDIR/ids2" | wc -l) $(cat "$LOGDIR/ids1" "$LOGDIR/ids2" | wc -l)" = "0 $((RUNS + 4))"
check "the node of every run's shard holds its rows (get_shard_id_for_distribution_column)" \
	test "$(val 0 "SELECT count(*) FROM workflow.workflows w
		JOIN pg_dist_placement p ON p.shardid = get_shard_id_for_distribution_column('workflow.workflows', w.workflow_id)
		JOIN pg_dist_node n USING (groupid)
		WHERE n.nodeport <> CASE WHEN w.workflow_id IN ($(sed "s/.*/'&'/" "$LOGDIR/ids1" | paste -sd, -))
			THEN $((PORT0 + 1)) ELSE $((PORT0 + 2)) END")" = 0
check "reports are routed: no worker's statement ran on more than one shard" \
	test "$(cat "$LOGDIR"/worker*.log | grep -c 'multi-task query about to be executed')" = 0
check "... which a report naming no run would (its first read visits every shard)" \
	test "$(val 1 "SET citus.multi_task_query_log_level = error;
		SELECT workflow.complete_activity(1, '{}')" 2>&1 | grep -c 'multi-task query about to be executed')" = 1
check "both workers completed tasks" \
	test "$(val 0 "SELECT string_agg(DISTINCT data->>'worker_id', ' ') FROM workflow.history
		WHERE event_type = 'ActivityStarted'")" = "node1 node2"

echo "== describe, timeline, await_result, retry_now, reset on every node"
# A parent (on one worker node, say) whose child waits on a queue nobody
# serves; a flaky activity backing off for an hour.
q 0 -At <<'SQL' >/dev/null
SELECT workflow.start_workflow('parent', '{"child": "child-1"}', 'parent-1');
SELECT workflow.start_workflow('flaky', '{}', 'flaky-1');
SQL
for _ in $(seq 1 60); do
	[[ $(val 0 "SELECT count(*) FROM workflow.tasks WHERE workflow_id IN ('child-1', 'flaky-1')
		AND status IN ('ready', 'backoff')") == 2 ]] && break
	sleep 0.5
done
for n in 0 1 2; do
	check "node $n: describe of a closed run (status, events)" \
		test "$(val $n "SELECT d->>'status', d->'events', d->'waiting_on'
			FROM (SELECT workflow.describe('steps-1') d) x")|$(val 0 "SELECT last_event_id
			FROM workflow.workflows WHERE workflow_id = 'steps-1'")" = "completed|14|[]|14"
	check "node $n: describe of a parent waiting on its child, on another shard" \
		test "$(val $n "SELECT string_agg(i->>'kind' || ' ' || (i->>'workflow_id') || ' ' || (i->>'status'), ',')
			FROM jsonb_array_elements(workflow.describe('parent-1')->'waiting_on') i")" = "child child-1 running"
	check "node $n: describe of a run waiting on an activity" \
		test "$(val $n "SELECT string_agg(concat_ws(' ', i->>'kind', i->>'activity', i->>'queue', i->>'state'), ',')
			FROM jsonb_array_elements(workflow.describe('child-1')->'waiting_on') i")" = "activity Idle idle ready"
	check "node $n: timeline (the run and its four activities)" \
		test "$(val $n "SELECT string_agg(kind || ':' || COALESCE(outcome, '-'), ' ' ORDER BY started_at, kind)
			FROM workflow.timeline('steps-1')")" = \
		"run:completed activity:completed activity:completed activity:completed activity:completed"
	check "node $n: await_result of a closed run" \
		test "$(val $n "SELECT workflow.await_result('steps-1', '5 seconds')->'step'")" = 4
done
# Woken where the run closes, or by the bounded re-check (doc/citus.md).
q 0 -At -c "SELECT workflow.start_workflow('four_steps', '{}', 'await-' || i) FROM generate_series(0, 2) i" >/dev/null
for n in 0 1 2; do
	val $n "SELECT workflow.await_result('await-$n', '60 seconds')->'step'" >"$LOGDIR/await$n" 2>&1 &
	AWAITS[n]=$!
done
for n in 0 1 2; do
	wait "${AWAITS[n]}" || true
	check "node $n: await_result waits for a run that another node closes" test "$(cat "$LOGDIR/await$n")" = 4
done
check "describe shows the flaky activity backing off" \
	test "$(val 0 "SELECT string_agg(concat_ws(' ', i->>'kind', i->>'attempt', i->>'state'), ',')
		FROM jsonb_array_elements(workflow.describe('flaky-1')->'waiting_on') i WHERE i ? 'last_error'")" = \
	"activity 2 backing_off"
check "retry_now makes the backing-off attempt due now" test "$(val 0 "SELECT workflow.retry_now('flaky-1')")" = 1
for _ in $(seq 1 60); do
	[[ $(val 0 "SELECT status FROM workflow.workflows WHERE workflow_id = 'flaky-1'") == failed ]] && break
	sleep 0.5
done
check "... and the second attempt ran and failed the run" \
	test "$(val 0 "SELECT status || ' ' || (SELECT count(*) FROM workflow.history h WHERE h.workflow_id = 'flaky-1'
		AND event_type = 'ActivityFailed') FROM workflow.workflows WHERE workflow_id = 'flaky-1'")" = "failed 2"
# reset steps-2 to its first activity's completion: a new run replays it,
# runs the other three again and completes.
reset_to=$(val 0 "SELECT event_id FROM workflow.history WHERE workflow_id = 'steps-2'
	AND event_type = 'ActivityCompleted' ORDER BY event_id LIMIT 1")
check "reset_workflow of a closed run" \
	test -n "$(val 0 "SELECT workflow.reset_workflow('steps-2', $reset_to, 'citus test')")"
for _ in $(seq 1 60); do
	[[ $(val 0 "SELECT count(*) FROM workflow.workflows WHERE workflow_id = 'steps-2' AND status = 'completed'") == 2 ]] && break
	sleep 0.5
done
check "... its new run completed, with the same result" \
	test "$(val 0 "SELECT count(DISTINCT result) || ' ' || count(*) FROM workflow.workflows
		WHERE workflow_id = 'steps-2' AND status = 'completed'")" = "1 2"

echo "== the Python and Node workers, one of each per worker node, report routed too"
q 0 -At <<'SQL' >/dev/null
CREATE FUNCTION public.client_step(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	RETURN workflow.activity('Echo', input, input->>'queue', '{"retry": {"maximum_attempts": 1}}');
END $$;
SELECT workflow.register_workflow('client_step', 'public.client_step(jsonb)');
SQL
client_workers() {
	local lang=$1 n
	for n in 1 2; do
		local conninfo="host=127.0.0.1 port=$((PORT0 + n)) dbname=${WF_CITUS_DB:-postgres} user=postgres $WORKER_OPTIONS"
		if [[ $lang == py ]]; then
			PYTHONPATH=$REPO/clients/python /usr/bin/python3 "$REPO/test/citus/py_worker.py" "$conninfo" "py$n" \
				>>"$LOGDIR/py$n.log" 2>&1 &
		else
			node "$REPO/test/citus/node_worker.mjs" "$conninfo" "js$n" >>"$LOGDIR/js$n.log" 2>&1 &
		fi
		WORKERS+=($!)
	done
}
for lang in py js; do
	if [[ $lang == py ]] && ! /usr/bin/python3 -c 'import psycopg' 2>/dev/null; then
		echo "   (no python3-psycopg: the Python worker is not run)"
		continue
	fi
	if [[ $lang == js ]] && { ! command -v node >/dev/null || [[ ! -d $REPO/clients/node/node_modules/pg ]]; }; then
		echo "   (no node or clients/node/node_modules: the Node worker is not run)"
		continue
	fi
	client_workers $lang
	q 0 -At -c "SELECT count(workflow.start_workflow('client_step',
		jsonb_build_object('queue', '$lang', 'i', i, 'fail', i % 5 = 0), '$lang-' || i))
		FROM generate_series(1, 20) i" >/dev/null
	for _ in $(seq 1 120); do
		[[ $(val 0 "SELECT count(*) FROM workflow.workflows WHERE workflow_id LIKE '$lang-%' AND closed_at IS NULL") == 0 ]] && break
		sleep 0.5
	done
	check "$lang workers: 16 runs completed, 4 failed for good (heartbeats, completions, failures)" \
		test "$(val 0 "SELECT string_agg(status || ' ' || n, ', ' ORDER BY status) FROM (SELECT status, count(*) n
			FROM workflow.workflows WHERE workflow_id LIKE '$lang-%' GROUP BY 1) s")" = "completed 16, failed 4"
	check "$lang workers on both nodes, no statement of theirs on more than one shard" \
		test "$(val 0 "SELECT string_agg(DISTINCT data->>'worker_id', ' ') FROM workflow.history
			WHERE event_type = 'ActivityStarted' AND workflow_id LIKE '$lang-%'") $(cat "$LOGDIR/$lang"*.log |
			grep -c 'multi-task query about to be executed')" = "${lang}1 ${lang}2 0"
done

echo "== what Citus cannot do is refused with a clear error, and changes nothing"
# The SQLSTATE a statement on node N fails with (empty if it succeeds).
sqlstate() {
	"$CLUSTER" psql "$1" -v VERBOSITY=verbose -c "$2" 2>&1 >/dev/null |
		sed -n 's/^ERROR:  \([0-9A-Z]\{5\}\):.*/\1/p' | head -n 1
}
check "a second distribute() is refused (55000)" \
	test "$(sqlstate 0 "SELECT workflow.distribute()")" = 55000
check "a workflow type with max_running is refused (0A000, saying why), and not registered" \
	test "$(sqlstate 0 "SELECT workflow.register_workflow('limited', 'public.four_steps(jsonb)',
		'{\"max_running\": 2}')")/$("$CLUSTER" psql 0 -c "SELECT workflow.register_workflow('limited',
		'public.four_steps(jsonb)', '{\"max_running\": 2}')" 2>&1 |
		grep -c 'option "max_running" is not supported where the workflow tables are distributed')/$(val 0 \
		"SELECT count(*) FROM workflow.workflow_types WHERE workflow_type = 'limited'")" = 0A000/1/0
q 0 -c "SELECT workflow.configure_queue('keyed', '{\"key_concurrency\": 1}')" >/dev/null
check "a claim from a queue with key_concurrency is refused (0A000) on every worker node" \
	test "$(sqlstate 1 "SELECT workflow.claim_activities('keyed', 'w', 1)")$(sqlstate 2 \
		"SELECT workflow.claim_activities('keyed', 'w', 1)")" = 0A0000A000

echo "== a database without the citus extension, on a node that preloads Citus"
# shared_preload_libraries loads Citus for every database; workflow must not
# read Citus's catalogs where the citus extension is not created.
q 0 -d postgres -c "DROP DATABASE IF EXISTS plain" >/dev/null 2>&1 || true
q 0 -d postgres -c "CREATE DATABASE plain" >/dev/null 2>&1
q 0 -d plain >/dev/null <<'SQL'
CREATE EXTENSION workflow;
CREATE FUNCTION public.one_step(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	RETURN workflow.activity('Step', input, 'plain');
END $$;
SELECT workflow.register_workflow('one_step', 'public.one_step(jsonb)');
SELECT workflow.start_workflow('one_step', '{"n": 1}', 'plain-1');
SQL
plain() { "$CLUSTER" psql 0 -d plain -At -c "$1" 2>&1; }
check "plain database: a claim there takes its task and its report closes the run" \
	test "$(plain "SELECT count(workflow.complete_activity(task_id, '{}'))
		FROM workflow.claim_activities('plain', 'w', 1)")" = 1
check "... and describe reads the run where it is (status completed)" \
	test "$(plain "SELECT workflow.describe('plain-1')->>'status'")" = completed
