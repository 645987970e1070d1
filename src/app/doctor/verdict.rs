//! From facts to one verdict and one remedy: a pure function, tested as a
//! table (every verdict, and the cases that used to come out wrong).
//!
//! The facts are gathered elsewhere ([`super::gather`]); nothing here reads
//! the system, so the decision is the same wherever the facts come from.

use serde::Serialize;

use crate::catalog;
use crate::kconfig::Value;
use crate::probe::{Extension, Family, Kind, ProbeError, Requirement};
use crate::system::syscalls::ModuleSupport;

/// The one-word verdict for an extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Registered in every family asked, at the required revision.
    Supported,
    /// Registered, but not at the required revision.
    RevisionMissing,
    /// Not registered as asked, but as the other kind (a match named like a target).
    WrongKind,
    /// The kernel could not be asked.
    CannotProbe,
    /// Built into the kernel (modules.builtin or `=y`), yet not registered
    /// for the families asked.
    BuiltInNotRegistered,
    /// Its module is loaded, yet it is not registered for the families asked.
    LoadedNotRegistered,
    /// A module file is there and could be loaded: `xtprobe ensure`.
    ModuleNotLoaded,
    /// A module file is there, but this host does not allow loading it.
    CannotLoadHere,
    /// The modules directory's index is broken, so the module cannot be found.
    TreeUnusable,
    /// There is no modules directory here (an initramfs before the real
    /// root is mounted), so whether a module exists cannot be told.
    NoModulesDir,
    /// The kernel was built with it as a module, but no module file is installed.
    ModuleNotInstalled,
    /// The kernel was built without it.
    NotBuilt,
    /// The kernel cannot load modules, and does not have it built in.
    NoModuleSupport,
    /// No module file and no kernel config to tell why.
    Unknown,
    /// Asked in no family where it can exist (`expr:masq` in an arp table).
    NotApplicable,
}

/// What the kernel said in one family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Registered at the required revision (or any).
    Supported(Vec<u8>),
    /// Registered, not at the required revision; the revisions it has.
    RevisionMissing(Vec<u8>),
    /// Not registered.
    NotRegistered,
    /// Could not be asked.
    CannotAsk(ProbeError),
    /// What the question is asked through is not there yet.
    Unknown(String),
}

/// Where the module that would provide it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModuleState {
    /// Listed in modules.builtin(.modinfo).
    Builtin(String),
    /// Loaded (`/sys/module/NAME/initstate` live).
    Live(String),
    /// A file in the modules directory.
    File(String, String),
    /// Nothing provides it in the modules directory (what was looked up).
    Absent(Vec<String>),
    /// There is no modules directory for this kernel (the paths tried).
    NoTree(Vec<String>),
    /// The modules directory's index could not be read (the error).
    TreeError(String),
}

/// The kernel option that would provide it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigState {
    /// The symbol and its value in the config read.
    Known(String, Value),
    /// No config could be read; the symbol, if the catalog knows it.
    NoConfig(Option<String>),
    /// A config was read, but the catalog knows no option for it.
    NoSymbol,
}

/// The kernel's module autoloader (`kernel.modprobe`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Autoloader {
    /// The program exists.
    Present(String),
    /// It names a program that does not exist.
    Missing(String),
    /// Empty: the kernel never autoloads.
    Disabled,
    /// Cannot be read (no `/proc`, or no module support).
    Unknown,
}

/// The host facts that decide whether a module can be loaded here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFacts {
    /// The kernel's own answer to `finit_module`.
    pub module_support: ModuleSupport,
    /// Reasons the kernel would refuse a load with EPERM (capability,
    /// container, modules_disabled, lockdown, module_blacklist=).
    pub eperm_causes: Vec<String>,
    /// In a container (not the initial user namespace).
    pub in_container: bool,
    /// `kernel.modprobe`.
    pub autoloader: Autoloader,
    /// Whether `/proc` is mounted (early initramfs may not have it).
    pub proc_mounted: bool,
}

/// The probe's own prerequisites that are not there, each with whether a
/// module file for it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    /// `nfnetlink`, `nf_tables`, `nft_compat`.
    pub name: &'static str,
    /// Its kernel option.
    pub symbol: &'static str,
    /// A module file or built-in entry was found for it.
    pub module_found: bool,
    /// The line to show.
    pub line: String,
}

