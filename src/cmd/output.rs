//! Printing that every command shares: stdout that tolerates a closed pipe,
//! and errors on stderr with the program's name.

use std::io::Write;

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
