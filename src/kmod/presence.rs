//! Whether the running kernel has a subsystem, told without asking it.
//!
//! Asking nfnetlink for nf_tables or ipset on a kernel that has neither
//! makes the kernel autoload them; `capture` must not load anything. So
//! it asks only on evidence that the subsystem is there, and calls it
//! absent only on evidence that it is not:
//!
//! - **there**: `/sys/module/NAME` (a loaded module, or a built-in one
//!   with parameters), a `/proc/modules` line, a modules.builtin line, or
//!   the subsystem's registration symbol in `/proc/kallsyms` (built in or
//!   loaded: the kernel's own symbol table, readable where the modules
//!   directory is not, as in a pod);
//! - **absent**: `/proc/kallsyms` lists symbols but not that one; or
//!   modules.builtin and `/proc/modules` both readable and neither names it;
//! - **safe to ask**: a kernel without module support cannot autoload, so
//!   asking loads nothing and the kernel's answer decides;
//! - otherwise **unknown**: the caller fails rather than guess.

use std::path::Path;

use serde::Serialize;

use crate::system::fs;
use crate::system::host::Host;

/// The most of `/proc/kallsyms` read (Debian's 6.12 with modules: ~15 MB).
pub const MAX_KALLSYMS: u64 = 256 << 20;
/// The most of `/proc/modules` read.
pub const MAX_PROC_MODULES: u64 = 4 << 20;

/// A subsystem: its module and the symbol it registers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subsystem {
    /// The module name (`nf_tables`).
    pub module: &'static str,
    /// A symbol only it defines (`nft_register_expr`).
    pub symbol: &'static str,
}

/// nfnetlink.
pub const NFNETLINK: Subsystem = Subsystem { module: "nfnetlink", symbol: "nfnetlink_subsys_register" };
/// nf_tables.
pub const NF_TABLES: Subsystem = Subsystem { module: "nf_tables", symbol: "nft_register_expr" };
/// ipset.
pub const IP_SET: Subsystem = Subsystem { module: "ip_set", symbol: "ip_set_type_register" };

/// What was seen; `None` where the source could not be read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evidence {
    /// `/proc/modules` exists (the kernel has module support).
    pub module_support: bool,
    /// `/sys/module/NAME` exists.
    pub sys_module: bool,
    /// Whether `/proc/modules` lists it.
    pub proc_modules: Option<bool>,
    /// Whether modules.builtin lists it.
    pub builtin: Option<bool>,
    /// Whether `/proc/kallsyms` has its symbol (`None`: unreadable, or
    /// empty as without `CONFIG_KALLSYMS`).
    pub kallsyms: Option<bool>,
    /// Why a source could not be read, for the message.
    pub unread: Vec<String>,
}

/// The decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "presence", content = "evidence")]
pub enum Presence {
    /// There; ask it.
    There(String),
    /// Absent; do not ask.
    Absent(String),
    /// Unknown, but asking cannot load anything; ask, and the kernel's
    /// answer decides.
    SafeToAsk(String),
    /// Unknown, and asking could load it.
    Unknown(String),
}

/// Decides from `e` (a pure function; see the module docs).
pub fn decide(s: Subsystem, e: &Evidence) -> Presence {
    let m = s.module;
    if e.sys_module {
        return Presence::There(format!("/sys/module/{m} exists"));
    }
    if e.proc_modules == Some(true) {
        return Presence::There(format!("/proc/modules lists {m}"));
    }
    if e.builtin == Some(true) {
        return Presence::There(format!("modules.builtin lists {m}"));
    }
    if e.kallsyms == Some(true) {
        return Presence::There(format!("/proc/kallsyms has {}", s.symbol));
    }
    if !e.module_support {
        return Presence::SafeToAsk(format!(
            "no module support (/proc/modules is absent): asking cannot load {m}"
        ));
    }
    if e.kallsyms == Some(false) {
        return Presence::Absent(format!(
            "{m} is neither built in nor loaded (/proc/kallsyms has no {}); not asked, so nothing was loaded",
            s.symbol
        ));
    }
    if e.builtin == Some(false) && e.proc_modules == Some(false) {
        return Presence::Absent(format!(
            "{m} is neither built in (modules.builtin) nor loaded (/proc/modules); not asked, so nothing was loaded"
        ));
    }
    let mut why = e.unread.join("; ");
    if why.is_empty() {
        why = "no source could tell".into();
    }
    Presence::Unknown(format!(
        "cannot tell whether {m} is there without asking, which would make the kernel load it ({why}); make \
         /proc/kallsyms readable, or the modules directory (mount /lib/modules, or --modules-dir)"
    ))
}

