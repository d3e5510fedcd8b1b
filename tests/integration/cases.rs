//! The public bug cases of `shared/cases/public-bug-cases.md` that concern the executor,
//! each with the exact values the case gives: B03, B04, B06 and B07.

use std::fmt::Write as _;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::harness::{Dir, Sandbox, Spawned, bin, json_file, run};

/// A fleet entry: a running Linux instance with tags and a simulated result.
fn simulated(id: &str, tags: &str, exit_code: i64, output: &str, duration: &str) -> String {
    format!(
        "  - id: {id}\n    tags: {{{tags}}}\n    execution:\n      simulated: {{exit_code: {exit_code}, output: {output:?}, duration: {duration}}}\n"
    )
}

/// Case B03: 23 instances tagged `env=prod`, listings capped at 10 per page; one instance on
/// page 2 fails with exit 2.
#[test]
fn b03_pages_are_followed_and_one_failure_fails_the_step() {
    let dir = Dir::new();
    let mut fleet = String::from("limits: {max_page_size: 10}\ninstances:\n");
    for n in 1..=23 {
        let code = if n == 17 { 2 } else { 0 };
        fleet.push_str(&simulated(
            &format!("i-placeholder{n:02}"),
            "env: prod",
            code,
            "restarted\n",
            "100ms",
        ));
    }
    let sandbox = Sandbox::with_fleet(&dir, &fleet);
    let runbook = dir.write(
        "restart.yaml",
        "version: 1
name: restart-prod
region: cn-hangzhou
steps:
  - name: restart
    targets: { tags: { env: prod } }
    type: RunShellScript
    script: systemctl restart app
",
    );
    let report = dir.path().join("report.json");
    let out = run(sandbox
        .bin()
        .current_dir(dir.path())
        .args(["run", "--yes"])
        .arg(&runbook)
        .arg("--report")
        .arg(&report));
    out.code(1);
    // Exactly three pages of DescribeInstances: 10 + 10 + 3, stopping on the empty token.
    assert_eq!(sandbox.calls("DescribeInstances"), 3);
    // One InvokeCommand with all 23 ids.
    assert_eq!(sandbox.calls("InvokeCommand"), 1);
    let report = json_file(&report);
    let invocations = report["steps"][0]["invocations"].as_array().unwrap();
    assert_eq!(invocations.len(), 1);
    let ids: std::collections::BTreeSet<&str> = invocations[0]["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 23);
    // Results are read across pages of 10: 10 + 10 + 3.
    assert_eq!(sandbox.calls("DescribeInvocationResults"), 3);
    assert!(
        out.stdout.contains("22 succeeded, 1 failed"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("  i-placeholder17: failed (exit 2), ExitCodeNonzero"),
        "{}",
        out.stdout
    );
    assert_eq!(report["steps"][0]["status"], "failed");
}

/// Case B03, scale variant: 230 tagged instances go out in InvokeCommand calls of 100, 100
/// and 30; stopping them (the second Ctrl-C) sends StopInvocation with at most 50 instances a
/// call (the sandbox refuses more), then the report is written and the exit code is 130.
#[test]
fn b03_scale_batches_of_100_and_stops_of_50_on_the_second_ctrl_c() {
    let dir = Dir::new();
    let sandbox = Sandbox::with_fleet(
        &dir,
        "generate:
  - count: 230
    prefix: i-scale
    tags: {env: prod}
    execution:
      simulated: {exit_code: 0, output: \"ok\\n\", duration: 60s}
",
    );
    let runbook = dir.write(
        "restart.yaml",
        "version: 1
name: restart-prod
region: cn-hangzhou
steps:
  - name: restart
    targets: { tags: { env: prod } }
    script: systemctl restart app
  - name: after
    depends_on: [restart]
    targets: { tags: { env: prod } }
    script: echo after
",
    );
    let report = dir.path().join("report.json");
    let running = Spawned::start(
        sandbox
            .bin()
            .current_dir(dir.path())
            .args(["run", "--yes"])
            .arg(&runbook)
            .arg("--report")
            .arg(&report),
    );
    running.wait_for("[restart] invoked", 3, Duration::from_secs(30));
    running.signal(Signal::SIGINT);
    running.wait_for(
        "interrupted: launching nothing new",
        1,
        Duration::from_secs(10),
    );
    running.signal(Signal::SIGINT);
    let out = running.finish();
    out.code(130);
    assert_eq!(sandbox.calls("InvokeCommand"), 3);
    // 100 → 50 + 50, 100 → 50 + 50, 30 → 30.
    assert_eq!(sandbox.calls("StopInvocation"), 5);
    assert_eq!(
        sandbox.stats()["errors"]["InstanceIds.ExceedLimit"],
        serde_json::Value::Null
    );
    let report = json_file(&report);
    let sizes: Vec<usize> = report["steps"][0]["invocations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["instances"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [100, 100, 30]);
    let unique: std::collections::BTreeSet<String> = report["steps"][0]["invocations"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|i| i["instances"].as_array().unwrap().clone())
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(unique.len(), 230);
    assert_eq!(report["outcome"], "interrupted");
    assert_eq!(report["exit_code"], 130);
    assert_eq!(report["steps"][0]["status"], "cancelled");
    assert_eq!(report["steps"][0]["tally"]["stopped"], 230);
    assert_eq!(report["steps"][1]["status"], "skipped");
    // Cleanup also runs after Ctrl-C.
    assert_eq!(sandbox.calls("DeleteCommand"), 1);
    assert_eq!(sandbox.health()["commands"], 0);
}

/// Case B04: GBK output decoded with `output_encoding`, the lossy view and its message
/// without it, and truncated output (`Dropped`) flagged.
#[test]
fn b04_output_encoding_invalid_utf8_and_truncation() {
    let dir = Dir::new();
    let sandbox = Sandbox::with_fleet(
        &dir,
        "instances:
  - id: i-placeholder01
    os: windows
    execution:
      simulated:
        exit_code: 0
        output_base64: v6rKvLCy17AuLi4NCrCy17DN6rPJIGV4aXQ9MA0K
        duration: 50ms
  - id: i-placeholder02
    os: windows
    execution:
      simulated: {exit_code: 0, output_base64: eHh4eHjlrg==, dropped: 2048, duration: 50ms}
",
    );
    let runbook = dir.write(
        "agent.yaml",
        "version: 1
name: install-agent
region: cn-hangzhou
defaults:
  type: RunBatScript
steps:
  - name: install-agent
    targets: { instances: [i-placeholder01] }
    script: 'call C:\\setup\\install.bat'
    output_encoding: gbk
    success: { exit_codes: [0], output_contains: \"安装完成\" }
  - name: without-encoding
    targets: { instances: [i-placeholder01] }
    script: 'call C:\\setup\\install.bat'
    success: { output_contains: \"安装完成\" }
    on_failure: continue
  - name: truncated
    targets: { instances: [i-placeholder02] }
    script: 'call C:\\setup\\big.bat'
    success: { output_contains: \"xxxxx\" }
",
    );
    let out = run(sandbox
        .bin()
        .current_dir(dir.path())
        .args(["run", "--yes"])
        .arg(&runbook));
    out.code(1);
    assert!(
        out.stdout
            .contains("step `install-agent`: succeeded (1 of 1 instance passed, 1 required)"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("    | 开始安装...\n"), "{}", out.stdout);
    assert!(
        out.stdout.contains("    | 安装完成 exit=0\n"),
        "{}",
        out.stdout
    );
    // Without an encoding: the lossy view, and a gate failure that says what to do.
    assert!(out.stdout.contains("    | ��ʼ��װ...\n"), "{}", out.stdout);
    assert!(
        out.stdout.contains(
            "    gate: output is not valid UTF-8; set `output_encoding` (for example `gbk`) on the step"
        ),
        "{}",
        out.stdout
    );
    // Truncated: the cut character replaced, the drop and the truncated check flagged.
    assert!(out.stdout.contains("    | xxxxx\u{fffd}"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("    warning: Cloud Assistant dropped 2048 bytes of output"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("    note: output checks ran on truncated output"),
        "{}",
        out.stdout
    );
}

const B06_FLEET: &str = "instances:
  - id: i-placeholder01
    execution: {simulated: {exit_code: 0, output: \"migrated\\n\", duration: 50ms}}
  - id: i-placeholder02
    execution: {simulated: {exit_code: 1, output: \"migration failed\\n\", duration: 50ms}}
  - id: i-placeholder03
    execution: {simulated: {exit_code: 0, output: \"migrated\\n\", duration: DURATION}}
";

fn b06_runbook(dir: &Dir, policy: &str) -> std::path::PathBuf {
    dir.write(
        "b06.yaml",
        &format!(
            "version: 1
name: migrate
region: cn-hangzhou
steps:
  - name: migrate
    targets: {{ instances: [i-placeholder01, i-placeholder02, i-placeholder03] }}
    script: ./migrate.sh
    on_failure: {policy}
  - name: switch-traffic
    depends_on: [migrate]
    targets: {{ instances: [i-placeholder01] }}
    script: ./switch.sh
"
        ),
    )
}

/// Case B06: PartialFailed is never success; the dependent step is not invoked.
#[test]
fn b06_one_failed_instance_fails_the_step_and_skips_the_dependent() {
    let dir = Dir::new();
    let sandbox = Sandbox::with_fleet(&dir, &B06_FLEET.replace("DURATION", "50ms"));
    let runbook = b06_runbook(&dir, "abort");
    let out = run(sandbox
        .bin()
        .current_dir(dir.path())
        .args(["run", "--yes"])
        .arg(&runbook));
    out.code(1);
    assert!(
        out.stdout.contains(
            "step `migrate`: FAILED (2 of 3 instances passed, 3 required): 2 succeeded, 1 failed"
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(
            "  i-placeholder02: failed (exit 1), ExitCodeNonzero: the command execution exit code is not zero."
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("step `switch-traffic`: skipped: dependency `migrate` did not succeed"),
        "{}",
        out.stdout
    );
    assert_eq!(sandbox.calls("CreateCommand"), 1);
    assert_eq!(sandbox.calls("InvokeCommand"), 1);
}

/// Case B06, variant: the API's overall status is `Success` while one instance was stopped;
/// the step is not a success and the dependent does not run.
#[test]
fn b06_a_stopped_instance_inside_an_overall_success_is_not_a_success() {
    let dir = Dir::new();
    let fleet = B06_FLEET.replace("DURATION", "30s").replace(
        "exit_code: 1, output: \"migration failed",
        "exit_code: 0, output: \"migrated",
    );
    let sandbox = Sandbox::with_fleet(&dir, &fleet);
    let runbook = b06_runbook(&dir, "abort");
    let running = Spawned::start(
        sandbox
            .bin()
            .current_dir(dir.path())
            .args(["run", "--yes"])
            .arg(&runbook),
    );
    running.wait_for("[migrate] invoked", 1, Duration::from_secs(20));
    let stderr = running.stderr();
    let invoke_id = stderr
        .split("[migrate] invoked ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("an invoke id")
        .to_owned();
    // Someone else stops the task on instance 03 while it runs.
    let client = sandbox.client();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let aggregate = rt.block_on(async {
        use ecs_runbook::cloud::actions::{DescribeInvocations, StopInvocation};
        use ecs_runbook::cloud::{InstanceId, InvokeId};
        tokio::time::sleep(Duration::from_millis(300)).await;
        client
            .call(&StopInvocation {
                invoke_id: InvokeId::new(&invoke_id),
                instance_ids: vec![InstanceId::new("i-placeholder03")],
            })
            .await
            .unwrap();
        loop {
            let response = client
                .call(&DescribeInvocations {
                    invoke_id: Some(InvokeId::new(&invoke_id)),
                    ..DescribeInvocations::default()
                })
                .await
                .unwrap();
            let status = response.invocations.invocation[0]
                .invocation_status
                .to_string();
            if status != "Running" && status != "Stopping" {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    assert_eq!(aggregate, "Success", "the API's overall status");
    let out = running.finish();
    out.code(1);
    assert!(
        out.stdout.contains(
            "step `migrate`: FAILED (2 of 3 instances passed, 3 required): 2 succeeded, 1 stopped"
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("  i-placeholder03: stopped"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("step `switch-traffic`: skipped: dependency `migrate` did not succeed"),
        "{}",
        out.stdout
    );
    assert_eq!(sandbox.calls("InvokeCommand"), 1);
}

/// Case B06, opt-in: with `on_failure: continue` the dependent runs and the run still fails,
/// listing the failed instance.
#[test]
fn b06_continue_lets_the_dependent_run_and_the_run_still_fails() {
    let dir = Dir::new();
    let sandbox = Sandbox::with_fleet(&dir, &B06_FLEET.replace("DURATION", "50ms"));
    let runbook = b06_runbook(&dir, "continue");
    let out = run(sandbox
        .bin()
        .current_dir(dir.path())
        .args(["run", "--yes"])
        .arg(&runbook));
    out.code(1);
    assert!(
        out.stdout
            .contains("step `switch-traffic`: succeeded (1 of 1 instance passed, 1 required)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("  i-placeholder02: failed (exit 1)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("run failed: 1 step failed"),
        "{}",
        out.stdout
    );
    assert_eq!(sandbox.calls("InvokeCommand"), 2);
}

/// Case B07, scenarios A and B together (they run in parallel): an agent that never reports
/// back is stopped by the client after Timeout plus the grace, and an instance the service
/// times out is reported as timed out; neither is success, and `after` does not run.
#[test]
fn b07_timeouts_are_sent_enforced_and_reported() {
    let dir = Dir::new();
    let sandbox = Sandbox::with_fleet(
        &dir,
        "instances:
  - id: i-placeholder01
  - id: i-placeholder02
    execution: {simulated: {exit_code: 0, output: \"partial\\n\", duration: 200s}}
faults:
  instances:
    - instances: [i-placeholder01]
      agent: hang
",
    );
    let runbook = dir.write(
        "b07.yaml",
        "version: 1
name: long-migration
region: cn-hangzhou
steps:
  - name: long-migration
    targets: { instances: [i-placeholder01] }
    type: RunShellScript
    timeout: 10
    script: ./migrate.sh
  - name: service-timeout
    targets: { instances: [i-placeholder02] }
    timeout: 10
    script: ./migrate.sh
  - name: after
    depends_on: [long-migration]
    targets: { instances: [i-placeholder01] }
    script: echo done
",
    );
    let started = std::time::Instant::now();
    let out = run(sandbox
        .bin()
        .current_dir(dir.path())
        .args(["run", "--yes", "--timeout-grace", "1s"])
        .arg(&runbook));
    let elapsed = started.elapsed();
    out.code(1);
    // A: at most Timeout + grace (and some polling), then StopInvocation for that instance.
    assert!(elapsed < Duration::from_secs(20), "{elapsed:?}");
    assert_eq!(sandbox.calls("StopInvocation"), 1);
    assert!(
        out.stderr.contains("[long-migration] StopInvocation t-")
            && out
                .stderr
                .contains("on 1 instance (past its timeout and the grace period)"),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout.contains("  i-placeholder01: timed out"),
        "{}",
        out.stdout
    );
    // B: the service's own timeout.
    assert!(
        out.stdout.contains(
            "  i-placeholder02: timed out, ExecutionTimeout: the command execution has been timeout"
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("step `after`: skipped: dependency `long-migration` did not succeed"),
        "{}",
        out.stdout
    );
    assert_eq!(sandbox.calls("CreateCommand"), 2);
}

/// Case B07: the Timeout sent is the step's, or the documented default 600 s, in the plan as in
/// the run (both build their calls in `plan::calls`); below 10 s is rejected with its line.
#[test]
fn b07_timeout_is_explicit_in_the_plan_and_checked() {
    let dir = Dir::new();
    let with = dir.write(
        "with.yaml",
        "version: 1
name: long-migration
targets: { instances: [i-placeholder01] }
steps:
  - name: long-migration
    timeout: 120
    script: ./migrate.sh
  - name: defaulted
    script: ./migrate.sh
",
    );
    let out = run(bin()
        .args(["plan", "--offline", "--format", "json"])
        .arg(&with));
    out.code(0);
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let mut timeouts = String::new();
    for step in plan["steps"].as_array().unwrap() {
        for call in step["calls"].as_array().unwrap() {
            if let Some(t) = call["params"].get("Timeout") {
                let _ = write!(
                    timeouts,
                    "{} {} {}; ",
                    step["name"].as_str().unwrap(),
                    call["action"].as_str().unwrap(),
                    t.as_str().unwrap()
                );
            }
        }
    }
    assert_eq!(
        timeouts,
        "long-migration CreateCommand 120; long-migration InvokeCommand 120; defaulted CreateCommand 600; defaulted InvokeCommand 600; "
    );
    let short = dir.write(
        "short.yaml",
        "version: 1
name: long-migration
targets: { instances: [i-placeholder01] }
steps:
  - name: long-migration
    timeout: 5
    script: ./migrate.sh
",
    );
    let out = run(bin().arg("validate").arg(&short));
    out.code(2);
    assert!(out.stderr.contains("short.yaml:6:"), "{}", out.stderr);
}
