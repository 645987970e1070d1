//! The integration files in contrib/, tested as far as this machine allows:
//! the systemd unit passes `systemd-analyze verify` and its command works;
//! every xtprobe command line in the Kubernetes manifests parses and runs;
//! the initramfs-tools hook installs the binary; the dracut module installs
//! its hook, and the hook runs ensure. The initramfs-tools init-bottom
//! script runs for real, loading modules, in the QEMU matrix.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::*;

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_xtprobe")
}

#[test]
fn systemd_unit_verifies_and_its_command_works() {
    if !live() {
        return;
    }
    let unit = std::fs::read_to_string(repo("contrib/systemd/xtprobe-ensure.service")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("xtprobe-ensure.service");
    std::fs::write(&local, unit.replace("/usr/bin/xtprobe", bin())).unwrap();
    let out = run(Command::new("systemd-analyze").arg("verify").arg(&local));
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 0, "{stdout}{stderr}");
    assert!(stderr.trim().is_empty(), "systemd-analyze complains: {stderr}");

    // ExecStart, with the default of Environment=XTPROBE_PROFILE.
    let exec = unit.lines().find_map(|l| l.strip_prefix("ExecStart=")).unwrap();
    let profile = unit.lines().find_map(|l| l.strip_prefix("Environment=XTPROBE_PROFILE=")).unwrap();
    let argv: Vec<String> =
        exec.replace("${XTPROBE_PROFILE}", profile).split_whitespace().skip(1).map(String::from).collect();
    let out = run(xtprobe().args(&argv));
    assert_eq!(code(&out), 0, "{argv:?}: {:?}", text(&out));
}

#[test]
fn kubernetes_manifests_use_valid_command_lines() {
    if !live() {
        return;
    }
    // PyYAML turns the manifests into JSON.
    let out = run(Command::new("/usr/bin/python3")
        .args([
            "-c",
            "import sys, json, yaml; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))",
        ])
        .arg(repo("contrib/kubernetes/xtprobe-daemonset.yaml")));
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 0, "{stderr} (apt-get install python3-yaml)");
    let docs: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let mut seen = 0;
    for doc in docs.as_array().unwrap() {
        let spec = if doc["kind"] == "DaemonSet" { &doc["spec"]["template"]["spec"] } else { &doc["spec"] };
        for list in ["initContainers", "containers"] {
            for c in spec[list].as_array().into_iter().flatten() {
                if !c["image"].as_str().unwrap().contains("xtprobe") {
                    continue;
                }
                let args: Vec<String> =
                    c["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_string()).collect();
                let out = run(xtprobe().args(&args));
                assert_eq!(code(&out), 0, "{args:?}: {:?}", text(&out));
                seen += 1;
            }
        }
    }
    assert_eq!(seen, 2, "one ensure initContainer, one preflight check");
}

#[test]
fn initramfs_tools_hook_copies_the_binary_when_configured() {
    if !live() {
        return;
    }
    let dest = tempfile::tempdir().unwrap();
    let off = tempfile::tempdir().unwrap();
    let conf = tempfile::tempdir().unwrap();
    std::fs::write(conf.path().join("on"), "XTPROBE_INITRAMFS=yes\nXTPROBE_PROFILE=k3s\n").unwrap();
    std::fs::write(conf.path().join("off"), "XTPROBE_INITRAMFS=no\n").unwrap();
    // A private mount namespace with a stand-in for initramfs-tools'
    // hook-functions: copy_exec copies into $DESTDIR, as the real one does
    // for a static binary.
    let script = r#"
        set -e
        mount -t tmpfs none /usr/share
        mkdir -p /usr/share/initramfs-tools
        printf '%s\n' 'copy_exec() { mkdir -p "$DESTDIR$(dirname "$2")"; cp "$1" "$DESTDIR$2"; }' \
            > /usr/share/initramfs-tools/hook-functions
        XTPROBE_DEFAULT="$CONF/on" sh "$HOOK"
        XTPROBE_DEFAULT="$CONF/on" XTPROBE=/nonexistent sh "$HOOK" 2>"$DESTDIR/warning"
        XTPROBE_DEFAULT="$CONF/off" DESTDIR="$OFF" sh "$HOOK"
        sh "$HOOK" prereqs
    "#;
    let out = run(Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", script])
        .env("HOOK", repo("contrib/initramfs-tools/hooks/xtprobe"))
        .env("DESTDIR", dest.path())
        .env("OFF", off.path())
        .env("CONF", conf.path())
        .env("XTPROBE", bin()));
    assert_eq!(code(&out), 0, "{:?}", text(&out));
    let copied = dest.path().join("bin/xtprobe");
    assert_eq!(std::fs::read(&copied).unwrap(), std::fs::read(bin()).unwrap());
    assert_eq!(
        std::fs::read_to_string(dest.path().join("etc/default/xtprobe")).unwrap(),
        "XTPROBE_PROFILE=k3s\n"
    );
    let warning = std::fs::read_to_string(dest.path().join("warning")).unwrap();
    assert!(warning.contains("not added"), "{warning}");
    assert_eq!(std::fs::read_dir(off.path()).unwrap().count(), 0, "XTPROBE_INITRAMFS=no adds nothing");
}

