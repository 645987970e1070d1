//! Where xtprobe reads the running system: `/proc` and `/sys`, rooted at a
//! directory so tests can point them at fixtures. Reading only; nothing
//! here changes the system. Every file is read through [`super::fs`]:
//! beneath its root, regular files only, capped.

use std::path::{Path, PathBuf};

use super::fs::{Dir, FileKind, Scope};

/// The most any `/proc` or `/sys` file xtprobe reads may hold.
pub const MAX_PSEUDO_FILE: u64 = 64 << 10;

/// The `/proc` and `/sys` to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// Usually `/proc`.
    pub proc: PathBuf,
    /// Usually `/sys`.
    pub sys: PathBuf,
}

impl Default for Host {
    fn default() -> Self {
        Self::system()
    }
}

impl Host {
    /// The running system.
    pub fn system() -> Self {
        Self { proc: PathBuf::from("/proc"), sys: PathBuf::from("/sys") }
    }

    /// A fixture tree holding `proc/` and `sys/`.
    pub fn rooted(root: &Path) -> Self {
        Self { proc: root.join("proc"), sys: root.join("sys") }
    }

    /// Reads a small file under `/proc`, trimmed; `None` if absent or unreadable.
    pub fn proc_file(&self, rel: &str) -> Option<String> {
        read_small(&self.proc, rel)
    }

    /// Hands each line of a `/proc` file to `each` as it is read (see
    /// [`super::fs::scan_lines`]), up to `limit` bytes.
    pub fn proc_scan(
        &self,
        rel: &str,
        limit: u64,
        each: impl FnMut(&[u8]) -> bool,
    ) -> Result<(), super::fs::FsError> {
        let dir = Dir::open(&self.proc)?;
        let file = dir.open_file(Path::new(rel))?;
        super::fs::scan_lines(&file, limit, &dir.shown(Path::new(rel)), "a /proc file", each)
    }

    /// Reads a small file under `/sys`, trimmed; `None` if absent or unreadable.
    pub fn sys_file(&self, rel: &str) -> Option<String> {
        read_small(&self.sys, rel)
    }

    /// Whether `rel` exists under `/proc` (as anything).
    pub fn proc_exists(&self, rel: &str) -> bool {
        exists(&self.proc, rel)
    }

    /// Whether `rel` exists under `/sys` (as anything).
    pub fn sys_exists(&self, rel: &str) -> bool {
        exists(&self.sys, rel)
    }

    /// Whether `/proc` is mounted here at all (early initramfs may not have
    /// mounted it): `/proc/self` is there on every procfs.
    pub fn proc_mounted(&self) -> bool {
        Dir::open(&self.proc).is_ok_and(|d| d.kind_of(Path::new("self/stat"), Scope::Beneath).is_some())
    }
}

fn read_small(root: &Path, rel: &str) -> Option<String> {
    let bytes = Dir::open(root).ok()?.read(Path::new(rel), MAX_PSEUDO_FILE, "a /proc or /sys file").ok()?;
    Some(String::from_utf8_lossy(&bytes).trim().to_string())
}

fn exists(root: &Path, rel: &str) -> bool {
    Dir::open(root).is_ok_and(|d| d.kind_of(Path::new(rel), Scope::Beneath).is_some())
}

/// Whether `rel` under `root` is a directory.
pub fn is_dir(root: &Path, rel: &str) -> bool {
    Dir::open(root).is_ok_and(|d| {
        d.kind_of(Path::new(rel), Scope::Beneath).is_some_and(|(k, _)| k == FileKind::Directory)
    })
}

/// The kernel release this process runs on (`uname -r`).
pub fn kernel_release() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_else(|_| "unknown".to_string())
}
