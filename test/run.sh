#!/usr/bin/env bash
# Run every test suite of the workflow extension against throwaway
# clusters and finish with exactly one line "N passed, N failed".
#
# Usage: test/run.sh [SUITE...]     (as root; default: all suites)
#   regress    make installcheck's pg_regress part: test/sql/NAME.sql vs
#              expected/NAME.out, against a throwaway cluster
#   isolation  make installcheck's isolation part: test/specs/NAME.spec vs
#              expected/NAME.out, against the same cluster
#   pgtap      pg_prove: test/pgtap/*.sql, each in its own new database
#   shell      test/shell/*.sh, run as root, each against a fresh cluster
#   tap        make installcheck's TAP part: test/t/*.pl with
#              PostgreSQL::Test::Cluster, one make call per file
#
# "make test" runs it after "make deps", "make all" and "make install"; it
# installs nothing and does not build.  What PGXS can run, it runs through
# PGXS: the regress, isolation and tap suites are "make installcheck" (with
# REGRESS, ISOLATION, TAP_TESTS and PROVE_TESTS narrowed to the suite), run
# as the unprivileged OS user wfpg in a wfpg-owned copy of the tree
# (PostgreSQL refuses to run as root, and wfpg may not be able to write, or
# even read, the checkout), with PGHOST/PGPORT/PGUSER of the throwaway
# cluster (tools/cluster.sh).  What PGXS cannot run is done here: pgTAP,
# one database per file; the shell tests; the OS user; the clusters.
#
# Each test file counts as one test case.  The exit status is non-zero if
# any test failed or a suite could not run.  Outputs go to tmp_check/
# (one directory per suite: make's output, diffs, results, TAP logs).
#
# Environment (besides tools/cluster.sh's WF_CLUSTER_DIR, WF_PORT,
# WF_PRELOAD, WF_EXTRA_CONF):
#   PG_CONFIG          the server's pg_config (default: pg_config on PATH)
#   WF_TEST_TIMEOUT    seconds allowed per test command (default 600)
#   WF_WORK_DIR        wfpg-owned directory holding the copy of the tree
#                      where make installcheck runs (default
#                      /tmp/workflow-installcheck)
#   WF_KEEP_CLUSTER=1  leave the throwaway cluster running at the end
#   WF_ONLY=REGEX      run only the test files whose path matches REGEX
#   PG_TEST_TIMEOUT_DEFAULT, PG_TEST_NOCLEAN  passed on to the TAP tests
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CLUSTER=$REPO/tools/cluster.sh
OUT=$REPO/tmp_check
WORK=${WF_WORK_DIR:-/tmp/workflow-installcheck}
TREE=$WORK/tree
PG_USER=wfpg
PRELOAD=${WF_PRELOAD-workflow}
TIMEOUT=${WF_TEST_TIMEOUT:-600}
ALL_SUITES=(regress isolation pgtap shell tap)

# shellcheck source=tools/pgconfig.bash
source "$REPO/tools/pgconfig.bash"

PASSED=0
FAILED=0
FINISHED=0      # the closing line has been printed
BROKEN=0        # set when a suite could not run at all
CLUSTER_UP=0    # the shared regress/isolation cluster is running
TREE_READY=0    # the wfpg-owned copy of the tree is in place

# ---------------------------------------------------------------- helpers

note() { echo "run: $*"; }

# Add a suite's results to the totals and print its summary line.
record() {
	local suite=$1 pass=$2 fail=$3
	PASSED=$((PASSED + pass))
	FAILED=$((FAILED + fail))
	printf '== %-10s %d passed, %d failed\n' "$suite" "$pass" "$fail"
}

# A suite could not run: count all its tests as failed.
broken() {
	local suite=$1 count=$2 why=$3
	note "$suite: $why"
	BROKEN=1
	record "$suite" 0 "$count"
}

