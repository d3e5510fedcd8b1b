//! The runbook format described once, as data: every object, its fields, their types,
//! descriptions, defaults and examples.
//!
//! Two things are generated from this table and nothing else: the JSON Schema
//! (`schemas/runbook.schema.json`, [`json()`]) that editors use for hover and completion, and the
//! set of keys the decoder in `raw` accepts, with its "did you mean" suggestions for unknown
//! ones. Checking values (durations, names, regexes) is `load`'s job, not this table's.

use serde_json::{Map, Value, json};

/// The JSON Schema `$id` of the runbook schema.
pub const SCHEMA_ID: &str =
    "https://github.com/ecs-runbook/ecs-runbook/raw/main/schemas/runbook.schema.json";

/// One object of the format (the runbook itself, a step, `targets`, ...).
#[derive(Debug)]
pub(crate) struct Object {
    /// Its name in `$defs` and in the decoder.
    pub(crate) name: &'static str,
    /// What it is, for hover help.
    pub(crate) description: &'static str,
    /// Its fields in documentation order.
    pub(crate) fields: &'static [Field],
    /// Extra JSON Schema keywords for the object, as JSON text (`oneOf` constraints).
    pub(crate) extra: Option<&'static str>,
}

/// One field of an [`Object`].
#[derive(Debug)]
pub(crate) struct Field {
    /// The key.
    pub(crate) name: &'static str,
    /// Its type.
    pub(crate) ty: Ty,
    /// Whether the object needs it.
    pub(crate) required: bool,
    /// What it means, for hover help.
    pub(crate) description: &'static str,
    /// Its default as JSON text, when it has one worth showing.
    pub(crate) default: Option<&'static str>,
    /// Examples as JSON texts.
    pub(crate) examples: &'static [&'static str],
}

