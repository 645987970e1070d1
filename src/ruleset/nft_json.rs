//! `nft -j list ruleset` documents: the families of the tables, the types
//! of the base chains, the features of the sets and maps, and the kernel
//! expressions each rule's statements compile to.
//!
//! The statement → expression mapping follows what nft 1.0.6 emits for
//! each form (compare `nft --debug=netlink list ruleset`): a comparison
//! is a `cmp` (a `lookup` against a set, a `range` for `!=` ranges, a
//! `bitwise` first for flag types, masks and prefixes that are not
//! byte-aligned); a transport header field adds its `meta l4proto`
//! dependency; a constant a statement loads (a NAT address, a mark) is an
//! `immediate`, as is every verdict. A statement or expression this table
//! does not know is an error naming the rule, never skipped.

use serde_json::Value;

use super::tally::{Demand, Place, Tally};
use crate::probe::{Extension, Family, Kind, Requirement};

/// Why a document could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {at}: {why}")]
pub struct JsonError {
    /// The file, as given.
    pub file: String,
    /// Which object: `nftables[12] (rule in ip kube-proxy/services)`.
    pub at: String,
    /// What is wrong.
    pub why: String,
}

/// Transport protocols whose header fields nft guards with `meta l4proto`.
const TRANSPORT: [&str; 10] =
    ["tcp", "udp", "udplite", "sctp", "dccp", "icmp", "icmpv6", "ah", "esp", "comp"];

/// Statements that end in a verdict (`immediate` to the verdict register).
const VERDICTS: [&str; 6] = ["accept", "drop", "continue", "return", "jump", "goto"];

/// Parses a document; `name` names it in errors and places. The
/// `nftables` array is read one object at a time (never the whole
/// document as a tree: a 16 MB ruleset would take half a gigabyte).
pub fn parse(bytes: &[u8], name: &str) -> Result<Tally, JsonError> {
    let err = |at: String, why: String| JsonError { file: name.to_string(), at, why };
    let mut tally = Tally::default();
    let file = tally.lines.file(name);
    let mut failed: Option<JsonError> = None;
    let mut seen_array = false;
    let mut each = |i: usize, item: Value| -> bool {
        seen_array = true;
        match object(i, &item, name, &mut tally) {
            Ok(Some(line)) => {
                // By its 1-based position, added as read.
                tally.lines.add(file, i + 1, &line);
                true
            }
            Ok(None) => true,
            Err(e) => {
                failed = Some(e);
                false
            }
        }
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let read =
        serde::de::DeserializeSeed::deserialize(Top { each: &mut each }, &mut de).and_then(|()| de.end());
    if let Some(e) = failed {
        return Err(e);
    }
    read.map_err(|e| err(format!("line {}", e.line()), e.to_string()))?;
    if !seen_array {
        return Err(err(
            "top level".into(),
            "not an `nft -j list ruleset` document (no \"nftables\" array)".into(),
        ));
    }
    Ok(tally)
}

/// The top-level object: its `nftables` array handed to `each` element by
/// element; every other key skipped unread.
struct Top<'a> {
    each: &'a mut dyn FnMut(usize, Value) -> bool,
}

impl<'de> serde::de::DeserializeSeed<'de> for Top<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Top<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an object with an \"nftables\" array")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let each = self.each;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == "nftables" {
                map.next_value_seed(Items { each: &mut *each })?;
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

struct Items<'a> {
    each: &'a mut dyn FnMut(usize, Value) -> bool,
}

impl<'de> serde::de::DeserializeSeed<'de> for Items<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Items<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("the \"nftables\" array")
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0;
        while let Some(item) = seq.next_element::<Value>()? {
            if !(self.each)(i, item) {
                return Err(serde::de::Error::custom("stopped at an object that could not be read"));
            }
            i += 1;
        }
        Ok(())
    }
}

