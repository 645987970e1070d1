//! Reading the nf_tables ruleset: `NFT_MSG_GETTABLE`, `GETCHAIN`, `GETSET`
//! and `GETRULE` dumps (`NLM_F_DUMP`, every family at once), each object
//! decoded into what it requires of the kernel. Read-only: nothing is
//! created, and nothing is loaded (dumps never autoload).
//!
//! What each object says (`net/netfilter/nf_tables_api.c`, the `*_fill_*_info`
//! functions):
//! - a table: its family (`nfgen_family`);
//! - a base chain: its type (`NFTA_CHAIN_TYPE`), only present with a hook;
//! - a set: its features, from `NFTA_SET_FLAGS` (map, interval, concat,
//!   timeout), `NFTA_SET_DATA_TYPE` (a verdict map), `NFTA_SET_DESC_CONCAT`,
//!   `NFTA_SET_TIMEOUT`, and per-element expressions (`NFTA_SET_EXPR(ESSIONS)`);
//! - a rule: every expression's `NFTA_EXPR_NAME`; for nft_compat's `match`
//!   and `target`, the xtables extension inside (`NFTA_MATCH_NAME`,
//!   `NFTA_MATCH_REV`), as iptables-nft writes them.

use super::abi::*;
use crate::probe::consts::*;
use crate::probe::socket::NfnlSocket;
use crate::probe::wire::{Nfgenmsg, Nla, WireError, nfnl_message, nfnl_msg_type};
use crate::probe::{Family, Kind, ProbeError};

/// `NFT_MSG_GETTABLE`.
pub const NFT_MSG_GETTABLE: u8 = 1;
/// `NFT_MSG_GETCHAIN`.
pub const NFT_MSG_GETCHAIN: u8 = 4;
/// `NFT_MSG_GETRULE`.
pub const NFT_MSG_GETRULE: u8 = 7;
/// `NFT_MSG_GETSET`.
pub const NFT_MSG_GETSET: u8 = 10;
/// `NFT_MSG_GETOBJ`.
pub const NFT_MSG_GETOBJ: u8 = 19;
/// `NFT_MSG_GETFLOWTABLE`.
pub const NFT_MSG_GETFLOWTABLE: u8 = 23;
/// `NFTA_COMPAT_X_INFO` (`NFTA_MATCH_INFO`, `NFTA_TARGET_INFO`).
const NFTA_COMPAT_X_INFO: u16 = 3;
/// `NFTA_LOG_GROUP`.
const NFTA_LOG_GROUP: u16 = 1;
/// `NFTA_LOG_LEVEL`.
const NFTA_LOG_LEVEL: u16 = 5;
/// `NFT_LOGLEVEL_AUDIT`.
const NFT_LOGLEVEL_AUDIT: u32 = 8;
/// `NFTA_CT_HELPER_NAME`.
const NFTA_CT_HELPER_NAME: u16 = 1;
/// `NFTA_SET_EXPR`: one expression every element carries.
const NFTA_SET_EXPR: u16 = 17;
/// `NFTA_SET_EXPRESSIONS`: several.
const NFTA_SET_EXPRESSIONS: u16 = 18;
/// `NFTA_MATCH_NAME` / `NFTA_TARGET_NAME` (`nf_tables_compat.h`).
const NFTA_COMPAT_X_NAME: u16 = 1;
/// `NFTA_MATCH_REV` / `NFTA_TARGET_REV`.
const NFTA_COMPAT_X_REV: u16 = 2;
/// Bits per type in a concatenated key type (nftables `TYPE_BITS`).
const CONCAT_TYPE_BITS: u32 = 6;
/// `NFT_SET_ANONYMOUS`.
pub const NFT_SET_ANONYMOUS: u32 = 0x1;
/// `NFT_SET_OBJECT`.
pub const NFT_SET_OBJECT: u32 = 0x40;

/// How many times an inconsistent dump (`NLM_F_DUMP_INTR`) is started over.
pub const DUMP_RETRIES: usize = 5;

