//! Asking the running kernel which xtables extensions it supports.
//!
//! Two backends answer the same question:
//! - [`nft`]: the `NFNL_MSG_COMPAT_GET` query iptables-nft sends over
//!   `NETLINK_NETFILTER` (`net/netfilter/nft_compat.c`); it reports the best
//!   revision the kernel knows.
//! - [`legacy`]: the `*_SO_GET_REVISION_*` getsockopt iptables-legacy uses
//!   (`net/ipv4/netfilter/ip_tables.c`); it only says yes or no per revision.
//!
//! Both go through `xt_find_revision()` (`net/netfilter/x_tables.c`), whose
//! registry is global: the answer is the same in every network namespace, so
//! probing from a fresh one is exact. Both may make the kernel try to autoload
//! a module (`ipt_<name>`) when the name is unknown.
//!
//! This module never loads modules and never reads module files; [`crate::kmod`]
//! does that, and [`crate::diagnose`] joins the two.

pub mod compat;
pub mod consts;
pub mod exchange;
pub mod generation;
pub mod legacy;
pub mod nft;
pub mod socket;
pub mod spec;
pub mod walk;
pub mod wire;

use std::fmt;

use serde::Serialize;

pub use crate::system::Errno;
pub use spec::{Requirement, SpecError};
pub use walk::{RevisionAnswer, Revisions};

/// Whether an extension is a match (`-m`) or a target (`-j`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A match: `NFTA_COMPAT_TYPE` 0, `*_SO_GET_REVISION_MATCH`.
    Match,
    /// A target: `NFTA_COMPAT_TYPE` 1, `*_SO_GET_REVISION_TARGET`.
    Target,
}

impl Kind {
    /// The lowercase word used in output and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Match => "match",
            Kind::Target => "target",
        }
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
    /// `NFPROTO_IPV4`: iptables.
    Ipv4,
    /// `NFPROTO_IPV6`: ip6tables.
    Ipv6,
    /// `NFPROTO_ARP`: arptables.
    Arp,
    /// `NFPROTO_BRIDGE`: ebtables.
    Bridge,
}

impl Family {
    /// All families, in output order.
    pub const ALL: [Family; 4] = [Family::Ipv4, Family::Ipv6, Family::Arp, Family::Bridge];

    /// The `NFPROTO_*` value, which nft_compat takes as `nfgen_family`.
    pub fn nfproto(self) -> u8 {
        match self {
            Family::Ipv4 => consts::NFPROTO_IPV4,
            Family::Ipv6 => consts::NFPROTO_IPV6,
            Family::Arp => consts::NFPROTO_ARP,
            Family::Bridge => consts::NFPROTO_BRIDGE,
        }
    }

    /// The prefix of the module name the kernel requests for an unknown
    /// extension in this family (`ipt_comment`, `ip6t_comment`, …).
    pub fn module_prefix(self) -> &'static str {
        match self {
            Family::Ipv4 => "ipt_",
            Family::Ipv6 => "ip6t_",
            Family::Arp => "arpt_",
            Family::Bridge => "ebt_",
        }
    }

    /// The lowercase word used in output and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Ipv4 => "ipv4",
            Family::Ipv6 => "ipv6",
            Family::Arp => "arp",
            Family::Bridge => "bridge",
        }
    }

    /// Parses `ipv4`, `ipv6`, `arp`, `bridge` (and `ip`, `ip6`, `inet` aliases
    /// as the iptables tools name them).
    pub fn parse(s: &str) -> Option<Family> {
        match s.to_ascii_lowercase().as_str() {
            "ipv4" | "ip" | "ip4" | "inet" => Some(Family::Ipv4),
            "ipv6" | "ip6" | "inet6" => Some(Family::Ipv6),
            "arp" => Some(Family::Arp),
            "bridge" | "eb" | "ebtables" => Some(Family::Bridge),
            _ => None,
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
}

impl Backend {
    /// The lowercase word used in output and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Nft => "nft",
            Backend::Legacy => "legacy",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An xtables extension: a kind and its exact, case-sensitive name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Extension {
    /// Match or target.
    pub kind: Kind,
    /// The name as the kernel registers it: `comment`, `MASQUERADE`.
    pub name: String,
}

impl Extension {
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
    /// The errno behind this error, for the JSON `errno` field.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            ProbeError::PermissionDenied { .. } => Some(Errno(libc::EPERM)),
            ProbeError::NoNfnetlink => Some(Errno(libc::EPROTONOSUPPORT)),
            ProbeError::CompatUnavailable { .. } => Some(Errno(libc::EINVAL)),
            ProbeError::LegacyNotLoaded { .. } => Some(Errno(libc::ENOPROTOOPT)),
            ProbeError::Timeout { .. } => Some(Errno(libc::ETIMEDOUT)),
            ProbeError::Os { errno, .. } => Some(*errno),
            ProbeError::BareAck | ProbeError::Wire(_) => None,
        }
    }
}

/// The answer for one extension in one family from one backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Registered, with the revisions the kernel accepted.
    Registered(Revisions),
    /// The kernel knows no extension of this kind by this name (ENOENT).
    NotRegistered,
    /// This backend cannot ask about this family/kind (e.g. ebtables has no
    /// revision sockopt).
    NotApplicable(&'static str),
    /// The backend could not answer.
    Failed(ProbeError),
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
