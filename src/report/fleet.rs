//! `check` for fleets: a Node Problem Detector plugin line and a Prometheus
//! textfile.
//!
//! - NPD (`kubernetes/node-problem-detector`, custom plugin monitor): the
//!   exit status is the verdict (0 OK, 1 problem, anything else unknown) and
//!   the trimmed stdout, cut to `max_output_length` (80 by default, counted
//!   in bytes: NPD slices the string), is the condition's message — so the
//!   line names what is missing first and never exceeds 80 bytes, cut on a
//!   character boundary with an ASCII `...`.
//! - Prometheus text exposition (node_exporter's textfile collector): HELP
//!   and TYPE lines, one gauge series per answer, every series labelled
//!   with its profile (two profiles' textfiles side by side never repeat a
//!   series), label values escaped by the exposition rules (`\`, `"`,
//!   newline; any other control character, which no terminal should see
//!   raw, becomes U+FFFD), no timestamps on samples.

use crate::app::check::{CheckReport, CheckResult, Status};
use crate::probe::Outcome;

/// NPD's default `max_output_length`, in bytes.
pub const NPD_MAX: usize = 80;

/// The plugin's one line: `ok: …`, `missing: A, B (+N)` or `unknown: …`,
/// at most [`NPD_MAX`] bytes.
pub fn npd_line(report: &CheckReport) -> String {
    let required: Vec<&CheckResult> = report.results.iter().filter(|r| !r.optional).collect();
    if let Some(e) = report.first_error().filter(|_| required.iter().any(|r| r.status() == Status::Error)) {
        return cut(&format!("unknown: {e}"));
    }
    let mut missing: Vec<String> = Vec::new();
    for r in &required {
        if matches!(r.status(), Status::NotRegistered | Status::RevisionMissing) {
            let name = r.requirement.to_string();
            if !missing.contains(&name) {
                missing.push(name);
            }
        }
    }
    if missing.is_empty() {
        let n = required.iter().filter(|r| r.status() == Status::Supported).count();
        let scope = report.profile.as_ref().map(|p| format!(" ({})", super::one_line(p))).unwrap_or_default();
        return cut(&format!("ok: {n} supported{scope}"));
    }
    // As many names as fit, then how many more.
    for shown in (1..=missing.len()).rev() {
        let rest = missing.len() - shown;
        let tail = if rest > 0 { format!(" (+{rest})") } else { String::new() };
        let line = format!("missing: {}{tail}", missing[..shown].join(", "));
        if line.len() <= NPD_MAX {
            return line;
        }
    }
    cut(&format!("missing: {} (+{})", missing[0], missing.len() - 1))
}

/// One line, control characters escaped, at most [`NPD_MAX`] bytes: cut
/// on a character boundary, marked with an ASCII `...`.
fn cut(s: &str) -> String {
    let one = super::one_line(s);
    if one.len() <= NPD_MAX {
        return one.into_owned();
    }
    let mut end = NPD_MAX - 3;
    while !one.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &one[..end])
}

/// A label value as the exposition format writes it.
pub fn label_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c if c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') => {
                out.push('\u{fffd}')
            }
            c => out.push(c),
        }
    }
    out
}

