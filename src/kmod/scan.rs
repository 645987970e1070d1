//! Reading the `.modinfo` of many modules at once, on all cores: what a
//! lookup without modules.alias and `xtprobe index` both need.
//!
//! Each module is read through the modules directory's descriptor and,
//! where the end of its `.modinfo` strings can be told, only that far
//! ([`super::modinfo::scan_prefix`]: on Debian's trees a fifth of each
//! image); otherwise in full. Files are opened and closed one at a time,
//! so a tree of thousands never holds thousands of descriptors.
//!
//! Memory stays bounded whatever the files: each is streamed (never held
//! whole), an image is scanned or decompressed only up to
//! [`MAX_SCAN_IMAGE`] (Debian's largest module, amdgpu, is 29 MB), and at
//! most [`MAX_WORKERS`] run at once: a tree of decompression bombs costs at
//! most `MAX_WORKERS × MAX_SCAN_IMAGE`, each bomb a warning.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::file::{FileError, ModuleFile};
use super::modinfo::{self, ModInfo};
use super::name::ModuleName;
use crate::compress;
use crate::system::fs::{Dir, FsError};

/// The most decompressed bytes a scan reads of one module.
pub const MAX_SCAN_IMAGE: u64 = 64 << 20;
/// The most modules scanned at once.
pub const MAX_WORKERS: usize = 4;

/// The `.modinfo` of every module, in the order given.
pub fn modinfos(dir: &Dir, modules: &[(ModuleName, PathBuf)]) -> Vec<Result<ModInfo, FileError>> {
    let read = |name: &ModuleName, rel: &std::path::Path| -> Result<ModInfo, FileError> {
        let file = ModuleFile::open(dir, rel)?;
        if let Ok(image) = compress::reader(file.compression()?, file.stream()) {
            if let Some(info) = modinfo::scan_prefix(image, name, MAX_SCAN_IMAGE as usize) {
                return Ok(info);
            }
        }
        file.modinfo_within(MAX_SCAN_IMAGE)
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, MAX_WORKERS);
    let next = AtomicUsize::new(0);
    let mut out: Vec<Option<Result<ModInfo, FileError>>> = (0..modules.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some((name, rel)) = modules.get(i) else { break };
                        mine.push((i, read(name, rel)));
                    }
                    mine
                })
            })
            .collect();
        for w in workers {
            for (i, r) in w.join().unwrap_or_default() {
                out[i] = Some(r);
            }
        }
    });
    out.into_iter().map(|r| r.unwrap_or(Err(FileError::Fs(not_read())))).collect()
}

fn not_read() -> FsError {
    FsError::Io { path: PathBuf::new(), op: "read", errno: crate::system::Errno(libc::EIO) }
}

/// Whether a file error means the process ran out of something (file
/// descriptors, memory), which no module can be blamed for.
pub fn exhausted(e: &FileError) -> bool {
    matches!(e, FileError::Fs(FsError::Io { errno, .. })
        if matches!(errno.0, libc::EMFILE | libc::ENFILE | libc::ENOMEM))
}
