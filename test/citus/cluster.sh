#!/usr/bin/env bash
# A three-node Citus cluster on one machine for the workflow extension:
# a coordinator and two workers, each a tools/cluster.sh cluster (run by
# the unprivileged OS user wfpg) with shared_preload_libraries =
# 'citus,workflow', listening on 127.0.0.1 with trust authentication.
#
# Usage: test/citus/cluster.sh COMMAND
#   fresh     wipe, initdb and start the three nodes; CREATE EXTENSION citus
#             on each, add the workers, CREATE EXTENSION workflow on the
#             coordinator (Citus propagates it to the workers)
#   start     start the three nodes
#   stop      stop them (fast)
#   kill N    stop node N (1 or 2) with -m immediate; restart N starts it
#   restart N
#   psql N [ARGS...]  psql on node N (0 = coordinator)
#
# Environment:
#   WF_CITUS_DIR   parent directory of the nodes (default /tmp/citus-cluster)
#   WF_CITUS_PORT  the coordinator's port; the workers take the next two
#                  (default 5610)
#   WF_CITUS_DB    the database (default postgres)
#   PG_CONFIG      the server's pg_config
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BASE=${WF_CITUS_DIR:-/tmp/citus-cluster}
PORT0=${WF_CITUS_PORT:-5610}
DB=${WF_CITUS_DB:-postgres}

# The knobs Citus needs besides tools/cluster.sh's: TCP on 127.0.0.1 for
# the nodes' connections to each other, prepared transactions for its
# two-phase commits, no SSL between nodes.
CONF="listen_addresses = '127.0.0.1'
max_prepared_transactions = 64
max_connections = 200
citus.node_conninfo = 'sslmode=disable'
wal_level = logical"

node() {
	local n=$1
	shift
	WF_CLUSTER_DIR=$BASE/node$n WF_PORT=$((PORT0 + n)) WF_PRELOAD='citus,workflow' \
		WF_EXTRA_CONF=$CONF "$REPO/tools/cluster.sh" "$@"
}

psql_node() {
	local n=$1
	shift
	PGDATABASE=$DB node "$n" psql -X -v ON_ERROR_STOP=1 -q "$@"
}

cmd_fresh() {
	mkdir -p "$BASE"
	chmod 755 "$BASE"
	local n
	for n in 0 1 2; do
		node "$n" fresh
	done
	for n in 0 1 2; do
		psql_node "$n" -c 'CREATE EXTENSION citus'
	done
	psql_node 0 <<SQL
SELECT citus_set_coordinator_host('127.0.0.1', $PORT0);
SELECT citus_add_node('127.0.0.1', $((PORT0 + 1)));
SELECT citus_add_node('127.0.0.1', $((PORT0 + 2)));
CREATE EXTENSION workflow;
SQL
}

main() {
	local cmd=${1:-} n
	(($# > 0)) && shift
	case $cmd in
	fresh) cmd_fresh ;;
	start | stop) for n in 0 1 2; do node "$n" "$cmd"; done ;;
	kill) node "${1:?node number}" stop-immediate ;;
	restart) node "${1:?node number}" start ;;
	psql)
		n=${1:?node number}
		shift
		psql_node "$n" "$@"
		;;
	*)
		sed -n '/^# Usage:/,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
		exit 2
		;;
	esac
}

main "$@"
