#!/usr/bin/env bash
# The daemon's end-to-end benchmark, run by `make bench` after bench_engine.
# It needs nothing running: it starts a real single-node Apache Kafka broker
# (deploy/kafka-broker.sh), private redis-servers and ssid, and stops them
# all on exit or Ctrl-C. Every figure comes from this one run, so that the
# ratios between them hold even on a noisy machine; each is printed with the
# command that produced it, and a Markdown summary closes the run.
#
#   1. Preload, once: ssi-loadgen writes BENCH_EVENTS events of BENCH_USERS
#      users, spread over the 90-day window, into ssi.events (8 partitions).
#      Every ssid run below consumes this same topic with a fresh consumer
#      group and a fresh redis-server (nothing in Redis at the start).
#   2. Ceilings: a consume-only librdkafka consumer (same settings as ssid,
#      fresh group, no work) and bare json_loadb of the very payloads it
#      consumed.
#   3. Throughput, ranks off then ranks on: ssid starts with a fixed clock
#      just after the preloaded window; it is done when the group's
#      committed offsets reach the topic's end offsets (bench_consume
#      wait-committed): every event processed, every output delivered (ssid
#      commits only after that). Timed from the process start and from the
#      partition assignment (ssid's "assigned" log line). Redis's cost is
#      read from INFO before and after: commands (commandstats calls=,
#      everything included), CPU (used_cpu_user + used_cpu_sys) and memory
#      (used_memory, per rep = per key u:{...}). ssid's CPU and VmHWM come
#      from /proc.
#   4. Rebuild: ssid (ranks on) is stopped, its Redis is emptied (FLUSHALL)
#      and ssid is started again with the same group: it finds the sentinel
#      epoch gone and replays every partition from the log start up to the
#      committed offsets, i.e. the whole preloaded stream. Timed from the
#      partition assignment (where the replay is planned) to ssid's
#      "rebuild complete" log line.
#   5. Latency at fixed rates (BENCH_RATES), ranks on, with the rebuilt ssid
#      idle and caught up: ssi-loadgen sends live events at RATE events/s
#      for BENCH_LIVE_SECONDS. Latency of an output = its broker append time
#      (ssi.scores is created with LogAppendTime) minus the CreateTime of the
#      newest input of that user it covers, bracketed from below and above
#      as tests/bench/bench_latency.c explains.
#   6. Scaling (BENCH_SCALE=1): for each user count in BENCH_SCALE_USERS, a
#      topic of its own preloaded with BENCH_SCALE_EVENTS_PER_USER events per
#      user, consumed by ssid (ranks on) as in step 3: events/s, Redis
#      commands per event and bytes per rep must stay flat as reps grow.
#
# Environment: BENCH_EVENTS (1000000), BENCH_USERS (100000), BENCH_SEED (7),
# BENCH_RATES ("10000 20000"; BENCH_RATE=N for one rate only),
# BENCH_LIVE_SECONDS (20), BENCH_SCALE (1; 0 skips step 6),
# BENCH_SCALE_USERS ("10000 100000 1000000"), BENCH_SCALE_EVENTS_PER_USER
# (3), BENCH_TIMEOUT (600 s per wait), BENCH_BUILD (build), BENCH_PERF=1 to
# profile ssid with `perf record` during the ranks-on run (it slows ssid a
# little), BENCH_KEEP=1 to keep the work directory (logs, configuration,
# perf data), BENCH_SSID_CONFIG for extra ssid.conf lines separated by ';'
# (e.g. 'batch.max_events = 50000'), given to every ssid run.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"

build=${BENCH_BUILD:-build}
events=${BENCH_EVENTS:-1000000}
users=${BENCH_USERS:-100000}
seed=${BENCH_SEED:-7}
if [ -n "${BENCH_RATE:-}" ]; then
	rates=${BENCH_RATE}
else
	rates=${BENCH_RATES:-10000 20000}
fi
live_seconds=${BENCH_LIVE_SECONDS:-20}
scale=${BENCH_SCALE:-1}
scale_users=${BENCH_SCALE_USERS:-10000 100000 1000000}
scale_epu=${BENCH_SCALE_EVENTS_PER_USER:-3}
timeout=${BENCH_TIMEOUT:-600}
profile=${BENCH_PERF:-0}
keep=${BENCH_KEEP:-0}
extra_config=${BENCH_SSID_CONFIG:-}

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

for var in events users seed live_seconds timeout scale_epu; do
	case "${!var}" in '' | *[!0-9]*) die "BENCH_${var^^} must be a whole number" ;; esac
done
for var in events users live_seconds timeout scale_epu; do
	[ "${!var}" -gt 0 ] || die "BENCH_${var^^} must be positive"
done
for n in $rates $scale_users; do
	case "$n" in '' | *[!0-9]* | 0) die "BENCH_RATES and BENCH_SCALE_USERS are lists of positive whole numbers" ;; esac
done
[ -n "${rates// /}" ] || die "BENCH_RATES is empty"
case "$scale" in 0 | 1) ;; *) die "BENCH_SCALE must be 0 or 1" ;; esac
# The script sets these itself; ssid refuses a key set twice.
if grep -Eq '(^|;)[[:space:]]*(rank\.enabled|input\.topic|kafka\.group\.id|redis\.port|clock)[[:space:]]*=' \
	<<<"$extra_config"; then
	die "BENCH_SSID_CONFIG may not set rank.enabled, input.topic, kafka.group.id, redis.port or clock"
fi
for prog in ssid ssi-loadgen bench_consume bench_latency; do
	[ -x "$build/$prog" ] || die "$build/$prog is missing: run make bench"
done
for tool in redis-server redis-cli; do
	command -v "$tool" >/dev/null || die "$tool is needed (apt-get install redis-server)"
