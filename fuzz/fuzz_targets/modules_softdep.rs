//! modules.softdep text.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = xtprobe::kmod::index::parse_softdeps(std::path::Path::new("modules.softdep"), &text);
});
