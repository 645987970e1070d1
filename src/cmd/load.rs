//! `xtprobe load`.

use xtprobe::app::load::{LoadOptions, run as load};
use xtprobe::kmod::name;
use xtprobe::kmod::resolve::Request;
use xtprobe::report;
use xtprobe::system::host::Host;
use xtprobe::system::privilege::{self, FILE_WRITE, SYS_MODULE};
use xtprobe::system::syscalls::KernelSyscalls;

use super::{Outcome, Usage, output};
use crate::cli::{LONG_TIMEOUT, LoadArgs};

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
    // A dry run reads files only; a load needs CAP_SYS_MODULE; writing the
    // modules-load.d file under --root may need the file capabilities.
    let mut keep = Vec::new();
    if !args.mode.dry_run {
        keep.push(SYS_MODULE);
        if args.persist.persist {
            keep.extend(FILE_WRITE);
        }
    }
    let privileges = privilege::restrict(&keep);
    let requests = requests(&args.items).map_err(Usage)?;
    let deadline = args.timeout.deadline(LONG_TIMEOUT);
    let opts = LoadOptions {
        requests,
        dry_run: args.mode.dry_run,
        modules_dir: args.modules.modules_dir,
        persist: args.persist.persist,
        root: args.persist.root,
        userspace_decompress: args.mode.userspace_decompress,
        deadline: Some(deadline.clone()),
    };
    let persist_root = (opts.persist && !opts.dry_run).then(|| opts.root.clone());
    let report = match output::bounded_loads(&args.output, &deadline, persist_root, move || {
        load(&opts, &Host::system(), &KernelSyscalls)
    }) {
        Ok(r) => r,
        Err(code) => return Ok(code),
    };
    let quiet_error = match (&report.error, report.failure()) {
        (Some(e), _) => Some(e.to_string()),
        (None, Some(f)) => Some(format!("{}: {}", f.module, f.cause)),
        (None, None) => None,
    };
    let printed = output::report(
        &args.output,
        || report::load::to_json(&report, Some(&privileges)),
        |style| report::load::to_text(&report, style),
        quiet_error,
    );
    Ok(output::status(report.exit_code(), printed))
}
