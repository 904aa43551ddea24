//! `asi-tool matrix`: the queue on every kernel version × configuration of
//! `ci/matrix.toml`, each cell being exactly `asi-tool test` with options,
//! then one summary (Markdown for people, JSON for machines) with the
//! regressions against each version's unpatched baseline and against the
//! previous matrix run.
//!
//! A run directory holds one directory per cell (`<version>-<config>/`,
//! with the cell's `results.json` and `cell.json`), `summary.md` and
//! `summary.json`. `matrix summarize DIR...` builds the same summary from
//! cell directories gathered elsewhere (CI artifacts).

use crate::cache::Cache;
use crate::error::{exit_code_of, fail, Exit};
use crate::pipeline::{self, Project, Stage, TestOptions, TreeSpec};
use crate::results::{self, RunResults, Status};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The matrix definition, relative to the project root.
pub const MATRIX_FILE: &str = "ci/matrix.toml";
/// Version of `cell.json` / `summary.json`.
pub const SCHEMA: u32 = 1;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct MatrixFile {
    #[serde(rename = "kernel", default)]
    kernels: Vec<KernelEntry>,
    #[serde(rename = "config", default)]
    configs: Vec<Config>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct KernelEntry {
    version: String,
}

/// One configuration of the matrix (a column).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// e.g. `asi-on`.
    pub name: String,
    /// Apply the queue (false: the unpatched baseline of the version).
    pub patched: bool,
    /// Extra kernel command line for every boot (pinned tests keep theirs).
    #[serde(default)]
    pub append: String,
    /// Opt-in Kconfig fragments of `kconfig/` merged too (`["70-debug.config"]`:
    /// the debug kernel); the cell builds in a build directory of its own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kconfig: Vec<String>,
    /// Only on these `[[kernel]]` versions (as the file names them); empty:
    /// on every version.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kernels: Vec<String>,
}

impl Config {
    /// Whether this config has a cell on `version` (as the file names it).
    pub fn runs_on(&self, version: &str) -> bool {
        self.kernels.is_empty() || self.kernels.iter().any(|k| k == version)
    }
}

/// `ci/matrix.toml`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matrix {
    /// `6.12.107` (pinned) or `7.2` (the newest 7.2.x the archive has).
    pub kernels: Vec<String>,
    pub configs: Vec<Config>,
}

/// `ci/matrix.toml` of `project`, checked, including that every config's
/// `kconfig` names an opt-in fragment of `kconfig/` (before any fetch).
pub fn load(project: &Path) -> Result<Matrix> {
    let path = project.join(MATRIX_FILE);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {} (the matrix definition)", path.display()))?;
    let m = parse(&text).map_err(|e| fail(Exit::Infra, format!("{}: {e}", path.display())))?;
    for c in m.configs.iter().filter(|c| !c.kconfig.is_empty()) {
        crate::kconfig::check_extra(&project.join("kconfig"), &c.kconfig).map_err(|e| {
            fail(
                Exit::Infra,
                format!("{}: config {}: kconfig: {e}", path.display(), c.name),
            )
        })?;
    }
    Ok(m)
}

fn valid_version(v: &str) -> bool {
    v.parse::<crate::version::KernelVersion>().is_ok()
}

pub fn parse(text: &str) -> std::result::Result<Matrix, String> {
    let f: MatrixFile = toml::from_str(text).map_err(|e| e.to_string())?;
    if f.kernels.is_empty() {
        return Err("no [[kernel]] entries".into());
    }
    if f.configs.is_empty() {
        return Err("no [[config]] entries".into());
    }
    let mut kernels: Vec<String> = Vec::new();
    for k in &f.kernels {
        if !valid_version(&k.version) {
            return Err(format!(
                "kernel version {:?}: use MAJOR.MINOR (newest available) or MAJOR.MINOR.PATCH",
                k.version
            ));
        }
        if kernels.contains(&k.version) {
            return Err(format!("kernel {} is listed twice", k.version));
        }
        kernels.push(k.version.clone());
    }
    let mut names = Vec::new();
    for c in &f.configs {
        if c.name.is_empty()
            || !c
                .name
                .chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-')
        {
            return Err(format!(
                "config name {:?}: use lowercase letters, digits and -",
                c.name
            ));
        }
        if names.contains(&c.name) {
            return Err(format!("config {} is defined twice", c.name));
        }
        names.push(c.name.clone());
        for k in &c.kernels {
            if !kernels.contains(k) {
                return Err(format!(
                    "config {}: kernels names {k:?}, which is no [[kernel]] version here ({})",
                    c.name,
                    kernels.join(", ")
                ));
            }
        }
        for (i, f) in c.kconfig.iter().enumerate() {
            if !f.ends_with(".config") || f.contains('/') || c.kconfig[..i].contains(f) {
                return Err(format!(
                    "config {}: kconfig {f:?}: name each opt-in fragment of kconfig/ once, \
                     by its file name (e.g. \"70-debug.config\")",
                    c.name
                ));
            }
        }
    }
    Ok(Matrix {
        kernels,
        configs: f.configs,
    })
}

/// One cell: a kernel version (as the matrix names it) and a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub version: String,
    pub config: Config,
}

impl Cell {
    /// `7.2-asi-on`: the cell's directory name and its key across runs.
    pub fn id(&self) -> String {
        format!("{}-{}", self.version, self.config.name)
    }
}

