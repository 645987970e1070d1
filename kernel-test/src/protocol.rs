//! What the host tells the guest, and what the guest prints back.
//!
//! Host → guest: `/xtp/case.json` in the initramfs (a [`GuestCase`]) and
//! `xtp.nonce=<hex>` on the kernel command line.
//!
//! Guest → host, one line each on the serial console:
//!
//! ```text
//! XTP <nonce> begin <id>
//! XTP <nonce> out <id> <text>     one per line the command printed (stdout and stderr)
//! XTP <nonce> exit <id> <code>    exit status; 128+N for signal N; 127 if it could not start
//! XTP <nonce> done
//! ```
//!
//! `<id>` is the step number, or `step.command` for commands of a step that
//! run in parallel. The nonce is fresh per boot, so nothing but this run's
//! guest can produce the final `done` line: a kernel panic, a crashed init
//! or a hung VM never looks like success.

use serde::{Deserialize, Serialize};

/// The kernel command-line key carrying the nonce.
pub const NONCE_KEY: &str = "xtp.nonce";
/// Where the case lives in the initramfs.
pub const CASE_PATH: &str = "/xtp/case.json";
/// The marker every protocol line starts with.
pub const MARKER: &str = "XTP";

/// What the guest runs.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct GuestCase {
    /// Extra environment for every command.
    #[serde(default)]
    pub env: Vec<(String, String)>,
    /// The steps, in order.
    pub steps: Vec<GuestStep>,
    /// Sysctls to set before the first step (`kernel.modules_disabled`, `1`).
    #[serde(default)]
    pub sysctl: Vec<(String, String)>,
    /// Unmount /proc before the first step (an early initramfs).
    #[serde(default)]
    pub unmount_proc: bool,
    /// Stop after the first step a command of which exits non-zero.
    #[serde(default)]
    pub stop_on_failure: bool,
    /// Instead of steps: a shell (`/bin/sh`) on the console, for a person.
    #[serde(default)]
    pub shell: bool,
}

/// One step: one command, or several run at the same moment.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct GuestStep {
    /// Each command's argv.
    pub commands: Vec<Vec<String>>,
    /// Run only if step N (0-based, earlier) ran and a command of it
    /// exited non-zero; otherwise skip, printing nothing. A restore that
    /// failed as a whole is followed by its rules one by one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub if_failed: Option<usize>,
    /// The status each command must end with for the case to go on
    /// (`stop_on_failure`); unset: success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Expect>,
}

/// The exit status a command is expected to end with.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    /// 0.
    #[default]
    Success,
    /// Anything but 0 and 127 (`!` in a `run --script` line).
    Failure,
    /// Exactly this (`expect N` in a `run --script` line).
    Code(i32),
}

impl Expect {
    /// Whether `code` is what was expected.
    pub fn accepts(self, code: i32) -> bool {
        match self {
            Expect::Success => code == 0,
            // 127 is a command that could not start (a typo), never the
            // failure a script expects.
            Expect::Failure => code != 0 && code != 127,
            Expect::Code(c) => code == c,
        }
    }

    /// How a report says it (`exit 0`, `exit non-zero`, `exit 2`).
    pub fn describe(self) -> String {
        match self {
            Expect::Success => "exit 0".into(),
            Expect::Failure => "exit non-zero".into(),
            Expect::Code(c) => format!("exit {c}"),
        }
    }
}

/// A parsed protocol line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A step's command started.
    Begin(String),
    /// A line of its output.
    Out(String, String),
    /// It ended with this status.
    Exit(String, i32),
    /// All steps ran.
    Done,
}

/// Formats an event for the guest to print.
pub fn format(nonce: &str, event: &Event) -> String {
    match event {
        Event::Begin(id) => format!("{MARKER} {nonce} begin {id}"),
        Event::Out(id, text) => format!("{MARKER} {nonce} out {id} {text}"),
        Event::Exit(id, code) => format!("{MARKER} {nonce} exit {id} {code}"),
        Event::Done => format!("{MARKER} {nonce} done"),
    }
}

/// Parses a serial-console line; `None` for anything that is not a
/// protocol line of this nonce (kernel messages, other noise).
pub fn parse(nonce: &str, line: &str) -> Option<Event> {
    let line = line.trim_end_matches(['\r', '\n']);
    // Kernel output may precede the marker on the same line.
    let start = line.find(&format!("{MARKER} {nonce} "))?;
    let rest = &line[start + MARKER.len() + nonce.len() + 2..];
    let (kind, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    match kind {
        "begin" => Some(Event::Begin(rest.to_string())),
        "out" => {
            let (id, text) = rest.split_once(' ').unwrap_or((rest, ""));
            Some(Event::Out(id.to_string(), text.to_string()))
        }
        "exit" => {
            let (id, code) = rest.split_once(' ')?;
            Some(Event::Exit(id.to_string(), code.trim().parse().ok()?))
        }
        "done" => Some(Event::Done),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_foreign_lines() {
        for e in [
            Event::Begin("0".into()),
            Event::Out("1.0".into(), "kernel 6.12, nf_tables answers".into()),
            Event::Out("2".into(), String::new()),
            Event::Exit("3".into(), 137),
            Event::Done,
        ] {
            assert_eq!(parse("abc", &format("abc", &e)), Some(e.clone()));
            assert_eq!(parse("other", &format("abc", &e)), None, "another run's nonce");
        }
        assert_eq!(parse("abc", "[    1.2] reboot: Restarting system"), None);
        assert_eq!(parse("abc", "XTP abc done\r"), Some(Event::Done));
        assert_eq!(
            parse("abc", "[ 0.1] xt_comment: loaded XTP abc exit 0 1"),
            Some(Event::Exit("0".into(), 1))
        );
        assert_eq!(parse("abc", "XTP abc exit 0 notanumber"), None);
    }
}
