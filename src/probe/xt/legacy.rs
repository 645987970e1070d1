//! The legacy backend: `getsockopt(*_SO_GET_REVISION_*)` on a raw IP socket,
//! as iptables-legacy's libxtables asks (`xtables_compatible_revision`).
//!
//! | family | socket   | level          | match | target |
//! |--------|----------|----------------|-------|--------|
//! | ipv4   | AF_INET  | IPPROTO_IP     | 66    | 67     |
//! | ipv6   | AF_INET6 | IPPROTO_IPV6   | 68    | 69     |
//! | arp    | AF_INET  | IPPROTO_IP     | —     | 99     |
//! | bridge | —        | —              | —     | —      |
//!
//! 66/67 on an IPv6 socket are `IPV6_RECVTCLASS`/`IPV6_TCLASS` and would
//! "succeed" silently, hence the table. The call returns 0 or an errno and
//! never the best revision. ENOPROTOOPT means the `*_tables` module that
//! registers these options is not loaded; unlike the nft query, this path
//! never autoloads it (`nf_sockopt_find`).

use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::socket::{AddressFamily, SockFlag, SockProtocol, SockType, socket};

use super::walk::{Extent, RevisionAnswer, walk};
use crate::probe::consts::*;
use crate::probe::{Errno, Extension, Family, Kind, Outcome, ProbeError};
use crate::system::deadline::Deadline;
use crate::system::syscalls as sys;

/// Where one (family, kind) question is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SockoptRoute {
    /// `AF_INET` or `AF_INET6` socket.
    pub ipv6_socket: bool,
    /// `IPPROTO_IP` or `IPPROTO_IPV6`.
    pub level: i32,
    /// The option number.
    pub optname: i32,
    /// The module that registers the option.
    pub module: &'static str,
}

/// The sockopt for `family` and `kind`, or why there is none.
pub fn route(family: Family, kind: Kind) -> Result<SockoptRoute, &'static str> {
    let v4 =
        |optname| SockoptRoute { ipv6_socket: false, level: libc::IPPROTO_IP, optname, module: "ip_tables" };
    let v6 = |optname| SockoptRoute {
        ipv6_socket: true,
        level: libc::IPPROTO_IPV6,
        optname,
        module: "ip6_tables",
    };
    match (family, kind) {
        (Family::Ipv4, Kind::Match) => Ok(v4(IPT_SO_GET_REVISION_MATCH)),
        (Family::Ipv4, Kind::Target) => Ok(v4(IPT_SO_GET_REVISION_TARGET)),
        (Family::Ipv6, Kind::Match) => Ok(v6(IP6T_SO_GET_REVISION_MATCH)),
        (Family::Ipv6, Kind::Target) => Ok(v6(IP6T_SO_GET_REVISION_TARGET)),
        (Family::Arp, Kind::Target) => {
            Ok(SockoptRoute { module: "arp_tables", ..v4(ARPT_SO_GET_REVISION_TARGET) })
        }
        (Family::Arp, Kind::Match) => Err("arptables has no match revision query"),
        (Family::Bridge, _) => Err("ebtables has no revision query"),
        (Family::Inet | Family::Netdev, _) => Err("xtables has no inet or netdev family"),
        (_, _) => Err("not an xtables match or target"),
    }
}

/// The tables iptables-legacy knows (`xtables_ipv4`/`xtables_ipv6` in
/// iptables' `nft.c` lists the same five).
pub const TABLES: &[&str] = &["filter", "nat", "mangle", "raw", "security"];

/// Asks the legacy sockopts, with one raw socket per address family.
pub struct LegacyProber {
    inet: Option<OwnedFd>,
    inet6: Option<OwnedFd>,
    deadline: Deadline,
}

impl LegacyProber {
    /// A prober; sockets are opened on first use. The caller runs it within
    /// `deadline` ([`crate::system::deadline::within`]): a getsockopt for an
    /// unknown name runs the kernel's autoloader and cannot time out itself.
    pub fn new(deadline: &Deadline) -> Self {
        Self { inet: None, inet6: None, deadline: deadline.clone() }
    }

    fn socket(&mut self, ipv6: bool) -> Result<&OwnedFd, ProbeError> {
        let slot = if ipv6 { &mut self.inet6 } else { &mut self.inet };
        if slot.is_none() {
            let af = if ipv6 { AddressFamily::Inet6 } else { AddressFamily::Inet };
            let fd = socket(af, SockType::Raw, SockFlag::SOCK_CLOEXEC, SockProtocol::Raw).map_err(
                |e| match e {
                    nix::errno::Errno::EPERM | nix::errno::Errno::EACCES => {
                        ProbeError::PermissionDenied { cap: "CAP_NET_RAW" }
                    }
                    e => ProbeError::Os {
                        op: if ipv6 { "socket(AF_INET6, SOCK_RAW)" } else { "socket(AF_INET, SOCK_RAW)" },
                        errno: Errno(e as i32),
                        ext_ack: None,
                    },
                },
            )?;
            *slot = Some(fd);
        }
        Ok(slot.as_ref().expect("socket was just stored"))
    }

