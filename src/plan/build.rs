//! `build`: a validated runbook (and what the cloud said about its targets) into a [`Plan`].
//!
//! Pure and synchronous: the inventory is gathered beforehand by `exec::inventory`, or absent
//! for an offline plan. Every template that can be rendered now is rendered here; one that
//! uses earlier steps' results is checked against a probe of those results and kept as a
//! template. Template errors come back as diagnostics with spans in the runbook.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use miette::{Diagnostic, LabeledSpan, NamedSource, SourceSpan};

use crate::cloud::id::InstanceId;
use crate::cloud::status::CommandType;
use crate::cloud::wire;
use crate::plan::calls::{self, MAX_CONTENT_BYTES, MAX_INSTANCES_PER_INVOKE};
use crate::plan::graph;
use crate::plan::inventory::{Inventory, tag_key};
use crate::plan::model::{
    PLAN_VERSION, Plan, PlanGate, PlanRateControl, PlanRunbook, PlanScript, PlanStep, PlanTargets,
    PlannedCall, SecretRef,
};
use crate::plan::render::{self, Scope, TemplateError, TemplateErrorKind};
use crate::runbook::model::{
    OnFailure, Runbook, ScriptOrigin, SecretSource, Step, Targets, VarValue,
};

/// How to build.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// What the cloud said about the targets; `None` for an offline plan.
    pub inventory: Option<Inventory>,
}

/// Template problems found while building, with spans in the runbook or script file.
#[derive(Debug, thiserror::Error)]
#[error("{} in `{}`", crate::count::Count(self.errors.len(), "template error"), self.path)]
pub struct BuildError {
    /// The runbook's path.
    pub path: String,
    /// One entry per problem.
    pub errors: Vec<TemplateDiagnostic>,
}

impl Diagnostic for BuildError {
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        Some(Box::new(self.errors.iter().map(|e| e as &dyn Diagnostic)))
    }
}

/// One template problem.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct TemplateDiagnostic {
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
    /// The file the span points into (the runbook, or a `script_file`).
    pub file: NamedSource<Arc<str>>,
    /// Where.
    pub span: SourceSpan,
    /// The label text.
    pub label: String,
}

impl Diagnostic for TemplateDiagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        Some(Box::new("ecs_runbook::template"))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn std::fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.file)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(std::iter::once(LabeledSpan::new_with_span(
            Some(self.label.clone()),
            self.span,
        ))))
    }
}

/// Builds the plan of `runbook`.
pub fn build(runbook: &Runbook, options: &BuildOptions) -> Result<Plan, BuildError> {
    let mut errors = Vec::new();
    let order =
        graph::order(&runbook.steps).expect("the loader rejects cycles and unknown dependencies");
    let stage_of = graph::stages(&runbook.steps, &order);

    let vars = plain_vars(runbook);
    let secrets = secret_refs(runbook);
    let inventory = options.inventory.as_ref();

    let mut warnings = Vec::new();
    let mut steps = Vec::with_capacity(order.len());
    for &index in &order {
        let step = &runbook.steps[index];
        let ancestors = graph::ancestors(&runbook.steps, index);
        steps.push(plan_step(
            &StepInput {
                runbook,
                step,
                stage: stage_of[index],
                ancestors: &ancestors,
                vars: &vars,
                inventory,
            },
            &mut errors,
            &mut warnings,
        ));
    }
    let rollback: Vec<PlanStep> = runbook
        .rollback
        .iter()
        .map(|step| {
            plan_step(
                &StepInput {
                    runbook,
                    step,
                    stage: 0,
                    ancestors: &[],
                    vars: &vars,
                    inventory,
                },
                &mut errors,
                &mut warnings,
            )
        })
        .collect();
    if !errors.is_empty() {
        return Err(BuildError {
            path: runbook.source.path.display().to_string(),
            errors,
        });
    }

    let stage_count = stage_of.iter().copied().max().map_or(0, |m| m + 1);
    let mut stages = vec![Vec::new(); stage_count];
    for step in &steps {
        stages[step.stage].push(step.name.clone());
    }

    let mut unchecked = Vec::new();
    if inventory.is_none() {
        unchecked.push(
            "offline: tags were not resolved and instance status, agent status and OS were not checked"
                .to_owned(),
        );
    }

    let mut plan = Plan {
        plan_version: PLAN_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        runbook: PlanRunbook {
            name: runbook.name.to_string(),
            description: runbook.description.clone(),
            path: runbook.source.path.display().to_string(),
            hash: runbook.hash.clone(),
        },
        region: runbook.region.as_ref().map(ToString::to_string),
        vars,
        secrets,
        resolved: inventory.is_some(),
        inventory: inventory
            .map(|inv| inv.instances.values().cloned().collect())
            .unwrap_or_default(),
        steps,
        rollback,
        stages,
        schedule: None,
        warnings,
        unchecked,
        integrity: String::new(),
    };
    plan.seal();
    Ok(plan)
}

