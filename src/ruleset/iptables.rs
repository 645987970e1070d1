//! What iptables really sends the kernel for a rule, per backend and
//! release: the requirement model of an iptables-save file.
//!
//! iptables-legacy sends every `-m` and `-j` as an xtables extension and
//! opens the table (`iptable_<table>`). iptables-nft compiles some of them
//! to native nf_tables expressions, keeps the rest as xtables extensions
//! through nft_compat, and creates the table's base chains with a chain
//! type. What it compiles changed between releases; read from the
//! upstream sources at each tag (`iptables/nft.c`: `add_match()`,
//! `add_target()`, `add_action()`) and measured for 1.8.9 (Debian 12) by
//! appending every rule of iptables' own extension tests and dumping what
//! the kernel received:
//!
//! | release | native expressions (besides payload, meta, cmp, counter, immediate) |
//! |---|---|
//! | 1.8.0 | `-j TRACE` → `meta nftrace set 1` |
//! | 1.8.1 – 1.8.7 | and `-m limit` → `limit` |
//! | 1.8.8 – 1.8.13 | and `-m tcp`, `-m udp` (ports, flags) → payload; `-m mark` → `meta mark`; `-j NFLOG` → `log group` |
//!
//! Other facts every release shares:
//! - the table decides each base chain's type: `nat` for the nat table,
//!   `route` for mangle OUTPUT, `filter` otherwise;
//! - a logger stands behind every log rule (LOG and TRACE: the syslog
//!   logger; NFLOG and `log group`: nfnetlink_log), a textsearch
//!   algorithm behind `-m string --algo`, a helper behind `-j CT --helper`;
//! - `-m state` is sent as `conntrack` (revisions 3 to 1) when the kernel
//!   has it, else as `state`; `-j NOTRACK` as `CT`.
//!
//! Releases after 1.8.13 are read as 1.8.13, before 1.8.0 as 1.8.0, each
//! with a warning.

use std::collections::BTreeSet;

use super::save::{SavedBackend, Version};
use crate::probe::{Extension, Family, Kind, Requirement};

/// The client a file is read for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    /// nf_tables (iptables-nft) or legacy.
    pub backend: SavedBackend,
    /// The release.
    pub version: Version,
}

/// The release xtprobe assumes when a file does not say: Debian 12's.
pub const DEFAULT_VERSION: Version = Version(1, 8, 9);

/// The releases whose translation was read from their sources.
const VERIFIED: (Version, Version) = (Version(1, 8, 0), Version(1, 8, 13));

/// What a release compiles natively.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Era {
    /// 1.8.0: only TRACE.
    TraceOnly,
    /// 1.8.1 – 1.8.7: and limit.
    Limit,
    /// 1.8.8 and later: and tcp, udp, mark, NFLOG.
    Payload,
}

fn era(v: Version) -> Era {
    if v >= Version(1, 8, 8) {
        Era::Payload
    } else if v >= Version(1, 8, 1) {
        Era::Limit
    } else {
        Era::TraceOnly
    }
}

impl Client {
    /// A warning if xtprobe has not read this release's sources.
    pub fn unverified(&self) -> Option<String> {
        let (lo, hi) = VERIFIED;
        (self.version < lo || self.version > hi).then(|| {
            let near = if self.version < lo { lo } else { hi };
            format!(
                "iptables {} is outside the releases xtprobe knows ({lo} to {hi}); its rules are read as {near} sends them",
                self.version
            )
        })
    }
}

/// One thing a rule needs: a requirement, or any one of several (the
/// client sends whichever the kernel has).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Demand {
    /// The requirement the client prefers.
    pub requirement: Requirement,
    /// What it falls back to, in order.
    pub alternatives: Vec<Requirement>,
    /// For xtables matches and targets, the interface the client asks
    /// through (iptables-nft: nft_compat; iptables-legacy: the sockopts).
    pub via: Option<crate::probe::Backend>,
}

impl Demand {
    /// A demand of one requirement, through no particular interface.
    pub fn plain(requirement: Requirement) -> Self {
        Demand { requirement, alternatives: Vec::new(), via: None }
    }
}

