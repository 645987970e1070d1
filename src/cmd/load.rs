//! `xtprobe load`.

use xtprobe::exit::ExitCode;
use xtprobe::host::Host;
use xtprobe::kmod::name;
use xtprobe::kmod::resolve::Request;
use xtprobe::load::{LoadOptions, run as load};
use xtprobe::report::{self, Style};
use xtprobe::sys::KernelSyscalls;

use super::output;
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

pub fn run(args: LoadArgs) -> ExitCode {
    let requests = match requests(&args.items) {
        Ok(r) => r,
        Err(e) => {
            output::error(&e);
            return ExitCode::Usage;
        }
    };
    let opts = LoadOptions {
        requests,
        dry_run: args.dry_run,
        modules_dir: args.modules_dir,
        persist: args.persist,
        root: args.root,
        userspace_decompress: args.userspace_decompress,
    };
    let report = load(&opts, &Host::system(), &KernelSyscalls);
    let code = report.exit_code();
    if args.output.json {
        output::print(&report::load::to_json(&report));
    } else if !args.output.quiet {
        output::print(&report::load::to_text(&report, &Style::detect()));
    } else if code != ExitCode::Ok {
        if let Some(e) = &report.error {
            output::error(&e.to_string());
        } else if let Some(f) = report.failure() {
            output::error(&format!("{}: {}", f.module, f.cause));
        }
    }
    code
}
