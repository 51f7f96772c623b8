#!/usr/bin/env bash
# Build the shared library of a released version of the extension, from
# git, for the upgrade test (test/t/101_upgrade.pl).
#
# Usage: test/build-release.sh VERSION OUTDIR
#
# The release of VERSION is the last commit whose workflow.control has
# default_version = 'VERSION' (the commit before the version bump).  Its
# tree is exported with git archive into OUTDIR/src and its library built
# there with PGXS (PG_CONFIG, default pg_config on PATH); OUTDIR/workflow.so
# and OUTDIR/commit are the results.  Fails (status 1, with a message) when
# there is no git history here, no such release, or it does not build
# against this server (0.1 builds only against PostgreSQL 15).
set -euo pipefail

VERSION=${1:?usage: $0 VERSION OUTDIR}
OUT=${2:?usage: $0 VERSION OUTDIR}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_CONFIG=${PG_CONFIG:-pg_config}

git -C "$REPO" rev-parse --git-dir >/dev/null 2>&1 ||
	{ echo "build-release: $REPO has no git history" >&2; exit 1; }
release=
for c in $(git -C "$REPO" rev-list HEAD -- workflow.control); do
	if git -C "$REPO" show "$c:workflow.control" |
		grep -q "^default_version = '$VERSION'"; then
		release=$c
		break
	fi
done
[[ -n $release ]] ||
	{ echo "build-release: no commit has default_version = '$VERSION' in workflow.control" >&2; exit 1; }
# The last commit of that version: the child of the commit found, on the
# path to HEAD, that changed workflow.control is the bump; take its parent.
bump=$(git -C "$REPO" rev-list --reverse --ancestry-path "$release..HEAD" -- workflow.control | head -n 1)
[[ -n $bump ]] && release=$(git -C "$REPO" rev-parse "$bump^")

rm -rf "$OUT"
mkdir -p "$OUT/src"
git -C "$REPO" archive "$release" | tar -C "$OUT/src" -xf -
if ! make -C "$OUT/src" PG_CONFIG="$PG_CONFIG" workflow.so >"$OUT/build.log" 2>&1; then
	echo "build-release: version $VERSION ($release) does not build against $("$PG_CONFIG" --version); see $OUT/build.log" >&2
	exit 1
fi
cp "$OUT/src/workflow.so" "$OUT/workflow.so"
echo "$release" >"$OUT/commit"
echo "build-release: version $VERSION is commit $release: $OUT/workflow.so"
