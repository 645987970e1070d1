//! Turning EXT arguments or `--profile` into the needs to check.

use xtprobe::probe::Family;
use xtprobe::profile::{self, Need, Profile};

use super::Usage;
use crate::cli::TargetArgs;

/// The largest saved ruleset read by `--rules`.
const MAX_RULES_BYTES: u64 = 64 << 20;

/// The needs of saved rulesets: every requirement their rules, chains,
/// sets and tables name, in the families they name.
fn rules_needs(files: &[std::path::PathBuf], default_family: Family) -> Result<Vec<Need>, Usage> {
    use xtprobe::ruleset::{Tally, nft_json, save};
    let mut tally = Tally::default();
    for path in files {
        let shown = path.display().to_string();
        let bytes = xtprobe::system::fs::read_file(path, MAX_RULES_BYTES, "a rules file")
            .map_err(|e| Usage(format!("--rules: {e}")))?;
        let part = if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
            nft_json::parse(&bytes, &shown).map_err(|e| Usage(format!("--rules: {e}")))?
        } else {
            let text = std::str::from_utf8(&bytes)
                .map_err(|e| Usage(format!("--rules: {shown}: not UTF-8 text (byte {})", e.valid_up_to())))?;
            save::parse(text, &shown, save::family_of(text, default_family))
                .map_err(|e| Usage(format!("--rules: {e}")))?
        };
        tally.merge(part);
    }
    let mut needs = Vec::new();
    for e in tally.entries() {
        if !e.askable {
            super::output::error(&format!(
                "warning: the rules use {}, which xtprobe cannot ask the kernel about; it is not checked",
                e.requirement
            ));
            continue;
        }
        needs.push(Need { requirement: e.requirement, families: e.families, optional: false });
    }
    if needs.is_empty() {
        return Err(Usage("--rules: the files require nothing xtprobe can check (no rules?)".into()));
    }
    Ok(profile::normalize_needs(needs))
}

/// The needs, and the profile they come from (None for EXT arguments).
pub fn needs(args: &TargetArgs) -> Result<(Vec<Need>, Option<String>), Usage> {
    let explicit = args.family.as_ref().map(|f| f.0.clone());
    if !args.rules.is_empty() {
        let default = explicit.as_ref().and_then(|f| f.first().copied()).unwrap_or(Family::Ipv4);
        let names = args.rules.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
        return Ok((rules_needs(&args.rules, default)?, Some(format!("rules from {names}"))));
    }
    if !args.extensions.is_empty() {
        let families = explicit.unwrap_or_else(|| vec![Family::Ipv4, Family::Ipv6]);
        let needs = args
            .extensions
            .iter()
            .map(|r| Need { requirement: r.clone(), families: families.clone(), optional: false })
            .collect();
        // `comment comment` is one question, asked and shown once.
        let needs = profile::normalize_needs(needs);
        if needs.len() > profile::MAX_ENTRIES {
            return Err(Usage(format!(
                "{} distinct extensions; at most {} can be asked at once (split them, or use a profile)",
                needs.len(),
                profile::MAX_ENTRIES
            )));
        }
        return Ok((needs, None));
    }
    let name = args.profile.as_deref().unwrap_or(profile::DEFAULT);
    let Profile { name, needs, .. } = profile::resolve(name).map_err(|e| Usage(e.to_string()))?;
    let needs = match explicit {
        Some(f) => {
            profile::normalize_needs(needs.into_iter().map(|n| Need { families: f.clone(), ..n }).collect())
        }
        None => needs,
    };
    Ok((needs, Some(name)))
}
