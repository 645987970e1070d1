//! Fleet outputs against their real consumers' contracts: the Node Problem
//! Detector custom plugin (exit status and an 80-character line) and its
//! config in contrib/, and the Prometheus text exposition format, read back
//! with the official Python parser (`prometheus_client`, Debian's
//! python3-prometheus-client).

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use crate::util::*;

fn repo(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Debian's interpreter, which sees python3-prometheus-client (a `python3`
/// earlier on PATH, such as pyenv's, may not).
const PYTHON: &str = "/usr/bin/python3";

/// `CAP_NET_ADMIN` (include/uapi/linux/capability.h).
const CAP_NET_ADMIN: libc::c_ulong = 12;

/// Runs `check --output npd ARGS`: the exit status and the one line.
fn npd(args: &[&str], drop_net_admin: bool) -> (i32, String) {
    let mut cmd = xtprobe();
    if drop_net_admin {
        // SAFETY: prctl is async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_CAPBSET_DROP, CAP_NET_ADMIN, 0, 0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let out = run(cmd.args(["check", "--output", "npd"]).args(args));
    let (stdout, _) = text(&out);
    (code(&out), stdout)
}

#[test]
fn npd_plugin_contract() {
    if !live() {
        return;
    }
    // OK, a problem, unknown — each one line within max_output_length.
    let cases: [(&[&str], bool, i32, &str); 3] = [
        (&["comment"], false, 0, "ok: "),
        (
            &["comment", "nosuchmatch", "target:NOSUCHTARGET"],
            false,
            1,
            "missing: match:nosuchmatch, target:NOSUCHTARGET",
        ),
        (&["comment"], true, 3, "unknown: "),
    ];
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo("contrib/npd/xtprobe-monitor.json")).unwrap())
            .unwrap();
    let max = config["pluginConfig"]["max_output_length"].as_u64().unwrap() as usize;
    for (args, drop, want_code, want_start) in cases {
        let (code, stdout) = npd(args, drop);
        assert_eq!(code, want_code, "{args:?}: {stdout}");
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines.len(), 1, "{stdout:?}");
        assert!(lines[0].chars().count() <= max, "{} characters: {}", lines[0].chars().count(), lines[0]);
        assert!(lines[0].starts_with(want_start), "{}", lines[0]);
    }
    // Many missing names: the line still fits, and says how many more.
    let many: Vec<String> = (0..20).map(|i| format!("nosuch{i:02}")).collect();
    let args: Vec<&str> = many.iter().map(String::as_str).collect();
    let (code, stdout) = npd(&args, false);
    assert_eq!(code, 1);
    let line = stdout.trim_end();
    assert!(line.chars().count() <= max && line.ends_with("more)") || line.contains("(+"), "{line}");
}

