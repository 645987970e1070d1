//! `xtprobe doctor`: why an extension is missing, and the one thing to do.
//!
//! Two steps, kept apart:
//!
//! 1. [`gather`] collects the facts, from the kernel outwards: the probe's
//!    answer per family (and, for a name it does not know, whether it
//!    knows it as the other kind), whether the probe could ask at all
//!    (nfnetlink, nf_tables, nft_compat), the module that would provide it
//!    (built in, loaded, a file, absent — or the modules index broken),
//!    the kernel configuration (`y`, `m`, not set, unknown), and what this
//!    host allows (module support by the kernel's own answer to
//!    `finit_module`, `CAP_SYS_MODULE`, a container's user namespace,
//!    `kernel.modules_disabled`, lockdown, `module_blacklist=`, the
//!    autoloader `kernel.modprobe`, whether `/proc` is mounted);
//! 2. [`verdict::decide`] turns them into one verdict and one remedy: a
//!    pure function, tested as a table.

pub mod verdict;

use std::path::PathBuf;

use serde::Serialize;

use crate::app::check::{self, CheckOptions, CheckReport, Status};
use crate::app::exit::ExitCode;
use crate::catalog;
use crate::kconfig::{self, KernelConfig, Value};
use crate::kmod::policy::LoadPolicy;
use crate::kmod::resolve::{Located, Resolver};
use crate::kmod::state::KernelModules;
use crate::kmod::{default_dirs, modules_dir};
use crate::probe::{Backend, Extension, Family, Kind, Outcome, ProbeError, Requirement, Subsystem};
use crate::profile::Need;
use crate::system::deadline::Deadline;
use crate::system::host::Host;
use crate::system::syscalls::{ModuleSupport, ModuleSyscalls};
pub use verdict::Verdict;
use verdict::{Answer, Autoloader, Blocked, ConfigState, Facts, HostFacts, ModuleState};

/// What to examine.
#[derive(Debug, Clone)]
pub struct DoctorOptions {
    /// The extensions.
    pub needs: Vec<Need>,
    /// The profile they come from.
    pub profile: Option<String>,
    /// When the kernel must have answered.
    pub deadline: Deadline,
    /// The modules directory [default: /lib/modules/$(uname -r)].
    pub modules_dir: Option<PathBuf>,
    /// The kernel config [default: searched].
    pub kernel_config: Option<PathBuf>,
    /// The backends xtables questions go through (`--backend`; the first
    /// is the one diagnosed), unless a need says its own (`--rules` of
    /// iptables-legacy: legacy).
    pub backends: Vec<Backend>,
}

/// The option that would provide an extension, and its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigFact {
    /// The Kconfig symbol (the current spelling, or the one found).
    pub symbol: Option<String>,
    /// Its value; `None` when unknown.
    pub value: Option<Value>,
}

/// The module that would provide an extension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModuleFact {
    /// The aliases and names looked up, in order.
    pub looked_up: Vec<String>,
    /// What was found.
    pub found: Option<Located>,
    /// Why the modules directory could not answer, if it could not.
    pub error: Option<String>,
}

/// Everything found about one extension.
#[derive(Debug, Clone, Serialize)]
pub struct Diagnosis {
    /// The extension as written.
    pub requirement: String,
    /// Optional in its profile.
    pub optional: bool,
    /// The verdict.
    pub verdict: Verdict,
    /// Families where the kernel registers it.
    pub registered: Vec<Family>,
    /// Families where it is missing.
    pub missing: Vec<Family>,
    /// Revisions of the same name as the other kind (match/target), if the
    /// kernel has it as that.
    pub other_kind: Option<Vec<u8>>,
    /// The cause chain, one finding per line.
    pub causes: Vec<String>,
    /// What to do.
    pub remedy: String,
    /// The kernel option.
    pub config: ConfigFact,
    /// The module.
    pub module: ModuleFact,
}

/// The state of one thing the probe itself needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Prerequisite {
    /// `nfnetlink`, `nf_tables`, `nft_compat`, `ip_set`.
    pub name: &'static str,
    /// Answers; `None` when it could not be told.
    pub available: Option<bool>,
    /// Its kernel option.
    pub config: ConfigFact,
    /// Its module, when not available.
    pub module: Option<ModuleFact>,
}

