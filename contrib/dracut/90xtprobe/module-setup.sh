#!/bin/bash
# dracut module: put the static xtprobe into the initramfs and run
# `xtprobe ensure` before switching to the real root, loading modules from
# the real root's module tree.
# The package installs it in /usr/lib/dracut/modules.d/90xtprobe. It is
# included when /etc/default/xtprobe says XTPROBE_INITRAMFS=yes, or when
# asked for (dracut --add xtprobe, add_dracutmodules+=" xtprobe ").

check() {
    require_binaries xtprobe || return 1
    XTPROBE_INITRAMFS=no
    [ -r "${XTPROBE_DEFAULT:-/etc/default/xtprobe}" ] && . "${XTPROBE_DEFAULT:-/etc/default/xtprobe}"
    case "$XTPROBE_INITRAMFS" in
    yes | true | 1) return 0 ;;
    esac
    return 255
}

depends() {
    return 0
}

install() {
    inst_binary "$(command -v xtprobe)" /usr/bin/xtprobe
    inst_hook pre-pivot 90 "$moddir/xtprobe-ensure.sh"
    [ -r /etc/default/xtprobe ] && inst_simple /etc/default/xtprobe /etc/default/xtprobe
    return 0
}
