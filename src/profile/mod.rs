//! Requirement profiles: the extensions a platform's iptables rules use,
//! required or optional, with the families to check them in.
//!
//! Built-in profiles check IPv4 (a dual-stack cluster passes `--family
//! ipv4,ipv6`). Standard targets (ACCEPT, DROP, RETURN) are part of the
//! core and never listed. Each profile names the code its list comes from.
//!
//! A custom profile is a TOML file (`--profile ./mine.toml`):
//!
//! ```toml
//! name = "my-cni"                      # default: the file name
//! description = "what it is for"       # optional
//! families = ["ipv4", "ipv6"]          # default ["ipv4"]
//! required = ["comment", "target:MASQUERADE", "conntrack@1"]
//! optional = ["statistic"]             # reported, never fails the exit status
//!
//! [[extension]]                        # an entry with its own families
//! spec = "icmp6"
//! families = ["ipv6"]
//! optional = false
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::probe::{Family, Requirement};
use crate::system::fs;

/// The largest profile file read.
pub const MAX_PROFILE_BYTES: u64 = 1 << 20;
/// The most entries (required, optional and `[[extension]]` together) a
/// profile may list: real ones list a few dozen.
pub const MAX_ENTRIES: usize = 4096;
/// The deepest nesting of `[` and `{` accepted in a profile.
pub const MAX_NESTING: usize = 16;

/// The first place where `[`/`{` nest deeper than `limit`, or a line has
/// more than `limit` dots (a dotted key `a.b.c` nests tables too), outside
/// strings and comments, as (depth, 1-based line); `None` if nowhere.
pub fn too_deep(text: &str, limit: usize) -> Option<(usize, usize)> {
    let b = text.as_bytes();
    let (mut i, mut depth, mut line, mut dots) = (0, 0usize, 1, 0usize);
    while i < b.len() {
        match b[i] {
            b'\n' => {
                line += 1;
                dots = 0;
            }
            b'.' => {
                dots += 1;
                if dots > limit {
                    return Some((dots, line));
                }
            }
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            q @ (b'"' | b'\'') => {
                let multi = b[i..].starts_with(&[q, q, q]);
                let width = if multi { 3 } else { 1 };
                i += width;
                while i < b.len() {
                    if b[i] == b'\n' {
                        if !multi {
                            break; // an unterminated string: the parser will say so
                        }
                        line += 1;
                    }
                    if q == b'"' && b[i] == b'\\' {
                        i += 2;
                        continue;
                    }
                    if b[i] == q && (!multi || b[i..].starts_with(&[q, q, q])) {
                        i += width;
                        break;
                    }
                    i += 1;
                }
                continue;
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return Some((depth, line));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
}

/// The profile `xtprobe check`, `doctor` and `ensure` use without
/// arguments: the seed of this project.
pub const DEFAULT: &str = "kuscia";

/// One extension a profile needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Need {
    /// The extension (and revision, if one is required).
    #[serde(serialize_with = "as_string")]
    pub requirement: Requirement,
    /// Families to check it in.
    pub families: Vec<Family>,
    /// Reported, but never fails the exit status.
    pub optional: bool,
    /// Requirements that serve as well, in the order a client tries them
    /// (`-m state` is sent as `conntrack`, else as `state`).
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "all_as_string")]
    pub alternatives: Vec<Requirement>,
    /// For xtables matches and targets: the one interface to ask through
    /// (the rules' client), instead of the command's `--backend`.
    #[serde(skip)]
    pub via: Option<crate::probe::Backend>,
}

impl Need {
    /// A need with no alternatives.
    pub fn new(requirement: Requirement, families: Vec<Family>, optional: bool) -> Self {
        Need { requirement, families, optional, alternatives: Vec::new(), via: None }
    }

    /// The requirement, then its alternatives.
    pub fn candidates(&self) -> impl Iterator<Item = &Requirement> {
        std::iter::once(&self.requirement).chain(&self.alternatives)
    }

    /// `match:conntrack` or `match:conntrack (or match:state)`.
    pub fn describe(&self) -> String {
        let mut s = self.requirement.to_string();
        for a in &self.alternatives {
            s.push_str(&format!(" (or {a})"));
        }
        s
    }
}

fn all_as_string<S: serde::Serializer>(r: &[Requirement], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(r.iter().map(|r| r.to_string()))
}

fn as_string<S: serde::Serializer>(r: &Requirement, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&r.to_string())
}

