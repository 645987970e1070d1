//! Output of `xtprobe check`: a table or a JSON document.
//!
//! JSON schema (version 1):
//!
//! ```text
//! {
//!   "schema_version": 1,
//!   "kernel_release": "6.12.117+deb12-amd64",
//!   "profile": "kuscia" | null,        // the profile checked, null for EXT arguments
//!   "nf_tables": { "reachable": true|false|null, "generation": 12|null,
//!                  "errno": "EINVAL"|null, "message": "..." } | null,
//!   "results": [ {
//!       "name": "comment", "kind": "match"|"target",
//!       "family": "ipv4"|"ipv6"|"arp"|"bridge", "backend": "nft"|"legacy",
//!       "optional": false,            // optional misses never fail the exit status
//!       "status": "supported"|"not-registered"|"revision-missing"|"not-applicable"|"error",
//!       "supported": true, "best_revision": 0|null, "revisions": [0],
//!       "required_revision": 0|null, "errno": "ENOENT"|null, "message": "..." } ],
//!   "disagreements": [ { "requirement": "match:comment", "family": "ipv4",
//!                        "nft": [0], "legacy": [] } ],
//!   "summary": { "supported": 1, "missing": 0, "optional_missing": 0, "not_applicable": 0, "errors": 0 },
//!   "exit_code": 0
//! }
//! ```
//!
//! `nf_tables` is null when the nft backend was not used; `reachable` is
//! null when the kernel could not be asked (for instance without
//! `CAP_NET_ADMIN`).

use serde::Serialize;

use super::{SCHEMA_VERSION, Style, Tone};
use crate::app::check::{CheckReport, CheckResult, Disagreement, RulesVerdict, Status};
use crate::probe::xt::nft::NfTablesStatus;
use crate::probe::{Backend, Errno, Family, Kind, Outcome, ProbeError};

/// The check document, for embedding in other reports (ensure).
#[derive(Serialize)]
pub struct Document<'a> {
    schema_version: u32,
    kernel_release: &'a str,
    profile: Option<&'a str>,
    nf_tables: Option<NfTablesJson>,
    results: Vec<ResultJson<'a>>,
    disagreements: &'a [Disagreement],
    #[serde(skip_serializing_if = "Option::is_none")]
    rules: Option<&'a RulesVerdict>,
    summary: Summary,
    exit_code: i32,
}

#[derive(Serialize)]
struct NfTablesJson {
    reachable: Option<bool>,
    generation: Option<u32>,
    errno: Option<Errno>,
    message: String,
}

#[derive(Serialize)]
struct ResultJson<'a> {
    name: &'a str,
    kind: Kind,
    family: Family,
    backend: Backend,
    optional: bool,
    status: Status,
    supported: bool,
    best_revision: Option<u8>,
    revisions: Vec<u8>,
    required_revision: Option<u8>,
    errno: Option<Errno>,
    message: String,
}

/// Counts by verdict.
#[derive(Serialize, Default, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Results that are supported.
    pub supported: usize,
    /// Required, and not registered or revision missing.
    pub missing: usize,
    /// Optional, and not registered or revision missing.
    pub optional_missing: usize,
    /// Not asked because the backend cannot.
    pub not_applicable: usize,
    /// Could not be answered.
    pub errors: usize,
}

/// Counts the report's results by verdict.
pub fn summary(report: &CheckReport) -> Summary {
    let mut s = Summary::default();
    // An alternative counts only through the requirement it stands in for.
    for r in report.results.iter().filter(|r| r.alternative_for.is_none()) {
        match r.status() {
            Status::Supported => s.supported += 1,
            Status::NotRegistered | Status::RevisionMissing if r.optional => s.optional_missing += 1,
            Status::NotRegistered | Status::RevisionMissing => s.missing += 1,
            Status::NotApplicable => s.not_applicable += 1,
            Status::Error | Status::Unknown => s.errors += 1,
        }
    }
    s
}

