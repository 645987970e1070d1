//! Synthetic module trees for the loader's tests: real ELF relocatable
//! objects carrying a `.modinfo` section, compressed with the real `xz`,
//! `zstd` and gzip encoders, and depmod-style index files written from the
//! declared dependencies.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use object::write::Object;
use object::{Architecture, BinaryFormat, Endianness, SectionKind};

/// How a fixture module file is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Plain ELF `.ko`.
    Plain,
    /// `.ko.xz`, xz with a CRC32 check (what kbuild writes).
    XzCrc32,
    /// `.ko.xz`, xz with a CRC64 check (xz's default).
    XzCrc64,
    /// `.ko.zst`.
    Zstd,
    /// `.ko.gz`.
    Gzip,
    /// `.ko.xz` whose data is garbage after a valid magic.
    CorruptXz,
    /// `.ko`: the first 100 bytes of a real ELF file.
    TruncatedElf,
    /// `.ko`: a valid ELF object without `.modinfo`.
    NoModinfo,
}

impl Encoding {
    fn suffix(self) -> &'static str {
        match self {
            Encoding::Plain | Encoding::TruncatedElf | Encoding::NoModinfo => ".ko",
            Encoding::XzCrc32 | Encoding::XzCrc64 | Encoding::CorruptXz => ".ko.xz",
            Encoding::Zstd => ".ko.zst",
            Encoding::Gzip => ".ko.gz",
        }
    }
}

/// One module to write.
#[derive(Debug, Clone)]
pub struct Module {
    pub name: String,
    pub dir: String,
    pub depends: Vec<String>,
    pub aliases: Vec<String>,
    pub softdep: Option<String>,
    pub encoding: Encoding,
    pub vermagic: String,
}

impl Module {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            dir: "kernel/net/netfilter".to_string(),
            depends: Vec::new(),
            aliases: Vec::new(),
            softdep: None,
            encoding: Encoding::Plain,
            vermagic: "6.12.0-test SMP preempt mod_unload".to_string(),
        }
    }

    pub fn depends(mut self, deps: &[&str]) -> Self {
        self.depends = deps.iter().map(|d| d.to_string()).collect();
        self
    }

    pub fn aliases(mut self, aliases: &[&str]) -> Self {
        self.aliases = aliases.iter().map(|a| a.to_string()).collect();
        self
    }

    pub fn softdep(mut self, s: &str) -> Self {
        self.softdep = Some(s.to_string());
        self
    }

    pub fn encoding(mut self, e: Encoding) -> Self {
        self.encoding = e;
        self
    }

    pub fn in_dir(mut self, dir: &str) -> Self {
        self.dir = dir.to_string();
        self
    }

    pub fn file_name(&self) -> String {
        format!("{}{}", self.name, self.encoding.suffix())
    }

    pub fn rel_path(&self) -> String {
        format!("{}/{}", self.dir, self.file_name())
    }

    /// The `.modinfo` section, as modpost writes it.
    pub fn modinfo(&self) -> Vec<u8> {
        let mut s = Vec::new();
        for a in &self.aliases {
            s.extend_from_slice(format!("alias={a}\0").as_bytes());
        }
        s.extend_from_slice(b"license=GPL\0");
        if let Some(sd) = &self.softdep {
            s.extend_from_slice(format!("softdep={sd}\0").as_bytes());
        }
        s.extend_from_slice(format!("depends={}\0", self.depends.join(",")).as_bytes());
        s.extend_from_slice(format!("name={}\0", self.name.replace('-', "_")).as_bytes());
        s.extend_from_slice(format!("vermagic={}\0", self.vermagic).as_bytes());
        s
    }

    /// The file's bytes.
    pub fn bytes(&self) -> Vec<u8> {
        let elf = elf_with_sections(match self.encoding {
            Encoding::NoModinfo => vec![(".text", vec![0xc3])],
            _ => vec![
                (".modinfo", self.modinfo()),
                (".gnu.linkonce.this_module", vec![0; 64]),
                (".text", vec![0xc3]),
            ],
        });
        match self.encoding {
            Encoding::Plain | Encoding::NoModinfo => elf,
            Encoding::TruncatedElf => elf[..100].to_vec(),
            Encoding::XzCrc32 => pipe("xz", &["--check=crc32", "--lzma2=dict=1MiB", "-c"], &elf),
            Encoding::XzCrc64 => pipe("xz", &["--check=crc64", "-c"], &elf),
            Encoding::Zstd => pipe("zstd", &["-q", "-c"], &elf),
            Encoding::Gzip => {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
                e.write_all(&elf).unwrap();
                e.finish().unwrap()
            }
            Encoding::CorruptXz => {
                let mut b = pipe("xz", &["--check=crc32", "-c"], &elf);
                let n = b.len();
                for x in &mut b[12..n - 12] {
                    *x ^= 0x5a;
                }
                b
            }
        }
    }
}

