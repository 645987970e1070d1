//! Netlink framing: `struct nlmsghdr`, `struct nfgenmsg`, `struct nlattr` and
//! `struct nlmsgerr` (with extended-ACK attributes), each with an explicit
//! `parse` from bytes and `emit` into bytes.
//!
//! This module knows nothing about nft_compat; [`super::xt::compat`] and
//! [`super::gen`] build their messages from these pieces. Every parser checks
//! lengths before it reads and names the kernel structure it was reading when
//! it fails, so a truncated or malformed reply is an error, never a panic.
//!
//! Layout references: `include/uapi/linux/netlink.h`,
//! `include/uapi/linux/netfilter/nfnetlink.h`, `net/netlink/af_netlink.c`
//! (`netlink_ack`).

use super::consts::*;

/// Why bytes from the kernel could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Fewer bytes than the structure needs.
    #[error("truncated {what}: need {need} bytes, have {have}")]
    Truncated {
        /// The kernel structure being read.
        what: &'static str,
        /// Bytes it needs.
        need: usize,
        /// Bytes available.
        have: usize,
    },
    /// A length field that is impossible for its structure.
    #[error("invalid {what} length {len}")]
    BadLength {
        /// The kernel structure being read.
        what: &'static str,
        /// The length it claimed.
        len: usize,
    },
    /// A message type this exchange does not expect.
    #[error("unexpected netlink message type {0:#06x}")]
    UnexpectedType(u16),
    /// An attribute with a payload of the wrong size or content.
    #[error("invalid attribute {name}: {why}")]
    BadAttribute {
        /// The attribute's kernel name, e.g. `NFTA_COMPAT_REV`.
        name: &'static str,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A reply that is well-formed but answers a different question.
    #[error("reply does not match the request: {0}")]
    Mismatch(&'static str),
}

/// Rounds `len` up to the netlink alignment of 4 bytes.
pub const fn align(len: usize) -> usize {
    (len + NLMSG_ALIGNTO - 1) & !(NLMSG_ALIGNTO - 1)
}

/// `struct nlmsghdr`, 16 bytes in host byte order:
///
/// ```text
/// 0      4      6       8     12     16
/// +------+------+-------+------+------+
/// | len  | type | flags | seq  | pid  |
/// +------+------+-------+------+------+
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NlmsgHeader {
    /// Length of the message including this header (`nlmsg_len`).
    pub len: u32,
    /// `nlmsg_type`; nfnetlink puts `subsys << 8 | msg` here.
    pub ty: u16,
    /// `nlmsg_flags` (`NLM_F_*`).
    pub flags: u16,
    /// `nlmsg_seq`, echoed by the kernel in replies.
    pub seq: u32,
    /// `nlmsg_pid`: the sender's port id (0 for the kernel).
    pub pid: u32,
}

impl NlmsgHeader {
    /// Parses the header at the start of `buf`.
    pub fn parse(buf: &[u8]) -> Result<Self, WireError> {
        let b = take(buf, NLMSG_HDRLEN, "nlmsghdr")?;
        Ok(Self {
            len: u32::from_ne_bytes([b[0], b[1], b[2], b[3]]),
            ty: u16::from_ne_bytes([b[4], b[5]]),
            flags: u16::from_ne_bytes([b[6], b[7]]),
            seq: u32::from_ne_bytes([b[8], b[9], b[10], b[11]]),
            pid: u32::from_ne_bytes([b[12], b[13], b[14], b[15]]),
        })
    }

    /// Appends the 16 header bytes to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.len.to_ne_bytes());
        out.extend_from_slice(&self.ty.to_ne_bytes());
        out.extend_from_slice(&self.flags.to_ne_bytes());
        out.extend_from_slice(&self.seq.to_ne_bytes());
        out.extend_from_slice(&self.pid.to_ne_bytes());
    }
}

