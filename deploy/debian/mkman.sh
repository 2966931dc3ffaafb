#!/bin/sh
# Generate a man page from a hand-written template and what the built program
# says about itself, so that the page cannot drift from the program:
#
#   deploy/debian/mkman.sh help PROGRAM TEMPLATE   a program's page: its --help
#   deploy/debian/mkman.sh keys SSID TEMPLATE      ssid.conf(5): ssid --list-keys
#
# writes the page to stdout. In TEMPLATE (roff, man macros):
#   @VERSION@  the program's --version (second word)
#   @DATE@     the date of the newest entry of deploy/debian/changelog
#   @USAGE@    the --help text up to its first blank line, without "usage: "
#   @HELP@     the rest of --help: "Heading:" lines become .SS, indented
#              "TERM  text" lines become .TP items (deeper indented lines
#              continue the text), other lines paragraphs
#   @KEYS@     every key of ssid's configuration table: name = default, what it
#              does, what it accepts, whether SIGHUP applies it; a .SS per
#              group of keys (the part of the name before the first dot)
# Options (-x, --long) are set in bold with \- for their dashes, metavariables
# (FILE, USER) in italics.
set -eu

[ $# -eq 3 ] || { echo "usage: $0 help|keys PROGRAM TEMPLATE" >&2; exit 64; }
mode=$1 prog=$2 template=$3
here=$(dirname "$0")

version=$("$prog" --version | awk '{ print $2; exit }')
stamp=$(sed -n 's/^ -- .*>  //p' "$here/changelog" | head -n 1)
date=$(LC_ALL=C date -u -d "$stamp" +%Y-%m-%d)
[ -n "$version" ] && [ -n "$date" ] || { echo "$0: no version or date" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The roff helpers every converter below shares.
cat >"$tmp/lib.awk" <<'EOF'
# Backslashes as \e, a leading . or ' protected, option dashes as \-.
function esc(s,    out, pre, word) {
	gsub(/\\/, "\\e", s)
	out = ""
	while (match(s, /(^|[ (\[|,'"])--?[A-Za-z][-A-Za-z0-9]*/)) {
		pre = substr(s, 1, RSTART - 1)
		word = substr(s, RSTART, RLENGTH)
		gsub(/-/, "\\-", word)
		out = out pre word
		s = substr(s, RSTART + RLENGTH)
	}
	out = out s
	if (out ~ /^[.']/)
		out = "\\&" out
	return out
}
# A term: options bold, metavariables italic, the rest roman.
function term(s,    n, w, i, out, t) {
	n = split(s, w, " ")
	out = ""
	for (i = 1; i <= n; i++) {
		t = esc(w[i])
		if (w[i] ~ /^\[?--?[A-Za-z]/) {
			sub(/\\-/, "\\fB\\-", t)
			if (t ~ /[],|]$/)
				t = substr(t, 1, length(t) - 1) "\\fR" substr(t, length(t))
			else
				t = t "\\fR"
		} else if (w[i] ~ /^\[?[A-Z][A-Z0-9_]+(=[A-Z]+)?\]?(\.\.\.)?$/ && w[i] !~ /^[A-Z]+:$/) {
			sub(/[A-Z]/, "\\fI&", t)
			if (match(t, /[A-Z0-9_]+(=[A-Z]+)?/))
				t = substr(t, 1, RSTART + RLENGTH - 1) "\\fR" substr(t, RSTART + RLENGTH)
		}
		out = out (i > 1 ? " " : "") t
	}
	return out
}
EOF

"$prog" --help >"$tmp/help"
case $mode in
help)
	# the usage block (no fill), then the body
	cat >"$tmp/usage.awk" <<'EOF'
BEGIN { print ".nf" }
NF == 0 { exit }
NR == 1 { sub(/^usage: /, "") }
NR > 1 { sub(/^       /, "") }
{ print esc($0) }
END { print ".fi" }
EOF
	cat >"$tmp/body.awk" <<'EOF'
!started { if (NF == 0) started = 1; next }
NF == 0 { state = "gap"; next }
/^[A-Z][^:]*:$/ { print ".SS " esc(substr($0, 1, length($0) - 1)); state = "heading"; next }
{
	match($0, /^ */)
	indent = RLENGTH
	line = substr($0, indent + 1)
	if (indent >= 2 && indent < 8) {
		print ".TP"
		if (match(line, /  +/)) {
			gap = RSTART
			rest = substr(line, RSTART + RLENGTH)
			print term(substr(line, 1, gap - 1))
			print esc(rest)
		} else
			print term(line)
		state = "item"
	} else if (indent >= 8 && state == "item") {
		print esc(line)
	} else {
		if (state != "text" && state != "heading")
			print ".PP"
		print esc(line)
		state = "text"
	}
}
EOF
	awk -f "$tmp/lib.awk" -f "$tmp/usage.awk" "$tmp/help" >"$tmp/usage"
	awk -f "$tmp/lib.awk" -f "$tmp/body.awk" "$tmp/help" >"$tmp/body"
	: >"$tmp/keys"
	;;
keys)
	"$prog" --list-keys >"$tmp/list"
	[ -s "$tmp/list" ] || { echo "$0: $prog --list-keys printed nothing" >&2; exit 1; }
	cat >"$tmp/keys.awk" <<'EOF'
BEGIN { FS = "\t" }
NF != 5 {
	printf "line %d of --list-keys has %d fields, not 5\n", NR, NF > "/dev/stderr"
	bad = 1
	exit 1
}
{
	n++
	name[n] = $1; def[n] = $2; reload[n] = $3; expected[n] = $4; help[n] = $5
	g = $1; sub(/\..*/, "", g)
	group[n] = g
}
END {
	if (bad)
		exit 1
	for (i = 1; i <= n; i++) {
		g = group[i]
		if (g != last)
			print ".SS " g
		last = g
		print ".TP"
		print "\\fB" esc(name[i]) "\\fR = " (def[i] == "" ? "(empty)" : "\\fI" esc(def[i]) "\\fR")
		h = esc(help[i])
		print toupper(substr(h, 1, 1)) substr(h, 2) "."
		print "Accepts " esc(expected[i]) "; " \
		      (reload[i] == "reload" ? "SIGHUP applies a change." : "a change takes effect on restart.")
	}
}
EOF
	awk -f "$tmp/lib.awk" -f "$tmp/keys.awk" "$tmp/list" >"$tmp/keys"
	: >"$tmp/usage"
	: >"$tmp/body"
	;;
*)
	echo "$0: unknown mode $mode" >&2
	exit 64
	;;
esac

# Substitute: a placeholder stands alone on its line.
awk -v version="$version" -v date="$date" -v dir="$tmp" '
function slurp(f,    l) { while ((getline l < f) > 0) print l; close(f) }
/^@USAGE@$/ { slurp(dir "/usage"); next }
/^@HELP@$/ { slurp(dir "/body"); next }
/^@KEYS@$/ { slurp(dir "/keys"); next }
{ gsub(/@VERSION@/, version); gsub(/@DATE@/, date); print }
' "$template"
