//! The matrix (`vm-images/matrix.toml`): cases, each a kernel, an image
//! recipe and steps with expectations; and running one case in its VM.
//!
//! ```toml
//! [[case]]
//! name = "m: load then check"
//! kernel = "tiny-6.12-m"      # a name from kernels.toml
//! modules = "all"             # "all" (default for tiny kernels), "closure", "none"
//! closure = ["xt_comment"]    # with modules = "closure": these and what they need
//! modules_dep = true          # false: leave depmod's output out, as Debian ships trees
//! modprobe = false            # true: busybox as /sbin/modprobe (kernel autoload works)
//! iptables = false            # true: the real iptables-nft client
//! clients = ["nft", "ipset"]  # real clients: iptables, nft, ipset
//! shell = true                # busybox's applets (sh, cat, uname, true…) on PATH;
//!                             # false: none, a minimal host
//! files = [["../contrib/x", "/x"]]       # files to copy in, relative to this file; "@NAME": the
//!                                         # output an earlier case kept with `keep = "NAME"`
//! append = "module.sig_enforce=1"         # more kernel command line
//! sysctl = ["kernel.modules_disabled=1"]  # set by the guest before the steps
//! proc = true                 # false: /proc is unmounted before the steps (early initramfs)
//! timeout = 60                # seconds; default 60 tiny, 180 Debian
//! kernel_fragment = "@NAME"   # rebuild the tiny kernel with a kept kconfig fragment merged
//!
//! [[case.make]]               # a file made for the case ({release} = the kernel's)
//! dest = "/lib/modules/{release}/kernel/net/netfilter/xt_comment.ko"
//! module = "xt_comment"       # from this kernel's tree, or another's:
//! kernel = "tiny-6.1-m"       # (optional)
//! edit = "flip-byte"          # "none" (default), "flip-byte" (breaks a signature), "strip-signature"
//! # or: text = "#!/bin/sh\nexec sleep 1000\n", mode = 0o755
//!
//! [[case.step]]
//! run = ["xtprobe", "check", "comment"]      # or parallel = [[...], [...]]
//! exit = 1                                   # the exit status every command must have
//! expect = ["not registered"]                # substrings the output must contain
//! reject = ["supported"]                     # substrings it must not contain
//! keep = "captured.toml"                     # keep the output for later cases (see files)
//! ```
//!
//! A case passes only if QEMU exited on its own, the guest's `done` line
//! with this boot's nonce was seen, and every command of every step met
//! its expectations. Otherwise the reasons and the whole serial log are
//! printed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::cache::Result;
use crate::image::{self, ImageSpec, ModuleSet};
use crate::kernels::Kernel;
use crate::protocol::{self, Event, GuestCase, GuestStep};
use crate::qemu::{self, VmConfig, VmRun};

/// `vm-images/matrix.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Matrix {
    /// The cases, run in file order.
    pub case: Vec<Case>,
}

/// Which modules a case's image carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Modules {
    /// The whole tree.
    All,
    /// The closure of `closure`.
    Closure,
    /// None.
    None,
}

/// One case.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// Unique name.
    pub name: String,
    /// Kernel name from kernels.toml.
    pub kernel: String,
    /// Modules in the image; default `all` for tiny kernels, required for Debian.
    pub modules: Option<Modules>,
    /// With `modules = "closure"`.
    #[serde(default)]
    pub closure: Vec<String>,
    /// Keep depmod's output (default true).
    #[serde(default = "yes")]
    pub modules_dep: bool,
    /// busybox as /sbin/modprobe.
    #[serde(default)]
    pub modprobe: bool,
    /// The real iptables-nft (the same as `clients = ["iptables"]`).
    #[serde(default)]
    pub iptables: bool,
    /// The real clients to include.
    #[serde(default)]
    pub clients: Vec<image::Client>,
    /// busybox's applets on PATH (sh, cat, uname, true…); `false` for a
    /// minimal host without them.
    #[serde(default = "yes")]
    pub shell: bool,
    /// Files from the repository to copy in: [source, destination].
    #[serde(default)]
    pub files: Vec<(PathBuf, String)>,
    /// More kernel command line.
    #[serde(default)]
    pub append: String,
    /// `key=value` sysctls the guest sets before the steps.
    #[serde(default)]
    pub sysctl: Vec<String>,
    /// Keep /proc mounted for the steps (default true).
    #[serde(default = "yes")]
    pub proc: bool,
    /// Files made for the case.
    #[serde(default)]
    pub make: Vec<Make>,
    /// Rebuild the (tiny) kernel with this kconfig fragment merged last,
    /// `@NAME` being an earlier case's kept output (a fragment `xtprobe
    /// doctor --emit-kconfig` wrote); built in place before the boot.
    pub kernel_fragment: Option<String>,
    /// Seconds before the VM is killed.
    pub timeout: Option<u64>,
    /// The steps.
    pub step: Vec<Step>,
}

