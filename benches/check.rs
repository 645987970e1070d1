//! `just bench`: how fast `xtprobe check` answers for 25 extensions in IPv4
//! and IPv6, measured side by side in one run against
//!
//! - spawning a static no-op binary (goal: xtprobe ≤ 3× that), and
//! - the shell-out a user would write instead: one `iptables-nft -m X --help`
//!   (or `-j X --help`) per extension and family (goal: xtprobe ≥ 50× faster).
//!
//! Everything runs in a fresh network namespace (the bench unshares one
//! before it spawns anything), so the host's ruleset is untouched. Runs of
//! the three commands are interleaved so that drift in machine load hits
//! all of them alike; the figure per command is the median wall time.
//!
//! And `xtprobe check --profile kube-proxy-nft` (nf_tables expressions,
//! chain types and set features, asked in validate-only batches) against
//! the same no-op spawn (goal: ≤ 3×), and, for scale, against one
//! `nft --check -f` of a one-chain file: every aborted nf_tables batch
//! waits for an RCU grace period in the kernel (`synchronize_rcu()` in
//! `__nf_tables_abort()`), for nft as for xtprobe, so one batch is the floor.
//!
//! And, on Debian's 6.12 tree from the harness's cache, resolving an alias
//! without modules.alias against depmod indexing the same tree (goal:
//! xtprobe no slower).
//!
//! Exits 1 if a goal is missed, 2 if the bench cannot run.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const MATCHES: [&str; 18] = [
    "comment",
    "mark",
    "conntrack",
    "addrtype",
    "statistic",
    "recent",
    "multiport",
    "tcp",
    "udp",
    "set",
    "physdev",
    "mac",
    "limit",
    "state",
    "owner",
    "iprange",
    "length",
    "pkttype",
];
const TARGETS: [&str; 7] = ["MASQUERADE", "DNAT", "SNAT", "MARK", "REJECT", "CONNMARK", "LOG"];

