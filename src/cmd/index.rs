//! `xtprobe index`.

use xtprobe::app::index::{IndexOptions, run as index};
use xtprobe::report;
use xtprobe::system::privilege::{self, FILE_WRITE};

use super::{Outcome, output};
use crate::cli::IndexArgs;

pub fn run(args: IndexArgs) -> Outcome {
    // Reading needs nothing; writing into a modules directory may need the
    // file capabilities (a tree owned by someone else, in an image).
    let privileges = privilege::restrict(if args.dry_run { &[] } else { &FILE_WRITE });
    let opts = IndexOptions {
        modules_dir: args.modules.modules_dir,
        dry_run: args.dry_run,
        remove_binary: args.remove_binary,
    };
    let report = index(&opts);
    let printed = output::report(
        &args.output,
        || report::index::to_json(&report, Some(&privileges)),
        |style| report::index::to_text(&report, style),
        report.error.clone(),
    );
    Ok(output::status(report.exit_code(), printed))
}
