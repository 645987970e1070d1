//! The tally of requirements a ruleset needs, with where each was seen,
//! kept small however large the ruleset: one counter per (requirement,
//! family, place), never one record per rule.

use std::collections::{BTreeMap, BTreeSet};

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
    /// What is required (with the revision in use, for kinds that have one).
    #[serde(serialize_with = "as_string")]
    pub requirement: Requirement,
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

/// The requirements seen so far.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    seen: BTreeMap<Requirement, BTreeMap<Family, BTreeMap<Place, usize>>>,
    /// Things found that are not requirements xtprobe knows (an unknown
    /// family number): said, not dropped silently.
    pub notes: BTreeSet<String>,
}

impl Tally {
    /// Records one use of `requirement` in `family` at `place`.
    pub fn add(&mut self, requirement: Requirement, family: Family, place: &Place) {
        *self
            .seen
            .entry(requirement)
            .or_default()
            .entry(family)
            .or_default()
            .entry(place.clone())
            .or_insert(0) += 1;
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
            .map(|(req, fams)| {
                let mut places: BTreeMap<Place, usize> = BTreeMap::new();
                for per in fams.values() {
                    for (p, n) in per {
                        *places.entry(p.clone()).or_insert(0) += n;
                    }
                }
                Entry {
                    requirement: req.clone(),
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
    }

    /// Records what one nf_tables object requires.
    pub fn add_object(&mut self, obj: &Object) {
        let nfproto = match obj {
            Object::Table { family, .. }
            | Object::Chain { family, .. }
            | Object::Set { family, .. }
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

    /// Records what one legacy xtables table requires.
    pub fn add_legacy(&mut self, family: Family, uses: &TableUses) {
        for (chain, u) in &uses.uses {
            let req = Requirement { extension: Extension::new(u.kind, &u.name), revision: Some(u.revision) };
            self.add(req, family, &Place(format!("legacy {family} {}/{chain}", uses.table)));
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
