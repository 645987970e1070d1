//! Case results for people and for CI: text (a line per case; a failure
//! with its reasons and the whole serial log), TAP 13 (a YAML diagnostic
//! block with the serial log's tail for each failure; the kernel's own KTAP
//! readers accept it), JSON lines, and JUnit XML (GitLab, Jenkins).
//!
//! Every function is pure: results in, text out.

use crate::arch::Arch;
use crate::matrix::CaseResult;

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `PASS 1.23 s name`, failures with their serial log.
    Text,
    /// TAP version 13.
    Tap,
    /// One JSON object per case.
    Json,
}

/// Lines of the serial log a TAP or JUnit failure carries.
pub const TAIL: usize = 40;

/// The text block of one case.
pub fn text(r: &CaseResult) -> String {
    let word = if r.failures.is_empty() { "PASS" } else { "FAIL" };
    // x86_64 is the default; another architecture is named.
    let arch = match r.arch {
        Arch::X86_64 => String::new(),
        a => format!("  [{}]", a.name()),
    };
    let mut out = format!("{word}  {:>6.2} s  {}{arch}\n", r.seconds, r.name);
    if r.failures.is_empty() {
        return out;
    }
    for f in &r.failures {
        out.push_str(&format!("      - {f}\n"));
    }
    if let Some(run) = &r.run {
        out.push_str(&format!("      serial log ({} lines):\n", run.serial.len()));
        for l in &run.serial {
            out.push_str(&format!("      | {l}\n"));
        }
        if !run.stderr.trim().is_empty() {
            out.push_str(&format!("      qemu stderr: {}\n", run.stderr.trim()));
        }
    }
    out
}

/// The TAP plan that comes first.
pub fn tap_header(count: usize) -> String {
    format!("TAP version 13\n1..{count}\n")
}

