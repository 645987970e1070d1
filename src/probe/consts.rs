//! Kernel ABI constants used by the probes, spelled exactly as in the kernel's
//! UAPI headers so that `grep` in a kernel tree finds their definition.
//!
//! Values that `libc` already exports are re-exported from there; the rest are
//! written out with the header they come from.

// ---- include/uapi/linux/netlink.h -------------------------------------------

/// `NETLINK_NETFILTER`: the netlink protocol nfnetlink listens on.
pub const NETLINK_NETFILTER: i32 = libc::NETLINK_NETFILTER;
/// Size of `struct nlmsghdr`; always in host byte order.
pub const NLMSG_HDRLEN: usize = 16;
/// Messages are padded to this alignment (`NLMSG_ALIGNTO`).
pub const NLMSG_ALIGNTO: usize = 4;
/// Attributes are padded to this alignment (`NLA_ALIGNTO`).
pub const NLA_ALIGNTO: usize = 4;
/// Size of `struct nlattr`.
pub const NLA_HDRLEN: usize = 4;
/// `NLMSG_NOOP`: ignore.
pub const NLMSG_NOOP: u16 = 0x1;
/// `NLMSG_ERROR`: an error, or with error 0 an acknowledgement.
pub const NLMSG_ERROR: u16 = 0x2;
/// `NLMSG_DONE`: end of a multipart dump.
pub const NLMSG_DONE: u16 = 0x3;
/// `NLMSG_OVERRUN`: data lost.
pub const NLMSG_OVERRUN: u16 = 0x4;
/// `NLM_F_REQUEST`: without it the kernel only acknowledges.
pub const NLM_F_REQUEST: u16 = 0x1;
/// `NLM_F_MULTI`: set on compat replies, although no `NLMSG_DONE` follows.
pub const NLM_F_MULTI: u16 = 0x2;
/// `NLM_F_ACK`: ask for an `NLMSG_ERROR` acknowledgement.
pub const NLM_F_ACK: u16 = 0x4;
/// `NLM_F_DUMP` (`NLM_F_ROOT | NLM_F_MATCH`): return every object.
pub const NLM_F_DUMP: u16 = 0x300;
/// `NLM_F_DUMP_INTR`: the dump is inconsistent (the data changed meanwhile).
pub const NLM_F_DUMP_INTR: u16 = 0x10;
/// `NLM_F_EXCL` (new requests): fail with EEXIST rather than replace.
pub const NLM_F_EXCL: u16 = 0x200;
/// `NLM_F_CREATE` (new requests): create the object.
pub const NLM_F_CREATE: u16 = 0x400;
/// `NLM_F_APPEND` (new requests): add at the end of the list.
pub const NLM_F_APPEND: u16 = 0x800;
/// `NLA_F_NESTED`: the attribute's payload is more attributes.
pub const NLA_F_NESTED: u16 = 0x8000;
/// `NLMSG_MIN_TYPE`: the first message type a protocol may use.
pub const NLMSG_MIN_TYPE: u16 = 0x10;
/// `NLM_F_CAPPED`: the error echoes only the request header.
pub const NLM_F_CAPPED: u16 = 0x100;
/// `NLM_F_ACK_TLVS`: extended-ACK attributes follow the echoed request.
pub const NLM_F_ACK_TLVS: u16 = 0x200;
/// `NLA_F_NESTED` | `NLA_F_NET_BYTEORDER`: flag bits carried in `nla_type`.
pub const NLA_TYPE_MASK: u16 = !(0x8000 | 0x4000);
/// `NLMSGERR_ATTR_MSG`: the kernel's human error string.
pub const NLMSGERR_ATTR_MSG: u16 = 1;
/// `NLMSGERR_ATTR_OFFS`: offset of the offending attribute in the request.
pub const NLMSGERR_ATTR_OFFS: u16 = 2;
/// `NLMSGERR_ATTR_MISS_TYPE`: type of a missing required attribute.
pub const NLMSGERR_ATTR_MISS_TYPE: u16 = 5;

// ---- include/uapi/linux/netfilter/nfnetlink.h --------------------------------

/// `NFNETLINK_V0`: the only nfnetlink version.
pub const NFNETLINK_V0: u8 = 0;
/// Size of `struct nfgenmsg` (`family u8, version u8, res_id __be16`).
pub const NFGENMSG_LEN: usize = 4;
/// `NFNL_SUBSYS_IPSET`.
pub const NFNL_SUBSYS_IPSET: u8 = 6;
/// `NFNL_SUBSYS_NFTABLES`.
pub const NFNL_SUBSYS_NFTABLES: u8 = 10;
/// `NFNL_SUBSYS_NFT_COMPAT`.
pub const NFNL_SUBSYS_NFT_COMPAT: u8 = 11;

