#!/usr/bin/env bash
# Build the extension and run its full suite ("make test") on several
# PostgreSQL major versions, one after the other, and print a table of the
# results.  Exits non-zero if any version fails.
#
# Usage: tools/matrix.sh [MAJOR...]     (as root; "make test-matrix")
#   MAJOR defaults to $PG_VERSIONS, else "15 17 18".
#
# Where each version runs:
#   - on this machine, when its own Debian suite has postgresql-MAJOR
#     (15 on Debian 12): "make test" with PG_MAJOR=MAJOR and that
#     server's pg_config;
#   - otherwise in a chroot of the Debian suite that has it (MAJOR_SUITE
#     below: 17 in trixie, 18 in sid), built with debootstrap
#     --variant=minbase from this machine's Debian mirror and cached in
#     $WF_MATRIX_CACHE/SUITE.  A cached chroot is only refreshed (apt-get
#     update, upgrade, then tools/deps.sh PG_MAJOR=MAJOR for anything
#     missing).  The checkout's files (git ls-files: tracked and untracked,
#     not ignored; no build products) are copied to /build/workflow in the
#     chroot, and "make test" runs there as root of the chroot; the test
#     runner itself runs the servers as the unprivileged user wfpg.
#     /proc, /dev, /dev/pts and /dev/shm are mounted in the chroot only
#     while it is in use and always unmounted on the way out.
#
# Output: one log per version in tmp_check/matrix/MAJOR.log, and for a
# chroot run its tmp_check (diffs, TAP logs) in tmp_check/matrix/MAJOR/.
#
# Environment:
#   PG_VERSIONS          the default list of majors
#   WF_MATRIX_CACHE      where the chroots are kept
#                        (default /var/cache/workflow-matrix)
#   WF_MATRIX_MIRROR     the Debian mirror (default: the one this machine's
#                        APT sources use for its own suite)
#   WF_MATRIX_HOST_LOCK  a file to hold an flock(1) lock on during the run
#                        on this machine (for machines whose host installs
#                        and test runs are serialized that way; the wait
#                        counts as that run's setup time)
#   WF_ONLY, WF_TEST_TIMEOUT, PG_TEST_TIMEOUT_DEFAULT  passed to make test
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOGS=$REPO/tmp_check/matrix
STAMP=.workflow-matrix-stamp

# The Debian suite that serves postgresql-MAJOR, for majors this machine's
# own suite does not have.  No suite reachable here has 16.
declare -A MAJOR_SUITE=([17]=trixie [18]=sid)

note() { echo "matrix: $*"; }
die() {
	echo "matrix: $*" >&2
	exit 1
}

# shellcheck source=tools/chroot.bash
source "$REPO/tools/chroot.bash"

# Make ROOT ready for MAJOR: create it once, then refresh its packages and
# install what tools/deps.sh lists for that major.  Run as a process of its
# own ("matrix.sh --prepare"), so that set -e holds and its EXIT trap
# unmounts.
prepare_chroot() {
	local major=$1 suite=$2 root=$3
	if [[ ! -d $root ]]; then
		create_chroot "$suite" "$root"
	fi
	mount_chroot "$root"
	copy_checkout "$REPO" "$root/build/workflow"
	if [[ -f $root/$STAMP ]]; then
		note "$suite: cached chroot, updating its packages"
		in_chroot "$root" apt-get update -q
		in_chroot "$root" apt-get upgrade -y -q
	else
		in_chroot "$root" apt-get update -q
	fi
	in_chroot "$root" PG_MAJOR="$major" /build/workflow/tools/deps.sh
	trust_host_cas "$root"
	date -u +%FT%TZ >"$root/$STAMP"
}

# -------------------------------------------------------------------- runs

declare -A WHERE=() SETUP=() WALL=() RESULT=() STATUS=()

# "N passed, N failed" from a make test log, or why there is none.
result_line() {
	local log=$1 line
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n1) || true
	echo "${line:-no result line (build or setup failed; see $log)}"
}

# Which tests failed and how, from a make test log: the runner's FAILED
# lines and the first diagnostics (CI shows only this script's output).
failure_lines() {
	grep -E '^[a-z]+: FAILED |^FAIL: |^not ok|^#[[:space:]]+(Failed test|at |got|expected)|^[+-][^+-]' "$1" |
		head -n 60 || true
}

fmt_time() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

# Pass the test selection and timeouts on.
test_env() {
	local v
	for v in WF_ONLY WF_TEST_TIMEOUT PG_TEST_TIMEOUT_DEFAULT; do
		[[ -n ${!v:-} ]] && printf '%s=%s\n' "$v" "${!v}"
	done
	return 0
}