/// One expression a rule (or a set's elements) uses.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ExprUse {
    /// A native expression type: `numgen`.
    Native(String),
    /// nft_compat's `match` or `target` carrying an xtables extension.
    Compat {
        /// Match or target.
        kind: Kind,
        /// The extension's name.
        name: String,
        /// Its revision.
        revision: u8,
    },
    /// Something an expression needs beneath it: the logger of `log` (or
    /// of LOG/NFLOG), the textsearch algorithm of the string match, a
    /// conntrack helper.
    Beneath(Kind, String),
}

/// One decoded object of the ruleset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Object {
    /// A table.
    Table {
        /// Its family.
        family: u8,
        /// Its name.
        name: String,
    },
    /// A chain (a base chain has a type).
    Chain {
        /// Its family.
        family: u8,
        /// Its table.
        table: String,
        /// Its name.
        name: String,
        /// `NFTA_CHAIN_TYPE`, for base chains.
        chain_type: Option<String>,
    },
    /// A set or map.
    Set {
        /// Its family.
        family: u8,
        /// Its table.
        table: String,
        /// Its name.
        name: String,
        /// The features it needs: `map`, `vmap`, `interval`, `concat`, `timeout`.
        features: Vec<&'static str>,
        /// Expressions its elements carry.
        exprs: Vec<ExprUse>,
    },
    /// A stateful object (`counter`, `quota`, `ct helper`, …): its type
    /// as an `object:` name, and for a ct helper the helper it names.
    Stateful {
        /// Its family.
        family: u8,
        /// Its table.
        table: String,
        /// Its name.
        name: String,
        /// Its type (`ct-helper`), or `type N` for one xtprobe does not know.
        object: String,
        /// The helper a ct helper object names.
        helper: Option<String>,
    },
    /// A flowtable.
    Flowtable {
        /// Its family.
        family: u8,
        /// Its table.
        table: String,
        /// Its name.
        name: String,
    },
    /// A rule.
    Rule {
        /// Its family.
        family: u8,
        /// Its table.
        table: String,
        /// Its chain.
        chain: String,
        /// Its expressions, in order.
        exprs: Vec<ExprUse>,
    },
}

/// A dump request for `msg` in every family.
pub fn emit_dump(msg: u8, seq: u32) -> Vec<u8> {
    let nfgen = Nfgenmsg { family: libc::AF_UNSPEC as u8, version: NFNETLINK_V0, res_id: 0 };
    nfnl_message(nfnl_msg_type(NFNL_SUBSYS_NFTABLES, msg), NLM_F_REQUEST | NLM_F_DUMP, seq, nfgen, |_| {})
}

/// The family named by an `NFPROTO_*` value, if xtprobe has it.
pub fn family_of(nfproto: u8) -> Option<Family> {
    Family::ALL.into_iter().find(|f| f.nfproto() == nfproto)
}

fn string(nla: &Nla<'_>, name: &'static str) -> Result<String, WireError> {
    // Strings from a dump are NUL-terminated; refuse anything else.
    let s = nla.c_string(name)?;
    if s.len() > 256 {
        return Err(WireError::BadAttribute { name, why: "longer than NFT_NAME_MAXLEN" });
    }
    Ok(s)
}

fn attrs(payload: &[u8]) -> Result<(u8, Vec<Nla<'_>>), WireError> {
    let nfgen = Nfgenmsg::parse(payload)?;
    let list: Result<Vec<Nla<'_>>, WireError> = Nla::iter(&payload[NFGENMSG_LEN..]).collect();
    Ok((nfgen.family, list?))
}

/// Decodes one expression list (`NFTA_RULE_EXPRESSIONS`, `NFTA_SET_EXPRESSIONS`).
fn expressions(list: &[u8]) -> Result<Vec<ExprUse>, WireError> {
    let mut out = Vec::new();
    for elem in Nla::iter(list) {
        let elem = elem?;
        if elem.ty != NFTA_LIST_ELEM {
            continue;
        }
        out.extend(expression(elem.payload)?);
    }
    Ok(out)
}

