//! `xtprobe capture`.

use xtprobe::app::capture::{CaptureOptions, run as capture};
use xtprobe::report;
use xtprobe::system::fs;
use xtprobe::system::host::Host;
use xtprobe::system::privilege::{self, FILE_WRITE, NET_ADMIN, NET_RAW};

use super::{Outcome, Usage, output};
use crate::cli::{CaptureArgs, OutputMode, SHORT_TIMEOUT};

pub fn run(args: CaptureArgs) -> Outcome {
    let mut keep = vec![NET_ADMIN, NET_RAW];
    if args.output_file.is_some() {
        keep.extend_from_slice(&FILE_WRITE);
    }
    let privileges = privilege::restrict(&keep);
    if args.name.is_empty() || args.name.chars().any(char::is_control) {
        return Err(Usage("--name must be a non-empty name without control characters".into()));
    }
    let opts = CaptureOptions {
        deadline: args.timeout.deadline(SHORT_TIMEOUT),
        modules_dir: args.modules.modules_dir.clone(),
    };
    let report = capture(&opts, &Host::system());
    let code = report.exit_code();
    let description = format!(
        "the requirements of the ruleset captured on kernel {} ({})",
        report.kernel_release,
        report
            .sources
            .iter()
            .filter(|s| matches!(s.state, xtprobe::app::capture::SourceState::Read(_)))
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let profile = report::capture::to_profile(&report.entries, &args.name, &description);
    // A profile of part of the ruleset would be wrong: nothing is written
    // when a source failed; the summary (or JSON) says which.
    let failed = code != xtprobe::app::exit::ExitCode::Ok;
    let mode = args.output.mode();
    if let Some(path) = &args.output_file {
        // The report is printed whether or not the file could be written:
        // a --json reader learns what was captured and why it is not there.
        let mut code = code;
        let mut report = report;
        if !failed {
            match fs::write_output(path, profile.as_bytes(), 0o644) {
                Ok(Some(warning)) => output::error(&format!("warning: {warning}")),
                Ok(None) => {}
                Err(e) => {
                    output::error(&format!("cannot write the profile: {e}"));
                    report.output_error = Some(e.to_string());
                    code = xtprobe::app::exit::ExitCode::CannotProbe;
                }
            }
        }
        let printed = output::report(
            &args.output,
            || report::capture::to_json(&report, Some(&privileges)),
            |style| report::capture::to_summary(&report, style),
            None,
        );
        return Ok(output::status(code, printed));
    }
    let printed = match mode {
        OutputMode::Json => output::print_json(&report::capture::to_json(&report, Some(&privileges))),
        OutputMode::Quiet => Ok(()),
        OutputMode::Text if failed => {
            output::error(&report::capture::to_summary(&report, &report::Style::plain()));
            Ok(())
        }
        OutputMode::Text => output::print(&profile),
    };
    Ok(output::status(code, printed))
}
