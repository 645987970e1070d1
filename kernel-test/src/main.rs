//! The `kernel-test` command: prepare kernels, run the matrix, or boot one
//! kernel and run one command in it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};

use kernel_test::cache;
use kernel_test::image::{self, Client, ImageSpec, ModuleSet};
use kernel_test::kernels::{self, KernelList};
use kernel_test::matrix::CaseResult;
use kernel_test::matrix::{self, Matrix, Payload};
use kernel_test::pool;
use kernel_test::protocol::{self, Event, Expect, GuestCase, GuestStep};
use kernel_test::qemu::{self, VmConfig};
use kernel_test::results::{self, Format};
use std::collections::BTreeMap;

/// Set when a write to standard output failed: the run then ends with 2,
/// whatever its cases did (a report that could not be written is no report).
static STDOUT_FAILED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn out(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut lock = std::io::stdout().lock();
    if lock.write_fmt(args).and_then(|()| lock.flush()).is_err() {
        STDOUT_FAILED.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// `print!` that never panics: a failed write is remembered (see [`out`]).
macro_rules! outp {
    ($($t:tt)*) => { out(format_args!($($t)*)) };
}

/// `println!` that never panics.
macro_rules! outln {
    ($($t:tt)*) => { out(format_args!("{}\n", format_args!($($t)*))) };
}

/// `eprintln!` that never panics (with stderr gone there is no one to tell).
macro_rules! errln {
    ($($t:tt)*) => {{
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), $($t)*);
    }};
}

#[derive(Debug, Parser)]
#[command(name = "kernel-test", version, about = "Boot kernels in QEMU (TCG) and prove xtprobe inside them")]
struct Cli {
    /// The vm-images directory (kernels.toml, fragments/, matrix.toml).
    #[arg(long, global = true, default_value = "vm-images")]
    images: PathBuf,
    /// The kernel list, for the subcommands that read one (kernels, matrix, conformance,
    /// preflight, cache) [default: IMAGES/kernels.toml]; fragments are read from its
    /// directory's fragments/.
    #[arg(long = "kernels", value_name = "FILE", global = true)]
    kernels_file: Option<PathBuf>,
    /// The static xtprobe to put in images [default: build it].
    #[arg(long, global = true)]
    xtprobe: Option<PathBuf>,
    /// The static guest runner [default: build it].
    #[arg(long, global = true)]
    guest: Option<PathBuf>,
    /// The static aarch64 xtprobe, for arm64 guests [default: build it].
    #[arg(long, global = true, value_name = "FILE")]
    aarch64_xtprobe: Option<PathBuf>,
    /// The static aarch64 guest runner [default: build it].
    #[arg(long, global = true, value_name = "FILE")]
    aarch64_guest: Option<PathBuf>,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Build and fetch every kernel of kernels.toml (cached in ~/.cache/xtprobe).
    Kernels {
        /// Only this kernel, or `tiny` / `debian`.
        #[arg(long)]
        only: Option<String>,
    },
    /// Run the cases of a matrix on a pool of VMs (kernels are prepared first).
    #[command(after_help = MATRIX_HELP)]
    Matrix {
        /// Only cases whose name contains this.
        #[arg(long)]
        case: Option<String>,
        /// Only cases on this kernel (a name from the kernel list; repeatable).
        #[arg(long = "kernel", value_name = "NAME")]
        kernel: Vec<String>,
        /// Print every serial line as it arrives (prefixed with the case's number).
        #[arg(long, short)]
        verbose: bool,
        /// VMs at once, one vCPU each [default: the number of CPUs].
        #[arg(long, short = 'j')]
        jobs: Option<usize>,
        /// How to report each case: text, tap (TAP 13) or json (a line per case).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Also write a JUnit XML report.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// The cases [default: IMAGES/matrix.toml].
        #[arg(long = "matrix", value_name = "FILE")]
        matrix_file: Option<PathBuf>,
    },
    /// Judge xtprobe by iptables' own extension tests: the real client and xtprobe on the
    /// host (fresh netns) and in guests booted with Debian's modular kernels.
    #[command(after_help = CONFORMANCE_HELP)]
    Conformance(ConformanceArgs),
    /// Will today's rules load on the next kernel? Boot each candidate once, ensure what the
    /// rules need, restore every file with its real client, and name each rule that does not
    /// load, with the client's message and xtprobe's cause.
    #[command(after_help = PREFLIGHT_HELP)]
    Preflight(PreflightArgs),
    /// Show the kernel cache (each entry: in use by this list, built by it and no longer used,
    /// or another list's), or prune what this list no longer uses.
    Cache {
        #[command(subcommand)]
        action: CacheAction,
    },
    /// Boot KERNEL, run COMMAND inside (xtprobe is on PATH), stream its
    /// output and exit with its status (125 if the VM gave no result, 2 if
    /// the request was wrong or its output could not be written).
    #[command(
        after_help = "Example:\n  kernel-test run --kernel bzImage --modules /lib/modules/6.12.1 -- xtprobe check comment"
    )]
    Run {
        /// The kernel image: a bzImage (booted on QEMU's PC), or a vmlinux
        /// with a PVH entry (CONFIG_PVH=y; booted directly on microvm, faster).
        #[arg(long)]
        kernel: PathBuf,
        /// A modules directory (lib/modules/<release>) to include.
        #[arg(long)]
        modules: Option<PathBuf>,
        /// The kernel's architecture: x86_64, or aarch64 (booted on QEMU's virt machine).
        #[arg(long, default_value = "x86_64", value_parser = parse_arch)]
        arch: kernel_test::arch::Arch,
        /// Include the real iptables-nft.
        #[arg(long)]
        iptables: bool,
        /// Include a real client: iptables, nft, ipset (repeatable).
        #[arg(long = "client", value_name = "NAME", value_parser = parse_client)]
        clients: Vec<Client>,
        /// Carry a host file into the guest (repeatable): SRC:DST, DST absolute.
        #[arg(long = "file", value_name = "SRC:DST", value_parser = parse_file)]
        files: Vec<(PathBuf, String)>,
        /// Include nft (the nftables client).
        #[arg(long)]
        nft: bool,
        /// Include the ipset client.
        #[arg(long)]
        ipset: bool,
        /// More kernel command line (e.g. `module.sig_enforce=1 lockdown=integrity`).
        #[arg(long, value_name = "ARGS", default_value = "")]
        append: String,
        /// Run the commands of FILE, one per line (lines starting with `#` are comments; double
        /// quotes group words), each with its own exit status: `! CMD` expects CMD to fail (not
        /// 127), `expect N CMD` to exit N; stop at the first that does not end as expected
        /// unless --keep-going.
        #[arg(long, value_name = "FILE", conflicts_with_all = ["command", "shell"])]
        script: Option<PathBuf>,
        /// With --script: run every command even after one does not end as expected.
        #[arg(long, requires = "script")]
        keep_going: bool,
        /// An interactive busybox shell on this terminal (Ctrl-A X quits QEMU).
        #[arg(long, conflicts_with = "command")]
        shell: bool,
        /// Leave busybox out: no sh, cat, uname, true... in the guest, as on a minimal host
        /// (by default its applets are on PATH).
        #[arg(long, conflicts_with = "shell")]
        no_busybox: bool,
        /// How to report: text (the output as it comes), tap or json (a result per command).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Guest memory in MiB.
        #[arg(long, default_value_t = 512)]
        memory: u32,
        /// vCPUs.
        #[arg(long, default_value_t = 1)]
        cpus: u32,
        /// Seconds before the VM is killed.
        #[arg(long, default_value_t = 180)]
        timeout: u64,
        /// Print the QEMU command line and keep its initramfs; boot nothing.
        #[arg(long)]
        show_command: bool,
        /// The machine: pc (a bzImage, or a vmlinux with a PVH entry) or microvm (a PVH
        /// vmlinux) [default: microvm for a vmlinux, pc for a bzImage; virt on aarch64].
        #[arg(long, value_parser = parse_machine)]
        machine: Option<qemu::Machine>,
        /// Seconds the guest may print nothing; then it is killed and booted again with every
        /// kernel message on an early console, to say why (0: no limit) [default: 30, or
        /// $XTPROBE_VM_SILENCE].
        #[arg(long, value_name = "SECONDS")]
        silence: Option<u64>,
        /// The command and its arguments.
        #[arg(last = true, required_unless_present_any = ["script", "shell"])]
        command: Vec<String>,
    },
}

