//! Rendering reports for humans (aligned tables, colour on terminals) and
//! for programs (JSON with a versioned, documented schema). Nothing here
//! asks the kernel or reads module files.

pub mod check;
pub mod doctor;
pub mod ensure;
pub mod load;
pub mod profiles;
pub mod style;

pub use style::{Style, Tone, terminal_safe};

/// The version of every JSON document xtprobe prints. It changes only when
/// a field is removed or changes meaning; new fields may appear any time.
pub const SCHEMA_VERSION: u32 = 1;

/// Serializes a report document as pretty JSON with a final newline.
pub fn json(doc: &impl serde::Serialize) -> String {
    let mut s = serde_json::to_string_pretty(doc).expect("report documents serialize");
    s.push('\n');
    s
}
