//! What an xtables match or target needs beneath itself, read from the
//! info blob a ruleset holds (a legacy table's entries, nft_compat's
//! `NFTA_MATCH_INFO`/`NFTA_TARGET_INFO`): the logger of LOG, NFLOG and
//! TRACE, the textsearch algorithm of the string match, the helper of the
//! CT target. The offsets are those of the kernel's structures on 64-bit
//! kernels (see [`crate::probe::nftables::recipe::xt_blob`]).

use crate::probe::Kind;

/// `offsetof(struct xt_string_info, algo)`.
const STRING_ALGO: usize = super::abi::STRING_ALGO;
/// `XT_STRING_MAX_ALGO_NAME_SIZE`.
const STRING_ALGO_LEN: usize = 16;
/// `offsetof(struct xt_ct_target_info{,_v1}, helper)`: flags, zone,
/// ct_events, exp_events come first.
const CT_HELPER: usize = super::abi::CT_HELPER;
/// The helper field's size.
const CT_HELPER_LEN: usize = 16;

/// A NUL-terminated name in `data[at..at + len]`, if there is a non-empty one.
fn name_at(data: &[u8], at: usize, len: usize) -> Option<String> {
    let field = data.get(at..at + len)?;
    let end = field.iter().position(|&b| b == 0)?;
    let s = std::str::from_utf8(&field[..end]).ok()?;
    (!s.is_empty()).then(|| s.to_string())
}

/// What extension `name` of `kind` with `info` needs beneath it:
/// `(kind, name)` pairs such as `(Logger, "syslog")`.
pub fn beneath(kind: Kind, name: &str, info: &[u8]) -> Vec<(Kind, String)> {
    match (kind, name) {
        // log_tg_check(), trace_tg_check(): nf_logger_find_get(LOG type).
        (Kind::Target, "LOG" | "TRACE") => vec![(Kind::Logger, "syslog".into())],
        // nflog_tg_check(): the ULOG type.
        (Kind::Target, "NFLOG") => vec![(Kind::Logger, "nflog".into())],
        // string_mt_check(): textsearch_prepare(algo).
        (Kind::Match, "string") => {
            name_at(info, STRING_ALGO, STRING_ALGO_LEN).map(|a| (Kind::Textsearch, a)).into_iter().collect()
        }
        // xt_ct_tg_check(): the helper, when one is named.
        (Kind::Target, "CT") => {
            name_at(info, CT_HELPER, CT_HELPER_LEN).map(|h| (Kind::Helper, h)).into_iter().collect()
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::nftables::recipe::xt_blob;

    #[test]
    fn reads_what_the_blobs_say() {
        assert_eq!(
            beneath(Kind::Match, "string", &xt_blob::string_info("kmp")),
            [(Kind::Textsearch, "kmp".to_string())]
        );
        assert_eq!(beneath(Kind::Target, "LOG", &[]), [(Kind::Logger, "syslog".to_string())]);
        assert_eq!(beneath(Kind::Target, "NFLOG", &[]), [(Kind::Logger, "nflog".to_string())]);
        let mut ct = vec![0u8; 56];
        ct[12..15].copy_from_slice(b"ftp");
        assert_eq!(beneath(Kind::Target, "CT", &ct), [(Kind::Helper, "ftp".to_string())]);
        assert!(beneath(Kind::Target, "CT", &[0u8; 56]).is_empty(), "--notrack names no helper");
        assert!(
            beneath(Kind::Match, "string", &[1, 2, 3]).is_empty(),
            "a short blob is nothing, not a panic"
        );
        assert!(beneath(Kind::Match, "string", &[0xff; 40]).is_empty(), "no NUL: nothing");
    }
}
