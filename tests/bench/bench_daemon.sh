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
#      from /proc, and so do its minor page faults and kernel CPU, and the
#      broker's CPU over the run (read before and after it): ranks cost
#      the broker too, for their bigger outputs. With BENCH_WARMUP=1 a
#      ranks-on run comes first and is not counted: a new broker's first
#      outputs cost it more (its JIT is cold), and the first counted run
#      would pay for that alone.
#  3b. Redis Cluster (BENCH_CLUSTER=1): the ranks-on run again, same topic,
#      fresh group, against a new 3-master/3-replica Redis Cluster of
#      redis-servers on free loopback ports (no persistence; joined by
#      redis-cli --cluster create --cluster-replicas 1, as the tests'
#      fixture does; ready when every node says cluster_state:ok and its
#      replication is settled) with redis.cluster = yes and redis.nodes = the
#      six nodes. Redis figures are summed over the three masters (the
#      replicas' CPU apart) and set next to the single redis-server's as
#      ratios. With BENCH_CLUSTER_WAIT=1, once more on another new cluster
#      with redis.wait_replicas = 1.
#  3c. Batch size (BENCH_BATCH_SIZES): the ranks-on run of step 3 again
#      with each batch.max_events of the list (fresh group, fresh Redis),
#      set next to the default's (step 3's run): what a batch's size buys
#      working through a backlog (events/s, ssid CPU and Redis commands per
#      event) and what it costs (ssid's peak RSS).
#  3d. Ranks on / off again (BENCH_RATIO_PAIRS pairs): odd pairs on then
#      off, even ones off then on, fresh group and Redis each; the host
#      drifts by more than ranks cost
#      between two runs, so the summary gives every pair's ratio and their
#      median, step 3's pair included.
#   4. Rebuild: ssid (ranks on) is stopped, its Redis is emptied (FLUSHALL)
#      and ssid is started again with the same group: it finds the sentinel
#      epoch gone and replays every partition from the log start up to the
#      committed offsets, i.e. the whole preloaded stream. Timed from the
#      partition assignment (where the replay is planned) to ssid's
#      "rebuild complete" log line.
#   5. Latency at fixed rates (BENCH_RATES), ranks on, with the rebuilt ssid
#      idle and caught up: ssi-loadgen sends live events at RATE events/s
#      for BENCH_LIVE_SECONDS, after one such run at the first rate that
#      warms the new broker up and is reported apart (BENCH_WARMUP=0: none).
#      Latency of an output = its broker append time
#      (ssi.scores is created with LogAppendTime) minus the CreateTime of the
#      newest input of that user it covers, bracketed from below and above
#      as tests/bench/bench_latency.c explains.
#   6. Scaling (BENCH_SCALE=1): for each user count in BENCH_SCALE_USERS, a
#      topic of its own preloaded with BENCH_SCALE_EVENTS_PER_USER events per
#      user, consumed by ssid (ranks on) as in step 3: events/s, Redis
#      commands per event and bytes per rep must stay flat as reps grow.
#   After step 5, the per-unit figures the README's Sizing section is built
#   from, each a ratio of figures of steps 3 to 4: ssid events/s per core,
#   ssid RSS per rep, Redis CPU per event (single and cluster), Redis bytes
#   per rep.
#
# Environment: BENCH_EVENTS (1000000), BENCH_USERS (100000), BENCH_SEED (7),
# BENCH_RATES ("10000 20000"; BENCH_RATE=N for one rate only),
# BENCH_LIVE_SECONDS (20), BENCH_WARMUP (1; 0: no warm-up runs in steps 3 and 5),
# BENCH_SCALE (1; 0 skips step 6),
# BENCH_SCALE_USERS ("10000 100000 1000000"), BENCH_SCALE_EVENTS_PER_USER
# (3), BENCH_TIMEOUT (600 s per wait), BENCH_BUILD (build), BENCH_PERF=1 to
# profile ssid with `perf record` during the ranks-on run (it slows ssid a
# little), BENCH_KEEP=1 to keep the work directory (logs, configuration,
# perf data), BENCH_SSID_CONFIG for extra ssid.conf lines separated by ';'
# (e.g. 'cache.max_mb = 512'), given to every ssid run, BENCH_CLUSTER
# (1; 0 skips step 3b), BENCH_CLUSTER_WAIT (1; 0 skips its
# redis.wait_replicas = 1 run), BENCH_BATCH_SIZES ("10000 100000"; empty
# skips step 3c), BENCH_RATIO_PAIRS (4; 0 skips step 3d), BENCH_FIGURES=FILE
# to also write every figure of the run to FILE as name=value lines, sorted
# (tests/bench/ab.sh reads them).
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
warmup=${BENCH_WARMUP:-1}
scale=${BENCH_SCALE:-1}
scale_users=${BENCH_SCALE_USERS:-10000 100000 1000000}
scale_epu=${BENCH_SCALE_EVENTS_PER_USER:-3}
timeout=${BENCH_TIMEOUT:-600}
profile=${BENCH_PERF:-0}
keep=${BENCH_KEEP:-0}
extra_config=${BENCH_SSID_CONFIG:-}
cluster=${BENCH_CLUSTER:-1}
cluster_wait=${BENCH_CLUSTER_WAIT:-1}
batch_sizes=${BENCH_BATCH_SIZES-10000 100000}
ratio_pairs=${BENCH_RATIO_PAIRS-4}

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

for var in events users seed live_seconds timeout scale_epu ratio_pairs; do
	case "${!var}" in '' | *[!0-9]*) die "BENCH_${var^^} must be a whole number" ;; esac
done
for var in events users live_seconds timeout scale_epu; do
	[ "${!var}" -gt 0 ] || die "BENCH_${var^^} must be positive"
done
for n in $rates $scale_users $batch_sizes; do
	case "$n" in '' | *[!0-9]* | 0) die "BENCH_RATES, BENCH_SCALE_USERS and BENCH_BATCH_SIZES are lists of positive whole numbers" ;; esac
done
[ -n "${rates// /}" ] || die "BENCH_RATES is empty"
case "$scale" in 0 | 1) ;; *) die "BENCH_SCALE must be 0 or 1" ;; esac
case "$cluster" in 0 | 1) ;; *) die "BENCH_CLUSTER must be 0 or 1" ;; esac
case "$cluster_wait" in 0 | 1) ;; *) die "BENCH_CLUSTER_WAIT must be 0 or 1" ;; esac
case "$warmup" in 0 | 1) ;; *) die "BENCH_WARMUP must be 0 or 1" ;; esac
# The script sets these itself; ssid refuses a key set twice.
if grep -Eq '(^|;)[[:space:]]*(rank\.enabled|input\.topic|kafka\.group\.id|redis\.(port|cluster|nodes|wait_replicas)|clock)[[:space:]]*=' \
	<<<"$extra_config"; then
	die "BENCH_SSID_CONFIG may not set rank.enabled, input.topic, kafka.group.id, redis.port, redis.cluster, redis.nodes, redis.wait_replicas or clock"