fn req(kind: Kind, name: &str) -> Requirement {
    Requirement { extension: Extension::new(kind, name), revision: None }
}

fn one(kind: Kind, name: &str) -> Demand {
    Demand::plain(req(kind, name))
}

impl Client {
    /// The interface this client asks xtables questions through.
    pub fn xt_backend(&self) -> crate::probe::Backend {
        match self.backend {
            SavedBackend::Nft => crate::probe::Backend::Nft,
            SavedBackend::Legacy => crate::probe::Backend::Legacy,
        }
    }

    /// `d`, asked the way this client asks.
    fn through(&self, mut d: Demand) -> Demand {
        if d.requirement.extension.kind.is_xt() {
            d.via = Some(self.xt_backend());
        }
        d
    }
}

/// The target extensions iptables 1.8.x ships (`extensions/lib{xt,ipt,ip6t}_*.c`
/// registering targets, NAT's four names, CT's alias NOTRACK): a `-j` to
/// any other name is a jump to a chain.
pub const TARGETS: &[&str] = &[
    "AUDIT",
    "CHECKSUM",
    "CLASSIFY",
    "CLUSTERIP",
    "CONNMARK",
    "CONNSECMARK",
    "CT",
    "DNAT",
    "DNPT",
    "DSCP",
    "ECN",
    "HL",
    "HMARK",
    "IDLETIMER",
    "LED",
    "LOG",
    "MARK",
    "MASQUERADE",
    "NETMAP",
    "NFLOG",
    "NFQUEUE",
    "NOTRACK",
    "RATEEST",
    "REDIRECT",
    "REJECT",
    "SECMARK",
    "SET",
    "SNAT",
    "SNPT",
    "SYNPROXY",
    "TCPMSS",
    "TCPOPTSTRIP",
    "TEE",
    "TOS",
    "TPROXY",
    "TRACE",
    "TTL",
    "ULOG",
];

/// Verdicts: the standard target, no extension.
const VERDICTS: [&str; 4] = ["ACCEPT", "DROP", "RETURN", "QUEUE"];

/// The built-in chains of iptables' tables and each one's nf_tables chain
/// type (`xtables_ipv4` in iptables' `nft.c`; the same for ipv6).
pub fn builtin_chain_type(table: &str, chain: &str) -> Option<&'static str> {
    let ty = match (table, chain) {
        ("filter", "INPUT" | "FORWARD" | "OUTPUT") => "filter",
        ("nat", "PREROUTING" | "INPUT" | "OUTPUT" | "POSTROUTING") => "nat",
        ("mangle", "OUTPUT") => "route",
        ("mangle", "PREROUTING" | "INPUT" | "FORWARD" | "POSTROUTING") => "filter",
        ("raw", "PREROUTING" | "OUTPUT") => "filter",
        ("security", "INPUT" | "FORWARD" | "OUTPUT") => "filter",
        _ => return None,
    };
    Some(ty)
}

/// What opening `table` in `family` needs: for iptables-nft the nf_tables
/// family; for iptables-legacy the table (`iptable_<table>`).
pub fn table_demands(client: Client, table: &str) -> Vec<Demand> {
    match client.backend {
        SavedBackend::Nft => vec![],
        SavedBackend::Legacy => vec![one(Kind::Table, table)],
    }
}

/// What the nf_tables family of a table needs (iptables-nft only; asked
/// once per family).
pub fn family_demand(client: Client, family: Family) -> Option<Demand> {
    (client.backend == SavedBackend::Nft).then(|| one(Kind::Family, family.as_str()))
}

/// What declaring (or first using) built-in chain `chain` needs: its
/// chain type, for iptables-nft.
pub fn chain_demands(client: Client, table: &str, chain: &str) -> Vec<Demand> {
    match (client.backend, builtin_chain_type(table, chain)) {
        (SavedBackend::Nft, Some(ty)) => vec![one(Kind::Chain, ty)],
        _ => vec![],
    }
}

