//! `xtprobe check`: probe a list of requirements in a list of families with
//! one or both backends, and decide the exit status.
//!
//! The report keeps every (requirement, family, backend) answer, including
//! why a backend could not answer, so the JSON output is complete even when
//! the kernel refused. A backend that fails for a reason that will not
//! change between queries (no permission, no nfnetlink, no nft_compat,
//! timeout) is not asked again: its remaining answers carry the same error.

use crate::app::exit::ExitCode;
use crate::probe::ipset::IpsetProber;
use crate::probe::nftables::NftablesProber;
use crate::probe::xt::legacy::LegacyProber;
use crate::probe::xt::nft::{NfTablesStatus, NftProber};
use crate::probe::{Backend, Errno, Extension, Family, Kind, Outcome, ProbeError, Requirement};
use crate::profile::Need;
use crate::system::deadline::{self, Deadline};

/// What to check.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// The extensions, each with its families and whether it is optional.
    pub needs: Vec<Need>,
    /// The profile the needs come from, if any.
    pub profile: Option<String>,
    /// The backends that answer for xtables matches and targets (nft,
    /// legacy or both; the default is nft). nf_tables and ipset
    /// requirements always have their own.
    pub backends: Vec<Backend>,
    /// When every answer must be in: the whole check, kernel-side waits
    /// included, ends by then.
    pub deadline: Deadline,
}

/// One answer.
#[derive(Debug, Clone)]
pub struct CheckResult {
    /// What was required.
    pub requirement: Requirement,
    /// Whether a miss is only reported (never fails the exit status).
    pub optional: bool,
    /// In which family.
    pub family: Family,
    /// Which backend answered.
    pub backend: Backend,
    /// What it said.
    pub outcome: Outcome,
    /// The requirement this one stands in for, if it is an alternative
    /// (`match:state` for `match:conntrack`).
    pub alternative_for: Option<Requirement>,
}

/// The verdict of one answer against its requirement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Registered at the required revision (or any, if none is required).
    Supported,
    /// No extension of this kind and name is registered.
    NotRegistered,
    /// Registered, but not at the required revision.
    RevisionMissing,
    /// This backend cannot ask about this family or kind.
    NotApplicable,
    /// The backend could not answer.
    Error,
    /// The kernel could not be asked this way yet (what the question is
    /// asked through is not there).
    Unknown,
}

/// The verdict over a requirement and its alternatives: supported if any
/// is; otherwise the answer that says least (an error, then "cannot tell",
/// then missing); not applicable only if every one is.
pub fn combined(statuses: impl IntoIterator<Item = Status>) -> Status {
    let all: Vec<Status> = statuses.into_iter().collect();
    let any = |s: Status| all.contains(&s);
    if any(Status::Supported) {
        Status::Supported
    } else if all.iter().all(|s| *s == Status::NotApplicable) {
        Status::NotApplicable
    } else if any(Status::Error) {
        Status::Error
    } else if any(Status::Unknown) {
        Status::Unknown
    } else if any(Status::RevisionMissing) && !any(Status::NotRegistered) {
        Status::RevisionMissing
    } else {
        Status::NotRegistered
    }
}

impl CheckResult {
    /// The requirement this answer counts for: itself, or the one it is
    /// an alternative to.
    pub fn counts_for(&self) -> &Requirement {
        self.alternative_for.as_ref().unwrap_or(&self.requirement)
    }

    /// The verdict.
    pub fn status(&self) -> Status {
        match &self.outcome {
            Outcome::Registered(revs) if revs.satisfies(self.requirement.revision) => Status::Supported,
            Outcome::Registered(_) => Status::RevisionMissing,
            Outcome::Present => Status::Supported,
            Outcome::NotRegistered => Status::NotRegistered,
            Outcome::NotApplicable(_) => Status::NotApplicable,
            Outcome::Failed(_) => Status::Error,
            Outcome::Unknown(_) => Status::Unknown,
        }
    }

