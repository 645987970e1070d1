//! The known-differences file: every disagreement the conformance suite
//! may meet that is not fixed, with its reason, checked into the
//! repository (`vm-images/conformance/known-differences.toml`).
//!
//! ```toml
//! [[difference]]
//! test = "libxt_SECMARK.t"          # the test file
//! rule = "-j SECMARK"               # a substring of the rule
//! runs = ["host-nft"]               # the runs it holds for (default: all)
//! kind = "not-kernel"               # the refusal is not about the kernel: counted apart
//!                                   # "difference": xtprobe is wrong here (counted against it)
//! reason = "needs an SELinux policy with that context; the kernel has SECMARK"
//! ```

use serde::Deserialize;

/// What kind of entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// The client refuses for a reason that is not the kernel's, in words
    /// that look like one (ENOENT from an SELinux lookup): counted apart.
    NotKernel,
    /// xtprobe's answer is wrong here and is not fixed: listed, and still
    /// counted as a disagreement.
    Difference,
}

/// One entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The test file.
    pub test: String,
    /// A substring of the rule.
    pub rule: String,
    /// The runs it holds for; empty: every run.
    #[serde(default)]
    pub runs: Vec<String>,
    /// Its kind.
    pub kind: Kind,
    /// Why.
    pub reason: String,
}

/// The file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Known {
    /// The entries.
    #[serde(default)]
    pub difference: Vec<Entry>,
}

impl Known {
    /// Reads the file.
    pub fn load(path: &std::path::Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let k: Known = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        for e in &k.difference {
            if e.reason.trim().is_empty() || e.rule.is_empty() {
                return Err(format!(
                    "{}: the entry for {} needs a rule and a reason",
                    path.display(),
                    e.test
                ));
            }
        }
        Ok(k)
    }

    /// The entry covering `rule` of `test` in run `run`, if any.
    pub fn find(&self, run: &str, test: &str, rule: &str) -> Option<&Entry> {
        self.difference.iter().find(|e| {
            e.test == test && rule.contains(&e.rule) && (e.runs.is_empty() || e.runs.iter().any(|r| r == run))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_match_by_test_rule_and_run() {
        let k: Known = toml::from_str(
            "[[difference]]\ntest = \"libxt_SECMARK.t\"\nrule = \"-j SECMARK\"\nkind = \"not-kernel\"\nreason = \"selinux\"\n\
             [[difference]]\ntest = \"a.t\"\nrule = \"x\"\nruns = [\"host-nft\"]\nkind = \"difference\"\nreason = \"r\"\n",
        )
        .unwrap();
        assert!(k.find("guest", "libxt_SECMARK.t", "-j SECMARK --selctx x").is_some());
        assert!(k.find("guest", "libxt_SECMARK.t", "-j CONNSECMARK").is_none());
        assert!(k.find("host-nft", "a.t", "-x").is_some());
        assert!(k.find("host-legacy", "a.t", "-x").is_none());
        assert!(
            toml::from_str::<Known>(
                "[[difference]]\ntest = \"a\"\nrule = \"b\"\nkind = \"bogus\"\nreason = \"c\"\n"
            )
            .is_err()
        );
    }
}
