//! Exit codes: a contract with scripts and CI, documented in `--help` and
//! the README. The use cases decide them; only `main` turns them into a
//! process status.

use crate::kmod::insert::FailureClass;

/// What the process exit status means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ExitCode {
    /// 0: everything asked for is supported / loaded / already there.
    Ok = 0,
    /// 1: something is missing (not registered, wrong revision, module not
    /// found for this kernel).
    Missing = 1,
    /// 2: the command line is wrong.
    Usage = 2,
    /// 3: the question could not be answered: no permission, no nfnetlink
    /// or nft_compat, a timeout, no module support, an unreadable file.
    CannotProbe = 3,
    /// 4: the kernel refused to load a module.
    KernelRefused = 4,
}

impl ExitCode {
    /// The numeric status.
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The status for a module that did not load.
    pub fn of_failure(class: FailureClass) -> Self {
        match class {
            FailureClass::Environment => ExitCode::CannotProbe,
            FailureClass::Refused => ExitCode::KernelRefused,
        }
    }
}

/// The examples and exit-code table shown at the end of `--help`.
pub const EXIT_CODES_HELP: &str = "\
Examples:
  xtprobe check                      does this kernel have what Kuscia's rules need?
  xtprobe doctor comment             why is -m comment missing, and what to do
  xtprobe ensure --persist           load what is missing, now and at every boot
  xtprobe load --dry-run xt_comment  what loading it would do

Exit status:
  0  everything asked for is supported (or loaded, or already there)
  1  something is missing: not registered, revision missing, module not found
  2  usage error
  3  cannot probe or load: no permission, no nfnetlink/nft_compat, timeout,
     no module support in this kernel, unreadable module files
  4  the kernel refused to load a module (signature, format, unknown symbol)";
