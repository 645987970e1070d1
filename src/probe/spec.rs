//! Parsing what the user asks about: `comment`, `match:comment`,
//! `target:MASQUERADE`, `conntrack@3`, `expr:numgen`, `chain:nat`,
//! `family:bridge`, `set:interval`, `ipset:hash:ip,port@6`.
//!
//! The grammar is `[KIND:]NAME[@REV]`; a bare name is a match. Names are
//! validated here, before anything reaches the kernel, against the limits
//! the kernel enforces (`XT_EXTENSION_MAXNAMELEN`, `IPSET_MAXNAMELEN`,
//! 8-bit revisions) and, for nf_tables kinds, against what xtprobe knows how
//! to ask: a revision of 300 or an expression without a recipe is a usage
//! error, not a kernel errno.

use std::fmt;
use std::str::FromStr;

use super::consts::XT_EXTENSION_MAXNAMELEN;
use super::ipset::abi::IPSET_MAXNAMELEN;
use super::nftables::recipe;
use super::{Extension, Family, Kind};

/// One thing the user requires, optionally at a given revision.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Requirement {
    /// What is required.
    pub extension: Extension,
    /// The revision that must be supported; `None` means any revision.
    pub revision: Option<u8>,
}

/// Why a requirement could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// Nothing to parse.
    #[error("empty name")]
    Empty,
    /// A kind xtprobe does not know.
    #[error(
        "unknown kind `{0}`: write match:NAME, target:NAME, expr:NAME, chain:TYPE, family:NAME, \
         set:FEATURE, ipset:TYPE, table:NAME, logger:syslog|nflog, helper:NAME, object:TYPE or \
         textsearch:ALGO (a bare NAME is a match)"
    )]
    Kind(String),
    /// The name is longer than the kernel allows.
    #[error("{kind} name `{name}` is longer than {max} bytes, the kernel's limit")]
    TooLong {
        /// The kind.
        kind: Kind,
        /// The name.
        name: String,
        /// The limit, NUL excluded.
        max: usize,
    },
    /// The name has characters no such name uses.
    #[error("{kind} name `{name}` may only contain {allowed}")]
    BadChar {
        /// The kind.
        kind: Kind,
        /// The name.
        name: String,
        /// What is allowed.
        allowed: &'static str,
    },
    /// An nf_tables name xtprobe has no question for.
    #[error("unknown {kind} `{name}`: xtprobe can ask about {known}")]
    Unknown {
        /// The kind.
        kind: Kind,
        /// The name.
        name: String,
        /// The names it knows, comma-separated.
        known: String,
    },
    /// The revision is not a number from 0 to 255.
    #[error("revision `{0}` is not a number from 0 to 255 (revisions are 8-bit in the kernel)")]
    Revision(String),
    /// A revision on a kind that has none.
    #[error("{0} requirements have no revision (only match, target and ipset do); drop the @REV")]
    NoRevision(Kind),
}

impl FromStr for Requirement {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, SpecError> {
        let (kind, rest) = match s.split_once(':') {
            Some((k, rest)) => (Kind::parse(k).ok_or_else(|| SpecError::Kind(k.to_string()))?, rest),
            None => (Kind::Match, s),
        };
        let (name, revision) = match rest.rsplit_once('@') {
            Some((name, rev)) => {
                if !kind.has_revisions() {
                    return Err(SpecError::NoRevision(kind));
                }
                let rev = rev.parse::<u8>().map_err(|_| SpecError::Revision(rev.to_string()))?;
                (name, Some(rev))
            }
            None => (rest, None),
        };
        let name = canonical_name(kind, name)?;
        Ok(Requirement { extension: Extension { kind, name }, revision })
    }
}

