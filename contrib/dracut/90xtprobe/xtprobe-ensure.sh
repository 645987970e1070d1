#!/bin/sh
# dracut pre-pivot hook: the real root is mounted at $NEWROOT. Never stops
# the boot: on a failure it logs what is missing and why, one line each.
# Kernel command line: xtprobe.profile=NAME|FILE (default: XTPROBE_PROFILE
# from /etc/default/xtprobe, else kuscia); xtprobe=0 (or off, no) skips it.
type getarg >/dev/null 2>&1 || . /lib/dracut-lib.sh

if getargbool 1 xtprobe; then
    XTPROBE_PROFILE=kuscia
    [ -r /etc/default/xtprobe ] && . /etc/default/xtprobe
    profile="$(getarg xtprobe.profile=)"
    [ -n "$profile" ] || profile="$XTPROBE_PROFILE"
    release="$(uname -r)"
    moddir="$NEWROOT/lib/modules/$release"
    [ -d "$moddir" ] || moddir="$NEWROOT/usr/lib/modules/$release"
    use="$profile"
    case "$profile" in
    /*) use="$NEWROOT$profile" ;;
    esac
    out="$(xtprobe ensure --quiet --profile "$use" --modules-dir "$moddir" 2>&1)"
    status=$?
    case $status in
    0) info "xtprobe: profile $profile: every required extension is available" ;;
    2) warn "xtprobe: profile $profile cannot be used: $out" ;;
    *)
        warn "xtprobe: profile $profile: not everything is available (ensure exit $status):"
        xtprobe doctor --brief --profile "$use" --modules-dir "$moddir" 2>&1 | while IFS= read -r line; do
            warn "xtprobe:   $line"
        done
        warn "xtprobe: after boot: xtprobe doctor --profile $profile"
        ;;
    esac
fi