/// The report.
#[derive(Debug, Clone, Serialize)]
pub struct DoctorReport {
    /// `uname -r`.
    pub kernel_release: String,
    /// The profile examined.
    pub profile: Option<String>,
    /// The config file read, if any.
    #[serde(serialize_with = "crate::system::fs::lossy::opt")]
    pub kernel_config: Option<PathBuf>,
    /// Why no config could be used, if so.
    pub kernel_config_error: Option<String>,
    /// The modules directory, if there is one.
    #[serde(serialize_with = "crate::system::fs::lossy::opt")]
    pub modules_dir: Option<PathBuf>,
    /// Why the modules directory could not be used, if so.
    pub modules_error: Option<String>,
    /// What the probe needs.
    pub prerequisites: Vec<Prerequisite>,
    /// The host's module-loading facts.
    pub host: LoadPolicy,
    /// Whether `/proc` is mounted.
    pub proc_mounted: bool,
    /// Whether the legacy ip_tables interface is loaded.
    pub legacy_ip_tables: bool,
    /// One diagnosis per extension.
    pub extensions: Vec<Diagnosis>,
}

impl DoctorReport {
    /// 0 if every required extension is supported; 3 if the probe could
    /// not ask; 1 otherwise.
    pub fn exit_code(&self) -> ExitCode {
        let required: Vec<&Diagnosis> = self.extensions.iter().filter(|d| !d.optional).collect();
        if required.iter().any(|d| d.verdict == Verdict::CannotProbe) {
            ExitCode::CannotProbe
        } else if required.iter().all(|d| matches!(d.verdict, Verdict::Supported | Verdict::NotApplicable)) {
            ExitCode::Ok
        } else {
            ExitCode::Missing
        }
    }
}

/// What doctor reads besides the probe.
struct Context {
    config: Option<KernelConfig>,
    resolver: Result<Resolver, String>,
    policy: LoadPolicy,
    release: String,
}

impl Context {
    /// Records, for a timeout, that the files are being read (not the kernel).
    fn doing(&self, deadline: &Deadline, need: &Need) {
        deadline.doing(format!(
            "the kernel had answered; xtprobe was reading the modules directory and the kernel config for {}",
            need.requirement
        ));
    }

    fn config_fact(&self, symbols: &[&str]) -> ConfigFact {
        match (&self.config, symbols.first()) {
            (_, None) => ConfigFact { symbol: None, value: None },
            (None, Some(first)) => ConfigFact { symbol: Some(first.to_string()), value: None },
            (Some(c), Some(first)) => match c.best_of(symbols) {
                Some((s, v)) => ConfigFact { symbol: Some(s.to_string()), value: Some(v.clone()) },
                // Absent from a complete .config: its dependencies are off.
                None => ConfigFact { symbol: Some(first.to_string()), value: Some(Value::NotSet) },
            },
        }
    }

    /// Looks the queries up in order; the first that finds something wins.
    /// An index that cannot be read is a fact, not "nothing found".
    fn module_fact(&mut self, queries: Vec<String>) -> ModuleFact {
        let resolver = match &mut self.resolver {
            Ok(r) => r,
            Err(e) => {
                return ModuleFact {
                    looked_up: queries,
                    found: None,
                    error: (!e.is_empty()).then(|| e.clone()),
                };
            }
        };
        for q in &queries {
            match resolver.locate(q) {
                Ok((located, _)) => {
                    if let Some(l) = located.into_iter().next() {
                        return ModuleFact { looked_up: queries, found: Some(l), error: None };
                    }
                }
                Err(e) => return ModuleFact { looked_up: queries, found: None, error: Some(e.to_string()) },
            }
        }
        ModuleFact { looked_up: queries, found: None, error: None }
    }
}