/// `struct nfgenmsg`, 4 bytes after every nfnetlink header:
///
/// ```text
/// 0        1         2          4
/// +--------+---------+----------+
/// | family | version | res_id   |  res_id is __be16
/// +--------+---------+----------+
/// ```
///
/// It is mandatory: the kernel silently acknowledges a message that is too
/// short to hold it, without processing it (`nfnetlink_rcv_msg`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nfgenmsg {
    /// `nfgen_family`: an `NFPROTO_*` value.
    pub family: u8,
    /// `version`: `NFNETLINK_V0`.
    pub version: u8,
    /// `res_id`, host value (emitted big-endian).
    pub res_id: u16,
}

impl Nfgenmsg {
    /// Parses the nfgenmsg at the start of `buf`.
    pub fn parse(buf: &[u8]) -> Result<Self, WireError> {
        let b = take(buf, NFGENMSG_LEN, "nfgenmsg")?;
        Ok(Self { family: b[0], version: b[1], res_id: u16::from_be_bytes([b[2], b[3]]) })
    }

    /// Appends the 4 bytes to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.push(self.family);
        out.push(self.version);
        out.extend_from_slice(&self.res_id.to_be_bytes());
    }
}

/// One `struct nlattr` and its payload:
///
/// ```text
/// 0         2          4                  nla_len   align(nla_len)
/// +---------+----------+------------------+---------+
/// | nla_len | nla_type | payload ...      | padding |
/// +---------+----------+------------------+---------+
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nla<'a> {
    /// `nla_type` with the `NLA_F_NESTED`/`NLA_F_NET_BYTEORDER` bits removed.
    pub ty: u16,
    /// The payload, without header or padding.
    pub payload: &'a [u8],
}

impl<'a> Nla<'a> {
    /// Appends an attribute with `payload`, padded to 4 bytes.
    pub fn emit(ty: u16, payload: &[u8], out: &mut Vec<u8>) {
        let len = NLA_HDRLEN + payload.len();
        out.extend_from_slice(&(len as u16).to_ne_bytes());
        out.extend_from_slice(&ty.to_ne_bytes());
        out.extend_from_slice(payload);
        out.resize(out.len() + (align(len) - len), 0);
    }

    /// Iterates over the attributes packed in `buf`.
    pub fn iter(buf: &'a [u8]) -> NlaIter<'a> {
        NlaIter { rest: buf }
    }

    /// The payload as a big-endian u32, as nfnetlink attributes carry them.
    pub fn be_u32(&self, name: &'static str) -> Result<u32, WireError> {
        let b: [u8; 4] = self
            .payload
            .try_into()
            .map_err(|_| WireError::BadAttribute { name, why: "payload is not 4 bytes" })?;
        Ok(u32::from_be_bytes(b))
    }

    /// The payload as a host-order u32 (extended-ACK attributes use these).
    pub fn ne_u32(&self, name: &'static str) -> Result<u32, WireError> {
        let b: [u8; 4] = self
            .payload
            .try_into()
            .map_err(|_| WireError::BadAttribute { name, why: "payload is not 4 bytes" })?;
        Ok(u32::from_ne_bytes(b))
    }

    /// The payload as a NUL-terminated string (the NUL is required).
    pub fn c_string(&self, name: &'static str) -> Result<String, WireError> {
        let end = self
            .payload
            .iter()
            .position(|&c| c == 0)
            .ok_or(WireError::BadAttribute { name, why: "string is not NUL-terminated" })?;
        Ok(String::from_utf8_lossy(&self.payload[..end]).into_owned())
    }
}

/// Iterator over packed attributes; yields an error once and then stops if
/// an attribute header lies about its length.
pub struct NlaIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for NlaIter<'a> {
    type Item = Result<Nla<'a>, WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let result = (|| {
            let h = take(self.rest, NLA_HDRLEN, "nlattr")?;
            let len = u16::from_ne_bytes([h[0], h[1]]) as usize;
            let ty = u16::from_ne_bytes([h[2], h[3]]) & NLA_TYPE_MASK;
            if len < NLA_HDRLEN {
                return Err(WireError::BadLength { what: "nlattr", len });
            }
            let body = take(self.rest, len, "nlattr payload")?;
            let payload = &body[NLA_HDRLEN..len];
            // The last attribute may omit its padding.
            let step = align(len).min(self.rest.len());
            Ok((Nla { ty, payload }, step))
        })();
        match result {
            Ok((nla, step)) => {
                self.rest = &self.rest[step..];
                Some(Ok(nla))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

/// One message of a datagram: its header and the bytes after the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawMessage<'a> {
    /// The header.
    pub header: NlmsgHeader,
    /// `nlmsg_len - 16` bytes following the header.
    pub payload: &'a [u8],
}

/// Splits a received datagram into its messages. A header whose `nlmsg_len`
/// is shorter than a header or longer than the datagram is an error.
pub fn messages(datagram: &[u8]) -> impl Iterator<Item = Result<RawMessage<'_>, WireError>> {
    let mut rest = datagram;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let parsed = (|| {
            let header = NlmsgHeader::parse(rest)?;
            let len = header.len as usize;
            if len < NLMSG_HDRLEN {
                return Err(WireError::BadLength { what: "nlmsghdr", len });
            }
            let body = take(rest, len, "netlink message")?;
            let step = align(len).min(rest.len());
            Ok((RawMessage { header, payload: &body[NLMSG_HDRLEN..] }, step))
        })();
        match parsed {
            Ok((msg, step)) => {
                rest = &rest[step..];
                Some(Ok(msg))
            }
            Err(e) => {
                rest = &[];
                Some(Err(e))
            }
        }
    })
}

