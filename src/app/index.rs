//! `xtprobe index`: write the text indexes depmod writes — `modules.dep`,
//! `modules.alias`, `modules.softdep` — for hosts without kmod, from each
//! module's own `.modinfo` (`depends=`, `alias=`, `softdep=`).
//!
//! The content equals depmod's for every entry xtprobe reads: each module's
//! dependency closure (as paths relative to the directory, users before
//! the modules they use, as modprobe loads them right to left), every
//! `alias PATTERN MODULE` line, and every `softdep MODULE …` line. Lines
//! are in path order; depmod orders by `modules.order`, which no reader
//! depends on. The binary `.bin` indexes (what libkmod reads) are not
//! written: a host with libkmod has depmod. Stale ones would be read
//! instead of the new text, so where they exist index refuses, unless told
//! to remove them ([`BINARY`]).
//!
//! Every module is read through the modules directory's descriptor, on all
//! cores, each only as far as the end of its `.modinfo` strings where that
//! can be told, in full otherwise. The three files are replaced together
//! ([`Dir::write_atomic_all`]: all written and synced, then renamed), mode
//! 0644, under a lock.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::app::exit::ExitCode;
use crate::kmod::modinfo::ModInfo;
use crate::kmod::scan;
use crate::kmod::tree::ModuleTree;
use crate::kmod::{ModuleName, modules_dir};
use crate::system::fs::{self, Dir};

/// What to index.
#[derive(Debug, Clone, Default)]
pub struct IndexOptions {
    /// The modules directory [default: the running kernel's].
    pub modules_dir: Option<PathBuf>,
    /// Compute and report; write nothing.
    pub dry_run: bool,
    /// Remove depmod's binary indexes ([`BINARY`]) after writing.
    pub remove_binary: bool,
}

/// depmod's binary indexes built from the module files, which libkmod
/// reads instead of the text files (`modules.builtin.bin` and
/// `modules.builtin.alias.bin` come from the kernel build and stay).
pub const BINARY: [&str; 3] = ["modules.dep.bin", "modules.alias.bin", "modules.symbols.bin"];

/// The three files, as text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Indexes {
    /// `modules.dep`.
    pub dep: String,
    /// `modules.alias`.
    pub alias: String,
    /// `modules.softdep`.
    pub softdep: String,
}

/// What `index` did.
#[derive(Debug, Serialize)]
pub struct IndexReport {
    /// The modules directory.
    #[serde(serialize_with = "crate::system::fs::lossy::opt")]
    pub modules_dir: Option<PathBuf>,
    /// Modules indexed.
    pub modules: usize,
    /// `alias` lines.
    pub aliases: usize,
    /// `softdep` lines.
    pub softdeps: usize,
    /// Files written (none in a dry run).
    #[serde(serialize_with = "crate::system::fs::lossy::list")]
    pub written: Vec<PathBuf>,
    /// depmod's binary indexes found (removed with `--remove-binary`).
    pub binary: Vec<String>,
    /// Whether they were removed.
    pub binary_removed: bool,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// Modules that could not be read, dependencies that are nowhere, and
    /// similar notes.
    pub warnings: Vec<String>,
    /// Why nothing could be indexed, if so.
    pub error: Option<String>,
    /// The text, for a dry run's output and for tests.
    #[serde(skip)]
    pub indexes: Indexes,
}

impl IndexReport {
    /// 0 written (or computed), 3 the directory or a file could not be used.
    pub fn exit_code(&self) -> ExitCode {
        if self.error.is_some() { ExitCode::CannotProbe } else { ExitCode::Ok }
    }
}

