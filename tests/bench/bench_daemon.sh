#!/usr/bin/env bash
# The daemon's end-to-end benchmark, run by `make bench` after bench_engine.
# It needs nothing running: it starts a real single-node Apache Kafka broker
# (deploy/kafka-broker.sh), a private redis-server and ssid, and stops them
# all on exit or Ctrl-C.
#
#   1. Preload: ssi-loadgen writes BENCH_EVENTS events of BENCH_USERS users,
#      spread over the 90-day window, into ssi.events (8 partitions).
#   2. Throughput: ssid starts with a fresh consumer group and a fixed clock
#      just after the preloaded window; it is done when the group's committed
#      offsets reach the topic's end offsets (bench_consume wait-committed):
#      every event processed, every output delivered (ssid commits only
#      after that). Timed from the process start and from the partition
#      assignment (ssid's "assigned" log line), so the group join shows.
#   3. Memory: ssid's VmHWM, and Redis used_memory growth per user key.
#   4. Ceilings, on the same topic in the same run: a consume-only
#      librdkafka consumer (same settings as ssid, fresh group, no work) and
#      bare json_loadb of the very payloads it consumed.
#   5. Latency: with ssid idle and caught up, ssi-loadgen sends live events
#      at BENCH_RATE events/s for BENCH_LIVE_SECONDS. Latency of an output =
#      its broker append time (ssi.scores is created with LogAppendTime)
#      minus the CreateTime of the newest input of that user it covers,
#      bracketed from below and above as tests/bench/bench_latency.c
#      explains; the two bounds meet for most outputs.
#
# Environment: BENCH_EVENTS (1000000), BENCH_USERS (100000), BENCH_SEED (7),
# BENCH_RATE (20000), BENCH_LIVE_SECONDS (20), BENCH_TIMEOUT (600 s per wait),
# BENCH_BUILD (build), BENCH_PERF=1 to profile ssid with `perf record`
# during step 2 (it slows ssid a little), BENCH_KEEP=1 to keep the work
# directory (logs, configuration, perf data), BENCH_SSID_CONFIG for extra
# ssid.conf lines separated by ';' (e.g. 'batch.max_events = 50000').
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"

build=${BENCH_BUILD:-build}
events=${BENCH_EVENTS:-1000000}
users=${BENCH_USERS:-100000}
seed=${BENCH_SEED:-7}
rate=${BENCH_RATE:-20000}
live_seconds=${BENCH_LIVE_SECONDS:-20}
timeout=${BENCH_TIMEOUT:-600}
profile=${BENCH_PERF:-0}
keep=${BENCH_KEEP:-0}

partitions=8
# The preloaded events span 90 days from preload_start and stop before
# preload_end; the live events fall on the day after; the clock is the end of
# that day. So nothing is too old (the window's first day is preload_start)
# and nothing is in the future.
preload_start=2026-09-05T00:00:00Z
preload_end=2026-12-02T00:00:00Z
live_start=2026-12-02T00:00:00Z
clock=2026-12-03T00:00:00Z

note() { printf '%s\n' "$*" >&2; }
die() {
	note "bench_daemon: $*"
	exit 1
}

for var in events users seed rate live_seconds timeout; do
	case "${!var}" in '' | *[!0-9]*) die "BENCH_${var^^} must be a whole number" ;; esac
done
for var in events users rate live_seconds timeout; do
	[ "${!var}" -gt 0 ] || die "BENCH_${var^^} must be positive"
done
for prog in ssid ssi-loadgen bench_consume bench_latency; do
	[ -x "$build/$prog" ] || die "$build/$prog is missing: run make bench"
done
for tool in redis-server redis-cli; do
	command -v "$tool" >/dev/null || die "$tool is needed (apt-get install redis-server)"
done

work=""
broker_dir=""
ssid_pid=""
redis_pid=""
perf_pid=""
background_pids=()

