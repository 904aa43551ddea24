//! The patch queue: `patches/series` (quilt format) and the `git
//! format-patch` files it names.
//!
//! Reading a queue never fails half-way: [`scan`] collects every problem
//! (missing file, orphan, malformed patch, no Signed-off-by) so `asi-tool
//! check` can show them all; [`Queue::load`] refuses a queue with errors.

use crate::error::{fail, Exit};
use anyhow::{Context, Result};
use regex::Regex;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The cover letter is part of the queue for reviewers but is never applied.
pub const COVER_LETTER: &str = "0000-cover-letter.patch";

/// One patch named by the series.
#[derive(Debug, Clone)]
pub struct Patch {
    /// File name, relative to the queue directory.
    pub name: String,
    pub path: PathBuf,
    /// Subject without the `[PATCH n/m]` prefix.
    pub subject: String,
    pub author: String,
    pub signed_off_by: Vec<String>,
    /// Paths the diff touches (the `b/` side).
    pub files: Vec<String>,
    /// sha256 of the file, hex.
    pub sha256: String,
}

/// A problem found while reading the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Errors block `apply`; warnings only fail `check`.
    pub error: bool,
    pub what: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = if self.error { "error" } else { "warning" };
        write!(f, "{level}: {}", self.what)
    }
}

/// Everything read from a queue directory, problems included.
#[derive(Debug, Clone)]
pub struct Scan {
    pub dir: PathBuf,
    /// Comment and blank lines before the first patch line of `series`.
    pub header: Vec<String>,
    pub patches: Vec<Patch>,
    pub cover_letter: Option<PathBuf>,
    pub problems: Vec<Problem>,
}

/// A queue without errors, ready to apply.
#[derive(Debug, Clone)]
pub struct Queue {
    pub dir: PathBuf,
    pub header: Vec<String>,
    pub patches: Vec<Patch>,
    pub cover_letter: Option<PathBuf>,
}

impl Queue {
    /// Reads `dir/series` and every patch; any error-level problem fails.
    pub fn load(dir: &Path) -> Result<Queue> {
        let scan = scan(dir)?;
        let errors: Vec<String> = scan
            .problems
            .iter()
            .filter(|p| p.error)
            .map(|p| format!("  {}", p.what))
            .collect();
        if !errors.is_empty() {
            return Err(fail(
                Exit::Infra,
                format!(
                    "the patch queue in {} is broken:\n{}\nFix the files (asi-tool check lists every problem).",
                    dir.display(),
                    errors.join("\n")
                ),
            ));
        }
        Ok(Queue {
            dir: scan.dir,
            header: scan.header,
            patches: scan.patches,
            cover_letter: scan.cover_letter,
        })
    }

    /// KCIDB `patchset_hash`: sha256 over the newline-terminated sha256 of
    /// each patch, in series order (`sha256sum $(cat series) | cut -c-64 |
    /// sha256sum`). Empty queue: the empty string.
    pub fn series_hash(&self) -> String {
        series_hash(self.patches.iter().map(|p| p.sha256.as_str()))
    }

    pub fn paths(&self) -> Vec<PathBuf> {
        self.patches.iter().map(|p| p.path.clone()).collect()
    }
}

