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

/// Boots, calling `on_line` for each serial line as it arrives.
pub fn boot(cfg: &VmConfig, mut on_line: impl FnMut(&str)) -> Result<VmRun, String> {
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
    let mut serial = Vec::new();
    let mut timed_out = false;
    loop {
        let now = Instant::now();
        if now >= deadline {
            timed_out = true;
            let _ = child.kill();
            break;
        }
        match rx.recv_timeout((deadline - now).min(Duration::from_millis(200))) {
            Ok(line) => {
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
        exit_code: if timed_out { None } else { status.code() },
        timed_out,
        serial,
        stderr,
        elapsed: start.elapsed(),
    })
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