# Everything this script started, in reverse order of need; never fails, so
# that one stuck piece does not leave the others running.
cleanup() {
	local status=$?
	trap - EXIT INT TERM
	local pid
	for pid in "${background_pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	[ -z "$perf_pid" ] || kill -INT "$perf_pid" 2>/dev/null || true
	if [ -n "$ssid_pid" ]; then
		stop_process "$ssid_pid" 30
	fi
	if [ -n "$redis_pid" ]; then
		stop_process "$redis_pid" 10
	fi
	if [ -n "$broker_dir" ]; then
		deploy/kafka-broker.sh stop "$broker_dir" >/dev/null 2>&1 || true
	fi
	# A failed run keeps its logs, not the broker's gigabyte of data; an
	# interrupted one keeps nothing.
	if [ -n "$work" ]; then
		if [ "$keep" = 1 ]; then
			note "bench_daemon: work directory kept: $work"
		elif [ "$status" -eq 1 ]; then
			rm -rf "$work/kafka/data" "$work/perf.data"
			note "bench_daemon: logs kept in $work"
		else
			rm -rf "$work"
		fi
	fi
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# SIGTERM, then SIGKILL after $2 seconds; waits so nothing is left behind.
stop_process() {
	local pid=$1 deadline=$((SECONDS + $2))
	kill -TERM "$pid" 2>/dev/null || return 0
	while kill -0 "$pid" 2>/dev/null; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			kill -KILL "$pid" 2>/dev/null || true
			break
		fi
		sleep 0.1
	done
	wait "$pid" 2>/dev/null || true
}

# key=value output of the bench programs.
kv() {
	sed -n "s/^$2=//p" "$1" | head -n 1
}

# Floating-point arithmetic: calc FORMAT EXPRESSION.
calc() {
	awk "BEGIN { printf \"$1\", ($2) }"
}

# 1234567.8 -> 1,234,568
commas() {
	awk -v n="$1" 'BEGIN {
		s = sprintf("%.0f", n); neg = s ~ /^-/; if (neg) s = substr(s, 2)
		out = ""; while (length(s) > 3) { out = "," substr(s, length(s) - 2) out; s = substr(s, 1, length(s) - 3) }
		printf "%s%s%s", neg ? "-" : "", s, out }'
}

