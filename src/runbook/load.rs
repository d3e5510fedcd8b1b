//! `load`: runbook text → validated [`Runbook`], or every problem in the file at once.
//!
//! The pipeline is `yaml::parse` (syntax, spans) → `raw::decode` (keys and value shapes) →
//! the checks here (names, durations, regexes, amounts, targets, defaults, variables and their
//! overrides, script files, step references, the dependency graph through `plan::graph`), and
//! last the templates through `plan::templates::check`, so that one load reports every problem
//! of the file. Nothing here talks to the network.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use miette::{NamedSource, SourceSpan};
use sha2::{Digest, Sha256};

use crate::cloud::id::{InstanceId, RegionId};
use crate::cloud::status::CommandType;
use crate::plan::graph;
use crate::runbook::diagnostic::{Diagnostic, Diagnostics, Kind};
use crate::runbook::id::{RunbookName, StepName};
use crate::runbook::model::{
    Amount, DEFAULT_TIMEOUT, MIN_TIMEOUT, OnFailure, OutputCapture, OutputEncoding, RateControl,
    Runbook, Schedule, Script, ScriptOrigin, SecretSource, SecretVar, SourceFile, Spanned, Step,
    Success, Targets, Var, VarValue,
};
use crate::runbook::raw::{
    self, RawDefaults, RawRateControl, RawRunbook, RawSecret, RawStep, RawTargets, RawVar,
    RawVarValue, Text,
};
use crate::runbook::schema::{COMMAND_TYPES, ON_FAILURE};
use crate::runbook::yaml;
use crate::schedule::{self, Frequency, FrequencyError, FrequencyErrorKind};
use crate::suggest;

/// Names that cannot be variables: they are the roots of the template context.
pub const RESERVED_VARS: &[&str] = &["vars", "runbook", "step", "steps"];

/// The largest timeout accepted: 24 hours. Cloud Assistant documents an upper bound without
/// its value (`InvalidTimeout.ExceedLimit`); a day is far past any maintenance step.
pub const MAX_TIMEOUT: Duration = Duration::from_hours(24);

/// The most Cloud Assistant custom parameters a step may declare: `InvokeCommand`'s
/// `Parameters` takes at most 10 keys, and every declared parameter is sent there.
pub const MAX_PARAMETERS: usize = 10;

/// The most tags a `targets` may require.
pub const MAX_TAGS: usize = 20;

/// The most steps a runbook may have, `steps` and `rollback` together: far past any
/// maintenance procedure, and a bound on the work one file can ask of the loader and planner.
pub const MAX_STEPS: usize = 50_000;

/// The longest script, inline or in a `script_file`, in bytes: ten times the largest
/// CommandContent Cloud Assistant documents (24 KB after Base64), which the plan warns about.
pub const MAX_SCRIPT_BYTES: usize = 256 * 1024;

/// The most problems reported for one file; past it one more says how many were left out,
/// so that a file of a hundred thousand mistakes renders as fast as one of a hundred.
pub const MAX_DIAGNOSTICS: usize = 100;

/// Encoding labels offered when `output_encoding` is unknown.
const COMMON_ENCODINGS: &[&str] = &[
    "utf-8",
    "gbk",
    "gb18030",
    "big5",
    "shift_jis",
    "euc-jp",
    "euc-kr",
    "windows-1252",
    "iso-8859-1",
    "utf-16le",
    "utf-16be",
];

/// Variable overrides from the command line: `--vars-file` contents, then `--var name=value`
/// arguments (so a flag wins over the file).
#[derive(Debug, Clone, Default)]
pub struct VarOverrides {
    args: Vec<String>,
    file: Option<VarsFile>,
}

#[derive(Debug, Clone)]
struct VarsFile {
    path: PathBuf,
    /// The text, when given directly; otherwise read from `path` at load time.
    text: Option<String>,
}

impl VarOverrides {
    /// No overrides.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one `--var name=value` argument, as typed; it is checked when loading.
    #[must_use]
    pub fn var(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Sets the `--vars-file`, read when loading.
    #[must_use]
    pub fn vars_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.file = Some(VarsFile {
            path: path.into(),
            text: None,
        });
        self
    }

    /// Sets the `--vars-file` with its text already read (tests, stdin).
    #[must_use]
    pub fn vars_file_text(mut self, path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        self.file = Some(VarsFile {
            path: path.into(),
            text: Some(text.into()),
        });
        self
    }
}

/// The runbook hash saved plans and schedules compare: SHA-256 of the file's bytes, in hex.
pub fn hash(bytes: &[u8]) -> String {
    let mut hex = String::with_capacity(64);
    for byte in Sha256::digest(bytes) {
        write!(hex, "{byte:02x}").expect("writing to a String");
    }
    hex
}

/// Loads the runbook at `path` with no variable overrides.
pub fn load(path: &Path) -> Result<Runbook, Diagnostics> {
    load_with(path, &VarOverrides::new())
}

/// Loads the runbook at `path`, applying `overrides` to its variables.
pub fn load_with(path: &Path, overrides: &VarOverrides) -> Result<Runbook, Diagnostics> {
    let bytes = match read_bounded(path, yaml::MAX_FILE_SIZE) {
        Ok(bytes) => bytes,
        Err(kind) => {
            let mut all = Diagnostics::new(path, Arc::from(""));
            // Too large is a fact about the file, placed at its start; unreadable has no place.
            all.push(if matches!(kind, Kind::TooLarge { .. }) {
                Diagnostic::new(kind, (0, 0))
            } else {
                Diagnostic::unlocated(kind)
            });
            return Err(all);
        }
    };
    match decode_utf8(path, bytes) {
        Ok(text) => load_str(path, &text, overrides),
        Err(all) => Err(all),
    }
}

/// Loads runbook text as if read from `path` (which names it in diagnostics and anchors
/// `script_file` and secret `file` paths), applying `overrides`.
pub fn load_str(path: &Path, text: &str, overrides: &VarOverrides) -> Result<Runbook, Diagnostics> {
    let hash = hash(text.as_bytes());
    // Spans are offsets into the text without its byte-order mark, so that every renderer
    // counts columns the same way; the hash is of the whole file.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // YAML reads a lone CR as a line break; so do spans and every renderer once it is a LF.
    // Scalars are not changed by this: YAML normalises line breaks inside them to LF anyway.
    let normalized;
    let lone_cr = text
        .match_indices('\r')
        .any(|(i, _)| !text[i + 1..].starts_with('\n'));
    let text = if lone_cr {
        normalized = lone_cr_to_lf(text);
        normalized.as_str()
    } else {
        text
    };
    let source = SourceFile {
        path: path.to_owned(),
        text: Arc::from(text),
    };
    let mut errors = Vec::new();
    let parsed = yaml::parse(text);
    errors.extend(parsed.errors);
    let runbook = parsed.root.map(|root| {
        let raw = raw::decode(&root, &mut errors);
        let mut loader = Loader {
            text,
            base: path.parent().map(Path::to_owned).unwrap_or_default(),
            errors: &mut errors,
        };
        let runbook = loader.runbook(&raw, overrides, source.clone(), hash);
        // Templates are checked on what loaded, even past other problems; a script that did
        // not load is empty and adds nothing.
        errors.extend(crate::plan::templates::check(&runbook));
        runbook
    });
    match runbook {
        Some(runbook) if errors.is_empty() => Ok(runbook),
        _ => {
            let mut all = Diagnostics::new(path, Arc::clone(&source.text));
            // Report in file order; problems with no place (bad `--var`) and those in other
            // files (a `--vars-file`) come last.
            errors.sort_by_key(|d| {
                (
                    d.own_source().is_some(),
                    d.span().is_none(),
                    d.span().map_or(0, |s| s.offset()),
                )
            });
            all.errors = capped(errors);
            Err(all)
        }
    }
}

/// `text` with every CR that is not followed by LF replaced by LF.
fn lone_cr_to_lf(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' && chars.peek() != Some(&'\n') {
            out.push('\n');
        } else {
            out.push(c);
        }
    }
    out
}

/// The first [`MAX_DIAGNOSTICS`] problems, then one placed at the next that says how many
/// more there are.
fn capped(mut errors: Vec<Diagnostic>) -> Vec<Diagnostic> {
    if errors.len() <= MAX_DIAGNOSTICS {
        return errors;
    }
    let more = errors.len() - MAX_DIAGNOSTICS;
    let next = errors.swap_remove(MAX_DIAGNOSTICS);
    errors.truncate(MAX_DIAGNOSTICS);
    let kind = Kind::MoreProblems {
        count: more,
        shown: MAX_DIAGNOSTICS,
    };
    let summary = match (next.span(), next.own_source()) {
        (Some(span), None) => {
            Diagnostic::new(kind, span).with_label(format!("the next one: {}", next.kind()))
        }
        _ => Diagnostic::unlocated(kind),
    };
    errors.push(summary);
    errors
}

/// The bytes of the regular file at `path`, at most `limit` of them: a bigger file is
/// [`Kind::TooLarge`] before anything is read, and a device or pipe (`/dev/zero`, a FIFO) is
/// refused rather than read without end.
pub(crate) fn read_bounded(path: &Path, limit: usize) -> Result<Vec<u8>, Kind> {
    let unreadable = |message: String| Kind::Unreadable {
        path: path.display().to_string(),
        message,
    };
    // Look before opening: opening a FIFO blocks until something writes to it.
    let regular = |metadata: &std::fs::Metadata| {
        if metadata.is_file() {
            Ok(())
        } else {
            Err(unreadable("not a regular file".to_owned()))
        }
    };
    regular(&std::fs::metadata(path).map_err(|e| unreadable(io_message(&e)))?)?;
    let file = std::fs::File::open(path).map_err(|e| unreadable(io_message(&e)))?;
    let metadata = file.metadata().map_err(|e| unreadable(io_message(&e)))?;
    regular(&metadata)?;
    let size = usize::try_from(metadata.len()).unwrap_or(usize::MAX);
    if size > limit {
        return Err(Kind::TooLarge { size, limit });
    }
    let mut bytes = Vec::with_capacity(size);
    // The file may grow while it is read; never take more than one byte past the limit.
    file.take(u64::try_from(limit).unwrap_or(u64::MAX) + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| unreadable(io_message(&e)))?;
    if bytes.len() > limit {
        return Err(Kind::TooLarge {
            size: bytes.len(),
            limit,
        });
    }
    Ok(bytes)
}

