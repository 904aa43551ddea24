//! The in-guest tests of `test-vms/manifest.toml`: built on the host, run
//! in the guest by a generated script, judged from their exit code and
//! KTAP output.
//!
//! Tests that ask for the same kernel command line share one boot. Inside
//! the guest each test runs under `timeout`, its output and exit code go to
//! files in the run directory (a virtme-ng `--rwdir`), so a hang or a panic
//! in one test still leaves the others' results on the host.

use crate::cmd;
use crate::error::{fail, Exit};
use crate::kconfig::{self, Value};
use crate::ktap;
use crate::results::{CaseResult, Status};
use crate::vm;
use anyhow::{Context, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use xshell::{cmd, Shell};

pub const MANIFEST: &str = "test-vms/manifest.toml";
/// kselftest's exit code for "skipped".
const KSFT_SKIP: i32 = 4;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestSpec {
    pub name: String,
    /// `kernel:PATH` (in the patched kernel tree) or a path under test-vms/.
    pub source: String,
    #[serde(default)]
    pub args: Vec<String>,
    /// Extra libraries for a C test, e.g. `["-lcap"]` (static).
    #[serde(default)]
    pub libs: Vec<String>,
    /// Kernel command line of the boot this test runs in.
    #[serde(default)]
    pub append: String,
    /// Seconds; kselftest's default is 45.
    #[serde(default = "default_timeout")]
    pub timeout: u64,
    /// Only meaningful with the queue applied (left out of a baseline run).
    #[serde(default)]
    pub needs_patches: bool,
    /// This test's own `append` is what it checks (e.g. `asi=off`): a run's
    /// extra command line (`test --append`, a matrix cell) is not added to
    /// its boot.
    #[serde(default)]
    pub pinned: bool,
    /// Kconfig symbols (`CONFIG_ASI_NETNS` or `ASI_NETNS`) the built kernel
    /// must set to `y` or `m`; without them the test is not built and is
    /// recorded as SKIP (a version whose queue lacks the feature).
    #[serde(default)]
    pub requires_config: Vec<String>,
    /// Files of the kernel tree, relative to its top (e.g. the feature's
    /// selftest), that the queue for this version must have added; without
    /// them the test is not built and is recorded as SKIP. For a feature
    /// that has no Kconfig symbol of its own (a prctl, a syscall flag).
    #[serde(default)]
    pub requires_files: Vec<String>,
    /// Boot a NUMA guest of this many nodes ([`NUMA_NODES`]); `None`: an
    /// ordinary guest without NUMA. The guest memory is split evenly
    /// across the nodes and the vCPUs in contiguous ranges
    /// ([`vm::numa_args`]).
    #[serde(default)]
    pub numa_nodes: Option<u32>,
    /// The test crashes its guest kernel on purpose, once, after loading a
    /// capture kernel (`kexec -p`), which boots, runs the boot's script
    /// again and lets the test read `/proc/vmcore`. Its boot is its own,
    /// and the console scan passes over that one panic (see
    /// [`vm::find_report_around_crash_dump`]); any other report still
    /// fails the boot. The guest script exports `ASI_KERNEL_IMAGE`, the
    /// image to load.
    #[serde(default)]
    pub crash_dump: bool,
}

/// The node counts a test may ask for with `numa_nodes`.
pub const NUMA_NODES: std::ops::RangeInclusive<i64> = 2..=8;

fn default_timeout() -> u64 {
    45
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestFile {
    #[serde(rename = "test", default)]
    tests: Vec<TestSpec>,
    #[serde(rename = "bench", default)]
    benches: Vec<TestSpec>,
}

/// What a run executes: the `[[test]]` entries (`asi-tool test`) or the
/// `[[bench]]` entries (`asi-tool bench`). Both are built, booted and run
/// the same way; a benchmark also prints a JSON report (see `bench`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suite {
    Tests,
    Benches,
}

/// The parsed manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub tests: Vec<TestSpec>,
    pub benches: Vec<TestSpec>,
}

impl Manifest {
    pub fn suite(&self, suite: Suite) -> &[TestSpec] {
        match suite {
            Suite::Tests => &self.tests,
            Suite::Benches => &self.benches,
        }
    }
}

/// Reads and checks the manifest.
pub fn load(project: &Path) -> Result<Manifest> {
    let path = project.join(MANIFEST);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    parse(&text).map_err(|e| fail(Exit::Infra, format!("{}: {e}", path.display())))
}

pub fn parse(text: &str) -> std::result::Result<Manifest, String> {
    check_numa_nodes(text)?;
    let m: ManifestFile = toml::from_str(text).map_err(|e| e.to_string())?;
    // Names are unique within a suite: a benchmark may share its name with
    // the test of the same feature (they never run in the same run).
    let mut seen = std::collections::BTreeSet::new();
    let suites = m.tests.iter().map(|t| ("test", t));
    for (kind, t) in suites.chain(m.benches.iter().map(|t| ("bench", t))) {
        if t.name.is_empty()
            || !t
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(format!(
                "test name {:?}: use letters, digits, _ and -",
                t.name
            ));
        }
        if !seen.insert((kind, t.name.clone())) {
            return Err(format!("{kind} {} is defined twice", t.name));
        }
        if t.timeout == 0 {
            return Err(format!("test {}: timeout must be > 0", t.name));
        }
        if let Some(bad) = t
            .requires_config
            .iter()
            .find(|s| kconfig::symbol_name(s).is_none())
        {
            return Err(format!(
                "{kind} {}: requires_config entry {bad:?} is not a Kconfig symbol: \
                 write it as CONFIG_ASI_NETNS or ASI_NETNS (capitals, digits and _)",
                t.name
            ));
        }
        if let Some(bad) = t.requires_files.iter().find(|f| !is_tree_path(f)) {
            return Err(format!(
                "{kind} {}: requires_files entry {bad:?} must be a path inside the kernel \
                 tree, relative to its top, without `..` (e.g. \
                 tools/testing/selftests/mm/map_exclusive_mode.c)",
                t.name
            ));
        }
    }
    if m.tests.is_empty() {
        return Err("no [[test]] entries".into());
    }
    Ok(Manifest {
        tests: m.tests,
        benches: m.benches,
    })
}

