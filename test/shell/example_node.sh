#!/usr/bin/env bash
# examples/node/worker.js (node-postgres) passes the example scenario
# (test/shell/lib/example.bash).
source "$(dirname "$0")/lib/worker.bash"

EXAMPLE=$REPO/examples/node
command -v node >/dev/null || fail "node not found; run make deps"
# The pinned pg from the npm registry, once per checkout (node_modules/ is
# not committed).
if [[ ! -d $EXAMPLE/node_modules/pg ]]; then
	(cd "$EXAMPLE" && timeout 300 npm ci --no-audit --no-fund --loglevel=error) ||
		fail "npm ci failed in $EXAMPLE"
fi
EXAMPLE_NAME=node
QUEUE=node_queue
WORKER_NAME=worker.js

# The worker.  Callers run it in a background subshell and signal that
# pid, so it replaces the subshell (exec).
run_example() {
	exec node "$EXAMPLE/worker.js" "$@"
}

# The worker with one more handler, Slow, that outlives its lease on
# attempt 1 (exec, as above).
run_example_with_slow_handler() {
	exec node -e '
const worker = require(process.argv[1]);
worker.HANDLERS.Slow = async (input, task) => {
  if (task.attempt === 1) await new Promise((resolve) => setTimeout(resolve, 3000));
  return { attempt: task.attempt };
};
worker.main(process.argv.slice(2)).catch((e) => { console.error(e); process.exit(1); });
' "$EXAMPLE/worker.js" "$@"
}

source "$(dirname "$0")/lib/example.bash"