/// The kernel's extended-ACK attributes (`NLMSGERR_ATTR_*`), when the socket
/// enabled `NETLINK_EXT_ACK` and the subsystem supplied them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtAck {
    /// `NLMSGERR_ATTR_MSG`, e.g. "Attribute failed policy validation".
    pub message: Option<String>,
    /// `NLMSGERR_ATTR_OFFS`: byte offset of the offending attribute.
    pub offset: Option<u32>,
    /// `NLMSGERR_ATTR_MISS_TYPE`: the required attribute that was missing.
    pub missing_type: Option<u32>,
}

/// `struct nlmsgerr` plus trailing extended-ACK attributes:
///
/// ```text
/// +-------+-------------------------+---------------------------+----------+
/// | error | echoed nlmsghdr (16 B)  | echoed payload, unless    | ext-ACK  |
/// | i32   |                         | NLM_F_CAPPED              | TLVs     |
/// +-------+-------------------------+---------------------------+----------+
/// ```
///
/// `error` is 0 for an acknowledgement, otherwise a negative errno.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NlmsgErr {
    /// 0, or a negative errno.
    pub error: i32,
    /// The header of the request this answers.
    pub request: NlmsgHeader,
    /// Extended-ACK attributes, empty when none were sent.
    pub ext_ack: ExtAck,
}

impl NlmsgErr {
    /// Parses the payload of an `NLMSG_ERROR` message whose own header had
    /// `flags` (they say whether the request is capped and TLVs follow).
    pub fn parse(payload: &[u8], flags: u16) -> Result<Self, WireError> {
        let e = take(payload, 4, "nlmsgerr.error")?;
        let error = i32::from_ne_bytes([e[0], e[1], e[2], e[3]]);
        let request = NlmsgHeader::parse(&payload[4..])?;
        let mut ext_ack = ExtAck::default();
        if flags & NLM_F_ACK_TLVS != 0 {
            let echoed = if flags & NLM_F_CAPPED != 0 { NLMSG_HDRLEN } else { align(request.len as usize) };
            let start = 4 + echoed;
            if start > payload.len() {
                return Err(WireError::Truncated {
                    what: "nlmsgerr echoed request",
                    need: start,
                    have: payload.len(),
                });
            }
            for nla in Nla::iter(&payload[start..]) {
                let nla = nla?;
                match nla.ty {
                    NLMSGERR_ATTR_MSG => ext_ack.message = Some(nla.c_string("NLMSGERR_ATTR_MSG")?),
                    NLMSGERR_ATTR_OFFS => ext_ack.offset = Some(nla.ne_u32("NLMSGERR_ATTR_OFFS")?),
                    NLMSGERR_ATTR_MISS_TYPE => {
                        ext_ack.missing_type = Some(nla.ne_u32("NLMSGERR_ATTR_MISS_TYPE")?)
                    }
                    _ => {} // cookies, policies: not needed to explain a probe
                }
            }
        }
        Ok(Self { error, request, ext_ack })
    }

