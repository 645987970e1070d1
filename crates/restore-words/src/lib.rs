//! Splitting a line into words as iptables-restore does: whitespace
//! separates, double quotes group (with `\"` and `\\` escapes inside them).
//!
//! A crate of its own because two independent crates need the same split:
//! xtprobe reads iptables-save files with it, and kernel-test reads its
//! `run --script` lines (a shell-like line without a shell in the guest).

/// Splits a line as iptables-restore does: whitespace-separated words,
/// double quotes grouping (with `\"` and `\\` escapes). Each word says
/// whether it was quoted (a quoted word is never an option).
pub fn words(line: &str) -> Result<Vec<(String, bool)>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut in_word, mut quoted, mut in_quotes) = (false, false, false);
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                in_quotes = !in_quotes;
                in_word = true;
                quoted = true;
            }
            '\\' if in_quotes => match chars.next() {
                Some(e) => cur.push(e),
                None => return Err("a backslash at the end of the line".into()),
            },
            c if c.is_whitespace() && !in_quotes => {
                if in_word {
                    out.push((std::mem::take(&mut cur), quoted));
                }
                in_word = false;
                quoted = false;
            }
            c => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_quotes {
        return Err("an unterminated quote".into());
    }
    if in_word {
        out.push((cur, quoted));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_as_iptables_restore_splits_them() {
        let w = |s: &str| words(s).map(|v| v.into_iter().collect::<Vec<_>>());
        assert_eq!(w("-A  INPUT\t-j ACCEPT").unwrap().len(), 4);
        assert_eq!(
            w(r#"-m comment --comment "a \"b\" c" x"#).unwrap(),
            [
                ("-m".to_string(), false),
                ("comment".into(), false),
                ("--comment".into(), false),
                ("a \"b\" c".into(), true),
                ("x".into(), false)
            ]
        );
        assert_eq!(w(r#""""#).unwrap(), [(String::new(), true)]);
        assert_eq!(w("").unwrap(), []);
        assert!(w(r#""open"#).unwrap_err().contains("unterminated"));
        assert!(w(r#""a\"#).unwrap_err().contains("backslash"));
    }
}
