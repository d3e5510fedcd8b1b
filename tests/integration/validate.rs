//! `validate` through the binary: files and folders (recursively), exit 0 or 2, every problem
//! of a file at once, `--format json` records for CI annotations, and no credentials or
//! network needed.

use serde_json::Value;

use crate::harness::{Dir, bin, repo, run};

const GOOD: &str =
    "name: good\ntargets: {instances: [i-abc]}\nsteps:\n  - name: a\n    script: echo ok\n";

#[test]
fn files_and_folders_are_checked_recursively() {
    let dir = Dir::new();
    dir.write("top.yaml", GOOD);
    dir.write("team/deep/nested.yml", GOOD);
    dir.write("team/broken.yaml", "name: broken\nsteps: []\n");
    dir.write("team/notes.txt", "not a runbook");
    dir.write(".git/hidden.yaml", "not: [a runbook");
    let out = run(bin().arg("validate").arg(dir.path()));
    out.code(2);
    let root = format!("{}/", dir.path().display());
    let lines: Vec<String> = out.stdout.lines().map(|l| l.replace(&root, "")).collect();
    assert_eq!(
        lines,
        [
            "error team/broken.yaml",
            "ok team/deep/nested.yml",
            "ok top.yaml"
        ]
    );
    assert!(
        out.stderr.contains("3 runbooks checked, 1 with errors"),
        "{}",
        out.stderr
    );
    // One good file, and several paths at once.
    run(bin().arg("validate").arg(dir.path().join("top.yaml"))).code(0);
    run(bin()
        .arg("validate")
        .arg(dir.path().join("top.yaml"))
        .arg(dir.path().join("team/deep")))
    .code(0);
}

#[test]
fn every_example_runbook_validates() {
    let out = run(bin().current_dir(repo()).args(["validate", "runbooks"]));
    out.code(0);
    for name in crate::plan::example_runbooks() {
        assert!(
            out.stdout.contains(&format!("ok runbooks/{name}")),
            "{}",
            out.stdout
        );
    }
}

/// No credentials, no region, and an endpoint nobody answers: `validate` calls nothing.
#[test]
fn validate_needs_no_credentials_or_network() {
    let home = Dir::new();
    let out = run(bin()
        .current_dir(repo())
        .env("HOME", home.path())
        .env("ECS_RUNBOOK_ENDPOINT", "http://10.255.255.1:9")
        .args(["validate", "runbooks", "tests/corpus/valid"]));
    out.code(0);
    assert!(!out.stdout.contains("error"), "{}", out.stdout);
}

/// Loader and template problems of one file come at once, each with its place.
#[test]
fn json_records_carry_path_line_column_and_message() {
    let dir = Dir::new();
    let path = dir.write(
        "mixed.yaml",
        "name: mixed
targets: {instances: [i-abc]}
vars:
  package: nginx
steps:
  - name: a
    scirpt: echo hi
  - name: b
    timeout: 10min
    script: yum install {{ pakage }}
  - name: c
    depends_on: [bb]
    script: echo c
",
    );
    dir.write("ok.yaml", GOOD);
    let out = run(bin().current_dir(dir.path()).args([
        "validate",
        "--format",
        "json",
        "mixed.yaml",
        "ok.yaml",
    ]));
    out.code(2);
    let doc: Value = serde_json::from_str(&out.stdout).expect("one JSON document");
    assert_eq!(doc["errors"], 1);
    assert_eq!(doc["files"][1]["path"], "ok.yaml");
    assert_eq!(doc["files"][1]["ok"], true);
    assert_eq!(doc["files"][1]["diagnostics"], serde_json::json!([]));
    let file = &doc["files"][0];
    assert_eq!(file["path"], "mixed.yaml");
    assert_eq!(file["ok"], false);
    let got: Vec<(u64, u64, &str, &str)> = file["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .map(|d| {
            assert_eq!(d["path"], "mixed.yaml");
            assert_eq!(d["severity"], "error");
            (
                d["line"].as_u64().expect("a line"),
                d["column"].as_u64().expect("a column"),
                d["code"].as_str().expect("a code"),
                d["message"].as_str().expect("a message"),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                7,
                5,
                "runbook::unknown-key",
                "unknown key `scirpt` in step `a`"
            ),
            (9, 14, "runbook::duration", "invalid duration `10min`"),
            (
                10,
                28,
                "template::undefined",
                "step `b` uses undefined variable `pakage`"
            ),
            (
                12,
                18,
                "runbook::unknown-dependency",
                "step `c` depends on unknown step `bb`"
            ),
        ]
    );
    let helps: Vec<&str> = file["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .map(|d| d["help"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(helps[0], "did you mean `script`?");
    assert_eq!(helps[2], "did you mean `package`?");
    assert_eq!(helps[3], "did you mean `b`?");
    // The text form shows the same problems, rendered.
    let text = run(bin().arg("validate").arg(&path));
    text.code(2);
    assert!(text.stderr.contains("found 4 errors in"), "{}", text.stderr);
}