done

work=""
broker_dir=""
bin=""
ssid_pid=""
ssid_log=""
redis_pid=""
redis_port=""
perf_pid=""
background_pids=()
# Every figure of the run, by name, for the summary at the end.
declare -A fig=()

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
	# A failed run keeps its logs, not the broker's gigabytes of data; an
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

bench() {
	"$bin/bench_consume" -b "$bootstrap" "$@"
}

# Sum of the high watermarks of a topic (its end offset, all partitions).
topic_messages() {
	bench ends "$1" >"$work/ends.kv"
	kv "$work/ends.kv" messages
}

# librdkafka's retry notices (a fresh broker loads its coordinators) are
# noise unless the run fails.
run_loadgen() {
	"${@/#$build\//$bin/}" 2>>"$work/loadgen.log" || {
		tail -n 20 "$work/loadgen.log" >&2
		die "ssi-loadgen failed"
	}
}

# --- Redis --------------------------------------------------------------------

rcli() {
	redis-cli -h 127.0.0.1 -p "$redis_port" "$@"
}

# A new, empty redis-server on a free port (sets redis_port and redis_pid).
redis_start() {
	local _
	for _ in 1 2 3 4 5; do
		redis_port=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
		port_in_use "$redis_port" && continue
		redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no \
			--dir "$work" --logfile "$work/redis-$redis_port.log" --daemonize no &
		redis_pid=$!
		for _ in $(seq 100); do
			rcli ping 2>/dev/null | grep -q PONG && break
			kill -0 "$redis_pid" 2>/dev/null || break
			sleep 0.05
		done
		rcli ping 2>/dev/null | grep -q PONG && return 0
		stop_process "$redis_pid" 5
		redis_pid=""
	done
	die "redis-server did not start (logs: $work/redis-*.log)"
}

redis_stop() {
	[ -z "$redis_pid" ] || stop_process "$redis_pid" 10
	redis_pid=""
}

# One INFO ALL (a single command, so it costs the delta one "info" call):
# commandstats, cpu and memory at once. \r stripped.
redis_snapshot() {
	rcli info all | tr -d '\r' >"$1"
}

# A field of a snapshot: info_field FILE used_memory.
info_field() {
	sed -n "s/^$2://p" "$1" | head -n 1
}

# "command calls" for every command whose calls grew between two snapshots,
# most calls first.
command_deltas() {
	awk -F'[:,=]' '
		FNR == NR { if ($1 ~ /^cmdstat_/) before[$1] = $3; next }
		$1 ~ /^cmdstat_/ {
			d = $3 - before[$1]
			if (d > 0) print substr($1, 9), d
		}' "$1" "$2" | sort -k2,2nr -k1,1
}

# Reps in Redis: keys u:{...} (other keys are per partition or per board).
# Counted inside Redis (SCAN in a script), after the figures were read.
count_reps() {
	rcli eval "local n, cur = 0, '0'
		repeat
			local r = redis.call('SCAN', cur, 'MATCH', ARGV[1], 'COUNT', 10000)
			cur = r[1]; n = n + #r[2]
		until cur == '0'
		return n" 0 'ssi:u:{*' | tr -d '\r'
}

# Redis costs between two snapshots over N events, stored as figures
# PREFIX.cmds (per event), .top (the busiest commands per event), .cpu_per_m
# (CPU seconds per million events), .cpu (seconds), .mem (used_memory growth).
redis_costs() {
	local prefix=$1 before=$2 after=$3 n=$4 total top
	command_deltas "$before" "$after" >"$work/$prefix.commands"
	total=$(awk '{ s += $2 } END { print s + 0 }' "$work/$prefix.commands")
	top=$(awk -v n="$n" 'NR <= 8 && $2 / n >= 0.005 { printf "%s%s %.2f", (NR > 1 ? ", " : ""), $1, $2 / n }' \
		"$work/$prefix.commands")
	fig[$prefix.cmds]=$(calc '%.2f' "$total / $n")
	fig[$prefix.calls]=$total
	fig[$prefix.top]=${top:-none}
	fig[$prefix.cpu]=$(calc '%.2f' "$(info_field "$after" used_cpu_user) + $(info_field "$after" used_cpu_sys) - $(info_field "$before" used_cpu_user) - $(info_field "$before" used_cpu_sys)")
	fig[$prefix.cpu_per_m]=$(calc '%.2f' "${fig[$prefix.cpu]} / $n * 1e6")
	fig[$prefix.mem]=$(($(info_field "$after" used_memory) - $(info_field "$before" used_memory)))
}

# --- ssid -----------------------------------------------------------------------

# write_conf FILE GROUP TOPIC LINE...: ssid.conf for the current Redis.
write_conf() {
	local file=$1 group=$2 topic=$3
	shift 3
	{
		printf '%s\n' "kafka.bootstrap.servers = $bootstrap" "kafka.group.id = $group" \
			"input.topic = $topic" "redis.host = 127.0.0.1" "redis.port = $redis_port" \
			"model.file = $bin/model.json" "clock = fixed:$clock" "$@"
		tr ';' '\n' <<<"$extra_config" | sed 's/^[[:space:]]*//' | grep -v '^$' || true
	} >"$file"
}

# The configuration as one line, without what changes from run to run.
conf_line() {
	grep -v '^kafka.bootstrap\|^redis.port\|^kafka.group\|^model.file' "$1" | paste -sd ';' | sed 's/;/; /g'
}

# ssid_start CONF LOG [ARGS]: ssid in the background, its log lines stamped
# with the time they were written (sets ssid_pid, ssid_log, ssid_start_at).
ssid_start() {
	local conf=$1
	ssid_log=$2
	shift 2
	: >"$ssid_log" # there before the stamping subshell opens it
	ssid_start_at=$EPOCHREALTIME
	"$bin/ssid" --config "$conf" "$@" 2> >(stamp_lines >"$ssid_log") &
	ssid_pid=$!
}

