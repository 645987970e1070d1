#!/bin/sh
# Builds xtprobe_<version>_amd64.deb from the static binary, the man pages
# and completions generated from the clap definitions, and contrib/.
#   contrib/deb/build.sh BINARY MANDIR COMPLETIONDIR OUTDIR
set -eu
bin=$1 man=$2 comp=$3 out=$4
repo=$(cd "$(dirname "$0")/../.." && pwd)
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/Cargo.toml" | head -n1)
root=$(mktemp -d)
chmod 0755 "$root"
trap 'rm -rf "$root"' EXIT

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
# initramfs-tools would run a hook in every initramfs: shipped to copy in.
inst 0755 "$repo/contrib/initramfs-tools/hooks/xtprobe" usr/share/xtprobe/initramfs-tools/hooks/xtprobe
inst 0755 "$repo/contrib/initramfs-tools/scripts/init-bottom/xtprobe" usr/share/xtprobe/initramfs-tools/scripts/init-bottom/xtprobe
inst 0644 "$repo/contrib/npd/xtprobe-monitor.json" usr/share/xtprobe/npd/xtprobe-monitor.json
inst 0644 "$repo/contrib/deb/copyright" usr/share/doc/xtprobe/copyright
inst 0644 "$repo/contrib/deb/lintian-overrides" usr/share/lintian/overrides/xtprobe
install -d "$root/usr/share/doc/xtprobe"
date=$(git -C "$repo" log -1 --format=%aD 2>/dev/null || date -R)
printf 'xtprobe (%s) unstable; urgency=medium\n\n  * Built from the xtprobe repository.\n\n -- xtprobe developers <xtprobe@xtprobe.dev>  %s\n' \
    "$version" "$date" | gzip -9n > "$root/usr/share/doc/xtprobe/changelog.gz"
chmod 0644 "$root/usr/share/doc/xtprobe/changelog.gz"

install -d "$root/DEBIAN"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@SIZE@/$size/" "$repo/contrib/deb/control" > "$root/DEBIAN/control"
(cd "$root" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | sort -z | xargs -0 md5sum) > "$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums"
mkdir -p "$out"
deb="$out/xtprobe_${version}_amd64.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