impl Matrix {
    /// The cells, version by version, restricted to `kernels` / `configs`
    /// when given. A `--kernel` not in the file is allowed (trying a new
    /// version before adding it); an unknown `--config` is an error.
    pub fn cells(&self, kernels: &[String], configs: &[String]) -> Result<Vec<Cell>> {
        for k in kernels {
            if !valid_version(k) {
                return Err(fail(
                    Exit::Usage,
                    format!("{k:?} is not a kernel version (MAJOR.MINOR or MAJOR.MINOR.PATCH)"),
                ));
            }
        }
        for c in configs {
            if !self.configs.iter().any(|x| &x.name == c) {
                return Err(fail(
                    Exit::Usage,
                    format!(
                        "no config {c:?} in {MATRIX_FILE} (there: {})",
                        self.configs
                            .iter()
                            .map(|x| x.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        }
        let versions = if kernels.is_empty() {
            self.kernels.clone()
        } else {
            kernels.to_vec()
        };
        let cells: Vec<Cell> = versions
            .iter()
            .flat_map(|v| {
                self.configs
                    .iter()
                    .filter(|c| configs.is_empty() || configs.contains(&c.name))
                    .filter(|c| c.runs_on(v))
                    .map(|c| Cell {
                        version: v.clone(),
                        config: c.clone(),
                    })
            })
            .collect();
        if cells.is_empty() {
            // Only configs limited to other versions were asked for.
            let only: Vec<String> = self
                .configs
                .iter()
                .filter(|c| configs.is_empty() || configs.contains(&c.name))
                .map(|c| format!("{} runs only on {}", c.name, c.kernels.join(", ")))
                .collect();
            return Err(fail(
                Exit::Usage,
                format!(
                    "no cell of {MATRIX_FILE} for kernel {}: {} (`asi-tool test --kconfig ...` \
                     tries a config's fragments on any version)",
                    versions.join(", "),
                    only.join("; ")
                ),
            ));
        }
        Ok(cells)
    }
}

/// `--shard K/N`: this machine runs the K-th of N parts (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Shard, String> {
        let bad = || format!("{s:?}: use K/N with 1 <= K <= N, e.g. 2/3");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (usize, usize) = (
            k.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if index == 0 || count == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

/// The cells of one shard. Cells that share a build (same version, both
/// patched, same opt-in Kconfig fragments) stay together, so no two
/// machines build the same kernel; the units are dealt round-robin.
pub fn shard(cells: &[Cell], shard: Shard) -> Vec<Cell> {
    // A build: the version, patched or not, and the opt-in fragments.
    let unit = |c: &Cell| {
        (
            c.version.clone(),
            c.config.patched,
            c.config.kconfig.clone(),
        )
    };
    let mut units = Vec::new();
    for c in cells {
        let u = unit(c);
        if !units.contains(&u) {
            units.push(u);
        }
    }
    cells
        .iter()
        .filter(|c| {
            let u = units.iter().position(|u| *u == unit(c)).unwrap_or(0);
            u % shard.count == shard.index - 1
        })
        .cloned()
        .collect()
}

/// A cell's verdict, in KCIDB order of severity: FAIL > ERROR > MISS >
/// PASS > DONE > SKIP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum CellStatus {
    /// The queue does not apply, the kernel does not build or keep its
    /// options, a test failed, or a guest kernel crashed or reported
    /// trouble (a kernel report on its console: exit code 255).
    Fail,
    /// The cell could not be judged: download, tools, a test that could not run, a timeout.
    Error,
    /// No result at all (a CI job that never reported).
    Miss,
    Pass,
    /// Ran, nothing to judge.
    Done,
    /// Every test skipped.
    Skip,
}

impl CellStatus {
    pub fn rank(self) -> u8 {
        match self {
            CellStatus::Fail => 5,
            CellStatus::Error => 4,
            CellStatus::Miss => 3,
            CellStatus::Pass => 2,
            CellStatus::Done => 1,
            CellStatus::Skip => 0,
        }
    }
}

impl std::fmt::Display for CellStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CellStatus::Fail => "FAIL",
            CellStatus::Error => "ERROR",
            CellStatus::Miss => "MISS",
            CellStatus::Pass => "PASS",
            CellStatus::Done => "DONE",
            CellStatus::Skip => "SKIP",
        })
    }
}

/// The worst of several statuses (PASS for none).
pub fn worst(all: impl IntoIterator<Item = CellStatus>) -> CellStatus {
    all.into_iter()
        .max_by_key(|s| s.rank())
        .unwrap_or(CellStatus::Pass)
}

/// `<cell>/cell.json`: what the summary needs from one cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellSummary {
    pub schema: u32,
    /// `7.2-asi-on`.
    pub id: String,
    /// The version as the matrix names it (`7.2`).
    pub version: String,
    /// The version that ran (`7.2.13`), when it got that far.
    pub kernel: Option<String>,
    pub config: String,
    pub patched: bool,
    pub append: String,
    /// The config's opt-in Kconfig fragments (absent in older files: none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kconfig: Vec<String>,
    pub status: CellStatus,
    /// Why, for anything but PASS.
    pub reason: Option<String>,
    /// Where a cell that produced no results stopped.
    pub stage: Option<Stage>,
    /// `patches` or `patches/forwardports/7.2`.
    pub queue: Option<String>,
    pub series_hash: Option<String>,
    pub build_seconds: Option<f64>,
    pub objects_compiled: Option<usize>,
    pub pass: u32,
    pub fail: u32,
    pub skip: u32,
    pub error: u32,
    pub timeout: u32,
    /// Boots retried after a crash or hang.
    pub flaky_boots: u32,
    /// Wall time of the whole cell.
    pub seconds: f64,
    /// The cell's `results.json`, relative to the cell directory.
    pub results: Option<String>,
    /// Every test's status, for the regression reports.
    pub tests: BTreeMap<String, Status>,
    pub exit_code: i32,
}

impl CellSummary {
    fn empty(cell: &Cell, status: CellStatus) -> CellSummary {
        CellSummary {
            schema: SCHEMA,
            id: cell.id(),
            version: cell.version.clone(),
            kernel: None,
            config: cell.config.name.clone(),
            patched: cell.config.patched,
            append: cell.config.append.clone(),
            kconfig: cell.config.kconfig.clone(),
            status,
            reason: None,
            stage: None,
            queue: None,
            series_hash: None,
            build_seconds: None,
            objects_compiled: None,
            pass: 0,
            fail: 0,
            skip: 0,
            error: 0,
            timeout: 0,
            flaky_boots: 0,
            seconds: 0.0,
            results: None,
            tests: BTreeMap::new(),
            exit_code: 0,
        }
    }

