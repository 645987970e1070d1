//! Just enough of the Kconfig language to know what an option needs: each
//! `config`'s type (`bool`, `tristate`) and its `depends on`, together with
//! the `if` blocks and `menu … depends on` around it, following `source`
//! lines in order (`Documentation/kbuild/kconfig-language.rst`).
//!
//! Used two ways: to read a kernel source tree (`doctor --emit-kconfig
//! --kernel-source DIR`), and to generate the table checked in for 6.12
//! ([`super::deps`], `examples/kconfig_table.rs`), which a test compares
//! with a fresh parse of Debian's linux-source-6.12.

use std::collections::BTreeMap;

/// An option's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SymType {
    /// `bool`: y or n.
    Bool,
    /// `tristate`: y, m or n.
    Tristate,
    /// `int`, `string`, `hex`: not something to enable.
    Other,
}

impl SymType {
    /// The word in the table.
    pub fn as_str(self) -> &'static str {
        match self {
            SymType::Bool => "bool",
            SymType::Tristate => "tristate",
            SymType::Other => "other",
        }
    }

    /// Parses the word.
    pub fn parse(s: &str) -> Option<SymType> {
        Some(match s {
            "bool" => SymType::Bool,
            "tristate" => SymType::Tristate,
            "other" => SymType::Other,
            _ => return None,
        })
    }
}

/// One option: its type and everything it depends on, as one expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Symbol {
    /// `bool`, `tristate`, …
    pub ty: SymType,
    /// The enclosing `if`s and `menu`s' conditions and its own `depends on`,
    /// joined with `&&`; empty when it depends on nothing.
    pub depends: String,
}

/// A Kconfig expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// A symbol, or one of the constants `y`, `m`, `n`.
    Sym(String),
    /// `!E`.
    Not(Box<Expr>),
    /// `A && B && …`.
    And(Vec<Expr>),
    /// `A || B || …`.
    Or(Vec<Expr>),
    /// `A = B` (true) or `A != B` (false).
    Cmp(String, bool, String),
}

/// Reads the files `read(path)` returns, starting at `root` and following
/// `source` lines to the paths `follow` accepts. Unknown lines are ignored:
/// only `config`, types, `depends on`, `if`/`endif`, `menu`/`endmenu`,
/// `choice`/`endchoice`, `source` and help texts matter here.
pub fn parse(
    root: &str,
    read: &mut dyn FnMut(&str) -> Option<String>,
    follow: &dyn Fn(&str) -> bool,
) -> BTreeMap<String, Symbol> {
    let mut out = BTreeMap::new();
    let mut frames: Vec<Frame> = Vec::new();
    walk(root, read, follow, &mut frames, &mut out, 0);
    out
}

/// A block around options: its condition.
#[derive(Debug, Clone)]
struct Frame {
    kind: &'static str,
    condition: Vec<String>,
    /// A menu takes `depends on` lines until its first entry.
    open: bool,
}

