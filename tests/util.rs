//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::os::unix::process::CommandExt;
use std::process::{Command, Output};

/// Whether live-kernel tests can run. They need root (CAP_SYS_ADMIN for
/// `unshare(CLONE_NEWNET)`). On this project's machines and in CI they must
/// run: `XTPROBE_REQUIRE_LIVE=1` turns a skip into a failure.
pub fn live() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    if std::env::var_os("XTPROBE_REQUIRE_LIVE").is_some() {
        panic!("live-kernel tests need root, and XTPROBE_REQUIRE_LIVE is set");
    }
    eprintln!("skipped: live-kernel tests need root (run as root to exercise the kernel)");
    false
}

/// The binary under test: this build's, or `XTPROBE_BIN` (to judge another
/// build with the same suite, e.g. the static release binary, or an older
/// one to see which tests it fails).
pub fn bin() -> std::path::PathBuf {
    std::env::var_os("XTPROBE_BIN").map(Into::into).unwrap_or_else(|| env!("CARGO_BIN_EXE_xtprobe").into())
}

/// The `xtprobe` binary under test, set to run in a fresh network namespace.
pub fn xtprobe() -> Command {
    let mut cmd = Command::new(bin());
    in_fresh_netns(&mut cmd);
    cmd.env_remove("NO_COLOR");
    cmd
}

/// Makes `cmd` run in a new, empty network namespace.
pub fn in_fresh_netns(cmd: &mut Command) -> &mut Command {
    // SAFETY: unshare is async-signal-safe and touches no state of the parent.
    unsafe {
        cmd.pre_exec(|| {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).map_err(std::io::Error::from)
        })
    }
}

/// Runs `cmd` and returns its output, failing the test if it did not start.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("could not run {cmd:?}: {e}"))
}

/// The exit status, failing the test if the process was killed by a signal.
pub fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or_else(|| panic!("killed by a signal: {out:?}"))
}

/// Runs `xtprobe ARGS --json` and parses its stdout.
pub fn json(args: &[&str]) -> (i32, serde_json::Value) {
    let out = run(xtprobe().args(args).arg("--json"));
    let value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (code(&out), value)
}

/// stdout and stderr as text, for assertions and failure messages.
pub fn text(out: &Output) -> (String, String) {
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The results array of a check document.
pub fn results(doc: &serde_json::Value) -> &Vec<serde_json::Value> {
    doc["results"].as_array().expect("results is an array")
}

/// Names listed in a /proc/net/*_tables_{matches,targets} file, with one
/// line per registered revision, as the kernel prints them.
pub fn proc_names(path: &str) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}
