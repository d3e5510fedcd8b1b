//! `plan` through the binary: every format on every runbook in `runbooks/` (snapshots), tag
//! resolution and preflight warnings against the sandbox with read-only calls only, `--offline`,
//! cases B03 (paging and batches), B08 (a dry run that matches the real run) and B16 (the same
//! order in every process).

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use crate::harness::{Dir, Sandbox, bin, repo, run};

/// Every runbook in `runbooks/`, by file name, sorted.
pub(crate) fn example_runbooks() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(repo().join("runbooks"))
        .expect("runbooks/ exists")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    names.sort();
    names
}

/// Replaces what changes with every edit of a runbook or every release (hashes, the tool
/// version) with fixed placeholders, so the snapshots hold the shape of the plan.
fn normalise(text: &str) -> String {
    static FULL_HASH: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\b[0-9a-f]{64}\b").expect("regex"));
    static SHORT_HASH: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"sha256 (`?)[0-9a-f]{12}(`?)").expect("regex"));
    static VERSION: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r#""tool_version": "[^"]*""#).expect("regex"));
    let text = FULL_HASH.replace_all(text, "[sha256]");
    let text = SHORT_HASH.replace_all(&text, "sha256 ${1}[sha256]${2}");
    VERSION
        .replace_all(&text, r#""tool_version": "[version]""#)
        .into_owned()
}

/// The calls of one action the sandbox received, and every action it received.
fn actions(sandbox: &Sandbox) -> Vec<(String, u64)> {
    sandbox.stats()["calls"]
        .as_object()
        .expect("calls per action")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

/// Case B08: only read calls (Describe*); none that creates, invokes, stops or deletes.
#[track_caller]
fn assert_read_only(sandbox: &Sandbox) {
    let calls = actions(sandbox);
    assert!(!calls.is_empty(), "plan made no call at all");
    for (action, n) in &calls {
        assert!(
            action.starts_with("Describe"),
            "plan made {n} {action} call(s): {calls:?}"
        );
    }
    for action in [
        "CreateCommand",
        "InvokeCommand",
        "RunCommand",
        "StopInvocation",
        "DeleteCommand",
    ] {
        assert_eq!(sandbox.calls(action), 0, "{action}");
    }
}

/// The names of a plan's steps, in order.
fn step_names(plan: &Value) -> Vec<&str> {
    plan["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["name"].as_str().expect("a name"))
        .collect()
}

/// The steps a run's report names (its `step `name`: …` lines), in order.
fn reported_steps(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("step `"))
        .filter_map(|l| l.split('`').next())
        .collect()
}

fn plan_json(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("not a plan ({e}):\n{stdout}"))
}

#[test]
fn every_example_runbook_plans_in_every_format() {
    let sandbox = Sandbox::start();
    for name in example_runbooks() {
        let path = format!("runbooks/{name}");
        let stem = name.trim_end_matches(".yaml").trim_end_matches(".yml");
        for format in ["text", "markdown", "json", "mermaid", "dot"] {
            // Scheduled runbooks show their next fire times: pin the clock.
            let out = run(sandbox
                .bin()
                .current_dir(repo())
                .env("ECS_RUNBOOK_NOW", "2026-01-05T00:00:00Z")
                .args(["plan", &path, "--format", format]));
            out.code(0);
            insta::assert_snapshot!(format!("{stem}.{format}"), normalise(&out.stdout));
        }
        let offline = run(bin()
            .current_dir(repo())
            .env("ECS_RUNBOOK_NOW", "2026-01-05T00:00:00Z")
            .args(["plan", "--offline", &path]));
        offline.code(0);
        insta::assert_snapshot!(format!("{stem}.offline"), normalise(&offline.stdout));
    }
    assert_read_only(&sandbox);
}

/// A runbook as a user keeps it: a relative path, planned from its own directory.
fn write_runbook(dir: &Dir, text: &str) -> std::path::PathBuf {
    dir.write("runbook.yaml", text)
}

