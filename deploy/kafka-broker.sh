#!/usr/bin/env bash
# A real single-node Apache Kafka broker (KRaft, broker+controller in one JVM)
# for ssid's integration and fault tests, without Docker. The librdkafka mock
# cluster covers most tests; this broker is for what the mock does not do
# (transactions, read_committed, static membership) and for kill/restart faults.
#
#   deploy/kafka-broker.sh fetch
#       Download the broker jars once with Maven (deploy/kafka/pom.xml) into
#       deploy/.cache/kafka-VERSION/libs; later runs need no network.
#   deploy/kafka-broker.sh start DIR
#       Start a broker whose config, data and log live in DIR; print its
#       bootstrap address (127.0.0.1:PORT) on stdout and into DIR/bootstrap
#       once it answers metadata. A DIR that was started before keeps its
#       ports and data (no reformat). Ports: $KAFKA_PORT and
#       $KAFKA_CONTROLLER_PORT, else free loopback ports.
#   deploy/kafka-broker.sh stop DIR
#       SIGTERM and wait for a clean exit (SIGKILL after $KAFKA_STOP_TIMEOUT s).
#   deploy/kafka-broker.sh kill DIR
#       SIGKILL, as a crash; `restart DIR` brings it back on the same data.
#   deploy/kafka-broker.sh restart DIR
#       Stop if running, then start again on the same ports and data.
#   deploy/kafka-broker.sh create-topic DIR NAME PARTITIONS [TopicCommand args]
#       Create a topic with replication factor 1 and wait until every
#       partition has a leader. Succeeds if it already exists with the same
#       partition count. Extra args go to TopicCommand (e.g. --config k=v).
#
# Environment: KAFKA_PORT, KAFKA_CONTROLLER_PORT, KAFKA_START_TIMEOUT (90 s),
# KAFKA_STOP_TIMEOUT (30 s), KAFKA_HEAP_OPTS (-Xmx512m -Xms256m),
# KAFKA_CACHE_DIR (deploy/.cache), JAVA_HOME.
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
kafka_conf_dir=$script_dir/kafka
cache_dir=${KAFKA_CACHE_DIR:-$script_dir/.cache}
start_timeout=${KAFKA_START_TIMEOUT:-90}
stop_timeout=${KAFKA_STOP_TIMEOUT:-30}
heap_opts=${KAFKA_HEAP_OPTS:--Xmx512m -Xms256m}
java_bin=${JAVA_HOME:+$JAVA_HOME/bin/}java

kafka_version=$(sed -n 's|.*<kafka.version>\(.*\)</kafka.version>.*|\1|p' "$kafka_conf_dir/pom.xml")
libs_dir=$cache_dir/kafka-$kafka_version/libs

# Ports are picked below the kernel's ephemeral range (32768+ here), so an
# outgoing connection can never be holding the port the broker wants.
port_pick_base=20000
port_pick_span=12000

# Set while `start` has a broker that is not yet known to be ready, so an
# early exit (timeout, ^C, error) does not leave a half-started JVM behind.
starting_pid=""

note() { printf 'kafka-broker: %s\n' "$*" >&2; }
die() {
	note "$*"
	exit 1
}

usage() {
	sed -n '2,/^[^#]/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
	exit "${1:-64}"
}