    /// A cell with no result at all.
    pub fn missing(cell: &Cell) -> CellSummary {
        let mut c = CellSummary::empty(cell, CellStatus::Miss);
        c.reason = Some("no result (the job did not run or did not upload)".into());
        c
    }

    /// A cell whose run finished (whatever its tests said).
    pub fn from_results(cell: &Cell, r: &RunResults, seconds: f64) -> CellSummary {
        let mut c = CellSummary::empty(cell, cell_status(r));
        c.kernel = Some(r.kernel.version.clone());
        c.queue = Some(if cell.config.patched {
            match &r.queue.variant {
                Some(v) => format!("patches/{}/{v}", crate::queue::FORWARDPORTS),
                None => "patches".into(),
            }
        } else {
            "none (baseline)".into()
        });
        c.series_hash = (!r.queue.series_hash.is_empty()).then(|| r.queue.series_hash.clone());
        c.build_seconds = Some(r.build.seconds);
        c.objects_compiled = Some(r.build.objects_compiled);
        let t = r.totals;
        (c.pass, c.fail, c.skip, c.error, c.timeout) = (t.pass, t.fail, t.skip, t.error, t.timeout);
        c.flaky_boots = r.boots.iter().filter(|b| b.flaky.is_some()).count() as u32;
        c.seconds = seconds;
        c.results = Some("results.json".into());
        c.tests = r.tests.iter().map(|t| (t.name.clone(), t.status)).collect();
        c.exit_code = r.exit_code;
        c.reason = match c.status {
            CellStatus::Pass => None,
            _ => {
                // A test's reason names its boot's kernel report; the cell's
                // reason names each report once, first.
                let own_reason = |x: &str| {
                    x.split(crate::testvms::KERNEL_REPORT_NOTE)
                        .next()
                        .unwrap_or_default()
                        .trim_end_matches("; ")
                        .to_string()
                };
                let bad: Vec<String> = r
                    .tests
                    .iter()
                    .filter(|t| !matches!(t.status, Status::Pass | Status::Skip))
                    .map(|t| {
                        format!(
                            "{} {}{}",
                            t.name,
                            t.status,
                            t.reason
                                .as_deref()
                                .map(own_reason)
                                .filter(|x| !x.is_empty())
                                .map(|x| format!(" ({x})"))
                                .unwrap_or_default()
                        )
                    })
                    .collect();
                let mut reports: Vec<&str> = Vec::new();
                for b in &r.boots {
                    if let Some(k) = b.kernel_report.as_deref() {
                        if !reports.contains(&k) {
                            reports.push(k);
                        }
                    }
                }
                if !reports.is_empty() {
                    Some(format!(
                        "guest kernel report: {}; {}",
                        reports.join(" | "),
                        bad.join("; ")
                    ))
                } else if r.exit_code == Exit::GuestPanic.code() {
                    Some(format!("guest kernel crashed; {}", bad.join("; ")))
                } else if bad.is_empty() {
                    Some("every test skipped".into())
                } else {
                    Some(bad.join("; "))
                }
            }
        };
        c
    }

    /// A cell that stopped before it had results: the stage and the error.
    pub fn from_error(cell: &Cell, stage: Stage, err: &anyhow::Error, seconds: f64) -> CellSummary {
        let exit = exit_code_of(err);
        let status = match (stage, exit) {
            (_, Exit::Conflict) | (_, Exit::ConfigCheck) => CellStatus::Fail,
            // A patched kernel that does not build is the queue's failure; an
            // unpatched one that does not build is the machine's.
            (Stage::Build, Exit::Infra) if cell.config.patched => CellStatus::Fail,
            _ => CellStatus::Error,
        };
        let mut c = CellSummary::empty(cell, status);
        c.reason = Some(format!("{stage}: {}", one_line(&format!("{err:#}"), 300)));
        c.stage = Some(stage);
        c.seconds = seconds;
        c.exit_code = exit.code();
        c
    }

    pub fn write(&self, path: &Path) -> Result<()> {
        results::write_json(path, self)
    }
}

/// An error message squeezed into one table cell: git's own lines and the
/// advice lines left out, at most `max` characters.
pub fn one_line(message: &str, max: usize) -> String {
    let words: Vec<&str> = message
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty()
                && !l.starts_with("git:")
                && !l.starts_with("Nothing was changed")
                && !l.starts_with("The conflict is left")
        })
        .collect();
    let text = words.join(" ");
    if text.chars().count() <= max {
        text
    } else {
        let cut: String = text.chars().take(max.saturating_sub(3)).collect();
        format!("{cut}...")
    }
}

/// A finished run's verdict: a guest kernel report (a crash, a WARN, a
/// KASAN or lockdep report: exit code 255) or a failed test is FAIL; a
/// test that could not run or timed out is ERROR; else PASS, or SKIP when
/// every test skipped.
pub fn cell_status(r: &RunResults) -> CellStatus {
    if r.exit_code == Exit::GuestPanic.code() || r.tests.iter().any(|t| t.status == Status::Fail) {
        CellStatus::Fail
    } else if r.tests.is_empty()
        || r.tests
            .iter()
            .any(|t| matches!(t.status, Status::Error | Status::Timeout))
    {
        CellStatus::Error
    } else if r.tests.iter().all(|t| t.status == Status::Skip) {
        CellStatus::Skip
    } else {
        CellStatus::Pass
    }
}

/// A test that passed before and does not now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Regression {
    /// The cell where it fails now.
    pub cell: String,
    /// `*` when the whole cell broke (it has no test results).
    pub test: String,
    /// Where it passed: `7.2-baseline`, or `previous run (7.2.12)`.
    pub passed_in: String,
    pub now: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Regressions {
    /// Passes on the version's unpatched baseline, fails with the queue.
    pub against_baseline: Vec<Regression>,
    /// Passed in the previous matrix run, fails now.
    pub against_previous: Vec<Regression>,
}