/// The type of a field's value.
#[derive(Debug)]
pub(crate) enum Ty {
    /// Any string.
    Str,
    /// Any scalar, kept as its source text (`8080`, `1.20` and nothing at all are fine).
    Scalar,
    /// A string matching the ECMA-262 regex.
    Pattern(&'static str),
    /// The format version, `1`.
    Version,
    /// Always `true` (the `secret` flag).
    True,
    /// `true` or `false`.
    Bool,
    /// An integer in a range.
    Int {
        /// Smallest.
        min: i64,
        /// Largest.
        max: i64,
    },
    /// One of these strings.
    Enum(&'static [&'static str]),
    /// Seconds, or `90s`, `10m`, `1h`, `1h30m`.
    Duration,
    /// A count, or a percentage string.
    Amount,
    /// A list of the inner type.
    List(&'static Ty),
    /// A mapping of names matching the pattern to the inner type.
    Map(&'static str, &'static Ty),
    /// Another object.
    Object(&'static str),
    /// The `vars` mapping.
    Vars,
}

/// Step and runbook names: `[a-z0-9][a-z0-9_-]*` (runbooks without `_`).
const STEP_NAME: &str = "^[a-z0-9][a-z0-9_-]{0,63}$";
const RUNBOOK_NAME: &str = "^[a-z0-9][a-z0-9-]{0,63}$";
/// Variable and output names: template identifiers.
pub(crate) const IDENTIFIER: &str = "^[A-Za-z_][A-Za-z0-9_]*$";
/// Instance ids.
const INSTANCE_ID: &str = "^i-[a-z0-9]+$";
/// Cloud Assistant custom parameter names.
const PARAMETER_NAME: &str = "^[A-Za-z0-9_-]{1,64}$";
/// Tag keys: not `aliyun` or `acs:` prefixed, at most 64 characters.
const TAG_KEY: &str = "^(?!aliyun|acs:).{1,64}$";
/// Region ids.
const REGION: &str = "^[a-z]{2}-[a-z0-9-]+$";

/// The three script types.
pub(crate) const COMMAND_TYPES: &[&str] =
    &["RunShellScript", "RunPowerShellScript", "RunBatScript"];
/// The failure policies.
pub(crate) const ON_FAILURE: &[&str] = &["abort", "continue", "rollback"];

const STEP_FIELDS: &[Field] = &[
    Field {
        name: "name",
        ty: Ty::Pattern(STEP_NAME),
        required: true,
        description: "Unique name of the step: lower-case letters, digits, `-` and `_`, at most 64 \
                      characters. Other steps refer to it in `depends_on` and templates as \
                      `steps['name']`.",
        default: None,
        examples: &["\"check-disk\"", "\"patch\""],
    },
    Field {
        name: "script",
        ty: Ty::Str,
        required: false,
        description: "The script to run, a Tera template (`{{ vars.package }}`); Cloud Assistant \
                      parameters (`{{name}}`, `{{ACS::InstanceId}}`) pass through untouched. \
                      Exactly one of `script` and `script_file`.",
        default: None,
        examples: &["\"systemctl restart nginx\""],
    },
    Field {
        name: "script_file",
        ty: Ty::Str,
        required: false,
        description: "A file holding the script, relative to the runbook; rendered like `script`. \
                      Exactly one of `script` and `script_file`.",
        default: None,
        examples: &["\"scripts/patch.sh\""],
    },
    Field {
        name: "type",
        ty: Ty::Enum(COMMAND_TYPES),
        required: false,
        description: "Script type; overrides `defaults.type`.",
        default: Some("\"RunShellScript\""),
        examples: &["\"RunShellScript\"", "\"RunPowerShellScript\""],
    },
    Field {
        name: "working_dir",
        ty: Ty::Str,
        required: false,
        description: "Working directory on the instance (at most 200 characters); overrides \
                      `defaults.working_dir`. Cloud Assistant's default is `/root` on Linux.",
        default: None,
        examples: &["\"/opt/app\""],
    },
    Field {
        name: "timeout",
        ty: Ty::Duration,
        required: false,
        description: "How long the script may run on each instance before Cloud Assistant kills \
                      it: whole seconds or `90s`, `10m`, `1h`, `1h30m`; from 10 s to 24 h. \
                      Overrides `defaults.timeout`; the built-in default is 10 minutes.",
        default: Some("\"10m\""),
        examples: &["\"30m\"", "120"],
    },
    Field {
        name: "username",
        ty: Ty::Str,
        required: false,
        description: "OS user that runs the script (at most 255 characters); overrides \
                      `defaults.username`. Cloud Assistant's default is `root` / `System`.",
        default: None,
        examples: &["\"root\"", "\"deploy\""],
    },
    Field {
        name: "depends_on",
        ty: Ty::List(&Ty::Pattern(STEP_NAME)),
        required: false,
        description: "Steps that must succeed before this one starts. Steps run in dependency \
                      order, ties broken by file order; independent steps may run in parallel.",
        default: Some("[]"),
        examples: &["[\"check-disk\"]"],
    },
    Field {
        name: "when",
        ty: Ty::Str,
        required: false,
        description: "A Tera expression; the step is skipped when it renders to `false`. It may \
                      use earlier steps' outputs, and is then evaluated at run time.",
        default: None,
        examples: &["\"{{ steps['check-disk'].outputs.usage | int < 90 }}\""],
    },
    Field {
        name: "retries",
        ty: Ty::Int { min: 0, max: 10 },
        required: false,
        description: "How many times failed instances are invoked again before the step fails.",
        default: Some("0"),
        examples: &["1"],
    },
    Field {
        name: "success",
        ty: Ty::Object("success"),
        required: false,
        description: "The gate each instance must pass, and how many instances must pass it.",
        default: None,
        examples: &["{\"exit_codes\": [0], \"output_matches\": \"Complete!\"}"],
    },
    Field {
        name: "on_failure",
        ty: Ty::Enum(ON_FAILURE),
        required: false,
        description: "What happens when the gate fails: `abort` stops and skips the dependents; \
                      `continue` lets the dependents run (the run still fails); `rollback` runs \
                      the `rollback` steps, then fails.",
        default: Some("\"abort\""),
        examples: &["\"continue\"", "\"rollback\""],
    },
    Field {
        name: "outputs",
        ty: Ty::Map(IDENTIFIER, &Ty::Object("output")),
        required: false,
        description: "Values captured from each instance's output by regex, available to later \
                      steps as `steps['name'].outputs.key`.",
        default: None,
        examples: &["{\"usage\": {\"regex\": \"(\\\\d+)%\"}}"],
    },
    Field {
        name: "parameters",
        ty: Ty::Map(PARAMETER_NAME, &Ty::Scalar),
        required: false,
        description: "Cloud Assistant custom parameters: name to default value. The script uses \
                      them as `{{name}}`; they are sent with `EnableParameter` and `Parameters`. \
                      At most 10; names use letters, digits, `-` and `_`, at most 64 characters.",
        default: None,
        examples: &["{\"conf\": \"/etc/logrotate.conf\"}"],
    },
    Field {
        name: "targets",
        ty: Ty::Object("targets"),
        required: false,
        description: "The instances of this step; replaces the runbook's `targets` entirely.",
        default: None,
        examples: &["{\"tags\": {\"role\": \"db\"}}"],
    },
    Field {
        name: "rate_control",
        ty: Ty::Object("rate_control"),
        required: false,
        description: "Batching for this step; each field given replaces the runbook's.",
        default: None,
        examples: &["{\"concurrency\": 1}"],
    },
    Field {
        name: "output_encoding",
        ty: Ty::Str,
        required: false,
        description: "Text encoding of the instances' output when it is not UTF-8, as an \
                      encoding label (`gbk`, `gb18030`, `big5`, `shift_jis`, `utf-16le`, ...).",
        default: None,
        examples: &["\"gbk\""],
    },
];

/// Every object of the format; the first is the document root.
pub(crate) static OBJECTS: &[Object] = &[
    Object {
        name: "runbook",
        description: "An ecs-runbook runbook (format version 1): steps run on Alibaba Cloud ECS \
                      instances through Cloud Assistant.",
        extra: None,
        fields: &[
            Field {
                name: "version",
                ty: Ty::Version,
                required: false,
                description: "Format version; `1`, the only one so far, is also what a runbook \
                              without `version` gets.",
                default: Some("1"),
                examples: &["1"],
            },
            Field {
                name: "name",
                ty: Ty::Pattern(RUNBOOK_NAME),
                required: true,
                description: "Name of the runbook: lower-case letters, digits and `-`, at most \
                              64 characters. Command names and schedules derive from it.",
                default: None,
                examples: &["\"patch-web\""],
            },
            Field {
                name: "description",
                ty: Ty::Str,
                required: false,
                description: "What the runbook does, for people reading plans and reports.",
                default: None,
                examples: &["\"Patch nginx on the web tier, one batch at a time.\""],
            },
            Field {
                name: "region",
                ty: Ty::Pattern(REGION),
                required: false,
                description: "Region of the targets. Else `--region`, the CLI profile, or \
                              `ALIBABA_CLOUD_REGION_ID`.",
                default: None,
                examples: &["\"cn-hangzhou\""],
            },
            Field {
                name: "vars",
                ty: Ty::Vars,
                required: false,
                description: "Template variables, `{{ name }}` or `{{ vars.name }}`. Scalars keep \
                              their source text (`3.10` stays `3.10`). `--vars-file` and then \
                              `--var name=value` override them. A secret is \
                              `{secret: true, env: NAME}` or `{secret: true, file: path}`.",
                default: None,
                examples: &[
                    "{\"package\": \"nginx\", \"api_token\": {\"secret\": true, \"env\": \"DEPLOY_TOKEN\"}}",
                ],
            },
            Field {
                name: "targets",
                ty: Ty::Object("targets"),
                required: false,
                description: "Default targets of every step without its own `targets`.",
                default: None,
                examples: &["{\"tags\": {\"role\": \"web\", \"env\": \"prod\"}}"],
            },
            Field {
                name: "defaults",
                ty: Ty::Object("defaults"),
                required: false,
                description: "Defaults of every step.",
                default: None,
                examples: &["{\"type\": \"RunShellScript\", \"timeout\": \"10m\"}"],
            },
            Field {
                name: "rate_control",
                ty: Ty::Object("rate_control"),
                required: false,
                description: "How each step spreads over its instances.",
                default: None,
                examples: &["{\"concurrency\": \"25%\", \"max_errors\": 0}"],
            },
            Field {
                name: "schedule",
                ty: Ty::Object("schedule"),
                required: false,
                description: "Makes the runbook a scheduled one, run by Cloud Assistant on this \
                              schedule after `schedule apply`.",
                default: None,
                examples: &["{\"frequency\": \"0 0 3 ? * SUN\", \"timezone\": \"Asia/Shanghai\"}"],
            },
            Field {
                name: "steps",
                ty: Ty::List(&Ty::Object("step")),
                required: true,
                description: "The steps, at least one.",
                default: None,
                examples: &["[{\"name\": \"uptime\", \"script\": \"uptime\"}]"],
            },
            Field {
                name: "rollback",
                ty: Ty::List(&Ty::Object("step")),
                required: false,
                description: "Steps run in file order when a step with `on_failure: rollback` \
                              fails. A rollback step may depend only on rollback steps above it.",
                default: None,
                examples: &["[{\"name\": \"restore\", \"script\": \"systemctl restart nginx\"}]"],
            },
        ],
    },
    Object {
        name: "step",
        description: "One script run on the step's targets.",
        extra: Some(r#"{"oneOf": [{"required": ["script"]}, {"required": ["script_file"]}]}"#),
        fields: STEP_FIELDS,
    },
    Object {
        name: "targets",
        description: "Instances: the explicit ids plus every instance carrying all the tags.",
        extra: Some(r#"{"anyOf": [{"required": ["instances"]}, {"required": ["tags"]}]}"#),
        fields: &[
            Field {
                name: "instances",
                ty: Ty::List(&Ty::Pattern(INSTANCE_ID)),
                required: false,
                description: "Instance ids, each `i-` followed by lower-case letters and digits; \
                              no duplicates.",
                default: None,
                examples: &["[\"i-bp1aaaaaaaaaaaaaaaa1\"]"],
            },
            Field {
                name: "tags",
                ty: Ty::Map(TAG_KEY, &Ty::Scalar),
                required: false,
                description: "Tags an instance must all carry (resolved with DescribeInstances). \
                              At most 20; keys at most 64 characters and not starting with \
                              `aliyun` or `acs:`; values at most 128 characters.",
                default: None,
                examples: &["{\"role\": \"web\", \"env\": \"prod\"}"],
            },
        ],
    },
    Object {
        name: "defaults",
        description: "Defaults for every step; a step's own value wins.",
        extra: None,
        fields: &[
            Field {
                name: "type",
                ty: Ty::Enum(COMMAND_TYPES),
                required: false,
                description: "Script type.",
                default: Some("\"RunShellScript\""),
                examples: &["\"RunShellScript\""],
            },
            Field {
                name: "working_dir",
                ty: Ty::Str,
                required: false,
                description: "Working directory on the instance (at most 200 characters).",
                default: None,
                examples: &["\"/root\""],
            },
            Field {
                name: "timeout",
                ty: Ty::Duration,
                required: false,
                description: "Step timeout: whole seconds or `90s`, `10m`, `1h`, `1h30m`; from \
                              10 s to 24 h.",
                default: Some("\"10m\""),
                examples: &["\"10m\"", "600"],
            },
            Field {
                name: "username",
                ty: Ty::Str,
                required: false,
                description: "OS user that runs the scripts (at most 255 characters).",
                default: None,
                examples: &["\"root\""],
            },
        ],
    },
    Object {
        name: "rate_control",
        description: "How a step spreads over its instances.",
        extra: None,
        fields: &[
            Field {
                name: "concurrency",
                ty: Ty::Amount,
                required: false,
                description: "Instances per batch: a positive number, or `1%` to `100%` of the \
                              step's instances (rounded up). Default: all at once, in \
                              InvokeCommand calls of at most 100.",
                default: None,
                examples: &["10", "\"25%\""],
            },
            Field {
                name: "max_errors",
                ty: Ty::Amount,
                required: false,
                description: "Failed instances tolerated before the step stops launching batches \
                              and fails: a number, or a percentage. Default: what `min_success` \
                              allows (0 with the default 100%).",
                default: None,
                examples: &["0", "\"5%\""],
            },
        ],
    },
    Object {
        name: "schedule",
        description: "When Cloud Assistant runs a scheduled runbook.",
        extra: None,
        fields: &[
            Field {
                name: "frequency",
                ty: Ty::Str,
                required: true,
                description: "Cloud Assistant `Frequency`, sent as written: a cron \
                              expression with seconds (`seconds minutes hours day-of-month month \
                              day-of-week [year]`, optionally followed by a time zone; weekdays \
                              `0`/`7` = Sunday, `1` = Monday), `rate(5m)` (60 s to 7 days, longer \
                              than the timeout) or `at(2030-06-01 12:00:00)` (UTC unless a zone \
                              follows).",
                default: None,
                examples: &[
                    "\"0 0 3 ? * SUN\"",
                    "\"0 0 */12 * * ? Asia/Shanghai\"",
                    "\"rate(30m)\"",
                ],
            },
            Field {
                name: "timezone",
                ty: Ty::Str,
                required: false,
                description: "Time zone of a cron or `at(..)` Frequency that names none: it \
                              is written into the Frequency sent (`0 0 3 ? * SUN` becomes \
                              `0 0 3 ? * SUN Asia/Shanghai`) and previews use it. An IANA name \
                              (`Asia/Shanghai`), `UTC`, or `GMT+8:00` (no leading zero).",
                default: None,
                examples: &["\"Asia/Shanghai\""],
            },
        ],
    },
    Object {
        name: "success",
        description: "The gate of a step. An instance passes when its exit code is listed and \
                      its output satisfies the checks; the step passes when `min_success` \
                      instances pass.",
        extra: None,
        fields: &[
            Field {
                name: "exit_codes",
                ty: Ty::List(&Ty::Int {
                    min: -2_147_483_648,
                    max: 4_294_967_295,
                }),
                required: false,
                description: "Exit codes that pass.",
                default: Some("[0]"),
                examples: &["[0]", "[0, 3]"],
            },
            Field {
                name: "output_contains",
                ty: Ty::Str,
                required: false,
                description: "Text the output must contain.",
                default: None,
                examples: &["\"Complete!\""],
            },
            Field {
                name: "output_matches",
                ty: Ty::Str,
                required: false,
                description: "A regex (Rust `regex` syntax) the output must match.",
                default: None,
                examples: &["\"Complete!|Nothing to do\""],
            },
            Field {
                name: "min_success",
                ty: Ty::Amount,
                required: false,
                description: "How many instances must pass: a number, or a percentage of the \
                              step's instances (rounded up).",
                default: Some("\"100%\""),
                examples: &["\"100%\"", "\"90%\"", "2"],
            },
        ],
    },
    Object {
        name: "output",
        description: "A value captured from each instance's output.",
        extra: None,
        fields: &[Field {
            name: "regex",
            ty: Ty::Str,
            required: true,
            description: "A regex; the value is its first capture group, or the whole match \
                          when it has none.",
            default: None,
            examples: &["\"(\\\\d+)%\""],
        }],
    },
    Object {
        name: "secret",
        description: "A secret variable, read when the plan is built and masked everywhere. \
                      Exactly one of `env` and `file`.",
        extra: Some(r#"{"oneOf": [{"required": ["env"]}, {"required": ["file"]}]}"#),
        fields: &[
            Field {
                name: "secret",
                ty: Ty::True,
                required: true,
                description: "Marks the mapping as a secret; always `true`.",
                default: None,
                examples: &["true"],
            },
            Field {
                name: "env",
                ty: Ty::Pattern("^[A-Za-z_][A-Za-z0-9_]*$"),
                required: false,
                description: "Environment variable holding the value.",
                default: None,
                examples: &["\"DEPLOY_TOKEN\""],
            },
            Field {
                name: "file",
                ty: Ty::Str,
                required: false,
                description: "File holding the value, relative to the runbook; one trailing \
                              newline is dropped.",
                default: None,
                examples: &["\"secrets/token\""],
            },
            Field {
                name: "allow_inline",
                ty: Ty::Bool,
                required: false,
                description: "Allow the secret inside the script or `parameters`, where Cloud \
                              Assistant keeps it readable through DescribeInvocations.",
                default: Some("false"),
                examples: &["true"],
            },
        ],
    },
];

/// The object named `name`.
pub(crate) fn object(name: &str) -> &'static Object {
    OBJECTS
        .iter()
        .find(|o| o.name == name)
        .expect("the decoder asks only for objects in the table")
}

impl Object {
    /// The field named `name`.
    pub(crate) fn field(&self, name: &str) -> Option<&'static Field> {
        // `OBJECTS` is static, so its fields are too.
        let fields: &'static [Field] = self.fields;
        fields.iter().find(|f| f.name == name)
    }

    /// Every key, in table order.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &'static str> + '_ {
        let fields: &'static [Field] = self.fields;
        fields.iter().map(|f| f.name)
    }
}

/// Spellings from other tools (Ansible, SSM, OOS, GitHub Actions): the object, the foreign
/// key, the key it stands for here (`""` for none) and the help line. The decoder shows the
/// help for an unknown key before any edit-distance guess.
pub(crate) const FOREIGN_KEYS: &[(&str, &str, &str, &str)] = &[
    (
        "step",
        "continue_on_error",
        "on_failure",
        "write `on_failure: continue` to let dependent steps run after a failure (the policies are `abort`, `continue` and `rollback`)",
    ),
    (
        "step",
        "ignore_errors",
        "on_failure",
        "write `on_failure: continue` to let dependent steps run after a failure (the policies are `abort`, `continue` and `rollback`)",
    ),
    (
        "step",
        "expect",
        "success",
        "did you mean `success`? e.g. `success: {exit_codes: [0]}`",
    ),
    (
        "step",
        "dependsOn",
        "depends_on",
        "did you mean `depends_on`?",
    ),
    ("step", "needs", "depends_on", "did you mean `depends_on`?"),
    (
        "step",
        "requires",
        "depends_on",
        "did you mean `depends_on`?",
    ),
    ("step", "after", "depends_on", "did you mean `depends_on`?"),
    ("step", "cmd", "script", "did you mean `script`?"),
    ("step", "command", "script", "did you mean `script`?"),
    (
        "step",
        "commands",
        "script",
        "did you mean `script`? Put the commands in one block: `script: |`",
    ),
    ("step", "run", "script", "did you mean `script`?"),
    ("step", "shell", "script", "did you mean `script`?"),
    ("step", "if", "when", "did you mean `when`?"),
    ("step", "condition", "when", "did you mean `when`?"),
    ("step", "retry", "retries", "did you mean `retries`?"),
    (
        "step",
        "instance_ids",
        "targets",
        "put instances under `targets`: `targets: {instances: [...]}`",
    ),
    (
        "step",
        "instances",
        "targets",
        "put instances under `targets`: `targets: {instances: [...]}`",
    ),
    (
        "step",
        "tags",
        "targets",
        "put tags under `targets`: `targets: {tags: {...}}`",
    ),
    (
        "step",
        "exit_code",
        "success",
        "put it under `success` as a list: `success: {exit_codes: [0]}`",
    ),
    (
        "step",
        "exit_codes",
        "success",
        "put it under `success`: `success: {exit_codes: [0]}`",
    ),
    (
        "step",
        "schedule",
        "",
        "`schedule` belongs at the top of the runbook",
    ),
    ("step", "cwd", "working_dir", "did you mean `working_dir`?"),
    ("step", "user", "username", "did you mean `username`?"),
    (
        "step",
        "concurrency",
        "rate_control",
        "put it under `rate_control`: `rate_control: {concurrency: 10}`",
    ),
    (
        "step",
        "max_errors",
        "rate_control",
        "put it under `rate_control`: `rate_control: {max_errors: 0}`",
    ),
    (
        "targets",
        "instance_ids",
        "instances",
        "did you mean `instances`?",
    ),
    (
        "targets",
        "instanceIds",
        "instances",
        "did you mean `instances`?",
    ),
    ("targets", "ids", "instances", "did you mean `instances`?"),
    (
        "success",
        "exit_code",
        "exit_codes",
        "did you mean `exit_codes`? It takes a list: `exit_codes: [0]`",
    ),
    (
        "success",
        "contains",
        "output_contains",
        "did you mean `output_contains`?",
    ),
    (
        "success",
        "matches",
        "output_matches",
        "did you mean `output_matches`?",
    ),
    ("runbook", "variables", "vars", "did you mean `vars`?"),
    (
        "runbook",
        "parameters",
        "",
        "`parameters` belong to a step; runbook-wide values go in `vars`",
    ),
    ("runbook", "tasks", "steps", "did you mean `steps`?"),
    ("runbook", "mainSteps", "steps", "did you mean `steps`?"),
    (
        "runbook",
        "instance_ids",
        "targets",
        "put instances under `targets`: `targets: {instances: [...]}`",
    ),
    ("defaults", "shell", "type", "did you mean `type`?"),
    ("defaults", "user", "username", "did you mean `username`?"),
    (
        "defaults",
        "cwd",
        "working_dir",
        "did you mean `working_dir`?",
    ),
];

/// The key an unknown key most likely stands for: a foreign spelling's meaning, else the
/// nearest known key.
pub(crate) fn intended_key(object: &Object, key: &str) -> Option<&'static str> {
    if let Some((_, _, intended, _)) = FOREIGN_KEYS
        .iter()
        .find(|(o, k, _, _)| *o == object.name && *k == key)
    {
        return (!intended.is_empty()).then_some(*intended);
    }
    crate::suggest::nearest(key, object.keys())
}

/// The help for unknown key `key` in `object`: a foreign spelling's fix, else the nearest
/// known key, else the list of keys.
pub(crate) fn unknown_key_help(object: &Object, key: &str) -> String {
    if let Some((_, _, _, help)) = FOREIGN_KEYS
        .iter()
        .find(|(o, k, _, _)| *o == object.name && *k == key)
    {
        return (*help).to_owned();
    }
    if let Some(near) = crate::suggest::nearest(key, object.keys()) {
        return format!("did you mean `{near}`?");
    }
    let keys: Vec<&str> = object.keys().collect();
    format!(
        "the keys of {} are {}",
        object_title(object.name),
        crate::suggest::one_of(&keys).replacen(" or ", " and ", 1)
    )
}

/// Top-level keys with this prefix are ignored, so a runbook can hold anchors to reuse
/// (`x-common: &common ...`), as Compose files do.
pub(crate) const EXTENSION_PREFIX: &str = "x-";

/// What a value of type `ty` is, for "must be ..." messages.
pub(crate) fn expected(ty: &Ty) -> String {
    match ty {
        Ty::Str | Ty::Pattern(_) => "a string".to_owned(),
        Ty::Scalar => "a single value".to_owned(),
        Ty::Version => "`1`".to_owned(),
        Ty::True => "`true`".to_owned(),
        Ty::Bool => "`true` or `false`".to_owned(),
        Ty::Int { min, max } => format!("an integer from {min} to {max}"),
        Ty::Enum(values) => format!("one of {}", crate::suggest::one_of(values)),
        Ty::Duration => "a duration such as `90s`, `10m` or `1h`".to_owned(),
        Ty::Amount => "a number or a percentage".to_owned(),
        Ty::List(_) => "a list".to_owned(),
        Ty::Map(..) | Ty::Object(_) | Ty::Vars => "a mapping".to_owned(),
    }
}

/// How an object is named in messages.
pub(crate) fn object_title(name: &str) -> String {
    match name {
        "runbook" => "a runbook".to_owned(),
        "step" => "a step".to_owned(),
        "output" => "an output".to_owned(),
        "secret" => "a secret".to_owned(),
        other => format!("`{other}`"),
    }
}

/// The JSON Schema (draft 2020-12) of the runbook format, generated from the table.
pub fn json() -> Value {
    let root = &OBJECTS[0];
    let mut schema = object_schema(root);
    let mut defs = Map::new();
    for object in &OBJECTS[1..] {
        defs.insert(object.name.to_owned(), object_schema(object));
    }
    defs.insert("var_value".to_owned(), var_value_schema());
    let header = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "ecs-runbook runbook",
    });
    let Value::Object(mut out) = header else {
        unreachable!("a literal object")
    };
    if let Value::Object(body) = &mut schema {
        out.append(body);
    }
    out.insert("$defs".to_owned(), Value::Object(defs));
    Value::Object(out)
}

