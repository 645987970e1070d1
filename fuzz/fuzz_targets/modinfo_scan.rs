//! The `.modinfo` prefix scan over a (decompressed) module image: how the
//! alias scan and `index` read thousands of modules without parsing each
//! ELF file in full.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let name = xtprobe::kmod::ModuleName::new("xt_comment");
    let _ = xtprobe::kmod::modinfo::scan_prefix(data, &name, 1 << 20);
});
