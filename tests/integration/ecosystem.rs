//! Fitting the ecosystem: aliyun CLI profiles, completions, the man page, logs, pipes.

use std::io::Read as _;
use std::process::Stdio;

use crate::harness::{Dir, Sandbox, bin, repo, run};

fn profile_home(dir: &Dir, current: &str) {
    dir.write(
        ".aliyun/config.json",
        &format!(
            r#"{{"current": "{current}", "profiles": [
  {{"name": "sbx", "mode": "AK", "access_key_id": "sandbox", "access_key_secret": "sandbox-secret", "region_id": "cn-hangzhou"}},
  {{"name": "wrong", "mode": "AK", "access_key_id": "sandbox", "access_key_secret": "not-the-secret", "region_id": "cn-hangzhou"}},
  {{"name": "sts", "mode": "StsToken", "access_key_id": "sandbox", "access_key_secret": "sandbox-secret", "sts_token": "tok", "region_id": "cn-hangzhou"}}
]}}"#
        ),
    );
}

/// Credentials and region from `~/.aliyun/config.json`: `--profile`, the current profile, and
/// the environment winning over the current profile.
#[test]
fn credentials_come_from_the_aliyun_cli_config() {
    let sandbox = Sandbox::start();
    let home = Dir::new();
    profile_home(&home, "sbx");
    let plan = |args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = bin();
        cmd.current_dir(repo())
            .env("HOME", home.path())
            .env("ECS_RUNBOOK_ENDPOINT", &sandbox.url)
            .args(["plan", "runbooks/check-updates.yaml"])
            .args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        run(&mut cmd)
    };
    // The current profile (`sbx`) signs correctly and gives the region.
    let out = plan(&[], &[]);
    out.code(0);
    assert!(
        out.stdout.contains("i-sandbox0000000000003"),
        "{}",
        out.stdout
    );
    // `--profile wrong` has the wrong secret: the sandbox refuses the signature (exit 3).
    let out = plan(&["--profile", "wrong"], &[]);
    out.code(3);
    assert!(
        out.stderr.contains("SignatureDoesNotMatch"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("not-the-secret"), "{}", out.stderr);
    // The environment wins over the current profile...
    let env = [
        ("ALIBABA_CLOUD_ACCESS_KEY_ID", "sandbox"),
        ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "bad-env-secret"),
    ];
    plan(&[], &env).code(3);
    // ...but not over an explicit `--profile`.
    plan(&["--profile", "sbx"], &env).code(0);
    // An StsToken profile sends its token.
    plan(&["--profile", "sts"], &[]).code(0);
    // An unknown profile names the ones there are.
    let out = plan(&["--profile", "sbz"], &[]);
    out.code(3);
    assert!(out.stderr.contains("`sbx`"), "{}", out.stderr);
}

