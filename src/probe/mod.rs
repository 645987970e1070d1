//! Asking the running kernel what netfilter it has.
//!
//! Three subsystems answer, each in its own module over the shared
//! `NETLINK_NETFILTER` layer ([`socket`], [`exchange`], [`wire`]):
//! - [`xt`]: xtables matches and targets (`-m comment`, `-j MASQUERADE`),
//!   through nft_compat or the legacy getsockopt;
//! - [`nftables`]: nf_tables expression types, chain types, families and
//!   set features, through validate-only batches that commit nothing;
//! - [`ipset`]: ipset set types and their revisions (`IPSET_CMD_TYPE`).
//!
//! One [`Requirement`] type covers all of them; its [`Kind`] says which
//! subsystem answers. Every question may make the kernel try to autoload
//! the module that provides the answer, as the real clients do.
//!
//! This module never loads modules and never reads module files; [`crate::kmod`]
//! does that, and [`crate::app`] joins the two.

pub mod consts;
pub mod exchange;
pub mod generation;
pub mod ipset;
pub mod nftables;
pub mod socket;
pub mod spec;
pub mod wire;
pub mod xt;

use std::fmt;

use serde::Serialize;

pub use crate::system::Errno;
pub use spec::{Requirement, SpecError};
pub use xt::walk::{RevisionAnswer, Revisions};

/// What is required: an xtables match or target, an nf_tables expression
/// type, chain type, family or set feature, or an ipset set type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// An xtables match: `NFTA_COMPAT_TYPE` 0, `*_SO_GET_REVISION_MATCH`.
    Match,
    /// An xtables target: `NFTA_COMPAT_TYPE` 1, `*_SO_GET_REVISION_TARGET`.
    Target,
    /// An nf_tables expression type (`NFTA_EXPR_NAME`): `numgen`, `ct`.
    Expr,
    /// An nf_tables chain type (`NFTA_CHAIN_TYPE`): `filter`, `nat`, `route`.
    Chain,
    /// An nf_tables family (`nfgen_family` of `NFT_MSG_NEWTABLE`).
    Family,
    /// An nf_tables set feature: `map`, `vmap`, `interval`, `concat`, `timeout`.
    Set,
    /// An ipset set type (`IPSET_ATTR_TYPENAME`): `hash:ip,port`.
    Ipset,
    /// A legacy xtables table (`iptable_nat`): what iptables-legacy opens
    /// with `IPT_SO_GET_INFO` before it touches a rule.
    Table,
    /// A packet logger behind a log rule (`nf_logger_find_get()`):
    /// `syslog` (`NF_LOG_TYPE_LOG`: LOG, `log`) or `nflog`
    /// (`NF_LOG_TYPE_ULOG`: NFLOG, `log group N`).
    Logger,
    /// A conntrack helper (`nfct-helper-NAME`): `ftp`, `sip`, for `CT
    /// --helper` and nf_tables `ct helper` objects.
    Helper,
    /// An nf_tables stateful object type (`NFTA_OBJ_TYPE`: `quota`,
    /// `ct-helper`, …) or a flowtable (`flowtable`).
    Object,
    /// A textsearch algorithm (`ts_bm`) behind `-m string --algo`.
    Textsearch,
}

/// Which part of netfilter answers for a [`Kind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Subsystem {
    /// xtables, through nft_compat or the legacy sockopts.
    Xt,
    /// nf_tables itself.
    Nftables,
    /// ipset (`NFNL_SUBSYS_IPSET`).
    Ipset,
    /// The legacy xtables tables (`*_SO_GET_INFO`).
    LegacyTables,
}

impl Kind {
    /// Every kind, in output order.
    pub const ALL: [Kind; 12] = [
        Kind::Match,
        Kind::Target,
        Kind::Expr,
        Kind::Chain,
        Kind::Family,
        Kind::Set,
        Kind::Ipset,
        Kind::Table,
        Kind::Logger,
        Kind::Helper,
        Kind::Object,
        Kind::Textsearch,
    ];

