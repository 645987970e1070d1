//! Booting one VM: the QEMU command line, built by small functions with a
//! reason for every option (as danobi/vmtest does), and a runner that
//! streams the serial console and enforces a timeout.
//!
//! Acceleration is TCG unless `XTPROBE_VM_ACCEL` says otherwise: on this
//! project's machines `/dev/kvm` exists but hangs guests, so it is never
//! detected automatically.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::protocol::NONCE_KEY;

/// The machine QEMU emulates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Machine {
    /// The default PC: SeaBIOS, then the bzImage's own decompressor.
    Pc,
    /// `microvm`, started at an ELF vmlinux's PVH entry: no firmware, no
    /// decompression. TCG guests hang without the PIT and PIC, so they stay.
    Microvm,
    /// arm64's `virt` (GICv3, a Cortex-A57), started at the Image's entry
    /// (QEMU takes a gzip-compressed Image, as Debian ships it, too).
    Virt,
}

impl Machine {
    /// Its name on the command line (`--machine`).
    pub fn name(self) -> &'static str {
        match self {
            Machine::Pc => "pc",
            Machine::Microvm => "microvm",
            Machine::Virt => "virt",
        }
    }

    /// The architecture it emulates.
    pub fn arch(self) -> crate::arch::Arch {
        match self {
            Machine::Pc | Machine::Microvm => crate::arch::Arch::X86_64,
            Machine::Virt => crate::arch::Arch::Aarch64,
        }
    }

    /// The machine for a kernel file: an ELF image (vmlinux) can only be
    /// booted through its PVH entry, on microvm; a bzImage on the PC.
    pub fn for_image(head: &[u8]) -> Machine {
        if head.starts_with(b"\x7fELF") { Machine::Microvm } else { Machine::Pc }
    }

    /// [`Machine::for_image`] of a file's first bytes (Pc if unreadable;
    /// QEMU then names the problem).
    pub fn for_file(path: &std::path::Path) -> Machine {
        let mut head = [0u8; 4];
        match std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut head)) {
            Ok(()) => Machine::for_image(&head),
            Err(_) => Machine::Pc,
        }
    }
}

/// One boot.
#[derive(Debug, Clone)]
pub struct VmConfig {
    /// The kernel image: a bzImage, or a vmlinux with a PVH entry.
    pub kernel: PathBuf,
    /// The machine (follows from the image: [`Machine::for_image`]).
    pub machine: Machine,
    /// The initramfs file.
    pub initrd: PathBuf,
    /// Guest memory in MiB.
    pub memory_mib: u32,
    /// This boot's nonce.
    pub nonce: String,
    /// Kill the VM after this long.
    pub timeout: Duration,
    /// More kernel command line (a case's `append`).
    pub append: String,
    /// vCPUs (`-smp`); one unless asked (under TCG a vCPU is a busy host thread).
    pub cpus: u32,
    /// The longest the guest may print nothing at all ([`silence`]): then
    /// it is killed and booted again to say why ([`diagnose`]).
    pub silence: Duration,
}

/// The default silence limit: 30 s (a TCG guest's kernel prints nothing at
/// `loglevel=1`, and guest-init's first line comes within a few seconds
/// even for Debian's kernels), or `XTPROBE_VM_SILENCE` seconds.
pub fn silence(timeout: Duration) -> Duration {
    let secs = std::env::var("XTPROBE_VM_SILENCE").ok().and_then(|s| s.parse::<u64>().ok()).unwrap_or(30);
    silence_of(secs, timeout)
}

/// A silence limit of `secs` (0: none) within `timeout`.
pub fn silence_of(secs: u64, timeout: Duration) -> Duration {
    if secs == 0 { timeout } else { Duration::from_secs(secs).min(timeout) }
}

/// `-accel tcg`, or `XTPROBE_VM_ACCEL` (e.g. `kvm` on runners where it works).
pub fn accel_args() -> Vec<OsString> {
    let accel = std::env::var("XTPROBE_VM_ACCEL").unwrap_or_else(|_| "tcg".to_string());
    vec!["-accel".into(), accel.into()]
}

