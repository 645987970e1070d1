//! `kernel-test preflight`: will the rules we have today load on the next
//! kernel? Boots a candidate kernel once, lets xtprobe ensure what the
//! rules need (no `/sbin/modprobe`, as on a minimal host), restores each
//! file with its own real client, and reports every rule that does not
//! load: its file and line, what the client said, and what xtprobe says
//! is missing for it.
//!
//! The engine is [`crate::replay`], the one the conformance suite runs:
//! a file is restored whole; only if that fails is each of its rules
//! restored alone (iptables-save: with its table's chains; `nft -j` and
//! nft text: with its table, chain and sets, as JSON; ipset: each set with
//! its elements), and for each rule that fails alone xtprobe's `doctor
//! --brief` is asked about that rule.

pub mod input;

use std::collections::BTreeMap;

use crate::replay::{Builder, Plan, Results};
use input::{File, Kind};

/// Where the files go in the guest.
pub const ROOT: &str = "/xtp/preflight";

/// The plan for `files` (and `profiles`: capture's profiles, ensured and
/// checked), with xtprobe at `xtprobe`.
pub fn plan(files: &[File], profiles: &[(String, String)], xtprobe: &str) -> (Plan, Vec<(usize, usize)>) {
    let mut b = Builder::new(ROOT);
    // Units in order: (file index, unit index in its file).
    let mut order: Vec<(usize, usize)> = Vec::new();
    for (f, file) in files.iter().enumerate() {
        for u in 0..file.units.len() {
            order.push((f, u));
        }
    }
    // What xtprobe reads as --rules, written beside the units' files.
    let mut rules_args: Vec<String> = Vec::new();
    let mut extra: Vec<(String, Vec<u8>)> = Vec::new();
    for (f, file) in files.iter().enumerate() {
        if let Some(r) = &file.rules {
            let path =
                format!("{ROOT}/rules{f}.{}", if file.kind == Kind::Iptables { "txt" } else { "json" });
            extra.push((path.clone(), r.clone().into_bytes()));
            rules_args.push(path);
        }
    }
    let ipset_types: Vec<String> = {
        let mut t: Vec<String> = files.iter().flat_map(|f| f.ipset_types.iter().cloned()).collect();
        t.sort();
        t.dedup();
        t
    };
    let s = |a: &[&str]| a.iter().map(|x| x.to_string()).collect::<Vec<String>>();
    if !rules_args.is_empty() {
        let mut c = s(&[xtprobe, "ensure", "--json"]);
        for r in &rules_args {
            c.extend(["--rules".to_string(), r.clone()]);
        }
        b.command("ensure-rules", c);
    }
    if !ipset_types.is_empty() {
        let mut c = s(&[xtprobe, "ensure", "--json"]);
        c.extend(ipset_types.iter().cloned());
        b.command("ensure-ipset", c);
    }
    for (i, (path, _)) in profiles.iter().enumerate() {
        let guest = format!("{ROOT}/profile{i}.toml");
        b.command(&format!("ensure-profile{i}"), s(&[xtprobe, "ensure", "--json", "--profile", &guest]));
        b.command(&format!("check-profile{i}"), s(&[xtprobe, "check", "--json", "--profile", &guest]));
        let _ = path;
    }
    for (n, &(f, u)) in order.iter().enumerate() {
        let file = &files[f];
        let unit = &file.units[u];
        let kind = file.kind;
        let xt = xtprobe.to_string();
        let explain = move |single: &crate::replay::Single, path: &str| -> Option<Vec<String>> {
            match kind {
                Kind::Iptables | Kind::NftJson | Kind::NftText => Some(vec![
                    xt.clone(),
                    "doctor".into(),
                    "--brief".into(),
                    "--rules".into(),
                    path.to_string(),
                ]),
                Kind::Ipset => {
                    let ty = single.text.split_whitespace().nth(2)?;
                    Some(vec![xt.clone(), "doctor".into(), "--brief".into(), format!("ipset:{ty}")])
                }
            }
        };
        b.unit_explained(0, n, unit, &explain);
    }
    let mut plan = b.build();
    plan.files.extend(extra);
    for (i, (_, text)) in profiles.iter().enumerate() {
        plan.files.push((format!("{ROOT}/profile{i}.toml"), text.clone().into_bytes()));
    }
    (plan, order)
}

/// A rule that did not load.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Failing {
    /// The file, as given.
    pub file: String,
    /// Its line (for `nft -j` documents, the object's position).
    pub line: u32,
    /// What the client said.
    pub client: Vec<String>,
    /// What xtprobe says is missing for it (doctor --brief).
    pub cause: Vec<String>,
}

/// One kernel's verdict.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Verdict {
    /// Rules (and sets) that loaded, whole files counted by their rules.
    pub loaded: usize,
    /// Those that did not.
    pub failing: Vec<Failing>,
    /// Whole files that failed with no rule to blame (nft text without a
    /// JSON form): (file, client output).
    pub files: Vec<(String, Vec<String>)>,
    /// Profiles whose requirements are missing: (profile, missing).
    pub profiles: Vec<(String, Vec<String>)>,
    /// Each ensure's exit status, by tag.
    pub ensure: BTreeMap<String, Option<i32>>,
}

impl Verdict {
    /// Whether everything loads.
    pub fn ok(&self) -> bool {
        self.failing.is_empty() && self.files.is_empty() && self.profiles.is_empty()
    }
}

