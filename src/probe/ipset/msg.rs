//! ipset's two read-only questions as typed messages: `IPSET_CMD_PROTOCOL`
//! ("which protocol do you speak?") and `IPSET_CMD_TYPE` ("which revisions
//! of set type NAME do you have for family F?"), with explicit `emit` and
//! `parse` (`ip_set_protocol()` and `ip_set_type()` in
//! `net/netfilter/ipset/ip_set_core.c`).
//!
//! Requests carry `IPSET_ATTR_PROTOCOL` (u8) as every ipset message must;
//! the type request adds `IPSET_ATTR_TYPENAME` (NUL-terminated) and
//! `IPSET_ATTR_FAMILY` (u8). The kernel first looks the type up, then asks
//! for module `ip_set_<type>` and looks again; a type it still lacks is
//! `-IPSET_ERR_FIND_TYPE`.

use super::abi::*;
use crate::probe::consts::*;
use crate::probe::wire::{Nfgenmsg, Nla, WireError, nfnl_message, nfnl_msg_type};

/// The protocol request's (and reply's) message type.
pub const PROTOCOL: u16 = nfnl_msg_type(NFNL_SUBSYS_IPSET, IPSET_CMD_PROTOCOL);
/// The type request's (and reply's) message type.
pub const TYPE: u16 = nfnl_msg_type(NFNL_SUBSYS_IPSET, IPSET_CMD_TYPE);

fn nfgen(family: u8) -> Nfgenmsg {
    Nfgenmsg { family, version: NFNETLINK_V0, res_id: 0 }
}

/// `IPSET_CMD_PROTOCOL` with our newest protocol.
pub fn emit_protocol(seq: u32) -> Vec<u8> {
    nfnl_message(PROTOCOL, NLM_F_REQUEST | NLM_F_ACK, seq, nfgen(NFPROTO_IPV4), |out| {
        Nla::emit(IPSET_ATTR_PROTOCOL, &[IPSET_PROTOCOL], out);
    })
}

/// What the kernel speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Protocol {
    /// `IPSET_ATTR_PROTOCOL`.
    pub version: u8,
    /// `IPSET_ATTR_PROTOCOL_MIN`; absent from kernels that speak only 6.
    pub min: Option<u8>,
}

impl Protocol {
    /// The protocol to put in requests: ours, or the kernel's if older.
    pub fn for_requests(&self) -> u8 {
        self.version.min(IPSET_PROTOCOL)
    }

    /// Parses the reply's payload (nfgenmsg and attributes).
    pub fn parse(payload: &[u8]) -> Result<Self, WireError> {
        Nfgenmsg::parse(payload)?;
        let (mut version, mut min) = (None, None);
        for nla in Nla::iter(&payload[NFGENMSG_LEN..]) {
            let nla = nla?;
            match nla.ty {
                IPSET_ATTR_PROTOCOL => version = Some(u8_of(&nla, "IPSET_ATTR_PROTOCOL")?),
                IPSET_ATTR_PROTOCOL_MIN => min = Some(u8_of(&nla, "IPSET_ATTR_PROTOCOL_MIN")?),
                _ => {}
            }
        }
        let version = version
            .ok_or(WireError::BadAttribute { name: "IPSET_ATTR_PROTOCOL", why: "missing from the reply" })?;
        Ok(Protocol { version, min })
    }
}

/// `IPSET_CMD_TYPE` for `name` in `family` (an `NFPROTO_*` value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypeQuery<'a> {
    /// The set type: `hash:ip,port`.
    pub name: &'a str,
    /// `NFPROTO_IPV4` or `NFPROTO_IPV6`.
    pub family: u8,
    /// The protocol to speak.
    pub protocol: u8,
}

impl TypeQuery<'_> {
    /// Encodes the request.
    pub fn emit(&self, seq: u32) -> Vec<u8> {
        let mut name = self.name.as_bytes().to_vec();
        name.push(0);
        nfnl_message(TYPE, NLM_F_REQUEST | NLM_F_ACK, seq, nfgen(self.family), |out| {
            Nla::emit(IPSET_ATTR_PROTOCOL, &[self.protocol], out);
            Nla::emit(IPSET_ATTR_TYPENAME, &name, out);
            Nla::emit(IPSET_ATTR_FAMILY, &[self.family], out);
        })
    }
}

/// The kernel's answer to a type query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeInfo {
    /// `IPSET_ATTR_TYPENAME` as echoed.
    pub name: String,
    /// `IPSET_ATTR_FAMILY` as echoed.
    pub family: u8,
    /// `IPSET_ATTR_REVISION_MIN`.
    pub revision_min: u8,
    /// `IPSET_ATTR_REVISION`.
    pub revision: u8,
}