/// The schema text as committed: pretty JSON with a final newline.
pub fn json_text() -> String {
    let mut text = serde_json::to_string_pretty(&json()).expect("the schema serialises");
    text.push('\n');
    text
}

fn object_schema(object: &Object) -> Value {
    let mut properties = Map::new();
    for field in object.fields {
        properties.insert(field.name.to_owned(), field_schema(field));
    }
    let required: Vec<&str> = object
        .fields
        .iter()
        .filter(|f| f.required)
        .map(|f| f.name)
        .collect();
    let mut schema = Map::new();
    schema.insert("type".to_owned(), json!("object"));
    schema.insert("description".to_owned(), json!(object.description));
    schema.insert("properties".to_owned(), Value::Object(properties));
    if !required.is_empty() {
        schema.insert("required".to_owned(), json!(required));
    }
    if object.name == "runbook" {
        schema.insert(
            "patternProperties".to_owned(),
            json!({ format!("^{EXTENSION_PREFIX}"): {
                "description": "Ignored: a place for anchors to reuse.",
                "examples": [{"long": "30m"}],
            } }),
        );
    }
    schema.insert("additionalProperties".to_owned(), json!(false));
    if let Some(extra) = object.extra {
        let Value::Object(extra) = parse(extra) else {
            panic!("extra keywords of `{}` are an object", object.name)
        };
        schema.extend(extra);
    }
    Value::Object(schema)
}

