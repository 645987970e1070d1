//! The bad-input catalogue: every class of hostile or broken input a root
//! tool at boot meets, each with the exit status and the one-line error a
//! user sees. Commands run in a fresh network namespace; files live in a
//! temporary root. A hang is caught by a deadline and fails the test.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::fixture::{Module, Tree};
use crate::util::*;

/// Runs `cmd`, killing it (and failing the test) if it has not finished
/// within `secs`: a hang must show as a failure, never as a stuck suite.
fn bounded(cmd: &mut Command, secs: u64) -> Output {
    bounded_to(cmd.stdout(Stdio::piped()), secs)
}

/// [`bounded`], with stdout left as the caller set it.
fn bounded_to(cmd: &mut Command, secs: u64) -> Output {
    let mut child =
        cmd.stdin(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    // Drain both pipes while waiting, or a chatty child blocks on a full pipe.
    let drain = |r: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = drain(child.stdout.take().map(|r| Box::new(r) as Box<dyn std::io::Read + Send>));
    let err = drain(child.stderr.take().map(|r| Box::new(r) as Box<dyn std::io::Read + Send>));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let err = err.join().unwrap();
            panic!("{cmd:?} hung for {secs} s (killed); stderr: {}", String::from_utf8_lossy(&err));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output { status, stdout: out.join().unwrap(), stderr: err.join().unwrap() }
}

fn xt() -> Command {
    xtprobe()
}

fn stderr_line(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).trim().to_string()
}

/// stdout and stderr together (`load` reports its errors in its report).
fn said(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn fifo(path: &Path) {
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
}

fn char_device(path: &Path) {
    // The same device as /dev/zero (1, 5): endless bytes if ever read.
    nix::sys::stat::mknod(
        path,
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0o644),
        nix::sys::stat::makedev(1, 5),
    )
    .unwrap();
}

fn tree_with(name: &str) -> Tree {
    let mut t = Tree::new();
    t.add(Module::new(name));
    t
}

// ---- files that are not regular files --------------------------------------

#[test]
fn fifos_are_refused_at_once_never_waited_on() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("p.toml");
    fifo(&f);
    let out = bounded(xt().args(["check", "--profile"]).arg(&f), 20);
    assert_eq!(code(&out), 2, "{out:?}");
    assert!(stderr_line(&out).contains("is a FIFO (named pipe), not a regular file"), "{out:?}");

    let out = bounded(xt().args(["doctor", "--kernel-config"]).arg(&f).arg("comment"), 20);
    assert_eq!(code(&out), 2, "{out:?}");
    assert!(stderr_line(&out).contains("FIFO"), "{out:?}");

    // An index file, and a module that modules.dep lists, as FIFOs.
    for (file, query) in [("modules.alias", "ipt_x"), ("kernel/net/netfilter/fifo_mod.ko", "fifo_mod")] {
        let t = tree_with("real_mod");
        t.write("modules.dep", "kernel/net/netfilter/fifo_mod.ko:\nkernel/net/netfilter/real_mod.ko:\n");
        fifo(&t.dir.join(file));
        let out = bounded(xt().args(["load", "--dry-run", "--modules-dir"]).arg(&t.dir).arg(query), 20);
        assert_eq!(code(&out), 3, "{file}: {out:?}");
        assert!(said(&out).contains("FIFO"), "{file}: {out:?}");
    }
}

#[test]
fn devices_are_refused_so_nothing_reads_dev_zero() {
    let out = bounded(xt().args(["check", "--profile", "/dev/zero"]), 20);
    assert_eq!(code(&out), 2, "{out:?}");
    assert!(stderr_line(&out).contains("/dev/zero: is a character device"), "{out:?}");
    let out = bounded(xt().args(["profiles", "/dev/urandom"]), 20);
    assert_eq!(code(&out), 2, "{out:?}");

    let t = tree_with("m");
    t.write_dep();
    std::fs::remove_file(t.dir.join("modules.dep")).unwrap();
    char_device(&t.dir.join("modules.dep"));
    let out = bounded(xt().args(["load", "--dry-run", "--modules-dir"]).arg(&t.dir).arg("m"), 20);
    assert_eq!(code(&out), 3, "{out:?}");
    assert!(said(&out).contains("modules.dep: is a character device"), "{out:?}");

    // xtprobe.conf as a device: the dry run's merge refuses to read it.
    let t = tree_with("m");
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("etc/modules-load.d")).unwrap();
    char_device(&root.path().join("etc/modules-load.d/xtprobe.conf"));
    let out = bounded(
        xt().args(["load", "--dry-run", "--persist", "--root"])
            .arg(root.path())
            .arg("--modules-dir")
            .arg(&t.dir)
            .arg("m"),
        20,
    );
    assert_eq!(code(&out), 3, "{out:?}");
    assert!(said(&out).contains("is a character device"), "{out:?}");
}

// ---- links ------------------------------------------------------------------

#[test]
fn index_files_linked_out_of_the_modules_directory_are_refused() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("dep"), "kernel/net/netfilter/m.ko:\n").unwrap();
    let t = tree_with("m");
    std::os::unix::fs::symlink(outside.path().join("dep"), t.dir.join("modules.dep")).unwrap();
    let out = bounded(xt().args(["load", "--dry-run", "--modules-dir"]).arg(&t.dir).arg("m"), 20);
    assert_eq!(code(&out), 3, "{out:?}");
    assert!(said(&out).contains("modules.dep: is a symbolic link"), "{out:?}");
}

