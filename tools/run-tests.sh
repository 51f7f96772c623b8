#!/usr/bin/env bash
# Run every test suite of the workflow extension against throwaway
# clusters and finish with exactly one line "N passed, N failed".
#
# Usage: tools/run-tests.sh [SUITE...]     (as root; default: all suites)
#   regress    pg_regress: test/sql/NAME.sql vs test/expected/NAME.out
#   isolation  isolation tester: test/specs/NAME.spec vs test/expected/NAME.out
#   pgtap      pg_prove: test/pgtap/*.sql, each in its own new database
#   shell      hooks: test/shell/*.sh, run as root against a fresh cluster
#   tap        Perl TAP: test/t/*.pl with PostgreSQL::Test::Cluster, as wfpg
#
# Each test file counts as one test case.  The exit status is non-zero if
# any test failed or a suite could not run.  Outputs go to tmp_check/.
#
# Environment (besides tools/cluster.sh's WF_CLUSTER_DIR, WF_PORT,
# WF_PRELOAD, WF_EXTRA_CONF):
#   WF_TEST_EXTENSION  extension the harness creates for isolation and
#                      pgTAP (default workflow; '' for none)
#   WF_TEST_TIMEOUT    seconds allowed per test command (default 600)
#   WF_TAP_DIR         wfpg-owned work dir for TAP tests
#                      (default /tmp/workflow-tap)
#   WF_KEEP_CLUSTER=1  leave the throwaway cluster running at the end
#   WF_ONLY=REGEX      run only the test files whose path matches REGEX
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CLUSTER=$REPO/tools/cluster.sh
PG_BINDIR=/usr/lib/postgresql/15/bin
PGXS_DIR=/usr/lib/postgresql/15/lib/pgxs
PG_REGRESS=$PGXS_DIR/src/test/regress/pg_regress
PG_ISOLATION_REGRESS=$PGXS_DIR/src/test/isolation/pg_isolation_regress
OUT=$REPO/tmp_check
TAP_DIR=${WF_TAP_DIR:-/tmp/workflow-tap}
PRELOAD=${WF_PRELOAD-workflow}
EXTENSION=${WF_TEST_EXTENSION-workflow}
TIMEOUT=${WF_TEST_TIMEOUT:-600}
ALL_SUITES=(regress isolation pgtap shell tap)

PASSED=0
FAILED=0
FINISHED=0      # the closing line has been printed
BROKEN=0        # set when a suite could not run at all
CLUSTER_UP=0    # the shared regress/isolation cluster is running

# ---------------------------------------------------------------- helpers

note() { echo "run-tests: $*"; }

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

# Count "... ok" result lines in pg_regress / pg_isolation_regress output.
count_ok() {
	grep -cE '\.\.\. ok( |$)' "$1" || true
}

# ----------------------------------------------------------------- suites

# pg_regress-style suite shared by regress and isolation.
# Args: suite, driver, glob, database, extra driver options...
run_regress_like() {
	local suite=$1 driver=$2 glob=$3 dbname=$4
	shift 4
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
		if [[ -f test/expected/$f.out ]]; then
			names+=("$f")
		else
			note "$suite: missing test/expected/$f.out" \
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
	[[ -x $driver ]] || { broken "$suite" "$n" "$driver not found; run tools/deps.sh"; return; }
	shared_cluster || { broken "$suite" "$n" "could not start the cluster"; return; }

	local -a conn
	eval "$("$CLUSTER" env)"
	conn=(--host="$PGHOST" --port="$PGPORT" --user=postgres)
	run_limited "$driver" --inputdir=test --outputdir="$out" \
		--bindir="$PG_BINDIR" "${conn[@]}" --dbname="$dbname" "$@" \
		"${names[@]}" >"$out/output.txt" 2>&1 || timed_out $? "$suite"

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
	run_regress_like regress "$PG_REGRESS" "test/sql/*.sql" workflow_regress
}

run_isolation() {
	# Specs start from a database that already has the extension
	# (--load-extension), so they need no CREATE EXTENSION in their setup,
	# which every permutation would otherwise repeat.
	local -a opts=()
	[[ -z $EXTENSION ]] || opts=(--load-extension="$EXTENSION")
	run_regress_like isolation "$PG_ISOLATION_REGRESS" "test/specs/*.spec" \
		workflow_isolation "${opts[@]}"
}