#[test]
fn npd_config_follows_the_custom_plugin_schema() {
    let json = std::fs::read_to_string(repo("contrib/npd/xtprobe-monitor.json")).unwrap();
    let c: serde_json::Value = serde_json::from_str(&json).unwrap();
    // The fields node-problem-detector's custom plugin monitor reads
    // (pkg/custompluginmonitor/types/config.go, types.go).
    assert_eq!(c["plugin"], "custom");
    let pc = &c["pluginConfig"];
    for key in ["invoke_interval", "timeout"] {
        let v = pc[key].as_str().unwrap_or_else(|| panic!("pluginConfig.{key}"));
        assert!(v.ends_with('s') && v[..v.len() - 1].parse::<u32>().is_ok(), "{key} = {v}");
    }
    assert_eq!(pc["max_output_length"], 80);
    assert!(pc["concurrency"].as_u64().is_some());
    assert!(c["source"].as_str().is_some_and(|s| !s.is_empty()));
    let conditions = c["conditions"].as_array().unwrap();
    let condition = conditions[0]["type"].as_str().unwrap();
    assert_eq!(condition, "NetfilterExtensionsMissing");
    for key in ["reason", "message"] {
        assert!(conditions[0][key].as_str().is_some_and(|s| !s.is_empty()), "conditions[0].{key}");
    }
    let rule = &c["rules"].as_array().unwrap()[0];
    assert_eq!(rule["type"], "permanent");
    assert_eq!(rule["condition"], condition);
    assert!(rule["reason"].as_str().is_some());
    assert_eq!(rule["path"], "/usr/bin/xtprobe", "where the Debian package installs it");
    // The rule's arguments parse and run as NPD would run them.
    let args: Vec<&str> = rule["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    assert_eq!(&args[..3], ["check", "--output", "npd"]);
    if live() {
        let out = run(xtprobe().args(&args));
        assert!(matches!(code(&out), 0 | 1), "{:?}", text(&out));
    }
}

/// Parses exposition text with prometheus_client; returns (name, labels, value) per sample.
fn parse_prometheus(exposition: &str) -> Vec<(String, serde_json::Value, f64)> {
    let script = "import json, sys\n\
        from prometheus_client.parser import text_string_to_metric_families\n\
        out = []\n\
        for fam in text_string_to_metric_families(sys.stdin.read()):\n\
        \x20   assert fam.type == 'gauge', fam\n\
        \x20   assert fam.documentation, fam\n\
        \x20   for s in fam.samples:\n\
        \x20       out.append([s.name, s.labels, s.value])\n\
        print(json.dumps(out))\n";
    let mut child = Command::new(PYTHON)
        .arg("-c")
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(exposition.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 0, "prometheus_client refused the text:\n{stderr}\n{exposition}");
    let v: Vec<(String, serde_json::Value, f64)> = serde_json::from_str(&stdout).unwrap();
    v
}

fn prometheus_client_present() -> bool {
    let ok = run(Command::new(PYTHON).args(["-c", "import prometheus_client"])).status.success();
    if !ok {
        assert!(std::env::var_os("XTPROBE_REQUIRE_LIVE").is_none(), "python3-prometheus-client is missing");
        eprintln!("skipped: no prometheus_client");
    }
    ok
}

#[test]
fn prometheus_output_reads_back_with_the_official_parser() {
    if !live() || !prometheus_client_present() {
        return;
    }
    // A profile whose name needs every escape the format has.
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("odd.toml");
    std::fs::write(
        &profile,
        "name = \"a \\\"quoted\\\" \\\\ back\\nslash\"\nrequired = [\"comment\", \"nosuchmatch\"]\n",
    )
    .unwrap();
    let out = run(xtprobe().args(["check", "--output", "prometheus", "--profile"]).arg(&profile));
    let (stdout, _) = text(&out);
    assert_eq!(code(&out), 1, "{stdout}");
    let samples = parse_prometheus(&stdout);
    let want_profile = "a \"quoted\" \\ back\nslash";
    let supported: Vec<&(String, serde_json::Value, f64)> =
        samples.iter().filter(|s| s.0 == "xtprobe_extension_supported").collect();
    assert_eq!(supported.len(), 2, "{samples:?}");
    for s in &supported {
        assert_eq!(s.1["profile"], want_profile, "label round trip");
        let expect = if s.1["name"] == "comment" { 1.0 } else { 0.0 };
        assert_eq!(s.2, expect, "{s:?}");
    }
    let one = |name: &str| samples.iter().find(|s| s.0 == name).unwrap_or_else(|| panic!("{name}")).2;
    assert_eq!(one("xtprobe_probe_up"), 1.0);
    assert_eq!(one("xtprobe_required_missing"), 1.0);
    assert!(one("xtprobe_check_duration_seconds") > 0.0);
    assert!(one("xtprobe_last_run_timestamp_seconds") > 1.7e9);
    assert!(samples.iter().any(|s| s.0 == "xtprobe_extension_best_revision" && s.1["name"] == "comment"));
}

#[test]
fn textfile_is_written_whole_for_node_exporter() {
    if !live() || !prometheus_client_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("xtprobe.prom");
    std::fs::write(&file, "stale\n").unwrap();
    let out = run(xtprobe().args(["check", "--quiet", "comment", "--textfile"]).arg(&file));
    assert_eq!(code(&out), 0, "{:?}", text(&out));
    assert!(text(&out).0.is_empty(), "--quiet prints nothing");
    let written = std::fs::read_to_string(&file).unwrap();
    assert!(!parse_prometheus(&written).is_empty());
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&file).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o644);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name() != "xtprobe.prom")
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    // node_exporter reads only *.prom: anything else is a usage error.
    let out = run(xtprobe().args(["check", "comment", "--textfile"]).arg(dir.path().join("xtprobe.txt")));
    assert_eq!(code(&out), 2);
    assert!(text(&out).1.contains("only files ending in .prom"));
}

#[test]
fn metrics_timer_and_service_verify() {
    if !live() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for f in ["xtprobe-metrics.service", "xtprobe-metrics.timer"] {
        let text = std::fs::read_to_string(repo(&format!("contrib/systemd/{f}"))).unwrap();
        std::fs::write(dir.path().join(f), text.replace("/usr/bin/xtprobe", env!("CARGO_BIN_EXE_xtprobe")))
            .unwrap();
    }
    let out =
        run(Command::new("systemd-analyze").arg("verify").arg(dir.path().join("xtprobe-metrics.timer")));
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 0, "{stdout}{stderr}");
    assert!(stderr.trim().is_empty(), "systemd-analyze complains: {stderr}");
}
