//! One file per subcommand: turn parsed arguments into library options,
//! run, print, return the exit code.

pub mod check;
pub mod load;
pub mod output;
