//! The `NETLINK_NETFILTER` socket: opened through neli, one request at a time,
//! each answered within a deadline.
//!
//! neli provides the socket (`socket`+`bind` with an autobound port id,
//! `send`, `recv`, `NETLINK_EXT_ACK`); the bytes are our own typed messages
//! ([`super::wire`]) because neli has no big-endian attribute types and its
//! router waits for an `NLMSG_DONE` that compat replies never send.
//! `NETLINK_CAP_ACK` is left off so errors echo the full request and the
//! extended-ACK offsets stay meaningful.

use std::io;
use std::time::Duration;

use neli::consts::socket::{Msg, NlFamily};
use neli::socket::NlSocket;
use neli::utils::Groups;

use super::exchange::{Answer, Exchange};
use super::wire::messages;
use super::{Errno, ProbeError};
use crate::system::deadline::Deadline;
use crate::system::syscalls as sys;

/// Size of each receive slot. Replies to our requests are under 256 bytes
/// (an error echoes our ≤ 76-byte request plus its extended ACK); a larger
/// datagram is reported as EMSGSIZE, never cut silently. Kept small on
/// purpose: every page of buffer is a page fault on a short-lived process.
const RECV_BUFFER: usize = 512;

/// Datagrams taken per `recvmmsg`: the replies and ACKs of a full batch.
const RECV_SLOTS: usize = 2 * MAX_BATCH;

/// Requests per datagram. Each compat reply is allocated with
/// `NLMSG_DEFAULT_SIZE` (about a page of truesize) and each ACK with a few
/// hundred bytes, so a batch needs at most ~6 KiB per request of receive
/// buffer: 32 requests fit the buffer [`RCVBUF`] asks for with room to
/// spare, and still fit the 208 KiB default should the kernel refuse more.
pub const MAX_BATCH: usize = 32;

/// Receive buffer of a dump: the kernel fills dump datagrams up to 32 KiB
/// (`netlink_dump()`); twice that leaves room, and a larger one is
/// EMSGSIZE, never cut.
const DUMP_BUFFER: usize = 64 * 1024;

/// Messages per nfnetlink transaction. Their ACKs are small (an error
/// echoes the request, at most a few hundred bytes), so 64 fit the receive
/// buffer many times over; the datagram stays far below the send buffer.
pub const MAX_TRANSACTION: usize = 64;

/// The reply type of a message that has none: no data message matches it.
const NO_DATA: u16 = u16::MAX;

/// `SO_RCVBUF` we ask for; the kernel doubles it and caps it at
/// `net.core.rmem_max` (208 KiB by default, so at least 416 KiB).
const RCVBUF: usize = 256 * 1024;

/// An nfnetlink socket whose every wait ends at one deadline.
pub struct NfnlSocket {
    sock: NlSocket,
    seq: u32,
    bufs: Vec<[u8; RECV_BUFFER]>,
    deadline: Deadline,
}

