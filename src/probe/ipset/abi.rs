//! ipset ABI constants, spelled as in `include/uapi/linux/netfilter/ipset/ip_set.h`
//! (Linux 6.12), so that `grep` in a kernel tree finds each definition.

/// `IPSET_PROTOCOL`: the protocol current kernels speak (older ones speak 6
/// and answer `IPSET_CMD_PROTOCOL` without `IPSET_ATTR_PROTOCOL_MIN`).
pub const IPSET_PROTOCOL: u8 = 7;
/// `IPSET_PROTOCOL_MIN`: the oldest protocol a kernel with protocol 7 accepts.
pub const IPSET_PROTOCOL_MIN: u8 = 6;
/// `IPSET_MAXNAMELEN`: set and type names, NUL included.
pub const IPSET_MAXNAMELEN: usize = 32;

/// `IPSET_CMD_PROTOCOL`: which protocol the kernel speaks.
pub const IPSET_CMD_PROTOCOL: u8 = 1;
/// `IPSET_CMD_TYPE`: a set type's revision range, by name and family.
pub const IPSET_CMD_TYPE: u8 = 13;

/// `IPSET_ATTR_PROTOCOL` (NLA_U8), in every request.
pub const IPSET_ATTR_PROTOCOL: u16 = 1;
/// `IPSET_ATTR_TYPENAME` (NLA_NUL_STRING).
pub const IPSET_ATTR_TYPENAME: u16 = 3;
/// `IPSET_ATTR_REVISION` (NLA_U8): the highest revision.
pub const IPSET_ATTR_REVISION: u16 = 4;
/// `IPSET_ATTR_FAMILY` (NLA_U8): `NFPROTO_IPV4`, `NFPROTO_IPV6`.
pub const IPSET_ATTR_FAMILY: u16 = 5;
/// `IPSET_ATTR_PROTOCOL_MIN` (NLA_U8), in the protocol reply.
pub const IPSET_ATTR_PROTOCOL_MIN: u16 = 10;
/// `IPSET_ATTR_REVISION_MIN` (NLA_U8): the lowest revision, in the type reply.
pub const IPSET_ATTR_REVISION_MIN: u16 = IPSET_ATTR_PROTOCOL_MIN;

/// `IPSET_ERR_PRIVATE`: ipset's own error numbers start here.
pub const IPSET_ERR_PRIVATE: i32 = 4096;
/// `IPSET_ERR_PROTOCOL`: the request's protocol is not spoken.
pub const IPSET_ERR_PROTOCOL: i32 = IPSET_ERR_PRIVATE + 1;
/// `IPSET_ERR_FIND_TYPE`: no such set type (after `request_module("ip_set_<type>")`).
pub const IPSET_ERR_FIND_TYPE: i32 = IPSET_ERR_PRIVATE + 2;

/// `IPSET_CMD_LIST`: dump the sets (with `IPSET_FLAG_LIST_HEADER`, headers only).
pub const IPSET_CMD_LIST: u8 = 7;
/// `IPSET_ATTR_SETNAME` (NLA_NUL_STRING).
pub const IPSET_ATTR_SETNAME: u16 = 2;
/// `IPSET_ATTR_FLAGS` (NLA_U32, network byte order).
pub const IPSET_ATTR_FLAGS: u16 = 6;
/// `IPSET_FLAG_LIST_HEADER`: list each set's header, not its members.
pub const IPSET_FLAG_LIST_HEADER: u32 = 1 << 2;