fn field_schema(field: &Field) -> Value {
    let mut schema = match ty_schema(&field.ty) {
        Value::Object(map) => map,
        other => panic!("type schema is an object, found {other}"),
    };
    schema.insert("description".to_owned(), json!(field.description));
    if let Some(default) = field.default {
        schema.insert("default".to_owned(), parse(default));
    }
    if !field.examples.is_empty() {
        let examples: Vec<Value> = field.examples.iter().map(|e| parse(e)).collect();
        schema.insert("examples".to_owned(), Value::Array(examples));
    }
    Value::Object(schema)
}

fn ty_schema(ty: &Ty) -> Value {
    match ty {
        Ty::Str => json!({"type": "string"}),
        Ty::Scalar => json!({"type": ["string", "number", "boolean", "null"]}),
        Ty::Pattern(pattern) => json!({"type": "string", "pattern": pattern}),
        Ty::Version => json!({"const": 1}),
        Ty::Bool => json!({"type": "boolean"}),
        Ty::Int { min, max } => json!({"type": "integer", "minimum": min, "maximum": max}),
        Ty::True => json!({"const": true}),
        Ty::Enum(values) => json!({"enum": values}),
        Ty::Duration => json!({
            "oneOf": [
                {"type": "integer", "minimum": 10, "maximum": 86400},
                {"type": "string", "pattern": "^(?=.)([0-9]+h)?([0-9]+m)?([0-9]+s)?$|^[0-9]+$"},
            ]
        }),
        Ty::Amount => json!({
            "oneOf": [
                {"type": "integer", "minimum": 0},
                {"type": "string", "pattern": "^(100|[1-9]?[0-9])%$"},
            ]
        }),
        Ty::List(inner) => json!({"type": "array", "items": ty_schema(inner)}),
        Ty::Map(keys, inner) => json!({
            "type": "object",
            "propertyNames": {"pattern": keys},
            "additionalProperties": ty_schema(inner),
        }),
        Ty::Object(name) => json!({"$ref": format!("#/$defs/{name}")}),
        Ty::Vars => json!({
            "type": "object",
            "propertyNames": {
                "pattern": IDENTIFIER,
                "not": {"enum": crate::runbook::load::RESERVED_VARS},
            },
            "additionalProperties": {"$ref": "#/$defs/var_value"},
        }),
    }
}

