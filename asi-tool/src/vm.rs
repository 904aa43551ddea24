//! Booting a kernel under virtme-ng and running a command in it.
//!
//! vng returns the guest command's exit code (255 when the guest died
//! without writing one) but has no timeout and does not look at the
//! console. This module adds both: a wall-clock limit (exit 124) and a scan
//! of the kernel console for kernel reports (oopses, panics, BUGs, KASAN,
//! KFENCE, lockdep, UBSAN, WARNINGs: exit 255, with the report's first line
//! and an excerpt), and picks KVM only when it can really boot a guest.

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
    /// A NUMA guest of this many nodes (see [`numa_args`]); `None`: no NUMA.
    pub numa_nodes: Option<u32>,
    /// The guest crashes into a capture kernel on purpose: the console
    /// scan passes over that panic ([`find_report_around_crash_dump`]).
    pub crash_dump: bool,
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
    /// The console shows a kernel report: an oops, panic, BUG, KASAN,
    /// KFENCE, lockdep or UBSAN report, or a WARNING. The report decides,
    /// whatever else happened: the command may still have exited, even
    /// with 0, or the guest may have hung after it (`timed_out`).
    Panicked {
        /// The report's first line, without its timestamp (see
        /// [`KernelReport::first_line`]).
        report: String,
        excerpt: Vec<String>,
        /// vng's exit code (`None`: killed, or timed out).
        exit: Option<i32>,
        /// The wall-clock limit passed too.
        timed_out: bool,
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
    // Kernel messages on the console carry a printk timestamp (and, with
    // CONFIG_PRINTK_CALLER, the caller: `[    1.0][    T1] `).
    R.get_or_init(|| {
        Regex::new(r"^\s*(<\d+>)?\[\s*\d+\.\d+\](\[\s*[CT]\d+\])? ?").expect("static regex")
    })
}

/// The message of a kernel console line (what follows its printk
/// timestamp), `None` for any other line: the guest command's own output
/// and vng's have no timestamp.
pub fn kernel_message(line: &str) -> Option<&str> {
    console_line().find(line).map(|m| &line[m.end()..])
}

/// How the first line of a kernel report begins: a kernel console line
/// whose message (after the printk timestamp) starts with one of these is
/// trouble. Matched at the start of the message only, so that a line that
/// merely mentions one (`RETBleed: WARNING: Spectre v2 mitigation leaves
/// CPU vulnerable...`, a test writing "BUG:" to /dev/kmsg mid-line) is not.
pub const PANIC_MARKERS: &[&str] = &[
    // x86 die(): "Oops: general protection fault, ...", "Oops: invalid
    // opcode: 0000 [#1] ...", "Oops: int3", "Oops: Oops: 0000" (page fault).
    "Oops:",
    // "BUG: KASAN: slab-use-after-free in f+0x1/0x2", "BUG: KFENCE:
    // use-after-free read in ...", "BUG: sleeping function called from
    // invalid context at ...", "BUG: scheduling while atomic", "BUG: unable
    // to handle page fault for address", "BUG: Bad page state in process".
    "BUG:",
    // lockdep under PROVE_RAW_LOCK_NESTING: "[ BUG: Invalid wait context ]".
    "[ BUG:",
    // The soft-lockup detector (pr_fmt "watchdog: ").
    "watchdog: BUG:",
    // BUG(), BUG_ON(), VM_BUG_ON_PAGE() and friends (DEBUG_VM, DEBUG_LIST
    // with BUG_ON_DATA_CORRUPTION): "kernel BUG at mm/x.c:12!", then an Oops.
    "kernel BUG at",
    "Kernel panic",
    // WARN*() ("WARNING: CPU: 0 PID: 1 at mm/x.c:12 f+0x1/0x2"), lockdep
    // ("WARNING: possible circular locking dependency detected", "WARNING:
    // inconsistent lock state", "WARNING: possible recursive locking
    // detected", ...) and RCU lockdep ("WARNING: suspicious RCU usage").
    "WARNING:",
    // "UBSAN: array-index-out-of-bounds in mm/x.c:12:5".
    "UBSAN:",
    // Any other stack dump (a hung task, an RCU stall, a SLUB debug
    // report); an OOM-killer report's is not trouble (see below).
    "Call Trace:",
];

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
        .any(|l| kernel_message(l).is_some_and(|m| m.contains(" as init process")))
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

/// How far before a bare `Call Trace:` to look for the line that says
/// what the stack dump is about (`INFO: task x:1 blocked for more than
/// 122 seconds.`, `rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:`).
const TRACE_HEADER_LINES: usize = 12;

/// Whether the `Call Trace:` at `lines[i]` is the stack dump of an
/// OOM-killer report. Running a memory cgroup out of memory is what some
/// tests do on purpose (map_exclusive_mode's memcg cases): the kernel
/// doing its job, not trouble. A trace of anything else still is.
fn is_oom_report_trace(lines: &[String], i: usize) -> bool {
    lines[i].contains("Call Trace:")
        && lines[i.saturating_sub(OOM_REPORT_HEADER_LINES)..i]
            .iter()
            .any(|l| kernel_message(l).is_some_and(|m| m.contains(" invoked oom-killer: ")))
}

