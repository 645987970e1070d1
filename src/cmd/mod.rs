//! One file per subcommand: turn parsed arguments into library options,
//! run, print, return the exit code.

pub mod check;
pub mod doctor;
pub mod ensure;
pub mod load;
pub mod output;
pub mod profiles;
pub mod target;
