#!/usr/bin/env bash
# A handler whose program cannot be executed.  At start-up: a path that
# does not exist, a name not in PATH, a directory, a file without execute
# permission each make the worker refuse to start (exit 1, one line naming
# the activity and the program), before it connects.  At run time: a
# script whose interpreter is missing (exec fails: 127) and, with --shell,
# a command the shell cannot find (127) or execute (126) fail the task for
# good: one attempt each although the retry policy allows unlimited ones.
# Also: --help and --version name the new options.
source "$(dirname "$0")/lib/worker.bash"

# 0. --help and --version name the operator-facing options.
help=$("$WORKER" --help) || fail "--help failed"
version=$("$WORKER" --version) || fail "--version failed"
for o in --exit-on-error --log-format; do
	[[ $help == *"$o"* ]] || fail "--help does not mention $o"
	[[ $version == *"$o"* ]] || fail "--version does not mention $o"
done
[[ $help == *SIGHUP* && $help == *"126 and 127"* ]] || fail "--help does not mention SIGHUP and 126/127"
[[ ${version%%$'\n'*} == "workflow-worker 0.2" ]] || fail "--version's first line changed: $version"

# 1. Refused at start-up.
mkdir "$WT_TMP/dir"
printf '#!/bin/sh\necho "{}"\n' >"$WT_TMP/noexec.sh"
chmod 644 "$WT_TMP/noexec.sh"
check_refused() {
	local spec=$1 want=$2 rc=0 out
	out=$(timeout 10 "$WORKER" -d 'dbname=no_such_database_for_startup_checks' -q wq_start \
		--handler Ok="$HANDLERS/echo.sh" --handler "$spec" 2>&1) || rc=$?
	((rc == 1)) || fail "--handler $spec: exit status $rc, expected 1 (output: $out)"
	[[ $out == *"$want"* ]] || fail "--handler $spec: expected '$want' in: $out"
	[[ $out != *"could not connect"* && $out != *starting* ]] || fail "--handler $spec: the worker started: $out"
}
check_refused "Missing=./no/such/handler.sh" 'the handler for activity "Missing" cannot be executed: "./no/such/handler.sh" not found'
check_refused "Missing=no-such-program-anywhere --flag" '"no-such-program-anywhere" not found in PATH'
check_refused "Dir=$WT_TMP/dir" "\"$WT_TMP/dir\" is a directory"
check_refused "NoExec=$WT_TMP/noexec.sh" "\"$WT_TMP/noexec.sh\" is not executable"

# 2. Cannot execute at run time: not retried.
setup_db worker_startup_checks
q "CREATE FUNCTION one_activity(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS \$\$
BEGIN
	RETURN workflow.activity(input->>'activity', input, 'wq_start',
		'{\"retry\": {\"initial_interval\": \"100 milliseconds\", \"maximum_attempts\": 0}}');
END
\$\$" >/dev/null
q "SELECT workflow.register_workflow('one_activity', 'one_activity(jsonb)'::regprocedure)" >/dev/null
printf '#!/no/such/interpreter\n' >"$WT_TMP/badinterp.sh"
chmod 755 "$WT_TMP/badinterp.sh"
for a in BadInterp; do
	q "SELECT workflow.start_workflow('one_activity', '{\"activity\": \"$a\"}', 'exec-$a')" >/dev/null
done
start_ticker
start_worker -q wq_start --handler BadInterp="$WT_TMP/badinterp.sh" --poll-interval 0.2 --max-tasks 1
wait_worker 30
((WORKER_RC == 0)) || fail "workflow-worker exited with $WORKER_RC"

for a in ShellNotFound ShellNoExec; do
	q "SELECT workflow.start_workflow('one_activity', '{\"activity\": \"$a\"}', 'exec-$a')" >/dev/null
done
start_worker -q wq_start --shell --handler ShellNotFound='no-such-program-anywhere --x' \
	--handler ShellNoExec="$WT_TMP/noexec.sh" --poll-interval 0.2 --max-tasks 2
wait_worker 30
((WORKER_RC == 0)) || fail "workflow-worker --shell exited with $WORKER_RC"

wait_for "SELECT count(*) = 3 FROM workflow.workflows WHERE workflow_id LIKE 'exec-%' AND status = 'failed'" 30
for a in BadInterp ShellNotFound ShellNoExec; do
	expect "SELECT count(*) FROM workflow.history WHERE workflow_id = 'exec-$a' AND event_type = 'ActivityStarted'" 1
	expect "SELECT (data->>'retryable') || ' ' || (data->>'final') FROM workflow.history
		WHERE workflow_id = 'exec-$a' AND event_type = 'ActivityFailed'" "false true"
done
expect "SELECT count(*) FROM workflow.history WHERE workflow_id = 'exec-BadInterp' AND event_type = 'ActivityFailed'
	AND data->>'error' LIKE '%could not execute%badinterp.sh%No such file or directory%'" 1
(($(log_count 'activity=BadInterp .*outcome=cannot-execute exit=127 .*retryable=false') == 1)) ||
	fail "exec failure not logged as cannot-execute"
(($(log_count 'activity=ShellNotFound .*outcome=cannot-execute exit=127 .*retryable=false') == 1)) ||
	fail "the shell's 127 not logged as cannot-execute"
(($(log_count 'activity=ShellNoExec .*outcome=cannot-execute exit=126 .*retryable=false') == 1)) ||
	fail "the shell's 126 not logged as cannot-execute"
echo "ok"
