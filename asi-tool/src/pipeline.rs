//! The stages chained: source → queue applied → config → build → vm →
//! results. Each `asi-tool` subcommand runs a prefix of this chain; `test`
//! runs all of it.

use crate::apply::{self, Applied, ApplyOptions, Target};
use crate::build::{self, BuildOptions, Built};
use crate::cache::Cache;
use crate::error::{fail, Exit};
use crate::kconfig;
use crate::queue::{self, Queue, Selected};
use crate::results::{
    self, BootInfo, BuildInfo, KernelInfo, PatchInfo, QueueInfo, RunResults, Status, TestResult,
};
use crate::source::{self, Origin};
use crate::testvms;
use crate::vm::{self, Accel, VmOptions};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The kernel `asi-tool test` uses when none is named: 6.12 LTS, pinned to
/// the pristine orig tarball in Debian's archive so results are reproducible.
pub const DEFAULT_KERNEL: &str = "6.12.107";

/// The project checkout: `patches/`, `kconfig/`, `test-vms/`.
#[derive(Debug, Clone)]
pub struct Project {
    pub root: PathBuf,
}

impl Project {
    /// `--project`, else `$ASI_TOOL_PROJECT`, else the nearest ancestor of
    /// the current directory holding `patches/series`.
    pub fn locate(explicit: Option<&Path>) -> Result<Project> {
        if let Some(p) = explicit
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("ASI_TOOL_PROJECT").map(PathBuf::from))
        {
            // A wrong --project is a usage error (exit 2), as is no project.
            let root = p.canonicalize().map_err(|e| {
                fail(
                    Exit::Usage,
                    format!(
                        "project directory {} does not exist ({e}): pass the project \
                         checkout to --project (or $ASI_TOOL_PROJECT)",
                        p.display()
                    ),
                )
            })?;
            if !root.join("patches/series").is_file() {
                return Err(fail(
                    Exit::Usage,
                    format!(
                        "{} is not an asi project (no patches/series): pass the project \
                         checkout to --project (or $ASI_TOOL_PROJECT)",
                        root.display()
                    ),
                ));
            }
            return Ok(Project { root });
        }
        let cwd = std::env::current_dir().context("cannot read the current directory")?;
        for dir in cwd.ancestors() {
            if dir.join("patches/series").is_file() && dir.join("kconfig").is_dir() {
                return Ok(Project {
                    root: dir.to_path_buf(),
                });
            }
        }
        Err(fail(
            Exit::Usage,
            format!(
                "no asi project here ({} and its parents have no patches/series): \
                 run from the project checkout or pass --project DIR",
                cwd.display()
            ),
        ))
    }

    pub fn queue_dir(&self) -> PathBuf {
        self.root.join("patches")
    }

    pub fn kconfig_dir(&self) -> PathBuf {
        self.root.join("kconfig")
    }

    pub fn results_dir(&self) -> PathBuf {
        self.root.join("results")
    }

    /// The queue to apply on kernel `version` (its variant under
    /// `patches/forwardports/<MAJOR.MINOR>/` if there is one), loaded. A
    /// variant made from an older `patches/` is used, with a warning.
    pub fn queue_for(&self, version: &str) -> Result<(Queue, Selected)> {
        let selected = queue::select(&self.queue_dir(), version);
        let q = Queue::load(&selected.dir)?;
        if let Some(v) = &selected.variant {
            let base = Queue::load(&self.queue_dir())?.series_hash();
            match queue::from_series(&q.header) {
                Some(from) if from == base => {}
                from => eprintln!(
                    "asi-tool: warning: {} was made from another patches/ (series {}, now {}): \
                     refresh it with `asi-tool rebase --onto {v} --write`",
                    selected.label(),
                    from.as_deref().map_or("unknown", |h| &h[..h.len().min(12)]),
                    &base[..base.len().min(12)],
                ),
            }
        }
        Ok((q, selected))
    }
}

/// Which kernel tree to work on.
#[derive(Debug, Clone)]
pub enum TreeSpec {
    /// A kernel in the cache, fetched if needed.
    Kernel(String),
    /// A user's git repository (the queue goes on a new branch, built in an
    /// asi-tool worktree).
    Tree(PathBuf),
}

impl TreeSpec {
    pub fn from_args(kernel: Option<String>, tree: Option<PathBuf>) -> TreeSpec {
        match (kernel, tree) {
            (_, Some(t)) => TreeSpec::Tree(t),
            (Some(k), None) => TreeSpec::Kernel(k),
            (None, None) => TreeSpec::Kernel(DEFAULT_KERNEL.to_string()),
        }
    }

    /// The flag that selects this tree again, for reproducer lines.
    pub fn flag(&self) -> String {
        match self {
            TreeSpec::Kernel(v) => format!("--kernel {v}"),
            TreeSpec::Tree(t) => {
                format!("--tree {}", crate::cmd::shell_quote(&t.to_string_lossy()))
            }
        }
    }
}