#[test]
fn offline_makes_no_call_and_says_what_it_did_not_check() {
    let sandbox = Sandbox::start();
    // The sandbox's endpoint and key are in the environment; `--offline` uses neither.
    let out = run(sandbox.bin().current_dir(repo()).args([
        "plan",
        "--offline",
        "runbooks/check-updates.yaml",
    ]));
    out.code(0);
    assert_eq!(sandbox.total_calls(), 0);
    assert!(
        out.stdout.contains("tags env=prod → resolved at run time"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(
            "not checked\n  - offline: tags were not resolved and instance status, agent status and OS were not checked"
        ),
        "{}",
        out.stdout
    );
    let json = run(sandbox.bin().current_dir(repo()).args([
        "plan",
        "--offline",
        "runbooks/check-updates.yaml",
        "--format",
        "json",
    ]));
    let plan = plan_json(&json.stdout);
    assert_eq!(plan["resolved"], false);
    assert_eq!(plan["steps"][0]["targets"]["instances"], Value::Null);
    assert_eq!(
        plan["steps"][0]["calls"][1]["params"]["InstanceId.N"],
        "<instances matching the tags, resolved at run time>"
    );
    assert_eq!(sandbox.total_calls(), 0);
}

/// Case B03, scale variant: 230 tagged instances over three pages of DescribeInstances, then
/// three InvokeCommand calls of 100, 100 and 30 distinct instances, as `run` would make them.
#[test]
fn b03_tags_resolve_over_every_page_into_batches_of_100() {
    let dir = Dir::new();
    let fleet = dir.write(
        "fleet.yaml",
        "generate:\n  - count: 230\n    prefix: i-placeholder\n    tags: {env: prod}\n    \
         execution: {simulated: {exit_code: 0, output: \"ok\\n\", duration: 10ms}}\n",
    );
    let sandbox = Sandbox::start_with(&["--fleet", fleet.to_str().expect("a UTF-8 path")]);
    write_runbook(
        &dir,
        "name: restart-prod\nregion: cn-hangzhou\nsteps:\n  - name: restart\n    targets: { tags: { env: prod } }\n    type: RunShellScript\n    script: systemctl restart app\n",
    );
    let out = run(sandbox.bin().current_dir(dir.path()).args([
        "plan",
        "runbook.yaml",
        "--format",
        "json",
    ]));
    out.code(0);
    let plan = plan_json(&out.stdout);
    let step = &plan["steps"][0];
    let matched = step["targets"]["tag_matches"].as_array().expect("resolved");
    assert_eq!(matched.len(), 230);
    let invokes: Vec<&Value> = step["calls"]
        .as_array()
        .expect("calls")
        .iter()
        .filter(|c| c["action"] == "InvokeCommand")
        .collect();
    let sizes: Vec<usize> = invokes
        .iter()
        .map(|c| {
            c["params"]
                .as_object()
                .expect("params")
                .keys()
                .filter(|k| k.starts_with("InstanceId."))
                .count()
        })
        .collect();
    assert_eq!(sizes, [100, 100, 30]);
    let mut all: Vec<&str> = invokes
        .iter()
        .flat_map(|c| {
            c["params"]
                .as_object()
                .expect("params")
                .iter()
                .filter(|(k, _)| k.starts_with("InstanceId."))
                .map(|(_, v)| v.as_str().expect("an id"))
        })
        .collect();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), 230, "230 distinct ids, none twice");
    // MaxResults 100: three pages, the last one ending the loop on its empty NextToken.
    assert_eq!(sandbox.calls("DescribeInstances"), 3);
    assert_read_only(&sandbox);
}

#[test]
fn preflight_warns_about_instances_that_would_not_run_the_script() {
    let dir = Dir::new();
    let fleet = dir.write(
        "fleet.yaml",
        "instances:
  - id: i-bp1web0000000000001
    tags: {role: web}
  - id: i-bp1old0000000000001
    status: Stopped
    tags: {role: web}
  - id: i-bp1noagent000000001
    agent: {installed: false}
    tags: {role: web}
  - id: i-bp1win0000000000001
    os: windows
    users: [Administrator]
    tags: {role: web}
",
    );
    let sandbox = Sandbox::start_with(&["--fleet", fleet.to_str().expect("a UTF-8 path")]);
    // A script of 20,006 bytes is 26,676 bytes of Base64, over the 18 KB limit.
    let big = format!("echo {}\n", "x".repeat(20_000));
    write_runbook(
        &dir,
        &format!(
            "name: preflight\nregion: cn-hangzhou\ntargets: {{tags: {{role: web}}}}\nsteps:\n  - name: check\n    script: uptime\n  - name: big\n    targets: {{instances: [i-bp1web0000000000001]}}\n    script: {big}"
        ),
    );
    let out = run(sandbox
        .bin()
        .current_dir(dir.path())
        .args(["plan", "runbook.yaml"]));
    out.code(0);
    let warnings = out
        .stdout
        .split("\nwarnings\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no warnings in\n{}", out.stdout));
    for expected in [
        "  - step `check`: instance `i-bp1old0000000000001` is Stopped, not Running\n",
        "  - step `check`: Cloud Assistant is not running on instance `i-bp1noagent000000001`\n",
        "  - step `check`: RunShellScript does not run on instance `i-bp1win0000000000001` (windows); it would be CommandNotApplicable\n",
        "  - step `big`: the script is 26676 bytes after Base64, over the 18 KB CommandContent limit\n",
    ] {
        assert!(
            warnings.contains(expected),
            "missing {expected:?} in\n{warnings}"
        );
    }
    assert!(
        !warnings.contains("i-bp1web0000000000001`"),
        "the healthy instance has no warning:\n{warnings}"
    );
    assert_read_only(&sandbox);
}

