//! modules.alias text, and its patterns matched against the input's own
//! last line (fnmatch on hostile patterns).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(aliases) = xtprobe::kmod::index::parse_alias(std::path::Path::new("modules.alias"), &text) {
        let probe = text.lines().last().unwrap_or("");
        for (pattern, _) in aliases.iter().take(64) {
            let _ = xtprobe::kmod::glob::matches(pattern, probe);
        }
    }
});
