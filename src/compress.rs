//! Module compression, detected by magic bytes (never by file name, as
//! libkmod does in libkmod-file.c), and bounded userspace decompression.
//!
//! kbuild compresses with `xz --check=crc32 --lzma2=dict=1MiB`, `zstd` or
//! `gzip`; repackagers sometimes use xz's default CRC64 check. All three are
//! decoded in pure Rust, with the output capped so a hostile or corrupt file
//! cannot exhaust memory.

use std::io::{self, Read};

use serde::Serialize;

/// Largest module file read into memory (the biggest in-tree modules are
/// tens of MiB uncompressed).
pub const MAX_FILE_BYTES: u64 = 128 << 20;
/// Largest decompressed module accepted.
pub const MAX_IMAGE_BYTES: u64 = 256 << 20;

/// How a module file is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// A plain ELF file.
    None,
    /// xz (`FD 37 7A 58 5A 00`).
    Xz,
    /// zstd (`28 B5 2F FD`).
    Zstd,
    /// gzip (`1F 8B`).
    Gzip,
}

impl Compression {
    /// Detects the format from the first bytes of a file.
    pub fn from_magic(head: &[u8]) -> Self {
        if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            Compression::Xz
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else {
            Compression::None
        }
    }

    /// The name `/sys/module/compression` uses (`xz`, `zstd`, `gzip`).
    pub fn sysfs_name(self) -> Option<&'static str> {
        match self {
            Compression::None => None,
            Compression::Xz => Some("xz"),
            Compression::Zstd => Some("zstd"),
            Compression::Gzip => Some("gzip"),
        }
    }

    /// Parses the contents of `/sys/module/compression`.
    pub fn from_sysfs(s: &str) -> Option<Self> {
        match s.trim() {
            "xz" => Some(Compression::Xz),
            "zstd" => Some(Compression::Zstd),
            "gzip" => Some(Compression::Gzip),
            _ => None,
        }
    }
}

/// Why compressed data could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecompressError {
    /// The data is not valid for its format (bad header, bad check, cut short).
    #[error("corrupt {format} data: {detail}")]
    Corrupt {
        /// `xz`, `zstd` or `gzip`.
        format: &'static str,
        /// The decoder's explanation.
        detail: String,
    },
    /// The output would exceed the limit the caller set.
    #[error("decompresses to more than {}, the limit for it; refusing to go on", crate::system::fs::human(*.limit))]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
}

/// Decompresses `data` (detected as `kind`), producing at most `limit` bytes.
pub fn decompress(kind: Compression, data: &[u8], limit: u64) -> Result<Vec<u8>, DecompressError> {
    if kind == Compression::None {
        return Ok(data.to_vec());
    }
    let name = kind.sysfs_name().unwrap_or("data");
    let reader = reader(kind, data)?;
    read_capped(reader, limit).map_err(|e| match e {
        CappedRead::TooLarge => DecompressError::TooLarge { limit },
        CappedRead::Io(e) => DecompressError::Corrupt { format: name, detail: e.to_string() },
    })
}

/// The xz decoder's memory limit (dictionary and state), in KiB: kbuild
/// compresses with a 1 MiB dictionary; 64 MiB leaves room for any sane
/// re-packer and none for a header that claims gigabytes.
const XZ_MEMORY_KIB: u32 = 64 << 10;

/// A reader of the decompressed bytes of `data`, for callers that stop
/// early (the `.modinfo` scan reads a module only up to its strings).
pub fn reader<'a>(kind: Compression, data: impl Read + 'a) -> Result<Box<dyn Read + 'a>, DecompressError> {
    let corrupt = |format: &'static str, e: &dyn std::fmt::Display| DecompressError::Corrupt {
        format,
        detail: e.to_string(),
    };
    Ok(match kind {
        Compression::None => Box::new(data),
        Compression::Xz => Box::new(lzma_rust2::XzReader::new_mem_limit(data, false, XZ_MEMORY_KIB)),
        Compression::Zstd => {
            Box::new(ruzstd::decoding::StreamingDecoder::new(data).map_err(|e| corrupt("zstd", &e))?)
        }
        Compression::Gzip => Box::new(flate2::read::GzDecoder::new(data)),
    })
}

enum CappedRead {
    TooLarge,
    Io(io::Error),
}

