//! What xtprobe sends to ask about each nf_tables expression type, chain
//! type and set feature: for every expression, the smallest rule the
//! kernel accepts when the type is there, so that an accepted rule means
//! "supported" and ENOENT means "no such type" (`nft_expr_type_get()` in
//! `net/netfilter/nf_tables_api.c`).
//!
//! Each recipe was checked against Linux 6.12 sources and, live, against
//! the kernel these tests run on (see `tests/nftables.rs`, which asks
//! every recipe and compares with `nft --check`):
//! - a register is loaded before it is read (6.x rejects reads of
//!   registers nothing wrote with ENODATA), so expressions that read come
//!   after a `meta mark` or `immediate` load;
//! - lengths follow the family (4-byte addresses for ip and inet, 16 for
//!   ip6), and the family attribute of `nat`/`tproxy` matches the table's;
//! - `lookup`, `dynset` and `objref` get their set or counter object in the
//!   same batch;
//! - rules go into a regular (non-base) chain: chain-type and hook checks
//!   (`masquerade` only in nat postrouting, …) apply to base chains and to
//!   what a base chain jumps to, which a probe chain never is.
//!
//! An expression is asked only in the families where it can exist:
//! `masq` in an arp table has no meaning, and is reported as not applicable
//! rather than as missing.

use super::abi::*;
use super::msg::{Attr, Expr, SetSpec};
use crate::probe::Family;
use crate::probe::consts::{NFPROTO_IPV4, NFPROTO_IPV6};

/// Everything needed to build one question's rule.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    /// The table's family.
    pub family: Family,
    /// The set prepared for this rule, if the recipe asked for one.
    pub set: &'a str,
    /// Its `NFTA_SET_ID`.
    pub set_id: u32,
    /// The object prepared for this rule, if the recipe asked for one.
    pub object: &'a str,
}

/// What a rule needs created before it, in the same batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prepare {
    /// Nothing.
    Nothing,
    /// A set of IPv4-sized keys (`flags` as given).
    Set(u32),
    /// A counter object (`NFT_OBJECT_COUNTER`).
    Counter,
}

