//! `run` end to end against the sandbox: the runbooks in `runbooks/`, gates, failures.

use std::fmt::Write as _;

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

/// Replaces ids, ports and run ids in progress lines, so that two runs can be compared.
fn normalized(stderr: &str) -> Vec<String> {
    let re = regex::Regex::new(r"\b(c|t)-[0-9a-z]{16}\b|127\.0\.0\.1:\d+|\d{8}T\d{6}Z-[0-9a-f]{6}")
        .unwrap();
    stderr
        .lines()
        .map(|l| re.replace_all(l, "<id>").into_owned())
        .collect()
}

/// Parallel branches: the step written first is reported first, whole, even when the other
/// finishes earlier; two runs give the same event order.
#[test]
fn parallel_branches_report_in_plan_order_whatever_finishes_first() {
    let dir = Dir::new();
    let sandbox = Sandbox::start();
    let runbook = dir.write(
        "par.yaml",
        &format!(
            "version: 1
name: par
region: cn-hangzhou
targets: {{ instances: [{I1}, {I2}] }}
steps:
  - name: slow
    script: sleep 1.5; echo slow
  - name: fast
    script: echo fast
  - name: join
    depends_on: [slow, fast]
    script: echo join
"
        ),
    );
    let runs: Vec<_> = (0..2)
        .map(|_| {
            let out = run(sandbox
                .bin()
                .current_dir(dir.path())
                .args(["run", "--yes"])
                .arg(&runbook));
            out.code(0);
            out
        })
        .collect();
    let first = normalized(&runs[0].stderr);
    assert_eq!(first, normalized(&runs[1].stderr));
    let at = |needle: &str| {
        first
            .iter()
            .position(|l| l.starts_with(needle))
            .unwrap_or_else(|| panic!("no {needle:?} in {first:#?}"))
    };
    assert!(at("[slow] succeeded") < at("[fast] starting"));
    assert!(at("[fast] succeeded") < at("[join] starting"));
    // They did run in parallel: in the journal (written as things happen) `fast` finished
    // before `slow`.
    let runs_dir = dir.path().join(".ecs-runbook/runs");
    let journal = std::fs::read_dir(&runs_dir)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path().join("journal.jsonl")).unwrap())
        .next()
        .unwrap();
    let finished: Vec<&str> = journal
        .lines()
        .filter(|l| l.contains("\"event\":\"step_finished\""))
        .map(|l| {
            if l.contains("\"step\":\"fast\"") {
                "fast"
            } else if l.contains("\"step\":\"slow\"") {
                "slow"
            } else {
                "join"
            }
        })
        .collect();
    assert_eq!(finished, ["fast", "slow", "join"]);
}

const PREFLIGHT_FLEET: &str = "instances:
  - id: i-ready000000000001
  - id: i-stopped0000000001
    status: Stopped
  - id: i-noagent0000000001
    agent: {installed: false}
";

