//! Every external command (git, make, merge_config.sh, checkpatch.pl, vng,
//! gcc) runs through this module, which logs the exact command line so any
//! failure can be reproduced by hand.
//!
//! Short commands go through `xshell` ([`run`], [`read`], [`output`]); long
//! ones whose output must be streamed line by line into a log and a
//! progress bar, under a wall-clock timeout, go through [`Stream`].

use anyhow::{Context, Result};
use std::ffi::OsString;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

static VERBOSE: AtomicBool = AtomicBool::new(false);
static COMMAND_LOG: Mutex<Option<File>> = Mutex::new(None);

/// Print every command to stderr before it runs (`asi-tool -v`).
pub fn set_verbose(on: bool) {
    VERBOSE.store(on, Ordering::Relaxed);
}

/// Also append every command line to `path` (a run's `commands.log`).
pub fn log_commands_to(path: &Path) -> Result<()> {
    let file = File::options()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open command log {}", path.display()))?;
    if let Ok(mut slot) = COMMAND_LOG.lock() {
        *slot = Some(file);
    }
    Ok(())
}

fn note(line: &str) {
    if VERBOSE.load(Ordering::Relaxed) {
        eprintln!("$ {line}");
    }
    if let Ok(mut slot) = COMMAND_LOG.lock() {
        if let Some(f) = slot.as_mut() {
            let _ = writeln!(f, "{line}");
        }
    }
}

/// Quote one word for a POSIX shell, only when needed.
pub fn shell_quote(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if safe {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

fn describe(sh: &xshell::Shell, cmd: &xshell::Cmd<'_>) -> String {
    format!(
        "(cd {} && {})",
        shell_quote(&sh.current_dir().to_string_lossy()),
        cmd
    )
}

fn tail(bytes: &[u8], lines: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Runs `cmd` and returns its output whatever its exit status.
pub fn output(sh: &xshell::Shell, cmd: xshell::Cmd<'_>) -> Result<std::process::Output> {
    let line = describe(sh, &cmd);
    note(&line);
    cmd.quiet()
        .ignore_status()
        .output()
        .with_context(|| format!("cannot run {line}: is the program installed? (asi-tool doctor)"))
}

/// Runs `cmd`; a non-zero exit is an error that quotes the command and its stderr.
pub fn run(sh: &xshell::Shell, cmd: xshell::Cmd<'_>) -> Result<()> {
    read(sh, cmd).map(drop)
}

/// Runs `cmd` and returns its stdout, trimmed; a non-zero exit is an error.
pub fn read(sh: &xshell::Shell, cmd: xshell::Cmd<'_>) -> Result<String> {
    let line = describe(sh, &cmd);
    let out = output(sh, cmd)?;
    if !out.status.success() {
        let mut msg = format!("command failed ({}): {line}", out.status);
        for text in [tail(&out.stderr, 20), tail(&out.stdout, 10)] {
            if !text.trim().is_empty() {
                msg.push('\n');
                msg.push_str(&text);
            }
        }
        anyhow::bail!(msg);
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Which pipe a streamed line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pipe {
    Stdout,
    Stderr,
}

/// How a streamed command ended.
#[derive(Debug)]
pub enum Ended {
    Exited(ExitStatus),
    TimedOut(Duration),
}

/// A long-running command whose stdout and stderr are merged into a log file
/// and handed line by line to a callback.
pub struct Stream {
    program: OsString,
    args: Vec<OsString>,
    dir: Option<PathBuf>,
    envs: Vec<(OsString, OsString)>,
    timeout: Option<Duration>,
}

impl Stream {
    pub fn new(program: impl Into<OsString>) -> Self {
        Stream {
            program: program.into(),
            args: Vec::new(),
            dir: None,
            envs: Vec::new(),
            timeout: None,
        }
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = Some(dir.into());
        self
    }

    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.envs.push((key.into(), value.into()));
        self
    }

    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = Some(limit);
        self
    }

    /// The command as a line one can paste into a shell.
    pub fn command_line(&self) -> String {
        let mut words = Vec::new();
        if let Some(dir) = &self.dir {
            words.push(format!("cd {} &&", shell_quote(&dir.to_string_lossy())));
        }
        for (k, v) in &self.envs {
            words.push(format!(
                "{}={}",
                k.to_string_lossy(),
                shell_quote(&v.to_string_lossy())
            ));
        }
        words.push(shell_quote(&self.program.to_string_lossy()));
        words.extend(self.args.iter().map(|a| shell_quote(&a.to_string_lossy())));
        words.join(" ")
    }

    /// Runs the command, writing every output line to `log` and to `on_line`.
    /// On timeout the whole process group is killed.
    pub fn run(&self, log: &Path, mut on_line: impl FnMut(Pipe, &str)) -> Result<Ended> {
        let line = self.command_line();
        note(&line);
        let mut log_file =
            File::create(log).with_context(|| format!("cannot create log {}", log.display()))?;
        writeln!(log_file, "$ {line}")?;
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(dir) = &self.dir {
            command.current_dir(dir);
        }
        for (k, v) in &self.envs {
            command.env(k, v);
        }
        let mut child = command.spawn().with_context(|| {
            format!("cannot start {line}: is the program installed? (asi-tool doctor)")
        })?;
        let (tx, rx) = mpsc::channel::<(Pipe, String)>();
        let mut readers = Vec::new();
        if let Some(out) = child.stdout.take() {
            readers.push(spawn_reader(out, Pipe::Stdout, tx.clone()));
        }
        if let Some(err) = child.stderr.take() {
            readers.push(spawn_reader(err, Pipe::Stderr, tx.clone()));
        }
        drop(tx);
        let start = Instant::now();
        let ended = loop {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok((pipe, text)) => {
                    writeln!(log_file, "{text}")?;
                    on_line(pipe, &text);
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    break Ended::Exited(child.wait()?);
                }
            }
            if let Some(limit) = self.timeout {
                if start.elapsed() > limit {
                    kill_tree(&mut child);
                    break Ended::TimedOut(limit);
                }
            }
        };
        // Drain what the readers still hold (after a kill, the pipes close).
        for (pipe, text) in rx.try_iter() {
            writeln!(log_file, "{text}")?;
            on_line(pipe, &text);
        }
        for reader in readers {
            let _ = reader.join();
        }
        if let Ended::TimedOut(limit) = &ended {
            writeln!(log_file, "asi-tool: killed after {}s", limit.as_secs())?;
        }
        Ok(ended)
    }
}

fn spawn_reader<R: std::io::Read + Send + 'static>(
    source: R,
    pipe: Pipe,
    tx: mpsc::Sender<(Pipe, String)>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(source);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let text = String::from_utf8_lossy(&buf);
                    let text = text.trim_end_matches(['\n', '\r']).to_string();
                    if tx.send((pipe, text)).is_err() {
                        break;
                    }
                }
            }
        }
    })
}