/// The file's text, or a diagnostic saying why it is not UTF-8.
fn decode_utf8(path: &Path, bytes: Vec<u8>) -> Result<String, Diagnostics> {
    if bytes.len() > yaml::MAX_FILE_SIZE {
        let mut all = Diagnostics::new(path, Arc::from(""));
        all.push(Diagnostic::unlocated(Kind::TooLarge {
            size: bytes.len(),
            limit: yaml::MAX_FILE_SIZE,
        }));
        return Err(all);
    }
    String::from_utf8(bytes).map_err(|error| {
        let at = error.utf8_error().valid_up_to();
        let bytes = error.into_bytes();
        let utf16 = bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]);
        let lossy = String::from_utf8_lossy(&bytes).into_owned();
        let mut all = Diagnostics::new(path, Arc::from(lossy));
        let diagnostic = Diagnostic::new(Kind::NotUtf8, (at, 1)).with_label("not UTF-8 from here");
        all.push(if utf16 {
            diagnostic.with_help("the file is UTF-16; save it as UTF-8")
        } else {
            diagnostic
        });
        all
    })
}

/// An I/O error as a lower-case fragment.
fn io_message(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => {
            let text = error.to_string();
            let mut chars = text.chars();
            chars.next().map_or(text.clone(), |c| {
                c.to_lowercase().chain(chars).collect::<String>()
            })
        }
    }
}

/// The runbook-wide values each step falls back to.
struct Shared {
    command_type: Option<CommandType>,
    working_dir: Option<String>,
    timeout: Option<Duration>,
    username: Option<String>,
    targets: Option<Targets>,
    /// Whether `targets` was written at the top (even if it was invalid).
    targets_given: bool,
    rate_control: RateControl,
    has_rollback: bool,
    /// The names of the secret variables.
    secrets: Vec<String>,
}

/// Which list a step is in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Main,
    Rollback,
}

struct Loader<'a> {
    text: &'a str,
    base: PathBuf,
    errors: &'a mut Vec<Diagnostic>,
}