/// Preflight lists every target that cannot run commands and changes nothing.
#[test]
fn preflight_lists_targets_that_cannot_run_and_changes_nothing() {
    let dir = Dir::new();
    let sandbox = Sandbox::with_fleet(&dir, PREFLIGHT_FLEET);
    let runbook = dir.write(
        "pre.yaml",
        "version: 1
name: pre
region: cn-hangzhou
targets: { instances: [i-ready000000000001, i-stopped0000000001, i-noagent0000000001, i-missing000000000001] }
steps:
  - name: hello
    script: echo hello
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
    for line in [
        "preflight failed: 3 targets cannot run commands; no command was run",
        "  i-missing000000000001: not found",
        "  i-noagent0000000001: no running Cloud Assistant agent",
        "  i-stopped0000000001: Stopped, not Running",
    ] {
        assert!(out.stderr.contains(line), "{line:?} in\n{}", out.stderr);
    }
    assert!(
        out.stdout
            .contains("run failed: preflight: 3 targets cannot run commands")
    );
    assert_eq!(sandbox.calls("CreateCommand"), 0);
    assert_eq!(sandbox.calls("InvokeCommand"), 0);
    assert_eq!(sandbox.calls("StartInstance"), 0);
    let report = crate::harness::json_file(&report);
    assert_eq!(report["outcome"], "preflight_failed");
    assert_eq!(report["preflight"]["issues"].as_array().unwrap().len(), 3);
}

/// `--start-stopped` and `--install-agent` fix the targets instead, then the run proceeds.
#[test]
fn start_stopped_and_install_agent_fix_targets_first() {
    let dir = Dir::new();
    let sandbox = Sandbox::with_fleet(&dir, PREFLIGHT_FLEET);
    let runbook = dir.write(
        "pre.yaml",
        "version: 1
name: pre
region: cn-hangzhou
targets: { instances: [i-ready000000000001, i-stopped0000000001, i-noagent0000000001] }
steps:
  - name: hello
    script: echo hello
",
    );
    let out = run(sandbox
        .bin()
        .current_dir(dir.path())
        .args(["run", "--yes", "--start-stopped", "--install-agent"])
        .arg(&runbook));
    out.code(0);
    assert!(
        out.stderr
            .contains("preflight: StartInstance on 1 instance: i-stopped0000000001"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("preflight: InstallCloudAssistant on 1 instance: i-noagent0000000001"),
        "{}",
        out.stderr
    );
    assert_eq!(sandbox.calls("StartInstance"), 1);
    assert_eq!(sandbox.calls("InstallCloudAssistant"), 1);
    assert!(
        out.stdout
            .contains("step `hello`: succeeded (3 of 3 instances passed, 3 required)"),
        "{}",
        out.stdout
    );
}

/// A saved plan keeps its instances; `run --plan` reports what changed since.
#[test]
fn a_saved_plan_reports_drift_added_removed_stopped() {
    let dir = Dir::new();
    let then = Dir::new();
    let now = Dir::new();
    let planned = Sandbox::with_fleet(
        &then,
        "instances:
  - {id: i-keep00000000000001, tags: {role: web}}
  - {id: i-stops00000000000001, tags: {role: web}}
  - {id: i-gone000000000000001, tags: {role: web}}
",
    );
    let runbook = dir.write(
        "web.yaml",
        "version: 1
name: web
region: cn-hangzhou
targets: { tags: { role: web } }
steps:
  - name: hello
    script: echo hello
",
    );
    let plan = dir.path().join("plan.json");
    run(planned
        .bin()
        .current_dir(dir.path())
        .args(["plan", "web.yaml", "--format", "json", "-o"])
        .arg(&plan))
    .code(0);
    let later = Sandbox::with_fleet(
        &now,
        "instances:
  - {id: i-keep00000000000001, tags: {role: web}}
  - {id: i-stops00000000000001, tags: {role: web}, status: Stopped}
  - {id: i-new0000000000000001, tags: {role: web}}
",
    );
    let _ = runbook;
    let out = run(later
        .bin()
        .current_dir(dir.path())
        .args(["run", "--yes", "--plan"])
        .arg(&plan));
    out.code(1);
    assert!(
        out.stderr.contains(
            "targets changed since the plan was written: added i-new0000000000000001 (not run: the plan's list is kept); removed i-gone000000000000001; stopped i-stops00000000000001"
        ),
        "{}",
        out.stderr
    );
    // The plan's own instances are checked, and the new one is not among them.
    assert!(
        out.stderr.contains("  i-gone000000000000001: not found"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("  i-new0000000000000001:"),
        "{}",
        out.stderr
    );
    assert_eq!(later.calls("InvokeCommand"), 0);
}

/// `concurrency` runs waves; `max_errors` stops launching as soon as it is exceeded, even in
/// the middle of a wave, saying how many were already running.
#[test]
fn max_errors_stops_launching_mid_wave() {
    let dir = Dir::new();
    let mut fleet = String::from("instances:\n");
    for n in 1..=10 {
        let (code, duration) = match n {
            3 => (1, "100ms"),
            4 => (0, "1500ms"),
            _ => (0, "100ms"),
        };
        let _ = writeln!(
            fleet,
            "  - id: i-wave{n:016}\n    execution: {{simulated: {{exit_code: {code}, output: \"n{n}\\n\", duration: {duration}}}}}"
        );
    }
    let sandbox = Sandbox::with_fleet(&dir, &fleet);
    let ids: Vec<String> = (1..=10).map(|n| format!("i-wave{n:016}")).collect();
    let runbook = dir.write(
        "waves.yaml",
        &format!(
            "version: 1
name: waves
region: cn-hangzhou
targets: {{ instances: [{}] }}
steps:
  - name: roll
    rate_control: {{ concurrency: 2, max_errors: 0 }}
    script: ./roll.sh
",
            ids.join(", ")
        ),
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
    assert!(
        out.stderr.contains(
            "[roll] stopped launching after 1 failure (max_errors 0): 1 instance already running, 6 instances not launched"
        ),
        "{}",
        out.stderr
    );
    assert_eq!(sandbox.calls("InvokeCommand"), 2);
    let report = crate::harness::json_file(&report);
    let step = &report["steps"][0];
    assert_eq!(step["error_budget_exceeded"], true);
    assert_eq!(step["tally"]["succeeded"], 3);
    assert_eq!(step["tally"]["failed"], 1);
    assert_eq!(step["tally"]["not launched"], 6);
    // The one that was running ran to its end.
    assert_eq!(step["instances"][3]["state"], "success");
}

/// Per-instance states stay distinct, with ErrorCode and ErrorInfo; a script type that does not
/// fit a Windows instance gets `Invalid` / `CommandNotApplicable`, and `plan` warns first.
#[test]
fn instance_states_stay_distinct() {
    let dir = Dir::new();
    let sandbox = Sandbox::with_fleet(
        &dir,
        "instances:
  - id: i-ok00000000000000001
    execution: {simulated: {exit_code: 0, output: \"ok\\n\", duration: 50ms}}
  - id: i-fail000000000000001
    execution: {simulated: {exit_code: 3, output: \"bad\\n\", duration: 50ms}}
  - id: i-unresp00000000000001
  - id: i-halts00000000000001
    execution: {simulated: {exit_code: 0, output: \"\", duration: 5s}}
  - id: i-win0000000000000001
    os: windows
    execution: {simulated: {exit_code: 0, output: \"ps ok\\r\\n\", duration: 50ms}}
  - id: i-winreal00000000001
    os: windows
faults:
  instances:
    - {instances: [i-unresp00000000000001], agent: unresponsive}
    - {instances: [i-halts00000000000001], stop_after: 200ms}
",
    );
    let runbook = dir.write(
        "states.yaml",
        "version: 1
name: states
region: cn-hangzhou
steps:
  - name: shell
    targets: { instances: [i-ok00000000000000001, i-fail000000000000001, i-unresp00000000000001, i-halts00000000000001, i-win0000000000000001] }
    script: ./do.sh
    on_failure: continue
  - name: powershell
    type: RunPowerShellScript
    targets: { instances: [i-win0000000000000001] }
    script: Write-Output ok
  - name: batch
    type: RunBatScript
    targets: { instances: [i-winreal00000000001] }
    script: echo ok
    on_failure: continue
",
    );
    let plan = run(sandbox
        .bin()
        .current_dir(dir.path())
        .args(["plan"])
        .arg(&runbook));
    plan.code(0);
    assert!(
        plan.stdout.contains("RunShellScript does not run on instance `i-win0000000000000001` (windows); it would be CommandNotApplicable"),
        "{}",
        plan.stdout
    );
    let out = run(sandbox
        .bin()
        .current_dir(dir.path())
        .args(["run", "--yes"])
        .arg(&runbook));
    out.code(1);
    for line in [
        "  i-ok00000000000000001: success, exit 0",
        "  i-fail000000000000001: failed (exit 3), ExitCodeNonzero: the command execution exit code is not zero.",
        "  i-unresp00000000000001: aborted, ClientNotResponse: the aliyun service in the instance does not response",
        "  i-halts00000000000001: aborted, InstanceNotRunning",
        "  i-win0000000000000001: invalid, CommandNotApplicable",
        "step `powershell`: succeeded (1 of 1 instance passed, 1 required)",
        "    | ps ok\n",
        "  i-winreal00000000001: agent error, ExecutionException: the sandbox cannot run RunBatScript for real on this machine",
    ] {
        assert!(out.stdout.contains(line), "{line:?} in\n{}", out.stdout);
    }
    assert!(
        out.stdout
            .contains("1 succeeded, 1 failed, 2 aborted, 1 invalid"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr
            .contains("warning: plan: step `shell`: RunShellScript does not run"),
        "{}",
        out.stderr
    );
}

/// `rollback` runs the rollback steps, then fails; the dependents are skipped.
#[test]
fn rollback_runs_the_rollback_steps_then_fails() {
    let dir = Dir::new();
    let sandbox = Sandbox::start();
    let runbook = dir.write(
        "rb.yaml",
        &format!(
            "version: 1
name: rb
region: cn-hangzhou
targets: {{ instances: [{I1}] }}
steps:
  - name: deploy
    script: echo deploying; exit 1
    on_failure: rollback
  - name: verify
    depends_on: [deploy]
    script: echo verify
rollback:
  - name: restore
    script: echo restored
"
        ),
    );
    let out = run(sandbox
        .bin()
        .current_dir(dir.path())
        .args(["run", "--yes"])
        .arg(&runbook));
    out.code(1);
    assert!(
        out.stdout
            .contains("rollback step `restore`: succeeded (1 of 1 instance passed, 1 required)"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("    | restored"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("step `verify`: skipped: dependency `deploy` did not succeed"),
        "{}",
        out.stdout
    );
    assert_eq!(sandbox.calls("InvokeCommand"), 2);
}

/// `retries` re-invokes only the failed instances, after a pause.
#[test]
fn retries_reinvoke_only_the_failed_instances() {
    let dir = Dir::new();
    let sandbox = Sandbox::start();
    let runbook = dir.write(
        "retry.yaml",
        &format!(
            "version: 1
name: retry
region: cn-hangzhou
targets: {{ instances: [{I1}, {I2}] }}
steps:
  - name: flaky
    retries: 2
    script: |
      if [ \"$ECS_SANDBOX_INSTANCE_ID\" = {I2} ] && [ ! -f \"$HOME/tried\" ]; then touch \"$HOME/tried\"; echo flaked; exit 1; fi
      echo ok
"
        ),
    );
    let report = dir.path().join("report.json");
    let out = run(sandbox
        .bin()
        .current_dir(dir.path())
        .args(["run", "--yes"])
        .arg(&runbook)
        .arg("--report")
        .arg(&report));
    out.code(0);
    assert!(
        out.stderr.contains("on 1 instance (retry 1)"),
        "{}",
        out.stderr
    );
    assert_eq!(sandbox.calls("InvokeCommand"), 2);
    let report = crate::harness::json_file(&report);
    let invocations = report["steps"][0]["invocations"].as_array().unwrap();
    assert_eq!(invocations[1]["attempt"], 1);
    assert_eq!(invocations[1]["instances"], serde_json::json!([I2]));
}

/// `outputs` and raw output feed later templates at run time; `when` false skips a step and
/// the report says so.
#[test]
fn outputs_feed_later_steps_and_when_skips() {
    let dir = Dir::new();
    let sandbox = Sandbox::start();
    let runbook = dir.write(
        "flow.yaml",
        &format!(
            "version: 1
name: flow
region: cn-hangzhou
targets: {{ instances: [{I1}] }}
steps:
  - name: check
    script: echo 'usage 42%'
    outputs:
      usage: {{ regex: '(\\d+)%' }}
  - name: use
    depends_on: [check]
    script: |
      echo \"usage was {{{{ steps.check.outputs.usage }}}}, raw: {{{{ steps.check.instances['{I1}'].output | trim }}}}\"
  - name: cleanup
    depends_on: [check]
    when: \"{{{{ steps.check.outputs.usage | int > 90 }}}}\"
    script: echo cleaning
"
        ),
    );
    let report = dir.path().join("report.json");
    let out = run(sandbox
        .bin()
        .current_dir(dir.path())
        .args(["run", "--yes"])
        .arg(&runbook)
        .arg("--report")
        .arg(&report));
    out.code(0);
    assert!(
        out.stdout.contains("    | usage was 42, raw: usage 42%"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(
            "step `cleanup`: skipped: condition is false: {{ steps.check.outputs.usage | int > 90 }}"
        ),
        "{}",
        out.stdout
    );
    let report = crate::harness::json_file(&report);
    assert_eq!(report["steps"][2]["status"], "skipped");
    assert!(
        report["steps"][2]["skip_reason"]
            .as_str()
            .unwrap()
            .contains("condition is false")
    );
    assert_eq!(
        report["steps"][0]["instances"][0]["captures"]["usage"],
        "42"
    );
    assert_eq!(sandbox.calls("InvokeCommand"), 2);
}

/// Writes carry ClientTokens: a connection dropped after CreateCommand or InvokeCommand took
/// effect is retried with the same token, and the script runs once.
#[test]
fn dropped_writes_are_retried_with_their_token_and_run_once() {
    let dir = Dir::new();
    let sandbox = Sandbox::with_fleet(
        &dir,
        &format!(
            "instances:
  - id: {I1}
  - id: {I2}
faults:
  actions:
    - {{action: CreateCommand, sequence: [drop_after]}}
    - {{action: InvokeCommand, sequence: [drop_after, drop_after]}}
"
        ),
    );
    let runbook = dir.write(
        "once.yaml",
        &format!(
            "version: 1
name: once
region: cn-hangzhou
targets: {{ instances: [{I1}, {I2}] }}
steps:
  - name: once
    script: echo once
"
        ),
    );
    let out = run(sandbox
        .bin()
        .current_dir(dir.path())
        .args(["run", "--yes"])
        .arg(&runbook));
    out.code(0);
    assert_eq!(sandbox.calls("CreateCommand"), 2);
    assert_eq!(sandbox.calls("InvokeCommand"), 3);
    assert_eq!(sandbox.health()["invocations"], 1);
    let executions = sandbox.executions();
    assert_eq!(executions.len(), 2, "{executions:?}");
    assert!(executions.values().all(|n| *n == 1), "{executions:?}");

    // The sandbox honours tokens: the same token with other parameters is refused.
    let client = sandbox.client();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let code = rt.block_on(async {
        use ecs_runbook::cloud::actions::{CreateCommand, InvokeCommand};
        use ecs_runbook::cloud::status::CommandType;
        use ecs_runbook::cloud::{CallError, InstanceId};
        let command = client
            .call(&CreateCommand {
                name: "t".into(),
                command_type: CommandType::RunShellScript,
                command_content: "ZWNobyAxMjM=".into(),
                content_encoding: None,
                description: None,
                working_dir: None,
                timeout: None,
                enable_parameter: None,
                launcher: None,
                client_token: None,
                tags: Vec::new(),
            })
            .await
            .unwrap()
            .command_id;
        let invoke = |id: &str| InvokeCommand {
            command_id: command.clone(),
            instance_ids: vec![InstanceId::new(id)],
            client_token: Some("rb-test-token".into()),
            ..InvokeCommand::default()
        };
        let a = client.call(&invoke(I1)).await.unwrap().invoke_id;
        let b = client.call(&invoke(I1)).await.unwrap().invoke_id;
        assert_eq!(a, b);
        match client.call(&invoke(I2)).await {
            Err(CallError::Api(e)) => e.code.to_string(),
            other => panic!("{other:?}"),
        }
    });
    assert_eq!(code, "IdempotentParameterMismatch");
}

/// Throttling, 5xx, latency and dropped connections on every action: reads are retried with
/// backoff, writes only with their ClientToken, and every script runs once.
#[test]
fn survives_throttling_errors_latency_and_dropped_connections() {
    let dir = Dir::new();
    let sandbox = Sandbox::with_fleet(
        &dir,
        &format!(
            "instances:
  - id: {I1}
  - id: {I2}
  - id: {I3}
faults:
  seed: 7
  actions:
    - {{action: \"*\", throttle: 0.15, unavailable: 0.05, internal_error: 0.05, drop_before: 0.05, drop_after: 0.05, latency: 5ms}}
"
        ),
    );
    let runbook = dir.write(
        "faults.yaml",
        &format!(
            "version: 1
name: faults
region: cn-hangzhou
targets: {{ instances: [{I1}, {I2}, {I3}] }}
steps:
  - name: one
    script: echo one
  - name: two
    depends_on: [one]
    script: echo two
"
        ),
    );
    let report = dir.path().join("report.json");
    let out = run(sandbox
        .bin()
        .current_dir(dir.path())
        .args(["run", "--yes"])
        .arg(&runbook)
        .arg("--report")
        .arg(&report));
    out.code(0);
    let executions = sandbox.executions();
    assert_eq!(executions.len(), 6, "{executions:?}");
    assert!(executions.values().all(|n| *n == 1), "{executions:?}");
    assert!(
        sandbox.stats()["faults"].as_object().unwrap().len() >= 3,
        "{}",
        sandbox.stats()
    );
    let report = crate::harness::json_file(&report);
    let retries: u64 = report["api_calls"]
        .as_object()
        .unwrap()
        .values()
        .map(|c| c["retries"].as_u64().unwrap())
        .sum();
    assert!(retries > 0, "{}", report["api_calls"]);
    assert_eq!(sandbox.health()["commands"], 0);
}

/// The JSON report, the JUnit file (one case per step and instance, output escaped) and the
/// Markdown summary (the DAG coloured by status).
#[test]
fn reports_json_junit_and_markdown() {
    let dir = Dir::new();
    let sandbox = Sandbox::start();
    let runbook = dir.write(
        "rep.yaml",
        &format!(
            "version: 1
name: rep
region: cn-hangzhou
targets: {{ instances: [{I1}, {I2}] }}
steps:
  - name: probe
    script: |
      echo '<b> & \"quotes\"'
      if [ \"$ECS_SANDBOX_INSTANCE_ID\" = {I2} ]; then exit 4; fi
  - name: after
    depends_on: [probe]
    script: echo after
"
        ),
    );
    let (json, xml, md) = (
        dir.path().join("r.json"),
        dir.path().join("r.xml"),
        dir.path().join("r.md"),
    );
    let out = run(sandbox
        .bin()
        .current_dir(dir.path())
        .args(["run", "--yes"])
        .arg(&runbook)
        .arg("--report")
        .arg(&json)
        .arg("--junit")
        .arg(&xml)
        .arg("--summary")
        .arg(&md));
    out.code(1);
    let report = crate::harness::json_file(&json);
    assert_eq!(report["report_version"], 1);
    assert_eq!(report["outcome"], "failed");
    assert_eq!(report["exit_code"], 1);
    assert_eq!(report["runbook"]["name"], "rep");
    let probe = &report["steps"][0];
    assert_eq!(probe["status"], "failed");
    assert_eq!(probe["instances"][1]["state"], "failed");
    assert_eq!(probe["instances"][1]["exit_code"], 4);
    assert_eq!(probe["instances"][0]["output"], "<b> & \"quotes\"\n");
    assert_eq!(
        report["steps"][1]["skip_reason"],
        "skipped: dependency `probe` did not succeed"
    );
    assert!(
        report["api_calls"]["InvokeCommand"]["attempts"]
            .as_u64()
            .unwrap()
            >= 1
    );
    // The run directory holds the same report.
    let in_dir =
        crate::harness::json_file(&crate::harness::run_dir(dir.path()).join("report.json"));
    assert_eq!(in_dir["run_id"], report["run_id"]);

    let junit = std::fs::read_to_string(&xml).unwrap();
    assert_eq!(junit.matches("<testcase ").count(), 4, "{junit}");
    assert_eq!(junit.matches("<failure ").count(), 1, "{junit}");
    assert_eq!(junit.matches("<skipped ").count(), 2, "{junit}");
    assert!(
        junit.contains("<system-out>&lt;b&gt; &amp; &quot;quotes&quot;\n</system-out>"),
        "{junit}"
    );
    assert!(
        junit.contains(&format!("classname=\"rep.probe\" name=\"{I2}\"")),
        "{junit}"
    );

    let summary = std::fs::read_to_string(&md).unwrap();
    assert!(summary.starts_with("## ❌ `rep` failed"), "{summary}");
    assert!(summary.contains("```mermaid\ngraph TD\n"), "{summary}");
    assert!(
        summary.contains("  class s0 failed\n  class s1 skipped\n"),
        "{summary}"
    );
    assert!(
        summary.contains(&format!("<code>probe</code> on <code>{I2}</code>")),
        "{summary}"
    );
}

/// Commands are deleted after a failure too, unless `--keep-commands`.
#[test]
fn commands_are_cleaned_up_after_failure_unless_kept() {
    let dir = Dir::new();
    let sandbox = Sandbox::start();
    let runbook = dir.write(
        "fail.yaml",
        &format!(
            "version: 1
name: fail
region: cn-hangzhou
targets: {{ instances: [{I1}] }}
steps:
  - name: fail
    script: exit 1
"
        ),
    );
    run(sandbox
        .bin()
        .current_dir(dir.path())
        .args(["run", "--yes"])
        .arg(&runbook))
    .code(1);
    assert_eq!(sandbox.calls("DeleteCommand"), 1);
    assert_eq!(sandbox.health()["commands"], 0);
    run(sandbox
        .bin()
        .current_dir(dir.path())
        .args(["run", "--yes", "--keep-commands"])
        .arg(&runbook))
    .code(1);
    assert_eq!(sandbox.calls("DeleteCommand"), 1);
    assert_eq!(sandbox.health()["commands"], 1);
}

/// Tags that match nothing (a typo, a retired role) must not look like a job done: the run
/// refuses before any write, naming the step and its tags.
#[test]
fn a_step_whose_tags_match_no_instance_is_refused() {
    let dir = Dir::new();
    let path = dir.write(
        "empty.yaml",
        "version: 1
name: empty-targets
region: cn-hangzhou
targets:
  tags: {role: no-such-role}
steps:
  - name: restart
    script: echo restarted
",
    );
    let sandbox = Sandbox::start();
    let out = run(sandbox.bin().arg("run").arg(&path).arg("--yes"));
    out.code(1);
    assert!(
        out.stderr.contains(
            "no instance matches the targets of step `restart` (tags role=no-such-role); nothing was run"
        ),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("a tag match is exact and case-sensitive"),
        "{}",
        out.stderr
    );
    for write in ["CreateCommand", "InvokeCommand", "RunCommand"] {
        assert_eq!(sandbox.calls(write), 0, "{write}");
    }
}

/// A report path that cannot be written is refused before anything runs, not found out after
/// the run changed machines.
#[test]
fn unwritable_report_paths_are_refused_before_anything_runs() {
    let dir = Dir::new();
    std::fs::create_dir_all(dir.path().join("a-folder")).expect("mkdir");
    let sandbox = Sandbox::start();
    let runbook = repo().join("runbooks/echo-123.yaml");
    for (flag, path, problem) in [
        ("--junit", "no-such-dir/x.xml", "its folder does not exist"),
        ("--report", "a-folder", "it is a folder"),
        ("--summary", "no-such-dir/s.md", "its folder does not exist"),
    ] {
        let out = run(sandbox
            .bin()
            .current_dir(dir.path())
            .args(["run", "--yes"])
            .arg(&runbook)
            .args([flag, path]));
        out.code(2);
        assert!(
            out.stderr
                .contains(&format!("cannot write the report `{path}`: {problem}")),
            "{}",
            out.stderr
        );
    }
    assert_eq!(sandbox.total_calls(), 0, "nothing ran");
}

/// A skipped step is not counted as passed.
#[test]
fn the_summary_counts_skipped_steps_apart() {
    let dir = Dir::new();
    let path = dir.write(
        "skip.yaml",
        &format!(
            "version: 1
name: skip
region: cn-hangzhou
targets:
  instances: [{I1}]
steps:
  - name: a
    script: echo a
  - name: b
    depends_on: [a]
    when: \"{{{{ steps.a.status == 'failed' }}}}\"
    script: echo b
"
        ),
    );
    let sandbox = Sandbox::start();
    let out = run(sandbox.bin().arg("run").arg(&path).arg("--yes"));
    out.code(0);
    assert!(
        out.stdout
            .contains("run succeeded: 1 step passed, 1 skipped"),
        "{}",
        out.stdout
    );
}

/// A script no CreateCommand accepts is refused before the first step runs, not found out at
/// its own step after the others changed machines.
#[test]
fn a_script_over_the_content_limit_is_refused_before_anything_runs() {
    let dir = Dir::new();
    let big = "x".repeat(20_000);
    let path = dir.write(
        "big.yaml",
        &format!(
            "version: 1
name: big
region: cn-hangzhou
targets:
  instances: [{I1}]
steps:
  - name: small
    script: echo small
  - name: huge
    depends_on: [small]
    script: echo {big}
"
        ),
    );
    let sandbox = Sandbox::start();
    let out = run(sandbox.bin().arg("run").arg(&path).arg("--yes"));
    out.code(2);
    assert!(
        out.stderr
            .contains("step `huge`: the script is 26676 bytes after Base64, over the 24 KB"),
        "{}",
        out.stderr
    );
    assert_eq!(sandbox.calls("CreateCommand"), 0);
    assert_eq!(sandbox.calls("InvokeCommand"), 0);
}

/// A report never overwrites the runbook or another report.
#[test]
fn a_report_never_overwrites_an_input_or_another_report() {
    let dir = Dir::new();
    let runbook = dir.write(
        "r.yaml",
        &format!(
            "version: 1\nname: r\nregion: cn-hangzhou\ntargets: {{instances: [{I1}]}}\nsteps:\n  - name: a\n    script: echo a\n"
        ),
    );
    let before = std::fs::read_to_string(&runbook).expect("runbook");
    let sandbox = Sandbox::start();
    let out = run(sandbox
        .bin()
        .current_dir(dir.path())
        .args(["run", "--yes", "r.yaml", "--report", "./r.yaml"]));
    out.code(2);
    assert!(
        out.stderr
            .contains("the report `./r.yaml` would overwrite `r.yaml`, an input of this run"),
        "{}",
        out.stderr
    );
    assert_eq!(std::fs::read_to_string(&runbook).expect("runbook"), before);
    dir.write("same.x", "");
    let out = run(sandbox.bin().current_dir(dir.path()).args([
        "run", "--yes", "r.yaml", "--report", "same.x", "--junit", "same.x",
    ]));
    out.code(2);
    assert!(
        out.stderr.contains("`same.x` is given for two reports"),
        "{}",
        out.stderr
    );
    assert_eq!(sandbox.total_calls(), 0, "nothing ran");
}
