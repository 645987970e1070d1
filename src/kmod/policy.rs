//! What on this host decides whether modules may be loaded at all: module
//! support, the capability and the user namespace, `kernel.modules_disabled`,
//! lockdown, `module_blacklist=`, signature enforcement, and the kernel's own
//! autoloader (`kernel.modprobe`). Read from `/proc` and `/sys`; each fact is
//! `None` when it cannot be read, so reports never guess.
//!
//! Kernel references: kernel/module/main.c (`may_init_module`,
//! `module_blacklist`), security/lockdown/lockdown.c, kernel/module/kmod.c
//! (`__request_module`), kernel/sysctl.c.

use serde::Serialize;

use crate::system::host::Host;
use crate::system::syscalls::{ModuleSupport, ModuleSyscalls};

/// Facts about module loading on one host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoadPolicy {
    /// The kernel has `CONFIG_MODULES` (its own answer to `finit_module`,
    /// not `/proc/modules`, which early initramfs may not have mounted).
    pub modules_supported: bool,
    /// The kernel's answer in full: yes, not allowed here, or absent.
    pub module_support: ModuleSupport,
    /// `CAP_SYS_MODULE` is in our effective set.
    pub cap_sys_module: Option<bool>,
    /// We run in the initial user namespace (`/proc/self/uid_map` maps all
    /// of 0..2^32). Outside it, `CAP_SYS_MODULE` means nothing to the kernel.
    pub initial_user_namespace: Option<bool>,
    /// `kernel.modules_disabled` is 1: no module can be loaded until reboot.
    pub modules_disabled: Option<bool>,
    /// The active lockdown mode (`integrity`, `confidentiality`) if not `none`.
    pub lockdown: Option<String>,
    /// Modules named by `module_blacklist=` on the kernel command line.
    pub cmdline_blacklist: Vec<String>,
    /// Unsigned modules are refused (`module.sig_enforce`).
    pub sig_enforce: Option<bool>,
    /// `kernel.modprobe`: the program the kernel runs to autoload.
    pub modprobe_path: Option<String>,
    /// Whether that program exists (and is executable).
    pub modprobe_present: Option<bool>,
}

impl LoadPolicy {
    /// Reads the facts from `host` (and our own capability set).
    pub fn read(host: &Host, sys: &impl ModuleSyscalls) -> Self {
        let module_support = sys.module_support();
        let modules_supported = module_support != ModuleSupport::Absent;
        let cap_sys_module =
            caps::has_cap(None, caps::CapSet::Effective, caps::Capability::CAP_SYS_MODULE).ok();
        let initial_user_namespace = host.proc_file("self/uid_map").map(|m| is_initial_uid_map(&m));
        let modules_disabled = host.proc_file("sys/kernel/modules_disabled").map(|v| v == "1");
        let cmdline = host.proc_file("cmdline").unwrap_or_default();
        // securityfs tells the active mode; where it is not mounted (an
        // initramfs), the command line says what was asked for.
        let lockdown = match host.sys_file("kernel/security/lockdown") {
            Some(l) => active_lockdown(&l),
            None => cmdline_value(&cmdline, "lockdown").filter(|m| *m != "none").map(String::from),
        };
        let cmdline_blacklist = cmdline_list(&cmdline, "module_blacklist");
        let sig_enforce = host
            .sys_file("module/module/parameters/sig_enforce")
            .map(|v| v == "Y")
            .or_else(|| cmdline_value(&cmdline, "module.sig_enforce").map(|v| v == "1" || v == "Y"));
        let modprobe_path = host.proc_file("sys/kernel/modprobe");
        let modprobe_present = modprobe_path.as_ref().map(|p| is_executable(std::path::Path::new(p)));
        Self {
            modules_supported,
            module_support,
            cap_sys_module,
            initial_user_namespace,
            modules_disabled,
            lockdown,
            cmdline_blacklist,
            sig_enforce,
            modprobe_path,
            modprobe_present,
        }
    }

    /// Whether the command line blacklists `module` (normalised names).
    pub fn blacklists(&self, module: &str) -> bool {
        self.cmdline_blacklist.iter().any(|b| super::ModuleName::new(b).as_str() == module)
    }

