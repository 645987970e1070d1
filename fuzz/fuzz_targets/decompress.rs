//! The xz / zstd / gzip front-end: compression told by magic, decoded with
//! a cap (as for modules and /proc/config.gz).
#![no_main]
use libfuzzer_sys::fuzz_target;
use xtprobe::compress::{Compression, decompress};

fuzz_target!(|data: &[u8]| {
    let kind = Compression::from_magic(data);
    let _ = decompress(kind, data, 16 << 20);
});
