//! Bad input never reaches the API: exit 2 with a diagnostic at the right line.

use crate::harness::{Dir, Sandbox, run};

fn check(runbook: &str, expected: &[&str]) {
    let dir = Dir::new();
    let path = dir.write("bad.yaml", runbook);
    let sandbox = Sandbox::start();
    let out = run(sandbox.bin().arg("run").arg("--yes").arg(&path));
    out.code(2);
    for text in expected {
        assert!(
            out.stderr.contains(text),
            "missing {text:?} in\n{}",
            out.stderr
        );
    }
    assert_eq!(sandbox.total_calls(), 0, "no API call for a bad runbook");
}

#[test]
fn a_cycle_is_reported_with_its_path_and_no_call_is_made() {
    check(
        "version: 1
name: cyc
targets: {instances: [i-sandbox0000000000001]}
steps:
  - name: a
    depends_on: [c]
    script: 'true'
  - name: b
    depends_on: [a]
    script: 'true'
  - name: c
    depends_on: [b]
    script: 'true'
",
        &["a -> c -> b -> a", "bad.yaml:6:"],
    );
}

#[test]
fn an_unknown_dependency_is_reported_at_its_line() {
    check(
        "version: 1
name: typo
targets: {instances: [i-sandbox0000000000001]}
steps:
  - name: compile
    script: make
  - name: test
    depends_on: [compille]
    script: make test
",
        &["compille", "bad.yaml:8:", "compile"],
    );
}

#[test]
fn a_misspelt_key_is_reported_with_a_suggestion() {
    check(
        "version: 1
name: typo
targets: {instances: [i-sandbox0000000000001]}
steps:
  - name: a
    scirpt: echo hi
",
        &["scirpt", "bad.yaml:6:5", "script"],
    );
}

/// A request that cannot be sent is reported with where it went, never with its signed URL
/// (whose query holds the AccessKeyId, the signature and every parameter).
#[test]
fn a_connection_error_names_the_endpoint_not_the_signed_url() {
    let dir = Dir::new();
    let path = dir.write(
        "r.yaml",
        "version: 1\nname: r\nregion: cn-hangzhou\ntargets: {instances: [i-bp1aaaaaaaaaaaaaaaa1]}\nsteps:\n  - name: a\n    script: echo\n",
    );
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("an address")
        .port();
    let out = run(crate::harness::bin()
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI5tConnErrorKeyId")
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "conn-error-secret")
        .args(["plan", "--endpoint", &format!("http://127.0.0.1:{port}")])
        .arg(&path));
    out.code(3);
    assert!(
        out.stderr.contains(&format!("http://127.0.0.1:{port}")),
        "{}",
        out.stderr
    );
    for leaked in [
        "Signature",
        "LTAI5tConnErrorKeyId",
        "conn-error-secret",
        "SignatureNonce",
    ] {
        assert!(!out.stderr.contains(leaked), "{leaked} in\n{}", out.stderr);
    }
}
