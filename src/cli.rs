//! The command line, declared with clap. This layer only parses and
//! validates the syntax of arguments; everything that depends on the
//! system happens in the library.

use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use xtprobe::app::exit::EXIT_CODES_HELP;
use xtprobe::probe::{Backend, Family, Requirement};

/// The default `--timeout` of check and doctor.
pub const SHORT_TIMEOUT: Duration = Duration::from_secs(5);
/// The default `--timeout` of load and ensure (module inits can be slow).
pub const LONG_TIMEOUT: Duration = Duration::from_secs(60);

/// Ask the kernel which netfilter features it has (xtables extensions,
/// nf_tables expressions, chain types, families and set features, ipset
/// types), explain what is missing, and load it without kmod.
#[derive(Debug, Parser)]
#[command(name = "xtprobe", version, about, after_help = EXIT_CODES_HELP, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// When to colour text output: auto (a terminal that can show it, unless NO_COLOR is set or
    /// TERM is dumb), always, never.
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value = "auto")]
    pub color: ColorChoice,
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// On a terminal that can show colour, unless NO_COLOR is set or TERM is dumb.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Ask the kernel which extensions, nf_tables features and ipset types it has.
    #[command(after_help = CHECK_HELP, mut_arg("timeout", |a| a.help(timeout_help("5; 4 with --output npd"))))]
    Check(CheckArgs),
    /// Load kernel modules and their dependencies, without kmod.
    #[command(after_help = LOAD_HELP, mut_arg("timeout", |a| a.help(timeout_help("60"))))]
    Load(LoadArgs),
    /// Explain why extensions are missing, and what to do.
    #[command(after_help = DOCTOR_HELP, mut_arg("timeout", |a| a.help(timeout_help("5"))))]
    Doctor(DoctorArgs),
    /// Load whatever is missing (the probe's own prerequisites included), then check again.
    #[command(after_help = ENSURE_HELP, mut_arg("timeout", |a| a.help(timeout_help("60"))))]
    Ensure(EnsureArgs),
    /// List the built-in requirement profiles, or show one.
    #[command(after_help = PROFILES_HELP)]
    Profiles(ProfilesArgs),
    /// Write modules.dep, modules.alias and modules.softdep without kmod.
    #[command(after_help = INDEX_HELP)]
    Index(IndexArgs),
    /// Read the running ruleset (nf_tables, legacy xtables, ipset) and write what it requires as a profile.
    #[command(after_help = CAPTURE_HELP, mut_arg("timeout", |a| a.help(timeout_help("5"))))]
    Capture(CaptureArgs),
}

/// `--timeout`'s help with the command's own default.
fn timeout_help(default: &str) -> String {
    format!("Seconds the whole command may take, kernel-side waits included [default: {default}]")
}

const CAPTURE_HELP: &str = "\
capture reads the ruleset the kernel holds — nf_tables tables, chains, sets
and rules (with the xtables extensions iptables-nft wrote into them), legacy
xtables tables, ipsets — without changing it and without loading anything:
a subsystem that is not loaded is not asked. It writes the requirements it
found as a custom profile (TOML; every entry with the revision in use, the
families it was seen in, and where), for `xtprobe check --profile` on any
other kernel. The same ruleset gives the same bytes.

Examples:
  xtprobe capture > node.toml                   on a node that works
  xtprobe check --profile node.toml             on the kernel you want to use
  xtprobe capture -o /etc/xtprobe/node.toml --name node-a
  xtprobe capture --json | jq '.entries[].requirement'

Exit status:
  0  captured    2  usage error
  3  a source that is there could not be read (nothing written: a profile
     of part of the ruleset would be wrong), or the output could not be written";

#[derive(Debug, Args)]
pub struct CaptureArgs {
    /// The profile's name.
    #[arg(long, value_name = "NAME", default_value = "captured")]
    pub name: String,

    /// Write the profile to FILE (atomically, mode 0644) and print a summary.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output_file: Option<std::path::PathBuf>,

    #[command(flatten)]
    pub modules: ModulesDirArg,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub timeout: TimeoutArg,
}

