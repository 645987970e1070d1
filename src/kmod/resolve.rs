//! From what the user names to a load plan: lookup of names and aliases,
//! the dependency closure, and a load order.
//!
//! Lookup order for a query (a module name or an alias):
//! 1. the normalised name in modules.dep, then modules.builtin, then the
//!    files of the tree;
//! 2. the query as an alias: modules.alias, then the built-in aliases of
//!    modules.builtin.modinfo. Without modules.alias, candidate modules are
//!    read and their `.modinfo` aliases matched: `xt_NAME` for the
//!    `ipt_`/`ip6t_`/`arpt_`/`ebt_` aliases the kernel asks for, and modules
//!    whose name starts with the alias (`crc32c` → `crc32c_generic`,
//!    `crc32c_intel`); only if none matches is every module read;
//! 3. a module that is loaded (`/sys/module/NAME/initstate` live) counts
//!    even if no file is found.
//!
//! Dependencies come from modules.dep when it lists the module, otherwise
//! from the module's own `depends=`, recursively. Soft dependencies come
//! from modules.softdep, otherwise from `softdep=`; a soft dependency that
//! cannot be found is a warning, as it is for modprobe.
//!
//! The order: every module after everything it needs. Modules are sorted by
//! their height — the length of the longest chain of modules below them —
//! then by name: a topological order (a dependency is always lower than
//! its user) that comes out the same whether the edges were read from
//! modules.dep (each line the whole closure) or from `.modinfo` (direct
//! dependencies only), because the longest chain is the same in both
//! graphs. So a tree with and without modules.dep gives one plan. All of it
//! is linear in the size of the graph: no closure is ever stored, so a
//! hostile modules.dep cannot make it quadratic.
//!
//! Every module file is opened once, at lookup, beneath the modules
//! directory ([`ModuleFile`]); the same descriptor serves `.modinfo`, the
//! compression sniff and `finit_module`. Files that could not be opened or
//! parsed are remembered, so a bad module is read once, not on every
//! alias lookup.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use super::config::ModprobeConfig;
use super::file::{FileError, ModuleFile};
use super::index::{AliasIndex, Index, IndexError, MAX_ALIAS_PATTERN};
use super::modinfo::ModInfo;
use super::name::{ModuleName, normalize_alias};
use super::scan;
use super::state::{InitState, KernelModules};
use super::tree::{ModuleTree, TreeError};
use crate::compress::Compression;
use crate::system::fs::Dir;

/// The most soft dependencies followed for one module (real ones have a
/// handful; each is a lookup).
pub const MAX_SOFTDEPS: usize = 64;
/// The longest soft dependency name looked up.
pub const MAX_SOFTDEP_NAME: usize = 256;

/// What to do with a module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Load it from its file.
    Load,
    /// It is built into the kernel: nothing to do.
    Builtin,
    /// It is already loaded: nothing to do.
    Live,
}

/// How a module file is handed to the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// `finit_module(fd, params, 0)`: an uncompressed file.
    Finit,
    /// `finit_module(fd, params, MODULE_INIT_COMPRESSED_FILE)`: the kernel
    /// decompresses (it names the file's algorithm in /sys/module/compression).
    FinitCompressed,
    /// Decompressed here, then `init_module(image, len, params)`.
    Init,
}

/// Where a module's dependencies were read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DepSource {
    /// modules.dep.
    ModulesDep,
    /// The module's `.modinfo`.
    Modinfo,
    /// None needed (built in or loaded).
    None,
}

/// One module of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// The normalised module name.
    pub module: ModuleName,
    /// Its file; `None` when built in or already loaded.
    #[serde(serialize_with = "crate::system::fs::lossy::opt")]
    pub path: Option<PathBuf>,
    /// The open file, for the loader (the descriptor the plan checked).
    #[serde(skip)]
    pub file: Option<Handle>,
    /// What to do.
    pub action: Action,
    /// How to load it (for `load`).
    pub method: Option<Method>,
    /// The file's compression (for `load`).
    pub compression: Option<Compression>,
    /// Whether the user asked for it (rather than a dependency).
    pub requested: bool,
    /// Whether it must load: requested, or a hard dependency of one. A
    /// module that is only a soft dependency may fail without failing the
    /// load, as with modprobe (e.g. `crc32c_intel` on a CPU without SSE4.2).
    pub required: bool,
    /// Module parameters (`key=value ...`).
    pub params: String,
    /// Where its dependencies came from.
    pub deps_from: DepSource,
    /// The modules that must be loaded before it, as its source lists them
    /// (modules.dep lists the whole closure, `.modinfo` the direct
    /// dependencies), with `pre:` soft dependencies.
    pub needs: Vec<ModuleName>,
    /// The hard dependencies among `needs`: if one of them is missing,
    /// this module cannot load (a failed soft dependency does not matter).
    #[serde(skip)]
    pub hard_needs: Vec<ModuleName>,
    /// The alias this module was requested for when several modules provide
    /// it (`crc32c`): any one of them loading satisfies the request.
    pub alternative_for: Option<String>,
}

