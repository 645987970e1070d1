//! Carrying out a plan: `finit_module`, or `init_module` on an image
//! decompressed here, one module at a time, in order; and turning every
//! errno the kernel can answer into a cause and a fix.
//!
//! Semantics follow kmod's `kmod_module_insert_module` and busybox's
//! `bb_init_module`: EEXIST is success (the module is already there);
//! ENOSYS from `finit_module` falls back to `init_module` (kernels before
//! 3.8, and how a kernel without module support is told apart). A module
//! another loader is bringing up (`initstate` coming) is waited for. EBUSY
//! means, since Linux 6.2 (`module_patient_check_exists`), that a
//! concurrent load of the same module *failed*: it is retried once, and a
//! second failure says so. The IGNORE_VERMAGIC and IGNORE_MODVERSIONS flags
//! are never passed.
//!
//! A failure skips only the modules that need the one that failed; the
//! rest of the plan goes on. Modules that provide the same alias
//! (`crc32c` → `crc32c_intel`, `crc32c_generic`) are alternatives: the
//! request is met when any one of them loads, as with kmod. The loader
//! says what kind of failure it met ([`FailureClass`]); the caller decides
//! what exit status that is.

use std::ffi::CString;
use std::time::Duration;

use serde::Serialize;

use super::file::FileError;
use super::name::ModuleName;
use super::policy::LoadPolicy;
use super::resolve::{Action, Method, Plan, Step};
use super::state::{InitState, KernelModules};
use crate::system::Errno;
use crate::system::deadline::Deadline;
use crate::system::syscalls::{MODULE_INIT_COMPRESSED_FILE, ModuleSyscalls};

/// How long to wait for a module another process is loading.
pub const BUSY_WAIT: Duration = Duration::from_secs(5);

/// Why one module did not load, with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoadFailure {
    /// The module.
    pub module: ModuleName,
    /// The system call that failed (or the step before it).
    pub operation: &'static str,
    /// The errno, when the kernel answered one.
    pub errno: Option<Errno>,
    /// What went wrong, in one sentence.
    pub cause: String,
    /// What to do.
    pub fix: String,
    /// Facts that support the diagnosis.
    pub evidence: Vec<String>,
    /// What kind of failure.
    pub class: FailureClass,
}

/// What kind of failure a load met: the caller maps it to an exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureClass {
    /// This host cannot or may not load modules (no module support, EPERM:
    /// capability, container, modules_disabled, lockdown), or the module's
    /// file is unusable (unreadable, corrupt, busy).
    Environment,
    /// The kernel refused this module: signature, format or vermagic,
    /// unknown symbol, parameters, or its own init failed.
    Refused,
}

/// What happened to one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum StepOutcome {
    /// The kernel accepted the module.
    Loaded {
        /// How it was handed over.
        method: Method,
    },
    /// It was loaded already (EEXIST, or live by the time we got to it).
    AlreadyLoaded,
    /// Built into the kernel.
    Builtin,
    /// Loaded before we started.
    Live,
    /// Planned only (`--dry-run`).
    Planned,
    /// It did not load.
    Failed(LoadFailure),
    /// A module that is only a soft dependency did not load; ignored, as
    /// modprobe ignores it.
    OptionalFailed(LoadFailure),
    /// One of several modules providing the same alias did not load, and
    /// another one did: the alias is there.
    AlternativeFailed(LoadFailure),
    /// Not tried, because a module it needs failed.
    NotAttempted {
        /// Why.
        reason: String,
    },
}

impl StepOutcome {
    /// Whether the module is now in the kernel.
    pub fn is_ok(&self) -> bool {
        self.present() || matches!(self, StepOutcome::OptionalFailed(_) | StepOutcome::AlternativeFailed(_))
    }

    /// Whether the module itself is in the kernel (or planned) now.
    fn present(&self) -> bool {
        matches!(
            self,
            StepOutcome::Loaded { .. }
                | StepOutcome::AlreadyLoaded
                | StepOutcome::Builtin
                | StepOutcome::Live
                | StepOutcome::Planned
        )
    }
}

