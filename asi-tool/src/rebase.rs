//! `asi-tool rebase --onto VERSION`: the queue carried to another kernel
//! version, patch by patch, with a verdict for each, and `range-diff`.
//!
//! The rebase runs in an asi-tool work tree of the cached target kernel
//! (`worktrees/rebase-<version>`, detached at its base), never in a user's
//! checkout and never on a user's branch. For each patch, in order:
//!
//! 1. `git apply --check` succeeds: `git am` → **applied**;
//! 2. else `git apply --check -R` succeeds (the change is in the target
//!    already) → **already upstream**, skipped;
//! 3. else `git am -3`: success → **applied (3-way)**, or **already
//!    upstream** when the merge leaves nothing to commit; failure →
//!    **conflict**, with the files and the hunks that failed; the remaining
//!    patches are **not attempted**.
//!
//! Patch ids cannot tell "already upstream" here: the cached kernels are
//! Debian source tarballs imported as one commit each, with no upstream
//! history to compare with, so the reverse-apply check and the empty 3-way
//! result stand in for it.
//!
//! `git am -3` needs the blobs named by the patches' `index` lines, which a
//! tree imported from another version's tarball does not have. Before
//! applying, [`seed_preimages`] rebuilds the queue on its own base in a
//! scratch repository holding only the files the queue touches, and copies
//! those blobs into the target repository.

use crate::apply::{self, Target};
use crate::cache::Cache;
use crate::cmd;
use crate::error::{fail, Exit};
use crate::queue::{self, Queue};
use crate::results::short;
use crate::source::{self, Kernel};
use anyhow::{Context, Result};
use regex::Regex;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use xshell::{cmd, Shell};

/// Version of the `rebase-<version>.json` report format.
pub const SCHEMA: u32 = 1;

/// What happened to one patch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Applied,
    #[serde(rename = "applied_3way")]
    Applied3Way,
    AlreadyUpstream,
    /// A conflict resolved by hand (`--keep-conflict`, then `--continue`).
    Ported,
    Conflict,
    NotAttempted,
}

impl Outcome {
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Applied3Way => "applied (3-way)",
            Outcome::AlreadyUpstream => "already upstream",
            Outcome::Ported => "ported by hand",
            Outcome::Conflict => "CONFLICT",
            Outcome::NotAttempted => "not attempted",
        }
    }
}

/// One file of a conflicting patch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConflictFile {
    pub path: String,
    /// Hunk headers of the patch (`@@ -120,7 +120,9 @@ ...`) that did not apply.
    pub hunks: Vec<String>,
    /// Lines of the 3-way result where conflict markers (`<<<<<<<`) start.
    pub markers: Vec<usize>,
    /// e.g. "does not exist in the target" (moved or removed upstream).
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatchResult {
    /// 1-based position in the series.
    pub index: usize,
    pub name: String,
    pub subject: String,
    pub outcome: Outcome,
    /// The commit made for it in the target repository.
    pub commit: Option<String>,
    pub conflicts: Vec<ConflictFile>,
    /// For "applied (3-way)": the files and hunks that did not apply as
    /// they were and were merged by git; worth a reviewer's look (and a
    /// build of their objects), since a clean merge can still be wrong.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged: Vec<ConflictFile>,
    /// git's own explanation of a failure.
    pub details: Vec<String>,
}

/// `results/rebase-<version>.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub schema: u32,
    /// The kernel the queue was carried to, e.g. `7.2.13`.
    pub onto: String,
    pub base_commit: String,
    /// The kernel whose blobs made the 3-way fallback possible (the queue's own base).
    pub preimages_from: Option<String>,
    /// The queue that was rebased (`patches`, or a variant's directory).
    pub queue: String,
    pub queue_dir: String,
    pub series_hash: String,
    /// The asi-tool work tree the rebase ran in.
    pub work: String,
    pub patches: Vec<PatchResult>,
    /// The branch made in the target repository when every patch went through.
    pub branch: Option<String>,
    pub tip: Option<String>,
    /// A conflict is left in `work` for manual resolution.
    pub kept: bool,
    /// The variant directory `--write` wrote, if any.
    pub variant: Option<String>,
    /// `--explore`: patches after a conflict were tried on a tree whose
    /// conflicts were resolved mechanically (their verdicts are hints).
    #[serde(default)]
    pub explored: bool,
}

impl Report {
    pub fn conflict(&self) -> Option<&PatchResult> {
        self.patches.iter().find(|p| p.outcome == Outcome::Conflict)
    }

    /// The rebased queue differs from the base queue: some patch needed a
    /// 3-way merge or a hand port, or was dropped as already upstream.
    pub fn differs(&self) -> bool {
        self.patches.iter().any(|p| p.outcome != Outcome::Applied)
    }

    pub fn count(&self, o: Outcome) -> usize {
        self.patches.iter().filter(|p| p.outcome == o).count()
    }

