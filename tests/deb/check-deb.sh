#!/bin/sh
# The Debian package, checked and installed into a throwaway root (make check-deb):
#   tests/deb/check-deb.sh build/deb/ssid_VERSION_ARCH.deb
#
#   1. control fields: name, version (the Makefile's), architecture; Depends
#      (from dpkg-shlibdeps) names exactly the packages of the libraries the
#      binaries link; conffiles exactly /etc/ssid/ssid.conf and
#      /etc/ssid/model.json; no maintainer scripts; md5sums right;
#   2. contents: exactly the expected files (a binary per src/main_*.c),
#      owned by root, binaries 0755 and everything else 0644, the unit's
#      ExecStart pointing at /usr/bin;
#   3. lintian: no tag at all, info and pedantic included (the one override
#      in deploy/debian/lintian-overrides says why);
#   4. dpkg --root installs it into an empty root; the libraries ssid links
#      are copied in, and inside that root (chroot, or unshare -r as a user)
#      /usr/bin/ssid --check-config reads /etc/ssid/ssid.conf and the model at
#      /etc/ssid/model.json: OK, and exit 78 naming that path once the
#      model is moved away. A changed conffile survives a reinstall, remove
#      keeps it and purge deletes it.
set -eu

deb=${1:?usage: $0 PACKAGE.deb}
[ -f "$deb" ] || { echo "check-deb: no $deb (make deb)" >&2; exit 1; }
version=$(sed -n 's/^VERSION := //p' Makefile)
arch=$(dpkg --print-architecture)
failures=0
fail() {
	echo "check-deb: FAIL: $*" >&2
	failures=$((failures + 1))
}
# passed TEXT: says TEXT when the section since the last `section` had no failure
before=0
section() { before=$failures; }
passed() { [ "$failures" -ne "$before" ] || echo "check-deb: $*"; }
# expect WHAT WANT GOT
expect() {
	[ "$2" = "$3" ] || fail "$1: expected \"$2\", got \"$3\""
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --- 1. control ---------------------------------------------------------------
section
expect Package ssid "$(dpkg-deb -f "$deb" Package)"
expect Version "$version" "$(dpkg-deb -f "$deb" Version)"
expect Architecture "$arch" "$(dpkg-deb -f "$deb" Architecture)"
# Depends names exactly the packages of the libraries the binaries link
# (their NEEDED entries, found with dpkg -S in this architecture's library
# directories).
dpkg-deb -x "$deb" "$tmp/x"
for b in "$tmp"/x/usr/bin/*; do
	readelf -d "$b" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p'
done | sort -u >"$tmp/needed"
[ -s "$tmp/needed" ] || fail "readelf found no NEEDED library"
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
while IFS= read -r so; do
	dpkg -S "*/$multiarch/$so" | sed 's/[:,].*//' || fail "no installed package holds $so"
done <"$tmp/needed" | sort -u | tr '\n' ' ' >"$tmp/want-deps"
deps=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/^ *//; s/ .*//' | sort | tr '\n' ' ')
expect "Depends (the packages of $(tr '\n' ' ' <"$tmp/needed"))" "$(cat "$tmp/want-deps")" "$deps"
case $deps in *librdkafka1*libsystemd0*) ;; *) fail "Depends lacks librdkafka1 or libsystemd0: $deps" ;; esac
dpkg-deb -e "$deb" "$tmp/control"
expect conffiles "/etc/ssid/model.json /etc/ssid/ssid.conf" "$(sort "$tmp/control/conffiles" | tr '\n' ' ' | sed 's/ $//')"
for f in postinst prerm postrm preinst; do
	[ ! -e "$tmp/control/$f" ] || fail "unexpected maintainer script $f"
done
[ "$(wc -l <"$tmp/control/md5sums")" -gt 10 ] || fail "md5sums is missing or short"
(cd "$tmp/x" && md5sum --check --quiet --strict "$tmp/control/md5sums") >&2 ||
	fail "md5sums does not match the files"
passed "control, Depends ($deps) and conffiles as expected"

