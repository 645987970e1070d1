//! The `.modinfo` section of a kernel module: NUL-separated `key=value`
//! strings written by `MODULE_*()` macros and modpost (`depends=`,
//! `softdep=`, `alias=`, `vermagic=`, `name=`).
//!
//! This is how dependencies are found when there is no modules.dep (Debian's
//! packages ship none; depmod writes it at install time), as busybox's
//! modprobe-small does. The ELF container is read with the `object` crate.

use object::{Object, ObjectSection};

use super::name::ModuleName;

/// What a module says about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModInfo {
    /// `name=`: the module's own name (modern kernels).
    pub name: Option<String>,
    /// `depends=`: modules whose symbols it uses, comma-separated.
    pub depends: Vec<ModuleName>,
    /// `softdep=` `pre:` entries (module names or aliases).
    pub softdep_pre: Vec<String>,
    /// `softdep=` `post:` entries.
    pub softdep_post: Vec<String>,
    /// Each `softdep=` value as written (what depmod copies to modules.softdep).
    pub softdep_raw: Vec<String>,
    /// `alias=` patterns.
    pub aliases: Vec<String>,
    /// `vermagic=`: the kernel release and options it was built for.
    pub vermagic: Option<String>,
}

/// Why `.modinfo` could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModinfoError {
    /// Not a readable ELF object (truncated, corrupt, or not ELF at all).
    #[error("not a valid ELF object: {0}")]
    BadElf(String),
    /// ELF, but without the section every kernel module has.
    #[error("ELF file without a .modinfo section: not a kernel module")]
    NoModinfo,
}

impl ModInfo {
    /// Reads `.modinfo` from a (decompressed) module image.
    pub fn from_elf(image: &[u8]) -> Result<Self, ModinfoError> {
        let file = object::File::parse(image).map_err(|e| ModinfoError::BadElf(e.to_string()))?;
        let section = file.section_by_name(".modinfo").ok_or(ModinfoError::NoModinfo)?;
        let data = section.data().map_err(|e| ModinfoError::BadElf(e.to_string()))?;
        Ok(Self::parse(data))
    }

    /// Parses the raw section: `key=value` strings separated (and padded)
    /// by NULs. Unknown keys and malformed entries are ignored.
    pub fn parse(section: &[u8]) -> Self {
        let mut info = ModInfo::default();
        for entry in section.split(|&b| b == 0).filter(|e| !e.is_empty()) {
            let entry = String::from_utf8_lossy(entry);
            let Some((key, value)) = entry.split_once('=') else { continue };
            match key {
                "name" => info.name = Some(value.to_string()),
                "depends" => info
                    .depends
                    .extend(value.split(',').map(str::trim).filter(|d| !d.is_empty()).map(ModuleName::new)),
                "softdep" => {
                    info.softdep_raw.push(value.to_string());
                    let (pre, post) = parse_softdep(value);
                    info.softdep_pre.extend(pre);
                    info.softdep_post.extend(post);
                }
                "alias" => info.aliases.push(value.to_string()),
                "vermagic" => info.vermagic = Some(value.trim().to_string()),
                _ => {}
            }
        }
        info
    }

    /// The kernel release in `vermagic=` (its first word).
    pub fn vermagic_release(&self) -> Option<&str> {
        self.vermagic.as_deref()?.split_whitespace().next()
    }
}

/// Reads a module image from `image` only as far as the end of its
/// `.modinfo` strings, and parses them: the fast path of the alias scan
/// over a whole tree, where decompressing every module to its end would
/// cost five times as much (on Debian 6.12 the strings end, on average, a
/// fifth of the way into the image).
///
/// modpost appends `name=` and `vermagic=` to the module's own `.modinfo`,
/// so the section ends with `vermagic=…`. The scan stops there, then walks
/// back over the NUL-separated `key=value` strings to the start of the run.
/// If the run's `name=` is not `expected` (or no `vermagic=` appears within
/// `limit` bytes), it gives up with `None` and the caller reads the ELF
/// section properly. Only a filter: what it finds is confirmed by the full
/// `.modinfo` before it is used.
pub fn scan_prefix(mut image: impl std::io::Read, expected: &ModuleName, limit: usize) -> Option<ModInfo> {
    const NEEDLE: &[u8] = b"\0vermagic=";
    let mut buf: Vec<u8> = Vec::with_capacity(64 << 10);
    let mut chunk = vec![0u8; 32 << 10];
    let mut searched: usize = 0;
    let mut found: Option<usize> = None;
    loop {
        let n = loop {
            match image.read(&mut chunk) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => return None,
            }
        };
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        // Not an ELF file: no .modinfo to find (and a bomb is not worth
        // decompressing to the limit to learn that).
        if buf.len() >= 4 && &buf[..4] != b"\x7fELF" {
            return None;
        }
        if found.is_none() {
            let from = searched.saturating_sub(NEEDLE.len());
            found = buf[from..].windows(NEEDLE.len()).position(|w| w == NEEDLE).map(|p| from + p + 1);
            searched = buf.len();
        }
        if let Some(start) = found {
            // Entries after `vermagic=` (not modpost's order, but depmod
            // keeps them) belong to the run too.
            if let Some(end) = run_end(&buf, start) {
                let info = ModInfo::parse(&buf[run_start(&buf, start)..end]);
                return match &info.name {
                    Some(n) if ModuleName::new(n) != *expected => None,
                    _ => Some(info),
                };
            }
        }
        if buf.len() > limit {
            return None;
        }
    }
}

