//! Colour for terminals, and nothing else: no colour when stdout is not a
//! terminal or `NO_COLOR` is set (https://no-color.org). And the last
//! filter before a terminal: [`terminal_safe`].

use std::borrow::Cow;
use std::io::IsTerminal;

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

/// The SGR sequences [`Style::paint`] emits, and the only escape sequences
/// [`terminal_safe`] lets through (when colour is on).
const SGR: [&str; 6] = ["\x1b[0m", "\x1b[1m", "\x1b[2m", "\x1b[31m", "\x1b[32m", "\x1b[33m"];

impl Style {
    /// Colour if stdout is a terminal and `NO_COLOR` is unset or empty.
    pub fn detect() -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Self { color: !no_color && std::io::stdout().is_terminal() }
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
    /// escape codes do not break alignment. Control characters in `text`
    /// are escaped first, so nothing inside can pose as a colour code.
    pub fn paint(&self, tone: Tone, text: &str, width: usize) -> String {
        let text = terminal_safe(text, false);
        let padded = format!("{text:<width$}");
        if !self.color {
            return padded;
        }
        let code = match tone {
            Tone::Good => SGR[4],
            Tone::Bad => SGR[3],
            Tone::Warn => SGR[5],
            Tone::Dim => SGR[2],
            Tone::Strong => SGR[1],
        };
        format!("{code}{padded}{}", SGR[0])
    }
}

/// `text` with every control character escaped (`\x1b` → `\u{1b}`): C0
/// except newline and tab, DEL, C1, and the Unicode bidirectional
/// overrides that reorder what a terminal shows. With `keep_colors`, the
/// exact colour sequences [`Style::paint`] writes pass unchanged.
pub fn terminal_safe(text: &str, keep_colors: bool) -> Cow<'_, str> {
    let unsafe_char = |c: char| {
        (c.is_control() && c != '\n' && c != '\t')
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if keep_colors && c == '\x1b' {
            if let Some(code) = SGR.iter().find(|code| rest.starts_with(**code)) {
                out.push_str(code);
                rest = &rest[code.len()..];
                continue;
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

#[cfg(test)]
mod tests {
    use super::*;

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
