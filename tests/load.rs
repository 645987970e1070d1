//! `xtprobe load` on synthetic module trees: planning, lookup, every
//! compression, bad input, and the real `finit_module`/`init_module` on
//! this machine's kernel, which has no module support (ENOSYS).

use std::path::Path;
use std::process::Command;

use crate::fixture::{Encoding, Module, Tree};
use crate::util::*;

fn load(tree: &Tree, args: &[&str]) -> (i32, serde_json::Value, String) {
    let out = run(Command::new(env!("CARGO_BIN_EXE_xtprobe"))
        .arg("load")
        .arg("--json")
        .arg("--modules-dir")
        .arg(&tree.dir)
        .args(args));
    let (stdout, stderr) = text(&out);
    let doc = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}\n{stderr}"));
    (code(&out), doc, stderr)
}

fn plan_modules(doc: &serde_json::Value) -> Vec<String> {
    doc["plan"].as_array().unwrap().iter().map(|s| s["module"].as_str().unwrap().to_string()).collect()
}

/// a → b → c: c, b, a; the same plan with and without modules.dep.
fn chain() -> Tree {
    let mut t = Tree::new();
    t.add(Module::new("mod_a").depends(&["mod_b"]));
    t.add(Module::new("mod_b").depends(&["mod_c"]).in_dir("kernel/lib"));
    t.add(Module::new("mod_c").in_dir("kernel/lib"));
    t
}

#[test]
fn three_level_chain_loads_dependencies_first() {
    let t = chain();
    t.write_dep();
    let (code, doc, _) = load(&t, &["--dry-run", "mod_a"]);
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(plan_modules(&doc), ["mod_c", "mod_b", "mod_a"]);
    let steps = doc["plan"].as_array().unwrap();
    assert_eq!(steps[2]["requested"], true);
    assert_eq!(steps[0]["requested"], false);
    for s in steps {
        assert_eq!(s["action"], "load");
        assert_eq!(s["method"], "finit");
        assert_eq!(s["deps_from"], "modules-dep");
        assert_eq!(s["result"]["outcome"], "planned");
        assert!(Path::new(s["path"].as_str().unwrap()).is_file());
    }
    assert_eq!(steps[2]["needs"], serde_json::json!(["mod_b", "mod_c"]));
}

#[test]
fn plan_without_modules_dep_equals_plan_with_it() {
    let t = chain();
    let (code, without, _) = load(&t, &["--dry-run", "mod_a"]);
    assert_eq!(code, 0, "{without:#}");
    assert!(
        without["plan"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["deps_from"] == "modinfo" || s["requested"] == false)
    );
    t.write_dep();
    let (_, with, _) = load(&t, &["--dry-run", "mod_a"]);
    // The same order and files; `needs` lists what each source says (the
    // whole closure from modules.dep, direct dependencies from .modinfo),
    // so the closures they imply are compared.
    let strip = |doc: &serde_json::Value| -> Vec<(String, String, Vec<String>)> {
        let plan = doc["plan"].as_array().unwrap();
        let needs = |m: &str| -> Vec<String> {
            let step = plan.iter().find(|s| s["module"] == m).unwrap();
            step["needs"].as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_string()).collect()
        };
        plan.iter()
            .map(|s| {
                let mut closure = std::collections::BTreeSet::new();
                let mut stack = needs(s["module"].as_str().unwrap());
                while let Some(n) = stack.pop() {
                    if closure.insert(n.clone()) {
                        stack.extend(needs(&n));
                    }
                }
                (s["module"].to_string(), s["path"].to_string(), closure.into_iter().collect())
            })
            .collect()
    };
    assert_eq!(strip(&without), strip(&with));
}

/// A diamond: the order must put every module after what it needs, and
/// be the same from either source.
#[test]
fn diamond_with_softdeps_orders_consistently() {
    let mut t = Tree::new();
    t.add(Module::new("top").depends(&["left", "right"]));
    t.add(Module::new("left").depends(&["base"]));
    t.add(Module::new("right").depends(&["base"]).softdep("pre: helper-impl"));
    t.add(Module::new("base"));
    t.add(Module::new("helper_generic").aliases(&["helper-impl"]));
    let (code, a, _) = load(&t, &["--dry-run", "top"]);
    assert_eq!(code, 0, "{a:#}");
    t.write_dep().write_alias().write_softdep();
    let (_, b, _) = load(&t, &["--dry-run", "top"]);
    assert_eq!(plan_modules(&a), plan_modules(&b));
    let order = plan_modules(&a);
    let pos = |m: &str| order.iter().position(|x| x == m).unwrap();
    assert!(pos("base") < pos("left") && pos("base") < pos("right") && pos("right") < pos("top"));
    assert!(pos("helper_generic") < pos("right"), "soft pre-dependency first: {order:?}");
    assert_eq!(order.last().unwrap(), "top");
}