on_exit() {
	if [ -n "$starting_pid" ]; then
		kill -KILL "$starting_pid" 2>/dev/null || true
	fi
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Test machines are rebuilt from scratch, so a missing tool is installed
# rather than reported when we can; without root we say exactly what to do.
apt_install() {
	if [ "$(id -u)" -ne 0 ]; then
		die "$1 is missing; install it with: apt-get install $2"
	fi
	note "installing $2"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	apt-get install -y -qq --no-install-recommends "$2" >&2
}

need_java() {
	if [ -n "${JAVA_HOME:-}" ]; then
		[ -x "$java_bin" ] || die "JAVA_HOME is $JAVA_HOME but $java_bin does not exist"
	elif ! command -v java >/dev/null; then
		apt_install java openjdk-17-jre-headless
	fi
	local major
	major=$("$java_bin" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1)
	if [ -z "$major" ] || [ "$major" -lt 17 ]; then
		die "Kafka $kafka_version needs Java 17 or newer; $java_bin is version ${major:-unknown}"
	fi
}

need_kcat() {
	if ! command -v kcat >/dev/null; then
		apt_install kcat kcat
	fi
}

need_mvn() {
	if ! command -v mvn >/dev/null; then
		apt_install mvn maven
	fi
}

# Several test runs may fetch at once on a fresh machine; a lock and an
# atomic rename make sure nobody runs a half-copied classpath.
cmd_fetch() {
	if [ -f "$libs_dir/.complete" ]; then
		return 0
	fi
	need_java
	need_mvn
	mkdir -p "$cache_dir"
	local lock_fd
	exec {lock_fd}>"$cache_dir/fetch.lock"
	flock -w 900 "$lock_fd" || die "timed out waiting for another fetch"
	if [ ! -f "$libs_dir/.complete" ]; then
		local staging=$libs_dir.partial.$$
		rm -rf "$staging"
		note "fetching Kafka $kafka_version jars with Maven"
		# Maven 3.8 emits colour resets even in batch mode; strip them.
		if ! mvn -B -q -Dstyle.color=never -f "$kafka_conf_dir/pom.xml" \
			-Dmaven.repo.local="$cache_dir/m2" \
			dependency:copy-dependencies \
			-DincludeScope=runtime -DoutputDirectory="$staging" 2>&1 |
			sed -e 's/\x1b\[[0-9;]*m//g' -e '/^$/d' >&2; then
			rm -rf "$staging"
			die "Maven could not fetch the Kafka jars"
		fi
		[ -f "$staging/kafka_2.13-$kafka_version.jar" ] ||
			die "Maven ran but kafka_2.13-$kafka_version.jar is not in $staging"
		touch "$staging/.complete"
		rm -rf "$libs_dir"
		mv "$staging" "$libs_dir"
	fi
	exec {lock_fd}>&-
}

# Kafka property files treat backslashes, '=', ':' and spaces specially and
# the template is filled with sed; rather than escape for both, accept only
# plain paths.
resolve_dir() {
	[ -n "${1:-}" ] || usage
	case "$1" in
	*[!A-Za-z0-9._/+@-]*) die "DIR must be a plain path (letters, digits, . _ / + @ -): $1" ;;
	esac
	if [ "${2:-}" = create ]; then
		mkdir -p "$1"
	fi
	[ -d "$1" ] || die "no such directory: $1"
	local abs
	abs=$(cd "$1" && pwd)
	case "$abs" in
	*[!A-Za-z0-9._/+@-]*) die "DIR must be a plain path (letters, digits, . _ / + @ -): $abs" ;;
	esac
	printf '%s\n' "$abs"
}

# The pid file alone is not trusted: after a reboot or a crash the number may
# belong to another process. A zombie has an empty cmdline, so it counts as
# gone too.
broker_pid() {
	local dir=$1 pid
	[ -f "$dir/broker.pid" ] || return 1
	read -r pid <"$dir/broker.pid" || return 1
	case "$pid" in '' | *[!0-9]*) return 1 ;; esac
	pid_is_broker "$pid" "$dir" || return 1
	printf '%s\n' "$pid"
}

pid_is_broker() {
	local cmdline
	cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline") || return 1
	case "$cmdline" in
	*" kafka.Kafka $2/server.properties"*) return 0 ;;
	*) return 1 ;;
	esac
}

# Bounded: returns 1 if the process is still there after $2 seconds.
wait_gone() {
	local pid=$1 dir=$2 deadline=$((SECONDS + $3))
	while pid_is_broker "$pid" "$dir"; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}

# Until the launcher has exec'd java the pid is a shell, so only "exists and
# is not a zombie" can be asked of it.
pid_running() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[ "${stat%% *}" != Z ]
}

# The broker is not our child once `start` returns, so its exit status is
# collected by whatever adopted it; some inits do that lazily (about 2 s on
# the test VMs). Waiting for it lets a caller check that no java process is
# left right after `stop`. Never fails: an exited process holds nothing.
wait_reaped() {
	local deadline=$((SECONDS + $2))
	while [ -e "/proc/$1" ] && [ "$SECONDS" -lt "$deadline" ]; do
		sleep 0.1
	done
}

