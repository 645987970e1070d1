//! The engine the conformance suite and `preflight` share: load rules
//! files with the real clients — in one boot of a guest, or in a fresh
//! network namespace on the host — and get a result per rule.
//!
//! Each [`Unit`] is one file for one client. It is restored whole; only
//! if that fails, each of its rules is restored alone (with the table and
//! chain declarations it needs), so a file of a thousand rules that loads
//! costs one command, and one that does not says which lines are to blame
//! and what the client said about each. xtprobe's own commands go between
//! the units ([`Builder::command`]); what they print comes back by tag.
//!
//! Restores never flush (`--noflush`, `nft -f` of additive commands): a
//! unit's rules stay until its teardown commands run, so setup commands
//! (a RATEEST estimator) hold for the rules after them.

use std::collections::BTreeMap;
use std::path::Path;

use crate::matrix::Transcript;
use crate::protocol::{GuestCase, GuestStep};

/// The real client that loads a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Loader {
    /// `iptables-nft-restore --noflush`.
    IptablesNft,
    /// `ip6tables-nft-restore --noflush`.
    Ip6tablesNft,
    /// `iptables-legacy-restore --noflush`.
    IptablesLegacy,
    /// `ip6tables-legacy-restore --noflush`.
    Ip6tablesLegacy,
    /// `nft -f`.
    Nft,
    /// `nft -j -f` (`nft -j list ruleset` documents).
    NftJson,
    /// `ipset restore -exist -file`.
    Ipset,
}

impl Loader {
    /// The command that loads `file`.
    pub fn restore(self, file: &str) -> Vec<String> {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).chain([file.to_string()]).collect();
        match self {
            Loader::IptablesNft => v(&["iptables-nft-restore", "--noflush"]),
            Loader::Ip6tablesNft => v(&["ip6tables-nft-restore", "--noflush"]),
            Loader::IptablesLegacy => v(&["iptables-legacy-restore", "--noflush"]),
            Loader::Ip6tablesLegacy => v(&["ip6tables-legacy-restore", "--noflush"]),
            Loader::Nft => v(&["nft", "-f"]),
            Loader::NftJson => v(&["nft", "-j", "-f"]),
            Loader::Ipset => v(&["ipset", "restore", "-exist", "-file"]),
        }
    }

    /// The client command (`iptables-nft`) for setup and teardown lines.
    pub fn tool(self) -> &'static str {
        match self {
            Loader::IptablesNft => "iptables-nft",
            Loader::Ip6tablesNft => "ip6tables-nft",
            Loader::IptablesLegacy => "iptables-legacy",
            Loader::Ip6tablesLegacy => "ip6tables-legacy",
            Loader::Nft | Loader::NftJson => "nft",
            Loader::Ipset => "ipset",
        }
    }

    /// The binaries the guest needs for this loader.
    pub fn client(self) -> crate::image::Client {
        match self {
            Loader::Nft | Loader::NftJson => crate::image::Client::Nft,
            Loader::Ipset => crate::image::Client::Ipset,
            Loader::IptablesLegacy | Loader::Ip6tablesLegacy => crate::image::Client::IptablesLegacy,
            _ => crate::image::Client::Iptables,
        }
    }
}

/// One file for one client, with its rules one by one for when the
/// whole file fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    /// What it is called in reports (`libxt_comment.t`, `rules.v4`).
    pub name: String,
    /// Who loads it.
    pub loader: Loader,
    /// The file.
    pub text: String,
    /// Each rule alone: its line in `text`, and how to load only it.
    pub singles: Vec<Single>,
    /// Who loads the singles, where not `loader` (nft text whose rules
    /// alone are JSON).
    pub single_loader: Option<Loader>,
    /// Commands before the file (setup lines of a test).
    pub before: Vec<Vec<String>>,
    /// Commands after it (flush what it added).
    pub after: Vec<Vec<String>>,
}