    /// The table printed by `asi-tool rebase`.
    pub fn table(&self) -> String {
        let width = self
            .patches
            .iter()
            .map(|p| p.name.len())
            .max()
            .unwrap_or(5)
            .max(5);
        let mut out = format!(
            "{} ({} patch(es), series {}) onto {} (base {}){}\n",
            self.queue,
            self.patches.len(),
            short(&self.series_hash),
            self.onto,
            short(&self.base_commit),
            self.preimages_from
                .as_deref()
                .map(|v| format!(", 3-way preimages from {v}"))
                .unwrap_or_default()
        );
        out.push_str(&format!("{:>2}  {:<width$}  RESULT\n", "#", "PATCH"));
        for p in &self.patches {
            out.push_str(&format!(
                "{:>2}  {:<width$}  {}\n",
                p.index,
                p.name,
                p.outcome.label()
            ));
            for c in &p.conflicts {
                let mut line = format!("      {}", c.path);
                if let Some(n) = &c.note {
                    line.push_str(&format!(": {n}"));
                }
                if !c.markers.is_empty() {
                    let m: Vec<String> = c.markers.iter().map(usize::to_string).collect();
                    line.push_str(&format!(" (conflict markers at line {})", m.join(", ")));
                }
                out.push_str(&line);
                out.push('\n');
                for h in &c.hunks {
                    out.push_str(&format!("        {h}\n"));
                }
            }
            for c in &p.merged {
                out.push_str(&format!("      {}: merged by git, review\n", c.path));
                for h in &c.hunks {
                    out.push_str(&format!("        {h}\n"));
                }
            }
        }
        if self.explored {
            out.push_str("(--explore: the verdicts after the first conflict were taken on a tree whose conflicts kept both sides; hints, not a port)\n");
        }
        out.push_str(&format!(
            "{} applied, {} applied with 3-way merge, {} already upstream, {} ported, {} conflict, {} not attempted\n",
            self.count(Outcome::Applied),
            self.count(Outcome::Applied3Way),
            self.count(Outcome::AlreadyUpstream),
            self.count(Outcome::Ported),
            self.count(Outcome::Conflict),
            self.count(Outcome::NotAttempted),
        ));
        out
    }

    pub fn write(&self, path: &Path) -> Result<()> {
        crate::results::write_json(path, self)
    }

    pub fn read(path: &Path) -> Result<Report> {
        crate::results::read_json(path, "a rebase report", |r: &Report| r.schema, SCHEMA)
    }
}

#[derive(Debug, Clone, Default)]
pub struct RebaseOptions {
    /// Leave a conflicting `git am` in the work tree for manual resolution.
    pub keep_conflict: bool,
    /// Branch name; default `asi/<first 12 hex of the series hash>`.
    pub branch: Option<String>,
    /// Go past conflicts (keeping both sides) to see how every later patch
    /// fares; no branch, no variant.
    pub explore: bool,
}

/// The asi-tool work tree a rebase onto `version` runs in.
pub fn work_dir(cache: &Cache, version: &str) -> PathBuf {
    cache.worktree(&format!("rebase-{version}"))
}

/// Where a stopped rebase keeps its state, next to its work tree.
fn state_path(cache: &Cache, version: &str) -> PathBuf {
    cache.worktree(&format!("rebase-{version}.json"))
}

fn shell_in(dir: &Path) -> Result<Shell> {
    let sh = Shell::new().context("cannot create a shell")?;
    sh.change_dir(dir);
    Ok(sh)
}

fn target(cache: &Cache, onto: &Kernel) -> Target {
    Target {
        repo: onto.dir.clone(),
        work: work_dir(cache, &onto.record.version),
        base: onto.record.commit.clone(),
        owned: true,
    }
}

/// Rebases `queue` onto the cached kernel `onto`. A conflict is not an
/// error here: the report says which patch, and the caller exits 4.
/// `base` is the project's own queue when `queue` is another one (a
/// variant, or a variant followed by base patches not ported yet): its
/// preimages are seeded too, so that the base patches in `queue` get the
/// 3-way fallback (and conflict markers) even when `queue` as a whole
/// applies on no cached kernel.
pub fn start(
    cache: &Cache,
    queue: &Queue,
    base: Option<&Queue>,
    label: &str,
    onto: &Kernel,
    opts: &RebaseOptions,
) -> Result<Report> {
    let version = &onto.record.version;
    let t = target(cache, onto);
    if state_path(cache, version).exists() {
        return Err(fail(
            Exit::Infra,
            format!(
                "a rebase onto {version} stopped at a conflict, kept in {}: resolve it and run \
                 `asi-tool rebase --onto {version} --continue`, or drop it with `--abort`",
                t.work.display()
            ),
        ));
    }
    let mut preimages_from = None;
    let base = base.filter(|b| b.series_hash() != queue.series_hash());
    for q in std::iter::once(queue).chain(base) {
        match seed_preimages(cache, q, &onto.dir) {
            Ok(v) => preimages_from = preimages_from.or(v),
            Err(e) => eprintln!(
                "asi-tool: note: no 3-way fallback from {}: {e:#}",
                q.dir.display()
            ),
        }
    }
    apply::ensure_worktree(&t.repo, &t.work, &t.base)?;
    apply::require_idle(&t.work)?;
    apply::checkout(&t.work, &t.base)?;
    let mut report = Report {
        schema: SCHEMA,
        onto: version.clone(),
        base_commit: t.base.clone(),
        preimages_from,
        queue: label.to_string(),
        queue_dir: queue.dir.display().to_string(),
        series_hash: queue.series_hash(),
        work: t.work.display().to_string(),
        patches: queue
            .patches
            .iter()
            .enumerate()
            .map(|(i, p)| PatchResult {
                index: i + 1,
                name: p.name.clone(),
                subject: p.subject.clone(),
                outcome: Outcome::NotAttempted,
                commit: None,
                conflicts: vec![],
                merged: vec![],
                details: vec![],
            })
            .collect(),
        branch: None,
        tip: None,
        kept: false,
        variant: None,
        explored: false,
    };
    steps(cache, queue, &t, &mut report, 0, opts)?;
    Ok(report)
}

