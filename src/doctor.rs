//! `xtprobe doctor`: why an extension is missing, and the one thing to do.
//!
//! For every extension the kernel does not register, the cause chain is
//! followed from the kernel outwards:
//!
//! 1. can the probe ask at all (nfnetlink, nf_tables, nft_compat)?
//! 2. the module that provides it (found by the alias the kernel itself
//!    requests, `ipt_<name>`, `ip6t_<name>`, …): built in, loaded, a file
//!    in the modules directory, or absent;
//! 3. the kernel configuration: `y`, `m`, not set, or unknown;
//! 4. whether this host may load modules at all: module support,
//!    `CAP_SYS_MODULE` in the initial user namespace (not in a container),
//!    `kernel.modules_disabled`, lockdown;
//! 5. the kernel's own autoloader (`kernel.modprobe`): present or not.
//!
//! Then one verdict and one remedy: `xtprobe ensure …`, install the package
//! that ships the module, rebuild the kernel with the option, or run on the
//! host rather than in a container.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::catalog::{self, PROBE_PREREQUISITES};
use crate::check::{self, CheckOptions, CheckReport, CheckResult, Status};
use crate::exit::ExitCode;
use crate::kconfig::{self, KernelConfig, Value};
use crate::kmod::policy::LoadPolicy;
use crate::kmod::resolve::{Located, Resolver};
use crate::kmod::state::KernelModules;
use crate::kmod::{default_dirs, modules_dir};
use crate::probe::{Backend, Extension, Family, Outcome, ProbeError};
use crate::profile::Need;
use crate::system::host::Host;

/// What to examine.
#[derive(Debug, Clone)]
pub struct DoctorOptions {
    /// The extensions.
    pub needs: Vec<Need>,
    /// The profile they come from.
    pub profile: Option<String>,
    /// Per kernel answer.
    pub timeout: Duration,
    /// The modules directory [default: /lib/modules/$(uname -r)].
    pub modules_dir: Option<PathBuf>,
    /// The kernel config [default: searched].
    pub kernel_config: Option<PathBuf>,
}

/// The one-word verdict for an extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Registered in every family asked.
    Supported,
    /// Registered, but not at the required revision.
    RevisionMissing,
    /// The probe's own prerequisites are missing; the extension could not be asked about.
    CannotProbe,
    /// A module file is there and could be loaded: `xtprobe ensure`.
    ModuleNotLoaded,
    /// A module file is there, but this host does not allow loading it.
    CannotLoadHere,
    /// The kernel was built with it as a module, but no module file is installed.
    ModuleNotInstalled,
    /// The kernel was built without it.
    NotBuilt,
    /// The kernel cannot load modules, and does not have it built in.
    NoModuleSupport,
    /// No module file and no kernel config to tell why.
    Unknown,
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
    /// `nfnetlink`, `nf_tables`, `nft_compat`.
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
    pub kernel_config: Option<PathBuf>,
    /// Why no config could be used, if so.
    pub kernel_config_error: Option<String>,
    /// The modules directory, if there is one.
    pub modules_dir: Option<PathBuf>,
    /// What the probe needs.
    pub prerequisites: Vec<Prerequisite>,
    /// The host's module-loading facts.
    pub host: LoadPolicy,
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
        } else if required.iter().all(|d| d.verdict == Verdict::Supported) {
            ExitCode::Ok
        } else {
            ExitCode::Missing
        }
    }
}

/// What doctor reads besides the probe.
struct Context {
    config: Option<KernelConfig>,
    resolver: Option<Resolver>,
    policy: LoadPolicy,
    modules_dir: Option<PathBuf>,
    release: String,
}

impl Context {
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
    fn module_fact(&mut self, queries: Vec<String>) -> ModuleFact {
        let mut found = None;
        if let Some(r) = &mut self.resolver {
            for q in &queries {
                if let Ok((located, _)) = r.locate(q) {
                    if let Some(l) = located.into_iter().next() {
                        found = Some(l);
                        break;
                    }
                }
            }
        }
        ModuleFact { looked_up: queries, found }
    }
}

/// The module queries for an extension: the aliases the kernel requests
/// for each family, then the mainline module name.
pub fn module_queries(ext: &Extension, families: &[Family]) -> Vec<String> {
    let mut q: Vec<String> = families.iter().map(|f| format!("{}{}", f.module_prefix(), ext.name)).collect();
    for f in families {
        if let Some(p) = catalog::provider(ext, *f) {
            q.push(p.module.to_string());
        }
    }
    let xt = format!("xt_{}", ext.name);
    q.push(xt);
    q.dedup();
    let mut seen = std::collections::BTreeSet::new();
    q.retain(|s| seen.insert(s.clone()));
    q
}

