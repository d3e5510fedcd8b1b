//! Saved plans: `plan --format json -o plan.json` is the reviewed artefact, `run --plan`
//! executes exactly its calls, and refuses (exit 2, before any call) a plan that was edited or
//! whose runbook changed since, saying which.

use std::collections::BTreeMap;

use ecs_runbook::cloud::actions::DescribeCommands;
use ecs_runbook::cloud::{ClientBuilder, Credential, RegionId};
use serde_json::Value;

use crate::harness::{Dir, Sandbox, run};

const RUNBOOK: &str = "version: 1
name: saved
region: cn-hangzhou
vars:
  package: nginx
targets:
  instances: [i-sandbox0000000000001, i-sandbox0000000000002]
steps:
  - name: install
    script: |
      echo \"install {{ package }} on {{ACS::InstanceId}} with {{conf}}\"
    parameters:
      conf: /etc/nginx/nginx.conf
  - name: verify
    depends_on: [install]
    script: echo \"verified {{ vars.package }}\"
";

/// A runbook and its saved plan, written from the runbook's directory.
fn saved_plan(sandbox: &Sandbox) -> (Dir, Value) {
    let dir = Dir::new();
    dir.write("runbook.yaml", RUNBOOK);
    let out = run(sandbox.bin().current_dir(dir.path()).args([
        "plan",
        "runbook.yaml",
        "--format",
        "json",
        "-o",
        "plan.json",
    ]));
    out.code(0);
    assert_eq!(out.stdout, "", "the plan goes to the file");
    let text = std::fs::read_to_string(dir.path().join("plan.json")).expect("plan.json");
    let plan: Value = serde_json::from_str(&text).expect("a JSON plan");
    (dir, plan)
}

/// The planned calls of `action`, by step.
fn planned(plan: &Value, action: &str) -> BTreeMap<String, Vec<Value>> {
    plan["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|step| {
            let calls = step["calls"]
                .as_array()
                .expect("calls")
                .iter()
                .filter(|c| c["action"] == action)
                .map(|c| c["params"].clone())
                .collect();
            (step["name"].as_str().expect("a name").to_owned(), calls)
        })
        .collect()
}

/// The commands the sandbox holds: name → (Base64 content, EnableParameter).
fn commands(sandbox: &Sandbox) -> BTreeMap<String, (String, bool)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let client = ClientBuilder::new(RegionId::new("cn-hangzhou"), Credential::sandbox())
            .endpoint(sandbox.url.clone())
            .build();
        let response = client
            .call(&DescribeCommands {
                max_results: Some(50),
                ..DescribeCommands::default()
            })
            .await
            .expect("DescribeCommands");
        response
            .commands
            .command
            .into_iter()
            .map(|c| (c.name, (c.command_content, c.enable_parameter)))
            .collect()
    })
}

/// Runs `run --plan plan.json` in `dir` and checks it is refused with `message`, before any
/// API call.
fn assert_refused(sandbox: &Sandbox, dir: &Dir, message: &str) {
    let before = sandbox.total_calls();
    let out =
        run(sandbox
            .bin()
            .current_dir(dir.path())
            .args(["run", "--plan", "plan.json", "--yes"]));
    out.code(2);
    assert!(
        out.stderr.contains(message),
        "missing {message:?} in\n{}",
        out.stderr
    );
    assert_eq!(sandbox.total_calls(), before, "no call for a refused plan");
}

#[test]
fn run_plan_makes_exactly_the_planned_calls() {
    let sandbox = Sandbox::start();
    let (dir, plan) = saved_plan(&sandbox);
    assert_eq!(sandbox.calls("CreateCommand"), 0);
    let out = run(sandbox.bin().current_dir(dir.path()).args([
        "run",
        "--plan",
        "plan.json",
        "--yes",
        "--keep-commands",
    ]));
    out.code(0);
    for id in ["i-sandbox0000000000001", "i-sandbox0000000000002"] {
        assert!(
            out.stdout.contains(&format!(
                "| install nginx on {id} with /etc/nginx/nginx.conf"
            )),
            "{}",
            out.stdout
        );
    }
    // What the sandbox was sent is what the plan showed, byte for byte.
    let sent = commands(&sandbox);
    let creates = planned(&plan, "CreateCommand");
    assert_eq!(sent.len(), creates.len());
    for (step, calls) in &creates {
        let params = &calls[0];
        let name = params["Name"].as_str().expect("a name");
        let (content, enable_parameter) = &sent[name];
        assert_eq!(
            Some(content.as_str()),
            params["CommandContent"].as_str(),
            "{step}"
        );
        assert_eq!(
            *enable_parameter,
            params.get("EnableParameter").is_some_and(|v| v == "true"),
            "{step}"
        );
    }
    let invokes: usize = planned(&plan, "InvokeCommand").values().map(Vec::len).sum();
    assert_eq!(sandbox.calls("InvokeCommand"), invokes as u64);
    assert_eq!(sandbox.calls("CreateCommand"), creates.len() as u64);
    assert_eq!(sandbox.calls("DeleteCommand"), 0, "--keep-commands");
}

#[test]
fn an_edited_plan_is_refused() {
    let sandbox = Sandbox::start();
    let (dir, plan) = saved_plan(&sandbox);
    let path = dir.path().join("plan.json");
    let text = std::fs::read_to_string(&path).expect("plan.json");
    // One byte of the first script's Base64 content, as a reviewer would never notice.
    let content = plan["steps"][0]["calls"][0]["params"]["CommandContent"]
        .as_str()
        .expect("content")
        .to_owned();
    let mut edited = content.clone().into_bytes();
    edited[0] = if edited[0] == b'Z' { b'Y' } else { b'Z' };
    let edited = String::from_utf8(edited).expect("ASCII");
    std::fs::write(&path, text.replacen(&content, &edited, 1)).expect("write");
    assert_refused(
        &sandbox,
        &dir,
        "plan `plan.json` was edited after it was written: its integrity hash does not match its content",
    );
}

#[test]
fn a_plan_whose_runbook_changed_is_refused() {
    let sandbox = Sandbox::start();
    let (dir, _) = saved_plan(&sandbox);
    dir.write("runbook.yaml", &format!("{RUNBOOK}# one more line\n"));
    assert_refused(
        &sandbox,
        &dir,
        "runbook `runbook.yaml` changed since plan `plan.json` was written",
    );
}

#[test]
fn a_file_that_is_not_a_plan_is_refused() {
    let dir = Dir::new();
    dir.write("plan.json", "{\"steps\": []}\n");
    let sandbox = Sandbox::start();
    assert_refused(&sandbox, &dir, "`plan.json` is not a saved plan");
}

#[test]
fn variables_given_with_a_saved_plan_are_refused() {
    let sandbox = Sandbox::start();
    let (dir, _) = saved_plan(&sandbox);
    dir.write("vars.yaml", "package: httpd\n");
    for extra in [["--var", "package=httpd"], ["--vars-file", "vars.yaml"]] {
        let before = sandbox.total_calls();
        let out = run(sandbox
            .bin()
            .current_dir(dir.path())
            .args(["run", "--plan", "plan.json", "--yes"])
            .args(extra));
        out.code(2);
        assert!(
            out.stderr.contains(
                "do not apply to a saved plan: its variables were fixed when it was written"
            ),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr.contains("plan again with the new values"),
            "{}",
            out.stderr
        );
        assert_eq!(sandbox.total_calls(), before, "no call");
    }
}
