//! `xtprobe profiles`.

use xtprobe::exit::ExitCode;
use xtprobe::profile;
use xtprobe::report::{self, Style};

use super::output;
use crate::cli::ProfilesArgs;

pub fn run(args: ProfilesArgs) -> ExitCode {
    let (profiles, detailed) = match &args.name {
        Some(name) => match profile::resolve(name) {
            Ok(p) => (vec![p], true),
            Err(e) => {
                output::error(&e.to_string());
                return ExitCode::Usage;
            }
        },
        None => (profile::builtins(), false),
    };
    if args.json {
        output::print(&report::json(&profiles));
    } else {
        output::print(&report::profiles::to_text(&profiles, detailed, &Style::detect()));
    }
    ExitCode::Ok
}
