//! The `asi-tool` command line: argument parsing and printing only; the
//! work is done by the library's stage modules.

use anyhow::Result;
use asi_tool::apply::{self, ApplyOptions};
use asi_tool::build::BuildOptions;
use asi_tool::cache::{self, Cache};
use asi_tool::check;
use asi_tool::error::{exit_code_of, fail, Exit};
use asi_tool::matrix::{self, Shard};
use asi_tool::pipeline::{self, Project, TestOptions, TreeSpec};
use asi_tool::queue::{self, Queue};
use asi_tool::rebase::{self, RebaseOptions};
use asi_tool::source::{self, Origin};
use asi_tool::testvms::Suite;
use asi_tool::version;
use asi_tool::vm::{self, Accel, VmOptions};
use asi_tool::{bench, cmd, doctor};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "asi-tool",
    version,
    about = "Apply, build, boot and test the ASI-for-containers kernel patch queue",
    after_help = "Exit codes: 0 all passed, 1 a test failed, 2 usage, 3 infrastructure error, \
                  4 patch conflict, 5 Kconfig check failed, 124 timeout, 255 a kernel report on a \
                  guest's console (oops, panic, BUG, KASAN, lockdep, UBSAN, WARNING)."
)]
struct Cli {
    /// Print every external command before running it.
    #[arg(short, long, global = true)]
    verbose: bool,
    /// The project checkout (default: found from the current directory).
    #[arg(long, global = true, value_name = "DIR")]
    project: Option<PathBuf>,
    /// Cache for kernel trees and builds (default: $ASI_TOOL_CACHE or $XDG_CACHE_HOME/asi-tool).
    #[arg(long, global = true, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct TreeArgs {
    /// A kernel version from the cache, fetched if needed (default: the pinned 6.12).
    #[arg(long, value_name = "VERSION", conflicts_with = "tree", value_parser = version::arg)]
    kernel: Option<String>,
    /// Your own kernel git repository; it is never modified: the queue goes
    /// on a new branch, built in an asi-tool worktree.
    #[arg(long, value_name = "DIR")]
    tree: Option<PathBuf>,
}

impl TreeArgs {
    fn spec(&self) -> TreeSpec {
        TreeSpec::from_args(self.kernel.clone(), self.tree.clone())
    }
}

/// The opt-in Kconfig fragments of a build (`config`, `build`, `run`,
/// `test`, `bench`).
#[derive(Args, Clone, Default)]
struct KconfigArgs {
    /// Also merge this opt-in fragment of kconfig/ (one marked `# asi-tool:
    /// opt-in`, e.g. 70-debug.config: the debug kernel), in a build
    /// directory of its own (build/<version>-debug) (repeatable).
    #[arg(long = "kconfig", value_name = "FRAGMENT")]
    kconfig: Vec<String>,
}

impl KconfigArgs {
    /// `ws` with the build directory of these fragments, once they are
    /// known to be opt-in fragments of the project (a usage error if not).
    fn workspace(
        &self,
        cache: &Cache,
        project: &dyn Fn() -> Result<Project>,
        ws: pipeline::Workspace,
    ) -> Result<pipeline::Workspace> {
        if !self.kconfig.is_empty() {
            asi_tool::kconfig::check_extra(&project()?.kconfig_dir(), &self.kconfig)
                .map_err(|e| fail(Exit::Usage, format!("--kconfig: {e}")))?;
        }
        Ok(pipeline::with_kconfig(cache, ws, &self.kconfig))
    }
}

#[derive(Args, Clone)]
struct BuildArgs {
    /// Parallel make jobs (default: all cores).
    #[arg(short, long)]
    jobs: Option<usize>,
    /// Do not use ccache even when installed.
    #[arg(long)]
    no_ccache: bool,
}

impl BuildArgs {
    fn options(&self) -> BuildOptions {
        let mut o = BuildOptions::default();
        if let Some(j) = self.jobs {
            o.jobs = j;
        }
        if self.no_ccache {
            o.ccache = false;
        }
        o
    }
}

#[derive(Args, Clone)]
struct VmArgs {
    /// Force the accelerator (default: KVM if it can really boot a guest, else TCG).
    #[arg(long, value_name = "kvm|tcg")]
    accel: Option<Accel>,
    /// Guest CPUs.
    #[arg(long, default_value_t = 2)]
    cpus: u32,
    /// Guest memory (vng syntax).
    #[arg(long, default_value = "2G")]
    memory: String,
}