/// Whether `/proc/kallsyms` has each of `symbols`: `None` when it cannot
/// be read or lists nothing.
pub fn kallsyms(host: &Host, symbols: &[&str]) -> Result<Vec<bool>, String> {
    let mut found = vec![false; symbols.len()];
    let mut lines = 0usize;
    host.proc_scan("kallsyms", MAX_KALLSYMS, |line| {
        lines += 1;
        // "ffffffff81fb9c50 T nft_register_expr\t[nf_tables]"
        let name = line.split(|b| *b == b' ').nth(2).unwrap_or(b"");
        let name = name.split(|b| *b == b'\t').next().unwrap_or(b"");
        for (i, s) in symbols.iter().enumerate() {
            if name == s.as_bytes() {
                found[i] = true;
            }
        }
        found.iter().all(|f| *f)
    })
    .map_err(|e| e.to_string())?;
    if lines == 0 {
        return Err(format!(
            "{}/kallsyms lists nothing (a kernel without CONFIG_KALLSYMS)",
            host.proc.display()
        ));
    }
    Ok(found)
}

/// The loaded modules' names (`/proc/modules`).
fn proc_modules(host: &Host) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    host.proc_scan("modules", MAX_PROC_MODULES, |line| {
        if let Some(n) = line.split(|b| *b == b' ').next() {
            names.push(String::from_utf8_lossy(n).into_owned());
        }
        false
    })
    .map_err(|e| e.to_string())?;
    Ok(names)
}

/// Gathers the evidence for each of `subsystems` and decides, reading
/// each source once; `/proc/kallsyms` (megabytes the kernel formats on
/// every read) only when the cheaper sources leave one unknown.
pub fn presence(host: &Host, modules_dir: Option<&Path>, subsystems: &[Subsystem]) -> Vec<Presence> {
    let mut evidence = gather(host, modules_dir, subsystems, false);
    let unknown = |ev: &[Evidence]| {
        subsystems.iter().zip(ev).any(|(s, e)| matches!(decide(*s, e), Presence::Unknown(_)))
    };
    if unknown(&evidence) {
        evidence = gather(host, modules_dir, subsystems, true);
    }
    subsystems.iter().zip(&evidence).map(|(s, e)| decide(*s, e)).collect()
}