    /// The errno the kernel answered with, if it refused.
    pub fn errno(&self) -> Option<Errno> {
        match &self.outcome {
            Outcome::Registered(revs) if !revs.satisfies(self.requirement.revision) => {
                Some(Errno(libc::EPROTONOSUPPORT))
            }
            Outcome::Registered(_) | Outcome::Present | Outcome::NotApplicable(_) | Outcome::Unknown(_) => {
                None
            }
            Outcome::NotRegistered => Some(Errno(libc::ENOENT)),
            Outcome::Failed(e) => e.errno(),
        }
    }

    /// A sentence saying what the answer means.
    pub fn message(&self) -> String {
        let ext = &self.requirement.extension;
        match &self.outcome {
            Outcome::Registered(revs) => match self.requirement.revision {
                Some(r) if !revs.supported.contains(&r) => format!(
                    "the kernel has {} {} but not revision {r} (it accepts {}); rules written \
                     for revision {r} need a kernel that provides it",
                    ext.kind,
                    ext.name,
                    list(&revs.supported)
                ),
                _ => format!("registered; revisions {}", list(&revs.supported)),
            },
            Outcome::Present => "present".to_string(),
            Outcome::NotRegistered => format!(
                "not registered: {}; `xtprobe doctor {}` tells why",
                missing_text(ext, self.family),
                self.requirement
            ),
            Outcome::NotApplicable(why) => format!("not asked: {why}"),
            Outcome::Failed(e) => e.to_string(),
            Outcome::Unknown(why) => format!("cannot tell yet: {why}"),
        }
    }
}

/// What "not registered" means for each kind, naming what the kernel
/// asked for.
fn missing_text(ext: &Extension, family: Family) -> String {
    let n = family.nfproto();
    match ext.kind {
        Kind::Match | Kind::Target => format!(
            "the kernel knows no {} named {:?} in {family} (no module providing {}{} is loaded, or \
             none is built for this kernel)",
            ext.kind,
            ext.name,
            family.module_prefix().unwrap_or("xt_"),
            ext.name
        ),
        Kind::Expr => format!(
            "nf_tables has no expression type {:?} in {family} (nft-expr-{n}-{} / nft-expr-{} is not \
             loaded or not built); nft says \"Could not process rule: No such file or directory\"",
            ext.name, ext.name, ext.name
        ),
        Kind::Chain => format!(
            "nf_tables has no {:?} chain type for {family} (nft-chain-{n}-{} is not loaded or not built)",
            ext.name, ext.name
        ),
        Kind::Family => format!("this kernel's nf_tables was built without the {family} family"),
        Kind::Set => format!("no nf_tables set backend accepts {} sets", ext.name),
        Kind::Ipset => format!(
            "ipset has no set type {:?} for {family} (ip_set_{} is not loaded or not built)",
            ext.name, ext.name
        ),
        Kind::Table => format!(
            "the legacy {} table of {family} is not there (no {}table_{} is loaded, or none is built); \
             iptables-legacy says \"can't initialize iptables table\"",
            ext.name,
            match family {
                Family::Ipv6 => "ip6",
                Family::Arp => "arp",
                _ => "ip",
            },
            ext.name
        ),
        Kind::Logger => format!(
            "no {} logger is registered for {family} (nf-logger-{n}-{} is not loaded or not built): the \
             log rule is refused with \"No such file or directory\"",
            ext.name,
            if ext.name == "nflog" { 1 } else { 0 }
        ),
        Kind::Helper => format!(
            "conntrack has no helper {:?} (nfct-helper-{} is not loaded or not built)",
            ext.name, ext.name
        ),
        Kind::Object => format!(
            "nf_tables has no {} object type in {family} (its module is not loaded or not built)",
            ext.name
        ),
        Kind::Textsearch => format!(
            "the kernel has no textsearch algorithm {:?} (ts_{} is not loaded or not built): `-m string \
             --algo {}` is refused",
            ext.name, ext.name, ext.name
        ),
    }
}

