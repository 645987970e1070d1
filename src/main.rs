//! The `xtprobe` binary: parse the command line, run the library, print,
//! and turn the outcome into an exit status. Nothing else lives here.

mod cli;
mod cmd;

use clap::Parser;
use xtprobe::app::exit::ExitCode;

fn main() {
    raise_file_limit();
    let code = match cli::Cli::try_parse() {
        Ok(cli) => run(cli),
        Err(e) => clap_message(&e),
    };
    std::process::exit(code.code());
}

fn run(cli: cli::Cli) -> ExitCode {
    xtprobe::report::Style::set_color(match cli.color {
        cli::ColorChoice::Auto => xtprobe::report::style::ColorWhen::Auto,
        cli::ColorChoice::Always => xtprobe::report::style::ColorWhen::Always,
        cli::ColorChoice::Never => xtprobe::report::style::ColorWhen::Never,
    });
    let outcome = match cli.command {
        cli::Command::Check(args) => cmd::check::run(args),
        cli::Command::Load(args) => cmd::load::run(args),
        cli::Command::Doctor(args) => cmd::doctor::run(args),
        cli::Command::Ensure(args) => cmd::ensure::run(args),
        cli::Command::Profiles(args) => cmd::profiles::run(args),
        cli::Command::Index(args) => cmd::index::run(args),
        cli::Command::Capture(args) => cmd::capture::run(args),
    };
    outcome.unwrap_or_else(|cmd::Usage(message)| {
        cmd::output::error(&message);
        ExitCode::Usage
    })
}

/// Lifts the soft limit on open files to the hard one (systemd's default
/// soft limit is 1024; a modules tree holds 4 000 files). Best effort.
fn raise_file_limit() {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit on this process with a valid struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// `--help` and `--version` go to stdout (exit 0, or 3 if it cannot be
/// written); usage errors to stderr (exit 2). clap's own printing could
/// panic with stderr gone; this cannot.
fn clap_message(e: &clap::Error) -> ExitCode {
    let text = e.render().to_string();
    if e.use_stderr() {
        cmd::output::error(text.trim_start_matches("error: "));
        ExitCode::Usage
    } else {
        cmd::output::status(ExitCode::Ok, cmd::output::print(&text))
    }
}
