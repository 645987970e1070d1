//! The kernel list (`vm-images/kernels.toml`) and getting every kernel in
//! it ready: built, fetched, or found in the cache. The result is written
//! to `<cache>/kernels.json` for the test suite and the matrix to read.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::cache::{self, Result};
use crate::distro::{self, DistroKernel, DistroSpec};
use crate::kbuild::{self, TinyKernel, TinySpec};
use crate::owners;
use crate::qemu::Machine;

/// `vm-images/kernels.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KernelList {
    /// The list's name in the cache's record of owners ([`crate::owners`]);
    /// by default its file's canonical path. Give one when several clones
    /// of a repository (CI checkouts) share one cache.
    #[serde(default)]
    pub name: Option<String>,
    /// Kernels built from source.
    #[serde(default)]
    pub tiny: Vec<TinySpec>,
    /// Debian's kernels.
    #[serde(default)]
    pub debian: Vec<DistroSpec>,
    /// Kernels someone else built: an image and, optionally, its modules.
    #[serde(default)]
    pub prebuilt: Vec<PrebuiltSpec>,
    /// Who this list is in the cache's record of owners
    /// ([`crate::owners`]): its `name`, else its file's canonical path.
    #[serde(skip)]
    pub origin: String,
}

/// A kernel built elsewhere (a user's own): `bzimage` and `modules`
/// (`lib/modules/<release>`, with modules.dep) relative to the list's file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrebuiltSpec {
    /// The name the matrix uses.
    pub name: String,
    /// The kernel image.
    pub bzimage: PathBuf,
    /// Its modules directory, if it has modules; its name is the release.
    pub modules: Option<PathBuf>,
    /// Boot it as a small kernel (256 MiB, 60 s) rather than a distribution one.
    #[serde(default = "yes")]
    pub small: bool,
    /// Its architecture (default x86_64).
    #[serde(default)]
    pub arch: crate::arch::Arch,
}

fn yes() -> bool {
    true
}

/// A prebuilt kernel, checked and ready.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PrebuiltKernel {
    /// The name the matrix uses.
    pub name: String,
    /// The kernel image.
    pub bzimage: PathBuf,
    /// The modules directory (empty when it has none).
    pub modules: PathBuf,
    /// `uname -r`, from the modules directory's name (`unknown` without one).
    pub release: String,
    /// Booted like a tiny kernel.
    pub small: bool,
    /// Its architecture.
    #[serde(default)]
    pub arch: crate::arch::Arch,
}

/// Checks a prebuilt kernel's files, relative to `base`.
pub fn prebuilt(spec: &PrebuiltSpec, base: &Path) -> Result<PrebuiltKernel> {
    let image = base.join(&spec.bzimage);
    if !image.is_file() {
        return Err(format!("{}: kernel image {} is not a file", spec.name, image.display()));
    }
    let (modules, release) = match &spec.modules {
        Some(m) => {
            let dir =
                base.join(m).canonicalize().map_err(|e| format!("{}: {}: {e}", spec.name, m.display()))?;
            let release = dir.file_name().and_then(|n| n.to_str()).unwrap_or("unknown").to_string();
            (dir, release)
        }
        None => (PathBuf::new(), "unknown".to_string()),
    };
    let bzimage = image.canonicalize().map_err(|e| e.to_string())?;
    Ok(PrebuiltKernel {
        name: spec.name.clone(),
        bzimage,
        modules,
        release,
        small: spec.small,
        arch: spec.arch,
    })
}

impl KernelList {
    /// Every kernel name.
    pub fn names(&self) -> Vec<String> {
        self.tiny
            .iter()
            .map(|t| t.name.clone())
            .chain(self.debian.iter().map(|d| d.name.clone()))
            .chain(self.prebuilt.iter().map(|p| p.name.clone()))
            .collect()
    }

    /// Reads and checks the list: names must be unique.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut list: KernelList = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        list.origin = match &list.name {
            Some(n) if !n.trim().is_empty() => n.clone(),
            Some(_) => return Err(format!("{}: name is empty", path.display())),
            None => path.canonicalize().unwrap_or_else(|_| path.to_path_buf()).to_string_lossy().into_owned(),
        };
        let mut names: Vec<&str> = list
            .tiny
            .iter()
            .map(|t| t.name.as_str())
            .chain(list.debian.iter().map(|d| d.name.as_str()))
            .chain(list.prebuilt.iter().map(|p| p.name.as_str()))
            .collect();
        names.sort();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(format!("{}: kernel name {} appears twice", path.display(), w[0]));
        }
        Ok(list)
    }
}