/// The init-bottom script, as the initramfs runs it after the root is
/// mounted: a profile that cannot be met logs each missing requirement
/// with its cause and the command for after boot; a mistyped profile is
/// named as one; xtprobe=off, 0 and no skip it; it never fails the boot.
#[test]
fn initramfs_tools_script_logs_what_is_missing_and_why() {
    if !live() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("etc/xtprobe")).unwrap();
    std::fs::write(root.join("etc/xtprobe/node.toml"), "required = [\"comment\", \"xtprobe_nosuch\"]\n")
        .unwrap();
    let cmdline = dir.path().join("cmdline");
    let path = format!("{}:{}", Path::new(bin()).parent().unwrap().display(), std::env::var("PATH").unwrap());
    let script = repo("contrib/initramfs-tools/scripts/init-bottom/xtprobe");
    let boot = |line: &str| {
        std::fs::write(&cmdline, line).unwrap();
        // /proc/cmdline is the host's: the script reads it through cat, so
        // a cat that prints the test's command line stands in.
        let fake = dir.path().join("bin");
        std::fs::create_dir_all(&fake).unwrap();
        std::fs::write(fake.join("cat"), format!("#!/bin/sh\nexec /bin/cat {}\n", cmdline.display()))
            .unwrap();
        std::fs::set_permissions(fake.join("cat"), std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let mut cmd = Command::new("sh");
        in_fresh_netns(&mut cmd);
        let out =
            run(cmd.arg(&script).env("rootmnt", &root).env("PATH", format!("{}:{path}", fake.display())));
        let (stdout, stderr) = text(&out);
        assert_eq!(code(&out), 0, "never fails the boot: {stdout}{stderr}");
        stdout
    };
    let log = boot("ro quiet xtprobe.profile=/etc/xtprobe/node.toml");
    assert!(log.contains("xtprobe: profile /etc/xtprobe/node.toml: not everything is available"), "{log}");
    assert!(log.contains("xtprobe:   match:xtprobe_nosuch (ipv4"), "{log}");
    assert!(log.contains("xtprobe: after boot: xtprobe doctor --profile /etc/xtprobe/node.toml"), "{log}");
    assert!(!log.contains("match:comment ("), "only what is missing: {log}");
    let log = boot("xtprobe.profile=kusca");
    assert!(log.contains("profile kusca cannot be used: ") && log.contains("no profile `kusca`"), "{log}");
    for off in ["xtprobe=off", "xtprobe=0", "xtprobe=no"] {
        assert_eq!(boot(&format!("ro {off} xtprobe.profile=kusca")), "", "{off}");
    }
}

