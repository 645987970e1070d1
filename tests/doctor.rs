//! `xtprobe doctor`, `ensure` and `profiles` on this machine: a 6.18 kernel
//! with everything built in and no module support. (The QEMU matrix covers
//! kernels that can load modules.)

use std::process::Command;

use crate::fixture::{Module, Tree};
use crate::util::*;

#[test]
fn doctor_says_supported_and_explains_what_cannot_be_loaded_here() {
    if !live() {
        return;
    }
    let (code, doc) = json(&["doctor", "comment", "xtprobe_nosuch"]);
    assert_eq!(code, 1, "{doc:#}");
    let ext = doc["extensions"].as_array().unwrap();
    assert_eq!(ext[0]["verdict"], "supported");
    assert_eq!(ext[0]["registered"], serde_json::json!(["ipv4", "ipv6"]));
    let nosuch = &ext[1];
    assert_eq!(nosuch["verdict"], "no-module-support", "{nosuch:#}");
    let causes = nosuch["causes"].to_string();
    assert!(causes.contains("CONFIG_MODULES is not set"), "{causes}");
    assert!(nosuch["remedy"].as_str().unwrap().contains("loading is impossible on this kernel"));
    assert_eq!(doc["host"]["modules_supported"], false);
    for p in doc["prerequisites"].as_array().unwrap() {
        assert_eq!(p["available"], true, "{p:#}");
    }
    // The config this kernel exposes is found and read.
    assert_eq!(doc["kernel_config"], "/proc/config.gz");

    let out = run(xtprobe().args(["doctor", "xtprobe_nosuch"]));
    let (stdout, _) = text(&out);
    assert!(stdout.contains("remedy:") && stdout.contains("no module support"), "{stdout}");
}

#[test]
fn doctor_reads_the_kernel_config_it_is_given() {
    if !live() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config");
    std::fs::write(&cfg, "CONFIG_NETFILTER=y\n# CONFIG_NETFILTER_XT_MATCH_U32 is not set\n").unwrap();
    let (_, doc) = json(&["doctor", "--kernel-config", cfg.to_str().unwrap(), "u32", "xtprobe_nosuch"]);
    assert_eq!(doc["kernel_config"], cfg.to_str().unwrap());
    // u32 is built in here: the kernel's answer wins over the (fictional) config.
    assert_eq!(doc["extensions"][0]["verdict"], "supported");
    // For what is missing, the given file is the config consulted.
    let causes = doc["extensions"][1]["causes"].to_string();
    assert!(causes.contains(&format!("kernel config ({})", cfg.display())), "{causes}");
    // A config that cannot be read is a usage error.
    let out = run(xtprobe().args(["doctor", "--kernel-config", "/nonexistent/config", "comment"]));
    assert_eq!(code(&out), 2);
    assert!(text(&out).1.contains("/nonexistent/config"));
}

#[test]
fn ensure_has_nothing_to_do_when_everything_is_there() {
    if !live() {
        return;
    }
    let out = run(xtprobe().args(["ensure"]));
    let (stdout, _) = text(&out);
    assert_eq!(code(&out), 0, "{stdout}");
    assert!(stdout.contains("profile kuscia") && stdout.contains("nothing to do"), "{stdout}");
    let (code, doc) = json(&["ensure", "--profile", "cni-bridge"]);
    assert_eq!(code, 0);
    assert_eq!(doc["loads"], serde_json::json!([]));
    assert_eq!(doc["after"], serde_json::Value::Null);
    assert_eq!(doc["before"]["profile"], "cni-bridge");
}

#[test]
fn ensure_plans_from_a_module_tree_and_fails_honestly_on_this_kernel() {
    if !live() {
        return;
    }
    let mut t = Tree::new();
    t.add(Module::new("x_tables_fake"));
    t.add(Module::new("xt_xtprobe_fake").depends(&["x_tables_fake"]).aliases(&["ipt_xtprobe_fake"]));
    let dir = t.dir.to_str().unwrap().to_string();
    // Dry run: the plan is found through the alias the kernel would request.
    let (code, doc) =
        json(&["ensure", "--dry-run", "--modules-dir", &dir, "--family", "ipv4", "xtprobe_fake"]);
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(doc["loads"][0]["queries"], serde_json::json!(["ipt_xtprobe_fake"]));
    assert_eq!(doc["loads"][0]["loaded"], serde_json::json!(["x_tables_fake", "xt_xtprobe_fake"]));
    // For real: this kernel cannot load modules, and says so.
    let (code, doc) = json(&["ensure", "--modules-dir", &dir, "--family", "ipv4", "xtprobe_fake"]);
    assert_eq!(code, 3, "{doc:#}");
    assert!(doc["loads"][0]["error"].as_str().unwrap().contains("no loadable-module support"), "{doc:#}");
    assert_eq!(doc["after"]["results"][0]["supported"], false);
}

