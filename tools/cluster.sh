#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests, demos and benchmarks, run by
# the server that PG_CONFIG (default: pg_config on PATH) describes.
#
# PostgreSQL refuses to run as root, so the server runs as the
# unprivileged OS user wfpg (created on first use).  Callers stay root and
# connect over the unix socket in the cluster directory as the database
# role "postgres" with trust authentication.  The machine's own
# clusters (Debian's NN/main) are never touched.
#
# Usage: tools/cluster.sh COMMAND [ARGS...]
#   fresh           stop, wipe, initdb, configure and start
#   start           start (waits until it accepts connections)
#   stop            fast shutdown (no error if not running)
#   stop-immediate  immediate shutdown, i.e. a simulated crash
#   restart         fast shutdown, then start
#   status          exit 0 if running, 3 if not
#   env             print export lines: eval "$(tools/cluster.sh env)"
#   psql [ARGS...]  run psql against the cluster
#   ensure-user     create the wfpg OS user if missing
#
# Environment:
#   WF_CLUSTER_DIR  cluster directory (default /tmp/workflow-cluster);
#                   holds data/, log/postgresql.log and the socket
#   WF_PORT         port (default 54329)
#   WF_PRELOAD      shared_preload_libraries (default workflow; set it to
#                   '' to run without the extension library)
#   WF_EXTRA_CONF   extra postgresql.conf lines appended by "fresh"
#   PG_CONFIG       the server's pg_config (default: pg_config on PATH)
set -euo pipefail

# shellcheck source=tools/pgconfig.bash
source "$(dirname "${BASH_SOURCE[0]}")/pgconfig.bash"
PG_USER=wfpg
CLUSTER_DIR=${WF_CLUSTER_DIR:-/tmp/workflow-cluster}
PORT=${WF_PORT:-54329}
PRELOAD=${WF_PRELOAD-workflow}
[[ $CLUSTER_DIR == /?* ]] ||
	{ echo "cluster.sh: WF_CLUSTER_DIR must be an absolute path" >&2 && exit 1; }
DATA_DIR=$CLUSTER_DIR/data
LOG_FILE=$CLUSTER_DIR/log/postgresql.log
START_TIMEOUT=60

die() {
	echo "cluster.sh: $*" >&2
	exit 1
}

# Run a command as the cluster's OS user from a directory it can read.
as_pg_user() {
	(cd / && runuser -u "$PG_USER" -- "$@")
}

ensure_user() {
	if ! id -u "$PG_USER" >/dev/null 2>&1; then
		((EUID == 0)) || die "OS user $PG_USER is missing; run as root to create it"
		useradd --system --user-group --no-create-home \
			--home-dir /nonexistent --shell /usr/sbin/nologin "$PG_USER"
	fi
}

# Check what every command needs: root, the binaries, the OS user.
preflight() {
	((EUID == 0)) || die "run as root (the server itself runs as $PG_USER)"
	pg_locate || exit 1
	ensure_user
}

is_running() {
	[[ -f $DATA_DIR/PG_VERSION ]] &&
		as_pg_user "$PG_BINDIR/pg_ctl" -D "$DATA_DIR" status >/dev/null 2>&1
}

show_log_tail() {
	if [[ -f $LOG_FILE ]]; then
		echo "--- last lines of $LOG_FILE ---" >&2
		tail -n 20 "$LOG_FILE" >&2
	fi
}

# Fail early with a useful message when a preloaded library is missing,
# instead of a server that silently refuses to start.
check_preload() {
	local libdir lib
	libdir=$PG_PKGLIBDIR
	local -a libs
	IFS=', ' read -r -a libs <<<"$PRELOAD"
	for lib in "${libs[@]}"; do
		[[ -n $lib ]] || continue
		[[ -f $libdir/$lib.so ]] ||
			die "$libdir/$lib.so is not installed (run 'make install'," \
				"or set WF_PRELOAD='' to start without it)"
	done
}

write_config() {
	cat >>"$DATA_DIR/postgresql.conf" <<EOF

# Added by tools/cluster.sh
port = $PORT
listen_addresses = ''
unix_socket_directories = '$CLUSTER_DIR'
shared_preload_libraries = '$PRELOAD'
max_worker_processes = 32
fsync = on
synchronous_commit = on
logging_collector = off
log_min_messages = warning
log_checkpoints = off
log_line_prefix = '%m [%p] %q%u@%d %a: '
log_timezone = 'UTC'
timezone = 'UTC'
# A crash test must see the server come back on its own.
restart_after_crash = on
max_connections = 100
EOF
	if [[ -n ${WF_EXTRA_CONF:-} ]]; then
		printf '%s\n' "$WF_EXTRA_CONF" >>"$DATA_DIR/postgresql.conf"
	fi
}

