//! `xtprobe ensure`.

use xtprobe::ensure::{EnsureOptions, run as ensure};
use xtprobe::exit::ExitCode;
use xtprobe::host::Host;
use xtprobe::report::{self, Style};
use xtprobe::sys::KernelSyscalls;

use super::output;
use crate::cli::EnsureArgs;

pub fn run(args: EnsureArgs) -> ExitCode {
    let (needs, profile) = match super::target::needs(&args.target) {
        Ok(n) => n,
        Err(e) => {
            output::error(&e);
            return ExitCode::Usage;
        }
    };
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
    if args.output.json {
        output::print(&report::ensure::to_json(&report));
    } else if !args.output.quiet {
        output::print(&report::ensure::to_text(&report, &Style::detect()));
    } else if code != ExitCode::Ok {
        output::error("not everything required is available; run without --quiet for the details");
    }
    code
}
