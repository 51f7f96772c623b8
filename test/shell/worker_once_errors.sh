#!/usr/bin/env bash
# Errors no retry can mend: a queue not granted to the worker's role, a
# database without the workflow extension.  Under --once the worker exits
# with status 2 (it used to log a warning and exit 0); without --once it
# keeps trying, unless --exit-on-error makes it exit with 2 too.  A task
# it runs when the refusal comes (another queue) is still finished and
# reported first.
source "$(dirname "$0")/lib/worker.bash"

setup_db worker_once_errors
q "DROP ROLE IF EXISTS once_worker" >/dev/null 2>&1 || true
q "CREATE ROLE once_worker LOGIN" >/dev/null
q "SELECT workflow.grant_queue('wq_granted', 'once_worker')" >/dev/null
q "CREATE FUNCTION one_activity(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS \$\$
BEGIN
	RETURN workflow.activity(input->>'activity', input, 'wq_granted');
END
\$\$" >/dev/null
q "SELECT workflow.register_workflow('one_activity', 'one_activity(jsonb)'::regprocedure)" >/dev/null
AS_WORKER="dbname=worker_once_errors user=once_worker"

# Run the worker in the foreground with a time limit; sets WORKER_RC.
run_worker() {
	WORKER_RC=0
	timeout 30 "$WORKER" "$@" >>"$WORKER_LOG" 2>&1 || WORKER_RC=$?
	((WORKER_RC != 124)) || fail "workflow-worker $* did not exit within 30 s"
}

# 1. --once on a granted queue with nothing to do: 0, as before.
run_worker -d "$AS_WORKER" -q wq_granted --handler Echo="$HANDLERS/echo.sh" --once
((WORKER_RC == 0)) || fail "--once on an empty granted queue: exit status $WORKER_RC"

# 2. --once on a queue not granted: 2, with the reason.
run_worker -d "$AS_WORKER" -q wq_denied --handler Echo="$HANDLERS/echo.sh" --once
((WORKER_RC == 2)) || fail "--once on a queue not granted: exit status $WORKER_RC, expected 2"
(($(log_count 'ERROR: could not claim tasks from queue "wq_denied": role "once_worker" may not work queue "wq_denied"; exiting \(--once\)') == 1)) ||
	fail "the refused claim was not logged as an error"

# 3. --once with a granted queue whose task runs (2 s) when the other
#    queue is refused: the task is completed and reported, then exit 2.
q "SELECT workflow.start_workflow('one_activity', '{\"activity\": \"Slow\"}', 'once-slow')" >/dev/null
run_worker -d "$AS_WORKER" -q wq_granted -q wq_denied --handler Slow="$HANDLERS/slow.sh 2" --once
((WORKER_RC == 2)) || fail "--once with a running task and a refused queue: exit status $WORKER_RC, expected 2"
expect "SELECT status FROM workflow.workflows WHERE workflow_id = 'once-slow'" completed

# 4. Long-running: the refusal is logged and retried; the worker lives on.
start_worker -d "$AS_WORKER" -q wq_denied --handler Echo="$HANDLERS/echo.sh" --poll-interval 0.2
OTHER_PIDS+=("$WORKER_PID")
sleep 1.5
kill -0 "$WORKER_PID" 2>/dev/null || fail "without --once or --exit-on-error the worker exited"
(($(log_count 'WARNING: could not claim tasks from queue "wq_denied": role "once_worker" may not work queue') >= 2)) ||
	fail "the refused claims were not retried"
kill -TERM "$WORKER_PID"
wait_worker 30
((WORKER_RC == 0)) || fail "after SIGTERM: exit status $WORKER_RC"

# 5. --exit-on-error: 2 at the first refusal.
run_worker -d "$AS_WORKER" -q wq_denied --handler Echo="$HANDLERS/echo.sh" --exit-on-error
((WORKER_RC == 2)) || fail "--exit-on-error on a queue not granted: exit status $WORKER_RC, expected 2"
(($(log_count 'may not work queue "wq_denied"; exiting \(--exit-on-error\)') == 1)) || fail "--exit-on-error: no error line"

# 6. No extension in the database: 2 under --once and --exit-on-error.
PGOPTIONS="-c client_min_messages=warning" dropdb --if-exists worker_once_noext
createdb worker_once_noext
run_worker -d dbname=worker_once_noext -q wq_granted --handler Echo="$HANDLERS/echo.sh" --once
((WORKER_RC == 2)) || fail "--once without the extension: exit status $WORKER_RC, expected 2"
run_worker -d dbname=worker_once_noext -q wq_granted --handler Echo="$HANDLERS/echo.sh" --exit-on-error
((WORKER_RC == 2)) || fail "--exit-on-error without the extension: exit status $WORKER_RC, expected 2"
(($(log_count 'ERROR: connection set-up failed in database "worker_once_noext": is the workflow extension installed') == 2)) ||
	fail "the missing extension was not logged"

q "DROP OWNED BY once_worker; DROP ROLE once_worker" >/dev/null
echo "ok"
