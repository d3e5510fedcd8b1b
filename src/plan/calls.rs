//! The API requests of a step, built in one place for both the plan (for review) and the
//! executor (for real), so that `run` sends exactly what `plan` showed.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::cloud::actions::{CreateCommand, DeleteCommand, InvokeCommand, TagFilter};
use crate::cloud::id::{CommandId, InstanceId};
use crate::cloud::status::{ContentEncoding, RepeatMode};
use crate::plan::model::PlanStep;
use crate::runbook::model::Amount;

/// At most this many instances go into one InvokeCommand (reference §10).
pub const MAX_INSTANCES_PER_INVOKE: usize = 100;

/// The client-side guard on CommandContent after Base64 (the reference's sources say 16, 18
/// and 24 KB; 18 KB is the current documentation).
pub const MAX_CONTENT_BYTES: usize = 18 * 1024;

/// The largest CommandContent after Base64 that any source says CreateCommand accepts: `run`
/// refuses a step over it before anything runs, instead of failing at that step's
/// CreateCommand after earlier steps changed machines.
pub const MAX_CONTENT_BYTES_ANY: usize = 24 * 1024;

/// The tag keys put on commands and invocations this tool creates.
pub const TAG_RUNBOOK: &str = "ecs-runbook:runbook";
/// See [`TAG_RUNBOOK`].
pub const TAG_RUN: &str = "ecs-runbook:run";
/// The runbook's SHA-256, on the command and the Timed invocations of a schedule.
pub const TAG_HASH: &str = "ecs-runbook:hash";
/// The schedule's [`spec`](crate::plan::model::PlanSchedule::spec) hash.
pub const TAG_SPEC: &str = "ecs-runbook:spec";
/// The schedule set a schedule belongs to: `schedule apply --set` removes only schedules of its
/// own set.
pub const TAG_SCHEDULE_SET: &str = "ecs-runbook:schedule-set";

/// Base64 of a script, as CommandContent carries it.
pub fn encode_content(script: &str) -> String {
    STANDARD.encode(script.as_bytes())
}

/// The size of a rendered script's CommandContent, secrets counted as their marker: what the
/// plan warns about and `run` refuses by.
pub fn content_len(rendered: &crate::plan::render::Rendered) -> usize {
    encode_content(&rendered.masked()).len()
}

/// The command name: `<runbook>/<step>`, at most 128 characters.
pub fn command_name(runbook: &str, step: &str) -> String {
    let name = format!("{runbook}/{step}");
    name.chars().take(128).collect()
}

/// The CreateCommand of `step` with `content` (already rendered, secrets filled in).
pub fn create_command(
    runbook: &str,
    step: &PlanStep,
    content: &str,
    run_id: &str,
    client_token: Option<String>,
) -> CreateCommand {
    CreateCommand {
        name: command_name(runbook, &step.name),
        command_type: step.command_type.clone(),
        command_content: encode_content(content),
        content_encoding: Some(ContentEncoding::Base64),
        description: Some(format!("ecs-runbook: step `{}` of `{runbook}`", step.name)),
        working_dir: step.working_dir.clone(),
        timeout: Some(step.timeout_secs),
        enable_parameter: step.enable_parameter.then_some(true),
        launcher: None,
        client_token,
        tags: vec![
            TagFilter {
                key: TAG_RUNBOOK.to_owned(),
                value: Some(runbook.to_owned()),
            },
            TagFilter {
                key: TAG_RUN.to_owned(),
                value: Some(run_id.to_owned()),
            },
        ],
    }
}

/// The InvokeCommand of `step` on one batch of at most [`MAX_INSTANCES_PER_INVOKE`].
pub fn invoke_command(
    step: &PlanStep,
    command_id: CommandId,
    instances: &[InstanceId],
    client_token: Option<String>,
) -> InvokeCommand {
    debug_assert!(instances.len() <= MAX_INSTANCES_PER_INVOKE);
    InvokeCommand {
        command_id,
        instance_ids: instances.to_vec(),
        repeat_mode: Some(RepeatMode::Once),
        parameters: (!step.parameters.is_empty())
            .then(|| serde_json::to_string(&step.parameters).expect("a string map serialises")),
        // Sent explicitly even though the command has it (case B07).
        timeout: Some(step.timeout_secs),
        username: step.username.clone(),
        client_token,
        ..InvokeCommand::default()
    }
}

