//! A custom requirement profile (TOML).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = xtprobe::profile::parse(data, "fuzz.toml", "fuzz");
});