fn list(revs: &[u8]) -> String {
    revs.iter().map(u8::to_string).collect::<Vec<_>>().join(", ")
}

/// nft and legacy gave different answers for the same extension and family.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Disagreement {
    /// The requirement as written.
    pub requirement: String,
    /// The family.
    pub family: Family,
    /// Revisions nft accepted.
    pub nft: Vec<u8>,
    /// Revisions legacy accepted.
    pub legacy: Vec<u8>,
}

/// Everything `check` found.
#[derive(Debug, Clone)]
pub struct CheckReport {
    /// `uname -r`.
    pub kernel_release: String,
    /// The profile checked, if any.
    pub profile: Option<String>,
    /// nf_tables reachability, when the nft backend was used and could ask.
    pub nf_tables: Option<Result<NfTablesStatus, ProbeError>>,
    /// One entry per (requirement, family, backend), in that order.
    pub results: Vec<CheckResult>,
    /// Where nft and legacy disagree (only with both backends).
    pub disagreements: Vec<Disagreement>,
    /// With `--rules`: the verdict line by line ([`judge_lines`]).
    pub rules: Option<RulesVerdict>,
}

/// The lines of saved rulesets that cannot load, as the report shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RulesVerdict {
    /// Lines that need something of the kernel.
    pub lines: usize,
    /// Those whose every requirement is there.
    pub loadable: usize,
    /// The others, in file order.
    pub failing: Vec<FailingLine>,
}

/// A line whose rule, chain or table cannot be created as it stands.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FailingLine {
    /// The file.
    pub file: String,
    /// Its line (for `nft -j` documents, the rule's position).
    pub line: u32,
    /// The verdict: not-registered, error, unknown, …
    pub status: Status,
    /// What it lacks: `target:LOG in ipv6 (not-registered)`.
    pub missing: Vec<String>,
}

/// Judges each line of `lines` by the report's answers: once per distinct
/// set of requirements, so a million lines cost a million lookups of a
/// small table.
pub fn judge_lines(report: &CheckReport, lines: &crate::ruleset::Lines) -> RulesVerdict {
    let mut v = RulesVerdict { lines: lines.len(), ..Default::default() };
    for (needs, at) in lines.sets() {
        let mut statuses = Vec::new();
        let mut missing = Vec::new();
        for (demand, family) in needs {
            let Some(status) = report.status_of(&demand.requirement, *family) else { continue };
            if !matches!(status, Status::Supported | Status::NotApplicable) {
                let mut what = demand.requirement.to_string();
                for a in &demand.alternatives {
                    what.push_str(&format!(" (or {a})"));
                }
                missing.push(format!("{what} in {family} ({})", status_name(status)));
            }
            statuses.push(status);
        }
        match worst(&statuses) {
            Some(s @ (Status::Error | Status::NotRegistered | Status::RevisionMissing | Status::Unknown)) => {
                v.failing.extend(at.into_iter().map(|(file, line)| FailingLine {
                    file: file.to_string(),
                    line,
                    status: s,
                    missing: missing.clone(),
                }))
            }
            _ => v.loadable += at.len(),
        }
    }
    v.failing.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    v
}

/// A status's word, as JSON spells it.
pub fn status_name(s: Status) -> &'static str {
    match s {
        Status::Supported => "supported",
        Status::NotRegistered => "not-registered",
        Status::RevisionMissing => "revision-missing",
        Status::NotApplicable => "not-applicable",
        Status::Error => "error",
        Status::Unknown => "unknown",
    }
}

impl CheckReport {
    /// The results of each requirement, in order (one pass: callers that
    /// walk requirements stay linear).
    pub fn by_requirement(&self) -> std::collections::HashMap<&Requirement, Vec<&CheckResult>> {
        let mut map: std::collections::HashMap<&Requirement, Vec<&CheckResult>> =
            std::collections::HashMap::new();
        for r in &self.results {
            map.entry(&r.requirement).or_default().push(r);
        }
        map
    }

