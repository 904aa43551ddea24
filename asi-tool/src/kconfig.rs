//! Kernel configuration: `kconfig/*.config` fragments merged with the
//! kernel's own `scripts/kconfig/merge_config.sh`, then `olddefconfig`, then
//! a hard check that every requested value survived. merge_config.sh only
//! warns when Kconfig drops an option (unmet dependency, unknown symbol);
//! here that is an error (exit 5) naming each dropped option.
//!
//! A fragment whose first lines contain `# asi-tool: needs-patches` asks
//! for symbols that only exist with the queue applied; it is left out when
//! configuring an unpatched baseline. One with `# asi-tool: if-kconfig
//! SYMBOL` configures a feature not every kernel version has yet (the
//! queue of 6.12 may be ahead of the per-version variants): it is merged
//! only if the kernel tree declares SYMBOL (`config SYMBOL` or `menuconfig
//! SYMBOL` in a `Kconfig*` file), and otherwise left out, saying so.
//!
//! Every fragment is merged into every build, except one marked `# asi-tool:
//! opt-in` (e.g. `70-debug.config`, the debug kernel): it is merged only
//! into a build that names it (`--kconfig 70-debug.config`, a matrix
//! config's `kconfig = [...]`), and such a build gets a build directory of
//! its own ([`build_suffix`]), so that it never dirties the normal one.

use crate::cmd;
use crate::error::{fail, Exit};
use anyhow::{Context, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use xshell::{cmd, Shell};

pub const NEEDS_PATCHES: &str = "# asi-tool: needs-patches";
pub const IF_KCONFIG: &str = "# asi-tool: if-kconfig";
pub const OPT_IN: &str = "# asi-tool: opt-in";
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
    /// `# asi-tool: opt-in`: merged only into builds that name it.
    pub opt_in: bool,
    /// `# asi-tool: if-kconfig` symbols (without `CONFIG_`): merged only
    /// when the kernel tree declares all of them.
    pub if_kconfig: Vec<String>,
    pub options: Vec<(String, Value)>,
}