/// A tree asi-tool may apply to and build from, with its build directory.
#[derive(Debug, Clone)]
pub struct Workspace {
    pub target: Target,
    pub build: PathBuf,
    pub kernel: KernelInfo,
}

/// Resolves (and for `--kernel`, fetches) the tree.
pub fn workspace(cache: &Cache, spec: &TreeSpec, base: Option<&str>) -> Result<Workspace> {
    match spec {
        TreeSpec::Kernel(v) => {
            let k = source::fetch(cache, v, &Origin::Debian)?;
            crate::cache::hold_version(cache, &k.record.version)?;
            let base = match base {
                Some(b) => apply::resolve(&k.dir, b)?,
                None => k.record.commit.clone(),
            };
            Ok(Workspace {
                build: cache.build(&k.record.version),
                kernel: KernelInfo {
                    version: k.record.version.clone(),
                    origin: k.record.origin.clone(),
                    base_commit: base.clone(),
                    tree: k.dir.display().to_string(),
                },
                target: Target {
                    repo: k.dir.clone(),
                    work: k.dir.clone(),
                    base,
                    owned: true,
                },
            })
        }
        TreeSpec::Tree(dir) => {
            let target = apply::user_target(cache, dir, base)?;
            let name = target
                .work
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_else(|| "tree".into());
            Ok(Workspace {
                build: cache.build(&name),
                kernel: KernelInfo {
                    version: source::kernel_version(&target.work)
                        .unwrap_or_else(|| "unknown".into()),
                    origin: format!("tree {}", target.repo.display()),
                    base_commit: target.base.clone(),
                    tree: target.work.display().to_string(),
                },
                target,
            })
        }
    }
}

/// The unpatched tree for a baseline: its own asi-tool work tree
/// (`worktrees/<name>-baseline`, detached at the base) and build directory
/// (`build/<name>-baseline`), so that a baseline run never flips the patched
/// tree's files (mm.h is touched by the queue: ~1500 objects to rebuild).
pub fn baseline_workspace(cache: &Cache, spec: &TreeSpec, base: Option<&str>) -> Result<Workspace> {
    let ws = workspace(cache, spec, base)?;
    let name = match spec {
        TreeSpec::Kernel(_) => format!("{}-baseline", ws.kernel.version),
        TreeSpec::Tree(_) => format!(
            "{}-baseline",
            ws.target
                .work
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_else(|| "tree".into())
        ),
    };
    let work = cache.worktree(&name);
    apply::ensure_worktree(&ws.target.repo, &work, &ws.target.base)?;
    apply::require_idle(&work)?;
    apply::checkout(&work, &ws.target.base)?;
    Ok(Workspace {
        build: cache.build(&name),
        kernel: KernelInfo {
            tree: work.display().to_string(),
            ..ws.kernel
        },
        target: Target { work, ..ws.target },
    })
}

/// The workspace of a build with the opt-in Kconfig fragments `extra`
/// (`--kconfig`, a matrix config's `kconfig`): the same tree, and a build
/// directory of its own, `build/<name>-<suffix>` (`build/6.12.107-debug`,
/// `build/6.12.107-baseline-debug` for `70-debug.config`), so that the
/// debug kernel never reconfigures, and so never dirties, the normal
/// build. No fragment: `ws` as it is.
pub fn with_kconfig(cache: &Cache, ws: Workspace, extra: &[String]) -> Workspace {
    let Some(suffix) = kconfig::build_suffix(extra) else {
        return ws;
    };
    let name = ws
        .build
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "tree".into());
    Workspace {
        build: cache.build(&format!("{name}-{suffix}")),
        ..ws
    }
}

/// Applies the queue, printing one line per stage. On a kernel from the
/// cache, the preimages of the queue's files are first copied into its
/// repository (see `rebase::seed_preimages`), so that `git am -3` can fall
/// back to a 3-way merge on a version the queue was not written for.
pub fn apply_queue(
    cache: &Cache,
    ws: &Workspace,
    queue: &Queue,
    opts: &ApplyOptions,
) -> Result<Applied> {
    if ws.target.owned {
        if let Err(e) = crate::rebase::seed_preimages(cache, queue, &ws.target.repo) {
            eprintln!("asi-tool: note: no 3-way fallback for this tree: {e:#}");
        }
    }
    let applied = apply::apply(queue, &ws.target, opts)?;
    eprintln!(
        "asi-tool: applied {} patch(es) on {} as {} ({}) in {:.1}s",
        applied.patches,
        &applied.base[..12],
        applied.branch,
        &applied.tip[..12],
        applied.seconds
    );
    Ok(applied)
}

/// The result of a test that never reached a guest: skipped before its
/// boot, or not built.
fn not_booted(name: &str, status: Status, reason: String) -> TestResult {
    TestResult {
        name: name.to_string(),
        status,
        reason: Some(reason),
        duration: 0.0,
        boot: None,
        log: None,
        exit_code: None,
        cases: vec![],
    }
}

