//! nf_tables and ipset answers, cross-checked against the real clients:
//! Debian's `nft --check -f FILE` for every expression, chain type, family
//! and set feature xtprobe can ask about, and `ipset create` for every
//! mainline set type — each in a fresh network namespace.
//!
//! Expectations come from the kernel: what the kernel config says is built
//! in must be there, what it says is not set must be missing, and nft and
//! ipset must agree with xtprobe either way. Features whose option is `=m`
//! are compared only when their module is already loaded, so these tests
//! never make the kernel load a module.

use std::process::Command;

use xtprobe::catalog;
use xtprobe::kconfig::{self, KernelConfig, Value};
use xtprobe::probe::nftables::recipe;
use xtprobe::probe::{Extension, Family, Kind};

use crate::util::*;

/// What the kernel config predicts for `ext` in `family`: `Some(true)` built
/// in (or its module already loaded), `Some(false)` not built, `None` when
/// asking might load a module or the config cannot tell.
fn predicted(config: &KernelConfig, ext: &Extension, family: Family) -> Option<bool> {
    let p = catalog::provider(ext, family)?;
    let symbols: Vec<&str> = p.config.iter().map(String::as_str).collect();
    let (_, value) = config.best_of(&symbols)?;
    match value {
        Value::Yes => Some(true),
        Value::NotSet => Some(false),
        Value::Module if std::path::Path::new("/sys/module").join(&p.module).exists() => Some(true),
        _ => None,
    }
}

fn config() -> Option<KernelConfig> {
    let release = xtprobe::system::host::kernel_release();
    match kconfig::find(&release, None) {
        Ok(Some(c)) => Some(c),
        _ => {
            eprintln!("skipped: no kernel config to predict from");
            None
        }
    }
}

/// `nft --check -f` on `ruleset`, in a fresh network namespace: Ok, or the
/// first error line.
fn nft_check(ruleset: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("r.nft");
    std::fs::write(&file, ruleset).unwrap();
    let out = run(in_fresh_netns(Command::new("nft").arg("--check").arg("-f").arg(&file)));
    if code(&out) == 0 {
        return Ok(());
    }
    let (_, err) = text(&out);
    Err(err.lines().find(|l| l.contains("Error")).unwrap_or(&err).to_string())
}

/// The nft statement that makes the kernel use expression `name` in a
/// table of `family` (`None` where nft 1.0.6 has no syntax for it).
fn statement(name: &str, family: Family) -> Option<&'static str> {
    let v6 = family == Family::Ipv6;
    Some(match name {
        "bitwise" => "meta mark and 0xff == 1",
        "cmp" | "meta" => "meta mark 1",
        "connlimit" => "ct count 10",
        "counter" => "counter",
        "ct" => "ct state established",
        "dup" if v6 => "dup to ::1",
        "dup" if family == Family::Netdev => "dup to \"lo\"",
        "dup" => "dup to 1.2.3.4",
        "dynset" => "update @d { meta mark }",
        "exthdr" => "tcp option maxseg size 1400",
        "fib" => "fib daddr type local",
        "fwd" => "fwd to \"lo\"",
        "hash" => "meta mark set symhash mod 2",
        "immediate" => "meta mark set 1",
        "limit" => "limit rate 10/second",
        "log" => "log level audit",
        "lookup" => "meta mark @s",
        "masq" => "masquerade",
        "nat" if v6 => "dnat to ::1",
        "nat" if family == Family::Inet => "dnat ip to 1.2.3.4",
        "nat" => "dnat to 1.2.3.4",
        "notrack" => "notrack",
        "numgen" => "meta mark set numgen random mod 2",
        "objref" => "counter name \"c\"",
        "osf" => "osf name \"Linux\"",
        "payload" => "@nh,0,8 1",
        "queue" => "queue num 0",
        "quota" => "quota 1 mbytes",
        "range" => "meta mark 1-10",
        "redir" => "redirect",
        "reject" => "reject",
        "rt" => "rt mtu 1500",
        "socket" => "socket transparent 1",
        "synproxy" => "synproxy",
        "tproxy" if v6 => "meta l4proto tcp tproxy to [::1]:80",
        "tproxy" if family == Family::Inet => "meta l4proto tcp tproxy ip to 1.2.3.4:80",
        "tproxy" => "meta l4proto tcp tproxy to 1.2.3.4:80",
        "xfrm" => "ipsec in reqid 1",
        // `last` and a lone `byteorder` have no nft 1.0.6 syntax.
        _ => return None,
    })
}