/// A file made for a case: a text, or a module taken from a kernel's tree
/// (this case's or another's) and edited.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Make {
    /// Where it goes in the guest; `{release}` is the case kernel's release.
    pub dest: String,
    /// The file's text.
    pub text: Option<String>,
    /// Its mode (default 0644; 0755 for scripts).
    pub mode: Option<u32>,
    /// A module, by name, from `kernel`'s tree (default: the case's kernel).
    pub module: Option<String>,
    /// The kernel whose module to take.
    pub kernel: Option<String>,
    /// What to do to the module.
    #[serde(default)]
    pub edit: Edit,
}

/// Edits to a module file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Edit {
    /// As it is.
    #[default]
    None,
    /// One byte in the middle changed: a signed module's signature no
    /// longer matches.
    FlipByte,
    /// Decompressed, with its appended signature removed: an unsigned module.
    StripSignature,
}

fn yes() -> bool {
    true
}

/// One step.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// One command.
    pub run: Option<Vec<String>>,
    /// Commands started at the same moment.
    pub parallel: Option<Vec<Vec<String>>>,
    /// Exit status each command must have.
    pub exit: i32,
    /// Substrings the output must contain.
    #[serde(default)]
    pub expect: Vec<String>,
    /// Substrings the output must not contain.
    #[serde(default)]
    pub reject: Vec<String>,
    /// Keep this step's output (when the case passes) under this name, for
    /// later cases' `files = [["@NAME", "/dest"]]`: a profile captured on
    /// one kernel, checked on another.
    pub keep: Option<String>,
}

impl Step {
    fn commands(&self) -> Vec<Vec<String>> {
        match (&self.run, &self.parallel) {
            (Some(r), None) => vec![r.clone()],
            (None, Some(p)) => p.clone(),
            _ => Vec::new(),
        }
    }
}

impl Matrix {
    /// Reads the matrix and checks it against the kernels in one pass.
    pub fn load(path: &Path, kernels: &[String]) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut m: Matrix = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let mut seen = std::collections::BTreeSet::new();
        let mut kept = std::collections::BTreeSet::new();
        for c in &mut m.case {
            let here = |what: &str| format!("{}: case {:?}: {what}", path.display(), c.name);
            if !seen.insert(&c.name) {
                return Err(here("name used twice"));
            }
            if !kernels.contains(&c.kernel) {
                return Err(here(&format!("kernel {} is not in kernels.toml", c.kernel)));
            }
            if c.step.is_empty() {
                return Err(here("no steps"));
            }
            for (i, s) in c.step.iter().enumerate() {
                let cmds = s.commands();
                if cmds.is_empty() || cmds.iter().any(Vec::is_empty) {
                    return Err(here(&format!(
                        "step {i}: give exactly one of `run` or `parallel`, non-empty"
                    )));
                }
            }
            if c.modules == Some(Modules::Closure) && c.closure.is_empty() {
                return Err(here("modules = \"closure\" needs a `closure` list"));
            }
            for m in &c.make {
                if m.text.is_some() == m.module.is_some() {
                    return Err(here(&format!("make {}: give exactly one of `text` or `module`", m.dest)));
                }
                if let Some(k) = &m.kernel {
                    if !kernels.contains(k) {
                        return Err(here(&format!("make {}: kernel {k} is not in kernels.toml", m.dest)));
                    }
                }
            }
            if let Some(bad) = c.sysctl.iter().find(|s| !s.contains('=')) {
                return Err(here(&format!("sysctl {bad:?}: write key=value")));
            }
            for (src, _) in &mut c.files {
                match src.to_str().and_then(|s| s.strip_prefix('@')) {
                    Some(name) if !kept.contains(name) => {
                        return Err(here(&format!("files: @{name} is kept by no earlier case")));
                    }
                    Some(_) => {}
                    // Relative to the matrix file's directory.
                    None => {
                        *src = base.join(&*src);
                        if !src.is_file() {
                            return Err(here(&format!("files: {} is not a file", src.display())));
                        }
                    }
                }
            }
            if let Some(f) = &c.kernel_fragment {
                match f.strip_prefix('@') {
                    Some(name) if kept.contains(name) => {}
                    _ => {
                        return Err(here(&format!(
                            "kernel_fragment {f:?}: write \"@NAME\", kept by an earlier case"
                        )));
                    }
                }
            }
            for name in c.step.iter().filter_map(|s| s.keep.clone()) {
                // One keeper per name: with -j, "the latest earlier keeper"
                // would depend on which case finished last.
                if !kept.insert(name.clone()) {
                    return Err(here(&format!("keep {name:?}: kept by an earlier case already")));
                }
            }
        }
        Ok(m)
    }
}

