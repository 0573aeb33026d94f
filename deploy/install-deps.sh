#!/bin/sh
# install-deps.sh: install every Debian package Pat needs to build, run and test.
#
# This file is the single list of Pat's system dependencies: `make`, `make test`, `make run` and
# CI all call it, and a subsystem that needs a new package adds it here and nowhere else.
#
#   deploy/install-deps.sh           install whatever is missing (apt-get update only if needed)
#   deploy/install-deps.sh --check   list what is missing; exit 1 if anything is, 0 if not
#   deploy/install-deps.sh --list    print the package list, one per line
#   deploy/install-deps.sh --with bench ...   also the packages of an optional group
#
# Optional groups: bench (the peers and tools `make bench` measures against).
# It is idempotent: when every package is present it prints nothing and touches nothing.
# Installing needs root (or password-less sudo); without either it names what is missing and
# exits 1.
#
# chromium is the browser the web UI's end-to-end test drives (tests/e2e/webui.test.js, through
# the npm package playwright-core, which downloads no browser of its own).
#
# Some packages ship a daemon (prometheus, prometheus-alertmanager: the tests start their own
# copies on loopback). Their install must not start it, whether or not systemd runs on the
# machine: for the length of the apt-get install the script puts a policy-rc.d in place
# (/usr/sbin/policy-rc.d, exit status 101 = "action forbidden", which invoke-rc.d and
# deb-systemd-invoke obey) and removes it afterwards, also when interrupted. An existing
# policy-rc.d belongs to the administrator and is used as it is, never replaced or removed.
# PAT_POLICY_RC_D names another path (for the installer's own tests).
set -eu

PACKAGES="
build-essential
pkg-config
libdqlite-dev
libraft-dev
libuv1-dev
libssl-dev
libcurl4-openssl-dev
libmsgpack-dev
libcmocka-dev
libsqlite3-dev
libgmime-3.0-dev
libjansson-dev
libzstd-dev
libinih-dev
python3
swaks
libh2o-dev
libwslay-dev
npm
chromium
prometheus
prometheus-alertmanager
systemd
iptables
iproute2
"
# Optional groups, installed only when asked for with --with GROUP.
PACKAGES_BENCH="
python3-numpy
python3-sklearn
postfix
"
# PAT_EXTRA_PACKAGES lets a packager or a test add names to the list for one run.
PACKAGES="$PACKAGES ${PAT_EXTRA_PACKAGES:-}"

me=install-deps.sh

# Names that installed packages provide, such as npm from NodeSource's nodejs (which conflicts
# with Debian's npm): such a name counts as present.
provided_names() {
	dpkg-query -W -f='${db:Status-Status} ${Provides}\n' 2>/dev/null | sed -n 's/^installed //p' | tr ',' '\n' |
		sed 's/([^)]*)//g; s/^ *//; s/ *$//' | grep -v '^$' || true
}

missing_packages() {
	provided=$(provided_names)
	for p in $PACKAGES; do
		s=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
		[ "$s" = installed ] && continue
		printf '%s\n' "$provided" | grep -qxF "$p" && continue
		printf '%s\n' "$p"
	done
}

mode=install
while [ $# -gt 0 ]; do
	case "$1" in
	--check) mode=check ;;
	--list) mode=list ;;
	--with)
		case "${2:-}" in
		bench) PACKAGES="$PACKAGES $PACKAGES_BENCH" ;;
		"") echo "$me: --with needs a group name (bench)" >&2; exit 2 ;;
		*) echo "$me: unknown group '$2' (expected bench)" >&2; exit 2 ;;
		esac
		shift ;;
	-h|--help)
		sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'
		exit 0 ;;
	*)
		echo "$me: unknown option '$1' (expected --check, --list, --with GROUP or --help)" >&2
		exit 2 ;;
	esac
	shift
done

if [ "$mode" = list ]; then
	for p in $PACKAGES; do printf '%s\n' "$p"; done
	exit 0
fi

if ! command -v dpkg-query >/dev/null 2>&1; then
	echo "$me: dpkg-query not found: Pat's installer supports Debian 12 (bookworm) and its derivatives" >&2
	exit 1
fi

missing=$(missing_packages | tr '\n' ' ' | sed 's/ *$//')
[ -z "$missing" ] && exit 0

if [ "$mode" = check ]; then
	echo "$me: missing: $missing"
	exit 1
fi

if [ "$(id -u)" = 0 ]; then
	as=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
	as="sudo -n"
else
	echo "$me: cannot install the missing packages ($missing): this needs root or password-less sudo." >&2
	echo "$me: run it as root, or ask an administrator to run: apt-get install $missing" >&2
	exit 1
fi

echo "$me: installing: $missing"
export DEBIAN_FRONTEND=noninteractive
# No package may start a service while we install: see the header.
policy=${PAT_POLICY_RC_D:-/usr/sbin/policy-rc.d}
made_policy=""
remove_policy() {
	if [ -n "$made_policy" ]; then
		$as rm -f "$policy"
		made_policy=""
	fi
}
if [ ! -e "$policy" ] && [ ! -L "$policy" ]; then
	if printf '#!/bin/sh\n# Written by Pat'"'"'s install-deps.sh for the length of one apt-get install.\nexit 101\n' |
		$as tee "$policy" >/dev/null && $as chmod 755 "$policy"; then
		made_policy=1
		trap remove_policy EXIT
		trap 'remove_policy; exit 130' INT TERM HUP
	else
		$as rm -f "$policy" 2>/dev/null || true
		echo "$me: warning: cannot write $policy; package installs may start their services" >&2
	fi
fi
# The package lists are refreshed only because something is missing.
if ! $as apt-get update -qq; then
	echo "$me: apt-get update failed; check the network and /etc/apt/sources.list" >&2
	exit 1
fi
# shellcheck disable=SC2086
if ! $as apt-get install -y -qq --no-install-recommends $missing >/dev/null; then
	echo "$me: apt-get install failed for: $missing" >&2
	exit 1
fi
remove_policy
still=$(missing_packages | tr '\n' ' ' | sed 's/ *$//')
if [ -n "$still" ]; then
	echo "$me: still missing after install: $still" >&2
	exit 1
fi
echo "$me: done"
