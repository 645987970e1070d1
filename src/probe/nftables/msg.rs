//! The nf_tables messages a validate-only batch is made of, as typed values
//! with an explicit `emit`: `NFNL_MSG_BATCH_BEGIN`, `NFT_MSG_NEWTABLE`,
//! `NEWCHAIN`, `NEWSET`, `NEWOBJ` and `NEWRULE` with its expressions.
//!
//! Every message asks for an ACK, so the kernel answers each one — 0 or an
//! errno with its extended-ACK text — and a batch that never sees
//! `NFNL_MSG_BATCH_END` is validated and aborted (`nfnetlink_rcv_batch` in
//! `net/netfilter/nfnetlink.c`): nothing is committed.

use super::abi::*;
use crate::probe::Family;
use crate::probe::consts::*;
use crate::probe::wire::{Nfgenmsg, Nla, nfnl_message, nfnl_msg_type};

/// One netlink attribute, with nested attributes as a tree. nf_tables
/// integers are big-endian.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attr {
    /// A big-endian u32 (`NLA_U32`, `NLA_BE32`).
    U32(u16, u32),
    /// A big-endian u64 (`NLA_U64`).
    U64(u16, u64),
    /// A NUL-terminated string (`NLA_STRING`, `NLA_NUL_STRING`).
    Str(u16, String),
    /// Raw bytes (`NLA_BINARY`).
    Bytes(u16, Vec<u8>),
    /// Attributes inside, with `NLA_F_NESTED` set.
    Nested(u16, Vec<Attr>),
}

impl Attr {
    /// A string attribute.
    pub fn str(ty: u16, s: &str) -> Attr {
        Attr::Str(ty, s.to_string())
    }

    /// Appends the attribute to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        match self {
            Attr::U32(ty, v) => Nla::emit(*ty, &v.to_be_bytes(), out),
            Attr::U64(ty, v) => Nla::emit(*ty, &v.to_be_bytes(), out),
            Attr::Str(ty, s) => {
                let mut b = Vec::with_capacity(s.len() + 1);
                b.extend_from_slice(s.as_bytes());
                b.push(0);
                Nla::emit(*ty, &b, out);
            }
            Attr::Bytes(ty, b) => Nla::emit(*ty, b, out),
            Attr::Nested(ty, inner) => {
                let mut body = Vec::new();
                for a in inner {
                    a.emit(&mut body);
                }
                Nla::emit(*ty | NLA_F_NESTED, &body, out);
            }
        }
    }
}

/// One expression of a rule: its type name and its attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expr {
    /// `NFTA_EXPR_NAME`.
    pub name: &'static str,
    /// Inside `NFTA_EXPR_DATA`.
    pub data: Vec<Attr>,
}

impl Expr {
    /// The `NFTA_LIST_ELEM` this expression is sent as.
    fn attr(&self) -> Attr {
        let mut elem = vec![Attr::str(NFTA_EXPR_NAME, self.name)];
        if !self.data.is_empty() {
            elem.push(Attr::Nested(NFTA_EXPR_DATA, self.data.clone()));
        }
        Attr::Nested(NFTA_LIST_ELEM, elem)
    }
}

/// A base chain's hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    /// `NFTA_CHAIN_TYPE`.
    pub chain_type: String,
    /// `NFTA_HOOK_HOOKNUM`.
    pub hooknum: u32,
    /// `NFTA_HOOK_PRIORITY`.
    pub priority: i32,
    /// `NFTA_HOOK_DEV`, for netdev chains.
    pub device: Option<&'static str>,
}

/// A set's shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetSpec {
    /// `NFTA_SET_FLAGS`.
    pub flags: u32,
    /// `NFTA_SET_KEY_TYPE` (userspace's data type number; the kernel keeps it).
    pub key_type: u32,
    /// `NFTA_SET_KEY_LEN`.
    pub key_len: u32,
    /// `NFTA_SET_DATA_TYPE` and `NFTA_SET_DATA_LEN`, for maps.
    pub data: Option<(u32, u32)>,
    /// `NFTA_SET_DESC_CONCAT`: each field's length, for concatenations.
    pub concat: Vec<u32>,
    /// `NFTA_SET_TIMEOUT` in milliseconds.
    pub timeout_ms: Option<u64>,
}