/// Kills the child and all its descendants (vng's qemu, make's compilers).
/// The child stays in asi-tool's process group so that Ctrl-C reaches it
/// directly (make then stops cleanly and a re-run resumes); on a timeout the
/// tree is found through /proc.
fn kill_tree(child: &mut std::process::Child) {
    // Freeze the whole tree first, then kill it: killed one by one, a parent
    // could react to a dead child (run its next command) before its turn.
    let mut pids = vec![child.id()];
    pids.extend(descendants(child.id()));
    let pids: Vec<String> = pids.iter().map(u32::to_string).collect();
    for signal in ["-STOP", "-KILL"] {
        let _ = Command::new("kill").arg(signal).args(&pids).status();
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Descendants of `root`, parents before children, from /proc/*/stat.
fn descendants(root: u32) -> Vec<u32> {
    let mut parent_of = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for e in entries.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            // "pid (comm) state ppid ...": comm may contain spaces; split after ')'.
            let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
                continue;
            };
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            if let Some(ppid) = ppid {
                parent_of.push((pid, ppid));
            }
        }
    }
    let mut out = Vec::new();
    let mut frontier = vec![root];
    while let Some(p) = frontier.pop() {
        for (pid, _) in parent_of.iter().filter(|(_, pp)| *pp == p) {
            out.push(*pid);
            frontier.push(*pid);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("git"), "git");
        assert_eq!(shell_quote("CC=ccache gcc"), "'CC=ccache gcc'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn stream_collects_lines_and_status() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let mut seen = Vec::new();
        let ended = Stream::new("sh")
            .args(["-c", "echo one; echo two >&2; exit 3"])
            .run(&log, |_, l| seen.push(l.to_string()))
            .unwrap();
        match ended {
            Ended::Exited(st) => assert_eq!(st.code(), Some(3)),
            other => panic!("unexpected {other:?}"),
        }
        seen.sort();
        assert_eq!(seen, vec!["one", "two"]);
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(text.starts_with("$ sh -c"));
    }

    #[test]
    fn stream_times_out_and_kills_grandchildren() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("grandchild-survived");
        let script = format!("(sleep 2; touch {}) & sleep 30", marker.display());
        let start = Instant::now();
        let ended = Stream::new("sh")
            .args(["-c", &script])
            .timeout(Duration::from_millis(500))
            .run(&dir.path().join("log"), |_, _| {})
            .unwrap();
        assert!(matches!(ended, Ended::TimedOut(_)));
        assert!(start.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_secs(3));
        assert!(!marker.exists(), "a grandchild outlived the timeout");
    }

    #[test]
    fn read_reports_failing_command() {
        let sh = xshell::Shell::new().unwrap();
        let err = read(&sh, xshell::cmd!(sh, "sh -c 'echo boom >&2; exit 1'")).unwrap_err();
        let msg = format!("{err}");
        assert!(msg.contains("boom"), "{msg}");
        assert!(msg.contains("sh -c"), "{msg}");
    }
}
