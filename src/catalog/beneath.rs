//! What stands behind a rule besides its matches, targets and expressions,
//! and which kernel option and module provide it: the legacy xtables
//! tables, the packet loggers, the conntrack helpers, the nf_tables
//! object types and flowtables, and the textsearch algorithms.
//!
//! Derived from Linux 6.12: `net/ipv4/netfilter/Makefile` and
//! `net/ipv6/netfilter/Makefile` (`iptable_*`, `ip6table_*`);
//! `net/netfilter/Makefile` (`nf_log_syslog`, `nfnetlink_log`,
//! `nf_conntrack_*`, `nft_*`, `nf_flow_table_inet`); `lib/Makefile`
//! (`ts_*`). The aliases the kernel requests for each are in
//! [`super::module_queries`].

use super::Provider;
use crate::probe::{Family, Kind};

const fn row(
    kind: Kind,
    name: &'static str,
    family: Option<Family>,
    config: &'static [&'static str],
    module: &'static str,
) -> Provider {
    Provider { kind, name, family, config, module }
}

const V4: Option<Family> = Some(Family::Ipv4);
const V6: Option<Family> = Some(Family::Ipv6);

/// The legacy tables, the loggers, the helpers, the object types and the
/// textsearch algorithms. Before 5.12 the syslog loggers were nf_log_ipv4
/// and nf_log_ipv6 (their options follow the current one).
pub static PROVIDERS: &[Provider] = &[
    row(Kind::Table, "filter", V4, &["CONFIG_IP_NF_FILTER"], "iptable_filter"),
    row(Kind::Table, "filter", V6, &["CONFIG_IP6_NF_FILTER"], "ip6table_filter"),
    row(Kind::Table, "filter", Some(Family::Arp), &["CONFIG_IP_NF_ARPFILTER"], "arptable_filter"),
    row(Kind::Table, "nat", V4, &["CONFIG_IP_NF_NAT"], "iptable_nat"),
    row(Kind::Table, "nat", V6, &["CONFIG_IP6_NF_NAT"], "ip6table_nat"),
    row(Kind::Table, "mangle", V4, &["CONFIG_IP_NF_MANGLE"], "iptable_mangle"),
    row(Kind::Table, "mangle", V6, &["CONFIG_IP6_NF_MANGLE"], "ip6table_mangle"),
    row(Kind::Table, "raw", V4, &["CONFIG_IP_NF_RAW"], "iptable_raw"),
    row(Kind::Table, "raw", V6, &["CONFIG_IP6_NF_RAW"], "ip6table_raw"),
    row(Kind::Table, "security", V4, &["CONFIG_IP_NF_SECURITY"], "iptable_security"),
    row(Kind::Table, "security", V6, &["CONFIG_IP6_NF_SECURITY"], "ip6table_security"),
    row(Kind::Logger, "syslog", V4, &["CONFIG_NF_LOG_SYSLOG", "CONFIG_NF_LOG_IPV4"], "nf_log_syslog"),
    row(Kind::Logger, "syslog", V6, &["CONFIG_NF_LOG_SYSLOG", "CONFIG_NF_LOG_IPV6"], "nf_log_syslog"),
    row(Kind::Logger, "syslog", None, &["CONFIG_NF_LOG_SYSLOG"], "nf_log_syslog"),
    row(Kind::Logger, "nflog", None, &["CONFIG_NETFILTER_NETLINK_LOG"], "nfnetlink_log"),
    row(Kind::Helper, "amanda", None, &["CONFIG_NF_CONNTRACK_AMANDA"], "nf_conntrack_amanda"),
    row(Kind::Helper, "ftp", None, &["CONFIG_NF_CONNTRACK_FTP"], "nf_conntrack_ftp"),
    row(Kind::Helper, "irc", None, &["CONFIG_NF_CONNTRACK_IRC"], "nf_conntrack_irc"),
    row(Kind::Helper, "netbios-ns", None, &["CONFIG_NF_CONNTRACK_NETBIOS_NS"], "nf_conntrack_netbios_ns"),
    row(Kind::Helper, "pptp", None, &["CONFIG_NF_CONNTRACK_PPTP"], "nf_conntrack_pptp"),
    row(Kind::Helper, "Q.931", None, &["CONFIG_NF_CONNTRACK_H323"], "nf_conntrack_h323"),
    row(Kind::Helper, "RAS", None, &["CONFIG_NF_CONNTRACK_H323"], "nf_conntrack_h323"),
    row(Kind::Helper, "sane", None, &["CONFIG_NF_CONNTRACK_SANE"], "nf_conntrack_sane"),
    row(Kind::Helper, "sip", None, &["CONFIG_NF_CONNTRACK_SIP"], "nf_conntrack_sip"),
    row(Kind::Helper, "snmp", None, &["CONFIG_NF_CONNTRACK_SNMP"], "nf_conntrack_snmp"),
    row(Kind::Helper, "snmp_trap", None, &["CONFIG_NF_NAT_SNMP_BASIC"], "nf_nat_snmp_basic"),
    row(Kind::Helper, "tftp", None, &["CONFIG_NF_CONNTRACK_TFTP"], "nf_conntrack_tftp"),
    row(Kind::Object, "counter", None, &["CONFIG_NF_TABLES"], "nf_tables"),
    row(Kind::Object, "quota", None, &["CONFIG_NFT_QUOTA"], "nft_quota"),
    row(Kind::Object, "ct-helper", None, &["CONFIG_NFT_CT"], "nft_ct"),
    row(Kind::Object, "limit", None, &["CONFIG_NFT_LIMIT"], "nft_limit"),
    row(Kind::Object, "connlimit", None, &["CONFIG_NFT_CONNLIMIT"], "nft_connlimit"),
    row(Kind::Object, "tunnel", None, &["CONFIG_NFT_TUNNEL"], "nft_tunnel"),
    row(Kind::Object, "ct-timeout", None, &["CONFIG_NFT_CT", "CONFIG_NF_CONNTRACK_TIMEOUT"], "nft_ct"),
    row(Kind::Object, "secmark", None, &["CONFIG_NF_TABLES", "CONFIG_NETWORK_SECMARK"], "nf_tables"),
    row(Kind::Object, "ct-expectation", None, &["CONFIG_NFT_CT"], "nft_ct"),
    row(Kind::Object, "synproxy", None, &["CONFIG_NFT_SYNPROXY"], "nft_synproxy"),
    row(Kind::Object, "flowtable", None, &["CONFIG_NF_FLOW_TABLE_INET"], "nf_flow_table_inet"),
    row(Kind::Textsearch, "bm", None, &["CONFIG_TEXTSEARCH_BM"], "ts_bm"),
    row(Kind::Textsearch, "kmp", None, &["CONFIG_TEXTSEARCH_KMP"], "ts_kmp"),
];
