#!/usr/bin/env bash
# Eager dispatch: one worker on one queue reports a successful task with
# workflow.complete_and_claim and runs the next step it gets back, without
# a claim query of its own.  Also: many workflows at once, --no-eager, a
# late (WF010) complete_and_claim, one that fails otherwise, and an
# extension without the function.
source "$(dirname "$0")/lib/worker.bash"

setup_db worker_eager
q "CREATE FUNCTION steps(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS \$\$
DECLARE
	r jsonb := '{}';
BEGIN
	FOR i IN 1 .. (input->>'steps')::int LOOP
		r := workflow.activity('Step', jsonb_build_object('step', i, 'prev', r), input->>'queue');
	END LOOP;
	RETURN r;
END
\$\$" >/dev/null
q "SELECT workflow.register_workflow('steps', 'steps(jsonb)'::regprocedure)" >/dev/null

# Start $3 workflows of $2 steps on queue $1, ids $1-1, $1-2, ...
start_steps() {
	q "SELECT count(workflow.start_workflow('steps', jsonb_build_object('steps', $2, 'queue', '$1'),
			'$1-' || i)) FROM generate_series(1, $3) i" >/dev/null
}

# Tasks started from what complete_and_claim returned, for queue $1.
eager_started() {
	grep -oE "claimed [0-9]+ of [0-9]+ from queue \"$1\" with the completion" "$WORKER_LOG" |
		awk '{ n += $2 } END { print n + 0 }'
}

# Claim queries (claim_activities) for queue $1 that returned tasks.
claims_with_tasks() {
	grep -cE "claimed [1-9][0-9]* of [0-9]+ from queue \"$1\"\$" "$WORKER_LOG" || true
}

# Check that the workflows of queue $1 completed, each step once, by one worker.
check_done() {
	local queue=$1 count=$2 steps=$3
	wait_for "SELECT count(*) = $count FROM workflow.workflows
		WHERE workflow_id LIKE '$queue-%' AND status = 'completed'" 30
	expect "SELECT count(*) FROM workflow.history WHERE workflow_id LIKE '$queue-%'
		AND event_type = 'ActivityCompleted'" $((count * steps))
	expect "SELECT count(*) FROM workflow.history WHERE workflow_id LIKE '$queue-%'
		AND event_type = 'ActivityStarted'" $((count * steps))
	expect "SELECT count(*) FROM workflow.history WHERE workflow_id LIKE '$queue-%'
		AND event_type = 'ActivityFailed'" 0
	expect "SELECT min(result #>> '{input,step}') || '/' || max(result #>> '{input,step}')
		FROM workflow.workflows WHERE workflow_id LIKE '$queue-%'" "$steps/$steps"
}

# 1. One workflow of four steps, one slot: claimed once, then every next
#    step comes back with the completion of the one before; the last
#    report (--max-tasks reached) is a plain complete_activity.
start_steps eq1 4 1
start_worker -v -q eq1 --handler Step="$HANDLERS/echo.sh" -c 1 --max-tasks 4 --worker-id eager-1
wait_worker 60
((WORKER_RC == 0)) || fail "workflow-worker exited with $WORKER_RC"
check_done eq1 1 4
(($(claims_with_tasks eq1) == 1)) || fail "eq1: expected one claim query that returned a task"
(($(log_count 'claimed 1 of 1 from queue "eq1" with the completion of task [0-9]+ \(complete_and_claim\)') == 3)) ||
	fail "eq1: expected steps 2, 3 and 4 to be handed over by complete_and_claim"
(($(log_count 'from queue "eq1" with the completion') == 3)) ||
	fail "eq1: the last report should not claim (--max-tasks reached)"
expect "SELECT string_agg(DISTINCT data->>'worker_id', ',') FROM workflow.history
		WHERE workflow_id = 'eq1-1' AND event_type = 'ActivityStarted'" eager-1

# 2. Twelve workflows of three steps, four slots, batches of two: most
#    tasks come from complete_and_claim, none runs twice.
start_steps eq2 3 12
start_worker -v -q eq2 --handler Step="$HANDLERS/echo.sh" -c 4 --batch 2
check_done eq2 12 3
kill -TERM "$WORKER_PID"
wait_worker 30
((WORKER_RC == 0)) || fail "workflow-worker exited with $WORKER_RC"
eager=$(eager_started eq2)
claimed=$(grep -oE 'claimed [0-9]+ of [0-9]+ from queue "eq2"$' "$WORKER_LOG" | awk '{ n += $2 } END { print n + 0 }')
echo "eq2: $eager of 36 tasks from complete_and_claim, $claimed from $(claims_with_tasks eq2) claim queries"
((eager + claimed == 36)) || fail "eq2: $eager + $claimed tasks started, expected 36"
((eager >= 18)) || fail "eq2: only $eager of 36 tasks came from complete_and_claim"
(($(log_count 'queue=eq2 .*outcome=completed') == 36)) || fail "eq2: expected 36 completed tasks in the log"

