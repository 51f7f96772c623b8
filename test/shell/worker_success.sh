#!/usr/bin/env bash
# workflow-worker runs activities to completion: two sequential activities
# per workflow, several workflows at once, results and history recorded.
source "$(dirname "$0")/lib/worker.bash"

setup_db worker_success
q "CREATE FUNCTION two_steps(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS \$\$
DECLARE
	a jsonb;
BEGIN
	a := workflow.activity('Echo', input, 'wq_success');
	RETURN workflow.activity('Echo', jsonb_build_object('first', a), 'wq_success');
END
\$\$" >/dev/null
q "SELECT workflow.register_workflow('two_steps', 'two_steps(jsonb)'::regprocedure)" >/dev/null
for i in 1 2 3 4 5; do
	q "SELECT workflow.start_workflow('two_steps', '{\"n\": $i}', 'ok-$i')" >/dev/null
done

start_worker -q wq_success --handler Echo="$HANDLERS/echo.sh" -c 3 --max-tasks 10
wait_worker 60
((WORKER_RC == 0)) || fail "workflow-worker exited with $WORKER_RC"

wait_for "SELECT count(*) = 5 FROM workflow.workflows WHERE workflow_id LIKE 'ok-%' AND status = 'completed'" 30
# The second activity saw the first one's result; the handler saw its task.
expect "SELECT result #>> '{input,first,input,n}' FROM workflow.workflows WHERE workflow_id = 'ok-3'" 3
expect "SELECT result #>> '{input,first,workflow_id}' FROM workflow.workflows WHERE workflow_id = 'ok-3'" ok-3
expect "SELECT string_agg(DISTINCT result->>'activity' || '/' || (result->>'queue') || '/' || (result->>'attempt'), ',')
		FROM workflow.workflows WHERE workflow_id LIKE 'ok-%'" Echo/wq_success/1
expect "SELECT count(*) FROM workflow.history WHERE workflow_id LIKE 'ok-%' AND event_type = 'ActivityCompleted'" 10
expect "SELECT count(*) FROM workflow.history WHERE workflow_id LIKE 'ok-%' AND event_type = 'ActivityFailed'" 0
(($(log_count 'outcome=completed') == 10)) || fail "expected 10 completed tasks in the log"
echo "ok"