/// The static binaries packed into every image.
#[derive(Debug, Clone)]
pub struct Payload {
    /// guest-init.
    pub guest: PathBuf,
    /// xtprobe.
    pub xtprobe: PathBuf,
    /// busybox-static, for cases with `modprobe = true`.
    pub busybox: PathBuf,
    /// The same for aarch64 guests, when some are booted.
    pub aarch64: Option<Box<Payload>>,
}

impl Payload {
    /// The binaries for a guest of `arch`.
    pub fn for_arch(&self, arch: crate::arch::Arch) -> std::result::Result<&Payload, String> {
        match arch {
            crate::arch::Arch::X86_64 => Ok(self),
            crate::arch::Arch::Aarch64 => self
                .aarch64
                .as_deref()
                .ok_or_else(|| "no aarch64 payload (static xtprobe and guest-init for aarch64)".to_string()),
        }
    }
}

/// The outcome of one case.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// Case name.
    pub name: String,
    /// Why it failed; empty if it passed.
    pub failures: Vec<String>,
    /// The boot.
    pub run: Option<VmRun>,
    /// Wall time of the boot.
    pub seconds: f64,
    /// Outputs kept by steps with `keep` (only when the case passed).
    pub kept: Vec<(String, Vec<u8>)>,
    /// The kernel it booted.
    pub kernel: String,
    /// That kernel's architecture.
    pub arch: crate::arch::Arch,
    /// Each command: its id, argv, exit status (if it ended) and the one expected.
    pub steps: Vec<StepResult>,
}

/// How one command of a case ended.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StepResult {
    /// `2`, or `2.1` for the second command of a parallel step.
    pub id: String,
    /// The command.
    pub command: Vec<String>,
    /// Its exit status; `None` if it never ended.
    pub exit: Option<i32>,
    /// The status it had to have.
    pub expected: i32,
}

impl CaseResult {
    /// A result for a case that never booted.
    pub fn failed(case: &Case, arch: crate::arch::Arch, why: String) -> Self {
        CaseResult {
            name: case.name.clone(),
            failures: vec![why],
            run: None,
            seconds: 0.0,
            kept: Vec::new(),
            kernel: case.kernel.clone(),
            arch,
            steps: Vec::new(),
        }
    }
}

/// Each command's result, from the transcript.
pub fn step_results(case: &Case, transcript: &Transcript) -> Vec<StepResult> {
    let mut out = Vec::new();
    for (i, step) in case.step.iter().enumerate() {
        let cmds = step.commands();
        for (j, argv) in cmds.iter().enumerate() {
            let id = if cmds.len() > 1 { format!("{i}.{j}") } else { i.to_string() };
            out.push(StepResult {
                exit: transcript.exit.get(&id).copied(),
                id,
                command: argv.clone(),
                expected: step.exit,
            });
        }
    }
    out
}