/// Everything `plan_step` reads.
struct StepInput<'a> {
    runbook: &'a Runbook,
    step: &'a Step,
    stage: usize,
    ancestors: &'a [usize],
    vars: &'a BTreeMap<String, serde_json::Value>,
    inventory: Option<&'a Inventory>,
}

fn plan_step(
    input: &StepInput<'_>,
    errors: &mut Vec<TemplateDiagnostic>,
    warnings: &mut Vec<String>,
) -> PlanStep {
    let StepInput { runbook, step, .. } = input;
    let scope = step_scope(input);
    let deferred = render::uses_step_results(&step.script.text);
    let script = match render::render(&step.script.text, &scope) {
        Ok(rendered) if !deferred => PlanScript::Rendered(rendered),
        Ok(_) => PlanScript::Deferred(step.script.text.clone()),
        Err(template_errors) => {
            for error in template_errors {
                if deferred && matches!(error.kind, TemplateErrorKind::Render(_)) {
                    // The probe's empty results can trip filters the real ones will not.
                    continue;
                }
                errors.push(template_diagnostic(input, &error, TemplateSite::Script));
            }
            PlanScript::Deferred(step.script.text.clone())
        }
    };
    if let Some(when) = &step.when
        && let Err(template_errors) = render::render(&when.value, &scope)
    {
        for error in template_errors {
            if !matches!(error.kind, TemplateErrorKind::Render(_)) {
                errors.push(template_diagnostic(input, &error, TemplateSite::When));
            }
        }
    }
    if let PlanScript::Rendered(rendered) = &script {
        for name in rendered.secrets() {
            if !secret_allows_inline(runbook, name) {
                errors.push(secret_inline_diagnostic(input, name));
            }
        }
    }

    let targets = plan_targets(&step.targets, input.inventory);
    let count = targets.instances.as_ref().map(Vec::len);
    step_warnings(input, &targets, &script, warnings);
    let rate_control = rate_control(step, count);
    let enable_parameter = !step.parameters.is_empty() || uses_cloud_tokens(&step.script.text);

    let mut plan_step = PlanStep {
        name: step.name.to_string(),
        stage: input.stage,
        depends_on: step
            .depends_on
            .iter()
            .map(|d| d.value.to_string())
            .collect(),
        command_type: step.command_type.clone(),
        working_dir: step.working_dir.clone(),
        username: step.username.clone(),
        timeout_secs: step.timeout.as_secs(),
        targets,
        rate_control,
        gate: PlanGate {
            exit_codes: step.success.exit_codes.clone(),
            output_contains: step.success.output_contains.clone(),
            output_matches: step
                .success
                .output_matches
                .as_ref()
                .map(|r| r.as_str().to_owned()),
            min_success: step.success.min_success.to_string(),
        },
        when: step.when.as_ref().map(|w| w.value.clone()),
        retries: step.retries,
        on_failure: match step.on_failure {
            OnFailure::Abort => "abort",
            OnFailure::Continue => "continue",
            OnFailure::Rollback => "rollback",
        }
        .to_owned(),
        outputs: step
            .outputs
            .iter()
            .map(|o| (o.name.clone(), o.regex.as_str().to_owned()))
            .collect(),
        parameters: step.parameters.clone(),
        output_encoding: step.output_encoding.map(|e| e.0.name().to_owned()),
        enable_parameter,
        script,
        calls: Vec::new(),
    };
    plan_step.calls = planned_calls(&runbook.name.to_string(), &plan_step);
    plan_step
}

