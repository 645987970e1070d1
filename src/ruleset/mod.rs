//! What a ruleset requires of the kernel: the requirements found in a live
//! ruleset (nf_tables objects, legacy xtables entries, ipsets — read by
//! [`crate::probe`]) or in a saved one (`iptables-save` output, `nft -j list
//! ruleset`), tallied with where each was seen.
//!
//! - [`tally`]: the tally and the conversions from what the kernel dumped;
//! - [`save`]: `iptables-save` / `iptables-restore` files;
//! - [`nft_json`]: `nft -j list ruleset` documents.

pub mod nft_json;
pub mod save;
pub mod tally;

pub use tally::{Entry, Place, Tally};
