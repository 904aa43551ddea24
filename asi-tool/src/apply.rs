//! Applying the queue to a kernel git tree, and exporting it back.
//!
//! The user's checkout is never touched: the queue is applied in a work
//! tree that asi-tool owns (a `git worktree` of the user's repository under
//! the cache, or the cached kernel's own tree), the result becomes a new
//! branch `asi/<series-hash>`, and on conflict `git am --abort` puts that
//! work tree back where it was. Commits get a fixed committer and the
//! author's date, so the same queue on the same base always gives the same
//! commit ids. The commits are first made in a private index (`git apply
//! --cached`, `git commit-tree`: the commits `git am` makes) and the work
//! tree is then checked out at the result, which rewrites only the files
//! that differ, so a changed queue does not make the next build recompile
//! everything it touches; `git am -3` in the work tree is the fallback
//! when a patch needs a 3-way merge or does not apply.

use crate::cache::Cache;
use crate::cmd;
use crate::error::{fail, Exit};
use crate::queue::{self, Queue};
use anyhow::{Context, Result};
use regex::Regex;
use std::path::{Path, PathBuf};
use std::time::Instant;
use xshell::{cmd, Shell};

pub const COMMITTER_NAME: &str = "asi-tool";
pub const COMMITTER_EMAIL: &str = "asi-tool@localhost";

/// A repository and the work tree in which asi-tool may run `git am`.
#[derive(Debug, Clone)]
pub struct Target {
    /// The repository whose branches receive the result.
    pub repo: PathBuf,
    /// The checkout asi-tool owns; builds run from here.
    pub work: PathBuf,
    /// The commit the queue is applied on.
    pub base: String,
    /// asi-tool owns the repository (a cached kernel) and may move its branches.
    pub owned: bool,
}

#[derive(Debug, Clone, Default)]
pub struct ApplyOptions {
    /// Branch name; default `asi/<first 12 hex of the series hash>`.
    pub branch: Option<String>,
    /// Leave a conflicting `git am` in place for manual resolution.
    pub keep_conflict: bool,
}

#[derive(Debug, Clone)]
pub struct Applied {
    pub branch: String,
    pub base: String,
    pub tip: String,
    pub work: PathBuf,
    pub patches: usize,
    pub seconds: f64,
}

fn shell_in(dir: &Path) -> Result<Shell> {
    let sh = Shell::new().context("cannot create a shell")?;
    sh.change_dir(dir);
    Ok(sh)
}

/// Files with staged or unstaged changes (untracked files do not count).
pub fn dirty_files(repo_dir: &Path) -> Result<Vec<String>> {
    let repo = git2::Repository::open(repo_dir)
        .with_context(|| format!("cannot open git repository {}", repo_dir.display()))?;
    let mut opts = git2::StatusOptions::new();
    opts.include_untracked(false)
        .include_ignored(false)
        .exclude_submodules(true);
    let statuses = repo
        .statuses(Some(&mut opts))
        .with_context(|| format!("cannot read git status of {}", repo_dir.display()))?;
    Ok(statuses
        .iter()
        .filter(|s| s.status() != git2::Status::CURRENT)
        .filter_map(|s| s.path().ok().map(str::to_string))
        .collect())
}

/// Refuses a tree with uncommitted changes, naming a few of them.
pub fn require_clean(repo_dir: &Path, whose: &str) -> Result<()> {
    let dirty = dirty_files(repo_dir)?;
    if dirty.is_empty() {
        return Ok(());
    }
    let shown: Vec<String> = dirty.iter().take(8).map(|f| format!("  {f}")).collect();
    let more = if dirty.len() > 8 {
        format!("\n  ... and {} more", dirty.len() - 8)
    } else {
        String::new()
    };
    Err(fail(
        Exit::Infra,
        format!(
            "{whose} {} has uncommitted changes; asi-tool will not touch it:\n{}{more}\n\
             Commit or stash them (git -C {} stash) and run again.",
            repo_dir.display(),
            shown.join("\n"),
            repo_dir.display()
        ),
    ))
}