/// Runs the probe, gathers the facts and decides.
pub fn run(opts: &DoctorOptions, host: &Host, sys: &impl ModuleSyscalls) -> DoctorReport {
    let backends = if opts.backends.is_empty() { vec![Backend::Nft] } else { opts.backends.clone() };
    let report = check::run(&CheckOptions {
        needs: opts.needs.clone(),
        profile: opts.profile.clone(),
        backends: backends.clone(),
        deadline: opts.deadline.clone(),
    });
    let other_kind = other_kind(opts, &report);
    let release = crate::system::host::kernel_release();
    let (config, config_error) = match kconfig::find(&release, opts.kernel_config.as_deref()) {
        Ok(c) => (c, None),
        Err(e) => (None, Some(e.to_string())),
    };
    let kernel = KernelModules::new(host.clone());
    let dir = opts.modules_dir.clone().or_else(|| modules_dir(&release));
    let resolver = match &dir {
        Some(d) => Resolver::open(d, kernel.clone()).map_err(|e| e.to_string()).map(|mut r| {
            let cmdline = host.proc_file("cmdline").unwrap_or_default();
            r.config = crate::kmod::config::ModprobeConfig::read(
                std::path::Path::new("/"),
                r.softdep_file(),
                &cmdline,
            );
            r
        }),
        None => Err(String::new()),
    };
    let modules_error = resolver.as_ref().err().filter(|e| !e.is_empty()).cloned();
    let mut ctx = Context { config, resolver, policy: LoadPolicy::read(host, sys), release };
    let proc_mounted = host.proc_mounted();

    let prerequisites = prerequisites(&report, &mut ctx);
    let answers = report.by_requirement();
    let others = other_kind.by_requirement();
    let extensions = opts
        .needs
        .iter()
        .map(|need| {
            let mine = answers.get(&need.requirement).map(Vec::as_slice).unwrap_or(&[]);
            let ext = &need.requirement.extension;
            let flipped = Requirement {
                extension: Extension {
                    kind: if ext.kind == Kind::Match { Kind::Target } else { Kind::Match },
                    name: ext.name.clone(),
                },
                revision: None,
            };
            let theirs = others.get(&flipped).map(Vec::as_slice).unwrap_or(&[]);
            ctx.doing(&opts.deadline, need);
            let xt = need.via.unwrap_or(backends[0]);
            diagnose(need, xt, mine, theirs, &prerequisites, &mut ctx, dir.is_some(), proc_mounted)
        })
        .collect();
    DoctorReport {
        kernel_release: ctx.release.clone(),
        profile: opts.profile.clone(),
        kernel_config: ctx.config.as_ref().map(|c| c.source.clone()),
        kernel_config_error: config_error,
        modules_dir: dir,
        modules_error,
        prerequisites,
        legacy_ip_tables: host.proc_exists("net/ip_tables_names"),
        host: ctx.policy.clone(),
        proc_mounted,
        extensions,
    }
}

/// For every name the kernel does not register as asked, whether it has
/// it as the other kind (`match:MASQUERADE` → a target): asked in the same
/// families, within the same deadline.
fn other_kind(opts: &DoctorOptions, report: &CheckReport) -> CheckReport {
    let needs: Vec<Need> = opts
        .needs
        .iter()
        .filter_map(|n| {
            let ext = &n.requirement.extension;
            let kind = match ext.kind {
                Kind::Match => Kind::Target,
                Kind::Target => Kind::Match,
                _ => return None,
            };
            let fams: Vec<Family> = report
                .results
                .iter()
                .filter(|r| r.requirement == n.requirement && r.status() == Status::NotRegistered)
                .map(|r| r.family)
                .collect();
            (!fams.is_empty()).then(|| Need {
                requirement: Requirement {
                    extension: Extension { kind, name: ext.name.clone() },
                    revision: None,
                },
                families: fams,
                optional: n.optional,
                alternatives: Vec::new(),
                via: None,
            })
        })
        .collect();
    check::run(&CheckOptions {
        needs,
        profile: None,
        backends: vec![Backend::Nft],
        deadline: opts.deadline.clone(),
    })
}

