//! Turning EXT arguments, `--profile` or `--rules` into the needs to check.

use xtprobe::probe::{Backend, Family};
use xtprobe::profile::{self, Need, Profile};
use xtprobe::ruleset::Lines;
use xtprobe::ruleset::save::SavedBackend;

use super::Usage;
use crate::cli::TargetArgs;

/// The largest saved ruleset read by `--rules`.
const MAX_RULES_BYTES: u64 = 64 << 20;

/// What to ask about.
pub struct Target {
    /// The needs.
    pub needs: Vec<Need>,
    /// The profile (or the rules files) they come from.
    pub profile: Option<String>,
    /// With `--rules`: what each line needs.
    pub lines: Option<Lines>,
}

/// The needs of saved rulesets: every requirement their rules, chains,
/// sets and tables name, in the families they name, as the client that
/// wrote them sends it (from each file's header; `backend` forces one).
fn rules_needs(
    files: &[std::path::PathBuf],
    default_family: Family,
    backend: Option<Backend>,
) -> Result<(Vec<Need>, Lines), Usage> {
    use xtprobe::ruleset::restore::{self, Defaults};
    use xtprobe::ruleset::{Tally, nft_json};
    let defaults = Defaults {
        family: default_family,
        backend: if backend == Some(Backend::Legacy) { SavedBackend::Legacy } else { SavedBackend::Nft },
        force: backend.is_some(),
    };
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
            restore::read(text, &shown, defaults).map_err(|e| Usage(format!("--rules: {e}")))?
        };
        tally.merge(part);
    }
    for note in &tally.notes {
        super::output::error(&format!("warning: {note}"));
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
        needs.push(Need {
            requirement: e.requirement,
            families: e.families,
            optional: false,
            alternatives: e.alternatives,
            via: e.via,
        });
    }
    if needs.len() > profile::MAX_ENTRIES {
        return Err(Usage(format!(
            "--rules: the files need {} distinct requirements; at most {} can be asked at once",
            needs.len(),
            profile::MAX_ENTRIES
        )));
    }
    Ok((profile::normalize_needs(needs), tally.lines))
}

/// [`needs`] within `deadline`: reading `--rules` files counts against
/// `--timeout` like the questions do. `Err` is the exit status of a timeout.
pub fn needs_within(
    args: &TargetArgs,
    backend: Option<Backend>,
    deadline: &xtprobe::system::deadline::Deadline,
) -> Result<Result<Target, Usage>, xtprobe::app::exit::ExitCode> {
    // Only files take time to read: EXT arguments and built-in profiles
    // are answered at once, without a thread.
    let files = !args.rules.is_empty()
        || args.profile.as_deref().is_some_and(|p| p.contains('/') || p.ends_with(".toml"));
    if !files {
        return Ok(needs(args, backend));
    }
    let args = args.clone();
    deadline.doing("xtprobe was reading the profile or --rules files (not waiting for the kernel)");
    xtprobe::system::deadline::within(deadline, move || needs(&args, backend)).map_err(|pending| {
        super::output::error(&format!(
            "gave up after {} s (--timeout): {pending}",
            deadline.budget().as_secs_f64()
        ));
        xtprobe::app::exit::ExitCode::CannotProbe
    })
}

/// The needs, and the profile they come from (None for EXT arguments).
/// `backend` is the command's explicit `--backend` for xtables, if any.
pub fn needs(args: &TargetArgs, backend: Option<Backend>) -> Result<Target, Usage> {
    let explicit = args.family.as_ref().map(|f| f.0.clone());
    if !args.rules.is_empty() {
        let default = explicit.as_ref().and_then(|f| f.first().copied()).unwrap_or(Family::Ipv4);
        let names = args.rules.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
        let (needs, lines) = rules_needs(&args.rules, default, backend)?;
        return Ok(Target { needs, profile: Some(format!("rules from {names}")), lines: Some(lines) });
    }
    if !args.extensions.is_empty() {
        let families = explicit.unwrap_or_else(|| vec![Family::Ipv4, Family::Ipv6]);
        let needs = args.extensions.iter().map(|r| Need::new(r.clone(), families.clone(), false)).collect();
        // `comment comment` is one question, asked and shown once.
        let needs = profile::normalize_needs(needs);
        if needs.len() > profile::MAX_ENTRIES {
            return Err(Usage(format!(
                "{} distinct extensions; at most {} can be asked at once (split them, or use a profile)",
                needs.len(),
                profile::MAX_ENTRIES
            )));
        }
        return Ok(Target { needs, profile: None, lines: None });
    }
    let name = args.profile.as_deref().unwrap_or(profile::DEFAULT);
    // A profile's iptables rules are read for the client asked about
    // (iptables-nft unless --backend legacy).
    let client = backend.unwrap_or(Backend::Nft);
    let Profile { name, needs, .. } = profile::resolve(name, client).map_err(|e| Usage(e.to_string()))?;
    let needs = match explicit {
        Some(f) => {
            profile::normalize_needs(needs.into_iter().map(|n| Need { families: f.clone(), ..n }).collect())
        }
        None => needs,
    };
    Ok(Target { needs, profile: Some(name), lines: None })
}
