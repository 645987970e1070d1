//! Another architecture's userland for its guests: Debian's own packages
//! of that architecture (busybox-static, iptables and the libraries it
//! loads), fetched with `apt-get download NAME:ARCH` and unpacked with
//! `dpkg -x` into one cached directory (a sysroot). Nothing is installed
//! on the host; it needs `dpkg --add-architecture arm64` and
//! `apt-get update` once.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::arch::Arch;
use crate::cache::{self, Result, build_atomically, progress};

/// The packages a guest's userland comes from.
pub const PACKAGES: [&str; 10] = [
    "busybox-static",
    "libc6",
    "iptables",
    "libxtables12",
    "libip4tc2",
    "libip6tc2",
    "libnftnl11",
    "libmnl0",
    "libnetfilter-conntrack3",
    "libnfnetlink0",
];

/// The version apt would fetch of `package` for `arch`.
fn version(package: &str, arch: Arch) -> Result<String> {
    let out = cache::run(Command::new("apt-cache").args([
        "show",
        "--no-all-versions",
        &format!("{package}:{}", arch.debian()),
    ]))
    .map_err(|e| {
        format!("{e} (for {} guests: dpkg --add-architecture {} && apt-get update)", arch, arch.debian())
    })?;
    out.lines()
        .find_map(|l| l.strip_prefix("Version: "))
        .map(|v| v.trim().to_string())
        .ok_or_else(|| format!("apt-cache show {package}:{}: no version", arch.debian()))
}

/// The sysroot of `arch` (fetched once, cached by the packages' versions).
pub fn sysroot(arch: Arch) -> Result<PathBuf> {
    let mut key = String::new();
    let mut wanted = Vec::new();
    for p in PACKAGES {
        let v = version(p, arch)?;
        key.push_str(&format!("{p}={v}\n"));
        wanted.push(format!("{p}:{}={v}", arch.debian()));
    }
    let hash = crate::kbuild::key(&key, arch.name(), "", "", "");
    let entry = cache::root().join("foreign").join(format!("{}-{hash}", arch.debian()));
    build_atomically(&entry, |tmp| {
        progress(&format!("{arch} userland: fetching {}", PACKAGES.join(", ")));
        let debs = tmp.join("debs");
        std::fs::create_dir_all(&debs).map_err(|e| e.to_string())?;
        cache::run(Command::new("apt-get").args(["download", "-q"]).args(&wanted).current_dir(&debs))?;
        for deb in std::fs::read_dir(&debs).map_err(|e| e.to_string())?.flatten() {
            cache::run(Command::new("dpkg").arg("-x").arg(deb.path()).arg(tmp.join("root")))?;
        }
        std::fs::remove_dir_all(&debs).map_err(|e| e.to_string())?;
        Ok(())
    })?;
    Ok(entry.join("root"))
}

/// The `DT_NEEDED` names of an ELF file (`readelf -d`, which reads any
/// architecture's).
fn needed(path: &Path) -> Result<Vec<String>> {
    let out = cache::run(Command::new("readelf").arg("-dW").arg(path))?;
    Ok(out
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| l.split('[').nth(1).and_then(|r| r.split(']').next()).map(str::to_string))
        .collect())
}

/// The dynamic loader an ELF file asks for (`readelf -l`'s interpreter).
fn interpreter(path: &Path) -> Result<Option<String>> {
    let out = cache::run(Command::new("readelf").arg("-lW").arg(path))?;
    Ok(out.lines().find_map(|l| {
        l.split("[Requesting program interpreter: ")
            .nth(1)
            .and_then(|r| r.split(']').next())
            .map(str::to_string)
    }))
}

/// Every file (relative to `root`) that `objects` need at run time: the
/// libraries they and their libraries name, found in the multiarch
/// directories, and the dynamic loader; links resolved to the files.
pub fn closure(root: &Path, arch: Arch, objects: &[PathBuf]) -> Result<Vec<(String, PathBuf)>> {
    let dirs = [
        format!("lib/{}", arch.multiarch_lib().trim_start_matches("usr/lib/")),
        arch.multiarch_lib().to_string(),
    ];
    let mut out: Vec<(String, PathBuf)> = Vec::new();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut todo: Vec<PathBuf> = objects.to_vec();
    while let Some(obj) = todo.pop() {
        if let Some(interp) = interpreter(&obj)? {
            let rel = interp.trim_start_matches('/').to_string();
            if seen.insert(rel.clone()) {
                let real =
                    root.join(&rel).canonicalize().map_err(|e| format!("{}/{rel}: {e}", root.display()))?;
                out.push((rel, real));
            }
        }
        for lib in needed(&obj)? {
            let found = dirs.iter().map(|d| format!("{d}/{lib}")).find(|rel| root.join(rel).exists());
            let rel = found.ok_or_else(|| {
                format!(
                    "{}: needs {lib}, which none of {} provides (add its package to foreign::PACKAGES)",
                    obj.display(),
                    PACKAGES.join(", ")
                )
            })?;
            if seen.insert(rel.clone()) {
                let real = root.join(&rel).canonicalize().map_err(|e| format!("{rel}: {e}"))?;
                todo.push(real.clone());
                out.push((rel, real));
            }
        }
    }
    Ok(out)
}
