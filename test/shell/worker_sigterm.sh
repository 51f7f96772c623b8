#!/usr/bin/env bash
# SIGTERM stops claiming but lets the running handler finish and reports
# its result before exiting 0; past --grace, handlers are killed and their
# attempts fail retryably.
source "$(dirname "$0")/lib/worker.bash"

setup_db worker_sigterm
q "CREATE FUNCTION one_activity(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS \$\$
BEGIN
	RETURN workflow.activity(input->>'activity', input, 'wq_term',
		'{\"retry\": {\"maximum_attempts\": 1}}');
END
\$\$" >/dev/null
q "SELECT workflow.register_workflow('one_activity', 'one_activity(jsonb)'::regprocedure)" >/dev/null

# 1. Graceful: the handler (5 s) finishes after the signal; the second
#    workflow's task is not claimed any more.
q "SELECT workflow.start_workflow('one_activity', '{\"activity\": \"Slow\"}', 'term-slow')" >/dev/null
wait_for "SELECT count(*) = 1 FROM workflow.tasks WHERE workflow_id = 'term-slow' AND status = 'ready'" 30
start_worker -q wq_term --handler Slow="$HANDLERS/slow.sh 5" -c 1
wait_for "SELECT count(*) = 1 FROM workflow.tasks WHERE workflow_id = 'term-slow' AND status = 'running'" 30
q "SELECT workflow.start_workflow('one_activity', '{\"activity\": \"Slow\"}', 'term-later')" >/dev/null
wait_for "SELECT count(*) = 1 FROM workflow.tasks WHERE workflow_id = 'term-later'" 30
kill -TERM "$WORKER_PID"
sleep 1
kill -0 "$WORKER_PID" 2>/dev/null || fail "workflow-worker did not wait for its running handler"
wait_worker 30
((WORKER_RC == 0)) || fail "workflow-worker exited with $WORKER_RC"
wait_for "SELECT status = 'completed' FROM workflow.workflows WHERE workflow_id = 'term-slow'" 30
expect "SELECT result->>'slept' FROM workflow.workflows WHERE workflow_id = 'term-slow'" 5
expect "SELECT status FROM workflow.tasks WHERE workflow_id = 'term-later'" ready
(($(log_count 'received SIGTERM') == 1)) || fail "the signal was not logged"

# 2. Past --grace: the handler is killed and the attempt fails retryably.
q "SELECT workflow.terminate_workflow('term-later')" >/dev/null
q "SELECT workflow.start_workflow('one_activity', '{\"activity\": \"Hang\"}', 'term-hang')" >/dev/null
start_worker -q wq_term --handler Hang="$HANDLERS/hang.sh" --grace 1 --kill-grace 1
wait_for "SELECT count(*) = 1 FROM workflow.tasks WHERE workflow_id = 'term-hang' AND status = 'running'" 30
kill -INT "$WORKER_PID"
wait_worker 20
((WORKER_RC == 0)) || fail "workflow-worker exited with $WORKER_RC after the grace period"
wait_for "SELECT status = 'failed' FROM workflow.workflows WHERE workflow_id = 'term-hang'" 30
expect "SELECT count(*) FROM workflow.history WHERE workflow_id = 'term-hang' AND event_type = 'ActivityFailed'
		AND data::text LIKE '%shut down before the activity handler finished%'" 1
echo "ok"