/// Builds the indexes of `dir`, and writes them unless `dry_run`.
pub fn run(opts: &IndexOptions) -> IndexReport {
    let release = crate::system::host::kernel_release();
    let mut report = IndexReport {
        modules_dir: opts.modules_dir.clone().or_else(|| modules_dir(&release)),
        modules: 0,
        aliases: 0,
        softdeps: 0,
        written: Vec::new(),
        binary: Vec::new(),
        binary_removed: false,
        dry_run: opts.dry_run,
        warnings: Vec::new(),
        error: None,
        indexes: Indexes::default(),
    };
    let Some(dir) = report.modules_dir.clone() else {
        report.error = Some(format!("no modules directory for kernel {release}; give --modules-dir"));
        return report;
    };
    let mut tree = match ModuleTree::open(&dir) {
        Ok(t) => t,
        Err(e) => {
            report.error = Some(e.to_string());
            return report;
        }
    };
    let modules: Vec<(ModuleName, PathBuf)> = match tree.all() {
        Ok(all) => all.iter().map(|(n, p)| (n.clone(), p.clone())).collect(),
        Err(e) => {
            report.error = Some(e.to_string());
            return report;
        }
    };
    report.warnings.extend(tree.warnings().iter().cloned());
    report.binary = BINARY
        .iter()
        .filter(|b| tree.handle().kind_of(Path::new(b), fs::Scope::Beneath).is_some())
        .map(|b| b.to_string())
        .collect();
    if !report.binary.is_empty() && !opts.remove_binary {
        report.error = Some(format!(
            "{} holds depmod's binary indexes ({}), which modprobe (libkmod), and so the kernel's own \
             autoloader, reads instead of the text files xtprobe writes: they would go stale. Run `depmod` \
             where kmod is installed, or give --remove-binary if nothing here reads them (no kmod)",
            fs::shown(&dir),
            report.binary.join(", ")
        ));
        return report;
    }
    // A path modules.dep cannot hold (`:` separates, whitespace splits, a
    // newline starts another entry) would make the whole file unreadable.
    let modules: Vec<(ModuleName, PathBuf)> = modules
        .into_iter()
        .filter(|(_, rel)| match rel.to_str() {
            Some(p) if writable(p) => true,
            _ => {
                report.warnings.push(format!(
                    "skipped {}: modules.dep cannot name a path with `:`, whitespace or control characters",
                    fs::shown(&dir.join(rel))
                ));
                false
            }
        })
        .collect();
    let infos = read_all(tree.handle(), &modules);
    let builtin = builtin_names(tree.handle());
    let (indexes, warnings) = build(&modules, &infos, &builtin);
    report.warnings.extend(warnings);
    report.modules = infos.iter().filter(|i| i.is_ok()).count();
    report.aliases = indexes.alias.lines().filter(|l| l.starts_with("alias ")).count();
    report.softdeps = indexes.softdep.lines().filter(|l| l.starts_with("softdep ")).count();
    if !opts.dry_run {
        match write(tree.handle(), &indexes, &report.binary) {
            Ok((written, warnings)) => {
                report.written = written;
                report.binary_removed = !report.binary.is_empty();
                report.warnings.extend(warnings);
            }
            Err(e) => report.error = Some(e.to_string()),
        }
    }
    report.indexes = indexes;
    report
}

/// Whether `s` can stand as a path in modules.dep (`PATH: DEPS`).
fn writable(s: &str) -> bool {
    !s.is_empty() && !s.chars().any(|c| c == ':' || c.is_whitespace() || c.is_control())
}

/// Every module's `.modinfo`, read on all cores ([`scan::modinfos`]).
fn read_all(dir: &Dir, modules: &[(ModuleName, PathBuf)]) -> Vec<Result<ModInfo, String>> {
    scan::modinfos(dir, modules).into_iter().map(|r| r.map_err(|e| e.to_string())).collect()
}