/// xtprobe's statuses per requirement for one family, asked in one run.
fn xtprobe_statuses(specs: &[String], family: Family) -> Vec<(String, String)> {
    let mut args = vec!["check".to_string(), "--family".into(), family.as_str().into()];
    args.extend(specs.iter().cloned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (_, doc) = json(&args);
    results(&doc)
        .iter()
        .map(|r| {
            (
                format!("{}:{}", r["kind"].as_str().unwrap(), r["name"].as_str().unwrap()),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Compares one answer with nft's and with the config's prediction.
fn judge(
    spec: &str,
    family: Family,
    status: &str,
    nft: &Result<(), String>,
    predicted: Option<bool>,
) -> Option<String> {
    // EPROTO: the family's conntrack is missing (ct in a bridge table).
    let also_missing = spec
        .strip_prefix("expr:")
        .and_then(recipe::expr)
        .is_some_and(|r| r.also_missing.contains(&libc::EPROTO));
    let agrees = match (status, nft) {
        ("supported", Ok(())) => true,
        ("not-registered", Err(e)) => {
            e.contains("No such file or directory") || (also_missing && e.contains("Protocol error"))
        }
        // Not asked: the type cannot exist in this family, so nft must fail too.
        ("not-applicable", Err(_)) => true,
        _ => false,
    };
    // Built in: there (or not applicable in this family); not built:
    // missing (or not applicable); unknown: anything.
    let expected = matches!(
        (predicted, status),
        (Some(true), "supported" | "not-applicable")
            | (Some(false), "not-registered" | "not-applicable")
            | (None, _)
    );
    (!agrees || !expected)
        .then(|| format!("{spec} in {family}: xtprobe {status}, nft {nft:?}, config predicts {predicted:?}"))
}

#[test]
fn expressions_agree_with_nft_check() {
    if !live() {
        return;
    }
    let Some(config) = config() else { return };
    let mut wrong = Vec::new();
    let mut compared = 0;
    for family in Family::ALL {
        let asked: Vec<&recipe::ExprRecipe> =
            recipe::EXPRS.iter().filter(|r| statement(r.name, family).is_some()).collect();
        let specs: Vec<String> = asked.iter().map(|r| format!("expr:{}", r.name)).collect();
        let statuses = xtprobe_statuses(&specs, family);
        assert_eq!(statuses.len(), asked.len(), "one answer per expression in {family}");
        for (r, (spec, status)) in asked.iter().zip(&statuses) {
            let ext = Extension::new(Kind::Expr, r.name);
            let predicted = predicted(&config, &ext, family);
            if predicted.is_none() && status != "not-applicable" {
                continue;
            }
            let ruleset = format!(
                "table {} t {{\n set s {{ type mark; }}\n set d {{ type mark; flags dynamic; }}\n counter c {{ }}\n \
                 chain q {{\n  {}\n }}\n}}\n",
                family.nft_word(),
                statement(r.name, family).unwrap()
            );
            compared += 1;
            wrong.extend(judge(spec, family, status, &nft_check(&ruleset), predicted));
        }
    }
    assert!(wrong.is_empty(), "xtprobe and nft disagree:\n{}", wrong.join("\n"));
    assert!(compared > 0, "nothing could be compared");
}

/// The base chain nft builds for chain type `t` in `family`.
fn chain_rule(t: &str, family: Family) -> String {
    let hook = match (family, t) {
        (Family::Netdev, _) => "hook ingress device lo priority 0",
        (Family::Arp, _) => "hook input priority 0",
        (_, "nat") => "hook postrouting priority 100",
        (_, "route") => "hook output priority 0",
        _ => "hook input priority 0",
    };
    format!("table {} t {{\n chain c {{\n  type {t} {hook};\n }}\n}}\n", family.nft_word())
}

#[test]
fn chain_types_and_families_agree_with_nft_check() {
    if !live() {
        return;
    }
    let Some(config) = config() else { return };
    let mut wrong = Vec::new();
    for family in Family::ALL {
        let specs: Vec<String> = recipe::CHAIN_TYPES
            .iter()
            .map(|t| format!("chain:{t}"))
            .chain([format!("family:{}", family.as_str())])
            .collect();
        let statuses = xtprobe_statuses(&specs, family);
        for (spec, status) in &statuses {
            let (kind, name) = spec.split_once(':').unwrap();
            let ext = Extension::new(Kind::parse(kind).unwrap(), name);
            let ruleset =
                if kind == "family" { chain_rule("filter", family) } else { chain_rule(name, family) };
            let nft = nft_check(&ruleset);
            // A nat or route chain outside IP is refused by nft itself.
            let predicted = predicted(&config, &ext, family);
            if kind == "chain" && status == "not-applicable" {
                if nft.is_ok() {
                    wrong.push(format!("{spec} in {family}: xtprobe not-applicable, nft accepts it"));
                }
                continue;
            }
            wrong.extend(judge(spec, family, status, &nft, predicted));
        }
    }
    assert!(wrong.is_empty(), "xtprobe and nft disagree:\n{}", wrong.join("\n"));
}

#[test]
fn set_features_agree_with_nft_check() {
    if !live() {
        return;
    }
    let decl = |feature: &str| match feature {
        "concat" => "type ipv4_addr . inet_service;",
        "concat-interval" => "type ipv4_addr . inet_service; flags interval;",
        "interval" => "type ipv4_addr; flags interval;",
        "map" => "type ipv4_addr : mark;",
        "timeout" => "type ipv4_addr; timeout 60s;",
        "vmap" => "type ipv4_addr : verdict;",
        other => panic!("no nft declaration for set:{other}"),
    };
    let specs: Vec<String> = recipe::SET_FEATURES.iter().map(|f| format!("set:{}", f.name)).collect();
    for (spec, status) in xtprobe_statuses(&specs, Family::Ipv4) {
        let feature = spec.strip_prefix("set:").unwrap();
        let kind = if decl(feature).contains(':') { "map" } else { "set" };
        let nft = nft_check(&format!("table ip t {{\n {kind} s {{ {} }}\n}}\n", decl(feature)));
        assert_eq!(status == "supported", nft.is_ok(), "{spec}: xtprobe {status}, nft {nft:?}");
    }
}

/// `ipset create` of `ty` in family `inet`/`inet6` in a fresh network
/// namespace: the set's revision, or the error.
fn ipset_create(ty: &str, family: Family) -> Result<u8, String> {
    let mut script = format!("ipset create x {ty}");
    match ty {
        "bitmap:ip" | "bitmap:ip,mac" => script.push_str(" range 10.0.0.0/24"),
        "bitmap:port" => script.push_str(" range 0-100"),
        // Types of any family take no family option.
        "list:set" | "hash:mac" => {}
        _ if family == Family::Ipv6 => script.push_str(" family inet6"),
        _ => {}
    }
    script.push_str(" && ipset list x");
    let out = run(in_fresh_netns(Command::new("sh").arg("-c").arg(&script)));
    let (stdout, stderr) = text(&out);
    if code(&out) != 0 {
        return Err(stderr.trim().to_string());
    }
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("Revision: "))
        .and_then(|r| r.trim().parse().ok())
        .ok_or_else(|| format!("no revision in {stdout}"))
}

#[test]
fn ipset_types_agree_with_ipset_create() {
    if !live() {
        return;
    }
    let Some(config) = config() else { return };
    let mut wrong = Vec::new();
    let mut compared = 0;
    for family in [Family::Ipv4, Family::Ipv6] {
        let specs: Vec<String> = catalog::ipset::TYPES.iter().map(|t| format!("ipset:{t}")).collect();
        let mut args = vec!["check", "--family", family.as_str()];
        args.extend(specs.iter().map(String::as_str));
        let (_, doc) = json(&args);
        for (ty, r) in catalog::ipset::TYPES.iter().zip(results(&doc)) {
            let status = r["status"].as_str().unwrap();
            let predicted = predicted(&config, &Extension::new(Kind::Ipset, ty), family);
            if predicted.is_none() || status == "not-applicable" {
                continue;
            }
            compared += 1;
            let revisions: Vec<u64> =
                r["revisions"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
            match (status, ipset_create(ty, family)) {
                // ipset creates the highest revision both it and the kernel know.
                ("supported", Ok(rev)) if revisions.contains(&u64::from(rev)) && predicted == Some(true) => {}
                ("not-registered", Err(e)) if e.contains("not supported") && predicted == Some(false) => {}
                (status, ipset) => wrong.push(format!(
                    "ipset:{ty} in {family}: xtprobe {status} {revisions:?}, ipset {ipset:?}, config predicts {predicted:?}"
                )),
            }
        }
    }
    assert!(wrong.is_empty(), "xtprobe and ipset disagree:\n{}", wrong.join("\n"));
    assert!(compared > 0, "nothing could be compared");
}

#[test]
fn nf_tables_requirements_never_commit_anything() {
    if !live() {
        return;
    }
    // One namespace for both: xtprobe's batches, then nft listing what is left.
    let script = format!(
        "{} check expr:numgen chain:nat family:inet set:interval expr:lookup expr:objref >/dev/null; \
         nft list ruleset",
        bin().display()
    );
    let out = run(in_fresh_netns(Command::new("sh").arg("-c").arg(&script)));
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 0, "{stderr}");
    assert_eq!(stdout.trim(), "", "the validate-only batches left a ruleset behind");
}

#[test]
fn unknown_nf_tables_names_are_usage_errors() {
    let out = run(xtprobe().args(["check", "expr:nosuch"]));
    let (_, stderr) = text(&out);
    assert_eq!(code(&out), 2, "{stderr}");
    assert!(stderr.contains("unknown expr `nosuch`") && stderr.contains("numgen"), "{stderr}");
    let out = run(xtprobe().args(["check", "expr:numgen@1"]));
    assert_eq!(code(&out), 2);
    assert!(text(&out).1.contains("have no revision"));
}

/// Every built-in profile can be checked, every requirement gets an answer
/// in each of its families, and what the kernel config says is built in is
/// reported supported (what is not set, missing).
#[test]
fn every_builtin_profile_is_answered() {
    if !live() {
        return;
    }
    let Some(config) = config() else { return };
    for profile in xtprobe::profile::builtins(xtprobe::probe::Backend::Nft) {
        let (code, doc) = json(&["check", "--profile", &profile.name]);
        assert!(code == 0 || code == 1, "{}: exit {code}: {doc}", profile.name);
        let answers = results(&doc);
        let wanted: usize = profile.needs.iter().map(|n| n.families.len()).sum();
        assert!(
            answers.len() >= wanted,
            "{}: {} answers for {wanted} questions",
            profile.name,
            answers.len()
        );
        for r in answers {
            let kind = Kind::parse(r["kind"].as_str().unwrap()).unwrap();
            if kind.is_xt() {
                continue; // tests/check.rs covers xtables against /proc
            }
            let family: Family = Family::parse(r["family"].as_str().unwrap()).unwrap();
            let ext = Extension::new(kind, r["name"].as_str().unwrap());
            let status = r["status"].as_str().unwrap();
            match predicted(&config, &ext, family) {
                Some(true) => assert_eq!(status, "supported", "{}: {ext} in {family}", profile.name),
                Some(false) => assert_eq!(status, "not-registered", "{}: {ext} in {family}", profile.name),
                None => assert_ne!(status, "error", "{}: {ext} in {family}: {r}", profile.name),
            }
        }
    }
}
