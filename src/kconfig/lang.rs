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

/// A chain of conditions: a block's own, then its enclosing blocks',
/// shared by everything inside (4 000 nested `if`s around 4 000 options
/// are 8 000 nodes, not 16 million copies).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Conditions {
    outer: Option<std::rc::Rc<Conditions>>,
    own: Vec<String>,
}

impl Conditions {
    fn push(outer: &std::rc::Rc<Conditions>, own: Vec<String>) -> std::rc::Rc<Conditions> {
        if own.is_empty() {
            return outer.clone();
        }
        std::rc::Rc::new(Conditions { outer: Some(outer.clone()), own })
    }

    /// Every condition, outermost first.
    fn collect(&self, out: &mut Vec<String>) {
        // Iterative: the chain may be as deep as the input nests.
        let mut chain: Vec<&Conditions> = vec![self];
        while let Some(o) = chain.last().and_then(|c| c.outer.as_deref()) {
            chain.push(o);
        }
        for c in chain.iter().rev() {
            out.extend(c.own.iter().cloned());
        }
    }
}

/// One option: its type and everything it depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Symbol {
    /// `bool`, `tristate`, …
    pub ty: SymType,
    /// The enclosing `if`s and `menu`s' conditions, shared.
    pub outer: std::rc::Rc<Conditions>,
    /// Its own `depends on` lines (or, read from the table, the whole
    /// expression).
    pub own: Vec<String>,
}

impl Symbol {
    /// A symbol with `depends` as its whole condition.
    pub fn new(ty: SymType, depends: &str) -> Self {
        let own = if depends.is_empty() { Vec::new() } else { vec![depends.to_string()] };
        Symbol { ty, outer: Default::default(), own }
    }

    /// Every condition joined with `&&`, each in parentheses; empty when it
    /// depends on nothing. (Read from the table, the stored expression.)
    pub fn depends(&self) -> String {
        let mut all = Vec::new();
        self.outer.collect(&mut all);
        if all.is_empty() && self.own.len() == 1 && self.outer.own.is_empty() {
            return self.own[0].clone();
        }
        all.extend(self.own.iter().cloned());
        all.iter().map(|d| format!("({d})")).collect::<Vec<_>>().join(" && ")
    }
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

/// How much reading one parse may do: the kernel's own net/ tree is ~120
/// files and ~40 000 lines.
pub const MAX_FILES: usize = 2_000;
/// The most lines read, over all files.
pub const MAX_LINES: usize = 2_000_000;
/// The deepest `source` nesting followed.
pub const MAX_SOURCE_DEPTH: usize = 16;
/// The deepest nesting of `(` and `!` in an expression.
pub const MAX_EXPR_DEPTH: usize = 64;

/// What a parse found, and what it passed over.
#[derive(Debug, Default)]
pub struct Parsed {
    /// The options.
    pub symbols: BTreeMap<String, Symbol>,
    /// Files not read (missing, unreadable, too big, a cycle, over the
    /// budget), each named.
    pub warnings: Vec<String>,
}

/// Reads the files `read(path)` returns, starting at `root` and following
/// `source` lines to the paths `follow` accepts. Unknown lines are ignored:
/// only `config`, types, `depends on`, `if`/`endif`, `menu`/`endmenu`,
/// `choice`/`endchoice`, `source` and help texts matter here. A file that
/// sources itself (directly or not) is not read again; the whole parse
/// reads at most [`MAX_FILES`] files and [`MAX_LINES`] lines.
pub fn parse(
    root: &str,
    read: &mut dyn FnMut(&str) -> Result<String, String>,
    follow: &dyn Fn(&str) -> bool,
) -> Parsed {
    let mut w = Walker {
        read,
        follow,
        frames: Vec::new(),
        out: Parsed::default(),
        stack: Vec::new(),
        files: 0,
        lines: 0,
    };
    w.walk(root);
    w.out
}

/// A block around options: its conditions, chained to the blocks outside.
#[derive(Debug, Clone)]
struct Frame {
    kind: &'static str,
    conditions: std::rc::Rc<Conditions>,
    /// A menu takes `depends on` lines until its first entry.
    open: bool,
}

struct Walker<'a> {
    read: &'a mut dyn FnMut(&str) -> Result<String, String>,
    follow: &'a dyn Fn(&str) -> bool,
    frames: Vec<Frame>,
    out: Parsed,
    /// The files being read, outermost first.
    stack: Vec<String>,
    files: usize,
    lines: usize,
}

