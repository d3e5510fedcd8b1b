//! Secrets (issue 7): two secret variables, a short one from the environment and one with
//! URL-special characters from a file, go through `plan` (every format and a saved plan),
//! `run` (reports, journal, `-vv` logs), a SIGKILLed run's `resume` and the schedule paths;
//! every artefact — each command's stdout and stderr and every file the commands wrote — is
//! scanned for each secret: plain, URL-encoded, Base64, and inside every decoded Base64 token.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use nix::sys::signal::Signal;

use crate::harness::{Dir, Run, Sandbox, Spawned, run, run_dir};

/// The short secret, from the environment.
const SHORT: &str = "Zq7x";
/// The secret with URL-special characters, from a file.
const FANCY: &str = "p@ss w/rd?&=+%#:;ü~";

/// What a scan looks for: each secret as written, URL-encoded (`%20` and form `+` styles) and
/// Base64 (standard and URL-safe, with and without padding).
fn forms(secret: &str) -> Vec<(String, String)> {
    let mut out = vec![("plain".to_owned(), secret.to_owned())];
    for (name, plus) in [("url-encoded", false), ("form-encoded", true)] {
        let encoded: String = secret
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    char::from(b).to_string()
                }
                b' ' if plus => "+".to_owned(),
                _ => format!("%{b:02X}"),
            })
            .collect();
        out.push((name.to_owned(), encoded.clone()));
        out.push((format!("{name} (lower-case hex)"), lower_hex(&encoded)));
    }
    for engine in [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD] {
        out.push(("base64".to_owned(), engine.encode(secret)));
    }
    out.dedup_by(|a, b| a.1 == b.1);
    out
}

fn lower_hex(encoded: &str) -> String {
    let mut out = String::new();
    let mut chars = encoded.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '%' {
            out.extend(chars.by_ref().take(2).map(|h| h.to_ascii_lowercase()));
        }
    }
    out
}

/// Every run of Base64 alphabet characters (either alphabet) long enough to hide a secret.
fn base64_tokens(text: &str) -> Vec<&str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || "+/=-_".contains(c)))
        .filter(|t| t.len() >= 8)
        .collect()
}

/// The decoded contents of `token`, under each alphabet and padding, and from each of its
/// first four offsets (a token may start mid-way into a Base64 blob).
fn decodings(token: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for start in 0..4.min(token.len()) {
        let body = token[start..].trim_end_matches('=');
        for engine in [STANDARD_NO_PAD, URL_SAFE_NO_PAD] {
            let mut cut = body;
            // An unaligned tail is dropped: what came before it is still decoded.
            while !cut.is_empty() {
                if let Ok(bytes) = engine.decode(cut) {
                    out.push(bytes);
                    break;
                }
                cut = &cut[..cut.len() - 1];
            }
        }
    }
    out
}

