//! End-to-end tests of the sandbox over real HTTP: the real `cloud::Client` for well-formed
//! calls, hand-signed raw requests (reqwest) for malformed ones.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::cloud::actions::{
    CreateCommand, DeleteCommand, DescribeCloudAssistantStatus, DescribeCommands,
    DescribeInstances, DescribeInvocationResults, DescribeInvocations, InstallCloudAssistant,
    InvocationResult, InvokeCommand, InvokeInstance, ModifyCommand, RunCommand, StartInstance,
    StopInvocation, TagFilter,
};
use crate::cloud::error::{CallError, TransportError};
use crate::cloud::id::{CommandId, InstanceId, InvokeId, RegionId};
use crate::cloud::sign::{self, SignInput};
use crate::cloud::status::{
    CommandType, ContentEncoding, InstanceInvocationStatus as S, InstanceStatus, InvocationStatus,
};
use crate::cloud::transport::{Client, ClientBuilder, RetryPolicy};
use crate::cloud::wire::Params;
use crate::sandbox::handlers::ACTIONS;
use crate::sandbox::{
    ActionFaults, AgentFault, DEFAULT_INSTANCE_IDS, Execution, FaultKind, Faults, Fleet,
    InstanceFaults, InstanceSpec, Limits, Os, RunningSandbox, SandboxConfig, Simulation, Timing,
    start,
};

const WEB1: &str = DEFAULT_INSTANCE_IDS[0];
const WEB2: &str = DEFAULT_INSTANCE_IDS[1];

async fn boot(config: SandboxConfig) -> (RunningSandbox, Client) {
    let sandbox = start(config).await.expect("sandbox starts");
    let client = client_for(&sandbox, 0);
    (sandbox, client)
}

fn client_for(sandbox: &RunningSandbox, retries: u32) -> Client {
    ClientBuilder::new(RegionId::new("cn-hangzhou"), sandbox.credential())
        .endpoint(sandbox.url())
        .retry(RetryPolicy {
            max_retries: retries,
            initial: Duration::from_millis(10),
            throttled_initial: Duration::from_millis(10),
            seed: Some(1),
        })
        .build()
}

fn fast() -> SandboxConfig {
    SandboxConfig {
        timing: Timing {
            delivery: Duration::from_millis(1),
            start_instance: Duration::from_millis(100),
            install_agent: Duration::from_millis(100),
            delivery_timeout: Duration::from_millis(100),
        },
        ..SandboxConfig::default()
    }
}

fn ids(list: &[&str]) -> Vec<InstanceId> {
    list.iter().map(|i| InstanceId::new(*i)).collect()
}

fn run_command(script: &str, instances: &[&str]) -> RunCommand {
    RunCommand {
        command_type: CommandType::RunShellScript,
        command_content: script.to_owned(),
        content_encoding: None,
        name: Some("test".into()),
        description: None,
        working_dir: None,
        timeout: Some(60),
        enable_parameter: None,
        keep_command: None,
        instance_ids: ids(instances),
        resource_tags: Vec::new(),
        repeat_mode: None,
        frequency: None,
        timed: None,
        parameters: None,
        username: None,
        termination_mode: None,
        launcher: None,
        container_id: None,
        container_name: None,
        client_token: None,
        tags: Vec::new(),
    }
}

fn create_command(content: &str) -> CreateCommand {
    CreateCommand {
        name: "test".into(),
        command_type: CommandType::RunShellScript,
        command_content: STANDARD.encode(content),
        content_encoding: None,
        description: Some("test".into()),
        working_dir: None,
        timeout: None,
        enable_parameter: None,
        launcher: None,
        client_token: None,
        tags: Vec::new(),
    }
}

fn code(err: &CallError) -> (String, u16) {
    match err {
        CallError::Api(api) => (api.code.to_string(), api.http_status),
        CallError::Transport(t) => (format!("transport: {t}"), 0),
    }
}