#[test]
fn alias_lookup_with_and_without_modules_alias() {
    let mut t = Tree::new();
    t.add(Module::new("x_tables"));
    t.add(Module::new("xt_comment").depends(&["x_tables"]).aliases(&["ipt_comment", "ip6t_comment"]));
    t.add(Module::new("xt_other").aliases(&["ipt_other"]));
    for with_index in [false, true] {
        if with_index {
            t.write_dep().write_alias();
        }
        let (code, doc, _) = load(&t, &["--dry-run", "ipt_comment"]);
        assert_eq!(code, 0, "{doc:#}");
        assert_eq!(plan_modules(&doc), ["x_tables", "xt_comment"], "with modules.alias: {with_index}");
        let (code, doc, _) = load(&t, &["--dry-run", "xt-comment"]);
        assert_eq!(code, 0);
        assert_eq!(plan_modules(&doc), ["x_tables", "xt_comment"]);
    }
}

#[test]
fn builtin_modules_are_skipped() {
    // No modules.dep: mod_b's .modinfo names mod_c, which modules.builtin lists.
    let mut t = chain();
    t.write("modules.builtin", "kernel/lib/mod_c.ko\n");
    std::fs::remove_file(t.dir.join("kernel/lib/mod_c.ko")).unwrap();
    t.modules.remove("mod_c");
    let (code, doc, _) = load(&t, &["--dry-run", "mod_a"]);
    assert_eq!(code, 0, "{doc:#}");
    let steps = doc["plan"].as_array().unwrap();
    let c = steps.iter().find(|s| s["module"] == "mod_c").unwrap();
    assert_eq!(c["action"], "builtin");
    assert_eq!(c["path"], serde_json::Value::Null);
    assert_eq!(c["result"]["outcome"], "builtin");
    // Asking for a built-in module directly is success too.
    let (code, doc, _) = load(&t, &["mod_c"]);
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(doc["plan"][0]["result"]["outcome"], "builtin");
}

#[test]
fn every_compression_is_read_by_content() {
    for enc in [Encoding::XzCrc32, Encoding::XzCrc64, Encoding::Zstd, Encoding::Gzip] {
        let mut t = Tree::new();
        t.add(Module::new("dep_mod").encoding(enc));
        t.add(Module::new("top_mod").depends(&["dep_mod"]).encoding(enc));
        // No modules.dep: dependencies come from the decompressed .modinfo.
        let (code, doc, stderr) = load(&t, &["--dry-run", "top_mod"]);
        assert_eq!(code, 0, "{enc:?}: {doc:#} {stderr}");
        assert_eq!(plan_modules(&doc), ["dep_mod", "top_mod"], "{enc:?}");
        let expected = match enc {
            Encoding::Zstd => "zstd",
            Encoding::Gzip => "gzip",
            _ => "xz",
        };
        assert_eq!(doc["plan"][1]["compression"], expected);
        // This kernel names no /sys/module/compression: decompress here.
        assert_eq!(doc["plan"][1]["method"], "init");
    }
    // Compression by magic, not by name: an xz file named .ko.
    let mut t = Tree::new();
    t.add(Module::new("solo").encoding(Encoding::XzCrc32));
    std::fs::rename(
        t.dir.join("kernel/net/netfilter/solo.ko.xz"),
        t.dir.join("kernel/net/netfilter/solo.ko"),
    )
    .unwrap();
    let (code, doc, _) = load(&t, &["--dry-run", "solo"]);
    assert_eq!(code, 0);
    assert_eq!(doc["plan"][0]["compression"], "xz");
}

