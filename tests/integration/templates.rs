//! Templates end to end: a script reaches the instance byte for byte as written (shell syntax,
//! Go-template braces, Cloud Assistant's own tokens), what Tera cannot take is rejected at its
//! line and column with a fix, undefined variables fail the plan, secrets never show, and the
//! cases B12 and B15 hold with their exact values.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use crate::harness::{Dir, Sandbox, bin, run};

const I1: &str = "i-sandbox0000000000001";
const I2: &str = "i-sandbox0000000000002";

/// The offline plan of `runbook.yaml` in `dir`, as JSON.
fn offline_plan(dir: &Dir) -> Value {
    let out = run(bin().current_dir(dir.path()).args([
        "plan",
        "--offline",
        "runbook.yaml",
        "--format",
        "json",
    ]));
    out.code(0);
    serde_json::from_str(&out.stdout).expect("a JSON plan")
}

/// The decoded CommandContent of a step's planned CreateCommand.
fn planned_content(step: &Value) -> String {
    let base64 = step["calls"][0]["params"]["CommandContent"]
        .as_str()
        .expect("Base64 content");
    String::from_utf8(STANDARD.decode(base64).expect("Base64")).expect("UTF-8")
}

const SHELL: &str = r#"version: 1
name: shell
region: cn-hangzhou
vars:
  package: nginx
targets:
  instances: [i-sandbox0000000000001, i-sandbox0000000000002]
steps:
  - name: shell
    script: |
      #!/bin/bash
      arr=(a b c)
      echo "len=${#arr[@]} def=${UNSET_VAR:-x} sum=$((1+2)) home=${#HOME}"
      echo 'go={{.State.Status}} {{ .Names }}'
      echo "id={{ACS::InstanceId}} conf={{conf}} pkg={{ vars.package }}"
    parameters:
      conf: /etc/app.conf
"#;

/// What Tera would misread (`${#`), Go templates and Cloud Assistant's tokens reach the
/// instance as written; the sandbox, like the service, fills in the built-in and the declared
/// parameter.
#[test]
fn shell_syntax_and_cloud_assistant_tokens_reach_the_instance_as_written() {
    let dir = Dir::new();
    dir.write("runbook.yaml", SHELL);
    let plan = offline_plan(&dir);
    assert_eq!(
        planned_content(&plan["steps"][0]),
        "#!/bin/bash\narr=(a b c)\necho \"len=${#arr[@]} def=${UNSET_VAR:-x} sum=$((1+2)) home=${#HOME}\"\n\
         echo 'go={{.State.Status}} {{ .Names }}'\necho \"id={{ACS::InstanceId}} conf={{conf}} pkg=nginx\"\n"
    );
    assert_eq!(
        plan["steps"][0]["calls"][0]["params"]["EnableParameter"],
        "true"
    );
    assert_eq!(
        plan["steps"][0]["calls"][1]["params"]["Parameters"],
        "{\"conf\":\"/etc/app.conf\"}"
    );
    let sandbox = Sandbox::start();
    let out = run(sandbox
        .bin()
        .current_dir(dir.path())
        .args(["run", "--yes", "runbook.yaml"]));
    out.code(0);
    for id in [I1, I2] {
        let expected = format!("  {id}: success, exit 0\n    | len=3 def=x sum=3 home=");
        assert!(out.stdout.contains(&expected), "{}", out.stdout);
        for line in [
            "    | go={{.State.Status}} {{ .Names }}\n".to_owned(),
            format!("    | id={id} conf=/etc/app.conf pkg=nginx\n"),
        ] {
            assert!(
                out.stdout.contains(&line),
                "missing {line:?} in\n{}",
                out.stdout
            );
        }
    }
}

