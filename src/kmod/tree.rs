//! A modules directory on disk, held open: finding a module's file by name
//! when no modules.dep says where it is, and keeping every path inside the
//! directory.
//!
//! The walk lists regular `*.ko`, `*.ko.xz`, `*.ko.zst` and `*.ko.gz` files.
//! It follows no link at all (the `build` and `source` links point into
//! kernel sources; a module is never opened through a link), and a
//! subdirectory it cannot read is skipped with a warning rather than
//! failing the whole walk. When a name appears twice, `updates/` wins over
//! the rest, as depmod's default search order has it; otherwise the first
//! path in sorted order.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use super::name::ModuleName;
use crate::system::fs::{Dir, FileKind, FsError};

/// Why a modules directory or a path in it cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    /// The modules directory itself is unusable.
    #[error("modules directory {}", .0)]
    Dir(FsError),
    /// A path (from modules.dep) leads outside the directory.
    #[error("{} leads outside the modules directory {}: refusing to load it", crate::system::fs::shown(.path), crate::system::fs::shown(.dir))]
    Escapes {
        /// The path as found.
        path: PathBuf,
        /// The modules directory.
        dir: PathBuf,
    },
}

/// A modules directory.
#[derive(Debug)]
pub struct ModuleTree {
    dir: Dir,
    canonical: Option<PathBuf>,
    files: Option<BTreeMap<ModuleName, PathBuf>>,
    warnings: Vec<String>,
}

impl ModuleTree {
    /// Opens `dir`, which must be a directory.
    pub fn open(dir: &Path) -> Result<Self, TreeError> {
        let handle = Dir::open(dir).map_err(TreeError::Dir)?;
        Ok(Self { dir: handle, canonical: dir.canonicalize().ok(), files: None, warnings: Vec::new() })
    }

    /// The directory as given.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The open directory.
    pub fn handle(&self) -> &Dir {
        &self.dir
    }

    /// What the walk skipped (unreadable subdirectories).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Turns a path from an index (relative to the directory, or absolute
    /// under it) into a path relative to it; anything else is an escape.
    /// Files are opened beneath the directory, so `..` and links that
    /// lead out are refused again when opened.
    pub fn contain(&self, path: &Path) -> Result<PathBuf, TreeError> {
        let escapes = || TreeError::Escapes { path: path.to_path_buf(), dir: self.dir().to_path_buf() };
        let rel = if path.is_absolute() {
            [Some(self.dir()), self.canonical.as_deref()]
                .into_iter()
                .flatten()
                .find_map(|d| path.strip_prefix(d).ok())
                .ok_or_else(escapes)?
                .to_path_buf()
        } else {
            path.to_path_buf()
        };
        if rel.as_os_str().is_empty() || rel.components().any(|c| !matches!(c, Component::Normal(_))) {
            return Err(escapes());
        }
        Ok(rel)
    }

    /// The file holding `name` (relative to the directory), found by
    /// walking the tree (done once).
    pub fn find(&mut self, name: &ModuleName) -> Result<Option<PathBuf>, TreeError> {
        Ok(self.all()?.get(name).cloned())
    }

    /// Every module file, by name, relative to the directory (walks the
    /// tree if not done yet).
    pub fn all(&mut self) -> Result<&BTreeMap<ModuleName, PathBuf>, TreeError> {
        if self.files.is_none() {
            let files = self.walk()?;
            self.files = Some(files);
        }
        Ok(self.files.as_ref().expect("walked above"))
    }

