//! A kernel .config (text).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let c = xtprobe::kconfig::KernelConfig::parse(std::path::Path::new(".config"), &text);
    let _ = c.best_of(&["CONFIG_NETFILTER_XT_MATCH_COMMENT", "CONFIG_NFT_COMPAT"]);
});