/// Decodes one `NFTA_LIST_ELEM` (or `NFTA_SET_EXPR`): name, and for
/// nft_compat the extension inside; then what it needs beneath it.
fn expression(elem: &[u8]) -> Result<Vec<ExprUse>, WireError> {
    let mut name = None;
    let mut data: &[u8] = &[];
    for a in Nla::iter(elem) {
        let a = a?;
        match a.ty {
            NFTA_EXPR_NAME => name = Some(string(&a, "NFTA_EXPR_NAME")?),
            NFTA_EXPR_DATA => data = a.payload,
            _ => {}
        }
    }
    let first = expression_use(elem)?;
    let mut out = vec![first.clone()];
    match (&first, name.as_deref()) {
        // nft_log_init(): a group means the ULOG logger; level audit none;
        // anything else the LOG (syslog) one.
        (ExprUse::Native(_), Some("log")) => {
            let (mut group, mut audit) = (false, false);
            for a in Nla::iter(data) {
                let a = a?;
                match a.ty {
                    NFTA_LOG_GROUP => group = true,
                    NFTA_LOG_LEVEL => audit = a.be_u32("NFTA_LOG_LEVEL")? == NFT_LOGLEVEL_AUDIT,
                    _ => {}
                }
            }
            if group {
                out.push(ExprUse::Beneath(Kind::Logger, "nflog".into()));
            } else if !audit {
                out.push(ExprUse::Beneath(Kind::Logger, "syslog".into()));
            }
        }
        (ExprUse::Compat { kind, name, .. }, _) => {
            let mut info: &[u8] = &[];
            for a in Nla::iter(data) {
                let a = a?;
                if a.ty == NFTA_COMPAT_X_INFO {
                    info = a.payload;
                }
            }
            out.extend(
                crate::probe::xt::beneath::beneath(*kind, name, info)
                    .into_iter()
                    .map(|(k, n)| ExprUse::Beneath(k, n)),
            );
        }
        _ => {}
    }
    Ok(out)
}

/// The expression an `NFTA_LIST_ELEM` is: its type, or the xtables
/// extension nft_compat carries.
fn expression_use(elem: &[u8]) -> Result<ExprUse, WireError> {
    let (mut name, mut data) = (None, None);
    for a in Nla::iter(elem) {
        let a = a?;
        match a.ty {
            NFTA_EXPR_NAME => name = Some(string(&a, "NFTA_EXPR_NAME")?),
            NFTA_EXPR_DATA => data = Some(a.payload),
            _ => {}
        }
    }
    let name = name.ok_or(WireError::BadAttribute { name: "NFTA_EXPR_NAME", why: "missing" })?;
    let kind = match name.as_str() {
        "match" => Kind::Match,
        "target" => Kind::Target,
        _ => return Ok(ExprUse::Native(name)),
    };
    let (mut ext, mut rev) = (None, None);
    for a in Nla::iter(data.unwrap_or_default()) {
        let a = a?;
        match a.ty {
            NFTA_COMPAT_X_NAME => ext = Some(string(&a, "NFTA_MATCH_NAME")?),
            NFTA_COMPAT_X_REV => rev = Some(a.be_u32("NFTA_MATCH_REV")?),
            _ => {}
        }
    }
    match (ext, rev) {
        (Some(name), Some(rev)) => Ok(ExprUse::Compat {
            kind,
            name,
            revision: u8::try_from(rev)
                .map_err(|_| WireError::BadAttribute { name: "NFTA_MATCH_REV", why: "above 255" })?,
        }),
        _ => Err(WireError::BadAttribute {
            name: "NFTA_MATCH_NAME",
            why: "a compat expression without name or revision",
        }),
    }
}