    /// Asks whether `ext` is registered at revision `rev` in `family`.
    pub fn ask(&mut self, family: Family, ext: &Extension, rev: u8) -> Result<RevisionAnswer, ProbeError> {
        let route = route(family, ext.kind).map_err(|why| ProbeError::Os {
            op: why,
            errno: Errno(libc::EOPNOTSUPP),
            ext_ack: None,
        })?;
        let fd = self.socket(route.ipv6_socket)?.as_raw_fd();
        if self.deadline.expired() {
            return Err(ProbeError::timeout(&self.deadline, self.deadline.pending()));
        }
        self.deadline.doing(format!(
            "it was asked (getsockopt {}) about {}:{} in {family} at revision {rev}",
            route.optname, ext.kind, ext.name
        ));
        match sys::get_revision(fd, route.level, route.optname, &ext.name, rev) {
            Ok(()) => Ok(RevisionAnswer::Supported { best: None }),
            Err(e) => match e.raw_os_error().unwrap_or(libc::EIO) {
                libc::ENOENT => Ok(RevisionAnswer::NoSuchName),
                libc::EPROTONOSUPPORT => Ok(RevisionAnswer::NoSuchRevision),
                libc::ENOPROTOOPT => Err(ProbeError::LegacyNotLoaded { module: route.module }),
                libc::EPERM => Err(ProbeError::PermissionDenied { cap: "CAP_NET_ADMIN" }),
                errno => Err(ProbeError::Os {
                    op: "getsockopt(SO_GET_REVISION)",
                    errno: Errno(errno),
                    ext_ack: None,
                }),
            },
        }
    }

    /// Whether table `name` can be opened in `family`, as
    /// iptables-legacy opens it (`*_SO_GET_INFO`): the kernel looks the
    /// table up and, when it is not there, asks for `iptable_<name>`
    /// (`xt_request_find_table_lock()`). ENOPROTOOPT: ip_tables itself is
    /// not loaded, and nothing autoloads it.
    pub fn table(&mut self, family: Family, name: &str) -> Outcome {
        let Some(layout) = super::entries::layout(family) else {
            return Outcome::NotApplicable("legacy tables exist in ipv4, ipv6 and arp");
        };
        let fd = match self.socket(family == Family::Ipv6) {
            Ok(fd) => fd.as_raw_fd(),
            Err(e) => return Outcome::Failed(e),
        };
        if self.deadline.expired() {
            return Outcome::Failed(ProbeError::timeout(&self.deadline, self.deadline.pending()));
        }
        self.deadline.doing(format!("it was asked (getsockopt SO_GET_INFO) about table {name} in {family}"));
        let mut info = vec![0u8; layout.info_size];
        let n = name.len().min(super::entries::XT_TABLE_MAXNAMELEN - 1);
        info[..n].copy_from_slice(&name.as_bytes()[..n]);
        match sys::get_sockopt_buf(fd, layout.level, layout.get_info, &mut info) {
            Ok(_) => Outcome::Present,
            Err(e) => match e.raw_os_error().unwrap_or(libc::EIO) {
                libc::ENOENT => Outcome::NotRegistered,
                libc::ENOPROTOOPT => Outcome::Failed(ProbeError::LegacyNotLoaded {
                    module: match family {
                        Family::Ipv6 => "ip6_tables",
                        Family::Arp => "arp_tables",
                        _ => "ip_tables",
                    },
                }),
                libc::EPERM => Outcome::Failed(ProbeError::PermissionDenied { cap: "CAP_NET_ADMIN" }),
                errno => Outcome::Failed(ProbeError::Os {
                    op: "getsockopt(SO_GET_INFO)",
                    errno: Errno(errno),
                    ext_ack: None,
                }),
            },
        }
    }

    /// Walks all revisions of `ext` in `family` (or opens the table, for
    /// [`Kind::Table`]).
    pub fn probe(&mut self, family: Family, ext: &Extension) -> Outcome {
        if ext.kind == Kind::Table {
            return self.table(family, &ext.name);
        }
        if let Err(why) = route(family, ext.kind) {
            return Outcome::NotApplicable(why);
        }
        match walk(Extent::Exhaustive, |rev| self.ask(family, ext, rev)) {
            Ok(Some(revs)) => Outcome::Registered(revs),
            Ok(None) => Outcome::NotRegistered,
            Err(e) => Outcome::Failed(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_uses_its_own_option_numbers() {
        let r = route(Family::Ipv6, Kind::Match).unwrap();
        assert_eq!((r.level, r.optname, r.ipv6_socket), (libc::IPPROTO_IPV6, 68, true));
        assert_eq!(route(Family::Ipv6, Kind::Target).unwrap().optname, 69);
        assert_eq!(route(Family::Ipv4, Kind::Target).unwrap().optname, 67);
        assert_eq!(route(Family::Arp, Kind::Target).unwrap().optname, 99);
        assert!(route(Family::Arp, Kind::Match).is_err());
        assert!(route(Family::Bridge, Kind::Target).is_err());
    }
}