/// One rule of a unit, loaded alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Single {
    /// Its line in the unit's file.
    pub line: u32,
    /// A file with only that rule (and the table and chains it needs).
    pub text: String,
    /// A command that adds it instead of restoring `text` (`iptables-nft
    /// -t T -A CHAIN …`): the client's own words for what is wrong, as
    /// iptables' tests run it (iptables-legacy-restore only says "line N
    /// failed").
    pub command: Option<Vec<String>>,
}

/// What a step of the plan is for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Role {
    /// A command of the caller's, by tag.
    Command(String),
    /// A unit's setup or teardown (results unused).
    Aside,
    /// A unit, whole: (round, unit).
    Whole(usize, usize),
    /// One rule of a unit: (round, unit, line).
    Single(usize, usize, u32),
    /// What xtprobe says of a rule that failed alone: (round, unit, line).
    Explain(usize, usize, u32),
}

/// Builds the steps of one run.
#[derive(Debug, Clone)]
pub struct Builder {
    root: String,
    files: Vec<(String, Vec<u8>)>,
    steps: Vec<GuestStep>,
    roles: Vec<Role>,
    paths: BTreeMap<usize, String>,
}

/// The steps, the files they read, and how to read their results.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Where the files go: (path, contents).
    pub files: Vec<(String, Vec<u8>)>,
    /// The case the guest runs.
    pub case: GuestCase,
    roles: Vec<Role>,
}

fn argv(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

impl Builder {
    /// A plan whose files live under `root` (`/xtp/rules` in a guest, a
    /// temporary directory on the host).
    pub fn new(root: &str) -> Self {
        Builder {
            root: root.trim_end_matches('/').to_string(),
            files: Vec::new(),
            steps: Vec::new(),
            roles: Vec::new(),
            paths: BTreeMap::new(),
        }
    }

    /// The path unit `u`'s file has (stable across rounds).
    pub fn path(&mut self, u: usize, unit: &Unit) -> String {
        if let Some(p) = self.paths.get(&u) {
            return p.clone();
        }
        let p = format!("{}/u{u}.rules", self.root);
        self.files.push((p.clone(), unit.text.clone().into_bytes()));
        for single in &unit.singles {
            self.files.push((
                format!("{}/u{u}-{}.rules", self.root, single.line),
                single.text.clone().into_bytes(),
            ));
        }
        self.paths.insert(u, p.clone());
        p
    }

    /// Adds a command whose exit status and output come back under `tag`.
    pub fn command(&mut self, tag: &str, command: Vec<String>) {
        self.steps.push(GuestStep { commands: vec![command], if_failed: None, expect: None });
        self.roles.push(Role::Command(tag.to_string()));
    }

    /// Adds unit `u` (its index in the caller's list) as round `round`:
    /// setup, the whole file, each rule alone if that failed, teardown.
    pub fn unit(&mut self, round: usize, u: usize, unit: &Unit) {
        self.unit_explained(round, u, unit, &|_, _| None);
    }

    /// [`Builder::unit`], and after each rule that failed alone, the
    /// command `explain(single, its file)` gives (xtprobe's account of it).
    pub fn unit_explained(
        &mut self,
        round: usize,
        u: usize,
        unit: &Unit,
        explain: &dyn Fn(&Single, &str) -> Option<Vec<String>>,
    ) {
        let path = self.path(u, unit);
        for c in &unit.before {
            self.steps.push(GuestStep { commands: vec![c.clone()], if_failed: None, expect: None });
            self.roles.push(Role::Aside);
        }
        let whole = self.steps.len();
        self.steps.push(GuestStep {
            commands: vec![unit.loader.restore(&path)],
            if_failed: None,
            expect: None,
        });
        self.roles.push(Role::Whole(round, u));
        for single in &unit.singles {
            let file = format!("{}/u{u}-{}.rules", self.root, single.line);
            let command = match &single.command {
                Some(c) => c.clone(),
                None => unit.single_loader.unwrap_or(unit.loader).restore(&file),
            };
            let alone = self.steps.len();
            self.steps.push(GuestStep { commands: vec![command], if_failed: Some(whole), expect: None });
            self.roles.push(Role::Single(round, u, single.line));
            if let Some(c) = explain(single, &file) {
                self.steps.push(GuestStep { commands: vec![c], if_failed: Some(alone), expect: None });
                self.roles.push(Role::Explain(round, u, single.line));
            }
        }
        for c in &unit.after {
            self.steps.push(GuestStep { commands: vec![c.clone()], if_failed: None, expect: None });
            self.roles.push(Role::Aside);
        }
    }

    /// The plan.
    pub fn build(self) -> Plan {
        Plan {
            files: self.files,
            case: GuestCase { steps: self.steps, ..GuestCase::default() },
            roles: self.roles,
        }
    }
}

/// How one command ended: its status (`None` if it never ran to an end)
/// and what it printed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ran {
    /// Exit status.
    pub exit: Option<i32>,
    /// Output lines (stdout and stderr together).
    pub output: Vec<String>,
}

