//! Parser for KTAP v1 / TAP 13 / TAP 14 test output, as produced by the
//! kernel's KUnit and kselftest frameworks.
//!
//! Supported input:
//!
//! * version lines (`KTAP version 1`, `TAP version 13`, `TAP version 14`),
//!   plans (`1..N`, including `1..0 # SKIP reason`), result lines
//!   (`ok N name # DIRECTIVE reason`), diagnostic lines (`# text`),
//!   `Bail out!` lines and unknown lines (ignored, at any indentation);
//! * nested tests: a whole KTAP block indented deeper than its parent,
//!   followed by the parent's result line (TAP14 `# Subtest: name` headers
//!   are accepted too);
//! * kselftest runner output, where a test program's own KTAP is printed with
//!   every line prefixed by `# `: such an embedded block (a `# `-prefixed
//!   version line and the `#` lines after it) is parsed and its cases become
//!   the subtests of the next result line.
//!
//! The parser never panics: malformed input is reported in
//! [`Document::problems`], and nesting deeper than an internal limit is
//! skipped.

use std::cmp::Ordering;
use std::fmt::Display;
use std::mem;

use serde::{Deserialize, Serialize};

/// Deepest nesting (indentation levels plus embedded blocks) that is parsed;
/// lines nested deeper are skipped and reported as a problem.
const MAX_DEPTH: usize = 32;

/// Name given to a case made up for subtests whose result line is missing.
const UNNAMED: &str = "(unnamed)";

/// Outcome of one KTAP test case, after applying its directive.
///
/// Mapping from a result line: `ok` is [`Outcome::Pass`], `not ok` is
/// [`Outcome::Fail`]; the `SKIP` directive gives [`Outcome::Skip`] (with `ok`
/// or `not ok`), `TIMEOUT` gives [`Outcome::Timeout`], `ERROR` gives
/// [`Outcome::Error`] and `XFAIL` (an expected failure) gives
/// [`Outcome::Pass`]. `TODO` is "not recognized" by KTAP, so a `TODO` result
/// keeps its plain `ok`/`not ok` outcome (the directive is still recorded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Outcome {
    /// The test passed (or failed as expected: `XFAIL`).
    Pass,
    /// The test failed.
    Fail,
    /// The test was skipped.
    Skip,
    /// The test could not run properly, or the output is broken (missing
    /// results, bail out, result line missing after subtests).
    Error,
    /// The test ran out of time.
    Timeout,
}

impl Outcome {
    /// Rank used by roll-ups: the highest-ranked outcome wins.
    fn severity(self) -> u8 {
        match self {
            Outcome::Skip => 0,
            Outcome::Pass => 1,
            Outcome::Fail => 2,
            Outcome::Timeout => 3,
            Outcome::Error => 4,
        }
    }
}

/// One test case: a result line, with the diagnostics before it and the
/// subtests nested in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// Test number from the result line; `None` when missing or out of range.
    pub number: Option<u32>,
    /// Test name as printed (a leading TAP `- ` is removed).
    pub name: String,
    /// Outcome after applying the directive.
    pub outcome: Outcome,
    /// Recognised directive in upper case: `SKIP`, `TODO`, `XFAIL`,
    /// `TIMEOUT` or `ERROR`.
    pub directive: Option<String>,
    /// Text after the directive, or after `#` when there is no directive
    /// (e.g. `45 seconds`, `exit=1`).
    pub reason: Option<String>,
    /// Text of the `#` lines that came directly before this result at its
    /// level (without the `#`).
    pub diagnostics: Vec<String>,
    /// Nested cases, from an indented block or an embedded `# ` block.
    pub subtests: Vec<Case>,
}

impl Case {
    /// The name without the kselftest runner's `selftests: <collection>: `
    /// prefix, e.g. `memfd_secret` for `selftests: mm: memfd_secret`.
    pub fn short_name(&self) -> &str {
        self.name
            .strip_prefix("selftests: ")
            .and_then(|rest| rest.split_once(": "))
            .map_or(self.name.as_str(), |(_, test)| test)
    }

    /// True when the case has no subtests.
    pub fn is_leaf(&self) -> bool {
        self.subtests.is_empty()
    }

    /// Component of a dotted path: the short name, or `#N` when unnamed.
    fn path_segment(&self) -> String {
        match (self.short_name(), self.number) {
            ("", Some(number)) => format!("#{number}"),
            ("", None) => UNNAMED.to_string(),
            (name, _) => name.to_string(),
        }
    }
}

/// Counters from a kselftest `# Totals: pass:.. fail:.. xfail:.. xpass:..
/// skip:.. error:..` line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Passed tests.
    pub pass: u32,
    /// Failed tests.
    pub fail: u32,
    /// Expected failures.
    pub xfail: u32,
    /// Unexpected passes.
    pub xpass: u32,
    /// Skipped tests.
    pub skip: u32,
    /// Tests that errored.
    pub error: u32,
}

/// A parsed KTAP document: the top-level block and what went wrong in it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Document {
    /// Top-level version line, e.g. `KTAP version 1` or `TAP version 13`.
    pub version: Option<String>,
    /// Top-level planned number of tests.
    pub plan: Option<u32>,
    /// Reason given on a skip-all plan (`1..0 # SKIP reason`); empty when the
    /// plan says `SKIP` without a reason.
    pub skip_reason: Option<String>,
    /// Counters from a top-level `# Totals:` line, when one was printed.
    pub totals: Option<Totals>,
    /// Top-level cases, in output order.
    pub cases: Vec<Case>,
    /// Reason of a `Bail out!` line; parsing stops there.
    pub bail_out: Option<String>,
    /// Anomalies found, each prefixed by `line N: `: plan mismatches,
    /// missing or out-of-order numbers, missing version line or plan,
    /// subtests without a result line, bail outs of embedded programs...
    pub problems: Vec<String>,
}

/// Number of cases per outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Cases that passed.
    pub pass: u32,
    /// Cases that failed.
    pub fail: u32,
    /// Cases that were skipped.
    pub skip: u32,
    /// Cases that errored.
    pub error: u32,
    /// Cases that timed out.
    pub timeout: u32,
}

impl Counts {
    /// Sum of all counters.
    pub fn total(&self) -> u32 {
        self.pass + self.fail + self.skip + self.error + self.timeout
    }

    fn add(&mut self, outcome: Outcome) {
        let counter = match outcome {
            Outcome::Pass => &mut self.pass,
            Outcome::Fail => &mut self.fail,
            Outcome::Skip => &mut self.skip,
            Outcome::Error => &mut self.error,
            Outcome::Timeout => &mut self.timeout,
        };
        *counter = counter.saturating_add(1);
    }
}

impl Document {
    /// True when a version line or a result line was seen at all.
    pub fn is_ktap(&self) -> bool {
        self.version.is_some() || !self.cases.is_empty()
    }

