//! Colour for terminals, and nothing else: no colour when stdout is not a
//! terminal or `NO_COLOR` is set (https://no-color.org). And the last
//! filter before a terminal: [`terminal_safe`].

use std::borrow::Cow;
use std::io::IsTerminal;

/// `--color`: when text output is coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorWhen {
    /// On a terminal that can show colour, unless NO_COLOR is set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

static COLOR: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// Whether to colour: `always` and `never` decide; `auto` colours a
/// terminal unless NO_COLOR is set (no-color.org) or TERM is `dumb` (or
/// unset), which cannot show it.
pub fn use_color(when: ColorWhen, no_color: bool, term: &str, tty: bool) -> bool {
    match when {
        ColorWhen::Always => true,
        ColorWhen::Never => false,
        ColorWhen::Auto => tty && !no_color && !term.is_empty() && term != "dumb",
    }
}

/// Whether and how to colour output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    color: bool,
}

/// What a piece of text means; each meaning has one colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Supported, loaded: green.
    Good,
    /// Missing: red.
    Bad,
    /// Could not tell: yellow.
    Warn,
    /// Not applicable, notes: dim.
    Dim,
    /// Headings: bold.
    Strong,
}

/// The SGR sequences colours are drawn with.
const SGR: [&str; 6] = ["\x1b[0m", "\x1b[1m", "\x1b[2m", "\x1b[31m", "\x1b[32m", "\x1b[33m"];

/// What [`Style::paint`] writes in place of an SGR sequence: a private-use
/// character, this process's random token, the code's index, another
/// private-use character. Only [`terminal_safe`] turns them into colour,
/// and text from outside cannot guess the token, so it can neither colour
/// the output nor pass an escape of its own.
fn marker(code: usize) -> String {
    format!("\u{e000}{}{code}\u{e001}", token())
}

/// 16 hex digits from the kernel's random pool, once per process.
fn token() -> &'static str {
    static TOKEN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TOKEN.get_or_init(|| {
        let mut b = [0u8; 8];
        // SAFETY: `b` is a writable buffer of the length passed.
        let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
        if n != b.len() as isize {
            // No entropy to be had: an unguessable-enough fallback.
            let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            b = (t.as_nanos() as u64 ^ u64::from(std::process::id()).rotate_left(32)).to_le_bytes();
        }
        b.iter().map(|x| format!("{x:02x}")).collect()
    })
}

impl Style {
    /// Colour if stdout is a terminal and `NO_COLOR` is unset or empty.
    pub fn detect() -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let term = std::env::var("TERM").unwrap_or_default();
        let when = match COLOR.load(std::sync::atomic::Ordering::Relaxed) {
            1 => ColorWhen::Always,
            2 => ColorWhen::Never,
            _ => ColorWhen::Auto,
        };
        Self { color: use_color(when, no_color, &term, std::io::stdout().is_terminal()) }
    }

    /// Sets `--color` for every later [`Style::detect`] in this process.
    pub fn set_color(when: ColorWhen) {
        let v = match when {
            ColorWhen::Auto => 0,
            ColorWhen::Always => 1,
            ColorWhen::Never => 2,
        };
        COLOR.store(v, std::sync::atomic::Ordering::Relaxed);
    }

    /// Never colour.
    pub fn plain() -> Self {
        Self { color: false }
    }

    /// Always colour (tests).
    pub fn colored_always() -> Self {
        Self { color: true }
    }

    /// Whether this style colours.
    pub fn colored(&self) -> bool {
        self.color
    }

    /// `text` in the colour of `tone`, padded to `width` columns first so
    /// colour does not break alignment. Control characters in `text` are
    /// escaped first.
    pub fn paint(&self, tone: Tone, text: &str, width: usize) -> String {
        let text = terminal_safe(text, false);
        let padded = format!("{text:<width$}");
        if !self.color {
            return padded;
        }
        let code = match tone {
            Tone::Good => 4,
            Tone::Bad => 3,
            Tone::Warn => 5,
            Tone::Dim => 2,
            Tone::Strong => 1,
        };
        format!("{}{padded}{}", marker(code), marker(0))
    }
}