/// Reads a run's results into a verdict.
pub fn judge(
    files: &[File],
    profiles: &[(String, String)],
    order: &[(usize, usize)],
    r: &Results,
) -> Verdict {
    let mut v = Verdict::default();
    for (tag, ran) in &r.commands {
        if tag.starts_with("ensure") {
            v.ensure.insert(tag.clone(), ran.exit);
        }
    }
    for (i, (name, _)) in profiles.iter().enumerate() {
        if let Some(ran) = r.commands.get(&format!("check-profile{i}")) {
            let doc: serde_json::Value = serde_json::from_str(&ran.output.join("\n")).unwrap_or_default();
            let missing: Vec<String> = doc["results"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|x| {
                    x["optional"] == false && x["status"] != "supported" && x["status"] != "not-applicable"
                })
                .map(|x| {
                    format!(
                        "{}:{} in {} ({})",
                        x["kind"].as_str().unwrap_or(""),
                        x["name"].as_str().unwrap_or(""),
                        x["family"].as_str().unwrap_or(""),
                        x["status"].as_str().unwrap_or("")
                    )
                })
                .collect();
            if !missing.is_empty() || !ran.ok() {
                v.profiles
                    .push((name.clone(), if missing.is_empty() { ran.output.clone() } else { missing }));
            }
        }
    }
    for (n, &(f, u)) in order.iter().enumerate() {
        let file = &files[f];
        let unit = &file.units[u];
        let Some(whole) = r.whole.get(&(0, n)) else {
            v.files.push((file.name.clone(), vec!["the run never got to this file".into()]));
            continue;
        };
        if whole.ok() {
            v.loaded += unit.singles.len();
            continue;
        }
        let mut blamed = 0;
        for single in &unit.singles {
            match r.single.get(&(0, n, single.line)) {
                Some(alone) if alone.ok() => v.loaded += 1,
                Some(alone) => {
                    blamed += 1;
                    let line = file.lines.get(&(u, single.line)).copied().unwrap_or(single.line);
                    let cause = r
                        .explain
                        .get(&(0, n, single.line))
                        .map(|e| e.output.iter().filter(|l| !l.trim().is_empty()).cloned().collect())
                        .unwrap_or_default();
                    v.failing.push(Failing {
                        file: file.name.clone(),
                        line,
                        client: alone.output.clone(),
                        cause,
                    });
                }
                None => {}
            }
        }
        if blamed == 0 {
            v.files.push((file.name.clone(), whole.output.clone()));
        }
    }
    v.failing.sort_by(|a, b| (a.file.as_str(), a.line).cmp(&(b.file.as_str(), b.line)));
    v
}

/// The verdict as text: a line per failing rule (`FILE:LINE: client —
/// xtprobe`), then the count.
pub fn text(kernel: &str, v: &Verdict, seconds: f64) -> String {
    let mut out = String::new();
    for f in &v.failing {
        let client =
            f.client.iter().map(|l| l.trim()).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" / ");
        out.push_str(&format!("{}:{}: {}\n", f.file, f.line, client));
        for c in &f.cause {
            out.push_str(&format!("    xtprobe: {}\n", c.trim()));
        }
    }
    for (file, output) in &v.files {
        out.push_str(&format!("{file}: did not load: {}\n", output.join(" / ")));
    }
    for (profile, missing) in &v.profiles {
        out.push_str(&format!("{profile}: missing: {}\n", missing.join(", ")));
    }
    let word = if v.ok() { "PASS" } else { "FAIL" };
    out.push_str(&format!(
        "{word}  {seconds:>6.2} s  preflight on {kernel}: {} loaded, {} failing{}\n",
        v.loaded,
        v.failing.len(),
        if v.files.is_empty() { String::new() } else { format!(", {} files unexplained", v.files.len()) }
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::Transcript;

    #[test]
    fn a_failing_rule_is_named_with_the_client_and_xtprobe() {
        let text = "# Generated by iptables-save v1.8.9 (nf_tables)\n*filter\n:INPUT ACCEPT [0:0]\n\
                    -A INPUT -m comment --comment ok -j ACCEPT\n-A INPUT -m recent --name x --rcheck -j DROP\nCOMMIT\n";
        let file = File {
            name: "rules.v4".into(),
            kind: Kind::Iptables,
            units: input::iptables("rules.v4", text),
            rules: Some(text.into()),
            ipset_types: Vec::new(),
            lines: BTreeMap::new(),
        };
        let files = vec![file];
        let (plan, order) = plan(&files, &[], "xtprobe");
        let steps: Vec<&Vec<String>> = plan.case.steps.iter().map(|s| &s.commands[0]).collect();
        assert_eq!(steps[0][..3], ["xtprobe", "ensure", "--json"]);
        assert_eq!(steps[1][..2], ["iptables-nft-restore", "--noflush"]);
        // The whole (1) failed; line 4 alone (2) loaded; line 5 alone (4)
        // failed, and doctor (5) explained it.
        let mut t = Transcript::default();
        for (id, code, out) in [
            (0, 1, "{}"),
            (1, 1, "iptables-nft-restore: line 5 failed"),
            (2, 0, ""),
            (4, 1, "Warning: Extension recent revision 0 not supported, missing kernel module?"),
            (5, 1, "match:recent (ipv4): module not installed: install …"),
        ] {
            t.output.insert(id.to_string(), vec![out.to_string()]);
            t.exit.insert(id.to_string(), code);
        }
        let v = judge(&files, &[], &order, &plan.results(&t));
        assert_eq!(v.loaded, 1);
        assert_eq!(v.failing.len(), 1);
        assert_eq!((v.failing[0].file.as_str(), v.failing[0].line), ("rules.v4", 5));
        assert!(v.failing[0].cause[0].starts_with("match:recent"));
        assert!(super::text("k", &v, 1.0).contains("rules.v4:5: Warning: Extension recent"));
        assert!(!v.ok());
    }
}
