//! Which kernel option and module provide each requirement, and which
//! module names the kernel itself asks for when it lacks one.
//!
//! One table per subsystem: [`xt`] (matches and targets), [`nftables`]
//! (expressions, chain types, families, set features) and [`ipset`] (set
//! types, by rule). These tables only explain; whether something works is
//! always the kernel's answer ([`crate::probe`]).

pub mod beneath;
pub mod ipset;
pub mod nftables;
pub mod xt;

use crate::probe::nftables::recipe;
use crate::probe::{Extension, Family, Kind, Subsystem};

/// One table row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Provider {
    /// What kind of requirement.
    pub kind: Kind,
    /// Its name.
    pub name: &'static str,
    /// Only for this family (`None`: every family).
    pub family: Option<Family>,
    /// Kconfig symbols, current first; any being `y`/`m` provides it.
    pub config: &'static [&'static str],
    /// The mainline module (`xt_comment`, `nft_numgen`), or the module it is
    /// built into (`nf_tables`, `x_tables` family names in `xt_tcpudp`).
    pub module: &'static str,
}

/// What provides one requirement in one family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provision {
    /// Kconfig symbols, current first.
    pub config: Vec<String>,
    /// The module.
    pub module: String,
}

/// What provides `ext` in `family`, if the tables know it.
pub fn provider(ext: &Extension, family: Family) -> Option<Provision> {
    let owned = |config: &[&str], module: &str| Provision {
        config: config.iter().map(|s| s.to_string()).collect(),
        module: module.to_string(),
    };
    match ext.kind {
        Kind::Ipset => {
            ipset::provider(&ext.name).map(|(module, config)| Provision { config: vec![config], module })
        }
        _ => table_entry(ext, family).map(|p| owned(p.config, p.module)),
    }
}

/// The table row for `ext` in `family`: the family's own row first.
fn table_entry(ext: &Extension, family: Family) -> Option<&'static Provider> {
    let table = match ext.kind {
        Kind::Match | Kind::Target => xt::PROVIDERS,
        Kind::Table | Kind::Logger | Kind::Helper | Kind::Object | Kind::Textsearch => beneath::PROVIDERS,
        _ => nftables::PROVIDERS,
    };
    let rows = || table.iter().filter(|p| p.kind == ext.kind && p.name == ext.name);
    rows().find(|p| p.family == Some(family)).or_else(|| rows().find(|p| p.family.is_none()))
}

/// The module queries for `ext` missing in `families`: first the names
/// the kernel itself requests (its autoload aliases: `ipt_comment`,
/// `nft-expr-2-fib`, `nft-chain-2-nat`, `ip_set_hash:ip,port`), then the
/// mainline module from the tables, then a last guess (`xt_NAME`); each once.
pub fn module_queries(ext: &Extension, families: &[Family]) -> Vec<String> {
    let name = &ext.name;
    let mut q: Vec<String> = Vec::new();
    match ext.kind {
        Kind::Match | Kind::Target => {
            q.extend(families.iter().filter_map(|f| f.module_prefix()).map(|p| format!("{p}{name}")));
        }
        Kind::Expr => {
            // A family's extra provider (the bridge's conntrack, where the
            // generic nft_ct may be loaded already) first.
            let generic = table_entry(ext, Family::Ipv4).filter(|p| p.family.is_none());
            for f in families {
                if let (Some(p), Some(_)) = (table_entry(ext, *f).filter(|p| p.family.is_some()), generic) {
                    q.push(p.module.to_string());
                }
            }
            q.extend(families.iter().map(|f| format!("nft-expr-{}-{name}", f.nfproto())));
            q.push(format!("nft-expr-{name}"));
            // `log` also needs a logger (nf_log_syslog), which nft_log asks
            // for by this alias at rule time.
            if name == "log" {
                q.extend(families.iter().map(|f| format!("nf-logger-{}-0", f.nfproto())));
            }
        }
        Kind::Chain => q.extend(families.iter().map(|f| format!("nft-chain-{}-{name}", f.nfproto()))),
        // Before 4.17 each family was a module with this alias.
        Kind::Family => {
            q.extend(Family::parse(name).map(|f| format!("nft-afinfo-{}", f.nfproto())));
        }
        Kind::Set => {}
        Kind::Ipset => q.push(format!("ip_set_{name}")),
        Kind::Table => {
            let prefix = |f: &Family| match f {
                Family::Ipv4 => Some("iptable_"),
                Family::Ipv6 => Some("ip6table_"),
                Family::Arp => Some("arptable_"),
                _ => None,
            };
            q.extend(families.iter().filter_map(prefix).map(|p| format!("{p}{name}")));
        }
        Kind::Logger => {
            if let Some(l) = recipe::logger(name) {
                q.extend(families.iter().map(|f| format!("nf-logger-{}-{}", f.nfproto(), l.log_type)));
            }
        }
        Kind::Helper => q.push(format!("nfct-helper-{name}")),
        Kind::Object => match recipe::object(name).map(|o| o.number) {
            Some(Some(n)) => q.push(format!("nft-obj-{n}")),
            Some(None) => q.extend(families.iter().map(|f| format!("nf-flowtable-{}", f.nfproto()))),
            None => {}
        },
        Kind::Textsearch => q.push(format!("ts_{name}")),
    }
    for f in families {
        if let Some(p) = provider(ext, *f) {
            q.push(p.module);
        }
        q.extend(
            xt::EARLIER
                .iter()
                .filter(|p| p.kind == ext.kind && p.name == ext.name && p.family.is_none_or(|pf| pf == *f))
                .map(|p| p.module.to_string()),
        );
    }
    if ext.kind.is_xt() {
        q.push(format!("xt_{name}"));
    }
    let mut seen = std::collections::BTreeSet::new();
    q.retain(|s| seen.insert(s.clone()));
    q
}

