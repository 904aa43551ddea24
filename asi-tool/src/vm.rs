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
    /// A NUMA guest of this many nodes (see [`numa_args`]); `None`: no NUMA.
    pub numa_nodes: Option<u32>,
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
        numa_nodes: None,
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
            numa_nodes: None,
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