/// Continues a rebase stopped by `--keep-conflict` once the conflict is
/// resolved in the work tree (or the patch dropped with `git am --skip`).
pub fn resume(cache: &Cache, queue: &Queue, onto: &Kernel, opts: &RebaseOptions) -> Result<Report> {
    let version = &onto.record.version;
    let t = target(cache, onto);
    let path = state_path(cache, version);
    if !path.exists() {
        return Err(fail(
            Exit::Usage,
            format!("no stopped rebase onto {version}: start one with `asi-tool rebase --onto {version} --keep-conflict`"),
        ));
    }
    let mut report = Report::read(&path)?;
    if report.series_hash != queue.series_hash() {
        return Err(fail(
            Exit::Infra,
            format!(
                "the queue changed since the rebase onto {version} stopped (series {} then, {} now): \
                 drop it with `asi-tool rebase --onto {version} --abort` and start again",
                short(&report.series_hash),
                short(&queue.series_hash())
            ),
        ));
    }
    let Some(i) = report
        .patches
        .iter()
        .position(|p| p.outcome == Outcome::Conflict)
    else {
        return Err(fail(
            Exit::Infra,
            format!(
                "{} records no conflict: drop it with --abort",
                path.display()
            ),
        ));
    };
    let sh = shell_in(&t.work)?;
    if am_in_progress(&t.work)? {
        // Stage the resolved files (with -f: Debian's linux-source trees
        // ship a .gitignore that ignores everything), refusing any that
        // still hold conflict markers.
        let unmerged = cmd::read(&sh, cmd!(sh, "git diff --name-only --diff-filter=U"))?;
        let mut unresolved = Vec::new();
        for f in unmerged.lines().filter(|l| !l.is_empty()) {
            let path = t.work.join(f);
            match std::fs::read_to_string(&path) {
                Ok(text) if has_markers(&text) => unresolved.push(f.to_string()),
                Ok(_) => cmd::run(&sh, cmd!(sh, "git add -f -- {f}"))?,
                Err(_) => cmd::run(&sh, cmd!(sh, "git rm -q --cached -- {f}"))?,
            }
        }
        if !unresolved.is_empty() {
            return Err(fail(
                Exit::Conflict,
                format!(
                    "conflict markers are still in {}:\n  {}\nResolve them, then run this again.",
                    t.work.display(),
                    unresolved.join("\n  ")
                ),
            ));
        }
        let _e1 = sh.push_env("GIT_COMMITTER_NAME", apply::COMMITTER_NAME);
        let _e2 = sh.push_env("GIT_COMMITTER_EMAIL", apply::COMMITTER_EMAIL);
        cmd::run(
            &sh,
            cmd!(
                sh,
                "git -c core.hooksPath=/dev/null am --continue --committer-date-is-author-date --no-gpg-sign"
            ),
        )
        .with_context(|| format!("`git am --continue` failed in {}", t.work.display()))?;
    }
    apply::require_idle(&t.work)?;
    let before = report.patches[..i]
        .iter()
        .rev()
        .find_map(|p| p.commit.clone())
        .unwrap_or_else(|| t.base.clone());
    let head = apply::resolve(&t.work, "HEAD")?;
    let p = &mut report.patches[i];
    p.conflicts.clear();
    p.details.clear();
    if head == before {
        p.outcome = Outcome::AlreadyUpstream;
        p.details
            .push("dropped by hand (git am --skip): nothing left to apply".into());
    } else {
        p.outcome = Outcome::Ported;
        p.commit = Some(head);
    }
    report.kept = false;
    // A port in progress keeps stopping at the next conflict rather than
    // throwing the hand-made commits away.
    let opts = RebaseOptions {
        keep_conflict: true,
        explore: false,
        ..opts.clone()
    };
    steps(cache, queue, &t, &mut report, i + 1, &opts)?;
    Ok(report)
}

/// Whether a rebase onto `version` is stopped at a conflict.
pub fn stopped(cache: &Cache, version: &str) -> bool {
    state_path(cache, version).exists()
}

/// The report of a rebase of `queue` that already finished (written to
/// `path` by the run that finished it), if it still describes `queue` and
/// its branch: for `--continue --write` after a last `--continue` that
/// was run without `--write`.
pub fn finished(path: &Path, queue: &Queue, repo: &Path) -> Option<Report> {
    let report = Report::read(path).ok()?;
    if report.series_hash != queue.series_hash() || report.conflict().is_some() || report.explored {
        return None;
    }
    let (branch, tip) = (report.branch.as_ref()?, report.tip.as_ref()?);
    let now = apply::resolve(repo, &format!("refs/heads/{branch}")).ok()?;
    (&now == tip).then_some(report)
}

