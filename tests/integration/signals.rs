//! Ctrl-C and crashes: the first Ctrl-C waits, a SIGKILL mid-step is recovered by `resume`
//! with every (step, instance) executed exactly once, and failed steps re-run only when asked.
//! (The second Ctrl-C is case B03's scale variant in `cases.rs`.)

use std::time::Duration;

use nix::sys::signal::Signal;

use crate::harness::{Dir, Sandbox, Spawned, executions_per_step, json_file, run, run_dir};

const I1: &str = "i-sandbox0000000000001";
const I2: &str = "i-sandbox0000000000002";
const I3: &str = "i-sandbox0000000000003";

/// The first Ctrl-C launches nothing new and lets running invocations finish; the run then
/// exits 130 with the later step skipped, and no StopInvocation.
#[test]
fn the_first_ctrl_c_waits_for_running_invocations() {
    let dir = Dir::new();
    let sandbox = Sandbox::start();
    let runbook = dir.write(
        "slow.yaml",
        &format!(
            "version: 1
name: slow
region: cn-hangzhou
targets: {{ instances: [{I1}, {I2}] }}
steps:
  - name: slow
    script: sleep 2; echo finished
  - name: next
    depends_on: [slow]
    script: echo next
"
        ),
    );
    let running = Spawned::start(
        sandbox
            .bin()
            .current_dir(dir.path())
            .args(["run", "--yes"])
            .arg(&runbook),
    );
    running.wait_for("[slow] invoked", 1, Duration::from_secs(20));
    running.signal(Signal::SIGINT);
    let out = running.finish();
    out.code(130);
    assert!(
        out.stderr
            .contains("interrupted: launching nothing new and waiting for running invocations"),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout
            .contains("step `slow`: succeeded (2 of 2 instances passed, 2 required)"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("    | finished"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("step `next`: skipped: the run stopped before it"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("run interrupted"), "{}", out.stdout);
    assert_eq!(sandbox.calls("StopInvocation"), 0);
    assert_eq!(sandbox.calls("InvokeCommand"), 1);
    assert_eq!(sandbox.calls("DeleteCommand"), 1);
}

/// SIGTERM (a cancelled CI job) is the second Ctrl-C at once: running invocations are stopped,
/// the report is written, the commands are deleted, and the run exits 130.
#[test]
fn sigterm_stops_running_invocations_and_writes_the_report() {
    let dir = Dir::new();
    let sandbox = Sandbox::start();
    let runbook = dir.write(
        "long.yaml",
        &format!(
            "version: 1
name: long
region: cn-hangzhou
targets: {{ instances: [{I1}, {I2}] }}
steps:
  - name: long
    script: sleep 60; echo never
"
        ),
    );
    let running = Spawned::start(
        sandbox
            .bin()
            .current_dir(dir.path())
            .args(["run", "--yes"])
            .arg(&runbook),
    );
    running.wait_for("[long] invoked", 1, Duration::from_secs(20));
    running.signal(Signal::SIGTERM);
    let out = running.finish();
    out.code(130);
    assert!(out.stdout.contains("run interrupted"), "{}", out.stdout);
    assert!(!out.stdout.contains("never"), "{}", out.stdout);
    assert_eq!(sandbox.calls("StopInvocation"), 1);
    assert_eq!(sandbox.calls("DeleteCommand"), 1);
    let report = json_file(&run_dir(dir.path()).join("report.json"));
    assert_eq!(report["exit_code"], 130, "{report}");
}

/// `run` is killed with SIGKILL in the middle of a step; `resume` takes up the invocation in
/// flight by its InvokeId, runs the rest, and the sandbox counts each (step, instance) once.
#[test]
fn resume_after_sigkill_executes_every_step_and_instance_exactly_once() {
    let dir = Dir::new();
    let sandbox = Sandbox::start();
    let runbook = dir.write(
        "waves.yaml",
        &format!(
            "version: 1
name: waves
region: cn-hangzhou
targets: {{ instances: [{I1}, {I2}, {I3}] }}
steps:
  - name: first
    script: echo first
  - name: second
    depends_on: [first]
    rate_control: {{ concurrency: 1 }}
    script: sleep 1; echo second
  - name: third
    depends_on: [second]
    script: echo third
"
        ),
    );
    let running = Spawned::start(
        sandbox
            .bin()
            .current_dir(dir.path())
            .args(["run", "--yes"])
            .arg(&runbook),
    );
    // Kill it while the second wave of `second` runs.
    running.wait_for("[second] invoked", 2, Duration::from_secs(30));
    running.signal(Signal::SIGKILL);
    let killed = running.finish();
    assert_eq!(killed.code, -1, "killed by a signal");
    let run_id = run_dir(dir.path())
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let resumed = run(sandbox
        .bin()
        .current_dir(dir.path())
        .args(["resume", "--yes", &run_id]));
    resumed.code(0);
    assert!(
        resumed.stderr.contains(&format!("resuming run {run_id}")),
        "{}",
        resumed.stderr
    );
    assert!(
        resumed
            .stderr
            .contains("from the journal, not invoked again"),
        "{}",
        resumed.stderr
    );
    assert!(
        resumed
            .stdout
            .contains("step `first`: succeeded (3 of 3 instances passed, 3 required) [finished in an earlier run]"),
        "{}",
        resumed.stdout
    );
    let report = json_file(&run_dir(dir.path()).join("report.json"));
    let counts = executions_per_step(&sandbox, &report);
    let mut expected = std::collections::BTreeMap::new();
    for step in ["first", "second", "third"] {
        for id in [I1, I2, I3] {
            expected.insert((step.to_owned(), id.to_owned()), 1);
        }
    }
    assert_eq!(counts, expected);
    assert_eq!(sandbox.executions().values().sum::<u64>(), 9);
    // Every command is gone: the resumed run cleaned up the killed run's too.
    assert_eq!(sandbox.health()["commands"], 0);

    // Resuming a finished run runs nothing again.
    let invokes = sandbox.calls("InvokeCommand");
    let again = run(sandbox
        .bin()
        .current_dir(dir.path())
        .args(["resume", "--yes", &run_id]));
    again.code(0);
    assert_eq!(sandbox.calls("InvokeCommand"), invokes);
}

/// A failed step stays failed on `resume`; with `--retry-failed` only its failed instance
/// runs again.
#[test]
fn resume_retries_failed_steps_only_when_asked() {
    let dir = Dir::new();
    let root = dir.path().join("sandbox-root");
    let root_arg = root.to_str().unwrap().to_owned();
    let sandbox = Sandbox::start_with(&["--root", &root_arg]);
    let runbook = dir.write(
        "fix.yaml",
        &format!(
            "version: 1
name: fix
region: cn-hangzhou
targets: {{ instances: [{I1}, {I2}] }}
steps:
  - name: check
    script: |
      if [ \"$ECS_SANDBOX_INSTANCE_ID\" = {I2} ] && [ ! -f \"$HOME/fixed\" ]; then echo broken; exit 3; fi
      echo fine
  - name: after
    depends_on: [check]
    script: echo after
"
        ),
    );
    let first = run(sandbox
        .bin()
        .current_dir(dir.path())
        .args(["run", "--yes"])
        .arg(&runbook));
    first.code(1);
    assert!(
        first
            .stderr
            .contains("add `--retry-failed` to run failed steps again"),
        "{}",
        first.stderr
    );
    let run_id = run_dir(dir.path())
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let plain = run(sandbox
        .bin()
        .current_dir(dir.path())
        .args(["resume", "--yes", &run_id]));
    plain.code(1);
    assert_eq!(sandbox.calls("InvokeCommand"), 1);
    std::fs::write(root.join(I2).join("fs/root/fixed"), "").unwrap();
    let retried = run(sandbox.bin().current_dir(dir.path()).args([
        "resume",
        "--yes",
        "--retry-failed",
        &run_id,
    ]));
    retried.code(0);
    assert!(
        retried
            .stderr
            .contains("[check] starting round 1 on 1 of 2 instances"),
        "{}",
        retried.stderr
    );
    assert!(
        retried
            .stdout
            .contains("step `after`: succeeded (2 of 2 instances passed, 2 required)"),
        "{}",
        retried.stdout
    );
    let report = json_file(&run_dir(dir.path()).join("report.json"));
    let counts = executions_per_step(&sandbox, &report);
    assert_eq!(counts[&("check".to_owned(), I1.to_owned())], 1);
    assert_eq!(counts[&("check".to_owned(), I2.to_owned())], 2);
    assert_eq!(counts[&("after".to_owned(), I1.to_owned())], 1);
}