/// Merges the fragments into the workspace's build directory (those whose
/// `if-kconfig` symbol the tree lacks are left out, one line each), with
/// the opt-in fragments `extra` (see [`with_kconfig`] for the build
/// directory that goes with them).
pub fn configure(
    project: &Project,
    ws: &Workspace,
    patched: bool,
    extra: &[String],
) -> Result<kconfig::Configured> {
    let sel = kconfig::fragments(&project.kconfig_dir(), patched, extra, &ws.target.work)?;
    for (f, symbol) in &sel.left_out {
        eprintln!(
            "asi-tool: left out {}: this tree does not declare {symbol}",
            f.name
        );
    }
    let done = kconfig::configure(&ws.target.work, &ws.build, &sel.merged)?;
    eprintln!(
        "asi-tool: configured {} with {} (every requested option survived)",
        ws.build.display(),
        done.fragments.join(", ")
    );
    Ok(done)
}

pub fn build_kernel(ws: &Workspace, log: &Path, opts: &BuildOptions) -> Result<Built> {
    eprintln!(
        "asi-tool: building in {} (log: {})",
        ws.build.display(),
        log.display()
    );
    let b = build::build(&ws.target.work, &ws.build, log, opts)?;
    eprintln!(
        "asi-tool: built {} in {:.0}s ({} objects compiled)",
        b.image.display(),
        b.seconds,
        b.compiled
    );
    Ok(b)
}

/// Options of `asi-tool test`.
#[derive(Debug, Clone)]
pub struct TestOptions {
    pub spec: TreeSpec,
    pub base: Option<String>,
    pub baseline: bool,
    pub accel: Option<Accel>,
    pub cpus: u32,
    pub memory: String,
    pub retries: u32,
    pub build: BuildOptions,
    /// Only run tests whose name contains one of these.
    pub filter: Vec<String>,
    /// The manifest's tests or its benchmarks.
    pub suite: testvms::Suite,
    /// Extra kernel command line for every boot (`test --append`, a matrix
    /// cell's `append`); tests with `pinned = true` keep their own.
    pub append: Vec<String>,
    /// Opt-in Kconfig fragments to merge too (`test --kconfig`, a matrix
    /// config's `kconfig`), built in a build directory of their own.
    pub kconfig: Vec<String>,
    /// The run directory (default `results/<run>/`, which also moves
    /// `results/latest`); a matrix cell passes its own.
    pub out_dir: Option<PathBuf>,
}

impl TestOptions {
    /// Defaults of `asi-tool test` for `spec`.
    pub fn new(spec: TreeSpec) -> TestOptions {
        TestOptions {
            spec,
            base: None,
            baseline: false,
            accel: None,
            cpus: 2,
            memory: "2G".into(),
            retries: 1,
            build: BuildOptions::default(),
            filter: vec![],
            suite: testvms::Suite::Tests,
            append: vec![],
            kconfig: vec![],
            out_dir: None,
        }
    }
}

/// How far a run got: where it stopped when it failed (the matrix reports it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Fetch,
    Apply,
    Config,
    Build,
    Tests,
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stage::Fetch => "fetch",
            Stage::Apply => "apply",
            Stage::Config => "config",
            Stage::Build => "build",
            Stage::Tests => "tests",
        })
    }
}

/// Creates `results/<id>`, or `<id>-2`, `<id>-3`... when a run that started
/// in the same second (a `test` and a `bench` side by side) has it already.
pub fn unique_run_dir(results: &Path, id: &str) -> Result<(String, PathBuf)> {
    Cache::ensure(results)?;
    for n in 1..1000 {
        let name = if n == 1 {
            id.to_string()
        } else {
            format!("{id}-{n}")
        };
        let dir = results.join(&name);
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok((name, dir)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", dir.display())),
        }
    }
    anyhow::bail!("{}: 1000 runs started in one second?", results.display())
}

/// The tests (or benchmarks) of the manifest that a run selects, with the
/// run's kernel command line merged into each: those that --filter names,
/// and on an unpatched baseline only those that do not need the queue.
/// Selecting nothing is a usage error.
pub fn select_tests(project: &Project, opts: &TestOptions) -> Result<Vec<testvms::TestSpec>> {
    let patched = !opts.baseline;
    let specs: Vec<testvms::TestSpec> = testvms::load(&project.root)?
        .suite(opts.suite)
        .iter()
        .filter(|t| patched || !t.needs_patches)
        .filter(|t| {
            opts.filter.is_empty() || opts.filter.iter().any(|f| t.name.contains(f.as_str()))
        })
        .map(|t| testvms::TestSpec {
            append: testvms::boot_append(t, &opts.append),
            ..t.clone()
        })
        .collect();
    // A NUMA test needs a --memory that splits into its nodes: said now,
    // not after the build.
    for t in &specs {
        if let Some(nodes) = t.numa_nodes {
            vm::numa_args(opts.cpus, &opts.memory, nodes)
                .map_err(|e| fail(Exit::Usage, format!("test {}: {e}", t.name)))?;
        }
    }
    if specs.is_empty() {
        return Err(fail(
            Exit::Usage,
            match opts.suite {
                testvms::Suite::Tests => {
                    "no test selected (check --filter and the [[test]] entries of test-vms/manifest.toml)"
                }
                testvms::Suite::Benches => {
                    "no benchmark selected (check --filter and the [[bench]] entries of test-vms/manifest.toml)"
                }
            },
        ));
    }
    Ok(specs)
}