/// Loads plans through `S`.
pub struct Loader<'a, S: ModuleSyscalls> {
    sys: &'a S,
    kernel: &'a KernelModules,
    policy: &'a LoadPolicy,
    /// The running kernel's release (`uname -r`), for vermagic diagnoses.
    pub release: String,
    /// How long to wait for a module another loader is bringing up.
    pub busy_wait: Duration,
    /// Where to record what the loader waits on (a timeout names it).
    pub deadline: Option<Deadline>,
}

impl<'a, S: ModuleSyscalls> Loader<'a, S> {
    /// A loader using `sys`, reading state from `kernel`, diagnosing with `policy`.
    pub fn new(sys: &'a S, kernel: &'a KernelModules, policy: &'a LoadPolicy) -> Self {
        Self {
            sys,
            kernel,
            policy,
            release: crate::system::host::kernel_release(),
            busy_wait: BUSY_WAIT,
            deadline: None,
        }
    }

    /// Runs every step in order. A step whose hard needs or pre soft
    /// dependencies include a module that is not there (it failed, or was
    /// skipped) is not attempted; every other step is. Alternatives of one
    /// alias succeed together if any one of them loads.
    pub fn run(&self, plan: &Plan) -> Vec<StepOutcome> {
        let mut out: Vec<StepOutcome> = Vec::with_capacity(plan.steps.len());
        let mut missing: std::collections::BTreeMap<&ModuleName, String> = Default::default();
        for step in &plan.steps {
            // A soft dependency that failed does not hold its user back.
            if let Some(dep) = step.hard_needs.iter().find(|d| missing.contains_key(d)) {
                let reason = format!("it needs {dep}, which {}", missing[dep]);
                missing.insert(&step.module, "was not attempted".to_string());
                out.push(StepOutcome::NotAttempted { reason });
                continue;
            }
            // No step starts after the deadline (a module loaded then
            // would be neither reported nor persisted).
            if step.action == Action::Load && self.deadline.as_ref().is_some_and(|d| d.expired()) {
                missing.insert(&step.module, "was not attempted".to_string());
                out.push(StepOutcome::NotAttempted {
                    reason: "the deadline (--timeout) had passed; no load starts after it".to_string(),
                });
                continue;
            }
            let outcome = match self.step(step) {
                StepOutcome::Failed(f) if !step.required => StepOutcome::OptionalFailed(f),
                StepOutcome::Failed(f) if step.alternative_for.is_some() => StepOutcome::AlternativeFailed(f),
                other => other,
            };
            if !outcome.present() {
                missing.insert(&step.module, "failed to load".to_string());
            }
            if let (StepOutcome::Loaded { .. }, Some(d)) = (&outcome, &self.deadline) {
                d.record_loaded(step.module.as_str(), step.requested);
            }
            out.push(outcome);
        }
        // An alias none of whose providers loaded has failed after all.
        for (i, step) in plan.steps.iter().enumerate() {
            let Some(alias) = &step.alternative_for else { continue };
            let any = plan
                .steps
                .iter()
                .zip(&out)
                .any(|(s, o)| s.alternative_for.as_ref() == Some(alias) && o.present());
            if !any {
                if let StepOutcome::AlternativeFailed(f) = &out[i] {
                    out[i] = StepOutcome::Failed(f.clone());
                }
            }
        }
        out
    }

