//! A writer for the "newc" cpio format the kernel unpacks as an initramfs
//! (Documentation/driver-api/early-userspace/buffer-format.rst):
//!
//! ```text
//! "070701" ino mode uid gid nlink mtime filesize devmajor devminor
//!          rdevmajor rdevminor namesize check     (13 fields, 8 hex digits)
//! name NUL, padded to 4 bytes; data, padded to 4 bytes
//! ... "TRAILER!!!" entry at the end
//! ```
//!
//! Archives may be concatenated; the kernel unpacks them in order.

use std::io::{self, Write};

/// Builds one archive in memory.
#[derive(Debug, Default)]
pub struct Archive {
    buf: Vec<u8>,
    next_ino: u32,
}

const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;
const S_IFCHR: u32 = 0o020000;

impl Archive {
    /// An empty archive.
    pub fn new() -> Self {
        Self { buf: Vec::new(), next_ino: 1 }
    }

    #[allow(clippy::too_many_arguments)]
    fn entry(&mut self, name: &str, mode: u32, nlink: u32, data: &[u8], rdev: (u32, u32)) {
        let name = name.trim_start_matches('/');
        let ino = self.next_ino;
        self.next_ino += 1;
        let fields =
            [ino, mode, 0, 0, nlink, 0, data.len() as u32, 0, 0, rdev.0, rdev.1, name.len() as u32 + 1, 0];
        self.buf.extend_from_slice(b"070701");
        for f in fields {
            self.buf.extend_from_slice(format!("{f:08x}").as_bytes());
        }
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.push(0);
        self.pad();
        self.buf.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        while !self.buf.len().is_multiple_of(4) {
            self.buf.push(0);
        }
    }

    /// A directory (parents must be added first).
    pub fn dir(&mut self, path: &str) {
        self.entry(path, S_IFDIR | 0o755, 2, &[], (0, 0));
    }

    /// Every missing parent of `path`, then nothing else.
    pub fn parents(&mut self, path: &str, made: &mut std::collections::BTreeSet<String>) {
        let mut cur = String::new();
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        for part in &parts[..parts.len().saturating_sub(1)] {
            if !cur.is_empty() {
                cur.push('/');
            }
            cur.push_str(part);
            if made.insert(cur.clone()) {
                self.dir(&cur);
            }
        }
    }

    /// A regular file with `mode` permission bits.
    pub fn file(&mut self, path: &str, mode: u32, data: &[u8]) {
        self.entry(path, S_IFREG | (mode & 0o7777), 1, data, (0, 0));
    }

    /// A symbolic link to `target`.
    pub fn symlink(&mut self, path: &str, target: &str) {
        self.entry(path, S_IFLNK | 0o777, 1, target.as_bytes(), (0, 0));
    }

    /// A character device node.
    pub fn char_device(&mut self, path: &str, mode: u32, major: u32, minor: u32) {
        self.entry(path, S_IFCHR | (mode & 0o7777), 1, &[], (major, minor));
    }

    /// Finishes the archive with its trailer and returns the bytes.
    pub fn finish(mut self) -> Vec<u8> {
        self.entry("TRAILER!!!", 0, 1, &[], (0, 0));
        // Pad to 512 like cpio(1); the kernel does not care.
        while !self.buf.len().is_multiple_of(512) {
            self.buf.push(0);
        }
        self.buf
    }

    /// Writes the finished archive.
    pub fn write_to(self, w: &mut impl Write) -> io::Result<()> {
        w.write_all(&self.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_layout() {
        let mut a = Archive::new();
        a.file("/init", 0o755, b"hi");
        let bytes = a.finish();
        assert_eq!(&bytes[..6], b"070701");
        let field = |i: usize| {
            u32::from_str_radix(std::str::from_utf8(&bytes[6 + 8 * i..14 + 8 * i]).unwrap(), 16).unwrap()
        };
        assert_eq!(field(1), 0o100755, "mode");
        assert_eq!(field(6), 2, "filesize");
        assert_eq!(field(11), 5, "namesize includes the NUL");
        // Header is 110 bytes; name "init\0" pads 115 → 116; data at 116.
        assert_eq!(&bytes[110..115], b"init\0");
        assert_eq!(&bytes[116..118], b"hi");
        assert!(bytes.windows(10).any(|w| w == b"TRAILER!!!"));
        assert_eq!(bytes.len() % 512, 0);
    }

    /// The real cpio(1) reads what we write (CI installs it).
    #[test]
    fn cpio_tool_lists_the_archive() {
        let mut a = Archive::new();
        let mut made = Default::default();
        a.parents("usr/sbin/x", &mut made);
        a.file("usr/sbin/x", 0o755, b"data");
        a.symlink("usr/sbin/y", "x");
        a.char_device("dev/console", 0o600, 5, 1);
        let bytes = a.finish();
        let child = std::process::Command::new("cpio")
            .args(["-t", "--quiet"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn();
        let mut child = child.expect("cpio(1) is needed for this test (apt-get install cpio)");
        child.stdin.take().unwrap().write_all(&bytes).unwrap();
        let out = child.wait_with_output().unwrap();
        let list = String::from_utf8_lossy(&out.stdout);
        for name in ["usr", "usr/sbin", "usr/sbin/x", "usr/sbin/y", "dev/console"] {
            assert!(list.lines().any(|l| l == name), "{name} missing from {list}");
        }
    }
}