/// One message of a batch (the `BATCH_BEGIN` frame aside).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// `NFT_MSG_NEWTABLE`, always dormant.
    Table {
        /// `NFTA_TABLE_NAME`.
        name: String,
    },
    /// `NFT_MSG_NEWCHAIN`: a regular chain, or a base chain with a hook.
    Chain {
        /// `NFTA_CHAIN_TABLE`.
        table: String,
        /// `NFTA_CHAIN_NAME`.
        name: String,
        /// `NFTA_CHAIN_HOOK` and `NFTA_CHAIN_TYPE`.
        hook: Option<Hook>,
    },
    /// `NFT_MSG_NEWSET`.
    Set {
        /// `NFTA_SET_TABLE`.
        table: String,
        /// `NFTA_SET_NAME`.
        name: String,
        /// `NFTA_SET_ID`.
        id: u32,
        /// The rest.
        spec: SetSpec,
    },
    /// `NFT_MSG_NEWOBJ`.
    Obj {
        /// `NFTA_OBJ_TABLE`.
        table: String,
        /// `NFTA_OBJ_NAME`.
        name: String,
        /// `NFTA_OBJ_TYPE`.
        ty: u32,
        /// Inside `NFTA_OBJ_DATA`.
        data: Vec<Attr>,
    },
    /// `NFT_MSG_NEWFLOWTABLE`, with an ingress hook and no devices.
    Flowtable {
        /// `NFTA_FLOWTABLE_TABLE`.
        table: String,
        /// `NFTA_FLOWTABLE_NAME`.
        name: String,
    },
    /// `NFT_MSG_NEWRULE`, appended to `chain`.
    Rule {
        /// `NFTA_RULE_TABLE`.
        table: String,
        /// `NFTA_RULE_CHAIN`.
        chain: String,
        /// `NFTA_RULE_EXPRESSIONS`.
        exprs: Vec<Expr>,
    },
}

impl Message {
    /// The `NFT_MSG_*` type.
    pub fn msg(&self) -> u8 {
        match self {
            Message::Table { .. } => NFT_MSG_NEWTABLE,
            Message::Chain { .. } => NFT_MSG_NEWCHAIN,
            Message::Set { .. } => NFT_MSG_NEWSET,
            Message::Obj { .. } => NFT_MSG_NEWOBJ,
            Message::Flowtable { .. } => NFT_MSG_NEWFLOWTABLE,
            Message::Rule { .. } => NFT_MSG_NEWRULE,
        }
    }

    /// The kernel's name for the message, for errors.
    pub fn op(&self) -> &'static str {
        match self {
            Message::Table { .. } => "NFT_MSG_NEWTABLE",
            Message::Chain { .. } => "NFT_MSG_NEWCHAIN",
            Message::Set { .. } => "NFT_MSG_NEWSET",
            Message::Obj { .. } => "NFT_MSG_NEWOBJ",
            Message::Flowtable { .. } => "NFT_MSG_NEWFLOWTABLE",
            Message::Rule { .. } => "NFT_MSG_NEWRULE",
        }
    }

    /// The attributes, in the order `nft` sends them.
    pub fn attrs(&self) -> Vec<Attr> {
        match self {
            Message::Table { name } => {
                vec![Attr::str(NFTA_TABLE_NAME, name), Attr::U32(NFTA_TABLE_FLAGS, NFT_TABLE_F_DORMANT)]
            }
            Message::Chain { table, name, hook } => {
                let mut a = vec![Attr::str(NFTA_CHAIN_TABLE, table), Attr::str(NFTA_CHAIN_NAME, name)];
                if let Some(h) = hook {
                    let mut inner = vec![
                        Attr::U32(NFTA_HOOK_HOOKNUM, h.hooknum),
                        Attr::U32(NFTA_HOOK_PRIORITY, h.priority as u32),
                    ];
                    if let Some(dev) = h.device {
                        inner.push(Attr::str(NFTA_HOOK_DEV, dev));
                    }
                    a.push(Attr::Nested(NFTA_CHAIN_HOOK, inner));
                    a.push(Attr::str(NFTA_CHAIN_TYPE, &h.chain_type));
                }
                a
            }
            Message::Set { table, name, id, spec } => {
                let mut a = vec![
                    Attr::str(NFTA_SET_TABLE, table),
                    Attr::str(NFTA_SET_NAME, name),
                    Attr::U32(NFTA_SET_FLAGS, spec.flags),
                    Attr::U32(NFTA_SET_KEY_TYPE, spec.key_type),
                    Attr::U32(NFTA_SET_KEY_LEN, spec.key_len),
                ];
                if let Some((ty, len)) = spec.data {
                    a.push(Attr::U32(NFTA_SET_DATA_TYPE, ty));
                    a.push(Attr::U32(NFTA_SET_DATA_LEN, len));
                }
                a.push(Attr::U32(NFTA_SET_ID, *id));
                if let Some(ms) = spec.timeout_ms {
                    a.push(Attr::U64(NFTA_SET_TIMEOUT, ms));
                }
                if !spec.concat.is_empty() {
                    let fields = spec
                        .concat
                        .iter()
                        .map(|&len| Attr::Nested(NFTA_LIST_ELEM, vec![Attr::U32(NFTA_SET_FIELD_LEN, len)]))
                        .collect();
                    a.push(Attr::Nested(NFTA_SET_DESC, vec![Attr::Nested(NFTA_SET_DESC_CONCAT, fields)]));
                }
                a
            }
            Message::Obj { table, name, ty, data } => vec![
                Attr::str(NFTA_OBJ_TABLE, table),
                Attr::str(NFTA_OBJ_NAME, name),
                Attr::U32(NFTA_OBJ_TYPE, *ty),
                Attr::Nested(NFTA_OBJ_DATA, data.clone()),
            ],
            Message::Flowtable { table, name } => vec![
                Attr::str(NFTA_FLOWTABLE_TABLE, table),
                Attr::str(NFTA_FLOWTABLE_NAME, name),
                Attr::Nested(
                    NFTA_FLOWTABLE_HOOK,
                    vec![
                        Attr::U32(NFTA_FLOWTABLE_HOOK_NUM, NF_NETDEV_INGRESS),
                        Attr::U32(NFTA_FLOWTABLE_HOOK_PRIORITY, 0),
                    ],
                ),
            ],
            Message::Rule { table, chain, exprs } => vec![
                Attr::str(NFTA_RULE_TABLE, table),
                Attr::str(NFTA_RULE_CHAIN, chain),
                Attr::Nested(NFTA_RULE_EXPRESSIONS, exprs.iter().map(Expr::attr).collect()),
            ],
        }
    }

    /// Encodes the message for `family` with sequence number `seq`: ACK
    /// requested; objects created exclusively, rules appended.
    pub fn emit(&self, family: Family, seq: u32) -> Vec<u8> {
        let flags = NLM_F_REQUEST
            | NLM_F_ACK
            | NLM_F_CREATE
            | match self {
                Message::Rule { .. } => NLM_F_APPEND,
                _ => NLM_F_EXCL,
            };
        let ty = nfnl_msg_type(NFNL_SUBSYS_NFTABLES, self.msg());
        let nfgen = Nfgenmsg { family: family.nfproto(), version: NFNETLINK_V0, res_id: 0 };
        let attrs = self.attrs();
        nfnl_message(ty, flags, seq, nfgen, |out| {
            for a in &attrs {
                a.emit(out);
            }
        })
    }
}

