//! Running scripts for real, the way the agent does (reference §11), and what surrounds that:
//! the script file, parameter substitution, the instance's mapped file system and the capped
//! output buffer.
//!
//! The runner knows nothing of invocations or the API: it gets a [`ScriptJob`], streams output
//! to a sink and returns an [`Outcome`]. `state` decides what the outcome means for a record.
//! Scripts run as real processes of the current OS user: the sandbox is not an isolation
//! boundary.

use std::collections::{BTreeMap, VecDeque};
use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Component, Path, PathBuf};
use std::process::Stdio;
use std::sync::LazyLock;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use regex::Regex;
use tokio::io::AsyncReadExt as _;
use tokio::sync::oneshot;
use tokio::time::Instant;

/// How long output is still read after the process ended (the agent waits 200 ms).
const DRAIN: Duration = Duration::from_millis(200);

/// Output of one run: stdout and stderr interleaved, capped by keeping a head and a tail.
///
/// The agent streams the start of the output while the task runs and, at the end, drops the
/// oldest part of what it buffered after that (reference §11.5), so the net effect is head +
/// tail with the middle removed. The head is a quarter of the cap.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Output {
    head: Vec<u8>,
    tail: VecDeque<u8>,
    head_cap: usize,
    tail_cap: usize,
    dropped: u64,
}

impl Output {
    /// An empty buffer keeping at most `cap` bytes.
    pub(crate) fn new(cap: usize) -> Self {
        let head_cap = cap / 4;
        Self {
            head: Vec::new(),
            tail: VecDeque::new(),
            head_cap,
            tail_cap: cap - head_cap,
            dropped: 0,
        }
    }

    /// Appends bytes, dropping from the middle past the cap.
    pub(crate) fn push(&mut self, mut bytes: &[u8]) {
        let room = self.head_cap - self.head.len();
        if room > 0 {
            let n = room.min(bytes.len());
            self.head.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
        }
        if bytes.len() > self.tail_cap {
            let skip = bytes.len() - self.tail_cap;
            self.dropped += self.tail.len() as u64 + skip as u64;
            self.tail.clear();
            bytes = &bytes[skip..];
        }
        let over = (self.tail.len() + bytes.len()).saturating_sub(self.tail_cap);
        if over > 0 {
            self.tail.drain(..over);
            self.dropped += over as u64;
        }
        self.tail.extend(bytes);
    }

    /// The kept bytes.
    pub(crate) fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.head.len() + self.tail.len());
        out.extend_from_slice(&self.head);
        out.extend(self.tail.iter());
        out
    }

    /// Counts `n` more bytes as removed (a simulated truncation).
    pub(crate) fn add_dropped(&mut self, n: u64) {
        self.dropped += n;
    }

    /// Bytes removed so far.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }
}

/// Why a running script is stopped from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopReason {
    /// StopInvocation.
    Stopped,
    /// The instance stopped (fault injection).
    InstanceStopped,
    /// The sandbox shuts down.
    Shutdown,
}

/// The program that runs a script file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interpreter {
    /// `sh -c <path>`, as the Linux agent does.
    Sh,
    /// `pwsh -NoProfile -NonInteractive -File <path>`.
    Pwsh,
}

/// One script to run.
#[derive(Debug, Clone)]
pub(crate) struct ScriptJob {
    /// The script file.
    pub(crate) path: PathBuf,
    /// How to run it.
    pub(crate) interpreter: Interpreter,
    /// Working directory (already mapped into the instance).
    pub(crate) cwd: PathBuf,
    /// Variables added to the sandbox's own environment.
    pub(crate) env: Vec<(String, String)>,
    /// Kill after this long; `None` for no limit.
    pub(crate) timeout: Option<Duration>,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The process exited (code −1 when killed by a signal from elsewhere, as Go reports).
    Exited(i64),
    /// Killed at the timeout.
    TimedOut,
    /// Killed from outside.
    Stopped(StopReason),
    /// Could not start.
    SpawnFailed(String),
}