const INDEX_HELP: &str = "\
For hosts and images without kmod: reads every module's .modinfo (depends=,
alias=, softdep=) and writes the text indexes depmod writes, with the same
entries, all three replaced together (each written and synced first, then
renamed into place; mode 0644). Later lookups by alias (ipt_comment,
nfnetlink-subsys-11) then read modules.alias instead of every module.

depmod also writes binary indexes (modules.dep.bin, modules.alias.bin,
modules.symbols.bin), and modprobe (libkmod), so the kernel's own autoloader,
reads those instead of the text files: new text files beside old binary ones
would leave them stale. Where they exist, index refuses (exit 3) unless
--remove-binary says nothing here reads them (a host without kmod); then
they are removed once the text files are in place. Where kmod is installed,
run depmod instead.

Examples:
  xtprobe index                                  the running kernel's modules
  xtprobe index --modules-dir /mnt/lib/modules/6.12.117+deb12-amd64
  xtprobe index --dry-run --json
  xtprobe index --remove-binary --modules-dir /mnt/lib/modules/6.12.117+deb12-amd64

Exit status:
  0  written (or, with --dry-run, computed)
  2  usage error
  3  the modules directory or a file in it could not be used, or it holds
     depmod's binary indexes and --remove-binary was not given";

#[derive(Debug, Args)]
pub struct IndexArgs {
    #[command(flatten)]
    pub modules: ModulesDirArg,

    /// Compute and report; write nothing.
    #[arg(long, short = 'n')]
    pub dry_run: bool,

    /// Remove depmod's binary indexes (modules.dep.bin, modules.alias.bin,
    /// modules.symbols.bin) once the text files are written: nothing on
    /// this host reads them (no kmod).
    #[arg(long)]
    pub remove_binary: bool,

    #[command(flatten)]
    pub output: OutputArgs,
}

