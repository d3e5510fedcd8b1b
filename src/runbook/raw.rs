//! The runbook as written: [`RawRunbook`], [`RawStep`], ... decoded from the YAML tree by a
//! small hand-written decoder, every value with its span.
//!
//! This module owns the *shape*: which keys each object has (from the format table in
//! `schema`), which are required, and whether each value is a scalar, list or mapping.
//! Scalars stay text with their span and style; what the text means (durations, names,
//! amounts, regexes) is `load`'s business. The decoder never stops at the first problem: each
//! bad node becomes a diagnostic and decoding carries on with its siblings.

use miette::SourceSpan;

use crate::runbook::diagnostic::{Diagnostic, Kind};
use crate::runbook::model::Spanned;
use crate::runbook::schema::{self, Field, Object};
use crate::runbook::yaml::{Node, NodeKind, Scalar, ScalarStyle, YAML11_BOOLS};

/// A scalar as written: its exact text, span and style.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Text {
    /// The scalar's value, exactly as YAML delivers it.
    pub(crate) value: String,
    /// The scalar's span.
    pub(crate) span: SourceSpan,
    /// How it was written.
    pub(crate) style: ScalarStyle,
    /// Whether it was tagged `!!str`, which makes even a plain `5` a string.
    pub(crate) tagged_str: bool,
}

impl Text {
    /// Whether the core schema may type it (a plain scalar without `!!str`).
    pub(crate) fn is_plain(&self) -> bool {
        self.style == ScalarStyle::Plain && !self.tagged_str
    }

    /// The value with its span.
    pub(crate) fn spanned(&self) -> Spanned<String> {
        Spanned::new(self.value.clone(), self.span)
    }

    /// The value as a "found ..." fragment: `` `10x` ``, or `` `"10"` `` when quoted.
    pub(crate) fn found(&self) -> String {
        if self.is_plain() {
            format!("`{}`", self.value)
        } else {
            format!("`{:?}`", self.value)
        }
    }

    /// The YAML scalar, for mapping offsets inside the value back to the source.
    pub(crate) fn scalar(&self) -> Scalar {
        Scalar {
            text: self.value.clone(),
            style: self.style,
        }
    }
}

/// Where a value sits, for messages: the object that owns it ("step `patch`") and the keys
/// from that object down ("targets").
#[derive(Debug, Clone, Default)]
pub(crate) struct Ctx {
    owner: Option<String>,
    path: Vec<String>,
}

impl Ctx {
    /// Values of the object `owner` ("step `patch`", "rollback step 2").
    pub(crate) fn owned_by(owner: impl Into<String>) -> Self {
        Self {
            owner: Some(owner.into()),
            path: Vec::new(),
        }
    }

    /// The context of the value under `key`.
    pub(crate) fn child(&self, key: &str) -> Self {
        let mut path = self.path.clone();
        path.push(key.to_owned());
        Self {
            owner: self.owner.clone(),
            path,
        }
    }

    /// How the value under `key` is named: "`timeout`", "`targets.instances` of step `patch`".
    pub(crate) fn subject(&self, key: &str) -> String {
        let mut path = self.path.join(".");
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(key);
        match &self.owner {
            Some(owner) => format!("`{path}` of {owner}"),
            None => format!("`{path}`"),
        }
    }

    /// How this object is named: "the runbook", "step `patch`", "`targets` of step `patch`".
    pub(crate) fn here(&self) -> String {
        match (self.path.is_empty(), &self.owner) {
            (true, Some(owner)) => owner.clone(),
            (true, None) => "the runbook".to_owned(),
            (false, Some(owner)) => format!("`{}` of {owner}", self.path.join(".")),
            (false, None) => format!("`{}`", self.path.join(".")),
        }
    }
}

/// The runbook as written.
#[derive(Debug, Clone)]
pub(crate) struct RawRunbook {
    /// `version`.
    pub(crate) version: Option<Text>,
    /// `name`.
    pub(crate) name: Option<Text>,
    /// `description`.
    pub(crate) description: Option<Text>,
    /// `region`.
    pub(crate) region: Option<Text>,
    /// `vars`, in file order.
    pub(crate) vars: Vec<RawVar>,
    /// `targets`.
    pub(crate) targets: Option<RawTargets>,
    /// Whether `targets` was written at all (it may have failed to decode).
    pub(crate) targets_given: bool,
    /// `defaults`.
    pub(crate) defaults: RawDefaults,
    /// `rate_control`.
    pub(crate) rate_control: RawRateControl,
    /// `schedule`.
    pub(crate) schedule: Option<RawSchedule>,
    /// `steps`.
    pub(crate) steps: Option<RawSteps>,
    /// `rollback`.
    pub(crate) rollback: Option<RawSteps>,
}