    /// The first error that kept a backend from answering.
    pub fn first_error(&self) -> Option<&ProbeError> {
        self.results.iter().find_map(|r| match &r.outcome {
            Outcome::Failed(e) => Some(e),
            _ => None,
        })
    }

    /// The verdict of each required (requirement, family, backend), its
    /// alternatives folded in ([`combined`]), in the order first answered.
    pub fn verdicts(&self) -> Vec<((&Requirement, Family, Backend), Status)> {
        let mut order: Vec<(&Requirement, Family, Backend)> = Vec::new();
        let mut groups: std::collections::HashMap<(&Requirement, Family, Backend), Vec<Status>> =
            std::collections::HashMap::new();
        for r in self.results.iter().filter(|r| !r.optional) {
            let key = (r.counts_for(), r.family, r.backend);
            let g = groups.entry(key).or_insert_with(|| {
                order.push(key);
                Vec::new()
            });
            g.push(r.status());
        }
        order.into_iter().map(|k| (k, combined(groups.remove(&k).unwrap_or_default()))).collect()
    }

    /// The verdict of `requirement` (with its alternatives) in `family`
    /// over every backend that answered it: the worst of them.
    pub fn status_of(&self, requirement: &Requirement, family: Family) -> Option<Status> {
        let mut per_backend: Vec<(Backend, Vec<Status>)> = Vec::new();
        for r in self.results.iter().filter(|r| r.counts_for() == requirement && r.family == family) {
            match per_backend.iter_mut().find(|(b, _)| *b == r.backend) {
                Some((_, v)) => v.push(r.status()),
                None => per_backend.push((r.backend, vec![r.status()])),
            }
        }
        let verdicts: Vec<Status> = per_backend.into_iter().map(|(_, v)| combined(v)).collect();
        worst(&verdicts)
    }

    /// 3 if anything could not be probed, else 1 if anything required is
    /// missing, else 3 if something could not be told yet, else 0.
    /// Not-applicable answers and optional extensions never count; a
    /// requirement is there when it or one of its alternatives is.
    pub fn exit_code(&self) -> ExitCode {
        code_of(self.verdicts().into_iter().map(|(_, s)| s))
    }
}

/// The status that decides: an error, then missing, then "cannot tell",
/// then supported; `None` for nothing.
pub fn worst(statuses: &[Status]) -> Option<Status> {
    let rank = |s: &Status| match s {
        Status::Error => 0,
        Status::NotRegistered => 1,
        Status::RevisionMissing => 2,
        Status::Unknown => 3,
        Status::Supported => 4,
        Status::NotApplicable => 5,
    };
    statuses.iter().copied().min_by_key(rank)
}

/// The exit status of a set of verdicts (see [`CheckReport::exit_code`]).
pub fn code_of(statuses: impl IntoIterator<Item = Status>) -> ExitCode {
    match worst(&statuses.into_iter().collect::<Vec<_>>()) {
        Some(Status::Error) => ExitCode::CannotProbe,
        Some(Status::NotRegistered | Status::RevisionMissing) => ExitCode::Missing,
        Some(Status::Unknown) => ExitCode::CannotProbe,
        _ => ExitCode::Ok,
    }
}

/// Whether an error will repeat for every later query to the same backend.
fn is_sticky(e: &ProbeError) -> bool {
    matches!(
        e,
        ProbeError::PermissionDenied { .. }
            | ProbeError::NoNfnetlink
            | ProbeError::CompatUnavailable { .. }
            | ProbeError::NoNftables
            | ProbeError::NoIpset
            | ProbeError::Timeout { .. }
    )
}

