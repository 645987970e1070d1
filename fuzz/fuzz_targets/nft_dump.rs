//! One message of an nf_tables dump (a table, chain, set, object,
//! flowtable or rule), as `xtprobe capture` decodes it; the first byte
//! picks the message type.
#![no_main]
use libfuzzer_sys::fuzz_target;
use xtprobe::probe::nftables::dump::parse;
use xtprobe::ruleset::Tally;

fuzz_target!(|data: &[u8]| {
    let Some((&which, payload)) = data.split_first() else { return };
    let msg = [0u8, 3, 6, 9, 18, 22][usize::from(which % 6)];
    if let Ok(Some(obj)) = parse(msg, payload) {
        Tally::default().add_object(&obj);
    }
});
