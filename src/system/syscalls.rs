//! The few system calls no safe wrapper covers, kept in one place so every
//! `unsafe` block in the crate can be reviewed together.
//!
//! Everything else goes through `nix` (sockets, uname, finit/init_module)
//! or `neli` (the netlink socket).

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

use nix::sys::socket::{setsockopt, sockopt};
use nix::sys::time::TimeVal;

/// Sets `SO_RCVTIMEO` on a socket that `owner` keeps open.
///
/// neli's socket exposes only a raw descriptor; borrowing it is sound
/// because `owner` outlives this call.
pub fn set_receive_timeout(owner: &impl AsRawFd, timeout: Duration) -> io::Result<()> {
    // SAFETY: `owner` holds the descriptor open for the duration of the call.
    let fd = unsafe { BorrowedFd::borrow_raw(owner.as_raw_fd()) };
    let tv = TimeVal::new(timeout.as_secs() as _, timeout.subsec_micros() as _);
    setsockopt(&fd, sockopt::ReceiveTimeout, &tv).map_err(io::Error::from)
}

/// `struct xt_get_revision` from `include/uapi/linux/netfilter/x_tables.h`:
/// exactly 30 bytes, `char name[29]; __u8 revision;`. The kernel rejects any
/// other `optlen` with EINVAL.
#[repr(C)]
struct XtGetRevision {
    name: [u8; 29],
    revision: u8,
}

const _: () = assert!(std::mem::size_of::<XtGetRevision>() == 30);

/// `getsockopt(fd, level, optname, struct xt_get_revision)`. The kernel
/// answers 0 (revision known) or an errno; it never returns the best
/// revision through this interface.
///
/// `name` must be shorter than 29 bytes; callers validate it first.
pub fn get_revision(fd: RawFd, level: i32, optname: i32, name: &str, revision: u8) -> io::Result<()> {
    let mut arg = XtGetRevision { name: [0; 29], revision };
    let bytes = name.as_bytes();
    if bytes.len() >= arg.name.len() {
        return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
    }
    arg.name[..bytes.len()].copy_from_slice(bytes);
    // A signal while the kernel runs modprobe for an unknown name is not
    // an answer: ask again.
    super::errno::retry(|| {
        let mut len = std::mem::size_of::<XtGetRevision>() as libc::socklen_t;
        // SAFETY: `arg` is a live, writable, correctly sized buffer and `len`
        // holds its size; the kernel writes at most `len` bytes.
        let rc =
            unsafe { libc::getsockopt(fd, level, optname, (&raw mut arg).cast::<libc::c_void>(), &mut len) };
        if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
    })
}

/// `getsockopt(fd, level, optname, buf)` with `buf` as both input (the
/// kernel reads a request from it: ip_tables' `*_SO_GET_INFO` and
/// `*_SO_GET_ENTRIES` take the table name there) and output. Returns the
/// length the kernel reports.
pub fn get_sockopt_buf(fd: RawFd, level: i32, optname: i32, buf: &mut [u8]) -> io::Result<usize> {
    super::errno::retry(|| {
        let mut len =
            libc::socklen_t::try_from(buf.len()).map_err(|_| io::Error::from_raw_os_error(libc::E2BIG))?;
        // SAFETY: `buf` is a live, writable buffer of `len` bytes; the kernel
        // writes at most `len` bytes.
        let rc = unsafe {
            libc::getsockopt(fd, level, optname, buf.as_mut_ptr().cast::<libc::c_void>(), &mut len)
        };
        if rc == 0 { Ok(len as usize) } else { Err(io::Error::last_os_error()) }
    })
}