/// How to ask about one expression type.
#[derive(Debug, Clone, Copy)]
pub struct ExprRecipe {
    /// `NFTA_EXPR_NAME`.
    pub name: &'static str,
    /// The families where the type can exist; empty = every family.
    pub families: &'static [Family],
    /// What the rule needs.
    pub prepare: Prepare,
    /// The rule's expressions: register loads, then the expression itself.
    pub rule: fn(&Ctx<'_>) -> Vec<Expr>,
    /// Errnos of the rule that mean "missing" besides ENOENT: EPROTO for
    /// the expressions that need the family's conntrack (`ct` in a bridge
    /// table without nf_conntrack_bridge: `nf_ct_netns_get()`).
    pub also_missing: &'static [i32],
}

impl ExprRecipe {
    /// Whether the type can exist in `family`.
    pub fn applies(&self, family: Family) -> bool {
        self.families.is_empty() || self.families.contains(&family)
    }
}

/// Families whose packets are IP (conntrack, NAT, sockets, routing).
const IP: &[Family] = &[Family::Ipv4, Family::Ipv6, Family::Inet];
/// Families with connection tracking: IP, and bridge with nf_conntrack_bridge.
const CONNTRACK: &[Family] = &[Family::Ipv4, Family::Ipv6, Family::Inet, Family::Bridge];

// Expression attributes (include/uapi/linux/netfilter/nf_tables.h, one enum
// per expression).
const NFTA_META_DREG: u16 = 1;
const NFTA_META_KEY: u16 = 2;
const NFT_META_MARK: u32 = 3;
const NFTA_PAYLOAD_DREG: u16 = 1;
const NFTA_PAYLOAD_BASE: u16 = 2;
const NFTA_PAYLOAD_OFFSET: u16 = 3;
const NFTA_PAYLOAD_LEN: u16 = 4;
const NFT_PAYLOAD_NETWORK_HEADER: u32 = 1;
const NFTA_IMMEDIATE_DREG: u16 = 1;
const NFTA_IMMEDIATE_DATA: u16 = 2;
const NFTA_DATA_VALUE: u16 = 1;
const NFTA_CMP_SREG: u16 = 1;
const NFTA_CMP_OP: u16 = 2;
const NFTA_CMP_DATA: u16 = 3;
const NFT_CMP_EQ: u32 = 0;
const NFTA_BITWISE_SREG: u16 = 1;
const NFTA_BITWISE_DREG: u16 = 2;
const NFTA_BITWISE_LEN: u16 = 3;
const NFTA_BITWISE_MASK: u16 = 4;
const NFTA_BITWISE_XOR: u16 = 5;
const NFTA_BYTEORDER_SREG: u16 = 1;
const NFTA_BYTEORDER_DREG: u16 = 2;
const NFTA_BYTEORDER_OP: u16 = 3;
const NFTA_BYTEORDER_LEN: u16 = 4;
const NFTA_BYTEORDER_SIZE: u16 = 5;
const NFTA_RANGE_SREG: u16 = 1;
const NFTA_RANGE_OP: u16 = 2;
const NFTA_RANGE_FROM_DATA: u16 = 3;
const NFTA_RANGE_TO_DATA: u16 = 4;
const NFTA_LOOKUP_SET: u16 = 1;
const NFTA_LOOKUP_SREG: u16 = 2;
const NFTA_LOOKUP_SET_ID: u16 = 4;
const NFTA_CT_DREG: u16 = 1;
const NFTA_CT_KEY: u16 = 2;
const NFT_CT_STATE: u32 = 0;
const NFTA_NAT_TYPE: u16 = 1;
const NFTA_NAT_FAMILY: u16 = 2;
const NFTA_NAT_REG_ADDR_MIN: u16 = 3;
const NFT_NAT_DNAT: u32 = 1;
const NFTA_REJECT_TYPE: u16 = 1;
const NFT_REJECT_TCP_RST: u32 = 1;
const NFTA_FIB_DREG: u16 = 1;
const NFTA_FIB_RESULT: u16 = 2;
const NFTA_FIB_FLAGS: u16 = 3;
const NFT_FIB_RESULT_ADDRTYPE: u32 = 3;
const NFTA_FIB_F_DADDR: u32 = 2;
const NFTA_NG_DREG: u16 = 1;
const NFTA_NG_MODULUS: u16 = 2;
const NFTA_NG_TYPE: u16 = 3;
const NFT_NG_RANDOM: u32 = 1;
const NFTA_LIMIT_RATE: u16 = 1;
const NFTA_LIMIT_UNIT: u16 = 2;
const NFTA_LIMIT_TYPE: u16 = 4;
const NFT_LIMIT_PKTS: u32 = 0;
const NFTA_QUOTA_BYTES: u16 = 1;

const NFTA_OBJREF_IMM_TYPE: u16 = 1;
const NFTA_OBJREF_IMM_NAME: u16 = 2;
const NFTA_HASH_DREG: u16 = 2;
const NFTA_HASH_MODULUS: u16 = 4;
const NFTA_HASH_TYPE: u16 = 7;
const NFT_HASH_SYM: u32 = 1;
const NFTA_SOCKET_KEY: u16 = 1;
const NFTA_SOCKET_DREG: u16 = 2;
const NFT_SOCKET_TRANSPARENT: u32 = 0;
const NFTA_TPROXY_FAMILY: u16 = 1;
const NFTA_TPROXY_REG_PORT: u16 = 3;
const NFTA_QUEUE_NUM: u16 = 1;
const NFTA_DYNSET_SET_NAME: u16 = 1;
const NFTA_DYNSET_SET_ID: u16 = 2;
const NFTA_DYNSET_OP: u16 = 3;
const NFTA_DYNSET_SREG_KEY: u16 = 4;
const NFT_DYNSET_OP_ADD: u32 = 0;
const NFTA_EXTHDR_DREG: u16 = 1;
const NFTA_EXTHDR_TYPE: u16 = 2;
const NFTA_EXTHDR_OFFSET: u16 = 3;
const NFTA_EXTHDR_LEN: u16 = 4;
const NFTA_EXTHDR_OP: u16 = 6;
const NFT_EXTHDR_OP_TCPOPT: u32 = 1;
const TCPOPT_MAXSEG: u8 = 2;
const NFTA_CONNLIMIT_COUNT: u16 = 1;
const NFTA_DUP_SREG_ADDR: u16 = 1;
const NFTA_DUP_SREG_DEV: u16 = 2;
const NFTA_FWD_SREG_DEV: u16 = 1;
const NFTA_XFRM_DREG: u16 = 1;
const NFTA_XFRM_KEY: u16 = 2;
const NFTA_XFRM_DIR: u16 = 3;
const NFT_XFRM_KEY_REQID: u32 = 6;
const NFTA_RT_DREG: u16 = 1;
const NFTA_RT_KEY: u16 = 2;
const NFT_RT_NEXTHOP4: u32 = 1;
const NFTA_OSF_DREG: u16 = 1;

fn e(name: &'static str, data: Vec<Attr>) -> Expr {
    Expr { name, data }
}

fn value(ty: u16, bytes: &[u8]) -> Attr {
    Attr::Nested(ty, vec![Attr::Bytes(NFTA_DATA_VALUE, bytes.to_vec())])
}

/// `meta mark` into register 1 (4 bytes): the load before a read.
fn load_mark() -> Expr {
    e("meta", vec![Attr::U32(NFTA_META_KEY, NFT_META_MARK), Attr::U32(NFTA_META_DREG, NFT_REG_1)])
}

/// `len` bytes of constant data into register 1.
fn load_const(len: usize) -> Expr {
    let data = vec![1u8; len];
    e("immediate", vec![Attr::U32(NFTA_IMMEDIATE_DREG, NFT_REG_1), value(NFTA_IMMEDIATE_DATA, &data)])
}

/// The layer-3 family an ip-ish table's NAT and TPROXY speak, and its
/// address length.
fn l3(family: Family) -> (u8, usize) {
    if family == Family::Ipv6 { (NFPROTO_IPV6, 16) } else { (NFPROTO_IPV4, 4) }
}

/// Every expression xtprobe can ask about, by name.
pub static EXPRS: &[ExprRecipe] = &[
    ExprRecipe {
        name: "bitwise",
        families: &[],
        prepare: Prepare::Nothing,
        also_missing: &[],
        rule: |_| {
            vec![
                load_mark(),
                e(
                    "bitwise",
                    vec![
                        Attr::U32(NFTA_BITWISE_SREG, NFT_REG_1),
                        Attr::U32(NFTA_BITWISE_DREG, NFT_REG_1),
                        Attr::U32(NFTA_BITWISE_LEN, 4),
                        value(NFTA_BITWISE_MASK, &[0xff, 0, 0, 0]),
                        value(NFTA_BITWISE_XOR, &[0; 4]),
                    ],
                ),
            ]
        },
    },
    ExprRecipe {
        name: "byteorder",
        families: &[],
        prepare: Prepare::Nothing,
        also_missing: &[],
        rule: |_| {
            vec![
                load_mark(),
                e(
                    "byteorder",
                    vec![
                        Attr::U32(NFTA_BYTEORDER_SREG, NFT_REG_1),
                        Attr::U32(NFTA_BYTEORDER_DREG, NFT_REG_1),
                        Attr::U32(NFTA_BYTEORDER_OP, 0),
                        Attr::U32(NFTA_BYTEORDER_LEN, 4),
                        Attr::U32(NFTA_BYTEORDER_SIZE, 4),
                    ],
                ),
            ]
        },
    },
    ExprRecipe {
        name: "cmp",
        families: &[],
        prepare: Prepare::Nothing,
        also_missing: &[],
        rule: |_| {
            vec![
                load_mark(),
                e(
                    "cmp",
                    vec![
                        Attr::U32(NFTA_CMP_SREG, NFT_REG_1),
                        Attr::U32(NFTA_CMP_OP, NFT_CMP_EQ),
                        value(NFTA_CMP_DATA, &[0, 0, 0, 1]),
                    ],
                ),
            ]
        },
    },
    ExprRecipe {
        name: "connlimit",
        families: CONNTRACK,
        prepare: Prepare::Nothing,
        also_missing: &[libc::EPROTO],
        rule: |_| vec![e("connlimit", vec![Attr::U32(NFTA_CONNLIMIT_COUNT, 10)])],
    },
    ExprRecipe {
        name: "counter",
        families: &[],
        prepare: Prepare::Nothing,
        also_missing: &[],
        rule: |_| vec![e("counter", vec![])],
    },
    ExprRecipe {
        name: "ct",
        families: CONNTRACK,
        prepare: Prepare::Nothing,
        also_missing: &[libc::EPROTO],
        rule: |_| {
            vec![e("ct", vec![Attr::U32(NFTA_CT_KEY, NFT_CT_STATE), Attr::U32(NFTA_CT_DREG, NFT_REG_1)])]
        },
    },
    ExprRecipe {
        name: "dup",
        families: &[Family::Ipv4, Family::Ipv6, Family::Netdev],
        prepare: Prepare::Nothing,
        also_missing: &[],
        rule: |c| match c.family {
            // netdev duplicates to a device (an ifindex), the others to an address.
            Family::Netdev => vec![load_const(4), e("dup", vec![Attr::U32(NFTA_DUP_SREG_DEV, NFT_REG_1)])],
            f => vec![load_const(l3(f).1), e("dup", vec![Attr::U32(NFTA_DUP_SREG_ADDR, NFT_REG_1)])],
        },
    },
    ExprRecipe {
        name: "dynset",
        families: &[],
        prepare: Prepare::Set(NFT_SET_EVAL),
        also_missing: &[],
        rule: |c| {
            vec![
                load_mark(),
                e(
                    "dynset",
                    vec![
                        Attr::str(NFTA_DYNSET_SET_NAME, c.set),
                        Attr::U32(NFTA_DYNSET_SET_ID, c.set_id),
                        Attr::U32(NFTA_DYNSET_OP, NFT_DYNSET_OP_ADD),
                        Attr::U32(NFTA_DYNSET_SREG_KEY, NFT_REG_1),
                    ],
                ),
            ]
        },
    },
    ExprRecipe {
        name: "exthdr",
        families: &[],
        prepare: Prepare::Nothing,
        also_missing: &[],
        rule: |_| {
            vec![e(
                "exthdr",
                vec![
                    Attr::U32(NFTA_EXTHDR_DREG, NFT_REG_1),
                    Attr::Bytes(NFTA_EXTHDR_TYPE, vec![TCPOPT_MAXSEG]),
                    Attr::U32(NFTA_EXTHDR_OFFSET, 2),
                    Attr::U32(NFTA_EXTHDR_LEN, 2),
                    Attr::U32(NFTA_EXTHDR_OP, NFT_EXTHDR_OP_TCPOPT),
                ],
            )]
        },
    },
    ExprRecipe {
        name: "fib",
        families: &[Family::Ipv4, Family::Ipv6, Family::Inet, Family::Netdev],
        prepare: Prepare::Nothing,
        also_missing: &[],
        rule: |_| {
            vec![e(
                "fib",
                vec![
                    Attr::U32(NFTA_FIB_DREG, NFT_REG_1),
                    Attr::U32(NFTA_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE),
                    Attr::U32(NFTA_FIB_FLAGS, NFTA_FIB_F_DADDR),
                ],
            )]
        },
    },
    ExprRecipe {
        name: "fwd",
        families: &[Family::Netdev],
        prepare: Prepare::Nothing,
        also_missing: &[],
        rule: |_| vec![load_const(4), e("fwd", vec![Attr::U32(NFTA_FWD_SREG_DEV, NFT_REG_1)])],
    },
    ExprRecipe {
        name: "hash",
        families: &[],
        prepare: Prepare::Nothing,
        also_missing: &[],
        rule: |_| {
            vec![e(
                "hash",
                vec![
                    Attr::U32(NFTA_HASH_DREG, NFT_REG_1),
                    Attr::U32(NFTA_HASH_MODULUS, 2),
                    Attr::U32(NFTA_HASH_TYPE, NFT_HASH_SYM),
                ],
            )]
        },
    },
    ExprRecipe {
        name: "immediate",
        families: &[],
        prepare: Prepare::Nothing,
        also_missing: &[],
        rule: |_| vec![load_const(4)],
    },
    ExprRecipe {
        name: "last",
        families: &[],
        prepare: Prepare::Nothing,
        also_missing: &[],
        rule: |_| vec![e("last", vec![])],
    },
    ExprRecipe {
        name: "limit",
        families: &[],
        prepare: Prepare::Nothing,
        also_missing: &[],
        rule: |_| {
            vec![e(
                "limit",
                vec![
                    Attr::U64(NFTA_LIMIT_RATE, 10),
                    Attr::U64(NFTA_LIMIT_UNIT, 1),
                    Attr::U32(NFTA_LIMIT_TYPE, NFT_LIMIT_PKTS),
                ],
            )]
        },
    },
    // Level 8 (audit) needs no logger (`nft_log_init()` returns before
    // `nf_logger_find_get()`), so ENOENT means nft_log itself is missing;
    // the logger a rule's `log` needs is its own question (`logger:`).
    ExprRecipe {
        name: "log",
        families: &[],
        prepare: Prepare::Nothing,
        also_missing: &[],
        rule: |_| log_audit(),
    },
    ExprRecipe {
        name: "lookup",
        families: &[],
        prepare: Prepare::Set(0),
        also_missing: &[],
        rule: |c| {
            vec![
                load_mark(),
                e(
                    "lookup",
                    vec![
                        Attr::str(NFTA_LOOKUP_SET, c.set),
                        Attr::U32(NFTA_LOOKUP_SREG, NFT_REG_1),
                        Attr::U32(NFTA_LOOKUP_SET_ID, c.set_id),
                    ],
                ),
            ]
        },
    },
    ExprRecipe {
        name: "masq",
        families: IP,
        prepare: Prepare::Nothing,
        also_missing: &[],
        rule: |_| vec![e("masq", vec![])],
    },
    ExprRecipe {
        name: "meta",
        families: &[],
        prepare: Prepare::Nothing,
        also_missing: &[],
        rule: |_| vec![load_mark()],
    },
    ExprRecipe {
        name: "nat",
        families: IP,
        prepare: Prepare::Nothing,
        also_missing: &[],
        rule: |c| {
            let (fam, alen) = l3(c.family);
            vec![
                load_const(alen),
                e(
                    "nat",
                    vec![
                        Attr::U32(NFTA_NAT_TYPE, NFT_NAT_DNAT),
                        Attr::U32(NFTA_NAT_FAMILY, u32::from(fam)),
                        Attr::U32(NFTA_NAT_REG_ADDR_MIN, NFT_REG_1),
                    ],
                ),
            ]
        },
    },
    ExprRecipe {
        name: "notrack",
        families: &[],
        prepare: Prepare::Nothing,
        also_missing: &[],
        rule: |_| vec![e("notrack", vec![])],
    },
    ExprRecipe {
        name: "numgen",
        families: &[],
        prepare: Prepare::Nothing,
        also_missing: &[],
        rule: |_| {
            vec![e(
                "numgen",
                vec![
                    Attr::U32(NFTA_NG_DREG, NFT_REG_1),
                    Attr::U32(NFTA_NG_MODULUS, 2),
                    Attr::U32(NFTA_NG_TYPE, NFT_NG_RANDOM),
                ],
            )]
        },
    },
    ExprRecipe {
        name: "objref",
        families: &[],
        prepare: Prepare::Counter,
        also_missing: &[],
        rule: |c| {
            vec![e(
                "objref",
                vec![
                    Attr::U32(NFTA_OBJREF_IMM_TYPE, NFT_OBJECT_COUNTER),
                    Attr::str(NFTA_OBJREF_IMM_NAME, c.object),
                ],
            )]
        },
    },
    ExprRecipe {
        name: "osf",
        families: &[],
        prepare: Prepare::Nothing,
        also_missing: &[],
        rule: |_| vec![e("osf", vec![Attr::U32(NFTA_OSF_DREG, NFT_REG_1)])],
    },
    ExprRecipe {
        name: "payload",
        families: &[],
        prepare: Prepare::Nothing,
        also_missing: &[],
        rule: |_| {
            vec![e(
                "payload",
                vec![
                    Attr::U32(NFTA_PAYLOAD_DREG, NFT_REG_1),
                    Attr::U32(NFTA_PAYLOAD_BASE, NFT_PAYLOAD_NETWORK_HEADER),
                    Attr::U32(NFTA_PAYLOAD_OFFSET, 12),
                    Attr::U32(NFTA_PAYLOAD_LEN, 4),
                ],
            )]
        },
    },
    ExprRecipe {
        name: "queue",
        families: &[],
        prepare: Prepare::Nothing,
        also_missing: &[],
        rule: |_| vec![e("queue", vec![Attr::Bytes(NFTA_QUEUE_NUM, 0u16.to_be_bytes().to_vec())])],
    },
    ExprRecipe {
        name: "quota",
        families: &[],
        prepare: Prepare::Nothing,
        also_missing: &[],
        rule: |_| vec![e("quota", vec![Attr::U64(NFTA_QUOTA_BYTES, 1 << 20)])],
    },
    ExprRecipe {
        name: "range",
        families: &[],
        prepare: Prepare::Nothing,
        also_missing: &[],
        rule: |_| {
            vec![
                load_mark(),
                e(
                    "range",
                    vec![
                        Attr::U32(NFTA_RANGE_SREG, NFT_REG_1),
                        Attr::U32(NFTA_RANGE_OP, NFT_CMP_EQ),
                        value(NFTA_RANGE_FROM_DATA, &[0, 0, 0, 1]),
                        value(NFTA_RANGE_TO_DATA, &[0, 0, 0, 2]),
                    ],
                ),
            ]
        },
    },
    ExprRecipe {
        name: "redir",
        families: IP,
        prepare: Prepare::Nothing,
        also_missing: &[],
        rule: |_| vec![e("redir", vec![])],
    },
    ExprRecipe {
        name: "reject",
        families: &[Family::Ipv4, Family::Ipv6, Family::Inet, Family::Bridge, Family::Netdev],
        prepare: Prepare::Nothing,
        also_missing: &[],
        rule: |_| vec![e("reject", vec![Attr::U32(NFTA_REJECT_TYPE, NFT_REJECT_TCP_RST)])],
    },
    ExprRecipe {
        name: "rt",
        families: &[],
        prepare: Prepare::Nothing,
        also_missing: &[],
        rule: |_| {
            vec![e("rt", vec![Attr::U32(NFTA_RT_KEY, NFT_RT_NEXTHOP4), Attr::U32(NFTA_RT_DREG, NFT_REG_1)])]
        },
    },
    ExprRecipe {
        name: "socket",
        families: IP,
        prepare: Prepare::Nothing,
        also_missing: &[],
        rule: |_| {
            vec![e(
                "socket",
                vec![
                    Attr::U32(NFTA_SOCKET_KEY, NFT_SOCKET_TRANSPARENT),
                    Attr::U32(NFTA_SOCKET_DREG, NFT_REG_1),
                ],
            )]
        },
    },
    ExprRecipe {
        name: "synproxy",
        families: CONNTRACK,
        prepare: Prepare::Nothing,
        also_missing: &[libc::EPROTO],
        rule: |_| vec![e("synproxy", vec![])],
    },
    ExprRecipe {
        name: "tproxy",
        families: IP,
        prepare: Prepare::Nothing,
        also_missing: &[],
        rule: |c| {
            let fam = if c.family == Family::Inet { 0 } else { l3(c.family).0 };
            vec![
                load_const(2),
                e(
                    "tproxy",
                    vec![
                        Attr::U32(NFTA_TPROXY_FAMILY, u32::from(fam)),
                        Attr::U32(NFTA_TPROXY_REG_PORT, NFT_REG_1),
                    ],
                ),
            ]
        },
    },
    ExprRecipe {
        name: "xfrm",
        families: IP,
        prepare: Prepare::Nothing,
        also_missing: &[],
        rule: |_| {
            vec![e(
                "xfrm",
                vec![
                    Attr::U32(NFTA_XFRM_KEY, NFT_XFRM_KEY_REQID),
                    Attr::Bytes(NFTA_XFRM_DIR, vec![0]),
                    Attr::U32(NFTA_XFRM_DREG, NFT_REG_1),
                ],
            )]
        },
    },
];

/// The recipe for expression `name`.
pub fn expr(name: &str) -> Option<&'static ExprRecipe> {
    EXPRS.iter().find(|r| r.name == name)
}

