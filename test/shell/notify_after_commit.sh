#!/usr/bin/env bash
# LISTEN/NOTIFY: announced after commit, never for a rollback, by the scheduler.
set -euo pipefail
psql -X -q -c "CREATE DATABASE notify_test"
trap 'psql -X -q -c "DROP DATABASE IF EXISTS notify_test" >/dev/null 2>&1 || true' EXIT
PGDATABASE=notify_test /usr/bin/python3 "$(dirname "$0")/../python/notify_after_commit.py"
