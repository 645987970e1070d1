//! Finding every revision of an extension the kernel accepts.
//!
//! The kernel answers one revision at a time (`xt_find_revision`): ENOENT if
//! the name is unknown, EPROTONOSUPPORT if the name is known but not that
//! revision, success otherwise. The nft backend's success also reports the
//! highest revision the kernel knows, which bounds the walk; the legacy
//! backend's does not, so its walk covers every 8-bit revision.
//!
//! The walk starts at 0 and goes up, as libxtables does when it falls back
//! from a userspace revision the kernel lacks: `conntrack` has no revision 0
//! on current kernels but 1–3, and the walk reports exactly that.
//!
//! The nft backend's `best` is not always the overall best:
//! `xt_find_revision` searches the family's table first and only falls back
//! to `NFPROTO_UNSPEC` when the asked revision is not there, so `best`
//! covers the tables searched. DNAT and SNAT register revision 0 for IPv4
//! and revisions 1–2 for UNSPEC: asking revision 0 in IPv4 reports best 0,
//! while asking revision 1 (absent from the IPv4 table) searches UNSPEC too
//! and reports best 2. And an EPROTONOSUPPORT carries no best at all: with
//! IPv4 {0} and UNSPEC {2}, revision 2 answers only when asked by number.
//!
//! So the walk of one extension is shaped like this (the families of an
//! extension walk together, [`walk_many`]):
//!
//! 1. every family asks revision 0 alone (for a name the kernel does not
//!    know: one autoload attempt per family, no more);
//! 2. one family (the leader) asks every revision up to [`NFT_WINDOW`], so
//!    any split of revisions 0–5 between family tables and UNSPEC, gaps
//!    included, is seen (mainline's highest revision is 4);
//! 3. every family asks up to the highest revision any family has seen
//!    plus [`NFT_LOOKAHEAD`]: revisions above the window are found through
//!    the kernel's best as long as they continue from below without a gap;
//! 4. a revision above a family's own highest is not in its own table, so
//!    if any family got EPROTONOSUPPORT for it (its table *and* UNSPEC
//!    lack it), it is not asked again.
//!
//! The test against a brute-force walk of all 256 revisions on random
//! registries, and the live comparison with the legacy backend (which asks
//! all 256), keep this honest.

use serde::Serialize;

use crate::probe::ProbeError;

/// The kernel's answer about one revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevisionAnswer {
    /// The revision is registered; `best` is the highest revision the kernel
    /// reported, when the backend reports one.
    Supported {
        /// Highest known revision (nft backend only).
        best: Option<u8>,
    },
    /// The name is known but not at this revision (EPROTONOSUPPORT).
    NoSuchRevision,
    /// No extension of this kind has this name (ENOENT).
    NoSuchName,
}

/// The revisions of one extension the kernel accepted.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Revisions {
    /// Every accepted revision, ascending.
    pub supported: Vec<u8>,
    /// The highest accepted revision.
    pub best: Option<u8>,
}

impl Revisions {
    /// Whether `rev` (or, for `None`, any revision) is accepted.
    pub fn satisfies(&self, rev: Option<u8>) -> bool {
        match rev {
            Some(r) => self.supported.contains(&r),
            None => !self.supported.is_empty(),
        }
    }
}

/// Revisions the nft walk asks past the highest one seen (see the module
/// documentation for why the kernel's `best` is not enough).
pub const NFT_LOOKAHEAD: u8 = 1;

/// Every revision up to this is asked, by one family of each extension:
/// mainline's highest revision is 4 (6.12: `set` and `NFQUEUE`-era
/// extensions), so any split between a family table and `NFPROTO_UNSPEC`
/// among revisions 0 to 5, gaps included, is found.
pub const NFT_WINDOW: u8 = 5;

/// What the walks of one extension in several families share.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Group {
    /// Revisions some family's query proved absent from `NFPROTO_UNSPEC`
    /// (EPROTONOSUPPORT: its own table and UNSPEC lack them).
    pub unspec_absent: RevSet,
    /// The highest revision any family has seen (accepted, or reported as
    /// the best of the tables searched).
    pub highest: Option<u8>,
}

/// How far the walk goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extent {
    /// Every revision from 0 to 255 (the legacy backend, which reports no
    /// best revision).
    Exhaustive,
    /// Up to the highest revision seen, plus this many misses in a row.
    Lookahead(u8),
}

