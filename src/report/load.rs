//! Output of `xtprobe load`: the plan with each step's result, as text or
//! JSON.
//!
//! JSON schema (version 1):
//!
//! ```text
//! {
//!   "schema_version": 1,
//!   "kernel_release": "6.12.117+deb12-amd64",
//!   "modules_dir": "/lib/modules/6.12.117+deb12-amd64" | null,
//!   "dry_run": false,
//!   "plan": [ {                       // load order: dependencies first, requested last
//!       "module": "x_tables",         // normalised name
//!       "path": "/lib/modules/…/x_tables.ko.xz" | null,   // null when built in or live
//!       "action": "load" | "builtin" | "live",
//!       "method": "finit" | "finit-compressed" | "init" | null,
//!       "compression": "none" | "xz" | "zstd" | "gzip" | null,
//!       "requested": false,       // named by the user
//!       "required": true,         // requested or a hard dependency; false for soft-only
//!       "params": "",
//!       "deps_from": "modules-dep" | "modinfo" | "none",
//!       "needs": ["…"],               // everything it needs loaded first
//!       "result": { "outcome": "loaded" | "already-loaded" | "builtin" | "live"
//!                              | "planned" | "failed" | "optional-failed"
//!                              | "not-attempted", … } } ],
//!   "error": null | { "message": "…" },   // why no plan could be made
//!   "persist": null | { "path", "added", "changed", "readers", "note", "warnings"? } | { "error": "…" },
//!   "warnings": ["…"],
//!   "exit_code": 0
//! }
//! ```
//!
//! A `failed` result carries `module`, `operation`, `errno`, `cause`, `fix`
//! and `evidence`; `loaded` carries the `method` actually used.

use serde::Serialize;

use super::{SCHEMA_VERSION, Style, Tone};
use crate::app::load::LoadReport;
use crate::kmod::insert::StepOutcome;
use crate::kmod::persist::Persisted;
use crate::kmod::resolve::Step;

/// The load document, for embedding in other reports (ensure).
#[derive(Serialize)]
pub struct Document<'a> {
    schema_version: u32,
    kernel_release: &'a str,
    modules_dir: Option<String>,
    dry_run: bool,
    plan: Vec<StepJson<'a>>,
    error: Option<ErrorJson>,
    persist: Option<PersistJson<'a>>,
    warnings: &'a [String],
    exit_code: i32,
}

#[derive(Serialize)]
pub(crate) struct StepJson<'a> {
    #[serde(flatten)]
    step: &'a Step,
    result: Option<&'a StepOutcome>,
}

#[derive(Serialize)]
pub(crate) struct ErrorJson {
    message: String,
}

#[derive(Serialize)]
#[serde(untagged)]
pub(crate) enum PersistJson<'a> {
    Done(&'a Persisted),
    Failed { error: &'a str },
}

/// The report as pretty JSON.
pub fn to_json(report: &LoadReport, privileges: Option<&crate::system::privilege::Privileges>) -> String {
    super::json_with(document(report), privileges)
}

/// The report as a serializable document.
pub fn document(report: &LoadReport) -> Document<'_> {
    let steps: &[Step] = report.plan.as_ref().map(|p| p.steps.as_slice()).unwrap_or(&[]);
    Document {
        schema_version: SCHEMA_VERSION,
        kernel_release: &report.kernel_release,
        modules_dir: report.modules_dir.as_ref().map(|d| d.display().to_string()),
        dry_run: report.dry_run,
        plan: steps
            .iter()
            .enumerate()
            .map(|(i, step)| StepJson { step, result: report.outcomes.get(i) })
            .collect(),
        error: report.error.as_ref().map(|e| ErrorJson { message: e.to_string() }),
        persist: report.persisted.as_ref().map(|p| match p {
            Ok(p) => PersistJson::Done(p),
            Err(e) => PersistJson::Failed { error: e },
        }),
        warnings: &report.warnings,
        exit_code: report.exit_code().code(),
    }
}

fn outcome_word(o: &StepOutcome) -> (String, Tone) {
    match o {
        StepOutcome::Loaded { method } => (format!("loaded ({})", method_name(*method)), Tone::Good),
        StepOutcome::AlreadyLoaded => ("already loaded".to_string(), Tone::Good),
        StepOutcome::Builtin => ("built in".to_string(), Tone::Good),
        StepOutcome::Live => ("loaded before".to_string(), Tone::Good),
        StepOutcome::Planned => ("would load".to_string(), Tone::Dim),
        StepOutcome::Failed(f) => {
            (format!("FAILED ({})", f.errno.map(|e| e.name()).unwrap_or_else(|| "error".into())), Tone::Bad)
        }
        StepOutcome::NotAttempted { .. } => ("not attempted".to_string(), Tone::Warn),
        StepOutcome::AlternativeFailed(f) => {
            (format!("alternative, failed ({})", f.errno.map(|e| e.name()).unwrap_or_default()), Tone::Warn)
        }
        StepOutcome::OptionalFailed(f) => {
            (format!("optional, failed ({})", f.errno.map(|e| e.name()).unwrap_or_default()), Tone::Warn)
        }
    }
}

