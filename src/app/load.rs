//! `xtprobe load`: resolve modules in a modules directory, load them with
//! their dependencies, and optionally record them for the next boot.

use std::path::{Path, PathBuf};

use crate::app::exit::ExitCode;
use crate::kmod::config::ModprobeConfig;
use crate::kmod::insert::{LoadFailure, Loader, StepOutcome};
use crate::kmod::persist::{self, Persisted};
use crate::kmod::policy::LoadPolicy;
use crate::kmod::resolve::{Action, Plan, Request, ResolveError, Resolver};
use crate::kmod::state::KernelModules;
use crate::kmod::{ModuleName, default_dirs, modules_dir as default_modules_dir};
use crate::system::deadline::Deadline;
use crate::system::host::Host;
use crate::system::syscalls::{ModuleSupport, ModuleSyscalls};

/// What to load, and how.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Modules (names or aliases) with their parameters.
    pub requests: Vec<Request>,
    /// Print the plan, load nothing.
    pub dry_run: bool,
    /// The modules directory; default `/lib/modules/$(uname -r)`, then
    /// `/usr/lib/modules/$(uname -r)`.
    pub modules_dir: Option<PathBuf>,
    /// Record the requested modules in modules-load.d after loading.
    pub persist: bool,
    /// Root for the modules-load.d file (tests, images); default `/`.
    pub root: PathBuf,
    /// Decompress in userspace and use `init_module`, even when the kernel
    /// could decompress.
    pub userspace_decompress: bool,
    /// Where the loader records what it waits on, for a timeout to name.
    pub deadline: Option<Deadline>,
}

/// Why nothing could be planned.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// No modules directory for the running kernel.
    #[error("no modules directory for kernel {release}; looked in {}{}", .looked.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "), if *.modules_supported { "" } else { " (and this kernel has no loadable-module support: CONFIG_MODULES is not set, so nothing can be loaded)" })]
    NoModulesDir {
        /// The running kernel.
        release: String,
        /// Directories tried.
        looked: Vec<PathBuf>,
        /// Whether the kernel could load modules at all.
        modules_supported: bool,
    },
    /// Resolution failed.
    #[error(transparent)]
    Resolve(#[from] ResolveError),
}

impl LoadError {
    /// The exit status for this error.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            LoadError::NoModulesDir { modules_supported: false, .. } => ExitCode::CannotProbe,
            LoadError::NoModulesDir { .. } => ExitCode::Missing,
            LoadError::Resolve(ResolveError::NotFound { .. } | ResolveError::DependencyMissing { .. }) => {
                ExitCode::Missing
            }
            LoadError::Resolve(_) => ExitCode::CannotProbe,
        }
    }
}

/// Everything `load` did.
#[derive(Debug)]
pub struct LoadReport {
    /// `uname -r`.
    pub kernel_release: String,
    /// The modules directory used.
    pub modules_dir: Option<PathBuf>,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// The plan, if one was made.
    pub plan: Option<Plan>,
    /// One outcome per plan step.
    pub outcomes: Vec<StepOutcome>,
    /// Why no plan was made.
    pub error: Option<LoadError>,
    /// The modules-load.d result, with `--persist`.
    pub persisted: Option<Result<Persisted, String>>,
    /// Notes: soft dependencies not found, a tree for another kernel.
    pub warnings: Vec<String>,
}

impl LoadReport {
    /// The first failure among the outcomes.
    pub fn failure(&self) -> Option<&LoadFailure> {
        self.outcomes.iter().find_map(|o| match o {
            StepOutcome::Failed(f) => Some(f),
            _ => None,
        })
    }

    /// 0 loaded or already there; 1 not found; 3 environment or permission;
    /// 4 the kernel refused.
    pub fn exit_code(&self) -> ExitCode {
        if let Some(e) = &self.error {
            return e.exit_code();
        }
        if let Some(f) = self.failure() {
            return ExitCode::of_failure(f.class);
        }
        if matches!(self.persisted, Some(Err(_))) {
            return ExitCode::CannotProbe;
        }
        ExitCode::Ok
    }
}

/// One modules directory opened for a command: the resolver (and what it
/// has read so far) shared by every plan `ensure` makes, the kernel's
/// module state, and the notes about the tree.
pub struct Session {
    /// `uname -r`.
    pub release: String,
    /// The modules directory.
    pub dir: PathBuf,
    resolver: Resolver,
    kernel: KernelModules,
    /// Notes about the tree (made for another kernel).
    pub warnings: Vec<String>,
    /// Where the loader records what it waits on.
    pub deadline: Option<Deadline>,
}

impl Session {
    /// Opens `modules_dir` (default: the running kernel's) and its indexes,
    /// and reads modprobe.d under `root` and the kernel command line.
    pub fn open(
        modules_dir: Option<&Path>,
        root: &Path,
        host: &Host,
        support: ModuleSupport,
        userspace_decompress: bool,
    ) -> Result<Self, LoadError> {
        let release = crate::system::host::kernel_release();
        let kernel = KernelModules::new(host.clone());
        let dir = match modules_dir.map(Path::to_path_buf).or_else(|| default_modules_dir(&release)) {
            Some(d) => d,
            None => {
                return Err(LoadError::NoModulesDir {
                    looked: default_dirs(&release),
                    modules_supported: support != ModuleSupport::Absent,
                    release,
                });
            }
        };
        let mut warnings = Vec::new();
        if let Some(tree_release) = dir.file_name().and_then(|n| n.to_str()) {
            if modules_dir.is_some() && tree_release != release && looks_like_release(tree_release) {
                warnings.push(format!(
                    "{} holds modules for kernel {tree_release}, but {release} is running: the kernel will \
                     refuse them (vermagic)",
                    dir.display()
                ));
            }
        }
        let mut resolver = Resolver::open(&dir, kernel.clone())?;
        resolver.force_userspace = userspace_decompress;
        let cmdline = host.proc_file("cmdline").unwrap_or_default();
        resolver.config = ModprobeConfig::read(root, resolver.softdep_file(), &cmdline);
        warnings.extend(resolver.config.warnings.iter().map(|w| format!("modprobe.d: {w}")));
        Ok(Self { release, dir, resolver, kernel, warnings, deadline: None })
    }