fi
if [ -n "${batch_sizes// /}" ] && grep -Eq '(^|;)[[:space:]]*batch\.max_events[[:space:]]*=' <<<"$extra_config"; then
	die "BENCH_SSID_CONFIG may not set batch.max_events while BENCH_BATCH_SIZES is not empty"
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
redis_masters=()
redis_replicas=()
redis_how=""
# ssid's Redis in throughput_run: one redis-server (single) or a cluster.
redis_mode=single
cluster_pids=()
cluster_ports=()
cluster_seeds=""
cluster_runs=0
picked_port=""
perf_pid=""
kept_redis_pid="" # steps 3c-3d: the ranks-on run's redis-server, kept for the rebuild
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
	if [ -n "$kept_redis_pid" ]; then
		stop_process "$kept_redis_pid" 10
	fi
	for pid in "${cluster_pids[@]}"; do
		stop_process "$pid" 10
	done
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

# proc_stat PID AWK-PROGRAM: the program run over /proc/PID/stat after the
# command's name (which may hold spaces), so field N is $(N - 2); t is
# clock ticks per second.
proc_stat() {
	local stat
	stat=$(cat "/proc/$1/stat") || return 1
	awk -v t="$(getconf CLK_TCK)" "$2" <<<"${stat##*) }"
}

# CPU seconds: fields 14 and 15 (utime, stime).
cpu_seconds() { proc_stat "$1" '{ printf "%.2f", ($12 + $13) / t }'; }

# Minor page faults (field 10) and kernel CPU seconds (field 15).
faults_and_sys() { proc_stat "$1" '{ printf "%d %.2f", $8, $13 / t }'; }

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
# A run's Redis is either one redis-server (redis_start) or a 3-master/
# 3-replica Redis Cluster (cluster_start). Either way redis_port is where
# ssid's redis.port points (the server, or a master), redis_masters lists the
# nodes that serve ssid's commands (their INFO is the run's Redis cost) and
# redis_replicas the cluster's replicas (their CPU is reported apart).

rcli() {
	redis-cli -h 127.0.0.1 -p "$redis_port" "$@"
}

rcli_at() {
	local port=$1
	shift
	redis-cli -h 127.0.0.1 -p "$port" "$@"
}

# A free loopback port below the kernel's ephemeral range (32768+ here), so
# that no outgoing connection holds it; sets picked_port (not printed: a
# $(...) subshell would not keep RANDOM's state).
pick_port() {
	local _
	for _ in $(seq 50); do
		picked_port=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
		port_in_use "$picked_port" || return 0
	done
	die "no free loopback port found"
}