port_in_use() {
	local hex
	printf -v hex ':%04X ' "$1"
	grep -q "$hex" /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# Each line of stdin, prefixed with the time it was read.
stamp_lines() {
	local line
	while IFS= read -r line; do
		printf '%s %s\n' "$EPOCHREALTIME" "$line"
	done
}

# Wait for the background program $1 (its key=value output in $2) while
# making sure ssid is still alive: a dead ssid must fail the run, not let it
# wait for the timeout.
wait_while_ssid_runs() {
	local pid=$1 finished status=0
	background_pids+=("$pid")
	wait -n -p finished "$pid" "$ssid_pid" || status=$?
	if [ "${finished:-}" = "$ssid_pid" ]; then
		ssid_pid=""
		tail -n 20 "$work/ssid.log" >&2
		die "ssid exited (status $status) before it was done"
	fi
	background_pids=()
	[ "$status" -eq 0 ] || die "waiting for ssid failed (status $status)"
}

cpu_seconds() {
	local stat ticks
	stat=$(cat "/proc/$1/stat") || return 1
	stat=${stat##*) }
	ticks=$(getconf CLK_TCK)
	# Fields 14 and 15 (utime, stime) are the 12th and 13th after the name.
	awk -v t="$ticks" '{ printf "%.2f", ($12 + $13) / t }' <<<"$stat"
}

proc_status_kb() {
	awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"
}

redis_info() {
	redis-cli -h 127.0.0.1 -p "$redis_port" info "$1" | tr -d '\r' | sed -n "s/^$2://p"
}

bench() {
	"$build/bench_consume" -b "$bootstrap" "$@"
}

# librdkafka's retry notices (a fresh broker loads its coordinators) are
# noise unless the run fails.
run_loadgen() {
	"$@" 2>>"$work/loadgen.log" || {
		tail -n 20 "$work/loadgen.log" >&2
		die "ssi-loadgen failed"
	}
}

work=$(mktemp -d /tmp/ssid-bench.XXXXXX)
cores=$(nproc)
# Other work on the machine skews every figure below, latency most.
read -r load_1m _ </proc/loadavg
printf '\nbench_daemon: %s events over %s users, %d partitions, %s cores, %s (load average %s)\n' \
	"$(commas "$events")" "$(commas "$users")" "$partitions" "$cores" \
	"$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)" "$load_1m"
printf '  (reproduce: BENCH_EVENTS=%s BENCH_USERS=%s BENCH_SEED=%s BENCH_RATE=%s ' \
	"$events" "$users" "$seed" "$rate"
[ -z "${BENCH_SSID_CONFIG:-}" ] || printf "BENCH_SSID_CONFIG='%s' " "$BENCH_SSID_CONFIG"
printf 'BENCH_LIVE_SECONDS=%s tests/bench/bench_daemon.sh)\n' "$live_seconds"

# --- Kafka and Redis ----------------------------------------------------------
t0=$EPOCHREALTIME
broker_dir=$work/kafka
bootstrap=$(deploy/kafka-broker.sh start "$broker_dir" 2>"$work/setup.log") ||
	die "the Kafka broker did not start: $(tail -n 20 "$work/setup.log")"
for topic in ssi.events ssi.scores ssi.events.dlq; do
	extra=()
	# Outputs are timed when the broker has them (see step 5).
	[ "$topic" != ssi.scores ] || extra=(--config message.timestamp.type=LogAppendTime)
	deploy/kafka-broker.sh create-topic "$broker_dir" "$topic" "$partitions" "${extra[@]}" \
		2>>"$work/setup.log" || die "creating $topic failed: $(tail -n 20 "$work/setup.log")"
done

for _ in 1 2 3 4 5; do
	redis_port=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
	port_in_use "$redis_port" && continue
	redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no \
		--dir "$work" --logfile "$work/redis.log" --daemonize no &
	redis_pid=$!
	for _ in $(seq 100); do
		redis-cli -h 127.0.0.1 -p "$redis_port" ping 2>/dev/null | grep -q PONG && break
		kill -0 "$redis_pid" 2>/dev/null || break
		sleep 0.05
	done
	redis-cli -h 127.0.0.1 -p "$redis_port" ping 2>/dev/null | grep -q PONG && break
	stop_process "$redis_pid" 5
	redis_pid=""
done
[ -n "$redis_pid" ] || die "redis-server did not start (log: $work/redis.log)"
printf 'setup: Kafka %s at %s, redis-server at 127.0.0.1:%s, in %s s\n' \
	"$(sed -n 's|.*<kafka.version>\(.*\)</kafka.version>.*|\1|p' deploy/kafka/pom.xml)" \
	"$bootstrap" "$redis_port" "$(calc '%.1f' "$EPOCHREALTIME - $t0")"

# --- 1. preload ---------------------------------------------------------------
# About 10 events per user at the default sizes: the activity scales with
# events per user so that the stream keeps spanning the window.
preload_activity=$(calc '%.6f' "$events / $users / 2000")
preload_cmd=("$build/ssi-loadgen" -b "$bootstrap" --users "$users" --count "$events"
	--seed "$seed" --start "$preload_start" --end "$preload_end"
	--activity "$preload_activity" --no-clock-cap -q)
t0=$EPOCHREALTIME
run_loadgen "${preload_cmd[@]}"
t1=$EPOCHREALTIME
bench ends ssi.events >"$work/preload.kv"
preloaded=$(kv "$work/preload.kv" messages)
printf '\npreload: %s events in %s s = %s events/s\n' "$(commas "$preloaded")" \
	"$(calc '%.1f' "$t1 - $t0")" "$(commas "$(calc '%f' "$preloaded / ($t1 - $t0)")")"
printf '  $ %s\n' "${preload_cmd[*]}"
[ "$preloaded" -eq "$events" ] ||
	note "bench_daemon: the stream reached $preload_end after $preloaded events"

# --- 2. ssid end to end -------------------------------------------------------
group=ssid-bench-$$-${EPOCHSECONDS}
cat >"$work/ssid.conf" <<EOF
kafka.bootstrap.servers = $bootstrap
kafka.group.id = $group
redis.host = 127.0.0.1
redis.port = $redis_port
model.file = $repo/config/model.json
clock = fixed:$clock
EOF
tr ';' '\n' <<<"${BENCH_SSID_CONFIG:-}" | sed 's/^[[:space:]]*//' | grep -v '^$' >>"$work/ssid.conf" || true
# The first consumer group of a fresh broker creates __consumer_offsets,
# which takes seconds a long-running cluster never spends again: have a
# throwaway group pay for it, so that ssid's start-up is timed as in real
# life.
"$build/bench_consume" -b "$bootstrap" wait-committed "bench-warmup-$$" ssi.events.dlq 120 \
	>/dev/null 2>&1 || die "the broker's group coordinator did not come up"
redis_before=$(redis_info memory used_memory)
redis_cpu_before=$(redis_info cpu used_cpu_user)+$(redis_info cpu used_cpu_sys)

ssid_start=$EPOCHREALTIME
"$build/ssid" --config "$work/ssid.conf" 2> >(stamp_lines >"$work/ssid.log") &
ssid_pid=$!
if [ "$profile" = 1 ]; then
	perf record -F 999 --call-graph dwarf,16384 -p "$ssid_pid" -o "$work/perf.data" \
		>"$work/perf.log" 2>&1 &
	perf_pid=$!
fi
"$build/bench_consume" -b "$bootstrap" wait-committed "$group" ssi.events "$timeout" >"$work/run.kv" &
wait_while_ssid_runs $!
done_at=$(kv "$work/run.kv" done_at)
first_commit_at=$(kv "$work/run.kv" first_commit_at)
if [ -n "$perf_pid" ]; then
	kill -INT "$perf_pid" 2>/dev/null || true
	wait "$perf_pid" 2>/dev/null || true
	perf_pid=""
fi
ssid_cpu=$(cpu_seconds "$ssid_pid")
ssid_hwm=$(proc_status_kb "$ssid_pid" VmHWM)
ready_at=$(awk '/ ready: / { print $1; exit }' "$work/ssid.log")
assigned_at=$(awk '/ assigned [0-9]+ partition/ { print $1; exit }' "$work/ssid.log")
[ -n "$ready_at" ] || ready_at=$ssid_start
[ -n "$assigned_at" ] || assigned_at=$ssid_start
redis_after=$(redis_info memory used_memory)
redis_cpu=$(calc '%.2f' "$(redis_info cpu used_cpu_user)+$(redis_info cpu used_cpu_sys)-($redis_cpu_before)")
redis_keys=$(redis-cli -h 127.0.0.1 -p "$redis_port" dbsize | tr -d '\r')
bench ends ssi.scores >"$work/scores.kv"
bench ends ssi.events.dlq >"$work/dlq.kv"
outputs=$(kv "$work/scores.kv" messages)
dead_letters=$(kv "$work/dlq.kv" messages)

total_s=$(calc '%.3f' "$done_at - $ssid_start")
join_s=$(calc '%.3f' "$assigned_at - $ssid_start")
busy_s=$(calc '%.3f' "$done_at - $assigned_at")
ssid_rate=$(calc '%f' "$preloaded / $total_s")
ssid_busy_rate=$(calc '%f' "$preloaded / $busy_s")
printf '\nssid end to end: %s events in %s s = %s events/s (from process start)\n' \
	"$(commas "$preloaded")" "$(calc '%.2f' "$total_s")" "$(commas "$ssid_rate")"
printf 'ssid end to end: %s events in %s s = %s events/s (from partition assignment, %s s after start)\n' \
	"$(commas "$preloaded")" "$(calc '%.2f' "$busy_s")" "$(commas "$ssid_busy_rate")" \
	"$(calc '%.2f' "$join_s")"
printf '  after start: ready %s s, partitions assigned %s s, first batch committed %s s\n' \
	"$(calc '%.2f' "$ready_at - $ssid_start")" "$(calc '%.2f' "$join_s")" \
	"$(calc '%.2f' "$first_commit_at > 0 ? $first_commit_at - $ssid_start : 0")"
printf '  $ %s --config ssid.conf   # %s\n' "$build/ssid" \
	"$(grep -v '^kafka.bootstrap\|^redis.port\|^kafka.group' "$work/ssid.conf" | paste -sd ';' | sed 's/;/; /g')"
printf '  $ %s -b %s wait-committed %s ssi.events %s   # done when committed = end offsets\n' \
	"$build/bench_consume" "$bootstrap" "$group" "$timeout"
printf 'outputs: %s score.updated in ssi.scores, %s dead letters in ssi.events.dlq\n' \
	"$(commas "$outputs")" "$(commas "$dead_letters")"
printf '  $ %s -b %s ends ssi.scores; ... ends ssi.events.dlq\n' "$build/bench_consume" "$bootstrap"
printf 'CPU: ssid %s s (%s%% of one core over the run, %s us/event), redis-server %s s\n' \
	"$ssid_cpu" "$(calc '%.0f' "100 * $ssid_cpu / $total_s")" \
	"$(calc '%.2f' "1e6 * $ssid_cpu / $preloaded")" "$redis_cpu"

# --- 3. memory ----------------------------------------------------------------
printf '\nssid peak RSS (VmHWM): %s MiB after %s events\n' "$(calc '%.1f' "$ssid_hwm / 1024")" \
	"$(commas "$preloaded")"
printf '  $ grep VmHWM /proc/%s/status\n' "$ssid_pid"
printf 'redis: used_memory %s -> %s MiB, %s keys: %s bytes per user\n' \
	"$(calc '%.1f' "$redis_before / 1048576")" "$(calc '%.1f' "$redis_after / 1048576")" \
	"$(commas "$redis_keys")" "$(calc '%.0f' "($redis_after - $redis_before) / $redis_keys")"
printf '  $ redis-cli -p %s info memory; redis-cli -p %s dbsize\n' "$redis_port" "$redis_port"

# --- 4. ceilings: raw consume and bare parse ------------------------------------
bench consume ssi.events >"$work/consume.kv"
raw_n=$(kv "$work/consume.kv" messages)
raw_total_s=$(kv "$work/consume.kv" seconds_from_subscribe)
raw_first_s=$(kv "$work/consume.kv" seconds_from_first)
parse_s=$(kv "$work/consume.kv" parse_seconds)
raw_rate=$(calc '%f' "$raw_n / $raw_total_s")
raw_first_rate=$(calc '%f' "$raw_n / $raw_first_s")
parse_rate=$(calc '%f' "$raw_n / $parse_s")
printf '\nraw consume: %s messages (%s MB) in %s s = %s msgs/s (from subscribe)\n' \
	"$(commas "$raw_n")" "$(calc '%.1f' "$(kv "$work/consume.kv" bytes) / 1e6")" \
	"$(calc '%.2f' "$raw_total_s")" "$(commas "$raw_rate")"
printf 'raw consume: %s messages in %s s = %s msgs/s (from first message)\n' \
	"$(commas "$raw_n")" "$(calc '%.2f' "$raw_first_s")" "$(commas "$raw_first_rate")"
printf 'bare json_loadb: %s payloads in %s s = %s events/s (one core, %s failed)\n' \
	"$(commas "$raw_n")" "$(calc '%.2f' "$parse_s")" "$(commas "$parse_rate")" \
	"$(kv "$work/consume.kv" parse_failed)"
printf '  $ %s -b %s consume ssi.events\n' "$build/bench_consume" "$bootstrap"
printf 'ratios: ssid/raw consume %s (from start/subscribe), %s (from assignment/first message); ssid/bare parse %s\n' \
	"$(calc '%.2f' "$ssid_rate / $raw_rate")" "$(calc '%.2f' "$ssid_busy_rate / $raw_first_rate")" \
	"$(calc '%.2f' "$ssid_busy_rate / $parse_rate")"

# --- 5. latency at a fixed rate -----------------------------------------------
bench ends ssi.events >"$work/live-in.kv"
bench ends ssi.scores >"$work/live-out.kv"
dlq_before=$dead_letters
# A day holds about activity x users x 25 events; ask for three times what
# the run sends so that the day never runs out.
live_activity=$(calc '%.4f' "3 * $rate * $live_seconds / ($users * 25)")
live_cmd=("$build/ssi-loadgen" -b "$bootstrap" --users "$users" --seed "$((seed + 1))"
	--start "$live_start" --end "$clock" --activity "$live_activity" --no-clock-cap
	--rate "$rate" --duration "$live_seconds" -q)
ssid_cpu_before=$(cpu_seconds "$ssid_pid")
"$build/bench_consume" -b "$bootstrap" trace-committed "$group" ssi.events "$timeout" "$work/commits.trace" &
tracer_pid=$!
background_pids+=("$tracer_pid")
read -r live_load _ </proc/loadavg
t0=$EPOCHREALTIME
run_loadgen "${live_cmd[@]}"
t1=$EPOCHREALTIME
"$build/bench_consume" -b "$bootstrap" wait-committed "$group" ssi.events "$timeout" >"$work/live.kv" &
wait_while_ssid_runs $!
kill -TERM "$tracer_pid"
wait "$tracer_pid" || die "tracing the committed offsets failed"
background_pids=()
ssid_live_cpu=$(calc '%.2f' "$(cpu_seconds "$ssid_pid") - $ssid_cpu_before")
latency_cmd=("$build/bench_latency" -b "$bootstrap" ssi.events "$(kv "$work/live-in.kv" ends)"
	ssi.scores "$(kv "$work/live-out.kv" ends)" "$work/commits.trace")
"${latency_cmd[@]}" >"$work/latency.kv"
bench ends ssi.events.dlq >"$work/dlq.kv"
live_n=$(kv "$work/latency.kv" inputs)
lat() { kv "$work/latency.kv" "$1"; }
printf '\nlatency: %s live events at %s events/s (%s s by the input timestamps; %s s of ssid CPU; load average %s)\n' \
	"$(commas "$live_n")" "$(commas "$(calc '%f' "$live_n / ($t1 - $t0)")")" \
	"$(calc '%.1f' "$(lat input_span_ms) / 1000")" "$ssid_live_cpu" "$live_load"
printf '  %s outputs, %s matched, bounds equal for %s%%, %s dead letters\n' \
	"$(commas "$(lat outputs)")" "$(commas "$(lat matched)")" \
	"$(calc '%.1f' "100 * $(lat exact) / ($(lat matched) > 0 ? $(lat matched) : 1)")" \
	"$(commas "$(($(kv "$work/dlq.kv" messages) - dlq_before))")"
printf 'latency (event CreateTime -> score.updated %s), ms:\n' "$(lat output_timestamps)"
printf '  %-30s %7s %7s %7s %7s %7s\n' "" p50 p90 p99 p99.9 max
for row in "lo:event -> output, lower bound" "hi:event -> output, upper bound" \
	"commit:event -> offset committed"; do
	printf '  %-30s %7s %7s %7s %7s %7s\n' "${row#*:}" "$(lat "${row%%:*}_p50")" \
		"$(lat "${row%%:*}_p90")" "$(lat "${row%%:*}_p99")" "$(lat "${row%%:*}_p999")" \
		"$(lat "${row%%:*}_max")"
done
printf '  $ %s\n' "${live_cmd[*]}"
printf '  $ %s -b %s trace-committed %s ssi.events %s commits.trace &   # during the run\n' \
	"$build/bench_consume" "$bootstrap" "$group" "$timeout"
printf '  $ %s\n' "${latency_cmd[*]/#$work\//}"
[ "$(lat uncommitted)" = 0 ] ||
	note "bench_daemon: $(lat uncommitted) live events were never seen committed"
[ "$(lat order_violations)" = 0 ] ||
	note "bench_daemon: $(lat order_violations) inputs had a CreateTime older than their user's previous input"

printf '\nssid peak RSS (VmHWM) at the end: %s MiB\n' \
	"$(calc '%.1f' "$(proc_status_kb "$ssid_pid" VmHWM) / 1024")"

if [ "$profile" = 1 ]; then
	printf '\nperf profile of ssid during step 2 (self time, >= 1%%):\n'
	perf report -i "$work/perf.data" --no-children --percent-limit 1 --stdio \
		--sort dso,symbol -g none 2>/dev/null | sed -n 's/^ *\([0-9]\)/  \1/p' |
		sed 's/[[:space:]-]*$//' | head -n 40
	printf '  $ perf report -i perf.data --no-children   # BENCH_KEEP=1 keeps it\n'
fi