impl Ran {
    /// Whether it exited 0.
    pub fn ok(&self) -> bool {
        self.exit == Some(0)
    }
}

/// What a run gave.
#[derive(Debug, Clone, Default)]
pub struct Results {
    /// The caller's commands, by tag.
    pub commands: BTreeMap<String, Ran>,
    /// Each (round, unit): the whole file.
    pub whole: BTreeMap<(usize, usize), Ran>,
    /// Each (round, unit, line) restored alone (only where the whole failed).
    pub single: BTreeMap<(usize, usize, u32), Ran>,
    /// Each (round, unit, line) that failed alone: what xtprobe said of it.
    pub explain: BTreeMap<(usize, usize, u32), Ran>,
}

impl Results {
    /// Whether line `line` of unit `u` loaded in round `round`: the whole
    /// file did, or the line alone did. `None` if the run never got there.
    pub fn line(&self, round: usize, u: usize, line: u32) -> Option<(bool, Vec<String>)> {
        let whole = self.whole.get(&(round, u))?;
        if whole.ok() {
            return Some((true, Vec::new()));
        }
        let r = self.single.get(&(round, u, line))?;
        Some((r.ok(), r.output.clone()))
    }
}

impl Plan {
    /// Reads a run's transcript.
    pub fn results(&self, t: &Transcript) -> Results {
        let mut r = Results::default();
        for (i, role) in self.roles.iter().enumerate() {
            let id = i.to_string();
            let Some(output) = t.output.get(&id) else { continue };
            let ran = Ran { exit: t.exit.get(&id).copied(), output: output.clone() };
            match role {
                Role::Command(tag) => {
                    r.commands.insert(tag.clone(), ran);
                }
                Role::Aside => {}
                Role::Whole(round, u) => {
                    r.whole.insert((*round, *u), ran);
                }
                Role::Single(round, u, line) => {
                    r.single.insert((*round, *u, *line), ran);
                }
                Role::Explain(round, u, line) => {
                    r.explain.insert((*round, *u, *line), ran);
                }
            }
        }
        r
    }

    /// Runs the plan on this host, in a fresh network namespace (never the
    /// host's ruleset), with the files under the plan's root. The caller
    /// needs CAP_SYS_ADMIN and CAP_NET_ADMIN (root).
    pub fn run_host(&self, root: &Path) -> Result<Transcript, String> {
        std::fs::create_dir_all(root).map_err(|e| format!("{}: {e}", root.display()))?;
        for (path, bytes) in &self.files {
            std::fs::write(path, bytes).map_err(|e| format!("{path}: {e}"))?;
        }
        let steps = self.case.steps.clone();
        // Namespaces belong to a thread: unshare one, and run every
        // command from it so that each inherits the namespace.
        std::thread::spawn(move || -> Result<Transcript, String> {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(|e| format!("unshare(CLONE_NEWNET): {e} (run as root)"))?;
            let mut t = Transcript::default();
            let mut failed: Vec<bool> = Vec::with_capacity(steps.len());
            for (i, step) in steps.iter().enumerate() {
                if let Some(n) = step.if_failed {
                    if !failed.get(n).copied().unwrap_or(false) {
                        failed.push(false);
                        continue;
                    }
                }
                let argv = step.commands.first().cloned().unwrap_or_default();
                let (code, lines) = run_merged(&argv);
                t.output.insert(i.to_string(), lines);
                t.exit.insert(i.to_string(), code);
                failed.push(code != 0);
            }
            t.done = true;
            Ok(t)
        })
        .join()
        .map_err(|_| "the host runner thread panicked".to_string())?
    }
}