/// Output and exit status per command id.
#[derive(Debug, Default, Clone)]
pub struct Transcript {
    /// Output lines per id.
    pub output: BTreeMap<String, Vec<String>>,
    /// Exit status per id.
    pub exit: BTreeMap<String, i32>,
    /// Whether `done` was seen.
    pub done: bool,
}

impl Transcript {
    /// Collects the protocol lines of `nonce` from a serial log.
    pub fn from_serial(nonce: &str, serial: &[String]) -> Self {
        let mut t = Transcript::default();
        for line in serial {
            match protocol::parse(nonce, line) {
                Some(Event::Out(id, text)) => t.output.entry(id).or_default().push(text),
                Some(Event::Exit(id, code)) => {
                    t.exit.insert(id, code);
                }
                Some(Event::Done) => t.done = true,
                Some(Event::Begin(id)) => {
                    t.output.entry(id).or_default();
                }
                None => {}
            }
        }
        t
    }
}

/// Judges a boot against the case's steps.
pub fn judge(case: &Case, run: &VmRun, transcript: &Transcript) -> Vec<String> {
    let mut failures = Vec::new();
    if run.silent {
        failures.push("the guest printed nothing within the silence limit and was killed".to_string());
    } else if run.timed_out {
        failures.push("the VM did not finish before the timeout and was killed".to_string());
    } else if run.exit_code != Some(0) {
        failures.push(format!("QEMU exited with {:?}", run.exit_code));
    }
    if !transcript.done {
        failures.push("the guest's final `done` line with this boot's nonce never came".to_string());
    }
    // Nothing on the console: what a verbose boot showed, and what to try.
    failures.extend(run.diagnosis.iter().cloned());
    for (i, step) in case.step.iter().enumerate() {
        let cmds = step.commands();
        for (j, argv) in cmds.iter().enumerate() {
            let id = if cmds.len() > 1 { format!("{i}.{j}") } else { i.to_string() };
            let what = format!("step {id} `{}`", argv.join(" "));
            match transcript.exit.get(&id) {
                None => failures.push(format!("{what}: no exit status")),
                Some(code) if *code != step.exit => {
                    failures.push(format!("{what}: exit {code}, expected {}", step.exit))
                }
                _ => {}
            }
            let text = transcript.output.get(&id).map(|l| l.join("\n")).unwrap_or_default();
            for e in &step.expect {
                if !text.contains(e.as_str()) {
                    failures.push(format!("{what}: output lacks {e:?}"));
                }
            }
            for r in &step.reject {
                if text.contains(r.as_str()) {
                    failures.push(format!("{what}: output contains {r:?}"));
                }
            }
        }
    }
    failures
}

fn module_set(case: &Case, kernel: &Kernel) -> ModuleSet {
    let default = match kernel {
        Kernel::Tiny(_) => Modules::All,
        Kernel::Debian(_) => Modules::Closure,
        Kernel::Prebuilt(k) if k.modules.as_os_str().is_empty() => Modules::None,
        Kernel::Prebuilt(_) => Modules::All,
    };
    match case.modules.unwrap_or(default) {
        Modules::All => ModuleSet::All(kernel.modules().to_path_buf()),
        Modules::Closure => ModuleSet::Closure(kernel.modules().to_path_buf(), case.closure.clone()),
        Modules::None => ModuleSet::None,
    }
}

