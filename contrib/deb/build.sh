#!/bin/sh
# Builds xtprobe_<version>_<arch>.deb from the static binary, the man pages
# and completions generated from the clap definitions, and contrib/.
#   contrib/deb/build.sh BINARY MANDIR COMPLETIONDIR OUTDIR [x86_64|aarch64]
# Reproducible: every time and timestamp is SOURCE_DATE_EPOCH (default: the
# last commit's time), files are added in sorted order, gzip keeps no name
# or time: the same inputs give the same bytes.
set -eu
bin=$1 man=$2 comp=$3 out=$4
case "${5:-x86_64}" in
x86_64) debarch=amd64 ;;
aarch64) debarch=arm64 ;;
*) echo "deb: the architecture is x86_64 or aarch64, not $5" >&2; exit 2 ;;
esac
repo=$(cd "$(dirname "$0")/../.." && pwd)
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/Cargo.toml" | head -n1)
root=$(mktemp -d)
chmod 0755 "$root"
trap 'rm -rf "$root"' EXIT
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
    SOURCE_DATE_EPOCH=$(git -C "$repo" log -1 --format=%ct 2>/dev/null || echo 0)
fi
export SOURCE_DATE_EPOCH
umask 022

inst() { # inst MODE SRC DEST
    install -D -m "$1" "$2" "$root/$3"
}
inst 0755 "$bin" usr/bin/xtprobe
for page in "$man"/*.1; do
    install -d "$root/usr/share/man/man1"
    gzip -9n < "$page" > "$root/usr/share/man/man1/$(basename "$page").gz"
    chmod 0644 "$root/usr/share/man/man1/$(basename "$page").gz"
done
inst 0644 "$comp/xtprobe.bash" usr/share/bash-completion/completions/xtprobe
inst 0644 "$comp/_xtprobe" usr/share/zsh/vendor-completions/_xtprobe
inst 0644 "$comp/xtprobe.fish" usr/share/fish/vendor_completions.d/xtprobe.fish
for unit in xtprobe-ensure.service xtprobe-metrics.service xtprobe-metrics.timer; do
    inst 0644 "$repo/contrib/systemd/$unit" "lib/systemd/system/$unit"
done
# dracut runs the module only when asked for (--add xtprobe).
inst 0755 "$repo/contrib/dracut/90xtprobe/module-setup.sh" usr/lib/dracut/modules.d/90xtprobe/module-setup.sh
inst 0755 "$repo/contrib/dracut/90xtprobe/xtprobe-ensure.sh" usr/lib/dracut/modules.d/90xtprobe/xtprobe-ensure.sh
# initramfs-tools: the hook adds nothing unless /etc/default/xtprobe says
# XTPROBE_INITRAMFS=yes (the trigger rebuilds the initramfs on install and
# removal).
inst 0755 "$repo/contrib/initramfs-tools/hooks/xtprobe" usr/share/initramfs-tools/hooks/xtprobe
inst 0755 "$repo/contrib/initramfs-tools/scripts/init-bottom/xtprobe" usr/share/initramfs-tools/scripts/init-bottom/xtprobe
inst 0644 "$repo/contrib/default/xtprobe" etc/default/xtprobe
inst 0644 "$repo/contrib/npd/xtprobe-monitor.json" usr/share/xtprobe/npd/xtprobe-monitor.json
inst 0644 "$repo/contrib/npd/node-problem-detector-daemonset.yaml" usr/share/xtprobe/npd/node-problem-detector-daemonset.yaml
for schema in "$repo"/contrib/schema/*.json; do
    inst 0644 "$schema" "usr/share/xtprobe/schema/$(basename "$schema")"
done
inst 0644 "$repo/contrib/deb/copyright" usr/share/doc/xtprobe/copyright
inst 0644 "$repo/contrib/deb/lintian-overrides" usr/share/lintian/overrides/xtprobe
install -d "$root/usr/share/doc/xtprobe"
# README.md and the guides of docs/ (boot.md, commands.md, …), side by side.
for doc in "$repo/README.md" "$repo"/docs/*.md; do
    name=$(basename "$doc")
    gzip -9n < "$doc" > "$root/usr/share/doc/xtprobe/$name.gz"
    chmod 0644 "$root/usr/share/doc/xtprobe/$name.gz"
done
date=$(date -u -R -d "@$SOURCE_DATE_EPOCH")
printf 'xtprobe (%s) unstable; urgency=medium\n\n  * Built from the xtprobe repository.\n\n -- xtprobe developers <xtprobe@xtprobe.dev>  %s\n' \
    "$version" "$date" | gzip -9n > "$root/usr/share/doc/xtprobe/changelog.gz"
chmod 0644 "$root/usr/share/doc/xtprobe/changelog.gz"

install -d "$root/DEBIAN"
size=$(du -sk --apparent-size --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@SIZE@/$size/" -e "s/@ARCH@/$debarch/" "$repo/contrib/deb/control" > "$root/DEBIAN/control"
(cd "$root" && find . -type f ! -path './DEBIAN/*' ! -path './etc/*' -printf '%P\0' | sort -z | xargs -0 md5sum) > "$root/DEBIAN/md5sums"
for f in postinst prerm postrm; do
    install -m 0755 "$repo/contrib/deb/$f" "$root/DEBIAN/$f"
done
for f in triggers conffiles; do
    install -m 0644 "$repo/contrib/deb/$f" "$root/DEBIAN/$f"
done
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums"
# Every timestamp the same; dpkg-deb adds members in sorted order and
# clamps to SOURCE_DATE_EPOCH.
find "$root" -depth -exec touch --no-dereference --date="@$SOURCE_DATE_EPOCH" {} +
mkdir -p "$out"
deb="$out/xtprobe_${version}_${debarch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
