#!/usr/bin/env bash
# Build the Debian package and try it where nothing else is installed.
# Exits non-zero on any failure.
#
# Usage: tools/package-test.sh     (as root; "make test-package")
#
#   1. Build: in a cached minbase chroot of this machine's Debian suite
#      ($WF_MATRIX_CACHE/SUITE-build), on a copy of the checkout's files
#      (git ls-files; the checkout stays clean), "apt-get build-dep" of
#      debian/control, then "dpkg-buildpackage -us -uc -b".  The packages
#      are kept in tmp_check/package/.
#   2. Install: in a throwaway copy of a cached minbase chroot that has
#      only postgresql-NN installed ($WF_MATRIX_CACHE/SUITE-server), "apt-get
#      install" of the postgresql-NN-workflow .deb.
#   3. Use (tools/package-check.sh, inside that copy): a server started by
#      an unprivileged user with shared_preload_libraries = 'workflow',
#      CREATE EXTENSION workflow, and a workflow whose activity the packaged
#      workflow-worker runs, end to end.
#
# Environment: tools/chroot.bash's WF_MATRIX_CACHE and WF_MATRIX_MIRROR.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$REPO/tmp_check/package
SUITE=$(. /etc/os-release && echo "$VERSION_CODENAME")
STAMP=.workflow-package-stamp

note() { echo "package: $*"; }
die() {
	echo "package: $*" >&2
	exit 1
}

# shellcheck source=tools/chroot.bash
source "$REPO/tools/chroot.bash"

BUILD_ROOT=$CACHE/$SUITE-build
SERVER_ROOT=$CACHE/$SUITE-server
RUN_ROOT=$CACHE/$SUITE-server.run

# The throwaway copy goes whatever happens (after the EXIT trap unmounts).
chroot_cleanup_extra() {
	remove_root "$RUN_ROOT"
}

build_package() {
	if [[ ! -d $BUILD_ROOT ]]; then
		create_chroot "$SUITE" "$BUILD_ROOT"
	fi
	mount_chroot "$BUILD_ROOT"
	remove_root "$BUILD_ROOT/build"
	copy_checkout "$REPO" "$BUILD_ROOT/build/workflow"
	note "build dependencies (apt-get build-dep, log: $OUT/build.log)"
	{
		in_chroot "$BUILD_ROOT" apt-get update -q
		in_chroot "$BUILD_ROOT" apt-get build-dep -y -q /build/workflow
	} >"$OUT/build.log" 2>&1 || { tail -n 30 "$OUT/build.log" >&2; die "apt-get build-dep failed"; }
	note "dpkg-buildpackage -us -uc -b"
	in_chroot "$BUILD_ROOT" sh -c 'cd /build/workflow && dpkg-buildpackage -us -uc -b' \
		>>"$OUT/build.log" 2>&1 || { tail -n 40 "$OUT/build.log" >&2; die "dpkg-buildpackage failed"; }
	cp "$BUILD_ROOT"/build/*.deb "$BUILD_ROOT"/build/*.changes "$OUT/"
	unmount_chroot
}

# The server chroot: minbase plus postgresql-MAJOR, nothing else.
server_chroot() {
	local major=$1
	if [[ ! -d $SERVER_ROOT ]]; then
		create_chroot "$SUITE" "$SERVER_ROOT"
	fi
	[[ $(cat "$SERVER_ROOT/$STAMP" 2>/dev/null) == "postgresql-$major" ]] && return 0
	mount_chroot "$SERVER_ROOT"
	{
		in_chroot "$SERVER_ROOT" apt-get update -q
		in_chroot "$SERVER_ROOT" apt-get install -y -q "postgresql-$major"
		in_chroot "$SERVER_ROOT" apt-get clean
	} >"$OUT/server-chroot.log" 2>&1 ||
		{ tail -n 30 "$OUT/server-chroot.log" >&2; die "installing postgresql-$major failed"; }
	unmount_chroot
	echo "postgresql-$major" >"$SERVER_ROOT/$STAMP"
}

install_and_check() {
	local deb=$1 major=$2
	server_chroot "$major"
	remove_root "$RUN_ROOT"
	cp -a "$SERVER_ROOT" "$RUN_ROOT"
	mount_chroot "$RUN_ROOT"
	mkdir -p "$RUN_ROOT/tmp/package"
	cp "$deb" "$REPO/tools/package-check.sh" "$RUN_ROOT/tmp/package/"
	note "apt-get install ./${deb##*/} (log: $OUT/install.log)"
	in_chroot "$RUN_ROOT" sh -c 'cd /tmp/package && apt-get install -y -q ./*.deb' \
		>"$OUT/install.log" 2>&1 || { tail -n 30 "$OUT/install.log" >&2; die "installing the package failed"; }
	note "using it (tools/package-check.sh, log: $OUT/check.log)"
	if ! in_chroot "$RUN_ROOT" bash /tmp/package/package-check.sh "$major" >"$OUT/check.log" 2>&1; then
		tail -n 40 "$OUT/check.log" >&2
		die "the installed package does not work"
	fi
	cat "$OUT/check.log"
	unmount_chroot
	remove_root "$RUN_ROOT"
}

main() {
	((EUID == 0)) || die "run as root (debootstrap and chroot)"
	rm -rf "$OUT"
	mkdir -p "$OUT"
	local t0=$SECONDS
	build_package
	local -a debs
	mapfile -t debs < <(compgen -G "$OUT/postgresql-*-workflow_*.deb")
	((${#debs[@]} > 0)) || die "dpkg-buildpackage made no postgresql-NN-workflow package"
	local deb major listing
	for deb in "${debs[@]}"; do
		listing=$(dpkg-deb -c "$deb")
		note "built ${deb##*/}: $(wc -l <<<"$listing") files"
		grep -q '/bin/workflow-worker$' <<<"$listing" || die "${deb##*/} has no workflow-worker"
		grep -q '/bin/workflow-ui$' <<<"$listing" || die "${deb##*/} has no workflow-ui"
	done
	# Install the package of the newest major built.
	deb=$(printf '%s\n' "${debs[@]}" | sort -V | tail -n1)
	major=${deb##*/postgresql-}
	major=${major%%-*}
	install_and_check "$deb" "$major"
	note "passed ($((SECONDS - t0)) s)"
}

main "$@"