fn nf_tables_json(status: &Result<NfTablesStatus, ProbeError>) -> NfTablesJson {
    match status {
        Ok(s) => NfTablesJson {
            reachable: Some(s.reachable),
            generation: s.generation,
            errno: s.errno,
            message: s.message.clone(),
        },
        Err(e) => NfTablesJson {
            reachable: None,
            generation: None,
            errno: e.errno(),
            message: format!("could not ask: {e}"),
        },
    }
}

fn result_json(r: &CheckResult) -> ResultJson<'_> {
    let (revisions, best) = match &r.outcome {
        Outcome::Registered(revs) => (revs.supported.clone(), revs.best),
        _ => (Vec::new(), None),
    };
    ResultJson {
        name: &r.requirement.extension.name,
        kind: r.requirement.extension.kind,
        family: r.family,
        backend: r.backend,
        optional: r.optional,
        status: r.status(),
        supported: r.status() == Status::Supported,
        best_revision: best,
        revisions,
        required_revision: r.requirement.revision,
        errno: r.errno(),
        message: r.message(),
    }
}

/// The report as a pretty JSON document (fields in schema order).
pub fn to_json(report: &CheckReport, privileges: Option<&crate::system::privilege::Privileges>) -> String {
    super::json_with(document(report), privileges)
}

/// The report as a serializable document.
pub fn document(report: &CheckReport) -> Document<'_> {
    Document {
        schema_version: SCHEMA_VERSION,
        kernel_release: &report.kernel_release,
        profile: report.profile.as_deref(),
        nf_tables: report.nf_tables.as_ref().map(nf_tables_json),
        results: report.results.iter().map(result_json).collect(),
        disagreements: &report.disagreements,
        rules: report.rules.as_ref(),
        summary: summary(report),
        exit_code: report.exit_code().code(),
    }
}

fn status_word(s: Status) -> (&'static str, Tone) {
    match s {
        Status::Supported => ("supported", Tone::Good),
        Status::NotRegistered => ("not registered", Tone::Bad),
        Status::RevisionMissing => ("revision missing", Tone::Bad),
        Status::NotApplicable => ("n/a", Tone::Dim),
        Status::Error => ("cannot probe", Tone::Warn),
        Status::Unknown => ("cannot tell yet", Tone::Warn),
    }
}