/// Decodes one dumped message (`NFT_MSG_NEW*` payload); `None` for a
/// message type that is not an object kind xtprobe reads.
pub fn parse(msg: u8, payload: &[u8]) -> Result<Option<Object>, WireError> {
    let (family, list) = attrs(payload)?;
    let get = |ty: u16| list.iter().find(|a| a.ty == ty);
    let req = |ty: u16, name: &'static str| -> Result<String, WireError> {
        get(ty).map(|a| string(a, name)).unwrap_or(Err(WireError::BadAttribute { name, why: "missing" }))
    };
    Ok(Some(match msg {
        NFT_MSG_NEWTABLE => Object::Table { family, name: req(NFTA_TABLE_NAME, "NFTA_TABLE_NAME")? },
        NFT_MSG_NEWCHAIN => Object::Chain {
            family,
            table: req(NFTA_CHAIN_TABLE, "NFTA_CHAIN_TABLE")?,
            name: req(NFTA_CHAIN_NAME, "NFTA_CHAIN_NAME")?,
            chain_type: get(NFTA_CHAIN_TYPE).map(|a| string(a, "NFTA_CHAIN_TYPE")).transpose()?,
        },
        NFT_MSG_NEWSET => {
            let flags = get(NFTA_SET_FLAGS).map(|a| a.be_u32("NFTA_SET_FLAGS")).transpose()?.unwrap_or(0);
            let data_type = get(NFTA_SET_DATA_TYPE).map(|a| a.be_u32("NFTA_SET_DATA_TYPE")).transpose()?;
            // nft describes the fields of a concatenation to the kernel only
            // for intervals (NFTA_SET_DESC_CONCAT); otherwise the key type
            // it stores says so: concatenated types are packed 6 bits each.
            let key_type =
                get(NFTA_SET_KEY_TYPE).map(|a| a.be_u32("NFTA_SET_KEY_TYPE")).transpose()?.unwrap_or(0);
            let concat_desc = key_type >= 1 << CONCAT_TYPE_BITS
                || match get(NFTA_SET_DESC) {
                    Some(d) => Nla::iter(d.payload).any(|a| a.is_ok_and(|a| a.ty == NFTA_SET_DESC_CONCAT)),
                    None => false,
                };
            let mut exprs = Vec::new();
            if let Some(e) = get(NFTA_SET_EXPR) {
                exprs.extend(expression(e.payload)?);
            }
            if let Some(e) = get(NFTA_SET_EXPRESSIONS) {
                exprs.extend(expressions(e.payload)?);
            }
            Object::Set {
                family,
                table: req(NFTA_SET_TABLE, "NFTA_SET_TABLE")?,
                name: req(NFTA_SET_NAME, "NFTA_SET_NAME")?,
                features: set_features(flags, data_type, concat_desc, get(NFTA_SET_TIMEOUT).is_some()),
                exprs,
            }
        }
        NFT_MSG_NEWOBJ => {
            let ty = get(NFTA_OBJ_TYPE).map(|a| a.be_u32("NFTA_OBJ_TYPE")).transpose()?.unwrap_or(0);
            let object = crate::probe::nftables::recipe::OBJECTS
                .iter()
                .find(|o| o.number == Some(ty))
                .map(|o| o.name.to_string())
                .unwrap_or_else(|| format!("type {ty}"));
            let mut helper = None;
            if ty == NFT_OBJECT_CT_HELPER {
                if let Some(d) = get(NFTA_OBJ_DATA) {
                    for a in Nla::iter(d.payload) {
                        let a = a?;
                        if a.ty == NFTA_CT_HELPER_NAME {
                            helper = Some(string(&a, "NFTA_CT_HELPER_NAME")?);
                        }
                    }
                }
            }
            Object::Stateful {
                family,
                table: req(NFTA_OBJ_TABLE, "NFTA_OBJ_TABLE")?,
                name: req(NFTA_OBJ_NAME, "NFTA_OBJ_NAME")?,
                object,
                helper,
            }
        }
        NFT_MSG_NEWFLOWTABLE => Object::Flowtable {
            family,
            table: req(NFTA_FLOWTABLE_TABLE, "NFTA_FLOWTABLE_TABLE")?,
            name: req(NFTA_FLOWTABLE_NAME, "NFTA_FLOWTABLE_NAME")?,
        },
        NFT_MSG_NEWRULE => Object::Rule {
            family,
            table: req(NFTA_RULE_TABLE, "NFTA_RULE_TABLE")?,
            chain: req(NFTA_RULE_CHAIN, "NFTA_RULE_CHAIN")?,
            exprs: get(NFTA_RULE_EXPRESSIONS)
                .map(|a| expressions(a.payload))
                .transpose()?
                .unwrap_or_default(),
        },
        _ => return Ok(None),
    }))
}

