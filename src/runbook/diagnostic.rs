//! Loader errors: one [`Diagnostic`] per problem (a location plus a [`Kind`]), collected into
//! [`Diagnostics`] for a whole file so every problem is reported at once.
//!
//! This module owns the wording of every loader message, its help line and its machine form
//! (`validate --format json`). It does not decide what is wrong; `yaml`, `load`,
//! `plan::graph` and `plan::build` (templates) do, and build a `Diagnostic` here. Messages are lower-case fragments with names
//! in backticks; counts go through `suggest::count`.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use miette::{LabeledSpan, NamedSource, SourceCode, SourceSpan};
use serde::Serialize;

/// What is wrong. The `Display` text is the message; [`Kind::code`] is the stable machine name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Kind {
    // ---- YAML ----
    /// The YAML parser rejected the text.
    #[error("invalid YAML: {message}")]
    Syntax {
        /// The parser's message.
        message: String,
    },
    /// A tab where YAML needs spaces.
    #[error("invalid YAML: tab character in indentation")]
    Tab,
    /// The same key twice in one mapping.
    #[error("duplicate key `{key}`")]
    DuplicateKey {
        /// The key.
        key: String,
    },
    /// A YAML 1.1 merge key.
    #[error("merge keys (`<<`) are not supported")]
    MergeKey,
    /// Aliases that expand past the node budget (an "alias bomb").
    #[error("aliases expand to more than {limit} nodes")]
    AliasBudget {
        /// The budget.
        limit: usize,
    },
    /// A document with more nodes than the budget, without aliases.
    #[error("the document has more than {limit} nodes")]
    TooManyNodes {
        /// The budget.
        limit: usize,
    },
    /// An alias inside the node its anchor names.
    #[error("alias `*{name}` refers to a node that contains it")]
    RecursiveAlias {
        /// The anchor name.
        name: String,
    },
    /// Collections nested too deeply.
    #[error("nesting is deeper than {limit} levels")]
    TooDeep {
        /// The limit.
        limit: usize,
    },
    /// A second `---` document.
    #[error("the file holds more than one YAML document")]
    MultipleDocuments,
    /// An oversized file.
    #[error("the file is {size} bytes, more than the limit of {limit}")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A script over the size limit.
    #[error("the script of {step} is {size} bytes, more than the limit of {limit}")]
    ScriptTooLarge {
        /// `step `a``.
        step: String,
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Bytes that are not UTF-8.
    #[error("the file is not valid UTF-8")]
    NotUtf8,
    /// A control character YAML does not allow in its text.
    #[error("the file contains the unprintable character {code}")]
    Unprintable {
        /// `U+0001`.
        code: String,
    },
    /// More problems than one file reports (`load::MAX_DIAGNOSTICS`).
    #[error("{} not shown: a file reports its first {shown}", crate::count::Count(*count, "more problem"))]
    MoreProblems {
        /// How many were left out.
        count: usize,
        /// How many were shown.
        shown: usize,
    },
    /// A file that cannot be read at all.
    #[error("cannot read `{path}`: {message}")]
    Unreadable {
        /// The path.
        path: String,
        /// The I/O error.
        message: String,
    },
    /// A tag other than the core ones (`!!str`, `!!int`, ...).
    #[error("unsupported tag `{tag}`")]
    UnsupportedTag {
        /// The tag as written.
        tag: String,
    },
    /// No document at all.
    #[error("the file is empty")]
    EmptyFile,

    /// A value rejected by a serde `Deserialize` impl, with its own message.
    #[error("{message}")]
    Custom {
        /// The message.
        message: String,
    },

    // ---- shape ----
    /// A value of the wrong YAML type.
    #[error("{subject} must be {expected}, found {found}")]
    WrongType {
        /// What the value is for, e.g. "`retries`".
        subject: String,
        /// What it must be, e.g. "an integer".
        expected: String,
        /// What it is, e.g. "a sequence" or "`many`".
        found: String,
    },
    /// A YAML 1.1 boolean word where a boolean is expected.
    #[error("{subject} must be `true` or `false`, found `{word}`")]
    Yaml11Bool {
        /// What the value is for.
        subject: String,
        /// The word, as written.
        word: String,
    },
    /// A key the format does not have.
    #[error("unknown key `{key}` in {context}")]
    UnknownKey {
        /// The key.
        key: String,
        /// Where, e.g. "step `patch`".
        context: String,
    },
    /// A required key that is absent.
    #[error("{context} is missing `{key}`")]
    MissingKey {
        /// The key.
        key: String,
        /// Where.
        context: String,
    },
    /// An empty string or list where one is not allowed.
    #[error("{subject} must not be empty")]
    EmptyValue {
        /// What is empty.
        subject: String,
    },
    /// A number outside its range.
    #[error("{subject} must be from {min} to {max}, found {found}")]
    OutOfRange {
        /// What the number is for.
        subject: String,
        /// Smallest allowed.
        min: i64,
        /// Largest allowed.
        max: i64,
        /// The value as written.
        found: String,
    },
    /// The same entry twice in a list.
    #[error("{subject} lists `{value}` twice")]
    DuplicateEntry {
        /// The list.
        subject: String,
        /// The repeated entry.
        value: String,
    },
    /// A string longer than allowed.
    #[error("{subject} is longer than {limit} characters")]
    TooLong {
        /// What is too long.
        subject: String,
        /// The limit.
        limit: usize,
    },
    /// More entries than allowed.
    #[error("{subject} has more than {limit} entries")]
    TooMany {
        /// The collection.
        subject: String,
        /// The limit.
        limit: usize,
    },

    // ---- values ----
    /// A `version` other than 1.
    #[error("unsupported runbook version `{found}`")]
    BadVersion {
        /// The value as written.
        found: String,
    },
    /// A runbook, step, variable, output or parameter name with the wrong spelling.
    #[error("invalid {what} `{name}`")]
    BadName {
        /// "runbook name", "step name", ...
        what: String,
        /// The name as written.
        name: String,
    },
    /// A name reserved for template roots.
    #[error("`{name}` is reserved and cannot name a variable")]
    ReservedName {
        /// The name.
        name: String,
    },
    /// A duration that does not parse.
    #[error("invalid duration `{text}`")]
    BadDuration {
        /// The value as written.
        text: String,
    },
    /// A timeout below `InvokeCommand`'s minimum.
    #[error("timeout `{text}` is below the minimum of 10 seconds")]
    TimeoutTooShort {
        /// The value as written.
        text: String,
    },
    /// A timeout above the documented bound.
    #[error("timeout `{text}` is above the maximum of 24 hours")]
    TimeoutTooLong {
        /// The value as written.
        text: String,
    },
    /// A regex that does not compile.
    #[error("invalid regex: {message}")]
    BadRegex {
        /// The regex crate's message, on one line.
        message: String,
    },
    /// A script type that is not one of the three.
    #[error("unknown script type `{found}`")]
    BadCommandType {
        /// The value as written.
        found: String,
    },
    /// An instance id that does not look like one.
    #[error("invalid instance id `{id}`")]
    BadInstanceId {
        /// The value as written.
        id: String,
    },
    /// A target tag key or value Cloud Assistant would reject.
    #[error("invalid tag {what} `{text}`")]
    BadTag {
        /// "key" or "value".
        what: String,
        /// The text.
        text: String,
    },
    /// A count or percentage that does not parse or is out of range.
    #[error("{subject} must be {expected}, found `{text}`")]
    BadAmount {
        /// What the amount is for, e.g. "`rate_control.concurrency`".
        subject: String,
        /// What it must be.
        expected: String,
        /// The value as written.
        text: String,
    },
    /// An encoding label `encoding_rs` does not know.
    #[error("unknown output encoding `{label}`")]
    BadEncoding {
        /// The label.
        label: String,
    },
    /// A `schedule.frequency` or `schedule.timezone` Cloud Assistant would refuse or misread
    /// (case B09); the message comes from the schedule module's `FrequencyError`.
    #[error("`schedule.{field}`: {message}")]
    BadSchedule {
        /// `frequency` or `timezone`.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A secret declaration that is not `{secret: true, env: NAME}` or `{secret: true, file: PATH}`.
    #[error("invalid secret `{name}`: {message}")]
    BadSecret {
        /// The variable.
        name: String,
        /// What is wrong.
        message: String,
    },

    // ---- steps ----
    /// Both `script` and `script_file`.
    #[error("step `{step}` has both `script` and `script_file`")]
    ScriptConflict {
        /// The step.
        step: String,
    },
    /// Neither `script` nor `script_file`.
    #[error("step `{step}` has neither `script` nor `script_file`")]
    ScriptMissing {
        /// The step.
        step: String,
    },
    /// A `script_file` that cannot be read.
    #[error("cannot read script file `{path}`: {message}")]
    ScriptFile {
        /// The resolved path.
        path: String,
        /// The I/O error.
        message: String,
    },
    /// Two steps with one name.
    #[error("duplicate step `{name}`")]
    DuplicateStep {
        /// The name.
        name: String,
    },
    /// A `depends_on` entry naming no step.
    #[error("step `{step}` depends on unknown step `{dep}`")]
    UnknownDependency {
        /// The dependent step.
        step: String,
        /// The missing dependency.
        dep: String,
    },
    /// A dependency cycle, in dependency direction, starting and ending at the same step.
    #[error("dependency cycle `{}`", path.join(" -> "))]
    Cycle {
        /// The steps, first repeated last: `a -> c -> b -> a`.
        path: Vec<String>,
    },
    /// A step with neither its own nor default targets.
    #[error("step `{step}` has no targets")]
    NoTargets {
        /// The step.
        step: String,
    },
    /// `on_failure: rollback` without `rollback:` steps.
    #[error("step `{step}` has `on_failure: rollback`, but the runbook has no `rollback` steps")]
    RollbackWithoutSteps {
        /// The step.
        step: String,
    },
    /// A rollback step that depends on anything but an earlier rollback step.
    #[error("rollback step `{step}` depends on `{dep}`, which is not an earlier rollback step")]
    RollbackDependency {
        /// The rollback step.
        step: String,
        /// The dependency.
        dep: String,
    },

    /// A setting that is valid elsewhere but not here.
    #[error("{what} is not allowed in {place}")]
    NotAllowed {
        /// The setting, e.g. "`on_failure: rollback`".
        what: String,
        /// Where, e.g. "a rollback step".
        place: String,
    },

    // ---- variables and overrides ----
    /// `--var` or `--vars-file` naming a variable the runbook does not declare.
    #[error("{origin} sets undeclared variable `{name}`")]
    UndeclaredVar {
        /// "`--var`" or "`--vars-file`".
        origin: String,
        /// The variable.
        name: String,
    },
    /// A `--var` argument without `=`.
    #[error("`--var` expects `name=value`, found `{text}`")]
    BadVarOverride {
        /// The argument.
        text: String,
    },
    /// An override for a secret variable.
    #[error("{origin} cannot set secret variable `{name}`")]
    SecretOverride {
        /// "`--var`" or "`--vars-file`".
        origin: String,
        /// The variable.
        name: String,
    },

    // ---- templates (checked by `plan::build`, reported through the same type) ----
    /// A Tera template that does not parse.
    #[error("step `{step}`: template syntax error: {detail}")]
    TemplateSyntax {
        /// The step.
        step: String,
        /// Tera's message, on one line.
        detail: String,
    },
    /// A Tera template that parses but does not render (a filter or type error).
    #[error("step `{step}`: template error: {message}")]
    Template {
        /// The step.
        step: String,
        /// Tera's message.
        message: String,
    },
    /// A template that uses what runbook templates do not allow (`plan::guard`).
    #[error("step `{step}`: template refused: {detail}")]
    TemplateRefused {
        /// The step.
        step: String,
        /// What was refused.
        detail: String,
    },
    /// A template variable that is not defined.
    #[error("step `{step}` uses undefined variable `{name}`")]
    UndefinedVariable {
        /// The step.
        step: String,
        /// The variable, as written (`vars.pkg`, `pkg`).
        name: String,
    },
    /// `steps.<name>` of a step that is not among the step's dependencies.
    #[error("step `{step}` uses `{name}`, which is not available to it")]
    UnavailableStep {
        /// The step.
        step: String,
        /// The reference, as written.
        name: String,
    },
    /// `steps.<name>.<field>` of a step that may be read, naming a result it does not have.
    #[error("step `{step}` uses `{name}`, but step `{other}` has no such result")]
    UnknownResult {
        /// The step.
        step: String,
        /// The reference, as written.
        name: String,
        /// The step it reads.
        other: String,
    },
    /// `{{ name }}` where `name` is both a variable and a declared Cloud Assistant parameter.
    #[error(
        "step `{step}`: `{{{{ {name} }}}}` is both variable `{name}` and Cloud Assistant parameter `{name}`"
    )]
    AmbiguousParameter {
        /// The step.
        step: String,
        /// The name.
        name: String,
    },
    /// A secret passed through a filter or an expression.
    #[error("step `{step}`: secret `{name}` can only be inserted as it is")]
    SecretTransformed {
        /// The step.
        step: String,
        /// The secret variable.
        name: String,
    },
    /// A secret inside command content without `allow_inline: true`.
    #[error("step `{step}` inlines secret `{name}` into its command content")]
    SecretInline {
        /// The step.
        step: String,
        /// The secret variable.
        name: String,
    },
    /// A step parameter whose value names a secret: parameter values are not templates.
    #[error(
        "{subject}: parameter `{parameter}` names secret `{name}`, but parameter values are sent as written"
    )]
    SecretParameter {
        /// "step `patch`".
        subject: String,
        /// The parameter.
        parameter: String,
        /// The secret variable.
        name: String,
    },
    /// The private-use characters the renderer uses as markers.
    #[error("step `{step}`: the script contains U+E000 or U+E001")]
    ReservedCharacter {
        /// The step.
        step: String,
    },
}

