#!/usr/bin/env bash
# The server restarts (and later crashes) while handlers run: the worker
# reconnects with backoff, reports the results of handlers that finished
# meanwhile, and every workflow completes.
source "$(dirname "$0")/lib/worker.bash"

setup_db worker_server_restart
q "CREATE FUNCTION two_slow(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS \$\$
DECLARE
	a jsonb;
BEGIN
	a := workflow.activity('Slow', input, 'wq_restart', '{\"start_to_close_timeout\": \"20 seconds\",
		\"retry\": {\"initial_interval\": \"1 second\"}}');
	RETURN workflow.activity('Slow', a, 'wq_restart', '{\"start_to_close_timeout\": \"20 seconds\",
		\"retry\": {\"initial_interval\": \"1 second\"}}');
END
\$\$" >/dev/null
q "SELECT workflow.register_workflow('two_slow', 'two_slow(jsonb)'::regprocedure)" >/dev/null
for i in $(seq 1 8); do
	q "SELECT workflow.start_workflow('two_slow', '{}', 'rs-$i')" >/dev/null
done

start_worker -q wq_restart --handler Slow="$HANDLERS/slow.sh 1" -c 4 --poll-interval 1
wait_for "SELECT count(*) > 0 FROM workflow.tasks WHERE status = 'running'" 30
sleep 0.5
"$CLUSTER" restart
wait_for "SELECT count(*) > 0 FROM workflow.tasks WHERE status = 'running'" 30
sleep 0.5
"$CLUSTER" stop-immediate
sleep 2
"$CLUSTER" start

start_ticker
wait_for "SELECT count(*) = 8 FROM workflow.workflows WHERE workflow_id LIKE 'rs-%' AND status = 'completed'" 120
kill -0 "$WORKER_PID" 2>/dev/null || fail "workflow-worker died"
kill -TERM "$WORKER_PID"
wait_worker 30
((WORKER_RC == 0)) || fail "workflow-worker exited with $WORKER_RC"

(($(log_count 'connection lost') >= 2)) || fail "the worker did not notice both outages"
(($(log_count 'INFO: connected to database') >= 3)) || fail "the worker did not reconnect twice"
expect "SELECT count(*) FROM workflow.history WHERE workflow_id LIKE 'rs-%' AND event_type = 'ActivityCompleted'" 16
expect "SELECT count(*) FROM workflow.history WHERE workflow_id LIKE 'rs-%' AND event_type = 'WorkflowCompleted'" 8
echo "ok"
