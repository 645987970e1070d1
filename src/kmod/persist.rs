//! Making a load survive reboots: `/etc/modules-load.d/xtprobe.conf`, one
//! module name per line, as modules-load.d(5) reads it.
//!
//! The file is merged (lines already there are kept, in order, comments
//! included), written atomically (temporary file in the same directory,
//! fsync, rename, fsync of the directory) with mode 0644, and left untouched
//! when it already lists every module. A failure at any point leaves the old
//! file as it was and no temporary file behind.
//!
//! Something must read it at boot: systemd-modules-load, or Debian's
//! sysvinit `/etc/init.d/kmod` (which runs `modprobe`). On hosts with
//! neither, the file does nothing; the report says so.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::name::ModuleName;

/// The file, relative to the root.
pub const CONF_PATH: &str = "etc/modules-load.d/xtprobe.conf";

const HEADER: &str = "# Written by xtprobe: modules loaded at boot (modules-load.d(5)).\n";

/// Programs that read modules-load.d, relative to the root.
const READERS: [&str; 4] = [
    "usr/lib/systemd/systemd-modules-load",
    "lib/systemd/systemd-modules-load",
    "etc/init.d/kmod",
    "sbin/modprobe",
];

/// What `persist` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Persisted {
    /// The file.
    pub path: PathBuf,
    /// Modules added by this call.
    pub added: Vec<ModuleName>,
    /// Whether the file was (re)written; false when it already listed all.
    pub changed: bool,
    /// Programs found that read the file at boot.
    pub readers: Vec<String>,
    /// A sentence about whether the entry will take effect.
    pub note: String,
}

/// Why the file could not be written.
#[derive(Debug, thiserror::Error)]
#[error("writing {path}: {detail}")]
pub struct PersistError {
    /// The file.
    pub path: PathBuf,
    /// What failed.
    pub detail: String,
}

/// The programs under `root` that would read modules-load.d at boot.
pub fn readers(root: &Path) -> Vec<String> {
    READERS.iter().filter(|r| root.join(r).is_file()).map(|r| format!("/{r}")).collect()
}

/// What `persist` would add, without writing anything.
pub fn pending(root: &Path, modules: &[ModuleName]) -> Result<Vec<ModuleName>, PersistError> {
    let path = root.join(CONF_PATH);
    let existing = read_existing(&path)?;
    Ok(missing(&existing, modules))
}

fn read_existing(path: &Path) -> Result<String, PersistError> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(s),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(PersistError { path: path.to_path_buf(), detail: e.to_string() }),
    }
}

fn missing(existing: &str, modules: &[ModuleName]) -> Vec<ModuleName> {
    let listed: Vec<ModuleName> = existing
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';'))
        .map(ModuleName::new)
        .collect();
    let mut out: Vec<ModuleName> = Vec::new();
    for m in modules {
        if !listed.contains(m) && !out.contains(m) {
            out.push(m.clone());
        }
    }
    out
}

/// Adds `modules` to `<root>/etc/modules-load.d/xtprobe.conf`.
pub fn persist(root: &Path, modules: &[ModuleName]) -> Result<Persisted, PersistError> {
    let path = root.join(CONF_PATH);
    let err = |detail: String| PersistError { path: path.clone(), detail };
    let existing = read_existing(&path)?;
    let added = missing(&existing, modules);
    let readers = readers(root);
    let note = if readers.is_empty() {
        "nothing on this host reads /etc/modules-load.d (no systemd-modules-load, no /etc/init.d/kmod): \
         the entry will not load anything at boot; run `xtprobe ensure` from a boot hook instead (README, \
         \"Integration\")"
            .to_string()
    } else {
        format!("read at boot by {}", readers.join(", "))
    };
    if added.is_empty() {
        return Ok(Persisted { path, added, changed: false, readers, note });
    }

    let mut content = if existing.is_empty() { HEADER.to_string() } else { existing.clone() };
    if !content.ends_with('\n') {
        content.push('\n');
    }
    for m in &added {
        content.push_str(m.as_str());
        content.push('\n');
    }

    let dir = path.parent().expect("CONF_PATH has a parent");
    std::fs::create_dir_all(dir).map_err(|e| err(format!("creating {}: {e}", dir.display())))?;
    let tmp = dir.join(format!(".xtprobe.conf.{}.tmp", std::process::id()));
    let write = || -> std::io::Result<()> {
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o644).open(&tmp)?;
        f.write_all(content.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        std::fs::File::open(dir)?.sync_all()
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_file(&tmp);
        return Err(err(e.to_string()));
    }
    Ok(Persisted { path, added, changed: true, readers, note })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn names(v: &[&str]) -> Vec<ModuleName> {
        v.iter().map(|n| ModuleName::new(n)).collect()
    }

    #[test]
    fn merges_idempotently_with_mode_0644() {
        let root = tempfile::tempdir().unwrap();
        let conf = root.path().join(CONF_PATH);
        std::fs::create_dir_all(conf.parent().unwrap()).unwrap();
        std::fs::write(&conf, "# mine\nbr_netfilter").unwrap();

        let p = persist(root.path(), &names(&["xt_comment", "br-netfilter"])).unwrap();
        assert!(p.changed);
        assert_eq!(p.added, names(&["xt_comment"]));
        assert_eq!(std::fs::read_to_string(&conf).unwrap(), "# mine\nbr_netfilter\nxt_comment\n");
        assert_eq!(std::fs::metadata(&conf).unwrap().permissions().mode() & 0o777, 0o644);
        assert!(p.readers.is_empty());
        assert!(p.note.contains("nothing on this host reads"));

        let again = persist(root.path(), &names(&["xt_comment"])).unwrap();
        assert!(!again.changed);
        assert_eq!(std::fs::read_to_string(&conf).unwrap(), "# mine\nbr_netfilter\nxt_comment\n");
        let leftovers: Vec<_> = std::fs::read_dir(conf.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file left");
    }

    #[test]
    fn creates_the_directory_and_finds_readers() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("lib/systemd")).unwrap();
        std::fs::write(root.path().join("lib/systemd/systemd-modules-load"), "").unwrap();
        let p = persist(root.path(), &names(&["xt_comment"])).unwrap();
        assert_eq!(p.readers, vec!["/lib/systemd/systemd-modules-load"]);
        assert!(std::fs::read_to_string(root.path().join(CONF_PATH)).unwrap().ends_with("xt_comment\n"));
    }

    #[test]
    fn failures_name_the_file_and_leave_nothing_behind() {
        // The directory is a regular file: nothing can be created in it.
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("etc")).unwrap();
        std::fs::write(root.path().join("etc/modules-load.d"), "not a directory").unwrap();
        let e = persist(root.path(), &names(&["xt_comment"])).unwrap_err();
        assert!(e.to_string().contains("xtprobe.conf"), "{e}");
        assert_eq!(
            std::fs::read_to_string(root.path().join("etc/modules-load.d")).unwrap(),
            "not a directory"
        );

        // The file is a directory: it cannot be read, so it is not replaced.
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join(CONF_PATH)).unwrap();
        assert!(persist(root.path(), &names(&["xt_comment"])).is_err());
        assert!(root.path().join(CONF_PATH).is_dir());
        assert_eq!(std::fs::read_dir(root.path().join("etc/modules-load.d")).unwrap().count(), 1);
    }
}
