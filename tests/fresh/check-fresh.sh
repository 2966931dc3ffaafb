#!/usr/bin/env bash
# make check-fresh: prove that the README's two commands work on a fresh
# Debian bookworm, whatever this machine already has installed. Builds a
# minimal bookworm root with debootstrap (the base is cached as a tarball in
# tests/fresh/.cache/), puts a clean git clone of HEAD in it, and runs inside
# it with chroot, as root: `apt-get install make` (the one thing the README
# asks for beside a clone), `make demo` until its live board has shown
# score updates and then Ctrl-C, and `make check`. Prints PASS or FAIL and the
# seconds of each step; exits 0 only if every step passed.
#
# Needs root (debootstrap, mount, chroot) and Debian's mirror. Loopback
# networking is shared with the host, so the suites' Kafka brokers and
# redis-servers run inside on free ports as usual; a policy-rc.d keeps
# packages from starting their services (redis-server on 6379) there.
# /proc, /sys, /dev (and /dev/pts) and a private /dev/shm are mounted for
# the chroot and unmounted on every exit path, after every process inside has
# been stopped.
#
# Environment:
#   FRESH_STEPS          steps to run, in order (default "demo check")
#   FRESH_DEMO_UPDATES   score updates the demo must show (default 100)
#   FRESH_DEMO_TIMEOUT   seconds make demo may take to show them, package
#                        installs and build included (default 900)
#   FRESH_CHECK_TIMEOUT  seconds make check may take (default 5400)
#   FRESH_MIRROR         Debian mirror (default http://deb.debian.org/debian)
#   FRESH_CACHE_DIR      where the base tarball is kept (tests/fresh/.cache);
#                        it is rebuilt when older than 30 days or missing
#   FRESH_LOG_DIR        the steps' logs and the summary (build/fresh)
#   FRESH_WORK_DIR       parent of the scratch root (/var/tmp)
#   FRESH_KEEP=1         keep the scratch root afterwards (mounts are still
#                        undone)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
steps=${FRESH_STEPS:-demo check}
demo_updates=${FRESH_DEMO_UPDATES:-100}
demo_timeout=${FRESH_DEMO_TIMEOUT:-900}
check_timeout=${FRESH_CHECK_TIMEOUT:-5400}
mirror=${FRESH_MIRROR:-http://deb.debian.org/debian}
cache_dir=${FRESH_CACHE_DIR:-$repo/tests/fresh/.cache}
log_dir=${FRESH_LOG_DIR:-$repo/build/fresh}
work_parent=${FRESH_WORK_DIR:-/var/tmp}
keep=${FRESH_KEEP:-0}
suite=bookworm

note() { printf 'check-fresh: %s\n' "$*" >&2; }
die() {
	note "$*"
	exit 1
}

[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, mount, chroot): sudo make check-fresh"
for var in demo_updates demo_timeout check_timeout; do
	case "${!var}" in '' | *[!0-9]*) die "FRESH_${var^^} must be a whole number" ;; esac
done
for s in $steps; do
	case "$s" in demo | check) ;; *) die "unknown step in FRESH_STEPS: $s (demo, check)" ;; esac
done

"$repo/deploy/install-deps.sh" fresh

