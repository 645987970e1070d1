//! Matching the kernel's replies to one request.
//!
//! A request goes out with `NLM_F_REQUEST | NLM_F_ACK` and a sequence number.
//! The kernel answers with at most one data message of the expected type and
//! then an `NLMSG_ERROR` whose error is 0 (the ACK) or a negative errno. The
//! compat GET reply carries `NLM_F_MULTI` yet no `NLMSG_DONE` follows
//! (`nfnl_compat_fill_info`), so the ACK is the only reliable end marker.
//!
//! Messages with another sequence number are stale answers to a request that
//! timed out earlier on the same socket; they are skipped, not trusted.
//! An ACK without a data message means the kernel did not process the
//! request (for instance a message too short for `nfgenmsg`), so it is
//! reported as [`Answer::BareAck`], never as success.

use super::consts::*;
use super::wire::{ExtAck, NlmsgErr, RawMessage, WireError, messages};

/// What the kernel said to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The data message's payload (nfgenmsg and attributes), followed by an ACK.
    Data(Vec<u8>),
    /// An `NLMSG_ERROR` with a negative errno, and the kernel's explanation.
    Error {
        /// Positive errno value.
        errno: i32,
        /// Extended-ACK text and offset, if the kernel gave any.
        ext_ack: ExtAck,
    },
    /// An ACK with no data message before it: the request was not processed.
    BareAck,
}

/// The state of one request/response exchange.
#[derive(Debug)]
pub struct Exchange {
    seq: u32,
    reply_type: u16,
    data: Option<Vec<u8>>,
}

impl Exchange {
    /// Starts an exchange for the request sent with `seq`, whose data reply
    /// has message type `reply_type`.
    pub fn new(seq: u32, reply_type: u16) -> Self {
        Self { seq, reply_type, data: None }
    }

    /// Consumes one received datagram. Returns the answer once the exchange
    /// is complete, `None` while more datagrams are needed.
    pub fn feed(&mut self, datagram: &[u8]) -> Result<Option<Answer>, WireError> {
        for msg in messages(datagram) {
            let msg = msg?;
            if msg.header.seq != self.seq {
                continue;
            }
            if let Some(answer) = self.feed_message(&msg)? {
                return Ok(Some(answer));
            }
        }
        Ok(None)
    }

    /// Consumes one message already known to carry this exchange's sequence
    /// number.
    pub fn feed_message(&mut self, msg: &RawMessage<'_>) -> Result<Option<Answer>, WireError> {
        match msg.header.ty {
            NLMSG_NOOP => Ok(None),
            NLMSG_ERROR => {
                let err = NlmsgErr::parse(msg.payload, msg.header.flags)?;
                if err.error == 0 {
                    return Ok(Some(self.finish()));
                }
                Ok(Some(Answer::Error { errno: err.error.saturating_neg(), ext_ack: err.ext_ack }))
            }
            NLMSG_DONE => Ok(Some(self.finish())),
            NLMSG_OVERRUN => Err(WireError::UnexpectedType(NLMSG_OVERRUN)),
            ty if ty == self.reply_type => {
                if self.data.is_some() {
                    return Err(WireError::Mismatch("two data replies to one request"));
                }
                self.data = Some(msg.payload.to_vec());
                Ok(None)
            }
            other => Err(WireError::UnexpectedType(other)),
        }
    }

