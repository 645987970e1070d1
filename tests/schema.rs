//! Every command's `--json` against the JSON Schema shipped for it
//! (`contrib/schema/`), checked by a real validator (check-jsonschema, from
//! `just tools`), over the documents the commands print in their main
//! situations: answers and errors, dry runs and failed loads, timeouts.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::fixture::{Module, Tree};
use crate::util::*;

fn tools() -> Option<PathBuf> {
    match std::env::var_os("XTPROBE_TOOLS") {
        Some(p) => Some(PathBuf::from(p)),
        None => {
            assert!(
                std::env::var_os("XTPROBE_REQUIRE_LIVE").is_none(),
                "XTPROBE_TOOLS is not set (just tools)"
            );
            eprintln!("skipped: set XTPROBE_TOOLS (just tools)");
            None
        }
    }
}

fn schema(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("contrib/schema/{name}.schema.json"))
}

#[test]
fn every_json_document_validates_against_its_shipped_schema() {
    if !live() {
        return;
    }
    let Some(tools) = tools() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut t = Tree::new();
    t.add(Module::new("xt_xtprobe_schema").aliases(&["ipt_xtprobe_schema"]));
    t.write_dep();
    let tree = t.dir.to_str().unwrap().to_string();
    std::fs::write(d.join("rules.txt"), "*filter\n-A INPUT -m comment --comment x -j ACCEPT\nCOMMIT\n")
        .unwrap();
    let rules = d.join("rules.txt").to_str().unwrap().to_string();
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("check", vec!["check", "--json", "comment", "nosuchxtprobe", "expr:ct", "table:nat"]),
        ("check", vec!["check", "--json", "--backend", "both", "comment"]),
        ("check", vec!["check", "--json", "--rules", &rules]),
        ("check", vec!["check", "--json", "--profile", "k3s"]),
        ("doctor", vec!["doctor", "--json", "nosuchxtprobe", "comment", "ipset:hash:ip"]),
        ("doctor", vec!["doctor", "--json", "--modules-dir", &tree, "xtprobe_schema"]),
        ("doctor-kconfig", vec!["doctor", "--json", "--emit-kconfig", "nosuchxtprobe"]),
        ("ensure", vec!["ensure", "--json", "--dry-run", "comment"]),
        ("ensure", vec!["ensure", "--json", "--modules-dir", &tree, "xtprobe_schema"]),
        ("ensure", vec!["ensure", "--json", "--timeout", "0.001", "comment"]),
        ("check", vec!["check", "--json", "--timeout", "0.001", "comment", "expr:ct"]),
        ("load", vec!["load", "--json", "--dry-run", "--modules-dir", &tree, "ipt_xtprobe_schema"]),
        ("load", vec!["load", "--json", "--modules-dir", &tree, "xt_xtprobe_schema"]),
        ("load", vec!["load", "--json", "--modules-dir", &tree, "nosuchxtprobe"]),
        ("index", vec!["index", "--json", "--dry-run", "--modules-dir", &tree]),
        ("capture", vec!["capture", "--json"]),
        ("capture", vec!["capture", "--json", "-o", "/dev/full"]),
        ("profiles", vec!["profiles", "--json"]),
        ("profiles", vec!["profiles", "--json", "calico"]),
    ];
    let mut by_schema: std::collections::BTreeMap<&str, Vec<PathBuf>> = Default::default();
    for (i, (name, args)) in cases.iter().enumerate() {
        let out = run(xtprobe().args(args));
        let f = d.join(format!("{i}-{name}.json"));
        assert!(
            serde_json::from_slice::<serde_json::Value>(&out.stdout).is_ok(),
            "{args:?} printed no JSON: {:?}",
            text(&out)
        );
        std::fs::write(&f, &out.stdout).unwrap();
        by_schema.entry(name).or_default().push(f);
    }
    for (name, files) in by_schema {
        let out = run(Command::new(tools.join("venv/bin/check-jsonschema"))
            .arg("--schemafile")
            .arg(schema(name))
            .args(&files));
        let (stdout, stderr) = text(&out);
        assert_eq!(code(&out), 0, "{name}: {stdout}{stderr}");
    }
}

/// The schemas themselves are valid JSON Schema (2020-12).
#[test]
fn the_schemas_are_valid_json_schema() {
    let Some(tools) = tools() else { return };
    let files: Vec<PathBuf> = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/schema"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(files.len() >= 8, "{files:?}");
    let out =
        run(Command::new(tools.join("venv/bin/check-jsonschema")).arg("--check-metaschema").args(&files));
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 0, "{stdout}{stderr}");
}