arch=$(dpkg --print-architecture)
tarball=$cache_dir/$suite-minbase-$arch.tar.gz
commit=$(git -C "$repo" rev-parse HEAD)
mkdir -p "$log_dir" "$work_parent"
rm -f "$log_dir"/*.log "$log_dir/summary.txt"
work=$(mktemp -d "$work_parent/ssid-fresh.XXXXXX")
root=$work/root
mounted=()      # mount points, in mount order
bg_pid=""       # the host-side `timeout` of the step running in the background
results=()      # "STATUS|SECONDS|NAME|NOTE"
overall=0

# --- processes and mounts ---------------------------------------------------

# Pids of the processes whose root directory is the chroot (or below it);
# the host's own processes, the other suites' redis-servers and brokers
# included, are never touched.
chroot_pids() {
	local p r
	for p in /proc/[0-9]*; do
		r=$(readlink "$p/root" 2>/dev/null) || continue
		case "$r" in "$root" | "$root"/*) printf '%s\n' "${p#/proc/}" ;; esac
	done
}

describe_pids() {
	local pid
	for pid in "$@"; do
		printf '  %s %s\n' "$pid" "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-150)"
	done
}

# Waits up to $1 seconds for the chroot to be empty. Whatever is still there
# is listed on stdout, then sent SIGTERM and, 10 s later, SIGKILL.
stop_leftovers() {
	local grace=$1 deadline pids
	deadline=$((SECONDS + grace))
	while :; do
		mapfile -t pids < <(chroot_pids)
		[ ${#pids[@]} -gt 0 ] || return 0
		[ "$SECONDS" -lt "$deadline" ] || break
		sleep 0.5
	done
	describe_pids "${pids[@]}"
	kill -TERM "${pids[@]}" 2>/dev/null || true
	deadline=$((SECONDS + 10))
	while [ "$SECONDS" -lt "$deadline" ]; do
		mapfile -t pids < <(chroot_pids)
		[ ${#pids[@]} -gt 0 ] || return 0
		sleep 0.5
	done
	kill -KILL "${pids[@]}" 2>/dev/null || true
	sleep 1
}

do_mount() {
	local target=$1
	shift
	mkdir -p "$target"
	mount "$@" "$target"
	mounted+=("$target")
	# A bind of a shared mount would join its peer group, and the tmpfs on
	# dev/shm would then appear on the host's /dev/shm.
	mount --make-private "$target" 2>/dev/null || true
}

mount_all() {
	do_mount "$root/proc" -t proc proc
	do_mount "$root/sys" -t sysfs sysfs
	do_mount "$root/dev" --bind /dev
	do_mount "$root/dev/shm" -t tmpfs -o mode=1777,nosuid,nodev shm
	# Not required, but apt and dpkg log through a pty when there is one.
	if [ -c /dev/pts/ptmx ]; then
		do_mount "$root/dev/pts" --bind /dev/pts
	fi
}

mounts_under_work() {
	awk -v w="$work/" 'index($2 "/", w) == 1 { print $2 }' /proc/mounts
}

unmount_all() {
	local i m
	for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
		m=${mounted[i]}
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null ||
			note "could not unmount $m"
	done
	mounted=()
	# Anything mounted below the root from inside (nothing should be).
	while read -r m; do
		umount -l "$m" 2>/dev/null || note "could not unmount $m"
	done < <(mounts_under_work | sort -r)
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ -n "$bg_pid" ]; then
		kill -KILL -- "-$bg_pid" 2>/dev/null || kill -KILL "$bg_pid" 2>/dev/null || true
	fi
	if [ -d "$root" ]; then
		stop_leftovers 0 >/dev/null
	fi
	unmount_all
	rm -f "$tarball.tmp.$$"
	if [ -n "$(mounts_under_work)" ]; then
		note "mounts are left under $work; not removing it:"
		mounts_under_work >&2
	elif [ "$keep" = 1 ]; then
		note "kept $root"
	else
		rm -rf --one-file-system "$work"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- steps ------------------------------------------------------------------

record() {
	local status=$1 secs=$2 name=$3 note=${4:-}
	results+=("$status|$secs|$name|$note")
	[ "$status" = PASS ] || overall=1
	printf 'check-fresh: %-4s %6ss  %s%s\n' "$status" "$secs" "$name" "${note:+  ($note)}" >&2
}

show_tail() {
	note "last lines of $1:"
	tail -n "${2:-30}" "$1" | sed -e 's/\x1b\[[0-9;]*[A-Za-z]//g' -e 's/^/  | /' >&2
}

# Runs $3 with bash in the clone inside the chroot, with a clean environment,
# no terminal and no stdin, in the background under `timeout` (its own process
# group); sets bg_pid. SIGINT and SIGQUIT get their default actions inside,
# as under a terminal, however check-fresh itself was started (nohup, a
# script's background job).
start_in_chroot() {
	local limit=$1 signal=$2 cmd=$3 log=$4
	timeout -s "$signal" -k 60 "$limit" \
		chroot "$root" /usr/bin/env -i --default-signal=INT,QUIT \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/root LANG=C.UTF-8 TERM=dumb \
		/bin/bash -c "cd /root/ssid && $cmd" </dev/null >"$log" 2>&1 &
	bg_pid=$!
}

# Waits for the background step; its exit status.
wait_step() {
	local rc=0
	wait "$bg_pid" || rc=$?
	bg_pid=""
	return "$rc"
}

make_base() {
	local log=$log_dir/base.log
	if [ -f "$tarball" ] && [ -z "$(find "$tarball" -mtime +30)" ]; then
		mkdir "$root"
		tar -C "$root" --numeric-owner -xzpf "$tarball" >"$log" 2>&1 || return 1
		echo "unpacked $tarball" >>"$log"
		base_from="cached $(basename "$tarball")"
		return 0
	fi
	base_from="debootstrap $suite, cached as $(basename "$tarball")"
	debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$log" 2>&1 || return 1
	mkdir -p "$cache_dir"
	tar -C "$root" --numeric-owner -czpf "$tarball.tmp.$$" . 2>>"$log" &&
		mv "$tarball.tmp.$$" "$tarball"
}

# What a fresh install has that a debootstrap root lacks or must not have.
configure_root() {
	# This network's settings: its DNS resolver, and the CA certificates
	# added locally (a network that inspects TLS needs them for Maven
	# Central); ca-certificates picks them up when make check installs it.
	cp -L /etc/resolv.conf "$root/etc/resolv.conf"
	if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
		mkdir -p "$root/usr/local/share/ca-certificates"
		cp -L /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
	fi
	[ -s "$root/etc/hosts" ] || printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' \
		>"$root/etc/hosts"
	# The apt sources of a fresh bookworm install.
	local security=${mirror%/debian}/debian-security
	[ "$mirror" = http://deb.debian.org/debian ] || security=http://deb.debian.org/debian-security
	cat >"$root/etc/apt/sources.list" <<EOF
deb $mirror $suite main
deb $mirror $suite-updates main
deb $security $suite-security main
EOF
	# No services start in the chroot: they would outlive the steps.
	printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
	chmod 0755 "$root/usr/sbin/policy-rc.d"
	# A clean clone of HEAD: the working tree's changes, build/ and
	# deploy/.cache (the Maven jars) stay behind.
	git clone -q --no-hardlinks "$repo" "$root/root/ssid"
	git -C "$root/root/ssid" checkout -q "$commit"
}

# apt-get install make: the README's prerequisite beside the clone.
step_setup() {
	local log=$log_dir/setup.log start=$SECONDS rc=0
	start_in_chroot 900 TERM "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends make" "$log"
	wait_step || rc=$?
	stop_leftovers 5 >>"$log" || true
	if [ "$rc" -eq 0 ]; then
		record PASS $((SECONDS - start)) "apt-get install make"
		return 0
	fi
	record FAIL $((SECONDS - start)) "apt-get install make" "exit $rc"
	show_tail "$log"
	return 1
}

# The live board prints "ssid live: N reps, M score updates, ..." every
# second; the highest M seen so far (none before the log exists).
demo_updates_seen() {
	[ -f "$1" ] || return 0
	sed -e 's/\x1b\[[0-9;]*[A-Za-z]//g' "$1" |
		sed -n 's/.*ssid live: [0-9]* reps, \([0-9]*\) score updates.*/\1/p' |
		sort -n | tail -n 1
}