#[test]
fn corrupt_and_foreign_files_are_clear_errors() {
    for (enc, needle) in [
        (Encoding::CorruptXz, "corrupt xz data"),
        (Encoding::TruncatedElf, "not a valid ELF object"),
        (Encoding::NoModinfo, "without a .modinfo section"),
    ] {
        let mut t = Tree::new();
        t.add(Module::new("bad").encoding(enc));
        t.add(Module::new("user").depends(&["bad"]));
        // "user" is fine; reading bad's .modinfo for its own deps fails.
        let (code, doc, _) = load(&t, &["--dry-run", "user"]);
        let msg = doc["error"]["message"].as_str().unwrap_or_default();
        assert_eq!(code, 3, "{enc:?}: {doc:#}");
        assert!(msg.contains(needle) && msg.contains("bad"), "{enc:?}: {msg}");
        assert!(doc["plan"].as_array().unwrap().is_empty());
    }
}

#[test]
fn dependency_cycles_are_reported() {
    let mut t = Tree::new();
    t.add(Module::new("ping").depends(&["pong"]));
    t.add(Module::new("pong").depends(&["ping"]));
    let (code, doc, _) = load(&t, &["--dry-run", "ping"]);
    assert_eq!(code, 3);
    let msg = doc["error"]["message"].as_str().unwrap();
    assert!(msg.contains("dependency cycle") && msg.contains("ping") && msg.contains("pong"), "{msg}");
}

#[test]
fn symlinks_out_of_the_tree_are_refused() {
    let mut t = Tree::new();
    t.add(Module::new("inside"));
    let outside = tempfile::tempdir().unwrap();
    let evil = Module::new("evil");
    std::fs::write(outside.path().join("evil.ko"), evil.bytes()).unwrap();
    std::os::unix::fs::symlink(outside.path().join("evil.ko"), t.dir.join("kernel/net/netfilter/evil.ko"))
        .unwrap();
    // Found by walking: ignored, so not found.
    let (code, doc, _) = load(&t, &["--dry-run", "evil"]);
    assert_eq!(code, 1, "{doc:#}");
    // Named by modules.dep: refused with the reason.
    t.write("modules.dep", "kernel/net/netfilter/evil.ko:\nkernel/net/netfilter/inside.ko:\n");
    let (code, doc, _) = load(&t, &["--dry-run", "evil"]);
    assert_eq!(code, 3, "{doc:#}");
    let msg = doc["error"]["message"].as_str().unwrap();
    assert!(msg.contains("evil.ko") && msg.contains("symbolic link"), "{msg}");
    // A path that climbs out is refused before anything is opened.
    t.write("modules.dep", "../../../../../../etc/passwd.ko:\nkernel/net/netfilter/inside.ko:\n");
    let (code, doc, _) = load(&t, &["--dry-run", "passwd"]);
    assert_eq!(code, 3, "{doc:#}");
    assert!(doc["error"]["message"].as_str().unwrap().contains("outside the modules directory"), "{doc:#}");
}

#[test]
fn malformed_modules_dep_names_file_and_line() {
    let t = chain();
    t.write("modules.dep", "kernel/net/netfilter/mod_a.ko: kernel/lib/mod_b.ko\nthis line is broken\n");
    let (code, doc, _) = load(&t, &["--dry-run", "mod_a"]);
    assert_eq!(code, 3);
    let msg = doc["error"]["message"].as_str().unwrap();
    assert!(msg.contains("modules.dep:2"), "{msg}");
}

#[test]
fn unknown_module_lists_where_it_looked() {
    let t = chain();
    t.write_dep().write_alias();
    let (code, doc, _) = load(&t, &["--dry-run", "xt_nosuch"]);
    assert_eq!(code, 1);
    let msg = doc["error"]["message"].as_str().unwrap();
    for needle in ["modules.dep", "modules.alias", "modules.builtin", "/sys/module/xt_nosuch"] {
        assert!(msg.contains(needle), "{needle}: {msg}");
    }
}

#[test]
fn path_like_and_bad_names_are_usage_errors() {
    let t = chain();
    for bad in ["../mod_a", "kernel/lib/mod_b", "", "a b", &"m".repeat(57)] {
        let out = run(Command::new(env!("CARGO_BIN_EXE_xtprobe"))
            .arg("load")
            .arg("--modules-dir")
            .arg(&t.dir)
            .arg(bad));
        assert_eq!(code(&out), 2, "{bad:?}: {out:?}");
        assert!(!text(&out).1.is_empty());
    }
    let out = run(Command::new(env!("CARGO_BIN_EXE_xtprobe")).args(["load", "foo=bar"]));
    assert_eq!(code(&out), 2);
    let out = run(Command::new(env!("CARGO_BIN_EXE_xtprobe")).args(["load"]));
    assert_eq!(code(&out), 2);
}