/// `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub schema: u32,
    pub run_id: String,
    pub generated: String,
    pub status: CellStatus,
    pub cells: Vec<CellSummary>,
    pub regressions: Regressions,
    /// The summary compared with, if any.
    pub previous: Option<String>,
}

fn failing(s: Status) -> bool {
    !matches!(s, Status::Pass | Status::Skip)
}

/// Tests that pass on a version's baseline and fail on a patched cell of
/// the same version built with the same opt-in Kconfig fragments (the
/// debug cells against the debug baseline, the others against the plain
/// one).
pub fn baseline_regressions(cells: &[CellSummary]) -> Vec<Regression> {
    let mut out = Vec::new();
    for base in cells.iter().filter(|c| !c.patched) {
        for c in cells
            .iter()
            .filter(|c| c.patched && c.version == base.version && c.kconfig == base.kconfig)
        {
            for (name, was) in &base.tests {
                if *was != Status::Pass {
                    continue;
                }
                match c.tests.get(name) {
                    Some(now) if failing(*now) => out.push(Regression {
                        cell: c.id.clone(),
                        test: name.clone(),
                        passed_in: base.id.clone(),
                        now: now.to_string(),
                    }),
                    None if c.status == CellStatus::Fail => out.push(Regression {
                        cell: c.id.clone(),
                        test: name.clone(),
                        passed_in: base.id.clone(),
                        now: format!("not run: {}", c.reason.as_deref().unwrap_or("FAIL")),
                    }),
                    _ => {}
                }
            }
        }
    }
    out
}

/// Tests (and whole cells) that passed in `previous` and fail now, cell by
/// cell id (so `7.2` compares 7.2.12 then with 7.2.13 now).
pub fn previous_regressions(cells: &[CellSummary], previous: &Summary) -> Vec<Regression> {
    let mut out = Vec::new();
    for c in cells {
        let Some(p) = previous.cells.iter().find(|p| p.id == c.id) else {
            continue;
        };
        let was = format!(
            "previous run ({})",
            p.kernel.as_deref().unwrap_or(&p.version)
        );
        if p.status == CellStatus::Pass
            && c.tests.is_empty()
            && c.status.rank() > CellStatus::Miss.rank()
        {
            out.push(Regression {
                cell: c.id.clone(),
                test: "*".into(),
                passed_in: was.clone(),
                now: format!("{}: {}", c.status, c.reason.as_deref().unwrap_or("")),
            });
            continue;
        }
        for (name, before) in &p.tests {
            if *before != Status::Pass {
                continue;
            }
            if let Some(now) = c.tests.get(name).filter(|s| failing(**s)) {
                out.push(Regression {
                    cell: c.id.clone(),
                    test: name.clone(),
                    passed_in: was.clone(),
                    now: now.to_string(),
                });
            }
        }
    }
    out
}

/// Puts cells in matrix order, adds MISS for expected cells without a
/// result, and computes the regressions.
pub fn summarize(
    mut cells: Vec<CellSummary>,
    expected: &[Cell],
    previous: Option<(&Summary, String)>,
) -> Summary {
    for e in expected {
        if !cells.iter().any(|c| c.id == e.id()) {
            cells.push(CellSummary::missing(e));
        }
    }
    let order = |c: &CellSummary| {
        expected
            .iter()
            .position(|e| e.id() == c.id)
            .unwrap_or(usize::MAX)
    };
    cells.sort_by(|a, b| order(a).cmp(&order(b)).then(a.id.cmp(&b.id)));
    let (generated, run_id) = results::now_utc();
    let regressions = Regressions {
        against_baseline: baseline_regressions(&cells),
        against_previous: previous
            .as_ref()
            .map(|(p, _)| previous_regressions(&cells, p))
            .unwrap_or_default(),
    };
    Summary {
        schema: SCHEMA,
        run_id,
        generated,
        status: worst(cells.iter().map(|c| c.status)),
        cells,
        regressions,
        previous: previous.map(|(_, name)| name),
    }
}

impl Summary {
    pub fn read(path: &Path) -> Result<Summary> {
        results::read_json(
            path,
            "a matrix summary.json",
            |s: &Summary| s.schema,
            SCHEMA,
        )
    }

    /// Writes `summary.json` and `summary.md` into `dir`.
    pub fn write(&self, dir: &Path) -> Result<()> {
        Cache::ensure(dir)?;
        results::write_json(&dir.join("summary.json"), self)?;
        let md = dir.join("summary.md");
        std::fs::write(&md, self.markdown())
            .with_context(|| format!("cannot write {}", md.display()))
    }

    /// Exit code of a matrix run: 0 when no cell is FAIL, ERROR or MISS.
    pub fn exit_code(&self) -> i32 {
        match self.status {
            CellStatus::Fail => Exit::TestFailed.code(),
            CellStatus::Error | CellStatus::Miss => Exit::Infra.code(),
            _ => Exit::Ok.code(),
        }
    }

    pub fn markdown(&self) -> String {
        let mut s = format!(
            "# Kernel matrix {}\n\nOverall: **{}** ({} cells). Status order (KCIDB): FAIL > ERROR > MISS > PASS > DONE > SKIP.\n\n",
            self.generated,
            self.status,
            self.cells.len()
        );
        s.push_str("| version | kernel | config | status | queue | series | build | pass | fail | skip | error | flaky boots | cell time | reason |\n");
        s.push_str("| --- | --- | --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n");
        for c in &self.cells {
            let build = c
                .build_seconds
                .map(|b| {
                    format!(
                        "{b:.0}s ({} obj)",
                        c.objects_compiled.map_or("?".into(), |o| o.to_string())
                    )
                })
                .unwrap_or_else(|| "-".into());
            s.push_str(&format!(
                "| {} | {} | {} | **{}** | {} | {} | {} | {} | {} | {} | {} | {} | {:.0}s | {} |\n",
                c.version,
                c.kernel.as_deref().unwrap_or("-"),
                c.config,
                c.status,
                c.queue.as_deref().unwrap_or("-"),
                c.series_hash
                    .as_deref()
                    .map(|h| format!("`{}`", &h[..h.len().min(12)]))
                    .unwrap_or_else(|| "-".into()),
                build,
                c.pass,
                c.fail,
                c.skip,
                c.error + c.timeout,
                c.flaky_boots,
                c.seconds,
                c.reason.as_deref().unwrap_or("").replace('|', "\\|"),
            ));
        }
        s.push_str("\n## Regressions against the unpatched baseline\n\n");
        regression_list(&mut s, &self.regressions.against_baseline, "none");
        s.push_str("\n## Regressions since the previous run\n\n");
        match &self.previous {
            None => s.push_str("no previous summary to compare with\n"),
            Some(p) => {
                s.push_str(&format!("compared with `{p}`\n\n"));
                regression_list(&mut s, &self.regressions.against_previous, "none");
            }
        }
        s
    }
}

