//! A modprobe.d file and a kernel command line.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut config = xtprobe::kmod::config::ModprobeConfig::default();
    config.parse_file("fuzz.conf", &text);
    config.parse_cmdline(&text);
    let name = xtprobe::kmod::ModuleName::new("xt_recent");
    let opts: Vec<&str> = config.options_for(&name, Some("ipt_recent")).iter().map(|o| o.options.as_str()).collect();
    let _ = xtprobe::kmod::config::merge_params(&opts, "ip_list_tot=1");
    let _ = config.install_for(&name);
    let _ = config.blacklisted(&name);
    let _ = config.aliases_for("ipt_recent");
    let _ = config.softdep_for(&name);
});