const DOCTOR_HELP: &str = "\
For each requirement the kernel does not have, doctor follows the cause
chain: can the probe ask (nfnetlink, nf_tables, nft_compat, ip_set)? which
module provides it (the alias the kernel requests: ipt_NAME, nft-expr-NAME,
nft-chain-2-nat, ip_set_hash:ip,port), and is it
built in, loaded, on disk or absent? what does the kernel config say (y, m,
not set)? may this host load modules (module support, CAP_SYS_MODULE, a
container's user namespace, kernel.modules_disabled, lockdown)? is the
kernel's autoloader (kernel.modprobe) there? Then one verdict and one remedy.

Examples:
  xtprobe doctor                     the default profile (kuscia)
  xtprobe doctor comment             why is -m comment missing?
  xtprobe doctor expr:numgen         why does nft say \"No such file or directory\"?
  xtprobe doctor --profile k3s --json
  xtprobe doctor --emit-kconfig > netfilter.config   for a kernel build: merge_config.sh

Exit status:
  0  every required extension is supported   1  something is missing
  2  usage error                             3  cannot probe (see the causes)";

const ENSURE_HELP: &str = "\
ensure probes; if the probe itself cannot ask, loads what it needs
(nf_tables, nft_compat, ip_set, by the aliases nfnetlink-subsys-10/11/6, as
the kernel would); loads the module of every missing requirement, found
through the alias the kernel requests (ipt_NAME, nft-expr-2-NAME,
nft-expr-NAME, nft-chain-2-nat, ip_set_TYPE, ...), with its dependencies;
and probes again. Optional extensions are loaded when possible but never fail
the exit status. modprobe.d and /proc/cmdline apply as for `load`: options
are passed, a blacklisted module is not found through an alias, and a module
with an `install` command is refused (exit 3, with its file and line).

Examples:
  xtprobe ensure                       everything Kuscia needs, now
  xtprobe ensure comment --persist     and at every boot (modules-load.d)
  xtprobe ensure --profile kube-proxy-nft
  xtprobe ensure --profile k3s --dry-run --json

Exit status:
  0  everything required is supported afterwards (dry run: or planned)
  1  something is still missing (no module for this kernel)
  2  usage error
  3  cannot load here: no module support, not allowed, unreadable files,
     an `install` command in modprobe.d
  4  the kernel refused a module";

const PROFILES_HELP: &str = "\
A custom profile is a TOML file passed to --profile:

  name = \"my-cni\"                      # default: the file name
  description = \"what it is for\"
  families = [\"ipv4\", \"ipv6\"]          # default [\"ipv4\"]
  required = [\"comment\", \"target:MASQUERADE\", \"conntrack@1\"]
  optional = [\"statistic\"]             # reported, never fails the status

  [[extension]]                        # an entry with its own families
  spec = \"icmp6\"
  families = [\"ipv6\"]
  optional = false

`xtprobe capture` writes such a file from a live ruleset.

Examples:
  xtprobe profiles                     every built-in profile
  xtprobe profiles kube-proxy-nft      its entries and where they come from
  xtprobe profiles --json ./mine.toml  a custom profile, as xtprobe reads it

Exit status:
  0  listed    2  usage error (no such profile, a file that does not parse)
  3  the output could not be written";

#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub target: TargetArgs,

    #[command(flatten)]
    pub backend: BackendArg,

    #[command(flatten)]
    pub modules: ModulesDirArg,

    /// The kernel config to read [default: /proc/config.gz, /boot/config-$(uname -r), …].
    #[arg(long, value_name = "FILE")]
    pub kernel_config: Option<std::path::PathBuf>,

    /// Print, instead of the report, the kconfig fragment that builds in what is missing:
    /// each option and what its Kconfig conditions need that this kernel's config lacks.
    /// --emit-kconfig (or =m) makes tristates modules, --emit-kconfig=y builds them in.
    #[arg(long, value_name = "m|y", num_args = 0..=1, require_equals = true, default_missing_value = "m", value_parser = ["m", "y"])]
    pub emit_kconfig: Option<String>,

    /// Read the Kconfig conditions from this kernel source tree [default: Linux 6.12's, built in].
    #[arg(long, value_name = "DIR", requires = "emit_kconfig")]
    pub kernel_source: Option<std::path::PathBuf>,

    /// One line per requirement that is not there: REQUIREMENT (FAMILIES): VERDICT: WHAT TO DO.
    /// For boot logs (the initramfs scripts print it when ensure fails).
    #[arg(long, conflicts_with_all = ["json", "emit_kconfig"])]
    pub brief: bool,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub timeout: TimeoutArg,
}

#[derive(Debug, Args)]
pub struct EnsureArgs {
    #[command(flatten)]
    pub target: TargetArgs,

    #[command(flatten)]
    pub backend: BackendArg,

    #[command(flatten)]
    pub mode: LoadModeArgs,

    #[command(flatten)]
    pub persist: PersistArgs,

    #[command(flatten)]
    pub modules: ModulesDirArg,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub timeout: TimeoutArg,
}

#[derive(Debug, Args)]
pub struct ProfilesArgs {
    /// Show this profile (a name or a .toml file) with its rules, entries and sources.
    #[arg(value_parser = ProfileParser, hide_possible_values = true)]
    pub name: Option<String>,

    /// Read the profiles' iptables rules as this client sends them: nft (iptables-nft, the
    /// default) or legacy (iptables-legacy).
    #[arg(long, short = 'b', value_enum, default_value_t = BackendChoice::Nft)]
    pub backend: BackendChoice,

    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

const LOAD_HELP: &str = "\
MODULE is a module name (xt_comment, xt-comment) or an alias (ipt_comment).
Parameters follow their module as KEY=VALUE. Dependencies come from
modules.dep, or, where there is none, from each module's .modinfo; every
module of the closure is loaded first, in order. Compressed modules (.xz,
.zst, .gz, detected by content) are handed to the kernel as they are when it
can decompress them (/sys/module/compression), else decompressed here.
modprobe.d (under --root) and /proc/cmdline are read as modprobe reads them:
`options` and MODULE.PARAM= are passed at load (your KEY=VALUE wins),
`alias` and `softdep` are followed, `blacklist` hides a module found through
an alias, and a module with an `install` command is refused (xtprobe never
runs commands).

Examples:
  xtprobe load xt_comment                  load xt_comment (and x_tables)
  xtprobe load --dry-run --json ipt_comment
  xtprobe load xt_comment --persist        and list it in /etc/modules-load.d/xtprobe.conf
  xtprobe load nf_conntrack hashsize=65536
  xtprobe load --modules-dir /mnt/lib/modules/6.12.117+deb12-amd64 --dry-run xt_conntrack

Exit status:
  0  loaded, or already there (built in or live)
  1  not found for this kernel
  2  usage error
  3  environment or permission: no module support, not allowed (EPERM),
     unreadable or corrupt files, malformed modules.dep, an `install`
     command for the module in modprobe.d
  4  the kernel refused the module (signature, format/vermagic, unknown
     symbol, bad parameter)";

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Modules to load, each optionally followed by KEY=VALUE parameters.
    #[arg(value_name = "MODULE [KEY=VALUE]...", required = true, num_args = 1..)]
    pub items: Vec<String>,

    #[command(flatten)]
    pub mode: LoadModeArgs,

    #[command(flatten)]
    pub persist: PersistArgs,

    #[command(flatten)]
    pub modules: ModulesDirArg,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub timeout: TimeoutArg,
}

/// `--modules-dir`, shared by load, ensure and doctor.
#[derive(Debug, Args)]
pub struct ModulesDirArg {
    /// The modules directory [default: /lib/modules/$(uname -r), then /usr/lib/modules/$(uname -r)].
    #[arg(long, value_name = "DIR")]
    pub modules_dir: Option<std::path::PathBuf>,
}

/// `--dry-run` and `--userspace-decompress`, shared by load and ensure.
#[derive(Debug, Args)]
pub struct LoadModeArgs {
    /// Print the plan; load nothing.
    #[arg(long, short = 'n')]
    pub dry_run: bool,

    /// Decompress modules here and use init_module, even if the kernel could decompress them.
    #[arg(long)]
    pub userspace_decompress: bool,
}

/// `--persist` and `--root`, shared by load and ensure.
#[derive(Debug, Args)]
pub struct PersistArgs {
    /// After loading, list the requested modules in /etc/modules-load.d/xtprobe.conf.
    #[arg(long)]
    pub persist: bool,

    /// Root directory for --persist (for images and tests).
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: std::path::PathBuf,
}

/// `--timeout`, shared by every command that talks to the kernel.
#[derive(Debug, Args)]
pub struct TimeoutArg {
    /// Seconds the whole command may take, kernel-side waits included (a module autoload the
    /// kernel runs, a module's init).
    #[arg(long, value_name = "SECONDS", value_parser = parse_timeout)]
    pub timeout: Option<Duration>,
}

impl TimeoutArg {
    /// The deadline, starting now, with `default` if none was given.
    pub fn deadline(&self, default: Duration) -> xtprobe::system::deadline::Deadline {
        xtprobe::system::deadline::Deadline::after(self.timeout.unwrap_or(default))
    }
}

const CHECK_HELP: &str = "\
EXT is [KIND:]NAME[@REV]. KIND is match (the default) or target for xtables
extensions (case-sensitive, as the kernel registers them: MASQUERADE, not
masquerade); expr, chain, family or set for nf_tables expression types,
chain types (filter, nat, route), families and set features (map, vmap,
interval, concat, timeout); ipset for ipset set types. @REV requires a
revision (matches, targets and ipset types). With no EXT, the default
profile (kuscia) is checked; optional entries of a profile are reported but
never fail the status.

xtables: the nft backend sends the NFNL_MSG_COMPAT_GET query iptables-nft
uses; the legacy backend the getsockopt iptables-legacy uses. nf_tables: a
validate-only batch, as `nft --check` sends (nothing is committed). ipset:
IPSET_CMD_TYPE, as `ipset create` asks first. All need CAP_NET_ADMIN
(legacy also CAP_NET_RAW); `unshare -rn xtprobe check` works for any user.

Examples:
  xtprobe check                              everything Kuscia's rules need
  xtprobe check comment conntrack@3 target:MASQUERADE
  xtprobe check expr:numgen chain:nat set:vmap --family ipv4
  xtprobe check --profile kube-proxy-nft --family ipv4,ipv6
  xtprobe check ipset:hash:ip,port@7 family:bridge
  xtprobe check --backend both --json mark | jq '.results[]'
  xtprobe check -q comment && echo ok
  xtprobe check --output npd --profile k3s            a Node Problem Detector plugin
  xtprobe check --quiet --textfile /var/lib/prometheus/node-exporter/xtprobe.prom

Exit status:
  0  all supported    1  something missing    2  usage error
  3  cannot probe (no permission, no nfnetlink, nf_tables, nft_compat or
     ip_set, timeout, or a kernel answer that is not a verdict)";

/// Which backend(s) answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendChoice {
    /// nfnetlink NFNL_MSG_COMPAT_GET, as iptables-nft asks.
    Nft,
    /// getsockopt *_SO_GET_REVISION_*, as iptables-legacy asks.
    Legacy,
    /// Both, and flag where they disagree.
    Both,
}

impl BackendChoice {
    pub fn backends(self) -> Vec<Backend> {
        match self {
            BackendChoice::Nft => vec![Backend::Nft],
            BackendChoice::Legacy => vec![Backend::Legacy],
            BackendChoice::Both => vec![Backend::Nft, Backend::Legacy],
        }
    }
}

/// `--backend`, shared by check, doctor and ensure.
#[derive(Debug, Args)]
pub struct BackendArg {
    /// Which interface xtables questions go through, and with --rules which client's rules
    /// they are (iptables-nft or iptables-legacy) whatever the files' headers say [default:
    /// nft; with --rules, each file's header, else nft].
    #[arg(long, short = 'b', value_enum)]
    pub backend: Option<BackendChoice>,
}

impl BackendArg {
    /// The backends to ask xtables questions through.
    pub fn backends(&self) -> Vec<Backend> {
        self.backend.unwrap_or(BackendChoice::Nft).backends()
    }

    /// The one backend that reads --rules, when forced (both: none).
    pub fn forced(&self) -> Option<Backend> {
        match self.backend {
            Some(BackendChoice::Nft) => Some(Backend::Nft),
            Some(BackendChoice::Legacy) => Some(Backend::Legacy),
            _ => None,
        }
    }
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub target: TargetArgs,

    #[command(flatten)]
    pub backend: BackendArg,

    #[command(flatten)]
    pub output: OutputArgs,

    /// Output for fleets: npd (one line for a Node Problem Detector plugin; exit 0 OK, 1
    /// problem, else unknown) or prometheus (the text exposition format). text and json are
    /// the same as the default and --json.
    #[arg(long = "output", value_enum, value_name = "FORMAT", conflicts_with_all = ["json", "quiet"])]
    pub format: Option<Format>,

    /// Also write the metrics to FILE (a `.prom` file in node_exporter's textfile
    /// directory), atomically: a temporary file in the same directory, then a rename.
    #[arg(long, value_name = "FILE")]
    pub textfile: Option<std::path::PathBuf>,

    #[command(flatten)]
    pub timeout: TimeoutArg,
}

/// `check --output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Tables and sentences.
    Text,
    /// A JSON document.
    Json,
    /// One line of at most 80 characters for Node Problem Detector.
    Npd,
    /// The Prometheus text exposition format.
    Prometheus,
}

/// What to check: extensions, or a profile. Shared by check, doctor, ensure.
#[derive(Debug, Clone, Args)]
pub struct TargetArgs {
    /// What to ask about: [KIND:]NAME[@REV]. KIND is match (the default), target, expr
    /// (nf_tables expression), chain (chain type), family, set (set feature) or ipset (set
    /// type); @REV only for match, target and ipset. E.g. comment, target:MASQUERADE@1,
    /// expr:numgen, chain:nat, family:bridge, set:interval, ipset:hash:ip,port.
    #[arg(value_name = "EXT", value_parser = parse_requirement)]
    pub extensions: Vec<Requirement>,

    /// A requirement profile: a built-in name (`xtprobe profiles`) or a .toml file [default: kuscia].
    #[arg(long, short = 'p', value_name = "NAME|FILE", conflicts_with = "extensions", value_parser = ProfileParser, hide_possible_values = true)]
    pub profile: Option<String>,

    /// A saved ruleset to derive the requirements from (repeatable): iptables-save /
    /// ip6tables-save output or iptables-restore input, or `nft -j list ruleset` JSON.
    /// A file that does not say its family is read as --family (default ipv4).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["extensions", "profile"])]
    pub rules: Vec<std::path::PathBuf>,

    /// Families to ask in, comma-separated: ipv4 (ip), ipv6 (ip6), inet, arp, bridge, netdev
    /// [default: ipv4,ipv6 for EXT; the profile's own otherwise]. For xtables and ipset, inet
    /// means ipv4 and ipv6; family:NAME requirements ignore it.
    #[arg(long, short = 'f', value_name = "LIST", value_parser = FamiliesParser, hide_possible_values = true)]
    pub family: Option<Families>,
}

/// Output format flags shared by every command.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Print a JSON document instead of a table.
    #[arg(long, conflicts_with = "quiet")]
    pub json: bool,

    /// Print nothing on stdout; only the exit status tells.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// What a command prints: one choice, whichever flags made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMode {
    /// Tables and sentences (the default).
    Text,
    /// A JSON document.
    Json,
    /// Nothing on stdout.
    Quiet,
}

impl OutputArgs {
    /// The output mode these flags select.
    pub fn mode(&self) -> OutputMode {
        match (self.json, self.quiet) {
            (true, _) => OutputMode::Json,
            (false, true) => OutputMode::Quiet,
            (false, false) => OutputMode::Text,
        }
    }
}

/// A non-empty, duplicate-free list of families.
#[derive(Debug, Clone)]
pub struct Families(pub Vec<Family>);

fn parse_requirement(s: &str) -> Result<Requirement, String> {
    s.parse::<Requirement>().map_err(|e| e.to_string())
}

/// `--family`'s parser: a comma-separated list, offering the family
/// names to shell completion.
#[derive(Clone)]
struct FamiliesParser;

impl clap::builder::TypedValueParser for FamiliesParser {
    type Value = Families;
    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Families, clap::Error> {
        let s = value
            .to_str()
            .ok_or_else(|| clap::Error::new(clap::error::ErrorKind::InvalidUtf8).with_cmd(cmd))?;
        parse_families(s).map_err(|e| {
            let arg = arg.map(|a| a.to_string()).unwrap_or_else(|| "--family".into());
            clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                format!("invalid value '{s}' for '{arg}': {e}\n"),
            )
            .with_cmd(cmd)
        })
    }
    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(
            ["ipv4", "ipv6", "inet", "arp", "bridge", "netdev"]
                .into_iter()
                .map(clap::builder::PossibleValue::new),
        ))
    }
}

