#!/usr/bin/env bash
# Builds the static xtprobe for ARCH (x86_64 or aarch64): a musl static-pie
# binary. The last line of output is its path.
#
#   contrib/static/build.sh ARCH small     the pinned nightly (NIGHTLY below):
#                                          std rebuilt for size (build-std,
#                                          optimize_for_size), panics abort at
#                                          once, no unwind tables: ≤ 1.5 MiB
#   contrib/static/build.sh ARCH stable    the fallback: stable Rust, its
#                                          prebuilt std (~2 MiB)
#
# aarch64 links with aarch64-linux-gnu-gcc (gcc-aarch64-linux-gnu). Rust's
# aarch64 musl target links static binaries without PIE; the small recipe
# uses the same target with static PIE enabled, a spec derived from the
# pinned nightly's own (`--print target-spec-json`).
set -euo pipefail
cd "$(dirname "$0")/../.."

# The pinned nightly: the newest whose aarch64 musl std was published.
NIGHTLY=nightly-2026-04-01
LIMIT=1572864   # 1.5 MiB

arch=${1:-x86_64}
recipe=${2:-small}
case "$arch" in
x86_64 | aarch64) ;;
*) echo "static: ARCH is x86_64 or aarch64, not $arch" >&2; exit 2 ;;
esac
triple="$arch-unknown-linux-musl"
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=aarch64-linux-gnu-gcc
if [ "$arch" = aarch64 ] && ! command -v aarch64-linux-gnu-gcc >/dev/null; then
    echo "static: aarch64-linux-gnu-gcc is missing (apt-get install gcc-aarch64-linux-gnu)" >&2
    exit 2
fi

case "$recipe" in
stable)
    rustup target list --installed | grep -qx "$triple" || rustup target add "$triple" >&2
    RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=pie" \
        cargo build --release --locked --target "$triple" --bin xtprobe >&2
    bin="target/$triple/release/xtprobe"
    ;;
small)
    if ! rustup run "$NIGHTLY" rustc --version >/dev/null 2>&1; then
        rustup toolchain install "$NIGHTLY" --profile minimal --component rust-src \
            --target x86_64-unknown-linux-musl --target aarch64-unknown-linux-musl >&2
    fi
    target="$triple"
    extra=()
    if [ "$arch" = aarch64 ]; then
        # The built-in spec with static PIE on (rcrt1.o and the rest are
        # already listed for static-pic executables).
        mkdir -p target/specs
        rustup run "$NIGHTLY" rustc -Z unstable-options --print target-spec-json --target "$triple" |
            python3 -c 'import json, sys; d = json.load(sys.stdin); d["static-position-independent-executables"] = True; d.pop("is-builtin", None); json.dump(d, sys.stdout, indent=2)' \
                > "target/specs/$triple.json"
        target="target/specs/$triple.json"
        extra=(-Z json-target-spec)
    fi
    RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=pie -C force-unwind-tables=no -Z unstable-options -C panic=immediate-abort" \
        cargo "+$NIGHTLY" build --release --locked --target "$target" --bin xtprobe \
        -Z build-std=std,panic_abort -Z build-std-features=optimize_for_size "${extra[@]}" \
        --target-dir target/small >&2
    bin="target/small/$triple/release/xtprobe"
    ;;
*) echo "static: the recipe is small or stable, not $recipe" >&2; exit 2 ;;
esac

size=$(stat -c %s "$bin")
kind=$(file -b "$bin")
echo "size: $size bytes ($recipe, $arch): $kind" >&2
case "$kind" in
*static-pie*) ;;
# Stable Rust's aarch64 musl target cannot link a static PIE: static is
# what the fallback can give there.
*"statically linked"*) [ "$recipe" = stable ] || { echo "static: $bin is not a static PIE" >&2; exit 1; } ;;
*) echo "static: $bin is not static" >&2; exit 1 ;;
esac
if [ "$recipe" = small ] && [ "$size" -gt "$LIMIT" ]; then
    echo "static: $bin is $size bytes, over the 1.5 MiB goal ($LIMIT)" >&2
    exit 1
fi
echo "$bin"
