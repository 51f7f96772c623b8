# Debian chroots for the project's own tests: built with debootstrap
# --variant=minbase from this machine's Debian mirror, cached under
# $WF_MATRIX_CACHE (default /var/cache/workflow-matrix), with /proc, /dev,
# /dev/pts and /dev/shm mounted only while in use.  Whatever happens, the
# EXIT trap set here stops what still runs in the chroot and unmounts it,
# and nothing removes a directory that still has mounts in it.
#
# Sourced, not run (by tools/matrix.sh and tools/package-test.sh), which
# define note and die first.  Environment:
#   WF_MATRIX_CACHE   where the chroots are kept
#   WF_MATRIX_MIRROR  the Debian mirror (default: the one this machine's
#                     APT sources use for its own suite)
# shellcheck shell=bash

CACHE=${WF_MATRIX_CACHE:-/var/cache/workflow-matrix}
# Suites whose Release file is past its Valid-Until date on the mirror.
declare -A STALE_SUITE=([sid]=1)

ACTIVE_ROOT=      # the chroot whose mounts are up

# The processes whose root directory is ROOT (servers the tests left).
chroot_pids() {
	local root=$1 p
	for p in /proc/[0-9]*; do
		[[ $(readlink "$p/root" 2>/dev/null) == "$root" ]] && echo "${p#/proc/}"
	done
	return 0
}

# The mount points at or below DIR, innermost first.
mounts_below() {
	findmnt -rn -o TARGET | awk -v dir="$1" \
		'$0 == dir || index($0, dir "/") == 1' | sort -r
}