ssid_stop() {
	[ -z "$ssid_pid" ] || stop_process "$ssid_pid" 30
	ssid_pid=""
}

ssid_died() {
	ssid_pid=""
	tail -n 20 "$ssid_log" >&2
	die "ssid exited (status $1) before it was done (log: $ssid_log)"
}

# Wait for the background program $1 while making sure ssid is still alive:
# a dead ssid must fail the run, not let it wait for the timeout.
wait_while_ssid_runs() {
	local pid=$1 finished status=0
	background_pids+=("$pid")
	wait -n -p finished "$pid" "$ssid_pid" || status=$?
	[ "${finished:-}" != "$ssid_pid" ] || ssid_died "$status"
	background_pids=()
	[ "$status" -eq 0 ] || die "waiting for ssid failed (status $status)"
}

# Stamp of the first line of ssid's log matching an awk pattern.
log_time() {
	awk "/$1/ { print \$1; exit }" "$ssid_log"
}

# --- one throughput run -----------------------------------------------------------
# throughput_run NAME TOPIC GROUP CONF_LINE...: a fresh redis-server, ssid
# with a fresh group on TOPIC until every event is committed. Figures go to
# fig[NAME.*]; ssid and its Redis are left running (the caller stops them).
throughput_run() {
	local name=$1 topic=$2 group=$3 n ready_at assigned_at done_at first_commit_at
	shift 3
	redis_start
	write_conf "$work/$name.conf" "$group" "$topic" "$@"
	n=$(topic_messages "$topic")
	local scores_before dlq_before
	scores_before=$(topic_messages ssi.scores)
	dlq_before=$(topic_messages ssi.events.dlq)
	redis_snapshot "$work/$name.before.info"

	ssid_start "$work/$name.conf" "$work/$name.ssid.log"
	if [ "$profile" = 1 ] && [ "$name" = on ]; then
		perf record -F 999 --call-graph dwarf,16384 -p "$ssid_pid" -o "$work/perf.data" \
			>"$work/perf.log" 2>&1 &
		perf_pid=$!
	fi
	"$bin/bench_consume" -b "$bootstrap" wait-committed "$group" "$topic" "$timeout" \
		>"$work/$name.run.kv" &
	wait_while_ssid_runs $!
	# Redis first: ssid with ranks keeps reading the others' partitions
	# while idle, which is not the run's cost.
	redis_snapshot "$work/$name.after.info"
	if [ -n "$perf_pid" ]; then
		kill -INT "$perf_pid" 2>/dev/null || true
		wait "$perf_pid" 2>/dev/null || true
		perf_pid=""
	fi
	fig[$name.ssid_cpu]=$(cpu_seconds "$ssid_pid")
	fig[$name.hwm_kb]=$(proc_status_kb "$ssid_pid" VmHWM)
	fig[$name.pid]=$ssid_pid
	done_at=$(kv "$work/$name.run.kv" done_at)
	first_commit_at=$(kv "$work/$name.run.kv" first_commit_at)
	ready_at=$(log_time ' ready: ')
	assigned_at=$(log_time ' assigned [1-9][0-9]* partition')
	[ -n "$ready_at" ] || ready_at=$ssid_start_at
	[ -n "$assigned_at" ] || assigned_at=$ssid_start_at
	fig[$name.events]=$n
	fig[$name.total_s]=$(calc '%.3f' "$done_at - $ssid_start_at")
	fig[$name.join_s]=$(calc '%.3f' "$assigned_at - $ssid_start_at")
	fig[$name.busy_s]=$(calc '%.3f' "$done_at - $assigned_at")
	fig[$name.ready_s]=$(calc '%.2f' "$ready_at - $ssid_start_at")
	fig[$name.first_commit_s]=$(calc '%.2f' "$first_commit_at > 0 ? $first_commit_at - $ssid_start_at : 0")
	fig[$name.rate]=$(calc '%f' "$n / ${fig[$name.total_s]}")
	fig[$name.busy_rate]=$(calc '%f' "$n / ${fig[$name.busy_s]}")
	fig[$name.outputs]=$(($(topic_messages ssi.scores) - scores_before))
	fig[$name.dead]=$(($(topic_messages ssi.events.dlq) - dlq_before))
	redis_costs "$name" "$work/$name.before.info" "$work/$name.after.info" "$n"
	fig[$name.reps]=$(count_reps)
	fig[$name.bytes_per_rep]=$(calc '%.0f' "${fig[$name.mem]} / (${fig[$name.reps]} > 0 ? ${fig[$name.reps]} : 1)")
	fig[$name.conf]=$(conf_line "$work/$name.conf")
	fig[$name.group]=$group
}

