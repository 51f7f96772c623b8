# The PostgreSQL installation the developer scripts use, found the way
# PGXS finds it: through pg_config, taken from PG_CONFIG or else from PATH.
# No script names a server version or its directories.
#
# Sourced, not run (by tools/cluster.sh, tools/demo.sh, tools/bench.sh and
# test/run.sh).  Sets and exports
#   PG_CONFIG     the pg_config used
#   PG_BINDIR     its --bindir (postgres, pg_ctl, psql, pgbench, ...)
#   PG_PKGLIBDIR  its --pkglibdir (where workflow.so is installed)
#   PGXS_DIR      the directory holding PGXS: src/makefiles/pgxs.mk,
#                 src/test/regress/pg_regress, src/test/perl
# when the caller runs pg_locate, which otherwise returns 1 with a message
# saying what to install or set.
#
# On Debian, /usr/bin/pg_config (postgresql-common) answers for the newest
# postgresql-server-dev-NN installed; when that is not the server you run,
# set PG_CONFIG to the server's own one (/usr/lib/postgresql/NN/bin/pg_config).
# shellcheck shell=bash

PG_CONFIG=${PG_CONFIG:-pg_config}

# Fill in the variables above; return 1 with a message when pg_config is
# missing or describes no server.
pg_locate() {
	local pgxs
	if ! PG_BINDIR=$("$PG_CONFIG" --bindir 2>/dev/null) ||
		! PG_PKGLIBDIR=$("$PG_CONFIG" --pkglibdir 2>/dev/null) ||
		! pgxs=$("$PG_CONFIG" --pgxs 2>/dev/null); then
		echo "$PG_CONFIG not found or not working: run 'make deps'" \
			"(tools/deps.sh), or set PG_CONFIG to a server's pg_config" >&2
		return 1
	fi
	PGXS_DIR=${pgxs%/src/makefiles/pgxs.mk}
	if [[ ! -x $PG_BINDIR/postgres ]]; then
		echo "$PG_CONFIG is $("$PG_CONFIG" --version), whose server is not in" \
			"$PG_BINDIR: install it, or set PG_CONFIG to the" \
			"pg_config of the installed one (see ls /usr/lib/postgresql/*/bin/pg_config)" >&2
		return 1
	fi
	export PG_CONFIG PG_BINDIR PG_PKGLIBDIR PGXS_DIR
}