# 3. --no-eager: complete_activity, and a claim query for every step.
start_steps eq3 4 1
start_worker -v -q eq3 --handler Step="$HANDLERS/echo.sh" -c 1 --max-tasks 4 --no-eager --poll-interval 1
wait_worker 60
((WORKER_RC == 0)) || fail "workflow-worker exited with $WORKER_RC"
check_done eq3 1 4
(($(log_count 'from queue "eq3" with the completion') == 0)) || fail "eq3: --no-eager used complete_and_claim"
(($(claims_with_tasks eq3) == 4)) || fail "eq3: expected a claim query for each of the 4 steps"

# 4. A complete_and_claim that comes too late (WF010: the handler put its
#    own task back in the queue) is logged and dropped; nothing was claimed
#    with it, so the task is claimed again the usual way and the workflow
#    goes on eagerly.
start_steps eq4 2 1
start_worker -v -q eq4 --handler Step="$HANDLERS/unclaim.sh $WT_TMP/eq4.marker" -c 1 --max-tasks 3
wait_worker 60
((WORKER_RC == 0)) || fail "workflow-worker exited with $WORKER_RC"
check_done eq4 1 2
(($(log_count 'queue=eq4 .*outcome=completed .*report=rejected report_error="activity task [0-9]+ is not held by a worker') == 1)) ||
	fail "eq4: expected one rejected report"
(($(claims_with_tasks eq4) == 2)) || fail "eq4: expected the rejected task to be claimed again"
(($(log_count 'claimed 1 of 1 from queue "eq4" with the completion') == 1)) ||
	fail "eq4: expected step 2 to be handed over by complete_and_claim"

# 5. complete_and_claim fails for a reason that is not the result's (the
#    worker's role may not execute it): the task is reported again with
#    complete_activity and the rest of the connection does without.
q "DROP ROLE IF EXISTS eager_worker" >/dev/null 2>&1 || true
q "CREATE ROLE eager_worker LOGIN"
q "SELECT workflow.grant_queue('eq5', 'eager_worker')" >/dev/null
q "REVOKE EXECUTE ON FUNCTION workflow.complete_and_claim(bigint, jsonb, text, text, integer) FROM PUBLIC"
# (and the overload naming the run, which the worker calls where it exists)
q "REVOKE EXECUTE ON FUNCTION workflow.complete_and_claim(bigint, jsonb, text, text, integer, text) FROM PUBLIC"
start_steps eq5 3 1
start_worker -v -d "user=eager_worker" -q eq5 --handler Step="$HANDLERS/echo.sh" -c 1 --max-tasks 3 --poll-interval 1
wait_worker 60
((WORKER_RC == 0)) || fail "workflow-worker exited with $WORKER_RC"
check_done eq5 1 3
(($(log_count 'complete_and_claim failed, reporting with complete_activity; eager dispatch is off until the next reconnect: permission denied') == 1)) ||
	fail "eq5: expected one failed complete_and_claim"
(($(log_count 'queue=eq5 .*outcome=completed') == 3)) || fail "eq5: expected 3 completed tasks in the log"
(($(claims_with_tasks eq5) == 3)) || fail "eq5: expected a claim query for each of the 3 steps"
q "DROP OWNED BY eager_worker; DROP ROLE eager_worker"

# 6. An extension without complete_and_claim (SQLSTATE 42883 on prepare),
#    nor the report overloads that name the run: the worker says so once
#    and reports with complete_activity(task_id, result).
for f in 'complete_and_claim(bigint, jsonb, text, text, integer)' \
	'complete_and_claim(bigint, jsonb, text, text, integer, text)' 'complete_activity(bigint, jsonb, text)' \
	'fail_activity(bigint, text, boolean, jsonb, text)' 'heartbeat_activity(bigint, jsonb, text)'; do
	q "ALTER EXTENSION workflow DROP FUNCTION workflow.$f"
	q "DROP FUNCTION workflow.$f"
done
start_steps eq6 3 1
start_worker -v -q eq6 --handler Step="$HANDLERS/echo.sh" -c 1 --max-tasks 3 --poll-interval 1
wait_worker 60
((WORKER_RC == 0)) || fail "workflow-worker exited with $WORKER_RC"
check_done eq6 1 3
(($(log_count 'has no workflow.complete_and_claim .*eager dispatch is off') == 1)) ||
	fail "eq6: expected the missing function to be logged once"
(($(log_count 'from queue "eq6" with the completion') == 0)) || fail "eq6: used complete_and_claim"
(($(claims_with_tasks eq6) == 3)) || fail "eq6: expected a claim query for each of the 3 steps"
echo "ok"