/// An ordered load plan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// In load order: every module after what it needs.
    pub steps: Vec<Step>,
    /// Soft dependencies that could not be found, and similar notes.
    pub warnings: Vec<String>,
}

/// A module the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// A module name or alias, as typed (validated).
    pub query: String,
    /// Parameters for it.
    pub params: String,
}

/// Why no plan could be made.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// Nothing provides the query.
    #[error("no module `{query}` for this kernel; looked in:\n{}", looked.iter().map(|l| format!("  - {l}")).collect::<Vec<_>>().join("\n"))]
    NotFound {
        /// What was asked.
        query: String,
        /// Where xtprobe looked, and what it found there.
        looked: Vec<String>,
    },
    /// A hard dependency has no file.
    #[error("{module} needs {dependency}, which is not in {dir} (the module tree is incomplete)")]
    DependencyMissing {
        /// The module.
        module: ModuleName,
        /// What it needs.
        dependency: ModuleName,
        /// The modules directory.
        dir: PathBuf,
    },
    /// Hard dependencies that form a loop.
    #[error("dependency cycle: {}", .0.iter().map(ModuleName::as_str).collect::<Vec<_>>().join(" -> "))]
    Cycle(Vec<ModuleName>),
    /// An index file is unusable.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// The tree or a path in it is unusable.
    #[error(transparent)]
    Tree(#[from] TreeError),
    /// A module file is unusable.
    #[error(transparent)]
    File(#[from] FileError),
    /// modprobe.d has an install command for a module the plan would load:
    /// modprobe would run that instead, and xtprobe never runs programs.
    #[error(
        "modprobe.d forbids loading {module} here: `install {pattern} {command}` ({at}) tells modprobe to run \
         that instead of loading it, and xtprobe never runs commands; remove the line if the module is wanted"
    )]
    Forbidden {
        /// The module.
        module: ModuleName,
        /// The install line's module pattern.
        pattern: String,
        /// Its command.
        command: String,
        /// Its file and line.
        at: super::config::At,
    },
}

/// A module found for a name or alias, without its dependencies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Located {
    /// The module.
    pub module: ModuleName,
    /// Its file, when it has one in the tree.
    #[serde(serialize_with = "crate::system::fs::lossy::opt")]
    pub path: Option<PathBuf>,
    /// Listed as built into the kernel.
    pub builtin: bool,
    /// Loaded right now.
    pub live: bool,
}

/// An opened module file, shared by the lookup, the plan and the loader.
#[derive(Debug, Clone)]
pub struct Handle(pub Arc<ModuleFile>);

impl PartialEq for Handle {
    fn eq(&self, other: &Self) -> bool {
        self.0.path == other.0.path
    }
}

impl Eq for Handle {}

/// What a lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    File(ModuleName, Handle),
    Builtin(ModuleName),
    Live(ModuleName),
}

impl Target {
    fn name(&self) -> &ModuleName {
        match self {
            Target::File(n, _) | Target::Builtin(n) | Target::Live(n) => n,
        }
    }
}

struct Node {
    target: Target,
    alternative_for: Option<String>,
    hard: BTreeSet<ModuleName>,
    soft_pre: BTreeSet<ModuleName>,
    soft_post: BTreeSet<ModuleName>,
    deps_from: DepSource,
    requested: bool,
    params: String,
}

/// Resolves names against one modules directory and the running kernel.
pub struct Resolver {
    tree: ModuleTree,
    index: Index,
    kernel: KernelModules,
    /// Files opened so far, failures included (a bad file is tried once).
    opened: BTreeMap<PathBuf, Result<Handle, FileError>>,
    /// `.modinfo` read so far, failures included.
    modinfo: BTreeMap<PathBuf, Result<ModInfo, FileError>>,
    /// Without modules.alias: the aliases of every module, once scanned.
    scanned: Option<AliasIndex>,
    /// Lookups made so far, by query (a soft dependency named by many
    /// modules is looked up once).
    lookups: BTreeMap<String, Vec<Target>>,
    /// Decompress in userspace even when the kernel could.
    pub force_userspace: bool,
    /// What modprobe.d and the kernel command line say ([`super::config`]).
    pub config: ModprobeConfig,
    /// Apply `blacklist` to modules asked for by name too: ensure looks
    /// for providers on the kernel's behalf, and its guesses by name must
    /// not load what the kernel's own request (an alias) would not.
    pub blacklist_names: bool,
}

