//! Which kernel list made each cache entry, so that `cache list|prune
//! --kernels LIST` judges only what LIST built and never another list's
//! kernels (two projects, or a project and its CI's own list, sharing one
//! cache).
//!
//! The record is `owners.json` in the cache root: each entry (`kernels/NAME`,
//! `kbuild/SOURCE-VERSION`, `distro/PACKAGE`) with the lists (canonical
//! paths of their `kernels.toml`) that built or used it. It is written
//! under the cache lock ([`crate::cache::lock`]), atomically. A list that
//! moves is a new list; its old entries then belong to no list that exists
//! and stay until pruned by their old path or removed by hand.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::cache::{self, Result};

/// Entry (relative to the cache root) → the lists that own it.
pub type Owners = BTreeMap<String, BTreeSet<String>>;

/// The record's path.
pub fn path() -> PathBuf {
    cache::root().join("owners.json")
}

/// The record (empty when there is none). One that cannot be read or
/// parsed is an error, never an empty record: writing over it would drop
/// every other list's claims and let a prune remove their kernels.
pub fn read() -> Result<Owners> {
    let path = path();
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Owners::new()),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    serde_json::from_str(&text).map_err(|e| {
        format!(
            "{}: {e}: fix it, or remove it (every entry is then unowned, and prune keeps unowned entries)",
            path.display()
        )
    })
}

/// Writes the record atomically (the caller holds the cache lock).
pub fn write(owners: &Owners) -> Result<()> {
    let path = path();
    let json = serde_json::to_string_pretty(owners).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(cache::root()).map_err(|e| format!("{}: {e}", cache::root().display()))?;
    let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
    std::fs::write(&tmp, json)
        .and_then(|_| std::fs::rename(&tmp, &path))
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Records that `list` built or uses `entries` (the caller holds the lock).
pub fn record(list: &str, entries: &[String]) -> Result<()> {
    let mut owners = read()?;
    let before = owners.clone();
    for e in entries {
        owners.entry(e.clone()).or_default().insert(list.to_string());
    }
    if owners == before { Ok(()) } else { write(&owners) }
}

/// The cache entry a path inside the cache belongs to (`kernels/NAME` for
/// `ROOT/kernels/NAME/bzImage`), if it is inside.
pub fn entry_of(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    let mut parts = rel.components();
    let (a, b) = (parts.next()?, parts.next()?);
    Some(format!("{}/{}", a.as_os_str().to_str()?, b.as_os_str().to_str()?))
}

/// What `cache list --kernels LIST` says of one entry, and what prune does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// LIST uses it: kept.
    InUse,
    /// LIST built it and no longer uses it, and no other list owns it:
    /// prune removes it.
    Stale(String),
    /// Another list's (LIST's too, if it no longer uses it): kept; prune
    /// only forgets LIST's claim.
    Others(Vec<String>),
    /// No list recorded it (made before the record existed): kept.
    Unowned,
}

/// The verdict on `entry` for `list`, given the record and why LIST's
/// own keys would call it stale (`None`: LIST uses it).
pub fn judge(entry: &str, owners: &Owners, list: &str, stale: Option<String>) -> Verdict {
    // What an interrupted prune moved aside: half removed, anyone's to finish.
    if entry.rsplit('/').next().is_some_and(|n| n.starts_with('.') && n.contains(".del.")) {
        return Verdict::Stale("left by an interrupted prune".into());
    }
    let empty = BTreeSet::new();
    let who = owners.get(entry).unwrap_or(&empty);
    let others: Vec<String> = who.iter().filter(|w| w.as_str() != list).cloned().collect();
    match stale {
        None => Verdict::InUse,
        Some(_) if !others.is_empty() => Verdict::Others(others),
        Some(why) if who.contains(list) => Verdict::Stale(why),
        Some(_) => Verdict::Unowned,
    }
}

/// Removes `list`'s claim on `entries` and every record of `removed`.
pub fn forget(owners: &mut Owners, list: &str, entries: &[String], removed: &[String]) {
    for e in entries {
        if let Some(w) = owners.get_mut(e) {
            w.remove(list);
        }
    }
    for r in removed {
        owners.remove(r);
    }
    owners.retain(|_, w| !w.is_empty());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owners(rows: &[(&str, &[&str])]) -> Owners {
        rows.iter().map(|(e, w)| (e.to_string(), w.iter().map(|s| s.to_string()).collect())).collect()
    }

    #[test]
    fn verdicts_as_a_table() {
        let o = owners(&[
            ("kernels/mine-old", &["/a.toml"]),
            ("kernels/shared", &["/a.toml", "/b.toml"]),
            ("kernels/theirs", &["/b.toml"]),
        ]);
        let stale = || Some("no kernel of the list has this key any more".to_string());
        let rows: &[(&str, Option<String>, Verdict)] = &[
            ("kernels/mine-old", None, Verdict::InUse),
            ("kernels/mine-old", stale(), Verdict::Stale(stale().unwrap())),
            ("kernels/shared", stale(), Verdict::Others(vec!["/b.toml".into()])),
            ("kernels/shared", None, Verdict::InUse),
            ("kernels/theirs", stale(), Verdict::Others(vec!["/b.toml".into()])),
            // The same key as another list's kernel: LIST uses it too.
            ("kernels/theirs", None, Verdict::InUse),
            ("kernels/nobody", stale(), Verdict::Unowned),
            ("kernels/nobody", None, Verdict::InUse),
            ("kernels/.a-old.del.42", stale(), Verdict::Stale("left by an interrupted prune".into())),
        ];
        for (entry, why, want) in rows {
            assert_eq!(&judge(entry, &o, "/a.toml", why.clone()), want, "{entry} {why:?}");
        }
    }

    #[test]
    fn forgetting_a_claim_keeps_the_others() {
        let mut o = owners(&[("kernels/shared", &["/a.toml", "/b.toml"]), ("kernels/mine", &["/a.toml"])]);
        forget(&mut o, "/a.toml", &["kernels/shared".into()], &["kernels/mine".into()]);
        assert_eq!(o, owners(&[("kernels/shared", &["/b.toml"])]));
    }

    #[test]
    fn entries_of_paths() {
        let root = Path::new("/c");
        assert_eq!(entry_of(root, Path::new("/c/kernels/t-1/bzImage")).as_deref(), Some("kernels/t-1"));
        assert_eq!(entry_of(root, Path::new("/c/distro/p/root/lib")).as_deref(), Some("distro/p"));
        assert_eq!(entry_of(root, Path::new("/c/kernels")), None);
        assert_eq!(entry_of(root, Path::new("/elsewhere/x/y")), None);
    }
}