/// Generic options of iptables itself and how many values each takes.
fn generic(word: &str) -> Option<usize> {
    Some(match word {
        "-s" | "--source" | "--src" | "-d" | "--destination" | "--dst" | "-i" | "--in-interface" | "-o"
        | "--out-interface" | "-p" | "--protocol" => 1,
        "-c" | "--set-counters" => 2,
        "-f" | "--fragment" | "-4" | "--ipv4" | "-6" | "--ipv6" => 0,
        _ => return None,
    })
}

/// The match a protocol loads implicitly, if `option` belongs to it
/// (iptables loads the protocol's match for an option no `-m` took).
fn implicit_match(proto: &str, option: &str) -> Option<&'static str> {
    let ports = ["--dport", "--sport", "--destination-port", "--source-port"];
    let (name, options): (&'static str, &[&str]) = match proto {
        "tcp" | "6" => ("tcp", &["--tcp-flags", "--syn", "--tcp-option"]),
        "udp" | "17" => ("udp", &[]),
        "sctp" | "132" => ("sctp", &["--chunk-types"]),
        "dccp" | "33" => ("dccp", &["--dccp-types", "--dccp-option"]),
        "icmp" | "1" => return (option == "--icmp-type").then_some("icmp"),
        "icmpv6" | "ipv6-icmp" | "icmp6" | "58" => return (option == "--icmpv6-type").then_some("icmp6"),
        _ => return None,
    };
    (ports.contains(&option) || options.contains(&option)).then_some(name)
}

/// Options that take one free-text value, which may look like an option.
const TEXT_OPTIONS: [&str; 6] =
    ["--comment", "--log-prefix", "--nflog-prefix", "--string", "--hex-string", "--name"];

/// One extension of a rule with the words that followed it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Use<'a> {
    name: &'a str,
    words: Vec<&'a str>,
}

impl Use<'_> {
    fn has(&self, option: &str) -> bool {
        self.words.contains(&option)
    }

    fn value(&self, option: &str) -> Option<&str> {
        self.words.iter().position(|w| *w == option).and_then(|i| self.words.get(i + 1).copied())
    }

    fn any_option(&self) -> bool {
        self.words.iter().any(|w| w.starts_with("--"))
    }
}

/// A rule's words, split into its matches (explicit and implicit) and its
/// target, with the protocol.
#[derive(Debug, Default)]
struct Split<'a> {
    matches: Vec<Use<'a>>,
    target: Option<Use<'a>>,
    goto: bool,
}

fn split<'a>(words: &'a [(String, bool)]) -> Result<Split<'a>, String> {
    let mut s = Split::default();
    let mut proto: Option<String> = None;
    // The extension whose options are being read: a match index or the target.
    enum Open {
        None,
        Match(usize),
        Target,
    }
    let mut open = Open::None;
    let mut loose: Vec<&'a str> = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let (word, quoted) = (words[i].0.as_str(), words[i].1);
        let next = words.get(i + 1).map(|(w, _)| w.as_str());
        if quoted || word == "!" || !word.starts_with('-') {
            match open {
                Open::Match(m) => s.matches[m].words.push(word),
                Open::Target => s.target.as_mut().expect("open target").words.push(word),
                Open::None => loose.push(word),
            }
            i += 1;
            continue;
        }
        match word {
            "-m" | "--match" => {
                let m = next.ok_or("-m without a match name")?;
                s.matches.push(Use { name: m, words: Vec::new() });
                open = Open::Match(s.matches.len() - 1);
                i += 2;
            }
            "-j" | "--jump" | "-g" | "--goto" => {
                let t = next.ok_or_else(|| format!("{word} without a target"))?;
                if s.target.is_some() {
                    return Err(format!("a second target ({t}) in one rule"));
                }
                s.goto = matches!(word, "-g" | "--goto");
                s.target = Some(Use { name: t, words: Vec::new() });
                open = Open::Target;
                i += 2;
            }
            w if generic(w).is_some() => {
                let n = generic(w).expect("checked");
                if matches!(w, "-p" | "--protocol") {
                    proto = next.map(|p| p.to_ascii_lowercase());
                }
                open = Open::None;
                i += 1 + n;
            }
            w => {
                let target = match open {
                    Open::Match(m) => &mut s.matches[m].words,
                    Open::Target => &mut s.target.as_mut().expect("open target").words,
                    Open::None => &mut loose,
                };
                target.push(w);
                // A free-text value is one word, whatever it looks like.
                if TEXT_OPTIONS.contains(&w) {
                    if let Some(v) = next {
                        target.push(v);
                        i += 1;
                    }
                }
                i += 1;
            }
        }
    }
    // Options no `-m` took go to the protocol's own match (loaded once).
    if let Some(p) = &proto {
        for w in loose.iter().filter(|w| w.starts_with("--")) {
            if let Some(m) = implicit_match(p, w) {
                match s.matches.iter_mut().find(|u| u.name == m) {
                    Some(u) => u.words.push(w),
                    None => s.matches.push(Use { name: m, words: vec![w] }),
                }
            }
        }
    }
    Ok(s)
}

