//! The text index files depmod writes next to the modules, read the way
//! busybox modprobe reads them (libkmod reads only the `.bin` tries):
//!
//! - `modules.dep`: `path: dep dep …`, each line the module's *full*
//!   dependency closure, users before the modules they use (so loading goes
//!   right to left, then the module itself).
//! - `modules.alias`: `alias PATTERN module`, PATTERN an fnmatch glob.
//! - `modules.softdep`: `softdep module pre: a b post: c`.
//! - `modules.builtin`: one `kernel/…/x.ko` path per built-in module.
//! - `modules.builtin.modinfo`: NUL-separated `module.key=value` records of
//!   built-in modules (their aliases, among others).
//!
//! Every file is optional: a tree unpacked from a Debian package has only
//! the last two and `modules.order`. A file that exists but cannot be parsed
//! is an error naming the file and line, never silently ignored.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::glob;
use super::modinfo::parse_softdep;
use super::name::{ModuleName, normalize_alias};
use crate::system::fs::{Dir, FsError};

/// Index files larger than this are refused (Debian's modules.alias is
/// about 1.2 MiB, modules.dep 0.5 MiB): parsed, an index takes up to ~20
/// times its size in memory, and initramfs memory is small.
pub const MAX_INDEX_BYTES: u64 = 8 << 20;

/// Why an index file could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndexError {
    /// The file exists but could not be read (not a regular file, a link,
    /// leads out of the directory, too large, an I/O error).
    #[error(transparent)]
    File(#[from] FsError),
    /// A line that does not have the file's format.
    #[error("{}:{line}: {why} (regenerate it with depmod, or remove it to resolve from .modinfo)", crate::system::fs::shown(.path))]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        why: &'static str,
    },
}

/// One modules.dep entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepEntry {
    /// Path relative to the modules directory (or absolute).
    pub path: PathBuf,
    /// The full dependency closure, as written (users first).
    pub closure: Vec<PathBuf>,
}

/// Soft dependencies of one module.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SoftDeps {
    /// Loaded before the module.
    pub pre: Vec<String>,
    /// Loaded after the module.
    pub post: Vec<String>,
}

/// Everything the index files of one modules directory say.
#[derive(Debug, Clone, Default)]
pub struct Index {
    /// modules.dep by normalised module name; `None` if the file is absent.
    pub dep: Option<BTreeMap<ModuleName, DepEntry>>,
    /// modules.alias; `None` if absent.
    pub aliases: Option<AliasIndex>,
    /// modules.softdep; `None` if absent.
    pub softdeps: Option<BTreeMap<ModuleName, SoftDeps>>,
    /// Built-in modules (modules.builtin and modules.builtin.modinfo).
    pub builtin: BTreeSet<ModuleName>,
    /// Aliases of built-in modules, from modules.builtin.modinfo.
    pub builtin_aliases: AliasIndex,
    /// Whether any builtin list was found (otherwise "not built in" is unknown).
    pub builtin_known: bool,
}

impl Index {
    /// Reads whatever index files `dir` has: each beneath the directory,
    /// a regular file, at most [`MAX_INDEX_BYTES`].
    pub fn load(dir: &Dir) -> Result<Self, IndexError> {
        let mut index = Index::default();
        let read = |name: &'static str| dir.read_optional(Path::new(name), MAX_INDEX_BYTES, name);
        let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
        if let Some(b) = read("modules.dep")? {
            index.dep = Some(parse_dep(&dir.shown(Path::new("modules.dep")), &text(b))?);
        }
        if let Some(b) = read("modules.alias")? {
            let pairs = parse_alias(&dir.shown(Path::new("modules.alias")), &text(b))?;
            index.aliases = Some(AliasIndex::new(pairs));
        }
        if let Some(b) = read("modules.softdep")? {
            index.softdeps = Some(parse_softdeps(&dir.shown(Path::new("modules.softdep")), &text(b))?);
        }
        if let Some(b) = read("modules.builtin")? {
            index.builtin_known = true;
            index.builtin.extend(parse_builtin(&text(b)));
        }
        if let Some(bytes) = read("modules.builtin.modinfo")? {
            index.builtin_known = true;
            let (names, aliases) = parse_builtin_modinfo(&bytes);
            index.builtin.extend(names);
            index.builtin_aliases = AliasIndex::new(aliases);
        }
        Ok(index)
    }

    /// Modules whose alias patterns match `alias` (already normalised), from
    /// modules.alias; `None` when the file is absent.
    pub fn alias_matches(&self, alias: &str) -> Option<Vec<ModuleName>> {
        Some(self.aliases.as_ref()?.matches(alias))
    }

    /// Built-in modules providing `alias`.
    pub fn builtin_alias_matches(&self, alias: &str) -> Vec<ModuleName> {
        self.builtin_aliases.matches(alias)
    }
}

