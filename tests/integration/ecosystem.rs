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