/// A kernel ready to boot.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Kernel {
    /// Built from source.
    Tiny(TinyKernel),
    /// Debian's.
    Debian(DistroKernel),
    /// Someone else's.
    Prebuilt(PrebuiltKernel),
}

impl Kernel {
    /// The matrix name.
    pub fn name(&self) -> &str {
        match self {
            Kernel::Tiny(k) => &k.name,
            Kernel::Debian(k) => &k.name,
            Kernel::Prebuilt(k) => &k.name,
        }
    }

    /// Its architecture.
    pub fn arch(&self) -> crate::arch::Arch {
        match self {
            Kernel::Tiny(k) => k.arch,
            Kernel::Debian(k) => k.arch,
            Kernel::Prebuilt(k) => k.arch,
        }
    }

    /// What to boot and on which machine: an arm64 kernel's Image on virt;
    /// a tiny kernel's vmlinux on microvm (PVH entry) when it has one; a
    /// prebuilt image as its first bytes say (a vmlinux there is booted the
    /// same way); else the bzImage on the PC.
    pub fn boot_image(&self) -> (&Path, Machine) {
        match self {
            k if k.arch() == crate::arch::Arch::Aarch64 => (k.bzimage(), Machine::Virt),
            Kernel::Tiny(TinyKernel { vmlinux: Some(v), .. }) => (v, Machine::Microvm),
            Kernel::Prebuilt(k) => (&k.bzimage, Machine::for_file(&k.bzimage)),
            _ => (self.bzimage(), Machine::Pc),
        }
    }

    /// The image to boot.
    pub fn bzimage(&self) -> &Path {
        match self {
            Kernel::Tiny(k) => &k.bzimage,
            Kernel::Debian(k) => &k.bzimage,
            Kernel::Prebuilt(k) => &k.bzimage,
        }
    }

    /// `uname -r`.
    pub fn release(&self) -> &str {
        match self {
            Kernel::Tiny(k) => &k.release,
            Kernel::Debian(k) => &k.release,
            Kernel::Prebuilt(k) => &k.release,
        }
    }

    /// The modules directory with modules.dep.
    pub fn modules(&self) -> &Path {
        match self {
            Kernel::Tiny(k) => &k.modules,
            Kernel::Debian(k) => &k.modules_depmod,
            Kernel::Prebuilt(k) => &k.modules,
        }
    }

    /// Whether it boots as a small kernel (256 MiB, 60 s) or a distribution one (512 MiB, 180 s).
    pub fn small(&self) -> bool {
        match self {
            Kernel::Tiny(_) => true,
            Kernel::Debian(_) => false,
            Kernel::Prebuilt(k) => k.small,
        }
    }
}

/// Where the list of ready kernels is recorded.
pub fn index_path() -> PathBuf {
    cache::root().join("kernels.json")
}

/// Builds and fetches the kernels of `list` that `wanted` accepts (by name,
/// and `tiny`/`debian`/`prebuilt` for a whole kind), one at a time; records
/// the cached ones in [`index_path`] and returns them all.
pub fn prepare(
    list: &KernelList,
    fragments: &Path,
    wanted: impl Fn(&str, &str) -> bool,
) -> Result<Vec<Kernel>> {
    // One run builds at a time: another waits here.
    let _lock = cache::lock()?;
    let mut out = Vec::new();
    let root = cache::root();
    let mut owned = Vec::new();
    for spec in list.tiny.iter().filter(|s| wanted("tiny", &s.name)) {
        let k = kbuild::build(spec, fragments)?;
        owned.extend(owners::entry_of(&root, &k.bzimage));
        owned.push(format!("kbuild/{}-{}", spec.source, kbuild::entry_name(spec, fragments)?.1));
        out.push(Kernel::Tiny(k));
    }
    for spec in list.debian.iter().filter(|s| wanted("debian", &s.name)) {
        let k = distro::fetch(spec)?;
        owned.extend(owners::entry_of(&root, &k.bzimage));
        out.push(Kernel::Debian(k));
    }
    owners::record(&list.origin, &owned)?;
    let base = fragments.parent().unwrap_or(Path::new("."));
    for spec in list.prebuilt.iter().filter(|s| wanted("prebuilt", &s.name)) {
        out.push(Kernel::Prebuilt(prebuilt(spec, base)?));
    }
    let mut index = read_index();
    // The index records what the cache holds; a prebuilt kernel is not in it.
    for k in out.iter().filter(|k| !matches!(k, Kernel::Prebuilt(_))) {
        index.retain(|x| x.name() != k.name());
        index.push(k.clone());
    }
    index.sort_by(|a, b| a.name().cmp(b.name()));
    let json = serde_json::to_string_pretty(&index).map_err(|e| e.to_string())?;
    let path = index_path();
    std::fs::create_dir_all(path.parent().expect("index has a parent")).map_err(|e| e.to_string())?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, json)
        .and_then(|_| std::fs::rename(&tmp, &path))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(out)
}

