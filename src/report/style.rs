//! Colour for terminals, and nothing else: no colour when stdout is not a
//! terminal or `NO_COLOR` is set (https://no-color.org).

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

    /// `text` in the colour of `tone`, padded to `width` columns first so
    /// escape codes do not break alignment.
    pub fn paint(&self, tone: Tone, text: &str, width: usize) -> String {
        let padded = format!("{text:<width$}");
        if !self.color {
            return padded;
        }
        let code = match tone {
            Tone::Good => "32",
            Tone::Bad => "31",
            Tone::Warn => "33",
            Tone::Dim => "2",
            Tone::Strong => "1",
        };
        format!("\x1b[{code}m{padded}\x1b[0m")
    }
}
