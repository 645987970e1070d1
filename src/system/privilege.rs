//! Keeping only the capabilities a command needs.
//!
//! xtprobe runs as root, but a command needs little of root: `check` only
//! `CAP_NET_ADMIN` (and `CAP_NET_RAW` for the legacy backend), `load` only
//! `CAP_SYS_MODULE` (and, to update a file under `--root`, the file
//! capabilities). [`restrict`] runs first thing, before any file is parsed:
//! it drops every other capability from the bounding, inheritable, ambient,
//! permitted and effective sets and sets `PR_SET_NO_NEW_PRIVS`, so nothing
//! a hostile input could steer can use the rest. What was kept is reported
//! (`--json` carries it).

use caps::{CapSet, Capability, CapsHashSet};
use serde::Serialize;

/// What [`restrict`] left and did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Privileges {
    /// The capabilities still permitted (and effective), by name.
    pub kept: Vec<String>,
    /// Whether `PR_SET_NO_NEW_PRIVS` is set.
    pub no_new_privs: bool,
    /// What could not be done (for instance the bounding set without
    /// `CAP_SETPCAP`); the permitted and effective sets are dropped anyway.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Where the probes ran, for the commands that probe
    /// ([`super::netns`]); shown beside the privileges as `probes`.
    #[serde(skip)]
    pub probes: Option<super::netns::ProbeNamespace>,
}

/// `CAP_NET_ADMIN`: nfnetlink and the legacy getsockopt.
pub const NET_ADMIN: Capability = Capability::CAP_NET_ADMIN;
/// `CAP_NET_RAW`: the raw socket the legacy getsockopt is asked on.
pub const NET_RAW: Capability = Capability::CAP_NET_RAW;
/// `CAP_SYS_MODULE`: `finit_module`/`init_module`.
pub const SYS_MODULE: Capability = Capability::CAP_SYS_MODULE;
/// What updating a file under `--root` may need: writing a directory not
/// owned by root, keeping another owner's file owner, setting its mode.
pub const FILE_WRITE: [Capability; 3] =
    [Capability::CAP_DAC_OVERRIDE, Capability::CAP_CHOWN, Capability::CAP_FOWNER];

/// Drops every capability but `keep` (those of `keep` this process has),
/// from every set, and sets no-new-privileges.
pub fn restrict(keep: &[Capability]) -> Privileges {
    let mut notes = Vec::new();
    let permitted = caps::read(None, CapSet::Permitted).unwrap_or_default();
    let kept: CapsHashSet = keep.iter().copied().filter(|c| permitted.contains(c)).collect();
    // The bounding set first: dropping from it needs CAP_SETPCAP, which is
    // about to go.
    let bounding = caps::read(None, CapSet::Bounding).unwrap_or_default();
    let mut bounding_failed = false;
    for cap in bounding.iter().filter(|c| !keep.contains(c)) {
        if caps::drop(None, CapSet::Bounding, *cap).is_err() {
            bounding_failed = true;
        }
    }
    if bounding_failed {
        notes.push("the bounding set could not be narrowed (no CAP_SETPCAP)".to_string());
    }
    // SAFETY: prctl(PR_SET_NO_NEW_PRIVS) changes only this process's flags.
    let no_new_privs = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } == 0;
    if caps::clear(None, CapSet::Ambient).is_err() {
        notes.push("the ambient set could not be cleared".to_string());
    }
    if caps::clear(None, CapSet::Inheritable).is_err() {
        notes.push("the inheritable set could not be cleared".to_string());
    }
    // Effective before permitted: effective must stay a subset.
    for set in [CapSet::Effective, CapSet::Permitted] {
        if let Err(e) = caps::set(None, set, &kept) {
            notes.push(format!("the {set:?} set could not be narrowed: {e}"));
        }
    }
    let mut names: Vec<String> = kept.iter().map(|c| c.to_string()).collect();
    names.sort();
    Privileges { kept: names, no_new_privs, notes, probes: None }
}

/// Narrows what [`restrict`] kept to `keep`, once the command knows it
/// needs less (check after reading a profile that asks nothing of the
/// legacy backend): dropped from the permitted and effective sets (the
/// bounding set can no longer change; no-new-privileges holds).
pub fn narrow(p: &mut Privileges, keep: &[Capability]) {
    let permitted = caps::read(None, CapSet::Permitted).unwrap_or_default();
    let kept: CapsHashSet = permitted.iter().copied().filter(|c| keep.contains(c)).collect();
    for set in [CapSet::Effective, CapSet::Permitted] {
        if let Err(e) = caps::set(None, set, &kept) {
            p.notes.push(format!("the {set:?} set could not be narrowed: {e}"));
        }
    }
    let mut names: Vec<String> = kept.iter().map(|c| c.to_string()).collect();
    names.sort();
    p.kept = names;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs in a child process: dropping is for good.
    #[test]
    fn only_what_is_kept_remains_in_every_set() {
        // SAFETY: the child only calls restrict and reads its own state,
        // then exits without returning to the test harness.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                let p = restrict(&[NET_ADMIN]);
                let ok = p.no_new_privs
                    && caps::read(None, CapSet::Effective).unwrap().iter().all(|c| *c == NET_ADMIN)
                    && caps::read(None, CapSet::Permitted).unwrap().iter().all(|c| *c == NET_ADMIN)
                    && caps::read(None, CapSet::Inheritable).unwrap().is_empty()
                    && (!nix::unistd::geteuid().is_root()
                        || caps::read(None, CapSet::Bounding).unwrap().iter().all(|c| *c == NET_ADMIN));
                unsafe { libc::_exit(if ok { 0 } else { 1 }) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                let status = nix::sys::wait::waitpid(child, None).unwrap();
                assert_eq!(status, nix::sys::wait::WaitStatus::Exited(child, 0));
            }
        }
    }
}
