//! The fleet-scale benchmark: one step on N = 100, 1,000 and 10,000 simulated sandbox
//! instances whose scripts take 1 s, run by the real `ecs-runbook run` binary, side by side
//! with the seed's approach (one InvokeCommand per instance, a fixed 15 s sleep, then one
//! DescribeInvocationResults per invocation) written with our `cloud::Client`.
//!
//! `cargo bench --bench scale` (release build). `SCALE_BENCH_SIZES=100,1000` picks the fleet
//! sizes, `SCALE_BENCH_BASELINE=0` leaves the baseline out.
//!
//! The sandbox runs inside this process; each client (ours and the baseline) is a child
//! process started through a small wrapper (this binary again, `SCALE_BENCH_CHILD=measure`)
//! that waits for it and reads `getrusage(RUSAGE_CHILDREN)`, so CPU time and peak RSS are the
//! client's own. The sandbox's CPU time is this process's over the same interval. The time
//! from the last instance finishing to the run's completion is the client's exit time minus
//! the moment the sandbox recorded the last run's end.
//!
//! It prints, per N: API calls per action for both clients; our calls against the minimum
//! (1 CreateCommand + ⌈N/100⌉ InvokeCommand + ⌈N/50⌉ result pages), with polls, target
//! discovery and cleanup listed apart; wall time; last finish → completion; client CPU and
//! peak RSS; sandbox CPU; and the baseline's ratios. It asserts nothing.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ecs_runbook::cloud::actions::{CreateCommand, DescribeInvocationResults, InvokeCommand};
use ecs_runbook::cloud::status::{CommandType, ContentEncoding, RepeatMode};
use ecs_runbook::cloud::{ClientBuilder, Credential, InstanceId, RegionId};
use ecs_runbook::exec::step::PollConfig;
use ecs_runbook::sandbox::{Fleet, SandboxConfig, Stats};
use nix::sys::resource::{UsageWho, getrusage};

/// Id prefix of the generated instances (`i-bench` + 15 digits).
const PREFIX: &str = "i-bench";
/// The seed's fixed wait before reading results.
const SEED_SLEEP: Duration = Duration::from_secs(15);

fn main() {
    match std::env::var("SCALE_BENCH_CHILD").as_deref() {
        Ok("measure") => measure(),
        Ok("baseline") => baseline(),
        _ => bench(),
    }
}

/// What the wrapper measured of one client process.
#[derive(Debug, Default)]
struct Measured {
    exit: i32,
    wall: Duration,
    end_unix_ms: u64,
    cpu: Duration,
    max_rss_kb: u64,
}

fn bench() {
    let sizes: Vec<usize> = std::env::var("SCALE_BENCH_SIZES").ok().map_or_else(
        || vec![100, 1_000, 10_000],
        |v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect(),
    );
    let with_baseline = std::env::var("SCALE_BENCH_BASELINE").as_deref() != Ok("0");
    let rt = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let mut summary = String::new();
    let _ = writeln!(
        summary,
        "{:>6} {:>7} {:>7} {:>6} {:>7} {:>9} {:>9} {:>8} {:>9} {:>8} {:>9} | {:>8} {:>9} {:>7} {:>7}",
        "N",
        "core",
        "minimum",
        "ratio",
        "polls",
        "wall s",
        "finish→ s",
        "≤poll s",
        "cpu ms",
        "rss MB",
        "sbx cpu",
        "seed calls",
        "seed wall",
        "calls×",
        "wall×"
    );
    for &n in &sizes {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let ours = run_ours(&rt, dir.path(), n);
        let seed = with_baseline.then(|| run_baseline(&rt, dir.path(), n));
        print!("{}", detail(n, &ours, seed.as_ref()));
        let _ = writeln!(summary, "{}", summary_row(n, &ours, seed.as_ref()));
    }
    println!("\nsummary (core = CreateCommand + InvokeCommand + result reads; polls apart)");
    print!("{summary}");
    let poll = PollConfig::default();
    println!(
        "poll schedule: {} ms first, ×{} per poll, capped at {} ms (each drawn from the upper half)",
        poll.initial.as_millis(),
        poll.factor,
        poll.cap.as_millis()
    );
}

/// One client run's figures and the sandbox's counters over it.
struct Outcome {
    measured: Measured,
    stats: Stats,
    sandbox_cpu: Duration,
}