/// The names modules.builtin and modules.builtin.modinfo list: a
/// dependency on one of them is met by the kernel itself.
fn builtin_names(dir: &Dir) -> BTreeSet<ModuleName> {
    let mut names = BTreeSet::new();
    let limit = crate::kmod::index::MAX_INDEX_BYTES;
    if let Ok(Some(b)) = dir.read_optional(Path::new("modules.builtin"), limit, "modules.builtin") {
        names.extend(crate::kmod::index::parse_builtin(&String::from_utf8_lossy(&b)));
    }
    if let Ok(Some(b)) =
        dir.read_optional(Path::new("modules.builtin.modinfo"), limit, "modules.builtin.modinfo")
    {
        names.extend(crate::kmod::index::parse_builtin_modinfo(&b).0);
    }
    names
}

/// The three files from the modules' `.modinfo` (a pure function).
pub fn build(
    modules: &[(ModuleName, PathBuf)],
    infos: &[Result<ModInfo, String>],
    builtin: &BTreeSet<ModuleName>,
) -> (Indexes, Vec<String>) {
    let mut warnings = Vec::new();
    let index: BTreeMap<&ModuleName, usize> = modules.iter().enumerate().map(|(i, (n, _))| (n, i)).collect();
    // Direct dependencies by index; unknown names are built in or missing.
    let mut direct: Vec<Vec<usize>> = vec![Vec::new(); modules.len()];
    for (i, info) in infos.iter().enumerate() {
        match info {
            Ok(info) => {
                for d in &info.depends {
                    match index.get(d) {
                        Some(&j) if j != i => direct[i].push(j),
                        Some(_) => {}
                        None if builtin.contains(d) => {}
                        None => {
                            warnings.push(format!("{} needs {d}, which is not in the tree", modules[i].0))
                        }
                    }
                }
            }
            Err(e) => warnings.push(format!("skipped {e}")),
        }
    }
    let heights = crate::kmod::resolve::graph::heights(&direct);
    let mut dep = String::new();
    for (i, (_, rel)) in modules.iter().enumerate() {
        if infos[i].is_err() {
            continue;
        }
        // The closure, users before what they use (higher first), then by path.
        let mut closure: Vec<usize> = Vec::new();
        let mut seen = BTreeSet::new();
        let mut stack = direct[i].clone();
        while let Some(j) = stack.pop() {
            if j != i && seen.insert(j) {
                closure.push(j);
                stack.extend(direct[j].iter().copied());
            }
        }
        closure.sort_by(|&a, &b| heights[b].cmp(&heights[a]).then_with(|| modules[a].1.cmp(&modules[b].1)));
        dep.push_str(&rel.to_string_lossy());
        dep.push(':');
        for j in closure {
            dep.push(' ');
            dep.push_str(&modules[j].1.to_string_lossy());
        }
        dep.push('\n');
    }
    let mut alias = String::from("# Aliases extracted from modules themselves.\n");
    let mut softdep = String::from("# Soft dependencies extracted from modules themselves.\n");
    for (i, (name, _)) in modules.iter().enumerate() {
        let Ok(info) = &infos[i] else { continue };
        for a in &info.aliases {
            // Spaces inside an alias are written as depmod writes them.
            if !a.trim().is_empty()
                && a.trim() == a
                && !a.chars().any(|c| c != ' ' && c.is_whitespace() || c.is_control())
            {
                alias.push_str(&format!("alias {a} {name}\n"));
            } else {
                warnings.push(format!(
                    "{name}: alias {a:?} is empty, has tabs, control characters or edge spaces; not written"
                ));
            }
        }
        for s in &info.softdep_raw {
            if s.chars().any(char::is_control) {
                warnings.push(format!("{name}: softdep {s:?} has control characters; not written"));
            } else {
                softdep.push_str(&format!("softdep {name} {s}\n"));
            }
        }
    }
    (Indexes { dep, alias, softdep }, warnings)
}