port_in_use() {
	local hex
	printf -v hex ':%04X ' "$1"
	grep -q "$hex" /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

pick_port() {
	local avoid=${1:-0} port tries
	for ((tries = 0; tries < 200; tries++)); do
		port=$((port_pick_base + (RANDOM * 32768 + RANDOM) % port_pick_span))
		if [ "$port" -ne "$avoid" ] && ! port_in_use "$port"; then
			printf '%s\n' "$port"
			return 0
		fi
	done
	die "no free loopback port found"
}

valid_port() {
	case "$1" in '' | *[!0-9]*) return 1 ;; esac
	[ "$1" -ge 1 ] && [ "$1" -le 65535 ]
}

# Ports recorded by a previous start of DIR, as "PORT CONTROLLER_PORT".
recorded_ports() {
	sed -n 's|^listeners=PLAINTEXT://127\.0\.0\.1:\([0-9]*\),CONTROLLER://127\.0\.0\.1:\([0-9]*\)$|\1 \2|p' \
		"$1/server.properties" 2>/dev/null
}

write_server_properties() {
	local dir=$1 port=$2 controller_port=$3
	sed -e "s|@PORT@|$port|g" -e "s|@CONTROLLER_PORT@|$controller_port|g" \
		-e "s|@DATA_DIR@|$dir/data|g" \
		"$kafka_conf_dir/server.properties.in" >"$dir/server.properties.tmp"
	mv "$dir/server.properties.tmp" "$dir/server.properties"
}

# Kafka's Uuid: 16 random bytes in unpadded base64url. Kafka refuses ids that
# begin with '-' because tools would take them for options.
new_cluster_id() {
	local id
	while :; do
		id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
		case "$id" in -*) ;; *) break ;; esac
	done
	printf '%s\n' "$id"
}

# Short-lived tools need a fast start far more than a good JIT.
run_tool() {
	"$java_bin" -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Djava.awt.headless=true \
		-Dlog4j2.configurationFile="$kafka_conf_dir/log4j2.xml" -Dssid.kafka.loglevel=WARN \
		-cp "$libs_dir/*" "$@"
}

format_storage() {
	local dir=$1
	rm -rf "$dir/data"
	run_tool kafka.tools.StorageTool format --standalone \
		-t "$(new_cluster_id)" -c "$dir/server.properties" >>"$dir/broker.log" 2>&1 ||
		{
			tail -n 20 "$dir/broker.log" >&2
			die "formatting $dir/data failed"
		}
}

# The JVM must not inherit our stdout (a caller's $(...) would then wait for
# the broker to exit) nor any other descriptor the caller or we hold open,
# such as the per-DIR lock.
launch_broker() {
	local dir=$1
	# shellcheck disable=SC2086 # heap_opts is a list of JVM flags
	(
		for fd_path in /proc/self/fd/*; do
			fd=${fd_path##*/}
			if [ "$fd" -gt 2 ]; then
				eval "exec $fd>&-" 2>/dev/null || true
			fi
		done
		exec "$java_bin" $heap_opts -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
			-XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
			-Dlog4j2.configurationFile="$kafka_conf_dir/log4j2.xml" \
			-Dssid.kafka.loglevel=INFO \
			-cp "$libs_dir/*" kafka.Kafka "$dir/server.properties"
	) </dev/null >>"$dir/broker.log" 2>&1 &
	starting_pid=$!
	printf '%s\n' "$starting_pid" >"$dir/broker.pid"
}

tcp_port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Ready means a real Kafka client gets a metadata answer that lists this
# broker: a fenced (not yet registered) broker leaves itself out of it.
# Returns 0 when ready, 1 if the JVM died, 2 on timeout.
wait_ready() {
	local port=$1 pid=$2 deadline=$((SECONDS + start_timeout))
	while :; do
		pid_running "$pid" || return 1
		if tcp_port_open "$port" &&
			kcat -L -b "127.0.0.1:$port" -t __ssid_ready_probe -m 2 2>/dev/null |
			grep -q "broker 1 at 127\.0\.0\.1:$port"; then
			return 0
		fi
		[ "$SECONDS" -lt "$deadline" ] || return 2
		sleep 0.2
	done
}