/// `kernel-test conformance`'s request.
#[derive(Debug, clap::Args)]
struct ConformanceArgs {
    /// iptables' source tree (or its extensions/ directory) holding the
    /// `*.t` tests [default: $XTPROBE_IPTABLES_SRC].
    #[arg(long, value_name = "DIR")]
    suite: Option<PathBuf>,
    /// Run on this host too, in fresh network namespaces (needs root).
    #[arg(long)]
    host: bool,
    /// Backends on the host: nft, legacy (repeatable) [default: both].
    #[arg(long = "variant", value_enum)]
    variants: Vec<Variant>,
    /// Boot this kernel of the kernel list (repeatable): iptables-nft in the guest, no
    /// /sbin/modprobe, its netfilter modules as shipped, then ensure.
    #[arg(long = "kernel", value_name = "NAME")]
    kernels: Vec<String>,
    /// Also on each kernel's tree with PERCENT % of its netfilter modules removed, chosen by
    /// SEED, and re-indexed by depmod.
    #[arg(long, value_name = "SEED:PERCENT", value_parser = parse_prune)]
    prune: Option<(u64, u32)>,
    /// The known-differences file [default: IMAGES/conformance/known-differences.toml].
    #[arg(long, value_name = "FILE")]
    known: Option<PathBuf>,
    /// Write REPORT.md and report.json here.
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,
    /// Guests at once [default: the number of CPUs].
    #[arg(long, short = 'j')]
    jobs: Option<usize>,
    /// Write each run's transcript (every command, its status and output) here as RUN.json.
    #[arg(long, value_name = "DIR")]
    transcripts: Option<PathBuf>,
    /// Print every serial line as it arrives.
    #[arg(long, short)]
    verbose: bool,
}

/// `kernel-test preflight`'s request.
#[derive(Debug, clap::Args)]
struct PreflightArgs {
    /// A saved ruleset (repeatable): iptables-save / ip6tables-save output (nf_tables or
    /// legacy, from its header), `nft list ruleset` text or `nft -j` JSON, `ipset save`.
    #[arg(long = "rules", value_name = "FILE")]
    rules: Vec<PathBuf>,
    /// A profile `xtprobe capture` wrote (repeatable): ensured and checked.
    #[arg(long = "profile", value_name = "FILE")]
    profiles: Vec<PathBuf>,
    /// A candidate kernel (repeatable): a name from the kernel list, or a kernel image (with
    /// --modules).
    #[arg(long = "kernel", value_name = "NAME|IMAGE")]
    kernels: Vec<String>,
    /// The modules directory (lib/modules/<release>, with modules.dep) of a --kernel IMAGE.
    #[arg(long, value_name = "DIR")]
    modules: Option<PathBuf>,
    /// A candidate kernel package file (linux-image-*.deb; repeatable).
    #[arg(long = "deb", value_name = "FILE")]
    debs: Vec<PathBuf>,
    /// A candidate Debian kernel package, fetched with apt-get download (repeatable).
    #[arg(long = "debian", value_name = "PACKAGE")]
    debian: Vec<String>,
    /// Remove this netfilter module from each candidate's tree first (repeatable): the kernel
    /// as a build without it would ship.
    #[arg(long = "without", value_name = "MODULE")]
    without: Vec<String>,
    /// Guests at once [default: the number of CPUs].
    #[arg(long, short = 'j')]
    jobs: Option<usize>,
    /// How to report each kernel: text, tap (TAP 13) or json (a line per kernel).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Also write a JUnit XML report (a testcase per kernel).
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Seconds before a guest is given up.
    #[arg(long, default_value_t = 1800)]
    timeout: u64,
    /// Print every serial line as it arrives.
    #[arg(long, short)]
    verbose: bool,
}

const PREFLIGHT_HELP: &str = "\
Each candidate kernel boots once, with its netfilter modules as shipped (and
no /sbin/modprobe, as on a minimal host). In the guest, xtprobe ensure loads
what the rules need; then each file is restored with its own client
(iptables-nft-restore, ip6tables-legacy-restore, … from the header; nft -f;
nft -j -f; ipset restore). A file that fails is restored again rule by rule
(iptables: each rule with its table's chains; nft: each rule with its table,
chain and sets; ipset: each set with its elements), and for each rule that
fails alone, xtprobe doctor --brief says what is missing for it.

Examples:
  kernel-test preflight --rules rules.v4 --rules ruleset.nft --debian linux-image-6.12.118+deb12-amd64
  kernel-test preflight --rules rules.v4 --deb linux-image-6.13.0-1-amd64_6.13.2-1_amd64.deb
  kernel-test preflight --rules rules.v4 --kernel debian-6.12 --without xt_recent --format json
  kernel-test preflight --profile node.toml --kernel bzImage --modules /srv/lib/modules/6.13.0

Exit status: 0 every rule loads on every kernel, 1 some rules do not, 2 a bad
request, 125 a guest gave no result.";

/// A backend of the suite (`--variant`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Variant {
    Nft,
    Legacy,
}

fn parse_prune(s: &str) -> Result<(u64, u32), String> {
    let (seed, pct) = s.split_once(':').ok_or("SEED:PERCENT, e.g. 17:20")?;
    let seed = seed.parse().map_err(|_| format!("seed `{seed}` is not a number"))?;
    let pct: u32 =
        pct.trim_end_matches('%').parse().map_err(|_| format!("percent `{pct}` is not a number"))?;
    if pct > 100 {
        return Err("percent above 100".into());
    }
    Ok((seed, pct))
}

const CONFORMANCE_HELP: &str = "\
Every rule iptables' own tests expect to load is restored with the real client
and checked with xtprobe; they must agree (>= 99.5 %), every disagreement must
be in the known-differences file, and ensure must never exit 0 while the client
still refuses a rule.

Examples:
  kernel-test conformance --suite /usr/src/iptables-1.8.9 --host
  kernel-test conformance --suite SRC --kernel debian-6.12 --prune 17:20 --report target/conformance

Exit status: 0 every run passed, 1 a run failed, 2 the runs could not be made.";

