//! `build`: a validated runbook (and what the cloud said about its targets) into a [`Plan`].
//!
//! Pure and synchronous: the inventory is gathered beforehand by `exec::inventory`, or absent
//! for an offline plan. Every template that can be rendered now is rendered here (through
//! `templates`); one that uses earlier steps' results is checked against a probe of those
//! results and kept as a template. Template errors come back as the runbook's diagnostics.

use std::collections::{BTreeMap, BTreeSet};

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
use crate::plan::templates::{Role, Templates};
use crate::runbook::Diagnostics;
use crate::runbook::model::{Amount, OnFailure, Runbook, SecretSource, Step, Targets, VarValue};

/// How to build.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// What the cloud said about the targets; `None` for an offline plan.
    pub inventory: Option<Inventory>,
    /// "Now", for the next fire times of a scheduled runbook; `None` lists none, which keeps
    /// a build that needs no previews independent of the clock.
    pub now: Option<chrono::DateTime<chrono::Utc>>,
}

/// Builds the plan of `runbook`. A runbook from `runbook::load` has had its templates checked
/// already; their problems come back here as the runbook's diagnostics all the same.
pub fn build(runbook: &Runbook, options: &BuildOptions) -> Result<Plan, Diagnostics> {
    let order =
        graph::order(&runbook.steps).expect("the loader rejects cycles and unknown dependencies");
    let stage_of = graph::stages(&runbook.steps, &order);

    let mut templates = Templates::new(runbook);
    let secrets = secret_refs(runbook);
    let inventory = options.inventory.as_ref();

    let mut warnings = Vec::new();
    let mut steps = Vec::with_capacity(order.len());
    for &index in &order {
        let step = &runbook.steps[index];
        let script = templates.step(step, Role::Main(index));
        steps.push(plan_step(
            &StepInput {
                runbook,
                step,
                stage: stage_of[index],
                inventory,
            },
            script,
            &mut warnings,
        ));
    }
    let rollback: Vec<PlanStep> = runbook
        .rollback
        .iter()
        .map(|step| {
            let script = templates.step(step, Role::Rollback);
            plan_step(
                &StepInput {
                    runbook,
                    step,
                    stage: 0,
                    inventory,
                },
                script,
                &mut warnings,
            )
        })
        .collect();
    let vars = templates.vars().clone();
    let errors = templates.into_errors();
    if !errors.is_empty() {
        let mut all = Diagnostics::new(&runbook.source.path, runbook.source.text.clone());
        all.errors = errors;
        return Err(all);
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
    crate::plan::schedule::attach(runbook, &mut plan, options.now);
    plan.seal();
    Ok(plan)
}

/// Everything `plan_step` reads.
struct StepInput<'a> {
    runbook: &'a Runbook,
    step: &'a Step,
    stage: usize,
    inventory: Option<&'a Inventory>,
}

fn plan_step(input: &StepInput<'_>, script: PlanScript, warnings: &mut Vec<String>) -> PlanStep {
    let StepInput { runbook, step, .. } = input;
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
        let encoded = calls::content_len(rendered);
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
        let params = wire::to_params(&calls::invoke_command(
            step,
            command_id.clone(),
            &[],
            Some("<derived from run id, step, batch and attempt>".to_owned()),
        ));
        out.push(unresolved_invoke(params));
    }
    out.push(PlannedCall {
        action: "DeleteCommand".to_owned(),
        params: wire::to_params(&calls::delete_command(command_id)),
    });
    out
}