impl Kind {
    /// The stable machine name, e.g. `runbook::unknown-key`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Syntax { .. } => "yaml::syntax",
            Self::Tab => "yaml::tab",
            Self::DuplicateKey { .. } => "yaml::duplicate-key",
            Self::MergeKey => "yaml::merge-key",
            Self::AliasBudget { .. } => "yaml::alias-budget",
            Self::TooManyNodes { .. } => "yaml::too-many-nodes",
            Self::RecursiveAlias { .. } => "yaml::recursive-alias",
            Self::TooDeep { .. } => "yaml::too-deep",
            Self::MultipleDocuments => "yaml::multiple-documents",
            Self::TooLarge { .. } => "yaml::too-large",
            Self::NotUtf8 => "yaml::not-utf8",
            Self::ScriptTooLarge { .. } => "runbook::script-too-large",
            Self::Unprintable { .. } => "yaml::unprintable",
            Self::MoreProblems { .. } => "runbook::more-problems",
            Self::Unreadable { .. } => "yaml::unreadable",
            Self::UnsupportedTag { .. } => "yaml::tag",
            Self::EmptyFile => "yaml::empty",
            Self::Custom { .. } => "yaml::invalid-value",
            Self::WrongType { .. } => "runbook::wrong-type",
            Self::Yaml11Bool { .. } => "runbook::yaml11-bool",
            Self::UnknownKey { .. } => "runbook::unknown-key",
            Self::MissingKey { .. } => "runbook::missing-key",
            Self::EmptyValue { .. } => "runbook::empty",
            Self::OutOfRange { .. } => "runbook::out-of-range",
            Self::DuplicateEntry { .. } => "runbook::duplicate-entry",
            Self::TooLong { .. } => "runbook::too-long",
            Self::TooMany { .. } => "runbook::too-many",
            Self::BadVersion { .. } => "runbook::version",
            Self::BadName { .. } => "runbook::name",
            Self::ReservedName { .. } => "runbook::reserved-name",
            Self::BadDuration { .. } => "runbook::duration",
            Self::TimeoutTooShort { .. } => "runbook::timeout-too-short",
            Self::TimeoutTooLong { .. } => "runbook::timeout-too-long",
            Self::BadRegex { .. } => "runbook::regex",
            Self::BadCommandType { .. } => "runbook::type",
            Self::BadInstanceId { .. } => "runbook::instance-id",
            Self::BadTag { .. } => "runbook::tag",
            Self::BadAmount { .. } => "runbook::amount",
            Self::BadEncoding { .. } => "runbook::encoding",
            Self::BadSchedule { .. } => "runbook::schedule",
            Self::BadSecret { .. } => "runbook::secret",
            Self::ScriptConflict { .. } => "runbook::script-conflict",
            Self::ScriptMissing { .. } => "runbook::script-missing",
            Self::ScriptFile { .. } => "runbook::script-file",
            Self::DuplicateStep { .. } => "runbook::duplicate-step",
            Self::UnknownDependency { .. } => "runbook::unknown-dependency",
            Self::Cycle { .. } => "runbook::cycle",
            Self::NoTargets { .. } => "runbook::no-targets",
            Self::RollbackWithoutSteps { .. } => "runbook::rollback-without-steps",
            Self::RollbackDependency { .. } => "runbook::rollback-dependency",
            Self::NotAllowed { .. } => "runbook::not-allowed",
            Self::UndeclaredVar { .. } => "vars::undeclared",
            Self::BadVarOverride { .. } => "vars::bad-override",
            Self::SecretOverride { .. } => "vars::secret-override",
            Self::TemplateSyntax { .. } => "template::syntax",
            Self::Template { .. } => "template::error",
            Self::TemplateRefused { .. } => "template::refused",
            Self::UndefinedVariable { .. } => "template::undefined",
            Self::UnavailableStep { .. } => "template::unavailable-step",
            Self::UnknownResult { .. } => "template::unknown-result",
            Self::AmbiguousParameter { .. } => "template::ambiguous-parameter",
            Self::SecretTransformed { .. } => "template::secret-transformed",
            Self::SecretInline { .. } => "template::secret-inline",
            Self::SecretParameter { .. } => "template::secret-parameter",
            Self::ReservedCharacter { .. } => "template::reserved-character",
        }
    }

    /// The help line used when the reporter of the problem gives none.
    fn default_help(&self) -> Option<String> {
        let help = match self {
            Self::Tab => "YAML indents with spaces only; replace the tab with spaces".to_owned(),
            Self::MergeKey => "merge keys are a YAML 1.1 extension; write the keys out, or use \
                               an alias (`*name`) for the whole value"
                .to_owned(),
            Self::AliasBudget { .. } => {
                "anchors and aliases here expand exponentially; write the values out".to_owned()
            }
            Self::TooDeep { .. } => "flatten the structure".to_owned(),
            Self::MultipleDocuments => {
                "remove the `---` line, or put each document in its own file".to_owned()
            }
            Self::NotUtf8 => "save the file as UTF-8".to_owned(),
            Self::Unprintable { .. } => "YAML text holds printable characters only; write a \
                                         control character as an escape (`\\x01`, `\\t`) \
                                         inside a double-quoted string"
                .to_owned(),
            Self::UnsupportedTag { .. } => {
                "only the YAML core tags (`!!str`, `!!int`, `!!bool`, ...) are understood; remove \
                 the tag"
                    .to_owned()
            }
            Self::EmptyFile => {
                "a runbook needs at least `version: 1`, a `name` and `steps`".to_owned()
            }
            Self::Yaml11Bool { word, .. } => format!(
                "`{word}` is a boolean only in YAML 1.1; YAML 1.2 and this tool read it as a \
                 string, so write `true` or `false`"
            ),
            Self::BadVersion { .. } => "the only format version is 1: `version: 1`".to_owned(),
            Self::ReservedName { .. } => {
                "`vars`, `runbook`, `step` and `steps` are template roots; choose another name"
                    .to_owned()
            }
            Self::BadDuration { .. } => {
                "write whole seconds (`90`) or numbers with units `h`, `m`, `s`: `90s`, `10m`, \
                 `1h`, `1h30m`"
                    .to_owned()
            }
            Self::TimeoutTooShort { .. } => {
                "InvokeCommand rejects timeouts under 10 seconds; use at least `10s`".to_owned()
            }
            Self::TimeoutTooLong { .. } => {
                "split the work into several steps, or run it in the background and poll it"
                    .to_owned()
            }
            Self::BadInstanceId { .. } => {
                "an instance id is `i-` followed by lower-case letters and digits, like \
                 `i-bp1aaaaaaaaaaaaaaaa1`"
                    .to_owned()
            }
            Self::BadEncoding { .. } => {
                "use an encoding label such as `gbk`, `gb18030`, `big5`, `shift_jis`, `euc-kr`, \
                 `windows-1252` or `utf-16le`"
                    .to_owned()
            }
            Self::BadSchedule { .. } => {
                "write a Cloud Assistant Frequency: cron with seconds (`0 0 3 ? * SUN`), \
                 `rate(1h)` or `at(2030-06-01 03:00:00 Asia/Shanghai)`"
                    .to_owned()
            }
            Self::ScriptConflict { .. } => "keep one of them".to_owned(),
            Self::ScriptMissing { .. } => {
                "add `script:` with the commands to run, or `script_file:` with a path relative \
                 to the runbook"
                    .to_owned()
            }
            Self::Cycle { .. } => "remove one of these dependencies".to_owned(),
            Self::NoTargets { .. } => "give the step `targets`, or set default `targets` at the \
                                       top of the runbook"
                .to_owned(),
            Self::RollbackWithoutSteps { .. } => {
                "add a top-level `rollback:` list of steps, or use `on_failure: abort`".to_owned()
            }
            Self::RollbackDependency { .. } => {
                "rollback steps run in file order; a rollback step may only depend on rollback \
                 steps above it"
                    .to_owned()
            }
            Self::BadVarOverride { .. } => "write `--var name=value`".to_owned(),
            Self::SecretOverride { .. } => {
                "secrets come from the environment or a file, never from flags; set the \
                 variable named by its `env`, or change its `file`"
                    .to_owned()
            }
            _ => return self.template_help(),
        };
        Some(help)
    }

    /// The default help of template problems.
    fn template_help(&self) -> Option<String> {
        let help = match self {
            Self::TemplateSyntax { .. } => {
                "`{{`, `{%` and `{#` start Tera tags; to send such text as it is, wrap it in \
                 `{% raw %}…{% endraw %}`"
                    .to_owned()
            }
            Self::AmbiguousParameter { name, .. } => format!(
                "write `{{{{ vars.{name} }}}}` for the variable, or rename the parameter or the \
                 variable"
            ),
            Self::SecretTransformed { .. } => {
                "remove filters and expressions around the secret; it is substituted only when \
                 the call is sent"
                    .to_owned()
            }
            Self::SecretParameter { name, .. } => format!(
                "Cloud Assistant would get the text, not the secret, and keeps `Parameters` \
                 readable through DescribeInvocations; use `{{{{ {name} }}}}` in the script \
                 with `allow_inline: true` on `{name}`, or reference an encrypted parameter \
                 ({{{{oos-secret:NAME}}}}) in the script"
            ),
            Self::ReservedCharacter { .. } => {
                "these private-use characters are reserved by the template engine; remove them"
                    .to_owned()
            }
            _ => return None,
        };
        Some(help)
    }
}