impl Resolver {
    /// Opens `dir` and reads its index files.
    pub fn open(dir: &std::path::Path, kernel: KernelModules) -> Result<Self, ResolveError> {
        let tree = ModuleTree::open(dir)?;
        let index = Index::load(tree.handle())?;
        Ok(Self {
            tree,
            index,
            kernel,
            opened: BTreeMap::new(),
            modinfo: BTreeMap::new(),
            scanned: None,
            lookups: BTreeMap::new(),
            force_userspace: false,
            config: ModprobeConfig::default(),
            blacklist_names: false,
        })
    }

    /// The text of the tree's modules.softdep, for [`ModprobeConfig::read`]
    /// (kmod reads it as one of the config files).
    pub fn softdep_file(&self) -> Option<(String, String)> {
        let rel = std::path::Path::new("modules.softdep");
        let bytes = self
            .tree
            .handle()
            .read_optional(rel, super::index::MAX_INDEX_BYTES, "modules.softdep")
            .ok()??;
        Some((
            self.tree.handle().shown(rel).display().to_string(),
            String::from_utf8_lossy(&bytes).into_owned(),
        ))
    }

    /// The index files read.
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// The modules directory.
    pub fn dir(&self) -> &std::path::Path {
        self.tree.dir()
    }

    /// Notes from the tree walk (subdirectories that could not be read).
    pub fn warnings(&self) -> &[String] {
        self.tree.warnings()
    }

    /// Whether `name` is listed as built in.
    pub fn is_builtin(&self, name: &ModuleName) -> bool {
        self.index.builtin.contains(name)
    }

    /// The file of the module called exactly `name`, if the tree has one.
    pub fn module_file(&mut self, name: &ModuleName) -> Result<Option<PathBuf>, ResolveError> {
        match self.by_name(name)? {
            Some(Target::File(_, h)) => Ok(Some(h.0.path.clone())),
            _ => Ok(None),
        }
    }

    /// Opens `rel` (relative to the modules directory) once.
    fn open_rel(&mut self, rel: &std::path::Path) -> Result<Handle, FileError> {
        if !self.opened.contains_key(rel) {
            let opened = ModuleFile::open(self.tree.handle(), rel).map(|f| Handle(Arc::new(f)));
            self.opened.insert(rel.to_path_buf(), opened);
        }
        self.opened[rel].clone()
    }

    fn modinfo_of(&mut self, h: &Handle) -> Result<&ModInfo, FileError> {
        let key = &h.0.path;
        if !self.modinfo.contains_key(key) {
            let info = h.0.modinfo();
            self.modinfo.insert(key.clone(), info);
        }
        self.modinfo[key].as_ref().map_err(Clone::clone)
    }

    /// The `.modinfo` of the module called exactly `name`, if it has a file.
    pub fn modinfo_by_name(&mut self, name: &ModuleName) -> Result<Option<ModInfo>, ResolveError> {
        match self.by_name(name)? {
            Some(Target::File(_, h)) => Ok(Some(self.modinfo_of(&h)?.clone())),
            _ => Ok(None),
        }
    }

    /// Every module providing `query` (a name or alias), and where xtprobe
    /// looked when there is none.
    pub fn locate(&mut self, query: &str) -> Result<(Vec<Located>, Vec<String>), ResolveError> {
        let mut looked = Vec::new();
        let targets = self.lookup(query, &mut looked)?;
        let found = targets
            .into_iter()
            .map(|t| {
                let live = self.kernel.initstate(t.name()) == Some(InitState::Live);
                match t {
                    Target::File(module, h) => {
                        Located { module, path: Some(h.0.path.clone()), builtin: false, live }
                    }
                    Target::Builtin(module) => Located { module, path: None, builtin: true, live },
                    Target::Live(module) => Located { module, path: None, builtin: false, live: true },
                }
            })
            .collect();
        Ok((found, looked))
    }

    /// A module by exact (normalised) name.
    fn by_name(&mut self, name: &ModuleName) -> Result<Option<Target>, ResolveError> {
        if let Some(entry) = self.index.dep.as_ref().and_then(|d| d.get(name)) {
            let rel = self.tree.contain(&entry.path.clone())?;
            return Ok(Some(Target::File(name.clone(), self.open_rel(&rel)?)));
        }
        if self.index.builtin.contains(name) {
            return Ok(Some(Target::Builtin(name.clone())));
        }
        if let Some(rel) = self.tree.find(name)? {
            return Ok(Some(Target::File(name.clone(), self.open_rel(&rel)?)));
        }
        if self.kernel.initstate(name) == Some(InitState::Live) {
            return Ok(Some(Target::Live(name.clone())));
        }
        Ok(None)
    }

