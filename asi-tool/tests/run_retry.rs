//! `asi-tool run` against a fake `vng`: a known emulator flake, or a guest
//! that died before its init ran, is booted again and said on stderr; any
//! other oops, and the command's own exit codes, are not.

use std::path::Path;
use std::process::{Command, Output};

mod common;
use common::*;

/// A `vng` that prints `failure` (console lines) and exits 255 on its
/// first `fails` calls, then starts init and exits `code` as the guest
/// command would.
fn fake_vng_lines(bin: &Path, failure: &str, fails: u32, code: i32) {
    std::fs::create_dir_all(bin).unwrap();
    let script = format!(
        "#!/bin/sh\n\
         n=$(cat \"$0.calls\" 2>/dev/null || echo 0)\n\
         n=$((n + 1)); echo $n > \"$0.calls\"\n\
         if [ $n -le {fails} ]; then\n\
         printf '%s\\n' '{failure}'\n\
         exit 255\n\
         fi\n\
         echo '[    2.386968] Run /usr/lib/virtme-ng-init as init process'\n\
         exit {code}\n"
    );
    let vng = bin.join("vng");
    std::fs::write(&vng, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&vng, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A `vng` whose guest oopses with `oops` on the first `fails` calls.
fn fake_vng(bin: &Path, oops: &str, fails: u32) {
    fake_vng_lines(
        bin,
        &format!("[    1.652720] {oops}' '[    1.652755] RIP: 0010:sched_clock_cpu+0x9/0x190"),
        fails,
        7,
    );
}

fn calls(bin: &Path) -> u32 {
    std::fs::read_to_string(bin.join("vng.calls"))
        .map(|s| s.trim().parse().unwrap())
        .unwrap_or(0)
}

fn run(root: &Path, retries: &str) -> Output {
    let path = format!(
        "{}:{}",
        root.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new(BIN)
        .args(["--project"])
        .arg(project())
        .arg("--cache-dir")
        .arg(root.join("cache"))
        .arg("run")
        .arg("--tree")
        .arg(root.join("linux"))
        .args(["--accel", "tcg", "--timeout", "30", "--retries", retries])
        .args(["--", "sh", "-c", "exit 7"])
        .env("PATH", path)
        .output()
        .expect("asi-tool runs")
}

/// A kernel tree and a built image where `asi-tool run` looks for it.
fn setup(root: &Path) {
    kernel_repo(&root.join("linux"));
    let out = run(root, "1");
    assert_eq!(out.status.code(), Some(3), "no image yet: {}", stderr(&out));
    let err = stderr(&out);
    let image = err
        .split_whitespace()
        .find(|w| w.ends_with("bzImage"))
        .unwrap_or_else(|| panic!("the error names the missing image: {err}"));
    assert!(err.contains("asi-tool build"), "{err}");
    std::fs::create_dir_all(Path::new(image).parent().unwrap()).unwrap();
    std::fs::write(image, "not a kernel").unwrap();
}

#[test]
fn a_known_emulator_flake_is_booted_again_and_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    setup(root);
    fake_vng(
        &root.join("bin"),
        "Oops: int3: 0000 [#2] PREEMPT SMP NOPTI",
        1,
    );
    let out = run(root, "1");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(7), "{err}");
    assert_eq!(calls(&root.join("bin")), 2);
    assert!(err.contains("known emulator flake"), "{err}");
    assert!(err.contains("FLAKY: the command ran on attempt 2"), "{err}");
}

#[test]
fn a_guest_that_dies_before_init_is_booted_again() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    setup(root);
    // QEMU segfaulting 1 s into boot: the console just stops.
    fake_vng_lines(
        &root.join("bin"),
        "[    1.000773] pci 0000:00:04.0: BAR 0 [io  0xc080-0xc0bf]",
        1,
        7,
    );
    let out = run(root, "1");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(7), "{err}");
    assert_eq!(calls(&root.join("bin")), 2);
    assert!(err.contains("never started its init"), "{err}");
    assert!(err.contains("FLAKY"), "{err}");
}

#[test]
fn the_commands_own_exit_code_is_never_retried() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    setup(root);
    fake_vng_lines(&root.join("bin"), "unused", 0, 255);
    let out = run(root, "1");
    assert_eq!(out.status.code(), Some(255), "{}", stderr(&out));
    assert_eq!(calls(&root.join("bin")), 1);
    assert!(!stderr(&out).contains("FLAKY"), "{}", stderr(&out));
}

#[test]
fn retries_are_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    setup(root);
    fake_vng(
        &root.join("bin"),
        "Oops: int3: 0000 [#1] PREEMPT SMP NOPTI",
        5,
    );
    let out = run(root, "2");
    assert_eq!(out.status.code(), Some(255), "{}", stderr(&out));
    assert_eq!(calls(&root.join("bin")), 3);
}

#[test]
fn other_oopses_are_the_kernels_and_not_retried() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    setup(root);
    fake_vng(&root.join("bin"), "BUG: unable to handle page fault", 1);
    let out = run(root, "1");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(255), "{err}");
    assert_eq!(calls(&root.join("bin")), 1);
    assert!(err.contains("crashed or warned"), "{err}");
    assert!(!err.contains("FLAKY"), "{err}");
}
