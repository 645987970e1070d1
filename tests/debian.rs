//! The loader's plans on Debian's real module trees (6.1: signed `.ko`;
//! 6.12: `.ko.xz`), checked against kmod's own `modprobe --show-depends` on
//! a depmod'ed copy, and shown to hold on the trees as shipped, which have
//! no modules.dep. `just kernels` (kernel-test) fetches the trees into the
//! cache; this test reads the cache's `kernels.json`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::*;

struct DebianTree {
    name: String,
    release: String,
    shipped: PathBuf,
    depmod: PathBuf,
}

/// The Debian kernels `kernel-test kernels` recorded in its cache index.
fn trees() -> Vec<DebianTree> {
    use kernel_test::kernels::{Kernel, index_path, read_index};
    let trees: Vec<DebianTree> = read_index()
        .into_iter()
        .filter_map(|k| match k {
            Kernel::Debian(d) => Some(DebianTree {
                name: d.name,
                release: d.release,
                shipped: d.modules_shipped,
                depmod: d.modules_depmod,
            }),
            Kernel::Tiny(_) | Kernel::Prebuilt(_) => None,
        })
        .collect();
    if trees.len() < 2 {
        let msg = format!("Debian module trees are not in {} (run `just kernels`)", index_path().display());
        if std::env::var_os("XTPROBE_REQUIRE_LIVE").is_some() {
            panic!("{msg}");
        }
        eprintln!("skipped: {msg}");
    }
    trees
}

/// `modprobe --show-depends`, as module names in kmod's order.
fn kmod_plan(tree: &DebianTree, query: &str) -> Vec<String> {
    // depmod/lib/modules/<release> → depmod
    let base = tree.depmod.parent().unwrap().parent().unwrap().parent().unwrap();
    let out = run(Command::new("modprobe")
        .arg("-d")
        .arg(base)
        .arg("-S")
        .arg(&tree.release)
        .args(["--show-depends", query]));
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 0, "modprobe --show-depends {query}: {stderr}");
    stdout
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            match (w.next(), w.next()) {
                (Some("insmod"), Some(path)) => {
                    let file = Path::new(path).file_name().unwrap().to_str().unwrap();
                    Some(file.split('.').next().unwrap().replace('-', "_"))
                }
                (Some("builtin"), Some(name)) => Some(name.replace('-', "_")),
                _ => None,
            }
        })
        .collect()
}

fn our_plan(dir: &Path, query: &str) -> serde_json::Value {
    let out = run(Command::new(env!("CARGO_BIN_EXE_xtprobe"))
        .args(["load", "--dry-run", "--json", "--modules-dir"])
        .arg(dir)
        .arg(query));
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 0, "{query} in {}: {stdout} {stderr}", dir.display());
    serde_json::from_str(&stdout).unwrap()
}

fn modules(doc: &serde_json::Value) -> Vec<String> {
    doc["plan"].as_array().unwrap().iter().map(|s| s["module"].as_str().unwrap().to_string()).collect()
}

/// Every module comes after everything it needs.
fn assert_ordered(doc: &serde_json::Value) {
    let order = modules(doc);
    for (i, step) in doc["plan"].as_array().unwrap().iter().enumerate() {
        for need in step["needs"].as_array().unwrap() {
            let j =
                order.iter().position(|m| m == need.as_str().unwrap()).expect("needed module is in the plan");
            assert!(j < i, "{} needs {need} but comes first: {order:?}", order[i]);
        }
    }
}

/// The plan as (module, path inside the tree) pairs.
fn relative(doc: &serde_json::Value, dir: &Path) -> Vec<(String, String)> {
    let dir = dir.canonicalize().unwrap();
    doc["plan"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let p = Path::new(s["path"].as_str().unwrap());
            (s["module"].as_str().unwrap().to_string(), p.strip_prefix(&dir).unwrap().display().to_string())
        })
        .collect()
}

#[test]
fn plans_agree_with_modprobe_show_depends_and_hold_without_modules_dep() {
    for tree in trees() {
        assert!(
            !tree.shipped.join("modules.dep").exists(),
            "{}: the shipped tree has no modules.dep",
            tree.name
        );
        for query in ["xt_comment", "ipt_comment", "xt_conntrack", "nft_compat"] {
            let expected = kmod_plan(&tree, query);
            let with = our_plan(&tree.depmod, query);
            assert_ordered(&with);
            let ours: BTreeSet<String> = modules(&with).into_iter().collect();
            let theirs: BTreeSet<String> = expected.iter().cloned().collect();
            assert_eq!(ours, theirs, "{} {query}: ours {:?} vs kmod {expected:?}", tree.name, modules(&with));
            assert_eq!(modules(&with).last().map(String::as_str), expected.last().map(String::as_str));

            let without = our_plan(&tree.shipped, query);
            assert_eq!(
                relative(&without, &tree.shipped),
                relative(&with, &tree.depmod),
                "{} {query}: plan without modules.dep differs",
                tree.name
            );
            assert!(without["plan"].as_array().unwrap().iter().all(|s| s["deps_from"] == "modinfo"));
        }
        let comment = our_plan(&tree.shipped, "xt_comment");
        assert_eq!(modules(&comment), ["x_tables", "xt_comment"], "{}", tree.name);
        let compression = comment["plan"][1]["compression"].as_str().unwrap();
        // Debian's 6.12 packages (amd64 and arm64) ship .ko.xz, 6.1's .ko.
        match tree.release.split('.').take(2).collect::<Vec<_>>()[..] {
            ["6", "12"] => assert_eq!(compression, "xz", "{}", tree.name),
            ["6", "1"] => assert_eq!(compression, "none", "{}", tree.name),
            _ => panic!("unexpected Debian kernel {} ({})", tree.name, tree.release),
        }
    }
}

