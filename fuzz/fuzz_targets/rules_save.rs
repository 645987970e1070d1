//! A saved ruleset in iptables-save / iptables-restore format (`--rules`).
#![no_main]
use libfuzzer_sys::fuzz_target;
use xtprobe::probe::Family;
use xtprobe::ruleset::save;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let family = save::family_of(text, Family::Ipv4);
        if let Ok(t) = save::parse(text, "fuzz.rules", family) {
            let _ = t.entries();
        }
    }
});
