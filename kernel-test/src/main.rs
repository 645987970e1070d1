//! The `kernel-test` command: prepare kernels, run the matrix, or boot one
//! kernel and run one command in it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};

use kernel_test::cache;
use kernel_test::image::{self, Client, ImageSpec, ModuleSet};
use kernel_test::kernels::{self, KernelList};
use kernel_test::matrix::{self, Matrix, Payload};
use kernel_test::protocol::{self, Event, GuestCase, GuestStep};
use kernel_test::qemu::{self, VmConfig};

#[derive(Debug, Parser)]
#[command(name = "kernel-test", version, about = "Boot kernels in QEMU (TCG) and prove xtprobe inside them")]
struct Cli {
    /// The vm-images directory (kernels.toml, fragments/, matrix.toml).
    #[arg(long, global = true, default_value = "vm-images")]
    images: PathBuf,
    /// The static xtprobe to put in images [default: build it].
    #[arg(long, global = true)]
    xtprobe: Option<PathBuf>,
    /// The static guest runner [default: build it].
    #[arg(long, global = true)]
    guest: Option<PathBuf>,
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
    /// Run the cases of matrix.toml, one VM at a time (kernels are prepared first).
    Matrix {
        /// Only cases whose name contains this.
        #[arg(long)]
        case: Option<String>,
        /// Print every serial line as it arrives.
        #[arg(long, short)]
        verbose: bool,
    },
    /// Boot KERNEL, run COMMAND inside (xtprobe is on PATH), stream its
    /// output and exit with its status (125 if the VM gave no result).
    #[command(
        after_help = "Example:\n  kernel-test run --kernel bzImage --modules /lib/modules/6.12.1 -- xtprobe check comment"
    )]
    Run {
        /// The kernel image (bzImage).
        #[arg(long)]
        kernel: PathBuf,
        /// A modules directory (lib/modules/<release>) to include.
        #[arg(long)]
        modules: Option<PathBuf>,
        /// Include the real iptables-nft.
        #[arg(long)]
        iptables: bool,
        /// Include a real client: iptables, nft, ipset (repeatable).
        #[arg(long = "client", value_name = "NAME", value_parser = parse_client)]
        clients: Vec<Client>,
        /// Carry a host file into the guest (repeatable): SRC:DST, DST absolute.
        #[arg(long = "file", value_name = "SRC:DST", value_parser = parse_file)]
        files: Vec<(PathBuf, String)>,
        /// Guest memory in MiB.
        #[arg(long, default_value_t = 512)]
        memory: u32,
        /// Seconds before the VM is killed.
        #[arg(long, default_value_t = 180)]
        timeout: u64,
        /// The command and its arguments.
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
}

const TARGET: &str = "x86_64-unknown-linux-gnu";

/// The static xtprobe and guest runner: given, or built with +crt-static.
fn payload(cli: &Cli) -> Result<Payload, String> {
    let dir = PathBuf::from(format!("target/{TARGET}/release"));
    if cli.xtprobe.is_none() || cli.guest.is_none() {
        cache::progress("building the static xtprobe and guest-init");
        cache::run(
            Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
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
    })
}

fn kernel_list(cli: &Cli) -> Result<KernelList, String> {
    KernelList::load(&cli.images.join("kernels.toml"))
}

fn main() {
    let cli = Cli::parse();
    let result = match &cli.command {
        Cmd::Kernels { only } => kernel_list(&cli)
            .and_then(|list| {
                kernels::prepare(&list, &cli.images.join("fragments"), |kind, name| {
                    only.as_deref().is_none_or(|o| o == kind || o == name)
                })
            })
            .map(|ks| {
                for k in ks {
                    println!("{:<14} {:<28} {}", k.name(), k.release(), k.bzimage().display());
                }
                0
            }),
        Cmd::Matrix { case, verbose } => run_matrix(&cli, case.as_deref(), *verbose),
        Cmd::Run { kernel, modules, iptables, clients, files, memory, timeout, command } => {
            let mut clients = clients.clone();
            if *iptables && !clients.contains(&Client::Iptables) {
                clients.push(Client::Iptables);
            }
            let vm = OneVm {
                kernel,
                modules: modules.as_deref(),
                clients: &clients,
                files,
                memory: *memory,
                timeout: *timeout,
            };
            run_one(&cli, &vm, command)
        }
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("kernel-test: {e}");
            std::process::exit(2);
        }
    }
}

