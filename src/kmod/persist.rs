//! Making a load survive reboots: `/etc/modules-load.d/xtprobe.conf`, one
//! module name per line, as modules-load.d(5) reads it.
//!
//! The update is a read-merge-write under an exclusive `flock` on
//! `.xtprobe.conf.lock` in the same directory, so concurrent runs never lose
//! each other's lines. Lines already there are kept, in order, comments
//! included. `etc/`, `modules-load.d/` and the file itself must not be
//! symbolic links (under `--root` a link could lead anywhere): they are
//! refused, never followed. The new file is written atomically (temporary
//! file created with `O_EXCL | O_NOFOLLOW`, `fsync`, `renameat`) with mode
//! 0644 set by `fchmod` whatever the umask, keeping the old file's owner.
//! Every name written is checked to be a module name (letters, digits,
//! `_`). The file is left untouched when it already lists every module. A
//! failed directory `fsync` after the rename is a warning, not a failure.
//!
//! Something must read it at boot: systemd-modules-load, or Debian's
//! sysvinit `/etc/init.d/kmod` (which runs `modprobe`). On hosts with
//! neither, the file does nothing; the report says so.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::name::{MODULE_NAME_MAX, ModuleName};
use crate::system::fs::{self, Dir, FileKind, FsError, Scope};

/// The file, relative to the root.
pub const CONF_PATH: &str = "etc/modules-load.d/xtprobe.conf";

const CONF_NAME: &str = "xtprobe.conf";
const LOCK_NAME: &str = ".xtprobe.conf.lock";
/// How long to wait for another xtprobe updating the file.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(30);
/// The largest modules-load.d file xtprobe will merge into.
pub const MAX_CONF_BYTES: u64 = 1 << 20;

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
    #[serde(serialize_with = "crate::system::fs::lossy::path")]
    pub path: PathBuf,
    /// Modules added by this call.
    pub added: Vec<ModuleName>,
    /// Whether the file was (re)written; false when it already listed all.
    pub changed: bool,
    /// Programs found that read the file at boot.
    pub readers: Vec<String>,
    /// A sentence about whether the entry will take effect.
    pub note: String,
    /// Problems that did not stop the write (a directory that could not be synced).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Why the file could not be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PersistError {
    /// A file or directory on the way was refused or failed.
    #[error("cannot update {CONF_PATH}: {0}")]
    File(#[from] FsError),
    /// A name that is not a module name.
    #[error("cannot update {CONF_PATH}: `{}` is not a module name (letters, digits and `_`, at most {MODULE_NAME_MAX} bytes)", .0.escape_debug())]
    Name(String),
}

/// The programs under `root` that would read modules-load.d at boot
/// (links resolved inside `root`, as in the booted image).
pub fn readers(root: &Path) -> Vec<String> {
    let Ok(dir) = Dir::open(root) else { return Vec::new() };
    READERS
        .iter()
        .filter(|r| dir.kind_of(Path::new(r), Scope::InRoot).is_some_and(|(k, _)| k == FileKind::Regular))
        .map(|r| format!("/{r}"))
        .collect()
}

/// Checks a name before it is written as a line of its own.
pub fn valid_name(name: &ModuleName) -> Result<(), PersistError> {
    let s = name.as_str();
    if s.is_empty() || s.len() > MODULE_NAME_MAX || !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Err(PersistError::Name(s.to_string()));
    }
    Ok(())
}

/// What `persist` would add, without writing anything (nothing is created).
pub fn pending(root: &Path, modules: &[ModuleName]) -> Result<Vec<ModuleName>, PersistError> {
    for m in modules {
        valid_name(m)?;
    }
    let existing = match open_existing_dir(root)? {
        Some(dir) => read_existing(&dir)?.0,
        None => String::new(),
    };
    Ok(missing(&existing, modules))
}

/// `root/etc/modules-load.d` if it exists, refusing links on the way.
fn open_existing_dir(root: &Path) -> Result<Option<Dir>, PersistError> {
    let root = Dir::open(root)?;
    let mut dir = root;
    for part in ["etc", "modules-load.d"] {
        match dir.open_dir(Path::new(part)) {
            Ok(d) => dir = d,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e.into()),
        }
        // open_dir resolves beneath and refuses a link in the last component.
    }
    Ok(Some(dir))
}

/// The current file's text and owner, or empty if there is none.
fn read_existing(dir: &Dir) -> Result<(String, Option<(u32, u32)>), PersistError> {
    let Some(file) = dir.open_existing(CONF_NAME)? else { return Ok((String::new(), None)) };
    let shown = dir.shown(Path::new(CONF_NAME));
    // A hard link could make it any file on the file system: its text
    // would be merged and rewritten, readable by all.
    if fs::link_count(&file).is_ok_and(|n| n > 1) {
        return Err(PersistError::File(FsError::Io {
            path: shown,
            op: "it has other hard links; refusing to merge into it",
            errno: crate::system::Errno(libc::EMLINK),
        }));
    }
    let bytes = fs::read_capped(&file, MAX_CONF_BYTES, &shown, "a modules-load.d file")?;
    let owner = fs::owner_and_mode(&file).ok().map(|(u, g, _)| (u, g));
    Ok((String::from_utf8_lossy(&bytes).into_owned(), owner))
}

fn missing(existing: &str, modules: &[ModuleName]) -> Vec<ModuleName> {
    let listed: std::collections::BTreeSet<ModuleName> = existing
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';'))
        .map(ModuleName::new)
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    modules.iter().filter(|m| !listed.contains(*m) && seen.insert(*m)).cloned().collect()
}