    /// The answer at the end marker: the data, or a bare ACK.
    fn finish(&mut self) -> Answer {
        match self.data.take() {
            Some(d) => Answer::Data(d),
            None => Answer::BareAck,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::wire::{NlmsgHeader, nfnl_msg_type};

    const REPLY: u16 = nfnl_msg_type(NFNL_SUBSYS_NFT_COMPAT, NFNL_MSG_COMPAT_GET);

    fn msg(ty: u16, flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let len = (NLMSG_HDRLEN + payload.len()) as u32;
        NlmsgHeader { len, ty, flags, seq, pid: 0 }.emit(&mut out);
        out.extend_from_slice(payload);
        out
    }

    fn ack(seq: u32, error: i32, ext: ExtAck) -> Vec<u8> {
        let request = NlmsgHeader { len: 52, ty: REPLY, flags: 5, seq, pid: 0 };
        let mut p = Vec::new();
        let has_tlvs = ext != ExtAck::default();
        NlmsgErr { error, request, ext_ack: ext }.emit_capped(&mut p);
        let flags = NLM_F_CAPPED | if has_tlvs { NLM_F_ACK_TLVS } else { 0 };
        msg(NLMSG_ERROR, flags, seq, &p)
    }

    #[test]
    fn data_then_ack_in_separate_datagrams() {
        let mut ex = Exchange::new(5, REPLY);
        assert_eq!(ex.feed(&msg(REPLY, NLM_F_MULTI, 5, &[2, 0, 0, 0])).unwrap(), None);
        let answer = ex.feed(&ack(5, 0, ExtAck::default())).unwrap();
        assert_eq!(answer, Some(Answer::Data(vec![2, 0, 0, 0])));
    }

    #[test]
    fn bare_ack_is_not_success() {
        let mut ex = Exchange::new(5, REPLY);
        assert_eq!(ex.feed(&ack(5, 0, ExtAck::default())).unwrap(), Some(Answer::BareAck));
    }

    #[test]
    fn wrong_sequence_number_is_skipped() {
        let mut ex = Exchange::new(5, REPLY);
        // A late reply and ACK to request 4 must not answer request 5.
        let mut stale = msg(REPLY, NLM_F_MULTI, 4, &[2, 0, 0, 0]);
        stale.extend(ack(4, 0, ExtAck::default()));
        assert_eq!(ex.feed(&stale).unwrap(), None);
        assert_eq!(
            ex.feed(&ack(5, -2, ExtAck::default())).unwrap(),
            Some(Answer::Error { errno: 2, ext_ack: ExtAck::default() })
        );
    }

    #[test]
    fn error_keeps_extack_text() {
        let mut ex = Exchange::new(1, REPLY);
        let ext =
            ExtAck { message: Some("integer out of range".into()), offset: Some(36), missing_type: None };
        let answer = ex.feed(&ack(1, -34, ext.clone())).unwrap().unwrap();
        assert_eq!(answer, Answer::Error { errno: 34, ext_ack: ext });
    }

    #[test]
    fn unexpected_type_is_an_error() {
        let mut ex = Exchange::new(1, REPLY);
        assert_eq!(ex.feed(&msg(0x0a0f, 0, 1, &[0; 4])), Err(WireError::UnexpectedType(0x0a0f)));
    }

    #[test]
    fn truncated_datagram_is_an_error() {
        let mut ex = Exchange::new(1, REPLY);
        let full = msg(REPLY, NLM_F_MULTI, 1, &[2, 0, 0, 0, 9, 9, 9, 9]);
        assert!(matches!(ex.feed(&full[..20]), Err(WireError::Truncated { .. })));
    }

    #[test]
    fn duplicate_data_is_an_error() {
        let mut ex = Exchange::new(1, REPLY);
        let mut two = msg(REPLY, NLM_F_MULTI, 1, &[2, 0, 0, 0]);
        two.extend(msg(REPLY, NLM_F_MULTI, 1, &[2, 0, 0, 0]));
        assert!(matches!(ex.feed(&two), Err(WireError::Mismatch(_))));
    }

    /// Any bytes at all — random, or a valid reply cut and damaged — give
    /// an answer or an error, never a panic.
    #[test]
    fn arbitrary_datagrams_never_panic() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut valid = msg(REPLY, NLM_F_MULTI, 1, &[2, 0, 0, 0, 12, 0, 1, 0, b'a', 0, 0, 0]);
        valid.extend(ack(1, -22, ExtAck { message: Some("x".into()), offset: Some(4), missing_type: None }));
        for round in 0..20_000 {
            let mut d = if round % 2 == 0 {
                (0..(next() % 96) as usize).map(|_| next() as u8).collect::<Vec<u8>>()
            } else {
                valid.clone()
            };
            if !d.is_empty() {
                let i = (next() as usize) % d.len();
                d[i] = next() as u8;
                d.truncate(d.len() - (next() as usize) % d.len().max(1));
            }
            let mut ex = Exchange::new(1, REPLY);
            if let Ok(Some(Answer::Data(payload))) = ex.feed(&d) {
                let _ = crate::probe::xt::compat::CompatInfo::parse(&payload);
            }
        }
    }
}