/// How serious a diagnostic is. Every loader problem is an error today; the field exists so the
/// machine form is stable when warnings arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The runbook cannot be used.
    #[default]
    Error,
    /// Worth fixing; the runbook still loads.
    Warning,
}

/// One problem: a kind, where it is, and how to fix it.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    kind: Kind,
    span: Option<SourceSpan>,
    label: Option<String>,
    help: Option<String>,
    severity: Severity,
    related: Vec<LabeledSpan>,
    source: Option<NamedSource<Arc<str>>>,
}

impl Diagnostic {
    /// A problem at `span` in the file being loaded, with the kind's default help.
    pub fn new(kind: Kind, span: impl Into<SourceSpan>) -> Self {
        Self {
            help: kind.default_help(),
            kind,
            span: Some(span.into()),
            label: None,
            severity: Severity::Error,
            related: Vec::new(),
            source: None,
        }
    }

    /// A problem with no place in any file (a bad `--var` argument).
    pub fn unlocated(kind: Kind) -> Self {
        Self {
            span: None,
            ..Self::new(kind, 0)
        }
    }

    /// Replaces the help line.
    #[must_use]
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Replaces the help line when `help` is `Some`.
    #[must_use]
    pub fn with_help_opt(mut self, help: Option<String>) -> Self {
        if help.is_some() {
            self.help = help;
        }
        self
    }