/// Where the run of `key=value` strings ending with the one at `at`
/// begins: walking back string by string while each is a `.modinfo` entry
/// (an identifier, `=`, a value) or padding.
/// Whether `s` is a `.modinfo` entry: `KEY=…`, KEY an identifier.
fn is_entry(s: &[u8]) -> bool {
    s.iter().position(|&b| b == b'=').is_some_and(|eq| {
        eq > 0 && s[..eq].iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
    })
}

/// The end (exclusive) of the run of NUL-separated entries whose string
/// starts at `at`: after the last entry's NUL, where NUL padding and then
/// something that is not an entry follows. `None` if the buffer ends
/// before that can be told (read more).
fn run_end(buf: &[u8], at: usize) -> Option<usize> {
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'.';
    let mut pos = at;
    let mut end = at;
    loop {
        let rest = &buf[pos..];
        let Some(len) = rest.iter().position(|&b| b == 0) else {
            // Unterminated so far: not an entry if its key already is not one.
            let key_end = rest.iter().position(|&b| !ident(b)).unwrap_or(rest.len());
            // (Keys are short: `parmtype`, `intree`; 64 bytes is no key.)
            let decided = key_end > 64 || (key_end < rest.len() && (key_end == 0 || rest[key_end] != b'='));
            return decided.then_some(end);
        };
        if len > 0 {
            if !is_entry(&rest[..len]) {
                return Some(end);
            }
            end = pos + len;
        }
        pos += len + 1;
        if pos >= buf.len() {
            return None;
        }
    }
}

fn run_start(buf: &[u8], at: usize) -> usize {
    let mut start = at;
    let mut end = at; // exclusive end of the previous string (its NUL)
    while end > 0 {
        // buf[end - 1] is the NUL before the string that starts at `start`.
        let prev_end = end - 1;
        let prev_start = buf[..prev_end].iter().rposition(|&b| b == 0).map_or(0, |p| p + 1);
        let s = &buf[prev_start..prev_end];
        let is_entry = |s: &[u8]| {
            s.iter().position(|&b| b == b'=').is_some_and(|eq| {
                eq > 0 && s[..eq].iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
            })
        };
        if s.is_empty() || is_entry(s) {
            if !s.is_empty() {
                start = prev_start;
            }
            end = prev_start;
            if prev_start == 0 {
                break;
            }
        } else {
            // The section's first string follows the previous section's
            // bytes with no NUL between: it starts at the first `KEY=` of a
            // known key that no identifier character precedes.
            let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
            let first = (0..s.len()).find(|&p| {
                (p == 0 || !ident(s[p - 1]))
                    && KEYS
                        .iter()
                        .any(|k| s[p..].starts_with(k.as_bytes()) && s.get(p + k.len()) == Some(&b'='))
            });
            if let Some(p) = first {
                start = prev_start + p;
            }
            break;
        }
    }
    start
}

/// The `.modinfo` keys the kernel's macros and modpost write.
const KEYS: [&str; 20] = [
    "name",
    "parm",
    "sourceversion",
    "description",
    "scmversion",
    "srcversion",
    "import_ns",
    "retpoline",
    "livepatch",
    "firmware",
    "parmtype",
    "vermagic",
    "license",
    "softdep",
    "weakdep",
    "depends",
    "version",
    "author",
    "intree",
    "alias",
];