/// Alias patterns by what a lookup needs: the plain ones (most of
/// modules.alias: `ipt_comment`, `crypto-crc32c`) in a hash map, so a
/// lookup costs one probe plus a pass over the glob patterns only.
#[derive(Debug, Clone, Default)]
pub struct AliasIndex {
    exact: std::collections::HashMap<String, Vec<ModuleName>>,
    globs: Vec<(String, ModuleName)>,
}

impl AliasIndex {
    /// An index of (normalised pattern, module) pairs.
    pub fn new(pairs: impl IntoIterator<Item = (String, ModuleName)>) -> Self {
        let mut ix = AliasIndex::default();
        for (pattern, module) in pairs {
            if pattern.contains(['*', '?', '[', '\\']) {
                ix.globs.push((pattern, module));
            } else {
                ix.exact.entry(pattern).or_default().push(module);
            }
        }
        ix
    }

    /// The modules whose patterns match `alias` (normalised), sorted, once each.
    pub fn matches(&self, alias: &str) -> Vec<ModuleName> {
        let mut found: Vec<ModuleName> = self.exact.get(alias).cloned().unwrap_or_default();
        found.extend(self.globs.iter().filter(|(p, _)| glob::matches(p, alias)).map(|(_, m)| m.clone()));
        found.sort();
        found.dedup();
        found
    }

    /// How many patterns it holds.
    pub fn len(&self) -> usize {
        self.exact.values().map(Vec::len).sum::<usize>() + self.globs.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The longest alias pattern accepted (the longest in Debian's 6.12
/// modules.alias is under 150 bytes): matching is linear in the pattern
/// times the name, so both are bounded.
pub const MAX_ALIAS_PATTERN: usize = 1024;

/// Parses modules.builtin: one `kernel/…/x.ko` path per line.
pub fn parse_builtin(text: &str) -> impl Iterator<Item = ModuleName> + '_ {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).filter_map(|l| ModuleName::from_path(Path::new(l)))
}

/// Parses modules.dep.
pub fn parse_dep(path: &Path, text: &str) -> Result<BTreeMap<ModuleName, DepEntry>, IndexError> {
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let malformed = |why| IndexError::Malformed { path: path.to_path_buf(), line: n + 1, why };
        let (module, deps) = line.split_once(':').ok_or(malformed("expected `module.ko: dependencies`"))?;
        let module = PathBuf::from(module.trim());
        let name =
            ModuleName::from_path(&module).ok_or(malformed("the entry before `:` is not a .ko file"))?;
        let mut closure = Vec::new();
        for dep in deps.split_whitespace() {
            let dep = PathBuf::from(dep);
            if ModuleName::from_path(&dep).is_none() {
                return Err(malformed("a dependency is not a .ko file"));
            }
            closure.push(dep);
        }
        // depmod lists a name once; the first entry wins, as in kmod.
        out.entry(name).or_insert(DepEntry { path: module, closure });
    }
    Ok(out)
}

/// Parses modules.alias (patterns normalised).
pub fn parse_alias(path: &Path, text: &str) -> Result<Vec<(String, ModuleName)>, IndexError> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        // depmod writes `alias %s %s` with the alias as the module declared
        // it, spaces included (arm64's `mt8183_mt6358_ts3a227_max98357 soc
        // card`): the module is the last word, the pattern all before it.
        let split = line
            .strip_prefix("alias")
            .filter(|rest| rest.starts_with(char::is_whitespace))
            .and_then(|rest| rest.trim().rsplit_once(char::is_whitespace));
        match split {
            Some((pattern, _)) if pattern.trim_end().len() > MAX_ALIAS_PATTERN => {
                return Err(IndexError::Malformed {
                    path: path.to_path_buf(),
                    line: n + 1,
                    why: "alias pattern longer than 1024 bytes",
                });
            }
            Some((pattern, module)) => {
                out.push((normalize_alias(pattern.trim_end()), ModuleName::new(module)))
            }
            None => {
                return Err(IndexError::Malformed {
                    path: path.to_path_buf(),
                    line: n + 1,
                    why: "expected `alias PATTERN MODULE`",
                });
            }
        }
    }
    Ok(out)
}

/// Parses modules.softdep; a module may have several lines.
pub fn parse_softdeps(path: &Path, text: &str) -> Result<BTreeMap<ModuleName, SoftDeps>, IndexError> {
    let mut out: BTreeMap<ModuleName, SoftDeps> = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let rest = line.strip_prefix("softdep").filter(|r| r.starts_with(char::is_whitespace)).ok_or(
            IndexError::Malformed {
                path: path.to_path_buf(),
                line: n + 1,
                why: "expected `softdep MODULE pre: … post: …`",
            },
        )?;
        let rest = rest.trim_start();
        let (module, value) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        if module.is_empty() {
            return Err(IndexError::Malformed {
                path: path.to_path_buf(),
                line: n + 1,
                why: "softdep without a module",
            });
        }
        let (pre, post) = parse_softdep(value);
        let entry = out.entry(ModuleName::new(module)).or_default();
        entry.pre.extend(pre);
        entry.post.extend(post);
    }
    Ok(out)
}

