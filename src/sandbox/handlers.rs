//! One function per action: validate the typed request, change the state, build the typed
//! response (reference §4, errors §9.4, limits §10).
//!
//! Handlers are synchronous and run with the state locked, so an action is atomic: every
//! check comes before the first change. They parse requests with `cloud::wire::from_params`
//! and answer with the `cloud::actions` structs, the same ones the client decodes.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest as _, Sha256};

use crate::cloud::actions::{
    AssistantStatusSet, Command, Commands, CreateCommand, CreateCommandResponse, DeleteCommand,
    DeleteCommandResponse, DescribeCloudAssistantStatus, DescribeCloudAssistantStatusResponse,
    DescribeCommands, DescribeCommandsResponse, DescribeInstances, DescribeInstancesResponse,
    DescribeInvocationResults, DescribeInvocationResultsResponse, DescribeInvocations,
    DescribeInvocationsResponse, InstallCloudAssistant, InstallCloudAssistantResponse, Instance,
    InstanceCloudAssistantStatus, Instances, Invocation, InvocationResult, InvocationResultPage,
    InvocationResults, Invocations, InvokeCommand, InvokeCommandResponse, InvokeInstance,
    InvokeInstances, IpAddresses, ModifyCommand, ModifyCommandResponse, ParameterNames, RunCommand,
    RunCommandResponse, StartInstance, StartInstanceResponse, StopInvocation,
    StopInvocationResponse, Tag, TagFilter, Tags, VpcAttributes,
};
use crate::cloud::id::{CommandId, InstanceId, InvokeId};
use crate::cloud::status::{
    CommandType, InstanceInvocationStatus as S, InstanceStatus, RepeatMode,
};
use crate::cloud::wire::{self, ParamError, Params};
use crate::sandbox::error::SandboxError;
use crate::sandbox::fleet::Os;
use crate::sandbox::paging::{PageLimits, Paging, newest_first};
use crate::sandbox::runner;
use crate::sandbox::state::{
    CommandRec, InvocationRec, RunRec, Sandbox, State, TokenEntry, iso, iso_opt, record_status,
};
use crate::sandbox::task::{self, Schedule};
use crate::schedule::{self, FrequencyKind};

/// The actions the sandbox serves.
pub(crate) const ACTIONS: [&str; 13] = [
    "DescribeInstances",
    "StartInstance",
    "DescribeCloudAssistantStatus",
    "InstallCloudAssistant",
    "CreateCommand",
    "DescribeCommands",
    "DeleteCommand",
    "ModifyCommand",
    "InvokeCommand",
    "RunCommand",
    "DescribeInvocations",
    "DescribeInvocationResults",
    "StopInvocation",
];

/// One authenticated call.
#[derive(Debug)]
pub(crate) struct Call<'a> {
    /// The action.
    pub(crate) action: &'a str,
    /// `RegionId`.
    pub(crate) region: &'a str,
    /// Every parameter, decoded.
    pub(crate) params: &'a Params,
    /// When it arrived.
    pub(crate) now: DateTime<Utc>,
    /// Listings return at most this many items per page, whatever the request asks for.
    pub(crate) max_page_size: Option<usize>,
}

/// Runs the action of `call` and returns the success body without `RequestId`.
pub(crate) fn dispatch(
    sandbox: &Arc<Sandbox>,
    call: &Call<'_>,
) -> Result<serde_json::Value, SandboxError> {
    let mut guard = sandbox.lock();
    let state = &mut *guard;
    match call.action {
        "CreateCommand" => idempotent(sandbox, state, call, |state| {
            create_command(sandbox, state, call, &parse(call)?)
        }),
        "InvokeCommand" => idempotent(sandbox, state, call, |state| {
            invoke_command(sandbox, state, call, &parse(call)?)
        }),
        "RunCommand" => idempotent(sandbox, state, call, |state| {
            run_command(sandbox, state, call, &parse(call)?)
        }),
        "DescribeInstances" => describe_instances(state, call, &parse(call)?).map(to_value),
        "StartInstance" => start_instance(sandbox, state, call, &parse(call)?).map(to_value),
        "DescribeCloudAssistantStatus" => {
            describe_cloud_assistant_status(sandbox, state, call, &parse(call)?).map(to_value)
        }
        "InstallCloudAssistant" => {
            install_cloud_assistant(sandbox, state, call, &parse(call)?).map(to_value)
        }
        "DescribeCommands" => describe_commands(state, call, &parse(call)?).map(to_value),
        "DeleteCommand" => delete_command(state, call, &parse(call)?).map(to_value),
        "ModifyCommand" => modify_command(state, call, &parse(call)?).map(to_value),
        "DescribeInvocations" => {
            let req: DescribeInvocations = parse(call)?;
            if req.include_output == Some(true) {
                state.stats.output_reads += 1;
            }
            describe_invocations(state, call, &req).map(to_value)
        }
        "DescribeInvocationResults" => {
            describe_invocation_results(state, call, &parse(call)?).map(to_value)
        }
        "StopInvocation" => stop_invocation(sandbox, state, call, &parse(call)?).map(to_value),
        _ => Err(SandboxError::new(
            404,
            "InvalidApi.NotFound",
            "Specified api is not found, please check your url and method.",
        )),
    }
}

fn parse<T: DeserializeOwned>(call: &Call<'_>) -> Result<T, SandboxError> {
    wire::from_params(call.params).map_err(|e| match e {
        ParamError::Missing(name) => SandboxError::missing(&name),
        ParamError::Invalid(name) => SandboxError::invalid(&name),
    })
}

fn to_value<T: Serialize>(response: T) -> serde_json::Value {
    let mut value = serde_json::to_value(&response).expect("response structs serialise");
    if let Some(map) = value.as_object_mut() {
        map.remove("RequestId");
    }
    value
}

/// Parameters that only authenticate a request; a ClientToken's hash leaves them out.
const AUTH_PARAMS: [&str; 10] = [
    "Signature",
    "SignatureNonce",
    "Timestamp",
    "SignatureMethod",
    "SignatureVersion",
    "SignatureType",
    "AccessKeyId",
    "SecurityToken",
    "Format",
    "Version",
];

/// ClientToken idempotency (reference §9.3): the same token with the same parameters gets
/// the first answer again; with other parameters `IdempotentParameterMismatch`.
fn idempotent<R: Serialize>(
    sandbox: &Sandbox,
    state: &mut State,
    call: &Call<'_>,
    action: impl FnOnce(&mut State) -> Result<R, SandboxError>,
) -> Result<serde_json::Value, SandboxError> {
    let token = call
        .params
        .get("ClientToken")
        .filter(|t| !t.is_empty())
        .cloned();
    let Some(token) = token else {
        return Ok(to_value(action(state)?));
    };
    if token.len() > 64 || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(SandboxError::new(
            400,
            "InvalidClientToken.Malformed",
            "The specified parameter ClientToken is not valid.",
        ));
    }
    let mut hasher = Sha256::new();
    for (name, value) in call
        .params
        .iter()
        .filter(|(n, _)| !AUTH_PARAMS.contains(&n.as_str()))
    {
        hasher.update(name.as_bytes());
        hasher.update([0]);
        hasher.update(value.as_bytes());
        hasher.update([0]);
    }
    let hash = format!("{:x}", hasher.finalize());
    let key = (call.action.to_owned(), token);
    if let Some(entry) = state.tokens.get(&key) {
        if entry.hash == hash {
            return Ok(entry.response.clone());
        }
        return Err(SandboxError::new(
            403,
            "IdempotentParameterMismatch",
            "The specified parameter has changed while using an already used clientToken.",
        ));
    }
    let response = to_value(action(state)?);
    let cap = sandbox.settings.limits.client_tokens;
    state.remember_token(
        key,
        TokenEntry {
            hash,
            response: response.clone(),
        },
        cap,
    );
    Ok(response)
}

// ---------------------------------------------------------------------------------------
// Shared helpers.

