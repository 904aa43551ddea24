//! apply / export / conflict handling on synthetic kernel-like git
//! repositories, through the real `asi-tool` binary.

use std::path::PathBuf;
use std::process::{Command, Output};

mod common;
use common::*;

/// The branch `asi-tool apply` printed (the first word of its stdout).
fn branch_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .expect("apply prints the branch")
        .to_string()
}

struct Fixture {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    /// The user's kernel repository.
    user: PathBuf,
    project: PathBuf,
    cache: PathBuf,
}

/// A project whose queue has two patches, exported from an author's
/// repository with the tool itself.
fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let author = root.join("author");
    kernel_repo(&author);
    let user = root.join("user");
    git(
        &root,
        &[
            "clone",
            "-q",
            author.to_str().unwrap(),
            user.to_str().unwrap(),
        ],
    );
    git(&author, &["checkout", "-q", "-b", "work"]);
    let mut text = std::fs::read_to_string(author.join("mm/asi.c")).unwrap();
    text = text.replace("line 3\n", "line 3 changed by patch one\n");
    std::fs::write(author.join("mm/asi.c"), &text).unwrap();
    git(
        &author,
        &[
            "commit",
            "-q",
            "-a",
            "-s",
            "-m",
            "mm: first change\n\nWhy it matters.",
        ],
    );
    std::fs::write(author.join("mm/new.c"), "new file\n").unwrap();
    text = text.replace("line 20\n", "line 20 changed by patch two\n");
    std::fs::write(author.join("mm/asi.c"), &text).unwrap();
    git(&author, &["add", "-A"]);
    git(&author, &["commit", "-q", "-s", "-m", "mm: second change"]);
    let project = root.join("project");
    std::fs::create_dir_all(project.join("patches")).unwrap();
    std::fs::create_dir_all(project.join("kconfig")).unwrap();
    std::fs::write(project.join("patches/series"), "# The queue.\n").unwrap();
    std::fs::write(project.join("patches/0000-cover-letter.patch"), "cover\n").unwrap();
    let f = Fixture {
        cache: root.join("cache"),
        _tmp: tmp,
        root,
        user,
        project,
    };
    let out = f.run(&[
        "export",
        "--tree",
        author.to_str().unwrap(),
        "--branch",
        "work",
        "--base",
        "master",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    f
}

impl Fixture {
    fn run(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .arg("--project")
            .arg(&self.project)
            .arg("--cache-dir")
            .arg(&self.cache)
            .output()
            .expect("asi-tool runs")
    }

    fn queue_files(&self) -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(self.project.join("patches"))
            .unwrap()
            .flatten()
            .map(|e| {
                (
                    e.file_name().to_string_lossy().to_string(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        v.sort();
        v
    }
}

#[test]
fn apply_makes_a_branch_and_leaves_the_user_checkout_alone() {
    let f = fixture();
    let names: Vec<String> = f.queue_files().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "0000-cover-letter.patch",
            "0001-mm-first-change.patch",
            "0002-mm-second-change.patch",
            "series"
        ]
    );
    let head_before = git(&f.user, &["rev-parse", "HEAD"]);
    let out = f.run(&["apply", "--tree", f.user.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let branch = stdout.split_whitespace().next().unwrap().to_string();
    assert!(branch.starts_with("asi/"), "{stdout}");
    // The user's branch, HEAD and files are untouched.
    assert_eq!(git(&f.user, &["rev-parse", "HEAD"]), head_before);
    assert_eq!(git(&f.user, &["symbolic-ref", "--short", "HEAD"]), "master");
    assert!(git(&f.user, &["status", "--porcelain"]).is_empty());
    assert!(!std::fs::read_to_string(f.user.join("mm/asi.c"))
        .unwrap()
        .contains("patch one"));
    // The branch has both patches on the user's HEAD, with the fixed committer.
    let log = git(
        &f.user,
        &[
            "log",
            "--format=%s|%cn",
            &format!("{head_before}..{branch}"),
        ],
    );
    assert_eq!(log, "mm: second change|asi-tool\nmm: first change|asi-tool");
    // Same queue, same base: same commit ids (apply is reproducible and idempotent).
    let again = f.run(&["apply", "--tree", f.user.to_str().unwrap()]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(String::from_utf8_lossy(&again.stdout), stdout);
    // Without the shortcut (branch gone), git am runs again: same commit ids.
    git(&f.user, &["branch", "-D", &branch]);
    let third = f.run(&["apply", "--tree", f.user.to_str().unwrap()]);
    assert!(third.status.success(), "{}", stderr(&third));
    assert_eq!(String::from_utf8_lossy(&third.stdout), stdout);
}

#[test]
fn export_after_apply_reproduces_the_queue_byte_for_byte() {
    let f = fixture();
    let before = f.queue_files();
    let out = f.run(&["apply", "--tree", f.user.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    // An orphan and a stale patch in the way must not break anything.
    let out = f.run(&["export", "--tree", f.user.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let after = f.queue_files();
    assert_eq!(before.len(), after.len());
    for ((n1, b1), (n2, b2)) in before.iter().zip(&after) {
        assert_eq!(n1, n2);
        assert!(
            b1 == b2,
            "{n1} differs after apply -> export:\n{}\n---\n{}",
            String::from_utf8_lossy(b1),
            String::from_utf8_lossy(b2)
        );
    }
    let first = String::from_utf8_lossy(&after[1].1).to_string();
    assert!(
        first.starts_with("From 0000000000000000000000000000000000000000 "),
        "{first}"
    );
    assert!(first.contains("base-commit: "), "{first}");
}

#[test]
fn a_dirty_tree_is_refused() {
    let f = fixture();
    std::fs::write(f.user.join("mm/asi.c"), "local edit\n").unwrap();
    let out = f.run(&["apply", "--tree", f.user.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let e = stderr(&out);
    assert!(
        e.contains("uncommitted changes") && e.contains("mm/asi.c"),
        "{e}"
    );
    assert_eq!(
        std::fs::read_to_string(f.user.join("mm/asi.c")).unwrap(),
        "local edit\n"
    );
    assert!(git(&f.user, &["branch", "--list", "asi/*"]).is_empty());
}

#[test]
fn a_conflict_names_the_patch_and_files_and_changes_nothing() {
    let f = fixture();
    // Upstream moved on: the user's tree changed the line patch two touches.
    let text = std::fs::read_to_string(f.user.join("mm/asi.c")).unwrap();
    std::fs::write(
        f.user.join("mm/asi.c"),
        text.replace("line 20\n", "line 20 rewritten upstream\n"),
    )
    .unwrap();
    git(&f.user, &["commit", "-q", "-a", "-m", "upstream change"]);
    let head = git(&f.user, &["rev-parse", "HEAD"]);
    let out = f.run(&["apply", "--tree", f.user.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let e = stderr(&out);
    assert!(
        e.contains("patch 2/2 does not apply: 0002-mm-second-change.patch"),
        "{e}"
    );
    assert!(e.contains("mm/asi.c"), "{e}");
    assert!(e.contains("git am --abort"), "{e}");
    assert_eq!(git(&f.user, &["rev-parse", "HEAD"]), head);
    assert!(git(&f.user, &["status", "--porcelain"]).is_empty());
    assert!(git(&f.user, &["branch", "--list", "asi/*"]).is_empty());
    // The work tree is idle again: a second attempt reports the same conflict, not a stale state.
    let out = f.run(&["apply", "--tree", f.user.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
}

#[test]
fn keep_conflict_leaves_it_for_the_user_and_later_runs_say_so() {
    let f = fixture();
    let text = std::fs::read_to_string(f.user.join("mm/asi.c")).unwrap();
    std::fs::write(
        f.user.join("mm/asi.c"),
        text.replace("line 3\n", "line 3 upstream\n"),
    )
    .unwrap();
    git(&f.user, &["commit", "-q", "-a", "-m", "upstream change"]);
    let out = f.run(&[
        "apply",
        "--keep-conflict",
        "--tree",
        f.user.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(4));
    let e = stderr(&out);
    assert!(
        e.contains("patch 1/2") && e.contains("--keep-conflict"),
        "{e}"
    );
    // The user's own checkout is still clean.
    assert!(git(&f.user, &["status", "--porcelain"]).is_empty());
    let out = f.run(&["apply", "--tree", f.user.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("unfinished"), "{}", stderr(&out));
}

#[test]
fn an_existing_different_branch_is_not_rewritten() {
    let f = fixture();
    let out = f.run(&["apply", "--tree", f.user.to_str().unwrap()]);
    assert!(out.status.success());
    let branch = branch_of(&out);
    // The user moves on; the same queue on the new HEAD gives a different result.
    std::fs::write(f.user.join("README"), "x\n").unwrap();
    git(&f.user, &["add", "README"]);
    git(&f.user, &["commit", "-q", "-m", "unrelated"]);
    let tip_before = git(&f.user, &["rev-parse", &branch]);
    let out = f.run(&["apply", "--tree", f.user.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("does not rewrite branches"),
        "{}",
        stderr(&out)
    );
    assert_eq!(git(&f.user, &["rev-parse", &branch]), tip_before);
    let out = f.run(&[
        "apply",
        "--branch",
        "asi/mine",
        "--tree",
        f.user.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn bad_trees_and_queues_get_clear_errors() {
    let f = fixture();
    let plain = f.root.join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    let out = f.run(&["apply", "--tree", plain.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("not a git repository"),
        "{}",
        stderr(&out)
    );

    let notkernel = f.root.join("notkernel");
    std::fs::create_dir_all(&notkernel).unwrap();
    std::fs::write(notkernel.join("x"), "x").unwrap();
    git(&notkernel, &["init", "-q"]);
    git(&notkernel, &["add", "-A"]);
    git(&notkernel, &["commit", "-q", "-m", "x"]);
    let out = f.run(&["apply", "--tree", notkernel.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("not a Linux kernel source tree"),
        "{}",
        stderr(&out)
    );

    let out = f.run(&["apply", "--tree", f.root.join("missing").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));

    // A series line without a file, and a malformed patch.
    let series = f.project.join("patches/series");
    let orig = std::fs::read_to_string(&series).unwrap();
    std::fs::write(&series, format!("{orig}0003-missing.patch\n")).unwrap();
    let out = f.run(&["apply", "--tree", f.user.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("0003-missing.patch cannot be read"),
        "{}",
        stderr(&out)
    );
    std::fs::write(
        f.project.join("patches/0003-missing.patch"),
        "not a patch\n",
    )
    .unwrap();
    let out = f.run(&["apply", "--tree", f.user.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("no mail header"), "{}", stderr(&out));
    assert!(git(&f.user, &["branch", "--list", "asi/*"]).is_empty());

    let out = f.run(&["kernel", "fetch", "six"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not a kernel version"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn no_project_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["apply", "--tree", "/nonexistent"])
        .current_dir(tmp.path())
        .env_remove("ASI_TOOL_PROJECT")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no asi project here"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_wrong_project_dir_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("missing");
    for (dir, says) in [
        (missing.as_path(), "does not exist"),
        (tmp.path(), "not an asi project"),
    ] {
        let out = Command::new(BIN)
            .arg("--project")
            .arg(dir)
            .arg("test")
            .current_dir(tmp.path())
            .env_remove("ASI_TOOL_PROJECT")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains(says), "{}", stderr(&out));
        // Rejected before any work: no results directory was made.
        assert!(!tmp.path().join("results").exists());
    }
}

#[test]
fn apply_makes_the_commits_git_am_makes_and_rewrites_only_what_changed() {
    let f = fixture();
    let base = git(&f.user, &["rev-parse", "HEAD"]);
    let out = f.run(&["apply", "--tree", f.user.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let branch = branch_of(&out);
    let tip = git(&f.user, &["rev-parse", &branch]);
    // The same queue through git am itself, as the fallback runs it.
    let am = f.root.join("am");
    git(
        &f.root,
        &[
            "clone",
            "-q",
            f.user.to_str().unwrap(),
            am.to_str().unwrap(),
        ],
    );
    git(&am, &["checkout", "-q", "--detach", &base]);
    let mut args = vec![
        "-c".to_string(),
        "user.name=asi-tool".to_string(),
        "-c".to_string(),
        "user.email=asi-tool@localhost".to_string(),
        "am".to_string(),
        "--committer-date-is-author-date".to_string(),
    ];
    for name in ["0001-mm-first-change.patch", "0002-mm-second-change.patch"] {
        args.push(f.project.join("patches").join(name).display().to_string());
    }
    let status = Command::new("git")
        .args(&args)
        .current_dir(&am)
        .env("GIT_COMMITTER_NAME", "asi-tool")
        .env("GIT_COMMITTER_EMAIL", "asi-tool@localhost")
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(
        git(&am, &["rev-parse", "HEAD"]),
        tip,
        "same commit ids as git am"
    );
    // A queue change that leaves the tree as it is rewrites no file.
    let work = git(&f.user, &["worktree", "list", "--porcelain"])
        .lines()
        .filter_map(|l| l.strip_prefix("worktree "))
        .map(PathBuf::from)
        .find(|p| p.starts_with(&f.cache))
        .expect("an asi-tool work tree of the user's repository");
    let mtime = |p: &str| std::fs::metadata(work.join(p)).unwrap().modified().unwrap();
    let before = (mtime("mm/asi.c"), mtime("mm/new.c"));
    let p2 = f.project.join("patches/0002-mm-second-change.patch");
    let text = std::fs::read_to_string(&p2).unwrap();
    std::fs::write(
        &p2,
        text.replacen("mm: second change", "mm: second change, reworded", 1),
    )
    .unwrap();
    let out = f.run(&["apply", "--tree", f.user.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let branch2 = branch_of(&out);
    assert_ne!(branch2, branch, "a new series hash");
    assert_eq!(
        git(&work, &["rev-parse", "HEAD"]),
        git(&f.user, &["rev-parse", &branch2])
    );
    assert_eq!((mtime("mm/asi.c"), mtime("mm/new.c")), before);
}