/// A bare machine: no default devices (no SeaBIOS escape codes or iPXE in
/// the serial log), no user config, no display, no network. microvm keeps
/// the PIT, PIC and RTC (a TCG guest hangs without them) and its serial port.
pub fn machine_args(machine: Machine, memory_mib: u32, cpus: u32) -> Vec<OsString> {
    let (m, smp) = (memory_mib.to_string(), cpus.max(1).to_string());
    let mut a: Vec<&str> = match machine {
        Machine::Pc => Vec::new(),
        Machine::Microvm => vec!["-M", "microvm,pit=on,pic=on,rtc=on,isa-serial=on"],
        Machine::Virt => vec!["-M", "virt,gic-version=3", "-cpu", "cortex-a57"],
    };
    a.extend(["-m", &m, "-smp", &smp, "-nodefaults", "-no-user-config", "-display", "none", "-nic", "none"]);
    a.iter().map(OsString::from).collect()
}

/// The guest's console is the first serial port, wired to our stdout.
pub fn console_args() -> Vec<OsString> {
    vec!["-serial".into(), "stdio".into()]
}

/// `-no-reboot` makes the guest's reboot end QEMU: tinyconfig has no ACPI,
/// so a power-off would only halt and QEMU would never exit.
pub fn exit_args() -> Vec<OsString> {
    vec!["-no-reboot".into()]
}

/// The kernel command line.
pub fn kernel_cmdline(arch: crate::arch::Arch, nonce: &str, append: &str) -> String {
    let loglevel = std::env::var("XTPROBE_VM_LOGLEVEL").unwrap_or_else(|_| "1".to_string());
    [
        format!("console={}", arch.console()),
        // A panic (e.g. init died) reboots at once, and -no-reboot ends QEMU.
        "panic=-1".to_string(),
        // Reboot by triple fault: at once on every machine (microvm has no
        // keyboard controller, and the kernel's default tries it for 3 s).
        "reboot=t".to_string(),
        // Keep printk off the console so it cannot split protocol lines.
        format!("loglevel={loglevel}"),
        "rdinit=/init".to_string(),
        format!("{NONCE_KEY}={nonce}"),
        // The case's own options last (module.sig_enforce=1, lockdown=…).
        append.to_string(),
    ]
    .join(" ")
    .trim_end()
    .to_string()
}

/// Kernel, initramfs and command line.
pub fn boot_args(cfg: &VmConfig) -> Vec<OsString> {
    vec![
        "-kernel".into(),
        cfg.kernel.clone().into(),
        "-initrd".into(),
        cfg.initrd.clone().into(),
        "-append".into(),
        kernel_cmdline(cfg.machine.arch(), &cfg.nonce, &cfg.append).into(),
    ]
}

/// The whole argument list.
pub fn args(cfg: &VmConfig) -> Vec<OsString> {
    let mut a = accel_args();
    a.extend(machine_args(cfg.machine, cfg.memory_mib, cfg.cpus));
    a.extend(console_args());
    a.extend(exit_args());
    a.extend(boot_args(cfg));
    a
}