    /// Every module providing `query` (a name or an alias). As kmod: a
    /// modprobe.d alias first, then the module of that name, then the
    /// alias indexes; a module found through an alias is skipped if
    /// modprobe.d blacklists it.
    fn lookup(&mut self, query: &str, looked: &mut Vec<String>) -> Result<Vec<Target>, ResolveError> {
        let name = ModuleName::new(query);
        let config_aliases: Vec<(ModuleName, super::config::At)> = self
            .config
            .aliases_for(name.as_str())
            .into_iter()
            .map(|a| (a.module.clone(), a.at.clone()))
            .collect();
        if !config_aliases.is_empty() {
            let mut targets = Vec::new();
            for (m, at) in config_aliases {
                looked.push(format!("modprobe.d ({at}): alias {query} → {m}"));
                if let Some(t) = self.by_name(&m)? {
                    targets.push(t);
                }
            }
            return Ok(self.unblacklisted(targets, looked));
        }
        if let Some(t) = self.by_name(&name)? {
            if self.blacklist_names {
                return Ok(self.unblacklisted(vec![t], looked));
            }
            return Ok(vec![t]);
        }
        let dir = self.tree.dir().display().to_string();
        looked.push(match &self.index.dep {
            Some(_) => format!("{dir}/modules.dep: no entry for {name}"),
            None => format!("{dir}/modules.dep: absent"),
        });
        looked.push(if self.index.builtin_known {
            format!("{dir}/modules.builtin: {name} is not built in")
        } else {
            format!("{dir}/modules.builtin: absent (cannot tell built-ins)")
        });
        looked.push(format!("{dir}: no file {name}.ko, .ko.xz, .ko.zst or .ko.gz"));
        for w in self.tree.warnings() {
            looked.push(format!("{dir}: {w} (not searched)"));
        }
        looked.push(format!("/sys/module/{name}: not loaded"));

        let alias = normalize_alias(query);
        let mut targets = Vec::new();
        match self.index.alias_matches(&alias) {
            Some(modules) => {
                looked.push(format!(
                    "{dir}/modules.alias: {}",
                    if modules.is_empty() {
                        "no alias matches".to_string()
                    } else {
                        format!(
                            "matches {}",
                            modules.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(", ")
                        )
                    }
                ));
                for m in modules {
                    if let Some(t) = self.by_name(&m)? {
                        targets.push(t);
                    }
                }
            }
            None => {
                let found = self.scan_aliases(&alias)?;
                looked.push(format!(
                    "{dir}/modules.alias: absent; .modinfo aliases of the tree's modules: {}",
                    if found.is_empty() {
                        "no match".to_string()
                    } else {
                        found.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
                    }
                ));
                targets.extend(found.into_iter().map(|(n, h)| Target::File(n, h)));
            }
        }
        if targets.is_empty() {
            let builtin = self.index.builtin_alias_matches(&alias);
            looked.push(format!("{dir}/modules.builtin.modinfo: no built-in module has alias {alias}"));
            targets.extend(builtin.into_iter().map(Target::Builtin));
        }
        Ok(self.unblacklisted(targets, looked))
    }

    /// `targets` (found through an alias) without the modules modprobe.d
    /// blacklists, each dropped one named in `looked`.
    fn unblacklisted(&self, targets: Vec<Target>, looked: &mut Vec<String>) -> Vec<Target> {
        targets
            .into_iter()
            .filter(|t| match self.config.blacklisted(t.name()) {
                Some(b) => {
                    looked.push(format!(
                        "{}: blacklisted by {} (modprobe skips a blacklisted module the kernel asks for through an alias; \
                         `xtprobe load {}` loads it by name)",
                        t.name(),
                        b.at,
                        t.name()
                    ));
                    false
                }
                None => true,
            })
            .collect()
    }

    /// Without modules.alias: candidate modules by name (`xt_NAME` for the
    /// kernel's `ipt_NAME`, names starting with the alias), verified by
    /// their `.modinfo`; if none provides it, an alias index of the whole
    /// tree, built once from every module's `.modinfo` on all cores, then
    /// the hits verified the same way.
    fn scan_aliases(&mut self, alias: &str) -> Result<Vec<(ModuleName, Handle)>, ResolveError> {
        let all: Vec<(ModuleName, PathBuf)> =
            self.tree.all()?.iter().map(|(n, p)| (n.clone(), p.clone())).collect();
        let stripped = ["ipt_", "ip6t_", "arpt_", "ebt_"].iter().find_map(|p| alias.strip_prefix(p));
        let is_candidate = |n: &ModuleName| {
            n.as_str().starts_with(alias) || stripped.is_some_and(|s| n.as_str() == format!("xt_{s}"))
        };
        let candidates: Vec<(ModuleName, PathBuf)> =
            all.iter().filter(|(n, _)| is_candidate(n)).cloned().collect();
        let found = self.match_aliases(alias, candidates)?;
        if !found.is_empty() {
            return Ok(found);
        }
        if self.scanned.is_none() {
            self.scanned = Some(scan_tree(self.tree.handle(), &all)?);
        }
        let names = self.scanned.as_ref().map(|ix| ix.matches(alias)).unwrap_or_default();
        let hits: Vec<(ModuleName, PathBuf)> =
            names.into_iter().filter_map(|n| all.iter().find(|(m, _)| *m == n).cloned()).collect();
        self.match_aliases(alias, hits)
    }