/// Something a prober itself needs before it can ask anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prerequisite {
    /// The module (or built-in part) that provides it.
    pub module: &'static str,
    /// Its kernel option.
    pub config: &'static str,
    /// The alias the kernel autoloads it by (`nfnetlink-subsys-N`).
    pub alias: &'static str,
}

/// nfnetlink: the `NETLINK_NETFILTER` socket (`net-pf-16-proto-12`).
pub const NFNETLINK: Prerequisite =
    Prerequisite { module: "nfnetlink", config: "CONFIG_NETFILTER_NETLINK", alias: "net-pf-16-proto-12" };
/// nf_tables (`NFNL_SUBSYS_NFTABLES` = 10).
pub const NF_TABLES: Prerequisite =
    Prerequisite { module: "nf_tables", config: "CONFIG_NF_TABLES", alias: "nfnetlink-subsys-10" };
/// nft_compat (`NFNL_SUBSYS_NFT_COMPAT` = 11).
pub const NFT_COMPAT: Prerequisite =
    Prerequisite { module: "nft_compat", config: "CONFIG_NFT_COMPAT", alias: "nfnetlink-subsys-11" };
/// ip_tables: the legacy sockopts (`IPT_SO_*`), which the kernel never
/// autoloads (`nf_sockopt_find()`); iptables-legacy runs modprobe for it.
pub const IP_TABLES: Prerequisite =
    Prerequisite { module: "ip_tables", config: "CONFIG_IP_NF_IPTABLES", alias: "ip_tables" };
/// The option of a legacy sockopt module (`ip_tables`, `ip6_tables`, `arp_tables`).
pub fn legacy_config(module: &str) -> &'static str {
    match module {
        "ip6_tables" => "CONFIG_IP6_NF_IPTABLES",
        "arp_tables" => "CONFIG_IP_NF_ARPTABLES",
        _ => "CONFIG_IP_NF_IPTABLES",
    }
}

/// ip_set (`NFNL_SUBSYS_IPSET` = 6).
pub const IP_SET: Prerequisite =
    Prerequisite { module: "ip_set", config: "CONFIG_IP_SET", alias: "nfnetlink-subsys-6" };