#[derive(Debug, Subcommand)]
enum CacheAction {
    /// Every entry with its size and its state for this list: in use, stale (why), another
    /// list's, or no list recorded (kept).
    List,
    /// One hash of every kernel the list names (their cache keys): a CI cache key.
    Key,
    /// Remove the entries this list built and no longer uses (never another
    /// list's, never while a run uses the cache).
    Prune {
        /// Say what would be removed; remove nothing.
        #[arg(long, short = 'n', conflicts_with = "yes")]
        dry_run: bool,
        /// Remove them (prune removes nothing without it).
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

const TARGET: &str = "x86_64-unknown-linux-gnu";

const MATRIX_HELP: &str = "\
Cases run on -j VMs at once (one vCPU each), longest first; a case that uses
another's kept output runs after it, and a kernel it needs rebuilt is built
before any VM of its wave boots. Results print in file order: text, TAP 13
(--format tap) or JSON lines (--format json); --junit FILE writes JUnit XML.

Examples:
  kernel-test matrix                           every case, -j the number of CPUs
  kernel-test matrix -j 1 --case Debian -v     some cases, one at a time, with the serial console
  kernel-test matrix --format tap --junit results.xml
  kernel-test matrix --matrix my.toml --kernels my-kernels.toml

Exit status: 0 every case passed, 1 a case failed, 2 the matrix could not run.";

/// The static xtprobe and guest runner: given, or built with +crt-static
/// in the xtprobe checkout this kernel-test was built from (whatever the
/// current directory).
/// The payload for guests of `arches` (x86_64 always; aarch64 built and
/// fetched only when asked).
fn payload_for(cli: &Cli, arches: &[kernel_test::arch::Arch]) -> Result<Payload, String> {
    use kernel_test::arch::Arch;
    let mut p = payload(cli)?;
    if arches.contains(&Arch::Aarch64) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let target =
            std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
        let dir = target.join(Arch::Aarch64.rust_target()).join("release");
        if cli.aarch64_xtprobe.is_none() || cli.aarch64_guest.is_none() {
            cache::run_timed(
                "building the static aarch64 xtprobe and guest-init (cargo build --release; minutes the first time)",
                Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                    .current_dir(&root)
                    .args(["build", "--release", "--target", Arch::Aarch64.rust_target()])
                    .args(["-p", "xtprobe", "--bin", "xtprobe", "-p", "kernel-test", "--bin", "guest-init"])
                    .env("RUSTFLAGS", "-C target-feature=+crt-static")
                    .env("CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER", "aarch64-linux-gnu-gcc"),
            )
            .map_err(|e| format!("{e} (rustup target add aarch64-unknown-linux-musl; apt-get install gcc-aarch64-linux-gnu)"))?;
        }
        let sysroot = kernel_test::foreign::sysroot(Arch::Aarch64)?;
        p.aarch64 = Some(Box::new(Payload {
            xtprobe: cli.aarch64_xtprobe.clone().unwrap_or_else(|| dir.join("xtprobe")),
            guest: cli.aarch64_guest.clone().unwrap_or_else(|| dir.join("guest-init")),
            busybox: sysroot.join("bin/busybox"),
            aarch64: None,
        }));
    }
    Ok(p)
}

fn payload(cli: &Cli) -> Result<Payload, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
    let dir = target.join(TARGET).join("release");
    if cli.xtprobe.is_none() || cli.guest.is_none() {
        if !root.join("Cargo.toml").is_file() {
            return Err(format!(
                "{} is gone: give --xtprobe FILE --guest FILE (static builds of xtprobe and guest-init)",
                root.display()
            ));
        }
        cache::run_timed(
            "building the static xtprobe and guest-init (cargo build --release; minutes the first time)",
            Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                .current_dir(&root)
                .args(["build", "--release", "--target", TARGET, "-p", "xtprobe", "--bin", "xtprobe"])
                .args(["-p", "kernel-test", "--bin", "guest-init"])
                .env("RUSTFLAGS", "-C target-feature=+crt-static"),
        )?;
    }
    let busybox = PathBuf::from("/bin/busybox");
    Ok(Payload {
        xtprobe: cli.xtprobe.clone().unwrap_or_else(|| dir.join("xtprobe")),
        guest: cli.guest.clone().unwrap_or_else(|| dir.join("guest-init")),
        busybox,
        aarch64: None,
    })
}

impl Cli {
    /// The kernel list's file.
    fn kernels_path(&self) -> PathBuf {
        self.kernels_file.clone().unwrap_or_else(|| self.images.join("kernels.toml"))
    }

    /// The fragments beside it.
    fn fragments(&self) -> PathBuf {
        self.kernels_path().parent().unwrap_or(Path::new(".")).join("fragments")
    }
}

fn kernel_list(cli: &Cli) -> Result<KernelList, String> {
    KernelList::load(&cli.kernels_path())
}

fn main() {
    let cli = Cli::parse();
    // Runs that boot from the cache hold it shared: prune never removes
    // what one is using.
    let _using = match &cli.command {
        Cmd::Cache { .. } => None,
        _ => match cache::using() {
            Ok(l) => Some(l),
            Err(e) => {
                eprintln!("kernel-test: {e}");
                std::process::exit(2);
            }
        },
    };
    let result = match &cli.command {
        Cmd::Kernels { only } => kernel_list(&cli)
            .and_then(|list| {
                kernels::prepare(&list, &cli.fragments(), |kind, name| {
                    only.as_deref().is_none_or(|o| o == kind || o == name)
                })
            })
            .map(|ks| {
                for k in ks {
                    outln!("{:<14} {:<28} {}", k.name(), k.release(), k.bzimage().display());
                }
                0
            }),
        Cmd::Conformance(a) => run_conformance(&cli, a),
        Cmd::Preflight(a) => run_preflight(&cli, a),
        Cmd::Cache { action } => cache_command(action, &cli.kernels_path()),
        Cmd::Matrix { case, kernel, verbose, jobs, format, junit, matrix_file } => {
            let a = MatrixArgs {
                filter: case.as_deref(),
                kernel,
                verbose: *verbose,
                jobs: jobs
                    .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
                    .max(1),
                format: *format,
                junit: junit.as_deref(),
                matrix: matrix_file.clone().unwrap_or_else(|| cli.images.join("matrix.toml")),
                kernels: cli.kernels_path(),
            };
            run_matrix(&cli, &a)
        }
        Cmd::Run {
            kernel,
            modules,
            arch,
            iptables,
            clients,
            files,
            nft,
            ipset,
            append,
            script,
            keep_going,
            shell,
            no_busybox,
            format,
            memory,
            cpus,
            timeout,
            show_command,
            machine,
            silence,
            command,
        } => {
            let mut clients = clients.clone();
            for (wanted, c) in [(*iptables, Client::Iptables), (*nft, Client::Nft), (*ipset, Client::Ipset)] {
                if wanted && !clients.contains(&c) {
                    clients.push(c);
                }
            }
            let commands = match script {
                Some(path) => read_script(path),
                None => {
                    Ok(if command.is_empty() { Vec::new() } else { vec![(command.clone(), Expect::Success)] })
                }
            };
            commands.and_then(|commands| {
                let vm = OneVm {
                    kernel,
                    arch: *arch,
                    modules: modules.as_deref(),
                    clients: &clients,
                    files,
                    append,
                    memory: *memory,
                    cpus: *cpus,
                    timeout: *timeout,
                    shell: *shell,
                    busybox: !*no_busybox,
                    stop_on_failure: script.is_some() && !*keep_going,
                    format: *format,
                    show_command: *show_command,
                    machine: *machine,
                    silence: *silence,
                };
                run_one(&cli, &vm, &commands)
            })
        }
    };
    if STDOUT_FAILED.load(std::sync::atomic::Ordering::Relaxed) {
        errln!("kernel-test: writing to standard output failed");
        std::process::exit(2);
    }
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            errln!("kernel-test: {e}");
            std::process::exit(2);
        }
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

