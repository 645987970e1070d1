//! Output of `xtprobe doctor`.
//!
//! JSON schema (version 1):
//!
//! ```text
//! {
//!   "schema_version": 1,
//!   "kernel_release": "…", "profile": "kuscia" | null,
//!   "kernel_config": "/proc/config.gz" | null, "kernel_config_error": "…" | null,
//!   "modules_dir": "/lib/modules/…" | null,
//!   "prerequisites": [ { "name": "nft_compat", "available": true | false | null,
//!                        "config": { "symbol": "CONFIG_NFT_COMPAT", "value": "yes" | "module" | "not-set" | {"other": "…"} | null },
//!                        "module": null | { "looked_up": […], "found": null | { "module", "path", "builtin", "live" } } } ],
//!   "modules_error": null | "…",        // the modules directory's index could not be read
//!   "proc_mounted": true,
//!   "host": { "modules_supported", "module_support": "yes" | "not-allowed" | "absent",
//!             "cap_sys_module", "initial_user_namespace", "modules_disabled",
//!             "lockdown", "cmdline_blacklist", "sig_enforce", "modprobe_path", "modprobe_present" },
//!   "legacy_ip_tables": false,
//!   "extensions": [ { "requirement": "match:comment", "optional": false,
//!                     "verdict": "supported" | "revision-missing" | "wrong-kind" | "cannot-probe"
//!                              | "built-in-not-registered" | "loaded-not-registered"
//!                              | "module-not-loaded" | "cannot-load-here" | "tree-unusable"
//!                              | "module-not-installed" | "not-built" | "no-module-support" | "unknown",
//!                     "registered": ["ipv4"], "missing": [],
//!                     "other_kind": [0] | null,     // revisions of the same name as the other kind
//!                     "causes": ["…"], "remedy": "…",
//!                     "config": { … }, "module": { … } } ],
//!   "exit_code": 0
//! }
//! ```

use serde::Serialize;

use super::{SCHEMA_VERSION, Style, Tone};
use crate::app::doctor::{DoctorReport, Verdict};

#[derive(Serialize)]
struct Document<'a> {
    schema_version: u32,
    #[serde(flatten)]
    report: &'a DoctorReport,
    exit_code: i32,
}

/// The report as pretty JSON.
pub fn to_json(report: &DoctorReport, privileges: Option<&crate::system::privilege::Privileges>) -> String {
    super::json_with(
        Document { schema_version: SCHEMA_VERSION, report, exit_code: report.exit_code().code() },
        privileges,
    )
}

/// `doctor --brief`: one line per required or optional requirement that
/// is not there, `REQUIREMENT (FAMILIES): VERDICT: REMEDY`; or one line
/// saying all are.
pub fn to_brief(report: &DoctorReport) -> String {
    let mut out = String::new();
    for d in &report.extensions {
        if matches!(d.verdict, Verdict::Supported | Verdict::NotApplicable) {
            continue;
        }
        let families: Vec<String> = d.missing.iter().map(|f| f.to_string()).collect();
        out.push_str(&format!(
            "{}{} ({}): {}: {}\n",
            super::one_line(&d.requirement),
            if d.optional { " [optional]" } else { "" },
            families.join(","),
            verdict_word(d.verdict).0,
            super::one_line(&d.remedy)
        ));
    }
    if out.is_empty() {
        out.push_str("every requirement is supported\n");
    }
    out
}

fn verdict_word(v: Verdict) -> (&'static str, Tone) {
    match v {
        Verdict::Supported => ("supported", Tone::Good),
        Verdict::RevisionMissing => ("revision missing", Tone::Bad),
        Verdict::WrongKind => ("wrong kind", Tone::Bad),
        Verdict::BuiltInNotRegistered => ("built in, not registered", Tone::Bad),
        Verdict::LoadedNotRegistered => ("loaded, not registered", Tone::Bad),
        Verdict::TreeUnusable => ("modules index broken", Tone::Warn),
        Verdict::NoModulesDir => ("no modules directory here", Tone::Warn),
        Verdict::CannotProbe => ("cannot probe", Tone::Warn),
        Verdict::ModuleNotLoaded => ("module not loaded", Tone::Bad),
        Verdict::CannotLoadHere => ("cannot load here", Tone::Bad),
        Verdict::ModuleNotInstalled => ("module not installed", Tone::Bad),
        Verdict::NotBuilt => ("not built", Tone::Bad),
        Verdict::NoModuleSupport => ("no module support", Tone::Bad),
        Verdict::Unknown => ("not found", Tone::Bad),
        Verdict::NotApplicable => ("not applicable", Tone::Dim),
    }
}

fn yes_no(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "yes",
        Some(false) => "no",
        None => "unknown",
    }
}

