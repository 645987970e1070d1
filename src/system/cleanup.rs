//! Temporary files removed when xtprobe is interrupted.
//!
//! Every write goes through a temporary file beside its destination
//! ([`super::fs::Dir::stage`]). If SIGINT, SIGTERM or SIGHUP ends the
//! process between creating it and renaming it, the file would stay (a
//! modules directory collected hundreds of megabytes that way). So each
//! temporary file is registered here while it exists ([`arm`]), and a
//! handler installed on first use unlinks every registered file, then
//! restores the default action and raises the signal again: the process
//! still ends by that signal, with nothing left behind. A signal the
//! process ignores (`nohup`) stays ignored.
//!
//! The handler only reads fixed slots and calls `unlinkat`, `sigaction`
//! and `raise`, all async-signal-safe. Files a process killed outright
//! (SIGKILL, a power cut) leaves are swept by the next write to the same
//! directory ([`super::fs::Dir::stage`]: a temporary file of a process
//! that no longer exists, older than a minute).

use std::ffi::CStr;
use std::os::fd::RawFd;
use std::sync::Once;
use std::sync::atomic::{AtomicI32, AtomicU8, Ordering};

/// The most temporary files alive at once (index stages three).
const SLOTS: usize = 16;
/// The longest temporary name ([`super::fs::Dir::stage`] uses
/// `.xtprobe.PID.N.tmp`).
pub const NAME_MAX: usize = 48;

const FREE: u8 = 0;
const FILLING: u8 = 1;
const ARMED: u8 = 2;

struct Slot {
    state: AtomicU8,
    dirfd: AtomicI32,
    name: std::cell::UnsafeCell<[u8; NAME_MAX + 1]>,
}

// SAFETY: `name` is written only by the thread that moved `state` from
// FREE to FILLING, and read (by the handler) only in state ARMED.
unsafe impl Sync for Slot {}

#[allow(clippy::declare_interior_mutable_const)]
const EMPTY: Slot = Slot {
    state: AtomicU8::new(FREE),
    dirfd: AtomicI32::new(-1),
    name: std::cell::UnsafeCell::new([0; NAME_MAX + 1]),
};
static TABLE: [Slot; SLOTS] = [EMPTY; SLOTS];
static INSTALL: Once = Once::new();

/// A registered temporary file; dropping it unregisters it (the file
/// itself is the owner's to rename or remove).
#[derive(Debug)]
pub struct Armed(Option<usize>);

impl Drop for Armed {
    fn drop(&mut self) {
        if let Some(i) = self.0 {
            TABLE[i].state.store(FREE, Ordering::Release);
        }
    }
}

/// Registers `name` in the directory `dirfd` for removal if a signal ends
/// the process. A name too long, or no free slot, is not registered (the
/// next write's sweep still finds the file).
pub fn arm(dirfd: RawFd, name: &CStr) -> Armed {
    INSTALL.call_once(install);
    let bytes = name.to_bytes_with_nul();
    if bytes.len() > NAME_MAX + 1 {
        return Armed(None);
    }
    for (i, slot) in TABLE.iter().enumerate() {
        if slot.state.compare_exchange(FREE, FILLING, Ordering::Acquire, Ordering::Relaxed).is_ok() {
            // SAFETY: this thread owns the slot while it is FILLING.
            unsafe { (&mut *slot.name.get())[..bytes.len()].copy_from_slice(bytes) };
            slot.dirfd.store(dirfd, Ordering::Relaxed);
            slot.state.store(ARMED, Ordering::Release);
            return Armed(Some(i));
        }
    }
    Armed(None)
}

const SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

fn install() {
    for sig in SIGNALS {
        // SAFETY: reading and setting this process's signal dispositions;
        // the handler is async-signal-safe (see the module docs).
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig, std::ptr::null(), &mut old) != 0 || old.sa_sigaction != libc::SIG_DFL {
                continue;
            }
            let mut new: libc::sigaction = std::mem::zeroed();
            new.sa_sigaction = on_signal as *const () as libc::sighandler_t;
            libc::sigemptyset(&mut new.sa_mask);
            for s in SIGNALS {
                libc::sigaddset(&mut new.sa_mask, s);
            }
            libc::sigaction(sig, &new, std::ptr::null_mut());
        }
    }
}

extern "C" fn on_signal(sig: libc::c_int) {
    for slot in &TABLE {
        if slot.state.load(Ordering::Acquire) == ARMED {
            // SAFETY: an ARMED slot holds a NUL-terminated name and an open
            // directory descriptor; unlinkat is async-signal-safe.
            unsafe {
                libc::unlinkat(slot.dirfd.load(Ordering::Relaxed), (*slot.name.get()).as_ptr().cast(), 0)
            };
        }
    }
    // SAFETY: async-signal-safe calls; the default action then ends the
    // process as the signal would have.
    unsafe {
        let mut dfl: libc::sigaction = std::mem::zeroed();
        dfl.sa_sigaction = libc::SIG_DFL;
        libc::sigaction(sig, &dfl, std::ptr::null_mut());
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, sig);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(sig);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_freed_and_long_names_are_not_registered() {
        let name = c".xtprobe.1.0.tmp";
        let g = arm(-1, name);
        let i = g.0.expect("a free slot");
        assert_eq!(TABLE[i].state.load(Ordering::Acquire), ARMED);
        drop(g);
        assert_eq!(TABLE[i].state.load(Ordering::Acquire), FREE);
        let long = std::ffi::CString::new("x".repeat(NAME_MAX + 1)).unwrap();
        assert!(arm(-1, &long).0.is_none());
    }
}
