//! Integration tests: the real `xtprobe` binary against the real kernel of
//! this machine, each command in a fresh network namespace so the host's
//! ruleset is never touched. One binary with topic modules, as ripgrep does.

mod util;

mod check;