/// Runs the probe and the diagnosis.
pub fn run(opts: &DoctorOptions, host: &Host) -> DoctorReport {
    let release = crate::system::host::kernel_release();
    let report = check::run(&CheckOptions {
        needs: opts.needs.clone(),
        profile: opts.profile.clone(),
        backends: vec![Backend::Nft],
        timeout: opts.timeout,
    });
    let (config, config_error) = match kconfig::find(&release, opts.kernel_config.as_deref()) {
        Ok(c) => (c, None),
        Err(e) => (None, Some(e.to_string())),
    };
    let kernel = KernelModules::new(host.clone());
    let dir = opts.modules_dir.clone().or_else(|| modules_dir(&release));
    let resolver = dir.as_ref().and_then(|d| Resolver::open(d, kernel.clone()).ok());
    let mut ctx = Context { config, resolver, policy: LoadPolicy::read(host), modules_dir: dir, release };

    let prerequisites = prerequisites(&report, &mut ctx);
    let extensions =
        opts.needs.iter().map(|need| diagnose(need, &report, &prerequisites, &mut ctx)).collect();
    DoctorReport {
        kernel_release: ctx.release.clone(),
        profile: opts.profile.clone(),
        kernel_config: ctx.config.as_ref().map(|c| c.source.clone()),
        kernel_config_error: config_error,
        modules_dir: ctx.modules_dir.clone(),
        prerequisites,
        legacy_ip_tables: host.proc_exists("net/ip_tables_names"),
        host: ctx.policy.clone(),
        extensions,
    }
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
    let answered =
        report.results.iter().any(|r| matches!(r.outcome, Outcome::Registered(_) | Outcome::NotRegistered));
    let no_nfnetlink = errors.iter().any(|e| matches!(e, ProbeError::NoNfnetlink));
    let compat = errors.iter().find_map(|e| match e {
        ProbeError::CompatUnavailable { nf_tables_reachable, .. } => Some(*nf_tables_reachable),
        _ => None,
    });
    let nf_tables_ok = match &report.nf_tables {
        Some(Ok(s)) => Some(s.reachable),
        _ => None,
    };
    let states: [Option<bool>; 3] = [
        if no_nfnetlink {
            Some(false)
        } else if answered || nf_tables_ok.is_some() {
            Some(true)
        } else {
            None
        },
        if no_nfnetlink { Some(false) } else { nf_tables_ok.or(compat).or(answered.then_some(true)) },
        if no_nfnetlink || compat.is_some() { Some(false) } else { answered.then_some(true) },
    ];
    PROBE_PREREQUISITES
        .iter()
        .zip(states)
        .map(|(&(symbol, name), available)| Prerequisite {
            name,
            available,
            config: ctx.config_fact(&[symbol]),
            module: (available != Some(true)).then(|| ctx.module_fact(vec![name.to_string()])),
        })
        .collect()
}

