//! nf_tables ABI constants, spelled as in `include/uapi/linux/netfilter/nf_tables.h`
//! (Linux 6.12) and `include/uapi/linux/netfilter.h`, so that `grep` in a
//! kernel tree finds each definition. Expression attributes sit with their
//! expression in [`super::recipe`]; only what every message uses is here.

// ---- enum nf_tables_msg_types --------------------------------------------------

/// `NFT_MSG_NEWTABLE`.
pub const NFT_MSG_NEWTABLE: u8 = 0;
/// `NFT_MSG_NEWCHAIN`.
pub const NFT_MSG_NEWCHAIN: u8 = 3;
/// `NFT_MSG_NEWRULE`.
pub const NFT_MSG_NEWRULE: u8 = 6;
/// `NFT_MSG_NEWSET`.
pub const NFT_MSG_NEWSET: u8 = 9;
/// `NFT_MSG_NEWOBJ`.
pub const NFT_MSG_NEWOBJ: u8 = 18;
/// `NFT_MSG_NEWFLOWTABLE`.
pub const NFT_MSG_NEWFLOWTABLE: u8 = 22;
/// `NFTA_FLOWTABLE_TABLE`.
pub const NFTA_FLOWTABLE_TABLE: u16 = 1;
/// `NFTA_FLOWTABLE_NAME`.
pub const NFTA_FLOWTABLE_NAME: u16 = 2;
/// `NFTA_FLOWTABLE_HOOK` (nested).
pub const NFTA_FLOWTABLE_HOOK: u16 = 3;
/// `NFTA_FLOWTABLE_HOOK_NUM`.
pub const NFTA_FLOWTABLE_HOOK_NUM: u16 = 1;
/// `NFTA_FLOWTABLE_HOOK_PRIORITY`.
pub const NFTA_FLOWTABLE_HOOK_PRIORITY: u16 = 2;

// ---- enum nft_table_attributes, nft_table_flags ----------------------------------

/// `NFTA_TABLE_NAME` (NLA_STRING).
pub const NFTA_TABLE_NAME: u16 = 1;
/// `NFTA_TABLE_FLAGS` (NLA_U32, big-endian).
pub const NFTA_TABLE_FLAGS: u16 = 2;
/// `NFT_TABLE_F_DORMANT`: the table's base chains register no hooks, so a
/// probe chain never touches traffic or conntrack, even for a moment.
pub const NFT_TABLE_F_DORMANT: u32 = 0x1;

// ---- enum nft_chain_attributes, nft_hook_attributes ------------------------------

/// `NFTA_CHAIN_TABLE` (NLA_STRING).
pub const NFTA_CHAIN_TABLE: u16 = 1;
/// `NFTA_CHAIN_NAME` (NLA_STRING).
pub const NFTA_CHAIN_NAME: u16 = 3;
/// `NFTA_CHAIN_HOOK` (NLA_NESTED): makes a base chain.
pub const NFTA_CHAIN_HOOK: u16 = 4;
/// `NFTA_CHAIN_TYPE` (NLA_STRING): `filter`, `nat`, `route`.
pub const NFTA_CHAIN_TYPE: u16 = 7;
/// `NFTA_HOOK_HOOKNUM` (NLA_U32).
pub const NFTA_HOOK_HOOKNUM: u16 = 1;
/// `NFTA_HOOK_PRIORITY` (NLA_U32, a signed value).
pub const NFTA_HOOK_PRIORITY: u16 = 2;
/// `NFTA_HOOK_DEV` (NLA_STRING): the device of a netdev chain.
pub const NFTA_HOOK_DEV: u16 = 3;

// ---- enum nft_rule_attributes, nft_list_attributes, nft_expr_attributes ------------

/// `NFTA_RULE_TABLE` (NLA_STRING).
pub const NFTA_RULE_TABLE: u16 = 1;
/// `NFTA_RULE_CHAIN` (NLA_STRING).
pub const NFTA_RULE_CHAIN: u16 = 2;
/// `NFTA_RULE_EXPRESSIONS` (NLA_NESTED list of `NFTA_LIST_ELEM`).
pub const NFTA_RULE_EXPRESSIONS: u16 = 4;
/// `NFTA_LIST_ELEM`.
pub const NFTA_LIST_ELEM: u16 = 1;
/// `NFTA_EXPR_NAME` (NLA_STRING): the expression type.
pub const NFTA_EXPR_NAME: u16 = 1;
/// `NFTA_EXPR_DATA` (NLA_NESTED): the type's own attributes.
pub const NFTA_EXPR_DATA: u16 = 2;