impl Loader<'_> {
    fn push(&mut self, diagnostic: Diagnostic) {
        self.errors.push(diagnostic);
    }

    fn runbook(
        &mut self,
        raw: &RawRunbook,
        overrides: &VarOverrides,
        source: SourceFile,
        hash: String,
    ) -> Runbook {
        let version = raw.version.as_ref().map_or(1, |v| self.version(v));
        let name = match &raw.name {
            Some(text) => self.runbook_name(text),
            None => None,
        };
        let region = raw.region.as_ref().and_then(|r| self.region(r));
        let mut vars = self.vars(&raw.vars);
        self.apply_overrides(&mut vars, overrides);
        let targets = raw.targets.as_ref().map(|t| self.targets(t, None));
        let defaults = self.defaults(&raw.defaults);
        let rate_control = self.rate_control(&raw.rate_control, &RateControl::default(), None);
        let (schedule, frequency) = match raw.schedule.as_ref().and_then(|s| self.schedule(s)) {
            Some((schedule, frequency)) => (Some(schedule), frequency),
            None => (None, None),
        };
        let has_rollback = raw.rollback.as_ref().is_some_and(|r| !r.items.is_empty());
        let shared = Shared {
            command_type: defaults.0,
            working_dir: defaults.1,
            timeout: defaults.2,
            username: defaults.3,
            targets: targets.clone(),
            targets_given: raw.targets_given,
            rate_control,
            has_rollback,
            secrets: vars
                .iter()
                .filter(|v| matches!(v.value, VarValue::Secret(_)))
                .map(|v| v.name.clone())
                .collect(),
        };

        let main: &[RawStep] = raw.steps.as_ref().map_or(&[], |s| &s.items);
        let rollback: &[RawStep] = raw.rollback.as_ref().map_or(&[], |s| &s.items);
        if let Some(steps) = &raw.steps
            && steps.written == 0
        {
            self.push(
                Diagnostic::new(
                    Kind::EmptyValue {
                        subject: "`steps`".to_owned(),
                    },
                    steps.key_span,
                )
                .with_help("add at least one step with a `name` and a `script`"),
            );
        }
        self.too_many_steps(main, rollback);
        self.duplicate_steps(main.iter().chain(rollback));
        let main_names = step_names(main);
        let steps: Vec<Step> = main
            .iter()
            .map(|s| self.step(s, &shared, Role::Main, &main_names))
            .collect();
        let mut earlier = HashSet::new();
        let mut rollback_steps = Vec::with_capacity(rollback.len());
        for step in rollback {
            rollback_steps.push(self.step(step, &shared, Role::Rollback, &earlier));
            if let Some(name) = &step.name {
                earlier.insert(name.value.as_str());
            }
        }
        self.graph(main);
        self.rollback_dependencies(main, rollback);
        if let (Some(schedule), Some(frequency)) = (&schedule, &frequency) {
            self.schedule_limits(schedule, frequency, &steps);
        }

        Runbook {
            source,
            hash,
            version,
            name: name.unwrap_or_else(|| RunbookName::parse("invalid").expect("a valid name")),
            description: raw.description.as_ref().map(|d| d.value.clone()),
            region,
            vars,
            targets: targets.unwrap_or_default(),
            schedule,
            steps,
            rollback: rollback_steps,
        }
    }

    fn version(&mut self, text: &Text) -> u32 {
        if text.is_plain() && text.value == "1" {
            return 1;
        }
        let found = if text.is_plain() {
            text.value.clone()
        } else {
            format!("{:?}", text.value)
        };
        let diagnostic =
            Diagnostic::new(Kind::BadVersion { found }, text.span).with_label("only `1` exists");
        self.push(if text.is_plain() {
            diagnostic
        } else {
            diagnostic.with_help("write the version as a number, without quotes: `version: 1`")
        });
        1
    }

    fn runbook_name(&mut self, text: &Text) -> Option<RunbookName> {
        if let Some(name) = RunbookName::parse(&text.value) {
            return Some(name);
        }
        let suggestion = normalize_name(&text.value, false);
        let mut help = "a runbook name uses lower-case letters, digits and `-`, starts with a \
                        letter or digit, and has at most 64 characters"
            .to_owned();
        if let Some(s) = suggestion.filter(|s| *s != text.value) {
            help = format!("{help}; did you mean `{s}`?");
        }
        self.push(
            Diagnostic::new(
                Kind::BadName {
                    what: "runbook name".to_owned(),
                    name: text.value.clone(),
                },
                text.span,
            )
            .with_help(help),
        );
        None
    }

    fn region(&mut self, text: &Text) -> Option<RegionId> {
        let value = &text.value;
        let valid = value.len() <= 64
            && value.split_once('-').is_some_and(|(area, rest)| {
                area.len() == 2
                    && area.bytes().all(|b| b.is_ascii_lowercase())
                    && !rest.is_empty()
                    && rest
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            });
        if valid {
            return Some(RegionId::new(value.clone()));
        }
        self.push(
            Diagnostic::new(
                Kind::BadName {
                    what: "region".to_owned(),
                    name: value.clone(),
                },
                text.span,
            )
            .with_help("a region id looks like `cn-hangzhou` or `ap-southeast-1`"),
        );
        None
    }

    // ---- variables ----

    fn vars(&mut self, raw: &[RawVar]) -> Vec<Var> {
        let mut vars = Vec::new();
        for var in raw {
            let name = &var.name.value;
            if RESERVED_VARS.contains(&name.as_str()) {
                self.push(
                    Diagnostic::new(Kind::ReservedName { name: name.clone() }, var.name.span)
                        .with_label("reserved"),
                );
            } else if !is_identifier(name) {
                let suggestion = identifier_like(name);
                let mut help = "a variable name uses letters, digits and `_`, and does not \
                                start with a digit"
                    .to_owned();
                if let Some(s) = suggestion {
                    help = format!("{help}; did you mean `{s}`?");
                }
                self.push(
                    Diagnostic::new(
                        Kind::BadName {
                            what: "variable name".to_owned(),
                            name: name.clone(),
                        },
                        var.name.span,
                    )
                    .with_help(help),
                );
            }
            let value = self.var_value(name, &var.value);
            vars.push(Var {
                name: name.clone(),
                value,
                span: var.span,
            });
        }
        vars
    }

    fn var_value(&mut self, name: &str, raw: &RawVarValue) -> VarValue {
        match raw {
            RawVarValue::Text(text) => VarValue::Text(text.value.clone()),
            RawVarValue::List(items) => {
                VarValue::List(items.iter().map(|i| self.var_value(name, i)).collect())
            }
            RawVarValue::Map(entries) => VarValue::Map(
                entries
                    .iter()
                    .map(|(k, v)| (k.value.clone(), self.var_value(name, v)))
                    .collect(),
            ),
            RawVarValue::Secret(secret) => self.secret(name, secret),
        }
    }

    fn secret(&mut self, name: &str, raw: &RawSecret) -> VarValue {
        let bad = |message: &str| Kind::BadSecret {
            name: name.to_owned(),
            message: message.to_owned(),
        };
        let from = match (&raw.env, &raw.file) {
            (Some(env), None) => {
                if !is_identifier(&env.value) {
                    self.push(
                        Diagnostic::new(bad("`env` must name an environment variable"), env.span)
                            .with_help(
                                "environment variable names use letters, digits and `_`, like \
                                 `DEPLOY_TOKEN`",
                            ),
                    );
                }
                SecretSource::Env(env.value.clone())
            }
            (None, Some(file)) => SecretSource::File(self.base.join(&file.value)),
            (Some(_), Some(file)) => {
                self.push(
                    Diagnostic::new(bad("give `env` or `file`, not both"), file.span)
                        .with_help("keep one source for the secret"),
                );
                SecretSource::File(self.base.join(&file.value))
            }
            (None, None) => {
                self.push(
                    Diagnostic::new(bad("it needs `env` or `file`"), raw.head).with_help(
                        "write `{secret: true, env: NAME}` or `{secret: true, file: path}`",
                    ),
                );
                SecretSource::Env(String::new())
            }
        };
        VarValue::Secret(SecretVar {
            from,
            allow_inline: raw.allow_inline.as_ref().is_some_and(|a| a.value),
        })
    }

    fn apply_overrides(&mut self, vars: &mut [Var], overrides: &VarOverrides) {
        if let Some(file) = &overrides.file {
            self.apply_vars_file(vars, file);
        }
        for arg in &overrides.args {
            let Some((name, value)) = arg.split_once('=').filter(|(n, _)| !n.trim().is_empty())
            else {
                self.push(Diagnostic::unlocated(Kind::BadVarOverride {
                    text: arg.clone(),
                }));
                continue;
            };
            let name = name.trim();
            match vars.iter_mut().find(|v| v.name == name) {
                Some(var) if matches!(var.value, VarValue::Secret(_)) => {
                    self.push(
                        Diagnostic::new(
                            Kind::SecretOverride {
                                origin: "`--var`".to_owned(),
                                name: name.to_owned(),
                            },
                            var.span,
                        )
                        .with_label("declared secret here"),
                    );
                }
                Some(var) => var.value = VarValue::Text(value.to_owned()),
                None => {
                    let help = undeclared_help(name, vars);
                    self.push(
                        Diagnostic::unlocated(Kind::UndeclaredVar {
                            origin: "`--var`".to_owned(),
                            name: name.to_owned(),
                        })
                        .with_help(help),
                    );
                }
            }
        }
    }

    fn apply_vars_file(&mut self, vars: &mut [Var], file: &VarsFile) {
        let text = match &file.text {
            Some(text) => text.clone(),
            None => match read_bounded(&file.path, yaml::MAX_FILE_SIZE) {
                Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                Err(kind) => {
                    self.push(Diagnostic::unlocated(kind));
                    return;
                }
            },
        };
        let source = NamedSource::new(file.path.display().to_string(), Arc::from(text.as_str()))
            .with_language("yaml");
        let parsed = yaml::parse(&text);
        let mut errors = parsed.errors;
        let raw = parsed
            .root
            .map(|root| raw::decode_vars_file(&root, &mut errors))
            .unwrap_or_default();
        for raw_var in &raw {
            let name = raw_var.name.value.as_str();
            let value = match &raw_var.value {
                RawVarValue::Secret(_) => {
                    errors.push(
                        Diagnostic::new(
                            Kind::BadSecret {
                                name: name.to_owned(),
                                message: "a vars file cannot declare secrets".to_owned(),
                            },
                            raw_var.span,
                        )
                        .with_help("declare the secret under `vars:` in the runbook"),
                    );
                    continue;
                }
                other => self.var_value(name, other),
            };
            match vars.iter_mut().find(|v| v.name == name) {
                Some(var) if matches!(var.value, VarValue::Secret(_)) => errors.push(
                    Diagnostic::new(
                        Kind::SecretOverride {
                            origin: "`--vars-file`".to_owned(),
                            name: name.to_owned(),
                        },
                        raw_var.name.span,
                    )
                    .with_label("a secret in the runbook"),
                ),
                Some(var) => var.value = value,
                None => {
                    let help = undeclared_help(name, vars);
                    errors.push(
                        Diagnostic::new(
                            Kind::UndeclaredVar {
                                origin: "`--vars-file`".to_owned(),
                                name: name.to_owned(),
                            },
                            raw_var.name.span,
                        )
                        .with_label("not in the runbook's `vars`")
                        .with_help(help),
                    );
                }
            }
        }
        for error in errors {
            self.push(error.with_source(source.clone()));
        }
    }

    // ---- targets, defaults, rate control, schedule ----

    /// Checks `targets` of `owner` (a step's title, or `None` for the runbook's).
    fn targets(&mut self, raw: &RawTargets, owner: Option<&str>) -> Targets {
        let subject = |key: &str| match owner {
            Some(owner) => format!("`{key}` of {owner}"),
            None => format!("`{key}`"),
        };
        let instances = self.instances(raw, &subject("targets.instances"));
        let tags = self.tags(raw, &subject("targets.tags"));
        if raw.instances.is_empty() && raw.tags.is_empty() && !raw.incomplete {
            self.push(
                Diagnostic::new(
                    Kind::EmptyValue {
                        subject: subject("targets"),
                    },
                    raw.key_span,
                )
                .with_help("give `instances: [i-...]`, `tags: {key: value}`, or both"),
            );
        }
        Targets {
            instances,
            tags,
            span: Some(raw.span),
        }
    }

    /// Instance ids: well formed, each once.
    fn instances(&mut self, raw: &RawTargets, subject: &str) -> Vec<Spanned<InstanceId>> {
        let mut instances: Vec<Spanned<InstanceId>> = Vec::new();
        for text in &raw.instances {
            if !is_instance_id(&text.value) {
                let lower = text.value.to_ascii_lowercase();
                let help = if is_instance_id(&lower) {
                    format!("instance ids are lower-case: `{lower}`")
                } else {
                    "an instance id is `i-` followed by lower-case letters and digits, like \
                     `i-bp1aaaaaaaaaaaaaaaa1`"
                        .to_owned()
                };
                self.push(
                    Diagnostic::new(
                        Kind::BadInstanceId {
                            id: text.value.clone(),
                        },
                        text.span,
                    )
                    .with_label("not an instance id")
                    .with_help(help),
                );
                continue;
            }
            if let Some(first) = instances.iter().find(|i| i.value.as_str() == text.value) {
                let first = first.span;
                self.push(
                    Diagnostic::new(
                        Kind::DuplicateEntry {
                            subject: subject.to_owned(),
                            value: text.value.clone(),
                        },
                        text.span,
                    )
                    .with_label("listed again")
                    .with_related(first, "first listed here")
                    .with_help("remove the repeated id"),
                );
                continue;
            }
            instances.push(Spanned::new(InstanceId::new(text.value.clone()), text.span));
        }
        instances
    }

    /// Tags: keys and values Cloud Assistant accepts, at most [`MAX_TAGS`].
    fn tags(
        &mut self,
        raw: &RawTargets,
        subject: &str,
    ) -> std::collections::BTreeMap<String, String> {
        let mut tags = std::collections::BTreeMap::new();
        for (key, value) in &raw.tags {
            let k = key.value.as_str();
            let lower = k.to_ascii_lowercase();
            if k.is_empty() || lower.starts_with("aliyun") || lower.starts_with("acs:") {
                self.push(
                    Diagnostic::new(
                        Kind::BadTag {
                            what: "key".to_owned(),
                            text: k.to_owned(),
                        },
                        key.span,
                    )
                    .with_help("tag keys are not empty and cannot start with `aliyun` or `acs:`"),
                );
            } else if k.chars().count() > 64 {
                self.push(Diagnostic::new(
                    Kind::TooLong {
                        subject: format!("tag key `{k}`"),
                        limit: 64,
                    },
                    key.span,
                ));
            }
            if value.value.chars().count() > 128 {
                self.push(Diagnostic::new(
                    Kind::TooLong {
                        subject: format!("the value of tag `{k}`"),
                        limit: 128,
                    },
                    value.span,
                ));
            }
            tags.insert(k.to_owned(), value.value.clone());
        }
        if raw.tags.len() > MAX_TAGS {
            self.push(
                Diagnostic::new(
                    Kind::TooMany {
                        subject: subject.to_owned(),
                        limit: MAX_TAGS,
                    },
                    raw.tags[MAX_TAGS].0.span,
                )
                .with_label("one too many")
                .with_help("DescribeInstances filters on at most 20 tags"),
            );
        }
        tags
    }

    fn defaults(
        &mut self,
        raw: &RawDefaults,
    ) -> (
        Option<CommandType>,
        Option<String>,
        Option<Duration>,
        Option<String>,
    ) {
        let subject = "`defaults`";
        (
            raw.command_type.as_ref().and_then(|t| self.command_type(t)),
            raw.working_dir
                .as_ref()
                .and_then(|w| self.bounded(w, &format!("`working_dir` of {subject}"), 200)),
            raw.timeout.as_ref().and_then(|t| self.timeout(t)),
            raw.username
                .as_ref()
                .and_then(|u| self.bounded(u, &format!("`username` of {subject}"), 255)),
        )
    }

    /// A non-empty string of at most `limit` characters.
    fn bounded(&mut self, text: &Text, subject: &str, limit: usize) -> Option<String> {
        if text.value.trim().is_empty() {
            self.push(Diagnostic::new(
                Kind::EmptyValue {
                    subject: subject.to_owned(),
                },
                text.span,
            ));
            return None;
        }
        if text.value.chars().count() > limit {
            self.push(Diagnostic::new(
                Kind::TooLong {
                    subject: subject.to_owned(),
                    limit,
                },
                text.span,
            ));
            return None;
        }
        Some(text.value.clone())
    }

    fn command_type(&mut self, text: &Text) -> Option<CommandType> {
        if COMMAND_TYPES.contains(&text.value.as_str()) {
            return Some(CommandType::parse(&text.value));
        }
        let help = match suggest::nearest(&text.value, COMMAND_TYPES.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("the script types are {}", suggest::one_of(COMMAND_TYPES)),
        };
        self.push(
            Diagnostic::new(
                Kind::BadCommandType {
                    found: text.value.clone(),
                },
                text.span,
            )
            .with_label("not a script type")
            .with_help(help),
        );
        None
    }

    fn timeout(&mut self, text: &Text) -> Option<Duration> {
        let Some(seconds) = parse_duration(&text.value) else {
            self.push(
                Diagnostic::new(
                    Kind::BadDuration {
                        text: text.value.clone(),
                    },
                    text.span,
                )
                .with_label("not a duration"),
            );
            return None;
        };
        let duration = Duration::from_secs(seconds);
        if duration < MIN_TIMEOUT {
            self.push(
                Diagnostic::new(
                    Kind::TimeoutTooShort {
                        text: text.value.clone(),
                    },
                    text.span,
                )
                .with_label("at least 10 seconds"),
            );
            return None;
        }
        if duration > MAX_TIMEOUT {
            self.push(
                Diagnostic::new(
                    Kind::TimeoutTooLong {
                        text: text.value.clone(),
                    },
                    text.span,
                )
                .with_label("at most 24 hours"),
            );
            return None;
        }
        Some(duration)
    }

    fn amount(&mut self, text: &Text, subject: &str, min: u32) -> Option<Amount> {
        let value = text.value.trim();
        let parsed = match value.strip_suffix('%') {
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p
                .parse::<u32>()
                .ok()
                .filter(|p| (min..=100).contains(p))
                .map(Amount::Percent),
            None if text.is_plain()
                && !value.is_empty()
                && value.bytes().all(|b| b.is_ascii_digit()) =>
            {
                value
                    .parse::<u32>()
                    .ok()
                    .filter(|n| *n >= min)
                    .map(Amount::Count)
            }
            _ => None,
        };
        if parsed.is_none() {
            let (expected, help) = if min == 0 {
                (
                    "a number of instances or a percentage from `0%` to `100%`",
                    "write a whole number (`2`) or a whole percentage (`25%`)",
                )
            } else {
                (
                    "a number of instances from 1 or a percentage from `1%` to `100%`",
                    "write a whole number (`10`) or a whole percentage (`25%`)",
                )
            };
            self.push(
                Diagnostic::new(
                    Kind::BadAmount {
                        subject: subject.to_owned(),
                        expected: expected.to_owned(),
                        text: text.value.clone(),
                    },
                    text.span,
                )
                .with_help(help),
            );
        }
        parsed
    }

    /// `rate_control` of `owner` (a step's title, or `None` for the runbook's), each field
    /// falling back to `inherited`.
    fn rate_control(
        &mut self,
        raw: &RawRateControl,
        inherited: &RateControl,
        owner: Option<&str>,
    ) -> RateControl {
        let subject = |key: &str| match owner {
            Some(owner) => format!("`rate_control.{key}` of {owner}"),
            None => format!("`rate_control.{key}`"),
        };
        RateControl {
            concurrency: match &raw.concurrency {
                Some(text) => self.amount(text, &subject("concurrency"), 1),
                None => inherited.concurrency,
            },
            max_errors: match &raw.max_errors {
                Some(text) => self.amount(text, &subject("max_errors"), 0),
                None => inherited.max_errors,
            },
        }
    }

    /// `schedule`: the Frequency parsed as Cloud Assistant reads it, the zone checked, and
    /// the two combined into the Frequency sent. Also returns the parsed Frequency sent, for
    /// [`Self::schedule_limits`] once the steps' timeouts are known.
    fn schedule(&mut self, raw: &raw::RawSchedule) -> Option<(Schedule, Option<Frequency>)> {
        let frequency = raw.frequency.as_ref()?;
        let parsed = if frequency.value.trim().is_empty() {
            self.push(
                Diagnostic::new(
                    Kind::EmptyValue {
                        subject: "`schedule.frequency`".to_owned(),
                    },
                    frequency.span,
                )
                .with_help(
                    "write a cron expression with seconds (`0 0 3 ? * SUN`), `rate(1h)` or `at(...)`",
                ),
            );
            None
        } else {
            match schedule::parse(&frequency.value) {
                Ok(parsed) => Some(parsed),
                Err(error) => {
                    let diagnostic = self.schedule_diagnostic("frequency", frequency, &error);
                    self.push(diagnostic);
                    None
                }
            }
        };
        let zone = raw
            .timezone
            .as_ref()
            .and_then(|tz| match schedule::parse_zone(&tz.value) {
                Ok(zone) => Some((zone, tz)),
                Err(error) => {
                    let diagnostic = self.schedule_diagnostic("timezone", tz, &error);
                    self.push(diagnostic);
                    None
                }
            });
        let mut sent = frequency.value.clone();
        if let (Some(parsed), Some((zone, tz))) = (&parsed, &zone) {
            match parsed.zone() {
                Some(own) if own.name() != zone.name() => self.push(
                    Diagnostic::new(
                        Kind::BadSchedule {
                            field: "timezone",
                            message: format!(
                                "`{}` differs from the zone `{}` written in `schedule.frequency`",
                                zone.name(),
                                own.name()
                            ),
                        },
                        tz.span,
                    )
                    .with_label("this zone")
                    .with_related(frequency.span, "names another zone")
                    .with_help("keep one of them: the frequency's own zone decides when it runs"),
                ),
                Some(_) => {}
                None => {
                    if let Some(zoned) = parsed.in_zone(zone) {
                        sent = zoned;
                    }
                }
            }
        }
        let sent_parsed = parsed.and_then(|_| schedule::parse(&sent).ok());
        Some((
            Schedule {
                frequency: frequency.spanned(),
                timezone: raw.timezone.as_ref().map(Text::spanned),
                sent,
            },
            sent_parsed,
        ))
    }

    /// A Frequency or zone error, labelled at the offending token inside the scalar.
    fn schedule_diagnostic(
        &self,
        field: &'static str,
        text: &Text,
        error: &FrequencyError,
    ) -> Diagnostic {
        let end = text.value.len();
        let range = error.span.start.min(end)..error.span.end.min(end);
        Diagnostic::new(
            Kind::BadSchedule {
                field,
                message: error.message.clone(),
            },
            yaml::value_span(self.text, text.span, range),
        )
        .with_label(error.kind.label())
        .with_help(error.help.clone())
    }

    /// The limits that depend on the steps: the interval against the longest step timeout.
    /// "Now" is not read here (`at(..)` in the past is refused by `plan` and `run`), so loading
    /// stays deterministic.
    fn schedule_limits(&mut self, schedule: &Schedule, frequency: &Frequency, steps: &[Step]) {
        let Some(step) = steps.iter().max_by_key(|s| s.timeout) else {
            return;
        };
        if let Err(error) = schedule::check(frequency, step.timeout) {
            let text = Text {
                value: schedule.frequency.value.clone(),
                span: schedule.frequency.span,
                style: yaml::ScalarStyle::Plain,
                tagged_str: false,
            };
            let mut diagnostic = self.schedule_diagnostic("frequency", &text, &error);
            if error.kind == FrequencyErrorKind::Limit && error.message.contains("timeout") {
                diagnostic = diagnostic.with_help(format!(
                    "{} (the timeout of step `{}`)",
                    error.help, step.name
                ));
            }
            self.push(diagnostic);
        }
    }

    // ---- steps ----

    /// More than [`MAX_STEPS`] steps: labelled at the first one past the limit. The other
    /// checks still run, so a cycle among them is reported too.
    fn too_many_steps(&mut self, main: &[RawStep], rollback: &[RawStep]) {
        if let Some(first_past) = main.iter().chain(rollback).nth(MAX_STEPS) {
            self.push(
                Diagnostic::new(
                    Kind::TooMany {
                        subject: "`steps` with `rollback`".to_owned(),
                        limit: MAX_STEPS,
                    },
                    first_past.head,
                )
                .with_label(format!(
                    "step {} of {}",
                    MAX_STEPS + 1,
                    main.len() + rollback.len()
                ))
                .with_help(format!(
                    "a runbook has at most {MAX_STEPS} steps, `steps` and `rollback` together; \
                     split the procedure into several runbooks"
                )),
            );
        }
    }

    fn duplicate_steps<'s>(&mut self, steps: impl Iterator<Item = &'s RawStep>) {
        let mut seen: HashMap<&str, SourceSpan> = HashMap::new();
        for step in steps {
            let Some(name) = &step.name else {
                continue;
            };
            if let Some(first) = seen.get(name.value.as_str()) {
                let first = *first;
                self.push(
                    Diagnostic::new(
                        Kind::DuplicateStep {
                            name: name.value.clone(),
                        },
                        name.span,
                    )
                    .with_label("defined again here")
                    .with_related(first, "first defined here")
                    .with_help("step names are unique across `steps` and `rollback`; rename one"),
                );
            } else {
                seen.insert(&name.value, name.span);
            }
        }
    }

    /// Converts one step; `known` are the names its `depends_on` may use (all main steps for
    /// a main step, the rollback steps above it for a rollback step).
    fn step(&mut self, raw: &RawStep, shared: &Shared, role: Role, known: &HashSet<&str>) -> Step {
        let title = raw.title.as_str();
        let name = raw
            .name
            .as_ref()
            .and_then(|n| self.step_name(n, "step name"));
        let name_span = raw.name.as_ref().map_or(raw.head, |n| n.span);
        let script = self.script(raw);
        let command_type = raw
            .command_type
            .as_ref()
            .and_then(|t| self.command_type(t))
            .or_else(|| shared.command_type.clone())
            .unwrap_or(CommandType::RunShellScript);
        let working_dir = match &raw.working_dir {
            Some(w) => self.bounded(w, &format!("`working_dir` of {title}"), 200),
            None => shared.working_dir.clone(),
        };
        let username = match &raw.username {
            Some(u) => self.bounded(u, &format!("`username` of {title}"), 255),
            None => shared.username.clone(),
        };
        let timeout = raw
            .timeout
            .as_ref()
            .and_then(|t| self.timeout(t))
            .or(shared.timeout)
            .unwrap_or(DEFAULT_TIMEOUT);
        let depends_on = self.depends_on(raw, known);
        let when = raw.when.as_ref().and_then(|w| {
            if w.value.trim().is_empty() {
                self.push(Diagnostic::new(
                    Kind::EmptyValue {
                        subject: format!("`when` of {title}"),
                    },
                    w.span,
                ));
                None
            } else {
                Some(w.spanned())
            }
        });
        let retries = raw.retries.as_ref().map_or(0, |r| self.retries(r, title));
        let targets = match &raw.targets {
            Some(t) => self.targets(t, Some(title)),
            None => {
                if let Some(t) = &shared.targets {
                    t.clone()
                } else {
                    let misspelt = raw.intended.contains(&"targets");
                    if !raw.targets_given && !shared.targets_given && !misspelt {
                        self.push(
                            Diagnostic::new(
                                Kind::NoTargets {
                                    step: step_label(raw),
                                },
                                name_span,
                            )
                            .with_label("runs nowhere"),
                        );
                    }
                    Targets::default()
                }
            }
        };
        let success = self.success(raw, &targets);
        let on_failure = self.on_failure(raw, shared, role);
        let outputs = self.outputs(raw);
        let parameters = self.parameters(raw, &shared.secrets);
        let rate_control = self.rate_control(&raw.rate_control, &shared.rate_control, Some(title));
        let output_encoding = raw.output_encoding.as_ref().and_then(|e| self.encoding(e));
        Step {
            name: name.unwrap_or_else(|| StepName::parse("invalid").expect("a valid name")),
            name_span,
            script,
            command_type,
            working_dir,
            timeout,
            username,
            depends_on,
            when,
            retries,
            success,
            on_failure,
            outputs,
            parameters,
            targets,
            rate_control,
            output_encoding,
        }
    }

    fn step_name(&mut self, text: &Text, what: &str) -> Option<StepName> {
        if let Some(name) = StepName::parse(&text.value) {
            return Some(name);
        }
        let mut help = "a step name uses lower-case letters, digits, `-` and `_`, starts with a \
                        letter or digit, and has at most 64 characters"
            .to_owned();
        if let Some(s) = normalize_name(&text.value, true).filter(|s| *s != text.value) {
            help = format!("{help}; did you mean `{s}`?");
        }
        self.push(
            Diagnostic::new(
                Kind::BadName {
                    what: what.to_owned(),
                    name: text.value.clone(),
                },
                text.span,
            )
            .with_help(help),
        );
        None
    }

    fn script(&mut self, raw: &RawStep) -> Script {
        let empty = Script {
            text: String::new(),
            span: raw.head,
            origin: ScriptOrigin::Inline,
        };
        match (&raw.script, &raw.script_file) {
            (Some(script), Some(file)) => {
                self.push(
                    Diagnostic::new(
                        Kind::ScriptConflict {
                            step: step_label(raw),
                        },
                        file.span,
                    )
                    .with_label("`script_file` here")
                    .with_related(script.span, "`script` here"),
                );
                empty
            }
            (None, None) => {
                // A script that was written but failed to decode, or misspelt (`scirpt`),
                // already has its error.
                let misspelt = raw
                    .intended
                    .iter()
                    .any(|k| *k == "script" || *k == "script_file");
                if !raw.script_given && !misspelt {
                    let span = raw.name.as_ref().map_or(raw.head, |n| n.span);
                    self.push(
                        Diagnostic::new(
                            Kind::ScriptMissing {
                                step: step_label(raw),
                            },
                            span,
                        )
                        .with_label("no script"),
                    );
                }
                empty
            }
            (Some(script), None) => {
                if script.value.len() > MAX_SCRIPT_BYTES {
                    self.push(script_too_large(raw, script.span, script.value.len()));
                    return empty;
                }
                if script.value.trim().is_empty() {
                    self.push(Diagnostic::new(
                        Kind::EmptyValue {
                            subject: format!("`script` of {}", raw.title),
                        },
                        script.span,
                    ));
                }
                Script {
                    text: script.value.clone(),
                    span: script.span,
                    origin: ScriptOrigin::Inline,
                }
            }
            (None, Some(file)) => {
                let path = self.base.join(&file.value);
                let text = match read_bounded(&path, MAX_SCRIPT_BYTES) {
                    Ok(bytes) => {
                        if let Ok(text) = String::from_utf8(bytes) {
                            text
                        } else {
                            self.script_file_error(file, &path, "it is not valid UTF-8");
                            String::new()
                        }
                    }
                    Err(Kind::TooLarge { size, .. }) => {
                        self.push(script_too_large(raw, file.span, size));
                        String::new()
                    }
                    Err(Kind::Unreadable { message, .. }) => {
                        self.script_file_error(file, &path, &message);
                        String::new()
                    }
                    Err(other) => {
                        self.script_file_error(file, &path, &other.to_string());
                        String::new()
                    }
                };
                Script {
                    text,
                    span: file.span,
                    origin: ScriptOrigin::File(path),
                }
            }
        }
    }

    fn script_file_error(&mut self, file: &Text, path: &Path, message: &str) {
        self.push(
            Diagnostic::new(
                Kind::ScriptFile {
                    path: path.display().to_string(),
                    message: message.to_owned(),
                },
                file.span,
            )
            .with_label("read relative to the runbook's directory"),
        );
    }

    fn depends_on(&mut self, raw: &RawStep, known: &HashSet<&str>) -> Vec<Spanned<StepName>> {
        let mut out: Vec<Spanned<StepName>> = Vec::new();
        let mut listed: HashMap<&str, SourceSpan> = HashMap::new();
        for dep in &raw.depends_on {
            // A reference to a step whose own name is invalid is reported once, at that step.
            let names_a_step = known.contains(dep.value.as_str());
            let name = if names_a_step {
                StepName::parse(&dep.value)
            } else {
                self.step_name(dep, "step name")
            };
            let Some(name) = name else {
                continue;
            };
            if let Some(&first) = listed.get(dep.value.as_str()) {
                self.push(
                    Diagnostic::new(
                        Kind::DuplicateEntry {
                            subject: format!("`depends_on` of {}", raw.title),
                            value: dep.value.clone(),
                        },
                        dep.span,
                    )
                    .with_related(first, "first listed here")
                    .with_help("remove the repeated name"),
                );
                continue;
            }
            listed.insert(&dep.value, dep.span);
            out.push(Spanned::new(name, dep.span));
        }
        out
    }

    fn retries(&mut self, text: &Text, title: &str) -> u32 {
        let subject = format!("`retries` of {title}");
        match plain_integer(text) {
            Some(n) if (0..=10).contains(&n) => u32::try_from(n).expect("in range"),
            Some(_) => {
                self.push(Diagnostic::new(
                    Kind::OutOfRange {
                        subject,
                        min: 0,
                        max: 10,
                        found: text.value.clone(),
                    },
                    text.span,
                ));
                0
            }
            None => {
                self.push(Diagnostic::new(
                    Kind::WrongType {
                        subject,
                        expected: "an integer from 0 to 10".to_owned(),
                        found: text.found(),
                    },
                    text.span,
                ));
                0
            }
        }
    }

    fn success(&mut self, raw: &RawStep, targets: &Targets) -> Success {
        let mut success = Success::default();
        let Some(gate) = &raw.success else {
            return success;
        };
        let title = raw.title.as_str();
        if let Some(codes) = &gate.exit_codes {
            if codes.value.is_empty() {
                self.push(
                    Diagnostic::new(
                        Kind::EmptyValue {
                            subject: format!("`success.exit_codes` of {title}"),
                        },
                        codes.span,
                    )
                    .with_help("leave `exit_codes` out for the default `[0]`"),
                );
            }
            let mut parsed = Vec::new();
            for code in &codes.value {
                match plain_integer(code) {
                    Some(n) if (-2_147_483_648..=4_294_967_295).contains(&n) => {
                        parsed.push(i64::try_from(n).expect("in range"));
                    }
                    Some(_) => self.push(Diagnostic::new(
                        Kind::OutOfRange {
                            subject: format!("an exit code of {title}"),
                            min: -2_147_483_648,
                            max: 4_294_967_295,
                            found: code.value.clone(),
                        },
                        code.span,
                    )),
                    None => self.push(Diagnostic::new(
                        Kind::WrongType {
                            subject: format!("each item of `success.exit_codes` of {title}"),
                            expected: "an integer".to_owned(),
                            found: code.found(),
                        },
                        code.span,
                    )),
                }
            }
            if !codes.value.is_empty() {
                success.exit_codes = parsed;
            }
        }
        if let Some(contains) = &gate.output_contains {
            if contains.value.is_empty() {
                self.push(Diagnostic::new(
                    Kind::EmptyValue {
                        subject: format!("`success.output_contains` of {title}"),
                    },
                    contains.span,
                ));
            }
            success.output_contains = Some(contains.value.clone());
        }
        if let Some(pattern) = &gate.output_matches {
            success.output_matches = self.regex(pattern);
        }
        if let Some(min) = &gate.min_success
            && let Some(amount) = self.amount(min, &format!("`success.min_success` of {title}"), 0)
        {
            let explicit = targets.instances.len();
            if let Amount::Count(n) = amount
                && targets.tags.is_empty()
                && explicit > 0
                && usize::try_from(n).unwrap_or(usize::MAX) > explicit
            {
                self.push(
                    Diagnostic::new(
                        Kind::OutOfRange {
                            subject: format!("`success.min_success` of {title}"),
                            min: 0,
                            max: i64::try_from(explicit).unwrap_or(i64::MAX),
                            found: min.value.clone(),
                        },
                        min.span,
                    )
                    .with_help(format!(
                        "the step targets {}; use a percentage to follow the fleet",
                        crate::count::Count(explicit, "instance")
                    )),
                );
            }
            success.min_success = amount;
        }
        success
    }

    /// Compiles a regex, labelling a syntax error at its place inside the YAML string.
    fn regex(&mut self, text: &Text) -> Option<regex::Regex> {
        match regex::Regex::new(&text.value) {
            Ok(regex) => Some(regex),
            Err(error) => {
                let (message, range) = locate_regex_error(&text.value, &error);
                let span = text.scalar().source_span(self.text, text.span, range);
                self.push(
                    Diagnostic::new(Kind::BadRegex { message }, span)
                        .with_label("here")
                        .with_help("the syntax is that of the Rust `regex` crate (no look-around or backreferences)"),
                );
                None
            }
        }
    }

    fn on_failure(&mut self, raw: &RawStep, shared: &Shared, role: Role) -> OnFailure {
        let Some(text) = &raw.on_failure else {
            return OnFailure::Abort;
        };
        let policy = match text.value.as_str() {
            "abort" => OnFailure::Abort,
            "continue" => OnFailure::Continue,
            "rollback" => OnFailure::Rollback,
            other => {
                let help = match suggest::nearest(other, ON_FAILURE.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("write {}", suggest::one_of(ON_FAILURE)),
                };
                self.push(
                    Diagnostic::new(
                        Kind::WrongType {
                            subject: format!("`on_failure` of {}", raw.title),
                            expected: format!("one of {}", suggest::one_of(ON_FAILURE)),
                            found: text.found(),
                        },
                        text.span,
                    )
                    .with_help(help),
                );
                return OnFailure::Abort;
            }
        };
        if policy == OnFailure::Rollback {
            if role == Role::Rollback {
                self.push(
                    Diagnostic::new(
                        Kind::NotAllowed {
                            what: "`on_failure: rollback`".to_owned(),
                            place: "a rollback step".to_owned(),
                        },
                        text.span,
                    )
                    .with_help(
                        "a failing rollback step stops the rollback; use `abort` or `continue`",
                    ),
                );
            } else if !shared.has_rollback {
                self.push(
                    Diagnostic::new(
                        Kind::RollbackWithoutSteps {
                            step: step_label(raw),
                        },
                        text.span,
                    )
                    .with_label("nothing to roll back with"),
                );
            }
        }
        policy
    }

    fn outputs(&mut self, raw: &RawStep) -> Vec<OutputCapture> {
        let mut outputs = Vec::new();
        for output in &raw.outputs {
            let name = &output.name.value;
            if !is_identifier(name) {
                let mut help = "output names use letters, digits and `_`, and do not start with \
                                a digit, so templates can say `steps['x'].outputs.name`"
                    .to_owned();
                if let Some(s) = identifier_like(name) {
                    help = format!("{help}; did you mean `{s}`?");
                }
                self.push(
                    Diagnostic::new(
                        Kind::BadName {
                            what: "output name".to_owned(),
                            name: name.clone(),
                        },
                        output.name.span,
                    )
                    .with_help(help),
                );
            }
            let Some(pattern) = &output.regex else {
                continue;
            };
            if let Some(regex) = self.regex(pattern) {
                outputs.push(OutputCapture {
                    name: name.clone(),
                    regex,
                    span: pattern.span,
                });
            }
        }
        outputs
    }

    fn parameters(
        &mut self,
        raw: &RawStep,
        secrets: &[String],
    ) -> std::collections::BTreeMap<String, String> {
        let mut parameters = std::collections::BTreeMap::new();
        let mut seen: HashMap<String, SourceSpan> = HashMap::new();
        for (key, value) in &raw.parameters {
            let name = key.value.as_str();
            if name
                .get(..5)
                .is_some_and(|p| p.eq_ignore_ascii_case("acs::"))
            {
                self.push(
                    Diagnostic::new(
                        Kind::BadName {
                            what: "Cloud Assistant parameter name".to_owned(),
                            name: name.to_owned(),
                        },
                        key.span,
                    )
                    .with_help(
                        "`ACS::` names are Cloud Assistant's built-ins (`{{ACS::InstanceId}}`); \
                         use them in the script without declaring them",
                    ),
                );
                continue;
            }
            let valid = !name.is_empty()
                && name.len() <= 64
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !valid {
                self.push(
                    Diagnostic::new(
                        Kind::BadName {
                            what: "Cloud Assistant parameter name".to_owned(),
                            name: name.to_owned(),
                        },
                        key.span,
                    )
                    .with_help(
                        "parameter names use letters, digits, `-` and `_`, at most 64 characters",
                    ),
                );
                continue;
            }
            let folded = name.to_ascii_lowercase();
            if let Some(first) = seen.get(&folded) {
                self.push(
                    Diagnostic::new(
                        Kind::DuplicateEntry {
                            subject: format!("`parameters` of {}", raw.title),
                            value: name.to_owned(),
                        },
                        key.span,
                    )
                    .with_related(*first, "the same name, ignoring case")
                    .with_help("Cloud Assistant parameter names are case-insensitive"),
                );
                continue;
            }
            seen.insert(folded, key.span);
            // Values are sent as written: a secret named there would reach Cloud Assistant as
            // the text `{{ token }}`, never as its value.
            if let Some(secret) = secrets
                .iter()
                .find(|secret| names_variable(&value.value, secret))
            {
                self.push(
                    Diagnostic::new(
                        Kind::SecretParameter {
                            subject: raw.title.clone(),
                            parameter: name.to_owned(),
                            name: secret.clone(),
                        },
                        value.span,
                    )
                    .with_label("sent as written"),
                );
            }
            parameters.insert(name.to_owned(), value.value.clone());
        }
        if raw.parameters.len() > MAX_PARAMETERS {
            self.push(
                Diagnostic::new(
                    Kind::TooMany {
                        subject: format!("`parameters` of {}", raw.title),
                        limit: MAX_PARAMETERS,
                    },
                    raw.parameters[MAX_PARAMETERS].0.span,
                )
                .with_label("one too many")
                .with_help("InvokeCommand's `Parameters` takes at most 10; put the rest in `vars`"),
            );
        }
        parameters
    }

    fn encoding(&mut self, text: &Text) -> Option<OutputEncoding> {
        if let Some(encoding) = encoding_rs::Encoding::for_label(text.value.trim().as_bytes()) {
            return Some(OutputEncoding(encoding));
        }
        let diagnostic = Diagnostic::new(
            Kind::BadEncoding {
                label: text.value.clone(),
            },
            text.span,
        );
        let diagnostic = match suggest::nearest(&text.value, COMMON_ENCODINGS.iter().copied()) {
            Some(s) => diagnostic.with_help(format!("did you mean `{s}`?")),
            None => diagnostic,
        };
        self.push(diagnostic);
        None
    }

    /// Unknown dependencies and cycles among the main steps.
    fn graph(&mut self, steps: &[RawStep]) {
        let names = step_names(steps);
        let nodes: Vec<graph::GraphNode<'_>> = steps
            .iter()
            .filter_map(|s| {
                let name = s.name.as_ref()?;
                Some(graph::GraphNode {
                    name: &name.value,
                    // A dependency that is not even a valid name was reported as such.
                    deps: s
                        .depends_on
                        .iter()
                        .filter(|d| {
                            StepName::parse(&d.value).is_some() || names.contains(d.value.as_str())
                        })
                        .map(|d| (d.value.as_str(), d.span))
                        .collect(),
                })
            })
            .collect();
        if let Err(problems) = graph::check(&nodes) {
            self.errors.extend(problems);
        }
    }

    /// Rollback steps run in file order, so they may depend only on rollback steps above them.
    fn rollback_dependencies(&mut self, main: &[RawStep], rollback: &[RawStep]) {
        for (i, step) in rollback.iter().enumerate() {
            for dep in &step.depends_on {
                let earlier = rollback[..i]
                    .iter()
                    .any(|s| s.name.as_ref().is_some_and(|n| n.value == dep.value));
                if earlier {
                    continue;
                }
                let anywhere = main
                    .iter()
                    .chain(rollback)
                    .any(|s| s.name.as_ref().is_some_and(|n| n.value == dep.value));
                let kind = if anywhere {
                    Kind::RollbackDependency {
                        step: step_label(step),
                        dep: dep.value.clone(),
                    }
                } else {
                    Kind::UnknownDependency {
                        step: step_label(step),
                        dep: dep.value.clone(),
                    }
                };
                let candidates: Vec<&str> = rollback[..i]
                    .iter()
                    .filter_map(|s| s.name.as_ref().map(|n| n.value.as_str()))
                    .collect();
                let diagnostic =
                    Diagnostic::new(kind, dep.span).with_label("not an earlier rollback step");
                let diagnostic = match (anywhere, suggest::nearest(&dep.value, candidates)) {
                    (false, Some(s)) => diagnostic.with_help(format!("did you mean `{s}`?")),
                    _ => diagnostic,
                };
                self.push(diagnostic);
            }
        }
    }
}

