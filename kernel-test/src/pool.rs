//! Running cases on a pool of VMs: which cases may run together (waves),
//! in which order (longest first), and the pool itself.
//!
//! A case that uses another's kept output (`files = [["@NAME", …]]`,
//! `kernel_fragment = "@NAME"`) runs in a later wave than the case that
//! keeps it; everything a wave needs built (a kernel rebuilt with a kept
//! fragment) is built before the wave's first VM boots, so no kernel ever
//! builds while a VM runs. Within a wave, the longest cases start first
//! (durations remembered from earlier runs, else estimated), so the pool
//! ends together. Each VM has one vCPU: under TCG a VM is one busy thread,
//! and `-j` VMs use `-j` cores.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::mpsc;

use crate::matrix::Case;

/// The kept names a case uses.
pub fn uses(case: &Case) -> Vec<String> {
    let mut out: Vec<String> = case
        .files
        .iter()
        .filter_map(|(src, _)| src.to_str().and_then(|s| s.strip_prefix('@')).map(String::from))
        .collect();
    out.extend(case.kernel_fragment.as_deref().and_then(|f| f.strip_prefix('@')).map(String::from));
    out
}

/// The wave of each case (0 for cases that use nothing kept): one more
/// than the latest wave among the cases that keep what it uses. Cases are
/// in file order, and a kept name is always kept by an earlier case
/// (`Matrix::load` checks it).
pub fn waves(cases: &[&Case]) -> Vec<usize> {
    let mut keeper: BTreeMap<String, usize> = BTreeMap::new();
    let mut wave = Vec::with_capacity(cases.len());
    for (i, c) in cases.iter().enumerate() {
        let w = uses(c).iter().filter_map(|name| keeper.get(name)).map(|&k| wave[k] + 1).max().unwrap_or(0);
        wave.push(w);
        for s in &c.step {
            if let Some(k) = &s.keep {
                keeper.insert(k.clone(), i);
            }
        }
    }
    wave
}

/// A case's expected wall time: the last run's, else an estimate (Debian
/// kernels boot in seconds, tiny ones in about one).
pub fn estimate(case: &Case, debian: bool, history: &BTreeMap<String, f64>) -> f64 {
    history.get(&case.name).copied().unwrap_or(if debian { 9.0 } else { 1.5 } + 0.3 * case.step.len() as f64)
}

/// The order to start a wave's cases in: longest first, then file order.
pub fn longest_first(indices: &[usize], expected: &[f64]) -> Vec<usize> {
    let mut v = indices.to_vec();
    v.sort_by(|a, b| expected[*b].total_cmp(&expected[*a]).then(a.cmp(b)));
    v
}

/// Runs `work(i)` for every index of `order` on `jobs` threads, handing
/// each result to `done` (on the calling thread) as it comes.
pub fn run<T: Send>(
    order: &[usize],
    jobs: usize,
    work: impl Fn(usize) -> T + Sync,
    mut done: impl FnMut(usize, T),
) {
    let next = Mutex::new(0usize);
    let (tx, rx) = mpsc::channel();
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1).min(order.len().max(1)) {
            let tx = tx.clone();
            let (next, work) = (&next, &work);
            s.spawn(move || {
                loop {
                    let i = {
                        let mut n = next.lock().unwrap_or_else(|e| e.into_inner());
                        let Some(&i) = order.get(*n) else { break };
                        *n += 1;
                        i
                    };
                    if tx.send((i, work(i))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for (i, r) in rx {
            done(i, r);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(text: &str) -> Case {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn waves_follow_kept_outputs() {
        let a = case("name='a'\nkernel='k'\n[[step]]\nrun=['x']\nexit=0\nkeep='p'\n");
        let b = case("name='b'\nkernel='k'\nfiles=[['@p','/p']]\n[[step]]\nrun=['x']\nexit=0\nkeep='q'\n");
        let c = case("name='c'\nkernel='k'\n[[step]]\nrun=['x']\nexit=0\n");
        let d = case("name='d'\nkernel='k'\nkernel_fragment='@q'\n[[step]]\nrun=['x']\nexit=0\n");
        assert_eq!(waves(&[&a, &b, &c, &d]), [0, 1, 0, 2]);
    }

    #[test]
    fn longest_first_then_file_order() {
        assert_eq!(longest_first(&[0, 1, 2, 3], &[1.0, 9.0, 1.0, 3.0]), [1, 3, 0, 2]);
    }

    #[test]
    fn the_pool_runs_everything_once_on_several_threads() {
        let order: Vec<usize> = (0..50).collect();
        let threads = Mutex::new(std::collections::HashSet::new());
        let mut got = Vec::new();
        run(
            &order,
            4,
            |i| {
                threads.lock().unwrap().insert(std::thread::current().id());
                std::thread::sleep(std::time::Duration::from_millis(2));
                i * 2
            },
            |i, r| got.push((i, r)),
        );
        got.sort();
        assert_eq!(got, (0..50).map(|i| (i, i * 2)).collect::<Vec<_>>());
        assert!(threads.lock().unwrap().len() > 1, "ran on one thread only");
    }
}