/// A named set of needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Profile {
    /// Its name.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// Where its list comes from.
    pub sources: Vec<String>,
    /// The iptables rules it stands for, required then optional: what
    /// they need is the client's matter (`needs` holds it for the client
    /// the profile was resolved for).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<ProfileRules>,
    /// The iptables client its rules were read for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<crate::probe::Backend>,
    /// The extensions.
    pub needs: Vec<Need>,
}

/// A profile's rules text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProfileRules {
    /// iptables-save text.
    pub text: String,
    /// Whether a miss is only reported.
    pub optional: bool,
}

/// Why a profile could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// No built-in profile of that name, and not a file.
    #[error("no profile `{0}`: built in are {names}; a custom profile is a path to a .toml file", names = builtin_names().join(", "))]
    Unknown(String),
    /// The file could not be read or parsed.
    #[error("profile {path}: {detail}")]
    File {
        /// The file.
        path: String,
        /// What is wrong.
        detail: String,
    },
}

struct Builtin {
    name: &'static str,
    description: &'static str,
    /// The families its required and optional entries are checked in.
    families: &'static [Family],
    /// Built-in profiles whose required rules and entries this one requires too.
    includes: &'static [&'static str],
    /// The iptables rules it stands for (iptables-save text, `rules/`):
    /// what they require depends on the client that sends them.
    rules: &'static [&'static str],
    /// Rules only some setups have.
    optional_rules: &'static [&'static str],
    /// Requirements beside the rules (nf_tables, ipset).
    required: &'static [&'static str],
    optional: &'static [&'static str],
    /// Entries with their own families: (spec, families, optional).
    per_family: &'static [(&'static str, &'static [Family], bool)],
    sources: &'static [&'static str],
}

const V4: &[Family] = &[Family::Ipv4];
const KUBE_PROXY_RULES: &str = include_str!("rules/kube-proxy.rules");
const INET: &[Family] = &[Family::Inet];