fn encode(bytes: &[u8], encoding: Option<&str>) -> String {
    match encoding {
        Some(e) if e.eq_ignore_ascii_case("PlainText") => {
            String::from_utf8_lossy(bytes).into_owned()
        }
        _ => STANDARD.encode(bytes),
    }
}

fn tags_of(filters: &[TagFilter]) -> Tags {
    Tags {
        tag: filters
            .iter()
            .map(|t| Tag {
                tag_key: t.key.clone(),
                tag_value: t.value.clone().unwrap_or_default(),
            })
            .collect(),
    }
}

fn tags_match(tags: &Tags, filters: &[TagFilter]) -> bool {
    filters.iter().all(|f| {
        tags.tag
            .iter()
            .any(|t| t.tag_key == f.key && f.value.as_ref().is_none_or(|v| *v == t.tag_value))
    })
}

/// `*` wildcard match (`pre*`, `*post`, `*mid*`), exact otherwise.
fn wildcard(pattern: &str, value: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == value;
    }
    let mut rest = value;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            let Some(pos) = rest.find(part) else {
                return false;
            };
            rest = &rest[pos + part.len()..];
        }
    }
    true
}

fn not_found_instance() -> SandboxError {
    SandboxError::new(
        404,
        "InvalidInstance.NotFound",
        "The specified instance does not exist.",
    )
}

fn exceed_instances(limit: usize) -> SandboxError {
    SandboxError::new(
        403,
        "InstanceIds.ExceedLimit",
        format!("The number of instances exceeds the limit of {limit}."),
    )
}

