//! The one way xtprobe reads and writes files.
//!
//! Code that root runs at boot must not hang on a FIFO, read `/dev/zero`
//! until memory runs out, or follow a planted link out of the directory it
//! trusts. So every file is:
//!
//! - **opened once**, without blocking (`O_NONBLOCK`, so opening a FIFO
//!   returns at once) and without following a link in its last component
//!   (`O_NOFOLLOW`), and then checked with `fstat` on that descriptor to be
//!   a regular file: FIFOs, devices, sockets and directories are refused
//!   with an error naming the path and what it is;
//! - **resolved beneath its directory** when it belongs to one (a modules
//!   directory, `--root`, `/proc`): `openat2(RESOLVE_BENEATH |
//!   RESOLVE_NO_MAGICLINKS)` where the kernel has it (5.6+), otherwise a
//!   checked component-by-component walk ([`walk`]) that follows in-tree
//!   links and refuses any that lead out;
//! - **capped while reading**: reading stops one byte past the limit, so a
//!   size that `metadata().len()` misreports (`/proc` files say 0) cannot
//!   fool it;
//! - **read through the same descriptor** every time (`pread` from offset
//!   0), so what was checked is what is used.
//!
//! Writes ([`Dir::write_atomic`]) go to a temporary file created with
//! `O_EXCL | O_NOFOLLOW` in the same directory, with the mode set by
//! `fchmod` whatever the umask, then `fsync` and `renameat`.

use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::FileExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use super::errno::{Errno, retry};

/// What a path turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A regular file: the only kind xtprobe reads.
    Regular,
    /// A directory.
    Directory,
    /// A symbolic link.
    Symlink,
    /// A FIFO (named pipe): reading it would block until a writer comes.
    Fifo,
    /// A character device (`/dev/zero`, a tty).
    CharDevice,
    /// A block device.
    BlockDevice,
    /// A socket.
    Socket,
    /// Anything else.
    Other,
}

impl FileKind {
    /// The kind of a `st_mode`.
    pub fn from_mode(mode: libc::mode_t) -> Self {
        match mode & libc::S_IFMT {
            libc::S_IFREG => FileKind::Regular,
            libc::S_IFDIR => FileKind::Directory,
            libc::S_IFLNK => FileKind::Symlink,
            libc::S_IFIFO => FileKind::Fifo,
            libc::S_IFCHR => FileKind::CharDevice,
            libc::S_IFBLK => FileKind::BlockDevice,
            libc::S_IFSOCK => FileKind::Socket,
            _ => FileKind::Other,
        }
    }

    /// "a FIFO (named pipe)", "a character device", …
    pub fn describe(self) -> &'static str {
        match self {
            FileKind::Regular => "a regular file",
            FileKind::Directory => "a directory",
            FileKind::Symlink => "a symbolic link",
            FileKind::Fifo => "a FIFO (named pipe)",
            FileKind::CharDevice => "a character device",
            FileKind::BlockDevice => "a block device",
            FileKind::Socket => "a socket",
            FileKind::Other => "not a regular file",
        }
    }
}

/// Why a file could not be read or written. Every variant names the path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FsError {
    /// Nothing there.
    #[error("{}: no such file or directory", shown(.path))]
    NotFound {
        /// The path.
        path: PathBuf,
    },
    /// A FIFO, a device, a socket or a directory where a file was expected
    /// (or a file where a directory was).
    #[error("{}: is {}, not {}; refusing to use it", shown(.path), .found.describe(), .wanted.describe())]
    WrongKind {
        /// The path.
        path: PathBuf,
        /// What it is.
        found: FileKind,
        /// What was expected.
        wanted: FileKind,
    },
    /// A symbolic link where xtprobe does not follow one.
    #[error("{}: is a symbolic link; xtprobe does not follow links here (name the file itself)", shown(.path))]
    Symlink {
        /// The path.
        path: PathBuf,
    },
    /// The path leads outside the directory it belongs to.
    #[error("{}: leads outside {} (an absolute path, `..` or a symbolic link); xtprobe uses nothing outside it", shown(.path), shown(.dir))]
    Escapes {
        /// The path.
        path: PathBuf,
        /// The directory it must stay in.
        dir: PathBuf,
    },
    /// Larger than the cap for what it is.
    #[error("{}: larger than {}, the limit for {what}; refusing to read it", shown(.path), human(*.limit))]
    TooLarge {
        /// The path.
        path: PathBuf,
        /// The cap in bytes.
        limit: u64,
        /// What the file was read as ("a profile", "modules.dep").
        what: &'static str,
    },
    /// Any other failure of a system call.
    #[error("{}: {op}: {errno}", shown(.path))]
    Io {
        /// The path.
        path: PathBuf,
        /// The system call.
        op: &'static str,
        /// Its errno.
        errno: Errno,
    },
}

impl FsError {
    /// The path the error is about.
    pub fn path(&self) -> &Path {
        match self {
            FsError::NotFound { path }
            | FsError::WrongKind { path, .. }
            | FsError::Symlink { path }
            | FsError::Escapes { path, .. }
            | FsError::TooLarge { path, .. }
            | FsError::Io { path, .. } => path,
        }
    }

    /// Whether the file simply is not there (optional files).
    pub fn is_not_found(&self) -> bool {
        matches!(self, FsError::NotFound { .. })
    }
}

/// A path for a message, on one line: a newline or tab in a file name is
/// written as `\n`/`\t`, so it cannot forge lines of a report.
pub fn shown(p: &Path) -> String {
    p.display().to_string().replace('\n', "\\n").replace('\r', "\\r").replace('\t', "\\t")
}

/// `4096 bytes`, `16 MiB`.
pub fn human(bytes: u64) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes.is_multiple_of(1 << 10) {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} bytes")
    }
}

fn c_path(path: &Path) -> Result<CString, FsError> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| FsError::Io {
        path: path.to_path_buf(),
        op: "open",
        errno: Errno(libc::EINVAL),
    })
}

fn c_name(name: &OsStr, shown: &Path) -> Result<CString, FsError> {
    CString::new(name.as_bytes()).map_err(|_| FsError::Io {
        path: shown.to_path_buf(),
        op: "open",
        errno: Errno(libc::EINVAL),
    })
}

/// `fstat` of an open descriptor.
fn fstat(fd: BorrowedFd<'_>) -> io::Result<libc::stat> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `st` is a writable stat buffer; the fd is open for the call.
    let rc = unsafe { libc::fstat(fd.as_raw_fd(), st.as_mut_ptr()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fstat succeeded, so it filled the buffer.
    Ok(unsafe { st.assume_init() })
}

/// How many names an open file has.
#[allow(clippy::useless_conversion)] // u32 on aarch64, u64 on x86_64
pub fn link_count(file: &impl AsFd) -> io::Result<u64> {
    Ok(u64::from(fstat(file.as_fd())?.st_nlink))
}

/// The owner and permission bits of an open file.
pub fn owner_and_mode(file: &impl AsFd) -> io::Result<(u32, u32, u32)> {
    let st = fstat(file.as_fd())?;
    Ok((st.st_uid, st.st_gid, st.st_mode & 0o7777))
}

/// `open(path)` without following a link in the last component.
fn open_raw(path: &CString, flags: libc::c_int, mode: libc::mode_t) -> io::Result<OwnedFd> {
    retry(|| {
        // SAFETY: `path` is NUL-terminated; the returned fd is owned below.
        let fd = unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC, mode as libc::c_uint) };
        if fd < 0 { Err(io::Error::last_os_error()) } else { Ok(unsafe { OwnedFd::from_raw_fd(fd) }) }
    })
}