    /// Appends the payload of an `NLMSG_ERROR` as the kernel builds it with a
    /// capped request (used by tests to build replies).
    pub fn emit_capped(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.error.to_ne_bytes());
        self.request.emit(out);
        if let Some(m) = &self.ext_ack.message {
            let mut s = m.clone().into_bytes();
            s.push(0);
            Nla::emit(NLMSGERR_ATTR_MSG, &s, out);
        }
        if let Some(o) = self.ext_ack.offset {
            Nla::emit(NLMSGERR_ATTR_OFFS, &o.to_ne_bytes(), out);
        }
    }
}

/// Builds one complete nfnetlink message: header, nfgenmsg, attributes.
/// `nlmsg_len` is filled in from what `attrs` writes.
pub fn nfnl_message(
    ty: u16,
    flags: u16,
    seq: u32,
    nfgen: Nfgenmsg,
    attrs: impl FnOnce(&mut Vec<u8>),
) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    NlmsgHeader { len: 0, ty, flags, seq, pid: 0 }.emit(&mut out);
    nfgen.emit(&mut out);
    attrs(&mut out);
    let len = out.len() as u32;
    out[..4].copy_from_slice(&len.to_ne_bytes());
    out
}

/// The nfnetlink message type for `subsys` and `msg`: `subsys << 8 | msg`.
pub const fn nfnl_msg_type(subsys: u8, msg: u8) -> u16 {
    ((subsys as u16) << 8) | msg as u16
}