/// Whether `lines[i]` begins a kernel report: a kernel console line whose
/// message starts with a [`PANIC_MARKERS`] entry, not an OOM kill's trace.
fn starts_report(lines: &[String], i: usize) -> bool {
    kernel_message(&lines[i]).is_some_and(|m| PANIC_MARKERS.iter().any(|p| m.starts_with(p)))
        && !is_oom_report_trace(lines, i)
}

/// Kernel trouble found on a console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelReport {
    /// The report's first line without its timestamp: `BUG: KASAN:
    /// slab-use-after-free in asi_free+0x14d/0x1d0`, `WARNING: possible
    /// circular locking dependency detected`, `kernel BUG at mm/x.c:12!`.
    /// For a bare `Call Trace:`, the `INFO:` line just before it if
    /// there is one.
    pub first_line: String,
    /// The console from two lines before the report's first line (a
    /// KASAN banner, a `cut here` line) to 40 lines after its marker.
    pub excerpt: Vec<String>,
}

/// Scans console lines for kernel trouble: the first kernel report, if
/// any (see [`PANIC_MARKERS`]).
pub fn find_report(lines: &[String]) -> Option<KernelReport> {
    let first = (0..lines.len()).find(|&i| starts_report(lines, i))?;
    let message = |i: usize| kernel_message(&lines[i]).unwrap_or_default().trim();
    // A bare stack dump is named by the `INFO:` line before it, if any.
    let head = if message(first).starts_with("Call Trace:") {
        (first.saturating_sub(TRACE_HEADER_LINES)..first)
            .rev()
            .find(|&i| message(i).contains("INFO: "))
            .unwrap_or(first)
    } else {
        first
    };
    Some(KernelReport {
        first_line: message(head).to_string(),
        excerpt: lines[head.saturating_sub(2)..lines.len().min(first + 40)].to_vec(),
    })
}

/// The panic message of a crash a test asks for (`echo c >
/// /proc/sysrq-trigger`), as `sysrq_handle_crash()` words it.
pub const DELIBERATE_CRASH: &str = "Kernel panic - not syncing: sysrq triggered crash";

/// [`find_report`] for a boot that crashes on purpose into a capture
/// kernel (a `crash_dump` test): the console up to the deliberate panic
/// (the sysrq crash) and from the capture kernel's banner (`Linux version`)
/// on is scanned; the panic itself, its stack dump and the kexec between
/// them are not. Without a capture kernel booting after the panic, the
/// panic is the report: the crash dump never happened.
pub fn find_report_around_crash_dump(lines: &[String]) -> Option<KernelReport> {
    let message = |i: usize| kernel_message(&lines[i]).unwrap_or_default();
    let panic = (0..lines.len()).find(|&i| message(i).starts_with(DELIBERATE_CRASH));
    let capture = panic
        .and_then(|p| (p + 1..lines.len()).find(|&i| message(i).starts_with("Linux version ")));
    match (panic, capture) {
        (Some(p), Some(c)) => find_report(&lines[..p]).or_else(|| find_report(&lines[c..])),
        _ => find_report(lines),
    }
}

/// Guest memory in vng's syntax (digits, then `K`, `M` or `G`; no suffix
/// is MiB, as vng reads it) in MiB, when it is a whole number of MiB.
pub fn memory_mib(memory: &str) -> std::result::Result<u64, String> {
    let (digits, unit) = match memory.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&memory[..i], Some(c)),
        _ => (memory, None),
    };
    let bad = || {
        format!(
            "guest memory {memory:?} is not in vng's syntax: digits with an optional \
             K, M or G (e.g. 2G or 1536M)"
        )
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let mib = match unit {
        None | Some('M') => Some(n),
        Some('G') => n.checked_mul(1024),
        Some('K') if n.is_multiple_of(1024) => Some(n / 1024),
        Some('K') => {
            return Err(format!(
                "guest memory {memory} is not a whole number of MiB"
            ))
        }
        Some(_) => None,
    };
    mib.ok_or_else(bad)
}