/// The names of every expression xtprobe can ask about.
pub fn expr_names() -> Vec<&'static str> {
    EXPRS.iter().map(|r| r.name).collect()
}

/// Chain types (`NFTA_CHAIN_TYPE`) xtprobe can ask about.
pub const CHAIN_TYPES: [&str; 3] = ["filter", "nat", "route"];

/// Whether chain type `name` can exist in `family`: `filter` everywhere;
/// `nat` and `route` only for IP (`nft_chain_nat.c`, `nft_chain_route.c`
/// register no others).
pub fn chain_applies(name: &str, family: Family) -> bool {
    name == "filter" || IP.contains(&family)
}

/// The base chain a chain type is asked with in `family`: the hook and
/// priority `nft` uses for it (nat: postrouting, srcnat; route: output,
/// mangle-ish; filter: input), and `lo` as the device of a netdev chain.
pub fn hook_for(chain_type: &str, family: Family) -> (u32, i32, Option<&'static str>) {
    match (family, chain_type) {
        (Family::Netdev, _) => (NF_NETDEV_INGRESS, 0, Some("lo")),
        (Family::Arp, _) => (NF_ARP_IN, 0, None),
        (Family::Bridge, _) => (NF_BR_LOCAL_IN, 0, None),
        (_, "nat") => (NF_INET_POST_ROUTING, 100, None),
        (_, "route") => (NF_INET_LOCAL_OUT, 0, None),
        _ => (NF_INET_LOCAL_IN, 0, None),
    }
}

