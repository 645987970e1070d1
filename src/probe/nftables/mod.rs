//! nf_tables itself: which expression types, chain types, families and set
//! features the kernel has.
//!
//! nf_tables has no message that lists what is registered. So xtprobe does
//! what `nft --check` does: it sends a batch that would build a small
//! ruleset — a dormant table, a chain, one rule per expression type asked
//! about — and never sends `NFNL_MSG_BATCH_END`. The kernel validates every
//! message, answers each one (every message asks for an ACK), and aborts
//! the batch: nothing is committed, not even for a moment, and the ruleset
//! generation does not change. Like `nft`, the kernel may autoload the
//! module of a type it does not know (`nft-expr-numgen`) while validating.
//!
//! - [`msg`]: the messages, typed, with `emit`;
//! - [`recipe`]: what to send for each expression, chain type and set
//!   feature (the facts);
//! - [`plan`]: questions → batches, and ACKs → answers (pure decisions);
//! - this module: the socket conversation.

pub mod abi;
pub mod dump;
pub mod msg;
pub mod plan;
pub mod recipe;

use plan::{Names, Question};

use super::socket::NfnlSocket;
use super::{Extension, Family, Kind, Outcome, ProbeError};
use crate::system::deadline::Deadline;

/// Asks nf_tables over one socket.
pub struct NftablesProber {
    sock: NfnlSocket,
    deadline: Deadline,
    names: Names,
}

/// The question for `ext` in `family`, or why it is not asked there.
pub fn question(ext: &Extension, family: Family) -> Result<Question, &'static str> {
    let unknown = "xtprobe has no question for this name";
    match ext.kind {
        Kind::Expr => {
            let r = recipe::expr(&ext.name).ok_or(unknown)?;
            if r.applies(family) {
                Ok(Question::Expr(r))
            } else {
                Err("this expression type does not exist in this family")
            }
        }
        Kind::Chain => {
            let t = recipe::CHAIN_TYPES.iter().find(|t| **t == ext.name).ok_or(unknown)?;
            if recipe::chain_applies(t, family) {
                Ok(Question::Chain(t))
            } else {
                Err("this chain type does not exist in this family")
            }
        }
        Kind::Family => Ok(Question::Family),
        Kind::Set => recipe::set_feature(&ext.name).map(Question::Set).ok_or(unknown),
        Kind::Logger => recipe::logger(&ext.name).map(Question::Logger).ok_or(unknown),
        Kind::Helper => {
            if !matches!(family, Family::Ipv4 | Family::Ipv6) {
                return Err("conntrack helpers are asked in ipv4 and ipv6");
            }
            recipe::helper(&ext.name).map(Question::Helper).ok_or(unknown)
        }
        Kind::Object => {
            let o = recipe::object(&ext.name).ok_or(unknown)?;
            if !o.families.is_empty() && !o.families.contains(&family) {
                return Err(if o.number.is_none() {
                    "flowtables exist in ip, ip6 and inet tables"
                } else {
                    "this object type exists only in other families (tunnel: netdev)"
                });
            }
            Ok(Question::Object(o))
        }
        Kind::Textsearch => {
            if !matches!(family, Family::Ipv4 | Family::Ipv6) {
                return Err("the string match is asked in ipv4 and ipv6");
            }
            recipe::TEXTSEARCH
                .iter()
                .find(|a| **a == ext.name)
                .map(|a| Question::Textsearch(a))
                .ok_or(unknown)
        }
        Kind::Match | Kind::Target | Kind::Ipset | Kind::Table => Err("not an nf_tables question"),
    }
}

impl NftablesProber {
    /// Opens the nfnetlink socket.
    pub fn open(deadline: &Deadline) -> Result<Self, ProbeError> {
        Ok(Self {
            sock: NfnlSocket::open(deadline)?,
            deadline: deadline.clone(),
            names: Names::for_pid(std::process::id()),
        })
    }

    /// Answers every (family, requirement) pair, in order, in as few
    /// batches as fit.
    pub fn probe_all(&mut self, items: &[(Family, &Extension)]) -> Vec<Outcome> {
        let mut out: Vec<Option<Outcome>> = vec![None; items.len()];
        let mut asked: Vec<(Family, Question)> = Vec::new();
        let mut index: Vec<usize> = Vec::new();
        for (i, (family, ext)) in items.iter().enumerate() {
            match question(ext, *family) {
                Ok(q) => {
                    asked.push((*family, q));
                    index.push(i);
                }
                Err(why) => out[i] = Some(Outcome::NotApplicable(why)),
            }
        }
        for batch in plan::plan(&asked, &self.names) {
            self.deadline.doing(format!(
                "it was asked (an nf_tables validate-only batch of {} messages) about {}",
                batch.messages.len(),
                batch.first
            ));
            let msgs = &batch.messages;
            let answers = self.sock.request_transaction(msg::batch_begin, msgs.len(), |seq, i| {
                let (family, m) = &msgs[i];
                m.emit(*family, seq)
            });
            match answers {
                Ok(answers) => {
                    for (k, outcome) in plan::interpret(&batch, &answers, &asked) {
                        out[index[k]] = Some(outcome);
                    }
                }
                Err(e) => {
                    let e = match e {
                        ProbeError::Os { op: "NFNL_MSG_BATCH_BEGIN", errno, .. }
                            if errno.0 == libc::EOPNOTSUPP =>
                        {
                            ProbeError::NoNftables
                        }
                        other => other,
                    };
                    for k in plan::indices(&batch) {
                        out[index[k]] = Some(Outcome::Failed(e.clone()));
                    }
                }
            }
        }
        out.into_iter().map(|o| o.unwrap_or(Outcome::Failed(ProbeError::BareAck))).collect()
    }
}
