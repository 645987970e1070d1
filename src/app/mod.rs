//! The use cases: what each command does, joining the layers below
//! (`system`, `probe`, `kmod`, `kconfig`, profiles) into a report and an
//! exit status. Nothing here prints; [`crate::report`] formats, and the
//! binary writes.
//!
//! - [`check`]: ask the kernel about a list of requirements;
//! - [`doctor`]: gather the facts around what is missing, then one verdict;
//! - [`ensure`]: load what is missing and check again;
//! - [`load`]: load modules with their dependencies;
//! - [`index`]: write modules.dep, modules.alias, modules.softdep without kmod;
//! - [`capture`]: what the running ruleset requires;
//! - [`exit`]: the exit-status contract, decided here and only here.

pub mod capture;
pub mod check;
pub mod doctor;
pub mod ensure;
pub mod exit;
pub mod index;
pub mod load;