/// A Kconfig symbol as written in a manifest or a fragment header
/// (`CONFIG_ASI_NETNS` or `ASI_NETNS`), without its `CONFIG_` prefix;
/// `None` unless it is made of `A-Z`, `0-9` and `_`.
pub fn symbol_name(s: &str) -> Option<&str> {
    let s = s.trim();
    let name = s.strip_prefix("CONFIG_").unwrap_or(s);
    (!name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'))
    .then_some(name)
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

/// The fragments of `dir` for a kernel tree, sorted by name.
#[derive(Debug, Clone)]
pub struct Selection {
    /// What will be merged.
    pub merged: Vec<Fragment>,
    /// Fragments left out because `tree` does not declare one of their
    /// `if-kconfig` symbols, with that symbol.
    pub left_out: Vec<(Fragment, String)>,
}

/// The fragments of `dir`, sorted by name, for the kernel source tree
/// `tree`; `patched == false` leaves out the ones that need the queue,
/// `extra` names the opt-in fragments to merge too (see [`load`]), and an
/// `if-kconfig` fragment is left out when `tree` lacks its symbol.
pub fn fragments(dir: &Path, patched: bool, extra: &[String], tree: &Path) -> Result<Selection> {
    let all = load(dir, patched, extra)?;
    let wanted: BTreeSet<String> = all.iter().flat_map(|f| f.if_kconfig.clone()).collect();
    let declared = declared_symbols(tree, &wanted)?;
    let mut sel = Selection {
        merged: vec![],
        left_out: vec![],
    };
    for f in all {
        match f.if_kconfig.iter().find(|s| !declared.contains(*s)) {
            Some(missing) => {
                let missing = missing.clone();
                sel.left_out.push((f, missing));
            }
            None => sel.merged.push(f),
        }
    }
    Ok(sel)
}

/// The first lines of a fragment, where its `# asi-tool:` headers are.
fn header(text: &str) -> Vec<&str> {
    text.lines().take(10).map(str::trim).collect()
}

/// A fragment's short name, the build-directory suffix it gives:
/// `70-debug.config` → `debug` (the leading number and `-` dropped).
fn short_name(name: &str) -> &str {
    let stem = name.strip_suffix(".config").unwrap_or(name);
    let rest = stem.trim_start_matches(|c: char| c.is_ascii_digit());
    match rest.strip_prefix('-') {
        Some(r) if rest.len() < stem.len() && !r.is_empty() => r,
        _ => stem,
    }
}

/// The suffix of the build directory of a build with the opt-in fragments
/// `extra` (`build/<version>-<suffix>`, `build/<version>-baseline-<suffix>`):
/// their short names in name order, joined by `-`; `None` for no extra
/// fragment (the normal build directory).
pub fn build_suffix(extra: &[String]) -> Option<String> {
    let mut names: Vec<&str> = extra.iter().map(|n| short_name(n)).collect();
    names.sort();
    names.dedup();
    (!names.is_empty()).then(|| names.join("-"))
}

/// Checks that each of `extra` names an opt-in fragment of `dir` (a file
/// `dir/<name>` with the `# asi-tool: opt-in` header), reading nothing but
/// their headers: what `ci/matrix.toml`'s `kconfig` keys and `--kconfig`
/// must name. Opt-in fragments must have distinct short names (they name
/// build directories). The error is a sentence naming what is there.
pub fn check_extra(dir: &Path, extra: &[String]) -> std::result::Result<(), String> {
    let mut opt_in: Vec<String> = Vec::new();
    let mut all: Vec<String> = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if !name.ends_with(".config") {
                continue;
            }
            let text = std::fs::read_to_string(e.path()).unwrap_or_default();
            if header(&text).contains(&OPT_IN) {
                opt_in.push(name.clone());
            }
            all.push(name);
        }
    }
    opt_in.sort();
    for (i, a) in opt_in.iter().enumerate() {
        if let Some(b) = opt_in[i + 1..]
            .iter()
            .find(|b| short_name(b) == short_name(a))
        {
            return Err(format!(
                "{} and {b} would share the build directory suffix -{}: rename one",
                a,
                short_name(a)
            ));
        }
    }
    let there = if opt_in.is_empty() {
        "none".to_string()
    } else {
        opt_in.join(", ")
    };
    for name in extra {
        if opt_in.contains(name) {
            continue;
        }
        return Err(if all.contains(name) {
            format!(
                "{name} is merged into every build: only a fragment marked `{OPT_IN}` \
                 can be asked for (opt-in fragments: {there})"
            )
        } else {
            format!(
                "no Kconfig fragment {name:?} in {} (opt-in fragments: {there})",
                dir.display()
            )
        });
    }
    Ok(())
}

/// The fragments of `dir`, sorted by name, read and checked without a
/// kernel tree (so before any fetch): each must set at least one option,
/// and its `if-kconfig` lines must name one symbol each. An opt-in
/// fragment is among them only if `extra` names it; a name in `extra`
/// that is not an opt-in fragment of `dir` is a usage error.
pub fn load(dir: &Path, patched: bool, extra: &[String]) -> Result<Vec<Fragment>> {
    check_extra(dir, extra).map_err(|e| fail(Exit::Usage, format!("--kconfig: {e}")))?;
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list config fragments in {}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "config"))
        .collect();
    paths.sort();
    let mut all = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let header = header(&text);
        let needs_patches = header.contains(&NEEDS_PATCHES);
        if needs_patches && !patched {
            continue;
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let opt_in = header.contains(&OPT_IN);
        if opt_in && !extra.contains(&name) {
            continue;
        }
        let mut if_kconfig = Vec::new();
        for arg in header.iter().filter_map(|l| l.strip_prefix(IF_KCONFIG)) {
            match symbol_name(arg) {
                Some(sym) if arg.starts_with(char::is_whitespace) => {
                    if_kconfig.push(sym.to_string())
                }
                _ => {
                    return Err(fail(
                        Exit::Infra,
                        format!(
                            "{}: `{IF_KCONFIG}` needs one Kconfig symbol after it, \
                             e.g. `{IF_KCONFIG} ASI_NETNS` (got {:?})",
                            path.display(),
                            arg.trim()
                        ),
                    ))
                }
            }
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
        all.push(Fragment {
            name,
            path,
            needs_patches,
            opt_in,
            if_kconfig,
            options,
        });
    }
    if all.is_empty() {
        return Err(fail(
            Exit::Infra,
            format!("no *.config fragment in {}", dir.display()),
        ));
    }
    Ok(all)
}

