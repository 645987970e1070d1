//! The running kernel's build configuration: what it was *built* with, as
//! opposed to what is loaded ([`crate::probe`]) or installed
//! ([`crate::kmod`]).
//!
//! Searched in the order of moby's check-config.sh and k8s'
//! system-validators, first hit wins: `/proc/config.gz`,
//! `/boot/config-R`, `/lib/modules/R/config`, `/usr/lib/modules/R/config`,
//! `/usr/lib/ostree-boot/config-R`, `/usr/lib/kernel/config-R`,
//! `/lib/modules/R/build/.config`, `/usr/src/linux-R/.config`,
//! `/usr/src/linux/.config` (R = `uname -r`). Gzip is recognised by its
//! magic bytes, not the name.

pub mod deps;
pub mod lang;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::compress::{self, Compression};
use crate::system::fs::{self, FsError};

/// Config files larger than this, stored or decompressed, are refused
/// (real ones are about 300 KiB).
pub const MAX_CONFIG_BYTES: u64 = 16 << 20;

/// One option's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Value {
    /// `=y`: built in.
    Yes,
    /// `=m`: built as a module.
    Module,
    /// `# CONFIG_X is not set`.
    NotSet,
    /// Any other value (`="string"`, `=123`).
    Other(String),
}

impl Value {
    /// `y`, `m`, `not set`, or the value.
    pub fn describe(&self) -> String {
        match self {
            Value::Yes => "y".into(),
            Value::Module => "m".into(),
            Value::NotSet => "not set".into(),
            Value::Other(v) => v.clone(),
        }
    }
}

/// A parsed kernel configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelConfig {
    /// Where it was read.
    pub source: PathBuf,
    /// Option → value, for every option the file mentions.
    pub values: BTreeMap<String, Value>,
    /// Lines that were neither options, comments nor blank (line, text).
    pub malformed: Vec<(usize, String)>,
}

/// Why a config file could not be read.
#[derive(Debug, thiserror::Error)]
#[error("kernel config {}: {detail}", crate::system::fs::shown(.path))]
pub struct ConfigError {
    /// The file.
    pub path: PathBuf,
    /// What went wrong.
    pub detail: String,
}

impl ConfigError {
    /// A file-layer error, worded without repeating the path.
    fn from_fs(path: &Path, e: FsError) -> Self {
        let text = e.to_string();
        let prefix = format!("{}: ", path.display());
        let detail = text.strip_prefix(&prefix).unwrap_or(&text).to_string();
        Self { path: path.to_path_buf(), detail }
    }
}

impl KernelConfig {
    /// Parses the text of a `.config`.
    pub fn parse(source: &Path, text: &str) -> Self {
        let mut values = BTreeMap::new();
        let mut malformed = Vec::new();
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() {
                continue;
            }
            if let Some(rest) = line.strip_prefix("# ") {
                if let Some(name) = rest.strip_suffix(" is not set") {
                    if is_symbol(name) {
                        values.insert(name.to_string(), Value::NotSet);
                    }
                }
                continue;
            }
            if line.starts_with('#') {
                continue;
            }
            match line.split_once('=') {
                Some((name, value)) if is_symbol(name) && !value.is_empty() => {
                    let v = match value {
                        "y" => Value::Yes,
                        "m" => Value::Module,
                        "n" => Value::NotSet,
                        other => Value::Other(other.trim_matches('"').to_string()),
                    };
                    values.insert(name.to_string(), v);
                }
                _ => malformed.push((n + 1, raw.to_string())),
            }
        }
        Self { source: source.to_path_buf(), values, malformed }
    }

    /// Reads and parses a file, plain or gzip: a regular file, not a link,
    /// at most [`MAX_CONFIG_BYTES`] as stored and once decompressed.
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        let err = |detail: String| ConfigError { path: path.to_path_buf(), detail };
        let data = fs::read_file(path, MAX_CONFIG_BYTES, "a kernel config")
            .map_err(|e| ConfigError::from_fs(path, e))?;
        let data = match Compression::from_magic(&data) {
            Compression::None => data,
            kind => compress::decompress(kind, &data, MAX_CONFIG_BYTES).map_err(|e| err(e.to_string()))?,
        };
        let text = String::from_utf8_lossy(&data);
        let config = Self::parse(path, &text);
        if config.values.is_empty() {
            return Err(err("no CONFIG_ options in it: not a kernel config".into()));
        }
        Ok(config)
    }

    /// The value of `symbol`; `None` when the file does not mention it
    /// (its dependencies are off, so it cannot be set).
    pub fn get(&self, symbol: &str) -> Option<&Value> {
        self.values.get(symbol)
    }

    /// The best value among alternative spellings of one option (current
    /// name first): `y` over `m` over anything else; `None` if the file
    /// mentions none of them.
    pub fn best_of<'a>(&self, symbols: &[&'a str]) -> Option<(&'a str, &Value)> {
        let rank = |v: &Value| match v {
            Value::Yes => 0,
            Value::Module => 1,
            _ => 2,
        };
        symbols.iter().filter_map(|s| self.get(s).map(|v| (*s, v))).min_by_key(|(_, v)| rank(v))
    }
}