# One pgTAP file in its own database, so that it may COMMIT and open
# other connections.  Returns non-zero on failure.
run_pgtap_file() {
	local file=$1 log=$2 db=$3
	local -a setup=(-c 'CREATE EXTENSION pgtap')
	[[ -z $EXTENSION ]] || setup+=(-c "CREATE EXTENSION $EXTENSION")
	"$PG_BINDIR/createdb" "$db" >"$log" 2>&1 || return
	"$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -d "$db" "${setup[@]}" \
		>>"$log" 2>&1 || return
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
	command -v pg_prove >/dev/null || { broken pgtap "$n" "pg_prove not found; run tools/deps.sh"; return; }
	new_cluster "$out/cluster-fresh.log" || { broken pgtap "$n" "could not start the cluster"; return; }
	eval "$("$CLUSTER" env)"

	local f name pass=0 fail=0
	for f in "${files[@]}"; do
		name=$(basename "$f" .sql)
		if run_pgtap_file "$f" "$out/$name.out" "wf_pgtap_${name//[^A-Za-z0-9_]/_}"; then
			pass=$((pass + 1))
		else
			fail=$((fail + 1))
			echo "pgtap: FAILED $f"
			excerpt "$out/$name.out" 80
			cluster_log_tail
		fi
		"$PG_BINDIR/dropdb" --if-exists --force "wf_pgtap_${name//[^A-Za-z0-9_]/_}" \
			>/dev/null 2>&1 || note "pgtap: could not drop the database of $name"
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
				run_limited bash "$f" || {
					rc=$?
					timed_out "$rc" "$f"
					exit "$rc"
				}
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

# The repository as wfpg sees it: the checkout itself when wfpg can read
# it, otherwise a copy (e.g. a clone under /root).
tap_repo() {
	if runuser -u wfpg -- test -r "$REPO/Makefile" -a -x "$REPO/test/t"; then
		echo "$REPO"
		return
	fi
	mkdir -p "$TAP_DIR/repo"
	tar -C "$REPO" --exclude=./.git --exclude=./tmp_check \
		--exclude=node_modules -cf - . | tar -C "$TAP_DIR/repo" -xf -
	chown -R wfpg: "$TAP_DIR/repo"
	echo "$TAP_DIR/repo"
}

# Stop servers a killed TAP test left behind (pg_ctl detaches them).
tap_cleanup() {
	local pidfile
	while IFS= read -r pidfile; do
		runuser -u wfpg -- "$PG_BINDIR/pg_ctl" -D "$(dirname "$pidfile")" \
			-m immediate stop >/dev/null 2>&1 || true
	done < <(find "$TAP_DIR" -name postmaster.pid 2>/dev/null)
}

# The ends of the server logs of a failed TAP test's nodes.
tap_server_logs() {
	local log
	for log in "$TAP_DIR/tmp_check/log/$1"_*.log; do
		excerpt_tail "$log"
	done
}

# One TAP file, as wfpg, with the environment PGXS's prove_installcheck
# sets up (TESTDIR, PG_REGRESS, PATH).
run_tap_file() {
	local repo=$1 file=$2 log=$3
	(
		cd "$TAP_DIR"
		runuser -u wfpg -- env -i \
			HOME="$TAP_DIR" LANG=C.UTF-8 \
			PATH="$PG_BINDIR:/usr/local/bin:/usr/bin:/bin" \
			TESTDIR="$TAP_DIR" PG_REGRESS="$PG_REGRESS" \
			WF_REPO="$repo" WF_PRELOAD="$PRELOAD" \
			${PG_TEST_TIMEOUT_DEFAULT:+PG_TEST_TIMEOUT_DEFAULT="$PG_TEST_TIMEOUT_DEFAULT"} \
			${PG_TEST_NOCLEAN:+PG_TEST_NOCLEAN="$PG_TEST_NOCLEAN"} \
			timeout --kill-after=10 "$TIMEOUT" \
			prove -I "$PGXS_DIR/src/test/perl" -I "$repo/test/t" "$repo/$file" ||
			{
				local rc=$?
				timed_out "$rc" "$file"
				return "$rc"
			}
	) >"$log" 2>&1
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
	tap_cleanup
	rm -rf "$out" "$TAP_DIR"
	mkdir -p "$out" "$TAP_DIR"
	[[ -x $PG_REGRESS ]] || { broken tap "$n" "$PG_REGRESS not found; run tools/deps.sh"; return; }
	"$CLUSTER" ensure-user
	chown wfpg: "$TAP_DIR"
	local repo
	repo=$(tap_repo)

	local f name pass=0 fail=0
	for f in "${files[@]}"; do
		name=$(basename "$f" .pl)
		if run_tap_file "$repo" "$f" "$out/$name.out"; then
			pass=$((pass + 1))
		else
			fail=$((fail + 1))
			echo "tap: FAILED $f"
			excerpt "$out/$name.out" 60
			excerpt_tail "$TAP_DIR/tmp_check/log/regress_log_$name" 80
			tap_server_logs "$name"
		fi
	done
	tap_cleanup
	# Keep the logs (regress_log_*, server logs) with the other outputs.
	cp -r "$TAP_DIR/tmp_check/log" "$out/" 2>/dev/null || true
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
	((EUID == 0)) || { echo "run-tests: run as root" >&2; exit 2; }

	trap on_exit EXIT
	cd "$REPO"
	"$REPO/tools/deps.sh"
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