/// `text` with every control character escaped (`\x1b` → `\u{1b}`): C0
/// except newline and tab, DEL, C1, the Unicode bidirectional overrides
/// that reorder what a terminal shows, and the private-use characters the
/// colour markers use. With `colors`, this process's colour markers become
/// colour; without, they are dropped.
pub fn terminal_safe(text: &str, colors: bool) -> Cow<'_, str> {
    let unsafe_char = |c: char| {
        (c.is_control() && c != '\n' && c != '\t') || is_bidi(c) || c == '\u{e000}' || c == '\u{e001}'
    };
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    let prefix = format!("\u{e000}{}", token());
    while let Some(c) = rest.chars().next() {
        if c == '\u{e000}' && rest.starts_with(&prefix) {
            let after = &rest[prefix.len()..];
            let digit = after.chars().next().and_then(|d| d.to_digit(10)).map(|d| d as usize);
            if let Some(code) = digit.filter(|d| *d < SGR.len()) {
                if after[1..].starts_with('\u{e001}') {
                    if colors {
                        out.push_str(SGR[code]);
                    }
                    rest = &after[1 + '\u{e001}'.len_utf8()..];
                    continue;
                }
            }
        }
        if unsafe_char(c) {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    Cow::Owned(out)
}

/// One line of untrusted text (a name, a path) for a report: newlines and
/// tabs escaped too, so it cannot forge lines of its own.
pub fn one_line(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c == '\n' || c == '\r' || c == '\t') {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| if c == '\n' || c == '\t' { c.escape_default().to_string() } else { c.to_string() })
            .collect(),
    )
}

/// A JSON document with the characters JSON leaves raw but a terminal acts
/// on (DEL, C1 controls, bidirectional overrides) written as `\uXXXX`
/// escapes. They can only occur inside strings (the rest of a document is
/// ASCII), so the result is the same JSON value. C0 controls are already
/// escaped by the serializer.
pub fn json_safe(json: &str) -> Cow<'_, str> {
    let raw = |c: char| c == '\u{7f}' || ('\u{80}'..='\u{9f}').contains(&c) || is_bidi(c);
    if !json.chars().any(raw) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if raw(c) {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn is_bidi(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {

    #[test]
    fn when_to_colour() {
        use ColorWhen::*;
        let table = [
            (Auto, false, "xterm-256color", true, true),
            (Auto, false, "dumb", true, false),
            (Auto, false, "", true, false),
            (Auto, true, "xterm", true, false),
            (Auto, false, "xterm", false, false),
            (Always, true, "dumb", false, true),
            (Never, false, "xterm", true, false),
        ];
        for (when, no_color, term, tty, want) in table {
            assert_eq!(use_color(when, no_color, term, tty), want, "{when:?} {no_color} {term:?} {tty}");
        }
    }
    use super::*;

    #[test]
    fn json_stays_json() {
        let v = serde_json::json!({"name": "evil\u{202e}name\u{7f}\u{85}\u{1b}x"});
        let text = serde_json::to_string(&v).unwrap();
        let safe = json_safe(&text);
        assert!(!safe.chars().any(|c| c.is_control() || is_bidi(c)), "{safe}");
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, v, "the same value");
    }

    #[test]
    fn control_characters_never_pass_raw() {
        let hostile = "name\x1b]0;owned\x07\x1b[2J\r\u{9b}31m\u{202e}txt\x7f";
        let plain = terminal_safe(hostile, false);
        assert!(!plain.chars().any(|c| c.is_control() && c != '\n'), "{plain:?}");
        assert!(plain.contains("\\u{1b}]0;owned\\u{7}"), "{plain}");
        // Colour on: our own codes pass, nothing else does.
        let painted = Style::colored_always().paint(Tone::Bad, hostile, 0);
        let safe = terminal_safe(&painted, true);
        let escapes: Vec<&str> =
            safe.match_indices('\x1b').map(|(i, _)| &safe[i..i + 5.min(safe.len() - i)]).collect();
        assert_eq!(escapes, ["\x1b[31m", "\x1b[0m"], "{safe:?}");
        assert_eq!(terminal_safe("a\tb\nc", false), "a\tb\nc", "tabs and newlines are layout");
        assert!(matches!(terminal_safe("plain", false), Cow::Borrowed(_)));
    }
}