    /// Counts of the top-level outcomes.
    pub fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        self.cases.iter().for_each(|case| counts.add(case.outcome));
        counts
    }

    /// Counts of the leaves: the innermost cases (cases without subtests).
    pub fn leaf_counts(&self) -> Counts {
        let mut counts = Counts::default();
        self.flatten()
            .into_iter()
            .filter(|(_, case)| case.is_leaf())
            .for_each(|(_, case)| counts.add(case.outcome));
        counts
    }

    /// True when a plan was printed and the number of top-level cases
    /// differs from it (e.g. the test crashed mid-way).
    pub fn plan_mismatch(&self) -> bool {
        self.plan
            .is_some_and(|plan| !plan_matches(plan, self.cases.len()))
    }

    /// The roll-up of the whole document:
    ///
    /// 1. [`Outcome::Error`] after a `Bail out!`, or when the plan does not
    ///    match the number of top-level cases;
    /// 2. with no cases: [`Outcome::Skip`] for a `1..0` plan, else
    ///    [`Outcome::Error`] (nothing ran);
    /// 3. otherwise the worst top-level outcome, in the order
    ///    Error > Timeout > Fail > Pass > Skip: a single failure makes the
    ///    document fail, skips do not hide passes, and the document is
    ///    skipped only when every case was skipped.
    ///
    /// Parent results are trusted: subtests are not re-examined. Other
    /// [`Document::problems`] (numbering, nested plans) do not change it.
    pub fn overall(&self) -> Outcome {
        if self.bail_out.is_some() || self.plan_mismatch() {
            return Outcome::Error;
        }
        let worst = self
            .cases
            .iter()
            .map(|case| case.outcome)
            .max_by_key(|outcome| outcome.severity());
        match (worst, self.plan) {
            (Some(outcome), _) => outcome,
            (None, Some(0)) => Outcome::Skip,
            (None, _) => Outcome::Error,
        }
    }

    /// Every case in pre-order (a parent before its subtests), with a dotted
    /// path made of [`Case::short_name`]s, e.g.
    /// `memfd_secret.mlock limit is respected`. Unnamed cases appear as `#N`.
    pub fn flatten(&self) -> Vec<(String, &Case)> {
        let mut out = Vec::new();
        for case in &self.cases {
            flatten_into(case, None, &mut out);
        }
        out
    }
}

/// True when a plan of `count` tests matches `found` results.
fn plan_matches(count: u32, found: usize) -> bool {
    usize::try_from(count) == Ok(found)
}

fn flatten_into<'a>(case: &'a Case, parent: Option<&str>, out: &mut Vec<(String, &'a Case)>) {
    let segment = case.path_segment();
    let path = match parent {
        Some(parent) => format!("{parent}.{segment}"),
        None => segment,
    };
    out.push((path.clone(), case));
    for subtest in &case.subtests {
        flatten_into(subtest, Some(&path), out);
    }
}

/// Parses KTAP / TAP output. Never panics; see [`Document::problems`] for
/// what did not look right.
pub fn parse(text: &str) -> Document {
    let mut parser = Parser::new(split_lines(text));
    let block = parser.parse_top(0);
    parser.into_document(block)
}

// ---------------------------------------------------------------------------
// Lines

/// A non-blank input line with its indentation measured.
#[derive(Debug, Clone, Copy)]
struct Line<'a> {
    /// 1-based line number in the original input.
    number: usize,
    /// Leading spaces and tabs.
    indent: usize,
    /// The line without indentation and trailing whitespace.
    text: &'a str,
}

impl<'a> Line<'a> {
    /// Measures `raw`; `None` for a blank line.
    fn new(number: usize, raw: &'a str) -> Option<Self> {
        let raw = raw.trim_end();
        let text = raw.trim_start_matches([' ', '\t']);
        let indent = raw.len() - text.len();
        (!text.is_empty()).then_some(Line {
            number,
            indent,
            text,
        })
    }

    /// The line with the kselftest runner's `# ` prefix removed, keeping
    /// any deeper indentation after it.
    fn strip_hash(self) -> Option<Self> {
        let rest = self.text.strip_prefix('#')?;
        let rest = rest.strip_prefix(' ').unwrap_or(rest);
        Line::new(self.number, rest)
    }
}

fn split_lines(text: &str) -> Vec<Line<'_>> {
    text.lines()
        .enumerate()
        .filter_map(|(index, raw)| Line::new(index + 1, raw))
        .collect()
}

/// What a line is, independent of where it appears.
#[derive(Debug)]
enum LineKind<'a> {
    Version(&'a str),
    Plan(PlanLine),
    Result(ResultLine<'a>),
    BailOut(&'a str),
    Diagnostic(&'a str),
    Unknown,
}

#[derive(Debug)]
struct PlanLine {
    /// `None` when the count does not fit in a `u32`.
    count: Option<u32>,
    skip_reason: Option<String>,
}

#[derive(Debug)]
struct ResultLine<'a> {
    ok: bool,
    number: TestNumber,
    name: &'a str,
    /// Text after the `#` separator.
    comment: Option<&'a str>,
}

#[derive(Debug, Clone, Copy)]
enum TestNumber {
    Present(u32),
    Missing,
    Overflow,
}

fn classify(text: &str) -> LineKind<'_> {
    if is_version(text) {
        LineKind::Version(text)
    } else if let Some(plan) = parse_plan(text) {
        LineKind::Plan(plan)
    } else if let Some(result) = parse_result(text) {
        LineKind::Result(result)
    } else if let Some(reason) = text.strip_prefix("Bail out!") {
        LineKind::BailOut(reason.trim())
    } else if let Some(diagnostic) = text.strip_prefix('#') {
        LineKind::Diagnostic(diagnostic.trim())
    } else {
        LineKind::Unknown
    }
}

fn is_version(text: &str) -> bool {
    ["KTAP version ", "TAP version "].iter().any(|prefix| {
        text.strip_prefix(prefix).is_some_and(|version| {
            !version.is_empty() && version.bytes().all(|b| b.is_ascii_digit())
        })
    })
}

fn parse_plan(text: &str) -> Option<PlanLine> {
    let rest = text.strip_prefix("1..")?;
    let (digits, comment) = split_comment(rest);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let skip_reason = match comment.map(parse_annotation) {
        Some((Some(Directive::Skip), reason)) => Some(reason.unwrap_or_default()),
        _ => None,
    };
    Some(PlanLine {
        count: digits.parse().ok(),
        skip_reason,
    })
}

fn parse_result(text: &str) -> Option<ResultLine<'_>> {
    let (ok, rest) = match strip_keyword(text, "not ok") {
        Some(rest) => (false, rest),
        None => (true, strip_keyword(text, "ok")?),
    };
    let (number, rest) = split_number(rest);
    let (name, comment) = split_comment(rest);
    let name = name.strip_prefix('-').map_or(name, str::trim_start);
    Some(ResultLine {
        ok,
        number,
        name,
        comment,
    })
}

/// `text` after `keyword` when the keyword is a whole word.
fn strip_keyword<'a>(text: &'a str, keyword: &str) -> Option<&'a str> {
    let rest = text.strip_prefix(keyword)?;
    let whole_word = rest.is_empty() || rest.starts_with(char::is_whitespace);
    whole_word.then(|| rest.trim_start())
}

/// Splits a leading test number off `rest`.
fn split_number(rest: &str) -> (TestNumber, &str) {
    let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    let (token, after) = rest.split_at(end);
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_digit()) {
        return (TestNumber::Missing, rest);
    }
    let number = token
        .parse()
        .map_or(TestNumber::Overflow, TestNumber::Present);
    (number, after.trim_start())
}