# Print a file, cut to its first MAX lines.
excerpt() {
	local file=$1 max=${2:-100}
	[[ -s $file ]] || return 0
	local lines
	lines=$(wc -l <"$file")
	echo "---- $file"
	head -n "$max" "$file"
	if ((lines > max)); then
		echo "---- ... $((lines - max)) more lines in $file"
	fi
}

# Print the last MAX lines of a file (logs: the failure is at the end).
excerpt_tail() {
	local file=$1 max=${2:-30}
	[[ -s $file ]] || return 0
	echo "---- last lines of $file"
	tail -n "$max" "$file"
}

cluster_log_tail() {
	excerpt_tail "${WF_CLUSTER_DIR:-/tmp/workflow-cluster}/log/postgresql.log"
}

# List test files matching a glob, sorted, one per line (none if absent).
list_tests() {
	local pattern=$1
	(
		shopt -s nullglob
		# shellcheck disable=SC2206 # the glob is intended
		local files=($pattern)
		((${#files[@]} == 0)) || printf '%s\n' "${files[@]}" | sort |
			grep -E -- "${WF_ONLY:-.}" || true
	)
}

run_limited() {
	timeout --kill-after=10 "$TIMEOUT" "$@"
}

# Say so when a command's exit status shows that timeout ended it.
# Always succeeds.
timed_out() {
	local rc=$1 what=$2
	if ((rc == 124 || rc == 137)); then
		note "$what: timed out after ${TIMEOUT}s (WF_TEST_TIMEOUT)"
	fi
}

# Start a fresh throwaway cluster, logging to the given file; on failure
# show why.
new_cluster() {
	CLUSTER_UP=0
	"$CLUSTER" fresh >"$1" 2>&1 || { excerpt "$1" 40; return 1; }
	CLUSTER_UP=1
}

# The shared cluster for regress and isolation: fresh once, then reused.
shared_cluster() {
	if ((CLUSTER_UP)) && "$CLUSTER" status >/dev/null 2>&1; then
		return 0
	fi
	new_cluster "$OUT/cluster-fresh.log"
}

# Count the passed tests in pg_regress / pg_isolation_regress output
# ("test NAME ... ok" up to PostgreSQL 15, "ok N - NAME" from 16 on).
count_ok() {
	grep -cE '(\.\.\. ok( |$))|(^ok [0-9]+ )' "$1" || true
}

# --------------------------------------------------- make installcheck

# The tree as wfpg runs it: a fresh wfpg-owned copy of the checkout (made
# once per run), so that PGXS may write results/, output_iso/ and
# tmp_check/ beside the Makefile as it expects.
prepare_tree() {
	((TREE_READY)) && return 0
	"$CLUSTER" ensure-user
	tap_cleanup
	rm -rf "$WORK"
	mkdir -p "$TREE"
	tar -C "$REPO" --exclude=./.git --exclude=./tmp_check \
		--exclude=./results --exclude=./output_iso --exclude=node_modules \
		--exclude='*.o' --exclude='*.bc' -cf - . | tar -C "$TREE" -xf -
	chown -R "$PG_USER:" "$WORK"
	TREE_READY=1
}

# Run "make installcheck ARGS..." in the copy as wfpg, with the PG*
# settings of the running throwaway cluster (if any), output to LOG.
# Returns make's exit status.
installcheck() {
	local log=$1
	shift
	local -a conn=()
	if ((CLUSTER_UP)); then
		# shellcheck disable=SC2034 # PGDATABASE: set by the eval, unused
		local PGHOST PGPORT PGUSER PGDATABASE
		eval "$("$CLUSTER" env)"
		conn=(PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER="$PGUSER")
	fi
	local rc=0
	(
		cd "$TREE"
		runuser -u "$PG_USER" -- env -i \
			HOME="$WORK" LANG=C.UTF-8 \
			PATH="$PG_BINDIR:/usr/local/bin:/usr/bin:/bin" \
			"${conn[@]}" WF_PRELOAD="$PRELOAD" \
			${WF_RELEASE_0_1:+WF_RELEASE_0_1="$WF_RELEASE_0_1"} \
			${PG_TEST_TIMEOUT_DEFAULT:+PG_TEST_TIMEOUT_DEFAULT="$PG_TEST_TIMEOUT_DEFAULT"} \
			${PG_TEST_NOCLEAN:+PG_TEST_NOCLEAN="$PG_TEST_NOCLEAN"} \
			timeout --kill-after=10 "$TIMEOUT" \
			make --no-print-directory PG_CONFIG="$PG_CONFIG_PATH" installcheck "$@"
	) >"$log" 2>&1 || rc=$?
	timed_out "$rc" "make installcheck $*" >>"$log"
	return "$rc"
}

# Copy what PGXS left in the tree (PATHS relative to it) to DEST.
collect() {
	local dest=$1 p
	shift
	for p in "$@"; do
		[[ -e $TREE/$p ]] && cp -r "$TREE/$p" "$dest/"
	done
	return 0
}

# ----------------------------------------------------------------- suites

# The pg_regress-style part of make installcheck shared by regress and
# isolation.  Args: suite, driver, glob, make variable of the suite,
# directory of its diffs in the tree ('.' or output_iso).
run_regress_like() {
	local suite=$1 driver=$2 glob=$3 var=$4 diffdir=$5
	local -a files names=()
	mapfile -t files < <(list_tests "$glob")
	local n=${#files[@]}
	if ((n == 0)); then
		record "$suite" 0 0
		return
	fi
	# pg_regress gives up on the whole run at the first missing expected
	# file, so leave such tests out (they count as failed).
	local f
	for f in "${files[@]}"; do
		f=${f##*/}
		f=${f%.*}
		if [[ -f $REPO/test/expected/$f.out ]]; then
			names+=("$f")
		else
			note "$suite: missing expected/$f.out" \
				"(an empty one makes the diff show the actual output)"
		fi
	done
	if ((${#names[@]} == 0)); then
		record "$suite" 0 "$n"
		return
	fi

	local out=$OUT/$suite
	rm -rf "$out"
	mkdir -p "$out"
	[[ -x $driver ]] || { broken "$suite" "$n" "$driver not found; run make deps"; return; }
	shared_cluster || { broken "$suite" "$n" "could not start the cluster"; return; }
	prepare_tree
	rm -rf "$TREE/$diffdir/results" "$TREE/$diffdir/regression.diffs" "$TREE/$diffdir/regression.out"

	# Only this suite's part of make installcheck.
	local -a only=(REGRESS= ISOLATION= TAP_TESTS=)
	only+=("$var=${names[*]}")
	installcheck "$out/output.txt" "${only[@]}" || true
	collect "$out" "$diffdir/results" "$diffdir/regression.diffs" "$diffdir/regression.out"

	local pass
	pass=$(count_ok "$out/output.txt")
	record "$suite" "$pass" $((n - pass))
	if ((pass < ${#names[@]})); then
		excerpt "$out/output.txt" 60
		excerpt "$out/regression.diffs" 200
		cluster_log_tail
	fi
}

run_regress() {
	# The SQL tests run CREATE EXTENSION themselves.
	run_regress_like regress "$PGXS_DIR/src/test/regress/pg_regress" \
		"test/sql/*.sql" REGRESS .
}

run_isolation() {
	# Specs start from a database that already has the extension
	# (ISOLATION_OPTS: --load-extension), so they need no CREATE EXTENSION
	# in their setup, which every permutation would otherwise repeat.
	run_regress_like isolation "$PGXS_DIR/src/test/isolation/pg_isolation_regress" \
		"test/specs/*.spec" ISOLATION output_iso
}

# One pgTAP file in its own database, so that it may COMMIT and open
# other connections.  Returns non-zero on failure.
run_pgtap_file() {
	local file=$1 log=$2 db=$3
	createdb "$db" >"$log" 2>&1 || return
	psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c 'CREATE EXTENSION pgtap' \
		-c 'CREATE EXTENSION workflow' >>"$log" 2>&1 || return
	local rc=0
	run_limited pg_prove --verbose --host "$PGHOST" --port "$PGPORT" \
		--username postgres --dbname "$db" "$file" >>"$log" 2>&1 || rc=$?
	timed_out "$rc" "$file" >>"$log"
	return "$rc"
}

run_pgtap() {
	local -a files
	mapfile -t files < <(list_tests "test/pgtap/*.sql")
	local n=${#files[@]}
	if ((n == 0)); then
		record pgtap 0 0
		return
	fi
	local out=$OUT/pgtap
	rm -rf "$out"
	mkdir -p "$out"
	command -v pg_prove >/dev/null || { broken pgtap "$n" "pg_prove not found; run make deps"; return; }
	new_cluster "$out/cluster-fresh.log" || { broken pgtap "$n" "could not start the cluster"; return; }
	eval "$("$CLUSTER" env)"

	local f name db pass=0 fail=0
	for f in "${files[@]}"; do
		name=$(basename "$f" .sql)
		db=wf_pgtap_${name//[^A-Za-z0-9_]/_}
		if run_pgtap_file "$f" "$out/$name.out" "$db"; then
			pass=$((pass + 1))
		else
			fail=$((fail + 1))
			echo "pgtap: FAILED $f"
			excerpt "$out/$name.out" 80
			cluster_log_tail
		fi
		dropdb --if-exists --force "$db" >/dev/null 2>&1 ||
			note "pgtap: could not drop the database of $name"
	done
	record pgtap "$pass" "$fail"
}

run_shell() {
	local -a files
	mapfile -t files < <(list_tests "test/shell/*.sh")
	local n=${#files[@]}
	if ((n == 0)); then
		record shell 0 0
		return
	fi
	local out=$OUT/shell
	rm -rf "$out"
	mkdir -p "$out"

	local f name pass=0 fail=0
	for f in "${files[@]}"; do
		name=$(basename "$f" .sh)
		# Hooks may crash or reconfigure the cluster: each gets a new one.
		if new_cluster "$out/$name.cluster.log" &&
			(
				eval "$("$CLUSTER" env)"
				export WF_REPO=$REPO WF_CLUSTER=$CLUSTER
				export WF_CLUSTER_DIR=${WF_CLUSTER_DIR:-/tmp/workflow-cluster}
				export WF_PORT=$PGPORT WF_PRELOAD=$PRELOAD
				# timeout(1) leads a process group of its own, which the
				# test's background processes join; whatever the test
				# left running (a worker whose kill it missed) goes with
				# the group, or it would take the tasks of later tests.
				timeout --kill-after=10 "$TIMEOUT" bash "$f" &
				group=$!
				rc=0
				wait "$group" || rc=$?
				kill -KILL -- "-$group" 2>/dev/null || true
				if ((rc != 0)); then
					timed_out "$rc" "$f"
					exit "$rc"
				fi
			) >"$out/$name.out" 2>&1; then
			pass=$((pass + 1))
		else
			fail=$((fail + 1))
			echo "shell: FAILED $f"
			excerpt "$out/$name.out" 80
			cluster_log_tail
		fi
	done
	CLUSTER_UP=0
	record shell "$pass" "$fail"
}

# Stop servers a killed TAP test left behind (pg_ctl detaches them).
tap_cleanup() {
	local pidfile
	while IFS= read -r pidfile; do
		runuser -u "$PG_USER" -- "$PG_BINDIR/pg_ctl" -D "$(dirname "$pidfile")" \
			-m immediate stop >/dev/null 2>&1 || true
	done < <(find "$WORK" -name postmaster.pid 2>/dev/null)
}

# The ends of the server logs of a failed TAP test's nodes.
tap_server_logs() {
	local log
	for log in "$TREE/tmp_check/log/$1"_*.log; do
		excerpt_tail "$log"
	done
}

run_tap() {
	local -a files
	mapfile -t files < <(list_tests "test/t/*.pl")
	local n=${#files[@]}
	if ((n == 0)); then
		record tap 0 0
		return
	fi
	local out=$OUT/tap
	rm -rf "$out"
	mkdir -p "$out/log"
	[[ -x $PGXS_DIR/src/test/regress/pg_regress ]] ||
		{ broken tap "$n" "$PGXS_DIR/src/test/regress/pg_regress not found; run make deps"; return; }
	command -v prove >/dev/null || { broken tap "$n" "prove not found; run make deps"; return; }
	prepare_tree
	# The released 0.1 library, for the upgrade test (test/t/101_upgrade.pl).
	local WF_RELEASE_0_1=
	if PG_CONFIG="$PG_CONFIG_PATH" "$REPO/test/build-release.sh" 0.1 "$WORK/release-0.1" >"$out/build-release.log" 2>&1; then
		WF_RELEASE_0_1=$WORK/release-0.1/workflow.so
		chown -R "$PG_USER:" "$WORK/release-0.1"
	else
		note "tap: the upgrade test runs without the 0.1 library: $(tail -n 1 "$out/build-release.log")"
	fi

	# One make call per file: each has its own status, time limit and logs
	# (PGXS's prove_installcheck empties tmp_check/ each time).
	local f name pass=0 fail=0
	for f in "${files[@]}"; do
		name=$(basename "$f" .pl)
		if installcheck "$out/$name.out" REGRESS= ISOLATION= PROVE_TESTS="$f"; then
			pass=$((pass + 1))
		else
			fail=$((fail + 1))
			echo "tap: FAILED $f"
			excerpt "$out/$name.out" 60
			excerpt_tail "$TREE/tmp_check/log/regress_log_$name" 80
			tap_server_logs "$name"
		fi
		tap_cleanup
		# Keep the logs (regress_log_*, server logs) with the other outputs.
		cp -r "$TREE/tmp_check/log/." "$out/log/" 2>/dev/null || true
	done
	record tap "$pass" "$fail"
}

# ------------------------------------------------------------------- main

# An unexpected error (set -e) still ends with the closing line.
on_exit() {
	local rc=$?
	((FINISHED)) && return
	note "aborted by an unexpected error (exit status $rc)"
	echo "$PASSED passed, $((FAILED + 1)) failed"
	exit $((rc == 0 ? 1 : rc))
}

main() {
	local -a suites=("$@")
	((${#suites[@]} > 0)) || suites=("${ALL_SUITES[@]}")
	local s
	for s in "${suites[@]}"; do
		[[ " ${ALL_SUITES[*]} " == *" $s "* ]] || {
			echo "usage: $0 [${ALL_SUITES[*]}]..." >&2
			exit 2
		}
	done
	((EUID == 0)) || {
		echo "run: run as root (make test): the servers run as the OS user $PG_USER," \
			"which this creates; as another user, run make installcheck against" \
			"your own server" >&2
		exit 2
	}

	trap on_exit EXIT
	cd "$REPO"
	pg_locate || exit 1
	# The make calls run as wfpg with a PATH of their own: name pg_config
	# by its full path.
	PG_CONFIG_PATH=$(command -v "$PG_CONFIG") || PG_CONFIG_PATH=$PG_CONFIG
	# psql, createdb, ... of that server, not whatever version PATH has first.
	export PATH=$PG_BINDIR:$PATH
	mkdir -p "$OUT"
	for s in "${suites[@]}"; do
		# The throwaway cluster is not needed by the TAP tests, which
		# make their own; free its resources first.
		if [[ $s == tap && ${WF_KEEP_CLUSTER:-0} != 1 ]]; then
			"$CLUSTER" stop >/dev/null 2>&1 || true
			CLUSTER_UP=0
		fi
		"run_$s"
	done
	if [[ ${WF_KEEP_CLUSTER:-0} != 1 ]]; then
		"$CLUSTER" stop >/dev/null 2>&1 || true
	fi

	if ((BROKEN)); then
		note "some suites could not run (see above)"
	fi
	FINISHED=1
	echo "$PASSED passed, $FAILED failed"
	((FAILED == 0 && BROKEN == 0))
}

main "$@"