/// Case B08: the plan of a runbook whose second step has a condition on the first step's output.
const B08: &str = "name: b08
region: cn-hangzhou
steps:
  - name: check-version
    targets: { tags: { env: prod } }
    script: cat /opt/app/VERSION
  - name: upgrade
    depends_on: [check-version]
    when: \"{{ steps['check-version'].output | trim != '1.20' }}\"
    targets: { tags: { env: prod } }
    script: /opt/app/upgrade.sh 1.20
  - name: report
    depends_on: [upgrade]
    targets: { tags: { env: prod } }
    script: echo \"was {{ steps['check-version'].output | trim }}\"
";

const B08_FLEET: &str = "instances:
  - id: i-placeholder01
    tags: {env: prod}
    execution: {simulated: {exit_code: 0, output: \"1.19\\n\", duration: 50ms}}
  - id: i-placeholder02
    tags: {env: prod}
    execution: {simulated: {exit_code: 0, output: \"1.19\\n\", duration: 50ms}}
  - id: i-placeholder03
    tags: {env: prod}
    execution: {simulated: {exit_code: 0, output: \"1.19\\n\", duration: 50ms}}
";

#[test]
fn b08_plan_is_read_only_and_matches_the_real_run() {
    let dir = Dir::new();
    let fleet = dir.write("fleet.yaml", B08_FLEET);
    write_runbook(&dir, B08);
    let sandbox = Sandbox::start_with(&["--fleet", fleet.to_str().expect("a UTF-8 path")]);
    let out = run(sandbox
        .bin()
        .current_dir(dir.path())
        .args(["plan", "runbook.yaml"]));
    out.code(0);
    assert_read_only(&sandbox);
    let text = &out.stdout;
    let targets =
        "targets: tags env=prod → i-placeholder01, i-placeholder02, i-placeholder03 (3 instances)";
    assert_eq!(text.matches(targets).count(), 3, "{text}");
    assert_eq!(text.matches("timeout 600s").count(), 3, "{text}");
    assert!(
        text.contains(
            "when: would run if its condition holds: {{ steps['check-version'].output | trim != '1.20' }}; the condition depends on the results of `check-version`, which are known only at run time"
        ),
        "{text}"
    );
    assert!(!text.contains("skipped"), "{text}");
    // A script that uses an earlier step's output is shown as its template.
    assert!(
        text.contains(
            "script (template, rendered at run time):\n      | echo \"was {{ steps['check-version'].output | trim }}\""
        ),
        "{text}"
    );
    let json = run(sandbox.bin().current_dir(dir.path()).args([
        "plan",
        "runbook.yaml",
        "--format",
        "json",
    ]));
    let plan = plan_json(&json.stdout);
    assert_eq!(
        plan["steps"][2]["script"]["deferred"],
        "echo \"was {{ steps['check-version'].output | trim }}\""
    );
    assert_eq!(
        plan["steps"][2]["calls"][0]["params"]["CommandContent"],
        "<rendered at run time from earlier steps' results>"
    );
    let planned = step_names(&plan);
    assert_eq!(planned, ["check-version", "upgrade", "report"]);
    assert_read_only(&sandbox);

    // The real run afterwards, against the same sandbox: the same steps in the same order.
    let real = run(sandbox
        .bin()
        .current_dir(dir.path())
        .args(["run", "--yes", "runbook.yaml"]));
    real.code(0);
    let ran = reported_steps(&real.stdout);
    assert_eq!(ran, planned, "{}", real.stdout);
    assert!(
        real.stdout.contains("step `upgrade`: succeeded"),
        "{}",
        real.stdout
    );
}

/// Case B16 A: twenty fresh processes print the same plan, in file order among ready steps.
#[test]
fn b16_twenty_processes_plan_the_same_order() {
    let path = repo().join("tests/corpus/valid/b16-order.yaml");
    let mut outputs = Vec::new();
    for _ in 0..20 {
        let out = run(bin().arg("plan").arg("--offline").arg(&path));
        out.code(0);
        outputs.push(out.stdout);
    }
    assert!(
        outputs.iter().all(|o| *o == outputs[0]),
        "the plans differ between processes"
    );
    let order: Vec<&str> = outputs[0]
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("step `"))
        .filter_map(|l| l.split('`').next())
        .collect();
    assert_eq!(order, ["compile", "test", "lint", "package"]);
    let stages: Vec<&str> = outputs[0]
        .lines()
        .filter(|l| l.starts_with("stage "))
        .collect();
    assert_eq!(
        stages,
        ["stage 1", "stage 2 (these can run together)", "stage 3"]
    );
    let json = run(bin()
        .arg("plan")
        .arg("--offline")
        .arg(&path)
        .args(["--format", "json"]));
    let plan = plan_json(&json.stdout);
    assert_eq!(
        plan["stages"],
        serde_json::json!([["compile"], ["test", "lint"], ["package"]])
    );
}

/// Case B16 B and the typo: a cycle with its whole path, an unknown step at its line; exit 2
/// before any call.
#[test]
fn b16_cycle_and_typo_fail_before_any_call() {
    let sandbox = Sandbox::start();
    let cycle = repo().join("tests/corpus/broken/b16-cycle.yaml");
    let out = run(sandbox.bin().arg("plan").arg(&cycle));
    out.code(2);
    assert!(
        out.stderr.contains("dependency cycle `a -> c -> b -> a`"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("-> d"), "{}", out.stderr);
    let typo = repo().join("tests/corpus/broken/b16-unknown-dependency.yaml");
    let out = run(sandbox.bin().arg("plan").arg(&typo));
    out.code(2);
    assert!(
        out.stderr
            .contains("step `test` depends on unknown step `compille`"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("did you mean `compile`?"),
        "{}",
        out.stderr
    );
    assert_eq!(sandbox.total_calls(), 0);
}

/// The example with every kind of step: what the plan lists is what the run does, in order.
#[test]
fn config_rollout_runs_as_planned() {
    let sandbox = Sandbox::start();
    let path = "runbooks/config-rollout.yaml";
    let plan = run(sandbox
        .bin()
        .current_dir(repo())
        .args(["plan", path, "--format", "json"]));
    plan.code(0);
    let plan = plan_json(&plan.stdout);
    let planned = step_names(&plan);
    assert_eq!(planned, ["check-space", "write-config", "verify"]);
    assert_eq!(plan["rollback"][0]["name"], "restore");
    assert_read_only(&sandbox);
    let out = run(sandbox
        .bin()
        .current_dir(repo())
        .args(["run", "--yes", path]));
    out.code(0);
    let ran = reported_steps(&out.stdout);
    assert_eq!(ran, planned, "{}", out.stdout);
    for line in [
        "    | release 2.4.10 active",
        "    | space check success, config written success",
    ] {
        assert_eq!(out.stdout.matches(line).count(), 2, "{}", out.stdout);
    }
    // One instance at a time: one InvokeCommand per instance and step.
    assert_eq!(sandbox.calls("InvokeCommand"), 6);
}

/// Ids and tags together are their union, each instance once; a step's own `targets` replace
/// the runbook's; `--vars-file` then `--var` override declared variables.
#[test]
fn targets_mix_ids_and_tags_and_variables_can_be_overridden() {
    let dir = Dir::new();
    dir.write("prod.yaml", "package: httpd\nversion: 2.4.10\n");
    write_runbook(
        &dir,
        "name: mixed
region: cn-hangzhou
vars:
  package: nginx
  version: 1.20
targets:
  instances: [i-sandbox0000000000001, i-sandbox0000000000003]
  tags: {role: web}
steps:
  - name: install
    script: yum install -y {{ package }}-{{ version }}
  - name: only-db
    targets: {instances: [i-sandbox0000000000003]}
    script: echo db
",
    );
    let sandbox = Sandbox::start();
    let out = run(sandbox.bin().current_dir(dir.path()).args([
        "plan",
        "runbook.yaml",
        "--vars-file",
        "prod.yaml",
        "--var",
        "version=2.4.62",
    ]));
    out.code(0);
    for line in [
        "    targets: i-sandbox0000000000001, i-sandbox0000000000003; tags role=web → i-sandbox0000000000001, i-sandbox0000000000002 (3 instances)\n",
        "      | yum install -y httpd-2.4.62\n",
        "    targets: i-sandbox0000000000003 (1 instance)\n",
    ] {
        assert!(
            out.stdout.contains(line),
            "missing {line:?} in\n{}",
            out.stdout
        );
    }
    assert!(
        out.stdout.contains(
            "InstanceId.1=i-sandbox0000000000001 InstanceId.2=i-sandbox0000000000003 InstanceId.3=i-sandbox0000000000002 "
        ),
        "{}",
        out.stdout
    );
    assert_read_only(&sandbox);
}