/// The kernels recorded by the last [`prepare`] (empty if none).
pub fn read_index() -> Vec<Kernel> {
    std::fs::read_to_string(index_path()).ok().and_then(|s| serde_json::from_str(&s).ok()).unwrap_or_default()
}

/// One entry of the cache, for `kernel-test cache list|prune`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its directory.
    pub path: PathBuf,
    /// Its name in the record of owners (`kernels/NAME`).
    pub rel: String,
    /// `kernel`, `distro`, `build tree`.
    pub kind: &'static str,
    /// Bytes.
    pub size: u64,
    /// Why the list's own keys call it stale (`None`: the list uses it);
    /// whether it is the list's to remove is [`owners::judge`]'s answer.
    pub stale: Option<String>,
}

/// Every cache entry, and whether `list` still uses it: a tiny kernel whose
/// key no longer matches (fragments, source or compiler changed), a Debian
/// package older than the newest of its template, a build tree of a source
/// version no longer installed. Rebuilt variants (`name+fragment`) of a
/// listed kernel are kept.
pub fn cache_entries(list: &KernelList, fragments: &Path) -> Result<Vec<Entry>> {
    let root = cache::root();
    let mut current_kernels = std::collections::BTreeSet::new();
    let mut current_trees = std::collections::BTreeSet::new();
    // A key that cannot be computed (no linux-source, no apt lists) is an
    // error, not "stale": prune must never remove what the list still uses.
    for spec in &list.tiny {
        let (name, version) = kbuild::entry_name(spec, fragments)?;
        current_kernels.insert(name);
        current_trees.insert(format!("{}-{version}", spec.source));
    }
    let current_debs: std::collections::BTreeSet<String> =
        list.debian.iter().map(distro::newest_package).collect::<Result<_>>()?;
    let mut out = Vec::new();
    let mut scan = |dir: &str, kind: &'static str, stale: &dyn Fn(&str) -> Option<String>| {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else { return };
        let mut v: Vec<_> = entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
        v.sort();
        for path in v {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
            let rel = format!("{dir}/{name}");
            out.push(Entry { size: cache::size_of(&path), stale: stale(&name), kind, path, rel });
        }
    };
    let listed: Vec<String> = list.tiny.iter().map(|t| t.name.clone()).collect();
    scan("kernels", "kernel", &|n| {
        if current_kernels.contains(n) {
            return None;
        }
        match n.split_once('+') {
            Some((base, _)) if listed.iter().any(|l| l == base) => None,
            _ => Some("no kernel of the list has this key any more".into()),
        }
    });
    scan("distro", "distro", &|n| {
        (!current_debs.contains(n)).then(|| "not the newest package of a listed Debian kernel".to_string())
    });
    scan("kbuild", "build tree", &|n| {
        (!current_trees.contains(n)).then(|| "no listed kernel builds from this source version".to_string())
    });
    Ok(out)
}

/// One key for the whole list: the cache entry names of its tiny kernels
/// (which hash their source, compiler and fragments) and the newest
/// packages of its Debian kernels, hashed. It changes exactly when a
/// kernel would be built or fetched anew.
pub fn list_key(list: &KernelList, fragments: &Path) -> Result<String> {
    use sha2::{Digest, Sha256};
    let mut parts = Vec::new();
    for spec in &list.tiny {
        parts.push(kbuild::entry_name(spec, fragments)?.0);
    }
    for spec in &list.debian {
        parts.push(distro::newest_package(spec)?);
    }
    parts.sort();
    let mut h = Sha256::new();
    for p in &parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    Ok(h.finalize().iter().take(12).map(|b| format!("{b:02x}")).collect())
}
