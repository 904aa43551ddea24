//! `asi-tool rebase` / `range-diff` / per-version variants on synthetic
//! kernel-like trees imported into a scratch cache, through the real binary.
//!
//! The queue is written against "6.12.107"; "7.2.1" is imported from a plain
//! directory (one commit, none of 6.12's blobs, like the Debian imports) and
//! differs so that each patch meets one fate:
//!
//! | patch | 7.2.1 | expected |
//! | --- | --- | --- |
//! | 1: mm/a.c line 3 | unchanged | applied |
//! | 2: mm/b.c line 10 | line 12 changed (in the context) | applied (3-way) |
//! | 3: mm/c.c line 5 | the same change | already upstream |
//! | 4: mm/a.c line 30 | line 30 changed differently | conflict |
//! | 5: new mm/new.c | - | not attempted |

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::*;

fn lines(n: usize) -> String {
    (1..=n).map(|i| format!("line {i}\n")).collect()
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{from:?} not in {}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

/// A plain kernel-like directory (no git).
fn plain_tree(dir: &Path, version: &str) {
    let v: Vec<&str> = version.split('.').collect();
    std::fs::create_dir_all(dir.join("scripts")).unwrap();
    std::fs::create_dir_all(dir.join("mm")).unwrap();
    std::fs::write(
        dir.join("Makefile"),
        format!(
            "VERSION = {}\nPATCHLEVEL = {}\nSUBLEVEL = {}\n",
            v[0], v[1], v[2]
        ),
    )
    .unwrap();
    std::fs::write(dir.join("Kconfig"), "# top\n").unwrap();
    std::fs::write(dir.join("scripts/README"), "scripts\n").unwrap();
    for f in ["a", "b", "c"] {
        std::fs::write(dir.join(format!("mm/{f}.c")), lines(40)).unwrap();
    }
}

struct Fixture {
    _tmp: tempfile::TempDir,
    project: PathBuf,
    cache: PathBuf,
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

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "asi-tool {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    fn new_repo(&self) -> PathBuf {
        self.cache.join("kernels/7.2.1/src")
    }

    fn work(&self) -> PathBuf {
        self.cache.join("worktrees/rebase-7.2.1")
    }

    fn report(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.project.join("results/rebase-7.2.1.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    fn outcomes(&self) -> Vec<String> {
        self.report()["patches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["outcome"].as_str().unwrap().to_string())
            .collect()
    }

    /// Drops patch `n` (1-based) from the series.
    fn drop_patch(&self, n: usize) {
        let series = self.project.join("patches/series");
        let text = std::fs::read_to_string(&series).unwrap();
        let name = format!("000{n}-");
        let kept: String = text
            .lines()
            .filter(|l| !l.starts_with(&name))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(&series, kept).unwrap();
    }
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let project = root.join("project");
    std::fs::create_dir_all(project.join("patches")).unwrap();
    std::fs::create_dir_all(project.join("kconfig")).unwrap();
    std::fs::write(project.join("patches/series"), "# The queue.\n").unwrap();
    let f = Fixture {
        project,
        cache: root.join("cache"),
        _tmp: tmp,
    };
    // The base, imported into the cache like a Debian tarball.
    let old = root.join("linux-6.12.107");
    plain_tree(&old, "6.12.107");
    f.ok(&[
        "kernel",
        "fetch",
        "6.12.107",
        "--tree",
        old.to_str().unwrap(),
    ]);
    // The queue, written on a clone of the cached base and exported with the tool.
    let author = root.join("author");
    let base_repo = f.cache.join("kernels/6.12.107/src");
    git(
        &root,
        &[
            "clone",
            "-q",
            base_repo.to_str().unwrap(),
            author.to_str().unwrap(),
        ],
    );
    let base = git(&author, &["rev-parse", "HEAD"]);
    git(&author, &["checkout", "-q", "-b", "work"]);
    for (file, from, to, subject) in [
        ("mm/a.c", "line 3\n", "line 3 patch one\n", "mm: one"),
        ("mm/b.c", "line 10\n", "line 10 patch two\n", "mm: two"),
        ("mm/c.c", "line 5\n", "line 5 patch three\n", "mm: three"),
        ("mm/a.c", "line 30\n", "line 30 patch four\n", "mm: four"),
    ] {
        edit(&author.join(file), from, to);
        git(&author, &["commit", "-q", "-a", "-s", "-m", subject]);
    }
    std::fs::write(author.join("mm/new.c"), "new\n").unwrap();
    git(&author, &["add", "-f", "mm/new.c"]);
    git(&author, &["commit", "-q", "-s", "-m", "mm: five"]);
    f.ok(&[
        "export",
        "--tree",
        author.to_str().unwrap(),
        "--branch",
        "work",
        "--base",
        &base,
    ]);
    // The newer kernel.
    let new = root.join("linux-7.2.1");
    plain_tree(&new, "7.2.1");
    edit(&new.join("mm/b.c"), "line 12\n", "line 12 upstream\n");
    edit(&new.join("mm/c.c"), "line 5\n", "line 5 patch three\n");
    edit(
        &new.join("mm/a.c"),
        "line 30\n",
        "line 30 rewritten upstream\n",
    );
    f.ok(&["kernel", "fetch", "7.2.1", "--tree", new.to_str().unwrap()]);
    f
}

/// `rebase --onto 7.2 --keep-conflict` stops at patch 4 (mm/a.c, whose
/// line 30 upstream rewrote): resolve it by keeping the patch's line.
fn stop_at_patch_four_and_keep_ours(f: &Fixture) {
    let out = f.run(&["rebase", "--onto", "7.2", "--keep-conflict"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let a = f.work().join("mm/a.c");
    let text = std::fs::read_to_string(&a).unwrap();
    let resolved: String = text
        .lines()
        .filter(|l| !l.starts_with("<<<<<<<") && !l.starts_with(">>>>>>>") && *l != "=======")
        .filter(|l| *l != "line 30 rewritten upstream")
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&a, resolved).unwrap();
}

#[test]
fn every_outcome_is_reported_and_a_conflict_leaves_nothing_behind() {
    let f = fixture();
    let head = git(&f.new_repo(), &["rev-parse", "HEAD"]);
    let out = f.run(&["rebase", "--onto", "7.2"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("0002-mm-two.patch"), "{table}");
    assert!(table.contains("applied (3-way)"), "{table}");
    assert!(table.contains("already upstream"), "{table}");
    assert!(table.contains("not attempted"), "{table}");
    assert_eq!(
        f.outcomes(),
        [
            "applied",
            "applied_3way",
            "already_upstream",
            "conflict",
            "not_attempted"
        ]
    );
    let r = f.report();
    assert_eq!(r["onto"], "7.2.1");
    assert_eq!(r["preimages_from"], "6.12.107");
    // The 3-way merge of patch 2 is flagged for review, with its hunk.
    let m = &r["patches"][1]["merged"][0];
    assert_eq!(m["path"], "mm/b.c", "{r}");
    assert!(m["hunks"][0].as_str().unwrap().starts_with("@@ -7,"), "{m}");
    assert!(table.contains("mm/b.c: merged by git, review"), "{table}");
    assert!(r["patches"][0].get("merged").is_none(), "{r}");
    let c = &r["patches"][3]["conflicts"][0];
    assert_eq!(c["path"], "mm/a.c");
    assert!(
        c["hunks"][0].as_str().unwrap().starts_with("@@ -27,"),
        "{c}"
    );
    assert!(!c["markers"].as_array().unwrap().is_empty(), "{c}");
    // Nothing half-applied, no branch, the cached tree itself untouched.
    assert!(git(&f.work(), &["status", "--porcelain"]).is_empty());
    assert_eq!(git(&f.work(), &["rev-parse", "HEAD"]), head);
    assert!(!f.work().join(".git/rebase-apply").exists());
    assert!(git(&f.new_repo(), &["branch", "--list", "asi/*"]).is_empty());
    assert_eq!(git(&f.new_repo(), &["rev-parse", "HEAD"]), head);
    assert_eq!(
        git(&f.new_repo(), &["symbolic-ref", "--short", "HEAD"]),
        "base"
    );
    // --explore goes past the conflict: patch 5 applies; still no branch.
    let out = f.run(&["rebase", "--onto", "7.2", "--explore"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert_eq!(f.outcomes()[3..], ["conflict", "applied"]);
    assert!(git(&f.new_repo(), &["branch", "--list", "asi/*"]).is_empty());
    assert_eq!(git(&f.work(), &["rev-parse", "HEAD"]), head);
    // The same conflict reported through `apply` (one git am -3 of the whole queue).
    let out = f.run(&["apply", "--kernel", "7.2.1"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("0004-mm-four.patch"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_clean_rebase_writes_a_variant_that_apply_and_range_diff_use() {
    let f = fixture();
    f.drop_patch(4);
    let before: Vec<u8> = std::fs::read(f.project.join("patches/0001-mm-one.patch")).unwrap();
    let out = f.ok(&["rebase", "--onto", "7.2", "--write"]);
    assert!(out.contains("variant written"), "{out}");
    assert_eq!(
        f.outcomes(),
        ["applied", "applied_3way", "already_upstream", "applied"]
    );
    let dir = f.project.join("patches/forwardports/7.2");
    let series = std::fs::read_to_string(dir.join("series")).unwrap();
    let names: Vec<&str> = series.lines().filter(|l| !l.starts_with('#')).collect();
    // Patch three is upstream already: the variant drops it.
    assert_eq!(
        names,
        [
            "0001-mm-one.patch",
            "0002-mm-two.patch",
            "0003-mm-five.patch"
        ]
    );
    assert!(series.contains("# from-series: "), "{series}");
    assert!(
        series.contains("0003-mm-three.patch: already upstream"),
        "{series}"
    );
    let p2 = std::fs::read_to_string(dir.join("0002-mm-two.patch")).unwrap();
    assert!(p2.contains("line 12 upstream"), "rebased context: {p2}");
    let base7 = git(&f.new_repo(), &["rev-parse", "v7.2.1"]);
    assert!(p2.contains(&format!("base-commit: {base7}")) || series.contains("7.2.1"));
    // The base queue is untouched, and a branch exists in the cached 7.2.1 repository.
    assert_eq!(
        std::fs::read(f.project.join("patches/0001-mm-one.patch")).unwrap(),
        before
    );
    assert!(!git(&f.new_repo(), &["branch", "--list", "asi/*"]).is_empty());
    // `apply --kernel 7.2.1` picks the variant.
    let out = f.run(&["apply", "--kernel", "7.2.1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("queue for 7.2.1: patches/forwardports/7.2"),
        "{}",
        stderr(&out)
    );
    // 6.12 keeps the base queue.
    let out = f.run(&["apply", "--kernel", "6.12.107"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("queue for 6.12.107: patches\n"),
        "{}",
        stderr(&out)
    );
    // range-diff: same three patches, patch three gone.
    let rd = f.ok(&["range-diff", "--onto", "7.2"]);
    assert!(rd.contains("mm: one"), "{rd}");
    assert!(rd.contains("mm: three"), "{rd}");
    assert!(
        rd.lines()
            .any(|l| l.contains("< -:") && l.ends_with("mm: three")),
        "patch three should be shown as dropped:\n{rd}"
    );
    // Running it again changes nothing.
    let snapshot = std::fs::read_to_string(dir.join("0002-mm-two.patch")).unwrap();
    f.ok(&["rebase", "--onto", "7.2", "--write"]);
    assert_eq!(
        std::fs::read_to_string(dir.join("0002-mm-two.patch")).unwrap(),
        snapshot
    );
    // A variant for the base's own line is refused.
    let out = f.run(&["rebase", "--onto", "6.12.107", "--write"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    // A stale variant is noticed when the base queue changes.
    f.drop_patch(5);
    let out = f.run(&["apply", "--kernel", "7.2.1"]);
    assert!(
        stderr(&out).contains("was made from another patches/"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn keep_conflict_then_continue_writes_the_port() {
    let f = fixture();
    let out = f.run(&["rebase", "--onto", "7.2", "--keep-conflict"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("--continue"), "{}", stderr(&out));
    let a = f.work().join("mm/a.c");
    let text = std::fs::read_to_string(&a).unwrap();
    assert!(text.contains("<<<<<<<"), "{text}");
    // A second start is refused while the port is open.
    let out = f.run(&["rebase", "--onto", "7.2"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("stopped at a conflict"),
        "{}",
        stderr(&out)
    );
    // --continue refuses while conflict markers remain.
    let out = f.run(&["rebase", "--onto", "7.2", "--continue"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("conflict markers are still"),
        "{}",
        stderr(&out)
    );
    // The port: keep upstream's rewrite and add the patch's intent.
    let resolved: String = text
        .lines()
        .filter(|l| !l.starts_with("<<<<<<<") && !l.starts_with(">>>>>>>") && *l != "=======")
        .filter(|l| *l != "line 30 patch four")
        .map(|l| {
            if l == "line 30 rewritten upstream" {
                "line 30 rewritten upstream, ported four\n".to_string()
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(&a, resolved).unwrap();
    let out = f.ok(&["rebase", "--onto", "7.2", "--continue", "--write"]);
    assert!(out.contains("ported by hand"), "{out}");
    assert_eq!(
        f.outcomes(),
        [
            "applied",
            "applied_3way",
            "already_upstream",
            "ported",
            "applied"
        ]
    );
    let dir = f.project.join("patches/forwardports/7.2");
    let series = std::fs::read_to_string(dir.join("series")).unwrap();
    assert_eq!(series.lines().filter(|l| !l.starts_with('#')).count(), 4);
    let four = std::fs::read_to_string(dir.join("0003-mm-four.patch")).unwrap();
    assert!(
        four.contains("+line 30 rewritten upstream, ported four"),
        "{four}"
    );
    assert!(git(&f.work(), &["status", "--porcelain"]).is_empty());
    // Nothing left to continue; --abort is harmless.
    let out = f.run(&["rebase", "--onto", "7.2", "--continue"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    f.ok(&["rebase", "--onto", "7.2", "--abort"]);
}

#[test]
fn abort_drops_a_kept_conflict() {
    let f = fixture();
    let out = f.run(&["rebase", "--onto", "7.2", "--keep-conflict"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    f.ok(&["rebase", "--onto", "7.2", "--abort"]);
    assert!(git(&f.work(), &["status", "--porcelain"]).is_empty());
    let out = f.run(&["rebase", "--onto", "7.2"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
}

#[test]
fn a_port_finished_by_hand_is_taken_as_it_is() {
    let f = fixture();
    stop_at_patch_four_and_keep_ours(&f);
    git(&f.work(), &["add", "-f", "mm/a.c"]);
    git(&f.work(), &["am", "--continue"]);
    git(
        &f.work(),
        &[
            "commit",
            "-q",
            "--amend",
            "-m",
            "mm: four\n\nPorted to 7.2: upstream rewrote line 30; keep ours.",
        ],
    );
    let out = f.ok(&["rebase", "--onto", "7.2", "--continue", "--write"]);
    assert!(out.contains("ported by hand"), "{out}");
    let four = std::fs::read_to_string(
        f.project
            .join("patches/forwardports/7.2/0003-mm-four.patch"),
    )
    .unwrap();
    assert!(
        four.contains("Ported to 7.2: upstream rewrote line 30"),
        "{four}"
    );
}

#[test]
fn a_baseline_gets_its_own_work_tree_and_build_dir() {
    use asi_tool::cache::Cache;
    use asi_tool::pipeline::{baseline_workspace, workspace, TreeSpec};
    let f = fixture();
    let out = f.run(&["apply", "--kernel", "6.12.107"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let tip = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string();
    let cache = Cache::at(&f.cache);
    let spec = TreeSpec::Kernel("6.12.107".into());
    let patched = workspace(&cache, &spec, None).unwrap();
    let base = baseline_workspace(&cache, &spec, None).unwrap();
    assert_eq!(
        base.target.work,
        f.cache.join("worktrees/6.12.107-baseline")
    );
    assert_eq!(base.build, f.cache.join("build/6.12.107-baseline"));
    assert_ne!(base.build, patched.build);
    assert_eq!(
        git(&base.target.work, &["rev-parse", "HEAD"]),
        base.target.base
    );
    // The patched tree still has the queue: no files flipped, nothing to rebuild.
    assert_eq!(git(&patched.target.work, &["rev-parse", "HEAD"]), tip);
    // Used again: the same tree, still on the base.
    let again = baseline_workspace(&cache, &spec, None).unwrap();
    assert_eq!(again.target.work, base.target.work);
}

#[test]
fn a_variant_rebases_onto_another_version_from_its_own_base() {
    let f = fixture();
    f.drop_patch(4);
    f.ok(&["rebase", "--onto", "7.2", "--write"]);
    // A newer kernel that the 7.2 variant applies to as it is.
    let root = f.project.parent().unwrap().to_path_buf();
    let newer = root.join("linux-7.3.1");
    plain_tree(&newer, "7.3.1");
    edit(&newer.join("mm/b.c"), "line 12\n", "line 12 upstream\n");
    edit(&newer.join("mm/c.c"), "line 5\n", "line 5 patch three\n");
    f.ok(&[
        "kernel",
        "fetch",
        "7.3.1",
        "--tree",
        newer.to_str().unwrap(),
    ]);
    let variant = f.project.join("patches/forwardports/7.2");
    let out = f.run(&[
        "rebase",
        "--onto",
        "7.3",
        "--queue",
        variant.to_str().unwrap(),
    ]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("does not apply on its own base"), "{err}");
    let text = std::fs::read_to_string(f.project.join("results/rebase-7.3.1.json")).unwrap();
    let r: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(r["preimages_from"], "7.2.1", "{r}");
}

#[test]
fn continue_write_after_the_last_continue_takes_the_finished_port() {
    let f = fixture();
    stop_at_patch_four_and_keep_ours(&f);
    // The last conflict continued without --write: the port is finished.
    let out = f.ok(&["rebase", "--onto", "7.2", "--continue"]);
    assert!(out.contains("save it with --write"), "{out}");
    let dir = f.project.join("patches/forwardports/7.2");
    assert!(!dir.exists());
    // --continue --write still writes it, from the finished run's report.
    let out = f.run(&["rebase", "--onto", "7.2", "--continue", "--write"]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("finished already"), "{err}");
    let series = std::fs::read_to_string(dir.join("series")).unwrap();
    assert!(
        series.contains("0004-mm-four.patch: ported by hand"),
        "{series}"
    );
    // Once the queue changes, that report no longer describes it.
    f.drop_patch(5);
    let out = f.run(&["rebase", "--onto", "7.2", "--continue", "--write"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no stopped rebase"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn base_patches_after_a_variant_get_the_three_way_fallback() {
    let f = fixture();
    let series = f.project.join("patches/series");
    let full = std::fs::read_to_string(&series).unwrap();
    // A 7.2 variant of patches 1-2 only (patch 2 needs a 3-way merge there).
    for n in [3, 4, 5] {
        f.drop_patch(n);
    }
    f.ok(&["rebase", "--onto", "7.2", "--write"]);
    std::fs::write(&series, &full).unwrap();
    // The variant followed by the base's patches 3-5, which are not ported.
    let variant = f.project.join("patches/forwardports/7.2");
    let mixed = f.project.parent().unwrap().join("mixed");
    std::fs::create_dir_all(&mixed).unwrap();
    let mut names = Vec::new();
    for l in std::fs::read_to_string(variant.join("series"))
        .unwrap()
        .lines()
    {
        if !l.starts_with('#') && !l.is_empty() {
            std::fs::copy(variant.join(l), mixed.join(l)).unwrap();
            names.push(l.to_string());
        }
    }
    for l in full
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        if !["0001-", "0002-"].iter().any(|p| l.starts_with(p)) {
            std::fs::copy(f.project.join("patches").join(l), mixed.join(l)).unwrap();
            names.push(l.to_string());
        }
    }
    std::fs::write(mixed.join("series"), names.join("\n") + "\n").unwrap();
    // A newer kernel nothing was rebased onto yet, where patch 4 conflicts.
    // The mixed queue applies on no cached kernel (patch 3 is upstream in
    // 7.2), so only the base queue's own preimages can make `git am -3`
    // leave conflict markers.
    let newer = f.project.parent().unwrap().join("linux-7.3.1");
    plain_tree(&newer, "7.3.1");
    edit(&newer.join("mm/b.c"), "line 12\n", "line 12 upstream\n");
    edit(&newer.join("mm/c.c"), "line 5\n", "line 5 patch three\n");
    edit(
        &newer.join("mm/a.c"),
        "line 30\n",
        "line 30 rewritten again\n",
    );
    f.ok(&[
        "kernel",
        "fetch",
        "7.3.1",
        "--tree",
        newer.to_str().unwrap(),
    ]);
    let out = f.run(&[
        "rebase",
        "--onto",
        "7.3",
        "--queue",
        mixed.to_str().unwrap(),
        "--keep-conflict",
    ]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    // Patch 4 conflicts with conflict markers to port, not a bare failure.
    let work = f.cache.join("worktrees/rebase-7.3.1");
    let text = std::fs::read_to_string(work.join("mm/a.c")).unwrap();
    assert!(text.contains("<<<<<<<"), "{text}");
    f.ok(&["rebase", "--onto", "7.3", "--abort"]);
}
