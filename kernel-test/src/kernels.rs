//! The kernel list (`vm-images/kernels.toml`) and getting every kernel in
//! it ready: built, fetched, or found in the cache. The result is written
//! to `<cache>/kernels.json` for the test suite and the matrix to read.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::cache::{self, Result};
use crate::distro::{self, DistroKernel, DistroSpec};
use crate::kbuild::{self, TinyKernel, TinySpec};

/// `vm-images/kernels.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KernelList {
    /// Kernels built from source.
    #[serde(default)]
    pub tiny: Vec<TinySpec>,
    /// Debian's kernels.
    #[serde(default)]
    pub debian: Vec<DistroSpec>,
}

impl KernelList {
    /// Every kernel name.
    pub fn names(&self) -> Vec<String> {
        self.tiny.iter().map(|t| t.name.clone()).chain(self.debian.iter().map(|d| d.name.clone())).collect()
    }

    /// Reads and checks the list: names must be unique.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let list: KernelList = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut names: Vec<&str> = list
            .tiny
            .iter()
            .map(|t| t.name.as_str())
            .chain(list.debian.iter().map(|d| d.name.as_str()))
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
}

impl Kernel {
    /// The matrix name.
    pub fn name(&self) -> &str {
        match self {
            Kernel::Tiny(k) => &k.name,
            Kernel::Debian(k) => &k.name,
        }
    }

    /// The image to boot.
    pub fn bzimage(&self) -> &Path {
        match self {
            Kernel::Tiny(k) => &k.bzimage,
            Kernel::Debian(k) => &k.bzimage,
        }
    }

    /// `uname -r`.
    pub fn release(&self) -> &str {
        match self {
            Kernel::Tiny(k) => &k.release,
            Kernel::Debian(k) => &k.release,
        }
    }

    /// The modules directory with modules.dep.
    pub fn modules(&self) -> &Path {
        match self {
            Kernel::Tiny(k) => &k.modules,
            Kernel::Debian(k) => &k.modules_depmod,
        }
    }
}

/// Where the list of ready kernels is recorded.
pub fn index_path() -> PathBuf {
    cache::root().join("kernels.json")
}

/// Builds and fetches the kernels of `list` that `wanted` accepts (by name,
/// and `tiny`/`debian` for a whole kind), one at a time; records them in
/// [`index_path`] and returns them.
pub fn prepare(
    list: &KernelList,
    fragments: &Path,
    wanted: impl Fn(&str, &str) -> bool,
) -> Result<Vec<Kernel>> {
    let mut out = Vec::new();
    for spec in list.tiny.iter().filter(|s| wanted("tiny", &s.name)) {
        out.push(Kernel::Tiny(kbuild::build(spec, fragments)?));
    }
    for spec in list.debian.iter().filter(|s| wanted("debian", &s.name)) {
        out.push(Kernel::Debian(distro::fetch(spec)?));
    }
    let mut index = read_index();
    for k in &out {
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
