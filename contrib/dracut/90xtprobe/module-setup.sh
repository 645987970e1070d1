#!/bin/bash
# dracut module: put the static xtprobe into the initramfs and run
# `xtprobe ensure` before switching to the real root, loading modules from
# the real root's module tree.
# Install: cp -r 90xtprobe /usr/lib/dracut/modules.d/ && dracut -f --add xtprobe

check() {
    require_binaries xtprobe || return 1
    return 255 # only when asked for (--add xtprobe or add_dracutmodules+=" xtprobe ")
}

depends() {
    return 0
}

install() {
    inst_binary "$(command -v xtprobe)" /usr/bin/xtprobe
    inst_hook pre-pivot 90 "$moddir/xtprobe-ensure.sh"
}