# The figures of a throughput run, each with the commands behind it.
print_throughput() {
	local name=$1 title=$2 topic=$3 n=${fig[$1.events]}
	printf '\n%s: %s events in %s s = %s events/s (from process start)\n' "$title" \
		"$(commas "$n")" "$(calc '%.2f' "${fig[$name.total_s]}")" "$(commas "${fig[$name.rate]}")"
	printf '%s: %s events in %s s = %s events/s (from partition assignment, %s s after start)\n' \
		"$title" "$(commas "$n")" "$(calc '%.2f' "${fig[$name.busy_s]}")" \
		"$(commas "${fig[$name.busy_rate]}")" "$(calc '%.2f' "${fig[$name.join_s]}")"
	printf '  after start: ready %s s, partitions assigned %s s, first batch committed %s s\n' \
		"${fig[$name.ready_s]}" "$(calc '%.2f' "${fig[$name.join_s]}")" "${fig[$name.first_commit_s]}"
	printf '  $ redis-server --save "" --appendonly no   # a new one, empty\n'
	printf '  $ %s --config %s.conf   # %s\n' "$build/ssid" "$name" "${fig[$name.conf]}"
	printf '  $ %s -b %s wait-committed %s %s %s   # done when committed = end offsets\n' \
		"$build/bench_consume" "$bootstrap" "${fig[$name.group]}" "$topic" "$timeout"
	printf '  outputs: %s in ssi.scores, %s dead letters in ssi.events.dlq\n' \
		"$(commas "${fig[$name.outputs]}")" "$(commas "${fig[$name.dead]}")"
	printf '  $ %s -b %s ends ssi.scores; ... ends ssi.events.dlq   # before and after\n' \
		"$build/bench_consume" "$bootstrap"
	printf '  ssid CPU %s s (%s%% of one core over the run, %s us/event), peak RSS (VmHWM) %s MiB\n' \
		"${fig[$name.ssid_cpu]}" "$(calc '%.0f' "100 * ${fig[$name.ssid_cpu]} / ${fig[$name.total_s]}")" \
		"$(calc '%.2f' "1e6 * ${fig[$name.ssid_cpu]} / $n")" "$(calc '%.1f' "${fig[$name.hwm_kb]} / 1024")"
	printf '  $ grep VmHWM /proc/%s/status; fields 14-15 of /proc/%s/stat   # at the end of the run\n' \
		"${fig[$name.pid]}" "${fig[$name.pid]}"
	printf '  redis: %s commands = %s per event (%s)\n' "$(commas "${fig[$name.calls]}")" \
		"${fig[$name.cmds]}" "${fig[$name.top]}"
	printf '  redis: %s s CPU = %s s per million events\n' "${fig[$name.cpu]}" "${fig[$name.cpu_per_m]}"
	printf '  redis: used_memory +%s MiB, %s reps (keys u:{...}): %s bytes per rep\n' \
		"$(calc '%.1f' "${fig[$name.mem]} / 1048576")" "$(commas "${fig[$name.reps]}")" \
		"$(commas "${fig[$name.bytes_per_rep]}")"
	printf '  $ redis-cli -p PORT info all   # before and after: sum of cmdstat_*:calls=, used_cpu_user+used_cpu_sys, used_memory\n'
	printf "  \$ redis-cli -p PORT eval \"...SCAN MATCH 'ssi:u:{*' COUNT 10000...\" 0   # reps, after\n"
}

# --- latency at a fixed rate ----------------------------------------------------------
# latency_step RATE SEED: live events at RATE/s into ssi.events while the
# running ssid (group $1 of the latency runs) is caught up; figures in
# fig[lat.RATE.*].
latency_step() {
	local rate=$1 live_seed=$2 group=$3 tag="lat-$1" tracer_pid t0 t1 live_activity
	local dlq_before live_load cpu_before
	bench ends ssi.events >"$work/$tag-in.kv"
	bench ends ssi.scores >"$work/$tag-out.kv"
	dlq_before=$(topic_messages ssi.events.dlq)
	# A day holds about activity x users x 25 events; ask for three times
	# what the run sends so that the day never runs out.
	live_activity=$(calc '%.4f' "3 * $rate * $live_seconds / ($users * 25)")
	local live_cmd=("$build/ssi-loadgen" -b "$bootstrap" --users "$users" --seed "$live_seed"
		--start "$live_start" --end "$clock" --activity "$live_activity" --no-clock-cap
		--rate "$rate" --duration "$live_seconds" -q)
	cpu_before=$(cpu_seconds "$ssid_pid")
	"$bin/bench_consume" -b "$bootstrap" trace-committed "$group" ssi.events "$timeout" \
		"$work/$tag.trace" &
	tracer_pid=$!
	background_pids+=("$tracer_pid")
	read -r live_load _ </proc/loadavg
	t0=$EPOCHREALTIME
	run_loadgen "${live_cmd[@]}"
	t1=$EPOCHREALTIME
	"$bin/bench_consume" -b "$bootstrap" wait-committed "$group" ssi.events "$timeout" \
		>"$work/$tag.kv" &
	local waiter=$!
	background_pids+=("$waiter")
	local finished status=0
	wait -n -p finished "$waiter" "$ssid_pid" || status=$?
	[ "${finished:-}" != "$ssid_pid" ] || ssid_died "$status"
	[ "$status" -eq 0 ] || die "waiting for ssid failed (status $status)"
	kill -TERM "$tracer_pid"
	wait "$tracer_pid" || die "tracing the committed offsets failed"
	background_pids=()
	local ssid_live_cpu
	ssid_live_cpu=$(calc '%.2f' "$(cpu_seconds "$ssid_pid") - $cpu_before")
	local latency_cmd=("$build/bench_latency" -b "$bootstrap" ssi.events "$(kv "$work/$tag-in.kv" ends)"
		ssi.scores "$(kv "$work/$tag-out.kv" ends)" "$work/$tag.trace")
	"${latency_cmd[@]/#$build\//$bin/}" >"$work/$tag.latency.kv"
	lat() { kv "$work/$tag.latency.kv" "$1"; }
	local live_n
	live_n=$(lat inputs)
	fig[lat.$rate.sent_rate]=$(calc '%f' "$live_n / ($t1 - $t0)")
	local row
	for row in lo hi commit; do
		fig[lat.$rate.${row}_p50]=$(lat "${row}_p50")
		fig[lat.$rate.${row}_p99]=$(lat "${row}_p99")
	done
	printf '\nlatency at %s events/s: %s live events at %s events/s (%s s by the input timestamps; %s s of ssid CPU; load average %s)\n' \
		"$(commas "$rate")" "$(commas "$live_n")" "$(commas "${fig[lat.$rate.sent_rate]}")" \
		"$(calc '%.1f' "$(lat input_span_ms) / 1000")" "$ssid_live_cpu" "$live_load"
	printf '  %s outputs, %s matched, bounds equal for %s%%, %s dead letters\n' \
		"$(commas "$(lat outputs)")" "$(commas "$(lat matched)")" \
		"$(calc '%.1f' "100 * $(lat exact) / ($(lat matched) > 0 ? $(lat matched) : 1)")" \
		"$(commas "$(($(topic_messages ssi.events.dlq) - dlq_before))")"
	printf '  latency (event CreateTime -> score.updated %s), ms:\n' "$(lat output_timestamps)"
	printf '    %-30s %7s %7s %7s %7s %7s\n' "" p50 p90 p99 p99.9 max
	for row in "lo:event -> output, lower bound" "hi:event -> output, upper bound" \
		"commit:event -> offset committed"; do
		printf '    %-30s %7s %7s %7s %7s %7s\n' "${row#*:}" "$(lat "${row%%:*}_p50")" \
			"$(lat "${row%%:*}_p90")" "$(lat "${row%%:*}_p99")" "$(lat "${row%%:*}_p999")" \
			"$(lat "${row%%:*}_max")"
	done
	printf '  $ %s\n' "${live_cmd[*]}"
	printf '  $ %s -b %s trace-committed %s ssi.events %s %s.trace &   # during the run\n' \
		"$build/bench_consume" "$bootstrap" "$group" "$timeout" "$tag"
	printf '  $ %s\n' "${latency_cmd[*]/#$work\//}"
	[ "$(lat uncommitted)" = 0 ] ||
		note "bench_daemon: $(lat uncommitted) live events were never seen committed"
	[ "$(lat order_violations)" = 0 ] ||
		note "bench_daemon: $(lat order_violations) inputs had a CreateTime older than their user's previous input"
}

