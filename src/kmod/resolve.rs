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
//! the size of their dependency closure, then by name — a topological order
//! (a dependency's closure is a strict subset of its user's) that comes out
//! the same whether the closure was read from modules.dep or rebuilt from
//! `.modinfo`, so a tree with and without modules.dep gives one plan.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::Serialize;

use super::compress::Compression;
use super::file::{self, FileError};
use super::index::{Index, IndexError};
use super::modinfo::ModInfo;
use super::name::{ModuleName, normalize_alias};
use super::state::{InitState, KernelModules};
use super::tree::{ModuleTree, TreeError};

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
    pub path: Option<PathBuf>,
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
    /// The modules it needs, directly or not (hard dependencies and `pre:`
    /// soft dependencies).
    pub needs: Vec<ModuleName>,
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
}

/// A module found for a name or alias, without its dependencies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Located {
    /// The module.
    pub module: ModuleName,
    /// Its file, when it has one in the tree.
    pub path: Option<PathBuf>,
    /// Listed as built into the kernel.
    pub builtin: bool,
    /// Loaded right now.
    pub live: bool,
}

/// What a lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    File(ModuleName, PathBuf),
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
    modinfo: BTreeMap<PathBuf, ModInfo>,
    /// Decompress in userspace even when the kernel could.
    pub force_userspace: bool,
}

impl Resolver {
    /// Opens `dir` and reads its index files.
    pub fn open(dir: &std::path::Path, kernel: KernelModules) -> Result<Self, ResolveError> {
        let tree = ModuleTree::open(dir)?;
        let index = Index::load(dir)?;
        Ok(Self { tree, index, kernel, modinfo: BTreeMap::new(), force_userspace: false })
    }

    /// The index files read.
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// The modules directory.
    pub fn dir(&self) -> &std::path::Path {
        self.tree.dir()
    }

    /// Whether `name` is listed as built in.
    pub fn is_builtin(&self, name: &ModuleName) -> bool {
        self.index.builtin.contains(name)
    }

    /// The file of the module called exactly `name`, if the tree has one.
    pub fn module_file(&mut self, name: &ModuleName) -> Result<Option<PathBuf>, ResolveError> {
        match self.by_name(name)? {
            Some(Target::File(_, p)) => Ok(Some(p)),
            _ => Ok(None),
        }
    }

    fn modinfo_of(&mut self, path: &PathBuf) -> Result<&ModInfo, ResolveError> {
        if !self.modinfo.contains_key(path) {
            let info = file::modinfo(path)?;
            self.modinfo.insert(path.clone(), info);
        }
        Ok(&self.modinfo[path])
    }

