#!/usr/bin/env bash
# The one-command demo: a private redis-server, ssid with its embedded Kafka
# mock cluster, a realistic generated activity stream for a few hundred reps,
# and a live view of the scores. Ctrl-C stops everything.
#
#   deploy/demo.sh [--for SECONDS] [--plain]
#     --for S   stop by itself after S seconds (used by the test suite)
#     --plain   one line per score update instead of the live board
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
run_for=0
plain=""
while [ $# -gt 0 ]; do
	case "$1" in
	--for) run_for=$2; shift 2 ;;
	--plain) plain="--plain"; shift ;;
	*) echo "usage: $0 [--for SECONDS] [--plain]" >&2; exit 64 ;;
	esac
done

deploy/install-deps.sh demo
make -s all

work=$(mktemp -d /tmp/ssid-demo.XXXXXX)
pids=()
cleanup() {
	trap - EXIT INT TERM
	# Data loss is never silent: the mock cluster keeps about 5 MB per
	# partition, and the demo's pace must never outrun it (README).
	if [ -n "${metrics_port:-}" ]; then
		echo
		echo "ssid at the end: $(metric ssid_offset_resets_total), $(metric ssid_offsets_skipped_total)"
	fi
	if grep -q 'data loss' "$work/ssid.log" 2>/dev/null; then
		echo "ssid reported DATA LOSS:"
		grep 'data loss' "$work/ssid.log" | head -5
	fi
	for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	if [ -f "$work/redis.pid" ]; then
		kill -TERM "$(cat "$work/redis.pid")" 2>/dev/null || true
	fi
	echo
	echo "demo stopped; ssid's log was $work/ssid.log (removed)"
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A free loopback port: one nothing answers on.
free_port() {
	local p
	for _ in $(seq 100); do
		p=$((20000 + RANDOM % 12000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	echo "no free port found" >&2
	exit 1
}

# One sample of ssid's /metrics ("name value"), over bash's /dev/tcp.
metric() {
	local line
	exec 3<>"/dev/tcp/127.0.0.1/$metrics_port" || return 0
	printf 'GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
	line=$(grep -a "^$1 " <&3 || true)
	exec 3<&-
	echo "${line:-$1 unknown}"
}

redis_port=$(free_port)
metrics_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no \
	--dir "$work" --daemonize yes --pidfile "$work/redis.pid" --logfile "$work/redis.log"
for _ in $(seq 100); do
	redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
	sleep 0.1
done

cat >"$work/ssid.conf" <<CONF
# Written by deploy/demo.sh: the embedded mock cluster instead of real brokers.
mock_cluster.brokers = 1
mock_cluster.partitions = 4
mock_cluster.bootstrap_file = $work/bootstrap
redis.port = $redis_port
model.file = $here/config/model.json
kafka.session.timeout.ms = 6000
metrics.listen = 127.0.0.1:$metrics_port
CONF

build/ssid --config "$work/ssid.conf" 2>"$work/ssid.log" &
pids+=($!)
for _ in $(seq 100); do
	[ -s "$work/bootstrap" ] && break
	sleep 0.1
done
[ -s "$work/bootstrap" ] || { echo "ssid did not start:"; cat "$work/ssid.log"; exit 1; }
echo "ssid is up; Kafka (mock) at $(cat "$work/bootstrap"), redis at 127.0.0.1:$redis_port"
echo "try: kcat -b $(cat "$work/bootstrap") -C -t ssi.scores"
echo "metrics: http://127.0.0.1:$metrics_port/metrics (and /healthz, /readyz)"

# 30 days of history replayed in about two minutes, then real time.
build/ssi-loadgen --bootstrap-file "$work/bootstrap" --users 300 --tenants 4 \
	--backfill-days 30 --speed 20000 --rate 5000 --bad-ratio 0.005 -q &
pids+=($!)

if [ "$run_for" -gt 0 ]; then
	timeout --preserve-status "$run_for" build/ssi-watch --bootstrap-file "$work/bootstrap" \
		$plain || true
else
	build/ssi-watch --bootstrap-file "$work/bootstrap" $plain || true
fi
