# xtprobe tasks. `just --list` shows them; every recipe calls code in this repository.

set shell := ["bash", "-euo", "pipefail", "-c"]

target := "x86_64-unknown-linux-gnu"
version := `sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1`
deb_file := "target/deb/xtprobe_" + version + "_amd64.deb"
deb_file_arm64 := "target/deb/xtprobe_" + version + "_arm64.deb"
payload_dir := "target/" + target + "/release"
tools_dir := "target/tools"
suite_dir := "target/iptables-src"

# The whole test suite: style; the Debian package (its tests install it);
# unit, live-kernel (as root, each in a fresh network namespace) and
# module-tree tests; the harness's own tests (user kernels and cases, -j 2,
# TAP/JUnit checked by real consumers, the action by its schema); the QEMU
# matrix; a 10-second smoke run of every fuzz target (the long runs are `just fuzz 600`).
test: lint kernels (deb "x86_64") (deb "aarch64") payload tools suite
    XTPROBE_REQUIRE_LIVE=1 XTPROBE_DEB="$PWD/{{deb_file}}" XTPROBE_DEB_ARM64="$PWD/{{deb_file_arm64}}" XTPROBE_MAN="$PWD/target/man" \
        XTPROBE_COMPLETIONS="$PWD/target/completions" XTPROBE_PAYLOAD="$PWD/{{payload_dir}}" \
        XTPROBE_TOOLS="$PWD/{{tools_dir}}" XTPROBE_IPTABLES_SRC="$PWD/{{suite_dir}}" cargo test --workspace --locked
    just test-aarch64
    just matrix
    just conformance
    just fuzz 10

# The library's unit tests built for aarch64 (musl) and run under
# qemu-aarch64 (qemu-user-static): the layouts and parsers on the other
# architecture. (qemu-user does not carry netlink sockets; the arm64 guests
# of the matrix run the binary on a real aarch64 kernel.)
test-aarch64:
    CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=aarch64-linux-gnu-gcc \
        CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_RUNNER=qemu-aarch64-static \
        RUSTFLAGS="-C target-feature=+crt-static" cargo test --locked --target aarch64-unknown-linux-musl --lib

# Build and fetch the matrix's kernels (cached in ~/.cache/xtprobe).
kernels:
    cargo run -q --locked -p kernel-test -- kernels

# Boot every case of vm-images/matrix.toml on -j VMs (default: the CPUs).
matrix *ARGS:
    cargo run -q --locked -p kernel-test -- matrix {{ARGS}}

# iptables' own extension tests (extensions/*.t), from the Debian source
# package of the installed iptables (needs a deb-src line; .ci/run adds one),
# into target/iptables-src. Never copied into the repository.
suite:
    #!/usr/bin/env bash
    set -euo pipefail
    d={{suite_dir}}
    [ -f $d/extensions/libxt_comment.t ] && exit 0
    v=$(dpkg-query -W -f='${Version}' iptables)
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    (cd "$tmp" && apt-get source -qq --download-only "iptables=$v" 2>/dev/null) || {
        echo "apt-get source iptables=$v failed: add a deb-src line (see .ci/run) and run apt-get update"; exit 1; }
    tar -xf "$tmp"/iptables_*.orig.tar.* -C "$tmp"
    rm -rf $d && mkdir -p $d && mv "$tmp"/iptables-*/extensions $d/
    echo "$d: iptables $v, $(ls $d/extensions/*.t | wc -l) test files"

# xtprobe judged by iptables' own tests: the real client and `check --rules`
# on every rule, on this host (fresh netns, nft and legacy) and in Debian
# 6.12 guests (its netfilter modules as shipped, and a fifth of them removed)
# where `ensure` must make the client's rules load. Report: target/conformance.
conformance *ARGS: suite kernels payload
    cargo run -q --locked -p kernel-test -- conformance --suite {{suite_dir}} --host \
        --kernel debian-6.12 --prune 17:20 --report target/conformance {{ARGS}}

# Formatting and lints, as CI checks them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# The static xtprobe for minimal hosts and initramfs images: musl
# static-pie, at most 1.5 MiB, built with the pinned nightly's build-std
# (contrib/static/build.sh says how). ARCH: x86_64 or aarch64. Prints its
# path as the last line.
static ARCH="x86_64":
    contrib/static/build.sh {{ARCH}} small

# The same with stable Rust and its prebuilt std (about 2 MiB; on aarch64
# static but not PIE): the fallback.
static-stable ARCH="x86_64":
    contrib/static/build.sh {{ARCH}} stable