# Wait until the redis-server $2 on port $1 answers PING: 0, or 1 if it
# exited or did not answer within 5 s.
redis_wait_ping() {
	local port=$1 pid=$2 _
	for _ in $(seq 100); do
		rcli_at "$port" ping 2>/dev/null | grep -q PONG && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# A new, empty redis-server on a free port (sets redis_port and redis_pid).
redis_start() {
	local _
	for _ in 1 2 3 4 5; do
		pick_port
		redis_port=$picked_port
		redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no \
			--dir "$work" --logfile "$work/redis-$redis_port.log" --daemonize no &
		redis_pid=$!
		if redis_wait_ping "$redis_port" "$redis_pid"; then
			redis_masters=("$redis_port")
			redis_replicas=()
			redis_how='redis-server --save "" --appendonly no   # a new one, empty'
			return 0
		fi
		stop_process "$redis_pid" 5
		redis_pid=""
	done
	die "redis-server did not start (logs: $work/redis-*.log)"
}

redis_stop() {
	[ -z "$redis_pid" ] || stop_process "$redis_pid" 10
	redis_pid=""
}

# Node $1 of the cluster is ready: cluster_state:ok with every slot served as
# it sees it, and its replication settled (a replica's link up and its first
# sync over; a master with its replica connected, which WAIT 1 needs).
cluster_node_ready() {
	local info repl
	info=$(rcli_at "$1" cluster info 2>/dev/null | tr -d '\r') || return 1
	repl=$(rcli_at "$1" info replication 2>/dev/null | tr -d '\r') || return 1
	grep -qx 'cluster_state:ok' <<<"$info" || return 1
	grep -qx 'cluster_slots_ok:16384' <<<"$info" || return 1
	grep -qx "cluster_known_nodes:$cluster_size" <<<"$info" || return 1
	if grep -qx 'role:slave' <<<"$repl"; then
		grep -qx 'master_link_status:up' <<<"$repl" &&
			grep -qx 'master_sync_in_progress:0' <<<"$repl"
	else
		grep -qx 'connected_slaves:1' <<<"$repl"
	fi
}

# A new, empty Redis Cluster, as the test fixture builds it
# (tests/common/fixture_cluster.c): six redis-servers with cluster mode on
# and no persistence, each with a free port and a free bus port, joined by
# redis-cli --cluster create with one replica per master; ready when every
# node is (cluster_node_ready). Sets cluster_pids, cluster_ports,
# cluster_seeds, redis_masters, redis_replicas and redis_port (the first
# master).
cluster_size=6
cluster_start() {
	local dir i port bus pid started addrs=() deadline _
	cluster_pids=()
	cluster_ports=()
	for i in $(seq 0 $((cluster_size - 1))); do
		dir=$work/cluster-$cluster_runs/node$i
		mkdir -p "$dir"
		started=0
		for _ in 1 2 3 4 5; do
			pick_port
			port=$picked_port
			pick_port
			bus=$picked_port
			[ "$bus" != "$port" ] || continue
			redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
				--dir "$dir" --logfile "$dir/redis.log" --daemonize no \
				--cluster-enabled yes --cluster-config-file "$dir/nodes.conf" \
				--cluster-port "$bus" --cluster-node-timeout 5000 \
				--repl-diskless-sync-delay 0 &
			pid=$!
			cluster_pids+=("$pid") # from now on cleanup stops it
			if redis_wait_ping "$port" "$pid"; then
				started=1
				break
			fi
			stop_process "$pid" 5
			unset 'cluster_pids[-1]'
		done
		[ "$started" = 1 ] || die "a cluster node did not start (log: $dir/redis.log)"
		cluster_ports+=("$port")
		addrs+=("127.0.0.1:$port")
	done
	cluster_create_cmd=(redis-cli --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes)
	"${cluster_create_cmd[@]}" >"$work/cluster-$cluster_runs/create.log" 2>&1 ||
		die "redis-cli --cluster create failed: $(tail -n 20 "$work/cluster-$cluster_runs/create.log")"
	deadline=$((SECONDS + 60))
	for port in "${cluster_ports[@]}"; do
		until cluster_node_ready "$port"; do
			[ "$SECONDS" -lt "$deadline" ] ||
				die "the cluster node on $port is not ready after 60 s (logs: $work/cluster-$cluster_runs)"
			sleep 0.1
		done
	done
	redis_masters=()
	redis_replicas=()
	for port in "${cluster_ports[@]}"; do
		if rcli_at "$port" info replication | tr -d '\r' | grep -qx 'role:master'; then
			redis_masters+=("$port")
		else
			redis_replicas+=("$port")
		fi
	done
	[ "${#redis_masters[@]}" = 3 ] || die "the cluster has ${#redis_masters[@]} masters, not 3"
	cluster_seeds=$(printf '%s\n' "${addrs[@]}" | paste -sd ,)
	redis_port=${redis_masters[0]}
	redis_how="redis-server --cluster-enabled yes --save \"\" --appendonly no   # x$cluster_size, new, empty; then redis-cli --cluster create <6 nodes> --cluster-replicas 1 --cluster-yes"
	cluster_runs=$((cluster_runs + 1))
}

cluster_stop() {
	local pid
	for pid in "${cluster_pids[@]}"; do
		stop_process "$pid" 10
	done
	cluster_pids=()
	cluster_ports=()
}

# One INFO ALL per node (a single command, so it costs the delta one "info"
# call per master): commandstats, cpu and memory at once, \r stripped, into
# $work/TAG.PORT.info for every master and replica of the current Redis.
redis_snapshot() {
	local port
	for port in "${redis_masters[@]}" "${redis_replicas[@]}"; do
		rcli_at "$port" info all | tr -d '\r' >"$work/$1.$port.info"
	done
}

# A field of a snapshot: info_field FILE used_memory.
info_field() {
	sed -n "s/^$2://p" "$1" | head -n 1
}

# CPU seconds of a node between two snapshots.
cpu_delta() {
	calc '%.2f' "$(info_field "$2" used_cpu_user) + $(info_field "$2" used_cpu_sys) - $(info_field "$1" used_cpu_user) - $(info_field "$1" used_cpu_sys)"
}

# "command calls" for every command whose calls grew between two snapshots.
command_deltas() {
	awk -F'[:,=]' '
		FNR == NR { if ($1 ~ /^cmdstat_/) before[$1] = $3; next }
		$1 ~ /^cmdstat_/ {
			d = $3 - before[$1]
			if (d > 0) print substr($1, 9), d
		}' "$1" "$2"
}

# Reps in Redis: keys u:{...} (other keys are per partition or per board),
# summed over the masters. Counted inside Redis (SCAN in a script), after the
# figures were read.
count_reps() {
	local port n total=0
	for port in "${redis_masters[@]}"; do
		n=$(rcli_at "$port" eval "local n, cur = 0, '0'
			repeat
				local r = redis.call('SCAN', cur, 'MATCH', ARGV[1], 'COUNT', 10000)
				cur = r[1]; n = n + #r[2]
			until cur == '0'
			return n" 0 'ssi:u:{*' | tr -d '\r')
		total=$((total + n))
	done
	echo "$total"
}

# Where Redis's bytes go: MEMORY USAGE of every key, summed by kind (a key
# with its {hash tag} and numbers blanked, e.g. ssi:u:{} or ssi:ro:N) over
# the masters, per rep (REPS), largest first: "kind bytes, ...". Inside
# Redis (SCAN in a script), after the figures were read.
bytes_by_kind() {
	local reps=$1 port
	for port in "${redis_masters[@]}"; do
		rcli_at "$port" eval "local t, cur, out = {}, '0', {}
			repeat
				local r = redis.call('SCAN', cur, 'COUNT', 10000)
				cur = r[1]
				for _, k in ipairs(r[2]) do
					local kind = string.gsub(string.gsub(k, '%b{}', '{}'), '%d+', 'N')
					t[kind] = (t[kind] or 0) + redis.call('MEMORY', 'USAGE', k, 'SAMPLES', '0')
				end
			until cur == '0'
			for k, v in pairs(t) do out[#out + 1] = k .. ' ' .. v end
			return out" 0 | tr -d '\r'
	done | awk -v reps="$reps" '{ b[$1] += $2 }
		END { for (k in b) if (reps > 0 && b[k] / reps >= 0.5) printf "%d %s\n", b[k] / reps + 0.5, k }' |
		sort -rn | awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $1 }'
}

# Redis costs between the snapshots BEFORE and AFTER (tags) over N events,
# summed over the masters, stored as figures PREFIX.cmds (per event), .top
# (the busiest commands per event), .cpu_per_m (CPU seconds per million
# events), .cpu (seconds), .mem (used_memory growth), .cpu_max_share (the
# busiest master's share of the CPU), and for a cluster .replica_cpu and
# .replica_cpu_per_m (the replicas' CPU: applying the masters' writes).
redis_costs() {
	local prefix=$1 before=$2 after=$3 n=$4 port total top cpu=0 mem=0 c max=0 rcpu=0
	: >"$work/$prefix.commands.each"
	for port in "${redis_masters[@]}"; do
		command_deltas "$work/$before.$port.info" "$work/$after.$port.info" \
			>>"$work/$prefix.commands.each"
		c=$(cpu_delta "$work/$before.$port.info" "$work/$after.$port.info")
		cpu=$(calc '%.2f' "$cpu + $c")
		max=$(calc '%.2f' "$c > $max ? $c : $max")
		mem=$((mem + $(info_field "$work/$after.$port.info" used_memory) - \
			$(info_field "$work/$before.$port.info" used_memory)))
	done
	for port in "${redis_replicas[@]}"; do
		rcpu=$(calc '%.2f' "$rcpu + $(cpu_delta "$work/$before.$port.info" "$work/$after.$port.info")")
	done
	# Each command's calls over every master, most calls first.
	awk '{ s[$1] += $2 } END { for (c in s) print c, s[c] }' "$work/$prefix.commands.each" |
		sort -k2,2nr -k1,1 >"$work/$prefix.commands"
	total=$(awk '{ s += $2 } END { print s + 0 }' "$work/$prefix.commands")
	top=$(awk -v n="$n" 'NR <= 8 && $2 / n >= 0.005 { printf "%s%s %.2f", (NR > 1 ? ", " : ""), $1, $2 / n }' \
		"$work/$prefix.commands")
	fig[$prefix.cmds]=$(calc '%.2f' "$total / $n")
	fig[$prefix.calls]=$total
	fig[$prefix.top]=${top:-none}
	fig[$prefix.cpu]=$cpu
	fig[$prefix.cpu_per_m]=$(calc '%.2f' "$cpu / $n * 1e6")
	fig[$prefix.cpu_max_share]=$(calc '%.2f' "$cpu > 0 ? $max / $cpu : 0")
	fig[$prefix.mem]=$mem
	fig[$prefix.masters]=${#redis_masters[@]}
	fig[$prefix.replica_cpu]=$rcpu
	fig[$prefix.replica_cpu_per_m]=$(calc '%.2f' "$rcpu / $n * 1e6")
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
	grep -v '^kafka.bootstrap\|^redis.port\|^redis.nodes\|^kafka.group\|^model.file' "$1" |
		paste -sd ';' | sed 's/;/; /g'
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
# throughput_run NAME TOPIC GROUP CONF_LINE...: a fresh Redis (a new
# redis-server, or with redis_mode=cluster a new 3x3 cluster), ssid with a
# fresh group on TOPIC until every event is committed. Figures go to
# fig[NAME.*]; ssid and its Redis are left running (the caller stops them).
throughput_run() {
	local name=$1 topic=$2 group=$3 n ready_at assigned_at done_at first_commit_at
	local redis_conf=()
	shift 3
	if [ "$redis_mode" = cluster ]; then
		cluster_start
		redis_conf=("redis.cluster = yes" "redis.nodes = $cluster_seeds")
	else
		redis_start
	fi
	fig[$name.redis_how]=$redis_how
	write_conf "$work/$name.conf" "$group" "$topic" "${redis_conf[@]}" "$@"
	n=$(topic_messages "$topic")
	local scores_before dlq_before
	scores_before=$(topic_messages ssi.scores)
	dlq_before=$(topic_messages ssi.events.dlq)
	redis_snapshot "$name.before"
	local broker_before
	broker_before=$(cpu_seconds "$broker_pid")

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
	redis_snapshot "$name.after"
	if [ -n "$perf_pid" ]; then
		kill -INT "$perf_pid" 2>/dev/null || true
		wait "$perf_pid" 2>/dev/null || true
		perf_pid=""
	fi
	fig[$name.ssid_cpu]=$(cpu_seconds "$ssid_pid")
	read -r "fig[$name.minflt]" "fig[$name.ssid_sys]" <<<"$(faults_and_sys "$ssid_pid")"
	fig[$name.broker_cpu]=$(calc '%.2f' "$(cpu_seconds "$broker_pid") - $broker_before")
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
	redis_costs "$name" "$name.before" "$name.after" "$n"
	fig[$name.reps]=$(count_reps)
	fig[$name.kinds]=$(bytes_by_kind "${fig[$name.reps]}")
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
	printf '  $ %s\n' "${fig[$name.redis_how]}"
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
	printf '  ssid: %s minor page faults (%s per event), %s s of its CPU in the kernel; the broker: %s s CPU = %s s per million events\n' \
		"$(commas "${fig[$name.minflt]}")" "$(calc '%.3f' "${fig[$name.minflt]} / $n")" \
		"${fig[$name.ssid_sys]}" "${fig[$name.broker_cpu]}" \
		"$(calc '%.2f' "1e6 * ${fig[$name.broker_cpu]} / $n")"
	printf '  $ fields 10 and 15 of /proc/%s/stat; fields 14-15 of /proc/%s/stat before and after   # the broker\n' \
		"${fig[$name.pid]}" "$broker_pid"
	local over=""
	[ "${fig[$name.masters]}" = 1 ] || over=", summed over the ${fig[$name.masters]} masters"
	printf '  redis: %s commands = %s per event (%s)%s\n' "$(commas "${fig[$name.calls]}")" \
		"${fig[$name.cmds]}" "${fig[$name.top]}" "$over"
	printf '  redis: %s s CPU = %s s per million events%s\n' "${fig[$name.cpu]}" \
		"${fig[$name.cpu_per_m]}" "$over"
	if [ "${fig[$name.masters]}" != 1 ]; then
		printf '  redis: the busiest master had %s%% of the masters'"'"' CPU; the replicas %s s CPU = %s s per million events\n' \
			"$(calc '%.0f' "100 * ${fig[$name.cpu_max_share]}")" "${fig[$name.replica_cpu]}" \
			"${fig[$name.replica_cpu_per_m]}"
	fi
	printf '  redis: used_memory +%s MiB, %s reps (keys u:{...}): %s bytes per rep%s\n' \
		"$(calc '%.1f' "${fig[$name.mem]} / 1048576")" "$(commas "${fig[$name.reps]}")" \
		"$(commas "${fig[$name.bytes_per_rep]}")" "$over"
	printf '  $ redis-cli -p PORT info all   # each master, before and after: sum of cmdstat_*:calls=, used_cpu_user+used_cpu_sys, used_memory\n'
	printf "  \$ redis-cli -p PORT eval \"...SCAN MATCH 'ssi:u:{*' COUNT 10000...\" 0   # reps, after, each master\n"
	printf '  redis: bytes per rep by key kind (MEMORY USAGE; the rest of used_memory is allocator and key-table overhead): %s\n' \
		"${fig[$name.kinds]}"
	printf "  \$ redis-cli -p PORT eval \"...SCAN...MEMORY USAGE key SAMPLES 0...\" 0   # after, each master\n"
}

# --- latency at a fixed rate ----------------------------------------------------------
# latency_step RATE SEED GROUP [KIND]: live events at RATE/s into ssi.events
# while the running ssid (of GROUP) is caught up; figures in
# fig[KIND.RATE.*], KIND lat (the figures) or warm (the broker's warm-up).
latency_step() {
	local rate=$1 live_seed=$2 group=$3 kind=${4:-lat} tracer_pid t0 t1 live_activity
	local tag="$kind-$1"
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
	fig[$kind.$rate.n]=$live_n
	fig[$kind.$rate.ssid_cpu]=$ssid_live_cpu
	fig[$kind.$rate.sent_rate]=$(calc '%f' "$live_n / ($t1 - $t0)")
	local row
	for row in lo hi commit; do
		fig[$kind.$rate.${row}_p50]=$(lat "${row}_p50")
		fig[$kind.$rate.${row}_p99]=$(lat "${row}_p99")
	done
	[ "$kind" = lat ] || printf '\nwarm-up of the broker'"'"'s live path, not a figure:'
	printf '\nlatency at %s events/s: %s live events at %s events/s (%s s by the input timestamps; %s s of ssid CPU; load average %s)\n' \
		"$(commas "$rate")" "$(commas "$live_n")" "$(commas "${fig[$kind.$rate.sent_rate]}")" \
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
reproduce="BENCH_EVENTS=$events BENCH_USERS=$users BENCH_SEED=$seed BENCH_RATES='$rates' BENCH_LIVE_SECONDS=$live_seconds BENCH_WARMUP=$warmup BENCH_CLUSTER=$cluster BENCH_CLUSTER_WAIT=$cluster_wait BENCH_SCALE=$scale BENCH_BATCH_SIZES='$batch_sizes' BENCH_RATIO_PAIRS=$ratio_pairs"
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
# The broker's java process, whose CPU each throughput run reads.
read -r broker_pid <"$broker_dir/broker.pid" && [ -r "/proc/$broker_pid/stat" ] ||
	die "no broker pid in $broker_dir/broker.pid"
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
if [ "$warmup" = 1 ]; then
	throughput_run warm ssi.events "ssid-bench-$$-warm" "rank.enabled = yes"
	printf '\nwarm-up run (ranks on, not counted: the broker'"'"'s first outputs): %s events/s\n' \
		"$(commas "${fig[warm.rate]}")"
	ssid_stop
	redis_stop
fi
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

# --- 3b. Redis Cluster: ranks on against three masters ------------------------------
# The ranks-on run again on the same topic with a fresh group, but against a
# new 3-master/3-replica Redis Cluster (redis.cluster = yes, redis.nodes = the
# six nodes): what spreading ssid's commands over three masters costs, next to
# the single redis-server of the run above. With BENCH_CLUSTER_WAIT=1, once
# more with redis.wait_replicas = 1 (a WAIT on every master a batch wrote)
# on another new cluster. The ranks-on ssid stops first (two cores); its
# redis-server stays, idle, for the rebuild.
if [ "$cluster" = 1 ]; then
	ssid_stop
	single_port=$redis_port
	redis_mode=cluster
	cluster_names=(cl)
	throughput_run cl ssi.events "ssid-bench-$$-cluster" "rank.enabled = yes"
	print_throughput cl "ssid end to end, ranks on, Redis Cluster" ssi.events
	printf '  $ %s\n' "${cluster_create_cmd[*]}"
	ssid_stop
	cluster_stop
	if [ "$cluster_wait" = 1 ]; then
		cluster_names+=(clw)
		throughput_run clw ssi.events "ssid-bench-$$-cluster-wait" "rank.enabled = yes" \
			"redis.wait_replicas = 1"
		print_throughput clw "ssid end to end, ranks on, Redis Cluster, redis.wait_replicas = 1" ssi.events
		ssid_stop
		cluster_stop
	fi
	redis_mode=single
	redis_port=$single_port
	redis_masters=("$redis_port")
	redis_replicas=()
	printf '\nRedis Cluster (3 masters) / single redis-server, ranks on, same topic, same run:\n'
	for c in "${cluster_names[@]}"; do
		fig[$c.ratio]=$(calc '%.2f' "${fig[$c.rate]} / ${fig[on.rate]}")
		fig[$c.ratio_busy]=$(calc '%.2f' "${fig[$c.busy_rate]} / ${fig[on.busy_rate]}")
		printf '  %-40s events/s x%s (x%s from assignment), Redis commands/event x%s, Redis CPU/event x%s, bytes/rep x%s, ssid CPU/event x%s\n' \
			"$([ "$c" = cl ] && echo 'cluster:' || echo 'cluster, redis.wait_replicas = 1:')" \
			"${fig[$c.ratio]}" "${fig[$c.ratio_busy]}" \
			"$(calc '%.2f' "${fig[$c.cmds]} / ${fig[on.cmds]}")" \
			"$(calc '%.2f' "${fig[$c.cpu_per_m]} / ${fig[on.cpu_per_m]}")" \
			"$(calc '%.2f' "${fig[$c.bytes_per_rep]} / ${fig[on.bytes_per_rep]}")" \
			"$(calc '%.2f' "${fig[$c.ssid_cpu]} / ${fig[on.ssid_cpu]}")"
	done
fi

# --- 3c. batch size: the ranks-on run with other batch.max_events --------------------------
# Step 3's ranks-on run is the default's row; each size of the list runs the
# same topic (before the latency runs add to it) with a fresh group and a
# fresh Redis. A batch loads, scores, ranks, publishes and writes a rep once
# however many of its events it holds, so a backlog's cost per event falls
# as batches grow, and ssid's memory grows with them. The ranks-on run's
# redis-server stays, idle, for the rebuild.
if [ -n "${batch_sizes// /}" ] || [ "$ratio_pairs" -gt 0 ]; then
	ssid_stop
	kept_redis_pid=$redis_pid
	kept_redis_port=$redis_port
	redis_pid=""
fi
if [ -n "${batch_sizes// /}" ]; then
	batch_default=$("$bin/ssid" --list-keys | awk -F'\t' '$1 == "batch.max_events" { print $2 }')
	[ -n "$batch_default" ] || die "ssid --list-keys names no batch.max_events"
	printf '\nbatch size: ranks on, same topic (the default, %s, is the ranks-on run above)\n' \
		"$(commas "$batch_default")"
	for size in $batch_sizes; do
		throughput_run "batch$size" ssi.events "ssid-bench-$$-batch-$size" "rank.enabled = yes" \
			"batch.max_events = $size"
		print_throughput "batch$size" "ssid end to end, ranks on, batch.max_events = $size" ssi.events
		ssid_stop
		redis_stop
	done
fi

# --- 3d. ranks on / off again, alternated ---------------------------------------------
# The host's speed drifts by more than ranks cost between two runs a few
# seconds apart, so one pair's ratio says little: BENCH_RATIO_PAIRS more
# pairs on the same topic, each run with a fresh group and a fresh Redis;
# their median (step 3's pair included) is the ratio the summary gives,
# with every pair's. The order alternates, odd pairs on then off and even
# ones off then on (step 3 ran off then on): a run that follows another
# tends to be faster (the broker warms up), and alternating cancels it.
fig[ratios]=${fig[ratio]}
for ((pair = 1; pair <= ratio_pairs; pair++)); do
	[ "$pair" -gt 1 ] || printf '\nranks on / off again: %s more pairs, same topic, odd ones on then off, even ones off then on\n' \
		"$ratio_pairs"
	sides="on off"
	[ $((pair % 2)) -eq 1 ] || sides="off on"
	for side in $sides; do
		[ "$side" = on ] && enabled=yes || enabled=no
		throughput_run "pair$pair$side" ssi.events "ssid-bench-$$-pair$pair-$side" \
			"rank.enabled = $enabled"
		printf '  pair %d, ranks %s: %s events/s (from process start), %s us of ssid CPU per event (%s in the kernel, %s page faults), %s us of the broker'"'"'s\n' \
			"$pair" "$side" "$(commas "${fig[pair$pair$side.rate]}")" \
			"$(calc '%.2f' "1e6 * ${fig[pair$pair$side.ssid_cpu]} / ${fig[pair$pair$side.events]}")" \
			"$(calc '%.2f' "1e6 * ${fig[pair$pair$side.ssid_sys]} / ${fig[pair$pair$side.events]}")" \
			"$(calc '%.3f' "${fig[pair$pair$side.minflt]} / ${fig[pair$pair$side.events]}")" \
			"$(calc '%.2f' "1e6 * ${fig[pair$pair$side.broker_cpu]} / ${fig[pair$pair$side.events]}")"
		ssid_stop
		redis_stop
	done
	fig[pair$pair.ratio]=$(calc '%.2f' "${fig[pair${pair}on.rate]} / ${fig[pair${pair}off.rate]}")
	fig[ratios]="${fig[ratios]} ${fig[pair$pair.ratio]}"
	printf '  pair %d: ranks on / off %s\n' "$pair" "${fig[pair$pair.ratio]}"
done
fig[ratio_median]=$(tr ' ' '\n' <<<"${fig[ratios]}" | sort -n |
	awk '{ v[NR] = $1 } END { printf "%.2f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
[ "$ratio_pairs" -eq 0 ] ||
	printf '  ranks on / off over the %s pairs: %s; median %s\n' "$((ratio_pairs + 1))" \
		"$(sed 's/ /, /g' <<<"${fig[ratios]}")" "${fig[ratio_median]}"
if [ -n "$kept_redis_pid" ]; then
	redis_pid=$kept_redis_pid
	redis_port=$kept_redis_port
	kept_redis_pid=""
	redis_masters=("$redis_port")
	redis_replicas=()
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
redis_snapshot rebuild.before
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
redis_snapshot rebuild.after
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
redis_costs rebuild rebuild.before rebuild.after "$rebuild_n"
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
# A new broker's first live traffic is slow (most likely its JVM compiling
# the paths of small produce and fetch requests): on this machine the p99 at
# 10,000 events/s went 333, 199, 90 ms over three runs in a row on a new
# broker. One run at the first rate, reported apart, warms it up.
if [ "$warmup" = 1 ]; then
	live_seed=$((live_seed + 1))
	latency_step "${rates%% *}" "$live_seed" "$group_on" warm
fi
for rate in $rates; do
	live_seed=$((live_seed + 1))
	latency_step "$rate" "$live_seed" "$group_on"
done
fig[end_hwm_kb]=$(proc_status_kb "$ssid_pid" VmHWM)
printf '\nssid peak RSS (VmHWM) after the rebuild and the latency runs: %s MiB\n' \
	"$(calc '%.1f' "${fig[end_hwm_kb]} / 1024")"
ssid_stop
redis_stop

# --- per-unit figures, for sizing (README, Sizing) ------------------------------------
# What one unit of each resource did in this run, ranks on: ssid events per
# CPU second (events/s per fully busy core: events/s / ssid's CPU
# utilisation), Redis CPU per event (summed over the masters for the
# cluster) and what one fully busy Redis core would take at that cost,
# Redis bytes and ssid peak RSS per rep, and the rebuild rate of one ssid.
# Nothing below is measured again: each is a ratio of figures above.
nz() { calc '%f' "$1 > 0 ? $1 : 1e-9"; }
fig[u.ssid_util]=$(calc '%.2f' "${fig[on.ssid_cpu]} / ${fig[on.total_s]}")
fig[u.ssid_core]=$(calc '%f' "${fig[on.events]} / $(nz "${fig[on.ssid_cpu]}")")
fig[u.redis_core]=$(calc '%f' "1e6 / $(nz "${fig[on.cpu_per_m]}")")
fig[u.redis_cmds_core]=$(calc '%f' "${fig[on.calls]} / $(nz "${fig[on.cpu]}")")
fig[u.rss_per_rep]=$(calc '%f' "${fig[on.hwm_kb]} * 1024 / $(nz "${fig[on.reps]}")")
fig[u.rss_ranks_per_rep]=$(calc '%f' "(${fig[on.hwm_kb]} - ${fig[off.hwm_kb]}) * 1024 / $(nz "${fig[on.reps]}")")
printf '\nper-unit figures (ranks on; ratios of the figures above, nothing measured again):\n'
printf '  ssid: %s events/s per core (%s events / %s s of ssid CPU; ssid used %s cores over the run at %s events/s)\n' \
	"$(commas "${fig[u.ssid_core]}")" "$(commas "${fig[on.events]}")" "${fig[on.ssid_cpu]}" \
	"${fig[u.ssid_util]}" "$(commas "${fig[on.rate]}")"
for rate in $rates; do
	fig[u.live.$rate]=$(calc '%f' "${fig[lat.$rate.n]} / $(nz "${fig[lat.$rate.ssid_cpu]}")")
	printf '  ssid: %s events/s per core live at %s events/s (%s live events / %s s of ssid CPU, small batches)\n' \
		"$(commas "${fig[u.live.$rate]}")" "$(commas "$rate")" "$(commas "${fig[lat.$rate.n]}")" \
		"${fig[lat.$rate.ssid_cpu]}"
done
printf '  ssid: rebuild %s events/s per instance; peak RSS %s bytes per owned rep (VmHWM %s MiB / %s reps; ranks alone %s: on - off)\n' \
	"$(commas "${fig[rebuild.rate]}")" "$(commas "${fig[u.rss_per_rep]}")" \
	"$(calc '%.1f' "${fig[on.hwm_kb]} / 1024")" "$(commas "${fig[on.reps]}")" \
	"$(commas "${fig[u.rss_ranks_per_rep]}")"
printf '  redis-server: %s us CPU per event = %s events/s per busy core (%s commands per CPU second); %s bytes per rep\n' \
	"${fig[on.cpu_per_m]}" "$(commas "${fig[u.redis_core]}")" "$(commas "${fig[u.redis_cmds_core]}")" \
	"$(commas "${fig[on.bytes_per_rep]}")"
if [ "$cluster" = 1 ]; then
	for c in "${cluster_names[@]}"; do
		fig[u.$c.ssid_core]=$(calc '%f' "${fig[$c.events]} / $(nz "${fig[$c.ssid_cpu]}")")
		fig[u.$c.master_core]=$(calc '%f' "1e6 / $(nz "${fig[$c.cpu_per_m]}")")
		fig[u.$c.cmds_core]=$(calc '%f' "${fig[$c.calls]} / $(nz "${fig[$c.cpu]}")")
		fig[u.$c.rss_per_rep]=$(calc '%f' "${fig[$c.hwm_kb]} * 1024 / $(nz "${fig[$c.reps]}")")
		printf '  %s: %s us master CPU per event (3 masters summed) = %s events/s per busy master core (%s commands per CPU second); replicas %s us per event; %s bytes per rep; ssid %s events/s per core\n' \
			"$([ "$c" = cl ] && echo 'cluster' || echo 'cluster, wait_replicas = 1')" \
			"${fig[$c.cpu_per_m]}" "$(commas "${fig[u.$c.master_core]}")" \
			"$(commas "${fig[u.$c.cmds_core]}")" "${fig[$c.replica_cpu_per_m]}" \
			"$(commas "${fig[$c.bytes_per_rep]}")" "$(commas "${fig[u.$c.ssid_core]}")"
	done
fi

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
printf 'Every ssid run: a fresh consumer group and a new, empty redis-server (or Redis Cluster); on, off and the cluster runs consume the same preloaded topic. The run took %s s%s.\n\n' \
	"$((SECONDS - run_started))" "${fig[scale.s]:+ (the scaling runs ${fig[scale.s]} s)}"
printf '| figure | value | how |\n| --- | --- | --- |\n'
printf '| end to end, ranks on, events/s (%s events / %s users, %d partitions) | %s events/s (%s s from process start; %s events/s from partition assignment) | `ssid --config on.conf` until `bench_consume wait-committed` sees the end offsets committed |\n' \
	"$(commas "$events")" "$(commas "$users")" "$partitions" "$(commas "${fig[on.rate]}")" \
	"$(calc '%.1f' "${fig[on.total_s]}")" "$(commas "${fig[on.busy_rate]}")"
printf '| end to end, ranks off (`rank.enabled = no`), same topic | %s events/s (%s s; %s events/s from assignment) | `ssid --config off.conf`, same wait |\n' \
	"$(commas "${fig[off.rate]}")" "$(calc '%.1f' "${fig[off.total_s]}")" "$(commas "${fig[off.busy_rate]}")"
printf '| ranks on / ranks off, same run | %s (%s from assignment) | ratio of the two rows above |\n' \
	"${fig[ratio]}" "${fig[ratio_busy]}"
[ "$ratio_pairs" -eq 0 ] ||
	printf '| ranks on / ranks off, median of %s alternated pairs (this one included) | %s (pairs: %s) | step 3d: more pairs on the same topic, odd ones on then off, even ones off then on, fresh group and Redis each |\n' \
		"$((ratio_pairs + 1))" "${fig[ratio_median]}" "$(sed 's/ /, /g' <<<"${fig[ratios]}")"
printf '| Redis commands per event, ranks on | %s (%s) | `redis-cli info all` before/after: sum of `cmdstat_*:calls=` / events |\n' \
	"${fig[on.cmds]}" "${fig[on.top]}"
printf '| Redis commands per event, ranks off | %s (%s) | same |\n' "${fig[off.cmds]}" "${fig[off.top]}"
printf '| Redis CPU s per million events, ranks on / off | %s | `used_cpu_user + used_cpu_sys` delta / events x 1e6 |\n' \
	"$(on_off "${fig[on.cpu_per_m]}" "${fig[off.cpu_per_m]}")"
printf '| ssid CPU per event, ranks on / off | %s us | `/proc/PID/stat` utime + stime at the end of the run / events |\n' \
	"$(on_off "$(calc '%.2f' "1e6 * ${fig[on.ssid_cpu]} / ${fig[on.events]}")" \
		"$(calc '%.2f' "1e6 * ${fig[off.ssid_cpu]} / ${fig[off.events]}")")"
printf '| ssid kernel CPU per event and minor page faults per event, ranks on / off | %s us, %s | fields 15 and 10 of `/proc/PID/stat` at the end of the run / events |\n' \
	"$(on_off "$(calc '%.2f' "1e6 * ${fig[on.ssid_sys]} / ${fig[on.events]}")" \
		"$(calc '%.2f' "1e6 * ${fig[off.ssid_sys]} / ${fig[off.events]}")")" \
	"$(on_off "$(calc '%.3f' "${fig[on.minflt]} / ${fig[on.events]}")" \
		"$(calc '%.3f' "${fig[off.minflt]} / ${fig[off.events]}")")"
printf '| Kafka broker CPU s per million events, ranks on / off | %s | the broker'"'"'s `/proc/PID/stat` utime + stime, before and after the run / events x 1e6 |\n' \
	"$(on_off "$(calc '%.2f' "1e6 * ${fig[on.broker_cpu]} / ${fig[on.events]}")" \
		"$(calc '%.2f' "1e6 * ${fig[off.broker_cpu]} / ${fig[off.events]}")")"
for rate in $rates; do
	printf '| p99 event -> score.updated at %s events/s, ranks on | %s ms (lower bound %s ms; p50 %s ms; sent at %s events/s) | `ssi-loadgen --rate %s --duration %s`, then `bench_latency` (upper bound) |\n' \
		"$(commas "$rate")" "$(commas "${fig[lat.$rate.hi_p99]}")" "$(commas "${fig[lat.$rate.lo_p99]}")" \
		"$(commas "${fig[lat.$rate.hi_p50]}")" "$(commas "${fig[lat.$rate.sent_rate]}")" "$rate" "$live_seconds"
done
if [ "$warmup" = 1 ]; then
	rate=${rates%% *}
	printf '| p99 at %s events/s in the warm-up run before them (the new broker'"'"'s first live traffic) | %s ms (p50 %s ms) | the same, run first and not counted |\n' \
		"$(commas "$rate")" "$(commas "${fig[warm.$rate.hi_p99]}")" "$(commas "${fig[warm.$rate.hi_p50]}")"
fi
printf '| rebuild (replay) of the same stream, ranks on | %s events/s (%s events in %s s; %s outputs) | stop ssid, `redis-cli flushall`, start ssid, same group: partition assignment -> "rebuild complete" log line |\n' \
	"$(commas "${fig[rebuild.rate]}")" "$(commas "${fig[rebuild.events]}")" \
	"$(calc '%.1f' "${fig[rebuild.s]}")" "$(commas "${fig[rebuild.outputs]}")"
printf '| Redis bytes per rep, ranks on (off) | %s (%s) | `used_memory` after - before / keys `ssi:u:{*` (%s reps) |\n' \
	"$(commas "${fig[on.bytes_per_rep]}")" "$(commas "${fig[off.bytes_per_rep]}")" "$(commas "${fig[on.reps]}")"
printf '| Redis bytes per rep by key kind, ranks on | %s | `MEMORY USAGE key SAMPLES 0` of every key after the run, summed by kind / reps |\n' \
	"${fig[on.kinds]}"
printf '| ssid peak RSS, ranks on / off | %s MiB | `VmHWM` of /proc/PID/status at the end of the run |\n' \
	"$(on_off "$(mib "${fig[on.hwm_kb]}")" "$(mib "${fig[off.hwm_kb]}")")"
printf '| raw consume, same topic (librdkafka, no processing) | %s msgs/s (%s from the first message) | `bench_consume consume ssi.events` |\n' \
	"$(commas "${fig[raw.rate]}")" "$(commas "${fig[raw.first_rate]}")"
printf '| bare `json_loadb` of the same payloads, one core | %s events/s | same, second pass |\n' \
	"$(commas "${fig[parse.rate]}")"
if [ "$cluster" = 1 ]; then
	printf '\nRedis Cluster against the single redis-server, ranks on, same topic, same run (fresh group and new, empty Redis each; cluster figures summed over its 3 masters):\n\n'
	printf '| ranks on | events/s | x single | Redis commands/event | Redis CPU s/M events (masters) | replicas CPU s/M events | Redis bytes/rep | ssid us/event | ssid peak RSS |\n'
	printf '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n'
	for c in on "${cluster_names[@]}"; do
		case "$c" in
		on) label='single redis-server' ;;
		cl) label='cluster, 3 masters + 3 replicas' ;;
		clw) label='cluster, `redis.wait_replicas = 1`' ;;
		esac
		printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s MiB |\n' "$label" \
			"$(commas "${fig[$c.rate]}")" "$(calc '%.2f' "${fig[$c.rate]} / ${fig[on.rate]}")" \
			"${fig[$c.cmds]}" "${fig[$c.cpu_per_m]}" \
			"$([ "$c" = on ] && echo '-' || echo "${fig[$c.replica_cpu_per_m]}")" \
			"$(commas "${fig[$c.bytes_per_rep]}")" \
			"$(calc '%.2f' "1e6 * ${fig[$c.ssid_cpu]} / ${fig[$c.events]}")" "$(mib "${fig[$c.hwm_kb]}")"
	done
	printf '\nHow: `redis-cli --cluster create <6 nodes> --cluster-replicas 1 --cluster-yes`, ssid with `redis.cluster = yes`, `redis.nodes = <the 6 nodes>`; `redis-cli info all` of each master before/after.\n'
fi
printf '\nPer-unit figures for sizing (ratios of the figures above, ranks on):\n\n'
printf '| per unit | value | from |\n| --- | --- | --- |\n'
printf '| ssid events/s per core | %s | events / ssid CPU seconds (ssid used %s cores at %s events/s) |\n' \
	"$(commas "${fig[u.ssid_core]}")" "${fig[u.ssid_util]}" "$(commas "${fig[on.rate]}")"
for rate in $rates; do
	printf '| ssid events/s per core, live at %s events/s | %s | live events / ssid CPU seconds during the latency run |\n' \
		"$(commas "$rate")" "$(commas "${fig[u.live.$rate]}")"
done
printf '| ssid rebuild events/s per instance | %s | the rebuild row |\n' "$(commas "${fig[rebuild.rate]}")"
printf '| ssid peak RSS per owned rep | %s bytes (ranks alone %s) | VmHWM / reps (on - off) |\n' \
	"$(commas "${fig[u.rss_per_rep]}")" "$(commas "${fig[u.rss_ranks_per_rep]}")"
printf '| Redis CPU per event, single redis-server | %s us = %s events/s per busy core (%s commands/s) | Redis CPU / events |\n' \
	"${fig[on.cpu_per_m]}" "$(commas "${fig[u.redis_core]}")" "$(commas "${fig[u.redis_cmds_core]}")"
if [ "$cluster" = 1 ]; then
	for c in "${cluster_names[@]}"; do
		printf '| Redis CPU per event, cluster%s | %s us over the masters = %s events/s per busy master core (%s commands/s); replicas %s us | masters'"'"' CPU / events |\n' \
			"$([ "$c" = cl ] && echo '' || echo ', `wait_replicas = 1`')" "${fig[$c.cpu_per_m]}" \
			"$(commas "${fig[u.$c.master_core]}")" "$(commas "${fig[u.$c.cmds_core]}")" \
			"${fig[$c.replica_cpu_per_m]}"
	done
	printf '| Redis bytes per rep, single / cluster | %s / %s | used_memory growth / reps |\n' \
		"$(commas "${fig[on.bytes_per_rep]}")" "$(commas "${fig[cl.bytes_per_rep]}")"
else
	printf '| Redis bytes per rep | %s | used_memory growth / reps |\n' "$(commas "${fig[on.bytes_per_rep]}")"
fi
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
if [ -n "${batch_sizes// /}" ]; then
	printf '\nBatch size, ranks on, same topic (fresh group and new, empty Redis each; the default row is the ranks-on run above):\n\n'
	printf '| batch.max_events | events/s | x default | ssid us/event | Redis commands/event | ssid peak RSS |\n'
	printf '| ---: | ---: | ---: | ---: | ---: | ---: |\n'
	while read -r size b; do
		label=$(commas "$size")
		[ "$b" != on ] || label="$label (default)"
		printf '| %s | %s | %s | %s | %s | %s MiB |\n' "$label" "$(commas "${fig[$b.rate]}")" \
			"$(calc '%.2f' "${fig[$b.rate]} / ${fig[on.rate]}")" \
			"$(calc '%.2f' "1e6 * ${fig[$b.ssid_cpu]} / ${fig[$b.events]}")" "${fig[$b.cmds]}" \
			"$(mib "${fig[$b.hwm_kb]}")"
	done < <({
		printf '%s on\n' "$batch_default"
		for size in $batch_sizes; do
			[ "$size" = "$batch_default" ] || printf '%s batch%s\n' "$size" "$size"
		done
	} | sort -n)
fi
if [ -n "${BENCH_FIGURES:-}" ]; then
	for name in "${!fig[@]}"; do
		printf '%s=%s\n' "$name" "${fig[$name]//$'\n'/ }"
	done | LC_ALL=C sort >"$BENCH_FIGURES"
fi
