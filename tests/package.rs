//! The Debian package, the man pages and the completions `just deb` builds,
//! against their real consumers: dpkg installs and removes the package in a
//! throwaway root, lintian reports no error, `man -l` renders every page,
//! bash completion offers the commands.
//!
//! The artefacts come from `just deb` (as `just test` runs it first):
//! `XTPROBE_DEB`, `XTPROBE_MAN` and `XTPROBE_COMPLETIONS` name them. Without
//! them these tests are skipped, unless `XTPROBE_REQUIRE_LIVE` is set.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::*;

fn artefact(var: &str) -> Option<PathBuf> {
    match std::env::var_os(var) {
        Some(p) => Some(PathBuf::from(p)),
        None => {
            assert!(
                std::env::var_os("XTPROBE_REQUIRE_LIVE").is_none(),
                "{var} is not set: run the tests through `just test` (it builds the package first)"
            );
            eprintln!("skipped: {var} is not set (build with `just deb`)");
            None
        }
    }
}

#[test]
fn the_package_installs_and_removes_cleanly_in_a_throwaway_root() {
    let Some(deb) = artefact("XTPROBE_DEB") else { return };
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    for d in ["var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers"] {
        std::fs::create_dir_all(r.join(d)).unwrap();
    }
    for f in ["var/lib/dpkg/status", "var/lib/dpkg/available"] {
        std::fs::write(r.join(f), "").unwrap();
    }
    // The maintainer scripts run against the root (DPKG_ROOT), as they
    // would in a chroot: deb-systemd-helper makes and removes the links.
    let dpkg = |args: &[&str]| {
        let out = run(Command::new("dpkg")
            .arg(format!("--root={}", r.display()))
            .arg("--log=/dev/null")
            .arg("--force-script-chrootless")
            .args(args));
        let (stdout, stderr) = text(&out);
        assert_eq!(code(&out), 0, "dpkg {args:?}:\n{stdout}\n{stderr}");
    };
    dpkg(&["-i", deb.to_str().unwrap()]);
    for f in [
        "usr/bin/xtprobe",
        "usr/share/man/man1/xtprobe.1.gz",
        "usr/share/man/man1/xtprobe-check.1.gz",
        "usr/share/bash-completion/completions/xtprobe",
        "usr/share/zsh/vendor-completions/_xtprobe",
        "usr/share/fish/vendor_completions.d/xtprobe.fish",
        "lib/systemd/system/xtprobe-ensure.service",
        "lib/systemd/system/xtprobe-metrics.timer",
        "usr/lib/dracut/modules.d/90xtprobe/module-setup.sh",
        "usr/share/initramfs-tools/hooks/xtprobe",
        "usr/share/initramfs-tools/scripts/init-bottom/xtprobe",
        "usr/share/xtprobe/npd/xtprobe-monitor.json",
        "usr/share/xtprobe/npd/node-problem-detector-daemonset.yaml",
        "usr/share/xtprobe/schema/check.schema.json",
        "usr/share/doc/xtprobe/copyright",
        "usr/share/doc/xtprobe/README.md.gz",
        "usr/share/doc/xtprobe/boot.md.gz",
        "usr/share/doc/xtprobe/ARCHITECTURE.md.gz",
        "etc/default/xtprobe",
    ] {
        assert!(r.join(f).is_file(), "{f} is not installed");
    }
    // Enabled on install: the unit's link, made by deb-systemd-helper.
    let link = r.join("etc/systemd/system/multi-user.target.wants/xtprobe-ensure.service");
    assert_eq!(std::fs::read_link(&link).unwrap(), Path::new("/lib/systemd/system/xtprobe-ensure.service"));
    assert!(!r.join("etc/systemd/system/timers.target.wants/xtprobe-metrics.timer").exists());
    // A list --persist wrote, as on a host that used it.
    std::fs::create_dir_all(r.join("etc/modules-load.d")).unwrap();
    std::fs::write(r.join("etc/modules-load.d/xtprobe.conf"), "xt_comment\n").unwrap();
    let out = run(&mut Command::new(r.join("usr/bin/xtprobe")));
    let out2 = run(Command::new(r.join("usr/bin/xtprobe")).arg("--version"));
    assert_eq!(code(&out2), 0);
    assert!(text(&out2).0.starts_with("xtprobe "), "{:?}", text(&out2));
    assert_eq!(code(&out), 2, "no command is a usage error");
    // Removal masks the units (their links do not dangle unmasked), purge
    // leaves nothing: no file, no link.
    dpkg(&["--remove", "xtprobe"]);
    assert_eq!(
        std::fs::read_link(r.join("etc/systemd/system/xtprobe-ensure.service")).unwrap(),
        Path::new("/dev/null"),
        "masked on removal"
    );
    assert!(r.join("etc/default/xtprobe").is_file(), "a conffile stays until purge");
    dpkg(&["--purge", "xtprobe"]);
    let left: Vec<PathBuf> = walk(r)
        .into_iter()
        .filter(|p| !p.starts_with(r.join("var/lib/dpkg")))
        .filter(|p| !std::fs::symlink_metadata(p).unwrap().is_dir())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn lintian_reports_no_error() {
    let Some(deb) = artefact("XTPROBE_DEB") else { return };
    let out = run(Command::new("lintian").args(["--tag-display-limit", "0"]).arg(&deb));
    let (stdout, stderr) = text(&out);
    let errors: Vec<&str> = stdout.lines().filter(|l| l.starts_with("E:")).collect();
    assert!(errors.is_empty(), "lintian errors:\n{}\n{stderr}", errors.join("\n"));
}

#[test]
fn man_renders_every_page_with_examples_and_exit_status() {
    let Some(dir) = artefact("XTPROBE_MAN") else { return };
    let cmd = run(Command::new(env!("CARGO_BIN_EXE_xtprobe")).arg("--help"));
    let commands: Vec<String> = text(&cmd)
        .0
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        // A command's own line; a wrapped description is indented further.
        .filter(|l| !l[2..].starts_with(' '))
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .filter(|c| c != "help")
        .collect();
    assert!(commands.len() >= 7, "{commands:?}");
    for page in std::iter::once("xtprobe".to_string()).chain(commands.iter().map(|c| format!("xtprobe-{c}")))
    {
        let path = dir.join(format!("{page}.1"));
        let out = run(Command::new("man")
            .arg("-l")
            .arg(&path)
            .env("MANWIDTH", "100")
            .env("MAN_KEEP_FORMATTING", ""));
        let (stdout, stderr) = text(&out);
        assert_eq!(code(&out), 0, "{page}: {stderr}");
        assert!(stdout.contains("NAME") && stdout.contains(&page), "{page}:\n{stdout}");
        assert!(stdout.contains("Exit status"), "{page}: no exit status section:\n{stdout}");
        if page != "xtprobe" {
            assert!(stdout.contains("Examples:") || stdout.contains("Example"), "{page}: no examples");
        }
    }
}

#[test]
fn bash_completion_offers_the_commands() {
    let Some(dir) = artefact("XTPROBE_COMPLETIONS") else { return };
    let script = format!(
        "source {}; COMP_WORDS=(xtprobe \"\"); COMP_CWORD=1; COMP_LINE=\"xtprobe \"; COMP_POINT=8; \
         _xtprobe xtprobe \"\" xtprobe; echo \"${{COMPREPLY[@]}}\"; \
         COMP_WORDS=(xtprobe check --b); COMP_CWORD=2; COMP_LINE=\"xtprobe check --b\"; COMP_POINT=17; \
         _xtprobe xtprobe --b check; echo \"${{COMPREPLY[@]}}\"",
        dir.join("xtprobe.bash").display()
    );
    let out = run(Command::new("bash").arg("-c").arg(&script));
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 0, "{stderr}");
    let mut lines = stdout.lines();
    let top: Vec<&str> = lines.next().unwrap_or_default().split_whitespace().collect();
    for c in ["check", "doctor", "ensure", "load", "profiles", "index", "capture"] {
        assert!(top.contains(&c), "{c} not offered: {top:?}");
    }
    let options = lines.next().unwrap_or_default();
    assert!(options.contains("--backend"), "check's options: {options}");
}