/// Checks every entry's `numa_nodes` before the typed parse, so that a
/// value out of range (or of the wrong type) is reported with the entry's
/// name and the range, not as a bare type error.
fn check_numa_nodes(text: &str) -> std::result::Result<(), String> {
    // A document that does not parse is reported by the typed parse.
    let Ok(doc) = toml::from_str::<toml::Table>(text) else {
        return Ok(());
    };
    for kind in ["test", "bench"] {
        let Some(entries) = doc.get(kind).and_then(|v| v.as_array()) else {
            continue;
        };
        for entry in entries {
            let Some(value) = entry.get("numa_nodes") else {
                continue;
            };
            if value.as_integer().is_some_and(|n| NUMA_NODES.contains(&n)) {
                continue;
            }
            let name = entry
                .get("name")
                .and_then(|n| n.as_str())
                .unwrap_or("(without a name)");
            return Err(format!(
                "{kind} {name}: numa_nodes = {value} is not a node count from {} to {}: \
                 write an integer in that range, or leave numa_nodes out for a guest without NUMA",
                NUMA_NODES.start(),
                NUMA_NODES.end()
            ));
        }
    }
    Ok(())
}

/// The `requires_config` symbols of `spec` that the kernel configuration
/// `config` (a parsed `.config`) does not set to `y` or `m`, as
/// `CONFIG_NAME`, in manifest order.
pub fn unmet_config(spec: &TestSpec, config: &[(String, Value)]) -> Vec<String> {
    spec.requires_config
        .iter()
        .filter_map(|s| kconfig::symbol_name(s))
        .map(|s| format!("CONFIG_{s}"))
        .filter(|want| {
            !config
                .iter()
                .any(|(k, v)| k == want && matches!(v, Value::Set(v) if v == "y" || v == "m"))
        })
        .collect()
}

/// A relative path that stays inside the tree it is joined to.
fn is_tree_path(path: &str) -> bool {
    let p = Path::new(path);
    !path.is_empty()
        && p.components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
}

/// The `requires_files` of `spec` that the kernel tree `kernel` lacks.
pub fn missing_files(spec: &TestSpec, kernel: &Path) -> Vec<String> {
    spec.requires_files
        .iter()
        .filter(|f| !kernel.join(f).is_file())
        .cloned()
        .collect()
}

/// Why a test is skipped when the kernel tree lacks its `requires_files`
/// `missing`; `patched` says whether the queue was applied to this kernel.
pub fn missing_files_reason(missing: &[String], patched: bool) -> String {
    let why = if patched {
        "the queue for this version does not add them yet"
    } else {
        "an unpatched baseline"
    };
    format!(
        "needs {} in the kernel tree, which this tree lacks ({why})",
        missing.join(", ")
    )
}

/// Why a test is skipped when its `requires_config` symbols `unmet` are not
/// set; `patched` says whether the queue was applied to this kernel.
pub fn unmet_config_reason(unmet: &[String], patched: bool) -> String {
    let (list, it) = match unmet {
        [rest @ .., last] if !rest.is_empty() => {
            (format!("{} and {last}", rest.join(", ")), "them")
        }
        _ => (unmet.join(""), "it"),
    };
    let why = if patched {
        format!("the queue for this version lacks {it}")
    } else {
        "an unpatched baseline".to_string()
    };
    format!("needs {list}, which this kernel's configuration does not set ({why})")
}

/// Where a test's source lives.
pub fn source_path(spec: &TestSpec, project: &Path, kernel: &Path) -> PathBuf {
    match spec.source.strip_prefix("kernel:") {
        Some(rel) => kernel.join(rel),
        None => project.join("test-vms").join(&spec.source),
    }
}