#[test]
fn a_linked_modules_load_d_is_refused_and_nothing_outside_is_touched() {
    let t = tree_with("m");
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("victim"), "precious\n").unwrap();
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("etc")).unwrap();
    std::os::unix::fs::symlink(outside.path(), root.path().join("etc/modules-load.d")).unwrap();
    let out = bounded(
        xt().args(["load", "--dry-run", "--persist", "--root"])
            .arg(root.path())
            .arg("--modules-dir")
            .arg(&t.dir)
            .arg("m"),
        20,
    );
    assert_eq!(code(&out), 3, "{out:?}");
    assert!(said(&out).contains("modules-load.d: is a symbolic link"), "{out:?}");
    assert_eq!(std::fs::read_to_string(outside.path().join("victim")).unwrap(), "precious\n");
}

// ---- concurrency ------------------------------------------------------------

/// One process of [`fifty_processes_persisting_at_once_lose_nothing`]: it
/// persists the name in `XTPROBE_PERSIST_CHILD` under `XTPROBE_PERSIST_ROOT`.
#[test]
#[ignore = "run by fifty_processes_persisting_at_once_lose_nothing"]
fn persist_child() {
    let (Some(name), Some(root)) =
        (std::env::var_os("XTPROBE_PERSIST_CHILD"), std::env::var_os("XTPROBE_PERSIST_ROOT"))
    else {
        return;
    };
    let name = xtprobe::kmod::ModuleName::new(&name.to_string_lossy());
    xtprobe::kmod::persist::persist(Path::new(&root), &[name]).unwrap();
}

#[test]
fn fifty_processes_persisting_at_once_lose_nothing() {
    let root = tempfile::tempdir().unwrap();
    let me = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..50)
        .map(|i| {
            let mut cmd = Command::new(&me);
            cmd.args(["hostile::persist_child", "--exact", "--ignored", "--quiet"])
                .env("XTPROBE_PERSIST_CHILD", format!("mod_{i}"))
                .env("XTPROBE_PERSIST_ROOT", root.path())
                .stdout(Stdio::null());
            // Half of them under a umask that would make a 0600 file.
            if i % 2 == 0 {
                unsafe {
                    cmd.pre_exec(|| {
                        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
                        Ok(())
                    });
                }
            }
            cmd.spawn().unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let conf = root.path().join("etc/modules-load.d/xtprobe.conf");
    let text = std::fs::read_to_string(&conf).unwrap();
    for i in 0..50 {
        let n = text.lines().filter(|l| *l == format!("mod_{i}")).count();
        assert_eq!(n, 1, "mod_{i} listed {n} times:\n{text}");
    }
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&conf).unwrap().permissions().mode() & 0o777, 0o644);
    let stray: Vec<_> = std::fs::read_dir(conf.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(stray.is_empty(), "temporary files left: {stray:?}");
}

// ---- parsers driven to crash, hang or explode ---------------------------------

#[test]
fn a_deeply_nested_profile_is_an_error_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("deep.toml");
    std::fs::write(&p, format!("required = {}\n", "[".repeat(50_000))).unwrap();
    let out = bounded(xt().args(["check", "--profile"]).arg(&p), 20);
    assert_eq!(code(&out), 2, "{out:?}");
    assert!(stderr_line(&out).contains("nested 17 deep"), "{out:?}");
    std::fs::write(&p, format!("{} = 1\n", vec!["a"; 50_000].join("."))).unwrap();
    let out = bounded(xt().args(["check", "--profile"]).arg(&p), 20);
    assert_eq!(code(&out), 2, "{out:?}");
}

