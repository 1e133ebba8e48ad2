#!/usr/bin/env bash
# Build the Debian package of fencebox with dpkg-deb (dh-cargo is not usable on Debian 12):
#   packaging/build-deb.sh [OUTDIR]      (default: target/debian) -> OUTDIR/fencebox_<version>_<arch>.deb
# Needs: cargo, dpkg-dev (dpkg-shlibdeps), gzip. The man pages are generated here from the
# binary's own option table (fence_<name> -o manpage), so they never drift from the code.
# For upgrade tests only (tests/system/run.sh): FENCEBOX_DEB_VERSION overrides the version
# and FENCEBOX_DEB_EXTRA_NAMES adds link names, as an older package that had more would.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="$(mkdir -p "${1:-target/debian}" && cd "${1:-target/debian}" && pwd)"
VERSION="${FENCEBOX_DEB_VERSION:-$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)}"
ARCH="$(dpkg --print-architecture)"
command -v dpkg-shlibdeps >/dev/null || { echo "dpkg-shlibdeps missing: apt-get install dpkg-dev" >&2; exit 1; }

cargo build --release --locked --quiet
BIN="$PWD/target/release/fencebox"
WORK="$(mktemp -d)"; trap 'rm -rf "$WORK"' EXIT
ROOT="$WORK/root"
mkdir -p "$ROOT/DEBIAN" "$ROOT/usr/sbin" "$ROOT/usr/share/man/man8" "$ROOT/usr/share/doc/fencebox" \
  "$ROOT/usr/lib/tmpfiles.d" "$WORK/links" "$WORK/no-site-agents"

# The three binaries (fencebox; fencebox-agent, every agent call without SSH, built without
# the SSH client; fencebox-shell, the calls over SSH, built without the service), one
# symlink per agent name to the binary that runs it, as `fencebox link` makes them, and
# one man page per name (site agent files excluded).
for b in fencebox fencebox-agent fencebox-shell; do
  install -m 0755 "target/release/$b" "$ROOT/usr/sbin/$b"
  # The compiler-version note section is of no use at run time (lintian: binary-has-unneeded-section).
  objcopy --remove-section=.comment "$ROOT/usr/sbin/$b"
done
NAMES="$(FENCEBOX_AGENTS_DIR="$WORK/no-site-agents" "$BIN" agents | awk '{print $1}')"
[ -n "$NAMES" ] || { echo "no agent names from fencebox agents" >&2; exit 1; }
FENCEBOX_AGENTS_DIR="$WORK/no-site-agents" "$ROOT/usr/sbin/fencebox" link "$ROOT/usr/sbin" >/dev/null
for n in $NAMES; do
  [ -L "$ROOT/usr/sbin/$n" ] || { echo "fencebox link made no $n" >&2; exit 1; }
  ln -s "$BIN" "$WORK/links/$n"
  FENCEBOX_AGENTS_DIR="$WORK/no-site-agents" "$WORK/links/$n" -o manpage | gzip -9n > "$ROOT/usr/share/man/man8/$n.8.gz"
done
sed "s/@VERSION@/$VERSION/" packaging/fencebox.8 | gzip -9n > "$ROOT/usr/share/man/man8/fencebox.8.gz"
# fencebox-agent and fencebox-shell are described in fencebox(8).
for b in fencebox-agent fencebox-shell; do
  printf '.so man8/fencebox.8\n' | gzip -9n > "$ROOT/usr/share/man/man8/$b.8.gz"
done
for n in ${FENCEBOX_DEB_EXTRA_NAMES:-}; do
  ln -s fencebox "$ROOT/usr/sbin/$n"
  printf '.TH %s 8\n.SH NAME\n%s \\- a name this test package has and the next one drops\n' "$n" "$n" |
    gzip -9n > "$ROOT/usr/share/man/man8/$n.8.gz"
  NAMES="$NAMES $n"
done

# Documentation, copyright, changelog, the lock directory.
install -m 0644 packaging/debian/copyright "$ROOT/usr/share/doc/fencebox/copyright"
gzip -9n < packaging/debian/changelog > "$ROOT/usr/share/doc/fencebox/changelog.gz"
for d in README.md docs/compatibility.md docs/families.md docs/pacemaker.md docs/benchmarks.md docs/ssh.md docs/dialogues.md docs/inventory.md docs/import.md docs/api.md docs/locks.md docs/stats.md docs/discover.md docs/console.md; do
  [ -f "$d" ] && gzip -9n < "$d" > "$ROOT/usr/share/doc/fencebox/$(basename "$d").gz"
done
install -m 0644 packaging/tmpfiles.d/fencebox.conf "$ROOT/usr/lib/tmpfiles.d/fencebox.conf"
# The power service's unit, installed and not enabled (docs/api.md).
install -D -m 0644 packaging/systemd/fencebox.service "$ROOT/lib/systemd/system/fencebox.service"

# Maintainer scripts: the diverted names are exactly the agent names in this package.
NAMES_LINE="$(echo $NAMES)"
for s in preinst postinst postrm; do
  sed "s/@NAMES@/$NAMES_LINE/" "packaging/debian/$s" > "$ROOT/DEBIAN/$s"
  chmod 0755 "$ROOT/DEBIAN/$s"
done

# Control: shared-library dependencies as dpkg-shlibdeps finds them.
mkdir -p "$WORK/src/debian"
printf 'Source: fencebox\n\nPackage: fencebox\nArchitecture: any\n' > "$WORK/src/debian/control"
DEPENDS="$(cd "$WORK/src" && dpkg-shlibdeps -O -e"$ROOT/usr/sbin/fencebox" -e"$ROOT/usr/sbin/fencebox-agent" -e"$ROOT/usr/sbin/fencebox-shell" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')"
[ -n "$DEPENDS" ] || { echo "dpkg-shlibdeps found no dependencies" >&2; exit 1; }
# Packed relative relocations (build.rs) need glibc 2.36's loader (GLIBC_ABI_DT_RELR), a
# version dpkg-shlibdeps does not see: it reads imported symbols only.
if readelf -d "$ROOT/usr/sbin/fencebox" | grep -q '(RELR)'; then
  LIBC="$(echo "$DEPENDS" | grep -oE 'libc6 \(>= [^)]+\)' | sed -E 's/libc6 \(>= (.*)\)/\1/' || true)"
  if [ -z "$LIBC" ]; then
    DEPENDS="libc6 (>= 2.36), $DEPENDS"
  elif dpkg --compare-versions "$LIBC" lt 2.36; then
    DEPENDS="${DEPENDS/libc6 (>= $LIBC)/libc6 (>= 2.36)}"
  fi
fi
SIZE="$(du -sk --exclude=DEBIAN "$ROOT" | cut -f1)"
sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$ARCH/" -e "s/@DEPENDS@/$DEPENDS/" -e "s/@SIZE@/$SIZE/" \
  packaging/debian/control > "$ROOT/DEBIAN/control"
(cd "$ROOT" && find usr lib -type f -print0 | sort -z | xargs -0 md5sum > DEBIAN/md5sums)
chmod 0644 "$ROOT/DEBIAN/control" "$ROOT/DEBIAN/md5sums"

DEB="$OUT/fencebox_${VERSION}_${ARCH}.deb"
dpkg-deb --root-owner-group -Zxz --build "$ROOT" "$DEB" >/dev/null
echo "$DEB"