    /// The modules among `modules` whose `.modinfo` has an alias matching
    /// `alias`. Each is read without keeping it open (a scan may touch
    /// thousands); the ones that match are opened for good.
    fn match_aliases(
        &mut self,
        alias: &str,
        modules: Vec<(ModuleName, PathBuf)>,
    ) -> Result<Vec<(ModuleName, Handle)>, ResolveError> {
        let mut found = Vec::new();
        for (name, rel) in modules {
            let provides = match self.modinfo_at(&rel) {
                Ok(info) => info.aliases.iter().any(|a| super::glob::matches(&normalize_alias(a), alias)),
                // Out of descriptors or memory is not "does not provide it".
                Err(e) if scan::exhausted(&e) => return Err(e.into()),
                // A module that cannot be read does not provide the alias;
                // the error surfaces if the module itself is ever needed.
                Err(_) => false,
            };
            if provides {
                found.push((name, self.open_rel(&rel)?));
            }
        }
        Ok(found)
    }

    /// The `.modinfo` of `rel`, read once; the file is not kept open.
    fn modinfo_at(&mut self, rel: &std::path::Path) -> Result<&ModInfo, FileError> {
        let key = self.tree.handle().shown(rel);
        if !self.modinfo.contains_key(&key) {
            let info = match self.opened.get(rel) {
                Some(Ok(h)) => h.0.modinfo(),
                _ => ModuleFile::open(self.tree.handle(), rel).and_then(|f| f.modinfo()),
            };
            self.modinfo.insert(key.clone(), info);
        }
        self.modinfo[&key].as_ref().map_err(Clone::clone)
    }

    /// Dependencies of a module file: (hard, soft pre, soft post, source).
    #[allow(clippy::type_complexity)]
    fn deps(
        &mut self,
        name: &ModuleName,
        h: &Handle,
    ) -> Result<(Vec<ModuleName>, Vec<String>, Vec<String>, DepSource), ResolveError> {
        let from_dep = self
            .index
            .dep
            .as_ref()
            .and_then(|d| d.get(name))
            .map(|e| e.closure.iter().filter_map(|p| ModuleName::from_path(p)).collect::<Vec<_>>());
        let (hard, source) = match from_dep {
            Some(hard) => (hard, DepSource::ModulesDep),
            None => (self.modinfo_of(h)?.depends.clone(), DepSource::Modinfo),
        };
        // modprobe.d and modules.softdep are one sorted list of config
        // files ([`ModprobeConfig::read`]): the first line for the module wins.
        let (pre, post) = match (self.config.softdep_for(name), &self.index.softdeps) {
            (Some(s), _) => (s.pre.clone(), s.post.clone()),
            (None, Some(s)) if self.config.files.is_empty() => {
                s.get(name).map(|s| (s.pre.clone(), s.post.clone())).unwrap_or_default()
            }
            (None, Some(_)) => (Vec::new(), Vec::new()),
            (None, None) => {
                let info = self.modinfo_of(h)?;
                (info.softdep_pre.clone(), info.softdep_post.clone())
            }
        };
        Ok((hard, pre, post, source))
    }

