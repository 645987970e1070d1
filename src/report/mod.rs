//! Rendering reports for humans (aligned tables, colour on terminals) and
//! for programs (JSON with a versioned, documented schema). Nothing here
//! asks the kernel or reads module files.

pub mod capture;
pub mod check;
pub mod doctor;
pub mod ensure;
pub mod fleet;
pub mod index;
pub mod load;
pub mod profiles;
pub mod style;

pub use style::{Style, Tone, json_safe, one_line, terminal_safe};

/// The version of every JSON document xtprobe prints. It changes only when
/// a field is removed or changes meaning; new fields may appear any time.
/// 3: requirements of the nf_tables and ipset kinds (`kind` expr, chain,
/// family, set, ipset; `backend` nftables, ipset; families inet, netdev).
/// 4: `profiles --json` is an object (`schema_version`, `profiles`), not a
/// bare array; doctor's verdict `no-modules-dir`. Each document's JSON
/// Schema is shipped in `contrib/schema/` (`/usr/share/xtprobe/schema/`).
pub const SCHEMA_VERSION: u32 = 4;

/// `xtprobe profiles --json`: the built-in profiles, versioned.
#[derive(serde::Serialize)]
pub struct ProfilesDocument<'a, P: serde::Serialize> {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The profiles.
    pub profiles: &'a [P],
}

/// Serializes a report document as pretty JSON with a final newline.
pub fn json(doc: &impl serde::Serialize) -> String {
    // Documents are plain data (strings, numbers, lists): serializing them
    // cannot fail; if it ever did, say so in JSON rather than panic.
    let mut s =
        serde_json::to_string_pretty(doc).unwrap_or_else(|e| format!("{{\"error\": {:?}}}", e.to_string()));
    s.push('\n');
    s
}

/// A command's document with the privileges it ran with appended
/// (`privileges`: the capabilities kept, see [`crate::system::privilege`];
/// `probes`: the network namespace the probes ran in, see
/// [`crate::system::netns`]).
#[derive(serde::Serialize)]
pub struct WithPrivileges<'a, D: serde::Serialize> {
    #[serde(flatten)]
    doc: D,
    #[serde(skip_serializing_if = "Option::is_none")]
    probes: Option<&'a crate::system::netns::ProbeNamespace>,
    #[serde(skip_serializing_if = "Option::is_none")]
    privileges: Option<&'a crate::system::privilege::Privileges>,
}

/// [`json`] of `doc` with `privileges` appended when given.
pub fn json_with(
    doc: impl serde::Serialize,
    privileges: Option<&crate::system::privilege::Privileges>,
) -> String {
    json(&WithPrivileges { doc, probes: privileges.and_then(|p| p.probes.as_ref()), privileges })
}
