#!/usr/bin/env bash
# A/B of two builds with the daemon benchmark, alternated in the same
# minutes: the host's speed drifts by more than most changes cost between
# two runs a few minutes apart, so only runs interleaved in time compare.
#
#   tests/bench/ab.sh BASE [PAIRS]
#
# BASE is a git revision of this repository. It is cloned and built in a
# directory of its own (AB_WORK, default a new one under $TMPDIR, removed at
# the end unless AB_KEEP=1); the other build is this tree's build/ (make it
# first: make all build/bench_consume build/bench_latency). Each of PAIRS
# (default 2) pairs runs tests/bench/bench_daemon.sh once with BASE's
# programs and once with this tree's, base first, so the runs go base, this,
# base, this... Every run is bench_daemon.sh's own (a new broker, a new
# redis-server per ssid run, nothing shared), by default its quick form:
# BENCH_SCALE=0 BENCH_CLUSTER=0 BENCH_BATCH_SIZES= BENCH_WARMUP=0
# BENCH_RATIO_PAIRS=0; any of these set in the environment wins, and the
# other BENCH_* knobs pass through. It ends with a Markdown table: each
# figure of each run, then each build's median and this build's median over
# BASE's. Logs: AB_WORK/run-N-{base,this}.log.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"

die() {
	printf 'ab: %s\n' "$*" >&2
	exit 1
}

[ $# -ge 1 ] && [ $# -le 2 ] || die "usage: tests/bench/ab.sh BASE [PAIRS]"
base_rev=$1
pairs=${2:-2}
case "$pairs" in '' | *[!0-9]* | 0) die "PAIRS must be a positive whole number" ;; esac
base_sha=$(git rev-parse --verify --quiet "$base_rev^{commit}") || die "$base_rev is not a commit"
this_build=$repo/build
for prog in ssid ssi-loadgen bench_consume bench_latency; do
	[ -x "$this_build/$prog" ] ||
		die "build/$prog is missing: make all build/bench_consume build/bench_latency"
done

work=${AB_WORK:-}
made_work=0
if [ -z "$work" ]; then
	work=$(mktemp -d "${TMPDIR:-/tmp}/ssid-ab.XXXXXX")
	made_work=1
fi
cleanup() {
	if [ "$made_work" = 1 ] && [ "${AB_KEEP:-0}" != 1 ]; then
		rm -rf "$work"
	else
		printf 'ab: work directory kept: %s\n' "$work" >&2
	fi
}
trap cleanup EXIT

printf 'ab: building %s (%s) in %s/base\n' "$base_rev" "${base_sha:0:12}" "$work" >&2
rm -rf "$work/base"
git clone -q --no-checkout "$repo" "$work/base"
git -C "$work/base" checkout -q "$base_sha"
make -C "$work/base" -j"$(nproc)" all build/bench_consume build/bench_latency >"$work/base-build.log" 2>&1 ||
	die "building $base_rev failed (see $work/base-build.log)"

export BENCH_SCALE=${BENCH_SCALE-0} BENCH_CLUSTER=${BENCH_CLUSTER-0}
export BENCH_BATCH_SIZES=${BENCH_BATCH_SIZES-} BENCH_WARMUP=${BENCH_WARMUP-0}
export BENCH_RATIO_PAIRS=${BENCH_RATIO_PAIRS-0}

# One run of bench_daemon.sh with the programs of build $2; figures to $work/run-$1-$3.kv.
run() {
	local n=$1 build=$2 who=$3

	printf 'ab: run %s, %s, from %s\n' "$n" "$who" "$(date -u +%H:%M:%SZ)" >&2
	BENCH_BUILD=$build BENCH_FIGURES="$work/run-$n-$who.kv" tests/bench/bench_daemon.sh \
		>"$work/run-$n-$who.log" 2>&1 || die "run $n ($who) failed: see $work/run-$n-$who.log"
}

for ((i = 1; i <= pairs; i++)); do
	run "$i" "$work/base/build" base
	run "$i" "$this_build" this
done

