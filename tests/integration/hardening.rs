//! Issue 7 (hardening), part A: bad input at scale, signature V3 end to end, and the sandbox's
//! security defaults, each through the real binary or over real HTTP.
//!
//! Bounds are asserted as limits the loader enforces (file size, nodes, depth, steps, script
//! size, problems per file) and as a cap on address space (`ulimit -v`) for the process that
//! reads the input; the wall clock only detects a hang, with a generous cap, and is never a
//! speed assertion.

use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{Dir, Sandbox, bin, repo, run};

/// Address space the validating process may use: far above what any input here needs, far
/// below what an unbounded one would take.
const ADDRESS_SPACE_KIB: u64 = 1024 * 1024;

/// Only a hang detector: a debug build on a busy two-core machine stays well inside it.
const HANG: Duration = Duration::from_mins(3);

/// Runs `ecs-runbook validate --format json FILE` with at most [`ADDRESS_SPACE_KIB`] of
/// address space; returns the exit code and the JSON report.
fn validate_bounded(path: &Path) -> (i32, serde_json::Value) {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v {ADDRESS_SPACE_KIB} && exec \"$0\" validate --format json \"$1\""
        ))
        .arg(env!("CARGO_BIN_EXE_ecs-runbook"))
        .arg(path)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sh runs");
    let mut stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).expect("utf-8 report");
        text
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > HANG {
            let _ = child.kill();
            panic!("`validate {}` hung for {HANG:?}", path.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut stderr);
    }
    let text = reader.join().expect("reader");
    let code = status.code().unwrap_or_else(|| {
        panic!(
            "`validate {}` died of a signal (out of memory?): {status}\n{stderr}",
            path.display()
        )
    });
    let report =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}\n{stderr}"));
    (code, report)
}

/// `LINE:COL: MESSAGE` of every diagnostic in a one-file report; every one must be located.
fn located(report: &serde_json::Value) -> Vec<String> {
    report["files"][0]["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .map(|d| {
            let (Some(line), Some(column)) = (d["line"].as_u64(), d["column"].as_u64()) else {
                panic!("a diagnostic without line and column: {d}");
            };
            format!("{line}:{column}: {}", d["message"].as_str().unwrap_or(""))
        })
        .collect()
}

const HEAD: &str = "version: 1\nname: big\ntargets:\n  instances: [i-bp1aaaaaaaaaaaaaaaa1]\n";

/// `n` steps `s0..`, step `i` depending on `dep(i)` when it gives a name.
fn steps(n: usize, dep: impl Fn(usize) -> Option<String>) -> String {
    let mut text = format!("{HEAD}steps:\n");
    for i in 0..n {
        let _ = write!(text, "  - name: s{i}\n    script: echo {i}\n");
        if let Some(d) = dep(i) {
            let _ = writeln!(text, "    depends_on: [{d}]");
        }
    }
    text
}

/// One generated input and what its report must say: the exit code, how many diagnostics,
/// and the first ones, exactly.
struct Case {
    name: &'static str,
    text: Vec<u8>,
    code: i32,
    count: usize,
    first: &'static [&'static str],
}