/// Drops a stopped rebase: aborts its `git am`, puts the work tree back on
/// the base and forgets the state.
pub fn abort(cache: &Cache, onto: &Kernel) -> Result<()> {
    let t = target(cache, onto);
    if t.work.join(".git").exists() {
        let sh = shell_in(&t.work)?;
        if am_in_progress(&t.work)? {
            cmd::run(&sh, cmd!(sh, "git am --abort"))?;
        }
        let base = &t.base;
        cmd::run(&sh, cmd!(sh, "git reset -q --hard {base}"))?;
    }
    let path = state_path(cache, &onto.record.version);
    if path.exists() {
        std::fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
    }
    Ok(())
}

/// `--explore`: gets past a conflict mechanically (each conflict region
/// keeps both sides; a patch git cannot merge at all is skipped) so that
/// the later patches can be tried. The result is never a port.
fn explore_past(sh: &Shell, work: &Path, p: &mut PatchResult) -> Result<()> {
    let unmerged = cmd::read(sh, cmd!(sh, "git diff --name-only --diff-filter=U"))?;
    for f in unmerged.lines().filter(|l| !l.is_empty()) {
        let path = work.join(f);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                std::fs::write(&path, keep_both_sides(&text))
                    .with_context(|| format!("cannot write {}", path.display()))?;
                cmd::run(sh, cmd!(sh, "git add -f -- {f}"))?;
            }
            Err(_) => cmd::run(sh, cmd!(sh, "git rm -q --cached -- {f}"))?,
        }
    }
    let cont = cmd::output(
        sh,
        cmd!(sh, "git -c core.hooksPath=/dev/null am --continue --committer-date-is-author-date --no-gpg-sign"),
    )?;
    if cont.status.success() {
        p.details
            .push("--explore: both sides of each conflict kept to try the later patches".into());
    } else {
        cmd::run(sh, cmd!(sh, "git am --skip"))?;
        p.details
            .push("--explore: could not be merged at all; skipped to try the later patches".into());
    }
    Ok(())
}

/// Resolves every conflict region by keeping "ours" then "theirs" (and
/// dropping a diff3 base section).
pub fn keep_both_sides(text: &str) -> String {
    #[derive(PartialEq)]
    enum In {
        Clean,
        Ours,
        Base,
        Theirs,
    }
    let mut state = In::Clean;
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let l = line.trim_end_matches('\n');
        match state {
            In::Clean if l.starts_with("<<<<<<< ") || l == "<<<<<<<" => state = In::Ours,
            In::Ours if l.starts_with("||||||| ") || l == "|||||||" => state = In::Base,
            In::Ours | In::Base if l == "=======" => state = In::Theirs,
            In::Theirs if l.starts_with(">>>>>>> ") || l == ">>>>>>>" => state = In::Clean,
            In::Base => {}
            _ => out.push_str(line),
        }
    }
    out
}

/// Whether a file still holds `git merge` conflict markers.
pub fn has_markers(text: &str) -> bool {
    text.lines()
        .any(|l| l.starts_with("<<<<<<< ") || l.starts_with(">>>>>>> ") || l == "=======")
}

fn am_in_progress(work: &Path) -> Result<bool> {
    let sh = shell_in(work)?;
    let p = PathBuf::from(cmd::read(
        &sh,
        cmd!(sh, "git rev-parse --git-path rebase-apply"),
    )?);
    let p = if p.is_absolute() { p } else { work.join(p) };
    Ok(p.exists())
}