run_host() {
	local major=$1 log=$LOGS/$1.log rc=0 started=$LOGS/$1.started
	local -a lock=()
	[[ -n ${WF_MATRIX_HOST_LOCK:-} ]] && lock=(flock -o "$WF_MATRIX_HOST_LOCK")
	WHERE[$major]="host"
	local t0
	t0=$(date +%s)
	local -a envs
	mapfile -t envs < <(test_env)
	note "$major: make test on this machine (log: $log)"
	# The time from here to the start of make test (waiting for the lock)
	# is its setup time.
	rm -f "$started"
	# shellcheck disable=SC2016 # expanded by that bash
	"${lock[@]}" bash -c 'date +%s >"$0" && exec "$@"' "$started" \
		env "${envs[@]}" PG_MAJOR="$major" \
		make -C "$REPO" --no-print-directory test \
		PG_CONFIG="/usr/lib/postgresql/$major/bin/pg_config" >"$log" 2>&1 || rc=$?
	local t1 t2
	t2=$(date +%s)
	t1=$(cat "$started" 2>/dev/null || echo "$t0")
	rm -f "$started"
	SETUP[$major]=$((t1 - t0))
	WALL[$major]=$((t2 - t1))
	STATUS[$major]=$rc
}

run_chroot() {
	local major=$1 suite=$2 root=$CACHE/$2 log=$LOGS/$1.log rc=0
	WHERE[$major]="chroot $suite"
	local t0=$SECONDS
	note "$major: preparing the $suite chroot ($root)"
	if ! "$BASH" "${BASH_SOURCE[0]}" --prepare "$major" "$suite" "$root" >"$log" 2>&1; then
		tail -n 30 "$log" >&2
		SETUP[$major]=$((SECONDS - t0))
		WALL[$major]=0
		STATUS[$major]=1
		return
	fi
	SETUP[$major]=$((SECONDS - t0))
	t0=$SECONDS
	mount_chroot "$root"
	local -a envs
	mapfile -t envs < <(test_env)
	note "$major: make test in the $suite chroot (log: $log)"
	# In the background, so that a signal to this script is handled at once
	# (wait returns; the EXIT trap stops the run and unmounts).
	in_chroot "$root" "${envs[@]}" PG_MAJOR="$major" \
		make -C /build/workflow --no-print-directory test >>"$log" 2>&1 &
	wait "$!" || rc=$?
	WALL[$major]=$((SECONDS - t0))
	STATUS[$major]=$rc
	rm -rf "${LOGS:?}/$major"
	if [[ -d $root/build/workflow/tmp_check ]]; then
		cp -r "$root/build/workflow/tmp_check" "$LOGS/$major"
	fi
	unmount_chroot
}

# The suite of a major this machine cannot run itself, or nothing.
chroot_suite() {
	echo "${MAJOR_SUITE[$1]:-}"
}

# Whether this machine has, or its own APT sources offer, postgresql-MAJOR.
host_has() {
	[[ -x /usr/lib/postgresql/$1/bin/postgres ]] && return 0
	# A fresh image may have no package lists yet.
	if ! compgen -G '/var/lib/apt/lists/*_Packages' >/dev/null; then
		apt-get update -q >/dev/null
	fi
	apt-cache show "postgresql-$1" >/dev/null 2>&1
}

main() {
	((EUID == 0)) || die "run as root (debootstrap, chroot, and make test's own needs)"
	if [[ ${1:-} == --prepare ]]; then
		mkdir -p "$LOGS"
		prepare_chroot "$2" "$3" "$4"
		return
	fi
	local -a majors
	if (($# > 0)); then
		majors=("$@")
	else
		read -r -a majors <<<"${PG_VERSIONS:-15 17 18}"
	fi
	mkdir -p "$LOGS"
	local major suite
	for major in "${majors[@]}"; do
		[[ $major =~ ^[0-9]+$ ]] || die "not a PostgreSQL major version: $major"
		if host_has "$major"; then
			run_host "$major"
		elif suite=$(chroot_suite "$major") && [[ -n $suite ]]; then
			run_chroot "$major" "$suite"
		else
			note "$major: no Debian suite reachable here serves postgresql-$major"
			WHERE[$major]="-"
			SETUP[$major]=0
			WALL[$major]=0
			STATUS[$major]=1
			RESULT[$major]="not run: no postgresql-$major package reachable"
			continue
		fi
		RESULT[$major]=$(result_line "$LOGS/$major.log")
		note "$major: ${RESULT[$major]} ($(fmt_time "${WALL[$major]}"))"
		if ((STATUS[$major] != 0)); then
			grep -E '^(== |run: |make(\[[0-9]+\])?: \*\*\*)|error:' "$LOGS/$major.log" | tail -n 20 || true
			failure_lines "$LOGS/$major.log"
		fi
	done

	local failed=0
	echo
	printf '%-8s %-14s %-8s %-9s %-4s %s\n' version where setup tests "" result
	for major in "${majors[@]}"; do
		local verdict=ok
		if ((STATUS[$major] != 0)); then
			verdict=FAIL
			failed=1
		fi
		printf '%-8s %-14s %-8s %-9s %-4s %s\n' "$major" "${WHERE[$major]}" \
			"$(fmt_time "${SETUP[$major]}")" "$(fmt_time "${WALL[$major]}")" \
			"$verdict" "${RESULT[$major]}"
	done
	return "$failed"
}

main "$@"
