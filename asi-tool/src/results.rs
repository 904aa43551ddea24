//! `results/<run>/results.json`: what one `asi-tool test` run did and found.
//! The schema is documented in docs/results-schema.md; bump [`SCHEMA`] on
//! any incompatible change.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

pub const SCHEMA: u32 = 1;

/// Writes `value` as pretty JSON with a final newline, creating the
/// parent directory: every JSON file asi-tool writes goes through here.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        crate::cache::Cache::ensure(parent)?;
    }
    let text = serde_json::to_string_pretty(value)? + "\n";
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// Reads a JSON file asi-tool wrote. `what` names it in errors ("a
/// results.json"); `schema` gives the file's schema number, which must be
/// `expected`.
pub fn read_json<T: serde::de::DeserializeOwned>(
    path: &Path,
    what: &str,
    schema: impl Fn(&T) -> u32,
    expected: u32,
) -> Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let value: T =
        serde_json::from_str(&text).with_context(|| format!("{} is not {what}", path.display()))?;
    let found = schema(&value);
    if found != expected {
        anyhow::bail!(
            "{} has schema {found}, this asi-tool reads {expected}",
            path.display()
        );
    }
    Ok(value)
}

/// Status of one test, KCIDB-like vocabulary plus TIMEOUT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    Pass,
    Fail,
    Skip,
    Error,
    Timeout,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Skip => "SKIP",
            Status::Error => "ERROR",
            Status::Timeout => "TIMEOUT",
        })
    }
}