/// Runs `job`: one process group, stdout and stderr on one pipe, output streamed to `sink`.
/// `on_spawn` gets the process group id once the process runs, so that a sandbox shutting
/// down without its runtime can still kill the group ([`kill_group_now`]).
pub(crate) async fn run(
    job: ScriptJob,
    mut sink: impl FnMut(&[u8]) + Send,
    mut stop: oneshot::Receiver<StopReason>,
    on_spawn: impl FnOnce(i32) + Send,
) -> Outcome {
    let (reader, writer) = match std::io::pipe() {
        Ok(pair) => pair,
        Err(e) => return Outcome::SpawnFailed(format!("cannot create a pipe: {e}")),
    };
    let writer_err = match writer.try_clone() {
        Ok(w) => w,
        Err(e) => return Outcome::SpawnFailed(format!("cannot duplicate a pipe: {e}")),
    };
    let mut command = match job.interpreter {
        Interpreter::Sh => {
            let mut c = tokio::process::Command::new("sh");
            c.arg("-c").arg(&job.path);
            c
        }
        Interpreter::Pwsh => {
            let mut c = tokio::process::Command::new("pwsh");
            c.args(["-NoProfile", "-NonInteractive", "-File"])
                .arg(&job.path);
            c
        }
    };
    command
        .current_dir(&job.cwd)
        .envs(job.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::from(writer))
        .stderr(Stdio::from(writer_err))
        .process_group(0)
        .kill_on_drop(true);
    let spawned = {
        let _no_write = FORK_LOCK
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        command.spawn()
    };
    // The command holds the parent's copies of the pipe's write end; without dropping it the
    // pipe never reaches end-of-file.
    drop(command);
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => return Outcome::SpawnFailed(format!("cannot start the script: {e}")),
    };
    let pgid = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .map(Pid::from_raw);
    if let Some(pgid) = pgid {
        on_spawn(pgid.as_raw());
    }
    let mut pipe = match tokio::net::unix::pipe::Receiver::from_owned_fd(OwnedFd::from(reader)) {
        Ok(p) => Some(p),
        Err(e) => {
            kill_group(pgid);
            return Outcome::SpawnFailed(format!("cannot read the pipe: {e}"));
        }
    };
    let deadline = job.timeout.map(|t| Instant::now() + t);
    let mut ending: Option<(Outcome, Instant)> = None;
    let mut buf = vec![0u8; 8192];
    loop {
        if ending.is_some() && pipe.is_none() {
            break;
        }
        let drain_until = ending.as_ref().map(|(_, until)| *until);
        tokio::select! {
            read = async { pipe.as_mut().expect("guarded").read(&mut buf).await }, if pipe.is_some() => {
                match read {
                    Ok(0) | Err(_) => pipe = None,
                    Ok(n) => sink(&buf[..n]),
                }
            }
            status = child.wait(), if ending.is_none() => {
                let code = status.ok().and_then(|s| s.code()).map_or(-1, i64::from);
                ending = Some((Outcome::Exited(code), Instant::now() + DRAIN));
            }
            () = sleep_until_opt(deadline), if ending.is_none() && deadline.is_some() => {
                kill_group(pgid);
                let _ = child.wait().await;
                ending = Some((Outcome::TimedOut, Instant::now() + DRAIN));
            }
            reason = &mut stop, if ending.is_none() => {
                let reason = reason.unwrap_or(StopReason::Shutdown);
                kill_group(pgid);
                let _ = child.wait().await;
                ending = Some((Outcome::Stopped(reason), Instant::now() + DRAIN));
            }
            () = sleep_until_opt(drain_until), if drain_until.is_some() => break,
        }
    }
    // Background children that kept the pipe open past the drain are not waited for, as the
    // agent does not wait for them either.
    ending.map_or(Outcome::Exited(-1), |(outcome, _)| outcome)
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Kills a process group right away (shutdown without a runtime to deliver stops).
pub(crate) fn kill_group_now(pgid: i32) {
    kill_group(Some(Pid::from_raw(pgid)));
}

fn kill_group(pgid: Option<Pid>) {
    if let Some(pgid) = pgid {
        // The group may already be gone; that is the outcome we wanted.
        let _ = killpg(pgid, Signal::SIGKILL);
    }
}

