//! Loading kernel modules without kmod: finding a module and its
//! dependencies in a modules directory, and handing it to the kernel with
//! `finit_module` or `init_module`.
//!
//! The split follows libkmod's: [`index`] reads depmod's text files,
//! [`tree`] finds files when there are none, [`compress`] and [`file`] read
//! module files, [`modinfo`] reads their `.modinfo`, [`resolve`] turns names
//! into an ordered [`Plan`], [`insert`] carries it out and explains refusals,
//! [`persist`] records modules for the next boot. [`policy`] and [`state`]
//! read what the running kernel allows and has; [`config`] what the
//! administrator's modprobe.d and the kernel command line say.
//!
//! This module never probes netfilter; [`crate::probe`] does.

pub mod config;
pub mod file;
pub mod glob;
pub mod index;
pub mod insert;
pub mod modinfo;
pub mod name;
pub mod persist;
pub mod policy;
pub mod presence;
pub mod resolve;
pub mod scan;
pub mod state;
pub mod tree;

use std::path::PathBuf;

pub use name::ModuleName;
pub use resolve::{Action, Method, Plan, Request, Resolver, Step};

/// The directories searched for `release`'s modules, in order.
pub fn default_dirs(release: &str) -> Vec<PathBuf> {
    vec![
        PathBuf::from(format!("/lib/modules/{release}")),
        PathBuf::from(format!("/usr/lib/modules/{release}")),
    ]
}

/// The modules directory of `release`: the first of [`default_dirs`] that
/// exists, or `None`.
pub fn modules_dir(release: &str) -> Option<PathBuf> {
    default_dirs(release).into_iter().find(|d| d.is_dir())
}
