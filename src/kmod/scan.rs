//! Reading the `.modinfo` of many modules at once, on all cores: what a
//! lookup without modules.alias and `xtprobe index` both need.
//!
//! Each module is read through the modules directory's descriptor and,
//! where the end of its `.modinfo` strings can be told, only that far
//! ([`super::modinfo::scan_prefix`]: on Debian's trees a fifth of each
//! image); otherwise in full. Files are opened and closed one at a time,
//! so a tree of thousands never holds thousands of descriptors.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::compress::{self, Compression, MAX_IMAGE_BYTES};
use super::file::{FileError, ModuleFile};
use super::modinfo::{self, ModInfo};
use super::name::ModuleName;
use crate::system::fs::{Dir, FsError};

/// The `.modinfo` of every module, in the order given.
pub fn modinfos(dir: &Dir, modules: &[(ModuleName, PathBuf)]) -> Vec<Result<ModInfo, FileError>> {
    let read = |name: &ModuleName, rel: &std::path::Path| -> Result<ModInfo, FileError> {
        let file = ModuleFile::open(dir, rel)?;
        let data = file.bytes()?;
        if let Ok(image) = compress::reader(Compression::from_magic(&data), &data) {
            if let Some(info) = modinfo::scan_prefix(image, name, MAX_IMAGE_BYTES as usize) {
                return Ok(info);
            }
        }
        file.modinfo()
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
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
