//! `xtprobe check` against this machine's kernel (6.18, nf_tables,
//! nft_compat and the xt matches built in).

use std::os::unix::process::CommandExt;
use std::process::Command;

use crate::util::*;

/// `CAP_NET_ADMIN` from include/uapi/linux/capability.h.
const CAP_NET_ADMIN: libc::c_ulong = 12;

fn result<'a>(doc: &'a serde_json::Value, name: &str, family: &str, backend: &str) -> &'a serde_json::Value {
    results(doc)
        .iter()
        .find(|r| r["name"] == name && r["family"] == family && r["backend"] == backend)
        .unwrap_or_else(|| panic!("no result for {name}/{family}/{backend} in {doc:#}"))
}

#[test]
fn comment_revision_0_is_supported_in_all_four_families() {
    if !live() {
        return;
    }
    // The kernel's own listing says whether to expect it at all.
    assert!(
        proc_names("/proc/net/ip_tables_matches").iter().any(|n| n == "comment"),
        "this kernel lacks comment"
    );
    let (code, doc) = json(&["check", "--family", "ipv4,ipv6,arp,bridge", "comment@0"]);
    assert_eq!(code, 0, "{doc:#}");
    for family in ["ipv4", "ipv6", "arp", "bridge"] {
        let r = result(&doc, "comment", family, "nft");
        assert_eq!(r["supported"], true, "{r:#}");
        assert_eq!(r["status"], "supported");
        assert_eq!(r["best_revision"], 0);
        assert_eq!(r["revisions"], serde_json::json!([0]));
        assert_eq!(r["required_revision"], 0);
        assert_eq!(r["errno"], serde_json::Value::Null);
    }
    assert_eq!(doc["nf_tables"]["reachable"], true);
    assert_eq!(doc["exit_code"], 0);
}

/// conntrack registers revisions 1, 2 and 3 (revision 0 was removed from
/// the kernel); the kernel's own listing has one line per revision.
#[test]
fn conntrack_best_is_3_and_revision_0_is_unsupported() {
    if !live() {
        return;
    }
    let listed = proc_names("/proc/net/ip_tables_matches").iter().filter(|n| *n == "conntrack").count();
    let (code, doc) = json(&["check", "--family", "ipv4", "conntrack@0", "conntrack"]);
    assert_eq!(code, 1, "revision 0 is required and missing: {doc:#}");
    let rs = results(&doc);
    assert_eq!(rs.len(), 2);
    let at0 = &rs[0];
    assert_eq!(at0["status"], "revision-missing");
    assert_eq!(at0["supported"], false);
    assert_eq!(at0["errno"], "EPROTONOSUPPORT");
    assert_eq!(at0["best_revision"], 3);
    assert!(!at0["revisions"].as_array().unwrap().contains(&0.into()));
    let any = &rs[1];
    assert_eq!(any["supported"], true);
    assert_eq!(any["revisions"], serde_json::json!([1, 2, 3]));
    assert_eq!(any["revisions"].as_array().unwrap().len(), listed, "one /proc line per revision");
}

#[test]
fn masquerade_target_is_supported() {
    if !live() {
        return;
    }
    let (code, doc) = json(&["check", "target:MASQUERADE"]);
    let mut all = true;
    for (family, proto) in [("ipv4", "ip"), ("ipv6", "ip6")] {
        let listed =
            proc_names(&format!("/proc/net/{proto}_tables_targets")).iter().any(|n| n == "MASQUERADE");
        let r = result(&doc, "MASQUERADE", family, "nft");
        assert_eq!(r["kind"], "target");
        assert_eq!(r["supported"], listed, "{family}: the kernel's listing says {listed}");
        all &= listed;
    }
    assert_eq!(code, if all { 0 } else { 1 });
}

#[test]
fn unknown_name_is_not_registered_and_exits_1() {
    if !live() {
        return;
    }
    let (status, doc) = json(&["check", "xtprobe_nosuch", "comment"]);
    assert_eq!(status, 1);
    let r = result(&doc, "xtprobe_nosuch", "ipv4", "nft");
    assert_eq!(r["status"], "not-registered");
    assert_eq!(r["supported"], false);
    assert_eq!(r["errno"], "ENOENT");
    assert_eq!(r["best_revision"], serde_json::Value::Null);
    assert!(r["message"].as_str().unwrap().contains("ipt_xtprobe_nosuch"), "{r:#}");
    assert_eq!(result(&doc, "comment", "ipv4", "nft")["supported"], true);
    assert_eq!(doc["summary"]["missing"], 2);

    let out = run(xtprobe().args(["check", "xtprobe_nosuch"]));
    assert_eq!(code(&out), 1);
    let (stdout, _) = text(&out);
    assert!(stdout.contains("not registered"), "{stdout}");
}