#[expect(
    clippy::too_many_lines,
    reason = "a table of generated inputs, one entry each"
)]
fn generated_cases(dir: &Dir) -> Vec<Case> {
    let pipe = dir.path().join("pipe");
    let made = Command::new("mkfifo").arg(&pipe).status().expect("mkfifo");
    assert!(made.success());
    let script_file = |target: &Path| {
        format!(
            "{HEAD}steps:\n  - name: a\n    script_file: {}\n",
            target.display()
        )
        .into_bytes()
    };
    let comments = "# padding\n".repeat(500_000);
    let wide_alias = format!(
        "{HEAD}x-a: &a [{}]\nx-b: [{}]\nsteps:\n  - name: a\n    script: echo\n",
        vec!["x"; 1000].join(", "),
        vec!["*a"; 2000].join(", ")
    );
    let mut one_step_many_deps = format!("{HEAD}steps:\n  - name: a\n    script: echo\n");
    let _ = write!(
        one_step_many_deps,
        "  - name: b\n    script: echo\n    depends_on: [{}]\n",
        vec!["a"; 50_000].join(", ")
    );
    let unknown = steps(900, |i| {
        Some(
            (0..50)
                .map(|j| format!("x{i}-{j}"))
                .collect::<Vec<_>>()
                .join(", "),
        )
    });
    let undefined = format!(
        "{HEAD}steps:\n  - name: a\n    script: \"{}\"\n",
        (0..12_000)
            .map(|i| format!("{{{{ v{i} }}}}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    vec![
        Case {
            name: "cycle-10000.yaml",
            text: steps(10_000, |i| Some(format!("s{}", (i + 1) % 10_000))).into_bytes(),
            code: 2,
            count: 1,
            first: &[
                "8:18: dependency cycle `s0 -> s1 -> s2 -> s3 -> s4 -> s5 -> s6 -> s7 -> s8 -> s9 -> \
                 … 9980 more steps … -> s9990 -> s9991 -> s9992 -> s9993 -> s9994 -> s9995 -> \
                 s9996 -> s9997 -> s9998 -> s9999 -> s0`",
            ],
        },
        Case {
            name: "chain-10000.yaml",
            text: steps(10_000, |i| i.checked_sub(1).map(|d| format!("s{d}"))).into_bytes(),
            code: 0,
            count: 0,
            first: &[],
        },
        Case {
            name: "independent-50001.yaml",
            text: steps(50_001, |_| None).into_bytes(),
            code: 2,
            count: 1,
            first: &["100006:5: `steps` with `rollback` has more than 50000 entries"],
        },
        Case {
            name: "five-megabytes-of-comments.yaml",
            text: format!("{comments}{HEAD}steps:\n  - name: a\n    script: echo\n    retries: many\n")
                .into_bytes(),
            code: 2,
            count: 1,
            first: &[
                "500008:14: `retries` of step `a` must be an integer from 0 to 10, found `many`",
            ],
        },
        Case {
            name: "two-megabyte-line.yaml",
            text: format!(
                "{HEAD}description: {}\nsteps:\n  - name: a\n    script: echo\n    timeout: 5\n",
                "é".repeat(1_000_000)
            )
            .into_bytes(),
            code: 2,
            count: 1,
            first: &["9:14: timeout `5` is below the minimum of 10 seconds"],
        },
        Case {
            name: "six-megabyte-script.yaml",
            text: format!(
                "{HEAD}steps:\n  - name: a\n    script: |\n{}",
                "      echo 0123456789012345678901234567890123456789012345678901234567890123456789\n"
                    .repeat(80_000)
            )
            .into_bytes(),
            code: 2,
            count: 1,
            first: &["8:7: the script of step `a` is 6080000 bytes, more than the limit of 262144"],
        },
        Case {
            name: "seventeen-mebibytes.yaml",
            text: "# x\n".repeat(17 * 1024 * 1024 / 4).into_bytes(),
            code: 2,
            count: 1,
            first: &["1:1: the file is 17825792 bytes, more than the limit of 16777216"],
        },
        Case {
            name: "forty-thousand-duplicate-keys.yaml",
            text: format!(
                "{HEAD}steps:\n  - name: a\n{}",
                "    script: echo\n".repeat(40_000)
            )
            .into_bytes(),
            code: 2,
            count: 101,
            first: &["8:5: duplicate key `script`", "9:5: duplicate key `script`"],
        },
        Case {
            name: "one-hundred-thousand-brackets.yaml",
            text: format!("{HEAD}vars:\n  x: {}\n", "[".repeat(100_000)).into_bytes(),
            code: 2,
            count: 1,
            first: &["6:261: nesting is deeper than 64 levels"],
        },
        Case {
            name: "wide-alias.yaml",
            text: wide_alias.into_bytes(),
            code: 2,
            count: 1,
            first: &["6:3995: aliases expand to more than 1000000 nodes"],
        },
        Case {
            name: "fifty-thousand-repeated-dependencies.yaml",
            text: one_step_many_deps.into_bytes(),
            code: 2,
            count: 101,
            first: &["10:21: `depends_on` of step `b` lists `a` twice"],
        },
        Case {
            name: "forty-five-thousand-unknown-dependencies.yaml",
            text: unknown.into_bytes(),
            code: 2,
            count: 101,
            first: &["8:18: step `s0` depends on unknown step `x0-0`"],
        },
        Case {
            name: "twelve-thousand-undefined-variables.yaml",
            text: undefined.into_bytes(),
            code: 2,
            count: 64,
            first: &["7:17: step `a` uses undefined variable `v0`"],
        },
        Case {
            name: "script-file-dev-zero.yaml",
            text: script_file(Path::new("/dev/zero")),
            code: 2,
            count: 1,
            first: &["7:18: cannot read script file `/dev/zero`: not a regular file"],
        },
        Case {
            name: "script-file-fifo.yaml",
            text: script_file(&pipe),
            code: 2,
            count: 1,
            first: &[],
        },
    ]
}

/// Every generated input gives located diagnostics (or, at the step limit, a plan), inside
/// the address-space cap and without a hang: the 10,000-step cycle, multi-megabyte files, an
/// alias that expands past the node budget, 100,000 brackets, tens of thousands of repeated
/// keys and unknown names, scripts over the limit, and script files that are devices or pipes.
#[test]
fn generated_inputs_give_located_diagnostics_within_bounds() {
    let dir = Dir::new();
    let mut failures = Vec::new();
    for case in generated_cases(&dir) {
        let path = dir.path().join(case.name);
        std::fs::write(&path, &case.text).expect("write");
        let (code, report) = validate_bounded(&path);
        let lines = if code == 0 {
            Vec::new()
        } else {
            located(&report)
        };
        let prefix = format!("{}/", dir.path().display());
        let lines: Vec<String> = lines.iter().map(|l| l.replace(&prefix, "")).collect();
        let first: Vec<&str> = lines
            .iter()
            .take(case.first.len())
            .map(String::as_str)
            .collect();
        if code != case.code || lines.len() != case.count || first != case.first {
            failures.push(format!(
                "{}: exit {code}, {} diagnostics, first {first:#?}",
                case.name,
                lines.len()
            ));
        }
        if case.count > 100 {
            let last = lines.last().expect("a summary");
            assert!(last.contains("more problems not shown"), "{last}");
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A file cut anywhere, at every line of every runbook here and at every character of one,
/// loads or gives diagnostics that all have a place in the text, and planning what loads never
/// panics.
#[test]
fn every_prefix_of_a_real_runbook_loads_or_is_located() {
    use ecs_runbook::plan::{BuildOptions, build};
    use ecs_runbook::runbook::{VarOverrides, load_str};

    let mut sources: Vec<PathBuf> = Vec::new();
    for dir in ["runbooks", "tests/corpus/valid"] {
        for entry in std::fs::read_dir(repo().join(dir)).expect("a directory") {
            let path = entry.expect("an entry").path();
            if path.extension().is_some_and(|e| e == "yaml") {
                sources.push(path);
            }
        }
    }
    sources.sort();
    let mut checked = 0;
    for path in &sources {
        let text = std::fs::read_to_string(path).expect("a runbook");
        let every_char = path.ends_with("log-cleanup.yaml");
        let cuts: Vec<usize> = if every_char {
            text.char_indices().map(|(i, _)| i).collect()
        } else {
            text.match_indices('\n').map(|(i, _)| i + 1).collect()
        };
        for cut in cuts {
            let prefix = &text[..cut];
            let outcome =
                std::panic::catch_unwind(|| match load_str(path, prefix, &VarOverrides::new()) {
                    Ok(runbook) => {
                        let _ = build(&runbook, &BuildOptions::default());
                        Vec::new()
                    }
                    Err(all) => all
                        .errors
                        .iter()
                        .filter(|d| d.span().is_none_or(|s| s.offset() + s.len() > prefix.len()))
                        .map(ToString::to_string)
                        .collect(),
                });
            match outcome {
                Err(panic) => panic!("{} cut at byte {cut} panicked: {panic:?}", path.display()),
                Ok(unplaced) => assert!(
                    unplaced.is_empty(),
                    "{} cut at byte {cut}: not placed in the text: {unplaced:?}",
                    path.display()
                ),
            }
            checked += 1;
        }
    }
    assert!(checked > 1000, "{checked} prefixes");
}

/// `run --signature v3` against a separate sandbox process: every call is signed with V3,
/// and the run gives the same results as with V1; `ECS_RUNBOOK_SIGNATURE` picks it too.
#[test]
fn a_run_signed_with_v3_works_end_to_end() {
    for (args, env) in [(&["--signature", "v3"][..], None), (&[][..], Some("v3"))] {
        let sandbox = Sandbox::start();
        let mut cmd = sandbox.bin();
        cmd.current_dir(repo())
            .args(["run", "--yes", "runbooks/log-cleanup.yaml"])
            .args(args);
        if let Some(value) = env {
            cmd.env("ECS_RUNBOOK_SIGNATURE", value);
        }
        let out = run(&mut cmd);
        out.code(0);
        assert!(out.stdout.contains("run succeeded"), "{}", out.stdout);
        let stats = sandbox.stats();
        let total = sandbox.total_calls();
        assert!(total >= 10, "{stats}");
        assert_eq!(stats["signatures"]["V3"].as_u64(), Some(total), "{stats}");
        assert_eq!(stats["signatures"].get("V1"), None, "{stats}");
        for action in [
            "DescribeInstances",
            "DescribeCloudAssistantStatus",
            "CreateCommand",
            "InvokeCommand",
            "DescribeInvocations",
            "DescribeInvocationResults",
            "DeleteCommand",
        ] {
            assert!(sandbox.calls(action) >= 1, "{action}: {stats}");
        }
    }
    let out = run(bin().args(["plan", "--signature", "v2", "runbooks/echo-123.yaml"]));
    out.code(2);
    assert!(
        out.stderr.contains("possible values: v1, v3"),
        "{}",
        out.stderr
    );
}

/// The sandbox listens on loopback only unless told otherwise: with no `--listen` it binds
/// 127.0.0.1 (as the kernel's socket table shows), `--listen 0.0.0.0:0` is an input error
/// (exit 2) that says why, and `--allow-non-loopback` lets it bind the address it was given.
#[test]
fn the_sandbox_refuses_non_loopback_addresses_without_the_flag() {
    for addr in ["0.0.0.0:0", "[::]:0"] {
        let out = run(bin().args(["sandbox", "--listen", addr]));
        out.code(2);
        assert!(
            out.stderr
                .contains(&format!("refusing to listen on `{addr}`")),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr.contains("--allow-non-loopback"),
            "{}",
            out.stderr
        );
        assert!(out.stdout.is_empty(), "{}", out.stdout);
    }
    let cases: [(&[&str], &str); 2] = [
        (&[], "0100007F"),
        (
            &["--listen", "0.0.0.0:0", "--allow-non-loopback"],
            "00000000",
        ),
    ];
    for (args, bound) in cases {
        let mut child = bin()
            .arg("sandbox")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starts");
        let mut first = String::new();
        let mut stdout = child.stdout.take().expect("piped");
        let mut byte = [0u8; 1];
        while stdout.read(&mut byte).unwrap_or(0) == 1 && byte[0] != b'\n' {
            first.push(char::from(byte[0]));
        }
        let port = first
            .strip_prefix("sandbox listening on http://127.0.0.1:")
            .and_then(|p| p.parse::<u16>().ok());
        let listening = port.map(listening_ipv4);
        let _ = child.kill();
        let _ = child.wait();
        let port = port.unwrap_or_else(|| panic!("{args:?}: {first}"));
        assert_eq!(
            listening,
            Some(vec![bound.to_owned()]),
            "{args:?}: port {port}"
        );
    }
}

/// The local addresses (hex, as `/proc/net/tcp` writes them) of IPv4 sockets listening on
/// `port`.
fn listening_ipv4(port: u16) -> Vec<String> {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("the kernel's socket table");
    let wanted = format!("{port:04X}");
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let local = fields.nth(1)?;
            let state = fields.nth(1)?;
            let (ip, p) = local.split_once(':')?;
            (p == wanted && state == "0A").then(|| ip.to_owned())
        })
        .collect()
}

/// One raw HTTP/1.1 exchange with the sandbox: status and body.
fn exchange(
    sandbox: &Sandbox,
    request_target: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> (u16, String) {
    let host = sandbox.url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(host).expect("connect");
    let mut head =
        format!("POST {request_target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (name, value) in headers {
        let _ = write!(head, "{name}: {value}\r\n");
    }
    let _ = write!(head, "Content-Length: {}\r\n\r\n", body.len());
    stream.write_all(head.as_bytes()).expect("write");
    // The sandbox may answer before reading an oversized body; a reset while writing is fine.
    let _ = stream.write_all(body);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
    let body = response
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_owned());
    (status, body)
}

/// `/?<params>` of a V1-signed DescribeInstances with this timestamp and nonce.
fn signed_v1(timestamp: &str, nonce: &str) -> String {
    use ecs_runbook::cloud::sign::{self, SignInput};
    let params = sign::sign_request(
        &SignInput {
            method: "POST",
            action: "DescribeInstances",
            region: "cn-hangzhou",
            access_key_id: "sandbox",
            access_key_secret: "sandbox-secret",
            security_token: None,
            timestamp,
            nonce,
        },
        ecs_runbook::cloud::wire::Params::new(),
    );
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{}={}", sign::percent_encode(k), sign::percent_encode(v)))
        .collect();
    format!("/?{}", query.join("&"))
}

/// The headers of a V3-signed DescribeInstances with this date and nonce.
fn signed_v3(sandbox: &Sandbox, date: &str, nonce: &str) -> Vec<(String, String)> {
    use ecs_runbook::cloud::sign_v3;
    let query: ecs_runbook::cloud::wire::Params =
        [("RegionId".to_owned(), "cn-hangzhou".to_owned())]
            .into_iter()
            .collect();
    let host = sandbox.url.trim_start_matches("http://");
    sign_v3::sign_request(
        &sign_v3::SignInput {
            host,
            action: "DescribeInstances",
            access_key_id: "sandbox",
            access_key_secret: "sandbox-secret",
            security_token: None,
            date,
            nonce,
        },
        &query,
    )
    .into_iter()
    // `exchange` writes the `Host` header itself, with the same value.
    .filter(|(name, _)| name != "host")
    .collect()
}

/// The error code of a JSON or (before `Format` is read) XML error body.
fn code_of(body: &str) -> String {
    let xml = || {
        let start = body.find("<Code>")? + "<Code>".len();
        let end = body[start..].find("</Code>")?;
        Some(body[start..start + end].to_owned())
    };
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["Code"].as_str().map(str::to_owned))
        .or_else(xml)
        .unwrap_or_else(|| format!("<no code in {body:?}>"))
}

/// Over real HTTP to `ecs-runbook sandbox`: a request over the size bound is refused with
/// `RequestTooLarge` (413) before it is read; a nonce replayed inside the window is
/// `SignatureNonceUsed`, for V1 and V3; a timestamp outside the 15-minute window is
/// `InvalidTimeStamp.Expired`, for both.
#[test]
fn the_sandbox_bounds_requests_and_refuses_replays_and_stale_timestamps() {
    let sandbox = Sandbox::start();
    let now = chrono::Utc::now();
    let fresh = now.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let stale = (now - chrono::Duration::minutes(16))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let form = [(
        "Content-Type".to_owned(),
        "application/x-www-form-urlencoded".to_owned(),
    )];

    // Oversized: 200 KiB of form body, over the 128 KiB bound.
    let big = format!("Pad={}", "x".repeat(200 * 1024));
    let (status, body) = exchange(&sandbox, &signed_v1(&fresh, "big-1"), &form, big.as_bytes());
    assert_eq!(
        (status, code_of(&body)),
        (413, "RequestTooLarge".to_owned()),
        "{body}"
    );
    assert!(body.contains("131072 bytes"), "{body}");

    // V1: fresh works once, then the same nonce is a replay; a stale timestamp is expired.
    let once = signed_v1(&fresh, "replay-v1");
    let (status, body) = exchange(&sandbox, &once, &[], b"");
    assert_eq!(status, 200, "{body}");
    let (status, body) = exchange(&sandbox, &once, &[], b"");
    assert_eq!(
        (status, code_of(&body)),
        (400, "SignatureNonceUsed".to_owned())
    );
    let (status, body) = exchange(&sandbox, &signed_v1(&stale, "stale-v1"), &[], b"");
    assert_eq!(
        (status, code_of(&body)),
        (400, "InvalidTimeStamp.Expired".to_owned())
    );

    // V3: the same rules, with the date and nonce in signed headers.
    let target = "/?RegionId=cn-hangzhou";
    let headers = signed_v3(&sandbox, &fresh, "replay-v3");
    let (status, body) = exchange(&sandbox, target, &headers, b"");
    assert_eq!(status, 200, "{body}");
    let (status, body) = exchange(&sandbox, target, &headers, b"");
    assert_eq!(
        (status, code_of(&body)),
        (400, "SignatureNonceUsed".to_owned())
    );
    let headers = signed_v3(&sandbox, &stale, "stale-v3");
    let (status, body) = exchange(&sandbox, target, &headers, b"");
    assert_eq!(
        (status, code_of(&body)),
        (400, "InvalidTimeStamp.Expired".to_owned())
    );

    let counts = sandbox.stats();
    assert_eq!(counts["errors"]["SignatureNonceUsed"], 2, "{counts}");
    assert_eq!(counts["errors"]["InvalidTimeStamp.Expired"], 2, "{counts}");
    assert_eq!(counts["errors"]["RequestTooLarge"], 1, "{counts}");
    assert_eq!(counts["signatures"]["V1"], 1, "{counts}");
    assert_eq!(counts["signatures"]["V3"], 1, "{counts}");
}

/// `1,000,000`: a count with thousands separators, as the README writes them.
fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `16 MiB`, `256 KiB`: a whole number of binary units.
fn binary(bytes: usize) -> String {
    if bytes.is_multiple_of(1024 * 1024) {
        format!("{} MiB", bytes / (1024 * 1024))
    } else {
        assert!(bytes.is_multiple_of(1024), "{bytes}");
        format!("{} KiB", bytes / 1024)
    }
}

/// The limits table in the README's "Hardening" section states the values of the constants
/// the code enforces, row by row.
#[test]
fn readme_limits_are_the_code() {
    use ecs_runbook::plan::{calls, graph, guard};
    use ecs_runbook::runbook::{load, yaml};
    let limits = ecs_runbook::sandbox::Limits::default();
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    let section = readme
        .split("\n## Hardening\n")
        .nth(1)
        .and_then(|rest| rest.split("\n### Limits\n").nth(1))
        .and_then(|rest| rest.split("\n#").next())
        .expect("a Hardening section with a Limits table");
    let skew = limits.timestamp_skew.as_secs();
    assert_eq!(skew % 60, 0);
    let rows = [
        ("Runbook file size", binary(yaml::MAX_FILE_SIZE)),
        ("YAML nodes, aliases expanded", grouped(yaml::MAX_NODES)),
        ("YAML nesting depth", grouped(yaml::MAX_DEPTH)),
        (
            "Steps per file, `steps` and `rollback` together",
            grouped(load::MAX_STEPS),
        ),
        (
            "Script per step, inline or `script_file`",
            binary(load::MAX_SCRIPT_BYTES),
        ),
        ("Problems reported per file", grouped(load::MAX_DIAGNOSTICS)),
        (
            "Template nesting (blocks, brackets in one tag)",
            grouped(guard::MAX_NESTING),
        ),
        (
            "Nested `for` loops in a template",
            grouped(guard::MAX_LOOP_NESTING),
        ),
        (
            "Numbers one `range` gives",
            grouped(usize::try_from(guard::MAX_RANGE).expect("small")),
        ),
        (
            "Edges shown at each end of a long cycle",
            grouped(graph::CYCLE_SHOWN),
        ),
        (
            "CommandContent per step after Base64 (plan warning)",
            binary(calls::MAX_CONTENT_BYTES),
        ),
        (
            "Sandbox request, query string plus body",
            binary(limits.request_bytes),
        ),
        (
            "Sandbox `Timestamp` skew, and its nonce replay window",
            format!("{} minutes", skew / 60),
        ),
        ("Nonces the sandbox remembers", grouped(limits.nonces)),
    ];
    let table: Vec<&str> = section
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| Limit |"))
        .collect();
    for (what, value) in &rows {
        let row = format!("| {what} | {value} |");
        assert!(
            table.iter().any(|l| l.starts_with(&row)),
            "README: no row `{row}` in the Hardening limits table"
        );
    }
    assert_eq!(
        table.len(),
        rows.len(),
        "a row without a constant: {table:#?}"
    );
}