step_demo() {
	local log=$log_dir/make-demo.log start=$SECONDS rc=0 seen=0 interrupted=0 deadline left why=""
	start_in_chroot "$demo_timeout" INT "make demo" "$log"
	while kill -0 "$bg_pid" 2>/dev/null; do
		seen=$(demo_updates_seen "$log")
		seen=${seen:-0}
		[ "$seen" -lt "$demo_updates" ] || break
		sleep 1
	done
	if kill -0 "$bg_pid" 2>/dev/null; then
		# Ctrl-C: SIGINT to the whole job, as a terminal sends it.
		kill -INT -- "-$bg_pid" 2>/dev/null || true
		interrupted=1
		deadline=$((SECONDS + 60))
		while kill -0 "$bg_pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
			sleep 0.5
		done
		if kill -0 "$bg_pid" 2>/dev/null; then
			why="still running 60 s after Ctrl-C"
			kill -KILL -- "-$bg_pid" 2>/dev/null || true
		fi
	fi
	wait_step || rc=$?
	local secs=$((SECONDS - start))
	seen=$(demo_updates_seen "$log")
	seen=${seen:-0}
	left=$(stop_leftovers 5)
	if [ -n "$left" ]; then
		printf 'processes left in the chroot after the demo:\n%s\n' "$left" >>"$log"
		why="${why:+$why; }processes left behind: $(printf '%s\n' "$left" | wc -l)"
	fi
	if [ "$interrupted" -eq 0 ] && [ "$rc" -eq 124 ]; then
		why="${why:+$why; }$seen score updates (not $demo_updates) within ${demo_timeout}s"
	elif [ "$interrupted" -eq 0 ]; then
		why="${why:+$why; }ended by itself (exit $rc) after $seen score updates"
	elif ! grep -q '^demo stopped' "$log"; then
		why="${why:+$why; }no \"demo stopped\" after Ctrl-C"
	fi
	if [ -z "$why" ]; then
		record PASS "$secs" "make demo" "$seen score updates, then Ctrl-C: stopped cleanly"
		return 0
	fi
	record FAIL "$secs" "make demo" "$why"
	[ -z "$left" ] || printf '%s\n' "$left" >&2
	show_tail "$log"
	return 1
}

