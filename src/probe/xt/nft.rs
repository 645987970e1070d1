//! The nft backend: revision queries through nft_compat, as iptables-nft
//! makes them, and the nf_tables reachability check that explains an EINVAL.

use serde::Serialize;

use super::compat::{COMPAT_GET, CompatGet, CompatInfo};
use super::walk::{Extent, NFT_LOOKAHEAD, RevisionAnswer, walk_many};
use crate::probe::exchange::Answer;
use crate::probe::generation::{NEWGEN, emit_getgen, parse_newgen};
use crate::probe::socket::{MAX_BATCH, NfnlSocket};
use crate::probe::{Errno, Extension, Family, Outcome, ProbeError};
use crate::system::deadline::Deadline;

/// Whether nf_tables answered `NFT_MSG_GETGEN`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NfTablesStatus {
    /// True if the kernel returned a generation id.
    pub reachable: bool,
    /// The ruleset generation id, when reachable.
    pub generation: Option<u32>,
    /// The errno that made it unreachable.
    pub errno: Option<Errno>,
    /// A sentence for humans.
    pub message: String,
}

/// Asks nft_compat about extensions over one socket.
pub struct NftProber {
    sock: NfnlSocket,
    nf_tables: Option<NfTablesStatus>,
    deadline: Deadline,
}

impl NftProber {
    /// Opens the nfnetlink socket.
    pub fn open(deadline: &Deadline) -> Result<Self, ProbeError> {
        Ok(Self { sock: NfnlSocket::open(deadline)?, nf_tables: None, deadline: deadline.clone() })
    }

    /// Asks nf_tables for its generation (cached after the first call;
    /// [`NftProber::probe_all`] asks it along with its first batch).
    pub fn nf_tables(&mut self) -> Result<NfTablesStatus, ProbeError> {
        if let Some(s) = &self.nf_tables {
            return Ok(s.clone());
        }
        self.deadline.doing("it was asked for the nf_tables ruleset generation (NFT_MSG_GETGEN)");
        let answer = self.sock.request(emit_getgen, NEWGEN)?;
        self.record_nf_tables(answer)
    }

    fn record_nf_tables(&mut self, answer: Answer) -> Result<NfTablesStatus, ProbeError> {
        let status = match answer {
            Answer::Data(payload) => {
                let id = parse_newgen(&payload)?;
                NfTablesStatus {
                    reachable: true,
                    generation: Some(id),
                    errno: None,
                    message: "nf_tables answers".to_string(),
                }
            }
            Answer::Error { errno: libc::EPERM, .. } => {
                return Err(ProbeError::PermissionDenied { cap: "CAP_NET_ADMIN" });
            }
            Answer::Error { errno, ext_ack } => NfTablesStatus {
                reachable: false,
                generation: None,
                errno: Some(Errno(errno)),
                message: format!(
                    "nf_tables does not answer ({}){}: the kernel lacks CONFIG_NF_TABLES or the \
                     nf_tables module is not loaded",
                    Errno(errno).name(),
                    ext_ack.message.map(|m| format!(", kernel: {m}")).unwrap_or_default()
                ),
            },
            Answer::BareAck => return Err(ProbeError::BareAck),
        };
        self.nf_tables = Some(status.clone());
        Ok(status)
    }

    /// Asks whether `ext` is registered at revision `rev` in `family`.
    pub fn ask(&mut self, family: Family, ext: &Extension, rev: u8) -> Result<RevisionAnswer, ProbeError> {
        let req = CompatGet { family, name: &ext.name, revision: rev, kind: ext.kind };
        self.deadline.doing(describe(&[req]));
        let answer = self.sock.request(|seq| req.emit(seq), COMPAT_GET)?;
        self.interpret(&req, answer)
    }

