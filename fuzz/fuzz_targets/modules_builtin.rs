//! modules.builtin (text) and modules.builtin.modinfo (NUL-separated records).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = xtprobe::kmod::index::parse_builtin(&text).count();
    let _ = xtprobe::kmod::index::parse_builtin_modinfo(data);
});