/// Everything known about one extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// What the host's modprobe.d says against loading it (cause, remedy).
    pub modprobe_d: Option<(String, String)>,
    /// What was asked.
    pub requirement: Requirement,
    /// The kernel's answer per family.
    pub answers: Vec<(Family, Answer)>,
    /// The revisions of the same name as the other kind, where it is one.
    pub other_kind: Option<Vec<u8>>,
    /// The module.
    pub module: ModuleState,
    /// The kernel config.
    pub config: ConfigState,
    /// Where the config was read.
    pub config_source: Option<String>,
    /// The host.
    pub host: HostFacts,
    /// Prerequisites of the probe that are missing.
    pub blocked: Vec<Blocked>,
    /// The running kernel.
    pub release: String,
}

/// The verdict, the cause chain and the remedy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// One word.
    pub verdict: Verdict,
    /// One finding per line.
    pub causes: Vec<String>,
    /// What to do.
    pub remedy: String,
}

fn list(v: &[u8]) -> String {
    v.iter().map(u8::to_string).collect::<Vec<_>>().join(", ")
}

fn families(fs: &[Family]) -> String {
    fs.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(", ")
}

fn describe(v: &Value) -> String {
    match v {
        Value::Yes => "=y (built in)".into(),
        Value::Module => "=m (a module)".into(),
        Value::NotSet => " is not set".into(),
        Value::Other(o) => format!("={o}"),
    }
}

fn other(kind: Kind) -> Kind {
    match kind {
        Kind::Match => Kind::Target,
        Kind::Target => Kind::Match,
        other => other,
    }
}