static BUILTINS: &[Builtin] = &[
    Builtin {
        families: V4,
        name: "kuscia",
        includes: &["cni-bridge", "cni-portmap"],
        description: "SecretFlow Kuscia node: the NAT and port-map rules its embedded containerd CNI \
                      (bridge with ipMasq, portmap) writes; on master/autonomy nodes its embedded k3s adds \
                      the kube-proxy set (optional here)",
        rules: &[],
        optional_rules: &[KUBE_PROXY_RULES],
        required: &[],
        optional: &[],
        per_family: &[],
        sources: &[
            "secretflow/kuscia:cmd/kuscia/modules/containerd.go and k3s.go (embedded containerd, CNI, k3s)",
            "containernetworking/plugins:pkg/ip/ipmasq_iptables_linux.go (bridge ipMasq: comment, MASQUERADE)",
            "containernetworking/plugins:plugins/meta/portmap/portmap_iptables.go (addrtype, comment, multiport, mark, DNAT, MARK, MASQUERADE)",
            "secretflow/secretflow#1126: the task stuck in Pending without xt_comment",
        ],
    },
    Builtin {
        families: V4,
        name: "kube-proxy",
        description: "kube-proxy in iptables mode (services, ClientIP affinity, masquerading)",
        includes: &[],
        rules: &[KUBE_PROXY_RULES],
        optional_rules: &[include_str!("rules/kube-proxy.optional.rules")],
        required: &[],
        optional: &["nfacct"],
        per_family: &[],
        sources: &[
            "kubernetes/kubernetes:pkg/proxy/iptables/proxier.go (no ipset: statistic and recent instead)",
        ],
    },
    Builtin {
        families: V4,
        name: "kubelet",
        includes: &[],
        description: "kubelet's own chains (KUBE-FIREWALL)",
        rules: &[include_str!("rules/kubelet.rules")],
        optional_rules: &[],
        required: &[],
        optional: &[],
        per_family: &[],
        sources: &["kubernetes/kubernetes:pkg/kubelet/kubelet_network_linux.go"],
    },
    Builtin {
        families: V4,
        name: "flannel",
        includes: &[],
        description: "flannel's masquerading and forwarding rules",
        rules: &[include_str!("rules/flannel.rules")],
        optional_rules: &[],
        required: &[],
        optional: &[],
        per_family: &[],
        sources: &["flannel-io/flannel:pkg/trafficmngr/iptables/iptables.go"],
    },
    Builtin {
        families: V4,
        name: "calico",
        includes: &[],
        description: "Calico felix in iptables mode",
        rules: &[include_str!("rules/calico.rules")],
        optional_rules: &[],
        required: &[],
        optional: &["u32", "bpf", "ipvs", "ipset:hash:ip,port"],
        per_family: &[
            ("icmp6", &[Family::Ipv6], true),
            ("ipset:hash:net", &[Family::Ipv4], false),
            ("ipset:hash:ip", &[Family::Ipv4], false),
        ],
        sources: &[
            "projectcalico/calico:calicoctl/calicoctl/commands/node/checksystem.go (module list)",
            "projectcalico/calico:felix/dataplane/linux/masq_mgr.go (hash:net pools, always), hostip_mgr.go (hash:ip this-host IPs)",
            "projectcalico/calico:felix/dataplane/ipsets/ipsets_mgr.go (hash:ip,port only for named ports)",
            "projectcalico/calico:felix/rules/static.go (comment is implied by its cali: rule comments; not verified, so optional)",
        ],
    },
    Builtin {
        families: V4,
        name: "cni-bridge",
        description: "the CNI bridge (and ptp) plugin with ipMasq",
        includes: &[],
        rules: &[include_str!("rules/cni-bridge.rules")],
        optional_rules: &[],
        required: &[],
        optional: &[],
        per_family: &[],
        sources: &["containernetworking/plugins:pkg/ip/ipmasq_iptables_linux.go"],
    },
    Builtin {
        families: V4,
        name: "cni-portmap",
        description: "the CNI portmap plugin (hostPort)",
        includes: &[],
        rules: &[include_str!("rules/cni-portmap.rules")],
        optional_rules: &[],
        required: &[],
        optional: &[],
        per_family: &[],
        sources: &["containernetworking/plugins:plugins/meta/portmap/portmap_iptables.go"],
    },
    Builtin {
        families: V4,
        name: "cni-firewall",
        includes: &[],
        description: "the CNI firewall plugin (iptables backend)",
        rules: &[include_str!("rules/cni-firewall.rules")],
        optional_rules: &[],
        required: &[],
        optional: &[],
        per_family: &[],
        sources: &["containernetworking/plugins:plugins/meta/firewall/iptables.go"],
    },
    Builtin {
        families: V4,
        name: "docker",
        includes: &[],
        description: "dockerd's bridge networking (NAT, published ports)",
        rules: &[include_str!("rules/docker.rules")],
        optional_rules: &[],
        required: &[],
        optional: &["set"],
        per_family: &[],
        sources: &["moby/moby:integration/network/bridge/iptablesdoc/generated/new-daemon.md"],
    },
    Builtin {
        families: V4,
        name: "k3s",
        description: "k3s: kube-proxy, flannel and its network policy controller",
        includes: &["kube-proxy", "flannel"],
        rules: &[include_str!("rules/k3s.rules")],
        optional_rules: &[include_str!("rules/kube-proxy.optional.rules")],
        required: &[],
        optional: &["nfacct", "expr:counter", "chain:nat"],
        per_family: &[],
        sources: &[
            "k3s-io/k3s:contrib/util/check-config.sh",
            "k3s-io/k3s#6946 (comment for kube-router)",
            "k3s-io/k3s:pkg/agent/syssetup/setup.go Configure() (preloads nft-expr-counter, nfnetlink-subsys-11, nft-chain-2-nat)",
        ],
    },
    Builtin {
        name: "kube-proxy-nft",
        families: V4,
        description: "kube-proxy in nftables mode (GA in Kubernetes 1.33): `ip kube-proxy` table with filter and \
                      nat chains, verdict maps keyed by address . protocol . port, numgen load balancing, DNAT, \
                      masquerade, reject (dual-stack: --family ipv4,ipv6)",
        includes: &[],
        rules: &[],
        optional_rules: &[],
        required: &[
            "family:ipv4",
            "chain:filter",
            "chain:nat",
            "expr:immediate",
            "expr:payload",
            "expr:cmp",
            "expr:meta",
            "expr:ct",
            "expr:bitwise",
            "expr:lookup",
            "expr:nat",
            "expr:masq",
            "expr:numgen",
            "expr:reject",
            "set:vmap",
            "set:concat",
        ],
        optional: &["expr:fib", "expr:dynset", "set:interval", "set:timeout"],
        per_family: &[],
        sources: &[
            "kubernetes/kubernetes:pkg/proxy/nftables/proxier.go (nftablesBaseChains, setupNFTables, syncProxyRules, writeServiceToEndpointRules: numgen random mod N vmap)",
            "optional: fib (nodePortAddresses match-all, ExternalTrafficPolicy=Local), interval (service CIDR and source-range sets), timeout + dynset (ClientIP affinity)",
            "kubernetes/kubernetes:pkg/proxy/nftables/supported.go (kernel >= 5.13)",
            "smolvm#906: a missing numgen broke kube-proxy on a microVM kernel",
        ],
    },
    Builtin {
        name: "kube-proxy-ipvs",
        families: V4,
        description: "kube-proxy in IPVS mode: the ipsets it creates on every sync and the iptables rules that match them",
        includes: &[],
        rules: &[include_str!("rules/kube-proxy-ipvs.rules")],
        optional_rules: &[include_str!("rules/kube-proxy-ipvs.optional.rules")],
        required: &[
            "ipset:hash:ip,port",
            "ipset:hash:ip,port,ip",
            "ipset:hash:ip,port,net",
            "ipset:bitmap:port",
            "ipset:hash:ip",
        ],
        optional: &[],
        per_family: &[],
        sources: &[
            "kubernetes/kubernetes:pkg/proxy/ipvs/proxier.go (ipsetInfo: every set ensured on every sync; writeIptablesRules)",
            "optional: physdev (externalIPs), ipvs match (LoadBalancerSourceRanges)",
        ],
    },
    Builtin {
        name: "firewalld",
        families: INET,
        description: "firewalld with its nftables backend (the default): `inet firewalld` table",
        includes: &[],
        rules: &[],
        optional_rules: &[],
        required: &[
            "family:inet",
            "chain:filter",
            "chain:nat",
            "expr:meta",
            "expr:payload",
            "expr:cmp",
            "expr:bitwise",
            "expr:ct",
            "expr:immediate",
            "expr:lookup",
            "expr:reject",
            "expr:fib",
            "set:interval",
        ],
        optional: &[
            "expr:log",
            "expr:limit",
            "expr:counter",
            "expr:masq",
            "expr:nat",
            "expr:redir",
            "expr:exthdr",
            "expr:rt",
            "expr:objref",
            "set:concat",
            "set:timeout",
        ],
        per_family: &[],
        sources: &[
            "firewalld/firewalld:src/firewall/core/nftables.py (build_default_rules, build_rpfilter_rules: fib, build_rfc3964_ipv4_rules: interval set)",
            "optional: LogDenied/rich rules (log, limit), NftablesCounters, masquerade/forward-port (masq, nat, redir), tcp-mss-clamp (exthdr, rt), helpers (objref), ipsets as nft sets (concat, timeout)",
            "firewalld#1370: a missing fib module shows as \"Could not process rule: No such file or directory\"",
        ],
    },
    Builtin {
        name: "netavark",
        families: INET,
        description: "podman's netavark with its nftables driver (the default): `inet netavark` table",
        includes: &[],
        rules: &[],
        optional_rules: &[],
        required: &[
            "family:inet",
            "chain:filter",
            "chain:nat",
            "expr:meta",
            "expr:payload",
            "expr:cmp",
            "expr:bitwise",
            "expr:ct",
            "expr:fib",
            "expr:immediate",
            "expr:masq",
            "expr:lookup",
        ],
        optional: &["expr:nat"],
        per_family: &[],
        sources: &[
            "containers/netavark:src/firewall/nft.rs (setup_network: chains, masquerade, fib daddr type local, ct state)",
            "optional: nat (port mappings: dnat; outbound address: snat)",
        ],
    },
    Builtin {
        name: "flannel-nft",
        families: V4,
        description: "flannel with EnableNFTables: `ip flannel-ipv4` and `ip6 flannel-ipv6` tables (both always \
                      created), forward rules and --ip-masq masquerading as the upstream manifest deploys it",
        includes: &[],
        rules: &[],
        optional_rules: &[],
        required: &[
            "family:ipv4",
            "family:ipv6",
            "chain:filter",
            "chain:nat",
            "expr:payload",
            "expr:cmp",
            "expr:immediate",
            "expr:meta",
            "expr:bitwise",
            "expr:masq",
        ],
        optional: &[],
        per_family: &[],
        sources: &[
            "flannel-io/flannel:pkg/trafficmngr/nftables/nftables.go (initTable: both families or an error; SetupAndEnsureForwardRules; addMasqRules: masquerade fully-random)",
            "flannel-io/flannel:Documentation/kube-flannel.yml (--ip-masq)",
        ],
    },
];