fn diagnose(need: &Need, report: &CheckReport, prereqs: &[Prerequisite], ctx: &mut Context) -> Diagnosis {
    let ext = &need.requirement.extension;
    let results: Vec<&CheckResult> = report
        .results
        .iter()
        .filter(|r| r.requirement == need.requirement && r.backend == Backend::Nft)
        .collect();
    let registered: Vec<Family> =
        results.iter().filter(|r| matches!(r.outcome, Outcome::Registered(_))).map(|r| r.family).collect();
    let missing: Vec<Family> =
        results.iter().filter(|r| r.status() != Status::Supported).map(|r| r.family).collect();
    let symbols: Vec<&str> = need
        .families
        .iter()
        .filter_map(|f| catalog::provider(ext, *f))
        .flat_map(|p| p.config.iter().copied())
        .collect();
    let config = ctx.config_fact(&symbols);
    let module =
        ctx.module_fact(module_queries(ext, if missing.is_empty() { &need.families } else { &missing }));
    let mut d = Diagnosis {
        requirement: need.requirement.to_string(),
        optional: need.optional,
        verdict: Verdict::Supported,
        registered,
        missing: missing.clone(),
        causes: Vec::new(),
        remedy: "nothing to do".to_string(),
        config,
        module,
    };
    if missing.is_empty() {
        let revs: Vec<String> = results
            .iter()
            .filter_map(|r| match &r.outcome {
                Outcome::Registered(v) => Some(format!("{} rev {}", r.family, list(&v.supported))),
                _ => None,
            })
            .collect();
        d.causes.push(format!("registered: {}", revs.join("; ")));
        return d;
    }
    let spec = need.requirement.to_string();
    let ensure = format!("xtprobe ensure {spec}");

    // 1. Can the probe ask at all?
    if let Some(e) = results.iter().find_map(|r| match &r.outcome {
        Outcome::Failed(e) => Some(e),
        _ => None,
    }) {
        d.verdict = Verdict::CannotProbe;
        d.causes.push(format!("the kernel could not be asked: {e}"));
        let blocked: Vec<&Prerequisite> = prereqs.iter().filter(|p| p.available == Some(false)).collect();
        for p in &blocked {
            d.causes.push(prereq_line(p));
        }
        d.remedy = if matches!(e, ProbeError::PermissionDenied { .. }) {
            "run as root (or inside `unshare -rn`)".to_string()
        } else if blocked.iter().all(|p| p.module.as_ref().is_some_and(|m| m.found.is_some()))
            && !blocked.is_empty()
        {
            format!("`{ensure}` loads {} and then the extension", names(&blocked))
        } else if let Some(p) = blocked.iter().find(|p| p.module.as_ref().is_none_or(|m| m.found.is_none())) {
            format!(
                "the kernel lacks {}: rebuild it with {}=m (or =y), or install the package that ships the module",
                p.name,
                p.config.symbol.as_deref().unwrap_or("its option")
            )
        } else {
            format!("`{ensure}`")
        };
        return d;
    }

    // Registered, but not at the required revision.
    if results.iter().all(|r| r.status() != Status::NotRegistered) {
        d.verdict = Verdict::RevisionMissing;
        for r in &results {
            if r.status() == Status::RevisionMissing {
                d.causes.push(format!("{}: {}", r.family, r.message()));
            }
        }
        d.remedy = "use a rule without that revision, or a kernel whose module provides it".to_string();
        return d;
    }

    d.causes.push(format!(
        "not registered in {}: the kernel knows no {} named {:?}",
        missing.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(", "),
        ext.kind,
        ext.name
    ));
    let dir = ctx.modules_dir.as_ref().map(|d| d.display().to_string());
    match &d.module.found {
        Some(l) if l.builtin => d.causes.push(format!(
            "{} is listed as built in (modules.builtin), yet not registered for these families",
            l.module
        )),
        Some(l) if l.live => {
            d.causes.push(format!("module {} is loaded, yet does not register it here", l.module))
        }
        Some(l) => d.causes.push(format!(
            "module file present, not loaded: {}",
            l.path.as_ref().map(|p| p.display().to_string()).unwrap_or_default()
        )),
        None => d.causes.push(match &dir {
            Some(dir) => format!("no module provides {} in {dir}", d.module.looked_up.join(", ")),
            None => format!(
                "no modules directory for kernel {} ({} missing)",
                ctx.release,
                default_dirs(&ctx.release)
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }),
    }
    let config_line = match (&d.config.symbol, &d.config.value, &ctx.config) {
        (Some(s), Some(v), Some(c)) => format!("kernel config ({}): {s}{}", c.source.display(), describe(v)),
        (Some(s), None, None) => format!("kernel config: not found, so {s} is unknown"),
        (None, _, Some(c)) => {
            format!("kernel config ({}): no known option for this extension", c.source.display())
        }
        _ => "kernel config: not found".to_string(),
    };
    d.causes.push(config_line);
    let p = &ctx.policy;
    if !p.modules_supported {
        d.causes.push(
            "this kernel cannot load modules: CONFIG_MODULES is not set (/proc/modules is absent)".into(),
        );
    }
    match (&p.modprobe_path, p.modprobe_present) {
        (Some(path), Some(false)) => d.causes.push(format!(
            "the kernel's autoloader kernel.modprobe = {path} does not exist, so iptables' request for {}{} could not load it",
            missing[0].module_prefix(),
            ext.name
        )),
        (Some(path), Some(true)) => {
            d.causes.push(format!("the kernel's autoloader {path} exists but did not load it"))
        }
        (Some(_), None) => d.causes.push("kernel.modprobe is empty: the kernel never autoloads modules".into()),
        (None, _) if p.modules_supported => d.causes.push("kernel.modprobe is not readable".into()),
        _ => {}
    }
    let eperm = p.eperm_causes(d.module.found.as_ref().map(|l| l.module.as_str()).unwrap_or(""));
    let option = d.config.symbol.clone();
    let set_to = |v: &str| match &option {
        Some(o) => format!("{o}={v}"),
        None => format!("the option that provides {spec} set to {v}"),
    };

    let file_present = d.module.found.as_ref().is_some_and(|l| l.path.is_some() && !l.live);
    (d.verdict, d.remedy) = if !p.modules_supported {
        (
            Verdict::NoModuleSupport,
            format!(
                "loading is impossible on this kernel (no module support); rebuild it with {}",
                set_to("y")
            ),
        )
    } else if file_present && !eperm.is_empty() {
        d.causes.extend(eperm.iter().cloned());
        let remedy = if p.initial_user_namespace == Some(false) {
            format!("run `{ensure}` on the host, not in the container (or load the module there)")
        } else {
            format!("{}; then `{ensure}`", eperm[0])
        };
        (Verdict::CannotLoadHere, remedy)
    } else if file_present {
        (Verdict::ModuleNotLoaded, format!("`{ensure}` (add --persist to keep it across reboots)"))
    } else {
        match &d.config.value {
            Some(Value::Module) => (
                Verdict::ModuleNotInstalled,
                format!(
                    "install the package that ships this module for kernel {} (Debian: linux-image-{0}; Ubuntu: \
                     linux-modules-extra-{0}; RHEL/Fedora: kernel-modules-extra), then `{ensure}`",
                    ctx.release
                ),
            ),
            Some(Value::NotSet) => (
                Verdict::NotBuilt,
                format!("rebuild the kernel with {} (or =y), or use a kernel that has it", set_to("m")),
            ),
            _ => (
                Verdict::Unknown,
                format!(
                    "no module and no kernel config say it exists for this kernel: it is probably not built; \
                     check {} in the kernel's configuration",
                    option.as_deref().unwrap_or("the option that provides it")
                ),
            ),
        }
    };
    d
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
        (Some(s), Some(v)) => format!("; {s}{}", describe(v)),
        _ => String::new(),
    };
    format!("{} is not available ({module}{config})", p.name)
}

