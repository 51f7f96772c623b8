# The scenario both example workers (examples/python, examples/node) pass:
# a two-activity workflow run to the end, woken by NOTIFY (not by the
# poll), a retryable failure retried, a permanent one failing the
# workflow, --once, a late report ignored (WF010) and a clean exit on
# SIGTERM.
#
# Sourced by test/shell/example_*.sh after lib/worker.bash, which set
#   EXAMPLE_NAME  python or node (names the database and application_name)
#   QUEUE         the queue the worker serves
#   WORKER_NAME   for messages
# and define run_example ARGS... (exec the worker) and
# run_example_with_slow_handler ARGS... (the same with a handler "Slow"
# that outlives its lease on attempt 1).
# shellcheck shell=bash

# Start the example worker in the background, logging to WORKER_LOG.
start_example() {
	run_example --queue "$QUEUE" "$@" >>"$WORKER_LOG" 2>&1 &
	WORKER_PID=$!
}

# Wait until the worker's connection sits idle, i.e. it listens and waits.
wait_idle() {
	wait_for "SELECT count(*) = 1 FROM pg_stat_activity
		WHERE application_name = 'workflow-example-$EXAMPLE_NAME' AND state = 'idle'
		AND query LIKE '%claim_activities%'" 20
}

setup_db "example_$EXAMPLE_NAME"
q "CREATE FUNCTION greet_wf(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS \$\$
DECLARE
	g jsonb;
BEGIN
	g := workflow.activity('Greet', input, '$QUEUE',
		'{\"retry\": {\"initial_interval\": \"200 milliseconds\"}}');
	RETURN workflow.activity('Shout', g, '$QUEUE');
END
\$\$" >/dev/null
q "SELECT workflow.register_workflow('greet', 'greet_wf(jsonb)'::regprocedure)" >/dev/null

# The worker starts first, on an empty queue, and may only poll every 60 s:
# finishing within 30 s shows that NOTIFY woke it, also for the retry.
# 8 tasks: 2 + 2 + 3 (Greet fails once) + 1 (Greet fails for good).
SECONDS=0
start_example --max-tasks 8 --poll 60 --batch 3
wait_idle
q "SELECT workflow.start_workflow('greet', '{\"name\": \"ann\"}', 'id-1')" >/dev/null
q "SELECT workflow.start_workflow('greet', '{\"name\": \"bob\"}', 'id-2')" >/dev/null
q "SELECT workflow.start_workflow('greet', '{\"name\": \"cy\", \"flaky\": true}', 'id-3')" >/dev/null
q "SELECT workflow.start_workflow('greet', '{}', 'id-4')" >/dev/null
wait_worker 30
((WORKER_RC == 0)) || fail "$WORKER_NAME exited with $WORKER_RC"
echo "8 tasks in ${SECONDS}s"

expect "SELECT string_agg(workflow_id || '=' || status, ',' ORDER BY workflow_id) FROM workflow.workflows" \
	id-1=completed,id-2=completed,id-3=completed,id-4=failed
expect "SELECT result->>'shout' FROM workflow.workflows WHERE workflow_id = 'id-1'" "HELLO, ANN!"
expect "SELECT result->>'shout' FROM workflow.workflows WHERE workflow_id = 'id-3'" "HELLO, CY!"
expect "SELECT string_agg(event_type, ',' ORDER BY event_id) FROM workflow.history
		WHERE workflow_id = 'id-3' AND event_type IN ('ActivityFailed', 'ActivityCompleted')" \
	ActivityFailed,ActivityCompleted,ActivityCompleted
expect "SELECT count(*) FROM workflow.history WHERE workflow_id = 'id-3' AND event_type = 'ActivityFailed'
		AND data::text LIKE '%greeting service unavailable%'" 1
expect "SELECT count(*) FROM workflow.history WHERE workflow_id = 'id-4' AND event_type = 'ActivityFailed'
		AND data::text LIKE '%input has no name%'" 1
(($(log_count 'Greet attempt 2: completed') == 1)) || fail "expected one second attempt in the log"
(($(log_count 'failed retryable=false: input has no name') == 1)) || fail "expected a permanent failure in the log"

# --once: run what is ready (both steps, the second one is ready as soon as
# the first is reported), then exit on the empty queue.
q "SELECT workflow.start_workflow('greet', '{\"name\": \"dee\"}', 'id-5')" >/dev/null
start_example --once
wait_worker 30
((WORKER_RC == 0)) || fail "$WORKER_NAME --once exited with $WORKER_RC"
expect "SELECT status || ' ' || (result->>'shout') FROM workflow.workflows WHERE workflow_id = 'id-5'" \
	"completed HELLO, DEE!"

# A late report: attempt 1 of Slow outlives its start_to_close_timeout, so
# the engine times it out and retries it; the report of attempt 1 then gets
# WF010, which the worker logs and drops, and attempt 2 completes.
q "CREATE FUNCTION slow_wf(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS \$\$
BEGIN
	RETURN workflow.activity('Slow', input, '$QUEUE', '{\"start_to_close_timeout\": \"1 second\",
		\"retry\": {\"initial_interval\": \"200 milliseconds\"}}');
END
\$\$" >/dev/null
q "SELECT workflow.register_workflow('slow', 'slow_wf(jsonb)'::regprocedure)" >/dev/null
q "SELECT workflow.start_workflow('slow', '{}', 'id-6')" >/dev/null
# The background worker may notice the expired lease only at its next
# wake-up (up to workflow.max_naptime); tick() twice a second makes it prompt.
start_ticker
# The example's HANDLERS table takes more handlers when it is imported.
run_example_with_slow_handler --queue "$QUEUE" --max-tasks 2 >>"$WORKER_LOG" 2>&1 &
WORKER_PID=$!
wait_worker 30
kill "$TICKER_PID"
TICKER_PID=
((WORKER_RC == 0)) || fail "$WORKER_NAME exited with $WORKER_RC after a late report"
(($(log_count 'Slow attempt 1: late report ignored') == 1)) || fail "expected a late report in the log"
(($(log_count 'Slow attempt 2: completed') == 1)) || fail "expected attempt 2 to complete"
expect "SELECT status || ' ' || (result->>'attempt') FROM workflow.workflows WHERE workflow_id = 'id-6'" \
	"completed 2"

# SIGTERM while waiting: a clean exit, at once.
start_example
wait_idle
kill -TERM "$WORKER_PID"
wait_worker 5
((WORKER_RC == 0)) || fail "$WORKER_NAME exited with $WORKER_RC on SIGTERM"

PGDATABASE=postgres dropdb --force "example_$EXAMPLE_NAME"
echo "ok (${SECONDS}s)"
