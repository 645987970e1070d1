//! The initramfs a case boots with: the static guest runner as `/init`, the
//! static xtprobe on `PATH`, the case, and — as the case asks — the
//! kernel's modules (all of them, or the closure of a few, with or without
//! modules.dep), busybox as `/sbin/modprobe`, and the real clients
//! (iptables-nft, nft, ipset) with their shared libraries and plugins.
//!
//! No `/sbin/modprobe` unless asked: that is the minimal host of the field
//! report, where the kernel's autoload silently fails.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cache::{self, Result};
use crate::cpio::Archive;
use crate::protocol::{CASE_PATH, GuestCase};

/// Which modules go into the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModuleSet {
    /// None: no `/lib/modules` at all.
    None,
    /// Every file of the directory.
    All(PathBuf),
    /// These modules and everything they need (per `modprobe
    /// --show-depends` on the directory, which must have modules.dep).
    Closure(PathBuf, Vec<String>),
}

/// What to pack.
#[derive(Debug, Clone)]
pub struct ImageSpec<'a> {
    /// The static guest runner.
    pub guest: &'a Path,
    /// The static xtprobe.
    pub xtprobe: &'a Path,
    /// The guest kernel's release (`/lib/modules/<release>`).
    pub release: &'a str,
    /// Modules to include.
    pub modules: ModuleSet,
    /// Leave out modules.dep and the other depmod output, as Debian's
    /// packages ship the tree (modules.builtin* and modules.order stay).
    pub without_modules_dep: bool,
    /// busybox (static) to install as `/sbin/modprobe`.
    pub modprobe: Option<&'a Path>,
    /// busybox (static) to install as `/bin/sh`, `cat`, `uname` (for
    /// cases that run shell scripts, like the initramfs hooks).
    pub shell: Option<&'a Path>,
    /// Host files to copy in: (source, destination in the image).
    pub files: &'a [(PathBuf, String)],
    /// Files made for the case: (destination, mode, bytes). They and
    /// `files` win over anything else at the same path (a made
    /// modules.dep replaces the tree's).
    pub made: &'a [(String, u32, Vec<u8>)],
    /// The real clients to include, with what they need.
    pub clients: &'a [Client],
    /// The case to run.
    pub case: &'a GuestCase,
    /// The guest's architecture: which clients to pack. Another
    /// architecture's come from its sysroot ([`crate::foreign`]).
    pub arch: crate::arch::Arch,
}

/// The busybox applets a case with `shell = true` gets.
const SHELL_APPLETS: [&str; 20] = [
    "sh", "cat", "uname", "echo", "sleep", "grep", "head", "tail", "wc", "cp", "rm", "mkdir", "ls", "true",
    "false", "test", "env", "dmesg", "id", "sed",
];

/// depmod's output files, left out by `without_modules_dep`.
const DEPMOD_OUTPUT: [&str; 11] = [
    "modules.dep",
    "modules.dep.bin",
    "modules.alias",
    "modules.alias.bin",
    "modules.softdep",
    "modules.symbols",
    "modules.symbols.bin",
    "modules.builtin.bin",
    "modules.builtin.alias.bin",
    "modules.devname",
    "modules.weakdep",
];

struct Builder {
    archive: Archive,
    made: BTreeSet<String>,
    files: BTreeSet<String>,
}

impl Builder {
    fn file(&mut self, path: &str, mode: u32, data: &[u8]) {
        if self.files.insert(path.to_string()) {
            self.archive.parents(path, &mut self.made);
            self.archive.file(path, mode, data);
        }
    }

    fn host_file(&mut self, dest: &str, src: &Path) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let data = std::fs::read(src).map_err(|e| format!("{}: {e}", src.display()))?;
        let mode = std::fs::metadata(src).map(|m| m.permissions().mode()).unwrap_or(0o644);
        self.file(dest, mode, &data);
        Ok(())
    }

    fn symlink(&mut self, path: &str, target: &str) {
        if self.files.insert(path.to_string()) {
            self.archive.parents(path, &mut self.made);
            self.archive.symlink(path, target);
        }
    }

    fn dir(&mut self, path: &str) {
        if self.made.insert(path.to_string()) {
            self.archive.parents(path, &mut self.made);
            self.archive.dir(path);
        }
    }
}