/// Runs the whole pipeline and writes `results/<run>/results.json`.
pub fn test(project: &Project, cache: &Cache, opts: &TestOptions) -> Result<RunResults> {
    let mut stage = Stage::Fetch;
    test_staged(project, cache, opts, &mut stage)
}

/// [`test`], keeping `stage` up to date so that a caller can tell where a
/// failed run stopped.
/// What a run checks before it fetches anything or makes its run
/// directory: the kernel version, the manifest and the --filter selection,
/// the queue the version gets, and the Kconfig fragments. Returns the
/// selected tests. `matrix` calls it for every cell before the first one
/// runs, so that a broken variant of the last version is not found hours
/// into the run.
pub fn validate(project: &Project, opts: &TestOptions) -> Result<Vec<testvms::TestSpec>> {
    // A bad version is a usage error: say so before any run directory exists.
    if let TreeSpec::Kernel(v) = &opts.spec {
        source::parse_version(v)?;
    }
    // So are a manifest that does not load and a --filter that selects
    // nothing: found now, not after a fetch and a 15-minute build.
    let selected = select_tests(project, opts)?;
    // And a queue that does not load (a series that names a missing
    // patch, a patch that does not parse): the variant is chosen by
    // MAJOR.MINOR, so it is known before the fetch too.
    if !opts.baseline {
        // For a --tree, the version of its work tree's Makefile, unless
        // --base names another revision (known only once it is read).
        let version = match &opts.spec {
            TreeSpec::Kernel(v) => Some(v.clone()),
            TreeSpec::Tree(dir) if opts.base.is_none() => source::kernel_version(dir),
            TreeSpec::Tree(_) => None,
        };
        if let Some(v) = version {
            let q = queue::select(&project.queue_dir(), &v);
            Queue::load(&q.dir)
                .with_context(|| format!("the queue for {v} ({}) does not load", q.label()))?;
        }
    }
    // And Kconfig fragments that are not fragments, or a --kconfig (a
    // matrix config's `kconfig`) that names no opt-in fragment (which of
    // them a tree gets is decided once the tree is there).
    kconfig::load(&project.kconfig_dir(), !opts.baseline, &opts.kconfig)?;
    Ok(selected)
}

pub fn test_staged(
    project: &Project,
    cache: &Cache,
    opts: &TestOptions,
    stage: &mut Stage,
) -> Result<RunResults> {
    *stage = Stage::Fetch;
    let selected = validate(project, opts)?;
    let (started, run_id) = results::now_utc();
    let (run_id, run_dir) = match &opts.out_dir {
        Some(dir) => {
            Cache::ensure(dir)?;
            (run_id, dir.clone())
        }
        None => unique_run_dir(&project.results_dir(), &run_id)?,
    };
    crate::cmd::log_commands_to(&run_dir.join("commands.log"))?;
    eprintln!("asi-tool: run {run_id}: {}", run_dir.display());

    let ran = run_stages(
        project,
        cache,
        opts,
        stage,
        selected,
        (run_id.clone(), started.clone()),
        &run_dir,
    );
    // From here on every run leaves a record, a failed one included.
    if let Err(e) = &ran {
        let failed = results::FailedRun::new(
            run_id,
            started,
            &stage.to_string(),
            e,
            reproduce(opts, None),
        );
        if let Err(w) = failed.write(&run_dir.join("results.json")) {
            eprintln!("asi-tool: could not record the failed run: {w:#}");
        }
    }
    if opts.out_dir.is_none() {
        let latest = project.results_dir().join("latest");
        let _ = std::fs::remove_file(&latest);
        #[cfg(unix)]
        let _ = std::os::unix::fs::symlink(run_dir.file_name().unwrap_or_default(), &latest);
    }
    ran
}

