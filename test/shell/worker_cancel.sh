#!/usr/bin/env bash
# Heartbeats: a handler that runs for a while keeps its task alive with
# heartbeats; when the workflow is cancelled the next heartbeat says so
# and the handler is stopped.
source "$(dirname "$0")/lib/worker.bash"

setup_db worker_cancel
q "CREATE FUNCTION one_activity(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS \$\$
BEGIN
	RETURN workflow.activity(input->>'activity', input, 'wq_cancel',
		'{\"heartbeat_timeout\": \"3 seconds\", \"retry\": {\"maximum_attempts\": 1}}');
END
\$\$" >/dev/null
q "SELECT workflow.register_workflow('one_activity', 'one_activity(jsonb)'::regprocedure)" >/dev/null
# Runs longer than its heartbeat timeout: only heartbeats keep it going.
q "SELECT workflow.start_workflow('one_activity', '{\"activity\": \"Slow\"}', 'hb-slow')" >/dev/null
q "SELECT workflow.start_workflow('one_activity', '{\"activity\": \"Hang\"}', 'hb-cancel')" >/dev/null

start_ticker
start_worker -q wq_cancel --handler Slow="$HANDLERS/slow.sh 5" --handler Hang="$HANDLERS/hang.sh" \
	--kill-grace 1 --max-tasks 2 -v
wait_for "SELECT count(*) = 2 FROM workflow.tasks WHERE workflow_id LIKE 'hb-%' AND status = 'running'" 30
sleep 1
q "SELECT workflow.cancel_workflow('hb-cancel', 'test')" >/dev/null
wait_worker 60
((WORKER_RC == 0)) || fail "workflow-worker exited with $WORKER_RC"

wait_for "SELECT status = 'completed' FROM workflow.workflows WHERE workflow_id = 'hb-slow'" 30
wait_for "SELECT status = 'cancelled' FROM workflow.workflows WHERE workflow_id = 'hb-cancel'" 30
(($(log_count 'DEBUG: task [0-9]+: heartbeat') >= 3)) || fail "too few heartbeats"
(($(log_count 'cancellation requested, stopping the handler') == 1)) || fail "cancellation not seen"
sleep 0.5
pgrep -f 'sleep 4242' >/dev/null && fail "the cancelled handler is still running"
echo "ok"