/// One set feature and the set that needs it.
#[derive(Debug, Clone, Copy)]
pub struct SetFeature {
    /// The word after `set:`.
    pub name: &'static str,
    /// What it is, for `--help` and reports.
    pub what: &'static str,
    /// The set that asks for it.
    pub spec: fn() -> SetSpec,
}

// Userspace data types (nftables src/datatype.h); the kernel stores them.
const TYPE_IPADDR: u32 = 7;
const TYPE_INET_SERVICE: u32 = 13;
const TYPE_MARK: u32 = 19;
const TYPE_BITS: u32 = 6;

fn ipv4_set(flags: u32) -> SetSpec {
    SetSpec { flags, key_type: TYPE_IPADDR, key_len: 4, data: None, concat: Vec::new(), timeout_ms: None }
}

/// Every set feature xtprobe can ask about.
pub static SET_FEATURES: &[SetFeature] = &[
    SetFeature {
        name: "concat",
        // As nft sends it: a longer key and its type; the kernel needs
        // nothing more for exact matches (a hash set).
        what: "concatenated keys (ipv4_addr . inet_service)",
        spec: || SetSpec {
            key_type: (TYPE_IPADDR << TYPE_BITS) | TYPE_INET_SERVICE,
            key_len: 8,
            ..ipv4_set(0)
        },
    },
    SetFeature {
        name: "concat-interval",
        what: "ranges of concatenated keys (pipapo, Linux 5.6)",
        spec: || SetSpec {
            key_type: (TYPE_IPADDR << TYPE_BITS) | TYPE_INET_SERVICE,
            key_len: 8,
            concat: vec![4, 2],
            ..ipv4_set(NFT_SET_CONCAT | NFT_SET_INTERVAL)
        },
    },
    SetFeature {
        name: "interval",
        what: "ranges and prefixes (flags interval)",
        spec: || ipv4_set(NFT_SET_INTERVAL),
    },
    SetFeature {
        name: "map",
        what: "maps (ipv4_addr : mark)",
        spec: || SetSpec { data: Some((TYPE_MARK, 4)), ..ipv4_set(NFT_SET_MAP) },
    },
    SetFeature {
        name: "timeout",
        what: "elements that expire (timeout 60s)",
        spec: || SetSpec { timeout_ms: Some(60_000), ..ipv4_set(NFT_SET_TIMEOUT) },
    },
    SetFeature {
        name: "vmap",
        what: "verdict maps (ipv4_addr : verdict)",
        spec: || SetSpec { data: Some((NFT_DATA_VERDICT, 0)), ..ipv4_set(NFT_SET_MAP) },
    },
];