fn cache_command(action: &CacheAction, kernels_file: &Path) -> Result<i32, String> {
    use kernel_test::owners::{self, Verdict};
    let list = KernelList::load(kernels_file)?;
    let fragments = kernels_file.parent().unwrap_or(Path::new(".")).join("fragments");
    if matches!(action, CacheAction::Key) {
        outln!("{}", kernels::list_key(&list, &fragments)?);
        return Ok(0);
    }
    if let CacheAction::Prune { dry_run: false, yes: false } = action {
        return Err("cache prune removes directories: say --yes to remove, or -n to see what it would".into());
    }
    // A run using the cache holds it shared: prune refuses at once (before
    // waiting for the build lock), list does not mind.
    let _busy = match action {
        CacheAction::Prune { dry_run: false, .. } => Some(cache::exclusive_use()?),
        _ => None,
    };
    let _lock = cache::lock()?;
    let mut record = owners::read()?;
    let entries = kernels::cache_entries(&list, &fragments)?;
    let judged: Vec<(&kernels::Entry, Verdict)> =
        entries.iter().map(|e| (e, owners::judge(&e.rel, &record, &list.origin, e.stale.clone()))).collect();
    let total: u64 = entries.iter().map(|e| e.size).sum();
    let stale: Vec<(&kernels::Entry, &str)> = judged
        .iter()
        .filter_map(|(e, v)| match v {
            Verdict::Stale(why) => Some((*e, why.as_str())),
            _ => None,
        })
        .collect();
    let stale_size: u64 = stale.iter().map(|(e, _)| e.size).sum();
    match action {
        CacheAction::List => {
            outln!("cache {} (as {})", cache::root().display(), list.origin);
            for (e, v) in &judged {
                let state = match v {
                    Verdict::InUse => "in use".to_string(),
                    Verdict::Stale(why) => format!("stale: {why}"),
                    Verdict::Others(who) => format!("another list's: {}", who.join(", ")),
                    Verdict::Unowned => "no list recorded; kept".to_string(),
                };
                outln!(
                    "  {:<11} {:>10}  {:<60} {state}",
                    e.kind,
                    mib(e.size),
                    e.path.file_name().and_then(|n| n.to_str()).unwrap_or_default()
                );
            }
            outln!("{} entries, {}; {} stale, {}", entries.len(), mib(total), stale.len(), mib(stale_size));
        }
        CacheAction::Key => {}
        CacheAction::Prune { dry_run, .. } => {
            let mut removed = Vec::new();
            for (e, why) in &stale {
                outln!(
                    "{} {} ({}): {why}",
                    if *dry_run { "would remove" } else { "removing" },
                    e.path.display(),
                    mib(e.size),
                );
                if !dry_run {
                    // Out of its place first: an interrupted removal leaves
                    // no half entry a later run would take as built.
                    let gone = e.path.with_file_name(format!(
                        ".{}.del.{}",
                        e.path.file_name().and_then(|n| n.to_str()).unwrap_or("entry"),
                        std::process::id()
                    ));
                    std::fs::rename(&e.path, &gone).map_err(|err| format!("{}: {err}", e.path.display()))?;
                    removed.push(e.rel.clone());
                    owners::forget(&mut record, &list.origin, &[], &removed);
                    owners::write(&record)?;
                    std::fs::remove_dir_all(&gone).map_err(|err| format!("{}: {err}", gone.display()))?;
                }
            }
            if !dry_run {
                // LIST no longer claims what it does not use; others keep theirs.
                let released: Vec<String> = judged
                    .iter()
                    .filter(|(e, v)| e.stale.is_some() && matches!(v, Verdict::Others(_)))
                    .map(|(e, _)| e.rel.clone())
                    .collect();
                owners::forget(&mut record, &list.origin, &released, &removed);
                owners::write(&record)?;
            }
            outln!(
                "{} {} in {} entries",
                if *dry_run { "would free" } else { "freed" },
                mib(stale_size),
                stale.len()
            );
        }
    }
    Ok(0)
}

/// What `kernel-test matrix` was asked.
struct MatrixArgs<'a> {
    filter: Option<&'a str>,
    kernel: &'a [String],
    verbose: bool,
    jobs: usize,
    format: Format,
    junit: Option<&'a Path>,
    matrix: PathBuf,
    kernels: PathBuf,
}

/// Where earlier runs' case durations are kept (longest first needs them).
fn durations_path() -> PathBuf {
    cache::root().join("durations.json")
}