/// The package builds to the same bytes twice from the same inputs (a
/// second apart: nothing depends on the clock).
#[test]
fn the_package_builds_to_the_same_bytes_twice() {
    let (Some(payload), Some(man), Some(comp)) =
        (artefact("XTPROBE_PAYLOAD"), artefact("XTPROBE_MAN"), artefact("XTPROBE_COMPLETIONS"))
    else {
        return;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/deb/build.sh");
    let build = |out: &Path| {
        let o = run(Command::new(&script).arg(payload.join("xtprobe")).arg(&man).arg(&comp).arg(out));
        let (stdout, stderr) = text(&o);
        assert_eq!(code(&o), 0, "{stdout}{stderr}");
        std::fs::read(stdout.trim()).unwrap()
    };
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let first = build(a.path());
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let second = build(b.path());
    assert!(first == second, "two builds differ ({} and {} bytes)", first.len(), second.len());
}

/// The arm64 package: lintian-clean, installed into a throwaway root as a
/// foreign architecture, its binary run there under qemu-aarch64, purged
/// leaving nothing.
#[test]
fn the_arm64_package_installs_runs_under_qemu_and_purges() {
    let Some(deb) = artefact("XTPROBE_DEB_ARM64") else { return };
    let out = run(Command::new("lintian").args(["--tag-display-limit", "0"]).arg(&deb));
    let errors: Vec<String> =
        text(&out).0.lines().filter(|l| l.starts_with("E:")).map(String::from).collect();
    assert!(errors.is_empty(), "lintian errors: {errors:?}");
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    for d in ["var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers"] {
        std::fs::create_dir_all(r.join(d)).unwrap();
    }
    for f in ["var/lib/dpkg/status", "var/lib/dpkg/available"] {
        std::fs::write(r.join(f), "").unwrap();
    }
    let dpkg = |args: &[&str]| {
        let out = run(Command::new("dpkg")
            .arg(format!("--root={}", r.display()))
            .arg("--log=/dev/null")
            .arg("--force-script-chrootless")
            .args(args));
        let (stdout, stderr) = text(&out);
        assert_eq!(code(&out), 0, "dpkg {args:?}:\n{stdout}\n{stderr}");
    };
    dpkg(&["--add-architecture", "arm64"]);
    dpkg(&["-i", deb.to_str().unwrap()]);
    let bin = r.join("usr/bin/xtprobe");
    let file = run(Command::new("file").arg("-b").arg(&bin));
    assert!(
        text(&file).0.contains("ARM aarch64") && text(&file).0.contains("static-pie"),
        "{:?}",
        text(&file)
    );
    let out = run(Command::new("qemu-aarch64-static").arg(&bin).arg("--version"));
    assert_eq!(code(&out), 0, "{:?}", text(&out));
    assert!(text(&out).0.starts_with("xtprobe "));
    let out = run(Command::new("qemu-aarch64-static").arg(&bin).args(["profiles", "--json"]));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(doc["profiles"].as_array().unwrap().len() > 5);
    dpkg(&["--purge", "xtprobe"]);
    let left: Vec<PathBuf> = walk(r)
        .into_iter()
        .filter(|p| !p.starts_with(r.join("var/lib/dpkg")))
        .filter(|p| !std::fs::symlink_metadata(p).unwrap().is_dir())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}
