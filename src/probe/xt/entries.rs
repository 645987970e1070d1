//! Reading legacy xtables rules: `*_SO_GET_INFO` then `*_SO_GET_ENTRIES`
//! (what iptables-legacy-save does), and walking each entry's matches and
//! target (`net/ipv4/netfilter/ip_tables.c` `get_entries()`,
//! `include/uapi/linux/netfilter_ipv4/ip_tables.h`).
//!
//! Only tables already listed in `/proc/net/{ip,ip6,arp}_tables_names` are
//! read: asking for another name would make the kernel autoload its module
//! (`iptable_<name>`). Layouts (x86-64, checked against the UAPI headers
//! with the C compiler in `tests/` — see the constants):
//!
//! ```text
//! *_getinfo      name[32] valid_hooks hook_entry[H] underflow[H] num_entries size
//! *_get_entries  name[32] size (pad to 8) entrytable[]          (40 bytes)
//! entry          family header ... target_offset u16 next_offset u16 ... counters
//! xt_entry_match / xt_entry_target: size u16, name[29], revision u8, data
//! ```
//!
//! The standard target has an empty name (verdicts and jumps) and `ERROR`
//! marks user chains and the table's end: neither is a requirement.

use std::os::fd::AsRawFd;

use nix::sys::socket::{AddressFamily, SockFlag, SockProtocol, SockType, socket};

use crate::probe::{Errno, Family, Kind, ProbeError};
use crate::system::syscalls as sys;

/// The largest table read (entries included): 64 MiB, far above 10 000 rules.
pub const MAX_TABLE_BYTES: usize = 64 << 20;
/// How many times a table that changed between GET_INFO and GET_ENTRIES
/// (EAGAIN) is read again.
const RETRIES: usize = 5;

/// One family's table layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// `IPT_SO_GET_INFO` and friends.
    pub get_info: i32,
    /// `IPT_SO_GET_ENTRIES` and friends.
    pub get_entries: i32,
    /// The socket level: `IPPROTO_IP` (ipv4, arp) or `IPPROTO_IPV6`.
    pub level: i32,
    /// `sizeof(struct *_getinfo)`: 84 (5 hooks), 68 for arp (3 hooks).
    pub info_size: usize,
    /// `sizeof(struct *_entry)`: where the first match starts.
    pub entry_size: usize,
    /// `offsetof(struct *_entry, target_offset)`; `next_offset` follows.
    pub target_offset_at: usize,
    /// `/proc/net/<this>`: the loaded tables.
    pub names_file: &'static str,
}

/// `struct *_get_entries` header: `name[32]`, `size`, padded to 8.
pub const GET_ENTRIES_HEADER: usize = super::abi::GET_ENTRIES_HEADER;
/// `XT_TABLE_MAXNAMELEN`.
pub const XT_TABLE_MAXNAMELEN: usize = 32;
/// `sizeof(struct xt_entry_match)` = `sizeof(struct xt_entry_target)`.
pub const XT_ENTRY_HEADER: usize = super::abi::XT_ENTRY_HEADER;

/// The layout of `family`'s tables, if it has legacy tables.
pub fn layout(family: Family) -> Option<Layout> {
    match family {
        Family::Ipv4 => Some(Layout {
            get_info: 64,
            get_entries: 65,
            level: libc::IPPROTO_IP,
            info_size: super::abi::IPT_GETINFO_SIZE,
            entry_size: super::abi::IPT_ENTRY_SIZE,
            target_offset_at: super::abi::IPT_TARGET_OFFSET_AT,
            names_file: "net/ip_tables_names",
        }),
        Family::Ipv6 => Some(Layout {
            get_info: 64,
            get_entries: 65,
            level: libc::IPPROTO_IPV6,
            info_size: super::abi::IPT_GETINFO_SIZE,
            entry_size: super::abi::IP6T_ENTRY_SIZE,
            target_offset_at: super::abi::IP6T_TARGET_OFFSET_AT,
            names_file: "net/ip6_tables_names",
        }),
        Family::Arp => Some(Layout {
            get_info: 96,
            get_entries: 97,
            level: libc::IPPROTO_IP,
            info_size: super::abi::ARPT_GETINFO_SIZE,
            entry_size: super::abi::ARPT_ENTRY_SIZE,
            target_offset_at: super::abi::ARPT_TARGET_OFFSET_AT,
            names_file: "net/arp_tables_names",
        }),
        _ => None,
    }
}