/// Checks the effective capability the backend needs before asking; the
/// kernel would answer EPERM anyway, but this names the missing capability
/// without sending anything.
fn capability_error(backend: Backend) -> Option<ProbeError> {
    use caps::{CapSet, Capability};
    let needed: &[(Capability, &'static str)] = match backend {
        Backend::Nft | Backend::Nftables | Backend::Ipset => &[(Capability::CAP_NET_ADMIN, "CAP_NET_ADMIN")],
        Backend::Legacy => {
            &[(Capability::CAP_NET_ADMIN, "CAP_NET_ADMIN"), (Capability::CAP_NET_RAW, "CAP_NET_RAW")]
        }
    };
    needed.iter().find_map(|(cap, name)| match caps::has_cap(None, CapSet::Effective, *cap) {
        Ok(true) => None,
        // An unreadable capability set is not a verdict; let the kernel decide.
        Err(_) => None,
        Ok(false) => Some(ProbeError::PermissionDenied { cap: name }),
    })
}

/// What the worker has answered so far, backend by backend: a timeout
/// keeps these and marks only the rest.
#[derive(Debug, Default)]
struct Answered {
    /// The backends done, each with its outcomes in item order.
    backends: Vec<(Backend, Vec<Outcome>)>,
    /// nf_tables' status, once the nft backend asked it.
    nf_tables: NfTablesAnswer,
}

type Shared = std::sync::Arc<std::sync::Mutex<Answered>>;

/// Runs the check within its deadline: the questions go to the kernel from
/// a worker thread; if it is still waiting when the deadline passes, the
/// answers of the backends that were done are kept and every question
/// still pending is a timeout naming what the kernel was doing.
pub fn run(opts: &CheckOptions) -> CheckReport {
    let work = opts.clone();
    let answered = Shared::default();
    let shared = answered.clone();
    match deadline::within(&opts.deadline, move || run_now(&work, &shared)) {
        Ok(report) => report,
        Err(pending) => {
            let done = answered.lock().map(|mut a| std::mem::take(&mut *a)).unwrap_or_default();
            timed_out(opts, pending, done)
        }
    }
}

/// The report when the deadline passed with the kernel still busy.
fn timed_out(opts: &CheckOptions, pending: String, done: Answered) -> CheckReport {
    let e = ProbeError::timeout(&opts.deadline, pending);
    let results: Vec<CheckResult> = items(opts)
        .into_iter()
        .flat_map(|(backend, items)| {
            let answers = done.backends.iter().find(|(b, _)| *b == backend).map(|(_, o)| o.clone());
            let e = e.clone();
            items.into_iter().enumerate().map(move |(i, it)| {
                let outcome =
                    answers.as_ref().and_then(|a| a.get(i).cloned()).unwrap_or(Outcome::Failed(e.clone()));
                it.result(backend, outcome)
            })
        })
        .collect();
    let disagreements = disagreements(&results);
    let asked_nft = opts.backends.contains(&Backend::Nft)
        && opts.needs.iter().any(|n| n.requirement.extension.kind.is_xt());
    CheckReport {
        kernel_release: crate::system::host::kernel_release(),
        profile: opts.profile.clone(),
        nf_tables: done.nf_tables.or_else(|| asked_nft.then(|| Err(e.clone()))),
        results,
        disagreements,
        rules: None,
    }
}

fn run_now(opts: &CheckOptions, answered: &Shared) -> CheckReport {
    let report = ask_all(opts, answered);
    opts.deadline.doing("the kernel had answered; xtprobe was still sorting the answers");
    report
}

/// One question: a candidate requirement of a need in a family.
#[derive(Debug, Clone, Copy)]
struct Item<'a> {
    need: &'a Need,
    requirement: &'a Requirement,
    family: Family,
}