/// `xtprobe index` on the tree as shipped writes what depmod writes: the
/// same dependency closure for every module, the same alias lines and the
/// same softdep lines; and alias lookups then read the index.
#[test]
fn index_writes_what_depmod_writes() {
    for tree in trees() {
        let copy = tempfile::tempdir().unwrap();
        let dir = copy.path().join(&tree.release);
        // A hard-linked copy: the module files are shared, the new index
        // files are created beside them (renamed into place, never written
        // through a link).
        assert!(Command::new("cp").arg("-al").arg(&tree.shipped).arg(&dir).status().unwrap().success());
        let out = run(Command::new(env!("CARGO_BIN_EXE_xtprobe"))
            .args(["index", "--json", "--modules-dir"])
            .arg(&dir));
        let (stdout, stderr) = text(&out);
        assert_eq!(code(&out), 0, "{stdout} {stderr}");
        let deps = |p: &Path| -> std::collections::BTreeMap<String, BTreeSet<String>> {
            std::fs::read_to_string(p)
                .unwrap()
                .lines()
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(|l| {
                    let (k, v) = l.split_once(':').unwrap();
                    (k.to_string(), v.split_whitespace().map(String::from).collect())
                })
                .collect()
        };
        let lines = |p: &Path| -> Vec<String> {
            let mut v: Vec<String> = std::fs::read_to_string(p)
                .unwrap()
                .lines()
                .filter(|l| !l.starts_with('#'))
                .map(String::from)
                .collect();
            v.sort();
            v
        };
        let ours = deps(&dir.join("modules.dep"));
        let theirs = deps(&tree.depmod.join("modules.dep"));
        assert_eq!(ours.len(), theirs.len(), "{}: modules", tree.name);
        let differ: Vec<&String> = ours.keys().filter(|k| ours.get(*k) != theirs.get(*k)).collect();
        assert!(differ.is_empty(), "{}: closures differ for {differ:?}", tree.name);
        for f in ["modules.alias", "modules.softdep"] {
            assert_eq!(lines(&dir.join(f)), lines(&tree.depmod.join(f)), "{}: {f}", tree.name);
        }
        // The plan from our index equals the plan from depmod's.
        assert_eq!(
            relative(&our_plan(&dir, "nfnetlink-subsys-11"), &dir),
            relative(&our_plan(&tree.depmod, "nfnetlink-subsys-11"), &tree.depmod),
            "{}",
            tree.name
        );
    }
}

/// What `modprobe --show-depends` says for a query under a config:
/// the modules it would insert, each with its effective parameters (the
/// kernel takes the last value of a key), or the install command it would
/// run instead, or nothing (a blacklisted module found through an alias).
#[derive(Debug, PartialEq)]
enum Says {
    Insert(Vec<(String, std::collections::BTreeMap<String, String>)>),
    Install(String),
    Nothing,
}

fn params(words: &[&str]) -> std::collections::BTreeMap<String, String> {
    words.iter().filter_map(|w| w.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn kmod_says(tree: &DebianTree, root: &Path, query: &str) -> Says {
    let base = tree.depmod.parent().unwrap().parent().unwrap().parent().unwrap();
    let mut cmd = Command::new("modprobe");
    cmd.arg("-d").arg(base).arg("-S").arg(&tree.release);
    for d in [
        "etc/modprobe.d",
        "run/modprobe.d",
        "usr/local/lib/modprobe.d",
        "usr/lib/modprobe.d",
        "lib/modprobe.d",
    ] {
        if root.join(d).is_dir() {
            cmd.arg("-C").arg(root.join(d));
        }
    }
    let out = run(cmd.args(["--show-depends", query]));
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 0, "modprobe --show-depends {query}: {stderr}");
    let mut inserted = Vec::new();
    for line in stdout.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["insmod", path, rest @ ..] => {
                let file = Path::new(path).file_name().unwrap().to_str().unwrap();
                let name = file.split('.').next().unwrap().replace('-', "_");
                // kmod lists a shared dependency again; the kernel loads it once.
                if !inserted.iter().any(|(n, _)| *n == name) {
                    inserted.push((name, params(rest)));
                }
            }
            ["install", cmd @ ..] => return Says::Install(cmd.join(" ")),
            _ => {}
        }
    }
    if inserted.is_empty() { Says::Nothing } else { Says::Insert(inserted) }
}