/// Writes the three files together under a lock, then removes `binary`
/// (depmod's binary indexes, with --remove-binary); returns the paths
/// written and warnings.
fn write(dir: &Dir, ix: &Indexes, binary: &[String]) -> Result<(Vec<PathBuf>, Vec<String>), fs::FsError> {
    let _lock = dir.lock(".xtprobe-index.lock", std::time::Duration::from_secs(30))?;
    let files: [(&str, &[u8]); 3] = [
        ("modules.dep", ix.dep.as_bytes()),
        ("modules.alias", ix.alias.as_bytes()),
        ("modules.softdep", ix.softdep.as_bytes()),
    ];
    let mut warnings: Vec<String> = dir.write_atomic_all(&files, 0o644)?.into_iter().collect();
    for b in binary {
        if let Err(e) = dir.remove(b) {
            warnings.push(format!("{e}: a stale binary index is left"));
        }
    }
    Ok((files.iter().map(|(n, _)| dir.shown(Path::new(n))).collect(), warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(depends: &[&str], aliases: &[&str], softdep: &[&str]) -> Result<ModInfo, String> {
        Ok(ModInfo {
            depends: depends.iter().map(|d| ModuleName::new(d)).collect(),
            aliases: aliases.iter().map(|a| a.to_string()).collect(),
            softdep_raw: softdep.iter().map(|s| s.to_string()).collect(),
            ..ModInfo::default()
        })
    }

    #[test]
    fn closures_users_first_aliases_and_softdeps() {
        let modules: Vec<(ModuleName, PathBuf)> = [
            ("libcrc32c", "kernel/lib/libcrc32c.ko.xz"),
            ("nf_conntrack", "kernel/net/netfilter/nf_conntrack.ko.xz"),
            ("xt_conntrack", "kernel/net/netfilter/xt_conntrack.ko.xz"),
            ("x_tables", "kernel/net/netfilter/x_tables.ko.xz"),
        ]
        .iter()
        .map(|(n, p)| (ModuleName::new(n), PathBuf::from(p)))
        .collect();
        let infos = vec![
            info(&[], &["crypto-crc32c"], &["pre: crc32c"]),
            info(&["libcrc32c", "builtin_thing"], &[], &[]),
            info(&["x_tables", "nf_conntrack"], &["ipt_conntrack", "ip6t_conntrack"], &[]),
            info(&[], &["soc card x", "bad\nline", " edge"], &[]),
        ];
        let builtin: BTreeSet<ModuleName> = [ModuleName::new("builtin_thing")].into();
        let (ix, warnings) = build(&modules, &infos, &builtin);
        // depmod writes an alias with inner spaces; a newline or edge space is refused.
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(ix.alias.contains("alias soc card x x_tables\n"));
        assert!(!ix.alias.contains("bad") && !ix.alias.contains(" edge"));
        assert!(
            ix.dep.contains(
                "kernel/net/netfilter/xt_conntrack.ko.xz: kernel/net/netfilter/nf_conntrack.ko.xz \
             kernel/lib/libcrc32c.ko.xz kernel/net/netfilter/x_tables.ko.xz\n"
            ),
            "{}",
            ix.dep
        );
        assert!(ix.dep.contains("kernel/lib/libcrc32c.ko.xz:\n"));
        assert!(ix.alias.contains("alias ipt_conntrack xt_conntrack\n"));
        assert!(ix.alias.contains("alias crypto-crc32c libcrc32c\n"));
        assert!(ix.softdep.contains("softdep libcrc32c pre: crc32c\n"));
        // What xtprobe writes, xtprobe reads back.
        let dep = crate::kmod::index::parse_dep(Path::new("modules.dep"), &ix.dep).unwrap();
        assert_eq!(dep[&ModuleName::new("xt_conntrack")].closure.len(), 3);
        let aliases = crate::kmod::index::parse_alias(Path::new("modules.alias"), &ix.alias).unwrap();
        assert!(aliases.contains(&("soc card x".to_string(), ModuleName::new("x_tables"))));
        crate::kmod::index::parse_softdeps(Path::new("modules.softdep"), &ix.softdep).unwrap();
    }
}