/// The command line that reruns a run; `accel` once it is known.
fn reproduce(opts: &TestOptions, accel: Option<Accel>) -> String {
    let verb = match opts.suite {
        testvms::Suite::Tests => "test",
        testvms::Suite::Benches => "bench",
    };
    let mut reproduce = format!("asi-tool {verb} {}", opts.spec.flag());
    if opts.baseline {
        reproduce.push_str(" --baseline");
    }
    if let Some(b) = &opts.base {
        reproduce.push_str(&format!(" --base {b}"));
    }
    for f in &opts.filter {
        reproduce.push_str(&format!(" --filter {}", crate::cmd::shell_quote(f)));
    }
    for a in &opts.append {
        reproduce.push_str(&format!(" --append {}", crate::cmd::shell_quote(a)));
    }
    for k in &opts.kconfig {
        reproduce.push_str(&format!(" --kconfig {}", crate::cmd::shell_quote(k)));
    }
    if let Some(accel) = accel {
        reproduce.push_str(&format!(" --accel {accel}"));
    }
    reproduce.push_str(&format!(" --cpus {} --memory {}", opts.cpus, opts.memory));
    reproduce
}

/// The stages of [`test_staged`] once its run directory exists.
fn run_stages(
    project: &Project,
    cache: &Cache,
    opts: &TestOptions,
    stage: &mut Stage,
    specs: Vec<testvms::TestSpec>,
    (run_id, started): (String, String),
    run_dir: &Path,
) -> Result<RunResults> {
    let patched = !opts.baseline;
    let ws = if opts.baseline {
        baseline_workspace(cache, &opts.spec, opts.base.as_deref())?
    } else {
        workspace(cache, &opts.spec, opts.base.as_deref())?
    };
    let ws = with_kconfig(cache, ws, &opts.kconfig);
    *stage = Stage::Apply;
    let queue_info = if opts.baseline {
        QueueInfo {
            series_hash: String::new(),
            patches: vec![],
            branch: None,
            tip: ws.target.base.clone(),
            apply_seconds: 0.0,
            variant: None,
        }
    } else {
        let (queue, selected) = project.queue_for(&ws.kernel.version)?;
        eprintln!(
            "asi-tool: queue for {}: {}",
            ws.kernel.version,
            selected.label()
        );
        let a = apply_queue(cache, &ws, &queue, &ApplyOptions::default())?;
        QueueInfo {
            variant: selected.variant.clone(),
            series_hash: queue.series_hash(),
            patches: queue
                .patches
                .iter()
                .map(|p| PatchInfo {
                    name: p.name.clone(),
                    subject: p.subject.clone(),
                    sha256: p.sha256.clone(),
                })
                .collect(),
            branch: Some(a.branch),
            tip: a.tip,
            apply_seconds: a.seconds,
        }
    };
    *stage = Stage::Config;
    let configured = configure(project, &ws, patched, &opts.kconfig)?;
    *stage = Stage::Build;
    let built = build_kernel(&ws, &run_dir.join("build.log"), &opts.build)?;
    *stage = Stage::Tests;

    let bin_dir = run_dir.join("bin");
    Cache::ensure(&bin_dir)?;
    let accel = match opts.accel {
        Some(a) => a,
        None => vm::probe_accel(cache, &built.image)?,
    };
    let mut tests: Vec<Option<TestResult>> = vec![None; specs.len()];
    let mut binaries: Vec<Option<PathBuf>> = vec![None; specs.len()];
    // A test of a feature this kernel's queue does not have yet is a SKIP,
    // decided from the configuration the kernel was really built with.
    let kernel_config = if specs.iter().any(|t| !t.requires_config.is_empty()) {
        let path = ws.build.join(".config");
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "cannot read {} to check the tests' requires_config: run `asi-tool config` again",
                path.display()
            )
        })?;
        kconfig::parse_config(&text)
    } else {
        vec![]
    };
    for (i, spec) in specs.iter().enumerate() {
        let unmet = testvms::unmet_config(spec, &kernel_config);
        if !unmet.is_empty() {
            let why = testvms::unmet_config_reason(&unmet, patched);
            eprintln!("asi-tool: skipping {}: {why}", spec.name);
            tests[i] = Some(not_booted(&spec.name, Status::Skip, why));
            continue;
        }
        let missing = testvms::missing_files(spec, &ws.target.work);
        if !missing.is_empty() {
            let why = testvms::missing_files_reason(&missing, patched);
            eprintln!("asi-tool: skipping {}: {why}", spec.name);
            tests[i] = Some(not_booted(&spec.name, Status::Skip, why));
            continue;
        }
        match testvms::build_one(spec, &project.root, &ws.target.work, &bin_dir) {
            Ok(bin) => binaries[i] = Some(bin),
            Err(why) => {
                eprintln!("asi-tool: {why}");
                tests[i] = Some(not_booted(&spec.name, Status::Error, why))
            }
        }
    }
    let mut boots = Vec::new();
    for group in testvms::group_by_boot(&specs) {
        let runnable: Vec<usize> = group
            .tests
            .iter()
            .copied()
            .filter(|i| binaries[*i].is_some())
            .collect();
        if runnable.is_empty() {
            continue;
        }
        let boot_index = boots.len();
        let (info, outcome, guest_dir) = boot_group(
            run_dir,
            boot_index,
            &group,
            &runnable
                .iter()
                .map(|i| (&specs[*i], binaries[*i].clone().unwrap_or_default()))
                .collect::<Vec<_>>(),
            &built.image,
            accel,
            opts,
        )?;
        for i in runnable {
            let spec = &specs[i];
            let rc_text = std::fs::read_to_string(guest_dir.join(format!("{}.rc", spec.name))).ok();
            let parsed = rc_text.as_deref().and_then(testvms::parse_rc);
            let log_path = guest_dir.join(format!("{}.log", spec.name));
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            let (status, reason, cases) =
                testvms::classify(parsed.map(|p| p.0), &log, &outcome, spec.timeout);
            tests[i] = Some(TestResult {
                name: spec.name.clone(),
                status,
                reason,
                duration: parsed.map(|p| p.1).unwrap_or(0.0),
                boot: Some(boot_index),
                log: log_path.exists().then(|| relative(run_dir, &log_path)),
                exit_code: parsed.map(|p| p.0),
                cases,
            });
        }
        boots.push((info, outcome));
    }
    let tests: Vec<TestResult> = tests.into_iter().flatten().collect();
    let status = results::overall(&tests);
    let exit = exit_code(&tests, boots.iter().map(|(_, o)| o));
    let r = RunResults {
        schema: results::SCHEMA,
        run_id,
        started,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        kernel: ws.kernel.clone(),
        queue: queue_info,
        build: BuildInfo {
            config_fragments: configured.fragments,
            build_dir: ws.build.display().to_string(),
            image: built.image.display().to_string(),
            seconds: built.seconds,
            objects_compiled: built.compiled,
            log: relative(run_dir, &built.log),
            command: built.command,
        },
        boots: boots.into_iter().map(|(b, _)| b).collect(),
        totals: results::totals(&tests),
        status,
        tests,
        exit_code: exit.code(),
        reproduce: reproduce(opts, Some(accel)),
        benchmarks: Default::default(),
    };
    r.write(&run_dir.join("results.json"))?;
    Ok(r)
}

