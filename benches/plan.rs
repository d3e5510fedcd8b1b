//! How long `validate` and `plan --offline` take on generated runbooks of 100, 1,000 and
//! 10,000 steps, in two shapes: a chain (each step depends on the one before) and a wide
//! fan-out (one first step, every other step after it, one last step after all of them).
//!
//! `cargo bench --bench plan` prints one table row per runbook: the median of several runs of
//! each stage in the library (load, which is all of `validate`; build; text and JSON
//! rendering) and of the real binary (`ecs-runbook validate` and `ecs-runbook plan --offline`
//! as fresh processes), and the library's validate + plan time per step; after each shape it
//! prints how the cost per step at 10,000 steps compares with 100 (about 1× when linear).
//! It asserts nothing: the figures are for reading, and for noticing when planning stops
//! growing linearly with the number of steps.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use ecs_runbook::plan::display::{self, Format};
use ecs_runbook::plan::{self, BuildOptions};
use ecs_runbook::runbook::{self, VarOverrides};

/// The two shapes of generated runbooks.
#[derive(Clone, Copy)]
enum Shape {
    Chain,
    FanOut,
}

impl Shape {
    fn name(self) -> &'static str {
        match self {
            Self::Chain => "chain",
            Self::FanOut => "fan-out",
        }
    }
}

/// A runbook of `steps` steps, each rendering a template over the runbook's variables.
fn runbook_text(shape: Shape, steps: usize) -> String {
    let mut text = String::from(
        "version: 1\nname: bench\nregion: cn-hangzhou\nvars:\n  package: nginx\n  \
         version: 1.20\ntargets:\n  instances: [i-bench0000000000000001, i-bench0000000000000002]\n\
         defaults:\n  timeout: 5m\nsteps:\n",
    );
    for i in 0..steps {
        let _ = write!(
            text,
            "  - name: s{i}\n    script: |\n      echo \"step {i}: {{{{ vars.package }}}} {{{{ version }}}}\"\n      test -n \"$HOME\" && echo {{{{ACS::InstanceId}}}}\n"
        );
        let deps = match (shape, i) {
            (_, 0) => String::new(),
            (Shape::Chain, _) => format!("s{}", i - 1),
            (Shape::FanOut, _) if i + 1 < steps => "s0".to_owned(),
            (Shape::FanOut, _) => (1..i)
                .map(|d| format!("s{d}"))
                .collect::<Vec<_>>()
                .join(", "),
        };
        if !deps.is_empty() {
            let _ = writeln!(text, "    depends_on: [{deps}]");
        }
    }
    text
}

/// The median of `runs` timings of `f`.
fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort_unstable();
    times[times.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

/// Runs the binary to completion and checks it succeeded.
fn binary(args: &[&str], path: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_ecs-runbook"))
        .args(args)
        .arg(path)
        .env("NO_COLOR", "1")
        .output()
        .expect("the binary runs");
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn main() {
    // `cargo bench` passes `--bench`; a name filter would follow it, and none is used.
    let dir = std::env::temp_dir().join(format!("ecs-runbook-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    println!(
        "{:<8} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9} {:>14} {:>18} {:>13}",
        "shape",
        "steps",
        "bytes",
        "load ms",
        "build ms",
        "text ms",
        "json ms",
        "validate ms",
        "plan --offline ms",
        "µs/step"
    );
    for shape in [Shape::Chain, Shape::FanOut] {
        let per_step: Vec<f64> = [100, 1_000, 10_000]
            .into_iter()
            .map(|steps| row(&dir, shape, steps))
            .collect();
        // Linear planning keeps the cost per step flat as the runbook grows.
        println!(
            "{:<8} validate + plan per step at 10,000 steps is {:.2}× that at 100",
            shape.name(),
            per_step[2] / per_step[0]
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Prints one row; returns the library's validate + plan time per step, in µs.
fn row(dir: &Path, shape: Shape, steps: usize) -> f64 {
    let text = runbook_text(shape, steps);
    let path: PathBuf = dir.join(format!("{}-{steps}.yaml", shape.name()));
    std::fs::write(&path, &text).expect("write the runbook");
    let runs = match steps {
        0..=100 => 21,
        101..=1_000 => 9,
        _ => 3,
    };
    let load = || runbook::load_str(&path, &text, &VarOverrides::new()).expect("it loads");
    let runbook = load();
    let plan = plan::build(&runbook, &BuildOptions::default()).expect("it plans");
    assert_eq!(plan.steps.len(), steps);
    let load_time = median(runs, || {
        load();
    });
    let build_time = median(runs, || {
        plan::build(&runbook, &BuildOptions::default()).expect("it plans");
    });
    let text_time = median(runs, || {
        display::render(&plan, Format::Text);
    });
    let json_time = median(runs, || {
        display::render(&plan, Format::Json);
    });
    let validate_time = median(runs, || binary(&["validate"], &path));
    let plan_time = median(runs, || {
        binary(&["plan", "--offline", "-o", "/dev/null"], &path);
    });
    let per_step = (load_time + build_time).as_secs_f64() * 1e6
        / f64::from(u32::try_from(steps).expect("bench sizes fit u32"));
    println!(
        "{:<8} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9} {:>14} {:>18} {:>13.1}",
        shape.name(),
        steps,
        text.len(),
        ms(load_time),
        ms(build_time),
        ms(text_time),
        ms(json_time),
        ms(validate_time),
        ms(plan_time),
        per_step
    );
    per_step
}
