#!/bin/sh
# dracut pre-pivot hook: the real root is mounted at $NEWROOT. Never stops
# the boot. Kernel command line: xtprobe.profile=NAME (default kuscia),
# xtprobe=0 to skip.
type getarg >/dev/null 2>&1 || . /lib/dracut-lib.sh

if getargbool 1 xtprobe; then
    profile="$(getarg xtprobe.profile=)"
    [ -n "$profile" ] || profile=kuscia
    release="$(uname -r)"
    moddir="$NEWROOT/lib/modules/$release"
    [ -d "$moddir" ] || moddir="$NEWROOT/usr/lib/modules/$release"
    if ! xtprobe ensure --quiet --profile "$profile" --modules-dir "$moddir"; then
        warn "xtprobe: profile $profile: not everything is available; run 'xtprobe doctor --profile $profile' after boot"
    fi
fi