/// Preflight warnings of one step: targets, content size, parameter count.
fn step_warnings(
    input: &StepInput<'_>,
    targets: &PlanTargets,
    script: &PlanScript,
    warnings: &mut Vec<String>,
) {
    let step = input.step;
    if let Some(instances) = &targets.instances {
        preflight_warnings(step, instances, input.inventory, warnings);
    }
    if let PlanScript::Rendered(rendered) = script {
        let encoded = calls::encode_content(&rendered.masked()).len();
        if encoded > MAX_CONTENT_BYTES {
            warnings.push(format!(
                "step `{}`: the script is {} after Base64, over the {} KB CommandContent limit",
                step.name,
                crate::count::Count(encoded, "byte"),
                MAX_CONTENT_BYTES / 1024
            ));
        }
    }
    if step.parameters.len() > 10 {
        warnings.push(format!(
            "step `{}`: {} parameters, but InvokeCommand accepts at most 10 values",
            step.name,
            step.parameters.len()
        ));
    }
}

/// The calls of a step for review; unknown values in angle brackets.
fn planned_calls(runbook: &str, step: &PlanStep) -> Vec<PlannedCall> {
    let content = match &step.script {
        PlanScript::Rendered(r) if !r.has_secrets() => Some(r.masked()),
        _ => None,
    };
    let mut create = wire::to_params(&calls::create_command(
        runbook,
        step,
        content.as_deref().unwrap_or(""),
        "<run id>",
        Some("<derived from run id, step and attempt>".to_owned()),
    ));
    if content.is_none() {
        let why = match &step.script {
            PlanScript::Deferred(_) => "<rendered at run time from earlier steps' results>",
            PlanScript::Rendered(_) => "<Base64 of the script with its secrets, at run time>",
        };
        create.insert("CommandContent".to_owned(), why.to_owned());
    }
    let mut out = vec![PlannedCall {
        action: "CreateCommand".to_owned(),
        params: create,
    }];
    let command_id = crate::cloud::id::CommandId::new("<from CreateCommand>");
    if let Some(instances) = &step.targets.instances {
        let wave = step.rate_control.wave_size.unwrap_or(instances.len());
        for batch in calls::waves(instances, wave).into_iter().flatten() {
            out.push(PlannedCall {
                action: "InvokeCommand".to_owned(),
                params: wire::to_params(&calls::invoke_command(
                    step,
                    command_id.clone(),
                    batch,
                    Some("<derived from run id, step, batch and attempt>".to_owned()),
                )),
            });
        }
    } else {
        let mut params = wire::to_params(&calls::invoke_command(
            step,
            command_id.clone(),
            &[],
            Some("<derived from run id, step, batch and attempt>".to_owned()),
        ));
        params.insert(
            "InstanceId.N".to_owned(),
            "<instances matching the tags, resolved at run time>".to_owned(),
        );
        out.push(PlannedCall {
            action: "InvokeCommand".to_owned(),
            params,
        });
    }
    out.push(PlannedCall {
        action: "DeleteCommand".to_owned(),
        params: wire::to_params(&calls::delete_command(command_id)),
    });
    out
}

fn uses_cloud_tokens(script: &str) -> bool {
    script.contains("{{ACS::") || script.contains("{{ ACS::") || script.contains("{{oos")
}

