#!/usr/bin/env bash
# The pgworkflow Node.js client (clients/node): its node --test suite
# against this cluster -- start and result, retries, a non-retryable
# failure, heartbeat cancellation, SIGTERM mid-task, a server restart with
# a task in flight, and the seed saga with the Node example worker.
source "$(dirname "$0")/lib/worker.bash"
source "$(dirname "$0")/lib/node.bash"
npm_ci_once "$REPO/examples/node" pgworkflow

setup_db client_node
export WF_CLUSTER=$CLUSTER
cd "$NODE_CLIENT" || fail "no $NODE_CLIENT"
timeout 240 node --test --test-concurrency=1 --test-reporter=spec test/client.test.js ||
	fail "node --test failed in $NODE_CLIENT"
echo "ok"
