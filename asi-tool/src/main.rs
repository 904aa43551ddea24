//! The `asi-tool` command line: argument parsing and printing only; the
//! work is done by the library's stage modules.

use anyhow::Result;
use asi_tool::apply::{self, ApplyOptions};
use asi_tool::build::BuildOptions;
use asi_tool::cache::{self, Cache};
use asi_tool::check;
use asi_tool::error::{exit_code_of, fail, Exit};
use asi_tool::pipeline::{self, Project, TestOptions, TreeSpec};
use asi_tool::queue::{self, Queue};
use asi_tool::source::{self, Origin};
use asi_tool::testvms::Suite;
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
                  4 patch conflict, 5 Kconfig check failed, 124 timeout, 255 guest panic."
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
    #[arg(long, value_name = "VERSION", conflicts_with = "tree")]
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
    },
    /// Build the kernel out of tree (O=), with ccache when present.
    Build {
        #[command(flatten)]
        tree: TreeArgs,
        #[command(flatten)]
        build: BuildArgs,
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
        /// Wall-clock limit in seconds (exit 124).
        #[arg(long, default_value_t = 300)]
        timeout: u64,
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
        vm: VmArgs,
        /// Boot again once when a guest crashes or hangs (recorded as flaky).
        #[arg(long, default_value_t = 1)]
        retries: u32,
        /// Only tests whose name contains this (repeatable).
        #[arg(long, value_name = "NAME")]
        filter: Vec<String>,
        #[command(flatten)]
        build: BuildArgs,
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
        vm: VmArgs,
        /// Boot again once when a guest crashes or hangs (recorded as flaky).
        #[arg(long, default_value_t = 1)]
        retries: u32,
        /// Only benchmarks whose name contains this (repeatable).
        #[arg(long, value_name = "NAME")]
        filter: Vec<String>,
        /// Also write each report to DIR/<name>.md (e.g. docs/benchmarks).
        #[arg(long, value_name = "DIR")]
        report_dir: Option<PathBuf>,
        #[command(flatten)]
        build: BuildArgs,
    },
}

#[derive(Subcommand)]
enum KernelCommand {
    /// Fetch a kernel version into the cache (a no-op when cached).
    Fetch {
        /// MAJOR.MINOR (newest available) or MAJOR.MINOR.PATCH.
        version: String,
        /// Import this tarball instead of downloading.
        #[arg(long, value_name = "FILE", conflicts_with = "tree")]
        tarball: Option<PathBuf>,
        /// Import this tree (a git repository is cloned at its HEAD; a plain directory is copied).
        #[arg(long, value_name = "DIR")]
        tree: Option<PathBuf>,
    },
    /// List the cached kernels.
    List,
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
                let size = dir_size(&k.dir.join(".git"));
                println!(
                    "{:<10} {} git {:>9}  {}",
                    k.record.version,
                    k.record.commit.get(..12).unwrap_or(&k.record.commit),
                    cache::human_bytes(size),
                    k.record.origin
                );
            }
            Ok(0)
        }
        Command::Apply {
            tree,
            base,
            branch,
            keep_conflict,
        } => {
            let p = project()?;
            let queue = Queue::load(&p.queue_dir())?;
            let ws = pipeline::workspace(&cache, &tree.spec(), base.as_deref())?;
            let a = pipeline::apply_queue(
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
            let branch = match branch {
                Some(b) => b,
                None => {
                    let q = Queue::load(&p.queue_dir())?;
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
            let out = output.unwrap_or_else(|| p.queue_dir());
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
            build,
        } => check_cmd(&cache, &project()?, &tree, strict, build_each, &build),
        Command::Config { tree, baseline } => {
            let p = project()?;
            let ws = pipeline::workspace(&cache, &tree.spec(), None)?;
            let c = pipeline::configure(&p, &ws, !baseline)?;
            println!("{}", c.config.display());
            Ok(0)
        }
        Command::Build { tree, build } => {
            let ws = pipeline::workspace(&cache, &tree.spec(), None)?;
            let log = ws.build.join("asi-build.log");
            let b = pipeline::build_kernel(&ws, &log, &build.options())?;
            println!("{}", b.image.display());
            Ok(0)
        }
        Command::Run {
            tree,
            vm: v,
            append,
            timeout,
            command,
        } => {
            let ws = pipeline::workspace(&cache, &tree.spec(), None)?;
            let image = ws.build.join("arch/x86/boot/bzImage");
            let accel = match v.accel {
                Some(a) => a,
                None => vm::probe_accel(&cache, &image)?,
            };
            let opts = VmOptions {
                append,
                cpus: v.cpus,
                memory: v.memory,
                timeout: Duration::from_secs(timeout),
                accel,
                rwdirs: vec![],
                echo: true,
            };
            let console = ws.build.join("asi-run-console.log");
            let b = vm::boot(&image, &command, &opts, &console)?;
            match &b.outcome {
                vm::Outcome::TimedOut => eprintln!(
                    "error: the guest did not finish in {timeout}s (console: {})",
                    console.display()
                ),
                vm::Outcome::Panicked { excerpt, .. } => eprintln!(
                    "error: the guest kernel crashed or warned (console: {}):\n  {}",
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
            vm: v,
            retries,
            filter,
            build,
        } => {
            let p = project()?;
            let opts = TestOptions {
                spec: tree.spec(),
                base,
                baseline,
                accel: v.accel,
                cpus: v.cpus,
                memory: v.memory,
                retries,
                build: build.options(),
                filter,
                suite: Suite::Tests,
            };
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
        Command::Bench {
            tree,
            base,
            vm: v,
            retries,
            filter,
            report_dir,
            build,
        } => {
            let p = project()?;
            let opts = TestOptions {
                spec: tree.spec(),
                base,
                baseline: false,
                accel: v.accel,
                cpus: v.cpus,
                memory: v.memory,
                retries,
                build: build.options(),
                filter,
                suite: Suite::Benches,
            };
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
                        if code == 0 {
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
    build_each: bool,
    build: &BuildArgs,
) -> Result<i32> {
    let scan = queue::scan(&p.queue_dir())?;
    let ws = pipeline::workspace(cache, &tree.spec(), None)?;
    let mut rows = check::rows(&scan);
    for (row, patch) in rows.iter_mut().zip(&scan.patches) {
        row.checkpatch = Some(check::checkpatch(&ws.target.work, &patch.path, strict)?);
    }
    if build_each && !scan.problems.iter().any(|pr| pr.error) {
        let q = Queue::load(&p.queue_dir())?;
        let a = pipeline::apply_queue(&ws, &q, &ApplyOptions::default())?;
        let commits = apply::commits_between(&ws.target.work, &a.base, &a.tip)?;
        pipeline::configure(p, &ws, true)?;
        for (i, (row, commit)) in rows.iter_mut().zip(&commits).enumerate() {
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

fn dir_size(dir: &std::path::Path) -> u64 {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}
