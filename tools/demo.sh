#!/usr/bin/env bash
# make demo: the seed's order saga, end to end, with real workers.
#
# Starts a throwaway cluster (tools/cluster.sh), declares the saga, runs one
# workflow-worker per queue, starts a few orders -- one of them fails at
# CreateShipment after its retries and is compensated -- and prints each
# order's status and history.  Ends by starting workflow-ui, the web UI,
# and printing the URL of the compensated order's run; the UI keeps
# running with the cluster.  PG_CONFIG (default: pg_config on PATH) names
# the server to use; WF_UI_LISTEN the UI's address (127.0.0.1:8080);
# WORKERS=python runs the activities with the Python library's workers
# (examples/python/saga.py, one per queue) and WORKERS=node in one Node.js
# worker (examples/node), both on the pgworkflow client libraries, instead
# of workflow-worker.
set -euo pipefail
cd "$(dirname "$0")/.."

REPO=$(pwd)
# shellcheck source=tools/pgconfig.bash
source tools/pgconfig.bash
pg_locate || exit 1
BINDIR=$PG_BINDIR
# psql and friends of that server, not whatever version PATH has first.
export PATH=$PG_BINDIR:$PATH
HANDLER=$REPO/examples/order/handlers/activity.sh
LOGDIR=$(mktemp -d /tmp/workflow-demo.XXXXXX)
WORKER_KIND=${WORKERS:-workflow-worker}
case $WORKER_KIND in
workflow-worker | python | node) ;;
*) echo "demo: WORKERS must be workflow-worker, python or node, not '$WORKER_KIND'" >&2; exit 2 ;;
esac
WORKERS=()

stop_workers() {
	for pid in "${WORKERS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${WORKERS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop_workers EXIT

echo "== starting a throwaway PostgreSQL cluster (shared_preload_libraries = 'workflow')"
tools/cluster.sh fresh
eval "$(tools/cluster.sh env)"
export PGDATABASE=demo
psql -X -q -d postgres -c "CREATE DATABASE demo"

echo "== declaring the order saga (no code: workflow.register_saga)"
psql -X -q -v ON_ERROR_STOP=1 -f examples/order/setup.sql >/dev/null

QUEUES=(inventory payments shipping notifications)
case $WORKER_KIND in
python)
	echo "== starting one Python worker (examples/python/saga.py, pgworkflow) per queue"
	/usr/bin/python3 -c 'import psycopg' || { echo "demo: /usr/bin/python3 has no psycopg; run make deps" >&2; exit 1; }
	for queue in "${QUEUES[@]}"; do
		PYTHONPATH=$REPO/clients/python /usr/bin/python3 examples/python/saga.py --queue "$queue" \
			2>"$LOGDIR/$queue.log" &
		WORKERS+=($!)
	done
	;;
node)
	echo "== starting one Node.js worker (examples/node, pgworkflow) for the four queues"
	for dir in clients/node examples/node; do # pg from the npm registry, once
		[[ -d $dir/node_modules ]] || (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) >/dev/null
	done
	node examples/node/worker.js "${QUEUES[@]/#/--queue=}" 2>"$LOGDIR/node.log" &
	WORKERS+=($!)
	;;
workflow-worker)
	echo "== starting one workflow-worker per queue (they LISTEN on the queue's channel)"
	for queue in "${QUEUES[@]}"; do
		"$BINDIR/workflow-worker" -q "$queue" -c 4 --poll-interval 30 \
			--handler ReserveInventory="$HANDLER" --handler ReleaseInventory="$HANDLER" \
			--handler ChargePayment="$HANDLER" --handler RefundPayment="$HANDLER" \
			--handler CreateShipment="$HANDLER" --handler SendConfirmation="$HANDLER" \
			2>"$LOGDIR/$queue.log" &
		WORKERS+=($!)
	done
	;;
esac

echo "== starting four orders; order-3's carrier is down"
psql -X -q -A -t -v ON_ERROR_STOP=1 <<'SQL'
SELECT workflow.start_workflow('order', '{"order_id": "order-1", "items": 2}', 'order-1');
SELECT workflow.start_workflow('order', '{"order_id": "order-2", "items": 1}', 'order-2');
SELECT workflow.start_workflow('order', '{"order_id": "order-3", "items": 5, "carrier_down": true}', 'order-3');
SELECT workflow.start_workflow('order', '{"order_id": "order-4", "items": 3}', 'order-4');
SQL

echo "== waiting for every order to finish"
for _ in $(seq 1 120); do
	open=$(psql -X -A -t -c "SELECT count(*) FROM workflow.workflows WHERE closed_at IS NULL")
	[[ $open == 0 ]] && break
	sleep 0.5
done
[[ $open == 0 ]] || { echo "demo: orders still open after 60 s; worker logs in $LOGDIR" >&2; exit 1; }

echo
psql -X -f examples/order/timeline.sql
echo "What happened: order-1, 2 and 4 completed. order-3's CreateShipment failed three"
echo "times (each attempt and its retry time is in the history), so the engine ran the"
echo "compensations of the completed steps in reverse order -- RefundPayment, then"
echo "ReleaseInventory -- and the run ended 'compensated'."
echo
echo "The cluster is still running; explore it with:"
echo "  eval \"\$(tools/cluster.sh env)\"; psql -d demo -c 'TABLE workflow.workflows'"
echo "Stop it with: tools/cluster.sh stop   (worker logs: $LOGDIR)"

# The web UI, detached so that it outlives this script (the workers do not).
UI_LISTEN=${WF_UI_LISTEN:-127.0.0.1:8080}
setsid "$BINDIR/workflow-ui" -d "host=$PGHOST port=$PGPORT dbname=demo user=$PGUSER" \
	--listen "$UI_LISTEN" </dev/null >"$LOGDIR/workflow-ui.log" 2>&1 &
UI_PID=$!
for _ in $(seq 1 50); do
	grep -q listening "$LOGDIR/workflow-ui.log" 2>/dev/null && break
	kill -0 "$UI_PID" 2>/dev/null || break
	sleep 0.1
done
echo
if kill -0 "$UI_PID" 2>/dev/null; then
	echo "== workflow-ui (pid $UI_PID) is running; the compensated order's timeline:"
	echo "  http://$UI_LISTEN/run?id=order-3"
	echo "Stop it with: kill $UI_PID"
else
	echo "== workflow-ui did not start (is $UI_LISTEN taken? set WF_UI_LISTEN):" >&2
	cat "$LOGDIR/workflow-ui.log" >&2
fi