/// `openat(dir, name)`.
fn openat_raw(dir: RawFd, name: &CString, flags: libc::c_int, mode: libc::mode_t) -> io::Result<OwnedFd> {
    retry(|| {
        // SAFETY: `name` is NUL-terminated and `dir` is open for the call.
        let fd = unsafe { libc::openat(dir, name.as_ptr(), flags | libc::O_CLOEXEC, mode as libc::c_uint) };
        if fd < 0 { Err(io::Error::last_os_error()) } else { Ok(unsafe { OwnedFd::from_raw_fd(fd) }) }
    })
}

/// The flags every read opens with.
const READ_FLAGS: libc::c_int = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY;

/// Checks that `fd` (opened for `path`) is `wanted`, and clears
/// `O_NONBLOCK` on a regular file (it had no effect there anyway).
fn check_kind(fd: OwnedFd, path: &Path, wanted: FileKind) -> Result<OwnedFd, FsError> {
    let st = fstat(fd.as_fd()).map_err(|e| io_error(path, "fstat", &e))?;
    let found = FileKind::from_mode(st.st_mode);
    if found != wanted {
        return Err(FsError::WrongKind { path: path.to_path_buf(), found, wanted });
    }
    Ok(fd)
}

fn io_error(path: &Path, op: &'static str, e: &io::Error) -> FsError {
    match e.raw_os_error() {
        Some(libc::ENOENT) => FsError::NotFound { path: path.to_path_buf() },
        // open() of a socket answers ENXIO: name what it is.
        Some(libc::ENXIO) if is_socket(path) => FsError::WrongKind {
            path: path.to_path_buf(),
            found: FileKind::Socket,
            wanted: FileKind::Regular,
        },
        _ => FsError::Io { path: path.to_path_buf(), op, errno: Errno::of(e) },
    }
}

/// Opens a file given by the user or the system (`--profile`,
/// `--kernel-config`, `/proc/config.gz`): a regular file, not a link.
pub fn open_file(path: &Path) -> Result<File, FsError> {
    let c = c_path(path)?;
    let fd = open_raw(&c, READ_FLAGS, 0).map_err(|e| match e.raw_os_error() {
        // With O_NOFOLLOW, ELOOP means the last component is a link.
        Some(libc::ELOOP) if is_symlink(path) => FsError::Symlink { path: path.to_path_buf() },
        _ => io_error(path, "open", &e),
    })?;
    Ok(File::from(check_kind(fd, path, FileKind::Regular)?))
}

fn is_socket(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket())
}

fn is_symlink(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// Reads a whole file from offset 0 through its own descriptor, failing
/// once more than `limit` bytes come (whatever its size claims to be).
pub fn read_capped(file: &File, limit: u64, path: &Path, what: &'static str) -> Result<Vec<u8>, FsError> {
    let mut out = Vec::new();
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        let n =
            retry(|| file.read_at(&mut chunk, out.len() as u64)).map_err(|e| io_error(path, "read", &e))?;
        if n == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&chunk[..n]);
        if out.len() as u64 > limit {
            return Err(FsError::TooLarge { path: path.to_path_buf(), limit, what });
        }
    }
}

/// Hands each line of a file (without its newline) to `each` while
/// reading, never holding more than one chunk and one line; stops when
/// `each` returns `true`, fails once more than `limit` bytes were read.
/// For big pseudo-files (`/proc/kallsyms`) searched for a few lines.
pub fn scan_lines(
    file: &File,
    limit: u64,
    path: &Path,
    what: &'static str,
    mut each: impl FnMut(&[u8]) -> bool,
) -> Result<(), FsError> {
    let mut chunk = vec![0u8; 64 << 10];
    let mut line: Vec<u8> = Vec::new();
    let mut offset = 0u64;
    loop {
        let n = retry(|| file.read_at(&mut chunk, offset)).map_err(|e| io_error(path, "read", &e))?;
        if n == 0 {
            if !line.is_empty() {
                each(&line);
            }
            return Ok(());
        }
        offset += n as u64;
        if offset > limit {
            return Err(FsError::TooLarge { path: path.to_path_buf(), limit, what });
        }
        for part in chunk[..n].split_inclusive(|b| *b == b'\n') {
            if let Some(full) = part.strip_suffix(b"\n") {
                let stop = if line.is_empty() {
                    each(full)
                } else {
                    line.extend_from_slice(full);
                    let stop = each(&line);
                    line.clear();
                    stop
                };
                if stop {
                    return Ok(());
                }
            } else {
                line.extend_from_slice(part);
            }
        }
    }
}

/// Reads the first `buf.len()` bytes (fewer if the file is shorter).
pub fn read_head(file: &File, buf: &mut [u8], path: &Path) -> Result<usize, FsError> {
    let mut n = 0;
    while n < buf.len() {
        match retry(|| file.read_at(&mut buf[n..], n as u64)).map_err(|e| io_error(path, "read", &e))? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// [`open_file`] then [`read_capped`].
pub fn read_file(path: &Path, limit: u64, what: &'static str) -> Result<Vec<u8>, FsError> {
    read_capped(&open_file(path)?, limit, path, what)
}

/// Writes a command's output file (`capture -o`, `check --textfile`) the
/// way a user means it, never replacing something that is not a file:
///
/// - `/dev/stdout`, `/dev/stderr`, `/dev/fd/N`, `/proc/self/fd/N`: the
///   descriptor itself (what the shell redirected it to);
/// - an absent name, or a regular file: replaced atomically (temporary
///   file, fsync, rename), mode `mode`, the old file's owner kept;
/// - a character device or a FIFO: written in place (`/dev/null`
///   discards, `/dev/full` fails with ENOSPC; a FIFO without a reader is
///   an error, not a wait);
/// - a link, a directory, a block device or a socket: refused.
///
/// Returns a warning if the directory could not be synced.
pub fn write_output(path: &Path, content: &[u8], mode: libc::mode_t) -> Result<Option<String>, FsError> {
    if let Some(fd) = std_descriptor(path) {
        // SAFETY: dup of a descriptor number; the copy is owned here.
        let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
        if dup < 0 {
            return Err(io_error(path, "dup", &io::Error::last_os_error()));
        }
        // SAFETY: `dup` is a new descriptor nothing else owns.
        let file = File::from(unsafe { OwnedFd::from_raw_fd(dup) });
        return write_all(&file, content, path).map(|()| None);
    }
    let name = path.file_name().and_then(|n| n.to_str()).ok_or_else(|| FsError::Io {
        path: path.to_path_buf(),
        op: "name (a UTF-8 file name is needed)",
        errno: Errno(libc::EINVAL),
    })?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let dir = Dir::open(parent)?;
    let c = c_name(OsStr::new(name), path)?;
    // SAFETY: fstatat without following links, into a local.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    let found =
        unsafe { libc::fstatat(dir.fd.as_raw_fd(), c.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) } == 0;
    if !found {
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::ENOENT) {
            return Err(io_error(path, "stat", &e));
        }
        let staged = dir.stage(name, content, mode, None)?;
        staged.commit()?;
        return Ok(dir.sync_dir(path));
    }
    match FileKind::from_mode(st.st_mode) {
        FileKind::Regular => {
            let staged = dir.stage(name, content, mode, Some((st.st_uid, st.st_gid)))?;
            staged.commit()?;
            Ok(dir.sync_dir(path))
        }
        kind @ (FileKind::CharDevice | FileKind::Fifo) => {
            let fd = openat_raw(
                dir.fd.as_raw_fd(),
                &c,
                libc::O_WRONLY | libc::O_NOCTTY | libc::O_NONBLOCK | libc::O_NOFOLLOW,
                0,
            )
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ENXIO) if kind == FileKind::Fifo => FsError::Io {
                    path: path.to_path_buf(),
                    op: "open (a FIFO nobody reads)",
                    errno: Errno(libc::ENXIO),
                },
                _ => io_error(path, "open", &e),
            })?;
            // The same kind as a moment ago (not swapped for a file).
            let fd = check_kind(fd, path, kind)?;
            // SAFETY: fcntl on an open descriptor: back to blocking writes.
            unsafe {
                let fl = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
                libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, fl & !libc::O_NONBLOCK);
            }
            write_all(&File::from(fd), content, path).map(|()| None)
        }
        FileKind::Symlink => Err(FsError::Symlink { path: path.to_path_buf() }),
        found => Err(FsError::WrongKind { path: path.to_path_buf(), found, wanted: FileKind::Regular }),
    }
}

