//! A modules directory on disk: finding a module's file by name when no
//! modules.dep says where it is, and keeping every file we open inside the
//! directory.
//!
//! The walk lists `*.ko`, `*.ko.xz`, `*.ko.zst` and `*.ko.gz` files. It does
//! not descend into symlinked directories (the `build` and `source` links
//! point into kernel sources) and ignores file symlinks that resolve outside
//! the tree. When a name appears twice, `updates/` wins over the rest, as
//! depmod's default search order has it; otherwise the first path in sorted
//! order.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::name::ModuleName;

/// Why a module file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    /// The modules directory itself is unusable.
    #[error("modules directory {path}: {detail}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// A path (from modules.dep or a symlink) resolves outside the directory.
    #[error("{path} resolves to {target}, outside the modules directory {dir}: refusing to load it")]
    Escapes {
        /// The path as found.
        path: PathBuf,
        /// Where it leads.
        target: PathBuf,
        /// The modules directory.
        dir: PathBuf,
    },
    /// A listed file that does not exist.
    #[error("{path} is listed but missing: {detail}")]
    Missing {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        detail: String,
    },
}

/// A modules directory.
#[derive(Debug, Clone)]
pub struct ModuleTree {
    dir: PathBuf,
    canonical: PathBuf,
    files: Option<BTreeMap<ModuleName, PathBuf>>,
}

impl ModuleTree {
    /// Opens `dir`, which must exist.
    pub fn open(dir: &Path) -> Result<Self, TreeError> {
        let canonical = dir
            .canonicalize()
            .map_err(|e| TreeError::Dir { path: dir.to_path_buf(), detail: e.to_string() })?;
        if !canonical.is_dir() {
            return Err(TreeError::Dir { path: dir.to_path_buf(), detail: "not a directory".to_string() });
        }
        Ok(Self { dir: dir.to_path_buf(), canonical, files: None })
    }

    /// The directory as given.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Resolves a path from an index (relative to the directory, or
    /// absolute) and checks it stays inside the directory.
    pub fn contain(&self, path: &Path) -> Result<PathBuf, TreeError> {
        let joined = if path.is_absolute() { path.to_path_buf() } else { self.dir.join(path) };
        let target = joined
            .canonicalize()
            .map_err(|e| TreeError::Missing { path: joined.clone(), detail: e.to_string() })?;
        if !target.starts_with(&self.canonical) {
            return Err(TreeError::Escapes { path: joined, target, dir: self.canonical.clone() });
        }
        Ok(target)
    }

    /// The file holding `name`, found by walking the tree (done once).
    pub fn find(&mut self, name: &ModuleName) -> Result<Option<PathBuf>, TreeError> {
        if self.files.is_none() {
            self.files = Some(self.walk()?);
        }
        Ok(self.files.as_ref().and_then(|f| f.get(name).cloned()))
    }

    /// Every module file, by name (walks the tree if not done yet).
    pub fn all(&mut self) -> Result<&BTreeMap<ModuleName, PathBuf>, TreeError> {
        if self.files.is_none() {
            self.files = Some(self.walk()?);
        }
        Ok(self.files.as_ref().expect("walked above"))
    }

    fn walk(&self) -> Result<BTreeMap<ModuleName, PathBuf>, TreeError> {
        let mut found: Vec<PathBuf> = Vec::new();
        let mut stack = vec![self.canonical.clone()];
        while let Some(dir) = stack.pop() {
            let entries = std::fs::read_dir(&dir)
                .map_err(|e| TreeError::Dir { path: dir.clone(), detail: e.to_string() })?;
            for entry in entries.flatten() {
                let path = entry.path();
                let Ok(kind) = entry.file_type() else { continue };
                if kind.is_dir() {
                    stack.push(path);
                } else if ModuleName::from_path(&path).is_some() {
                    if kind.is_symlink() {
                        // Only links that stay inside the tree, and only to files.
                        match path.canonicalize() {
                            Ok(t) if t.starts_with(&self.canonical) && t.is_file() => {}
                            _ => continue,
                        }
                    } else if !kind.is_file() {
                        continue;
                    }
                    found.push(path);
                }
            }
        }
        found.sort();
        let mut files: BTreeMap<ModuleName, PathBuf> = BTreeMap::new();
        let updates = self.canonical.join("updates");
        for path in found {
            let name = ModuleName::from_path(&path).expect("filtered above");
            let wins = match files.get(&name) {
                None => true,
                Some(old) => path.starts_with(&updates) && !old.starts_with(&updates),
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
    fn finds_modules_prefers_updates_and_refuses_escapes() {
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
        std::os::unix::fs::symlink(outside.path(), root.join("build")).unwrap();

        let mut tree = ModuleTree::open(root).unwrap();
        let canon = root.canonicalize().unwrap();
        assert_eq!(
            tree.find(&ModuleName::new("xt_comment")).unwrap(),
            Some(canon.join("kernel/net/xt_comment.ko.xz"))
        );
        assert_eq!(tree.find(&ModuleName::new("x_tables")).unwrap(), Some(canon.join("updates/x_tables.ko")));
        assert_eq!(tree.find(&ModuleName::new("evil")).unwrap(), None, "symlink out of the tree is ignored");
        assert_eq!(tree.all().unwrap().len(), 2);

        assert!(matches!(tree.contain(Path::new("kernel/evil.ko")), Err(TreeError::Escapes { .. })));
        assert!(matches!(
            tree.contain(Path::new("../../etc/passwd")),
            Err(TreeError::Escapes { .. }) | Err(TreeError::Missing { .. })
        ));
        assert!(matches!(tree.contain(Path::new("kernel/nope.ko")), Err(TreeError::Missing { .. })));
        assert!(tree.contain(Path::new("kernel/net/x_tables.ko")).is_ok());
        assert!(matches!(ModuleTree::open(&root.join("nope")), Err(TreeError::Dir { .. })));
    }
}