#[test]
fn profiles_list_show_and_custom_files() {
    let out = run(Command::new(env!("CARGO_BIN_EXE_xtprobe")).arg("profiles"));
    let (stdout, _) = text(&out);
    assert_eq!(code(&out), 0);
    for name in [
        "kuscia *",
        "kube-proxy",
        "kubelet",
        "flannel",
        "calico",
        "cni-bridge",
        "cni-portmap",
        "cni-firewall",
        "docker",
        "k3s",
    ] {
        assert!(stdout.contains(name), "{name}: {stdout}");
    }
    let out = run(Command::new(env!("CARGO_BIN_EXE_xtprobe")).args(["profiles", "--json", "calico"]));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        doc["profiles"][0]["sources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s.as_str().unwrap().contains("checksystem.go"))
    );
    let out = run(Command::new(env!("CARGO_BIN_EXE_xtprobe")).args(["profiles", "nope"]));
    assert_eq!(code(&out), 2);
    assert!(text(&out).1.contains("built in are kuscia"));
}

#[test]
fn optional_misses_are_reported_but_never_fail() {
    if !live() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("mine.toml");
    std::fs::write(&p, "required = [\"comment\"]\noptional = [\"xtprobe_nosuch\"]\n").unwrap();
    let (code, doc) = json(&["check", "--profile", p.to_str().unwrap()]);
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(doc["profile"], "mine");
    assert_eq!(doc["summary"]["optional_missing"], 1);
    let opt = results(&doc).iter().find(|r| r["name"] == "xtprobe_nosuch").unwrap();
    assert_eq!(opt["optional"], true);
    assert_eq!(opt["supported"], false);
    // Required, the same miss fails.
    std::fs::write(&p, "required = [\"comment\", \"xtprobe_nosuch\"]\n").unwrap();
    let (code, _) = json(&["check", "--profile", p.to_str().unwrap()]);
    assert_eq!(code, 1);
    // EXT and --profile exclude each other.
    let out = run(xtprobe().args(["check", "--profile", "kuscia", "comment"]));
    assert_eq!(crate::util::code(&out), 2);
}

/// The checked-in table of Linux 6.12's netfilter options is what its
/// Kconfig files say: regenerated from Debian's linux-source-6.12.
#[test]
fn kconfig_table_is_generated_from_linux_source() {
    let tarball = std::path::Path::new("/usr/src/linux-source-6.12.tar.xz");
    if !tarball.exists() {
        assert!(std::env::var_os("XTPROBE_REQUIRE_LIVE").is_none(), "linux-source-6.12 is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = run(Command::new("tar")
        .arg("-xJf")
        .arg(tarball)
        .arg("-C")
        .arg(dir.path())
        .args(["--wildcards", "linux-source-6.12/net/*Kconfig"]));
    assert_eq!(code(&out), 0, "{:?}", text(&out));
    let fresh = xtprobe::kconfig::deps::table_from_source(&dir.path().join("linux-source-6.12"));
    let checked_in = include_str!("../src/kconfig/netfilter-6.12.tsv");
    assert_eq!(fresh, checked_in, "regenerate with `cargo run --example kconfig_table -- DIR`");
}

#[test]
fn emit_kconfig_names_the_options_and_their_conditions() {
    if !live() {
        return;
    }
    // A config without xtables: the fragment brings what comment needs.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::write(&config, "CONFIG_MODULES=y\nCONFIG_NET=y\nCONFIG_INET=y\nCONFIG_NETFILTER=y\n# CONFIG_NETFILTER_XTABLES is not set\n").unwrap();
    let out = run(xtprobe()
        .args(["doctor", "--emit-kconfig", "--kernel-config"])
        .arg(&config)
        .arg("nosuchmatch")
        .arg("comment"));
    let (stdout, stderr) = text(&out);
    assert!(matches!(code(&out), 0 | 1), "{stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().filter(|l| l.starts_with("CONFIG_")).collect();
    // comment is supported here, so nothing of it; an unknown match has no option.
    assert!(!lines.iter().any(|l| l.contains("COMMENT")), "{stdout}");
    assert!(stdout.starts_with("# What kernel"), "{stdout}");
    let out = run(xtprobe().args(["doctor", "--emit-kconfig=x"]));
    assert_eq!(code(&out), 2);
}
