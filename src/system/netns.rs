//! Asking from a throw-away network namespace.
//!
//! nf_tables checks a rule's expressions by running their `init` even in a
//! validate-only batch that is never committed: `ct`, `connlimit`, `nat`,
//! `masq`, `redir`, `synproxy` register conntrack (and defrag) hooks in the
//! namespace of the socket that asks, for as long as the batch lives;
//! connections seen meanwhile are tracked for good, and before 5.13 the
//! defrag hooks stay. A legacy `IPT_SO_GET_INFO` for a table instantiates
//! the table in that namespace. The registries asked about (matches,
//! targets, expression types, chain types, set and ipset types, loggers,
//! helpers) are global, so the answers are the same from any namespace.
//!
//! [`isolate`] moves the calling thread (and every thread and socket it
//! makes afterwards) into a new, empty network namespace. It needs
//! `CAP_SYS_ADMIN` (in the namespace's owning user namespace), so the
//! commands that probe call it before they drop capabilities. Where it is
//! refused (a container without `CAP_SYS_ADMIN`), the probes run in the
//! caller's namespace and the report says so. `capture` reads the caller's
//! own ruleset and never isolates.

use serde::Serialize;

/// Where the probes ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "namespace", rename_all = "kebab-case")]
pub enum ProbeNamespace {
    /// A new, empty network namespace, gone when xtprobe exits.
    Fresh,
    /// The caller's own: a fresh one could not be made.
    Caller {
        /// Why (the errno of `unshare`), and what that means.
        note: String,
    },
}

impl ProbeNamespace {
    /// The line a text report shows (none when isolated).
    pub fn text_note(&self) -> Option<&str> {
        match self {
            ProbeNamespace::Fresh => None,
            ProbeNamespace::Caller { note } => Some(note),
        }
    }
}

/// Moves this thread into a new network namespace; see the module docs.
pub fn isolate() -> ProbeNamespace {
    match nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET) {
        Ok(()) => ProbeNamespace::Fresh,
        Err(e) => ProbeNamespace::Caller { note: caller_note(e) },
    }
}

fn caller_note(e: nix::Error) -> String {
    format!(
        "probes ran in this network namespace: a fresh one could not be made (unshare: {}{}); \
         the probes of ct, connlimit, nat, masquerade, redirect and synproxy register conntrack hooks here \
         while they run",
        e.desc(),
        match e {
            nix::Error::EPERM => ", no CAP_SYS_ADMIN",
            nix::Error::EINVAL => ", a kernel without network namespaces: CONFIG_NET_NS",
            _ => "",
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fallback_names_the_cause() {
        let n = ProbeNamespace::Caller { note: caller_note(nix::Error::EPERM) };
        assert!(n.text_note().unwrap().contains("no CAP_SYS_ADMIN"));
        assert_eq!(ProbeNamespace::Fresh.text_note(), None);
        assert_eq!(serde_json::to_string(&ProbeNamespace::Fresh).unwrap(), r#"{"namespace":"fresh"}"#);
    }

    /// In a thread of its own: the namespace is the thread's.
    #[test]
    fn isolate_gives_a_namespace_of_its_own() {
        if !nix::unistd::geteuid().is_root() {
            return;
        }
        let before = std::fs::read_link("/proc/thread-self/ns/net").unwrap();
        let after = std::thread::spawn(|| {
            assert_eq!(isolate(), ProbeNamespace::Fresh);
            std::fs::read_link("/proc/thread-self/ns/net").unwrap()
        })
        .join()
        .unwrap();
        assert_ne!(before, after);
        assert_eq!(std::fs::read_link("/proc/thread-self/ns/net").unwrap(), before);
    }
}
