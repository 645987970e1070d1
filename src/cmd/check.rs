//! `xtprobe check`.

use xtprobe::check::{CheckOptions, run as check};
use xtprobe::report;

use super::{Outcome, output, target};
use crate::cli::CheckArgs;

pub fn run(args: CheckArgs) -> Outcome {
    let (needs, profile) = target::needs(&args.target)?;
    let opts = CheckOptions { needs, profile, backends: args.backend.backends(), timeout: args.timeout };
    let report = check(&opts);
    let printed = output::report(
        &args.output,
        || report::check::to_json(&report),
        |style| report::check::to_table(&report, style),
        report.first_error().map(|e| e.to_string()),
    );
    Ok(output::status(report.exit_code(), printed))
}
