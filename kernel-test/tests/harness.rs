//! The harness as an outside user meets it: their own kernel list (a
//! prebuilt bzImage) and cases, run on one VM and on two at once, reported
//! as text, JSON lines, TAP 13 (read back by tap.py) and JUnit XML (checked
//! against Jenkins' XSD by xmllint); `run --script`, `--file`, `--append`.
//!
//! Needs the VM payload (`XTPROBE_PAYLOAD`: the directory holding the static
//! xtprobe and guest-init, `just payload`), the validators (`XTPROBE_TOOLS`,
//! `just tools`) and QEMU; without them the tests say so and pass, unless
//! `XTPROBE_REQUIRE_LIVE` is set (as `just test` does).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[path = "support/prove.rs"]
mod prove;

const BIN: &str = env!("CARGO_BIN_EXE_kernel-test");

/// The payload and tools directories, or None (skip) when absent.
fn setup() -> Option<(PathBuf, PathBuf)> {
    let payload = std::env::var_os("XTPROBE_PAYLOAD").map(PathBuf::from);
    let tools = std::env::var_os("XTPROBE_TOOLS").map(PathBuf::from);
    let qemu = Path::new("/usr/bin/qemu-system-x86_64").exists();
    match (payload, tools, qemu) {
        (Some(p), Some(t), true) => Some((p, t)),
        _ => {
            assert!(
                std::env::var_os("XTPROBE_REQUIRE_LIVE").is_none(),
                "harness tests need XTPROBE_PAYLOAD, XTPROBE_TOOLS and qemu-system-x86_64"
            );
            eprintln!("skipped: set XTPROBE_PAYLOAD and XTPROBE_TOOLS (just payload tools) and install QEMU");
            None
        }
    }
}

fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kt-harness-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn kernel_test(payload: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--xtprobe")
        .arg(payload.join("xtprobe"))
        .arg("--guest")
        .arg(payload.join("guest-init"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The cached tiny kernel with comment built in (built if missing), as
/// `kernel-test kernels` reports it.
fn tiny_y() -> PathBuf {
    let out = Command::new(BIN)
        .args(["--images", "../vm-images", "kernels", "--only", "tiny-6.12-y"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let line = stdout.lines().find(|l| l.starts_with("tiny-6.12-y ")).expect("kernels lists tiny-6.12-y");
    PathBuf::from(line.split_whitespace().last().unwrap())
}

/// A user's kernel list (one prebuilt image, relative to the list) and
/// four cases on it: two that pass (one expects a failing exit status) and
/// two that fail, each failure naming its own extension (AAAA, BBBB).
fn user_matrix(dir: &Path) -> (PathBuf, PathBuf) {
    std::fs::copy(tiny_y(), dir.join("bzImage-mine")).unwrap();
    let kernels = dir.join("kernels.toml");
    std::fs::write(&kernels, "[[prebuilt]]\nname = \"mine\"\nbzimage = \"bzImage-mine\"\n").unwrap();
    let matrix = dir.join("matrix.toml");
    std::fs::write(
        &matrix,
        r#"
[[case]]
name = "comment is built in"
kernel = "mine"
[[case.step]]
run = ["xtprobe", "check", "comment"]
exit = 0
expect = ["supported"]

[[case]]
name = "an unknown match is reported missing"
kernel = "mine"
[[case.step]]
run = ["xtprobe", "check", "match:ZZZZ"]
exit = 1
expect = ["not registered"]

[[case]]
name = "deliberately failing A"
kernel = "mine"
[[case.step]]
run = ["xtprobe", "check", "match:AAAA"]
exit = 0

[[case]]
name = "deliberately failing B"
kernel = "mine"
[[case.step]]
run = ["xtprobe", "check", "match:BBBB"]
exit = 0
"#,
    )
    .unwrap();
    (kernels, matrix)
}

const VERDICTS: [(&str, &str); 4] = [
    ("comment is built in", "pass"),
    ("an unknown match is reported missing", "pass"),
    ("deliberately failing A", "fail"),
    ("deliberately failing B", "fail"),
];

/// The text report's blocks: case name → its lines (header included).
fn text_blocks(stdout: &str) -> BTreeMap<String, String> {
    let mut blocks: BTreeMap<String, String> = BTreeMap::new();
    let mut current = None;
    for line in stdout.lines() {
        if let Some(rest) = line.strip_prefix("PASS ").or_else(|| line.strip_prefix("FAIL ")) {
            let name = rest.split(" s  ").nth(1).unwrap().to_string();
            current = Some(name.clone());
            blocks.insert(name, String::new());
        } else if !line.starts_with("      ") {
            current = None;
        }
        if let Some(name) = &current {
            let b = blocks.get_mut(name).unwrap();
            b.push_str(line);
            b.push('\n');
        }
    }
    blocks
}

#[test]
fn a_user_matrix_on_two_vms_keeps_outputs_apart_and_agrees_with_one() {
    let Some((payload, tools)) = setup() else { return };
    let dir = tempdir("matrix");
    let (kernels, matrix) = user_matrix(&dir);
    let (k, m) = (kernels.to_str().unwrap(), matrix.to_str().unwrap());

    // -j 1, JSON lines.
    let serial =
        kernel_test(&payload, &["matrix", "--kernels", k, "--matrix", m, "-j", "1", "--format", "json"]);
    assert_eq!(serial.status.code(), Some(1), "{}", text(&serial.stderr));
    let docs: Vec<serde_json::Value> =
        text(&serial.stdout).lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    let got: Vec<(String, String)> = docs
        .iter()
        .map(|d| (d["case"].as_str().unwrap().into(), d["status"].as_str().unwrap().into()))
        .collect();
    let want: Vec<(String, String)> = VERDICTS.iter().map(|(c, s)| (c.to_string(), s.to_string())).collect();
    assert_eq!(got, want, "JSON results in file order");
    for d in &docs {
        assert_eq!(d["kernel"], "mine");
        assert_eq!(d["arch"], "x86_64", "a kernel list entry without `arch` is x86_64");
        assert!(d["seconds"].as_f64().unwrap() > 0.0);
        let step = &d["steps"][0];
        assert_eq!(step["command"][0], "xtprobe", "{d}");
        let failing = d["status"] == "fail";
        assert_eq!(
            step["exit"],
            if d["case"].as_str().unwrap().contains("unknown") || failing { 1 } else { 0 }
        );
        assert_eq!(
            !d["serial_tail"].as_array().unwrap().is_empty(),
            failing,
            "a failure carries its serial log"
        );
    }

    // -j 2, text: the same verdicts; each failure shows its own serial log.
    let parallel = kernel_test(&payload, &["matrix", "--kernels", k, "--matrix", m, "-j", "2"]);
    assert_eq!(parallel.status.code(), Some(1), "{}", text(&parallel.stderr));
    let stdout = text(&parallel.stdout);
    let blocks = text_blocks(&stdout);
    for (case, status) in VERDICTS {
        let block = &blocks[case];
        assert_eq!(block.starts_with("FAIL"), status == "fail", "{case} in\n{stdout}");
    }
    let a = &blocks["deliberately failing A"];
    let b = &blocks["deliberately failing B"];
    assert!(a.contains("serial log") && a.contains("| ") && a.contains("AAAA") && !a.contains("BBBB"), "{a}");
    assert!(b.contains("serial log") && b.contains("BBBB") && !b.contains("AAAA"), "{b}");
    assert!(stdout.contains("2 passed, 2 failed") && stdout.contains("-j 2"), "{stdout}");

    // -j 2, TAP read by tap.py, JUnit checked against the XSD.
    let junit = dir.join("junit.xml");
    let tap = kernel_test(
        &payload,
        &[
            "matrix",
            "--kernels",
            k,
            "--matrix",
            m,
            "-j",
            "2",
            "--format",
            "tap",
            "--junit",
            junit.to_str().unwrap(),
        ],
    );
    assert_eq!(tap.status.code(), Some(1), "{}", text(&tap.stderr));
    let tap_file = dir.join("report.tap");
    std::fs::write(&tap_file, &tap.stdout).unwrap();
    let read = tap_py(&tools, &tap_file);
    assert_eq!(read.lines().next(), Some("plan 1..4 version 13 errors 0"), "{read}");
    prove::prove_reads(&tap_file);
    assert!(!prove::perl_reads(&tap_file).lines().any(|l| l.starts_with("error ")), "{}", text(&tap.stdout));
    for (n, (case, status)) in VERDICTS.iter().enumerate() {
        let want = format!("{} {} {case}", if *status == "pass" { "ok" } else { "not ok" }, n + 1);
        assert!(read.lines().any(|l| l.starts_with(&want)), "{want} in\n{read}");
    }
    let line_a = read.lines().find(|l| l.contains("deliberately failing A")).unwrap();
    assert!(
        line_a.contains("yaml kernel=mine") && line_a.contains("AAAA") && !line_a.contains("BBBB"),
        "{line_a}"
    );
    xmllint(&tools, &junit);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(xml.matches("<testcase ").count(), 4, "{xml}");
    assert_eq!(xml.matches("classname=\"x86_64/mine\"").count(), 4, "{xml}");
    assert_eq!(xml.matches("<failure ").count(), 2, "{xml}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// tap.py's view of a TAP stream: `plan 1..N version V errors E`, then a
/// line per test point, with the YAML block's kernel and serial tail.
fn tap_py(tools: &Path, file: &Path) -> String {
    let script = r#"
import sys
from tap.parser import Parser
lines = list(Parser().parse_file(sys.argv[1]))
plan = [l for l in lines if l.category == 'plan']
version = [l.version for l in lines if l.category == 'version']
errors = [l for l in lines if l.category == 'unknown' and l.text.strip()]
print(f"plan 1..{plan[0].expected_tests} version {version[0]} errors {len(errors)}")
for e in errors:
    print("unknown:", e.text)
for l in lines:
    if l.category == 'test':
        ok = 'ok' if l.ok else 'not ok'
        extra = ''
        if l.skip:
            extra += ' SKIP'
        y = l.yaml_block
        if y:
            tail = ' | '.join(y.get('serial_tail') or y.get('output') or [])
            extra += f" yaml kernel={y.get('kernel')} exit={y.get('exit')} tail={tail}"
        print(f"{ok} {l.number} {l.description.lstrip('- ')}{extra}")
"#;
    let out = Command::new(tools.join("venv/bin/python")).arg("-c").arg(script).arg(file).output().unwrap();
    assert!(out.status.success(), "tap.py: {}", text(&out.stderr));
    text(&out.stdout)
}

/// xmllint --schema junit-10.xsd: the report is valid JUnit for Jenkins.
fn xmllint(tools: &Path, file: &Path) {
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(tools.join("junit-10.xsd"))
        .arg(file)
        .output()
        .expect("xmllint (libxml2-utils)");
    assert!(out.status.success(), "{} is not valid JUnit: {}", file.display(), text(&out.stderr));
}

#[test]
fn run_script_reports_each_command_and_carries_files_and_the_command_line() {
    let Some((payload, tools)) = setup() else { return };
    let dir = tempdir("run");
    let kernel = tiny_y();
    let script = dir.join("script");
    std::fs::write(
        &script,
        "# a comment\nbusybox cat /proc/cmdline\nxtprobe check \"match:ZZZZ\"\nxtprobe check comment\n",
    )
    .unwrap();
    let base = [
        "run",
        "--kernel",
        kernel.to_str().unwrap(),
        "--file",
        "/bin/busybox:/bin/busybox",
        "--append",
        "xtp.marker=hello",
        "--script",
        script.to_str().unwrap(),
    ];

    // Stop at the first failure: the third command is skipped.
    let tap = kernel_test(&payload, &[&base[..], &["--format", "tap"]].concat());
    assert_eq!(tap.status.code(), Some(1), "the failing command's status\n{}", text(&tap.stderr));
    let tap_file = dir.join("run.tap");
    std::fs::write(&tap_file, &tap.stdout).unwrap();
    let read = tap_py(&tools, &tap_file);
    prove::prove_reads(&tap_file);
    assert!(!prove::perl_reads(&tap_file).lines().any(|l| l.starts_with("error ")), "{}", text(&tap.stdout));
    let mut lines = read.lines();
    assert_eq!(lines.next(), Some("plan 1..3 version 13 errors 0"), "{read}");
    assert_eq!(lines.next(), Some("ok 1 busybox cat /proc/cmdline"), "{read}");
    let second = lines.next().unwrap();
    assert!(
        second.starts_with("not ok 2 xtprobe check match:ZZZZ yaml") && second.contains("exit=1"),
        "{read}"
    );
    assert!(second.contains("not registered"), "its output: {second}");
    assert_eq!(lines.next(), Some("ok 3 xtprobe check comment SKIP"), "{read}");

    // --keep-going, JSON: every command runs; the command line arrived.
    let json = kernel_test(&payload, &[&base[..], &["--keep-going", "--format", "json"]].concat());
    assert_eq!(json.status.code(), Some(1), "{}", text(&json.stderr));
    let docs: Vec<serde_json::Value> =
        text(&json.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let statuses: Vec<&str> = docs.iter().map(|d| d["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["pass", "fail", "pass"]);
    assert!(docs[0]["output"][0].as_str().unwrap().contains("xtp.marker=hello"), "{}", docs[0]);
    assert_eq!(docs[1]["exit"], 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_requests_are_refused_before_anything_boots() {
    let dir = tempdir("bad");
    std::fs::write(dir.join("bzImage"), b"not a kernel").unwrap();
    let kernels = dir.join("kernels.toml");
    std::fs::write(&kernels, "[[prebuilt]]\nname = \"mine\"\nbzimage = \"bzImage\"\n").unwrap();
    let matrix = dir.join("matrix.toml");
    std::fs::write(
        &matrix,
        "[[case]]\nname = \"x\"\nkernel = \"mine\"\n[[case.step]]\nrun = [\"true\"]\nexit = 0\n",
    )
    .unwrap();
    let (k, m) = (kernels.to_str().unwrap(), matrix.to_str().unwrap());
    let nothing = Path::new("/nonexistent");
    for (args, want) in [
        (vec!["matrix", "--kernels", k, "--matrix", m, "--kernel", "theirs"], "no kernel named theirs"),
        (vec!["matrix", "--kernels", k, "--matrix", m, "--case", "nomatch"], "no case matches"),
        (vec!["matrix", "--kernels", k, "--matrix", "/nonexistent.toml"], "/nonexistent.toml"),
    ] {
        let out = kernel_test(nothing, &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(text(&out.stderr).contains(want), "{args:?}: {}", text(&out.stderr));
    }
    std::fs::write(
        &matrix,
        "[[case]]\nname = \"x\"\nkernel = \"theirs\"\n[[case.step]]\nrun = [\"true\"]\nexit = 0\n",
    )
    .unwrap();
    let out = kernel_test(nothing, &["matrix", "--kernels", k, "--matrix", m]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("kernel theirs is not in"), "{}", text(&out.stderr));
    // A kept name twice; a case whose keeper --case leaves out.
    let keeps = "[[case]]\nname = \"a\"\nkernel = \"mine\"\n[[case.step]]\nrun = [\"true\"]\nexit = 0\nkeep = \"p\"\n\
                 [[case]]\nname = \"b\"\nkernel = \"mine\"\nfiles = [[\"@p\", \"/p\"]]\n[[case.step]]\nrun = [\"true\"]\nexit = 0\n";
    std::fs::write(&matrix, keeps).unwrap();
    let out = kernel_test(nothing, &["matrix", "--kernels", k, "--matrix", m, "--case", "b"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("uses @p, kept by case \"a\", which --case / --kernel left out"),
        "{}",
        text(&out.stderr)
    );
    std::fs::write(&matrix, format!("{keeps}[[case]]\nname = \"c\"\nkernel = \"mine\"\n[[case.step]]\nrun = [\"true\"]\nexit = 0\nkeep = \"p\"\n")).unwrap();
    let out = kernel_test(nothing, &["matrix", "--kernels", k, "--matrix", m]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("keep \"p\": kept by an earlier case already"),
        "{}",
        text(&out.stderr)
    );
    // No kernel image: a bad request (2), not "the VM gave no result" (125).
    let out = kernel_test(nothing, &["run", "--kernel", "/nonexistent/bzImage", "--", "true"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("/nonexistent/bzImage: no such kernel image"),
        "{}",
        text(&out.stderr)
    );
    // A key that cannot be computed is an error: prune never removes what
    // the list may still use.
    let tiny = dir.join("tiny.toml");
    std::fs::write(&tiny, "[[tiny]]\nname = \"t\"\nsource = \"linux-source-0.0\"\nvariant = \"y\"\n")
        .unwrap();
    let out = kernel_test(nothing, &["cache", "--kernels", tiny.to_str().unwrap(), "prune", "-n"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("linux-source-0.0 is not installed"), "{}", text(&out.stderr));
    // A report that cannot be written is a failed run, not a panic.
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    let out = Command::new(BIN).args(["cache", "--kernels", k, "key"]).stdout(full).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("writing to standard output failed"), "{}", text(&out.stderr));
    let out = kernel_test(nothing, &["run", "--kernel", "bzImage", "--file", "nope:/x", "--", "true"]);
    assert_eq!(out.status.code(), Some(2), "clap's usage error");
    assert!(text(&out.stderr).contains("nope is not a file"), "{}", text(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_second_run_waits_for_the_cache_lock() {
    use std::os::fd::AsRawFd;
    let dir = tempdir("lock");
    std::fs::write(dir.join("kernels.toml"), "").unwrap();
    std::fs::create_dir_all(dir.join("cache/xtprobe")).unwrap();
    let lock = std::fs::File::create(dir.join("cache/xtprobe/.lock")).unwrap();
    // SAFETY: flock on an open descriptor.
    assert_eq!(unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) }, 0);
    let mut child = Command::new(BIN)
        .args(["cache", "--kernels"])
        .arg(dir.join("kernels.toml"))
        .args(["prune", "-n"])
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(child.try_wait().unwrap().is_none(), "prune ran while another run held the lock");
    drop(lock);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("waiting for another kernel-test run"), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("would free 0.0 MiB in 0 entries"), "{}", text(&out.stdout));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The README's example kernel list and matrix: both parse with the
/// harness's own schema, and the matrix names only the list's kernels.
#[test]
fn the_readme_examples_parse() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let block = |first: &str| {
        let start = readme
            .find(&format!("```toml\n{first}"))
            .unwrap_or_else(|| panic!("a toml block starting {first}"));
        let body = &readme[start + 8..];
        body[..body.find("```").unwrap()].to_string()
    };
    let list: kernel_test::kernels::KernelList = toml::from_str(&block("# kernels.toml")).unwrap();
    assert_eq!((list.tiny.len(), list.debian.len(), list.prebuilt.len()), (1, 1, 1));
    let matrix: kernel_test::matrix::Matrix = toml::from_str(&block("# matrix.toml")).unwrap();
    assert_eq!(matrix.case.len(), 2);
    let names = list.names();
    assert!(matrix.case.iter().all(|c| names.contains(&c.kernel)));
}

/// `run --script` lines that expect a status (`!`, `expect N`), busybox's
/// applets on PATH by default, and `--no-busybox` for a bare guest.
#[test]
fn run_scripts_expect_statuses_with_busybox_by_default() {
    let Some((payload, tools)) = setup() else { return };
    let dir = tempdir("expect");
    let kernel = tiny_y();
    let k = kernel.to_str().unwrap();
    let script = dir.join("script");
    std::fs::write(
        &script,
        "uname -r\n! xtprobe check match:ZZZZ\nexpect 2 xtprobe check --no-such-option\ntrue\n",
    )
    .unwrap();
    let out = kernel_test(
        &payload,
        &["run", "--kernel", k, "--script", script.to_str().unwrap(), "--format", "tap"],
    );
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    let tap_file = dir.join("expect.tap");
    std::fs::write(&tap_file, &out.stdout).unwrap();
    let read = tap_py(&tools, &tap_file);
    let lines: Vec<&str> = read.lines().collect();
    assert_eq!(lines[0], "plan 1..4 version 13 errors 0", "{read}");
    assert_eq!(lines[2], "ok 2 xtprobe check match:ZZZZ (expects exit non-zero)", "{read}");
    assert_eq!(lines[3], "ok 3 xtprobe check --no-such-option (expects exit 2)", "{read}");
    assert!(lines[1..].iter().all(|l| l.starts_with("ok ")), "{read}");
    prove::prove_reads(&tap_file);

    // An expectation not met stops the script; its status is the run's
    // (1: the command succeeded where a failure was expected).
    std::fs::write(&script, "! true\nuname -r\n").unwrap();
    let out = kernel_test(
        &payload,
        &["run", "--kernel", k, "--script", script.to_str().unwrap(), "--format", "json"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let docs: Vec<serde_json::Value> =
        text(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(docs[0]["status"], "fail", "{docs:?}");
    assert_eq!(docs[0]["expected"], "exit non-zero", "{docs:?}");
    assert_eq!(docs[1]["status"], "skipped", "{docs:?}");

    // Without busybox there is no uname: the guest says it cannot run it.
    let out = kernel_test(&payload, &["run", "--kernel", k, "--no-busybox", "--", "uname", "-r"]);
    assert_eq!(out.status.code(), Some(127), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("cannot run"), "{}", text(&out.stdout));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A guest that prints nothing (init is `sleep 600`, the kernel quiet) is
/// killed at the silence limit instead of the timeout and booted again with
/// every kernel message on an early console: the report shows where it
/// stopped, the QEMU command and what to try.
#[test]
fn a_silent_guest_gets_a_diagnosis_instead_of_an_empty_log() {
    let Some((payload, _)) = setup() else { return };
    let kernel = tiny_y();
    let k = kernel.to_str().unwrap();
    let start = std::time::Instant::now();
    let out = kernel_test(
        &payload,
        &[
            "run",
            "--kernel",
            k,
            "--silence",
            "5",
            "--timeout",
            "170",
            "--append",
            "rdinit=/bin/sleep -- 600",
            "--",
            "true",
        ],
    );
    let secs = start.elapsed().as_secs();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "{err}");
    assert!(secs < 90, "killed at the silence limit, not the timeout: {secs} s\n{err}");
    assert!(err.contains("the guest printed nothing in 5 s and was killed"), "{err}");
    assert!(err.contains("QEMU: qemu-system-x86_64 "), "{err}");
    assert!(err.contains("Run /bin/sleep as init process"), "the verbose boot's kernel messages: {err}");
    assert!(err.contains("hint: the kernel started init and then nothing came"), "{err}");
}

/// `--machine pc` boots the PVH vmlinux that microvm boots by default.
#[test]
fn any_vmlinux_boots_on_either_machine() {
    let Some((payload, _)) = setup() else { return };
    let vmlinux = tiny_y().with_file_name("vmlinux");
    let v = vmlinux.to_str().unwrap();
    for machine in ["pc", "microvm"] {
        let out = kernel_test(
            &payload,
            &["run", "--kernel", v, "--machine", machine, "--", "xtprobe", "check", "comment"],
        );
        assert_eq!(out.status.code(), Some(0), "{machine}: {}{}", text(&out.stdout), text(&out.stderr));
    }
    let out =
        kernel_test(&payload, &["run", "--kernel", v, "--machine", "virt", "--show-command", "--", "true"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("not a machine for x86_64"), "{}", text(&out.stderr));
}
