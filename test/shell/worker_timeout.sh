#!/usr/bin/env bash
# A handler that runs past --timeout is stopped (SIGTERM, then SIGKILL
# if it ignores that) and the attempt fails with a clear message.
source "$(dirname "$0")/lib/worker.bash"

setup_db worker_timeout
q "CREATE FUNCTION one_activity(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS \$\$
BEGIN
	RETURN workflow.activity(input->>'activity', input, 'wq_timeout',
		'{\"retry\": {\"maximum_attempts\": 1}}');
END
\$\$" >/dev/null
q "SELECT workflow.register_workflow('one_activity', 'one_activity(jsonb)'::regprocedure)" >/dev/null
q "SELECT workflow.start_workflow('one_activity', '{\"activity\": \"Hang\"}', 'to-hang')" >/dev/null
q "SELECT workflow.start_workflow('one_activity', '{\"activity\": \"Stubborn\"}', 'to-stubborn')" >/dev/null

start=$SECONDS
start_worker -q wq_timeout --handler Hang="$HANDLERS/hang.sh" --handler Stubborn="$HANDLERS/stubborn.sh" \
	--timeout 2 --kill-grace 1 --max-tasks 2
wait_worker 60
((WORKER_RC == 0)) || fail "workflow-worker exited with $WORKER_RC"
((SECONDS - start < 30)) || fail "the timeout took $((SECONDS - start))s"

wait_for "SELECT count(*) = 2 FROM workflow.workflows WHERE workflow_id LIKE 'to-%' AND status = 'failed'" 30
expect "SELECT count(*) FROM workflow.history WHERE workflow_id LIKE 'to-%' AND event_type = 'ActivityFailed'
		AND data::text LIKE '%timed out after 2 s%'" 2
(($(log_count 'outcome=timed-out signal=15') == 1)) || fail "Hang was not stopped by SIGTERM"
(($(log_count 'outcome=timed-out signal=9') == 1)) || fail "Stubborn was not stopped by SIGKILL"
# Nothing of the handlers is left behind (the worker signals the process group).
sleep 0.5
pgrep -f 'sleep 424[23]' >/dev/null && fail "a handler process survived"
echo "ok"