/// A list of steps with the span of its key.
#[derive(Debug, Clone)]
pub(crate) struct RawSteps {
    /// The `steps:` / `rollback:` key.
    pub(crate) key_span: SourceSpan,
    /// The steps that decoded, in file order.
    pub(crate) items: Vec<RawStep>,
    /// How many items the list has, decoded or not.
    pub(crate) written: usize,
}

/// One variable as written.
#[derive(Debug, Clone)]
pub(crate) struct RawVar {
    /// Its name.
    pub(crate) name: Text,
    /// Its value.
    pub(crate) value: RawVarValue,
    /// The value's span.
    pub(crate) span: SourceSpan,
}

/// A variable's value as written.
#[derive(Debug, Clone)]
pub(crate) enum RawVarValue {
    /// A scalar's source text.
    Text(Text),
    /// A sequence.
    List(Vec<RawVarValue>),
    /// A mapping.
    Map(Vec<(Text, RawVarValue)>),
    /// `{secret: true, ...}`.
    Secret(RawSecret),
}

/// `{secret: true, env: NAME}` or `{secret: true, file: PATH}`.
#[derive(Debug, Clone)]
pub(crate) struct RawSecret {
    /// The mapping's first key.
    pub(crate) head: SourceSpan,
    /// `env`.
    pub(crate) env: Option<Text>,
    /// `file`.
    pub(crate) file: Option<Text>,
    /// `allow_inline`.
    pub(crate) allow_inline: Option<Spanned<bool>>,
}

/// `targets` as written.
#[derive(Debug, Clone)]
pub(crate) struct RawTargets {
    /// The `targets` key.
    pub(crate) key_span: SourceSpan,
    /// The value's span.
    pub(crate) span: SourceSpan,
    /// `instances`.
    pub(crate) instances: Vec<Text>,
    /// `tags`, in file order.
    pub(crate) tags: Vec<(Text, Text)>,
    /// Whether decoding it found problems (so an empty result is not news).
    pub(crate) incomplete: bool,
}

/// `defaults` as written.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawDefaults {
    /// `type`.
    pub(crate) command_type: Option<Text>,
    /// `working_dir`.
    pub(crate) working_dir: Option<Text>,
    /// `timeout`.
    pub(crate) timeout: Option<Text>,
    /// `username`.
    pub(crate) username: Option<Text>,
}

/// `rate_control` as written.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawRateControl {
    /// `concurrency`.
    pub(crate) concurrency: Option<Text>,
    /// `max_errors`.
    pub(crate) max_errors: Option<Text>,
}

/// `schedule` as written.
#[derive(Debug, Clone)]
pub(crate) struct RawSchedule {
    /// `frequency`.
    pub(crate) frequency: Option<Text>,
    /// `timezone`.
    pub(crate) timezone: Option<Text>,
}

/// One step as written.
#[derive(Debug, Clone)]
pub(crate) struct RawStep {
    /// How messages name it: "step `patch`", or "step 3" before its name is known.
    pub(crate) title: String,
    /// The step mapping's first key.
    pub(crate) head: SourceSpan,
    /// `name`.
    pub(crate) name: Option<Text>,
    /// `script`.
    pub(crate) script: Option<Text>,
    /// `script_file`.
    pub(crate) script_file: Option<Text>,
    /// Whether `script` or `script_file` was written at all (it may have failed to decode).
    pub(crate) script_given: bool,
    /// `type`.
    pub(crate) command_type: Option<Text>,
    /// `working_dir`.
    pub(crate) working_dir: Option<Text>,
    /// `timeout`.
    pub(crate) timeout: Option<Text>,
    /// `username`.
    pub(crate) username: Option<Text>,
    /// `depends_on`.
    pub(crate) depends_on: Vec<Text>,
    /// `when`.
    pub(crate) when: Option<Text>,
    /// `retries`.
    pub(crate) retries: Option<Text>,
    /// `success`.
    pub(crate) success: Option<RawSuccess>,
    /// `on_failure`.
    pub(crate) on_failure: Option<Text>,
    /// `outputs`, in file order.
    pub(crate) outputs: Vec<RawOutput>,
    /// `parameters`, in file order.
    pub(crate) parameters: Vec<(Text, Text)>,
    /// `targets`.
    pub(crate) targets: Option<RawTargets>,
    /// Whether `targets` was written at all (it may have failed to decode).
    pub(crate) targets_given: bool,
    /// `rate_control`.
    pub(crate) rate_control: RawRateControl,
    /// `output_encoding`.
    pub(crate) output_encoding: Option<Text>,
    /// The keys that the step's unknown keys probably meant (`scirpt` → `script`).
    pub(crate) intended: Vec<&'static str>,
}