/// A script over [`MAX_SCRIPT_BYTES`].
fn script_too_large(raw: &RawStep, span: SourceSpan, size: usize) -> Diagnostic {
    Diagnostic::new(
        Kind::ScriptTooLarge {
            step: raw.title.clone(),
            size,
            limit: MAX_SCRIPT_BYTES,
        },
        span,
    )
    .with_label("this script")
    .with_help(
        "Cloud Assistant takes at most 24 KB of command content; copy a large program to the \
         instances and run it from a short script",
    )
}

/// The names of `steps` as written.
fn step_names(steps: &[RawStep]) -> HashSet<&str> {
    steps
        .iter()
        .filter_map(|s| s.name.as_ref().map(|n| n.value.as_str()))
        .collect()
}

/// The step's name for messages: its name as written, or its position.
fn step_label(raw: &RawStep) -> String {
    raw.name
        .as_ref()
        .map_or_else(|| raw.title.clone(), |n| n.value.clone())
}

/// The help for an undeclared variable override.
fn undeclared_help(name: &str, vars: &[Var]) -> String {
    match suggest::nearest(name, vars.iter().map(|v| v.name.as_str())) {
        Some(s) => format!("did you mean `{s}`?"),
        None => format!("declare it under `vars:` in the runbook first, e.g. `{name}: default`"),
    }
}

