//! A (decompressed) module image: the ELF container and its .modinfo.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = xtprobe::kmod::modinfo::ModInfo::from_elf(data);
    let _ = xtprobe::kmod::modinfo::ModInfo::parse(data);
});
