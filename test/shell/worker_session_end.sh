#!/usr/bin/env bash
# Session-bound leases with real workers.  A workflow-worker killed with
# SIGKILL while it holds a task whose start_to_close_timeout is an hour:
# its connection closes, its backend ends, and another worker gets the task
# (attempt 2) within 2 seconds, after an ActivityFailed "worker session
# ended".  A worker that is alive but slow (its handler sleeps 5 seconds)
# keeps its task while another worker's session ends: exactly one attempt.
source "$(dirname "$0")/lib/worker.bash"

setup_db worker_session_end
q "CREATE FUNCTION long_job(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS \$\$
BEGIN
	RETURN workflow.activity(input->>'activity', input, input->>'queue', '{\"start_to_close_timeout\": \"1 hour\",
		\"retry\": {\"initial_interval\": \"100 milliseconds\"}}');
END
\$\$" >/dev/null
q "SELECT workflow.register_workflow('long_job', 'long_job(jsonb)'::regprocedure)" >/dev/null

# 1. The first worker's handler hangs; a second worker waits on the queue.
q "SELECT workflow.start_workflow('long_job', '{\"queue\": \"wq_end\", \"activity\": \"Job\"}', 'end1')" >/dev/null
start_worker -q wq_end --handler Job="$HANDLERS/hang.sh"
DOOMED=$WORKER_PID
OTHER_PIDS+=("$DOOMED")
wait_for "SELECT count(*) = 1 FROM workflow.tasks WHERE workflow_id = 'end1' AND status = 'running'" 30
start_worker -q wq_end --handler Job="$HANDLERS/echo.sh" --poll-interval 30 --max-tasks 1
wait_for "SELECT count(*) = 2 FROM pg_stat_activity WHERE query LIKE '%claim_activities%' AND pid <> pg_backend_pid()" 30

t0=$(date +%s.%N)
kill -KILL "$DOOMED"
wait "$DOOMED" 2>/dev/null || true
wait_for "SELECT status = 'completed' FROM workflow.workflows WHERE workflow_id = 'end1'" 30
wait_worker 30
expect "SELECT result->>'attempt' FROM workflow.workflows WHERE workflow_id = 'end1'" 2
expect "SELECT data->>'error' || ' ' || (data->>'retryable') || ' ' || (data->>'final')
	FROM workflow.history WHERE workflow_id = 'end1' AND event_type = 'ActivityFailed'" "worker session ended true false"
# From the kill to the second worker's claim (its ActivityStarted), by the server's clock.
ms=$(q "SELECT round(extract(epoch FROM (data->>'started_at')::timestamptz - to_timestamp($t0)) * 1000)
	FROM workflow.history WHERE workflow_id = 'end1' AND event_type = 'ActivityStarted' AND (data->>'attempt')::int = 2")
echo "the task was claimed again ${ms} ms after the kill"
((ms < 2000)) || fail "attempt 2 was claimed ${ms} ms after the kill (the bound is 2000 ms)"

# 2. A slow worker (5 s) keeps its task while another worker's session ends.
q "SELECT workflow.start_workflow('long_job', '{\"queue\": \"wq_slow\", \"activity\": \"Slow\"}', 'slow1')" >/dev/null
start_worker -q wq_slow --handler Slow="$HANDLERS/slow.sh 5" --max-tasks 1
SLOW=$WORKER_PID
wait_for "SELECT count(*) = 1 FROM workflow.tasks WHERE workflow_id = 'slow1' AND status = 'running'" 30
start_worker -q wq_slow --handler Slow="$HANDLERS/echo.sh" --poll-interval 0.2
IDLE=$WORKER_PID
OTHER_PIDS+=("$IDLE")
sleep 1
kill -KILL "$IDLE"
wait "$IDLE" 2>/dev/null || true
sleep 1
expect "SELECT status || ' ' || attempt FROM workflow.tasks WHERE workflow_id = 'slow1'" "running 1"
WORKER_PID=$SLOW
wait_worker 30
((WORKER_RC == 0)) || fail "the slow workflow-worker exited with $WORKER_RC"
wait_for "SELECT status = 'completed' FROM workflow.workflows WHERE workflow_id = 'slow1'" 30
expect "SELECT count(*) FROM workflow.history WHERE workflow_id = 'slow1' AND event_type = 'ActivityStarted'" 1
expect "SELECT count(*) FROM workflow.history WHERE workflow_id = 'slow1' AND event_type = 'ActivityFailed'" 0
echo "ok"