/// Packs the image described by `spec`.
pub fn build(spec: &ImageSpec<'_>) -> Result<Vec<u8>> {
    let mut b = Builder { archive: Archive::new(), made: BTreeSet::new(), files: BTreeSet::new() };
    for d in ["dev", "proc", "sys", "tmp", "run", "etc", "bin", "sbin", "xtp"] {
        b.dir(d);
    }
    // The kernel opens /dev/console for init's stdio before init can mount
    // devtmpfs, so the node must be in the archive.
    b.archive.char_device("dev/console", 0o600, 5, 1);
    b.host_file("init", spec.guest)?;
    b.host_file("bin/xtprobe", spec.xtprobe)?;
    // The case's own files first: the first file at a path wins.
    for (src, dest) in spec.files {
        b.host_file(dest.trim_start_matches('/'), src)?;
    }
    for (dest, mode, data) in spec.made {
        b.file(dest.trim_start_matches('/'), *mode, data);
    }
    let case = serde_json::to_vec_pretty(spec.case).map_err(|e| e.to_string())?;
    b.file(CASE_PATH.trim_start_matches('/'), 0o644, &case);

    let dest = format!("lib/modules/{}", spec.release);
    match &spec.modules {
        ModuleSet::None => {}
        ModuleSet::All(dir) => add_tree(&mut b, dir, &dest, spec.without_modules_dep)?,
        ModuleSet::Closure(dir, wanted) => {
            add_closure(&mut b, dir, &dest, wanted, spec.release, spec.without_modules_dep)?
        }
    }
    if let Some(busybox) = spec.modprobe {
        b.host_file("bin/busybox", busybox)?;
        b.symlink("sbin/modprobe", "/bin/busybox");
    }
    if let Some(busybox) = spec.shell {
        b.host_file("bin/busybox", busybox)?;
        for applet in SHELL_APPLETS {
            b.symlink(&format!("bin/{applet}"), "/bin/busybox");
        }
    }
    for client in spec.clients {
        match spec.arch {
            crate::arch::Arch::X86_64 => add_client(&mut b, *client)?,
            arch => add_foreign_client(&mut b, *client, arch)?,
        }
    }
    Ok(b.archive.finish())
}

fn add_tree(b: &mut Builder, dir: &Path, dest: &str, without_dep: bool) -> Result<()> {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).map_err(|e| format!("{}: {e}", d.display()))?.flatten() {
            let path = entry.path();
            let kind = entry.file_type().map_err(|e| e.to_string())?;
            let rel = path.strip_prefix(dir).expect("under dir").to_string_lossy().into_owned();
            if kind.is_symlink() {
                continue; // `build` and `source` point into kernel sources
            } else if kind.is_dir() {
                stack.push(path);
            } else if !(without_dep && DEPMOD_OUTPUT.contains(&rel.as_str())) {
                b.host_file(&format!("{dest}/{rel}"), &path)?;
            }
        }
    }
    b.dir(dest);
    Ok(())
}

fn add_closure(
    b: &mut Builder,
    dir: &Path,
    dest: &str,
    wanted: &[String],
    release: &str,
    without_dep: bool,
) -> Result<()> {
    // dir = <base>/lib/modules/<release>
    let base = dir.parent().and_then(Path::parent).and_then(Path::parent).ok_or("modules dir too short")?;
    let canonical = dir.canonicalize().map_err(|e| format!("{}: {e}", dir.display()))?;
    for module in wanted {
        let out = cache::run(
            Command::new("modprobe")
                .arg("-d")
                .arg(base)
                .arg("-S")
                .arg(release)
                .args(["--show-depends", module]),
        )?;
        for line in out.lines() {
            if let Some(path) = line.strip_prefix("insmod ") {
                let path = PathBuf::from(path.trim());
                let real = path.canonicalize().map_err(|e| format!("{}: {e}", path.display()))?;
                let rel = real
                    .strip_prefix(&canonical)
                    .map_err(|_| format!("{} is outside {}", real.display(), dir.display()))?;
                b.host_file(&format!("{dest}/{}", rel.display()), &real)?;
            }
        }
    }
    for entry in std::fs::read_dir(dir).map_err(|e| e.to_string())?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.path().is_file()
            && name.starts_with("modules.")
            && !(without_dep && DEPMOD_OUTPUT.contains(&name.as_str()))
        {
            b.host_file(&format!("{dest}/{name}"), &entry.path())?;
        }
    }
    Ok(())
}