/// Builds one test on the host; the error is a one-line reason.
pub fn build_one(
    spec: &TestSpec,
    project: &Path,
    kernel: &Path,
    bin_dir: &Path,
) -> std::result::Result<PathBuf, String> {
    let src = source_path(spec, project, kernel);
    if !src.is_file() {
        return Err(format!("test source {} does not exist", src.display()));
    }
    let out = bin_dir.join(&spec.name);
    let sh = Shell::new().map_err(|e| e.to_string())?;
    let name = src
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let result = if name.ends_with(".c") {
        let inc = kernel.join("tools/testing/selftests");
        let inc2 = kernel.join("usr/include");
        let libs = &spec.libs;
        cmd::run(
            &sh,
            cmd!(
                sh,
                "gcc -static -O2 -Wall -I{inc} -I{inc2} -o {out} {src} {libs...}"
            ),
        )
    } else if name.ends_with(".sh") {
        std::fs::copy(&src, &out)
            .map(drop)
            .map_err(anyhow::Error::from)
    } else if name == "Cargo.toml" {
        let target = bin_dir.join("cargo-target");
        cmd::run(
            &sh,
            cmd!(
                sh,
                "cargo build --quiet --release --manifest-path {src} --target-dir {target}"
            ),
        )
        .and_then(|_| {
            let built = target.join("release").join(&spec.name);
            std::fs::copy(&built, &out)
                .map(drop)
                .with_context(|| format!("the crate must build a binary named {}", spec.name))
        })
    } else {
        Err(anyhow::anyhow!(
            "unknown test source type {name}: use a .c file, a .sh script or a Cargo.toml"
        ))
    };
    result.map_err(|e| format!("cannot build {}: {e:#}", spec.name))?;
    Ok(out)
}

/// The kernel command line `spec` boots with when a run adds `extra`
/// (`test --append`, a matrix cell's `append`). A pinned test keeps its own.
/// Otherwise the extra words are appended, and an extra `key=value` replaces
/// the test's own word with the same key (`asi=off` over `asi=on`): the run
/// decides the configuration, the test only says what it needs by default.
pub fn boot_append(spec: &TestSpec, extra: &[String]) -> String {
    let extra: Vec<&str> = extra.iter().flat_map(|a| a.split_whitespace()).collect();
    if spec.pinned || extra.is_empty() {
        return spec.append.split_whitespace().collect::<Vec<_>>().join(" ");
    }
    let key = |w: &str| w.split_once('=').map_or(w, |(k, _)| k).to_string();
    let mut words: Vec<&str> = spec
        .append
        .split_whitespace()
        .filter(|w| !extra.iter().any(|e| key(e) == key(w)))
        .collect();
    for e in extra {
        if !words.contains(&e) {
            words.push(e);
        }
    }
    words.join(" ")
}

/// One boot of a run: the kernel command line and the NUMA layout its
/// tests share, and the tests (indices into the run's list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootGroup {
    /// The extra kernel command line, as the first test of the group spells it.
    pub append: String,
    /// `numa_nodes` of the group's tests (`None`: no NUMA).
    pub numa_nodes: Option<u32>,
    /// Whether the group's tests crash the guest into a capture kernel
    /// (`crash_dump`).
    pub crash_dump: bool,
    pub tests: Vec<usize>,
}

/// Tests grouped by boot, in manifest order: tests share a boot when they
/// have the same kernel command line and the same `numa_nodes`; a
/// `crash_dump` test never shares its boot (the crash ends the boot's
/// first kernel, and every test after it would run in the capture
/// kernel). Two
/// command lines with the same words in another order (a pinned `asi=on
/// no5lvl` and a merged `no5lvl asi=on`) are one command line, under the
/// first spelling.
pub fn group_by_boot(tests: &[TestSpec]) -> Vec<BootGroup> {
    let words = |s: &str| {
        let mut w: Vec<String> = s.split_whitespace().map(str::to_string).collect();
        w.sort();
        w
    };
    // Sorted words of the command line, and the node count.
    type Key = (Vec<String>, Option<u32>);
    let mut groups: Vec<(Key, BootGroup)> = Vec::new();
    for (i, t) in tests.iter().enumerate() {
        let key = (words(&t.append), t.numa_nodes);
        let shared = groups
            .iter_mut()
            .find(|(k, g)| *k == key && !g.crash_dump && !t.crash_dump);
        match shared {
            Some((_, g)) => g.tests.push(i),
            None => groups.push((
                key,
                BootGroup {
                    append: t.append.split_whitespace().collect::<Vec<_>>().join(" "),
                    numa_nodes: t.numa_nodes,
                    crash_dump: t.crash_dump,
                    tests: vec![i],
                },
            )),
        }
    }
    groups.into_iter().map(|(_, g)| g).collect()
}

/// The shell script the guest runs for one boot of `image`. A capture
/// kernel (a `crash_dump` test's) runs it again: it keeps the first
/// kernel's command line in `cmdline`.
pub fn guest_script(out_dir: &Path, image: &Path, tests: &[(&TestSpec, PathBuf)]) -> String {
    let q = |p: &Path| cmd::shell_quote(&p.to_string_lossy());
    let mut s = String::from(
        "#!/bin/sh\n# Generated by asi-tool: runs the in-guest tests of one boot.\nset -u\n",
    );
    s.push_str(&format!(
        "out={}\nmkdir -p \"$out\"\n\
         [ -e /proc/vmcore ] || cat /proc/cmdline > \"$out/cmdline\"\n\
         export ASI_KERNEL_IMAGE={}\n",
        q(out_dir),
        q(image)
    ));
    s.push_str(
        "run_test() {\n\tname=$1; limit=$2; shift 2\n\techo \"asi-tool: running $name\"\n\
         \tstart=$(date +%s%N)\n\ttimeout -k 5 \"$limit\" \"$@\" > \"$out/$name.log\" 2>&1 < /dev/null\n\
         \trc=$?\n\tend=$(date +%s%N)\n\tcat \"$out/$name.log\"\n\techo \"$rc $start $end\" > \"$out/$name.rc\"\n\
         \techo \"asi-tool: $name exited $rc\"\n}\n",
    );
    for (spec, bin) in tests {
        let mut words = vec![spec.name.clone(), spec.timeout.to_string()];
        if bin.extension().is_some_and(|e| e == "sh") || spec.source.ends_with(".sh") {
            words.push("sh".into());
        }
        words.push(bin.to_string_lossy().to_string());
        words.extend(spec.args.iter().cloned());
        let line: Vec<String> = words.iter().map(|w| cmd::shell_quote(w)).collect();
        s.push_str(&format!("run_test {}\n", line.join(" ")));
    }
    s.push_str("sync\nexit 0\n");
    s
}