/// One object of the array (`i` its 0-based position): what it needs, in
/// its family, recorded in `tally`; the line's demands, if any.
fn object(
    i: usize,
    item: &Value,
    name: &str,
    tally: &mut Tally,
) -> Result<Option<Vec<(Demand, Family)>>, JsonError> {
    let err = |at: String, why: String| JsonError { file: name.to_string(), at, why };
    let Some((kind, obj)) = item.as_object().and_then(|o| o.iter().next()) else {
        return Err(err(format!("nftables[{i}]"), "not an object".into()));
    };
    let at = || format!("nftables[{i}] ({kind})");
    let family = || -> Result<Family, JsonError> {
        let f = obj.get("family").and_then(Value::as_str).ok_or_else(|| err(at(), "no family".into()))?;
        Family::parse(f).ok_or_else(|| err(at(), format!("unknown family `{f}`")))
    };
    let text = |key: &str| obj.get(key).and_then(Value::as_str).unwrap_or("?").to_string();
    let mut needs: Vec<Requirement> = Vec::new();
    let mut fam: Option<Family> = None;
    let place = match kind.as_str() {
        "metainfo" | "element" => None,
        "table" => {
            let f = family()?;
            fam = Some(f);
            needs.push(plain(Kind::Family, f.as_str()));
            Some(Place(format!("{name} {} {}", f.nft_word(), text("name"))))
        }
        "chain" => {
            let f = family()?;
            fam = Some(f);
            if let Some(t) = obj.get("type").and_then(Value::as_str) {
                needs.push(plain(Kind::Chain, t));
            }
            Some(Place(format!("{name} {} {}/{}", f.nft_word(), text("table"), text("name"))))
        }
        "set" | "map" => {
            let f = family()?;
            fam = Some(f);
            for feature in
                set_features(kind, obj.as_object().ok_or_else(|| err(at(), "not an object".into()))?)
            {
                needs.push(plain(Kind::Set, feature));
            }
            Some(Place(format!("{name} {} {} set {}", f.nft_word(), text("table"), text("name"))))
        }
        "rule" => {
            let f = family()?;
            fam = Some(f);
            let exprs = obj
                .get("expr")
                .and_then(Value::as_array)
                .ok_or_else(|| err(at(), "a rule without \"expr\"".into()))?;
            for (k, stmt) in exprs.iter().enumerate() {
                statement(stmt, f, &mut needs).map_err(|why| err(format!("{} statement {k}", at()), why))?;
            }
            Some(Place(format!("{name} {} {}/{}", f.nft_word(), text("table"), text("chain"))))
        }
        // Stateful objects and flowtables: their type, and for a ct
        // helper the helper it names.
        "counter" | "quota" | "ct helper" | "ct timeout" | "ct expectation" | "limit" | "secmark"
        | "synproxy" | "tunnel" | "flowtable" => {
            let f = family()?;
            fam = Some(f);
            needs.push(plain(Kind::Object, &kind.replace(' ', "-")));
            if kind == "ct helper" {
                let helper = obj
                    .get("type")
                    .and_then(Value::as_str)
                    .ok_or_else(|| err(at(), "a ct helper without \"type\"".into()))?;
                if crate::probe::nftables::recipe::helper(helper).is_some() {
                    needs.push(plain(Kind::Helper, helper));
                } else {
                    tally.notes.insert(format!(
                        "{name}: {}: helper `{helper}` is not one xtprobe can ask about",
                        at()
                    ));
                }
            }
            Some(Place(format!("{name} {} {} {kind} {}", f.nft_word(), text("table"), text("name"))))
        }
        other => return Err(err(at(), format!("unknown object `{other}`"))),
    };
    if let (Some(place), Some(f)) = (place, fam) {
        needs.sort();
        needs.dedup();
        let mut line = Vec::with_capacity(needs.len());
        for r in needs {
            tally.add(r.clone(), f, &place);
            line.push((Demand::plain(r), f));
        }
        if !line.is_empty() {
            return Ok(Some(line));
        }
    }
    Ok(None)
}

fn plain(kind: Kind, name: &str) -> Requirement {
    Requirement { extension: Extension::new(kind, name), revision: None }
}

fn expr(name: &str, out: &mut Vec<Requirement>) {
    out.push(plain(Kind::Expr, name));
}

/// The set features a `set` or `map` object needs.
fn set_features(kind: &str, obj: &serde_json::Map<String, Value>) -> Vec<&'static str> {
    let mut out = Vec::new();
    let flags: Vec<&str> = obj
        .get("flags")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let interval = flags.contains(&"interval");
    if obj.get("type").is_some_and(Value::is_array)
        || obj.get("typeof").is_some_and(|t| t.get("concat").is_some())
    {
        out.push(if interval { "concat-interval" } else { "concat" });
    }
    if interval {
        out.push("interval");
    }
    if kind == "map" {
        out.push(if obj.get("map").and_then(Value::as_str) == Some("verdict") { "vmap" } else { "map" });
    }
    if flags.contains(&"timeout") || obj.get("timeout").is_some() {
        out.push("timeout");
    }
    out
}

