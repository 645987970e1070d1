//! What a ruleset requires of the kernel: the requirements found in a live
//! ruleset (nf_tables objects, legacy xtables entries, ipsets — read by
//! [`crate::probe`]) or in a saved one (`iptables-save` output, `nft -j list
//! ruleset`), tallied with where each was seen.
//!
//! - [`tally`]: the tally and the conversions from what the kernel dumped;
//! - [`save`]: `iptables-save` / `iptables-restore` files, read as events;
//! - [`iptables`]: what iptables-nft and iptables-legacy send for them, per release;
//! - [`restore`]: the two together, tallied line by line;
//! - [`nft_json`]: `nft -j list ruleset` documents.

pub mod iptables;
pub mod nft_json;
pub mod restore;
pub mod save;
pub mod tally;

pub use iptables::Demand;
pub use tally::{Entry, Lines, Place, Tally};
