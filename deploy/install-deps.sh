#!/usr/bin/env bash
# Install the Debian (bookworm) packages a make target needs, but only the
# ones that are missing, so a second run is instant and offline. Always with
# --no-install-recommends: every package the project uses is named here.
#   deploy/install-deps.sh [build|demo|test|fuzz|bench|broker|deb|fresh|all]
#
#   build   make: the compiler and the C library's headers (gcc only recommends
#           them), make, pkg-config and the libraries' headers (libmicrohttpd
#           serves /metrics, /healthz and /readyz)
#   demo    make demo: build + redis-server (redis-cli comes with it) and kcat,
#           which the demo suggests for reading its topics
#   fuzz    make fuzz: build + clang and its compiler runtime (libFuzzer,
#           ASan/UBSan runtimes and <sanitizer/*.h>, not pulled by clang
#           without recommends)
#   broker  deploy/kafka-broker.sh: Java 17, Maven (fetches the broker's jars)
#           and kcat (asks the broker whether it is ready)
#   deb     make deb, make check-deb, make check-k8s (so test includes it):
#           dpkg-dev (dpkg-deb, dpkg-shlibdeps, dpkg-buildflags), binutils
#           (strip), lintian, groff-base and man-db (the man pages' warnings),
#           python3-yaml (parses deploy/k8s/), util-linux (unshare, for a
#           non-root chroot)
#   test    make check: build + fuzz + broker + redis-server, cppcheck,
#           clang-format, valgrind, systemd (systemd-analyze) and procps
#           (pgrep in the demo check, /bin/kill named by the unit) and
#           prometheus (promtool checks /metrics; one test scrapes ssid with a
#           real server)
#   bench   make bench: build + broker + redis-server and redis-tools
#           (redis-cli reads INFO and builds the benchmark's Redis Cluster)
#   fresh   make check-fresh, on the host: debootstrap and git
#   all     every group above
set -euo pipefail

build_pkgs=(gcc libc6-dev make pkg-config librdkafka-dev libhiredis-dev libjansson-dev
	    libsystemd-dev check libsubunit-dev libmicrohttpd-dev)
demo_pkgs=(redis-server kcat)
fuzz_pkgs=(clang libclang-rt-14-dev)
broker_pkgs=(openjdk-17-jre-headless maven kcat)
test_pkgs=(redis-server redis-tools cppcheck clang-format valgrind systemd procps prometheus
	   "${fuzz_pkgs[@]}" "${broker_pkgs[@]}")
bench_pkgs=(redis-server redis-tools "${broker_pkgs[@]}")
fresh_pkgs=(debootstrap git)
deb_pkgs=(dpkg-dev binutils lintian groff-base man-db python3-yaml util-linux)

want=()
case "${1:-all}" in
build) want+=("${build_pkgs[@]}") ;;
demo) want+=("${build_pkgs[@]}" "${demo_pkgs[@]}") ;;
fuzz) want+=("${build_pkgs[@]}" "${fuzz_pkgs[@]}") ;;
broker) want+=("${broker_pkgs[@]}") ;;
deb) want+=("${build_pkgs[@]}" "${deb_pkgs[@]}") ;;
test) want+=("${build_pkgs[@]}" "${test_pkgs[@]}" "${deb_pkgs[@]}") ;;
bench) want+=("${build_pkgs[@]}" "${bench_pkgs[@]}") ;;
fresh) want+=("${fresh_pkgs[@]}") ;;
all) want+=("${build_pkgs[@]}" "${demo_pkgs[@]}" "${test_pkgs[@]}" "${bench_pkgs[@]}" "${deb_pkgs[@]}"
	    "${fresh_pkgs[@]}") ;;
*) echo "usage: $0 [build|demo|test|fuzz|bench|broker|deb|fresh|all]" >&2; exit 64 ;;
esac

missing=()
for p in "${want[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		case " ${missing[*]} " in *" $p "*) ;; *) missing+=("$p") ;; esac
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install ${missing[*]}" >&2; exit 1; }
	sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts redis-server as a service where it can; ssid's scripts run
# their own private instances on free ports instead.