/// What one rule needs, and what the file should be told about it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RuleDemands {
    /// The requirements.
    pub demands: Vec<Demand>,
    /// A `-j NAME` that is neither a target iptables knows nor a chain
    /// declared so far in the table: a chain declared later, a chain some
    /// other program creates (DOCKER-USER), or an add-on target.
    pub jump: Option<String>,
}

/// What a rule (`words`, after `-A CHAIN`) in `table`/`chain` needs when
/// `client` sends it. `chains` are the table's chains declared so far.
pub fn rule_demands(
    client: Client,
    table: &str,
    chain: &str,
    chains: &std::collections::HashSet<String>,
    words: &[(String, bool)],
) -> Result<RuleDemands, String> {
    let s = split(words)?;
    let nft = client.backend == SavedBackend::Nft;
    let era = era(client.version);
    let mut out = RuleDemands::default();
    let mut add = |d: Demand| {
        let d = client.through(d);
        if !out.demands.contains(&d) {
            out.demands.push(d);
        }
    };
    // The rule's own chain: a built-in one is created (with its type) if
    // the file did not declare it.
    if !chains.contains(chain) {
        for d in chain_demands(client, table, chain) {
            add(d);
        }
    }
    for m in &s.matches {
        crate::probe::spec::canonical_name(Kind::Match, m.name).map_err(|e| e.to_string())?;
        let native = nft
            && match m.name {
                "limit" => era >= Era::Limit,
                "mark" => era >= Era::Payload,
                // nft.c add_nft_tcp/add_nft_udp: compat when the match is
                // empty or uses what payload cannot say (--tcp-option).
                "tcp" => era >= Era::Payload && m.any_option() && !m.has("--tcp-option"),
                "udp" => era >= Era::Payload && m.any_option(),
                _ => false,
            };
        if native {
            if m.name == "limit" {
                add(one(Kind::Expr, "limit"));
            }
            continue;
        }
        match m.name {
            // libxt_conntrack: `state` is an alias of conntrack, preferred
            // when the kernel has it; rev 0 `state` is the fallback.
            "state" => add(Demand {
                requirement: req(Kind::Match, "conntrack"),
                alternatives: vec![req(Kind::Match, "state")],
                via: None,
            }),
            "string" => {
                add(one(Kind::Match, "string"));
                if let Some(algo) = m.value("--algo") {
                    if crate::probe::nftables::recipe::TEXTSEARCH.contains(&algo) {
                        add(one(Kind::Textsearch, algo));
                    }
                }
            }
            name => add(one(Kind::Match, name)),
        }
    }
    if let Some(t) = &s.target {
        let name = t.name;
        if VERDICTS.contains(&name) {
        } else if TARGETS.contains(&name) {
            match name {
                "TRACE" if nft => {}
                "TRACE" => {
                    add(one(Kind::Target, "TRACE"));
                    add(one(Kind::Logger, "syslog"));
                }
                "NFLOG" if nft && era >= Era::Payload => {
                    add(one(Kind::Expr, "log"));
                    add(one(Kind::Logger, "nflog"));
                }
                "NFLOG" => {
                    add(one(Kind::Target, "NFLOG"));
                    add(one(Kind::Logger, "nflog"));
                }
                "LOG" => {
                    add(one(Kind::Target, "LOG"));
                    add(one(Kind::Logger, "syslog"));
                }
                "NOTRACK" => add(one(Kind::Target, "CT")),
                "CT" => {
                    add(one(Kind::Target, "CT"));
                    if let Some(h) = t.value("--helper") {
                        if crate::probe::nftables::recipe::helper(h).is_some() {
                            add(one(Kind::Helper, h));
                        }
                    }
                }
                other => add(one(Kind::Target, other)),
            }
        } else if !chains.contains(name) {
            crate::probe::spec::canonical_name(Kind::Target, name).map_err(|e| e.to_string())?;
            out.jump = Some(name.to_string());
        }
    }
    Ok(out)
}

