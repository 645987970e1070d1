//! `xtprobe ensure`: make every required extension available, in one
//! command: probe; load what the probe itself needs (nf_tables, nft_compat
//! and their dependencies, by the aliases `nfnetlink-subsys-10/11` the
//! kernel's own autoload uses); load each missing extension's module (by
//! the alias the kernel requests, `ipt_<name>`, `ip6t_<name>`, …); probe
//! again; report before and after.
//!
//! One modules directory is opened for the whole run ([`Session`]), so a
//! tree without modules.alias is scanned once, not once per extension.
//!
//! A dry run's exit status is the one a real run would give if every
//! planned load succeeded: an extension already supported, or whose module
//! was found (a file, built in or loaded), counts as available; one with no
//! module, or registered without the required revision, as missing; a plan
//! that could not be made gives its own status.

use std::path::PathBuf;

use serde::Serialize;

use crate::app::check::{self, CheckOptions, CheckReport, Status};
use crate::app::exit::ExitCode;
use crate::app::load::{self, LoadError, LoadReport, Session};
use crate::catalog;
use crate::kmod::ModuleName;
use crate::kmod::insert::StepOutcome;
use crate::kmod::persist::{self, Persisted};
use crate::kmod::resolve::{Request, ResolveError};
use crate::probe::{Backend, Family, Outcome, ProbeError, Requirement};
use crate::profile::Need;
use crate::system::deadline::Deadline;
use crate::system::host::Host;
use crate::system::syscalls::ModuleSyscalls;

/// What to ensure.
#[derive(Debug, Clone)]
pub struct EnsureOptions {
    /// The extensions.
    pub needs: Vec<Need>,
    /// Their profile.
    pub profile: Option<String>,
    /// The backends that answer for xtables matches and targets (nft,
    /// legacy or both): what the rules' client uses.
    pub backends: Vec<Backend>,
    /// When every kernel conversation must have ended.
    pub deadline: Deadline,
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
    /// What it is for: `probe prerequisites` or the requirement and family.
    pub purpose: String,
    /// The requirement it is for (`None` for the probe's prerequisites):
    /// the need's own, even when an alternative's module was loaded.
    pub requirement: Option<Requirement>,
    /// The family it is for.
    pub family: Option<Family>,
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

    /// Whether no module provides what was asked.
    pub fn not_found(&self) -> bool {
        matches!(self.report.error, Some(LoadError::Resolve(ResolveError::NotFound { .. })))
    }

    /// Whether the loader put something into the kernel (or, dry run,
    /// planned to).
    pub fn loaded_something(&self) -> bool {
        self.report.outcomes.iter().any(|o| matches!(o, StepOutcome::Loaded { .. } | StepOutcome::Planned))
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
    /// Why no modules directory could be used, if so, and its status.
    pub session_error: Option<(String, ExitCode)>,
}

impl EnsureReport {
    /// The probe that counts: after, if there was one.
    pub fn last(&self) -> &CheckReport {
        self.after.as_ref().unwrap_or(&self.before)
    }

    /// 0 only if every required extension is supported at the end. A dry
    /// run: the status a real run would give if every planned load worked
    /// (see the module documentation). Otherwise the first load failure's
    /// status (3 environment, 4 kernel refused), or 3 if the kernel still
    /// cannot be asked (or cannot tell), or 1.
    pub fn exit_code(&self) -> ExitCode {
        let persist_failed = matches!(self.persisted, Some(Err(_)));
        if self.dry_run {
            let code = self.dry_run_code();
            return if code == ExitCode::Ok && persist_failed { ExitCode::CannotProbe } else { code };
        }
        let last = self.last().exit_code();
        if last == ExitCode::Ok {
            return if persist_failed { ExitCode::CannotProbe } else { ExitCode::Ok };
        }
        if let Some((_, code)) = &self.session_error {
            return *code;
        }
        self.attempts
            .iter()
            .filter(|a| !a.ok() && !a.not_found())
            .map(|a| a.report.exit_code())
            .find(|c| *c != ExitCode::Ok)
            .unwrap_or(last)
    }