/// Gathers the evidence for each of `subsystems`, reading each source
/// once (`/proc/kallsyms` only if `with_kallsyms`).
pub fn gather(
    host: &Host,
    modules_dir: Option<&Path>,
    subsystems: &[Subsystem],
    with_kallsyms: bool,
) -> Vec<Evidence> {
    let module_support = host.proc_exists("modules");
    let loaded = if module_support { Some(proc_modules(host)) } else { None };
    let builtin = modules_dir.map(|d| {
        fs::read_file(&d.join("modules.builtin"), super::index::MAX_INDEX_BYTES, "modules.builtin")
            .map_err(|e| e.to_string())
            .map(|b| super::index::parse_builtin(&String::from_utf8_lossy(&b)).collect::<Vec<_>>())
    });
    let symbols: Vec<&str> = subsystems.iter().map(|s| s.symbol).collect();
    let syms = if with_kallsyms { Some(kallsyms(host, &symbols)) } else { None };
    subsystems
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut unread = Vec::new();
            let proc_modules = match &loaded {
                Some(Ok(names)) => Some(names.iter().any(|n| n == s.module)),
                Some(Err(e)) => {
                    unread.push(e.clone());
                    None
                }
                None => None,
            };
            let builtin = match &builtin {
                Some(Ok(names)) => Some(names.iter().any(|n| n.as_str() == s.module)),
                Some(Err(e)) => {
                    unread.push(e.clone());
                    None
                }
                None => {
                    unread.push("no modules directory for this kernel".into());
                    None
                }
            };
            let kallsyms = match &syms {
                Some(Ok(found)) => Some(found[i]),
                Some(Err(e)) => {
                    unread.push(e.clone());
                    None
                }
                None => None,
            };
            Evidence {
                module_support,
                sys_module: host.sys_exists(&format!("module/{}", s.module)),
                proc_modules,
                builtin,
                kallsyms,
                unread,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev() -> Evidence {
        Evidence { module_support: true, ..Default::default() }
    }

    #[test]
    fn the_table() {
        let there = |p: &Presence| matches!(p, Presence::There(_));
        let absent = |p: &Presence| matches!(p, Presence::Absent(_));
        let unknown = |p: &Presence| matches!(p, Presence::Unknown(_));
        let safe = |p: &Presence| matches!(p, Presence::SafeToAsk(_));
        type Case = (&'static str, Evidence, fn(&Presence) -> bool);
        let cases: Vec<Case> = vec![
            ("loaded module", Evidence { sys_module: true, ..ev() }, there),
            ("listed in /proc/modules", Evidence { proc_modules: Some(true), ..ev() }, there),
            ("modules.builtin", Evidence { builtin: Some(true), kallsyms: Some(false), ..ev() }, there),
            // The pod: no /lib/modules, built in (no /sys/module entry).
            (
                "built in, seen only in kallsyms",
                Evidence { proc_modules: Some(false), kallsyms: Some(true), ..ev() },
                there,
            ),
            (
                "kallsyms lacks it",
                Evidence { proc_modules: Some(false), kallsyms: Some(false), ..ev() },
                absent,
            ),
            (
                "modules.builtin and /proc/modules both lack it",
                Evidence { proc_modules: Some(false), builtin: Some(false), ..ev() },
                absent,
            ),
            // The pod before: no /lib/modules, no kallsyms: not "absent".
            ("not loaded, nothing else readable", Evidence { proc_modules: Some(false), ..ev() }, unknown),
            ("no module support", Evidence { module_support: false, ..Default::default() }, safe),
        ];
        for (name, e, want) in cases {
            let got = decide(NF_TABLES, &e);
            assert!(want(&got), "{name}: {got:?}");
        }
        let Presence::Unknown(why) =
            decide(NF_TABLES, &Evidence { unread: vec!["kallsyms: permission denied".into()], ..ev() })
        else {
            panic!()
        };
        assert!(why.contains("kallsyms: permission denied") && why.contains("--modules-dir"), "{why}");
    }

    /// This kernel's own: each registration symbol there is one this
    /// kernel defines, and a made-up one is not there.
    #[test]
    fn kallsyms_of_the_running_kernel() {
        let host = Host::system();
        let Ok(found) = kallsyms(&host, &["nfnetlink_subsys_register", "no_such_symbol_xtprobe"]) else {
            return; // no /proc/kallsyms here
        };
        assert!(!found[1]);
        let built_in = crate::kconfig::KernelConfig::read(Path::new("/proc/config.gz"))
            .ok()
            .is_some_and(|c| c.get("CONFIG_NETFILTER_NETLINK") == Some(&crate::kconfig::Value::Yes));
        if host.sys_exists("module/nfnetlink/initstate") || built_in {
            assert!(found[0]);
        }
    }
}