impl From<crate::ktap::Outcome> for Status {
    fn from(o: crate::ktap::Outcome) -> Self {
        use crate::ktap::Outcome as O;
        match o {
            O::Pass => Status::Pass,
            O::Fail => Status::Fail,
            O::Skip => Status::Skip,
            O::Error => Status::Error,
            O::Timeout => Status::Timeout,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KernelInfo {
    /// e.g. "6.12.107".
    pub version: String,
    pub origin: String,
    pub base_commit: String,
    /// The checkout that was built.
    pub tree: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatchInfo {
    pub name: String,
    pub subject: String,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueInfo {
    /// KCIDB patchset_hash of the applied patches ("" for none).
    pub series_hash: String,
    pub patches: Vec<PatchInfo>,
    pub branch: Option<String>,
    pub tip: String,
    pub apply_seconds: f64,
    /// `Some("7.2")` when the per-version variant `patches/forwardports/7.2`
    /// was applied instead of `patches/` (absent in older files: `None`).
    #[serde(default)]
    pub variant: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuildInfo {
    pub config_fragments: Vec<String>,
    pub build_dir: String,
    pub image: String,
    pub seconds: f64,
    pub objects_compiled: usize,
    pub log: String,
    pub command: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BootInfo {
    /// Extra kernel command line of this boot.
    pub append: String,
    /// The guest's /proc/cmdline, when the guest got far enough to write it.
    pub cmdline: Option<String>,
    pub accel: String,
    pub cpus: u32,
    pub memory: String,
    /// NUMA nodes of the guest (the tests' `numa_nodes`); `None` for a
    /// guest without NUMA (and in older files, which lack the field).
    #[serde(default)]
    pub numa_nodes: Option<u32>,
    pub seconds: f64,
    /// "exited N", "timeout after Ns", "panic" (a kernel report on the
    /// console), "panic, then timeout after Ns".
    pub outcome: String,
    /// 1 normally; 2 when the first boot hit an infrastructure failure and was retried.
    pub attempts: u32,
    /// Why a retry was needed: the first attempt's failure, never hidden.
    pub flaky: Option<String>,
    pub console: String,
    /// The first line of the first kernel report on the console (an oops,
    /// panic, BUG, KASAN, KFENCE, lockdep or UBSAN report, a WARNING),
    /// without its timestamp; `None` for a clean console (and in older
    /// files, which lack the field). Every test of the boot failed on it.
    #[serde(default)]
    pub kernel_report: Option<String>,
    pub panic_excerpt: Vec<String>,
    pub command: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseResult {
    pub name: String,
    pub status: Status,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestResult {
    pub name: String,
    pub status: Status,
    pub reason: Option<String>,
    pub duration: f64,
    /// Index into `boots`, or None when the test never reached a guest.
    pub boot: Option<usize>,
    pub log: Option<String>,
    pub exit_code: Option<i32>,
    pub cases: Vec<CaseResult>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub pass: u32,
    pub fail: u32,
    pub skip: u32,
    pub error: u32,
    pub timeout: u32,
}

/// `results.json` of a run that stopped before it had test results: a
/// fetch, apply, config or build that failed, or boots that could not
/// run. Same `schema`, `run_id`, `started`, `tool_version`, `status`,
/// `exit_code` and `reproduce` as [`RunResults`], `status` always
/// `ERROR`, plus the stage that failed and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedRun {
    pub schema: u32,
    pub run_id: String,
    pub started: String,
    pub tool_version: String,
    pub status: Status,
    /// `fetch`, `apply`, `config`, `build` or `tests`.
    pub stage: String,
    /// The error's first line.
    pub reason: String,
    /// The whole error chain, one cause per line.
    pub detail: String,
    pub exit_code: i32,
    pub reproduce: String,
}

impl FailedRun {
    pub fn new(
        run_id: String,
        started: String,
        stage: &str,
        err: &anyhow::Error,
        reproduce: String,
    ) -> FailedRun {
        let detail = err
            .chain()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join("\n");
        FailedRun {
            schema: SCHEMA,
            run_id,
            started,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            status: Status::Error,
            stage: stage.to_string(),
            reason: detail.lines().next().unwrap_or_default().to_string(),
            detail,
            exit_code: crate::error::exit_code_of(err).code(),
            reproduce,
        }
    }

    pub fn write(&self, path: &Path) -> Result<()> {
        write_json(path, self)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResults {
    pub schema: u32,
    pub run_id: String,
    pub started: String,
    pub tool_version: String,
    pub kernel: KernelInfo,
    pub queue: QueueInfo,
    pub build: BuildInfo,
    pub boots: Vec<BootInfo>,
    pub tests: Vec<TestResult>,
    pub totals: Totals,
    /// Overall status: the most severe of the tests' (FAIL > ERROR > TIMEOUT > PASS > SKIP).
    pub status: Status,
    pub exit_code: i32,
    /// A command that reproduces this run.
    pub reproduce: String,
    /// `asi-tool bench`: each benchmark's JSON document, by benchmark name
    /// (absent for `asi-tool test` and for benchmarks that printed none).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub benchmarks: BTreeMap<String, serde_json::Value>,
}

pub fn totals(tests: &[TestResult]) -> Totals {
    let mut t = Totals::default();
    for r in tests {
        match r.status {
            Status::Pass => t.pass += 1,
            Status::Fail => t.fail += 1,
            Status::Skip => t.skip += 1,
            Status::Error => t.error += 1,
            Status::Timeout => t.timeout += 1,
        }
    }
    t
}

/// KCIDB order: FAIL > ERROR > (TIMEOUT) > PASS > SKIP. No tests at all is an ERROR.
pub fn overall(tests: &[TestResult]) -> Status {
    let rank = |s: Status| match s {
        Status::Fail => 4,
        Status::Error => 3,
        Status::Timeout => 2,
        Status::Pass => 1,
        Status::Skip => 0,
    };
    tests
        .iter()
        .map(|t| t.status)
        .max_by_key(|s| rank(*s))
        .unwrap_or(Status::Error)
}

impl RunResults {
    pub fn write(&self, path: &Path) -> Result<()> {
        write_json(path, self)
    }

    pub fn read(path: &Path) -> Result<RunResults> {
        read_json(path, "a results.json", |r: &RunResults| r.schema, SCHEMA)
    }

    /// The table printed at the end of a run.
    pub fn summary_table(&self) -> String {
        let width = self
            .tests
            .iter()
            .map(|t| t.name.len())
            .max()
            .unwrap_or(4)
            .max(4);
        let mut out = format!(
            "kernel {} (base {}), series {}, {} patch(es)\n",
            self.kernel.version,
            short(&self.kernel.base_commit),
            if self.queue.series_hash.is_empty() {
                "-"
            } else {
                short(&self.queue.series_hash)
            },
            self.queue.patches.len()
        );
        out.push_str(&format!(
            "{:<width$}  {:<7}  {:>8}  {}\n",
            "TEST", "STATUS", "SECONDS", "BOOT / REASON"
        ));
        for t in &self.tests {
            let boot = t
                .boot
                .and_then(|b| self.boots.get(b))
                .map(|b| {
                    let mut s = format!("[{}]", b.append);
                    if let Some(n) = b.numa_nodes {
                        s.push_str(&format!(" ({n} NUMA nodes)"));
                    }
                    if b.flaky.is_some() {
                        s.push_str(" (boot retried: flaky infrastructure)");
                    }
                    s
                })
                .unwrap_or_else(|| "[no boot]".into());
            let reason = t
                .reason
                .as_deref()
                .map(|r| format!(" {r}"))
                .unwrap_or_default();
            out.push_str(&format!(
                "{:<width$}  {:<7}  {:>8.1}  {boot}{reason}\n",
                t.name,
                t.status.to_string(),
                t.duration
            ));
            for c in t.cases.iter().filter(|c| c.status != Status::Pass) {
                let why = c
                    .reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default();
                out.push_str(&format!("{:<width$}    {} {}{why}\n", "", c.status, c.name));
            }
        }
        for (i, b) in self.boots.iter().enumerate() {
            if let Some(report) = &b.kernel_report {
                out.push_str(&format!(
                    "kernel report in boot {i} [{}]: {report} (console: {}); its tests are ERROR or FAIL\n",
                    b.append, b.console
                ));
            }
        }
        let n = self.totals;
        out.push_str(&format!(
            "{} passed, {} failed, {} skipped, {} errors, {} timeouts: {}\n",
            n.pass, n.fail, n.skip, n.error, n.timeout, self.status
        ));
        out
    }
}

/// The first 12 characters of a commit id or hash, as the tables show them.
pub fn short(s: &str) -> &str {
    s.char_indices().nth(12).map_or(s, |(i, _)| &s[..i])
}

/// UTC time as RFC 3339 (`2026-11-28T12:00:00Z`) and as a run id
/// (`20261128-120000`), from the system clock.
pub fn now_utc() -> (String, String) {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format_utc(secs)
}

pub fn format_utc(secs: u64) -> (String, String) {
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if mo <= 2 { y + 1 } else { y };
    (
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{m:02}:{s:02}Z"),
        format!("{y:04}{mo:02}{d:02}-{h:02}{m:02}{s:02}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test(name: &str, status: Status) -> TestResult {
        TestResult {
            name: name.into(),
            status,
            reason: None,
            duration: 1.5,
            boot: Some(0),
            log: Some("x.log".into()),
            exit_code: Some(0),
            cases: vec![CaseResult {
                name: "a".into(),
                status,
                reason: None,
            }],
        }
    }

    pub(crate) fn sample() -> RunResults {
        let tests = vec![
            test("asi_status_on", Status::Pass),
            test("asi_status_off", Status::Skip),
        ];
        RunResults {
            schema: SCHEMA,
            run_id: "20261128-120000".into(),
            started: "2026-11-28T12:00:00Z".into(),
            tool_version: "0.1.0".into(),
            kernel: KernelInfo {
                version: "6.12.107".into(),
                origin: "debian orig".into(),
                base_commit: "19aed4d0".repeat(5),
                tree: "/c/kernels/6.12.107/src".into(),
            },
            queue: QueueInfo {
                series_hash: "ab".repeat(32),
                patches: vec![PatchInfo {
                    name: "0001-x.patch".into(),
                    subject: "mm: x".into(),
                    sha256: "cd".repeat(32),
                }],
                branch: Some("asi/abababababab".into()),
                tip: "ef".repeat(20),
                apply_seconds: 0.4,
                variant: None,
            },
            build: BuildInfo {
                config_fragments: vec!["base.config".into()],
                build_dir: "/c/build/6.12.107".into(),
                image: "/c/build/6.12.107/arch/x86/boot/bzImage".into(),
                seconds: 30.0,
                objects_compiled: 3,
                log: "build.log".into(),
                command: "make".into(),
            },
            boots: vec![BootInfo {
                append: "asi=on".into(),
                cmdline: Some("asi=on".into()),
                accel: "tcg".into(),
                cpus: 2,
                memory: "2G".into(),
                numa_nodes: None,
                seconds: 14.0,
                outcome: "exited 0".into(),
                attempts: 2,
                flaky: Some("guest panic: Oops: int3".into()),
                console: "console-0.log".into(),
                kernel_report: None,
                panic_excerpt: vec![],
                command: "vng ...".into(),
            }],
            totals: totals(&tests),
            status: overall(&tests),
            tests,
            exit_code: 0,
            reproduce: "asi-tool test --kernel 6.12.107".into(),
            benchmarks: Default::default(),
        }
    }

    #[test]
    fn round_trip() {
        let r = sample();
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("results.json");
        r.write(&p).unwrap();
        let back = RunResults::read(&p).unwrap();
        assert_eq!(back, r);
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains("\"status\": \"PASS\""));
        let mut wrong: serde_json::Value = serde_json::from_str(&text).unwrap();
        wrong["schema"] = serde_json::json!(99);
        std::fs::write(&p, wrong.to_string()).unwrap();
        assert!(RunResults::read(&p).is_err());
    }

    /// `asi-tool test` writes no `benchmarks`; `bench` writes each document,
    /// and both read back (older files without the field too).
    #[test]
    fn benchmarks_section() {
        let mut r = sample();
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("results.json");
        r.write(&p).unwrap();
        assert!(!std::fs::read_to_string(&p).unwrap().contains("benchmarks"));
        r.benchmarks.insert(
            "netns_coverage".into(),
            serde_json::json!({"bench": "netns_coverage", "tables": []}),
        );
        r.write(&p).unwrap();
        let back = RunResults::read(&p).unwrap();
        assert_eq!(back.benchmarks["netns_coverage"]["bench"], "netns_coverage");
        assert_eq!(back, r);
    }

    /// A NUMA boot records its node count; a results.json written before
    /// the field existed reads back as a boot without NUMA.
    #[test]
    fn numa_nodes_of_a_boot() {
        let mut r = sample();
        r.boots[0].numa_nodes = Some(2);
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("results.json");
        r.write(&p).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains("\"numa_nodes\": 2"), "{text}");
        assert_eq!(RunResults::read(&p).unwrap(), r);
        assert!(r.summary_table().contains("[asi=on] (2 NUMA nodes)"));
        let mut old: serde_json::Value = serde_json::from_str(&text).unwrap();
        old["boots"][0]
            .as_object_mut()
            .unwrap()
            .remove("numa_nodes");
        std::fs::write(&p, old.to_string()).unwrap();
        assert_eq!(RunResults::read(&p).unwrap().boots[0].numa_nodes, None);
        assert!(!sample().summary_table().contains("NUMA"));
    }

    /// A boot whose console had a kernel report names it (its first line)
    /// in results.json and in the table; older files read back without it.
    #[test]
    fn kernel_report_of_a_boot() {
        let mut r = sample();
        let report = "WARNING: possible circular locking dependency detected";
        r.boots[0].kernel_report = Some(report.into());
        r.boots[0].outcome = "panic".into();
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("results.json");
        r.write(&p).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(
            text.contains(&format!("\"kernel_report\": \"{report}\"")),
            "{text}"
        );
        assert_eq!(RunResults::read(&p).unwrap(), r);
        assert!(
            r.summary_table().contains(&format!(
                "kernel report in boot 0 [asi=on]: {report} (console: console-0.log)"
            )),
            "{}",
            r.summary_table()
        );
        let mut old: serde_json::Value = serde_json::from_str(&text).unwrap();
        old["boots"][0]
            .as_object_mut()
            .unwrap()
            .remove("kernel_report");
        std::fs::write(&p, old.to_string()).unwrap();
        assert_eq!(RunResults::read(&p).unwrap().boots[0].kernel_report, None);
        assert!(!sample().summary_table().contains("kernel report"));
    }

    #[test]
    fn rollup_order() {
        assert_eq!(overall(&[]), Status::Error);
        assert_eq!(overall(&[test("a", Status::Skip)]), Status::Skip);
        assert_eq!(
            overall(&[test("a", Status::Skip), test("b", Status::Pass)]),
            Status::Pass
        );
        assert_eq!(
            overall(&[test("a", Status::Timeout), test("b", Status::Error)]),
            Status::Error
        );
        assert_eq!(
            overall(&[test("a", Status::Fail), test("b", Status::Error)]),
            Status::Fail
        );
    }

    #[test]
    fn table_shows_flaky_boots() {
        let t = sample().summary_table();
        assert!(t.contains("asi_status_on"));
        assert!(t.contains("boot retried"));
        assert!(t.contains("1 passed, 0 failed, 1 skipped"));
    }

    #[test]
    fn utc() {
        assert_eq!(format_utc(0).0, "1970-01-01T00:00:00Z");
        assert_eq!(format_utc(1_795_867_200).0, "2026-11-28T12:00:00Z");
        assert_eq!(format_utc(951_782_400).1, "20000229-000000");
    }
}
