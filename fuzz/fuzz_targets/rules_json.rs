//! A saved ruleset as `nft -j list ruleset` JSON (`--rules`).
#![no_main]
use libfuzzer_sys::fuzz_target;
use xtprobe::ruleset::nft_json;

fuzz_target!(|data: &[u8]| {
    if let Ok(t) = nft_json::parse(data, "fuzz.json") {
        let _ = t.entries();
    }
});