/// Parses modules.builtin.modinfo: the built-in module names and their
/// aliases.
pub fn parse_builtin_modinfo(bytes: &[u8]) -> (BTreeSet<ModuleName>, Vec<(String, ModuleName)>) {
    let mut names = BTreeSet::new();
    let mut aliases = Vec::new();
    for record in bytes.split(|&b| b == 0).filter(|r| !r.is_empty()) {
        let record = String::from_utf8_lossy(record);
        let Some((key, value)) = record.split_once('=') else { continue };
        let Some((module, field)) = key.split_once('.') else { continue };
        let module = ModuleName::new(module);
        if field == "alias" {
            aliases.push((normalize_alias(value), module.clone()));
        }
        names.insert(module);
    }
    (names, aliases)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> PathBuf {
        PathBuf::from("modules.x")
    }

    #[test]
    fn dep_lines() {
        let text = "kernel/net/netfilter/xt_comment.ko.xz: kernel/net/netfilter/x_tables.ko.xz\n\
                    kernel/net/netfilter/x_tables.ko.xz:\n\n";
        let dep = parse_dep(&p(), text).unwrap();
        let e = &dep[&ModuleName::new("xt_comment")];
        assert_eq!(e.path, PathBuf::from("kernel/net/netfilter/xt_comment.ko.xz"));
        assert_eq!(e.closure, vec![PathBuf::from("kernel/net/netfilter/x_tables.ko.xz")]);
        assert!(dep[&ModuleName::new("x_tables")].closure.is_empty());
    }

    #[test]
    fn malformed_dep_names_file_and_line() {
        let err = parse_dep(&p(), "a.ko: b.ko\nno colon here\n").unwrap_err();
        assert_eq!(
            err,
            IndexError::Malformed { path: p(), line: 2, why: "expected `module.ko: dependencies`" }
        );
        assert!(matches!(parse_dep(&p(), "notamodule: a.ko\n"), Err(IndexError::Malformed { line: 1, .. })));
        assert!(matches!(parse_dep(&p(), "a.ko: b.txt\n"), Err(IndexError::Malformed { line: 1, .. })));
        assert!(err.to_string().contains("modules.x:2"));
    }

    #[test]
    fn alias_and_softdep_lines() {
        let a =
            parse_alias(&p(), "# Aliases\nalias ipt_comment xt_comment\nalias crc32c-intel crc32c_intel\n")
                .unwrap();
        assert_eq!(a[1], ("crc32c_intel".to_string(), ModuleName::new("crc32c_intel")));
        assert!(matches!(parse_alias(&p(), "alias onlyone\n"), Err(IndexError::Malformed { line: 1, .. })));
        assert!(matches!(parse_alias(&p(), "aliasx a b\n"), Err(IndexError::Malformed { line: 1, .. })));
        // A line from Debian 6.12 arm64's depmod output: the pattern has spaces.
        let spaced = parse_alias(
            &p(),
            "alias mt8183_mt6358_ts3a227_max98357 soc card mt8183_mt6358_ts3a227_max98357\n",
        )
        .unwrap();
        assert_eq!(
            spaced,
            vec![(
                "mt8183_mt6358_ts3a227_max98357 soc card".to_string(),
                ModuleName::new("mt8183_mt6358_ts3a227_max98357")
            )]
        );
        let s =
            parse_softdeps(&p(), "softdep libcrc32c pre: crc32c\nsoftdep cifs gcm\nsoftdep cifs post: aes\n")
                .unwrap();
        assert_eq!(s[&ModuleName::new("libcrc32c")].pre, vec!["crc32c"]);
        assert_eq!(
            s[&ModuleName::new("cifs")],
            SoftDeps { pre: vec!["gcm".into()], post: vec!["aes".into()] }
        );
        assert!(matches!(parse_softdeps(&p(), "softdeps x\n"), Err(IndexError::Malformed { .. })));
    }

    #[test]
    fn builtin_modinfo_records() {
        let (names, aliases) = parse_builtin_modinfo(
            b"xt_comment.alias=ipt_comment\0xt_comment.license=GPL\0x_tables.license=GPL\0junk\0",
        );
        assert!(
            names.contains(&ModuleName::new("xt_comment")) && names.contains(&ModuleName::new("x_tables"))
        );
        assert_eq!(aliases, vec![("ipt_comment".to_string(), ModuleName::new("xt_comment"))]);
    }
}
