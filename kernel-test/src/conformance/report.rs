//! The conformance report: per run and test file, how often xtprobe and the
//! client agreed, every disagreement with what each said, and the verdict.

use std::collections::BTreeMap;

use super::known::{Kind, Known};
use super::{Judged, Layout, Prediction, Verdict};

/// The lowest agreement a run may have (the bar: 99.5 %).
pub const THRESHOLD: f64 = 0.995;

/// Counts of one phase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// Rules where xtprobe and the client agree.
    pub agree: usize,
    /// Rules where they do not (listed ones included).
    pub disagree: usize,
    /// Refusals that are not about the kernel (counted apart).
    pub other: usize,
    /// Rules the run never reached.
    pub not_run: usize,
}

impl Counts {
    /// agree / (agree + disagree); 1 when nothing was judged.
    pub fn agreement(&self) -> f64 {
        let n = self.agree + self.disagree;
        if n == 0 { 1.0 } else { self.agree as f64 / n as f64 }
    }

    fn add(&mut self, o: Counts) {
        self.agree += o.agree;
        self.disagree += o.disagree;
        self.other += o.other;
        self.not_run += o.not_run;
    }
}

/// One finding worth a line in the report.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// `libxt_LED.t:3 INPUT`.
    pub at: String,
    /// The rule.
    pub rule: String,
    /// What happened.
    pub what: String,
    /// The reason, for listed differences.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// One run's report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunReport {
    /// Its name (`host-nft`, `debian-6.12-pruned`).
    pub run: String,
    /// What it ran on.
    pub description: String,
    /// Per test file: before, and after ensure.
    pub files: BTreeMap<String, (Counts, Option<Counts>)>,
    /// All test files.
    pub before: Counts,
    /// After ensure, if the run loads modules.
    pub after: Option<Counts>,
    /// Disagreements the known-differences file does not list: failures.
    pub unlisted: Vec<Finding>,
    /// Disagreements it lists as xtprobe's.
    pub listed: Vec<Finding>,
    /// Refusals not about the kernel, with the client's words.
    pub other: Vec<Finding>,
    /// Rules ensure said were fixed (exit 0) that the client still refused.
    pub ensure_zero_yet_refused: Vec<Finding>,
    /// How many test files ensure fixed entirely (exit 0), of how many.
    pub ensure_zero: (usize, usize),
}

impl RunReport {
    /// Whether the run meets the bar.
    pub fn passed(&self) -> bool {
        self.unlisted.is_empty()
            && self.ensure_zero_yet_refused.is_empty()
            && self.before.not_run == 0
            && self.before.agreement() >= THRESHOLD
            && self.after.is_none_or(|a| a.agreement() >= THRESHOLD && a.not_run == 0)
    }
}

fn describe(p: &Prediction) -> String {
    match p {
        Prediction::Loads => "xtprobe: loads".into(),
        Prediction::Fails(m) => format!("xtprobe: cannot load ({})", m.join("; ")),
        Prediction::NoAnswer(e) => format!("xtprobe gave no answer: {e}"),
    }
}

/// Counts a verdict into `c`, recording findings.
fn tally(
    v: &Verdict,
    at: &str,
    rule: &str,
    entry: Option<&super::known::Entry>,
    c: &mut Counts,
    r: &mut RunReport,
    phase: &str,
) {
    let finding = |what: String, reason: Option<String>| Finding {
        at: at.to_string(),
        rule: rule.to_string(),
        what,
        reason,
    };
    match v {
        Verdict::Agree { .. } => c.agree += 1,
        Verdict::NotRun => c.not_run += 1,
        Verdict::OtherRefusal(text) => {
            c.other += 1;
            r.other.push(finding(
                format!("{phase}: the client refused: {text}"),
                entry.map(|e| e.reason.clone()),
            ));
        }
        Verdict::Disagree { predicted, loaded, client } => {
            let what = format!(
                "{phase}: {}; the client {}",
                describe(predicted),
                if *loaded { "loaded it".to_string() } else { format!("refused: {client}") }
            );
            match entry {
                Some(e) if e.kind == Kind::NotKernel && !loaded => {
                    c.other += 1;
                    r.other.push(finding(what, Some(e.reason.clone())));
                }
                Some(e) => {
                    c.disagree += 1;
                    r.listed.push(finding(what, Some(e.reason.clone())));
                }
                None => {
                    c.disagree += 1;
                    r.unlisted.push(finding(what, None));
                }
            }
        }
    }
}