#[test]
fn a_long_modules_dep_chain_is_planned_in_bounded_time_and_memory() {
    // 5 000 modules, each needing the next: a 200 KB file whose closures
    // would hold 12.5 million names if every one were stored.
    let t = Tree::new();
    let n = 5000;
    let mut dep = String::new();
    for i in 0..n {
        let next = if i + 1 < n { format!("kernel/c{}.ko", i + 1) } else { String::new() };
        dep.push_str(&format!("kernel/c{i}.ko: {next}\n"));
        std::fs::create_dir_all(t.dir.join("kernel")).unwrap();
        std::fs::write(t.dir.join(format!("kernel/c{i}.ko")), b"not read: modules.dep says it all").unwrap();
    }
    t.write("modules.dep", &dep);
    t.write("modules.softdep", "# Soft dependencies extracted from modules themselves.\n");
    let mut cmd = Command::new(bin());
    cmd.args(["load", "--dry-run", "--modules-dir"]).arg(&t.dir).arg("c0");
    // 256 MiB of address space is far more than a linear plan needs (it
    // peaks near 20 MB); storing every closure took 700 MB and 40 s here.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit { rlim_cur: 256 << 20, rlim_max: 256 << 20 };
            libc::setrlimit(libc::RLIMIT_AS, &lim);
            Ok(())
        });
    }
    let out = bounded(&mut cmd, 30);
    assert_eq!(code(&out), 0, "{}", stderr_line(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.find("c4999").unwrap();
    let last = text.find("c0 ").or_else(|| text.rfind("c0")).unwrap();
    assert!(first < last, "the deepest dependency comes first");
}

#[test]
fn twenty_thousand_duplicate_ext_arguments_are_asked_and_shown_once() {
    if !live() {
        return;
    }
    let mut args = vec!["check".to_string(), "--json".to_string()];
    for _ in 0..10_000 {
        args.push("comment".into());
        args.push("match:comment".into());
    }
    args.push("--family".into());
    args.push("ipv4,ipv4,ipv6".into());
    let out = bounded(xt().args(&args), 60);
    assert_eq!(code(&out), 0, "{}", stderr_line(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(results(&doc).len(), 2, "one row per family: {doc:#}");
}

#[test]
fn a_corrupt_module_does_not_stop_alias_lookups() {
    // Without modules.alias every alias lookup scans candidates' .modinfo:
    // a corrupt one provides nothing (and is remembered as bad, so the
    // second lookup does not read it again); the answer is "not found",
    // not an error.
    let mut t = Tree::new();
    t.add(Module::new("xt_good").aliases(&["ipt_good"]));
    t.add(Module::new("xt_bad").encoding(crate::fixture::Encoding::CorruptXz));
    let out = bounded(
        xt().args(["load", "--dry-run", "--json", "--modules-dir"])
            .arg(&t.dir)
            .args(["ipt_good", "ipt_good2"]),
        20,
    );
    assert_eq!(code(&out), 1, "ipt_good2 is not provided: {out:?}");
}

// ---- output -------------------------------------------------------------------

#[test]
fn output_that_cannot_be_written_is_exit_3() {
    // A full disk.
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    let out = bounded_to(xt().args(["profiles"]).stdout(full), 20);
    assert_eq!(code(&out), 3, "{out:?}");
    assert!(stderr_line(&out).contains("cannot write the output"), "{out:?}");

    // stdout closed when the process starts.
    let mut cmd = xt();
    cmd.args(["profiles"]);
    unsafe {
        cmd.pre_exec(|| {
            libc::close(1);
            Ok(())
        });
    }
    let out = bounded(&mut cmd, 20);
    assert_eq!(code(&out), 3, "{out:?}");
    assert!(stderr_line(&out).contains("was closed"), "{out:?}");

    // stdout and stderr both gone: still exit 3, never an abort.
    let mut cmd = xt();
    cmd.args(["profiles"]);
    unsafe {
        cmd.pre_exec(|| {
            libc::close(1);
            libc::close(2);
            Ok(())
        });
    }
    let out = bounded(&mut cmd, 20);
    assert_eq!(out.status.code(), Some(3), "{out:?}");

    // A closed pipe is the reader's choice: quiet, status unchanged.
    let mut child = xt().args(["profiles"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(code(&out), 0, "{out:?}");
    assert_eq!(stderr_line(&out), "");
}

#[test]
fn usage_errors_survive_a_closed_stderr() {
    let mut cmd = xt();
    cmd.args(["check", "--bogus"]);
    unsafe {
        cmd.pre_exec(|| {
            libc::close(2);
            Ok(())
        });
    }
    let out = bounded(&mut cmd, 20);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

#[test]
fn control_characters_never_reach_the_terminal_raw() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("evil.toml");
    std::fs::write(&p, "name = \"x\\u001b]0;owned\\u0007\\u001b[2J\"\nrequired = [\"comment\"]\n").unwrap();
    let out = bounded(xt().arg("profiles").arg(&p), 20);
    assert_eq!(code(&out), 0, "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains('\x1b') && !stdout.contains('\x07'), "{stdout:?}");
    assert!(stdout.contains("\\u{1b}]0;owned"), "{stdout}");

    // An EXT argument with escapes: the usage error escapes them.
    let out = bounded(xt().args(["check", "\x1b]0;owned\x07"]), 20);
    assert_eq!(code(&out), 2);
    assert!(!out.stderr.contains(&0x1b), "{:?}", stderr_line(&out));

    // A module file whose name carries a terminal escape.
    let t = tree_with("m");
    t.write("modules.dep", "kernel/\x1b[31mred.ko:\n");
    let out = bounded(xt().args(["load", "--dry-run", "--modules-dir"]).arg(&t.dir).arg("\x1b[31mred"), 20);
    assert!(!out.stderr.contains(&0x1b) && !out.stdout.contains(&0x1b), "{out:?}");
}

// ---- everything else ------------------------------------------------------------

#[test]
fn an_unreadable_subdirectory_is_skipped_with_a_warning() {
    let mut t = Tree::new();
    t.add(Module::new("wanted").in_dir("kernel/a"));
    t.add(Module::new("hidden").in_dir("kernel/b"));
    let b = t.dir.join("kernel/b");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&b, std::fs::Permissions::from_mode(0o000)).unwrap();
    // Root reads anything: take away (from the bounding set, so exec does
    // not give them back) the capabilities that let it.
    let mut cmd = Command::new(bin());
    cmd.args(["load", "--dry-run", "--modules-dir"]).arg(&t.dir).arg("wanted");
    unsafe {
        cmd.pre_exec(|| {
            for cap in [caps::Capability::CAP_DAC_OVERRIDE, caps::Capability::CAP_DAC_READ_SEARCH] {
                caps::drop(None, caps::CapSet::Bounding, cap).map_err(std::io::Error::other)?;
            }
            Ok(())
        });
    }
    let out = bounded(&mut cmd, 20);
    std::fs::set_permissions(&b, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(code(&out), 0, "{out:?}");
    let text = said(&out);
    assert!(text.contains("wanted") && text.contains("skipped") && text.contains("kernel/b"), "{text}");
}

#[test]
fn a_compressed_config_bomb_names_the_config_limit() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("config.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(b"CONFIG_A=y\n").unwrap();
    for _ in 0..(20 << 20) / 4096 {
        enc.write_all(&[b'#'; 4096]).unwrap();
    }
    std::fs::write(&p, enc.finish().unwrap()).unwrap();
    let out = bounded(xt().args(["doctor", "--kernel-config"]).arg(&p).arg("comment"), 30);
    assert_eq!(code(&out), 2, "{out:?}");
    assert!(stderr_line(&out).contains("decompresses to more than 16 MiB"), "{out:?}");
}

// ---- least privilege ------------------------------------------------------------

/// Capabilities go before any file is read: a profile root may read only
/// by overriding file permissions (owned by another user, mode 0600) is
/// refused — CAP_DAC_OVERRIDE is gone — while one root owns is read.
#[test]
fn capabilities_are_dropped_before_any_file_is_read() {
    if !live() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("theirs.toml");
    std::fs::write(&p, "required = [\"comment\"]\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::chown(&p, Some(12345), Some(12345)).unwrap();
    let out = bounded(xt().args(["check", "--profile"]).arg(&p), 20);
    assert_eq!(code(&out), 2, "{out:?}");
    assert!(stderr_line(&out).contains("EACCES"), "{out:?}");
    std::os::unix::fs::chown(&p, Some(0), Some(0)).unwrap();
    let out = bounded(xt().args(["check", "--json", "--profile"]).arg(&p), 20);
    assert_eq!(code(&out), 0, "{out:?}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["privileges"]["kept"], serde_json::json!(["CAP_NET_ADMIN"]));
    // profiles keeps nothing at all.
    std::os::unix::fs::chown(&p, Some(12345), Some(12345)).unwrap();
    let out = bounded(xt().arg("profiles").arg(&p), 20);
    assert_eq!(code(&out), 2, "{out:?}");
}

// ---- modprobe.d ------------------------------------------------------------------

/// A hostile modprobe.d: a FIFO, a device, a directory, a link out of the
/// root, a file over the size cap, binary junk and every malformed line
/// kind. The plan still comes (exit 0, at once), each bad file and line a
/// warning naming it; nothing outside the root is read, and a link to
/// /dev/null masks the vendor file of that name.
#[test]
fn a_hostile_modprobe_d_gives_warnings_with_their_place_never_a_hang() {
    let t = tree_with("xt_recent");
    t.write_dep();
    let root = tempfile::tempdir().unwrap();
    let etc = root.path().join("etc/modprobe.d");
    let usr = root.path().join("usr/lib/modprobe.d");
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::create_dir_all(&usr).unwrap();
    fifo(&etc.join("a-fifo.conf"));
    char_device(&etc.join("b-zero.conf"));
    std::fs::create_dir(etc.join("c-dir.conf")).unwrap();
    // Outside the root, a config that would forbid the module: never read.
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("evil.conf"), "install xt_recent /bin/false\n").unwrap();
    std::os::unix::fs::symlink(outside.path().join("evil.conf"), etc.join("d-out.conf")).unwrap();
    std::fs::write(etc.join("e-big.conf"), vec![b'#'; 2 << 20]).unwrap();
    let mut junk = b"\x00\xff\xfe garbage\n".to_vec();
    junk.extend_from_slice(
        b"options\ninstall xt_recent\nsoftdep xt_recent pre: post:\nalias only_one\nblacklist\n\
          frobnicate xt_recent\noptions xt_recent ip_list_tot=9 \\\n",
    );
    std::fs::write(etc.join("f-junk.conf"), junk).unwrap();
    // The vendor forbids it; /etc masks that file with a link to /dev/null.
    std::fs::write(usr.join("g-vendor.conf"), "install xt_recent /bin/false\n").unwrap();
    std::os::unix::fs::symlink("/dev/null", etc.join("g-vendor.conf")).unwrap();

    let out = bounded(
        xt().args(["load", "--dry-run", "--json", "--modules-dir"])
            .arg(&t.dir)
            .arg("--root")
            .arg(root.path())
            .arg("xt_recent"),
        20,
    );
    assert_eq!(code(&out), 0, "{}", said(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let warnings: Vec<&str> =
        doc["warnings"].as_array().unwrap().iter().map(|w| w.as_str().unwrap()).collect();
    let has = |s: &str| warnings.iter().any(|w| w.starts_with("modprobe.d: ") && w.contains(s));
    for expected in [
        "a-fifo.conf",
        "b-zero.conf",
        "c-dir.conf",
        "d-out.conf",
        "e-big.conf",
        "f-junk.conf:1",
        "f-junk.conf:2",
        "f-junk.conf:3",
        "f-junk.conf:5",
        "f-junk.conf:6",
        "f-junk.conf:7",
    ] {
        assert!(has(expected), "no warning naming {expected}: {warnings:#?}");
    }
    assert!(!has("g-vendor.conf"), "{warnings:#?}");
    // The last line, continued into the end of the file, still counts.
    assert_eq!(doc["plan"][0]["params"], "ip_list_tot=9", "{doc}");
}

// ---- output files (capture -o, check --textfile) ----------------------------------

fn device(path: &Path, major: u64, minor: u64) {
    nix::sys::stat::mknod(
        path,
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0o666),
        nix::sys::stat::makedev(major, minor),
    )
    .unwrap();
}

fn kind(path: &Path) -> std::fs::FileType {
    std::fs::symlink_metadata(path).unwrap().file_type()
}

/// An output that is a device, a FIFO or a link is never replaced by a
/// file: a null device discards, a full one is exit 3, a FIFO without a
/// reader is exit 3 at once, a link is refused; `/dev/stdout` is the
/// descriptor the shell gave; a 255-byte name works; another user's file
/// keeps its owner. (Devices are made in a temporary directory, never the
/// host's /dev.)
#[test]
fn outputs_never_replace_devices_fifos_or_links() {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    device(&d.join("null"), 1, 3);
    device(&d.join("full"), 1, 7);
    fifo(&d.join("fifo"));
    std::os::unix::fs::symlink(d.join("elsewhere"), d.join("link")).unwrap();

    let out = bounded(xt().args(["capture", "-o"]).arg(d.join("null")), 20);
    assert_eq!(code(&out), 0, "{}", said(&out));
    assert!(kind(&d.join("null")).is_char_device(), "a device stays a device");

    let out = bounded(xt().args(["capture", "--json", "-o"]).arg(d.join("full")), 20);
    assert_eq!(code(&out), 3, "{}", said(&out));
    assert!(stderr_line(&out).contains("ENOSPC"), "{}", said(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(doc["output_error"].as_str().unwrap().contains("ENOSPC"), "--json still prints: {doc}");
    assert!(kind(&d.join("full")).is_char_device());

    let out = bounded(xt().args(["capture", "-o"]).arg(d.join("fifo")), 20);
    assert_eq!(code(&out), 3, "{}", said(&out));
    assert!(stderr_line(&out).contains("a FIFO nobody reads"), "{}", said(&out));
    assert!(kind(&d.join("fifo")).is_fifo());

    let out = bounded(xt().args(["capture", "-o"]).arg(d.join("link")), 20);
    assert_eq!(code(&out), 3, "{}", said(&out));
    assert!(stderr_line(&out).contains("symbolic link"), "{}", said(&out));
    assert!(kind(&d.join("link")).is_symlink() && !d.join("elsewhere").exists());

    // --textfile onto a FIFO named *.prom: refused at once, not replaced.
    fifo(&d.join("x.prom"));
    let out = bounded(xt().args(["check", "-q", "--textfile"]).arg(d.join("x.prom")).arg("comment"), 20);
    assert_eq!(code(&out), 3, "{}", said(&out));
    assert!(kind(&d.join("x.prom")).is_fifo());

    // /dev/stdout: the file the shell opened.
    let target = d.join("via-stdout.toml");
    let out = bounded_to(
        xt().args(["capture", "-q", "-o", "/dev/stdout"]).stdout(std::fs::File::create(&target).unwrap()),
        20,
    );
    assert_eq!(code(&out), 0, "{}", said(&out));
    assert!(std::fs::read_to_string(&target).unwrap().starts_with("# Written by `xtprobe capture`"));

    let long = d.join("l".repeat(255));
    let out = bounded(xt().args(["capture", "-q", "-o"]).arg(&long), 20);
    assert_eq!(code(&out), 0, "{}", said(&out));
    assert!(long.is_file());

    let theirs = d.join("theirs.toml");
    std::fs::write(&theirs, "old").unwrap();
    nix::unistd::chown(&theirs, Some(1234.into()), Some(5678.into())).unwrap();
    let out = bounded(xt().args(["capture", "-q", "-o"]).arg(&theirs), 20);
    assert_eq!(code(&out), 0, "{}", said(&out));
    let m = std::fs::metadata(&theirs).unwrap();
    assert_eq!((m.uid(), m.gid(), m.mode() & 0o777), (1234, 5678, 0o644));
    let left: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".tmp") || n.ends_with(".lock"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// A signal while a temporary file exists (each fsync held 2 s by
/// strace) removes it before the process ends by that signal; a
/// temporary file a dead process left is swept by the next write.
#[test]
fn signals_leave_no_temporary_file_and_stale_ones_are_swept() {
    if !live() {
        return;
    }
    if !Path::new("/usr/bin/strace").exists() {
        assert!(std::env::var_os("XTPROBE_REQUIRE_LIVE").is_none(), "strace is missing");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
        // A signal this process ignores (a background job's SIGINT) is
        // ignored by xtprobe too, by design (`nohup`): nothing to test.
        // SAFETY: reading this process's disposition.
        let ignored = unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            libc::sigaction(sig, std::ptr::null(), &mut old) == 0 && old.sa_sigaction == libc::SIG_IGN
        };
        if ignored {
            eprintln!("signal {sig} is ignored here; not sent");
            continue;
        }
        let out_file = d.join("p.toml");
        let mut child = in_fresh_netns(
            Command::new("strace")
                .args([
                    "-f",
                    "-qq",
                    "-o",
                    "/dev/null",
                    "-e",
                    "trace=fsync",
                    "-e",
                    "inject=fsync:delay_enter=2000000",
                ])
                .arg(bin())
                .args(["capture", "-q", "-o"])
                .arg(&out_file),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
        // Wait for the temporary file, then signal xtprobe (strace's child).
        let deadline = Instant::now() + Duration::from_secs(20);
        let tmp = loop {
            let found = std::fs::read_dir(d)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .find(|n| n.ends_with(".tmp"));
            if let Some(t) = found {
                break t;
            }
            assert!(Instant::now() < deadline, "no temporary file appeared");
            std::thread::sleep(Duration::from_millis(10));
        };
        let children = std::fs::read_to_string(format!("/proc/{}/task/{}/children", child.id(), child.id()))
            .unwrap_or_default();
        let pid: i32 =
            children.split_whitespace().next().expect("xtprobe runs under strace").parse().unwrap();
        // SAFETY: a signal to the process this test started.
        unsafe { libc::kill(pid, sig) };
        child.wait().unwrap();
        assert!(!d.join(&tmp).exists(), "signal {sig}: {tmp} left behind");
        assert!(!out_file.exists(), "signal {sig}: interrupted before the rename");
    }

    // A dead process's temporary file, a few minutes old, and a live one's.
    let mut dead = Command::new("true").spawn().unwrap();
    let dead_pid = dead.id();
    dead.wait().unwrap();
    let stale = d.join(format!(".xtprobe.{dead_pid}.0.tmp"));
    let live_one = d.join(format!(".xtprobe.{}.0.tmp", std::process::id()));
    let old_release = d.join(format!(".p.toml.{dead_pid}.3.tmp"));
    for f in [&stale, &live_one, &old_release] {
        std::fs::write(f, "partial").unwrap();
        let old = nix::sys::time::TimeVal::new(1_000_000_000, 0);
        nix::sys::stat::utimes(f.as_path(), &old, &old).unwrap();
    }
    let out = bounded(xt().args(["capture", "-q", "-o"]).arg(d.join("p.toml")), 20);
    assert_eq!(code(&out), 0, "{}", said(&out));
    assert!(!stale.exists() && !old_release.exists(), "a dead process's temporary files are swept");
    assert!(live_one.exists(), "a live process's is not");
}

// ---- Kconfig under --kernel-source ---------------------------------------------

/// A kernel source tree with net/Kconfig set to `text` (and `files`).
fn kernel_source(text: &str, files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("net/netfilter")).unwrap();
    std::fs::write(dir.path().join("net/Kconfig"), text).unwrap();
    for (p, t) in files {
        std::fs::write(dir.path().join(p), t).unwrap();
    }
    dir
}

fn emit(dir: &Path, extra: &[&str]) -> Output {
    bounded(
        xt().args(["doctor", "--emit-kconfig", "--kernel-source"])
            .arg(dir)
            .args(extra)
            .arg("nosuchxtprobematch"),
        30,
    )
}

/// Files that source themselves, a diamond of sources, 50 000 `!` and
/// `(`, 4 000 nested `if`s around 4 000 options, a `source` through `..`
/// and a link out of the tree, a FIFO, a missing file: each ends at once,
/// with the skipped files named, never a hang or a crash.
#[test]
fn hostile_kconfig_trees_end_with_warnings() {
    // Three self-sources: k^16 reads before.
    let d = kernel_source(
        "config NETFILTER\n\tbool\nsource \"net/Kconfig\"\nsource \"net/Kconfig\"\nsource \"net/Kconfig\"\n",
        &[],
    );
    let out = emit(d.path(), &[]);
    assert_eq!(code(&out), 1, "{}", said(&out));
    assert!(said(&out).contains("sources itself"), "{}", said(&out));

    // A diamond 16 deep: 2^16 paths through 32 files; the budget holds.
    let mut files: Vec<(String, String)> = Vec::new();
    for i in 0..16 {
        let next = format!("net/netfilter/k{}", i + 1);
        files.push((
            format!("net/netfilter/k{i}"),
            format!("source \"{next}\"\nsource \"{next}\"\nconfig X{i}\n\tbool\n"),
        ));
    }
    files.push(("net/netfilter/k16".into(), "config LAST\n\tbool\n".into()));
    let refs: Vec<(&str, &str)> = files.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let d = kernel_source("config NETFILTER\n\tbool\nsource \"net/netfilter/k0\"\n", &refs);
    let start = Instant::now();
    let out = emit(d.path(), &[]);
    assert!(start.elapsed() < Duration::from_secs(20), "{:?}", start.elapsed());
    assert!(matches!(code(&out), 1 | 3), "{}", said(&out));

    // Deep expressions.
    let deep = format!(
        "config NETFILTER\n\tbool\nconfig A\n\tbool\n\tdepends on {}B\nconfig C\n\tbool\n\tdepends on {}B\n",
        "!".repeat(50_000),
        "(".repeat(50_000)
    );
    let d = kernel_source(&deep, &[]);
    let out = emit(d.path(), &[]);
    assert_eq!(code(&out), 1, "{}", said(&out));

    // 4 000 nested ifs, an option in each.
    let mut nested = String::from("config NETFILTER\n\tbool\n");
    for i in 0..4000 {
        nested.push_str(&format!("if NETFILTER\nconfig N{i}\n\ttristate\n"));
    }
    nested.push_str(&"endif\n".repeat(4000));
    let d = kernel_source(&nested, &[]);
    let start = Instant::now();
    let out = emit(d.path(), &[]);
    assert_eq!(code(&out), 1, "{}", said(&out));
    assert!(start.elapsed() < Duration::from_secs(5), "{:?}", start.elapsed());

    // Out of the tree, a FIFO, a missing file: named, not followed.
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("Kconfig"), "config OUTSIDE\n\tbool\n").unwrap();
    let d = kernel_source(
        "config NETFILTER\n\tbool\nsource \"net/netfilter/../../../escape\"\nsource \"net/netfilter/link\"\n\
         source \"net/netfilter/fifo\"\nsource \"net/netfilter/missing\"\n",
        &[],
    );
    std::os::unix::fs::symlink(outside.path().join("Kconfig"), d.path().join("net/netfilter/link")).unwrap();
    fifo(&d.path().join("net/netfilter/fifo"));
    let out = emit(d.path(), &["--json"]);
    assert_eq!(code(&out), 1, "{}", said(&out));
    let doc: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", said(&out)));
    let warnings = doc["warnings"].to_string();
    for name in ["escape", "link", "fifo", "missing"] {
        assert!(warnings.contains(name), "{name}: {warnings}");
    }
    assert!(doc["text"].as_str().unwrap().starts_with("# What kernel"), "{doc}");
}

// ---- --rules at scale ---------------------------------------------------------

/// Runs `cmd` with its address space capped at `bytes` (a parse that
/// needs more fails instead of swapping the machine).
fn with_memory_cap(cmd: &mut Command, bytes: u64) -> &mut Command {
    // SAFETY: setrlimit only, between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let lim = libc::rlimit { rlim_cur: bytes, rlim_max: bytes };
            if libc::setrlimit(libc::RLIMIT_AS, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    }
}

/// Saved rulesets at the sizes real nodes reach, and beyond: 120 000
/// chains with a jump to each (quadratic before: 32 s), an `nft -j`
/// document of 55 MB read in 1 GiB of address space (2.3 GB resident
/// before: the whole document as a tree), a million rules likewise, 50 000
/// distinct names (a usage error, not 100 000 questions), and `--timeout`
/// holding while the files are read.
#[test]
fn rules_files_at_scale_stay_linear_and_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut chains =
        String::from("# Generated by iptables-save v1.8.9 (nf_tables)\n*filter\n:INPUT ACCEPT [0:0]\n");
    for i in 0..120_000 {
        chains.push_str(&format!(":C{i} - [0:0]\n"));
    }
    for i in 0..120_000 {
        chains.push_str(&format!("-A INPUT -j C{i}\n"));
    }
    chains.push_str("COMMIT\n");
    std::fs::write(d.join("chains.rules"), chains).unwrap();
    let start = Instant::now();
    let out =
        bounded(xt().args(["check", "-q", "--timeout", "60", "--rules"]).arg(d.join("chains.rules")), 60);
    assert_eq!(code(&out), 0, "{}", said(&out));
    assert!(start.elapsed() < Duration::from_secs(10), "120 000 chains took {:?}", start.elapsed());

    let mut doc = String::from(
        r#"{"nftables": [{"table": {"family": "ip", "name": "t"}}, {"chain": {"family": "ip", "table": "t", "name": "c", "type": "filter", "hook": "input", "prio": 0}}"#,
    );
    for i in 0..160_000u32 {
        doc.push_str(&format!(
            r#", {{"rule": {{"family": "ip", "table": "t", "chain": "c", "handle": {i}, "expr": [{{"match": {{"op": "==", "left": {{"payload": {{"protocol": "ip", "field": "saddr"}}}}, "right": "10.{}.{}.{}"}}}}, {{"match": {{"op": "==", "left": {{"payload": {{"protocol": "tcp", "field": "dport"}}}}, "right": {}}}}}, {{"counter": {{"packets": 0, "bytes": 0}}}}, {{"accept": null}}]}}}}"#,
            (i >> 16) & 255,
            (i >> 8) & 255,
            i & 255,
            i % 65535 + 1
        ));
    }
    doc.push_str("]}");
    assert!(doc.len() > 50 << 20, "{}", doc.len());
    std::fs::write(d.join("big.json"), doc).unwrap();
    let out = bounded(
        with_memory_cap(
            xt().args(["check", "-q", "--timeout", "60", "--rules"]).arg(d.join("big.json")),
            1 << 30,
        ),
        60,
    );
    assert_eq!(code(&out), 0, "{}", said(&out));

    let mut million =
        String::from("# Generated by iptables-save v1.8.9 (nf_tables)\n*filter\n:INPUT ACCEPT [0:0]\n");
    for i in 0..1_000_000u32 {
        million.push_str(&format!(
            "-A INPUT -s 10.{}.{}.{}/32 -j ACCEPT\n",
            (i >> 16) & 255,
            (i >> 8) & 255,
            i & 255
        ));
    }
    million.push_str("COMMIT\n");
    std::fs::write(d.join("million.rules"), million).unwrap();
    let out = bounded(
        with_memory_cap(
            xt().args(["check", "-q", "--timeout", "60", "--rules"]).arg(d.join("million.rules")),
            1 << 30,
        ),
        60,
    );
    assert_eq!(code(&out), 0, "{}", said(&out));

    // --timeout holds while the files are read.
    let start = Instant::now();
    let out = bounded(
        xt().args(["check", "-q", "--timeout", "0.2", "--rules"])
            .arg(d.join("million.rules"))
            .arg("--rules")
            .arg(d.join("big.json")),
        60,
    );
    assert_eq!(code(&out), 3, "{}", said(&out));
    assert!(stderr_line(&out).contains("reading the profile or --rules files"), "{}", said(&out));
    assert!(start.elapsed() < Duration::from_secs(2), "{:?}", start.elapsed());

    let mut names = String::from("*filter\n");
    for i in 0..50_000 {
        names.push_str(&format!("-A INPUT -m xn{i} -j ACCEPT\n"));
    }
    names.push_str("COMMIT\n");
    std::fs::write(d.join("names.rules"), names).unwrap();
    let out = bounded(xt().args(["check", "--output", "npd", "--rules"]).arg(d.join("names.rules")), 30);
    assert_eq!(code(&out), 2, "{}", said(&out));
    assert!(said(&out).contains("at most 4096"), "{}", said(&out));
}

/// Decompression bombs in a module tree: each is a warning, and the scan's
/// memory stays bounded (two workers, as on a 2-core machine, in 384 MiB
/// of address space; the release before needed 534 MB resident).
#[test]
fn module_bombs_cost_bounded_memory() {
    if Command::new("xz").arg("--version").output().is_err() {
        assert!(std::env::var_os("XTPROBE_REQUIRE_LIVE").is_none(), "xz is missing");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("6.12.0");
    std::fs::create_dir_all(tree.join("kernel")).unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg("{ printf '\\177ELF'; head -c 262144000 /dev/zero; } | xz -1 -T1 > \"$1\"")
        .arg("sh")
        .arg(tree.join("kernel/bomb0.ko.xz"))
        .status()
        .unwrap();
    assert!(out.success());
    for i in 1..3 {
        std::fs::copy(tree.join("kernel/bomb0.ko.xz"), tree.join(format!("kernel/bomb{i}.ko.xz"))).unwrap();
    }
    let mut cmd = xt();
    cmd.args(["index", "--dry-run", "--json", "--modules-dir"]).arg(&tree);
    // SAFETY: affinity only, between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            let mut cpus = 0;
            let mut current: libc::cpu_set_t = std::mem::zeroed();
            libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut current);
            for c in 0..libc::CPU_SETSIZE as usize {
                if cpus < 2 && libc::CPU_ISSET(c, &current) {
                    libc::CPU_SET(c, &mut set);
                    cpus += 1;
                }
            }
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
            Ok(())
        });
    }
    let out = bounded(with_memory_cap(&mut cmd, 384 << 20), 60);
    assert_eq!(code(&out), 0, "{}", said(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let warnings = doc["warnings"].to_string();
    assert_eq!(warnings.matches("decompresses to more than 64 MiB").count(), 3, "{warnings}");
}

/// index keeps `.modinfo` entries that come after `vermagic=` (depmod does)
/// and skips, with a warning, module files whose names modules.dep cannot
/// hold (`:`, a newline), so one odd file never makes the index unreadable.
#[test]
fn index_keeps_late_entries_and_skips_unwritable_names() {
    let t = tree_with("xt_plain");
    let late = crate::fixture::elf_with_sections(vec![(
        ".modinfo",
        b"license=GPL\0depends=\0name=xt_late\0vermagic=6.12.0-test SMP\0alias=ipt_late\0".to_vec(),
    )]);
    std::fs::write(t.dir.join("kernel/net/netfilter/xt_late.ko"), late).unwrap();
    std::fs::write(t.dir.join("kernel/net/netfilter/bad:name.ko"), Module::new("bad").bytes()).unwrap();
    std::fs::write(t.dir.join("kernel/net/netfilter/new\nline.ko"), Module::new("new").bytes()).unwrap();
    let out = bounded(xt().args(["index", "--json", "--modules-dir"]).arg(&t.dir), 30);
    assert_eq!(code(&out), 0, "{}", said(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let warnings = doc["warnings"].to_string();
    assert!(warnings.contains("bad:name.ko") && warnings.contains("line.ko"), "{warnings}");
    let alias = std::fs::read_to_string(t.dir.join("modules.alias")).unwrap();
    assert!(alias.contains("alias ipt_late xt_late\n"), "{alias}");
    let out =
        bounded(xt().args(["load", "--dry-run", "--json", "--modules-dir"]).arg(&t.dir).arg("ipt_late"), 30);
    assert_eq!(code(&out), 0, "the index reads back: {}", said(&out));
}

/// 80 000 parameters for one module across modprobe.d lines: merged in
/// linear time (the last value of each key kept), not one search per key.
#[test]
fn a_flood_of_modprobe_d_options_is_merged_in_linear_time() {
    let t = tree_with("xt_recent");
    t.write_dep();
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("etc/modprobe.d")).unwrap();
    let mut text = String::new();
    for line in 0..800 {
        text.push_str("options xt_recent");
        for k in 0..100 {
            text.push_str(&format!(" p{}={line}", line * 100 + k));
        }
        text.push('\n');
    }
    text.push_str("options xt_recent p0=last\n");
    std::fs::write(root.path().join("etc/modprobe.d/flood.conf"), text).unwrap();
    let start = Instant::now();
    let out = bounded(
        xt().args(["load", "--dry-run", "--json", "--modules-dir"])
            .arg(&t.dir)
            .arg("--root")
            .arg(root.path())
            .arg("xt_recent"),
        60,
    );
    assert_eq!(code(&out), 0, "{}", said(&out));
    assert!(start.elapsed() < Duration::from_secs(10), "{:?}", start.elapsed());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let params = doc["plan"][0]["params"].as_str().unwrap();
    assert!(params.starts_with("p0=last p1=0"), "{}", &params[..params.len().min(40)]);
    assert_eq!(params.split(' ').count(), 80_000);
}

/// The fleet outputs keep their contracts with hostile profile names: the
/// npd line is at most 80 bytes and valid UTF-8 (NPD cuts bytes); the
/// Prometheus text on stdout has no raw control character and no terminal
/// escape (node_exporter rejects `\u{1b}`), and labels every series.
#[test]
fn fleet_outputs_keep_their_contracts_with_hostile_names() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("p.toml");
    std::fs::write(&p, format!("name = \"{}\"\nrequired = [\"comment\"]\n", "ü".repeat(60))).unwrap();
    let out = bounded(xt().args(["check", "--output", "npd", "--profile"]).arg(&p), 30);
    let line = String::from_utf8(out.stdout.clone()).expect("valid UTF-8");
    assert!(line.trim_end().len() <= 80, "{} bytes: {line}", line.trim_end().len());

    std::fs::write(&p, "name = \"evil\\u001b[2J\"\nrequired = [\"comment\"]\n").unwrap();
    let out = bounded(xt().args(["check", "--output", "prometheus", "--profile"]).arg(&p), 30);
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(!text.contains('\u{1b}') && !text.contains("\\u{1b}"), "{text}");
    for series in text.lines().filter(|l| !l.starts_with('#')) {
        assert!(series.contains("profile=\"evil\u{fffd}[2J\""), "{series}");
    }
}
