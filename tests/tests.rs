//! Integration tests: the real `xtprobe` binary against the real kernel of
//! this machine, each command in a fresh network namespace so the host's
//! ruleset is never touched; and the loader against synthetic module trees.
//! One binary with topic modules, as ripgrep does.

mod fixture;
mod util;

mod capture;
mod check;
mod contrib;
mod debian;
mod doctor;
mod fleet;
mod hostile;
mod load;
mod netns;
mod nftables;
mod package;
mod profiles;
mod schema;
