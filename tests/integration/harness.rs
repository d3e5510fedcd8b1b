//! The test harness: run the real binary, against a real sandbox process on loopback.

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

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

    /// Every API call the sandbox received.
    pub(crate) fn total_calls(&self) -> u64 {
        self.stats()["calls"].as_object().map_or(0, |m| {
            m.values().filter_map(serde_json::Value::as_u64).sum()
        })
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
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
    pub(crate) fn path(&self) -> &std::path::Path {
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