/// The set feature called `name`.
pub fn set_feature(name: &str) -> Option<&'static SetFeature> {
    SET_FEATURES.iter().find(|f| f.name == name)
}

/// The set a recipe's `Prepare::Set(flags)` creates.
pub fn prepared_set(flags: u32) -> SetSpec {
    ipv4_set(flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sorted_unique_and_lower_case() {
        let names = expr_names();
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(names, sorted);
        assert!(names.iter().all(|n| n.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')));
    }

    #[test]
    fn every_rule_ends_with_its_own_expression_and_reads_only_loaded_registers() {
        for r in EXPRS {
            for &family in Family::ALL.iter().filter(|f| r.applies(**f)) {
                let exprs = (r.rule)(&Ctx { family, set: "s", set_id: 1, object: "o" });
                let last = exprs.last().expect("a rule");
                // `immediate` and `meta` are their own loads.
                assert_eq!(last.name, r.name, "{} in {family}", r.name);
                assert!(exprs.len() <= 2, "{}: one load at most", r.name);
            }
        }
    }

    #[test]
    fn hooks_follow_the_chain_type() {
        assert_eq!(hook_for("nat", Family::Ipv4), (NF_INET_POST_ROUTING, 100, None));
        assert_eq!(hook_for("route", Family::Ipv6).0, NF_INET_LOCAL_OUT);
        assert_eq!(hook_for("filter", Family::Netdev), (NF_NETDEV_INGRESS, 0, Some("lo")));
        assert_eq!(hook_for("filter", Family::Arp).0, NF_ARP_IN);
    }
}

// --- Beneath the rules: loggers, helpers, objects, textsearch --------------
//
// These are not expression types: a rule needs them through an expression
// (or an xtables match or target) whose init looks them up and asks for
// their module. Each is asked with a *witness* beside the real question:
// a message that shows the carrier is there, so that ENOENT on the real
// question can only mean the thing beneath is missing.

const NFTA_LOG_GROUP: u16 = 1;
const NFTA_LOG_LEVEL: u16 = 5;
const NFT_LOGLEVEL_AUDIT: u32 = 8;
const NFTA_MATCH_NAME: u16 = 1;
const NFTA_MATCH_REV: u16 = 2;
const NFTA_MATCH_INFO: u16 = 3;
const NFTA_TARGET_NAME: u16 = 1;
const NFTA_TARGET_REV: u16 = 2;
const NFTA_TARGET_INFO: u16 = 3;
const NFTA_CT_HELPER_NAME: u16 = 1;
const NFTA_CT_HELPER_L3PROTO: u16 = 2;
const NFTA_CT_HELPER_L4PROTO: u16 = 3;

/// `log level audit`: nft_log without a logger.
fn log_audit() -> Vec<Expr> {
    vec![e("log", vec![Attr::U32(NFTA_LOG_LEVEL, NFT_LOGLEVEL_AUDIT)])]
}

/// A packet logger (`nf_logger_find_get(family, type)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoggerRecipe {
    /// The word after `logger:`.
    pub name: &'static str,
    /// `NF_LOG_TYPE_LOG` (0) or `NF_LOG_TYPE_ULOG` (1).
    pub log_type: u8,
    /// The xtables target whose check asks for it (`log_tg_check()`,
    /// `nflog_tg_check()`), for kernels without nft_log.
    pub xt_target: &'static str,
}

/// The loggers.
pub static LOGGERS: &[LoggerRecipe] = &[
    LoggerRecipe { name: "syslog", log_type: 0, xt_target: "LOG" },
    LoggerRecipe { name: "nflog", log_type: 1, xt_target: "NFLOG" },
];

/// The logger named `name`.
pub fn logger(name: &str) -> Option<&'static LoggerRecipe> {
    LOGGERS.iter().find(|l| l.name == name)
}

impl LoggerRecipe {
    /// The nf_tables rule that needs this logger: `log` (warning level,
    /// the LOG type) or `log group 0` (the ULOG type).
    pub fn nft_rule(&self) -> Vec<Expr> {
        match self.log_type {
            0 => vec![e("log", vec![])],
            _ => vec![e("log", vec![Attr::Bytes(NFTA_LOG_GROUP, 0u16.to_be_bytes().to_vec())])],
        }
    }

    /// The witness for [`Self::nft_rule`]: nft_log is there.
    pub fn nft_witness(&self) -> Vec<Expr> {
        log_audit()
    }

    /// The same through nft_compat: the LOG (or NFLOG) target with the
    /// info iptables sends (`struct xt_log_info` level 4, `struct
    /// xt_nflog_info` group 0); with `witness`, a one-byte info that the
    /// kernel refuses with EINVAL when the target is registered
    /// (`nft_target_select_ops()`: shorter than `targetsize`) and with
    /// ENOENT when it is not.
    pub fn xt_rule(&self, witness: bool) -> Vec<Expr> {
        let info = if witness {
            vec![0]
        } else if self.log_type == 0 {
            xt_blob::log_info()
        } else {
            xt_blob::nflog_info()
        };
        vec![compat("target", self.xt_target, 0, info)]
    }
}

/// A compat `match` or `target` expression.
fn compat(kind: &'static str, name: &str, rev: u32, info: Vec<u8>) -> Expr {
    let (n, r, i) = if kind == "match" {
        (NFTA_MATCH_NAME, NFTA_MATCH_REV, NFTA_MATCH_INFO)
    } else {
        (NFTA_TARGET_NAME, NFTA_TARGET_REV, NFTA_TARGET_INFO)
    };
    e(kind, vec![Attr::str(n, name), Attr::U32(r, rev), Attr::Bytes(i, info)])
}

/// A conntrack helper and the protocol it is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HelperRecipe {
    /// Its registered name (`nfct-helper-<name>`), case-sensitive.
    pub name: &'static str,
    /// `IPPROTO_TCP` or `IPPROTO_UDP`: helpers are found by name and
    /// protocol (`__nf_conntrack_helper_find()`).
    pub l4proto: u8,
}