fn check_len(
    value: Option<&str>,
    max: usize,
    code: &'static str,
    what: &str,
) -> Result<(), SandboxError> {
    match value {
        Some(v) if v.chars().count() > max => Err(SandboxError::new(
            403,
            code,
            format!("The {what} exceeds the limit of {max} characters."),
        )),
        _ => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------
// Instances.

fn describe_instances(
    state: &State,
    call: &Call<'_>,
    req: &DescribeInstances,
) -> Result<DescribeInstancesResponse, SandboxError> {
    let ids: Option<Vec<String>> = req
        .instance_ids
        .as_deref()
        .map(|text| {
            serde_json::from_str::<Vec<String>>(text)
                .map_err(|_| SandboxError::invalid("InstanceIds"))
        })
        .transpose()?;
    if ids.as_ref().is_some_and(|ids| ids.len() > 100) {
        return Err(SandboxError::invalid("InstanceIds"));
    }
    if req.tags.len() > 20 {
        return Err(SandboxError::new(
            400,
            "InvalidTag.Count",
            "At most 20 tags are allowed.",
        ));
    }
    let paging = Paging::new(
        req.max_results,
        req.next_token.as_deref(),
        req.page_number,
        req.page_size,
        &PageLimits { max: 100, min: 10 },
    )?
    .capped(call.max_page_size);
    let candidates: Vec<usize> = match &ids {
        Some(ids) => {
            let mut found: Vec<usize> = ids
                .iter()
                .filter_map(|id| state.find(id, call.region))
                .collect();
            found.sort_unstable();
            found.dedup();
            found
        }
        None if !req.tags.is_empty() => {
            let tags: Vec<(String, Option<String>)> = req
                .tags
                .iter()
                .map(|t| (t.key.clone(), t.value.clone()))
                .collect();
            state.with_tags(call.region, &tags)
        }
        None => (0..state.instances.len()).collect(),
    };
    let start = paging.after.map_or(0, |after| {
        candidates.partition_point(|i| (*i as u128) <= after)
    });
    let items = candidates[start..]
        .iter()
        .map(|i| (*i, &state.instances[*i]))
        .filter(|(_, inst)| {
            inst.spec.region == call.region
                && req
                    .status
                    .as_deref()
                    .is_none_or(|s| inst.status.as_str() == s)
                && req
                    .instance_name
                    .as_deref()
                    .is_none_or(|p| wildcard(p, inst.spec.display_name()))
                && tags_match(&inst.tags, &req.tags)
        })
        .map(|(i, inst)| (i as u128, (i, inst)));
    let page = paging.take(items);
    let (total, page_number, page_size) = page.counts();
    Ok(DescribeInstancesResponse {
        request_id: String::new(),
        total_count: total,
        page_number,
        page_size,
        next_token: page.next_token,
        instances: Instances {
            instance: page
                .items
                .into_iter()
                .map(|(i, inst)| instance_view(i, inst))
                .collect(),
        },
    })
}

fn instance_view(i: usize, inst: &crate::sandbox::state::Inst) -> Instance {
    Instance {
        instance_id: InstanceId::new(&inst.spec.id),
        instance_name: inst.spec.display_name().to_owned(),
        host_name: inst.spec.display_name().to_owned(),
        status: inst.status.clone(),
        os_type: inst.spec.os.lower().to_owned(),
        os_name: match inst.spec.os {
            Os::Linux => "Alibaba Cloud Linux 3.2104 LTS 64 bit".to_owned(),
            Os::Windows => "Windows Server 2022 Datacenter 64-bit".to_owned(),
        },
        region_id: inst.spec.region.clone(),
        zone_id: format!("{}-h", inst.spec.region),
        instance_type: "ecs.g7.large".to_owned(),
        resource_group_id: String::new(),
        vpc_attributes: VpcAttributes {
            vpc_id: "vpc-sandbox00000000000001".to_owned(),
            vswitch_id: "vsw-sandbox00000000000001".to_owned(),
            private_ip_address: IpAddresses {
                ip_address: vec![format!("172.16.{}.{}", (i / 250) % 256, i % 250 + 2)],
            },
        },
        public_ip_address: IpAddresses::default(),
        tags: inst.tags.clone(),
    }
}

fn start_instance(
    sandbox: &Arc<Sandbox>,
    state: &mut State,
    call: &Call<'_>,
    req: &StartInstance,
) -> Result<StartInstanceResponse, SandboxError> {
    let i = state
        .find(req.instance_id.as_str(), call.region)
        .ok_or_else(|| {
            SandboxError::new(
                404,
                "InvalidInstanceId.NotFound",
                "The specified InstanceId does not exist.",
            )
        })?;
    let inst = &mut state.instances[i];
    if inst.status != InstanceStatus::Stopped {
        return Err(SandboxError::new(
            403,
            "IncorrectInstanceStatus",
            "The current status of the resource does not support this operation.",
        ));
    }
    inst.status = InstanceStatus::Starting;
    task::start_instance_later(sandbox, i);
    Ok(StartInstanceResponse::default())
}

fn describe_cloud_assistant_status(
    sandbox: &Sandbox,
    state: &State,
    call: &Call<'_>,
    req: &DescribeCloudAssistantStatus,
) -> Result<DescribeCloudAssistantStatusResponse, SandboxError> {
    let limit = sandbox.settings.limits.instances_per_status;
    if req.instance_ids.len() > limit {
        return Err(exceed_instances(limit));
    }
    let by_id = !req.instance_ids.is_empty();
    let paging = if by_id {
        Paging {
            token_mode: true,
            size: limit,
            after: None,
            page: 1,
        }
    } else {
        Paging::new(
            req.max_results,
            req.next_token.as_deref(),
            req.page_number,
            req.page_size,
            &PageLimits { max: 50, min: 1 },
        )?
    };
    let indexes: Vec<usize> = if by_id {
        req.instance_ids
            .iter()
            .map(|id| {
                state
                    .find(id.as_str(), call.region)
                    .ok_or_else(not_found_instance)
            })
            .collect::<Result<_, _>>()?
    } else {
        let start = paging
            .after
            .map_or(0, |a| usize::try_from(a + 1).unwrap_or(usize::MAX));
        (start.min(state.instances.len())..state.instances.len()).collect()
    };
    let items = indexes
        .into_iter()
        .map(|i| (i, &state.instances[i]))
        .filter(|(_, inst)| {
            inst.spec.region == call.region
                && req
                    .os_type
                    .as_deref()
                    .is_none_or(|os| os.eq_ignore_ascii_case(inst.spec.os.title()))
        })
        .map(|(i, inst)| (i as u128, inst));
    let page = paging.take(items);
    let (total, page_number, page_size) = page.counts();
    let now = iso(call.now);
    Ok(DescribeCloudAssistantStatusResponse {
        request_id: String::new(),
        total_count: total,
        page_number,
        page_size,
        next_token: page.next_token,
        instance_cloud_assistant_status_set: AssistantStatusSet {
            items: page
                .items
                .into_iter()
                .map(|inst| {
                    let online = inst.agent_online();
                    InstanceCloudAssistantStatus {
                        instance_id: InstanceId::new(&inst.spec.id),
                        cloud_assistant_status: online.to_string(),
                        cloud_assistant_version: if inst.agent_installed {
                            inst.spec.agent.version.clone()
                        } else {
                            String::new()
                        },
                        os_type: inst.spec.os.title().to_owned(),
                        last_heartbeat_time: if online { now.clone() } else { String::new() },
                        last_invoked_time: iso_opt(inst.last_invoked),
                        active_task_count: inst.active_tasks,
                        invocation_count: inst.finished_tasks,
                        support_session_manager: inst.agent_installed,
                    }
                })
                .collect(),
        },
    })
}

fn install_cloud_assistant(
    sandbox: &Arc<Sandbox>,
    state: &mut State,
    call: &Call<'_>,
    req: &InstallCloudAssistant,
) -> Result<InstallCloudAssistantResponse, SandboxError> {
    let limit = sandbox.settings.limits.instances_per_install;
    if req.instance_ids.is_empty() {
        return Err(SandboxError::missing("InstanceId.1"));
    }
    if req.instance_ids.len() > limit {
        return Err(exceed_instances(limit));
    }
    let indexes: Vec<usize> = req
        .instance_ids
        .iter()
        .map(|id| {
            state
                .find(id.as_str(), call.region)
                .ok_or_else(not_found_instance)
        })
        .collect::<Result<_, _>>()?;
    for i in indexes {
        let inst = &mut state.instances[i];
        if !inst.agent_installed {
            inst.agent_installed = true;
            task::install_agent_later(sandbox, i);
        }
    }
    Ok(InstallCloudAssistantResponse::default())
}

// ---------------------------------------------------------------------------------------
// Commands.

/// A command definition after its checks, not yet stored.
struct NewCommand {
    name: String,
    description: String,
    command_type: CommandType,
    content: Vec<u8>,
    working_dir: String,
    timeout: i64,
    enable_parameter: bool,
    launcher: String,
    tags: Tags,
}

struct CommandFields<'a> {
    name: Option<&'a str>,
    description: Option<&'a str>,
    command_type: &'a CommandType,
    content: &'a str,
    /// Whether the content is Base64 (after the action's default and fallback).
    base64: bool,
    working_dir: Option<&'a str>,
    timeout: Option<u64>,
    enable_parameter: Option<bool>,
    launcher: Option<&'a str>,
    tags: &'a [TagFilter],
}

/// The limits CreateCommand, RunCommand and ModifyCommand share; returns the timeout.
fn check_settings(
    name: Option<&str>,
    description: Option<&str>,
    working_dir: Option<&str>,
    launcher: Option<&str>,
    timeout: Option<u64>,
) -> Result<i64, SandboxError> {
    check_len(name, 128, "CmdName.ExceedLimit", "command name")?;
    check_len(
        description,
        512,
        "CmdDesc.ExceedLimit",
        "command description",
    )?;
    if working_dir.is_some_and(|w| w.chars().count() > 200) {
        return Err(SandboxError::new(
            400,
            "InvalidParameter.WorkingDir",
            "The specified parameter WorkingDir is not valid.",
        ));
    }
    if launcher.is_some_and(|l| l.len() > 1024) {
        return Err(SandboxError::new(
            403,
            "InvalidLauncher.LengthLimitExceeded",
            "The length of the launcher exceeds the limit of 1 KB.",
        ));
    }
    let timeout = timeout.unwrap_or(60);
    if timeout > 86_400 {
        return Err(SandboxError::new(
            403,
            "InvalidTimeout.ExceedLimit",
            "The specified timeout exceeds the limit of 86400 seconds.",
        ));
    }
    Ok(i64::try_from(timeout).expect("at most 86400"))
}

fn check_command(sandbox: &Sandbox, f: &CommandFields<'_>) -> Result<NewCommand, SandboxError> {
    let timeout = check_settings(f.name, f.description, f.working_dir, f.launcher, f.timeout)?;
    if matches!(f.command_type, CommandType::Unknown(_)) {
        return Err(SandboxError::new(
            404,
            "InvalidCmdType.NotFound",
            "The specified command type does not exist.",
        ));
    }
    let (content, b64_len) = if f.base64 {
        let bytes = STANDARD.decode(f.content.trim()).map_err(|_| {
            SandboxError::new(
                400,
                "CmdContent.DecodeError",
                "The CommandContent can not be base64 decoded.",
            )
        })?;
        (bytes, f.content.trim().len())
    } else {
        let bytes = f.content.as_bytes().to_vec();
        let len = bytes.len().div_ceil(3) * 4;
        (bytes, len)
    };
    if b64_len > sandbox.settings.limits.content_bytes {
        return Err(content_too_large(sandbox.settings.limits.content_bytes));
    }
    let enable_parameter = f.enable_parameter.unwrap_or(false);
    if enable_parameter {
        let names = runner::parameter_names(&String::from_utf8_lossy(&content));
        if names.len() > 20 {
            return Err(SandboxError::new(
                403,
                "CmdParamCount.ExceedLimit",
                "The number of custom parameters exceeds the limit of 20.",
            ));
        }
        if names.iter().any(|n| n.len() > 64) {
            return Err(SandboxError::new(
                403,
                "CmdParamName.ExceedLimit",
                "The length of a parameter name exceeds the limit of 64.",
            ));
        }
    }
    Ok(NewCommand {
        name: f.name.unwrap_or_default().to_owned(),
        description: f.description.unwrap_or_default().to_owned(),
        command_type: f.command_type.clone(),
        content,
        working_dir: f.working_dir.unwrap_or_default().to_owned(),
        timeout,
        enable_parameter,
        launcher: f.launcher.unwrap_or_default().to_owned(),
        tags: tags_of(f.tags),
    })
}

fn content_too_large(limit: usize) -> SandboxError {
    SandboxError::new(
        403,
        "CmdContent.ExceedLimit",
        format!("The command content exceeds the limit of {limit} bytes after Base64 encoding."),
    )
}

fn quota_check(sandbox: &Sandbox, state: &State) -> Result<(), SandboxError> {
    if state.retained_commands() >= sandbox.settings.limits.commands {
        return Err(SandboxError::new(
            403,
            "CmdCount.ExceedQuota",
            "The total number of commands in the current region exceeds the quota.",
        ));
    }
    Ok(())
}

fn store_command(state: &mut State, call: &Call<'_>, new: NewCommand, kept: bool) -> CommandRec {
    let seq = state.next_seq();
    let id = state.new_id("c-");
    let parameter_names = if new.enable_parameter {
        runner::parameter_names(&String::from_utf8_lossy(&new.content))
    } else {
        Vec::new()
    };
    let rec = CommandRec {
        seq,
        id: id.clone(),
        region: call.region.to_owned(),
        name: new.name,
        description: new.description,
        command_type: new.command_type,
        content: new.content,
        working_dir: new.working_dir,
        timeout: new.timeout,
        enable_parameter: new.enable_parameter,
        parameter_names,
        launcher: new.launcher,
        tags: new.tags,
        created: call.now,
        invoke_times: 0,
        kept,
    };
    state.commands.insert(id.clone(), rec.clone());
    state.command_order.insert(seq, id);
    rec
}

fn create_command(
    sandbox: &Arc<Sandbox>,
    state: &mut State,
    call: &Call<'_>,
    req: &CreateCommand,
) -> Result<CreateCommandResponse, SandboxError> {
    // CreateCommand defaults to Base64 and treats an unknown encoding as Base64.
    let base64 = !req
        .content_encoding
        .as_ref()
        .is_some_and(|e| e.as_str().eq_ignore_ascii_case("PlainText"));
    let new = check_command(
        sandbox,
        &CommandFields {
            name: Some(&req.name),
            description: req.description.as_deref(),
            command_type: &req.command_type,
            content: &req.command_content,
            base64,
            working_dir: req.working_dir.as_deref(),
            timeout: req.timeout,
            enable_parameter: req.enable_parameter,
            launcher: req.launcher.as_deref(),
            tags: &req.tags,
        },
    )?;
    quota_check(sandbox, state)?;
    let rec = store_command(state, call, new, true);
    Ok(CreateCommandResponse {
        request_id: String::new(),
        command_id: CommandId::new(rec.id),
    })
}

fn delete_command(
    state: &mut State,
    call: &Call<'_>,
    req: &DeleteCommand,
) -> Result<DeleteCommandResponse, SandboxError> {
    let found = state
        .commands
        .get(req.command_id.as_str())
        .filter(|c| c.region == call.region)
        .map(|c| c.seq);
    let Some(seq) = found else {
        return Err(cmd_not_found());
    };
    state.commands.remove(req.command_id.as_str());
    state.command_order.remove(&seq);
    Ok(DeleteCommandResponse::default())
}

fn modify_command(
    state: &mut State,
    call: &Call<'_>,
    req: &ModifyCommand,
) -> Result<ModifyCommandResponse, SandboxError> {
    let timeout = check_settings(
        req.name.as_deref(),
        req.description.as_deref(),
        req.working_dir.as_deref(),
        req.launcher.as_deref(),
        req.timeout,
    )?;
    let Some(rec) = state
        .commands
        .get_mut(req.command_id.as_str())
        .filter(|c| c.region == call.region)
    else {
        return Err(cmd_not_found());
    };
    if let Some(name) = &req.name {
        rec.name.clone_from(name);
    }
    if let Some(description) = &req.description {
        rec.description.clone_from(description);
    }
    if let Some(working_dir) = &req.working_dir {
        rec.working_dir.clone_from(working_dir);
    }
    if let Some(launcher) = &req.launcher {
        rec.launcher.clone_from(launcher);
    }
    if req.timeout.is_some() {
        rec.timeout = timeout;
    }
    Ok(ModifyCommandResponse::default())
}

fn cmd_not_found() -> SandboxError {
    SandboxError::new(
        404,
        "InvalidCmdId.NotFound",
        "The specified command ID does not exist.",
    )
}

fn describe_commands(
    state: &State,
    call: &Call<'_>,
    req: &DescribeCommands,
) -> Result<DescribeCommandsResponse, SandboxError> {
    let paging = Paging::new(
        req.max_results,
        req.next_token.as_deref(),
        req.page_number,
        req.page_size,
        &PageLimits { max: 50, min: 1 },
    )?
    .capped(call.max_page_size);
    let public = req.provider.as_deref().is_some_and(|p| !p.is_empty());
    let upper = paging.after.map_or(u64::MAX, |a| {
        u64::MAX - u64::try_from(a >> 32).unwrap_or(u64::MAX)
    });
    let items = state
        .command_order
        .range(..upper)
        .rev()
        .filter(|_| !public)
        .filter_map(|(_, id)| state.commands.get(id))
        .filter(|c| {
            c.region == call.region
                && req.command_id.as_ref().is_none_or(|id| id.as_str() == c.id)
                && req.name.as_deref().is_none_or(|p| wildcard(p, &c.name))
                && req
                    .description
                    .as_deref()
                    .is_none_or(|p| wildcard(p, &c.description))
                && req
                    .command_type
                    .as_deref()
                    .is_none_or(|t| t == c.command_type.as_str())
                && tags_match(&c.tags, &req.tags)
        })
        .map(|c| (newest_first(c.seq), c));
    let page = paging.take(items);
    let (total, page_number, page_size) = page.counts();
    let encoding = req.content_encoding.as_deref();
    Ok(DescribeCommandsResponse {
        request_id: String::new(),
        total_count: total,
        page_number,
        page_size,
        next_token: page.next_token,
        commands: Commands {
            command: page
                .items
                .into_iter()
                .map(|c| Command {
                    command_id: CommandId::new(&c.id),
                    name: c.name.clone(),
                    description: c.description.clone(),
                    command_type: c.command_type.to_string(),
                    command_content: encode(&c.content, encoding),
                    working_dir: c.working_dir.clone(),
                    timeout: c.timeout,
                    enable_parameter: c.enable_parameter,
                    launcher: c.launcher.clone(),
                    creation_time: iso(c.created),
                    invoke_times: c.invoke_times,
                    parameter_names: ParameterNames {
                        parameter_name: c.parameter_names.clone(),
                    },
                    tags: c.tags.clone(),
                    ..Command::default()
                })
                .collect(),
        },
    })
}

// ---------------------------------------------------------------------------------------
// Invocations.

/// The invocation parameters InvokeCommand and RunCommand share.
struct InvokeArgs<'a> {
    instance_ids: &'a [InstanceId],
    resource_tags: &'a [TagFilter],
    repeat_mode: Option<&'a RepeatMode>,
    frequency: Option<&'a str>,
    parameters: Option<&'a str>,
    /// Invocation timeout; `None` for the command's.
    timeout: Option<u64>,
    working_dir: Option<&'a str>,
    username: Option<&'a str>,
    termination_mode: Option<&'a str>,
    container_id: Option<&'a str>,
    container_name: Option<&'a str>,
    tags: &'a [TagFilter],
}

