#!/usr/bin/env bash
# Install the Debian packages needed to build and test the workflow
# extension.  Idempotent: when everything is present it only runs one
# dpkg-query and returns (well under a second).
#
# Usage: tools/deps.sh            (as root, or with sudo available)
#   PG_MAJOR  the PostgreSQL major version whose Debian packages to install
#             (default 15, Debian 12's).  The build and the scripts then
#             find that server through pg_config, not by this number.
#
# Run by "make deps" and first by "make test", "make demo" and "make bench";
# never by "make" alone nor by the test runner.
set -euo pipefail

PG_MAJOR=${PG_MAJOR:-15}

PACKAGES=(
	"postgresql-$PG_MAJOR"
	"postgresql-server-dev-$PG_MAJOR"
	"postgresql-client-$PG_MAJOR"
	"postgresql-$PG_MAJOR-pgtap"
	libtap-parser-sourcehandler-pgtap-perl
	libipc-run-perl
	libpq-dev
	gcc
	make
	python3-psycopg
	# clients/python: its tests (test/shell/pyclient.sh) and pip install of the package.
	python3-pytest
	python3-setuptools
	python3-pip
	python3-venv
	nodejs
	npm
	# The shell tests: pgrep, worker_valgrind (skipped without it), and
	# python3 to parse the worker's logs (worker_log_format).
	procps
	valgrind
	python3
	# workflow-ui (ui/): its HTTP server library; the browser test
	# (test/shell/ui_browser.sh) drives headless chromium and curl.
	libmicrohttpd-dev
	chromium
	curl
)

# Print the packages from PACKAGES that are not installed.
missing_packages() {
	local installed
	# One dpkg-query call for all packages; unknown names only produce
	# warnings on stderr, which we drop.
	installed=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' \
		"${PACKAGES[@]}" 2>/dev/null | awk '$1 == "ii" { print $2 }') || true
	local pkg
	for pkg in "${PACKAGES[@]}"; do
		if grep -qx -- "$pkg" <<<"$installed"; then
			continue
		fi
		# NodeSource's nodejs package ships npm itself (and conflicts with
		# Debian's npm), so a working npm command is good enough.
		if [[ $pkg == npm ]] && command -v npm >/dev/null 2>&1; then
			continue
		fi
		echo "$pkg"
	done
}

main() {
	local -a missing
	mapfile -t missing < <(missing_packages)
	if ((${#missing[@]} == 0)); then
		return 0
	fi

	local -a sudo=()
	if ((EUID != 0)); then
		if ! command -v sudo >/dev/null 2>&1; then
			echo "deps.sh: missing packages: ${missing[*]}" >&2
			echo "deps.sh: run as root (or install sudo) to install them" >&2
			return 1
		fi
		sudo=(sudo)
	fi

	echo "deps.sh: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	local -a install=("${sudo[@]}" apt-get install -y --no-install-recommends
		"${missing[@]}")
	# A fresh image has no package lists; only refresh them when the first
	# attempt fails, so that a partially provisioned machine stays fast.
	if ! "${install[@]}"; then
		echo "deps.sh: install failed, running apt-get update and retrying"
		"${sudo[@]}" apt-get update
		"${install[@]}"
	fi

	mapfile -t missing < <(missing_packages)
	if ((${#missing[@]} > 0)); then
		echo "deps.sh: still missing after install: ${missing[*]}" >&2
		return 1
	fi
}

main "$@"
