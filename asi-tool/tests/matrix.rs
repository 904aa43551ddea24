//! `asi-tool matrix list` on the project's own ci/matrix.toml and `matrix
//! summarize` on fixture cells, through the real binary (no kernel is built).

use std::path::Path;
use std::process::{Command, Output};

mod common;
use common::*;

fn asi(args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--project")
        .arg(project())
        .args(args)
        .output()
        .expect("asi-tool runs")
}

#[test]
fn the_project_matrix_lists_its_versions_for_ci() {
    let out = asi(&["matrix", "list", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v.len(), 3, "{v:?}");
    assert_eq!(v[0], "6.12.107");
    let out = asi(&["matrix", "list"]);
    let text = String::from_utf8_lossy(&out.stdout);
    // 3 versions x 3 configs, and the two debug cells of 6.12.107 only.
    assert_eq!(text.lines().count(), 11, "{text}");
    assert!(text.contains("6.12.107-baseline"), "{text}");
    for debug in ["6.12.107-asi-on-debug", "6.12.107-baseline-debug"] {
        let line = text
            .lines()
            .find(|l| l.starts_with(debug))
            .unwrap_or_else(|| panic!("{text}"));
        assert!(line.ends_with("kconfig + 70-debug.config"), "{line}");
    }
    assert!(!text.contains("7.2-asi-on-debug"), "{text}");
}

#[test]
fn summarize_merges_cell_directories_and_diffs_the_previous_run() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/matrix");
    let tmp = tempfile::tempdir().unwrap();
    let prev_out = tmp.path().join("prev");
    let latest = tmp.path().join("latest-summary.json");
    // The previous night: all passed; it becomes the reference.
    let out = asi(&[
        "matrix",
        "summarize",
        fixtures.join("previous").to_str().unwrap(),
        "--kernel",
        "7.2",
        "--kernel",
        "7.3",
        "--config",
        "asi-on",
        "--config",
        "baseline",
        "--out",
        prev_out.to_str().unwrap(),
        "--previous",
        latest.to_str().unwrap(),
        "--update-previous",
    ]);
    // 7.3-baseline has no result: MISS, exit 3.
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(latest.is_file());
    // Tonight: memfd_secret fails on 7.2 with the queue.
    let now = tmp.path().join("now");
    let out = asi(&[
        "matrix",
        "summarize",
        fixtures.join("run1").to_str().unwrap(),
        "--kernel",
        "7.2",
        "--config",
        "asi-on",
        "--config",
        "baseline",
        "--out",
        now.to_str().unwrap(),
        "--previous",
        latest.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let md = std::fs::read_to_string(now.join("summary.md")).unwrap();
    assert!(md.contains("| 7.2 | 7.2.13 | asi-on | **FAIL** |"), "{md}");
    assert!(
        md.contains("`7.2-asi-on` `memfd_secret`: passed in 7.2-baseline, now FAIL"),
        "{md}"
    );
    assert!(
        md.contains("`7.2-asi-on` `memfd_secret`: passed in previous run (7.2.12), now FAIL"),
        "{md}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(now.join("summary.json")).unwrap()).unwrap();
    assert_eq!(json["status"], "FAIL");
    assert_eq!(json["cells"].as_array().unwrap().len(), 2);
    let out = asi(&["matrix", "summarize", "/nonexistent-dir"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_broken_matrix_file_is_an_input_error_for_every_command() {
    // A project whose ci/matrix.toml does not parse: exit 3 (a broken input
    // file) from `matrix list` and from `kernel gc`, which reads it too.
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path();
    std::fs::create_dir_all(p.join("patches")).unwrap();
    std::fs::create_dir_all(p.join("kconfig")).unwrap();
    std::fs::create_dir_all(p.join("ci")).unwrap();
    std::fs::write(p.join("patches/series"), "").unwrap();
    std::fs::write(p.join("ci/matrix.toml"), "garbage [[[\n").unwrap();
    for args in [&["matrix", "list"][..], &["kernel", "gc", "--dry-run"][..]] {
        let out = Command::new(BIN)
            .arg("--project")
            .arg(p)
            .arg("--cache-dir")
            .arg(p.join("cache"))
            .args(args)
            .output()
            .expect("asi-tool runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {err}");
        assert!(err.contains("matrix.toml"), "{args:?}: {err}");
    }
}

#[test]
fn a_broken_cell_stops_the_matrix_before_any_fetch() {
    // Two versions; the first cell (a baseline) is fine, the variant queue
    // of the second version names a patch that is not there. `asi-tool
    // matrix` must say so, naming the cell, before it fetches the first
    // version or writes any results.
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path();
    project_with_manifest(p, "[[test]]\nname='t'\nsource='t.sh'\nappend='asi=on'\n");
    for d in ["patches/forwardports/7.3", "ci"] {
        std::fs::create_dir_all(p.join(d)).unwrap();
    }
    std::fs::write(
        p.join("patches/forwardports/7.3/series"),
        "# from-series: x\n0001-no-such-patch.patch\n",
    )
    .unwrap();
    std::fs::write(
        p.join("ci/matrix.toml"),
        "[[kernel]]\nversion = \"6.12.107\"\n[[kernel]]\nversion = \"7.3\"\n\
         [[config]]\nname = \"baseline\"\npatched = false\nappend = \"\"\n\
         [[config]]\nname = \"asi-on\"\npatched = true\nappend = \"asi=on\"\n\
         kernels = [\"7.3\"]\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .arg("--project")
        .arg(p)
        .arg("--cache-dir")
        .arg(p.join("cache"))
        .args(["matrix", "--out", &p.join("cells").to_string_lossy()])
        .output()
        .expect("asi-tool runs");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("matrix cell 7.3-asi-on") && err.contains("0001-no-such-patch.patch"),
        "{err}"
    );
    assert!(!p.join("cells").exists(), "the matrix wrote results");
    assert!(
        !p.join("cache/kernels").exists(),
        "the matrix fetched a kernel"
    );
}
