//! `xtprobe capture`: what the running ruleset requires, read from the
//! kernel without changing it and without loading anything.
//!
//! Three sources, each read only if it is already there — asking a
//! subsystem that is not loaded would make the kernel autoload it:
//! - nf_tables: tables, chains, sets and rules, dumped over netlink
//!   ([`crate::probe::nftables::dump`]), asked only if nfnetlink and
//!   nf_tables are loaded or built in;
//! - legacy xtables: every table in `/proc/net/{ip,ip6,arp}_tables_names`
//!   ([`crate::probe::xt::entries`]);
//! - ipset: the sets' headers, if ip_set is loaded or built in.
//!
//! "Loaded or built in" is `/sys/module/NAME`, or the modules directory's
//! modules.builtin; a kernel without module support cannot autoload, so
//! there everything is asked.

use std::path::PathBuf;

use crate::app::exit::ExitCode;
use crate::probe::ipset::IpsetProber;
use crate::probe::nftables::dump;
use crate::probe::socket::NfnlSocket;
use crate::probe::xt::entries;
use crate::probe::{Family, ProbeError};
use crate::ruleset::{Entry, Tally};
use crate::system::deadline::{self, Deadline};
use crate::system::fs;
use crate::system::host::Host;

/// What to capture.
#[derive(Debug, Clone)]
pub struct CaptureOptions {
    /// When every source must have been read.
    pub deadline: Deadline,
    /// The modules directory, to tell built-in subsystems [default: the running kernel's].
    pub modules_dir: Option<PathBuf>,
}

/// How one source went.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case", tag = "state", content = "detail")]
pub enum SourceState {
    /// Read; the number of objects (rules, entries, sets) seen.
    Read(usize),
    /// Not there, so not asked (nothing was autoloaded).
    Absent(String),
    /// It could not be read.
    Failed(String),
}

/// One source's outcome.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Source {
    /// `nftables`, `legacy ipv4`, `ipset`.
    pub name: String,
    /// What happened.
    #[serde(flatten)]
    pub state: SourceState,
}

/// Everything capture found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CaptureReport {
    /// `uname -r`.
    pub kernel_release: String,
    /// Each source and how it went.
    pub sources: Vec<Source>,
    /// The requirements, sorted.
    pub entries: Vec<Entry>,
    /// Things seen that are not requirements xtprobe knows.
    pub notes: Vec<String>,
}

impl CaptureReport {
    /// 3 if a source that is there could not be read (a profile from part
    /// of the ruleset would be a confident wrong answer), else 0.
    pub fn exit_code(&self) -> ExitCode {
        if self.sources.iter().any(|s| matches!(s.state, SourceState::Failed(_))) {
            ExitCode::CannotProbe
        } else {
            ExitCode::Ok
        }
    }
}

/// Whether the kernel has `module` without being asked for it.
fn present(
    host: &Host,
    release: &str,
    modules_dir: Option<&std::path::Path>,
    module: &str,
) -> Result<(), String> {
    // No module support: nothing can be autoloaded, so asking is safe.
    if !host.proc_exists("modules") || host.sys_exists(&format!("module/{module}")) {
        return Ok(());
    }
    let dir = modules_dir.map(PathBuf::from).or_else(|| crate::kmod::modules_dir(release));
    let builtin = dir
        .and_then(|d| fs::read_file(&d.join("modules.builtin"), 16 << 20, "modules.builtin").ok())
        .map(|b| {
            String::from_utf8_lossy(&b)
                .lines()
                .any(|l| l.rsplit('/').next().is_some_and(|f| f.strip_suffix(".ko") == Some(module)))
        })
        .unwrap_or(false);
    if builtin {
        Ok(())
    } else {
        Err(format!("{module} is not loaded (not asked, so nothing was autoloaded)"))
    }
}

