//! The probes ask from a throw-away network namespace: the caller's own
//! sees nothing of them. Checked from a namespace made for the test (the
//! "caller"), on the running kernel.

use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::util::*;

/// Brings this thread's loopback up, as any real namespace has it.
fn lo_up() {
    // SAFETY: a plain ifreq on a socket this function owns.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0);
        assert!(fd >= 0);
        let mut req: libc::ifreq = std::mem::zeroed();
        for (d, s) in req.ifr_name.iter_mut().zip(b"lo\0") {
            *d = *s as libc::c_char;
        }
        assert_eq!(libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req), 0);
        req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        assert_eq!(libc::ioctl(fd, libc::SIOCSIFFLAGS, &req), 0);
        libc::close(fd);
    }
}

/// What the caller's namespace shows afterwards: the conntrack entries it
/// holds, and the legacy tables instantiated in it.
struct Seen {
    conntrack: String,
    entries: usize,
    tables: String,
    reports: Vec<serde_json::Value>,
}

/// In a thread moved into a namespace of its own: `rounds` times, xtprobe
/// asks what registers conntrack hooks (and a legacy nat table) while
/// the thread sends UDP over loopback.
fn probe_from_a_caller(rounds: usize) -> Seen {
    std::thread::spawn(move || {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        lo_up();
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_nonblocking(true).unwrap();
        let mut reports = Vec::new();
        for i in 0..rounds {
            // Children inherit this thread's namespace.
            let mut child = Command::new(bin())
                .args(["check", "--json", "expr:ct", "expr:nat", "expr:masq", "expr:connlimit", "table:nat"])
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let mut port = 0u16;
            while child.try_wait().unwrap().is_none() {
                port = port.wrapping_add(1).max(1024);
                let _ = sock.send_to(&[i as u8], ("127.0.0.1", port));
            }
            let out = child.wait_with_output().unwrap();
            reports.push(serde_json::from_slice(&out.stdout).unwrap());
            std::thread::sleep(Duration::from_millis(5));
        }
        // /proc/thread-self: this thread's namespace, not the process's.
        let conntrack = std::fs::read_to_string("/proc/thread-self/net/nf_conntrack").unwrap_or_default();
        let entries = std::fs::read_to_string("/proc/sys/net/netfilter/nf_conntrack_count")
            .map(|s| s.trim().parse().unwrap())
            .unwrap_or(0);
        let tables = std::fs::read_to_string("/proc/thread-self/net/ip_tables_names").unwrap_or_default();
        Seen { conntrack, entries, tables, reports }
    })
    .join()
    .unwrap()
}

/// The probes of ct, nat, masquerade and connlimit register conntrack
/// hooks in the namespace that asks, and the legacy question for the nat
/// table instantiates it there; from a fresh namespace, the caller's
/// tracks nothing and has no nat table, and the answers are the kernel's.
#[test]
fn the_callers_namespace_sees_nothing_of_the_probes() {
    if !live() {
        return;
    }
    let seen = probe_from_a_caller(20);
    assert!(
        !seen.tables.lines().any(|t| t == "nat"),
        "the caller's namespace has a nat table: {}",
        seen.tables
    );
    assert_eq!(seen.entries, 0, "connections were tracked in the caller's namespace:\n{}", seen.conntrack);
    for doc in &seen.reports {
        assert_eq!(doc["probes"]["namespace"], "fresh", "{doc}");
        // The answers are the kernel's (the registries are global): the
        // same as when asked from the caller's namespace.
        assert!(doc["results"].as_array().unwrap().iter().all(|r| r["status"] != "error"), "{doc}");
    }
}

/// Where a fresh namespace cannot be made (no CAP_SYS_ADMIN, as in most
/// containers), the probes run in the caller's and both the text and the
/// JSON say so; the answers are the same.
#[test]
fn without_cap_sys_admin_the_report_says_where_the_probes_ran() {
    if !live() {
        return;
    }
    let drop_sys_admin = |cmd: &mut Command| {
        use std::os::unix::process::CommandExt;
        // SAFETY: only capability calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                caps::drop(None, caps::CapSet::Bounding, caps::Capability::CAP_SYS_ADMIN)
                    .and_then(|_| caps::drop(None, caps::CapSet::Effective, caps::Capability::CAP_SYS_ADMIN))
                    .and_then(|_| caps::drop(None, caps::CapSet::Permitted, caps::Capability::CAP_SYS_ADMIN))
                    .map_err(|e| std::io::Error::other(e.to_string()))
            });
        }
    };
    let mut cmd = xtprobe();
    drop_sys_admin(cmd.args(["check", "--json", "expr:ct", "comment"]));
    let out = run(&mut cmd);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["probes"]["namespace"], "caller", "{doc}");
    assert!(doc["probes"]["note"].as_str().unwrap().contains("no CAP_SYS_ADMIN"), "{doc}");
    let (_, fresh) = json(&["check", "expr:ct", "comment"]);
    let statuses = |d: &serde_json::Value| -> Vec<String> {
        d["results"].as_array().unwrap().iter().map(|r| r["status"].to_string()).collect()
    };
    assert_eq!(statuses(&doc), statuses(&fresh));

    let mut cmd = xtprobe();
    drop_sys_admin(cmd.args(["check", "expr:ct"]));
    let (stdout, _) = text(&run(&mut cmd));
    assert!(stdout.contains("note: probes ran in this network namespace"), "{stdout}");
}
