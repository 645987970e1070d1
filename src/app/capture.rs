//! `xtprobe capture`: what the running ruleset requires, read from the
//! kernel without changing it and without loading anything.
//!
//! Three sources, each read only if it is already there — asking a
//! subsystem that is not loaded would make the kernel autoload it:
//! - nf_tables: tables, chains, sets, objects, flowtables and rules,
//!   dumped over netlink as one ruleset generation
//!   ([`crate::probe::nftables::dump::read_ruleset`]), asked only if
//!   nfnetlink and nf_tables are there;
//! - legacy xtables: every table in `/proc/net/{ip,ip6,arp}_tables_names`
//!   ([`crate::probe::xt::entries`]; the file exists exactly when the
//!   family's table module is loaded);
//! - ipset: the sets' headers, if ip_set is there.
//!
//! "There" and "absent" are decided on evidence only
//! ([`crate::kmod::presence`]): `/sys/module`, `/proc/modules`,
//! modules.builtin, `/proc/kallsyms`. Where nothing can tell, capture
//! fails (exit 3) naming what it could not read, rather than leave a source
//! out of the profile. A kernel without module support cannot autoload, so
//! there everything is asked and the kernel's answer decides.

use std::path::PathBuf;

use crate::app::exit::ExitCode;
use crate::kmod::presence::{self, Presence};
use crate::probe::ipset::IpsetProber;
use crate::probe::nftables::dump;
use crate::probe::socket::NfnlSocket;
use crate::probe::xt::entries;
use crate::probe::{Family, ProbeError};
use crate::ruleset::{Entry, Tally};
use crate::system::deadline::{self, Deadline};
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
    /// Why it was asked (the evidence that it is there).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
    /// nftables: the ruleset generation every dump belonged to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation: Option<u32>,
}

impl Source {
    fn new(name: impl Into<String>, state: SourceState) -> Self {
        Self { name: name.into(), state, evidence: None, generation: None }
    }
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
    /// With `-o`: why the profile could not be written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_error: Option<String>,
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

/// Both subsystems' presence as one: absent if either is, unknown if
/// either is, safe to ask if either is only that, else there.
fn both(a: Presence, b: Presence) -> Presence {
    match (a, b) {
        (p @ Presence::Absent(_), _) | (_, p @ Presence::Absent(_)) => p,
        (p @ Presence::Unknown(_), _) | (_, p @ Presence::Unknown(_)) => p,
        (p @ Presence::SafeToAsk(_), _) | (_, p @ Presence::SafeToAsk(_)) => p,
        (Presence::There(a), Presence::There(b)) => Presence::There(format!("{a}; {b}")),
    }
}

/// How a source goes, from its presence and (if asked) the answer:
/// `absent_answer` is whether the error is the kernel saying the subsystem
/// is not there.
fn source_state<T>(
    presence: Presence,
    ask: impl FnOnce() -> Result<T, ProbeError>,
    absent_answer: fn(&ProbeError) -> bool,
    read: impl FnOnce(T) -> SourceState,
) -> (SourceState, Option<String>) {
    match presence {
        Presence::Absent(why) => (SourceState::Absent(why), None),
        Presence::Unknown(why) => (SourceState::Failed(why), None),
        Presence::There(evidence) => match ask() {
            Ok(t) => (read(t), Some(evidence)),
            Err(e) => (SourceState::Failed(e.to_string()), Some(evidence)),
        },
        Presence::SafeToAsk(evidence) => match ask() {
            Ok(t) => (read(t), Some(evidence)),
            Err(e) if absent_answer(&e) => {
                (SourceState::Absent(format!("the kernel says so: {e}")), Some(evidence))
            }
            Err(e) => (SourceState::Failed(e.to_string()), Some(evidence)),
        },
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
            sources: vec![Source::new(
                "capture",
                SourceState::Failed(ProbeError::timeout(&opts.deadline, pending).to_string()),
            )],
            entries: Vec::new(),
            notes: Vec::new(),
            output_error: None,
        },
    }
}

fn capture(opts: &CaptureOptions, host: &Host) -> CaptureReport {
    let release = crate::system::host::kernel_release();
    let dir = opts.modules_dir.as_deref();
    let mut tally = Tally::default();
    let mut sources = Vec::new();
    opts.deadline.doing("it was reading /proc/kallsyms, /proc/modules and modules.builtin");
    let dir = dir.map(std::path::PathBuf::from).or_else(|| crate::kmod::modules_dir(&release));
    let subsystems = [presence::NFNETLINK, presence::NF_TABLES, presence::IP_SET];
    let found = presence::presence(host, dir.as_deref(), &subsystems);
    let [nfnetlink, nf_tables, ip_set] = [0, 1, 2].map(|i| found[i].clone());

    // nf_tables.
    let mut generation = None;
    let (state, evidence) = source_state(
        both(nfnetlink.clone(), nf_tables),
        || {
            opts.deadline
                .doing("it was asked for the nf_tables ruleset (NFT_MSG_GETGEN, NFT_MSG_GET* dumps)");
            let mut part = Tally::default();
            let mut count = 0usize;
            let id = NfnlSocket::open(&opts.deadline).and_then(|mut sock| {
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
            })?;
            Ok((id, part, count))
        },
        |e| matches!(e, ProbeError::NoNfnetlink | ProbeError::NoNftables),
        |(id, part, count)| {
            generation = Some(id);
            tally.merge(part);
            SourceState::Read(count)
        },
    );
    sources.push(Source { evidence, generation, ..Source::new("nftables", state) });

    // Legacy xtables, per family.
    for family in [Family::Ipv4, Family::Ipv6, Family::Arp] {
        let layout = entries::layout(family).expect("xtables families have a layout");
        let name = format!("legacy {family}");
        let Some(names) = host.proc_file(layout.names_file) else {
            sources.push(Source::new(
                name,
                SourceState::Absent(format!(
                    "/proc/{} is absent: the table module is not loaded",
                    layout.names_file
                )),
            ));
            continue;
        };
        let tables: Vec<&str> = names.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        if tables.is_empty() {
            sources.push(Source::new(name, SourceState::Read(0)));
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
        sources.push(Source::new(name, state));
    }

    // ipset.
    let (state, evidence) = source_state(
        both(nfnetlink, ip_set),
        || {
            opts.deadline.doing("it was asked for the ipsets (IPSET_CMD_LIST)");
            IpsetProber::open(&opts.deadline).and_then(|mut p| p.list_sets())
        },
        |e| matches!(e, ProbeError::NoNfnetlink | ProbeError::NoIpset),
        |sets| {
            for s in &sets {
                tally.add_ipset(s);
            }
            SourceState::Read(sets.len())
        },
    );
    sources.push(Source { evidence, ..Source::new("ipset", state) });

    opts.deadline.doing("the kernel had answered; xtprobe was sorting what it found");
    CaptureReport {
        kernel_release: release,
        sources,
        entries: tally.entries(),
        notes: tally.notes.iter().cloned().collect(),
        output_error: None,
    }
}
