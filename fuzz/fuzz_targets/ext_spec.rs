//! The EXT argument grammar (`target:DNAT@2`) and family lists.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for part in text.split([' ', ',']) {
        if let Ok(r) = part.parse::<xtprobe::probe::Requirement>() {
            // What parses must print back to something that parses the same.
            assert_eq!(r.to_string().parse::<xtprobe::probe::Requirement>().ok(), Some(r));
        }
        let _ = xtprobe::probe::Family::parse(part);
    }
});
