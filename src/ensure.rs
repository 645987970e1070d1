//! `xtprobe ensure`: make every required extension available, in one
//! command: probe; load what the probe itself needs (nf_tables, nft_compat
//! and their dependencies, by the aliases `nfnetlink-subsys-10/11` the
//! kernel's own autoload uses); load each missing extension's module (by
//! the alias the kernel requests, `ipt_<name>`, `ip6t_<name>`, …); probe
//! again; report before and after.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::catalog::PROBE_PREREQUISITES;
use crate::check::{self, CheckOptions, CheckReport, Status};
use crate::doctor::module_queries;
use crate::exit::ExitCode;
use crate::kmod::ModuleName;
use crate::kmod::index::Index;
use crate::kmod::insert::StepOutcome;
use crate::kmod::persist::{self, Persisted};
use crate::kmod::resolve::Request;
use crate::load::{self, LoadError, LoadOptions, LoadReport};
use crate::probe::{Backend, Outcome, ProbeError};
use crate::profile::Need;
use crate::system::host::Host;
use crate::system::syscalls::ModuleSyscalls;

/// What to ensure.
#[derive(Debug, Clone)]
pub struct EnsureOptions {
    /// The extensions.
    pub needs: Vec<Need>,
    /// Their profile.
    pub profile: Option<String>,
    /// Per kernel answer.
    pub timeout: Duration,
    /// The modules directory [default: /lib/modules/$(uname -r)].
    pub modules_dir: Option<PathBuf>,
    /// Record the loaded modules in modules-load.d.
    pub persist: bool,
    /// Root for the modules-load.d file.
    pub root: PathBuf,
    /// Plan only.
    pub dry_run: bool,
    /// Decompress modules in userspace.
    pub userspace_decompress: bool,
}

/// One load ensure performed (or planned).
#[derive(Debug)]
pub struct Attempt {
    /// What it is for: `probe prerequisites` or the extension.
    pub purpose: String,
    /// The names or aliases requested.
    pub queries: Vec<String>,
    /// What the loader did.
    pub report: LoadReport,
}

impl Attempt {
    /// Whether every required module is in the kernel (or, dry run, planned).
    pub fn ok(&self) -> bool {
        self.report.error.is_none() && self.report.failure().is_none()
    }
}

/// Everything ensure did.
#[derive(Debug)]
pub struct EnsureReport {
    /// The probe before.
    pub before: CheckReport,
    /// Loads, in order.
    pub attempts: Vec<Attempt>,
    /// The probe after (absent when nothing was loaded).
    pub after: Option<CheckReport>,
    /// The modules-load.d result.
    pub persisted: Option<Result<Persisted, String>>,
    /// Whether this was a dry run.
    pub dry_run: bool,
}

impl EnsureReport {
    /// The probe that counts: after, if there was one.
    pub fn last(&self) -> &CheckReport {
        self.after.as_ref().unwrap_or(&self.before)
    }

    /// 0 only if every required extension is supported at the end (for a
    /// dry run: supported already, or planned). Otherwise the first load
    /// failure's status (3 environment, 4 kernel refused), or 1.
    pub fn exit_code(&self) -> ExitCode {
        let missing = |r: &CheckReport| {
            r.results.iter().filter(|x| !x.optional).any(|x| x.status() != Status::Supported)
        };
        if self.dry_run {
            let blocked = self.attempts.iter().filter(|a| !a.ok()).map(|a| a.report.exit_code()).max();
            return match blocked {
                Some(code) => code,
                None if missing(&self.before) && self.attempts.is_empty() => ExitCode::Missing,
                None => ExitCode::Ok,
            };
        }
        if !missing(self.last()) {
            return if matches!(self.persisted, Some(Err(_))) { ExitCode::CannotProbe } else { ExitCode::Ok };
        }
        self.attempts
            .iter()
            .filter(|a| !a.ok())
            .map(|a| a.report.exit_code())
            .find(|c| *c != ExitCode::Ok)
            .unwrap_or(if self.last().exit_code() == ExitCode::CannotProbe {
                ExitCode::CannotProbe
            } else {
                ExitCode::Missing
            })
    }
}

/// Serializable summary of an attempt, for the JSON report.
#[derive(Debug, Serialize)]
pub struct AttemptSummary {
    /// What for.
    pub purpose: String,
    /// Requested names or aliases.
    pub queries: Vec<String>,
    /// Modules loaded now.
    pub loaded: Vec<ModuleName>,
    /// Why it failed, if it did.
    pub error: Option<String>,
}

impl Attempt {
    /// The summary.
    pub fn summary(&self) -> AttemptSummary {
        let loaded = match &self.report.plan {
            Some(p) => p
                .steps
                .iter()
                .zip(&self.report.outcomes)
                .filter(|(_, o)| matches!(o, StepOutcome::Loaded { .. } | StepOutcome::Planned))
                .map(|(s, _)| s.module.clone())
                .collect(),
            None => Vec::new(),
        };
        let error = self
            .report
            .error
            .as_ref()
            .map(LoadError::to_string)
            .or_else(|| self.report.failure().map(|f| format!("{}: {}", f.module, f.cause)));
        AttemptSummary { purpose: self.purpose.clone(), queries: self.queries.clone(), loaded, error }
    }
}