    /// Every reason found that the kernel would answer EPERM to a load.
    pub fn eperm_causes(&self, module: &str) -> Vec<String> {
        let mut causes = Vec::new();
        if self.cap_sys_module == Some(false) {
            causes.push("this process lacks CAP_SYS_MODULE: run as root".to_string());
        }
        if self.initial_user_namespace == Some(false) {
            causes.push(
                "this process is in a user namespace (a container): the kernel lets only the initial \
                 user namespace load modules; run xtprobe on the host, or load the module there"
                    .to_string(),
            );
        }
        if self.modules_disabled == Some(true) {
            causes.push(
                "kernel.modules_disabled is 1: module loading is off until the next reboot; load the \
                 module before that sysctl is set (early boot) or remove the setting"
                    .to_string(),
            );
        }
        if let Some(mode) = &self.lockdown {
            causes.push(format!(
                "the kernel is locked down ({mode}): only modules signed with a trusted key load; \
                 use your distribution's signed module"
            ));
        }
        if self.blacklists(module) {
            causes.push(format!(
                "module_blacklist= on the kernel command line names {module}: remove it from the \
                 boot loader's command line"
            ));
        }
        causes
    }
}

/// `0 0 4294967295`: the identity map of the initial user namespace.
fn is_initial_uid_map(map: &str) -> bool {
    let lines: Vec<Vec<&str>> = map.lines().map(|l| l.split_whitespace().collect()).collect();
    lines.len() == 1 && lines[0] == ["0", "0", "4294967295"]
}

/// `none [integrity] confidentiality` → `integrity`; `None` for `[none]`.
fn active_lockdown(s: &str) -> Option<String> {
    let start = s.find('[')?;
    let end = s[start..].find(']')? + start;
    let mode = &s[start + 1..end];
    (mode != "none").then(|| mode.to_string())
}

fn cmdline_value<'a>(cmdline: &'a str, key: &str) -> Option<&'a str> {
    cmdline
        .split_whitespace()
        .filter_map(|w| w.split_once('='))
        .filter(|(k, _)| *k == key)
        .map(|(_, v)| v)
        .next_back()
}

fn cmdline_list(cmdline: &str, key: &str) -> Vec<String> {
    cmdline
        .split_whitespace()
        .filter_map(|w| w.split_once('='))
        .filter(|(k, _)| *k == key)
        .flat_map(|(_, v)| v.split(',').filter(|s| !s.is_empty()).map(String::from))
        .collect()
}

fn is_executable(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::system::syscalls::Support;

    fn fixture(files: &[(&str, &str)]) -> (tempfile::TempDir, Host) {
        let tmp = tempfile::tempdir().unwrap();
        for (rel, content) in files {
            let p = tmp.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, content).unwrap();
        }
        let host = Host::rooted(tmp.path());
        (tmp, host)
    }

    #[test]
    fn a_locked_down_container_with_modules_disabled() {
        let (_t, host) = fixture(&[
            ("proc/modules", ""),
            ("proc/self/uid_map", "         0     100000      65536\n"),
            ("proc/sys/kernel/modules_disabled", "1\n"),
            ("proc/cmdline", "root=/dev/sda module_blacklist=xt_comment,foo quiet\n"),
            ("proc/sys/kernel/modprobe", "/sbin/modprobe\n"),
            ("sys/kernel/security/lockdown", "none [integrity] confidentiality\n"),
        ]);
        let p = LoadPolicy::read(&host, &Support(ModuleSupport::NotAllowed));
        assert!(p.modules_supported);
        assert_eq!(p.initial_user_namespace, Some(false));
        assert_eq!(p.modules_disabled, Some(true));
        assert_eq!(p.lockdown.as_deref(), Some("integrity"));
        assert!(p.blacklists("xt_comment"));
        assert!(!p.blacklists("x_tables"));
        let causes = p.eperm_causes("xt_comment");
        assert!(causes.iter().any(|c| c.contains("user namespace")), "{causes:?}");
        assert!(causes.iter().any(|c| c.contains("modules_disabled")));
        assert!(causes.iter().any(|c| c.contains("locked down (integrity)")));
        assert!(causes.iter().any(|c| c.contains("module_blacklist=")));
        assert_eq!(p.modprobe_path.as_deref(), Some("/sbin/modprobe"));
    }

    #[test]
    fn a_plain_host_has_no_eperm_cause_but_the_capability() {
        let (_t, host) = fixture(&[
            ("proc/self/uid_map", "         0          0 4294967295\n"),
            ("proc/sys/kernel/modules_disabled", "0\n"),
            ("sys/kernel/security/lockdown", "[none] integrity confidentiality\n"),
            ("proc/cmdline", "quiet\n"),
        ]);
        let p = LoadPolicy::read(&host, &Support(ModuleSupport::Absent));
        assert!(!p.modules_supported, "the syscall says ENOSYS: CONFIG_MODULES=n");
        assert_eq!(p.initial_user_namespace, Some(true));
        assert_eq!(p.modules_disabled, Some(false));
        assert_eq!(p.lockdown, None);
        assert_eq!(p.modprobe_path, None);
        let causes = p.eperm_causes("xt_comment");
        assert!(causes.iter().all(|c| c.contains("CAP_SYS_MODULE")), "{causes:?}");
    }
}
