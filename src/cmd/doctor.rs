//! `xtprobe doctor`.

use xtprobe::doctor::{DoctorOptions, run as doctor};
use xtprobe::report;
use xtprobe::system::host::Host;

use super::{Outcome, Usage, output, target};
use crate::cli::DoctorArgs;

pub fn run(args: DoctorArgs) -> Outcome {
    let (needs, profile) = target::needs(&args.target)?;
    if let Some(p) = &args.kernel_config {
        xtprobe::kconfig::KernelConfig::read(p).map_err(|e| Usage(e.to_string()))?;
    }
    let opts = DoctorOptions {
        needs,
        profile,
        timeout: args.timeout,
        modules_dir: args.modules_dir,
        kernel_config: args.kernel_config,
    };
    let report = doctor(&opts, &Host::system());
    let printed = output::report(
        &args.output,
        || report::doctor::to_json(&report),
        |style| report::doctor::to_text(&report, style),
        None,
    );
    Ok(output::status(report.exit_code(), printed))
}