impl Item<'_> {
    fn result(&self, backend: Backend, outcome: Outcome) -> CheckResult {
        CheckResult {
            requirement: self.requirement.clone(),
            optional: self.need.optional,
            family: self.family,
            backend,
            outcome,
            alternative_for: (self.requirement != &self.need.requirement)
                .then(|| self.need.requirement.clone()),
        }
    }
}

/// Every question, grouped by the backend that answers it (xtables
/// through the chosen backends, legacy tables through legacy, nf_tables
/// and ipset through their own), in the order the backends are asked.
fn items(opts: &CheckOptions) -> Vec<(Backend, Vec<Item<'_>>)> {
    let mut out: Vec<(Backend, Vec<Item<'_>>)> = Vec::new();
    for order in [Backend::Nft, Backend::Legacy, Backend::Nftables, Backend::Ipset] {
        let mut list = Vec::new();
        for need in &opts.needs {
            for requirement in need.candidates() {
                let kind = requirement.extension.kind;
                let chosen = match need.via {
                    Some(b) if kind.is_xt() => vec![b],
                    _ => opts.backends.clone(),
                };
                if !Backend::for_kind(kind, &chosen).contains(&order) {
                    continue;
                }
                list.extend(need.families.iter().map(|&family| Item { need, requirement, family }));
            }
        }
        if !list.is_empty() {
            out.push((order, list));
        }
    }
    out
}

fn ask_all(opts: &CheckOptions, answered: &Shared) -> CheckReport {
    let mut results = Vec::new();
    let mut nf_tables = None;
    for (backend, items) in items(opts) {
        let pairs: Vec<(&Requirement, Family)> = items.iter().map(|it| (it.requirement, it.family)).collect();
        let outcomes = match backend {
            Backend::Nft => {
                let (outcomes, status) = run_nft(opts, &pairs);
                nf_tables = status;
                outcomes
            }
            Backend::Legacy => run_legacy(&pairs, &opts.deadline),
            Backend::Nftables | Backend::Ipset => run_netlink(backend, &pairs, &opts.deadline),
        };
        if let Ok(mut a) = answered.lock() {
            a.backends.push((backend, outcomes.clone()));
            a.nf_tables = nf_tables.clone();
        }
        results.extend(items.iter().zip(outcomes).map(|(it, outcome)| it.result(backend, outcome)));
    }
    let disagreements = disagreements(&results);
    CheckReport {
        kernel_release: crate::system::host::kernel_release(),
        profile: opts.profile.clone(),
        nf_tables,
        results,
        disagreements,
        rules: None,
    }
}

type NfTablesAnswer = Option<Result<NfTablesStatus, ProbeError>>;

/// All pairs through nft_compat, batched.
fn run_nft(opts: &CheckOptions, pairs: &[(&Requirement, Family)]) -> (Vec<Outcome>, NfTablesAnswer) {
    let all_failed = |e: ProbeError| pairs.iter().map(|_| Outcome::Failed(e.clone())).collect();
    if let Some(e) = capability_error(Backend::Nft) {
        return (all_failed(e.clone()), Some(Err(e)));
    }
    let mut prober = match NftProber::open(&opts.deadline) {
        Ok(p) => p,
        Err(e) => return (all_failed(e.clone()), Some(Err(e))),
    };
    let items: Vec<_> = pairs.iter().map(|&(req, family)| (family, &req.extension)).collect();
    let outcomes = prober.probe_all(&items);
    // Already answered within the first batch; asked here only if none was sent.
    let status = prober.nf_tables();
    (outcomes, Some(status))
}

/// All pairs through nf_tables batches or ipset type queries.
fn run_netlink(backend: Backend, pairs: &[(&Requirement, Family)], deadline: &Deadline) -> Vec<Outcome> {
    let all_failed = |e: ProbeError| pairs.iter().map(|_| Outcome::Failed(e.clone())).collect();
    if let Some(e) = capability_error(backend) {
        return all_failed(e);
    }
    let items: Vec<(Family, &Extension)> =
        pairs.iter().map(|&(req, family)| (family, &req.extension)).collect();
    let answered = if backend == Backend::Ipset {
        IpsetProber::open(deadline).map(|mut p| p.probe_all(&items))
    } else {
        NftablesProber::open(deadline).map(|mut p| p.probe_all(&items))
    };
    answered.unwrap_or_else(all_failed)
}

/// All pairs through the legacy sockopts, one question at a time. An error
/// that will repeat (no permission, module not loaded) is not asked again.
fn run_legacy(pairs: &[(&Requirement, Family)], deadline: &Deadline) -> Vec<Outcome> {
    let mut sticky: Option<ProbeError> = capability_error(Backend::Legacy);
    let mut family_sticky: Vec<(Family, ProbeError)> = Vec::new();
    let mut prober = LegacyProber::new(deadline);
    let mut out = Vec::new();
    for &(req, family) in pairs {
        let outcome = if let Some(e) = &sticky {
            Outcome::Failed(e.clone())
        } else if let Some((_, e)) = family_sticky.iter().find(|(f, _)| *f == family) {
            Outcome::Failed(e.clone())
        } else {
            prober.probe(family, &req.extension)
        };
        if let Outcome::Failed(e) = &outcome {
            if matches!(e, ProbeError::LegacyNotLoaded { .. }) {
                family_sticky.push((family, e.clone()));
            } else if is_sticky(e) {
                sticky = Some(e.clone());
            }
        }
        out.push(outcome);
    }
    out
}

fn disagreements(results: &[CheckResult]) -> Vec<Disagreement> {
    // One lookup per answer: linear in the number of results.
    let legacy: std::collections::HashMap<(&Requirement, Family), &CheckResult> = results
        .iter()
        .filter(|r| r.backend == Backend::Legacy)
        .map(|r| ((&r.requirement, r.family), r))
        .collect();
    let mut out = Vec::new();
    for n in results.iter().filter(|r| r.backend == Backend::Nft) {
        let Some(l) = legacy.get(&(&n.requirement, n.family)) else {
            continue;
        };
        let revs = |o: &Outcome| match o {
            Outcome::Registered(r) => Some(r.supported.clone()),
            Outcome::NotRegistered => Some(Vec::new()),
            _ => None,
        };
        if let (Some(a), Some(b)) = (revs(&n.outcome), revs(&l.outcome)) {
            if a != b {
                out.push(Disagreement {
                    requirement: n.requirement.to_string(),
                    family: n.family,
                    nft: a,
                    legacy: b,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::Revisions;

    /// A timeout keeps what the backends that were done answered, and
    /// marks only the questions still pending.
    #[test]
    fn a_timeout_keeps_the_answers_it_had() {
        let need = |s: &str| Need::new(s.parse().unwrap(), vec![Family::Ipv4], false);
        let opts = CheckOptions {
            needs: vec![need("comment"), need("expr:counter"), need("ipset:hash:ip")],
            profile: None,
            backends: vec![Backend::Nft],
            deadline: Deadline::after(std::time::Duration::from_millis(1)),
        };
        let yes = Outcome::Registered(Revisions { supported: vec![0], best: Some(0) });
        let done = Answered {
            backends: vec![(Backend::Nft, vec![yes.clone()]), (Backend::Nftables, vec![Outcome::Present])],
            nf_tables: None,
        };
        let r = timed_out(&opts, "asking ipset".into(), done);
        let status: Vec<(String, Status)> =
            r.results.iter().map(|x| (x.requirement.to_string(), x.status())).collect();
        assert_eq!(
            status,
            [
                ("match:comment".to_string(), Status::Supported),
                ("expr:counter".to_string(), Status::Supported),
                ("ipset:hash:ip".to_string(), Status::Error),
            ]
        );
        assert!(
            matches!(&r.results[2].outcome, Outcome::Failed(ProbeError::Timeout { pending, .. }) if pending == "asking ipset")
        );
    }
}