/// The command line as a shell would take it (`kernel-test run --show-command`).
pub fn command_line(cfg: &VmConfig) -> String {
    let quote = |a: &OsString| {
        let s = a.to_string_lossy();
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./=,:+@".contains(&b)) {
            s.into_owned()
        } else {
            format!("'{}'", s.replace('\'', "'\\''"))
        }
    };
    std::iter::once(cfg.machine.arch().qemu().to_string())
        .chain(args(cfg).iter().map(quote))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Boots with the serial console on this terminal (`-serial mon:stdio`:
/// Ctrl-A X quits QEMU), for an interactive shell; returns QEMU's status.
pub fn interactive(cfg: &VmConfig) -> Result<i32, String> {
    let mut a = accel_args();
    a.extend(machine_args(cfg.machine, cfg.memory_mib, cfg.cpus));
    a.extend(["-serial".into(), "mon:stdio".into()]);
    a.extend(exit_args());
    a.extend(boot_args(cfg));
    let qemu = cfg.machine.arch().qemu();
    let status = Command::new(qemu).args(a).status().map_err(|e| format!("{qemu}: {e}"))?;
    Ok(status.code().unwrap_or(125))
}

/// What a boot produced.
#[derive(Debug, Clone)]
pub struct VmRun {
    /// QEMU's exit code; `None` if it was killed.
    pub exit_code: Option<i32>,
    /// Whether the timeout killed it.
    pub timed_out: bool,
    /// Every serial line.
    pub serial: Vec<String>,
    /// What QEMU printed on stderr.
    pub stderr: String,
    /// Wall time from spawn to exit.
    pub elapsed: Duration,
    /// Killed because the guest printed nothing within the silence limit.
    pub silent: bool,
    /// When the boot ended with nothing on the console: what a second,
    /// verbose boot showed and what to try ([`diagnose`]).
    pub diagnosis: Vec<String>,
}

impl VmRun {
    /// A boot that ended with `exit_code` (`None`: killed at the timeout)
    /// after printing `serial`: for reports made without QEMU.
    pub fn ended(exit_code: Option<i32>, serial: Vec<String>) -> VmRun {
        VmRun {
            exit_code,
            timed_out: exit_code.is_none(),
            serial,
            stderr: String::new(),
            elapsed: Duration::ZERO,
            silent: false,
            diagnosis: Vec::new(),
        }
    }
}

/// QEMU is there (asked before a matrix boots anything: without it every
/// case would fail, and the run could not run at all).
pub fn check_installed(arch: crate::arch::Arch) -> Result<(), String> {
    Command::new(arch.qemu())
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|_| ())
        .map_err(|e| format!("{}: {e} (apt-get install {})", arch.qemu(), arch.qemu_package()))
}

/// Boots, calling `on_line` for each serial line as it arrives; a boot
/// that ends with nothing on the console is diagnosed ([`diagnose`]).
pub fn boot(cfg: &VmConfig, on_line: impl FnMut(&str)) -> Result<VmRun, String> {
    let mut run = boot_raw(cfg, None, on_line)?;
    if run.serial.iter().all(|l| l.trim().is_empty()) {
        run.diagnosis = diagnose(cfg, &run);
    }
    Ok(run)
}

