//! The test harness: run the real binary, against a real sandbox process on loopback.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The repository root.
pub(crate) fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The binary under test, with a clean, colourless environment.
pub(crate) fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ecs-runbook"));
    cmd.env("NO_COLOR", "1")
        .env_remove("ECS_RUNBOOK_ENDPOINT")
        .env_remove("ALIBABA_CLOUD_ACCESS_KEY_ID")
        .env_remove("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
        .env_remove("ALIBABA_CLOUD_SECURITY_TOKEN")
        .env_remove("ALIBABA_CLOUD_REGION_ID")
        .env_remove("RUST_LOG");
    cmd
}

/// What a finished command printed and returned.
#[derive(Debug)]
pub(crate) struct Run {
    /// Exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    fn from(output: &Output) -> Self {
        Self {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Asserts the exit code, showing both streams when it differs.
    #[track_caller]
    pub(crate) fn code(&self, expected: i32) -> &Self {
        assert_eq!(
            self.code, expected,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// Runs a command to completion.
pub(crate) fn run(cmd: &mut Command) -> Run {
    Run::from(&cmd.output().expect("the binary runs"))
}

/// A sandbox served by `ecs-runbook sandbox` on 127.0.0.1, killed on drop.
pub(crate) struct Sandbox {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

impl Sandbox {
    /// Starts the sandbox with the default fleet.
    pub(crate) fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts the sandbox with the fleet `yaml`, written into `dir`.
    pub(crate) fn with_fleet(dir: &Dir, yaml: &str) -> Self {
        let fleet = dir.write("fleet.yaml", yaml);
        Self::start_with(&["--fleet", fleet.to_str().expect("UTF-8 path")])
    }

    /// Starts the sandbox with extra arguments (e.g. `--fleet FILE`).
    pub(crate) fn start_with(args: &[&str]) -> Self {
        let mut child = bin()
            .args(["sandbox", "--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the sandbox starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut first = String::new();
        BufReader::new(stdout)
            .read_line(&mut first)
            .expect("the sandbox prints its address");
        let url = first
            .trim()
            .strip_prefix("sandbox listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
            .to_owned();
        Self { child, url }
    }

    /// The binary, pointed at this sandbox with its default key.
    pub(crate) fn bin(&self) -> Command {
        let mut cmd = bin();
        cmd.env("ECS_RUNBOOK_ENDPOINT", &self.url)
            .env("ALIBABA_CLOUD_ACCESS_KEY_ID", "sandbox")
            .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "sandbox-secret");
        cmd
    }

    /// The sandbox's counters (`GET /_sandbox/stats`).
    pub(crate) fn stats(&self) -> serde_json::Value {
        let body = http_get(&format!("{}/_sandbox/stats", self.url));
        serde_json::from_str(&body).expect("stats are JSON")
    }

    /// API calls the sandbox received for `action`.
    pub(crate) fn calls(&self, action: &str) -> u64 {
        self.stats()["calls"][action].as_u64().unwrap_or(0)
    }

    /// Executions per `InvokeId/InstanceId/run`, real and simulated together.
    pub(crate) fn executions(&self) -> std::collections::BTreeMap<String, u64> {
        self.stats()["executions"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        let n =
                            v["real"].as_u64().unwrap_or(0) + v["simulated"].as_u64().unwrap_or(0);
                        (k.clone(), n)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The sandbox's `/_sandbox/health` counters.
    pub(crate) fn health(&self) -> serde_json::Value {
        serde_json::from_str(&http_get(&format!("{}/_sandbox/health", self.url)))
            .expect("health is JSON")
    }

    /// A library client signed with the sandbox's default key, for calls a test makes itself.
    pub(crate) fn client(&self) -> ecs_runbook::cloud::Client {
        ecs_runbook::cloud::ClientBuilder::new(
            ecs_runbook::cloud::RegionId::new("cn-hangzhou"),
            ecs_runbook::cloud::Credential::sandbox(),
        )
        .endpoint(self.url.clone())
        .build()
    }

    /// Every API call the sandbox received.
    pub(crate) fn total_calls(&self) -> u64 {
        self.stats()["calls"].as_object().map_or(0, |m| {
            m.values().filter_map(serde_json::Value::as_u64).sum()
        })
    }
}

impl Drop for Sandbox {
    /// SIGTERM, so that the sandbox removes its temporary root; SIGKILL if it lingers.
    fn drop(&mut self) {
        let pid =
            nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).expect("a pid fits in i32"));
        if nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).is_ok() {
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal HTTP/1.1 GET over a plain TCP socket, for the sandbox's test endpoints.
pub(crate) fn http_get(url: &str) -> String {
    use std::io::{Read as _, Write as _};
    let rest = url.strip_prefix("http://").expect("http URL");
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
    let mut stream = std::net::TcpStream::connect(host).expect("connect to the sandbox");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// A temporary directory with files written into it.
pub(crate) struct Dir {
    dir: tempfile::TempDir,
}

impl Dir {
    /// A new empty directory.
    pub(crate) fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("a temp dir"),
        }
    }

    /// The directory.
    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `text` to `name` and returns its path.
    pub(crate) fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, text).unwrap();
        path
    }
}

/// Parses a JSON file (a report).
pub(crate) fn json_file(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).expect("the file is JSON")
}

/// A command running in the background, its stderr collected line by line.
pub(crate) struct Spawned {
    child: Child,
    stderr: Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Spawned {
    /// Starts `cmd` with stdout and stderr piped.
    pub(crate) fn start(cmd: &mut Command) -> Self {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let pipe = child.stderr.take().expect("piped stderr");
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut all = sink.lock().unwrap();
                all.push_str(&line);
                all.push('\n');
            }
        });
        Self {
            child,
            stderr,
            reader: Some(reader),
        }
    }

    /// The process id.
    pub(crate) fn pid(&self) -> nix::unistd::Pid {
        nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).expect("pids fit i32"))
    }

    /// Stderr so far.
    pub(crate) fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits until stderr contains `needle` `count` times; panics after `limit`.
    #[track_caller]
    pub(crate) fn wait_for(&self, needle: &str, count: usize, limit: Duration) {
        let start = Instant::now();
        while self.stderr().matches(needle).count() < count {
            assert!(
                start.elapsed() < limit,
                "no {count}× {needle:?} within {limit:?} in\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether the process has not ended yet.
    pub(crate) fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends `signal`.
    pub(crate) fn signal(&self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(self.pid(), signal).expect("the process can be signalled");
    }

    /// Waits for the process to end.
    pub(crate) fn finish(mut self) -> Run {
        let mut stdout = String::new();
        if let Some(mut pipe) = self.child.stdout.take() {
            use std::io::Read as _;
            let _ = pipe.read_to_string(&mut stdout);
        }
        let status = self.child.wait().expect("the process ends");
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        Run {
            code: status.code().unwrap_or(-1),
            stdout,
            stderr: self.stderr(),
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The run directory `run` wrote under `base` (the only one there).
pub(crate) fn run_dir(base: &Path) -> PathBuf {
    let runs = base.join(".ecs-runbook/runs");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&runs)
        .unwrap_or_else(|e| panic!("no {}: {e}", runs.display()))
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs.remove(0)
}

/// How often the sandbox executed each (step, instance), from the sandbox's counts and the
/// invocations a report lists per step.
pub(crate) fn executions_per_step(
    sandbox: &Sandbox,
    report: &serde_json::Value,
) -> std::collections::BTreeMap<(String, String), u64> {
    let executions = sandbox.executions();
    let mut out = std::collections::BTreeMap::new();
    for step in report["steps"].as_array().unwrap() {
        let name = step["name"].as_str().unwrap().to_owned();
        for inv in step["invocations"].as_array().unwrap() {
            let invoke = inv["invoke_id"].as_str().unwrap();
            for id in inv["instances"].as_array().unwrap() {
                let id = id.as_str().unwrap();
                let n: u64 = executions
                    .iter()
                    .filter(|(k, _)| k.starts_with(&format!("{invoke}/{id}/")))
                    .map(|(_, n)| *n)
                    .sum();
                *out.entry((name.clone(), id.to_owned())).or_insert(0) += n;
            }
        }
    }
    out
}