/// The state of one walk, driven by whoever asks the kernel: the nft
/// backend batches the questions of many walkers into one datagram, the
/// legacy backend asks them one by one.
///
/// Each round, [`Walker::questions`] lists every revision worth asking given
/// what is known, so most extensions finish in a single round: the first
/// round asks revisions 0 to `lookahead` at once.
#[derive(Debug, Clone)]
pub struct Walker {
    extent: Extent,
    /// Revisions the kernel has answered about.
    answered: RevSet,
    /// Revisions the kernel accepted, or reported as its best.
    supported: RevSet,
    /// The kernel said ENOENT for some revision.
    no_such_name: bool,
    failed: Option<ProbeError>,
}

/// A set of 8-bit revisions, as a 256-bit map: walks run by the dozen in a
/// short-lived process, where every heap page is a page fault.
///
/// Also what the walks of one extension in several families share: the
/// revisions some family's query proved absent from `NFPROTO_UNSPEC` (see
/// [`Walker::questions_sharing`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RevSet([u64; 4]);

impl RevSet {
    /// Adds `r`.
    pub fn insert(&mut self, r: u8) {
        self.0[r as usize / 64] |= 1 << (r % 64);
    }

    /// Whether `r` is in the set.
    pub fn contains(&self, r: u8) -> bool {
        self.0[r as usize / 64] & (1 << (r % 64)) != 0
    }

    fn is_empty(&self) -> bool {
        self.0 == [0; 4]
    }

    /// Adds every revision of `other`.
    pub fn extend(&mut self, other: &RevSet) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a |= b;
        }
    }

    /// The revisions, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u8> + '_ {
        (0..=u8::MAX).filter(|&r| self.contains(r))
    }

    fn max(&self) -> Option<u8> {
        (0..4)
            .rev()
            .find(|&i| self.0[i] != 0)
            .map(|i| (i * 64 + 63 - self.0[i].leading_zeros() as usize) as u8)
    }
}

impl Walker {
    /// A walk that has asked nothing yet.
    pub fn new(extent: Extent) -> Self {
        Self {
            extent,
            answered: RevSet::default(),
            supported: RevSet::default(),
            no_such_name: false,
            failed: None,
        }
    }

    /// Whether the name turned out unknown (ENOENT with nothing found).
    fn unknown(&self) -> bool {
        self.no_such_name && self.supported.is_empty()
    }

    /// The revisions to ask next; empty once the walk is complete.
    pub fn questions(&self) -> Vec<u8> {
        self.questions_sharing(&Group::default(), true)
    }

    /// The revisions to ask next, using what the walks of the same
    /// extension in other families found (`group`).
    ///
    /// - Round one asks revision 0 alone: for a name the kernel does not
    ///   know, that is one autoload attempt per family, not several.
    /// - Then the walk asks everything up to the highest revision any
    ///   family of the group has seen (an answer's best covers the tables
    ///   it searched), plus the lookahead.
    /// - The leader (the group's first family) also asks every revision up
    ///   to [`NFT_WINDOW`]: a revision in `NFPROTO_UNSPEC` above a family
    ///   table's best, behind a gap, answers only when asked by number.
    /// - A revision `r` above this family's highest is not in its own
    ///   table, so only UNSPEC can answer: if any family's query got
    ///   EPROTONOSUPPORT for `r` (searching its table *and* UNSPEC), the
    ///   answer here is the same, and `r` is not asked.
    pub fn questions_sharing(&self, group: &Group, leader: bool) -> Vec<u8> {
        // ENOENT ends the walk: the name is unknown, or it vanished mid-walk
        // (module unloaded) and what was seen is reported.
        if self.failed.is_some() || self.no_such_name {
            return Vec::new();
        }
        let own_high = self.supported.max();
        let top = match self.extent {
            Extent::Exhaustive => {
                // Ask 0 alone first: ENOENT there ends the walk at once.
                if self.answered.contains(0) { u8::MAX } else { 0 }
            }
            Extent::Lookahead(n) => {
                if self.answered.is_empty() {
                    0
                } else {
                    let mut top = own_high.max(group.highest).map_or(0, |h| h.saturating_add(n));
                    if own_high.is_none() {
                        // The name is known here (EPROTONOSUPPORT), nothing
                        // found yet: keep walking up, whatever others saw.
                        match (0..=u8::MAX).find(|&r| !self.answered.contains(r)) {
                            Some(r) => top = top.max(r.saturating_add(n)),
                            None => return Vec::new(),
                        }
                    }
                    if leader {
                        top = top.max(NFT_WINDOW);
                    }
                    top
                }
            }
        };
        (0..=top)
            .filter(|&r| !self.answered.contains(r) && !self.supported.contains(r))
            .filter(|&r| own_high.is_none_or(|h| r <= h || !group.unspec_absent.contains(r)))
            .collect()
    }