fn var_value_schema() -> Value {
    json!({
        "description": "A variable's value: a scalar (kept as written), a list, a mapping, or a \
                        secret declaration.",
        "anyOf": [
            {"type": ["string", "number", "boolean", "null"]},
            {"type": "array", "items": {"$ref": "#/$defs/var_value"}},
            {"$ref": "#/$defs/secret"},
            {
                "type": "object",
                "not": {"required": ["secret"]},
                "additionalProperties": {"$ref": "#/$defs/var_value"},
            },
        ]
    })
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("bad JSON in the format table {text}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_is_documented() {
        for owner in OBJECTS {
            assert!(!owner.description.is_empty(), "{}", owner.name);
            for field in owner.fields {
                assert!(
                    field.description.ends_with('.'),
                    "{}.{}: descriptions are sentences",
                    owner.name,
                    field.name
                );
                for example in field.examples {
                    let _ = parse(example);
                }
                if let Ty::Object(name)
                | Ty::List(Ty::Object(name))
                | Ty::Map(_, Ty::Object(name)) = &field.ty
                {
                    let _ = object(name);
                }
            }
        }
    }

    #[test]
    fn unknown_key_help_prefers_foreign_spellings() {
        let step = object("step");
        assert_eq!(
            unknown_key_help(step, "continue_on_error"),
            "write `on_failure: continue` to let dependent steps run after a failure (the policies \
             are `abort`, `continue` and `rollback`)"
        );
        assert_eq!(unknown_key_help(step, "scirpt"), "did you mean `script`?");
        assert_eq!(
            unknown_key_help(object("output"), "zzz"),
            "the keys of an output are `regex`"
        );
        assert_eq!(
            unknown_key_help(object("targets"), "instance_ids"),
            "did you mean `instances`?"
        );
    }

    /// The paths of the schema's properties (under `properties`, `patternProperties` and,
    /// with `defs`, `$defs`), at any depth, for which `lacks` holds.
    fn properties_lacking(defs: bool, lacks: &dyn Fn(&Value) -> bool) -> Vec<String> {
        fn walk(
            node: &Value,
            path: &str,
            keys: &[&str],
            lacks: &dyn Fn(&Value) -> bool,
            out: &mut Vec<String>,
        ) {
            match node {
                Value::Object(map) => {
                    for (key, value) in map {
                        if keys.contains(&key.as_str())
                            && let Value::Object(children) = value
                        {
                            for (name, child) in children {
                                if lacks(child) {
                                    out.push(format!("{path}/{key}/{name}"));
                                }
                                walk(child, &format!("{path}/{key}/{name}"), keys, lacks, out);
                            }
                        } else {
                            walk(value, &format!("{path}/{key}"), keys, lacks, out);
                        }
                    }
                }
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        walk(item, &format!("{path}/{i}"), keys, lacks, out);
                    }
                }
                _ => {}
            }
        }
        let keys: &[&str] = if defs {
            &["properties", "patternProperties", "$defs"]
        } else {
            &["properties", "patternProperties"]
        };
        let mut out = Vec::new();
        walk(&json(), "", keys, lacks, &mut out);
        out
    }

    /// Every property the schema names, at any depth, carries its own `description` (or
    /// refers to a definition that does), so editors can show help for each key.
    #[test]
    fn every_property_in_the_schema_has_a_description() {
        let missing = properties_lacking(true, &|p| {
            p.get("description").is_none() && p.get("$ref").is_none()
        });
        assert!(missing.is_empty(), "no description: {missing:#?}");
        assert!(json().get("description").is_some());
    }

    /// Every field of the runbook format, at any depth, has `examples`, which the YAML
    /// language server offers on completion and shows on hover (issue 8).
    #[test]
    fn every_field_in_the_schema_has_examples() {
        let missing = properties_lacking(false, &|p| {
            p.get("examples")
                .and_then(Value::as_array)
                .is_none_or(Vec::is_empty)
        });
        assert!(missing.is_empty(), "no examples: {missing:#?}");
    }

    /// The committed schema is the generated one. Regenerate with
    /// `UPDATE_SCHEMA=1 cargo test --lib runbook::schema`.
    #[test]
    fn committed_schema_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/runbook.schema.json");
        let generated = json_text();
        if std::env::var_os("UPDATE_SCHEMA").is_some() {
            std::fs::write(path, &generated).expect("write the schema");
            return;
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == generated,
            "schemas/runbook.schema.json is stale; run `UPDATE_SCHEMA=1 cargo test --lib \
             runbook::schema` and commit it"
        );
    }
}