/// Splits `name # comment` at the first `#` that starts a word.
fn split_comment(rest: &str) -> (&str, Option<&str>) {
    let separator = rest.char_indices().find(|&(index, c)| {
        c == '#' && (index == 0 || rest[..index].ends_with(char::is_whitespace))
    });
    match separator {
        Some((index, _)) => (rest[..index].trim(), Some(rest[index + 1..].trim())),
        None => (rest.trim(), None),
    }
}

/// A directive recognised after `#` on a result or plan line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Directive {
    Skip,
    Todo,
    Xfail,
    Timeout,
    Error,
}

impl Directive {
    fn from_word(word: &str) -> Option<Self> {
        let known = [
            ("SKIP", Directive::Skip),
            ("SKIPPED", Directive::Skip),
            ("TODO", Directive::Todo),
            ("XFAIL", Directive::Xfail),
            ("TIMEOUT", Directive::Timeout),
            ("ERROR", Directive::Error),
        ];
        known
            .iter()
            .find(|(spelling, _)| spelling.eq_ignore_ascii_case(word))
            .map(|&(_, directive)| directive)
    }

    fn as_str(self) -> &'static str {
        match self {
            Directive::Skip => "SKIP",
            Directive::Todo => "TODO",
            Directive::Xfail => "XFAIL",
            Directive::Timeout => "TIMEOUT",
            Directive::Error => "ERROR",
        }
    }

    fn outcome(self, ok: bool) -> Outcome {
        match self {
            Directive::Skip => Outcome::Skip,
            Directive::Timeout => Outcome::Timeout,
            Directive::Error => Outcome::Error,
            Directive::Xfail => Outcome::Pass,
            Directive::Todo => plain_outcome(ok),
        }
    }
}

fn plain_outcome(ok: bool) -> Outcome {
    if ok {
        Outcome::Pass
    } else {
        Outcome::Fail
    }
}

/// Splits the text after `#` into a directive and its reason; without a
/// directive the whole text is the reason.
fn parse_annotation(comment: &str) -> (Option<Directive>, Option<String>) {
    let end = comment.find(char::is_whitespace).unwrap_or(comment.len());
    let (word, rest) = comment.split_at(end);
    match Directive::from_word(word.trim_end_matches(':')) {
        Some(directive) => (Some(directive), non_empty(rest)),
        None => (None, non_empty(comment)),
    }
}

fn non_empty(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// Parses `Totals: pass:2 fail:1 xfail:0 xpass:0 skip:0 error:0`.
fn parse_totals(text: &str) -> Option<Totals> {
    let fields = text.strip_prefix("Totals:")?;
    let mut totals = Totals::default();
    for field in fields.split_whitespace() {
        let (key, value) = field.split_once(':')?;
        let value = value.parse().ok()?;
        match key {
            "pass" => totals.pass = value,
            "fail" => totals.fail = value,
            "xfail" => totals.xfail = value,
            "xpass" => totals.xpass = value,
            "skip" => totals.skip = value,
            "error" => totals.error = value,
            _ => {}
        }
    }
    Some(totals)
}

// ---------------------------------------------------------------------------
// Blocks

/// Where a block sits: its indentation and nesting depth.
#[derive(Debug, Clone, Copy)]
struct Scope {
    indent: usize,
    depth: usize,
    /// False for the top-level block of a document (or embedded document).
    nested: bool,
}

impl Scope {
    fn child(self, indent: usize) -> Self {
        Scope {
            indent,
            depth: self.depth + 1,
            nested: true,
        }
    }

    fn too_deep(self) -> bool {
        self.depth + 1 >= MAX_DEPTH
    }
}

#[derive(Debug)]
struct Plan {
    count: u32,
    skip_reason: Option<String>,
    line: usize,
}

/// Subtests waiting for their parent's result line.
#[derive(Debug)]
struct Pending {
    name: Option<String>,
    cases: Vec<Case>,
    line: usize,
}

/// One level of KTAP output being parsed.
#[derive(Debug, Default)]
struct Block {
    version: Option<String>,
    plan: Option<Plan>,
    /// Name from a `# Subtest:` header at the start of the block.
    name: Option<String>,
    totals: Option<Totals>,
    cases: Vec<Case>,
    /// Diagnostics for the next result line.
    diagnostics: Vec<String>,
    /// Subtests for the next result line.
    pending: Option<Pending>,
    /// Name announced for the next subtests (`# Subtest:`, `# selftests:`).
    pending_name: Option<String>,
    next_number: u32,
    first_line: usize,
}

impl Block {
    fn new(first_line: usize) -> Self {
        Block {
            next_number: 1,
            first_line,
            ..Block::default()
        }
    }

    /// True once a version, plan, result or subtest block was seen.
    fn has_content(&self) -> bool {
        self.version.is_some()
            || self.plan.is_some()
            || !self.cases.is_empty()
            || self.pending.is_some()
    }
}

/// A version line in a nested block that already has content starts the
/// next sibling block (its parent's result line is missing).
fn starts_sibling(block: &Block, kind: &LineKind<'_>, scope: Scope) -> bool {
    scope.nested && matches!(kind, LineKind::Version(_)) && block.has_content()
}

/// Cursor over the lines of one document (the input, or an embedded
/// program's output with its `# ` prefix removed).
struct Parser<'a> {
    lines: Vec<Line<'a>>,
    pos: usize,
    /// Line number and message of each problem.
    problems: Vec<(usize, String)>,
    /// Line number and reason of a `Bail out!`.
    bail_out: Option<(usize, String)>,
}

impl<'a> Parser<'a> {
    fn new(lines: Vec<Line<'a>>) -> Self {
        Parser {
            lines,
            pos: 0,
            problems: Vec::new(),
            bail_out: None,
        }
    }

    fn problem(&mut self, line: usize, message: impl Display) {
        self.problems.push((line, message.to_string()));
    }

