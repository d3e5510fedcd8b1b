//! Crashes (issue 7): `run` is SIGKILLed at 20 seeded points spread over its work — right
//! after a CreateCommand, mid-batch, mid-poll, at the DeleteCommands — and `resume`d each time
//! until it ends, against one `ecs-runbook sandbox` process; every (step, instance) runs
//! exactly once.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::harness::{Dir, Sandbox, Spawned, json_file, run_dir};

/// The seed of the kill points.
const SEED: u64 = 2026;
/// How many times a process is killed in all.
const KILLS: usize = 20;
/// Instances per run.
const INSTANCES: usize = 20;
const STEPS: [&str; 4] = ["prepare", "patch", "restart", "verify"];

/// Where a process is killed: once this process's `nth` call of `action` reached the sandbox
/// (plus `delay`).
#[derive(Debug, Clone, Copy)]
struct Point {
    /// What the point is, for the record.
    label: &'static str,
    action: &'static str,
    nth: u64,
    delay: Duration,
}

/// A small seeded generator (xorshift64*), so the points are the same every time.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn point(&mut self) -> Point {
        let (label, action, most, wait) = match self.below(5) {
            0 => ("after CreateCommand", "CreateCommand", 3, 0),
            1 => ("mid-batch", "InvokeCommand", 4, 250),
            2 => ("mid-poll", "DescribeInvocations", 6, 60),
            3 => ("mid-poll", "DescribeInvocationResults", 6, 60),
            _ => ("at DeleteCommand", "DeleteCommand", 2, 0),
        };
        Point {
            label,
            action,
            nth: 1 + self.below(most),
            delay: Duration::from_millis(if wait == 0 { 0 } else { self.below(wait) }),
        }
    }
}