/// The vng arguments of a NUMA guest of `cpus` vCPUs and `memory` (vng
/// syntax) made of `nodes` nodes, in place of `--cpus N`: `--cpus` with
/// the CPU topology (vng passes it to QEMU's `-smp`, as its own `--cpus
/// host` does), then one `--numa MEM[,cpus=A[-B]]` per node, in node order.
///
/// The memory is split evenly in whole MiB (an error if it does not split
/// so). The vCPUs go in contiguous ranges, the first `cpus % nodes` nodes
/// getting one more; with fewer vCPUs than nodes the last nodes have
/// memory and no CPU (QEMU 7.2 accepts such a node without a warning;
/// Linux takes it as a memory-only node, like one of persistent memory).
/// Every vCPU is in a node: QEMU warns about one left out of all.
///
/// No socket spans two nodes: QEMU's default topology puts every vCPU in
/// one socket, whose shared last-level cache split across nodes makes
/// Linux warn at boot (`sched: CPU #1's llc-sibling CPU #0 is not on the
/// same node!`, a WARNING that the console scan takes for a broken
/// kernel). So each node's vCPUs are a socket of their own when the vCPUs
/// divide evenly into the nodes, and each vCPU is one otherwise.
pub fn numa_args(cpus: u32, memory: &str, nodes: u32) -> std::result::Result<Vec<String>, String> {
    if nodes == 0 {
        return Err("a NUMA guest needs at least one node".into());
    }
    if cpus == 0 {
        return Err("a NUMA guest needs at least one vCPU".into());
    }
    let mib = memory_mib(memory)?;
    if mib == 0 || !mib.is_multiple_of(u64::from(nodes)) {
        return Err(format!(
            "guest memory {memory} ({mib} MiB) does not split evenly into {nodes} NUMA nodes \
             of whole MiB: pass a --memory that does (e.g. {}M)",
            (mib / u64::from(nodes)).max(1) * u64::from(nodes)
        ));
    }
    let per_node = mib / u64::from(nodes);
    let sockets = if cpus >= nodes && cpus.is_multiple_of(nodes) {
        nodes
    } else {
        cpus
    };
    let mut args = vec![
        "--cpus".to_string(),
        format!(
            "{cpus},sockets={sockets},cores={},threads=1",
            cpus / sockets
        ),
    ];
    let mut next = 0;
    for node in 0..nodes {
        let count = cpus / nodes + u32::from(node < cpus % nodes);
        let range = match count {
            0 => String::new(),
            1 => format!(",cpus={next}"),
            _ => format!(",cpus={next}-{}", next + count - 1),
        };
        next += count;
        args.push("--numa".into());
        args.push(format!("{per_node}M{range}"));
    }
    Ok(args)
}