/// A checked invocation, ready to commit.
struct NewInvocation {
    instances: Vec<usize>,
    schedule: Option<Schedule>,
    repeat_mode: RepeatMode,
    frequency: String,
    parameters: String,
    timeout: Option<i64>,
    working_dir: Option<String>,
    username: Option<String>,
    termination_mode: String,
    container_id: String,
    container_name: String,
    tags: Tags,
    dry_run: bool,
}

#[expect(
    clippy::too_many_lines,
    reason = "one check after another, in the documented order"
)]
fn check_invocation(
    sandbox: &Sandbox,
    state: &State,
    call: &Call<'_>,
    command: &NewCommandView<'_>,
    args: &InvokeArgs<'_>,
) -> Result<NewInvocation, SandboxError> {
    let limits = &sandbox.settings.limits;
    // Targets.
    let instances: Vec<usize> = match (args.instance_ids.is_empty(), args.resource_tags.is_empty())
    {
        (false, false) => {
            return Err(SandboxError::new(
                400,
                "InvalidResourceTag.ConflictWithInstanceIds",
                "ResourceTag and InstanceId cannot be specified at the same time.",
            ));
        }
        (true, true) => {
            return Err(SandboxError::new(
                400,
                "MissingParam.InstanceId",
                "The parameter InstanceId or ResourceTag is mandatory for this action.",
            ));
        }
        (false, true) => {
            if args.instance_ids.len() > limits.instances_per_invoke {
                return Err(exceed_instances(limits.instances_per_invoke));
            }
            let mut seen = std::collections::HashSet::new();
            if !args.instance_ids.iter().all(|id| seen.insert(id.as_str())) {
                return Err(SandboxError::new(
                    400,
                    "InvalidParameter",
                    "The specified parameter \"InstanceId\" contains duplicate values.",
                ));
            }
            args.instance_ids
                .iter()
                .map(|id| {
                    state
                        .find(id.as_str(), call.region)
                        .ok_or_else(not_found_instance)
                })
                .collect::<Result<_, _>>()?
        }
        (true, false) => {
            if args.resource_tags.len() > 10 {
                return Err(SandboxError::new(
                    400,
                    "NumberExceed.ResourceTags",
                    "The number of resource tags exceeds the limit of 10.",
                ));
            }
            if args.resource_tags.iter().any(|t| t.key.is_empty()) {
                return Err(SandboxError::new(
                    400,
                    "MissingParameter.ResourceTagKey",
                    "The tag key of ResourceTag is mandatory.",
                ));
            }
            let tags: Vec<(String, Option<String>)> = args
                .resource_tags
                .iter()
                .map(|t| (t.key.clone(), t.value.clone()))
                .collect();
            let found = state.with_tags(call.region, &tags);
            if found.is_empty() {
                return Err(SandboxError::new(
                    400,
                    "InvalidResourceTag.InstanceNotFound",
                    "No instance matches the specified resource tags.",
                ));
            }
            if found.len() > limits.instances_per_invoke {
                return Err(exceed_instances(limits.instances_per_invoke));
            }
            found
        }
    };
    // Repeat mode and schedule.
    let frequency = args.frequency.map(str::trim).filter(|f| !f.is_empty());
    let repeat_mode = match (args.repeat_mode, frequency) {
        (_, Some(_)) => RepeatMode::Period,
        (Some(RepeatMode::Period), None) => {
            return Err(SandboxError::new(
                400,
                "MissingParam.Frequency",
                "The parameter Frequency is mandatory when RepeatMode is Period.",
            ));
        }
        (Some(RepeatMode::Unknown(_)), None) => {
            return Err(SandboxError::new(
                404,
                "InvalidRepeatMode.NotFound",
                "The specified repeat mode does not exist.",
            ));
        }
        (Some(mode), None) => mode.clone(),
        (None, None) => RepeatMode::Once,
    };
    let schedule = frequency
        .map(|f| {
            let timeout = args
                .timeout
                .and_then(|t| i64::try_from(t).ok())
                .unwrap_or(command.timeout);
            check_frequency(f, timeout, call.now)
        })
        .transpose()?;
    // Timeout, directory, user, termination mode.
    if let Some(t) = args.timeout {
        if t < 10 {
            return Err(SandboxError::new(
                400,
                "InvalidParam.Timeout",
                "The specified parameter Timeout is not valid: it must be at least 10 seconds.",
            ));
        }
        if t > 86_400 {
            return Err(SandboxError::new(
                403,
                "InvalidTimeout.ExceedLimit",
                "The specified timeout exceeds the limit of 86400 seconds.",
            ));
        }
    }
    if args.working_dir.is_some_and(|w| w.chars().count() > 200) {
        return Err(SandboxError::new(
            400,
            "InvalidParameter.WorkingDir",
            "The specified parameter WorkingDir is not valid.",
        ));
    }
    check_len(args.username, 255, "Username.ExceedLimit", "username")?;
    let termination_mode = args.termination_mode.unwrap_or_default();
    if !matches!(termination_mode, "" | "Process" | "ProcessTree") {
        return Err(SandboxError::new(
            404,
            "InvalidTerminationMode.NotFound",
            "The specified termination mode does not exist.",
        ));
    }
    // Parameters.
    let values = check_parameters(command, args.parameters)?;
    if let Some(values) = &values {
        let resolved = runner::substitute_params(&String::from_utf8_lossy(command.content), values);
        if resolved.len().div_ceil(3) * 4 > limits.content_bytes {
            return Err(content_too_large(limits.content_bytes));
        }
    }
    // Instance state: every instance Running with an agent, or the whole call fails.
    for i in &instances {
        let inst = &state.instances[*i];
        if inst.status != InstanceStatus::Running || !inst.agent_installed {
            return Err(SandboxError::new(
                400,
                "InvalidInstance.NotMatch",
                format!(
                    "The instance {} does not meet the conditions of the command (it must be Running with Cloud Assistant installed).",
                    inst.spec.id
                ),
            ));
        }
    }
    if let Some(quota) = limits.executions
        && state.executions_accepted + instances.len() as u64 > quota
    {
        return Err(SandboxError::new(
            403,
            "Invocation.ExceedQuota",
            "The number of executions in the current region exceeds the daily quota.",
        ));
    }
    Ok(NewInvocation {
        instances,
        schedule,
        dry_run: repeat_mode == RepeatMode::DryRun,
        repeat_mode,
        frequency: frequency.unwrap_or_default().to_owned(),
        parameters: values.map_or_else(
            || "{}".to_owned(),
            |v| serde_json::to_string(&v).expect("a string map serialises"),
        ),
        timeout: args
            .timeout
            .map(|t| i64::try_from(t).expect("checked above")),
        working_dir: args.working_dir.map(str::to_owned),
        username: args.username.filter(|u| !u.is_empty()).map(str::to_owned),
        termination_mode: termination_mode.to_owned(),
        container_id: args.container_id.unwrap_or_default().to_owned(),
        container_name: args.container_name.unwrap_or_default().to_owned(),
        tags: tags_of(args.tags),
    })
}