/// The expressions one statement compiles to.
fn statement(stmt: &Value, family: Family, out: &mut Vec<Requirement>) -> Result<(), String> {
    let (key, body) =
        stmt.as_object().and_then(|o| o.iter().next()).ok_or("a statement that is not an object")?;
    let k = key.as_str();
    match k {
        "match" => {
            let op = body.get("op").and_then(Value::as_str).unwrap_or("==");
            let left = body.get("left").ok_or("a match without \"left\"")?;
            let right = body.get("right").ok_or("a match without \"right\"")?;
            value(left, family, out)?;
            match right {
                Value::String(s) if s.starts_with('@') => expr("lookup", out),
                Value::Object(o) if o.contains_key("set") => expr("lookup", out),
                Value::Object(o) if o.contains_key("range") => {
                    expr(if op == "!=" { "range" } else { "cmp" }, out)
                }
                Value::Object(o) if o.contains_key("prefix") => {
                    let len = o["prefix"].get("len").and_then(Value::as_u64).unwrap_or(0);
                    if len % 8 != 0 {
                        expr("bitwise", out);
                    }
                    expr("cmp", out);
                }
                _ => {
                    // Flag types (ct state, tcp flags) are masked first.
                    if op == "in" || is_flags(left) {
                        expr("bitwise", out);
                    }
                    expr("cmp", out);
                }
            }
        }
        v if VERDICTS.contains(&v) => expr("immediate", out),
        "counter" => expr(if body.is_string() { "objref" } else { "counter" }, out),
        "limit" => expr(if body.is_string() { "objref" } else { "limit" }, out),
        "quota" => expr(if body.is_string() { "objref" } else { "quota" }, out),
        "ct helper" | "ct timeout" | "ct expectation" | "secmark" => expr("objref", out),
        "synproxy" => expr(if body.is_string() { "objref" } else { "synproxy" }, out),
        "mangle" => {
            value(body.get("key").ok_or("a mangle without \"key\"")?, family, out)?;
            let v = body.get("value").ok_or("a mangle without \"value\"")?;
            if is_literal(v) { expr("immediate", out) } else { value(v, family, out)? }
        }
        "masquerade" | "redirect" | "snat" | "dnat" => {
            expr(
                match k {
                    "masquerade" => "masq",
                    "redirect" => "redir",
                    _ => "nat",
                },
                out,
            );
            for field in ["addr", "port"] {
                match body.get(field) {
                    Some(v) if is_literal(v) || v.get("range").is_some() => expr("immediate", out),
                    Some(v) => value(v, family, out)?,
                    None => {}
                }
            }
        }
        "reject" => expr("reject", out),
        // A log statement needs a logger: nfnetlink_log with a group, the
        // syslog one otherwise, none at level audit (`nft_log_init()`).
        "log" => {
            expr("log", out);
            if body.get("group").is_some() {
                out.push(plain(Kind::Logger, "nflog"));
            } else if body.get("level").and_then(Value::as_str) != Some("audit") {
                out.push(plain(Kind::Logger, "syslog"));
            }
        }
        "notrack" => expr("notrack", out),
        "queue" => expr("queue", out),
        "last" => expr("last", out),
        "ct count" => expr("connlimit", out),
        "flow" => expr("flow_offload", out),
        "dup" | "fwd" | "tproxy" => {
            expr(k, out);
            expr("immediate", out);
        }
        "xt" => {
            let kind = match body.get("type").and_then(Value::as_str) {
                Some("match") => Kind::Match,
                Some("target") => Kind::Target,
                other => return Err(format!("an xt statement of type {other:?}")),
            };
            let name = body.get("name").and_then(Value::as_str).ok_or("an xt statement without a name")?;
            crate::probe::spec::canonical_name(kind, name).map_err(|e| e.to_string())?;
            out.push(Requirement { extension: Extension::new(kind, name), revision: None });
        }
        "set" | "map" | "meter" => {
            expr("dynset", out);
            for field in ["elem", "key", "data"] {
                if let Some(v) = body.get(field) {
                    value(v, family, out)?;
                }
            }
        }
        "vmap" => {
            expr("lookup", out);
            value(body.get("key").ok_or("a vmap without \"key\"")?, family, out)?;
        }
        other => return Err(format!("unknown statement `{other}`")),
    }
    Ok(())
}

fn is_literal(v: &Value) -> bool {
    matches!(v, Value::Number(_) | Value::String(_) | Value::Bool(_))
        && !v.as_str().is_some_and(|s| s.starts_with('@'))
}

