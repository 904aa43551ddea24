//! Where asi-tool keeps kernel trees, build directories and downloads:
//! outside the project checkout, so that incremental builds survive `git
//! clean` and fresh clones. `--cache-dir`, then `$ASI_TOOL_CACHE`, then
//! `$XDG_CACHE_HOME/asi-tool`, then `~/.cache/asi-tool`.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
}

impl Cache {
    pub fn locate(explicit: Option<&Path>) -> Result<Cache> {
        let root = if let Some(dir) = explicit {
            dir.to_path_buf()
        } else if let Some(dir) = std::env::var_os("ASI_TOOL_CACHE").filter(|v| !v.is_empty()) {
            PathBuf::from(dir)
        } else if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
            PathBuf::from(dir).join("asi-tool")
        } else if let Some(home) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            PathBuf::from(home).join(".cache/asi-tool")
        } else {
            anyhow::bail!("cannot find a cache directory: set ASI_TOOL_CACHE or pass --cache-dir");
        };
        Ok(Cache { root })
    }

    pub fn at(root: impl Into<PathBuf>) -> Cache {
        Cache { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `kernels/<version>/`: one imported kernel per version.
    pub fn kernels(&self) -> PathBuf {
        self.root.join("kernels")
    }

    pub fn kernel(&self, version: &str) -> PathBuf {
        self.kernels().join(version)
    }

    /// Downloaded tarballs, kept so a re-import needs no network.
    pub fn downloads(&self) -> PathBuf {
        self.root.join("downloads")
    }

    /// Private apt state (lists, caches): never the system's.
    pub fn apt(&self) -> PathBuf {
        self.root.join("apt")
    }

    /// `worktrees/<name>`: the tool's own checkouts of a user's repository.
    pub fn worktree(&self, name: &str) -> PathBuf {
        self.root.join("worktrees").join(name)
    }

    /// `build/<name>`: one `O=` directory per tree and configuration.
    pub fn build(&self, name: &str) -> PathBuf {
        self.root.join("build").join(name)
    }

    /// `locks/<version>`: held (shared) by every command using a cached
    /// kernel, so that `kernel gc` never removes a tree in use.
    pub fn lock_file(&self, version: &str) -> PathBuf {
        self.root.join("locks").join(version)
    }

    /// Every directory the cache holds for one kernel version: the tree,
    /// its build directories (`build/<version>`, `build/<version>-baseline`
    /// and any other `build/<version>-*` there is, such as the debug
    /// kernel's `build/<version>-debug`) and asi-tool's work trees of it.
    pub fn version_dirs(&self, version: &str) -> VersionDirs {
        let mut builds = vec![
            self.build(version),
            self.build(&format!("{version}-baseline")),
        ];
        let prefix = format!("{version}-");
        if let Ok(entries) = std::fs::read_dir(self.root.join("build")) {
            let mut more: Vec<PathBuf> = entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
                .map(|e| self.build(&e.file_name().to_string_lossy()))
                .filter(|d| !builds.contains(d))
                .collect();
            more.sort();
            builds.extend(more);
        }
        VersionDirs {
            tree: self.kernel(version),
            builds,
            worktrees: vec![
                self.worktree(&format!("{version}-baseline")),
                self.worktree(&format!("rebase-{version}")),
            ],
        }
    }

    pub fn ensure(dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
    }
}

/// The directories of one cached kernel version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionDirs {
    /// `kernels/<version>/` (the git repository and its checkout).
    pub tree: PathBuf,
    /// `build/<version>/`, `build/<version>-baseline/`, and any other
    /// `build/<version>-*/` that exists (`-debug`, `-baseline-debug`).
    pub builds: Vec<PathBuf>,
    /// `worktrees/<version>-baseline/`, `worktrees/rebase-<version>/`.
    pub worktrees: Vec<PathBuf>,
}

/// Disk used by one version, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub tree: u64,
    pub build: u64,
    pub worktrees: u64,
}

impl Usage {
    pub fn total(&self) -> u64 {
        self.tree + self.build + self.worktrees
    }
}