# What the VMs carry: the static xtprobe and the static guest runner.
payload:
    RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --locked --target {{target}} \
        -p xtprobe --bin xtprobe -p kernel-test --bin guest-init

# The validators the harness tests use (target/tools), from PyPI: in a venv,
# check-jsonschema (GitHub's action and workflow schemas) and tap.py (a TAP 13
# consumer that reads the YAML blocks); Jenkins' JUnit XSD (junit-10.xsd, in
# pytest's source release) for xmllint.
tools:
    #!/usr/bin/env bash
    set -euo pipefail
    d={{tools_dir}}
    [ -x $d/venv/bin/tappy ] || { /usr/bin/python3 -m venv $d/venv && $d/venv/bin/pip install -q check-jsonschema==0.39.0 'tap.py[yaml]==3.2.1'; }
    if [ ! -f $d/junit-10.xsd ]; then
        tmp=$(mktemp -d)
        $d/venv/bin/pip download -q --no-deps --no-binary :all: pytest==8.3.5 -d $tmp
        tar -xzf $tmp/pytest-8.3.5.tar.gz -C $tmp pytest-8.3.5/testing/example_scripts/junit-10.xsd
        mv $tmp/pytest-8.3.5/testing/example_scripts/junit-10.xsd $d/junit-10.xsd
        rm -rf $tmp
    fi
    echo "$d: $($d/venv/bin/check-jsonschema --version), tap.py $($d/venv/bin/python -c 'import tap; print(tap.__version__)'), junit-10.xsd"

# Man pages, generated from the clap definitions (target/man).
man:
    cargo run -q --locked --example docs -- man target/man

# bash, zsh and fish completions, generated from the clap definitions (target/completions).
completions:
    cargo run -q --locked --example docs -- completions target/completions

# The Debian package (target/deb/xtprobe_<version>_amd64.deb): the static
# binary, man pages, completions, systemd units, dracut and initramfs-tools
# files, the NPD config. Prints its path as the last line.
deb ARCH="x86_64": man completions
    contrib/deb/build.sh "$(contrib/static/build.sh {{ARCH}} small | tail -n1)" target/man target/completions target/deb {{ARCH}}

# Speed goals, measured side by side in one run (needs root and iptables).
bench:
    XTPROBE_BENCH_BIN="$PWD/$(contrib/static/build.sh x86_64 small | tail -n1)" cargo bench --bench check

# The harness's speed goals, side by side in one run: a tiny kernel's boot to
# verdict on the PC (bzImage) and on microvm (PVH vmlinux), N boots each;
# with MATRIX=N also N rounds of the warm matrix with -j 1 and -j 2 (minutes each). OLD=FILE
# adds a bzImage built before the fast-boot options as the first row.
bench-harness MATRIX="" OLD="": kernels payload
    XTPROBE_PAYLOAD="$PWD/{{payload_dir}}" XTPROBE_BENCH_MATRIX="{{MATRIX}}" XTPROBE_BENCH_OLD_BZIMAGE="{{OLD}}" \
        cargo bench --locked -p kernel-test --bench harness

# Fuzz every parser of outside bytes for SECONDS each (cargo-fuzz on the
# nightly toolchain; installs cargo-fuzz if missing). Seeds come from
# fuzz/corpus (read only); what the fuzzer finds goes to target/fuzz-corpus.
# A crash fails the recipe and leaves its input in fuzz/artifacts/.
# Extra ARGS go to libFuzzer (e.g. -fork=2). SANITIZER: address or none.
fuzz SECONDS="20" SANITIZER="address" *ARGS="":
    command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
    cd fuzz && cargo +nightly fuzz build -s {{SANITIZER}}
    cd fuzz && for t in $(cargo +nightly fuzz list); do \
        mkdir -p ../target/fuzz-corpus/$t; \
        log=../target/fuzz-$t.log; \
        if ! cargo +nightly fuzz run -s {{SANITIZER}} $t ../target/fuzz-corpus/$t corpus/$t -- \
            -max_total_time={{SECONDS}} -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 {{ARGS}} > $log 2>&1; then \
            tail -60 $log; echo "fuzz $t: FAILED; the input is in fuzz/artifacts/$t"; exit 1; \
        fi; \
        echo "fuzz $t: $(awk '/stat::number_of_executed_units/ {s += $NF} END {print s + 0}' $log) runs, no crash"; \
    done