/// Where each secret shows in `text`, as `form of secret` labels; `depth` bounds the Base64
/// recursion (Base64 inside decoded Base64).
fn leaks(text: &str, depth: u32) -> Vec<String> {
    let mut found = Vec::new();
    for (name, secret) in [("short", SHORT), ("fancy", FANCY)] {
        for (form, value) in forms(secret) {
            if text.contains(&value) {
                found.push(format!("{form} {name} secret"));
            }
        }
    }
    if depth > 0 {
        for token in base64_tokens(text) {
            for bytes in decodings(token) {
                let decoded = String::from_utf8_lossy(&bytes);
                for leak in leaks(&decoded, depth - 1) {
                    found.push(format!("{leak} inside Base64 `{token}`"));
                }
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

/// The scan: each artefact by name, with what leaked into it.
#[derive(Default)]
struct Scan {
    artefacts: Vec<(String, String)>,
}

impl Scan {
    fn output(&mut self, what: &str, out: &Run) {
        self.artefacts
            .push((format!("{what}: stdout"), out.stdout.clone()));
        self.artefacts
            .push((format!("{what}: stderr"), out.stderr.clone()));
    }

    /// Every file under `dir` but the secret's own source file.
    fn files(&mut self, dir: &Path, skip: &Path) {
        let mut stack = vec![dir.to_owned()];
        while let Some(at) = stack.pop() {
            for entry in std::fs::read_dir(&at).unwrap() {
                let path: PathBuf = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if path != skip {
                    let bytes = std::fs::read(&path).unwrap();
                    let shown = path.strip_prefix(dir).unwrap().display().to_string();
                    self.artefacts
                        .push((shown, String::from_utf8_lossy(&bytes).into_owned()));
                }
            }
        }
    }

    /// The scan saw every kind of artefact: the report files, and both run directories'
    /// plan, journal and report.
    fn covers_every_kind(&self) {
        let names: Vec<&str> = self.artefacts.iter().map(|(n, _)| n.as_str()).collect();
        for expected in [
            "plan.json",
            "report.json",
            "junit.xml",
            "summary.md",
            "resumed.json",
            "resumed.xml",
            "resumed.md",
        ] {
            assert!(
                names.contains(&expected),
                "{expected} not scanned: {names:?}"
            );
        }
        for kind in ["journal.jsonl", "report.json", "plan.json"] {
            assert!(
                names
                    .iter()
                    .filter(|n| n.ends_with(kind) && n.contains(".ecs-runbook"))
                    .count()
                    >= 2,
                "{kind} of both run directories: {names:?}"
            );
        }
    }

    fn check(&self) {
        let mut problems = Vec::new();
        for (name, text) in &self.artefacts {
            for leak in leaks(text, 2) {
                problems.push(format!("{name}: {leak}"));
            }
        }
        assert!(
            problems.is_empty(),
            "secrets leaked:\n{}",
            problems.join("\n")
        );
    }
}

const RUNBOOK: &str = "version: 1
name: secrets
region: cn-hangzhou
vars:
  short: {secret: true, env: RB_SHORT_SECRET, allow_inline: true}
  fancy: {secret: true, file: fancy.txt, allow_inline: true}
targets: {instances: [i-sandbox0000000000001, i-sandbox0000000000002]}
steps:
  - name: echo
    script: |
      echo \"short={{ short }}\"
      echo 'fancy={{ fancy }}'
      echo '{{ fancy }}{{ short }}' | sha256sum | cut -c1-12
      echo 'store: {{oos-secret:db-password}}'
      printf '%s' '{{ fancy }}' | base64
      echo 'token {{ short }}:{{ fancy }}' | base64 -w0; echo
    outputs:
      short: {regex: 'short=(\\S+)'}
  - name: slow
    depends_on: [echo]
    script: |
      sleep 1
      echo 'slow {{ short }} done'
";

const SCHEDULED: &str = "version: 1
name: nightly
region: cn-hangzhou
vars:
  short: {secret: true, env: RB_SHORT_SECRET, allow_inline: true}
  fancy: {secret: true, file: fancy.txt, allow_inline: true}
targets: {instances: [i-sandbox0000000000001]}
schedule:
  frequency: rate(1m)
steps:
  - name: nightly
    timeout: 30s
    script: |
      echo 'nightly {{ short }} {{ fancy }}'
";

/// The binary against `sandbox` with both secrets' sources set, in `dir`, with `-vv`.
fn cmd(sandbox: &Sandbox, dir: &Dir) -> std::process::Command {
    let mut cmd = sandbox.bin();
    cmd.current_dir(dir.path())
        .env("RB_SHORT_SECRET", SHORT)
        .env("NO_COLOR", "1")
        .arg("-vv");
    cmd
}

/// The scan: plan, run, resume and schedule with both secrets, then every artefact.
#[test]
fn no_secret_reaches_any_artefact_in_any_form() {
    let dir = Dir::new();
    let secret_file = dir.write("fancy.txt", &format!("{FANCY}\n"));
    dir.write("secrets.yaml", RUNBOOK);
    dir.write("nightly.yaml", SCHEDULED);
    // Dropped connections and errors on the writes put transport and API errors into the
    // logs too.
    let sandbox = Sandbox::with_fleet(
        &dir,
        "instances:
  - id: i-sandbox0000000000001
  - id: i-sandbox0000000000002
faults:
  actions:
    - {action: CreateCommand, sequence: [drop_before, ok, drop_after, internal_error]}
    - {action: InvokeCommand, sequence: [drop_after, ok, drop_before, unavailable]}
",
    );
    let mut scan = Scan::default();

    // The scan itself finds each form, so a clean result means something.
    for (name, secret) in [("short", SHORT), ("fancy", FANCY)] {
        for (form, value) in forms(secret) {
            assert!(!leaks(&value, 0).is_empty(), "{form} of {name}");
        }
        let hidden = STANDARD.encode(format!("echo 'x{secret}y'\n"));
        assert!(!leaks(&hidden, 1).is_empty(), "Base64 content of {name}");
    }

    plans(&sandbox, &dir, &mut scan);
    let run_base = run_saved_plan(&sandbox, &dir, &secret_file, &mut scan);
    kill_and_resume(&sandbox, &dir, &mut scan);
    schedules(&sandbox, &dir, &mut scan);

    scan.files(dir.path(), &secret_file);
    scan.files(run_base.path(), &run_base.path().join("fancy.txt"));
    scan.covers_every_kind();
    let faults = &sandbox.stats()["faults"];
    for fault in ["CreateCommand:drop_after", "InvokeCommand:drop_before"] {
        assert!(faults[fault].as_u64() >= Some(1), "{fault}: {faults}");
    }
    eprintln!(
        "secret scan: {} artefacts, {} forms per secret",
        scan.artefacts.len(),
        forms(FANCY).len()
    );
    scan.check();
}

/// `plan` in every format, and the saved plan.
fn plans(sandbox: &Sandbox, dir: &Dir, scan: &mut Scan) {
    for format in ["text", "markdown", "json", "mermaid"] {
        let out = run(cmd(sandbox, dir).args(["plan", "secrets.yaml", "--format", format]));
        out.code(0);
        scan.output(&format!("plan --format {format}"), &out);
    }
    let out = run(cmd(sandbox, dir).args([
        "plan",
        "secrets.yaml",
        "--format",
        "json",
        "-o",
        "plan.json",
    ]));
    out.code(0);
    scan.output("plan -o plan.json", &out);
}

/// A whole run of the saved plan with every report, in a directory of its own.
fn run_saved_plan(sandbox: &Sandbox, dir: &Dir, secret_file: &Path, scan: &mut Scan) -> Dir {
    let run_base = Dir::new();
    std::fs::copy(
        dir.path().join("plan.json"),
        run_base.path().join("plan.json"),
    )
    .unwrap();
    std::fs::copy(
        dir.path().join("secrets.yaml"),
        run_base.path().join("secrets.yaml"),
    )
    .unwrap();
    std::fs::copy(secret_file, run_base.path().join("fancy.txt")).unwrap();
    let out = run(cmd(sandbox, &run_base).args([
        "run",
        "--yes",
        "--plan",
        "plan.json",
        "--report",
        "report.json",
        "--junit",
        "junit.xml",
        "--summary",
        "summary.md",
    ]));
    out.code(0);
    assert!(
        out.stdout.contains("short=********") && out.stdout.contains("fancy=********"),
        "the echoed secrets are masked:\n{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("store: {{oos-secret:db-password}}"),
        "{}",
        out.stdout
    );
    // The instances got the real values: they printed their digest.
    let digest = ecs_runbook::runbook::hash(format!("{FANCY}{SHORT}\n").as_bytes());
    assert!(
        out.stdout.contains(&format!("    | {}", &digest[..12])),
        "{}",
        out.stdout
    );
    scan.output("run --plan", &out);
    run_base
}

/// A run killed mid-step, then resumed.
fn kill_and_resume(sandbox: &Sandbox, dir: &Dir, scan: &mut Scan) {
    let out_killed = {
        let running = Spawned::start(cmd(sandbox, dir).args([
            "run",
            "--yes",
            "secrets.yaml",
            "--report",
            "killed-report.json",
        ]));
        running.wait_for("[slow] invoked", 1, Duration::from_secs(30));
        running.signal(Signal::SIGKILL);
        running.finish()
    };
    scan.output("run (killed)", &out_killed);
    let run_id = run_dir(dir.path())
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let out = run(cmd(sandbox, dir).args([
        "resume",
        "--yes",
        &run_id,
        "--report",
        "resumed.json",
        "--junit",
        "resumed.xml",
        "--summary",
        "resumed.md",
    ]));
    out.code(0);
    assert!(out.stdout.contains("slow ******** done"), "{}", out.stdout);
    scan.output("resume", &out);
}

/// The schedule paths: `run` of a scheduled runbook, `schedule apply` and `list`.
fn schedules(sandbox: &Sandbox, dir: &Dir, scan: &mut Scan) {
    for (what, args) in [
        ("run (scheduled)", vec!["run", "--yes", "nightly.yaml"]),
        ("plan (scheduled)", vec!["plan", "nightly.yaml"]),
        (
            "schedule apply",
            vec!["schedule", "apply", "--yes", "--set", "ops", "nightly.yaml"],
        ),
        (
            "schedule list",
            vec![
                "schedule",
                "list",
                "--region",
                "cn-hangzhou",
                "--results",
                "5",
            ],
        ),
        (
            "schedule list --set ops",
            vec![
                "schedule",
                "list",
                "--region",
                "cn-hangzhou",
                "--set",
                "ops",
                "--results",
                "5",
            ],
        ),
    ] {
        let out = run(cmd(sandbox, dir).args(&args));
        out.code(0);
        scan.output(what, &out);
    }
}

/// A secret too short to mask (masking `ab` would hide every `ab` of ordinary output) is
/// refused before anything is created, without echoing it.
#[test]
fn a_secret_too_short_to_mask_is_refused() {
    let dir = Dir::new();
    dir.write(
        "short.yaml",
        "version: 1
name: short
region: cn-hangzhou
vars:
  pin: {secret: true, env: RB_PIN}
targets: {instances: [i-sandbox0000000000001]}
steps:
  - name: a
    script: echo ok
",
    );
    let sandbox = Sandbox::start();
    let out = run(sandbox
        .bin()
        .current_dir(dir.path())
        .env("RB_PIN", "Qz9")
        .args(["run", "--yes", "short.yaml"]));
    out.code(2);
    assert!(
        out.stderr.contains(
            "secret variable `pin` is 3 characters long: a secret that short cannot be masked"
        ),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("at least 4 characters"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("Qz9") && !out.stdout.contains("Qz9"));
    for write in ["CreateCommand", "InvokeCommand"] {
        assert_eq!(sandbox.calls(write), 0, "{write}");
    }
}
