//! Kernel configuration: `kconfig/*.config` fragments merged with the
//! kernel's own `scripts/kconfig/merge_config.sh`, then `olddefconfig`, then
//! a hard check that every requested value survived. merge_config.sh only
//! warns when Kconfig drops an option (unmet dependency, unknown symbol);
//! here that is an error (exit 5) naming each dropped option.
//!
//! A fragment whose first lines contain `# asi-tool: needs-patches` asks
//! for symbols that only exist with the queue applied; it is left out when
//! configuring an unpatched baseline.

use crate::cmd;
use crate::error::{fail, Exit};
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use xshell::{cmd, Shell};

pub const NEEDS_PATCHES: &str = "# asi-tool: needs-patches";
/// The base configuration the fragments are merged onto.
pub const BASE_TARGET: &str = "x86_64_defconfig";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Set(String),
    NotSet,
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Set(v) => f.write_str(v),
            Value::NotSet => f.write_str("is not set"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Fragment {
    pub name: String,
    pub path: PathBuf,
    pub needs_patches: bool,
    pub options: Vec<(String, Value)>,
}

/// `CONFIG_X=v` and `# CONFIG_X is not set` lines; everything else ignored.
pub fn parse_config(text: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("# ") {
            if let Some(name) = rest.strip_suffix(" is not set") {
                if name.starts_with("CONFIG_") && !name.contains(' ') {
                    out.push((name.to_string(), Value::NotSet));
                }
            }
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            if k.starts_with("CONFIG_") && !k.contains(' ') {
                let value = if v == "n" {
                    Value::NotSet
                } else {
                    Value::Set(v.to_string())
                };
                out.push((k.to_string(), value));
            }
        }
    }
    out
}

/// The fragments of `dir`, sorted by name; `patched == false` leaves out
/// the ones that need the queue.
pub fn fragments(dir: &Path, patched: bool) -> Result<Vec<Fragment>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list config fragments in {}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "config"))
        .collect();
    paths.sort();
    let mut out = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let needs_patches = text.lines().take(10).any(|l| l.trim() == NEEDS_PATCHES);
        if needs_patches && !patched {
            continue;
        }
        let options = parse_config(&text);
        if options.is_empty() {
            return Err(fail(
                Exit::Infra,
                format!(
                    "{} sets no CONFIG_ option: not a Kconfig fragment",
                    path.display()
                ),
            ));
        }
        out.push(Fragment {
            name: path
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default(),
            path,
            needs_patches,
            options,
        });
    }
    if out.is_empty() {
        return Err(fail(
            Exit::Infra,
            format!("no *.config fragment in {}", dir.display()),
        ));
    }
    Ok(out)
}

/// What the fragments ask for, later fragments winning.
pub fn requested(frags: &[Fragment]) -> BTreeMap<String, Value> {
    let mut m = BTreeMap::new();
    for f in frags {
        for (k, v) in &f.options {
            m.insert(k.clone(), v.clone());
        }
    }
    m
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    pub option: String,
    pub requested: Value,
    pub actual: Value,
}

/// Requested values missing from the final `.config`.
pub fn dropped(requested: &BTreeMap<String, Value>, final_config: &str) -> Vec<Dropped> {
    let actual: BTreeMap<String, Value> = parse_config(final_config).into_iter().collect();
    requested
        .iter()
        .filter_map(|(k, want)| {
            let got = actual.get(k).cloned().unwrap_or(Value::NotSet);
            (got != *want).then(|| Dropped {
                option: k.clone(),
                requested: want.clone(),
                actual: got,
            })
        })
        .collect()
}

/// The result of `configure`.
#[derive(Debug, Clone)]
pub struct Configured {
    pub config: PathBuf,
    pub fragments: Vec<String>,
}