#[derive(Subcommand)]
enum Command {
    /// Check every prerequisite and print the command that installs what is missing.
    Doctor,
    /// Install the missing prerequisites (Debian/Ubuntu, as root).
    Setup,
    /// Kernel sources in the cache.
    #[command(subcommand)]
    Kernel(KernelCommand),
    /// Apply patches/series on a new branch asi/<series-hash> (git am -3).
    Apply {
        #[command(flatten)]
        tree: TreeArgs,
        /// Apply on this revision instead of the tree's HEAD (or the cached kernel's tag).
        #[arg(long, value_name = "REV")]
        base: Option<String>,
        /// Branch name instead of asi/<series-hash>.
        #[arg(long)]
        branch: Option<String>,
        /// On conflict, leave the failed `git am` in the asi-tool work tree to resolve by hand.
        #[arg(long)]
        keep_conflict: bool,
    },
    /// Regenerate patches/ and series from an applied branch (git format-patch).
    Export {
        #[command(flatten)]
        tree: TreeArgs,
        /// Branch to export (default: asi/<hash of the current queue>).
        #[arg(long)]
        branch: Option<String>,
        /// Base of the branch (default: the base recorded by `apply`).
        #[arg(long, value_name = "REV")]
        base: Option<String>,
        /// Where to write (default: the project's patches/).
        #[arg(long, value_name = "DIR")]
        output: Option<PathBuf>,
    },
    /// Check the queue: integrity, checkpatch.pl per patch, optionally a build after each patch.
    Check {
        #[command(flatten)]
        tree: TreeArgs,
        /// checkpatch.pl --strict.
        #[arg(long)]
        strict: bool,
        /// Build the kernel after each patch (bisectability).
        #[arg(long)]
        build_each: bool,
        /// With --build-each, start at patch N (1-based), e.g. to resume an
        /// interrupted run; earlier patches show "-" in the build column.
        #[arg(long, value_name = "N", requires = "build_each")]
        from: Option<usize>,
        #[command(flatten)]
        build: BuildArgs,
    },
    /// Merge kconfig/ fragments (merge_config.sh + olddefconfig) and verify every option survived.
    Config {
        #[command(flatten)]
        tree: TreeArgs,
        /// Leave out the fragments that need the patches (unpatched baseline).
        #[arg(long)]
        baseline: bool,
        #[command(flatten)]
        kconfig: KconfigArgs,
    },
    /// Build the kernel out of tree (O=), with ccache when present.
    Build {
        #[command(flatten)]
        tree: TreeArgs,
        #[command(flatten)]
        build: BuildArgs,
        #[command(flatten)]
        kconfig: KconfigArgs,
    },
    /// Boot the built kernel under virtme-ng and run a command; exit with its code.
    Run {
        #[command(flatten)]
        tree: TreeArgs,
        #[command(flatten)]
        vm: VmArgs,
        /// Extra kernel command line, e.g. "asi=on".
        #[arg(long, value_name = "ARGS")]
        append: Vec<String>,
        #[command(flatten)]
        kconfig: KconfigArgs,
        /// Wall-clock limit in seconds (exit 124).
        #[arg(long, default_value_t = 300)]
        timeout: u64,
        /// Boot again up to N times when the boot fails outside the kernel
        /// under test: a known emulator flake, or a guest that died before
        /// its init ran (said on stderr); hangs and any other oops are never
        /// retried.
        #[arg(long, value_name = "N", default_value_t = 1)]
        retries: u32,
        /// The command to run in the guest.
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// The whole pipeline: fetch, apply, config, build, boot, run test-vms/, report.
    Test {
        #[command(flatten)]
        tree: TreeArgs,
        /// Apply on this revision (see `apply --base`).
        #[arg(long, value_name = "REV")]
        base: Option<String>,
        /// Test the unpatched kernel (no queue, no patch-only fragments or tests).
        #[arg(long)]
        baseline: bool,
        #[command(flatten)]
        run: RunArgs,
        /// Extra kernel command line for every boot, e.g. "asi=off"; its
        /// key=value words replace a test's own; tests with `pinned = true`
        /// in the manifest keep their command line.
        #[arg(long, value_name = "ARGS")]
        append: Vec<String>,
        #[command(flatten)]
        kconfig: KconfigArgs,
    },
    /// Carry the queue to another kernel version patch by patch (git am -3)
    /// and say, for each patch: applied, applied (3-way), already upstream,
    /// conflict or not attempted.
    Rebase {
        /// The kernel version: MAJOR.MINOR (newest in the archive) or MAJOR.MINOR.PATCH.
        #[arg(long, value_name = "VERSION", value_parser = version::arg)]
        onto: String,
        /// Save the result as the variant patches/forwardports/<MAJOR.MINOR>/
        /// (only when it differs from patches/; a stale variant is removed).
        #[arg(long)]
        write: bool,
        /// On conflict, leave the `git am` in the rebase work tree to port the patch by hand.
        #[arg(long)]
        keep_conflict: bool,
        /// After a --keep-conflict stop: take the resolved patch and go on with the rest.
        #[arg(long = "continue", conflicts_with = "abort")]
        resume: bool,
        /// Drop a stopped rebase (git am --abort, work tree back on the base).
        #[arg(long)]
        abort: bool,
        /// Go past conflicts (keeping both sides of each) to see how every
        /// later patch fares: a porting forecast; no branch, no variant.
        #[arg(long, conflicts_with_all = ["write", "keep_conflict", "resume"])]
        explore: bool,
        /// Branch name in the cached kernel's repository instead of asi/<series-hash>.
        #[arg(long)]
        branch: Option<String>,
        /// Rebase this queue instead of patches/ (e.g. an existing variant).
        #[arg(long, value_name = "DIR")]
        queue: Option<PathBuf>,
    },
    /// git range-diff of patches/ on its own base against the queue for
    /// VERSION (its variant, or patches/ merged with git am -3).
    RangeDiff {
        #[arg(long, value_name = "VERSION", value_parser = version::arg)]
        onto: String,
        /// Compare with this queue instead of VERSION's variant.
        #[arg(long, value_name = "DIR")]
        queue: Option<PathBuf>,
    },
    /// Run ci/matrix.toml: every kernel version x config through the `test`
    /// pipeline, one results directory per cell, a summary and the regressions.
    #[command(args_conflicts_with_subcommands = true)]
    Matrix {
        #[command(subcommand)]
        action: Option<MatrixCommand>,
        #[command(flatten)]
        run: MatrixArgs,
    },
    /// Run the benchmarks of test-vms/manifest.toml ([[bench]]) through the
    /// same pipeline and write their reports.
    Bench {
        #[command(flatten)]
        tree: TreeArgs,
        /// Apply on this revision (see `apply --base`).
        #[arg(long, value_name = "REV")]
        base: Option<String>,
        #[command(flatten)]
        run: RunArgs,
        #[command(flatten)]
        kconfig: KconfigArgs,
        /// Also write each report to DIR/<name>.md (e.g. docs/benchmarks).
        #[arg(long, value_name = "DIR")]
        report_dir: Option<PathBuf>,
    },
}

/// What every command that boots test-vms/ shares (test, bench, matrix).
#[derive(Args, Clone)]
struct RunArgs {
    #[command(flatten)]
    vm: VmArgs,
    /// Boot again once when a guest hangs or hits a known emulator flake (recorded as flaky); other oopses fail.
    #[arg(long, default_value_t = 1)]
    retries: u32,
    /// Only tests (benchmarks, for `bench`) whose name contains this (repeatable).
    #[arg(long, value_name = "NAME")]
    filter: Vec<String>,
    #[command(flatten)]
    build: BuildArgs,
}

impl RunArgs {
    /// Sets the options these arguments control.
    fn apply_to(self, o: &mut TestOptions) {
        o.accel = self.vm.accel;
        o.cpus = self.vm.cpus;
        o.memory = self.vm.memory;
        o.retries = self.retries;
        o.filter = self.filter;
        o.build = self.build.options();
    }
}

#[derive(Args, Clone)]
struct CellArgs {
    /// Only this kernel version (repeatable); one not in ci/matrix.toml may be tried too.
    #[arg(long, value_name = "VERSION", value_parser = version::arg)]
    kernel: Vec<String>,
    /// Only this config of ci/matrix.toml (repeatable).
    #[arg(long, value_name = "NAME")]
    config: Vec<String>,
}

#[derive(Args, Clone)]
struct MatrixArgs {
    #[command(flatten)]
    cells: CellArgs,
    /// Run only part K of N (cells sharing a build stay together), e.g. 2/3.
    #[arg(long, value_name = "K/N")]
    shard: Option<Shard>,
    /// Run directory (default results/matrix/<run>).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Summary to compare with (default results/matrix/latest-summary.json,
    /// which each run then updates).
    #[arg(long, value_name = "FILE", conflicts_with = "no_previous")]
    previous: Option<PathBuf>,
    /// Neither compare with nor update a previous summary (CI's per-version
    /// jobs: the final `matrix summarize` does both).
    #[arg(long)]
    no_previous: bool,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
enum MatrixCommand {
    /// Merge cell directories (e.g. CI artifacts) into summary.md / summary.json.
    Summarize {
        /// Directories holding <cell>/cell.json, searched recursively.
        #[arg(required = true, value_name = "DIR")]
        dirs: Vec<PathBuf>,
        #[command(flatten)]
        cells: CellArgs,
        /// Where to write the summary (default results/matrix/<run>).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Summary to compare with (default results/matrix/latest-summary.json).
        #[arg(long, value_name = "FILE")]
        previous: Option<PathBuf>,
        /// Also merge this summary into the --previous file.
        #[arg(long)]
        update_previous: bool,
    },
    /// The kernel versions and cells of ci/matrix.toml.
    List {
        /// Only the versions, as a JSON array (for a CI strategy matrix).
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum KernelCommand {
    /// Fetch a kernel version into the cache (a no-op when cached).
    Fetch {
        /// MAJOR.MINOR (newest available) or MAJOR.MINOR.PATCH.
        #[arg(value_parser = version::arg)]
        version: String,
        /// Import this tarball instead of downloading.
        #[arg(long, value_name = "FILE", conflicts_with = "tree")]
        tarball: Option<PathBuf>,
        /// Import this tree (a git repository is cloned at its HEAD; a plain directory is copied).
        #[arg(long, value_name = "DIR")]
        tree: Option<PathBuf>,
    },
    /// List the cached kernels and the disk each uses.
    List,
    /// Remove cached kernels that ci/matrix.toml no longer names (and older
    /// patch releases of a MAJOR.MINOR line), with their builds and work trees.
    Gc {
        /// Keep this version too (repeatable).
        #[arg(long, value_name = "VERSION", value_parser = version::arg)]
        keep: Vec<String>,
        /// Only say what would be removed.
        #[arg(long)]
        dry_run: bool,
    },
}

fn main() {
    let cli = Cli::parse();
    cmd::set_verbose(cli.verbose);
    let code = match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            exit_code_of(&e).code()
        }
    };
    std::process::exit(code);
}

fn run(cli: Cli) -> Result<i32> {
    let cache = Cache::locate(cli.cache_dir.as_deref())?;
    let project = || Project::locate(cli.project.as_deref());
    match cli.command {
        Command::Doctor => Ok(if doctor::doctor(&cache).is_empty() {
            0
        } else {
            Exit::Infra.code()
        }),
        Command::Setup => doctor::setup().map(|_| 0),
        Command::Kernel(KernelCommand::Fetch {
            version,
            tarball,
            tree,
        }) => {
            let origin = match (tarball, tree) {
                (Some(t), _) => Origin::Tarball(t),
                (_, Some(d)) => Origin::Tree(d),
                _ => Origin::Debian,
            };
            let k = source::fetch(&cache, &version, &origin)?;
            println!(
                "{} {} {} ({})",
                k.record.version,
                k.record.tag,
                k.record.commit,
                k.dir.display()
            );
            Ok(0)
        }
        Command::Kernel(KernelCommand::List) => {
            let all = source::list(&cache);
            if all.is_empty() {
                println!(
                    "no kernel in {} (asi-tool kernel fetch VERSION)",
                    cache.kernels().display()
                );
            }
            for k in all {
                let u = cache.version_dirs(&k.record.version).usage();
                println!(
                    "{:<10} {} tree {:>9}  build {:>9}  worktrees {:>9}  {}",
                    k.record.version,
                    k.record.commit.get(..12).unwrap_or(&k.record.commit),
                    cache::human_bytes(u.tree),
                    cache::human_bytes(u.build),
                    cache::human_bytes(u.worktrees),
                    k.record.origin
                );
            }
            Ok(0)
        }
        Command::Kernel(KernelCommand::Gc { keep, dry_run }) => {
            kernel_gc(&cache, cli.project.as_deref(), &keep, dry_run)
        }
        Command::Apply {
            tree,
            base,
            branch,
            keep_conflict,
        } => {
            let p = project()?;
            let ws = pipeline::workspace(&cache, &tree.spec(), base.as_deref())?;
            let (queue, selected) = p.queue_for(&ws.kernel.version)?;
            eprintln!(
                "asi-tool: queue for {}: {}",
                ws.kernel.version,
                selected.label()
            );
            let a = pipeline::apply_queue(
                &cache,
                &ws,
                &queue,
                &ApplyOptions {
                    branch,
                    keep_conflict,
                },
            )?;
            println!("{} {}", a.branch, a.tip);
            Ok(0)
        }
        Command::Export {
            tree,
            branch,
            base,
            output,
        } => {
            let p = project()?;
            let ws = pipeline::workspace(&cache, &tree.spec(), None)?;
            let selected = queue::select(&p.queue_dir(), &ws.kernel.version);
            let branch = match branch {
                Some(b) => b,
                None => {
                    let q = Queue::load(&selected.dir)?;
                    apply::default_branch(&ws.target.repo, &q).ok_or_else(|| {
                        fail(
                            Exit::Usage,
                            "no branch made by `asi-tool apply` here: pass --branch NAME",
                        )
                    })?
                }
            };
            let base = match base.or_else(|| apply::recorded_base(&ws.target.repo, &branch)) {
                Some(b) => b,
                None => {
                    return Err(fail(
                        Exit::Usage,
                        format!("no base recorded for branch {branch}: pass --base REV"),
                    ))
                }
            };
            let out = output.unwrap_or_else(|| selected.dir.clone());
            let names = apply::export(&ws.target.repo, &branch, &base, &out)?;
            println!(
                "exported {} patch(es) from {branch} to {}",
                names.len(),
                out.display()
            );
            Ok(0)
        }
        Command::Check {
            tree,
            strict,
            build_each,
            from,
            build,
        } => {
            let from = build_each.then_some(from.unwrap_or(1));
            check_cmd(&cache, &project()?, &tree, strict, from, &build)
        }
        Command::Config {
            tree,
            baseline,
            kconfig,
        } => {
            let p = project()?;
            let ws = if baseline {
                pipeline::baseline_workspace(&cache, &tree.spec(), None)?
            } else {
                pipeline::workspace(&cache, &tree.spec(), None)?
            };
            let ws = kconfig.workspace(&cache, &project, ws)?;
            let c = pipeline::configure(&p, &ws, !baseline, &kconfig.kconfig)?;
            println!("{}", c.config.display());
            Ok(0)
        }
        Command::Build {
            tree,
            build,
            kconfig,
        } => {
            let ws = pipeline::workspace(&cache, &tree.spec(), None)?;
            let ws = kconfig.workspace(&cache, &project, ws)?;
            let log = ws.build.join("asi-build.log");
            let b = pipeline::build_kernel(&ws, &log, &build.options())?;
            println!("{}", b.image.display());
            Ok(0)
        }
        Command::Run {
            tree,
            vm: v,
            append,
            kconfig,
            timeout,
            retries,
            command,
        } => {
            let ws = pipeline::workspace(&cache, &tree.spec(), None)?;
            let ws = kconfig.workspace(&cache, &project, ws)?;
            let image = ws.build.join("arch/x86/boot/bzImage");
            let accel = match v.accel {
                Some(a) => a,
                None => vm::probe_accel(&cache, &image)?,
            };
            let opts = VmOptions {
                append,
                cpus: v.cpus,
                memory: v.memory,
                numa_nodes: None,
                crash_dump: false,
                timeout: Duration::from_secs(timeout),
                accel,
                rwdirs: vec![],
                echo: true,
            };
            let mut attempt = 0;
            let (b, console) = loop {
                attempt += 1;
                let console = ws.build.join(format!("asi-run-console-try{attempt}.log"));
                let b = vm::boot(&image, &command, &opts, &console)?;
                match vm::infra_failure(&b) {
                    Some(why) if attempt <= retries => eprintln!(
                        "asi-tool: attempt {attempt}: {why}; booting again (console kept: {})",
                        console.display()
                    ),
                    _ => break (b, console),
                }
            };
            if attempt > 1 {
                eprintln!("asi-tool: FLAKY: the command ran on attempt {attempt}");
            }
            match &b.outcome {
                vm::Outcome::TimedOut => eprintln!(
                    "error: the guest did not finish in {timeout}s (console: {})",
                    console.display()
                ),
                vm::Outcome::Panicked {
                    report,
                    excerpt,
                    exit,
                    timed_out,
                } => eprintln!(
                    "error: the guest kernel crashed or warned: {report}\n\
                     (exit 255 whatever the command did: {}; console: {}):\n  {}",
                    match (exit, timed_out) {
                        (_, true) => format!("the guest then hung past --timeout {timeout}s"),
                        (Some(c), _) => format!("vng exited {c}"),
                        (None, _) => "vng was killed".to_string(),
                    },
                    console.display(),
                    excerpt.join("\n  ")
                ),
                vm::Outcome::Exited(_) => {}
            }
            Ok(b.exit_code())
        }
        Command::Test {
            tree,
            base,
            baseline,
            run,
            append,
            kconfig,
        } => {
            let p = project()?;
            let mut opts = TestOptions::new(tree.spec());
            opts.base = base;
            opts.baseline = baseline;
            opts.append = append;
            opts.kconfig = kconfig.kconfig;
            run.apply_to(&mut opts);
            let r = pipeline::test(&p, &cache, &opts)?;
            print!("{}", r.summary_table());
            println!(
                "results: {}",
                p.results_dir()
                    .join(&r.run_id)
                    .join("results.json")
                    .display()
            );
            println!("reproduce: {}", r.reproduce);
            Ok(r.exit_code)
        }
        Command::Rebase {
            onto,
            write,
            keep_conflict,
            resume,
            abort,
            explore,
            branch,
            queue: queue_dir,
        } => rebase_cmd(
            &cache,
            &project()?,
            &onto,
            RebaseFlags {
                write,
                keep_conflict,
                resume,
                abort,
                explore,
                branch,
                queue_dir,
            },
        ),
        Command::RangeDiff { onto, queue: other } => {
            let p = project()?;
            let base = Queue::load(&p.queue_dir())?;
            let kernel = source::fetch(&cache, &onto, &Origin::Debian)?;
            cache::hold_version(&cache, &kernel.record.version)?;
            let other_dir = other.unwrap_or_else(|| {
                let s = queue::select(&p.queue_dir(), &kernel.record.version);
                eprintln!(
                    "asi-tool: comparing patches/ on its base with {} on {}{}",
                    s.label(),
                    kernel.record.version,
                    if s.variant.is_none() {
                        " (no variant: patches/ merged with git am -3)"
                    } else {
                        ""
                    }
                );
                s.dir
            });
            let other = Queue::load(&other_dir)?;
            use std::io::IsTerminal;
            let color = std::io::stdout().is_terminal();
            let out = rebase::range_diff(&cache, &base, &other, &kernel, color)?;
            println!("{out}");
            Ok(0)
        }
        Command::Matrix { action, run } => matrix_cmd(&cache, &project()?, action, run),
        Command::Bench {
            tree,
            base,
            run,
            kconfig,
            report_dir,
        } => {
            let p = project()?;
            let mut opts = TestOptions::new(tree.spec());
            opts.base = base;
            opts.kconfig = kconfig.kconfig;
            opts.suite = Suite::Benches;
            run.apply_to(&mut opts);
            let mut r = pipeline::test(&p, &cache, &opts)?;
            let run_dir = p.results_dir().join(&r.run_id);
            if let Some(d) = &report_dir {
                r.reproduce.push_str(&format!(
                    " --report-dir {}",
                    cmd::shell_quote(&d.to_string_lossy())
                ));
                r.write(&run_dir.join("results.json"))?;
            }
            let outcomes = bench::write_reports(&r, &run_dir, report_dir.as_deref())?;
            for o in &outcomes {
                if let Some(doc) = &o.document {
                    r.benchmarks.insert(o.name.clone(), doc.clone());
                }
            }
            if !r.benchmarks.is_empty() {
                r.write(&run_dir.join("results.json"))?;
            }
            print!("{}", r.summary_table());
            let mut code = r.exit_code;
            for o in &outcomes {
                match (&o.report, &o.error) {
                    (Some(path), _) => println!("{}: report {}", o.name, path.display()),
                    (None, why) => {
                        println!(
                            "{}: no report: {}",
                            o.name,
                            why.as_deref().unwrap_or("unknown")
                        );
                        if code == 0 && !o.skipped {
                            code = Exit::TestFailed.code();
                        }
                    }
                }
            }
            println!("reproduce: {}", r.reproduce);
            Ok(code)
        }
    }
}

fn check_cmd(
    cache: &Cache,
    p: &Project,
    tree: &TreeArgs,
    strict: bool,
    build_from: Option<usize>,
    build: &BuildArgs,
) -> Result<i32> {
    let ws = pipeline::workspace(cache, &tree.spec(), None)?;
    let selected = queue::select(&p.queue_dir(), &ws.kernel.version);
    eprintln!(
        "asi-tool: checking {} (the queue for {})",
        selected.label(),
        ws.kernel.version
    );
    let scan = queue::scan(&selected.dir)?;
    let mut rows = check::rows(&scan);
    for (row, patch) in rows.iter_mut().zip(&scan.patches) {
        row.checkpatch = Some(check::checkpatch(&ws.target.work, &patch.path, strict)?);
    }
    if let Some(from) = build_from {
        if from == 0 || from > scan.patches.len() {
            return Err(fail(
                Exit::Usage,
                format!(
                    "--from {from}: the queue has patches 1 to {}",
                    scan.patches.len()
                ),
            ));
        }
    }
    if let (Some(from), false) = (build_from, scan.problems.iter().any(|pr| pr.error)) {
        let q = Queue::load(&selected.dir)?;
        let a = pipeline::apply_queue(cache, &ws, &q, &ApplyOptions::default())?;
        let commits = apply::commits_between(&ws.target.work, &a.base, &a.tip)?;
        pipeline::configure(p, &ws, true, &[])?;
        for (i, (row, commit)) in rows.iter_mut().zip(&commits).enumerate() {
            if i + 1 < from {
                continue;
            }
            apply::checkout(&ws.target.work, commit)?;
            eprintln!("asi-tool: building after patch {} ({})", i + 1, row.name);
            let log = ws.build.join(format!("asi-build-each-{}.log", i + 1));
            row.build = Some(
                match asi_tool::build::build(&ws.target.work, &ws.build, &log, &build.options()) {
                    Ok(b) => Ok(b.seconds),
                    Err(e) => Err(format!("{e:#}")),
                },
            );
        }
        apply::checkout(&ws.target.work, &a.tip)?;
    }
    print!("{}", check::table(&scan, &rows));
    Ok(if check::passed(&scan, &rows) {
        0
    } else {
        Exit::TestFailed.code()
    })
}

struct RebaseFlags {
    write: bool,
    keep_conflict: bool,
    resume: bool,
    abort: bool,
    explore: bool,
    branch: Option<String>,
    queue_dir: Option<PathBuf>,
}

fn rebase_cmd(cache: &Cache, p: &Project, onto: &str, f: RebaseFlags) -> Result<i32> {
    let kernel = source::fetch(cache, onto, &Origin::Debian)?;
    let version = kernel.record.version.clone();
    cache::hold_version(cache, &version)?;
    if f.abort {
        rebase::abort(cache, &kernel)?;
        println!("dropped the stopped rebase onto {version}");
        return Ok(0);
    }
    let base_queue = Queue::load(&p.queue_dir())?;
    let dir = f.queue_dir.unwrap_or_else(|| p.queue_dir());
    let q = Queue::load(&dir)?;
    let label = dir
        .canonicalize()
        .ok()
        .and_then(|d| {
            d.strip_prefix(&p.root)
                .ok()
                .map(|r| r.display().to_string())
        })
        .unwrap_or_else(|| dir.display().to_string());
    let opts = RebaseOptions {
        keep_conflict: f.keep_conflict,
        branch: f.branch,
        explore: f.explore,
    };
    let last = p.results_dir().join(format!("rebase-{version}.json"));
    let mut report = if f.resume {
        match rebase::resume(cache, &q, &kernel, &opts) {
            Ok(r) => r,
            // The last conflict was continued without --write: the port is
            // done, and its report says which branch holds it.
            Err(e) if f.write && !rebase::stopped(cache, &version) => {
                let Some(r) = rebase::finished(&last, &q, &kernel.dir) else {
                    return Err(e);
                };
                eprintln!(
                    "asi-tool: the rebase onto {version} finished already (branch {}): writing the variant from it",
                    r.branch.as_deref().unwrap_or("?")
                );
                r
            }
            Err(e) => return Err(e),
        }
    } else {
        rebase::start(cache, &q, Some(&base_queue), &label, &kernel, &opts)?
    };
    if f.write && report.conflict().is_none() {
        rebase::write_variant(&mut report, &kernel, &base_queue, &p.queue_dir())?;
    }
    report.write(&last)?;
    print!("{}", report.table());
    println!("report: {}", last.display());
    if let (Some(b), Some(t)) = (&report.branch, &report.tip) {
        println!(
            "branch: {b} at {} in {}",
            &t[..t.len().min(12)],
            kernel.dir.display()
        );
    }
    if let Some(v) = &report.variant {
        println!("variant written: {v} (review: asi-tool range-diff --onto {version})");
    } else if f.write && report.conflict().is_none() {
        println!("no variant needed: patches/ applies cleanly on {version}");
    } else if report.conflict().is_none() && report.differs() {
        println!("the result differs from patches/: save it with --write");
    }
    match report.conflict() {
        None => Ok(0),
        Some(c) => {
            if report.kept {
                eprintln!(
                    "asi-tool: patch {} is left half-applied in {w} (--keep-conflict).\n\
                     Port it there: resolve the conflicts (files the port needs besides: `git -C {w} add -f`;\n\
                     to drop the patch instead: `git -C {w} am --skip`), then\n\
                     `asi-tool rebase --onto {version} --continue --write` (it stages the resolved files); \
                     or `asi-tool rebase --onto {version} --abort`.",
                    c.name,
                    w = report.work
                );
            } else if report.explored {
                eprintln!(
                    "asi-tool: --explore: nothing was kept (no branch, work tree back on the base).\n\
                     To port: asi-tool rebase --onto {version} --keep-conflict"
                );
            } else {
                eprintln!(
                    "asi-tool: patch {} does not apply on {version}; nothing was left behind (git am --abort, no branch).\n\
                     To port it: asi-tool rebase --onto {version} --keep-conflict",
                    c.name
                );
            }
            Ok(Exit::Conflict.code())
        }
    }
}

fn matrix_cmd(
    cache: &Cache,
    p: &Project,
    action: Option<MatrixCommand>,
    run: MatrixArgs,
) -> Result<i32> {
    let m = matrix::load(&p.root)?;
    match action {
        Some(MatrixCommand::List { json }) => {
            if json {
                println!("{}", serde_json::to_string(&m.kernels)?);
            } else {
                for c in m.cells(&[], &[])? {
                    println!(
                        "{:<24} kernel {:<9} {:<10} append {:?}{}",
                        c.id(),
                        c.version,
                        if c.config.patched {
                            "patched"
                        } else {
                            "unpatched"
                        },
                        c.config.append,
                        if c.config.kconfig.is_empty() {
                            String::new()
                        } else {
                            format!(" kconfig + {}", c.config.kconfig.join(" "))
                        }
                    );
                }
            }
            Ok(0)
        }
        Some(MatrixCommand::Summarize {
            dirs,
            cells,
            out,
            previous,
            update_previous,
        }) => {
            let expected = m.cells(&cells.kernel, &cells.config)?;
            let found = matrix::collect(&dirs)?;
            let opts = matrix::RunOptions {
                out: out.unwrap_or_else(|| matrix::default_out(p)),
                previous: Some(previous.unwrap_or_else(|| matrix::default_previous(p))),
                update_previous,
                test: TestOptions::new(TreeSpec::Kernel(pipeline::DEFAULT_KERNEL.into())),
            };
            let s = matrix::finish(found, &expected, &opts)?;
            print!("{}", matrix::table(&s));
            println!("summary: {}", opts.out.join("summary.md").display());
            Ok(s.exit_code())
        }
        None => {
            let mut cells = m.cells(&run.cells.kernel, &run.cells.config)?;
            if let Some(sh) = run.shard {
                cells = matrix::shard(&cells, sh);
                eprintln!(
                    "asi-tool: shard {}/{}: {} cell(s)",
                    sh.index,
                    sh.count,
                    cells.len()
                );
            }
            let mut test = TestOptions::new(TreeSpec::Kernel(pipeline::DEFAULT_KERNEL.into()));
            run.run.apply_to(&mut test);
            let opts = matrix::RunOptions {
                out: run.out.unwrap_or_else(|| matrix::default_out(p)),
                previous: if run.no_previous {
                    None
                } else {
                    Some(run.previous.unwrap_or_else(|| matrix::default_previous(p)))
                },
                update_previous: !run.no_previous,
                test,
            };
            let s = matrix::run(p, cache, &cells, &opts)?;
            print!("{}", matrix::table(&s));
            println!("summary: {}", opts.out.join("summary.md").display());
            Ok(s.exit_code())
        }
    }
}

fn kernel_gc(
    cache: &Cache,
    project: Option<&std::path::Path>,
    keep: &[String],
    dry_run: bool,
) -> Result<i32> {
    let mut wanted: Vec<(String, String)> = vec![(
        pipeline::DEFAULT_KERNEL.to_string(),
        "the default kernel".to_string(),
    )];
    let m = Project::locate(project)
        .and_then(|p| matrix::load(&p.root))
        .map_err(|e| {
            // No project is a usage error (2), a broken matrix file an
            // input error (3), as for `matrix list`: keep the cause's code.
            fail(
                exit_code_of(&e),
                format!(
                    "kernel gc keeps what {} names, and cannot read it: {e:#}",
                    matrix::MATRIX_FILE
                ),
            )
        })?;
    wanted.extend(
        m.kernels
            .iter()
            .map(|k| (k.clone(), format!("{} lists {k}", matrix::MATRIX_FILE))),
    );
    for k in keep {
        source::parse_version(k)?;
        wanted.push((k.clone(), "--keep".into()));
    }
    let cached: Vec<String> = source::list(cache)
        .into_iter()
        .map(|k| k.record.version)
        .collect();
    println!(
        "{:<10} {:>9} {:>9} {:>9} {:>9}  ACTION",
        "VERSION", "TREE", "BUILD", "WORKTREES", "TOTAL"
    );
    let rows = cache::gc(cache, &cached, &wanted, dry_run)?;
    for r in &rows {
        println!(
            "{:<10} {:>9} {:>9} {:>9} {:>9}  {}",
            r.version,
            cache::human_bytes(r.usage.tree),
            cache::human_bytes(r.usage.build),
            cache::human_bytes(r.usage.worktrees),
            cache::human_bytes(r.usage.total()),
            r.action
        );
    }
    let freed: u64 = rows
        .iter()
        .filter(|r| r.freed)
        .map(|r| r.usage.total())
        .sum();
    println!(
        "{} {}",
        if dry_run { "would free" } else { "freed" },
        cache::human_bytes(freed)
    );
    Ok(0)
}
