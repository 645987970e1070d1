//! Writes xtprobe's man pages and shell completions, generated from the
//! clap definitions in `src/cli.rs` (never written by hand):
//!
//! ```text
//! cargo run --example docs -- man DIR           xtprobe.1 and xtprobe-<command>.1
//! cargo run --example docs -- completions DIR   xtprobe.bash, _xtprobe (zsh), xtprobe.fish
//! ```
//!
//! An example, not a binary: it is never installed, and its dependencies
//! (clap_mangen, clap_complete) never reach the static xtprobe.

#[allow(dead_code)]
#[path = "../src/cli.rs"]
mod cli;

use std::path::Path;

use clap::CommandFactory;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.as_slice() {
        [what, dir] if what == "man" => man(Path::new(dir)),
        [what, dir] if what == "completions" => completions(Path::new(dir)),
        _ => Err("usage: docs man DIR | docs completions DIR".to_string()),
    };
    if let Err(e) = result {
        eprintln!("docs: {e}");
        std::process::exit(2);
    }
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// `xtprobe(1)` and one page per command (`xtprobe-check(1)`, …), each
/// with its `--help` text: options, examples and exit status.
fn man(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let cmd = cli::Cli::command();
    // clap's names are &'static str here (no "string" feature in the product).
    let version: &'static str = Box::leak(cmd.get_version().unwrap_or_default().to_string().into_boxed_str());
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut out).map_err(|e| e.to_string())?;
    write(&dir.join("xtprobe.1"), &out)?;
    for sub in cmd.get_subcommands() {
        let name: &'static str = Box::leak(format!("xtprobe-{}", sub.get_name()).into_boxed_str());
        let page = sub.clone().name(name).version(version);
        let mut out = Vec::new();
        clap_mangen::Man::new(page).render(&mut out).map_err(|e| e.to_string())?;
        write(&dir.join(format!("{name}.1")), &out)?;
    }
    Ok(())
}

/// bash, zsh and fish completions.
fn completions(dir: &Path) -> Result<(), String> {
    use clap_complete::{Shell, generate};
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for (shell, file) in
        [(Shell::Bash, "xtprobe.bash"), (Shell::Zsh, "_xtprobe"), (Shell::Fish, "xtprobe.fish")]
    {
        let mut out = Vec::new();
        generate(shell, &mut cli::Cli::command(), "xtprobe", &mut out);
        write(&dir.join(file), &out)?;
    }
    Ok(())
}