/// The checks the service does on a schedule (reference §7), with the dialect implementation
/// the client uses (`crate::schedule`): the syntax of `rate(..)`, `at(..)` and cron, the rate
/// bounds, the cron minimum interval, the interval against the task's timeout and a run in the
/// future. Every refusal is `InvalidParam.Frequency`.
fn check_frequency(
    frequency: &str,
    timeout: i64,
    now: DateTime<Utc>,
) -> Result<Schedule, SandboxError> {
    let bad = |detail: &str| {
        SandboxError::new(
            400,
            "InvalidParam.Frequency",
            format!("The specified parameter Frequency is not valid: {detail}."),
        )
    };
    let freq = schedule::parse(frequency).map_err(|e| bad(&e.message))?;
    let timeout = std::time::Duration::from_secs(u64::try_from(timeout).unwrap_or(0));
    schedule::validate(&freq, timeout, now).map_err(|e| bad(&e.message))?;
    Ok(match freq.kind() {
        FrequencyKind::Rate(period) => Schedule::Rate(*period),
        FrequencyKind::At(instant) => Schedule::At((*instant - now).to_std().unwrap_or_default()),
        FrequencyKind::Cron(_) => Schedule::Cron(Box::new(freq)),
    })
}

/// What `check_invocation` needs of the command.
struct NewCommandView<'a> {
    content: &'a [u8],
    /// The command's timeout in seconds, for a schedule's interval check.
    timeout: i64,
    enable_parameter: bool,
    parameter_names: &'a [String],
}

/// Checks `Parameters` (reference §8); `None` when absent.
fn check_parameters(
    command: &NewCommandView<'_>,
    parameters: Option<&str>,
) -> Result<Option<BTreeMap<String, String>>, SandboxError> {
    let Some(text) = parameters.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if !command.enable_parameter {
        return Err(SandboxError::new(
            400,
            "Parameter.Disabled",
            "Parameters cannot be passed to a command whose EnableParameter is false.",
        ));
    }
    let invalid = || {
        SandboxError::new(
            400,
            "InvalidParameter.Parameters",
            "The specified parameter Parameters is not valid.",
        )
    };
    let value: serde_json::Value = serde_json::from_str(text).map_err(|_| invalid())?;
    let object = value.as_object().ok_or_else(invalid)?;
    if object.len() > 10 {
        return Err(SandboxError::new(
            403,
            "ParameterCount.ExceedLimit",
            "The number of parameters exceeds the limit of 10.",
        ));
    }
    let mut values = BTreeMap::new();
    for (key, value) in object {
        if key.is_empty() {
            return Err(invalid());
        }
        if key.len() > 64 {
            return Err(SandboxError::new(
                403,
                "ParameterKey.ExceedLimit",
                "The length of a parameter key exceeds the limit of 64.",
            ));
        }
        let Some(value) = value.as_str() else {
            return Err(SandboxError::new(
                403,
                "ParameterType.NotSupported",
                format!("The value of parameter {key} must be a string."),
            ));
        };
        if !command
            .parameter_names
            .iter()
            .any(|n| n.eq_ignore_ascii_case(key))
        {
            return Err(SandboxError::new(
                403,
                "Parameter.NotMatched",
                format!("The parameter {key} is not defined in the command."),
            ));
        }
        values.insert(key.clone(), value.to_owned());
    }
    if let Some(missing) = command
        .parameter_names
        .iter()
        .find(|n| !values.keys().any(|k| k.eq_ignore_ascii_case(n)))
    {
        return Err(SandboxError::new(
            400,
            "Parameter.MissingValue",
            format!("The value of parameter {missing} is missing."),
        ));
    }
    Ok(Some(values))
}