/// Resolves a revision to a full commit id.
pub fn resolve(repo_dir: &Path, rev: &str) -> Result<String> {
    let repo = git2::Repository::open(repo_dir)
        .with_context(|| format!("cannot open git repository {}", repo_dir.display()))?;
    let obj = repo
        .revparse_single(rev)
        .with_context(|| format!("no revision {rev:?} in {}", repo_dir.display()))?;
    let commit = obj
        .peel_to_commit()
        .with_context(|| format!("{rev:?} in {} is not a commit", repo_dir.display()))?;
    Ok(commit.id().to_string())
}

/// A target in a user's repository: checks it, then makes (or reuses) the
/// asi-tool worktree for it under the cache.
pub fn user_target(cache: &Cache, repo_dir: &Path, base: Option<&str>) -> Result<Target> {
    let repo_dir = repo_dir
        .canonicalize()
        .with_context(|| format!("kernel tree {} does not exist", repo_dir.display()))?;
    if git2::Repository::open(&repo_dir).is_err() {
        return Err(fail(
            Exit::Infra,
            format!(
                "{} is not a git repository. asi-tool applies the queue with `git am -3` on a \
                 branch; import a plain source tree first: asi-tool kernel fetch VERSION --tree {}",
                repo_dir.display(),
                repo_dir.display()
            ),
        ));
    }
    crate::source::require_kernel_tree(&repo_dir)?;
    require_clean(&repo_dir, "the kernel tree")?;
    let base = resolve(&repo_dir, base.unwrap_or("HEAD"))?;
    let name = worktree_name(&repo_dir);
    let work = cache.worktree(&name);
    ensure_worktree(&repo_dir, &work, &base)?;
    Ok(Target {
        repo: repo_dir,
        work,
        base,
        owned: false,
    })
}

/// `tree-<basename>-<hash of the path>`: stable per repository.
fn worktree_name(repo_dir: &Path) -> String {
    let base = repo_dir
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "root".into());
    let clean: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let h = queue::sha256_hex(repo_dir.to_string_lossy().as_bytes());
    format!("tree-{clean}-{}", &h[..10])
}

/// Creates the asi-tool work tree `work` of `repo_dir`, detached at `base`
/// (a no-op when it exists).
pub fn ensure_worktree(repo_dir: &Path, work: &Path, base: &str) -> Result<()> {
    let sh = shell_in(repo_dir)?;
    if work.join(".git").exists() {
        return Ok(());
    }
    Cache::ensure(work.parent().unwrap_or(work))?;
    cmd::run(&sh, cmd!(sh, "git worktree prune"))?;
    eprintln!(
        "asi-tool: creating work tree {} (first use of this repository; the build runs from here)",
        work.display()
    );
    cmd::run(&sh, cmd!(sh, "git worktree add --detach {work} {base}"))
        .with_context(|| format!("cannot create the asi-tool work tree {}", work.display()))
}

fn git_path(work: &Path, name: &str) -> Result<PathBuf> {
    let sh = shell_in(work)?;
    let p = cmd::read(&sh, cmd!(sh, "git rev-parse --git-path {name}"))?;
    let p = PathBuf::from(p);
    Ok(if p.is_absolute() { p } else { work.join(p) })
}

/// The work tree must be clean and not in the middle of `git am`.
pub fn require_idle(work: &Path) -> Result<()> {
    if git_path(work, "rebase-apply")?.exists() {
        return Err(fail(
            Exit::Infra,
            format!(
                "an earlier `git am` is unfinished in the asi-tool work tree {w} \
                 (left by --keep-conflict or an interrupted run).\n\
                 Finish it there (git -C {w} am --continue) or discard it (git -C {w} am --abort), then run again.",
                w = work.display()
            ),
        ));
    }
    require_clean(work, "the asi-tool work tree")
}

/// Checks `rev` out, detached, in an asi-tool work tree.
pub fn checkout(work: &Path, rev: &str) -> Result<()> {
    let sh = shell_in(work)?;
    cmd::run(&sh, cmd!(sh, "git checkout -q --detach {rev}"))
}

