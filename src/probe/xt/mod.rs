//! xtables extensions (matches and targets): which names and revisions the
//! kernel has registered.
//!
//! Two backends answer the same question:
//! - [`nft`]: the `NFNL_MSG_COMPAT_GET` query iptables-nft sends over
//!   `NETLINK_NETFILTER` (`net/netfilter/nft_compat.c`, bytes in [`compat`]);
//!   it reports the best revision the kernel knows.
//! - [`legacy`]: the `*_SO_GET_REVISION_*` getsockopt iptables-legacy uses
//!   (`net/ipv4/netfilter/ip_tables.c`); it only says yes or no per revision.
//!
//! Both go through `xt_find_revision()` (`net/netfilter/x_tables.c`), whose
//! registry is global: the answer is the same in every network namespace, so
//! probing from a fresh one is exact. Both may make the kernel try to autoload
//! a module (`ipt_<name>`) when the name is unknown. [`walk`] decides which
//! revisions to ask so that the answer is exact for any registry.

pub mod abi;
pub mod beneath;
pub mod compat;
pub mod entries;
pub mod legacy;
pub mod nft;
pub mod walk;