/// The descriptor a path names: `/dev/stdout` (1), `/dev/stderr` (2),
/// `/dev/fd/N`, `/proc/self/fd/N`.
fn std_descriptor(path: &Path) -> Option<RawFd> {
    let s = path.to_str()?;
    match s {
        "/dev/stdout" => Some(1),
        "/dev/stderr" => Some(2),
        _ => s
            .strip_prefix("/dev/fd/")
            .or_else(|| s.strip_prefix("/proc/self/fd/"))
            .and_then(|n| n.parse().ok())
            .filter(|n: &RawFd| *n >= 0),
    }
}

/// Writes all of `content` through `file` (no seeking: a pipe, a tty or a
/// file opened for appending all take it).
fn write_all(file: &File, content: &[u8], path: &Path) -> Result<(), FsError> {
    let mut off = 0;
    while off < content.len() {
        let n = retry(|| std::io::Write::write(&mut &*file, &content[off..]))
            .map_err(|e| io_error(path, "write", &e))?;
        if n == 0 {
            return Err(io_error(path, "write", &io::Error::from_raw_os_error(libc::EIO)));
        }
        off += n;
    }
    Ok(())
}

/// How links inside a [`Dir`] are treated while resolving a path in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Links are followed while they stay inside the directory; an absolute
    /// link, or `..` above the directory, is an error (`RESOLVE_BENEATH`).
    Beneath,
    /// The directory is a root: absolute links and `..` resolve inside it,
    /// as in a chroot (`RESOLVE_IN_ROOT`). For looking at an image.
    InRoot,
}

thread_local! {
    /// When set, [`Dir`] never calls `openat2` on this thread and always
    /// walks: tests use it to prove the walk equals the kernel's resolution.
    static FORCE_WALK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Makes every resolution on this thread use the component walk (for tests).
pub fn force_walk(on: bool) {
    FORCE_WALK.with(|f| f.set(on));
}

fn walk_forced() -> bool {
    FORCE_WALK.with(|f| f.get())
}

/// A directory held open: paths inside it are resolved against this
/// descriptor, never by name from `/`.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
    path: PathBuf,
}

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The name.
    pub name: OsString,
    /// What it is (from `d_type`, or `fstatat` when the file system does not say).
    pub kind: FileKind,
}

impl Dir {
    /// Opens the directory `path` (following links to reach it: it is the
    /// anchor the user or the system named).
    pub fn open(path: &Path) -> Result<Dir, FsError> {
        let c = c_path(path)?;
        let fd =
            open_raw(&c, libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NONBLOCK, 0).map_err(|e| {
                match e.raw_os_error() {
                    Some(libc::ENOTDIR) => FsError::WrongKind {
                        path: path.to_path_buf(),
                        found: std::fs::metadata(path)
                            .map(|m| {
                                use std::os::unix::fs::MetadataExt;
                                FileKind::from_mode(m.mode())
                            })
                            .unwrap_or(FileKind::Other),
                        wanted: FileKind::Directory,
                    },
                    _ => io_error(path, "open", &e),
                }
            })?;
        Ok(Dir { fd, path: path.to_path_buf() })
    }

    /// The directory's path, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `path/rel`, for messages.
    pub fn shown(&self, rel: &Path) -> PathBuf {
        self.path.join(rel)
    }

    /// Opens the regular file `rel` beneath this directory (a link in its
    /// last component is refused).
    pub fn open_file(&self, rel: &Path) -> Result<File, FsError> {
        let fd = self.resolve(rel, READ_FLAGS, Scope::Beneath)?;
        Ok(File::from(check_kind(fd, &self.shown(rel), FileKind::Regular)?))
    }

    /// Opens the directory `rel` beneath this one.
    pub fn open_dir(&self, rel: &Path) -> Result<Dir, FsError> {
        let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_NONBLOCK;
        let fd = self.resolve(rel, flags, Scope::Beneath)?;
        Ok(Dir { fd, path: self.shown(rel) })
    }

    /// Reads the regular file `rel` beneath this directory, capped.
    pub fn read(&self, rel: &Path, limit: u64, what: &'static str) -> Result<Vec<u8>, FsError> {
        read_capped(&self.open_file(rel)?, limit, &self.shown(rel), what)
    }