/// The vng command line for a boot; an error when the guest memory does
/// not split into the NUMA nodes asked for.
pub fn vng_command(image: &Path, command: &[String], opts: &VmOptions) -> Result<Stream> {
    let mut s = Stream::new("vng").arg("--run").arg(image).arg("--verbose");
    s = match opts.numa_nodes {
        None => s.arg("--cpus").arg(opts.cpus.to_string()),
        Some(nodes) => s.args(
            numa_args(opts.cpus, &opts.memory, nodes)
                .map_err(|e| crate::error::fail(crate::error::Exit::Usage, e))?,
        ),
    };
    s = s.arg("--memory").arg(&opts.memory);
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
    Ok(s.arg("--").args(command.iter().cloned()))
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
    let stream = vng_command(image, command, opts)?.timeout(opts.timeout);
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
    let report = if opts.crash_dump {
        find_report_around_crash_dump(&lines)
    } else {
        find_report(&lines)
    };
    let outcome = match (ended, report) {
        // A kernel report decides the outcome even when the guest then hung
        // (a lockdep splat before a deadlock) or the command exited 0.
        (ended, Some(r)) => Outcome::Panicked {
            report: r.first_line,
            excerpt: r.excerpt,
            exit: match ended {
                Ended::Exited(st) => st.code(),
                Ended::TimedOut(_) => None,
            },
            timed_out: matches!(ended, Ended::TimedOut(_)),
        },
        (Ended::TimedOut(_), None) => Outcome::TimedOut,
        (Ended::Exited(st), None) => match st.code() {
            Some(c) => Outcome::Exited(c),
            None => Outcome::Panicked {
                report: "vng was killed by a signal".into(),
                excerpt: vec!["vng was killed by a signal".into()],
                exit: None,
                timed_out: false,
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
        numa_nodes: None,
        crash_dump: false,
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

    /// The first report of `console` (lines of text), checked to start at
    /// `first_line` and to hold it in its excerpt.
    fn report_of(console: &str) -> KernelReport {
        let lines: Vec<String> = console.lines().map(str::to_string).collect();
        let r = find_report(&lines).unwrap_or_else(|| panic!("no report in:\n{console}"));
        assert!(
            r.excerpt.iter().any(|l| l.ends_with(&r.first_line)),
            "{r:?}"
        );
        r
    }

    fn no_report(console: &str) {
        let lines: Vec<String> = console.lines().map(str::to_string).collect();
        assert_eq!(find_report(&lines), None, "{console}");
    }

    #[test]
    fn finds_kernel_trouble_only_on_console_lines() {
        let clean = v(&[
            "[    0.000000] Linux version 6.12",
            "WARNING: this is userspace output",
            "ok 1 x",
        ]);
        assert!(find_report(&clean).is_none());
        let oops = v(&[
            "[    1.0] a",
            "[    1.1] b",
            "[    2.000001] Oops: int3: 0000 [#1] PREEMPT SMP NOPTI",
            "[    2.000002] RIP: 0010:enqueue_timer+0x1/0x2",
        ]);
        let r = find_report(&oops).unwrap();
        assert_eq!(r.excerpt.len(), 4);
        assert!(r.excerpt[2].contains("Oops"));
        assert_eq!(r.first_line, "Oops: int3: 0000 [#1] PREEMPT SMP NOPTI");
        let warn = v(&["<4>[   10.5] WARNING: CPU: 0 PID: 1 at mm/asi.c:10 asi_init+0x1"]);
        assert_eq!(
            find_report(&warn).unwrap().first_line,
            "WARNING: CPU: 0 PID: 1 at mm/asi.c:10 asi_init+0x1"
        );
        assert!(find_report(&v(&["[ 3.5] Kernel panic - not syncing: VFS"])).is_some());
        // CONFIG_PRINTK_CALLER adds the caller after the timestamp.
        assert_eq!(
            find_report(&v(&[
                "[   10.5][    T1] BUG: KASAN: wild-memory-access in f+0x1/0x2"
            ]))
            .unwrap()
            .first_line,
            "BUG: KASAN: wild-memory-access in f+0x1/0x2"
        );
    }

    /// A WARN_ON() in 6.12's format (`__warn()`): `cut here`, the
    /// WARNING line with the file and line, then the registers and trace.
    #[test]
    fn a_warning_is_a_report() {
        let r = report_of(
            "[   31.402214] ------------[ cut here ]------------
[   31.402460] WARNING: CPU: 1 PID: 201 at mm/map_exclusive.c:412 mx_pool_put+0x1b4/0x1d0
[   31.403007] Modules linked in:
[   31.403200] CPU: 1 UID: 0 PID: 201 Comm: map_exclusive Not tainted 6.12.107 #1
[   31.403310] Hardware name: QEMU Standard PC (Q35 + ICH9, 2009), BIOS 1.16.2-debian-1.16.2-1 04/01/2014
[   31.403480] RIP: 0010:mx_pool_put+0x1b4/0x1d0
[   31.405120] Call Trace:
[   31.405130]  <TASK>
[   31.405170]  ? __warn+0x89/0x130
[   31.405990]  </TASK>
[   31.406001] ---[ end trace 0000000000000000 ]---
asi-tool: map_exclusive exited 0",
        );
        assert_eq!(
            r.first_line,
            "WARNING: CPU: 1 PID: 201 at mm/map_exclusive.c:412 mx_pool_put+0x1b4/0x1d0"
        );
        assert!(r.excerpt[0].contains("cut here"), "{r:?}");
    }

    /// Generic KASAN (mm/kasan/report.c): a banner, then `BUG: KASAN:`.
    #[test]
    fn a_kasan_report_is_a_report() {
        let r = report_of(
            "[   20.101010] ==================================================================
[   20.101234] BUG: KASAN: slab-use-after-free in asi_domain_put+0x3c/0x90
[   20.101301] Read of size 8 at addr ffff888006b1c418 by task kworker/u8:2/57
[   20.101350] 
[   20.101380] CPU: 0 UID: 0 PID: 57 Comm: kworker/u8:2 Not tainted 6.12.107 #1
[   20.101400] Hardware name: QEMU Standard PC (Q35 + ICH9, 2009), BIOS 1.16.2-debian-1.16.2-1 04/01/2014
[   20.101420] Workqueue: netns cleanup_net
[   20.101440] Call Trace:
[   20.101450]  <TASK>
[   20.101460]  dump_stack_lvl+0x5d/0x80
[   20.101470]  print_report+0xc1/0x610
[   20.101480]  kasan_report+0xaf/0xe0
[   20.101490]  asi_domain_put+0x3c/0x90
[   20.101500]  cleanup_net+0x2c4/0x5c0
[   20.101560]  </TASK>
[   20.101570] 
[   20.101580] Allocated by task 180:
[   20.101700] Freed by task 57:
[   20.101800] The buggy address belongs to the object at ffff888006b1c400
[   20.101801]  which belongs to the cache kmalloc-64 of size 64
[   20.101900] ==================================================================
[   20.101950] Disabling lock debugging due to kernel taint",
        );
        assert_eq!(
            r.first_line,
            "BUG: KASAN: slab-use-after-free in asi_domain_put+0x3c/0x90"
        );
        assert!(r.excerpt[0].ends_with("====="), "the banner is kept: {r:?}");
    }

    /// lockdep (kernel/locking/lockdep.c): an empty line, a `=====`
    /// banner, then `WARNING: ...` or `[ BUG: ... ]`; and the
    /// DEBUG_ATOMIC_SLEEP report (`__might_resched()`).
    #[test]
    fn lockdep_and_atomic_sleep_reports_are_reports() {
        let circular = report_of(
            "[   30.000001] 
[   30.000002] ======================================================
[   30.000003] WARNING: possible circular locking dependency detected
[   30.000004] 6.12.107 #1 Not tainted
[   30.000005] ------------------------------------------------------
[   30.000006] ip/201 is trying to acquire lock:
[   30.000007] ffffffff83b1c2a8 (rtnl_mutex){+.+.}-{4:4}, at: rtnl_lock+0x15/0x20
[   30.000008] 
[   30.000009] but task is already holding lock:
[   30.000010] ffff888004a3e0d8 (&dom->lock){+.+.}-{3:3}, at: asi_domain_bind+0x4e/0x1a0
[   30.000012] 
[   30.000013] which lock already depends on the new lock.",
        );
        assert_eq!(
            circular.first_line,
            "WARNING: possible circular locking dependency detected"
        );
        assert!(circular.excerpt[1].contains("======"), "{circular:?}");
        let rcu = report_of(
            "[   31.100000] 
[   31.100001] =============================
[   31.100002] WARNING: suspicious RCU usage
[   31.100003] 6.12.107 #1 Not tainted
[   31.100004] -----------------------------
[   31.100005] net/core/net_namespace.c:341 suspicious rcu_dereference_check() usage!
[   31.100006] 
[   31.100007] other info that might help us debug this:",
        );
        assert_eq!(rcu.first_line, "WARNING: suspicious RCU usage");
        let irq = report_of(
            "[   33.000000] 
[   33.000001] ================================
[   33.000002] WARNING: inconsistent lock state
[   33.000003] 6.12.107 #1 Not tainted
[   33.000004] --------------------------------
[   33.000005] inconsistent {SOFTIRQ-ON-W} -> {IN-SOFTIRQ-W} usage.
[   33.000006] swapper/1/0 [HC0[0]:SC1[1]:HE1:SE0] takes:",
        );
        assert_eq!(irq.first_line, "WARNING: inconsistent lock state");
        let wait = report_of(
            "[   34.000000] 
[   34.000001] =============================
[   34.000002] [ BUG: Invalid wait context ]
[   34.000003] 6.12.107 #1 Not tainted
[   34.000004] -----------------------------
[   34.000005] swapper/0/1 is trying to lock:",
        );
        assert_eq!(wait.first_line, "[ BUG: Invalid wait context ]");
        let sleep = report_of(
            "[   32.000000] BUG: sleeping function called from invalid context at include/linux/sched/mm.h:321
[   32.000001] in_atomic(): 1, irqs_disabled(): 0, non_block: 0, pid: 190, name: map_exclusive
[   32.000002] preempt_count: 1, expected: 0
[   32.000003] RCU nest depth: 0, expected: 0
[   32.000004] 1 lock held by map_exclusive/190:
[   32.000005]  #0: ffff888004a3e0d8 (&pool->lock){+.+.}-{3:3}, at: mx_pool_get+0x2a/0x120
[   32.000006] Preemption disabled at:
[   32.000007] [<ffffffff81234567>] mx_pool_get+0x2a/0x120
[   32.000008] CPU: 0 UID: 0 PID: 190 Comm: map_exclusive Not tainted 6.12.107 #1
[   32.000010] Call Trace:",
        );
        assert_eq!(
            sleep.first_line,
            "BUG: sleeping function called from invalid context at include/linux/sched/mm.h:321"
        );
    }

    /// UBSAN (lib/ubsan.c): `cut here`, then `UBSAN: <kind> in <file>`.
    /// Before the marker existed, only the dump_stack()'s `Call Trace:`
    /// four lines later was found, and the UBSAN line fell out of the excerpt.
    #[test]
    fn a_ubsan_report_is_a_report() {
        let r = report_of(
            "[   40.000000] ------------[ cut here ]------------
[   40.000001] UBSAN: array-index-out-of-bounds in mm/map_exclusive.c:233:18
[   40.000002] index 8 is out of range for type 'struct mx_slot [8]'
[   40.000003] CPU: 1 UID: 0 PID: 1 Comm: swapper/0 Not tainted 6.12.107 #1
[   40.000004] Hardware name: QEMU Standard PC (Q35 + ICH9, 2009), BIOS 1.16.2-debian-1.16.2-1 04/01/2014
[   40.000005] Call Trace:
[   40.000006]  <TASK>
[   40.000007]  dump_stack_lvl+0x5d/0x80
[   40.000008]  __ubsan_handle_out_of_bounds+0xa5/0xe0
[   40.000009]  </TASK>
[   40.000010] ---[ end trace ]---",
        );
        assert_eq!(
            r.first_line,
            "UBSAN: array-index-out-of-bounds in mm/map_exclusive.c:233:18"
        );
    }

    /// KFENCE (mm/kfence/report.c): a banner, `BUG: KFENCE:` and its own
    /// stack (no `Call Trace:`).
    #[test]
    fn a_kfence_report_is_a_report() {
        let r = report_of(
            "[   50.000000] ==================================================================
[   50.000001] BUG: KFENCE: use-after-free read in asi_domain_put+0x3c/0x90
[   50.000002] 
[   50.000003] Use-after-free read at 0x00000000a3c5e9f1 (in kfence-#12):
[   50.000004]  asi_domain_put+0x3c/0x90
[   50.000005]  cleanup_net+0x2c4/0x5c0
[   50.000006] 
[   50.000007] kfence-#12: 0x00000000e5d1a0b2-0x000000007a8d4c3e, size=64, cache=kmalloc-64
[   50.000008] 
[   50.000009] allocated by task 180 on cpu 1 at 19.874512s (0.226488s ago):
[   50.000010] CPU: 0 UID: 0 PID: 57 Comm: kworker/u8:2 Not tainted 6.12.107 #1
[   50.000011] ==================================================================",
        );
        assert_eq!(
            r.first_line,
            "BUG: KFENCE: use-after-free read in asi_domain_put+0x3c/0x90"
        );
    }

    /// A crash-dump boot: the deliberate sysrq panic and its stack dump
    /// are passed over once the capture kernel boots; a report before the
    /// panic or in the capture kernel is still one; with no capture kernel
    /// after it, the panic is the report.
    #[test]
    fn a_deliberate_crash_into_a_capture_kernel_is_not_a_report() {
        let first = "[    0.000000] Linux version 6.12.107 (root@vm) #1 SMP
[    9.000000] Run /usr/lib/virtme/virtme-ng-init as init process
# phase 1: kexec -p /b/bzImage (256 MiB reserved for it)";
        let crash = "[   23.384544] sysrq: Trigger a crash
[   23.384870] Kernel panic - not syncing: sysrq triggered crash
[   23.385463] CPU: 0 UID: 0 PID: 121 Comm: map_exclusive_k Kdump: loaded
[   23.385922] Call Trace:
[   23.386513]  <TASK>
[   23.386715]  panic+0x326/0x380
[   23.387102]  sysrq_handle_crash+0x15/0x20
[   23.390590]  </TASK>
early console in extract_kernel
Decompressing Linux... Parsing ELF... Performing relocations... done.";
        let capture = "[    0.000000] Linux version 6.12.107 (root@vm) #1 SMP
[    0.000000] Command line: nr_cpus=1 maxcpus=1 irqpoll reset_devices
[    8.000000] Run /usr/lib/virtme/virtme-ng-init as init process";
        let warn = "[   20.000000] WARNING: CPU: 0 PID: 1 at mm/x.c:12 f+0x1/0x2";
        let lines = |parts: &[&str]| -> Vec<String> {
            parts.join("\n").lines().map(str::to_string).collect()
        };
        let clean = lines(&[first, crash, capture]);
        assert_eq!(find_report_around_crash_dump(&clean), None);
        // The ordinary scan calls the same console a panic.
        assert_eq!(
            find_report(&clean).unwrap().first_line,
            "Kernel panic - not syncing: sysrq triggered crash"
        );
        let before = lines(&[first, warn, crash, capture]);
        let after = lines(&[first, crash, capture, warn]);
        for console in [before, after] {
            assert_eq!(
                find_report_around_crash_dump(&console).unwrap().first_line,
                "WARNING: CPU: 0 PID: 1 at mm/x.c:12 f+0x1/0x2"
            );
        }
        let no_capture = lines(&[first, crash]);
        assert_eq!(
            find_report_around_crash_dump(&no_capture)
                .unwrap()
                .first_line,
            "Kernel panic - not syncing: sysrq triggered crash"
        );
        let other_panic = lines(&[
            first,
            "[   23.384870] Kernel panic - not syncing: Fatal exception",
            capture,
        ]);
        assert_eq!(
            find_report_around_crash_dump(&other_panic)
                .unwrap()
                .first_line,
            "Kernel panic - not syncing: Fatal exception"
        );
    }

    /// BUG_ON() (lib/bug.c, then x86 die()): the `kernel BUG at` line
    /// names the report, not the `Oops: invalid opcode` after it.
    #[test]
    fn a_kernel_bug_is_a_report() {
        let r = report_of(
            "[   60.000000] page: refcount:0 mapcount:0 mapping:0000000000000000 index:0x0 pfn:0x1a2b3
[   60.000001] page dumped because: VM_BUG_ON_PAGE(page_ref_count(page) == 0)
[   60.000002] ------------[ cut here ]------------
[   60.000003] kernel BUG at include/linux/mm.h:1508!
[   60.000004] Oops: invalid opcode: 0000 [#1] PREEMPT SMP KASAN NOPTI
[   60.000005] CPU: 1 UID: 0 PID: 190 Comm: map_exclusive Not tainted 6.12.107 #1
[   60.000006] RIP: 0010:mx_pool_free+0x1f2/0x200",
        );
        assert_eq!(r.first_line, "kernel BUG at include/linux/mm.h:1508!");
        assert!(r.excerpt[0].contains("page dumped because"), "{r:?}");
    }

    /// A bare stack dump is named by the `INFO:` line before it (a hung
    /// task, an RCU stall), else it is just `Call Trace:`.
    #[test]
    fn a_bare_stack_dump_is_named_by_its_info_line() {
        let hung = report_of(
            "[  245.000000] INFO: task netns_churn:311 blocked for more than 122 seconds.
[  245.000001]       Not tainted 6.12.107 #1
[  245.000002] \"echo 0 > /proc/sys/kernel/hung_task_timeout_secs\" disables this message.
[  245.000003] task:netns_churn     state:D stack:0     pid:311   tgid:311   ppid:1      flags:0x00004002
[  245.000004] Call Trace:
[  245.000005]  <TASK>
[  245.000006]  __schedule+0x3c4/0xd50",
        );
        assert_eq!(
            hung.first_line,
            "INFO: task netns_churn:311 blocked for more than 122 seconds."
        );
        let bare = report_of("[    5.0] something\n[    5.1] Call Trace:\n[    5.2]  <TASK>");
        assert_eq!(bare.first_line, "Call Trace:");
    }

    /// What only looks like a report is not one: the command's own output
    /// (no printk timestamp, even when a test prints a kernel-looking
    /// line with its own prefix), and kernel lines that mention a marker
    /// without starting with it.
    #[test]
    fn lines_that_only_look_like_reports_are_not() {
        no_report(
            "asi-tool: running map_exclusive
WARNING: this is the test's own output
# BUG: KASAN: not expected here (a test's comment)
BUG: sleeping function called from invalid context (printed by a test, no timestamp)
ok 1 UBSAN: none
kernel BUG at nowhere (echoed by a script)
asi-tool: map_exclusive exited 0",
        );
        no_report(
            "[    0.123456] RETBleed: WARNING: Spectre v2 mitigation leaves CPU vulnerable to RETBleed attacks, data leaks possible!
[    0.200000] Spectre V2 : WARNING: Unprivileged eBPF is enabled with eIBRS on, data leaks possible via Spectre v2 BHB attacks!
[    1.000000] kasan: KernelAddressSanitizer initialized (generic)
[    1.100000] kfence: initialized - using 2097152 bytes for 255 objects at 0x(____ptrval____)-0x(____ptrval____)
[    1.200000] Lock dependency validator: Copyright (c) 2006 Red Hat, Inc., Ingo Molnar
[    1.300000] virtme-ng-init: no WARNING: here, mid-line
[    2.000000] Run /usr/lib/virtme-ng-init as init process",
        );
    }

    /// The TCG text-patching flake as a 7.2.13 boot printed it (run
    /// 20261207-202416, console-0-try1.log): found as a report, named by
    /// its Oops line, and taken for the known emulator flake.
    #[test]
    fn the_int3_flake_is_a_report_and_a_known_flake() {
        let r = report_of(
            "[    1.605591] sched_clock: Marking stable (1624227711, -19393234)->(1708461274, -103626797)
[    1.609496] Oops: int3: 0000 [#1] SMP NOPTI
[    1.610243] CPU: 1 UID: 0 PID: 1 Comm: swapper/0 Not tainted 7.2.13 #9 PREEMPT(lazy)  
[    1.610442] Hardware name: QEMU Standard PC (Q35 + ICH9, 2009), BIOS 1.16.2-debian-1.16.2-1 04/01/2014
[    1.610610] RIP: 0010:sched_clock_cpu+0x9/0x190
[    1.611914] Call Trace:
[    1.612836]  <IRQ>
[    1.613111]  update_rq_clock+0x30/0x100
[    1.615814] Kernel panic - not syncing: Fatal exception in interrupt",
        );
        assert_eq!(r.first_line, "Oops: int3: 0000 [#1] SMP NOPTI");
        assert!(is_infra_flake(&r.excerpt));
        assert_eq!(
            flake_line(&r.excerpt),
            Some("[    1.609496] Oops: int3: 0000 [#1] SMP NOPTI")
        );
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
        assert!(find_report(&oom).is_none());
        let mut later = oom.clone();
        later.extend(v(&[
            "[   30.0] x",
            "[   30.1] Call Trace:",
            "[   30.1]  <TASK>",
        ]));
        let r = find_report(&later).unwrap();
        assert!(r.excerpt[2].contains("[   30.1] Call Trace:"), "{r:?}");
        // A trace far from any OOM header is trouble even after one.
        let mut far = oom.clone();
        far.extend(v(&["[ 40.0] WARNING: CPU: 1 PID: 9 at mm/x.c:1 f+0x1"]));
        assert!(find_report(&far).unwrap().excerpt[2].contains("WARNING"));
    }

    #[test]
    fn vng_line() {
        let opts = VmOptions {
            append: vec!["asi=on".into()],
            cpus: 2,
            memory: "2G".into(),
            numa_nodes: None,
            crash_dump: false,
            timeout: Duration::from_secs(5),
            accel: Accel::Tcg,
            rwdirs: vec![PathBuf::from("/r")],
            echo: false,
        };
        let line = vng_command(Path::new("/b/bzImage"), &["/bin/true".into()], &opts)
            .unwrap()
            .command_line();
        assert_eq!(
            line,
            "vng --run /b/bzImage --verbose --cpus 2 --memory 2G --disable-kvm --force-9p --append 'printk.time=1 asi=on' --rwdir=/r -- /bin/true"
        );
        let numa = VmOptions {
            numa_nodes: Some(2),
            ..opts.clone()
        };
        let line = vng_command(Path::new("/b/bzImage"), &["/bin/true".into()], &numa)
            .unwrap()
            .command_line();
        assert_eq!(
            line,
            "vng --run /b/bzImage --verbose --cpus 2,sockets=2,cores=1,threads=1 --numa 1024M,cpus=0 --numa 1024M,cpus=1 --memory 2G --disable-kvm --force-9p --append 'printk.time=1 asi=on' --rwdir=/r -- /bin/true"
        );
        let uneven = VmOptions {
            memory: "1025M".into(),
            ..numa
        };
        let Err(e) = vng_command(Path::new("/b/bzImage"), &[], &uneven) else {
            panic!("1025M split into 2 nodes");
        };
        assert!(format!("{e}").contains("does not split evenly"), "{e}");
        assert_eq!(crate::error::exit_code_of(&e), crate::error::Exit::Usage);
    }

    #[test]
    fn guest_memory_in_mib() {
        assert_eq!(memory_mib("2G"), Ok(2048));
        assert_eq!(memory_mib("1536M"), Ok(1536));
        assert_eq!(memory_mib("1536"), Ok(1536)); // vng reads a bare number as MiB
        assert_eq!(memory_mib("2097152K"), Ok(2048));
        assert!(memory_mib("1000K")
            .unwrap_err()
            .contains("whole number of MiB"));
        for bad in [
            "",
            "G",
            "2g",
            "2T",
            "1.5G",
            "-2G",
            "2 G",
            "2GB",
            "99999999999999999999G",
        ] {
            let e = memory_mib(bad).unwrap_err();
            assert!(e.contains("vng's syntax"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn numa_layouts() {
        let args = |cpus, memory, nodes| numa_args(cpus, memory, nodes).unwrap().join(" ");
        assert_eq!(
            args(2, "2G", 2),
            "--cpus 2,sockets=2,cores=1,threads=1 --numa 1024M,cpus=0 --numa 1024M,cpus=1"
        );
        // A node's vCPUs are one socket when they divide evenly.
        assert_eq!(
            args(4, "2G", 2),
            "--cpus 4,sockets=2,cores=2,threads=1 --numa 1024M,cpus=0-1 --numa 1024M,cpus=2-3"
        );
        // Otherwise every vCPU is a socket, and the first nodes get the odd ones.
        assert_eq!(
            args(5, "3G", 3),
            "--cpus 5,sockets=5,cores=1,threads=1 \
             --numa 1024M,cpus=0-1 --numa 1024M,cpus=2-3 --numa 1024M,cpus=4"
        );
        // Fewer vCPUs than nodes: the last nodes have memory only.
        assert_eq!(
            args(1, "2G", 2),
            "--cpus 1,sockets=1,cores=1,threads=1 --numa 1024M,cpus=0 --numa 1024M"
        );
        assert_eq!(
            args(2, "1536M", 3),
            "--cpus 2,sockets=2,cores=1,threads=1 --numa 512M,cpus=0 --numa 512M,cpus=1 --numa 512M"
        );
        assert_eq!(
            args(2, "2G", 1),
            "--cpus 2,sockets=1,cores=2,threads=1 --numa 2048M,cpus=0-1"
        );
        // Every vCPU is in exactly one node, and no socket spans two nodes.
        for cpus in 1..=9 {
            for nodes in 2..=8 {
                // 840 MiB splits into any node count from 2 to 8.
                let a = numa_args(cpus, "840M", nodes).unwrap();
                assert_eq!(a.len(), 2 + 2 * nodes as usize);
                let smp: Vec<u32> = a[1]
                    .split(',')
                    .map(|w| w.rsplit('=').next().unwrap().parse().unwrap())
                    .collect();
                let (sockets, cores) = (smp[1], smp[2]);
                assert_eq!((smp[0], sockets * cores), (cpus, cpus), "{a:?}");
                let mut seen = vec![];
                for node in a[3..].iter().step_by(2) {
                    assert!(node.starts_with(&format!("{}M", 840 / nodes)), "{a:?}");
                    if let Some((_, r)) = node.split_once(",cpus=") {
                        let (lo, hi) = r.split_once('-').unwrap_or((r, r));
                        let (lo, hi): (u32, u32) = (lo.parse().unwrap(), hi.parse().unwrap());
                        // QEMU numbers vCPUs socket by socket.
                        assert_eq!(lo % cores, 0, "{a:?}");
                        assert_eq!((hi + 1) % cores, 0, "{a:?}");
                        seen.extend(lo..=hi);
                    }
                }
                assert_eq!(seen, (0..cpus).collect::<Vec<_>>(), "{a:?}");
            }
        }
        for (cpus, memory, nodes, why) in [
            (2, "1025M", 2, "does not split evenly"),
            (2, "2G", 3, "does not split evenly"),
            (2, "0", 2, "does not split evenly"),
            (2, "2g", 2, "vng's syntax"),
            (2, "2G", 0, "at least one node"),
            (0, "2G", 2, "at least one vCPU"),
        ] {
            let e = numa_args(cpus, memory, nodes).unwrap_err();
            assert!(e.contains(why), "{memory} / {nodes}: {e}");
        }
        assert!(numa_args(2, "2G", 3).unwrap_err().contains("e.g. 2046M"));
    }

    #[test]
    fn missing_image_is_a_clear_error() {
        let d = tempfile::tempdir().unwrap();
        let opts = VmOptions {
            append: vec![],
            cpus: 1,
            memory: "1G".into(),
            numa_nodes: None,
            crash_dump: false,
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
                report: "Oops: int3: 0000 [#1] PREEMPT SMP NOPTI".into(),
                excerpt: int3.clone(),
                exit: Some(255),
                timed_out: false,
            },
            true
        ))
        .unwrap()
        .contains("Oops: int3"));
        // Also when the guest hung after it.
        assert!(infra_failure(&boot(
            Outcome::Panicked {
                report: "Oops: int3: 0000 [#1] PREEMPT SMP NOPTI".into(),
                excerpt: int3.clone(),
                exit: None,
                timed_out: true,
            },
            true
        ))
        .is_some());
        assert_eq!(
            infra_failure(&boot(
                Outcome::Panicked {
                    report: "BUG: unable to handle page fault for address: fffffe8006000008".into(),
                    excerpt: ours.clone(),
                    exit: Some(255),
                    timed_out: false,
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