/// The names of the built-in profiles.
pub fn builtin_names() -> Vec<&'static str> {
    BUILTINS.iter().map(|b| b.name).collect()
}

fn spec(s: &str) -> Requirement {
    s.parse().unwrap_or_else(|e| panic!("built-in profile entry {s:?}: {e}"))
}

/// A profile's required entries, its includes' first, each entry once.
fn required(b: &Builtin) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for inc in b.includes {
        let included = BUILTINS
            .iter()
            .find(|x| x.name == *inc)
            .unwrap_or_else(|| panic!("{} includes unknown {inc}", b.name));
        out.extend(required(included));
    }
    out.extend(b.required.iter().copied());
    let mut seen = std::collections::BTreeSet::new();
    out.retain(|s| seen.insert(*s));
    out
}

/// A profile's rules, its includes' first.
fn rules_of(b: &Builtin) -> (Vec<&'static str>, Vec<&'static str>) {
    let (mut req, mut opt) = (Vec::new(), Vec::new());
    for inc in b.includes {
        let included = BUILTINS
            .iter()
            .find(|x| x.name == *inc)
            .unwrap_or_else(|| panic!("{} includes unknown {inc}", b.name));
        let (r, o) = rules_of(included);
        req.extend(r);
        opt.extend(o);
    }
    req.extend(b.rules.iter().copied());
    opt.extend(b.optional_rules.iter().copied());
    req.dedup();
    opt.retain(|o| !req.contains(o));
    opt.dedup();
    (req, opt)
}