/// Receives up to `bufs.len()` datagrams with one `recvmmsg(MSG_WAITFORONE)`:
/// it blocks (up to the socket's receive timeout) for the first datagram
/// and then takes whatever else is already queued. Returns the length of
/// each datagram received, in order; a datagram larger than its buffer is
/// reported as `EMSGSIZE` rather than silently cut.
pub fn recv_many<const N: usize>(owner: &impl AsRawFd, bufs: &mut [[u8; N]]) -> io::Result<Vec<usize>> {
    let mut iovecs: Vec<libc::iovec> =
        bufs.iter_mut().map(|b| libc::iovec { iov_base: b.as_mut_ptr().cast(), iov_len: b.len() }).collect();
    // SAFETY: an all-zero mmsghdr is a valid "no name, no control" header.
    let mut headers: Vec<libc::mmsghdr> = (0..bufs.len()).map(|_| unsafe { std::mem::zeroed() }).collect();
    for (h, iov) in headers.iter_mut().zip(iovecs.iter_mut()) {
        h.msg_hdr.msg_iov = iov;
        h.msg_hdr.msg_iovlen = 1;
    }
    // SAFETY: every header points at one live iovec, which points at a live
    // buffer of the stated length; all outlive the call.
    let n = unsafe {
        libc::recvmmsg(
            owner.as_raw_fd(),
            headers.as_mut_ptr(),
            headers.len() as libc::c_uint,
            // c_int on glibc, c_uint on musl: the same bits either way.
            libc::MSG_WAITFORONE as _,
            std::ptr::null_mut(),
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let headers = &headers[..n as usize];
    if headers.iter().any(|h| h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0) {
        return Err(io::Error::from_raw_os_error(libc::EMSGSIZE));
    }
    Ok(headers.iter().map(|h| h.msg_len as usize).collect())
}

/// `MODULE_INIT_COMPRESSED_FILE` (include/uapi/linux/module.h, Linux 5.17):
/// the kernel decompresses the file itself. Neither libc nor nix defines it.
pub const MODULE_INIT_COMPRESSED_FILE: u32 = 4;

/// Whether the running kernel can load modules, by the syscall's own answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModuleSupport {
    /// `finit_module` exists and this process may call it.
    Yes,
    /// `finit_module` exists, but EPERM: no `CAP_SYS_MODULE` here, or
    /// `kernel.modules_disabled` is set.
    NotAllowed,
    /// ENOSYS: the kernel was built without `CONFIG_MODULES`.
    Absent,
}

/// The module-loading system calls, behind a trait so the loader's
/// decisions (fallbacks, EEXIST, EBUSY) can be tested on a kernel without
/// module support, like this project's build machine.
pub trait ModuleSyscalls {
    /// `finit_module(fd, params, flags)`.
    fn finit_module(&self, file: &std::fs::File, params: &std::ffi::CStr, flags: u32) -> Result<(), i32>;
    /// `init_module(image, len, params)`.
    fn init_module(&self, image: &[u8], params: &std::ffi::CStr) -> Result<(), i32>;
    /// Asks the kernel whether it loads modules at all, loading nothing:
    /// `finit_module(-1, "", 0)` fails with ENOSYS without module support,
    /// EPERM when not allowed, and EBADF (the descriptor) otherwise. Works
    /// without `/proc` (early initramfs).
    fn module_support(&self) -> ModuleSupport;
}

/// The real system calls, through nix.
#[derive(Debug, Default, Clone, Copy)]
pub struct KernelSyscalls;

impl ModuleSyscalls for KernelSyscalls {
    fn finit_module(&self, file: &std::fs::File, params: &std::ffi::CStr, flags: u32) -> Result<(), i32> {
        // Only the flags named above are ever passed: never the IGNORE_*
        // flags, which taint the kernel and void module signatures.
        let flags = nix::kmod::ModuleInitFlags::from_bits_retain(flags);
        super::errno::retry(|| nix::kmod::finit_module(file, params, flags).map_err(|e| e as i32))
    }

    fn init_module(&self, image: &[u8], params: &std::ffi::CStr) -> Result<(), i32> {
        super::errno::retry(|| nix::kmod::init_module(image, params).map_err(|e| e as i32))
    }

    fn module_support(&self) -> ModuleSupport {
        // SAFETY: fd -1 is never valid; the kernel checks permission, then
        // the descriptor, and loads nothing.
        let rc = unsafe {
            libc::syscall(libc::SYS_finit_module, -1 as libc::c_int, c"".as_ptr(), 0 as libc::c_int)
        };
        match (rc, super::Errno::last().0) {
            (0, _) => ModuleSupport::Yes,
            (_, libc::ENOSYS) => ModuleSupport::Absent,
            (_, libc::EPERM) => ModuleSupport::NotAllowed,
            _ => ModuleSupport::Yes,
        }
    }
}

/// A kernel that answers only the support question (for unit tests of
/// code that reads the host's policy but never loads).
#[cfg(test)]
pub struct Support(pub ModuleSupport);

#[cfg(test)]
impl ModuleSyscalls for Support {
    fn finit_module(&self, _: &std::fs::File, _: &std::ffi::CStr, _: u32) -> Result<(), i32> {
        Err(libc::ENOSYS)
    }
    fn init_module(&self, _: &[u8], _: &std::ffi::CStr) -> Result<(), i32> {
        Err(libc::ENOSYS)
    }
    fn module_support(&self) -> ModuleSupport {
        self.0
    }
}
