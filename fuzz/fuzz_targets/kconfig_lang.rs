//! Kconfig files under `--kernel-source`: the language reader (blocks,
//! `source` lines, help texts) and the expression parser.
#![no_main]
use libfuzzer_sys::fuzz_target;
use xtprobe::kconfig::lang;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // The input is every file: net/Kconfig, and whatever it sources.
    let mut read = |_: &str| Ok(text.to_string());
    let parsed = lang::parse("net/Kconfig", &mut read, &|p: &str| p.starts_with("net/"));
    for sym in parsed.symbols.values().take(64) {
        if let Some(e) = lang::parse_expr(&sym.depends()) {
            let _ = lang::needs(&e, &|s: &str| s.len() % 2 == 0);
        }
    }
    for line in text.lines().take(64) {
        let _ = lang::parse_expr(line);
    }
});
