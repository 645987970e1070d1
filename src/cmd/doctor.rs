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
    let deadline = args.timeout.deadline(SHORT_TIMEOUT);
    let target::Target { needs, profile, .. } =
        match target::needs_within(&args.target, args.backend.forced(), &deadline) {
            Ok(t) => t?,
            Err(code) => return Ok(code),
        };
    if let Some(p) = &args.kernel_config {
        xtprobe::kconfig::KernelConfig::read(p).map_err(|e| Usage(e.to_string()))?;
    }
    let opts = DoctorOptions {
        needs,
        profile,
        deadline: deadline.clone(),
        modules_dir: args.modules.modules_dir.clone(),
        kernel_config: args.kernel_config.clone(),
        backends: args.backend.backends(),
    };
    let report = match output::bounded(&deadline, move || doctor(&opts, &Host::system(), &KernelSyscalls)) {
        Ok(r) => r,
        Err(code) => return Ok(code),
    };
    if let Some(value) = &args.emit_kconfig {
        return emit_kconfig(&args, &report, value == "y", &deadline, &privileges);
    }
    if args.brief {
        let printed = match args.output.mode() {
            crate::cli::OutputMode::Quiet => Ok(()),
            _ => output::print(&report::doctor::to_brief(&report)),
        };
        return Ok(output::status(report.exit_code(), printed));
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
/// Reading a kernel source tree runs inside the same `--timeout`.
fn emit_kconfig(
    args: &DoctorArgs,
    report: &DoctorReport,
    builtin: bool,
    deadline: &xtprobe::system::deadline::Deadline,
    privileges: &xtprobe::system::privilege::Privileges,
) -> Outcome {
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
    let source = args.kernel_source.clone();
    let config_path = report.kernel_config.clone();
    deadline.doing(match &source {
        Some(dir) => format!("xtprobe was reading the Kconfig files under {}", dir.display()),
        None => "xtprobe was computing the fragment".to_string(),
    });
    let worked = output::bounded(deadline, move || {
        let (symbols, warnings) = match &source {
            Some(dir) => {
                let parsed = deps::from_source(dir);
                if parsed.symbols.is_empty() {
                    return Err(format!("--kernel-source {}: no net/Kconfig there", dir.display()));
                }
                (parsed.symbols, parsed.warnings)
            }
            None => (deps::table_6_12(), Vec::new()),
        };
        let config = config_path.as_deref().and_then(|p| KernelConfig::read(p).ok());
        Ok((deps::fragment(&wanted, &symbols, config.as_ref(), builtin), warnings))
    });
    let (lines, warnings) = match worked {
        Ok(Ok(v)) => v,
        Ok(Err(usage)) => return Err(Usage(usage)),
        Err(code) => return Ok(code),
    };
    for w in &warnings {
        output::error(&format!("warning: {w}"));
    }
    let text = report::doctor::kconfig_fragment(report, &lines, args.kernel_source.as_deref());
    let printed = match args.output.mode() {
        crate::cli::OutputMode::Json => output::print_json(&report::doctor::kconfig_json(
            report,
            &lines,
            &text,
            &warnings,
            Some(privileges),
        )),
        crate::cli::OutputMode::Quiet => Ok(()),
        crate::cli::OutputMode::Text => output::print(&text),
    };
    Ok(output::status(report.exit_code(), printed))
}
