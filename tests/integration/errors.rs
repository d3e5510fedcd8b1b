//! Bad input never reaches the API: exit 2 with a diagnostic at the right line.

use crate::harness::{Dir, Sandbox, run};

fn check(runbook: &str, expected: &[&str]) {
    let dir = Dir::new();
    let path = dir.write("bad.yaml", runbook);
    let sandbox = Sandbox::start();
    let out = run(sandbox.bin().arg("run").arg("--yes").arg(&path));
    out.code(2);
    for text in expected {
        assert!(
            out.stderr.contains(text),
            "missing {text:?} in\n{}",
            out.stderr
        );
    }
    assert_eq!(sandbox.total_calls(), 0, "no API call for a bad runbook");
}

#[test]
fn a_cycle_is_reported_with_its_path_and_no_call_is_made() {
    check(
        "version: 1
name: cyc
targets: {instances: [i-sandbox0000000000001]}
steps:
  - name: a
    depends_on: [c]
    script: 'true'
  - name: b
    depends_on: [a]
    script: 'true'
  - name: c
    depends_on: [b]
    script: 'true'
",
        &["a -> c -> b -> a", "bad.yaml:6:"],
    );
}

#[test]
fn an_unknown_dependency_is_reported_at_its_line() {
    check(
        "version: 1
name: typo
targets: {instances: [i-sandbox0000000000001]}
steps:
  - name: compile
    script: make
  - name: test
    depends_on: [compille]
    script: make test
",
        &["compille", "bad.yaml:8:", "compile"],
    );
}

#[test]
fn a_misspelt_key_is_reported_with_a_suggestion() {
    check(
        "version: 1
name: typo
targets: {instances: [i-sandbox0000000000001]}
steps:
  - name: a
    scirpt: echo hi
",
        &["scirpt", "bad.yaml:6:5", "script"],
    );
}