/// Case B12: `continue_on_error: yes` is rejected at its line, naming the key and what a
/// boolean is.
#[test]
fn b12_yes_is_not_read_as_a_boolean() {
    let out = run(bin().current_dir(repo()).args([
        "validate",
        "--format",
        "json",
        "tests/corpus/broken/b12-continue-on-error-yes.yaml",
    ]));
    out.code(2);
    let doc: Value = serde_json::from_str(&out.stdout).expect("JSON");
    let record = &doc["files"][0]["diagnostics"][0];
    assert_eq!(record["line"], 13);
    assert_eq!(record["column"], 5);
    assert_eq!(
        record["message"],
        "unknown key `continue_on_error` in step `install`"
    );
    let help = record["help"].as_str().expect("help");
    assert!(help.contains("`on_failure: continue`"), "{help}");
    assert!(help.contains("booleans are `true` or `false`"), "{help}");
}

/// `ecs-runbook schema` prints the committed schema, byte for byte.
#[test]
fn schema_prints_the_committed_schema() {
    let out = run(bin().arg("schema"));
    out.code(0);
    let committed =
        std::fs::read_to_string(repo().join("schemas/runbook.schema.json")).expect("the schema");
    assert!(
        out.stdout == committed,
        "schemas/runbook.schema.json is not what `ecs-runbook schema` prints; regenerate it"
    );
}

/// A folder with no runbook is most likely a wrong path: exit 2, not "0 checked"; a link loop
/// or a second link to a folder neither hangs nor checks a file twice.
#[test]
fn an_empty_folder_is_an_error_and_links_are_followed_once() {
    let dir = Dir::new();
    std::fs::create_dir_all(dir.path().join("empty")).expect("mkdir");
    dir.write("empty/README.txt", "no runbooks here");
    let out = run(bin().arg("validate").arg(dir.path().join("empty")));
    out.code(2);
    assert!(
        out.stderr
            .contains("no runbook (`*.yaml` or `*.yml`) under"),
        "{}",
        out.stderr
    );

    dir.write("books/a.yaml", GOOD);
    std::os::unix::fs::symlink("..", dir.path().join("books/loop")).expect("symlink");
    std::os::unix::fs::symlink(dir.path().join("books"), dir.path().join("again"))
        .expect("symlink");
    std::os::unix::fs::symlink(
        dir.path().join("books/a.yaml"),
        dir.path().join("books/b.yaml"),
    )
    .expect("symlink");
    let out = run(bin()
        .arg("validate")
        .arg(dir.path().join("books"))
        .arg(dir.path().join("again")));
    out.code(0);
    let root = format!("{}/", dir.path().display());
    let lines: Vec<String> = out.stdout.lines().map(|l| l.replace(&root, "")).collect();
    assert_eq!(lines, ["ok books/a.yaml"], "{}", out.stderr);
    assert!(out.stderr.contains("1 runbook checked"), "{}", out.stderr);
}