fn xtprobe_says(tree: &DebianTree, root: &Path, query: &str) -> (Says, String) {
    let out = run(Command::new(env!("CARGO_BIN_EXE_xtprobe"))
        .args(["load", "--dry-run", "--json", "--modules-dir"])
        .arg(&tree.depmod)
        .arg("--root")
        .arg(root)
        .arg(query));
    let (stdout, stderr) = text(&out);
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    let message = format!("{} {stderr}", doc["error"]["message"].as_str().unwrap_or(""));
    let says = match code(&out) {
        0 => Says::Insert(
            doc["plan"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    let p: Vec<&str> = s["params"].as_str().unwrap().split_whitespace().collect();
                    (s["module"].as_str().unwrap().to_string(), params(&p))
                })
                .collect(),
        ),
        3 => Says::Install(message.clone()),
        1 => Says::Nothing,
        other => panic!("{query}: exit {other}: {stdout} {stderr}"),
    };
    (says, message)
}

/// modprobe.d, read by xtprobe and by kmod's own modprobe from the same
/// temporary root, gives the same plans: options (several lines, several
/// files, the same key twice), a config alias, a config softdep, a
/// blacklist that hides a module found through an alias (but not by name),
/// an install command matched by a pattern, and a file in /etc that masks
/// the same name in /usr/lib.
#[test]
fn modprobe_d_is_read_as_modprobe_reads_it() {
    let root = tempfile::tempdir().unwrap();
    let write = |rel: &str, text: &str| {
        let p = root.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write(
        "etc/modprobe.d/site.conf",
        "# the site's own\noptions xt_recent ip_list_tot=1000\nalias my_recent xt_recent\n\
         softdep xt_comment pre: xt_mark\nblacklist xt_mark\n",
    );
    write("usr/lib/modprobe.d/site.conf", "install xt_recent /bin/false\n");
    write(
        "usr/lib/modprobe.d/vendor.conf",
        "install xt_str*ng /bin/true\noptions xt_recent \\\n  ip_pkt_list_tot=50 ip_list_tot=7\n",
    );
    for tree in trees() {
        for query in
            ["xt_recent", "my_recent", "ipt_recent", "xt_comment", "ipt_mark", "xt_mark", "xt_string"]
        {
            let theirs = kmod_says(&tree, root.path(), query);
            let (ours, message) = xtprobe_says(&tree, root.path(), query);
            match (&theirs, &ours) {
                (Says::Install(cmd), Says::Install(_)) => {
                    assert!(message.contains(cmd.as_str()), "{query}: {message}");
                    assert!(message.contains("vendor.conf:1"), "{query}: {message}");
                }
                (Says::Nothing, Says::Nothing) => {
                    assert!(message.contains("blacklisted"), "{query}: {message}")
                }
                _ => assert_eq!(ours, theirs, "{} {query}", tree.name),
            }
        }
        // The cases above are not vacuous: each kind of line changed a plan.
        let recent = kmod_says(&tree, root.path(), "xt_recent");
        assert_eq!(
            recent,
            Says::Insert(vec![
                ("x_tables".into(), Default::default()),
                ("xt_recent".into(), params(&["ip_list_tot=7", "ip_pkt_list_tot=50"])),
            ])
        );
    }
}

/// A tree with depmod's binary indexes (libkmod reads those, not the
/// text): index refuses and changes nothing; with --remove-binary it
/// writes the text files and removes the binary ones.
#[test]
fn index_refuses_beside_depmods_binary_indexes_unless_told_to_remove_them() {
    for tree in trees() {
        let copy = tempfile::tempdir().unwrap();
        let dir = copy.path().join(&tree.release);
        assert!(Command::new("cp").arg("-al").arg(&tree.depmod).arg(&dir).status().unwrap().success());
        let bins: Vec<&str> = ["modules.dep.bin", "modules.alias.bin", "modules.symbols.bin"]
            .into_iter()
            .filter(|b| dir.join(b).exists())
            .collect();
        assert!(!bins.is_empty(), "{}: depmod wrote binary indexes", tree.name);
        let before = std::fs::read(dir.join("modules.dep")).unwrap();
        let out = run(Command::new(env!("CARGO_BIN_EXE_xtprobe")).args(["index", "--modules-dir"]).arg(&dir));
        let (stdout, stderr) = text(&out);
        assert_eq!(code(&out), 3, "{stdout} {stderr}");
        assert!(stdout.contains("modules.dep.bin") && stdout.contains("--remove-binary"), "{stdout}");
        assert_eq!(std::fs::read(dir.join("modules.dep")).unwrap(), before, "nothing written");

        let out = run(Command::new(env!("CARGO_BIN_EXE_xtprobe"))
            .args(["index", "--json", "--remove-binary", "--modules-dir"])
            .arg(&dir));
        let (stdout, stderr) = text(&out);
        assert_eq!(code(&out), 0, "{stdout} {stderr}");
        let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(doc["binary_removed"], true);
        for b in &bins {
            assert!(!dir.join(b).exists(), "{b} removed");
            // The original (hard-linked) tree keeps its own.
            assert!(tree.depmod.join(b).exists());
        }
        let leftovers: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}
