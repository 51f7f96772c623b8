#!/usr/bin/env bash
# A worker killed outright (SIGKILL) takes its handler with it, and the
# task it held comes back (at once, as its session ended: see
# worker_session_end.sh; at the latest after its lease): another worker
# completes it.
source "$(dirname "$0")/lib/worker.bash"

setup_db worker_kill9
q "CREATE FUNCTION one_activity(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS \$\$
BEGIN
	RETURN workflow.activity('Job', input, 'wq_kill9', '{\"start_to_close_timeout\": \"2 seconds\",
		\"retry\": {\"initial_interval\": \"100 milliseconds\"}}');
END
\$\$" >/dev/null
q "SELECT workflow.register_workflow('one_activity', 'one_activity(jsonb)'::regprocedure)" >/dev/null
q "SELECT workflow.start_workflow('one_activity', '{}', 'k9')" >/dev/null

# The first worker's handler hangs; the worker is killed.
start_worker -q wq_kill9 --handler Job="$HANDLERS/hang.sh"
wait_for "SELECT count(*) = 1 FROM workflow.tasks WHERE workflow_id = 'k9' AND status = 'running'" 30
pgrep -f 'sleep 4242' >/dev/null || fail "the handler is not running"
kill -KILL "$WORKER_PID"
wait "$WORKER_PID" 2>/dev/null || true
WORKER_PID=
sleep 0.5
pgrep -f 'sleep 4242' >/dev/null && fail "the handler outlived its worker"

# The second worker gets attempt 2 once the lease has run out.
start_ticker
start_worker -q wq_kill9 --handler Job="$HANDLERS/echo.sh" --poll-interval 0.5 --max-tasks 1
wait_worker 60
((WORKER_RC == 0)) || fail "workflow-worker exited with $WORKER_RC"
wait_for "SELECT status = 'completed' FROM workflow.workflows WHERE workflow_id = 'k9'" 30
expect "SELECT result->>'attempt' FROM workflow.workflows WHERE workflow_id = 'k9'" 2
echo "ok"
