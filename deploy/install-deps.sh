#!/usr/bin/env bash
# Install the Debian packages ssid needs to build, test or demo, but only the
# ones that are missing, so a second run is instant and offline.
#   deploy/install-deps.sh [build|test|demo|fuzz|all]
set -euo pipefail

build_pkgs=(gcc make pkg-config librdkafka-dev libhiredis-dev libjansson-dev
	    libsystemd-dev check libsubunit-dev)
test_pkgs=(redis-server kcat cppcheck clang-format valgrind systemd)
fuzz_pkgs=(clang)
demo_pkgs=(redis-server kcat)

want=("${build_pkgs[@]}")
case "${1:-all}" in
build) ;;
test) want+=("${test_pkgs[@]}" "${fuzz_pkgs[@]}") ;;
demo) want+=("${demo_pkgs[@]}") ;;
fuzz) want+=("${fuzz_pkgs[@]}") ;;
all) want+=("${test_pkgs[@]}" "${fuzz_pkgs[@]}" "${demo_pkgs[@]}") ;;
*) echo "usage: $0 [build|test|demo|fuzz|all]" >&2; exit 64 ;;
esac

missing=()
for p in "${want[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
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
