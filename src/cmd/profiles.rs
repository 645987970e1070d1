//! `xtprobe profiles`.

use xtprobe::app::exit::ExitCode;
use xtprobe::profile;
use xtprobe::report::{self, Style};

use super::{Outcome, Usage, output};
use crate::cli::{BackendChoice, ProfilesArgs};

pub fn run(args: ProfilesArgs) -> Outcome {
    // Showing profiles needs no privilege at all.
    xtprobe::system::privilege::restrict(&[]);
    if args.backend == BackendChoice::Both {
        return Err(Usage(
            "--backend both: show the profiles for one client (nft or legacy) at a time".into(),
        ));
    }
    let client = args.backend.backends()[0];
    let (profiles, detailed) = match &args.name {
        Some(name) => (vec![profile::resolve(name, client).map_err(|e| Usage(e.to_string()))?], true),
        None => (profile::builtins(client), false),
    };
    let printed = if args.json {
        output::print_json(&report::json(&report::ProfilesDocument {
            schema_version: report::SCHEMA_VERSION,
            profiles: &profiles,
        }))
    } else {
        let style = Style::detect();
        output::print_styled(&report::profiles::to_text(&profiles, detailed, &style), &style)
    };
    Ok(output::status(ExitCode::Ok, printed))
}