# ==============================================================================

work=$(mktemp -d /tmp/ssid-bench.XXXXXX)
run_started=$SECONDS
# The programs and the model this run measures, copied: a `make` elsewhere
# during the run must not change ssid between the runs compared.
bin=$work/bin
mkdir "$bin"
cp "$build/ssid" "$build/ssi-loadgen" "$build/bench_consume" "$build/bench_latency" \
	config/model.json "$bin/"
cores=$(nproc)
# Other work on the machine skews every figure below, latency most.
read -r load_1m _ </proc/loadavg
printf '\nbench_daemon: %s events over %s users, %d partitions, %s cores, %s (load average %s)\n' \
	"$(commas "$events")" "$(commas "$users")" "$partitions" "$cores" \
	"$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)" "$load_1m"
reproduce="BENCH_EVENTS=$events BENCH_USERS=$users BENCH_SEED=$seed BENCH_RATES='$rates' BENCH_LIVE_SECONDS=$live_seconds BENCH_SCALE=$scale"
[ "$scale" = 0 ] ||
	reproduce+=" BENCH_SCALE_USERS='$scale_users' BENCH_SCALE_EVENTS_PER_USER=$scale_epu"
[ -z "$extra_config" ] || reproduce+=" BENCH_SSID_CONFIG='$extra_config'"
reproduce+=" tests/bench/bench_daemon.sh"
printf '  (reproduce: %s)\n' "$reproduce"

# --- Kafka ----------------------------------------------------------------------
t0=$EPOCHREALTIME
broker_dir=$work/kafka
bootstrap=$(deploy/kafka-broker.sh start "$broker_dir" 2>"$work/setup.log") ||
	die "the Kafka broker did not start: $(tail -n 20 "$work/setup.log")"
create_topic() {
	deploy/kafka-broker.sh create-topic "$broker_dir" "$@" 2>>"$work/setup.log" ||
		die "creating $1 failed: $(tail -n 20 "$work/setup.log")"
}
create_topic ssi.events "$partitions"
create_topic ssi.events.dlq "$partitions"
# Outputs are timed when the broker has them (see step 5).
create_topic ssi.scores "$partitions" --config message.timestamp.type=LogAppendTime
printf 'setup: Kafka %s at %s, in %s s; a new redis-server (%s) for each ssid run\n' \
	"$(sed -n 's|.*<kafka.version>\(.*\)</kafka.version>.*|\1|p' deploy/kafka/pom.xml)" \
	"$bootstrap" "$(calc '%.1f' "$EPOCHREALTIME - $t0")" "$(redis-server --version | awk '{ print $3 }')"
# The first consumer group of a fresh broker creates __consumer_offsets,
# which takes seconds a long-running cluster never spends again: have a
# throwaway group pay for it, so that ssid's start-up is timed as in real
# life.
"$bin/bench_consume" -b "$bootstrap" wait-committed "bench-warmup-$$" ssi.events.dlq 120 \
	>/dev/null 2>&1 || die "the broker's group coordinator did not come up"

# preload TOPIC USERS EVENTS SEED: the stream, written once per topic
# (sets preloaded, preload_cmd).
preload() {
	local topic=$1 n_users=$2 n_events=$3 s=$4 activity t0 t1
	# About 10 events per user at the default sizes: the activity scales
	# with events per user so that the stream keeps spanning the window.
	activity=$(calc '%.6f' "$n_events / $n_users / 2000")
	preload_cmd=("$build/ssi-loadgen" -b "$bootstrap" -t "$topic" --users "$n_users"
		--count "$n_events" --seed "$s" --start "$preload_start" --end "$preload_end"
		--activity "$activity" --no-clock-cap -q)
	t0=$EPOCHREALTIME
	run_loadgen "${preload_cmd[@]}"
	t1=$EPOCHREALTIME
	preloaded=$(topic_messages "$topic")
	printf '\npreload of %s: %s events in %s s = %s events/s\n' "$topic" "$(commas "$preloaded")" \
		"$(calc '%.1f' "$t1 - $t0")" "$(commas "$(calc '%f' "$preloaded / ($t1 - $t0)")")"
	printf '  $ %s\n' "${preload_cmd[*]}"
	[ "$preloaded" -eq "$n_events" ] ||
		note "bench_daemon: the stream reached $preload_end after $preloaded events"
}