fn run_matrix(cli: &Cli, filter: Option<&str>, verbose: bool) -> Result<i32, String> {
    let list = kernel_list(cli)?;
    let matrix = Matrix::load(&cli.images.join("matrix.toml"), &list.names())?;
    let cases: Vec<_> = matrix.case.iter().filter(|c| filter.is_none_or(|f| c.name.contains(f))).collect();
    if cases.is_empty() {
        return Err(format!("no case matches {filter:?}"));
    }
    // Every kernel the cases need is ready before the first VM boots: never
    // boot while a kernel builds (2 cores; TCG guests slow down and time out).
    let kernels = kernels::prepare(&list, &cli.images.join("fragments"), |_, name| {
        cases.iter().any(|c| c.kernel == name || c.make.iter().any(|m| m.kernel.as_deref() == Some(name)))
    })?;
    let payload = payload(cli)?;
    let start = Instant::now();
    let (mut passed, mut failed) = (0, 0);
    let mut kept = std::collections::BTreeMap::new();
    for case in cases {
        let rebuilt;
        let kernel = match &case.kernel_fragment {
            None => kernels.iter().find(|k| k.name() == case.kernel).expect("checked by Matrix::load"),
            Some(f) => {
                // No VM runs while this builds.
                match rebuild(cli, &list, &case.kernel, f, &kept) {
                    Ok(k) => {
                        rebuilt = k;
                        &rebuilt
                    }
                    Err(e) => {
                        failed += 1;
                        println!("FAIL  {:>6.2} s  {}", 0.0, case.name);
                        println!("      - rebuilding {} with {f}: {e}", case.kernel);
                        continue;
                    }
                }
            }
        };
        let mut echo = |l: &str| {
            if verbose {
                eprintln!("  | {l}");
            }
        };
        let result = matrix::run_case(case, kernel, &kernels, &payload, &kept, &mut echo);
        kept.extend(result.kept.iter().cloned());
        if result.failures.is_empty() {
            passed += 1;
            println!("PASS  {:>6.2} s  {}", result.seconds, case.name);
        } else {
            failed += 1;
            println!("FAIL  {:>6.2} s  {}", result.seconds, case.name);
            for f in &result.failures {
                println!("      - {f}");
            }
            if let Some(run) = &result.run {
                println!("      serial log ({} lines):", run.serial.len());
                for l in &run.serial {
                    println!("      | {l}");
                }
                if !run.stderr.trim().is_empty() {
                    println!("      qemu stderr: {}", run.stderr.trim());
                }
            }
        }
    }
    println!("{passed} passed, {failed} failed ({:.1} s)", start.elapsed().as_secs_f64());
    Ok(if failed == 0 { 0 } else { 1 })
}

/// Builds tiny kernel `name` with the kept fragment `@NAME` merged last
/// (in the kernel's build tree, in place; cached by the fragment's text).
fn rebuild(
    cli: &Cli,
    list: &KernelList,
    name: &str,
    fragment: &str,
    kept: &std::collections::BTreeMap<String, Vec<u8>>,
) -> Result<kernels::Kernel, String> {
    let key = fragment.trim_start_matches('@');
    let bytes =
        kept.get(key).ok_or_else(|| format!("{fragment} was not kept (the case that keeps it failed)"))?;
    let spec = list.tiny.iter().find(|t| t.name == name).ok_or(format!("{name} is not a tiny kernel"))?;
    let dir = matrix::tempdir()?;
    let fragments = cli.images.join("fragments");
    for entry in std::fs::read_dir(&fragments).map_err(|e| format!("{}: {e}", fragments.display()))?.flatten()
    {
        std::fs::copy(entry.path(), dir.join(entry.file_name())).map_err(|e| e.to_string())?;
    }
    let file = format!("kept-{}.config", key.replace(|c: char| !c.is_ascii_alphanumeric(), "-"));
    std::fs::write(dir.join(&file), bytes).map_err(|e| e.to_string())?;
    let mut variant = spec.clone();
    variant.name = format!("{name}+{key}");
    variant.fragments.push(file);
    variant.override_variant = true;
    let built = kernel_test::kbuild::build(&variant, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(kernels::Kernel::Tiny(built?))
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

fn parse_client(s: &str) -> Result<Client, String> {
    Client::parse(s).ok_or_else(|| format!("unknown client `{s}`: iptables, nft or ipset"))
}

/// What `kernel-test run` boots.
struct OneVm<'a> {
    kernel: &'a Path,
    modules: Option<&'a Path>,
    clients: &'a [Client],
    files: &'a [(PathBuf, String)],
    memory: u32,
    timeout: u64,
}

fn run_one(cli: &Cli, vm: &OneVm<'_>, command: &[String]) -> Result<i32, String> {
    let OneVm { kernel, modules, clients, files, memory, timeout } = *vm;
    let payload = payload(cli)?;
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
        steps: vec![GuestStep { commands: vec![command.to_vec()] }],
        sysctl: Vec::new(),
        unmount_proc: false,
    };
    let spec = ImageSpec {
        guest: &payload.guest,
        xtprobe: &payload.xtprobe,
        release: &release,
        modules: modules.map(|m| ModuleSet::All(m.to_path_buf())).unwrap_or(ModuleSet::None),
        without_modules_dep: false,
        modprobe: None,
        shell: None,
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
        initrd,
        memory_mib: memory,
        nonce: qemu::nonce(),
        timeout: Duration::from_secs(timeout),
        append: String::new(),
    };
    let mut status = None;
    let mut done = false;
    let run = qemu::boot(&cfg, |line| match protocol::parse(&cfg.nonce, line) {
        Some(Event::Out(_, text)) => println!("{text}"),
        Some(Event::Exit(_, code)) => status = Some(code),
        Some(Event::Done) => done = true,
        _ => {}
    });
    let _ = std::fs::remove_dir_all(&dir);
    let run = run?;
    match (status, done) {
        (Some(code), true) => Ok(code),
        _ => {
            eprintln!("kernel-test: the VM gave no result (timed out: {}); serial log:", run.timed_out);
            for l in &run.serial {
                eprintln!("| {l}");
            }
            Ok(125)
        }
    }
}
