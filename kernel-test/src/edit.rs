//! Module files made for fault cases: a module taken from a kernel's tree
//! as it is, with one byte changed (its signature no longer matches), or
//! without its appended signature (an unsigned module).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cache::Result;
use crate::matrix::Edit;

/// The marker at the end of a signed module (`MODULE_SIG_STRING`).
const SIG_MARKER: &[u8] = b"~Module signature appended~\n";
/// `struct module_signature`, just before the marker: its last 4 bytes are
/// the signature's length (big-endian).
const SIG_INFO: usize = 12;

/// The file of module `name` in the modules directory `dir`, edited.
pub fn module(dir: &Path, name: &str, edit: Edit) -> Result<Vec<u8>> {
    let path = find(dir, name)?.ok_or(format!("no module {name} in {}", dir.display()))?;
    let raw = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    if edit == Edit::None {
        return Ok(raw);
    }
    let mut image = decompress(&path, raw)?;
    match edit {
        Edit::None => {}
        Edit::FlipByte => {
            let i = image.len() / 2;
            image[i] ^= 0xff;
        }
        Edit::StripSignature => image = strip_signature(&image)?,
    }
    Ok(image)
}

/// The image without its appended signature.
pub fn strip_signature(image: &[u8]) -> Result<Vec<u8>> {
    let body = image.strip_suffix(SIG_MARKER).ok_or("the module is not signed")?;
    let info = body.len().checked_sub(SIG_INFO).ok_or("truncated signature")?;
    let sig_len = u32::from_be_bytes(body[info + 8..info + 12].try_into().expect("4 bytes")) as usize;
    let end = info.checked_sub(sig_len).ok_or("bad signature length")?;
    Ok(image[..end].to_vec())
}

fn decompress(path: &Path, raw: Vec<u8>) -> Result<Vec<u8>> {
    let tool = match raw.get(..4) {
        Some([0xfd, b'7', b'z', b'X']) => "xz",
        Some([0x28, 0xb5, 0x2f, 0xfd]) => "zstd",
        Some([0x1f, 0x8b, _, _]) => "gzip",
        _ => return Ok(raw),
    };
    let out = Command::new(tool).arg("-dc").arg(path).output().map_err(|e| format!("{tool}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{tool} -dc {}: {}", path.display(), String::from_utf8_lossy(&out.stderr)));
    }
    Ok(out.stdout)
}

fn find(dir: &Path, name: &str) -> Result<Option<PathBuf>> {
    let want = name.replace('-', "_");
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).map_err(|e| format!("{}: {e}", d.display()))?.flatten() {
            let p = e.path();
            let kind = e.file_type().map_err(|e| e.to_string())?;
            if kind.is_dir() {
                stack.push(p);
            } else if let Some(file) = p.file_name().and_then(|f| f.to_str()) {
                if file.split('.').next().map(|s| s.replace('-', "_")) == Some(want.clone())
                    && file.contains(".ko")
                {
                    return Ok(Some(p));
                }
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_is_cut_off_exactly() {
        let mut image = b"ELF body".to_vec();
        let sig = vec![7u8; 20];
        image.extend_from_slice(&sig);
        image.extend_from_slice(&[0, 0, 2, 0, 0, 0, 0, 0]);
        image.extend_from_slice(&(sig.len() as u32).to_be_bytes());
        image.extend_from_slice(SIG_MARKER);
        assert_eq!(strip_signature(&image).unwrap(), b"ELF body");
        assert!(strip_signature(b"not signed").is_err());
    }
}
