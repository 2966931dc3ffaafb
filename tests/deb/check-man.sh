#!/bin/sh
# The generated man pages against what they document (make check-deb):
#   tests/deb/check-man.sh BUILD_DIR      (build/deb/build, or build after make man)
#
#   1. groff -man -ww and man --warnings find nothing to say about any page;
#   2. ssid.conf(5) shows every key of the table (ssid --list-keys) and every
#      "# key = default" line of config/ssid.conf (kafka.* examples aside) as
#      "key = default", and no key the table does not have;
#   3. every option of every program's --help (ssid, ssictl, ssi-loadgen,
#      ssi-watch) is in its page, and every ssictl command is in ssictl(1).
# config/ssid.conf against the table itself is the daemon suite's job
# (tests/daemon/test_config_keys.c, test_every_key_documented).
set -eu

b=${1:?usage: $0 BUILD_DIR}
man="$b/man"
failures=0
fail() {
	echo "check-man: FAIL: $*" >&2
	failures=$((failures + 1))
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# roff to the plain words the pages show: no font changes, \- and \e undone.
plain() {
	sed -e 's/\\f[BIRP]//g' -e 's/\\-/-/g' -e 's/\\e/\\/g' -e 's/\\&//g' "$1"
}

pages="ssid.8 ssid.conf.5 ssictl.1 ssi-loadgen.1 ssi-watch.1"
for p in $pages; do
	[ -s "$man/$p" ] || { fail "$man/$p is missing or empty"; continue; }
	out=$(groff -man -ww -z "$man/$p" 2>&1) || fail "groff -man -ww failed on $p"
	[ -z "$out" ] || fail "groff -man -ww on $p: $out"
	out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$man/$p" 2>&1 >/dev/null) ||
		fail "man -l failed on $p"
	[ -z "$out" ] || fail "man --warnings on $p: $out"
	plain "$man/$p" >"$tmp/$p"
done
[ "$failures" -ne 0 ] || echo "check-man: $(echo $pages | wc -w) pages render without warnings"

# --- 2. ssid.conf(5) ---------------------------------------------------------
before=$failures
"$b/ssid" --list-keys >"$tmp/keys"
nkeys=$(wc -l <"$tmp/keys")
# the KEYS section of the page
awk '/^\.SH KEYS/ { on = 1; next } /^\.SH/ { on = 0 } on' "$tmp/ssid.conf.5" >"$tmp/keys-section"
[ "$nkeys" -gt 20 ] || fail "ssid --list-keys printed $nkeys keys"
awk -F '\t' '{ printf "%s = %s\n", $1, ($2 == "" ? "(empty)" : $2) }' "$tmp/keys" >"$tmp/table-keys"
while IFS= read -r line; do
	grep -qxF "$line" "$tmp/keys-section" ||
		fail "ssid.conf(5) does not show \"$line\" (from ssid --list-keys)"
done <"$tmp/table-keys"
# config/ssid.conf shows each key as "# key = value" (a quoted value unquoted
# here, "" as "(empty)"), and the page must show the same
cut -f1 "$tmp/keys" >"$tmp/names"
while IFS= read -r name; do
	line=$(grep -E "^# $(printf '%s' "$name" | sed 's/\./\\./g') = " config/ssid.conf |
		sed -e 's/^# //' -e 's/ = ""$/ = (empty)/' -e 's/ = "\(.*\)"$/ = \1/') || true
	case $line in
	'') fail "config/ssid.conf does not document $name" ;;
	*'
'*) fail "config/ssid.conf documents $name twice" ;;
	*)
		grep -qxF "$line" "$tmp/keys-section" ||
			fail "ssid.conf(5) does not show \"$line\" (from config/ssid.conf)"
		;;
	esac
done <"$tmp/names"
shown=$(grep -cE '^[a-z0-9_]+(\.[a-z0-9_]+)* = ' "$tmp/keys-section" || true)
[ "$shown" -eq "$nkeys" ] || fail "ssid.conf(5) shows $shown keys, the table has $nkeys"
[ "$failures" -ne "$before" ] ||
	echo "check-man: ssid.conf(5) shows the $nkeys keys of the table and of config/ssid.conf"

# --- 3. every option of --help in its page -----------------------------------
for p in ssid:ssid.8 ssictl:ssictl.1 ssi-loadgen:ssi-loadgen.1 ssi-watch:ssi-watch.1; do
	prog=${p%%:*} page=${p#*:}
	"$b/$prog" --help >"$tmp/help"
	# the options: --long and -x at the start of a word
	opts=$(grep -oE '(^|[][ (|,])--?[A-Za-z][-A-Za-z]*' "$tmp/help" |
		sed 's/^[][ (|,]//' | sort -u)
	n=0 before=$failures
	for o in $opts; do
		n=$((n + 1))
		grep -qE -- "(^|[][ (|,])$o([],| .;:=)]|\$)" "$tmp/$page" ||
			fail "$page does not mention $o (from $prog --help)"
	done
	[ "$n" -ge 3 ] || fail "found only $n options in $prog --help"
	[ "$failures" -ne "$before" ] || echo "check-man: $page has all $n options of $prog --help"
done
# ssictl's commands: the lines of the "Commands:" section
cmds=$("$b/ssictl" --help | awk '/^Commands:/ { on = 1; next } on && NF == 0 { exit }
	on && /^  [a-z]/ { print $1 }')
n=0 before=$failures
for c in $cmds; do
	n=$((n + 1))
	grep -qE "^$c( |\$)" "$tmp/ssictl.1" || fail "ssictl.1 has no item for the command $c"
done
[ "$n" -ge 6 ] || fail "found only $n commands in ssictl --help"
[ "$failures" -ne "$before" ] || echo "check-man: ssictl.1 has all $n commands of ssictl --help"

if [ "$failures" -gt 0 ]; then
	echo "check-man: $failures failures" >&2
	exit 1
fi
echo "check-man: ok"
