//! Minimal kernels from Debian's `linux-source-*` packages: `tinyconfig`
//! plus the fragments in `vm-images/fragments/`, one of which sets
//! `CONFIG_NETFILTER_XT_MATCH_COMMENT` to `y`, `m` or not set.
//!
//! One persistent build directory per source package (`O=`), the variant
//! toggled in place: switching variants recompiles only what the option
//! touches (about 9 s here), while a copied build directory rebuilds from
//! scratch (the `.cmd` files embed the absolute `O=` path). Artefacts are
//! cached under a key hashing the source package version, the compiler
//! version and the fragments, so an unchanged configuration is never built
//! twice on the same machine.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::cache::{self, Result, build_atomically, progress};

/// The value of `CONFIG_NETFILTER_XT_MATCH_COMMENT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    /// Built in.
    Y,
    /// A module.
    M,
    /// Not set.
    N,
}

impl Variant {
    /// The fragment file for this variant.
    pub fn fragment(self) -> &'static str {
        match self {
            Variant::Y => "comment-y.config",
            Variant::M => "comment-m.config",
            Variant::N => "comment-n.config",
        }
    }

    /// The line the final .config must contain.
    pub fn config_line(self) -> &'static str {
        match self {
            Variant::Y => "CONFIG_NETFILTER_XT_MATCH_COMMENT=y",
            Variant::M => "CONFIG_NETFILTER_XT_MATCH_COMMENT=m",
            Variant::N => "# CONFIG_NETFILTER_XT_MATCH_COMMENT is not set",
        }
    }
}

/// A minimal kernel to build.
#[derive(Debug, Clone, Deserialize)]
pub struct TinySpec {
    /// The name the matrix uses.
    pub name: String,
    /// The Debian source package, e.g. `linux-source-6.12`.
    pub source: String,
    /// The comment option's value.
    pub variant: Variant,
    /// More fragments from `fragments/`, merged after the variant's (for
    /// kernels that lack or add something: no nft_compat, nf_tables
    /// expressions as modules, …).
    #[serde(default)]
    pub fragments: Vec<String>,
    /// Lines the final `.config` must contain (an option whose
    /// dependencies are missing is dropped silently by olddefconfig).
    #[serde(default)]
    pub expect: Vec<String>,
    /// The architecture (default x86_64); aarch64 is cross-built with
    /// `aarch64-linux-gnu-gcc` and adds `fragments/arch-aarch64.config`.
    #[serde(default)]
    pub arch: crate::arch::Arch,
    /// The extra fragments may change the variant's option (a fragment
    /// that builds comment into the `n` kernel): its line is not required.
    #[serde(skip)]
    pub override_variant: bool,
}

/// A built minimal kernel.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TinyKernel {
    /// The name the matrix uses.
    pub name: String,
    /// `uname -r` in the guest.
    pub release: String,
    /// The kernel image.
    pub bzimage: PathBuf,
    /// The uncompressed ELF kernel with its PVH entry (booted directly on
    /// QEMU's microvm machine), when the configuration has `CONFIG_PVH=y`.
    #[serde(default)]
    pub vmlinux: Option<PathBuf>,
    /// `lib/modules/<release>` with modules.dep.
    pub modules: PathBuf,
    /// The final `.config`.
    pub config: PathBuf,
    /// Wall seconds the build took (0 when cached).
    pub build_seconds: f64,
    /// The architecture.
    #[serde(default)]
    pub arch: crate::arch::Arch,
}

fn package_version(source: &str) -> Result<String> {
    cache::run(Command::new("dpkg-query").args(["-W", "-f=${Version}", source]))
        .map_err(|_| format!("{source} is not installed (apt-get install {source})"))
}

fn compiler_version(arch: crate::arch::Arch) -> Result<String> {
    let gcc = format!("{}gcc", arch.cross_compile());
    let out = cache::run(Command::new(&gcc).arg("--version")).map_err(|e| {
        if arch == crate::arch::Arch::Aarch64 {
            format!("{e} (apt-get install gcc-aarch64-linux-gnu)")
        } else {
            e
        }
    })?;
    Ok(out.lines().next().unwrap_or("").to_string())
}