# Stop what still runs in ROOT (TERM, then KILL after 5 s), then unmount
# everything mounted below it (ours, or left by a run that was killed).
release_chroot() {
	local root=$1 pid i signal=TERM
	local -a pids mounts
	for ((i = 0; i < 10; i++)); do
		mapfile -t pids < <(chroot_pids "$root")
		((${#pids[@]} == 0)) && break
		if ((i == 0)); then
			local -a names=()
			for pid in "${pids[@]}"; do
				names+=("$pid ($(cat "/proc/$pid/comm" 2>/dev/null))")
			done
			note "stopping processes left in $root: ${names[*]}"
		fi
		((i == 5)) && signal=KILL
		for pid in "${pids[@]}"; do
			kill -s "$signal" "$pid" 2>/dev/null || true
		done
		sleep 1
	done
	mapfile -t mounts < <(mounts_below "$root")
	local m
	for m in "${mounts[@]}"; do
		[[ $m == "$root" ]] && continue
		umount "$m" || umount -l "$m"
	done
}

# The EXIT trap of every script sourcing this: never leave a chroot
# mounted (and the chroot_cleanup_extra hook of the script, if defined).
chroot_cleanup() {
	if [[ -n $ACTIVE_ROOT ]]; then
		release_chroot "$ACTIVE_ROOT"
		ACTIVE_ROOT=
	fi
	if declare -F chroot_cleanup_extra >/dev/null; then
		chroot_cleanup_extra
	fi
}
trap chroot_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mount_chroot() {
	local root=$1
	ACTIVE_ROOT=$root
	release_chroot "$root"
	mount -t proc proc "$root/proc"
	mount --bind /dev "$root/dev"
	mount --bind /dev/pts "$root/dev/pts"
	# PostgreSQL's dynamic shared memory lives in /dev/shm.
	mount -t tmpfs -o mode=1777,nosuid,nodev shm "$root/dev/shm"
}

unmount_chroot() {
	release_chroot "$ACTIVE_ROOT"
	ACTIVE_ROOT=
}

# Remove a directory that may hold a chroot: only with nothing mounted in it.
remove_root() {
	local root=$1
	[[ -e $root ]] || return 0
	release_chroot "$root"
	if [[ -n $(mounts_below "$root") ]]; then
		die "$root still has mounts; not removing it"
	fi
	rm -rf --one-file-system "$root"
}

# Copy a checkout's files (no build products, no .git) to DEST, replacing it.
copy_checkout() {
	local repo=$1 dest=$2
	remove_root "$dest"
	mkdir -p "$dest"
	git -C "$repo" ls-files -z --cached --others --exclude-standard |
		tar -C "$repo" --null -T - --ignore-failed-read -cf - |
		tar -C "$dest" -xf -
}

# The Debian mirror of this machine's own suite (deb822 .sources or
# one-line .list entries).
host_mirror() {
	if [[ -n ${WF_MATRIX_MIRROR:-} ]]; then
		echo "$WF_MATRIX_MIRROR"
		return
	fi
	local codename
	codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
	local url f
	url=$(
		shopt -s nullglob
		{
			for f in /etc/apt/sources.list.d/*.sources; do
				# One stanza per paragraph.
				awk -v suite="$codename" 'BEGIN { RS = "" } {
					uris = ""; has = 0
					n = split($0, line, "\n")
					for (j = 1; j <= n; j++) {
						k = split(line[j], w, /[ \t]+/)
						if (w[1] == "URIs:") uris = w[2]
						if (w[1] == "Suites:") for (i = 2; i <= k; i++) if (w[i] == suite) has = 1
					}
					if (has && uris != "") print uris
				}' "$f"
			done
			for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
				[[ -f $f ]] || continue
				# deb [options] URI SUITE COMPONENT...
				awk -v suite="$codename" '$1 == "deb" {
					i = 2
					if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
					if ($(i + 1) == suite) print $i
				}' "$f"
			done
		} | head -n1
	)
	[[ -n $url ]] || die "no APT source for suite $codename found; set WF_MATRIX_MIRROR"
	echo "$url"
}

# Run a command inside ROOT with a clean environment.  Node.js (npm in the
# tests) trusts the chroot's CA store, which trust_host_cas fills.
in_chroot() {
	local root=$1
	shift
	chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/root LANG=C.UTF-8 TERM=dumb DEBIAN_FRONTEND=noninteractive \
		NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt "$@"
}

# The CAs this machine added to its own store (/usr/local/share/ca-certificates:
# a TLS-inspecting proxy's, say) in ROOT's store too, so that what reaches
# the network from here reaches it from the chroot.  Needs ca-certificates
# installed in ROOT.
trust_host_cas() {
	local root=$1
	compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null || return 0
	mkdir -p "$root/usr/local/share/ca-certificates"
	cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
	in_chroot "$root" update-ca-certificates >/dev/null
}

# debootstrap SUITE into ROOT (built aside, moved in place when complete),
# and the APT settings every run relies on.  Log: $CACHE/SUITE.debootstrap.log.
create_chroot() {
	local suite=$1 root=$2 mirror log=$CACHE/$1.debootstrap.log
	if ! command -v debootstrap >/dev/null; then
		note "installing debootstrap"
		apt-get install -y --no-install-recommends debootstrap ||
			{ apt-get update && apt-get install -y --no-install-recommends debootstrap; }
	fi
	mirror=$(host_mirror)
	remove_root "$root.new"
	mkdir -p "$CACHE"
	note "debootstrap --variant=minbase $suite from $mirror"
	if ! debootstrap --variant=minbase "$suite" "$root.new" "$mirror" >"$log" 2>&1; then
		tail -n 30 "$log" >&2
		remove_root "$root.new"
		die "debootstrap of $suite failed (log: $log)"
	fi
	# Packages never start services here (postgresql would start its
	# default cluster), and keep our conffiles.
	printf '#!/bin/sh\nexit 101\n' >"$root.new/usr/sbin/policy-rc.d"
	chmod 755 "$root.new/usr/sbin/policy-rc.d"
	local conf=$root.new/etc/apt/apt.conf.d/99workflow-chroot
	echo 'Dpkg::Options { "--force-confdef"; "--force-confold"; };' >"$conf"
	echo 'APT::Install-Recommends "false";' >>"$conf"
	if [[ -n ${STALE_SUITE[$suite]:-} ]]; then
		echo 'Acquire::Check-Valid-Until "false";' >>"$conf"
	fi
	# No default cluster: the tests make their own.
	mkdir -p "$root.new/etc/postgresql-common"
	echo 'create_main_cluster = false' >"$root.new/etc/postgresql-common/createcluster.conf"
	mv "$root.new" "$root"
}