/// The decision for `f`.
pub fn decide(f: &Facts) -> Decision {
    let req = &f.requirement;
    let ext = &req.extension;
    let spec = req.to_string();
    let ensure = format!("xtprobe ensure {spec}");
    let mut causes = Vec::new();
    let missing: Vec<Family> =
        f.answers.iter().filter(|(_, a)| !matches!(a, Answer::Supported(_))).map(|(fam, _)| *fam).collect();

    // Nothing was asked: no family given where it can exist.
    if f.answers.is_empty() {
        causes.push(format!("{spec} does not exist in the families asked, so nothing was asked"));
        return Decision {
            verdict: Verdict::NotApplicable,
            causes,
            remedy: "ask in a family where it exists (--family)".into(),
        };
    }

    // Supported everywhere.
    if missing.is_empty() {
        let revs: Vec<String> = f
            .answers
            .iter()
            .filter_map(|(fam, a)| match a {
                Answer::Supported(r) if r.is_empty() => Some(fam.to_string()),
                Answer::Supported(r) => Some(format!("{fam} rev {}", list(r))),
                _ => None,
            })
            .collect();
        causes.push(format!("registered: {}", revs.join("; ")));
        return Decision { verdict: Verdict::Supported, causes, remedy: "nothing to do".into() };
    }

    // The kernel could not be asked.
    if let Some(e) = f.answers.iter().find_map(|(_, a)| match a {
        Answer::CannotAsk(e) => Some(e),
        _ => None,
    }) {
        causes.push(format!("the kernel could not be asked: {e}"));
        causes.extend(f.blocked.iter().map(|b| b.line.clone()));
        let remedy = match e {
            ProbeError::PermissionDenied { .. } => "run as root (or inside `unshare -rn`)".to_string(),
            ProbeError::Timeout { .. } => match &f.host.autoloader {
                Autoloader::Present(p) => {
                    format!("find out why {p} does not return (run it by hand); then run again")
                }
                _ => "run again; if it persists, `dmesg` says what the kernel is waiting for".to_string(),
            },
            _ => match f.blocked.iter().find(|b| !b.module_found) {
                Some(b) if matches!(f.module, ModuleState::NoTree(_)) => no_tree_remedy(f, b.name),
                Some(b) => format!(
                    "the kernel lacks {}: rebuild it with {}=m (or =y), or install the package that ships the module",
                    b.name, b.symbol
                ),
                None if !f.blocked.is_empty() => format!(
                    "`{ensure}` loads {} and then the extension",
                    f.blocked.iter().map(|b| b.name).collect::<Vec<_>>().join(" and ")
                ),
                None => format!("`{ensure}`"),
            },
        };
        return Decision { verdict: Verdict::CannotProbe, causes, remedy };
    }

    // Asked through something that is not there (a logger through nft_log).
    if let Some(why) = f.answers.iter().find_map(|(_, a)| match a {
        Answer::Unknown(why) => Some(why),
        _ => None,
    }) {
        causes.push(format!("cannot tell yet: {why}"));
        return Decision {
            verdict: Verdict::CannotProbe,
            causes,
            remedy: format!("`{ensure}` loads what it is asked through, then asks again"),
        };
    }

    // Registered, but not at the required revision.
    let not_registered: Vec<Family> =
        f.answers.iter().filter(|(_, a)| matches!(a, Answer::NotRegistered)).map(|(fam, _)| *fam).collect();
    if not_registered.is_empty() {
        for (fam, a) in &f.answers {
            if let Answer::RevisionMissing(r) = a {
                causes.push(format!(
                    "{fam}: the kernel has {} {} but not revision {} (it accepts {})",
                    ext.kind,
                    ext.name,
                    req.revision.map(|r| r.to_string()).unwrap_or_default(),
                    list(r)
                ));
            }
        }
        return Decision {
            verdict: Verdict::RevisionMissing,
            causes,
            remedy: "use a rule without that revision, or a kernel whose module provides it".into(),
        };
    }

    causes.push(format!(
        "not registered in {}: the kernel knows no {} named {:?}",
        families(&not_registered),
        ext.kind,
        ext.name
    ));

    // The name exists as the other kind.
    if let Some(revs) = &f.other_kind {
        let k = other(ext.kind);
        let suggestion =
            Requirement { extension: Extension { kind: k, name: ext.name.clone() }, revision: req.revision };
        causes.push(format!("the kernel has a {k} named {} (revisions {})", ext.name, list(revs)));
        return Decision {
            verdict: Verdict::WrongKind,
            causes,
            remedy: format!("the kernel has a {k} named {}; did you mean `{suggestion}`?", ext.name),
        };
    }

    let config_line = match (&f.config, &f.config_source) {
        (ConfigState::Known(s, v), Some(src)) => format!("kernel config ({src}): {s}{}", describe(v)),
        (ConfigState::Known(s, v), None) => format!("kernel config: {s}{}", describe(v)),
        (ConfigState::NoConfig(Some(s)), _) => format!("kernel config: not found, so {s} is unknown"),
        (ConfigState::NoConfig(None), _) => "kernel config: not found".to_string(),
        (ConfigState::NoSymbol, src) => format!(
            "kernel config ({}): no known option for this extension",
            src.as_deref().unwrap_or("read")
        ),
    };
    let symbol = match &f.config {
        ConfigState::Known(s, _) | ConfigState::NoConfig(Some(s)) => Some(s.clone()),
        _ => None,
    };
    let set_to = |v: &str| match &symbol {
        Some(o) => format!("{o}={v}"),
        None => format!("the option that provides {spec} set to {v}"),
    };
    let config_yes = matches!(&f.config, ConfigState::Known(_, Value::Yes));

    // Built in, or loaded, and still not registered here.
    if let ModuleState::Builtin(m) = &f.module {
        causes.push(format!("{m} is built into the kernel (modules.builtin)"));
        causes.push(config_line);
        return built_in_not_registered(causes, &not_registered);
    }
    if config_yes {
        causes.push("no module file: it is meant to be built in".to_string());
        causes.push(config_line);
        return built_in_not_registered(causes, &not_registered);
    }
    if let ModuleState::Live(m) = &f.module {
        causes.push(format!(
            "module {m} is loaded, yet does not register it for {}",
            families(&not_registered)
        ));
        return Decision {
            verdict: Verdict::LoadedNotRegistered,
            causes,
            remedy: format!(
                "{m} provides it for other families only: check the family ({}), or that {m} is the module that provides {spec}",
                families(&not_registered)
            ),
        };
    }

    // No modules, or no way to load them.
    match &f.module {
        ModuleState::TreeError(e) => {
            causes.push(format!("the modules directory cannot be used: {e}"));
            causes.push(config_line);
            return Decision {
                verdict: Verdict::TreeUnusable,
                causes,
                remedy: "regenerate the index (`depmod`, or `xtprobe index` where kmod is missing), then run again"
                    .into(),
            };
        }
        ModuleState::File(_, path) => causes.push(format!("module file present, not loaded: {path}")),
        ModuleState::Absent(looked) => causes.push(format!("no module provides {}", looked.join(", "))),
        ModuleState::NoTree(dirs) => causes.push(format!(
            "no modules directory for kernel {} ({} missing)",
            f.release,
            dirs.join(", ")
        )),
        ModuleState::Builtin(_) | ModuleState::Live(_) => {}
    }
    causes.push(config_line);
    if !f.host.proc_mounted {
        causes.push("/proc is not mounted: kernel.modprobe and the module state cannot be read".into());
    }
    if f.host.module_support == ModuleSupport::Absent {
        causes.push(
            "this kernel cannot load modules: finit_module answers ENOSYS (CONFIG_MODULES is not set)".into(),
        );
        return Decision {
            verdict: Verdict::NoModuleSupport,
            causes,
            remedy: format!(
                "loading is impossible on this kernel (no module support); rebuild it with {}",
                set_to("y")
            ),
        };
    }
    match &f.host.autoloader {
        Autoloader::Missing(p) => causes.push(format!(
            "the kernel's autoloader kernel.modprobe = {p} does not exist, so the kernel's own request for {} could not load it",
            catalog::module_queries(ext, &not_registered[..1]).first().cloned().unwrap_or_default()
        )),
        Autoloader::Present(p) => causes.push(format!("the kernel's autoloader {p} exists but did not load it")),
        Autoloader::Disabled => causes.push("kernel.modprobe is empty: the kernel never autoloads modules".into()),
        Autoloader::Unknown => {}
    }
    if let Some((cause, remedy)) = &f.modprobe_d {
        if matches!(f.module, ModuleState::File(..) | ModuleState::Absent(_)) {
            causes.push(cause.clone());
            return Decision { verdict: Verdict::CannotLoadHere, causes, remedy: remedy.clone() };
        }
    }
    if let ModuleState::File(..) = &f.module {
        if !f.host.eperm_causes.is_empty() {
            causes.extend(f.host.eperm_causes.iter().cloned());
            let remedy = if f.host.in_container {
                format!("run `{ensure}` on the host, not in the container (or load the module there)")
            } else {
                format!("{}; then `{ensure}`", f.host.eperm_causes[0])
            };
            return Decision { verdict: Verdict::CannotLoadHere, causes, remedy };
        }
        return Decision {
            verdict: Verdict::ModuleNotLoaded,
            causes,
            remedy: format!("`{ensure}` (add --persist to keep it across reboots)"),
        };
    }
    if let (ModuleState::NoTree(_), false) =
        (&f.module, matches!(f.config, ConfigState::Known(_, Value::NotSet)))
    {
        return Decision { verdict: Verdict::NoModulesDir, causes, remedy: no_tree_remedy(f, &spec) };
    }
    match &f.config {
        ConfigState::Known(_, Value::Module) => Decision {
            verdict: Verdict::ModuleNotInstalled,
            causes,
            remedy: format!(
                "install the package that ships this module for kernel {} (Debian: linux-image-{0}; Ubuntu: \
                 linux-modules-extra-{0}; RHEL/Fedora: kernel-modules-extra), then `{ensure}`",
                f.release
            ),
        },
        ConfigState::Known(_, Value::NotSet) => Decision {
            verdict: Verdict::NotBuilt,
            causes,
            remedy: format!("rebuild the kernel with {} (or =y), or use a kernel that has it", set_to("m")),
        },
        _ => Decision {
            verdict: Verdict::Unknown,
            causes,
            remedy: format!(
                "no module and no kernel config say it exists for this kernel: it is probably not built; check {} \
                 in the kernel's configuration",
                symbol.as_deref().unwrap_or("the option that provides it")
            ),
        },
    }
}

