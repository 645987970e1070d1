//! modprobe.d and the kernel command line, read as kmod reads them
//! (`libkmod/libkmod-config.c`), so that xtprobe loads modules the way the
//! host's own modprobe and systemd-modules-load would:
//!
//! - `*.conf` files from `/etc/modprobe.d`, `/run/modprobe.d`,
//!   `/usr/local/lib/modprobe.d`, `/usr/lib/modprobe.d`, `/lib/modprobe.d`
//!   (under `--root`), and the modules directory's `modules.softdep`, all
//!   in one list sorted by file name; a name already seen in an earlier
//!   directory is skipped (so `/etc` overrides `/usr/lib`, and a link to
//!   `/dev/null` masks); then `/proc/cmdline`;
//! - `alias PATTERN MODULE`, `blacklist MODULE`, `options MODULE ARGS`,
//!   `install MODULE CMD`, `remove MODULE CMD`, `softdep MODULE pre: …
//!   post: …`; a line ending in `\` continues; `#` starts a comment;
//! - on the command line, `MODULE.PARAM=VALUE` (options) and
//!   `modprobe.blacklist=A,B`; `module_blacklist=` is the kernel's own
//!   (`LoadPolicy` reads it: the kernel refuses those modules itself).
//!
//! What applies, as kmod applies it: the first `install` (and `softdep`)
//! whose pattern matches the module; every `options` line naming the
//! module, in order, the command line's last and the user's `KEY=VAL`
//! after them (the kernel takes the last value of a key); `blacklist` by
//! exact name, for modules found through an alias only; config aliases
//! before modules.alias. xtprobe never runs an install command: a module
//! that has one is refused, with the file and line as the cause.
//!
//! Bad lines are warnings naming the file and line, never errors.

use std::path::Path;

use serde::Serialize;

use super::ModuleName;
use super::glob;
use crate::system::fs::{self, Dir};

/// The directories, in precedence order, relative to the root.
pub const DIRS: [&str; 5] =
    ["etc/modprobe.d", "run/modprobe.d", "usr/local/lib/modprobe.d", "usr/lib/modprobe.d", "lib/modprobe.d"];
/// The largest config file read.
pub const MAX_FILE_BYTES: u64 = 1 << 20;
/// The most files read.
pub const MAX_FILES: usize = 1024;
/// The most entries kept (of every kind together).
pub const MAX_ENTRIES: usize = 65_536;

/// Where an entry comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct At {
    /// The file, as shown (or `/proc/cmdline`).
    pub file: String,
    /// The 1-based line (0 for the command line).
    pub line: usize,
}

impl std::fmt::Display for At {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 { write!(f, "{}", self.file) } else { write!(f, "{}:{}", self.file, self.line) }
    }
}

/// `install MODULE COMMAND`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Install {
    /// The module pattern.
    pub pattern: String,
    /// The command (never run).
    pub command: String,
    /// Where.
    pub at: At,
}

/// `blacklist MODULE` (or `modprobe.blacklist=`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Blacklist {
    /// The module.
    pub module: ModuleName,
    /// Where.
    pub at: At,
}

/// `options MODULE ARGS` (or `MODULE.PARAM=VALUE`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Options {
    /// The module.
    pub module: ModuleName,
    /// The arguments, as written.
    pub options: String,
    /// Where.
    pub at: At,
}

/// `alias PATTERN MODULE`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alias {
    /// The alias pattern.
    pub pattern: String,
    /// The module.
    pub module: ModuleName,
    /// Where.
    pub at: At,
}

/// `softdep MODULE pre: … post: …`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SoftDep {
    /// The module pattern.
    pub pattern: String,
    /// Loaded before it.
    pub pre: Vec<String>,
    /// Loaded after it.
    pub post: Vec<String>,
    /// Where.
    pub at: At,
}

