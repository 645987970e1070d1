//! The built-in profiles judged by the real clients: each profile's
//! iptables rules are restored with iptables-nft-restore and
//! iptables-legacy-restore in a fresh network namespace, and `xtprobe
//! check --profile NAME --backend B` must say "supported" exactly when the
//! client loads them (the sets `-m set` names are created first).

use std::collections::BTreeSet;
use std::process::Command;

use crate::util::*;

/// The ipsets a rules text names, each with a type of the dimension its
/// flags ask for (`src` → hash:ip, `src,dst` → hash:ip,port, …).
fn sets_of(text: &str) -> BTreeSet<(String, &'static str)> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        for i in 0..w.len() {
            if w[i] == "--match-set" && i + 2 < w.len() {
                let ty = match w[i + 2].split(',').count() {
                    1 => "hash:ip",
                    2 => "hash:ip,port",
                    _ => "hash:ip,port,ip",
                };
                out.insert((w[i + 1].to_string(), ty));
            }
        }
    }
    out
}

fn builtin_names() -> Vec<String> {
    let out = run(Command::new(bin()).args(["profiles", "--json"]));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    doc["profiles"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap().to_string()).collect()
}

#[test]
fn builtin_rules_load_exactly_where_xtprobe_says_so() {
    if !live() {
        return;
    }
    let mut judged = 0;
    for name in builtin_names() {
        for (backend, restore) in [("nft", "iptables-nft-restore"), ("legacy", "iptables-legacy-restore")] {
            let out = run(Command::new(bin()).args(["profiles", "--json", "--backend", backend, &name]));
            let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let Some(rules) = doc["profiles"][0]["rules"].as_array().filter(|r| !r.is_empty()) else {
                continue;
            };
            let dir = tempfile::tempdir().unwrap();
            let mut script = String::from("set -u\n");
            let mut all = String::new();
            for (i, r) in rules.iter().enumerate() {
                let text = r["text"].as_str().unwrap();
                all.push_str(text);
                std::fs::write(dir.path().join(format!("{i}.rules")), text).unwrap();
            }
            for (set, ty) in sets_of(&all) {
                script.push_str(&format!("ipset create {set} {ty} >/dev/null 2>&1\n"));
            }
            // Each file, required or optional: what the client loads, and
            // what xtprobe says of the same file read for the same client.
            for i in 0..rules.len() {
                script.push_str(&format!(
                    "{restore} --noflush $D/{i}.rules > $D/{i}.out 2>&1; echo $? > $D/{i}.code\n\
                     \"$X\" check --rules $D/{i}.rules --backend {backend} > $D/{i}.check 2>&1; echo $? > $D/{i}.said\n"
                ));
            }
            script.push_str(&format!(
                "\"$X\" check --profile {name} --backend {backend} --json > $D/check.json\n"
            ));
            let out = run(in_fresh_netns(
                Command::new("sh").arg("-c").arg(&script).env("D", dir.path()).env("X", bin()),
            ));
            assert!(out.status.success(), "{name}: the script failed: {out:?}");
            let read = |f: &str| std::fs::read_to_string(dir.path().join(f)).unwrap();
            for (i, r) in rules.iter().enumerate() {
                let loaded = read(&format!("{i}.code")).trim() == "0";
                let said = read(&format!("{i}.said")).trim() == "0";
                assert_eq!(
                    said,
                    loaded,
                    "{name} ({backend}, rules {i}, optional {}): {restore}: {}\nxtprobe: {}",
                    r["optional"],
                    read(&format!("{i}.out")),
                    read(&format!("{i}.check"))
                );
            }
            // The profile as a whole: supported exactly when its required rules load.
            let check: serde_json::Value = serde_json::from_str(&read("check.json")).unwrap();
            let required_loaded = rules
                .iter()
                .enumerate()
                .filter(|(_, r)| !r["optional"].as_bool().unwrap())
                .all(|(i, _)| read(&format!("{i}.code")).trim() == "0");
            let said = check["summary"]["missing"].as_u64().unwrap() == 0
                && check["summary"]["errors"].as_u64().unwrap() == 0;
            assert_eq!(said, required_loaded, "{name} ({backend}): {check:#}");
            judged += 1;
        }
    }
    assert!(judged >= 20, "only {judged} profile × backend pairs had rules");
}
