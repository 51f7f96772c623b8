#!/usr/bin/env bash
# examples/python/worker.py (pgworkflow, clients/python) passes the example
# scenario (test/shell/lib/example.bash).
source "$(dirname "$0")/lib/worker.bash"

PY=/usr/bin/python3   # Debian's, which has python3-psycopg
EXAMPLE=$REPO/examples/python
export PYTHONDONTWRITEBYTECODE=1  # importing worker.py leaves no __pycache__/
export PYTHONPATH=$REPO/clients/python  # pgworkflow from the tree
"$PY" -c 'import psycopg' || fail "$PY has no psycopg; run make deps"
EXAMPLE_NAME=python
QUEUE=py_queue
WORKER_NAME=worker.py

# The worker.  Callers run it in a background subshell and signal that
# pid, so it replaces the subshell (exec).
run_example() {
	exec "$PY" "$EXAMPLE/worker.py" "$@"
}

# The worker with one more handler, Slow, that outlives its lease on
# attempt 1 (exec, as above).
run_example_with_slow_handler() {
	exec "$PY" -c '
import sys, time
sys.path.insert(0, sys.argv[1])
import worker
def slow(inp, ctx):
    if ctx.attempt == 1:
        time.sleep(3)
    return {"attempt": ctx.attempt}
worker.HANDLERS["Slow"] = slow
sys.exit(worker.main(sys.argv[2:]))
' "$EXAMPLE" "$@"
}

source "$(dirname "$0")/lib/example.bash"
