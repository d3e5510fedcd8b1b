//! Faults (issue 7): the sandbox's injected faults follow the seed, and a multi-step run over
//! 1,000 simulated instances under throttling, 5xx and dropped connections executes every
//! (step, instance) exactly once and loses no output.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Instant;

use crate::harness::{Dir, Sandbox, json_file, run};

/// Output groups of the generated fleet: each prefix's instances print their own text.
const GROUPS: [(&str, &str); 4] = [
    ("i-mxa", "alpha\n"),
    ("i-mxb", "bravo two\n"),
    ("i-mxc", "charlie\nthree lines\nend\n"),
    ("i-mxd", "delta ✓\n"),
];

const STEPS: [&str; 3] = ["precheck", "patch", "verify"];

/// A fleet of 1,000 simulated instances (four output groups) with `faults` for every action.
fn matrix_fleet(faults: &str, seed: u64) -> String {
    let mut yaml = String::from("generate:\n");
    for (prefix, output) in GROUPS {
        write!(
            yaml,
            "  - count: 250\n    prefix: {prefix}\n    tags: {{env: matrix}}\n    execution:\n      \
             simulated: {{exit_code: 0, output: {output:?}, duration: 20ms}}\n"
        )
        .unwrap();
    }
    write!(
        yaml,
        "faults:\n  seed: {seed}\n  actions:\n    - {{action: \"*\", {faults}}}\n"
    )
    .unwrap();
    yaml
}

/// Three steps over the tagged fleet; the middle one in waves of 50 %.
const MATRIX_RUNBOOK: &str = "version: 1
name: matrix
region: cn-hangzhou
targets: { tags: { env: matrix } }
steps:
  - name: precheck
    script: echo precheck
  - name: patch
    depends_on: [precheck]
    rate_control: { concurrency: 50%, max_errors: 0 }
    script: echo patch
  - name: verify
    depends_on: [patch]
    script: echo verify
";

/// What one cell of the matrix measured.
struct Cell {
    calls: u64,
    retries: u64,
    faults: String,
    millis: u128,
}

