//! A kernel's netfilter modules as a distro built without some of them
//! would ship them: the netfilter part of a module tree (and what it
//! depends on), with a seeded random share of it removed and the rest
//! indexed again by the real `depmod`.
//!
//! The probe's own prerequisites (nfnetlink, nf_tables, nft_compat,
//! x_tables) always stay: without them nothing can be asked, and the
//! question becomes another one.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cache::{self, Result};

/// Where netfilter modules live in a tree (and the textsearch algorithms
/// the string match asks for).
const PARTS: [&str; 5] = [
    "kernel/net/netfilter/",
    "kernel/net/ipv4/netfilter/",
    "kernel/net/ipv6/netfilter/",
    "kernel/net/bridge/netfilter/",
    "kernel/lib/ts_",
];

/// Never removed.
const KEEP: [&str; 4] = ["nfnetlink", "nf_tables", "nft_compat", "x_tables"];

/// A pruned tree.
#[derive(Debug, Clone)]
pub struct Pruned {
    /// `<dir>/lib/modules/<release>`.
    pub modules: PathBuf,
    /// What was removed, by module name.
    pub removed: Vec<String>,
    /// How many netfilter modules there were.
    pub netfilter: usize,
}

/// The module name of a path in a tree (`xt_comment` for `…/xt_comment.ko.xz`).
fn name_of(rel: &str) -> String {
    let file = rel.rsplit('/').next().unwrap_or(rel);
    file.split(".ko").next().unwrap_or(file).replace('-', "_")
}

/// splitmix64: a seeded, portable sequence (no dependency for one shuffle).
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Which of `candidates` to remove: `percent` of them, chosen by `seed`.
pub fn choose(candidates: &[String], seed: u64, percent: u32) -> BTreeSet<String> {
    let mut state = seed;
    let mut keyed: Vec<(u64, &String)> = candidates.iter().map(|c| (splitmix(&mut state), c)).collect();
    keyed.sort();
    let n = candidates.len() * percent.min(100) as usize / 100;
    keyed.into_iter().take(n).map(|(_, c)| c.clone()).collect()
}

/// Reads `modules.dep` of `src`: each module path and its dependencies.
fn deps(src: &Path) -> Result<BTreeMap<String, Vec<String>>> {
    let text = std::fs::read_to_string(src.join("modules.dep"))
        .map_err(|e| format!("{}/modules.dep: {e}", src.display()))?;
    Ok(text
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(m, d)| (m.trim().to_string(), d.split_whitespace().map(str::to_string).collect()))
        .collect())
}

/// What `modprobe --show-depends` loads for `module` in the tree at
/// `base` (dependencies and soft dependencies, resolved as modprobe
/// resolves them), as paths relative to `src`.
fn closure_of(base: &Path, release: &str, src: &Path, module: &str) -> Result<Vec<String>> {
    let out = cache::run(
        Command::new("modprobe").arg("-d").arg(base).arg("-S").arg(release).args(["--show-depends", module]),
    )?;
    let canonical = src.canonicalize().map_err(|e| format!("{}: {e}", src.display()))?;
    let mut paths = Vec::new();
    for line in out.lines() {
        if let Some(path) = line.strip_prefix("insmod ") {
            let path = PathBuf::from(path.split_whitespace().next().unwrap_or_default());
            let real = path.canonicalize().map_err(|e| format!("{}: {e}", path.display()))?;
            if let Ok(rel) = real.strip_prefix(&canonical) {
                paths.push(rel.to_string_lossy().into_owned());
            }
        }
    }
    Ok(paths)
}

/// Builds, under `out`, the netfilter part of `src` (a `lib/modules/<release>`
/// with modules.dep) with `percent` of it removed by `seed` (0: nothing),
/// indexed by `depmod`. What stays carries everything modprobe would load
/// with it (libcrc32c's soft dependency on crc32c included).
pub fn tree(src: &Path, release: &str, seed: u64, percent: u32, out: &Path) -> Result<Pruned> {
    let dep = deps(src)?;
    let candidates = candidates(&dep);
    let removed = if percent == 0 { BTreeSet::new() } else { choose(&candidates, seed, percent) };
    build(src, release, &dep, removed, out)
}