/// A real netfilter client a case can run in the guest, taken from the
/// host's Debian packages with every shared library it loads (per ldd).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Client {
    /// iptables-nft (`xtables-nft-multi`) and every extension plugin, as
    /// `iptables`, `iptables-nft`, `ip6tables-nft` and their `-restore` and
    /// `-save` names.
    Iptables,
    /// iptables-legacy (`xtables-legacy-multi`) and every extension plugin,
    /// as `iptables-legacy`, `ip6tables-legacy` and their `-restore` and
    /// `-save` names.
    #[serde(rename = "iptables-legacy")]
    IptablesLegacy,
    /// nft (package nftables).
    Nft,
    /// ipset (package ipset).
    Ipset,
}

impl Client {
    /// Parses a client name.
    pub fn parse(s: &str) -> Option<Client> {
        match s {
            "iptables" => Some(Client::Iptables),
            "iptables-legacy" => Some(Client::IptablesLegacy),
            "nft" => Some(Client::Nft),
            "ipset" => Some(Client::Ipset),
            _ => None,
        }
    }

    /// The host binary, its package, extra objects to copy and the names to
    /// link to the binary.
    fn parts(self) -> (&'static str, &'static str, &'static [&'static str], &'static [&'static str]) {
        match self {
            Client::Iptables => (
                "/usr/sbin/xtables-nft-multi",
                "iptables",
                &[PLUGIN_DIR],
                &[
                    "usr/sbin/iptables-nft",
                    "usr/sbin/iptables",
                    "usr/sbin/ip6tables-nft",
                    "usr/sbin/ip6tables",
                    "usr/sbin/iptables-nft-restore",
                    "usr/sbin/ip6tables-nft-restore",
                    "usr/sbin/iptables-nft-save",
                    "usr/sbin/ip6tables-nft-save",
                ],
            ),
            Client::IptablesLegacy => (
                "/usr/sbin/xtables-legacy-multi",
                "iptables",
                &[PLUGIN_DIR],
                &[
                    "usr/sbin/iptables-legacy",
                    "usr/sbin/ip6tables-legacy",
                    "usr/sbin/iptables-legacy-restore",
                    "usr/sbin/ip6tables-legacy-restore",
                    "usr/sbin/iptables-legacy-save",
                    "usr/sbin/ip6tables-legacy-save",
                ],
            ),
            Client::Nft => ("/usr/sbin/nft", "nftables", &[], &[]),
            Client::Ipset => ("/usr/sbin/ipset", "ipset", &[], &[]),
        }
    }
}

/// Where Debian keeps the iptables extension plugins.
const PLUGIN_DIR: &str = "/usr/lib/x86_64-linux-gnu/xtables";