    /// Sets the text of the label on the offending node.
    #[must_use]
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Adds a secondary label, e.g. "first defined here" or one edge of a cycle.
    #[must_use]
    pub fn with_related(mut self, span: impl Into<SourceSpan>, label: impl Into<String>) -> Self {
        self.related
            .push(LabeledSpan::new_with_span(Some(label.into()), span));
        self
    }

    /// Says the span points into another file than the one being loaded (a `--vars-file`).
    #[must_use]
    pub fn with_source(mut self, source: NamedSource<Arc<str>>) -> Self {
        self.source = Some(source);
        self
    }

    /// What is wrong.
    pub fn kind(&self) -> &Kind {
        &self.kind
    }

    /// The offending node, when there is one.
    pub fn span(&self) -> Option<SourceSpan> {
        self.span
    }

    /// The help line.
    pub fn help_text(&self) -> Option<&str> {
        self.help.as_deref()
    }

    /// The label text on the offending node.
    pub fn label_text(&self) -> Option<&str> {
        self.label.as_deref()
    }

    /// The secondary labels.
    pub fn related_labels(&self) -> &[LabeledSpan] {
        &self.related
    }

    /// How serious it is.
    pub fn severity_level(&self) -> Severity {
        self.severity
    }

    /// The file the span points into, when it is not the loaded one.
    pub fn own_source(&self) -> Option<&NamedSource<Arc<str>>> {
        self.source.as_ref()
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.kind.fmt(f)
    }
}

