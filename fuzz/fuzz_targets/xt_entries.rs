//! The entries of a legacy xtables table (`*_SO_GET_ENTRIES`), walked for
//! their matches and targets; the first byte picks the family's layout and
//! the second a hook entry point.
#![no_main]
use libfuzzer_sys::fuzz_target;
use xtprobe::probe::Family;
use xtprobe::probe::xt::entries::{layout, walk_entries};

fuzz_target!(|data: &[u8]| {
    let [which, hook, rest @ ..] = data else { return };
    let family = [Family::Ipv4, Family::Ipv6, Family::Arp][usize::from(*which % 3)];
    let l = layout(family).expect("xtables family");
    let _ = walk_entries(&l, "filter", &[(0, "INPUT"), (u32::from(*hook) * 8, "OUTPUT")], rest);
});