/// What the prober of `subsystem` needs, in load order.
pub fn prerequisites(subsystem: Subsystem) -> &'static [Prerequisite] {
    match subsystem {
        Subsystem::Xt => &[NFNETLINK, NF_TABLES, NFT_COMPAT],
        Subsystem::Nftables => &[NFNETLINK, NF_TABLES],
        Subsystem::Ipset => &[NFNETLINK, IP_SET],
        Subsystem::LegacyTables => &[IP_TABLES],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(s: &str) -> Extension {
        s.parse::<crate::probe::Requirement>().unwrap().extension
    }

    #[test]
    fn lookups_respect_kind_and_family() {
        let c = provider(&Extension::matching("comment"), Family::Ipv6).unwrap();
        assert_eq!(c.config, ["CONFIG_NETFILTER_XT_MATCH_COMMENT"]);
        assert_eq!(c.module, "xt_comment");
        assert_eq!(provider(&Extension::target("REJECT"), Family::Ipv6).unwrap().module, "ip6t_REJECT");
        assert_eq!(provider(&Extension::target("REJECT"), Family::Ipv4).unwrap().module, "ipt_REJECT");
        assert!(provider(&Extension::target("REJECT"), Family::Arp).is_none());
        assert!(provider(&Extension::target("comment"), Family::Ipv4).is_none(), "kind matters");
        assert!(provider(&Extension::matching("MARK"), Family::Ipv4).is_none(), "case matters");
        assert_eq!(provider(&ext("expr:numgen"), Family::Inet).unwrap().module, "nft_numgen");
        assert_eq!(provider(&ext("expr:fib"), Family::Inet).unwrap().module, "nft_fib_inet");
        assert_eq!(provider(&ext("expr:counter"), Family::Arp).unwrap().module, "nf_tables");
        assert_eq!(provider(&ext("chain:nat"), Family::Ipv6).unwrap().config, ["CONFIG_NFT_NAT"]);
        assert_eq!(
            provider(&ext("family:bridge"), Family::Bridge).unwrap().config,
            ["CONFIG_NF_TABLES_BRIDGE"]
        );
        assert_eq!(provider(&ext("ipset:hash:ip,port"), Family::Ipv4).unwrap().module, "ip_set_hash_ipport");
    }

    #[test]
    fn queries_follow_the_kernel_aliases() {
        let q = module_queries(&Extension::target("REJECT"), &[Family::Ipv4, Family::Ipv6]);
        assert_eq!(q, ["ipt_REJECT", "ip6t_REJECT", "xt_REJECT"]);
        let q = module_queries(&Extension::matching("comment"), &[Family::Ipv4]);
        assert_eq!(q, ["ipt_comment", "xt_comment"]);
        let q = module_queries(&ext("expr:fib"), &[Family::Ipv4, Family::Inet]);
        assert_eq!(q, ["nft-expr-2-fib", "nft-expr-1-fib", "nft-expr-fib", "nft_fib_ipv4", "nft_fib_inet"]);
        assert_eq!(module_queries(&ext("chain:nat"), &[Family::Ipv4]), ["nft-chain-2-nat", "nft_chain_nat"]);
        assert_eq!(module_queries(&ext("family:bridge"), &[Family::Bridge]), ["nft-afinfo-7", "nf_tables"]);
        assert_eq!(
            module_queries(&ext("ipset:hash:ip,port"), &[Family::Ipv4, Family::Ipv6]),
            ["ip_set_hash:ip,port", "ip_set_hash_ipport"]
        );
    }

    #[test]
    fn no_duplicate_entries() {
        for table in [xt::PROVIDERS, nftables::PROVIDERS] {
            for (i, a) in table.iter().enumerate() {
                for b in &table[i + 1..] {
                    assert!(
                        !(a.kind == b.kind && a.name == b.name && a.family == b.family),
                        "{} {} twice",
                        a.kind,
                        a.name
                    );
                }
            }
        }
    }

    #[test]
    fn every_nf_tables_name_xtprobe_asks_has_a_provider() {
        use crate::probe::nftables::recipe;
        for r in recipe::EXPRS {
            for &f in Family::ALL.iter().filter(|f| r.applies(**f)) {
                assert!(provider(&Extension::new(Kind::Expr, r.name), f).is_some(), "expr:{} in {f}", r.name);
            }
        }
        for t in recipe::CHAIN_TYPES {
            assert!(provider(&Extension::new(Kind::Chain, t), Family::Ipv4).is_some(), "chain:{t}");
        }
        for s in recipe::SET_FEATURES {
            assert!(provider(&Extension::new(Kind::Set, s.name), Family::Ipv4).is_some(), "set:{}", s.name);
        }
        for f in Family::ALL {
            assert!(provider(&Extension::new(Kind::Family, f.as_str()), f).is_some(), "family:{f}");
        }
    }
}