impl std::error::Error for Diagnostic {}

impl miette::Diagnostic for Diagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.kind.code()))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.source.as_ref().map(|s| s as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let primary = self
            .span
            .map(|span| LabeledSpan::new_primary_with_span(self.label.clone(), span));
        let all: Vec<LabeledSpan> = primary
            .into_iter()
            .chain(self.related.iter().cloned())
            .collect();
        if all.is_empty() {
            None
        } else {
            Some(Box::new(all.into_iter()))
        }
    }
}

/// Every problem found in one file, reported together.
#[derive(Debug, Clone)]
pub struct Diagnostics {
    /// The file, for rendering snippets.
    pub source: NamedSource<Arc<str>>,
    /// The problems, in the order found (file order within each pass).
    pub errors: Vec<Diagnostic>,
}

impl Diagnostics {
    /// An empty collection for `path` with text `text`.
    pub fn new(path: &Path, text: Arc<str>) -> Self {
        Self {
            source: NamedSource::new(path.display().to_string(), text).with_language("yaml"),
            errors: Vec::new(),
        }
    }

    /// Adds a problem.
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.errors.push(diagnostic);
    }

    /// The number of problems.
    pub fn len(&self) -> usize {
        self.errors.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// The problems.
    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.errors.iter()
    }

    /// The machine form of every problem, for `validate --format json`.
    pub fn records(&self) -> Vec<Record> {
        self.errors
            .iter()
            .map(|d| {
                let source = d.source.as_ref().unwrap_or(&self.source);
                Record::new(source, d)
            })
            .collect()
    }

    /// [`Diagnostics::records`] as a JSON array.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self.records()).expect("records serialise to JSON")
    }
}