/// Checks a name of `kind` and returns it as xtprobe shows it (family
/// words and nf_tables names are normalised; xtables names are exact).
pub fn canonical_name(kind: Kind, name: &str) -> Result<String, SpecError> {
    if name.is_empty() {
        return Err(SpecError::Empty);
    }
    let simple = |allowed: &'static str, ok: &dyn Fn(u8) -> bool, max: usize| {
        if name.len() > max {
            return Err(SpecError::TooLong { kind, name: name.to_string(), max });
        }
        if !name.bytes().all(ok) {
            return Err(SpecError::BadChar { kind, name: name.to_string(), allowed });
        }
        Ok(name.to_string())
    };
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    let unknown =
        |known: Vec<&str>| SpecError::Unknown { kind, name: name.to_string(), known: known.join(", ") };
    match kind {
        Kind::Match | Kind::Target => {
            simple("letters, digits, `_` and `-`", &word, XT_EXTENSION_MAXNAMELEN - 1)
        }
        Kind::Expr => {
            let lower = name.to_ascii_lowercase();
            recipe::expr(&lower).map(|r| r.name.to_string()).ok_or_else(|| unknown(recipe::expr_names()))
        }
        Kind::Chain => {
            let lower = name.to_ascii_lowercase();
            recipe::CHAIN_TYPES
                .iter()
                .find(|t| **t == lower)
                .map(|t| t.to_string())
                .ok_or_else(|| unknown(recipe::CHAIN_TYPES.to_vec()))
        }
        Kind::Family => Family::parse(name)
            .map(|f| f.as_str().to_string())
            .ok_or_else(|| unknown(Family::ALL.iter().map(|f| f.as_str()).collect())),
        Kind::Set => {
            let lower = name.to_ascii_lowercase();
            recipe::set_feature(&lower)
                .map(|f| f.name.to_string())
                .ok_or_else(|| unknown(recipe::SET_FEATURES.iter().map(|f| f.name).collect()))
        }
        Kind::Ipset => simple(
            "lower-case letters, digits, `:` and `,` (hash:ip,port)",
            &|b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b':' || b == b',',
            IPSET_MAXNAMELEN - 1,
        ),
        Kind::Table => known(&name.to_ascii_lowercase(), super::xt::legacy::TABLES)
            .ok_or_else(|| unknown(super::xt::legacy::TABLES.to_vec())),
        Kind::Logger => recipe::logger(&name.to_ascii_lowercase())
            .map(|l| l.name.to_string())
            .ok_or_else(|| unknown(recipe::LOGGERS.iter().map(|l| l.name).collect())),
        // Helper names are case-sensitive in the kernel (`RAS`, `Q.931`).
        Kind::Helper => recipe::helper(name)
            .map(|h| h.name.to_string())
            .ok_or_else(|| unknown(recipe::HELPERS.iter().map(|h| h.name).collect())),
        Kind::Object => recipe::object(&name.to_ascii_lowercase().replace(' ', "-"))
            .map(|o| o.name.to_string())
            .ok_or_else(|| unknown(recipe::OBJECTS.iter().map(|o| o.name).collect())),
        Kind::Textsearch => known(&name.to_ascii_lowercase(), recipe::TEXTSEARCH)
            .ok_or_else(|| unknown(recipe::TEXTSEARCH.to_vec())),
    }
}

fn known(name: &str, names: &[&str]) -> Option<String> {
    names.iter().find(|n| **n == name).map(|n| n.to_string())
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
        assert!(matches!(req(&"x".repeat(29)), Err(SpecError::TooLong { .. })));
        assert!(req(&"x".repeat(28)).is_ok());
        assert!(matches!(req("../x"), Err(SpecError::BadChar { .. })));
        assert!(matches!(req("a b"), Err(SpecError::BadChar { .. })));
        assert!(matches!(req("hash:ip"), Err(SpecError::Kind(_))), "ipset types need their kind");
    }

    #[test]
    fn nf_tables_and_ipset_kinds() {
        let r = req("expr:numgen").unwrap();
        assert_eq!((r.extension.kind, r.extension.name.as_str()), (Kind::Expr, "numgen"));
        assert_eq!(req("expr:NumGen").unwrap().extension.name, "numgen", "nf_tables names are lower case");
        assert_eq!(req("chain:nat").unwrap().extension.kind, Kind::Chain);
        assert_eq!(req("family:ip").unwrap().extension.name, "ipv4", "one word per family");
        assert_eq!(req("family:netdev").unwrap().extension.name, "netdev");
        assert_eq!(req("set:interval").unwrap().extension.kind, Kind::Set);
        let r = req("ipset:hash:ip,port@6").unwrap();
        assert_eq!((r.extension.name.as_str(), r.revision), ("hash:ip,port", Some(6)));
        assert_eq!(req("ipset:hash:ip,port").unwrap().revision, None);
    }

    #[test]
    fn nf_tables_kinds_reject_what_cannot_be_asked() {
        assert_eq!(req("expr:numgen@1"), Err(SpecError::NoRevision(Kind::Expr)));
        assert_eq!(req("family:ip@0"), Err(SpecError::NoRevision(Kind::Family)));
        assert!(matches!(req("expr:nosuch"), Err(SpecError::Unknown { kind: Kind::Expr, .. })));
        assert!(matches!(req("chain:mangle"), Err(SpecError::Unknown { kind: Kind::Chain, .. })));
        assert!(matches!(req("family:ipx"), Err(SpecError::Unknown { kind: Kind::Family, .. })));
        assert!(matches!(req("set:bloom"), Err(SpecError::Unknown { kind: Kind::Set, .. })));
        assert!(matches!(req("ipset:Hash:IP"), Err(SpecError::BadChar { kind: Kind::Ipset, .. })));
        assert!(matches!(req("ipset:hash:ip port"), Err(SpecError::BadChar { .. })));
        assert!(matches!(req(&format!("ipset:{}", "a".repeat(32))), Err(SpecError::TooLong { .. })));
        assert!(matches!(req("ipset:hash:ip@x"), Err(SpecError::Revision(_))));
        let e = req("expr:nosuch").unwrap_err().to_string();
        assert!(e.contains("numgen"), "{e}");
    }

    #[test]
    fn displays_as_parsed() {
        assert_eq!(req("target:DNAT@2").unwrap().to_string(), "target:DNAT@2");
    }
}
