# The pgworkflow Node.js client's dependencies (pg from the npm registry),
# installed once per checkout into clients/node/node_modules (not
# committed), and those of examples/node, which links to the client.
# Sourced after lib/worker.bash.
# shellcheck shell=bash

command -v node >/dev/null || fail "node not found; run make deps"
NODE_CLIENT=$REPO/clients/node

# npm ci in directory $1 unless its node_modules/$2 is there.  Older npm
# (Debian's npm 9, in the 17 and 18 chroots) wants a lock file that also
# lists the dependencies of a linked file: package, which newer npm does not
# write: there, install from package.json without reading or writing the
# lock file.
npm_ci_once() {
	local dir=$1 probe=$2
	[[ -e $dir/node_modules/$probe ]] && return 0
	(cd "$dir" && { timeout 300 npm ci --no-audit --no-fund --loglevel=error ||
		timeout 300 npm install --no-package-lock --no-audit --no-fund --loglevel=error; }) ||
		fail "npm could not install the dependencies of $dir"
}

npm_ci_once "$NODE_CLIENT" pg
