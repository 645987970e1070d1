//! `just bench-harness`: the harness's speed goals, side by side in one run.
//!
//! 1. Boot to verdict of the tiny 6.12 `=y` kernel running `xtprobe check
//!    comment`, the ways the harness can boot it, interleaved, N boots each
//!    (`XTPROBE_BENCH_BOOTS`, default 11): QEMU's PC with the bzImage
//!    (firmware, then the kernel's decompressor) and microvm with the PVH
//!    vmlinux of the same build (what the harness uses); and, when
//!    `XTPROBE_BENCH_OLD_BZIMAGE` names one, a kernel built before the
//!    fast-boot options (legacy PTYs, four UARTs) on the PC. Goal: the
//!    harness's way ≤ 0.7 s median, or ≤ 0.64× the old way (0.7 of 1.1 s on
//!    the machine the goal was set on). When the arm64 payload is built
//!    (`XTPROBE_PAYLOAD_AARCH64`, default the matrix's
//!    target/aarch64-unknown-linux-musl/release) and tiny-6.12-arm64-y is
//!    cached, the same question on arm64 (QEMU's virt machine, Cortex-A57,
//!    TCG) is a last row: a figure, not a goal.
//! 2. With `XTPROBE_BENCH_MATRIX=N`: N rounds of the warm matrix
//!    (`kernel-test matrix`, every case) with `-j 1` then `-j 2`; medians.
//!    Goal: `-j 2` ≤ 0.6× `-j 1`.
//!
//! Needs the payload (`XTPROBE_PAYLOAD`, `just payload`) and the kernels
//! (`just kernels`). Exits 1 if a goal is missed, 2 if the bench cannot run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use kernel_test::arch::Arch;
use kernel_test::image::{self, ImageSpec, ModuleSet};
use kernel_test::kernels::{Kernel, read_index};
use kernel_test::protocol::{self, Event, GuestCase, GuestStep};
use kernel_test::qemu::{self, Machine, VmConfig};