impl NfnlSocket {
    /// Opens and binds the socket. EPROTONOSUPPORT means the kernel has no
    /// nfnetlink at all.
    pub fn open(deadline: &Deadline) -> Result<Self, ProbeError> {
        let sock = NlSocket::connect(NlFamily::Netfilter, None, Groups::empty()).map_err(|e| {
            match e.raw_os_error() {
                Some(libc::EPROTONOSUPPORT) => ProbeError::NoNfnetlink,
                _ => os_error("socket(AF_NETLINK, NETLINK_NETFILTER)", &e),
            }
        })?;
        // Older kernels lack NETLINK_EXT_ACK; the probe works without it.
        let _ = sock.enable_ext_ack(true);
        // Best effort: the default buffer still holds a whole batch.
        let _ = sock.set_recv_buffer_size(RCVBUF);
        // Start from the clock like iptables does, so replies left over from
        // another process's socket could never match by accident.
        let seq = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as u32)
            .unwrap_or(1);
        Ok(Self { sock, seq, bufs: vec![[0; RECV_BUFFER]; RECV_SLOTS], deadline: deadline.clone() })
    }

    /// Sends the message `build(seq)` and collects the kernel's answer,
    /// whose data message has type `reply_type`.
    pub fn request(
        &mut self,
        build: impl FnOnce(u32) -> Vec<u8>,
        reply_type: u16,
    ) -> Result<Answer, ProbeError> {
        let mut build = Some(build);
        let mut answers =
            self.request_batch(&[reply_type], |seq, _| (build.take().expect("built once"))(seq))?;
        Ok(answers.remove(0))
    }

    /// Sends one request per entry of `reply_types` in one datagram —
    /// message `i` built by `build(seq, i)`, its data reply of type
    /// `reply_types[i]` — and collects every answer, in request order.
    ///
    /// The kernel handles all messages of a datagram in turn
    /// (`netlink_rcv_skb`), queueing each reply before `send` returns, so a
    /// batch must fit the socket's receive buffer: at most
    /// [`MAX_BATCH`] requests. One exception to "every request is answered":
    /// without `CAP_NET_ADMIN`, `nfnetlink_rcv` rejects the first message
    /// with EPERM and drops the rest, so EPERM fails the whole batch.
    pub fn request_batch(
        &mut self,
        reply_types: &[u16],
        build: impl FnMut(u32, usize) -> Vec<u8>,
    ) -> Result<Vec<Answer>, ProbeError> {
        assert!(reply_types.len() <= MAX_BATCH, "batch of {} exceeds MAX_BATCH", reply_types.len());
        self.exchange(None, reply_types, build)
    }

    /// Sends `count` messages as one nfnetlink transaction — opened by
    /// `begin(seq)` (an `NFNL_MSG_BATCH_BEGIN`), never closed, so the kernel
    /// validates and aborts it — and collects each message's ACK or error,
    /// in order. None of them has a data reply; a successful message is
    /// [`Answer::BareAck`]. If the kernel refuses the transaction itself
    /// (an error answering `begin`), that error fails the whole call:
    /// EOPNOTSUPP then means the subsystem is not there.
    pub fn request_transaction(
        &mut self,
        begin: impl FnOnce(u32) -> Vec<u8>,
        count: usize,
        build: impl FnMut(u32, usize) -> Vec<u8>,
    ) -> Result<Vec<Answer>, ProbeError> {
        assert!(count <= MAX_TRANSACTION, "transaction of {count} exceeds MAX_TRANSACTION");
        self.exchange(Some(Box::new(begin)), &vec![NO_DATA; count], build)
    }

    fn exchange(
        &mut self,
        begin: Option<Box<dyn FnOnce(u32) -> Vec<u8> + '_>>,
        reply_types: &[u16],
        mut build: impl FnMut(u32, usize) -> Vec<u8>,
    ) -> Result<Vec<Answer>, ProbeError> {
        let count = reply_types.len();
        if self.deadline.expired() {
            return Err(self.timeout());
        }
        let mut datagram = Vec::with_capacity(count * 64 + 20);
        let begin_seq = begin.map(|b| {
            self.seq = self.seq.wrapping_add(1);
            datagram.extend(b(self.seq));
            self.seq
        });
        let base = self.seq.wrapping_add(1);
        self.seq = self.seq.wrapping_add(count as u32);
        for i in 0..count {
            datagram.extend(build(base.wrapping_add(i as u32), i));
        }
        crate::system::errno::retry(|| self.sock.send(&datagram, Msg::empty()))
            .map_err(|e| os_error("send(NETLINK_NETFILTER)", &e))?;

        let mut exchanges: Vec<Exchange> = reply_types
            .iter()
            .enumerate()
            .map(|(i, &ty)| Exchange::new(base.wrapping_add(i as u32), ty))
            .collect();
        let mut answers: Vec<Option<Answer>> = vec![None; count];
        let mut pending = count;
        while pending > 0 {
            let lens = receive(&self.sock, &self.deadline, &mut self.bufs)?;
            for (buf, len) in self.bufs.iter().zip(lens) {
                for msg in messages(&buf[..len]) {
                    let msg = msg?;
                    if Some(msg.header.seq) == begin_seq {
                        // Only a refusal of the whole transaction answers BEGIN.
                        if let Some(Answer::Error { errno, ext_ack }) =
                            Exchange::new(msg.header.seq, NO_DATA).feed_message(&msg)?
                        {
                            return Err(match errno {
                                libc::EPERM => ProbeError::PermissionDenied { cap: "CAP_NET_ADMIN" },
                                _ => ProbeError::Os {
                                    op: "NFNL_MSG_BATCH_BEGIN",
                                    errno: Errno(errno),
                                    ext_ack: ext_ack.message,
                                },
                            });
                        }
                        continue;
                    }
                    // Sequence numbers outside this batch are stale answers
                    // to an earlier request that timed out.
                    let i = msg.header.seq.wrapping_sub(base) as usize;
                    if i >= count || answers[i].is_some() {
                        continue;
                    }
                    if let Some(answer) = exchanges[i].feed_message(&msg)? {
                        if matches!(answer, Answer::Error { errno: libc::EPERM, .. }) {
                            return Err(ProbeError::PermissionDenied { cap: "CAP_NET_ADMIN" });
                        }
                        answers[i] = Some(answer);
                        pending -= 1;
                    }
                }
            }
        }
        answers
            .into_iter()
            .map(|a| {
                a.ok_or(ProbeError::Wire(super::wire::WireError::Mismatch("a request was never answered")))
            })
            .collect()
    }

    /// Sends the dump request `build(seq)` (`NLM_F_DUMP`) and hands every
    /// message of the multipart answer to `each`, as it arrives, until
    /// `NLMSG_DONE`: nothing is buffered beyond one receive. An
    /// `NLMSG_ERROR` ends the dump with that errno. Returns whether the
    /// kernel flagged the dump inconsistent (`NLM_F_DUMP_INTR`: the ruleset
    /// changed while it was read); the caller starts over.
    pub fn dump(
        &mut self,
        build: impl FnOnce(u32) -> Vec<u8>,
        op: &'static str,
        mut each: impl FnMut(&super::wire::RawMessage<'_>) -> Result<(), ProbeError>,
    ) -> Result<bool, ProbeError> {
        if self.deadline.expired() {
            return Err(self.timeout());
        }
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let request = build(seq);
        crate::system::errno::retry(|| self.sock.send(&request, Msg::empty()))
            .map_err(|e| os_error("send(NETLINK_NETFILTER)", &e))?;
        let mut bufs = vec![[0u8; DUMP_BUFFER]; 2];
        let mut interrupted = false;
        loop {
            let lens = receive(&self.sock, &self.deadline, &mut bufs)?;
            for (buf, len) in bufs.iter().zip(lens) {
                for msg in messages(&buf[..len]) {
                    let msg = msg?;
                    if msg.header.seq != seq {
                        continue; // a stale answer to an earlier request
                    }
                    interrupted |= msg.header.flags & super::consts::NLM_F_DUMP_INTR != 0;
                    match msg.header.ty {
                        super::consts::NLMSG_DONE => return Ok(interrupted),
                        super::consts::NLMSG_NOOP => {}
                        super::consts::NLMSG_ERROR => {
                            let err = super::wire::NlmsgErr::parse(msg.payload, msg.header.flags)?;
                            return Err(match err.error {
                                0 => {
                                    ProbeError::Wire(super::wire::WireError::Mismatch("an ACK ended a dump"))
                                }
                                e if e.saturating_neg() == libc::EPERM => {
                                    ProbeError::PermissionDenied { cap: "CAP_NET_ADMIN" }
                                }
                                e => ProbeError::Os {
                                    op,
                                    errno: Errno(e.saturating_neg()),
                                    ext_ack: err.ext_ack.message,
                                },
                            });
                        }
                        _ => each(&msg)?,
                    }
                }
            }
        }
    }

    fn timeout(&self) -> ProbeError {
        timed_out(&self.deadline)
    }
}

/// The deadline passed, with what was under way.
fn timed_out(deadline: &Deadline) -> ProbeError {
    ProbeError::timeout(deadline, deadline.pending())
}

/// One receive of up to `bufs.len()` datagrams within the deadline: each
/// wait gets only what is left of it, so waits never add up past it; a
/// signal restarts the wait.
fn receive<const N: usize>(
    sock: &NlSocket,
    deadline: &Deadline,
    bufs: &mut [[u8; N]],
) -> Result<Vec<usize>, ProbeError> {
    loop {
        let left = deadline.remaining();
        if left.is_zero() {
            return Err(timed_out(deadline));
        }
        sys::set_receive_timeout(sock, left.max(Duration::from_millis(1)))
            .map_err(|e| os_error("setsockopt(SO_RCVTIMEO)", &e))?;
        match sys::recv_many(sock, bufs) {
            Ok(lens) => return Ok(lens),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Err(timed_out(deadline)),
            Err(e) => return Err(os_error("recvmmsg(NETLINK_NETFILTER)", &e)),
        }
    }
}

fn os_error(op: &'static str, e: &io::Error) -> ProbeError {
    ProbeError::Os { op, errno: Errno::of(e), ext_ack: None }
}