// ---- enum nft_set_attributes, nft_set_flags, nft_set_desc_attributes ------------

/// `NFTA_SET_TABLE` (NLA_STRING).
pub const NFTA_SET_TABLE: u16 = 1;
/// `NFTA_SET_NAME` (NLA_STRING).
pub const NFTA_SET_NAME: u16 = 2;
/// `NFTA_SET_FLAGS` (NLA_U32).
pub const NFTA_SET_FLAGS: u16 = 3;
/// `NFTA_SET_KEY_TYPE` (NLA_U32): a userspace data type, opaque to the kernel.
pub const NFTA_SET_KEY_TYPE: u16 = 4;
/// `NFTA_SET_KEY_LEN` (NLA_U32): bytes.
pub const NFTA_SET_KEY_LEN: u16 = 5;
/// `NFTA_SET_DATA_TYPE` (NLA_U32): for maps; `NFT_DATA_VERDICT` for vmaps.
pub const NFTA_SET_DATA_TYPE: u16 = 6;
/// `NFTA_SET_DATA_LEN` (NLA_U32).
pub const NFTA_SET_DATA_LEN: u16 = 7;
/// `NFTA_SET_DESC` (NLA_NESTED).
pub const NFTA_SET_DESC: u16 = 9;
/// `NFTA_SET_ID` (NLA_U32): names the set within the transaction.
pub const NFTA_SET_ID: u16 = 10;
/// `NFTA_SET_TIMEOUT` (NLA_U64, milliseconds).
pub const NFTA_SET_TIMEOUT: u16 = 11;
/// `NFTA_SET_DESC_CONCAT` (NLA_NESTED list of fields).
pub const NFTA_SET_DESC_CONCAT: u16 = 2;
/// `NFTA_SET_FIELD_LEN` (NLA_U32): one concatenated field's length.
pub const NFTA_SET_FIELD_LEN: u16 = 1;
/// `NFT_SET_INTERVAL`.
pub const NFT_SET_INTERVAL: u32 = 0x4;
/// `NFT_SET_MAP`.
pub const NFT_SET_MAP: u32 = 0x8;
/// `NFT_SET_TIMEOUT`.
pub const NFT_SET_TIMEOUT: u32 = 0x10;
/// `NFT_SET_EVAL`: updated from the packet path (dynset).
pub const NFT_SET_EVAL: u32 = 0x20;
/// `NFT_SET_CONCAT`.
pub const NFT_SET_CONCAT: u32 = 0x80;
/// `NFT_DATA_VERDICT`: a map whose values are verdicts.
pub const NFT_DATA_VERDICT: u32 = 0xffff_ff00;

// ---- enum nft_object_attributes ----------------------------------------------------

/// `NFTA_OBJ_TABLE` (NLA_STRING).
pub const NFTA_OBJ_TABLE: u16 = 1;
/// `NFTA_OBJ_NAME` (NLA_STRING).
pub const NFTA_OBJ_NAME: u16 = 2;
/// `NFTA_OBJ_TYPE` (NLA_U32).
pub const NFTA_OBJ_TYPE: u16 = 3;
/// `NFTA_OBJ_DATA` (NLA_NESTED).
pub const NFTA_OBJ_DATA: u16 = 4;
/// `NFT_OBJECT_COUNTER`.
pub const NFT_OBJECT_COUNTER: u32 = 1;
/// `NFT_OBJECT_CT_HELPER`.
pub const NFT_OBJECT_CT_HELPER: u32 = 3;

// ---- enum nft_registers ------------------------------------------------------------

/// `NFT_REG_1`: the first 16-byte data register.
pub const NFT_REG_1: u32 = 1;

// ---- include/uapi/linux/netfilter.h: hooks --------------------------------------------

/// `NF_INET_LOCAL_IN`.
pub const NF_INET_LOCAL_IN: u32 = 1;
/// `NF_INET_LOCAL_OUT`.
pub const NF_INET_LOCAL_OUT: u32 = 3;
/// `NF_INET_POST_ROUTING`.
pub const NF_INET_POST_ROUTING: u32 = 4;
/// `NF_ARP_IN` (`include/uapi/linux/netfilter_arp.h`).
pub const NF_ARP_IN: u32 = 0;
/// `NF_NETDEV_INGRESS`.
pub const NF_NETDEV_INGRESS: u32 = 0;
/// `NF_BR_LOCAL_IN` (`include/uapi/linux/netfilter_bridge.h`).
pub const NF_BR_LOCAL_IN: u32 = 1;
