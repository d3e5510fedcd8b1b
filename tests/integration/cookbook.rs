//! The README cookbook (issue 8): each maintenance runbook in `runbooks/` run against a sandbox
//! with the default fleet (web-01 and web-02 with `role: web`, db-01 with `role: db`), checking
//! which steps ran, were skipped or rolled back, on which instances, and what they left in the
//! instances' directories. The sandbox keeps its instances under `--root`, so a test can set
//! up a file on an instance and look at what a script left there.

use std::path::PathBuf;

use serde_json::Value;

use crate::harness::{Dir, Sandbox, repo, run};

const WEB_1: &str = "i-sandbox0000000000001";
const WEB_2: &str = "i-sandbox0000000000002";
const DB_1: &str = "i-sandbox0000000000003";

/// A sandbox with its instances under a directory the test can read and write.
struct Fleet {
    sandbox: Sandbox,
    root: Dir,
    /// Where runs write their journals (not the repository).
    work: Dir,
}

impl Fleet {
    fn start() -> Self {
        let root = Dir::new();
        let sandbox = Sandbox::start_with(&["--root", root.path().to_str().expect("UTF-8 path")]);
        Self {
            sandbox,
            root,
            work: Dir::new(),
        }
    }

    /// A path inside an instance's file system (`/opt/x` is `<root>/<id>/fs/opt/x`).
    fn file(&self, instance: &str, path: &str) -> PathBuf {
        self.root
            .path()
            .join(instance)
            .join("fs")
            .join(path.trim_start_matches('/'))
    }

    /// `ecs-runbook run --format json` on a runbook of `runbooks/`: the exit code and the report.
    fn run(&self, runbook: &str, args: &[&str]) -> (i32, Value) {
        let path = repo().join("runbooks").join(runbook);
        let out = run(self
            .sandbox
            .bin()
            .current_dir(self.work.path())
            .args(["run", "--yes", "--format", "json"])
            .arg(&path)
            .args(args));
        let report = serde_json::from_str(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "not a JSON report ({e}):\n{}\n--- stderr\n{}",
                out.stdout, out.stderr
            )
        });
        (out.code, report)
    }
}

/// Each step of a report as `name: status`, rollback steps marked, in report order.
fn steps(report: &Value) -> Vec<String> {
    report["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| {
            let rollback = if s["rollback"] == true {
                "rollback "
            } else {
                ""
            };
            format!(
                "{rollback}{}: {}",
                s["name"].as_str().expect("name"),
                s["status"].as_str().expect("status")
            )
        })
        .collect()
}

/// The state of each instance of one step, as `instance: state`.
fn instances(report: &Value, step: &str) -> Vec<String> {
    let step = report["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["name"] == step)
        .unwrap_or_else(|| panic!("no step {step}"));
    step["instances"]
        .as_array()
        .expect("instances")
        .iter()
        .map(|i| {
            format!(
                "{}: {}",
                i["instance_id"].as_str().expect("id"),
                i["state"].as_str().expect("state")
            )
        })
        .collect()
}

/// The output of one instance of one step.
fn output<'a>(report: &'a Value, step: &str, instance: &str) -> &'a str {
    report["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["name"] == step)
        .and_then(|s| {
            s["instances"]
                .as_array()?
                .iter()
                .find(|i| i["instance_id"] == instance)
        })
        .and_then(|i| i["output"].as_str())
        .unwrap_or_default()
}