const TCP: u8 = 6;
const UDP: u8 = 17;

/// The helpers mainline registers (`MODULE_ALIAS_NFCT_HELPER`).
pub static HELPERS: &[HelperRecipe] = &[
    HelperRecipe { name: "amanda", l4proto: UDP },
    HelperRecipe { name: "ftp", l4proto: TCP },
    HelperRecipe { name: "irc", l4proto: TCP },
    HelperRecipe { name: "netbios-ns", l4proto: UDP },
    HelperRecipe { name: "pptp", l4proto: TCP },
    HelperRecipe { name: "Q.931", l4proto: TCP },
    HelperRecipe { name: "RAS", l4proto: UDP },
    HelperRecipe { name: "sane", l4proto: TCP },
    HelperRecipe { name: "sip", l4proto: UDP },
    HelperRecipe { name: "snmp", l4proto: UDP },
    HelperRecipe { name: "snmp_trap", l4proto: UDP },
    HelperRecipe { name: "tftp", l4proto: UDP },
];

/// The helper named `name`.
pub fn helper(name: &str) -> Option<&'static HelperRecipe> {
    HELPERS.iter().find(|h| h.name == name)
}

impl HelperRecipe {
    /// `NFTA_OBJ_DATA` of a `ct helper` object for this helper in
    /// `family` (`nft_ct_helper_obj_init()` looks it up, asking for
    /// `nfct-helper-<name>`).
    pub fn object_data(&self, family: Family) -> Vec<Attr> {
        vec![
            Attr::str(NFTA_CT_HELPER_NAME, self.name),
            Attr::Bytes(NFTA_CT_HELPER_L3PROTO, u16::from(family.nfproto()).to_be_bytes().to_vec()),
            Attr::Bytes(NFTA_CT_HELPER_L4PROTO, vec![self.l4proto]),
        ]
    }