/// The set features (as `set:` names) a set with these attributes needs:
/// a concatenation with intervals needs `concat-interval` (pipapo); one
/// without, only the longer key of `concat`.
pub fn set_features(flags: u32, data_type: Option<u32>, concat: bool, timeout: bool) -> Vec<&'static str> {
    let mut out = Vec::new();
    let interval = flags & NFT_SET_INTERVAL != 0;
    if flags & NFT_SET_CONCAT != 0 || concat {
        out.push(if interval { "concat-interval" } else { "concat" });
    }
    if interval {
        out.push("interval");
    }
    if flags & NFT_SET_MAP != 0 {
        out.push(if data_type == Some(NFT_DATA_VERDICT) { "vmap" } else { "map" });
    }
    if flags & NFT_SET_TIMEOUT != 0 || timeout {
        out.push("timeout");
    }
    out
}

/// The ruleset generation (`NFT_MSG_GETGEN`). EOPNOTSUPP: nf_tables is
/// not there ([`ProbeError::NoNftables`]).
pub fn generation(sock: &mut NfnlSocket) -> Result<u32, ProbeError> {
    use crate::probe::exchange::Answer;
    use crate::probe::generation::{NEWGEN, emit_getgen, parse_newgen};
    match sock.request(emit_getgen, NEWGEN)? {
        Answer::Data(payload) => Ok(parse_newgen(&payload)?),
        Answer::Error { errno: libc::EPERM, .. } => {
            Err(ProbeError::PermissionDenied { cap: "CAP_NET_ADMIN" })
        }
        Answer::Error { errno: libc::EOPNOTSUPP, .. } => Err(ProbeError::NoNftables),
        Answer::Error { errno, ext_ack } => Err(ProbeError::Os {
            op: "NFT_MSG_GETGEN",
            errno: crate::probe::Errno(errno),
            ext_ack: ext_ack.message,
        }),
        Answer::BareAck => Err(ProbeError::Wire(WireError::UnexpectedType(0))),
    }
}