fn run_matrix(cli: &Cli, a: &MatrixArgs<'_>) -> Result<i32, String> {
    let list = KernelList::load(&a.kernels)?;
    let fragments = a.kernels.parent().unwrap_or(Path::new(".")).join("fragments");
    let matrix = Matrix::load(&a.matrix, &list.names())?;
    if let Some(k) = a.kernel.iter().find(|k| !list.names().contains(k)) {
        return Err(format!("{}: no kernel named {k}", a.kernels.display()));
    }
    let cases: Vec<&matrix::Case> = matrix
        .case
        .iter()
        .filter(|c| a.filter.is_none_or(|f| c.name.contains(f)))
        .filter(|c| a.kernel.is_empty() || a.kernel.contains(&c.kernel))
        .collect();
    if cases.is_empty() {
        return Err("no case matches --case / --kernel".to_string());
    }
    // A case that uses another's kept output needs that case in the run.
    for c in &cases {
        for name in pool::uses(c) {
            if !cases.iter().any(|k| k.step.iter().any(|s| s.keep.as_deref() == Some(name.as_str()))) {
                let keeper = matrix
                    .case
                    .iter()
                    .find(|k| k.step.iter().any(|s| s.keep.as_deref() == Some(name.as_str())));
                return Err(format!(
                    "case {:?} uses @{name}, kept by case {:?}, which --case / --kernel left out",
                    c.name,
                    keeper.map(|k| k.name.as_str()).unwrap_or("?")
                ));
            }
        }
    }
    // Every kernel the cases need is ready before the first VM boots: never
    // boot while a kernel builds (2 cores; TCG guests slow down and time out).
    let kernels = kernels::prepare(&list, &fragments, |_, name| {
        cases.iter().any(|c| c.kernel == name || c.make.iter().any(|m| m.kernel.as_deref() == Some(name)))
    })?;
    let mut arches: Vec<kernel_test::arch::Arch> = kernels.iter().map(|k| k.arch()).collect();
    arches.sort();
    arches.dedup();
    for a in &arches {
        qemu::check_installed(*a)?;
    }
    let payload = payload_for(cli, &arches)?;
    let history: BTreeMap<String, f64> = std::fs::read(durations_path())
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let start = Instant::now();
    let waves = pool::waves(&cases);
    let expected: Vec<f64> = cases
        .iter()
        .map(|c| {
            let debian = kernels.iter().any(|k| k.name() == c.kernel && !k.small());
            pool::estimate(c, debian, &history)
        })
        .collect();
    let mut results: Vec<Option<CaseResult>> = vec![None; cases.len()];
    let mut printed = 0;
    let out = std::io::stdout();
    if a.format == Format::Tap {
        outp!("{}", results::tap_header(cases.len()));
    }
    let mut kept: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for wave in 0..=waves.iter().copied().max().unwrap_or(0) {
        let members: Vec<usize> = (0..cases.len()).filter(|&i| waves[i] == wave).collect();
        // Rebuilds first: no VM runs while a kernel builds.
        let mut own: BTreeMap<usize, Result<kernels::Kernel, String>> = BTreeMap::new();
        for &i in &members {
            if let Some(f) = &cases[i].kernel_fragment {
                own.insert(i, rebuild(cli, &list, &fragments, &cases[i].kernel, f, &kept));
            }
        }
        let order = pool::longest_first(&members, &expected);
        let kept_now = kept.clone();
        pool::run(
            &order,
            a.jobs,
            |i| {
                let case = cases[i];
                let kernel = match own.get(&i) {
                    Some(Ok(k)) => k,
                    Some(Err(e)) => {
                        let arch = kernels
                            .iter()
                            .find(|k| k.name() == case.kernel)
                            .map(|k| k.arch())
                            .unwrap_or_default();
                        return CaseResult::failed(
                            case,
                            arch,
                            format!("rebuilding {} with its fragment: {e}", case.kernel),
                        );
                    }
                    None => {
                        kernels.iter().find(|k| k.name() == case.kernel).expect("checked by Matrix::load")
                    }
                };
                let mut echo = |l: &str| {
                    if a.verbose {
                        errln!("  [{}] | {l}", i + 1);
                    }
                };
                matrix::run_case(case, kernel, &kernels, &payload, &kept_now, &mut echo)
            },
            |i, r| {
                results[i] = Some(r);
                // In file order, as soon as the earlier ones are in.
                let mut lock = out.lock();
                while let Some(Some(r)) = results.get(printed) {
                    let text = match a.format {
                        Format::Text => results::text(r),
                        Format::Tap => results::tap(printed + 1, r),
                        Format::Json => results::json(r),
                    };
                    if std::io::Write::write_all(&mut lock, text.as_bytes())
                        .and_then(|()| std::io::Write::flush(&mut lock))
                        .is_err()
                    {
                        STDOUT_FAILED.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                    printed += 1;
                }
            },
        );
        for &i in &members {
            if let Some(r) = &results[i] {
                kept.extend(r.kept.iter().cloned());
            }
        }
    }
    let done: Vec<CaseResult> = results.into_iter().flatten().collect();
    let wall = start.elapsed().as_secs_f64();
    let failed = done.iter().filter(|r| !r.failures.is_empty()).count();
    if a.format == Format::Text {
        outln!("{} passed, {failed} failed ({wall:.1} s, -j {})", done.len() - failed, a.jobs);
    }
    if let Some(path) = a.junit {
        std::fs::write(path, results::junit(&done, wall)).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let mut history = history;
    for r in done.iter().filter(|r| r.run.is_some()) {
        history.insert(r.name.clone(), r.seconds);
    }
    if let Ok(json) = serde_json::to_vec(&history) {
        let path = durations_path();
        let tmp = path.with_extension("json.tmp");
        let _ = std::fs::write(&tmp, json).and_then(|()| std::fs::rename(&tmp, &path));
    }
    Ok(if failed == 0 { 0 } else { 1 })
}

/// Builds tiny kernel `name` with the kept fragment `@NAME` merged last
/// (in the kernel's build tree, in place; cached by the fragment's text).
fn rebuild(
    _cli: &Cli,
    list: &KernelList,
    fragments: &Path,
    name: &str,
    fragment: &str,
    kept: &BTreeMap<String, Vec<u8>>,
) -> Result<kernels::Kernel, String> {
    let key = fragment.trim_start_matches('@');
    let bytes =
        kept.get(key).ok_or_else(|| format!("{fragment} was not kept (the case that keeps it failed)"))?;
    let spec = list.tiny.iter().find(|t| t.name == name).ok_or(format!("{name} is not a tiny kernel"))?;
    let dir = matrix::tempdir()?;
    for entry in std::fs::read_dir(fragments).map_err(|e| format!("{}: {e}", fragments.display()))?.flatten()
    {
        std::fs::copy(entry.path(), dir.join(entry.file_name())).map_err(|e| e.to_string())?;
    }
    let file = format!("kept-{}.config", key.replace(|c: char| !c.is_ascii_alphanumeric(), "-"));
    std::fs::write(dir.join(&file), bytes).map_err(|e| e.to_string())?;
    let mut variant = spec.clone();
    variant.name = format!("{name}+{key}");
    variant.fragments.push(file);
    variant.override_variant = true;
    let built = {
        let _lock = cache::lock()?;
        let built = kernel_test::kbuild::build(&variant, &dir);
        if let Ok(k) = &built {
            let entry = kernel_test::owners::entry_of(&cache::root(), &k.bzimage);
            kernel_test::owners::record(&list.origin, &entry.into_iter().collect::<Vec<_>>())?;
        }
        built
    };
    let _ = std::fs::remove_dir_all(&dir);
    Ok(kernels::Kernel::Tiny(built?))
}

/// `run --format tap|json`: a result per command (a command that never ran,
/// after an earlier failure, is a TAP SKIP / `"status": "skipped"`).
fn report_run(
    format: Format,
    commands: &[RunCommand],
    outputs: &BTreeMap<String, Vec<String>>,
    exits: &BTreeMap<String, i32>,
    done: bool,
) -> String {
    let mut out = if format == Format::Tap { results::tap_header(commands.len()) } else { String::new() };
    for (i, (argv, expect)) in commands.iter().enumerate() {
        let id = i.to_string();
        let exit = exits.get(&id).copied();
        let lines = outputs.get(&id).cloned().unwrap_or_default();
        let mut name = results::description(&argv.join(" "));
        if *expect != Expect::Success {
            name.push_str(&format!(" (expects {})", expect.describe()));
        }
        match format {
            Format::Tap => match exit {
                Some(code) if expect.accepts(code) => out.push_str(&format!("ok {} - {name}\n", i + 1)),
                Some(code) => {
                    out.push_str(&format!(
                        "not ok {} - {name}\n  ---\n  exit: {code}\n  expected: {}\n  output:\n",
                        i + 1,
                        results::yaml(&expect.describe())
                    ));
                    for l in lines.iter().rev().take(results::TAIL).rev() {
                        out.push_str(&format!("    - {}\n", results::yaml(l)));
                    }
                    out.push_str("  ...\n");
                }
                None if done => {
                    out.push_str(&format!("ok {} - {name} # SKIP an earlier command failed\n", i + 1))
                }
                None => out.push_str(&format!("not ok {} - {name}\n  ---\n  exit: null\n  ...\n", i + 1)),
            },
            _ => {
                let status = match exit {
                    Some(code) if expect.accepts(code) => "pass",
                    Some(_) => "fail",
                    None if done => "skipped",
                    None => "fail",
                };
                let doc = serde_json::json!({"command": argv, "status": status, "exit": exit,
                    "expected": expect.describe(), "output": lines});
                out.push_str(&format!("{doc}\n"));
            }
        }
    }
    out
}

/// `run`'s exit status: 0 when every command ended as expected, else the
/// first unexpected one's status (1 if that was 0: a failure was expected).
/// A single plain command thus exits with its own status. `None`: no
/// command ended.
fn run_status(commands: &[RunCommand], exits: &BTreeMap<String, i32>) -> Option<i32> {
    let ended: Vec<(i32, Expect)> = commands
        .iter()
        .enumerate()
        .filter_map(|(i, (_, e))| Some((*exits.get(&i.to_string())?, *e)))
        .collect();
    if ended.is_empty() {
        return None;
    }
    match ended.iter().find(|(code, e)| !e.accepts(*code)) {
        Some((0, _)) => Some(1),
        Some((code, _)) => Some(*code),
        None => Some(0),
    }
}

fn parse_file(s: &str) -> Result<(PathBuf, String), String> {
    let (src, dst) = s.split_once(':').ok_or("write SRC:DST")?;
    if !dst.starts_with('/') {
        return Err(format!("the guest path {dst:?} must be absolute"));
    }
    let src = PathBuf::from(src);
    if !src.is_file() {
        return Err(format!("{} is not a file", src.display()));
    }
    Ok((src, dst.to_string()))
}

fn parse_machine(s: &str) -> Result<qemu::Machine, String> {
    match s {
        "pc" => Ok(qemu::Machine::Pc),
        "microvm" => Ok(qemu::Machine::Microvm),
        "virt" => Ok(qemu::Machine::Virt),
        _ => Err(format!("unknown machine `{s}`: pc or microvm (virt for aarch64)")),
    }
}

fn parse_arch(s: &str) -> Result<kernel_test::arch::Arch, String> {
    kernel_test::arch::Arch::parse(s).ok_or_else(|| format!("unknown architecture `{s}`: x86_64 or aarch64"))
}

fn parse_client(s: &str) -> Result<Client, String> {
    Client::parse(s).ok_or_else(|| format!("unknown client `{s}`: iptables, iptables-legacy, nft or ipset"))
}

/// What `kernel-test run` boots.
struct OneVm<'a> {
    kernel: &'a Path,
    arch: kernel_test::arch::Arch,
    modules: Option<&'a Path>,
    clients: &'a [Client],
    files: &'a [(PathBuf, String)],
    append: &'a str,
    memory: u32,
    cpus: u32,
    timeout: u64,
    shell: bool,
    busybox: bool,
    stop_on_failure: bool,
    format: Format,
    show_command: bool,
    machine: Option<qemu::Machine>,
    silence: Option<u64>,
}

/// A command of `run` and the status it must end with.
type RunCommand = (Vec<String>, Expect);

/// The commands of a script: one per line, `#` comments, double quotes
/// group words; `! CMD` expects CMD to fail, `expect N CMD` to exit N.
fn read_script(path: &Path) -> Result<Vec<RunCommand>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = |e: String| format!("{}:{}: {e}", path.display(), n + 1);
        let words = restore_words::words(line).map_err(at)?;
        out.push(script_line(words).map_err(at)?);
    }
    if out.is_empty() {
        return Err(format!("{}: no commands", path.display()));
    }
    Ok(out)
}