fn probe(opts: &EnsureOptions) -> CheckReport {
    check::run(&CheckOptions {
        needs: opts.needs.clone(),
        profile: opts.profile.clone(),
        backends: vec![Backend::Nft],
        timeout: opts.timeout,
    })
}

/// Whether the probe failed for want of nfnetlink, nf_tables or nft_compat.
fn prerequisites_missing(r: &CheckReport) -> bool {
    r.results.iter().any(|x| {
        matches!(&x.outcome, Outcome::Failed(ProbeError::NoNfnetlink | ProbeError::CompatUnavailable { .. }))
    })
}

/// Runs ensure.
pub fn run(opts: &EnsureOptions, host: &Host, sys: &impl ModuleSyscalls) -> EnsureReport {
    let before = probe(opts);
    let mut attempts = Vec::new();
    let load = |queries: Vec<String>, purpose: String| -> Attempt {
        let lo = LoadOptions {
            requests: queries.iter().map(|q| Request { query: q.clone(), params: String::new() }).collect(),
            dry_run: opts.dry_run,
            modules_dir: opts.modules_dir.clone(),
            persist: false,
            root: opts.root.clone(),
            userspace_decompress: opts.userspace_decompress,
        };
        Attempt { purpose, queries, report: load::run(&lo, host, sys) }
    };

    let mut current = before.clone();
    if prerequisites_missing(&current) {
        // The kernel autoloads nfnetlink-subsys-10/11 through modules.alias;
        // without that index, load by module name.
        let has_alias_index = opts
            .modules_dir
            .clone()
            .or_else(|| crate::kmod::modules_dir(&crate::system::host::kernel_release()))
            .and_then(|d| crate::system::fs::Dir::open(&d).ok())
            .and_then(|d| Index::load(&d).ok())
            .is_some_and(|i| i.aliases.is_some());
        let queries: Vec<String> = if has_alias_index {
            vec!["nfnetlink-subsys-10".into(), "nfnetlink-subsys-11".into()]
        } else {
            PROBE_PREREQUISITES.iter().skip(1).map(|(_, m)| m.to_string()).collect()
        };
        let attempt = load(queries, "probe prerequisites (nf_tables, nft_compat)".into());
        let ok = attempt.ok();
        attempts.push(attempt);
        if ok && !opts.dry_run {
            current = probe(opts);
        }
    }
    // Which extensions to load: missing and not blocked by the probe.
    let missing: Vec<(&Need, Vec<crate::probe::Family>)> = opts
        .needs
        .iter()
        .map(|n| {
            let fams = current
                .results
                .iter()
                .filter(|r| r.requirement == n.requirement && r.status() == Status::NotRegistered)
                .map(|r| r.family)
                .collect::<Vec<_>>();
            (n, fams)
        })
        .filter(|(_, f)| !f.is_empty())
        .collect();
    for (need, families) in missing {
        let ext = &need.requirement.extension;
        // The aliases the kernel requests, then the mainline module name.
        let queries = module_queries(ext, &families);
        // The first query that finds a module decides; if none does, the
        // first "not found" (the kernel's own alias) is the one reported,
        // with every query tried.
        let mut first_miss: Option<Attempt> = None;
        let mut decided = None;
        for q in &queries {
            let a = load(vec![q.clone()], need.requirement.to_string());
            let not_found = matches!(
                a.report.error,
                Some(LoadError::Resolve(crate::kmod::resolve::ResolveError::NotFound { .. }))
            );
            if !not_found {
                decided = Some(a);
                break;
            }
            first_miss.get_or_insert(a);
        }
        let attempt = decided.or_else(|| first_miss.map(|a| Attempt { queries: queries.clone(), ..a }));
        if let Some(a) = attempt {
            attempts.push(a);
        }
    }
    let loaded_any = attempts.iter().any(|a| {
        a.report.outcomes.iter().any(|o| matches!(o, StepOutcome::Loaded { .. } | StepOutcome::AlreadyLoaded))
    });
    let after = (!opts.dry_run && !attempts.is_empty())
        .then(|| if loaded_any { probe(opts) } else { current.clone() });

    let persisted = opts.persist.then(|| {
        let modules: Vec<ModuleName> = attempts
            .iter()
            .filter(|a| a.ok())
            .filter_map(|a| a.report.plan.as_ref())
            .flat_map(|p| p.steps.iter().filter(|s| s.requested).map(|s| s.module.clone()))
            .collect();
        if opts.dry_run {
            persist::pending(&opts.root, &modules)
                .map(|added| Persisted {
                    path: opts.root.join(persist::CONF_PATH),
                    changed: false,
                    note: format!("dry run: would add {} module(s)", added.len()),
                    added,
                    readers: persist::readers(&opts.root),
                    warnings: Vec::new(),
                })
                .map_err(|e| e.to_string())
        } else {
            persist::persist(&opts.root, &modules).map_err(|e| e.to_string())
        }
    });
    EnsureReport { before, attempts, after, persisted, dry_run: opts.dry_run }
}