fn main() {
    if let Err(e) = nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET) {
        eprintln!("bench: unshare(CLONE_NEWNET) failed ({e}); run as root");
        std::process::exit(2);
    }
    // `just bench` passes the static build (what goes onto minimal hosts and
    // into initramfs images); plain `cargo bench` measures cargo's own build.
    let xtprobe = std::env::var_os("XTPROBE_BENCH_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_xtprobe")));
    println!("binary: {}", xtprobe.display());
    let noop = build_noop().unwrap_or_else(|e| {
        eprintln!("bench: building the static no-op binary failed: {e}");
        std::process::exit(2);
    });
    let (iptables, ip6tables) = ("/usr/sbin/iptables-nft", "/usr/sbin/ip6tables-nft");
    for p in [iptables, ip6tables] {
        if !Path::new(p).exists() {
            eprintln!("bench: {p} is missing (apt-get install iptables)");
            std::process::exit(2);
        }
    }

    let mut specs: Vec<String> = MATCHES.iter().map(|m| m.to_string()).collect();
    specs.extend(TARGETS.iter().map(|t| format!("target:{t}")));
    let mut xt_args = vec!["check".to_string(), "--quiet".to_string(), "--family".into(), "ipv4,ipv6".into()];
    xt_args.extend(specs);

    // Sanity: every command works before it is timed.
    let status = Command::new(&xtprobe).args(&xt_args).status().expect("run xtprobe");
    assert!(status.success(), "xtprobe check failed: {status} (are all 25 extensions available?)");

    let nft_args = ["check", "--quiet", "--profile", "kube-proxy-nft"];
    let status = Command::new(&xtprobe).args(nft_args).status().expect("run xtprobe");
    assert!(matches!(status.code(), Some(0 | 1)), "xtprobe check --profile kube-proxy-nft failed: {status}");

    let nft_file = std::env::temp_dir().join(format!("xtprobe-bench-{}.nft", std::process::id()));
    std::fs::write(&nft_file, "table ip t {\n chain c { type filter hook input priority 0; }\n}\n")
        .expect("write");
    let have_nft = Path::new("/usr/sbin/nft").exists();

    let rounds = 25;
    let inner = 20; // spawns of xtprobe and no-op per round
    let mut t_noop = Vec::new();
    let mut t_xtprobe = Vec::new();
    let mut t_iptables = Vec::new();
    let mut t_nft = Vec::new();
    let mut t_nft_check = Vec::new();
    for _ in 0..rounds {
        if have_nft {
            t_nft_check.push(time(Command::new("/usr/sbin/nft").arg("--check").arg("-f").arg(&nft_file)));
        }
        for _ in 0..inner {
            t_noop.push(time(&mut Command::new(&noop)));
            t_xtprobe.push(time(Command::new(&xtprobe).args(&xt_args)));
            t_nft.push(time(Command::new(&xtprobe).args(nft_args)));
        }
        t_iptables.push(time_shell_out(iptables, ip6tables));
    }
    let noop_med = median(&mut t_noop);
    let xt_med = median(&mut t_xtprobe);
    let ipt_med = median(&mut t_iptables);
    let nft_med = median(&mut t_nft);
    let nft_vs_noop = ratio(nft_med, noop_med);
    let vs_noop = ratio(xt_med, noop_med);
    let vs_iptables = ratio(ipt_med, xt_med);

    println!("xtprobe check, 25 extensions × ipv4+ipv6 ({} runs each, medians):", t_xtprobe.len());
    println!("  static no-op spawn          {:>10.3} ms", ms(noop_med));
    println!("  xtprobe check               {:>10.3} ms", ms(xt_med));
    println!("  iptables-nft × 50 (shell)   {:>10.3} ms  ({} runs)", ms(ipt_med), t_iptables.len());
    println!("  xtprobe / no-op             {vs_noop:>10.2}×   goal ≤ 3×");
    println!("  iptables-nft / xtprobe      {vs_iptables:>10.1}×   goal ≥ 50×");
    println!("xtprobe check --profile kube-proxy-nft ({} runs, median):", t_nft.len());
    println!("  xtprobe check               {:>10.3} ms", ms(nft_med));
    println!("  xtprobe / no-op             {nft_vs_noop:>10.2}×   goal ≤ 3×");
    if have_nft {
        let one = median(&mut t_nft_check);
        println!("  nft --check, one question   {:>10.3} ms  ({} runs)", ms(one), t_nft_check.len());
        println!("  xtprobe / nft --check       {:>10.2}×   (20 questions against 1)", ratio(nft_med, one));
    }
    let _ = std::fs::remove_file(&nft_file);
    let mut ok = vs_noop <= 3.0 && vs_iptables >= 50.0 && nft_vs_noop <= 3.0;
    ok &= capture_scale(&xtprobe);
    ok &= alias_scale(&xtprobe);
    println!("{}", if ok { "goals met" } else { "GOAL MISSED" });
    if !ok {
        std::process::exit(1);
    }
}

/// `xtprobe capture` of a 10 000-rule ruleset (written with
/// iptables-nft-restore into this bench's network namespace) against
/// `iptables-nft-save` dumping the same ruleset. Goal: capture no slower.
fn capture_scale(xtprobe: &Path) -> bool {
    const RULES: usize = 10_000;
    let mut input = String::from("*filter\n:KUBE-SVC - [0:0]\n");
    for i in 0..RULES {
        input.push_str(&format!(
            "-A KUBE-SVC -s 10.{}.{}.{}/32 -p tcp -m tcp --dport {} -m comment --comment \"svc {i}\" -j ACCEPT\n",
            i / 65536,
            (i / 256) % 256,
            i % 256,
            1024 + i % 60000
        ));
    }
    input.push_str("COMMIT\n");
    let mut restore = Command::new("/usr/sbin/iptables-nft-restore")
        .stdin(Stdio::piped())
        .spawn()
        .expect("iptables-nft-restore");
    use std::io::Write;
    restore.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write the rules");
    assert!(restore.wait().expect("wait").success(), "iptables-nft-restore failed");
    let mut t_capture = Vec::new();
    let mut t_save = Vec::new();
    for _ in 0..5 {
        t_capture.push(time(Command::new(xtprobe).args(["capture", "--json"])));
        t_save.push(time(&mut Command::new("/usr/sbin/iptables-nft-save")));
    }
    let (c, s) = (median(&mut t_capture), median(&mut t_save));
    let r = ratio(c, s);
    println!("capture of {RULES} iptables-nft rules (5 runs each, medians):");
    println!("  xtprobe capture --json      {:>10.1} ms", ms(c));
    println!("  iptables-nft-save           {:>10.1} ms", ms(s));
    println!("  xtprobe / iptables-nft-save {r:>10.2}×   goal ≤ 1×");
    r <= 1.0
}

