//! `xtprobe load`.

use xtprobe::kmod::name;
use xtprobe::kmod::resolve::Request;
use xtprobe::load::{LoadOptions, run as load};
use xtprobe::report;
use xtprobe::system::host::Host;
use xtprobe::system::syscalls::KernelSyscalls;

use super::{Outcome, Usage, output};
use crate::cli::LoadArgs;

/// Splits `MODULE [KEY=VALUE]... MODULE ...` into requests.
fn requests(items: &[String]) -> Result<Vec<Request>, String> {
    let mut out: Vec<Request> = Vec::new();
    for item in items {
        if item.contains('=') {
            let Some(last) = out.last_mut() else {
                return Err(format!("parameter `{item}` comes before any module"));
            };
            if !last.params.is_empty() {
                last.params.push(' ');
            }
            last.params.push_str(item);
        } else {
            name::validate(item).map_err(|e| e.to_string())?;
            out.push(Request { query: item.clone(), params: String::new() });
        }
    }
    Ok(out)
}

pub fn run(args: LoadArgs) -> Outcome {
    let requests = requests(&args.items).map_err(Usage)?;
    let opts = LoadOptions {
        requests,
        dry_run: args.dry_run,
        modules_dir: args.modules_dir,
        persist: args.persist,
        root: args.root,
        userspace_decompress: args.userspace_decompress,
    };
    let report = load(&opts, &Host::system(), &KernelSyscalls);
    let quiet_error = match (&report.error, report.failure()) {
        (Some(e), _) => Some(e.to_string()),
        (None, Some(f)) => Some(format!("{}: {}", f.module, f.cause)),
        (None, None) => None,
    };
    let printed = output::report(
        &args.output,
        || report::load::to_json(&report),
        |style| report::load::to_text(&report, style),
        quiet_error,
    );
    Ok(output::status(report.exit_code(), printed))
}