/// The report as text.
pub fn to_text(r: &DoctorReport, style: &Style) -> String {
    let mut out = format!("kernel {}\n", r.kernel_release);
    out.push_str(&format!(
        "  config:  {}\n",
        match (&r.kernel_config, &r.kernel_config_error) {
            (Some(p), _) => crate::system::fs::shown(p),
            (None, Some(e)) => format!("unreadable: {e}"),
            (None, None) => "not found".to_string(),
        }
    ));
    out.push_str(&format!(
        "  modules: {}\n",
        r.modules_dir
            .as_ref()
            .map(|d| crate::system::fs::shown(d))
            .unwrap_or_else(|| "no modules directory".into())
    ));
    out.push_str(&format!(
        "  probe:   {}\n",
        r.prerequisites
            .iter()
            .map(|p| format!("{} {}", p.name, yes_no(p.available)))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let h = &r.host;
    out.push_str(&format!(
        "  host:    module support {}, CAP_SYS_MODULE {}, initial user namespace {}, modules_disabled {}, lockdown {}, autoloader {}\n",
        yes_no(Some(h.modules_supported)),
        yes_no(h.cap_sys_module),
        yes_no(h.initial_user_namespace),
        yes_no(h.modules_disabled),
        h.lockdown.as_deref().unwrap_or("none"),
        match (&h.modprobe_path, h.modprobe_present) {
            (Some(p), Some(true)) => format!("{p} (present)"),
            (Some(p), _) if !p.is_empty() => format!("{p} (missing)"),
            _ => "none".to_string(),
        }
    ));
    if let Some(p) = &r.profile {
        out.push_str(&format!("profile {}\n", super::one_line(p)));
    }
    let w = r
        .extensions
        .iter()
        .map(|d| d.requirement.len() + if d.optional { 11 } else { 0 })
        .max()
        .unwrap_or(10);
    let mut ok = 0;
    for d in &r.extensions {
        let (word, tone) = verdict_word(d.verdict);
        let tone = if d.optional && tone == Tone::Bad { Tone::Warn } else { tone };
        if d.verdict == Verdict::Supported {
            ok += 1;
        }
        let label = format!("{}{}", d.requirement, if d.optional { " (optional)" } else { "" });
        out.push_str(&format!("\n{label:<w$}  {}\n", style.paint(tone, word, 0)));
        for c in &d.causes {
            out.push_str(&format!("  - {c}\n"));
        }
        if d.verdict != Verdict::Supported {
            out.push_str(&format!("  {} {}\n", style.paint(Tone::Strong, "remedy:", 0), d.remedy));
        }
    }
    out.push_str(&format!("\n{ok} of {} supported\n", r.extensions.len()));
    out
}

/// A kconfig fragment for `doctor --emit-kconfig`: a header saying what
/// it is for and how to merge it, then one `CONFIG_…=` line each.
/// `doctor --emit-kconfig --json`: the fragment's lines, its text and what
/// was passed over while reading Kconfig.
pub fn kconfig_json(
    report: &DoctorReport,
    lines: &[crate::kconfig::deps::Line],
    text: &str,
    warnings: &[String],
    privileges: Option<&crate::system::privilege::Privileges>,
) -> String {
    #[derive(Serialize)]
    struct Doc<'a> {
        schema_version: u32,
        kernel_release: &'a str,
        profile: Option<&'a str>,
        fragment: &'a [crate::kconfig::deps::Line],
        text: &'a str,
        warnings: &'a [String],
        exit_code: i32,
    }
    super::json_with(
        Doc {
            schema_version: SCHEMA_VERSION,
            kernel_release: &report.kernel_release,
            profile: report.profile.as_deref(),
            fragment: lines,
            text,
            warnings,
            exit_code: report.exit_code().code(),
        },
        privileges,
    )
}

/// The fragment as text, with a header saying what it is for.
pub fn kconfig_fragment(
    report: &DoctorReport,
    lines: &[crate::kconfig::deps::Line],
    source: Option<&std::path::Path>,
) -> String {
    let mut out = format!(
        "# What kernel {} lacks for {}, with what Kconfig needs for it\n# ({}). Merge it into the kernel's .config:\n#   scripts/kconfig/merge_config.sh -m .config THIS_FILE && make olddefconfig\n",
        super::one_line(&report.kernel_release),
        report
            .profile
            .as_deref()
            .map(|p| format!("profile {}", super::one_line(p)))
            .unwrap_or_else(|| "the requirements asked".into()),
        match source {
            Some(dir) => format!("conditions read from {}", super::one_line(&dir.display().to_string())),
            None => "conditions from Linux 6.12's Kconfig".to_string(),
        }
    );
    if lines.is_empty() {
        out.push_str("# Nothing to add: every option is set (what is missing is not a build option).\n");
    }
    for l in lines {
        out.push_str(&format!("CONFIG_{}={}\n", l.symbol, l.value));
    }
    out
}