    /// Runs one step.
    pub fn step(&self, step: &Step) -> StepOutcome {
        match step.action {
            Action::Builtin => return StepOutcome::Builtin,
            Action::Live => return StepOutcome::Live,
            Action::Load => {}
        }
        match self.kernel.initstate(&step.module) {
            Some(InitState::Live) => return StepOutcome::AlreadyLoaded,
            // Someone else is loading it: wait for them rather than race.
            Some(InitState::Coming)
                if self.kernel.wait_live(&step.module, self.busy_wait) == Some(InitState::Live) =>
            {
                return StepOutcome::AlreadyLoaded;
            }
            _ => {}
        }
        let (Some(handle), Some(method)) = (&step.file, step.method) else {
            return StepOutcome::Failed(self.failure(
                step,
                "plan",
                None,
                "the plan has no file for this module",
            ));
        };
        let params = match CString::new(step.params.clone()) {
            Ok(p) => p,
            Err(_) => {
                return StepOutcome::Failed(self.failure(
                    step,
                    "parameters",
                    None,
                    "parameters contain a NUL byte",
                ));
            }
        };
        let mut used = method;
        let mut result = match method {
            Method::Finit | Method::FinitCompressed => ("finit_module", self.call(method, handle, &params)),
            Method::Init => ("init_module", Err(libc::ENOSYS)),
        };
        // init_module: asked for, or the fallback when finit_module is
        // missing (ENOSYS), as kmod does.
        if result.1 == Err(libc::ENOSYS) {
            if let Err(e) = handle.0.image() {
                return StepOutcome::Failed(self.file_failure(step, e));
            }
            used = Method::Init;
            result = ("init_module", self.call(Method::Init, handle, &params));
        }
        // EBUSY: a concurrent load of the same module failed (6.2+). Try once
        // more ourselves; the second answer is the one that counts.
        let mut busy = false;
        if result.1 == Err(libc::EBUSY) {
            busy = true;
            result.1 = self.call(used, handle, &params);
        }
        match result.1 {
            Ok(()) => StepOutcome::Loaded { method: used },
            Err(libc::EEXIST) => StepOutcome::AlreadyLoaded,
            Err(errno) => {
                let mut f = self.diagnose(step, result.0, errno);
                if busy && errno != libc::EBUSY {
                    f.evidence.insert(
                        0,
                        format!(
                            "a concurrent load of {} failed first (EBUSY); this answer is from a second attempt",
                            step.module
                        ),
                    );
                }
                StepOutcome::Failed(f)
            }
        }
    }

    /// One system call handing `handle` to the kernel by `method`: the
    /// descriptor the plan opened and checked, never the path again.
    fn call(&self, method: Method, handle: &super::resolve::Handle, params: &CString) -> Result<(), i32> {
        if let Some(d) = &self.deadline {
            d.doing(format!(
                "the kernel was loading {} ({}) and running its init, which had not returned",
                handle.0.path.display(),
                if method == Method::Init { "init_module" } else { "finit_module" }
            ));
        }
        match method {
            Method::Finit => self.sys.finit_module(handle.0.file(), params, 0),
            Method::FinitCompressed => {
                self.sys.finit_module(handle.0.file(), params, MODULE_INIT_COMPRESSED_FILE)
            }
            Method::Init => match handle.0.image() {
                Ok(image) => self.sys.init_module(&image, params),
                Err(_) => Err(libc::ENOEXEC),
            },
        }
    }

    fn failure(&self, step: &Step, operation: &'static str, errno: Option<i32>, cause: &str) -> LoadFailure {
        LoadFailure {
            module: step.module.clone(),
            operation,
            errno: errno.map(Errno),
            cause: cause.to_string(),
            fix: String::new(),
            evidence: Vec::new(),
            class: FailureClass::Environment,
        }
    }

    fn file_failure(&self, step: &Step, e: FileError) -> LoadFailure {
        LoadFailure {
            module: step.module.clone(),
            operation: "reading the module file",
            errno: None,
            cause: e.to_string(),
            fix: "reinstall the package that ships this module (the file is unreadable or corrupt)"
                .to_string(),
            evidence: Vec::new(),
            class: FailureClass::Environment,
        }
    }