/// One script line's words as a command and its expected status.
/// (The markers count only unquoted: `"!"` and `"expect"` are commands.)
fn script_line(words: Vec<(String, bool)>) -> Result<RunCommand, String> {
    let marker = |i: usize| words.get(i).filter(|(_, quoted)| !quoted).map(|(w, _)| w.as_str());
    let first = marker(0);
    let mut words: Vec<String> = words.iter().map(|(w, _)| w.clone()).collect();
    let expect = match first {
        Some("!") => {
            words.remove(0);
            Expect::Failure
        }
        Some("expect") => {
            let n = words.get(1).ok_or("`expect` needs a status and a command: expect N COMMAND")?;
            let code = n
                .parse::<i32>()
                .ok()
                .filter(|c| (0..=255).contains(c))
                .ok_or_else(|| format!("`expect {n}`: the status is a number from 0 to 255"))?;
            words.drain(..2);
            Expect::Code(code)
        }
        _ => Expect::Success,
    };
    if words.is_empty() {
        return Err("a status to expect, but no command".into());
    }
    Ok((words, expect))
}

fn run_one(cli: &Cli, vm: &OneVm<'_>, commands: &[RunCommand]) -> Result<i32, String> {
    let OneVm { kernel, modules, clients, files, memory, timeout, .. } = *vm;
    if !kernel.is_file() {
        return Err(format!("{}: no such kernel image", kernel.display()));
    }
    let machine = match (vm.arch, vm.machine) {
        (_, None) if vm.arch == kernel_test::arch::Arch::Aarch64 => qemu::Machine::Virt,
        (_, None) => qemu::Machine::for_file(kernel),
        (arch, Some(m)) if m.arch() == arch => m,
        (arch, Some(m)) => {
            return Err(format!("--machine {} is not a machine for {} kernels", m.name(), arch.name()));
        }
    };
    let all = payload_for(cli, &[vm.arch])?;
    let payload = all.for_arch(vm.arch)?;
    if (vm.shell || vm.busybox) && !payload.busybox.is_file() {
        return Err(format!(
            "{} is missing: install busybox-static (for arm64 guests it comes with the arm64 clients), or pass --no-busybox",
            payload.busybox.display()
        ));
    }
    let release = match modules {
        Some(m) => m
            .canonicalize()
            .map_err(|e| format!("{}: {e}", m.display()))?
            .file_name()
            .and_then(|n| n.to_str())
            .map(String::from)
            .ok_or("cannot tell the release from the modules directory's name")?,
        None => "unknown".to_string(),
    };
    let case = GuestCase {
        env: Vec::new(),
        steps: commands
            .iter()
            .map(|(c, e)| GuestStep { commands: vec![c.clone()], if_failed: None, expect: Some(*e) })
            .collect(),
        sysctl: Vec::new(),
        unmount_proc: false,
        stop_on_failure: vm.stop_on_failure,
        shell: vm.shell,
    };
    let spec = ImageSpec {
        arch: vm.arch,
        guest: &payload.guest,
        xtprobe: &payload.xtprobe,
        release: &release,
        modules: modules.map(|m| ModuleSet::All(m.to_path_buf())).unwrap_or(ModuleSet::None),
        without_modules_dep: false,
        modprobe: None,
        shell: (vm.shell || vm.busybox).then_some(payload.busybox.as_path()),
        files,
        made: &[],
        clients,
        case: &case,
    };
    let dir = matrix::tempdir()?;
    let initrd = dir.join("initrd.cpio");
    std::fs::write(&initrd, image::build(&spec)?).map_err(|e| e.to_string())?;
    let cfg = VmConfig {
        kernel: kernel.to_path_buf(),
        machine,
        initrd,
        memory_mib: memory,
        nonce: qemu::nonce(),
        timeout: Duration::from_secs(timeout),
        append: vm.append.to_string(),
        cpus: vm.cpus,
        silence: match vm.silence {
            Some(secs) => qemu::silence_of(secs, Duration::from_secs(timeout)),
            None => qemu::silence(Duration::from_secs(timeout)),
        },
    };
    if vm.show_command {
        outln!("{}", qemu::command_line(&cfg));
        return Ok(0);
    }
    if vm.shell {
        let code = qemu::interactive(&cfg);
        let _ = std::fs::remove_dir_all(&dir);
        return code;
    }
    // Per command: its output and exit status.
    let mut outputs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut exits: BTreeMap<String, i32> = BTreeMap::new();
    let mut done = false;
    let text = vm.format == Format::Text;
    let run = qemu::boot(&cfg, |line| match protocol::parse(&cfg.nonce, line) {
        Some(Event::Out(id, t)) => {
            if text {
                outln!("{t}");
            }
            outputs.entry(id).or_default().push(t);
        }
        Some(Event::Exit(id, code)) => {
            exits.insert(id, code);
        }
        Some(Event::Done) => done = true,
        _ => {}
    });
    // Kept when diagnosed: the QEMU command it shows boots that initramfs.
    if !run.as_ref().is_ok_and(|r| !r.diagnosis.is_empty()) {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let run = run?;
    let status = run_status(commands, &exits);
    if !text {
        outp!("{}", report_run(vm.format, commands, &outputs, &exits, done));
    }
    match (status, done) {
        (Some(code), true) => Ok(code),
        _ => {
            errln!("kernel-test: the VM gave no result (timed out: {}); serial log:", run.timed_out);
            for l in &run.serial {
                errln!("| {l}");
            }
            for l in &run.diagnosis {
                errln!("kernel-test: {l}");
            }
            if !run.diagnosis.is_empty() {
                errln!("kernel-test: the initramfs is kept for that command: {}", dir.display());
            }
            Ok(125)
        }
    }
}

/// The release of the host's iptables (`iptables v1.8.9 (nf_tables)`).
fn client_version() -> Result<String, String> {
    let out = cache::run(Command::new("iptables").arg("--version"))?;
    out.split_whitespace()
        .find_map(|w| w.strip_prefix('v'))
        .map(str::to_string)
        .ok_or_else(|| format!("cannot read iptables' version from `{}`", out.trim()))
}

fn run_conformance(cli: &Cli, a: &ConformanceArgs) -> Result<i32, String> {
    use kernel_test::conformance::{self, known::Known, report, suite};
    let src = a
        .suite
        .clone()
        .or_else(|| std::env::var_os("XTPROBE_IPTABLES_SRC").map(PathBuf::from))
        .ok_or("give --suite DIR (iptables' source) or set XTPROBE_IPTABLES_SRC")?;
    let known_path = a.known.clone().unwrap_or_else(|| cli.images.join("conformance/known-differences.toml"));
    let known = Known::load(&known_path)?;
    if !a.host && a.kernels.is_empty() {
        return Err("nothing to run: give --host and/or --kernel NAME".into());
    }
    let version = client_version()?;
    let payload = payload(cli)?;
    let mut reports = Vec::new();
    let variants: Vec<Variant> =
        if a.variants.is_empty() { vec![Variant::Nft, Variant::Legacy] } else { a.variants.clone() };
    if a.host {
        for v in variants {
            let (variant, name) = match v {
                Variant::Nft => (suite::Variant::Nft, "host-nft"),
                Variant::Legacy => (suite::Variant::Legacy, "host-legacy"),
            };
            let tests = suite::read_dir(&src, variant)?;
            let layout = conformance::layout(tests, variant, &version);
            let root = matrix::tempdir()?;
            let root_s = root.to_string_lossy().into_owned();
            let plan = conformance::plan(&layout, &root_s, &payload.xtprobe.to_string_lossy(), false);
            cache::progress(&format!("{name}: {} rules, {} units", layout.rules.len(), layout.units.len()));
            let t = plan.run_host(&root)?;
            let _ = std::fs::remove_dir_all(&root);
            save_transcript(a.transcripts.as_deref(), name, &plan, &t)?;
            let judged = conformance::judge(&layout, &root_s, &plan.results(&t), false);
            let desc = format!(
                "This host ({}), iptables {version} ({}), every rule in a fresh network namespace; nothing can be loaded here.",
                std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim(),
                if variant == suite::Variant::Nft { "nf_tables" } else { "legacy" }
            );
            let r = report::build(name, &desc, &layout, &judged, &known);
            outln!("{}", report::summary(&r));
            reports.push(r);
        }
    }
    if !a.kernels.is_empty() {
        let list = kernel_list(cli)?;
        let ks = kernels::prepare(&list, &cli.fragments(), |_, name| a.kernels.iter().any(|k| k == name))?;
        let tests = suite::read_dir(&src, suite::Variant::Nft)?;
        let layout = conformance::layout(tests, suite::Variant::Nft, &version);
        let root = "/xtp/rules";
        let plan = conformance::plan(&layout, root, "xtprobe", true);
        // Each kernel's tree as shipped, and pruned: a run each.
        let mut runs: Vec<(String, String, kernel_test::kernels::Kernel, PathBuf)> = Vec::new();
        let work = matrix::tempdir()?;
        for k in &ks {
            let mut trees = vec![(format!("{}-full", k.name()), 0u64, 0u32)];
            if let Some((seed, pct)) = a.prune {
                trees.push((format!("{}-pruned", k.name()), seed, pct));
            }
            for (name, seed, pct) in trees {
                let p = kernel_test::prune::tree(k.modules(), k.release(), seed, pct, &work.join(&name))?;
                let desc = if pct == 0 {
                    format!(
                        "{} ({}), iptables-nft {version} in the guest, no /sbin/modprobe: its {} netfilter modules as shipped, none loaded at boot.",
                        k.name(),
                        k.release(),
                        p.netfilter
                    )
                } else {
                    format!(
                        "{} ({}), iptables-nft {version}, no /sbin/modprobe, {} of its {} netfilter modules removed (seed {seed}, {pct} %) and the tree re-indexed by depmod: {}.",
                        k.name(),
                        k.release(),
                        p.removed.len(),
                        p.netfilter,
                        p.removed.join(", ")
                    )
                };
                runs.push((name, desc, k.clone(), p.modules));
            }
        }
        let jobs = a
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
            .max(1);
        let verbose = a.verbose;
        let queue = std::sync::Mutex::new(runs.iter().collect::<Vec<_>>());
        let results: Vec<Result<report::RunReport, String>> = std::thread::scope(|s| {
            let mut handles = Vec::new();
            for _ in 0..jobs.min(runs.len()) {
                handles.push(s.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let Some((name, desc, k, modules)) =
                            queue.lock().unwrap_or_else(|p| p.into_inner()).pop()
                        else {
                            break;
                        };
                        cache::progress(&format!("{name}: booting ({} rules)", layout.rules.len()));
                        let start = Instant::now();
                        let mut echo = |l: &str| {
                            if verbose {
                                errln!("[{name}] {l}");
                            }
                        };
                        let r = kernel_test::replay::boot(
                            k,
                            ModuleSet::All(modules.clone()),
                            &plan,
                            &payload,
                            Duration::from_secs(3600),
                            &mut echo,
                        )
                        .and_then(|(t, run)| {
                            if !t.done {
                                return Err(format!(
                                    "{name}: the guest never finished (timed out: {}); last lines: {}",
                                    run.timed_out,
                                    run.serial
                                        .iter()
                                        .rev()
                                        .take(20)
                                        .rev()
                                        .cloned()
                                        .collect::<Vec<_>>()
                                        .join("\n")
                                ));
                            }
                            save_transcript(a.transcripts.as_deref(), name, &plan, &t)?;
                            let judged = conformance::judge(&layout, root, &plan.results(&t), true);
                            Ok(report::build(
                                name,
                                &format!("{desc} Boot and run: {:.0} s.", start.elapsed().as_secs_f64()),
                                &layout,
                                &judged,
                                &known,
                            ))
                        });
                        out.push(r);
                    }
                    out
                }));
            }
            handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
        });
        let _ = std::fs::remove_dir_all(&work);
        for r in results {
            let r = r?;
            outln!("{}", report::summary(&r));
            reports.push(r);
        }
    }
    reports.sort_by(|x, y| x.run.cmp(&y.run));
    let md = report::markdown(&reports);
    if let Some(dir) = &a.report {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        std::fs::write(dir.join("REPORT.md"), &md).map_err(|e| format!("{}: {e}", dir.display()))?;
        let json = serde_json::to_string_pretty(&reports).map_err(|e| e.to_string())?;
        std::fs::write(dir.join("report.json"), json).map_err(|e| format!("{}: {e}", dir.display()))?;
        outln!("report: {}", dir.join("REPORT.md").display());
    }
    Ok(if reports.iter().all(|r| r.passed()) { 0 } else { 1 })
}

