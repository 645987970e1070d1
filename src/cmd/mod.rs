//! One file per subcommand: turn parsed arguments into library options,
//! run, print, return the exit status. A usage error is returned as
//! [`Usage`] and printed once, by `main`.

pub mod capture;
pub mod check;
pub mod doctor;
pub mod ensure;
pub mod index;
pub mod load;
pub mod output;
pub mod profiles;
pub mod target;

/// A command line that parses but cannot be used (exit status 2).
#[derive(Debug)]
pub struct Usage(pub String);

/// What a subcommand returns.
pub type Outcome = Result<xtprobe::app::exit::ExitCode, Usage>;
