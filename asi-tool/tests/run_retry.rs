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

/// A `vng` whose guest starts init, prints `console` (lines) and exits
/// `code` on every call.
fn fake_vng_console(bin: &Path, console: &[&str], code: i32) {
    std::fs::create_dir_all(bin).unwrap();
    let mut script = String::from(
        "#!/bin/sh\n\
         n=$(cat \"$0.calls\" 2>/dev/null || echo 0)\n\
         n=$((n + 1)); echo $n > \"$0.calls\"\n\
         cat <<'CONSOLE'\n\
         [    2.386968] Run /usr/lib/virtme-ng-init as init process\n",
    );
    for l in console {
        script.push_str(l);
        script.push('\n');
    }
    script.push_str(&format!("CONSOLE\nexit {code}\n"));
    let vng = bin.join("vng");
    std::fs::write(&vng, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&vng, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A kernel report on the console makes `run` exit 255 and name the
/// report's first line, even when the command itself exited 0 (a WARN in
/// a boot whose command succeeded); it is not retried.
#[test]
fn a_kernel_report_after_a_successful_command_is_exit_255() {
    for (console, first) in [
        (
            &[
                "[   12.000001] ------------[ cut here ]------------",
                "[   12.000002] WARNING: CPU: 1 PID: 201 at mm/map_exclusive.c:412 mx_pool_put+0x1b4/0x1d0",
                "[   12.000003] Call Trace:",
            ][..],
            "WARNING: CPU: 1 PID: 201 at mm/map_exclusive.c:412 mx_pool_put+0x1b4/0x1d0",
        ),
        (
            &[
                "[   20.101010] ==================================================================",
                "[   20.101234] BUG: KASAN: slab-use-after-free in asi_domain_put+0x3c/0x90",
                "[   20.101301] Read of size 8 at addr ffff888006b1c418 by task kworker/u8:2/57",
            ][..],
            "BUG: KASAN: slab-use-after-free in asi_domain_put+0x3c/0x90",
        ),
        (
            &[
                "[   30.000002] ======================================================",
                "[   30.000003] WARNING: possible circular locking dependency detected",
                "[   30.000004] 6.12.107 #1 Not tainted",
            ][..],
            "WARNING: possible circular locking dependency detected",
        ),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        setup(root);
        fake_vng_console(&root.join("bin"), console, 0);
        let out = run(root, "1");
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(255), "{err}");
        assert_eq!(calls(&root.join("bin")), 1, "{err}");
        assert!(
            err.contains(&format!("crashed or warned: {first}")),
            "{err}"
        );
        assert!(err.contains("vng exited 0"), "{err}");
        assert!(!err.contains("FLAKY"), "{err}");
    }
}

/// The command's own output is not the kernel's: a WARNING or BUG line
/// without a printk timestamp, or a kernel line that only mentions one,
/// leaves the command's exit code alone.
#[test]
fn lines_that_only_look_like_kernel_reports_leave_the_exit_code_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    setup(root);
    fake_vng_console(
        &root.join("bin"),
        &[
            "WARNING: printed by the command",
            "BUG: KASAN: printed by the command",
            "[    0.123456] RETBleed: WARNING: Spectre v2 mitigation leaves CPU vulnerable to RETBleed attacks, data leaks possible!",
        ],
        7,
    );
    let out = run(root, "1");
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    assert!(
        !stderr(&out).contains("crashed or warned"),
        "{}",
        stderr(&out)
    );
}
