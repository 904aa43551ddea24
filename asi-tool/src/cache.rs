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

    pub fn ensure(dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
    }
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