# Kafka logs a long shutdown sequence after the error that killed it, so the
# plain tail rarely shows the cause: print this run's errors first.
report_failed_run() {
	local log=$1 offset=$2
	{
		echo "--- errors in this run of $log:"
		tail -c +$((offset + 1)) "$log" | grep -E 'ERROR|FATAL|Caused by' | head -n 15 || true
		echo "--- last lines of $log:"
		tail -c +$((offset + 1)) "$log" | tail -n 25
	} >&2
}

lock_dir() {
	local lock_fd
	exec {lock_fd}>"$1/.lock"
	flock -w 120 "$lock_fd" || die "another kafka-broker.sh command holds $1/.lock"
}

# A bind race with another test picking the same free port is retried on new
# ports, but only for a fresh DIR whose ports were all chosen here: a
# restarted broker must come back where its clients expect it, and a port
# given in the environment is what the caller wants.
start_locked() {
	local dir=$1 pid port controller_port fresh=0 ports_chosen=0 attempt status log_offset
	if pid=$(broker_pid "$dir"); then
		die "a broker is already running for $dir (pid $pid)"
	fi
	cmd_fetch
	need_java
	need_kcat
	rm -f "$dir/bootstrap" "$dir/broker.pid"

	read -r port controller_port < <(recorded_ports "$dir"; echo) || true
	if [ -f "$dir/data/meta.properties" ]; then
		[ -n "$port" ] ||
			die "$dir/data holds a broker but $dir/server.properties names no ports; remove $dir/data to start afresh"
		if [ -n "${KAFKA_PORT:-}${KAFKA_CONTROLLER_PORT:-}" ] &&
			[ "${KAFKA_PORT:-$port}:${KAFKA_CONTROLLER_PORT:-$controller_port}" != "$port:$controller_port" ]; then
			die "$dir was formatted for ports $port/$controller_port; KAFKA_PORT/KAFKA_CONTROLLER_PORT differ"
		fi
	else
		fresh=1
		port=${KAFKA_PORT:-}
		controller_port=${KAFKA_CONTROLLER_PORT:-}
		[ -z "$port" ] || valid_port "$port" || die "bad KAFKA_PORT: $port"
		[ -z "$controller_port" ] || valid_port "$controller_port" ||
			die "bad KAFKA_CONTROLLER_PORT: $controller_port"
		if [ -z "$port$controller_port" ]; then
			ports_chosen=1
		fi
		[ -n "$port" ] || port=$(pick_port "${controller_port:-0}")
		[ -n "$controller_port" ] || controller_port=$(pick_port "$port")
	fi
	valid_port "$port" || die "bad broker port: $port"
	valid_port "$controller_port" || die "bad controller port: $controller_port"
	[ "$port" -ne "$controller_port" ] || die "broker and controller ports must differ"

	for ((attempt = 1; ; attempt++)); do
		write_server_properties "$dir" "$port" "$controller_port"
		if [ "$fresh" -eq 1 ]; then
			format_storage "$dir"
		fi
		printf '=== %s kafka-broker.sh: Kafka %s on 127.0.0.1:%s (controller %s)\n' \
			"$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$kafka_version" "$port" "$controller_port" \
			>>"$dir/broker.log"
		log_offset=$(stat -c %s "$dir/broker.log")
		launch_broker "$dir"
		status=0
		wait_ready "$port" "$starting_pid" || status=$?
		if [ "$status" -eq 0 ]; then
			break
		fi
		kill -KILL "$starting_pid" 2>/dev/null || true
		wait_gone "$starting_pid" "$dir" 10 || true
		starting_pid=""
		rm -f "$dir/broker.pid"
		if [ "$status" -eq 1 ] && [ "$ports_chosen" -eq 1 ] && [ "$attempt" -lt 3 ] &&
			tail -c +$((log_offset + 1)) "$dir/broker.log" | grep -q 'Address already in use'; then
			note "port taken meanwhile; retrying on other ports"
			port=$(pick_port)
			controller_port=$(pick_port "$port")
			continue
		fi
		report_failed_run "$dir/broker.log" "$log_offset"
		# Never served anything: let the next start format it afresh,
		# possibly on other ports.
		[ "$fresh" -eq 0 ] || rm -rf "$dir/data"
		if [ "$status" -eq 1 ]; then
			die "broker exited during startup (log: $dir/broker.log)"
		fi
		die "broker not ready after ${start_timeout}s (log: $dir/broker.log)"
	done
	starting_pid=""
	printf '127.0.0.1:%s\n' "$port" >"$dir/bootstrap"
	printf '127.0.0.1:%s\n' "$port"
}