impl VersionDirs {
    pub fn usage(&self) -> Usage {
        Usage {
            tree: dir_size(&self.tree),
            build: self.builds.iter().map(|d| dir_size(d)).sum(),
            worktrees: self.worktrees.iter().map(|d| dir_size(d)).sum(),
        }
    }

    pub fn all(&self) -> Vec<&Path> {
        std::iter::once(self.tree.as_path())
            .chain(self.builds.iter().map(PathBuf::as_path))
            .chain(self.worktrees.iter().map(PathBuf::as_path))
            .collect()
    }
}

/// Bytes of the regular files under `dir` (0 when it does not exist).
pub fn dir_size(dir: &Path) -> u64 {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}

fn open_lock(cache: &Cache, version: &str) -> Result<(std::fs::File, PathBuf)> {
    let path = cache.lock_file(version);
    Cache::ensure(path.parent().unwrap_or(cache.root()))?;
    let f = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open lock file {}", path.display()))?;
    Ok((f, path))
}

static HELD: std::sync::Mutex<Vec<std::fs::File>> = std::sync::Mutex::new(Vec::new());

/// Marks `version` as in use until the process exits (a shared `flock`
/// on `locks/<version>`; the kernel drops it when the process ends, even
/// on a crash, so a lock is never stale).
pub fn hold_version(cache: &Cache, version: &str) -> Result<()> {
    let (f, path) = open_lock(cache, version)?;
    f.lock_shared()
        .with_context(|| format!("cannot lock {}", path.display()))?;
    if let Ok(mut held) = HELD.lock() {
        held.push(f);
    }
    Ok(())
}