/// Runs one case: image, boot, judgement. `echo` receives serial lines
/// live; `kernels` are every prepared kernel (for files made from another
/// kernel's modules).
pub fn run_case(
    case: &Case,
    kernel: &Kernel,
    kernels: &[Kernel],
    payload: &Payload,
    kept: &BTreeMap<String, Vec<u8>>,
    echo: &mut dyn FnMut(&str),
) -> CaseResult {
    let guest_case = GuestCase {
        env: Vec::new(),
        steps: case
            .step
            .iter()
            .map(|s| GuestStep { commands: s.commands(), if_failed: None, expect: None })
            .collect(),
        sysctl: case
            .sysctl
            .iter()
            .filter_map(|s| s.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect(),
        unmount_proc: !case.proc,
        stop_on_failure: false,
        shell: false,
    };
    let mut made = match made_files(case, kernel, kernels) {
        Ok(m) => m,
        Err(e) => {
            return CaseResult::failed(case, kernel.arch(), e);
        }
    };
    // Outputs earlier cases kept go in as made files.
    let mut files = Vec::new();
    for (src, dest) in &case.files {
        match src.to_str().and_then(|s| s.strip_prefix('@')) {
            Some(name) => match kept.get(name) {
                Some(bytes) => made.push((dest.clone(), 0o644, bytes.clone())),
                None => {
                    let why = format!(
                        "needs @{name}, which the case that keeps it did not produce (it failed or did not run)"
                    );
                    return CaseResult::failed(case, kernel.arch(), why);
                }
            },
            None => files.push((src.clone(), dest.clone())),
        }
    }
    let mut clients = case.clients.clone();
    if case.iptables && !clients.contains(&image::Client::Iptables) {
        clients.push(image::Client::Iptables);
    }
    let payload = match payload.for_arch(kernel.arch()) {
        Ok(p) => p,
        Err(e) => return CaseResult::failed(case, kernel.arch(), e),
    };
    let spec = ImageSpec {
        arch: kernel.arch(),
        guest: &payload.guest,
        xtprobe: &payload.xtprobe,
        release: kernel.release(),
        modules: module_set(case, kernel),
        without_modules_dep: !case.modules_dep,
        modprobe: case.modprobe.then_some(payload.busybox.as_path()),
        shell: case.shell.then_some(payload.busybox.as_path()),
        files: &files,
        made: &made,
        clients: &clients,
        case: &guest_case,
    };
    let fail = |msg: String| CaseResult::failed(case, kernel.arch(), msg);
    let image = match image::build(&spec) {
        Ok(i) => i,
        Err(e) => return fail(format!("building the initramfs: {e}")),
    };
    let dir = match tempdir() {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    let initrd = dir.join("initrd.cpio");
    if let Err(e) = std::fs::write(&initrd, image) {
        return fail(format!("{}: {e}", initrd.display()));
    }
    let (memory, default_timeout) = if kernel.small() { (256, 60) } else { (512, 180) };
    let (image, machine) = kernel.boot_image();
    let cfg = VmConfig {
        kernel: image.to_path_buf(),
        machine,
        initrd,
        memory_mib: memory,
        nonce: qemu::nonce(),
        timeout: Duration::from_secs(case.timeout.unwrap_or(default_timeout)),
        append: case.append.clone(),
        cpus: 1,
        silence: qemu::silence(Duration::from_secs(case.timeout.unwrap_or(default_timeout))),
    };
    let start = Instant::now();
    let mut run = qemu::boot(&cfg, |l| echo(l));
    // Kept when diagnosed: the QEMU command in the failures boots it.
    match &mut run {
        Ok(r) if !r.diagnosis.is_empty() => {
            r.diagnosis.push(format!("the initramfs is kept: {}", dir.display()))
        }
        _ => {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    match run {
        Ok(run) => {
            let transcript = Transcript::from_serial(&cfg.nonce, &run.serial);
            let failures = judge(case, &run, &transcript);
            let kept = if failures.is_empty() { kept_outputs(case, &transcript) } else { Vec::new() };
            CaseResult {
                name: case.name.clone(),
                failures,
                seconds: start.elapsed().as_secs_f64(),
                run: Some(run),
                kept,
                kernel: kernel.name().to_string(),
                arch: kernel.arch(),
                steps: step_results(case, &transcript),
            }
        }
        Err(e) => fail(e),
    }
}

/// The outputs of the steps with `keep`: their lines, each ending in a newline.
pub fn kept_outputs(case: &Case, transcript: &Transcript) -> Vec<(String, Vec<u8>)> {
    case.step
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let name = s.keep.clone()?;
            let lines = transcript.output.get(&i.to_string()).cloned().unwrap_or_default();
            Some((name, lines.iter().flat_map(|l| format!("{l}\n").into_bytes()).collect()))
        })
        .collect()
}

/// The case's made files: (destination, mode, bytes).
fn made_files(case: &Case, kernel: &Kernel, kernels: &[Kernel]) -> Result<Vec<(String, u32, Vec<u8>)>> {
    let mut out = Vec::new();
    for m in &case.make {
        let dest = m.dest.replace("{release}", kernel.release());
        let bytes = match (&m.text, &m.module) {
            (Some(t), _) => t.clone().into_bytes(),
            (None, Some(module)) => {
                let from = match &m.kernel {
                    Some(k) => {
                        kernels.iter().find(|x| x.name() == k).ok_or(format!("kernel {k} not prepared"))?
                    }
                    None => kernel,
                };
                crate::edit::module(from.modules(), module, m.edit)?
            }
            (None, None) => return Err(format!("make {dest}: nothing to make")),
        };
        out.push((dest, m.mode.unwrap_or(0o644), bytes));
    }
    Ok(out)
}

/// A private temporary directory.
pub fn tempdir() -> Result<PathBuf> {
    let d = std::env::temp_dir().join(format!("kernel-test.{}.{}", std::process::id(), qemu::nonce()));
    std::fs::create_dir_all(&d).map_err(|e| format!("{}: {e}", d.display()))?;
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(steps: &str) -> Case {
        let m: Matrix = toml::from_str(&format!("[[case]]\nname = \"c\"\nkernel = \"k\"\n{steps}")).unwrap();
        m.case[0].clone()
    }

    fn vm(exit: Option<i32>, timed_out: bool) -> VmRun {
        VmRun { timed_out, ..VmRun::ended(exit, Vec::new()) }
    }

    #[test]
    fn a_case_passes_only_with_done_exit_and_expectations() {
        let c = case(
            "[[case.step]]\nrun = [\"xtprobe\", \"check\"]\nexit = 1\nexpect = [\"not registered\"]\nreject = [\"panic\"]\n",
        );
        let serial: Vec<String> =
            ["XTP n begin 0", "XTP n out 0 comment not registered", "XTP n exit 0 1", "XTP n done"]
                .iter()
                .map(|s| s.to_string())
                .collect();
        let t = Transcript::from_serial("n", &serial);
        assert!(judge(&c, &vm(Some(0), false), &t).is_empty());
        // The same lines from another boot prove nothing.
        let other = Transcript::from_serial("m", &serial);
        assert!(judge(&c, &vm(Some(0), false), &other).iter().any(|f| f.contains("done")));
        // A killed VM fails even with the lines.
        assert!(judge(&c, &vm(None, true), &t).iter().any(|f| f.contains("timeout")));
        // Wrong exit status.
        let wrong: Vec<String> = serial.iter().map(|l| l.replace("exit 0 1", "exit 0 0")).collect();
        assert!(!judge(&c, &vm(Some(0), false), &Transcript::from_serial("n", &wrong)).is_empty());
    }

    #[test]
    fn parallel_steps_are_judged_per_command() {
        let c = case("[[case.step]]\nparallel = [[\"a\"], [\"b\"]]\nexit = 0\n");
        let serial: Vec<String> =
            ["XTP n exit 0.0 0", "XTP n exit 0.1 3", "XTP n done"].iter().map(|s| s.to_string()).collect();
        let f = judge(&c, &vm(Some(0), false), &Transcript::from_serial("n", &serial));
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].contains("step 0.1"));
    }

    #[test]
    fn the_matrix_file_is_checked() {
        let dir = tempdir().unwrap();
        let p = dir.join("m.toml");
        std::fs::write(
            &p,
            "[[case]]\nname = \"c\"\nkernel = \"nope\"\n[[case.step]]\nrun = [\"x\"]\nexit = 0\n",
        )
        .unwrap();
        assert!(Matrix::load(&p, &["k".into()]).unwrap_err().contains("not in kernels.toml"));
        std::fs::write(&p, "[[case]]\nname = \"c\"\nkernel = \"k\"\n[[case.step]]\nexit = 0\n").unwrap();
        assert!(Matrix::load(&p, &["k".into()]).unwrap_err().contains("exactly one"));
        std::fs::write(
            &p,
            "[[case]]\nname = \"c\"\nkernel = \"k\"\nbogus = 1\n[[case.step]]\nrun = [\"x\"]\nexit = 0\n",
        )
        .unwrap();
        assert!(Matrix::load(&p, &["k".into()]).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