#[test]
fn revision_above_255_is_a_usage_error() {
    let out = run(xtprobe().args(["check", "conntrack@300"]));
    assert_eq!(code(&out), 2);
    let (stdout, stderr) = text(&out);
    assert!(stdout.is_empty());
    assert!(stderr.contains("0 to 255"), "{stderr}");
    for bad in [
        &["check", "--family", "inet9"][..],
        &["check", "foo:bar"],
        &["check", "--timeout", "0"],
        &["nosuchcommand"],
    ] {
        assert_eq!(code(&run(xtprobe().args(bad))), 2, "{bad:?}");
    }
}

/// Every extension the kernel lists in /proc/net/ip*_tables_{matches,targets}
/// must be reported supported by both backends, in that family.
#[test]
fn every_extension_listed_in_proc_is_supported_by_both_backends() {
    if !live() {
        return;
    }
    // The legacy backend walks all 256 revisions (a brute force the nft
    // walk must equal); it answers only where ip_tables is loaded, which
    // is also what creates these /proc files.
    if !std::path::Path::new("/proc/net/ip_tables_matches").exists() {
        eprintln!("skipped: ip_tables is not loaded here, so there is no legacy brute force to compare with");
        return;
    }
    for (family, proto) in [("ipv4", "ip"), ("ipv6", "ip6")] {
        let mut specs = Vec::new();
        for (kind, file) in [("match", "matches"), ("target", "targets")] {
            let mut names = proc_names(&format!("/proc/net/{proto}_tables_{file}"));
            names.sort();
            names.dedup();
            assert!(names.len() > 5, "{proto} {file}: {names:?}");
            specs.extend(names.into_iter().map(|n| format!("{kind}:{n}")));
        }
        let mut args = vec!["check", "--backend", "both", "--family", family];
        args.extend(specs.iter().map(String::as_str));
        let (code, doc) = json(&args);
        let unsupported: Vec<_> = results(&doc).iter().filter(|r| r["supported"] != true).collect();
        assert!(unsupported.is_empty(), "{family}: {unsupported:#?}");
        assert_eq!(code, 0);
        assert_eq!(results(&doc).len(), specs.len() * 2);
        assert_eq!(doc["disagreements"], serde_json::json!([]));
    }
    // Both families in one run: the nft walks of an extension then share
    // what they learn about NFPROTO_UNSPEC; the legacy backend walks every
    // revision of each family on its own, so any difference shows.
    let mut specs = Vec::new();
    for (kind, file) in [("match", "matches"), ("target", "targets")] {
        let mut names = proc_names(&format!("/proc/net/ip_tables_{file}"));
        names.extend(proc_names(&format!("/proc/net/ip6_tables_{file}")));
        names.sort();
        names.dedup();
        specs.extend(names.into_iter().map(|n| format!("{kind}:{n}")));
    }
    let mut args = vec!["check", "--backend", "both", "--family", "ipv4,ipv6"];
    args.extend(specs.iter().map(String::as_str));
    let (_, doc) = json(&args);
    assert_eq!(doc["disagreements"], serde_json::json!([]), "{:#}", doc["disagreements"]);
    assert_eq!(results(&doc).len(), specs.len() * 4);
}

#[test]
fn without_cap_net_admin_exits_3_and_says_what_to_do() {
    if !live() {
        return;
    }
    let mut cmd = xtprobe();
    // SAFETY: prctl is async-signal-safe. Dropping CAP_NET_ADMIN from the
    // bounding set keeps it out of the permitted set root gets at exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_CAPBSET_DROP, CAP_NET_ADMIN, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = run(cmd.args(["check", "comment"]));
    let (stdout, _) = text(&out);
    assert_eq!(code(&out), 3, "{stdout}");
    assert!(stdout.contains("CAP_NET_ADMIN"), "{stdout}");
    assert!(stdout.contains("unshare -rn"), "{stdout}");

    let mut cmd = xtprobe();
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_CAPBSET_DROP, CAP_NET_ADMIN, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = run(cmd.args(["check", "--json", "comment"]));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(code(&out), 3);
    assert_eq!(results(&doc)[0]["status"], "error");
    assert_eq!(results(&doc)[0]["errno"], "EPERM");
    assert_eq!(doc["nf_tables"]["reachable"], serde_json::Value::Null);
}

