#!/usr/bin/env bash
# A handler that exits 0 with something other than JSON on stdout (or
# nothing at all) fails the attempt, non-retryably, with a clear message;
# the worker carries on.
source "$(dirname "$0")/lib/worker.bash"

setup_db worker_bad_output
q "CREATE FUNCTION one_activity(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS \$\$
BEGIN
	RETURN workflow.activity(input->>'activity', input, 'wq_bad',
		'{\"retry\": {\"initial_interval\": \"1 second\", \"maximum_attempts\": 0}}');
END
\$\$" >/dev/null
q "SELECT workflow.register_workflow('one_activity', 'one_activity(jsonb)'::regprocedure)" >/dev/null
q "SELECT workflow.start_workflow('one_activity', '{\"activity\": \"Garbage\"}', 'bad-garbage')" >/dev/null
q "SELECT workflow.start_workflow('one_activity', '{\"activity\": \"Silent\"}', 'bad-silent')" >/dev/null
q "SELECT workflow.start_workflow('one_activity', '{\"activity\": \"Echo\"}', 'bad-fine')" >/dev/null

start_ticker
start_worker -q wq_bad --handler Garbage="$HANDLERS/garbage.sh" --handler Silent="$HANDLERS/silent.sh" \
	--handler Echo="$HANDLERS/echo.sh" --poll-interval 0.5 --max-tasks 3
wait_worker 60
((WORKER_RC == 0)) || fail "workflow-worker exited with $WORKER_RC"

wait_for "SELECT count(*) = 2 FROM workflow.workflows WHERE workflow_id IN ('bad-garbage', 'bad-silent') AND status = 'failed'" 30
wait_for "SELECT status = 'completed' FROM workflow.workflows WHERE workflow_id = 'bad-fine'" 30
for id in bad-garbage bad-silent; do
	expect "SELECT count(*) FROM workflow.history WHERE workflow_id = '$id' AND event_type = 'ActivityFailed'
			AND data::text LIKE '%output is not valid JSON%'" 1
done
(($(log_count 'outcome=invalid-output exit=0 .*retryable=false') == 2)) || fail "bad output not logged"
echo "ok"
