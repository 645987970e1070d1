//! `NFNL_MSG_COMPAT_GET`: the revision query iptables-nft sends
//! (`nft_compatible_revision()` in iptables/nft.c), and its reply.
//!
//! Request, e.g. `conntrack` revision 3, match, IPv4 (52 bytes):
//!
//! ```text
//! nlmsghdr   34 00 00 00  00 0b  05 00  seq...  00 00 00 00
//!            len 52       type   REQUEST|ACK    pid 0
//! nfgenmsg   02 00 00 00                 family AF_INET, NFNETLINK_V0, res_id 0
//! NAME       0e 00 01 00  "conntrack\0" 00 00   NUL included, padded to 16
//! REV        08 00 02 00  00 00 00 03           big-endian u32
//! TYPE       08 00 03 00  00 00 00 00           big-endian u32: 0 match, 1 target
//! ```
//!
//! The kernel (`nfnl_compat_get_rcu`) looks the name up with
//! `xt_find_revision()` and answers with the same message type carrying
//! NAME, REV (the *highest* revision it knows, not the one asked) and TYPE,
//! then an ACK. ENOENT means no extension of that name; EPROTONOSUPPORT
//! means the name exists but not at that revision.

use crate::probe::consts::*;
use crate::probe::wire::{Nfgenmsg, Nla, WireError, nfnl_message, nfnl_msg_type};
use crate::probe::{Family, Kind};

/// The message type of both the request and the reply.
pub const COMPAT_GET: u16 = nfnl_msg_type(NFNL_SUBSYS_NFT_COMPAT, NFNL_MSG_COMPAT_GET);

/// A compat revision query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompatGet<'a> {
    /// Which family's table to search (`nfgen_family`).
    pub family: Family,
    /// The extension name, without NUL; at most 28 bytes.
    pub name: &'a str,
    /// The revision asked about.
    pub revision: u8,
    /// Match or target.
    pub kind: Kind,
}

impl CompatGet<'_> {
    /// Encodes the request with sequence number `seq`.
    pub fn emit(&self, seq: u32) -> Vec<u8> {
        let nfgen = Nfgenmsg { family: self.family.nfproto(), version: NFNETLINK_V0, res_id: 0 };
        nfnl_message(COMPAT_GET, NLM_F_REQUEST | NLM_F_ACK, seq, nfgen, |out| {
            let mut name = Vec::with_capacity(self.name.len() + 1);
            name.extend_from_slice(self.name.as_bytes());
            name.push(0);
            Nla::emit(NFTA_COMPAT_NAME, &name, out);
            Nla::emit(NFTA_COMPAT_REV, &u32::from(self.revision).to_be_bytes(), out);
            Nla::emit(NFTA_COMPAT_TYPE, &kind_value(self.kind).to_be_bytes(), out);
        })
    }
}

/// `NFTA_COMPAT_TYPE` value: the kernel treats only 1 as target. Only
/// matches and targets are ever asked ([`super::nft::NftProber`] answers
/// "not applicable" for the other kinds before anything is sent).
pub fn kind_value(kind: Kind) -> u32 {
    match kind {
        Kind::Target => 1,
        _ => 0,
    }
}

/// The kernel's reply to a compat GET (`nfnl_compat_fill_info`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompatInfo {
    /// `nfgen_family` echoed.
    pub family: u8,
    /// `NFTA_COMPAT_NAME`.
    pub name: String,
    /// `NFTA_COMPAT_REV`: the best revision the kernel knows.
    pub revision: u32,
    /// `NFTA_COMPAT_TYPE`.
    pub kind: u32,
}

impl CompatInfo {
    /// Parses the reply payload (nfgenmsg followed by attributes). All three
    /// attributes are required.
    pub fn parse(payload: &[u8]) -> Result<Self, WireError> {
        let nfgen = Nfgenmsg::parse(payload)?;
        let (mut name, mut revision, mut kind) = (None, None, None);
        for nla in Nla::iter(&payload[NFGENMSG_LEN..]) {
            let nla = nla?;
            match nla.ty {
                NFTA_COMPAT_NAME => name = Some(nla.c_string("NFTA_COMPAT_NAME")?),
                NFTA_COMPAT_REV => revision = Some(nla.be_u32("NFTA_COMPAT_REV")?),
                NFTA_COMPAT_TYPE => kind = Some(nla.be_u32("NFTA_COMPAT_TYPE")?),
                _ => {}
            }
        }
        let missing = |name| WireError::BadAttribute { name, why: "missing from the reply" };
        Ok(Self {
            family: nfgen.family,
            name: name.ok_or(missing("NFTA_COMPAT_NAME"))?,
            revision: revision.ok_or(missing("NFTA_COMPAT_REV"))?,
            kind: kind.ok_or(missing("NFTA_COMPAT_TYPE"))?,
        })
    }

    /// Checks that this reply answers `req` and returns the best revision.
    pub fn best_for(&self, req: &CompatGet<'_>) -> Result<u8, WireError> {
        if self.name != req.name {
            return Err(WireError::Mismatch("NFTA_COMPAT_NAME differs from the request"));
        }
        if self.kind != kind_value(req.kind) {
            return Err(WireError::Mismatch("NFTA_COMPAT_TYPE differs from the request"));
        }
        if self.family != req.family.nfproto() {
            return Err(WireError::Mismatch("nfgen_family differs from the request"));
        }
        u8::try_from(self.revision)
            .map_err(|_| WireError::BadAttribute { name: "NFTA_COMPAT_REV", why: "revision above 255" })
    }

