//! Helpers the integration tests share: the binary under test, the
//! project checkout, and git with a fixed identity and date.
#![allow(dead_code)] // each test crate uses its own subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_asi-tool");

/// This checkout (the crate lives one level below it).
pub fn project() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the crate has a parent directory")
        .to_path_buf()
}

/// Runs git in `dir` with a fixed author, committer and date; panics with
/// git's stderr on failure; returns trimmed stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Dev One")
        .env("GIT_AUTHOR_EMAIL", "dev@example.org")
        .env("GIT_COMMITTER_NAME", "Dev One")
        .env("GIT_COMMITTER_EMAIL", "dev@example.org")
        .env("GIT_AUTHOR_DATE", "2026-11-01T10:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-11-01T10:00:00Z")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// A project with the real queue's series (not its patches), the real
/// Kconfig fragments and the given manifest.
pub fn project_with_manifest(dir: &Path, manifest: &str) {
    std::fs::create_dir_all(dir.join("patches")).unwrap();
    std::fs::create_dir_all(dir.join("test-vms")).unwrap();
    std::fs::create_dir_all(dir.join("kconfig")).unwrap();
    std::fs::copy(project().join("patches/series"), dir.join("patches/series")).unwrap();
    for f in std::fs::read_dir(project().join("kconfig")).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, dir.join("kconfig").join(f.file_name().unwrap())).unwrap();
    }
    std::fs::write(dir.join("test-vms/manifest.toml"), manifest).unwrap();
}

/// A tiny tree that passes the kernel-tree check.
pub fn kernel_repo(dir: &Path) {
    std::fs::create_dir_all(dir.join("scripts")).unwrap();
    std::fs::create_dir_all(dir.join("mm")).unwrap();
    std::fs::write(
        dir.join("Makefile"),
        "VERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = 0\n",
    )
    .unwrap();
    std::fs::write(dir.join("Kconfig"), "# top\n").unwrap();
    std::fs::write(dir.join("scripts/README"), "scripts\n").unwrap();
    let body: String = (1..=30).map(|i| format!("line {i}\n")).collect();
    std::fs::write(dir.join("mm/asi.c"), &body).unwrap();
    git(dir, &["init", "-q", "-b", "master"]);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "base"]);
}
