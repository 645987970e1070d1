//! From questions to validate-only batches, and from the kernel's ACKs back
//! to answers: both pure, so both are tested as tables.
//!
//! A batch holds, for each family it asks in, a dormant table, a regular
//! chain for the probe rules, and a base `filter` chain — the *gate*: on
//! kernels before 6.8 a table in a family nf_tables was built without is
//! accepted, and only a base chain fails (no chain type registered for the
//! family, ENOENT); 6.8 and later refuse the table itself (EOPNOTSUPP,
//! `nft_supported_family()`). Either way the gate answers `family:X`, and
//! no other answer in a family that is absent is trusted.
//!
//! Then one message per question (and the set or object a rule needs just
//! before it):
//! - `expr:NAME` → `NEWRULE` in the probe chain; ACK = present, ENOENT =
//!   no such type (the kernel asked for `nft-expr-…` first);
//! - `chain:TYPE` → a base chain of that type; ENOENT = no such type
//!   (`nft-chain-<family>-<type>` asked for);
//! - `set:FEATURE` → `NEWSET`; EOPNOTSUPP = no set backend can do it
//!   (`nft_select_set_ops()`);
//! - `family:X` → the gate itself.
//!
//! Anything else is not a verdict: the kernel has the type but refused
//! xtprobe's minimal use of it, and the answer carries its errno and
//! extended-ACK text.

use super::msg::{Hook, Message};
use super::recipe::{self, Ctx, ExprRecipe, HelperRecipe, LoggerRecipe, ObjectRecipe, Prepare, SetFeature};
use crate::probe::exchange::Answer;
use crate::probe::socket::MAX_TRANSACTION;
use crate::probe::{Errno, Family, Outcome, ProbeError};

