//! Debian's own kernels, without building: the newest image package of a
//! series, fetched with `apt-get download` and unpacked with `dpkg -x`.
//!
//! Each entry holds `root/` (the package as shipped: modules but no
//! modules.dep, since Debian's postinst runs depmod) and `depmod/` (a
//! hard-linked copy on which `depmod` ran, as an installed system has it).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::cache::{self, Result, build_atomically, progress};

/// A Debian kernel series: the package name with `{N}` where the ABI or
/// patch number goes (`linux-image-6.1.0-{N}-amd64`).
#[derive(Debug, Clone, Deserialize)]
pub struct DistroSpec {
    /// The name the matrix uses.
    pub name: String,
    /// The package name template.
    pub package: String,
    /// Its architecture (default x86_64; arm64 needs `dpkg
    /// --add-architecture arm64` and `apt-get update`).
    #[serde(default)]
    pub arch: crate::arch::Arch,
}

/// A fetched Debian kernel.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DistroKernel {
    /// The name the matrix uses.
    pub name: String,
    /// The package fetched.
    pub package: String,
    /// The kernel release (`uname -r` in the guest).
    pub release: String,
    /// The compressed kernel image.
    pub bzimage: PathBuf,
    /// The modules directory as shipped (no modules.dep).
    pub modules_shipped: PathBuf,
    /// The modules directory after depmod.
    pub modules_depmod: PathBuf,
    /// Its architecture.
    #[serde(default)]
    pub arch: crate::arch::Arch,
}

/// Whether `name` fits `template` (`{N}` standing for digits); returns the number.
fn template_number(template: &str, name: &str) -> Option<u64> {
    let (pre, post) = template.split_once("{N}")?;
    let mid = name.strip_prefix(pre)?.strip_suffix(post)?;
    if mid.is_empty() || !mid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    mid.parse().ok()
}

/// The newest available package matching the spec's template.
pub fn newest_package(spec: &DistroSpec) -> Result<String> {
    let (prefix, _) =
        spec.package.split_once("{N}").ok_or(format!("{}: package template lacks {{N}}", spec.name))?;
    let names = cache::run(Command::new("apt-cache").args(["pkgnames", prefix]))?;
    names
        .lines()
        .filter_map(|n| template_number(&spec.package, n.trim()).map(|v| (v, n.trim().to_string())))
        .max()
        .map(|(_, n)| n)
        .ok_or(format!(
            "no package matches {} (run `apt-get update`; is this Debian 12 with bookworm-security?)",
            spec.package
        ))
}

/// Fetches (or finds in the cache) the newest kernel of `spec`.
pub fn fetch(spec: &DistroSpec) -> Result<DistroKernel> {
    let package = newest_package(spec)?;
    let mut k = package_kernel_arch(&spec.name, &package, spec.arch)?;
    k.arch = spec.arch;
    Ok(k)
}

/// Fetches (or finds in the cache) the kernel package `package` by name
/// (`apt-get download`), known as `name`.
pub fn package_kernel(name: &str, package: &str) -> Result<DistroKernel> {
    package_kernel_arch(name, package, crate::arch::Arch::X86_64)
}

/// [`package_kernel`] of another architecture's package (`NAME:arm64`).
pub fn package_kernel_arch(name: &str, package: &str, arch: crate::arch::Arch) -> Result<DistroKernel> {
    let wanted = match arch {
        crate::arch::Arch::X86_64 => package.to_string(),
        a => format!("{package}:{}", a.debian()),
    };
    let mut k = unpacked(name, package, &|tmp| {
        progress(&format!("{name}: fetching {wanted}"));
        cache::run(Command::new("apt-get").args(["download", "-q", &wanted]).current_dir(tmp))?;
        std::fs::read_dir(tmp)
            .map_err(|e| e.to_string())?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "deb"))
            .ok_or_else(|| "apt-get download produced no .deb".to_string())
    })?;
    k.arch = arch;
    Ok(k)
}

/// A kernel package file (`linux-image-*.deb`), unpacked into the cache
/// under its package name and version.
pub fn deb_kernel(deb: &Path) -> Result<DistroKernel> {
    let field = |f: &str| -> Result<String> {
        Ok(cache::run(Command::new("dpkg-deb").arg("-f").arg(deb).arg(f))?.trim().to_string())
    };
    let (package, version) = (field("Package")?, field("Version")?);
    if !package.starts_with("linux-image") {
        return Err(format!("{}: package {package} is not a kernel image (linux-image-*)", deb.display()));
    }
    let key = format!("{package}_{version}").replace(['/', ':'], "_");
    let deb = deb.canonicalize().map_err(|e| format!("{}: {e}", deb.display()))?;
    unpacked(&package, &key, &|_| Ok(deb.clone()))
}

/// A kernel package unpacked into the cache entry `key`: `root/` as
/// shipped and `depmod/` indexed, from the `.deb` `get` gives (in `tmp`).
fn unpacked(name: &str, key: &str, get: &dyn Fn(&Path) -> Result<PathBuf>) -> Result<DistroKernel> {
    let package = key.to_string();
    let spec_name = name.to_string();
    let entry = cache::root().join("distro").join(key);
    build_atomically(&entry, |tmp| {
        let deb = get(tmp)?;
        let root = tmp.join("root");
        cache::run(Command::new("dpkg").arg("-x").arg(&deb).arg(&root))?;
        if deb.starts_with(tmp) {
            std::fs::remove_file(&deb).map_err(|e| e.to_string())?;
        }
        let release = release_of(&root)?;
        progress(&format!("{spec_name}: depmod {release}"));
        let depmod = tmp.join("depmod");
        cache::run(Command::new("cp").arg("-al").arg(&root).arg(&depmod))?;
        cache::run(Command::new("depmod").arg("-b").arg(&depmod).arg(&release))?;
        Ok(())
    })?;
    let root = entry.join("root");
    let release = release_of(&root)?;
    Ok(DistroKernel {
        name: spec_name,
        package,
        bzimage: root.join(format!("boot/vmlinuz-{release}")),
        modules_shipped: root.join("lib/modules").join(&release),
        modules_depmod: entry.join("depmod/lib/modules").join(&release),
        release,
        arch: crate::arch::Arch::X86_64,
    })
}

/// The single release under `root/lib/modules`.
fn release_of(root: &Path) -> Result<String> {
    let dir = root.join("lib/modules");
    let mut releases: Vec<String> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(String::from))
        .collect();
    releases.sort();
    match releases.as_slice() {
        [one] => Ok(one.clone()),
        other => Err(format!("{}: expected one kernel release, found {other:?}", dir.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::template_number;

    #[test]
    fn templates() {
        assert_eq!(template_number("linux-image-6.1.0-{N}-amd64", "linux-image-6.1.0-56-amd64"), Some(56));
        assert_eq!(
            template_number("linux-image-6.1.0-{N}-amd64", "linux-image-6.1.0-56-amd64-unsigned"),
            None
        );
        assert_eq!(template_number("linux-image-6.1.0-{N}-amd64", "linux-image-6.1.0-56-cloud-amd64"), None);
        assert_eq!(
            template_number("linux-image-6.12.{N}+deb12-amd64", "linux-image-6.12.117+deb12-amd64"),
            Some(117)
        );
        assert_eq!(
            template_number("linux-image-6.12.{N}+deb12-amd64", "linux-image-6.12.117+deb12-rt-amd64"),
            None
        );
    }
}