/// `NFNL_MSG_BATCH_BEGIN` (`NLMSG_MIN_TYPE`): opens a transaction whose
/// `res_id` names the subsystem.
pub const NFNL_MSG_BATCH_BEGIN: u16 = NLMSG_MIN_TYPE;
/// `NFNL_MSG_BATCH_END`: commits the transaction. xtprobe never sends it.
pub const NFNL_MSG_BATCH_END: u16 = NLMSG_MIN_TYPE + 1;

// ---- include/uapi/linux/netfilter/nf_tables_compat.h -------------------------

/// `NFNL_MSG_COMPAT_GET`: ask for an xtables extension's best revision.
pub const NFNL_MSG_COMPAT_GET: u8 = 0;
/// `NFTA_COMPAT_NAME`: NUL-terminated extension name.
pub const NFTA_COMPAT_NAME: u16 = 1;
/// `NFTA_COMPAT_REV`: big-endian u32 revision.
pub const NFTA_COMPAT_REV: u16 = 2;
/// `NFTA_COMPAT_TYPE`: big-endian u32, 0 = match, 1 = target.
pub const NFTA_COMPAT_TYPE: u16 = 3;
/// `NFT_COMPAT_NAME_MAX`: the policy's bound on the name, NUL included.
pub const NFT_COMPAT_NAME_MAX: usize = 32;

// ---- include/uapi/linux/netfilter/nf_tables.h --------------------------------

/// `NFT_MSG_NEWGEN`: the reply to `NFT_MSG_GETGEN`.
pub const NFT_MSG_NEWGEN: u8 = 15;
/// `NFT_MSG_GETGEN`: read the ruleset generation (read-only).
pub const NFT_MSG_GETGEN: u8 = 16;
/// `NFTA_GEN_ID`: big-endian u32 generation id.
pub const NFTA_GEN_ID: u16 = 1;

// ---- include/uapi/linux/netfilter.h ------------------------------------------

/// `NFPROTO_INET`: nf_tables' dual-stack family.
pub const NFPROTO_INET: u8 = 1;
/// `NFPROTO_NETDEV`: nf_tables' per-device family.
pub const NFPROTO_NETDEV: u8 = 5;
/// `NFPROTO_IPV4` (= `AF_INET`).
pub const NFPROTO_IPV4: u8 = 2;
/// `NFPROTO_ARP`.
pub const NFPROTO_ARP: u8 = 3;
/// `NFPROTO_BRIDGE`.
pub const NFPROTO_BRIDGE: u8 = 7;
/// `NFPROTO_IPV6` (= `AF_INET6`).
pub const NFPROTO_IPV6: u8 = 10;

// ---- include/uapi/linux/netfilter/x_tables.h and the *_tables.h headers -------

/// `XT_EXTENSION_MAXNAMELEN`: `struct xt_get_revision.name` size, NUL included.
pub const XT_EXTENSION_MAXNAMELEN: usize = 29;
/// `IPT_SO_GET_REVISION_MATCH` (`IPT_BASE_CTL + 2`), level `IPPROTO_IP`.
pub const IPT_SO_GET_REVISION_MATCH: i32 = 66;
/// `IPT_SO_GET_REVISION_TARGET` (`IPT_BASE_CTL + 3`), level `IPPROTO_IP`.
pub const IPT_SO_GET_REVISION_TARGET: i32 = 67;
/// `IP6T_SO_GET_REVISION_MATCH` (`IP6T_BASE_CTL + 4`), level `IPPROTO_IPV6`.
pub const IP6T_SO_GET_REVISION_MATCH: i32 = 68;
/// `IP6T_SO_GET_REVISION_TARGET` (`IP6T_BASE_CTL + 5`), level `IPPROTO_IPV6`.
pub const IP6T_SO_GET_REVISION_TARGET: i32 = 69;
/// `ARPT_SO_GET_REVISION_TARGET` (`ARPT_BASE_CTL + 3`); arp_tables registers
/// its sockopts with `PF_INET`, so it is asked on an IPv4 socket.
pub const ARPT_SO_GET_REVISION_TARGET: i32 = 99;
