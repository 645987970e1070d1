//! A datagram from the kernel, as the probe reads it: split into messages,
//! matched to a request, and every reply payload decoded (compat GET,
//! NEWGEN, NLMSG_ERROR with extended ACK, the ACKs of an nf_tables
//! validate-only batch).
#![no_main]
use libfuzzer_sys::fuzz_target;
use xtprobe::probe::xt::compat::{COMPAT_GET, CompatInfo};
use xtprobe::probe::exchange::{Answer, Exchange};
use xtprobe::probe::generation::{NEWGEN, parse_newgen};
use xtprobe::probe::wire::{NlmsgErr, messages};

fuzz_target!(|data: &[u8]| {
    // u16::MAX: a message with no data reply (an nf_tables NEW message).
    for reply_type in [COMPAT_GET, NEWGEN, u16::MAX] {
        let mut ex = Exchange::new(1, reply_type);
        if let Ok(Some(Answer::Data(payload))) = ex.feed(data) {
            let _ = CompatInfo::parse(&payload);
            let _ = parse_newgen(&payload);
        }
    }
    for msg in messages(data).flatten() {
        let _ = NlmsgErr::parse(msg.payload, msg.header.flags);
        let _ = CompatInfo::parse(msg.payload);
        let _ = parse_newgen(msg.payload);
    }
});
