//! A datagram from the kernel's ipset subsystem, as the ipset prober reads
//! it: matched to a request, and the protocol, type and list replies decoded.
#![no_main]
use libfuzzer_sys::fuzz_target;
use xtprobe::probe::exchange::{Answer, Exchange};
use xtprobe::probe::ipset::msg::{PROTOCOL, Protocol, SetHeader, TYPE, TypeInfo, TypeQuery};
use xtprobe::probe::wire::messages;

fuzz_target!(|data: &[u8]| {
    let query = TypeQuery { name: "hash:ip,port", family: 2, protocol: 7 };
    for reply_type in [PROTOCOL, TYPE] {
        let mut ex = Exchange::new(1, reply_type);
        if let Ok(Some(answer)) = ex.feed(data) {
            if let Answer::Data(payload) = &answer {
                let _ = Protocol::parse(payload);
                let _ = TypeInfo::parse(payload, &query);
            }
            let _ = xtprobe::probe::ipset::interpret(answer, &query);
        }
    }
    for msg in messages(data).flatten() {
        let _ = SetHeader::parse(msg.payload);
        let _ = Protocol::parse(msg.payload);
        let _ = TypeInfo::parse(msg.payload, &query);
    }
});