/// The commits of `base..tip`, oldest first (one per applied patch).
pub fn commits_between(repo_dir: &Path, base: &str, tip: &str) -> Result<Vec<String>> {
    let repo = git2::Repository::open(repo_dir)
        .with_context(|| format!("cannot open {}", repo_dir.display()))?;
    let mut walk = repo.revwalk()?;
    walk.push(git2::Oid::from_str(tip)?)?;
    walk.hide(git2::Oid::from_str(base)?)?;
    walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::REVERSE)?;
    Ok(walk.filter_map(|o| o.ok()).map(|o| o.to_string()).collect())
}

/// A conflict report, printed before the command exits with code 4.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub index: usize,
    pub patch: String,
    pub subject: String,
    pub files: Vec<String>,
    pub details: Vec<String>,
}

impl Conflict {
    pub fn message(&self, total: usize, kept: Option<&Path>) -> String {
        let mut m = format!(
            "patch {}/{} does not apply: {} ({})",
            self.index, total, self.patch, self.subject
        );
        if !self.files.is_empty() {
            m.push_str("\n  conflicting files:");
            for f in &self.files {
                m.push_str(&format!("\n    {f}"));
            }
        }
        for d in &self.details {
            m.push_str(&format!("\n  git: {d}"));
        }
        match kept {
            Some(w) => m.push_str(&format!(
                "\nThe conflict is left in {w} (--keep-conflict): resolve it, `git -C {w} am --continue`, \
                 then `asi-tool export`; or `git -C {w} am --abort`.",
                w = w.display()
            )),
            None => m.push_str("\nNothing was changed: `git am --abort` restored the work tree and no branch was created."),
        }
        m
    }
}

/// Lines of `git am` output that explain a failure.
pub fn conflict_details(output: &str) -> (Vec<String>, Vec<String>) {
    let conflict =
        Regex::new(r"CONFLICT \([^)]*\): (?:Merge conflict in )?(\S+)").expect("static regex");
    let failed = Regex::new(r"error: patch failed: ([^:]+):\d+").expect("static regex");
    let missing = Regex::new(r"error: ([^:]+): does not exist in index").expect("static regex");
    let mut files = Vec::new();
    let mut details = Vec::new();
    for line in output.lines() {
        let l = line.trim();
        for r in [&conflict, &failed, &missing] {
            if let Some(c) = r.captures(l) {
                let f = c[1].to_string();
                if !files.contains(&f) {
                    files.push(f);
                }
            }
        }
        if l.starts_with("CONFLICT")
            || l.starts_with("error:")
            || l.starts_with("Patch failed at")
            || l.contains("could not build fake ancestor")
        {
            details.push(l.to_string());
        }
    }
    (files, details)
}

/// The branch a queue with this series hash goes on: `asi/<12 hex>`.
pub fn branch_name(series_hash: &str) -> String {
    if series_hash.is_empty() {
        "asi/empty".into()
    } else {
        format!("asi/{}", &series_hash[..series_hash.len().min(12)])
    }
}