    /// Encodes a reply as the kernel does (for tests).
    pub fn emit(&self, seq: u32) -> Vec<u8> {
        let nfgen = Nfgenmsg { family: self.family, version: NFNETLINK_V0, res_id: 0 };
        nfnl_message(COMPAT_GET, NLM_F_MULTI, seq, nfgen, |out| {
            let mut name = self.name.as_bytes().to_vec();
            name.push(0);
            Nla::emit(NFTA_COMPAT_NAME, &name, out);
            Nla::emit(NFTA_COMPAT_REV, &self.revision.to_be_bytes(), out);
            Nla::emit(NFTA_COMPAT_TYPE, &self.kind.to_be_bytes(), out);
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    const HDR: usize = NLMSG_HDRLEN;

    #[test]
    #[cfg(target_endian = "little")]
    fn conntrack_rev3_ipv4_match_request_bytes() {
        let req = CompatGet { family: Family::Ipv4, name: "conntrack", revision: 3, kind: Kind::Match };
        let bytes = req.emit(0x01020304);
        #[rustfmt::skip]
        let expected = vec![
            52, 0, 0, 0,            // nlmsg_len (host order)
            0x00, 0x0b,             // nlmsg_type 0x0b00 (host order, little-endian here)
            0x05, 0x00,             // NLM_F_REQUEST | NLM_F_ACK
            0x04, 0x03, 0x02, 0x01, // nlmsg_seq
            0, 0, 0, 0,             // nlmsg_pid
            2, 0, 0, 0,             // nfgenmsg: AF_INET, NFNETLINK_V0, res_id 0
            14, 0, 1, 0,            // NFTA_COMPAT_NAME, len 4 + 10
            b'c', b'o', b'n', b'n', b't', b'r', b'a', b'c', b'k', 0, 0, 0,
            8, 0, 2, 0, 0, 0, 0, 3, // NFTA_COMPAT_REV, big-endian 3
            8, 0, 3, 0, 0, 0, 0, 0, // NFTA_COMPAT_TYPE, big-endian 0 (match)
        ];
        assert_eq!(bytes.len(), 52);
        assert_eq!(bytes, expected);
    }

    #[test]
    fn target_type_is_big_endian_one() {
        let req = CompatGet { family: Family::Ipv6, name: "MASQUERADE", revision: 0, kind: Kind::Target };
        let bytes = req.emit(1);
        assert_eq!(bytes[16], 10, "AF_INET6");
        assert_eq!(&bytes[bytes.len() - 4..], &[0, 0, 0, 1]);
    }

    #[test]
    fn reply_round_trips_and_is_checked_against_request() {
        let req = CompatGet { family: Family::Ipv4, name: "conntrack", revision: 1, kind: Kind::Match };
        let info = CompatInfo { family: 2, name: "conntrack".into(), revision: 3, kind: 0 };
        let bytes = info.emit(7);
        let parsed = CompatInfo::parse(&bytes[HDR..]).unwrap();
        assert_eq!(parsed, info);
        assert_eq!(parsed.best_for(&req).unwrap(), 3);

        let other = CompatInfo { name: "mark".into(), ..info.clone() };
        assert!(matches!(other.best_for(&req), Err(WireError::Mismatch(_))));
        let target = CompatInfo { kind: 1, ..info.clone() };
        assert!(matches!(target.best_for(&req), Err(WireError::Mismatch(_))));
        let huge = CompatInfo { revision: 256, ..info };
        assert!(matches!(huge.best_for(&req), Err(WireError::BadAttribute { .. })));
    }

    #[test]
    fn reply_missing_attribute_or_truncated() {
        let info = CompatInfo { family: 2, name: "comment".into(), revision: 0, kind: 0 };
        let bytes = info.emit(1);
        // Drop the TYPE attribute (last 8 bytes).
        let err = CompatInfo::parse(&bytes[HDR..bytes.len() - 8]).unwrap_err();
        assert_eq!(err, WireError::BadAttribute { name: "NFTA_COMPAT_TYPE", why: "missing from the reply" });
        // Cut in the middle of the REV attribute.
        let err = CompatInfo::parse(&bytes[HDR..bytes.len() - 12]).unwrap_err();
        assert!(matches!(err, WireError::Truncated { .. }));
        // Shorter than nfgenmsg.
        assert!(matches!(CompatInfo::parse(&[2, 0]), Err(WireError::Truncated { what: "nfgenmsg", .. })));
    }

    #[test]
    fn reply_with_bad_rev_size() {
        let nfgen = Nfgenmsg { family: 2, version: 0, res_id: 0 };
        let bytes = nfnl_message(COMPAT_GET, 0, 1, nfgen, |out| {
            Nla::emit(NFTA_COMPAT_NAME, b"comment\0", out);
            Nla::emit(NFTA_COMPAT_REV, &[0, 0], out);
        });
        assert_eq!(
            CompatInfo::parse(&bytes[HDR..]).unwrap_err(),
            WireError::BadAttribute { name: "NFTA_COMPAT_REV", why: "payload is not 4 bytes" }
        );
    }
}
