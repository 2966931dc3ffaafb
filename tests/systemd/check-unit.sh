#!/usr/bin/env bash
# Keep systemd/ssid.service valid, hardened and still able to run the daemon.
#
#   tests/systemd/check-unit.sh
#       1. `systemd-analyze verify` must print nothing at all;
#       2. `systemd-analyze security --offline=yes` must rate the unit at
#          MAX_EXPOSURE (default 1.5) or lower; the figure is printed;
#       3. the settings the daemon's contract depends on must still be there
#          (the rating alone would reward e.g. dropping AF_INET, which would
#          leave a daemon that cannot reach Kafka).
#   tests/systemd/check-unit.sh --trace CMD [ARGS...]
#       additionally runs CMD under strace and fails if it makes a system
#       call the unit's SystemCallFilter= would deny, or opens a socket of a
#       family RestrictAddressFamilies= would refuse. Point it at the daemon
#       (or a probe using the same libraries) against a local Kafka and Redis.
#
# Works without systemd running as PID 1 (containers, CI): both analyze
# commands only read unit files. Installs the `systemd` (and for --trace the
# `strace`) package through apt-get if the tool is missing.
#
# Environment: SSID_UNIT (unit to check, default systemd/ssid.service),
# MAX_EXPOSURE (default 1.5).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
unit=${SSID_UNIT:-$root/systemd/ssid.service}
max_exposure=${MAX_EXPOSURE:-1.5}

fail() {
	echo "check-unit: FAIL: $*" >&2
	exit 1
}

# Install a Debian package when the command it provides is missing, so the
# check runs on a bare CI image; does nothing (and needs no network) when
# the command is there.
need() {
	local cmd=$1 pkg=$2 sudo=""
	command -v "$cmd" >/dev/null && return 0
	echo "check-unit: $cmd missing, installing $pkg" >&2
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null || fail "need root or sudo to install $pkg"
		sudo="sudo"
	fi
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq
	$sudo apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null
	command -v "$cmd" >/dev/null || fail "$pkg did not provide $cmd"
}

# The values of KEY= in the [Service] section, one per line, in order.
unit_values() {
	awk -v key="$1" '
		/^\[/ { in_service = ($0 == "[Service]"); next }
		in_service && index($0, key "=") == 1 { print substr($0, length(key) + 2) }
	' "$unit"
}

[ -r "$unit" ] || fail "cannot read $unit"
need systemd-analyze systemd

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --- 1. verify --------------------------------------------------------------
# verify insists that ExecStart= names an existing executable, and
# /usr/local/bin/ssid is not installed on a build machine. So verify the unit
# exactly as `make install` renders it (the same sed, with PREFIX=$tmp) and
# put a stand-in executable at $tmp/bin/ssid: only the directory prefix
# differs from the shipped file, every other line is checked as written.
# --recursive-errors=no keeps unrelated broken units on the host out of it;
# --man=no because the Documentation= pages are only installed by the package
# (tests/deb/check-deb.sh checks that they are there).
mkdir "$tmp/bin" "$tmp/unit"
ln -s /bin/true "$tmp/bin/ssid"
sed "s|/usr/local/bin|$tmp/bin|g" "$unit" >"$tmp/unit/ssid.service"
verify_rc=0
verify_out=$(systemd-analyze verify --recursive-errors=no --man=no "$tmp/unit/ssid.service" 2>&1) ||
	verify_rc=$?
if [ "$verify_rc" -ne 0 ] || [ -n "$verify_out" ]; then
	printf '%s\n' "$verify_out" >&2
	fail "systemd-analyze verify is not clean (exit $verify_rc)"
fi
echo "verify: clean"

# --- 2. security rating -----------------------------------------------------
# --threshold takes tenths (0-100); parse the printed figure as well so the
# number lands in the log and both readings must agree.
threshold=$(awk -v m="$max_exposure" 'BEGIN { printf "%d", m * 10 + 0.5 }')
security_rc=0
security_out=$(systemd-analyze security --offline=yes --threshold="$threshold" "$unit" 2>&1) ||
	security_rc=$?
exposure=$(printf '%s\n' "$security_out" |
	sed -n 's/.*Overall exposure level for ssid\.service: \([0-9.]*\).*/\1/p')
[ -n "$exposure" ] || {
	printf '%s\n' "$security_out" >&2
	fail "no exposure level in systemd-analyze security output"
}
echo "security: overall exposure level $exposure (limit $max_exposure); remaining items:"
printf '%s\n' "$security_out" | grep -E ' [0-9]+\.[0-9]+ *$' | sed 's/^/  /' || true
if [ "$security_rc" -ne 0 ] ||
	awk -v e="$exposure" -v m="$max_exposure" 'BEGIN { exit !(e > m) }'; then
	fail "exposure $exposure is above $max_exposure (exit $security_rc)"
fi

# --- 3. the daemon's contract -----------------------------------------------
# Values are captured before grep -q sees them: grep exiting early would
# otherwise SIGPIPE the producer and pipefail would report a miss.
expect() {
	local key=$1 want=$2 values
	values=$(unit_values "$key")
	grep -qxF -- "$want" <<<"$values" || fail "$key=$want missing ($3)"
}
expect Type notify "the daemon sends READY=1 and WATCHDOG=1"
expect ExecStart "/usr/local/bin/ssid --config /etc/ssid/ssid.conf" \
	"make install rewrites this path"
expect ExecReload "/bin/kill -HUP \$MAINPID" "SIGHUP reloads; systemd 252 has no notify-reload"
expect Restart on-failure "crashes and watchdog kills must restart"
expect RestartPreventExitStatus 78 "EX_CONFIG must not crash-loop"
expect DynamicUser yes "the daemon must not run as root"
expect RestrictAddressFamilies "AF_INET AF_INET6 AF_UNIX" \
	"TCP to Kafka/Redis, AF_UNIX for sd_notify, the journal and a Redis socket"
expect IPAddressDeny any "the IP allow list is the network policy"
allow_list=$(unit_values IPAddressAllow | tr ' ' '\n')
grep -qxF localhost <<<"$allow_list" ||
	fail "IPAddressAllow= must keep localhost (local Redis, systemd-resolved)"

# Time spans in the unit are plain seconds with an optional "s" suffix here;
# anything fancier is refused rather than misread.
seconds_of() {
	local value
	value=$(unit_values "$1" | tail -n 1)
	[ -n "$value" ] || fail "$1= is not set"
	[[ "$value" =~ ^([0-9]+)s?$ ]] || fail "$1=$value is not in seconds"
	echo "${BASH_REMATCH[1]}"
}
# SIGTERM drains for up to shutdown.timeout_ms (15 s by default): stopping
# must wait longer, or systemd kills a drain that is about to finish.
stop_seconds=$(seconds_of TimeoutStopSec)
watchdog_seconds=$(seconds_of WatchdogSec)
[ "$stop_seconds" -gt 15 ] || fail "TimeoutStopSec= must exceed the 15 s drain"
[ "$watchdog_seconds" -gt 0 ] || fail "WatchdogSec= must be set"
echo "contract: ok"

[ "${1:-}" = "--trace" ] || exit 0
shift
[ $# -gt 0 ] || fail "--trace needs a command"

# --- 4. optional: trace a real run against the filters ----------------------
need strace strace

# All system calls in a filter group, nested groups expanded.
expand_group() {
	local entry
	systemd-analyze syscall-filter "$1" | tail -n +2 | sed -e 's/^ *//' -e '/^#/d' -e '/^$/d' |
		while read -r entry; do
			case "$entry" in
			@*) expand_group "$entry" ;;
			*) echo "$entry" ;;
			esac
		done
}
expand_entries() {
	local entry
	for entry in $1; do
		case "$entry" in
		@*) expand_group "$entry" ;;
		*) echo "$entry" ;;
		esac
	done
}

