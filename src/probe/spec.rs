//! Parsing what the user asks about: `comment`, `match:comment`,
//! `target:MASQUERADE`, `conntrack@3`.
//!
//! Names are validated here, before anything reaches the kernel, against the
//! limits the kernel enforces: `XT_EXTENSION_MAXNAMELEN` (29 bytes with the
//! NUL) and revisions that fit in a `u8`. A revision of 300 is therefore a
//! usage error, not a kernel `ERANGE`.

use std::fmt;
use std::str::FromStr;

use super::consts::XT_EXTENSION_MAXNAMELEN;
use super::{Extension, Kind};

/// One extension the user requires, optionally at a given revision.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Requirement {
    /// The extension.
    pub extension: Extension,
    /// The revision that must be supported; `None` means any revision.
    pub revision: Option<u8>,
}

/// Why a requirement could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// Nothing to parse.
    #[error("empty extension name")]
    Empty,
    /// A kind other than `match` or `target`.
    #[error("unknown kind `{0}`: write `match:NAME` or `target:NAME`")]
    Kind(String),
    /// The name is longer than the kernel allows.
    #[error("extension name `{0}` is longer than {max} bytes, the kernel's limit", max = XT_EXTENSION_MAXNAMELEN - 1)]
    TooLong(String),
    /// The name has characters no extension uses.
    #[error("extension name `{0}` may only contain letters, digits, `_` and `-`")]
    BadChar(String),
    /// The revision is not a number from 0 to 255.
    #[error("revision `{0}` is not a number from 0 to 255 (revisions are 8-bit in the kernel)")]
    Revision(String),
}

impl FromStr for Requirement {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, SpecError> {
        let (kind, rest) = match s.split_once(':') {
            Some((k, rest)) => {
                let kind = match k.to_ascii_lowercase().as_str() {
                    "match" | "m" => Kind::Match,
                    "target" | "t" | "j" => Kind::Target,
                    _ => return Err(SpecError::Kind(k.to_string())),
                };
                (kind, rest)
            }
            None => (Kind::Match, s),
        };
        let (name, revision) = match rest.split_once('@') {
            Some((name, rev)) => {
                let rev = rev.parse::<u8>().map_err(|_| SpecError::Revision(rev.to_string()))?;
                (name, Some(rev))
            }
            None => (rest, None),
        };
        validate_name(name)?;
        Ok(Requirement { extension: Extension { kind, name: name.to_string() }, revision })
    }
}

/// Checks an extension name against the kernel's limits.
pub fn validate_name(name: &str) -> Result<(), SpecError> {
    if name.is_empty() {
        return Err(SpecError::Empty);
    }
    if name.len() >= XT_EXTENSION_MAXNAMELEN {
        return Err(SpecError::TooLong(name.to_string()));
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        return Err(SpecError::BadChar(name.to_string()));
    }
    Ok(())
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.extension)?;
        if let Some(r) = self.revision {
            write!(f, "@{r}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(s: &str) -> Result<Requirement, SpecError> {
        s.parse()
    }

    #[test]
    fn bare_name_is_a_match() {
        let r = req("comment").unwrap();
        assert_eq!(r.extension, Extension::matching("comment"));
        assert_eq!(r.revision, None);
    }

    #[test]
    fn kinds_and_revisions() {
        assert_eq!(req("target:MASQUERADE").unwrap().extension, Extension::target("MASQUERADE"));
        assert_eq!(req("match:conntrack@3").unwrap().revision, Some(3));
        assert_eq!(req("conntrack@0").unwrap().revision, Some(0));
        assert_eq!(req("t:REJECT").unwrap().extension.kind, Kind::Target);
    }

    #[test]
    fn rejects_what_the_kernel_would() {
        assert_eq!(req("conntrack@300"), Err(SpecError::Revision("300".into())));
        assert_eq!(req("conntrack@-1"), Err(SpecError::Revision("-1".into())));
        assert_eq!(req("foo:bar"), Err(SpecError::Kind("foo".into())));
        assert_eq!(req(""), Err(SpecError::Empty));
        assert_eq!(req("match:"), Err(SpecError::Empty));
        assert!(matches!(req(&"x".repeat(29)), Err(SpecError::TooLong(_))));
        assert!(req(&"x".repeat(28)).is_ok());
        assert!(matches!(req("../x"), Err(SpecError::BadChar(_))));
        assert!(matches!(req("a b"), Err(SpecError::BadChar(_))));
    }

    #[test]
    fn displays_as_parsed() {
        assert_eq!(req("target:DNAT@2").unwrap().to_string(), "target:DNAT@2");
    }
}