/// Copies `client` and every shared library it and its extra objects load.
fn add_client(b: &mut Builder, client: Client) -> Result<()> {
    let (binary, package, extra, links) = client.parts();
    let binary = Path::new(binary);
    if !binary.exists() {
        return Err(format!("{} is missing (apt-get install {package})", binary.display()));
    }
    let mut objects = vec![binary.to_path_buf()];
    for e in extra {
        let p = Path::new(e);
        if p.is_dir() {
            // Every plugin of the directory.
            let mut plugins: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|err| format!("{}: {err}", p.display()))?
                .flatten()
                .map(|d| d.path())
                .filter(|f| f.extension().is_some_and(|x| x == "so"))
                .collect();
            plugins.sort();
            objects.extend(plugins);
        } else if p.exists() {
            objects.push(p.to_path_buf());
        }
    }
    let mut libs = BTreeSet::new();
    for obj in &objects {
        for lib in ldd(obj)? {
            libs.insert(lib);
        }
    }
    for obj in objects.iter().chain(libs.iter()) {
        b.host_file(obj.to_string_lossy().trim_start_matches('/'), obj)?;
    }
    let name = binary.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    for link in links {
        b.symlink(link, name);
    }
    // The names rules use (`-p dccp`, `--dport ssh`, `--uid-owner root`)
    // resolve through these, as on any host (glibc's files backend).
    for (path, fallback) in NAME_FILES {
        let host = Path::new("/").join(path);
        match std::fs::read(&host) {
            Ok(bytes) => b.file(path, 0o644, &bytes),
            Err(_) => b.file(path, 0o644, fallback.as_bytes()),
        }
    }
    Ok(())
}

/// `client` for another architecture's guest, from its sysroot: the
/// binary, its plugins, and the libraries they need (read from their ELF
/// headers: ldd cannot run them).
fn add_foreign_client(b: &mut Builder, client: Client, arch: crate::arch::Arch) -> Result<()> {
    let (binary, _, extra, links) = client.parts();
    if !matches!(client, Client::Iptables | Client::IptablesLegacy) {
        return Err(format!("{arch} guests carry iptables only (not {client:?})"));
    }
    let root = crate::foreign::sysroot(arch)?;
    let rel_bin = binary.trim_start_matches('/');
    let mut objects = vec![root.join(rel_bin)];
    let host_lib = crate::arch::Arch::X86_64.multiarch_lib();
    for e in extra {
        let rel = e.trim_start_matches('/').replace(host_lib, arch.multiarch_lib());
        let dir = root.join(&rel);
        for f in std::fs::read_dir(&dir).map_err(|err| format!("{}: {err}", dir.display()))?.flatten() {
            if f.path().extension().is_some_and(|x| x == "so") {
                let name = f.file_name().to_string_lossy().into_owned();
                b.host_file(&format!("{rel}/{name}"), &f.path())?;
                objects.push(f.path());
            }
        }
    }
    b.host_file(rel_bin, &root.join(rel_bin))?;
    for (rel, real) in crate::foreign::closure(&root, arch, &objects)? {
        b.host_file(&rel, &real)?;
    }
    let name = Path::new(binary).file_name().and_then(|n| n.to_str()).unwrap_or_default();
    for link in links {
        b.symlink(link, name);
    }
    for (path, fallback) in NAME_FILES {
        match std::fs::read(Path::new("/").join(path)) {
            Ok(bytes) => b.file(path, 0o644, &bytes),
            Err(_) => b.file(path, 0o644, fallback.as_bytes()),
        }
    }
    Ok(())
}

/// The name databases a client reads, with what to use if the host has none.
const NAME_FILES: [(&str, &str); 5] = [
    ("etc/protocols", ""),
    ("etc/services", ""),
    ("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"),
    ("etc/group", "root:x:0:\n"),
    ("etc/nsswitch.conf", "passwd: files\ngroup: files\nprotocols: files\nservices: files\nhosts: files\n"),
];

/// The shared objects `path` loads, as the paths ldd resolves them to
/// (the dynamic loader included).
fn ldd(path: &Path) -> Result<Vec<PathBuf>> {
    let out = cache::run(Command::new("ldd").arg(path))?;
    let mut libs = Vec::new();
    for line in out.lines() {
        let line = line.trim();
        let candidate = match line.split_once("=>") {
            Some((_, rest)) => rest.split_whitespace().next(),
            None => line.split_whitespace().next().filter(|w| w.starts_with('/')),
        };
        if let Some(p) = candidate.filter(|p| p.starts_with('/')) {
            libs.push(PathBuf::from(p));
        }
    }
    Ok(libs)
}