fn method_name(m: crate::kmod::Method) -> &'static str {
    match m {
        crate::kmod::Method::Finit => "finit",
        crate::kmod::Method::FinitCompressed => "finit-compressed",
        crate::kmod::Method::Init => "init",
    }
}

/// The report as text.
pub fn to_text(report: &LoadReport, style: &Style) -> String {
    let mut out = String::new();
    let dir = report.modules_dir.as_ref().map(|d| crate::system::fs::shown(d)).unwrap_or_else(|| "-".into());
    out.push_str(&format!(
        "kernel {}, modules {dir}{}\n",
        report.kernel_release,
        if report.dry_run { " (dry run)" } else { "" }
    ));
    for w in &report.warnings {
        out.push_str(&format!("{} {w}\n", style.paint(Tone::Warn, "warning:", 0)));
    }
    if let Some(e) = &report.error {
        out.push_str(&format!("{} {e}\n", style.paint(Tone::Bad, "error:", 0)));
        return out;
    }
    let Some(plan) = &report.plan else { return out };
    let name_w = plan.steps.iter().map(|s| s.module.as_str().len()).max().unwrap_or(6).max(6);
    // As wide as the widest result ("alternative, failed (EKEYREJECTED)").
    let result_w = (0..plan.steps.len())
        .filter_map(|i| report.outcomes.get(i).map(|o| outcome_word(o).0.chars().count()))
        .max()
        .unwrap_or(6)
        .max(6);
    out.push('\n');
    out.push_str(&style.paint(
        Tone::Strong,
        &format!("{:<name_w$}  {:<7}  {:<16}  {:<result_w$}  FILE", "MODULE", "ACTION", "METHOD", "RESULT"),
        0,
    ));
    out.push('\n');
    for (i, step) in plan.steps.iter().enumerate() {
        let action = match step.action {
            crate::kmod::Action::Load => "load",
            crate::kmod::Action::Builtin => "builtin",
            crate::kmod::Action::Live => "live",
        };
        let method = step.method.map(method_name).unwrap_or("-");
        let (word, tone) = report.outcomes.get(i).map(outcome_word).unwrap_or(("-".into(), Tone::Dim));
        let file = step
            .path
            .as_ref()
            .map(|p| {
                report
                    .modules_dir
                    .as_ref()
                    .and_then(|d| d.canonicalize().ok())
                    .and_then(|d| p.strip_prefix(&d).ok().map(crate::system::fs::shown))
                    .unwrap_or_else(|| crate::system::fs::shown(p))
            })
            .unwrap_or_else(|| "-".into());
        let mark = if step.requested { " *" } else { "" };
        out.push_str(&format!(
            "{:<name_w$}  {action:<7}  {method:<16}  {}  {file}{mark}\n",
            super::one_line(step.module.as_str()),
            style.paint(tone, &word, result_w)
        ));
    }
    if let Some(f) = report.failure() {
        out.push('\n');
        out.push_str(&format!(
            "{} {} ({}{}): {}\n",
            style.paint(Tone::Bad, "error:", 0),
            f.module,
            f.operation,
            f.errno.map(|e| format!(": {}", e.name())).unwrap_or_default(),
            f.cause
        ));
        for ev in &f.evidence {
            out.push_str(&format!("  - {ev}\n"));
        }
        if !f.fix.is_empty() {
            out.push_str(&format!("fix: {}\n", f.fix));
        }
    }
    match &report.persisted {
        Some(Ok(p)) => out.push_str(&format!(
            "\npersist: {} {}; {}\n",
            crate::system::fs::shown(&p.path),
            if p.changed {
                format!("now lists {}", p.added.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(", "))
            } else if report.dry_run {
                format!("would list {}", p.added.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(", "))
            } else {
                "already lists them".to_string()
            },
            p.note
        )),
        Some(Err(e)) => out.push_str(&format!("\n{} {e}\n", style.paint(Tone::Bad, "persist failed:", 0))),
        None => {}
    }
    if let Some(Ok(p)) = &report.persisted {
        for w in &p.warnings {
            out.push_str(&format!("{} {w}\n", style.paint(Tone::Warn, "warning:", 0)));
        }
    }
    out
}