/// Runs the matrix runbook under `faults` and checks exactly-once execution and the outputs.
fn run_cell(name: &str, faults: &str, seed: u64) -> Cell {
    let dir = Dir::new();
    let sandbox = Sandbox::with_fleet(&dir, &matrix_fleet(faults, seed));
    let runbook = dir.write("matrix.yaml", MATRIX_RUNBOOK);
    let report = dir.path().join("report.json");
    let started = Instant::now();
    let out = run(sandbox
        .bin()
        .current_dir(dir.path())
        .args(["run", "--yes", "--max-parallel", "1"])
        .arg(&runbook)
        .arg("--report")
        .arg(&report));
    let millis = started.elapsed().as_millis();
    out.code(0);
    let stats = sandbox.stats();

    // Every (step, instance) ran exactly once, counted by the sandbox per command name.
    let per_command = stats["executions_per_command"].as_object().unwrap();
    assert_eq!(per_command.len(), STEPS.len(), "{name}: {per_command:?}");
    for step in STEPS {
        let counts = per_command[&format!("matrix/{step}")].as_object().unwrap();
        assert_eq!(counts.len(), 1000, "{name}: step `{step}`");
        let extra: Vec<_> = counts
            .iter()
            .filter(|(_, n)| n.as_u64() != Some(1))
            .collect();
        assert!(
            extra.is_empty(),
            "{name}: step `{step}` ran twice: {extra:?}"
        );
    }
    assert_eq!(stats["simulated_executions"], 3000, "{name}");

    // No output lost: every instance's output in the report is what its fleet group prints.
    let report = json_file(&report);
    for step in report["steps"].as_array().unwrap() {
        let instances = step["instances"].as_array().unwrap();
        assert_eq!(instances.len(), 1000, "{name}: {}", step["name"]);
        for inst in instances {
            let id = inst["instance_id"].as_str().unwrap();
            let expected = GROUPS
                .iter()
                .find(|(prefix, _)| id.starts_with(prefix))
                .map(|(_, output)| *output)
                .unwrap();
            assert_eq!(inst["state"], "success", "{name}: {id}");
            assert_eq!(inst["output"], expected, "{name}: {} {id}", step["name"]);
        }
    }
    assert_eq!(sandbox.health()["commands"], 0, "{name}: commands left");

    let retries = report["api_calls"]
        .as_object()
        .unwrap()
        .values()
        .map(|c| c["retries"].as_u64().unwrap())
        .sum();
    let faults = stats["faults"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ");
    Cell {
        calls: sandbox.total_calls(),
        retries,
        faults,
        millis,
    }
}

/// The matrix: each fault kind alone at its rate, then all together, on 1,000 instances and
/// three steps; every cell must execute each (step, instance) once and keep every output. The
/// figures (calls the sandbox received, client retries, injected faults, wall time) are
/// printed, not asserted: `cargo test --test integration faults -- --nocapture` shows them.
#[test]
fn a_thousand_instances_run_exactly_once_under_faults() {
    let cells = [
        ("throttling 20%", "throttle: 0.2", 21),
        ("5xx 5%", "unavailable: 0.025, internal_error: 0.025", 12),
        // Seed 11 drops an InvokeCommand after it took effect and two before.
        ("dropped 2%", "drop_before: 0.01, drop_after: 0.01", 11),
        (
            "all together",
            "throttle: 0.2, unavailable: 0.025, internal_error: 0.025, drop_before: 0.01, drop_after: 0.01",
            14,
        ),
    ];
    // The cells wait on back-off far more than they compute, so they run side by side.
    let results: Vec<(&str, Cell)> = std::thread::scope(|scope| {
        let handles: Vec<_> = cells
            .iter()
            .map(|&(name, faults, seed)| scope.spawn(move || (name, run_cell(name, faults, seed))))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a cell passes"))
            .collect()
    });
    let mut table = String::from("fault matrix (1,000 instances, 3 steps):\n");
    for (name, cell) in results {
        assert!(!cell.faults.is_empty(), "{name}: no fault was injected");
        assert!(cell.retries > 0, "{name}: nothing was retried");
        if name == "dropped 2%" {
            assert!(
                cell.faults.contains("InvokeCommand:drop_after"),
                "{name}: no write was dropped after it took effect: {}",
                cell.faults
            );
        }
        writeln!(
            table,
            "  {name:<14} calls {:>5}  retries {:>4}  wall {:>6} ms  faults {}",
            cell.calls, cell.retries, cell.millis, cell.faults
        )
        .unwrap();
    }
    eprint!("{table}");
}

/// The injected faults of a sandbox, per action in call order (`n:kind`), cut to the calls
/// both runs made of that action (polling counts depend on timing, fault decisions do not).
fn common_faults(
    a: &serde_json::Value,
    b: &serde_json::Value,
) -> (BTreeMap<String, Vec<String>>, BTreeMap<String, Vec<String>>) {
    let cut = |stats: &serde_json::Value, other: &serde_json::Value| {
        stats["fault_sequence"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(action, faults)| {
                let limit = stats["calls"][action]
                    .as_u64()
                    .unwrap()
                    .min(other["calls"][action].as_u64().unwrap_or(0));
                let kept = faults
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| f.as_str().unwrap().to_owned())
                    .filter(|f| f.split(':').next().unwrap().parse::<u64>().unwrap() < limit)
                    .collect();
                (action.clone(), kept)
            })
            .filter(|(_, kept): &(String, Vec<String>)| !kept.is_empty())
            .collect()
    };
    (cut(a, b), cut(b, a))
}

/// `sandbox --seed N` replaces the fleet file's seed: two sandboxes with the same seed inject
/// the same faults at the same calls of each action, another seed injects others.
#[test]
fn the_same_seed_injects_the_same_faults() {
    let dir = Dir::new();
    let fleet = dir.write(
        "fleet.yaml",
        "generate:
  - count: 20
    prefix: i-seed
    tags: {env: seed}
    execution:
      simulated: {exit_code: 0, output: \"ok\\n\", duration: 10ms}
faults:
  seed: 1
  actions:
    - {action: \"*\", throttle: 0.3, unavailable: 0.05, drop_before: 0.05, drop_after: 0.05}
",
    );
    let runbook = dir.write(
        "seed.yaml",
        "version: 1
name: seed
region: cn-hangzhou
targets: { tags: { env: seed } }
steps:
  - name: one
    rate_control: { concurrency: 5 }
    script: echo one
  - name: two
    depends_on: [one]
    script: echo two
",
    );
    let stats_of = |seed: &str| {
        let sandbox = Sandbox::start_with(&["--fleet", fleet.to_str().unwrap(), "--seed", seed]);
        run(sandbox
            .bin()
            .current_dir(dir.path())
            .args(["run", "--yes"])
            .arg(&runbook))
        .code(0);
        sandbox.stats()
    };
    let first = stats_of("99");
    let again = stats_of("99");
    let other = stats_of("100");
    let (a, b) = common_faults(&first, &again);
    assert!(
        a.values().map(Vec::len).sum::<usize>() >= 5,
        "too few faults to compare: {a:?}"
    );
    assert_eq!(a, b, "the same seed gave other faults");
    for action in ["CreateCommand", "InvokeCommand", "DeleteCommand"] {
        assert_eq!(
            first["fault_sequence"][action], again["fault_sequence"][action],
            "{action}"
        );
    }
    let (a, c) = common_faults(&first, &other);
    assert_ne!(a, c, "another seed gave the same faults");
}