impl Walker<'_> {
    fn outer(&self) -> std::rc::Rc<Conditions> {
        self.frames.last().map(|f| f.conditions.clone()).unwrap_or_default()
    }

    fn finish(&mut self, current: &mut Option<(String, SymType, Vec<String>)>) {
        if let Some((name, ty, own)) = current.take() {
            let outer = self.outer();
            self.out.symbols.entry(name).or_insert(Symbol { ty, outer, own });
        }
    }

    fn walk(&mut self, path: &str) {
        if self.stack.iter().any(|p| p == path) {
            self.out
                .warnings
                .push(format!("{path}: sources itself (through {}); not read again", self.stack.join(" → ")));
            return;
        }
        if self.stack.len() >= MAX_SOURCE_DEPTH {
            self.out
                .warnings
                .push(format!("{path}: `source` nested deeper than {MAX_SOURCE_DEPTH}; not read"));
            return;
        }
        if self.files >= MAX_FILES || self.lines >= MAX_LINES {
            self.out.warnings.push(format!(
                "{path}: not read: the parse already read {} files and {} lines (the limits are {MAX_FILES} and {MAX_LINES})",
                self.files, self.lines
            ));
            return;
        }
        let text = match (self.read)(path) {
            Ok(t) => t,
            Err(e) => {
                self.out.warnings.push(format!("{e} (not read)"));
                return;
            }
        };
        self.files += 1;
        self.stack.push(path.to_string());
        self.walk_text(&text);
        self.stack.pop();
    }

    fn walk_text(&mut self, text: &str) {
        let mut current: Option<(String, SymType, Vec<String>)> = None;
        let mut help_indent: Option<Option<usize>> = None;
        for raw in text.lines() {
            self.lines += 1;
            if self.lines > MAX_LINES {
                break;
            }
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
                    self.finish(&mut current);
                    for f in self.frames.iter_mut() {
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
                            if let Some(f) = self.frames.last_mut().filter(|f| f.open) {
                                // The menu's own node gains the condition.
                                let outer = f.conditions.outer.clone().unwrap_or_default();
                                let mut own = f.conditions.own.clone();
                                own.push(expr);
                                f.conditions = std::rc::Rc::new(Conditions { outer: Some(outer), own });
                            }
                        }
                    }
                }
                "help" | "---help---" => help_indent = Some(None),
                "if" => {
                    self.finish(&mut current);
                    let conditions = Conditions::push(&self.outer(), vec![rest.to_string()]);
                    self.frames.push(Frame { kind: "if", conditions, open: false });
                }
                "menu" | "choice" => {
                    self.finish(&mut current);
                    // A node of its own, empty until its `depends on`.
                    let conditions =
                        std::rc::Rc::new(Conditions { outer: Some(self.outer()), own: Vec::new() });
                    self.frames.push(Frame {
                        kind: if word == "menu" { "menu" } else { "choice" },
                        conditions,
                        open: true,
                    });
                }
                "endif" | "endmenu" | "endchoice" => {
                    self.finish(&mut current);
                    let want = &word[3..];
                    if let Some(pos) = self.frames.iter().rposition(|f| f.kind == want) {
                        self.frames.truncate(pos);
                    }
                }
                "source" | "rsource" | "osource" => {
                    self.finish(&mut current);
                    let target = rest.trim_matches('"');
                    if (self.follow)(target) {
                        self.walk(target);
                    }
                }
                "comment" | "mainmenu" => self.finish(&mut current),
                _ => {}
            }
        }
        self.finish(&mut current);
    }
}

/// Parses an expression; `None` if it is not one.
/// Nesting deeper than [`MAX_EXPR_DEPTH`] (`!` or `(`) is not one either:
/// the parser recurses once per level, so its stack stays small.
pub fn parse_expr(s: &str) -> Option<Expr> {
    let tokens = tokenize(s)?;
    let mut pos = 0;
    let e = or_expr(&tokens, &mut pos, 0)?;
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

fn or_expr(t: &[String], pos: &mut usize, depth: usize) -> Option<Expr> {
    let mut parts = vec![and_expr(t, pos, depth)?];
    while t.get(*pos).map(String::as_str) == Some("||") {
        *pos += 1;
        parts.push(and_expr(t, pos, depth)?);
    }
    Some(if parts.len() == 1 { parts.remove(0) } else { Expr::Or(parts) })
}

fn and_expr(t: &[String], pos: &mut usize, depth: usize) -> Option<Expr> {
    let mut parts = vec![unary(t, pos, depth)?];
    while t.get(*pos).map(String::as_str) == Some("&&") {
        *pos += 1;
        parts.push(unary(t, pos, depth)?);
    }
    Some(if parts.len() == 1 { parts.remove(0) } else { Expr::And(parts) })
}

fn unary(t: &[String], pos: &mut usize, depth: usize) -> Option<Expr> {
    if depth > MAX_EXPR_DEPTH {
        return None;
    }
    match t.get(*pos).map(String::as_str)? {
        "!" => {
            *pos += 1;
            Some(Expr::Not(Box::new(unary(t, pos, depth + 1)?)))
        }
        "(" => {
            *pos += 1;
            let e = or_expr(t, pos, depth + 1)?;
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
        let mut read = |p: &str| files.get(p).map(|s| s.to_string()).ok_or_else(|| format!("{p}: missing"));
        let parsed = parse("net/Kconfig", &mut read, &|p: &str| p.starts_with("net/"));
        let syms = &parsed.symbols;
        assert!(!syms.contains_key("NOT_A_SYMBOL"), "help text is not parsed");
        assert_eq!(syms["NETFILTER"].depends(), "");
        let c = &syms["NETFILTER_XT_MATCH_COMMENT"];
        assert_eq!(c.ty, SymType::Tristate);
        assert_eq!(
            c.depends(),
            "(NETFILTER) && (INET && NETFILTER) && (NETFILTER_XTABLES) && (NETFILTER_ADVANCED)"
        );
        assert_eq!(syms["AFTER"].depends(), "(NETFILTER)", "the menu ended");
        assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
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