    /// The worst status over the required (requirement, family) pairs, each
    /// judged as a real run would end if every planned load succeeded.
    fn dry_run_code(&self) -> ExitCode {
        let prereqs = self.attempts.iter().find(|a| a.requirement.is_none());
        let mut worst = ExitCode::Ok;
        for ((req, family, _), status) in self.before.verdicts() {
            let attempts: Vec<&Attempt> = self
                .attempts
                .iter()
                .filter(|a| a.requirement.as_ref() == Some(req) && a.family == Some(family))
                .collect();
            let planned = || {
                if attempts.iter().any(|a| a.ok() && !a.not_found()) {
                    ExitCode::Ok
                } else if let Some(a) = attempts.iter().find(|a| !a.ok() && !a.not_found()) {
                    a.report.exit_code()
                } else {
                    ExitCode::Missing
                }
            };
            let code = match status {
                Status::Supported | Status::NotApplicable => ExitCode::Ok,
                Status::RevisionMissing => ExitCode::Missing,
                Status::NotRegistered | Status::Unknown => planned(),
                // The probe could not ask: fine only if what it needs is
                // planned and so is the extension's module.
                Status::Error => {
                    let prerequisite = self.before.results.iter().any(|r| {
                        r.counts_for() == req && r.family == family && prerequisite_error(&r.outcome)
                    });
                    match prereqs {
                        Some(p) if p.ok() && prerequisite => planned(),
                        Some(p) if !p.ok() => p.report.exit_code().max(ExitCode::CannotProbe),
                        _ => ExitCode::CannotProbe,
                    }
                }
            };
            worst = worst.max(code);
        }
        // Without a modules directory nothing can be planned; that matters
        // only if something had to be loaded.
        if let Some((_, code)) = &self.session_error {
            if worst != ExitCode::Ok {
                worst = worst.max(*code);
            }
        }
        worst
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

fn probe(opts: &EnsureOptions, needs: Vec<Need>) -> CheckReport {
    check::run(&CheckOptions {
        needs,
        profile: opts.profile.clone(),
        backends: opts.backends.clone(),
        deadline: opts.deadline.clone(),
    })
}

/// Whether an outcome failed for want of nfnetlink, nf_tables, nft_compat,
/// ip_set or ip_tables.
fn prerequisite_error(o: &Outcome) -> bool {
    matches!(
        o,
        Outcome::Failed(
            ProbeError::NoNfnetlink
                | ProbeError::CompatUnavailable { .. }
                | ProbeError::NoNftables
                | ProbeError::NoIpset
                | ProbeError::LegacyNotLoaded { .. }
        )
    )
}

/// The probers' own prerequisites to load, for every answer that failed
/// for want of one: nf_tables and nft_compat for xtables through nft,
/// nf_tables for nf_tables questions, ip_set for ipset (nfnetlink comes
/// with each), ip_tables or ip6_tables for the legacy sockopts.
fn prerequisites_for(report: &CheckReport) -> Vec<catalog::Prerequisite> {
    let mut out: Vec<catalog::Prerequisite> = Vec::new();
    for r in report.results.iter().filter(|r| prerequisite_error(&r.outcome)) {
        let wanted: Vec<catalog::Prerequisite> = match (&r.outcome, r.backend) {
            (Outcome::Failed(ProbeError::LegacyNotLoaded { module }), _) => {
                vec![catalog::Prerequisite { module, config: catalog::legacy_config(module), alias: module }]
            }
            (_, Backend::Legacy) => Vec::new(),
            _ => catalog::prerequisites(r.requirement.extension.kind.subsystem())
                .iter()
                .skip(1)
                .copied()
                .collect(),
        };
        for p in wanted {
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    out
}

/// Runs ensure.
pub fn run(opts: &EnsureOptions, host: &Host, sys: &impl ModuleSyscalls) -> EnsureReport {
    let before = probe(opts, opts.needs.clone());
    let mut report = EnsureReport {
        before: before.clone(),
        attempts: Vec::new(),
        after: None,
        persisted: None,
        dry_run: opts.dry_run,
        session_error: None,
    };
    let mut session = match Session::open(
        opts.modules_dir.as_deref(),
        &opts.root,
        host,
        sys.module_support(),
        opts.userspace_decompress,
    ) {
        Ok(s) => s,
        Err(e) => {
            report.session_error = Some((e.to_string(), e.exit_code()));
            return report;
        }
    };
    session.deadline = Some(opts.deadline.clone());
    session.resolver().blacklist_names = true;
    let load = |session: &mut Session, queries: Vec<String>| -> LoadReport {
        let requests: Vec<Request> =
            queries.iter().map(|q| Request { query: q.clone(), params: String::new() }).collect();
        session.load(&requests, opts.dry_run, host, sys)
    };

    let mut current = before;
    let wanted = prerequisites_for(&current);
    let prereqs_missing = !wanted.is_empty();
    if prereqs_missing {
        // The kernel autoloads nfnetlink-subsys-N through modules.alias;
        // without that index, load by module name.
        let aliases = session.resolver().index().aliases.is_some();
        let queries: Vec<String> =
            wanted.iter().map(|p| if aliases { p.alias } else { p.module }.to_string()).collect();
        let r = load(&mut session, queries.clone());
        let attempt = Attempt {
            purpose: format!(
                "probe prerequisites ({})",
                wanted.iter().map(|p| p.module).collect::<Vec<_>>().join(", ")
            ),
            requirement: None,
            family: None,
            queries,
            report: r,
        };
        let ok = attempt.ok();
        report.attempts.push(attempt);
        if ok && !opts.dry_run {
            current = probe(opts, opts.needs.clone());
        }
    }
    // Each need in each family where it is missing (or, in a dry run where
    // the probe could not ask yet, unknown): its candidates' providers, one
    // by one, until the kernel says it is there. A provider that was
    // already loaded did not provide it (or the probe would have said so):
    // the next one may be the piece that is missing (nft_log loaded, its
    // logger not; xt_tcpudp loaded on a kernel whose icmp match is in
    // ip_tables).
    // Whether anything was loaded since `current` was asked: then a need
    // may be there already (xt_comment loaded for ipv4 serves ipv6 too).
    let mut stale = false;
    for need in &opts.needs {
        for &family in &need.families {
            let mut status = current.status_of(&need.requirement, family);
            if stale && !opts.dry_run && matches!(status, Some(Status::NotRegistered | Status::Unknown)) {
                status = probe(opts, vec![Need { families: vec![family], ..need.clone() }])
                    .status_of(&need.requirement, family);
            }
            let prerequisite_pending = opts.dry_run
                && prereqs_missing
                && current.results.iter().any(|r| {
                    r.counts_for() == &need.requirement
                        && r.family == family
                        && prerequisite_error(&r.outcome)
                });
            if !matches!(status, Some(Status::NotRegistered | Status::Unknown)) && !prerequisite_pending {
                continue;
            }
            let mut first_miss: Option<(Vec<String>, LoadReport)> = None;
            let mut fixed = false;
            let mut tried_any = false;
            'candidates: for candidate in need.candidates() {
                for q in catalog::module_queries(&candidate.extension, &[family]) {
                    let r = load(&mut session, vec![q.clone()]);
                    let not_found =
                        matches!(r.error, Some(LoadError::Resolve(ResolveError::NotFound { .. })));
                    if not_found {
                        first_miss.get_or_insert((vec![q], r));
                        continue;
                    }
                    let attempt = Attempt {
                        purpose: format!("{} in {family}", need.describe()),
                        requirement: Some(need.requirement.clone()),
                        family: Some(family),
                        queries: vec![q],
                        report: r,
                    };
                    let (ok, new) = (attempt.ok(), attempt.loaded_something());
                    if !ok || new {
                        tried_any = true;
                        report.attempts.push(attempt);
                    }
                    stale |= new;
                    if ok && new {
                        if opts.dry_run {
                            fixed = true;
                            break 'candidates;
                        }
                        let again = probe(opts, vec![Need { families: vec![family], ..need.clone() }]);
                        if again.status_of(&need.requirement, family) == Some(Status::Supported) {
                            fixed = true;
                            break 'candidates;
                        }
                    }
                }
            }
            if !fixed && !tried_any {
                if let Some((queries, r)) = first_miss {
                    let mut queries = queries;
                    for c in need.candidates() {
                        for q in catalog::module_queries(&c.extension, &[family]) {
                            if !queries.contains(&q) {
                                queries.push(q);
                            }
                        }
                    }
                    report.attempts.push(Attempt {
                        purpose: format!("{} in {family}", need.describe()),
                        requirement: Some(need.requirement.clone()),
                        family: Some(family),
                        queries,
                        report: r,
                    });
                }
            }
        }
    }
    let loaded_any = report.attempts.iter().any(|a| {
        a.report.outcomes.iter().any(|o| matches!(o, StepOutcome::Loaded { .. } | StepOutcome::AlreadyLoaded))
    });
    report.after = (!opts.dry_run && !report.attempts.is_empty())
        .then(|| if loaded_any { probe(opts, opts.needs.clone()) } else { current.clone() });

    if opts.persist {
        // The same rule as `load --persist`: what was asked for and loaded
        // as a module (built-ins never).
        let modules: Vec<ModuleName> = report
            .attempts
            .iter()
            .filter_map(|a| a.report.plan.as_ref().map(|p| load::persistable(p, &a.report.outcomes)))
            .flatten()
            .collect();
        report.persisted = Some(if opts.dry_run {
            load::dry_run_persist(&opts.root, &modules)
        } else if modules.is_empty() {
            persist::pending(&opts.root, &modules)
                .map(|_| {
                    Persisted::unwritten(
                        &opts.root,
                        Vec::new(),
                        "nothing was loaded, so nothing to add".into(),
                    )
                })
                .map_err(|e| e.to_string())
        } else {
            persist::persist(&opts.root, &modules).map_err(|e| e.to_string())
        });
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::check::CheckResult;
    use crate::kmod::resolve::Plan;
    use crate::probe::Revisions;

    fn result(spec: &str, outcome: Outcome) -> CheckResult {
        CheckResult {
            requirement: spec.parse().unwrap(),
            optional: false,
            family: Family::Ipv4,
            backend: Backend::Nft,
            outcome,
            alternative_for: None,
        }
    }

    fn load_report(error: Option<LoadError>) -> LoadReport {
        LoadReport {
            kernel_release: "6.12.0".into(),
            modules_dir: None,
            dry_run: true,
            plan: error.is_none().then(Plan::default),
            outcomes: Vec::new(),
            error,
            persisted: None,
            warnings: Vec::new(),
        }
    }

    fn attempt(spec: Option<&str>, error: Option<LoadError>) -> Attempt {
        Attempt {
            purpose: spec.unwrap_or("probe prerequisites").into(),
            requirement: spec.map(|s| s.parse().unwrap()),
            family: spec.map(|_| Family::Ipv4),
            queries: Vec::new(),
            report: load_report(error),
        }
    }

    fn not_found() -> LoadError {
        LoadError::Resolve(ResolveError::NotFound { query: "ipt_x".into(), looked: Vec::new() })
    }

    fn dry(results: Vec<CheckResult>, attempts: Vec<Attempt>) -> ExitCode {
        EnsureReport {
            before: CheckReport {
                kernel_release: "6.12.0".into(),
                profile: None,
                nf_tables: None,
                results,
                disagreements: Vec::new(),
                rules: None,
            },
            attempts,
            after: None,
            persisted: None,
            dry_run: true,
            session_error: None,
        }
        .exit_code()
    }

    /// A dry run's status is the one a real run would end with if every
    /// planned load worked: not 0 while something it cannot fix is missing.
    #[test]
    fn a_dry_run_exits_as_a_real_run_would() {
        let ok = Outcome::Registered(Revisions { supported: vec![0], best: Some(0) });
        let rev = Outcome::Registered(Revisions { supported: vec![1, 2, 3], best: Some(3) });
        let compat = ProbeError::CompatUnavailable { nf_tables_reachable: true, ext_ack: None };
        let cases: Vec<(&str, Vec<CheckResult>, Vec<Attempt>, ExitCode)> = vec![
            ("all there", vec![result("comment", ok.clone())], vec![], ExitCode::Ok),
            (
                "missing, its module planned",
                vec![result("comment", Outcome::NotRegistered)],
                vec![attempt(Some("comment"), None)],
                ExitCode::Ok,
            ),
            (
                "missing, no module",
                vec![result("comment", Outcome::NotRegistered)],
                vec![attempt(Some("comment"), Some(not_found()))],
                ExitCode::Missing,
            ),
            (
                "planned, but another one is revision-missing",
                vec![result("comment", Outcome::NotRegistered), result("conntrack@0", rev)],
                vec![attempt(Some("comment"), None)],
                ExitCode::Missing,
            ),
            (
                "planned, but the kernel could not be asked about another",
                vec![
                    result("comment", Outcome::NotRegistered),
                    result("mark", Outcome::Failed(ProbeError::PermissionDenied { cap: "CAP_NET_ADMIN" })),
                ],
                vec![attempt(Some("comment"), None)],
                ExitCode::CannotProbe,
            ),
            (
                "nft_compat missing: prerequisites and module planned",
                vec![result("comment", Outcome::Failed(compat.clone()))],
                vec![attempt(None, None), attempt(Some("comment"), None)],
                ExitCode::Ok,
            ),
            (
                "nft_compat missing, the extension has no module",
                vec![result("comment", Outcome::Failed(compat))],
                vec![attempt(None, None), attempt(Some("comment"), Some(not_found()))],
                ExitCode::Missing,
            ),
        ];
        for (name, results, attempts, want) in cases {
            assert_eq!(dry(results, attempts), want, "{name}");
        }
    }
}