fn fail(why: &str) -> ! {
    eprintln!("bench-harness: {why}");
    std::process::exit(2);
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// One boot: seconds to the verdict line and to QEMU's exit.
fn boot(kernel: &Path, machine: Machine, initrd: &Path) -> (f64, f64) {
    let cfg = VmConfig {
        kernel: kernel.to_path_buf(),
        machine,
        initrd: initrd.to_path_buf(),
        memory_mib: 256,
        nonce: qemu::nonce(),
        timeout: Duration::from_secs(60),
        append: String::new(),
        cpus: 1,
        silence: Duration::from_secs(60),
    };
    let start = Instant::now();
    let mut verdict = None;
    let run = qemu::boot(&cfg, |l| {
        if let Some(Event::Exit(_, 0)) = protocol::parse(&cfg.nonce, l) {
            verdict = Some(start.elapsed().as_secs_f64());
        }
    })
    .unwrap_or_else(|e| fail(&e));
    match verdict {
        Some(v) => (v, run.elapsed.as_secs_f64()),
        None => fail(&format!("{} on {machine:?} gave no verdict: {:?}", kernel.display(), run.serial)),
    }
}

fn boots(payload: &Path) -> bool {
    let kernels = read_index();
    let Some(Kernel::Tiny(tiny)) = kernels.iter().find(|k| k.name() == "tiny-6.12-y") else {
        fail("tiny-6.12-y is not in the cache (just kernels)")
    };
    let Some(vmlinux) = &tiny.vmlinux else { fail("tiny-6.12-y has no vmlinux (built before CONFIG_PVH)") };
    let case = GuestCase {
        env: Vec::new(),
        steps: vec![GuestStep {
            commands: vec![vec!["xtprobe".into(), "check".into(), "comment".into()]],
            if_failed: None,
            expect: None,
        }],
        sysctl: Vec::new(),
        unmount_proc: false,
        stop_on_failure: true,
        shell: false,
    };
    let spec = ImageSpec {
        guest: &payload.join("guest-init"),
        xtprobe: &payload.join("xtprobe"),
        release: &tiny.release,
        modules: ModuleSet::All(tiny.modules.clone()),
        without_modules_dep: false,
        modprobe: None,
        shell: None,
        files: &[],
        made: &[],
        clients: &[],
        case: &case,
        arch: Arch::X86_64,
    };
    let dir = std::env::temp_dir().join(format!("kt-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| fail(&e.to_string()));
    let initrd = dir.join("initrd.cpio");
    std::fs::write(&initrd, image::build(&spec).unwrap_or_else(|e| fail(&e)))
        .unwrap_or_else(|e| fail(&e.to_string()));

    let mut ways: Vec<(&str, PathBuf, Machine, PathBuf)> = Vec::new();
    if let Some(old) = std::env::var_os("XTPROBE_BENCH_OLD_BZIMAGE").filter(|s| !s.is_empty()) {
        ways.push(("old kernel, PC, bzImage", PathBuf::from(old), Machine::Pc, initrd.clone()));
    }
    ways.push(("PC, bzImage", tiny.bzimage.clone(), Machine::Pc, initrd.clone()));
    ways.push(("microvm, PVH vmlinux", vmlinux.clone(), Machine::Microvm, initrd.clone()));
    let harness_row = ways.len() - 1;
    if let Some((image, initrd)) = arm64(&kernels, &case, &dir) {
        ways.push(("arm64 virt, Image", image, Machine::Virt, initrd));
    }
    let n: usize = std::env::var("XTPROBE_BENCH_BOOTS").ok().and_then(|s| s.parse().ok()).unwrap_or(11);
    let mut verdicts = vec![Vec::new(); ways.len()];
    let mut exits = vec![Vec::new(); ways.len()];
    for _ in 0..n {
        for (i, (_, kernel, machine, initrd)) in ways.iter().enumerate() {
            let (v, e) = boot(kernel, *machine, initrd);
            verdicts[i].push(v);
            exits[i].push(e);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!("boot to verdict, tiny-6.12-y, `xtprobe check comment`, {n} boots each, interleaved (medians):");
    let medians: Vec<(f64, f64)> =
        verdicts.iter_mut().zip(exits.iter_mut()).map(|(v, e)| (median(v), median(e))).collect();
    let first = medians[0].0;
    for ((name, _, _, _), (v, e)) in ways.iter().zip(&medians) {
        println!("  {name:<26} verdict {v:.3} s  QEMU exit {e:.3} s  ({:.2}x the first row)", v / first);
    }
    let (now, _) = medians[harness_row];
    let ok = now <= 0.7 || now / first <= 0.64;
    println!(
        "  goal: the harness's way <= 0.7 s or <= 0.64x the first row: {}",
        if ok { "met" } else { "MISSED" }
    );
    ok
}

/// The arm64 row's kernel image and initramfs, when its payload and kernel
/// are there.
fn arm64(kernels: &[Kernel], case: &GuestCase, dir: &Path) -> Option<(PathBuf, PathBuf)> {
    let payload = std::env::var_os("XTPROBE_PAYLOAD_AARCH64").map(PathBuf::from).unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../target")
            .join(Arch::Aarch64.rust_target())
            .join("release")
    });
    let Some(Kernel::Tiny(tiny)) = kernels.iter().find(|k| k.name() == "tiny-6.12-arm64-y") else {
        eprintln!("bench-harness: no arm64 row: tiny-6.12-arm64-y is not in the cache (just kernels)");
        return None;
    };
    if !payload.join("xtprobe").is_file() || !payload.join("guest-init").is_file() {
        eprintln!(
            "bench-harness: no arm64 row: no aarch64 payload in {} (just matrix builds it)",
            payload.display()
        );
        return None;
    }
    let spec = ImageSpec {
        guest: &payload.join("guest-init"),
        xtprobe: &payload.join("xtprobe"),
        release: &tiny.release,
        modules: ModuleSet::All(tiny.modules.clone()),
        without_modules_dep: false,
        modprobe: None,
        shell: None,
        files: &[],
        made: &[],
        clients: &[],
        case,
        arch: Arch::Aarch64,
    };
    let initrd = dir.join("initrd-arm64.cpio");
    std::fs::write(&initrd, image::build(&spec).unwrap_or_else(|e| fail(&e)))
        .unwrap_or_else(|e| fail(&e.to_string()));
    Some((tiny.bzimage.clone(), initrd))
}

fn matrix_wall(payload: &Path, jobs: &str) -> f64 {
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_kernel-test"))
        .arg("--xtprobe")
        .arg(payload.join("xtprobe"))
        .arg("--guest")
        .arg(payload.join("guest-init"))
        .args(["--images", "vm-images", "matrix", "--format", "json", "-j", jobs])
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap())
        .output()
        .unwrap_or_else(|e| fail(&e.to_string()));
    let wall = start.elapsed().as_secs_f64();
    if !out.status.success() {
        fail(&format!("the matrix with -j {jobs} failed:\n{}", String::from_utf8_lossy(&out.stdout)));
    }
    wall
}

fn main() {
    // `cargo bench` passes --bench; nothing else is taken.
    let payload =
        PathBuf::from(std::env::var_os("XTPROBE_PAYLOAD").unwrap_or_else(|| fail("set XTPROBE_PAYLOAD")));
    let mut ok = boots(&payload);
    // XTPROBE_BENCH_MATRIX=N: N rounds of -j 1 then -j 2 (medians).
    let rounds: usize = std::env::var("XTPROBE_BENCH_MATRIX").ok().and_then(|s| s.parse().ok()).unwrap_or(0);
    if rounds > 0 {
        let (mut one, mut two) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            one.push(matrix_wall(&payload, "1"));
            two.push(matrix_wall(&payload, "2"));
        }
        println!(
            "warm matrix, every case, {rounds} round(s) of -j 1 then -j 2: -j 1 {one:.1?} s, -j 2 {two:.1?} s"
        );
        let (one, two) = (median(&mut one), median(&mut two));
        let ratio = two / one;
        println!("  medians: -j 1 {one:.1} s, -j 2 {two:.1} s: {ratio:.2}x");
        println!("  goal: -j 2 <= 0.6x -j 1: {}", if ratio <= 0.6 { "met" } else { "MISSED" });
        ok &= ratio <= 0.6;
    }
    std::process::exit(if ok { 0 } else { 1 });
}
