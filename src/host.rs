//! Where xtprobe reads the running system: `/proc` and `/sys`, rooted at a
//! directory so tests can point them at fixtures. Reading only; nothing
//! here changes the system.

use std::path::{Path, PathBuf};

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
        read_small(&self.proc.join(rel))
    }

    /// Reads a small file under `/sys`, trimmed; `None` if absent or unreadable.
    pub fn sys_file(&self, rel: &str) -> Option<String> {
        read_small(&self.sys.join(rel))
    }
}

/// Reads at most 64 KiB of a text file, trimmed.
pub fn read_small(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut s = String::new();
    std::fs::File::open(path).ok()?.take(64 << 10).read_to_string(&mut s).ok()?;
    Some(s.trim().to_string())
}