/// Takes `version`'s lock exclusively if nobody uses it (`kernel gc`).
/// `None`: another asi-tool command is using the version right now.
pub fn try_exclusive(cache: &Cache, version: &str) -> Result<Option<std::fs::File>> {
    let (f, path) = open_lock(cache, version)?;
    match f.try_lock() {
        Ok(()) => Ok(Some(f)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

/// What `kernel gc` does with one cached version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Kept, and why (`in ci/matrix.toml as 7.2`, `the default kernel`, `--keep`).
    Keep(String),
    /// Removed, and why.
    Remove(String),
}

/// Decides which cached versions to keep. `wanted` holds exact versions
/// (kept as they are) and `MAJOR.MINOR` entries (the newest cached patch
/// release of that line is kept, older ones go), each with the reason.
pub fn gc_plan(cached: &[String], wanted: &[(String, String)]) -> Vec<(String, Verdict)> {
    let key = |v: &str| -> Vec<u32> { v.split('.').filter_map(|p| p.parse().ok()).collect() };
    cached
        .iter()
        .map(|v| {
            let exact = wanted.iter().find(|(w, _)| w == v);
            let line = wanted
                .iter()
                .find(|(w, _)| w.split('.').count() == 2 && v.starts_with(&format!("{w}.")));
            let verdict = match (exact, line) {
                (Some((_, why)), _) => Verdict::Keep(why.clone()),
                (None, Some((w, why))) => {
                    let newest = cached
                        .iter()
                        .filter(|c| c.starts_with(&format!("{w}.")))
                        .max_by_key(|c| key(c));
                    if newest == Some(v) {
                        Verdict::Keep(why.clone())
                    } else {
                        Verdict::Remove(format!(
                            "an older {w}.x release ({} is newer)",
                            newest.map(String::as_str).unwrap_or("?")
                        ))
                    }
                }
                (None, None) => Verdict::Remove(
                    "not in ci/matrix.toml, not the default kernel, not --keep".into(),
                ),
            };
            (v.clone(), verdict)
        })
        .collect()
}

/// One line of `kernel gc`'s report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcRow {
    pub version: String,
    pub usage: Usage,
    /// What was done and why.
    pub action: String,
    /// Removed (or, with `dry_run`, would be).
    pub freed: bool,
}

/// `kernel gc`: applies [`gc_plan`] to the cached versions, keeping any
/// version a running command uses or that has a git worktree outside the
/// cache (somebody's checkout).
pub fn gc(
    cache: &Cache,
    cached: &[String],
    wanted: &[(String, String)],
    dry_run: bool,
) -> Result<Vec<GcRow>> {
    let mut rows = Vec::new();
    for (v, verdict) in gc_plan(cached, wanted) {
        let dirs = cache.version_dirs(&v);
        let usage = dirs.usage();
        let mut freed = false;
        let action = match verdict {
            Verdict::Keep(why) => format!("keep: {why}"),
            Verdict::Remove(why) => {
                if let Some(w) = outside_worktree(cache, &dirs.tree.join("src")) {
                    format!("kept: {why}, but its git worktree {w} lives outside the cache")
                } else {
                    match try_exclusive(cache, &v)? {
                        None => format!("kept: {why}, but a running asi-tool uses it"),
                        Some(_lock) => {
                            if !dry_run {
                                for d in dirs.all() {
                                    if d.exists() {
                                        std::fs::remove_dir_all(d).with_context(|| {
                                            format!("cannot remove {}", d.display())
                                        })?;
                                    }
                                }
                            }
                            freed = true;
                            let verb = if dry_run { "would remove" } else { "removed" };
                            format!("{verb}: {why}")
                        }
                    }
                }
            }
        };
        rows.push(GcRow {
            version: v,
            usage,
            action,
            freed,
        });
    }
    Ok(rows)
}

/// A git worktree of `repo` that is not asi-tool's (somebody's checkout).
fn outside_worktree(cache: &Cache, repo: &Path) -> Option<String> {
    let entries = std::fs::read_dir(repo.join(".git/worktrees")).ok()?;
    let root = cache.root().canonicalize().ok()?;
    for e in entries.flatten() {
        let Ok(gitdir) = std::fs::read_to_string(e.path().join("gitdir")) else {
            continue;
        };
        let wt = PathBuf::from(gitdir.trim());
        let wt = wt.parent().unwrap_or(&wt).to_path_buf();
        if wt.exists() && !wt.canonicalize().is_ok_and(|w| w.starts_with(&root)) {
            return Some(wt.display().to_string());
        }
    }
    None
}

/// Free bytes on the filesystem holding `path` (or its nearest existing parent).
pub fn free_bytes(path: &Path) -> Option<u64> {
    let mut probe = path.to_path_buf();
    while !probe.exists() {
        probe = probe.parent()?.to_path_buf();
    }
    let out = std::process::Command::new("df")
        .args(["-Pk", "--"])
        .arg(&probe)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().nth(1)?;
    let avail_kib: u64 = line.split_whitespace().nth(3)?.parse().ok()?;
    Some(avail_kib * 1024)
}

/// Fails with a clear message when less than `need` bytes are free at `path`.
pub fn require_space(path: &Path, need: u64, what: &str) -> Result<()> {
    if let Some(free) = free_bytes(path) {
        if free < need {
            return Err(crate::error::fail(
                crate::error::Exit::Infra,
                format!(
                    "not enough disk space for {what}: {} free at {}, need about {}. \
                     Free some space (asi-tool kernel list shows what the cache holds) \
                     or point --cache-dir elsewhere.",
                    human_bytes(free),
                    path.display(),
                    human_bytes(need)
                ),
            ));
        }
    }
    Ok(())
}

pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        let c = Cache::at("/c");
        assert_eq!(c.kernel("6.12.107"), PathBuf::from("/c/kernels/6.12.107"));
        assert_eq!(c.build("x"), PathBuf::from("/c/build/x"));
    }

    #[test]
    fn gc_keeps_pinned_versions_and_the_newest_of_each_line() {
        let cached: Vec<String> = ["6.12.100", "6.12.107", "7.2.12", "7.2.13", "7.3.4", "6.6.1"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let wanted = vec![
            ("6.12.107".to_string(), "pinned".to_string()),
            ("7.2".to_string(), "matrix 7.2".to_string()),
            ("7.3".to_string(), "matrix 7.3".to_string()),
        ];
        let plan = gc_plan(&cached, &wanted);
        let keep: Vec<&str> = plan
            .iter()
            .filter(|(_, v)| matches!(v, Verdict::Keep(_)))
            .map(|(n, _)| n.as_str())
            .collect();
        assert_eq!(keep, ["6.12.107", "7.2.13", "7.3.4"]);
        let why = plan.iter().find(|(n, _)| n == "7.2.12").unwrap();
        assert!(matches!(&why.1, Verdict::Remove(r) if r.contains("7.2.13 is newer")));
        assert!(matches!(&plan[0].1, Verdict::Remove(_)));
    }

    #[test]
    fn version_locks_are_shared_and_block_gc() {
        let d = tempfile::tempdir().unwrap();
        let c = Cache::at(d.path());
        assert!(try_exclusive(&c, "7.2.13").unwrap().is_some());
        hold_version(&c, "7.2.13").unwrap();
        hold_version(&c, "7.2.13").unwrap();
        // flock locks belong to the open file: a second open sees the holder.
        assert!(try_exclusive(&c, "7.2.13").unwrap().is_none());
        assert!(try_exclusive(&c, "7.3.4").unwrap().is_some());
        let dirs = c.version_dirs("7.3.4");
        assert_eq!(dirs.all().len(), 5);
        std::fs::create_dir_all(&dirs.builds[0]).unwrap();
        std::fs::write(dirs.builds[0].join("x"), [0u8; 100]).unwrap();
        assert_eq!(dirs.usage().build, 100);
        assert_eq!(dirs.usage().total(), 100);
    }

    #[test]
    fn gc_removes_unwanted_versions_but_not_ones_in_use() {
        let d = tempfile::tempdir().unwrap();
        let c = Cache::at(d.path());
        for v in ["7.1.1", "7.1.2", "7.2.1"] {
            for dir in c.version_dirs(v).all() {
                std::fs::create_dir_all(dir).unwrap();
                std::fs::write(dir.join("f"), [0u8; 10]).unwrap();
            }
        }
        let cached: Vec<String> = ["7.1.1", "7.1.2", "7.2.1"].map(String::from).to_vec();
        let wanted = vec![("7.2".to_string(), "matrix".to_string())];
        hold_version(&c, "7.1.2").unwrap();
        let dry = gc(&c, &cached, &wanted, true).unwrap();
        assert!(dry[0].freed && dry[0].action.starts_with("would remove"));
        assert!(c.kernel("7.1.1").exists());
        // The debug kernel's build directories go with their version
        // (and 7.1.1's are not 7.1.12's).
        for b in ["7.1.1-debug", "7.1.1-baseline-debug", "7.1.12-debug"] {
            std::fs::create_dir_all(c.build(b)).unwrap();
            std::fs::write(c.build(b).join("f"), [0u8; 10]).unwrap();
        }
        assert_eq!(
            c.version_dirs("7.1.1").builds,
            [
                "7.1.1",
                "7.1.1-baseline",
                "7.1.1-baseline-debug",
                "7.1.1-debug"
            ]
            .map(|b| c.build(b))
        );
        let rows = gc(&c, &cached, &wanted, false).unwrap();
        assert_eq!(rows[0].usage.total(), 70);
        assert!(rows[0].freed && !c.kernel("7.1.1").exists());
        assert!(!c.build("7.1.1-baseline").exists());
        assert!(!c.build("7.1.1-debug").exists() && !c.build("7.1.1-baseline-debug").exists());
        assert!(c.build("7.1.12-debug").exists());
        assert!(!rows[1].freed && rows[1].action.contains("running asi-tool uses it"));
        assert!(c.kernel("7.1.2").exists());
        assert!(!rows[2].freed && rows[2].action.starts_with("keep"));
    }

    #[test]
    fn bytes() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(3 * 1024 * 1024 * 1024), "3.0 GiB");
    }

    #[test]
    fn space_check_fails_when_impossible() {
        let dir = tempfile::tempdir().unwrap();
        let err = require_space(dir.path(), u64::MAX / 2, "a test").unwrap_err();
        assert_eq!(crate::error::exit_code_of(&err), crate::error::Exit::Infra);
        assert!(format!("{err}").contains("not enough disk space"));
        require_space(dir.path(), 1, "a test").unwrap();
    }
}