/// A YAML double-quoted scalar: only YAML's printable characters stay
/// raw (C0 and DEL are escaped; C1, U+FFFE/FFFF and U+2028/2029 become
/// U+FFFD, read alike by every reader).
/// `:` is written `\x3a`: Perl's `TAP::Parser` (so `prove`) reads a list
/// item with `WORD:` in it as a hash, even inside quotes, and stops; both
/// it and full YAML parsers read `\x3a` back as `:`.
pub fn yaml(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ':' => out.push_str("\\x3a"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\x{:02x}", c as u32)),
            // C1 controls, non-characters and the line/paragraph
            // separators: Perl's reader would give raw bytes or the escape
            // itself, PyYAML folds the separators; both read U+FFFD alike.
            c if ('\u{80}'..='\u{9f}').contains(&c)
                || matches!(c, '\u{fffe}' | '\u{ffff}' | '\u{2028}' | '\u{2029}') =>
            {
                out.push('\u{fffd}')
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A TAP description: no `#` (it starts a directive), one line.
pub fn description(s: &str) -> String {
    s.chars().map(|c| if c == '#' || c.is_control() { ' ' } else { c }).collect()
}

/// Test point `n` (1-based) for one case.
pub fn tap(n: usize, r: &CaseResult) -> String {
    let name = description(&r.name);
    if r.failures.is_empty() {
        return format!("ok {n} - {name}\n");
    }
    let mut out = format!("not ok {n} - {name}\n  ---\n");
    out.push_str(&format!(
        "  kernel: {}\n  arch: {}\n  seconds: {:.2}\n  failures:\n",
        yaml(&r.kernel),
        r.arch.name(),
        r.seconds
    ));
    for f in &r.failures {
        out.push_str(&format!("    - {}\n", yaml(f)));
    }
    if let Some(run) = &r.run {
        let tail = &run.serial[run.serial.len().saturating_sub(TAIL)..];
        out.push_str(&format!("  serial_lines: {}\n  serial_tail:\n", run.serial.len()));
        for l in tail {
            out.push_str(&format!("    - {}\n", yaml(l)));
        }
    }
    out.push_str("  ...\n");
    out
}

#[derive(serde::Serialize)]
struct JsonCase<'a> {
    case: &'a str,
    kernel: &'a str,
    arch: &'static str,
    status: &'static str,
    seconds: f64,
    steps: &'a [crate::matrix::StepResult],
    failures: &'a [String],
    serial_tail: Vec<&'a str>,
}

/// One JSON line for one case.
pub fn json(r: &CaseResult) -> String {
    let tail = r
        .run
        .as_ref()
        .filter(|_| !r.failures.is_empty())
        .map(|run| run.serial[run.serial.len().saturating_sub(TAIL)..].iter().map(String::as_str).collect())
        .unwrap_or_default();
    let doc = JsonCase {
        case: &r.name,
        kernel: &r.kernel,
        arch: r.arch.name(),
        status: if r.failures.is_empty() { "pass" } else { "fail" },
        seconds: (r.seconds * 1000.0).round() / 1000.0,
        steps: &r.steps,
        failures: &r.failures,
        serial_tail: tail,
    };
    let mut line = serde_json::to_string(&doc).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    line.push('\n');
    line
}

/// XML text, escaped; characters XML 1.0 cannot hold become U+FFFD.
fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// All results as a JUnit XML report: one testsuite, a testcase per case
/// (classname = `ARCH/KERNEL`; Jenkins' junit-10.xsd allows no properties
/// on a testcase), a failure element with the reasons and the
/// serial log's tail for each failed case.
pub fn junit(results: &[CaseResult], wall: f64) -> String {
    let failures = results.iter().filter(|r| !r.failures.is_empty()).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"kernel-test\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" time=\"{wall:.3}\">\n",
        results.len()
    ));
    out.push_str(&format!(
        "  <testsuite name=\"kernel-test\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" time=\"{wall:.3}\">\n",
        results.len()
    ));
    for r in results {
        out.push_str(&format!(
            "    <testcase classname=\"{}/{}\" name=\"{}\" time=\"{:.3}\">\n",
            r.arch.name(),
            xml(&r.kernel),
            xml(&r.name),
            r.seconds
        ));
        if r.failures.is_empty() {
            out.push_str("    </testcase>\n");
            continue;
        }
        let mut body = r.failures.join("\n");
        if let Some(run) = &r.run {
            body.push_str("\n\nserial log (tail):\n");
            body.push_str(&run.serial[run.serial.len().saturating_sub(TAIL)..].join("\n"));
        }
        out.push_str(&format!(
            "      <failure message=\"{}\" type=\"failure\">{}</failure>\n    </testcase>\n",
            xml(&r.failures[0]),
            xml(&body)
        ));
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qemu::VmRun;

    fn result(name: &str, failures: &[&str]) -> CaseResult {
        CaseResult {
            name: name.into(),
            failures: failures.iter().map(|s| s.to_string()).collect(),
            run: Some(VmRun::ended(
                Some(0),
                vec!["boot".into(), "XTP n out 0 a \"quoted\" <line> & \u{1b}[0m".into()],
            )),
            seconds: 1.5,
            kept: Vec::new(),
            kernel: "tiny-6.12-m".into(),
            arch: Arch::X86_64,
            steps: Vec::new(),
        }
    }

    #[test]
    fn tap_points_and_diagnostics() {
        assert_eq!(tap(1, &result("a # not a directive", &[])), "ok 1 - a   not a directive\n");
        let t = tap(2, &result("b", &["step 0: exit 1, expected 0"]));
        assert!(t.starts_with("not ok 2 - b\n  ---\n"), "{t}");
        assert!(t.contains("    - \"step 0\\x3a exit 1, expected 0\"\n"), "{t}");
        assert!(t.contains("\\x1b[0m"), "control characters escaped: {t}");
        assert!(t.ends_with("  ...\n"));
        assert!(t.contains("  arch: x86_64\n"));
    }

    #[test]
    fn every_format_names_the_arch() {
        let mut r = result("c", &["x"]);
        r.arch = Arch::Aarch64;
        assert!(text(&r).starts_with("FAIL    1.50 s  c  [aarch64]\n"), "{}", text(&r));
        assert!(!text(&result("c", &[])).contains('['));
        assert!(tap(1, &r).contains("  arch: aarch64\n"));
        let v: serde_json::Value = serde_json::from_str(&json(&r)).unwrap();
        assert_eq!(v["arch"], "aarch64");
        let x = junit(&[r], 1.0);
        assert!(x.contains("classname=\"aarch64/tiny-6.12-m\""), "{x}");
    }

    #[test]
    fn yaml_escapes_what_a_yaml_parser_rejects() {
        assert_eq!(yaml("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(yaml("\u{1b}[0m\t\u{7f}\u{85}\u{9f}"), "\"\\x1b[0m\\x09\\x7f\u{fffd}\u{fffd}\"");
        assert_eq!(yaml("\u{fffe}\u{ffff}\u{2028}\u{2029}é→"), "\"\u{fffd}\u{fffd}\u{fffd}\u{fffd}é→\"");
        assert_eq!(yaml("reboot: Restarting"), "\"reboot\\x3a Restarting\"");
        assert_eq!(description("a # b\r\nc"), "a   b  c");
    }

    #[test]
    fn junit_escapes_and_counts() {
        let x = junit(&[result("a", &[]), result("b <&>", &["no \"done\""])], 3.0);
        assert!(x.contains("tests=\"2\" failures=\"1\""));
        assert!(x.contains("name=\"b &lt;&amp;&gt;\""));
        assert!(x.contains("&lt;line&gt; &amp; \u{fffd}[0m"), "{x}");
    }

    #[test]
    fn json_lines_parse() {
        let line = json(&result("b", &["x"]));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["status"], "fail");
        assert_eq!(v["serial_tail"].as_array().unwrap().len(), 2);
    }
}