# --- 1. preload -------------------------------------------------------------------
preload ssi.events "$users" "$events" "$seed"
events=$preloaded

# --- 2. ceilings: raw consume and bare parse ----------------------------------------
# What any consumer of this topic could do on this machine: librdkafka alone,
# then jansson alone on the same payloads.
bench consume ssi.events >"$work/consume.kv"
raw_n=$(kv "$work/consume.kv" messages)
raw_total_s=$(kv "$work/consume.kv" seconds_from_subscribe)
raw_first_s=$(kv "$work/consume.kv" seconds_from_first)
parse_s=$(kv "$work/consume.kv" parse_seconds)
fig[raw.rate]=$(calc '%f' "$raw_n / $raw_total_s")
fig[raw.first_rate]=$(calc '%f' "$raw_n / $raw_first_s")
fig[parse.rate]=$(calc '%f' "$raw_n / $parse_s")
printf '\nraw consume: %s messages (%s MB) in %s s = %s msgs/s (from subscribe)\n' \
	"$(commas "$raw_n")" "$(calc '%.1f' "$(kv "$work/consume.kv" bytes) / 1e6")" \
	"$(calc '%.2f' "$raw_total_s")" "$(commas "${fig[raw.rate]}")"
printf 'raw consume: %s messages in %s s = %s msgs/s (from first message)\n' \
	"$(commas "$raw_n")" "$(calc '%.2f' "$raw_first_s")" "$(commas "${fig[raw.first_rate]}")"
printf 'bare json_loadb: %s payloads in %s s = %s events/s (one core, %s failed)\n' \
	"$(commas "$raw_n")" "$(calc '%.2f' "$parse_s")" "$(commas "${fig[parse.rate]}")" \
	"$(kv "$work/consume.kv" parse_failed)"
printf '  $ %s -b %s consume ssi.events\n' "$build/bench_consume" "$bootstrap"

# --- 3. throughput: ranks off, then ranks on, same topic ------------------------------
group_off=ssid-bench-$$-off
throughput_run off ssi.events "$group_off" "rank.enabled = no"
print_throughput off "ssid end to end, ranks off" ssi.events
ssid_stop
redis_stop

group_on=ssid-bench-$$-on
throughput_run on ssi.events "$group_on" "rank.enabled = yes"
print_throughput on "ssid end to end, ranks on" ssi.events
fig[ratio]=$(calc '%.2f' "${fig[on.rate]} / ${fig[off.rate]}")
fig[ratio_busy]=$(calc '%.2f' "${fig[on.busy_rate]} / ${fig[off.busy_rate]}")
printf '\nranks on / ranks off: %s (from process start), %s (from partition assignment)\n' \
	"${fig[ratio]}" "${fig[ratio_busy]}"
printf 'ratios: ssid (ranks on)/raw consume %s (from start/subscribe), %s (from assignment/first message); ssid/bare parse %s\n' \
	"$(calc '%.2f' "${fig[on.rate]} / ${fig[raw.rate]}")" \
	"$(calc '%.2f' "${fig[on.busy_rate]} / ${fig[raw.first_rate]}")" \
	"$(calc '%.2f' "${fig[on.busy_rate]} / ${fig[parse.rate]}")"

if [ "$profile" = 1 ]; then
	printf '\nperf profile of ssid during the ranks-on run (self time, >= 1%%):\n'
	perf report -i "$work/perf.data" --no-children --percent-limit 1 --stdio \
		--sort dso,symbol -g none 2>/dev/null | sed -n 's/^ *\([0-9]\)/  \1/p' |
		sed 's/[[:space:]-]*$//' | head -n 40
	printf '  $ perf report -i perf.data --no-children   # BENCH_KEEP=1 keeps it\n'
fi

# --- 4. rebuild: the same stream replayed into an emptied Redis -----------------------
# ssid stops; Redis loses everything (FLUSHALL); ssid starts again with the
# ranks-on group, whose committed offsets are the topic's end: it replays
# every partition from the log start up to there. The replay is planned at
# the assignment and ssid logs "rebuild complete" at the first status tick
# after the last replayed batch is durable, so status.interval_ms is 100
# (its minimum) for this ssid: the end is known within 0.1 s.
ssid_stop
rcli flushall >/dev/null
scores_before=$(topic_messages ssi.scores)
redis_snapshot "$work/rebuild.before.info"
rebuild_conf=("rank.enabled = yes")
grep -q 'status\.interval_ms' <<<"$extra_config" || rebuild_conf+=("status.interval_ms = 100")
write_conf "$work/rebuild.conf" "$group_on" ssi.events "${rebuild_conf[@]}"
ssid_start "$work/rebuild.conf" "$work/rebuild.ssid.log"
deadline=$((SECONDS + timeout))
while ! grep -q ' rebuild complete after ' "$ssid_log"; do
	if ! kill -0 "$ssid_pid" 2>/dev/null; then
		wait "$ssid_pid" && status=0 || status=$?
		ssid_died "$status"
	fi
	[ "$SECONDS" -lt "$deadline" ] || die "no rebuild complete after $timeout s (log: $ssid_log)"
	# A replay is planned at the assignment; without one ssid would log none.
	assigned_at=$(log_time ' assigned [1-9][0-9]* partition')
	if [ -n "$assigned_at" ] && ! grep -q ' rebuild' "$ssid_log" &&
		[ "$(calc '%d' "$EPOCHREALTIME - $assigned_at > 30")" = 1 ]; then
		tail -n 20 "$ssid_log" >&2
		die "ssid did not start a rebuild within 30 s of its assignment (log: $ssid_log)"
	fi
	sleep 0.05