# Replay the SystemCallFilter= lines the way systemd combines them: the
# first allow list starts from nothing, later allow lists add, "~" lists
# remove, an empty assignment starts over.
: >"$tmp/allowed"
while IFS= read -r filter; do
	case "$filter" in
	"") : >"$tmp/allowed" ;;
	"~"*)
		expand_entries "${filter#\~}" | sort -u >"$tmp/denied"
		sort -u "$tmp/allowed" | comm -23 - "$tmp/denied" >"$tmp/next"
		mv "$tmp/next" "$tmp/allowed"
		;;
	*) expand_entries "$filter" >>"$tmp/allowed" ;;
	esac
done < <(unit_values SystemCallFilter)
sort -u -o "$tmp/allowed" "$tmp/allowed"
[ -s "$tmp/allowed" ] || fail "the unit has no SystemCallFilter= allow list to trace against"

trace_rc=0
strace -f -qq -o "$tmp/trace" -- "$@" || trace_rc=$?
[ "$trace_rc" -eq 0 ] || fail "traced command exited $trace_rc"

sed -nE 's/^[0-9]+ +(<\.\.\. )?([a-z0-9_]+)[( ].*/\2/p' "$tmp/trace" | sort -u >"$tmp/used"
comm -23 "$tmp/used" "$tmp/allowed" >"$tmp/denied_used"
echo "trace: $(wc -l <"$tmp/used") distinct system calls used: $(tr '\n' ' ' <"$tmp/used")"
if [ -s "$tmp/denied_used" ]; then
	sed 's/^/  denied: /' "$tmp/denied_used" >&2
	fail "the command uses system calls SystemCallFilter= denies"
fi

# glibc's getaddrinfo(AI_ADDRCONFIG) opens a NETLINK_ROUTE socket and, when
# that fails, assumes IPv4 and IPv6 are both configured, so AF_NETLINK being
# refused is harmless; any other refused family would break the daemon.
allowed_families=$(unit_values RestrictAddressFamilies | tail -n 1)
sed -nE 's/^[0-9]+ +socket(pair)?\((AF_[A-Z0-9]+),.*/\2/p' "$tmp/trace" | sort -u |
	while read -r family; do
		case " $allowed_families AF_NETLINK " in
		*" $family "*) ;;
		*) echo "$family" ;;
		esac
	done >"$tmp/bad_families"
if [ -s "$tmp/bad_families" ]; then
	sed 's/^/  refused family: /' "$tmp/bad_families" >&2
	fail "the command opens sockets RestrictAddressFamilies= refuses"
fi
echo "trace: every system call and socket family is allowed"