/// Boots `kernel` with the plan's files and `modules`, runs the plan and
/// returns what the guest printed; `echo` sees every serial line.
pub fn boot(
    kernel: &crate::kernels::Kernel,
    modules: crate::image::ModuleSet,
    plan: &Plan,
    payload: &crate::matrix::Payload,
    timeout: std::time::Duration,
    echo: &mut dyn FnMut(&str),
) -> Result<(Transcript, crate::qemu::VmRun), String> {
    let mut clients: Vec<crate::image::Client> = Vec::new();
    for step in &plan.case.steps {
        for cmd in &step.commands {
            let c = match cmd.first().map(String::as_str) {
                Some("nft") => crate::image::Client::Nft,
                Some("ipset") => crate::image::Client::Ipset,
                Some(t) if t.contains("tables-legacy") => crate::image::Client::IptablesLegacy,
                Some(t) if t.contains("tables") => crate::image::Client::Iptables,
                _ => continue,
            };
            if !clients.contains(&c) {
                clients.push(c);
            }
        }
    }
    let made: Vec<(String, u32, Vec<u8>)> =
        plan.files.iter().map(|(p, b)| (p.clone(), 0o644, b.clone())).collect();
    let payload = payload.for_arch(kernel.arch())?;
    let spec = crate::image::ImageSpec {
        arch: kernel.arch(),
        guest: &payload.guest,
        xtprobe: &payload.xtprobe,
        release: kernel.release(),
        modules,
        without_modules_dep: false,
        modprobe: None,
        shell: None,
        files: &[],
        made: &made,
        clients: &clients,
        case: &plan.case,
    };
    let image = crate::image::build(&spec).map_err(|e| format!("building the initramfs: {e}"))?;
    let dir = crate::matrix::tempdir()?;
    let initrd = dir.join("initrd.cpio");
    std::fs::write(&initrd, image).map_err(|e| format!("{}: {e}", initrd.display()))?;
    let (image, machine) = kernel.boot_image();
    let cfg = crate::qemu::VmConfig {
        kernel: image.to_path_buf(),
        machine,
        initrd,
        memory_mib: 512,
        nonce: crate::qemu::nonce(),
        timeout,
        append: String::new(),
        cpus: 1,
        silence: crate::qemu::silence(timeout),
    };
    let run = crate::qemu::boot(&cfg, |l| echo(l));
    let _ = std::fs::remove_dir_all(&dir);
    let run = run?;
    let transcript = Transcript::from_serial(&cfg.nonce, &run.serial);
    Ok((transcript, run))
}

/// Runs `argv` with stdout and stderr in one pipe; 127 if it cannot start.
fn run_merged(argv: &[String]) -> (i32, Vec<String>) {
    use std::io::Read;
    let Some((program, args)) = argv.split_first() else { return (127, vec!["empty command".into()]) };
    let spawned = std::io::pipe().and_then(|(mut reader, writer)| {
        let child = std::process::Command::new(program)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(writer.try_clone()?)
            .stderr(writer)
            .spawn()?;
        let mut text = Vec::new();
        reader.read_to_end(&mut text)?;
        Ok((child, text))
    });
    match spawned {
        Ok((mut child, text)) => {
            use std::os::unix::process::ExitStatusExt;
            let code = match child.wait() {
                Ok(s) => s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0)),
                Err(_) => 127,
            };
            (code, String::from_utf8_lossy(&text).lines().map(str::to_string).collect())
        }
        Err(e) => (127, vec![format!("cannot run {program}: {e}")]),
    }
}

/// A command line for a client from a test's setup line (`iptables -I …`),
/// the tool replaced by `loader`'s.
pub fn client_command(loader: Loader, line: &str) -> Option<Vec<String>> {
    let words = xtprobe_words(line)?;
    let (first, rest) = words.split_first()?;
    let tool = match first.as_str() {
        "iptables" | "ip6tables" => loader.tool(),
        _ => return None,
    };
    Some(std::iter::once(tool.to_string()).chain(rest.iter().cloned()).collect())
}

