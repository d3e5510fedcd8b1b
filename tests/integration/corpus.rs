//! The broken-runbook corpus: every file in `tests/corpus/broken/` fails to load, or loads and
//! then fails to plan offline (template errors), with exactly the diagnostics listed for it in
//! `tests/corpus/broken/expected.txt` (message, line and column), and none panics; the files in
//! `tests/corpus/valid/` load, with the values the public bug cases (B12, B16) require.
//!
//! Each line of `expected.txt` is `FILE: LINE:COL: MESSAGE` (`-` for a problem with no place,
//! `OTHER@LINE:COL` for one in another file, such as a `--vars-file`). A corpus file may start
//! with `# args: --var k=v --vars-file F` to load it with overrides. After an intended change,
//! regenerate the table with `UPDATE_CORPUS=1 cargo test --test integration corpus` and review
//! the diff.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ecs_runbook::plan::BuildOptions;
use ecs_runbook::runbook::diagnostic::line_col;
use ecs_runbook::runbook::{Diagnostics, Runbook, VarOverrides, load_with};

fn corpus(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(kind)
}

/// The `.yaml` files of a corpus directory, sorted by name.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("the corpus directory exists")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('_'))
        })
        .collect();
    files.sort();
    files
}

/// Overrides from a `# args:` first line.
fn overrides(path: &Path) -> VarOverrides {
    let text = std::fs::read(path).map(|b| String::from_utf8_lossy(&b).into_owned());
    let text = text.unwrap_or_default();
    let first = text
        .lines()
        .next()
        .unwrap_or_default()
        .trim_start_matches('\u{feff}');
    let mut overrides = VarOverrides::new();
    if let Some(args) = first.strip_prefix("# args:") {
        let mut words = args.split_whitespace();
        while let Some(word) = words.next() {
            match word {
                "--var" => overrides = overrides.var(words.next().expect("a --var value")),
                "--vars-file" => {
                    let file = words.next().expect("a --vars-file value");
                    overrides = overrides.vars_file(path.parent().expect("a parent").join(file));
                }
                other => panic!("unknown corpus argument {other}"),
            }
        }
    }
    overrides
}

fn load_file(path: &Path) -> Result<Runbook, Diagnostics> {
    load_with(path, &overrides(path))
}

/// `LINE:COL: MESSAGE` lines of a load's problems, paths relative to the corpus.
fn lines(dir: &Path, all: &Diagnostics) -> Vec<String> {
    all.errors
        .iter()
        .map(|d| {
            let location = match (d.span(), d.own_source()) {
                (None, _) => "-".to_owned(),
                (Some(span), None) => {
                    let (line, col) = line_col(all.source.inner(), span.offset());
                    format!("{line}:{col}")
                }
                (Some(span), Some(other)) => {
                    let (line, col) = line_col(other.inner(), span.offset());
                    let name = Path::new(other.name())
                        .strip_prefix(dir)
                        .map_or_else(|_| other.name().to_owned(), |p| p.display().to_string());
                    format!("{name}@{line}:{col}")
                }
            };
            // Paths inside messages are made relative, so the table holds on any machine.
            let prefix = format!("{}/", dir.display());
            format!("{location}: {}", d.to_string().replace(&prefix, ""))
        })
        .collect()
}

/// Renders `all` as the terminal would show it, without colour.
pub(crate) fn render(all: &dyn miette::Diagnostic) -> String {
    let mut out = String::new();
    miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
        .with_width(100)
        .render_report(&mut out, all)
        .expect("rendering into a string");
    out
}