/// Which of `wanted` the kernel source tree `tree` declares: a `config SYM`
/// or `menuconfig SYM` line in a file named `Kconfig*` (hidden directories
/// such as `.git` are not searched). Walks the tree only if `wanted` is not
/// empty, and stops once every symbol is found.
pub fn declared_symbols(tree: &Path, wanted: &BTreeSet<String>) -> Result<BTreeSet<String>> {
    let mut found = BTreeSet::new();
    if wanted.is_empty() {
        return Ok(found);
    }
    if !tree.is_dir() {
        return Err(fail(
            Exit::Infra,
            format!(
                "cannot look for Kconfig symbols in {}: not a directory",
                tree.display()
            ),
        ));
    }
    let walk = walkdir::WalkDir::new(tree)
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
    for entry in walk {
        let entry = entry
            .with_context(|| format!("cannot walk {} looking for Kconfig files", tree.display()))?;
        if !entry.file_type().is_file()
            || !entry.file_name().to_string_lossy().starts_with("Kconfig")
        {
            continue;
        }
        let bytes = std::fs::read(entry.path())
            .with_context(|| format!("cannot read {}", entry.path().display()))?;
        for line in String::from_utf8_lossy(&bytes).lines() {
            let mut words = line.split_whitespace();
            if let (Some("config" | "menuconfig"), Some(sym)) = (words.next(), words.next()) {
                if wanted.contains(sym) {
                    found.insert(sym.to_string());
                }
            }
        }
        if found.len() == wanted.len() {
            break;
        }
    }
    Ok(found)
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
        let names: BTreeSet<String> = lost
            .iter()
            .map(|d| d.option.trim_start_matches("CONFIG_").to_string())
            .collect();
        let declared = declared_symbols(src, &names)?;
        return Err(fail(
            Exit::ConfigCheck,
            dropped_message(&lost, frags, &declared, build),
        ));
    }
    Ok(Configured {
        config,
        fragments: frags.iter().map(|f| f.name.clone()).collect(),
    })
}