#[test]
fn parameters_follow_their_module() {
    let t = chain();
    let (code, doc, _) = load(&t, &["--dry-run", "mod_a", "hashsize=16", "debug=1", "mod_c", "x=y"]);
    assert_eq!(code, 0);
    let steps = doc["plan"].as_array().unwrap();
    let get =
        |m: &str| steps.iter().find(|s| s["module"] == m).unwrap()["params"].as_str().unwrap().to_string();
    assert_eq!(get("mod_a"), "hashsize=16 debug=1");
    assert_eq!(get("mod_c"), "x=y");
    assert_eq!(get("mod_b"), "");
}

/// This machine's kernel has CONFIG_MODULES unset: finit_module and
/// init_module both fail with ENOSYS, and the diagnosis says so.
#[test]
fn a_real_load_here_is_enosys_with_the_diagnosis() {
    if !live() {
        return;
    }
    for enc in [Encoding::Plain, Encoding::XzCrc32] {
        let mut t = Tree::new();
        t.add(Module::new("solo").encoding(enc));
        let (code, doc, _) = load(&t, &["solo"]);
        assert_eq!(code, 3, "{doc:#}");
        let r = &doc["plan"][0]["result"];
        assert_eq!(r["outcome"], "failed");
        assert_eq!(r["errno"], "ENOSYS");
        assert_eq!(r["operation"], "init_module", "finit_module's ENOSYS falls back to init_module");
        assert!(r["cause"].as_str().unwrap().contains("no loadable-module support"), "{r:#}");
    }
    // And in text, with the fix.
    let mut t = Tree::new();
    t.add(Module::new("solo"));
    let out = run(Command::new(env!("CARGO_BIN_EXE_xtprobe"))
        .arg("load")
        .arg("--modules-dir")
        .arg(&t.dir)
        .arg("solo"));
    let (stdout, _) = text(&out);
    assert_eq!(code(&out), 3);
    assert!(stdout.contains("CONFIG_MODULES") && stdout.contains("fix:"), "{stdout}");
    // Without a modules directory at all, the same fact is the answer.
    let out = run(Command::new(env!("CARGO_BIN_EXE_xtprobe")).args(["load", "xt_comment"]));
    let (stdout, _) = text(&out);
    assert_eq!(code(&out), 3, "{stdout}");
    assert!(stdout.contains("/lib/modules/") && stdout.contains("CONFIG_MODULES"), "{stdout}");
}

#[test]
fn dry_run_persist_writes_nothing() {
    let t = chain();
    let root = tempfile::tempdir().unwrap();
    let (code, doc, _) =
        load(&t, &["--dry-run", "--persist", "--root", root.path().to_str().unwrap(), "mod_a"]);
    assert_eq!(code, 0);
    assert_eq!(doc["persist"]["added"], serde_json::json!(["mod_a"]));
    assert_eq!(doc["persist"]["changed"], false);
    assert!(!root.path().join("etc").exists());
}

/// Persisting after a load: here a module that is already live (a /sys
/// fixture), since this kernel cannot load one.
#[test]
fn persist_after_success_records_the_requested_module() {
    use xtprobe::app::load::{LoadOptions, run};
    use xtprobe::kmod::resolve::Request;
    use xtprobe::system::host::Host;
    let t = chain();
    t.write_dep();
    let sys_root = tempfile::tempdir().unwrap();
    for m in ["mod_a", "mod_b", "mod_c"] {
        let d = sys_root.path().join(format!("sys/module/{m}"));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("initstate"), "live\n").unwrap();
    }
    let root = tempfile::tempdir().unwrap();
    let opts = LoadOptions {
        requests: vec![Request { query: "mod-a".into(), params: String::new() }],
        modules_dir: Some(t.dir.clone()),
        persist: true,
        root: root.path().to_path_buf(),
        ..Default::default()
    };
    let report = run(&opts, &Host::rooted(sys_root.path()), &xtprobe::system::syscalls::KernelSyscalls);
    assert_eq!(report.exit_code(), xtprobe::app::exit::ExitCode::Ok, "{report:?}");
    let conf = std::fs::read_to_string(root.path().join("etc/modules-load.d/xtprobe.conf")).unwrap();
    assert!(conf.lines().any(|l| l == "mod_a"), "{conf}");
    assert!(!conf.contains("mod_b"), "dependencies are resolved at boot, not listed: {conf}");
}
