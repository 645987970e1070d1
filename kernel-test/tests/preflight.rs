//! `kernel-test preflight` end to end: rulesets written by the real
//! clients on this host (in a fresh network namespace), preflighted on
//! Debian's 6.12 kernel with every netfilter module, then with some
//! removed. Each run boots once; a rule that cannot load is named by its
//! file and line, with the client's message and xtprobe's cause.
//!
//! Needs root, QEMU, the payload (`XTPROBE_PAYLOAD`) and the Debian kernel
//! in the cache (`just kernels`); without them it says so and passes,
//! unless `XTPROBE_REQUIRE_LIVE` is set.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_kernel-test");

fn setup() -> Option<PathBuf> {
    let payload = std::env::var_os("XTPROBE_PAYLOAD").map(PathBuf::from);
    let ok = payload.is_some()
        && Path::new("/usr/bin/qemu-system-x86_64").exists()
        && nix::unistd::Uid::effective().is_root()
        && kernel_test::kernels::read_index().iter().any(|k| k.name() == "debian-6.12");
    if !ok {
        assert!(
            std::env::var_os("XTPROBE_REQUIRE_LIVE").is_none(),
            "preflight tests need root, QEMU, XTPROBE_PAYLOAD and the debian-6.12 kernel (just kernels)"
        );
        eprintln!("skipped: needs root, QEMU, XTPROBE_PAYLOAD and debian-6.12 in the cache");
        return None;
    }
    payload
}

fn preflight(payload: &Path, args: &[&str]) -> (i32, Vec<serde_json::Value>, String) {
    let out: Output = Command::new(BIN)
        .arg("--xtprobe")
        .arg(payload.join("xtprobe"))
        .arg("--guest")
        .arg(payload.join("guest-init"))
        .args(["--images", "../vm-images", "preflight", "--format", "json", "--kernel", "debian-6.12"])
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let docs = stdout.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    (out.status.code().unwrap_or(-1), docs, format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)))
}

/// The (file, line) pairs a run says do not load.
fn failing(doc: &serde_json::Value) -> Vec<(String, u64)> {
    doc["verdict"]["failing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let file = f["file"].as_str().unwrap();
            (Path::new(file).file_name().unwrap().to_string_lossy().into_owned(), f["line"].as_u64().unwrap())
        })
        .collect()
}

/// The line of `file` that contains `needle`.
fn line_of(file: &Path, needle: &str) -> u64 {
    std::fs::read_to_string(file).unwrap().lines().position(|l| l.contains(needle)).unwrap() as u64 + 1
}

#[test]
fn preflight_names_exactly_the_rules_a_kernel_cannot_load() {
    let Some(payload) = setup() else { return };
    let dir = std::env::temp_dir().join(format!("kt-preflight-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.as_path();
    // The rulesets, written by the real clients in a fresh namespace.
    let script = r#"
        set -e
        iptables-nft -A INPUT -p tcp -m comment --comment ssh --dport 22 -j ACCEPT
        iptables-nft -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
        iptables-nft -t nat -A POSTROUTING -s 10.0.0.0/8 -j MASQUERADE
        iptables-nft -A INPUT -m statistic --mode random --probability 0.5 -j ACCEPT
        iptables-nft -A INPUT -m recent --name bad --rcheck --seconds 60 -j DROP
        iptables-nft -A INPUT -p tcp -m multiport --dports 80,443 -j ACCEPT
        iptables-nft-save > "$D/rules.v4"
        iptables-legacy -A INPUT -p tcp -m comment --comment legacy --dport 22 -j ACCEPT
        iptables-legacy -A INPUT -m recent --name x --rcheck -j DROP
        iptables-legacy-save > "$D/legacy.v4"
        nft add table ip t
        nft add chain ip t c '{ type filter hook input priority 0; }'
        nft add rule ip t c meta mark set numgen inc mod 2
        nft add rule ip t c counter accept
        nft list table ip t > "$D/ruleset.nft"
        nft -j list table ip t > "$D/ruleset.json"
        ipset create s1 hash:ip
        ipset add s1 10.0.0.1
        ipset create s2 hash:net
        ipset add s2 10.0.0.0/8
        ipset save > "$D/sets.ipset"
    "#;
    let out = Command::new("unshare").args(["--net", "sh", "-c", script]).env("D", d).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let files: Vec<String> = ["rules.v4", "legacy.v4", "ruleset.nft", "ruleset.json", "sets.ipset"]
        .iter()
        .flat_map(|f| ["--rules".to_string(), d.join(f).display().to_string()])
        .collect();
    let args: Vec<&str> = files.iter().map(String::as_str).collect();

    // Every module there: everything loads, in one boot.
    let (code, docs, all) = preflight(&payload, &args);
    assert_eq!(code, 0, "{all}");
    assert_eq!(docs.len(), 1, "{all}");
    assert_eq!(docs[0]["boots"], 1);
    assert_eq!(docs[0]["status"], "pass", "{all}");

    // Without xt_recent, xt_statistic, nft_numgen and ip_set_hash_net:
    // exactly the rules that use them.
    let mut without = args.clone();
    without.extend(["--without", "xt_recent", "--without", "xt_statistic", "--without", "nft_numgen"]);
    without.extend(["--without", "ip_set_hash_net"]);
    let (code, docs, all) = preflight(&payload, &without);
    assert_eq!(code, 1, "{all}");
    let mut got = failing(&docs[0]);
    got.sort();
    let mut want = vec![
        ("rules.v4".to_string(), line_of(&d.join("rules.v4"), "-m statistic")),
        ("rules.v4".to_string(), line_of(&d.join("rules.v4"), "-m recent")),
        ("legacy.v4".to_string(), line_of(&d.join("legacy.v4"), "-m recent")),
        ("ruleset.nft".to_string(), line_of(&d.join("ruleset.nft"), "numgen")),
        ("ruleset.json".to_string(), 4),
        ("sets.ipset".to_string(), line_of(&d.join("sets.ipset"), "create s2")),
    ];
    want.sort();
    assert_eq!(got, want, "{all}");
    // Each with the client's words and xtprobe's cause.
    for f in docs[0]["verdict"]["failing"].as_array().unwrap() {
        assert!(!f["client"].as_array().unwrap().is_empty(), "{f}");
        let cause = f["cause"].to_string();
        assert!(
            ["match:recent", "match:statistic", "expr:numgen", "ipset:hash:net"]
                .iter()
                .any(|r| cause.contains(r)),
            "{f}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
