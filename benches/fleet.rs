//! The fleet benchmark: a 3-step runbook on 300 simulated sandbox instances with 10 % of every
//! API call throttled (`Throttling.User`). It prints the API calls per action (as the client
//! sent them, retries included, and as the sandbox received them), the wall time, and the
//! executions the sandbox counted.
//!
//! `cargo bench --bench fleet` (release build). `FLEET_BENCH_INSTANCES` and
//! `FLEET_BENCH_THROTTLE` change the fleet size and the throttled share.

use std::fmt::Write as _;
use std::process::{Command, Stdio};
use std::time::Instant;

use ecs_runbook::sandbox::{Fleet, SandboxConfig};

fn main() {
    let instances: usize = std::env::var("FLEET_BENCH_INSTANCES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let throttle: f64 = std::env::var("FLEET_BENCH_THROTTLE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.1);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (fleet, runbook) = write_inputs(dir.path(), instances, throttle);
    let exe = env!("CARGO_BIN_EXE_ecs-runbook");
    // The sandbox runs in this process, so its counters can be read directly; the run is the
    // real binary, talking to it over loopback HTTP.
    let rt = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let config = SandboxConfig {
        fleet: Fleet::load(&fleet).expect("the fleet loads"),
        ..SandboxConfig::default()
    };
    let sandbox = rt
        .block_on(ecs_runbook::sandbox::start(config))
        .expect("the sandbox starts");
    let url = sandbox.url();

    let report = dir.path().join("report.json");
    let started = Instant::now();
    let exit = Command::new(exe)
        .current_dir(dir.path())
        .args(["run", "--yes"])
        .arg(&runbook)
        .arg("--report")
        .arg(&report)
        .env("NO_COLOR", "1")
        .env("ECS_RUNBOOK_ENDPOINT", &url)
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", "sandbox")
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "sandbox-secret")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("the run runs");
    let wall = started.elapsed();
    let counters = serde_json::to_value(sandbox.stats()).expect("stats serialise");
    rt.block_on(sandbox.shutdown());
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).expect("the report is written"))
            .expect("the report is JSON");

    let mut out = String::new();
    let _ = writeln!(
        out,
        "fleet bench: 3 steps on {instances} simulated instances, {:.0}% of calls throttled",
        throttle * 100.0
    );
    let _ = writeln!(
        out,
        "exit status {}, outcome {}, wall time {:.2} s",
        exit.code().unwrap_or(-1),
        report["outcome"],
        wall.as_secs_f64()
    );
    out.push_str(&calls_table(&report, &counters));
    let executions = counters["executions"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let counted: u64 = executions
        .values()
        .map(|e| e["real"].as_u64().unwrap_or(0) + e["simulated"].as_u64().unwrap_or(0))
        .sum();
    let most = executions
        .values()
        .map(|e| e["real"].as_u64().unwrap_or(0) + e["simulated"].as_u64().unwrap_or(0))
        .max()
        .unwrap_or(0);
    let _ = writeln!(
        out,
        "executions counted by the sandbox: {counted} over {} (task, instance) pairs, at most {most} per pair (expected {})",
        executions.len(),
        3 * instances
    );
    print!("{out}");
}

/// API calls per action: sent by the client (retries included), received by the sandbox, and
/// of those throttled.
fn calls_table(report: &serde_json::Value, stats: &serde_json::Value) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<30} {:>9} {:>9} {:>9} {:>10}",
        "action", "sent", "retries", "received", "throttled"
    );
    let calls = report["api_calls"].as_object().cloned().unwrap_or_default();
    let received = stats["calls"].as_object().cloned().unwrap_or_default();
    let mut actions: Vec<&String> = calls.keys().chain(received.keys()).collect();
    actions.sort();
    actions.dedup();
    let (mut sent_total, mut received_total) = (0, 0);
    for action in actions {
        let sent = calls
            .get(action)
            .and_then(|c| c["attempts"].as_u64())
            .unwrap_or(0);
        let retries = calls
            .get(action)
            .and_then(|c| c["retries"].as_u64())
            .unwrap_or(0);
        let got = received
            .get(action)
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
        let throttled = stats["faults"][format!("{action}:throttle")]
            .as_u64()
            .unwrap_or(0);
        sent_total += sent;
        received_total += got;
        let _ = writeln!(
            out,
            "{action:<30} {sent:>9} {retries:>9} {got:>9} {throttled:>10}"
        );
    }
    let _ = writeln!(
        out,
        "{:<30} {sent_total:>9} {:>9} {received_total:>9}",
        "total", ""
    );
    out
}

/// Writes the fleet (generated, simulated, throttled) and the runbook into `dir`.
fn write_inputs(
    dir: &std::path::Path,
    instances: usize,
    throttle: f64,
) -> (std::path::PathBuf, std::path::PathBuf) {
    let fleet = dir.join("fleet.yaml");
    std::fs::write(
        &fleet,
        format!(
            "generate:
  - count: {instances}
    prefix: i-bench
    tags: {{env: bench}}
    execution:
      simulated: {{exit_code: 0, output: \"done\\n\", duration: 300ms}}
faults:
  seed: 42
  actions:
    - {{action: \"*\", throttle: {throttle}}}
"
        ),
    )
    .expect("the fleet file is written");
    let runbook = dir.join("patch.yaml");
    std::fs::write(
        &runbook,
        "version: 1
name: patch-bench
region: cn-hangzhou
targets: { tags: { env: bench } }
steps:
  - name: precheck
    script: df -P /
  - name: patch
    depends_on: [precheck]
    rate_control: { concurrency: 50%, max_errors: 1% }
    script: yum -y update nginx
  - name: verify
    depends_on: [patch]
    script: systemctl is-active nginx
",
    )
    .expect("the runbook is written");

    (fleet, runbook)
}