/// An x86-64 ELF relocatable object with the given sections.
pub fn elf_with_sections(sections: Vec<(&str, Vec<u8>)>) -> Vec<u8> {
    let mut obj = Object::new(BinaryFormat::Elf, Architecture::X86_64, Endianness::Little);
    for (name, data) in sections {
        let kind = if name == ".text" { SectionKind::Text } else { SectionKind::ReadOnlyData };
        let id = obj.add_section(Vec::new(), name.as_bytes().to_vec(), kind);
        obj.append_section_data(id, &data, 1);
    }
    obj.write().expect("ELF object")
}

fn pipe(program: &str, args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut child =
        Command::new(program).args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap_or_else(
            |e| panic!("{program} is needed for the fixtures (apt-get install xz-utils zstd): {e}"),
        );
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{program} failed");
    out.stdout
}

/// A modules directory under a temporary root.
pub struct Tree {
    _root: tempfile::TempDir,
    pub dir: PathBuf,
    pub modules: BTreeMap<String, Module>,
}

impl Tree {
    pub fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("lib/modules/6.12.0-test");
        std::fs::create_dir_all(&dir).unwrap();
        Self { _root: root, dir, modules: BTreeMap::new() }
    }

    pub fn root(&self) -> &Path {
        self._root.path()
    }

    pub fn add(&mut self, m: Module) -> &mut Self {
        let path = self.dir.join(m.rel_path());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, m.bytes()).unwrap();
        self.modules.insert(m.name.clone(), m);
        self
    }

    fn closure(&self, name: &str, out: &mut Vec<String>, seen: &mut BTreeSet<String>) {
        for d in &self.modules[name].depends {
            if seen.insert(d.clone()) {
                self.closure(d, out, seen);
                out.push(d.clone());
            }
        }
    }

    /// modules.dep as depmod writes it: every module's full closure, users
    /// before the modules they use.
    pub fn write_dep(&self) -> &Self {
        let mut text = String::new();
        for (name, m) in &self.modules {
            let mut order = Vec::new();
            self.closure(name, &mut order, &mut BTreeSet::new());
            order.reverse();
            let deps: Vec<String> = order.iter().map(|d| self.modules[d].rel_path()).collect();
            text.push_str(&format!("{}: {}\n", m.rel_path(), deps.join(" ")).replace(": \n", ":\n"));
        }
        self.write("modules.dep", &text)
    }

    pub fn write_alias(&self) -> &Self {
        let mut text = String::from("# Aliases extracted from modules themselves.\n");
        for (name, m) in &self.modules {
            for a in &m.aliases {
                text.push_str(&format!("alias {a} {}\n", name.replace('-', "_")));
            }
        }
        self.write("modules.alias", &text)
    }

    pub fn write_softdep(&self) -> &Self {
        let mut text = String::from("# Soft dependencies extracted from modules themselves.\n");
        for (name, m) in &self.modules {
            if let Some(s) = &m.softdep {
                text.push_str(&format!("softdep {} {s}\n", name.replace('-', "_")));
            }
        }
        self.write("modules.softdep", &text)
    }

    pub fn write(&self, file: &str, text: &str) -> &Self {
        std::fs::write(self.dir.join(file), text).unwrap();
        self
    }

    pub fn remove(&self, file: &str) -> &Self {
        let _ = std::fs::remove_file(self.dir.join(file));
        self
    }
}