/// The per-patch loop from patch `from` (0-based) on.
fn steps(
    cache: &Cache,
    queue: &Queue,
    t: &Target,
    report: &mut Report,
    from: usize,
    opts: &RebaseOptions,
) -> Result<()> {
    let sh = shell_in(&t.work)?;
    let _e1 = sh.push_env("GIT_COMMITTER_NAME", apply::COMMITTER_NAME);
    let _e2 = sh.push_env("GIT_COMMITTER_EMAIL", apply::COMMITTER_EMAIL);
    for i in from..queue.patches.len() {
        let patch = &queue.patches[i];
        let path = &patch.path;
        let head = apply::resolve(&t.work, "HEAD")?;
        eprintln!(
            "asi-tool: [{}/{}] {}",
            i + 1,
            queue.patches.len(),
            patch.name
        );
        let forward = cmd::output(&sh, cmd!(sh, "git apply --check {path}"))?;
        let outcome = if forward.status.success() {
            cmd::run(
                &sh,
                cmd!(sh, "git -c core.hooksPath=/dev/null am --committer-date-is-author-date --no-gpg-sign {path}"),
            )?;
            Outcome::Applied
        } else if cmd::output(&sh, cmd!(sh, "git apply --check -R {path}"))?
            .status
            .success()
        {
            Outcome::AlreadyUpstream
        } else {
            // Which hunks fail, before the 3-way merge writes conflict markers.
            let rejects = cmd::output(&sh, cmd!(sh, "git apply --check --reject {path}"))?;
            let rejects = String::from_utf8_lossy(&rejects.stderr).to_string();
            let out = cmd::output(
                &sh,
                cmd!(sh, "git -c core.hooksPath=/dev/null am -3 --committer-date-is-author-date --no-gpg-sign {path}"),
            )?;
            if out.status.success() {
                if apply::resolve(&t.work, "HEAD")? == head {
                    Outcome::AlreadyUpstream
                } else {
                    report.patches[i].merged = conflict_files(&t.work, path, &rejects, "");
                    Outcome::Applied3Way
                }
            } else {
                let text = format!(
                    "{}\n{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
                let p = &mut report.patches[i];
                p.outcome = Outcome::Conflict;
                p.conflicts = conflict_files(&t.work, path, &rejects, &text);
                p.details = apply::conflict_details(&text).1;
                if opts.explore {
                    explore_past(&sh, &t.work, p)?;
                    report.explored = true;
                    continue;
                }
                if opts.keep_conflict {
                    report.kept = true;
                    report.write(&state_path(cache, &report.onto))?;
                } else {
                    cmd::run(&sh, cmd!(sh, "git am --abort"))?;
                    let base = &t.base;
                    cmd::run(&sh, cmd!(sh, "git checkout -q --detach {base}"))?;
                    let _ = std::fs::remove_file(state_path(cache, &report.onto));
                }
                return Ok(());
            }
        };
        let p = &mut report.patches[i];
        p.outcome = outcome;
        if outcome != Outcome::AlreadyUpstream {
            p.commit = Some(apply::resolve(&t.work, "HEAD")?);
        }
    }
    if report.explored {
        // Exploration results are not a port: no branch, work tree back on the base.
        let base = &t.base;
        cmd::run(&sh, cmd!(sh, "git checkout -q --detach {base}"))?;
        return Ok(());
    }
    let tip = apply::resolve(&t.work, "HEAD")?;
    let hash = &report.series_hash;
    let branch = opts
        .branch
        .clone()
        .unwrap_or_else(|| apply::branch_name(hash));
    apply::record_branch(t, &branch, &tip, hash)?;
    report.branch = Some(branch);
    report.tip = Some(tip);
    let state = state_path(cache, &report.onto);
    if state.exists() {
        std::fs::remove_file(&state)
            .with_context(|| format!("cannot remove {}", state.display()))?;
    }
    Ok(())
}

/// `@@ ... @@` headers per file of a patch, with their old-side start line.
pub fn hunks(patch_text: &str) -> Vec<(String, usize, String)> {
    let diff = Regex::new(r"^diff --git a/(\S+) b/(\S+)$").expect("static regex");
    let hunk = Regex::new(r"^@@ -(\d+)(?:,\d+)? \+\d+(?:,\d+)? @@").expect("static regex");
    let mut file = String::new();
    let mut out = Vec::new();
    for line in patch_text.lines() {
        if let Some(c) = diff.captures(line) {
            file = c[2].to_string();
        } else if let Some(c) = hunk.captures(line) {
            let start = c[1].parse().unwrap_or(0);
            out.push((file.clone(), start, line.to_string()));
        }
    }
    out
}

/// The files and hunks of a patch that did not go in: from `git apply
/// --check --reject` (each failing hunk as `patch failed: FILE:LINE`), the
/// unmerged files of the 3-way attempt and the conflict markers in them.
pub fn conflict_files(
    work: &Path,
    patch: &Path,
    rejects: &str,
    am_output: &str,
) -> Vec<ConflictFile> {
    let text = std::fs::read_to_string(patch).unwrap_or_default();
    let all_hunks = hunks(&text);
    let failed = Regex::new(r"error: patch failed: (\S+):(\d+)").expect("static regex");
    let missing = Regex::new(r"error: (\S+): (does not exist in index|No such file or directory|already exists in working directory)").expect("static regex");
    let mut files: Vec<ConflictFile> = Vec::new();
    fn entry<'a>(files: &'a mut Vec<ConflictFile>, path: &str) -> &'a mut ConflictFile {
        if let Some(i) = files.iter().position(|f| f.path == path) {
            &mut files[i]
        } else {
            files.push(ConflictFile {
                path: path.to_string(),
                hunks: vec![],
                markers: vec![],
                note: None,
            });
            files.last_mut().expect("just pushed")
        }
    }
    for line in rejects.lines().chain(am_output.lines()) {
        if let Some(c) = failed.captures(line) {
            let start: usize = c[2].parse().unwrap_or(0);
            let f = entry(&mut files, &c[1]);
            if let Some((_, _, h)) = all_hunks
                .iter()
                .find(|(file, s, _)| file == &f.path && *s == start)
            {
                if !f.hunks.contains(h) {
                    f.hunks.push(h.clone());
                }
            }
        } else if let Some(c) = missing.captures(line) {
            let note = match &c[2] {
                "already exists in working directory" => "already exists in the target",
                _ => "does not exist in the target (moved or removed upstream?)",
            };
            entry(&mut files, &c[1]).note = Some(note.into());
        }
    }
    let (named, _) = apply::conflict_details(am_output);
    let unmerged = shell_in(work)
        .and_then(|sh| cmd::read(&sh, cmd!(sh, "git diff --name-only --diff-filter=U")))
        .unwrap_or_default();
    for f in named.iter().map(String::as_str).chain(unmerged.lines()) {
        if f.is_empty() {
            continue;
        }
        let e = entry(&mut files, f);
        if let Ok(content) = std::fs::read_to_string(work.join(f)) {
            e.markers = content
                .lines()
                .enumerate()
                .filter(|(_, l)| l.starts_with("<<<<<<<"))
                .map(|(n, _)| n + 1)
                .collect();
        }
    }
    for f in files.iter_mut() {
        if f.note.is_none() && f.markers.is_empty() && !unmerged.lines().any(|u| u == f.path) {
            f.note = Some("merged by the 3-way fallback".into());
        }
    }
    files
}

