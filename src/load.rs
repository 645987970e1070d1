//! `xtprobe load`: resolve modules in a modules directory, load them with
//! their dependencies, and optionally record them for the next boot.

use std::path::{Path, PathBuf};

use crate::exit::ExitCode;
use crate::kmod::insert::{LoadFailure, Loader, StepOutcome};
use crate::kmod::persist::{self, Persisted};
use crate::kmod::policy::LoadPolicy;
use crate::kmod::resolve::{Action, Plan, Request, ResolveError, Resolver};
use crate::kmod::state::KernelModules;
use crate::kmod::{ModuleName, default_dirs, modules_dir};
use crate::system::host::Host;
use crate::system::syscalls::ModuleSyscalls;

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
            return f.exit;
        }
        if matches!(self.persisted, Some(Err(_))) {
            return ExitCode::CannotProbe;
        }
        ExitCode::Ok
    }
}

/// Plans and, unless `dry_run`, loads.
pub fn run(opts: &LoadOptions, host: &Host, sys: &impl ModuleSyscalls) -> LoadReport {
    let release = crate::system::host::kernel_release();
    let kernel = KernelModules::new(host.clone());
    let mut report = LoadReport {
        kernel_release: release.clone(),
        modules_dir: None,
        dry_run: opts.dry_run,
        plan: None,
        outcomes: Vec::new(),
        error: None,
        persisted: None,
        warnings: Vec::new(),
    };
    let dir = match opts.modules_dir.clone().or_else(|| modules_dir(&release)) {
        Some(d) => d,
        None => {
            report.error = Some(LoadError::NoModulesDir {
                release: release.clone(),
                looked: default_dirs(&release),
                modules_supported: kernel.modules_supported(),
            });
            return report;
        }
    };
    report.modules_dir = Some(dir.clone());
    if let Some(tree_release) = dir.file_name().and_then(|n| n.to_str()) {
        if opts.modules_dir.is_some() && tree_release != release && looks_like_release(tree_release) {
            report.warnings.push(format!(
                "{} holds modules for kernel {tree_release}, but {release} is running: the kernel will \
                 refuse them (vermagic)",
                dir.display()
            ));
        }
    }
    let plan = match plan(&dir, &opts.requests, kernel.clone(), opts.userspace_decompress) {
        Ok(p) => p,
        Err(e) => {
            report.error = Some(e);
            return report;
        }
    };
    report.warnings.extend(plan.warnings.iter().cloned());
    let requested: Vec<ModuleName> =
        plan.steps.iter().filter(|s| s.requested).map(|s| s.module.clone()).collect();
    if opts.dry_run {
        report.outcomes = plan
            .steps
            .iter()
            .map(|s| match s.action {
                Action::Load => StepOutcome::Planned,
                Action::Builtin => StepOutcome::Builtin,
                Action::Live => StepOutcome::Live,
            })
            .collect();
        if opts.persist {
            report.persisted = Some(dry_run_persist(&opts.root, &requested));
        }
    } else {
        let policy = LoadPolicy::read(host);
        let loader = Loader::new(sys, &kernel, &policy);
        report.outcomes = loader.run(&plan);
        if opts.persist && report.failure().is_none() {
            // Built-in modules need no entry: they are always there.
            let to_persist: Vec<ModuleName> = plan
                .steps
                .iter()
                .filter(|s| s.requested && s.action != Action::Builtin)
                .map(|s| s.module.clone())
                .collect();
            report.persisted = Some(persist::persist(&opts.root, &to_persist).map_err(|e| e.to_string()));
        }
    }
    report.plan = Some(plan);
    report
}

/// The plan for `requests` in `dir`.
pub fn plan(
    dir: &Path,
    requests: &[Request],
    kernel: KernelModules,
    userspace_decompress: bool,
) -> Result<Plan, LoadError> {
    let mut resolver = Resolver::open(dir, kernel)?;
    resolver.force_userspace = userspace_decompress;
    Ok(resolver.plan(requests)?)
}

fn dry_run_persist(root: &Path, modules: &[ModuleName]) -> Result<Persisted, String> {
    let added = persist::pending(root, modules).map_err(|e| e.to_string())?;
    let readers = persist::readers(root);
    Ok(Persisted {
        path: root.join(persist::CONF_PATH),
        changed: false,
        note: format!("dry run: would add {} module(s)", added.len()),
        added,
        readers,
        warnings: Vec::new(),
    })
}

fn looks_like_release(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_digit()) && s.contains('.')
}
