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

# Packaging: pip installs it offline (no index, no build isolation: Debian's
# setuptools) into a virtual environment that sees Debian's psycopg, and the
# installed version is the extension's.
cp -r "$REPO/clients/python" "$WT_TMP/src"   # pip builds in the source tree
"$PY" -m venv --system-site-packages --without-pip "$WT_TMP/venv"
"$WT_TMP/venv/bin/python" -m pip install -q --no-index --no-build-isolation "$WT_TMP/src" \
	>"$WT_TMP/pip.log" 2>&1 || { cat "$WT_TMP/pip.log"; fail "pip install ./clients/python failed"; }
installed=$(cd / && "$WT_TMP/venv/bin/python" -c 'import importlib.metadata as m, pgworkflow
print(pgworkflow.__file__, pgworkflow.__version__, m.version("pgworkflow"))')
version=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$REPO/workflow.control")
[[ $installed == "$WT_TMP/venv/"*" $version $version" ]] || fail "installed pgworkflow (file, version, package version): $installed"
echo "pip install: $installed"

setup_db pyclient
"$PY" -m pytest -p no:cacheprovider -q -x -o log_level=INFO "$REPO/clients/python/tests" 2>&1 | tee "$WORKER_LOG"
rc=${PIPESTATUS[0]}
PGDATABASE=postgres dropdb --force pyclient
exit "$rc"
