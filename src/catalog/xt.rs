//! Which kernel option and mainline module provide each xtables extension.
//!
//! Derived from Linux 6.12's `net/netfilter/Makefile`,
//! `net/ipv4/netfilter/Makefile` and `net/ipv6/netfilter/Makefile` (the
//! `obj-$(CONFIG_…) += xt_foo.o` lines) and the `.name` each module
//! registers. Where an option was renamed, the older spelling follows the
//! current one (`IP_NF_TARGET_MASQUERADE` before 5.2), as k8s'
//! system-validators lists aliases. Extensions not listed here are looked
//! up by their module alias only; their option is reported as unknown.

use super::Provider;
use crate::probe::{Family, Kind};

const fn m(name: &'static str, config: &'static [&'static str], module: &'static str) -> Provider {
    Provider { kind: Kind::Match, name, family: None, config, module }
}

const fn t(name: &'static str, config: &'static [&'static str], module: &'static str) -> Provider {
    Provider { kind: Kind::Target, name, family: None, config, module }
}

const fn v4(p: Provider) -> Provider {
    Provider { family: Some(Family::Ipv4), ..p }
}

const fn v6(p: Provider) -> Provider {
    Provider { family: Some(Family::Ipv6), ..p }
}

/// Providers before a move: until 6.4 the icmp and icmp6 matches were
/// part of ip_tables and ip6_tables (6.4 moved them to xt_tcpudp). Tried
/// after the current one.
pub static EARLIER: &[Provider] = &[
    v4(m("icmp", &["CONFIG_IP_NF_IPTABLES"], "ip_tables")),
    v6(m("icmp6", &["CONFIG_IP6_NF_IPTABLES"], "ip6_tables")),
];

/// The table.
pub static PROVIDERS: &[Provider] = &[
    m("addrtype", &["CONFIG_NETFILTER_XT_MATCH_ADDRTYPE"], "xt_addrtype"),
    v4(m("ah", &["CONFIG_IP_NF_MATCH_AH"], "ipt_ah")),
    v6(m("ah", &["CONFIG_IP6_NF_MATCH_AH"], "ip6t_ah")),
    m("bpf", &["CONFIG_NETFILTER_XT_MATCH_BPF"], "xt_bpf"),
    m("cgroup", &["CONFIG_NETFILTER_XT_MATCH_CGROUP"], "xt_cgroup"),
    m("cluster", &["CONFIG_NETFILTER_XT_MATCH_CLUSTER"], "xt_cluster"),
    m("comment", &["CONFIG_NETFILTER_XT_MATCH_COMMENT"], "xt_comment"),
    m("connbytes", &["CONFIG_NETFILTER_XT_MATCH_CONNBYTES"], "xt_connbytes"),
    m("connlabel", &["CONFIG_NETFILTER_XT_MATCH_CONNLABEL"], "xt_connlabel"),
    m("connlimit", &["CONFIG_NETFILTER_XT_MATCH_CONNLIMIT"], "xt_connlimit"),
    m("connmark", &["CONFIG_NETFILTER_XT_CONNMARK", "CONFIG_NETFILTER_XT_MATCH_CONNMARK"], "xt_connmark"),
    m("conntrack", &["CONFIG_NETFILTER_XT_MATCH_CONNTRACK"], "xt_conntrack"),
    m("cpu", &["CONFIG_NETFILTER_XT_MATCH_CPU"], "xt_cpu"),
    m("dccp", &["CONFIG_NETFILTER_XT_MATCH_DCCP"], "xt_dccp"),
    m("devgroup", &["CONFIG_NETFILTER_XT_MATCH_DEVGROUP"], "xt_devgroup"),
    m("dscp", &["CONFIG_NETFILTER_XT_MATCH_DSCP"], "xt_dscp"),
    m("ecn", &["CONFIG_NETFILTER_XT_MATCH_ECN"], "xt_ecn"),
    m("esp", &["CONFIG_NETFILTER_XT_MATCH_ESP"], "xt_esp"),
    m("hashlimit", &["CONFIG_NETFILTER_XT_MATCH_HASHLIMIT"], "xt_hashlimit"),
    m("helper", &["CONFIG_NETFILTER_XT_MATCH_HELPER"], "xt_helper"),
    m("hl", &["CONFIG_NETFILTER_XT_MATCH_HL"], "xt_hl"),
    m("icmp", &["CONFIG_NETFILTER_XTABLES"], "xt_tcpudp"),
    m("icmp6", &["CONFIG_NETFILTER_XTABLES"], "xt_tcpudp"),
    m("ipcomp", &["CONFIG_NETFILTER_XT_MATCH_IPCOMP"], "xt_ipcomp"),
    m("iprange", &["CONFIG_NETFILTER_XT_MATCH_IPRANGE"], "xt_iprange"),
    m("ipvs", &["CONFIG_NETFILTER_XT_MATCH_IPVS"], "xt_ipvs"),
    m("l2tp", &["CONFIG_NETFILTER_XT_MATCH_L2TP"], "xt_l2tp"),
    m("length", &["CONFIG_NETFILTER_XT_MATCH_LENGTH"], "xt_length"),
    m("limit", &["CONFIG_NETFILTER_XT_MATCH_LIMIT"], "xt_limit"),
    m("mac", &["CONFIG_NETFILTER_XT_MATCH_MAC"], "xt_mac"),
    m("mark", &["CONFIG_NETFILTER_XT_MARK", "CONFIG_NETFILTER_XT_MATCH_MARK"], "xt_mark"),
    m("multiport", &["CONFIG_NETFILTER_XT_MATCH_MULTIPORT"], "xt_multiport"),
    m("nfacct", &["CONFIG_NETFILTER_XT_MATCH_NFACCT"], "xt_nfacct"),
    m("owner", &["CONFIG_NETFILTER_XT_MATCH_OWNER"], "xt_owner"),
    m("physdev", &["CONFIG_NETFILTER_XT_MATCH_PHYSDEV"], "xt_physdev"),
    m("pkttype", &["CONFIG_NETFILTER_XT_MATCH_PKTTYPE"], "xt_pkttype"),
    m("policy", &["CONFIG_NETFILTER_XT_MATCH_POLICY"], "xt_policy"),
    m("quota", &["CONFIG_NETFILTER_XT_MATCH_QUOTA"], "xt_quota"),
    m("rateest", &["CONFIG_NETFILTER_XT_MATCH_RATEEST"], "xt_rateest"),
    m("realm", &["CONFIG_NETFILTER_XT_MATCH_REALM"], "xt_realm"),
    m("recent", &["CONFIG_NETFILTER_XT_MATCH_RECENT"], "xt_recent"),
    v4(m("rpfilter", &["CONFIG_IP_NF_MATCH_RPFILTER"], "ipt_rpfilter")),
    v6(m("rpfilter", &["CONFIG_IP6_NF_MATCH_RPFILTER"], "ip6t_rpfilter")),
    m("sctp", &["CONFIG_NETFILTER_XT_MATCH_SCTP"], "xt_sctp"),
    m("set", &["CONFIG_NETFILTER_XT_SET"], "xt_set"),
    m("socket", &["CONFIG_NETFILTER_XT_MATCH_SOCKET"], "xt_socket"),
    m("state", &["CONFIG_NETFILTER_XT_MATCH_STATE"], "xt_state"),
    m("statistic", &["CONFIG_NETFILTER_XT_MATCH_STATISTIC"], "xt_statistic"),
    m("string", &["CONFIG_NETFILTER_XT_MATCH_STRING"], "xt_string"),
    m("tcp", &["CONFIG_NETFILTER_XTABLES"], "xt_tcpudp"),
    m("tcpmss", &["CONFIG_NETFILTER_XT_MATCH_TCPMSS"], "xt_tcpmss"),
    m("time", &["CONFIG_NETFILTER_XT_MATCH_TIME"], "xt_time"),
    m("tos", &["CONFIG_NETFILTER_XT_MATCH_DSCP"], "xt_dscp"),
    m("ttl", &["CONFIG_NETFILTER_XT_MATCH_HL"], "xt_hl"),
    m("u32", &["CONFIG_NETFILTER_XT_MATCH_U32"], "xt_u32"),
    m("udp", &["CONFIG_NETFILTER_XTABLES"], "xt_tcpudp"),
    t("AUDIT", &["CONFIG_NETFILTER_XT_TARGET_AUDIT"], "xt_AUDIT"),
    t("CHECKSUM", &["CONFIG_NETFILTER_XT_TARGET_CHECKSUM"], "xt_CHECKSUM"),
    t("CLASSIFY", &["CONFIG_NETFILTER_XT_TARGET_CLASSIFY"], "xt_CLASSIFY"),
    t("CONNMARK", &["CONFIG_NETFILTER_XT_CONNMARK", "CONFIG_NETFILTER_XT_TARGET_CONNMARK"], "xt_connmark"),
    t("CT", &["CONFIG_NETFILTER_XT_TARGET_CT"], "xt_CT"),
    t("DNAT", &["CONFIG_NETFILTER_XT_NAT", "CONFIG_IP_NF_NAT"], "xt_nat"),
    t("DSCP", &["CONFIG_NETFILTER_XT_TARGET_DSCP"], "xt_DSCP"),
    t("HMARK", &["CONFIG_NETFILTER_XT_TARGET_HMARK"], "xt_HMARK"),
    t("IDLETIMER", &["CONFIG_NETFILTER_XT_TARGET_IDLETIMER"], "xt_IDLETIMER"),
    t("LOG", &["CONFIG_NETFILTER_XT_TARGET_LOG"], "xt_LOG"),
    t("MARK", &["CONFIG_NETFILTER_XT_MARK", "CONFIG_NETFILTER_XT_TARGET_MARK"], "xt_mark"),
    t(
        "MASQUERADE",
        &["CONFIG_NETFILTER_XT_TARGET_MASQUERADE", "CONFIG_IP_NF_TARGET_MASQUERADE"],
        "xt_MASQUERADE",
    ),
    t("NETMAP", &["CONFIG_NETFILTER_XT_TARGET_NETMAP", "CONFIG_IP_NF_TARGET_NETMAP"], "xt_NETMAP"),
    t("NFLOG", &["CONFIG_NETFILTER_XT_TARGET_NFLOG"], "xt_NFLOG"),
    t("NFQUEUE", &["CONFIG_NETFILTER_XT_TARGET_NFQUEUE"], "xt_NFQUEUE"),
    t("NOTRACK", &["CONFIG_NETFILTER_XT_TARGET_CT"], "xt_CT"),
    t("REDIRECT", &["CONFIG_NETFILTER_XT_TARGET_REDIRECT", "CONFIG_IP_NF_TARGET_REDIRECT"], "xt_REDIRECT"),
    v4(t("REJECT", &["CONFIG_IP_NF_TARGET_REJECT"], "ipt_REJECT")),
    v6(t("REJECT", &["CONFIG_IP6_NF_TARGET_REJECT"], "ip6t_REJECT")),
    t("SECMARK", &["CONFIG_NETFILTER_XT_TARGET_SECMARK"], "xt_SECMARK"),
    t("SET", &["CONFIG_NETFILTER_XT_SET"], "xt_set"),
    t("SNAT", &["CONFIG_NETFILTER_XT_NAT", "CONFIG_IP_NF_NAT"], "xt_nat"),
    t("TCPMSS", &["CONFIG_NETFILTER_XT_TARGET_TCPMSS"], "xt_TCPMSS"),
    t("TEE", &["CONFIG_NETFILTER_XT_TARGET_TEE"], "xt_TEE"),
    t("TOS", &["CONFIG_NETFILTER_XT_TARGET_DSCP"], "xt_DSCP"),
    t("TPROXY", &["CONFIG_NETFILTER_XT_TARGET_TPROXY"], "xt_TPROXY"),
    t("TRACE", &["CONFIG_NETFILTER_XT_TARGET_TRACE"], "xt_TRACE"),
    t("TTL", &["CONFIG_NETFILTER_XT_TARGET_HL"], "xt_HL"),
];
