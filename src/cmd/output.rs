//! Printing that every command shares: the choice between JSON, a table and
//! silence; output that is an error when it cannot be written; errors on
//! stderr that never panic; nothing raw from outside reaching a terminal.
//!
//! - A write error on stdout (a full disk, a closed descriptor) turns the
//!   exit status into 3, said on stderr if stderr works. A closed pipe
//!   (`xtprobe check | head -1`) is not an error: the reader chose to stop.
//! - stderr is written with `let _ =`: if it is gone too, there is no one to
//!   tell, and the exit status still says it.
//! - Every byte goes through [`terminal_safe`]: control characters from
//!   profile names, file names or kernel messages are escaped.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use xtprobe::app::exit::ExitCode;
use xtprobe::report::{Style, json_safe, terminal_safe};

use crate::cli::{OutputArgs, OutputMode};

/// Set before `main` if descriptor 1 was closed when the process started
/// (Rust's runtime then quietly opens /dev/null in its place) or open for
/// reading only (Rust's stdout treats the EBADF of every write as success):
/// either way, anything printed would be lost without an error.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Runs from `.init_array`, before Rust's runtime replaces closed standard
/// descriptors with /dev/null.
extern "C" fn note_closed_stdout() {
    // SAFETY: fcntl(F_GETFL) only reads the descriptor's flags.
    let flags = unsafe { libc::fcntl(1, libc::F_GETFL) };
    if flags == -1 || flags & libc::O_ACCMODE == libc::O_RDONLY {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
    }
}

#[used]
#[unsafe(link_section = ".init_array")]
static NOTE_CLOSED_STDOUT: extern "C" fn() = note_closed_stdout;

/// Runs a command's work within `deadline` (plus a second's grace for the
/// command's own bounded steps to report first). If it is still busy then
/// (a module's init that never returns, an autoloader that hangs), says
/// what it was doing on stderr and gives exit status 3; the process then
/// ends, and with it the stuck thread.
pub fn bounded<T: Send + 'static>(
    deadline: &xtprobe::system::deadline::Deadline,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ExitCode> {
    let outer =
        xtprobe::system::deadline::Deadline::after(deadline.remaining() + std::time::Duration::from_secs(1));
    let shared = deadline.clone();
    xtprobe::system::deadline::within(&outer, work).map_err(|_| {
        let pending = shared.pending();
        error(&format!(
            "gave up after {} s (--timeout): {}",
            deadline.budget().as_secs_f64(),
            if pending.is_empty() { "the command did not finish".to_string() } else { pending }
        ));
        ExitCode::CannotProbe
    })
}

/// [`bounded`] for work that loads modules: on a timeout, the modules
/// loaded before it are named (and, with `persist_root`, persisted as
/// `--persist` would: those asked for by name), with the one the kernel was
/// still loading; with `--json`, as a document on stdout.
pub fn bounded_loads<T: Send + 'static>(
    args: &OutputArgs,
    deadline: &xtprobe::system::deadline::Deadline,
    persist_root: Option<std::path::PathBuf>,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ExitCode> {
    bounded(deadline, work).inspect_err(|code| {
        let loaded = deadline.loaded();
        let names: Vec<&str> = loaded.iter().map(|(m, _)| m.as_str()).collect();
        let persisted = persist_root.map(|root| {
            let wanted: Vec<xtprobe::kmod::ModuleName> =
                loaded.iter().filter(|(_, r)| *r).map(|(m, _)| xtprobe::kmod::ModuleName::new(m)).collect();
            xtprobe::kmod::persist::persist(&root, &wanted).map_err(|e| e.to_string())
        });
        if !names.is_empty() {
            error(&format!("loaded before the deadline: {}", names.join(", ")));
        }
        match &persisted {
            Some(Ok(p)) if p.changed => error(&format!(
                "persist: {} (added {})",
                p.path.display(),
                p.added.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(", ")
            )),
            Some(Err(e)) => error(&format!("persist: {e}")),
            _ => {}
        }
        if args.mode() == OutputMode::Json {
            #[derive(serde::Serialize)]
            struct TimedOut<'a> {
                schema_version: u32,
                timed_out: bool,
                budget_seconds: f64,
                pending: String,
                loaded: Vec<&'a str>,
                persisted: Option<serde_json::Value>,
                exit_code: i32,
            }
            let doc = TimedOut {
                schema_version: xtprobe::report::SCHEMA_VERSION,
                timed_out: true,
                budget_seconds: deadline.budget().as_secs_f64(),
                pending: deadline.pending(),
                loaded: names,
                // As the load document writes it: the record, or {"error": …}.
                persisted: persisted.map(|p| match p {
                    Ok(p) => serde_json::to_value(p).unwrap_or(serde_json::Value::Null),
                    Err(e) => serde_json::json!({ "error": e }),
                }),
                exit_code: (*code).code(),
            };
            let _ = print_json(&xtprobe::report::json(&doc));
        }
    })
}

/// Prints the report as `--json`/`--quiet`/text ask. With `--quiet`,
/// `quiet_error` (if any) still goes to stderr.
pub fn report(
    args: &OutputArgs,
    json: impl FnOnce() -> String,
    text: impl FnOnce(&Style) -> String,
    quiet_error: Option<String>,
) -> io::Result<()> {
    match args.mode() {
        OutputMode::Json => print_json(&json()),
        OutputMode::Text => {
            let style = Style::detect();
            print_styled(&text(&style), &style)
        }
        OutputMode::Quiet => {
            if let Some(e) = quiet_error {
                error(&e);
            }
            Ok(())
        }
    }
}

/// `text` with the note of where the probes ran, when that was not a
/// fresh network namespace ([`xtprobe::system::netns`]).
pub fn noted(mut text: String, privileges: &xtprobe::system::privilege::Privileges) -> String {
    if let Some(note) = privileges.probes.as_ref().and_then(|p| p.text_note()) {
        text.push_str(&format!("note: {note}\n"));
    }
    text
}

/// Writes `text` to stdout as it is: for formats that carry their own
/// escaping (the Prometheus exposition format), whose text is already free
/// of raw control characters.
pub fn print_raw(text: &str) -> io::Result<()> {
    write_out(text)
}

/// Writes `text` (no colour) to stdout.
pub fn print(text: &str) -> io::Result<()> {
    print_styled(text, &Style::plain())
}

/// Writes a JSON document to stdout, its strings' DEL, C1 and bidi
/// characters written as `\uXXXX` escapes: still the same JSON, and
/// nothing a terminal would act on.
pub fn print_json(text: &str) -> io::Result<()> {
    write_out(&json_safe(text))
}

/// Writes `text` to stdout, escaping every control character except the
/// colour codes `style` itself emits.
pub fn print_styled(text: &str, style: &Style) -> io::Result<()> {
    write_out(&terminal_safe(text, style.colored()))
}

fn write_out(text: &str) -> io::Result<()> {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return Err(io::Error::other("it was closed (or open for reading only) when xtprobe started"));
    }
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// The exit status once the output is written: `code`, or 3 if stdout
/// failed for any reason but a closed pipe.
pub fn status(code: ExitCode, printed: io::Result<()>) -> ExitCode {
    match printed {
        Ok(()) => code,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => code,
        Err(e) => {
            error(&format!("cannot write the output to stdout: {e}"));
            ExitCode::CannotProbe
        }
    }
}

/// Prints an error on stderr as `xtprobe: <message>`; never fails.
pub fn error(message: &str) {
    let safe = terminal_safe(message, false);
    let mut err = io::stderr().lock();
    let _ = writeln!(err, "xtprobe: {}", safe.trim_end());
}