    /// What the kernel's answer to one compat GET means.
    fn interpret(&mut self, req: &CompatGet<'_>, answer: Answer) -> Result<RevisionAnswer, ProbeError> {
        match answer {
            Answer::Data(payload) => {
                let best = CompatInfo::parse(&payload)?.best_for(req)?;
                Ok(RevisionAnswer::Supported { best: Some(best) })
            }
            Answer::Error { errno: libc::ENOENT, .. } => Ok(RevisionAnswer::NoSuchName),
            Answer::Error { errno: libc::EPROTONOSUPPORT, .. } => Ok(RevisionAnswer::NoSuchRevision),
            Answer::Error { errno: libc::EPERM, .. } => {
                Err(ProbeError::PermissionDenied { cap: "CAP_NET_ADMIN" })
            }
            // Our requests are always well-formed, so EINVAL means the
            // compat subsystem (nfnetlink-subsys-11) is missing. GETGEN
            // tells whether nf_tables itself is there.
            Answer::Error { errno: libc::EINVAL, ext_ack } => {
                let reachable = self.nf_tables().map(|s| s.reachable).unwrap_or(false);
                Err(ProbeError::CompatUnavailable {
                    nf_tables_reachable: reachable,
                    ext_ack: ext_ack.message,
                })
            }
            Answer::Error { errno, ext_ack } => Err(ProbeError::Os {
                op: "NFNL_MSG_COMPAT_GET",
                errno: Errno(errno),
                ext_ack: ext_ack.message,
            }),
            Answer::BareAck => Err(ProbeError::BareAck),
        }
    }

    /// Walks all revisions of `ext` in `family`.
    pub fn probe(&mut self, family: Family, ext: &Extension) -> Outcome {
        self.probe_all(&[(family, ext)]).remove(0)
    }

    /// Walks all revisions of every (family, extension) pair, asking the
    /// questions of all walks that are ready in shared datagrams of up to
    /// [`MAX_BATCH`] requests ([`walk_many`] decides which). A transport
    /// failure (timeout, permission) fails every walk that was waiting on
    /// that datagram.
    pub fn probe_all(&mut self, items: &[(Family, &Extension)]) -> Vec<Outcome> {
        // Only xtables matches and targets in xtables families are asked.
        let askable = |(f, e): &(Family, &Extension)| e.kind.is_xt() && f.module_prefix().is_some();
        if !items.iter().all(askable) {
            let asked: Vec<(Family, &Extension)> = items.iter().copied().filter(askable).collect();
            let mut answers = self.probe_all(&asked).into_iter();
            return items
                .iter()
                .map(|item| match askable(item) {
                    true => answers.next().unwrap_or(Outcome::Failed(ProbeError::BareAck)),
                    false => Outcome::NotApplicable("xtables has no such kind or family"),
                })
                .collect();
        }
        let groups: Vec<&Extension> = items.iter().map(|(_, e)| *e).collect();
        // GETGEN rides along in the first datagram: one round trip less.
        let mut ask_generation = self.nf_tables.is_none();
        let results = walk_many(&groups, Extent::Lookahead(NFT_LOOKAHEAD), |questions| {
            let mut meanings = Vec::with_capacity(questions.len());
            for chunk in questions.chunks(MAX_BATCH - 1) {
                let requests: Vec<CompatGet<'_>> = chunk
                    .iter()
                    .map(|&(i, rev)| {
                        let (family, ext) = items[i];
                        CompatGet { family, name: &ext.name, revision: rev, kind: ext.kind }
                    })
                    .collect();
                self.deadline.doing(describe(&requests));
                let extra = usize::from(ask_generation);
                let mut types = vec![NEWGEN; extra];
                types.extend(std::iter::repeat_n(COMPAT_GET, requests.len()));
                let batch = self.sock.request_batch(&types, |seq, k| match k.checked_sub(extra) {
                    None => emit_getgen(seq),
                    Some(k) => requests[k].emit(seq),
                });
                match batch {
                    Ok(mut answers) => {
                        if extra == 1 {
                            ask_generation = false;
                            // Failures surface again through nf_tables().
                            let _ = self.record_nf_tables(answers.remove(0));
                        }
                        for (req, answer) in requests.iter().zip(answers) {
                            meanings.push(self.interpret(req, answer));
                        }
                    }
                    Err(e) => meanings.extend(chunk.iter().map(|_| Err(e.clone()))),
                }
            }
            meanings
        });
        results
            .into_iter()
            .map(|r| match r {
                Ok(Some(revs)) => Outcome::Registered(revs),
                Ok(None) => Outcome::NotRegistered,
                Err(e) => Outcome::Failed(e),
            })
            .collect()
    }
}

/// What a batch asks, for a timeout message: the first question and the count.
fn describe(requests: &[CompatGet<'_>]) -> String {
    match requests {
        [] => "it was asked nothing".to_string(),
        [r, rest @ ..] => format!(
            "it was asked (NFNL_MSG_COMPAT_GET) about {}:{} in {} at revision {}{}",
            r.kind,
            r.name,
            r.family,
            r.revision,
            if rest.is_empty() {
                String::new()
            } else {
                format!(", and {} more questions in the same batch", rest.len())
            }
        ),
    }
}