/// Case B15: no HTML escaping, inline or from a script file whose name ends in `.html`.
#[test]
fn b15_content_is_never_html_escaped() {
    const EXPECTED: &str = "dGFyIGN6ZiAvdmFyL2JhY2t1cHMvYS50Z3ogLiAmJiBlY2hvICJkb25lIiA+IC92YXIvbG9nL3ggMj4mMSA8J2luJw==";
    let dir = Dir::new();
    dir.write("x.html", "{{ cmd }}");
    dir.write(
        "runbook.yaml",
        r#"name: b15
vars:
  cmd: "tar czf /var/backups/a.tgz . && echo \"done\" > /var/log/x 2>&1 <'in'"
targets: { instances: [i-placeholder01] }
steps:
  - name: pack
    type: RunShellScript
    script: "{{ cmd }}"
  - name: pack-from-file
    type: RunShellScript
    script_file: x.html
"#,
    );
    let plan = offline_plan(&dir);
    for step in plan["steps"].as_array().expect("steps") {
        assert_eq!(
            step["calls"][0]["params"]["CommandContent"], EXPECTED,
            "{}",
            step["name"]
        );
        assert_eq!(
            planned_content(step),
            "tar czf /var/backups/a.tgz . && echo \"done\" > /var/log/x 2>&1 <'in'"
        );
    }
}

/// Case B12, after its `continue_on_error: yes` line is fixed: every variable is its source
/// text.
#[test]
fn b12_variables_render_as_their_source_text() {
    let dir = Dir::new();
    dir.write(
        "runbook.yaml",
        r#"name: install-app
vars:
  app_version: 1.20
  python: 3.10
  country: NO
  mode: 0755
  build: 0x1F
  feature_flag: yes
steps:
  - name: install
    targets: { tags: { env: prod } }
    type: RunShellScript
    script: |
      pip install "app=={{ app_version }}"
      pyenv local {{ python }}
      chmod {{ mode }} /opt/app/run.sh
      echo "{{ country }} {{ build }} {{ feature_flag }}"
"#,
    );
    let expected = "pip install \"app==1.20\"\npyenv local 3.10\nchmod 0755 /opt/app/run.sh\necho \"NO 0x1F yes\"\n";
    let plan = offline_plan(&dir);
    assert_eq!(
        plan["steps"][0]["script"]["rendered"][0]["text"], expected,
        "{plan:#}"
    );
    assert_eq!(planned_content(&plan["steps"][0]), expected);
    let text = run(bin()
        .current_dir(dir.path())
        .args(["plan", "--offline", "runbook.yaml"]));
    assert!(
        text.stdout.contains(
            "      | pip install \"app==1.20\"\n      | pyenv local 3.10\n      | chmod 0755 /opt/app/run.sh\n      | echo \"NO 0x1F yes\"\n"
        ),
        "{}",
        text.stdout
    );
}

