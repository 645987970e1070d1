//! kernel-test: boot kernels in QEMU under TCG and run xtprobe inside them.
//!
//! - [`kernels`] gets the kernels of `vm-images/kernels.toml` ready:
//!   minimal ones built from Debian's linux-source ([`kbuild`]) and
//!   Debian's own images ([`distro`]), all cached ([`cache`]).
//! - [`image`] packs an initramfs ([`cpio`]): the static guest runner as
//!   `/init`, the static xtprobe, the kernel's modules, the real
//!   iptables-nft when a case needs it, and files made for the case
//!   ([`edit`]: a module with a broken or no signature, from any kernel).
//! - [`qemu`] boots it and collects what the guest prints ([`protocol`]);
//!   [`matrix`] runs the cases of `vm-images/matrix.toml` and judges them.
//! - [`replay`] loads rules files with the real clients, a result per
//!   rule, in a guest or a fresh netns; [`conformance`] judges xtprobe by
//!   iptables' own tests with it, on pruned module trees ([`prune`]).
//!
//! A case passes only if QEMU exited, the guest's final marker carrying this
//! run's nonce was seen, and every step met its expectation.

pub mod arch;
pub mod cache;
pub mod conformance;
pub mod cpio;
pub mod distro;
pub mod edit;
pub mod foreign;
pub mod image;
pub mod kbuild;
pub mod kernels;
pub mod matrix;
pub mod owners;
pub mod pool;
pub mod preflight;
pub mod protocol;
pub mod prune;
pub mod qemu;
pub mod replay;
pub mod results;