fn relative(base: &Path, p: &Path) -> String {
    p.strip_prefix(base).unwrap_or(p).display().to_string()
}

/// Exit code of a finished run: a crashed or hung guest first, then test
/// failures, then infrastructure errors.
pub fn exit_code<'a>(tests: &[TestResult], boots: impl Iterator<Item = &'a vm::Outcome>) -> Exit {
    let mut worst = Exit::Ok;
    for b in boots {
        match b {
            vm::Outcome::Panicked { .. } => return Exit::GuestPanic,
            vm::Outcome::TimedOut => worst = Exit::Timeout,
            vm::Outcome::Exited(_) => {}
        }
    }
    if worst != Exit::Ok {
        return worst;
    }
    if tests
        .iter()
        .any(|t| matches!(t.status, Status::Fail | Status::Timeout))
    {
        Exit::TestFailed
    } else if tests.iter().any(|t| t.status == Status::Error) || tests.is_empty() {
        Exit::Infra
    } else {
        Exit::Ok
    }
}

/// One boot running a group of tests, retried once on a crashed or hung
/// guest; a retry is recorded in the results, never hidden.
fn boot_group(
    run_dir: &Path,
    index: usize,
    group: &testvms::BootGroup,
    tests: &[(&testvms::TestSpec, PathBuf)],
    image: &Path,
    accel: Accel,
    opts: &TestOptions,
) -> Result<(BootInfo, vm::Outcome, PathBuf)> {
    let budget: u64 = tests.iter().map(|(t, _)| t.timeout + 10).sum::<u64>()
        + if accel == Accel::Tcg { 120 } else { 60 };
    let (append, numa_nodes) = (group.append.as_str(), group.numa_nodes);
    let mut flaky = None;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let guest_dir = run_dir
            .join("guest")
            .join(format!("boot-{index}-try{attempt}"));
        Cache::ensure(&guest_dir)?;
        let script_path = run_dir.join(format!("boot-{index}-try{attempt}.sh"));
        std::fs::write(
            &script_path,
            testvms::guest_script(&guest_dir, image, tests),
        )
        .with_context(|| format!("cannot write {}", script_path.display()))?;
        let console = run_dir.join(format!("console-{index}-try{attempt}.log"));
        let vm_opts = VmOptions {
            append: append.split_whitespace().map(str::to_string).collect(),
            cpus: opts.cpus,
            memory: opts.memory.clone(),
            numa_nodes,
            crash_dump: group.crash_dump,
            timeout: Duration::from_secs(budget),
            accel,
            rwdirs: vec![run_dir.to_path_buf()],
            echo: false,
        };
        let numa = numa_nodes
            .map(|n| format!(", {n} NUMA nodes"))
            .unwrap_or_default();
        eprintln!(
            "asi-tool: boot {index} [{append}] ({accel}{numa}), {} test(s), attempt {attempt}",
            tests.len()
        );
        let command = vec!["sh".to_string(), script_path.display().to_string()];
        let b = vm::boot(image, &command, &vm_opts, &console)?;
        // Timeouts and vng failures are retried; a guest kernel oops only
        // when it is a known emulator flake: any other is the kernel's bug.
        let failed_infra = match &b.outcome {
            vm::Outcome::Exited(0) => false,
            vm::Outcome::Panicked { excerpt, .. } => vm::is_infra_flake(excerpt),
            _ => true,
        };
        if failed_infra && attempt <= opts.retries {
            let why = match &b.outcome {
                vm::Outcome::TimedOut => format!("attempt {attempt} timed out after {budget}s"),
                vm::Outcome::Panicked { report, .. } => {
                    format!("attempt {attempt}: guest kernel trouble: {report}")
                }
                vm::Outcome::Exited(c) => format!("attempt {attempt}: vng exited {c}"),
            };
            eprintln!(
                "asi-tool: {why}; retrying (console kept: {})",
                console.display()
            );
            flaky = Some(format!("{why} (console: {})", relative(run_dir, &console)));
            continue;
        }
        let cmdline = std::fs::read_to_string(guest_dir.join("cmdline"))
            .ok()
            .map(|s| s.trim().to_string());
        let (outcome_text, excerpt, kernel_report) = match &b.outcome {
            vm::Outcome::Exited(c) => (format!("exited {c}"), vec![], None),
            vm::Outcome::TimedOut => (format!("timeout after {budget}s"), vec![], None),
            vm::Outcome::Panicked {
                report,
                excerpt,
                timed_out,
                ..
            } => (
                if *timed_out {
                    format!("panic, then timeout after {budget}s")
                } else {
                    "panic".to_string()
                },
                excerpt.clone(),
                Some(report.clone()),
            ),
        };
        if let Some(report) = &kernel_report {
            eprintln!(
                "asi-tool: guest kernel trouble in boot {index}: {report} (its tests fail; console: {}):\n  {}",
                relative(run_dir, &console),
                excerpt.join("\n  ")
            );
        }
        let info = BootInfo {
            append: append.to_string(),
            cmdline,
            accel: accel.to_string(),
            cpus: opts.cpus,
            memory: opts.memory.clone(),
            numa_nodes,
            seconds: b.seconds,
            outcome: outcome_text,
            attempts: attempt,
            flaky: flaky.clone(),
            console: relative(run_dir, &console),
            kernel_report,
            panic_excerpt: excerpt,
            command: b.command.clone(),
        };
        return Ok((info, b.outcome, guest_dir));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::Target;

    fn t(status: Status) -> TestResult {
        TestResult {
            name: "x".into(),
            status,
            reason: None,
            duration: 0.0,
            boot: None,
            log: None,
            exit_code: None,
            cases: vec![],
        }
    }

    #[test]
    fn exit_codes() {
        let ok = vm::Outcome::Exited(0);
        assert_eq!(exit_code(&[t(Status::Pass)], [&ok].into_iter()), Exit::Ok);
        assert_eq!(
            exit_code(&[t(Status::Pass), t(Status::Skip)], [&ok].into_iter()),
            Exit::Ok
        );
        assert_eq!(
            exit_code(&[t(Status::Fail), t(Status::Error)], [&ok].into_iter()),
            Exit::TestFailed
        );
        assert_eq!(
            exit_code(&[t(Status::Error)], [&ok].into_iter()),
            Exit::Infra
        );
        assert_eq!(exit_code(&[], [&ok].into_iter()), Exit::Infra);
        let p = vm::Outcome::Panicked {
            report: "WARNING: CPU: 0 PID: 1 at mm/x.c:1 f+0x1/0x2".into(),
            excerpt: vec![],
            exit: Some(0),
            timed_out: false,
        };
        assert_eq!(
            exit_code(&[t(Status::Pass)], [&ok, &p].into_iter()),
            Exit::GuestPanic
        );
        assert_eq!(
            exit_code(&[t(Status::Pass)], [&vm::Outcome::TimedOut].into_iter()),
            Exit::Timeout
        );
    }

    /// A guest kernel report in a boot whose tests all passed: the tests
    /// are ERROR, the run's status ERROR, its exit code 255, and the
    /// matrix cell FAIL: results.json and the exit code agree (they did
    /// not: a WARN gave status PASS with exit 255, run 20261207-150830).
    #[test]
    fn a_kernel_report_gives_a_status_and_exit_code_that_agree() {
        let splat = vm::Outcome::Panicked {
            report: "WARNING: suspicious RCU usage".into(),
            excerpt: vec![],
            exit: Some(0),
            timed_out: false,
        };
        let ok = vm::Outcome::Exited(0);
        let mut tests = Vec::new();
        for (rc, boot) in [(0, &ok), (0, &splat), (4, &splat)] {
            let (status, reason, _) = testvms::classify(Some(rc), "", boot, 30);
            tests.push(TestResult {
                status,
                reason,
                ..t(Status::Pass)
            });
        }
        assert_eq!(tests[0].status, Status::Pass);
        assert_eq!(tests[1].status, Status::Error);
        assert_eq!(tests[2].status, Status::Error);
        assert_eq!(
            tests[1].reason.as_deref(),
            Some("kernel report in its boot: WARNING: suspicious RCU usage")
        );
        assert_eq!(results::overall(&tests), Status::Error);
        assert_eq!(
            exit_code(&tests, [&ok, &splat].into_iter()),
            Exit::GuestPanic
        );
        // A guest that hung after its report: still the report's exit code.
        let hung = vm::Outcome::Panicked {
            report: "WARNING: suspicious RCU usage".into(),
            excerpt: vec![],
            exit: None,
            timed_out: true,
        };
        assert_eq!(
            exit_code(&tests, [&vm::Outcome::TimedOut, &hung].into_iter()),
            Exit::GuestPanic
        );
    }

    /// A build with opt-in Kconfig fragments has its own build directory,
    /// next to the normal one (and the baseline's): never the same.
    #[test]
    fn opt_in_fragments_get_their_own_build_directory() {
        let cache = Cache::at("/c");
        let ws = |build: &str| Workspace {
            target: Target {
                repo: "/c/kernels/6.12.107/src".into(),
                work: "/c/kernels/6.12.107/src".into(),
                base: "b".into(),
                owned: true,
            },
            build: cache.build(build),
            kernel: KernelInfo {
                version: "6.12.107".into(),
                origin: "o".into(),
                base_commit: "b".into(),
                tree: "t".into(),
            },
        };
        let debug = vec!["70-debug.config".to_string()];
        let build = |name: &str, extra: &[String]| with_kconfig(&cache, ws(name), extra).build;
        assert_eq!(build("6.12.107", &[]), PathBuf::from("/c/build/6.12.107"));
        assert_eq!(
            build("6.12.107", &debug),
            PathBuf::from("/c/build/6.12.107-debug")
        );
        assert_eq!(
            build("6.12.107-baseline", &debug),
            PathBuf::from("/c/build/6.12.107-baseline-debug")
        );
        // The tree stays the same: only the build directory moves.
        assert_eq!(
            with_kconfig(&cache, ws("6.12.107"), &debug).target.work,
            PathBuf::from("/c/kernels/6.12.107/src")
        );
        let mut opts = TestOptions::new(TreeSpec::Kernel("6.12.107".into()));
        opts.kconfig = debug;
        opts.append = vec!["asi=on".into()];
        assert_eq!(
            reproduce(&opts, Some(Accel::Tcg)),
            "asi-tool test --kernel 6.12.107 --append asi=on --kconfig 70-debug.config \
             --accel tcg --cpus 2 --memory 2G"
        );
    }

    #[test]
    fn run_dirs_of_the_same_second_do_not_collide() {
        let d = tempfile::tempdir().unwrap();
        let results = d.path().join("results");
        let (a, da) = unique_run_dir(&results, "20261207-120000").unwrap();
        let (b, db) = unique_run_dir(&results, "20261207-120000").unwrap();
        let (c, _) = unique_run_dir(&results, "20261207-120000").unwrap();
        assert_eq!(a, "20261207-120000");
        assert_eq!(b, "20261207-120000-2");
        assert_eq!(c, "20261207-120000-3");
        assert!(da.is_dir() && db.is_dir() && da != db);
    }

    #[test]
    fn tree_spec_defaults_to_the_pinned_kernel() {
        match TreeSpec::from_args(None, None) {
            TreeSpec::Kernel(v) => assert_eq!(v, DEFAULT_KERNEL),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            TreeSpec::from_args(None, Some("/x y".into())).flag(),
            "--tree '/x y'"
        );
    }

    #[test]
    fn project_is_found_from_a_subdirectory() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("patches")).unwrap();
        std::fs::create_dir_all(d.path().join("kconfig")).unwrap();
        std::fs::write(d.path().join("patches/series"), "").unwrap();
        let p = Project::locate(Some(d.path())).unwrap();
        assert_eq!(
            p.queue_dir(),
            d.path().canonicalize().unwrap().join("patches")
        );
        let e = Project::locate(Some(&d.path().join("missing"))).unwrap_err();
        assert!(format!("{e:#}").contains("does not exist"));
        assert_eq!(crate::error::exit_code_of(&e), Exit::Usage);
        // An existing directory that holds no queue is not a project either.
        let e = Project::locate(Some(&d.path().join("kconfig"))).unwrap_err();
        assert!(format!("{e:#}").contains("not an asi project"));
        assert_eq!(crate::error::exit_code_of(&e), Exit::Usage);
    }
}