impl<'a> IntoIterator for &'a Diagnostics {
    type Item = &'a Diagnostic;
    type IntoIter = std::slice::Iter<'a, Diagnostic>;

    fn into_iter(self) -> Self::IntoIter {
        self.errors.iter()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "found {} in `{}`",
            crate::count::Count(self.errors.len(), "error"),
            self.source.name()
        )
    }
}

impl std::error::Error for Diagnostics {}

impl miette::Diagnostic for Diagnostics {
    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&self.source)
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        Some(Box::new(
            self.errors.iter().map(|d| d as &dyn miette::Diagnostic),
        ))
    }
}

/// The machine form of one diagnostic. Lines and columns are 1-based and count characters; the
/// end is exclusive (the position just after the last character), and equals the start for an
/// empty span. Location fields are `null` for a problem with no place in a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Record {
    /// The file.
    pub path: String,
    /// Start line.
    pub line: Option<usize>,
    /// Start column.
    pub column: Option<usize>,
    /// End line.
    pub end_line: Option<usize>,
    /// End column.
    pub end_column: Option<usize>,
    /// `error` or `warning`.
    pub severity: Severity,
    /// The message.
    pub message: String,
    /// The help line.
    pub help: Option<String>,
    /// The stable machine name.
    pub code: &'static str,
}