/// The tags of a schedule's command and Timed invocations: runbook name, runbook hash, spec
/// hash and schedule set (none starts with `aliyun` or `acs:`, which the API reserves).
pub fn schedule_tags(runbook: &str, hash: &str, spec: &str, set: &str) -> Vec<TagFilter> {
    [
        (TAG_RUNBOOK, runbook),
        (TAG_HASH, hash),
        (TAG_SPEC, spec),
        (TAG_SCHEDULE_SET, set),
    ]
    .into_iter()
    .map(|(key, value)| TagFilter {
        key: key.to_owned(),
        value: Some(value.to_owned()),
    })
    .collect()
}

/// The CreateCommand of a scheduled runbook's step: as [`create_command`], kept (no run id),
/// with the schedule's tags.
pub fn timed_create_command(
    runbook: &str,
    step: &PlanStep,
    content: &str,
    tags: Vec<TagFilter>,
    client_token: Option<String>,
) -> CreateCommand {
    CreateCommand {
        description: Some(format!(
            "ecs-runbook: scheduled step `{}` of `{runbook}`",
            step.name
        )),
        tags,
        ..create_command(runbook, step, content, "", client_token)
    }
}

/// The InvokeCommand of a schedule on one batch: as [`invoke_command`], with RepeatMode
/// `Period`, the Frequency exactly as planned, and the schedule's tags.
pub fn timed_invoke_command(
    step: &PlanStep,
    command_id: CommandId,
    instances: &[InstanceId],
    frequency: &str,
    tags: Vec<TagFilter>,
    client_token: Option<String>,
) -> InvokeCommand {
    InvokeCommand {
        repeat_mode: Some(RepeatMode::Period),
        frequency: Some(frequency.to_owned()),
        tags,
        ..invoke_command(step, command_id, instances, client_token)
    }
}

/// The DeleteCommand that cleans up.
pub fn delete_command(command_id: CommandId) -> DeleteCommand {
    DeleteCommand { command_id }
}

/// Instances of `total` that must pass the gate for the step to pass (`min_success`).
pub fn required(min_success: Amount, total: usize) -> usize {
    min_success.of(total).min(total)
}

/// Failed instances a step of `total` tolerates before it stops launching batches and fails:
/// `max_errors` when given, else exactly what `min_success` allows (0 with the default 100%).
pub fn error_budget(max_errors: Option<Amount>, min_success: Amount, total: usize) -> usize {
    max_errors.map_or_else(|| total - required(min_success, total), |m| m.of(total))
}

/// Splits `instances` into waves of `wave_size` and each wave into invocations of at most
/// [`MAX_INSTANCES_PER_INVOKE`].
pub fn waves(instances: &[InstanceId], wave_size: usize) -> Vec<Vec<&[InstanceId]>> {
    let wave_size = wave_size.max(1);
    instances
        .chunks(wave_size)
        .map(|wave| wave.chunks(MAX_INSTANCES_PER_INVOKE).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<InstanceId> {
        (0..n)
            .map(|i| InstanceId::new(format!("i-{i:03}")))
            .collect()
    }

    #[test]
    fn error_budget_defaults_to_what_min_success_allows() {
        let cases = [
            (None, Amount::Percent(100), 10, 0),
            (None, Amount::Percent(90), 10, 1),
            (None, Amount::Count(7), 10, 3),
            (Some(Amount::Count(0)), Amount::Percent(50), 10, 0),
            (Some(Amount::Percent(25)), Amount::Percent(100), 10, 3),
            (None, Amount::Count(20), 10, 0),
        ];
        for (max_errors, min_success, total, expected) in cases {
            assert_eq!(
                error_budget(max_errors, min_success, total),
                expected,
                "{max_errors:?} {min_success:?} {total}"
            );
        }
    }

    #[test]
    fn waves_respect_the_per_call_limit() {
        let all = ids(230);
        let shape = |w: &[Vec<&[InstanceId]>]| -> Vec<Vec<usize>> {
            w.iter()
                .map(|wave| wave.iter().map(|b| b.len()).collect())
                .collect()
        };
        assert_eq!(shape(&waves(&all, 230)), [vec![100, 100, 30]]);
        assert_eq!(shape(&waves(&all, 100)), [vec![100], vec![100], vec![30]]);
        assert_eq!(shape(&waves(&all[..25], 10)), [vec![10], vec![10], vec![5]]);
    }
}
