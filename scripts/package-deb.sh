#!/usr/bin/env bash
# Builds the Debian package of zdm from a built binary: `make package` runs it after building the
# zdm target. Contents and the reasons for them: docs/deploy.md ("The Debian package").
#
#   scripts/package-deb.sh [--binary PATH] [--output-dir DIR] [BUILD_DIR]
#
# BUILD_DIR (default: build) gives the binary BUILD_DIR/apps/zdm/zdm and the output directory
# BUILD_DIR. Writes OUTPUT_DIR/zdm_<version>_<arch>.deb, where <version> is the binary's version
# (zdm --version) plus the Debian revision of deploy/debian/changelog's first entry, and prints its
# path on the last line. Tools: dpkg-deb, dpkg-shlibdeps (dpkg-dev), strip, gzip.
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=build
binary=
out=
while (($#)); do
  case "$1" in
    --binary) binary=$2; shift 2 ;;
    --output-dir) out=$2; shift 2 ;;
    -h | --help) sed -n '2,10p' "$0"; exit 0 ;;
    -*) echo "package-deb: unknown option $1" >&2; exit 2 ;;
    *) build=$1; shift ;;
  esac
done
binary=${binary:-$build/apps/zdm/zdm}
out=${out:-$build}

fail() { echo "package-deb: $*" >&2; exit 1; }
for tool in dpkg-deb dpkg-shlibdeps strip gzip; do
  command -v "$tool" >/dev/null || fail "$tool is missing: run scripts/install-deps.sh"
done
[[ -x "$binary" ]] || fail "no zdm binary at $binary: build it first (make package does)"

# Version: the binary's ("zdm 0.1.0") and the changelog's revision ("zdm (0.1.0-1) ...").
upstream=$("$binary" --version | sed -n 's/^zdm \([0-9][0-9A-Za-z.+~]*\)$/\1/p')
[[ -n "$upstream" ]] || fail "cannot read the version from '$binary --version'"
version=$(sed -n '1s/^zdm (\([^)]*\)).*/\1/p' "$src/deploy/debian/changelog")
[[ "${version%-*}" == "$upstream" ]] ||
  fail "deploy/debian/changelog starts with version '$version' but the binary is $upstream:" \
    "add a changelog entry '$upstream-1'"
arch=$(dpkg --print-architecture)
maintainer=$(sed -n 's/^ -- \(.*>\)  .*/\1/p' "$src/deploy/debian/changelog" | head -n 1)
[[ -n "$maintainer" ]] || fail "no maintainer line ( -- Name <address>  date) in deploy/debian/changelog"

work=$(mktemp -d "${TMPDIR:-/tmp}/zdm-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
umask 022
# dpkg-shlibdeps wants the layout of a source package: debian/control and debian/<package>/.
root="$work/debian/zdm"
mkdir -p "$root/DEBIAN"

install -D -m 0755 "$binary" "$root/usr/bin/zdm"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$root/usr/bin/zdm"
install -D -m 0644 "$src/deploy/systemd/zdm-proxy.service" \
  "$root/lib/systemd/system/zdm-proxy.service"
install -D -m 0644 "$src/deploy/systemd/zdm.conf" "$root/usr/lib/sysusers.d/zdm.conf"
install -D -m 0644 "$src/deploy/debian/proxy.yaml" "$root/etc/zdm/proxy.yaml"

# Monitoring files, whatever deploy/ holds now (written separately: docs/monitoring.md).
shopt -s nullglob
dashboards=("$src"/deploy/grafana/dashboards/*.json)
for f in "${dashboards[@]}"; do install -D -m 0644 "$f" "$root/usr/share/zdm/dashboards/${f##*/}"; done
# Prometheus: prometheus.yml, the rules and the file_sd target files under targets/ (relative
# paths kept); not the promtool rule tests (*_test.yml).
while IFS= read -r -d '' f; do
  install -D -m 0644 "$f" "$root/usr/share/zdm/prometheus/${f#"$src"/deploy/prometheus/}"
done < <(find "$src/deploy/prometheus" -type f -name '*.yml' ! -name '*_test.yml' -print0 2>/dev/null | sort -z)
shopt -u nullglob

doc="$root/usr/share/doc/zdm"
install -D -m 0644 "$src/deploy/debian/copyright" "$doc/copyright"
gzip -9n <"$src/deploy/debian/changelog" >"$doc/changelog.Debian.gz"
install -d -m 0755 "$root/usr/share/man/man1"
sed "1s/\"zdm [^\"]*\"/\"zdm $upstream\"/" "$src/deploy/debian/zdm.1" | gzip -9n >"$root/usr/share/man/man1/zdm.1.gz"
chmod 0644 "$doc/changelog.Debian.gz" "$root/usr/share/man/man1/zdm.1.gz"
if [[ -f "$src/deploy/debian/lintian-overrides" ]]; then
  install -D -m 0644 "$src/deploy/debian/lintian-overrides" "$root/usr/share/lintian/overrides/zdm"
fi

for script in postinst prerm postrm; do
  install -m 0755 "$src/deploy/debian/$script" "$root/DEBIAN/$script"
done
echo /etc/zdm/proxy.yaml >"$root/DEBIAN/conffiles"
chmod 0644 "$root/DEBIAN/conffiles"

# Depends: the shared libraries the binary links, with the versions their packages declare.
printf 'Source: zdm\n\nPackage: zdm\nArchitecture: any\n' >"$work/debian/control"
# (Its warning about the package directory is about library paths, not about this binary.)
depends=$(cd "$work" && dpkg-shlibdeps -O -e debian/zdm/usr/bin/zdm \
  2> >(grep -v "should already be installed in their package's directory" >&2) |
  sed -n 's/^shlibs:Depends=//p')
[[ -n "$depends" ]] || fail "dpkg-shlibdeps found no dependencies of the binary"
installed_size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s|@VERSION@|$version|" -e "s|@ARCH@|$arch|" -e "s|@MAINTAINER@|$maintainer|" \
  -e "s|@INSTALLED_SIZE@|$installed_size|" -e "s|@DEPENDS@|$depends|" \
  "$src/deploy/debian/control.in" >"$root/DEBIAN/control"
(cd "$root" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | sort -z | xargs -0 md5sum) \
  >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums"

mkdir -p "$out"
deb="$out/zdm_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