# --- 2. contents ----------------------------------------------------------------
section
{
	for m in src/main_*.c; do
		m=${m#src/main_}
		echo "-rwxr-xr-x root/root ./usr/bin/${m%.c}"
	done
	for f in etc/ssid/model.json etc/ssid/ssid.conf lib/systemd/system/ssid.service \
		usr/share/doc/ssid/changelog.gz usr/share/doc/ssid/copyright \
		usr/share/lintian/overrides/ssid usr/share/man/man1/ssi-loadgen.1.gz \
		usr/share/man/man1/ssi-watch.1.gz usr/share/man/man1/ssictl.1.gz \
		usr/share/man/man5/ssid.conf.5.gz usr/share/man/man8/ssid.8.gz; do
		echo "-rw-r--r-- root/root ./$f"
	done
} | LC_ALL=C sort >"$tmp/want"
dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { print $1, $2, $6 }' | LC_ALL=C sort >"$tmp/got"
if ! cmp -s "$tmp/want" "$tmp/got"; then
	fail "contents differ from the expected list (< expected, > package):"
	diff "$tmp/want" "$tmp/got" >&2 || true
fi
dpkg-deb -c "$deb" | awk '$1 ~ /^d/ && ($1 != "drwxr-xr-x" || $2 != "root/root") { print }' \
	>"$tmp/baddirs"
[ ! -s "$tmp/baddirs" ] || fail "directories not 0755 root/root: $(cat "$tmp/baddirs")"
expect ExecStart "ExecStart=/usr/bin/ssid --config /etc/ssid/ssid.conf" \
	"$(grep '^ExecStart=' "$tmp/x/lib/systemd/system/ssid.service")"
cmp -s config/ssid.conf "$tmp/x/etc/ssid/ssid.conf" || fail "etc/ssid/ssid.conf is not config/ssid.conf"
cmp -s config/model.json "$tmp/x/etc/ssid/model.json" ||
	fail "etc/ssid/model.json is not config/model.json"
for b in "$tmp"/x/usr/bin/*; do
	sections=$(readelf -S "$b") || fail "readelf cannot read $b"
	case $sections in *.debug_info* | *.symtab*) fail "$(basename "$b") is not stripped" ;; esac
done
passed "contents as expected ($(wc -l <"$tmp/got") files)"

# --- 3. lintian -----------------------------------------------------------------
# As root lintian says it would rather not be; that line is not a finding.
lint=$(lintian --fail-on error,warning,info,pedantic --info --pedantic "$deb" 2>&1 |
	grep -v 'running with root privileges is not recommended') || true
if [ -n "$lint" ]; then
	fail "lintian:"
	printf '%s\n' "$lint" >&2
else
	echo "check-deb: lintian: no errors, warnings, info or pedantic tags"
fi

# --- 4. installed into a throwaway root ---------------------------------------
section
root="$tmp/root"
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" "$root/var/log"
: >"$root/var/lib/dpkg/status"
force="--force-depends"
[ "$(id -u)" -eq 0 ] || force="$force --force-not-root"
# shellcheck disable=SC2086 # $force is a list of options
dpkgr() { dpkg --root="$root" --log=/dev/null $force "$@"; }
dpkgr -i "$deb" >"$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log" >&2; fail "dpkg --root -i failed"; }
expect "installed status" "install ok installed" \
	"$(dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Status}' ssid)"
expect "conffiles registered" "/etc/ssid/model.json /etc/ssid/ssid.conf" \
	"$(dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Conffiles}' ssid |
		awk 'NF { print $1 }' | sort | tr '\n' ' ' | sed 's/ $//')"

# The loader and the libraries the binaries link, at the same paths.
for b in ssid ssictl; do
	ldd "$root/usr/bin/$b" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'
done | sort -u >"$tmp/libs"
while IFS= read -r lib; do
	mkdir -p "$root$(dirname "$lib")"
	cp -L "$lib" "$root$lib"
done <"$tmp/libs"
inside() {
	if [ "$(id -u)" -eq 0 ]; then
		chroot "$root" "$@"
	else
		unshare --map-root-user --root="$root" "$@"
	fi
}
rc=0
out=$(inside /usr/bin/ssid --check-config 2>&1) || rc=$?
expect "ssid --check-config in the root (exit $rc)" \
	"/etc/ssid/ssid.conf: configuration and model OK" "$out"
expect "ssid --version in the root" "ssid $version" "$(inside /usr/bin/ssid --version 2>&1)"
expect "ssictl --version in the root" "ssictl $version" "$(inside /usr/bin/ssictl --version 2>&1)"
mv "$root/etc/ssid/model.json" "$root/etc/ssid/model.json.away"
rc=0
out=$(inside /usr/bin/ssid --check-config 2>&1) || rc=$?
expect "ssid --check-config without the model: exit" 78 "$rc"
case $out in
*"/etc/ssid/model.json: cannot read /etc/ssid/model.json: No such file or directory"*) ;;
*) fail "ssid --check-config without the model says: $out" ;;
esac
mv "$root/etc/ssid/model.json.away" "$root/etc/ssid/model.json"
for p in ssid.8 ssictl.1 ssid.conf.5; do
	s=${p##*.}
	warn=$(zcat "$root/usr/share/man/man$s/$p.gz" | groff -man -ww -z 2>&1) || fail "groff on $p"
	[ -z "$warn" ] || fail "the installed $p: $warn"
done
passed "installed with dpkg --root; ssid --check-config passes inside it"

section
# Conffiles: an operator's change survives a reinstall and a remove; purge removes them.
echo "# changed by the operator" >>"$root/etc/ssid/ssid.conf"
dpkgr -i "$deb" >"$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log" >&2; fail "reinstall failed"; }
expect "ssid.conf after a reinstall ends with" "# changed by the operator" \
	"$(tail -n 1 "$root/etc/ssid/ssid.conf")"
dpkgr -r ssid >"$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log" >&2; fail "dpkg -r failed"; }
[ ! -e "$root/usr/bin/ssid" ] || fail "dpkg -r left /usr/bin/ssid"
[ -f "$root/etc/ssid/ssid.conf" ] || fail "dpkg -r removed the conffile ssid.conf"
dpkgr -P ssid >"$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log" >&2; fail "dpkg -P failed"; }
[ ! -e "$root/etc/ssid" ] || fail "dpkg -P left /etc/ssid: $(ls -A "$root/etc/ssid")"
passed "conffiles kept on reinstall and remove, gone on purge"

if [ "$failures" -gt 0 ]; then
	echo "check-deb: $failures failures" >&2
	exit 1
fi
echo "check-deb: ok"