# The figures compared: label, then an awk expression over the run's figures f[].
figures=(
	'ranks on, events/s|f["on.rate"]'
	'ranks off, events/s|f["off.rate"]'
	'ranks on / off|f["ratio"]'
	'Redis commands per event, ranks on|f["on.cmds"]'
	'Redis CPU s per million events, ranks on|f["on.cpu_per_m"]'
	'Redis CPU s per million events, ranks off|f["off.cpu_per_m"]'
	'ssid CPU us per event, ranks on|1e6 * f["on.ssid_cpu"] / f["on.events"]'
	'ssid CPU us per event, ranks off|1e6 * f["off.ssid_cpu"] / f["off.events"]'
	'rebuild, events/s|f["rebuild.rate"]'
	'Redis bytes per rep, ranks on|f["on.bytes_per_rep"]'
	'ssid peak RSS MiB, ranks on|f["on.hwm_kb"] / 1024'
)
for rate in ${BENCH_RATE:-${BENCH_RATES:-10000 20000}}; do
	figures+=("p99 ms at $rate events/s|f[\"lat.$rate.hi_p99\"]")
done

# Figure $2 (an awk expression over the run's figures f["name"]) of the
# figures file $1; "-" when it names a figure that run lacks.
value() {
	local need

	need=$(grep -o 'f\["[^"]*"\]' <<<"$2" | sed 's/^f\["//; s/"\]$//' | tr '\n' ' ')
	awk -F= -v need="$need" "
		{ f[\$1] = substr(\$0, length(\$1) + 2) }
		END {
			n = split(need, names, \" \")
			for (i = 1; i <= n; i++)
				if (!(names[i] in f) || f[names[i]] == \"\") { print \"-\"; exit }
			v = $2
			printf (v == int(v) || v >= 1000 ? \"%.0f\\n\" : \"%.2f\\n\"), v
		}" "$1"
}

median() {
	[ $# -gt 0 ] || {
		echo -
		return
	}
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf (m == int(m) || m >= 1000 ? "%.0f" : "%.2f"), m }'
}

printf '\n## A/B: %s (base) against this tree (%s), %s pair%s, alternated\n\n' \
	"$base_rev" "$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src include || echo ', modified')" \
	"$pairs" "$([ "$pairs" = 1 ] || echo s)"
header='| figure |'
rule='| --- |'
for ((i = 1; i <= pairs; i++)); do
	header+=" base $i | this $i |"
	rule+=' ---: | ---: |'
done
printf '%s median base | median this | this / base |\n' "$header"
printf '%s ---: | ---: | ---: |\n' "$rule"
for entry in "${figures[@]}"; do
	label=${entry%%|*}
	expr=${entry#*|}
	row="| $label |"
	b=()
	t=()
	for ((i = 1; i <= pairs; i++)); do
		vb=$(value "$work/run-$i-base.kv" "$expr")
		vt=$(value "$work/run-$i-this.kv" "$expr")
		row+=" $vb | $vt |"
		[ "$vb" = - ] || b+=("$vb")
		[ "$vt" = - ] || t+=("$vt")
	done
	mb=$(median "${b[@]}")
	mt=$(median "${t[@]}")
	if [ "$mb" != - ] && [ "$mt" != - ] && awk -v b="$mb" 'BEGIN { exit !(b != 0) }'; then
		ratio=$(awk -v b="$mb" -v t="$mt" 'BEGIN { printf "%.2f", t / b }')
	else
		ratio=-
	fi
	printf '%s %s | %s | %s |\n' "$row" "$mb" "$mt" "$ratio"
done
printf '\nHow: tests/bench/ab.sh %s %s (each run: BENCH_BUILD=<build> tests/bench/bench_daemon.sh with BENCH_SCALE=%s BENCH_CLUSTER=%s BENCH_BATCH_SIZES=%s BENCH_WARMUP=%s BENCH_RATIO_PAIRS=%s)\n' \
	"$base_rev" "$pairs" "$BENCH_SCALE" "$BENCH_CLUSTER" "'$BENCH_BATCH_SIZES'" "$BENCH_WARMUP" "$BENCH_RATIO_PAIRS"
