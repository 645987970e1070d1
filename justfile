# xtprobe tasks. `just --list` shows them; every recipe calls code in this repository.

set shell := ["bash", "-euo", "pipefail", "-c"]

target := "x86_64-unknown-linux-gnu"
static_bin := "target/" + target + "/release/xtprobe"

# The whole test suite: style; unit, live-kernel (as root, each in a fresh
# network namespace) and module-tree tests; then the QEMU matrix.
test: lint kernels
    XTPROBE_REQUIRE_LIVE=1 cargo test --workspace --locked
    just matrix

# Build and fetch the matrix's kernels (cached in ~/.cache/xtprobe).
kernels:
    cargo run -q --locked -p kernel-test -- kernels

# Boot every case of vm-images/matrix.toml, one VM at a time.
matrix *ARGS:
    cargo run -q --locked -p kernel-test -- matrix {{ARGS}}

# Formatting and lints, as CI checks them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# The stripped, statically linked xtprobe for minimal hosts and initramfs
# images; prints its path as the last line.
static:
    RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --locked --target {{target}} --bin xtprobe
    @ls -l {{static_bin}} | awk '{print "size: " $5 " bytes"}'
    @echo {{static_bin}}

# Speed goals, measured side by side in one run (needs root and iptables).
bench: static
    XTPROBE_BENCH_BIN={{static_bin}} cargo bench --bench check