/// Writes every command of a run with its status and output (`--transcripts`).
fn save_transcript(
    dir: Option<&Path>,
    name: &str,
    plan: &kernel_test::replay::Plan,
    t: &matrix::Transcript,
) -> Result<(), String> {
    let Some(dir) = dir else { return Ok(()) };
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let steps: Vec<serde_json::Value> = plan
        .case
        .steps
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let id = i.to_string();
            let output = t.output.get(&id)?;
            Some(
                serde_json::json!({"command": s.commands.first(), "exit": t.exit.get(&id), "output": output}),
            )
        })
        .collect();
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, serde_json::to_string_pretty(&steps).map_err(|e| e.to_string())?)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// `kernel-test preflight`.
fn run_preflight(cli: &Cli, a: &PreflightArgs) -> Result<i32, String> {
    use kernel_test::kernels::{Kernel, PrebuiltKernel};
    use kernel_test::preflight::{self, input};
    if a.rules.is_empty() && a.profiles.is_empty() {
        return Err("nothing to check: give --rules FILE and/or --profile FILE".into());
    }
    if a.kernels.is_empty() && a.debs.is_empty() && a.debian.is_empty() {
        return Err("no candidate: give --kernel NAME|IMAGE, --deb FILE or --debian PACKAGE".into());
    }
    let files: Vec<input::File> = a.rules.iter().map(|p| input::read(p)).collect::<Result<_, _>>()?;
    let profiles: Vec<(String, String)> = a
        .profiles
        .iter()
        .map(|p| {
            std::fs::read_to_string(p)
                .map(|t| (p.display().to_string(), t))
                .map_err(|e| format!("{}: {e}", p.display()))
        })
        .collect::<Result<_, _>>()?;
    // The candidates.
    let mut kernels: Vec<Kernel> = Vec::new();
    let (named, images): (Vec<&String>, Vec<&String>) =
        a.kernels.iter().partition(|k| !std::path::Path::new(k.as_str()).is_file());
    if !named.is_empty() {
        let list = kernel_list(cli)?;
        for n in &named {
            if !list.names().contains(n) {
                return Err(format!(
                    "--kernel {n}: neither a file nor a kernel of the list ({})",
                    list.names().join(", ")
                ));
            }
        }
        kernels
            .extend(kernels::prepare(&list, &cli.fragments(), |_, name| named.iter().any(|k| *k == name))?);
    }
    for image in images {
        let modules = a
            .modules
            .clone()
            .ok_or(format!("--kernel {image}: give --modules DIR (its lib/modules/<release>)"))?;
        let release = modules.file_name().and_then(|n| n.to_str()).unwrap_or("unknown").to_string();
        kernels.push(Kernel::Prebuilt(PrebuiltKernel {
            name: std::path::Path::new(image)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            bzimage: PathBuf::from(image).canonicalize().map_err(|e| format!("{image}: {e}"))?,
            modules: modules.canonicalize().map_err(|e| format!("{}: {e}", modules.display()))?,
            release,
            small: false,
            arch: kernel_test::arch::Arch::X86_64,
        }));
    }
    for deb in &a.debs {
        kernels.push(Kernel::Debian(kernel_test::distro::deb_kernel(deb)?));
    }
    for p in &a.debian {
        kernels.push(Kernel::Debian(kernel_test::distro::package_kernel(p, p)?));
    }
    let mut arches: Vec<kernel_test::arch::Arch> = kernels.iter().map(|k| k.arch()).collect();
    arches.sort();
    arches.dedup();
    let payload = payload_for(cli, &arches)?;
    let (plan, order) = preflight::plan(&files, &profiles, "xtprobe");
    let work = matrix::tempdir()?;
    let mut runs: Vec<(Kernel, ModuleSet)> = Vec::new();
    for k in kernels {
        let set = if k.modules().as_os_str().is_empty() {
            ModuleSet::None
        } else {
            let p =
                kernel_test::prune::tree_without(k.modules(), k.release(), &a.without, &work.join(k.name()))?;
            ModuleSet::All(p.modules)
        };
        runs.push((k, set));
    }
    let jobs =
        a.jobs.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)).max(1);
    let queue = std::sync::Mutex::new(runs.iter().collect::<Vec<_>>());
    let start = Instant::now();
    type Done = (
        String,
        kernel_test::arch::Arch,
        Result<(preflight::Verdict, kernel_test::qemu::VmRun), String>,
        f64,
    );
    let done: Vec<Done> = std::thread::scope(|s| {
        let mut handles = Vec::new();
        for _ in 0..jobs.min(runs.len()) {
            handles.push(s.spawn(|| {
                let mut out: Vec<Done> = Vec::new();
                while let Some((k, set)) = queue.lock().unwrap_or_else(|p| p.into_inner()).pop() {
                    let name = k.name().to_string();
                    cache::progress(&format!("{name}: booting once for {} files", files.len()));
                    let t0 = Instant::now();
                    let mut echo = |l: &str| {
                        if a.verbose {
                            errln!("[{name}] {l}");
                        }
                    };
                    let r = kernel_test::replay::boot(
                        k,
                        set.clone(),
                        &plan,
                        &payload,
                        Duration::from_secs(a.timeout),
                        &mut echo,
                    )
                    .and_then(|(t, run)| {
                        if !t.done {
                            return Err(format!(
                                "the guest gave no result (timed out: {}); last lines:\n{}",
                                run.timed_out,
                                run.serial
                                    .iter()
                                    .rev()
                                    .take(20)
                                    .rev()
                                    .cloned()
                                    .collect::<Vec<_>>()
                                    .join("\n")
                            ));
                        }
                        Ok((preflight::judge(&files, &profiles, &order, &plan.results(&t)), run))
                    });
                    out.push((name, k.arch(), r, t0.elapsed().as_secs_f64()));
                }
                out
            }));
        }
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    });
    let _ = std::fs::remove_dir_all(&work);
    let mut code = 0;
    let mut cases = Vec::new();
    if a.format == Format::Tap {
        outp!("{}", results::tap_header(done.len()));
    }
    for (i, (name, arch, r, seconds)) in done.iter().enumerate() {
        let (failures, run) = match r {
            Ok((v, run)) => {
                if !v.ok() && code == 0 {
                    code = 1;
                }
                let mut f: Vec<String> = v
                    .failing
                    .iter()
                    .map(|x| {
                        format!(
                            "{}:{}: {} — xtprobe: {}",
                            x.file,
                            x.line,
                            x.client
                                .iter()
                                .map(|l| l.trim())
                                .filter(|l| !l.is_empty())
                                .collect::<Vec<_>>()
                                .join(" / "),
                            x.cause.join(" / ")
                        )
                    })
                    .collect();
                f.extend(v.files.iter().map(|(file, o)| format!("{file}: did not load: {}", o.join(" / "))));
                f.extend(v.profiles.iter().map(|(p, m)| format!("{p}: missing: {}", m.join(", "))));
                match a.format {
                    Format::Text => outp!("{}", preflight::text(name, v, *seconds)),
                    Format::Json => outln!("{}", preflight_json(name, Some(v), None, *seconds)),
                    Format::Tap => {}
                }
                (f, Some(run.clone()))
            }
            Err(e) => {
                code = 125;
                match a.format {
                    Format::Text => outln!("ERROR {seconds:>6.2} s  preflight on {name}: {e}"),
                    Format::Json => outln!("{}", preflight_json(name, None, Some(e), *seconds)),
                    Format::Tap => {}
                }
                (vec![e.clone()], None)
            }
        };
        let case = matrix::CaseResult {
            name: format!("preflight on {name}"),
            failures,
            run,
            seconds: *seconds,
            kept: Vec::new(),
            kernel: name.clone(),
            arch: *arch,
            steps: Vec::new(),
        };
        if a.format == Format::Tap {
            outp!("{}", results::tap(i + 1, &case));
        }
        cases.push(case);
    }
    if let Some(path) = &a.junit {
        std::fs::write(path, results::junit(&cases, start.elapsed().as_secs_f64()))
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(code)
}