#[test]
fn broken_runbooks_give_their_expected_diagnostics() {
    let dir = corpus("broken");
    let table_path = dir.join("expected.txt");
    let mut actual: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut failures = Vec::new();
    for path in files(&dir) {
        let name = path
            .file_name()
            .expect("a name")
            .to_string_lossy()
            .into_owned();
        let result = std::panic::catch_unwind(|| load_file(&path));
        match result {
            Err(_) => failures.push(format!("{name}: panicked")),
            Ok(Ok(runbook)) => {
                let planned = std::panic::catch_unwind(|| {
                    ecs_runbook::plan::build(&runbook, &BuildOptions::default())
                });
                match planned {
                    Err(_) => failures.push(format!("{name}: planning panicked")),
                    Ok(Ok(_)) => {
                        failures.push(format!("{name}: loaded and planned without errors"));
                    }
                    Ok(Err(error)) => {
                        if std::panic::catch_unwind(|| render(&error)).is_err() {
                            failures.push(format!("{name}: rendering panicked"));
                        }
                        actual.insert(name, lines(&dir, &error));
                    }
                }
            }
            Ok(Err(all)) => {
                // Rendering must not panic either (spans inside the text, and so on).
                match std::panic::catch_unwind(|| render(&all)) {
                    Err(_) => failures.push(format!("{name}: rendering panicked")),
                    // `CORPUS_SHOW=part-of-a-name` prints the rendering, for review.
                    Ok(text) => {
                        if std::env::var("CORPUS_SHOW").is_ok_and(|s| name.contains(&s)) {
                            eprintln!("==== {name}\n{text}");
                        }
                    }
                }
                actual.insert(name, lines(&dir, &all));
            }
        }
    }
    let generated: String = actual
        .iter()
        .flat_map(|(file, lines)| lines.iter().map(move |l| format!("{file}: {l}\n")))
        .collect();
    if std::env::var_os("UPDATE_CORPUS").is_some() {
        std::fs::write(&table_path, &generated).expect("write expected.txt");
    }
    let expected = std::fs::read_to_string(&table_path).unwrap_or_default();
    let mut expected_by_file: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in expected.lines().filter(|l| !l.trim().is_empty()) {
        let (file, rest) = line.split_once(": ").expect("`FILE: ...` lines");
        expected_by_file
            .entry(file.to_owned())
            .or_default()
            .push(rest.to_owned());
    }
    for (file, lines) in &actual {
        match expected_by_file.get(file) {
            None => failures.push(format!("{file}: no expected diagnostics in expected.txt")),
            Some(want) if want != lines => failures.push(format!(
                "{file}:\n  expected:\n    {}\n  actual:\n    {}",
                want.join("\n    "),
                lines.join("\n    ")
            )),
            Some(_) => {}
        }
    }
    for file in expected_by_file.keys() {
        if !actual.contains_key(file) {
            failures.push(format!(
                "{file}: listed in expected.txt but not in the corpus"
            ));
        }
    }
    assert!(
        actual.len() >= 200,
        "the corpus has {} broken runbooks, fewer than 200",
        actual.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn valid_runbooks_load() {
    for path in files(&corpus("valid")) {
        if let Err(all) = load_file(&path) {
            panic!("{} should load:\n{}", path.display(), render(&all));
        }
    }
}

fn load_valid(name: &str) -> Runbook {
    let path = corpus("valid").join(name);
    match load_file(&path) {
        Ok(runbook) => runbook,
        Err(all) => panic!("{name} should load:\n{}", render(&all)),
    }
}

/// Case B12: scalars used as template variables keep their source text.
#[test]
fn b12_vars_keep_their_source_text() {
    use ecs_runbook::runbook::model::VarValue;
    let runbook = load_valid("b12-yaml-typing.yaml");
    let vars: Vec<(&str, &VarValue)> = runbook
        .vars
        .iter()
        .map(|v| (v.name.as_str(), &v.value))
        .collect();
    let text = |s: &str| VarValue::Text(s.to_owned());
    assert_eq!(
        vars,
        [
            ("app_version", &text("1.20")),
            ("python", &text("3.10")),
            ("country", &text("NO")),
            ("mode", &text("0755")),
            ("build", &text("0x1F")),
            ("feature_flag", &text("yes")),
        ]
    );
    // The literal block is delivered byte for byte, final newline included.
    assert_eq!(
        runbook.steps[0].script.text,
        "pip install \"app=={{ app_version }}\"\npyenv local {{ python }}\nchmod {{ mode }} \
         /opt/app/run.sh\necho \"{{ country }} {{ build }} {{ feature_flag }}\"\n"
    );
    assert_eq!(
        runbook.version, 1,
        "a runbook without `version` is version 1"
    );
}

/// Case B16 A: file order breaks ties; stages group what can run together.
#[test]
fn b16_order_and_stages() {
    use ecs_runbook::plan::graph;
    let runbook = load_valid("b16-order.yaml");
    for _ in 0..20 {
        let order = graph::order(&runbook.steps).expect("a DAG");
        let names: Vec<&str> = order
            .iter()
            .map(|&i| runbook.steps[i].name.as_str())
            .collect();
        assert_eq!(names, ["compile", "test", "lint", "package"]);
        assert_eq!(graph::stages(&runbook.steps, &order), [0, 1, 1, 2]);
    }
    assert_eq!(graph::ancestors(&runbook.steps, 3), [0, 1, 2]);
}

/// Every top-level field of the format.
#[test]
fn full_format_resolves_every_runbook_field() {
    use ecs_runbook::runbook::model::{SecretSource, VarValue};

    let runbook = load_valid("full-format.yaml");
    assert_eq!(runbook.name.as_str(), "patch-web");
    assert_eq!(
        runbook
            .region
            .as_ref()
            .map(ecs_runbook::cloud::RegionId::as_str),
        Some("cn-hangzhou")
    );
    assert_eq!(runbook.hash.len(), 64);
    let schedule = runbook.schedule.as_ref().expect("a schedule");
    assert_eq!(schedule.frequency.value, "0 0 3 ? * SUN");
    // The runbook's zone is written into the zone-less cron it sends.
    assert_eq!(schedule.sent, "0 0 3 ? * SUN Asia/Shanghai");
    assert_eq!(
        runbook.vars[1].value,
        VarValue::List(vec![
            VarValue::Text("1.20".into()),
            VarValue::Text("1.26".into())
        ])
    );
    match &runbook.vars[3].value {
        VarValue::Secret(secret) => {
            assert_eq!(secret.from, SecretSource::Env("DEPLOY_TOKEN".into()));
            assert!(!secret.allow_inline);
        }
        other => panic!("a secret, found {other:?}"),
    }
    match &runbook.vars[4].value {
        VarValue::Secret(secret) => {
            assert!(
                matches!(&secret.from, SecretSource::File(p) if p.ends_with("secrets/cert.pem"))
            );
            assert!(secret.allow_inline);
        }
        other => panic!("a secret, found {other:?}"),
    }
}

/// Every step field of the format, with defaults and overrides applied.
#[test]
fn full_format_resolves_every_step_field() {
    use std::time::Duration;

    use ecs_runbook::cloud::status::CommandType;
    use ecs_runbook::runbook::model::{Amount, OnFailure, ScriptOrigin};

    let runbook = load_valid("full-format.yaml");
    let [check, patch, report] = &runbook.steps[..] else {
        panic!("three steps")
    };
    // Defaults apply where the step says nothing.
    assert_eq!(check.timeout, Duration::from_mins(10));
    assert_eq!(check.working_dir.as_deref(), Some("/root"));
    assert_eq!(check.username.as_deref(), Some("root"));
    assert_eq!(check.command_type, CommandType::RunShellScript);
    assert_eq!(check.rate_control.concurrency, Some(Amount::Percent(25)));
    assert_eq!(check.rate_control.max_errors, Some(Amount::Count(0)));
    assert_eq!(check.targets.instances.len(), 1);
    assert_eq!(check.targets.tags.len(), 2);
    assert_eq!(check.outputs[0].name, "usage");
    assert_eq!(
        check.outputs[0]
            .regex
            .captures("/dev/vda1 42% /")
            .map(|c| c[1].to_owned()),
        Some("42".to_owned())
    );
    // The step's own values win; rate control merges field by field.
    assert_eq!(patch.timeout, Duration::from_mins(90));
    assert_eq!(patch.retries, 1);
    assert_eq!(patch.on_failure, OnFailure::Rollback);
    assert_eq!(patch.rate_control.concurrency, Some(Amount::Count(1)));
    assert_eq!(patch.rate_control.max_errors, Some(Amount::Count(0)));
    assert_eq!(patch.success.exit_codes, [0, 3]);
    assert_eq!(patch.success.min_success, Amount::Percent(90));
    assert!(
        patch
            .success
            .output_matches
            .as_ref()
            .is_some_and(|r| r.is_match("Nothing to do"))
    );
    assert_eq!(patch.success.output_contains.as_deref(), Some("done"));
    assert_eq!(patch.parameters["conf"], "/etc/nginx/nginx.conf");
    assert_eq!(patch.parameters["empty"], "");
    assert_eq!(patch.output_encoding.map(|e| e.0.name()), Some("GBK"));
    assert!(
        patch
            .when
            .as_ref()
            .is_some_and(|w| w.value.contains("check-disk"))
    );
    assert!(
        matches!(&patch.script.origin, ScriptOrigin::File(p) if p.ends_with("scripts/patch.sh"))
    );
    assert_eq!(
        patch.script.text,
        "#!/bin/sh\nyum -y update {{ vars.package }}\n"
    );
    assert_eq!(patch.depends_on[0].value.as_str(), "check-disk");
    // A step's own targets replace the default ones; an alias reuses a value.
    assert_eq!(report.targets.instances.len(), 1);
    assert!(report.targets.tags.is_empty());
    assert_eq!(report.timeout, Duration::from_mins(30));
    assert_eq!(report.command_type, CommandType::RunPowerShellScript);
    assert_eq!(
        runbook
            .rollback
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>(),
        ["restore", "verify"]
    );
}

/// `--var` and `--vars-file` replace the text of declared variables; the flag wins.
#[test]
fn overrides_replace_variable_text() {
    use ecs_runbook::runbook::load_str;
    use ecs_runbook::runbook::model::VarValue;
    let text = "version: 1\nname: demo\ntargets: {instances: [i-abc]}\nvars:\n  package: httpd\n  \
                version: 1.20\n  hosts: [a]\nsteps:\n  - name: a\n    script: echo\n";
    let overrides = VarOverrides::new()
        .vars_file_text(
            "vars.yaml",
            "version: 1.26\npackage: nginx\nhosts: [b, c]\n",
        )
        .var("package=caddy=2");
    let runbook = load_str(Path::new("r.yaml"), text, &overrides).expect("valid");
    let value = |name: &str| {
        runbook
            .vars
            .iter()
            .find(|v| v.name == name)
            .map(|v| v.value.clone())
            .expect("declared")
    };
    assert_eq!(value("package"), VarValue::Text("caddy=2".into()));
    assert_eq!(value("version"), VarValue::Text("1.26".into()));
    assert_eq!(
        value("hosts"),
        VarValue::List(vec![VarValue::Text("b".into()), VarValue::Text("c".into())])
    );
}

/// A corpus file's diagnostics as the terminal shows them (colour off), loaded under its bare
/// file name so the snapshot holds on any machine.
fn rendered(name: &str) -> String {
    let dir = corpus("broken");
    let text = std::fs::read_to_string(dir.join(name)).expect("a corpus file");
    let mut overrides = VarOverrides::new();
    if let Some(args) = text.lines().next().and_then(|l| l.strip_prefix("# args:")) {
        let mut words = args.split_whitespace();
        while let Some(word) = words.next() {
            let value = words.next().expect("a value");
            overrides = match word {
                "--var" => overrides.var(value),
                _ => overrides.vars_file_text(
                    value,
                    std::fs::read_to_string(dir.join(value)).expect("the vars file"),
                ),
            };
        }
    }
    match ecs_runbook::runbook::load_str(Path::new(name), &text, &overrides) {
        Ok(_) => panic!("{name} loaded"),
        Err(all) => render(&all),
    }
}

#[test]
fn rendered_diagnostics() {
    for name in [
        "b12-continue-on-error-yes.yaml",
        "b16-cycle.yaml",
        "b09-five-field-cron.yaml",
        "b09-gmt-offset-leading-zero.yaml",
        "frequency-rate-not-longer-than-timeout.yaml",
        "multiple-errors-at-once.yaml",
        "bad-regex-literal-block.yaml",
        "yaml-duplicate-key.yaml",
        "yaml-tab-indentation.yaml",
        "vars-file-undeclared.yaml",
        "template-with-loader-errors.yaml",
        "template-shell-comment-brace.yaml",
        "template-undefined-variable.yaml",
    ] {
        insta::assert_snapshot!(name.trim_end_matches(".yaml"), rendered(name));
    }
}