fn dry_run_passed() -> SandboxError {
    SandboxError::new(
        400,
        "DryRunOperation",
        "Request validation has been passed with DryRun flag set.",
    )
}

/// Stores a checked task and starts its runs.
fn commit_invocation(
    sandbox: &Arc<Sandbox>,
    state: &mut State,
    call: &Call<'_>,
    command: CommandRec,
    new: NewInvocation,
) -> String {
    let seq = state.next_seq();
    let id = state.new_id("t-");
    let windows = new
        .instances
        .first()
        .is_some_and(|i| state.instances[*i].spec.os == Os::Windows);
    // Shown as given, else the default of the first instance's OS; each run uses its own
    // instance's default (`root` on Linux, `System` on Windows) when none was given.
    let username = new
        .username
        .clone()
        .unwrap_or_else(|| if windows { "System" } else { "root" }.to_owned());
    let scheduled = matches!(
        new.repeat_mode,
        RepeatMode::Period | RepeatMode::NextRebootOnly | RepeatMode::EveryReboot
    );
    let cap = sandbox.settings.limits.output_bytes;
    let runs: Vec<RunRec> = new
        .instances
        .iter()
        .map(|i| {
            let mut run = RunRec::pending(*i, call.now, cap);
            if scheduled {
                run.status = S::Scheduled;
            }
            run
        })
        .collect();
    for i in &new.instances {
        state.instance_tasks[*i].push(seq);
    }
    state.executions_accepted += new.instances.len() as u64;
    if let Some(c) = state.commands.get_mut(&command.id) {
        c.invoke_times += 1;
    }
    let count = runs.len();
    state
        .command_tasks
        .entry(command.id.clone())
        .or_default()
        .push(seq);
    let inv = InvocationRec {
        seq,
        id: id.clone(),
        region: call.region.to_owned(),
        working_dir: new
            .working_dir
            .unwrap_or_else(|| command.working_dir.clone()),
        timeout: new.timeout.unwrap_or(command.timeout),
        command,
        parameters: new.parameters,
        repeat_mode: new.repeat_mode,
        frequency: new.frequency,
        username,
        username_given: new.username,
        termination_mode: new.termination_mode,
        container_id: new.container_id,
        container_name: new.container_name,
        tags: new.tags,
        created: call.now,
        schedule_stopped: false,
        runs,
    };
    state.invocations.insert(id.clone(), inv);
    state.invocation_order.insert(seq, id.clone());
    if !scheduled {
        task::spawn_runs(sandbox, &id, count);
    } else if let Some(schedule) = new.schedule {
        task::schedule(sandbox, &id, schedule);
    }
    id
}

fn invoke_command(
    sandbox: &Arc<Sandbox>,
    state: &mut State,
    call: &Call<'_>,
    req: &InvokeCommand,
) -> Result<InvokeCommandResponse, SandboxError> {
    let command = state
        .commands
        .get(req.command_id.as_str())
        .filter(|c| c.region == call.region)
        .cloned()
        .ok_or_else(cmd_not_found)?;
    let new = check_invocation(
        sandbox,
        state,
        call,
        &NewCommandView {
            content: &command.content,
            timeout: command.timeout,
            enable_parameter: command.enable_parameter,
            parameter_names: &command.parameter_names,
        },
        &InvokeArgs {
            instance_ids: &req.instance_ids,
            resource_tags: &req.resource_tags,
            repeat_mode: req.repeat_mode.as_ref(),
            frequency: req.frequency.as_deref(),
            parameters: req.parameters.as_deref(),
            timeout: req.timeout,
            working_dir: req.working_dir.as_deref(),
            username: req.username.as_deref(),
            termination_mode: req.termination_mode.as_deref(),
            container_id: req.container_id.as_deref(),
            container_name: req.container_name.as_deref(),
            tags: &req.tags,
        },
    )?;
    if new.dry_run {
        return Err(dry_run_passed());
    }
    let id = commit_invocation(sandbox, state, call, command, new);
    Ok(InvokeCommandResponse {
        request_id: String::new(),
        invoke_id: InvokeId::new(id),
    })
}

fn run_command(
    sandbox: &Arc<Sandbox>,
    state: &mut State,
    call: &Call<'_>,
    req: &RunCommand,
) -> Result<RunCommandResponse, SandboxError> {
    // RunCommand defaults to PlainText and treats an unknown encoding as PlainText.
    let base64 = req
        .content_encoding
        .as_ref()
        .is_some_and(|e| e.as_str().eq_ignore_ascii_case("Base64"));
    let new_command = check_command(
        sandbox,
        &CommandFields {
            name: req.name.as_deref(),
            description: req.description.as_deref(),
            command_type: &req.command_type,
            content: &req.command_content,
            base64,
            working_dir: req.working_dir.as_deref(),
            timeout: req.timeout,
            enable_parameter: req.enable_parameter,
            launcher: req.launcher.as_deref(),
            tags: &[],
        },
    )?;
    let keep = req.keep_command.unwrap_or(false);
    if keep {
        quota_check(sandbox, state)?;
    }
    let names = if new_command.enable_parameter {
        runner::parameter_names(&String::from_utf8_lossy(&new_command.content))
    } else {
        Vec::new()
    };
    // RunCommand's own Timeout is the command's; the ≥ 10 s rule is InvokeCommand's.
    let new = check_invocation(
        sandbox,
        state,
        call,
        &NewCommandView {
            content: &new_command.content,
            timeout: new_command.timeout,
            enable_parameter: new_command.enable_parameter,
            parameter_names: &names,
        },
        &InvokeArgs {
            instance_ids: &req.instance_ids,
            resource_tags: &req.resource_tags,
            repeat_mode: req.repeat_mode.as_ref(),
            frequency: req.frequency.as_deref(),
            parameters: req.parameters.as_deref(),
            timeout: None,
            working_dir: None,
            username: req.username.as_deref(),
            termination_mode: req.termination_mode.as_deref(),
            container_id: req.container_id.as_deref(),
            container_name: req.container_name.as_deref(),
            tags: &req.tags,
        },
    )?;
    if new.dry_run {
        return Err(dry_run_passed());
    }
    let command = store_command(state, call, new_command, keep);
    let command_id = command.id.clone();
    let invoke_id = commit_invocation(sandbox, state, call, command, new);
    Ok(RunCommandResponse {
        request_id: String::new(),
        command_id: CommandId::new(command_id),
        invoke_id: InvokeId::new(invoke_id),
    })
}

/// Task ids to list, newest first, starting after the token key: one task, one instance's
/// tasks or all.
fn task_seqs<'a>(
    state: &'a State,
    call: &Call<'_>,
    invoke_id: Option<&InvokeId>,
    instance: Option<usize>,
    command_id: Option<&CommandId>,
    after: Option<u128>,
) -> Box<dyn Iterator<Item = &'a InvocationRec> + 'a> {
    let upper = after.map_or(u64::MAX, |a| {
        u64::MAX - u64::try_from(a >> 32).unwrap_or(u64::MAX)
    });
    let region = call.region.to_owned();
    let in_region = move |inv: &&InvocationRec| inv.region == region;
    if let Some(id) = invoke_id {
        let found = state
            .invocations
            .get(id.as_str())
            .filter(|inv| inv.seq < upper);
        return Box::new(found.into_iter().filter(in_region));
    }
    // An instance's or a command's own tasks, through their indexes.
    let indexed = match (instance, command_id) {
        (Some(i), _) => Some(state.instance_tasks[i].as_slice()),
        (None, Some(command)) => Some(
            state
                .command_tasks
                .get(command.as_str())
                .map_or(&[][..], Vec::as_slice),
        ),
        (None, None) => None,
    };
    if let Some(seqs) = indexed {
        let end = seqs.partition_point(|s| *s < upper);
        return Box::new(
            seqs[..end]
                .iter()
                .rev()
                .filter_map(|seq| state.invocation_order.get(seq))
                .filter_map(|id| state.invocations.get(id))
                .filter(in_region),
        );
    }
    Box::new(
        state
            .invocation_order
            .range(..upper)
            .rev()
            .filter_map(|(_, id)| state.invocations.get(id))
            .filter(in_region),
    )
}

