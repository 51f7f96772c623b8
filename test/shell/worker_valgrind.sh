#!/usr/bin/env bash
# Memory: a few hundred tasks with every kind of outcome under valgrind,
# with a server restart in the middle; no leaks, no memory errors.
# Skipped (passes) when valgrind is not installed.
source "$(dirname "$0")/lib/worker.bash"

if ! command -v valgrind >/dev/null; then
	echo "skipped: valgrind is not installed"
	exit 0
fi
setup_db worker_valgrind
q "CREATE FUNCTION one_activity(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS \$\$
BEGIN
	RETURN workflow.activity(input->>'activity', input, 'wq_vg',
		'{\"start_to_close_timeout\": \"20 seconds\",
		  \"retry\": {\"initial_interval\": \"1 second\", \"maximum_attempts\": 2}}');
END
\$\$" >/dev/null
q "SELECT workflow.register_workflow('one_activity', 'one_activity(jsonb)'::regprocedure)" >/dev/null
q "SELECT count(workflow.start_workflow('one_activity',
		jsonb_build_object('activity', (ARRAY['Echo', 'Echo', 'Flaky', 'Reject', 'Garbage', 'Nobody'])[1 + i % 6], 'i', i),
		'vg-' || i))
	FROM generate_series(1, 240) i" >/dev/null

VG_LOG=$WT_TMP/valgrind.log
start_ticker
valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 \
	--log-file="$VG_LOG" "$WORKER" -q wq_vg --handler Echo="$HANDLERS/echo.sh" \
	--handler Flaky="$HANDLERS/flaky.sh" --handler Reject="$HANDLERS/reject.sh" \
	--handler Garbage="$HANDLERS/garbage.sh" -c 4 --batch 3 --poll-interval 0.5 \
	>>"$WORKER_LOG" 2>&1 &
WORKER_PID=$!
wait_for "SELECT count(*) >= 60 FROM workflow.workflows WHERE workflow_id LIKE 'vg-%' AND status <> 'running'" 120
"$CLUSTER" restart
wait_for "SELECT count(*) = 240 FROM workflow.workflows WHERE workflow_id LIKE 'vg-%' AND status <> 'running'" 240
kill -TERM "$WORKER_PID"
wait_worker 60
grep -E 'in use at exit|definitely lost|ERROR SUMMARY' "$VG_LOG" || true
((WORKER_RC == 0)) || { cat "$VG_LOG" >&2; fail "valgrind or the worker failed (status $WORKER_RC)"; }
grep -q 'ERROR SUMMARY: 0 errors' "$VG_LOG" || { cat "$VG_LOG" >&2; fail "valgrind reported errors"; }
expect "SELECT count(*) FROM workflow.workflows WHERE workflow_id LIKE 'vg-%' AND status = 'completed'" 120
(($(log_count 'outcome=') >= 280)) || fail "expected at least 280 finished tasks in the log"
echo "ok"