done
redis_snapshot "$work/rebuild.after.info"
assigned_at=$(log_time ' assigned [1-9][0-9]* partition')
complete_at=$(log_time ' rebuild complete after ')
ssid_says=$(sed -n 's/.* rebuild complete after \([0-9.]*\) s.*/\1/p' "$ssid_log" | head -n 1)
# Events replayed: from each partition's log start to the group's committed
# offset, which is the end of the topic (the ranks-on run committed it all).
# ssid's first progress line says the same when no partition is done by then
# (later lines leave the finished partitions out).
rebuild_n=$events
first_progress=$(sed -n "s/.* rebuild: \([0-9]*\) events done, \([0-9]*\) to go over $partitions partitions.*/\1 \2/p" \
	"$ssid_log" | head -n 1 | awk '{ print $1 + $2 }')
[ -z "$first_progress" ] || [ "$first_progress" = "$rebuild_n" ] ||
	note "bench_daemon: ssid's rebuild progress counts $first_progress events to replay, the topic holds $rebuild_n"
fig[rebuild.events]=$rebuild_n
fig[rebuild.s]=$(calc '%.3f' "$complete_at - $assigned_at")
fig[rebuild.rate]=$(calc '%f' "$rebuild_n / ${fig[rebuild.s]}")
fig[rebuild.total_rate]=$(calc '%f' "$rebuild_n / ($complete_at - $ssid_start_at)")
fig[rebuild.outputs]=$(($(topic_messages ssi.scores) - scores_before))
redis_costs rebuild "$work/rebuild.before.info" "$work/rebuild.after.info" "$rebuild_n"
fig[rebuild.reps]=$(count_reps)
printf '\nrebuild (ranks on): %s events replayed in %s s = %s events/s (from partition assignment to "rebuild complete"; %s events/s from process start; ssid says %s s)\n' \
	"$(commas "$rebuild_n")" "$(calc '%.2f' "${fig[rebuild.s]}")" "$(commas "${fig[rebuild.rate]}")" \
	"$(commas "${fig[rebuild.total_rate]}")" "$ssid_says"
printf '  %s outputs in ssi.scores during the replay; redis %s commands/event (%s), %s s CPU per million events; %s reps rebuilt (%s after the ranks-on run)\n' \
	"$(commas "${fig[rebuild.outputs]}")" "${fig[rebuild.cmds]}" "${fig[rebuild.top]}" \
	"${fig[rebuild.cpu_per_m]}" "$(commas "${fig[rebuild.reps]}")" "$(commas "${fig[on.reps]}")"
printf '  $ kill -TERM <ssid>; redis-cli -p PORT flushall\n'
printf '  $ %s --config rebuild.conf   # %s\n' "$build/ssid" "$(conf_line "$work/rebuild.conf")"
printf "  \$ grep -E ' assigned [1-9]| rebuild: | rebuild complete after ' ssid.log   # lines stamped as written\n"
[ "${fig[rebuild.reps]}" = "${fig[on.reps]}" ] ||
	note "bench_daemon: the rebuild left ${fig[rebuild.reps]} reps in Redis, the ranks-on run ${fig[on.reps]}"

# --- 5. latency at fixed rates, ranks on --------------------------------------------------
# The rebuilt ssid, caught up and idle; its replayed rank records are
# written at the next rank refresh (1 s): let that pass first.
sleep 2
live_seed=$seed
for rate in $rates; do
	live_seed=$((live_seed + 1))
	latency_step "$rate" "$live_seed" "$group_on"
done
fig[end_hwm_kb]=$(proc_status_kb "$ssid_pid" VmHWM)
printf '\nssid peak RSS (VmHWM) after the rebuild and the latency runs: %s MiB\n' \
	"$(calc '%.1f' "${fig[end_hwm_kb]} / 1024")"
ssid_stop
redis_stop

# --- 6. scaling: the same events per user, more users ---------------------------------------
# Each size has a topic of its own, preloaded once, consumed as in step 3
# (ranks on, fresh group, fresh Redis). Per-event and per-rep costs should
# not grow with the number of reps.
if [ "$scale" = 1 ]; then
	scale_started=$SECONDS
	printf '\nscaling: %s events per user, ranks on\n' "$scale_epu"
	for n_users in $scale_users; do
		topic=ssi.scale.$n_users
		create_topic "$topic" "$partitions"
		preload "$topic" "$n_users" "$((n_users * scale_epu))" "$seed"
		throughput_run "scale$n_users" "$topic" "ssid-bench-$$-scale-$n_users" "rank.enabled = yes"
		print_throughput "scale$n_users" "ssid, $(commas "$n_users") users" "$topic"
		ssid_stop
		redis_stop
	done
	fig[scale.s]=$((SECONDS - scale_started))
fi

# --- summary ----------------------------------------------------------------------------------
mib() { calc '%.1f' "$1 / 1024"; }
on_off() { printf '%s / %s' "$1" "$2"; }
printf '\n## Summary (one run, %s)\n\n' "$(date -u +%Y-%m-%dT%H:%MZ)"
printf '%s cores, %s; %s.\n' "$cores" "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)" \
	"${reproduce}"
printf 'Every ssid run: a fresh consumer group and a new, empty redis-server; on and off consume the same preloaded topic. The run took %s s%s.\n\n' \
	"$((SECONDS - run_started))" "${fig[scale.s]:+ (the scaling runs ${fig[scale.s]} s)}"