/// Both sides of every `diff --git` line of the queue's patches.
pub fn touched_files<'a>(queues: impl IntoIterator<Item = &'a Queue>) -> BTreeSet<String> {
    let diff = Regex::new(r"(?m)^diff --git a/(\S+) b/(\S+)$").expect("static regex");
    let mut files = BTreeSet::new();
    for q in queues {
        for p in &q.patches {
            let text = std::fs::read_to_string(&p.path).unwrap_or_default();
            for c in diff.captures_iter(&text) {
                files.insert(c[1].to_string());
                files.insert(c[2].to_string());
            }
        }
    }
    files
}

/// The `base-commit:` a queue was exported on (`git format-patch --base`).
pub fn base_commit(queue: &Queue) -> Option<String> {
    let re = Regex::new(r"(?m)^base-commit: ([0-9a-f]{40})\s*$").expect("static regex");
    queue.patches.iter().find_map(|p| {
        let text = std::fs::read_to_string(&p.path).ok()?;
        re.captures(&text).map(|c| c[1].to_string())
    })
}

/// The cached kernel the queue was written against: the one whose commit
/// is the patches' `base-commit:`, else the default kernel if cached.
pub fn queue_origin(cache: &Cache, queue: &Queue) -> Option<Kernel> {
    let all = source::list(cache);
    if let Some(commit) = base_commit(queue) {
        if let Some(k) = all.iter().find(|k| k.record.commit == commit) {
            return Some(k.clone());
        }
    }
    source::cached(cache, crate::pipeline::DEFAULT_KERNEL)
}

/// A throw-away repository holding only the files a queue touches, used to
/// rebuild a series cheaply (preimage blobs, range-diff).
struct Scratch {
    _dir: tempfile::TempDir,
    path: PathBuf,
    sh: Shell,
    roots: usize,
}

impl Scratch {
    fn new() -> Result<Scratch> {
        let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
        let path = dir.path().to_path_buf();
        let sh = shell_in(&path)?;
        for (k, v) in [
            ("GIT_AUTHOR_NAME", apply::COMMITTER_NAME),
            ("GIT_AUTHOR_EMAIL", apply::COMMITTER_EMAIL),
            ("GIT_COMMITTER_NAME", apply::COMMITTER_NAME),
            ("GIT_COMMITTER_EMAIL", apply::COMMITTER_EMAIL),
        ] {
            sh.set_var(k, v);
        }
        cmd::run(&sh, cmd!(sh, "git init -q -b side-0"))?;
        Ok(Scratch {
            _dir: dir,
            path,
            sh,
            roots: 0,
        })
    }

    /// A new root commit (on branch `side-N`) with `files` as they are in
    /// `commit` of `repo`; files absent there are left out. Returns its id.
    fn root(&mut self, repo: &Path, commit: &str, files: &BTreeSet<String>) -> Result<String> {
        let sh = &self.sh;
        if self.roots > 0 {
            let branch = format!("side-{}", self.roots);
            cmd::run(sh, cmd!(sh, "git checkout -q --orphan {branch}"))?;
            cmd::run(sh, cmd!(sh, "git rm -rfq --ignore-unmatch ."))?;
        }
        self.roots += 1;
        let r = git2::Repository::open(repo)
            .with_context(|| format!("cannot open git repository {}", repo.display()))?;
        let tree = r
            .find_commit(git2::Oid::from_str(commit)?)
            .with_context(|| format!("no commit {commit} in {}", repo.display()))?
            .tree()?;
        for f in files {
            let Ok(entry) = tree.get_path(Path::new(f)) else {
                continue;
            };
            let Ok(blob) = entry.to_object(&r).and_then(|o| o.peel_to_blob()) else {
                continue;
            };
            let dest = self.path.join(f);
            if let Some(parent) = dest.parent() {
                Cache::ensure(parent)?;
            }
            std::fs::write(&dest, blob.content())
                .with_context(|| format!("cannot write {}", dest.display()))?;
            #[cfg(unix)]
            if entry.filemode() == 0o100755 {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o755))?;
            }
        }
        let msg = format!("the queue's files at {}", short(commit));
        cmd::run(sh, cmd!(sh, "git add -A -f ."))?;
        cmd::run(
            sh,
            cmd!(
                sh,
                "git -c core.hooksPath=/dev/null commit -q --allow-empty --no-gpg-sign -m {msg}"
            ),
        )?;
        cmd::read(sh, cmd!(sh, "git rev-parse HEAD"))
    }

    /// `git am` (with `-3` when asked) of the whole queue on the current
    /// root; the error carries git's explanation.
    fn am(&self, queue: &Queue, three_way: bool) -> Result<()> {
        let sh = &self.sh;
        let paths = queue.paths();
        if paths.is_empty() {
            return Ok(());
        }
        let three = three_way.then_some("-3");
        let out = cmd::output(
            sh,
            cmd!(sh, "git -c core.hooksPath=/dev/null am {three...} --committer-date-is-author-date --no-gpg-sign {paths...}"),
        )?;
        if out.status.success() {
            return Ok(());
        }
        let text = format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let _ = cmd::run(sh, cmd!(sh, "git am --abort"));
        let (files, details) = apply::conflict_details(&text);
        anyhow::bail!(
            "{} does not apply ({}){}",
            queue.dir.display(),
            files.join(", "),
            details
                .iter()
                .map(|d| format!("\n  git: {d}"))
                .collect::<String>()
        )
    }
}