impl TypeInfo {
    /// Parses the reply's payload and checks it answers `query`.
    pub fn parse(payload: &[u8], query: &TypeQuery<'_>) -> Result<Self, WireError> {
        Nfgenmsg::parse(payload)?;
        let (mut name, mut family, mut min, mut max) = (None, None, None, None);
        for nla in Nla::iter(&payload[NFGENMSG_LEN..]) {
            let nla = nla?;
            match nla.ty {
                IPSET_ATTR_TYPENAME => name = Some(nla.c_string("IPSET_ATTR_TYPENAME")?),
                IPSET_ATTR_FAMILY => family = Some(u8_of(&nla, "IPSET_ATTR_FAMILY")?),
                IPSET_ATTR_REVISION => max = Some(u8_of(&nla, "IPSET_ATTR_REVISION")?),
                IPSET_ATTR_REVISION_MIN => min = Some(u8_of(&nla, "IPSET_ATTR_REVISION_MIN")?),
                _ => {}
            }
        }
        let missing = |name| WireError::BadAttribute { name, why: "missing from the reply" };
        let info = TypeInfo {
            name: name.ok_or(missing("IPSET_ATTR_TYPENAME"))?,
            family: family.ok_or(missing("IPSET_ATTR_FAMILY"))?,
            revision_min: min.ok_or(missing("IPSET_ATTR_REVISION_MIN"))?,
            revision: max.ok_or(missing("IPSET_ATTR_REVISION"))?,
        };
        if info.name != query.name || info.family != query.family {
            return Err(WireError::Mismatch("the type reply names another type or family"));
        }
        if info.revision_min > info.revision {
            return Err(WireError::BadAttribute {
                name: "IPSET_ATTR_REVISION_MIN",
                why: "above IPSET_ATTR_REVISION",
            });
        }
        Ok(info)
    }
}

/// The list dump's message type.
pub const LIST: u16 = nfnl_msg_type(NFNL_SUBSYS_IPSET, IPSET_CMD_LIST);

/// `IPSET_CMD_LIST` of every set, headers only (`NLM_F_DUMP`).
pub fn emit_list(seq: u32, protocol: u8) -> Vec<u8> {
    nfnl_message(LIST, NLM_F_REQUEST | NLM_F_DUMP, seq, nfgen(NFPROTO_IPV4), |out| {
        Nla::emit(IPSET_ATTR_PROTOCOL, &[protocol], out);
        // NLA_F_NET_BYTEORDER: ipset reads it with ip_set_get_h32().
        Nla::emit(IPSET_ATTR_FLAGS | 0x4000, &IPSET_FLAG_LIST_HEADER.to_be_bytes(), out);
    })
}

/// One set's header from a list dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetHeader {
    /// `IPSET_ATTR_SETNAME`.
    pub name: String,
    /// `IPSET_ATTR_TYPENAME`.
    pub typename: String,
    /// `IPSET_ATTR_FAMILY` (`NFPROTO_*`; 0 for types of any family).
    pub family: u8,
    /// `IPSET_ATTR_REVISION`: the type revision the set was created with.
    pub revision: u8,
}

impl SetHeader {
    /// Parses one list message's payload.
    pub fn parse(payload: &[u8]) -> Result<Self, WireError> {
        Nfgenmsg::parse(payload)?;
        let (mut name, mut typename, mut family, mut revision) = (None, None, None, None);
        for nla in Nla::iter(&payload[NFGENMSG_LEN..]) {
            let nla = nla?;
            match nla.ty {
                IPSET_ATTR_SETNAME => name = Some(nla.c_string("IPSET_ATTR_SETNAME")?),
                IPSET_ATTR_TYPENAME => typename = Some(nla.c_string("IPSET_ATTR_TYPENAME")?),
                IPSET_ATTR_FAMILY => family = Some(u8_of(&nla, "IPSET_ATTR_FAMILY")?),
                IPSET_ATTR_REVISION => revision = Some(u8_of(&nla, "IPSET_ATTR_REVISION")?),
                _ => {}
            }
        }
        let missing = |name| WireError::BadAttribute { name, why: "missing from the list reply" };
        let header = SetHeader {
            name: name.ok_or(missing("IPSET_ATTR_SETNAME"))?,
            typename: typename.ok_or(missing("IPSET_ATTR_TYPENAME"))?,
            family: family.ok_or(missing("IPSET_ATTR_FAMILY"))?,
            revision: revision.ok_or(missing("IPSET_ATTR_REVISION"))?,
        };
        if header.name.len() >= IPSET_MAXNAMELEN || header.typename.len() >= IPSET_MAXNAMELEN {
            return Err(WireError::BadAttribute {
                name: "IPSET_ATTR_SETNAME",
                why: "longer than IPSET_MAXNAMELEN",
            });
        }
        Ok(header)
    }
}

