#!/usr/bin/env bash
# Exit 75 (EX_TEMPFAIL) is a retryable failure: the retry runs after the
# retry policy's interval and the workflow completes on attempt 2.
source "$(dirname "$0")/lib/worker.bash"

setup_db worker_retry
q "CREATE FUNCTION flaky_wf(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS \$\$
BEGIN
	RETURN workflow.activity('Flaky', input, 'wq_retry',
		'{\"retry\": {\"initial_interval\": \"1 second\", \"maximum_attempts\": 5}}');
END
\$\$" >/dev/null
q "SELECT workflow.register_workflow('flaky_wf', 'flaky_wf(jsonb)'::regprocedure)" >/dev/null
q "SELECT workflow.start_workflow('flaky_wf', '{}', 'retry-1')" >/dev/null

start_ticker
start_worker -q wq_retry --handler Flaky="$HANDLERS/flaky.sh" --poll-interval 0.5 --max-tasks 2
wait_worker 60
((WORKER_RC == 0)) || fail "workflow-worker exited with $WORKER_RC"

wait_for "SELECT status = 'completed' FROM workflow.workflows WHERE workflow_id = 'retry-1'" 30
expect "SELECT result->>'attempt' FROM workflow.workflows WHERE workflow_id = 'retry-1'" 2
expect "SELECT string_agg(event_type, ',' ORDER BY event_id) FROM workflow.history
		WHERE workflow_id = 'retry-1' AND event_type IN ('ActivityFailed', 'ActivityCompleted')" ActivityFailed,ActivityCompleted
expect "SELECT count(*) FROM workflow.history WHERE workflow_id = 'retry-1' AND event_type = 'ActivityFailed'
		AND data::text LIKE '%service unavailable%'" 1
(($(log_count 'outcome=failed exit=75 .*retryable=true') == 1)) || fail "expected one retryable failure in the log"
echo "ok"