/// The jumps of a table still undeclared at its COMMIT: the warnings.
pub fn undeclared(
    jumps: &BTreeSet<(String, usize)>,
    chains: &std::collections::HashSet<String>,
    table: &str,
    file: &str,
) -> Vec<String> {
    jumps
        .iter()
        .filter(|(name, _)| !chains.contains(name))
        .map(|(name, line)| {
            format!(
                "{file}:{line}: -j {name}: neither a chain of table {table} nor a target iptables knows; \
                 a chain another program creates (DOCKER-USER) needs nothing, an add-on target needs \
                 checking by name (target:{name})"
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(backend: SavedBackend, v: (u16, u16, u16)) -> Client {
        Client { backend, version: Version(v.0, v.1, v.2) }
    }

    fn demands(c: Client, table: &str, chain: &str, rule: &str) -> Vec<String> {
        let w = super::super::save::words(rule).unwrap();
        let d = rule_demands(c, table, chain, &[chain.to_string()].into(), &w).unwrap();
        d.demands
            .iter()
            .map(|d| {
                let mut s = d.requirement.to_string();
                for a in &d.alternatives {
                    s.push_str(&format!("|{a}"));
                }
                s
            })
            .collect()
    }

    /// What iptables-nft 1.8.9 sent the kernel for these rules, read back
    /// with `nft -j list ruleset` after appending each in a fresh netns
    /// (the conformance suite checks every rule of iptables' own tests the
    /// same way, live).
    #[test]
    fn iptables_nft_1_8_9_as_measured() {
        let nft = client(SavedBackend::Nft, (1, 8, 9));
        let table: &[(&str, &str, &[&str])] = &[
            ("filter", "-p tcp -m tcp --dport 22 -j ACCEPT", &[]),
            ("filter", "-p tcp -m tcp --tcp-option 2 -j ACCEPT", &["match:tcp"]),
            ("filter", "-p tcp -m tcp -j ACCEPT", &["match:tcp"]),
            ("filter", "-p udp --sport 53", &[]),
            ("filter", "-p udp -m udp", &["match:udp"]),
            ("filter", "-m mark --mark 0x1/0x1 -j DROP", &[]),
            ("filter", "-m limit --limit 1/s", &["expr:limit"]),
            ("filter", "-j NFLOG --nflog-group 1", &["expr:log", "logger:nflog"]),
            ("filter", "-j LOG --log-prefix \"-j x\"", &["target:LOG", "logger:syslog"]),
            ("raw", "-j TRACE", &[]),
            ("filter", "-m state --state NEW", &["match:conntrack|match:state"]),
            ("raw", "-j NOTRACK", &["target:CT"]),
            ("raw", "-p tcp -j CT --helper ftp", &["target:CT", "helper:ftp"]),
            ("filter", "-m string --algo bm --string x", &["match:string", "textsearch:bm"]),
            (
                "filter",
                "-p tcp -m comment --comment \"-m x\" -m multiport --dports 1,2",
                &["match:comment", "match:multiport"],
            ),
            ("filter", "-p icmp --icmp-type 8", &["match:icmp"]),
            ("filter", "-s 10.0.0.0/8", &[]),
        ];
        for (t, rule, want) in table {
            assert_eq!(demands(nft, t, "INPUT", rule), *want, "{rule}");
        }
    }

    #[test]
    fn older_releases_and_legacy_send_extensions() {
        let old = client(SavedBackend::Nft, (1, 8, 7));
        assert_eq!(demands(old, "filter", "INPUT", "-p tcp --dport 22"), ["match:tcp"]);
        assert_eq!(demands(old, "filter", "INPUT", "-m limit --limit 1/s"), ["expr:limit"]);
        assert_eq!(demands(old, "filter", "INPUT", "-j NFLOG"), ["target:NFLOG", "logger:nflog"]);
        let first = client(SavedBackend::Nft, (1, 8, 0));
        assert_eq!(demands(first, "filter", "INPUT", "-m limit"), ["match:limit"]);
        let legacy = client(SavedBackend::Legacy, (1, 8, 9));
        assert_eq!(
            demands(legacy, "filter", "INPUT", "-p tcp --dport 22 -m mark --mark 1"),
            ["match:mark", "match:tcp"]
        );
        assert_eq!(demands(legacy, "raw", "PREROUTING", "-j TRACE"), ["target:TRACE", "logger:syslog"]);
        assert_eq!(table_demands(legacy, "nat").len(), 1);
        assert!(client(SavedBackend::Nft, (1, 8, 14)).unverified().is_some());
        assert!(client(SavedBackend::Nft, (1, 8, 13)).unverified().is_none());
    }

    #[test]
    fn chain_types_follow_the_table() {
        let nft = client(SavedBackend::Nft, (1, 8, 9));
        let w = super::super::save::words("-j ACCEPT").unwrap();
        let undeclared = |t: &str, c: &str| {
            rule_demands(nft, t, c, &Default::default(), &w)
                .unwrap()
                .demands
                .iter()
                .map(|d| d.requirement.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(undeclared("nat", "POSTROUTING"), ["chain:nat"]);
        assert_eq!(undeclared("mangle", "OUTPUT"), ["chain:route"]);
        assert_eq!(undeclared("mangle", "INPUT"), ["chain:filter"]);
        assert_eq!(undeclared("filter", "MYCHAIN"), Vec::<String>::new());
        let legacy = client(SavedBackend::Legacy, (1, 8, 9));
        assert!(chain_demands(legacy, "nat", "POSTROUTING").is_empty());
    }

    #[test]
    fn jumps_to_unknown_names_are_chains() {
        let nft = client(SavedBackend::Nft, (1, 8, 9));
        let w = super::super::save::words("-j DOCKER-USER").unwrap();
        let d = rule_demands(nft, "filter", "FORWARD", &["FORWARD".to_string()].into(), &w).unwrap();
        assert_eq!((d.demands.len(), d.jump.as_deref()), (0, Some("DOCKER-USER")));
        let d = rule_demands(
            nft,
            "filter",
            "FORWARD",
            &["FORWARD".to_string(), "DOCKER-USER".to_string()].into(),
            &w,
        )
        .unwrap();
        assert_eq!(d.jump, None);
        let mut jumps = BTreeSet::new();
        jumps.insert(("DOCKER-USER".to_string(), 4));
        assert_eq!(undeclared(&jumps, &Default::default(), "filter", "f").len(), 1);
        assert!(undeclared(&jumps, &["DOCKER-USER".to_string()].into(), "filter", "f").is_empty());
        assert!(
            rule_demands(
                nft,
                "filter",
                "INPUT",
                &Default::default(),
                &super::super::save::words("-m").unwrap()
            )
            .is_err()
        );
        assert!(
            rule_demands(
                nft,
                "filter",
                "INPUT",
                &Default::default(),
                &super::super::save::words("-m ../x").unwrap()
            )
            .is_err()
        );
    }
}
