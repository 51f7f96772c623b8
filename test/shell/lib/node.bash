# The pgworkflow Node.js client's dependencies (pg from the npm registry),
# installed once per checkout into clients/node/node_modules (not
# committed), and those of examples/node, which links to the client.
# Sourced after lib/worker.bash.
# shellcheck shell=bash

command -v node >/dev/null || fail "node not found; run make deps"
NODE_CLIENT=$REPO/clients/node

# npm ci in directory $1 unless its node_modules/$2 is there.
npm_ci_once() {
	local dir=$1 probe=$2
	[[ -e $dir/node_modules/$probe ]] && return 0
	(cd "$dir" && timeout 300 npm ci --no-audit --no-fund --loglevel=error) ||
		fail "npm ci failed in $dir"
}

npm_ci_once "$NODE_CLIENT" pg