#[test]
fn no_credentials_lists_what_was_tried() {
    let home = Dir::new();
    let out = run(bin().current_dir(repo()).env("HOME", home.path()).args([
        "plan",
        "--region",
        "cn-hangzhou",
        "runbooks/echo-123.yaml",
    ]));
    out.code(3);
    assert!(
        out.stderr.contains("ALIBABA_CLOUD_ACCESS_KEY_ID"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("config.json` does not exist"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--sandbox"), "{}", out.stderr);
}

#[test]
fn completions_and_man_page() {
    for (shell, marker) in [
        ("bash", "complete -F _ecs__runbook"),
        ("zsh", "#compdef ecs-runbook"),
        ("fish", "complete -c ecs-runbook"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let out = run(bin().args(["completions", shell]));
        out.code(0);
        assert!(
            out.stdout.contains(marker),
            "{shell}: {}",
            &out.stdout[..200.min(out.stdout.len())]
        );
        assert!(out.stdout.contains("validate"), "{shell}");
    }
    let out = run(bin().arg("man"));
    out.code(0);
    assert!(
        out.stdout.starts_with(".ie") || out.stdout.contains(".TH"),
        "{}",
        &out.stdout[..200]
    );
    assert!(out.stdout.contains("ecs\\-runbook"));
    // Each subcommand has its page, with its own flags, under the name the top page cites.
    let out = run(bin().args(["man", "run"]));
    out.code(0);
    assert!(
        out.stdout.contains(".TH ecs-runbook-run 1"),
        "{}",
        &out.stdout[..300]
    );
    assert!(out.stdout.contains("timeout\\-grace"));
    let out = run(bin().args(["man", "schedule", "apply"]));
    out.code(0);
    assert!(out.stdout.contains(".TH ecs-runbook-schedule-apply 1"));
    let out = run(bin().args(["man", "runn"]));
    out.code(2);
    assert!(out.stderr.contains("did you mean `run`?"), "{}", out.stderr);
}

/// `-vv` logs every call with its parameters, and never the secret, the signature, the STS
/// token or the script.
#[test]
fn verbose_logs_redact_secrets() {
    let sandbox = Sandbox::start();
    let home = Dir::new();
    profile_home(&home, "sts");
    let out = run(sandbox
        .bin()
        .current_dir(repo())
        .env("HOME", home.path())
        .env_remove("ALIBABA_CLOUD_ACCESS_KEY_ID")
        .env_remove("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
        .args(["-vv", "run", "--yes", "runbooks/echo-123.yaml"]));
    out.code(0);
    for action in [
        "CreateCommand",
        "InvokeCommand",
        "DescribeInvocations",
        "DeleteCommand",
    ] {
        assert!(
            out.stderr
                .contains(&format!("api call action=\"{action}\" status=200")),
            "{action} not logged:\n{}",
            out.stderr
        );
    }
    assert!(out.stderr.contains("request_id="));
    assert!(out.stderr.contains("Signature=<redacted>"));
    for secret in ["sandbox-secret", "SecurityToken=tok", "ZWNobyAxMjM"] {
        assert!(
            !out.stderr.contains(secret),
            "{secret} leaked:\n{}",
            out.stderr
        );
    }
}

/// `| head` closes the pipe early; the tool exits quietly instead of panicking.
#[test]
fn a_closed_pipe_exits_quietly() {
    let mut child = bin()
        .args(["completions", "bash"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(status.code(), Some(0), "{stderr}");
}

/// Every example runbook starts with the yaml-language-server modeline, so an editor offers
/// the schema's hover help and completion on it.
#[test]
fn every_example_runbook_starts_with_the_schema_modeline() {
    let names = crate::plan::example_runbooks();
    assert!(names.len() >= 9, "{names:?}");
    for name in names {
        let text = std::fs::read_to_string(repo().join("runbooks").join(&name)).unwrap();
        assert_eq!(
            text.lines().next(),
            Some("# yaml-language-server: $schema=../schemas/runbook.schema.json"),
            "runbooks/{name}"
        );
    }
}

/// A one-step runbook on web-01, with `region` when given.
fn where_runbook(dir: &Dir, region: Option<&str>) -> std::path::PathBuf {
    let region = region.map_or_else(String::new, |r| format!("region: {r}\n"));
    dir.write(
        "where.yaml",
        &format!(
            "name: where\n{region}targets: {{instances: [i-sandbox0000000000001]}}\nsteps:\n  - name: a\n    script: echo a\n"
        ),
    )
}

/// The region is `--region`, else the runbook's, else the profile's, else
/// `ALIBABA_CLOUD_REGION_ID` (README "Credentials and endpoints"); the JSON report says which
/// one the calls used.
#[test]
fn region_comes_from_the_flag_the_runbook_the_profile_then_the_environment() {
    let sandbox = Sandbox::start();
    let home = Dir::new();
    home.write(
        ".aliyun/config.json",
        r#"{"current": "sh", "profiles": [
  {"name": "sh", "mode": "AK", "access_key_id": "sandbox", "access_key_secret": "sandbox-secret", "region_id": "cn-shanghai"},
  {"name": "none", "mode": "AK", "access_key_id": "sandbox", "access_key_secret": "sandbox-secret"}
]}"#,
    );
    let work = Dir::new();
    let with_region = where_runbook(&work, Some("cn-beijing"));
    let without = work.write(
        "plain/where.yaml",
        &std::fs::read_to_string(where_runbook(&Dir::new(), None)).unwrap(),
    );
    let region = |file: &std::path::Path, args: &[&str]| {
        let out = run(bin()
            .current_dir(work.path())
            .env("HOME", home.path())
            .env("ECS_RUNBOOK_ENDPOINT", &sandbox.url)
            .env("ALIBABA_CLOUD_REGION_ID", "cn-shenzhen")
            .args(["run", "--yes", "--format", "json"])
            .args(args)
            .arg(file));
        let report: serde_json::Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr));
        report["region"].as_str().unwrap().to_owned()
    };
    assert_eq!(
        region(&with_region, &["--region", "cn-hangzhou"]),
        "cn-hangzhou"
    );
    assert_eq!(region(&with_region, &[]), "cn-beijing");
    assert_eq!(region(&without, &[]), "cn-shanghai");
    assert_eq!(region(&without, &["--profile", "none"]), "cn-shenzhen");
    // With none of them, the error names every place it looked.
    let out = run(bin()
        .current_dir(work.path())
        .env("HOME", home.path())
        .env("ECS_RUNBOOK_ENDPOINT", &sandbox.url)
        .args(["run", "--yes", "--profile", "none"])
        .arg(&without));
    out.code(2);
    for place in [
        "--region",
        "runbook's `region`",
        "profile's region",
        "ALIBABA_CLOUD_REGION_ID",
    ] {
        assert!(out.stderr.contains(place), "{place}: {}", out.stderr);
    }
}

/// `--endpoint` is where every call goes, over `ECS_RUNBOOK_ENDPOINT`, and the report says so.
#[test]
fn the_endpoint_flag_is_where_the_calls_go() {
    let sandbox = Sandbox::start();
    let work = Dir::new();
    let file = where_runbook(&work, Some("cn-hangzhou"));
    let out = run(sandbox
        .bin()
        .current_dir(work.path())
        .env("ECS_RUNBOOK_ENDPOINT", "http://127.0.0.1:9")
        .args([
            "run",
            "--yes",
            "--format",
            "json",
            "--endpoint",
            &format!("{}/", sandbox.url),
        ])
        .arg(&file));
    out.code(0);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["endpoint"], sandbox.url.as_str());
    assert_eq!(report["sandbox"], false);
    assert_eq!(sandbox.calls("CreateCommand"), 1);
    assert_eq!(sandbox.calls("InvokeCommand"), 1);
}

/// A VPC endpoint is used as given: through an HTTPS proxy the client asks for a tunnel to
/// `ecs-vpc.cn-hangzhou.aliyuncs.com:443`, never to the public `ecs.` host. (The proxy refuses
/// the tunnel, so the command ends with a network error, exit 3, after its retries.)
#[test]
fn a_vpc_endpoint_is_used_as_given() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy = format!("http://{}", listener.local_addr().unwrap());
    let seen = std::thread::spawn(move || {
        use std::io::{BufRead as _, Write as _};
        let (mut stream, _) = listener.accept().unwrap();
        let mut first = String::new();
        std::io::BufReader::new(&stream)
            .read_line(&mut first)
            .unwrap();
        let _ = stream.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
        first
    });
    let out = run(bin()
        .current_dir(repo())
        .env("HTTPS_PROXY", &proxy)
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", "id")
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "vpc-secret")
        .args([
            "plan",
            "--endpoint",
            "https://ecs-vpc.cn-hangzhou.aliyuncs.com",
            "runbooks/echo-123.yaml",
        ]));
    out.code(3);
    assert_eq!(
        seen.join().unwrap().trim(),
        "CONNECT ecs-vpc.cn-hangzhou.aliyuncs.com:443 HTTP/1.1"
    );
    assert!(!out.stderr.contains("vpc-secret"), "{}", out.stderr);
}