    /// The cause and fix for `errno` from `operation` on `step`.
    pub fn diagnose(&self, step: &Step, operation: &'static str, errno: i32) -> LoadFailure {
        let m = &step.module;
        let mut evidence = Vec::new();
        let (cause, fix, class) = match errno {
            libc::ENOSYS => (
                "this kernel has no loadable-module support (CONFIG_MODULES is not set)".to_string(),
                "nothing can be loaded: the extension must be built into the kernel (=y); \
                 `xtprobe check` shows what it has"
                    .to_string(),
                FailureClass::Environment,
            ),
            libc::EPERM | libc::EACCES => {
                let causes = self.policy.eperm_causes(m.as_str());
                evidence.extend(causes.iter().cloned());
                let cause = if causes.is_empty() {
                    "the kernel refused the load, and no capability, namespace, sysctl, lockdown or \
                     command-line reason was found: a security module (LoadPin, IMA, SELinux) may forbid it"
                        .to_string()
                } else {
                    format!("the kernel does not allow loading modules here: {}", causes[0])
                };
                (
                    cause,
                    "see the evidence below; `dmesg` shows the kernel's own message".to_string(),
                    FailureClass::Environment,
                )
            }
            libc::EKEYREJECTED | libc::ENOKEY | libc::EBADMSG | libc::ENOPKG => {
                if let Some(e) = self.policy.sig_enforce {
                    evidence.push(format!("module.sig_enforce: {}", if e { "on" } else { "off" }));
                }
                (
                    "the module's signature was rejected: the kernel enforces signatures and this module is \
                     unsigned or signed with a key it does not trust"
                        .to_string(),
                    "use the module built and signed with this kernel (the distribution's package), or \
                     enroll its signing key"
                        .to_string(),
                    FailureClass::Refused,
                )
            }
            libc::ENOEXEC => {
                let vermagic = step.file.as_ref().and_then(|h| h.0.modinfo().ok()).and_then(|i| i.vermagic);
                let built_for =
                    vermagic.as_deref().and_then(|v| v.split_whitespace().next()).map(str::to_string);
                evidence.push(format!("running kernel: {}", self.release));
                if let Some(v) = &vermagic {
                    evidence.push(format!("module vermagic: {v}"));
                }
                let cause = match &built_for {
                    Some(b) if b != &self.release => format!(
                        "the module was built for kernel {b}, but {} is running (vermagic mismatch)",
                        self.release
                    ),
                    _ => "the kernel rejected the file as an invalid module (bad ELF, wrong architecture, \
                          or missing version information)"
                        .to_string(),
                };
                (
                    cause,
                    "load modules from /lib/modules/$(uname -r) of the running kernel".to_string(),
                    FailureClass::Refused,
                )
            }
            libc::ENOENT => {
                let missing: Vec<String> = step
                    .needs
                    .iter()
                    .filter(|d| self.kernel.initstate(d) != Some(InitState::Live))
                    .map(|d| d.to_string())
                    .collect();
                if !missing.is_empty() {
                    evidence.push(format!("not loaded: {}", missing.join(", ")));
                }
                (
                    "the module uses a symbol the kernel does not have: a module it depends on is not loaded"
                        .to_string(),
                    "`dmesg` names the unknown symbol; load the module that provides it first, or \
                     regenerate modules.dep with depmod"
                        .to_string(),
                    FailureClass::Refused,
                )
            }
            libc::EINVAL => (
                if operation == "finit_module" && step.method == Some(Method::FinitCompressed) {
                    "the kernel could not decompress the module or rejected its parameters".to_string()
                } else {
                    "the kernel rejected the module's parameters or its symbol versions (modversions \
                     mismatch)"
                        .to_string()
                },
                "check the parameters; `dmesg` tells which; a module from another build of the same \
                 kernel release fails this way too"
                    .to_string(),
                FailureClass::Refused,
            ),
            // Since 6.2 (module_patient_check_exists): another load of the
            // same module was in progress and it failed; we retried once.
            libc::EBUSY => (
                format!(
                    "a concurrent load of {m} failed, twice (EBUSY): whatever else loads it (a second \
                     xtprobe, udev, the kernel's autoloader) cannot bring it up either"
                ),
                "`dmesg` shows why the module's init failed; then run again".to_string(),
                FailureClass::Refused,
            ),
            libc::EOPNOTSUPP => (
                "the kernel cannot decompress modules itself (CONFIG_MODULE_DECOMPRESS is not set)"
                    .to_string(),
                "retry with --userspace-decompress".to_string(),
                FailureClass::Refused,
            ),
            libc::ENODEV => (
                "the module's init found nothing to drive: a device or CPU feature it needs is absent \
                 (crc32c_intel without SSE4.2, for instance)"
                    .to_string(),
                "nothing to load on this machine; if it is only a soft dependency, the load goes on without it"
                    .to_string(),
                FailureClass::Refused,
            ),
            libc::ETXTBSY => (
                "the module file is open for writing by another process".to_string(),
                "wait for the package manager (or whatever writes it) to finish, then run again".to_string(),
                FailureClass::Environment,
            ),
            other => (
                format!("the kernel (or the module's init function) returned {}", Errno(other).name()),
                "`dmesg` shows the module's own message".to_string(),
                FailureClass::Refused,
            ),
        };
        LoadFailure { module: m.clone(), operation, errno: Some(Errno(errno)), cause, fix, evidence, class }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::ffi::CStr;
    use std::path::PathBuf;

    use super::*;
    use crate::compress::Compression;
    use crate::kmod::file::ModuleFile;
    use crate::kmod::resolve::{DepSource, Handle};
    use crate::system::host::Host;

    /// Records every call and answers from a script, as youki's
    /// `TestHelperSyscall` does: the build machine's kernel cannot load.
    #[derive(Default)]
    struct Recorder {
        finit: RefCell<Vec<(u32, String)>>,
        /// The first bytes of each file handed to finit_module, read through its descriptor.
        finit_heads: RefCell<Vec<Vec<u8>>>,
        init: RefCell<Vec<usize>>,
        finit_answers: RefCell<Vec<Result<(), i32>>>,
        init_answers: RefCell<Vec<Result<(), i32>>>,
    }

    impl ModuleSyscalls for Recorder {
        fn finit_module(&self, file: &std::fs::File, params: &CStr, flags: u32) -> Result<(), i32> {
            use std::os::unix::fs::FileExt;
            let mut head = vec![0u8; 4];
            let n = file.read_at(&mut head, 0).unwrap();
            head.truncate(n);
            self.finit_heads.borrow_mut().push(head);
            self.finit.borrow_mut().push((flags, params.to_string_lossy().into_owned()));
            self.finit_answers.borrow_mut().remove(0)
        }
        fn init_module(&self, image: &[u8], _: &CStr) -> Result<(), i32> {
            self.init.borrow_mut().push(image.len());
            self.init_answers.borrow_mut().remove(0)
        }
        fn module_support(&self) -> crate::system::syscalls::ModuleSupport {
            crate::system::syscalls::ModuleSupport::Yes
        }
    }

    fn elf(vermagic: &str) -> Vec<u8> {
        use object::write::Object;
        let mut obj =
            Object::new(object::BinaryFormat::Elf, object::Architecture::X86_64, object::Endianness::Little);
        let id = obj.add_section(Vec::new(), b".modinfo".to_vec(), object::SectionKind::ReadOnlyData);
        obj.append_section_data(id, format!("name=m\0vermagic={vermagic} SMP\0").as_bytes(), 1);
        obj.write().unwrap()
    }

    struct Setup {
        _dir: tempfile::TempDir,
        host: Host,
        path: PathBuf,
        xz_path: PathBuf,
        image_len: usize,
    }

    fn setup(live: &[&str]) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let image = elf("6.12.0-other");
        let path = dir.path().join("m.ko");
        std::fs::write(&path, &image).unwrap();
        let mut xz = Vec::new();
        lzma_rs::xz_compress(&mut std::io::Cursor::new(&image), &mut xz).unwrap();
        let xz_path = dir.path().join("m.ko.xz");
        std::fs::write(&xz_path, xz).unwrap();
        for m in live {
            let d = dir.path().join(format!("sys/module/{m}"));
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("initstate"), "live\n").unwrap();
        }
        std::fs::create_dir_all(dir.path().join("proc/self")).unwrap();
        std::fs::write(dir.path().join("proc/self/uid_map"), "0 100000 65536\n").unwrap();
        let host = Host::rooted(dir.path());
        Setup { _dir: dir, host, path, xz_path, image_len: image.len() }
    }

    fn step(name: &str, path: &std::path::Path, method: Method, needs: &[&str]) -> Step {
        let dir = crate::system::fs::Dir::open(path.parent().unwrap()).unwrap();
        let file = ModuleFile::open(&dir, std::path::Path::new(path.file_name().unwrap())).unwrap();
        Step {
            module: ModuleName::new(name),
            path: Some(path.to_path_buf()),
            file: Some(Handle(std::sync::Arc::new(file))),
            action: Action::Load,
            method: Some(method),
            compression: Some(Compression::None),
            requested: true,
            required: true,
            params: "p=1".into(),
            deps_from: DepSource::Modinfo,
            needs: needs.iter().map(|n| ModuleName::new(n)).collect(),
            hard_needs: needs.iter().map(|n| ModuleName::new(n)).collect(),
            alternative_for: None,
        }
    }

    fn run(s: &Setup, rec: &Recorder, steps: Vec<Step>) -> Vec<StepOutcome> {
        let kernel = KernelModules::new(s.host.clone());
        let policy = LoadPolicy::read(&s.host, rec);
        let mut loader = Loader::new(rec, &kernel, &policy);
        loader.busy_wait = Duration::from_millis(50);
        loader.release = "6.12.0-running".into();
        loader.run(&Plan { steps, warnings: Vec::new() })
    }

    /// A module whose init takes past the deadline: it is recorded as
    /// loaded, and no later step starts.
    #[test]
    fn no_step_starts_after_the_deadline_and_what_loaded_is_recorded() {
        struct Slow(Recorder);
        impl ModuleSyscalls for Slow {
            fn finit_module(&self, file: &std::fs::File, params: &CStr, flags: u32) -> Result<(), i32> {
                std::thread::sleep(Duration::from_millis(150));
                self.0.finit_module(file, params, flags)
            }
            fn init_module(&self, image: &[u8], params: &CStr) -> Result<(), i32> {
                self.0.init_module(image, params)
            }
            fn module_support(&self) -> crate::system::syscalls::ModuleSupport {
                self.0.module_support()
            }
        }
        let s = setup(&[]);
        let rec = Slow(Recorder::default());
        rec.0.finit_answers.borrow_mut().extend([Ok(()), Ok(()), Ok(())]);
        let kernel = KernelModules::new(s.host.clone());
        let policy = LoadPolicy::read(&s.host, &rec);
        let mut loader = Loader::new(&rec, &kernel, &policy);
        let deadline = Deadline::after(Duration::from_millis(100));
        loader.deadline = Some(deadline.clone());
        let mut c = step("c", &s.path, Method::Finit, &[]);
        c.requested = false;
        let out = loader.run(&Plan {
            steps: vec![step("a", &s.path, Method::Finit, &[]), step("b", &s.path, Method::Finit, &["a"]), c],
            warnings: Vec::new(),
        });
        assert_eq!(out[0], StepOutcome::Loaded { method: Method::Finit });
        assert!(
            matches!(&out[1], StepOutcome::NotAttempted { reason } if reason.contains("deadline")),
            "{out:?}"
        );
        assert!(matches!(&out[2], StepOutcome::NotAttempted { .. }), "{out:?}");
        assert_eq!(rec.0.finit.borrow().len(), 1, "one finit_module, none after the deadline");
        assert_eq!(deadline.loaded(), vec![("a".to_string(), true)]);
    }

    #[test]
    fn finit_with_params_then_eexist_is_success() {
        let s = setup(&[]);
        let rec = Recorder::default();
        rec.finit_answers.borrow_mut().extend([Ok(()), Err(libc::EEXIST)]);
        let out = run(
            &s,
            &rec,
            vec![step("a", &s.path, Method::Finit, &[]), step("b", &s.path, Method::Finit, &[])],
        );
        assert_eq!(out, vec![StepOutcome::Loaded { method: Method::Finit }, StepOutcome::AlreadyLoaded]);
        assert_eq!(rec.finit.borrow()[0], (0, "p=1".to_string()));
    }

    #[test]
    fn the_descriptor_the_plan_checked_is_the_one_loaded() {
        // The plan opens the file; then someone swaps it for another one.
        let s = setup(&[]);
        let planned = step("a", &s.path, Method::Finit, &[]);
        let swap = s.path.with_extension("swap");
        std::fs::write(&swap, b"EVIL").unwrap();
        std::fs::rename(&swap, &s.path).unwrap();
        let rec = Recorder::default();
        rec.finit_answers.borrow_mut().push(Ok(()));
        run(&s, &rec, vec![planned]);
        assert_eq!(rec.finit_heads.borrow()[0], b"\x7fELF", "the original file, not the swapped one");
    }

    #[test]
    fn compressed_flag_only_for_finit_compressed_and_never_ignore_flags() {
        let s = setup(&[]);
        let rec = Recorder::default();
        rec.finit_answers.borrow_mut().extend([Ok(()), Ok(())]);
        run(
            &s,
            &rec,
            vec![step("a", &s.xz_path, Method::FinitCompressed, &[]), step("b", &s.path, Method::Finit, &[])],
        );
        let flags: Vec<u32> = rec.finit.borrow().iter().map(|(f, _)| *f).collect();
        assert_eq!(flags, vec![MODULE_INIT_COMPRESSED_FILE, 0]);
    }

    #[test]
    fn enosys_falls_back_to_init_module_with_the_decompressed_image() {
        let s = setup(&[]);
        let rec = Recorder::default();
        rec.finit_answers.borrow_mut().push(Err(libc::ENOSYS));
        rec.init_answers.borrow_mut().push(Ok(()));
        let out = run(&s, &rec, vec![step("a", &s.xz_path, Method::Finit, &[])]);
        assert_eq!(out, vec![StepOutcome::Loaded { method: Method::Init }]);
        assert_eq!(*rec.init.borrow(), vec![s.image_len], "init_module gets the decompressed bytes");

        // Method::Init never calls finit_module.
        let rec = Recorder::default();
        rec.init_answers.borrow_mut().push(Err(libc::ENOSYS));
        let out = run(&s, &rec, vec![step("a", &s.xz_path, Method::Init, &[])]);
        assert!(rec.finit.borrow().is_empty());
        let StepOutcome::Failed(f) = &out[0] else { panic!("{out:?}") };
        assert_eq!(f.errno, Some(Errno(libc::ENOSYS)));
        assert_eq!(f.class, FailureClass::Environment);
        assert!(f.cause.contains("CONFIG_MODULES"));
    }

    #[test]
    fn a_live_module_is_not_loaded_again_and_ebusy_is_retried_once() {
        let s = setup(&["a"]);
        let rec = Recorder::default();
        // "a" is live before we start: nothing is called at all.
        let out = run(&s, &rec, vec![step("a", &s.path, Method::Finit, &[])]);
        assert_eq!(out, vec![StepOutcome::AlreadyLoaded]);
        assert!(rec.finit.borrow().is_empty());
        // A concurrent load failed (EBUSY); the retry succeeds.
        rec.finit_answers.borrow_mut().extend([Err(libc::EBUSY), Ok(())]);
        let out = run(&s, &rec, vec![step("b", &s.path, Method::Finit, &[])]);
        assert_eq!(out, vec![StepOutcome::Loaded { method: Method::Finit }]);
        assert_eq!(rec.finit.borrow().len(), 2, "exactly one retry");
        // The retry fails for a reason of its own: that reason, with the EBUSY noted.
        let rec = Recorder::default();
        rec.finit_answers.borrow_mut().extend([Err(libc::EBUSY), Err(libc::EINVAL)]);
        let out = run(&s, &rec, vec![step("b", &s.path, Method::Finit, &[])]);
        let StepOutcome::Failed(f) = &out[0] else { panic!("{out:?}") };
        assert_eq!(f.errno, Some(Errno(libc::EINVAL)));
        assert!(f.evidence[0].contains("concurrent load of b failed first"), "{f:?}");
        // Busy twice: the concurrent loads keep failing.
        let rec = Recorder::default();
        rec.finit_answers.borrow_mut().extend([Err(libc::EBUSY), Err(libc::EBUSY)]);
        let out = run(&s, &rec, vec![step("b", &s.path, Method::Finit, &[])]);
        let StepOutcome::Failed(f) = &out[0] else { panic!("{out:?}") };
        assert!(f.cause.contains("concurrent load of b failed, twice"), "{f:?}");
        assert_eq!(rec.finit.borrow().len(), 2, "never more than one retry");
    }

    #[test]
    fn an_alias_is_met_when_any_one_provider_loads() {
        let s = setup(&[]);
        let alt = |name: &str| {
            let mut st = step(name, &s.path, Method::Finit, &[]);
            st.alternative_for = Some("crc32c".into());
            st
        };
        // crc32c_intel: ENODEV (no SSE4.2); crc32c_generic loads: the alias is there.
        let rec = Recorder::default();
        rec.finit_answers.borrow_mut().extend([Err(libc::ENODEV), Ok(())]);
        let out = run(&s, &rec, vec![alt("crc32c_intel"), alt("crc32c_generic")]);
        assert!(matches!(&out[0], StepOutcome::AlternativeFailed(_)), "{out:?}");
        assert_eq!(out[1], StepOutcome::Loaded { method: Method::Finit });
        assert!(out.iter().all(StepOutcome::is_ok));
        // Neither loads: both count as failed.
        let rec = Recorder::default();
        rec.finit_answers.borrow_mut().extend([Err(libc::ENODEV), Err(libc::ENODEV)]);
        let out = run(&s, &rec, vec![alt("crc32c_intel"), alt("crc32c_generic")]);
        assert!(out.iter().all(|o| matches!(o, StepOutcome::Failed(_))), "{out:?}");
    }

    #[test]
    fn diagnoses_name_cause_and_evidence() {
        let s = setup(&["dep_live"]);
        let cases: [(i32, &str, FailureClass); 5] = [
            (libc::ENOENT, "symbol", FailureClass::Refused),
            (libc::ENOEXEC, "built for kernel 6.12.0-other", FailureClass::Refused),
            (libc::EPERM, "user namespace", FailureClass::Environment),
            (libc::EKEYREJECTED, "signature", FailureClass::Refused),
            (libc::EINVAL, "parameters", FailureClass::Refused),
        ];
        for (errno, needle, class) in cases {
            let rec = Recorder::default();
            rec.finit_answers.borrow_mut().push(Err(errno));
            let out = run(&s, &rec, vec![step("m", &s.path, Method::Finit, &["dep_live", "dep_gone"])]);
            let StepOutcome::Failed(f) = &out[0] else { panic!("{out:?}") };
            assert!(
                f.cause.contains(needle) || f.evidence.iter().any(|e| e.contains(needle)),
                "{errno}: {f:?}"
            );
            assert_eq!(f.class, class, "{errno}");
            assert!(!f.fix.is_empty());
            if errno == libc::ENOENT {
                assert_eq!(f.evidence, vec!["not loaded: dep_gone".to_string()]);
            }
        }
    }

    #[test]
    fn an_optional_soft_dependency_may_fail() {
        let s = setup(&[]);
        let rec = Recorder::default();
        rec.finit_answers.borrow_mut().extend([Err(libc::ENODEV), Ok(())]);
        let mut soft = step("crc32c_intel", &s.path, Method::Finit, &[]);
        soft.requested = false;
        soft.required = false;
        let mut user = step("libcrc32c", &s.path, Method::Finit, &["crc32c_intel"]);
        user.hard_needs.clear(); // a pre: soft dependency, not a hard one
        let out = run(&s, &rec, vec![soft, user]);
        assert!(
            matches!(&out[0], StepOutcome::OptionalFailed(f) if f.errno == Some(Errno(libc::ENODEV))),
            "{out:?}"
        );
        assert_eq!(out[1], StepOutcome::Loaded { method: Method::Finit });
    }

    #[test]
    fn a_failure_skips_only_what_depends_on_it() {
        let s = setup(&[]);
        let rec = Recorder::default();
        rec.finit_answers.borrow_mut().extend([Err(libc::ENOEXEC), Ok(())]);
        let out = run(
            &s,
            &rec,
            vec![
                step("a", &s.path, Method::Finit, &[]),
                step("b", &s.path, Method::Finit, &["a"]),
                step("c", &s.path, Method::Finit, &["b"]),
                step("unrelated", &s.path, Method::Finit, &[]),
            ],
        );
        assert!(matches!(out[0], StepOutcome::Failed(_)));
        assert_eq!(out[1], StepOutcome::NotAttempted { reason: "it needs a, which failed to load".into() });
        assert_eq!(
            out[2],
            StepOutcome::NotAttempted { reason: "it needs b, which was not attempted".into() }
        );
        assert_eq!(out[3], StepOutcome::Loaded { method: Method::Finit }, "the unrelated module still loads");
        assert_eq!(rec.finit.borrow().len(), 2);
    }
}
