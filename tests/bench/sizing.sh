#!/usr/bin/env bash
# The README's sizing table, computed from the per-unit figures that
# tests/bench/bench_daemon.sh prints (its "Per-unit figures for sizing") and
# a few stated assumptions. Nothing here is measured: it is arithmetic, so
# that the table can be recomputed when the figures change.
#
#   tests/bench/sizing.sh ssid_core=N rebuild=N rss=N master_us=N cmds=N bytes=N [ASSUMPTION=N...]
#
# Measured inputs (from one benchmark run):
#   ssid_core   ssid events/s per busy core, ranks on, working through the
#               preloaded backlog (the lower of the single-server and
#               cluster runs)
#   rebuild     rebuild (replay) events/s of one ssid instance
#   rss         ssid peak RSS per owned rep, bytes (VmHWM / reps)
#   master_us   Redis master CPU per event, microseconds (cluster, summed
#               over the masters)
#   cmds        Redis commands per event (cluster)
#   bytes       Redis used_memory per rep, bytes (cluster, summed over the
#               masters), for the benchmark's sparse reps
# Assumptions (defaults):
#   headroom=0.5        ssid cores and Redis masters at most this busy at peak
#   peak=10             peak events/s over the mean
#   window_days=90      the model window a rebuild replays
#   master_cmds=500000  a Redis core's practical ceiling, commands/s
#   spread=2.14         Redis work per event when nearly every event of a
#                       batch is of a different rep (many reps per instance):
#                       1.26 commands per event at 1,000,000 reps in the
#                       scaling run against 0.59 in the benchmark (8 December
#                       04:41Z; 1.24 / 0.58 on 7 December 17:43Z; 2.12 =
#                       1.23 / 0.58 at 15:27Z; 1.65 = 1.32 / 0.80 on 6
#                       December)
#   master_gb=25        used_memory per master at most (fork, resync, failover)
#   dense_extra=6802    bytes a rep active every day adds to the measured
#                       figure: the state's 90-day worst case (3,218,
#                       build/bench_engine) and a full 400-day history (3,584)
#   instance_gb=8       ssid RSS per instance at most (two per 2-core machine)
#   min_partitions=8    partitions = 4 x instances rounded up to a power of 2,
#                       at least this
# Reps and events per rep per day: reps="100000 1000000 10000000 50000000",
# per_day="20 200".
set -euo pipefail

declare -A v=([headroom]=0.5 [peak]=10 [window_days]=90 [master_cmds]=500000 [master_gb]=25
	[dense_extra]=6802 [instance_gb]=8 [min_partitions]=8 [spread]=2.14
	[reps]="100000 1000000 10000000 50000000" [per_day]="20 200")
for arg in "$@"; do
	case "$arg" in
	*=*) v[${arg%%=*}]=${arg#*=} ;;
	*)
		sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2
		exit 64
		;;
	esac
done
for key in ssid_core rebuild rss master_us cmds bytes; do
	[ -n "${v[$key]:-}" ] || {
		echo "sizing: $key=N is needed (see the header)" >&2
		exit 64
	}
done

printf '| reps | events/rep/day | mean / peak events/s | partitions | ssid instances | Redis masters | Redis memory (masters) | 90-day window | full rebuild |\n'
printf '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n'
for reps in ${v[reps]}; do
	for per_day in ${v[per_day]}; do
		awk -v reps="$reps" -v d="$per_day" -v core="${v[ssid_core]}" -v rebuild="${v[rebuild]}" \
			-v rss="${v[rss]}" -v us="${v[master_us]}" -v cmds="${v[cmds]}" -v bytes="${v[bytes]}" \
			-v h="${v[headroom]}" -v pk="${v[peak]}" -v win="${v[window_days]}" \
			-v mcmds="${v[master_cmds]}" -v mgb="${v[master_gb]}" -v extra="${v[dense_extra]}" \
			-v igb="${v[instance_gb]}" -v minp="${v[min_partitions]}" -v spread="${v[spread]}" '
			function ceil(x) { return x == int(x) ? x : int(x) + 1 }
			function max(a, b) { return a > b ? a : b }
			function min(a, b) { return a < b ? a : b }
			function num(x) {
				if (x >= 1e9) return sprintf("%.3gB", x / 1e9)
				if (x >= 1e6) return sprintf("%.3gM", x / 1e6)
				if (x >= 1e3) return sprintf("%.3gk", x / 1e3)
				return sprintf("%.0f", x)
			}
			function human(s) {
				if (s < 120) return sprintf("%.0f s", s)
				if (s < 7200) return sprintf("%.0f min", s / 60)
				if (s < 172800) return sprintf("%.1f h", s / 3600)
				return sprintf("%.1f days", s / 86400)
			}
			function bytesize(b) {
				if (b >= 1e12) return sprintf("%.1f TB", b / 1e12)
				if (b >= 1e9) return sprintf("%.0f GB", b / 1e9)
				return sprintf("%.1f GB", b / 1e9)
			}
			BEGIN {
				mean = reps * d / 86400; peak = pk * mean
				# ssid: cores by CPU at the headroom, and by memory.
				by_cpu = ceil(peak / (h * core)); by_mem = ceil(reps * rss / (igb * 2^30))
				inst = max(1, max(by_cpu, by_mem))
				parts = minp; while (parts < 4 * inst) parts *= 2
				# Redis: what one master core takes, by its CPU per event
				# and by the commands ceiling, whichever is lower.
				cap = min(1e6 / (us * spread), mcmds / (cmds * spread))
				mem = reps * (bytes + extra)
				m_cpu = ceil(peak / (h * cap)); m_mem = ceil(mem / (mgb * 1e9))
				m = max(m_cpu, m_mem)
				masters = m > 1 ? max(3, m) : 1
				# Which bound decided, when it was not the minimum.
				inst_s = inst (by_mem > by_cpu && inst > 1 ? " (memory)" : "")
				m_s = masters == 1 ? "1 (no cluster)" : masters (m_mem > m_cpu && m > 3 ? " (memory)" : m > 3 ? " (CPU)" : "")
				# A rebuild replays the window as fast as the instances
				# go, or as the masters go at full speed.
				events = reps * d * win
				t = events / min(inst * rebuild, masters * cap)
				tp = events / min(parts * rebuild, masters * cap)
				printf "| %s | %d | %s / %s | %d | %s | %s | %s | %s events | %s (%s with %d ssid) |\n",
					num(reps), d, num(mean), num(peak), parts, inst_s,
					m_s, bytesize(mem), num(events),
					human(t), human(tp), parts
			}'
	done
done
