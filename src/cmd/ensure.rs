//! `xtprobe ensure`.

use xtprobe::app::ensure::{EnsureOptions, run as ensure};
use xtprobe::app::exit::ExitCode;
use xtprobe::report;
use xtprobe::system::host::Host;
use xtprobe::system::netns;
use xtprobe::system::privilege::{self, FILE_WRITE, NET_ADMIN, NET_RAW, SYS_MODULE};
use xtprobe::system::syscalls::KernelSyscalls;

use super::{Outcome, output, target};
use crate::cli::{EnsureArgs, LONG_TIMEOUT};

pub fn run(args: EnsureArgs) -> Outcome {
    let mut keep = vec![NET_ADMIN, NET_RAW];
    if !args.mode.dry_run {
        keep.push(SYS_MODULE);
        if args.persist.persist {
            keep.extend(FILE_WRITE);
        }
    }
    // Before the capabilities go: unshare takes CAP_SYS_ADMIN.
    let probes = netns::isolate();
    let mut privileges = privilege::restrict(&keep);
    privileges.probes = Some(probes);
    let deadline = args.timeout.deadline(LONG_TIMEOUT);
    let target::Target { needs, profile, lines } =
        match target::needs_within(&args.target, args.backend.forced(), &deadline) {
            Ok(t) => t?,
            Err(code) => return Ok(code),
        };
    let opts = EnsureOptions {
        needs,
        profile,
        backends: args.backend.backends(),
        deadline: deadline.clone(),
        modules_dir: args.modules.modules_dir,
        persist: args.persist.persist,
        root: args.persist.root,
        dry_run: args.mode.dry_run,
        userspace_decompress: args.mode.userspace_decompress,
    };
    let persist_root = (opts.persist && !opts.dry_run).then(|| opts.root.clone());
    let mut report = match output::bounded_loads(&args.output, &deadline, persist_root, move || {
        ensure(&opts, &Host::system(), &KernelSyscalls)
    }) {
        Ok(r) => r,
        Err(code) => return Ok(code),
    };
    if let Some(l) = &lines {
        report.before.rules = Some(xtprobe::app::check::judge_lines(&report.before, l));
        if let Some(after) = report.after.as_mut() {
            after.rules = Some(xtprobe::app::check::judge_lines(after, l));
        }
    }
    let code = report.exit_code();
    let printed = output::report(
        &args.output,
        || report::ensure::to_json(&report, Some(&privileges)),
        |style| output::noted(report::ensure::to_text(&report, style), &privileges),
        (code != ExitCode::Ok)
            .then(|| "not everything required is available; run without --quiet for the details".to_string()),
    );
    Ok(output::status(code, printed))
}
