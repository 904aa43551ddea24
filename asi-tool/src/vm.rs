//! Booting a kernel under virtme-ng and running a command in it.
//!
//! vng returns the guest command's exit code (255 when the guest died
//! without writing one) but has no timeout and does not look at the
//! console. This module adds both: a wall-clock limit (exit 124) and a scan
//! of the kernel console for oopses, BUGs, panics and WARNINGs (exit 255,
//! with the excerpt), and picks KVM only when it can really boot a guest.

use crate::cache::Cache;
use crate::cmd::{Ended, Pipe, Stream};
use anyhow::{Context, Result};
use regex::Regex;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Accel {
    Kvm,
    Tcg,
}

impl std::str::FromStr for Accel {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "kvm" => Ok(Accel::Kvm),
            "tcg" => Ok(Accel::Tcg),
            other => Err(format!("unknown accelerator {other:?}: use kvm or tcg")),
        }
    }
}

impl std::fmt::Display for Accel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        })
    }
}

#[derive(Debug, Clone)]
pub struct VmOptions {
    /// Extra kernel command line.
    pub append: Vec<String>,
    pub cpus: u32,
    /// vng's memory syntax, e.g. "2G".
    pub memory: String,
    pub timeout: Duration,
    pub accel: Accel,
    /// Host directories the guest may write (same path inside).
    pub rwdirs: Vec<PathBuf>,
    /// Echo the command's own output (stdout) as it comes.
    pub echo: bool,
}

/// How a boot ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The command ran; its exit code.
    Exited(i32),
    /// The wall-clock limit passed.
    TimedOut,
    /// The kernel oopsed, panicked or warned (the command may still have exited).
    Panicked {
        excerpt: Vec<String>,
        exit: Option<i32>,
    },
}

#[derive(Debug, Clone)]
pub struct Boot {
    pub outcome: Outcome,
    pub console: PathBuf,
    pub seconds: f64,
    pub command: String,
    /// Whether the guest kernel started its init (virtme-ng's, which runs
    /// the command): the console has the kernel's "Run ... as init
    /// process" line.
    pub reached_init: bool,
}

impl Boot {
    /// The process exit code `asi-tool run` passes on.
    pub fn exit_code(&self) -> i32 {
        match &self.outcome {
            Outcome::Exited(c) => *c,
            Outcome::TimedOut => 124,
            Outcome::Panicked { .. } => 255,
        }
    }
}

fn console_line() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    // Kernel messages on the console carry a printk timestamp.
    R.get_or_init(|| Regex::new(r"^\s*(<\d+>)?\[\s*\d+\.\d+\]").expect("static regex"))
}

/// Markers of a kernel in trouble.
pub const PANIC_MARKERS: &[&str] = &["Oops", "BUG:", "Kernel panic", "WARNING:", "Call Trace:"];

/// Guest kernel trouble known to come from the emulator, not from the
/// kernel under test: under TCG, text patching (static keys, alternatives)
/// now and then traps as a spurious `Oops: int3` (about 1 boot in 20 here).
/// Only these are retried as infrastructure flakes; any other oops,
/// BUG or warning is the kernel's, and fails the boot at once.
pub const INFRA_FLAKE_MARKERS: &[&str] = &["Oops: int3"];

/// Whether a panic excerpt is a known emulator flake (see
/// [`INFRA_FLAKE_MARKERS`]).
pub fn is_infra_flake(excerpt: &[String]) -> bool {
    flake_line(excerpt).is_some()
}

/// Whether console `lines` show the guest kernel starting its init.
pub fn reached_init(lines: &[String]) -> bool {
    lines
        .iter()
        .any(|l| console_line().is_match(l) && l.contains(" as init process"))
}

/// Why a boot failed for a reason outside the kernel under test, if it
/// did: a known emulator flake in the console, or a guest that exited
/// non-zero without an oops before its init ever ran (QEMU itself
/// crashing under TCG; seen 2026-11-29: a segfault of qemu-system-x86_64
/// 1 s into boot). A hang is not one: the timeout is the caller's.
pub fn infra_failure(b: &Boot) -> Option<String> {
    match &b.outcome {
        Outcome::Panicked { excerpt, .. } => {
            flake_line(excerpt).map(|l| format!("known emulator flake ({l})"))
        }
        Outcome::Exited(c) if *c != 0 && !b.reached_init => Some(format!(
            "the guest never started its init (vng exited {c}, no kernel oops): \
             the emulator died?"
        )),
        _ => None,
    }
}