/// [`boot`] without the diagnosis; with `settle`, the VM is also stopped
/// once it has printed something and then nothing for that long.
fn boot_raw(
    cfg: &VmConfig,
    settle: Option<Duration>,
    mut on_line: impl FnMut(&str),
) -> Result<VmRun, String> {
    let start = Instant::now();
    let arch = cfg.machine.arch();
    let mut child = Command::new(arch.qemu())
        .args(args(cfg))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: {e} (apt-get install {})", arch.qemu(), arch.qemu_package()))?;
    let stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).split(b'\n').map_while(Result::ok) {
            if tx.send(String::from_utf8_lossy(&line).trim_end_matches('\r').to_string()).is_err() {
                break;
            }
        }
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = start + cfg.timeout;
    let quiet_until = start + cfg.silence;
    let mut serial = Vec::new();
    let mut timed_out = false;
    let mut silent = false;
    let mut heard = false;
    let mut last_line = start;
    loop {
        let now = Instant::now();
        if settle.is_some_and(|s| heard && now >= last_line + s) {
            let _ = child.kill();
            break;
        }
        if now >= deadline {
            timed_out = true;
            let _ = child.kill();
            break;
        }
        if !heard && now >= quiet_until {
            silent = true;
            let _ = child.kill();
            break;
        }
        match rx.recv_timeout((deadline - now).min(Duration::from_millis(200))) {
            Ok(line) => {
                heard = true;
                last_line = Instant::now();
                on_line(&line);
                serial.push(line);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Ok(Some(_)) = child.try_wait() {
                    // Drain what is still buffered below.
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    let _ = reader.join();
    for line in rx.try_iter() {
        on_line(&line);
        serial.push(line);
    }
    let stderr = err_reader.join().unwrap_or_default();
    Ok(VmRun {
        exit_code: if timed_out || silent { None } else { status.code() },
        timed_out,
        serial,
        stderr,
        elapsed: start.elapsed(),
        silent,
        diagnosis: Vec::new(),
    })
}

/// The kernel command line of a diagnosis boot: every kernel message, on
/// an early console from the first instruction on.
pub fn verbose_append(arch: crate::arch::Arch) -> &'static str {
    match arch {
        crate::arch::Arch::X86_64 => {
            "loglevel=7 ignore_loglevel earlyprintk=serial,ttyS0,115200 keep_bootcon"
        }
        crate::arch::Arch::Aarch64 => "loglevel=7 ignore_loglevel earlycon=pl011,0x9000000 keep_bootcon",
    }
}

/// What to try, from what a boot that printed nothing was and what the
/// verbose boot showed.
pub fn hints(machine: Machine, verbose: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let said = |s: &str| verbose.iter().any(|l| l.contains(s));
    if verbose.iter().all(|l| l.trim().is_empty()) {
        out.push(match machine.arch() {
            crate::arch::Arch::X86_64 => "nothing even on the early console: is it a kernel for this machine (a bzImage, or a vmlinux with a PVH entry, CONFIG_PVH=y), with CONFIG_SERIAL_8250_CONSOLE and CONFIG_EARLY_PRINTK?".to_string(),
            crate::arch::Arch::Aarch64 => "nothing even on the early console: is it an arm64 Image, with CONFIG_SERIAL_AMBA_PL011_CONSOLE and CONFIG_SERIAL_EARLYCON?".to_string(),
        });
    }
    if machine == Machine::Microvm {
        out.push("a PVH vmlinux on microvm can hang in ACPI or clock calibration on a busy host: try --append acpi=off, or --machine pc".into());
    }
    if verbose.iter().any(|l| l.contains("Run ") && l.contains(" as init process")) {
        out.push("the kernel started init and then nothing came: is guest-init for this architecture, and does the kernel have the console device (CONFIG_TTY, the serial driver built in)?".into());
    }
    if said("Kernel panic") {
        out.push("the kernel panicked: its message is above".into());
    }
    if said("Unable to mount root fs") || said("No working init found") {
        out.push("no initramfs init: does the kernel have CONFIG_BLK_DEV_INITRD and the initramfs's compression (none: newc cpio)?".into());
    }
    out
}

/// How long a diagnosis boot may print nothing new before it is stopped:
/// where a kernel stalls is where its messages stop.
const SETTLE: Duration = Duration::from_secs(5);

/// Boots `cfg` again with every kernel message on an early console, until
/// it stalls ([`SETTLE`]) or its silence limit (20 to 60 s) passes, and
/// says what it showed and what to try.
pub fn diagnose(cfg: &VmConfig, first: &VmRun) -> Vec<String> {
    let why = if first.silent {
        format!("the guest printed nothing in {} s and was killed", cfg.silence.as_secs())
    } else if first.timed_out {
        format!("the guest printed nothing before the {} s timeout", cfg.timeout.as_secs())
    } else {
        format!("QEMU exited ({:?}) with nothing on the console", first.exit_code)
    };
    let mut verbose_cfg = cfg.clone();
    // Before the case's own (which may end in `-- ARGS` for init).
    verbose_cfg.append = format!("{} {}", verbose_append(cfg.machine.arch()), cfg.append).trim().to_string();
    verbose_cfg.timeout = cfg.silence.clamp(Duration::from_secs(20), Duration::from_secs(60));
    // The verbose boot has nothing to diagnose itself.
    verbose_cfg.silence = verbose_cfg.timeout;
    let mut out = vec![why, format!("QEMU: {}", command_line(cfg))];
    let verbose = boot_raw(&verbose_cfg, Some(SETTLE), |_| ()).map(|r| r.serial);
    match &verbose {
        Ok(lines) => {
            let tail = &lines[lines.len().saturating_sub(30)..];
            out.push(format!(
                "booted again with `{}` until {} s passed without a line (at most {} s): {} console lines{}",
                verbose_append(cfg.machine.arch()),
                SETTLE.as_secs(),
                verbose_cfg.timeout.as_secs(),
                lines.len(),
                if tail.is_empty() { "" } else { "; the last:" }
            ));
            out.extend(tail.iter().map(|l| format!("  | {l}")));
        }
        Err(e) => out.push(format!("the diagnosis boot failed: {e}")),
    }
    if !first.stderr.trim().is_empty() {
        out.push(format!("QEMU's stderr: {}", first.stderr.trim()));
    }
    out.extend(
        hints(cfg.machine, verbose.as_deref().unwrap_or_default()).into_iter().map(|h| format!("hint: {h}")),
    );
    out
}

/// A fresh nonce: 16 hex digits from the kernel's random pool.
pub fn nonce() -> String {
    let mut b = [0u8; 8];
    let _ = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut b));
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_limits() {
        let t = Duration::from_secs(60);
        assert_eq!(silence_of(0, t), t, "0: no limit but the timeout");
        assert_eq!(silence_of(5, t), Duration::from_secs(5));
        assert_eq!(silence_of(500, t), t);
    }

    #[test]
    fn hints_follow_what_the_verbose_boot_showed() {
        let lines = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let rows: &[(Machine, Vec<String>, &[&str])] = &[
            (Machine::Pc, lines(&[]), &["nothing even on the early console", "PVH"]),
            (Machine::Virt, lines(&[""]), &["nothing even on the early console", "PL011"]),
            (Machine::Microvm, lines(&["[0.1] ACPI: x"]), &["acpi=off", "--machine pc"]),
            (Machine::Pc, lines(&["[1.0] Run /init as init process"]), &["started init"]),
            (Machine::Pc, lines(&["Kernel panic - not syncing: x"]), &["panicked"]),
            (Machine::Pc, lines(&["No working init found."]), &["CONFIG_BLK_DEV_INITRD"]),
        ];
        for (machine, verbose, want) in rows {
            let h = hints(*machine, verbose).join("\n");
            for w in *want {
                assert!(h.contains(w), "{machine:?} {verbose:?}: {w} in {h}");
            }
        }
        assert!(hints(Machine::Pc, &lines(&["booting"])).is_empty());
    }

    #[test]
    fn the_image_decides_the_machine() {
        for (head, want) in [
            (&b"\x7fELF\x02\x01\x01"[..], Machine::Microvm),
            (&b"MZ\xea\x07"[..], Machine::Pc), // a bzImage starts with the PE/boot sector
            (&b"\x7fEL"[..], Machine::Pc),
            (&b""[..], Machine::Pc),
        ] {
            assert_eq!(Machine::for_image(head), want, "{head:?}");
        }
        assert_eq!(Machine::for_file(std::path::Path::new("/nonexistent")), Machine::Pc);
    }

    #[test]
    fn command_line_has_what_the_harness_relies_on() {
        let cfg = VmConfig {
            kernel: "/k".into(),
            machine: Machine::Pc,
            initrd: "/i".into(),
            memory_mib: 256,
            nonce: "abc".into(),
            timeout: Duration::from_secs(1),
            append: "lockdown=integrity".into(),
            cpus: 1,
            silence: Duration::from_secs(1),
        };
        let a: Vec<String> = args(&cfg).iter().map(|s| s.to_string_lossy().into_owned()).collect();
        let joined = a.join(" ");
        for needle in
            ["-nodefaults", "-no-reboot", "-serial stdio", "-m 256", "-smp 1", "-kernel /k", "-initrd /i"]
        {
            assert!(joined.contains(needle), "{needle}: {joined}");
        }
        let cmdline = a.last().unwrap();
        assert!(!joined.contains("-M "), "the PC is QEMU's default: {joined}");
        assert!(
            cmdline.contains("panic=-1")
                && cmdline.contains("reboot=t")
                && cmdline.contains("console=ttyS0")
                && cmdline.contains("xtp.nonce=abc")
                && cmdline.ends_with("lockdown=integrity")
        );
        if std::env::var_os("XTPROBE_VM_ACCEL").is_none() {
            assert!(joined.starts_with("-accel tcg"), "never KVM by default: {joined}");
        }
        let micro = VmConfig { machine: Machine::Microvm, ..cfg };
        let m: Vec<String> = args(&micro).iter().map(|s| s.to_string_lossy().into_owned()).collect();
        let i = m.iter().position(|a| a == "-M").expect("-M for microvm");
        for part in ["microvm", "pit=on", "pic=on", "rtc=on", "isa-serial=on"] {
            assert!(m[i + 1].split(',').any(|p| p == part), "{part} in {}", m[i + 1]);
        }
        assert_eq!(nonce().len(), 16);
        assert_ne!(nonce(), nonce());
    }
}