printf '| figure | value | how |\n| --- | --- | --- |\n'
printf '| end to end, ranks on, events/s (%s events / %s users, %d partitions) | %s events/s (%s s from process start; %s events/s from partition assignment) | `ssid --config on.conf` until `bench_consume wait-committed` sees the end offsets committed |\n' \
	"$(commas "$events")" "$(commas "$users")" "$partitions" "$(commas "${fig[on.rate]}")" \
	"$(calc '%.1f' "${fig[on.total_s]}")" "$(commas "${fig[on.busy_rate]}")"
printf '| end to end, ranks off (`rank.enabled = no`), same topic | %s events/s (%s s; %s events/s from assignment) | `ssid --config off.conf`, same wait |\n' \
	"$(commas "${fig[off.rate]}")" "$(calc '%.1f' "${fig[off.total_s]}")" "$(commas "${fig[off.busy_rate]}")"
printf '| ranks on / ranks off, same run | %s (%s from assignment) | ratio of the two rows above |\n' \
	"${fig[ratio]}" "${fig[ratio_busy]}"
printf '| Redis commands per event, ranks on | %s (%s) | `redis-cli info all` before/after: sum of `cmdstat_*:calls=` / events |\n' \
	"${fig[on.cmds]}" "${fig[on.top]}"
printf '| Redis commands per event, ranks off | %s (%s) | same |\n' "${fig[off.cmds]}" "${fig[off.top]}"
printf '| Redis CPU s per million events, ranks on / off | %s | `used_cpu_user + used_cpu_sys` delta / events x 1e6 |\n' \
	"$(on_off "${fig[on.cpu_per_m]}" "${fig[off.cpu_per_m]}")"
printf '| ssid CPU per event, ranks on / off | %s us | `/proc/PID/stat` utime + stime at the end of the run / events |\n' \
	"$(on_off "$(calc '%.2f' "1e6 * ${fig[on.ssid_cpu]} / ${fig[on.events]}")" \
		"$(calc '%.2f' "1e6 * ${fig[off.ssid_cpu]} / ${fig[off.events]}")")"
for rate in $rates; do
	printf '| p99 event -> score.updated at %s events/s, ranks on | %s ms (lower bound %s ms; p50 %s ms; sent at %s events/s) | `ssi-loadgen --rate %s --duration %s`, then `bench_latency` (upper bound) |\n' \
		"$(commas "$rate")" "$(commas "${fig[lat.$rate.hi_p99]}")" "$(commas "${fig[lat.$rate.lo_p99]}")" \
		"$(commas "${fig[lat.$rate.hi_p50]}")" "$(commas "${fig[lat.$rate.sent_rate]}")" "$rate" "$live_seconds"
done
printf '| rebuild (replay) of the same stream, ranks on | %s events/s (%s events in %s s; %s outputs) | stop ssid, `redis-cli flushall`, start ssid, same group: partition assignment -> "rebuild complete" log line |\n' \
	"$(commas "${fig[rebuild.rate]}")" "$(commas "${fig[rebuild.events]}")" \
	"$(calc '%.1f' "${fig[rebuild.s]}")" "$(commas "${fig[rebuild.outputs]}")"
printf '| Redis bytes per rep, ranks on (off) | %s (%s) | `used_memory` after - before / keys `ssi:u:{*` (%s reps) |\n' \
	"$(commas "${fig[on.bytes_per_rep]}")" "$(commas "${fig[off.bytes_per_rep]}")" "$(commas "${fig[on.reps]}")"
printf '| ssid peak RSS, ranks on / off | %s MiB | `VmHWM` of /proc/PID/status at the end of the run |\n' \
	"$(on_off "$(mib "${fig[on.hwm_kb]}")" "$(mib "${fig[off.hwm_kb]}")")"
printf '| raw consume, same topic (librdkafka, no processing) | %s msgs/s (%s from the first message) | `bench_consume consume ssi.events` |\n' \
	"$(commas "${fig[raw.rate]}")" "$(commas "${fig[raw.first_rate]}")"
printf '| bare `json_loadb` of the same payloads, one core | %s events/s | same, second pass |\n' \
	"$(commas "${fig[parse.rate]}")"
if [ "$scale" = 1 ]; then
	printf '\nScaling, ranks on, %s events per user, a topic each (`ssid` until committed, as above):\n\n' "$scale_epu"
	printf '| users | events | reps | events/s (from start) | events/s (from assignment) | Redis commands/event | Redis bytes/rep | Redis CPU s/M events | ssid us/event |\n'
	printf '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n'
	for n_users in $scale_users; do
		s=scale$n_users
		printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$(commas "$n_users")" \
			"$(commas "${fig[$s.events]}")" "$(commas "${fig[$s.reps]}")" "$(commas "${fig[$s.rate]}")" \
			"$(commas "${fig[$s.busy_rate]}")" "${fig[$s.cmds]}" "$(commas "${fig[$s.bytes_per_rep]}")" \
			"${fig[$s.cpu_per_m]}" "$(calc '%.2f' "1e6 * ${fig[$s.ssid_cpu]} / ${fig[$s.events]}")"
	done
	# Flat means the largest size costs what the smallest does.
	set -- $scale_users
	first=scale$1
	last=scale${!#}
	printf '\n%s users vs %s: commands/event x%s, bytes/rep x%s, events/s x%s\n' \
		"$(commas "${!#}")" "$(commas "$1")" \
		"$(calc '%.2f' "${fig[$last.cmds]} / ${fig[$first.cmds]}")" \
		"$(calc '%.2f' "${fig[$last.bytes_per_rep]} / ${fig[$first.bytes_per_rep]}")" \
		"$(calc '%.2f' "${fig[$last.rate]} / ${fig[$first.rate]}")"
fi
