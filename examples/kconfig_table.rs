//! Writes the table of netfilter options xtprobe checks in
//! (`src/kconfig/netfilter-6.12.tsv`) from a kernel source tree:
//!
//! ```text
//! cargo run --example kconfig_table -- /usr/src/linux-source-6.12 > src/kconfig/netfilter-6.12.tsv
//! ```
//!
//! One line per option: `NAME<TAB>bool|tristate|other<TAB>depends`, where
//! depends is every condition on it (enclosing `if`s and menus, its own
//! `depends on`) joined with `&&`. A test regenerates it from Debian's
//! linux-source-6.12 and compares.

fn main() {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: kconfig_table LINUX_SOURCE_DIR");
        std::process::exit(2);
    };
    print!("{}", xtprobe::kconfig::deps::table_from_source(std::path::Path::new(&dir)));
}
