//! The cache outside the repository where fetched and built kernels live
//! between runs (CI on the same machine reuses it): `$XTPROBE_CACHE`, else
//! `$XDG_CACHE_HOME/xtprobe`, else `~/.cache/xtprobe`.
//!
//! Entries are made in a temporary directory next to their final place and
//! renamed into it when complete, so an interrupted run never leaves a
//! half-built entry that a later run would trust.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The cache root.
pub fn root() -> PathBuf {
    if let Some(d) = std::env::var_os("XTPROBE_CACHE") {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(d).join("xtprobe");
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/root"));
    home.join(".cache/xtprobe")
}

/// An error with a sentence for the user.
pub type Result<T> = std::result::Result<T, String>;

/// Creates `dest` by running `fill` on a fresh temporary directory and
/// renaming it into place. Does nothing if `dest` exists.
pub fn build_atomically(dest: &Path, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    if dest.exists() {
        return Ok(());
    }
    let parent = dest.parent().ok_or("cache entry without parent")?;
    std::fs::create_dir_all(parent).map_err(|e| format!("creating {}: {e}", parent.display()))?;
    let tmp = parent.join(format!(
        ".{}.tmp.{}",
        dest.file_name().and_then(|n| n.to_str()).unwrap_or("entry"),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| format!("creating {}: {e}", tmp.display()))?;
    match fill(&tmp) {
        Ok(()) => std::fs::rename(&tmp, dest).map_err(|e| format!("renaming into {}: {e}", dest.display())),
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            Err(e)
        }
    }
}

/// Runs a host command (build tools: make, tar, apt-get, dpkg, depmod),
/// failing with its output when it fails.
pub fn run(cmd: &mut Command) -> Result<String> {
    let start = Instant::now();
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if !out.status.success() {
        let tail = |b: &[u8]| {
            let s = String::from_utf8_lossy(b);
            let lines: Vec<&str> = s.lines().collect();
            lines[lines.len().saturating_sub(30)..].join("\n")
        };
        return Err(format!(
            "{cmd:?} failed ({}) after {:.1}s:\n{}\n{}",
            out.status,
            start.elapsed().as_secs_f64(),
            tail(&out.stdout),
            tail(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// An exclusive lock on the cache, held while kernels are built or fetched:
/// two harness runs on one machine never build into the same directory at
/// once (the second waits). Released when dropped.
pub struct Lock(#[allow(dead_code)] std::fs::File);

/// Takes the cache lock, waiting for another run to release it.
pub fn lock() -> Result<Lock> {
    use std::os::fd::AsRawFd;
    let dir = root();
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join(".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    // SAFETY: flock on an open descriptor.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        progress("waiting for another kernel-test run to finish building kernels");
        // SAFETY: as above.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(format!("{}: {}", path.display(), std::io::Error::last_os_error()));
        }
    }
    Ok(Lock(file))
}

/// The bytes a directory tree takes (files' sizes; hard links counted once).
pub fn size_of(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut seen = std::collections::HashSet::new();
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let Ok(m) = e.path().symlink_metadata() else { continue };
            if m.is_dir() {
                stack.push(e.path());
            } else if seen.insert((m.dev(), m.ino())) {
                total += m.len();
            }
        }
    }
    total
}

/// Prints a progress line to stderr.
pub fn progress(msg: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "kernel-test: {msg}");
}