    /// Like [`Dir::read`], but `None` when the file does not exist.
    pub fn read_optional(
        &self,
        rel: &Path,
        limit: u64,
        what: &'static str,
    ) -> Result<Option<Vec<u8>>, FsError> {
        match self.read(rel, limit, what) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Reads `rel` as a system tool under this root would: links (the
    /// last component's too) resolve inside the root, as in a chroot; a
    /// link to `/dev/null` is an empty file (systemd's way of masking a
    /// vendor file); anything else but a regular file is refused.
    pub fn read_in_root(&self, rel: &Path, limit: u64, what: &'static str) -> Result<Vec<u8>, FsError> {
        let shown = self.shown(rel);
        // Masked: named for what it says, whatever this root's /dev holds.
        if std::fs::read_link(&shown).is_ok_and(|t| t == Path::new("/dev/null")) {
            return Ok(Vec::new());
        }
        let fd = self.resolve(rel, READ_FLAGS & !libc::O_NOFOLLOW, Scope::InRoot)?;
        let st = fstat(fd.as_fd()).map_err(|e| io_error(&shown, "fstat", &e))?;
        if FileKind::from_mode(st.st_mode) == FileKind::CharDevice && st.st_rdev == libc::makedev(1, 3) {
            return Ok(Vec::new());
        }
        let file = File::from(check_kind(fd, &shown, FileKind::Regular)?);
        read_capped(&file, limit, &shown, what)
    }

    /// What `rel` is, resolved with `scope` (links in its last component
    /// are followed while they stay in scope); `None` if it cannot be
    /// reached.
    pub fn kind_of(&self, rel: &Path, scope: Scope) -> Option<(FileKind, u32)> {
        let fd = self.resolve(rel, libc::O_PATH, scope).ok()?;
        let st = fstat(fd.as_fd()).ok()?;
        Some((FileKind::from_mode(st.st_mode), st.st_mode & 0o7777))
    }

    /// The entries of this directory (not `.` and `..`), in no order.
    pub fn entries(&self) -> Result<Vec<Entry>, FsError> {
        // fdopendir takes the descriptor it is given: give it a duplicate.
        let dup = self.fd.try_clone().map_err(|e| io_error(&self.path, "dup", &e))?;
        let mut dir = nix::dir::Dir::from_fd(dup).map_err(|e| FsError::Io {
            path: self.path.clone(),
            op: "fdopendir",
            errno: Errno(e as i32),
        })?;
        let mut out = Vec::new();
        for entry in dir.iter() {
            let entry = entry.map_err(|e| FsError::Io {
                path: self.path.clone(),
                op: "readdir",
                errno: Errno(e as i32),
            })?;
            let name = OsStr::from_bytes(entry.file_name().to_bytes());
            if name == "." || name == ".." {
                continue;
            }
            let kind = match entry.file_type() {
                Some(nix::dir::Type::File) => FileKind::Regular,
                Some(nix::dir::Type::Directory) => FileKind::Directory,
                Some(nix::dir::Type::Symlink) => FileKind::Symlink,
                Some(nix::dir::Type::Fifo) => FileKind::Fifo,
                Some(nix::dir::Type::CharacterDevice) => FileKind::CharDevice,
                Some(nix::dir::Type::BlockDevice) => FileKind::BlockDevice,
                Some(nix::dir::Type::Socket) => FileKind::Socket,
                None => self.lstat_kind(name).unwrap_or(FileKind::Other),
            };
            out.push(Entry { name: name.to_os_string(), kind });
        }
        Ok(out)
    }

    fn lstat_kind(&self, name: &OsStr) -> Option<FileKind> {
        let c = CString::new(name.as_bytes()).ok()?;
        let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
        // SAFETY: valid NUL-terminated name, writable buffer, open dirfd.
        let rc = unsafe {
            libc::fstatat(self.fd.as_raw_fd(), c.as_ptr(), st.as_mut_ptr(), libc::AT_SYMLINK_NOFOLLOW)
        };
        // SAFETY: fstatat succeeded, so it filled the buffer.
        (rc == 0).then(|| FileKind::from_mode(unsafe { st.assume_init() }.st_mode))
    }

    /// Opens the subdirectory `name` (one component) for writing into,
    /// creating it with `mode` if it is missing. A link there is refused.
    pub fn subdir_create(&self, name: &str, mode: libc::mode_t) -> Result<Dir, FsError> {
        let shown = self.shown(Path::new(name));
        let c = c_name(OsStr::new(name), &shown)?;
        let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW;
        for _ in 0..3 {
            match openat_raw(self.fd.as_raw_fd(), &c, flags, 0) {
                Ok(fd) => return Ok(Dir { fd, path: shown }),
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                    // SAFETY: valid NUL-terminated name, open dirfd.
                    let rc = unsafe { libc::mkdirat(self.fd.as_raw_fd(), c.as_ptr(), mode) };
                    if rc != 0 {
                        let e = io::Error::last_os_error();
                        if e.raw_os_error() != Some(libc::EEXIST) {
                            return Err(io_error(&shown, "mkdir", &e));
                        }
                    }
                }
                Err(e) => return Err(self.refusal(name, &shown, "open", &e)),
            }
        }
        Err(FsError::Io { path: shown, op: "mkdir", errno: Errno(libc::EAGAIN) })
    }

    /// Turns ELOOP/ENOTDIR on a one-component open into what is there.
    fn refusal(&self, name: &str, shown: &Path, op: &'static str, e: &io::Error) -> FsError {
        match (e.raw_os_error(), self.lstat_kind(OsStr::new(name))) {
            (Some(libc::ELOOP | libc::ENOTDIR), Some(FileKind::Symlink)) => {
                FsError::Symlink { path: shown.to_path_buf() }
            }
            (Some(libc::ENOTDIR), Some(found)) => {
                FsError::WrongKind { path: shown.to_path_buf(), found, wanted: FileKind::Directory }
            }
            _ => io_error(shown, op, e),
        }
    }

    /// Opens the regular file `name` (one component) for reading; `None`
    /// if it does not exist. A link or anything but a regular file is an
    /// error.
    pub fn open_existing(&self, name: &str) -> Result<Option<File>, FsError> {
        let shown = self.shown(Path::new(name));
        let c = c_name(OsStr::new(name), &shown)?;
        match openat_raw(self.fd.as_raw_fd(), &c, READ_FLAGS, 0) {
            Ok(fd) => Ok(Some(File::from(check_kind(fd, &shown, FileKind::Regular)?))),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => Err(FsError::Symlink { path: shown }),
            Err(e) => Err(io_error(&shown, "open", &e)),
        }
    }

    /// Takes an exclusive lock named `name` in this directory, waiting for
    /// other holders; released when the returned [`Lock`] is dropped.
    ///
    /// `flock` on the file `name` (created with mode 0600 if missing). A
    /// kernel built without `CONFIG_FILE_LOCKING` (tinyconfig, some
    /// initramfs kernels) answers ENOSYS: then the lock is the existence of
    /// `name.excl`, created with `O_EXCL` and holding the owner's pid; one
    /// whose owner is gone is removed. Waiting is bounded by `wait`.
    pub fn lock(&self, name: &str, wait: std::time::Duration) -> Result<Lock, FsError> {
        let shown = self.shown(Path::new(name));
        let c = c_name(OsStr::new(name), &shown)?;
        let deadline = std::time::Instant::now() + wait;
        'open: loop {
            let fd = openat_raw(
                self.fd.as_raw_fd(),
                &c,
                libc::O_RDWR | libc::O_CREAT | libc::O_NOFOLLOW | libc::O_NONBLOCK,
                0o600,
            )
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ELOOP) => FsError::Symlink { path: shown.clone() },
                _ => io_error(&shown, "open", &e),
            })?;
            let fd = check_kind(fd, &shown, FileKind::Regular)?;
            loop {
                // SAFETY: flock on an open descriptor.
                let rc = unsafe { libc::flock(fd.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
                if rc == 0 {
                    // The holder before us removes the file as it lets go:
                    // a lock on a name no longer there (or there again as
                    // another file) locks nothing; open it again.
                    if !self.names(&c, &fd) {
                        continue 'open;
                    }
                    let dir = self.fd.try_clone().map_err(|e| io_error(&self.path, "dup", &e))?;
                    return Ok(Lock { _fd: fd, excl: None, remove: Some((dir, c)) });
                }
                let e = io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EWOULDBLOCK) | Some(libc::EINTR) if std::time::Instant::now() < deadline => {
                        std::thread::sleep(std::time::Duration::from_millis(5));
                    }
                    Some(libc::ENOSYS | libc::EOPNOTSUPP | libc::ENOLCK | libc::EINVAL) => {
                        // SAFETY: valid NUL-terminated name, open dirfd.
                        unsafe { libc::unlinkat(self.fd.as_raw_fd(), c.as_ptr(), 0) };
                        return self.lock_excl(&format!("{name}.excl"), deadline);
                    }
                    Some(libc::EWOULDBLOCK) => {
                        return Err(FsError::Io {
                            path: shown,
                            op: "flock (held by another process)",
                            errno: Errno(libc::EWOULDBLOCK),
                        });
                    }
                    _ => return Err(io_error(&shown, "flock", &e)),
                }
            }
        }
    }

    /// Whether `name` in this directory is still the file open as `fd`.
    fn names(&self, name: &CString, fd: &OwnedFd) -> bool {
        let (Ok(open), mut st) = (fstat(fd.as_fd()), unsafe { std::mem::zeroed::<libc::stat>() }) else {
            return false;
        };
        // SAFETY: fstatat without following links, into a local.
        let rc =
            unsafe { libc::fstatat(self.fd.as_raw_fd(), name.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) };
        rc == 0 && st.st_dev == open.st_dev && st.st_ino == open.st_ino
    }

    /// The `O_EXCL` lock file of [`Dir::lock`], for kernels without file locking.
    fn lock_excl(&self, name: &str, deadline: std::time::Instant) -> Result<Lock, FsError> {
        let shown = self.shown(Path::new(name));
        let c = c_name(OsStr::new(name), &shown)?;
        loop {
            match openat_raw(
                self.fd.as_raw_fd(),
                &c,
                libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW,
                0o600,
            ) {
                Ok(fd) => {
                    let pid = format!("{}\n", std::process::id());
                    let file = File::from(fd);
                    retry(|| file.write_at(pid.as_bytes(), 0)).map_err(|e| io_error(&shown, "write", &e))?;
                    return Ok(Lock {
                        _fd: OwnedFd::from(file),
                        excl: Some((self.fd.try_clone().map_err(|e| io_error(&shown, "dup", &e))?, c)),
                        remove: None,
                    });
                }
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
                    if self.excl_owner_gone(&c) {
                        // SAFETY: valid NUL-terminated name, open dirfd.
                        unsafe { libc::unlinkat(self.fd.as_raw_fd(), c.as_ptr(), 0) };
                        continue;
                    }
                    if std::time::Instant::now() >= deadline {
                        return Err(FsError::Io {
                            path: shown,
                            op: "lock (held by another process)",
                            errno: Errno(libc::EWOULDBLOCK),
                        });
                    }
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                Err(e) => return Err(io_error(&shown, "create", &e)),
            }
        }
    }

    /// Whether the pid in an `O_EXCL` lock file names no live process.
    fn excl_owner_gone(&self, c: &CString) -> bool {
        let Ok(fd) = openat_raw(self.fd.as_raw_fd(), c, READ_FLAGS, 0) else { return false };
        let mut buf = [0u8; 32];
        let n = read_head(&File::from(fd), &mut buf, Path::new("lock")).unwrap_or(0);
        let Some(pid) = std::str::from_utf8(&buf[..n]).ok().and_then(|s| s.trim().parse::<i32>().ok()) else {
            // Being written right now (empty), or not ours: leave it.
            return false;
        };
        // SAFETY: kill with signal 0 only checks that the process exists.
        pid > 0 && unsafe { libc::kill(pid, 0) } != 0 && Errno::last().0 == libc::ESRCH
    }

    /// Replaces the file `name` in this directory with `content`, mode
    /// `mode` (set with `fchmod`, whatever the umask) and owner `owner`:
    /// a temporary file created with `O_EXCL | O_NOFOLLOW`, written,
    /// `fsync`ed and renamed over `name`. If the final `fsync` of the
    /// directory fails, the file is in place: that is returned as a
    /// warning, not an error.
    pub fn write_atomic(
        &self,
        name: &str,
        content: &[u8],
        mode: libc::mode_t,
        owner: Option<(u32, u32)>,
    ) -> Result<Option<String>, FsError> {
        let staged = self.stage(name, content, mode, owner)?;
        let shown = staged.shown.clone();
        staged.commit()?;
        Ok(self.sync_dir(&shown))
    }

    /// Replaces several files together: every one is written and synced
    /// to a temporary file first, and only when all are ready are they
    /// renamed into place, one after the other (a failure before then
    /// leaves every old file as it was, and no temporary file). Returns a
    /// warning if syncing the directory failed.
    pub fn write_atomic_all(
        &self,
        files: &[(&str, &[u8])],
        mode: libc::mode_t,
    ) -> Result<Option<String>, FsError> {
        let staged: Vec<Staged<'_>> = files
            .iter()
            .map(|(name, content)| self.stage(name, content, mode, None))
            .collect::<Result<_, _>>()?;
        let shown = staged.first().map(|s| s.shown.clone()).unwrap_or_else(|| self.path.clone());
        for s in staged {
            s.commit()?;
        }
        Ok(self.sync_dir(&shown))
    }

    /// Removes the temporary files that processes no longer alive left
    /// here (killed outright, or by a release that left them): named
    /// `.xtprobe.PID.N.tmp` (or an older release's `.NAME.PID.N.tmp`),
    /// PID not a live process, not changed for a minute.
    fn sweep(&self) {
        let Ok(entries) = self.entries() else { return };
        let now = std::time::SystemTime::now();
        for e in entries {
            let Some(name) = e.name.to_str() else { continue };
            let Some(pid) = stale_pid(name) else { continue };
            if pid == std::process::id() {
                continue;
            }
            // SAFETY: kill with signal 0 only checks that the process exists.
            let alive = unsafe { libc::kill(pid as libc::pid_t, 0) } == 0
                || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
            if alive {
                continue;
            }
            let Ok(c) = CString::new(name) else { continue };
            let mut st: libc::stat = unsafe { std::mem::zeroed() };
            // SAFETY: fstatat without following links, into a local.
            if unsafe { libc::fstatat(self.fd.as_raw_fd(), c.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) }
                != 0
                || FileKind::from_mode(st.st_mode) != FileKind::Regular
            {
                continue;
            }
            let changed = std::time::UNIX_EPOCH + std::time::Duration::from_secs(st.st_mtime.max(0) as u64);
            if now.duration_since(changed).is_ok_and(|age| age >= std::time::Duration::from_secs(60)) {
                // SAFETY: valid NUL-terminated name, open dirfd.
                unsafe { libc::unlinkat(self.fd.as_raw_fd(), c.as_ptr(), 0) };
            }
        }
    }

    /// Removes the file `name` (not a directory; a link itself, never
    /// what it points to); an absent file is not an error.
    pub fn remove(&self, name: &str) -> Result<(), FsError> {
        let shown = self.shown(Path::new(name));
        let c = c_name(OsStr::new(name), &shown)?;
        // SAFETY: valid NUL-terminated name, open dirfd.
        if unsafe { libc::unlinkat(self.fd.as_raw_fd(), c.as_ptr(), 0) } != 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::ENOENT) {
                return Err(io_error(&shown, "unlink", &e));
            }
        }
        Ok(())
    }

    /// `fsync` of this directory, so renames in it survive a power cut;
    /// a failure is a warning naming `shown`.
    fn sync_dir(&self, shown: &Path) -> Option<String> {
        let synced = retry(|| {
            // SAFETY: fsync on an open descriptor.
            if unsafe { libc::fsync(self.fd.as_raw_fd()) } == 0 {
                Ok(())
            } else {
                Err(io::Error::last_os_error())
            }
        });
        synced.err().map(|e| {
            format!(
                "{} was written, but syncing its directory failed ({}): it may not survive a power cut",
                shown.display(),
                Errno::of(&e)
            )
        })
    }

    /// Writes `content` to a new temporary file beside `name` (created
    /// with `O_EXCL | O_NOFOLLOW`, mode and owner set on the descriptor,
    /// synced); [`Staged::commit`] renames it over `name`, and dropping it
    /// uncommitted removes it.
    pub fn stage(
        &self,
        name: &str,
        content: &[u8],
        mode: libc::mode_t,
        owner: Option<(u32, u32)>,
    ) -> Result<Staged<'_>, FsError> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let shown = self.shown(Path::new(name));
        let dest = c_name(OsStr::new(name), &shown)?;
        // Refused now, not at the rename (after other staged files moved).
        if name.len() > 255 {
            return Err(FsError::Io { path: shown, op: "create", errno: Errno(libc::ENAMETOOLONG) });
        }
        self.sweep();
        let (tmp_name, fd, armed) = loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            // Short whatever the name (a 255-byte name still has room).
            let tmp_name = format!(".xtprobe.{}.{n}.tmp", std::process::id());
            let c = c_name(OsStr::new(&tmp_name), &shown)?;
            // Registered before it exists: a signal between the create and
            // the registration would leave it (an unlink of a name not yet
            // created fails harmlessly; one of ours that exists is a dead
            // process's with our PID).
            let armed = super::cleanup::arm(self.fd.as_raw_fd(), &c);
            match openat_raw(
                self.fd.as_raw_fd(),
                &c,
                libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW,
                mode,
            ) {
                Ok(fd) => break (c, fd, armed),
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) && n < 1000 => continue,
                Err(e) => return Err(io_error(&self.shown(Path::new(&tmp_name)), "create", &e)),
            }
        };
        let staged = Staged { dir: self, tmp_name, dest, shown, committed: false, _armed: armed };
        let file = File::from(fd);
        let written = (|| -> Result<(), (&'static str, io::Error)> {
            // SAFETY: fchmod/fchown on an open descriptor.
            if unsafe { libc::fchmod(file.as_raw_fd(), mode) } != 0 {
                return Err(("fchmod", io::Error::last_os_error()));
            }
            if let Some((uid, gid)) = owner {
                // SAFETY: as above.
                if unsafe { libc::fchown(file.as_raw_fd(), uid, gid) } != 0 {
                    return Err(("fchown", io::Error::last_os_error()));
                }
            }
            let mut off = 0;
            while off < content.len() {
                let n = retry(|| file.write_at(&content[off..], off as u64)).map_err(|e| ("write", e))?;
                if n == 0 {
                    return Err(("write", io::Error::from_raw_os_error(libc::EIO)));
                }
                off += n;
            }
            retry(|| file.sync_all()).map_err(|e| ("fsync", e))
        })();
        match written {
            Ok(()) => Ok(staged),
            // Dropping `staged` removes the temporary file.
            Err((op, e)) => Err(io_error(&staged.shown, op, &e)),
        }
    }

    /// Resolves `rel` beneath (or in) this directory with `flags`, the last
    /// component never followed when `flags` has `O_NOFOLLOW`.
    fn resolve(&self, rel: &Path, flags: libc::c_int, scope: Scope) -> Result<OwnedFd, FsError> {
        let shown = self.shown(rel);
        if rel.as_os_str().is_empty() {
            return Err(FsError::Io { path: shown, op: "open", errno: Errno(libc::EINVAL) });
        }
        if scope == Scope::Beneath && rel.is_absolute() {
            return Err(FsError::Escapes { path: shown, dir: self.path.clone() });
        }
        let result = if walk_forced() {
            walk(self.fd.as_fd(), rel, flags, scope)
        } else {
            match openat2(self.fd.as_fd(), rel, flags, scope) {
                // No openat2 (before 5.6), or a seccomp filter that hides it.
                Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EPERM)) => {
                    walk(self.fd.as_fd(), rel, flags, scope)
                }
                other => other,
            }
        };
        result.map_err(|e| match e.raw_os_error() {
            Some(libc::EXDEV) => FsError::Escapes { path: shown.clone(), dir: self.path.clone() },
            // ELOOP is a link in the last component (refused) or too many
            // links; with O_DIRECTORY a link there is ENOTDIR.
            Some(libc::ELOOP | libc::ENOTDIR)
                if flags & libc::O_NOFOLLOW != 0 && self.last_is_symlink(rel, scope) =>
            {
                FsError::Symlink { path: shown.clone() }
            }
            _ => io_error(&shown, "open", &e),
        })
    }

    fn last_is_symlink(&self, rel: &Path, scope: Scope) -> bool {
        let flags = libc::O_PATH | libc::O_NOFOLLOW;
        let fd = if walk_forced() {
            walk(self.fd.as_fd(), rel, flags, scope)
        } else {
            openat2(self.fd.as_fd(), rel, flags, scope).or_else(|_| walk(self.fd.as_fd(), rel, flags, scope))
        };
        fd.and_then(|fd| fstat(fd.as_fd()))
            .is_ok_and(|st| FileKind::from_mode(st.st_mode) == FileKind::Symlink)
    }
}