fn describe_invocations(
    state: &State,
    call: &Call<'_>,
    req: &DescribeInvocations,
) -> Result<DescribeInvocationsResponse, SandboxError> {
    let paging = Paging::new(
        req.max_results,
        req.next_token.as_deref(),
        req.page_number,
        req.page_size,
        &PageLimits { max: 50, min: 1 },
    )?
    .capped(call.max_page_size);
    let instance = match &req.instance_id {
        Some(id) => Some(
            state
                .find(id.as_str(), call.region)
                .ok_or_else(not_found_instance)?,
        ),
        None => None,
    };
    let scoped = req.invoke_id.is_some() || req.instance_id.is_some();
    let include_output = req.include_output.unwrap_or(false) && scoped;
    let encoding = req.content_encoding.as_deref();
    let items = task_seqs(
        state,
        call,
        req.invoke_id.as_ref(),
        instance,
        req.command_id.as_ref(),
        paging.after,
    )
    .filter(|inv| {
        req.command_id
            .as_ref()
            .is_none_or(|c| c.as_str() == inv.command.id)
            && (instance.is_some()
                || req
                    .command_name
                    .as_deref()
                    .is_none_or(|n| n == inv.command.name))
            && req
                .command_type
                .as_deref()
                .is_none_or(|t| t == inv.command.command_type.as_str())
            && req.invoke_status.as_deref().is_none_or(|s| {
                let aggregate = inv.aggregate();
                s == aggregate.as_str() || s == aggregate.legacy(inv.timed())
            })
            && (instance.is_some()
                || req
                    .repeat_mode
                    .as_deref()
                    .is_none_or(|m| m == inv.repeat_mode.as_str()))
            && req.timed.is_none_or(|t| t == inv.timed())
            && tags_match(&inv.tags, &req.tags)
    })
    .map(|inv| (newest_first(inv.seq), inv));
    let page = paging.take(items);
    let (total, page_number, page_size) = page.counts();
    Ok(DescribeInvocationsResponse {
        request_id: String::new(),
        total_count: total,
        page_number,
        page_size,
        next_token: page.next_token,
        invocations: Invocations {
            invocation: page
                .items
                .into_iter()
                .map(|inv| invocation_view(state, inv, instance, include_output, encoding))
                .collect(),
        },
    })
}

fn invocation_view(
    state: &State,
    inv: &InvocationRec,
    instance: Option<usize>,
    include_output: bool,
    encoding: Option<&str>,
) -> Invocation {
    let aggregate = inv.aggregate();
    let timed = inv.timed();
    Invocation {
        invoke_id: InvokeId::new(&inv.id),
        command_id: CommandId::new(&inv.command.id),
        command_name: inv.command.name.clone(),
        command_type: inv.command.command_type.to_string(),
        command_description: inv.command.description.clone(),
        command_content: encode(&inv.command.content, encoding),
        parameters: inv.parameters.clone(),
        invoke_status: aggregate.legacy(timed).to_owned(),
        invocation_status: aggregate,
        repeat_mode: inv.repeat_mode.to_string(),
        frequency: inv.frequency.clone(),
        timed,
        timeout: inv.timeout,
        working_dir: inv.working_dir.clone(),
        username: inv.username.clone(),
        creation_time: iso(inv.created),
        container_id: inv.container_id.clone(),
        container_name: inv.container_name.clone(),
        termination_mode: inv.termination_mode.clone(),
        launcher: inv.command.launcher.clone(),
        oss_output_delivery: String::new(),
        tags: inv.tags.clone(),
        invoke_instances: InvokeInstances {
            invoke_instance: inv
                .runs
                .iter()
                .filter(|r| instance.is_none_or(|i| r.inst == i))
                .map(|r| InvokeInstance {
                    instance_id: InstanceId::new(&state.instances[r.inst].spec.id),
                    invocation_status: r.status.clone(),
                    instance_invoke_status: record_status(&r.status).to_owned(),
                    exit_code: r.exit_code,
                    error_code: r.error_code.to_owned(),
                    error_info: r.error_info.clone(),
                    output: include_output.then(|| encode(&r.output.bytes(), encoding)),
                    dropped: i64::try_from(r.output.dropped()).unwrap_or(i64::MAX),
                    repeats: r.repeats,
                    timed,
                    creation_time: iso(r.created),
                    start_time: iso_opt(r.started),
                    finish_time: iso_opt(r.finished),
                    stop_time: iso_opt(r.stopped),
                    update_time: iso(r.updated),
                    ..InvokeInstance::default()
                })
                .collect(),
        },
    }
}

fn describe_invocation_results(
    state: &State,
    call: &Call<'_>,
    req: &DescribeInvocationResults,
) -> Result<DescribeInvocationResultsResponse, SandboxError> {
    let paging = Paging::new(
        req.max_results,
        req.next_token.as_deref(),
        req.page_number,
        req.page_size,
        &PageLimits { max: 50, min: 1 },
    )?
    .capped(call.max_page_size);
    let instance = match &req.instance_id {
        Some(id) => Some(
            state
                .find(id.as_str(), call.region)
                .ok_or_else(not_found_instance)?,
        ),
        None => None,
    };
    let history = req.include_history.unwrap_or(false);
    if history && req.invoke_id.is_none() {
        return Err(SandboxError::new(
            400,
            "MissingParameter",
            "InvokeId is mandatory when IncludeHistory is true.",
        ));
    }
    let encoding = req.content_encoding.as_deref();
    let after = paging.after;
    // The token names a record inside a task, so the task itself is listed again and the
    // records up to the token are skipped.
    let task_after = after.map(|a| a.saturating_sub(1 << 32));
    let items = task_seqs(
        state,
        call,
        req.invoke_id.as_ref(),
        instance,
        req.command_id.as_ref(),
        task_after,
    )
    .filter(|inv| {
        req.command_id
            .as_ref()
            .is_none_or(|c| c.as_str() == inv.command.id)
    })
    .flat_map(move |inv| {
        inv.runs
            .iter()
            .enumerate()
            .filter(move |(_, r)| instance.is_none_or(|i| r.inst == i))
            .flat_map(move |(i, r)| record_views(inv, i, r, history))
    })
    .filter(move |(key, view)| {
        after.is_none_or(|a| *key > a)
            && req
                .invoke_record_status
                .as_deref()
                .is_none_or(|s| s == record_status(view.status) || s == view.status.as_str())
    });
    let page = paging.take(items);
    let (total, page_number, page_size) = page.counts();
    Ok(DescribeInvocationResultsResponse {
        request_id: String::new(),
        invocation: InvocationResultPage {
            total_count: total,
            page_number,
            page_size,
            next_token: page.next_token,
            invocation_results: InvocationResults {
                invocation_result: page
                    .items
                    .into_iter()
                    .map(|view| {
                        let (inv, r) = (view.inv, view.run);
                        InvocationResult {
                            invoke_id: InvokeId::new(&inv.id),
                            instance_id: InstanceId::new(&state.instances[r.inst].spec.id),
                            command_id: CommandId::new(&inv.command.id),
                            invocation_status: view.status.clone(),
                            invoke_record_status: record_status(view.status).to_owned(),
                            exit_code: view.exit_code,
                            error_code: view.error_code.to_owned(),
                            error_info: view.error_info.to_owned(),
                            output: Some(encode(&view.output_bytes(), encoding)),
                            dropped: i64::try_from(view.dropped).unwrap_or(i64::MAX),
                            repeats: view.repeats,
                            start_time: iso_opt(view.started),
                            finished_time: iso_opt(view.finished),
                            stop_time: iso_opt(r.stopped),
                            username: inv.user_for(state.instances[r.inst].spec.os),
                            container_id: inv.container_id.clone(),
                            container_name: inv.container_name.clone(),
                            termination_mode: inv.termination_mode.clone(),
                            launcher: inv.command.launcher.clone(),
                            tags: inv.tags.clone(),
                            ..InvocationResult::default()
                        }
                    })
                    .collect(),
            },
        },
    })
}