/// Parses a softdep value, `pre: a b post: c`, as in modprobe.d(5). Words
/// before any `pre:`/`post:` count as `pre:`, as modules.softdep lines
/// such as `softdep cifs gcm` rely on.
pub fn parse_softdep(value: &str) -> (Vec<String>, Vec<String>) {
    let (mut pre, mut post) = (Vec::new(), Vec::new());
    let mut into_post = false;
    for word in value.split_whitespace() {
        match word {
            "pre:" => into_post = false,
            "post:" => into_post = true,
            w if into_post => post.push(w.to_string()),
            w => pre.push(w.to_string()),
        }
    }
    (pre, post)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_debian_xt_comment_modinfo() {
        // The strings of Debian 6.12's xt_comment.ko, in section order.
        let raw = b"alias=ip6t_comment\0alias=ipt_comment\0license=GPL\0\
description=Xtables: No-op match which can be tagged with a comment\0\
author=Brad Fisher <brad@info-link.net>\0depends=x_tables\0intree=Y\0name=xt_comment\0\
retpoline=Y\0vermagic=6.12.117+deb12-amd64 SMP preempt mod_unload modversions \0\0\0";
        let info = ModInfo::parse(raw);
        assert_eq!(info.name.as_deref(), Some("xt_comment"));
        assert_eq!(info.depends, vec![ModuleName::new("x_tables")]);
        assert_eq!(info.aliases, vec!["ip6t_comment", "ipt_comment"]);
        assert_eq!(info.vermagic_release(), Some("6.12.117+deb12-amd64"));
    }

    #[test]
    fn empty_depends_and_softdeps() {
        let info = ModInfo::parse(b"depends=\0softdep=pre: crc32c post: foo bar\0");
        assert!(info.depends.is_empty());
        assert_eq!(info.softdep_pre, vec!["crc32c"]);
        assert_eq!(info.softdep_post, vec!["foo", "bar"]);
        let (pre, post) = parse_softdep("gcm");
        assert_eq!((pre, post), (vec!["gcm".to_string()], vec![]));
    }

    #[test]
    fn the_prefix_scan_stops_at_vermagic_and_finds_the_whole_run() {
        // Strings before the section that do not look like `key=value` end
        // the run; the first string may follow other bytes with no NUL.
        let mut image = b"\x7fELF junk\0alias=rodata\0=not an entry\xff\xfe\x01N\x01".to_vec();
        image.extend_from_slice(b"alias=ipt_comment\0alias=ip6t_comment\0license=GPL\0depends=x_tables\0");
        image.extend_from_slice(b"name=xt_comment\0vermagic=6.12.0 SMP \0");
        image.extend_from_slice(&[0x55; 100_000]); // the rest of the module, never read
        let mut read = 0usize;
        let counting = std::io::Read::take(&image[..], u64::MAX).inspect_bytes(&mut read);
        let info = scan_prefix(counting, &ModuleName::new("xt_comment"), 1 << 20).unwrap();
        assert_eq!(info.aliases, ["ipt_comment", "ip6t_comment"]);
        assert_eq!(info.depends, [ModuleName::new("x_tables")]);
        assert!(read < 50_000, "stopped early: read {read} bytes");
        // Another module's name: give up (the caller parses the ELF).
        assert!(scan_prefix(&image[..], &ModuleName::new("xt_other"), 1 << 20).is_none());
        // No vermagic within the limit; not ELF at all.
        let mut elf = b"\x7fELF".to_vec();
        elf.resize(1000, 0);
        assert!(scan_prefix(&elf[..], &ModuleName::new("x"), 100).is_none());
        assert!(scan_prefix(&[0u8; 1000][..], &ModuleName::new("x"), 1 << 20).is_none());
    }

    /// Counts bytes read through it.
    trait InspectBytes: std::io::Read + Sized {
        fn inspect_bytes(self, n: &mut usize) -> Counting<'_, Self> {
            Counting { inner: self, n }
        }
    }
    impl<R: std::io::Read> InspectBytes for R {}
    struct Counting<'a, R> {
        inner: R,
        n: &'a mut usize,
    }
    impl<R: std::io::Read> std::io::Read for Counting<'_, R> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let k = self.inner.read(buf)?;
            *self.n += k;
            Ok(k)
        }
    }

    #[test]
    fn not_elf_and_truncated_elf() {
        assert!(matches!(ModInfo::from_elf(b"hello"), Err(ModinfoError::BadElf(_))));
        let mut head = b"\x7fELF\x02\x01\x01\0".to_vec();
        head.resize(40, 0);
        assert!(matches!(ModInfo::from_elf(&head), Err(ModinfoError::BadElf(_))));
    }
}