/// Flags that cannot work are usage errors (exit 2) that say why and what to write, before
/// any call.
#[test]
fn flags_that_cannot_work_are_usage_errors() {
    let sandbox = Sandbox::start();
    for (args, message, help) in [
        (
            &["run", "--sandbox", "--max-parallel", "0"][..],
            "`--max-parallel 0` would never start a step",
            "`--max-parallel 1`",
        ),
        (
            &["run", "--sandbox", "--endpoint", "http://127.0.0.1:9"][..],
            "`--sandbox` and `--endpoint` both say where calls go",
            "not both",
        ),
        (
            &["plan", "--endpoint", "ecs-vpc.cn-hangzhou.aliyuncs.com"][..],
            "`--endpoint ecs-vpc.cn-hangzhou.aliyuncs.com` has no scheme",
            "write `https://ecs-vpc.cn-hangzhou.aliyuncs.com`",
        ),
        (
            &["plan", "--offline", "--endpoint", "http://127.0.0.1:9"][..],
            "`--offline` makes no call, so `--endpoint` would not be used",
            "drop `--endpoint`",
        ),
        (
            &["run", "--yes", "--endpoint", "https://ecs.aliyuncs.com/v1"][..],
            "is not a scheme and a host",
            "https://ecs-vpc.cn-hangzhou.aliyuncs.com",
        ),
    ] {
        let out = run(sandbox
            .bin()
            .current_dir(repo())
            .args(args)
            .arg("runbooks/echo-123.yaml"));
        out.code(2);
        assert!(out.stderr.contains(message), "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(help), "{args:?}: {}", out.stderr);
    }
    let out = run(sandbox
        .bin()
        .current_dir(repo())
        .env("ECS_RUNBOOK_ENDPOINT", "127.0.0.1:8080")
        .args(["plan", "runbooks/echo-123.yaml"]));
    out.code(2);
    assert!(
        out.stderr
            .contains("`ECS_RUNBOOK_ENDPOINT=127.0.0.1:8080` has no scheme"),
        "{}",
        out.stderr
    );
    assert_eq!(sandbox.total_calls(), 0);
}

/// Parses a command's stdout as one JSON document.
#[track_caller]
fn json_stdout(out: &crate::harness::Run) -> serde_json::Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}):\n{}\n--- stderr\n{}",
            out.stdout, out.stderr
        )
    })
}

