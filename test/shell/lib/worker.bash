# Helpers for the workflow-worker tests (test/shell/worker_*.sh).
#
# Sourced, not run.  test/run.sh runs each test as root with the PG*
# environment of a fresh throwaway cluster (and WF_REPO, WF_CLUSTER,
# PG_CONFIG, and that server's bindir first on PATH); a test may also be
# run by hand after  eval "$(tools/cluster.sh env)".

# shellcheck shell=bash disable=SC2034 # HANDLERS, CLUSTER, WORKER_RC are for the tests
set -euo pipefail

WT_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
HANDLERS=$(cd "$WT_LIB/../handlers" && pwd)
REPO=${WF_REPO:-$(cd "$WT_LIB/../../.." && pwd)}
CLUSTER=${WF_CLUSTER:-$REPO/tools/cluster.sh}

# The worker binary: the one built in the tree, else the installed one.
if [[ -x $REPO/worker/workflow-worker ]]; then
	WORKER=$REPO/worker/workflow-worker
else
	WORKER=$("${PG_CONFIG:-pg_config}" --bindir)/workflow-worker
fi

WT_TMP=$(mktemp -d /tmp/wf-worker-test.XXXXXX)
WORKER_LOG=$WT_TMP/worker.log
WORKER_PID=
TICKER_PID=
OTHER_PIDS=()	# more workers a test started: killed at its end

# Stop what this test started (by pid) and remove its scratch files.
wt_cleanup() {
	local pid
	if [[ -n $TICKER_PID ]]; then
		kill "$TICKER_PID" 2>/dev/null || true
	fi
	for pid in "${OTHER_PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null || true
	done
	if [[ -n $WORKER_PID ]] && kill -0 "$WORKER_PID" 2>/dev/null; then
		kill -KILL "$WORKER_PID" 2>/dev/null || true
	fi
	rm -rf "$WT_TMP"
}
trap wt_cleanup EXIT

# Fail the test with a message and the worker's log.
fail() {
	echo "FAIL: $*" >&2
	if [[ -s $WORKER_LOG ]]; then
		echo "--- workflow-worker log ---" >&2
		tail -n 60 "$WORKER_LOG" >&2
	fi
	open_runs >&2
	exit 1
}

# Where the open runs of the test's database stopped (workflow.describe),
# to tell a failure apart after the cluster is gone.
open_runs() {
	echo "--- open runs (workflow.describe) ---"
	psql -X -A -t -q -c "SELECT workflow.describe(workflow_id)
		FROM workflow.workflows WHERE closed_at IS NULL ORDER BY created_at LIMIT 10" 2>&1 || true
	echo "--- tasks ---"
	psql -X -A -q -c "SELECT task_id, workflow_id, activity, queue, status, attempt, due_at
		FROM workflow.tasks ORDER BY task_id LIMIT 20" 2>&1 || true
}

# Run one SQL command; print the result unaligned, without headers.
q() {
	psql -X -A -t -q -v ON_ERROR_STOP=1 -c "$1"
}

# Check that a SQL query returns the expected text.
expect() {
	local sql=$1 want=$2 got
	got=$(q "$sql") || fail "query failed: $sql"
	[[ $got == "$want" ]] || fail "$sql: expected '$want', got '$got'"
}

# Create a database named after the test with the extension in it.
setup_db() {
	local db=$1
	PGOPTIONS="-c client_min_messages=warning" dropdb --if-exists "$db"
	createdb "$db"
	export PGDATABASE=$db
	q "CREATE EXTENSION workflow" >/dev/null
}

# Start workflow-worker in the background (arguments are passed on).
start_worker() {
	"$WORKER" "$@" >>"$WORKER_LOG" 2>&1 &
	WORKER_PID=$!
}

# Wait up to $1 seconds for the worker to exit; sets WORKER_RC.
wait_worker() {
	local limit=$1 i
	for ((i = 0; i < limit * 10; i++)); do
		kill -0 "$WORKER_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$WORKER_PID" 2>/dev/null && fail "workflow-worker still running after ${limit}s"
	WORKER_RC=0
	wait "$WORKER_PID" || WORKER_RC=$?
	WORKER_PID=
}

# Wait up to $2 seconds until the SQL query $1 returns true.
wait_for() {
	local sql=$1 limit=$2 i
	for ((i = 0; i < limit * 5; i++)); do
		[[ $(q "$sql") == t ]] && return 0
		sleep 0.2
	done
	fail "not true after ${limit}s: $sql"
}

# Call workflow.tick() twice a second in the background, so retries and
# timeouts fire even where the background worker is slow or absent.
start_ticker() {
	(
		while :; do
			q "SELECT workflow.tick()" >/dev/null 2>&1 || true
			sleep 0.5
		done
	) &
	TICKER_PID=$!
}

# Number of log lines of the worker that match a regular expression.
log_count() {
	grep -c -E -- "$1" "$WORKER_LOG" || true
}
