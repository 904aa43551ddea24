//! `asi-tool test` checks the test manifest and the --filter selection
//! before it fetches a kernel or makes a run directory: a typo must not
//! cost a fetch and a 15-minute build before it is reported. A run that
//! fails after that leaves a results.json that says where and why.

use std::path::Path;
use std::process::{Command, Output};

mod common;
use common::*;

fn asi_test(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--project")
        .arg(dir)
        .arg("--cache-dir")
        .arg(dir.join("cache"))
        .arg("test")
        .args(args)
        .output()
        .expect("asi-tool runs")
}

/// Nothing was fetched and no run directory was made.
fn no_work_done(dir: &Path) {
    assert!(!dir.join("results").exists(), "a run directory was made");
    let cached = std::fs::read_dir(dir.join("cache"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(cached, 0, "something was fetched into the cache");
}

const ONE_TEST: &str = r#"
[[test]]
name = "guest_smoke"
source = "guest_smoke.sh"
append = ""
timeout = 30
"#;

#[test]
fn a_filter_that_selects_nothing_is_a_usage_error_before_any_fetch() {
    let tmp = tempfile::tempdir().unwrap();
    project_with_manifest(tmp.path(), ONE_TEST);
    let out = asi_test(tmp.path(), &["--filter", "no_such_test"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no test selected"),
        "{}",
        stderr(&out)
    );
    no_work_done(tmp.path());
}

#[test]
fn a_broken_manifest_is_reported_before_any_fetch() {
    let tmp = tempfile::tempdir().unwrap();
    project_with_manifest(tmp.path(), &ONE_TEST.replace("timeout = 30", "timeout = 0"));
    let out = asi_test(tmp.path(), &[]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("manifest.toml") && stderr(&out).contains("timeout must be > 0"),
        "{}",
        stderr(&out)
    );
    no_work_done(tmp.path());
}

#[test]
fn a_queue_that_does_not_load_is_reported_before_any_fetch() {
    let tmp = tempfile::tempdir().unwrap();
    project_with_manifest(tmp.path(), ONE_TEST);
    std::fs::write(
        tmp.path().join("patches/series"),
        "0001-no-such-patch.patch\n",
    )
    .unwrap();
    let out = asi_test(tmp.path(), &["--kernel", "6.12.107"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("does not load") && stderr(&out).contains("0001-no-such-patch.patch"),
        "{}",
        stderr(&out)
    );
    no_work_done(tmp.path());
}

/// The same for a --tree: the queue its Makefile's version gets is
/// loaded before the tree is imported (no worktree, no run directory).
#[test]
fn a_queue_that_does_not_load_is_reported_before_a_tree_is_used() {
    let tmp = tempfile::tempdir().unwrap();
    project_with_manifest(tmp.path(), ONE_TEST);
    std::fs::create_dir_all(tmp.path().join("patches/forwardports/6.12")).unwrap();
    std::fs::write(
        tmp.path().join("patches/forwardports/6.12/series"),
        "# from-series: x\n0001-no-such-patch.patch\n",
    )
    .unwrap();
    let tree = tmp.path().join("linux");
    kernel_repo(&tree);
    let out = asi_test(tmp.path(), &["--tree", &tree.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("the queue for 6.12")
            && stderr(&out).contains("0001-no-such-patch.patch"),
        "{}",
        stderr(&out)
    );
    no_work_done(tmp.path());
    assert!(!tmp.path().join("cache").exists(), "the tree was used");
}

#[test]
fn a_broken_kconfig_fragment_is_reported_before_any_fetch() {
    let tmp = tempfile::tempdir().unwrap();
    project_with_manifest(tmp.path(), ONE_TEST);
    std::fs::write(
        tmp.path().join("kconfig/00-base.config"),
        "# a typo: no CONFIG_ prefix\nNET_NS=y\n",
    )
    .unwrap();
    // --baseline: no queue to load, so the fragments are what fails.
    let out = asi_test(tmp.path(), &["--baseline"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("00-base.config") && stderr(&out).contains("not a Kconfig fragment"),
        "{}",
        stderr(&out)
    );
    no_work_done(tmp.path());
}

#[test]
fn a_run_that_fails_after_it_started_leaves_an_error_record() {
    let tmp = tempfile::tempdir().unwrap();
    project_with_manifest(tmp.path(), ONE_TEST);
    let not_git = tmp.path().join("not-a-git-tree");
    std::fs::create_dir(&not_git).unwrap();
    let out = asi_test(tmp.path(), &["--tree", not_git.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let record = tmp.path().join("results/latest/results.json");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&record).unwrap()).unwrap();
    assert_eq!(r["schema"], 1);
    assert_eq!(r["status"], "ERROR");
    assert_eq!(r["stage"], "fetch");
    assert_eq!(r["exit_code"], 3);
    assert!(
        r["reason"]
            .as_str()
            .unwrap()
            .contains("is not a git repository"),
        "{r}"
    );
    assert!(
        r["reproduce"]
            .as_str()
            .unwrap()
            .starts_with("asi-tool test --tree "),
        "{r}"
    );
}

/// A `numa_nodes` out of range is a broken manifest; a `--memory` that
/// does not split into a NUMA test's nodes is a usage error: both said
/// before any fetch. (`--tree` names a directory that is no kernel tree,
/// so that a check that failed to stop the run would end at once.)
#[test]
fn a_numa_test_that_cannot_boot_is_reported_before_any_fetch() {
    let tmp = tempfile::tempdir().unwrap();
    let not_git = tmp.path().join("not-a-git-tree");
    std::fs::create_dir(&not_git).unwrap();
    let tree = not_git.to_str().unwrap();
    project_with_manifest(tmp.path(), &format!("{ONE_TEST}numa_nodes = 9\n"));
    let out = asi_test(tmp.path(), &["--tree", tree]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("test guest_smoke: numa_nodes = 9")
            && stderr(&out).contains("from 2 to 8"),
        "{}",
        stderr(&out)
    );
    no_work_done(tmp.path());

    let tmp = tempfile::tempdir().unwrap();
    let not_git = tmp.path().join("not-a-git-tree");
    std::fs::create_dir(&not_git).unwrap();
    let tree = not_git.to_str().unwrap();
    project_with_manifest(tmp.path(), &format!("{ONE_TEST}numa_nodes = 2\n"));
    let out = asi_test(tmp.path(), &["--tree", tree, "--memory", "1025M"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("test guest_smoke: guest memory 1025M")
            && stderr(&out).contains("does not split evenly into 2 NUMA nodes"),
        "{}",
        stderr(&out)
    );
    no_work_done(tmp.path());
}

/// The project's own Kconfig fragments: the debug fragment is opt-in, so
/// the default build (patched or baseline) never merges it; asked for,
/// it is merged last.
#[test]
fn the_default_build_never_gets_the_debug_fragment() {
    let dir = project().join("kconfig");
    let names = |patched, extra: &[String]| -> Vec<String> {
        asi_tool::kconfig::load(&dir, patched, extra)
            .unwrap()
            .into_iter()
            .map(|f| f.name)
            .collect()
    };
    let debug = vec!["70-debug.config".to_string()];
    for patched in [true, false] {
        assert!(!names(patched, &[]).contains(&debug[0]));
        assert_eq!(names(patched, &debug).last(), Some(&debug[0]));
    }
    assert_eq!(
        asi_tool::kconfig::build_suffix(&debug).as_deref(),
        Some("debug")
    );
}

/// `--kconfig` must name an opt-in fragment of kconfig/: a typo, or a
/// fragment every build gets anyway, is a usage error before any fetch.
#[test]
fn a_kconfig_fragment_that_is_not_opt_in_is_a_usage_error_before_any_fetch() {
    for (name, why) in [
        ("70-debg.config", "no Kconfig fragment \"70-debg.config\""),
        (
            "10-tests.config",
            "10-tests.config is merged into every build",
        ),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        project_with_manifest(tmp.path(), ONE_TEST);
        // --baseline: no queue to load, so the fragments are what fails.
        let out = asi_test(tmp.path(), &["--baseline", "--kconfig", name]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(err.contains(why), "{name}: {err}");
        assert!(
            err.contains("70-debug.config"),
            "names what there is: {err}"
        );
        no_work_done(tmp.path());
    }
}

/// A matrix config whose `kconfig` names no opt-in fragment of kconfig/
/// makes ci/matrix.toml a broken input file (exit 3), said before any
/// cell is fetched or any run directory made.
#[test]
fn a_matrix_config_with_an_unknown_fragment_is_refused_before_any_fetch() {
    for (name, why) in [
        ("70-debg.config", "no Kconfig fragment \"70-debg.config\""),
        (
            "00-base.config",
            "00-base.config is merged into every build",
        ),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        project_with_manifest(tmp.path(), ONE_TEST);
        std::fs::create_dir_all(tmp.path().join("ci")).unwrap();
        std::fs::write(
            tmp.path().join("ci/matrix.toml"),
            format!(
                "[[kernel]]\nversion = \"6.12.107\"\n\
                 [[config]]\nname = \"asi-on\"\npatched = true\nappend = \"asi=on\"\n\
                 [[config]]\nname = \"asi-on-debug\"\npatched = true\nappend = \"asi=on\"\n\
                 kconfig = [\"{name}\"]\nkernels = [\"6.12.107\"]\n"
            ),
        )
        .unwrap();
        let out = Command::new(BIN)
            .arg("--project")
            .arg(tmp.path())
            .arg("--cache-dir")
            .arg(tmp.path().join("cache"))
            .args(["matrix", "--config", "asi-on", "--no-previous", "--out"])
            .arg(tmp.path().join("results/matrix/x"))
            .output()
            .expect("asi-tool runs");
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(3), "{name}: {err}");
        assert!(
            err.contains("matrix.toml: config asi-on-debug: kconfig:") && err.contains(why),
            "{name}: {err}"
        );
        no_work_done(tmp.path());
    }
}

/// A version that is not MAJOR.MINOR[.PATCH] is refused by the command
/// line parser itself (exit 2), by every command that takes one, before
/// anything is fetched or made; the matrix file and the fetcher use the
/// same parser (`version::KernelVersion`).
#[test]
fn a_bad_kernel_version_is_a_usage_error_before_anything_runs() {
    let tmp = tempfile::tempdir().unwrap();
    project_with_manifest(
        tmp.path(),
        "[[test]]\nname='t'\nsource='t.sh'\nappend='asi=on'\n",
    );
    for args in [
        &["test", "--kernel", "6.+12"][..],
        &["test", "--kernel", "6"][..],
        &["build", "--kernel", "v6.12"][..],
        &["kernel", "fetch", "6.12-rc1"][..],
        &["rebase", "--onto", "7"][..],
        &["matrix", "--kernel", "7.3."][..],
    ] {
        let out = Command::new(BIN)
            .arg("--project")
            .arg(tmp.path())
            .arg("--cache-dir")
            .arg(tmp.path().join("cache"))
            .args(args)
            .output()
            .expect("asi-tool runs");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("is not a kernel version"),
            "{args:?}: {}",
            stderr(&out)
        );
        no_work_done(tmp.path());
        assert!(
            !tmp.path().join("cache").exists(),
            "{args:?} made the cache"
        );
    }
}