/// What `text` (iptables-save rules of profile `name`) needs when
/// `client` sends it, as needs in `families`.
fn needs_of_rules(
    text: &str,
    name: &str,
    client: crate::probe::Backend,
    optional: bool,
) -> Result<Vec<Need>, ProfileError> {
    use crate::ruleset::restore::{self, Defaults};
    use crate::ruleset::save::SavedBackend;
    let backend =
        if client == crate::probe::Backend::Legacy { SavedBackend::Legacy } else { SavedBackend::Nft };
    let tally = restore::read(text, name, Defaults { family: Family::Ipv4, backend, force: true })
        .map_err(|e| ProfileError::File { path: name.to_string(), detail: format!("rules: {e}") })?;
    Ok(tally
        .entries()
        .into_iter()
        .filter(|e| e.askable)
        .map(|e| Need {
            requirement: e.requirement,
            families: e.families,
            optional,
            alternatives: e.alternatives,
            via: e.via,
        })
        .collect())
}

fn from_builtin(b: &Builtin, client: crate::probe::Backend) -> Profile {
    let v4 = b.families.to_vec();
    let mut needs = Vec::new();
    let (rules, optional_rules) = rules_of(b);
    for (texts, optional) in [(&rules, false), (&optional_rules, true)] {
        for text in texts.iter() {
            needs.extend(
                needs_of_rules(text, b.name, client, optional)
                    .unwrap_or_else(|e| panic!("built-in profile {}: {e}", b.name)),
            );
        }
    }
    let req = required(b);
    let optional: Vec<&str> = b.optional.iter().copied().filter(|o| !req.contains(o)).collect();
    for (list, optional) in [(req.as_slice(), false), (optional.as_slice(), true)] {
        needs.extend(list.iter().map(|s| Need::new(spec(s), v4.clone(), optional)));
    }
    needs.extend(b.per_family.iter().map(|(s, f, optional)| Need::new(spec(s), f.to_vec(), *optional)));
    let mut all_rules: Vec<ProfileRules> =
        rules.iter().map(|t| ProfileRules { text: t.to_string(), optional: false }).collect();
    all_rules.extend(optional_rules.iter().map(|t| ProfileRules { text: t.to_string(), optional: true }));
    Profile {
        name: b.name.to_string(),
        description: b.description.to_string(),
        sources: b.sources.iter().map(|s| s.to_string()).collect(),
        client: (!all_rules.is_empty()).then_some(client),
        rules: all_rules,
        needs: normalize_needs(needs),
    }
}

/// Each requirement once (families joined, required if any entry is), each entry's families
/// as its kind understands them ([`Family::expand`]: `inet` is ipv4 and
/// ipv6 for xtables and ipset; a `family:` requirement is asked in the
/// family it names) and once each, in order; linear in the number of
/// entries.
pub fn normalize_needs(needs: Vec<Need>) -> Vec<Need> {
    // The same requirement twice is one entry: its families joined, and
    // required if any entry requires it (an optional line must never
    // hide a required one).
    type Key = (Requirement, Vec<Requirement>, Option<crate::probe::Backend>);
    let mut order: Vec<Key> = Vec::new();
    let mut merged: std::collections::HashMap<Key, Need> = std::collections::HashMap::new();
    for n in needs {
        let key = (n.requirement.clone(), n.alternatives.clone(), n.via);
        match merged.get_mut(&key) {
            Some(m) => {
                m.families.extend(n.families);
                m.optional &= n.optional;
            }
            None => {
                order.push(key.clone());
                merged.insert(key, n);
            }
        }
    }
    order
        .into_iter()
        .filter_map(|r| merged.remove(&r))
        .map(|mut n| {
            let ext = &n.requirement.extension;
            let named = Family::parse(&ext.name);
            let mut fams = std::collections::HashSet::new();
            n.families = n
                .families
                .iter()
                .flat_map(|f| f.expand(ext.kind, named))
                .chain(if ext.kind == crate::probe::Kind::Family { named } else { None })
                .filter(|f| fams.insert(*f))
                .collect();
            n
        })
        .collect()
}