fn take<'a>(buf: &'a [u8], need: usize, what: &'static str) -> Result<&'a [u8], WireError> {
    buf.get(..need).ok_or(WireError::Truncated { what, need, have: buf.len() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips() {
        let h = NlmsgHeader { len: 52, ty: 0x0b00, flags: 5, seq: 7, pid: 0 };
        let mut out = Vec::new();
        h.emit(&mut out);
        assert_eq!(out.len(), NLMSG_HDRLEN);
        assert_eq!(NlmsgHeader::parse(&out).unwrap(), h);
    }

    #[test]
    fn nfgenmsg_res_id_is_big_endian() {
        let mut out = Vec::new();
        Nfgenmsg { family: 2, version: 0, res_id: 0x0102 }.emit(&mut out);
        assert_eq!(out, [2, 0, 1, 2]);
    }

    #[test]
    fn attribute_padding_and_iteration() {
        let mut out = Vec::new();
        Nla::emit(1, b"ab\0", &mut out); // 7 bytes + 1 pad
        Nla::emit(2, &3u32.to_be_bytes(), &mut out);
        assert_eq!(out.len(), 8 + 8);
        let nlas: Vec<_> = Nla::iter(&out).collect::<Result<_, _>>().unwrap();
        assert_eq!(nlas.len(), 2);
        assert_eq!(nlas[0].c_string("A").unwrap(), "ab");
        assert_eq!(nlas[1].be_u32("B").unwrap(), 3);
    }

    #[test]
    fn attribute_longer_than_buffer_is_an_error() {
        let bytes = [20u8, 0, 1, 0, b'x', 0, 0, 0];
        let err = Nla::iter(&bytes).next().unwrap().unwrap_err();
        assert!(matches!(err, WireError::Truncated { what: "nlattr payload", .. }));
    }

    #[test]
    fn attribute_shorter_than_its_header_is_an_error() {
        let bytes = [2u8, 0, 1, 0];
        let err = Nla::iter(&bytes).next().unwrap().unwrap_err();
        assert_eq!(err, WireError::BadLength { what: "nlattr", len: 2 });
    }

    #[test]
    fn message_length_below_header_is_rejected() {
        let mut out = Vec::new();
        NlmsgHeader { len: 8, ty: 2, flags: 0, seq: 1, pid: 0 }.emit(&mut out);
        let err = messages(&out).next().unwrap().unwrap_err();
        assert_eq!(err, WireError::BadLength { what: "nlmsghdr", len: 8 });
    }

    #[test]
    fn message_length_beyond_datagram_is_rejected() {
        let mut out = Vec::new();
        NlmsgHeader { len: 64, ty: 2, flags: 0, seq: 1, pid: 0 }.emit(&mut out);
        let err = messages(&out).next().unwrap().unwrap_err();
        assert!(matches!(err, WireError::Truncated { need: 64, have: 16, .. }));
    }

    #[test]
    fn error_with_uncapped_request_and_extack() {
        // What netlink_ack() builds for a rejected 40-byte request when the
        // socket has NETLINK_EXT_ACK but not NETLINK_CAP_ACK.
        let request = NlmsgHeader { len: 40, ty: 0x0b00, flags: 5, seq: 9, pid: 0 };
        let mut payload = Vec::new();
        payload.extend_from_slice(&(-22i32).to_ne_bytes());
        request.emit(&mut payload);
        payload.extend_from_slice(&[0xaa; 24]); // the echoed request body
        Nla::emit(NLMSGERR_ATTR_MSG, b"Attribute failed policy validation\0", &mut payload);
        Nla::emit(NLMSGERR_ATTR_OFFS, &20u32.to_ne_bytes(), &mut payload);
        let err = NlmsgErr::parse(&payload, NLM_F_ACK_TLVS).unwrap();
        assert_eq!(err.error, -22);
        assert_eq!(err.request, request);
        assert_eq!(err.ext_ack.message.as_deref(), Some("Attribute failed policy validation"));
        assert_eq!(err.ext_ack.offset, Some(20));
    }

    #[test]
    fn error_claiming_tlvs_beyond_payload_is_truncated() {
        let request = NlmsgHeader { len: 400, ty: 0x0b00, flags: 5, seq: 9, pid: 0 };
        let mut payload = Vec::new();
        payload.extend_from_slice(&(-22i32).to_ne_bytes());
        request.emit(&mut payload);
        let err = NlmsgErr::parse(&payload, NLM_F_ACK_TLVS).unwrap_err();
        assert!(matches!(err, WireError::Truncated { what: "nlmsgerr echoed request", .. }));
    }

    #[test]
    fn ack_is_error_zero() {
        let request = NlmsgHeader { len: 52, ty: 0x0b00, flags: 5, seq: 3, pid: 0 };
        let mut payload = Vec::new();
        NlmsgErr { error: 0, request, ext_ack: ExtAck::default() }.emit_capped(&mut payload);
        let parsed = NlmsgErr::parse(&payload, NLM_F_CAPPED).unwrap();
        assert_eq!(parsed.error, 0);
        assert_eq!(parsed.request.seq, 3);
    }

    #[test]
    fn truncated_error_payload() {
        assert!(matches!(
            NlmsgErr::parse(&[0, 0], 0),
            Err(WireError::Truncated { what: "nlmsgerr.error", .. })
        ));
        assert!(matches!(NlmsgErr::parse(&[0; 10], 0), Err(WireError::Truncated { what: "nlmsghdr", .. })));
    }
}
