//! What the running kernel says about modules: `/sys/module/NAME/initstate`
//! and `/sys/module/compression` (kernel/module/sysfs.c, main.c).

use std::time::{Duration, Instant};

use serde::Serialize;

use super::name::ModuleName;
use crate::compress::Compression;
use crate::system::host::Host;

/// `/sys/module/NAME/initstate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InitState {
    /// Loaded and initialised.
    Live,
    /// Being loaded right now (by us, another process or the kernel's
    /// autoloader).
    Coming,
    /// Being unloaded.
    Going,
}

impl InitState {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "live" => Some(InitState::Live),
            "coming" => Some(InitState::Coming),
            "going" => Some(InitState::Going),
            _ => None,
        }
    }
}

/// Reads module state from a [`Host`]'s `/sys`.
#[derive(Debug, Clone)]
pub struct KernelModules {
    host: Host,
}

impl KernelModules {
    /// State from `host`.
    pub fn new(host: Host) -> Self {
        Self { host }
    }

    /// The module's init state; `None` if it is not loaded as a module.
    /// (A built-in module with parameters has a `/sys/module` directory but
    /// no `initstate`; that is `None` here, and modules.builtin decides.)
    pub fn initstate(&self, name: &ModuleName) -> Option<InitState> {
        InitState::parse(&self.host.sys_file(&format!("module/{name}/initstate"))?)
    }

    /// The algorithm the kernel decompresses in `finit_module` with
    /// `MODULE_INIT_COMPRESSED_FILE`; `None` without `CONFIG_MODULE_DECOMPRESS`.
    pub fn compression(&self) -> Option<Compression> {
        Compression::from_sysfs(&self.host.sys_file("module/compression")?)
    }

    /// Waits up to `timeout` for a module that is `coming` to become `live`.
    /// Returns its last state.
    pub fn wait_live(&self, name: &ModuleName, timeout: Duration) -> Option<InitState> {
        let deadline = Instant::now() + timeout;
        loop {
            let state = self.initstate(name);
            if state != Some(InitState::Coming) || Instant::now() >= deadline {
                return state;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether the kernel supports loadable modules at all: `/proc/modules`
    /// exists only with `CONFIG_MODULES`.
    pub fn modules_supported(&self) -> bool {
        self.host.proc_exists("modules")
    }
}