fn plan_targets(targets: &Targets, inventory: Option<&Inventory>) -> PlanTargets {
    let explicit: Vec<InstanceId> = targets.instances.iter().map(|s| s.value.clone()).collect();
    let tag_matches = if targets.tags.is_empty() {
        Some(Vec::new())
    } else {
        inventory.map(|inv| {
            inv.tag_matches
                .get(&tag_key(&targets.tags))
                .cloned()
                .unwrap_or_default()
        })
    };
    let instances = tag_matches.as_ref().map(|matches| {
        let mut seen = BTreeSet::new();
        explicit
            .iter()
            .chain(matches)
            .filter(|id| seen.insert((*id).clone()))
            .cloned()
            .collect()
    });
    PlanTargets {
        explicit,
        tags: targets.tags.clone(),
        tag_matches: if targets.tags.is_empty() {
            None
        } else {
            tag_matches
        },
        instances,
    }
}

fn preflight_warnings(
    step: &Step,
    instances: &[InstanceId],
    inventory: Option<&Inventory>,
    warnings: &mut Vec<String>,
) {
    if instances.is_empty() {
        warnings.push(format!(
            "step `{}`: no instance matches its targets",
            step.name
        ));
        return;
    }
    let Some(inventory) = inventory else {
        return;
    };
    for id in instances {
        let Some(info) = inventory.instances.get(id) else {
            warnings.push(format!(
                "step `{}`: instance `{id}` was not found",
                step.name
            ));
            continue;
        };
        if info.status != "Running" {
            warnings.push(format!(
                "step `{}`: instance `{id}` is {}, not Running",
                step.name, info.status
            ));
        }
        if info.agent == Some(false) {
            warnings.push(format!(
                "step `{}`: Cloud Assistant is not running on instance `{id}`",
                step.name
            ));
        }
        if let Some(mismatch) = os_mismatch(&step.command_type, &info.os) {
            warnings.push(format!(
                "step `{}`: {mismatch} on instance `{id}` ({}); it would be CommandNotApplicable",
                step.name, info.os
            ));
        }
    }
}

fn os_mismatch(command_type: &CommandType, os: &str) -> Option<String> {
    let windows = os.eq_ignore_ascii_case("windows");
    let linux = os.eq_ignore_ascii_case("linux");
    match (command_type.is_windows(), windows, linux) {
        (true, false, true) | (false, true, false) => Some(format!("{command_type} does not run")),
        _ => None,
    }
}

fn rate_control(step: &Step, count: Option<usize>) -> PlanRateControl {
    let rc = step.rate_control;
    let wave_size = count.map(|n| rc.concurrency.map_or(n, |c| c.of(n).clamp(1, n.max(1))));
    let error_budget = count.map(|n| rc.max_errors.map_or(0, |m| m.of(n)));
    let worst_case = match (count, wave_size, error_budget) {
        (Some(n), Some(wave), Some(budget)) if wave < n => format!(
            "runs {} at a time; stops launching after the {} failure; up to {} more may already be running",
            wave,
            ordinal(budget + 1),
            wave.saturating_sub(1)
        ),
        (Some(n), _, Some(budget)) => format!(
            "all {} start at once (in {}); {} decides the result, not what runs",
            crate::count::Count(n, "instance"),
            crate::count::Count(
                n.div_ceil(MAX_INSTANCES_PER_INVOKE).max(1),
                "InvokeCommand call"
            ),
            if budget == 0 {
                "the first failure".to_owned()
            } else {
                format!("more than {}", crate::count::Count(budget, "failure"))
            }
        ),
        _ => match rc.concurrency {
            Some(c) => format!(
                "runs {c} at a time; stops launching after {} failure(s); the exact numbers depend on the instances the tags match",
                rc.max_errors
                    .map_or_else(|| "the first".to_owned(), |m| format!("more than {m}"))
            ),
            None => {
                "all matching instances start at once; the count is known at run time".to_owned()
            }
        },
    };
    PlanRateControl {
        concurrency: rc.concurrency.map(|a| a.to_string()),
        max_errors: rc.max_errors.map(|a| a.to_string()),
        wave_size,
        error_budget,
        worst_case,
    }
}

