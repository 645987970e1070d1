//! Reading one module file: bounded, compression detected by magic, and its
//! `.modinfo` decoded on demand.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::compress::{self, Compression, DecompressError, MAX_FILE_BYTES, MAX_IMAGE_BYTES};
use super::modinfo::{ModInfo, ModinfoError};

/// Why a module file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// Opening or reading failed.
    #[error("{path}: {detail}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        detail: String,
    },
    /// Larger than any module.
    #[error("{path}: larger than {} MiB, the limit for a module file", MAX_FILE_BYTES >> 20)]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// Compressed data that does not decode.
    #[error("{path}: {source}")]
    Decompress {
        /// The file.
        path: PathBuf,
        /// The decoder's error.
        source: DecompressError,
    },
    /// Not a kernel module once decompressed.
    #[error("{path}: {source}")]
    Modinfo {
        /// The file.
        path: PathBuf,
        /// The ELF error.
        source: ModinfoError,
    },
}

/// The first bytes of a file, enough to tell its compression.
pub fn sniff(path: &Path) -> Result<Compression, FileError> {
    let mut head = [0u8; 8];
    let mut f = std::fs::File::open(path).map_err(|e| io(path, e))?;
    let n = read_up_to(&mut f, &mut head).map_err(|e| io(path, e))?;
    Ok(Compression::from_magic(&head[..n]))
}

fn read_up_to(f: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Reads the whole file (bounded).
pub fn read(path: &Path) -> Result<Vec<u8>, FileError> {
    let f = std::fs::File::open(path).map_err(|e| io(path, e))?;
    let mut data = Vec::new();
    f.take(MAX_FILE_BYTES + 1).read_to_end(&mut data).map_err(|e| io(path, e))?;
    if data.len() as u64 > MAX_FILE_BYTES {
        return Err(FileError::TooLarge { path: path.to_path_buf() });
    }
    Ok(data)
}

/// Reads and, if compressed, decompresses the file: the image
/// `init_module` takes, byte for byte what the compressor was given
/// (signatures included).
pub fn image(path: &Path) -> Result<Vec<u8>, FileError> {
    let data = read(path)?;
    let kind = Compression::from_magic(&data);
    if kind == Compression::None {
        return Ok(data);
    }
    compress::decompress(kind, &data, MAX_IMAGE_BYTES)
        .map_err(|source| FileError::Decompress { path: path.to_path_buf(), source })
}

/// The module's `.modinfo`.
pub fn modinfo(path: &Path) -> Result<ModInfo, FileError> {
    let image = image(path)?;
    ModInfo::from_elf(&image).map_err(|source| FileError::Modinfo { path: path.to_path_buf(), source })
}

fn io(path: &Path, e: std::io::Error) -> FileError {
    FileError::Io { path: path.to_path_buf(), detail: e.to_string() }
}
