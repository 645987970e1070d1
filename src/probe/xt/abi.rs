//! The kernel's xtables structures userspace exchanges with the legacy
//! `getsockopt` interface, as `#[repr(C)]` mirrors of the UAPI headers
//! (`linux/netfilter_ipv4/ip_tables.h`, `…ipv6/ip6_tables.h`,
//! `…arp/arp_tables.h`, `linux/netfilter/x_tables.h`,
//! `xt_string.h`, `xt_CT.h`): every size and offset the probes use is
//! computed from them (`size_of`, `offset_of!`), never written down.
//!
//! They are verified on 64-bit targets (x86_64 and aarch64: the same LP64
//! layout; `tests/capture.rs` compares them with the C headers as the
//! host's compiler lays them out, and the unit tests run under
//! qemu-aarch64). On a 32-bit target `__u64` in a struct is aligned
//! differently (i386: 4), and a 64-bit kernel would expect the compat
//! layout: such builds are refused.

#[cfg(not(target_pointer_width = "64"))]
compile_error!(
    "xtprobe's legacy xtables layouts are verified on 64-bit targets (x86_64, aarch64) only; a 32-bit build \
     would exchange structures of another layout with the kernel"
);

use std::mem::{offset_of, size_of};

/// `struct xt_counters`.
#[repr(C)]
struct XtCounters {
    pcnt: u64,
    bcnt: u64,
}

/// `struct ipt_ip`.
#[repr(C)]
struct IptIp {
    src: u32,
    dst: u32,
    smsk: u32,
    dmsk: u32,
    iniface: [u8; 16],
    outiface: [u8; 16],
    iniface_mask: [u8; 16],
    outiface_mask: [u8; 16],
    proto: u16,
    flags: u8,
    invflags: u8,
}

/// `struct ipt_entry`.
#[repr(C)]
pub struct IptEntry {
    ip: IptIp,
    nfcache: u32,
    target_offset: u16,
    next_offset: u16,
    comefrom: u32,
    counters: XtCounters,
}

/// `struct in6_addr`: a union whose widest member is `__be32[4]`.
#[repr(C)]
struct In6Addr {
    u: [u32; 4],
}

/// `struct ip6t_ip6`.
#[repr(C)]
struct Ip6tIp6 {
    src: In6Addr,
    dst: In6Addr,
    smsk: In6Addr,
    dmsk: In6Addr,
    iniface: [u8; 16],
    outiface: [u8; 16],
    iniface_mask: [u8; 16],
    outiface_mask: [u8; 16],
    proto: u16,
    tos: u8,
    flags: u8,
    invflags: u8,
}

/// `struct ip6t_entry`.
#[repr(C)]
pub struct Ip6tEntry {
    ipv6: Ip6tIp6,
    nfcache: u32,
    target_offset: u16,
    next_offset: u16,
    comefrom: u32,
    counters: XtCounters,
}

/// `struct arpt_devaddr_info`.
#[repr(C)]
struct ArptDevaddrInfo {
    addr: [u8; 16],
    mask: [u8; 16],
}

/// `struct arpt_arp`.
#[repr(C)]
struct ArptArp {
    src: u32,
    tgt: u32,
    smsk: u32,
    tmsk: u32,
    arhln: u8,
    arhln_mask: u8,
    src_devaddr: ArptDevaddrInfo,
    tgt_devaddr: ArptDevaddrInfo,
    arpop: u16,
    arpop_mask: u16,
    arhrd: u16,
    arhrd_mask: u16,
    arpro: u16,
    arpro_mask: u16,
    iniface: [u8; 16],
    outiface: [u8; 16],
    iniface_mask: [u8; 16],
    outiface_mask: [u8; 16],
    flags: u8,
    invflags: u16,
}

/// `struct arpt_entry`.
#[repr(C)]
pub struct ArptEntry {
    arp: ArptArp,
    target_offset: u16,
    next_offset: u16,
    comefrom: u32,
    counters: XtCounters,
}

/// `struct ipt_getinfo` / `ip6t_getinfo` (`NF_INET_NUMHOOKS` = 5).
#[repr(C)]
struct IptGetinfo {
    name: [u8; 32],
    valid_hooks: u32,
    hook_entry: [u32; 5],
    underflow: [u32; 5],
    num_entries: u32,
    size: u32,
}