    /// The plan for `requests`, in load order.
    pub fn plan(&mut self, requests: &[Request]) -> Result<Plan, ResolveError> {
        let mut nodes: BTreeMap<ModuleName, Node> = BTreeMap::new();
        let mut warnings: Vec<String> = Vec::new();
        let mut queue: Vec<Target> = Vec::new();

        for req in requests {
            let mut looked = Vec::new();
            let targets = self.lookup(&req.query, &mut looked)?;
            if targets.is_empty() {
                return Err(ResolveError::NotFound { query: req.query.clone(), looked });
            }
            let several = targets.len() > 1;
            for t in targets {
                let node = nodes.entry(t.name().clone()).or_insert_with(|| Node::new(t.clone()));
                node.requested = true;
                if several {
                    node.alternative_for.get_or_insert_with(|| req.query.clone());
                }
                if !req.params.is_empty() {
                    node.params = req.params.clone();
                }
                queue.push(t);
            }
        }

        let mut expanded: BTreeSet<ModuleName> = BTreeSet::new();
        while let Some(target) = queue.pop() {
            let name = target.name().clone();
            // Built-in and loaded modules need nothing; files are expanded once.
            let Target::File(_, handle) = &target else { continue };
            if !expanded.insert(name.clone()) {
                continue;
            }
            let (hard, pre, post, source) = self.deps(&name, handle)?;
            let mut hard_set = BTreeSet::new();
            for dep in hard {
                if dep == name {
                    continue;
                }
                let t = match self.by_name(&dep)? {
                    Some(t) => t,
                    None => {
                        return Err(ResolveError::DependencyMissing {
                            module: name.clone(),
                            dependency: dep,
                            dir: self.tree.dir().to_path_buf(),
                        });
                    }
                };
                hard_set.insert(dep.clone());
                if let std::collections::btree_map::Entry::Vacant(e) = nodes.entry(dep) {
                    e.insert(Node::new(t.clone()));
                    queue.push(t);
                }
            }
            let pre_set = self.soft_targets(&name, pre, &mut queue, &mut nodes, &mut warnings)?;
            let post_set = self.soft_targets(&name, post, &mut queue, &mut nodes, &mut warnings)?;
            let node = nodes.get_mut(&name).expect("inserted before queueing");
            node.hard = hard_set;
            node.soft_pre = pre_set;
            node.soft_post = post_set;
            node.deps_from = source;
        }

        // What the tree walk (if any lookup needed it) could not read.
        warnings.extend(self.tree.warnings().iter().cloned());
        let order = order(&nodes, &mut warnings)?;
        let mut required: BTreeSet<ModuleName> = BTreeSet::new();
        let mut stack: Vec<ModuleName> =
            nodes.iter().filter(|(_, n)| n.requested).map(|(k, _)| k.clone()).collect();
        while let Some(n) = stack.pop() {
            if required.insert(n.clone()) {
                stack.extend(nodes[&n].hard.iter().cloned());
            }
        }
        let kernel_compression = self.kernel.compression();
        let mut steps = Vec::new();
        for (name, needs) in order {
            let node = &nodes[&name];
            // modprobe.d's options (and the command line's), then the user's.
            let config_opts: Vec<&str> = self
                .config
                .options_for(&name, node.alternative_for.as_deref())
                .into_iter()
                .map(|o| o.options.as_str())
                .collect();
            let params = if config_opts.is_empty() {
                node.params.clone()
            } else {
                super::config::merge_params(&config_opts, &node.params)
            };
            let (action, file) = match &node.target {
                Target::Builtin(_) => (Action::Builtin, None),
                Target::Live(_) => (Action::Live, None),
                Target::File(..) if self.kernel.initstate(&name) == Some(InitState::Live) => {
                    (Action::Live, None)
                }
                Target::File(_, h) => (Action::Load, Some(h.clone())),
            };
            if action == Action::Load {
                if let Some(i) = self.config.install_for(&name) {
                    return Err(ResolveError::Forbidden {
                        module: name.clone(),
                        pattern: i.pattern.clone(),
                        command: i.command.clone(),
                        at: i.at.clone(),
                    });
                }
            }
            let (method, compression) = match &file {
                Some(h) => {
                    let c = h.0.compression()?;
                    let m = match c {
                        Compression::None => Method::Finit,
                        c if !self.force_userspace && kernel_compression == Some(c) => {
                            Method::FinitCompressed
                        }
                        _ => Method::Init,
                    };
                    (Some(m), Some(c))
                }
                None => (None, None),
            };
            steps.push(Step {
                module: name.clone(),
                path: file.as_ref().map(|h| h.0.path.clone()),
                file,
                action,
                method,
                compression,
                requested: node.requested,
                required: required.contains(&name),
                params,
                deps_from: node.deps_from,
                needs,
                hard_needs: node.hard.iter().cloned().collect(),
                alternative_for: node.alternative_for.clone(),
            });
        }
        Ok(Plan { steps, warnings })
    }
}

impl Resolver {
    /// Resolves soft dependencies of `name`; missing ones are warnings.
    fn soft_targets(
        &mut self,
        name: &ModuleName,
        list: Vec<String>,
        queue: &mut Vec<Target>,
        nodes: &mut BTreeMap<ModuleName, Node>,
        warnings: &mut Vec<String>,
    ) -> Result<BTreeSet<ModuleName>, ResolveError> {
        let mut out = BTreeSet::new();
        if list.len() > MAX_SOFTDEPS {
            warnings.push(format!(
                "{name}: {} soft dependencies; only the first {MAX_SOFTDEPS} are followed",
                list.len()
            ));
        }
        for q in list.into_iter().take(MAX_SOFTDEPS) {
            // A name no module or alias can have: a soft dependency only.
            if q.is_empty() || q.len() > MAX_SOFTDEP_NAME {
                warnings.push(format!("{name}: a soft dependency {} bytes long is ignored", q.len()));
                continue;
            }
            let targets = match self.lookups.get(&q) {
                Some(t) => t.clone(),
                None => {
                    let t = self.lookup(&q, &mut Vec::new())?;
                    self.lookups.insert(q.clone(), t.clone());
                    t
                }
            };
            if targets.is_empty() {
                warnings.push(format!("{name}: soft dependency {q} not found; continuing without it"));
            }
            for t in targets {
                let n = t.name().clone();
                if &n == name {
                    continue;
                }
                out.insert(n.clone());
                if let std::collections::btree_map::Entry::Vacant(e) = nodes.entry(n) {
                    e.insert(Node::new(t.clone()));
                    queue.push(t);
                }
            }
        }
        Ok(out)
    }
}