fn u8_of(nla: &Nla<'_>, name: &'static str) -> Result<u8, WireError> {
    match nla.payload {
        [v] => Ok(*v),
        _ => Err(WireError::BadAttribute { name, why: "payload is not 1 byte" }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(ty: u16, attrs: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let b = nfnl_message(ty, 0, 1, nfgen(NFPROTO_IPV4), attrs);
        b[NLMSG_HDRLEN..].to_vec()
    }

    #[test]
    fn protocol_request_bytes() {
        let b = emit_protocol(3);
        assert_eq!(u16::from_ne_bytes([b[4], b[5]]), 0x0601);
        assert_eq!(&b[16..], &[2, 0, 0, 0, 5, 0, 1, 0, 7, 0, 0, 0]);
    }

    #[test]
    fn type_request_bytes() {
        let q = TypeQuery { name: "hash:ip", family: NFPROTO_IPV4, protocol: 7 };
        let b = q.emit(1);
        assert_eq!(u16::from_ne_bytes([b[4], b[5]]), 0x060d);
        assert_eq!(
            &b[16..],
            &[
                2, 0, 0, 0, 5, 0, 1, 0, 7, 0, 0, 0, 12, 0, 3, 0, b'h', b'a', b's', b'h', b':', b'i', b'p', 0,
                5, 0, 5, 0, 2, 0, 0, 0
            ]
        );
    }

    #[test]
    fn protocol_reply_old_and_new() {
        let new = reply(PROTOCOL, |o| {
            Nla::emit(IPSET_ATTR_PROTOCOL, &[7], o);
            Nla::emit(IPSET_ATTR_PROTOCOL_MIN, &[6], o);
        });
        assert_eq!(Protocol::parse(&new), Ok(Protocol { version: 7, min: Some(6) }));
        let old = reply(PROTOCOL, |o| Nla::emit(IPSET_ATTR_PROTOCOL, &[6], o));
        let p = Protocol::parse(&old).unwrap();
        assert_eq!((p.min, p.for_requests()), (None, 6));
        assert!(Protocol::parse(&reply(PROTOCOL, |_| {})).is_err());
    }

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace().map(|b| u8::from_str_radix(b, 16).unwrap()).collect()
    }

    /// Replies captured from Linux 6.18 (`ipset create x hash:ip,port`
    /// under strace): the protocol reply and the type reply, headers cut.
    #[test]
    fn replies_captured_from_the_kernel() {
        let proto = hex(
            "24 00 00 00 01 06 00 00 a1 60 0a 6b 5f 39 00 00 02 00 00 00 05 00 01 00 07 00 00 00 05 00 0a 00 06 00 00 00",
        );
        assert_eq!(Protocol::parse(&proto[NLMSG_HDRLEN..]), Ok(Protocol { version: 7, min: Some(6) }));
        let ty = hex(
            "48 00 00 00 0d 06 00 00 a2 60 0a 6b 5f 39 00 00 02 00 00 00 05 00 01 00 07 00 00 00 11 00 03 00 68 61 73 68 \
             3a 69 70 2c 70 6f 72 74 00 00 00 00 05 00 05 00 02 00 00 00 05 00 04 00 07 00 00 00 05 00 0a 00 00 00 00 00",
        );
        let q = TypeQuery { name: "hash:ip,port", family: NFPROTO_IPV4, protocol: 7 };
        let info = TypeInfo::parse(&ty[NLMSG_HDRLEN..], &q).unwrap();
        assert_eq!((info.revision_min, info.revision), (0, 7));
        // What userspace sent, byte for byte, but for NLM_F_ACK (xtprobe asks for one).
        let mut sent = q.emit(0x6b0a_60a2);
        sent[6] &= !(NLM_F_ACK as u8);
        assert_eq!(
            sent,
            hex(
                "38 00 00 00 0d 06 01 00 a2 60 0a 6b 00 00 00 00 02 00 00 00 05 00 01 00 07 00 00 00 11 00 03 00 68 61 73 68 \
                 3a 69 70 2c 70 6f 72 74 00 00 00 00 05 00 05 00 02 00 00 00"
            )
        );
    }

    #[test]
    fn type_reply_checks_what_it_answers() {
        let q = TypeQuery { name: "hash:ip,port", family: NFPROTO_IPV4, protocol: 7 };
        let good = reply(TYPE, |o| {
            Nla::emit(IPSET_ATTR_PROTOCOL, &[7], o);
            Nla::emit(IPSET_ATTR_TYPENAME, b"hash:ip,port\0", o);
            Nla::emit(IPSET_ATTR_FAMILY, &[2], o);
            Nla::emit(IPSET_ATTR_REVISION, &[7], o);
            Nla::emit(IPSET_ATTR_REVISION_MIN, &[0], o);
        });
        let info = TypeInfo::parse(&good, &q).unwrap();
        assert_eq!((info.revision_min, info.revision), (0, 7));
        let other = TypeQuery { name: "hash:ip", ..q };
        assert!(matches!(TypeInfo::parse(&good, &other), Err(WireError::Mismatch(_))));
        let inverted = reply(TYPE, |o| {
            Nla::emit(IPSET_ATTR_TYPENAME, b"hash:ip,port\0", o);
            Nla::emit(IPSET_ATTR_FAMILY, &[2], o);
            Nla::emit(IPSET_ATTR_REVISION, &[1], o);
            Nla::emit(IPSET_ATTR_REVISION_MIN, &[3], o);
        });
        assert!(TypeInfo::parse(&inverted, &q).is_err());
        let short = reply(TYPE, |o| Nla::emit(IPSET_ATTR_REVISION, &[1, 2], o));
        assert!(TypeInfo::parse(&short, &q).is_err());
    }
}