/// Every built-in profile, its rules read for `client` (nft: iptables-nft).
pub fn builtins(client: crate::probe::Backend) -> Vec<Profile> {
    BUILTINS.iter().map(|b| from_builtin(b, client)).collect()
}

/// A built-in profile by name, or a custom one from a `.toml` path, its
/// rules read for `client` (nft: iptables-nft; legacy: iptables-legacy).
pub fn resolve(arg: &str, client: crate::probe::Backend) -> Result<Profile, ProfileError> {
    if let Some(b) = BUILTINS.iter().find(|b| b.name == arg) {
        return Ok(from_builtin(b, client));
    }
    if arg.contains('/') || arg.ends_with(".toml") {
        return load_file(Path::new(arg), client);
    }
    Err(ProfileError::Unknown(arg.to_string()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileProfile {
    name: Option<String>,
    description: Option<String>,
    families: Option<Vec<String>>,
    #[serde(default)]
    required: Vec<String>,
    #[serde(default)]
    optional: Vec<String>,
    #[serde(default)]
    extension: Vec<FileEntry>,
    /// iptables-save text: what it needs depends on the client.
    rules: Option<String>,
    /// The same, reported but never failing.
    optional_rules: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEntry {
    spec: String,
    families: Option<Vec<String>>,
    #[serde(default)]
    optional: bool,
}

/// Reads a custom profile (schema in the module documentation).
pub fn load_file(path: &Path, client: crate::probe::Backend) -> Result<Profile, ProfileError> {
    let err = |detail: String| ProfileError::File { path: path.display().to_string(), detail };
    let bytes = fs::read_file(path, MAX_PROFILE_BYTES, "a profile").map_err(|e| {
        let text = e.to_string();
        err(text.strip_prefix(&format!("{}: ", path.display())).unwrap_or(&text).to_string())
    })?;
    let default_name =
        path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "custom".into());
    parse(&bytes, &path.display().to_string(), &default_name, client)
}

/// Parses the bytes of a custom profile; `source` names it in errors and
/// in the profile's sources, `default_name` is its name unless it sets one.
pub fn parse(
    bytes: &[u8],
    source: &str,
    default_name: &str,
    client: crate::probe::Backend,
) -> Result<Profile, ProfileError> {
    let err = |detail: String| ProfileError::File { path: source.to_string(), detail };
    let text =
        std::str::from_utf8(bytes).map_err(|e| err(format!("not UTF-8 text (byte {})", e.valid_up_to())))?;
    // The TOML parser recurses once per level of `[`/`{`: refuse deep
    // nesting before it sees the text, so no file can overflow the stack.
    if let Some((depth, line)) = too_deep(text, MAX_NESTING) {
        return Err(err(format!(
            "line {line}: arrays or tables nested {depth} deep; a profile needs at most 2 (the limit is {MAX_NESTING})"
        )));
    }
    let file: FileProfile = basic_toml::from_str(text).map_err(|e| err(e.to_string()))?;
    let families = |list: &Option<Vec<String>>, default: &[Family]| -> Result<Vec<Family>, ProfileError> {
        match list {
            None => Ok(default.to_vec()),
            Some(l) if l.is_empty() => Err(err("`families` is empty".into())),
            Some(l) => {
                // Each family once, in order (a list of 10 000 "arp" is one).
                let mut out: Vec<Family> = Vec::new();
                for f in l {
                    let fam = Family::parse(f).ok_or_else(|| {
                        err(format!("unknown family `{f}` (ipv4, ipv6, inet, arp, bridge, netdev)"))
                    })?;
                    if !out.contains(&fam) {
                        out.push(fam);
                    }
                }
                Ok(out)
            }
        }
    };
    let entries = file.required.len() + file.optional.len() + file.extension.len();
    if entries > MAX_ENTRIES {
        return Err(err(format!("{entries} entries; a profile may list at most {MAX_ENTRIES}")));
    }
    let default = families(&file.families, &[Family::Ipv4])?;
    let parse = |s: &str| s.parse::<Requirement>().map_err(|e| err(format!("`{s}`: {e}")));
    let mut needs = Vec::new();
    for (list, optional) in [(&file.required, false), (&file.optional, true)] {
        for s in list {
            needs.push(Need::new(parse(s)?, default.clone(), optional));
        }
    }
    for e in &file.extension {
        needs.push(Need::new(parse(&e.spec)?, families(&e.families, &default)?, e.optional));
    }
    let mut rules = Vec::new();
    for (text, optional) in [(&file.rules, false), (&file.optional_rules, true)] {
        if let Some(text) = text {
            let mut from_rules = needs_of_rules(text, source, client, optional).map_err(|e| match e {
                ProfileError::File { detail, .. } => err(detail),
                other => other,
            })?;
            // The rules' own families give way to the profile's (`families = ["ipv4", "ipv6"]`:
            // the same rules written by iptables and ip6tables).
            if file.families.is_some() {
                for n in &mut from_rules {
                    if n.requirement.extension.kind != crate::probe::Kind::Family {
                        n.families = default.clone();
                    }
                }
            }
            needs.extend(from_rules);
            rules.push(ProfileRules { text: text.clone(), optional });
        }
    }
    if needs.len() > MAX_ENTRIES {
        return Err(err(format!("{} entries; a profile may list at most {MAX_ENTRIES}", needs.len())));
    }
    if needs.is_empty() && rules.is_empty() {
        return Err(err("no extensions: give `required`, `optional`, `[[extension]]` or `rules`".into()));
    }
    let needs = normalize_needs(needs);
    Ok(Profile {
        name: file.name.unwrap_or_else(|| default_name.to_string()),
        description: file.description.unwrap_or_default(),
        sources: vec![source.to_string()],
        client: (!rules.is_empty()).then_some(client),
        rules,
        needs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::Backend;

    #[test]
    fn a_duplicate_entry_never_hides_a_required_one() {
        let text = b"optional = [\"comment\"]\n[[extension]]\nspec = \"comment\"\nfamilies = [\"ipv6\"]\n";
        let p = parse(text, "t", "t", Backend::Nft).unwrap();
        assert_eq!(p.needs.len(), 1);
        assert!(!p.needs[0].optional, "required by the second entry");
        assert_eq!(p.needs[0].families, [Family::Ipv4, Family::Ipv6]);
    }

    #[test]
    fn nf_tables_profiles_ask_in_their_families() {
        let fw = resolve("firewalld", Backend::Nft).unwrap();
        let fib = fw.needs.iter().find(|n| n.requirement.to_string() == "expr:fib").unwrap();
        assert_eq!(fib.families, [Family::Inet], "firewalld's table is inet");
        // A family requirement is asked in the family it names.
        let flannel = resolve("flannel-nft", Backend::Nft).unwrap();
        let v6 = flannel.needs.iter().find(|n| n.requirement.to_string() == "family:ipv6").unwrap();
        assert_eq!(v6.families, [Family::Ipv6]);
        // inet stands for ipv4 and ipv6 where there is no inet (xtables, ipset).
        let p = parse(
            b"families = [\"inet\"]\nrequired = [\"comment\", \"expr:ct\", \"ipset:hash:ip\"]\n",
            "t",
            "t",
            Backend::Nft,
        )
        .unwrap();
        let fams: Vec<Vec<Family>> = p.needs.iter().map(|n| n.families.clone()).collect();
        assert_eq!(
            fams,
            [vec![Family::Ipv4, Family::Ipv6], vec![Family::Inet], vec![Family::Ipv4, Family::Ipv6]]
        );
        let ipvs = resolve("kube-proxy-ipvs", Backend::Nft).unwrap();
        assert!(ipvs.needs.iter().any(|n| n.requirement.to_string() == "ipset:bitmap:port" && !n.optional));
    }

    #[test]
    fn every_builtin_parses_and_kuscia_needs_comment() {
        let all = builtins(Backend::Nft);
        assert_eq!(all.len(), 15);
        for p in &all {
            assert!(!p.needs.is_empty() && !p.sources.is_empty(), "{}", p.name);
        }
        let k = resolve(DEFAULT, Backend::Nft).unwrap();
        let comment = k.needs.iter().find(|n| n.requirement.extension.name == "comment").unwrap();
        assert!(!comment.optional);
        assert_eq!(comment.families, vec![Family::Ipv4]);
        let names = |p: &Profile, optional: bool| -> Vec<String> {
            p.needs.iter().filter(|n| n.optional == optional).map(|n| n.requirement.to_string()).collect()
        };
        // The rules of the CNI bridge and portmap plugins, as iptables-nft
        // sends them: mark, tcp and udp become payload and meta matches.
        assert_eq!(
            names(&k, false),
            [
                "match:comment",
                "target:MASQUERADE",
                "chain:nat",
                "family:ipv4",
                "match:addrtype",
                "match:multiport",
                "target:DNAT",
                "target:MARK"
            ]
        );
        // As iptables-legacy sends them: every extension, and the table.
        let legacy = resolve(DEFAULT, Backend::Legacy).unwrap();
        assert_eq!(
            names(&legacy, false),
            [
                "match:comment",
                "target:MASQUERADE",
                "table:nat",
                "match:addrtype",
                "match:mark",
                "match:multiport",
                "match:tcp",
                "match:udp",
                "target:DNAT",
                "target:MARK"
            ]
        );
        // kube-proxy's endpoint DNAT rules name `-m tcp` without a port:
        // iptables-nft keeps that as the xtables tcp match.
        let kp = names(&resolve("kube-proxy", Backend::Nft).unwrap(), false);
        assert!(kp.contains(&"match:tcp".to_string()), "{kp:?}");
        // k3s = kube-proxy ∪ flannel ∪ {multiport, set, REJECT}, each once.
        let k3s = names(&resolve("k3s", Backend::Nft).unwrap(), false);
        for e in
            ["match:statistic", "match:recent", "match:multiport", "match:set", "target:REJECT", "chain:nat"]
        {
            assert_eq!(k3s.iter().filter(|x| *x == e).count(), 1, "{e} in {k3s:?}");
        }
        let calico = resolve("calico", Backend::Nft).unwrap();
        let icmp6 = calico.needs.iter().find(|n| n.requirement.extension.name == "icmp6").unwrap();
        assert_eq!(icmp6.families, vec![Family::Ipv6]);
    }

    #[test]
    fn custom_profiles_from_toml() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("mine.toml");
        std::fs::write(
            &p,
            "families = [\"ipv4\", \"ipv6\"]\nrequired = [\"comment\", \"target:MASQUERADE\"]\noptional = [\"statistic\"]\n\
             [[extension]]\nspec = \"icmp6\"\nfamilies = [\"ipv6\"]\n",
        )
        .unwrap();
        let prof = resolve(p.to_str().unwrap(), Backend::Nft).unwrap();
        assert_eq!(prof.name, "mine");
        assert_eq!(prof.needs.len(), 4);
        assert_eq!(prof.needs[0].families, vec![Family::Ipv4, Family::Ipv6]);
        assert!(prof.needs[2].optional);
        assert_eq!(prof.needs[3].families, vec![Family::Ipv6]);

        for (body, needle) in [
            ("required = [\"comment@999\"]\n", "0 to 255"),
            ("required = [\"comment\"]\nfamilies = [\"inet9\"]\n", "unknown family"),
            ("requird = [\"comment\"]\n", "unknown field"),
            ("name = \"x\"\n", "no extensions"),
            ("rules = \"*filter\\n-A INPUT -m\\nCOMMIT\\n\"\n", "rules: "),
            ("required = [", ""),
        ] {
            std::fs::write(&p, body).unwrap();
            let e = resolve(p.to_str().unwrap(), Backend::Nft).unwrap_err().to_string();
            assert!(e.contains("mine.toml") && e.contains(needle), "{body:?}: {e}");
        }
        assert!(matches!(resolve("nosuchprofile", Backend::Nft), Err(ProfileError::Unknown(_))));
        // Rules in a custom profile: what they need depends on the client.
        std::fs::write(&p, "rules = \"\"\"\n*filter\n-A INPUT -p tcp --dport 22 -j LOG\nCOMMIT\n\"\"\"\n")
            .unwrap();
        let names = |c| -> Vec<String> {
            resolve(p.to_str().unwrap(), c).unwrap().needs.iter().map(|n| n.requirement.to_string()).collect()
        };
        assert_eq!(names(Backend::Nft), ["target:LOG", "chain:filter", "family:ipv4", "logger:syslog"]);
        assert_eq!(names(Backend::Legacy), ["match:tcp", "target:LOG", "table:filter", "logger:syslog"]);
        assert!(resolve("./missing.toml", Backend::Nft).unwrap_err().to_string().contains("missing.toml"));
    }
}
