//! Template checks: every script and `when` of a runbook rendered against its scope, each
//! problem a [`Diagnostic`] placed where the template is written.
//!
//! This module owns the scope a step's templates see at plan time (vars, `runbook`, `step`,
//! and a probe of `steps` holding only the earlier steps the template names) and the wording
//! of template problems. Rendering itself is `render`'s; `build` puts the results into the
//! plan, and `runbook::load` calls [`check`] so that `validate` reports template problems
//! together with every other problem of the file.

use std::cell::OnceCell;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use miette::{NamedSource, SourceSpan};

use crate::plan::graph::Dependencies;
use crate::plan::model::PlanScript;
use crate::plan::render::{self, Scope, TemplateError, TemplateErrorKind};
use crate::runbook::diagnostic::{Diagnostic, Kind};
use crate::runbook::model::{Runbook, ScriptOrigin, Step, VarValue};
use crate::runbook::yaml::ValueSpans;
use crate::suggest;

/// Every template problem of `runbook`, in step order.
pub fn check(runbook: &Runbook) -> Vec<Diagnostic> {
    let mut templates = Templates::new(runbook);
    for (index, step) in runbook.steps.iter().enumerate() {
        templates.step(step, Role::Main(index));
    }
    for step in &runbook.rollback {
        templates.step(step, Role::Rollback);
    }
    templates.into_errors()
}

/// Which list a step is in, and for a main step its index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// `steps[index]`: it may read the steps it depends on, directly or not.
    Main(usize),
    /// A rollback step: it runs after the main steps and may read any of them.
    Rollback,
}

/// Renders a runbook's templates step by step and collects their problems.
pub(crate) struct Templates<'a> {
    runbook: &'a Runbook,
    vars: BTreeMap<String, serde_json::Value>,
    deps: Dependencies<'a>,
    /// The runbook's YAML tree, parsed only when a problem needs placing.
    spans: OnceCell<ValueSpans<'a>>,
    errors: Vec<Diagnostic>,
}

impl<'a> Templates<'a> {
    /// A checker for `runbook`.
    pub(crate) fn new(runbook: &'a Runbook) -> Self {
        Self {
            runbook,
            vars: plain_vars(runbook),
            deps: Dependencies::new(&runbook.steps),
            spans: OnceCell::new(),
            errors: Vec::new(),
        }
    }

    /// The non-secret variables, as the plan carries them.
    pub(crate) fn vars(&self) -> &BTreeMap<String, serde_json::Value> {
        &self.vars
    }

    /// The problems found so far.
    pub(crate) fn into_errors(self) -> Vec<Diagnostic> {
        self.errors
    }

    /// Checks a step's script and `when`, and returns its script as the plan shows it:
    /// rendered, or kept as a template when it reads earlier steps' results.
    pub(crate) fn step(&mut self, step: &Step, role: Role) -> PlanScript {
        let scope = self.scope(step, role);
        let readable: BTreeSet<String> = self
            .readable(step, role)
            .into_iter()
            .map(|i| self.runbook.steps[i].name.to_string())
            .collect();
        self.ambiguous_parameters(step);
        let deferred = render::uses_step_results(&step.script.text);
        let script = match render::render(&step.script.text, &scope) {
            Ok(rendered) => {
                for name in rendered.secrets() {
                    if !self.allows_inline(name) {
                        self.secret_inline(step, name);
                    }
                }
                if deferred {
                    PlanScript::Deferred(step.script.text.clone())
                } else {
                    PlanScript::Rendered(rendered)
                }
            }
            Err(errors) => {
                for error in errors {
                    if deferred && run_time_only(&error.kind, &readable) {
                        continue;
                    }
                    self.template_error(step, &error, Site::Script);
                }
                PlanScript::Deferred(step.script.text.clone())
            }
        };
        if let Some(when) = &step.when
            && let Err(errors) = render::render(&when.value, &scope)
        {
            for error in errors {
                if !matches!(error.kind, TemplateErrorKind::Render(_)) {
                    self.template_error(step, &error, Site::When);
                }
            }
        }
        script
    }