fn walk(
    path: &str,
    read: &mut dyn FnMut(&str) -> Option<String>,
    follow: &dyn Fn(&str) -> bool,
    frames: &mut Vec<Frame>,
    out: &mut BTreeMap<String, Symbol>,
    depth: usize,
) {
    let Some(text) = read(path) else { return };
    if depth > 16 {
        return;
    }
    let mut current: Option<(String, SymType, Vec<String>)> = None;
    let mut help_indent: Option<Option<usize>> = None;
    let finish = |current: &mut Option<(String, SymType, Vec<String>)>,
                  frames: &[Frame],
                  out: &mut BTreeMap<String, Symbol>| {
        if let Some((name, ty, own)) = current.take() {
            let mut all: Vec<String> = frames.iter().flat_map(|f| f.condition.iter().cloned()).collect();
            all.extend(own);
            let depends = all.iter().map(|d| format!("({d})")).collect::<Vec<_>>().join(" && ");
            out.entry(name).or_insert(Symbol { ty, depends });
        }
    };
    for raw in text.lines() {
        let indent = raw
            .chars()
            .take_while(|c| c.is_whitespace())
            .map(|c| if c == '\t' { 8 } else { 1 })
            .sum::<usize>();
        let line = raw.trim();
        // Help text runs until a line indented less than its first line.
        if let Some(h) = help_indent {
            if line.is_empty() {
                continue;
            }
            match h {
                None => {
                    help_indent = Some(Some(indent));
                    continue;
                }
                Some(first) if indent >= first => continue,
                Some(_) => help_indent = None,
            }
        }
        let line = line.split(" #").next().unwrap_or(line).trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (word, rest) =
            line.split_once(char::is_whitespace).map(|(w, r)| (w, r.trim())).unwrap_or((line, ""));
        match word {
            "config" | "menuconfig" => {
                finish(&mut current, frames, out);
                for f in frames.iter_mut() {
                    f.open = false;
                }
                current = Some((rest.to_string(), SymType::Other, Vec::new()));
            }
            "bool" | "def_bool" | "tristate" | "def_tristate" => {
                if let Some(c) = current.as_mut() {
                    c.1 = if word.ends_with("bool") { SymType::Bool } else { SymType::Tristate };
                }
            }
            "int" | "hex" | "string" => {}
            "depends" => {
                let expr = rest.strip_prefix("on").unwrap_or(rest).trim().to_string();
                match current.as_mut() {
                    Some(c) => c.2.push(expr),
                    None => {
                        if let Some(f) = frames.last_mut().filter(|f| f.open) {
                            f.condition.push(expr);
                        }
                    }
                }
            }
            "help" | "---help---" => help_indent = Some(None),
            "if" => {
                finish(&mut current, frames, out);
                frames.push(Frame { kind: "if", condition: vec![rest.to_string()], open: false });
            }
            "menu" => {
                finish(&mut current, frames, out);
                frames.push(Frame { kind: "menu", condition: Vec::new(), open: true });
            }
            "choice" => {
                finish(&mut current, frames, out);
                frames.push(Frame { kind: "choice", condition: Vec::new(), open: true });
            }
            "endif" | "endmenu" | "endchoice" => {
                finish(&mut current, frames, out);
                let want = &word[3..];
                if let Some(pos) = frames.iter().rposition(|f| f.kind == want) {
                    frames.truncate(pos);
                }
            }
            "source" | "rsource" | "osource" => {
                finish(&mut current, frames, out);
                let target = rest.trim_matches('"');
                if follow(target) {
                    walk(target, read, follow, frames, out, depth + 1);
                }
            }
            "comment" | "mainmenu" => finish(&mut current, frames, out),
            _ => {}
        }
    }
    finish(&mut current, frames, out);
}

/// Parses an expression; `None` if it is not one.
pub fn parse_expr(s: &str) -> Option<Expr> {
    let tokens = tokenize(s)?;
    let mut pos = 0;
    let e = or_expr(&tokens, &mut pos)?;
    (pos == tokens.len()).then_some(e)
}

fn tokenize(s: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b' ' | b'\t' => i += 1,
            b'(' | b')' => {
                out.push((c as char).to_string());
                i += 1;
            }
            b'&' | b'|' if b.get(i + 1) == Some(&c) => {
                out.push(String::from_utf8_lossy(&b[i..i + 2]).into_owned());
                i += 2;
            }
            b'!' if b.get(i + 1) == Some(&b'=') => {
                out.push("!=".into());
                i += 2;
            }
            b'!' | b'=' => {
                out.push((c as char).to_string());
                i += 1;
            }
            b'"' => {
                let end = s[i + 1..].find('"')? + i + 1;
                out.push(s[i + 1..end].to_string());
                i = end + 1;
            }
            c if c.is_ascii_alphanumeric() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                out.push(s[start..i].to_string());
            }
            _ => return None,
        }
    }
    Some(out)
}

fn or_expr(t: &[String], pos: &mut usize) -> Option<Expr> {
    let mut parts = vec![and_expr(t, pos)?];
    while t.get(*pos).map(String::as_str) == Some("||") {
        *pos += 1;
        parts.push(and_expr(t, pos)?);
    }
    Some(if parts.len() == 1 { parts.remove(0) } else { Expr::Or(parts) })
}

fn and_expr(t: &[String], pos: &mut usize) -> Option<Expr> {
    let mut parts = vec![unary(t, pos)?];
    while t.get(*pos).map(String::as_str) == Some("&&") {
        *pos += 1;
        parts.push(unary(t, pos)?);
    }
    Some(if parts.len() == 1 { parts.remove(0) } else { Expr::And(parts) })
}