fn fleet(n: usize) -> Fleet {
    Fleet::from_yaml(
        Path::new("fleet.yaml"),
        &format!(
            "generate:
  - count: {n}
    prefix: {PREFIX}
    tags: {{env: bench}}
    execution:
      simulated: {{exit_code: 0, output: \"done\\n\", duration: 1s}}
"
        ),
    )
    .expect("the fleet loads")
}

fn start(rt: &tokio::runtime::Runtime, n: usize) -> ecs_runbook::sandbox::RunningSandbox {
    let config = SandboxConfig {
        fleet: fleet(n),
        ..SandboxConfig::default()
    };
    rt.block_on(ecs_runbook::sandbox::start(config))
        .expect("the sandbox starts")
}

fn run_ours(rt: &tokio::runtime::Runtime, dir: &Path, n: usize) -> Outcome {
    let runbook = dir.join("one-step.yaml");
    std::fs::write(
        &runbook,
        "version: 1
name: scale-bench
region: cn-hangzhou
targets: { tags: { env: bench } }
steps:
  - name: patch
    script: yum -y update nginx
",
    )
    .expect("the runbook is written");
    let sandbox = start(rt, n);
    let mut client = Command::new(env!("CARGO_BIN_EXE_ecs-runbook"));
    client
        .current_dir(dir)
        .args(["run", "--yes"])
        .arg(&runbook)
        .arg("--report")
        .arg(dir.join("report.json"))
        .env("NO_COLOR", "1")
        .env("ECS_RUNBOOK_ENDPOINT", sandbox.url())
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", "sandbox")
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "sandbox-secret");
    against(rt, sandbox, &client)
}

fn run_baseline(rt: &tokio::runtime::Runtime, dir: &Path, n: usize) -> Outcome {
    let sandbox = start(rt, n);
    let mut client = Command::new(std::env::current_exe().expect("this binary"));
    client
        .current_dir(dir)
        .env("SCALE_BENCH_CHILD", "baseline")
        .env("SCALE_BENCH_URL", sandbox.url())
        .env("SCALE_BENCH_N", n.to_string());
    against(rt, sandbox, &client)
}

/// Runs `client` against `sandbox`, then stops the sandbox.
fn against(
    rt: &tokio::runtime::Runtime,
    sandbox: ecs_runbook::sandbox::RunningSandbox,
    client: &Command,
) -> Outcome {
    let cpu_before = own_cpu();
    let measured = wrapped(client);
    let sandbox_cpu = own_cpu().saturating_sub(cpu_before);
    let stats = sandbox.stats();
    rt.block_on(sandbox.shutdown());
    Outcome {
        measured,
        stats,
        sandbox_cpu,
    }
}

/// Runs `client` under the measuring wrapper and parses what it prints.
fn wrapped(client: &Command) -> Measured {
    let mut wrapper = Command::new(std::env::current_exe().expect("this binary"));
    wrapper.arg(client.get_program()).args(client.get_args());
    for (key, value) in client.get_envs() {
        let Some(value) = value else { continue };
        // The client's own SCALE_BENCH_CHILD (the baseline's) travels under another name,
        // since the wrapper itself is selected by SCALE_BENCH_CHILD=measure.
        if key == "SCALE_BENCH_CHILD" {
            wrapper.env("SCALE_BENCH_CHILD_INNER", value);
        } else {
            wrapper.env(key, value);
        }
    }
    wrapper.env("SCALE_BENCH_CHILD", "measure");
    if let Some(dir) = client.get_current_dir() {
        wrapper.current_dir(dir);
    }
    let out = wrapper.output().expect("the wrapper runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap_or_else(|e| {
        panic!(
            "the wrapper printed no figures ({e}): {text} {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let num = |k: &str| v[k].as_u64().unwrap_or(0);
    Measured {
        exit: i32::try_from(v["exit"].as_i64().unwrap_or(-1)).unwrap_or(-1),
        wall: Duration::from_micros(num("wall_us")),
        end_unix_ms: num("end_unix_ms"),
        cpu: Duration::from_micros(num("cpu_us")),
        max_rss_kb: num("max_rss_kb"),
    }
}

/// `SCALE_BENCH_CHILD=measure`: runs argv[1..] and prints its exit code, wall time, end time,
/// CPU time and peak RSS as one JSON line.
fn measure() {
    let mut args = std::env::args_os().skip(1);
    let program = args.next().expect("a program to measure");
    let mut child = Command::new(program);
    child
        .args(args)
        .env_remove("SCALE_BENCH_CHILD")
        .env_remove("SCALE_BENCH_CHILD_INNER")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(mode) = std::env::var_os("SCALE_BENCH_CHILD_INNER") {
        child.env("SCALE_BENCH_CHILD", mode);
    }
    let started = Instant::now();
    let status = child.status().expect("the client runs");
    let wall = started.elapsed();
    let end_unix_ms = unix_ms(SystemTime::now());
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).expect("getrusage");
    let cpu = timeval(usage.user_time()) + timeval(usage.system_time());
    println!(
        "{}",
        serde_json::json!({
            "exit": status.code().unwrap_or(-1),
            "wall_us": u64::try_from(wall.as_micros()).unwrap_or(u64::MAX),
            "end_unix_ms": end_unix_ms,
            "cpu_us": u64::try_from(cpu.as_micros()).unwrap_or(u64::MAX),
            "max_rss_kb": usage.max_rss(),
        })
    );
}

/// `SCALE_BENCH_CHILD=baseline`: the seed's approach with our client.
fn baseline() {
    let url = std::env::var("SCALE_BENCH_URL").expect("SCALE_BENCH_URL");
    let n: usize = std::env::var("SCALE_BENCH_N")
        .expect("SCALE_BENCH_N")
        .parse()
        .expect("a number");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let client = ClientBuilder::new(
        RegionId::new("cn-hangzhou"),
        Credential::new("sandbox", "sandbox-secret"),
    )
    .endpoint(url)
    .build();
    rt.block_on(async {
        let command = client
            .call(&CreateCommand {
                name: "seed-baseline".to_owned(),
                command_type: CommandType::RunShellScript,
                command_content: base64_of("yum -y update nginx\n"),
                content_encoding: Some(ContentEncoding::Base64),
                description: None,
                working_dir: None,
                timeout: Some(60),
                enable_parameter: None,
                launcher: None,
                client_token: None,
                tags: Vec::new(),
            })
            .await
            .expect("CreateCommand")
            .command_id;
        let mut invocations = Vec::with_capacity(n);
        for i in 1..=n {
            let invoke = client
                .call(&InvokeCommand {
                    command_id: command.clone(),
                    instance_ids: vec![InstanceId::new(instance_id(i))],
                    repeat_mode: Some(RepeatMode::Once),
                    ..InvokeCommand::default()
                })
                .await
                .expect("InvokeCommand");
            invocations.push(invoke.invoke_id);
        }
        tokio::time::sleep(SEED_SLEEP).await;
        let mut succeeded = 0;
        for invoke_id in invocations {
            let page = client
                .call(&DescribeInvocationResults {
                    invoke_id: Some(invoke_id),
                    ..DescribeInvocationResults::default()
                })
                .await
                .expect("DescribeInvocationResults");
            succeeded += page
                .invocation
                .invocation_results
                .invocation_result
                .iter()
                .filter(|r| r.exit_code == Some(0))
                .count();
        }
        assert_eq!(succeeded, n, "every instance succeeded");
    });
}

fn instance_id(n: usize) -> String {
    format!("{PREFIX}{n:015}")
}

fn base64_of(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

fn timeval(t: nix::sys::time::TimeVal) -> Duration {
    Duration::from_secs(u64::try_from(t.tv_sec()).unwrap_or(0))
        + Duration::from_micros(u64::try_from(t.tv_usec()).unwrap_or(0))
}

/// This process's CPU time so far (the sandbox's, while a client runs).
fn own_cpu() -> Duration {
    let usage = getrusage(UsageWho::RUSAGE_SELF).expect("getrusage");
    timeval(usage.user_time()) + timeval(usage.system_time())
}

fn unix_ms(t: SystemTime) -> u64 {
    u64::try_from(t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis()).unwrap_or(0)
}

/// The least calls one step on `n` instances needs: 1 CreateCommand, ⌈n/100⌉ InvokeCommand
/// and ⌈n/50⌉ result pages.
fn minimum(n: usize) -> u64 {
    (1 + n.div_ceil(100) + n.div_ceil(50)) as u64
}

/// Calls split into the core (create, invoke, result reads), polls and the rest.
struct Split {
    core: u64,
    polls: u64,
    other: u64,
}

fn split(stats: &Stats) -> Split {
    let reads = stats.calls_of("DescribeInvocationResults") + stats.output_reads;
    let polls = stats.calls_of("DescribeInvocations") - stats.output_reads;
    let core = stats.calls_of("CreateCommand") + stats.calls_of("InvokeCommand") + reads;
    let total: u64 = stats.calls.values().sum();
    Split {
        core,
        polls,
        other: total - core - polls,
    }
}

/// The longest the client's poll interval can be `elapsed` after it started: polls come at
/// least every `d/2` for the nominal delays `d` of [`PollConfig::default`], so by then it
/// cannot have got past the delay this returns.
fn interval_bound(elapsed: Duration) -> Duration {
    let poll = PollConfig::default();
    let mut nominal = poll.initial;
    let mut passed = Duration::ZERO;
    loop {
        passed += nominal / 2;
        if passed > elapsed || nominal >= poll.cap {
            return nominal.min(poll.cap);
        }
        nominal = nominal.mul_f64(poll.factor).min(poll.cap);
    }
}

/// Seconds from the last instance's end to the client's exit, and the bound on the poll
/// interval in effect then.
fn completion(o: &Outcome) -> (f64, f64) {
    let last = o.stats.last_finish_unix_ms;
    let end = o.measured.end_unix_ms;
    let wall = u64::try_from(o.measured.wall.as_millis()).unwrap_or(0);
    let start = end.saturating_sub(wall);
    let bound = interval_bound(Duration::from_millis(last.saturating_sub(start)));
    (
        float(end.saturating_sub(last)) / 1000.0,
        bound.as_secs_f64(),
    )
}

/// A count as a float, for ratios (counts here stay far below 2³²).
fn float(n: u64) -> f64 {
    f64::from(u32::try_from(n).unwrap_or(u32::MAX))
}

fn detail(n: usize, ours: &Outcome, seed: Option<&Outcome>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n== one step on {n} simulated instances, 1 s each ==\n{:<30} {:>9} {:>9}",
        "action", "ours", "seed"
    );
    let mut actions: Vec<&String> = ours.stats.calls.keys().collect();
    if let Some(seed) = seed {
        actions.extend(seed.stats.calls.keys());
    }
    actions.sort();
    actions.dedup();
    for action in actions {
        let seed_calls = seed.map_or_else(String::new, |s| s.stats.calls_of(action).to_string());
        let _ = writeln!(
            out,
            "{action:<30} {:>9} {seed_calls:>9}",
            ours.stats.calls_of(action)
        );
    }
    let s = split(&ours.stats);
    let _ = writeln!(
        out,
        "ours: core {} (minimum {}: 1 + {} + {}), polls {}, discovery/preflight/cleanup {}; \
         of DescribeInvocations {} read results with output",
        s.core,
        minimum(n),
        n.div_ceil(100),
        n.div_ceil(50),
        s.polls,
        s.other,
        ours.stats.output_reads
    );
    for (who, o) in std::iter::once(("ours", ours)).chain(seed.map(|s| ("seed", s))) {
        // The seed does not poll: it sleeps 15 s whatever happens.
        let bound = if who == "ours" {
            format!(" (poll interval then ≤ {:.2} s)", completion(o).1)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "{who}: exit {}, wall {:.2} s, last finish → done {:.2} s{bound}, \
             client CPU {} ms, peak RSS {:.1} MB, sandbox CPU {} ms",
            o.measured.exit,
            o.measured.wall.as_secs_f64(),
            completion(o).0,
            o.measured.cpu.as_millis(),
            float(o.measured.max_rss_kb) / 1024.0,
            o.sandbox_cpu.as_millis()
        );
    }
    out
}

fn summary_row(n: usize, ours: &Outcome, seed: Option<&Outcome>) -> String {
    let s = split(&ours.stats);
    let min = minimum(n);
    let total = |o: &Outcome| o.stats.calls.values().sum::<u64>();
    let (seed_calls, seed_wall, calls_ratio, wall_ratio) = match seed {
        Some(seed) => {
            let seed_core = split(&seed.stats).core + split(&seed.stats).polls;
            (
                total(seed).to_string(),
                format!("{:.2}", seed.measured.wall.as_secs_f64()),
                format!("{:.1}", float(seed_core) / float(s.core + s.polls)),
                format!(
                    "{:.1}",
                    seed.measured.wall.as_secs_f64() / ours.measured.wall.as_secs_f64()
                ),
            )
        }
        None => Default::default(),
    };
    format!(
        "{n:>6} {:>7} {min:>7} {:>6.2} {:>7} {:>9.2} {:>9.2} {:>8.2} {:>9} {:>8.1} {:>9} | {seed_calls:>8} {seed_wall:>9} {calls_ratio:>7} {wall_ratio:>7}",
        s.core,
        float(s.core) / float(min),
        s.polls,
        ours.measured.wall.as_secs_f64(),
        completion(ours).0,
        completion(ours).1,
        ours.measured.cpu.as_millis(),
        float(ours.measured.max_rss_kb) / 1024.0,
        ours.sandbox_cpu.as_millis(),
    )
}
