#!/usr/bin/env bash
# The README's first command must keep working: run the demo for a while,
# unattended, and check that scores flowed and that nothing was left behind.
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds=${DEMO_SECONDS:-25}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

deploy/demo.sh --for "$seconds" --plain >"$out" 2>&1 || {
	echo "check-demo: demo.sh failed:"
	tail -20 "$out"
	exit 1
}
updates=$(grep -c 'cause=event' "$out" || true)
echo "check-demo: $updates score updates in ${seconds}s"
if [ "$updates" -lt 100 ]; then
	echo "check-demo: expected at least 100 score updates"
	tail -20 "$out"
	exit 1
fi
if pgrep -f '/tmp/ssid-demo\.' >/dev/null; then
	echo "check-demo: processes left behind:"
	pgrep -af '/tmp/ssid-demo\.'
	exit 1
fi
echo "check-demo: ok"