/// Runs the binary against `sandbox` in `work`, the clock pinned.
fn in_work(sandbox: &Sandbox, work: &Dir, args: &[&str]) -> crate::harness::Run {
    run(sandbox
        .bin()
        .current_dir(work.path())
        .env("ECS_RUNBOOK_NOW", "2026-01-05T00:00:00Z")
        .args(args))
}

fn path_arg(path: &std::path::Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

/// `--format json` on every command that prints results: stdout is one JSON document of the
/// shape the README gives, and progress stays on stderr. The `schedule` commands are in
/// `schedule_commands_print_json`.
#[test]
fn every_command_that_prints_results_prints_json() {
    let sandbox = Sandbox::start();
    let work = Dir::new();
    let failing = work.write(
        "failing.yaml",
        "name: failing\nregion: cn-hangzhou\ntargets: {tags: {role: web}}\nsteps:\n  - name: flaky\n    script: echo trying; exit 3\n",
    );
    let weekly = repo().join("runbooks/weekly-archive-cleanup.yaml");
    let cmd = |args: &[&str]| in_work(&sandbox, &work, args);

    let out = cmd(&["validate", "--format", "json", path_arg(&weekly)]);
    out.code(0);
    assert_eq!(json_stdout(&out)["errors"], 0);
    let out = cmd(&["plan", "--format", "json", path_arg(&failing)]);
    out.code(0);
    assert_eq!(json_stdout(&out)["steps"][0]["name"], "flaky");
    let out = cmd(&["schedule", "preview", "--format", "json", "rate(5m)"]);
    out.code(0);
    assert!(json_stdout(&out)["times"].is_array());
    let out = cmd(&["schema"]);
    out.code(0);
    assert!(json_stdout(&out)["properties"]["steps"].is_object());

    // `run`: the JSON report on stdout, the progress lines on stderr.
    let out = cmd(&["run", "--yes", "--format", "json", path_arg(&failing)]);
    out.code(1);
    let report = json_stdout(&out);
    assert_eq!(report["outcome"], "failed");
    assert_eq!(report["steps"][0]["tally"]["failed"], 2);
    assert!(
        out.stderr.contains("[flaky] starting on 2 instances"),
        "{}",
        out.stderr
    );
    let run_id = report["run_id"].as_str().unwrap().to_owned();
    // `resume`: the same report, marked resumed.
    let out = cmd(&[
        "resume",
        "--yes",
        "--retry-failed",
        "--format",
        "json",
        &run_id,
    ]);
    out.code(1);
    let report = json_stdout(&out);
    assert_eq!(report["resumed"], true);
    assert_eq!(report["run_id"], run_id.as_str());
}

/// `--format json` on `run` of a scheduled runbook and on `schedule apply`, `list` and
/// `remove`.
#[test]
fn schedule_commands_print_json() {
    let sandbox = Sandbox::start();
    let work = Dir::new();
    let weekly = repo().join("runbooks/weekly-archive-cleanup.yaml");
    let cmd = |args: &[&str]| in_work(&sandbox, &work, args);
    // `run` of a scheduled runbook: the Timed invocation it created.
    let out = cmd(&["run", "--yes", "--format", "json", path_arg(&weekly)]);
    out.code(0);
    let created = json_stdout(&out);
    assert_eq!(created["set"], "default");
    assert_eq!(created["changes"][0]["change"], "create");
    assert!(created["changes"][0]["created"]["command_id"].is_string());
    // `schedule apply` without and with `--yes`: the diff, then what it did.
    let other = work.write(
        "sched/nightly.yaml",
        &std::fs::read_to_string(repo().join("runbooks/nightly-backup.yaml")).unwrap(),
    );
    let dir = path_arg(other.parent().unwrap());
    let out = cmd(&["schedule", "apply", "--format", "json", dir]);
    out.code(0);
    let diff = json_stdout(&out);
    assert_eq!(diff["applied"], false);
    let changes: Vec<(&str, &str)> = diff["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["change"].as_str().unwrap(), c["name"].as_str().unwrap()))
        .collect();
    assert_eq!(
        changes,
        [
            ("create", "nightly-backup"),
            ("remove", "weekly-archive-cleanup")
        ]
    );
    let out = cmd(&["schedule", "apply", "--yes", "--format", "json", dir]);
    out.code(0);
    assert_eq!(json_stdout(&out)["applied"], true);
    // `schedule list` and `schedule remove`.
    let out = cmd(&[
        "schedule",
        "list",
        "--region",
        "cn-hangzhou",
        "--format",
        "json",
    ]);
    out.code(0);
    let list = json_stdout(&out);
    assert_eq!(list["schedules"].as_array().unwrap().len(), 1, "{list:#}");
    assert_eq!(list["schedules"][0]["name"], "nightly-backup");
    for (yes, removed) in [(&[][..], false), (&["--yes"][..], true)] {
        let mut args = vec![
            "schedule",
            "remove",
            "nightly-backup",
            "--region",
            "cn-hangzhou",
        ];
        args.extend_from_slice(yes);
        args.extend(["--format", "json"]);
        let out = cmd(&args);
        out.code(0);
        let doc = json_stdout(&out);
        assert_eq!(doc["removed"], removed, "{doc:#}");
        assert_eq!(doc["invoke_ids"].as_array().unwrap().len(), 1);
    }
}

/// `NO_COLOR`, and output that is not a terminal, give plain text: no ANSI escape anywhere,
/// diagnostics, help, logs, progress and results included.
#[test]
fn no_colour_with_no_color_or_through_a_pipe() {
    let sandbox = Sandbox::start();
    let work = Dir::new();
    let broken = work.write("broken.yaml", "name: Broken\nsteps:\n  - nme: a\n");
    for no_color in [true, false] {
        let cmd = |args: &[&str]| {
            let mut cmd = sandbox.bin();
            cmd.current_dir(work.path()).args(args);
            if !no_color {
                cmd.env_remove("NO_COLOR").env("TERM", "xterm-256color");
            }
            run(&mut cmd)
        };
        let echo = repo().join("runbooks/echo-123.yaml");
        let echo = echo.to_str().unwrap();
        for out in [
            cmd(&["validate", broken.to_str().unwrap()]),
            cmd(&["plan", echo]),
            cmd(&["-v", "run", "--yes", echo]),
            cmd(&["schedule", "preview", "0 0 9 ? * 1"]),
            cmd(&["run", "--help"]),
            cmd(&["plan", "--format", "yaml", echo]),
        ] {
            for (stream, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
                assert!(
                    !text.contains('\u{1b}'),
                    "NO_COLOR {no_color}: ANSI escape in {stream}:\n{text}"
                );
            }
        }
    }
}

/// `RUST_LOG` gives the same logs as `-v` / `-vv` (and replaces them), redacted the same way.
#[test]
fn rust_log_works_like_verbose() {
    let sandbox = Sandbox::start();
    let work = Dir::new();
    let echo = repo().join("runbooks/echo-123.yaml");
    let logs = |rust_log: &str, verbose: &[&str]| {
        let out = run(sandbox
            .bin()
            .current_dir(work.path())
            .env("RUST_LOG", rust_log)
            .args(verbose)
            .args(["run", "--yes"])
            .arg(&echo));
        out.code(0);
        out.stderr
    };
    let debug = logs("ecs_runbook=debug", &[]);
    assert!(
        debug.contains("api call action=\"CreateCommand\" status=200"),
        "{debug}"
    );
    assert!(debug.contains("request_id="), "{debug}");
    assert!(!debug.contains("Signature=<redacted>"), "{debug}");
    let trace = logs("ecs_runbook=trace", &[]);
    assert!(trace.contains("Signature=<redacted>"), "{trace}");
    assert!(!trace.contains("sandbox-secret"), "{trace}");
    // `RUST_LOG` wins over `-vv`.
    let quiet = logs("warn", &["-vv"]);
    assert!(!quiet.contains("api call"), "{quiet}");
}
