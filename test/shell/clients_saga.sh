#!/usr/bin/env bash
# The seed order saga end to end with both client libraries' workers at
# once, on different queues: Python (examples/python/saga.py, pgworkflow)
# serves inventory and shipping, Node.js (examples/node/worker.js) payments
# and notifications.  One order completes; one whose carrier is down is
# compensated (RefundPayment by Node, ReleaseInventory by Python).  Both
# workers exit 0 on SIGTERM.  (Both logs go to WORKER_LOG.)
source "$(dirname "$0")/lib/worker.bash"
source "$(dirname "$0")/lib/node.bash"
npm_ci_once "$REPO/examples/node" pgworkflow

PY=/usr/bin/python3
"$PY" -c 'import psycopg' || fail "$PY has no psycopg; run make deps"
export PYTHONDONTWRITEBYTECODE=1

setup_db clients_saga
psql -X -q -v ON_ERROR_STOP=1 -f "$REPO/examples/order/setup.sql" >/dev/null

PYTHONPATH=$REPO/clients/python "$PY" "$REPO/examples/python/saga.py" \
	--queue inventory --queue shipping >>"$WORKER_LOG" 2>&1 &
PY_PID=$!
WORKER_PID=$PY_PID   # wt_cleanup kills it if the test fails
node "$REPO/examples/node/worker.js" --queue payments --queue notifications >>"$WORKER_LOG" 2>&1 &
NODE_PID=$!
OTHER_PIDS+=("$NODE_PID")   # killed too: a worker left running would take the tasks of later tests' runs

q "SELECT workflow.start_workflow('order', '{\"order_id\": \"o-1\", \"items\": 2}', 'o-1')" >/dev/null
q "SELECT workflow.start_workflow('order', '{\"order_id\": \"o-3\", \"carrier_down\": true}', 'o-3')" >/dev/null
wait_for "SELECT count(*) = 2 FROM workflow.workflows WHERE closed_at IS NOT NULL" 60

expect "SELECT string_agg(workflow_id || '=' || status, ',' ORDER BY workflow_id) FROM workflow.workflows" \
	o-1=completed,o-3=compensated
expect "SELECT result->>'tracking' FROM workflow.workflows WHERE workflow_id = 'o-1'" TRK-o-1
expect "SELECT string_agg(data->>'activity', ',' ORDER BY event_id) FROM workflow.history
		WHERE workflow_id = 'o-3' AND event_type = 'ActivityCompleted'" \
	ReserveInventory,ChargePayment,RefundPayment,ReleaseInventory
# Which language ran what: the Python worker's ids start with "py:".
expect "SELECT string_agg(DISTINCT (data->>'activity') || '=' || (data->>'worker_id' LIKE 'py:%')::text, ','
		ORDER BY (data->>'activity') || '=' || (data->>'worker_id' LIKE 'py:%')::text)
		FROM workflow.history WHERE event_type = 'ActivityStarted'" \
	ChargePayment=false,CreateShipment=true,RefundPayment=false,ReleaseInventory=true,ReserveInventory=true,SendConfirmation=false

kill -TERM "$PY_PID" "$NODE_PID"
wait_worker 20
((WORKER_RC == 0)) || fail "saga.py exited with $WORKER_RC"
node_rc=0
wait "$NODE_PID" || node_rc=$?
((node_rc == 0)) || fail "worker.js exited with $node_rc"
PGDATABASE=postgres dropdb --force clients_saga
echo "ok"