/// The netfilter modules of a tree that may be removed.
fn candidates(dep: &BTreeMap<String, Vec<String>>) -> Vec<String> {
    dep.keys()
        .filter(|m| PARTS.iter().any(|p| m.starts_with(p)))
        .map(|m| name_of(m))
        .filter(|n| !KEEP.contains(&n.as_str()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// [`tree`] with exactly `without` removed (netfilter modules of the
/// tree, by name: a name the tree does not have is an error).
pub fn tree_without(src: &Path, release: &str, without: &[String], out: &Path) -> Result<Pruned> {
    let dep = deps(src)?;
    let candidates = candidates(&dep);
    let mut removed = BTreeSet::new();
    for w in without {
        let n = w.replace('-', "_");
        if !candidates.contains(&n) {
            return Err(format!(
                "--without {w}: the tree has no netfilter module of that name (or it is one the probe needs)"
            ));
        }
        removed.insert(n);
    }
    build(src, release, &dep, removed, out)
}

fn build(
    src: &Path,
    release: &str,
    dep: &BTreeMap<String, Vec<String>>,
    removed: BTreeSet<String>,
    out: &Path,
) -> Result<Pruned> {
    let netfilter: Vec<&String> = dep.keys().filter(|m| PARTS.iter().any(|p| m.starts_with(p))).collect();
    let candidates = candidates(dep);
    // dir = <base>/lib/modules/<release>
    let base = src.parent().and_then(Path::parent).and_then(Path::parent).ok_or("modules dir too short")?;
    let mut wanted: BTreeSet<String> = BTreeSet::new();
    for m in netfilter.iter().filter(|m| !removed.contains(&name_of(m))) {
        if wanted.contains(m.as_str()) {
            continue;
        }
        wanted.extend(closure_of(base, release, src, &name_of(m))?);
    }
    // A removed module stays removed even where another needs it.
    wanted.retain(|m| !removed.contains(&name_of(m)));
    let dest = out.join("lib/modules").join(release);
    if out.exists() {
        std::fs::remove_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    }
    std::fs::create_dir_all(&dest).map_err(|e| format!("{}: {e}", dest.display()))?;
    for rel in &wanted {
        let to = dest.join(rel);
        if let Some(p) = to.parent() {
            std::fs::create_dir_all(p).map_err(|e| format!("{}: {e}", p.display()))?;
        }
        let from = src.join(rel);
        if std::fs::hard_link(&from, &to).is_err() {
            std::fs::copy(&from, &to).map_err(|e| format!("{} → {}: {e}", from.display(), to.display()))?;
        }
    }
    // What depmod needs besides the modules: the built-in list and order.
    for f in ["modules.builtin", "modules.builtin.modinfo", "modules.order"] {
        let from = src.join(f);
        if from.is_file() {
            std::fs::copy(&from, dest.join(f)).map_err(|e| format!("{}: {e}", from.display()))?;
        }
    }
    cache::run(Command::new("depmod").arg("-b").arg(out).arg(release))?;
    Ok(Pruned {
        modules: dest,
        removed: removed.into_iter().collect(),
        netfilter: candidates.len() + KEEP.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choice_is_seeded_and_sized() {
        let c: Vec<String> = (0..100).map(|i| format!("m{i}")).collect();
        let a = choose(&c, 17, 20);
        assert_eq!(a.len(), 20);
        assert_eq!(a, choose(&c, 17, 20), "the same seed, the same tree");
        assert_ne!(a, choose(&c, 18, 20));
        assert!(choose(&c, 1, 0).is_empty());
        assert_eq!(name_of("kernel/net/netfilter/xt_comment.ko.xz"), "xt_comment");
        assert_eq!(name_of("kernel/lib/ts_bm.ko"), "ts_bm");
    }
}