/// The `<name>.rc` file: exit code and start/end in nanoseconds.
pub fn parse_rc(text: &str) -> Option<(i32, f64)> {
    let mut w = text.split_whitespace();
    let rc = w.next()?.parse().ok()?;
    let start: f64 = w.next().and_then(|v| v.parse().ok()).unwrap_or(0.0);
    let end: f64 = w.next().and_then(|v| v.parse().ok()).unwrap_or(start);
    Some((rc, ((end - start) / 1e9).max(0.0)))
}

/// Judges one test from its exit code, its output and how the boot ended.
/// A kernel report on the boot's console (see [`vm::PANIC_MARKERS`])
/// fails every test of the boot, whatever the test itself said: see
/// [`with_kernel_report`].
pub fn classify(
    rc: Option<i32>,
    log: &str,
    boot: &vm::Outcome,
    timeout: u64,
) -> (Status, Option<String>, Vec<CaseResult>) {
    let (status, reason, cases) = classify_test(rc, log, boot, timeout);
    match boot {
        vm::Outcome::Panicked { report, .. } => {
            let (status, reason) = with_kernel_report(status, reason, report);
            (status, reason, cases)
        }
        _ => (status, reason, cases),
    }
}

/// How a test's reason names its boot's kernel report.
pub const KERNEL_REPORT_NOTE: &str = "kernel report in its boot: ";

/// The verdict of a test whose boot's console shows a kernel report
/// (`report`: its first line). The kernel under test is broken, and no
/// test can be trusted to have passed on it; which test caused it is not
/// known. So, as for a test the guest kernel crashed under (ERROR, the
/// schema's word for "the guest crashed before it ended"), a PASS, SKIP or
/// TIMEOUT becomes ERROR; a FAIL (or ERROR) stays. The reason always
/// names the report, after the test's own reason.
pub fn with_kernel_report(
    status: Status,
    reason: Option<String>,
    report: &str,
) -> (Status, Option<String>) {
    let status = match status {
        Status::Fail | Status::Error => status,
        Status::Pass | Status::Skip | Status::Timeout => Status::Error,
    };
    let note = format!("{KERNEL_REPORT_NOTE}{report}");
    let reason = match reason {
        Some(r) => format!("{r}; {note}"),
        None => note,
    };
    (status, Some(reason))
}

/// [`classify`] from the test's own results alone (and, for a test that
/// left no exit code, how the boot ended).
fn classify_test(
    rc: Option<i32>,
    log: &str,
    boot: &vm::Outcome,
    timeout: u64,
) -> (Status, Option<String>, Vec<CaseResult>) {
    let doc = ktap::parse(log);
    let cases: Vec<CaseResult> = doc
        .flatten()
        .into_iter()
        .filter(|(_, c)| c.subtests.is_empty())
        .map(|(path, c)| CaseResult {
            name: path,
            status: c.outcome.into(),
            reason: c.reason.clone(),
        })
        .collect();
    let Some(rc) = rc else {
        let (status, why) = match boot {
            vm::Outcome::TimedOut
            | vm::Outcome::Panicked {
                timed_out: true, ..
            } => (
                Status::Timeout,
                "the guest timed out before this test finished",
            ),
            vm::Outcome::Panicked { .. } => (
                Status::Error,
                "the guest kernel crashed before this test finished",
            ),
            vm::Outcome::Exited(_) => (
                Status::Error,
                "the test did not run (no result from the guest)",
            ),
        };
        return (status, Some(why.into()), cases);
    };
    match rc {
        124 | 137 => (Status::Timeout, Some(format!("exceeded {timeout}s")), cases),
        126 | 127 => (
            Status::Error,
            Some(format!("cannot execute the test (exit {rc})")),
            cases,
        ),
        KSFT_SKIP => {
            let why = doc
                .cases
                .iter()
                .find_map(|c| c.reason.clone())
                .or_else(|| skip_reason(log))
                .unwrap_or_else(|| "skipped (exit 4)".into());
            (Status::Skip, Some(why), cases)
        }
        0 => {
            if !doc.is_ktap() {
                return (Status::Pass, None, cases);
            }
            match Status::from(doc.overall()) {
                Status::Pass => (Status::Pass, None, cases),
                Status::Skip => (Status::Skip, skip_reason(log), cases),
                other => (
                    other,
                    Some("KTAP output disagrees with exit 0".into()),
                    cases,
                ),
            }
        }
        _ => (Status::Fail, Some(format!("exit={rc}")), cases),
    }
}