/// Polls until the task is no longer pending or running.
async fn wait_final(client: &Client, invoke_id: &InvokeId) -> Vec<InvokeInstance> {
    for _ in 0..400 {
        let resp = client
            .call(&DescribeInvocations {
                invoke_id: Some(invoke_id.clone()),
                include_output: Some(true),
                content_encoding: Some("PlainText".into()),
                ..DescribeInvocations::default()
            })
            .await
            .unwrap();
        let inv = &resp.invocations.invocation[0];
        if inv
            .invoke_instances
            .invoke_instance
            .iter()
            .all(|i| i.invocation_status.is_final())
        {
            return inv.invoke_instances.invoke_instance.clone();
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("task {invoke_id} did not finish");
}

async fn wait_status(client: &Client, invoke_id: &InvokeId, status: &S) -> InvokeInstance {
    for _ in 0..400 {
        let resp = client
            .call(&DescribeInvocations {
                invoke_id: Some(invoke_id.clone()),
                include_output: Some(true),
                content_encoding: Some("PlainText".into()),
                ..DescribeInvocations::default()
            })
            .await
            .unwrap();
        let first = resp.invocations.invocation[0]
            .invoke_instances
            .invoke_instance[0]
            .clone();
        if first.invocation_status == *status {
            return first;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("task {invoke_id} never reached {status}");
}

async fn results(client: &Client, invoke_id: &InvokeId) -> Vec<InvocationResult> {
    client
        .call(&DescribeInvocationResults {
            invoke_id: Some(invoke_id.clone()),
            ..DescribeInvocationResults::default()
        })
        .await
        .unwrap()
        .invocation
        .invocation_results
        .invocation_result
}

/// A hand-signed request: `overrides` replace or (with an empty value) remove common
/// parameters after signing when `after_signing` is set, else before.
struct Raw<'a> {
    method: &'a str,
    action: &'a str,
    params: &'a [(&'a str, &'a str)],
    secret: &'a str,
    key: &'a str,
    nonce: String,
    timestamp: String,
    format: Option<&'a str>,
}

impl<'a> Raw<'a> {
    fn new(action: &'a str, params: &'a [(&'a str, &'a str)]) -> Self {
        Self {
            method: "POST",
            action,
            params,
            secret: "sandbox-secret",
            key: "sandbox",
            nonce: format!("{:032x}", rand_u128()),
            timestamp: chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            format: Some("JSON"),
        }
    }

    fn signed(&self) -> Params {
        let params: Params = self
            .params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let mut signed = sign::sign_request(
            &SignInput {
                method: self.method,
                action: self.action,
                region: "cn-hangzhou",
                access_key_id: self.key,
                access_key_secret: self.secret,
                security_token: None,
                timestamp: &self.timestamp,
                nonce: &self.nonce,
            },
            params,
        );
        // `sign_request` always asks for JSON; re-sign with the format under test.
        match self.format {
            Some(format) => signed.insert("Format".into(), format.into()),
            None => signed.remove("Format"),
        };
        let sts = sign::string_to_sign(self.method, &signed);
        signed.insert("Signature".into(), sign::signature(self.secret, &sts));
        signed
    }
}

fn rand_u128() -> u128 {
    let mut j = crate::cloud::retry::Jitter::from_entropy();
    (u128::from(j.next_u64()) << 64) | u128::from(j.next_u64())
}

fn query_of(params: &Params) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", sign::percent_encode(k), sign::percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A plain HTTP client (reqwest is built without a bundled crypto provider).
fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

async fn send_raw(url: &str, method: &str, query: &str, body: Option<&str>) -> (u16, String) {
    let http = http();
    let url = format!("{url}/?{query}");
    let request = if method == "GET" {
        http.get(url)
    } else {
        let r = http.post(url);
        match body {
            Some(b) => r
                .header("content-type", "application/x-www-form-urlencoded")
                .body(b.to_owned()),
            None => r.header("content-length", "0"),
        }
    };
    let response = request.send().await.expect("sandbox answers");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

async fn raw_json(sandbox: &RunningSandbox, raw: &Raw<'_>) -> (u16, serde_json::Value) {
    let (status, body) = send_raw(&sandbox.url(), raw.method, &query_of(&raw.signed()), None).await;
    (
        status,
        serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body)),
    )
}

// ---------------------------------------------------------------------------------------

/// The seed flow: CreateCommand `echo 123` → InvokeCommand on two instances → poll →
/// DescribeInvocationResults → `123\n`.
#[tokio::test]
async fn seed_flow_runs_echo_on_two_instances() {
    let (sandbox, client) = boot(fast()).await;
    let created = client.call(&create_command("echo 123")).await.unwrap();
    let invoked = client
        .call(&InvokeCommand {
            command_id: created.command_id.clone(),
            instance_ids: ids(&[WEB1, WEB2]),
            timed: Some(false),
            ..InvokeCommand::default()
        })
        .await
        .unwrap();
    let instances = wait_final(&client, &invoked.invoke_id).await;
    assert_eq!(instances.len(), 2);
    for i in &instances {
        assert_eq!(i.invocation_status, S::Success);
        assert_eq!(i.exit_code, Some(0));
        assert_eq!(i.output.as_deref(), Some("123\n"));
        assert_eq!(i.instance_invoke_status, "Finished");
    }
    let results = results(&client, &invoked.invoke_id).await;
    assert_eq!(results.len(), 2);
    for r in &results {
        let output = STANDARD.decode(r.output.as_deref().unwrap()).unwrap();
        assert_eq!(output, b"123\n");
        assert_eq!(r.invoke_record_status, "Finished");
        assert!(!r.finished_time.is_empty());
    }
    let commands = client
        .call(&DescribeCommands {
            command_id: Some(created.command_id.clone()),
            ..DescribeCommands::default()
        })
        .await
        .unwrap();
    assert_eq!(commands.commands.command[0].invoke_times, 1);
    assert_eq!(
        commands.commands.command[0].command_content,
        STANDARD.encode("echo 123")
    );
    let stats = sandbox.stats();
    assert_eq!(stats.real_executions, 2);
    assert_eq!(stats.calls_of("CreateCommand"), 1);
    assert!(stats.executions.values().all(|c| c.real == 1));
    let agent = client
        .call(&DescribeCloudAssistantStatus {
            instance_ids: ids(&[WEB1]),
            ..DescribeCloudAssistantStatus::default()
        })
        .await
        .unwrap();
    let s = &agent.instance_cloud_assistant_status_set.items[0];
    assert_eq!(s.cloud_assistant_status, "true");
    assert_eq!(s.invocation_count, 1);
    assert!(!s.last_invoked_time.is_empty());
    // The script file is where the agent would put it, in the instance's directory.
    let script_dir = sandbox.root().join(WEB1).join("work").join("script");
    let name = format!("test-{}.sh", invoked.invoke_id);
    assert!(script_dir.join(name).is_file());
    sandbox.shutdown().await;
}

#[tokio::test]
async fn gateway_rejects_bad_signatures_timestamps_nonces_and_keys() {
    let (sandbox, _) = boot(fast()).await;
    let params: &[(&str, &str)] = &[("Description", "a b+c")];
    // Wrong secret: the message carries the server's string-to-sign after the first `:`.
    let mut raw = Raw::new("DescribeInstances", params);
    raw.secret = "wrong";
    let expected_sts = sign::string_to_sign("POST", &raw.signed());
    let (status, body) = raw_json(&sandbox, &raw).await;
    assert_eq!(status, 400);
    assert_eq!(body["Code"], "SignatureDoesNotMatch");
    let message = body["Message"].as_str().unwrap();
    assert_eq!(
        message.split_once(':').unwrap().1,
        expected_sts,
        "the Python SDK compares this with its own string-to-sign"
    );
    assert!(message.starts_with("Specified signature is not matched with our calculation."));
    for key in ["RequestId", "HostId", "Recommend"] {
        assert!(
            body[key].as_str().is_some_and(|v| !v.is_empty()),
            "{key}: {body}"
        );
    }

    let cases: Vec<(Raw<'_>, &str, u16)> = vec![
        {
            let mut r = Raw::new("DescribeInstances", params);
            r.timestamp = (chrono::Utc::now() - chrono::Duration::minutes(16))
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string();
            (r, "InvalidTimeStamp.Expired", 400)
        },
        {
            let mut r = Raw::new("DescribeInstances", params);
            r.timestamp = "2024-05-01 08:30:00".into();
            (r, "InvalidTimeStamp.Format", 400)
        },
        {
            let mut r = Raw::new("DescribeInstances", params);
            r.timestamp = String::new();
            (r, "IllegalTimestamp", 400)
        },
        {
            let mut r = Raw::new("DescribeInstances", params);
            r.key = "nobody";
            (r, "InvalidAccessKeyId.NotFound", 404)
        },
        (
            Raw::new("DescribeNothing", params),
            "InvalidApi.NotFound",
            404,
        ),
        {
            let mut r = Raw::new("DescribeInstances", params);
            r.format = Some("yaml");
            (r, "InvalidParameter.Format", 400)
        },
    ];
    for (raw, expected, http) in cases {
        let (status, body) = raw_json(&sandbox, &raw).await;
        let body = if raw.format == Some("yaml") {
            // Rendered as XML, the default format.
            serde_json::json!({"Code": if body.as_str().unwrap().contains("<Code>InvalidParameter.Format</Code>") {"InvalidParameter.Format"} else {"?"}})
        } else {
            body
        };
        assert_eq!(
            (status, body["Code"].as_str().unwrap()),
            (http, expected),
            "{expected}"
        );
    }

    // A nonce works once.
    let raw = Raw::new("DescribeInstances", params);
    let (status, body) = raw_json(&sandbox, &raw).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = raw_json(&sandbox, &raw).await;
    assert_eq!(
        (status, body["Code"].as_str().unwrap()),
        (400, "SignatureNonceUsed")
    );
    assert_eq!(sandbox.stats().errors["SignatureNonceUsed"], 1);
    sandbox.shutdown().await;
}

/// Case B03: `InstanceId.10` sorts before `InstanceId.2`. The byte-order signature passes
/// the gateway (the call then fails on the unknown command), the numeric-order one does not.
#[tokio::test]
async fn b03_numerically_sorted_signature_is_rejected() {
    let mut fleet = Fleet::default();
    for i in 1..=12 {
        fleet
            .instances
            .push(InstanceSpec::new(format!("i-placeholder{i:02}")));
    }
    let config = SandboxConfig {
        access_key_id: "testid".into(),
        access_key_secret: "testsecret".into(),
        fleet,
        limits: Limits {
            timestamp_skew: Duration::from_hours(100 * 365 * 24),
            ..Limits::default()
        },
        ..fast()
    };
    let sandbox = start(config).await.unwrap();
    let mut params: Params = [
        ("AccessKeyId", "testid"),
        ("Action", "InvokeCommand"),
        ("Format", "JSON"),
        ("RegionId", "cn-hangzhou"),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"),
        ("SignatureVersion", "1.0"),
        ("Timestamp", "2025-06-01T12:00:00Z"),
        ("Version", "2014-05-26"),
        ("CommandId", "c-placeholder01"),
        ("ClientToken", "rb-demo-step2-attempt-0001"),
        ("Timeout", "600"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for i in 1..=12 {
        params.insert(format!("InstanceId.{i}"), format!("i-placeholder{i:02}"));
    }
    let mut numeric = params.clone();
    numeric.insert("Signature".into(), "xSimNLCgPYgqbEaLWSex6mV8kW4=".into());
    let (status, body) = send_raw(&sandbox.url(), "GET", &query_of(&numeric), None).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("SignatureDoesNotMatch"), "{body}");
    params.insert("Signature".into(), "7bilK1JVCPSSmawH9MpjOu2OrHI=".into());
    let (status, body) = send_raw(&sandbox.url(), "GET", &query_of(&params), None).await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("InvalidCmdId.NotFound"), "{body}");
    sandbox.shutdown().await;
}

/// Case B03: 23 instances tagged env=prod page as 10, 10, 3 with NextToken and TotalCount 0.
#[tokio::test]
async fn b03_describe_instances_pages_with_next_token() {
    let mut fleet = Fleet::default();
    for i in 1..=23 {
        let mut spec = InstanceSpec::new(format!("i-placeholder{i:02}"));
        spec.tags.insert("env".into(), "prod".into());
        fleet.instances.push(spec);
    }
    fleet
        .instances
        .push(InstanceSpec::new("i-untagged000000000001"));
    let (sandbox, client) = boot(SandboxConfig { fleet, ..fast() }).await;
    let mut token: Option<String> = None;
    let mut pages = Vec::new();
    let mut seen = Vec::new();
    loop {
        let resp = client
            .call(&DescribeInstances {
                tags: vec![TagFilter {
                    key: "env".into(),
                    value: Some("prod".into()),
                }],
                next_token: token.clone(),
                ..DescribeInstances::default()
            })
            .await
            .unwrap();
        assert_eq!(resp.total_count, 0);
        pages.push(resp.instances.instance.len());
        seen.extend(
            resp.instances
                .instance
                .iter()
                .map(|i| i.instance_id.to_string()),
        );
        if resp.next_token.is_empty() {
            break;
        }
        token = Some(resp.next_token);
    }
    assert_eq!(pages, [10, 10, 3]);
    let expected: Vec<String> = (1..=23).map(|i| format!("i-placeholder{i:02}")).collect();
    assert_eq!(seen, expected);
    // Page mode still counts.
    let resp = client
        .call(&DescribeInstances {
            page_number: Some(3),
            page_size: Some(10),
            ..DescribeInstances::default()
        })
        .await
        .unwrap();
    assert_eq!((resp.total_count, resp.instances.instance.len()), (24, 4));
    // Above the maximum is rejected, not paged.
    let err = client
        .call(&DescribeInvocations {
            max_results: Some(51),
            ..DescribeInvocations::default()
        })
        .await
        .unwrap_err();
    assert_eq!(code(&err).0, "InvalidParameter.MaxResults");
    assert_eq!(sandbox.stats().calls_of("DescribeInstances"), 4);
    sandbox.shutdown().await;
}

#[tokio::test]
#[expect(clippy::too_many_lines, reason = "one table of cases")]
async fn invoke_limits_and_preconditions() {
    let mut fleet = Fleet::default_fleet();
    let mut stopped = InstanceSpec::new("i-stopped000000000001");
    stopped.status = InstanceStatus::Stopped;
    let mut no_agent = InstanceSpec::new("i-noagent000000000001");
    no_agent.agent.installed = false;
    fleet.instances.extend([stopped, no_agent]);
    let (sandbox, client) = boot(SandboxConfig { fleet, ..fast() }).await;
    let command = client
        .call(&create_command("true"))
        .await
        .unwrap()
        .command_id;
    let invoke = |instances: Vec<InstanceId>| InvokeCommand {
        command_id: command.clone(),
        instance_ids: instances,
        ..InvokeCommand::default()
    };
    let many: Vec<InstanceId> = (0..101)
        .map(|i| InstanceId::new(format!("i-x{i}")))
        .collect();
    let cases: Vec<(InvokeCommand, &str, u16)> = vec![
        (invoke(many), "InstanceIds.ExceedLimit", 403),
        (invoke(ids(&["i-nope"])), "InvalidInstance.NotFound", 404),
        (
            invoke(ids(&[WEB1, "i-stopped000000000001"])),
            "InvalidInstance.NotMatch",
            400,
        ),
        (
            invoke(ids(&["i-noagent000000000001"])),
            "InvalidInstance.NotMatch",
            400,
        ),
        (invoke(Vec::new()), "MissingParam.InstanceId", 400),
        (
            InvokeCommand {
                timeout: Some(5),
                ..invoke(ids(&[WEB1]))
            },
            "InvalidParam.Timeout",
            400,
        ),
        (
            InvokeCommand {
                repeat_mode: Some(crate::cloud::status::RepeatMode::Period),
                ..invoke(ids(&[WEB1]))
            },
            "MissingParam.Frequency",
            400,
        ),
        (
            InvokeCommand {
                resource_tags: vec![TagFilter {
                    key: "role".into(),
                    value: Some("web".into()),
                }],
                ..invoke(ids(&[WEB1]))
            },
            "InvalidResourceTag.ConflictWithInstanceIds",
            400,
        ),
        (
            InvokeCommand {
                resource_tags: vec![TagFilter {
                    key: "role".into(),
                    value: Some("cache".into()),
                }],
                ..invoke(Vec::new())
            },
            "InvalidResourceTag.InstanceNotFound",
            400,
        ),
        (
            InvokeCommand {
                parameters: Some(r#"{"a":"b"}"#.into()),
                ..invoke(ids(&[WEB1]))
            },
            "Parameter.Disabled",
            400,
        ),
        (
            InvokeCommand {
                command_id: CommandId::new("c-missing"),
                ..invoke(ids(&[WEB1]))
            },
            "InvalidCmdId.NotFound",
            404,
        ),
        (
            InvokeCommand {
                client_token: Some("é".into()),
                ..invoke(ids(&[WEB1]))
            },
            "InvalidClientToken.Malformed",
            400,
        ),
    ];
    for (request, expected, http) in cases {
        let err = client.call(&request).await.unwrap_err();
        assert_eq!(code(&err), (expected.to_owned(), http), "{expected}");
    }
    // Selecting by tag works and runs on both web instances.
    let by_tag = client
        .call(&InvokeCommand {
            resource_tags: vec![TagFilter {
                key: "role".into(),
                value: Some("web".into()),
            }],
            ..invoke(Vec::new())
        })
        .await
        .unwrap();
    assert_eq!(wait_final(&client, &by_tag.invoke_id).await.len(), 2);
    // Nothing above was executed.
    assert_eq!(sandbox.stats().real_executions, 2);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn create_command_limits_and_encodings() {
    let config = SandboxConfig {
        limits: Limits {
            commands: 4,
            ..Limits::default()
        },
        ..fast()
    };
    let (sandbox, client) = boot(config).await;
    // The largest allowed script: 24 KiB after Base64, sent in the query as the SDKs do.
    let max = "#".repeat(24 * 1024 / 4 * 3);
    assert_eq!(STANDARD.encode(&max).len(), 24 * 1024);
    client.call(&create_command(&max)).await.unwrap();
    // Binary content: `+` and `/` percent-encode to three bytes each in the URL.
    let mut jitter = crate::cloud::retry::Jitter::seeded(3);
    let binary: Vec<u8> = (0..24 * 1024 / 4 * 3)
        .map(|_| u8::try_from(jitter.below(256)).unwrap())
        .collect();
    client
        .call(&CreateCommand {
            command_content: STANDARD.encode(&binary),
            ..create_command("")
        })
        .await
        .unwrap();
    let over = format!("{max}#");
    let cases: Vec<(CreateCommand, &str, u16)> = vec![
        (create_command(&over), "CmdContent.ExceedLimit", 403),
        (
            CreateCommand {
                command_content: "not base64!".into(),
                ..create_command("")
            },
            "CmdContent.DecodeError",
            400,
        ),
        (
            CreateCommand {
                command_type: CommandType::Unknown("RunPython".into()),
                ..create_command("x")
            },
            "InvalidCmdType.NotFound",
            404,
        ),
        (
            CreateCommand {
                name: "n".repeat(129),
                ..create_command("x")
            },
            "CmdName.ExceedLimit",
            403,
        ),
    ];
    for (request, expected, http) in cases {
        let err = client.call(&request).await.unwrap_err();
        assert_eq!(code(&err), (expected.to_owned(), http), "{expected}");
    }
    // PlainText content and the retained-commands quota.
    let plain = client
        .call(&CreateCommand {
            command_content: "echo plain".into(),
            content_encoding: Some(ContentEncoding::PlainText),
            ..create_command("")
        })
        .await
        .unwrap();
    client.call(&create_command("x")).await.unwrap();
    let err = client.call(&create_command("y")).await.unwrap_err();
    assert_eq!(code(&err), ("CmdCount.ExceedQuota".into(), 403));
    let listed = client
        .call(&DescribeCommands {
            command_id: Some(plain.command_id.clone()),
            content_encoding: Some("PlainText".into()),
            ..DescribeCommands::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.commands.command[0].command_content, "echo plain");
    client
        .call(&DeleteCommand {
            command_id: plain.command_id.clone(),
        })
        .await
        .unwrap();
    let err = client
        .call(&DeleteCommand {
            command_id: plain.command_id,
        })
        .await
        .unwrap_err();
    assert_eq!(code(&err), ("InvalidCmdId.NotFound".into(), 404));
    client.call(&create_command("z")).await.unwrap();
    sandbox.shutdown().await;
}

/// ModifyCommand changes only what it names, checks the limits CreateCommand checks, and
/// answers `InvalidCmdId.NotFound` for a command that is gone or in another region.
#[tokio::test]
async fn modify_command_changes_named_fields_within_limits() {
    let (sandbox, client) = boot(fast()).await;
    let id = client
        .call(&create_command("echo keep"))
        .await
        .unwrap()
        .command_id;
    client
        .call(&ModifyCommand {
            command_id: id.clone(),
            description: Some("changed".into()),
            working_dir: Some("/srv".into()),
            ..ModifyCommand::default()
        })
        .await
        .unwrap();
    let listed = client
        .call(&DescribeCommands {
            command_id: Some(id.clone()),
            content_encoding: Some("PlainText".into()),
            ..DescribeCommands::default()
        })
        .await
        .unwrap();
    let command = &listed.commands.command[0];
    assert_eq!(command.description, "changed");
    assert_eq!(command.working_dir, "/srv");
    assert_eq!(command.timeout, 60, "untouched");
    assert_eq!(command.command_content, "echo keep");
    let cases = [
        (
            ModifyCommand {
                command_id: id.clone(),
                name: Some("n".repeat(129)),
                ..ModifyCommand::default()
            },
            "CmdName.ExceedLimit",
            403,
        ),
        (
            ModifyCommand {
                command_id: id.clone(),
                timeout: Some(86_401),
                ..ModifyCommand::default()
            },
            "InvalidTimeout.ExceedLimit",
            403,
        ),
        (
            ModifyCommand {
                command_id: CommandId::new("c-gone"),
                name: Some("x".into()),
                ..ModifyCommand::default()
            },
            "InvalidCmdId.NotFound",
            404,
        ),
    ];
    for (request, expected, http) in cases {
        let err = client.call(&request).await.unwrap_err();
        assert_eq!(code(&err), (expected.to_owned(), http), "{expected}");
    }
    sandbox.shutdown().await;
}

#[tokio::test]
async fn client_token_makes_invoke_idempotent() {
    let (sandbox, client) = boot(fast()).await;
    let command = client
        .call(&create_command("echo once"))
        .await
        .unwrap()
        .command_id;
    let request = InvokeCommand {
        command_id: command.clone(),
        instance_ids: ids(&[WEB1]),
        client_token: Some("runbook-42-step-3".into()),
        ..InvokeCommand::default()
    };
    let first = client.call(&request).await.unwrap();
    let again = client.call(&request).await.unwrap();
    assert_eq!(first.invoke_id, again.invoke_id);
    assert_ne!(first.request_id, again.request_id);
    let err = client
        .call(&InvokeCommand {
            instance_ids: ids(&[WEB2]),
            ..request.clone()
        })
        .await
        .unwrap_err();
    assert_eq!(code(&err), ("IdempotentParameterMismatch".into(), 403));
    wait_final(&client, &first.invoke_id).await;
    let stats = sandbox.stats();
    assert_eq!(stats.real_executions, 1);
    assert_eq!(stats.executions.len(), 1);

    // A connection dropped after the invoke took effect: the client's retry carries the same
    // token and gets the same task, which ran once.
    sandbox.set_faults(Faults {
        actions: vec![ActionFaults {
            action: "InvokeCommand".into(),
            sequence: vec![FaultKind::DropAfter],
            ..ActionFaults::default()
        }],
        ..Faults::default()
    });
    let retrying = client_for(&sandbox, 3);
    let token_request = InvokeCommand {
        client_token: Some("after-drop".into()),
        ..request.clone()
    };
    let invoked = retrying.call(&token_request).await.unwrap();
    wait_final(&client, &invoked.invoke_id).await;
    let stats = sandbox.stats();
    assert_eq!(stats.faults["InvokeCommand:drop_after"], 1);
    assert_eq!(stats.calls_of("InvokeCommand"), 5);
    let key = format!("{}/{WEB1}/1", invoked.invoke_id);
    assert_eq!(stats.executions[&key].real, 1);
    assert_eq!(stats.real_executions, 2);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn faults_throttle_errors_and_dropped_connections() {
    let faults = Faults {
        seed: 7,
        actions: vec![ActionFaults {
            action: "DescribeInstances".into(),
            sequence: vec![
                FaultKind::Throttle,
                FaultKind::Unavailable,
                FaultKind::InternalError,
                FaultKind::DropBefore,
                FaultKind::Ok,
            ],
            latency: crate::sandbox::Delay(Duration::from_millis(20)),
            ..ActionFaults::default()
        }],
        instances: Vec::new(),
    };
    let (sandbox, client) = boot(SandboxConfig { faults, ..fast() }).await;
    let request = DescribeInstances::default();
    let call = || client.call(&request);
    assert_eq!(
        code(&call().await.unwrap_err()),
        ("Throttling.User".into(), 400)
    );
    assert_eq!(
        code(&call().await.unwrap_err()),
        ("ServiceUnavailable".into(), 503)
    );
    assert_eq!(
        code(&call().await.unwrap_err()),
        ("InternalError".into(), 500)
    );
    let dropped = call().await.unwrap_err();
    assert!(
        matches!(
            dropped,
            CallError::Transport(TransportError::Connect { .. })
        ),
        "{dropped:?}"
    );
    let started = std::time::Instant::now();
    assert_eq!(call().await.unwrap().instances.instance.len(), 3);
    assert!(started.elapsed() >= Duration::from_millis(20));
    let stats = sandbox.stats();
    assert_eq!(stats.calls_of("DescribeInstances"), 5);
    assert_eq!(stats.faults.len(), 4);
    // A retrying client gets through a throttled read.
    sandbox.set_faults(Faults {
        actions: vec![ActionFaults {
            sequence: vec![FaultKind::Throttle, FaultKind::Unavailable],
            ..ActionFaults::default()
        }],
        ..Faults::default()
    });
    client_for(&sandbox, 3)
        .call(&DescribeInstances::default())
        .await
        .unwrap();
    sandbox.shutdown().await;
}

/// One row of `run_outcomes_exit_codes_timeouts_and_pre_checks`.
struct Case {
    request: RunCommand,
    status: S,
    error_code: &'static str,
    exit_code: Option<i64>,
    record: &'static str,
}

#[tokio::test]
async fn run_outcomes_exit_codes_timeouts_and_pre_checks() {
    let (sandbox, client) = boot(fast()).await;
    let base = |script: &str| run_command(script, &[WEB1]);
    let cases = [
        Case {
            request: base("echo out; exit 3"),
            status: S::Failed,
            error_code: "ExitCodeNonzero",
            exit_code: Some(3),
            record: "Finished",
        },
        Case {
            request: RunCommand {
                timeout: Some(1),
                ..base("sleep 30")
            },
            status: S::Timeout,
            error_code: "ExecutionTimeout",
            exit_code: Some(1),
            record: "Failed",
        },
        Case {
            request: RunCommand {
                working_dir: Some("/srv/missing".into()),
                ..base("true")
            },
            status: S::Invalid,
            error_code: "DirectoryNotExists",
            exit_code: None,
            record: "Failed",
        },
        Case {
            request: RunCommand {
                username: Some("nobody".into()),
                ..base("true")
            },
            status: S::Invalid,
            error_code: "AccountNotExists",
            exit_code: None,
            record: "Failed",
        },
        Case {
            request: RunCommand {
                command_type: CommandType::RunPowerShellScript,
                ..base("Write-Output hi")
            },
            status: S::Invalid,
            error_code: "CommandNotApplicable",
            exit_code: None,
            record: "Failed",
        },
        Case {
            request: RunCommand {
                enable_parameter: Some(true),
                ..base("echo {{ACS::Nope}}")
            },
            status: S::Invalid,
            error_code: "InvalidEnvironmentParameter",
            exit_code: None,
            record: "Failed",
        },
        Case {
            request: RunCommand {
                working_dir: Some("/var/log".into()),
                username: Some("admin".into()),
                ..base("pwd; echo $HOME")
            },
            status: S::Success,
            error_code: "",
            exit_code: Some(0),
            record: "Finished",
        },
    ];
    for case in cases {
        let run = client.call(&case.request).await.unwrap();
        let instance = &wait_final(&client, &run.invoke_id).await[0];
        let what = &case.request.command_content;
        assert_eq!(instance.invocation_status, case.status, "{what}");
        assert_eq!(instance.error_code, case.error_code, "{what}");
        assert_eq!(instance.exit_code, case.exit_code, "{what}");
        let record = &results(&client, &run.invoke_id).await[0];
        assert_eq!(record.invoke_record_status, case.record, "{what}");
        if case.status == S::Success {
            let fs = sandbox.instance_fs(WEB1);
            let expected = format!(
                "{}\n{}\n",
                fs.join("var/log").canonicalize().unwrap().display(),
                fs.join("home/admin").display()
            );
            assert_eq!(instance.output.as_deref(), Some(expected.as_str()));
        }
    }
    sandbox.shutdown().await;
}

#[tokio::test]
async fn partial_failure_aggregates_and_parameters_substitute() {
    let (sandbox, client) = boot(fast()).await;
    // Values are not shell-quoted (reference §8), so the script quotes them.
    let script = "echo {{ACS::InstanceName}} \"{{ who }}\"\nif [ {{ACS::InstanceName}} = web-01 ]; then exit 1; fi";
    let run = client
        .call(&RunCommand {
            enable_parameter: Some(true),
            parameters: Some(r#"{"who":"Jack O'Neil"}"#.into()),
            ..run_command(script, &[WEB1, WEB2])
        })
        .await
        .unwrap();
    let instances = wait_final(&client, &run.invoke_id).await;
    let by_id: BTreeMap<String, &InvokeInstance> = instances
        .iter()
        .map(|i| (i.instance_id.to_string(), i))
        .collect();
    assert_eq!(by_id[WEB1].invocation_status, S::Failed);
    assert_eq!(by_id[WEB1].output.as_deref(), Some("web-01 Jack O'Neil\n"));
    assert_eq!(by_id[WEB2].invocation_status, S::Success);
    let resp = client
        .call(&DescribeInvocations {
            invoke_id: Some(run.invoke_id.clone()),
            content_encoding: Some("PlainText".into()),
            ..DescribeInvocations::default()
        })
        .await
        .unwrap();
    let inv = &resp.invocations.invocation[0];
    assert_eq!(inv.invocation_status, InvocationStatus::PartialFailed);
    assert_eq!(inv.invoke_status, "PartialFailed");
    assert_eq!(inv.parameters, r#"{"who":"Jack O'Neil"}"#);
    assert_eq!(inv.command_content, script);
    // Without IncludeOutput, Output is absent (case B04 a).
    assert!(
        inv.invoke_instances
            .invoke_instance
            .iter()
            .all(|i| i.output.is_none())
    );
    // KeepCommand=false: the command is gone after the run.
    let listed = client.call(&DescribeCommands::default()).await.unwrap();
    assert!(listed.commands.command.is_empty(), "{listed:?}");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn stop_invocation_kills_a_running_script_and_output_streams() {
    let (sandbox, client) = boot(fast()).await;
    let run = client
        .call(&run_command("echo started; sleep 30; echo never", &[WEB1]))
        .await
        .unwrap();
    // Partial output is visible while the script runs.
    let running = wait_status(&client, &run.invoke_id, &S::Running).await;
    let mut output = running.output.clone().unwrap_or_default();
    for _ in 0..100 {
        if output == "started\n" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        output = wait_status(&client, &run.invoke_id, &S::Running)
            .await
            .output
            .unwrap_or_default();
    }
    assert_eq!(output, "started\n");
    client
        .call(&StopInvocation {
            invoke_id: run.invoke_id.clone(),
            instance_ids: Vec::new(),
        })
        .await
        .unwrap();
    let instance = &wait_final(&client, &run.invoke_id).await[0];
    assert_eq!(instance.invocation_status, S::Terminated);
    assert!(!instance.stop_time.is_empty());
    let resp = client
        .call(&DescribeInvocations {
            invoke_id: Some(run.invoke_id.clone()),
            ..DescribeInvocations::default()
        })
        .await
        .unwrap();
    assert_eq!(
        resp.invocations.invocation[0].invocation_status,
        InvocationStatus::Stopped
    );
    assert_eq!(resp.invocations.invocation[0].invoke_status, "Stopped");
    let err = client
        .call(&StopInvocation {
            invoke_id: InvokeId::new("t-nope"),
            instance_ids: Vec::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(code(&err), ("InvalidInvokeId.NotFound".into(), 404));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn output_is_capped_with_head_and_tail() {
    let config = SandboxConfig {
        limits: Limits {
            output_bytes: 1024,
            ..Limits::default()
        },
        ..fast()
    };
    let (sandbox, client) = boot(config).await;
    let run = client
        .call(&run_command(
            "printf 'HEAD'; head -c 5000 /dev/zero | tr '\\0' m; printf 'TAIL'",
            &[WEB1],
        ))
        .await
        .unwrap();
    let instance = &wait_final(&client, &run.invoke_id).await[0];
    let output = instance.output.as_deref().unwrap();
    assert_eq!(output.len(), 1024);
    assert!(
        output.starts_with("HEADmmm") && output.ends_with("mmmTAIL"),
        "{output}"
    );
    assert_eq!(instance.dropped, 5008 - 1024);
    sandbox.shutdown().await;
}

#[tokio::test]
#[expect(
    clippy::too_many_lines,
    reason = "one fleet, four fault scenarios in turn"
)]
async fn simulated_instances_and_agent_faults() {
    let mut fleet = Fleet::default_fleet();
    let mut win = InstanceSpec::new("i-windows000000000001");
    win.os = Os::Windows;
    // Case B04: the GBK bytes of `开始安装...\r\n安装完成 exit=0\r\n`.
    win.execution = Execution::Simulated(Simulation {
        exit_code: 0,
        output: String::new(),
        output_base64: Some("v6rKvLCy17AuLi4NCrCy17DN6rPJIGV4aXQ9MA0K".into()),
        duration: crate::sandbox::Delay(Duration::from_millis(50)),
        dropped: 0,
    });
    let down = InstanceSpec::new("i-agentdown0000000001");
    let stops = InstanceSpec::new("i-stopsmidrun00000001");
    let hangs = InstanceSpec::new("i-agenthang000000001");
    fleet.instances.extend([win, down, stops, hangs]);
    let faults = Faults {
        seed: 0,
        actions: Vec::new(),
        instances: vec![
            InstanceFaults {
                instances: vec!["i-agentdown0000000001".into()],
                agent: Some(AgentFault::Down),
                stop_after: None,
            },
            InstanceFaults {
                instances: vec!["i-stopsmidrun00000001".into()],
                agent: None,
                stop_after: Some(crate::sandbox::Delay(Duration::from_millis(200))),
            },
            InstanceFaults {
                instances: vec!["i-agenthang000000001".into()],
                agent: Some(AgentFault::Hang),
                stop_after: None,
            },
        ],
    };
    let (sandbox, client) = boot(SandboxConfig {
        fleet,
        faults,
        ..fast()
    })
    .await;
    // Windows: simulated result, output bytes kept exactly.
    let bat = client
        .call(&RunCommand {
            command_type: CommandType::RunBatScript,
            ..run_command(r"call C:\setup\install.bat", &["i-windows000000000001"])
        })
        .await
        .unwrap();
    wait_final(&client, &bat.invoke_id).await;
    let record = &results(&client, &bat.invoke_id).await[0];
    assert_eq!(record.invocation_status, S::Success);
    assert_eq!(
        record.output.as_deref(),
        Some("v6rKvLCy17AuLi4NCrCy17DN6rPJIGV4aXQ9MA0K")
    );
    assert_eq!(record.username, "System");
    assert_eq!(sandbox.stats().simulated_executions, 1);

    // Agent down: status "false", the task aborts.
    let status = client
        .call(&DescribeCloudAssistantStatus {
            instance_ids: ids(&["i-agentdown0000000001"]),
            ..DescribeCloudAssistantStatus::default()
        })
        .await
        .unwrap();
    assert_eq!(
        status.instance_cloud_assistant_status_set.items[0].cloud_assistant_status,
        "false"
    );
    let run = client
        .call(&run_command("true", &["i-agentdown0000000001"]))
        .await
        .unwrap();
    let instance = &wait_final(&client, &run.invoke_id).await[0];
    assert_eq!(
        (
            instance.invocation_status.clone(),
            instance.error_code.as_str()
        ),
        (S::Aborted, "ClientNotRunning")
    );

    // The instance stops mid-run: the script is killed and the instance is Stopped; it can
    // be started again.
    let run = client
        .call(&run_command("sleep 30", &["i-stopsmidrun00000001"]))
        .await
        .unwrap();
    let instance = &wait_final(&client, &run.invoke_id).await[0];
    assert_eq!(
        (
            instance.invocation_status.clone(),
            instance.error_code.as_str()
        ),
        (S::Aborted, "InstanceNotRunning")
    );
    let describe_request = DescribeInstances {
        instance_ids: Some(r#"["i-stopsmidrun00000001"]"#.into()),
        ..DescribeInstances::default()
    };
    let describe = || client.call(&describe_request);
    assert_eq!(
        describe().await.unwrap().instances.instance[0].status,
        InstanceStatus::Stopped
    );
    let start_request = StartInstance {
        instance_id: InstanceId::new("i-stopsmidrun00000001"),
    };
    client.call(&start_request).await.unwrap();
    assert_eq!(
        describe().await.unwrap().instances.instance[0].status,
        InstanceStatus::Starting
    );
    let err = client.call(&start_request).await.unwrap_err();
    assert_eq!(code(&err), ("IncorrectInstanceStatus".into(), 403));
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(
        describe().await.unwrap().instances.instance[0].status,
        InstanceStatus::Running
    );

    // A hanging agent keeps the task Running until it is stopped (case B07 scenario A).
    let run = client
        .call(&run_command("true", &["i-agenthang000000001"]))
        .await
        .unwrap();
    wait_status(&client, &run.invoke_id, &S::Running).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    wait_status(&client, &run.invoke_id, &S::Running).await;
    client
        .call(&StopInvocation {
            invoke_id: run.invoke_id.clone(),
            instance_ids: ids(&["i-agenthang000000001"]),
        })
        .await
        .unwrap();
    assert_eq!(
        wait_final(&client, &run.invoke_id).await[0].invocation_status,
        S::Terminated
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn install_cloud_assistant_brings_the_agent_up() {
    let mut fleet = Fleet::default_fleet();
    let mut bare = InstanceSpec::new("i-bare00000000000001");
    bare.agent.installed = false;
    fleet.instances.push(bare);
    let (sandbox, client) = boot(SandboxConfig { fleet, ..fast() }).await;
    let status_request = DescribeCloudAssistantStatus {
        instance_ids: ids(&["i-bare00000000000001"]),
        ..DescribeCloudAssistantStatus::default()
    };
    let status = || client.call(&status_request);
    let before = status().await.unwrap();
    assert_eq!(
        before.instance_cloud_assistant_status_set.items[0].cloud_assistant_status,
        "false"
    );
    assert_eq!(
        before.instance_cloud_assistant_status_set.items[0].cloud_assistant_version,
        ""
    );
    client
        .call(&InstallCloudAssistant {
            instance_ids: ids(&["i-bare00000000000001"]),
        })
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(250)).await;
    let after = status().await.unwrap();
    assert_eq!(
        after.instance_cloud_assistant_status_set.items[0].cloud_assistant_status,
        "true"
    );
    let err = client
        .call(&InstallCloudAssistant {
            instance_ids: (0..51).map(|i| InstanceId::new(format!("i-{i}"))).collect(),
        })
        .await
        .unwrap_err();
    assert_eq!(code(&err), ("InstanceIds.ExceedLimit".into(), 403));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn xml_format_form_bodies_and_sandbox_endpoints() {
    let (sandbox, _) = boot(fast()).await;
    // No Format: XML, the gateway default; arrays are repeated elements.
    let mut raw = Raw::new("DescribeInstances", &[]);
    raw.format = None;
    let (status, body) = send_raw(&sandbox.url(), "POST", &query_of(&raw.signed()), None).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("<?xml"), "{body}");
    assert!(body.contains("<DescribeInstancesResponse>"), "{body}");
    assert_eq!(body.matches("<Instance>").count(), 3, "{body}");
    assert!(body.contains("<TagKey>role</TagKey>"), "{body}");
    // Errors in XML.
    let raw = Raw {
        format: Some("xml"),
        ..Raw::new("DescribeNothing", &[])
    };
    let (status, body) = send_raw(&sandbox.url(), "POST", &query_of(&raw.signed()), None).await;
    assert_eq!(status, 404);
    assert!(
        body.contains("<Error>") && body.contains("<Code>InvalidApi.NotFound</Code>"),
        "{body}"
    );

    // Form-body parameters are signed with the query ones (reference vector 5); `+` is a space.
    let raw = Raw::new(
        "DescribeInstances",
        &[("InstanceName", "web-0*"), ("Note", "a b")],
    );
    let signed = raw.signed();
    let (body_keys, query): (Params, Params) = signed
        .into_iter()
        .partition(|(k, _)| k == "InstanceName" || k == "Note");
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(body_keys.iter())
        .finish();
    assert!(body.contains("Note=a+b"), "{body}");
    let (status, text) = send_raw(&sandbox.url(), "POST", &query_of(&query), Some(&body)).await;
    assert_eq!(status, 200, "{text}");
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["Instances"]["Instance"].as_array().unwrap().len(), 2);
    assert!(json["RequestId"].as_str().is_some_and(|r| r.len() == 36));

    let http = http();
    let counters: serde_json::Value = serde_json::from_str(
        &http
            .get(format!("{}/_sandbox/stats", sandbox.url()))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(counters["calls"]["DescribeInstances"], 2);
    assert_eq!(counters["errors"]["InvalidApi.NotFound"], 1);
    let health = http
        .get(format!("{}/_sandbox/health", sandbox.url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(health.contains("\"status\":\"ok\""), "{health}");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn refuses_non_loopback_addresses_and_bad_fleets() {
    let err = start(SandboxConfig {
        listen: "0.0.0.0:0".parse().unwrap(),
        ..SandboxConfig::default()
    })
    .await
    .unwrap_err();
    assert!(err.to_string().contains("real processes"), "{err}");
    let mut fleet = Fleet::default_fleet();
    fleet
        .instances
        .push(InstanceSpec::new(DEFAULT_INSTANCE_IDS[0]));
    let err = start(SandboxConfig {
        fleet,
        ..SandboxConfig::default()
    })
    .await
    .unwrap_err();
    assert!(err.to_string().contains("more than once"), "{err}");
}

#[tokio::test]
async fn describe_invocation_results_pages_across_tasks() {
    let mut fleet = Fleet::default();
    for i in 1..=23 {
        let mut spec = InstanceSpec::new(format!("i-placeholder{i:02}"));
        spec.execution = Execution::Simulated(Simulation {
            exit_code: if i == 17 { 2 } else { 0 },
            ..Simulation::default()
        });
        fleet.instances.push(spec);
    }
    let (sandbox, client) = boot(SandboxConfig { fleet, ..fast() }).await;
    let all: Vec<String> = (1..=23).map(|i| format!("i-placeholder{i:02}")).collect();
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    let first = client
        .call(&run_command("true", &refs[..20]))
        .await
        .unwrap();
    let second = client
        .call(&run_command("true", &refs[20..]))
        .await
        .unwrap();
    wait_final(&client, &first.invoke_id).await;
    wait_final(&client, &second.invoke_id).await;
    let mut token = None;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = client
            .call(&DescribeInvocationResults {
                next_token: token.clone(),
                max_results: Some(10),
                ..DescribeInvocationResults::default()
            })
            .await
            .unwrap()
            .invocation;
        pages += 1;
        assert_eq!(page.total_count, 0);
        seen.extend(
            page.invocation_results
                .invocation_result
                .into_iter()
                .map(|r| (r.instance_id.to_string(), r.invocation_status, r.exit_code)),
        );
        if page.next_token.is_empty() {
            break;
        }
        token = Some(page.next_token);
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 23);
    let failed: Vec<_> = seen.iter().filter(|(_, s, _)| *s == S::Failed).collect();
    assert_eq!(
        failed,
        [&("i-placeholder17".to_owned(), S::Failed, Some(2))]
    );
    let mut names: Vec<&String> = seen.iter().map(|(i, _, _)| i).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 23);
    sandbox.shutdown().await;
}

/// The official Python SDKs drive all twelve actions of the reference (the seed flow among
/// them), via the conformance driver `tests/conformance/run-python-sdk.sh`. Runs when `ECS_RUNBOOK_SDK_VENV` names a
/// virtualenv with `aliyun-python-sdk-core`, `aliyun-python-sdk-ecs` and
/// `alibabacloud-ecs20140526` installed; otherwise
/// it says so and passes. The driver is given a stand-in for `ecs-runbook sandbox` that
/// prints this in-process sandbox's address the way the CLI does.
#[tokio::test]
async fn python_sdk_seed_flow() {
    let Some(venv) = std::env::var_os("ECS_RUNBOOK_SDK_VENV") else {
        eprintln!("skipped: set ECS_RUNBOOK_SDK_VENV to a virtualenv with the Python SDK");
        return;
    };
    let (sandbox, _) = boot(fast()).await;
    let dir = tempfile::tempdir().unwrap();
    let fake_cli = dir.path().join("ecs-runbook");
    std::fs::write(
        &fake_cli,
        format!(
            "#!/bin/sh\necho 'sandbox listening on {}'\nexec sleep 120\n",
            sandbox.url()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &fake_cli,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let driver = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/conformance/run-python-sdk.sh"
    );
    let output = tokio::process::Command::new("bash")
        .arg(driver)
        .env("ECS_RUNBOOK_SDK_VENV", &venv)
        .env("ECS_RUNBOOK_BIN", &fake_cli)
        .env_remove("ECS_RUNBOOK_ENDPOINT")
        .output()
        .await
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    for line in [
        "ok (aliyun-python-sdk-core, signature V1): 12 actions; output b'123\\n'",
        "ok (Tea SDK, signature v3): 12 actions, typed models round-trip; output b'123\\n'",
        "ok (Tea SDK, signature v2): 12 actions, typed models round-trip; output b'123\\n'",
    ] {
        assert!(stdout.contains(line), "{line}\n{stdout}");
    }
    let stats = sandbox.stats();
    for action in ACTIONS.iter().filter(|a| **a != "StartInstance") {
        assert!(stats.calls_of(action) >= 3, "{action}");
    }
    assert_eq!(stats.calls_of("ModifyCommand"), 3);
    assert_eq!(stats.calls_of("StopInvocation"), 3);
    assert_eq!(stats.errors["SignatureDoesNotMatch"], 3);
    sandbox.shutdown().await;
}

/// Each run uses its own instance's default user when `Username` is not given.
#[tokio::test]
async fn default_user_is_per_instance_os() {
    let mut fleet = Fleet::default_fleet();
    let mut win = InstanceSpec::new("i-windows000000000001");
    win.os = Os::Windows;
    fleet.instances.insert(0, win);
    let (sandbox, client) = boot(SandboxConfig { fleet, ..fast() }).await;
    let run = client
        .call(&run_command(
            "id -u >/dev/null",
            &["i-windows000000000001", WEB1],
        ))
        .await
        .unwrap();
    let instances = wait_final(&client, &run.invoke_id).await;
    let codes: Vec<(S, &str)> = instances
        .iter()
        .map(|i| (i.invocation_status.clone(), i.error_code.as_str()))
        .collect();
    assert_eq!(
        codes,
        [(S::Invalid, "CommandNotApplicable"), (S::Success, "")]
    );
    let users: Vec<String> = results(&client, &run.invoke_id)
        .await
        .into_iter()
        .map(|r| r.username)
        .collect();
    assert_eq!(users, ["System", "root"]);
    sandbox.shutdown().await;
}

/// A 10 000-instance simulated fleet: tag paging, batched invokes and polling stay cheap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_simulated_fleet_stays_cheap() {
    let fleet = Fleet::from_json(
        r#"{"generate": [{"count": 10000, "prefix": "i-bench", "tags": {"env": "bench"},
            "execution": {"simulated": {"exit_code": 0, "output": "ok\n", "duration": "10ms"}}}]}"#,
    )
    .unwrap();
    let started = std::time::Instant::now();
    let (sandbox, client) = boot(SandboxConfig { fleet, ..fast() }).await;
    let mut token = None;
    let mut ids_seen = Vec::new();
    loop {
        let page = client
            .call(&DescribeInstances {
                tags: vec![TagFilter {
                    key: "env".into(),
                    value: Some("bench".into()),
                }],
                max_results: Some(100),
                next_token: token.clone(),
                ..DescribeInstances::default()
            })
            .await
            .unwrap();
        ids_seen.extend(page.instances.instance.into_iter().map(|i| i.instance_id));
        if page.next_token.is_empty() {
            break;
        }
        token = Some(page.next_token);
    }
    assert_eq!(ids_seen.len(), 10_000);
    let command = client
        .call(&create_command("true"))
        .await
        .unwrap()
        .command_id;
    let mut tasks = Vec::new();
    for batch in ids_seen.chunks(100).take(20) {
        let invoked = client
            .call(&InvokeCommand {
                command_id: command.clone(),
                instance_ids: batch.to_vec(),
                ..InvokeCommand::default()
            })
            .await
            .unwrap();
        tasks.push(invoked.invoke_id);
    }
    for task in &tasks {
        assert!(
            wait_final(&client, task)
                .await
                .iter()
                .all(|i| i.invocation_status == S::Success)
        );
    }
    let stats = sandbox.stats();
    assert_eq!(stats.simulated_executions, 2000);
    assert_eq!(stats.calls_of("DescribeInstances"), 100);
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(30), "{elapsed:?}");
    eprintln!("10 000-instance fleet: {elapsed:?}");
    sandbox.shutdown().await;
}

/// An STS credential's `SecurityToken` is signed like any parameter and accepted.
#[tokio::test]
async fn security_token_is_signed_and_accepted() {
    let (sandbox, _) = boot(fast()).await;
    let mut credential = sandbox.credential();
    credential.security_token = Some(crate::cloud::credential::Secret::new("sts-token"));
    let client = ClientBuilder::new(RegionId::new("cn-hangzhou"), credential)
        .endpoint(sandbox.url())
        .build();
    let resp = client.call(&DescribeInstances::default()).await.unwrap();
    assert_eq!(resp.instances.instance.len(), 3);
    sandbox.shutdown().await;
}

/// The official Node SDK (`@alicloud/pop-core`, V1 with every parameter in a POST form body)
/// drives all twelve actions (the seed flow among them) via `tests/conformance/run-node-sdk.sh`. Runs
/// when `ECS_RUNBOOK_NODE_MODULES` names a folder whose `node_modules` has the SDK.
#[tokio::test]
async fn node_sdk_seed_flow() {
    let Some(modules) = std::env::var_os("ECS_RUNBOOK_NODE_MODULES") else {
        eprintln!("skipped: set ECS_RUNBOOK_NODE_MODULES to a folder with @alicloud/pop-core");
        return;
    };
    let (sandbox, _) = boot(fast()).await;
    let driver = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/conformance/run-node-sdk.sh"
    );
    let output = tokio::process::Command::new("bash")
        .arg(driver)
        .env("ECS_RUNBOOK_NODE_MODULES", &modules)
        .env("ECS_RUNBOOK_ENDPOINT", sandbox.url())
        .output()
        .await
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("ok (pop-core, signature V1): 12 actions; output \"123\\n\""),
        "{stdout}"
    );
    let stats = sandbox.stats();
    for action in ACTIONS.iter().filter(|a| **a != "StartInstance") {
        assert!(stats.calls_of(action) >= 1, "{action}");
    }
    assert_eq!(stats.errors["SignatureDoesNotMatch"], 1);
    sandbox.shutdown().await;
}

/// Scheduled tasks: `rate(...)` fires on its grid and keeps a history, `at(...)` fires once,
/// `EveryReboot` fires when the instance comes back from an exit-194 reboot, and
/// StopInvocation ends a schedule.
#[tokio::test]
#[expect(clippy::too_many_lines, reason = "three schedule kinds in turn")]
async fn scheduled_tasks_fire_and_keep_history() {
    let (sandbox, client) = boot(fast()).await;
    let describe = |invoke_id: InvokeId| DescribeInvocations {
        invoke_id: Some(invoke_id),
        ..DescribeInvocations::default()
    };
    let history = |invoke_id: InvokeId| DescribeInvocationResults {
        invoke_id: Some(invoke_id),
        include_history: Some(true),
        content_encoding: Some("PlainText".into()),
        ..DescribeInvocationResults::default()
    };

    // rate(): accepted as Scheduled; a 300 ms grid stands in for the one-minute minimum.
    let rated = client
        .call(&RunCommand {
            frequency: Some("rate(1m)".into()),
            timeout: Some(30),
            ..run_command("echo tick", &[WEB1])
        })
        .await
        .unwrap();
    let inv = client
        .call(&describe(rated.invoke_id.clone()))
        .await
        .unwrap();
    let inv = &inv.invocations.invocation[0];
    assert_eq!(inv.invocation_status, InvocationStatus::Scheduled);
    assert_eq!((inv.repeat_mode.as_str(), inv.timed), ("Period", true));
    crate::sandbox::task::schedule(
        sandbox.shared(),
        rated.invoke_id.as_str(),
        crate::sandbox::task::Schedule::Rate(Duration::from_millis(300)),
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    client
        .call(&StopInvocation {
            invoke_id: rated.invoke_id.clone(),
            instance_ids: Vec::new(),
        })
        .await
        .unwrap();
    let records = client
        .call(&history(rated.invoke_id.clone()))
        .await
        .unwrap()
        .invocation
        .invocation_results
        .invocation_result;
    assert!(records.len() >= 2, "{records:?}");
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r.invocation_status, S::Success, "{r:?}");
        assert_eq!(r.output.as_deref(), Some("tick\n"));
        assert_eq!(r.repeats, i32::try_from(i).unwrap() + 1);
    }
    let runs_at_stop = records.len();
    tokio::time::sleep(Duration::from_millis(700)).await;
    let after = client
        .call(&history(rated.invoke_id.clone()))
        .await
        .unwrap();
    assert_eq!(
        after.invocation.invocation_results.invocation_result.len(),
        runs_at_stop
    );
    let inv = client
        .call(&describe(rated.invoke_id.clone()))
        .await
        .unwrap();
    let inv = &inv.invocations.invocation[0];
    assert_eq!(inv.invocation_status, InvocationStatus::Stopped);
    assert!(!inv.timed);

    // at(): fires once, two seconds from now (UTC).
    let when = (chrono::Utc::now() + chrono::Duration::seconds(2)).format("%Y-%m-%d %H:%M:%S");
    let once = client
        .call(&RunCommand {
            frequency: Some(format!("at({when} GMT+0:00)")),
            ..run_command("echo once", &[WEB1])
        })
        .await
        .unwrap();
    let instance = wait_final(&client, &once.invoke_id).await;
    assert_eq!(instance[0].invocation_status, S::Success);
    let inv = client
        .call(&describe(once.invoke_id.clone()))
        .await
        .unwrap();
    assert!(!inv.invocations.invocation[0].timed);
    let past = client
        .call(&RunCommand {
            frequency: Some("at(2020-01-01 00:00:00)".into()),
            ..run_command("true", &[WEB1])
        })
        .await
        .unwrap_err();
    assert_eq!(code(&past), ("InvalidParam.Frequency".into(), 400));

    // EveryReboot: fires when the instance restarts after an exit code 194.
    let command = client
        .call(&create_command("echo booted"))
        .await
        .unwrap()
        .command_id;
    let on_boot = client
        .call(&InvokeCommand {
            command_id: command,
            instance_ids: ids(&[WEB2]),
            repeat_mode: Some(crate::cloud::status::RepeatMode::EveryReboot),
            ..InvokeCommand::default()
        })
        .await
        .unwrap();
    let reboot = client
        .call(&run_command("exit 194", &[WEB2]))
        .await
        .unwrap();
    assert_eq!(
        wait_final(&client, &reboot.invoke_id).await[0].exit_code,
        Some(194)
    );
    let mut booted = Vec::new();
    for _ in 0..100 {
        booted = client
            .call(&history(on_boot.invoke_id.clone()))
            .await
            .unwrap()
            .invocation
            .invocation_results
            .invocation_result;
        if booted.iter().any(|r| r.invocation_status == S::Success) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(booted.len(), 1, "{booted:?}");
    assert_eq!(booted[0].output.as_deref(), Some("booted\n"));
    let inv = client
        .call(&describe(on_boot.invoke_id.clone()))
        .await
        .unwrap();
    let inv = &inv.invocations.invocation[0];
    assert_eq!(inv.invocation_status, InvocationStatus::Scheduled);
    assert!(inv.timed);
    sandbox.shutdown().await;
}

/// Cron schedules fire at the times `crate::schedule` computes, with one history record per
/// run; a Frequency the client's dialect refuses is refused here too, as
/// `InvalidParam.Frequency`.
#[tokio::test]
async fn cron_schedules_fire_and_bad_frequencies_are_refused() {
    let (sandbox, client) = boot(fast()).await;
    let cron = client
        .call(&RunCommand {
            frequency: Some("0/10 * * * * ? UTC".into()),
            timeout: Some(10),
            ..run_command("echo cron", &[WEB1])
        })
        .await
        .unwrap();
    // Every second for the test; the API's minimum interval is 10 s.
    let every_second = crate::schedule::parse("* * * * * ?").expect("valid");
    crate::sandbox::task::schedule(
        sandbox.shared(),
        cron.invoke_id.as_str(),
        crate::sandbox::task::Schedule::Cron(Box::new(every_second)),
    );
    let history = DescribeInvocationResults {
        invoke_id: Some(cron.invoke_id.clone()),
        include_history: Some(true),
        content_encoding: Some("PlainText".into()),
        ..DescribeInvocationResults::default()
    };
    let mut records = Vec::new();
    for _ in 0..100 {
        records = client
            .call(&history)
            .await
            .unwrap()
            .invocation
            .invocation_results
            .invocation_result;
        // A later firing may still be pending or running; two finished ones are what this
        // waits for.
        records.retain(|r| !matches!(r.invocation_status, S::Pending | S::Running));
        if records.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(records.len() >= 2, "{records:?}");
    for r in &records {
        assert_eq!(r.invocation_status, S::Success, "{r:?}");
        assert_eq!(r.output.as_deref(), Some("cron\n"));
    }
    for (frequency, timeout) in [
        ("0 */12 * * *", 10),
        ("*/5 * * * * ?", 10),
        ("rate(60s)", 60),
        ("0 0 9 * * ? GMT+08:00", 10),
        ("cron(0 12 * * ? *)", 10),
    ] {
        let error = client
            .call(&RunCommand {
                frequency: Some(frequency.into()),
                timeout: Some(timeout),
                ..run_command("true", &[WEB1])
            })
            .await
            .unwrap_err();
        assert_eq!(
            code(&error),
            ("InvalidParam.Frequency".into(), 400),
            "{frequency}"
        );
    }
    sandbox.shutdown().await;
}

/// Dropping the handle (no orderly shutdown) still kills running scripts' process groups.
#[tokio::test]
async fn dropping_the_sandbox_kills_running_scripts() {
    let (sandbox, client) = boot(fast()).await;
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("survived");
    let script = format!("(sleep 1.5; touch {}) & wait", marker.display());
    let run = client.call(&run_command(&script, &[WEB1])).await.unwrap();
    wait_status(&client, &run.invoke_id, &S::Running).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let root = sandbox.root().to_path_buf();
    drop(sandbox);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(!marker.exists(), "a script outlived the sandbox");
    assert!(!root.exists(), "the temporary root was not removed");
}

/// Requests over the size limit are refused before any parsing or signature work.
#[tokio::test]
async fn oversized_requests_are_refused() {
    let (sandbox, _) = boot(fast()).await;
    let body = format!("Pad={}", "x".repeat(130 * 1024));
    let (status, text) = send_raw(
        &sandbox.url(),
        "POST",
        "Action=DescribeInstances",
        Some(&body),
    )
    .await;
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("RequestTooLarge"), "{text}");
    // The HTTP layer itself caps the request target at 64 KiB (HTTP 414); written by hand,
    // as reqwest refuses to build such a URL.
    let mut stream = tokio::net::TcpStream::connect(sandbox.addr())
        .await
        .unwrap();
    let request = format!(
        "GET /?Pad={} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        "x".repeat(70 * 1024)
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 64];
    let n = stream.read(&mut answer).await.unwrap();
    let head = String::from_utf8_lossy(&answer[..n]);
    assert!(head.starts_with("HTTP/1.1 414"), "{head}");
    sandbox.shutdown().await;
}

/// Reference §2.5 vectors 3–5, produced by the official Python signer, replayed as sent
/// (query-only POSTs, and vector 5's form body): the gateway accepts each signature.
#[tokio::test]
#[expect(
    clippy::too_many_lines,
    reason = "three vectors written out as the reference gives them"
)]
async fn official_sdk_vectors_pass_the_gateway() {
    let config = SandboxConfig {
        access_key_id: "LTAI5tTestAccessKeyId".into(),
        access_key_secret: "TestSecretKey0123456789abcdef".into(),
        limits: Limits {
            timestamp_skew: Duration::from_hours(100 * 365 * 24),
            ..Limits::default()
        },
        ..fast()
    };
    let sandbox = start(config).await.unwrap();
    let common =
        |nonce: &str, timestamp: &str, region: &str, action: &str| -> Vec<(String, String)> {
            [
                ("AccessKeyId", "LTAI5tTestAccessKeyId"),
                ("Action", action),
                ("Format", "JSON"),
                ("RegionId", region),
                ("SignatureMethod", "HMAC-SHA1"),
                ("SignatureNonce", nonce),
                ("SignatureType", ""),
                ("SignatureVersion", "1.0"),
                ("Timestamp", timestamp),
                ("Version", "2014-05-26"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
        };
    let query = |pairs: &[(String, String)]| {
        pairs
            .iter()
            .map(|(k, v)| format!("{}={}", sign::percent_encode(k), sign::percent_encode(v)))
            .collect::<Vec<_>>()
            .join("&")
    };
    let with = |mut base: Vec<(String, String)>, extra: &[(&str, &str)]| {
        base.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        base
    };
    // Vector 3: CreateCommand; the command is created.
    let v3 = with(
        common(
            "a1b2c3d4e5f60718293a4b5c6d7e8f90",
            "2024-05-01T08:30:00Z",
            "cn-hangzhou",
            "CreateCommand",
        ),
        &[
            (
                "Name",
                "Disk check \u{2013} \u{c4}\u{d6} \u{78c1}\u{76d8} v1",
            ),
            ("Type", "RunShellScript"),
            ("ContentEncoding", "Base64"),
            ("Timeout", "120"),
            ("WorkingDir", "/tmp"),
            ("Description", "check disk & load*"),
            (
                "CommandContent",
                "IyEvYmluL2Jhc2gKZWNobyAiaGVsbG8gZnJvbSAkKGhvc3RuYW1lKSIKdXB0aW1lCg==",
            ),
            ("Signature", "rDkeCSQZlOddGDPaRoYEinMalC0="),
        ],
    );
    let (status, body) = send_raw(&sandbox.url(), "POST", &query(&v3), None).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"CommandId\":\"c-"), "{body}");
    // Vector 4: InvokeCommand; signed correctly, so the answer is about the command.
    let v4 = with(
        common(
            "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
            "2024-05-01T08:30:00Z",
            "cn-hangzhou",
            "InvokeCommand",
        ),
        &[
            ("CommandId", "c-hz01abcdef0123456"),
            ("InstanceId.1", "i-bp1aaaaaaaaaaaaaaaa1"),
            ("InstanceId.2", "i-bp1bbbbbbbbbbbbbbbb2"),
            (
                "Parameters",
                r#"{"name":"Jack O'Neil","path":"/var/log/~app"}"#,
            ),
            ("RepeatMode", "Once"),
            ("Timeout", "300"),
            ("ClientToken", "runbook-42-step-3"),
            ("Signature", "ODoAeP10NrYBwBf259CL/7TOntQ="),
        ],
    );
    let (status, body) = send_raw(&sandbox.url(), "POST", &query(&v4), None).await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("InvalidCmdId.NotFound"), "{body}");
    // Vector 5: three parameters in a form body, signed with the query ones.
    let v5 = with(
        common(
            "5e7c0d2a9b8f4c1e8d3a6b5c4f2e1d0a",
            "2024-05-01T08:31:15Z",
            "cn-shanghai",
            "DescribeInvocationResults",
        ),
        &[
            ("InvokeId", "t-sh01abcdef0123456"),
            ("Signature", "ZaYJiXhanIh9rlGCr/TVaf1Jzho="),
        ],
    );
    let body5 = "InstanceId=i-uf6cccccccccccccccc3&ContentEncoding=PlainText&MaxResults=50";
    let (status, body) = send_raw(&sandbox.url(), "POST", &query(&v5), Some(body5)).await;
    // Signed correctly: the unknown instance is what the action objects to.
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("InvalidInstance.NotFound"), "{body}");
    sandbox.shutdown().await;
}

/// Generated instances that run for real get their directories at their first run.
#[tokio::test]
async fn generated_real_instances_get_directories_lazily() {
    let fleet = Fleet::from_json(
        r#"{"generate": [{"count": 3, "prefix": "i-gen", "dirs": ["/srv/app"]}]}"#,
    )
    .unwrap();
    let (sandbox, client) = boot(SandboxConfig { fleet, ..fast() }).await;
    let id = "i-gen00000000000000002";
    assert_eq!(id.len(), 22);
    assert!(!sandbox.instance_fs(id).exists());
    let run = client
        .call(&RunCommand {
            working_dir: Some("/srv/app".into()),
            ..run_command("pwd", &[id])
        })
        .await
        .unwrap();
    let instance = &wait_final(&client, &run.invoke_id).await[0];
    assert_eq!(instance.invocation_status, S::Success, "{instance:?}");
    assert!(sandbox.instance_fs(id).join("srv/app").is_dir());
    assert!(!sandbox.instance_fs("i-gen00000000000000001").exists());
    sandbox.shutdown().await;
}

/// Signature V3 from the real client: all thirteen actions pass the gateway's V3 check and do
/// their work, with no V1 request among them; a wrong secret gets the V3 string-to-sign back.
#[tokio::test]
#[expect(
    clippy::too_many_lines,
    reason = "the thirteen actions, in the order a run uses them"
)]
async fn every_action_over_signature_v3() {
    use crate::cloud::transport::SignatureVersion;
    let mut fleet = Fleet::default_fleet();
    let mut stopped = InstanceSpec::new("i-stopped0000000000v3");
    stopped.status = InstanceStatus::Stopped;
    let mut bare = InstanceSpec::new("i-bare000000000000v3");
    bare.agent.installed = false;
    fleet.instances.extend([stopped, bare]);
    let sandbox = start(SandboxConfig { fleet, ..fast() })
        .await
        .expect("sandbox starts");
    let client = ClientBuilder::new(RegionId::new("cn-hangzhou"), sandbox.credential())
        .endpoint(sandbox.url())
        .signature(SignatureVersion::V3)
        .build();
    assert_eq!(client.signature(), SignatureVersion::V3);

    let instances = client.call(&DescribeInstances::default()).await.unwrap();
    assert_eq!(instances.instances.instance.len(), 5);
    client
        .call(&StartInstance {
            instance_id: InstanceId::new("i-stopped0000000000v3"),
        })
        .await
        .unwrap();
    let agents = client
        .call(&DescribeCloudAssistantStatus {
            instance_ids: ids(&[WEB1, "i-bare000000000000v3"]),
            ..DescribeCloudAssistantStatus::default()
        })
        .await
        .unwrap();
    assert_eq!(agents.instance_cloud_assistant_status_set.items.len(), 2);
    client
        .call(&InstallCloudAssistant {
            instance_ids: ids(&["i-bare000000000000v3"]),
        })
        .await
        .unwrap();
    let created = client
        .call(&create_command("echo v3 $((40 + 2))"))
        .await
        .unwrap();
    let described = client
        .call(&DescribeCommands {
            command_id: Some(created.command_id.clone()),
            ..DescribeCommands::default()
        })
        .await
        .unwrap();
    assert_eq!(described.commands.command.len(), 1);
    client
        .call(&ModifyCommand {
            command_id: created.command_id.clone(),
            name: Some("renamed".into()),
            timeout: Some(90),
            ..ModifyCommand::default()
        })
        .await
        .unwrap();
    let modified = client
        .call(&DescribeCommands {
            command_id: Some(created.command_id.clone()),
            ..DescribeCommands::default()
        })
        .await
        .unwrap();
    assert_eq!(modified.commands.command[0].name, "renamed");
    assert_eq!(modified.commands.command[0].timeout, 90);
    let invoked = client
        .call(&InvokeCommand {
            command_id: created.command_id.clone(),
            instance_ids: ids(&[WEB1, WEB2]),
            ..InvokeCommand::default()
        })
        .await
        .unwrap();
    let finished = wait_final(&client, &invoked.invoke_id).await;
    assert!(finished.iter().all(|i| i.invocation_status == S::Success));
    let outputs: Vec<String> = results(&client, &invoked.invoke_id)
        .await
        .iter()
        .map(|r| {
            let output = r.output.as_deref().unwrap_or_default();
            String::from_utf8(STANDARD.decode(output).unwrap()).unwrap()
        })
        .collect();
    assert_eq!(outputs, ["v3 42\n", "v3 42\n"]);
    let run = client
        .call(&run_command("sleep 30", &[WEB1]))
        .await
        .unwrap();
    wait_status(&client, &run.invoke_id, &S::Running).await;
    client
        .call(&StopInvocation {
            invoke_id: run.invoke_id.clone(),
            instance_ids: Vec::new(),
        })
        .await
        .unwrap();
    wait_status(&client, &run.invoke_id, &S::Terminated).await;
    client
        .call(&DeleteCommand {
            command_id: created.command_id,
        })
        .await
        .unwrap();

    let stats = sandbox.stats();
    let actions: Vec<&str> = stats.calls.keys().map(String::as_str).collect();
    assert_eq!(actions.len(), 13, "{actions:?}");
    assert_eq!(stats.signatures.get("V1"), None);
    assert_eq!(stats.signatures["V3"], stats.calls.values().sum::<u64>());

    let wrong = ClientBuilder::new(
        RegionId::new("cn-hangzhou"),
        crate::cloud::credential::Credential::new("sandbox", "not-the-secret"),
    )
    .endpoint(sandbox.url())
    .signature(SignatureVersion::V3)
    .build();
    let err = wrong.call(&DescribeInstances::default()).await.unwrap_err();
    assert_eq!(code(&err), ("SignatureDoesNotMatch".into(), 400));
    assert!(err.to_string().contains("ACS3-HMAC-SHA256"), "{err}");
    sandbox.shutdown().await;
}