cmd_start() {
	local dir
	dir=$(resolve_dir "${1:-}" create)
	lock_dir "$dir"
	start_locked "$dir"
}

stop_locked() {
	local dir=$1 pid
	if ! pid=$(broker_pid "$dir"); then
		rm -f "$dir/broker.pid"
		return 0
	fi
	kill -TERM "$pid" 2>/dev/null || true
	if ! wait_gone "$pid" "$dir" "$stop_timeout"; then
		note "broker (pid $pid) still running ${stop_timeout}s after SIGTERM; sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
		wait_gone "$pid" "$dir" 10 || die "broker (pid $pid) survived SIGKILL"
	fi
	rm -f "$dir/broker.pid"
	wait_reaped "$pid" 5
}

cmd_stop() {
	local dir
	dir=$(resolve_dir "${1:-}")
	lock_dir "$dir"
	stop_locked "$dir"
}

cmd_kill() {
	local dir pid
	dir=$(resolve_dir "${1:-}")
	lock_dir "$dir"
	pid=$(broker_pid "$dir") || die "no broker is running for $dir"
	kill -KILL "$pid"
	wait_gone "$pid" "$dir" 10 || die "broker (pid $pid) survived SIGKILL"
	rm -f "$dir/broker.pid"
}

cmd_restart() {
	local dir
	dir=$(resolve_dir "${1:-}")
	lock_dir "$dir"
	[ -f "$dir/data/meta.properties" ] || die "$dir holds no broker to restart; use start"
	stop_locked "$dir"
	start_locked "$dir"
}

# Partition count and leaders as seen by a client, as "COUNT LEADERS", or
# nothing if the topic is unknown (kcat then appends an error to the topic
# line, which is why it must have exactly five fields).
topic_state() {
	kcat -L -b "$1" -t "$2" -m 5 2>/dev/null | awk -v topic="\"$2\"" '
		$1 == "topic" && $2 == topic && NF == 5 && $4 ~ /^[0-9]+$/ { count = $4; seen = 1 }
		seen && $1 == "partition" && $4 ~ /^[0-9]+,$/ && $4 != "-1," { leaders++ }
		END { if (seen) printf "%d %d\n", count, leaders }'
}

cmd_create_topic() {
	[ $# -ge 3 ] || usage
	local dir name=$2 partitions=$3 bootstrap state deadline
	dir=$(resolve_dir "$1")
	shift 3
	case "$name" in '' | *[!A-Za-z0-9._-]*) die "bad topic name: $name" ;; esac
	case "$partitions" in '' | 0 | *[!0-9]*) die "bad partition count: $partitions" ;; esac
	broker_pid "$dir" >/dev/null || die "no broker is running for $dir"
	read -r bootstrap <"$dir/bootstrap" || die "$dir/bootstrap is missing"

	state=$(topic_state "$bootstrap" "$name")
	if [ -z "$state" ]; then
		run_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$bootstrap" \
			--create --if-not-exists --topic "$name" --partitions "$partitions" \
			--replication-factor 1 "$@" >&2 ||
			die "creating topic $name failed"
	fi
	deadline=$((SECONDS + 30))
	while :; do
		state=$(topic_state "$bootstrap" "$name")
		if [ -n "$state" ] && [ "${state%% *}" != "$partitions" ]; then
			die "topic $name exists with ${state%% *} partitions, not $partitions"
		fi
		[ "$state" != "$partitions $partitions" ] || return 0
		[ "$SECONDS" -lt "$deadline" ] || die "topic $name has no leader for every partition after 30s"
		sleep 0.2
	done
}

main() {
	[ $# -ge 1 ] || usage
	local cmd=$1
	shift
	case "$cmd" in
	fetch) cmd_fetch ;;
	start) cmd_start "$@" ;;
	stop) cmd_stop "$@" ;;
	kill) cmd_kill "$@" ;;
	restart) cmd_restart "$@" ;;
	create-topic) cmd_create_topic "$@" ;;
	-h | --help | help) usage 0 ;;
	*) usage ;;
	esac
}

main "$@"
