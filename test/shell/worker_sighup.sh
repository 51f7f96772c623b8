#!/usr/bin/env bash
# SIGHUP does not kill the worker (it used to: exit 129, no log line): it
# is logged and ignored; the handler it runs meanwhile finishes and is
# reported, the worker goes on claiming, and SIGTERM still stops it with
# exit status 0.  Along the way: the worker has one connection, and the
# task it runs is bound to that connection's session (claimed_pid), where
# it is reported (session-bound leases: a report from another connection
# would be failed when the claiming session ends).
source "$(dirname "$0")/lib/worker.bash"

setup_db worker_sighup
q "CREATE FUNCTION one_activity(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS \$\$
BEGIN
	RETURN workflow.activity(input->>'activity', input, 'wq_hup');
END
\$\$" >/dev/null
q "SELECT workflow.register_workflow('one_activity', 'one_activity(jsonb)'::regprocedure)" >/dev/null

start_worker -q wq_hup --handler Echo="$HANDLERS/echo.sh" --handler Slow="$HANDLERS/slow.sh 2" \
	--poll-interval 0.5 --worker-id hup-worker
q "SELECT workflow.start_workflow('one_activity', '{\"activity\": \"Slow\"}', 'hup-slow')" >/dev/null
wait_for "SELECT count(*) = 1 FROM workflow.tasks WHERE workflow_id = 'hup-slow' AND status = 'running'" 30
expect "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'workflow-worker'" 1
expect "SELECT t.claimed_pid = a.pid FROM workflow.tasks t, pg_stat_activity a
	WHERE t.workflow_id = 'hup-slow' AND a.application_name = 'workflow-worker'" t

kill -HUP "$WORKER_PID"
kill -HUP "$WORKER_PID"
for ((i = 0; i < 50; i++)); do
	(($(log_count 'received SIGHUP: ignored') >= 1)) && break
	sleep 0.1
done
kill -0 "$WORKER_PID" 2>/dev/null || fail "SIGHUP killed the worker"
(($(log_count 'INFO: received SIGHUP: ignored') >= 1)) || fail "SIGHUP was not logged"

wait_for "SELECT status = 'completed' FROM workflow.workflows WHERE workflow_id = 'hup-slow'" 30
expect "SELECT count(*) FROM workflow.history WHERE workflow_id = 'hup-slow' AND event_type = 'ActivityFailed'" 0
expect "SELECT result->>'attempt' FROM workflow.workflows WHERE workflow_id = 'hup-slow'" 1
q "SELECT workflow.start_workflow('one_activity', '{\"activity\": \"Echo\"}', 'hup-echo')" >/dev/null
wait_for "SELECT status = 'completed' FROM workflow.workflows WHERE workflow_id = 'hup-echo'" 30

kill -TERM "$WORKER_PID"
wait_worker 30
((WORKER_RC == 0)) || fail "workflow-worker exited with $WORKER_RC after SIGTERM"
(($(log_count 'received SIGTERM') == 1)) || fail "SIGTERM was not logged"
echo "ok"