step_check() {
	local log=$log_dir/make-check.log start=$SECONDS rc=0 left why=""
	start_in_chroot "$check_timeout" TERM "make check" "$log"
	wait_step || rc=$?
	local secs=$((SECONDS - start))
	left=$(stop_leftovers 10)
	if [ -n "$left" ]; then
		printf 'processes left in the chroot after make check:\n%s\n' "$left" >>"$log"
	fi
	case "$rc" in
	0) ;;
	124) why="timed out after ${check_timeout}s" ;;
	*) why="exit $rc" ;;
	esac
	[ -z "$left" ] || why="${why:+$why; }processes left behind: $(printf '%s\n' "$left" | wc -l)"
	if [ -z "$why" ]; then
		record PASS "$secs" "make check"
		return 0
	fi
	record FAIL "$secs" "make check" "$why"
	[ -z "$left" ] || printf '%s\n' "$left" >&2
	show_tail "$log" 40
	return 1
}

# --- main ---------------------------------------------------------------------

note "commit $(git -C "$repo" log -1 --format='%h %s' | cut -c1-100)"
note "root $root, logs in $log_dir"
start=$SECONDS
base_from=""
ready=1
if make_base; then
	record PASS $((SECONDS - start)) "minimal $suite root" "$base_from"
else
	record FAIL $((SECONDS - start)) "minimal $suite root" "$base_from"
	show_tail "$log_dir/base.log"
	ready=0
fi
if [ "$ready" = 1 ]; then
	configure_root
	mount_all
	step_setup || ready=0
fi
for s in $steps; do
	if [ "$ready" = 1 ]; then
		"step_$s" || true
	else
		record FAIL 0 "make $s" "not run"
	fi
done

{
	echo "check-fresh summary: commit $commit, $(date -u +%Y-%m-%dT%H:%M:%SZ), $suite $arch"
	for r in "${results[@]}"; do
		IFS='|' read -r status secs name extra <<<"$r"
		printf '  %-4s %6ss  %s%s\n' "$status" "$secs" "$name" "${extra:+  ($extra)}"
	done
	if [ "$overall" -eq 0 ]; then
		echo "check-fresh: PASS ($((SECONDS - start))s)"
	else
		echo "check-fresh: FAIL ($((SECONDS - start))s; logs in $log_dir)"
	fi
} | tee "$log_dir/summary.txt"
exit "$overall"
