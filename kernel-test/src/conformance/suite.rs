//! iptables' own extension tests (`extensions/*.t` in iptables' source),
//! read as its `iptables-test.py` reads them:
//!
//! ```text
//! :INPUT,FORWARD,OUTPUT          the chains the next rules are tried in
//! *mangle                        the table (default filter)
//! -m comment --comment foo;=;OK  rule;how iptables-save prints it;OK|FAIL[;NFT|LEGACY[;ALT]]
//! %iptables -I INPUT -j RATEEST …   a setup command (run as is)
//! @nfct helper add rpc inet tcp     a command of another tool (not run here)
//! ```
//!
//! `libipt_*` files are iptables', `libip6t_*` ip6tables', `libxt_*` and
//! `iptables.t` iptables'; `libarpt_*` and `libebt_*` are arptables' and
//! ebtables', which xtprobe does not read, and are left out. A result
//! scoped to one backend (`;NFT`) is the other way round for the other,
//! unless a fifth field says otherwise (`variant_res()` in the script).

use std::path::Path;

/// Which iptables a test file is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tool {
    /// iptables (IPv4).
    Iptables,
    /// ip6tables (IPv6).
    Ip6tables,
}

/// The backend a result is judged for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    /// iptables-nft.
    Nft,
    /// iptables-legacy.
    Legacy,
}

/// One thing a test file does, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A setup command (`%` lines), without the `%`.
    Setup(String),
    /// A rule the file expects to load, in one chain.
    Rule(Rule),
}

/// A rule expected to load (OK for the variant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// 1-based line in the `.t` file.
    pub line: usize,
    /// The table.
    pub table: String,
    /// The chain.
    pub chain: String,
    /// The rule's words as written.
    pub text: String,
}

/// One `.t` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestFile {
    /// Its file name (`libxt_comment.t`).
    pub name: String,
    /// Its tool.
    pub tool: Tool,
    /// What it does.
    pub items: Vec<Item>,
}

/// The tool of a test file, from its name; `None` for files xtprobe does
/// not read (arptables', ebtables', not a test).
pub fn tool_of(name: &str) -> Option<Tool> {
    if !name.ends_with(".t") || name.starts_with("libarpt_") || name.starts_with("libebt_") {
        return None;
    }
    Some(if name.starts_with("libip6t_") { Tool::Ip6tables } else { Tool::Iptables })
}

/// Reads one file's text for `variant`.
pub fn parse(name: &str, tool: Tool, text: &str, variant: Variant) -> Result<TestFile, String> {
    let mut items = Vec::new();
    let mut table = "filter".to_string();
    let mut chains: Vec<String> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim_end();
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(c) = line.strip_prefix(':') {
            chains = c.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
            continue;
        }
        if let Some(t) = line.strip_prefix('*') {
            table = t.trim().to_string();
            continue;
        }
        if let Some(cmd) = line.strip_prefix('%') {
            items.push(Item::Setup(cmd.to_string()));
            continue;
        }
        if line.starts_with('@') || line.starts_with('!') {
            continue;
        }
        let fields: Vec<&str> = line.split(';').collect();
        if fields.len() < 3 {
            return Err(format!("{name}:{n}: not `rule;save;result`: {line}"));
        }
        let mut result = fields[2].trim();
        if let Some(scope) = fields.get(3).map(|s| s.trim()) {
            let mine = match variant {
                Variant::Nft => "NFT",
                Variant::Legacy => "LEGACY",
            };
            if scope != mine {
                result = match (fields.get(4).map(|s| s.trim()), result) {
                    (Some(alt), _) => alt,
                    (None, "OK") => "FAIL",
                    (None, _) => "OK",
                };
            }
        }
        if result != "OK" {
            continue;
        }
        if chains.is_empty() {
            return Err(format!("{name}:{n}: a rule before any `:CHAIN` line"));
        }
        for chain in &chains {
            items.push(Item::Rule(Rule {
                line: n,
                table: table.clone(),
                chain: chain.clone(),
                text: fields[0].trim().to_string(),
            }));
        }
    }
    Ok(TestFile { name: name.to_string(), tool, items })
}

/// Every test file xtprobe reads in `dir` (`extensions/` of an iptables
/// source tree, or the tree itself), sorted by name.
pub fn read_dir(dir: &Path, variant: Variant) -> Result<Vec<TestFile>, String> {
    let ext = if dir.join("extensions").is_dir() { dir.join("extensions") } else { dir.to_path_buf() };
    let mut names: Vec<String> = std::fs::read_dir(&ext)
        .map_err(|e| format!("{}: {e}", ext.display()))?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| tool_of(n).is_some())
        .collect();
    names.sort();
    if names.is_empty() {
        return Err(format!(
            "{}: no .t files (give iptables' source tree or its extensions/)",
            ext.display()
        ));
    }
    let mut out = Vec::new();
    for n in names {
        let path = ext.join(&n);
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        out.push(parse(&n, tool_of(&n).expect("filtered"), &text, variant)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_as_the_script_does() {
        let text = ":INPUT,FORWARD\n*mangle\n-m comment;;FAIL\n-j TOS --set-tos 1;=;OK\n\
                    %iptables -I INPUT -j RATEEST\n@nfct add x\n-j NFLOG --nflog-size 2;=;OK;LEGACY;NOMATCH\n\
                    -j TCPMSS;=;FAIL;NFT\n";
        let nft = parse("libxt_x.t", Tool::Iptables, text, Variant::Nft).unwrap();
        let rules: Vec<(usize, &str, &str)> = nft
            .items
            .iter()
            .filter_map(|i| match i {
                Item::Rule(r) => Some((r.line, r.chain.as_str(), r.table.as_str())),
                _ => None,
            })
            .collect();
        assert_eq!(rules, [(4, "INPUT", "mangle"), (4, "FORWARD", "mangle")]);
        assert!(nft.items.contains(&Item::Setup("iptables -I INPUT -j RATEEST".into())));
        let legacy = parse("libxt_x.t", Tool::Iptables, text, Variant::Legacy).unwrap();
        let lines: Vec<usize> = legacy
            .items
            .iter()
            .filter_map(|i| if let Item::Rule(r) = i { Some(r.line) } else { None })
            .collect();
        assert_eq!(lines, [4, 4, 7, 7, 8, 8], "NFLOG is OK for legacy, TCPMSS fails only for nft");
        assert!(parse("x.t", Tool::Iptables, "-j ACCEPT;=;OK\n", Variant::Nft).is_err());
        assert!(parse("x.t", Tool::Iptables, ":INPUT\n-j ACCEPT\n", Variant::Nft).is_err());
        assert_eq!(tool_of("libip6t_REJECT.t"), Some(Tool::Ip6tables));
        assert_eq!(tool_of("libebt_ip.t"), None);
        assert_eq!(tool_of("iptables.t"), Some(Tool::Iptables));
    }
}