/// `NFNL_MSG_BATCH_BEGIN` for nf_tables: `res_id` is the subsystem
/// (`NFNL_SUBSYS_NFTABLES`, big-endian), family `AF_UNSPEC`, no ACK asked
/// (the kernel answers it only when it refuses the whole batch).
pub fn batch_begin(seq: u32) -> Vec<u8> {
    let nfgen = Nfgenmsg {
        family: libc::AF_UNSPEC as u8,
        version: NFNETLINK_V0,
        res_id: NFNL_SUBSYS_NFTABLES as u16,
    };
    nfnl_message(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, seq, nfgen, |_| {})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_begin_names_the_subsystem_big_endian() {
        let b = batch_begin(7);
        assert_eq!(b.len(), 20);
        assert_eq!(u16::from_ne_bytes([b[4], b[5]]), 0x10);
        assert_eq!(u16::from_ne_bytes([b[6], b[7]]), NLM_F_REQUEST);
        assert_eq!(&b[16..], &[0, 0, 0, 10]);
    }

    #[test]
    fn nested_attributes_carry_the_nested_flag() {
        let mut out = Vec::new();
        Attr::Nested(NFTA_CHAIN_HOOK, vec![Attr::U32(NFTA_HOOK_HOOKNUM, 1)]).emit(&mut out);
        assert_eq!(out, [12, 0, 4, 0x80, 8, 0, 1, 0, 0, 0, 0, 1]);
    }

    #[test]
    fn dormant_table() {
        let b = Message::Table { name: "t".into() }.emit(Family::Ipv4, 2);
        assert_eq!(u16::from_ne_bytes([b[4], b[5]]), 0x0a00);
        let flags = u16::from_ne_bytes([b[6], b[7]]);
        assert_eq!(flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
        assert_eq!(b[16], 2, "nfgen_family");
        // NFTA_TABLE_NAME "t\0" padded, NFTA_TABLE_FLAGS = 1 (big-endian)
        assert_eq!(&b[20..], &[6, 0, 1, 0, b't', 0, 0, 0, 8, 0, 2, 0, 0, 0, 0, 1]);
    }
}
