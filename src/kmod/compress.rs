//! Module compression, detected by magic bytes (never by file name, as
//! libkmod does in libkmod-file.c), and bounded userspace decompression.
//!
//! kbuild compresses with `xz --check=crc32 --lzma2=dict=1MiB`, `zstd` or
//! `gzip`; repackagers sometimes use xz's default CRC64 check. All three are
//! decoded in pure Rust, with the output capped so a hostile or corrupt file
//! cannot exhaust memory.

use std::io::{self, Read, Write};

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
    let corrupt = |format: &'static str| {
        move |e: &dyn std::fmt::Display| DecompressError::Corrupt { format, detail: e.to_string() }
    };
    match kind {
        Compression::None => Ok(data.to_vec()),
        Compression::Xz => {
            let mut out = Capped { buf: Vec::new(), limit, exceeded: false };
            let mut input = io::BufReader::new(data);
            match lzma_rs::xz_decompress(&mut input, &mut out) {
                Ok(()) => Ok(out.buf),
                Err(_) if out.exceeded => Err(DecompressError::TooLarge { limit }),
                Err(e) => Err(corrupt("xz")(&e)),
            }
        }
        Compression::Zstd => {
            let decoder = ruzstd::decoding::StreamingDecoder::new(data).map_err(|e| corrupt("zstd")(&e))?;
            read_capped(decoder, limit).map_err(|e| match e {
                CappedRead::TooLarge => DecompressError::TooLarge { limit },
                CappedRead::Io(e) => corrupt("zstd")(&e),
            })
        }
        Compression::Gzip => {
            let decoder = flate2::read::GzDecoder::new(data);
            read_capped(decoder, limit).map_err(|e| match e {
                CappedRead::TooLarge => DecompressError::TooLarge { limit },
                CappedRead::Io(e) => corrupt("gzip")(&e),
            })
        }
    }
}

/// A writer that refuses to grow past `limit`.
struct Capped {
    buf: Vec<u8>,
    limit: u64,
    exceeded: bool,
}

impl Write for Capped {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buf.len() as u64 + data.len() as u64 > self.limit {
            self.exceeded = true;
            return Err(io::Error::other("decompressed size limit exceeded"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
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