pub fn series_hash<'a>(hashes: impl IntoIterator<Item = &'a str>) -> String {
    let mut outer = Sha256::new();
    let mut any = false;
    for h in hashes {
        outer.update(h.as_bytes());
        outer.update(b"\n");
        any = true;
    }
    if any {
        hex(&outer.finalize())
    } else {
        String::new()
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One meaningful line of `series`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesLine {
    pub number: usize,
    pub name: String,
    pub strip: u32,
}

/// Parses quilt's series format: one patch per line, `#` comments, an
/// optional `-pN` after the name. Returns the header comment block too.
pub fn parse_series(text: &str) -> (Vec<String>, Vec<SeriesLine>, Vec<Problem>) {
    let mut header = Vec::new();
    let mut lines = Vec::new();
    let mut problems = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let number = i + 1;
        let content = raw.split_once(" #").map_or(raw, |(a, _)| a).trim();
        if content.is_empty() || content.starts_with('#') {
            if lines.is_empty() {
                header.push(raw.to_string());
            }
            continue;
        }
        let mut words = content.split_whitespace();
        let name = words.next().unwrap_or_default().to_string();
        let mut strip = 1;
        for option in words {
            match option
                .strip_prefix("-p")
                .and_then(|n| n.parse::<u32>().ok())
            {
                Some(n) => strip = n,
                None => problems.push(Problem {
                    error: true,
                    what: format!(
                        "series line {number}: unknown option {option:?} (only -pN is understood)"
                    ),
                }),
            }
        }
        if strip != 1 {
            problems.push(Problem {
                error: true,
                what: format!(
                    "series line {number}: {name} uses -p{strip}; git am needs -p1 patches"
                ),
            });
        }
        if name.contains('/') || name == ".." {
            problems.push(Problem {
                error: true,
                what: format!(
                    "series line {number}: {name:?} must be a file name in the queue directory"
                ),
            });
        }
        lines.push(SeriesLine {
            number,
            name,
            strip,
        });
    }
    (header, lines, problems)
}

/// Reads the queue in `dir`, collecting every problem.
pub fn scan(dir: &Path) -> Result<Scan> {
    let series_path = dir.join("series");
    let text = std::fs::read_to_string(&series_path).with_context(|| {
        format!(
            "cannot read {}: is {} a patch queue (a quilt `series` file plus patches)?",
            series_path.display(),
            dir.display()
        )
    })?;
    let (header, lines, mut problems) = parse_series(&text);
    let mut patches = Vec::new();
    let mut named = BTreeSet::new();
    for line in &lines {
        if !named.insert(line.name.clone()) {
            problems.push(Problem {
                error: true,
                what: format!("series line {}: {} is listed twice", line.number, line.name),
            });
            continue;
        }
        if line.name == COVER_LETTER {
            problems.push(Problem {
                error: true,
                what: format!(
                    "series line {}: the cover letter is not a patch; remove it from series",
                    line.number
                ),
            });
            continue;
        }
        let path = dir.join(&line.name);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                problems.push(Problem {
                    error: true,
                    what: format!(
                        "series line {}: {} cannot be read ({e})",
                        line.number, line.name
                    ),
                });
                continue;
            }
        };
        match parse_patch(&line.name, &path, &bytes) {
            Ok(patch) => {
                if patch.signed_off_by.is_empty() {
                    problems.push(Problem {
                        error: false,
                        what: format!("{}: no Signed-off-by line", line.name),
                    });
                }
                patches.push(patch);
            }
            Err(why) => problems.push(Problem {
                error: true,
                what: format!("{}: {why}", line.name),
            }),
        }
    }
    let mut cover_letter = None;
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().to_string();
        if !entry.path().is_file() || !name.ends_with(".patch") {
            continue;
        }
        if name == COVER_LETTER {
            cover_letter = Some(entry.path());
        } else if !named.contains(&name) {
            problems.push(Problem {
                error: false,
                what: format!("{name} is not listed in series (orphan patch: add it or delete it)"),
            });
        }
    }
    Ok(Scan {
        dir: dir.to_path_buf(),
        header,
        patches,
        cover_letter,
        problems,
    })
}

fn re(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("static regex"))
}