    /// Records the kernel's answer (or the error that kept it from
    /// answering) for `rev`.
    pub fn answer(&mut self, rev: u8, answer: Result<RevisionAnswer, ProbeError>) {
        match answer {
            Ok(a) => {
                self.answered.insert(rev);
                match a {
                    RevisionAnswer::Supported { best } => {
                        self.supported.insert(rev);
                        // The kernel's best is registered too: no need to ask.
                        if let Some(b) = best {
                            self.supported.insert(b);
                        }
                    }
                    RevisionAnswer::NoSuchRevision => {}
                    RevisionAnswer::NoSuchName => self.no_such_name = true,
                }
            }
            Err(e) => {
                if self.failed.is_none() {
                    self.failed = Some(e);
                }
            }
        }
    }

    /// Revisions this walk saw EPROTONOSUPPORT for: absent from both this
    /// family's table and `NFPROTO_UNSPEC`.
    pub fn absent_everywhere(&self) -> RevSet {
        let mut out = self.answered;
        for (o, s) in out.0.iter_mut().zip(self.supported.0) {
            *o &= !s;
        }
        out
    }

    /// Whether nothing is left to ask.
    pub fn is_done(&self) -> bool {
        self.questions().is_empty()
    }

    /// The outcome: `None` if the name is not registered.
    pub fn finish(self) -> Result<Option<Revisions>, ProbeError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        if self.unknown() {
            return Ok(None);
        }
        let supported: Vec<u8> = self.supported.iter().collect();
        Ok(Some(Revisions { best: supported.last().copied(), supported }))
    }
}

/// Walks many items at once, in rounds: each round, `ask` gets every
/// question all unfinished walks can ask now, as (item, revision) pairs,
/// and returns one answer per pair. Items in the same `group` (one
/// extension in several families) share what they learn about
/// `NFPROTO_UNSPEC`: the first item of a group leads, the others defer
/// their lookahead a round and skip what the leader proved absent
/// ([`Walker::questions_sharing`]). Returns each item's outcome.
pub fn walk_many<G: Eq + std::hash::Hash>(
    groups: &[G],
    extent: Extent,
    mut ask: impl FnMut(&[(usize, u8)]) -> Vec<Result<RevisionAnswer, ProbeError>>,
) -> Vec<Result<Option<Revisions>, ProbeError>> {
    let mut walkers: Vec<Walker> = groups.iter().map(|_| Walker::new(extent)).collect();
    // Each item's group, as the index of the group's first item (its
    // leader): one hash lookup per item, so 20 000 items stay linear.
    let mut first: std::collections::HashMap<&G, usize> = std::collections::HashMap::new();
    let group_of: Vec<usize> = groups.iter().enumerate().map(|(i, g)| *first.entry(g).or_insert(i)).collect();
    let leader: Vec<bool> = group_of.iter().enumerate().map(|(i, &g)| g == i).collect();
    loop {
        // What each group knows so far. (A walk's own absences are in it
        // too; they are answered, so never re-asked.)
        let mut known = vec![Group::default(); groups.len()];
        for (i, w) in walkers.iter().enumerate() {
            let k = &mut known[group_of[i]];
            k.unspec_absent.extend(&w.absent_everywhere());
            k.highest = k.highest.max(w.supported.max());
        }
        let mut questions = Vec::new();
        for (i, w) in walkers.iter().enumerate() {
            questions
                .extend(w.questions_sharing(&known[group_of[i]], leader[i]).into_iter().map(|rev| (i, rev)));
        }
        if questions.is_empty() {
            break;
        }
        let mut answers = ask(&questions).into_iter();
        // A question left without an answer fails its walk (it would
        // otherwise be asked again forever).
        for &(i, rev) in &questions {
            let answer = answers.next().unwrap_or(Err(ProbeError::Wire(
                crate::probe::wire::WireError::Mismatch("fewer answers than questions"),
            )));
            walkers[i].answer(rev, answer);
        }
    }
    walkers.into_iter().map(Walker::finish).collect()
}