/// Maps an absolute instance path such as `/root` to `<fs_root>/root`, resolving `.` and
/// `..` lexically so the result stays under `fs_root`.
pub(crate) fn map_path(fs_root: &Path, path: &str) -> PathBuf {
    let mut out = fs_root.to_path_buf();
    let mut depth = 0usize;
    for component in Path::new(path).components() {
        match component {
            Component::Normal(part) => {
                out.push(part);
                depth += 1;
            }
            Component::ParentDir if depth > 0 => {
                out.pop();
                depth -= 1;
            }
            _ => {}
        }
    }
    out
}

/// Writes the script file `<dir>/<name>-<invoke_id>.<ext>` with mode 0755 and returns its
/// path. The name part keeps only characters that are safe in `sh -c <path>`.
pub(crate) fn write_script(
    dir: &Path,
    name: &str,
    invoke_id: &str,
    ext: &str,
    content: &[u8],
) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let file = if safe.is_empty() {
        format!("{invoke_id}.{ext}")
    } else {
        format!("{safe}-{invoke_id}.{ext}")
    };
    let path = dir.join(file);
    {
        // A fork while the file is open for writing would hand the child that descriptor, and
        // `sh` would then fail to execute the script ("Text file busy").
        let _no_fork = FORK_LOCK
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        std::fs::write(&path, content)?;
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
    Ok(path)
}

/// Held while a script file is open for writing and while a script process is forked, so no
/// child inherits a script's write descriptor (the cause of `ETXTBSY` when running it).
static FORK_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

static CUSTOM_PARAM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\{\{\s*([A-Za-z0-9_-]+)\s*\}\}").expect("the parameter pattern is valid")
});

static BUILTIN_PARAM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\{\{\s*ACS\s*::\s*([\w.-]+)\s*\}\}").expect("the built-in pattern is valid")
});

/// The custom parameter names of a script, in order of first use, without duplicates
/// (case-insensitively, as names are).
pub(crate) fn parameter_names(text: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for caps in CUSTOM_PARAM.captures_iter(text) {
        let name = &caps[1];
        if !names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            names.push(name.to_owned());
        }
    }
    names
}

/// Replaces `{{name}}` with its value from `values` (keys compared case-insensitively); names
/// without a value are left as written. Values are not shell-quoted (reference §8).
pub(crate) fn substitute_params(text: &str, values: &BTreeMap<String, String>) -> String {
    CUSTOM_PARAM
        .replace_all(text, |caps: &regex::Captures<'_>| {
            let name = &caps[1];
            values
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map_or_else(|| caps[0].to_owned(), |(_, v)| v.clone())
        })
        .into_owned()
}

