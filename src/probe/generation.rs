//! `NFT_MSG_GETGEN`: a read-only question to nf_tables ("which ruleset
//! generation is current?"). Its only use here is to tell, when a compat
//! query fails with EINVAL, whether nf_tables itself is reachable — then the
//! missing piece is nft_compat — or not at all.
//!
//! Request: type `NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_GETGEN` (0x0a10), an
//! `AF_UNSPEC` nfgenmsg, no attributes. Reply: `NFT_MSG_NEWGEN` (0x0a0f) with
//! `NFTA_GEN_ID` (big-endian u32), then the ACK. Like the compat GET it makes
//! the kernel try to autoload `nfnetlink-subsys-10` if nf_tables is a module.

use super::consts::*;
use super::wire::{Nfgenmsg, Nla, WireError, nfnl_message, nfnl_msg_type};

/// The request's message type.
pub const GETGEN: u16 = nfnl_msg_type(NFNL_SUBSYS_NFTABLES, NFT_MSG_GETGEN);
/// The reply's message type.
pub const NEWGEN: u16 = nfnl_msg_type(NFNL_SUBSYS_NFTABLES, NFT_MSG_NEWGEN);

/// Encodes a GETGEN request with sequence number `seq`.
pub fn emit_getgen(seq: u32) -> Vec<u8> {
    let nfgen = Nfgenmsg { family: libc::AF_UNSPEC as u8, version: NFNETLINK_V0, res_id: 0 };
    nfnl_message(GETGEN, NLM_F_REQUEST | NLM_F_ACK, seq, nfgen, |_| {})
}

/// Parses a NEWGEN reply payload and returns `NFTA_GEN_ID`.
pub fn parse_newgen(payload: &[u8]) -> Result<u32, WireError> {
    Nfgenmsg::parse(payload)?;
    for nla in Nla::iter(&payload[NFGENMSG_LEN..]) {
        let nla = nla?;
        if nla.ty == NFTA_GEN_ID {
            return nla.be_u32("NFTA_GEN_ID");
        }
    }
    Err(WireError::BadAttribute { name: "NFTA_GEN_ID", why: "missing from the reply" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn getgen_is_a_bare_nfgenmsg() {
        let b = emit_getgen(1);
        assert_eq!(b.len(), NLMSG_HDRLEN + NFGENMSG_LEN);
        assert_eq!(u16::from_ne_bytes([b[4], b[5]]), 0x0a10);
        assert_eq!(&b[16..], &[0, 0, 0, 0]);
    }

    #[test]
    fn newgen_gen_id() {
        let nfgen = Nfgenmsg { family: 0, version: 0, res_id: 0 };
        let reply = nfnl_message(NEWGEN, 0, 1, nfgen, |out| {
            Nla::emit(NFTA_GEN_ID, &7u32.to_be_bytes(), out);
            Nla::emit(3, b"nft\0", out); // NFTA_GEN_PROC_NAME, ignored
        });
        assert_eq!(parse_newgen(&reply[NLMSG_HDRLEN..]), Ok(7));
        assert!(parse_newgen(&reply[NLMSG_HDRLEN..NLMSG_HDRLEN + 4]).is_err());
    }
}
