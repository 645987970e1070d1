//! `xtprobe check`.

use xtprobe::app::check::{CheckOptions, run as check};
use xtprobe::report;
use xtprobe::system::privilege::{self, NET_ADMIN, NET_RAW};

use super::{Outcome, output, target};
use crate::cli::{BackendChoice, CheckArgs, SHORT_TIMEOUT};

pub fn run(args: CheckArgs) -> Outcome {
    // Before any file is read: only what asking the kernel takes.
    let privileges = match args.backend {
        BackendChoice::Nft => privilege::restrict(&[NET_ADMIN]),
        BackendChoice::Legacy | BackendChoice::Both => privilege::restrict(&[NET_ADMIN, NET_RAW]),
    };
    let (needs, profile) = target::needs(&args.target)?;
    let opts = CheckOptions {
        needs,
        profile,
        backends: args.backend.backends(),
        deadline: args.timeout.deadline(SHORT_TIMEOUT),
    };
    let report = check(&opts);
    let printed = output::report(
        &args.output,
        || report::check::to_json(&report, Some(&privileges)),
        |style| report::check::to_table(&report, style),
        report.first_error().map(|e| e.to_string()),
    );
    Ok(output::status(report.exit_code(), printed))
}