/// `1st`, `2nd`, `3rd`, `4th`, `11th`, `21st`.
pub(crate) fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

fn var_json(value: &VarValue) -> serde_json::Value {
    match value {
        VarValue::Text(t) => serde_json::Value::String(t.clone()),
        VarValue::List(items) => serde_json::Value::Array(items.iter().map(var_json).collect()),
        VarValue::Map(entries) => serde_json::Value::Object(
            entries
                .iter()
                .map(|(k, v)| (k.clone(), var_json(v)))
                .collect(),
        ),
        VarValue::Secret(_) => serde_json::Value::Null,
    }
}

fn plain_vars(runbook: &Runbook) -> BTreeMap<String, serde_json::Value> {
    runbook
        .vars
        .iter()
        .filter(|v| !matches!(v.value, VarValue::Secret(_)))
        .map(|v| (v.name.clone(), var_json(&v.value)))
        .collect()
}

fn secret_refs(runbook: &Runbook) -> BTreeMap<String, SecretRef> {
    runbook
        .vars
        .iter()
        .filter_map(|v| match &v.value {
            VarValue::Secret(secret) => Some((
                v.name.clone(),
                match &secret.from {
                    SecretSource::Env(name) => SecretRef::Env(name.clone()),
                    SecretSource::File(path) => SecretRef::File(path.display().to_string()),
                },
            )),
            _ => None,
        })
        .collect()
}

fn secret_allows_inline(runbook: &Runbook, name: &str) -> bool {
    runbook
        .vars
        .iter()
        .any(|v| v.name == name && matches!(&v.value, VarValue::Secret(s) if s.allow_inline))
}

/// The scope of a step's templates: vars, `runbook`, `step`, and a probe of `steps` in which
/// each ancestor has its fields with empty values.
fn step_scope(input: &StepInput<'_>) -> Scope {
    let StepInput { runbook, step, .. } = input;
    let mut scope = base_scope(runbook, input.vars);
    scope.context.insert(
        "step",
        &serde_json::json!({
            "name": step.name.as_str(),
            "type": step.command_type.as_str(),
            "timeout": step.timeout.as_secs(),
            "working_dir": step.working_dir,
            "username": step.username,
        }),
    );
    let mut steps = serde_json::Map::new();
    for &i in input.ancestors {
        let ancestor = &runbook.steps[i];
        let outputs: serde_json::Map<String, serde_json::Value> = ancestor
            .outputs
            .iter()
            .map(|o| (o.name.clone(), serde_json::Value::String(String::new())))
            .collect();
        steps.insert(
            ancestor.name.to_string(),
            serde_json::json!({
                "status": "success",
                "output": "",
                "outputs": outputs,
                "instances": {},
            }),
        );
    }
    scope.context.insert("steps", &steps);
    scope.parameters = step.parameters.keys().cloned().collect();
    scope
}

/// The scope shared by every template of a runbook: vars (plain and secret) and `runbook`.
pub fn base_scope(runbook: &Runbook, vars: &BTreeMap<String, serde_json::Value>) -> Scope {
    let mut context = tera::Context::new();
    for (name, value) in vars {
        context.insert(name.as_str(), value);
    }
    context.insert("vars", vars);
    context.insert(
        "runbook",
        &serde_json::json!({
            "name": runbook.name.as_str(),
            "region": runbook.region.as_ref().map(ToString::to_string),
            "description": runbook.description,
        }),
    );
    Scope {
        context,
        secrets: runbook
            .vars
            .iter()
            .filter(|v| matches!(v.value, VarValue::Secret(_)))
            .map(|v| v.name.clone())
            .collect(),
        parameters: BTreeSet::new(),
    }
}

/// Which template of a step an error is in.
#[derive(Clone, Copy)]
enum TemplateSite {
    Script,
    When,
}