/// Reads the whole ruleset: tables, chains, sets, objects, flowtables,
/// rules, handing each object to `each`, as one generation: the
/// generation is asked before and after the six dumps, and a commit in
/// between (or a dump the kernel marks interrupted) starts it over from
/// the tables (`each(None)` first, so the caller drops what it kept), up
/// to [`DUMP_RETRIES`] times. Returns the generation read.
pub fn read_ruleset(sock: &mut NfnlSocket, mut each: impl FnMut(Option<Object>)) -> Result<u32, ProbeError> {
    'attempt: for _ in 0..=DUMP_RETRIES {
        each(None);
        let before = generation(sock)?;
        for msg in [
            NFT_MSG_GETTABLE,
            NFT_MSG_GETCHAIN,
            NFT_MSG_GETSET,
            NFT_MSG_GETOBJ,
            NFT_MSG_GETFLOWTABLE,
            NFT_MSG_GETRULE,
        ] {
            let reply = msg - 1; // NFT_MSG_NEW* = NFT_MSG_GET* - 1
            let interrupted = sock.dump(
                |seq| emit_dump(msg, seq),
                "NFT_MSG_GET* (dump)",
                |m| {
                    if m.header.ty != nfnl_msg_type(NFNL_SUBSYS_NFTABLES, reply) {
                        return Err(ProbeError::Wire(WireError::UnexpectedType(m.header.ty)));
                    }
                    if let Some(obj) = parse(reply, m.payload)? {
                        each(Some(obj));
                    }
                    Ok(())
                },
            )?;
            if interrupted {
                continue 'attempt;
            }
        }
        if generation(sock)? == before {
            return Ok(before);
        }
    }
    Err(ProbeError::Os {
        op: "NFT_MSG_GET* (dump)",
        errno: crate::probe::Errno(libc::EBUSY),
        ext_ack: Some(format!(
            "the ruleset was committed to during each of {} reads (NFT_MSG_GETGEN moved), so no consistent \
             copy could be read; try again when it is quieter",
            DUMP_RETRIES + 1
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::nftables::msg::{Attr, Expr, Message};

    fn payload(m: &Message, family: Family) -> Vec<u8> {
        m.emit(family, 1)[NLMSG_HDRLEN..].to_vec()
    }

    #[test]
    fn rules_with_native_and_compat_expressions() {
        let compat = Expr {
            name: "match",
            data: vec![
                Attr::str(NFTA_COMPAT_X_NAME, "comment"),
                Attr::U32(NFTA_COMPAT_X_REV, 0),
                Attr::Bytes(3, vec![0; 256]),
            ],
        };
        let target = Expr {
            name: "target",
            data: vec![Attr::str(NFTA_COMPAT_X_NAME, "MASQUERADE"), Attr::U32(NFTA_COMPAT_X_REV, 0)],
        };
        let m = Message::Rule {
            table: "filter".into(),
            chain: "INPUT".into(),
            exprs: vec![Expr { name: "counter", data: vec![] }, compat, target],
        };
        let obj = parse(NFT_MSG_NEWRULE, &payload(&m, Family::Ipv4)).unwrap().unwrap();
        let Object::Rule { family, table, chain, exprs } = obj else { panic!() };
        assert_eq!((family, table.as_str(), chain.as_str()), (2, "filter", "INPUT"));
        assert_eq!(
            exprs,
            [
                ExprUse::Native("counter".into()),
                ExprUse::Compat { kind: Kind::Match, name: "comment".into(), revision: 0 },
                ExprUse::Compat { kind: Kind::Target, name: "MASQUERADE".into(), revision: 0 },
            ]
        );
    }

    #[test]
    fn sets_say_which_features_they_need() {
        use crate::probe::nftables::recipe;
        for f in recipe::SET_FEATURES {
            let m = Message::Set { table: "t".into(), name: "s".into(), id: 1, spec: (f.spec)() };
            let Some(Object::Set { features, .. }) =
                parse(NFT_MSG_NEWSET, &payload(&m, Family::Ipv4)).unwrap()
            else {
                panic!()
            };
            assert!(features.contains(&f.name), "{}: {features:?}", f.name);
        }
        assert_eq!(
            set_features(NFT_SET_MAP | NFT_SET_INTERVAL, Some(NFT_DATA_VERDICT), true, false),
            ["concat-interval", "interval", "vmap"]
        );
        assert_eq!(set_features(NFT_SET_MAP, Some(NFT_DATA_VERDICT), true, false), ["concat", "vmap"]);
    }

    #[test]
    fn base_chains_have_a_type() {
        use crate::probe::nftables::msg::Hook;
        let hook = Hook { chain_type: "nat".into(), hooknum: 4, priority: 100, device: None };
        let m = Message::Chain { table: "t".into(), name: "c".into(), hook: Some(hook) };
        let Some(Object::Chain { chain_type, .. }) =
            parse(NFT_MSG_NEWCHAIN, &payload(&m, Family::Ipv6)).unwrap()
        else {
            panic!()
        };
        assert_eq!(chain_type.as_deref(), Some("nat"));
    }

    #[test]
    fn damaged_objects_are_errors() {
        let m = Message::Rule {
            table: "t".into(),
            chain: "c".into(),
            exprs: vec![Expr { name: "match", data: vec![] }],
        };
        assert!(parse(NFT_MSG_NEWRULE, &payload(&m, Family::Ipv4)).is_err(), "compat without a name");
        let good = payload(&Message::Table { name: "t".into() }, Family::Ipv4);
        for cut in 0..good.len() {
            let _ = parse(NFT_MSG_NEWTABLE, &good[..cut]);
        }
        assert!(parse(NFT_MSG_NEWTABLE, &good[..4]).is_err(), "no name");
    }
}