/// The report as an aligned table with a summary line.
pub fn to_table(report: &CheckReport, style: &Style) -> String {
    let mut out = String::new();
    let nf = match &report.nf_tables {
        Some(Ok(s)) => format!(", {}", s.message),
        _ => String::new(),
    };
    out.push_str(&format!("kernel {}{nf}\n", report.kernel_release));
    if let Some(p) = &report.profile {
        out.push_str(&format!("profile {}\n", super::one_line(p)));
    }

    // A backend that failed everywhere for one reason is said once.
    let mut failed_backends = Vec::new();
    for backend in [Backend::Nft, Backend::Legacy] {
        let rows: Vec<_> = report.results.iter().filter(|r| r.backend == backend).collect();
        let first = rows.first().and_then(|r| match &r.outcome {
            Outcome::Failed(e) => Some(e),
            _ => None,
        });
        if let Some(e) = first {
            if rows.iter().all(|r| matches!(&r.outcome, Outcome::Failed(x) if x == e)) {
                // The errors that say "cannot probe:" themselves say it once.
                let e = e.to_string();
                let e = e.strip_prefix("cannot probe: ").unwrap_or(&e);
                out.push_str(&format!(
                    "{}: {e}\n",
                    style.paint(Tone::Warn, &format!("cannot probe ({backend})"), 0)
                ));
                failed_backends.push(backend);
            }
        }
    }
    // An alternative is shown only where what it stands in for is missing.
    let verdicts: std::collections::HashMap<_, _> = report.verdicts().into_iter().collect();
    let rows: Vec<&CheckResult> = report
        .results
        .iter()
        .filter(|r| !failed_backends.contains(&r.backend))
        .filter(|r| {
            r.alternative_for.is_none()
                || verdicts.get(&(r.counts_for(), r.family, r.backend)) != Some(&Status::Supported)
        })
        .collect();
    if !rows.is_empty() {
        let label = |r: &CheckResult| {
            let alt = r.alternative_for.as_ref().map(|a| format!(" (for {a})")).unwrap_or_default();
            format!("{}{alt}{}", r.requirement, if r.optional { " (optional)" } else { "" })
        };
        let name_w = rows.iter().map(|r| label(r).len()).max().unwrap_or(0).max(9);
        let back_w = rows.iter().map(|r| r.backend.as_str().len()).max().unwrap_or(0).max(7);
        out.push('\n');
        out.push_str(&style.paint(
            Tone::Strong,
            &format!(
                "{:<name_w$}  {:<6}  {:<back_w$}  {:<16}  REVISIONS",
                "EXTENSION", "FAMILY", "BACKEND", "STATUS"
            ),
            0,
        ));
        out.push('\n');
        for r in rows {
            let (word, tone) = status_word(r.status());
            let tone = if r.optional && tone == Tone::Bad { Tone::Warn } else { tone };
            let revs = match &r.outcome {
                Outcome::Registered(revs) => {
                    revs.supported.iter().map(u8::to_string).collect::<Vec<_>>().join(" ")
                }
                _ => "-".to_string(),
            };
            out.push_str(&format!(
                "{:<name_w$}  {:<6}  {:<back_w$}  {}  {revs}\n",
                label(r),
                r.family.as_str(),
                r.backend.as_str(),
                style.paint(tone, word, 16),
            ));
            if !matches!(r.status(), Status::Supported | Status::NotApplicable) {
                out.push_str(&format!(
                    "{:name_w$}  {}\n",
                    "",
                    style.paint(Tone::Dim, &format!("└ {}", r.message()), 0)
                ));
            }
        }
    }
    for d in &report.disagreements {
        out.push_str(&format!(
            "{} {} in {}: nft accepts [{}], legacy accepts [{}]\n",
            style.paint(Tone::Warn, "backends disagree:", 0),
            d.requirement,
            d.family,
            join(&d.nft),
            join(&d.legacy)
        ));
    }
    if let Some(rules) = &report.rules {
        out.push_str(&rules_text(rules, style));
    }
    let s = summary(report);
    out.push('\n');
    let mut parts = vec![format!("{} supported", s.supported), format!("{} missing", s.missing)];
    if s.optional_missing > 0 {
        parts.push(format!("{} optional missing", s.optional_missing));
    }
    if s.not_applicable > 0 {
        parts.push(format!("{} not applicable", s.not_applicable));
    }
    if s.errors > 0 {
        parts.push(format!("{} could not be probed", s.errors));
    }
    out.push_str(&parts.join(", "));
    out.push('\n');
    out
}

/// How many failing lines the text shows (JSON has them all).
const SHOWN_LINES: usize = 20;

/// The lines that cannot load, with what each lacks.
pub fn rules_text(rules: &RulesVerdict, style: &Style) -> String {
    let mut out = format!("\nrules: {} of {} lines can load as they stand\n", rules.loadable, rules.lines);
    for f in rules.failing.iter().take(SHOWN_LINES) {
        out.push_str(&format!(
            "{} {}\n",
            style.paint(Tone::Bad, &format!("{}:{}", super::one_line(&f.file), f.line), 0),
            f.missing.join("; ")
        ));
    }
    if rules.failing.len() > SHOWN_LINES {
        out.push_str(&format!(
            "… and {} more lines (--json lists them all)\n",
            rules.failing.len() - SHOWN_LINES
        ));
    }
    out
}

fn join(v: &[u8]) -> String {
    v.iter().map(u8::to_string).collect::<Vec<_>>().join(", ")
}
