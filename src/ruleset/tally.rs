//! The tally of requirements a ruleset needs, with where each was seen,
//! kept small however large the ruleset: one counter per (requirement,
//! family, place); and, for saved files, which requirements each line
//! needs ([`Lines`]: 12 bytes a line, the sets of requirements shared).

use std::collections::{BTreeMap, BTreeSet, HashMap};

pub use super::iptables::Demand;
use crate::probe::ipset::msg::SetHeader;
use crate::probe::nftables::dump::{ExprUse, Object, family_of};
use crate::probe::xt::entries::TableUses;
use crate::probe::{Extension, Family, Kind, Requirement};

/// Where a requirement was seen: `ip kube-proxy/services`, `legacy ipv4
/// nat/POSTROUTING`, `ipset KUBE-CLUSTER-IP`, `rules.txt:12`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Place(pub String);

/// One requirement of the ruleset.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Entry {
    /// The interface its client asks through, for xtables kinds.
    #[serde(skip)]
    pub via: Option<crate::probe::Backend>,
    /// What is required (with the revision in use, for kinds that have one).
    #[serde(serialize_with = "as_string")]
    pub requirement: Requirement,
    /// What the client falls back to when the kernel lacks it.
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "all_as_string")]
    pub alternatives: Vec<Requirement>,
    /// The families it was seen in.
    pub families: Vec<Family>,
    /// Where, with how many uses there.
    pub places: Vec<(Place, usize)>,
    /// Whether xtprobe can ask the kernel about it (an expression type it
    /// has no recipe for cannot be checked, only reported).
    pub askable: bool,
}

fn as_string<S: serde::Serializer>(r: &Requirement, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&r.to_string())
}

fn all_as_string<S: serde::Serializer>(r: &[Requirement], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(r.iter().map(|r| r.to_string()))
}

/// Which requirements each line (or rule) of the saved files needs.
#[derive(Debug, Default, Clone)]
pub struct Lines {
    /// The files, as given.
    pub files: Vec<String>,
    keys: Vec<(Demand, Family)>,
    key_index: HashMap<(Demand, Family), u32>,
    sets: Vec<Box<[u32]>>,
    set_index: HashMap<Box<[u32]>, u32>,
    /// (file, line, set): one row per line that needs something.
    rows: Vec<(u32, u32, u32)>,
}

/// A set of needs, and the (file, line)s that have exactly it.
pub type NeedSet<'a> = (Vec<&'a (Demand, Family)>, Vec<(&'a str, u32)>);

/// One line and what it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineNeeds<'a> {
    /// The file.
    pub file: &'a str,
    /// The 1-based line (or, for `nft -j` documents, the rule's position).
    pub line: u32,
    /// What it needs, each in a family.
    pub needs: Vec<&'a (Demand, Family)>,
}

impl Lines {
    /// The index of `file`, added if new.
    pub fn file(&mut self, name: &str) -> u32 {
        match self.files.iter().position(|f| f == name) {
            Some(i) => i as u32,
            None => {
                self.files.push(name.to_string());
                (self.files.len() - 1) as u32
            }
        }
    }

    /// Records that `line` of `file` needs `needs`.
    pub fn add(&mut self, file: u32, line: usize, needs: &[(Demand, Family)]) {
        if needs.is_empty() {
            return;
        }
        let mut ids: Vec<u32> = needs
            .iter()
            .map(|k| match self.key_index.get(k) {
                Some(&i) => i,
                None => {
                    self.keys.push(k.clone());
                    let i = (self.keys.len() - 1) as u32;
                    self.key_index.insert(k.clone(), i);
                    i
                }
            })
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let ids = ids.into_boxed_slice();
        let set = match self.set_index.get(&ids) {
            Some(&s) => s,
            None => {
                self.sets.push(ids.clone());
                let s = (self.sets.len() - 1) as u32;
                self.set_index.insert(ids, s);
                s
            }
        };
        self.rows.push((file, line as u32, set));
    }

