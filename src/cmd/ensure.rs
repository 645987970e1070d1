//! `xtprobe ensure`.

use xtprobe::ensure::{EnsureOptions, run as ensure};
use xtprobe::exit::ExitCode;
use xtprobe::report;
use xtprobe::system::host::Host;
use xtprobe::system::syscalls::KernelSyscalls;

use super::{Outcome, output, target};
use crate::cli::EnsureArgs;

pub fn run(args: EnsureArgs) -> Outcome {
    let (needs, profile) = target::needs(&args.target)?;
    let opts = EnsureOptions {
        needs,
        profile,
        timeout: args.timeout,
        modules_dir: args.modules_dir,
        persist: args.persist,
        root: args.root,
        dry_run: args.dry_run,
        userspace_decompress: args.userspace_decompress,
    };
    let report = ensure(&opts, &Host::system(), &KernelSyscalls);
    let code = report.exit_code();
    let printed = output::report(
        &args.output,
        || report::ensure::to_json(&report),
        |style| report::ensure::to_text(&report, style),
        (code != ExitCode::Ok)
            .then(|| "not everything required is available; run without --quiet for the details".to_string()),
    );
    Ok(output::status(code, printed))
}
