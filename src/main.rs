//! The `xtprobe` binary: parse the command line, run the library, print,
//! and turn the outcome into an exit status. Nothing else lives here.

mod cli;
mod cmd;

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    let outcome = match cli.command {
        cli::Command::Check(args) => cmd::check::run(args),
        cli::Command::Load(args) => cmd::load::run(args),
        cli::Command::Doctor(args) => cmd::doctor::run(args),
        cli::Command::Ensure(args) => cmd::ensure::run(args),
        cli::Command::Profiles(args) => cmd::profiles::run(args),
    };
    let code = outcome.unwrap_or_else(|cmd::Usage(message)| {
        cmd::output::error(&message);
        xtprobe::exit::ExitCode::Usage
    });
    std::process::exit(code.code());
}
