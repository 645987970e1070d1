//! `xtprobe check`.

use xtprobe::check::{CheckOptions, run as check};
use xtprobe::exit::ExitCode;
use xtprobe::report::{self, Style};

use super::output;
use crate::cli::CheckArgs;

pub fn run(args: CheckArgs) -> ExitCode {
    let (needs, profile) = match super::target::needs(&args.target) {
        Ok(n) => n,
        Err(e) => {
            output::error(&e);
            return ExitCode::Usage;
        }
    };
    let opts = CheckOptions { needs, profile, backends: args.backend.backends(), timeout: args.timeout };
    let report = check(&opts);
    let code = report.exit_code();
    if args.output.json {
        output::print(&report::check::to_json(&report));
    } else if !args.output.quiet {
        output::print(&report::check::to_table(&report, &Style::detect()));
    } else if let Some(e) = report.first_error() {
        output::error(&e.to_string());
    }
    code
}
