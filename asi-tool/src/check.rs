//! `asi-tool check`: the queue's integrity, the kernel's checkpatch.pl on
//! every patch, and optionally a build after each patch (bisectability).

use crate::cmd;
use crate::queue::{self, Scan};
use anyhow::Result;
use std::path::Path;
use xshell::{cmd, Shell};

/// checkpatch.pl's verdict on one patch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checkpatch {
    pub errors: u32,
    pub warnings: u32,
    pub checks: u32,
    /// Each finding, with its location.
    pub lines: Vec<String>,
}

/// Reads checkpatch's default output: `LEVEL:TYPE: message` lines, each
/// followed by a `#N: FILE:LINE:` location line, and the `total: 1 errors,
/// 2 warnings, 3 checks, 40 lines checked` summary.
pub fn parse_checkpatch(output: &str) -> Checkpatch {
    let mut c = Checkpatch::default();
    let mut lines = output.lines().peekable();
    while let Some(line) = lines.next() {
        let l = line.trim();
        if l.starts_with("ERROR:") || l.starts_with("WARNING:") || l.starts_with("CHECK:") {
            let place = lines
                .peek()
                .filter(|n| n.starts_with('#'))
                .map(|n| format!(" ({})", n.trim().trim_end_matches(':')))
                .unwrap_or_default();
            c.lines.push(format!("{l}{place}"));
        } else if let Some(rest) = l.strip_prefix("total:") {
            for part in rest.split(',') {
                let mut w = part.split_whitespace();
                let n: u32 = w.next().and_then(|n| n.parse().ok()).unwrap_or(0);
                match w.next() {
                    Some(k) if k.starts_with("error") => c.errors = n,
                    Some(k) if k.starts_with("warning") => c.warnings = n,
                    Some(k) if k.starts_with("check") => c.checks = n,
                    _ => {}
                }
            }
        }
    }
    c
}