/// Walks the revisions asking `ask` one revision at a time. Returns `None`
/// when the name is not registered at all.
pub fn walk(
    extent: Extent,
    mut ask: impl FnMut(u8) -> Result<RevisionAnswer, ProbeError>,
) -> Result<Option<Revisions>, ProbeError> {
    let mut walker = Walker::new(extent);
    loop {
        let questions = walker.questions();
        if questions.is_empty() {
            return walker.finish();
        }
        for rev in questions {
            walker.answer(rev, ask(rev));
            // Asked one at a time, there is no point asking the rest of
            // the round once the name is known to be absent.
            if walker.failed.is_some() || walker.no_such_name {
                return walker.finish();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A kernel registry as `xt_find_revision` sees it: a family table and
    /// the UNSPEC table, searched in that order; the nft backend reports the
    /// best revision of the tables it searched.
    fn registry(
        family: &'static [u8],
        unspec: &'static [u8],
        reports_best: bool,
    ) -> impl FnMut(u8) -> Result<RevisionAnswer, ProbeError> {
        move |r| {
            let mut best = family.iter().max().copied();
            let mut have = family.contains(&r);
            if !have {
                best = best.max(unspec.iter().max().copied());
                have = unspec.contains(&r);
            }
            Ok(match (best, have) {
                (None, _) => RevisionAnswer::NoSuchName,
                (Some(_), false) => RevisionAnswer::NoSuchRevision,
                (Some(b), true) => RevisionAnswer::Supported { best: reports_best.then_some(b) },
            })
        }
    }

    #[test]
    fn conntrack_like_registry_with_best() {
        let mut asked = Vec::new();
        let mut reg = registry(&[], &[1, 2, 3], true);
        let revs = walk(Extent::Lookahead(NFT_LOOKAHEAD), |r| {
            asked.push(r);
            reg(r)
        })
        .unwrap()
        .unwrap();
        assert_eq!(revs.supported, vec![1, 2, 3]);
        assert_eq!(revs.best, Some(3));
        assert_eq!(asked, vec![0, 1, 2, 3, 4, 5], "0 alone, then the window (one question at a time here)");

        let mut w = Walker::new(Extent::Lookahead(NFT_LOOKAHEAD));
        assert_eq!(w.questions(), vec![0], "the first round asks revision 0 alone");
        let mut reg = registry(&[], &[1, 2, 3], true);
        w.answer(0, reg(0));
        assert_eq!(w.questions(), vec![1, 2, 3, 4, 5], "then the window at once");
    }

    #[test]
    fn legacy_walk_without_best_covers_all_revisions() {
        let mut count = 0;
        let mut reg = registry(&[0, 7], &[], false);
        let revs = walk(Extent::Exhaustive, |r| {
            count += 1;
            reg(r)
        })
        .unwrap()
        .unwrap();
        assert_eq!(revs.supported, vec![0, 7]);
        assert_eq!(count, 256);
    }

    #[test]
    fn unknown_name_is_none_after_one_question() {
        let mut count = 0;
        let mut reg = registry(&[], &[], true);
        assert_eq!(
            walk(Extent::Lookahead(NFT_LOOKAHEAD), |r| {
                count += 1;
                reg(r)
            })
            .unwrap(),
            None
        );
        assert_eq!(count, 1);
    }

    #[test]
    fn errors_stop_the_walk() {
        let r = walk(Extent::Exhaustive, |_| Err(ProbeError::BareAck));
        assert_eq!(r, Err(ProbeError::BareAck));
    }

    /// DNAT: IPv4 registers revision 0, UNSPEC revisions 1 and 2. Asking 0
    /// reports best 0; only asking past it reveals 1 and 2.
    #[test]
    fn family_table_best_hides_unspec_revisions() {
        let reg = registry(&[0], &[1, 2], true);
        let revs = walk(Extent::Lookahead(NFT_LOOKAHEAD), reg).unwrap().unwrap();
        assert_eq!(revs.supported, vec![0, 1, 2]);
        assert_eq!(revs.best, Some(2));
    }

    #[test]
    fn satisfies_required_revision() {
        let revs = Revisions { supported: vec![1, 2, 3], best: Some(3) };
        assert!(revs.satisfies(None));
        assert!(revs.satisfies(Some(2)));
        assert!(!revs.satisfies(Some(0)));
        assert!(!Revisions::default().satisfies(None));
    }

    /// The kernel's registry for one name: a table per family and the
    /// UNSPEC table, answered as `xt_find_revision` does (the family's
    /// table first; UNSPEC only when the asked revision is not there; the
    /// best is the highest of the tables searched).
    fn answer_in(tables: &[Vec<u8>], unspec: &[u8], f: usize, r: u8) -> RevisionAnswer {
        let t = &tables[f];
        let mut best = t.iter().max().copied();
        let mut have = t.contains(&r);
        if !have {
            best = best.max(unspec.iter().max().copied());
            have = unspec.contains(&r);
        }
        match (best, have) {
            (None, _) => RevisionAnswer::NoSuchName,
            (Some(_), false) => RevisionAnswer::NoSuchRevision,
            (Some(b), true) => RevisionAnswer::Supported { best: Some(b) },
        }
    }

    /// All 256 revisions, one by one: the truth the walks must match.
    fn brute_force(tables: &[Vec<u8>], unspec: &[u8], f: usize) -> Option<Vec<u8>> {
        let revs: Vec<u8> = (0..=u8::MAX)
            .filter(|&r| matches!(answer_in(tables, unspec, f, r), RevisionAnswer::Supported { .. }))
            .collect();
        (!revs.is_empty()).then_some(revs)
    }

    /// The walk that ships (`walk_many`, the families of one extension
    /// sharing what they learn) equals a brute-force walk of all 256
    /// revisions, on random registries of any split between family tables
    /// and UNSPEC among revisions 0..=NFT_WINDOW, gaps included (IPv4 {0} +
    /// UNSPEC {2}, the shape that used to be missed), with runs above the
    /// window that continue from it; and it asks far fewer questions.
    #[test]
    fn walk_many_equals_a_brute_force_walk_on_any_split() {
        let mut seed = 0x1234_5678_9abc_def0u64;
        let mut rnd = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let subset = |rnd: &mut dyn FnMut(u64) -> u64| -> Vec<u8> {
            let mut v: Vec<u8> = (0..=NFT_WINDOW).filter(|_| rnd(3) == 0).collect();
            // Sometimes a run above the window, continuing from its top:
            // revisions beyond the window are found through the kernel's
            // best and the lookahead, so they must not start behind a gap.
            if rnd(6) == 0 {
                v.push(NFT_WINDOW);
                v.extend(NFT_WINDOW + 1..=NFT_WINDOW + 1 + rnd(4) as u8);
            }
            v.sort();
            v.dedup();
            v
        };
        let mut shapes = vec![(vec![vec![0u8], vec![]], vec![2u8]), (vec![vec![0], vec![0]], vec![1, 2])];
        for _ in 0..5000 {
            let families = 1 + rnd(4) as usize;
            let tables: Vec<Vec<u8>> =
                (0..families).map(|_| if rnd(2) == 0 { subset(&mut rnd) } else { vec![] }).collect();
            let unspec = if rnd(4) == 0 { vec![] } else { subset(&mut rnd) };
            shapes.push((tables, unspec));
        }
        let (mut asked, mut brute) = (0usize, 0usize);
        for (tables, unspec) in shapes {
            let names = vec!["x"; tables.len()];
            let got = walk_many(&names, Extent::Lookahead(NFT_LOOKAHEAD), |qs| {
                asked += qs.len();
                qs.iter().map(|&(f, r)| Ok(answer_in(&tables, &unspec, f, r))).collect()
            });
            for (f, result) in got.into_iter().enumerate() {
                brute += 256;
                let walked = result.unwrap().map(|r| r.supported);
                assert_eq!(
                    walked,
                    brute_force(&tables, &unspec, f),
                    "family {f}: tables {tables:?}, unspec {unspec:?}"
                );
            }
        }
        assert!(asked * 20 < brute, "the walk asks far less than brute force: {asked} vs {brute}");
    }

    /// The families of one extension share UNSPEC knowledge: they ask less
    /// together than each alone, and answer the same.
    #[test]
    fn shared_walks_ask_less_than_independent_ones() {
        let tables = vec![vec![], vec![]];
        let unspec = vec![0u8, 1, 2];
        let mut shared = 0;
        let together = walk_many(&["x", "x"], Extent::Lookahead(NFT_LOOKAHEAD), |qs| {
            shared += qs.len();
            qs.iter().map(|&(f, r)| Ok(answer_in(&tables, &unspec, f, r))).collect()
        });
        let mut alone_q = 0;
        for (f, t) in together.into_iter().enumerate() {
            let alone = walk(Extent::Lookahead(NFT_LOOKAHEAD), |r| {
                alone_q += 1;
                Ok(answer_in(&tables, &unspec, f, r))
            });
            assert_eq!(t, alone);
        }
        assert!(shared < alone_q, "{shared} vs {alone_q}");
    }
}
