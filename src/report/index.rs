//! Output of `xtprobe index`.
//!
//! JSON schema (version 2):
//!
//! ```text
//! {
//!   "schema_version": 2,
//!   "modules_dir": "/lib/modules/…" | null,
//!   "modules": 4230, "aliases": 27460, "softdeps": 69,   // entries written
//!   "written": ["…/modules.dep", "…/modules.alias", "…/modules.softdep"],   // [] in a dry run
//!   "binary": ["modules.dep.bin", …],   // depmod's binary indexes found
//!   "binary_removed": true|false,       // removed (with --remove-binary)
//!   "dry_run": false,
//!   "warnings": ["…"],
//!   "error": null | "…",
//!   "exit_code": 0
//! }
//! ```

use serde::Serialize;

use super::{SCHEMA_VERSION, Style, Tone};
use crate::app::index::IndexReport;

#[derive(Serialize)]
struct Document<'a> {
    schema_version: u32,
    #[serde(flatten)]
    report: &'a IndexReport,
    exit_code: i32,
}

/// The report as pretty JSON.
pub fn to_json(report: &IndexReport, privileges: Option<&crate::system::privilege::Privileges>) -> String {
    super::json_with(
        Document { schema_version: SCHEMA_VERSION, report, exit_code: report.exit_code().code() },
        privileges,
    )
}

/// The report as text.
pub fn to_text(r: &IndexReport, style: &Style) -> String {
    let mut out = String::new();
    if let Some(e) = &r.error {
        out.push_str(&format!("{} {e}\n", style.paint(Tone::Bad, "error:", 0)));
        return out;
    }
    let dir = r.modules_dir.as_ref().map(|d| crate::system::fs::shown(d)).unwrap_or_default();
    out.push_str(&format!(
        "{dir}: {} modules, {} aliases, {} soft dependencies{}\n",
        r.modules,
        r.aliases,
        r.softdeps,
        if r.dry_run { " (dry run: nothing written)" } else { "" }
    ));
    for w in &r.written {
        out.push_str(&format!("wrote {}\n", crate::system::fs::shown(w)));
    }
    for b in &r.binary {
        out.push_str(&format!(
            "{} {b} (depmod's binary index)\n",
            if r.binary_removed { "removed" } else { "would remove" }
        ));
    }
    for w in &r.warnings {
        out.push_str(&format!("{} {w}\n", style.paint(Tone::Warn, "warning:", 0)));
    }
    out
}