/// The console line that made an excerpt a known emulator flake.
pub fn flake_line(excerpt: &[String]) -> Option<&str> {
    excerpt
        .iter()
        .find(|l| INFRA_FLAKE_MARKERS.iter().any(|m| l.contains(m)))
        .map(|l| l.trim())
}

/// How far before its `Call Trace:` an OOM-killer report names itself
/// ("invoked oom-killer:", then the CPU, taint and hardware lines).
const OOM_REPORT_HEADER_LINES: usize = 6;

/// Whether the `Call Trace:` at `lines[i]` is the stack dump of an
/// OOM-killer report. Running a memory cgroup out of memory is what some
/// tests do on purpose (map_exclusive_mode's memcg cases): the kernel
/// doing its job, not trouble. A trace of anything else still is.
fn is_oom_report_trace(lines: &[String], i: usize) -> bool {
    lines[i].contains("Call Trace:")
        && lines[i.saturating_sub(OOM_REPORT_HEADER_LINES)..i]
            .iter()
            .any(|l| console_line().is_match(l) && l.contains(" invoked oom-killer: "))
}

/// Scans console lines for kernel trouble; returns an excerpt starting at
/// the first marker (at most 40 lines).
pub fn find_panic(lines: &[String]) -> Option<Vec<String>> {
    let first = (0..lines.len()).find(|&i| {
        let l = &lines[i];
        console_line().is_match(l)
            && PANIC_MARKERS.iter().any(|m| l.contains(m))
            && !is_oom_report_trace(lines, i)
    })?;
    let start = first.saturating_sub(2);
    Some(lines[start..lines.len().min(first + 40)].to_vec())
}

/// The vng command line for a boot.
pub fn vng_command(image: &Path, command: &[String], opts: &VmOptions) -> Stream {
    let mut s = Stream::new("vng")
        .arg("--run")
        .arg(image)
        .arg("--verbose")
        .arg("--cpus")
        .arg(opts.cpus.to_string())
        .arg("--memory")
        .arg(&opts.memory);
    if opts.accel == Accel::Tcg {
        s = s.arg("--disable-kvm");
    }
    // vng tries virtiofsd first; on Debian 12 it finds qemu's C virtiofsd,
    // which cannot start that way, waits for it, then falls back to 9p.
    // Going to 9p directly saves that wait; the tests do little file I/O.
    s = s.arg("--force-9p");
    // Printk timestamps let the console scan tell kernel lines from the command's.
    let mut append = vec!["printk.time=1".to_string()];
    append.extend(opts.append.iter().cloned());
    s = s.arg("--append").arg(append.join(" "));
    for d in &opts.rwdirs {
        s = s.arg(format!("--rwdir={}", d.display()));
    }
    s.arg("--").args(command.iter().cloned())
}

/// Boots `image` and runs `command`; the console goes to `console`.
pub fn boot(image: &Path, command: &[String], opts: &VmOptions, console: &Path) -> Result<Boot> {
    if !image.is_file() {
        return Err(crate::error::fail(
            crate::error::Exit::Infra,
            format!(
                "kernel image {} does not exist: run `asi-tool build` first",
                image.display()
            ),
        ));
    }
    let stream = vng_command(image, command, opts).timeout(opts.timeout);
    let line = stream.command_line();
    let start = Instant::now();
    let mut lines = Vec::new();
    let echo = opts.echo;
    let ended = stream.run(console, |pipe, l| {
        if echo && pipe == Pipe::Stdout {
            println!("{l}");
        }
        lines.push(l.to_string());
    })?;
    let seconds = start.elapsed().as_secs_f64();
    let reached_init = reached_init(&lines);
    let panic = find_panic(&lines);
    let outcome = match (ended, panic) {
        (Ended::TimedOut(_), _) => Outcome::TimedOut,
        (Ended::Exited(st), Some(excerpt)) => Outcome::Panicked {
            excerpt,
            exit: st.code(),
        },
        (Ended::Exited(st), None) => match st.code() {
            Some(c) => Outcome::Exited(c),
            None => Outcome::Panicked {
                excerpt: vec!["vng was killed by a signal".into()],
                exit: None,
            },
        },
    };
    Ok(Boot {
        outcome,
        console: console.to_path_buf(),
        seconds,
        command: line,
        reached_init,
    })
}

