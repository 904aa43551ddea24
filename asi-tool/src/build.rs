//! `make bzImage` out of tree (`O=`), through ccache when it is installed,
//! on every core, with a progress line, the whole log saved and, on
//! failure, the first compiler errors printed.
//!
//! An interrupted build resumes where it stopped: make rebuilds only what
//! is missing or older than its sources. The make command line is fixed
//! (same `CC`, same `LOCALVERSION`) because Kbuild rebuilds every object
//! whose recorded command changed.
//!
//! One kernel build at a time per machine: two at once on 2 cores double
//! both builds' time, so `make` runs under an exclusive lock on
//! `$ASI_KBUILD_LOCK` (default [`DEFAULT_LOCK`]), which any other build
//! script can take too (`flock /tmp/asi-kbuild.lock make ...`).

use crate::cmd::{Ended, Stream};
use crate::error::{fail, Exit};
use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct BuildOptions {
    pub jobs: usize,
    pub ccache: bool,
    pub target: String,
    /// Draw a progress bar (off when stderr is not a terminal).
    pub progress: bool,
    pub timeout: Option<Duration>,
    /// The file locked while make runs ([`lock_path`] by default).
    pub lock: PathBuf,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            jobs: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            ccache: which("ccache").is_some(),
            target: "bzImage".into(),
            progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
            timeout: None,
            lock: lock_path(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Built {
    pub image: PathBuf,
    pub log: PathBuf,
    pub seconds: f64,
    /// Objects compiled by this run (0: nothing to do).
    pub compiled: usize,
    pub command: String,
}

/// `PATH` lookup.
pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// The build lock when `$ASI_KBUILD_LOCK` is unset or empty.
pub const DEFAULT_LOCK: &str = "/tmp/asi-kbuild.lock";

/// The file whose lock serializes kernel builds.
pub fn lock_path() -> PathBuf {
    std::env::var_os("ASI_KBUILD_LOCK")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_LOCK))
}

/// Takes the exclusive build lock on `path` (created if missing), waiting,
/// and saying so, while another build holds it. The lock lasts as long as
/// the returned file is open, and the kernel releases it if the process
/// dies.
pub fn lock_builds(path: &Path) -> Result<std::fs::File> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| {
            fail(
                Exit::Infra,
                format!(
                    "cannot open the kernel build lock {}: {e}; \
                     point ASI_KBUILD_LOCK at a writable file",
                    path.display()
                ),
            )
        })?;
    match file.try_lock() {
        Ok(()) => return Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => eprintln!(
            "asi-tool: waiting for another kernel build (lock {} held)",
            path.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(fail(
                Exit::Infra,
                format!("cannot lock {}: {e}", path.display()),
            ))
        }
    }
    file.lock()
        .map_err(|e| fail(Exit::Infra, format!("cannot lock {}: {e}", path.display())))?;
    Ok(file)
}

/// The make invocation, also printed as the reproducer.
pub fn make_command(src: &Path, build: &Path, opts: &BuildOptions) -> Stream {
    let cc = if opts.ccache {
        "CC=ccache gcc"
    } else {
        "CC=gcc"
    };
    Stream::new("make")
        .arg("-C")
        .arg(src)
        .arg(format!("O={}", build.display()))
        .arg(format!("-j{}", opts.jobs.max(1)))
        .arg(cc)
        .arg("LOCALVERSION=")
        .arg(&opts.target)
}

/// Compiler and linker errors worth showing first, from a build log.
pub fn first_errors(log: &str, max: usize) -> Vec<String> {
    log.lines()
        .filter(|l| {
            l.contains("error:")
                || l.contains("undefined reference to")
                || l.contains("No rule to make target")
                || l.starts_with("make") && l.contains("Error ")
                || l.contains("fatal error")
                || l.contains("No space left on device")
        })
        .take(max)
        .map(str::to_string)
        .collect()
}