/// `success` as written.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawSuccess {
    /// `exit_codes`, with the list's span.
    pub(crate) exit_codes: Option<Spanned<Vec<Text>>>,
    /// `output_contains`.
    pub(crate) output_contains: Option<Text>,
    /// `output_matches`.
    pub(crate) output_matches: Option<Text>,
    /// `min_success`.
    pub(crate) min_success: Option<Text>,
}

/// One entry of `outputs` as written.
#[derive(Debug, Clone)]
pub(crate) struct RawOutput {
    /// The key.
    pub(crate) name: Text,
    /// `regex`.
    pub(crate) regex: Option<Text>,
}

/// One accepted key of a mapping, with its value and its entry in the format table.
#[derive(Debug, Clone, Copy)]
struct Entry<'n> {
    key: &'n Node,
    value: &'n Node,
    field: &'static Field,
}

impl Entry<'_> {
    fn key_text(&self) -> &str {
        self.key.as_str().unwrap_or_default()
    }

    /// Where to label a problem with the value: the value, or the key when the value is
    /// nothing at all (`timeout:`), which has no width of its own.
    fn span(&self) -> SourceSpan {
        if self.value.span.is_empty() {
            self.key.span
        } else {
            self.value.span
        }
    }
}

/// The accepted keys of one mapping, and what its unknown keys probably meant.
struct Entries<'n> {
    entries: Vec<Entry<'n>>,
    intended: Vec<&'static str>,
}

impl<'n> Entries<'n> {
    fn get(&self, key: &str) -> Option<Entry<'n>> {
        self.entries.iter().copied().find(|e| e.key_text() == key)
    }
}

/// Decodes the YAML tree of a runbook into its raw shape, collecting every problem.
pub(crate) fn decode(root: &Node, errors: &mut Vec<Diagnostic>) -> RawRunbook {
    let mut decoder = Decoder { errors };
    decoder.runbook(root)
}

/// Decodes a `--vars-file` mapping: variable names to values.
pub(crate) fn decode_vars_file(root: &Node, errors: &mut Vec<Diagnostic>) -> Vec<RawVar> {
    let mut decoder = Decoder { errors };
    if root.is_null() {
        return Vec::new();
    }
    let Some(entries) = root.as_map() else {
        decoder.errors.push(Diagnostic::new(
            Kind::WrongType {
                subject: "a vars file".to_owned(),
                expected: "a mapping of variable names to values".to_owned(),
                found: root.describe(),
            },
            root.head_span(),
        ));
        return Vec::new();
    };
    decoder.var_entries(entries, &Ctx::owned_by("the vars file"))
}

struct Decoder<'e> {
    errors: &'e mut Vec<Diagnostic>,
}

