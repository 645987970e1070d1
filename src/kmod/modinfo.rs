//! The `.modinfo` section of a kernel module: NUL-separated `key=value`
//! strings written by `MODULE_*()` macros and modpost (`depends=`,
//! `softdep=`, `alias=`, `vermagic=`, `name=`).
//!
//! This is how dependencies are found when there is no modules.dep (Debian's
//! packages ship none; depmod writes it at install time), as busybox's
//! modprobe-small does. The ELF container is read with the `object` crate.

use object::{Object, ObjectSection};

use super::name::ModuleName;

/// What a module says about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModInfo {
    /// `name=`: the module's own name (modern kernels).
    pub name: Option<String>,
    /// `depends=`: modules whose symbols it uses, comma-separated.
    pub depends: Vec<ModuleName>,
    /// `softdep=` `pre:` entries (module names or aliases).
    pub softdep_pre: Vec<String>,
    /// `softdep=` `post:` entries.
    pub softdep_post: Vec<String>,
    /// `alias=` patterns.
    pub aliases: Vec<String>,
    /// `vermagic=`: the kernel release and options it was built for.
    pub vermagic: Option<String>,
}

/// Why `.modinfo` could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModinfoError {
    /// Not a readable ELF object (truncated, corrupt, or not ELF at all).
    #[error("not a valid ELF object: {0}")]
    BadElf(String),
    /// ELF, but without the section every kernel module has.
    #[error("ELF file without a .modinfo section: not a kernel module")]
    NoModinfo,
}

impl ModInfo {
    /// Reads `.modinfo` from a (decompressed) module image.
    pub fn from_elf(image: &[u8]) -> Result<Self, ModinfoError> {
        let file = object::File::parse(image).map_err(|e| ModinfoError::BadElf(e.to_string()))?;
        let section = file.section_by_name(".modinfo").ok_or(ModinfoError::NoModinfo)?;
        let data = section.data().map_err(|e| ModinfoError::BadElf(e.to_string()))?;
        Ok(Self::parse(data))
    }

    /// Parses the raw section: `key=value` strings separated (and padded)
    /// by NULs. Unknown keys and malformed entries are ignored.
    pub fn parse(section: &[u8]) -> Self {
        let mut info = ModInfo::default();
        for entry in section.split(|&b| b == 0).filter(|e| !e.is_empty()) {
            let entry = String::from_utf8_lossy(entry);
            let Some((key, value)) = entry.split_once('=') else { continue };
            match key {
                "name" => info.name = Some(value.to_string()),
                "depends" => info
                    .depends
                    .extend(value.split(',').map(str::trim).filter(|d| !d.is_empty()).map(ModuleName::new)),
                "softdep" => {
                    let (pre, post) = parse_softdep(value);
                    info.softdep_pre.extend(pre);
                    info.softdep_post.extend(post);
                }
                "alias" => info.aliases.push(value.to_string()),
                "vermagic" => info.vermagic = Some(value.trim().to_string()),
                _ => {}
            }
        }
        info
    }

    /// The kernel release in `vermagic=` (its first word).
    pub fn vermagic_release(&self) -> Option<&str> {
        self.vermagic.as_deref()?.split_whitespace().next()
    }
}

/// Parses a softdep value, `pre: a b post: c`, as in modprobe.d(5). Words
/// before any `pre:`/`post:` count as `pre:`, as modules.softdep lines
/// such as `softdep cifs gcm` rely on.
pub fn parse_softdep(value: &str) -> (Vec<String>, Vec<String>) {
    let (mut pre, mut post) = (Vec::new(), Vec::new());
    let mut into_post = false;
    for word in value.split_whitespace() {
        match word {
            "pre:" => into_post = false,
            "post:" => into_post = true,
            w if into_post => post.push(w.to_string()),
            w => pre.push(w.to_string()),
        }
    }
    (pre, post)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_debian_xt_comment_modinfo() {
        // The strings of Debian 6.12's xt_comment.ko, in section order.
        let raw = b"alias=ip6t_comment\0alias=ipt_comment\0license=GPL\0\
description=Xtables: No-op match which can be tagged with a comment\0\
author=Brad Fisher <brad@info-link.net>\0depends=x_tables\0intree=Y\0name=xt_comment\0\
retpoline=Y\0vermagic=6.12.117+deb12-amd64 SMP preempt mod_unload modversions \0\0\0";
        let info = ModInfo::parse(raw);
        assert_eq!(info.name.as_deref(), Some("xt_comment"));
        assert_eq!(info.depends, vec![ModuleName::new("x_tables")]);
        assert_eq!(info.aliases, vec!["ip6t_comment", "ipt_comment"]);
        assert_eq!(info.vermagic_release(), Some("6.12.117+deb12-amd64"));
    }

    #[test]
    fn empty_depends_and_softdeps() {
        let info = ModInfo::parse(b"depends=\0softdep=pre: crc32c post: foo bar\0");
        assert!(info.depends.is_empty());
        assert_eq!(info.softdep_pre, vec!["crc32c"]);
        assert_eq!(info.softdep_post, vec!["foo", "bar"]);
        let (pre, post) = parse_softdep("gcm");
        assert_eq!((pre, post), (vec!["gcm".to_string()], vec![]));
    }

    #[test]
    fn not_elf_and_truncated_elf() {
        assert!(matches!(ModInfo::from_elf(b"hello"), Err(ModinfoError::BadElf(_))));
        let mut head = b"\x7fELF\x02\x01\x01\0".to_vec();
        head.resize(40, 0);
        assert!(matches!(ModInfo::from_elf(&head), Err(ModinfoError::BadElf(_))));
    }
}