impl Persisted {
    /// A result that wrote nothing (a dry run, nothing to add): the file,
    /// the modules it would add, its readers at boot and why.
    pub fn unwritten(root: &Path, added: Vec<ModuleName>, note: String) -> Persisted {
        Persisted {
            path: root.join(CONF_PATH),
            added,
            changed: false,
            readers: readers(root),
            note,
            warnings: Vec::new(),
        }
    }
}

/// Adds `modules` to `<root>/etc/modules-load.d/xtprobe.conf`.
pub fn persist(root: &Path, modules: &[ModuleName]) -> Result<Persisted, PersistError> {
    for m in modules {
        valid_name(m)?;
    }
    let path = root.join(CONF_PATH);
    let readers = readers(root);
    let note = if readers.is_empty() {
        "nothing on this host reads /etc/modules-load.d (no systemd-modules-load, no /etc/init.d/kmod): \
         the entry will not load anything at boot; run `xtprobe ensure` from a boot hook instead (docs/boot.md; \
         installed as /usr/share/doc/xtprobe/boot.md.gz)"
            .to_string()
    } else {
        format!("read at boot by {}", readers.join(", "))
    };
    let dir = Dir::open(root)?.subdir_create("etc", 0o755)?.subdir_create("modules-load.d", 0o755)?;
    // Read, merge and write under the lock: a concurrent run waits here and
    // then reads what this one wrote.
    let _lock = dir.lock(LOCK_NAME, LOCK_WAIT)?;
    let (existing, owner) = read_existing(&dir)?;
    let added = missing(&existing, modules);
    if added.is_empty() {
        return Ok(Persisted { path, added, changed: false, readers, note, warnings: Vec::new() });
    }
    let mut content = if existing.is_empty() { HEADER.to_string() } else { existing };
    if !content.ends_with('\n') {
        content.push('\n');
    }
    for m in &added {
        content.push_str(m.as_str());
        content.push('\n');
    }
    let warning = dir.write_atomic(CONF_NAME, content.as_bytes(), 0o644, owner)?;
    Ok(Persisted { path, added, changed: true, readers, note, warnings: warning.into_iter().collect() })
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
        assert_eq!(listing(conf.parent().unwrap()), ["xtprobe.conf"], "no temporary file");
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
        assert_eq!(listing(&root.path().join("etc/modules-load.d")), ["xtprobe.conf"]);
    }

    fn listing(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn links_on_the_way_are_refused_and_nothing_outside_changes() {
        let outside = tempfile::tempdir().unwrap();
        let target = outside.path().join("victim");
        std::fs::write(&target, "precious\n").unwrap();
        // The file itself, `modules-load.d/` and `etc/` as links.
        type Plant<'a> = &'a dyn Fn(&Path);
        let cases: [(&str, Plant); 3] = [
            ("xtprobe.conf", &|r: &Path| {
                std::fs::create_dir_all(r.join("etc/modules-load.d")).unwrap();
                std::os::unix::fs::symlink(&target, r.join(CONF_PATH)).unwrap();
            }),
            ("modules-load.d", &|r: &Path| {
                std::fs::create_dir_all(r.join("etc")).unwrap();
                std::os::unix::fs::symlink(outside.path(), r.join("etc/modules-load.d")).unwrap();
            }),
            ("etc", &|r: &Path| std::os::unix::fs::symlink(outside.path(), r.join("etc")).unwrap()),
        ];
        for (what, plant) in cases {
            let root = tempfile::tempdir().unwrap();
            plant(root.path());
            let e = persist(root.path(), &names(&["xt_comment"])).unwrap_err();
            assert!(e.to_string().contains("symbolic link"), "{what}: {e}");
            assert!(pending(root.path(), &names(&["xt_comment"])).is_err(), "{what}: dry run too");
            assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious\n", "{what}");
            assert_eq!(listing(outside.path()), ["victim"], "{what}: nothing written outside");
        }
    }

    #[test]
    fn mode_is_0644_under_any_umask_and_the_owner_is_kept() {
        let root = tempfile::tempdir().unwrap();
        let conf = root.path().join(CONF_PATH);
        std::fs::create_dir_all(conf.parent().unwrap()).unwrap();
        std::fs::write(&conf, "a\n").unwrap();
        std::os::unix::fs::chown(&conf, Some(4242), Some(4343)).unwrap();
        let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
        let r = persist(root.path(), &names(&["xt_comment"]));
        nix::sys::stat::umask(old);
        r.unwrap();
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(&conf).unwrap();
        assert_eq!((m.mode() & 0o777, m.uid(), m.gid()), (0o644, 4242, 4343));
    }

    #[test]
    fn only_module_names_are_written() {
        let root = tempfile::tempdir().unwrap();
        for bad in ["a\nb", "x y", "", "\u{1b}[31m"] {
            let e = persist(root.path(), &[ModuleName::new(bad)]).unwrap_err();
            assert!(matches!(e, PersistError::Name(_)), "{bad:?}: {e}");
        }
        assert!(!root.path().join(CONF_PATH).exists());
    }

    #[test]
    fn concurrent_writers_lose_nothing() {
        let root = tempfile::tempdir().unwrap();
        let threads: Vec<_> = (0..50)
            .map(|i| {
                let r = root.path().to_path_buf();
                std::thread::spawn(move || persist(&r, &names(&[&format!("mod_{i}")])).unwrap())
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let text = std::fs::read_to_string(root.path().join(CONF_PATH)).unwrap();
        for i in 0..50 {
            assert_eq!(text.lines().filter(|l| *l == format!("mod_{i}")).count(), 1, "mod_{i}:\n{text}");
        }
    }
}
