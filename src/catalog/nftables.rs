//! Which kernel option and module provide each nf_tables expression type,
//! chain type, family and set feature.
//!
//! Derived from Linux 6.12's `net/netfilter/Makefile` (`nf_tables-objs`:
//! the types built into nf_tables itself; `obj-$(CONFIG_NFT_…)`: the
//! modules), `net/ipv4/netfilter/Makefile`, `net/ipv6/netfilter/Makefile`,
//! `net/bridge/netfilter/Makefile` and the `MODULE_ALIAS_NFT_EXPR` /
//! `MODULE_ALIAS_NFT_AF_EXPR` / `MODULE_ALIAS_NFT_CHAIN` lines. Families are
//! `bool` options inside nf_tables (bridge is `tristate` but compiled into
//! nf_tables as well); set backends are built in since 5.x.

use super::Provider;
use crate::probe::{Family, Kind};

const fn x(name: &'static str, config: &'static [&'static str], module: &'static str) -> Provider {
    Provider { kind: Kind::Expr, name, family: None, config, module }
}

const fn only(family: Family, p: Provider) -> Provider {
    Provider { family: Some(family), ..p }
}

/// Built into nf_tables.ko (`nf_tables-objs`).
const CORE: &[&str] = &["CONFIG_NF_TABLES"];

/// The table.
pub static PROVIDERS: &[Provider] = &[
    x("bitwise", CORE, "nf_tables"),
    x("byteorder", CORE, "nf_tables"),
    x("cmp", CORE, "nf_tables"),
    x("connlimit", &["CONFIG_NFT_CONNLIMIT"], "nft_connlimit"),
    x("counter", CORE, "nf_tables"),
    x("ct", &["CONFIG_NFT_CT"], "nft_ct"),
    // In a bridge table, conntrack needs the bridge's own tracker.
    only(Family::Bridge, x("ct", &["CONFIG_NF_CONNTRACK_BRIDGE"], "nf_conntrack_bridge")),
    only(Family::Bridge, x("connlimit", &["CONFIG_NF_CONNTRACK_BRIDGE"], "nf_conntrack_bridge")),
    only(Family::Bridge, x("synproxy", &["CONFIG_NF_CONNTRACK_BRIDGE"], "nf_conntrack_bridge")),
    only(Family::Ipv4, x("dup", &["CONFIG_NFT_DUP_IPV4"], "nft_dup_ipv4")),
    only(Family::Ipv6, x("dup", &["CONFIG_NFT_DUP_IPV6"], "nft_dup_ipv6")),
    only(Family::Netdev, x("dup", &["CONFIG_NFT_DUP_NETDEV"], "nft_dup_netdev")),
    x("dynset", CORE, "nf_tables"),
    x("exthdr", CORE, "nf_tables"),
    only(Family::Ipv4, x("fib", &["CONFIG_NFT_FIB_IPV4"], "nft_fib_ipv4")),
    only(Family::Ipv6, x("fib", &["CONFIG_NFT_FIB_IPV6"], "nft_fib_ipv6")),
    only(Family::Inet, x("fib", &["CONFIG_NFT_FIB_INET"], "nft_fib_inet")),
    only(Family::Netdev, x("fib", &["CONFIG_NFT_FIB_NETDEV"], "nft_fib_netdev")),
    only(Family::Netdev, x("fwd", &["CONFIG_NFT_FWD_NETDEV"], "nft_fwd_netdev")),
    x("hash", &["CONFIG_NFT_HASH"], "nft_hash"),
    x("immediate", CORE, "nf_tables"),
    x("last", CORE, "nf_tables"),
    x("limit", &["CONFIG_NFT_LIMIT"], "nft_limit"),
    x("log", &["CONFIG_NFT_LOG"], "nft_log"),
    x("lookup", CORE, "nf_tables"),
    x("masq", &["CONFIG_NFT_MASQ"], "nft_masq"),
    x("meta", CORE, "nf_tables"),
    x("nat", &["CONFIG_NFT_NAT"], "nft_nat"),
    x("notrack", &["CONFIG_NFT_CT"], "nft_ct"),
    x("numgen", &["CONFIG_NFT_NUMGEN"], "nft_numgen"),
    x("objref", CORE, "nf_tables"),
    x("osf", &["CONFIG_NFT_OSF"], "nft_osf"),
    x("payload", CORE, "nf_tables"),
    x("queue", &["CONFIG_NFT_QUEUE"], "nft_queue"),
    x("quota", &["CONFIG_NFT_QUOTA"], "nft_quota"),
    x("range", CORE, "nf_tables"),
    x("redir", &["CONFIG_NFT_REDIR"], "nft_redir"),
    only(Family::Ipv4, x("reject", &["CONFIG_NFT_REJECT_IPV4"], "nft_reject_ipv4")),
    only(Family::Ipv6, x("reject", &["CONFIG_NFT_REJECT_IPV6"], "nft_reject_ipv6")),
    only(Family::Inet, x("reject", &["CONFIG_NFT_REJECT_INET"], "nft_reject_inet")),
    only(Family::Bridge, x("reject", &["CONFIG_NFT_BRIDGE_REJECT"], "nft_reject_bridge")),
    only(Family::Netdev, x("reject", &["CONFIG_NFT_REJECT_NETDEV"], "nft_reject_netdev")),
    x("rt", CORE, "nf_tables"),
    x("socket", &["CONFIG_NFT_SOCKET"], "nft_socket"),
    x("synproxy", &["CONFIG_NFT_SYNPROXY"], "nft_synproxy"),
    x("tproxy", &["CONFIG_NFT_TPROXY"], "nft_tproxy"),
    x("xfrm", &["CONFIG_NFT_XFRM"], "nft_xfrm"),
    // Chain types: filter and route are part of nf_tables; nat is a module.
    Provider { kind: Kind::Chain, name: "filter", family: None, config: CORE, module: "nf_tables" },
    Provider {
        kind: Kind::Chain,
        name: "nat",
        family: None,
        config: &["CONFIG_NFT_NAT"],
        module: "nft_chain_nat",
    },
    Provider { kind: Kind::Chain, name: "route", family: None, config: CORE, module: "nf_tables" },
    // Families: options inside nf_tables.
    fam("ipv4", &["CONFIG_NF_TABLES_IPV4"]),
    fam("ipv6", &["CONFIG_NF_TABLES_IPV6"]),
    fam("inet", &["CONFIG_NF_TABLES_INET"]),
    fam("arp", &["CONFIG_NF_TABLES_ARP"]),
    fam("bridge", &["CONFIG_NF_TABLES_BRIDGE"]),
    fam("netdev", &["CONFIG_NF_TABLES_NETDEV"]),
    // Set features: the backends (hash, rbtree, bitmap, pipapo) are part of
    // nf_tables.
    set("concat"),
    set("concat-interval"),
    set("interval"),
    set("map"),
    set("timeout"),
    set("vmap"),
];

const fn fam(name: &'static str, config: &'static [&'static str]) -> Provider {
    Provider { kind: Kind::Family, name, family: None, config, module: "nf_tables" }
}

const fn set(name: &'static str) -> Provider {
    Provider { kind: Kind::Set, name, family: None, config: CORE, module: "nf_tables" }
}