/// Applies `queue` on `target.base` and points a branch at the result.
pub fn apply(queue: &Queue, target: &Target, opts: &ApplyOptions) -> Result<Applied> {
    let start = Instant::now();
    let hash = queue.series_hash();
    let branch = opts.branch.clone().unwrap_or_else(|| branch_name(&hash));
    validate_branch_name(&branch)?;
    require_idle(&target.work)?;
    let tip = match already_applied(target, &branch, &hash) {
        // Nothing to do, and nothing touched: an unchanged queue keeps the
        // work tree's timestamps, so the next build has nothing to rebuild.
        Some(tip) => tip,
        None => {
            // First without touching the work tree, so that checking out
            // the result rewrites only the files that differ from what is
            // there now and the next build recompiles only what changed.
            let tip = match commits_in_index(queue, &target.work, &target.base)? {
                Some(tip) => {
                    checkout(&target.work, &tip)?;
                    tip
                }
                None => am_in_work_tree(queue, target, opts)?,
            };
            record_branch(target, &branch, &tip, &hash)?;
            tip
        }
    };
    Ok(Applied {
        branch,
        base: target.base.clone(),
        tip,
        work: target.work.clone(),
        patches: queue.patches.len(),
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// The fallback when a patch needs a 3-way merge or does not apply:
/// `git am -3` of the queue on the base, in the work tree, which also
/// reports a conflict. Returns the tip.
fn am_in_work_tree(queue: &Queue, target: &Target, opts: &ApplyOptions) -> Result<String> {
    checkout(&target.work, &target.base)?;
    let sh = shell_in(&target.work)?;
    let paths = queue.paths();
    if !paths.is_empty() {
        let _env1 = sh.push_env("GIT_COMMITTER_NAME", COMMITTER_NAME);
        let _env2 = sh.push_env("GIT_COMMITTER_EMAIL", COMMITTER_EMAIL);
        let out = cmd::output(
            &sh,
            cmd!(
                sh,
                "git -c core.hooksPath=/dev/null am -3 --committer-date-is-author-date --no-gpg-sign {paths...}"
            ),
        )?;
        if !out.status.success() {
            let text = format!(
                "{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            return Err(conflict(queue, target, &text, opts.keep_conflict));
        }
    }
    resolve(&target.work, "HEAD")
}

/// Makes, on `base`, the commits `git am --committer-date-is-author-date`
/// would make from the queue, without touching the work tree: each patch
/// goes through `git mailinfo` and `git apply --cached` into a private
/// index, and `git commit-tree` commits it with the author, date and
/// message git am would use and asi-tool's fixed committer. Returns the
/// tip, or `None` as soon as a patch does not apply as it is.
fn commits_in_index(queue: &Queue, work: &Path, base: &str) -> Result<Option<String>> {
    let tmp = tempfile::tempdir().context("cannot create a temporary directory")?;
    let (index, msg, diff) = (
        tmp.path().join("index"),
        tmp.path().join("msg"),
        tmp.path().join("patch"),
    );
    let sh = shell_in(work)?;
    let _index = sh.push_env("GIT_INDEX_FILE", &index);
    cmd::run(&sh, cmd!(sh, "git read-tree {base}"))?;
    let mut parent = base.to_string();
    for p in &queue.patches {
        let mail =
            std::fs::read(&p.path).with_context(|| format!("cannot read {}", p.path.display()))?;
        let info = cmd::read(&sh, cmd!(sh, "git mailinfo {msg} {diff}").stdin(mail))?;
        let field = |key: &str| {
            info.lines()
                .find_map(|l| l.strip_prefix(key))
                .unwrap_or_default()
                .to_string()
        };
        let applied = cmd::output(&sh, cmd!(sh, "git apply --cached {diff}"))?;
        if !applied.status.success() {
            return Ok(None);
        }
        let tree = cmd::read(&sh, cmd!(sh, "git write-tree"))?;
        let body = std::fs::read_to_string(&msg)
            .with_context(|| format!("cannot read {}", msg.display()))?;
        let text = format!("{}\n\n{body}", field("Subject: "));
        let text = cmd::read(&sh, cmd!(sh, "git stripspace").stdin(text))? + "\n";
        let date = field("Date: ");
        let _env = [
            sh.push_env("GIT_AUTHOR_NAME", field("Author: ")),
            sh.push_env("GIT_AUTHOR_EMAIL", field("Email: ")),
            sh.push_env("GIT_AUTHOR_DATE", &date),
            sh.push_env("GIT_COMMITTER_NAME", COMMITTER_NAME),
            sh.push_env("GIT_COMMITTER_EMAIL", COMMITTER_EMAIL),
            sh.push_env("GIT_COMMITTER_DATE", &date),
        ];
        parent = cmd::read(
            &sh,
            cmd!(sh, "git commit-tree --no-gpg-sign {tree} -p {parent}").stdin(text),
        )?;
    }
    Ok(Some(parent))
}

/// Points `branch` at `tip` (refusing to rewrite a user's branch) and
/// records its base and series hash for `export` and later applies.
pub fn record_branch(target: &Target, branch: &str, tip: &str, series_hash: &str) -> Result<()> {
    validate_branch_name(branch)?;
    set_branch(target, branch, tip)?;
    let repo_sh = shell_in(&target.repo)?;
    let base = &target.base;
    let key = format!("branch.{branch}.asibase");
    cmd::run(&repo_sh, cmd!(repo_sh, "git config {key} {base}"))?;
    cmd::run(
        &repo_sh,
        cmd!(repo_sh, "git config asi.lastbranch {branch}"),
    )?;
    let key = format!("branch.{branch}.asiseries");
    let series = if series_hash.is_empty() {
        "empty"
    } else {
        series_hash
    };
    cmd::run(&repo_sh, cmd!(repo_sh, "git config {key} {series}"))
}

/// The branch's tip when `branch` already holds this queue on this base and
/// the work tree is checked out there (recorded by an earlier `apply`).
fn already_applied(target: &Target, branch: &str, hash: &str) -> Option<String> {
    let repo = git2::Repository::open(&target.repo).ok()?;
    let config = repo.config().ok()?.snapshot().ok()?;
    let base = config
        .get_string(&format!("branch.{branch}.asibase"))
        .ok()?;
    let series = config
        .get_string(&format!("branch.{branch}.asiseries"))
        .ok()?;
    let want = if hash.is_empty() { "empty" } else { hash };
    if base != target.base || series != want {
        return None;
    }
    let tip = repo
        .find_branch(branch, git2::BranchType::Local)
        .ok()?
        .get()
        .target()?
        .to_string();
    let head = resolve(&target.work, "HEAD").ok()?;
    (head == tip).then_some(tip)
}

fn validate_branch_name(branch: &str) -> Result<()> {
    if git2::Branch::name_is_valid(branch).unwrap_or(false) {
        Ok(())
    } else {
        Err(fail(
            Exit::Usage,
            format!("{branch:?} is not a valid branch name"),
        ))
    }
}

fn conflict(queue: &Queue, target: &Target, output: &str, keep: bool) -> anyhow::Error {
    let next = git_path(&target.work, "rebase-apply/next")
        .ok()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|s| s.trim().parse::<usize>().ok())
        .unwrap_or(1);
    let patch = queue.patches.get(next.saturating_sub(1));
    let (mut files, details) = conflict_details(output);
    if let Ok(sh) = shell_in(&target.work) {
        if let Ok(unmerged) = cmd::read(&sh, cmd!(sh, "git diff --name-only --diff-filter=U")) {
            for f in unmerged.lines().filter(|l| !l.is_empty()) {
                if !files.iter().any(|x| x == f) {
                    files.push(f.to_string());
                }
            }
        }
        if !keep {
            let _ = cmd::run(&sh, cmd!(sh, "git am --abort"));
        }
    }
    let report = Conflict {
        index: next,
        patch: patch.map(|p| p.name.clone()).unwrap_or_else(|| "?".into()),
        subject: patch.map(|p| p.subject.clone()).unwrap_or_default(),
        files,
        details,
    };
    fail(
        Exit::Conflict,
        report.message(queue.patches.len(), keep.then_some(target.work.as_path())),
    )
}

fn set_branch(target: &Target, branch: &str, tip: &str) -> Result<()> {
    let repo = git2::Repository::open(&target.repo)
        .with_context(|| format!("cannot open {}", target.repo.display()))?;
    let oid = git2::Oid::from_str(tip)?;
    let commit = repo.find_commit(oid)?;
    if let Ok(existing) = repo.find_branch(branch, git2::BranchType::Local) {
        let at = existing
            .get()
            .target()
            .map(|o| o.to_string())
            .unwrap_or_default();
        if at == tip {
            return Ok(());
        }
        if !target.owned {
            return Err(fail(
                Exit::Infra,
                format!(
                    "branch {branch} already exists in {} at {} and differs from the new result {}; \
                     asi-tool does not rewrite branches. Delete it (git branch -D {branch}) or pass --branch NAME.",
                    target.repo.display(),
                    &at[..at.len().min(12)],
                    &tip[..12]
                ),
            ));
        }
    }
    repo.branch(branch, &commit, target.owned)
        .with_context(|| format!("cannot create branch {branch}"))?;
    Ok(())
}

/// The branch `export` uses by default: `asi/<hash>` of the current queue
/// if it exists, else the branch the last `apply` made.
pub fn default_branch(repo_dir: &Path, queue: &Queue) -> Option<String> {
    let repo = git2::Repository::open(repo_dir).ok()?;
    let hash = queue.series_hash();
    let current = branch_name(&hash);
    if repo.find_branch(&current, git2::BranchType::Local).is_ok() {
        return Some(current);
    }
    repo.config().ok()?.get_string("asi.lastbranch").ok()
}

/// The base recorded by `apply` for `branch`, if any.
pub fn recorded_base(repo_dir: &Path, branch: &str) -> Option<String> {
    let repo = git2::Repository::open(repo_dir).ok()?;
    let config = repo.config().ok()?;
    config.get_string(&format!("branch.{branch}.asibase")).ok()
}

/// Regenerates the queue in `queue_dir` from `base..branch` of `repo_dir`:
/// stable names, all-zero `From` lines, no version signature, a
/// `base-commit:` trailer, and blob ids abbreviated to a fixed 12 digits
/// (git's automatic length depends on the repository's size, which would
/// make the same patch differ between a kernel clone and a fresh import). The series header and the cover letter are kept;
/// patch files no longer in the branch are removed.
pub fn export(repo_dir: &Path, branch: &str, base: &str, queue_dir: &Path) -> Result<Vec<String>> {
    let sh = shell_in(repo_dir)?;
    let tmp = tempfile::tempdir().context("cannot create a temporary directory")?;
    let out = tmp.path();
    let range = format!("{base}..{branch}");
    cmd::run(
        &sh,
        cmd!(
            sh,
            "git -c core.abbrev=12 format-patch --zero-commit --no-signature --no-numbered-files --base={base} -o {out} {range}"
        ),
    )?;
    let mut names: Vec<String> = std::fs::read_dir(out)?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".patch"))
        .collect();
    names.sort();
    Cache::ensure(queue_dir)?;
    let (header, old) = match std::fs::read_to_string(queue_dir.join("series")) {
        Ok(text) => {
            let (header, lines, _) = queue::parse_series(&text);
            (
                header,
                lines.into_iter().map(|l| l.name).collect::<Vec<_>>(),
            )
        }
        Err(_) => (Vec::new(), Vec::new()),
    };
    for name in &old {
        if !names.contains(name) && !name.contains('/') {
            let _ = std::fs::remove_file(queue_dir.join(name));
        }
    }
    for name in &names {
        std::fs::copy(out.join(name), queue_dir.join(name))
            .with_context(|| format!("cannot write {}", queue_dir.join(name).display()))?;
    }
    queue::write_series(queue_dir, &header, &names)?;
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_am_failures() {
        let out = "Applying: mm: foo\nUsing index info to reconstruct a base tree...\n\
M\tmm/foo.c\nFalling back to patching base and 3-way merge...\n\
Auto-merging mm/foo.c\nCONFLICT (content): Merge conflict in mm/foo.c\n\
error: Failed to merge in the changes.\nPatch failed at 0002 mm: foo\n";
        let (files, details) = conflict_details(out);
        assert_eq!(files, vec!["mm/foo.c"]);
        assert!(details
            .iter()
            .any(|d| d.starts_with("Patch failed at 0002")));
        let (files, _) = conflict_details(
            "error: patch failed: mm/bar.c:12\nerror: mm/baz.c: does not exist in index\n",
        );
        assert_eq!(files, vec!["mm/bar.c", "mm/baz.c"]);
    }

    #[test]
    fn worktree_names_are_stable_and_safe() {
        let a = worktree_name(Path::new("/home/me/linux"));
        assert_eq!(a, worktree_name(Path::new("/home/me/linux")));
        assert!(a.starts_with("tree-linux-"));
        assert_ne!(a, worktree_name(Path::new("/other/linux")));
        assert!(worktree_name(Path::new("/x/we ird")).starts_with("tree-we_ird-"));
    }
}