/// The report of one run.
pub fn build(run: &str, description: &str, l: &Layout, judged: &[Judged], known: &Known) -> RunReport {
    let mut r = RunReport {
        run: run.to_string(),
        description: description.to_string(),
        files: BTreeMap::new(),
        before: Counts::default(),
        after: None,
        unlisted: Vec::new(),
        listed: Vec::new(),
        other: Vec::new(),
        ensure_zero_yet_refused: Vec::new(),
        ensure_zero: (0, 0),
    };
    let mut ensure_codes: BTreeMap<usize, Option<i32>> = BTreeMap::new();
    for j in judged {
        let p = &l.rules[j.rule];
        let test = &l.tests[p.test].name;
        let at = format!("{test}:{} {}", p.rule.line, p.rule.chain);
        let entry = known.find(run, test, &p.rule.text);
        let mut before = Counts::default();
        tally(&j.before, &at, &p.rule.text, entry, &mut before, &mut r, "before");
        let mut after = None;
        if let Some((v, code)) = &j.after {
            let mut a = Counts::default();
            tally(v, &at, &p.rule.text, entry, &mut a, &mut r, "after ensure");
            ensure_codes.insert(p.test, *code);
            let refused_for_kernel = match v {
                Verdict::Disagree { loaded: false, .. } => !entry.is_some_and(|e| e.kind == Kind::NotKernel),
                Verdict::Agree { loaded: false } => true,
                _ => false,
            };
            if *code == Some(0) && refused_for_kernel {
                r.ensure_zero_yet_refused.push(Finding {
                    at: at.clone(),
                    rule: p.rule.text.clone(),
                    what: "ensure exited 0, and the client still refused the rule".into(),
                    reason: None,
                });
            }
            after = Some(a);
        }
        let row = r.files.entry(test.clone()).or_insert((Counts::default(), None));
        row.0.add(before);
        if let Some(a) = after {
            row.1.get_or_insert_with(Counts::default).add(a);
        }
        r.before.add(before);
        if let Some(a) = after {
            r.after.get_or_insert_with(Counts::default).add(a);
        }
    }
    r.ensure_zero = (ensure_codes.values().filter(|c| **c == Some(0)).count(), ensure_codes.len());
    r
}

fn pct(c: &Counts) -> String {
    format!("{:.2} % ({} of {})", c.agreement() * 100.0, c.agree, c.agree + c.disagree)
}

/// The report as Markdown.
pub fn markdown(reports: &[RunReport]) -> String {
    let mut out = String::from("# xtprobe against iptables' own tests\n\n");
    out.push_str("| run | before: agreement | after ensure: agreement | not the kernel's | ensure exit 0 yet refused | verdict |\n|---|---|---|---|---|---|\n");
    for r in reports {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            r.run,
            pct(&r.before),
            r.after.as_ref().map(pct).unwrap_or_else(|| "—".into()),
            r.before.other,
            r.ensure_zero_yet_refused.len(),
            if r.passed() { "pass" } else { "FAIL" }
        ));
    }
    for r in reports {
        out.push_str(&format!("\n## {}\n\n{}\n\n", r.run, r.description));
        out.push_str("| test file | agree | disagree | not the kernel's | after: agree | after: disagree |\n|---|---|---|---|---|---|\n");
        for (f, (b, a)) in &r.files {
            out.push_str(&format!(
                "| {f} | {} | {} | {} | {} | {} |\n",
                b.agree,
                b.disagree,
                b.other,
                a.map(|a| a.agree.to_string()).unwrap_or_else(|| "—".into()),
                a.map(|a| a.disagree.to_string()).unwrap_or_else(|| "—".into())
            ));
        }
        for (title, list) in [
            ("Disagreements not listed (failures)", &r.unlisted),
            ("ensure exited 0, yet the client refused", &r.ensure_zero_yet_refused),
            ("Listed differences", &r.listed),
            ("Refusals that are not about the kernel", &r.other),
        ] {
            if list.is_empty() {
                continue;
            }
            out.push_str(&format!("\n### {title}\n\n"));
            for f in list {
                out.push_str(&format!("- `{}` `{}`: {}", f.at, f.rule, f.what));
                if let Some(reason) = &f.reason {
                    out.push_str(&format!(" — {reason}"));
                }
                out.push('\n');
            }
        }
    }
    out
}

/// One line per run, for the terminal.
pub fn summary(r: &RunReport) -> String {
    format!(
        "{}: before {}{}; {} not the kernel's; {} unlisted; {}",
        r.run,
        pct(&r.before),
        r.after
            .as_ref()
            .map(|a| format!(
                ", after ensure {}, ensure fixed {} of {} test files",
                pct(a),
                r.ensure_zero.0,
                r.ensure_zero.1
            ))
            .unwrap_or_default(),
        r.before.other,
        r.unlisted.len() + r.ensure_zero_yet_refused.len(),
        if r.passed() { "pass" } else { "FAIL" }
    )
}
