#!/usr/bin/env bash
# pgworkflow (clients/python): its pytest suite against the throwaway
# cluster (start + result, a retried flaky activity, a non-retryable
# failure, heartbeat cancellation, SIGTERM mid-task, reconnect after a
# server restart, the order saga with Python workers).
source "$(dirname "$0")/lib/worker.bash"

PY=/usr/bin/python3   # Debian's, which has python3-psycopg and python3-pytest
"$PY" -c 'import psycopg, pytest' || fail "$PY has no psycopg or pytest; run make deps"
export PYTHONDONTWRITEBYTECODE=1
export WF_CLUSTER_CMD=$CLUSTER   # the restart test restarts the server

setup_db pyclient
"$PY" -m pytest -p no:cacheprovider -q -x "$REPO/clients/python/tests" 2>&1 | tee "$WORKER_LOG"
rc=${PIPESTATUS[0]}
PGDATABASE=postgres dropdb --force pyclient
exit "$rc"