fn template_diagnostic(
    input: &StepInput<'_>,
    error: &TemplateError,
    site: TemplateSite,
) -> TemplateDiagnostic {
    let StepInput { runbook, step, .. } = input;
    let (text, value_span, file) = match site {
        TemplateSite::Script => (
            step.script.text.as_str(),
            step.script.span,
            match &step.script.origin {
                ScriptOrigin::Inline => None,
                ScriptOrigin::File(path) => Some(path.clone()),
            },
        ),
        TemplateSite::When => {
            let when = step.when.as_ref().expect("a `when` error has a `when`");
            (when.value.as_str(), when.span, None)
        }
    };
    let (source, span) = if let Some(path) = &file {
        let named = NamedSource::new(path.display().to_string(), Arc::<str>::from(text));
        let span = error.offset.map_or_else(
            || SourceSpan::from((0, 0)),
            |o| SourceSpan::from((o, error.len)),
        );
        (named, span)
    } else {
        let span = error.offset.map_or(value_span, |o| {
            locate_in_source(&runbook.source.text, value_span, text, o, error.len)
        });
        (runbook.source.named_source(), span)
    };
    let (message, help, label) = explain(step, error, input);
    TemplateDiagnostic {
        message,
        help,
        file: source,
        span,
        label,
    }
}

fn explain(
    step: &Step,
    error: &TemplateError,
    input: &StepInput<'_>,
) -> (String, Option<String>, String) {
    let step_name = &step.name;
    match &error.kind {
        TemplateErrorKind::Undefined(name) => {
            let root = name.split(['.', '[']).next().unwrap_or(name);
            if root == "steps" {
                let referenced = referenced_step(name);
                let help = match referenced.as_deref() {
                    Some(other) if input.runbook.steps.iter().any(|s| s.name.as_str() == other) => {
                        format!("add `{other}` to the `depends_on` of `{step_name}` to use its results")
                    }
                    Some(other) => format!("there is no step `{other}`"),
                    None => "refer to an earlier step as `steps['name']`".to_owned(),
                };
                (
                    format!("step `{step_name}` uses `{name}`, which is not available to it"),
                    Some(help),
                    "not available here".to_owned(),
                )
            } else {
                let var = name.strip_prefix("vars.").unwrap_or(name);
                let candidates: Vec<&str> =
                    input.runbook.vars.iter().map(|v| v.name.as_str()).collect();
                let help = crate::suggest::nearest(var, candidates.iter().copied()).map_or_else(
                    || {
                        format!(
                            "declare it under `vars:`, pass `--var {var}=VALUE`, or write `{{% raw %}}…{{% endraw %}}` around text that is not a template"
                        )
                    },
                    |s| format!("did you mean `{s}`?"),
                );
                (
                    format!("step `{step_name}` uses undefined variable `{name}`"),
                    Some(help),
                    "undefined".to_owned(),
                )
            }
        }
        TemplateErrorKind::Syntax(detail) => (
            format!("step `{step_name}`: template syntax error: {detail}"),
            Some(
                "`{{`, `{%` and `{#` start Tera tags; to send such text as is, wrap it in `{% raw %}…{% endraw %}`"
                    .to_owned(),
            ),
            "here".to_owned(),
        ),
        TemplateErrorKind::SecretTransformed(name) => (
            format!("step `{step_name}`: secret `{name}` can only be inserted as it is"),
            Some("remove filters and expressions around the secret; it is substituted only when the call is sent".to_owned()),
            "secret used in an expression".to_owned(),
        ),
        TemplateErrorKind::ReservedCharacter => (
            format!("step `{step_name}`: the script contains U+E000 or U+E001"),
            Some("these private-use characters are reserved by the template engine".to_owned()),
            "reserved character".to_owned(),
        ),
        TemplateErrorKind::Render(detail) => (
            format!("step `{step_name}`: template error: {detail}"),
            None,
            "here".to_owned(),
        ),
        TemplateErrorKind::Refused(detail) => (
            format!("step `{step_name}`: template refused: {detail}"),
            Some(
                "a runbook template fills values into one script: it cannot include or import \
                 templates, define macros or read the environment, and its blocks, brackets \
                 and loops nest only so deep (README, \"Hardening\")"
                    .to_owned(),
            ),
            "refused".to_owned(),
        ),
    }
}