/// Where there is no modules directory: not "rebuild", but where to look.
fn no_tree_remedy(f: &Facts, what: &str) -> String {
    let dirs = match &f.module {
        ModuleState::NoTree(d) => d.join(", "),
        _ => String::new(),
    };
    format!(
        "cannot tell whether a module provides {what}: there is no modules directory for kernel {} here ({dirs}); \
         in an initramfs before the real root is mounted there is none yet: give --modules-dir (the real \
         root's, e.g. $rootmnt/lib/modules/{0}), or run doctor after boot",
        f.release
    )
}

fn built_in_not_registered(causes: Vec<String>, missing: &[Family]) -> Decision {
    Decision {
        verdict: Verdict::BuiltInNotRegistered,
        causes,
        remedy: format!(
            "the kernel has it built in but not for {}: that family's own option may be off (IPv6 needs \
             ip6tables' variant), or the config read is not this kernel's",
            families(missing)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(s: &str) -> Requirement {
        s.parse().unwrap()
    }

    fn host() -> HostFacts {
        HostFacts {
            module_support: ModuleSupport::Yes,
            eperm_causes: Vec::new(),
            in_container: false,
            autoloader: Autoloader::Missing("/sbin/modprobe".into()),
            proc_mounted: true,
        }
    }

    fn facts(spec: &str, answer: Answer) -> Facts {
        Facts {
            modprobe_d: None,
            requirement: req(spec),
            answers: vec![(Family::Ipv4, answer)],
            other_kind: None,
            module: ModuleState::Absent(vec!["ipt_x".into()]),
            config: ConfigState::NoConfig(None),
            config_source: None,
            host: host(),
            blocked: Vec::new(),
            release: "6.12.0".into(),
        }
    }

    fn cfg(v: Value) -> ConfigState {
        ConfigState::Known("CONFIG_NETFILTER_XT_MATCH_COMMENT".into(), v)
    }

    /// Every verdict, from the facts that lead to it; and the cases that
    /// used to come out wrong.
    #[test]
    fn the_table() {
        let nr = Answer::NotRegistered;
        let file = ModuleState::File("xt_comment".into(), "/lib/modules/x/xt_comment.ko".into());
        type Case = (&'static str, Facts, Verdict, &'static str);
        let cases: Vec<Case> = vec![
            ("registered", facts("comment", Answer::Supported(vec![0])), Verdict::Supported, "nothing to do"),
            (
                "revision missing",
                facts("conntrack@0", Answer::RevisionMissing(vec![1, 2, 3])),
                Verdict::RevisionMissing,
                "without that revision",
            ),
            (
                "wrong kind: match:MASQUERADE",
                Facts { other_kind: Some(vec![0]), ..facts("match:MASQUERADE", nr.clone()) },
                Verdict::WrongKind,
                "the kernel has a target named MASQUERADE; did you mean `target:MASQUERADE`?",
            ),
            (
                "cannot ask: no permission",
                facts("comment", Answer::CannotAsk(ProbeError::PermissionDenied { cap: "CAP_NET_ADMIN" })),
                Verdict::CannotProbe,
                "run as root",
            ),
            (
                "cannot ask: nft_compat missing, its module present",
                Facts {
                    blocked: vec![Blocked {
                        name: "nft_compat",
                        symbol: "CONFIG_NFT_COMPAT",
                        module_found: true,
                        line: "nft_compat is not available".into(),
                    }],
                    ..facts(
                        "comment",
                        Answer::CannotAsk(ProbeError::CompatUnavailable {
                            nf_tables_reachable: true,
                            ext_ack: None,
                        }),
                    )
                },
                Verdict::CannotProbe,
                "loads nft_compat and then the extension",
            ),
            (
                "cannot ask: the autoloader hangs",
                Facts {
                    host: HostFacts { autoloader: Autoloader::Present("/sbin/modprobe".into()), ..host() },
                    ..facts(
                        "nosuch",
                        Answer::CannotAsk(ProbeError::Timeout { budget_ms: 2000, pending: "x".into() }),
                    )
                },
                Verdict::CannotProbe,
                "why /sbin/modprobe does not return",
            ),
            (
                "built in (modules.builtin) yet not registered",
                Facts { module: ModuleState::Builtin("xt_comment".into()), ..facts("comment", nr.clone()) },
                Verdict::BuiltInNotRegistered,
                "built in but not for ipv4",
            ),
            (
                "=y yet not registered",
                Facts { config: cfg(Value::Yes), ..facts("comment", nr.clone()) },
                Verdict::BuiltInNotRegistered,
                "built in",
            ),
            (
                "loaded yet not registered",
                Facts {
                    module: ModuleState::Live("ipt_REJECT".into()),
                    ..facts("target:REJECT", nr.clone())
                },
                Verdict::LoadedNotRegistered,
                "other families only",
            ),
            (
                "module file, may load",
                Facts { module: file.clone(), config: cfg(Value::Module), ..facts("comment", nr.clone()) },
                Verdict::ModuleNotLoaded,
                "`xtprobe ensure match:comment`",
            ),
            (
                "module file, modprobe.d install line",
                Facts {
                    module: file.clone(),
                    modprobe_d: Some((
                        "modprobe.d has `install xt_comment /bin/false` (/etc/modprobe.d/cis.conf:2)".into(),
                        "remove that line (/etc/modprobe.d/cis.conf:2)".into(),
                    )),
                    ..facts("comment", nr.clone())
                },
                Verdict::CannotLoadHere,
                "remove that line (/etc/modprobe.d/cis.conf:2)",
            ),
            (
                "blacklisted: no module found through the alias",
                Facts {
                    modprobe_d: Some((
                        "modprobe.d blacklists xt_comment".into(),
                        "`xtprobe load xt_comment`".into(),
                    )),
                    ..facts("comment", nr.clone())
                },
                Verdict::CannotLoadHere,
                "`xtprobe load xt_comment`",
            ),
            (
                "module file, in a container",
                Facts {
                    module: file.clone(),
                    host: HostFacts {
                        eperm_causes: vec!["in a user namespace".into()],
                        in_container: true,
                        ..host()
                    },
                    ..facts("comment", nr.clone())
                },
                Verdict::CannotLoadHere,
                "on the host",
            ),
            (
                "module file, modules_disabled",
                Facts {
                    module: file.clone(),
                    host: HostFacts { eperm_causes: vec!["kernel.modules_disabled is 1".into()], ..host() },
                    ..facts("comment", nr.clone())
                },
                Verdict::CannotLoadHere,
                "kernel.modules_disabled is 1; then `xtprobe ensure match:comment`",
            ),
            (
                "broken modules.dep: a fact, not \"no module\"",
                Facts {
                    module: ModuleState::TreeError(
                        "modules.dep:3: expected `module.ko: dependencies`".into(),
                    ),
                    ..facts("comment", nr.clone())
                },
                Verdict::TreeUnusable,
                "regenerate the index",
            ),
            (
                "=m, no file",
                Facts { config: cfg(Value::Module), ..facts("comment", nr.clone()) },
                Verdict::ModuleNotInstalled,
                "install the package",
            ),
            (
                "not set",
                Facts { config: cfg(Value::NotSet), ..facts("comment", nr.clone()) },
                Verdict::NotBuilt,
                "CONFIG_NETFILTER_XT_MATCH_COMMENT=m",
            ),
            (
                "no module support, not built in",
                Facts {
                    config: cfg(Value::Module),
                    host: HostFacts { module_support: ModuleSupport::Absent, ..host() },
                    ..facts("comment", nr.clone())
                },
                Verdict::NoModuleSupport,
                "CONFIG_NETFILTER_XT_MATCH_COMMENT=y",
            ),
            (
                "no /proc: module support is still the syscall's answer",
                Facts {
                    module: file.clone(),
                    host: HostFacts { proc_mounted: false, autoloader: Autoloader::Unknown, ..host() },
                    ..facts("comment", nr.clone())
                },
                Verdict::ModuleNotLoaded,
                "xtprobe ensure",
            ),
            ("nothing known", facts("comment", nr.clone()), Verdict::Unknown, "probably not built"),
        ];
        let mut covered = std::collections::BTreeSet::new();
        for (name, f, verdict, needle) in cases {
            let d = decide(&f);
            assert_eq!(d.verdict, verdict, "{name}: {d:#?}");
            assert!(d.remedy.contains(needle), "{name}: remedy {:?} lacks {needle:?}", d.remedy);
            assert!(!d.causes.is_empty(), "{name}");
            covered.insert(format!("{verdict:?}"));
        }
        assert_eq!(covered.len(), 13, "every verdict has a row: {covered:?}");
    }
}