/// Copies into `target_repo` every blob of the queue rebuilt on its own
/// base (see the module doc), so `git am -3` there can build the fake
/// ancestor of any patch. Returns the version the blobs came from, or
/// `None` when `target_repo` is that kernel's own repository.
pub fn seed_preimages(cache: &Cache, queue: &Queue, target_repo: &Path) -> Result<Option<String>> {
    let Some(origin) = queue_origin(cache, queue) else {
        anyhow::bail!(
            "the kernel the queue was written against is not in the cache \
             (asi-tool kernel fetch {})",
            crate::pipeline::DEFAULT_KERNEL
        );
    };
    let same = |a: &Path, b: &Path| a.canonicalize().ok() == b.canonicalize().ok();
    if same(&origin.dir, target_repo) || queue.patches.is_empty() {
        return Ok(None);
    }
    let mut s = Scratch::new()?;
    let files = touched_files([queue]);
    s.root(&origin.dir, &origin.record.commit, &files)?;
    s.am(queue, false).with_context(|| {
        format!(
            "the queue does not apply on its own base {}",
            origin.record.version
        )
    })?;
    let from = git2::Repository::open(&s.path)?;
    let to = git2::Repository::open(target_repo)
        .with_context(|| format!("cannot open {}", target_repo.display()))?;
    let (src, dst) = (from.odb()?, to.odb()?);
    let mut walk = from.revwalk()?;
    walk.push_head()?;
    let mut copied = 0;
    for oid in walk {
        let tree = from.find_commit(oid?)?.tree()?;
        let mut blobs = Vec::new();
        tree.walk(git2::TreeWalkMode::PreOrder, |_, e| {
            if e.kind() == Some(git2::ObjectType::Blob) {
                blobs.push(e.id());
            }
            git2::TreeWalkResult::Ok
        })?;
        for id in blobs {
            if !dst.exists(id) {
                let obj = src.read(id)?;
                dst.write(git2::ObjectType::Blob, obj.data())?;
                copied += 1;
            }
        }
    }
    if copied > 0 {
        eprintln!(
            "asi-tool: copied {copied} preimage blob(s) of the queue from {} into {}",
            origin.record.version,
            target_repo.display()
        );
    }
    Ok(Some(origin.record.version))
}

/// Writes the rebased queue as the variant `patches/forwardports/<X.Y>/`
/// (a complete series, exported from the rebase branch), or removes a
/// stale variant when the base queue applies cleanly. Returns the variant
/// directory when one was written.
pub fn write_variant(
    report: &mut Report,
    onto: &Kernel,
    base_queue: &Queue,
    base_dir: &Path,
) -> Result<Option<PathBuf>> {
    let version = &onto.record.version;
    let line = queue::major_minor(version);
    if line == queue::major_minor(crate::pipeline::DEFAULT_KERNEL) {
        return Err(fail(
            Exit::Usage,
            format!(
                "patches/ itself is the queue for {line}: update it with `asi-tool apply` + `asi-tool export` \
                 instead of writing a {line} variant"
            ),
        ));
    }
    let dir = queue::variant_dir(base_dir, version);
    if !report.differs() {
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .with_context(|| format!("cannot remove {}", dir.display()))?;
            eprintln!(
                "asi-tool: patches/ applies cleanly on {version}: removed the variant {}",
                dir.display()
            );
        }
        return Ok(None);
    }
    let (Some(branch), None) = (&report.branch, report.conflict()) else {
        return Err(fail(
            Exit::Conflict,
            format!(
                "patch {} does not apply on {version}: port it first (--keep-conflict, resolve, --continue --write)",
                report.conflict().map(|p| p.name.as_str()).unwrap_or("?")
            ),
        ));
    };
    let names = apply::export(&onto.dir, branch, &report.base_commit, &dir)?;
    let mut header = vec![
        format!("# The ASI queue carried to Linux {version}: written by `asi-tool rebase --onto {version} --write`."),
        "# Do not edit by hand: port in the rebase work tree, then `--continue --write`.".to_string(),
        "# The base queue is ../../series (cover letter: ../../0000-cover-letter.patch);".to_string(),
        format!("# `asi-tool range-diff --onto {version}` shows how this one differs."),
        "# Per patch of the base queue:".to_string(),
    ];
    for p in &report.patches {
        header.push(format!("#   {}: {}", p.name, p.outcome.label()));
    }
    header.push(format!("# kernel: {version}"));
    header.push(format!(
        "{} {}",
        queue::FROM_SERIES_KEY,
        base_queue.series_hash()
    ));
    queue::write_series(&dir, &header, &names)?;
    report.variant = Some(dir.display().to_string());
    Ok(Some(dir))
}