    /// The witness: a `ct state` rule, which needs nft_ct, the module
    /// that registers the `ct helper` object type.
    pub fn witness(&self) -> Vec<Expr> {
        vec![e("ct", vec![Attr::U32(NFTA_CT_KEY, NFT_CT_STATE), Attr::U32(NFTA_CT_DREG, NFT_REG_1)])]
    }
}

/// An nf_tables object type (or flowtables).
#[derive(Debug, Clone, Copy)]
pub struct ObjectRecipe {
    /// The word after `object:`.
    pub name: &'static str,
    /// `NFT_OBJECT_*`; `None` for flowtables (`NFT_MSG_NEWFLOWTABLE`).
    pub number: Option<u32>,
    /// The families the type is registered for; empty = every family
    /// (`NFPROTO_UNSPEC`). Flowtables exist in ip, ip6 and inet.
    pub families: &'static [Family],
    /// `NFTA_OBJ_DATA`.
    pub data: fn() -> Vec<Attr>,
    /// Errnos that still mean "the type is there": `nf_tables_newobj()`
    /// finds the type (or answers ENOENT, after asking for `nft-obj-N`)
    /// before the type's init reads the data, so EINVAL for data left
    /// empty on purpose is a yes.
    pub present: &'static [i32],
}

/// The object types and flowtables.
pub static OBJECTS: &[ObjectRecipe] = &[
    ObjectRecipe { name: "counter", families: &[], number: Some(1), data: Vec::new, present: &[] },
    ObjectRecipe {
        name: "quota",
        families: &[],
        number: Some(2),
        data: || vec![Attr::U64(NFTA_QUOTA_BYTES, 1 << 20)],
        present: &[],
    },
    // Without a name and protocol: EINVAL once the type is found (the
    // helper itself is `helper:NAME`).
    ObjectRecipe {
        name: "ct-helper",
        families: &[],
        number: Some(3),
        data: Vec::new,
        present: &[libc::EINVAL],
    },
    ObjectRecipe {
        name: "limit",
        families: &[],
        number: Some(4),
        data: || {
            vec![
                Attr::U64(NFTA_LIMIT_RATE, 10),
                Attr::U64(NFTA_LIMIT_UNIT, 1),
                Attr::U32(NFTA_LIMIT_TYPE, NFT_LIMIT_PKTS),
            ]
        },
        present: &[],
    },
    ObjectRecipe {
        name: "connlimit",
        families: &[],
        number: Some(5),
        data: || vec![Attr::U32(NFTA_CONNLIMIT_COUNT, 10)],
        present: &[],
    },
    ObjectRecipe {
        name: "tunnel",
        families: &[Family::Netdev],
        number: Some(6),
        data: Vec::new,
        present: &[libc::EINVAL],
    },
    ObjectRecipe {
        name: "ct-timeout",
        families: &[],
        number: Some(7),
        data: Vec::new,
        present: &[libc::EINVAL],
    },
    ObjectRecipe {
        name: "secmark",
        families: &[],
        number: Some(8),
        data: Vec::new,
        present: &[libc::EINVAL],
    },
    ObjectRecipe {
        name: "ct-expectation",
        families: &[],
        number: Some(9),
        data: Vec::new,
        present: &[libc::EINVAL],
    },
    ObjectRecipe {
        name: "synproxy",
        families: &[],
        number: Some(10),
        data: Vec::new,
        present: &[libc::EINVAL],
    },
    ObjectRecipe {
        name: "flowtable",
        families: &[Family::Ipv4, Family::Ipv6, Family::Inet],
        number: None,
        data: Vec::new,
        present: &[],
    },
];

