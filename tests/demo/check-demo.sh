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
backfill=$(grep -c 'cause=event .*backfill$' "$out" || true)
notices=$(grep -cE '^(ALERT|RANK) ' "$out" || true)
echo "check-demo: $updates score updates in ${seconds}s ($backfill of them backfill)," \
	"$notices alerts and rank changes"
if [ "$updates" -lt 100 ]; then
	echo "check-demo: expected at least 100 score updates"
	tail -20 "$out"
	exit 1
fi
# The demo replays 30 days at 20,000x: its first ${seconds}s are all history
# more than a day old, a backfill (README "Alerts"): flagged, and silent.
if [ "$seconds" -le 60 ] && { [ "$backfill" -ne "$updates" ] || [ "$notices" -ne 0 ]; }; then
	echo "check-demo: the backfill phase must publish only backfill scores, no alert or rank change"
	grep -E '^(ALERT|RANK) ' "$out" | head -5
	grep 'cause=event' "$out" | grep -v 'backfill$' | head -5
	exit 1
fi
# The generator must never outrun the mock cluster's bounded log (about 5 MB
# per partition): ssid counts and logs any offset reset past deleted events.
if ! grep -q '^ssid at the end: ssid_offset_resets_total 0, ssid_offsets_skipped_total 0$' "$out" ||
	grep -q 'DATA LOSS' "$out"; then
	echo "check-demo: ssid lost events to the mock cluster's bounded log (or /metrics failed):"
	grep -A5 -E 'ssid at the end|DATA LOSS' "$out" || tail -5 "$out"
	exit 1
fi
if pgrep -f '/tmp/ssid-demo\.' >/dev/null; then
	echo "check-demo: processes left behind:"
	pgrep -af '/tmp/ssid-demo\.'
	exit 1
fi
echo "check-demo: ok"
