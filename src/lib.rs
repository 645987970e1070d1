//! xtprobe: a netlink-native netfilter probe.
//!
//! - [`probe`] asks the running kernel which xtables extensions and
//!   revisions it supports (nft_compat over nfnetlink, and the legacy
//!   getsockopt), the way iptables itself asks.
//! - [`kmod`] finds kernel modules and their dependencies and loads them
//!   with `finit_module`/`init_module`, explaining every refusal.
//! - [`check`] runs those probes for a list of requirements and decides the
//!   exit status; [`report`] renders the result as a table or JSON.
//!
//! The binary `xtprobe` is a thin layer over this library. Nothing here runs
//! another program.

#![deny(missing_docs)]

pub mod app;
pub mod catalog;
pub mod compress;
pub mod kconfig;
pub mod kmod;
pub mod probe;
pub mod profile;
pub mod report;
pub mod ruleset;
pub mod system;