/// The answer of an earlier KVM probe, if it was made since the host booted.
pub fn remembered_accel(cache: &Cache) -> Option<Accel> {
    let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let text = std::fs::read_to_string(cache.root().join("kvm-probe")).ok()?;
    let (id, answer) = text.split_once('\n')?;
    (id == boot_id.trim()).then(|| {
        if answer.trim() == "kvm" {
            Accel::Kvm
        } else {
            Accel::Tcg
        }
    })
}

/// Can KVM boot a guest here? `/dev/kvm` existing is not enough: nested
/// KVM may hang in "Decompressing Linux...". The answer is probed with a
/// real boot of `image` and remembered until the host reboots.
pub fn probe_accel(cache: &Cache, image: &Path) -> Result<Accel> {
    let kvm_ok = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok();
    if !kvm_ok {
        return Ok(Accel::Tcg);
    }
    if let Some(known) = remembered_accel(cache) {
        return Ok(known);
    }
    let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
    let memo = cache.root().join("kvm-probe");
    eprintln!("asi-tool: probing whether KVM can boot a guest here (up to 45 s)");
    let opts = VmOptions {
        append: vec![],
        cpus: 1,
        memory: "512M".into(),
        timeout: Duration::from_secs(45),
        accel: Accel::Kvm,
        rwdirs: vec![],
        echo: false,
    };
    Cache::ensure(cache.root())?;
    let log = cache.root().join("kvm-probe.log");
    let b = boot(image, &["true".to_string()], &opts, &log)?;
    let accel = if b.outcome == Outcome::Exited(0) {
        Accel::Kvm
    } else {
        Accel::Tcg
    };
    std::fs::write(&memo, format!("{}\n{accel}\n", boot_id.trim()))
        .with_context(|| format!("cannot write {}", memo.display()))?;
    if accel == Accel::Tcg {
        eprintln!(
            "asi-tool: KVM cannot boot a guest here ({}); using TCG",
            log.display()
        );
    }
    Ok(accel)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(lines: &[&str]) -> Vec<String> {
        lines.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn finds_kernel_trouble_only_on_console_lines() {
        let clean = v(&[
            "[    0.000000] Linux version 6.12",
            "WARNING: this is userspace output",
            "ok 1 x",
        ]);
        assert!(find_panic(&clean).is_none());
        let oops = v(&[
            "[    1.0] a",
            "[    1.1] b",
            "[    2.000001] Oops: int3: 0000 [#1] PREEMPT SMP NOPTI",
            "[    2.000002] RIP: 0010:enqueue_timer+0x1/0x2",
        ]);
        let e = find_panic(&oops).unwrap();
        assert_eq!(e.len(), 4);
        assert!(e[2].contains("Oops"));
        let warn = v(&["<4>[   10.5] WARNING: CPU: 0 PID: 1 at mm/asi.c:10 asi_init+0x1"]);
        assert!(find_panic(&warn).is_some());
        assert!(find_panic(&v(&["[ 3.5] Kernel panic - not syncing: VFS"])).is_some());
    }

    #[test]
    fn an_oom_kill_is_not_trouble_but_what_follows_it_is() {
        let oom = v(&[
            "[   19.95] map_exclusive_m invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0",
            "[   19.96] CPU: 0 UID: 0 PID: 164 Comm: map_exclusive_m Tainted: G N 6.12.107",
            "[   19.96] Tainted: [N]=TEST",
            "[   19.96] Hardware name: QEMU Standard PC (Q35 + ICH9, 2009)",
            "[   19.96] Call Trace:",
            "[   19.96]  <TASK>",
            "[   19.96]  dump_stack_lvl+0x53/0x70",
            "[   19.97] Memory cgroup out of memory: Killed process 165 (map_exclusive_m)",
        ]);
        assert!(find_panic(&oom).is_none());
        let mut later = oom.clone();
        later.extend(v(&[
            "[   30.0] x",
            "[   30.1] Call Trace:",
            "[   30.1]  <TASK>",
        ]));
        let e = find_panic(&later).unwrap();
        assert!(e[2].contains("[   30.1] Call Trace:"), "{e:?}");
        // A trace far from any OOM header is trouble even after one.
        let mut far = oom.clone();
        far.extend(v(&["[ 40.0] WARNING: CPU: 1 PID: 9 at mm/x.c:1 f+0x1"]));
        assert!(find_panic(&far).unwrap()[2].contains("WARNING"));
    }

    #[test]
    fn vng_line() {
        let opts = VmOptions {
            append: vec!["asi=on".into()],
            cpus: 2,
            memory: "2G".into(),
            timeout: Duration::from_secs(5),
            accel: Accel::Tcg,
            rwdirs: vec![PathBuf::from("/r")],
            echo: false,
        };
        let line =
            vng_command(Path::new("/b/bzImage"), &["/bin/true".into()], &opts).command_line();
        assert_eq!(
            line,
            "vng --run /b/bzImage --verbose --cpus 2 --memory 2G --disable-kvm --force-9p --append 'printk.time=1 asi=on' --rwdir=/r -- /bin/true"
        );
    }

    #[test]
    fn missing_image_is_a_clear_error() {
        let d = tempfile::tempdir().unwrap();
        let opts = VmOptions {
            append: vec![],
            cpus: 1,
            memory: "1G".into(),
            timeout: Duration::from_secs(1),
            accel: Accel::Tcg,
            rwdirs: vec![],
            echo: false,
        };
        let err = boot(&d.path().join("bzImage"), &[], &opts, &d.path().join("c")).unwrap_err();
        assert!(format!("{err}").contains("asi-tool build"));
    }

    #[test]
    fn only_known_emulator_oopses_are_flakes() {
        let int3 = vec!["[    2.0] Oops: int3: 0000 [#1] PREEMPT SMP NOPTI".to_string()];
        let ours = vec![
            "[   89.7] BUG: unable to handle page fault for address: fffffe8006000008".to_string(),
            "[   89.7] RIP: 0010:asi_free+0x14d/0x1d0".to_string(),
        ];
        assert!(is_infra_flake(&int3));
        assert!(!is_infra_flake(&ours));
        assert!(!is_infra_flake(&[]));
        let boot = |outcome: Outcome, reached_init: bool| Boot {
            outcome,
            console: PathBuf::from("c.log"),
            seconds: 1.0,
            command: "vng".into(),
            reached_init,
        };
        assert!(infra_failure(&boot(Outcome::Exited(255), false))
            .unwrap()
            .contains("never started its init"));
        // Once init ran, the exit code is the command's.
        assert_eq!(infra_failure(&boot(Outcome::Exited(255), true)), None);
        assert_eq!(infra_failure(&boot(Outcome::Exited(0), false)), None);
        assert_eq!(infra_failure(&boot(Outcome::TimedOut, false)), None);
        assert!(infra_failure(&boot(
            Outcome::Panicked {
                excerpt: int3.clone(),
                exit: Some(255)
            },
            true
        ))
        .unwrap()
        .contains("Oops: int3"));
        assert_eq!(
            infra_failure(&boot(
                Outcome::Panicked {
                    excerpt: ours.clone(),
                    exit: Some(255)
                },
                false
            )),
            None
        );
        let init = "[    2.386968] Run /x/virtme-ng-init as init process".to_string();
        assert!(reached_init(&[init]));
        assert!(!reached_init(&["echo Run x as init process".to_string()]));
        assert_eq!(
            flake_line(&int3),
            Some("[    2.0] Oops: int3: 0000 [#1] PREEMPT SMP NOPTI")
        );
    }
}
