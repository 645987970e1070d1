//! ipset: which set types (`hash:ip,port`) and revisions the kernel has.
//!
//! ipset answers this directly: `IPSET_CMD_TYPE` with a type name and a
//! family returns the lowest and highest revision registered, or
//! `IPSET_ERR_FIND_TYPE` after the kernel tried `request_module("ip_set_<type>")`
//! (`ip_set_type()`, `find_set_type_minmax()` in
//! `net/netfilter/ipset/ip_set_core.c`). Every revision in between is
//! provided by the same module, so the answer is a range. Nothing is
//! created. A kernel without ip_set answers EINVAL for the whole subsystem
//! (`nfnetlink_rcv_msg()` after its own `nfnetlink-subsys-6` autoload).

pub mod abi;
pub mod msg;

use msg::{PROTOCOL, Protocol, TYPE, TypeInfo, TypeQuery};

use super::consts::{NFPROTO_IPV4, NFPROTO_IPV6};
use super::exchange::Answer;
use super::socket::{MAX_BATCH, NfnlSocket};
use super::{Errno, Extension, Family, Outcome, ProbeError, Revisions};
use crate::system::deadline::Deadline;

/// Set types mainline registers for IPv4 only (`bitmap:ip`, `bitmap:ip,mac`
/// register `NFPROTO_IPV4`); asking them in ipv6 is not applicable, not a miss.
pub const IPV4_ONLY: &[&str] = &["bitmap:ip", "bitmap:ip,mac"];

/// The `NFPROTO_*` an ipset type is asked in for `family`, if ipset has it.
pub fn nfproto(family: Family) -> Option<u8> {
    match family {
        Family::Ipv4 => Some(NFPROTO_IPV4),
        Family::Ipv6 => Some(NFPROTO_IPV6),
        _ => None,
    }
}

/// What one type answer means.
pub fn interpret(answer: Answer, query: &TypeQuery<'_>) -> Outcome {
    match answer {
        Answer::Data(payload) => match TypeInfo::parse(&payload, query) {
            Ok(info) => Outcome::Registered(Revisions {
                supported: (info.revision_min..=info.revision).collect(),
                best: Some(info.revision),
            }),
            Err(e) => Outcome::Failed(ProbeError::Wire(e)),
        },
        Answer::Error { errno: abi::IPSET_ERR_FIND_TYPE, .. } => Outcome::NotRegistered,
        Answer::Error { errno: libc::EINVAL, .. } => Outcome::Failed(ProbeError::NoIpset),
        Answer::Error { errno, ext_ack } => Outcome::Failed(ProbeError::Os {
            op: "IPSET_CMD_TYPE",
            errno: Errno(errno),
            ext_ack: ext_ack.message,
        }),
        Answer::BareAck => Outcome::Failed(ProbeError::BareAck),
    }
}

/// Asks ipset over one socket.
pub struct IpsetProber {
    sock: NfnlSocket,
    deadline: Deadline,
}

impl IpsetProber {
    /// Opens the nfnetlink socket.
    pub fn open(deadline: &Deadline) -> Result<Self, ProbeError> {
        Ok(Self { sock: NfnlSocket::open(deadline)?, deadline: deadline.clone() })
    }

    /// Which protocol the kernel speaks (`IPSET_CMD_PROTOCOL`).
    pub fn protocol(&mut self) -> Result<Protocol, ProbeError> {
        self.deadline.doing("it was asked for the ipset protocol (IPSET_CMD_PROTOCOL)");
        match self.sock.request(msg::emit_protocol, PROTOCOL)? {
            Answer::Data(payload) => Ok(Protocol::parse(&payload)?),
            Answer::Error { errno: libc::EINVAL, .. } => Err(ProbeError::NoIpset),
            Answer::Error { errno, ext_ack } => Err(ProbeError::Os {
                op: "IPSET_CMD_PROTOCOL",
                errno: Errno(errno),
                ext_ack: ext_ack.message,
            }),
            Answer::BareAck => Err(ProbeError::BareAck),
        }
    }