/// The object type named `name`.
pub fn object(name: &str) -> Option<&'static ObjectRecipe> {
    OBJECTS.iter().find(|o| o.name == name)
}

/// The textsearch algorithms iptables' string match offers (`--algo
/// bm|kmp`; `lib/ts_bm.c`, `lib/ts_kmp.c`). ts_fsm takes a token program,
/// not a string, and no rule names it.
pub const TEXTSEARCH: &[&str] = &["bm", "kmp"];

/// The rule that needs textsearch algorithm `algo`: the `string` match
/// (revision 1) as iptables sends `-m string --algo ALGO --string x`
/// (`string_mt_check()` asks `textsearch_prepare()`, which requests
/// `ts_ALGO`); with `witness`, a one-byte info, refused with EINVAL when
/// the match is registered and ENOENT when it is not.
pub fn string_match(algo: &str, witness: bool) -> Vec<Expr> {
    let info = if witness { vec![0] } else { xt_blob::string_info(algo) };
    vec![compat("match", "string", 1, info)]
}

/// The info blobs of the xtables extensions xtprobe sends through
/// nft_compat, laid out as the kernel's `#[repr(C)]` structures are on a
/// 64-bit kernel (x86_64, aarch64): the offsets come from the structures,
/// not from constants.
pub mod xt_blob {
    use std::mem::{offset_of, size_of};

    /// `struct xt_string_info` (include/uapi/linux/netfilter/xt_string.h).
    #[repr(C)]
    struct XtStringInfo {
        from_offset: u16,
        to_offset: u16,
        algo: [u8; 16],
        pattern: [u8; 128],
        patlen: u8,
        flags: u8,
        /// `struct ts_config __attribute__((aligned(8))) *config`.
        config: u64,
    }

    /// `struct xt_log_info` (xt_LOG.h).
    #[repr(C)]
    struct XtLogInfo {
        level: u8,
        logflags: u8,
        prefix: [u8; 30],
    }

    /// `struct xt_nflog_info` (xt_NFLOG.h).
    #[repr(C)]
    struct XtNflogInfo {
        len: u32,
        group: u16,
        threshold: u16,
        flags: u16,
        pad: u16,
        prefix: [u8; 64],
    }

    /// `XT_ALIGN`: the kernel compares the aligned sizes (`xt_check_match()`).
    fn xt_align(n: usize) -> usize {
        n.div_ceil(8) * 8
    }

    /// `-m string --algo ALGO --string x`, revision 1.
    pub fn string_info(algo: &str) -> Vec<u8> {
        let mut b = vec![0u8; xt_align(size_of::<XtStringInfo>())];
        b[offset_of!(XtStringInfo, to_offset)..][..2].copy_from_slice(&u16::MAX.to_ne_bytes());
        let a = algo.as_bytes();
        let n = a.len().min(15);
        b[offset_of!(XtStringInfo, algo)..][..n].copy_from_slice(&a[..n]);
        b[offset_of!(XtStringInfo, pattern)] = b'x';
        b[offset_of!(XtStringInfo, patlen)] = 1;
        b
    }

    /// `-j LOG` (level 4, as iptables' default).
    pub fn log_info() -> Vec<u8> {
        let mut b = vec![0u8; xt_align(size_of::<XtLogInfo>())];
        b[offset_of!(XtLogInfo, level)] = 4;
        b
    }

    /// `-j NFLOG` (group 0).
    pub fn nflog_info() -> Vec<u8> {
        let _ = (offset_of!(XtNflogInfo, group), offset_of!(XtNflogInfo, prefix));
        vec![0u8; xt_align(size_of::<XtNflogInfo>())]
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        /// The sizes the kernel's structures have on 64-bit builds
        /// (`pahole`-style arithmetic from the headers: 150 bytes, the
        /// pointer aligned to 8).
        #[test]
        fn sizes_match_the_kernel_layouts() {
            assert_eq!(size_of::<XtStringInfo>(), 160);
            assert_eq!(offset_of!(XtStringInfo, patlen), 148);
            assert_eq!(offset_of!(XtStringInfo, config), 152);
            assert_eq!(size_of::<XtLogInfo>(), 32);
            assert_eq!(size_of::<XtNflogInfo>(), 76);
            assert_eq!(nflog_info().len(), 80, "XT_ALIGN(76)");
            let s = string_info("kmp");
            assert_eq!(&s[4..8], b"kmp\0");
            assert_eq!((s[20], s[148]), (b'x', 1));
        }
    }
}
