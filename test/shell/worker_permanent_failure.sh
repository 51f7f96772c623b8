#!/usr/bin/env bash
# Exit 65 (EX_DATAERR) and an activity without a handler fail for good:
# one attempt each, the workflows end 'failed' despite unlimited retries.
source "$(dirname "$0")/lib/worker.bash"

setup_db worker_permanent_failure
q "CREATE FUNCTION one_activity(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS \$\$
BEGIN
	RETURN workflow.activity(input->>'activity', input, 'wq_perm',
		'{\"retry\": {\"initial_interval\": \"1 second\", \"maximum_attempts\": 0}}');
END
\$\$" >/dev/null
q "SELECT workflow.register_workflow('one_activity', 'one_activity(jsonb)'::regprocedure)" >/dev/null
q "SELECT workflow.start_workflow('one_activity', '{\"activity\": \"Reject\"}', 'perm-reject')" >/dev/null
q "SELECT workflow.start_workflow('one_activity', '{\"activity\": \"Nobody\"}', 'perm-nohandler')" >/dev/null

start_ticker
start_worker -q wq_perm --handler Reject="$HANDLERS/reject.sh" --poll-interval 0.5 --max-tasks 2
wait_worker 60
((WORKER_RC == 0)) || fail "workflow-worker exited with $WORKER_RC"

wait_for "SELECT count(*) = 2 FROM workflow.workflows WHERE workflow_id LIKE 'perm-%' AND status = 'failed'" 30
for id in perm-reject perm-nohandler; do
	expect "SELECT count(*) FROM workflow.history WHERE workflow_id = '$id' AND event_type = 'ActivityFailed'" 1
	expect "SELECT count(*) FROM workflow.history WHERE workflow_id = '$id' AND event_type = 'ActivityCompleted'" 0
done
expect "SELECT count(*) FROM workflow.history WHERE workflow_id = 'perm-reject' AND event_type = 'ActivityFailed'
		AND data::text LIKE '%card number is invalid%'" 1
expect "SELECT count(*) FROM workflow.history WHERE workflow_id = 'perm-nohandler' AND event_type = 'ActivityFailed'
		AND data::text LIKE '%no handler for activity%'" 1
(($(log_count 'outcome=failed exit=65 .*retryable=false') == 1)) || fail "exit 65 not logged as non-retryable"
(($(log_count 'outcome=no-handler .*retryable=false') == 1)) || fail "missing handler not logged"
echo "ok"