fn names(ps: &[&Prerequisite]) -> String {
    ps.iter().map(|p| p.name).collect::<Vec<_>>().join(" and ")
}

fn describe(v: &Value) -> String {
    match v {
        Value::Yes => "=y (built in)".into(),
        Value::Module => "=m (a module)".into(),
        Value::NotSet => " is not set".into(),
        Value::Other(o) => format!("={o}"),
    }
}

fn list(v: &[u8]) -> String {
    v.iter().map(u8::to_string).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::CheckResult;
    use crate::probe::{Requirement, Revisions};

    fn need(spec: &str) -> Need {
        Need {
            requirement: spec.parse::<Requirement>().unwrap(),
            families: vec![Family::Ipv4],
            optional: false,
        }
    }

    fn report(need: &Need, outcome: Outcome) -> CheckReport {
        CheckReport {
            kernel_release: "6.12.0-test".into(),
            profile: None,
            nf_tables: None,
            results: vec![CheckResult {
                requirement: need.requirement.clone(),
                optional: false,
                family: Family::Ipv4,
                backend: Backend::Nft,
                outcome,
            }],
            disagreements: Vec::new(),
        }
    }

    /// A host fixture: /proc with module support, a config, and a modules
    /// tree holding `with_module` (if any) as xt_comment.
    struct Fixture {
        _dir: tempfile::TempDir,
        ctx: Context,
    }

    fn fixture(config: &str, with_module: bool, container: bool, modprobe: Option<&str>) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let write = |rel: &str, text: &str| {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        write("proc/modules", "");
        write("proc/self/uid_map", if container { "0 100000 65536\n" } else { "0 0 4294967295\n" });
        write("proc/sys/kernel/modules_disabled", "0\n");
        if let Some(m) = modprobe {
            write("proc/sys/kernel/modprobe", &format!("{m}\n"));
        }
        let modules = root.join("lib/modules/6.12.0-test");
        std::fs::create_dir_all(&modules).unwrap();
        if with_module {
            write(
                "lib/modules/6.12.0-test/kernel/net/netfilter/xt_comment.ko",
                "not read: modules.dep says it all",
            );
            write("lib/modules/6.12.0-test/modules.dep", "kernel/net/netfilter/xt_comment.ko:\n");
            write("lib/modules/6.12.0-test/modules.alias", "alias ipt_comment xt_comment\n");
        }
        let host = Host::rooted(root);
        let config = (!config.is_empty()).then(|| KernelConfig::parse(Path::new("/proc/config.gz"), config));
        let resolver = Resolver::open(&modules, KernelModules::new(host.clone())).ok();
        let ctx = Context {
            config,
            resolver,
            policy: LoadPolicy::read(&host),
            modules_dir: Some(modules),
            release: "6.12.0-test".into(),
        };
        Fixture { _dir: dir, ctx }
    }

    use std::path::Path;

    fn verdict(f: &mut Fixture, outcome: Outcome) -> Diagnosis {
        let n = need("comment");
        diagnose(&n, &report(&n, outcome), &[], &mut f.ctx)
    }

    #[test]
    fn module_present_but_not_loaded_and_no_autoloader() {
        let mut f =
            fixture("CONFIG_NETFILTER_XT_MATCH_COMMENT=m\n", true, false, Some("/sbin/modprobe-missing"));
        let d = verdict(&mut f, Outcome::NotRegistered);
        assert_eq!(d.verdict, Verdict::ModuleNotLoaded, "{d:#?}");
        assert!(d.causes.iter().any(|c| c.contains("module file present, not loaded")), "{:?}", d.causes);
        assert!(
            d.causes.iter().any(|c| c.contains("autoloader") && c.contains("does not exist")),
            "{:?}",
            d.causes
        );
        assert!(d.causes.iter().any(|c| c.contains("CONFIG_NETFILTER_XT_MATCH_COMMENT=m (a module)")));
        assert!(d.remedy.contains("xtprobe ensure match:comment"), "{}", d.remedy);
        assert_eq!(d.module.found.as_ref().unwrap().module.as_str(), "xt_comment");
    }

    #[test]
    fn in_a_container_the_remedy_is_the_host() {
        let mut f = fixture("CONFIG_NETFILTER_XT_MATCH_COMMENT=m\n", true, true, Some("/sbin/modprobe"));
        let d = verdict(&mut f, Outcome::NotRegistered);
        assert_eq!(d.verdict, Verdict::CannotLoadHere);
        assert!(d.remedy.contains("on the host"), "{}", d.remedy);
    }

    #[test]
    fn config_decides_when_there_is_no_module_file() {
        let mut f = fixture("# CONFIG_NETFILTER_XT_MATCH_COMMENT is not set\n", false, false, None);
        let d = verdict(&mut f, Outcome::NotRegistered);
        assert_eq!(d.verdict, Verdict::NotBuilt);
        assert!(d.remedy.contains("CONFIG_NETFILTER_XT_MATCH_COMMENT=m"), "{}", d.remedy);

        let mut f = fixture("CONFIG_NETFILTER_XT_MATCH_COMMENT=m\n", false, false, None);
        assert_eq!(verdict(&mut f, Outcome::NotRegistered).verdict, Verdict::ModuleNotInstalled);

        // A .config that does not mention the option: its dependencies are off.
        let mut f = fixture("CONFIG_NETFILTER=y\n", false, false, None);
        assert_eq!(verdict(&mut f, Outcome::NotRegistered).verdict, Verdict::NotBuilt);

        let mut f = fixture("", false, false, None);
        let d = verdict(&mut f, Outcome::NotRegistered);
        assert_eq!(d.verdict, Verdict::Unknown);
        assert!(d.causes.iter().any(|c| c.contains("kernel config: not found")));
    }

    #[test]
    fn supported_revision_missing_and_cannot_probe() {
        let mut f = fixture("", false, false, None);
        let revs = Revisions { supported: vec![0], best: Some(0) };
        assert_eq!(verdict(&mut f, Outcome::Registered(revs.clone())).verdict, Verdict::Supported);
        let n = need("comment@1");
        let d = diagnose(&n, &report(&n, Outcome::Registered(revs)), &[], &mut f.ctx);
        assert_eq!(d.verdict, Verdict::RevisionMissing);
        let compat = ProbeError::CompatUnavailable { nf_tables_reachable: true, ext_ack: None };
        let d = verdict(&mut f, Outcome::Failed(compat));
        assert_eq!(d.verdict, Verdict::CannotProbe);
        assert!(d.causes[0].contains("nft_compat"), "{:?}", d.causes);
    }

    #[test]
    fn queries_follow_the_kernel_aliases() {
        let q = module_queries(&Extension::target("REJECT"), &[Family::Ipv4, Family::Ipv6]);
        assert_eq!(q, ["ipt_REJECT", "ip6t_REJECT", "xt_REJECT"]);
        let q = module_queries(&Extension::matching("comment"), &[Family::Ipv4]);
        assert_eq!(q, ["ipt_comment", "xt_comment"]);
    }
}