/// An exclusive lock, released on drop: the `flock` goes with its
/// descriptor; an `O_EXCL` lock file is removed.
#[derive(Debug)]
pub struct Lock {
    _fd: OwnedFd,
    excl: Option<(OwnedFd, CString)>,
    /// The lock file, removed while still held (so no lock file stays
    /// behind; the next holder checks it locked the file the name holds).
    remove: Option<(OwnedFd, CString)>,
}

impl Drop for Lock {
    fn drop(&mut self) {
        if let Some((dir, name)) = self.excl.as_ref().or(self.remove.as_ref()) {
            // SAFETY: valid NUL-terminated name, open dirfd.
            unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), 0) };
        }
    }
}

/// The PID in a temporary file's name: `.xtprobe.PID.N.tmp`, or an older
/// release's `.NAME.PID.N.tmp`.
fn stale_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let mut parts = rest.rsplitn(3, '.');
    let n = parts.next()?;
    let pid = parts.next()?;
    let stem = parts.next()?;
    (!stem.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && !n.is_empty()).then_some(())?;
    pid.parse().ok().filter(|p| *p > 0)
}

/// A file written beside its destination, not yet renamed over it
/// ([`Dir::stage`]).
pub struct Staged<'a> {
    dir: &'a Dir,
    tmp_name: CString,
    dest: CString,
    shown: PathBuf,
    committed: bool,
    // Declared last: unregistered after the file is renamed or removed.
    _armed: super::cleanup::Armed,
}