/// `struct arpt_getinfo` (`NF_ARP_NUMHOOKS` = 3).
#[repr(C)]
struct ArptGetinfo {
    name: [u8; 32],
    valid_hooks: u32,
    hook_entry: [u32; 3],
    underflow: [u32; 3],
    num_entries: u32,
    size: u32,
}

/// `struct ipt_get_entries`: the name, the size, then the entries.
#[repr(C)]
struct IptGetEntries {
    name: [u8; 32],
    size: u32,
    entrytable: [IptEntry; 0],
}

/// `struct xt_entry_match` / `xt_entry_target`: a union of the user view
/// (`__u16 size; char name[29]; __u8 revision;`), the kernel view (`__u16
/// size; struct xt_match *match;`) and the bare size.
#[repr(C)]
union XtEntryHeader {
    user: XtEntryUser,
    kernel: XtEntryKernel,
    size: u16,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct XtEntryUser {
    size: u16,
    name: [u8; 29],
    revision: u8,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct XtEntryKernel {
    size: u16,
    ptr: *const u8,
}

/// `struct xt_string_info`.
#[repr(C)]
struct XtStringInfo {
    from_offset: u16,
    to_offset: u16,
    algo: [u8; 16],
    pattern: [u8; 128],
    patlen: u8,
    flags: u8,
    config: u64,
}

/// `struct xt_ct_target_info_v1` (v0 has the same head).
#[repr(C)]
struct XtCtTargetInfoV1 {
    flags: u16,
    zone: u16,
    ct_events: u32,
    exp_events: u32,
    helper: [u8; 16],
    timeout: [u8; 32],
    ct: u64,
}

/// `sizeof(struct ipt_getinfo)` (and ip6t's).
pub const IPT_GETINFO_SIZE: usize = size_of::<IptGetinfo>();
/// `sizeof(struct arpt_getinfo)`.
pub const ARPT_GETINFO_SIZE: usize = size_of::<ArptGetinfo>();
/// `sizeof(struct ipt_entry)`.
pub const IPT_ENTRY_SIZE: usize = size_of::<IptEntry>();
/// `offsetof(struct ipt_entry, target_offset)`.
pub const IPT_TARGET_OFFSET_AT: usize = offset_of!(IptEntry, target_offset);
/// `sizeof(struct ip6t_entry)`.
pub const IP6T_ENTRY_SIZE: usize = size_of::<Ip6tEntry>();
/// `offsetof(struct ip6t_entry, target_offset)`.
pub const IP6T_TARGET_OFFSET_AT: usize = offset_of!(Ip6tEntry, target_offset);
/// `sizeof(struct arpt_entry)`.
pub const ARPT_ENTRY_SIZE: usize = size_of::<ArptEntry>();
/// `offsetof(struct arpt_entry, target_offset)`.
pub const ARPT_TARGET_OFFSET_AT: usize = offset_of!(ArptEntry, target_offset);
/// `offsetof(struct ipt_get_entries, entrytable)`.
pub const GET_ENTRIES_HEADER: usize = offset_of!(IptGetEntries, entrytable);
/// `sizeof(struct xt_entry_match)` = `sizeof(struct xt_entry_target)`.
pub const XT_ENTRY_HEADER: usize = size_of::<XtEntryHeader>().next_multiple_of(8);
/// `offsetof(struct xt_string_info, algo)`.
pub const STRING_ALGO: usize = offset_of!(XtStringInfo, algo);
/// `offsetof(struct xt_ct_target_info{,_v1}, helper)`.
pub const CT_HELPER: usize = offset_of!(XtCtTargetInfoV1, helper);

#[cfg(test)]
mod tests {
    use super::*;

    /// The LP64 values the kernel's headers give on x86_64 and aarch64
    /// (checked against the C headers by tests/capture.rs on the host).
    #[test]
    fn lp64_layouts() {
        assert_eq!((IPT_GETINFO_SIZE, ARPT_GETINFO_SIZE), (84, 68));
        assert_eq!((IPT_ENTRY_SIZE, IPT_TARGET_OFFSET_AT), (112, 88));
        assert_eq!((IP6T_ENTRY_SIZE, IP6T_TARGET_OFFSET_AT), (168, 140));
        assert_eq!((ARPT_ENTRY_SIZE, ARPT_TARGET_OFFSET_AT), (192, 164));
        assert_eq!((GET_ENTRIES_HEADER, XT_ENTRY_HEADER), (40, 32));
        assert_eq!((STRING_ALGO, CT_HELPER), (4, 12));
    }
}