/// Explains each dropped option: an unmet dependency, or a symbol this
/// tree does not declare at all (usually: the queue is not applied).
fn dropped_message(
    lost: &[Dropped],
    frags: &[Fragment],
    declared: &BTreeSet<String>,
    build: &Path,
) -> String {
    let mut msg = format!(
        "{} requested Kconfig option(s) did not survive olddefconfig:",
        lost.len()
    );
    let mut unknown = 0;
    for d in lost {
        let from = frags
            .iter()
            .rev()
            .find(|f| f.options.iter().any(|(k, _)| k == &d.option))
            .map(|f| f.name.as_str())
            .unwrap_or("?");
        let why = if declared.contains(d.option.trim_start_matches("CONFIG_")) {
            "unmet dependency"
        } else {
            unknown += 1;
            "not declared by this tree"
        };
        msg.push_str(&format!(
            "\n  {} (from {from}): requested {}, got {} ({why})",
            d.option, d.requested, d.actual
        ));
    }
    if unknown > 0 {
        msg.push_str(
            "\nSymbols this tree does not declare come from the patch queue: apply it first \
             (`asi-tool apply`), or configure the unpatched kernel with `asi-tool config --baseline`.",
        );
    }
    if unknown < lost.len() {
        msg.push_str(&format!(
            "\nCheck the dependencies with `make O={} menuconfig` (search with /) and fix the fragment.",
            build.display()
        ));
    }
    msg
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
    fn dropped_message_tells_unknown_symbols_from_unmet_dependencies() {
        let frag = Fragment {
            name: "50-asi.config".into(),
            path: PathBuf::from("kconfig/50-asi.config"),
            needs_patches: true,
            opt_in: false,
            if_kconfig: vec![],
            options: vec![
                ("CONFIG_ASI_NETNS".into(), Value::Set("y".into())),
                ("CONFIG_VETH".into(), Value::Set("y".into())),
            ],
        };
        let lost = vec![
            Dropped {
                option: "CONFIG_ASI_NETNS".into(),
                requested: Value::Set("y".into()),
                actual: Value::NotSet,
            },
            Dropped {
                option: "CONFIG_VETH".into(),
                requested: Value::Set("y".into()),
                actual: Value::NotSet,
            },
        ];
        let declared: BTreeSet<String> = ["VETH".to_string()].into();
        let m = dropped_message(&lost, &[frag], &declared, Path::new("/b"));
        assert!(m.contains("CONFIG_ASI_NETNS (from 50-asi.config): requested y, got is not set (not declared by this tree)"), "{m}");
        assert!(
            m.contains(
                "CONFIG_VETH (from 50-asi.config): requested y, got is not set (unmet dependency)"
            ),
            "{m}"
        );
        assert!(m.contains("`asi-tool apply`"), "{m}");
        assert!(m.contains("make O=/b menuconfig"), "{m}");
        let only_unknown = dropped_message(&lost[..1], &[], &declared, Path::new("/b"));
        assert!(!only_unknown.contains("menuconfig"), "{only_unknown}");
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
        let tree = d.path();
        assert_eq!(
            fragments(d.path(), true, &[], tree).unwrap().merged.len(),
            2
        );
        let base = fragments(d.path(), false, &[], tree).unwrap();
        assert_eq!(base.merged.len(), 1);
        assert_eq!(base.merged[0].name, "a.config");
        assert!(base.left_out.is_empty());
        std::fs::write(d.path().join("c.config"), "just words\n").unwrap();
        assert!(fragments(d.path(), true, &[], tree).is_err());
    }

    /// An opt-in fragment is merged only when named, gets a build
    /// directory suffix of its own, and naming anything else is refused.
    #[test]
    fn opt_in_fragments_are_merged_only_when_named() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path();
        std::fs::write(dir.join("00-base.config"), "CONFIG_A=y\n").unwrap();
        std::fs::write(
            dir.join("50-asi.config"),
            format!("{NEEDS_PATCHES}\nCONFIG_ASI=y\n"),
        )
        .unwrap();
        std::fs::write(
            dir.join("70-debug.config"),
            format!("# The debug kernel.\n{OPT_IN}\nCONFIG_KASAN=y\n"),
        )
        .unwrap();
        let names = |patched, extra: &[&str]| -> Vec<String> {
            let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
            fragments(dir, patched, &extra, dir)
                .unwrap()
                .merged
                .iter()
                .map(|f| f.name.clone())
                .collect()
        };
        // The default build never gets it.
        assert_eq!(names(true, &[]), ["00-base.config", "50-asi.config"]);
        assert_eq!(names(false, &[]), ["00-base.config"]);
        // Named, it is merged in name order, patched or not.
        assert_eq!(
            names(true, &["70-debug.config"]),
            ["00-base.config", "50-asi.config", "70-debug.config"]
        );
        assert_eq!(
            names(false, &["70-debug.config"]),
            ["00-base.config", "70-debug.config"]
        );
        assert!(load(dir, true, &["70-debug.config".into()]).unwrap()[2].opt_in);
        // Unknown names, and fragments every build gets, are usage errors.
        for (bad, why) in [
            ("70-debg.config", "no Kconfig fragment \"70-debg.config\""),
            ("debug", "no Kconfig fragment \"debug\""),
            ("../kconfig/70-debug.config", "no Kconfig fragment"),
            (
                "00-base.config",
                "00-base.config is merged into every build",
            ),
        ] {
            let e = load(dir, true, &[bad.to_string()]).unwrap_err();
            let msg = format!("{e}");
            assert!(msg.contains(why), "{bad}: {msg}");
            assert!(msg.contains("(opt-in fragments: 70-debug.config)"), "{msg}");
            assert_eq!(crate::error::exit_code_of(&e), Exit::Usage, "{bad}");
        }
        // Two opt-in fragments may not share a build directory suffix.
        std::fs::write(
            dir.join("80-debug.config"),
            format!("{OPT_IN}\nCONFIG_B=y\n"),
        )
        .unwrap();
        let e = check_extra(dir, &[]).unwrap_err();
        assert!(e.contains("share the build directory suffix -debug"), "{e}");
    }

    #[test]
    fn build_suffixes() {
        let s =
            |names: &[&str]| build_suffix(&names.iter().map(|n| n.to_string()).collect::<Vec<_>>());
        assert_eq!(s(&[]), None);
        assert_eq!(s(&["70-debug.config"]).as_deref(), Some("debug"));
        assert_eq!(s(&["debug.config"]).as_deref(), Some("debug"));
        assert_eq!(s(&["70.config"]).as_deref(), Some("70"));
        assert_eq!(
            s(&["80-kcsan.config", "70-debug.config"]).as_deref(),
            Some("debug-kcsan")
        );
    }

    #[test]
    fn symbol_names() {
        assert_eq!(symbol_name("CONFIG_ASI_NETNS"), Some("ASI_NETNS"));
        assert_eq!(symbol_name("ASI_NETNS"), Some("ASI_NETNS"));
        assert_eq!(symbol_name(" X86_64 "), Some("X86_64"));
        for bad in ["", "CONFIG_", "asi_netns", "ASI-NETNS", "A B", "CONFIG_A=y"] {
            assert_eq!(symbol_name(bad), None, "{bad:?}");
        }
    }

    /// A kernel tree declaring `ASI` (config) and `ASI_MENU` (menuconfig)
    /// in Kconfig files, with decoys a search must not count.
    fn kconfig_tree(dir: &Path) {
        std::fs::create_dir_all(dir.join("mm")).unwrap();
        std::fs::create_dir_all(dir.join("arch/x86")).unwrap();
        std::fs::create_dir_all(dir.join(".git")).unwrap();
        std::fs::write(
            dir.join("mm/Kconfig"),
            "menu \"x\"\n\tconfig ASI\n\tbool \"ASI\"\n\tdepends on ASI_NETNS_OLD\n",
        )
        .unwrap();
        std::fs::write(dir.join("arch/x86/Kconfig.cpu"), "menuconfig ASI_MENU\n").unwrap();
        // Not Kconfig files, or hidden: never declarations.
        std::fs::write(dir.join("mm/Makefile"), "config ASI_NOT_KCONFIG\n").unwrap();
        std::fs::write(dir.join(".git/Kconfig"), "config ASI_HIDDEN\n").unwrap();
        std::fs::write(dir.join("mm/Kconfig.debug"), "# config ASI_COMMENT\n").unwrap();
    }

    #[test]
    fn finds_declared_symbols() {
        let d = tempfile::tempdir().unwrap();
        kconfig_tree(d.path());
        let wanted: BTreeSet<String> = [
            "ASI",
            "ASI_MENU",
            "ASI_NOT_KCONFIG",
            "ASI_HIDDEN",
            "ASI_COMMENT",
            "ASI_NETNS_OLD",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        let found = declared_symbols(d.path(), &wanted).unwrap();
        assert_eq!(
            found.into_iter().collect::<Vec<_>>(),
            vec!["ASI".to_string(), "ASI_MENU".to_string()]
        );
        assert!(
            declared_symbols(&d.path().join("missing"), &BTreeSet::new())
                .unwrap()
                .is_empty()
        );
        let e = declared_symbols(&d.path().join("missing"), &wanted).unwrap_err();
        assert!(format!("{e}").contains("not a directory"), "{e}");
    }

    #[test]
    fn if_kconfig_fragments_need_the_symbol_in_the_tree() {
        let d = tempfile::tempdir().unwrap();
        let tree = d.path().join("linux");
        kconfig_tree(&tree);
        let frags = d.path().join("kconfig");
        std::fs::create_dir_all(&frags).unwrap();
        std::fs::write(frags.join("10-base.config"), "CONFIG_A=y\n").unwrap();
        std::fs::write(
            frags.join("20-asi.config"),
            format!("# ASI\n{IF_KCONFIG} CONFIG_ASI\nCONFIG_ASI=y\n"),
        )
        .unwrap();
        std::fs::write(
            frags.join("60-asi-netns.config"),
            format!("{IF_KCONFIG} ASI_NETNS\n{NEEDS_PATCHES}\nCONFIG_ASI_NETNS=y\n"),
        )
        .unwrap();
        let sel = fragments(&frags, true, &[], &tree).unwrap();
        let names: Vec<&str> = sel.merged.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["10-base.config", "20-asi.config"]);
        assert_eq!(sel.merged[1].if_kconfig, ["ASI"]);
        assert_eq!(sel.left_out.len(), 1);
        assert_eq!(sel.left_out[0].0.name, "60-asi-netns.config");
        assert_eq!(sel.left_out[0].1, "ASI_NETNS");
        // Once the tree declares it, it is merged.
        std::fs::write(tree.join("mm/Kconfig.asi"), "config ASI_NETNS\n").unwrap();
        let sel = fragments(&frags, true, &[], &tree).unwrap();
        assert_eq!(sel.merged.len(), 3);
        assert!(sel.left_out.is_empty());
        // needs-patches wins for a baseline: not even considered.
        let sel = fragments(&frags, false, &[], &tree).unwrap();
        assert_eq!(sel.merged.len(), 2);
        assert!(sel.left_out.is_empty());
        // A header without a valid symbol is an error naming the fragment.
        for bad in ["", " asi netns", "ASI_NETNS"] {
            std::fs::write(
                frags.join("70-bad.config"),
                format!("{IF_KCONFIG}{bad}\nCONFIG_B=y\n"),
            )
            .unwrap();
            let e = fragments(&frags, true, &[], &tree).unwrap_err();
            let msg = format!("{e}");
            assert!(msg.contains("70-bad.config"), "{msg}");
            assert!(msg.contains("needs one Kconfig symbol"), "{msg}");
        }
    }

    #[test]
    fn configure_checks_only_merged_fragments() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src");
        let build = d.path().join("build");
        fake_tree(&src);
        let frag_dir = d.path().join("kconfig");
        std::fs::create_dir_all(&frag_dir).unwrap();
        std::fs::write(frag_dir.join("ok.config"), "CONFIG_KEPT=y\n").unwrap();
        // Would be dropped (and fail the check) if it were merged.
        std::fs::write(
            frag_dir.join("zz.config"),
            format!("{IF_KCONFIG} DROPPED\nCONFIG_DROPPED=y\n"),
        )
        .unwrap();
        let sel = fragments(&frag_dir, true, &[], &src).unwrap();
        assert_eq!(sel.left_out.len(), 1);
        let done = configure(&src, &build, &sel.merged).unwrap();
        assert_eq!(done.fragments, ["ok.config"]);
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
        let frags = fragments(&frag_dir, true, &[], &src).unwrap().merged;
        let done = configure(&src, &build, &frags).unwrap();
        assert!(std::fs::read_to_string(done.config)
            .unwrap()
            .contains("CONFIG_KEPT=y"));

        std::fs::write(
            frag_dir.join("zz.config"),
            "CONFIG_DROPPED=y\n# CONFIG_FORCED is not set\n",
        )
        .unwrap();
        let frags = fragments(&frag_dir, true, &[], &src).unwrap().merged;
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