/// The cache key of `spec` with the given fragment texts.
pub fn key(source: &str, version: &str, compiler: &str, base: &str, variant: &str) -> String {
    let mut h = Sha256::new();
    for part in [source, version, compiler, base, variant] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    h.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect()
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// The cache entry's directory name for `spec` (`<name>-<key>`), and the
/// source package version it builds from.
pub fn entry_name(spec: &TinySpec, fragments: &Path) -> Result<(String, String)> {
    let version = package_version(&spec.source)?;
    let compiler = compiler_version(spec.arch)?;
    let needed = |e: String| {
        format!(
            "{e} (a [[tiny]] kernel is built from base.config and comment-{{y,m,n}}.config in the \
             list's fragments/ directory: copy them from xtprobe's vm-images/fragments)"
        )
    };
    let base = read(&fragments.join("base.config")).map_err(needed)?;
    let mut variant = read(&fragments.join(spec.variant.fragment())).map_err(needed)?;
    // Extra fragments join the variant's text in the key (a kernel without
    // any keeps the key it always had).
    for f in &spec.fragments {
        variant.push_str(&read(&fragments.join(f))?);
    }
    // Another architecture's kernel: its fragment joins the key (an x86_64
    // kernel keeps the key it always had).
    if let Some(f) = spec.arch.fragment() {
        variant.push_str(&read(&fragments.join(f))?);
    }
    let key = key(&spec.source, &version, &compiler, &base, &variant);
    Ok((format!("{}-{key}", spec.name), version))
}

/// Builds (or finds in the cache) the kernel `spec` describes.
pub fn build(spec: &TinySpec, fragments: &Path) -> Result<TinyKernel> {
    let fragments = &fragments.canonicalize().map_err(|e| format!("{}: {e}", fragments.display()))?;
    let (name, version) = entry_name(spec, fragments)?;
    let entry = cache::root().join("kernels").join(name);
    let mut seconds = 0.0;
    if !entry.exists() {
        let start = Instant::now();
        build_atomically(&entry, |tmp| compile(spec, &version, fragments, tmp))?;
        seconds = start.elapsed().as_secs_f64();
        progress(&format!("{}: built in {seconds:.0} s", spec.name));
    }
    let release = read(&entry.join("release"))?.trim().to_string();
    let vmlinux = entry.join("vmlinux");
    Ok(TinyKernel {
        name: spec.name.clone(),
        bzimage: entry.join("bzImage"),
        vmlinux: vmlinux.is_file().then_some(vmlinux),
        modules: entry.join("modules/lib/modules").join(&release),
        config: entry.join("config"),
        release,
        build_seconds: seconds,
        arch: spec.arch,
    })
}

fn compile(spec: &TinySpec, version: &str, fragments: &Path, out_entry: &Path) -> Result<()> {
    let tarball = PathBuf::from(format!("/usr/src/{}.tar.xz", spec.source));
    if !tarball.exists() {
        return Err(format!("{} is missing (apt-get install {})", tarball.display(), spec.source));
    }
    let work = cache::root().join("kbuild").join(format!("{}-{version}", spec.source));
    let src = work.join("src");
    build_atomically(&src, |tmp| {
        progress(&format!("{}: unpacking {}", spec.name, tarball.display()));
        cache::run(
            Command::new("tar").arg("xf").arg(&tarball).arg("--strip-components=1").arg("-C").arg(tmp),
        )?;
        Ok(())
    })?;
    // One build tree per architecture, shared by its kernels: a variant
    // after another rebuilds what changed, not everything.
    let out = match spec.arch {
        crate::arch::Arch::X86_64 => work.join("out"),
        a => work.join(format!("out-{}", a.name())),
    };
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    let make = |args: &[&str]| {
        let mut c = Command::new("make");
        c.arg("-C")
            .arg(&src)
            .arg(format!("O={}", out.display()))
            .arg(format!("ARCH={}", spec.arch.kernel_arch()));
        if !spec.arch.cross_compile().is_empty() {
            c.arg(format!("CROSS_COMPILE={}", spec.arch.cross_compile()));
        }
        c.args(args);
        c
    };
    progress(&format!("{}: configuring (tinyconfig + fragments, {})", spec.name, spec.variant.config_line()));
    cache::run(&mut make(&["-s", "tinyconfig"]))?;
    cache::run(
        Command::new(src.join("scripts/kconfig/merge_config.sh"))
            .arg("-m")
            .arg("-O")
            .arg(&out)
            .arg(out.join(".config"))
            .arg(fragments.join("base.config"))
            .args(spec.arch.fragment().map(|f| fragments.join(f)))
            .arg(fragments.join(spec.variant.fragment()))
            .args(spec.fragments.iter().map(|f| fragments.join(f)))
            .current_dir(&src),
    )?;
    cache::run(&mut make(&["-s", "olddefconfig"]))?;
    let config = read(&out.join(".config"))?;
    let variant_line = (!spec.override_variant).then(|| spec.variant.config_line());
    for line in variant_line.into_iter().chain(spec.expect.iter().map(String::as_str)) {
        if !config.lines().any(|l| l == line) {
            return Err(format!(
                "{}: the configuration lost `{line}` (a dependency of the option is missing from the fragments)",
                spec.name
            ));
        }
    }
    let jobs = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).to_string();
    cache::run_timed(
        &format!("{}: make -j{jobs} (a few minutes on a cold build tree)", spec.name),
        &mut make(&["-s", &format!("-j{jobs}")]),
    )?;
    let modules = out_entry.join("modules");
    cache::run(&mut make(&["-s", "modules_install", &format!("INSTALL_MOD_PATH={}", modules.display())]))?;
    let release = read(&out.join("include/config/kernel.release"))?.trim().to_string();
    // The cache calls the boot image bzImage whatever the architecture.
    std::fs::copy(out.join(spec.arch.image_in_tree()), out_entry.join("bzImage"))
        .map_err(|e| e.to_string())?;
    if config.lines().any(|l| l == "CONFIG_PVH=y") {
        std::fs::copy(out.join("vmlinux"), out_entry.join("vmlinux")).map_err(|e| e.to_string())?;
    }
    std::fs::write(out_entry.join("config"), config).map_err(|e| e.to_string())?;
    std::fs::write(out_entry.join("release"), &release).map_err(|e| e.to_string())?;
    Ok(())
}