/// (a) Rolling restart by tag: one instance at a time, each passing its health gate; the
/// database host is not touched. Then an instance whose service does not come back stops the
/// rollout: the next instance is never restarted and `verify` does not run.
#[test]
fn rolling_restart_goes_one_instance_at_a_time_and_stops_at_an_unhealthy_one() {
    let fleet = Fleet::start();
    let (code, report) = fleet.run("rolling-restart.yaml", &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(steps(&report), ["restart: succeeded", "verify: succeeded"]);
    assert_eq!(
        instances(&report, "restart"),
        [format!("{WEB_1}: success"), format!("{WEB_2}: success")]
    );
    assert!(output(&report, "restart", WEB_1).contains("health: ok"));
    assert!(output(&report, "verify", WEB_2).contains("shop-api is up since"));
    // `concurrency: 1`: one InvokeCommand per instance for `restart`, one for `verify`.
    assert_eq!(fleet.sandbox.calls("InvokeCommand"), 3);
    assert!(!fleet.file(DB_1, "/opt/shop-api").exists());

    // web-01's service will not start: its health gate fails, `max_errors: 0` stops the waves.
    std::fs::write(fleet.file(WEB_1, "/opt/shop-api/fail-start"), "").unwrap();
    let (code, report) = fleet.run("rolling-restart.yaml", &["--var", "health_checks=2"]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(steps(&report), ["restart: failed", "verify: skipped"]);
    assert_eq!(
        instances(&report, "restart"),
        [format!("{WEB_1}: failed"), format!("{WEB_2}: not_launched")]
    );
    assert!(output(&report, "restart", WEB_1).contains("did not come back"));
    let restarts = |id| std::fs::read_to_string(fleet.file(id, "/opt/shop-api/restarts")).unwrap();
    assert_eq!(restarts(WEB_1).trim(), "2");
    assert_eq!(restarts(WEB_2).trim(), "1", "web-02 was restarted again");
}

/// (b) Disk clean-up driven by output: `measure` captures the usage, `clean` runs only at or
/// above the threshold and deletes only old files; below it `clean` is skipped and `report`
/// still runs.
#[test]
fn disk_cleanup_cleans_only_above_the_threshold() {
    let fleet = Fleet::start();
    let old = fleet.file(DB_1, "/var/tmp/dumps/2020-01-01.dump");
    let fresh = fleet.file(DB_1, "/var/tmp/cache/today.bin");
    for file in [&old, &fresh] {
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, "x").unwrap();
    }
    let touched = std::process::Command::new("touch")
        .args(["-d", "10 days ago"])
        .arg(&old)
        .status()
        .unwrap();
    assert!(touched.success());

    // A threshold that is not a number fails `measure`, so the deleting step never runs.
    let (code, report) = fleet.run("disk-cleanup.yaml", &["--var", "threshold=9O"]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(
        steps(&report),
        ["measure: failed", "clean: skipped", "report: skipped"]
    );
    assert!(old.exists() && fresh.exists());

    // Above any real usage: `clean` is skipped, nothing is deleted.
    let (code, report) = fleet.run("disk-cleanup.yaml", &["--var", "threshold=101"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        steps(&report),
        ["measure: succeeded", "clean: skipped", "report: succeeded"]
    );
    assert!(
        report["steps"][1]["skip_reason"]
            .as_str()
            .unwrap()
            .contains("condition is false"),
        "{report:#}"
    );
    assert_eq!(instances(&report, "measure"), [format!("{DB_1}: success")]);
    assert!(old.exists() && fresh.exists());

    // At or above any usage: `clean` runs and removes the old dump only.
    let (code, report) = fleet.run("disk-cleanup.yaml", &["--var", "threshold=0"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        steps(&report),
        [
            "measure: succeeded",
            "clean: succeeded",
            "report: succeeded"
        ]
    );
    assert!(
        output(&report, "clean", DB_1).contains("removed 1 files older than 3 days"),
        "{report:#}"
    );
    assert!(!old.exists() && fresh.exists());
    assert!(output(&report, "report", DB_1).contains("1 files kept"));
}

/// (c) The patch window: the update runs half the tier at a time and is checked; a package
/// that cannot be installed fails the first wave, the second is never launched, and the
/// rollback restores the recorded versions on every instance.
#[test]
fn patch_window_patches_in_waves_and_rolls_back_on_failure() {
    let fleet = Fleet::start();
    let (code, report) = fleet.run("patch-window.yaml", &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        steps(&report),
        [
            "snapshot: succeeded",
            "patch: succeeded",
            "check: succeeded"
        ]
    );
    let version =
        |id| std::fs::read_to_string(fleet.file(id, "/var/tmp/patch-window/db/openssl")).unwrap();
    assert_eq!(version(WEB_1).trim(), "openssl-1.1");
    assert_eq!(version(WEB_2).trim(), "openssl-1.1");

    let (code, report) = fleet.run(
        "patch-window.yaml",
        &["--var", "packages=openssl no-such-package"],
    );
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(
        steps(&report),
        [
            "snapshot: succeeded",
            "patch: failed",
            "check: skipped",
            "rollback downgrade: succeeded"
        ]
    );
    assert_eq!(
        instances(&report, "patch"),
        [format!("{WEB_1}: failed"), format!("{WEB_2}: not_launched")]
    );
    assert!(output(&report, "patch", WEB_1).contains("Unable to find a match: no-such-package"));
    assert_eq!(
        instances(&report, "downgrade"),
        [format!("{WEB_1}: success"), format!("{WEB_2}: success")]
    );
    // The second snapshot recorded 1.1, so that is what the rollback restored.
    assert!(output(&report, "downgrade", WEB_2).contains("restored openssl-1.1"));
    assert!(!fleet.file(DB_1, "/var/tmp/patch-window").exists());
}

/// (d) The nightly job: `schedule apply` creates one Timed invocation on the database tier
/// with the Frequency in Shanghai time, `schedule list` shows it with its next fire times, and
/// `run --once` runs the backup now.
#[test]
fn nightly_backup_is_scheduled_and_runs_once_on_demand() {
    let fleet = Fleet::start();
    let path = repo().join("runbooks/nightly-backup.yaml");
    let json = |args: &[&str]| {
        let out = run(fleet
            .sandbox
            .bin()
            .current_dir(fleet.work.path())
            .env("ECS_RUNBOOK_NOW", "2026-01-05T00:00:00Z")
            .args(args));
        out.code(0);
        serde_json::from_str::<Value>(&out.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", out.stdout))
    };
    let applied = json(&[
        "schedule",
        "apply",
        "--yes",
        "--format",
        "json",
        path.to_str().unwrap(),
    ]);
    assert_eq!(applied["applied"], true, "{applied:#}");
    let change = &applied["changes"][0];
    assert_eq!(change["change"], "create");
    assert_eq!(change["name"], "nightly-backup");
    assert_eq!(change["frequency"], "0 30 1 * * ? Asia/Shanghai");
    assert_eq!(change["created"]["invoke_ids"].as_array().unwrap().len(), 1);
    assert_eq!(
        change["created"]["next"][0]["local"],
        "2026-01-06T01:30:00+08:00"
    );
    assert_eq!(fleet.sandbox.calls("InvokeCommand"), 1);

    let listed = json(&[
        "schedule",
        "list",
        "--region",
        "cn-hangzhou",
        "--format",
        "json",
    ]);
    let schedule = &listed["schedules"][0];
    assert_eq!(schedule["name"], "nightly-backup");
    assert_eq!(
        schedule["invocations"][0]["instances"],
        serde_json::json!([DB_1])
    );
    assert_eq!(schedule["next"][0]["utc"], "2026-01-05T17:30:00Z");

    let (code, report) = fleet.run("nightly-backup.yaml", &["--once"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(steps(&report), ["backup: succeeded"]);
    assert!(output(&report, "backup", DB_1).contains("1 archives kept"));
    let archives = std::fs::read_dir(fleet.file(DB_1, "/opt/backups"))
        .unwrap()
        .count();
    assert_eq!(archives, 1);
}