/// The metrics, in the text exposition format. `duration` is how long the
/// check took and `now` the Unix time it ran at, in seconds.
pub fn prometheus(report: &CheckReport, duration: f64, now: f64) -> String {
    let profile = label_value(report.profile.as_deref().unwrap_or(""));
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, samples: Vec<(String, String)>| {
        if samples.is_empty() {
            return;
        }
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
        for (labels, value) in samples {
            out.push_str(&format!("{name}{labels} {value}\n"));
        }
    };
    let labels = |r: &CheckResult| {
        format!(
            "{{kind=\"{}\",name=\"{}\",family=\"{}\",backend=\"{}\",profile=\"{profile}\",required_revision=\"{}\",optional=\"{}\"}}",
            r.requirement.extension.kind,
            label_value(&r.requirement.extension.name),
            r.family,
            r.backend,
            r.requirement.revision.map(|v| v.to_string()).unwrap_or_default(),
            r.optional
        )
    };
    let up = !report.results.iter().any(|r| r.status() == Status::Error);
    gauge(
        "xtprobe_probe_up",
        "1 if the kernel answered every question, 0 if some could not be asked.",
        vec![(format!("{{profile=\"{profile}\"}}"), u8::from(up).to_string())],
    );
    let answered = |r: &&CheckResult| {
        matches!(r.status(), Status::Supported | Status::NotRegistered | Status::RevisionMissing)
    };
    gauge(
        "xtprobe_extension_supported",
        "1 if the kernel has the requirement in this family (at the required revision), else 0.",
        report
            .results
            .iter()
            .filter(answered)
            .map(|r| (labels(r), u8::from(r.status() == Status::Supported).to_string()))
            .collect(),
    );
    gauge(
        "xtprobe_extension_best_revision",
        "The highest revision the kernel has (xtables extensions and ipset types).",
        report
            .results
            .iter()
            .filter_map(|r| match &r.outcome {
                Outcome::Registered(revs) => revs.best.map(|b| (labels(r), b.to_string())),
                _ => None,
            })
            .collect(),
    );
    let missing = report
        .results
        .iter()
        .filter(|r| !r.optional && matches!(r.status(), Status::NotRegistered | Status::RevisionMissing))
        .count();
    gauge(
        "xtprobe_required_missing",
        "How many required answers say missing.",
        vec![(format!("{{profile=\"{profile}\"}}"), missing.to_string())],
    );
    gauge(
        "xtprobe_check_duration_seconds",
        "How long the check took.",
        vec![(format!("{{profile=\"{profile}\"}}"), format!("{duration:.6}"))],
    );
    gauge(
        "xtprobe_last_run_timestamp_seconds",
        "When the check ran, in seconds since the Unix epoch.",
        vec![(format!("{{profile=\"{profile}\"}}"), format!("{now:.3}"))],
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::check::CheckResult;
    use crate::probe::{Backend, Family, ProbeError, Requirement, Revisions};

    fn report(results: Vec<(&str, Outcome, bool)>) -> CheckReport {
        CheckReport {
            kernel_release: "6.12".into(),
            profile: Some("kuscia".into()),
            nf_tables: None,
            results: results
                .into_iter()
                .map(|(s, outcome, optional)| CheckResult {
                    requirement: s.parse::<Requirement>().unwrap(),
                    optional,
                    family: Family::Ipv4,
                    backend: Backend::Nft,
                    outcome,
                    alternative_for: None,
                })
                .collect(),
            disagreements: Vec::new(),
            rules: None,
        }
    }

    fn ok() -> Outcome {
        Outcome::Registered(Revisions { supported: vec![0], best: Some(0) })
    }

    #[test]
    fn npd_lines() {
        type Answers<'a> = Vec<(&'a str, Outcome, bool)>;
        let table: Vec<(Answers<'_>, &str)> = vec![
            (
                vec![("comment", ok(), false), ("statistic", Outcome::NotRegistered, true)],
                "ok: 1 supported (kuscia)",
            ),
            (
                vec![
                    ("comment", Outcome::NotRegistered, false),
                    ("target:MASQUERADE", Outcome::NotRegistered, false),
                ],
                "missing: match:comment, target:MASQUERADE",
            ),
            (
                vec![("comment", Outcome::Failed(ProbeError::NoNfnetlink), false)],
                "unknown: cannot probe: nfnetlink is not loaded (socket(NETLINK_NETFILTER): EP...",
            ),
        ];
        for (results, want) in table {
            assert_eq!(npd_line(&report(results)), want);
        }
        let many: Vec<(&str, Outcome, bool)> =
            ["comment", "addrtype", "multiport", "conntrack", "statistic", "recent", "target:MASQUERADE"]
                .into_iter()
                .map(|s| (s, Outcome::NotRegistered, false))
                .collect();
        let line = npd_line(&report(many));
        assert!(line.len() <= NPD_MAX, "{line}");
        assert!(line.starts_with("missing: match:comment, match:addrtype") && line.ends_with(')'), "{line}");
    }

    /// NPD slices its message at 80 bytes: the line never needs it, and a
    /// cut never splits a character.
    #[test]
    fn npd_lines_are_cut_in_bytes_on_character_boundaries() {
        for name in ["ü".repeat(70), "x".repeat(200), format!("{}€", "a".repeat(75))] {
            let mut r = report(vec![("comment", ok(), false)]);
            r.profile = Some(name.clone());
            let line = npd_line(&r);
            assert!(line.len() <= NPD_MAX, "{} bytes: {line}", line.len());
            assert!(line.is_ascii() || line.chars().all(|c| c != '\u{fffd}'));
            if format!("ok: 1 supported ({name})").len() > NPD_MAX {
                assert!(line.ends_with("..."), "{line}");
            }
        }
    }

    /// Every series carries the profile, and a control character in a label
    /// is not passed raw (stdout prints this text as it is).
    #[test]
    fn prometheus_series_are_per_profile_and_free_of_control_characters() {
        let mut r = report(vec![("comment", ok(), false)]);
        r.profile = Some("evil\u{1b}[2J\u{202e}name".into());
        let text = prometheus(&r, 0.1, 1.0);
        assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "{text:?}");
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            assert!(line.contains("profile=\"evil\u{fffd}[2J\u{fffd}name\""), "{line}");
        }
    }

    #[test]
    fn prometheus_labels_are_escaped() {
        assert_eq!(label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        let mut r = report(vec![("comment", ok(), false), ("recent", Outcome::NotRegistered, false)]);
        r.profile = Some("my \"odd\"\nprofile".into());
        let text = prometheus(&r, 0.0031, 1_790_000_000.0);
        assert!(text.contains("profile=\"my \\\"odd\\\"\\nprofile\""), "{text}");
        assert!(text.contains("xtprobe_extension_supported{kind=\"match\",name=\"comment\""));
        assert!(text.contains("xtprobe_required_missing{profile=\"my \\\"odd\\\"\\nprofile\"} 1"));
    }
}