    /// How many lines need something.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether no line needs anything.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Every line, in the order read.
    pub fn iter(&self) -> impl Iterator<Item = LineNeeds<'_>> {
        self.rows.iter().map(|&(f, l, s)| LineNeeds {
            file: &self.files[f as usize],
            line: l,
            needs: self.sets[s as usize].iter().map(|&k| &self.keys[k as usize]).collect(),
        })
    }

    /// The distinct sets of needs, each with the lines that have it: what a
    /// verdict per line is computed from (once per set).
    pub fn sets(&self) -> Vec<NeedSet<'_>> {
        let mut out: Vec<NeedSet<'_>> = self
            .sets
            .iter()
            .map(|s| (s.iter().map(|&k| &self.keys[k as usize]).collect(), Vec::new()))
            .collect();
        for &(f, l, s) in &self.rows {
            out[s as usize].1.push((&self.files[f as usize], l));
        }
        out
    }

    fn merge(&mut self, other: Lines) {
        for LineNeeds { file, line, needs } in other.iter() {
            let f = self.file(file);
            let needs: Vec<(Demand, Family)> = needs.into_iter().cloned().collect();
            self.add(f, line as usize, &needs);
        }
    }
}

/// The requirements seen so far.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    seen: BTreeMap<Demand, BTreeMap<Family, BTreeMap<Place, usize>>>,
    /// Things found that are not requirements xtprobe knows (an unknown
    /// family number), and what a reader warns about: said, not dropped
    /// silently.
    pub notes: BTreeSet<String>,
    /// What each line of a saved file needs (empty for live rulesets).
    pub lines: Lines,
}

impl Tally {
    /// Records one use of `requirement` in `family` at `place`.
    pub fn add(&mut self, requirement: Requirement, family: Family, place: &Place) {
        self.add_demand(Demand::plain(requirement), family, place);
    }

    /// Records one use of `demand` in `family` at `place`.
    pub fn add_demand(&mut self, demand: Demand, family: Family, place: &Place) {
        *self.seen.entry(demand).or_default().entry(family).or_default().entry(place.clone()).or_insert(0) +=
            1;
    }

    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// Everything found, sorted by requirement (kind, name, revision):
    /// the same ruleset gives the same entries, byte for byte.
    pub fn entries(&self) -> Vec<Entry> {
        self.seen
            .iter()
            .map(|(demand, fams)| {
                let req = &demand.requirement;
                let mut places: BTreeMap<Place, usize> = BTreeMap::new();
                for per in fams.values() {
                    for (p, n) in per {
                        *places.entry(p.clone()).or_insert(0) += n;
                    }
                }
                Entry {
                    via: demand.via,
                    requirement: req.clone(),
                    alternatives: demand.alternatives.clone(),
                    families: fams.keys().copied().collect(),
                    places: places.into_iter().collect(),
                    askable: crate::probe::spec::canonical_name(req.extension.kind, &req.extension.name)
                        .is_ok(),
                }
            })
            .collect()
    }

    /// Merges another tally into this one.
    pub fn merge(&mut self, other: Tally) {
        for (req, fams) in other.seen {
            for (fam, places) in fams {
                for (p, n) in places {
                    *self
                        .seen
                        .entry(req.clone())
                        .or_default()
                        .entry(fam)
                        .or_default()
                        .entry(p)
                        .or_insert(0) += n;
                }
            }
        }
        self.notes.extend(other.notes);
        self.lines.merge(other.lines);
    }

    /// Records what one nf_tables object requires.
    pub fn add_object(&mut self, obj: &Object) {
        let nfproto = match obj {
            Object::Table { family, .. }
            | Object::Chain { family, .. }
            | Object::Set { family, .. }
            | Object::Stateful { family, .. }
            | Object::Flowtable { family, .. }
            | Object::Rule { family, .. } => *family,
        };
        let Some(family) = family_of(nfproto) else {
            self.notes.insert(format!("nf_tables objects in family {nfproto}, which xtprobe does not know"));
            return;
        };
        let fam = family.nft_word();
        match obj {
            Object::Table { name, .. } => {
                self.add(plain(Kind::Family, family.as_str()), family, &Place(format!("{fam} {name}")));
            }
            Object::Chain { table, name, chain_type: Some(t), .. } => {
                self.add(plain(Kind::Chain, t), family, &Place(format!("{fam} {table}/{name}")));
            }
            Object::Chain { .. } => {}
            Object::Set { table, name, features, exprs, .. } => {
                let place = Place(format!("{fam} {table} set {name}"));
                for f in features {
                    self.add(plain(Kind::Set, f), family, &place);
                }
                for e in exprs {
                    self.add(expr_requirement(e), family, &place);
                }
            }
            Object::Stateful { table, name, object, helper, .. } => {
                let place = Place(format!("{fam} {table} object {name}"));
                if crate::probe::spec::canonical_name(Kind::Object, object).is_ok() {
                    self.add(plain(Kind::Object, object), family, &place);
                } else {
                    self.notes.insert(format!(
                        "{fam} {table} object {name}: {object}, which xtprobe does not know"
                    ));
                }
                if let Some(h) = helper {
                    self.add(plain(Kind::Helper, h), family, &place);
                }
            }
            Object::Flowtable { table, name, .. } => {
                self.add(
                    plain(Kind::Object, "flowtable"),
                    family,
                    &Place(format!("{fam} {table} flowtable {name}")),
                );
            }
            Object::Rule { table, chain, exprs, .. } => {
                let place = Place(format!("{fam} {table}/{chain}"));
                // One count per rule for each requirement it uses.
                let mut once = BTreeSet::new();
                for e in exprs {
                    let r = expr_requirement(e);
                    if once.insert(r.clone()) {
                        self.add(r, family, &place);
                    }
                }
            }
        }
    }