    /// The plan for `requests`.
    pub fn plan(&mut self, requests: &[Request]) -> Result<Plan, LoadError> {
        Ok(self.resolver.plan(requests)?)
    }

    /// The resolver, for lookups that are not loads.
    pub fn resolver(&mut self) -> &mut Resolver {
        &mut self.resolver
    }

    /// Carries out `plan` (or, in a dry run, says what would happen).
    pub fn carry_out(
        &self,
        plan: &Plan,
        dry_run: bool,
        host: &Host,
        sys: &impl ModuleSyscalls,
    ) -> Vec<StepOutcome> {
        if dry_run {
            return plan
                .steps
                .iter()
                .map(|s| match s.action {
                    Action::Load => StepOutcome::Planned,
                    Action::Builtin => StepOutcome::Builtin,
                    Action::Live => StepOutcome::Live,
                })
                .collect();
        }
        let policy = LoadPolicy::read(host, sys);
        let mut loader = Loader::new(sys, &self.kernel, &policy);
        loader.deadline = self.deadline.clone();
        loader.run(plan)
    }

    /// Plans and carries out `requests`: a load report, without persisting.
    pub fn load(
        &mut self,
        requests: &[Request],
        dry_run: bool,
        host: &Host,
        sys: &impl ModuleSyscalls,
    ) -> LoadReport {
        let mut report = LoadReport {
            kernel_release: self.release.clone(),
            modules_dir: Some(self.dir.clone()),
            dry_run,
            plan: None,
            outcomes: Vec::new(),
            error: None,
            persisted: None,
            warnings: self.warnings.clone(),
        };
        if let Some(d) = &self.deadline {
            let names: Vec<&str> = requests.iter().map(|r| r.query.as_str()).collect();
            d.doing(format!(
                "xtprobe was resolving {} in {} (reading module files, not waiting for the kernel)",
                names.join(", "),
                crate::system::fs::shown(&self.dir)
            ));
        }
        match self.plan(requests) {
            Ok(plan) => {
                report.warnings.extend(plan.warnings.iter().cloned());
                report.outcomes = self.carry_out(&plan, dry_run, host, sys);
                report.plan = Some(plan);
            }
            Err(e) => report.error = Some(e),
        }
        report
    }
}

/// Plans and, unless `dry_run`, loads; then, with `persist`, records what
/// loaded.
pub fn run(opts: &LoadOptions, host: &Host, sys: &impl ModuleSyscalls) -> LoadReport {
    let support = sys.module_support();
    let mut session = match Session::open(
        opts.modules_dir.as_deref(),
        &opts.root,
        host,
        support,
        opts.userspace_decompress,
    ) {
        Ok(s) => s,
        Err(e) => {
            return LoadReport {
                kernel_release: crate::system::host::kernel_release(),
                modules_dir: None,
                dry_run: opts.dry_run,
                plan: None,
                outcomes: Vec::new(),
                error: Some(e),
                persisted: None,
                warnings: Vec::new(),
            };
        }
    };
    session.deadline = opts.deadline.clone();
    let mut report = session.load(&opts.requests, opts.dry_run, host, sys);
    if opts.persist {
        if let Some(plan) = &report.plan {
            let modules = persistable(plan, &report.outcomes);
            report.persisted = if opts.dry_run {
                Some(dry_run_persist(&opts.root, &modules))
            } else if modules.is_empty() {
                None
            } else {
                Some(persist::persist(&opts.root, &modules).map_err(|e| e.to_string()))
            };
        }
    }
    report
}

/// The modules a load records for the next boot, the one rule `load`,
/// `load --dry-run`, `ensure` and `ensure --dry-run` share: every module
/// the user asked for that is (or, in a dry run, would be) loaded as a
/// module. Built-in modules are never listed: they are always there. Of
/// several modules providing one alias, those that loaded.
pub fn persistable(plan: &Plan, outcomes: &[StepOutcome]) -> Vec<ModuleName> {
    plan.steps
        .iter()
        .zip(outcomes)
        .filter(|(s, o)| {
            s.requested
                && s.action != Action::Builtin
                && matches!(
                    o,
                    StepOutcome::Loaded { .. }
                        | StepOutcome::AlreadyLoaded
                        | StepOutcome::Live
                        | StepOutcome::Planned
                )
        })
        .map(|(s, _)| s.module.clone())
        .collect()
}

/// What `persist` would do, for a dry run: nothing is written.
pub fn dry_run_persist(root: &Path, modules: &[ModuleName]) -> Result<Persisted, String> {
    let added = persist::pending(root, modules).map_err(|e| e.to_string())?;
    let note = format!("dry run: would add {} module(s)", added.len());
    Ok(Persisted::unwritten(root, added, note))
}

fn looks_like_release(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_digit()) && s.contains('.')
}