    /// The module's `.modinfo` (read once).
    pub fn modinfo(&mut self, path: &PathBuf) -> Result<ModInfo, ResolveError> {
        self.modinfo_of(path).cloned()
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
                    Target::File(module, path) => Located { module, path: Some(path), builtin: false, live },
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
            let path = entry.path.clone();
            return Ok(Some(Target::File(name.clone(), self.tree.contain(&path)?)));
        }
        if self.index.builtin.contains(name) {
            return Ok(Some(Target::Builtin(name.clone())));
        }
        if let Some(path) = self.tree.find(name)? {
            return Ok(Some(Target::File(name.clone(), self.tree.contain(&path)?)));
        }
        if self.kernel.initstate(name) == Some(InitState::Live) {
            return Ok(Some(Target::Live(name.clone())));
        }
        Ok(None)
    }

    /// Every module providing `query` (a name or an alias).
    fn lookup(&mut self, query: &str, looked: &mut Vec<String>) -> Result<Vec<Target>, ResolveError> {
        let name = ModuleName::new(query);
        if let Some(t) = self.by_name(&name)? {
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
                        format!("matches {modules:?}")
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
                    if found.is_empty() { "no match".to_string() } else { format!("{found:?}") }
                ));
                targets.extend(found.into_iter().map(|(n, p)| Target::File(n, p)));
            }
        }
        if targets.is_empty() {
            let builtin = self.index.builtin_alias_matches(&alias);
            looked.push(format!("{dir}/modules.builtin.modinfo: no built-in module has alias {alias}"));
            targets.extend(builtin.into_iter().map(Target::Builtin));
        }
        Ok(targets)
    }

    /// Without modules.alias: candidate modules by name, verified by their
    /// `.modinfo`; every module only if no candidate matches.
    fn scan_aliases(&mut self, alias: &str) -> Result<Vec<(ModuleName, PathBuf)>, ResolveError> {
        let all: Vec<(ModuleName, PathBuf)> =
            self.tree.all()?.iter().map(|(n, p)| (n.clone(), p.clone())).collect();
        let stripped = ["ipt_", "ip6t_", "arpt_", "ebt_"].iter().find_map(|p| alias.strip_prefix(p));
        let is_candidate = |n: &ModuleName| {
            n.as_str().starts_with(alias) || stripped.is_some_and(|s| n.as_str() == format!("xt_{s}"))
        };
        let (candidates, rest): (Vec<_>, Vec<_>) = all.into_iter().partition(|(n, _)| is_candidate(n));
        let mut found = self.match_aliases(alias, candidates)?;
        if found.is_empty() {
            found = self.match_aliases(alias, rest)?;
        }
        Ok(found)
    }

    fn match_aliases(
        &mut self,
        alias: &str,
        modules: Vec<(ModuleName, PathBuf)>,
    ) -> Result<Vec<(ModuleName, PathBuf)>, ResolveError> {
        let mut found = Vec::new();
        for (name, path) in modules {
            // A module that cannot be read does not provide the alias; the
            // error surfaces if the module itself is ever needed.
            let Ok(info) = self.modinfo_of(&path) else { continue };
            if info.aliases.iter().any(|a| super::glob::matches(&normalize_alias(a), alias)) {
                found.push((name, path));
            }
        }
        Ok(found)
    }

    /// Dependencies of a module file: (hard, soft pre, soft post, source).
    #[allow(clippy::type_complexity)]
    fn deps(
        &mut self,
        name: &ModuleName,
        path: &PathBuf,
    ) -> Result<(Vec<ModuleName>, Vec<String>, Vec<String>, DepSource), ResolveError> {
        let from_dep = self
            .index
            .dep
            .as_ref()
            .and_then(|d| d.get(name))
            .map(|e| e.closure.iter().filter_map(|p| ModuleName::from_path(p)).collect::<Vec<_>>());
        let (hard, source) = match from_dep {
            Some(hard) => (hard, DepSource::ModulesDep),
            None => (self.modinfo_of(path)?.depends.clone(), DepSource::Modinfo),
        };
        let (pre, post) = match &self.index.softdeps {
            Some(s) => s.get(name).map(|s| (s.pre.clone(), s.post.clone())).unwrap_or_default(),
            None => {
                let info = self.modinfo_of(path)?;
                (info.softdep_pre.clone(), info.softdep_post.clone())
            }
        };
        Ok((hard, pre, post, source))
    }

    /// The plan for `requests`, in load order.
    pub fn plan(&mut self, requests: &[Request]) -> Result<Plan, ResolveError> {
        let mut nodes: BTreeMap<ModuleName, Node> = BTreeMap::new();
        let mut warnings = Vec::new();
        let mut queue: Vec<Target> = Vec::new();

        for req in requests {
            let mut looked = Vec::new();
            let targets = self.lookup(&req.query, &mut looked)?;
            if targets.is_empty() {
                return Err(ResolveError::NotFound { query: req.query.clone(), looked });
            }
            for t in targets {
                let node = nodes.entry(t.name().clone()).or_insert_with(|| Node::new(t.clone()));
                node.requested = true;
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
            let Target::File(_, path) = &target else { continue };
            if !expanded.insert(name.clone()) {
                continue;
            }
            let (hard, pre, post, source) = self.deps(&name, path)?;
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
            let (action, path) = match &node.target {
                Target::Builtin(_) => (Action::Builtin, None),
                Target::Live(_) => (Action::Live, None),
                Target::File(..) if self.kernel.initstate(&name) == Some(InitState::Live) => {
                    (Action::Live, None)
                }
                Target::File(_, p) => (Action::Load, Some(p.clone())),
            };
            let (method, compression) = match &path {
                Some(p) => {
                    let c = file::sniff(p)?;
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
                path,
                action,
                method,
                compression,
                requested: node.requested,
                required: required.contains(&name),
                params: node.params.clone(),
                deps_from: node.deps_from,
                needs,
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
        for q in list {
            let targets = self.lookup(&q, &mut Vec::new())?;
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
            hard: BTreeSet::new(),
            soft_pre: BTreeSet::new(),
            soft_post: BTreeSet::new(),
            deps_from: DepSource::None,
            requested: false,
            params: String::new(),
        }
    }
}

/// Orders the nodes: rejects hard cycles, drops soft edges that would close
/// a cycle (with a warning), and sorts by (closure size, name).
fn order(
    nodes: &BTreeMap<ModuleName, Node>,
    warnings: &mut Vec<String>,
) -> Result<Vec<(ModuleName, Vec<ModuleName>)>, ResolveError> {
    // Hard cycles are errors: find one with a depth-first search.
    fn visit<'a>(
        n: &'a ModuleName,
        nodes: &'a BTreeMap<ModuleName, Node>,
        state: &mut BTreeMap<&'a ModuleName, u8>,
        path: &mut Vec<ModuleName>,
    ) -> Result<(), ResolveError> {
        match state.get(n) {
            Some(2) => return Ok(()),
            Some(1) => {
                let start = path.iter().position(|p| p == n).unwrap_or(0);
                let mut cycle = path[start..].to_vec();
                cycle.push(n.clone());
                return Err(ResolveError::Cycle(cycle));
            }
            _ => {}
        }
        state.insert(n, 1);
        path.push(n.clone());
        if let Some(node) = nodes.get(n) {
            for d in &node.hard {
                visit(d, nodes, state, path)?;
            }
        }
        path.pop();
        state.insert(n, 2);
        Ok(())
    }
    let mut state = BTreeMap::new();
    for n in nodes.keys() {
        visit(n, nodes, &mut state, &mut Vec::new())?;
    }

    // Edges "a must come before b": hard deps and pre softdeps of b, and b
    // for each post softdep of b.
    let mut before: BTreeMap<ModuleName, BTreeSet<ModuleName>> =
        nodes.iter().map(|(n, node)| (n.clone(), node.hard.clone())).collect();
    let closure_of = |before: &BTreeMap<ModuleName, BTreeSet<ModuleName>>, start: &ModuleName| {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<ModuleName> = before.get(start).into_iter().flatten().cloned().collect();
        while let Some(x) = stack.pop() {
            if seen.insert(x.clone()) {
                stack.extend(before.get(&x).into_iter().flatten().cloned());
            }
        }
        seen
    };
    let mut soft_edges: Vec<(ModuleName, ModuleName)> = Vec::new(); // (first, then)
    for (n, node) in nodes {
        soft_edges.extend(node.soft_pre.iter().map(|p| (p.clone(), n.clone())));
        soft_edges.extend(node.soft_post.iter().map(|p| (n.clone(), p.clone())));
    }
    for (first, then) in soft_edges {
        if first == then || closure_of(&before, &first).contains(&then) {
            warnings.push(format!("ignoring soft dependency {first} before {then}: it would form a cycle"));
            continue;
        }
        before.entry(then).or_default().insert(first);
    }
    let mut out: Vec<(ModuleName, Vec<ModuleName>)> =
        nodes.keys().map(|n| (n.clone(), closure_of(&before, n).into_iter().collect())).collect();
    out.sort_by(|(a, ca), (b, cb)| ca.len().cmp(&cb.len()).then_with(|| a.cmp(b)));
    Ok(out)
}