    /// Records what one legacy xtables table requires: the table itself
    /// (`iptable_<name>`), each extension and what it needs beneath it.
    pub fn add_legacy(&mut self, family: Family, uses: &TableUses) {
        let via = Some(crate::probe::Backend::Legacy);
        self.add(plain(Kind::Table, &uses.table), family, &Place(format!("legacy {family} {}", uses.table)));
        for (chain, u) in &uses.uses {
            let place = Place(format!("legacy {family} {}/{chain}", uses.table));
            let req = Requirement { extension: Extension::new(u.kind, &u.name), revision: Some(u.revision) };
            self.add_demand(Demand { requirement: req, alternatives: Vec::new(), via }, family, &place);
            for (kind, name) in &u.beneath {
                if crate::probe::spec::canonical_name(*kind, name).is_ok() {
                    self.add(plain(*kind, name), family, &place);
                }
            }
        }
    }

    /// Records what one ipset requires.
    pub fn add_ipset(&mut self, set: &SetHeader) {
        // Types of any family (bitmap:port, list:set) report family 0.
        let family =
            if set.family == crate::probe::consts::NFPROTO_IPV6 { Family::Ipv6 } else { Family::Ipv4 };
        let req = Requirement {
            extension: Extension::new(Kind::Ipset, &set.typename),
            revision: Some(set.revision),
        };
        self.add(req, family, &Place(format!("ipset {}", set.name)));
    }
}

fn plain(kind: Kind, name: &str) -> Requirement {
    Requirement { extension: Extension::new(kind, name), revision: None }
}

/// The requirement an expression use stands for.
pub fn expr_requirement(e: &ExprUse) -> Requirement {
    match e {
        ExprUse::Native(name) => plain(Kind::Expr, name),
        ExprUse::Beneath(kind, name) => plain(*kind, name),
        ExprUse::Compat { kind, name, revision } => {
            Requirement { extension: Extension::new(*kind, name), revision: Some(*revision) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_sorted_counted_and_deterministic() {
        let mut t = Tally::default();
        let rule = |table: &str, exprs: Vec<ExprUse>| Object::Rule {
            family: 2,
            table: table.into(),
            chain: "c".into(),
            exprs,
        };
        let n = |s: &str| ExprUse::Native(s.into());
        t.add_object(&rule("t", vec![n("payload"), n("cmp"), n("payload"), n("numgen")]));
        t.add_object(&rule("t", vec![n("payload")]));
        t.add_object(&Object::Table { family: 10, name: "t".into() });
        t.add_object(&Object::Table { family: 99, name: "odd".into() });
        let e = t.entries();
        let names: Vec<String> = e.iter().map(|e| e.requirement.to_string()).collect();
        assert_eq!(names, ["expr:cmp", "expr:numgen", "expr:payload", "family:ipv6"]);
        let payload = &e[2];
        assert_eq!(payload.places, [(Place("ip t/c".into()), 2)], "once per rule, two rules");
        assert!(t.notes.iter().any(|n| n.contains("family 99")));
        let mut again = Tally::default();
        again.merge(t.clone());
        assert_eq!(again.entries(), e);
    }

    #[test]
    fn unknown_expressions_are_kept_but_not_askable() {
        let mut t = Tally::default();
        t.add_object(&Object::Rule {
            family: 2,
            table: "t".into(),
            chain: "c".into(),
            exprs: vec![ExprUse::Native("flow_offload".into())],
        });
        let e = t.entries();
        assert_eq!(e[0].requirement.to_string(), "expr:flow_offload");
        assert!(!e[0].askable);
    }
}