/// `git range-diff` of the base queue on its own base against `other` (a
/// variant, or the base queue itself merged with `-3`) on `onto`, in a
/// scratch repository holding only the files the queues touch.
pub fn range_diff(
    cache: &Cache,
    base_queue: &Queue,
    other: &Queue,
    onto: &Kernel,
    color: bool,
) -> Result<String> {
    let Some(origin) = queue_origin(cache, base_queue) else {
        return Err(fail(
            Exit::Infra,
            format!(
                "the queue's own base kernel is not in the cache: asi-tool kernel fetch {}",
                crate::pipeline::DEFAULT_KERNEL
            ),
        ));
    };
    let files = touched_files([base_queue, other]);
    let mut s = Scratch::new()?;
    let a0 = s.root(&origin.dir, &origin.record.commit, &files)?;
    s.am(base_queue, false).with_context(|| {
        format!(
            "the queue does not apply on its own base {} (asi-tool check)",
            origin.record.version
        )
    })?;
    let a1 = cmd::read(&s.sh, cmd!(s.sh, "git rev-parse HEAD"))?;
    let b0 = s.root(&onto.dir, &onto.record.commit, &files)?;
    s.am(other, true).map_err(|e| {
        fail(
            Exit::Conflict,
            format!(
                "{e:#}\nNo variant for {v} and the queue does not apply there: \
                 run `asi-tool rebase --onto {v}`",
                v = onto.record.version
            ),
        )
    })?;
    let b1 = cmd::read(&s.sh, cmd!(s.sh, "git rev-parse HEAD"))?;
    let color = if color {
        "--color=always"
    } else {
        "--no-color"
    };
    let (ra, rb) = (format!("{a0}..{a1}"), format!("{b0}..{b1}"));
    cmd::read(&s.sh, cmd!(s.sh, "git range-diff {color} {ra} {rb}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflicts_can_keep_both_sides() {
        let text = "a\n<<<<<<< HEAD\nours\n||||||| base\nold\n=======\ntheirs\n>>>>>>> mm: x\nb\n";
        assert!(has_markers(text));
        let done = keep_both_sides(text);
        assert_eq!(done, "a\nours\ntheirs\nb\n");
        assert!(!has_markers(&done));
    }

    #[test]
    fn hunk_headers_are_found_per_file() {
        let text = "diff --git a/mm/a.c b/mm/a.c\n--- a/mm/a.c\n+++ b/mm/a.c\n\
@@ -10,6 +10,7 @@ int f(void)\n ctx\n+x\n@@ -40 +41 @@\n-a\n+b\n\
diff --git a/mm/b.c b/mm/b.c\n@@ -1,3 +1,4 @@\n";
        let h = hunks(text);
        assert_eq!(h.len(), 3);
        assert_eq!(
            h[0],
            ("mm/a.c".into(), 10, "@@ -10,6 +10,7 @@ int f(void)".into())
        );
        assert_eq!((h[1].0.as_str(), h[1].1), ("mm/a.c", 40));
        assert_eq!((h[2].0.as_str(), h[2].1), ("mm/b.c", 1));
    }

    #[test]
    fn report_table_and_round_trip() {
        let mk = |i: usize, o: Outcome| PatchResult {
            index: i,
            name: format!("000{i}-x.patch"),
            subject: "x".into(),
            outcome: o,
            commit: None,
            conflicts: vec![],
            merged: vec![],
            details: vec![],
        };
        let mut r = Report {
            schema: SCHEMA,
            onto: "7.2.13".into(),
            base_commit: "c".repeat(40),
            preimages_from: Some("6.12.107".into()),
            queue: "patches".into(),
            queue_dir: "/p/patches".into(),
            series_hash: "a".repeat(64),
            work: "/c/worktrees/rebase-7.2.13".into(),
            patches: vec![
                mk(1, Outcome::Applied),
                mk(2, Outcome::Applied3Way),
                mk(3, Outcome::AlreadyUpstream),
                mk(4, Outcome::Conflict),
                mk(5, Outcome::NotAttempted),
            ],
            branch: None,
            tip: None,
            kept: false,
            variant: None,
            explored: false,
        };
        r.patches[3].conflicts.push(ConflictFile {
            path: "mm/mmap.c".into(),
            hunks: vec!["@@ -1,2 +1,3 @@".into()],
            markers: vec![7],
            note: None,
        });
        r.patches[1].merged.push(ConflictFile {
            path: "mm/gup.c".into(),
            hunks: vec!["@@ -10,3 +10,4 @@".into()],
            markers: vec![],
            note: None,
        });
        assert!(r.differs());
        assert_eq!(r.conflict().map(|p| p.index), Some(4));
        let t = r.table();
        assert!(t.contains("applied (3-way)"), "{t}");
        assert!(
            t.contains("mm/gup.c: merged by git, review\n        @@ -10,3 +10,4 @@"),
            "{t}"
        );
        assert!(t.contains("mm/mmap.c (conflict markers at line 7)"), "{t}");
        assert!(t.contains("1 applied, 1 applied with 3-way merge, 1 already upstream, 0 ported, 1 conflict, 1 not attempted"), "{t}");
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("r.json");
        r.write(&p).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains("\"applied_3way\""), "{text}");
        assert_eq!(Report::read(&p).unwrap(), r);
        for p in &mut r.patches {
            p.outcome = Outcome::Applied;
        }
        assert!(!r.differs());
    }
}