/// The places searched for `release`'s config, in order.
pub fn candidates(release: &str) -> Vec<PathBuf> {
    [
        "/proc/config.gz".to_string(),
        format!("/boot/config-{release}"),
        format!("/lib/modules/{release}/config"),
        format!("/usr/lib/modules/{release}/config"),
        format!("/usr/lib/ostree-boot/config-{release}"),
        format!("/usr/lib/kernel/config-{release}"),
        format!("/lib/modules/{release}/build/.config"),
        format!("/usr/src/linux-{release}/.config"),
        "/usr/src/linux/.config".to_string(),
    ]
    .into_iter()
    .map(PathBuf::from)
    .collect()
}

/// Finds and reads the running kernel's config: `explicit` if given (an
/// error if unreadable), else the first readable candidate, else `None`.
pub fn find(release: &str, explicit: Option<&Path>) -> Result<Option<KernelConfig>, ConfigError> {
    if let Some(p) = explicit {
        return KernelConfig::read(p).map(Some);
    }
    // The first candidate that reads as a config wins; one that is absent,
    // a link or not a config is passed over.
    Ok(candidates(release).iter().find_map(|p| KernelConfig::read(p).ok()))
}

fn is_symbol(s: &str) -> bool {
    s.starts_with("CONFIG_") && s.len() > 7 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const SAMPLE: &str = "#\n# Automatically generated file; DO NOT EDIT.\n#\nCONFIG_NETFILTER_XT_MATCH_COMMENT=m\n\
        CONFIG_NFT_COMPAT=y\n# CONFIG_NETFILTER_XT_MATCH_U32 is not set\nCONFIG_MODPROBE_PATH=\"/sbin/modprobe\"\n\
        CONFIG_LOG_BUF_SHIFT=17\nthis is not a config line\nCONFIG_=y\n";

    #[test]
    fn values_and_malformed_lines() {
        let c = KernelConfig::parse(Path::new("x"), SAMPLE);
        assert_eq!(c.get("CONFIG_NETFILTER_XT_MATCH_COMMENT"), Some(&Value::Module));
        assert_eq!(c.get("CONFIG_NFT_COMPAT"), Some(&Value::Yes));
        assert_eq!(c.get("CONFIG_NETFILTER_XT_MATCH_U32"), Some(&Value::NotSet));
        assert_eq!(c.get("CONFIG_MODPROBE_PATH"), Some(&Value::Other("/sbin/modprobe".into())));
        assert_eq!(c.get("CONFIG_LOG_BUF_SHIFT"), Some(&Value::Other("17".into())));
        assert_eq!(c.get("CONFIG_NETFILTER_XT_MATCH_STRING"), None, "absent is not 'not set'");
        assert_eq!(c.malformed, vec![(9, "this is not a config line".into()), (10, "CONFIG_=y".into())]);
        assert_eq!(
            c.best_of(&["CONFIG_NETFILTER_XT_MATCH_U32", "CONFIG_NFT_COMPAT"]),
            Some(("CONFIG_NFT_COMPAT", &Value::Yes))
        );
        assert_eq!(c.best_of(&["CONFIG_NOPE"]), None);
    }

    #[test]
    fn plain_and_gzip_files_and_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("config-6.12");
        std::fs::write(&plain, SAMPLE).unwrap();
        let gz = dir.path().join("config.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(SAMPLE.as_bytes()).unwrap();
        std::fs::write(&gz, enc.finish().unwrap()).unwrap();
        for p in [&plain, &gz] {
            let c = KernelConfig::read(p).unwrap();
            assert_eq!(c.get("CONFIG_NETFILTER_XT_MATCH_COMMENT"), Some(&Value::Module), "{}", p.display());
            assert_eq!(c.source, *p);
        }
        let junk = dir.path().join("junk");
        std::fs::write(&junk, "hello\nworld\n").unwrap();
        assert!(KernelConfig::read(&junk).unwrap_err().to_string().contains("not a kernel config"));
        let bad_gz = dir.path().join("bad.gz");
        std::fs::write(&bad_gz, [0x1f, 0x8b, 8, 0, 1, 2, 3]).unwrap();
        assert!(KernelConfig::read(&bad_gz).is_err());
        assert!(KernelConfig::read(&dir.path().join("missing")).is_err());
        assert!(find("x", Some(&dir.path().join("missing"))).is_err(), "an explicit file must exist");
    }

    #[test]
    fn search_order_starts_with_proc() {
        let c = candidates("6.12.1");
        assert_eq!(c[0], PathBuf::from("/proc/config.gz"));
        assert_eq!(c[1], PathBuf::from("/boot/config-6.12.1"));
        assert_eq!(c.len(), 9);
    }
}