/// Replaces `{{ACS::Name}}` built-ins; an unknown name is returned as the error.
pub(crate) fn substitute_builtins(text: &str, values: &[(&str, &str)]) -> Result<String, String> {
    let mut unknown = None;
    let out = BUILTIN_PARAM.replace_all(text, |caps: &regex::Captures<'_>| {
        let name = &caps[1];
        if let Some((_, v)) = values.iter().find(|(k, _)| *k == name) {
            (*v).to_owned()
        } else {
            unknown.get_or_insert_with(|| name.to_owned());
            caps[0].to_owned()
        }
    });
    match unknown {
        Some(name) => Err(name),
        None => Ok(out.into_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(dir: &Path, script: &str, timeout: Option<Duration>) -> ScriptJob {
        let path = write_script(dir, "t", "t-1", "sh", script.as_bytes()).unwrap();
        ScriptJob {
            path,
            interpreter: Interpreter::Sh,
            cwd: dir.to_path_buf(),
            env: vec![("ECS_SANDBOX_TEST".into(), "yes".into())],
            timeout,
        }
    }

    async fn run_collect(
        job: ScriptJob,
        stop: oneshot::Receiver<StopReason>,
    ) -> (Outcome, Vec<u8>) {
        let mut out = Vec::new();
        let outcome = run(job, |b| out.extend_from_slice(b), stop, |_| {}).await;
        (outcome, out)
    }

    #[tokio::test]
    async fn runs_with_one_pipe_for_both_streams() {
        let dir = tempfile::tempdir().unwrap();
        let (_tx, rx) = oneshot::channel();
        let (outcome, out) = run_collect(
            job(
                dir.path(),
                "echo out; echo err >&2; echo $ECS_SANDBOX_TEST; pwd; exit 3",
                None,
            ),
            rx,
        )
        .await;
        assert_eq!(outcome, Outcome::Exited(3));
        let text = String::from_utf8(out).unwrap();
        let expected = format!(
            "out\nerr\nyes\n{}\n",
            dir.path().canonicalize().unwrap().display()
        );
        assert_eq!(text, expected);
    }

    #[tokio::test]
    async fn timeout_kills_the_process_group() {
        let dir = tempfile::tempdir().unwrap();
        let (_tx, rx) = oneshot::channel();
        let started = Instant::now();
        let marker = dir.path().join("survived");
        let script = format!(
            "echo start; (sleep 3; touch {}) & sleep 30",
            marker.display()
        );
        let (outcome, out) = run_collect(
            job(dir.path(), &script, Some(Duration::from_millis(300))),
            rx,
        )
        .await;
        assert_eq!(outcome, Outcome::TimedOut);
        assert_eq!(out, b"start\n");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(3500)).await;
        assert!(!marker.exists(), "a child of the script outlived the kill");
    }

    #[tokio::test]
    async fn stop_kills_a_running_script() {
        let dir = tempfile::tempdir().unwrap();
        let (tx, rx) = oneshot::channel();
        let handle = tokio::spawn(run_collect(job(dir.path(), "echo a; sleep 30", None), rx));
        tokio::time::sleep(Duration::from_millis(300)).await;
        tx.send(StopReason::Stopped).unwrap();
        let (outcome, out) = handle.await.unwrap();
        assert_eq!(outcome, Outcome::Stopped(StopReason::Stopped));
        assert_eq!(out, b"a\n");
    }

    #[test]
    fn output_keeps_head_and_tail() {
        type Case<'a> = (usize, &'a [&'a [u8]], &'a [u8], u64);
        let cases: &[Case<'_>] = &[
            (8, &[b"abc"], b"abc", 0),
            (8, &[b"0123456789"], b"01456789", 2),
            (8, &[b"01", b"2345", b"6789", b"AB"], b"016789AB", 4),
            (8, &[b"0123456789ABCDEFGHIJ"], b"01EFGHIJ", 12),
        ];
        for (cap, chunks, kept, dropped) in cases {
            let mut out = Output::new(*cap);
            for chunk in *chunks {
                out.push(chunk);
            }
            assert_eq!(out.bytes(), *kept, "{chunks:?}");
            assert_eq!(out.dropped(), *dropped, "{chunks:?}");
        }
    }

    #[test]
    fn maps_paths_inside_the_instance() {
        let root = Path::new("/sb/i-1/fs");
        let cases = [
            ("/root", "/sb/i-1/fs/root"),
            ("/var/log/", "/sb/i-1/fs/var/log"),
            ("/../../etc", "/sb/i-1/fs/etc"),
            ("/opt/./a/../b", "/sb/i-1/fs/opt/b"),
            ("/", "/sb/i-1/fs"),
        ];
        for (input, expected) in cases {
            assert_eq!(map_path(root, input), Path::new(expected), "{input}");
        }
    }

    #[test]
    fn substitutes_parameters_and_builtins() {
        let text = "echo {{ Name }} {{name}} {{missing}} {{ACS::InstanceId}}";
        assert_eq!(parameter_names(text), ["Name", "missing"]);
        let values: BTreeMap<String, String> =
            [("name".to_owned(), "Jack O'Neil".to_owned())].into();
        let text = substitute_params(text, &values);
        assert_eq!(
            text,
            "echo Jack O'Neil Jack O'Neil {{missing}} {{ACS::InstanceId}}"
        );
        assert_eq!(
            substitute_builtins(&text, &[("InstanceId", "i-1")]).unwrap(),
            "echo Jack O'Neil Jack O'Neil {{missing}} i-1"
        );
        assert_eq!(
            substitute_builtins("{{ ACS :: Nope }}", &[("InstanceId", "i-1")]).unwrap_err(),
            "Nope"
        );
    }
}