/// `validate --format json` records of `runbook.yaml` in `dir`.
fn records(dir: &Dir) -> Vec<Value> {
    let out =
        run(bin()
            .current_dir(dir.path())
            .args(["validate", "--format", "json", "runbook.yaml"]));
    out.code(2);
    let doc: Value = serde_json::from_str(&out.stdout).expect("JSON");
    doc["files"][0]["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .clone()
}

/// What Tera cannot take is an error at its line and column, in the YAML or in the script
/// file, with a way out; nothing is changed silently.
#[test]
fn rejected_templates_have_a_place_and_a_fix() {
    let dir = Dir::new();
    dir.write(
        "scripts/inspect.sh",
        "#!/bin/sh\nfor c in web db; do\n  docker inspect -f '{{json .Config}}' \"$c\"\ndone\n",
    );
    dir.write(
        "runbook.yaml",
        "name: rejected
targets: {instances: [i-abc]}
steps:
  - name: inline
    script: |
      echo start
      printf '%s\\n' \"{#}\"
  - name: from-file
    script_file: scripts/inspect.sh
",
    );
    let records = records(&dir);
    let got: Vec<(String, u64, u64, String)> = records
        .iter()
        .map(|r| {
            (
                r["path"].as_str().expect("a path").to_owned(),
                r["line"].as_u64().expect("a line"),
                r["column"].as_u64().expect("a column"),
                r["code"].as_str().expect("a code").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "runbook.yaml".to_owned(),
                7,
                22,
                "template::syntax".to_owned()
            ),
            (
                "scripts/inspect.sh".to_owned(),
                3,
                29,
                "template::syntax".to_owned()
            ),
        ]
    );
    for record in &records {
        assert!(
            record["help"]
                .as_str()
                .is_some_and(|h| h.contains("{% raw %}…{% endraw %}")),
            "{record}"
        );
    }
    // With the fix applied, the text goes through untouched.
    dir.write(
        "scripts/inspect.sh",
        "#!/bin/sh\nfor c in web db; do\n  docker inspect -f '{% raw %}{{json .Config}}{% endraw %}' \"$c\"\ndone\n",
    );
    dir.write(
        "runbook.yaml",
        "name: rejected
targets: {instances: [i-abc]}
steps:
  - name: from-file
    script_file: scripts/inspect.sh
",
    );
    let plan = offline_plan(&dir);
    assert_eq!(
        planned_content(&plan["steps"][0]),
        "#!/bin/sh\nfor c in web db; do\n  docker inspect -f '{{json .Config}}' \"$c\"\ndone\n"
    );
}

#[test]
fn an_undefined_variable_fails_the_plan_at_its_place() {
    let dir = Dir::new();
    dir.write(
        "runbook.yaml",
        "name: undefined
vars:
  package: nginx
targets: {instances: [i-abc]}
steps:
  - name: install
    script: |
      yum install -y {{ pakage }}
",
    );
    let out = run(bin()
        .current_dir(dir.path())
        .args(["plan", "--offline", "runbook.yaml"]));
    out.code(2);
    for text in [
        "step `install` uses undefined variable `pakage`",
        "[runbook.yaml:8:25]",
        "did you mean `package`?",
    ] {
        assert!(
            out.stderr.contains(text),
            "missing {text:?} in\n{}",
            out.stderr
        );
    }
    assert_eq!(out.stdout, "");
    // `--var` sets declared variables only: the typo stays an error.
    let out = run(bin().current_dir(dir.path()).args([
        "plan",
        "--offline",
        "runbook.yaml",
        "--var",
        "pakage=httpd",
    ]));
    out.code(2);
    assert!(
        out.stderr
            .contains("`--var` sets undeclared variable `pakage`"),
        "{}",
        out.stderr
    );
}

/// A secret from the environment is masked in every plan format and never written anywhere;
/// the instance gets the real value.
#[test]
fn secrets_are_masked_in_plans_and_reach_the_instance() {
    const SECRET: &str = "s3cr3t-Value-4711";
    let dir = Dir::new();
    dir.write(
        "runbook.yaml",
        "name: secret
region: cn-hangzhou
vars:
  token: {secret: true, env: DEPLOY_TOKEN, allow_inline: true}
targets: {instances: [i-sandbox0000000000001]}
steps:
  - name: use
    script: |
      printf '%s' '{{ token }}' | sha256sum | cut -c1-16
",
    );
    let sandbox = Sandbox::start();
    let mut plans = Vec::new();
    for format in ["text", "markdown", "json"] {
        let out = run(sandbox
            .bin()
            .env("DEPLOY_TOKEN", SECRET)
            .current_dir(dir.path())
            .args(["plan", "runbook.yaml", "--format", format]));
        out.code(0);
        assert!(!out.stdout.contains(SECRET), "{format}:\n{}", out.stdout);
        assert!(!out.stderr.contains(SECRET), "{format}:\n{}", out.stderr);
        plans.push(out.stdout);
    }
    for shown in &plans[..2] {
        assert!(
            shown.contains("printf '%s' '********' | sha256sum"),
            "{shown}"
        );
    }
    // The saved plan keeps the secret as a named segment, filled in only when the call is sent.
    let plan: Value = serde_json::from_str(&plans[2]).expect("JSON");
    assert_eq!(
        plan["steps"][0]["script"]["rendered"],
        serde_json::json!([
            {"text": "printf '%s' '"},
            {"secret": "token"},
            {"text": "' | sha256sum | cut -c1-16\n"}
        ])
    );
    assert_eq!(plan["secrets"]["token"]["env"], "DEPLOY_TOKEN");
    assert_eq!(
        plan["steps"][0]["calls"][0]["params"]["CommandContent"],
        "<Base64 of the script with its secrets, at run time>"
    );
    let out = run(sandbox
        .bin()
        .env("DEPLOY_TOKEN", SECRET)
        .current_dir(dir.path())
        .args(["run", "--yes", "runbook.yaml"]));
    out.code(0);
    assert!(!out.stdout.contains(SECRET) && !out.stderr.contains(SECRET));
    let digest = ecs_runbook::runbook::hash(SECRET.as_bytes());
    assert!(
        out.stdout.contains(&format!("    | {}", &digest[..16])),
        "the instance got the real value:\n{}",
        out.stdout
    );
}