    /// The lowercase word used in output and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Match => "match",
            Kind::Target => "target",
            Kind::Expr => "expr",
            Kind::Chain => "chain",
            Kind::Family => "family",
            Kind::Set => "set",
            Kind::Ipset => "ipset",
            Kind::Table => "table",
            Kind::Logger => "logger",
            Kind::Helper => "helper",
            Kind::Object => "object",
            Kind::Textsearch => "textsearch",
        }
    }

    /// Parses a kind word (`m`, `t` and `j` are short for match and target).
    pub fn parse(word: &str) -> Option<Kind> {
        Some(match word.to_ascii_lowercase().as_str() {
            "match" | "m" => Kind::Match,
            "target" | "t" | "j" => Kind::Target,
            "expr" => Kind::Expr,
            "chain" => Kind::Chain,
            "family" => Kind::Family,
            "set" => Kind::Set,
            "ipset" => Kind::Ipset,
            "table" => Kind::Table,
            "logger" => Kind::Logger,
            "helper" => Kind::Helper,
            "object" => Kind::Object,
            "textsearch" => Kind::Textsearch,
            _ => return None,
        })
    }

    /// The subsystem that answers.
    pub fn subsystem(self) -> Subsystem {
        match self {
            Kind::Match | Kind::Target => Subsystem::Xt,
            // Loggers, helpers and textsearch algorithms are asked with
            // validate-only nf_tables batches too (see nftables::recipe).
            Kind::Expr
            | Kind::Chain
            | Kind::Family
            | Kind::Set
            | Kind::Logger
            | Kind::Helper
            | Kind::Object
            | Kind::Textsearch => Subsystem::Nftables,
            Kind::Ipset => Subsystem::Ipset,
            Kind::Table => Subsystem::LegacyTables,
        }
    }

    /// Whether the kernel versions this kind with revisions (`NAME@REV`).
    pub fn has_revisions(self) -> bool {
        matches!(self, Kind::Match | Kind::Target | Kind::Ipset)
    }

    /// Whether a family other than the one asked about makes sense: an
    /// xtables match and target swap roles (`-m MARK` vs `-j MARK`).
    pub fn is_xt(self) -> bool {
        self.subsystem() == Subsystem::Xt
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A netfilter protocol family, as `NFPROTO_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// `NFPROTO_IPV4`: iptables, nft `ip`.
    Ipv4,
    /// `NFPROTO_IPV6`: ip6tables, nft `ip6`.
    Ipv6,
    /// `NFPROTO_INET`: nft `inet` (IPv4 and IPv6 in one table). For
    /// xtables and ipset it stands for both ipv4 and ipv6.
    Inet,
    /// `NFPROTO_ARP`: arptables, nft `arp`.
    Arp,
    /// `NFPROTO_BRIDGE`: ebtables, nft `bridge`.
    Bridge,
    /// `NFPROTO_NETDEV`: nft `netdev` (ingress/egress per device).
    Netdev,
}

impl Family {
    /// All families, in output order.
    pub const ALL: [Family; 6] =
        [Family::Ipv4, Family::Ipv6, Family::Inet, Family::Arp, Family::Bridge, Family::Netdev];

    /// The `NFPROTO_*` value (`nfgen_family` on the wire).
    pub fn nfproto(self) -> u8 {
        match self {
            Family::Ipv4 => consts::NFPROTO_IPV4,
            Family::Ipv6 => consts::NFPROTO_IPV6,
            Family::Inet => consts::NFPROTO_INET,
            Family::Arp => consts::NFPROTO_ARP,
            Family::Bridge => consts::NFPROTO_BRIDGE,
            Family::Netdev => consts::NFPROTO_NETDEV,
        }
    }

    /// The prefix of the module name the kernel requests for an unknown
    /// xtables extension in this family (`ipt_comment`, `ip6t_comment`, …);
    /// `None` for the families xtables does not have.
    pub fn module_prefix(self) -> Option<&'static str> {
        match self {
            Family::Ipv4 => Some("ipt_"),
            Family::Ipv6 => Some("ip6t_"),
            Family::Arp => Some("arpt_"),
            Family::Bridge => Some("ebt_"),
            Family::Inet | Family::Netdev => None,
        }
    }

    /// The lowercase word used in output and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Ipv4 => "ipv4",
            Family::Ipv6 => "ipv6",
            Family::Inet => "inet",
            Family::Arp => "arp",
            Family::Bridge => "bridge",
            Family::Netdev => "netdev",
        }
    }

    /// The word `nft` uses for this family (`ip`, `ip6`, `inet`, …).
    pub fn nft_word(self) -> &'static str {
        match self {
            Family::Ipv4 => "ip",
            Family::Ipv6 => "ip6",
            other => other.as_str(),
        }
    }

    /// Parses `ipv4`, `ipv6`, `inet`, `arp`, `bridge`, `netdev`, and the
    /// names the iptables and nft tools use (`ip`, `ip6`, `inet6`, `eb`).
    pub fn parse(s: &str) -> Option<Family> {
        match s.to_ascii_lowercase().as_str() {
            "ipv4" | "ip" | "ip4" => Some(Family::Ipv4),
            "ipv6" | "ip6" | "inet6" => Some(Family::Ipv6),
            "inet" => Some(Family::Inet),
            "arp" => Some(Family::Arp),
            "bridge" | "eb" | "ebtables" => Some(Family::Bridge),
            "netdev" => Some(Family::Netdev),
            _ => None,
        }
    }

    /// The families a question about `kind` is really asked in when the
    /// user names `self`: xtables, ipset, loggers and helpers have no
    /// `inet` family, so it stands for ipv4 and ipv6 there (an inet `log`
    /// rule takes both families' loggers, `nf_logger_find_get()`); an
    /// nf_tables family question is about the family it names, whatever
    /// `--family` says (`named`).
    pub fn expand(self, kind: Kind, named: Option<Family>) -> Vec<Family> {
        match (kind, self) {
            (Kind::Family, _) => named.into_iter().collect(),
            (
                Kind::Match | Kind::Target | Kind::Ipset | Kind::Table | Kind::Logger | Kind::Helper,
                Family::Inet,
            ) => vec![Family::Ipv4, Family::Ipv6],
            _ => vec![self],
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which kernel interface answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// nfnetlink `NFNL_MSG_COMPAT_GET` (what iptables-nft uses).
    Nft,
    /// getsockopt `*_SO_GET_REVISION_*` (what iptables-legacy uses).
    Legacy,
    /// nf_tables validate-only batches (what `nft --check` does).
    Nftables,
    /// `IPSET_CMD_TYPE` (what the ipset tool asks before `create`).
    Ipset,
}

impl Backend {
    /// The lowercase word used in output and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Nft => "nft",
            Backend::Legacy => "legacy",
            Backend::Nftables => "nftables",
            Backend::Ipset => "ipset",
        }
    }

    /// The interfaces that answer for `kind` when xtables questions go to
    /// `xt` (the `--backend` choice): nf_tables and ipset kinds have one.
    pub fn for_kind(kind: Kind, xt: &[Backend]) -> Vec<Backend> {
        match kind.subsystem() {
            Subsystem::Xt => xt.to_vec(),
            Subsystem::Nftables => vec![Backend::Nftables],
            Subsystem::Ipset => vec![Backend::Ipset],
            Subsystem::LegacyTables => vec![Backend::Legacy],
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a requirement names: a kind and its exact, case-sensitive name
/// (`match:comment`, `expr:numgen`, `ipset:hash:ip,port`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Extension {
    /// What kind of thing it is.
    pub kind: Kind,
    /// The name as the kernel registers it: `comment`, `MASQUERADE`,
    /// `numgen`, `nat`; for [`Kind::Family`] the family's word.
    pub name: String,
}

impl Extension {
    /// `kind:name`.
    pub fn new(kind: Kind, name: &str) -> Self {
        Self { kind, name: name.to_string() }
    }

    /// A match named `name`.
    pub fn matching(name: &str) -> Self {
        Self { kind: Kind::Match, name: name.to_string() }
    }

    /// A target named `name`.
    pub fn target(name: &str) -> Self {
        Self { kind: Kind::Target, name: name.to_string() }
    }
}

impl fmt::Display for Extension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.name)
    }
}

/// Why a backend could not answer at all. Unlike "not registered", these
/// leave the question open, so they map to exit code 3.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    /// The kernel refused for lack of a capability.
    #[error(
        "the kernel refused the query (EPERM): {cap} is needed in the user namespace that owns \
         this network namespace; run as root, or as any user inside `unshare -rn` (the extension \
         registry is global, so a private namespace gives the same answer)"
    )]
    PermissionDenied {
        /// `CAP_NET_ADMIN` or `CAP_NET_RAW`.
        cap: &'static str,
    },
    /// `socket(AF_NETLINK, …, NETLINK_NETFILTER)` failed with EPROTONOSUPPORT:
    /// the nfnetlink module is not loaded (the kernel's own autoload of
    /// `net-pf-16-proto-12` failed), or the kernel lacks it altogether.
    #[error(
        "cannot probe: nfnetlink is not loaded (socket(NETLINK_NETFILTER): EPROTONOSUPPORT); run \
         `xtprobe ensure` to load it, or, if the kernel was built without CONFIG_NETFILTER_NETLINK, \
         iptables-nft cannot work here either"
    )]
    NoNfnetlink,
    /// The compat GET failed with EINVAL although the request is well-formed.
    #[error("{}", compat_unavailable_text(*nf_tables_reachable, ext_ack))]
    CompatUnavailable {
        /// Whether `NFT_MSG_GETGEN` succeeded, i.e. nf_tables itself works.
        nf_tables_reachable: bool,
        /// The kernel's extended-ACK text, if any.
        ext_ack: Option<String>,
    },
    /// The legacy sockopts are not registered (ENOPROTOOPT).
    #[error(
        "the legacy ip_tables interface is not loaded (getsockopt: ENOPROTOOPT): module \
         {module} is absent, so only the nft backend can answer; use --backend nft"
    )]
    LegacyNotLoaded {
        /// `ip_tables`, `ip6_tables` or `arp_tables`.
        module: &'static str,
    },
    /// nf_tables refused the batch: the subsystem is not there
    /// (`NFNL_MSG_BATCH_BEGIN` answered EOPNOTSUPP after the kernel's own
    /// `nfnetlink-subsys-10` autoload).
    #[error(
        "cannot probe: nf_tables is not available (the batch was refused with EOPNOTSUPP): load \
         nf_tables (`xtprobe ensure family:ipv4`), or, if the kernel was built without CONFIG_NF_TABLES, \
         nft cannot work here either"
    )]
    NoNftables,
    /// ipset answered EINVAL for its whole subsystem: ip_set is not there.
    #[error(
        "cannot probe: ipset is not available (NFNL_SUBSYS_IPSET: EINVAL): load ip_set (`xtprobe \
         ensure ipset:hash:ip`), or, if the kernel was built without CONFIG_IP_SET, the ipset tool \
         cannot work here either"
    )]
    NoIpset,
    /// The nf_tables family the question was asked in is missing, so the
    /// question has no answer there.
    #[error("cannot ask: this kernel's nf_tables has no {family} family (family:{family} is missing)")]
    FamilyAbsent {
        /// The family.
        family: Family,
    },
    /// The kernel knows the type but refused xtprobe's minimal use of it:
    /// not a verdict.
    #[error(
        "{what}: the kernel has it but refused xtprobe's minimal use of it ({op}: {errno}{}); this \
         is not a verdict — `nft --check` with a real rule tells more",
        ext_ack.as_ref().map(|m| format!(", kernel: {m}")).unwrap_or_default()
    )]
    Rejected {
        /// What was asked: `expr:numgen`.
        what: String,
        /// The message refused.
        op: &'static str,
        /// Its errno.
        errno: Errno,
        /// The kernel's extended-ACK text, if any.
        ext_ack: Option<String>,
    },
    /// The deadline passed before the kernel answered.
    #[error(
        "the kernel did not answer within {}: {pending}. For a name it does not know, the kernel runs \
         its module autoloader (kernel.modprobe) inside the request and waits for it: that program did \
         not return (a hung modprobe, a slow disk); check it, or empty kernel.modprobe to turn autoload off",
        seconds(*.budget_ms)
    )]
    Timeout {
        /// The time it was given, in milliseconds.
        budget_ms: u64,
        /// What it was asked when time ran out.
        pending: String,
    },
    /// The kernel acknowledged without answering.
    #[error("the kernel acknowledged the query without answering it (request not processed)")]
    BareAck,
    /// A reply that could not be decoded.
    #[error("malformed reply from the kernel: {0}")]
    Wire(#[from] wire::WireError),
    /// Any other errno from the kernel or a syscall.
    #[error(
        "{op}: {errno}{}; {}",
        ext_ack.as_ref().map(|m| format!(" (kernel: {m})")).unwrap_or_default(),
        os_remedy(*errno)
    )]
    Os {
        /// The operation that failed.
        op: &'static str,
        /// The errno's name, e.g. `ENOMEM`.
        errno: Errno,
        /// The kernel's extended-ACK text, if any.
        ext_ack: Option<String>,
    },
}

/// What to do about an errno no specific variant covers. Each arm names
/// where the errno comes from on the probe's paths.
fn os_remedy(errno: Errno) -> &'static str {
    match errno.0 {
        // recvmmsg: the socket's receive queue overflowed and the kernel
        // dropped replies (netlink_overrun).
        libc::ENOBUFS => {
            "the kernel dropped replies for lack of socket buffer; run again (fewer extensions per run if it persists)"
        }
        // Allocation failures in nfnetlink or the reply skb.
        libc::ENOMEM => "the kernel is short of memory; run again later",
        // socket(AF_INET6, SOCK_RAW) on a kernel without IPv6.
        libc::EAFNOSUPPORT => "this kernel has no IPv6; leave ipv6 out of --family",
        // recvmmsg: a datagram larger than our buffer (never for these requests).
        libc::EMSGSIZE => "an unexpectedly large reply; this is a bug in xtprobe, please report it",
        // The legacy getsockopt refusing struct xt_get_revision's size.
        libc::EINVAL => "the kernel rejected the request's layout; use --backend nft, and report this",
        // A legacy question the sockopts cannot express (arp match, bridge).
        libc::EOPNOTSUPP => "this backend cannot ask about that family; use --backend nft",
        libc::EINTR | libc::EAGAIN => "interrupted; run again",
        _ => "unexpected here; `--backend legacy` (or nft) may still answer, and dmesg may say more",
    }
}

fn seconds(ms: u64) -> String {
    if ms.is_multiple_of(1000) { format!("{} s", ms / 1000) } else { format!("{:.3} s", ms as f64 / 1000.0) }
}

fn compat_unavailable_text(nf_tables: bool, ext_ack: &Option<String>) -> String {
    let extra = ext_ack.as_ref().map(|m| format!(" (kernel: {m})")).unwrap_or_default();
    if nf_tables {
        format!(
            "cannot probe: nf_tables answers but its xtables compatibility layer does not (EINVAL){extra}: \
             nft_compat is not loaded or the kernel lacks CONFIG_NFT_COMPAT; run `xtprobe ensure` to load it"
        )
    } else {
        format!(
            "cannot probe: nf_tables is not reachable (EINVAL){extra}: load nf_tables and nft_compat \
             (`xtprobe ensure`) or use a kernel built with CONFIG_NF_TABLES and CONFIG_NFT_COMPAT"
        )
    }
}

impl ProbeError {
    /// The deadline passed while `pending` was under way (one place builds
    /// it: the budget always comes from the deadline).
    pub fn timeout(deadline: &crate::system::deadline::Deadline, pending: String) -> ProbeError {
        ProbeError::Timeout { budget_ms: deadline.budget().as_millis() as u64, pending }
    }

    /// The errno behind this error, for the JSON `errno` field.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            ProbeError::PermissionDenied { .. } => Some(Errno(libc::EPERM)),
            ProbeError::NoNfnetlink => Some(Errno(libc::EPROTONOSUPPORT)),
            ProbeError::CompatUnavailable { .. } => Some(Errno(libc::EINVAL)),
            ProbeError::LegacyNotLoaded { .. } => Some(Errno(libc::ENOPROTOOPT)),
            ProbeError::Timeout { .. } => Some(Errno(libc::ETIMEDOUT)),
            ProbeError::Os { errno, .. } | ProbeError::Rejected { errno, .. } => Some(*errno),
            ProbeError::NoNftables => Some(Errno(libc::EOPNOTSUPP)),
            ProbeError::NoIpset => Some(Errno(libc::EINVAL)),
            ProbeError::FamilyAbsent { .. } => Some(Errno(libc::EOPNOTSUPP)),
            ProbeError::BareAck | ProbeError::Wire(_) => None,
        }
    }
}

/// The answer for one extension in one family from one backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Registered, with the revisions the kernel accepted.
    Registered(Revisions),
    /// There (nf_tables kinds, which have no revisions).
    Present,
    /// The kernel knows no extension of this kind by this name (ENOENT).
    NotRegistered,
    /// This backend cannot ask about this family/kind (e.g. ebtables has no
    /// revision sockopt).
    NotApplicable(&'static str),
    /// The backend could not answer.
    Failed(ProbeError),
    /// The question can only be asked through something that is not
    /// there (a logger is asked with a `log` rule, which needs nft_log or
    /// the LOG target): no verdict until that is loaded.
    Unknown(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_os_error_carries_a_remedy() {
        for errno in [libc::ENOBUFS, libc::ENOMEM, libc::EAFNOSUPPORT, libc::EINVAL, libc::EIO, 4242] {
            let e = ProbeError::Os { op: "recvmmsg(NETLINK_NETFILTER)", errno: Errno(errno), ext_ack: None };
            let text = e.to_string();
            let (head, remedy) = text.split_once("; ").expect("cause; remedy");
            assert!(head.starts_with("recvmmsg(NETLINK_NETFILTER): E"), "{text}");
            assert!(remedy.len() > 10, "{text}");
        }
        assert_eq!(Errno(4242).name(), "E4242", "unknown errnos print as a number with a name form");
        let e = ProbeError::Os { op: "x", errno: Errno(libc::ENOMEM), ext_ack: Some("out of memory".into()) };
        assert!(e.to_string().contains("(kernel: out of memory)"));
    }
}