impl Staged<'_> {
    /// Renames the temporary file over the destination.
    pub fn commit(mut self) -> Result<(), FsError> {
        let dirfd = self.dir.fd.as_raw_fd();
        let renamed = retry(|| {
            // SAFETY: valid NUL-terminated names, open dirfd.
            let rc = unsafe { libc::renameat(dirfd, self.tmp_name.as_ptr(), dirfd, self.dest.as_ptr()) };
            if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
        });
        match renamed {
            Ok(()) => {
                self.committed = true;
                Ok(())
            }
            Err(e) => Err(io_error(&self.shown, "rename", &e)),
        }
    }
}

impl Drop for Staged<'_> {
    fn drop(&mut self) {
        if !self.committed {
            // SAFETY: valid NUL-terminated name, open dirfd.
            unsafe { libc::unlinkat(self.dir.fd.as_raw_fd(), self.tmp_name.as_ptr(), 0) };
        }
    }
}

/// `openat2(dir, rel, {flags, 0, RESOLVE_BENEATH|RESOLVE_NO_MAGICLINKS})`
/// (or `RESOLVE_IN_ROOT`); EAGAIN (a concurrent rename the kernel could not
/// rule out) is retried.
fn openat2(dir: BorrowedFd<'_>, rel: &Path, flags: libc::c_int, scope: Scope) -> io::Result<OwnedFd> {
    let c =
        CString::new(rel.as_os_str().as_bytes()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let resolve = libc::RESOLVE_NO_MAGICLINKS
        | match scope {
            Scope::Beneath => libc::RESOLVE_BENEATH,
            Scope::InRoot => libc::RESOLVE_IN_ROOT,
        };
    // SAFETY: an all-zero open_how is valid; the fields are set below.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (flags | libc::O_CLOEXEC) as u64;
    how.resolve = resolve;
    for _ in 0..16 {
        // SAFETY: `c` is NUL-terminated, `how` is a live open_how of the
        // size passed, and the returned descriptor is owned below.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dir.as_raw_fd(),
                c.as_ptr(),
                &how as *const libc::open_how,
                std::mem::size_of::<libc::open_how>(),
            )
        };
        if fd >= 0 {
            return Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) });
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR | libc::EAGAIN) => continue,
            _ => return Err(e),
        }
    }
    Err(io::Error::from_raw_os_error(libc::EAGAIN))
}

