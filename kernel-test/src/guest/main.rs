//! The guest's `/init`: a static binary, the only process the kernel
//! starts. It mounts `/proc`, `/sys` and `/dev`, runs the steps of
//! `/xtp/case.json` one after another (a step's commands in parallel),
//! prints every output line and exit status behind this boot's nonce, and
//! reboots. With `-no-reboot`, QEMU then exits.
//!
//! It never exits on its own: an init that exits panics the kernel, which
//! the host would see only as a missing `done` line. So every error is
//! printed and the machine rebooted.

use std::io::{BufRead, BufReader, Write};
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};

use kernel_test::protocol::{self, CASE_PATH, Event, GuestCase, NONCE_KEY};

fn main() {
    let nonce = setup();
    let out = Arc::new(Mutex::new(std::io::stdout()));
    match load_case() {
        Ok(case) => run_case(&case, &nonce, &out),
        Err(e) => {
            let mut o = out.lock().unwrap();
            let _ = writeln!(o, "guest-init: {e}");
        }
    }
    emit(&out, &nonce, &Event::Done);
    finish();
}

/// Mounts the pseudo file systems and returns the nonce.
fn setup() -> String {
    use nix::mount::{MsFlags, mount};
    for (src, dir, fstype) in
        [("proc", "/proc", "proc"), ("sysfs", "/sys", "sysfs"), ("devtmpfs", "/dev", "devtmpfs")]
    {
        let _ = std::fs::create_dir_all(dir);
        if let Err(e) = mount(Some(src), dir, Some(fstype), MsFlags::empty(), None::<&str>) {
            if e != nix::errno::Errno::EBUSY {
                println!("guest-init: mounting {dir}: {e}");
            }
        }
    }
    let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
    cmdline
        .split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{NONCE_KEY}=")))
        .unwrap_or("missing-nonce")
        .to_string()
}