/// Captures within the deadline.
pub fn run(opts: &CaptureOptions, host: &Host) -> CaptureReport {
    let work = opts.clone();
    let h = host.clone();
    let release = crate::system::host::kernel_release();
    match deadline::within(&opts.deadline, move || capture(&work, &h)) {
        Ok(report) => report,
        Err(pending) => CaptureReport {
            kernel_release: release,
            sources: vec![Source {
                name: "capture".into(),
                state: SourceState::Failed(
                    ProbeError::Timeout { budget_ms: opts.deadline.budget().as_millis() as u64, pending }
                        .to_string(),
                ),
            }],
            entries: Vec::new(),
            notes: Vec::new(),
        },
    }
}

fn capture(opts: &CaptureOptions, host: &Host) -> CaptureReport {
    let release = crate::system::host::kernel_release();
    let dir = opts.modules_dir.as_deref();
    let mut tally = Tally::default();
    let mut sources = Vec::new();

    // nf_tables.
    let state = match present(host, &release, dir, "nfnetlink")
        .and_then(|()| present(host, &release, dir, "nf_tables"))
    {
        Err(why) => SourceState::Absent(why),
        Ok(()) => {
            opts.deadline.doing("it was asked for the nf_tables ruleset (NFT_MSG_GET* dumps)");
            let mut part = Tally::default();
            let mut count = 0usize;
            let read = NfnlSocket::open(&opts.deadline).and_then(|mut sock| {
                dump::read_ruleset(&mut sock, |obj| match obj {
                    None => {
                        part = Tally::default();
                        count = 0;
                    }
                    Some(obj) => {
                        count += 1;
                        part.add_object(&obj);
                    }
                })
            });
            match read {
                Ok(()) => {
                    tally.merge(part);
                    SourceState::Read(count)
                }
                Err(e) => SourceState::Failed(e.to_string()),
            }
        }
    };
    sources.push(Source { name: "nftables".into(), state });

    // Legacy xtables, per family.
    for family in [Family::Ipv4, Family::Ipv6, Family::Arp] {
        let layout = entries::layout(family).expect("xtables families have a layout");
        let name = format!("legacy {family}");
        let Some(names) = host.proc_file(layout.names_file) else {
            sources.push(Source {
                name,
                state: SourceState::Absent(format!("/proc/{} is absent", layout.names_file)),
            });
            continue;
        };
        let tables: Vec<&str> = names.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        if tables.is_empty() {
            sources.push(Source { name, state: SourceState::Read(0) });
            continue;
        }
        opts.deadline.doing(format!("it was asked for the legacy {family} tables (SO_GET_ENTRIES)"));
        let state = match entries::socket_for(family) {
            Err(e) => SourceState::Failed(e.to_string()),
            Ok(sock) => {
                let mut count = 0;
                let mut failed = None;
                for t in &tables {
                    match entries::read_table(&sock, family, t) {
                        Ok(uses) => {
                            count += uses.uses.len();
                            tally.add_legacy(family, &uses);
                        }
                        Err(e) => {
                            failed = Some(format!("table {t}: {e}"));
                            break;
                        }
                    }
                }
                failed.map(SourceState::Failed).unwrap_or(SourceState::Read(count))
            }
        };
        sources.push(Source { name, state });
    }

    // ipset.
    let state = match present(host, &release, dir, "nfnetlink")
        .and_then(|()| present(host, &release, dir, "ip_set"))
    {
        Err(why) => SourceState::Absent(why),
        Ok(()) => match IpsetProber::open(&opts.deadline).and_then(|mut p| p.list_sets()) {
            Ok(sets) => {
                for s in &sets {
                    tally.add_ipset(s);
                }
                SourceState::Read(sets.len())
            }
            Err(e) => SourceState::Failed(e.to_string()),
        },
    };
    sources.push(Source { name: "ipset".into(), state });

    opts.deadline.doing("the kernel had answered; xtprobe was sorting what it found");
    CaptureReport {
        kernel_release: release,
        sources,
        entries: tally.entries(),
        notes: tally.notes.iter().cloned().collect(),
    }
}
