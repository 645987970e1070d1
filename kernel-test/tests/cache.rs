//! Two kernel lists sharing one cache: `cache list|prune --kernels LIST`
//! judges only what LIST built, prune asks for `--yes` and refuses while a
//! run uses the cache; and on the real cache (after `just kernels`), an
//! outside user's list calls none of the project's kernels stale.

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_kernel-test");

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kt-cache-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d.canonicalize().unwrap()
}

fn cache(xdg: Option<&Path>, list: &Path, args: &[&str]) -> Output {
    let mut c = Command::new(BIN);
    c.arg("cache").arg("--kernels").arg(list).args(args);
    if let Some(x) = xdg {
        c.env("XDG_CACHE_HOME", x).env_remove("XTPROBE_CACHE");
    }
    c.output().unwrap()
}

/// A list of one prebuilt kernel (nothing of it goes into the cache).
fn prebuilt_list(dir: &Path, name: &str) -> PathBuf {
    std::fs::write(dir.join("bzImage"), b"not booted").unwrap();
    let list = dir.join(name);
    std::fs::write(&list, "[[prebuilt]]\nname = \"mine\"\nbzimage = \"bzImage\"\n").unwrap();
    list
}

#[test]
fn two_lists_share_a_cache_and_prune_keeps_the_others() {
    let dir = tempdir("two");
    let xdg = dir.join("xdg");
    let root = xdg.join("xtprobe");
    let a = prebuilt_list(&dir, "a.toml");
    let b = prebuilt_list(&dir, "b.toml");
    for e in ["kernels/a-old", "kernels/b-1", "kernels/shared", "kernels/nobody", "distro/b-pkg"] {
        std::fs::create_dir_all(root.join(e)).unwrap();
        std::fs::write(root.join(e).join("bzImage"), vec![0u8; 4096]).unwrap();
    }
    let (a_id, b_id) = (a.to_str().unwrap(), b.to_str().unwrap());
    let record = serde_json::json!({
        "kernels/a-old": [a_id],
        "kernels/b-1": [b_id],
        "kernels/shared": [a_id, b_id],
        "distro/b-pkg": [b_id],
    });
    std::fs::write(root.join("owners.json"), record.to_string()).unwrap();

    let out = cache(Some(&xdg), &a, &["list"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let listing = text(&out.stdout);
    let line = |name: &str| listing.lines().find(|l| l.contains(name)).unwrap_or_default().to_string();
    assert!(line("a-old").contains("stale:"), "{listing}");
    assert!(line("b-1").contains(&format!("another list's: {b_id}")), "{listing}");
    assert!(line("b-pkg").contains("another list's"), "{listing}");
    assert!(line("shared").contains("another list's"), "{listing}");
    assert!(line("nobody").contains("no list recorded; kept"), "{listing}");
    assert!(listing.contains("1 stale"), "{listing}");

    // Without --yes prune removes nothing.
    let out = cache(Some(&xdg), &a, &["prune"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    assert!(text(&out.stderr).contains("--yes"), "{}", text(&out.stderr));
    assert!(root.join("kernels/a-old").exists());

    // A run using the cache: prune refuses, and removes nothing.
    let hold = std::fs::File::create(root.join(".use")).unwrap();
    // SAFETY: flock on an open descriptor.
    assert_eq!(unsafe { libc::flock(hold.as_raw_fd(), libc::LOCK_SH) }, 0);
    let out = cache(Some(&xdg), &a, &["prune", "--yes"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    assert!(text(&out.stderr).contains("is using the cache"), "{}", text(&out.stderr));
    assert!(root.join("kernels/a-old").exists());
    drop(hold);

    let out = cache(Some(&xdg), &a, &["prune", "-n"]);
    assert!(text(&out.stdout).contains("would remove") && root.join("kernels/a-old").exists());
    let out = cache(Some(&xdg), &a, &["prune", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("freed") && text(&out.stdout).contains("in 1 entries"),
        "{}",
        text(&out.stdout)
    );
    assert!(!root.join("kernels/a-old").exists());
    for kept in ["kernels/b-1", "kernels/shared", "kernels/nobody", "distro/b-pkg"] {
        assert!(root.join(kept).exists(), "{kept} was removed");
    }
    // A no longer claims the shared kernel; B still does, and B's prune
    // now removes what only B built.
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("owners.json")).unwrap()).unwrap();
    assert_eq!(record["kernels/shared"], serde_json::json!([b_id]), "{record}");
    assert!(record.get("kernels/a-old").is_none(), "{record}");
    let out = cache(Some(&xdg), &b, &["prune", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("in 3 entries"), "{}", text(&out.stdout));
    assert!(root.join("kernels/nobody").exists(), "an unowned entry is kept");

    // What an interrupted prune moved aside is finished by the next.
    std::fs::create_dir_all(root.join("kernels/.x.del.1")).unwrap();
    let out = cache(Some(&xdg), &a, &["prune", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!root.join("kernels/.x.del.1").exists(), "{}", text(&out.stdout));

    // A record that cannot be parsed stops list and prune; it is never
    // taken for an empty one (and written over).
    std::fs::write(root.join("owners.json"), "{\"kernels/nobody\": [").unwrap();
    for args in [&["list"][..], &["prune", "--yes"][..]] {
        let out = cache(Some(&xdg), &a, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out.stdout));
        assert!(text(&out.stderr).contains("owners.json"), "{}", text(&out.stderr));
    }
    assert_eq!(std::fs::read_to_string(root.join("owners.json")).unwrap(), "{\"kernels/nobody\": [");
    assert!(root.join("kernels/nobody").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// The project's cache as `just kernels` left it: every kernel the
/// project's list prepared is recorded as the list's, and an outside
/// user's list (one prebuilt kernel) calls none of them stale.
#[test]
fn an_outside_list_never_calls_the_projects_kernels_stale() {
    let project = "xtprobe"; // vm-images/kernels.toml's name
    let index = kernel_test::kernels::read_index();
    if index.is_empty() {
        assert!(
            std::env::var_os("XTPROBE_REQUIRE_LIVE").is_none(),
            "the cache has no kernels (just kernels)"
        );
        eprintln!("skipped: the cache has no kernels (just kernels)");
        return;
    }
    let record = kernel_test::owners::read().unwrap();
    let root = kernel_test::cache::root();
    for k in &index {
        let entry = kernel_test::owners::entry_of(&root, k.bzimage()).unwrap();
        let who = record.get(&entry).unwrap_or_else(|| panic!("{entry} ({}) has no owner", k.name()));
        assert!(who.contains(project), "{entry}: {who:?}");
    }
    let dir = tempdir("outside");
    let outside = prebuilt_list(&dir, "kernels.toml");
    let out = cache(None, &outside, &["list"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let listing = text(&out.stdout);
    assert!(listing.contains("; 0 stale"), "{listing}");
    assert!(listing.contains("another list's"), "{listing}");
    let out = cache(None, &outside, &["prune", "-n"]);
    assert!(text(&out.stdout).contains("would free 0.0 MiB in 0 entries"), "{}", text(&out.stdout));
    let _ = std::fs::remove_dir_all(&dir);
}

/// One spelling: every subcommand takes the kernel list as `--kernels FILE`
/// (before or after the subcommand's name).
#[test]
fn every_subcommand_takes_the_kernel_list_as_kernels() {
    let dir = tempdir("spelling");
    let list = prebuilt_list(&dir, "mine.toml");
    let l = list.to_str().unwrap();
    for args in [vec!["kernels", "--kernels", l], vec!["--kernels", l, "kernels"]] {
        let out = Command::new(BIN)
            .args(&args)
            .env("XDG_CACHE_HOME", &dir)
            .env_remove("XTPROBE_CACHE")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out.stderr));
        assert!(text(&out.stdout).starts_with("mine "), "{args:?}: {}", text(&out.stdout));
    }
    let out = Command::new(BIN)
        .args(["cache", "key", "--kernels", l])
        .env("XDG_CACHE_HOME", &dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // matrix reads the same list: a case on a kernel it lacks is named.
    let m = dir.join("matrix.toml");
    std::fs::write(
        &m,
        "[[case]]\nname = \"c\"\nkernel = \"nosuch\"\n[[case.step]]\nrun = [\"true\"]\nexit = 0\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["matrix", "--kernels", l, "--matrix", m.to_str().unwrap()])
        .env("XDG_CACHE_HOME", &dir)
        .env_remove("XTPROBE_CACHE")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("nosuch"), "{}", text(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}