/// `make defconfig`, merge the fragments, `olddefconfig`, hard check.
pub fn configure(src: &Path, build: &Path, frags: &[Fragment]) -> Result<Configured> {
    crate::cache::Cache::ensure(build)?;
    let sh = Shell::new()?;
    sh.change_dir(src);
    let o = format!("O={}", build.display());
    cmd::run(&sh, cmd!(sh, "make -s {o} {BASE_TARGET}")).context("make defconfig failed")?;
    let config = build.join(".config");
    let paths: Vec<&Path> = frags.iter().map(|f| f.path.as_path()).collect();
    let merge = src.join("scripts/kconfig/merge_config.sh");
    cmd::run(
        &sh,
        cmd!(sh, "sh {merge} -m -O {build} {config} {paths...}"),
    )
    .context("scripts/kconfig/merge_config.sh failed")?;
    cmd::run(&sh, cmd!(sh, "make -s {o} olddefconfig")).context("make olddefconfig failed")?;
    let text = std::fs::read_to_string(&config)
        .with_context(|| format!("cannot read {}", config.display()))?;
    let lost = dropped(&requested(frags), &text);
    if !lost.is_empty() {
        let mut msg = format!(
            "{} requested Kconfig option(s) did not survive olddefconfig (unmet dependency or unknown symbol):",
            lost.len()
        );
        for d in &lost {
            let from = frags
                .iter()
                .rev()
                .find(|f| f.options.iter().any(|(k, _)| k == &d.option))
                .map(|f| f.name.as_str())
                .unwrap_or("?");
            msg.push_str(&format!(
                "\n  {} (from {from}): requested {}, got {}",
                d.option, d.requested, d.actual
            ));
        }
        msg.push_str(&format!(
            "\nCheck the dependencies with `make O={} menuconfig` (search with /) and fix the fragment.",
            build.display()
        ));
        return Err(fail(Exit::ConfigCheck, msg));
    }
    Ok(Configured {
        config,
        fragments: frags.iter().map(|f| f.name.clone()).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fragments() {
        let v = parse_config(
            "CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=\"s p\"\nCONFIG_D=n\n# comment\nFOO=1\n",
        );
        assert_eq!(
            v,
            vec![
                ("CONFIG_A".into(), Value::Set("y".into())),
                ("CONFIG_B".into(), Value::NotSet),
                ("CONFIG_C".into(), Value::Set("\"s p\"".into())),
                ("CONFIG_D".into(), Value::NotSet),
            ]
        );
    }

    #[test]
    fn finds_dropped_options() {
        let mut req = BTreeMap::new();
        req.insert("CONFIG_A".to_string(), Value::Set("y".into()));
        req.insert("CONFIG_B".to_string(), Value::NotSet);
        req.insert("CONFIG_C".to_string(), Value::Set("y".into()));
        req.insert("CONFIG_E".to_string(), Value::NotSet);
        let fin = "CONFIG_A=y\nCONFIG_B=y\n# CONFIG_C is not set\n";
        let d = dropped(&req, fin);
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].option, "CONFIG_B");
        assert_eq!(d[1].option, "CONFIG_C");
        assert_eq!(d[1].actual, Value::NotSet);
    }

    #[test]
    fn needs_patches_fragments_are_skipped_for_baseline() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("a.config"), "CONFIG_A=y\n").unwrap();
        std::fs::write(
            d.path().join("b.config"),
            format!("{NEEDS_PATCHES}\nCONFIG_B=y\n"),
        )
        .unwrap();
        assert_eq!(fragments(d.path(), true).unwrap().len(), 2);
        let base = fragments(d.path(), false).unwrap();
        assert_eq!(base.len(), 1);
        assert_eq!(base[0].name, "a.config");
        std::fs::write(d.path().join("c.config"), "just words\n").unwrap();
        assert!(fragments(d.path(), true).is_err());
    }

    /// A fake kernel tree whose merge_config.sh drops CONFIG_DROPPED, as
    /// Kconfig does with an option whose dependencies are not met, and
    /// whose olddefconfig turns CONFIG_FORCED on, as a `select` would.
    fn fake_tree(dir: &Path) {
        std::fs::create_dir_all(dir.join("scripts/kconfig")).unwrap();
        std::fs::write(
            dir.join("Makefile"),
            "x86_64_defconfig:\n\tprintf 'CONFIG_BASE=y\\n' > $(O)/.config\n\
             olddefconfig:\n\tsed -i 's/^# CONFIG_FORCED is not set/CONFIG_FORCED=y/' $(O)/.config\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("scripts/kconfig/merge_config.sh"),
            "#!/bin/sh\n# fixture: -m -O DIR BASE FRAGS...\nshift; shift; out=$1; shift; base=$1; shift\n\
             cat \"$@\" | grep -v DROPPED >> \"$out/.config\"\necho merged\n",
        )
        .unwrap();
    }

    #[test]
    fn configure_fails_hard_on_a_dropped_option() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src");
        let build = d.path().join("build");
        fake_tree(&src);
        let frag_dir = d.path().join("kconfig");
        std::fs::create_dir_all(&frag_dir).unwrap();
        std::fs::write(frag_dir.join("ok.config"), "CONFIG_KEPT=y\n").unwrap();
        let frags = fragments(&frag_dir, true).unwrap();
        let done = configure(&src, &build, &frags).unwrap();
        assert!(std::fs::read_to_string(done.config)
            .unwrap()
            .contains("CONFIG_KEPT=y"));

        std::fs::write(
            frag_dir.join("zz.config"),
            "CONFIG_DROPPED=y\n# CONFIG_FORCED is not set\n",
        )
        .unwrap();
        let frags = fragments(&frag_dir, true).unwrap();
        let err = configure(&src, &build, &frags).unwrap_err();
        assert_eq!(crate::error::exit_code_of(&err), Exit::ConfigCheck);
        let msg = format!("{err}");
        assert!(
            msg.contains("CONFIG_DROPPED (from zz.config): requested y, got is not set"),
            "{msg}"
        );
        assert!(
            msg.contains("CONFIG_FORCED (from zz.config): requested is not set, got y"),
            "{msg}"
        );
        assert!(msg.starts_with("2 requested Kconfig option(s)"), "{msg}");
    }
}