/// Resolving an alias on a Debian tree without modules.alias (as the
/// package ships it: xtprobe reads every module's .modinfo) against depmod
/// building the whole index of the same tree. Goal: xtprobe ≤ depmod.
/// The tree comes from the harness's cache (`just kernels`).
fn alias_scale(xtprobe: &Path) -> bool {
    use kernel_test::kernels::{Kernel, read_index};
    let Some(tree) = read_index().into_iter().find_map(|k| match k {
        Kernel::Debian(d) if d.name == "debian-6.12" => Some(d),
        _ => None,
    }) else {
        println!("alias scale: skipped (no debian-6.12 tree in the kernel cache; run `just kernels`)");
        return true;
    };
    let files = walk_count(&tree.modules_shipped);
    // depmod writes into its tree: give it a hard-linked copy of its own.
    let scratch = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("depmod-bench");
    let _ = std::fs::remove_dir_all(&scratch);
    let root = tree
        .modules_shipped
        .parent()
        .and_then(Path::parent)
        .and_then(Path::parent)
        .expect("root/lib/modules/R");
    run_quiet(Command::new("cp").arg("-al").arg(root).arg(&scratch));
    let (mut t_x, mut t_d) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        t_x.push(time(
            Command::new(xtprobe)
                .args(["load", "--dry-run", "--quiet", "--modules-dir"])
                .arg(&tree.modules_shipped)
                .arg("nfnetlink-subsys-11"),
        ));
        t_d.push(time(Command::new("depmod").arg("-b").arg(&scratch).arg(&tree.release)));
    }
    let _ = std::fs::remove_dir_all(&scratch);
    let (x, d) = (median(&mut t_x), median(&mut t_d));
    let r = ratio(x, d);
    println!("alias without modules.alias, {} ({files} modules; 3 runs each, medians):", tree.package);
    println!("  xtprobe load --dry-run nfnetlink-subsys-11 {:>8.2} s", x.as_secs_f64());
    println!("  depmod (the whole index)                   {:>8.2} s", d.as_secs_f64());
    println!("  xtprobe / depmod                           {r:>8.2}×   goal ≤ 1×");
    r <= 1.0
}

fn walk_count(dir: &Path) -> usize {
    let mut n = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().contains(".ko") {
                n += 1;
            }
        }
    }
    n
}

/// What a user writes without xtprobe: ask iptables about each extension,
/// which loads its userspace plugin and asks the kernel for its revision.
fn time_shell_out(iptables: &str, ip6tables: &str) -> Duration {
    let start = Instant::now();
    for bin in [iptables, ip6tables] {
        for m in MATCHES {
            run_quiet(Command::new(bin).args(["-m", m, "--help"]));
        }
        for t in TARGETS {
            run_quiet(Command::new(bin).args(["-j", t, "--help"]));
        }
    }
    start.elapsed()
}

fn run_quiet(cmd: &mut Command) {
    cmd.stdout(Stdio::null()).stderr(Stdio::null()).status().expect("spawn");
}

fn time(cmd: &mut Command) -> Duration {
    let start = Instant::now();
    let status = cmd.stdout(Stdio::null()).stderr(Stdio::null()).status().expect("spawn");
    let elapsed = start.elapsed();
    assert!(status.success(), "{cmd:?} failed: {status}");
    elapsed
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Compiles `fn main() {}` as a static binary next to the bench's target
/// directory, the same way `just static` links xtprobe.
fn build_noop() -> Result<PathBuf, String> {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let src = dir.join("noop.rs");
    let bin = dir.join("noop-static");
    std::fs::write(&src, "fn main() {}\n").map_err(|e| e.to_string())?;
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let status = Command::new(rustc)
        .args(["-O", "-C", "target-feature=+crt-static", "-C", "panic=abort", "-o"])
        .arg(&bin)
        .arg(&src)
        .status()
        .map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!("rustc exited with {status}"));
    }
    Ok(bin)
}