#[test]
fn dracut_module_installs_its_hook_and_the_hook_runs_ensure() {
    if !live() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("calls");
    // module-setup.sh with dracut's functions stubbed to record calls.
    let setup = format!(
        r#"
        require_binaries() {{ command -v "$1" >/dev/null; }}
        inst_binary() {{ echo "inst_binary $*" >> "{log}"; }}
        inst_hook() {{ echo "inst_hook $*" >> "{log}"; }}
        moddir="{moddir}"
        . "$moddir/module-setup.sh"
        check; echo "check=$?" >> "{log}"
        install
        "#,
        log = log.display(),
        moddir = repo("contrib/dracut/90xtprobe").display()
    );
    let path = format!("{}:{}", Path::new(bin()).parent().unwrap().display(), std::env::var("PATH").unwrap());
    let out = run(Command::new("bash").args(["-c", &setup]).env("PATH", &path));
    assert_eq!(code(&out), 0, "{:?}", text(&out));
    let calls = std::fs::read_to_string(&log).unwrap();
    assert!(calls.contains("check=255"), "only when asked for: {calls}");
    assert!(calls.contains(&format!("inst_binary {} /usr/bin/xtprobe", bin())), "{calls}");
    assert!(calls.contains("inst_hook pre-pivot 90") && calls.contains("xtprobe-ensure.sh"), "{calls}");

    // The hook, with dracut-lib's getarg/getargbool/warn stubbed: it runs
    // ensure against $NEWROOT's module tree; a miss becomes a warning.
    for (profile, warned) in [("kuscia", false), ("PROFILE_FILE", true)] {
        let custom = dir.path().join("custom.toml");
        std::fs::write(&custom, "required = [\"xtprobe_nosuch\"]\n").unwrap();
        let profile =
            if profile == "PROFILE_FILE" { custom.display().to_string() } else { profile.to_string() };
        let hook = format!(
            r#"
            getarg() {{ [ "$1" = "xtprobe.profile=" ] && echo "{profile}"; }}
            getargbool() {{ return 0; }}
            warn() {{ echo "WARN $*"; }}
            info() {{ echo "INFO $*"; }}
            NEWROOT=/
            . "{hook}"
            "#,
            hook = repo("contrib/dracut/90xtprobe/xtprobe-ensure.sh").display()
        );
        let mut cmd = Command::new("sh");
        in_fresh_netns(&mut cmd);
        let out = run(cmd.args(["-c", &hook]).env("PATH", &path));
        let (stdout, stderr) = text(&out);
        assert_eq!(code(&out), 0, "the hook never stops the boot: {stdout}{stderr}");
        assert_eq!(stdout.contains("WARN xtprobe"), warned, "{profile}: {stdout}{stderr}");
    }
}

/// The NPD DaemonSet cannot take NPD down: its plugin path is where the
/// image built by contrib/npd/Containerfile puts xtprobe, the monitor
/// config it mounts is the one the package ships (same JSON), that config
/// is the one NPD is told to load, the pod grants what a check needs, and
/// the plugin's command line runs.
#[test]
fn the_npd_daemonset_provides_the_plugin_it_names() {
    if !live() {
        return;
    }
    let out = run(Command::new("/usr/bin/python3")
        .args([
            "-c",
            "import sys, json, yaml; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))",
        ])
        .arg(repo("contrib/npd/node-problem-detector-daemonset.yaml")));
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 0, "{stderr} (apt-get install python3-yaml)");
    let docs: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let find = |kind: &str| docs.as_array().unwrap().iter().find(|d| d["kind"] == kind).cloned().unwrap();
    let cm = find("ConfigMap");
    let ds = find("DaemonSet");
    let monitor: serde_json::Value =
        serde_json::from_str(cm["data"]["xtprobe-monitor.json"].as_str().unwrap()).unwrap();
    let shipped: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo("contrib/npd/xtprobe-monitor.json")).unwrap())
            .unwrap();
    assert_eq!(monitor, shipped, "the ConfigMap's monitor is contrib/npd/xtprobe-monitor.json");
    let pod = &ds["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    let command: Vec<&str> = c["command"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    assert!(command.contains(&"--config.custom-plugin-monitor=/config/xtprobe-monitor.json"), "{command:?}");
    let mount = c["volumeMounts"].as_array().unwrap().iter().find(|m| m["name"] == "config").unwrap();
    assert_eq!(mount["mountPath"], "/config");
    assert_eq!(pod["volumes"][0]["configMap"]["name"], cm["metadata"]["name"]);
    let caps = c["securityContext"]["capabilities"]["add"].to_string();
    assert!(caps.contains("NET_ADMIN"), "{caps}");
    // The plugin path is what the Containerfile copies the binary to.
    let rule = &monitor["rules"][0];
    let path = rule["path"].as_str().unwrap();
    let containerfile = std::fs::read_to_string(repo("contrib/npd/Containerfile")).unwrap();
    assert!(containerfile.lines().any(|l| l == format!("COPY xtprobe {path}")), "{containerfile}");
    let from = containerfile.lines().find_map(|l| l.strip_prefix("FROM ")).unwrap();
    let tag = from.rsplit(':').next().unwrap();
    assert!(c["image"].as_str().unwrap().ends_with(&format!("node-problem-detector-xtprobe:{tag}")));
    let args: Vec<String> =
        rule["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().into()).collect();
    let out = run(xtprobe().args(&args));
    assert!(matches!(code(&out), 0 | 1), "{args:?}: {:?}", text(&out));
    assert!(
        text(&out).0.trim_end().len()
            <= monitor["pluginConfig"]["max_output_length"].as_u64().unwrap() as usize
    );
}