fn prerequisites(report: &CheckReport, ctx: &mut Context) -> Vec<Prerequisite> {
    let errors: Vec<&ProbeError> = report
        .results
        .iter()
        .filter_map(|r| match &r.outcome {
            Outcome::Failed(e) => Some(e),
            _ => None,
        })
        .collect();
    let answered = |subsystem: Subsystem| {
        report.results.iter().any(|r| {
            r.requirement.extension.kind.subsystem() == subsystem
                && matches!(r.outcome, Outcome::Registered(_) | Outcome::Present | Outcome::NotRegistered)
        })
    };
    let (xt, nftables, ipset) =
        (answered(Subsystem::Xt), answered(Subsystem::Nftables), answered(Subsystem::Ipset));
    let any = xt || nftables || ipset;
    let has = |f: fn(&ProbeError) -> bool| errors.iter().any(|e| f(e));
    let no_nfnetlink = has(|e| matches!(e, ProbeError::NoNfnetlink));
    let compat = errors.iter().find_map(|e| match e {
        ProbeError::CompatUnavailable { nf_tables_reachable, .. } => Some(*nf_tables_reachable),
        _ => None,
    });
    let nf_tables_ok = match &report.nf_tables {
        Some(Ok(s)) => Some(s.reachable),
        _ => None,
    };
    let known = |yes: bool| yes.then_some(true);
    let state = |p: &catalog::Prerequisite| -> Option<bool> {
        if no_nfnetlink {
            return Some(false);
        }
        match p.module {
            "nfnetlink" => known(any || nf_tables_ok.is_some()),
            "nf_tables" if has(|e| matches!(e, ProbeError::NoNftables)) => Some(false),
            "nf_tables" => nf_tables_ok.or(compat).or(known(xt || nftables)),
            "nft_compat" if compat.is_some() => Some(false),
            "nft_compat" => known(xt),
            "ip_set" if has(|e| matches!(e, ProbeError::NoIpset)) => Some(false),
            "ip_set" => known(ipset),
            _ => None,
        }
    };
    let mut wanted: Vec<catalog::Prerequisite> = Vec::new();
    for subsystem in report.results.iter().map(|r| r.requirement.extension.kind.subsystem()) {
        for p in catalog::prerequisites(subsystem) {
            if !wanted.contains(p) {
                wanted.push(*p);
            }
        }
    }
    wanted
        .iter()
        .map(|p| {
            let available = state(p);
            Prerequisite {
                name: p.module,
                available,
                config: ctx.config_fact(&[p.config]),
                module: (available != Some(true)).then(|| ctx.module_fact(vec![p.module.to_string()])),
            }
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn diagnose(
    need: &Need,
    xt: Backend,
    results: &[&check::CheckResult],
    other: &[&check::CheckResult],
    prereqs: &[Prerequisite],
    ctx: &mut Context,
    have_tree: bool,
    proc_mounted: bool,
) -> Diagnosis {
    let ext = &need.requirement.extension;
    // xtables through the need's backend; the other kinds have one.
    let backends = Backend::for_kind(ext.kind, &[xt]);
    let results: Vec<_> = results
        .iter()
        .filter(|r| backends.contains(&r.backend) && !matches!(r.outcome, Outcome::NotApplicable(_)))
        .collect();
    let answers: Vec<(Family, Answer)> = results
        .iter()
        .map(|r| {
            let a = match (&r.outcome, r.status()) {
                (Outcome::Registered(v), Status::Supported) => Answer::Supported(v.supported.clone()),
                (Outcome::Registered(v), _) => Answer::RevisionMissing(v.supported.clone()),
                (Outcome::Present, _) => Answer::Supported(Vec::new()),
                (Outcome::Failed(e), _) => Answer::CannotAsk(e.clone()),
                (Outcome::Unknown(why), _) => Answer::Unknown(why.clone()),
                (Outcome::NotRegistered | Outcome::NotApplicable(_), _) => Answer::NotRegistered,
            };
            (r.family, a)
        })
        .collect();
    let registered: Vec<Family> = results
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Registered(_) | Outcome::Present))
        .map(|r| r.family)
        .collect();
    let missing: Vec<Family> =
        results.iter().filter(|r| r.status() != Status::Supported).map(|r| r.family).collect();
    let other_kind = other.iter().find_map(|r| match &r.outcome {
        Outcome::Registered(v) => Some(v.supported.clone()),
        _ => None,
    });
    // The option of the families where it is missing (the others' would
    // say "built in" about something else).
    let asked = if missing.is_empty() { &need.families } else { &missing };
    let symbols: Vec<String> =
        asked.iter().filter_map(|f| catalog::provider(ext, *f)).flat_map(|p| p.config).collect();
    let config = ctx.config_fact(&symbols.iter().map(String::as_str).collect::<Vec<_>>());
    let module = ctx.module_fact(catalog::module_queries(
        ext,
        if missing.is_empty() { &need.families } else { &missing },
    ));

    let module_state = match (&module.found, &module.error) {
        (_, Some(e)) if have_tree => ModuleState::TreeError(e.clone()),
        (Some(l), _) if l.builtin => ModuleState::Builtin(l.module.to_string()),
        (Some(l), _) if l.live => ModuleState::Live(l.module.to_string()),
        (Some(l), _) => ModuleState::File(
            l.module.to_string(),
            l.path.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
        ),
        (None, _) if !have_tree => {
            ModuleState::NoTree(default_dirs(&ctx.release).iter().map(|p| p.display().to_string()).collect())
        }
        (None, _) => ModuleState::Absent(module.looked_up.clone()),
    };
    let config_state = match (&config.symbol, &config.value) {
        (Some(s), Some(v)) => ConfigState::Known(s.clone(), v.clone()),
        (s, None) if ctx.config.is_none() => ConfigState::NoConfig(s.clone()),
        _ => ConfigState::NoSymbol,
    };
    let p = &ctx.policy;
    let autoloader = match (&p.modprobe_path, p.modprobe_present) {
        (Some(path), _) if path.is_empty() => Autoloader::Disabled,
        (Some(path), Some(true)) => Autoloader::Present(path.clone()),
        (Some(path), Some(false)) => Autoloader::Missing(path.clone()),
        _ => Autoloader::Unknown,
    };
    let module_name = module.found.as_ref().map(|l| l.module.as_str().to_string()).unwrap_or_default();
    let modprobe_d = modprobe_d_fact(ctx, ext, &module, &missing);
    let facts = Facts {
        modprobe_d,
        requirement: need.requirement.clone(),
        answers,
        other_kind: other_kind.clone(),
        module: module_state,
        config: config_state,
        config_source: ctx.config.as_ref().map(|c| c.source.display().to_string()),
        host: HostFacts {
            module_support: p.module_support,
            eperm_causes: if p.module_support == ModuleSupport::Absent {
                Vec::new()
            } else {
                p.eperm_causes(&module_name)
            },
            in_container: p.initial_user_namespace == Some(false),
            autoloader,
            proc_mounted,
        },
        blocked: prereqs
            .iter()
            .filter(|p| p.available == Some(false))
            .filter_map(|p| {
                let needed = catalog::prerequisites(ext.kind.subsystem());
                needed.iter().find(|n| n.module == p.name).map(|n| (p, n))
            })
            .map(|(p, n)| Blocked {
                name: p.name,
                symbol: n.config,
                module_found: p.module.as_ref().is_some_and(|m| m.found.is_some()),
                line: prereq_line(p),
            })
            .collect(),
        release: ctx.release.clone(),
    };
    let decision = verdict::decide(&facts);
    Diagnosis {
        requirement: need.requirement.to_string(),
        optional: need.optional,
        verdict: decision.verdict,
        registered,
        missing,
        other_kind,
        causes: decision.causes,
        remedy: decision.remedy,
        config,
        module,
    }
}

/// What the host's modprobe.d says against loading the module: an install
/// command for the module found, or a blacklist line that hid the module
/// an alias would have found. (cause, remedy).
fn modprobe_d_fact(
    ctx: &Context,
    ext: &Extension,
    module: &ModuleFact,
    missing: &[Family],
) -> Option<(String, String)> {
    let config = &ctx.resolver.as_ref().ok()?.config;
    if let Some(found) = module.found.as_ref().filter(|l| !l.builtin && !l.live) {
        if let Some(i) = config.install_for(&found.module) {
            return Some((
                format!(
                    "modprobe.d has `install {} {}` ({}): modprobe runs that instead of loading {}, and xtprobe \
                     does not load it either",
                    i.pattern, i.command, i.at, found.module
                ),
                format!("remove that line ({}) if {} is wanted, then `xtprobe ensure`", i.at, found.module),
            ));
        }
        return None;
    }
    let providers: Vec<crate::kmod::ModuleName> = missing
        .iter()
        .filter_map(|f| catalog::provider(ext, *f))
        .map(|p| crate::kmod::ModuleName::new(&p.module))
        .collect();
    providers.iter().find_map(|m| config.blacklisted(m)).map(|b| {
        (
            format!(
                "modprobe.d blacklists {} ({}): a module found through an alias (as the kernel asks for it) is \
                 skipped, by modprobe and by xtprobe",
                b.module, b.at
            ),
            format!("`xtprobe load {}` loads it by name; or remove the blacklist line ({})", b.module, b.at),
        )
    })
}

fn prereq_line(p: &Prerequisite) -> String {
    let module = match p.module.as_ref().and_then(|m| m.found.as_ref()) {
        Some(l) => match &l.path {
            Some(path) => format!("module file present: {}", path.display()),
            None if l.builtin => "listed as built in".to_string(),
            None => "loaded".to_string(),
        },
        None => "no module file found".to_string(),
    };
    let config = match (&p.config.symbol, &p.config.value) {
        (Some(s), Some(Value::Yes)) => format!("; {s}=y (built in)"),
        (Some(s), Some(Value::Module)) => format!("; {s}=m (a module)"),
        (Some(s), Some(Value::NotSet)) => format!("; {s} is not set"),
        (Some(s), Some(Value::Other(o))) => format!("; {s}={o}"),
        _ => String::new(),
    };
    format!("{} is not available ({module}{config})", p.name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::Revisions;
    use crate::system::syscalls::Support;
    use std::path::Path;

    /// A host fixture: /proc with module support, a config, and a modules
    /// tree holding xt_comment (if asked).
    fn context(config: &str, with_module: bool, broken_index: bool) -> (tempfile::TempDir, Context) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let write = |rel: &str, text: &str| {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        write("proc/self/uid_map", "0 0 4294967295\n");
        write("proc/sys/kernel/modules_disabled", "0\n");
        let modules = root.join("lib/modules/6.12.0-test");
        std::fs::create_dir_all(&modules).unwrap();
        if with_module {
            write("lib/modules/6.12.0-test/kernel/net/netfilter/xt_comment.ko", "not read");
            write("lib/modules/6.12.0-test/modules.dep", "kernel/net/netfilter/xt_comment.ko:\n");
            write("lib/modules/6.12.0-test/modules.alias", "alias ipt_comment xt_comment\n");
        }
        if broken_index {
            write("lib/modules/6.12.0-test/modules.dep", "no colon here\n");
        }
        let host = Host::rooted(root);
        let config = (!config.is_empty()).then(|| KernelConfig::parse(Path::new("/proc/config.gz"), config));
        let resolver = Resolver::open(&modules, KernelModules::new(host.clone())).map_err(|e| e.to_string());
        let ctx = Context {
            config,
            resolver,
            policy: LoadPolicy::read(&host, &Support(ModuleSupport::Yes)),
            release: "6.12.0-test".into(),
        };
        (dir, ctx)
    }

    fn report(spec: &str, outcome: Outcome) -> (Need, CheckReport) {
        let need = Need::new(spec.parse().unwrap(), vec![Family::Ipv4], false);
        let r = CheckReport {
            kernel_release: "6.12.0-test".into(),
            profile: None,
            nf_tables: None,
            results: vec![check::CheckResult {
                requirement: need.requirement.clone(),
                optional: false,
                family: Family::Ipv4,
                backend: Backend::Nft,
                outcome,
                alternative_for: None,
            }],
            disagreements: Vec::new(),
            rules: None,
        };
        (need, r)
    }

    fn refs(r: &CheckReport) -> Vec<&check::CheckResult> {
        r.results.iter().collect()
    }

    #[test]
    fn facts_from_a_tree_and_a_config_reach_the_verdict() {
        let (_d, mut ctx) = context("CONFIG_NETFILTER_XT_MATCH_COMMENT=m\n", true, false);
        let (need, r) = report("comment", Outcome::NotRegistered);
        let d = diagnose(&need, Backend::Nft, &refs(&r), &[], &[], &mut ctx, true, true);
        assert_eq!(d.verdict, Verdict::ModuleNotLoaded, "{d:#?}");
        assert!(d.causes.iter().any(|c| c.contains("module file present, not loaded")), "{:?}", d.causes);
        assert!(d.causes.iter().any(|c| c.contains("CONFIG_NETFILTER_XT_MATCH_COMMENT=m (a module)")));
        assert!(d.remedy.contains("xtprobe ensure match:comment"), "{}", d.remedy);
    }

    #[test]
    fn a_broken_index_is_a_fact_not_no_module() {
        let (_d, mut ctx) = context("CONFIG_NETFILTER_XT_MATCH_COMMENT=m\n", true, true);
        let (need, r) = report("comment", Outcome::NotRegistered);
        let d = diagnose(&need, Backend::Nft, &refs(&r), &[], &[], &mut ctx, true, true);
        assert_eq!(d.verdict, Verdict::TreeUnusable, "{d:#?}");
        assert!(d.causes.iter().any(|c| c.contains("modules.dep:1")), "{:?}", d.causes);
    }

    #[test]
    fn the_other_kind_is_reported() {
        let (_d, mut ctx) = context("", false, false);
        let (need, r) = report("match:MASQUERADE", Outcome::NotRegistered);
        let (_, mut other) =
            report("target:MASQUERADE", Outcome::Registered(Revisions { supported: vec![0], best: Some(0) }));
        other.results[0].requirement = "target:MASQUERADE".parse().unwrap();
        let d = diagnose(&need, Backend::Nft, &refs(&r), &refs(&other), &[], &mut ctx, true, true);
        assert_eq!(d.verdict, Verdict::WrongKind, "{d:#?}");
        assert!(d.remedy.contains("did you mean `target:MASQUERADE`?"), "{}", d.remedy);
        assert_eq!(d.other_kind, Some(vec![0]));
    }
}
