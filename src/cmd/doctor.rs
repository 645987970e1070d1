//! `xtprobe doctor`.

use xtprobe::app::doctor::{DoctorOptions, run as doctor};
use xtprobe::report;
use xtprobe::system::host::Host;
use xtprobe::system::privilege::{self, NET_ADMIN, NET_RAW, SYS_MODULE};
use xtprobe::system::syscalls::KernelSyscalls;

use super::{Outcome, Usage, output, target};
use crate::cli::{DoctorArgs, SHORT_TIMEOUT};

pub fn run(args: DoctorArgs) -> Outcome {
    // The union of what check and load need: doctor asks the kernel and
    // reads what loading would meet (it loads nothing).
    let privileges = privilege::restrict(&[NET_ADMIN, NET_RAW, SYS_MODULE]);
    let (needs, profile) = target::needs(&args.target)?;
    if let Some(p) = &args.kernel_config {
        xtprobe::kconfig::KernelConfig::read(p).map_err(|e| Usage(e.to_string()))?;
    }
    let deadline = args.timeout.deadline(SHORT_TIMEOUT);
    let opts = DoctorOptions {
        needs,
        profile,
        deadline: deadline.clone(),
        modules_dir: args.modules.modules_dir,
        kernel_config: args.kernel_config,
    };
    let report = match output::bounded(&deadline, move || doctor(&opts, &Host::system(), &KernelSyscalls)) {
        Ok(r) => r,
        Err(code) => return Ok(code),
    };
    let printed = output::report(
        &args.output,
        || report::doctor::to_json(&report, Some(&privileges)),
        |style| report::doctor::to_text(&report, style),
        None,
    );
    Ok(output::status(report.exit_code(), printed))
}
