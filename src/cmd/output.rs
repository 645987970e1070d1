//! Printing that every command shares: the choice between JSON, a table and
//! silence; stdout that tolerates a closed pipe; errors on stderr with the
//! program's name.

use std::io::Write;

use xtprobe::report::Style;

use crate::cli::OutputArgs;

/// Prints the report as `--json`/`--quiet`/text ask. With `--quiet`,
/// `quiet_error` (if any) still goes to stderr.
pub fn report(
    args: &OutputArgs,
    json: impl FnOnce() -> String,
    text: impl FnOnce(&Style) -> String,
    quiet_error: Option<String>,
) {
    if args.json {
        print(&json());
    } else if !args.quiet {
        print(&text(&Style::detect()));
    } else if let Some(e) = quiet_error {
        error(&e);
    }
}

/// Writes `text` to stdout. A closed pipe (`xtprobe check | head -1`) is not
/// an error worth reporting; anything else goes to stderr.
pub fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("xtprobe: writing output: {e}");
        }
    }
}

/// Prints an error on stderr as `xtprobe: <message>`.
pub fn error(message: &str) {
    eprintln!("xtprobe: {message}");
}
