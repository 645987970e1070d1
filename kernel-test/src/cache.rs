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

/// [`run`] for a long step (a cargo build, a kernel build): says what it
/// does when it starts, every 15 s how long so far, and how long it took.
pub fn run_timed(what: &str, cmd: &mut Command) -> Result<String> {
    run_reporting(what, cmd, std::time::Duration::from_secs(15), &|m| progress(&m))
}

fn run_reporting(
    what: &str,
    cmd: &mut Command,
    every: std::time::Duration,
    report: &(dyn Fn(String) + Sync),
) -> Result<String> {
    use std::sync::mpsc::{RecvTimeoutError, channel};
    report(what.to_string());
    let start = Instant::now();
    let (done, wait) = channel::<()>();
    let out = std::thread::scope(|s| {
        s.spawn(move || {
            while let Err(RecvTimeoutError::Timeout) = wait.recv_timeout(every) {
                report(format!("{what}: {} s so far", start.elapsed().as_secs()));
            }
        });
        let out = run(cmd);
        drop(done);
        out
    });
    let secs = start.elapsed().as_secs_f64();
    if out.is_ok() && secs >= 2.0 {
        report(format!("{what}: done in {secs:.0} s"));
    }
    out
}

/// An exclusive lock on the cache, held while kernels are built or fetched:
/// two harness runs on one machine never build into the same directory at
/// once (the second waits). Released when dropped.
pub struct Lock(#[allow(dead_code)] std::fs::File);

/// Takes the cache lock, waiting for another run to release it.
pub fn lock() -> Result<Lock> {
    use std::os::fd::AsRawFd;
    let path = root().join(".lock");
    let file = open_lock(".lock")?;
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

/// A shared hold on the cache, kept while a run boots from it: prune
/// ([`exclusive_use`]) refuses while any is held. Released when dropped.
pub fn using() -> Result<Lock> {
    let file = open_lock(".use")?;
    // SAFETY: flock on an open descriptor; waits only for a prune.
    if unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&file), libc::LOCK_SH) } != 0 {
        return Err(format!("{}/.use: {}", root().display(), std::io::Error::last_os_error()));
    }
    Ok(Lock(file))
}

/// The hold prune takes: refused at once while a run uses the cache.
pub fn exclusive_use() -> Result<Lock> {
    let file = open_lock(".use")?;
    // SAFETY: as above.
    if unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&file), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Err(format!(
            "a kernel-test run is using the cache {} (it holds .use); prune when it ends",
            root().display()
        ));
    }
    Ok(Lock(file))
}

fn open_lock(name: &str) -> Result<std::fs::File> {
    let dir = root();
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join(name);
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("{}: {e}", path.display()))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_step_says_how_long_so_far() {
        let lines = std::sync::Mutex::new(Vec::new());
        let out = run_reporting(
            "waiting",
            Command::new("sleep").arg("2.2"),
            std::time::Duration::from_millis(1000),
            &|m| lines.lock().unwrap().push(m),
        );
        assert!(out.is_ok());
        let lines = lines.into_inner().unwrap();
        assert_eq!(lines.first().map(String::as_str), Some("waiting"), "{lines:?}");
        let ticks = lines.iter().filter(|l| l.starts_with("waiting: ") && l.ends_with(" s so far")).count();
        assert!(ticks >= 1, "{lines:?}");
        assert!(lines.last().unwrap().starts_with("waiting: done in "), "{lines:?}");
    }
}