/// A profile argument: any name or file, the built-in names offered to
/// shell completion.
#[derive(Clone)]
struct ProfileParser;

impl clap::builder::TypedValueParser for ProfileParser {
    type Value = String;
    fn parse_ref(
        &self,
        cmd: &clap::Command,
        _: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        value
            .to_str()
            .map(String::from)
            .ok_or_else(|| clap::Error::new(clap::error::ErrorKind::InvalidUtf8).with_cmd(cmd))
    }
    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(xtprobe::profile::builtin_names().into_iter().map(clap::builder::PossibleValue::new)))
    }
}

fn parse_families(s: &str) -> Result<Families, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let f = Family::parse(part).ok_or_else(|| {
            format!("unknown family `{part}`: use ipv4 (ip), ipv6 (ip6), inet, arp, bridge or netdev")
        })?;
        if !out.contains(&f) {
            out.push(f);
        }
    }
    if out.is_empty() {
        return Err("no family given".to_string());
    }
    Ok(Families(out))
}

fn parse_timeout(s: &str) -> Result<Duration, String> {
    let secs: f64 = s.parse().map_err(|_| format!("`{s}` is not a number of seconds"))?;
    if !(0.001..=600.0).contains(&secs) {
        return Err("the timeout must be between 0.001 and 600 seconds".to_string());
    }
    Ok(Duration::from_secs_f64(secs))
}
