//! TAP that every consumer reads: Perl's `TAP::Parser` (what `prove`,
//! Debian's stock TAP consumer, runs on) and tap.py read the harness's
//! TAP back, failing and passing points alike, with serial lines a kernel
//! or a command can print (`reboot: Restarting system`, `key: value`,
//! quotes, backslashes, YAML's own markers, control characters), each
//! item back byte for byte.
//!
//! Needs `perl` (its TAP::Parser is in perl-modules) and the tools venv
//! (`XTPROBE_TOOLS`, `just tools`) for tap.py; without them the test says
//! so and passes, unless `XTPROBE_REQUIRE_LIVE` is set (as `just test` does).

use std::path::{Path, PathBuf};
use std::process::Command;

use kernel_test::arch::Arch;
use kernel_test::matrix::CaseResult;
use kernel_test::qemu::VmRun;
use kernel_test::results;

#[path = "support/prove.rs"]
mod prove;
use prove::{perl_reads, prove_reads};

/// What a serial console or a command's output can hold.
const HOSTILE: &[&str] = &[
    "reboot: Restarting system",
    "before: 10 after: 12",
    "key:value",
    "ends with a colon:",
    "- a list item",
    "---",
    "...",
    "# a comment",
    "ok 7 - not a test point",
    "not ok 8 - nor this",
    "\"quoted\" and 'single'",
    "a backslash \\ and one at the end \\",
    "a backslash before a quote \\\"",
    "{a: b}",
    "[1, 2]",
    "~",
    ">",
    "|",
    "",
    "   leading and trailing spaces   ",
    "tab\there",
    "\u{1b}[0mescape",
    "é→ unicode: ✓",
];

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn required() -> bool {
    std::env::var_os("XTPROBE_REQUIRE_LIVE").is_some()
}

fn tools() -> Option<PathBuf> {
    let tools = std::env::var_os("XTPROBE_TOOLS").map(PathBuf::from);
    let perl = Path::new("/usr/bin/perl").exists() && Path::new("/usr/bin/prove").exists();
    match tools {
        Some(t) if perl => Some(t),
        _ => {
            assert!(!required(), "the TAP readers need perl (prove) and XTPROBE_TOOLS (tap.py)");
            eprintln!("skipped: install perl and set XTPROBE_TOOLS (just tools)");
            None
        }
    }
}

fn case(name: &str, failures: &[&str], serial: &[&str]) -> CaseResult {
    CaseResult {
        name: name.into(),
        failures: failures.iter().map(|s| s.to_string()).collect(),
        run: Some(VmRun::ended(Some(0), serial.iter().map(|s| s.to_string()).collect())),
        seconds: 1.0,
        kept: Vec::new(),
        kernel: "kernel: with a colon".into(),
        arch: Arch::X86_64,
        steps: Vec::new(),
    }
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

/// tap.py (PyYAML): the same items, hex-encoded.
fn tap_py_reads(tools: &Path, file: &Path) -> String {
    let script = r#"
import sys
from tap.parser import Parser
for l in Parser().parse_file(sys.argv[1]):
    if l.category == 'unknown' and l.text.strip():
        print("error", l.text)
    if l.category == 'test':
        print(l.number, 'ok' if l.ok else 'not ok')
        y = l.yaml_block or {}
        for k in sorted(y):
            v = y[k]
            if isinstance(v, list):
                for i in v:
                    print("item", k, str(i).encode().hex())
            else:
                print("value", k, ('' if v is None else str(v)).encode().hex())
"#;
    let out = Command::new(tools.join("venv/bin/python")).arg("-c").arg(script).arg(file).output().unwrap();
    assert!(out.status.success(), "tap.py: {}", text(&out.stderr));
    text(&out.stdout)
}

#[test]
fn prove_and_tap_py_read_every_serial_line_back() {
    let Some(tools) = tools() else { return };
    let dir = std::env::temp_dir().join(format!("kt-tap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases = [
        case("passes: with a colon # and a hash", &[], HOSTILE),
        case("fails", &["step 0: exit 1, expected 0", "output has \"not supported\""], HOSTILE),
    ];
    let mut tap = results::tap_header(cases.len());
    for (i, c) in cases.iter().enumerate() {
        tap.push_str(&results::tap(i + 1, c));
    }
    let file = dir.join("report.tap");
    std::fs::write(&file, &tap).unwrap();

    let mut want = vec!["1 ok".to_string(), "2 not ok".to_string()];
    for f in &cases[1].failures {
        want.push(format!("item failures {}", hex(f)));
    }
    want.push(format!("value kernel {}", hex("kernel: with a colon")));
    for l in HOSTILE {
        want.push(format!("item serial_tail {}", hex(l)));
    }
    for (reader, got) in [("perl", perl_reads(&file)), ("tap.py", tap_py_reads(&tools, &file))] {
        let got: Vec<&str> = got
            .lines()
            .filter(|l| {
                !l.starts_with("value arch")
                    && !l.starts_with("value seconds")
                    && !l.starts_with("value serial_lines")
            })
            .collect();
        let mut got_sorted = got.clone();
        got_sorted.sort();
        let mut want_sorted: Vec<&str> = want.iter().map(String::as_str).collect();
        want_sorted.sort();
        assert_eq!(got_sorted, want_sorted, "{reader} read\n{tap}");
    }
    prove_reads(&file);
    let _ = std::fs::remove_dir_all(&dir);
}