impl Decoder<'_> {
    fn push(&mut self, diagnostic: Diagnostic) {
        self.errors.push(diagnostic);
    }

    fn wrong_type(&mut self, subject: String, expected: &str, node: &Node, span: SourceSpan) {
        self.push(Diagnostic::new(
            Kind::WrongType {
                subject,
                expected: expected.to_owned(),
                found: node.describe(),
            },
            span,
        ));
    }

    /// Checks `node` is a mapping of `object`'s keys, reporting unknown and missing keys.
    fn object<'n>(
        &mut self,
        node: &'n Node,
        object: &'static Object,
        ctx: &Ctx,
        span: SourceSpan,
    ) -> Option<Entries<'n>> {
        let Some(map) = node.as_map() else {
            let subject = ctx.here();
            self.push(
                Diagnostic::new(
                    Kind::WrongType {
                        subject,
                        expected: "a mapping".to_owned(),
                        found: node.describe(),
                    },
                    span,
                )
                .with_help(format!(
                    "the keys of {} are {}",
                    schema::object_title(object.name),
                    key_list(object)
                )),
            );
            return None;
        };
        let mut entries = Vec::new();
        let mut intended = Vec::new();
        for (key, value) in map {
            let Some(name) = self.key(key, ctx) else {
                continue;
            };
            if let Some(field) = object.field(name) {
                entries.push(Entry { key, value, field });
                continue;
            }
            if object.name == "runbook" && name.starts_with(schema::EXTENSION_PREFIX) {
                continue;
            }
            intended.extend(schema::intended_key(object, name));
            let mut help = schema::unknown_key_help(object, name);
            if let Some(word) = value.as_str().filter(|w| YAML11_BOOLS.contains(w))
                && value
                    .as_scalar()
                    .is_some_and(|s| s.style == ScalarStyle::Plain)
            {
                help = format!(
                    "{help}; and `{word}` is not a boolean here: booleans are `true` or `false`"
                );
            }
            self.push(
                Diagnostic::new(
                    Kind::UnknownKey {
                        key: name.to_owned(),
                        context: ctx.here(),
                    },
                    key.span,
                )
                .with_label("unknown key")
                .with_help(help),
            );
        }
        let entries = Entries { entries, intended };
        for field in object.fields.iter().filter(|f| f.required) {
            // A misspelt key already says what is missing.
            if entries.get(field.name).is_none() && !entries.intended.contains(&field.name) {
                self.push(
                    Diagnostic::new(
                        Kind::MissingKey {
                            key: field.name.to_owned(),
                            context: ctx.here(),
                        },
                        node.head_span(),
                    )
                    .with_help(format!(
                        "add `{}:` ({})",
                        field.name,
                        lower_first(field.description)
                    )),
                );
            }
        }
        Some(entries)
    }

    /// A mapping key: a plain or quoted string.
    fn key<'n>(&mut self, key: &'n Node, ctx: &Ctx) -> Option<&'n str> {
        match key.as_str() {
            Some(text) if !key.is_null() || !text.is_empty() => Some(text),
            _ => {
                self.wrong_type(
                    format!("a key in {}", ctx.here()),
                    "a string",
                    key,
                    key.span,
                );
                None
            }
        }
    }

    /// A scalar value as text; nothing at all, lists and mappings are errors.
    fn text(&mut self, entry: Option<Entry<'_>>, ctx: &Ctx) -> Option<Text> {
        let entry = entry?;
        let subject = ctx.subject(entry.key_text());
        let expected = schema::expected(&entry.field.ty);
        self.scalar_as(entry.value, subject, entry.span(), &expected)
    }

    fn scalar(&mut self, node: &Node, subject: String, span: SourceSpan) -> Option<Text> {
        let expected = if node.as_scalar().is_some() {
            "a value"
        } else {
            "a single value"
        };
        self.scalar_as(node, subject, span, expected)
    }

    fn scalar_as(
        &mut self,
        node: &Node,
        subject: String,
        span: SourceSpan,
        expected: &str,
    ) -> Option<Text> {
        let scalar = node.as_scalar();
        match scalar {
            Some(scalar) if !(scalar.style == ScalarStyle::Plain && scalar.text.is_empty()) => {
                if let Some(tag) = &node.tag
                    && tag.core().is_none()
                {
                    self.push(
                        Diagnostic::new(
                            Kind::UnsupportedTag {
                                tag: tag.to_string(),
                            },
                            span,
                        )
                        .with_label("tag"),
                    );
                    return None;
                }
                Some(Text {
                    value: scalar.text.clone(),
                    span: node.span,
                    style: scalar.style,
                    tagged_str: node.tag.as_ref().and_then(|t| t.core()) == Some("str"),
                })
            }
            _ => {
                self.wrong_type(subject, expected, node, span);
                None
            }
        }
    }

    /// `true` or `false`; YAML 1.1 words get their own message.
    fn boolean(&mut self, entry: Option<Entry<'_>>, ctx: &Ctx) -> Option<Spanned<bool>> {
        let entry = entry?;
        let subject = ctx.subject(entry.key_text());
        let text = self.scalar(entry.value, subject.clone(), entry.span())?;
        match (text.is_plain(), text.value.as_str()) {
            (true, "true" | "True" | "TRUE") => Some(Spanned::new(true, text.span)),
            (true, "false" | "False" | "FALSE") => Some(Spanned::new(false, text.span)),
            (true, word) if YAML11_BOOLS.contains(&word) => {
                self.push(
                    Diagnostic::new(
                        Kind::Yaml11Bool {
                            subject,
                            word: word.to_owned(),
                        },
                        text.span,
                    )
                    .with_label("not a boolean in YAML 1.2"),
                );
                None
            }
            _ => {
                self.push(Diagnostic::new(
                    Kind::WrongType {
                        subject,
                        expected: "`true` or `false`".to_owned(),
                        found: text.found(),
                    },
                    text.span,
                ));
                None
            }
        }
    }

    /// A sequence's items.
    fn list<'n>(
        &mut self,
        entry: Option<Entry<'n>>,
        ctx: &Ctx,
        example: &str,
    ) -> Option<&'n [Node]> {
        let entry = entry?;
        if let Some(items) = entry.value.as_seq() {
            return Some(items);
        }
        let subject = ctx.subject(entry.key_text());
        self.push(
            Diagnostic::new(
                Kind::WrongType {
                    subject,
                    expected: "a list".to_owned(),
                    found: entry.value.describe(),
                },
                entry.span(),
            )
            .with_help(format!(
                "write a list, e.g. `{}: {example}`",
                entry.key_text()
            )),
        );
        None
    }

    /// A list of scalars as text.
    fn text_list(
        &mut self,
        entry: Option<Entry<'_>>,
        ctx: &Ctx,
        example: &str,
    ) -> Option<Vec<Text>> {
        let key = entry.map(|e| e.key_text().to_owned())?;
        let items = self.list(entry, ctx, example)?;
        let subject = format!("each item of {}", ctx.subject(&key));
        Some(
            items
                .iter()
                .filter_map(|item| self.scalar(item, subject.clone(), item.span))
                .collect(),
        )
    }

    /// A mapping of names to scalars (tags, parameters); nothing at all is an empty string.
    fn text_map(&mut self, entry: Option<Entry<'_>>, ctx: &Ctx) -> Vec<(Text, Text)> {
        let Some(entry) = entry else {
            return Vec::new();
        };
        let Some(map) = entry.value.as_map() else {
            let subject = ctx.subject(entry.key_text());
            self.wrong_type(subject, "a mapping", entry.value, entry.span());
            return Vec::new();
        };
        let inner = ctx.child(entry.key_text());
        let mut out = Vec::new();
        for (key, value) in map {
            let Some(name) = self.key(key, &inner) else {
                continue;
            };
            let Some(key_text) = self.scalar(key, inner.subject(name), key.span) else {
                continue;
            };
            let value_text = if value.is_null() && value.as_str() == Some("") {
                Some(Text {
                    value: String::new(),
                    span: value.span,
                    style: ScalarStyle::Plain,
                    tagged_str: false,
                })
            } else {
                let span = if value.span.is_empty() {
                    key.span
                } else {
                    value.span
                };
                self.scalar(value, inner.subject(name), span)
            };
            if let Some(value_text) = value_text {
                out.push((key_text, value_text));
            }
        }
        out
    }

    fn runbook(&mut self, root: &Node) -> RawRunbook {
        let ctx = Ctx::default();
        let mut raw = RawRunbook {
            version: None,
            name: None,
            description: None,
            region: None,
            vars: Vec::new(),
            targets: None,
            targets_given: false,
            defaults: RawDefaults::default(),
            rate_control: RawRateControl::default(),
            schedule: None,
            steps: None,
            rollback: None,
        };
        if root.is_null() {
            self.push(Diagnostic::new(Kind::EmptyFile, root.span));
            return raw;
        }
        let Some(entries) = self.object(root, schema::object("runbook"), &ctx, root.head_span())
        else {
            return raw;
        };
        raw.version = self.text(entries.get("version"), &ctx);
        raw.name = self.text(entries.get("name"), &ctx);
        raw.description = self.text(entries.get("description"), &ctx);
        raw.region = self.text(entries.get("region"), &ctx);
        if let Some(entry) = entries.get("vars") {
            raw.vars = self.vars(entry, &ctx);
        }
        raw.targets = entries.get("targets").and_then(|e| self.targets(e, &ctx));
        raw.targets_given = entries.get("targets").is_some();
        if let Some(entry) = entries.get("defaults") {
            raw.defaults = self.defaults(entry, &ctx);
        }
        if let Some(entry) = entries.get("rate_control") {
            raw.rate_control = self.rate_control(entry, &ctx);
        }
        raw.schedule = entries.get("schedule").and_then(|e| self.schedule(e, &ctx));
        raw.steps = entries
            .get("steps")
            .and_then(|e| self.steps(e, &ctx, "step"));
        raw.rollback = entries
            .get("rollback")
            .and_then(|e| self.steps(e, &ctx, "rollback step"));
        raw
    }

    fn vars(&mut self, entry: Entry<'_>, ctx: &Ctx) -> Vec<RawVar> {
        match entry.value.as_map() {
            Some(entries) => self.var_entries(entries, &ctx.child("vars")),
            None if entry.value.is_null() && entry.value.as_str() == Some("") => Vec::new(),
            None => {
                self.push(
                    Diagnostic::new(
                        Kind::WrongType {
                            subject: ctx.subject("vars"),
                            expected: "a mapping of variable names to values".to_owned(),
                            found: entry.value.describe(),
                        },
                        entry.span(),
                    )
                    .with_help("write `vars:` followed by `name: value` lines"),
                );
                Vec::new()
            }
        }
    }

    fn var_entries(&mut self, entries: &[(Node, Node)], ctx: &Ctx) -> Vec<RawVar> {
        let mut vars = Vec::new();
        for (key, value) in entries {
            let Some(name) = self.key(key, ctx) else {
                continue;
            };
            let Some(name_text) = self.scalar(key, ctx.subject(name), key.span) else {
                continue;
            };
            let inner = Ctx::owned_by(format!("variable `{name}`"));
            if let Some(parsed) = self.var_value(value, &inner, name, 0) {
                let span = if value.span.is_empty() {
                    key.span
                } else {
                    value.span
                };
                vars.push(RawVar {
                    name: name_text,
                    value: parsed,
                    span,
                });
            }
        }
        vars
    }

    fn var_value(
        &mut self,
        node: &Node,
        ctx: &Ctx,
        name: &str,
        depth: usize,
    ) -> Option<RawVarValue> {
        match &node.kind {
            NodeKind::Scalar(scalar) => Some(RawVarValue::Text(Text {
                value: scalar.text.clone(),
                span: node.span,
                style: scalar.style,
                tagged_str: node.tag.as_ref().and_then(|t| t.core()) == Some("str"),
            })),
            NodeKind::Seq(items) => Some(RawVarValue::List(
                items
                    .iter()
                    .filter_map(|item| self.var_value(item, ctx, name, depth + 1))
                    .collect(),
            )),
            NodeKind::Map(_) if node.get("secret").is_some() => {
                if depth > 0 {
                    self.push(
                        Diagnostic::new(
                            Kind::BadSecret {
                                name: name.to_owned(),
                                message: "a secret must be a whole variable, not part of one"
                                    .to_owned(),
                            },
                            node.head_span(),
                        )
                        .with_help("declare the secret as its own variable"),
                    );
                    return None;
                }
                self.secret(node, ctx, name).map(RawVarValue::Secret)
            }
            NodeKind::Map(entries) => {
                let mut out = Vec::new();
                for (k, v) in entries {
                    let Some(key_name) = self.key(k, ctx) else {
                        continue;
                    };
                    let Some(key_text) = self.scalar(k, ctx.subject(key_name), k.span) else {
                        continue;
                    };
                    if let Some(value) = self.var_value(v, ctx, name, depth + 1) {
                        out.push((key_text, value));
                    }
                }
                Some(RawVarValue::Map(out))
            }
        }
    }

    fn secret(&mut self, node: &Node, ctx: &Ctx, name: &str) -> Option<RawSecret> {
        let entries = self.object(node, schema::object("secret"), ctx, node.head_span())?;
        let flag = self.boolean(entries.get("secret"), ctx);
        if let Some(flag) = &flag
            && !flag.value
        {
            self.push(
                Diagnostic::new(
                    Kind::BadSecret {
                        name: name.to_owned(),
                        message: "`secret` must be `true`".to_owned(),
                    },
                    flag.span,
                )
                .with_help(
                    "a mapping with a `secret` key declares a secret; for a plain value, \
                     drop the mapping",
                ),
            );
        }
        Some(RawSecret {
            head: node.head_span(),
            env: self.text(entries.get("env"), ctx),
            file: self.text(entries.get("file"), ctx),
            allow_inline: self.boolean(entries.get("allow_inline"), ctx),
        })
    }

    fn targets(&mut self, entry: Entry<'_>, ctx: &Ctx) -> Option<RawTargets> {
        let inner = ctx.child("targets");
        let before = self.errors.len();
        let entries = self.object(entry.value, schema::object("targets"), &inner, entry.span())?;
        let instances = self
            .text_list(entries.get("instances"), &inner, "[i-bp1aaaaaaaaaaaaaaaa1]")
            .unwrap_or_default();
        let tags = self.text_map(entries.get("tags"), &inner);
        Some(RawTargets {
            key_span: entry.key.span,
            span: entry.span(),
            instances,
            tags,
            incomplete: self.errors.len() > before,
        })
    }

    fn defaults(&mut self, entry: Entry<'_>, ctx: &Ctx) -> RawDefaults {
        let inner = ctx.child("defaults");
        let Some(entries) = self.object(
            entry.value,
            schema::object("defaults"),
            &inner,
            entry.span(),
        ) else {
            return RawDefaults::default();
        };
        RawDefaults {
            command_type: self.text(entries.get("type"), &inner),
            working_dir: self.text(entries.get("working_dir"), &inner),
            timeout: self.text(entries.get("timeout"), &inner),
            username: self.text(entries.get("username"), &inner),
        }
    }

    fn rate_control(&mut self, entry: Entry<'_>, ctx: &Ctx) -> RawRateControl {
        let inner = ctx.child("rate_control");
        let Some(entries) = self.object(
            entry.value,
            schema::object("rate_control"),
            &inner,
            entry.span(),
        ) else {
            return RawRateControl::default();
        };
        RawRateControl {
            concurrency: self.text(entries.get("concurrency"), &inner),
            max_errors: self.text(entries.get("max_errors"), &inner),
        }
    }

    fn schedule(&mut self, entry: Entry<'_>, ctx: &Ctx) -> Option<RawSchedule> {
        let inner = ctx.child("schedule");
        if entry.value.as_scalar().is_some() && !entry.value.is_null() {
            self.push(
                Diagnostic::new(
                    Kind::WrongType {
                        subject: ctx.subject("schedule"),
                        expected: "a mapping".to_owned(),
                        found: entry.value.describe(),
                    },
                    entry.span(),
                )
                .with_help(format!(
                    "write `schedule: {{frequency: {:?}}}`",
                    entry.value.as_str().unwrap_or_default()
                )),
            );
            return None;
        }
        let entries = self.object(
            entry.value,
            schema::object("schedule"),
            &inner,
            entry.span(),
        )?;
        Some(RawSchedule {
            frequency: self.text(entries.get("frequency"), &inner),
            timezone: self.text(entries.get("timezone"), &inner),
        })
    }

    fn steps(&mut self, entry: Entry<'_>, ctx: &Ctx, noun: &str) -> Option<RawSteps> {
        let items = self.list(Some(entry), ctx, "[{name: hello, script: echo hello}]")?;
        let steps = items
            .iter()
            .enumerate()
            .filter_map(|(index, item)| self.step(item, index, noun))
            .collect();
        Some(RawSteps {
            key_span: entry.key.span,
            items: steps,
            written: items.len(),
        })
    }

    fn step(&mut self, node: &Node, index: usize, noun: &str) -> Option<RawStep> {
        // Name the step for messages before decoding the rest of it.
        let name = node
            .get("name")
            .and_then(Node::as_str)
            .filter(|n| !n.is_empty() && !n.contains(['\n', '`']));
        let title = match name {
            Some(name) => format!("{noun} `{name}`"),
            None => format!("{noun} {}", index + 1),
        };
        let ctx = Ctx::owned_by(title.clone());
        let entries = self.object(node, schema::object("step"), &ctx, node.span)?;
        let success = entries.get("success").and_then(|e| self.success(e, &ctx));
        let outputs = entries
            .get("outputs")
            .map(|e| self.outputs(e, &ctx))
            .unwrap_or_default();
        let rate_control = entries
            .get("rate_control")
            .map(|e| self.rate_control(e, &ctx))
            .unwrap_or_default();
        Some(RawStep {
            title,
            head: node.head_span(),
            name: self.text(entries.get("name"), &ctx),
            script: self.text(entries.get("script"), &ctx),
            script_file: self.text(entries.get("script_file"), &ctx),
            script_given: entries.get("script").is_some() || entries.get("script_file").is_some(),
            command_type: self.text(entries.get("type"), &ctx),
            working_dir: self.text(entries.get("working_dir"), &ctx),
            timeout: self.text(entries.get("timeout"), &ctx),
            username: self.text(entries.get("username"), &ctx),
            depends_on: self
                .text_list(entries.get("depends_on"), &ctx, "[check-disk]")
                .unwrap_or_default(),
            when: self.text(entries.get("when"), &ctx),
            retries: self.text(entries.get("retries"), &ctx),
            success,
            on_failure: self.text(entries.get("on_failure"), &ctx),
            outputs,
            parameters: self.text_map(entries.get("parameters"), &ctx),
            targets: entries.get("targets").and_then(|e| self.targets(e, &ctx)),
            targets_given: entries.get("targets").is_some(),
            rate_control,
            output_encoding: self.text(entries.get("output_encoding"), &ctx),
            intended: entries.intended.clone(),
        })
    }

    fn success(&mut self, entry: Entry<'_>, ctx: &Ctx) -> Option<RawSuccess> {
        let inner = ctx.child("success");
        let entries = self.object(entry.value, schema::object("success"), &inner, entry.span())?;
        let exit_codes = entries.get("exit_codes").and_then(|e| {
            let span = e.span();
            self.text_list(Some(e), &inner, "[0]")
                .map(|codes| Spanned::new(codes, span))
        });
        Some(RawSuccess {
            exit_codes,
            output_contains: self.text(entries.get("output_contains"), &inner),
            output_matches: self.text(entries.get("output_matches"), &inner),
            min_success: self.text(entries.get("min_success"), &inner),
        })
    }

    fn outputs(&mut self, entry: Entry<'_>, ctx: &Ctx) -> Vec<RawOutput> {
        let Some(map) = entry.value.as_map() else {
            let subject = ctx.subject("outputs");
            self.push(
                Diagnostic::new(
                    Kind::WrongType {
                        subject,
                        expected: "a mapping of output names to `{regex: ...}`".to_owned(),
                        found: entry.value.describe(),
                    },
                    entry.span(),
                )
                .with_help("write e.g. `outputs: {usage: {regex: '(\\d+)%'}}`"),
            );
            return Vec::new();
        };
        let inner = ctx.child("outputs");
        let mut out = Vec::new();
        for (key, value) in map {
            let Some(name) = self.key(key, &inner) else {
                continue;
            };
            let Some(name_text) = self.scalar(key, inner.subject(name), key.span) else {
                continue;
            };
            let output_ctx = inner.child(name);
            if let Some(pattern) = value.as_str().filter(|_| !value.is_null()) {
                self.push(
                    Diagnostic::new(
                        Kind::WrongType {
                            subject: inner.subject(name),
                            expected: "a mapping with `regex`".to_owned(),
                            found: value.describe(),
                        },
                        value.span,
                    )
                    .with_help(format!("write `{name}: {{regex: {pattern:?}}}`")),
                );
                continue;
            }
            let span = if value.span.is_empty() {
                key.span
            } else {
                value.span
            };
            let Some(entries) = self.object(value, schema::object("output"), &output_ctx, span)
            else {
                continue;
            };
            out.push(RawOutput {
                name: name_text,
                regex: self.text(entries.get("regex"), &output_ctx),
            });
        }
        out
    }
}

/// An object's keys for a help line: `` `a`, `b` and `c` ``.
fn key_list(object: &Object) -> String {
    let keys: Vec<&str> = object.keys().collect();
    crate::suggest::one_of(&keys).replacen(" or ", " and ", 1)
}

/// A description as a fragment inside parentheses: first letter lower-cased, no final period.
fn lower_first(text: &str) -> String {
    let first_sentence = text
        .split(". ")
        .next()
        .unwrap_or(text)
        .trim_end_matches('.');
    let mut chars = first_sentence.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}