/// Seconds in `text`: whole seconds (`90`), or numbers with units `h`, `m`, `s` in that order,
/// each at most once (`90s`, `10m`, `1h`, `1h30m`, `2h0m5s`).
pub(crate) fn parse_duration(text: &str) -> Option<u64> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok();
    }
    let mut total: u64 = 0;
    let mut rest = text;
    let mut last_unit = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let number: u64 = rest[..digits].parse().ok()?;
        let (unit, scale) = match rest[digits..].chars().next()? {
            'h' => (3, 3600),
            'm' => (2, 60),
            's' => (1, 1),
            _ => return None,
        };
        if last_unit != 0 && unit >= last_unit {
            return None;
        }
        last_unit = unit;
        total = total.checked_add(number.checked_mul(scale)?)?;
        rest = &rest[digits + 1..];
    }
    Some(total)
}

/// A plain scalar that the core schema reads as an integer.
fn plain_integer(text: &Text) -> Option<i128> {
    if !text.is_plain() {
        return None;
    }
    match yaml::resolve_plain(&text.value) {
        yaml::Resolved::Int(n) => Some(n),
        _ => None,
    }
}

/// `[A-Za-z_][A-Za-z0-9_]*`.
pub(crate) fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `name` made into an identifier (`-` and spaces to `_`), when that works.
fn identifier_like(name: &str) -> Option<String> {
    let candidate: String = name
        .trim()
        .chars()
        .map(|c| {
            if c == '-' || c == ' ' || c == '.' {
                '_'
            } else {
                c
            }
        })
        .collect();
    is_identifier(&candidate).then_some(candidate)
}