fn is_flags(left: &Value) -> bool {
    let ct = left.get("ct").and_then(|c| c.get("key")).and_then(Value::as_str);
    let tcp_flags =
        left.get("payload").is_some_and(|p| p.get("field").and_then(Value::as_str) == Some("flags"));
    matches!(ct, Some("state" | "status")) || tcp_flags
}

/// The expressions an expression (a value) compiles to.
fn value(v: &Value, family: Family, out: &mut Vec<Requirement>) -> Result<(), String> {
    let Some((key, body)) = v.as_object().and_then(|o| o.iter().next()) else {
        // Literals and set references carry no expression of their own.
        return Ok(());
    };
    match key.as_str() {
        "payload" => {
            expr("payload", out);
            let proto = body.get("protocol").and_then(Value::as_str).unwrap_or("");
            // The dependency nft adds: meta l4proto for transport fields;
            // meta nfproto for ip/ip6 fields where the family is not IP.
            let l3_in_mixed = matches!(proto, "ip" | "ip6")
                && matches!(family, Family::Inet | Family::Bridge | Family::Netdev);
            if TRANSPORT.contains(&proto) || l3_in_mixed {
                expr("meta", out);
                expr("cmp", out);
            }
        }
        "meta" => expr("meta", out),
        "ct" => expr("ct", out),
        "fib" => expr("fib", out),
        "rt" => expr("rt", out),
        "socket" => expr("socket", out),
        "osf" => expr("osf", out),
        "ipsec" => expr("xfrm", out),
        "numgen" => expr("numgen", out),
        "jhash" | "symhash" => expr("hash", out),
        "tcp option" | "ip option" | "exthdr" | "sctp chunk" | "dccp option" => expr("exthdr", out),
        "&" | "|" | "^" | "<<" | ">>" => {
            expr("bitwise", out);
            for part in body.as_array().map(Vec::as_slice).unwrap_or_default() {
                value(part, family, out)?;
            }
        }
        "concat" => {
            for part in body.as_array().map(Vec::as_slice).unwrap_or_default() {
                value(part, family, out)?;
            }
        }
        "map" => {
            expr("lookup", out);
            value(body.get("key").ok_or("a map without \"key\"")?, family, out)?;
        }
        "set" | "prefix" | "range" | "elem" => {}
        other => return Err(format!("unknown expression `{other}`")),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(t: &Tally) -> Vec<String> {
        t.entries().iter().map(|e| e.requirement.to_string()).collect()
    }

    #[test]
    fn statements_compile_as_nft_compiles_them() {
        let doc = br#"{"nftables": [
            {"metainfo": {"version": "1.0.6"}},
            {"table": {"family": "ip", "name": "t", "handle": 1}},
            {"chain": {"family": "ip", "table": "t", "name": "post", "type": "nat", "hook": "postrouting", "prio": 100}},
            {"map": {"family": "ip", "name": "m", "table": "t", "type": ["ipv4_addr", "inet_service"], "map": "verdict"}},
            {"rule": {"family": "ip", "table": "t", "chain": "post", "expr": [
                {"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": "new"}},
                {"vmap": {"key": {"numgen": {"mode": "random", "mod": 2}}, "data": {"set": []}}},
                {"masquerade": {"flags": "fully-random"}}]}}
        ]}"#;
        let t = parse(doc, "r.json").unwrap();
        assert_eq!(
            names(&t),
            [
                "expr:bitwise",
                "expr:cmp",
                "expr:ct",
                "expr:lookup",
                "expr:masq",
                "expr:numgen",
                "chain:nat",
                "family:ipv4",
                "set:concat",
                "set:vmap"
            ]
        );
    }

    #[test]
    fn unknown_statements_are_errors_naming_the_rule() {
        let doc = br#"{"nftables": [{"rule": {"family": "ip", "table": "t", "chain": "c", "expr": [{"frob": null}]}}]}"#;
        let e = parse(doc, "r.json").unwrap_err();
        assert!(e.to_string().contains("nftables[0] (rule) statement 0: unknown statement `frob`"), "{e}");
        assert!(parse(b"{}", "r.json").is_err());
        assert!(parse(b"not json", "r.json").is_err());
        let bad_family = br#"{"nftables": [{"table": {"family": "ipx", "name": "t"}}]}"#;
        assert!(parse(bad_family, "r.json").is_err());
    }
}