fn read_capped(reader: impl Read, limit: u64) -> Result<Vec<u8>, CappedRead> {
    let mut out = Vec::new();
    reader.take(limit + 1).read_to_end(&mut out).map_err(CappedRead::Io)?;
    if out.len() as u64 > limit {
        return Err(CappedRead::TooLarge);
    }
    if out.is_empty() {
        return Err(CappedRead::Io(io::Error::new(io::ErrorKind::UnexpectedEof, "no data")));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn magic_not_extension() {
        assert_eq!(Compression::from_magic(&[0xfd, b'7', b'z', b'X', b'Z', 0, 1]), Compression::Xz);
        assert_eq!(Compression::from_magic(&[0x28, 0xb5, 0x2f, 0xfd, 0]), Compression::Zstd);
        assert_eq!(Compression::from_magic(&[0x1f, 0x8b, 8]), Compression::Gzip);
        assert_eq!(Compression::from_magic(b"\x7fELF\x02"), Compression::None);
        assert_eq!(Compression::from_magic(&[]), Compression::None);
        assert_eq!(Compression::from_sysfs("xz\n"), Some(Compression::Xz));
        assert_eq!(Compression::from_sysfs("zstd\n"), Some(Compression::Zstd));
        assert_eq!(Compression::from_sysfs(""), None);
    }

    #[test]
    fn gzip_round_trip_and_cap() {
        let data = vec![7u8; 10_000];
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&data).unwrap();
        let gz = enc.finish().unwrap();
        assert_eq!(decompress(Compression::Gzip, &gz, 1 << 20).unwrap(), data);
        assert!(matches!(
            decompress(Compression::Gzip, &gz, 100),
            Err(DecompressError::TooLarge { limit: 100 })
        ));
        assert!(matches!(
            decompress(Compression::Gzip, &gz[..gz.len() / 2], 1 << 20),
            Err(DecompressError::Corrupt { .. })
        ));
    }

    /// Found by `cargo fuzz run decompress` (lzma-rs 0.3 overflowed adding
    /// 1 to an xz footer's backward size of u32::MAX): an error, no panic.
    #[test]
    fn fuzz_regression_xz_footer_backward_size_overflow() {
        let hex = concat!(
            "fd377a585a0000016922de360200210116000000742fe5a3e0143f04055d003f914584683d89a6da9ca6ac2e2bcbca3b",
            "3934b57464510c35ffdfc7f511c28df160551ea45fbdf99d106c26a956a8a21c52327160c85e7099bd39cefdb1f3b292",
            "309e7afc0e5bff61954747d6de9adace239a1cb15dfdc6735af12aa9934ac87a61eae4b9cd9b38896359f9a55c9f801e",
            "d63024cacb3623e55a740b2ef1375e18979b0e5dc67604b1fc67dee054cf32e436092c113c8eae663626ed3d2e531711",
            "5978189231108b30c7316d9a069464e5489fecd00944b328ba528b174293e0316faee0dc2941ce26a4862c460255b0e4",
            "e7e996995417ddf5f96d423abbe5c025a035d8449d5ff932c2f479e490cf892484697f9373680e0bc1ee72c0c9a0f8ff",
            "c0d2814ae7c285b9575cb598e3f1f9e3f32b12d5e553b67efef86a1bdb71a60da05a687eccfa02ba5e80e9ab4e62923f",
            "68a486eaa8478a6a6f8bdda1c4f12e229ada50a9f0afa1ac4b9939a8a9a8da8e3c400492e2cd1df5e7f3731dae656b98",
            "150161beef4476779a01c7b942cd55f388d098ff40654f98095bb3374f0979f5f119ed4f4fe0b7fec5958f1bddd16a63",
            "c2cb33ecd4571d3adcfcbe0754249f7680668bc255f2c8ab805d9a7c224fd7707d4522588c59538bacf7d27c36bb03c7",
            "75b28339df10cbebd3f1d5aa628a50524c0faa9a99725b50d351c51aa35a778ab0d5131554f82157560b1b3eece09085",
            "f3d850aa7432d7715b077b4cbcf029aca98685bf378fb2284b9162673e7686a1a09698808babb84cfbab641e367fa041",
            "f4ba2c961a09b825a641923547940884e2728c4cf7d6720ac993c01577422b314853c2f32c5f69b8f49e570aa656cbff",
            "56b0c9875587732d0175737cb56dfd0bf031accc03a4ded1d382b1fd0ead602a8a6adf5e8b0e1dc7c6411593c94a8787",
            "e63f48008e97084c75964264a22305742ff6a3abef0bba0236da43e9426f2a997a5d2242f225d2674b5dcfb377257acf",
            "e6deebfd0413f3f3efc1738d0c6d925694f0bfa4d98063579df87ec7dd26d2813e7950d2cb63be32c60927f3056fb8ef",
            "62bd6167657a28cbdd9ab9599ea3748450ff0c220c18fe1844c943e9e8c31a4b44f1ab2cf5817011f5270f45a156e02a",
            "28356c6742a9b5015a3c70d2e3f7573ca48a30f91ebdf95bcfe9dcc3e7b938053775f68486154a6f8056a6a3340d14ba",
            "a24017c73fd146d3252c64429e5d7d4efb805f8bc0bce9a2f96e2ab75b864f3ecbd1b3bea6c69dfbb2cf103fa066ce38",
            "d58dd71650e588172b257f4530b5c43241e14001d7eedc87488838a3828aa62ddda1a63506f69125aa3a38cc6b1bd606",
            "ee3ee94857595485c8b5be0456bd2134201d6a4cd719044f7758a1c49c73f30466fa6da68447bfef29ea3bc10c1681e9",
            "9b7d5c2ef4aa0d3bc6d996b4f6f49cdfa20737862536152f8d957364e2606e099050079c6e4630985879d39388d7e19f",
            "9ae7108600000000013f57bc00019d08c0280000df63ce12ffffffffffffffffffffffffffffffffffffffffffffffff",
            "ffffffffffffffffffff3e300d8b020000000001595a",
        );
        let data: Vec<u8> =
            (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
        assert_eq!(Compression::from_magic(&data), Compression::Xz);
        assert!(decompress(Compression::Xz, &data, 16 << 20).is_err());
    }

    #[test]
    fn xz_garbage_is_corrupt_not_a_panic() {
        let mut bad = vec![0xfd, b'7', b'z', b'X', b'Z', 0];
        bad.extend_from_slice(&[0xff; 64]);
        assert!(matches!(
            decompress(Compression::Xz, &bad, 1 << 20),
            Err(DecompressError::Corrupt { format: "xz", .. })
        ));
        let mut bad = vec![0x28, 0xb5, 0x2f, 0xfd];
        bad.extend_from_slice(&[0xff; 64]);
        assert!(matches!(
            decompress(Compression::Zstd, &bad, 1 << 20),
            Err(DecompressError::Corrupt { format: "zstd", .. })
        ));
    }
}

/// Corrupt input must give an error, never a panic: every decoder, and the
/// `.modinfo` reader behind it, fed systematically damaged copies of valid
/// data (a deterministic generator, so a failure reproduces).
#[cfg(test)]
mod robustness {
    use super::*;
    use std::io::Write;

    /// xorshift64*: deterministic, no dependency.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
    }

    fn module_image() -> Vec<u8> {
        use object::write::Object;
        let mut obj =
            Object::new(object::BinaryFormat::Elf, object::Architecture::X86_64, object::Endianness::Little);
        let id = obj.add_section(Vec::new(), b".modinfo".to_vec(), object::SectionKind::ReadOnlyData);
        obj.append_section_data(id, b"depends=x_tables\0alias=ipt_comment\0name=xt_comment\0", 1);
        let text = obj.add_section(Vec::new(), b".text".to_vec(), object::SectionKind::Text);
        obj.append_section_data(text, &[0x90; 300], 1);
        obj.write().unwrap()
    }

    fn encodings(image: &[u8]) -> Vec<(Compression, Vec<u8>)> {
        let mut xz = Vec::new();
        lzma_rs::xz_compress(&mut io::Cursor::new(image), &mut xz).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(image).unwrap();
        let zst = ruzstd::encoding::compress_to_vec(
            io::Cursor::new(image),
            ruzstd::encoding::CompressionLevel::Fastest,
        );
        vec![(Compression::Xz, xz), (Compression::Gzip, gz.finish().unwrap()), (Compression::Zstd, zst)]
    }

    #[test]
    fn damaged_inputs_are_errors_not_panics() {
        let image = module_image();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for (kind, data) in encodings(&image) {
            assert_eq!(decompress(kind, &data, 1 << 20).unwrap(), image, "{kind:?} round trip");
            for round in 0..1500 {
                let mut d = data.clone();
                match round % 3 {
                    // flip a few bytes anywhere
                    0 => {
                        for _ in 0..1 + rng.next() % 4 {
                            let i = (rng.next() as usize) % d.len();
                            d[i] ^= 1 << (rng.next() % 8);
                        }
                    }
                    // cut it short
                    1 => d.truncate((rng.next() as usize) % d.len()),
                    // overwrite a run with random bytes
                    _ => {
                        let at = (rng.next() as usize) % d.len();
                        for x in d.iter_mut().skip(at).take(16) {
                            *x = rng.next() as u8;
                        }
                    }
                }
                if let Ok(out) = decompress(kind, &d, 1 << 20) {
                    // Whatever decoded must not crash the ELF reader either.
                    let _ = crate::kmod::modinfo::ModInfo::from_elf(&out);
                }
            }
        }
        // The ELF reader on damaged plain images.
        for _ in 0..3000 {
            let mut d = image.clone();
            let i = (rng.next() as usize) % d.len();
            d[i] = rng.next() as u8;
            d.truncate(d.len() - (rng.next() as usize) % 64);
            let _ = crate::kmod::modinfo::ModInfo::from_elf(&d);
        }
    }
}