    fn walk(&mut self) -> Result<BTreeMap<ModuleName, PathBuf>, TreeError> {
        let mut found: Vec<PathBuf> = Vec::new();
        let root_entries = self.dir.entries().map_err(TreeError::Dir)?;
        let mut stack: Vec<(PathBuf, Vec<crate::system::fs::Entry>)> = vec![(PathBuf::new(), root_entries)];
        while let Some((rel_dir, entries)) = stack.pop() {
            for entry in entries {
                let rel = rel_dir.join(&entry.name);
                match entry.kind {
                    FileKind::Directory => match self.dir.open_dir(&rel).and_then(|d| d.entries()) {
                        Ok(sub) => stack.push((rel, sub)),
                        Err(e) => self.warnings.push(format!("skipped {e}")),
                    },
                    FileKind::Regular if ModuleName::from_path(&rel).is_some() => found.push(rel),
                    _ => {}
                }
            }
        }
        found.sort();
        let mut files: BTreeMap<ModuleName, PathBuf> = BTreeMap::new();
        for path in found {
            let name = ModuleName::from_path(&path).expect("filtered above");
            let wins = match files.get(&name) {
                None => true,
                Some(old) => path.starts_with("updates") && !old.starts_with("updates"),
            };
            if wins {
                files.insert(name, path);
            }
        }
        Ok(files)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_modules_prefers_updates_and_follows_no_link() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::fs::create_dir_all(root.join("kernel/net")).unwrap();
        std::fs::create_dir_all(root.join("updates")).unwrap();
        std::fs::write(root.join("kernel/net/xt_comment.ko.xz"), b"x").unwrap();
        std::fs::write(root.join("kernel/net/x_tables.ko"), b"x").unwrap();
        std::fs::write(root.join("updates/x_tables.ko"), b"x").unwrap();
        std::fs::write(root.join("kernel/net/README"), b"x").unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("evil.ko"), b"x").unwrap();
        std::os::unix::fs::symlink(outside.path().join("evil.ko"), root.join("kernel/evil.ko")).unwrap();
        std::os::unix::fs::symlink("net/x_tables.ko", root.join("kernel/inside.ko")).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("build")).unwrap();

        let mut tree = ModuleTree::open(root).unwrap();
        assert_eq!(
            tree.find(&ModuleName::new("xt_comment")).unwrap(),
            Some(PathBuf::from("kernel/net/xt_comment.ko.xz"))
        );
        assert_eq!(
            tree.find(&ModuleName::new("x_tables")).unwrap(),
            Some(PathBuf::from("updates/x_tables.ko"))
        );
        assert_eq!(tree.find(&ModuleName::new("evil")).unwrap(), None, "a link out of the tree is ignored");
        assert_eq!(tree.find(&ModuleName::new("inside")).unwrap(), None, "no link is followed");
        assert_eq!(tree.all().unwrap().len(), 2);

        assert_eq!(tree.contain(Path::new("kernel/evil.ko")).unwrap(), PathBuf::from("kernel/evil.ko"));
        assert!(matches!(tree.contain(Path::new("../../etc/passwd")), Err(TreeError::Escapes { .. })));
        assert!(matches!(tree.contain(Path::new("/etc/passwd")), Err(TreeError::Escapes { .. })));
        assert_eq!(
            tree.contain(&root.join("kernel/net/x_tables.ko")).unwrap(),
            PathBuf::from("kernel/net/x_tables.ko"),
            "absolute paths under the directory are fine"
        );
        assert!(matches!(ModuleTree::open(&root.join("nope")), Err(TreeError::Dir(_))));
    }

    #[test]
    fn an_unreadable_subdirectory_is_skipped_not_fatal() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::fs::create_dir_all(root.join("kernel/a")).unwrap();
        std::fs::create_dir_all(root.join("kernel/b")).unwrap();
        std::fs::write(root.join("kernel/a/one.ko"), b"x").unwrap();
        std::fs::write(root.join("kernel/b/two.ko"), b"x").unwrap();
        // A FIFO named like a module is not a module file.
        nix::unistd::mkfifo(&root.join("kernel/a/fifo.ko"), nix::sys::stat::Mode::from_bits_truncate(0o600))
            .unwrap();
        let mut tree = ModuleTree::open(root).unwrap();
        assert_eq!(tree.all().unwrap().len(), 2);
        assert!(tree.find(&ModuleName::new("fifo")).unwrap().is_none());
    }
}
