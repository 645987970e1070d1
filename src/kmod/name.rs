//! Module names: what users may type, and the normalised form every
//! comparison uses.
//!
//! Normalisation follows libkmod's `modname_normalize` (shared/util.c): `-`
//! becomes `_` and the name ends at the first `.`, so `xt-comment`,
//! `xt_comment` and `xt_comment.ko.xz` are one module. Aliases follow
//! `alias_normalize`: `-` becomes `_` except inside `[...]` glob classes.

use std::fmt;
use std::path::Path;

use serde::Serialize;

/// `MODULE_NAME_LEN` (64) minus `sizeof(unsigned long)`: the longest name
/// `struct module` can hold (include/linux/module.h).
pub const MODULE_NAME_MAX: usize = 56;

/// Why a name given by the user is refused before anything is looked up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Nothing given.
    #[error("empty module name")]
    Empty,
    /// Longer than the kernel can hold.
    #[error("module name `{0}` is longer than {MODULE_NAME_MAX} bytes")]
    TooLong(String),
    /// Looks like a path: modules are looked up by name only.
    #[error("`{0}` is a path, not a module name: give the name (xt_comment) and, if needed, --modules-dir")]
    PathLike(String),
    /// Contains bytes no module name or alias has.
    #[error("module name `{0}` contains NUL, whitespace or control characters")]
    BadChar(String),
}

/// Checks a name or alias typed by the user: no `/`, no `..`, no NUL or
/// whitespace, not empty, at most [`MODULE_NAME_MAX`] bytes.
pub fn validate(query: &str) -> Result<(), NameError> {
    if query.is_empty() {
        return Err(NameError::Empty);
    }
    if query.contains('/') || query.contains("..") {
        return Err(NameError::PathLike(query.to_string()));
    }
    if query.bytes().any(|b| b == 0 || b.is_ascii_whitespace() || b.is_ascii_control() || b >= 0x7f) {
        return Err(NameError::BadChar(query.escape_debug().to_string()));
    }
    if query.len() > MODULE_NAME_MAX {
        return Err(NameError::TooLong(query.to_string()));
    }
    Ok(())
}

/// A normalised module name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ModuleName(String);

impl ModuleName {
    /// Normalises `name`: `-` → `_`, cut at the first `.`.
    pub fn new(name: &str) -> Self {
        let base = name.split('.').next().unwrap_or("");
        Self(base.replace('-', "_"))
    }

    /// The module a file holds, from its file name: `x_tables.ko.xz` →
    /// `x_tables`. `None` for files that are not modules.
    pub fn from_path(path: &Path) -> Option<Self> {
        let file = path.file_name()?.to_str()?;
        let stem = ["", ".xz", ".zst", ".gz"].iter().find_map(|c| file.strip_suffix(&format!(".ko{c}")))?;
        if stem.is_empty() {
            return None;
        }
        Some(Self::new(stem))
    }

    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ModuleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Normalises an alias or alias pattern: `-` → `_` outside `[...]`.
pub fn normalize_alias(alias: &str) -> String {
    let mut out = String::with_capacity(alias.len());
    let mut in_class = false;
    for c in alias.chars() {
        match c {
            '[' => in_class = true,
            ']' => in_class = false,
            '-' if !in_class => {
                out.push('_');
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_matches_libkmod() {
        assert_eq!(ModuleName::new("xt-comment").as_str(), "xt_comment");
        assert_eq!(ModuleName::new("amd-uncore.ko").as_str(), "amd_uncore");
        assert_eq!(
            ModuleName::from_path(Path::new("a/b/crc32c-intel.ko.xz")).unwrap().as_str(),
            "crc32c_intel"
        );
        assert_eq!(ModuleName::from_path(Path::new("x_tables.ko")).unwrap().as_str(), "x_tables");
        assert_eq!(ModuleName::from_path(Path::new("x_tables.ko.zst")).unwrap().as_str(), "x_tables");
        assert_eq!(ModuleName::from_path(Path::new("modules.dep")), None);
        assert_eq!(ModuleName::from_path(Path::new(".ko")), None);
        assert_eq!(normalize_alias("crypto-crc32c"), "crypto_crc32c");
        assert_eq!(normalize_alias("pci:v[0-9]*d-x"), "pci:v[0-9]*d_x");
    }

    #[test]
    fn refuses_unsafe_names() {
        assert_eq!(validate(""), Err(NameError::Empty));
        assert!(matches!(validate("../x_tables"), Err(NameError::PathLike(_))));
        assert!(matches!(validate("net/xt_comment"), Err(NameError::PathLike(_))));
        assert!(matches!(validate("x..y"), Err(NameError::PathLike(_))));
        assert!(matches!(validate("xt\0comment"), Err(NameError::BadChar(_))));
        assert!(matches!(validate("xt comment"), Err(NameError::BadChar(_))));
        assert!(matches!(validate(&"a".repeat(57)), Err(NameError::TooLong(_))));
        assert!(validate(&"a".repeat(56)).is_ok());
        assert!(validate("nfnetlink-subsys-11").is_ok());
        assert!(validate("xt_comment.ko").is_ok());
    }
}
