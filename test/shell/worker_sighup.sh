#!/usr/bin/env bash
# SIGHUP does not kill the worker (it used to: exit 129, no log line): it
# is logged and ignored, the worker goes on running tasks, and SIGTERM
# still stops it with exit status 0.
source "$(dirname "$0")/lib/worker.bash"

setup_db worker_sighup
q "CREATE FUNCTION one_activity(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS \$\$
BEGIN
	RETURN workflow.activity('Echo', input, 'wq_hup');
END
\$\$" >/dev/null
q "SELECT workflow.register_workflow('one_activity', 'one_activity(jsonb)'::regprocedure)" >/dev/null

start_worker -q wq_hup --handler Echo="$HANDLERS/echo.sh" --poll-interval 0.5
for ((i = 0; i < 100; i++)); do
	(($(log_count 'INFO: connected to database') >= 1)) && break
	sleep 0.1
done
(($(log_count 'INFO: connected to database') >= 1)) || fail "the worker did not connect"
kill -HUP "$WORKER_PID"
kill -HUP "$WORKER_PID"
for ((i = 0; i < 50; i++)); do
	(($(log_count 'received SIGHUP: ignored') >= 1)) && break
	sleep 0.1
done
kill -0 "$WORKER_PID" 2>/dev/null || fail "SIGHUP killed the worker"
(($(log_count 'INFO: received SIGHUP: ignored') >= 1)) || fail "SIGHUP was not logged"

q "SELECT workflow.start_workflow('one_activity', '{\"n\": 1}', 'hup1')" >/dev/null
wait_for "SELECT status = 'completed' FROM workflow.workflows WHERE workflow_id = 'hup1'" 30
kill -TERM "$WORKER_PID"
wait_worker 30
((WORKER_RC == 0)) || fail "workflow-worker exited with $WORKER_RC after SIGTERM"
(($(log_count 'received SIGTERM') == 1)) || fail "SIGTERM was not logged"
echo "ok"
