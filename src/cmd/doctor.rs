//! `xtprobe doctor`.

use xtprobe::app::doctor::{DoctorOptions, DoctorReport, run as doctor};
use xtprobe::report;
use xtprobe::system::host::Host;
use xtprobe::system::netns;
use xtprobe::system::privilege::{self, NET_ADMIN, NET_RAW, SYS_MODULE};
use xtprobe::system::syscalls::KernelSyscalls;

use super::{Outcome, Usage, output, target};
use crate::cli::{DoctorArgs, SHORT_TIMEOUT};

pub fn run(args: DoctorArgs) -> Outcome {
    // The union of what check and load need: doctor asks the kernel and
    // reads what loading would meet (it loads nothing).
    // Before the capabilities go: unshare takes CAP_SYS_ADMIN.
    let probes = netns::isolate();
    let mut privileges = privilege::restrict(&[NET_ADMIN, NET_RAW, SYS_MODULE]);
    privileges.probes = Some(probes);
    let target::Target { needs, profile, .. } = target::needs(&args.target, args.backend.forced())?;
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
    if let Some(value) = &args.emit_kconfig {
        return emit_kconfig(&report, value == "y", args.kernel_source.as_deref());
    }
    let printed = output::report(
        &args.output,
        || report::doctor::to_json(&report, Some(&privileges)),
        |style| output::noted(report::doctor::to_text(&report, style), &privileges),
        None,
    );
    Ok(output::status(report.exit_code(), printed))
}

/// `--emit-kconfig`: the options of everything missing (and of the
/// probe's own missing prerequisites), with what Kconfig needs for them.
fn emit_kconfig(report: &DoctorReport, builtin: bool, source: Option<&std::path::Path>) -> Outcome {
    use xtprobe::app::doctor::Verdict;
    use xtprobe::kconfig::{KernelConfig, deps};
    let mut wanted: Vec<String> = report
        .prerequisites
        .iter()
        .filter(|p| p.available == Some(false))
        .filter_map(|p| p.config.symbol.clone())
        .collect();
    wanted.extend(
        report
            .extensions
            .iter()
            .filter(|d| !matches!(d.verdict, Verdict::Supported | Verdict::NotApplicable))
            .filter_map(|d| d.config.symbol.clone()),
    );
    let symbols = match source {
        Some(dir) => {
            let s = deps::from_source(dir);
            if s.is_empty() {
                return Err(Usage(format!("--kernel-source {}: no net/Kconfig there", dir.display())));
            }
            s
        }
        None => deps::table_6_12(),
    };
    let config = report.kernel_config.as_deref().and_then(|p| KernelConfig::read(p).ok());
    let lines = deps::fragment(&wanted, &symbols, config.as_ref(), builtin);
    let text = report::doctor::kconfig_fragment(report, &lines, source);
    Ok(output::status(report.exit_code(), output::print(&text)))
}
