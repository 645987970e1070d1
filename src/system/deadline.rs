//! Deadlines that hold even when the kernel does not return.
//!
//! Some kernel work runs inside the system call that asked for it and no
//! socket timeout can cut it short: a netlink request or a legacy
//! `getsockopt` for an extension the kernel does not know makes it run its
//! module autoloader (`kernel.modprobe`) synchronously, inside `send`;
//! `finit_module` runs the module's init. So the work runs on a worker
//! thread ([`within`]) while the caller waits until the deadline. If the
//! worker is still busy then, the caller reports what it was doing
//! ([`Deadline::doing`]) and the command ends; ending the process ends the
//! thread too, since those waits in the kernel are killable.
//!
//! Work with lasting effects checks the deadline before each step and
//! starts none after it ([`Deadline::expired`]), and records what it did
//! as it goes ([`Deadline::record_loaded`]): a module loaded before the
//! deadline is reported (and persisted where asked) even when the report
//! itself could not be finished. What cannot be bounded: a module init
//! that the kernel is still running when the deadline passes (a system
//! call that does not return); that module is named as in flight, and may
//! finish loading after xtprobe has exited.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// When the work must be done by, and what it is doing now.
#[derive(Debug, Clone)]
pub struct Deadline {
    at: Instant,
    budget: Duration,
    doing: Arc<Mutex<String>>,
    loaded: Arc<Mutex<Vec<(String, bool)>>>,
}

impl Deadline {
    /// `budget` from now.
    pub fn after(budget: Duration) -> Self {
        Self {
            at: Instant::now() + budget,
            budget,
            doing: Arc::new(Mutex::new(String::new())),
            loaded: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// The moment it passes.
    pub fn at(&self) -> Instant {
        self.at
    }

    /// How long it was set for.
    pub fn budget(&self) -> Duration {
        self.budget
    }

    /// Time left (zero once passed).
    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    /// Whether it has passed.
    pub fn expired(&self) -> bool {
        Instant::now() >= self.at
    }

    /// Records what the work is about to wait on (a sentence naming the
    /// question or the module), so a timeout can name it.
    pub fn doing(&self, what: impl Into<String>) {
        if let Ok(mut d) = self.doing.lock() {
            *d = what.into();
        }
    }

    /// Records a module the work loaded, and whether it was asked for by
    /// name (what `--persist` records), for the report if the deadline
    /// passes before the work is done.
    pub fn record_loaded(&self, module: &str, requested: bool) {
        if let Ok(mut l) = self.loaded.lock() {
            l.push((module.to_string(), requested));
        }
    }

    /// The modules the work loaded so far, in order, each with whether it
    /// was asked for.
    pub fn loaded(&self) -> Vec<(String, bool)> {
        self.loaded.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// What the work last said it was doing.
    pub fn pending(&self) -> String {
        self.doing.lock().map(|d| d.clone()).unwrap_or_default()
    }
}

/// Runs `work` on a thread of its own and returns its result, or, if the
/// deadline passes first, `Err` with what it was doing. The thread is left
/// behind (it ends with the process).
pub fn within<T: Send + 'static>(
    deadline: &Deadline,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    let (tx, rx) = mpsc::channel();
    let spawned = std::thread::Builder::new().name("xtprobe-work".into()).spawn(move || {
        let _ = tx.send(work());
    });
    if spawned.is_err() {
        return Err("starting a worker thread failed".to_string());
    }
    match rx.recv_timeout(deadline.remaining()) {
        Ok(v) => Ok(v),
        Err(_) => Err(deadline.pending()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stuck_worker_is_abandoned_at_the_deadline_with_what_it_was_doing() {
        let d = Deadline::after(Duration::from_millis(100));
        let inner = d.clone();
        let start = Instant::now();
        let r: Result<(), String> = within(&d, move || {
            inner.doing("asking about match:stuck");
            std::thread::sleep(Duration::from_secs(30));
        });
        assert_eq!(r, Err("asking about match:stuck".to_string()));
        assert!(start.elapsed() < Duration::from_secs(5), "{:?}", start.elapsed());
        let quick = Deadline::after(Duration::from_secs(5));
        assert_eq!(within(&quick, || 7), Ok(7));
    }
}