impl Node {
    fn new(target: Target) -> Self {
        Self {
            target,
            alternative_for: None,
            hard: BTreeSet::new(),
            soft_pre: BTreeSet::new(),
            soft_post: BTreeSet::new(),
            deps_from: DepSource::None,
            requested: false,
            params: String::new(),
        }
    }
}

/// An alias index of every module in `modules`, from each one's `.modinfo`
/// ([`scan::modinfos`]). A module that cannot be read provides nothing;
/// running out of descriptors or memory is an error.
fn scan_tree(dir: &Dir, modules: &[(ModuleName, PathBuf)]) -> Result<AliasIndex, ResolveError> {
    let mut pairs = Vec::new();
    for (i, r) in scan::modinfos(dir, modules).into_iter().enumerate() {
        match r {
            Ok(info) => pairs.extend(
                info.aliases
                    .into_iter()
                    .filter(|a| a.len() <= MAX_ALIAS_PATTERN)
                    .map(|a| (normalize_alias(&a), modules[i].0.clone())),
            ),
            Err(e) if scan::exhausted(&e) => return Err(e.into()),
            Err(_) => {}
        }
    }
    Ok(AliasIndex::new(pairs))
}

/// Orders the nodes: rejects hard cycles, drops soft edges that close a
/// cycle (with a warning), and sorts by (height, name). Returns each
/// module with what must be loaded before it. Linear in nodes + edges,
/// and never recursive, so a hostile index cannot blow time, memory or
/// the stack.
fn order(
    nodes: &BTreeMap<ModuleName, Node>,
    warnings: &mut Vec<String>,
) -> Result<Vec<(ModuleName, Vec<ModuleName>)>, ResolveError> {
    let names: Vec<&ModuleName> = nodes.keys().collect();
    let index: BTreeMap<&ModuleName, usize> = names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let idx = |n: &ModuleName| index.get(n).copied();
    // before[i]: nodes that must come before node i.
    let hard: Vec<Vec<usize>> = nodes.values().map(|n| n.hard.iter().filter_map(idx).collect()).collect();

    // Hard cycles are errors.
    let comp = graph::strongly_connected(&hard);
    if let Some(cycle) = graph::a_cycle(&hard, &comp) {
        return Err(ResolveError::Cycle(cycle.into_iter().map(|i| names[i].clone()).collect()));
    }

    // Soft edges (first, then): pre softdeps of a module, and the module
    // before each of its post softdeps.
    let mut soft: Vec<(usize, usize)> = Vec::new();
    for (i, node) in nodes.values().enumerate() {
        soft.extend(node.soft_pre.iter().filter_map(idx).map(|p| (p, i)));
        soft.extend(node.soft_post.iter().filter_map(idx).map(|p| (i, p)));
    }
    let mut before = hard.clone();
    for &(first, then) in &soft {
        before[then].push(first);
    }
    // A soft edge inside a strongly connected component closes a cycle
    // (the hard edges alone have none): drop every such edge.
    let comp = graph::strongly_connected(&before);
    let mut dropped = BTreeSet::new();
    for &(first, then) in &soft {
        if (first == then || comp[first] == comp[then]) && dropped.insert((first, then)) {
            warnings.push(format!(
                "ignoring soft dependency {} before {}: it would form a cycle",
                names[first], names[then]
            ));
        }
    }
    if !dropped.is_empty() {
        before = hard;
        for &(first, then) in &soft {
            if !dropped.contains(&(first, then)) {
                before[then].push(first);
            }
        }
    }
    for b in &mut before {
        b.sort_unstable();
        b.dedup();
    }
    let height = graph::heights(&before);
    let mut order: Vec<usize> = (0..names.len()).collect();
    order.sort_by(|&a, &b| height[a].cmp(&height[b]).then_with(|| names[a].cmp(names[b])));
    Ok(order
        .into_iter()
        .map(|i| {
            let mut needs: Vec<ModuleName> = before[i].iter().map(|&j| names[j].clone()).collect();
            needs.sort();
            (names[i].clone(), needs)
        })
        .collect())
}

/// Graph algorithms on adjacency lists (`adj[v]` = the nodes `v` points
/// to), iterative so that no input can overflow the stack.
pub mod graph {
    const UNSEEN: usize = usize::MAX;