    fn peek(&self) -> Option<Line<'a>> {
        self.lines.get(self.pos).copied()
    }

    /// Parses all lines as one document whose base indentation is the
    /// smallest one found.
    fn parse_top(&mut self, depth: usize) -> Block {
        let indent = self.lines.iter().map(|line| line.indent).min().unwrap_or(0);
        let scope = Scope {
            indent,
            depth,
            nested: false,
        };
        self.parse_block(scope)
    }

    fn into_document(mut self, block: Block) -> Document {
        let mut document = Document {
            version: block.version,
            plan: block.plan.as_ref().map(|plan| plan.count),
            skip_reason: block.plan.and_then(|plan| plan.skip_reason),
            totals: block.totals,
            cases: block.cases,
            bail_out: self.bail_out.take().map(|(_, reason)| reason),
            problems: Vec::new(),
        };
        if document.is_ktap() && document.version.is_none() {
            self.problem(block.first_line, "no version line");
        }
        if document.is_ktap() && document.plan.is_none() && document.bail_out.is_none() {
            self.problem(block.first_line, "no plan line");
        }
        // Problems are found when blocks end; report them in input order.
        self.problems.sort_by_key(|&(line, _)| line);
        document.problems = self
            .problems
            .into_iter()
            .map(|(line, message)| format!("line {line}: {message}"))
            .collect();
        document
    }

    fn parse_block(&mut self, scope: Scope) -> Block {
        let mut block = Block::new(self.peek().map_or(0, |line| line.number));
        while let Some(line) = self.peek() {
            if self.bail_out.is_some() {
                break;
            }
            let kind = classify(line.text);
            if matches!(kind, LineKind::Unknown) {
                self.pos += 1;
                continue;
            }
            match line.indent.cmp(&scope.indent) {
                Ordering::Less => break,
                Ordering::Greater => self.parse_child(&mut block, line, scope),
                Ordering::Equal if starts_sibling(&block, &kind, scope) => break,
                Ordering::Equal => {
                    self.pos += 1;
                    self.handle_line(&mut block, kind, line, scope);
                }
            }
        }
        self.finish_block(&mut block);
        block
    }

    fn parse_child(&mut self, block: &mut Block, line: Line<'a>, scope: Scope) {
        if scope.too_deep() {
            self.problem(line.number, "nesting too deep, lines skipped");
            self.skip_deeper_than(scope.indent);
            return;
        }
        let child = self.parse_block(scope.child(line.indent));
        if !child.has_content() {
            return;
        }
        let name = child.name.or_else(|| block.pending_name.take());
        let pending = Pending {
            name,
            cases: child.cases,
            line: line.number,
        };
        self.set_pending(block, pending);
    }

    fn skip_deeper_than(&mut self, indent: usize) {
        while self.peek().is_some_and(|line| line.indent > indent) {
            self.pos += 1;
        }
    }

    fn handle_line(&mut self, block: &mut Block, kind: LineKind<'_>, line: Line<'a>, scope: Scope) {
        match kind {
            LineKind::Version(version) => self.handle_version(block, version, line.number),
            LineKind::Plan(plan) => self.handle_plan(block, plan, line.number),
            LineKind::Result(result) => self.handle_result(block, result, line.number),
            LineKind::BailOut(reason) => self.bail_out = Some((line.number, reason.to_string())),
            LineKind::Diagnostic(text) => self.handle_diagnostic(block, text, line, scope),
            LineKind::Unknown => {}
        }
    }

    fn handle_version(&mut self, block: &mut Block, version: &str, line: usize) {
        if block.has_content() {
            self.problem(line, "unexpected version line");
        } else {
            block.version = Some(version.to_string());
        }
    }

    fn handle_plan(&mut self, block: &mut Block, plan: PlanLine, line: usize) {
        let Some(count) = plan.count else {
            self.problem(line, "plan count out of range");
            return;
        };
        if block.plan.is_some() {
            self.problem(line, "duplicate plan line");
            return;
        }
        block.plan = Some(Plan {
            count,
            skip_reason: plan.skip_reason,
            line,
        });
    }

    fn handle_result(&mut self, block: &mut Block, result: ResultLine<'_>, line: usize) {
        let number = self.check_number(block, result.number, line);
        let (directive, reason) = result.comment.map(parse_annotation).unwrap_or_default();
        let outcome = directive.map_or(plain_outcome(result.ok), |d| d.outcome(result.ok));
        let subtests = block.pending.take().map(|p| p.cases).unwrap_or_default();
        block.pending_name = None;
        block.cases.push(Case {
            number,
            name: result.name.to_string(),
            outcome,
            directive: directive.map(|d| d.as_str().to_string()),
            reason,
            diagnostics: mem::take(&mut block.diagnostics),
            subtests,
        });
    }

    /// Reports a missing, overflowing or out-of-order number.
    fn check_number(&mut self, block: &mut Block, number: TestNumber, line: usize) -> Option<u32> {
        let expected = block.next_number;
        let number = match number {
            TestNumber::Present(number) => Some(number),
            TestNumber::Missing => {
                self.problem(line, "result without a test number");
                None
            }
            TestNumber::Overflow => {
                self.problem(line, "test number out of range");
                None
            }
        };
        if let Some(number) = number.filter(|&number| number != expected) {
            self.problem(
                line,
                format!("test number {number} out of order (expected {expected})"),
            );
        }
        block.next_number = number.unwrap_or(expected).saturating_add(1);
        number
    }

    fn handle_diagnostic(&mut self, block: &mut Block, text: &str, line: Line<'a>, scope: Scope) {
        if is_version(text) {
            self.parse_embedded(block, line, scope);
            return;
        }
        if let Some(name) = text.strip_prefix("Subtest:") {
            self.note_subtest_header(block, name.trim());
            return;
        }
        if text.starts_with("selftests: ") {
            block.pending_name = Some(text.to_string());
        }
        if let Some(totals) = parse_totals(text) {
            block.totals = Some(totals);
        }
        if text.starts_with("Planned tests != run tests") {
            self.problem(line.number, format!("kselftest reported: {text}"));
        }
        block.diagnostics.push(text.to_string());
    }

    fn note_subtest_header(&mut self, block: &mut Block, name: &str) {
        if block.name.is_none() && block.cases.is_empty() && block.pending.is_none() {
            block.name = Some(name.to_string());
        }
        block.pending_name = Some(name.to_string());
    }

    /// Parses a test program's KTAP printed with a `# ` prefix: `first` is
    /// its version line, and the `#` lines after it at the same indentation
    /// belong to it too.
    fn parse_embedded(&mut self, block: &mut Block, first: Line<'a>, scope: Scope) {
        let mut lines: Vec<Line<'a>> = first.strip_hash().into_iter().collect();
        while let Some(line) = self
            .peek()
            .filter(|line| line.indent == first.indent && line.text.starts_with('#'))
        {
            self.pos += 1;
            lines.extend(line.strip_hash());
        }
        if scope.too_deep() {
            self.problem(first.number, "nesting too deep, embedded output skipped");
            return;
        }
        let mut inner = Parser::new(lines);
        let embedded = inner.parse_top(scope.depth + 1);
        self.problems.append(&mut inner.problems);
        if let Some((line, reason)) = inner.bail_out {
            self.problem(line, format!("embedded test bailed out: {reason}"));
        }
        let pending = Pending {
            name: block.pending_name.take(),
            cases: embedded.cases,
            line: first.number,
        };
        self.set_pending(block, pending);
    }

    fn set_pending(&mut self, block: &mut Block, pending: Pending) {
        if let Some(previous) = block.pending.replace(pending) {
            self.push_orphan(block, previous);
        }
    }

    /// Records subtests whose parent result line never came as an
    /// [`Outcome::Error`] case.
    fn push_orphan(&mut self, block: &mut Block, pending: Pending) {
        self.problem(pending.line, "subtests without a result line");
        block.cases.push(Case {
            number: None,
            name: pending.name.unwrap_or_else(|| UNNAMED.to_string()),
            outcome: Outcome::Error,
            directive: None,
            reason: Some("no result line".to_string()),
            diagnostics: mem::take(&mut block.diagnostics),
            subtests: pending.cases,
        });
    }

    fn finish_block(&mut self, block: &mut Block) {
        if let Some(pending) = block.pending.take() {
            self.push_orphan(block, pending);
        }
        if let Some(plan) = &block.plan {
            let found = block.cases.len();
            if !plan_matches(plan.count, found) {
                let message = format!("plan 1..{} but {found} results", plan.count);
                self.problem(plan.line, message);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from the guest: the series' own selftest under asi=on.
    const REAL_ASI_STATUS: &str = include_str!("../tests/fixtures/ktap/real_asi_status.txt");
    const RUNNER_EMBEDDED: &str = include_str!("../tests/fixtures/ktap/runner_embedded.txt");
    const RUNNER_NESTED: &str = include_str!("../tests/fixtures/ktap/runner_nested.txt");
    const NESTED_KTAP: &str = include_str!("../tests/fixtures/ktap/nested_ktap.txt");
    const KUNIT_STYLE: &str = include_str!("../tests/fixtures/ktap/kunit_style.txt");
    const SKIP_ALL: &str = include_str!("../tests/fixtures/ktap/skip_all.txt");
    const TIMEOUT: &str = include_str!("../tests/fixtures/ktap/timeout.txt");
    const BAIL_OUT: &str = include_str!("../tests/fixtures/ktap/bail_out.txt");
    const CRASHED_MIDWAY: &str = include_str!("../tests/fixtures/ktap/crashed_midway.txt");

    fn names(cases: &[Case]) -> Vec<&str> {
        cases.iter().map(|case| case.name.as_str()).collect()
    }

    fn outcomes(cases: &[Case]) -> Vec<Outcome> {
        cases.iter().map(|case| case.outcome).collect()
    }

    fn paths(document: &Document) -> Vec<String> {
        document
            .flatten()
            .into_iter()
            .map(|(path, _)| path)
            .collect()
    }

    fn counts(pass: u32, fail: u32, skip: u32, error: u32, timeout: u32) -> Counts {
        Counts {
            pass,
            fail,
            skip,
            error,
            timeout,
        }
    }

    /// Deepest chain of subtests below `cases` (1 for a flat list).
    fn depth(cases: &[Case]) -> usize {
        cases
            .iter()
            .map(|case| 1 + depth(&case.subtests))
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn real_selftest_output_from_the_guest() {
        let doc = parse(REAL_ASI_STATUS);
        assert_eq!(doc.version.as_deref(), Some("TAP version 13"));
        assert_eq!(doc.plan, Some(4));
        assert_eq!(doc.overall(), Outcome::Pass);
        let names: Vec<&str> = doc.cases.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "sysfs_dir_exists",
                "enabled_matches_boot_param",
                "enabled_is_read_only",
                "enabled_format"
            ]
        );
        assert_eq!(
            doc.cases[0].diagnostics,
            vec!["expecting ASI on (from --expect)"]
        );
        assert!(doc.problems.is_empty(), "{:?}", doc.problems);
        let broken = REAL_ASI_STATUS.replace("ok 2 enabled_matches", "not ok 2 enabled_matches");
        assert_eq!(parse(&broken).overall(), Outcome::Fail);
    }

    #[test]
    fn runner_embedded_attaches_program_output_as_subtests() {
        let doc = parse(RUNNER_EMBEDDED);
        assert_eq!(doc.version.as_deref(), Some("TAP version 13"));
        assert_eq!(doc.plan, Some(2));
        assert_eq!(
            names(&doc.cases),
            ["selftests: mm: memfd_secret", "selftests: mm: slow"]
        );

        let secret = &doc.cases[0];
        assert_eq!(secret.number, Some(1));
        assert_eq!(secret.outcome, Outcome::Fail);
        assert_eq!(secret.directive, None);
        assert_eq!(secret.reason.as_deref(), Some("exit=1"));
        assert_eq!(
            secret.diagnostics,
            ["timeout set to 45", "selftests: mm: memfd_secret"]
        );
        assert_eq!(secret.short_name(), "memfd_secret");
        assert_eq!(
            names(&secret.subtests),
            [
                "mlock limit is respected",
                "file IO is blocked as expected",
                "process_vm_read is blocked as expected"
            ]
        );
        assert_eq!(
            outcomes(&secret.subtests),
            [Outcome::Pass, Outcome::Pass, Outcome::Fail]
        );
        assert_eq!(secret.subtests[2].number, Some(3));

        let slow = &doc.cases[1];
        assert_eq!(slow.outcome, Outcome::Timeout);
        assert_eq!(slow.directive.as_deref(), Some("TIMEOUT"));
        assert_eq!(slow.reason.as_deref(), Some("45 seconds"));
        assert_eq!(slow.diagnostics, ["selftests: mm: slow"]);
        assert!(slow.subtests.is_empty());

        assert_eq!(doc.problems, ["line 14: plan 1..1 but 0 results"]);
        assert_eq!(doc.bail_out, None);
        assert_eq!(doc.totals, None);
        assert!(doc.is_ktap());
        assert_eq!(doc.counts(), counts(0, 1, 0, 0, 1));
        assert_eq!(doc.leaf_counts(), counts(2, 1, 0, 0, 1));
        assert_eq!(doc.overall(), Outcome::Timeout);
        assert_eq!(
            paths(&doc),
            [
                "memfd_secret",
                "memfd_secret.mlock limit is respected",
                "memfd_secret.file IO is blocked as expected",
                "memfd_secret.process_vm_read is blocked as expected",
                "slow",
            ]
        );
    }

    #[test]
    fn runner_nested_parses_indentation_inside_embedded_blocks() {
        let doc = parse(RUNNER_NESTED);
        assert_eq!(doc.plan, Some(3));
        assert_eq!(
            outcomes(&doc.cases),
            [Outcome::Fail, Outcome::Pass, Outcome::Skip]
        );
        assert_eq!(doc.problems, Vec::<String>::new());

        let rss = &doc.cases[0];
        assert_eq!(rss.reason.as_deref(), Some("exit=1"));
        assert_eq!(
            names(&rss.subtests),
            [
                "ethtool_rss.test_rss_context",
                "ethtool_rss.test_rss_queues"
            ]
        );
        let context = &rss.subtests[0];
        assert_eq!(context.outcome, Outcome::Pass);
        assert_eq!(
            names(&context.subtests),
            ["rss_context.ipv4", "rss_context.ipv6"]
        );
        let ipv6 = &context.subtests[1];
        assert_eq!(ipv6.outcome, Outcome::Skip);
        assert_eq!(ipv6.directive.as_deref(), Some("SKIP"));
        assert_eq!(ipv6.reason.as_deref(), Some("no IPv6 address configured"));
        let queues = &rss.subtests[1];
        assert_eq!(queues.outcome, Outcome::Fail);
        assert_eq!(queues.subtests[0].name, "rss_queues.default");
        assert_eq!(
            queues.subtests[0].diagnostics,
            ["queue 3 received no packets"]
        );

        let csum = &doc.cases[1].subtests[0];
        assert_eq!(csum.outcome, Outcome::Pass);
        assert_eq!(csum.directive.as_deref(), Some("XFAIL"));
        assert_eq!(
            csum.reason.as_deref(),
            Some("checksum offload not supported")
        );

        let devmem = &doc.cases[2];
        assert_eq!(devmem.directive.as_deref(), Some("SKIP"));
        assert_eq!(devmem.reason, None);
        assert!(devmem.subtests.is_empty());

        assert_eq!(depth(&doc.cases), 3);
        assert_eq!(doc.counts(), counts(1, 1, 1, 0, 0));
        assert_eq!(doc.leaf_counts(), counts(2, 1, 2, 0, 0));
        assert_eq!(doc.overall(), Outcome::Fail);
        assert!(paths(&doc)
            .contains(&"ethtool_rss.py.ethtool_rss.test_rss_context.rss_context.ipv6".to_string()));
    }

    #[test]
    fn nested_ktap_matches_kernel_doc_hierarchy() {
        let doc = parse(NESTED_KTAP);
        assert_eq!(doc.version.as_deref(), Some("KTAP version 1"));
        assert_eq!(doc.problems, Vec::<String>::new());
        assert_eq!(names(&doc.cases), ["main_test"]);
        let main = &doc.cases[0];
        assert_eq!(main.outcome, Outcome::Fail);
        assert_eq!(
            names(&main.subtests),
            ["example_test_1", "example_test_2", "example_test_3"]
        );
        assert_eq!(
            outcomes(&main.subtests),
            [Outcome::Pass, Outcome::Pass, Outcome::Fail]
        );

        let first = &main.subtests[0].subtests;
        assert_eq!(names(first), ["test_1"]);
        assert_eq!(first[0].diagnostics, ["test_1: initializing test_1"]);

        let second = &main.subtests[1].subtests;
        assert_eq!(outcomes(second), [Outcome::Skip, Outcome::Pass]);
        assert_eq!(second[0].reason.as_deref(), Some("test_1 skipped"));

        let third = &main.subtests[2].subtests;
        assert_eq!(
            outcomes(third),
            [Outcome::Pass, Outcome::Fail, Outcome::Skip]
        );
        assert_eq!(third[1].diagnostics, ["test_2: FAIL"]);
        assert_eq!(third[2].reason.as_deref(), Some("test_3 skipped"));

        assert_eq!(depth(&doc.cases), 3);
        assert_eq!(doc.counts(), counts(0, 1, 0, 0, 0));
        assert_eq!(doc.leaf_counts(), counts(3, 1, 2, 0, 0));
        assert_eq!(doc.overall(), Outcome::Fail);
        assert_eq!(paths(&doc)[9], "main_test.example_test_3.test_3");
        assert_eq!(paths(&doc).len(), 10);
    }

    #[test]
    fn nested_ktap_multi_level_doc_example() {
        let text = "KTAP version 1\n1..2\n  KTAP version 1\n  1..2\n    KTAP version 1\n    1..2\n    not ok 1 test_1\n    ok 2 test_2\n  not ok 1 test_3\n  ok 2 test_4 # SKIP\nnot ok 1 example_test_1\nok 2 example_test_2\n";
        let doc = parse(text);
        assert_eq!(names(&doc.cases), ["example_test_1", "example_test_2"]);
        let test_3 = &doc.cases[0].subtests[0];
        assert_eq!(test_3.name, "test_3");
        assert_eq!(names(&test_3.subtests), ["test_1", "test_2"]);
        let test_4 = &doc.cases[0].subtests[1];
        assert_eq!(
            (test_4.outcome, test_4.reason.as_deref()),
            (Outcome::Skip, None)
        );
        assert!(doc.cases[1].subtests.is_empty());
        assert_eq!(doc.problems, Vec::<String>::new());
    }

    #[test]
    fn kunit_style_two_levels_of_subtests() {
        let doc = parse(KUNIT_STYLE);
        assert_eq!(doc.problems, Vec::<String>::new());
        assert_eq!(names(&doc.cases), ["example", "list-kunit-test"]);
        assert_eq!(outcomes(&doc.cases), [Outcome::Fail, Outcome::Pass]);

        let example = &doc.cases[0];
        assert_eq!(
            example.diagnostics,
            ["example: pass:2 fail:1 skip:1 total:4"]
        );
        assert_eq!(
            names(&example.subtests),
            [
                "example_simple_test",
                "example_skip_test",
                "example_params_test",
                "example_mark_failure"
            ]
        );
        assert_eq!(
            example.subtests[0].diagnostics,
            [
                "module: kunit_example_test",
                "example_simple_test: initializing"
            ]
        );
        assert_eq!(
            example.subtests[1].reason.as_deref(),
            Some("this test should be skipped")
        );
        let params = &example.subtests[2];
        assert_eq!(
            params.diagnostics,
            ["example_params_test: pass:3 fail:0 skip:1 total:4"]
        );
        assert_eq!(
            names(&params.subtests),
            [
                "example value 3",
                "example value 2",
                "example value 1",
                "example value 0"
            ]
        );
        assert_eq!(params.subtests[3].outcome, Outcome::Skip);
        assert_eq!(
            params.subtests[3].reason.as_deref(),
            Some("unsupported param value 0")
        );
        assert_eq!(example.subtests[3].outcome, Outcome::Fail);

        assert_eq!(
            names(&doc.cases[1].subtests),
            ["list_test_list_init", "list_test_list_add"]
        );
        assert_eq!(doc.counts(), counts(1, 1, 0, 0, 0));
        assert_eq!(doc.leaf_counts(), counts(6, 1, 2, 0, 0));
        assert_eq!(doc.overall(), Outcome::Fail);
        assert_eq!(paths(&doc)[3], "example.example_params_test");
        assert_eq!(
            paths(&doc)[4],
            "example.example_params_test.example value 3"
        );
    }

    #[test]
    fn skip_all_plan_gives_skip() {
        let doc = parse(SKIP_ALL);
        assert_eq!(doc.version.as_deref(), Some("TAP version 13"));
        assert_eq!(doc.plan, Some(0));
        assert_eq!(
            doc.skip_reason.as_deref(),
            Some("test requires root privileges")
        );
        assert!(doc.cases.is_empty());
        assert!(doc.is_ktap());
        assert_eq!(doc.problems, Vec::<String>::new());
        assert_eq!(doc.counts().total(), 0);
        assert_eq!(doc.overall(), Outcome::Skip);
    }

    #[test]
    fn timeout_outranks_pass_and_skip() {
        let doc = parse(TIMEOUT);
        assert_eq!(
            outcomes(&doc.cases),
            [Outcome::Timeout, Outcome::Pass, Outcome::Skip]
        );
        let bench = &doc.cases[0];
        assert_eq!(bench.reason.as_deref(), Some("45 seconds"));
        assert_eq!(
            bench.diagnostics,
            [
                "timeout set to 45",
                "selftests: net: udpgso_bench.sh",
                "ipv4",
                "tcp",
                "tcp rx:   1015 MB/s    17339 calls/s"
            ]
        );
        assert_eq!(doc.cases[2].directive.as_deref(), Some("SKIP"));
        assert_eq!(doc.counts(), counts(1, 0, 1, 0, 1));
        assert_eq!(doc.overall(), Outcome::Timeout);
        assert_eq!(
            paths(&doc),
            ["udpgso_bench.sh", "ip_defrag.sh", "psock_snd.sh"]
        );
    }

    #[test]
    fn bail_out_stops_parsing_and_errors() {
        let doc = parse(BAIL_OUT);
        assert_eq!(
            doc.bail_out.as_deref(),
            Some("mmap failed: Cannot allocate memory")
        );
        assert_eq!(
            names(&doc.cases),
            ["mmap anonymous region", "mprotect PROT_READ"]
        );
        assert_eq!(doc.totals, None, "lines after the bail out are not parsed");
        assert_eq!(doc.problems, ["line 2: plan 1..4 but 2 results"]);
        assert_eq!(doc.counts(), counts(2, 0, 0, 0, 0));
        assert_eq!(doc.overall(), Outcome::Error);
    }

    #[test]
    fn crashed_midway_is_an_error() {
        let doc = parse(CRASHED_MIDWAY);
        assert_eq!(doc.plan, Some(5));
        assert_eq!(names(&doc.cases), ["global.first", "global.second"]);
        assert_eq!(
            doc.cases[1].diagnostics,
            ["RUN           global.second ...", "OK  global.second"]
        );
        assert!(doc.plan_mismatch());
        assert_eq!(doc.problems, ["line 2: plan 1..5 but 2 results"]);
        assert_eq!(doc.counts(), counts(2, 0, 0, 0, 0));
        assert_eq!(doc.overall(), Outcome::Error);
    }

    #[test]
    fn crlf_line_endings_parse_the_same() {
        for fixture in [RUNNER_EMBEDDED, RUNNER_NESTED, KUNIT_STYLE, NESTED_KTAP] {
            let crlf = fixture.replace('\n', "\r\n");
            assert_eq!(parse(&crlf), parse(fixture));
        }
    }

    #[test]
    fn totals_line_is_parsed() {
        let doc = parse("TAP version 13\n1..1\nok 1 a\n# Totals: pass:1 fail:0 xfail:2 xpass:0 skip:3 error:4\n");
        let expected = Totals {
            pass: 1,
            xfail: 2,
            skip: 3,
            error: 4,
            ..Totals::default()
        };
        assert_eq!(doc.totals, Some(expected));
    }

    #[test]
    fn directives_map_to_outcomes() {
        let text = "KTAP version 1
1..10
ok 1 lower # skip not today
not ok 2 failing skip # SKIP
not ok 3 todo failing # TODO not done
ok 4 todo passing # TODO
not ok 5 expected failure # XFAIL known bug
not ok 6 broken # error setup failed
ok 7 check return code # rcode=0
ok 8 - dashed name
ok 9 # SKIP no name
ok 10 colon # Skipped: reason here
";
        let doc = parse(text);
        assert_eq!(doc.problems, Vec::<String>::new());
        let summary: Vec<_> = doc
            .cases
            .iter()
            .map(|c| {
                (
                    c.name.as_str(),
                    c.outcome,
                    c.directive.as_deref(),
                    c.reason.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("lower", Outcome::Skip, Some("SKIP"), Some("not today")),
                ("failing skip", Outcome::Skip, Some("SKIP"), None),
                (
                    "todo failing",
                    Outcome::Fail,
                    Some("TODO"),
                    Some("not done")
                ),
                ("todo passing", Outcome::Pass, Some("TODO"), None),
                (
                    "expected failure",
                    Outcome::Pass,
                    Some("XFAIL"),
                    Some("known bug")
                ),
                (
                    "broken",
                    Outcome::Error,
                    Some("ERROR"),
                    Some("setup failed")
                ),
                ("check return code", Outcome::Pass, None, Some("rcode=0")),
                ("dashed name", Outcome::Pass, None, None),
                ("", Outcome::Skip, Some("SKIP"), Some("no name")),
                ("colon", Outcome::Skip, Some("SKIP"), Some("reason here")),
            ]
        );
        assert_eq!(paths(&doc)[8], "#9");
        assert_eq!(doc.overall(), Outcome::Error);
    }

    #[test]
    fn numbering_problems_are_reported() {
        let text = "KTAP version 1\n1..4\nok first\nok 3 third\nok 99999999999 huge\nnot ok 4 fourth\n1..99999999999\n";
        let doc = parse(text);
        let numbers: Vec<_> = doc.cases.iter().map(|c| c.number).collect();
        assert_eq!(numbers, [None, Some(3), None, Some(4)]);
        assert_eq!(
            doc.problems,
            [
                "line 3: result without a test number",
                "line 4: test number 3 out of order (expected 2)",
                "line 5: test number out of range",
                "line 6: test number 4 out of order (expected 5)",
                "line 7: plan count out of range",
            ]
        );
        assert_eq!(doc.plan, Some(4));
        assert_eq!(doc.overall(), Outcome::Fail);
    }

    #[test]
    fn tap14_subtest_headers_nest() {
        let text = "TAP version 14
1..2
# Subtest: foo
    1..2
    ok 1 - a
    ok 2 - b
ok 1 - foo
    # Subtest: bar
    1..1
    not ok 1 - c
not ok 2 - bar
";
        let doc = parse(text);
        assert_eq!(doc.problems, Vec::<String>::new());
        assert_eq!(names(&doc.cases), ["foo", "bar"]);
        assert_eq!(names(&doc.cases[0].subtests), ["a", "b"]);
        assert_eq!(names(&doc.cases[1].subtests), ["c"]);
        assert!(doc.cases[1].diagnostics.is_empty());
        assert_eq!(paths(&doc), ["foo", "foo.a", "foo.b", "bar", "bar.c"]);
    }

    #[test]
    fn subtests_without_parent_result_become_error_cases() {
        let text = "KTAP version 1
1..2
    KTAP version 1
    # Subtest: first
    1..1
    ok 1 a
    KTAP version 1
    # Subtest: second
    1..2
    ok 1 b
";
        let doc = parse(text);
        assert_eq!(names(&doc.cases), ["first", "second"]);
        assert_eq!(outcomes(&doc.cases), [Outcome::Error, Outcome::Error]);
        assert_eq!(doc.cases[0].reason.as_deref(), Some("no result line"));
        assert_eq!(names(&doc.cases[0].subtests), ["a"]);
        assert_eq!(names(&doc.cases[1].subtests), ["b"]);
        assert_eq!(
            doc.problems,
            [
                "line 3: subtests without a result line",
                "line 7: subtests without a result line",
                "line 9: plan 1..2 but 1 results",
            ]
        );
        assert_eq!(doc.overall(), Outcome::Error);
    }

    #[test]
    fn embedded_program_without_result_line_is_an_error_case() {
        let text =
            "TAP version 13\n1..1\n# selftests: net: tls\n# TAP version 13\n# 1..1\n# ok 1 first\n";
        let doc = parse(text);
        assert_eq!(names(&doc.cases), ["selftests: net: tls"]);
        assert_eq!(doc.cases[0].outcome, Outcome::Error);
        assert_eq!(names(&doc.cases[0].subtests), ["first"]);
        assert_eq!(doc.problems, ["line 4: subtests without a result line"]);
        assert_eq!(doc.overall(), Outcome::Error);
    }

    #[test]
    fn unknown_lines_do_not_break_nesting() {
        let text = "KTAP version 1
1..1
  KTAP version 1
  1..2
[    1.000000] random kernel message
  ok 1 test_1
        indented noise
  not ok 2 test_2
# example failed
not ok 1 example
";
        let doc = parse(text);
        assert_eq!(doc.problems, Vec::<String>::new());
        assert_eq!(names(&doc.cases[0].subtests), ["test_1", "test_2"]);
        assert_eq!(doc.cases[0].diagnostics, ["example failed"]);
        assert_eq!(doc.overall(), Outcome::Fail);
    }

    #[test]
    fn embedded_bail_out_does_not_abort_the_runner() {
        let text = "TAP version 13
1..2
# selftests: bpf: test_progs
# TAP version 13
# 1..3
# ok 1 setup
# Bail out! cannot open /dev/null
not ok 1 selftests: bpf: test_progs # exit=1
ok 2 selftests: bpf: test_maps
";
        let doc = parse(text);
        assert_eq!(doc.bail_out, None);
        assert_eq!(outcomes(&doc.cases), [Outcome::Fail, Outcome::Pass]);
        assert_eq!(names(&doc.cases[0].subtests), ["setup"]);
        assert_eq!(
            doc.problems,
            [
                "line 5: plan 1..3 but 1 results",
                "line 7: embedded test bailed out: cannot open /dev/null",
            ]
        );
        assert_eq!(doc.overall(), Outcome::Fail);
    }

    #[test]
    fn kselftest_plan_mismatch_message_is_a_problem() {
        let text = "TAP version 13\n1..1\nok 1 a\n# Planned tests != run tests (2 != 1)\n";
        let doc = parse(text);
        assert_eq!(
            doc.problems,
            ["line 4: kselftest reported: Planned tests != run tests (2 != 1)"]
        );
    }

    #[test]
    fn missing_version_and_plan_are_reported() {
        let doc = parse("ok 1 a\nok 2 b\n");
        assert!(doc.is_ktap());
        assert_eq!(
            doc.problems,
            ["line 1: no version line", "line 1: no plan line"]
        );
        assert_eq!(doc.overall(), Outcome::Pass);
    }

    #[test]
    fn non_ktap_text_is_recognised() {
        for text in ["", "\n\n", "hello\nworld\n", "okay then\nnot okay\n"] {
            let doc = parse(text);
            assert!(!doc.is_ktap(), "{text:?}");
            assert_eq!(doc.overall(), Outcome::Error);
            assert!(doc.problems.is_empty());
        }
    }

    #[test]
    fn roll_up_ranks_outcomes() {
        let overall = |body: &str| parse(&format!("KTAP version 1\n1..2\n{body}")).overall();
        assert_eq!(overall("ok 1 a # SKIP\nok 2 b # SKIP\n"), Outcome::Skip);
        assert_eq!(overall("ok 1 a # SKIP\nok 2 b\n"), Outcome::Pass);
        assert_eq!(overall("not ok 1 a\nok 2 b\n"), Outcome::Fail);
        assert_eq!(
            overall("not ok 1 a\nnot ok 2 b # TIMEOUT\n"),
            Outcome::Timeout
        );
        assert_eq!(
            overall("not ok 1 a # ERROR\nnot ok 2 b # TIMEOUT\n"),
            Outcome::Error
        );
        assert_eq!(overall("ok 1 a\nok 2 b\nok 3 c\n"), Outcome::Error);
    }

    #[test]
    fn short_name_strips_runner_prefix() {
        let case = |name: &str| Case {
            number: Some(1),
            name: name.to_string(),
            outcome: Outcome::Pass,
            directive: None,
            reason: None,
            diagnostics: Vec::new(),
            subtests: Vec::new(),
        };
        assert_eq!(
            case("selftests: mm: memfd_secret").short_name(),
            "memfd_secret"
        );
        assert_eq!(case("selftests: net/forwarding: a: b").short_name(), "a: b");
        assert_eq!(case("selftests: oops").short_name(), "selftests: oops");
        assert_eq!(case("plain").short_name(), "plain");
    }

    #[test]
    fn serde_uses_uppercase_outcomes() {
        assert_eq!(
            serde_json::to_string(&Outcome::Timeout).unwrap(),
            "\"TIMEOUT\""
        );
        let parsed: Outcome = serde_json::from_str("\"SKIP\"").unwrap();
        assert_eq!(parsed, Outcome::Skip);
        let counts = counts(1, 2, 3, 4, 5);
        let json = serde_json::to_string(&counts).unwrap();
        assert_eq!(serde_json::from_str::<Counts>(&json).unwrap(), counts);
        assert_eq!(counts.total(), 15);
    }

    #[test]
    fn deep_indentation_is_bounded() {
        let text: String = (0..1_000)
            .map(|level| {
                format!(
                    "{}KTAP version 1\n{}ok 1 t{level}\n",
                    " ".repeat(level * 2),
                    " ".repeat(level * 2)
                )
            })
            .collect();
        let doc = parse(&text);
        assert!(depth(&doc.cases) <= MAX_DEPTH);
        assert!(doc.problems.iter().any(|p| p.contains("nesting too deep")));
    }

    #[test]
    fn deep_embedding_is_bounded() {
        let text: String = (0..2_000)
            .map(|level| format!("{}TAP version 13\n", "# ".repeat(level)))
            .collect();
        let doc = parse(&format!("{text}ok 1 outer\n"));
        assert!(depth(&doc.cases) <= MAX_DEPTH);
        assert!(doc.problems.iter().any(|p| p.contains("nesting too deep")));
    }

    #[test]
    fn hostile_lines_do_not_panic() {
        let long_name = "x".repeat(1 << 20);
        let inputs = [
            format!("KTAP version 1\n1..1\nok 1 {long_name} # SKIP {long_name}\n"),
            format!("ok {} overflow\n", "9".repeat(10_000)),
            "ok 4294967295 max\nok 4294967296 over\n1..4294967295\n".to_string(),
            "\r\n\r\r\n#\n# \n#\t\nok\nnot ok\n1..\n1..x\nBail out!\n".to_string(),
            "ok 1 ünïcødé # ŠKIP 💥\n\t\tnot ok 2 tabs\u{a0}# TIMEOUT\n".to_string(),
        ];
        for input in &inputs {
            let doc = parse(input);
            let _ = (
                doc.overall(),
                doc.counts(),
                doc.leaf_counts(),
                doc.flatten(),
            );
        }
        let doc = parse(&inputs[2]);
        assert_eq!(doc.cases[0].number, Some(u32::MAX));
        assert_eq!(doc.cases[1].number, None);
        assert_eq!(doc.plan, Some(u32::MAX));
        assert_eq!(doc.overall(), Outcome::Error);
    }

    /// Small deterministic generator, so the fuzz test needs no dependency.
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self, bound: usize) -> usize {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            usize::try_from(self.0 >> 33).unwrap_or(0) % bound
        }
    }

    #[test]
    fn random_garbage_does_not_panic() {
        let fragments = [
            "ok",
            "not ok",
            "#",
            "# ",
            "KTAP version 1",
            "TAP version 13",
            "1..",
            "1..0",
            "3",
            "4294967296",
            " ",
            "  ",
            "\t",
            "\r",
            "Bail out!",
            "# SKIP",
            "# TIMEOUT",
            "#XFAIL",
            "Subtest:",
            "selftests: a: b",
            "Totals: pass:x",
            "é",
            "💥",
            "-",
            "name",
            "\u{0}",
        ];
        let mut rng = Lcg(0x5eed);
        for _ in 0..500 {
            let mut text = String::new();
            for _ in 0..rng.next(60) {
                text.push_str(&" ".repeat(rng.next(12)));
                text.push_str(&"# ".repeat(rng.next(3)));
                for _ in 0..rng.next(5) {
                    text.push_str(fragments[rng.next(fragments.len())]);
                    text.push(' ');
                }
                text.push_str(if rng.next(4) == 0 { "\r\n" } else { "\n" });
            }
            let doc = parse(&text);
            let flat = doc.flatten();
            assert!(flat.len() >= doc.cases.len());
            assert_eq!(doc.counts().total() as usize, doc.cases.len());
            let _ = (doc.overall(), doc.leaf_counts(), doc.is_ktap());
        }
    }
}