/// One extension an entry uses.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Use {
    /// Match or target.
    pub kind: Kind,
    /// Its name.
    pub name: String,
    /// Its revision.
    pub revision: u8,
    /// What it needs beneath it (its logger, algorithm, helper), from its
    /// info ([`super::beneath`]).
    pub beneath: Vec<(Kind, String)>,
}

/// What one table holds: every entry's extensions, per chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableUses {
    /// The table.
    pub table: String,
    /// (chain, extension) per use, in table order.
    pub uses: Vec<(String, Use)>,
}

fn u16_at(b: &[u8], at: usize) -> Result<usize, String> {
    b.get(at..at + 2)
        .map(|s| usize::from(u16::from_ne_bytes([s[0], s[1]])))
        .ok_or_else(|| format!("entry cut at byte {at}"))
}

fn name_at(b: &[u8], at: usize, len: usize) -> Result<String, String> {
    let field = b.get(at..at + len).ok_or_else(|| format!("name cut at byte {at}"))?;
    let end = field.iter().position(|&c| c == 0).ok_or("a name without its NUL")?;
    Ok(String::from_utf8_lossy(&field[..end]).into_owned())
}

/// Walks the entries of one table (the bytes after the `get_entries`
/// header): every match and target, with the chain each belongs to. The
/// hook entry points name the built-in chains; `ERROR` targets name user
/// chains. Every offset is checked against the bytes, so damaged input is
/// an error, never a panic or a loop.
pub fn walk_entries(
    layout: &Layout,
    table: &str,
    hooks: &[(u32, &'static str)],
    entries: &[u8],
) -> Result<TableUses, String> {
    let mut uses = Vec::new();
    let mut chain = String::new();
    let mut at = 0usize;
    while at < entries.len() {
        let e = &entries[at..];
        if let Some((_, name)) = hooks.iter().find(|(off, _)| *off as usize == at) {
            chain = (*name).to_string();
        }
        let target_offset = u16_at(e, layout.target_offset_at)?;
        let next_offset = u16_at(e, layout.target_offset_at + 2)?;
        if target_offset < layout.entry_size
            || next_offset < target_offset + XT_ENTRY_HEADER
            || next_offset > e.len()
        {
            return Err(format!("entry at byte {at}: offsets {target_offset}/{next_offset} do not fit"));
        }
        let mut m = layout.entry_size;
        while m < target_offset {
            let size = u16_at(e, m)?;
            if size < XT_ENTRY_HEADER || m + size > target_offset {
                return Err(format!("match at byte {} of entry {at}: size {size} does not fit", m));
            }
            let name = name_at(e, m + 2, 29)?;
            let beneath = super::beneath::beneath(Kind::Match, &name, &e[m + XT_ENTRY_HEADER..m + size]);
            uses.push((chain.clone(), Use { kind: Kind::Match, name, revision: e[m + 31], beneath }));
            m += size;
        }
        let name = name_at(e, target_offset + 2, 29)?;
        let revision = e[target_offset + 31];
        match name.as_str() {
            // A user chain starts with an ERROR target naming it; the last
            // entry's ERROR is the table's end.
            "ERROR" => chain = name_at(e, target_offset + XT_ENTRY_HEADER, 32).unwrap_or_default(),
            // Verdicts, jumps, returns.
            "" => {}
            _ => {
                let beneath = super::beneath::beneath(
                    Kind::Target,
                    &name,
                    &e[target_offset + XT_ENTRY_HEADER..next_offset],
                );
                uses.push((chain.clone(), Use { kind: Kind::Target, name, revision, beneath }))
            }
        }
        at += next_offset;
    }
    Ok(TableUses { table: table.to_string(), uses })
}

/// The built-in chains of a family, by hook number.
fn hook_names(family: Family) -> &'static [&'static str] {
    match family {
        Family::Arp => &["INPUT", "OUTPUT", "FORWARD"],
        _ => &["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
    }
}

/// Reads table `table` of `family` through `fd` (a raw socket of the
/// right address family).
pub fn read_table(fd: &impl AsRawFd, family: Family, table: &str) -> Result<TableUses, ProbeError> {
    let layout = layout(family).ok_or(ProbeError::Os {
        op: "legacy tables",
        errno: Errno(libc::EAFNOSUPPORT),
        ext_ack: None,
    })?;
    if table.is_empty() || table.len() >= XT_TABLE_MAXNAMELEN {
        return Err(os("table name", libc::EINVAL, format!("bad table name {table:?}")));
    }
    let fd = fd.as_raw_fd();
    for _ in 0..=RETRIES {
        let mut info = vec![0u8; layout.info_size];
        info[..table.len()].copy_from_slice(table.as_bytes());
        sys::get_sockopt_buf(fd, layout.level, layout.get_info, &mut info)
            .map_err(|e| errno_error("SO_GET_INFO", &e))?;
        let hooks_n = if family == Family::Arp { 3 } else { 5 };
        let word = |i: usize| u32::from_ne_bytes(info[i..i + 4].try_into().expect("4 bytes"));
        let valid_hooks = word(32);
        let size = word(layout.info_size - 4) as usize;
        if size > MAX_TABLE_BYTES {
            return Err(os(
                "SO_GET_INFO",
                libc::EFBIG,
                format!("table {table} is {size} bytes, above the {MAX_TABLE_BYTES}-byte limit"),
            ));
        }
        let hooks: Vec<(u32, &'static str)> = (0..hooks_n)
            .filter(|h| valid_hooks & (1 << h) != 0)
            .map(|h| (word(36 + 4 * h), hook_names(family)[h]))
            .collect();
        let mut buf = vec![0u8; GET_ENTRIES_HEADER + size];
        buf[..table.len()].copy_from_slice(table.as_bytes());
        buf[32..36].copy_from_slice(&(size as u32).to_ne_bytes());
        match sys::get_sockopt_buf(fd, layout.level, layout.get_entries, &mut buf) {
            Ok(_) => {}
            // The table changed size since GET_INFO: ask again.
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => continue,
            Err(e) => return Err(errno_error("SO_GET_ENTRIES", &e)),
        }
        return walk_entries(&layout, table, &hooks, &buf[GET_ENTRIES_HEADER..])
            .map_err(|why| os("SO_GET_ENTRIES", libc::EPROTO, why));
    }
    Err(os("SO_GET_ENTRIES", libc::EAGAIN, format!("table {table} kept changing while it was read")))
}

fn os(op: &'static str, errno: i32, text: String) -> ProbeError {
    ProbeError::Os { op, errno: Errno(errno), ext_ack: Some(text) }
}

fn errno_error(op: &'static str, e: &std::io::Error) -> ProbeError {
    match e.raw_os_error() {
        Some(libc::EPERM) => ProbeError::PermissionDenied { cap: "CAP_NET_ADMIN" },
        Some(errno) => ProbeError::Os { op, errno: Errno(errno), ext_ack: None },
        None => ProbeError::Os { op, errno: Errno(libc::EIO), ext_ack: None },
    }
}

/// A raw socket to read `family`'s tables through.
pub fn socket_for(family: Family) -> Result<std::os::fd::OwnedFd, ProbeError> {
    let af = if family == Family::Ipv6 { AddressFamily::Inet6 } else { AddressFamily::Inet };
    socket(af, SockType::Raw, SockFlag::SOCK_CLOEXEC, SockProtocol::Raw).map_err(|e| match e {
        nix::errno::Errno::EPERM | nix::errno::Errno::EACCES => {
            ProbeError::PermissionDenied { cap: "CAP_NET_RAW" }
        }
        e => ProbeError::Os { op: "socket(SOCK_RAW)", errno: Errno(e as i32), ext_ack: None },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ipv4 entry with `matches` (name, revision) and a target.
    fn entry(matches: &[(&str, u8)], target: &str, rev: u8, target_data: &[u8]) -> Vec<u8> {
        let l = layout(Family::Ipv4).unwrap();
        let mut e = vec![0u8; l.entry_size];
        for (name, r) in matches {
            let mut m = vec![0u8; 40];
            m[..2].copy_from_slice(&40u16.to_ne_bytes());
            m[2..2 + name.len()].copy_from_slice(name.as_bytes());
            m[31] = *r;
            e.extend(m);
        }
        let target_offset = e.len();
        let size = XT_ENTRY_HEADER + target_data.len().div_ceil(8) * 8;
        let mut t = vec![0u8; size];
        t[..2].copy_from_slice(&(size as u16).to_ne_bytes());
        t[2..2 + target.len()].copy_from_slice(target.as_bytes());
        t[31] = rev;
        t[XT_ENTRY_HEADER..XT_ENTRY_HEADER + target_data.len()].copy_from_slice(target_data);
        e.extend(t);
        let next = e.len();
        e[l.target_offset_at..l.target_offset_at + 2].copy_from_slice(&(target_offset as u16).to_ne_bytes());
        e[l.target_offset_at + 2..l.target_offset_at + 4].copy_from_slice(&(next as u16).to_ne_bytes());
        e
    }

    #[test]
    fn matches_and_targets_per_chain() {
        let l = layout(Family::Ipv4).unwrap();
        let mut t = entry(&[("comment", 0), ("tcp", 0)], "MASQUERADE", 0, &[0; 8]);
        let second = t.len();
        t.extend(entry(&[], "", 0, &[0; 8])); // a verdict: no requirement
        let third = t.len();
        t.extend(entry(&[], "ERROR", 0, b"KUBE-SVC\0"));
        t.extend(entry(&[("statistic", 0)], "DNAT", 2, &[0; 8]));
        t.extend(entry(&[], "ERROR", 0, b"ERROR\0"));
        let uses = walk_entries(&l, "nat", &[(0, "POSTROUTING"), (second as u32, "OUTPUT")], &t).unwrap();
        let got: Vec<(String, String)> = uses
            .uses
            .iter()
            .map(|(c, u)| (c.clone(), format!("{}:{}@{}", u.kind, u.name, u.revision)))
            .collect();
        let want = [
            ("POSTROUTING", "match:comment@0"),
            ("POSTROUTING", "match:tcp@0"),
            ("POSTROUTING", "target:MASQUERADE@0"),
            ("KUBE-SVC", "match:statistic@0"),
            ("KUBE-SVC", "target:DNAT@2"),
        ];
        assert_eq!(got, want.map(|(a, b)| (a.to_string(), b.to_string())));
        let _ = third;
    }

    #[test]
    fn damaged_tables_are_errors_not_panics() {
        let l = layout(Family::Ipv4).unwrap();
        let good = entry(&[("comment", 0)], "ACCEPT", 0, &[0; 8]);
        for cut in 0..good.len() {
            let _ = walk_entries(&l, "filter", &[], &good[..cut]);
        }
        let mut zero_next = good.clone();
        zero_next[l.target_offset_at + 2..l.target_offset_at + 4].copy_from_slice(&0u16.to_ne_bytes());
        assert!(walk_entries(&l, "filter", &[], &zero_next).is_err(), "a zero next_offset would loop");
        let mut big_match = good.clone();
        big_match[l.entry_size..l.entry_size + 2].copy_from_slice(&4000u16.to_ne_bytes());
        assert!(walk_entries(&l, "filter", &[], &big_match).is_err());
    }
}