/// One JSON line for one kernel's preflight.
fn preflight_json(
    kernel: &str,
    v: Option<&kernel_test::preflight::Verdict>,
    error: Option<&String>,
    seconds: f64,
) -> String {
    let status = match (v, error) {
        (Some(v), _) if v.ok() => "pass",
        (Some(_), _) => "fail",
        _ => "error",
    };
    serde_json::json!({
        "kernel": kernel,
        "status": status,
        "boots": 1,
        "seconds": (seconds * 1000.0).round() / 1000.0,
        "verdict": v,
        "error": error,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<(String, bool)> {
        restore_words::words(s).unwrap()
    }

    #[test]
    fn script_lines_and_their_expectations() {
        type Row<'a> = (&'a str, Result<(&'a str, Expect), &'a str>);
        let rows: &[Row] = &[
            ("xtprobe check comment", Ok(("xtprobe check comment", Expect::Success))),
            ("! xtprobe check nosuch", Ok(("xtprobe check nosuch", Expect::Failure))),
            ("expect 2 xtprobe check --nope", Ok(("xtprobe check --nope", Expect::Code(2)))),
            ("expect 0 true", Ok(("true", Expect::Code(0)))),
            ("!", Err("no command")),
            ("expect", Err("needs a status")),
            ("expect x true", Err("0 to 255")),
            ("expect 256 true", Err("0 to 255")),
            ("expect 3", Err("no command")),
            // Quoted, a marker is a word like any other.
            ("\"!\" x", Ok(("! x", Expect::Success))),
            ("\"expect\" 2 x", Ok(("expect 2 x", Expect::Success))),
        ];
        for (line, want) in rows {
            let got = script_line(words(line));
            match (got, want) {
                (Ok((argv, e)), Ok((cmd, we))) => {
                    assert_eq!((argv.join(" "), e), (cmd.to_string(), *we), "{line}")
                }
                (Err(e), Err(part)) => assert!(e.contains(part), "{line}: {e}"),
                (got, want) => panic!("{line}: {got:?}, wanted {want:?}"),
            }
        }
    }

    #[test]
    fn run_status_as_a_table() {
        let cmd = |e| (vec!["x".to_string()], e);
        let exits =
            |v: &[(usize, i32)]| v.iter().map(|(i, c)| (i.to_string(), *c)).collect::<BTreeMap<_, _>>();
        let (ok, fail, two) = (Expect::Success, Expect::Failure, Expect::Code(2));
        type Row = (Vec<RunCommand>, BTreeMap<String, i32>, Option<i32>);
        let rows: &[Row] = &[
            (vec![cmd(ok)], exits(&[(0, 3)]), Some(3)),
            (vec![cmd(ok)], exits(&[(0, 0)]), Some(0)),
            (vec![cmd(ok)], exits(&[]), None),
            (vec![cmd(ok), cmd(fail), cmd(two)], exits(&[(0, 0), (1, 1), (2, 2)]), Some(0)),
            (vec![cmd(ok), cmd(fail)], exits(&[(0, 0), (1, 0)]), Some(1)),
            (vec![cmd(ok), cmd(two)], exits(&[(0, 0), (1, 5)]), Some(5)),
            (vec![cmd(ok), cmd(ok)], exits(&[(0, 4)]), Some(4)),
            // A one-line script that expects a failure and gets it: 0.
            (vec![cmd(fail)], exits(&[(0, 1)]), Some(0)),
            (vec![cmd(two)], exits(&[(0, 2)]), Some(0)),
            (vec![cmd(fail)], exits(&[(0, 127)]), Some(127)),
        ];
        for (commands, ex, want) in rows {
            assert_eq!(run_status(commands, ex), *want, "{commands:?} {ex:?}");
        }
    }
}