/// One record as DescribeInvocationResults shows it: the current state of a run, or (with
/// `IncludeHistory`) a past run of a scheduled task.
struct RecordView<'a> {
    inv: &'a InvocationRec,
    run: &'a RunRec,
    status: &'a S,
    exit_code: Option<i64>,
    error_code: &'a str,
    error_info: &'a str,
    /// The live buffer, or a past run's kept bytes; copied only for the page's records.
    output: Result<&'a crate::sandbox::runner::Output, &'a [u8]>,
    dropped: u64,
    repeats: i32,
    started: Option<DateTime<Utc>>,
    finished: Option<DateTime<Utc>>,
}

impl RecordView<'_> {
    fn output_bytes(&self) -> std::borrow::Cow<'_, [u8]> {
        match self.output {
            Ok(live) => std::borrow::Cow::Owned(live.bytes()),
            Err(past) => std::borrow::Cow::Borrowed(past),
        }
    }
}

/// The records of one run, keyed for paging: without history only the current state; with
/// it every past run, then the current one unless it is between runs or already listed.
fn record_views<'a>(
    inv: &'a InvocationRec,
    index: usize,
    run: &'a RunRec,
    history: bool,
) -> Vec<(u128, RecordView<'a>)> {
    let base = newest_first(inv.seq) | ((index as u128) << 20);
    let current = RecordView {
        inv,
        run,
        status: &run.status,
        exit_code: run.exit_code,
        error_code: run.error_code,
        error_info: &run.error_info,
        output: Ok(&run.output),
        dropped: run.output.dropped(),
        repeats: run.repeats,
        started: run.started,
        finished: run.finished,
    };
    if !history {
        return vec![(base | 0xF_FFFF, current)];
    }
    let mut views: Vec<(u128, RecordView<'a>)> = run
        .history
        .iter()
        .enumerate()
        .map(|(h, past)| {
            (
                base | h as u128,
                RecordView {
                    inv,
                    run,
                    status: &past.status,
                    exit_code: past.exit_code,
                    error_code: past.error_code,
                    error_info: &past.error_info,
                    output: Err(&past.output),
                    dropped: past.dropped,
                    repeats: past.repeats,
                    started: past.started,
                    finished: past.finished,
                },
            )
        })
        .collect();
    if !run.archived && run.status != S::Scheduled {
        views.push((base | 0xF_FFFF, current));
    }
    views
}

fn stop_invocation(
    sandbox: &Sandbox,
    state: &mut State,
    call: &Call<'_>,
    req: &StopInvocation,
) -> Result<StopInvocationResponse, SandboxError> {
    let limit = sandbox.settings.limits.instances_per_stop;
    if req.instance_ids.len() > limit {
        return Err(exceed_instances(limit));
    }
    let targets: Option<Vec<usize>> = if req.instance_ids.is_empty() {
        None
    } else {
        Some(
            req.instance_ids
                .iter()
                .map(|id| {
                    state.find(id.as_str(), call.region).ok_or_else(|| {
                        SandboxError::new(
                            404,
                            "InvalidInstanceId.NotFound",
                            "The specified instance does not exist.",
                        )
                    })
                })
                .collect::<Result<_, _>>()?,
        )
    };
    let invoke_id = req.invoke_id.as_str().to_owned();
    let inv = state
        .invocations
        .get_mut(&invoke_id)
        .filter(|inv| inv.region == call.region)
        .ok_or_else(|| {
            SandboxError::new(
                404,
                "InvalidInvokeId.NotFound",
                "The specified invoke ID does not exist.",
            )
        })?;
    if let Some(targets) = &targets
        && let Some(missing) = targets
            .iter()
            .find(|t| !inv.runs.iter().any(|r| r.inst == **t))
    {
        let _ = missing;
        return Err(SandboxError::new(
            404,
            "InvalidInstanceId.NotFound",
            "The specified instance is not part of the invocation.",
        ));
    }
    let now = call.now;
    let whole = targets.is_none();
    for run in inv
        .runs
        .iter_mut()
        .filter(|r| targets.as_ref().is_none_or(|t| t.contains(&r.inst)))
    {
        run.stopped.get_or_insert(now);
        run.updated = now;
        match run.status {
            S::Pending | S::Scheduled => {
                run.finish(S::Cancelled, "", now);
                run.finished = None;
            }
            // The agent kills a running one-time task (reference §4.9, the agent side of the
            // documented conflict); the run task records `Terminated`.
            S::Running => {
                if let Some(stop) = run.stop.take() {
                    run.status = S::Stopping;
                    let _ = stop.send(crate::sandbox::runner::StopReason::Stopped);
                }
            }
            _ => {}
        }
    }
    if whole
        || inv
            .runs
            .iter()
            .all(|r| r.status.is_final() || r.status == S::Stopping)
    {
        inv.schedule_stopped = true;
    }
    state.drop_unkept_command(&invoke_id);
    Ok(StopInvocationResponse::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_like_the_service() {
        let cases = [
            ("web*", "web-01", true),
            ("*01", "web-01", true),
            ("*b-0*", "web-01", true),
            ("web", "web-01", false),
            ("web-01", "web-01", true),
            ("db*", "web-01", false),
        ];
        for (pattern, value, expected) in cases {
            assert_eq!(wildcard(pattern, value), expected, "{pattern} {value}");
        }
    }

    /// One Frequency, task timeout and expected answer per line: the sandbox refuses what the
    /// client's dialect refuses, as `InvalidParam.Frequency`.
    #[test]
    fn frequency_checks() {
        let now = DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z")
            .expect("an instant")
            .to_utc();
        let cases: &[(&str, i64, Result<&str, &str>)] = &[
            ("rate(5m)", 60, Ok("rate 300s")),
            ("RATE (90 s)", 60, Ok("rate 90s")),
            (
                "rate(30s)",
                10,
                Err("the interval `30s` is shorter than the 60s minimum"),
            ),
            ("rate(8d)", 60, Err("longer than the 7-day maximum")),
            ("rate(1m)", 60, Err("is not longer than the timeout (1m)")),
            (
                "at(2030-06-06 13:15:30 Asia/Shanghai)",
                60,
                Ok("at 13497330s"),
            ),
            ("at(2030-01-01 00:00:10 GMT+0:00)", 60, Ok("at 10s")),
            ("at(2020-01-01 00:00:00)", 60, Err("is in the past")),
            ("at(2030-06-06 13:15:30 GMT+08:00)", 60, Err("leading zero")),
            ("0 */20 * * * ?", 60, Ok("cron")),
            ("0/10 * * * * ?", 10, Ok("cron")),
            ("0/10 * * * * ?", 60, Err("less than the timeout (1m)")),
            ("*/5 * * * * ?", 1, Err("at least 10s between cron runs")),
            ("0 15 10 ? * * 2031 Asia/Shanghai", 60, Ok("cron")),
            ("0 15 10 ? * * 2029", 60, Err("has no run after now")),
            ("*/5 * * * *", 60, Err("has 5 fields")),
            ("0 0 12 ? * MON-SUN", 60, Err("ends before it starts")),
        ];
        for (input, timeout, expected) in cases {
            let got = check_frequency(input, *timeout, now);
            match (got, expected) {
                (Ok(schedule), Ok(want)) => {
                    let shown = match schedule {
                        Schedule::Rate(d) => format!("rate {}s", d.as_secs()),
                        Schedule::At(d) => format!("at {}s", d.as_secs()),
                        Schedule::Cron(_) => "cron".to_owned(),
                    };
                    assert_eq!(shown, *want, "{input}");
                }
                (Err(error), Err(want)) => {
                    assert_eq!(error.code, "InvalidParam.Frequency", "{input}");
                    assert_eq!(error.status.as_u16(), 400, "{input}");
                    assert!(error.message.contains(want), "{input}: {}", error.message);
                }
                (got, _) => panic!("{input}: {got:?}"),
            }
        }
    }
}
