#!/usr/bin/env bash
# examples/node/worker.js (on pgworkflow, clients/node) passes the example scenario
# (test/shell/lib/example.bash).
source "$(dirname "$0")/lib/worker.bash"

EXAMPLE=$REPO/examples/node
source "$(dirname "$0")/lib/node.bash"
npm_ci_once "$EXAMPLE" pgworkflow
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
	WORKER_JS=$EXAMPLE/worker.js exec node --input-type=module -e '
const worker = await import(process.env.WORKER_JS);
worker.HANDLERS.Slow = async (input, ctx) => {
  if (ctx.attempt === 1) await new Promise((resolve) => setTimeout(resolve, 3000));
  return { attempt: ctx.attempt };
};
await worker.main(process.argv.slice(1));
' -- "$@"
}

source "$(dirname "$0")/lib/example.bash"
