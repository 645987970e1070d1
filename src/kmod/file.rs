//! One module file, opened once: its compression told by magic, its bytes
//! and `.modinfo` read through the same descriptor that `finit_module`
//! is later given, so what was checked is what gets loaded.

use std::fs::File;
use std::path::{Path, PathBuf};

use super::modinfo::{ModInfo, ModinfoError};
use crate::compress::{self, Compression, DecompressError, MAX_FILE_BYTES, MAX_IMAGE_BYTES};
use crate::system::fs::{self, Dir, FsError};

/// Why a module file could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    /// Opening or reading failed (missing, not a regular file, a link, too large).
    #[error(transparent)]
    Fs(#[from] FsError),
    /// Compressed data that does not decode.
    #[error("{}: {source}", crate::system::fs::shown(.path))]
    Decompress {
        /// The file.
        path: PathBuf,
        /// The decoder's error.
        source: DecompressError,
    },
    /// Not a kernel module once decompressed.
    #[error("{}: {source}", crate::system::fs::shown(.path))]
    Modinfo {
        /// The file.
        path: PathBuf,
        /// The ELF error.
        source: ModinfoError,
    },
}

/// An open module file.
#[derive(Debug)]
pub struct ModuleFile {
    /// Where it is (for messages and reports).
    pub path: PathBuf,
    file: File,
}

impl ModuleFile {
    /// Opens `rel` beneath the modules directory `dir`: a regular file, not
    /// a link, nothing outside `dir`.
    pub fn open(dir: &Dir, rel: &Path) -> Result<Self, FileError> {
        Ok(Self { path: dir.shown(rel), file: dir.open_file(rel)? })
    }

    /// The descriptor, for `finit_module`.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// The compression, from the first bytes.
    pub fn compression(&self) -> Result<Compression, FileError> {
        let mut head = [0u8; 8];
        let n = fs::read_head(&self.file, &mut head, &self.path)?;
        Ok(Compression::from_magic(&head[..n]))
    }

    /// The file as a stream from its start, read with `pread` (the
    /// descriptor's offset is left alone), capped at the file limit.
    pub fn stream(&self) -> impl std::io::Read + '_ {
        std::io::BufReader::with_capacity(
            64 << 10,
            std::io::Read::take(Pread { file: &self.file, at: 0 }, MAX_FILE_BYTES),
        )
    }

    /// The whole file (bounded).
    pub fn bytes(&self) -> Result<Vec<u8>, FileError> {
        Ok(fs::read_capped(&self.file, MAX_FILE_BYTES, &self.path, "a module file")?)
    }

    /// The file, decompressed if it is compressed: the image `init_module`
    /// takes, byte for byte what the compressor was given (signatures
    /// included).
    pub fn image(&self) -> Result<Vec<u8>, FileError> {
        self.image_within(MAX_IMAGE_BYTES)
    }

    /// [`ModuleFile::image`], failing past `limit` decompressed bytes.
    pub fn image_within(&self, limit: u64) -> Result<Vec<u8>, FileError> {
        let data = self.bytes()?;
        let kind = Compression::from_magic(&data);
        if kind == Compression::None {
            return Ok(data);
        }
        // Not an ELF file once decompressed: say so after 4 bytes, not after
        // decompressing a bomb to the limit.
        let mut head = [0u8; 4];
        let mut reader = compress::reader(kind, &data[..])
            .map_err(|source| FileError::Decompress { path: self.path.clone(), source })?;
        if std::io::Read::read_exact(&mut reader, &mut head).is_ok() && &head != b"\x7fELF" {
            return Err(FileError::Modinfo {
                path: self.path.clone(),
                source: ModinfoError::BadElf(
                    "the decompressed data does not start with the ELF magic".into(),
                ),
            });
        }
        compress::decompress(kind, &data, limit)
            .map_err(|source| FileError::Decompress { path: self.path.clone(), source })
    }

    /// The module's `.modinfo`.
    pub fn modinfo(&self) -> Result<ModInfo, FileError> {
        self.modinfo_within(MAX_IMAGE_BYTES)
    }

    /// [`ModuleFile::modinfo`] of an image of at most `limit` bytes.
    pub fn modinfo_within(&self, limit: u64) -> Result<ModInfo, FileError> {
        let image = self.image_within(limit)?;
        ModInfo::from_elf(&image).map_err(|source| FileError::Modinfo { path: self.path.clone(), source })
    }
}

/// Reads a file from an offset of its own with `pread`.
struct Pread<'a> {
    file: &'a std::fs::File,
    at: u64,
}

impl std::io::Read for Pread<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = crate::system::errno::retry(|| std::os::unix::fs::FileExt::read_at(self.file, buf, self.at))?;
        self.at += n as u64;
        Ok(n)
    }
}
