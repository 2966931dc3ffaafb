#!/bin/sh
# Build the Debian package with dpkg-deb (no debhelper), from the repository
# root, as `make deb` does:
#   VERSION=0.1.0 deploy/debian/build-deb.sh
#
# 1. a build of its own in build/deb/build with Debian's hardening flags
#    (dpkg-buildflags, hardening=+all);
# 2. `make install` into build/deb/root with PREFIX=/usr: the Makefile's
#    install target is the one list of installed files;
# 3. what policy adds: stripped binaries, man pages and the changelog
#    gzip -9n, /usr/share/doc/ssid/copyright, the lintian overrides,
#    DEBIAN/control (Depends from dpkg-shlibdeps: the shared libraries the
#    binaries really link), DEBIAN/conffiles and DEBIAN/md5sums;
# 4. dpkg-deb --root-owner-group --build: build/deb/ssid_VERSION_ARCH.deb.
#
# No maintainer scripts: the unit runs as a DynamicUser (no system user to
# create), and it is not enabled or started on install, since the shipped
# configuration points at localhost Kafka and Redis and has to be edited first.
set -eu

here=deploy/debian
out=build/deb
[ -f "$here/control.in" ] || { echo "$0: run from the repository root" >&2; exit 64; }
: "${VERSION:?VERSION (the Makefile passes it)}"
MAKE=${MAKE:-make}

changelog_version=$(sed -n '1s/^ssid (\([^)]*\)).*/\1/p' "$here/changelog")
if [ "$changelog_version" != "$VERSION" ]; then
	echo "$0: $here/changelog is at $changelog_version, the Makefile at $VERSION:" \
		"add a changelog entry" >&2
	exit 1
fi
arch=$(dpkg --print-architecture)
deb="$out/ssid_${VERSION}_$arch.deb"
root="$out/root"
umask 022

# 1-2. The hardened build, installed. The flags go through the environment so
# that the Makefile's own (-std=c11, warnings, -fPIC) are appended to them.
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
CFLAGS=$(dpkg-buildflags --get CFLAGS)
CPPFLAGS=$(dpkg-buildflags --get CPPFLAGS)
LDFLAGS=$(dpkg-buildflags --get LDFLAGS)
export CFLAGS CPPFLAGS LDFLAGS
rm -rf "$root" "$out/shlibs"
$MAKE -j2 --no-print-directory B="$out/build" all man
$MAKE --no-print-directory B="$out/build" install DESTDIR="$root" PREFIX=/usr SYSCONFDIR=/etc \
	UNITDIR=/lib/systemd/system MANDIR=/usr/share/man >/dev/null

# 3. Policy.
for f in "$root"/usr/bin/*; do
	strip --remove-section=.comment --remove-section=.note --strip-unneeded "$f"
done
find "$root/usr/share/man" -type f -exec gzip -9n {} +
doc="$root/usr/share/doc/ssid"
install -d "$doc" "$root/usr/share/lintian/overrides" "$root/DEBIAN"
install -m 0644 "$here/copyright" "$doc/copyright"
gzip -9n <"$here/changelog" >"$doc/changelog.gz"
chmod 0644 "$doc/changelog.gz"
install -m 0644 "$here/lintian-overrides" "$root/usr/share/lintian/overrides/ssid"

# Depends: dpkg-shlibdeps wants a debian/control naming the package.
mkdir -p "$out/shlibs/debian"
printf 'Source: ssid\n\nPackage: ssid\nArchitecture: any\n' >"$out/shlibs/debian/control"
depends=$(cd "$out/shlibs" && for f in ../root/usr/bin/*; do set -- "$@" "-e$f"; done &&
	dpkg-shlibdeps -O "$@" | sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { echo "$0: dpkg-shlibdeps found no dependency" >&2; exit 1; }
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" \
	-e "s/@DEPENDS@/$depends/" "$here/control.in" >"$root/DEBIAN/control"
install -m 0644 "$here/conffiles" "$root/DEBIAN/conffiles"
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z |
	xargs -0 md5sum) >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/md5sums"

# 4. The package.
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb: Depends: $depends"