fn regression_list(s: &mut String, list: &[Regression], none: &str) {
    if list.is_empty() {
        s.push_str(none);
        s.push('\n');
        return;
    }
    for r in list {
        s.push_str(&format!(
            "- `{}` {}: passed in {}, now {}\n",
            r.cell,
            if r.test == "*" {
                "(whole cell)".to_string()
            } else {
                format!("`{}`", r.test)
            },
            r.passed_in,
            r.now
        ));
    }
}

/// Every `cell.json` under `dirs` (CI artifacts, a run directory); a cell
/// found twice keeps the later one.
pub fn collect(dirs: &[PathBuf]) -> Result<Vec<CellSummary>> {
    let mut cells: Vec<CellSummary> = Vec::new();
    for d in dirs {
        if !d.is_dir() {
            return Err(fail(
                Exit::Usage,
                format!("{} is not a directory of matrix cells", d.display()),
            ));
        }
        for e in walkdir::WalkDir::new(d).sort_by_file_name() {
            let e = e.with_context(|| format!("cannot read {}", d.display()))?;
            if e.file_name() != "cell.json" {
                continue;
            }
            let c: CellSummary = results::read_json(
                e.path(),
                "a matrix cell.json",
                |c: &CellSummary| c.schema,
                SCHEMA,
            )?;
            cells.retain(|x| x.id != c.id);
            cells.push(c);
        }
    }
    Ok(cells)
}

/// Loads the previous summary if there is one; a broken one is reported
/// and ignored (a regression report is not worth failing the run).
pub fn previous(path: &Path) -> Option<(Summary, String)> {
    if !path.exists() {
        return None;
    }
    match Summary::read(path) {
        Ok(s) => Some((s, path.display().to_string())),
        Err(e) => {
            eprintln!("asi-tool: warning: ignoring the previous summary: {e:#}");
            None
        }
    }
}

/// Merges `summary`'s cells into `latest` (cells of other shards or
/// versions are kept), the baseline of the next run's comparison.
pub fn update_latest(summary: &Summary, latest: &Path) -> Result<()> {
    let mut merged = previous(latest).map(|(s, _)| s).unwrap_or_else(|| Summary {
        cells: vec![],
        ..summary.clone()
    });
    for c in summary
        .cells
        .iter()
        .filter(|c| c.status != CellStatus::Miss)
    {
        merged.cells.retain(|x| x.id != c.id);
        merged.cells.push(c.clone());
    }
    merged.generated = summary.generated.clone();
    merged.run_id = summary.run_id.clone();
    merged.status = worst(merged.cells.iter().map(|c| c.status));
    merged.regressions = Regressions::default();
    merged.previous = None;
    results::write_json(latest, &merged)
}

/// Options of `asi-tool matrix` besides the cells.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The run directory.
    pub out: PathBuf,
    /// The summary to compare with (and to update), if any.
    pub previous: Option<PathBuf>,
    /// Merge this run into `previous` afterwards.
    pub update_previous: bool,
    /// accel, cpus, memory, retries, build, filter: as for `asi-tool test`.
    pub test: TestOptions,
}

/// The run directory of a matrix run started now.
pub fn default_out(project: &Project) -> PathBuf {
    project
        .results_dir()
        .join("matrix")
        .join(results::now_utc().1)
}

pub fn default_previous(project: &Project) -> PathBuf {
    project
        .results_dir()
        .join("matrix")
        .join("latest-summary.json")
}

/// Runs every cell through `pipeline::test` (a failing cell never stops
/// the others), then writes the summary.
pub fn run(project: &Project, cache: &Cache, cells: &[Cell], opts: &RunOptions) -> Result<Summary> {
    // Every cell's inputs first (its queue, fragments, tests): nothing is
    // fetched or written while one of them is broken.
    for cell in cells {
        let dir = opts.out.join(cell.id());
        crate::pipeline::validate(project, &cell_options(&opts.test, cell, &dir))
            .with_context(|| format!("matrix cell {}", cell.id()))?;
    }
    Cache::ensure(&opts.out)?;
    let mut done = Vec::new();
    for (i, cell) in cells.iter().enumerate() {
        eprintln!(
            "asi-tool: matrix cell {}/{}: {} (kernel {}, {}, append {:?}{})",
            i + 1,
            cells.len(),
            cell.id(),
            cell.version,
            if cell.config.patched {
                "patched"
            } else {
                "unpatched baseline"
            },
            cell.config.append,
            if cell.config.kconfig.is_empty() {
                String::new()
            } else {
                format!(", kconfig + {}", cell.config.kconfig.join(" "))
            }
        );
        let dir = opts.out.join(cell.id());
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .with_context(|| format!("cannot clear {}", dir.display()))?;
        }
        let t = cell_options(&opts.test, cell, &dir);
        let start = Instant::now();
        let mut stage = Stage::Fetch;
        let summary = match pipeline::test_staged(project, cache, &t, &mut stage) {
            Ok(r) => CellSummary::from_results(cell, &r, start.elapsed().as_secs_f64()),
            Err(e) => {
                eprintln!("asi-tool: cell {} stopped at {stage}: {e:#}", cell.id());
                let mut c = CellSummary::from_error(cell, stage, &e, start.elapsed().as_secs_f64());
                c.kernel =
                    crate::source::cached_line(cache, &cell.version).map(|k| k.record.version);
                c
            }
        };
        Cache::ensure(&dir)?;
        summary.write(&dir.join("cell.json"))?;
        eprintln!(
            "asi-tool: cell {}: {}{}",
            cell.id(),
            summary.status,
            summary
                .reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        );
        done.push(summary);
    }
    finish(done, cells, opts)
}

