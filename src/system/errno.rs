//! `errno` values as a type: printed by their symbolic name (`ENOENT`),
//! serialized as that name in JSON, and a retry helper for `EINTR`.
//!
//! Every layer above uses this one type, so an errno read from a netlink
//! `NLMSG_ERROR`, a `getsockopt`, `finit_module` or `open` looks the same
//! in every report.

use std::fmt;
use std::io;

use serde::Serialize;

/// A positive errno value that prints as its symbolic name (`ENOENT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Errno(pub i32);

impl Errno {
    /// The symbolic name, or `E<number>` for values nix does not know.
    pub fn name(self) -> String {
        let e = nix::errno::Errno::from_raw(self.0);
        if e == nix::errno::Errno::UnknownErrno { format!("E{}", self.0) } else { format!("{e:?}") }
    }

    /// The C library's description ("No such file or directory").
    pub fn description(self) -> &'static str {
        nix::errno::Errno::from_raw(self.0).desc()
    }

    /// The errno of a std I/O error (`EIO` when it carries none).
    pub fn of(e: &io::Error) -> Errno {
        Errno(e.raw_os_error().unwrap_or(libc::EIO))
    }

    /// The calling thread's `errno` right after a failed libc call.
    pub fn last() -> Errno {
        Errno::of(&io::Error::last_os_error())
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.description())
    }
}

impl Serialize for Errno {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

/// Runs `op` again for as long as it fails with `EINTR`: a signal that
/// interrupted a system call is not an answer.
pub fn retry<T, E: IsInterrupted>(mut op: impl FnMut() -> Result<T, E>) -> Result<T, E> {
    loop {
        match op() {
            Err(e) if e.is_interrupted() => continue,
            other => return other,
        }
    }
}

/// Errors that can say "interrupted by a signal".
pub trait IsInterrupted {
    /// Whether this is `EINTR`.
    fn is_interrupted(&self) -> bool;
}

impl IsInterrupted for io::Error {
    fn is_interrupted(&self) -> bool {
        self.kind() == io::ErrorKind::Interrupted
    }
}

impl IsInterrupted for Errno {
    fn is_interrupted(&self) -> bool {
        self.0 == libc::EINTR
    }
}

impl IsInterrupted for i32 {
    fn is_interrupted(&self) -> bool {
        *self == libc::EINTR
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_retry() {
        assert_eq!(Errno(libc::ENOENT).name(), "ENOENT");
        assert_eq!(Errno(4242).name(), "E4242");
        assert_eq!(Errno(libc::EPERM).to_string(), "EPERM (Operation not permitted)");
        let mut calls = 0;
        let r: Result<u8, i32> = retry(|| {
            calls += 1;
            if calls < 3 { Err(libc::EINTR) } else { Ok(7) }
        });
        assert_eq!((r, calls), (Ok(7), 3), "EINTR is retried, the answer kept");
        let mut calls = 0;
        let r: Result<u8, Errno> = retry(|| {
            calls += 1;
            Err(Errno(libc::EAGAIN))
        });
        assert_eq!((r, calls), (Err(Errno(libc::EAGAIN)), 1), "other errors are returned at once");
    }
}
