//! A custom requirement profile (TOML).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Rules in a profile are read for either client.
    let _ = xtprobe::profile::parse(data, "fuzz.toml", "fuzz", xtprobe::probe::Backend::Nft);
    let _ = xtprobe::profile::parse(data, "fuzz.toml", "fuzz", xtprobe::probe::Backend::Legacy);
});
