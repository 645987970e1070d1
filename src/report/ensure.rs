//! Output of `xtprobe ensure`: before, what was loaded, after.
//!
//! JSON schema (version 1):
//!
//! ```text
//! {
//!   "schema_version": 1,
//!   "dry_run": false,
//!   "before": { …an `xtprobe check --json` document… },
//!   "loads": [ { "purpose": "match:comment", "queries": ["ipt_comment"],
//!                "loaded": ["xt_comment"], "error": null | "…",
//!                "load": { …an `xtprobe load --json` document… } } ],
//!   "after": { …check document… } | null,      // null when nothing was loaded
//!   "persist": null | { "path", "added", "changed", "readers", "note", "warnings"? } | { "error": "…" },
//!   "exit_code": 0
//! }
//! ```

use serde::Serialize;

use super::{SCHEMA_VERSION, Style, Tone};
use crate::app::check::{CheckReport, Status};
use crate::app::ensure::{AttemptSummary, EnsureReport};

#[derive(Serialize)]
struct Document<'a> {
    schema_version: u32,
    dry_run: bool,
    before: super::check::Document<'a>,
    loads: Vec<Load<'a>>,
    after: Option<super::check::Document<'a>>,
    persist: Option<PersistJson<'a>>,
    exit_code: i32,
}

#[derive(Serialize)]
struct Load<'a> {
    #[serde(flatten)]
    summary: AttemptSummary,
    load: super::load::Document<'a>,
}

use super::load::PersistJson;

/// The report as pretty JSON.
pub fn to_json(r: &EnsureReport, privileges: Option<&crate::system::privilege::Privileges>) -> String {
    let doc = Document {
        schema_version: SCHEMA_VERSION,
        dry_run: r.dry_run,
        before: super::check::document(&r.before),
        loads: r
            .attempts
            .iter()
            .map(|a| Load { summary: a.summary(), load: super::load::document(&a.report) })
            .collect(),
        after: r.after.as_ref().map(super::check::document),
        persist: r.persisted.as_ref().map(|p| match p {
            Ok(p) => PersistJson::Done(p),
            Err(e) => PersistJson::Failed { error: e },
        }),
        exit_code: r.exit_code().code(),
    };
    super::json_with(doc, privileges)
}

fn missing(r: &CheckReport) -> Vec<String> {
    let mut v: Vec<String> = r
        .results
        .iter()
        .filter(|x| x.status() != Status::Supported && x.status() != Status::NotApplicable)
        .map(|x| format!("{}{}", x.requirement, if x.optional { " (optional)" } else { "" }))
        .collect();
    v.dedup();
    v
}

fn line(r: &CheckReport) -> String {
    let s = super::check::summary(r);
    let m = missing(r);
    let mut out = format!("{} supported, {} missing", s.supported, s.missing + s.optional_missing);
    if s.errors > 0 {
        out.push_str(&format!(", {} could not be probed", s.errors));
    }
    if !m.is_empty() {
        out.push_str(&format!(" ({})", m.join(", ")));
    }
    out
}

/// The report as text.
pub fn to_text(r: &EnsureReport, style: &Style) -> String {
    let mut out = format!("kernel {}", r.before.kernel_release);
    if let Some(p) = &r.before.profile {
        out.push_str(&format!(", profile {}", super::one_line(p)));
    }
    if r.dry_run {
        out.push_str(" (dry run)");
    }
    out.push('\n');
    out.push_str(&format!("before: {}\n", line(&r.before)));
    if let Some(e) = r.before.first_error() {
        out.push_str(&format!("        {e}\n"));
    }
    for a in &r.attempts {
        let s = a.summary();
        let verb = if r.dry_run { "would load" } else { "loaded" };
        let not_found = matches!(
            a.report.error,
            Some(crate::app::load::LoadError::Resolve(crate::kmod::resolve::ResolveError::NotFound { .. }))
        );
        let what = if not_found {
            // The full list of places looked in is in the JSON (and `xtprobe doctor`).
            style.paint(Tone::Bad, "no module for this kernel", 0)
        } else if let Some(e) = &s.error {
            style.paint(Tone::Bad, &format!("failed: {e}"), 0)
        } else if s.loaded.is_empty() {
            style.paint(Tone::Good, "already there", 0)
        } else {
            style.paint(
                Tone::Good,
                &format!("{verb} {}", s.loaded.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(", ")),
                0,
            )
        };
        out.push_str(&format!("{} ({}): {what}\n", a.purpose, a.queries.join(", ")));
        // modprobe.d hid a module: that is the cause, not the tree.
        if let Some(crate::app::load::LoadError::Resolve(crate::kmod::resolve::ResolveError::NotFound {
            looked,
            ..
        })) = &a.report.error
        {
            for l in looked.iter().filter(|l| l.contains(": blacklisted by ")) {
                out.push_str(&format!("  - {l}\n"));
            }
        }
        if let Some(f) = a.report.failure() {
            for ev in &f.evidence {
                out.push_str(&format!("  - {ev}\n"));
            }
            if !f.fix.is_empty() {
                out.push_str(&format!("  fix: {}\n", f.fix));
            }
        }
    }
    match &r.after {
        Some(after) => out.push_str(&format!("after:  {}\n", line(after))),
        None if r.attempts.is_empty() => out.push_str("nothing to do\n"),
        None => {}
    }
    if let Some(rules) = r.last().rules.as_ref().filter(|v| !v.failing.is_empty()) {
        out.push_str(&super::check::rules_text(rules, style));
    }
    match &r.persisted {
        Some(Ok(p)) => out.push_str(&format!(
            "persist: {} ({}); {}\n",
            crate::system::fs::shown(&p.path),
            if p.added.is_empty() {
                "nothing to add".to_string()
            } else {
                format!(
                    "{} {}",
                    if p.changed { "added" } else { "would add" },
                    p.added.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(", ")
                )
            },
            p.note
        )),
        Some(Err(e)) => out.push_str(&format!("{} {e}\n", style.paint(Tone::Bad, "persist failed:", 0))),
        None => {}
    }
    if let Some(Ok(p)) = &r.persisted {
        for w in &p.warnings {
            out.push_str(&format!("{} {w}\n", style.paint(Tone::Warn, "warning:", 0)));
        }
    }
    out
}