pub fn build(src: &Path, build_dir: &Path, log: &Path, opts: &BuildOptions) -> Result<Built> {
    crate::cache::Cache::ensure(build_dir)?;
    if !build_dir.join(".config").is_file() {
        return Err(fail(
            Exit::Infra,
            format!(
                "{} has no .config: run `asi-tool config` first",
                build_dir.display()
            ),
        ));
    }
    crate::cache::require_space(build_dir, 2 << 30, "a kernel build")?;
    let mut make = make_command(src, build_dir, opts);
    if let Some(t) = opts.timeout {
        make = make.timeout(t);
    }
    let command = make.command_line();
    let bar = if opts.progress {
        let b = ProgressBar::new_spinner();
        b.set_style(
            ProgressStyle::with_template(
                "{spinner} {elapsed_precise} build: {pos} objects  {wide_msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        b.enable_steady_tick(Duration::from_millis(200));
        b
    } else {
        ProgressBar::hidden()
    };
    // Taken before the clock starts: waiting is not build time.
    let lock = lock_builds(&opts.lock)?;
    let start = Instant::now();
    let mut compiled = 0usize;
    let ended = make.run(log, |_, line| {
        let t = line.trim_start();
        if t.starts_with("CC ")
            || t.starts_with("AS ")
            || t.starts_with("LD ")
            || t.starts_with("AR ")
        {
            compiled += 1;
            bar.set_position(compiled as u64);
            bar.set_message(t.to_string());
        }
    })?;
    drop(lock);
    bar.finish_and_clear();
    let seconds = start.elapsed().as_secs_f64();
    let image = build_dir.join("arch/x86/boot/bzImage");
    match ended {
        Ended::Exited(st) if st.success() && image.is_file() => Ok(Built {
            image,
            log: log.to_path_buf(),
            seconds,
            compiled,
            command,
        }),
        Ended::Exited(st) => {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let errors = first_errors(&text, 15);
            let mut msg = format!("kernel build failed ({st}) after {seconds:.0}s: {command}");
            if errors.is_empty() {
                msg.push_str("\n  (no compiler error found; see the log)");
            }
            for e in errors {
                msg.push_str(&format!("\n  {e}"));
            }
            msg.push_str(&format!("\nFull log: {}", log.display()));
            Err(fail(Exit::Infra, msg))
        }
        Ended::TimedOut(t) => Err(fail(
            Exit::Timeout,
            format!(
                "kernel build did not finish in {}s; log: {}",
                t.as_secs(),
                log.display()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_errors() {
        let log = "  CC mm/a.o\nmm/asi.c:12:5: error: 'x' undeclared\nmm/asi.c:3: warning: unused\n\
make[3]: *** [scripts/Makefile.build:229: mm/asi.o] Error 1\nld: vmlinux.o: undefined reference to `asi_foo'\n";
        let e = first_errors(log, 10);
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(e[0].contains("undeclared"));
        assert_eq!(first_errors(log, 1).len(), 1);
    }

    #[test]
    fn fixed_make_line() {
        let opts = BuildOptions {
            jobs: 2,
            ccache: true,
            target: "bzImage".into(),
            progress: false,
            timeout: None,
            lock: PathBuf::from("/unused"),
        };
        let line = make_command(Path::new("/s"), Path::new("/b"), &opts).command_line();
        assert_eq!(
            line,
            "make -C /s O=/b -j2 'CC=ccache gcc' LOCALVERSION= bzImage"
        );
    }

    #[test]
    fn builds_wait_for_each_other() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("kbuild.lock");
        let held = lock_builds(&path).unwrap();
        assert!(path.is_file());
        let (tx, rx) = std::sync::mpsc::channel();
        let p = path.clone();
        let waiter = std::thread::spawn(move || {
            let second = lock_builds(&p).unwrap();
            tx.send(()).unwrap();
            drop(second);
        });
        // Still blocked while the first holder keeps its lock.
        assert!(rx.recv_timeout(Duration::from_millis(300)).is_err());
        drop(held);
        rx.recv_timeout(Duration::from_secs(10))
            .expect("the second build got the lock once the first released it");
        waiter.join().unwrap();
        let e = lock_builds(&d.path().join("no/such/dir/lock")).unwrap_err();
        assert!(format!("{e}").contains("ASI_KBUILD_LOCK"), "{e}");
    }

    #[test]
    fn build_without_config_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let err = build(
            d.path(),
            &d.path().join("b"),
            &d.path().join("log"),
            &BuildOptions::default(),
        )
        .unwrap_err();
        assert!(format!("{err}").contains("run `asi-tool config` first"));
    }

    #[test]
    fn failing_build_shows_first_errors() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src");
        let b = d.path().join("b");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(b.join(".config"), "CONFIG_X=y\n").unwrap();
        std::fs::write(
            src.join("Makefile"),
            "bzImage:\n\t@echo '  CC      mm/asi.o'\n\t@echo 'mm/asi.c:1:1: error: expected identifier' >&2\n\t@false\n",
        )
        .unwrap();
        let opts = BuildOptions {
            jobs: 1,
            ccache: false,
            target: "bzImage".into(),
            progress: false,
            timeout: None,
            lock: d.path().join("kbuild.lock"),
        };
        let err = build(&src, &b, &d.path().join("build.log"), &opts).unwrap_err();
        let msg = format!("{err}");
        assert!(
            msg.contains("mm/asi.c:1:1: error: expected identifier"),
            "{msg}"
        );
        assert!(msg.contains("Full log:"), "{msg}");
        // make ran under the build lock, which is released again.
        assert!(d.path().join("kbuild.lock").is_file());
        drop(lock_builds(&d.path().join("kbuild.lock")).unwrap());
    }
}