# Close every descriptor above 2 of the current (sub)shell.  The server
# outlives this script and would otherwise keep what its caller had open:
# the lock of "flock LOCK make test", or a pipe a caller reads to its end.
close_inherited_fds() {
	local fd
	for fd in /proc/"$BASHPID"/fd/*; do
		fd=${fd##*/}
		if ((fd > 2)); then
			eval "exec $fd>&-" 2>/dev/null || true
		fi
	done
}

cmd_start() {
	[[ -f $DATA_DIR/PG_VERSION ]] ||
		die "no cluster in $DATA_DIR; run 'tools/cluster.sh fresh' first"
	if is_running; then
		return 0
	fi
	if ! (
		close_inherited_fds
		as_pg_user "$PG_BINDIR/pg_ctl" -D "$DATA_DIR" -l "$LOG_FILE" \
			-w -t "$START_TIMEOUT" start >/dev/null
	); then
		show_log_tail
		die "could not start the cluster in $DATA_DIR (port $PORT)"
	fi
	wait_ready
}

# pg_ctl -w already waits, but after a crash restart the postmaster may
# still be recovering; callers want a cluster that accepts connections.
wait_ready() {
	local i
	for ((i = 0; i < START_TIMEOUT * 10; i++)); do
		if "$PG_BINDIR/pg_isready" -q -h "$CLUSTER_DIR" -p "$PORT" \
			-U postgres -d postgres; then
			return 0
		fi
		sleep 0.1
	done
	show_log_tail
	die "cluster on port $PORT not ready after ${START_TIMEOUT}s"
}

# Stop with the given shutdown mode; no error when already stopped.
stop_mode() {
	local mode=$1
	is_running || return 0
	if ! as_pg_user "$PG_BINDIR/pg_ctl" -D "$DATA_DIR" -m "$mode" \
		-w -t "$START_TIMEOUT" stop >/dev/null; then
		show_log_tail
		die "could not stop the cluster in $DATA_DIR"
	fi
}

cmd_fresh() {
	check_preload
	stop_mode immediate
	rm -rf "$DATA_DIR" "$CLUSTER_DIR/log"
	mkdir -p "$CLUSTER_DIR/log"
	chown "$PG_USER:" "$CLUSTER_DIR" "$CLUSTER_DIR/log"
	# Readable and traversable so that non-root callers find the socket.
	chmod 755 "$CLUSTER_DIR" "$CLUSTER_DIR/log"
	# Every parent must be traversable by the server's user.
	as_pg_user test -w "$CLUSTER_DIR" ||
		die "$PG_USER cannot write $CLUSTER_DIR (check parent directory permissions)"
	if ! as_pg_user "$PG_BINDIR/initdb" -D "$DATA_DIR" -U postgres \
		--auth=trust -E UTF8 --locale=C >"$CLUSTER_DIR/log/initdb.log" 2>&1; then
		cat "$CLUSTER_DIR/log/initdb.log" >&2
		die "initdb failed"
	fi
	write_config
	# pg_ctl would create the log with mode 0600; keep it readable.
	as_pg_user touch "$LOG_FILE"
	chmod 644 "$LOG_FILE"
	cmd_start
}

cmd_env() {
	printf 'export PGHOST=%q\n' "$CLUSTER_DIR"
	printf 'export PGPORT=%q\n' "$PORT"
	echo 'export PGUSER=postgres'
	echo 'export PGDATABASE=postgres'
}

cmd_psql() {
	pg_locate || exit 1
	export PGHOST=$CLUSTER_DIR PGPORT=$PORT
	export PGUSER=${PGUSER:-postgres} PGDATABASE=${PGDATABASE:-postgres}
	exec "$PG_BINDIR/psql" "$@"
}

usage() {
	sed -n '/^# Usage:/,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
}

main() {
	local cmd=${1:-}
	if (($# > 0)); then shift; fi
	case $cmd in
	env)
		cmd_env
		return
		;;
	psql) cmd_psql "$@" ;;
	ensure-user)
		ensure_user
		return
		;;
	fresh | start | stop | stop-immediate | restart | status) ;;
	*) usage ;;
	esac
	preflight
	case $cmd in
	fresh) cmd_fresh ;;
	start) cmd_start ;;
	stop) stop_mode fast ;;
	stop-immediate) stop_mode immediate ;;
	restart)
		stop_mode fast
		cmd_start
		;;
	status)
		if is_running; then
			echo "running: $DATA_DIR (port $PORT, socket dir $CLUSTER_DIR)"
		else
			echo "not running: $DATA_DIR"
			exit 3
		fi
		;;
	esac
}

main "$@"
