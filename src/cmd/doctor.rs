//! `xtprobe doctor`.

use xtprobe::doctor::{DoctorOptions, run as doctor};
use xtprobe::exit::ExitCode;
use xtprobe::host::Host;
use xtprobe::report::{self, Style};

use super::output;
use crate::cli::DoctorArgs;

pub fn run(args: DoctorArgs) -> ExitCode {
    let (needs, profile) = match super::target::needs(&args.target) {
        Ok(n) => n,
        Err(e) => {
            output::error(&e);
            return ExitCode::Usage;
        }
    };
    if let Some(p) = &args.kernel_config {
        if let Err(e) = xtprobe::kconfig::KernelConfig::read(p) {
            output::error(&e.to_string());
            return ExitCode::Usage;
        }
    }
    let opts = DoctorOptions {
        needs,
        profile,
        timeout: args.timeout,
        modules_dir: args.modules_dir,
        kernel_config: args.kernel_config,
    };
    let report = doctor(&opts, &Host::system());
    if args.output.json {
        output::print(&report::doctor::to_json(&report));
    } else if !args.output.quiet {
        output::print(&report::doctor::to_text(&report, &Style::detect()));
    }
    report.exit_code()
}
