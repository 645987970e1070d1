//! Turning EXT arguments or `--profile` into the needs to check.

use xtprobe::probe::Family;
use xtprobe::profile::{self, Need, Profile};

use super::Usage;
use crate::cli::TargetArgs;

/// The needs, and the profile they come from (None for EXT arguments).
pub fn needs(args: &TargetArgs) -> Result<(Vec<Need>, Option<String>), Usage> {
    let explicit = args.family.as_ref().map(|f| f.0.clone());
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
