//! The system layer: the only code that talks to the operating system
//! directly, and the only `unsafe` code in the crate.
//!
//! - [`fs`]: the one bounded, link-safe way to read and write files;
//! - [`cleanup`]: temporary files removed when a signal ends the process;
//! - [`host`]: `/proc` and `/sys` of the running system (or a fixture),
//!   and the kernel release;
//! - [`syscalls`]: the calls no safe wrapper covers (legacy getsockopt,
//!   `recvmmsg`, the module syscalls behind a trait);
//! - [`errno`]: errno values as a type, and the `EINTR` retry;
//! - [`deadline`]: deadlines that hold while the kernel works inside a call;
//! - [`privilege`]: dropping every capability a command does not need;
//! - [`netns`]: asking from a throw-away network namespace.
//!
//! Everything above (`probe`, `kmod`, `kconfig`, the commands) reads files
//! only through [`fs`].

pub mod cleanup;
pub mod deadline;
pub mod errno;
pub mod fs;
pub mod host;
pub mod netns;
pub mod privilege;
pub mod syscalls;

pub use errno::Errno;