    /// The scope of a step's templates: vars, `runbook`, `step`, and a probe of `steps` in
    /// which each earlier step the templates name has its fields with empty values. Only the
    /// named steps are put in, so a long chain of steps costs linear time.
    fn scope(&self, step: &Step, role: Role) -> Scope {
        let mut scope = base_scope(self.runbook, &self.vars);
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
        for index in self.readable(step, role) {
            let other = &self.runbook.steps[index];
            let outputs: serde_json::Map<String, serde_json::Value> = other
                .outputs
                .iter()
                .map(|o| (o.name.clone(), serde_json::Value::String(String::new())))
                .collect();
            steps.insert(
                other.name.to_string(),
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

    /// The main steps whose results the step's templates read and may read.
    fn readable(&self, step: &Step, role: Role) -> Vec<usize> {
        let texts = std::iter::once(step.script.text.as_str())
            .chain(step.when.as_ref().map(|w| w.value.as_str()));
        let mut named = BTreeSet::new();
        for text in texts {
            if !render::uses_step_results(text) {
                continue;
            }
            match render::step_references(text) {
                Some(found) => named.extend(found),
                // `steps` used without names: every step it may read.
                None => {
                    return match role {
                        Role::Main(index) => self.deps.ancestors(index),
                        Role::Rollback => (0..self.runbook.steps.len()).collect(),
                    };
                }
            }
        }
        named
            .iter()
            .filter_map(|name| self.deps.index(name))
            .filter(|&other| match role {
                Role::Main(index) => self.deps.reaches(index, other),
                Role::Rollback => true,
            })
            .collect()
    }

    fn allows_inline(&self, name: &str) -> bool {
        self.runbook
            .vars
            .iter()
            .any(|v| v.name == name && matches!(&v.value, VarValue::Secret(s) if s.allow_inline))
    }

    /// `{{ name }}` where `name` is a declared parameter and a variable: Cloud Assistant would
    /// get it, though the author may have meant the variable.
    fn ambiguous_parameters(&mut self, step: &Step) {
        let parameters: BTreeSet<String> = step
            .parameters
            .keys()
            .filter(|p| self.runbook.vars.iter().any(|v| &v.name == *p))
            .cloned()
            .collect();
        if parameters.is_empty() {
            return;
        }
        for (range, name) in render::parameter_uses(&step.script.text, &parameters) {
            let (span, source) = self.place(step, Site::Script, Some(range.start), range.len());
            let diagnostic = Diagnostic::new(
                Kind::AmbiguousParameter {
                    step: step.name.to_string(),
                    name,
                },
                span,
            )
            .with_label("a variable and a parameter");
            self.errors.push(with_source(diagnostic, source));
        }
    }

    fn template_error(&mut self, step: &Step, error: &TemplateError, site: Site) {
        let (kind, help, label) = self.explain(step, error);
        let (span, source) = self.place(step, site, error.offset, error.len);
        let diagnostic = Diagnostic::new(kind, span)
            .with_help_opt(help)
            .with_label(label);
        self.errors.push(with_source(diagnostic, source));
    }

    fn secret_inline(&mut self, step: &Step, name: &str) {
        let offset = render::locate_name(&step.script.text, name).offset;
        let (span, source) = self.place(step, Site::Script, offset, name.len());
        let diagnostic = Diagnostic::new(
            Kind::SecretInline {
                step: step.name.to_string(),
                name: name.to_owned(),
            },
            span,
        )
        .with_label("secret inlined")
        .with_help(format!(
            "Cloud Assistant keeps command content readable through DescribeInvocations and \
             DescribeCommands; reference an encrypted parameter ({{{{oos-secret:NAME}}}}) \
             instead, or set `allow_inline: true` on `{name}` to accept that"
        ));
        self.errors.push(with_source(diagnostic, source));
    }

    /// Where `offset..offset + len` of a step's template is written: in the runbook's YAML,
    /// or in its `script_file` (then with that file as the source).
    fn place(
        &self,
        step: &Step,
        site: Site,
        offset: Option<usize>,
        len: usize,
    ) -> (SourceSpan, Option<NamedSource<Arc<str>>>) {
        let (text, span) = match site {
            Site::Script => (step.script.text.as_str(), step.script.span),
            Site::When => {
                let when = step.when.as_ref().expect("a `when` problem has a `when`");
                (when.value.as_str(), when.span)
            }
        };
        let Some(offset) = offset.map(|o| o.min(text.len())) else {
            return (span, None);
        };
        let end = (offset + len.max(1)).min(text.len()).max(offset);
        if let (Site::Script, ScriptOrigin::File(path)) = (site, &step.script.origin) {
            let named = NamedSource::new(path.display().to_string(), Arc::<str>::from(text));
            return (SourceSpan::from((offset, end - offset)), Some(named));
        }
        let spans = self
            .spans
            .get_or_init(|| ValueSpans::new(&self.runbook.source.text));
        (spans.span(span, offset..end), None)
    }

    /// For `steps.<other>.<field>` where `step` may read `other` (a main step's ancestor; any
    /// main step for a rollback step), the name of `other` and a help naming the results it
    /// has; `None` when `other` cannot be read or does not exist.
    fn unknown_result(&self, step: &Step, name: &str) -> Option<(String, String)> {
        let other = referenced_step(name)?;
        let other_index = self.deps.index(&other)?;
        let readable = match self.deps.index(step.name.as_str()) {
            Some(index)
                if self
                    .runbook
                    .steps
                    .get(index)
                    .is_some_and(|s| s.name == step.name) =>
            {
                self.deps.ancestors(index).contains(&other_index)
            }
            _ => true,
        };
        if !readable {
            return None;
        }
        let target = &self.runbook.steps[other_index];
        let outputs: Vec<&str> = target.outputs.iter().map(|o| o.name.as_str()).collect();
        let field = name
            .split_once(other.as_str())
            .map_or("", |(_, rest)| rest.trim_start_matches(['\'', '"', ']']))
            .trim_start_matches('.');
        let help = if let Some(output) = field.strip_prefix("outputs.") {
            let output = output.split(['.', '[']).next().unwrap_or(output);
            match suggest::nearest(output, outputs.iter().copied()) {
                Some(near) => format!("did you mean `steps.{other}.outputs.{near}`?"),
                None if outputs.is_empty() => {
                    format!("step `{other}` declares no `outputs`; add a regex capture there")
                }
                None => format!(
                    "step `{other}` declares the outputs {}",
                    outputs
                        .iter()
                        .map(|o| format!("`{o}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }
        } else {
            let first = field.split(['.', '[']).next().unwrap_or(field);
            let fields = ["status", "output", "outputs", "instances"];
            suggest::nearest(first, fields.iter().copied()).map_or_else(
                || {
                    "a step's results are `status`, `output`, `outputs.<name>` and \
                     `instances[<instance id>]`"
                        .to_owned()
                },
                |near| format!("did you mean `steps.{other}.{near}`?"),
            )
        };
        Some((other, help))
    }

    /// An undefined `steps.…` reference: a mistyped result of a readable step, a step not in
    /// `depends_on`, or no such step.
    fn explain_step_reference(&self, step: &Step, name: &str) -> (Kind, Option<String>, String) {
        let step_name = step.name.to_string();
        if let Some((other, help)) = self.unknown_result(step, name) {
            return (
                Kind::UnknownResult {
                    step: step_name,
                    name: name.to_owned(),
                    other,
                },
                Some(help),
                "no such result".to_owned(),
            );
        }
        let help = match referenced_step(name).as_deref() {
            Some(other) if self.deps.index(other).is_some() => {
                format!("add `{other}` to the `depends_on` of `{step_name}` to use its results")
            }
            Some(other) => {
                let names = self.runbook.steps.iter().map(|s| s.name.as_str());
                suggest::nearest(other, names).map_or_else(
                    || format!("there is no step `{other}`"),
                    |near| format!("there is no step `{other}`; did you mean `{near}`?"),
                )
            }
            None => "refer to an earlier step as `steps['name']`".to_owned(),
        };
        (
            Kind::UnavailableStep {
                step: step_name,
                name: name.to_owned(),
            },
            Some(help),
            "not available here".to_owned(),
        )
    }

    fn explain(&self, step: &Step, error: &TemplateError) -> (Kind, Option<String>, String) {
        let step_name = step.name.to_string();
        match &error.kind {
            TemplateErrorKind::Undefined(name) => {
                let root = name.split(['.', '[']).next().unwrap_or(name);
                if root == "steps" {
                    self.explain_step_reference(step, name)
                } else {
                    let var = name.strip_prefix("vars.").unwrap_or(name);
                    let candidates = self.runbook.vars.iter().map(|v| v.name.as_str());
                    let help = suggest::nearest(var, candidates).map_or_else(
                        || {
                            format!(
                                "declare it under `vars:`, pass `--var {var}=VALUE`, or write \
                                 `{{% raw %}}…{{% endraw %}}` around text that is not a template"
                            )
                        },
                        |s| format!("did you mean `{s}`?"),
                    );
                    (
                        Kind::UndefinedVariable {
                            step: step_name,
                            name: name.to_owned(),
                        },
                        Some(help),
                        "undefined".to_owned(),
                    )
                }
            }
            TemplateErrorKind::Syntax(detail) => (
                Kind::TemplateSyntax {
                    step: step_name,
                    detail: detail.clone(),
                },
                None,
                "here".to_owned(),
            ),
            TemplateErrorKind::SecretTransformed(name) => (
                Kind::SecretTransformed {
                    step: step_name,
                    name: name.clone(),
                },
                None,
                "secret used in an expression".to_owned(),
            ),
            TemplateErrorKind::ReservedCharacter => (
                Kind::ReservedCharacter { step: step_name },
                None,
                "reserved character".to_owned(),
            ),
            TemplateErrorKind::Refused(detail) => (
                Kind::TemplateRefused {
                    step: step_name,
                    detail: detail.clone(),
                },
                Some(
                    "a runbook template fills values into one script: it cannot include or import \
                     templates, define macros or read the environment, and its blocks, brackets \
                     and loops nest only so deep (README, \"Hardening\")"
                        .to_owned(),
                ),
                "refused".to_owned(),
            ),
            TemplateErrorKind::Render(detail) => (
                Kind::Template {
                    step: step_name,
                    message: detail.clone(),
                },
                None,
                "here".to_owned(),
            ),
        }
    }
}

/// Which template of a step a problem is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Site {
    Script,
    When,
}

fn with_source(diagnostic: Diagnostic, source: Option<NamedSource<Arc<str>>>) -> Diagnostic {
    match source {
        Some(source) => diagnostic.with_source(source),
        None => diagnostic,
    }
}

/// The step a `steps…` reference names: `a` in `steps.a.output` and in `steps['a']`.
/// Whether a template error of a deferred script can only be judged with real results: the
/// probe's empty results can trip filters the real ones will not, and a readable step's
/// `instances` are keyed by ids only known at run time.
fn run_time_only(kind: &TemplateErrorKind, readable: &BTreeSet<String>) -> bool {
    match kind {
        TemplateErrorKind::Render(_) => true,
        TemplateErrorKind::Undefined(name) => {
            name.contains(".instances")
                && referenced_step(name).is_some_and(|step| readable.contains(&step))
        }
        _ => false,
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

/// The runbook's non-secret variables as template values (scalars as their source text).
fn plain_vars(runbook: &Runbook) -> BTreeMap<String, serde_json::Value> {
    runbook
        .vars
        .iter()
        .filter(|v| !matches!(v.value, VarValue::Secret(_)))
        .map(|v| (v.name.clone(), var_json(&v.value)))
        .collect()
}

/// The scope shared by every template of a runbook: vars (plain and secret) and `runbook`.
fn base_scope(runbook: &Runbook, vars: &BTreeMap<String, serde_json::Value>) -> Scope {
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::runbook::diagnostic::line_col;
    use crate::runbook::{VarOverrides, load_str};

    #[test]
    fn referenced_step_names() {
        assert_eq!(referenced_step("steps.a.output").as_deref(), Some("a"));
        assert_eq!(
            referenced_step("steps['check-disk'].outputs.usage").as_deref(),
            Some("check-disk")
        );
    }

    const HEAD: &str = "version: 1\nname: t\ntargets: {instances: [i-abc]}\n";

    /// `LINE:COL: MESSAGE` of each problem of a runbook whose only problems are templates.
    fn problems(body: &str) -> Vec<String> {
        let text = format!("{HEAD}{body}");
        let Err(all) = load_str(Path::new("t.yaml"), &text, &VarOverrides::new()) else {
            return Vec::new();
        };
        all.errors
            .iter()
            .map(|d| {
                let span = d.span().expect("a place");
                let (line, col) = line_col(&text, span.offset());
                format!("{line}:{col}: {d}")
            })
            .collect()
    }

    #[test]
    fn template_problems_with_line_and_column() {
        let table: &[(&str, &[&str])] = &[
            (
                "vars: {pkg: nginx}\nsteps:\n  - name: a\n    script: |\n      yum install {{ pkgs }}\n      echo {{ vars.other }}\n",
                &[
                    "8:22: step `a` uses undefined variable `pkgs`",
                    "9:15: step `a` uses undefined variable `vars.other`",
                ],
            ),
            (
                "steps:\n  - name: a\n    script: \"echo {{ a + }}\"\n",
                &[
                    "6:26: step `a`: template syntax error: expected an integer, a float, `true` or `false`, an identifier (must start with a-z), a square bracketed identifier (identifiers separated by `.` or `[]`s), or an expression",
                ],
            ),
            (
                "steps:\n  - name: a\n    script: echo\n  - name: b\n    script: echo {{ steps.a.output }}\n",
                &["8:21: step `b` uses `steps.a.output`, which is not available to it"],
            ),
            (
                "vars: {conf: /etc/x}\nsteps:\n  - name: a\n    script: logrotate {{conf}}\n    parameters: {conf: /etc/y}\n",
                &[
                    "7:23: step `a`: `{{ conf }}` is both variable `conf` and Cloud Assistant parameter `conf`",
                ],
            ),
            (
                "vars: {t: {secret: true, env: T}}\nsteps:\n  - name: a\n    script: curl -H {{ t }}\n",
                &["7:24: step `a` inlines secret `t` into its command content"],
            ),
            (
                "steps:\n  - name: a\n    script: echo hi\n    when: \"{{ nope }}\"\n",
                &["7:15: step `a` uses undefined variable `nope`"],
            ),
        ];
        for (body, expected) in table {
            assert_eq!(problems(body), *expected, "{body}");
        }
    }

    #[test]
    fn a_mistyped_result_of_a_readable_step_is_named_with_a_suggestion() {
        let table = [
            ("outputs.usag", "did you mean `steps.a.outputs.usage`?"),
            ("outptu", "did you mean `steps.a.output`?"),
            ("outputs.other", "step `a` declares the outputs `usage`"),
            (
                "zzzzzzzz",
                "a step's results are `status`, `output`, `outputs.<name>` and `instances[<instance id>]`",
            ),
        ];
        for (field, help) in table {
            let text = format!(
                "{HEAD}steps:\n  - name: a\n    script: echo\n    outputs: {{usage: {{regex: 'u=(\\d+)'}}}}\n  - name: b\n    depends_on: [a]\n    script: echo {{{{ steps.a.{field} }}}}\n"
            );
            let Err(all) = load_str(Path::new("t.yaml"), &text, &VarOverrides::new()) else {
                panic!("{field}: loaded");
            };
            assert_eq!(all.errors.len(), 1, "{field}");
            let d = &all.errors[0];
            assert_eq!(
                d.to_string(),
                format!("step `b` uses `steps.a.{field}`, but step `a` has no such result")
            );
            assert_eq!(
                miette::Diagnostic::help(d)
                    .map(|h| h.to_string())
                    .as_deref(),
                Some(help),
                "{field}"
            );
        }
    }

    #[test]
    fn a_template_reads_only_the_steps_it_names_and_depends_on() {
        let body = "steps:\n  - name: a\n    script: echo\n    outputs: {v: {regex: x}}\n  - name: b\n    depends_on: [a]\n    script: echo\n  - name: c\n    depends_on: [b]\n    script: echo {{ steps.a.outputs.v }} {{ steps['b'].status }}\n";
        assert_eq!(problems(body), Vec::<String>::new());
        let text = format!("{HEAD}{body}");
        let runbook = load_str(Path::new("t.yaml"), &text, &VarOverrides::new()).expect("valid");
        let templates = Templates::new(&runbook);
        assert_eq!(templates.readable(&runbook.steps[2], Role::Main(2)), [0, 1]);
        assert_eq!(templates.readable(&runbook.steps[1], Role::Main(1)), [0; 0]);
    }
}
