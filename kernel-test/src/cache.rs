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

/// Prints a progress line to stderr.
pub fn progress(msg: &str) {
    eprintln!("kernel-test: {msg}");
}