/// What modprobe.d and the command line say.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ModprobeConfig {
    /// The files read, in the order read.
    pub files: Vec<String>,
    /// `alias` lines.
    pub aliases: Vec<Alias>,
    /// `blacklist` lines and `modprobe.blacklist=`.
    pub blacklist: Vec<Blacklist>,
    /// `options` lines and `MODULE.PARAM=VALUE`.
    pub options: Vec<Options>,
    /// `install` lines.
    pub install: Vec<Install>,
    /// `softdep` lines (modules.softdep's among them).
    pub softdeps: Vec<SoftDep>,
    /// How many `remove` lines (xtprobe never unloads).
    pub removes: usize,
    /// Lines that could not be read, and files that could not.
    pub warnings: Vec<String>,
}

/// kmod's `underscores()`: `-` becomes `_`, except inside `[...]`; `None`
/// for an empty name or an unterminated bracket.
fn underscores(s: &str) -> Option<String> {
    if s.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '-' => out.push('_'),
            '[' => {
                out.push('[');
                loop {
                    match chars.next() {
                        Some(']') => {
                            out.push(']');
                            break;
                        }
                        Some(x) => out.push(x),
                        None => return None,
                    }
                }
            }
            ']' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

/// Whether `name` can be a module name (what a module file may be called).
fn module_name(s: &str) -> Option<ModuleName> {
    let n = underscores(s)?;
    (n.len() <= 255 && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')).then(|| ModuleName::new(&n))
}

impl ModprobeConfig {
    /// Reads the config under `root` (`/` for the host), with the modules
    /// directory's modules.softdep text if there is one, and the kernel
    /// command line.
    pub fn read(root: &Path, modules_softdep: Option<(String, String)>, cmdline: &str) -> Self {
        let mut cfg = ModprobeConfig::default();
        // (name, shown path, text), sorted by name; the first of a name wins.
        let mut list: Vec<(String, String, Option<String>)> = Vec::new();
        if let Some((shown, text)) = modules_softdep {
            list.push(("modules.softdep".to_string(), shown, Some(text)));
        }
        let root_dir = match Dir::open(root) {
            Ok(d) => Some(d),
            Err(e) => {
                cfg.warnings.push(format!("{e}: modprobe.d is not read"));
                None
            }
        };
        if let Some(root_dir) = &root_dir {
            for dir in DIRS {
                let d = match root_dir.open_dir(Path::new(dir)) {
                    Ok(d) => d,
                    Err(e) if e.is_not_found() => continue,
                    Err(e) => {
                        cfg.warnings.push(format!("{e} (not read)"));
                        continue;
                    }
                };
                let entries = match d.entries() {
                    Ok(e) => e,
                    Err(e) => {
                        cfg.warnings.push(format!("{e} (not read)"));
                        continue;
                    }
                };
                let mut names: Vec<String> = entries
                    .into_iter()
                    .filter_map(|e| e.name.into_string().ok())
                    .filter(|n| !n.starts_with('.') && n.len() > 5 && n.ends_with(".conf"))
                    .collect();
                names.sort();
                for name in names {
                    if list.iter().any(|(n, _, _)| *n == name) {
                        continue;
                    }
                    if list.len() >= MAX_FILES {
                        cfg.warnings.push(format!(
                            "more than {MAX_FILES} files in modprobe.d: the rest are not read"
                        ));
                        break;
                    }
                    let rel = Path::new(dir).join(&name);
                    let shown = fs::shown(&root.join(&rel)).to_string();
                    match root_dir.read_in_root(&rel, MAX_FILE_BYTES, "a modprobe.d file") {
                        Ok(bytes) => {
                            list.push((name, shown, Some(String::from_utf8_lossy(&bytes).into_owned())))
                        }
                        Err(e) => {
                            cfg.warnings.push(format!("{e} (not read)"));
                            // The name is taken: a later directory's file of
                            // that name is not read either, as with kmod.
                            list.push((name, shown, None));
                        }
                    }
                }
            }
        }
        list.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        for (_, shown, text) in list {
            if let Some(text) = text {
                cfg.files.push(shown.clone());
                cfg.parse_file(&shown, &text);
            }
        }
        cfg.parse_cmdline(cmdline);
        cfg
    }

    fn entries(&self) -> usize {
        self.aliases.len()
            + self.blacklist.len()
            + self.options.len()
            + self.install.len()
            + self.softdeps.len()
    }

    /// Parses one file's text.
    pub fn parse_file(&mut self, shown: &str, text: &str) {
        let mut lines = text.lines().enumerate().peekable();
        while let Some((i, first)) = lines.next() {
            // A line ending in `\` continues on the next.
            let mut line = first.to_string();
            while line.ends_with('\\') {
                line.pop();
                match lines.next() {
                    Some((_, next)) => line.push_str(next),
                    None => break,
                }
            }
            let n = i + 1;
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            if self.entries() >= MAX_ENTRIES {
                self.warnings
                    .push(format!("{shown}: more than {MAX_ENTRIES} entries: the rest are not read"));
                return;
            }
            let at = At { file: shown.to_string(), line: n };
            if let Err(why) = self.parse_line(trimmed, at) {
                self.warnings.push(format!("{shown}:{n}: {why}; the line is ignored"));
            }
        }
    }

    fn parse_line(&mut self, line: &str, at: At) -> Result<(), String> {
        let mut words = line.split([' ', '\t']).filter(|w| !w.is_empty());
        let cmd = words.next().unwrap_or_default();
        // The rest after the command and the module (kmod's
        // `strtok_r(NULL, "\0")`), its words joined by one space.
        let rest_after = |skip: usize| -> String {
            line.split([' ', '\t']).filter(|w| !w.is_empty()).skip(skip).collect::<Vec<_>>().join(" ")
        };
        match cmd {
            "alias" => {
                let pattern = words.next().and_then(underscores).ok_or("`alias` without a pattern")?;
                let module = words.next().and_then(module_name).ok_or("`alias` without a module")?;
                self.aliases.push(Alias { pattern, module, at });
            }
            "blacklist" => {
                let module = words.next().and_then(module_name).ok_or("`blacklist` without a module")?;
                self.blacklist.push(Blacklist { module, at });
            }
            "options" => {
                let module = words.next().and_then(module_name).ok_or("`options` without a module")?;
                let options = rest_after(2);
                if options.is_empty() {
                    return Err("`options` without options".into());
                }
                self.options.push(Options { module, options, at });
            }
            "install" => {
                let pattern = words.next().and_then(underscores).ok_or("`install` without a module")?;
                let command = rest_after(2);
                if command.is_empty() {
                    return Err("`install` without a command".into());
                }
                self.install.push(Install { pattern, command, at });
            }
            "remove" => {
                words.next().and_then(underscores).ok_or("`remove` without a module")?;
                if rest_after(2).is_empty() {
                    return Err("`remove` without a command".into());
                }
                self.removes += 1;
            }
            "softdep" => {
                let pattern = words.next().and_then(underscores).ok_or("`softdep` without a module")?;
                let (mut pre, mut post) = (Vec::new(), Vec::new());
                let mut into_post = false;
                let mut any = false;
                for w in words {
                    match w {
                        "pre:" => into_post = false,
                        "post:" => into_post = true,
                        m => {
                            let m = underscores(m).ok_or_else(|| format!("bad module name `{m}`"))?;
                            if into_post { post.push(m) } else { pre.push(m) }
                        }
                    }
                    any = true;
                }
                if !any {
                    return Err("`softdep` without dependencies".into());
                }
                self.softdeps.push(SoftDep { pattern, pre, post, at });
            }
            "weakdep" | "include" | "config" => {
                return Err(format!(
                    "`{cmd}` is not a command xtprobe applies (kmod treats it as a hint or ignores it)"
                ));
            }
            other => return Err(format!("unknown command `{}`", other.chars().take(40).collect::<String>())),
        }
        Ok(())
    }

    /// Reads `/proc/cmdline` as kmod does: `MODULE.PARAM=VALUE` is an
    /// option, `modprobe.blacklist=A,B` a blacklist; a value may be
    /// quoted; anything else is not modprobe's.
    pub fn parse_cmdline(&mut self, cmdline: &str) {
        let at = || At { file: "/proc/cmdline".to_string(), line: 0 };
        for word in cmdline_words(cmdline) {
            let Some((key, value)) = word.split_once('=') else { continue };
            let Some((module, param)) = key.split_once('.') else { continue };
            if module.is_empty() || param.is_empty() || param.contains('.') {
                continue;
            }
            if module == "modprobe" && param == "blacklist" {
                for m in value.split(',').filter_map(module_name) {
                    self.blacklist.push(Blacklist { module: m, at: at() });
                }
            } else if let Some(m) = module_name(module) {
                self.options.push(Options { module: m, options: format!("{param}={value}"), at: at() });
            }
            if self.entries() >= MAX_ENTRIES {
                return;
            }
        }
    }

    /// The install command for `module`: the first whose pattern matches.
    pub fn install_for(&self, module: &ModuleName) -> Option<&Install> {
        self.install.iter().find(|i| glob::matches(&i.pattern, module.as_str()))
    }

    /// The blacklist entry naming `module`, if any.
    pub fn blacklisted(&self, module: &ModuleName) -> Option<&Blacklist> {
        self.blacklist.iter().find(|b| b.module == *module)
    }

    /// The options for `module` (asked for as `alias`, if so): every line
    /// naming it, in order, joined.
    pub fn options_for(&self, module: &ModuleName, alias: Option<&str>) -> Vec<&Options> {
        self.options
            .iter()
            .filter(|o| o.module == *module || alias.is_some_and(|a| o.module.as_str() == a))
            .collect()
    }

    /// The modules a config alias names for `query`, in order.
    pub fn aliases_for(&self, query: &str) -> Vec<&Alias> {
        self.aliases.iter().filter(|a| glob::matches(&a.pattern, query)).collect()
    }

    /// The soft dependencies of `module`: the first entry whose pattern matches.
    pub fn softdep_for(&self, module: &ModuleName) -> Option<&SoftDep> {
        self.softdeps.iter().find(|s| glob::matches(&s.pattern, module.as_str()))
    }

    /// Whether the config says anything at all.
    pub fn is_empty(&self) -> bool {
        self.entries() == 0
    }
}

/// The words of a kernel command line: whitespace-separated, double
/// quotes grouping (a quoted value keeps its spaces; the quotes go).
fn cmdline_words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in s.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Merges module parameters: `base` first, `over` after; a key given again
/// replaces the earlier value in place (the kernel would take the last one
/// anyway; one value per key keeps the line honest).
pub fn merge_params(base: &[&str], over: &str) -> String {
    // Linear: a key's position is looked up, never searched for.
    let mut out: Vec<&str> = Vec::new();
    let mut at: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for p in base.iter().flat_map(|b| b.split_whitespace()).chain(over.split_whitespace()) {
        let key = p.split('=').next().unwrap_or(p).replace('-', "_");
        match at.get(&key) {
            Some(&i) => out[i] = p,
            None => {
                at.insert(key, out.len());
                out.push(p);
            }
        }
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> ModprobeConfig {
        let mut c = ModprobeConfig::default();
        c.parse_file("/etc/modprobe.d/t.conf", text);
        c
    }

    #[test]
    fn every_command_as_kmod_reads_it() {
        let c = parsed(
            "# CIS\ninstall dccp /bin/false\nblacklist xt-recent\noptions xt_recent ip_list_tot=10000 \\\n  ip_pkt_list_tot=50\n\
             alias my-match xt_comment\nsoftdep nf_tables pre: crc32c-generic post: nft_compat\nremove x /bin/true\n",
        );
        assert_eq!(c.install_for(&ModuleName::new("dccp")).unwrap().command, "/bin/false");
        assert_eq!(
            c.install_for(&ModuleName::new("dccp")).unwrap().at.to_string(),
            "/etc/modprobe.d/t.conf:2"
        );
        assert!(c.blacklisted(&ModuleName::new("xt_recent")).is_some(), "dashes are underscores");
        let o = c.options_for(&ModuleName::new("xt_recent"), None);
        assert_eq!(o[0].options, "ip_list_tot=10000 ip_pkt_list_tot=50", "a continued line");
        assert_eq!(c.aliases_for("my_match")[0].module.as_str(), "xt_comment");
        let s = c.softdep_for(&ModuleName::new("nf_tables")).unwrap();
        assert_eq!(
            (s.pre.as_slice(), s.post.as_slice()),
            (&["crc32c_generic".to_string()][..], &["nft_compat".to_string()][..])
        );
        assert_eq!(c.removes, 1);
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    }

    #[test]
    fn bad_lines_are_warnings_with_their_place() {
        let c =
            parsed("install\noptions x\nfrobnicate now\nblacklist ../x\nalias a\nsoftdep x\nalias [a b\n");
        assert_eq!(c.warnings.len(), 7, "{:?}", c.warnings);
        assert!(c.warnings[0].starts_with("/etc/modprobe.d/t.conf:1: "), "{}", c.warnings[0]);
        assert!(c.warnings[2].contains("unknown command `frobnicate`"));
        assert!(c.is_empty());
    }

    #[test]
    fn the_first_install_and_softdep_win_options_add_up() {
        let c = parsed(
            "install xt_* /bin/true\ninstall xt_recent /bin/false\noptions xt_recent a=1\noptions xt_recent b=2\n",
        );
        assert_eq!(
            c.install_for(&ModuleName::new("xt_recent")).unwrap().command,
            "/bin/true",
            "a pattern, first"
        );
        assert_eq!(c.options_for(&ModuleName::new("xt_recent"), None).len(), 2);
        assert_eq!(merge_params(&["a=1 b=2", "a=3"], "b=9 c=4"), "a=3 b=9 c=4");
    }

    #[test]
    fn the_kernel_command_line() {
        let mut c = ModprobeConfig::default();
        c.parse_cmdline(
            "BOOT_IMAGE=/vmlinuz root=/dev/vda1 xt_recent.ip_list_tot=1000 modprobe.blacklist=dccp,sctp \
             module_blacklist=nft_queue quiet \"parport.dyndbg=file x.c +p\" rd.luks.uuid=1",
        );
        let o = c.options_for(&ModuleName::new("xt_recent"), None);
        assert_eq!(
            (o[0].options.as_str(), o[0].at.to_string().as_str()),
            ("ip_list_tot=1000", "/proc/cmdline")
        );
        assert!(
            c.blacklisted(&ModuleName::new("dccp")).is_some()
                && c.blacklisted(&ModuleName::new("sctp")).is_some()
        );
        assert!(
            c.blacklisted(&ModuleName::new("nft_queue")).is_none(),
            "the kernel's own list, not modprobe's"
        );
        assert_eq!(c.options_for(&ModuleName::new("parport"), None)[0].options, "dyndbg=file x.c +p");
    }

    #[test]
    fn files_sorted_by_name_earlier_directories_win_and_dev_null_masks() {
        let root = tempfile::tempdir().unwrap();
        let w = |rel: &str, text: &str| {
            let p = root.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        w("usr/lib/modprobe.d/10-vendor.conf", "install xt_recent /bin/false\n");
        w("usr/lib/modprobe.d/50-a.conf", "options xt_recent a=usr\n");
        w("etc/modprobe.d/50-a.conf", "options xt_recent a=etc\n");
        w("etc/modprobe.d/notconf.txt", "blacklist x\n");
        w("etc/modprobe.d/.hidden.conf", "blacklist y\n");
        std::os::unix::fs::symlink("/dev/null", root.path().join("etc/modprobe.d/10-vendor.conf")).unwrap();
        let c = ModprobeConfig::read(
            root.path(),
            Some(("/lib/modules/x/modules.softdep".into(), "softdep xt_recent pre: x_tables\n".into())),
            "",
        );
        assert!(c.install_for(&ModuleName::new("xt_recent")).is_none(), "masked by /etc's link to /dev/null");
        let o = c.options_for(&ModuleName::new("xt_recent"), None);
        assert_eq!(o.len(), 1);
        assert_eq!(o[0].options, "a=etc", "/etc overrides /usr/lib by file name");
        assert!(c.blacklist.is_empty(), "neither .txt nor dot files are read");
        assert!(c.softdep_for(&ModuleName::new("xt_recent")).is_some());
        assert_eq!(c.files.len(), 3, "{:?}", c.files);
    }
}