/// How many links one resolution may follow, as the kernel's `MAXSYMLINKS`.
const MAX_LINKS: usize = 40;

/// The component-by-component resolution for kernels without `openat2`:
/// every component is opened with `O_PATH | O_NOFOLLOW` relative to the
/// one before; a link is read and its target resolved the same way, from
/// the directory that holds it (relative) or from the top (absolute:
/// refused beneath, the root in-root); `..` steps back down the stack of
/// open directories and never above the first. Errors use the same
/// errnos as `openat2`: EXDEV for an escape, ELOOP for a link in the last
/// component under `O_NOFOLLOW` or too many links.
pub fn walk(dir: BorrowedFd<'_>, rel: &Path, flags: libc::c_int, scope: Scope) -> io::Result<OwnedFd> {
    let mut stack: Vec<OwnedFd> = vec![dir.try_clone_to_owned()?];
    let mut queue: std::collections::VecDeque<OsString> = std::collections::VecDeque::new();
    push_components(&mut queue, rel, scope, &mut stack)?;
    let mut links = 0;
    while let Some(name) = queue.pop_front() {
        if name == "." {
            continue;
        }
        if name == ".." {
            if stack.len() == 1 {
                match scope {
                    Scope::Beneath => return Err(io::Error::from_raw_os_error(libc::EXDEV)),
                    Scope::InRoot => continue,
                }
            }
            stack.pop();
            continue;
        }
        let top = stack.last().expect("the first directory is never popped").as_raw_fd();
        let c = CString::new(name.as_bytes()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        let last = queue.is_empty();
        let path_fd = openat_raw(top, &c, libc::O_PATH | libc::O_NOFOLLOW, 0)?;
        let st = fstat(path_fd.as_fd())?;
        if FileKind::from_mode(st.st_mode) == FileKind::Symlink {
            if last && flags & libc::O_NOFOLLOW != 0 {
                // O_PATH|O_NOFOLLOW names the link itself, as the kernel does.
                if flags & libc::O_PATH != 0 {
                    return Ok(path_fd);
                }
                return Err(io::Error::from_raw_os_error(libc::ELOOP));
            }
            links += 1;
            if links > MAX_LINKS {
                return Err(io::Error::from_raw_os_error(libc::ELOOP));
            }
            let target = readlinkat(top, &c)?;
            let mut front = std::collections::VecDeque::new();
            push_components(&mut front, Path::new(&target), scope, &mut stack)?;
            while let Some(c) = front.pop_back() {
                queue.push_front(c);
            }
            continue;
        }
        if last {
            // The final open, with the caller's flags, of what was just checked.
            return openat_raw(top, &c, flags | libc::O_NOFOLLOW, 0);
        }
        if FileKind::from_mode(st.st_mode) != FileKind::Directory {
            return Err(io::Error::from_raw_os_error(libc::ENOTDIR));
        }
        stack.push(path_fd);
    }
    // `rel` was only `.`/`..` components: the directory reached itself.
    let top = stack.last().expect("never empty").as_raw_fd();
    openat_raw(top, &CString::new(".").expect("no NUL"), flags & !libc::O_NOFOLLOW, 0)
}

/// Queues the components of `path`; an absolute path restarts at the top
/// (in-root) or is an escape (beneath).
fn push_components(
    queue: &mut std::collections::VecDeque<OsString>,
    path: &Path,
    scope: Scope,
    stack: &mut Vec<OwnedFd>,
) -> io::Result<()> {
    for c in path.components() {
        match c {
            Component::RootDir | Component::Prefix(_) => match scope {
                Scope::Beneath => return Err(io::Error::from_raw_os_error(libc::EXDEV)),
                Scope::InRoot => stack.truncate(1),
            },
            Component::CurDir => {}
            Component::ParentDir => queue.push_back(OsString::from("..")),
            Component::Normal(n) => queue.push_back(n.to_os_string()),
        }
    }
    Ok(())
}

fn readlinkat(dir: RawFd, name: &CString) -> io::Result<OsString> {
    let mut buf = vec![0u8; libc::PATH_MAX as usize];
    // SAFETY: `buf` is writable for its length; name is NUL-terminated.
    let n = unsafe { libc::readlinkat(dir, name.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    buf.truncate(n as usize);
    Ok(OsString::from_vec(buf))
}

/// Serializing paths for reports: a path is bytes, JSON wants UTF-8, so a
/// path that is not UTF-8 is written with U+FFFD where it is not (serde's
/// own impl refuses such a path, which would lose the whole document).
pub mod lossy {
    use std::path::{Path, PathBuf};

    use serde::Serializer;

    /// A path.
    pub fn path<S: Serializer>(p: &Path, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&p.to_string_lossy())
    }

    /// An optional path.
    pub fn opt<S: Serializer>(p: &Option<PathBuf>, s: S) -> Result<S::Ok, S::Error> {
        match p {
            Some(p) => s.serialize_some(&p.to_string_lossy()),
            None => s.serialize_none(),
        }
    }

    /// A list of paths.
    pub fn list<S: Serializer>(v: &[PathBuf], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|p| p.to_string_lossy()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// Files replaced together: when one cannot be written, none is
    /// replaced and no temporary file is left.
    #[test]
    fn write_atomic_all_replaces_all_or_none() {
        let t = tempfile::tempdir().unwrap();
        for n in ["a", "b"] {
            std::fs::write(t.path().join(n), "old").unwrap();
        }
        let dir = Dir::open(t.path()).unwrap();
        let too_long = "c".repeat(300);
        let r = dir.write_atomic_all(&[("a", b"new"), ("b", b"new"), (&too_long, b"new")], 0o644);
        assert!(r.is_err());
        let mut names: Vec<String> = std::fs::read_dir(t.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["a", "b"], "no temporary file left");
        assert_eq!(std::fs::read_to_string(t.path().join("a")).unwrap(), "old");
        dir.write_atomic_all(&[("a", b"new"), ("b", b"new")], 0o644).unwrap();
        assert_eq!(std::fs::read_to_string(t.path().join("b")).unwrap(), "new");
        dir.remove("a").unwrap();
        dir.remove("a").unwrap();
        assert!(!t.path().join("a").exists());
    }

    /// Lines across chunk boundaries, a last line without a newline, an
    /// early stop and the cap.
    #[test]
    fn scan_lines_sees_the_lines_a_whole_read_sees() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("f");
        let mut text = String::new();
        for i in 0..20_000 {
            text.push_str(&format!("ffffffff{i:08x} T symbol_{i}{}\n", "x".repeat(i % 37)));
        }
        text.push_str("last without newline");
        std::fs::write(&p, &text).unwrap();
        let file = open_file(&p).unwrap();
        let mut seen = Vec::new();
        scan_lines(&file, 1 << 30, &p, "test", |l| {
            seen.push(String::from_utf8(l.to_vec()).unwrap());
            false
        })
        .unwrap();
        assert_eq!(seen, text.lines().collect::<Vec<_>>());
        let mut n = 0;
        scan_lines(&file, 1 << 30, &p, "test", |l| {
            n += 1;
            l.starts_with(b"ffffffff00000007")
        })
        .unwrap();
        assert_eq!(n, 8);
        assert!(matches!(scan_lines(&file, 1000, &p, "test", |_| false), Err(FsError::TooLarge { .. })));
    }

    /// A tree with links that stay in and links that lead out.
    fn tree() -> (tempfile::TempDir, tempfile::TempDir) {
        let t = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let r = t.path();
        std::fs::create_dir_all(r.join("a/b")).unwrap();
        std::fs::write(r.join("a/b/file"), b"inside").unwrap();
        std::fs::write(out.path().join("secret"), b"outside").unwrap();
        symlink("b/file", r.join("a/rel-link")).unwrap();
        symlink("a/b", r.join("dirlink")).unwrap();
        symlink("../../../", r.join("a/b/up")).unwrap();
        symlink(out.path().join("secret"), r.join("abs-out")).unwrap();
        symlink("/a/b/file", r.join("abs-in")).unwrap();
        symlink(out.path(), r.join("outdir")).unwrap();
        symlink("loop2", r.join("loop1")).unwrap();
        symlink("loop1", r.join("loop2")).unwrap();
        nix::unistd::mkfifo(&r.join("fifo"), nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        (t, out)
    }

    #[derive(Debug, PartialEq)]
    enum Got {
        Content(String),
        Err(&'static str),
    }

    fn got(d: &Dir, rel: &str) -> Got {
        match d.open_file(Path::new(rel)) {
            Ok(f) => {
                Got::Content(String::from_utf8(read_capped(&f, 100, Path::new(rel), "x").unwrap()).unwrap())
            }
            Err(FsError::Escapes { .. }) => Got::Err("escapes"),
            Err(FsError::Symlink { .. }) => Got::Err("symlink"),
            Err(FsError::NotFound { .. }) => Got::Err("not found"),
            Err(FsError::WrongKind { found, .. }) => Got::Err(found.describe()),
            Err(FsError::Io { errno, .. }) if errno.0 == libc::ELOOP => Got::Err("loop"),
            Err(e) => panic!("{rel}: {e}"),
        }
    }

    /// The same table through openat2 and through the walk: the walk must
    /// agree with the kernel.
    #[test]
    fn beneath_resolution_table_kernel_and_walk_agree() {
        let (t, _out) = tree();
        let d = Dir::open(t.path()).unwrap();
        let table: &[(&str, Got)] = &[
            ("a/b/file", Got::Content("inside".into())),
            ("dirlink/file", Got::Content("inside".into())),
            ("a/../a/b/file", Got::Content("inside".into())),
            ("a/rel-link", Got::Err("symlink")), // last component: never followed
            ("abs-out", Got::Err("symlink")),
            ("outdir/secret", Got::Err("escapes")),
            ("a/b/up/etc/passwd", Got::Err("escapes")),
            ("../x", Got::Err("escapes")),
            ("abs-in", Got::Err("symlink")),
            ("loop1/x", Got::Err("loop")),
            ("fifo", Got::Err("a FIFO (named pipe)")),
            ("a", Got::Err("a directory")),
            ("nope", Got::Err("not found")),
        ];
        for walk in [false, true] {
            force_walk(walk);
            for (rel, want) in table {
                assert_eq!(&got(&d, rel), want, "{rel} (walk: {walk})");
            }
        }
        force_walk(false);
    }

    #[test]
    fn the_lock_file_fallback_excludes_and_clears_stale_owners() {
        let t = tempfile::tempdir().unwrap();
        let d = Dir::open(t.path()).unwrap();
        let far = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let held = d.lock_excl("x.excl", far).unwrap();
        let soon = std::time::Instant::now() + std::time::Duration::from_millis(50);
        assert!(d.lock_excl("x.excl", soon).is_err(), "held by a live process: wait, then give up");
        drop(held);
        assert!(!t.path().join("x.excl").exists(), "released on drop");
        // A lock left by a process that is gone is taken over.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        std::fs::write(t.path().join("x.excl"), format!("{dead}\n")).unwrap();
        let taken = d.lock_excl("x.excl", far).unwrap();
        assert_eq!(
            std::fs::read_to_string(t.path().join("x.excl")).unwrap(),
            format!("{}\n", std::process::id())
        );
        drop(taken);
        // flock itself: a second taker waits for the first.
        let a = d.lock("y.lock", std::time::Duration::from_secs(5)).unwrap();
        let other = Dir::open(t.path()).unwrap();
        assert!(other.lock("y.lock", std::time::Duration::from_millis(50)).is_err());
        drop(a);
        assert!(other.lock("y.lock", std::time::Duration::from_millis(50)).is_ok());
    }

    #[test]
    fn in_root_keeps_absolute_links_inside() {
        let (t, _out) = tree();
        let d = Dir::open(t.path()).unwrap();
        for walk in [false, true] {
            force_walk(walk);
            assert_eq!(d.kind_of(Path::new("abs-in"), Scope::InRoot).map(|k| k.0), Some(FileKind::Regular));
            assert_eq!(d.kind_of(Path::new("abs-in"), Scope::Beneath), None, "walk {walk}");
            // An absolute link to a path outside lands inside the root, where nothing is.
            assert_eq!(d.kind_of(Path::new("abs-out"), Scope::InRoot), None);
        }
        force_walk(false);
    }

    #[test]
    fn open_file_refuses_fifos_devices_links_and_caps_reads() {
        let (t, _out) = tree();
        let r = t.path();
        // A FIFO with no writer: refused at once, never waited on.
        assert!(matches!(open_file(&r.join("fifo")), Err(FsError::WrongKind { found: FileKind::Fifo, .. })));
        assert!(matches!(
            open_file(Path::new("/dev/zero")),
            Err(FsError::WrongKind { found: FileKind::CharDevice, .. })
        ));
        assert!(matches!(open_file(&r.join("a/rel-link")), Err(FsError::Symlink { .. })));
        assert!(matches!(
            open_file(&r.join("a")),
            Err(FsError::WrongKind { found: FileKind::Directory, .. })
        ));
        let f = open_file(&r.join("a/b/file")).unwrap();
        let e = read_capped(&f, 3, Path::new("f"), "a test file").unwrap_err();
        assert_eq!(e.to_string(), "f: larger than 3 bytes, the limit for a test file; refusing to read it");
        assert_eq!(read_capped(&f, 6, Path::new("f"), "x").unwrap(), b"inside", "the limit itself is fine");
        // /proc files claim size 0; the cap, not the size, decides.
        let cmdline = read_file(Path::new("/proc/self/cmdline"), 1 << 20, "x").unwrap();
        assert!(!cmdline.is_empty());
    }

    #[test]
    fn atomic_write_sets_mode_despite_umask_and_refuses_links() {
        let t = tempfile::tempdir().unwrap();
        let d = Dir::open(t.path()).unwrap();
        let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
        let sub = d.subdir_create("etc", 0o755).unwrap();
        let warn = sub.write_atomic("x.conf", b"hello\n", 0o644, None).unwrap();
        nix::sys::stat::umask(old);
        assert_eq!(warn, None);
        let meta = std::fs::metadata(t.path().join("etc/x.conf")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(meta.permissions().mode() & 0o777, 0o644);
        assert_eq!(std::fs::read(t.path().join("etc/x.conf")).unwrap(), b"hello\n");
        assert_eq!(std::fs::read_dir(t.path().join("etc")).unwrap().count(), 1, "no temporary file left");

        symlink("/tmp", t.path().join("link")).unwrap();
        assert!(matches!(d.subdir_create("link", 0o755), Err(FsError::Symlink { .. })));
        symlink("/etc/passwd", t.path().join("etc/y.conf")).unwrap();
        assert!(matches!(sub.open_existing("y.conf"), Err(FsError::Symlink { .. })));
        assert!(sub.open_existing("missing").unwrap().is_none());
        let names: Vec<_> = sub.entries().unwrap().into_iter().map(|e| (e.name, e.kind)).collect();
        assert!(names.contains(&(OsString::from("y.conf"), FileKind::Symlink)));
    }
}
