//! `run` end to end against the sandbox: the runbooks in `runbooks/`, gates, failures.

use crate::harness::{Dir, Sandbox, bin, repo, run};

const I1: &str = "i-sandbox0000000000001";
const I2: &str = "i-sandbox0000000000002";
const I3: &str = "i-sandbox0000000000003";

/// Lines of the results block of one instance: `  <id>: <state>` then `    | <output>`.
fn instance_block<'a>(stdout: &'a str, step: &str, instance: &str) -> Vec<&'a str> {
    let start = stdout
        .find(&format!("step `{step}`"))
        .unwrap_or_else(|| panic!("no step `{step}` in\n{stdout}"));
    let rest = &stdout[start..];
    let at = rest
        .find(&format!("  {instance}:"))
        .unwrap_or_else(|| panic!("no instance {instance} under `{step}` in\n{stdout}"));
    rest[at..]
        .lines()
        .enumerate()
        .take_while(|(i, l)| *i == 0 || l.starts_with("    "))
        .map(|(_, l)| l)
        .collect()
}

/// The README's main command: `echo 123` on two instances, exit 0.
#[test]
fn echo_123_prints_123_on_each_instance() {
    let out = run(bin()
        .current_dir(repo())
        .args(["run", "--sandbox", "runbooks/echo-123.yaml"]));
    out.code(0);
    for id in [I1, I2] {
        let block = instance_block(&out.stdout, "echo", id);
        assert!(block[0].contains("success"), "{block:?}");
        assert!(block.contains(&"    | 123"), "{block:?}");
    }
    assert!(!out.stdout.contains(I3));
    assert!(
        out.stderr.contains("sandbox"),
        "says it ran in the sandbox: {}",
        out.stderr
    );
}

/// The seed's flow, counted on the wire by a separate sandbox process.
#[test]
fn echo_123_makes_the_expected_api_calls() {
    let sandbox = Sandbox::start();
    let out =
        run(sandbox
            .bin()
            .current_dir(repo())
            .args(["run", "--yes", "runbooks/echo-123.yaml"]));
    out.code(0);
    assert_eq!(sandbox.calls("CreateCommand"), 1);
    assert_eq!(sandbox.calls("InvokeCommand"), 1);
    assert_eq!(sandbox.calls("DeleteCommand"), 1);
    assert!(sandbox.calls("DescribeInvocations") >= 1);
    assert_eq!(sandbox.calls("DescribeInvocationResults"), 1);
    assert_eq!(sandbox.calls("RunCommand"), 0);
}

#[test]
fn check_updates_reports_pending_updates_per_instance() {
    let out =
        run(bin()
            .current_dir(repo())
            .args(["run", "--sandbox", "runbooks/check-updates.yaml"]));
    out.code(0);
    for id in [I1, I2, I3] {
        let block = instance_block(&out.stdout, "check-updates", id);
        assert!(
            block
                .iter()
                .any(|l| l.starts_with("    | pending updates: ")),
            "{block:?}"
        );
    }
}

#[test]
fn log_cleanup_runs_its_stages_in_order() {
    let out =
        run(bin()
            .current_dir(repo())
            .args(["run", "--sandbox", "runbooks/log-cleanup.yaml"]));
    out.code(0);
    let order: Vec<usize> = ["check-disk", "check-load", "cleanup", "verify"]
        .iter()
        .map(|s| out.stdout.find(&format!("step `{s}`: succeeded")).expect(s))
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{}", out.stdout);
    for id in [I1, I2] {
        let block = instance_block(&out.stdout, "cleanup", id);
        assert!(
            block
                .iter()
                .any(|l| l.contains("removed 0 log files older than 7 days")),
            "{block:?}"
        );
        let block = instance_block(&out.stdout, "verify", id);
        assert!(block.contains(&"    | log directory present"), "{block:?}");
    }
}

/// A step failing on one instance fails the run (exit 1), shows that instance's exit code and
/// output, and skips its dependents.
#[test]
fn a_failing_instance_fails_the_run_and_skips_dependents() {
    let dir = Dir::new();
    let path = dir.write(
        "fail.yaml",
        &format!(
            "version: 1
name: fail-one
targets:
  instances: [{I1}, {I2}]
steps:
  - name: migrate
    script: |
      if [ \"{{{{ACS::InstanceId}}}}\" = \"{I2}\" ]; then echo \"migration failed on $(pwd)\"; exit 3; fi
      echo migrated
  - name: switch-traffic
    depends_on: [migrate]
    script: echo switched
"
        ),
    );
    let sandbox = Sandbox::start();
    let out = run(sandbox
        .bin()
        .arg("run")
        .arg("--yes")
        .arg(&path)
        .args(["--region", "cn-hangzhou"]));
    out.code(1);
    let failed = instance_block(&out.stdout, "migrate", I2);
    assert!(failed[0].contains("failed (exit 3)"), "{failed:?}");
    assert!(
        failed.iter().any(|l| l.contains("migration failed on")),
        "{failed:?}"
    );
    let ok = instance_block(&out.stdout, "migrate", I1);
    assert!(ok.contains(&"    | migrated"), "{ok:?}");
    assert!(
        out.stdout
            .contains("step `switch-traffic`: skipped: dependency `migrate` did not succeed"),
        "{}",
        out.stdout
    );
    // Only `migrate` reached the API.
    assert_eq!(sandbox.calls("CreateCommand"), 1);
    assert_eq!(sandbox.calls("InvokeCommand"), 1);
}