/// Runs the tree's checkpatch.pl on one patch file.
pub fn checkpatch(tree: &Path, patch: &Path, strict: bool) -> Result<Checkpatch> {
    let script = tree.join("scripts/checkpatch.pl");
    if !script.is_file() {
        anyhow::bail!(
            "{} does not exist: is {} a kernel tree?",
            script.display(),
            tree.display()
        );
    }
    let sh = Shell::new()?;
    sh.change_dir(tree);
    // checkpatch runs scripts/spdxcheck.py with the first python3 on PATH;
    // it needs the ply and git modules, which Debian's python3-ply and
    // python3-git give /usr/bin/python3 (not a pyenv or venv python).
    let path = format!("/usr/bin:{}", std::env::var("PATH").unwrap_or_default());
    sh.set_var("PATH", path);
    let strict_flag: Vec<&str> = if strict { vec!["--strict"] } else { vec![] };
    let out = cmd::output(
        &sh,
        cmd!(
            sh,
            "perl {script} --show-types --no-color {strict_flag...} {patch}"
        ),
    )?;
    let text = String::from_utf8_lossy(&out.stdout);
    let c = parse_checkpatch(&text);
    if !text.contains("total:") {
        anyhow::bail!(
            "checkpatch.pl gave no verdict on {} (exit {}): {}",
            patch.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(c)
}

/// The checkpatch warning types a patch's commit message explains, one
/// line each in the form `checkpatch: TYPE: why` (the kernel's rule: a
/// patch passes checkpatch, or its message says why not). Errors cannot be
/// explained away.
pub fn explained_types(patch_text: &str) -> Vec<String> {
    let message = patch_text.split("\n---\n").next().unwrap_or("");
    message
        .lines()
        .filter_map(|l| l.trim().strip_prefix("checkpatch: "))
        .filter_map(|rest| rest.split_once(':'))
        .map(|(t, _)| t.trim())
        .filter(|t| !t.is_empty() && t.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        .map(str::to_string)
        .collect()
}

/// The type of a `WARNING:TYPE: message` finding.
fn warning_type(line: &str) -> Option<&str> {
    line.strip_prefix("WARNING:")?.split(':').next()
}

/// One row of the report.
#[derive(Debug, Clone)]
pub struct Row {
    pub name: String,
    pub signed_off: bool,
    pub checkpatch: Option<Checkpatch>,
    /// Warning types the commit message explains (`checkpatch: TYPE: why`).
    pub explained: Vec<String>,
    pub build: Option<std::result::Result<f64, String>>,
}

impl Row {
    /// Warnings that the commit message does not explain.
    fn unexplained_warnings(&self, c: &Checkpatch) -> usize {
        let explained = c
            .lines
            .iter()
            .filter_map(|l| warning_type(l))
            .filter(|t| self.explained.iter().any(|e| e == t))
            .count();
        (c.warnings as usize).saturating_sub(explained)
    }

    pub fn clean(&self) -> bool {
        self.signed_off
            && self
                .checkpatch
                .as_ref()
                .is_none_or(|c| c.errors == 0 && self.unexplained_warnings(c) == 0)
            && !matches!(self.build, Some(Err(_)))
    }

    fn verdict(&self) -> String {
        if !self.clean() {
            return "NOT CLEAN".into();
        }
        match &self.checkpatch {
            Some(c) if c.warnings > 0 => format!("clean ({} explained)", c.warnings),
            _ => "clean".into(),
        }
    }
}

/// The per-patch table.
pub fn table(scan: &Scan, rows: &[Row]) -> String {
    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(5).max(5);
    let mut out = format!(
        "{:<width$}  {:>3} {:>4} {:>5}  {:<3}  {:<10}  RESULT\n",
        "PATCH", "ERR", "WARN", "CHECK", "SOB", "BUILD"
    );
    for r in rows {
        let (e, w, c) = r
            .checkpatch
            .as_ref()
            .map(|c| {
                (
                    c.errors.to_string(),
                    c.warnings.to_string(),
                    c.checks.to_string(),
                )
            })
            .unwrap_or(("-".into(), "-".into(), "-".into()));
        let build = match &r.build {
            None => "-".to_string(),
            Some(Ok(s)) => format!("ok {s:.0}s"),
            Some(Err(_)) => "FAILED".to_string(),
        };
        out.push_str(&format!(
            "{:<width$}  {:>3} {:>4} {:>5}  {:<3}  {:<10}  {}\n",
            r.name,
            e,
            w,
            c,
            if r.signed_off { "yes" } else { "NO" },
            build,
            r.verdict()
        ));
        if let Some(c) = &r.checkpatch {
            for l in &c.lines {
                out.push_str(&format!("    {l}\n"));
            }
        }
        if let Some(Err(why)) = &r.build {
            for l in why.lines().take(12) {
                out.push_str(&format!("    {l}\n"));
            }
        }
    }
    for p in &scan.problems {
        out.push_str(&format!("{p}\n"));
    }
    out
}

/// Rows for every patch of a scan (checkpatch filled in by the caller).
pub fn rows(scan: &Scan) -> Vec<Row> {
    scan.patches
        .iter()
        .map(|p| Row {
            name: p.name.clone(),
            signed_off: !p.signed_off_by.is_empty(),
            checkpatch: None,
            explained: std::fs::read_to_string(&p.path)
                .map(|t| explained_types(&t))
                .unwrap_or_default(),
            build: None,
        })
        .collect()
}

/// Whether the whole check passed.
pub fn passed(scan: &Scan, rows: &[Row]) -> bool {
    scan.problems.is_empty() && rows.iter().all(Row::clean)
}

pub use queue::scan;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_messages_explain_warnings() {
        let patch =
            "Subject: [PATCH] x\n\nWhy.\n\ncheckpatch: FILE_PATH_CHANGES: covered by F: dir/\n\
checkpatch: lower: not a type\n\
Signed-off-by: A <a@b>\n---\n+checkpatch: LONG_LINE: in the diff, not the message\n";
        assert_eq!(explained_types(patch), vec!["FILE_PATH_CHANGES"]);
        let c = parse_checkpatch(
            "WARNING:FILE_PATH_CHANGES: added, moved or deleted file(s)\n#9:\n\
total: 0 errors, 1 warnings, 0 checks, 9 lines checked\n",
        );
        let mut r = Row {
            name: "p".into(),
            signed_off: true,
            checkpatch: Some(c.clone()),
            explained: vec![],
            build: None,
        };
        assert!(!r.clean(), "an unexplained warning fails");
        r.explained = explained_types(patch);
        assert!(r.clean());
        assert_eq!(r.verdict(), "clean (1 explained)");
        let mut e = c;
        e.errors = 1;
        r.checkpatch = Some(e);
        assert!(!r.clean(), "errors cannot be explained away");
    }

    #[test]
    fn reads_checkpatch_totals() {
        let out = "WARNING:LONG_LINE: line length of 120 exceeds 100 columns\n\
#58: FILE: mm/asi.c:30:\n\
+\tpr_info(\"...\");\n\
\n\
ERROR:CODE_INDENT: code indent should use tabs where possible\n\
#70: FILE: mm/asi.c:42:\n\
\n\
total: 1 errors, 1 warnings, 0 checks, 42 lines checked\n";
        let c = parse_checkpatch(out);
        assert_eq!((c.errors, c.warnings, c.checks), (1, 1, 0));
        assert_eq!(
            c.lines,
            vec![
                "WARNING:LONG_LINE: line length of 120 exceeds 100 columns (#58: FILE: mm/asi.c:30)",
                "ERROR:CODE_INDENT: code indent should use tabs where possible (#70: FILE: mm/asi.c:42)"
            ]
        );
        let clean = parse_checkpatch("total: 0 errors, 0 warnings, 80 lines checked\n");
        assert_eq!(clean, Checkpatch::default());
    }

    #[test]
    fn rows_judge_cleanliness() {
        let mut r = Row {
            name: "p".into(),
            signed_off: true,
            checkpatch: Some(Checkpatch::default()),
            explained: vec![],
            build: Some(Ok(3.0)),
        };
        assert!(r.clean());
        r.checkpatch = Some(Checkpatch {
            warnings: 1,
            ..Default::default()
        });
        assert!(!r.clean());
        r.checkpatch = Some(Checkpatch {
            checks: 5,
            ..Default::default()
        });
        assert!(r.clean(), "CHECK-level notes alone do not fail");
        r.build = Some(Err("boom".into()));
        assert!(!r.clean());
        r.build = None;
        r.signed_off = false;
        assert!(!r.clean());
    }
}