/// `i-` followed by lower-case letters and digits.
fn is_instance_id(text: &str) -> bool {
    text.strip_prefix("i-").is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

/// A valid step (or runbook) name close to `name`: lower-cased, other characters to `-`.
fn normalize_name(name: &str, underscore: bool) -> Option<String> {
    let mut out = String::new();
    for c in name.trim().chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() || (underscore && c == '_') {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-').to_owned();
    let valid = if underscore {
        StepName::parse(&out).is_some()
    } else {
        RunbookName::parse(&out).is_some()
    };
    valid.then_some(out)
}

/// The message and the byte range inside `pattern` of a regex error.
fn locate_regex_error(pattern: &str, error: &regex::Error) -> (String, std::ops::Range<usize>) {
    match regex_syntax::Parser::new().parse(pattern) {
        Err(regex_syntax::Error::Parse(e)) => (
            e.kind().to_string(),
            e.span().start.offset..e.span().end.offset,
        ),
        Err(regex_syntax::Error::Translate(e)) => (
            e.kind().to_string(),
            e.span().start.offset..e.span().end.offset,
        ),
        _ => {
            let message = match error {
                regex::Error::CompiledTooBig(_) => "the compiled regex is too big".to_owned(),
                other => other
                    .to_string()
                    .lines()
                    .last()
                    .unwrap_or("invalid")
                    .to_owned(),
            };
            (message, 0..pattern.len())
        }
    }
}

/// Whether `text` holds `{{ name }}` or `{{ vars.name }}` (spaces optional).
fn names_variable(text: &str, name: &str) -> bool {
    text.match_indices("{{").any(|(at, _)| {
        let rest = text[at + 2..].trim_start();
        let rest = rest.strip_prefix("vars.").unwrap_or(rest);
        rest.strip_prefix(name)
            .is_some_and(|after| after.trim_start().starts_with("}}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_variable_finds_whole_references_only() {
        for (text, expected) in [
            ("{{ token }}", true),
            ("{{token}}", true),
            ("Bearer {{ vars.token }}", true),
            ("{{ token_2 }}", false),
            ("{{ tokens }}", false),
            ("token", false),
            ("{{ token | upper }}", false),
            ("{{oos-secret:token}}", false),
        ] {
            assert_eq!(names_variable(text, "token"), expected, "{text}");
        }
    }
    use crate::runbook::diagnostic::line_col;
    use proptest::prelude::*;

    const HEAD: &str = "version: 1\nname: demo\ntargets: {instances: [i-abc]}\n";

    fn load_text(text: &str) -> Result<Runbook, Diagnostics> {
        load_str(Path::new("runbook.yaml"), text, &VarOverrides::new())
    }

    /// `line:col: message` of every problem in `text`.
    fn problems(text: &str) -> Vec<String> {
        match load_text(text) {
            Ok(_) => Vec::new(),
            Err(all) => all
                .errors
                .iter()
                .map(|d| {
                    let (line, col) = line_col(text, d.span().map_or(0, |s| s.offset()));
                    format!("{line}:{col}: {d}")
                })
                .collect(),
        }
    }

    #[test]
    fn durations() {
        let table: &[(&str, Option<u64>)] = &[
            ("90", Some(90)),
            ("90s", Some(90)),
            ("10m", Some(600)),
            ("1h", Some(3600)),
            ("1h30m", Some(5400)),
            ("2h0m5s", Some(7205)),
            (" 10m ", Some(600)),
            ("", None),
            ("10", Some(10)),
            ("1.5h", None),
            ("10 m", None),
            ("10min", None),
            ("30m1h", None),
            ("1h1h", None),
            ("h", None),
            ("-5", None),
            ("99999999999999999999h", None),
        ];
        for (text, expected) in table {
            assert_eq!(parse_duration(text), *expected, "{text:?}");
        }
    }

    /// One schedule per line: the Frequency sent, or the labelled source text and the message
    /// of the first problem (the token inside the scalar, with the help line).
    #[test]
    #[expect(clippy::too_many_lines, reason = "one table of cases")]
    fn schedules() {
        type Expected = Result<&'static str, (&'static str, &'static str, &'static str)>;
        let cases: &[(&str, &str, Expected)] = &[
            // B09 item 2: accepted and sent as written.
            (
                "{frequency: '0 0 */12 * * ? Asia/Shanghai'}",
                "",
                Ok("0 0 */12 * * ? Asia/Shanghai"),
            ),
            ("{frequency: '0 15 10 ? * 6L'}", "", Ok("0 15 10 ? * 6L")),
            ("{frequency: 'rate(15m)'}", "", Ok("rate(15m)")),
            // The runbook's zone is written into a zone-less cron or at(..).
            (
                "{frequency: '0 0 3 ? * SUN', timezone: Asia/Shanghai}",
                "",
                Ok("0 0 3 ? * SUN Asia/Shanghai"),
            ),
            (
                "{frequency: 'at(2030-06-01 03:00:00)', timezone: 'GMT+8:00'}",
                "",
                Ok("at(2030-06-01 03:00:00 GMT+8:00)"),
            ),
            (
                "{frequency: 'rate(15m)', timezone: Asia/Shanghai}",
                "",
                Ok("rate(15m)"),
            ),
            (
                "{frequency: '0 0 3 ? * SUN UTC', timezone: UTC}",
                "",
                Ok("0 0 3 ? * SUN UTC"),
            ),
            // B09 item 1: a 5-field crontab, the whole expression labelled.
            (
                "{frequency: '0 */12 * * *'}",
                "",
                Err((
                    "0 */12 * * *",
                    "`schedule.frequency`: `0 */12 * * *` has 5 fields, but Cloud Assistant needs 6 or 7 (seconds minutes hours day-of-month month day-of-week [year]) optionally followed by a time zone",
                    "0 0 */12 * * ?",
                )),
            ),
            // B09 item 3: the zone token, not the whole expression.
            (
                "{frequency: '0 0 9 * * ? GMT+08:00'}",
                "",
                Err((
                    "GMT+08:00",
                    "`schedule.frequency`: time zone `GMT+08:00` has a leading zero in the hour, which Cloud Assistant refuses",
                    "`0 0 9 * * ? GMT+8:00`",
                )),
            ),
            (
                "{frequency: '0 0 3 ? * SUN', timezone: Asia/Shanghia}",
                "",
                Err((
                    "Asia/Shanghia",
                    "`schedule.timezone`: unknown time zone `Asia/Shanghia`",
                    "did you mean `Asia/Shanghai`?",
                )),
            ),
            (
                "{frequency: '0 0 3 ? * SUN UTC', timezone: Asia/Shanghai}",
                "",
                Err((
                    "Asia/Shanghai",
                    "`schedule.timezone`: `Asia/Shanghai` differs from the zone `UTC` written in `schedule.frequency`",
                    "keep one of them",
                )),
            ),
            (
                "{frequency: '0 0 12 1 * MON'}",
                "",
                Err((
                    "1 * MON",
                    "`schedule.frequency`: day-of-month `1` and day-of-week `MON` are both set: Alibaba's documents want `?` in one of them, Quartz refuses the form, and the agent would run on days matching either",
                    "`0 0 12 1 * ?`",
                )),
            ),
            // Interval against the longest step timeout (10m by default).
            (
                "{frequency: 'rate(5m)'}",
                "",
                Err((
                    "5m",
                    "`schedule.frequency`: the interval `5m` is not longer than the timeout (10m), so a run could still be going when the next is due",
                    "(the timeout of step `a`)",
                )),
            ),
            (
                "{frequency: '0/10 * * * * ?'}",
                "    timeout: 30s\n",
                Err((
                    "0/10 * * * * ?",
                    "`schedule.frequency`: runs are only 10s apart (1970-01-01T00:00:10Z and 1970-01-01T00:00:20Z), less than the timeout (30s), so a run could still be going when the next is due",
                    "(the timeout of step `a`)",
                )),
            ),
            (
                "{frequency: '0/10 * * * * ?'}",
                "    timeout: 10s\n",
                Ok("0/10 * * * * ?"),
            ),
            (
                "{frequency: '0 0 0 30 2 ?'}",
                "",
                Err((
                    "0 0 0 30 2 ?",
                    "`schedule.frequency`: `0 0 0 30 2 ?` never runs: no date from 1970 to 2099 matches its fields",
                    "CronExpressionExpired",
                )),
            ),
            // In the past: refused by plan and run, not by the loader, which reads no clock.
            (
                "{frequency: 'at(2020-01-01 00:00:00)'}",
                "",
                Ok("at(2020-01-01 00:00:00)"),
            ),
        ];
        for (schedule, step_extra, expected) in cases {
            let text = format!(
                "{HEAD}schedule: {schedule}\nsteps:\n  - name: a\n    script: x\n{step_extra}"
            );
            let got = match load_text(&text) {
                Ok(runbook) => Ok(runbook.schedule.expect("a schedule").sent),
                Err(all) => {
                    let d = &all.errors[0];
                    let span = d.span().expect("a span");
                    let labelled = text[span.offset()..span.offset() + span.len()].to_owned();
                    Err((
                        labelled,
                        d.to_string(),
                        d.help_text().unwrap_or("").to_owned(),
                    ))
                }
            };
            match (got, expected) {
                (Ok(sent), Ok(want)) => assert_eq!(sent, *want, "{schedule}"),
                (Err((labelled, message, help)), Err((want_label, want_message, want_help))) => {
                    assert_eq!(
                        (labelled.as_str(), message.as_str()),
                        (*want_label, *want_message),
                        "{schedule}"
                    );
                    assert!(help.contains(want_help), "{schedule}: {help}");
                }
                (got, _) => panic!("{schedule}: {got:?}"),
            }
        }
    }

    #[test]
    fn step_problems_with_line_and_column() {
        let table: &[(&str, &[&str])] = &[
            (
                "  - name: a\n    script: x\n    timeout: 5\n",
                &["7:14: timeout `5` is below the minimum of 10 seconds"],
            ),
            (
                "  - name: a\n    script: x\n    timeout: 90\n    retries: 2\n",
                &[],
            ),
            (
                "  - name: a\n    script: x\n    on_failure: rollback\n",
                &[
                    "7:17: step `a` has `on_failure: rollback`, but the runbook has no `rollback` steps",
                ],
            ),
            (
                "  - name: a\n    script: x\n  - name: b\n    script: y\n    depends_on: [a, c]\n",
                &["9:21: step `b` depends on unknown step `c`"],
            ),
            (
                "  - name: a\n    script: x\n    type: RunShellscript\n",
                &["7:11: unknown script type `RunShellscript`"],
            ),
            (
                "  - name: a\n    script: x\n    outputs: {n: {regex: '(a'}}\n",
                &["7:27: invalid regex: unclosed group"],
            ),
            (
                "  - name: a\n    script: x\n    continue_on_error: yes\n",
                &["7:5: unknown key `continue_on_error` in step `a`"],
            ),
            (
                "  - name: a\n    script: x\n    targets: {instances: [i-abc, i-abc]}\n",
                &["7:34: `targets.instances` of step `a` lists `i-abc` twice"],
            ),
            (
                "  - name: a\n    script: x\n    success: {min_success: 150%}\n",
                &[
                    "7:28: `success.min_success` of step `a` must be a number of instances or a percentage from `0%` to `100%`, found `150%`",
                ],
            ),
            (
                "  - name: a\n    script: x\n    when: '{{ true }}'\n    retries: 3\n",
                &[],
            ),
        ];
        for (steps, expected) in table {
            let text = format!("{HEAD}steps:\n{steps}");
            assert_eq!(problems(&text), *expected, "{steps}");
        }
    }

    #[test]
    fn exact_spans() {
        // (runbook, the source text the first diagnostic labels)
        let table: &[(&str, &str)] = &[
            (
                "steps:\n  - name: a\n    script: x\n    timeout: 10 minutes\n",
                "10 minutes",
            ),
            ("steps:\n  - name: a\n    scirpt: x\n", "scirpt"),
            (
                "steps:\n  - name: a\n    script: x\n    depends_on: [a]\n",
                "a",
            ),
            // Inside a regex: the unclosed `(` itself.
            (
                "steps:\n  - name: a\n    script: x\n    success: {output_matches: 'ok|(fail'}\n",
                "(",
            ),
            // Inside a literal block, on its second line.
            (
                "steps:\n  - name: a\n    script: x\n    success:\n      output_matches: |-\n        ok\n        [fail\n",
                "[",
            ),
        ];
        for (body, labelled) in table {
            let text = format!("{HEAD}{body}");
            let all = load_text(&text).expect_err("a problem");
            let span = all.errors[0].span().expect("a span");
            assert_eq!(
                &text[span.offset()..span.offset() + span.len()],
                *labelled,
                "{body}"
            );
        }
        // And one in bytes: `timeout` of the step on line 7 starts at byte 98.
        let text = format!("{HEAD}steps:\n  - name: a\n    script: x\n    timeout: 5s\n");
        let all = load_text(&text).expect_err("too short");
        assert_eq!(all.errors[0].span(), Some(SourceSpan::from((98, 2))));
    }

    #[test]
    fn every_problem_in_a_file_is_reported() {
        let text = "version: 2\nname: Bad Name\ntargets: {instances: [web-1]}\nsteps:\n  - name: a\n    \
                    script: x\n    retries: 99\n    timeout: 1s\n  - name: a\n    script: y\n";
        assert_eq!(
            problems(text),
            [
                "1:10: unsupported runbook version `2`",
                "2:7: invalid runbook name `Bad Name`",
                "3:23: invalid instance id `web-1`",
                "7:14: `retries` of step `a` must be from 0 to 10, found 99",
                "8:14: timeout `1s` is below the minimum of 10 seconds",
                "9:11: duplicate step `a`",
            ]
        );
    }

    #[test]
    fn helps() {
        let cases: &[(&str, &str)] = &[
            (
                "steps:\n  - name: a\n    script: x\n    continue_on_error: yes\n",
                "write `on_failure: continue` to let dependent steps run after a failure (the \
                 policies are `abort`, `continue` and `rollback`); and `yes` is not a boolean \
                 here: booleans are `true` or `false`",
            ),
            (
                "steps:\n  - name: compile\n    script: x\n  - name: t\n    script: y\n    depends_on: [compille]\n",
                "did you mean `compile`?",
            ),
            (
                "vars:\n  a-b: 1\nsteps:\n  - name: a\n    script: x\n",
                "a variable name uses letters, digits and `_`, and does not start with a digit; did you mean `a_b`?",
            ),
            (
                "steps:\n  - name: Check Disk\n    script: x\n",
                "a step name uses lower-case letters, digits, `-` and `_`, starts with a letter or digit, and has at most 64 characters; did you mean `check-disk`?",
            ),
            (
                "steps:\n  - name: a\n    script: x\n    output_encoding: shift-jis2\n",
                "did you mean `shift_jis`?",
            ),
        ];
        for (body, help) in cases {
            let all = load_text(&format!("{HEAD}{body}")).expect_err("a problem");
            assert_eq!(all.errors[0].help_text(), Some(*help), "{body}");
        }
    }

    #[test]
    fn script_spans_map_template_offsets_back() {
        let text = format!(
            "{HEAD}vars: {{two: 2}}\nsteps:\n  - name: a\n    script: |\n      echo one\n      echo {{{{ two }}}}\n"
        );
        let runbook = load_text(&text).expect("valid");
        let script = &runbook.steps[0].script;
        let at = script.text.find("{{").expect("a template");
        let span = yaml::value_span(&runbook.source.text, script.span, at..at + 9);
        assert_eq!(
            &text[span.offset()..span.offset() + span.len()],
            "{{ two }}"
        );
        assert_eq!(line_col(&text, span.offset()), (9, 12));
    }

    #[test]
    fn byte_order_mark_is_outside_the_spans_but_inside_the_hash() {
        let body = format!("{HEAD}steps:\n  - name: a\n    script: x\n");
        let with_bom = format!("\u{feff}{body}");
        let runbook = load_text(&with_bom).expect("valid");
        assert_eq!(&*runbook.source.text, body.as_str());
        let mut expected = String::new();
        for byte in Sha256::digest(with_bom.as_bytes()) {
            write!(expected, "{byte:02x}").expect("writing to a String");
        }
        assert_eq!(runbook.hash, expected);
    }

    #[test]
    fn machine_form() {
        let all = load_text(&format!(
            "{HEAD}steps:\n  - name: a\n    script: x\n    retries: x\n"
        ))
        .expect_err("a problem");
        let json = all.to_json();
        assert_eq!(json[0]["path"], "runbook.yaml");
        assert_eq!(
            (json[0]["line"].clone(), json[0]["column"].clone()),
            (7.into(), 14.into())
        );
        assert_eq!(
            (json[0]["end_line"].clone(), json[0]["end_column"].clone()),
            (7.into(), 15.into())
        );
        assert_eq!(json[0]["code"], "runbook::wrong-type");
    }

    #[test]
    fn undeclared_overrides_suggest_the_nearest_variable() {
        let text = format!("{HEAD}vars:\n  package: x\nsteps:\n  - name: a\n    script: x\n");
        let overrides = VarOverrides::new().var("pakage=y");
        let all = load_str(Path::new("r.yaml"), &text, &overrides).expect_err("undeclared");
        assert_eq!(
            all.errors[0].to_string(),
            "`--var` sets undeclared variable `pakage`"
        );
        assert_eq!(all.errors[0].help_text(), Some("did you mean `package`?"));
    }

    /// Fragments to build random, mostly-YAML runbooks from.
    fn fragment() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("version: 1\n".to_owned()),
            Just("name: demo\n".to_owned()),
            Just("targets: {instances: [i-abc], tags: {a: b}}\n".to_owned()),
            Just("steps:\n".to_owned()),
            Just("rollback:\n".to_owned()),
            Just("  - name: a\n".to_owned()),
            Just("  - name: b\n    depends_on: [a, b, c]\n".to_owned()),
            Just("    script: |\n      echo {{ x }}\n".to_owned()),
            Just("    script_file: nope.sh\n".to_owned()),
            Just("    timeout: 5\n".to_owned()),
            Just("    on_failure: rollback\n".to_owned()),
            Just(
                "    success: {exit_codes: [0, x], output_matches: '(', min_success: 101%}\n"
                    .to_owned()
            ),
            Just("    outputs: {o: {regex: '[' }}\n".to_owned()),
            Just("vars: {a: &x [1, *x], b: {secret: true}}\n".to_owned()),
            Just("schedule: {frequency: '* * * * *'}\n".to_owned()),
            Just("<<: {a: 1}\n".to_owned()),
            Just("\t\n".to_owned()),
            Just("---\n".to_owned()),
            Just("\"unterminated\n".to_owned()),
            "[ -~\\n\\t]{0,20}",
            "\\PC{0,8}",
        ]
    }

    proptest! {
        /// Any text gives a runbook or diagnostics, never a panic, and every span lies inside
        /// the text on character boundaries.
        #[test]
        fn any_text_loads_or_fails_cleanly(text in "\\PC{0,200}") {
            check_no_panic(&text);
        }

        #[test]
        fn runbook_like_text_loads_or_fails_cleanly(parts in proptest::collection::vec(fragment(), 0..16)) {
            check_no_panic(&parts.concat());
        }
    }

    fn check_no_panic(text: &str) {
        if let Err(all) = load_text(text) {
            assert!(!all.is_empty());
            for d in &all {
                if let (Some(span), None) = (d.span(), d.own_source()) {
                    let end = span.offset() + span.len();
                    assert!(end <= text.len(), "{span:?} past the end of {text:?}");
                    assert!(text.is_char_boundary(span.offset()) && text.is_char_boundary(end));
                }
            }
            let mut out = String::new();
            miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
                .render_report(&mut out, &all)
                .expect("renders");
        }
    }
}