fn skip_reason(log: &str) -> Option<String> {
    log.lines()
        .find_map(|l| l.split_once("# SKIP").map(|(_, r)| r.trim().to_string()))
        .filter(|r| !r.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST_OK: &str = r#"
[[test]]
name = "asi_status_on"
source = "kernel:tools/testing/selftests/asi/asi_status.c"
args = ["--expect", "on"]
append = "asi=on"
timeout = 60
needs_patches = true

[[test]]
name = "asi_status_off"
source = "kernel:tools/testing/selftests/asi/asi_status.c"
append = "asi=off"

[[test]]
name = "smoke"
source = "smoke.sh"
append = "asi=on"

[[bench]]
name = "b"
source = "b.c"
append = "asi=on"
"#;

    #[test]
    fn manifest_and_grouping() {
        let m = parse(MANIFEST_OK).unwrap();
        assert_eq!(m.suite(Suite::Benches).len(), 1);
        assert_eq!(m.benches[0].name, "b");
        let t = m.suite(Suite::Tests);
        assert_eq!(t.len(), 3);
        assert_eq!(t[1].timeout, 45);
        assert!(t[0].needs_patches && !t[1].needs_patches);
        let shape = |g: &[BootGroup]| {
            g.iter()
                .map(|g| (g.append.clone(), g.numa_nodes, g.tests.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            shape(&group_by_boot(t)),
            vec![
                ("asi=on".to_string(), None, vec![0, 2]),
                ("asi=off".to_string(), None, vec![1])
            ]
        );
        // The same words in another order are the same boot.
        let mut t2: Vec<TestSpec> = t.to_vec();
        t2[0].append = "asi=on  no5lvl".into();
        t2[2].append = "no5lvl asi=on".into();
        assert_eq!(
            shape(&group_by_boot(&t2)),
            vec![
                ("asi=on no5lvl".to_string(), None, vec![0, 2]),
                ("asi=off".to_string(), None, vec![1])
            ]
        );
        let p = source_path(&t[0], Path::new("/p"), Path::new("/k"));
        assert_eq!(
            p,
            PathBuf::from("/k/tools/testing/selftests/asi/asi_status.c")
        );
        assert_eq!(
            source_path(&t[2], Path::new("/p"), Path::new("/k")),
            PathBuf::from("/p/test-vms/smoke.sh")
        );
    }

    #[test]
    fn numa_nodes_is_parsed_and_checked() {
        let m = parse(
            "[[test]]\nname='a'\nsource='x.c'\nnuma_nodes=2\n\
             [[test]]\nname='b'\nsource='y.c'\n\
             [[test]]\nname='c'\nsource='z.c'\nnuma_nodes=8\n\
             [[bench]]\nname='d'\nsource='w.c'\nnuma_nodes=4\n",
        )
        .unwrap();
        assert_eq!(m.tests[0].numa_nodes, Some(2));
        assert_eq!(m.tests[1].numa_nodes, None);
        assert_eq!(m.tests[2].numa_nodes, Some(8));
        assert_eq!(m.benches[0].numa_nodes, Some(4));
        for (bad, kind) in [
            ("[[test]]\nname='a'\nsource='x.c'\nnuma_nodes=1\n", "test a"),
            ("[[test]]\nname='a'\nsource='x.c'\nnuma_nodes=0\n", "test a"),
            ("[[test]]\nname='a'\nsource='x.c'\nnuma_nodes=9\n", "test a"),
            ("[[test]]\nname='a'\nsource='x.c'\nnuma_nodes=-2\n", "test a"),
            (
                "[[test]]\nname='a'\nsource='x.c'\nnuma_nodes=99999999999\n",
                "test a",
            ),
            ("[[test]]\nname='a'\nsource='x.c'\nnuma_nodes='2'\n", "test a"),
            ("[[test]]\nname='a'\nsource='x.c'\nnuma_nodes=2.0\n", "test a"),
            ("[[test]]\nname='a'\nsource='x.c'\nnuma_nodes=true\n", "test a"),
            (
                "[[test]]\nname='ok'\nsource='x.c'\nnuma_nodes=2\n\
                 [[test]]\nname='big'\nsource='y.c'\nnuma_nodes=16\n",
                "test big",
            ),
            (
                "[[test]]\nname='a'\nsource='x.c'\n[[bench]]\nname='c'\nsource='z.c'\nnuma_nodes=1\n",
                "bench c",
            ),
            ("[[test]]\nsource='x.c'\nnuma_nodes=1\n", "test (without a name)"),
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains(kind), "{bad:?}: {e}");
            assert!(e.contains("numa_nodes = "), "{bad:?}: {e}");
            assert!(e.contains("from 2 to 8"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn tests_share_a_boot_only_with_the_same_numa_nodes() {
        let m = parse(
            "[[test]]\nname='a'\nsource='a.c'\nappend='asi=on'\n\
             [[test]]\nname='b'\nsource='b.c'\nappend='asi=on'\nnuma_nodes=2\n\
             [[test]]\nname='c'\nsource='c.c'\nappend='asi=on'\nnuma_nodes=4\n\
             [[test]]\nname='d'\nsource='d.c'\nappend='asi=on'\nnuma_nodes=2\n\
             [[test]]\nname='e'\nsource='e.c'\nappend='asi=off'\nnuma_nodes=2\n\
             [[test]]\nname='f'\nsource='f.c'\nappend='asi=on'\n",
        )
        .unwrap();
        let g = group_by_boot(&m.tests);
        let group = |append: &str, numa_nodes, tests: &[usize]| BootGroup {
            append: append.into(),
            numa_nodes,
            crash_dump: false,
            tests: tests.to_vec(),
        };
        assert_eq!(
            g,
            vec![
                group("asi=on", None, &[0, 5]),
                group("asi=on", Some(2), &[1, 3]),
                group("asi=on", Some(4), &[2]),
                group("asi=off", Some(2), &[4]),
            ]
        );
    }

    #[test]
    fn a_crash_dump_test_boots_alone() {
        let m = parse(
            "[[test]]\nname='a'\nsource='a.c'\nappend='asi=on'\n\
             [[test]]\nname='k'\nsource='k.c'\nappend='asi=on'\ncrash_dump=true\n\
             [[test]]\nname='l'\nsource='l.c'\nappend='asi=on'\ncrash_dump=true\n\
             [[test]]\nname='b'\nsource='b.c'\nappend='asi=on'\n",
        )
        .unwrap();
        let g = group_by_boot(&m.tests);
        let tests: Vec<(bool, Vec<usize>)> =
            g.iter().map(|g| (g.crash_dump, g.tests.clone())).collect();
        assert_eq!(
            tests,
            vec![(false, vec![0, 3]), (true, vec![1]), (true, vec![2])]
        );
    }

    #[test]
    fn extra_command_line_is_added_unless_pinned() {
        let mut m = parse(MANIFEST_OK).unwrap();
        let extra = vec!["asi=off loglevel=7".to_string()];
        // The run's asi= wins over the test's own; other words are added.
        assert_eq!(boot_append(&m.tests[2], &extra), "asi=off loglevel=7");
        assert_eq!(boot_append(&m.tests[2], &[]), "asi=on");
        m.tests[0].pinned = true;
        assert_eq!(boot_append(&m.tests[0], &extra), "asi=on");
        let mut t = m.tests[2].clone();
        t.append = "  quiet  asi=on ".into();
        assert_eq!(
            boot_append(&t, &["asi=on".into(), "x".into()]),
            "quiet asi=on x"
        );
        let pinned =
            parse("[[test]]\nname='a'\nsource='x.c'\nappend='asi=off'\npinned=true\n").unwrap();
        assert!(pinned.tests[0].pinned);
        assert!(!m.tests[1].pinned);
    }

    #[test]
    fn bad_manifests() {
        for (text, expect) in [
            ("", "no [[test]]"),
            ("[[test]]\nname='a b'\nsource='x.c'\n", "test name"),
            (
                "[[test]]\nname='a'\nsource='x.c'\n[[test]]\nname='a'\nsource='y.c'\n",
                "defined twice",
            ),
            ("[[test]]\nname='a'\nsource='x.c'\ntimeout=0\n", "timeout"),
            ("[[test]]\nname='a'\nsource='x.c'\nbogus=1\n", "bogus"),
            ("[[test]]\nname='a'\n", "source"),
            (
                "[[test]]\nname='a'\nsource='x.c'\n[[bench]]\nname='b'\nsource='y.c'\n[[bench]]\nname='b'\nsource='z.c'\n",
                "bench b is defined twice",
            ),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.contains(expect), "{text:?}: {e}");
        }
    }

    #[test]
    fn requires_config_is_parsed_and_checked() {
        let m = parse(
            "[[test]]\nname='a'\nsource='x.c'\nrequires_config=['CONFIG_ASI_NETNS', 'X86_64']\n\
             [[test]]\nname='b'\nsource='y.c'\n\
             [[bench]]\nname='c'\nsource='z.c'\nrequires_config=['ASI_NETNS']\n",
        )
        .unwrap();
        assert_eq!(m.tests[0].requires_config, ["CONFIG_ASI_NETNS", "X86_64"]);
        assert!(m.tests[1].requires_config.is_empty());
        assert_eq!(m.benches[0].requires_config, ["ASI_NETNS"]);
        for (bad, kind) in [
            ("[[test]]\nname='a'\nsource='x.c'\nrequires_config=['asi_netns']\n", "test a"),
            ("[[test]]\nname='a'\nsource='x.c'\nrequires_config=['CONFIG_']\n", "test a"),
            (
                "[[test]]\nname='a'\nsource='x.c'\nrequires_config=['CONFIG_A=y']\n",
                "test a",
            ),
            (
                "[[test]]\nname='a'\nsource='x.c'\n[[bench]]\nname='c'\nsource='z.c'\nrequires_config=['']\n",
                "bench c",
            ),
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains(kind), "{bad:?}: {e}");
            assert!(e.contains("is not a Kconfig symbol"), "{bad:?}: {e}");
        }
        // A string instead of a list is a type error naming the field.
        let e = parse("[[test]]\nname='a'\nsource='x.c'\nrequires_config='ASI'\n").unwrap_err();
        assert!(
            e.contains("requires_config") || e.contains("sequence"),
            "{e}"
        );
    }

    #[test]
    fn requires_files_is_parsed_checked_and_decided() {
        let m = parse("[[test]]\nname='a'\nsource='x.c'\nrequires_files=['tools/t.c', 'mm/x.c']\n")
            .unwrap();
        assert_eq!(m.tests[0].requires_files, ["tools/t.c", "mm/x.c"]);
        for bad in ["/abs/t.c", "../t.c", "tools/../../t.c", "", "./t.c"] {
            let text = format!("[[test]]\nname='a'\nsource='x.c'\nrequires_files=[{bad:?}]\n");
            let e = parse(&text).unwrap_err();
            assert!(e.contains("requires_files entry"), "{bad:?}: {e}");
        }
        let tree = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tree.path().join("tools")).unwrap();
        std::fs::write(tree.path().join("tools/t.c"), "").unwrap();
        std::fs::create_dir_all(tree.path().join("mm/x.c")).unwrap(); // a directory is not a file
        assert_eq!(missing_files(&m.tests[0], tree.path()), ["mm/x.c"]);
        let why = missing_files_reason(&["mm/x.c".into()], true);
        assert!(
            why.contains("mm/x.c") && why.contains("does not add them yet"),
            "{why}"
        );
        assert!(missing_files_reason(&["mm/x.c".into()], false).contains("baseline"));
    }

    #[test]
    fn requires_config_decision() {
        let config = kconfig::parse_config(
            "CONFIG_ASI=y\nCONFIG_ASI_MOD=m\n# CONFIG_ASI_NETNS is not set\nCONFIG_ASI_NO=n\n\
             CONFIG_ASI_STR=\"y\"\n",
        );
        let mut spec = parse(MANIFEST_OK).unwrap().tests[2].clone();
        let unmet = |spec: &TestSpec| unmet_config(spec, &config);
        assert!(unmet(&spec).is_empty());
        // y and m, with or without the CONFIG_ prefix: met.
        spec.requires_config = vec!["CONFIG_ASI".into(), "ASI_MOD".into()];
        assert!(unmet(&spec).is_empty());
        // Not set, =n, absent, or a value that is not y/m: unmet, in order.
        spec.requires_config = vec![
            "ASI_NETNS".into(),
            "CONFIG_ASI".into(),
            "CONFIG_ASI_NO".into(),
            "ASI_ABSENT".into(),
            "ASI_STR".into(),
        ];
        assert_eq!(
            unmet(&spec),
            [
                "CONFIG_ASI_NETNS",
                "CONFIG_ASI_NO",
                "CONFIG_ASI_ABSENT",
                "CONFIG_ASI_STR"
            ]
        );
        assert_eq!(
            unmet_config_reason(&["CONFIG_ASI_NETNS".into()], true),
            "needs CONFIG_ASI_NETNS, which this kernel's configuration does not set \
             (the queue for this version lacks it)"
        );
        assert_eq!(
            unmet_config_reason(&["CONFIG_A".into(), "CONFIG_B".into(), "CONFIG_C".into()], false),
            "needs CONFIG_A, CONFIG_B and CONFIG_C, which this kernel's configuration does not set \
             (an unpatched baseline)"
        );
    }

    #[test]
    fn the_project_manifest_parses() {
        let project = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let m = load(&project).unwrap();
        assert!(!m.tests.is_empty());
        // A test and a benchmark of the same feature may share a name.
        let both =
            parse("[[test]]\nname='a'\nsource='x.c'\n[[bench]]\nname='a'\nsource='y.c'\n").unwrap();
        assert_eq!((both.tests.len(), both.benches.len()), (1, 1));
    }

    #[test]
    fn missing_test_source_is_reported() {
        let d = tempfile::tempdir().unwrap();
        let spec = &parse(MANIFEST_OK).unwrap().tests[0];
        let e = build_one(spec, d.path(), d.path(), d.path()).unwrap_err();
        assert!(e.contains("does not exist"), "{e}");
    }

    #[test]
    fn builds_a_static_c_test() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("test-vms")).unwrap();
        std::fs::write(d.path().join("test-vms/t.c"), "int main(void){return 0;}\n").unwrap();
        let spec = TestSpec {
            name: "t".into(),
            source: "t.c".into(),
            args: vec![],
            libs: vec![],
            append: String::new(),
            timeout: 5,
            needs_patches: false,
            pinned: false,
            requires_config: vec![],
            requires_files: vec![],
            numa_nodes: None,
            crash_dump: false,
        };
        let bin = build_one(&spec, d.path(), d.path(), d.path()).unwrap();
        assert!(std::process::Command::new(&bin).status().unwrap().success());
        std::fs::write(d.path().join("test-vms/t.c"), "int main(void){return x;}\n").unwrap();
        let e = build_one(&spec, d.path(), d.path(), d.path()).unwrap_err();
        assert!(e.contains("cannot build t"), "{e}");
    }

    #[test]
    fn script_runs_every_test_and_records_results() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("guest");
        let bin = d.path().join("fake");
        std::fs::write(
            &bin,
            "#!/bin/sh\necho 'KTAP version 1'\necho '1..1'\necho \"ok 1 $1\"\n",
        )
        .unwrap();
        let spec = TestSpec {
            name: "fake".into(),
            source: "fake.sh".into(),
            args: vec!["hello world".into()],
            libs: vec![],
            append: String::new(),
            timeout: 5,
            needs_patches: false,
            pinned: false,
            requires_config: vec![],
            requires_files: vec![],
            numa_nodes: None,
            crash_dump: false,
        };
        let script = guest_script(&out, Path::new("/k/bzImage"), &[(&spec, bin)]);
        assert!(
            script.contains("export ASI_KERNEL_IMAGE=/k/bzImage\n"),
            "{script}"
        );
        let path = d.path().join("boot.sh");
        std::fs::write(&path, script).unwrap();
        let st = std::process::Command::new("sh")
            .arg(&path)
            .output()
            .unwrap();
        assert!(st.status.success(), "{st:?}");
        let log = std::fs::read_to_string(out.join("fake.log")).unwrap();
        assert!(log.contains("ok 1 hello world"), "{log}");
        let (rc, secs) = parse_rc(&std::fs::read_to_string(out.join("fake.rc")).unwrap()).unwrap();
        assert_eq!(rc, 0);
        assert!(secs >= 0.0);
    }

    #[test]
    fn classification() {
        let ok = vm::Outcome::Exited(0);
        let ktap_pass = "KTAP version 1\n1..2\nok 1 a\nok 2 b\n";
        let ktap_fail = "KTAP version 1\n1..2\nok 1 a\nnot ok 2 b\n";
        assert_eq!(classify(Some(0), ktap_pass, &ok, 45).0, Status::Pass);
        let (s, r, cases) = classify(Some(1), ktap_fail, &ok, 45);
        assert_eq!(s, Status::Fail);
        assert_eq!(r.as_deref(), Some("exit=1"));
        assert_eq!(cases.len(), 2);
        assert_eq!(cases[1].status, Status::Fail);
        // KTAP says fail, exit says 0: still a failure.
        assert_eq!(classify(Some(0), ktap_fail, &ok, 45).0, Status::Fail);
        assert_eq!(classify(Some(124), "", &ok, 45).0, Status::Timeout);
        assert_eq!(classify(Some(127), "", &ok, 45).0, Status::Error);
        let skip = "KTAP version 1\n1..0 # SKIP no ASI in this kernel\n";
        let (s, r, _) = classify(Some(4), skip, &ok, 45);
        assert_eq!(s, Status::Skip);
        assert!(r.unwrap().contains("no ASI"));
        assert_eq!(
            classify(None, "", &vm::Outcome::TimedOut, 45).0,
            Status::Timeout
        );
        let panicked = vm::Outcome::Panicked {
            report: "Kernel panic - not syncing: Fatal exception".into(),
            excerpt: vec![],
            exit: None,
            timed_out: false,
        };
        assert_eq!(classify(None, "", &panicked, 45).0, Status::Error);
        assert_eq!(classify(None, "", &ok, 45).0, Status::Error);
        assert_eq!(classify(Some(0), "plain output\n", &ok, 45).0, Status::Pass);
    }

    /// A kernel report on the boot's console fails every test of the boot
    /// (ERROR, FAIL staying FAIL), and each test's reason names it; a
    /// clean console leaves the verdicts alone.
    #[test]
    fn a_kernel_report_fails_every_test_of_its_boot() {
        let report = "BUG: KASAN: slab-use-after-free in asi_domain_put+0x3c/0x90";
        let splat = |timed_out| vm::Outcome::Panicked {
            report: report.into(),
            excerpt: vec![format!("[   20.101234] {report}")],
            exit: if timed_out { None } else { Some(0) },
            timed_out,
        };
        let ktap_pass = "KTAP version 1\n1..1\nok 1 a\n";
        let ktap_fail = "KTAP version 1\n1..1\nnot ok 1 a\n";
        let skip = "KTAP version 1\n1..0 # SKIP no ASI in this kernel\n";
        let note = format!("{KERNEL_REPORT_NOTE}{report}");
        for (rc, log, want, reason) in [
            (Some(0), ktap_pass, Status::Error, note.clone()),
            (Some(0), "plain output\n", Status::Error, note.clone()),
            (
                Some(4),
                skip,
                Status::Error,
                format!("no ASI in this kernel; {note}"),
            ),
            (Some(1), ktap_fail, Status::Fail, format!("exit=1; {note}")),
            (
                Some(124),
                "",
                Status::Error,
                format!("exceeded 45s; {note}"),
            ),
            (
                Some(127),
                "",
                Status::Error,
                format!("cannot execute the test (exit 127); {note}"),
            ),
            (
                None,
                "",
                Status::Error,
                format!("the guest kernel crashed before this test finished; {note}"),
            ),
        ] {
            let (s, r, cases) = classify(rc, log, &splat(false), 45);
            assert_eq!(
                (s, r.as_deref()),
                (want, Some(reason.as_str())),
                "{rc:?} {log:?}"
            );
            // The KTAP cases keep their own verdicts.
            if log == ktap_pass {
                assert_eq!(cases[0].status, Status::Pass);
            }
        }
        // The same when the guest hung after the report.
        assert_eq!(
            classify(Some(0), ktap_pass, &splat(true), 45).0,
            Status::Error
        );
        assert_eq!(
            classify(None, "", &splat(true), 45),
            (
                Status::Error,
                Some(format!(
                    "the guest timed out before this test finished; {note}"
                )),
                vec![]
            )
        );
        // Without a report nothing changes.
        let ok = vm::Outcome::Exited(0);
        assert_eq!(
            classify(Some(0), ktap_pass, &ok, 45),
            (
                Status::Pass,
                None,
                vec![CaseResult {
                    name: "a".into(),
                    status: Status::Pass,
                    reason: None
                }]
            )
        );
    }

    #[test]
    fn rc_file() {
        assert_eq!(parse_rc("0 1000000000 3500000000\n"), Some((0, 2.5)));
        assert_eq!(parse_rc("1"), Some((1, 0.0)));
        assert_eq!(parse_rc("garbage"), None);
    }
}