/// In a user namespace that does not own the network namespace, the
/// capability is there but the kernel refuses: the EPERM comes from the
/// kernel, not from our own check, and must still give exit 3. (That needs
/// a caller who cannot make a network namespace of its own either: with
/// CAP_SYS_ADMIN in its user namespace, xtprobe asks from a fresh one that
/// namespace owns, and gets the real answer.)
#[test]
fn kernel_eperm_in_a_foreign_network_namespace_exits_3() {
    if !live() {
        return;
    }
    let out = run(Command::new("unshare")
        .args(["--user", "--map-root-user", "--", "setpriv", "--bounding-set", "-sys_admin", "--"])
        .arg(env!("CARGO_BIN_EXE_xtprobe"))
        .args(["check", "--json"]));
    let doc: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"));
    assert_eq!(code(&out), 3, "{doc:#}");
    assert_eq!(doc["probes"]["namespace"], "caller", "{doc:#}");
    assert_eq!(results(&doc)[0]["errno"], "EPERM");
    assert!(results(&doc)[0]["message"].as_str().unwrap().contains("user namespace"));

    let out = run(Command::new("unshare")
        .args(["--user", "--map-root-user", "--"])
        .arg(env!("CARGO_BIN_EXE_xtprobe"))
        .args(["check", "--json"]));
    let doc: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"));
    assert_eq!(doc["probes"]["namespace"], "fresh", "{doc:#}");
    assert!(results(&doc).iter().all(|r| r["errno"] != "EPERM"), "{doc:#}");
}

/// What the error message recommends must work: any user, in a private
/// user and network namespace, gets the real answer.
#[test]
fn unshare_rn_gives_the_real_answer() {
    if !live() {
        return;
    }
    let out = run(Command::new("unshare")
        .args(["--user", "--map-root-user", "--net", "--"])
        .arg(env!("CARGO_BIN_EXE_xtprobe"))
        .args(["check", "--json", "comment", "conntrack@3"]));
    let doc: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"));
    assert_eq!(code(&out), 0, "{doc:#}");
}

/// The client the project exists for: iptables-nft adds a rule with
/// `-m comment` in a fresh namespace, and xtprobe agrees it is supported.
#[test]
fn iptables_nft_accepts_a_comment_rule_where_xtprobe_says_supported() {
    if !live() {
        return;
    }
    let Some(iptables) = ["/usr/sbin/iptables-nft", "/sbin/iptables-nft"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
    else {
        if std::env::var_os("XTPROBE_REQUIRE_LIVE").is_some() {
            panic!("iptables-nft is not installed (apt-get install iptables)");
        }
        eprintln!("skipped: iptables-nft is not installed");
        return;
    };
    let mut cmd = Command::new("sh");
    in_fresh_netns(&mut cmd);
    let script = format!("{iptables} -A INPUT -m comment --comment t -j ACCEPT && {iptables} -S INPUT");
    let out = run(cmd.args(["-c", &script]));
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 0, "iptables-nft failed: {stderr}");
    assert!(stdout.contains("--comment t"), "{stdout}");
    assert!(!stderr.contains("not supported"), "{stderr}");

    let (code, doc) = json(&["check", "comment"]);
    assert_eq!(code, 0);
    assert_eq!(result(&doc, "comment", "ipv4", "nft")["supported"], true);
}

#[test]
fn json_document_has_the_documented_fields() {
    if !live() {
        return;
    }
    let (_, doc) = json(&["check", "--backend", "both", "comment"]);
    for key in
        ["schema_version", "kernel_release", "nf_tables", "results", "disagreements", "summary", "exit_code"]
    {
        assert!(doc.get(key).is_some(), "missing {key}: {doc:#}");
    }
    assert_eq!(doc["schema_version"], 4);
    // The capabilities it kept: what the legacy backend needs, no more.
    assert_eq!(doc["privileges"]["kept"], serde_json::json!(["CAP_NET_ADMIN", "CAP_NET_RAW"]), "{doc:#}");
    assert_eq!(doc["privileges"]["no_new_privs"], true);
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    assert_eq!(doc["kernel_release"], release.trim());
    for r in results(&doc) {
        for key in [
            "name",
            "kind",
            "family",
            "backend",
            "status",
            "supported",
            "best_revision",
            "revisions",
            "required_revision",
            "errno",
            "message",
        ] {
            assert!(r.get(key).is_some(), "missing {key}: {r:#}");
        }
    }
    assert_eq!(results(&doc).len(), 4, "comment × ipv4, ipv6 × nft, legacy");
}

#[test]
fn piped_table_has_no_colour_and_quiet_prints_nothing() {
    if !live() {
        return;
    }
    let out = run(xtprobe().args(["check", "comment", "xtprobe_nosuch"]));
    let (stdout, _) = text(&out);
    assert!(!stdout.contains('\x1b'), "{stdout:?}");
    assert!(stdout.contains("EXTENSION"));
    let out = run(xtprobe().args(["check", "-q", "comment"]));
    assert_eq!(code(&out), 0);
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
    let out = run(xtprobe().args(["check", "-q", "xtprobe_nosuch"]));
    assert_eq!(code(&out), 1);
    assert!(out.stdout.is_empty());
}

#[test]
fn help_shows_examples_and_exit_codes() {
    let out = run(Command::new(env!("CARGO_BIN_EXE_xtprobe")).args(["check", "--help"]));
    let (stdout, _) = text(&out);
    assert_eq!(code(&out), 0);
    assert!(stdout.contains("Examples:") && stdout.contains("Exit status:"), "{stdout}");
}