fn referenced_step(name: &str) -> Option<String> {
    let rest = name.strip_prefix("steps")?;
    if let Some(rest) = rest.strip_prefix('.') {
        return rest.split(['.', '[']).next().map(str::to_owned);
    }
    let rest = rest.strip_prefix('[')?;
    let quote = rest.chars().next()?;
    let rest = rest.strip_prefix(quote)?;
    rest.split(quote).next().map(str::to_owned)
}

fn secret_inline_diagnostic(input: &StepInput<'_>, name: &str) -> TemplateDiagnostic {
    let StepInput { runbook, step, .. } = input;
    let span = step.script.text.find(name).map_or(step.script.span, |o| {
        locate_in_source(
            &runbook.source.text,
            step.script.span,
            &step.script.text,
            o,
            name.len(),
        )
    });
    TemplateDiagnostic {
        message: format!(
            "step `{}` inlines secret `{name}` into its command content",
            step.name
        ),
        help: Some(format!(
            "Cloud Assistant keeps command content readable through DescribeInvocations and DescribeCommands; reference an encrypted parameter ({{{{oos-secret:NAME}}}}) instead, or set `allow_inline: true` on `{name}` to accept that"
        )),
        file: runbook.source.named_source(),
        span,
        label: "secret inlined".to_owned(),
    }
}

/// Maps `offset` inside a scalar's value to a span in the YAML source. It finds the value's
/// lines one after another inside the scalar's source span, which is exact for plain and
/// literal block scalars (how scripts are written); otherwise it falls back to the whole
/// scalar.
pub(crate) fn locate_in_source(
    source: &str,
    value_span: SourceSpan,
    value: &str,
    offset: usize,
    len: usize,
) -> SourceSpan {
    let start = value_span.offset();
    let end = (start + value_span.len()).min(source.len());
    let Some(region) = source.get(start..end) else {
        return value_span;
    };
    let offset = offset.min(value.len());
    let mut cursor = 0;
    let mut line_start = 0;
    for line in value.split_inclusive('\n') {
        let text = line.trim_end_matches('\n');
        let Some(found) = region[cursor..].find(text) else {
            return value_span;
        };
        let at = cursor + found;
        if offset < line_start + line.len() || line_start + line.len() == value.len() {
            let column = offset - line_start;
            return SourceSpan::from((start + at + column, len.max(1)));
        }
        cursor = at + text.len();
        line_start += line.len();
    }
    value_span
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinals() {
        let got: Vec<String> = [1, 2, 3, 4, 11, 12, 13, 21, 22, 101].map(ordinal).to_vec();
        assert_eq!(
            got,
            [
                "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st"
            ]
        );
    }

    #[test]
    fn locates_offsets_in_a_literal_block() {
        let source = "steps:\n  - name: a\n    script: |\n      echo one\n      echo {{ x }}\n";
        let value = "echo one\necho {{ x }}\n";
        let start = source.find('|').unwrap();
        let span = SourceSpan::from((start, source.len() - start));
        let offset = value.find("x }}").unwrap();
        let got = locate_in_source(source, span, value, offset, 1);
        assert_eq!(&source[got.offset()..=got.offset()], "x");
        assert_eq!(got.offset(), source.find("x }}").unwrap());
    }

    #[test]
    fn referenced_step_names() {
        assert_eq!(referenced_step("steps.a.output").as_deref(), Some("a"));
        assert_eq!(
            referenced_step("steps['check-disk'].outputs.usage").as_deref(),
            Some("check-disk")
        );
    }
}