    /// Every set that exists, headers only (`IPSET_CMD_LIST`): what a
    /// capture records. Nothing is created or loaded.
    pub fn list_sets(&mut self) -> Result<Vec<msg::SetHeader>, ProbeError> {
        let protocol = self.protocol()?.for_requests();
        self.deadline.doing("it was asked for the list of ipsets (IPSET_CMD_LIST)");
        let mut out = Vec::new();
        self.sock.dump(
            |seq| msg::emit_list(seq, protocol),
            "IPSET_CMD_LIST",
            |m| {
                if m.header.ty != msg::LIST {
                    return Err(ProbeError::Wire(crate::probe::wire::WireError::UnexpectedType(m.header.ty)));
                }
                out.push(msg::SetHeader::parse(m.payload)?);
                Ok(())
            },
        )?;
        Ok(out)
    }

    /// Answers every (family, set type) pair, in order.
    pub fn probe_all(&mut self, items: &[(Family, &Extension)]) -> Vec<Outcome> {
        let protocol = match self.protocol() {
            Ok(p) => p.for_requests(),
            Err(e) => return items.iter().map(|_| Outcome::Failed(e.clone())).collect(),
        };
        let mut out: Vec<Option<Outcome>> = vec![None; items.len()];
        let mut asked: Vec<(usize, TypeQuery<'_>)> = Vec::new();
        for (i, (family, ext)) in items.iter().enumerate() {
            match nfproto(*family) {
                Some(NFPROTO_IPV6) if IPV4_ONLY.contains(&ext.name.as_str()) => {
                    out[i] = Some(Outcome::NotApplicable("an ipv4-only set type"))
                }
                Some(f) => asked.push((i, TypeQuery { name: &ext.name, family: f, protocol })),
                None => out[i] = Some(Outcome::NotApplicable("ipset set types are ipv4 or ipv6")),
            }
        }
        for chunk in asked.chunks(MAX_BATCH) {
            let (first, family) = (chunk[0].1.name, chunk[0].1.family);
            self.deadline.doing(format!(
                "it was asked (IPSET_CMD_TYPE) about ipset:{first} in family {family}{}",
                if chunk.len() > 1 {
                    format!(", and {} more in the same datagram", chunk.len() - 1)
                } else {
                    String::new()
                }
            ));
            let types = vec![TYPE; chunk.len()];
            match self.sock.request_batch(&types, |seq, k| chunk[k].1.emit(seq)) {
                Ok(answers) => {
                    for ((i, q), a) in chunk.iter().zip(answers) {
                        out[*i] = Some(interpret(a, q));
                    }
                }
                Err(e) => {
                    for (i, _) in chunk {
                        out[*i] = Some(Outcome::Failed(e.clone()));
                    }
                }
            }
        }
        out.into_iter().map(|o| o.unwrap_or(Outcome::Failed(ProbeError::BareAck))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::wire::ExtAck;

    #[test]
    fn answers_by_errno() {
        let q = TypeQuery { name: "hash:ip", family: NFPROTO_IPV4, protocol: 7 };
        let e = |errno| Answer::Error { errno, ext_ack: ExtAck::default() };
        assert_eq!(interpret(e(abi::IPSET_ERR_FIND_TYPE), &q), Outcome::NotRegistered);
        assert_eq!(interpret(e(libc::EINVAL), &q), Outcome::Failed(ProbeError::NoIpset));
        assert!(matches!(interpret(e(abi::IPSET_ERR_PROTOCOL), &q), Outcome::Failed(ProbeError::Os { .. })));
        assert_eq!(interpret(Answer::BareAck, &q), Outcome::Failed(ProbeError::BareAck));
    }

    #[test]
    fn families() {
        assert_eq!(nfproto(Family::Ipv6), Some(10));
        assert_eq!(nfproto(Family::Bridge), None);
    }
}