    /// Tarjan's strongly connected components: `comp[v]` for every node.
    pub fn strongly_connected(adj: &[Vec<usize>]) -> Vec<usize> {
        let n = adj.len();
        let (mut index, mut low, mut on_stack) = (vec![UNSEEN; n], vec![0; n], vec![false; n]);
        let mut comp = vec![UNSEEN; n];
        let (mut stack, mut next, mut count) = (Vec::new(), 0, 0);
        for start in 0..n {
            if index[start] != UNSEEN {
                continue;
            }
            let mut calls: Vec<(usize, usize)> = vec![(start, 0)];
            index[start] = next;
            low[start] = next;
            next += 1;
            stack.push(start);
            on_stack[start] = true;
            while let Some(&(v, i)) = calls.last() {
                if let Some(&w) = adj[v].get(i) {
                    calls.last_mut().expect("non-empty").1 += 1;
                    if index[w] == UNSEEN {
                        index[w] = next;
                        low[w] = next;
                        next += 1;
                        stack.push(w);
                        on_stack[w] = true;
                        calls.push((w, 0));
                    } else if on_stack[w] {
                        low[v] = low[v].min(index[w]);
                    }
                    continue;
                }
                calls.pop();
                if let Some(&(u, _)) = calls.last() {
                    low[u] = low[u].min(low[v]);
                }
                if low[v] == index[v] {
                    while let Some(w) = stack.pop() {
                        on_stack[w] = false;
                        comp[w] = count;
                        if w == v {
                            break;
                        }
                    }
                    count += 1;
                }
            }
        }
        comp
    }

    /// A cycle, if any component has more than one node or a node points
    /// to itself: the nodes in order, the first repeated at the end.
    pub fn a_cycle(adj: &[Vec<usize>], comp: &[usize]) -> Option<Vec<usize>> {
        let mut size = vec![0usize; adj.len()];
        for &c in comp {
            size[c] += 1;
        }
        let start = (0..adj.len()).find(|&v| size[comp[v]] > 1 || adj[v].contains(&v))?;
        // Follow edges that stay in the component until a node repeats.
        let mut path = vec![start];
        let mut at = vec![usize::MAX; adj.len()];
        at[start] = 0;
        let mut v = start;
        loop {
            let w = *adj[v].iter().find(|&&w| comp[w] == comp[start])?;
            if at[w] != usize::MAX {
                let mut cycle = path[at[w]..].to_vec();
                cycle.push(w);
                return Some(cycle);
            }
            at[w] = path.len();
            path.push(w);
            v = w;
        }
    }

    /// The length of the longest path from each node (0 for a node that
    /// points nowhere). On a cycle, the edge that closes it counts as
    /// pointing nowhere (the plan breaks cycles first; `index` writes
    /// whatever the tree holds).
    pub fn heights(adj: &[Vec<usize>]) -> Vec<usize> {
        let n = adj.len();
        let mut height = vec![UNSEEN; n];
        let mut busy = vec![false; n];
        for start in 0..n {
            if height[start] != UNSEEN {
                continue;
            }
            let mut calls: Vec<(usize, usize)> = vec![(start, 0)];
            busy[start] = true;
            while let Some(&(v, i)) = calls.last() {
                if let Some(&w) = adj[v].get(i) {
                    calls.last_mut().expect("non-empty").1 += 1;
                    if height[w] == UNSEEN && !busy[w] {
                        busy[w] = true;
                        calls.push((w, 0));
                    }
                    continue;
                }
                calls.pop();
                height[v] = adj[v]
                    .iter()
                    .map(|&w| if height[w] == UNSEEN { 0 } else { height[w] + 1 })
                    .max()
                    .unwrap_or(0);
            }
        }
        height
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn components_cycles_and_heights() {
            // 0 -> 1 -> 2, 3 -> 4 -> 3
            let adj = vec![vec![1], vec![2], vec![], vec![4], vec![3]];
            let c = strongly_connected(&adj);
            assert!(c[0] != c[1] && c[1] != c[2] && c[3] == c[4]);
            assert_eq!(a_cycle(&adj, &c), Some(vec![3, 4, 3]));
            let dag = vec![vec![1, 2], vec![2], vec![]];
            assert_eq!(a_cycle(&dag, &strongly_connected(&dag)), None);
            assert_eq!(heights(&dag), vec![2, 1, 0]);
            // The transitive closure has the same heights.
            let closure = vec![vec![1, 2], vec![2], vec![]];
            assert_eq!(heights(&closure), heights(&dag));
            assert_eq!(a_cycle(&[vec![0]], &strongly_connected(&[vec![0]])), Some(vec![0, 0]));
        }

        #[test]
        fn a_chain_of_a_million_is_linear_and_does_not_recurse() {
            let n = 1_000_000;
            let adj: Vec<Vec<usize>> = (0..n).map(|i| if i + 1 < n { vec![i + 1] } else { vec![] }).collect();
            let c = strongly_connected(&adj);
            assert_eq!(a_cycle(&adj, &c), None);
            assert_eq!(heights(&adj)[0], n - 1);
        }
    }
}