/// An InvokeCommand for review whose instances are only known once tags are resolved.
pub(crate) fn unresolved_invoke(mut params: BTreeMap<String, String>) -> PlannedCall {
    params.insert(
        "InstanceId.N".to_owned(),
        "<instances matching the tags, resolved at run time>".to_owned(),
    );
    PlannedCall {
        action: "InvokeCommand".to_owned(),
        params,
    }
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
        } else if info.agent == Some(false) {
            // Said only of a Running instance: a stopped one's agent never answers anyway.
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
    let error_budget =
        count.map(|n| calls::error_budget(rc.max_errors, step.success.min_success, n));
    let worst_case = match (count, wave_size, error_budget) {
        (Some(0), _, _) => "no instance to run on".to_owned(),
        (Some(n), Some(wave), Some(budget)) if wave < n => format!(
            "runs {wave} at a time ({}); stops launching after the {} failure; {}",
            crate::count::Count(n.div_ceil(wave), "wave"),
            ordinal(budget + 1),
            match wave - 1 {
                0 => "no other instance is running then".to_owned(),
                more => format!("up to {more} more may already be running"),
            }
        ),
        (Some(n), _, Some(budget)) => format!(
            "starts all {} at once ({}); nothing stops them, and the step fails at the {} failure",
            crate::count::Count(n, "instance"),
            crate::count::Count(
                n.div_ceil(MAX_INSTANCES_PER_INVOKE).max(1),
                "InvokeCommand call"
            ),
            ordinal(budget + 1)
        ),
        _ => {
            // When the failure comes, as `stops launching …` and as `the step fails …`.
            let (stops, fails) = match rc.max_errors.unwrap_or(Amount::Count(0)) {
                Amount::Count(k) => {
                    let nth = ordinal(usize::try_from(k).unwrap_or(usize::MAX).saturating_add(1));
                    (
                        format!("after the {nth} failure"),
                        format!("at the {nth} failure"),
                    )
                }
                Amount::Percent(p) => {
                    let once = format!("once more than {p}% of its instances fail");
                    (once.clone(), once)
                }
            };
            match rc.concurrency {
                Some(c) => format!(
                    "runs {c} at a time; stops launching {stops}; the numbers depend on the instances the tags match"
                ),
                None => format!(
                    "starts every matching instance at once; the step fails {fails}; the count is known at run time"
                ),
            }
        }
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

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;
    use std::path::Path;

    use super::*;
    use crate::runbook::{VarOverrides, load_str};

    /// The worst case in words of one step on `instances` explicit instances (or on tags).
    fn worst_case(instances: usize, rate_control: &str) -> String {
        let targets = if instances == 0 {
            "{tags: {role: web}}".to_owned()
        } else {
            let ids: Vec<String> = (0..instances).map(|i| format!("i-x{i}")).collect();
            format!("{{instances: [{}]}}", ids.join(", "))
        };
        let text = format!(
            "name: t\ntargets: {targets}\nrate_control: {rate_control}\nsteps:\n  - name: a\n    script: x\n"
        );
        let runbook = load_str(Path::new("t.yaml"), &text, &VarOverrides::new()).expect("valid");
        let plan = build(&runbook, &BuildOptions::default()).expect("plans");
        plan.steps[0].rate_control.worst_case.clone()
    }

    proptest::proptest! {
        /// Any DAG, written in any order, is planned so that every step comes after the steps
        /// it depends on and in a later stage than each of them.
        #[test]
        fn generated_dags_plan_in_dependency_order(
            n in 1usize..30,
            edges in proptest::collection::vec((0usize..30, 0usize..30), 0..80),
            shuffle in proptest::collection::vec(0usize..1000, 30),
        ) {
            // Rank r depends only on lower ranks (acyclic); the file order shuffles the ranks.
            let mut deps: Vec<Vec<usize>> = vec![Vec::new(); n];
            for &(a, b) in &edges {
                let (a, b) = (a % n, b % n);
                if a > b && !deps[a].contains(&b) {
                    deps[a].push(b);
                }
            }
            let mut file: Vec<usize> = (0..n).collect();
            file.sort_by_key(|&r| shuffle[r]);
            let mut text = String::from("name: dag\ntargets: {instances: [i-abc]}\nsteps:\n");
            for &r in &file {
                let _ = writeln!(text, "  - name: s{r}\n    script: echo {{{{ step.name }}}}");
                if !deps[r].is_empty() {
                    let names: Vec<String> = deps[r].iter().map(|d| format!("s{d}")).collect();
                    let _ = writeln!(text, "    depends_on: [{}]", names.join(", "));
                }
            }
            let runbook = load_str(Path::new("dag.yaml"), &text, &VarOverrides::new())
                .expect("a generated DAG loads");
            let plan = build(&runbook, &BuildOptions::default()).expect("it plans");
            proptest::prop_assert_eq!(plan.steps.len(), n);
            let position: BTreeMap<&str, usize> = plan
                .steps
                .iter()
                .enumerate()
                .map(|(p, s)| (s.name.as_str(), p))
                .collect();
            for (p, step) in plan.steps.iter().enumerate() {
                for dep in &step.depends_on {
                    proptest::prop_assert!(position[dep.as_str()] < p, "{} before {}", step.name, dep);
                    let dep_stage = plan.steps[position[dep.as_str()]].stage;
                    proptest::prop_assert!(dep_stage < step.stage);
                }
                let expected = step
                    .depends_on
                    .iter()
                    .map(|d| plan.steps[position[d.as_str()]].stage + 1)
                    .max()
                    .unwrap_or(0);
                proptest::prop_assert_eq!(step.stage, expected);
                proptest::prop_assert!(plan.stages[step.stage].contains(&step.name));
                let rendered = match &step.script {
                    PlanScript::Rendered(r) => r.masked(),
                    PlanScript::Deferred(t) => t.clone(),
                };
                proptest::prop_assert_eq!(rendered, format!("echo {}", step.name));
            }
        }
    }

    #[test]
    fn rate_control_in_plain_words() {
        let table = [
            (
                20,
                "{concurrency: 10}",
                "runs 10 at a time (2 waves); stops launching after the 1st failure; up to 9 more may already be running",
            ),
            (
                3,
                "{concurrency: 1, max_errors: 1}",
                "runs 1 at a time (3 waves); stops launching after the 2nd failure; no other instance is running then",
            ),
            (
                40,
                "{concurrency: 25%, max_errors: 5%}",
                "runs 10 at a time (4 waves); stops launching after the 3rd failure; up to 9 more may already be running",
            ),
            (
                2,
                "{max_errors: 0}",
                "starts all 2 instances at once (1 InvokeCommand call); nothing stops them, and the step fails at the 1st failure",
            ),
            (
                0,
                "{concurrency: 5, max_errors: 2}",
                "runs 5 at a time; stops launching after the 3rd failure; the numbers depend on the instances the tags match",
            ),
            (
                0,
                "{max_errors: 10%}",
                "starts every matching instance at once; the step fails once more than 10% of its instances fail; the count is known at run time",
            ),
        ];
        for (instances, rate_control, expected) in table {
            assert_eq!(
                worst_case(instances, rate_control),
                expected,
                "{rate_control}"
            );
        }
    }

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
}