/// The `test` options of one cell: `base` with the cell's kernel, queue or
/// baseline, command line, fragments and results directory `dir`.
fn cell_options(base: &TestOptions, cell: &Cell, dir: &Path) -> TestOptions {
    let mut t = base.clone();
    t.spec = TreeSpec::Kernel(cell.version.clone());
    t.baseline = !cell.config.patched;
    t.append = cell
        .config
        .append
        .split_whitespace()
        .map(str::to_string)
        .collect();
    t.kconfig = cell.config.kconfig.clone();
    t.out_dir = Some(dir.to_path_buf());
    t
}

/// Summary, regressions, files: shared by `run` and `summarize`.
pub fn finish(cells: Vec<CellSummary>, expected: &[Cell], opts: &RunOptions) -> Result<Summary> {
    let prev = opts.previous.as_deref().and_then(previous);
    let s = summarize(cells, expected, prev.as_ref().map(|(p, n)| (p, n.clone())));
    s.write(&opts.out)?;
    if let (true, Some(path)) = (opts.update_previous, &opts.previous) {
        update_latest(&s, path)?;
    }
    Ok(s)
}

/// The per-cell lines `matrix` prints at the end.
pub fn table(s: &Summary) -> String {
    let w = s.cells.iter().map(|c| c.id.len()).max().unwrap_or(4).max(4);
    let mut out = format!(
        "{:<w$}  {:<6}  {:>9}  {:>14}  REASON\n",
        "CELL", "STATUS", "BUILD", "PASS/FAIL/SKIP"
    );
    for c in &s.cells {
        out.push_str(&format!(
            "{:<w$}  {:<6}  {:>9}  {:>14}  {}\n",
            c.id,
            c.status.to_string(),
            c.build_seconds.map_or("-".into(), |b| format!("{b:.0}s")),
            format!("{}/{}/{}", c.pass, c.fail + c.error + c.timeout, c.skip),
            c.reason.as_deref().unwrap_or("")
        ));
    }
    let n = s.regressions.against_baseline.len() + s.regressions.against_previous.len();
    out.push_str(&format!("overall {}, {n} regression(s)\n", s.status));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MATRIX: &str = r#"
[[kernel]]
version = "6.12.107"
[[kernel]]
version = "7.2"
[[kernel]]
version = "7.3"

[[config]]
name = "asi-on"
patched = true
append = "asi=on"
[[config]]
name = "asi-off"
patched = true
append = "asi=off"
[[config]]
name = "baseline"
patched = false
"#;

    #[test]
    fn matrix_file_parses_and_validates() {
        let m = parse(MATRIX).unwrap();
        assert_eq!(m.kernels, ["6.12.107", "7.2", "7.3"]);
        assert_eq!(m.configs.len(), 3);
        assert!(!m.configs[2].patched && m.configs[2].append.is_empty());
        for (text, want) in [
            ("[[config]]\nname='a'\npatched=true\n", "no [[kernel]]"),
            ("[[kernel]]\nversion='7.2'\n", "no [[config]]"),
            ("[[kernel]]\nversion='seven'\n[[config]]\nname='a'\npatched=true\n", "MAJOR.MINOR"),
            ("[[kernel]]\nversion='7.2'\n[[kernel]]\nversion='7.2'\n[[config]]\nname='a'\npatched=true\n", "twice"),
            ("[[kernel]]\nversion='7.2'\n[[config]]\nname='A b'\npatched=true\n", "config name"),
            ("[[kernel]]\nversion='7.2'\n[[config]]\nname='a'\npatched=true\n[[config]]\nname='a'\npatched=false\n", "defined twice"),
            ("[[kernel]]\nversion='7.2'\nbogus=1\n[[config]]\nname='a'\npatched=true\n", "bogus"),
            ("[[kernel]]\nversion='7.2'\n[[config]]\nname='a'\n", "patched"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }

    #[test]
    fn cells_filters_and_shards() {
        let m = parse(MATRIX).unwrap();
        let all = m.cells(&[], &[]).unwrap();
        assert_eq!(all.len(), 9);
        assert_eq!(all[0].id(), "6.12.107-asi-on");
        assert_eq!(all[8].id(), "7.3-baseline");
        let some = m.cells(&["7.2".into()], &["baseline".into()]).unwrap();
        assert_eq!(
            some.iter().map(Cell::id).collect::<Vec<_>>(),
            ["7.2-baseline"]
        );
        assert_eq!(m.cells(&["7.4".into()], &[]).unwrap().len(), 3);
        assert!(m.cells(&["x".into()], &[]).is_err());
        let e = m.cells(&[], &["nope".into()]).unwrap_err();
        assert!(format!("{e}").contains("asi-on, asi-off, baseline"));
        // Sharding: both patched cells of a version stay on one machine,
        // every cell runs exactly once.
        let n = 4;
        let mut seen = Vec::new();
        for k in 1..=n {
            let part = shard(&all, Shard { index: k, count: n });
            for c in &part {
                if c.config.patched {
                    assert!(
                        part.iter()
                            .filter(|x| x.version == c.version && x.config.patched)
                            .count()
                            == 2
                    );
                }
            }
            seen.extend(part.iter().map(Cell::id));
        }
        seen.sort();
        let mut ids: Vec<String> = all.iter().map(Cell::id).collect();
        ids.sort();
        assert_eq!(seen, ids);
        assert_eq!(
            "2/3".parse::<Shard>().unwrap(),
            Shard { index: 2, count: 3 }
        );
        for bad in ["0/3", "4/3", "x", "1/0", "1-2"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    const DEBUG_CONFIGS: &str = r#"
[[config]]
name = "asi-on-debug"
patched = true
append = "asi=on"
kconfig = ["70-debug.config"]
kernels = ["6.12.107"]
[[config]]
name = "baseline-debug"
patched = false
kconfig = ["70-debug.config"]
kernels = ["6.12.107"]
"#;

    /// Configs with opt-in fragments, limited to some versions: only those
    /// versions get their cells, their builds are units of their own, and
    /// bad `kernels` / `kconfig` values are refused when the file is read.
    #[test]
    fn configs_with_fragments_on_some_versions() {
        let m = parse(&format!("{MATRIX}{DEBUG_CONFIGS}")).unwrap();
        assert_eq!(m.configs[3].kconfig, ["70-debug.config"]);
        assert!(m.configs[3].runs_on("6.12.107") && !m.configs[3].runs_on("7.2"));
        let all = m.cells(&[], &[]).unwrap();
        assert_eq!(all.len(), 11);
        let ids: Vec<String> = all.iter().map(Cell::id).collect();
        assert_eq!(
            &ids[..5],
            [
                "6.12.107-asi-on",
                "6.12.107-asi-off",
                "6.12.107-baseline",
                "6.12.107-asi-on-debug",
                "6.12.107-baseline-debug"
            ]
        );
        assert!(!ids
            .iter()
            .any(|i| i.starts_with("7.") && i.ends_with("-debug")));
        // A version not in the file gets only the unlimited configs.
        assert_eq!(m.cells(&["7.4".into()], &[]).unwrap().len(), 3);
        assert_eq!(
            m.cells(&[], &["asi-on-debug".into()]).unwrap()[0].id(),
            "6.12.107-asi-on-debug"
        );
        let e = m
            .cells(&["7.2".into()], &["asi-on-debug".into()])
            .unwrap_err();
        assert_eq!(exit_code_of(&e), Exit::Usage);
        assert!(
            format!("{e}").contains("asi-on-debug runs only on 6.12.107"),
            "{e}"
        );
        // The debug builds are units of their own: with 5 units on 6.12
        // and 3 machines, the debug cells do not go with the plain ones.
        let six: Vec<Cell> = all
            .iter()
            .filter(|c| c.version == "6.12.107")
            .cloned()
            .collect();
        for k in 1..=3 {
            let part: Vec<String> = shard(&six, Shard { index: k, count: 3 })
                .iter()
                .map(Cell::id)
                .collect();
            if part.contains(&"6.12.107-asi-on".to_string()) {
                assert!(part.contains(&"6.12.107-asi-off".to_string()), "{part:?}");
                assert!(
                    !part.contains(&"6.12.107-asi-on-debug".to_string()),
                    "{part:?}"
                );
            }
        }
        for (extra, want) in [
            ("kernels = [\"7.4\"]", "no [[kernel]] version"),
            ("kconfig = [\"debug\"]", "by its file name"),
            ("kconfig = [\"../70-debug.config\"]", "by its file name"),
            (
                "kconfig = [\"70-debug.config\", \"70-debug.config\"]",
                "once",
            ),
        ] {
            let text = format!("{MATRIX}[[config]]\nname = \"x\"\npatched = true\n{extra}\n");
            let e = parse(&text).unwrap_err();
            assert!(e.contains(want), "{extra}: {e}");
        }
    }

    /// The debug cells are compared with the debug baseline, the plain
    /// ones with the plain baseline: never across.
    #[test]
    fn regressions_pair_cells_built_with_the_same_fragments() {
        let cell = |id: &str, patched: bool, kconfig: &[&str], status: Status| {
            let mut c = fixture_cell(id, patched);
            c.config.kconfig = kconfig.iter().map(|s| s.to_string()).collect();
            let mut s = CellSummary::empty(&c, CellStatus::Pass);
            s.tests.insert("map_exclusive".into(), status);
            s
        };
        let debug = ["70-debug.config"];
        let cells = vec![
            cell("6.12-baseline", false, &[], Status::Pass),
            cell("6.12-asi", true, &[], Status::Pass),
            // Upstream's own splat: the debug baseline fails too.
            cell("6.12-baseline", false, &debug, Status::Error),
            cell("6.12-asidebug", true, &debug, Status::Error),
        ];
        assert_eq!(baseline_regressions(&cells), vec![]);
        let cells = vec![
            cell("6.12-baseline", false, &[], Status::Pass),
            cell("6.12-asi", true, &[], Status::Pass),
            cell("6.12-baselinedebug", false, &debug, Status::Pass),
            cell("6.12-asidebug", true, &debug, Status::Error),
        ];
        assert_eq!(
            baseline_regressions(&cells),
            vec![Regression {
                cell: "6.12-asidebug".into(),
                test: "map_exclusive".into(),
                passed_in: "6.12-baselinedebug".into(),
                now: "ERROR".into(),
            }]
        );
        // cell.json records the fragments; older files read back without.
        let c = &cells[3];
        let text = serde_json::to_string(c).unwrap();
        assert!(text.contains("\"kconfig\":[\"70-debug.config\"]"), "{text}");
        let mut old: serde_json::Value = serde_json::from_str(&text).unwrap();
        old.as_object_mut().unwrap().remove("kconfig");
        let back: CellSummary = serde_json::from_value(old).unwrap();
        assert!(back.kconfig.is_empty());
    }

    /// A cell whose guest kernel reported trouble says which, once, first.
    #[test]
    fn a_kernel_report_is_the_cells_reason() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/matrix");
        let mut r = RunResults::read(&fixtures.join("run1/7.2-asi-on/results.json")).unwrap();
        let report = "BUG: KASAN: slab-use-after-free in asi_domain_put+0x3c/0x90";
        r.boots[0].kernel_report = Some(report.into());
        r.exit_code = Exit::GuestPanic.code();
        for t in r.tests.iter_mut().filter(|t| t.boot == Some(0)) {
            let (s, why) = crate::testvms::with_kernel_report(t.status, t.reason.take(), report);
            (t.status, t.reason) = (s, why);
        }
        let c = CellSummary::from_results(&fixture_cell("7.2-asi-on", true), &r, 10.0);
        assert_eq!(c.status, CellStatus::Fail);
        let reason = c.reason.unwrap();
        assert!(
            reason.starts_with(&format!("guest kernel report: {report}; ")),
            "{reason}"
        );
        assert_eq!(reason.matches(report).count(), 1, "{reason}");
    }

    #[test]
    fn kcidb_order() {
        use CellStatus::*;
        assert_eq!(worst([Pass, Skip, Done]), Pass);
        assert_eq!(worst([Pass, Miss]), Miss);
        assert_eq!(worst([Miss, Error]), Error);
        assert_eq!(worst([Error, Fail, Pass]), Fail);
        assert_eq!(worst([Skip, Done]), Done);
        assert_eq!(worst([]), Pass);
    }

    fn fixture_cell(id: &str, patched: bool) -> Cell {
        let (v, c) = id.split_once('-').unwrap();
        Cell {
            version: v.into(),
            config: Config {
                name: c.into(),
                patched,
                append: String::new(),
                kconfig: vec![],
                kernels: vec![],
            },
        }
    }

    #[test]
    fn run_results_become_cells() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/matrix");
        let r = RunResults::read(&fixtures.join("run1/7.2-asi-on/results.json")).unwrap();
        let c = CellSummary::from_results(&fixture_cell("7.2-asi-on", true), &r, 10.0);
        assert_eq!(c.status, CellStatus::Fail);
        assert_eq!(c.kernel.as_deref(), Some("7.2.13"));
        assert_eq!(c.queue.as_deref(), Some("patches/forwardports/7.2"));
        assert_eq!((c.pass, c.fail, c.skip), (2, 1, 0));
        assert!(
            c.reason.as_deref().unwrap().contains("memfd_secret FAIL"),
            "{:?}",
            c.reason
        );
        let e = fail(
            Exit::Conflict,
            "patch 3/7 does not apply: 0003-x.patch\n  mm/mmap.c",
        );
        let c = CellSummary::from_error(&fixture_cell("7.3-asi-on", true), Stage::Apply, &e, 1.0);
        assert_eq!(c.status, CellStatus::Fail);
        assert_eq!(
            c.reason.as_deref(),
            Some("apply: patch 3/7 does not apply: 0003-x.patch mm/mmap.c")
        );
        assert_eq!(one_line("a\n  git: x\nb", 100), "a b");
        assert_eq!(one_line("abcdef", 5), "ab...");
        let e = fail(Exit::Infra, "make failed");
        assert_eq!(
            CellSummary::from_error(&fixture_cell("7.3-asi-on", true), Stage::Build, &e, 1.0)
                .status,
            CellStatus::Fail
        );
        assert_eq!(
            CellSummary::from_error(&fixture_cell("7.3-baseline", false), Stage::Build, &e, 1.0)
                .status,
            CellStatus::Error
        );
        assert_eq!(
            CellSummary::from_error(&fixture_cell("7.3-asi-on", true), Stage::Fetch, &e, 1.0)
                .status,
            CellStatus::Error
        );
    }

    #[test]
    fn summary_and_regressions_from_fixture_runs() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/matrix");
        let expected = vec![
            fixture_cell("7.2-asi-on", true),
            fixture_cell("7.2-baseline", false),
            fixture_cell("7.3-asi-on", true),
        ];
        // The previous run: everything passed on 7.2.12.
        let run1 = collect(&[fixtures.join("previous")]).unwrap();
        let prev = summarize(run1, &expected, None);
        assert_eq!(prev.status, CellStatus::Pass);
        // This run: memfd_secret fails with the queue (passes on the
        // baseline), 7.3 has no result.
        let run2 = collect(&[fixtures.join("run1")]).unwrap();
        assert_eq!(run2.len(), 2);
        let s = summarize(run2, &expected, Some((&prev, "latest-summary.json".into())));
        assert_eq!(s.status, CellStatus::Fail);
        assert_eq!(
            s.cells.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            ["7.2-asi-on", "7.2-baseline", "7.3-asi-on"]
        );
        assert_eq!(s.cells[2].status, CellStatus::Miss);
        assert_eq!(
            s.regressions.against_baseline,
            vec![Regression {
                cell: "7.2-asi-on".into(),
                test: "memfd_secret".into(),
                passed_in: "7.2-baseline".into(),
                now: "FAIL".into(),
            }]
        );
        assert_eq!(s.regressions.against_previous.len(), 1);
        assert_eq!(
            s.regressions.against_previous[0].passed_in,
            "previous run (7.2.12)"
        );
        let md = s.markdown();
        assert!(
            md.contains("| 7.2 | 7.2.13 | asi-on | **FAIL** | patches/forwardports/7.2 |"),
            "{md}"
        );
        assert!(
            md.contains("`7.2-asi-on` `memfd_secret`: passed in 7.2-baseline, now FAIL"),
            "{md}"
        );
        assert!(md.contains("| 7.3 | - | asi-on | **MISS** |"), "{md}");
        assert_eq!(s.exit_code(), 1);
        // Round trip and the merged "latest" summary.
        let d = tempfile::tempdir().unwrap();
        s.write(d.path()).unwrap();
        assert_eq!(Summary::read(&d.path().join("summary.json")).unwrap(), s);
        let latest = d.path().join("latest-summary.json");
        update_latest(&prev, &latest).unwrap();
        update_latest(&s, &latest).unwrap();
        let merged = Summary::read(&latest).unwrap();
        // MISS cells never overwrite a previous result.
        assert_eq!(merged.cells.len(), 3);
        assert!(merged.cells.iter().all(|c| c.status != CellStatus::Miss));
        assert!(table(&s).contains("7.2-asi-on"));
    }
}