fn load_case() -> Result<GuestCase, String> {
    let text = std::fs::read_to_string(CASE_PATH).map_err(|e| format!("{CASE_PATH}: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("{CASE_PATH}: {e}"))
}

fn emit(out: &Arc<Mutex<std::io::Stdout>>, nonce: &str, event: &Event) {
    let mut o = out.lock().unwrap_or_else(|p| p.into_inner());
    let _ = writeln!(o, "{}", protocol::format(nonce, event));
    let _ = o.flush();
}

fn run_case(case: &GuestCase, nonce: &str, out: &Arc<Mutex<std::io::Stdout>>) {
    for (key, value) in &case.sysctl {
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        if let Err(e) = std::fs::write(&path, value) {
            let mut o = out.lock().unwrap_or_else(|p| p.into_inner());
            let _ = writeln!(o, "guest-init: sysctl {key}={value}: {e}");
        }
    }
    if case.unmount_proc {
        // An early initramfs: /proc not mounted yet.
        if let Err(e) = nix::mount::umount("/proc") {
            let mut o = out.lock().unwrap_or_else(|p| p.into_inner());
            let _ = writeln!(o, "guest-init: umount /proc: {e}");
        }
    }
    if case.shell {
        let mut o = out.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(o, "guest-init: a shell on the console; exit it (or Ctrl-A X) to end the VM");
        drop(o);
        let code = match spawn_console(&["/bin/sh".to_string()], &case.env) {
            Ok(child) => wait(child),
            Err(e) => {
                println!("guest-init: cannot start /bin/sh: {e}");
                127
            }
        };
        let _ = code;
        return;
    }
    // Whether each step ran and failed, for the steps that run only then.
    let mut failed_steps: Vec<bool> = Vec::with_capacity(case.steps.len());
    for (i, step) in case.steps.iter().enumerate() {
        if let Some(n) = step.if_failed {
            if !failed_steps.get(n).copied().unwrap_or(false) {
                failed_steps.push(false);
                continue;
            }
        }
        let parallel = step.commands.len() > 1;
        let handles: Vec<_> = step
            .commands
            .iter()
            .enumerate()
            .map(|(j, argv)| {
                let id = if parallel { format!("{i}.{j}") } else { i.to_string() };
                let argv = argv.clone();
                let env = case.env.clone();
                let out = Arc::clone(out);
                let nonce = nonce.to_string();
                std::thread::spawn(move || run_command(&id, &argv, &env, &nonce, &out))
            })
            .collect();
        let (mut failed, mut unexpected) = (false, false);
        let expect = step.expect.unwrap_or_default();
        for h in handles {
            let code = h.join().unwrap_or(-1);
            failed |= code != 0;
            unexpected |= !expect.accepts(code);
        }
        failed_steps.push(failed);
        if unexpected && case.stop_on_failure {
            break;
        }
    }
}

/// Runs one command with stdout and stderr merged into one pipe, echoing
/// each line as it comes.
fn run_command(
    id: &str,
    argv: &[String],
    env: &[(String, String)],
    nonce: &str,
    out: &Arc<Mutex<std::io::Stdout>>,
) -> i32 {
    emit(out, nonce, &Event::Begin(id.to_string()));
    let code = match spawn(argv, env) {
        Ok((child, reader)) => {
            for line in BufReader::new(std::fs::File::from(reader)).split(b'\n') {
                let Ok(line) = line else { break };
                let text = String::from_utf8_lossy(&line).trim_end_matches('\r').to_string();
                emit(out, nonce, &Event::Out(id.to_string(), text));
            }
            wait(child)
        }
        Err(e) => {
            emit(out, nonce, &Event::Out(id.to_string(), format!("guest-init: cannot run {argv:?}: {e}")));
            127
        }
    };
    emit(out, nonce, &Event::Exit(id.to_string(), code));
    code
}

const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// fork + execve, by hand: `std::process` wants an AF_UNIX socket pair,
/// which minimal kernels (tinyconfig, no CONFIG_UNIX) do not have.
fn spawn(argv: &[String], env: &[(String, String)]) -> std::io::Result<(nix::unistd::Pid, OwnedFd)> {
    use nix::fcntl::{OFlag, open};
    use nix::sys::stat::Mode;
    use nix::unistd::{ForkResult, execve, fork, pipe2};
    use std::ffi::CString;

    let program = argv.first().ok_or_else(|| std::io::Error::other("empty command"))?;
    let path = if program.contains('/') {
        std::path::PathBuf::from(program)
    } else {
        PATH.split(':')
            .map(|d| std::path::Path::new(d).join(program))
            .find(|p| p.is_file())
            .ok_or_else(|| std::io::Error::other(format!("{program}: not found in {PATH}")))?
    };
    let cstr = |s: &str| CString::new(s).map_err(|_| std::io::Error::other("NUL in argument"));
    let c_path = cstr(&path.to_string_lossy())?;
    let c_args = argv.iter().map(|a| cstr(a)).collect::<std::io::Result<Vec<_>>>()?;
    let mut c_env = vec![cstr(&format!("PATH={PATH}"))?];
    for (k, v) in env {
        c_env.push(cstr(&format!("{k}={v}"))?);
    }
    let (read, write) = pipe2(OFlag::O_CLOEXEC).map_err(std::io::Error::from)?;
    let null =
        open("/dev/null", OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty()).map_err(std::io::Error::from)?;
    // SAFETY: the child only calls async-signal-safe functions (dup2,
    // execve, _exit) on data prepared before the fork.
    match unsafe { fork() }.map_err(std::io::Error::from)? {
        ForkResult::Child => {
            use std::os::fd::AsRawFd;
            unsafe {
                libc::dup2(null.as_raw_fd(), 0);
                libc::dup2(write.as_raw_fd(), 1);
                libc::dup2(write.as_raw_fd(), 2);
            }
            let _ = execve(&c_path, &c_args, &c_env);
            unsafe { libc::_exit(127) }
        }
        ForkResult::Parent { child } => {
            drop(write);
            Ok((child, read))
        }
    }
}

/// fork + execve with the console as stdin, stdout and stderr (and a new
/// session with it as the controlling terminal), for an interactive shell.
fn spawn_console(argv: &[String], env: &[(String, String)]) -> std::io::Result<nix::unistd::Pid> {
    use nix::fcntl::{OFlag, open};
    use nix::sys::stat::Mode;
    use nix::unistd::{ForkResult, execve, fork};
    use std::ffi::CString;
    let cstr = |s: &str| CString::new(s).map_err(|_| std::io::Error::other("NUL in argument"));
    let c_path = cstr(&argv[0])?;
    let c_args = argv.iter().map(|a| cstr(a)).collect::<std::io::Result<Vec<_>>>()?;
    let mut c_env = vec![cstr(&format!("PATH={PATH}"))?, cstr("PS1=guest# ")?];
    for (k, v) in env {
        c_env.push(cstr(&format!("{k}={v}"))?);
    }
    let console = open("/dev/console", OFlag::O_RDWR, Mode::empty()).map_err(std::io::Error::from)?;
    // SAFETY: the child only calls async-signal-safe functions (setsid,
    // ioctl, dup2, execve, _exit) on data prepared before the fork.
    match unsafe { fork() }.map_err(std::io::Error::from)? {
        ForkResult::Child => {
            use std::os::fd::AsRawFd;
            unsafe {
                libc::setsid();
                libc::ioctl(console.as_raw_fd(), libc::TIOCSCTTY, 1);
                for fd in 0..3 {
                    libc::dup2(console.as_raw_fd(), fd);
                }
            }
            let _ = execve(&c_path, &c_args, &c_env);
            unsafe { libc::_exit(127) }
        }
        ForkResult::Parent { child } => Ok(child),
    }
}

/// The child's exit status; 128+N when killed by signal N.
fn wait(child: nix::unistd::Pid) -> i32 {
    use nix::sys::wait::{WaitStatus, waitpid};
    loop {
        match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, code)) => return code,
            Ok(WaitStatus::Signaled(_, sig, _)) => return 128 + sig as i32,
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return 127,
        }
    }
}

/// Flushes and reboots; `-no-reboot` turns this into QEMU exiting.
fn finish() -> ! {
    nix::unistd::sync();
    let _ = nix::sys::reboot::reboot(nix::sys::reboot::RebootMode::RB_AUTOBOOT);
    // Only reached if reboot failed: never return from init.
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}