/// One question about nf_tables.
#[derive(Debug, Clone, Copy)]
pub enum Question {
    /// Is this expression type registered?
    Expr(&'static ExprRecipe),
    /// Is this chain type registered (for the family)?
    Chain(&'static str),
    /// Is the family itself there?
    Family,
    /// Can a set have this feature?
    Set(&'static SetFeature),
    /// Is this logger registered for the family? Asked with a `log` rule
    /// beside a `log level audit` witness (nft_log), and with the LOG or
    /// NFLOG target beside its witness (nft_compat) for kernels without
    /// nft_log.
    Logger(&'static LoggerRecipe),
    /// Is this conntrack helper there? Asked with a `ct helper` object
    /// beside a `ct state` witness (nft_ct).
    Helper(&'static HelperRecipe),
    /// Is this object type (or are flowtables) there?
    Object(&'static ObjectRecipe),
    /// Is this textsearch algorithm there? Asked with the `string` match
    /// beside its witness.
    Textsearch(&'static str),
}

impl Question {
    /// The messages this question adds after its family's scaffolding.
    fn message_count(&self) -> usize {
        match self {
            Question::Family => 0,
            Question::Chain(_) | Question::Set(_) => 1,
            Question::Expr(r) => 1 + usize::from(r.prepare != Prepare::Nothing),
            Question::Logger(_) => 4,
            Question::Helper(_) | Question::Textsearch(_) => 2,
            Question::Object(_) => 1,
        }
    }

    /// What the question is, for timeouts and errors.
    pub fn describe(&self) -> String {
        match self {
            Question::Expr(r) => format!("expr:{}", r.name),
            Question::Chain(t) => format!("chain:{t}"),
            Question::Family => "the family".to_string(),
            Question::Set(f) => format!("set:{}", f.name),
            Question::Logger(l) => format!("logger:{}", l.name),
            Question::Helper(h) => format!("helper:{}", h.name),
            Question::Object(o) => format!("object:{}", o.name),
            Question::Textsearch(a) => format!("textsearch:{a}"),
        }
    }
}

/// Messages per family that every batch repeats: table, probe chain, gate.
const SCAFFOLD: usize = 3;

/// Where a question's answer is in its batch.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Slot {
    /// The question's index in the caller's list.
    index: usize,
    /// Messages that prepare it (a set, an object).
    prepare: Vec<usize>,
    /// The message whose ACK answers it; `None` for family questions (the gate).
    answer: Option<usize>,
    /// The witnesses and other routes of a question asked beneath a
    /// carrier, in the order its interpretation reads them.
    extra: Vec<usize>,
    /// A family question.
    family_question: bool,
}

/// One family's part of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Group {
    family: Family,
    table: usize,
    chain: usize,
    gate: usize,
    slots: Vec<Slot>,
}

/// One datagram's worth of questions.
#[derive(Debug, Clone)]
pub struct Batch {
    /// The messages, each with the family it is sent in.
    pub messages: Vec<(Family, Message)>,
    groups: Vec<Group>,
    /// The first question, for a timeout message.
    pub first: String,
}

/// The names a batch uses: unique to this process, so that even a name
/// clash with the real ruleset cannot happen (and nothing is committed).
#[derive(Debug, Clone)]
pub struct Names {
    /// The table name in every family.
    pub table: String,
}

impl Names {
    /// Names for process `pid`.
    pub fn for_pid(pid: u32) -> Self {
        Names { table: format!("xtprobe-{pid}") }
    }
}

/// Splits `questions` (each in a family where it applies) into batches of
/// at most [`MAX_TRANSACTION`] messages; a family's questions stay in its
/// order, and a question never straddles two batches.
pub fn plan(questions: &[(Family, Question)], names: &Names) -> Vec<Batch> {
    plan_with(questions, names, MAX_TRANSACTION)
}

fn plan_with(questions: &[(Family, Question)], names: &Names, max: usize) -> Vec<Batch> {
    let mut families: Vec<Family> = Vec::new();
    for (f, _) in questions {
        if !families.contains(f) {
            families.push(*f);
        }
    }
    let mut batches = Vec::new();
    let mut current = Batch { messages: Vec::new(), groups: Vec::new(), first: String::new() };
    for family in families {
        let mut open = false;
        for (index, (_, q)) in questions.iter().enumerate().filter(|(_, (f, _))| *f == family) {
            let need = q.message_count() + if open { 0 } else { SCAFFOLD };
            if current.messages.len() + need > max && !current.messages.is_empty() {
                batches.push(std::mem::replace(
                    &mut current,
                    Batch { messages: Vec::new(), groups: Vec::new(), first: String::new() },
                ));
                open = false;
            }
            if !open {
                open_group(&mut current, family, names);
                open = true;
            }
            if current.first.is_empty() {
                current.first = format!("{} in {family}", q.describe());
            }
            add_question(&mut current, index, q, names);
        }
    }
    if !current.messages.is_empty() {
        batches.push(current);
    }
    batches
}

fn open_group(batch: &mut Batch, family: Family, names: &Names) {
    let base = batch.messages.len();
    let table = names.table.clone();
    let (hooknum, priority, device) = recipe::hook_for("filter", family);
    batch.messages.push((family, Message::Table { name: table.clone() }));
    batch.messages.push((family, Message::Chain { table: table.clone(), name: "q".into(), hook: None }));
    batch.messages.push((
        family,
        Message::Chain {
            table,
            name: "gate".into(),
            hook: Some(Hook { chain_type: "filter".into(), hooknum, priority, device }),
        },
    ));
    batch.groups.push(Group { family, table: base, chain: base + 1, gate: base + 2, slots: Vec::new() });
}

fn add_question(batch: &mut Batch, index: usize, q: &Question, names: &Names) {
    let group = batch.groups.last_mut().expect("a group is open");
    let family = group.family;
    let table = names.table.clone();
    let mut prepare = Vec::new();
    let n = batch.messages.len();
    let message = match q {
        Question::Family => {
            group.slots.push(Slot { index, prepare, answer: None, extra: Vec::new(), family_question: true });
            return;
        }
        Question::Logger(l) => {
            // answer: `log`; extra: [audit witness, LOG/NFLOG witness, LOG/NFLOG].
            let rule = |exprs| Message::Rule { table: table.clone(), chain: "q".into(), exprs };
            let start = batch.messages.len();
            batch.messages.push((family, rule(l.nft_witness())));
            batch.messages.push((family, rule(l.nft_rule())));
            batch.messages.push((family, rule(l.xt_rule(true))));
            batch.messages.push((family, rule(l.xt_rule(false))));
            group.slots.push(Slot {
                index,
                prepare,
                answer: Some(start + 1),
                extra: vec![start, start + 2, start + 3],
                family_question: false,
            });
            return;
        }
        Question::Helper(h) => {
            let start = batch.messages.len();
            batch.messages.push((
                family,
                Message::Rule { table: table.clone(), chain: "q".into(), exprs: h.witness() },
            ));
            batch.messages.push((
                family,
                Message::Obj {
                    table,
                    name: format!("o{start}"),
                    ty: super::abi::NFT_OBJECT_CT_HELPER,
                    data: h.object_data(family),
                },
            ));
            group.slots.push(Slot {
                index,
                prepare,
                answer: Some(start + 1),
                extra: vec![start],
                family_question: false,
            });
            return;
        }
        Question::Textsearch(algo) => {
            let start = batch.messages.len();
            let rule = |exprs| Message::Rule { table: table.clone(), chain: "q".into(), exprs };
            batch.messages.push((family, rule(recipe::string_match(algo, true))));
            batch.messages.push((family, rule(recipe::string_match(algo, false))));
            group.slots.push(Slot {
                index,
                prepare,
                answer: Some(start + 1),
                extra: vec![start],
                family_question: false,
            });
            return;
        }
        Question::Chain(t) => {
            let (hooknum, priority, device) = recipe::hook_for(t, family);
            Message::Chain {
                table,
                name: format!("c{n}"),
                hook: Some(Hook { chain_type: t.to_string(), hooknum, priority, device }),
            }
        }
        Question::Set(f) => Message::Set { table, name: format!("s{n}"), id: n as u32, spec: (f.spec)() },
        Question::Object(o) => match o.number {
            Some(ty) => Message::Obj { table, name: format!("o{n}"), ty, data: (o.data)() },
            None => Message::Flowtable { table, name: format!("f{n}") },
        },
        Question::Expr(r) => {
            let (set, object) = (format!("s{n}"), format!("o{n}"));
            match r.prepare {
                Prepare::Nothing => {}
                Prepare::Set(flags) => {
                    prepare.push(n);
                    batch.messages.push((
                        family,
                        Message::Set {
                            table: table.clone(),
                            name: set.clone(),
                            id: n as u32,
                            spec: recipe::prepared_set(flags),
                        },
                    ));
                }
                Prepare::Counter => {
                    prepare.push(n);
                    batch.messages.push((
                        family,
                        Message::Obj {
                            table: table.clone(),
                            name: object.clone(),
                            ty: super::abi::NFT_OBJECT_COUNTER,
                            data: Vec::new(),
                        },
                    ));
                }
            }
            let ctx = Ctx { family, set: &set, set_id: n as u32, object: &object };
            Message::Rule { table, chain: "q".into(), exprs: (r.rule)(&ctx) }
        }
    };
    let answer = batch.messages.len();
    batch.messages.push((family, message));
    group.slots.push(Slot {
        index,
        prepare,
        answer: Some(answer),
        extra: Vec::new(),
        family_question: false,
    });
}

/// The caller's indices of the questions in `batch`.
pub fn indices(batch: &Batch) -> Vec<usize> {
    batch.groups.iter().flat_map(|g| g.slots.iter().map(|s| s.index)).collect()
}

/// The state of a family, from its table and gate.
#[derive(Debug, Clone, PartialEq, Eq)]
enum FamilyState {
    Present,
    Absent,
    Broken(ProbeError),
}

fn failure(op: &'static str, errno: i32, ext_ack: Option<String>) -> ProbeError {
    ProbeError::Os { op, errno: Errno(errno), ext_ack }
}

/// ACK (0) or the errno and the kernel's text. A data reply is impossible
/// for these messages: a mismatch.
fn result(a: &Answer) -> Result<(), (i32, Option<String>)> {
    match a {
        Answer::BareAck => Ok(()),
        Answer::Error { errno, ext_ack } => Err((*errno, ext_ack.message.clone())),
        Answer::Data(_) => Err((libc::EPROTO, Some("a data reply to a NEW message".into()))),
    }
}

/// What each question's answer means: `(index, outcome)` per question of
/// the batch. `answers` are the ACKs in message order.
pub fn interpret(
    batch: &Batch,
    answers: &[Answer],
    questions: &[(Family, Question)],
) -> Vec<(usize, Outcome)> {
    let mut out = Vec::new();
    for g in &batch.groups {
        let state = match (result(&answers[g.table]), result(&answers[g.gate])) {
            // 6.8+: nft_supported_family(); before 4.17 a missing afinfo module.
            (Err((libc::EOPNOTSUPP | libc::EAFNOSUPPORT, _)), _) => FamilyState::Absent,
            (Err((errno, text)), _) => FamilyState::Broken(failure("NFT_MSG_NEWTABLE", errno, text)),
            // Before 6.8: no filter chain type for the family (ENOENT); on
            // 5.5-6.7 kernels without the 2024 fix, EOPNOTSUPP
            // (`nft_chain_parse_hook()` finding no type ops).
            (Ok(()), Err((libc::ENOENT | libc::EOPNOTSUPP, _))) => FamilyState::Absent,
            (Ok(()), Err((errno, text))) => FamilyState::Broken(failure("NFT_MSG_NEWCHAIN", errno, text)),
            (Ok(()), Ok(())) => FamilyState::Present,
        };
        let chain = result(&answers[g.chain]);
        for s in &g.slots {
            let outcome = match (&state, s.family_question) {
                (FamilyState::Present, true) => Outcome::Present,
                (FamilyState::Absent, true) => Outcome::NotRegistered,
                (FamilyState::Broken(e), _) => Outcome::Failed(e.clone()),
                (FamilyState::Absent, false) => {
                    Outcome::Failed(ProbeError::FamilyAbsent { family: g.family })
                }
                (FamilyState::Present, false) => answer_one(&questions[s.index].1, s, answers, &chain),
            };
            out.push((s.index, outcome));
        }
    }
    out
}

fn answer_one(
    q: &Question,
    s: &Slot,
    answers: &[Answer],
    chain: &Result<(), (i32, Option<String>)>,
) -> Outcome {
    if let (Question::Expr(_), Err((errno, text))) = (q, chain) {
        return Outcome::Failed(failure("NFT_MSG_NEWCHAIN", *errno, text.clone()));
    }
    for &p in &s.prepare {
        if let Err((errno, text)) = result(&answers[p]) {
            let op = if matches!(q, Question::Expr(r) if r.prepare == Prepare::Counter) {
                "NFT_MSG_NEWOBJ"
            } else {
                "NFT_MSG_NEWSET"
            };
            return Outcome::Failed(failure(op, errno, text));
        }
    }
    let Some(i) = s.answer else { return Outcome::Present };
    match q {
        Question::Logger(l) => return logger_answer(l, s, i, answers),
        Question::Helper(h) => {
            return match result(&answers[s.extra[0]]) {
                Ok(()) => beneath(q, result(&answers[i]), &[]),
                Err(_) => Outcome::Unknown(format!(
                    "helper {} is asked with an nf_tables `ct helper` object, and nft_ct (expr:ct) is not there",
                    h.name
                )),
            };
        }
        Question::Textsearch(algo) => {
            return match result(&answers[s.extra[0]]) {
                Err((libc::EINVAL, _)) => beneath(q, result(&answers[i]), &[]),
                _ => Outcome::Unknown(format!(
                    "textsearch {algo} is asked with the string match, and it (match:string through \
                     nft_compat) is not there"
                )),
            };
        }
        Question::Object(o) => return beneath(q, result(&answers[i]), o.present),
        _ => {}
    }
    match (q, result(&answers[i])) {
        (_, Ok(())) => Outcome::Present,
        (Question::Expr(_) | Question::Chain(_), Err((libc::ENOENT, _))) => Outcome::NotRegistered,
        (Question::Expr(r), Err((errno, _))) if r.also_missing.contains(&errno) => Outcome::NotRegistered,
        (Question::Set(_), Err((libc::EOPNOTSUPP, _))) => Outcome::NotRegistered,
        (q, Err((errno, text))) => Outcome::Failed(ProbeError::Rejected {
            what: q.describe(),
            op: op_of(q),
            errno: Errno(errno),
            ext_ack: text,
        }),
    }
}

/// The message a question's answer comes from, for errors.
fn op_of(q: &Question) -> &'static str {
    match q {
        Question::Expr(_) | Question::Logger(_) | Question::Textsearch(_) => "NFT_MSG_NEWRULE",
        Question::Chain(_) | Question::Family => "NFT_MSG_NEWCHAIN",
        Question::Set(_) => "NFT_MSG_NEWSET",
        Question::Helper(_) => "NFT_MSG_NEWOBJ",
        Question::Object(o) if o.number.is_none() => "NFT_MSG_NEWFLOWTABLE",
        Question::Object(_) => "NFT_MSG_NEWOBJ",
    }
}

/// The answer to a question asked beneath its carrier, once the carrier
/// is known to be there: ACK (or an errno in `present`) = there, ENOENT =
/// missing (the kernel asked for its module first), anything else is the
/// kernel refusing xtprobe's use of it.
fn beneath(q: &Question, r: Result<(), (i32, Option<String>)>, present: &[i32]) -> Outcome {
    match r {
        Ok(()) => Outcome::Present,
        Err((errno, _)) if present.contains(&errno) => Outcome::Present,
        Err((libc::ENOENT, _)) => Outcome::NotRegistered,
        Err((errno, text)) => Outcome::Failed(ProbeError::Rejected {
            what: q.describe(),
            op: op_of(q),
            errno: Errno(errno),
            ext_ack: text,
        }),
    }
}

/// A logger: through nft_log if its witness passed, else through the
/// LOG/NFLOG target if that is registered (its witness refused with
/// EINVAL), else no verdict.
fn logger_answer(l: &'static LoggerRecipe, s: &Slot, i: usize, answers: &[Answer]) -> Outcome {
    let q = Question::Logger(l);
    if result(&answers[s.extra[0]]).is_ok() {
        return beneath(&q, result(&answers[i]), &[]);
    }
    if matches!(result(&answers[s.extra[1]]), Err((libc::EINVAL, _))) {
        return beneath(&q, result(&answers[s.extra[2]]), &[]);
    }
    Outcome::Unknown(format!(
        "logger {} is asked with a log rule, and neither nft_log (expr:log) nor the {} target \
         (through nft_compat) is there to ask with",
        l.name, l.xt_target
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::wire::ExtAck;

    fn ack() -> Answer {
        Answer::BareAck
    }

    fn err(errno: i32) -> Answer {
        Answer::Error { errno, ext_ack: ExtAck::default() }
    }

    fn names() -> Names {
        Names { table: "xtprobe-1".into() }
    }

    fn q(s: &str) -> Question {
        match s.split_once(':').unwrap() {
            ("expr", n) => Question::Expr(recipe::expr(n).unwrap()),
            ("chain", t) => Question::Chain(recipe::CHAIN_TYPES.iter().find(|c| **c == t).unwrap()),
            ("set", f) => Question::Set(recipe::set_feature(f).unwrap()),
            ("family", _) => Question::Family,
            _ => unreachable!(),
        }
    }

    /// The answers for one family group with `table`/`chain`/`gate` ACKs
    /// and then `rest` for the questions' messages.
    fn run(family: Family, asked: &[&str], acks: Vec<Answer>) -> Vec<Outcome> {
        let qs: Vec<(Family, Question)> = asked.iter().map(|s| (family, q(s))).collect();
        let batches = plan(&qs, &names());
        assert_eq!(batches.len(), 1);
        assert_eq!(batches[0].messages.len(), acks.len(), "one ACK per message");
        let mut out = interpret(&batches[0], &acks, &qs);
        out.sort_by_key(|(i, _)| *i);
        out.into_iter().map(|(_, o)| o).collect()
    }

    #[test]
    fn answers_by_errno() {
        use Outcome::*;
        let asked = ["expr:numgen", "expr:queue", "chain:nat", "set:interval", "family:x"];
        let table: &[(Vec<Answer>, [&str; 5])] = &[
            (vec![ack(), ack(), ack(), ack(), ack(), ack(), ack()], ["present"; 5]),
            (
                vec![ack(), ack(), ack(), ack(), err(libc::ENOENT), err(libc::ENOENT), err(libc::EOPNOTSUPP)],
                ["present", "missing", "missing", "missing", "present"],
            ),
            (
                vec![ack(), ack(), ack(), err(libc::EINVAL), ack(), err(libc::EOPNOTSUPP), err(libc::EINVAL)],
                ["rejected", "present", "rejected", "rejected", "present"],
            ),
        ];
        for (acks, want) in table {
            let got: Vec<&str> = run(Family::Ipv4, &asked, acks.clone())
                .iter()
                .map(|o| match o {
                    Present => "present",
                    NotRegistered => "missing",
                    Failed(ProbeError::Rejected { .. }) => "rejected",
                    other => panic!("{other:?}"),
                })
                .collect();
            assert_eq!(&got, want, "{acks:?}");
        }
    }

    #[test]
    fn an_absent_family_is_missing_and_blocks_the_rest() {
        let asked = ["family:x", "expr:counter"];
        // 6.8+: the table is refused; every later message fails too.
        let new = run(
            Family::Arp,
            &asked,
            vec![err(libc::EOPNOTSUPP), err(libc::ENOENT), err(libc::ENOENT), err(libc::ENOENT)],
        );
        // Before 6.8: the table is accepted, the base chain is not, the rule is.
        let old = run(Family::Arp, &asked, vec![ack(), ack(), err(libc::ENOENT), ack()]);
        for got in [new, old] {
            assert_eq!(got[0], Outcome::NotRegistered);
            assert_eq!(got[1], Outcome::Failed(ProbeError::FamilyAbsent { family: Family::Arp }));
        }
    }

    #[test]
    fn preparation_failures_are_not_verdicts() {
        // lookup: NEWSET fails, the rule then fails with ENOENT (set not found).
        let got = run(
            Family::Ipv4,
            &["expr:lookup"],
            vec![ack(), ack(), ack(), err(libc::ENOMEM), err(libc::ENOENT)],
        );
        assert!(matches!(&got[0], Outcome::Failed(ProbeError::Os { op: "NFT_MSG_NEWSET", .. })), "{got:?}");
        let got = run(
            Family::Ipv4,
            &["expr:objref"],
            vec![ack(), ack(), ack(), err(libc::ENOENT), err(libc::ENOENT)],
        );
        assert!(matches!(&got[0], Outcome::Failed(ProbeError::Os { op: "NFT_MSG_NEWOBJ", .. })), "{got:?}");
        // The probe chain itself failed: no rule answer is trusted.
        let got =
            run(Family::Ipv4, &["expr:counter"], vec![ack(), err(libc::ENOMEM), ack(), err(libc::ENOENT)]);
        assert!(matches!(&got[0], Outcome::Failed(ProbeError::Os { op: "NFT_MSG_NEWCHAIN", .. })), "{got:?}");
    }

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace().map(|b| u8::from_str_radix(b, 16).unwrap()).collect()
    }

    /// Decodes one captured ACK datagram for the message sent with `seq`.
    fn decode(datagram: &str, seq: u32) -> Answer {
        let bytes = hex(datagram);
        let mut ex = crate::probe::exchange::Exchange::new(seq, u16::MAX);
        ex.feed(&bytes).unwrap().expect("a complete answer")
    }

    /// ACKs captured from Linux 6.18 (NETLINK_EXT_ACK and NETLINK_CAP_ACK
    /// on) for a validate-only batch — NEWTABLE, NEWCHAIN, NEWRULE with a
    /// `queue` expression, which that kernel lacks — and for a table in
    /// family 99 (EOPNOTSUPP, then ENOENT for its chain).
    #[test]
    fn acks_captured_from_the_kernel() {
        let table = decode(
            "24 00 00 00 02 00 00 01 01 00 00 00 13 36 00 00 00 00 00 00 24 00 00 00 00 0a 05 00 01 00 00 00 00 00 00 00",
            1,
        );
        let chain = decode(
            "24 00 00 00 02 00 00 01 02 00 00 00 13 36 00 00 00 00 00 00 24 00 00 00 03 0a 05 04 02 00 00 00 00 00 00 00",
            2,
        );
        let rule = decode(
            "2c 00 00 00 02 00 00 03 03 00 00 00 13 36 00 00 fe ff ff ff 4c 00 00 00 06 0a 05 0c 03 00 00 00 00 00 00 00 08 00 02 00 28 00 00 00",
            3,
        );
        assert_eq!((&table, &chain), (&Answer::BareAck, &Answer::BareAck));
        let Answer::Error { errno, ext_ack } = &rule else { panic!("{rule:?}") };
        assert_eq!(
            (*errno, ext_ack.offset),
            (libc::ENOENT, Some(0x28)),
            "the offset points at the expression"
        );
        // The same three answers, as the plan reads them.
        let got = run(Family::Ipv4, &["expr:queue"], vec![table.clone(), chain, Answer::BareAck, rule]);
        assert_eq!(got, [Outcome::NotRegistered]);

        let refused = decode(
            "24 00 00 00 02 00 00 01 01 00 00 00 0e 3b 00 00 a1 ff ff ff 1c 00 00 00 00 0a 05 04 01 00 00 00 00 00 00 00",
            1,
        );
        let orphan = decode(
            "2c 00 00 00 02 00 00 03 02 00 00 00 0e 3b 00 00 fe ff ff ff 24 00 00 00 03 0a 05 04 02 00 00 00 00 00 00 00 08 00 02 00 14 00 00 00",
            2,
        );
        assert!(matches!(refused, Answer::Error { errno: libc::EOPNOTSUPP, .. }));
        let got = run(Family::Netdev, &["family:netdev"], vec![refused, orphan.clone(), orphan]);
        assert_eq!(got, [Outcome::NotRegistered]);
    }

    #[test]
    fn batches_respect_the_limit_and_repeat_the_scaffold() {
        let qs: Vec<(Family, Question)> = (0..40)
            .map(|i| (if i % 2 == 0 { Family::Ipv4 } else { Family::Ipv6 }, q("expr:lookup")))
            .collect();
        let batches = plan_with(&qs, &names(), 16);
        let mut seen = Vec::new();
        for b in &batches {
            assert!(b.messages.len() <= 16);
            for g in &b.groups {
                assert!(matches!(b.messages[g.table].1, Message::Table { .. }));
                assert_eq!(b.messages[g.table].0, g.family);
                for s in &g.slots {
                    assert_eq!(qs[s.index].0, g.family);
                    seen.push(s.index);
                }
            }
        }
        seen.sort();
        assert_eq!(seen, (0..40).collect::<Vec<_>>(), "every question once");
    }

    #[test]
    fn every_message_fits_a_receive_slot_when_echoed() {
        // An error ACK echoes the request: the largest message plus the
        // nlmsgerr header and an extended ACK must fit 512 bytes.
        let mut qs: Vec<(Family, Question)> = Vec::new();
        for &f in &Family::ALL {
            qs.push((f, Question::Family));
            for r in recipe::EXPRS.iter().filter(|r| r.applies(f)) {
                qs.push((f, Question::Expr(r)));
            }
            for t in recipe::CHAIN_TYPES.iter() {
                qs.push((f, Question::Chain(t)));
            }
            for s in recipe::SET_FEATURES {
                qs.push((f, Question::Set(s)));
            }
        }
        let names = Names::for_pid(u32::MAX);
        for b in plan(&qs, &names) {
            for (seq, (f, m)) in b.messages.iter().enumerate() {
                let len = m.emit(*f, seq as u32).len();
                assert!(len + 20 + 160 <= 512, "{m:?}: {len} bytes");
            }
        }
    }
}