/// Parses one `git format-patch` file; the error says what is wrong.
pub fn parse_patch(name: &str, path: &Path, bytes: &[u8]) -> std::result::Result<Patch, String> {
    static SUBJECT_PREFIX: OnceLock<Regex> = OnceLock::new();
    static DIFF_GIT: OnceLock<Regex> = OnceLock::new();
    let text = std::str::from_utf8(bytes).map_err(|_| "is not UTF-8 text".to_string())?;
    let (head, body) = text
        .split_once("\n\n")
        .ok_or("has no mail header (expected `git format-patch` output)")?;
    let mut subject = None;
    let mut author = None;
    let mut current: Option<(String, String)> = None;
    let mut headers = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = current.as_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
            continue;
        }
        if let Some(done) = current.take() {
            headers.push(done);
        }
        if let Some((k, v)) = line.split_once(':') {
            current = Some((k.to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    headers.extend(current);
    for (k, v) in headers {
        match k.as_str() {
            "subject" => subject = Some(v),
            "from" => author = Some(v),
            _ => {}
        }
    }
    let subject = subject.ok_or("has no Subject: header (expected `git format-patch` output)")?;
    let author = author.ok_or("has no From: header (expected `git format-patch` output)")?;
    let subject = re(&SUBJECT_PREFIX, r"^\[[^\]]*\]\s*")
        .replace(&subject, "")
        .to_string();
    if subject.is_empty() {
        return Err("has an empty subject".into());
    }
    let message = body.split("\n---\n").next().unwrap_or(body);
    let signed_off_by = message
        .lines()
        .filter_map(|l| l.strip_prefix("Signed-off-by:"))
        .map(|s| s.trim().to_string())
        .collect();
    let files: Vec<String> = re(&DIFF_GIT, r"(?m)^diff --git a/\S+ b/(\S+)$")
        .captures_iter(body)
        .map(|c| c[1].to_string())
        .collect();
    if files.is_empty() {
        return Err("contains no `diff --git` section: not a patch, or an empty commit".into());
    }
    if !body.contains("\n@@ ")
        && !body.contains("\nBinary files")
        && !body.contains("\nGIT binary patch")
    {
        let renames_only = body.contains("\nrename from ")
            || body.contains("\nnew mode ")
            || body.contains("\nold mode ");
        if !renames_only
            && !body.contains("\nnew file mode ")
            && !body.contains("\ndeleted file mode ")
        {
            return Err("has `diff --git` headers but no hunks: truncated?".into());
        }
    }
    Ok(Patch {
        name: name.to_string(),
        path: path.to_path_buf(),
        subject,
        author,
        signed_off_by,
        files,
        sha256: sha256_hex(bytes),
    })
}

/// Per-version variants of the queue live in `patches/forwardports/<MAJOR.MINOR>/`.
pub const FORWARDPORTS: &str = "forwardports";

/// Header key of a variant's `series`: the series hash of the base queue it
/// was made from, so a variant older than `patches/` is noticed.
pub const FROM_SERIES_KEY: &str = "# from-series:";

/// `6.12` of `6.12.107`; a `MAJOR.MINOR` is returned as it is.
pub fn major_minor(version: &str) -> String {
    version.split('.').take(2).collect::<Vec<_>>().join(".")
}

/// The variant directory for kernel `version` under the base queue `base_dir`.
pub fn variant_dir(base_dir: &Path, version: &str) -> PathBuf {
    base_dir.join(FORWARDPORTS).join(major_minor(version))
}

/// Which queue applies to a kernel version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selected {
    pub dir: PathBuf,
    /// `Some("7.2")` for `patches/forwardports/7.2`, `None` for the base queue.
    pub variant: Option<String>,
}

impl Selected {
    /// `patches` or `patches/forwardports/7.2`, for messages.
    pub fn label(&self) -> String {
        match &self.variant {
            Some(v) => format!("patches/{FORWARDPORTS}/{v}"),
            None => "patches".to_string(),
        }
    }
}

/// The queue for kernel `version`: its variant when
/// `forwardports/<MAJOR.MINOR>/series` exists, else the base queue.
pub fn select(base_dir: &Path, version: &str) -> Selected {
    let dir = variant_dir(base_dir, version);
    if dir.join("series").is_file() {
        Selected {
            dir,
            variant: Some(major_minor(version)),
        }
    } else {
        Selected {
            dir: base_dir.to_path_buf(),
            variant: None,
        }
    }
}

/// The base series hash recorded in a variant's header, if any.
pub fn from_series(header: &[String]) -> Option<String> {
    header.iter().find_map(|l| {
        l.strip_prefix(FROM_SERIES_KEY)
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
    })
}

/// Rewrites `dir/series`: the header block kept, then one name per line.
pub fn write_series(dir: &Path, header: &[String], names: &[String]) -> Result<()> {
    let mut text = String::new();
    for line in header {
        text.push_str(line);
        text.push('\n');
    }
    for name in names {
        text.push_str(name);
        text.push('\n');
    }
    let path = dir.join("series");
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_are_selected_by_major_minor() {
        assert_eq!(major_minor("7.2.13"), "7.2");
        assert_eq!(major_minor("7.2"), "7.2");
        let d = tempfile::tempdir().unwrap();
        let base = d.path().join("patches");
        std::fs::create_dir_all(base.join("forwardports/7.2")).unwrap();
        // No series file yet: not a variant.
        assert_eq!(select(&base, "7.2.13").variant, None);
        std::fs::write(base.join("forwardports/7.2/series"), "").unwrap();
        let s = select(&base, "7.2.13");
        assert_eq!(s.variant.as_deref(), Some("7.2"));
        assert_eq!(s.dir, base.join("forwardports/7.2"));
        assert_eq!(s.label(), "patches/forwardports/7.2");
        let s = select(&base, "7.3.4");
        assert_eq!((s.label(), s.dir), ("patches".to_string(), base.clone()));
        let header = vec!["# x".to_string(), "# from-series: abc".to_string()];
        assert_eq!(from_series(&header).as_deref(), Some("abc"));
        assert_eq!(from_series(&header[..1]), None);
    }

    pub(crate) const GOOD: &str =
        "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\n\
From: A U Thor <author@example.org>\n\
Date: Fri, 27 Nov 2026 10:00:00 +0000\n\
Subject: [PATCH 1/2] mm: add a very long subject that is folded\n over two lines\n\
\n\
Body text.\n\
\n\
Signed-off-by: A U Thor <author@example.org>\n\
---\n\
 mm/foo.c | 1 +\n\
 1 file changed, 1 insertion(+)\n\
\n\
diff --git a/mm/foo.c b/mm/foo.c\n\
index 1111111..2222222 100644\n\
--- a/mm/foo.c\n\
+++ b/mm/foo.c\n\
@@ -1 +1,2 @@\n\
 a\n\
+b\n\
-- \n\
2.47.3\n";

    #[test]
    fn parses_format_patch() {
        let p = parse_patch(
            "0001-x.patch",
            Path::new("/q/0001-x.patch"),
            GOOD.as_bytes(),
        )
        .unwrap();
        assert_eq!(
            p.subject,
            "mm: add a very long subject that is folded over two lines"
        );
        assert_eq!(p.author, "A U Thor <author@example.org>");
        assert_eq!(p.signed_off_by, vec!["A U Thor <author@example.org>"]);
        assert_eq!(p.files, vec!["mm/foo.c"]);
        assert_eq!(p.sha256.len(), 64);
    }

    #[test]
    fn rejects_malformed_patches() {
        let cases: &[(&str, &str)] = &[
            ("just some text", "no mail header"),
            ("From: x\n\nbody\n", "no Subject"),
            ("Subject: x\n\nbody\n", "no From"),
            (
                "From: a\nSubject: [PATCH] x\n\nno diff here\n",
                "no `diff --git`",
            ),
            (
                "From: a\nSubject: x\n\ndiff --git a/f b/f\nindex 1..2\n",
                "no hunks",
            ),
        ];
        for (text, expect) in cases {
            let err = parse_patch("p", Path::new("p"), text.as_bytes()).unwrap_err();
            assert!(err.contains(expect), "{text:?}: {err}");
        }
        let err = parse_patch("p", Path::new("p"), &[0xff, 0xfe]).unwrap_err();
        assert!(err.contains("UTF-8"));
    }

    #[test]
    fn series_format() {
        let text = "# header\n\n0001-a.patch\n# middle comment\n0002-b.patch -p1 # trailing\nbad.patch -p0\nx.patch --frob\n";
        let (header, lines, problems) = parse_series(text);
        assert_eq!(header, vec!["# header", ""]);
        let names: Vec<_> = lines.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(
            names,
            ["0001-a.patch", "0002-b.patch", "bad.patch", "x.patch"]
        );
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].what.contains("-p0"));
        assert!(problems[1].what.contains("--frob"));
    }

    #[test]
    fn series_hash_matches_sha256sum_pipeline() {
        // printf 'a\n' | sha256sum ; then the hash of "<h>\n" lines.
        let h = series_hash(["abc", "def"]);
        let expect = sha256_hex(b"abc\ndef\n");
        assert_eq!(h, expect);
        assert_eq!(series_hash(std::iter::empty()), "");
        // Order matters.
        assert_ne!(series_hash(["def", "abc"]), h);
    }

    #[test]
    fn scan_reports_every_problem() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(
            d.join("series"),
            "0001-good.patch\n0002-missing.patch\n0003-bad.patch\n0001-good.patch\n",
        )
        .unwrap();
        std::fs::write(d.join("0001-good.patch"), GOOD).unwrap();
        std::fs::write(d.join("0003-bad.patch"), "garbage").unwrap();
        std::fs::write(d.join("0009-orphan.patch"), GOOD).unwrap();
        std::fs::write(d.join(COVER_LETTER), "cover").unwrap();
        let s = scan(d).unwrap();
        assert_eq!(s.patches.len(), 1);
        assert!(s.cover_letter.is_some());
        let text: Vec<String> = s.problems.iter().map(|p| p.to_string()).collect();
        let joined = text.join("\n");
        assert!(
            joined.contains("0002-missing.patch cannot be read"),
            "{joined}"
        );
        assert!(
            joined.contains("0003-bad.patch: has no mail header"),
            "{joined}"
        );
        assert!(joined.contains("listed twice"), "{joined}");
        assert!(
            joined.contains("warning: 0009-orphan.patch is not listed"),
            "{joined}"
        );
        let err = Queue::load(d).unwrap_err();
        assert_eq!(crate::error::exit_code_of(&err), Exit::Infra);
        assert!(format!("{err}").contains("0002-missing.patch"));
    }

    #[test]
    fn missing_series_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = scan(dir.path()).unwrap_err();
        assert!(format!("{err:#}").contains("series"));
    }

    #[test]
    fn no_signoff_is_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("series"), "0001-a.patch\n").unwrap();
        std::fs::write(
            d.join("0001-a.patch"),
            GOOD.replace("Signed-off-by: A U Thor <author@example.org>\n", ""),
        )
        .unwrap();
        let s = scan(d).unwrap();
        assert_eq!(s.problems.len(), 1);
        assert!(!s.problems[0].error);
        assert!(Queue::load(d).is_ok());
    }
}