fn unary(t: &[String], pos: &mut usize) -> Option<Expr> {
    match t.get(*pos).map(String::as_str)? {
        "!" => {
            *pos += 1;
            Some(Expr::Not(Box::new(unary(t, pos)?)))
        }
        "(" => {
            *pos += 1;
            let e = or_expr(t, pos)?;
            (t.get(*pos).map(String::as_str) == Some(")")).then(|| *pos += 1)?;
            Some(e)
        }
        ")" | "&&" | "||" | "=" | "!=" => None,
        sym => {
            let sym = sym.to_string();
            *pos += 1;
            match t.get(*pos).map(String::as_str) {
                Some(op @ ("=" | "!=")) => {
                    let eq = op == "=";
                    *pos += 1;
                    let rhs = t.get(*pos)?.clone();
                    *pos += 1;
                    Some(Expr::Cmp(sym, eq, rhs))
                }
                _ => Some(Expr::Sym(sym)),
            }
        }
    }
}

/// The symbols that must be enabled for `e` to hold. For `A || B`, the
/// first alternative `enabled` already satisfies, else the first one;
/// negations need nothing (what is off stays off).
pub fn needs(e: &Expr, enabled: &dyn Fn(&str) -> bool) -> Vec<String> {
    match e {
        Expr::Sym(s) if matches!(s.as_str(), "y" | "m" | "n") => Vec::new(),
        Expr::Sym(s) => vec![s.clone()],
        Expr::Not(_) => Vec::new(),
        Expr::And(parts) => parts.iter().flat_map(|p| needs(p, enabled)).collect(),
        Expr::Or(parts) => {
            let options: Vec<Vec<String>> = parts.iter().map(|p| needs(p, enabled)).collect();
            options
                .iter()
                .find(|o| o.iter().all(|s| enabled(s)))
                .or(options.first())
                .cloned()
                .unwrap_or_default()
        }
        Expr::Cmp(a, true, b) if matches!(b.as_str(), "y" | "m") => vec![a.clone()],
        Expr::Cmp(a, false, b) if b == "n" => vec![a.clone()],
        Expr::Cmp(..) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_sources_and_help_texts() {
        let files: BTreeMap<&str, &str> = BTreeMap::from([
            (
                "net/Kconfig",
                "menuconfig NETFILTER\n\tbool \"Netfilter\"\n\thelp\n\t  Long text\n\t  config NOT_A_SYMBOL\n\nif NETFILTER\nsource \"net/netfilter/Kconfig\"\nendif\nsource \"drivers/Kconfig\"\n",
            ),
            (
                "net/netfilter/Kconfig",
                "menu \"Core\"\n\tdepends on INET && NETFILTER\n\nconfig NETFILTER_XTABLES\n\ttristate \"x_tables\"\n\nif NETFILTER_XTABLES\n\nconfig NETFILTER_XT_MATCH_COMMENT\n\ttristate  '\"comment\" match support'\n\tdepends on NETFILTER_ADVANCED # a comment\n\thelp\n\t  This option adds\n\nendif # NETFILTER_XTABLES\nendmenu\nconfig AFTER\n\tbool\n",
            ),
        ]);
        let mut read = |p: &str| files.get(p).map(|s| s.to_string());
        let syms = parse("net/Kconfig", &mut read, &|p: &str| p.starts_with("net/"));
        assert!(!syms.contains_key("NOT_A_SYMBOL"), "help text is not parsed");
        assert_eq!(syms["NETFILTER"].depends, "");
        let c = &syms["NETFILTER_XT_MATCH_COMMENT"];
        assert_eq!(c.ty, SymType::Tristate);
        assert_eq!(
            c.depends,
            "(NETFILTER) && (INET && NETFILTER) && (NETFILTER_XTABLES) && (NETFILTER_ADVANCED)"
        );
        assert_eq!(syms["AFTER"].depends, "(NETFILTER)", "the menu ended");
    }

    #[test]
    fn expressions_and_what_they_need() {
        let e = parse_expr(
            "NF_CONNTRACK && (NF_TABLES_IPV4 || NF_TABLES_IPV6) && !NF_CONNTRACK_DISABLED && IPV6!=n",
        )
        .unwrap();
        let none = |_: &str| false;
        assert_eq!(needs(&e, &none), ["NF_CONNTRACK", "NF_TABLES_IPV4", "IPV6"]);
        let v6 = |s: &str| s == "NF_TABLES_IPV6";
        assert_eq!(needs(&e, &v6), ["NF_CONNTRACK", "NF_TABLES_IPV6", "IPV6"]);
        assert_eq!(needs(&parse_expr("m && X = y").unwrap(), &none), ["X"]);
        assert!(parse_expr("A &&").is_none());
        assert!(parse_expr("(A").is_none());
    }
}
