//! A saved ruleset in iptables-save / iptables-restore format (`--rules`).
#![no_main]
use libfuzzer_sys::fuzz_target;
use xtprobe::probe::Family;
use xtprobe::ruleset::restore::{self, Defaults};
use xtprobe::ruleset::save::SavedBackend;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        // The first byte picks the client the file is read for.
        let backend = if data.first().is_some_and(|b| b & 1 == 1) { SavedBackend::Legacy } else { SavedBackend::Nft };
        let defaults = Defaults { family: Family::Ipv4, backend, force: data.first().is_some_and(|b| b & 2 == 2) };
        if let Ok(t) = restore::read(text, "fuzz.rules", defaults) {
            let _ = t.entries();
            let _ = t.lines.sets();
        }
    }
});