impl Record {
    fn new(source: &NamedSource<Arc<str>>, d: &Diagnostic) -> Self {
        let text: &str = source.inner();
        let (start, end) = match d.span {
            Some(span) => (
                Some(line_col(text, span.offset())),
                Some(line_col(text, span.offset() + span.len())),
            ),
            None => (None, None),
        };
        Self {
            path: source.name().to_owned(),
            line: start.map(|p| p.0),
            column: start.map(|p| p.1),
            end_line: end.map(|p| p.0),
            end_column: end.map(|p| p.1),
            severity: d.severity,
            message: d.kind.to_string(),
            help: d.help.clone(),
            code: d.kind.code(),
        }
    }
}

/// The 1-based line and column (in characters, a byte-order mark not counted) of byte `offset`
/// in `text`. Offsets past the end give the end position; offsets inside a character give that
/// character's position.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.matches('\n').count() + 1;
    let mut column = before[line_start..].chars().count() + 1;
    if line_start == 0 && before.starts_with('\u{feff}') {
        column -= 1;
    }
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_columns() {
        let text = "ab\ncdé\r\nf";
        let table = [
            (0, (1, 1)),
            (2, (1, 3)),
            (3, (2, 1)),
            (5, (2, 3)),
            (7, (2, 4)),
            (9, (3, 1)),
            (99, (3, 2)),
        ];
        for (offset, expected) in table {
            assert_eq!(line_col(text, offset), expected, "offset {offset}");
        }
        assert_eq!(line_col("\u{feff}ab", 4), (1, 2));
    }

    #[test]
    fn records_and_rendering() {
        let text: Arc<str> = Arc::from("steps:\n  - name: a\n    retries: many\n");
        let mut all = Diagnostics::new(Path::new("r.yaml"), Arc::clone(&text));
        all.push(
            Diagnostic::new(
                Kind::WrongType {
                    subject: "`retries`".into(),
                    expected: "an integer from 0 to 10".into(),
                    found: "`many`".into(),
                },
                (32, 4),
            )
            .with_label("not a number"),
        );
        let json = all.to_json();
        assert_eq!(json[0]["line"], 3);
        assert_eq!(json[0]["column"], 14);
        assert_eq!(json[0]["end_column"], 18);
        assert_eq!(json[0]["code"], "runbook::wrong-type");
        assert_eq!(json[0]["severity"], "error");
        assert_eq!(
            json[0]["message"],
            "`retries` must be an integer from 0 to 10, found `many`"
        );
        assert_eq!(all.to_string(), "found 1 error in `r.yaml`");
    }
}
