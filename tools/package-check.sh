#!/usr/bin/env bash
# Inside the chroot of tools/package-test.sh, where postgresql-MAJOR and
# postgresql-MAJOR-workflow are installed and nothing else: start a server
# as an unprivileged user with the library preloaded, create the extension,
# run a workflow whose one activity the packaged workflow-worker executes,
# and check the result.  Exits non-zero on any failure.
#
# Usage: package-check.sh MAJOR     (as root in the chroot)
set -euo pipefail

MAJOR=$1
BINDIR=/usr/lib/postgresql/$MAJOR/bin
OS_USER=wfpkg
DIR=/tmp/package/cluster
PORT=5499
WORKER_PID=

fail() {
	echo "FAIL: $*" >&2
	[[ -f $DIR/server.log ]] && tail -n 20 "$DIR/server.log" >&2
	[[ -f $DIR/worker.log ]] && tail -n 20 "$DIR/worker.log" >&2
	exit 1
}

as_user() { runuser -u "$OS_USER" -- "$@"; }

q() {
	as_user "$BINDIR/psql" -X -A -t -q -v ON_ERROR_STOP=1 \
		-h "$DIR" -p "$PORT" -U postgres -d postgres -c "$1"
}

cleanup() {
	if [[ -n $WORKER_PID ]]; then
		kill "$WORKER_PID" 2>/dev/null || true
	fi
	if [[ -f $DIR/data/postmaster.pid ]]; then
		as_user "$BINDIR/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null 2>&1 || true
	fi
}
trap cleanup EXIT

# The first line names the version; the lines after it list features.
worker_version=$("$BINDIR/workflow-worker" --version) || fail "workflow-worker --version"
worker_version=${worker_version%%$'\n'*}
echo "== $worker_version"
"$BINDIR/workflow-worker" --help >/dev/null || fail "workflow-worker --help"
ui_version=$("$BINDIR/workflow-ui" --version) || fail "workflow-ui --version"
echo "== $ui_version"

id -u "$OS_USER" >/dev/null 2>&1 || useradd --system --user-group --no-create-home "$OS_USER"
rm -rf "$DIR"
mkdir -p "$DIR"
chown "$OS_USER:" "$DIR"
as_user "$BINDIR/initdb" -D "$DIR/data" -U postgres --auth=trust -E UTF8 --locale=C >/dev/null ||
	fail "initdb"
as_user "$BINDIR/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w start -o \
	"-c shared_preload_libraries=workflow -c listen_addresses='' -c unix_socket_directories=$DIR -c port=$PORT" \
	>/dev/null || fail "the server did not start with shared_preload_libraries = 'workflow'"
echo "== server $(q 'SHOW server_version'), shared_preload_libraries = $(q 'SHOW shared_preload_libraries')"

q 'CREATE EXTENSION workflow' || fail "CREATE EXTENSION workflow"
version=$(q "SELECT extversion FROM pg_extension WHERE extname = 'workflow'")
echo "== CREATE EXTENSION workflow: version $version"
[[ $worker_version == "workflow-worker $version" ]] ||
	fail "the packaged workflow-worker is '$worker_version', the extension $version"
[[ $ui_version == "workflow-ui $version" ]] ||
	fail "the packaged workflow-ui is '$ui_version', the extension $version"

q "CREATE FUNCTION pkg_echo(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS \$\$
BEGIN
	RETURN workflow.activity('Echo', input, 'pkg');
END \$\$"
q "SELECT workflow.register_workflow('pkg_echo', 'pkg_echo(jsonb)')" >/dev/null
q "SELECT workflow.start_workflow('pkg_echo', '{\"from\": \"the package\"}', 'pkg-1')" >/dev/null

cat >"$DIR/echo.sh" <<'EOF'
#!/bin/sh
read -r input
printf '{"echoed": %s}\n' "$input"
EOF
chmod 755 "$DIR/echo.sh"
# setpriv execs the worker, so that WORKER_PID is the worker itself.
setpriv --reuid="$OS_USER" --regid="$OS_USER" --init-groups "$BINDIR/workflow-worker" -d "host=$DIR port=$PORT user=postgres dbname=postgres" \
	-q pkg --handler Echo="$DIR/echo.sh" >"$DIR/worker.log" 2>&1 &
WORKER_PID=$!

status=
for ((i = 0; i < 300; i++)); do
	status=$(q "SELECT status FROM workflow.workflows WHERE workflow_id = 'pkg-1'")
	[[ $status == running ]] || break
	sleep 0.1
done
[[ $status == completed ]] || fail "workflow pkg-1 is '$status', not completed"
result=$(q "SELECT result FROM workflow.workflows WHERE workflow_id = 'pkg-1'")
[[ $result == '{"echoed": {"from": "the package"}}' ]] || fail "workflow pkg-1 returned $result"
echo "== workflow pkg-1 completed through workflow-worker: $result"
