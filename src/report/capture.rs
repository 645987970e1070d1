//! Output of `xtprobe capture` and of `check --rules` when asked to write a
//! profile: a custom profile in the documented TOML schema (one
//! `[[extension]]` per requirement, with the families it was seen in and a
//! comment saying where), or a JSON document.
//!
//! The same ruleset gives the same bytes: entries are sorted, places are
//! sorted and at most [`MAX_PLACES`] are named per entry, and nothing
//! varies between runs (no time, no host name).
//!
//! JSON schema ([`super::SCHEMA_VERSION`]):
//! `{schema_version, kernel_release, sources: [{name, state: read|absent|failed, detail}],
//!   entries: [{requirement, families, places: [[place, count]], askable}], notes, exit_code}`.

use super::{SCHEMA_VERSION, Style, Tone};
use crate::app::capture::{CaptureReport, SourceState};
use crate::ruleset::Entry;

/// Places named per entry in the profile's comments.
pub const MAX_PLACES: usize = 5;

#[derive(serde::Serialize)]
struct Document<'a> {
    schema_version: u32,
    #[serde(flatten)]
    report: &'a CaptureReport,
    exit_code: i32,
}

/// The report as pretty JSON.
pub fn to_json(report: &CaptureReport, privileges: Option<&crate::system::privilege::Privileges>) -> String {
    super::json_with(
        Document { schema_version: SCHEMA_VERSION, report, exit_code: report.exit_code().code() },
        privileges,
    )
}

/// Text safe in a TOML comment: one line, control characters escaped.
fn comment_safe(s: &str) -> String {
    s.chars()
        .flat_map(|c| if c.is_control() { c.escape_default().collect::<Vec<_>>() } else { vec![c] })
        .collect()
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The entries as a custom profile: `name`, a description saying where it
/// came from, one `[[extension]]` per requirement. Entries xtprobe cannot
/// ask about are listed as comments only, so the profile always loads.
pub fn to_profile(entries: &[Entry], name: &str, description: &str) -> String {
    let mut out = String::new();
    out.push_str("# Written by `xtprobe capture`: the requirements of a ruleset, each with the\n");
    out.push_str("# families it was seen in and where. Check a kernel against it with\n");
    out.push_str("# `xtprobe check --profile FILE`.\n");
    out.push_str(&format!("name = {}\n", toml_string(name)));
    out.push_str(&format!("description = {}\n", toml_string(description)));
    if entries.is_empty() {
        out.push_str("# The ruleset requires nothing: it is empty.\nrequired = []\n");
    }
    for e in entries {
        let places: Vec<String> =
            e.places.iter().take(MAX_PLACES).map(|(p, n)| format!("{} ({n})", comment_safe(&p.0))).collect();
        let more = e.places.len().saturating_sub(MAX_PLACES);
        let tail = if more > 0 { format!(", and {more} more") } else { String::new() };
        out.push('\n');
        out.push_str(&format!("# {}{tail}\n", places.join(", ")));
        let families = e.families.iter().map(|f| toml_string(f.as_str())).collect::<Vec<_>>().join(", ");
        if e.askable {
            out.push_str(&format!(
                "[[extension]]\nspec = {}\nfamilies = [{families}]\n",
                toml_string(&e.requirement.to_string())
            ));
        } else {
            out.push_str(&format!(
                "# {} (families {}) cannot be asked about: xtprobe has no question for it\n",
                comment_safe(&e.requirement.to_string()),
                e.families.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(", ")
            ));
        }
    }
    out
}

/// A summary of what was read, for a terminal (the profile itself goes to
/// stdout or `-o FILE`).
pub fn to_summary(report: &CaptureReport, style: &Style) -> String {
    let mut out = format!("kernel {}\n", super::one_line(&report.kernel_release));
    for s in &report.sources {
        let (word, tone) = match &s.state {
            SourceState::Read(n) => (format!("read ({n})"), Tone::Good),
            SourceState::Absent(why) => (format!("not there: {}", super::one_line(why)), Tone::Dim),
            SourceState::Failed(why) => (format!("failed: {}", super::one_line(why)), Tone::Bad),
        };
        out.push_str(&format!("  {:<12} {}\n", s.name, style.paint(tone, &word, 0)));
    }
    for n in &report.notes {
        out.push_str(&format!("  note: {}\n", super::one_line(n)));
    }
    out.push_str(&format!("{} requirements\n", report.entries.len()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::nftables::dump::{ExprUse, Object};
    use crate::ruleset::Tally;

    #[test]
    fn a_captured_profile_loads_back_and_is_stable() {
        let mut t = Tally::default();
        t.add_object(&Object::Table { family: 2, name: "kube-proxy\n# injected".into() });
        t.add_object(&Object::Rule {
            family: 2,
            table: "t".into(),
            chain: "c".into(),
            exprs: vec![
                ExprUse::Native("numgen".into()),
                ExprUse::Native("flow_offload".into()),
                ExprUse::Compat { kind: crate::probe::Kind::Match, name: "comment".into(), revision: 0 },
            ],
        });
        let text = to_profile(&t.entries(), "captured", "from \"somewhere\"");
        assert_eq!(text, to_profile(&t.entries(), "captured", "from \"somewhere\""));
        assert!(text.contains("kube-proxy\\n# injected"), "{text}");
        let p =
            crate::profile::parse(text.as_bytes(), "captured.toml", "captured", crate::probe::Backend::Nft)
                .unwrap();
        let specs: Vec<String> = p.needs.iter().map(|n| n.requirement.to_string()).collect();
        assert_eq!(specs, ["match:comment@0", "expr:numgen", "family:ipv4"]);
        assert!(text.contains("# expr:flow_offload (families ipv4) cannot be asked about"));
    }

    #[test]
    fn an_empty_ruleset_is_still_a_profile() {
        let text = to_profile(&[], "empty", "nothing");
        assert!(
            crate::profile::parse(text.as_bytes(), "e.toml", "e", crate::probe::Backend::Nft)
                .is_err_and(|e| e.to_string().contains("no extensions"))
        );
    }
}
