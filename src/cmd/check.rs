//! `xtprobe check`.

use std::time::{Duration, Instant};

use xtprobe::app::check::{CheckOptions, run as check};
use xtprobe::app::exit::ExitCode;
use xtprobe::report;
use xtprobe::system::fs;
use xtprobe::system::netns;
use xtprobe::system::privilege::{self, FILE_WRITE, NET_ADMIN, NET_RAW};

use super::{Outcome, Usage, output, target};
use crate::cli::{BackendChoice, CheckArgs, Format, SHORT_TIMEOUT};

/// The default `--timeout` with `--output npd`: Node Problem Detector kills
/// a plugin after 5 s; finish well before.
const NPD_TIMEOUT: Duration = Duration::from_secs(4);

pub fn run(args: CheckArgs) -> Outcome {
    // Before any file is read: only what asking the kernel takes (and
    // writing the textfile, if asked).
    // Legacy questions (and --rules, whose files may be iptables-legacy's)
    // take raw sockets.
    // Legacy questions (a legacy table, --backend legacy, and any
    // profile or rules file, which may hold iptables-legacy's rules) take
    // raw sockets; nft questions about EXT arguments do not.
    let ext_only = !args.target.extensions.is_empty()
        && !args.target.extensions.iter().any(|r| r.extension.kind == xtprobe::probe::Kind::Table);
    let mut keep = match args.backend.backend {
        Some(BackendChoice::Legacy | BackendChoice::Both) => vec![NET_ADMIN, NET_RAW],
        _ if ext_only => vec![NET_ADMIN],
        _ => vec![NET_ADMIN, NET_RAW],
    };
    if args.textfile.is_some() {
        keep.extend_from_slice(&FILE_WRITE);
    }
    // Before the capabilities go: unshare takes CAP_SYS_ADMIN.
    let probes = netns::isolate();
    let mut privileges = privilege::restrict(&keep);
    privileges.probes = Some(probes);
    if let Some(p) = &args.textfile {
        if p.extension().is_none_or(|e| e != "prom") {
            return Err(Usage(format!(
                "--textfile {}: node_exporter's textfile collector reads only files ending in .prom",
                p.display()
            )));
        }
    }
    let default_timeout = if args.format == Some(Format::Npd) { NPD_TIMEOUT } else { SHORT_TIMEOUT };
    let deadline = args.timeout.deadline(default_timeout);
    let target::Target { needs, profile, lines } =
        match target::needs_within(&args.target, args.backend.forced(), &deadline) {
            Ok(t) => t?,
            Err(code) => return Ok(code),
        };
    // What the profile or rules turned out to ask: no legacy question, no raw socket.
    let backends = args.backend.backends();
    let legacy = backends.contains(&xtprobe::probe::Backend::Legacy)
        || needs.iter().any(|n| {
            n.candidates().any(|r| r.extension.kind == xtprobe::probe::Kind::Table)
                || (n.requirement.extension.kind.is_xt() && n.via == Some(xtprobe::probe::Backend::Legacy))
        });
    if !legacy && keep.contains(&NET_RAW) {
        keep.retain(|c| *c != NET_RAW);
        privilege::narrow(&mut privileges, &keep);
    }
    let opts = CheckOptions { needs, profile, backends: args.backend.backends(), deadline };
    let start = Instant::now();
    let mut report = check(&opts);
    report.rules = lines.as_ref().map(|l| xtprobe::app::check::judge_lines(&report, l));
    let took = start.elapsed().as_secs_f64();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let mut code = report.exit_code();
    if let Some(path) = &args.textfile {
        if let Err(e) = write_textfile(path, &report::fleet::prometheus(&report, took, now)) {
            output::error(&format!("cannot write {}: {e}", path.display()));
            code = ExitCode::CannotProbe;
        }
    }
    let printed = match args.format {
        Some(Format::Npd) => output::print(&format!("{}\n", report::fleet::npd_line(&report))),
        // Escaped by the exposition rules (fleet::label_value), not the
        // terminal's: node_exporter reads this.
        Some(Format::Prometheus) => output::print_raw(&report::fleet::prometheus(&report, took, now)),
        Some(Format::Json) => output::print_json(&report::check::to_json(&report, Some(&privileges))),
        Some(Format::Text) | None => output::report(
            &args.output,
            || report::check::to_json(&report, Some(&privileges)),
            |style| output::noted(report::check::to_table(&report, style), &privileges),
            report.first_error().map(|e| e.to_string()),
        ),
    };
    Ok(output::status(code, printed))
}

/// Writes the textfile as node_exporter requires: replaced atomically
/// (a temporary file in the same directory, renamed over the old one),
/// mode 0644; never over a device, FIFO or link ([`fs::write_output`]).
fn write_textfile(path: &std::path::Path, text: &str) -> Result<(), String> {
    if let Some(warning) = fs::write_output(path, text.as_bytes(), 0o644).map_err(|e| e.to_string())? {
        output::error(&format!("warning: {warning}"));
    }
    Ok(())
}