/// Words of a command line, double quotes grouping.
fn xtprobe_words(line: &str) -> Option<Vec<String>> {
    restore_words::words(line).ok().map(|w| w.into_iter().map(|(s, _)| s).collect())
}

/// `iptables-nft -t TABLE -F`: empties a table's chains.
pub fn flush(loader: Loader, table: &str) -> Vec<String> {
    let mut a = argv(&[loader.tool(), "-t", table, "-F"]);
    a.shrink_to_fit();
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(name: &str) -> Unit {
        Unit {
            name: name.into(),
            loader: Loader::IptablesNft,
            text: "*filter\n-A INPUT -j ACCEPT\n-A INPUT -j DROP\nCOMMIT\n".into(),
            singles: vec![
                Single { line: 2, text: "*filter\n-A INPUT -j ACCEPT\nCOMMIT\n".into(), command: None },
                Single { line: 3, text: "*filter\n-A INPUT -j DROP\nCOMMIT\n".into(), command: None },
            ],
            single_loader: None,
            before: vec![argv(&["true"])],
            after: vec![flush(Loader::IptablesNft, "filter")],
        }
    }

    #[test]
    fn steps_and_results_line_up() {
        let mut b = Builder::new("/r/");
        b.command("check", argv(&["xtprobe", "check"]));
        let u = unit("a");
        b.unit(0, 0, &u);
        b.unit(1, 0, &u);
        let plan = b.build();
        assert_eq!(plan.files.len(), 3, "one file and two singles, once");
        assert_eq!(plan.case.steps.len(), 1 + 2 * 5);
        assert_eq!(plan.case.steps[2].commands[0], ["iptables-nft-restore", "--noflush", "/r/u0.rules"]);
        assert_eq!(plan.case.steps[3].if_failed, Some(2));
        // Round 0: the whole failed, line 2 loaded alone, line 3 did not.
        let mut t = Transcript::default();
        for (id, code) in [(0, 1), (1, 0), (2, 4), (3, 0), (4, 4), (5, 0), (6, 0), (7, 0), (10, 0)] {
            t.output.insert(id.to_string(), vec![format!("out {id}")]);
            t.exit.insert(id.to_string(), code);
        }
        let r = plan.results(&t);
        assert_eq!(r.commands["check"].exit, Some(1));
        assert_eq!(r.line(0, 0, 2), Some((true, vec!["out 3".into()])));
        assert_eq!(r.line(0, 0, 3).map(|x| x.0), Some(false));
        assert_eq!(r.line(1, 0, 3), Some((true, Vec::new())), "round 1 loaded whole");
        assert_eq!(r.line(2, 0, 3), None);
    }

    #[test]
    fn setup_lines_use_the_backend_tool() {
        assert_eq!(
            client_command(Loader::IptablesLegacy, "iptables -I INPUT -j RATEEST --rateest-name \"RE 1\"")
                .unwrap(),
            ["iptables-legacy", "-I", "INPUT", "-j", "RATEEST", "--rateest-name", "RE 1"]
        );
        assert_eq!(client_command(Loader::IptablesNft, "nfct add helper"), None);
    }

    #[test]
    fn the_host_runner_follows_the_same_rules() {
        if !nix::unistd::Uid::effective().is_root() {
            eprintln!("skipped: needs root for a network namespace");
            return;
        }
        let dir = std::env::temp_dir().join(format!("replay-test-{}", std::process::id()));
        let mut b = Builder::new(&dir.to_string_lossy());
        b.command("t", argv(&["true"]));
        b.command("f", argv(&["false"]));
        b.command("no", argv(&["/nonexistent/x"]));
        let plan = b.build();
        let t = plan.run_host(&dir).unwrap();
        let r = plan.results(&t);
        assert_eq!(
            (r.commands["t"].exit, r.commands["f"].exit, r.commands["no"].exit),
            (Some(0), Some(1), Some(127))
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