fn fleet() -> String {
    format!(
        "generate:
  - count: {INSTANCES}
    prefix: i-crash
    tags: {{env: crash}}
    execution:
      simulated: {{exit_code: 0, output: \"done\\n\", duration: 200ms}}
faults:
  actions:
    - {{action: \"*\", latency: 10ms}}
"
    )
}

/// Four steps in a chain, each in two waves of ten.
fn runbook(name: &str) -> String {
    let mut yaml = format!(
        "version: 1\nname: {name}\nregion: cn-hangzhou\ntargets: {{ tags: {{ env: crash }} }}\nsteps:\n"
    );
    for (i, step) in STEPS.iter().enumerate() {
        writeln!(yaml, "  - name: {step}").unwrap();
        if i > 0 {
            writeln!(yaml, "    depends_on: [{}]", STEPS[i - 1]).unwrap();
        }
        writeln!(
            yaml,
            "    rate_control: {{ concurrency: 10 }}\n    script: echo {step}"
        )
        .unwrap();
    }
    yaml
}

fn calls_of(stats: &serde_json::Value, action: &str) -> u64 {
    stats["calls"][action].as_u64().unwrap_or(0)
}

/// How a process ended.
enum End {
    Killed { after: Duration },
    Exited(i32),
}

/// Waits until `point` is reached and kills the process, or until it ends by itself.
fn kill_at(sandbox: &Sandbox, mut child: Spawned, point: Option<Point>) -> (End, String) {
    let before = sandbox.stats();
    let started = Instant::now();
    while child.running() {
        if let Some(p) = point
            && calls_of(&sandbox.stats(), p.action) >= calls_of(&before, p.action) + p.nth
        {
            std::thread::sleep(p.delay);
            // The process may have ended during the delay; then the signal changes nothing
            // and its own exit code tells.
            child.signal(Signal::SIGKILL);
            let after = started.elapsed();
            let out = child.finish();
            let end = match out.code {
                -1 => End::Killed { after },
                code => End::Exited(code),
            };
            return (end, out.stderr);
        }
        assert!(
            started.elapsed() < Duration::from_mins(1),
            "{}",
            child.stderr()
        );
        std::thread::sleep(Duration::from_millis(3));
    }
    let out = child.finish();
    (End::Exited(out.code), out.stderr)
}

/// 20 seeded SIGKILLs over as many runs as they take; each run is resumed until it ends,
/// then checked: every step succeeded, each (step, instance) ran once, no command is left.
/// The points and what happened are printed (`-- --nocapture`).
#[test]
fn sigkill_at_twenty_points_and_resume_runs_everything_exactly_once() {
    let root = Dir::new();
    let sandbox = Sandbox::with_fleet(&root, &fleet());
    let mut rng = Rng(SEED);
    let mut kills = 0;
    let mut log = format!("SIGKILL points (seed {SEED}):\n");
    let mut runs = 0;
    while kills < KILLS {
        runs += 1;
        assert!(runs <= 10, "too many runs without {KILLS} kills:\n{log}");
        let name = format!("crash{runs}");
        let dir = Dir::new();
        let file = dir.write("crash.yaml", &runbook(&name));
        let mut run_id: Option<String> = None;
        let mut processes = 0;
        loop {
            processes += 1;
            assert!(processes <= 2 * KILLS, "{name} never ends:\n{log}");
            let point = (kills < KILLS).then(|| rng.point());
            let mut cmd = sandbox.bin();
            cmd.current_dir(dir.path()).env("NO_COLOR", "1");
            match &run_id {
                None => cmd.args(["run", "--yes"]).arg(&file),
                Some(id) => cmd.args(["resume", "--yes", id]),
            };
            let what = if run_id.is_none() { "run" } else { "resume" };
            let (end, stderr) = kill_at(&sandbox, Spawned::start(&mut cmd), point);
            run_id.get_or_insert_with(|| {
                run_dir(dir.path())
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            });
            match end {
                End::Killed { after } => {
                    kills += 1;
                    let p = point.expect("killed at a point");
                    writeln!(
                        log,
                        "  #{kills:<2} {name} {what:<6} {} ({} #{} +{} ms) → killed after {} ms, {} journal lines",
                        p.label,
                        p.action,
                        p.nth,
                        p.delay.as_millis(),
                        after.as_millis(),
                        journal_lines(dir.path()),
                    )
                    .unwrap();
                }
                End::Exited(code) => {
                    assert_eq!(code, 0, "{name} {what}:\n{stderr}");
                    let reached = point.map_or("no kill point".to_owned(), |p| {
                        format!("ended before {} ({} #{})", p.label, p.action, p.nth)
                    });
                    writeln!(log, "      {name} {what:<6} {reached} → exit 0").unwrap();
                    break;
                }
            }
        }
        check_exactly_once(&sandbox, &name, &run_dir(dir.path()));
        // A kill between CreateCommand and its journal line must not leave a command behind.
        assert_eq!(
            sandbox.health()["commands"],
            0,
            "{name} left a command:\n{log}"
        );
    }
    assert_eq!(sandbox.health()["commands"], 0, "commands left");
    eprint!("{log}");
}

fn journal_lines(base: &std::path::Path) -> usize {
    std::fs::read_to_string(run_dir(base).join("journal.jsonl")).map_or(0, |t| t.lines().count())
}

/// Every step of run `name` succeeded and ran once on each instance, by the sandbox's count.
fn check_exactly_once(sandbox: &Sandbox, name: &str, dir: &std::path::Path) {
    let report = json_file(&dir.join("report.json"));
    assert_eq!(report["outcome"], "succeeded", "{name}");
    let stats = sandbox.stats();
    for step in STEPS {
        let counts = stats["executions_per_command"][format!("{name}/{step}")]
            .as_object()
            .unwrap_or_else(|| panic!("{name}/{step} never ran"));
        assert_eq!(counts.len(), INSTANCES, "{name}/{step}: {counts:?}");
        assert!(
            counts.values().all(|n| n.as_u64() == Some(1)),
            "{name}/{step} ran more than once somewhere: {counts:?}"
        );
    }
    let steps = report["steps"].as_array().unwrap();
    assert!(
        steps.iter().all(|s| s["status"] == "succeeded"),
        "{name}: {steps:?}"
    );
    // No output lost: steps finished by a killed process keep theirs too.
    for step in steps {
        let instances = step["instances"].as_array().unwrap();
        assert_eq!(instances.len(), INSTANCES, "{name}: {}", step["name"]);
        for inst in instances {
            assert_eq!(inst["output"], "done\n", "{name}: {} {inst}", step["name"]);
        }
    }
}
