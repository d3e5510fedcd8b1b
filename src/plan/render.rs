//! Script templates: Tera, with no HTML escaping, Cloud Assistant's own tokens kept intact and
//! secrets tracked through rendering.
//!
//! A script reaches the instance byte for byte as written except where a Tera tag substitutes
//! a value. Before Tera sees the text, every piece that belongs to the shell or to Cloud
//! Assistant is swapped for an opaque marker and put back afterwards:
//! `{{ACS::…}}` built-ins, `{{oos:…}}` / `{{oos-secret:…}}` Parameter Store references, the
//! step's declared `parameters` (`{{name}}`), Go-template braces (`{{.State.Status}}`) and the
//! shell's `${#…}` (which Tera would read as a comment opener). Secret values are rendered as
//! markers too, so the output is a list of [`Segment`]s and a secret can be masked wherever the
//! text is shown.
//!
//! Rendering never prints; errors come back as [`TemplateError`] with an offset into the
//! template, which `build` maps to a span in the runbook.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};
use tera::{Context, Tera};

use crate::plan::guard;

/// Private-use characters that delimit markers; a template containing them is refused.
const OPEN: char = '\u{E000}';
const CLOSE: char = '\u{E001}';

/// What a masked secret looks like wherever a rendered script is shown.
pub const MASK: &str = "********";

/// A piece of rendered text: literal text, or a secret variable's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Segment {
    /// Literal text.
    Text(String),
    /// The value of the named secret variable, filled in only when the call is sent.
    Secret(String),
}

/// Rendered text that may contain secrets.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Rendered(pub Vec<Segment>);

impl Rendered {
    /// Plain text without secrets.
    pub fn plain(text: impl Into<String>) -> Self {
        Self(vec![Segment::Text(text.into())])
    }

    /// The text with every secret shown as [`MASK`].
    pub fn masked(&self) -> String {
        self.join(|_| Some(MASK.to_owned()))
            .expect("masking never fails")
    }

    /// The real text, with secrets looked up by `secret`; `None` when one is missing.
    pub fn expose(&self, secret: impl Fn(&str) -> Option<String>) -> Option<String> {
        self.join(secret)
    }

    /// Names of the secrets inside.
    pub fn secrets(&self) -> BTreeSet<&str> {
        self.0
            .iter()
            .filter_map(|s| match s {
                Segment::Secret(name) => Some(name.as_str()),
                Segment::Text(_) => None,
            })
            .collect()
    }

    /// Whether any secret is inside.
    pub fn has_secrets(&self) -> bool {
        self.0.iter().any(|s| matches!(s, Segment::Secret(_)))
    }

    fn join(&self, secret: impl Fn(&str) -> Option<String>) -> Option<String> {
        let mut out = String::new();
        for segment in &self.0 {
            match segment {
                Segment::Text(t) => out.push_str(t),
                Segment::Secret(name) => out.push_str(&secret(name)?),
            }
        }
        Some(out)
    }
}

/// Why a template could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    /// Byte offset into the template where the problem is, when known.
    pub offset: Option<usize>,
    /// Length of the offending text, when known.
    pub len: usize,
    /// What went wrong.
    pub kind: TemplateErrorKind,
}

/// The kinds of template failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateErrorKind {
    /// Tera could not parse the template.
    Syntax(String),
    /// A variable is not defined.
    Undefined(String),
    /// A secret was passed through a filter or otherwise transformed.
    SecretTransformed(String),
    /// The template contains the private-use characters used as markers.
    ReservedCharacter,
    /// Rendering failed for another reason (a filter error, a type error).
    Render(String),
    /// The template uses what runbook templates do not allow, or nests too deep (`guard`).
    Refused(String),
}

impl std::fmt::Display for TemplateErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Syntax(detail) => write!(f, "template syntax error: {detail}"),
            Self::Undefined(name) => write!(f, "undefined variable `{name}`"),
            Self::SecretTransformed(name) => write!(
                f,
                "secret variable `{name}` is passed through a filter or expression"
            ),
            Self::ReservedCharacter => {
                f.write_str("template contains a reserved private-use character (U+E000/U+E001)")
            }
            Self::Render(detail) => write!(f, "template error: {detail}"),
            Self::Refused(detail) => write!(f, "template refused: {detail}"),
        }
    }
}

/// Cloud Assistant built-ins and Parameter Store references (reference §8).
static CLOUD_TOKEN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\{\{\s*(?:ACS\s*::\s*[\w\-.]+(?:\|[^}]*)?|oos-secret\s*:\s*[\w\-.]+|oos\s*:\s*[\w\-.]+)\s*\}\}")
        .expect("static regex")
});

/// `{{ name }}` where `name` may be a declared Cloud Assistant parameter.
static PARAMETER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\{\{\s*([A-Za-z0-9_-]+)\s*\}\}").expect("static regex"));

/// Go-template actions: `{{.Field}}`, `{{ .Field }}`, `{{json .}}`-style with a leading dot.
static GO_TEMPLATE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\{\{-?\s*\.[^{}]*\}\}").expect("static regex"));

/// The shell's `${#...}` (length of a variable or array), which Tera reads as `{#`.
static SHELL_LENGTH: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\$\{#").expect("static regex"));

static UNDEFINED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"Variable `([^`]+)` not found in context").expect("static regex"));

static LOCATION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"--> (\d+):(\d+)").expect("static regex"));

/// A template prepared for Tera: protected pieces swapped for markers.
struct Protected {
    text: String,
    pieces: Vec<String>,
}

/// Swaps the pieces Tera must not touch for `OPEN P<n> CLOSE` markers.
fn protect(template: &str, parameters: &BTreeSet<String>) -> Protected {
    let mut pieces = Vec::new();
    let mut text = template.to_owned();
    let mut swap = |text: &str, re: &Regex, keep: &dyn Fn(&regex::Captures<'_>) -> bool| {
        re.replace_all(text, |caps: &regex::Captures<'_>| {
            let whole = caps[0].to_owned();
            if keep(caps) {
                pieces.push(whole);
                format!("{OPEN}P{}{CLOSE}", pieces.len() - 1)
            } else {
                whole
            }
        })
        .into_owned()
    };
    text = swap(&text, &CLOUD_TOKEN, &|_| true);
    text = swap(&text, &GO_TEMPLATE, &|_| true);
    text = swap(&text, &PARAMETER, &|caps| parameters.contains(&caps[1]));
    text = swap(&text, &SHELL_LENGTH, &|_| true);
    Protected { text, pieces }
}

/// The variables a template can see: plain values and the names of secrets.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// The Tera context (vars, `runbook`, `step`, `steps`).
    pub context: Context,
    /// Names of secret variables; their values never enter the context.
    pub secrets: BTreeSet<String>,
    /// Cloud Assistant parameter names that must pass through untouched.
    pub parameters: BTreeSet<String>,
}

impl Scope {
    /// The context with every secret bound to its marker, both as `name` and `vars.name`.
    fn context_with_markers(&self) -> Context {
        let mut context = self.context.clone();
        let mut vars = context
            .get("vars")
            .and_then(|v| v.as_object().cloned())
            .unwrap_or_default();
        for name in &self.secrets {
            let marker = format!("{OPEN}S{name}{CLOSE}");
            context.insert(name.as_str(), &marker);
            vars.insert(name.clone(), tera::Value::String(marker));
        }
        context.insert("vars", &vars);
        context
    }
}

/// Renders `template` in `scope`. Undefined variables are all collected: each is reported and
/// bound to an empty value so rendering can go on to find the next one.
pub fn render(template: &str, scope: &Scope) -> Result<Rendered, Vec<TemplateError>> {
    if template.contains(OPEN) || template.contains(CLOSE) {
        return Err(vec![TemplateError {
            offset: template.find([OPEN, CLOSE]),
            len: OPEN.len_utf8(),
            kind: TemplateErrorKind::ReservedCharacter,
        }]);
    }
    let protected = protect(template, &scope.parameters);
    if let Err((offset, len, kind)) = guard::check(&protected.text) {
        let start = unprotect_offset(&protected.text, &protected.pieces, offset);
        let end = unprotect_offset(&protected.text, &protected.pieces, offset + len);
        return Err(vec![TemplateError {
            offset: Some(start.min(template.len())),
            len: end.saturating_sub(start),
            kind,
        }]);
    }
    if !["{{", "{%", "{#"]
        .iter()
        .any(|tag| protected.text.contains(tag))
    {
        // No tag is left for Tera: the text is its own rendering.
        return restore(&protected.text, &protected, scope);
    }
    let mut tera = Tera::default();
    tera.autoescape_on(Vec::new());
    tera.register_function("range", guard::range);
    tera.register_function("get_env", guard::get_env);
    if let Err(error) = tera.add_raw_template("script", &protected.text) {
        return Err(vec![syntax_error(template, &protected, &error)]);
    }
    let mut context = scope.context_with_markers();
    let mut errors = Vec::new();
    // Each pass finds at most one undefined variable; a template has few variables, but bound
    // the passes anyway.
    for _ in 0..64 {
        match tera.render("script", &context) {
            Ok(output) => {
                if !errors.is_empty() {
                    return Err(errors);
                }
                return restore(&output, &protected, scope);
            }
            Err(error) => {
                let chain = error_chain(&error);
                if let Some(caps) = UNDEFINED.captures(&chain) {
                    let name = caps[1].to_owned();
                    if errors.iter().any(|e: &TemplateError| {
                        e.kind == TemplateErrorKind::Undefined(name.clone())
                    }) {
                        break;
                    }
                    errors.push(locate_name(template, &name));
                    bind_placeholder(&mut context, &name);
                } else {
                    errors.push(TemplateError {
                        offset: None,
                        len: 0,
                        kind: TemplateErrorKind::Render(last_line(&chain)),
                    });
                    return Err(errors);
                }
            }
        }
    }
    Err(errors)
}

/// Puts protected pieces back and splits secret markers into segments.
fn restore(
    output: &str,
    protected: &Protected,
    scope: &Scope,
) -> Result<Rendered, Vec<TemplateError>> {
    let mut segments = Vec::new();
    let mut text = String::new();
    let mut rest = output;
    while let Some(start) = rest.find(OPEN) {
        text.push_str(&rest[..start]);
        let after = &rest[start + OPEN.len_utf8()..];
        let Some(end) = after.find(CLOSE) else {
            return Err(vec![transformed(scope)]);
        };
        let marker = &after[..end];
        if let Some(index) = marker
            .strip_prefix('P')
            .and_then(|n| n.parse::<usize>().ok())
        {
            match protected.pieces.get(index) {
                Some(piece) => text.push_str(piece),
                None => return Err(vec![transformed(scope)]),
            }
        } else if let Some(name) = marker
            .strip_prefix('S')
            .filter(|n| scope.secrets.contains(*n))
        {
            if !text.is_empty() {
                segments.push(Segment::Text(std::mem::take(&mut text)));
            }
            segments.push(Segment::Secret(name.to_owned()));
        } else {
            return Err(vec![transformed(scope)]);
        }
        rest = &after[end + CLOSE.len_utf8()..];
    }
    if rest.contains(CLOSE) {
        return Err(vec![transformed(scope)]);
    }
    text.push_str(rest);
    if !text.is_empty() || segments.is_empty() {
        segments.push(Segment::Text(text));
    }
    Ok(Rendered(segments))
}

fn transformed(scope: &Scope) -> TemplateError {
    let name = scope.secrets.iter().next().cloned().unwrap_or_default();
    TemplateError {
        offset: None,
        len: 0,
        kind: TemplateErrorKind::SecretTransformed(name),
    }
}

fn error_chain(error: &tera::Error) -> String {
    let mut out = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(s) = source {
        out.push('\n');
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

fn last_line(chain: &str) -> String {
    chain.lines().last().unwrap_or(chain).trim().to_owned()
}

/// Maps Tera's `--> line:col` (in the protected text) back to an offset in the template.
fn syntax_error(template: &str, protected: &Protected, error: &tera::Error) -> TemplateError {
    let chain = error_chain(error);
    let detail = chain
        .lines()
        .find_map(|l| l.trim().strip_prefix("= "))
        .unwrap_or("could not parse the template")
        .to_owned();
    let offset = LOCATION.captures(&chain).and_then(|caps| {
        let line: usize = caps[1].parse().ok()?;
        let col: usize = caps[2].parse().ok()?;
        let mut protected_offset = line_col_to_offset(&protected.text, line, col)?;
        if protected.text[protected_offset.min(protected.text.len())..]
            .trim()
            .is_empty()
        {
            // Tera reached the end looking for a closer: point at the tag left open instead.
            protected_offset = unclosed_tag(&protected.text).unwrap_or(protected_offset);
        }
        Some(unprotect_offset(
            &protected.text,
            &protected.pieces,
            protected_offset,
        ))
    });
    TemplateError {
        offset: offset.map(|o| o.min(template.len())),
        len: 2,
        kind: TemplateErrorKind::Syntax(detail),
    }
}

/// The last `{{`, `{%` or `{#` with no closer after it.
fn unclosed_tag(text: &str) -> Option<usize> {
    let mut openers: Vec<(usize, &str)> = [("{{", "}}"), ("{%", "%}"), ("{#", "#}")]
        .iter()
        .flat_map(|(open, close)| text.match_indices(open).map(move |(i, _)| (i, *close)))
        .collect();
    openers.sort_unstable();
    openers
        .iter()
        .rev()
        .find(|(i, close)| !text[i + 2..].contains(close))
        .map(|(i, _)| *i)
}

/// Byte offset of 1-based `line` and 1-based character `col`.
fn line_col_to_offset(text: &str, line: usize, col: usize) -> Option<usize> {
    let line_start = if line <= 1 {
        0
    } else {
        text.match_indices('\n').nth(line - 2)?.0 + 1
    };
    let line_text = &text[line_start..];
    let within = line_text
        .char_indices()
        .nth(col.saturating_sub(1))
        .map_or(line_text.len(), |(i, _)| i);
    Some(line_start + within)
}

/// Converts an offset in the protected text to the same place in the original template.
fn unprotect_offset(protected: &str, pieces: &[String], offset: usize) -> usize {
    let mut original = 0;
    let mut i = 0;
    let bytes = protected.as_bytes();
    while i < offset && i < bytes.len() {
        if protected[i..].starts_with(OPEN) {
            let after = i + OPEN.len_utf8();
            if let Some(end) = protected[after..].find(CLOSE) {
                let marker = &protected[after..after + end];
                let piece_len = marker
                    .strip_prefix('P')
                    .and_then(|n| n.parse::<usize>().ok())
                    .and_then(|n| pieces.get(n))
                    .map_or(0, String::len);
                original += piece_len;
                i = after + end + CLOSE.len_utf8();
                continue;
            }
        }
        let ch_len = protected[i..].chars().next().map_or(1, char::len_utf8);
        original += ch_len;
        i += ch_len;
    }
    original
}

/// Finds where an undefined name is used: the first tag in the template that mentions its
/// root, or nothing.
pub(crate) fn locate_name(template: &str, name: &str) -> TemplateError {
    let root = name.split(['.', '[']).next().unwrap_or(name);
    let mut offset = None;
    let mut len = 0;
    for (start, _) in template
        .match_indices("{{")
        .chain(template.match_indices("{%"))
    {
        let end = template[start..]
            .find(['}', '%'])
            .map_or(template.len(), |e| start + e);
        let tag = &template[start..end];
        if let Some(pos) = find_word(tag, root) {
            let candidate = start + pos;
            if offset.is_none_or(|o| candidate < o) {
                offset = Some(candidate);
                // The whole reference when it is written as reported (`vars.x`), else its root.
                len = if tag[pos..].starts_with(name) {
                    name.len()
                } else {
                    root.len()
                };
            }
        }
    }
    TemplateError {
        offset,
        len,
        kind: TemplateErrorKind::Undefined(name.to_owned()),
    }
}

fn find_word(haystack: &str, word: &str) -> Option<usize> {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    haystack.match_indices(word).map(|(i, _)| i).find(|&i| {
        let before = haystack[..i].chars().next_back();
        let after = haystack[i + word.len()..].chars().next();
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

/// Binds `name` (possibly dotted, like `vars.x` or `steps.a.output`) to an empty string so
/// the next render pass can continue.
fn bind_placeholder(context: &mut Context, name: &str) {
    let parts: Vec<&str> = name.split('.').collect();
    let Some((root, rest)) = parts.split_first() else {
        return;
    };
    if rest.is_empty() {
        context.insert(*root, "");
        return;
    }
    let mut value = context
        .get(root)
        .cloned()
        .filter(tera::Value::is_object)
        .unwrap_or_else(|| tera::Value::Object(tera::Map::new()));
    let mut node = &mut value;
    for (i, part) in rest.iter().enumerate() {
        let last = i + 1 == rest.len();
        let map = node
            .as_object_mut()
            .expect("every intermediate node is made an object");
        let entry = map.entry((*part).to_owned()).or_insert_with(|| {
            if last {
                tera::Value::String(String::new())
            } else {
                tera::Value::Object(tera::Map::new())
            }
        });
        if !last && !entry.is_object() {
            *entry = tera::Value::Object(tera::Map::new());
        }
        node = entry;
    }
    context.insert(*root, &value);
}

/// Whether a template refers to earlier steps' results, so that it can only be rendered at run
/// time.
pub fn uses_step_results(template: &str) -> bool {
    static STEPS: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?s)\{[{%][^}]*\bsteps\s*[.\[]").expect("static regex"));
    STEPS.is_match(template)
}

/// The earlier steps a template reads, by name (`steps.name…` and `steps['name']…` inside its
/// tags); `None` when it uses `steps` in a way that does not name them (`{% for s in steps %}`).
pub fn step_references(template: &str) -> Option<BTreeSet<String>> {
    static TAG: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?s)\{\{.*?\}\}|\{%.*?%\}").expect("static regex"));
    static WORD: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\bsteps\b").expect("static regex"));
    static REFERENCE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"^steps\s*(?:\.\s*([A-Za-z0-9_]+)|\[\s*'([^']*)'\s*\]|\[\s*"([^"]*)"\s*\])"#)
            .expect("static regex")
    });
    let mut names = BTreeSet::new();
    for tag in TAG.find_iter(template) {
        let tag = tag.as_str();
        for word in WORD.find_iter(tag) {
            // `x.steps` is a field of something else, not the root.
            if tag[..word.start()].trim_end().ends_with('.') {
                continue;
            }
            let caps = REFERENCE.captures(&tag[word.start()..])?;
            let name = caps
                .get(1)
                .or_else(|| caps.get(2))
                .or_else(|| caps.get(3))?;
            names.insert(name.as_str().to_owned());
        }
    }
    Some(names)
}

/// Each `{{ name }}` in `template` whose `name` is one of `parameters`: its byte range and the
/// name.
pub fn parameter_uses(
    template: &str,
    parameters: &BTreeSet<String>,
) -> Vec<(std::ops::Range<usize>, String)> {
    PARAMETER
        .captures_iter(template)
        .filter(|caps| parameters.contains(&caps[1]))
        .map(|caps| {
            let whole = caps.get(0).expect("the whole match");
            (whole.range(), caps[1].to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(vars: &[(&str, &str)]) -> Scope {
        let mut context = Context::new();
        let mut map = tera::Map::new();
        for (k, v) in vars {
            context.insert(*k, v);
            map.insert((*k).to_owned(), tera::Value::String((*v).to_owned()));
        }
        context.insert("vars", &map);
        Scope {
            context,
            ..Scope::default()
        }
    }

    fn plain(template: &str, scope: &Scope) -> String {
        let rendered = render(template, scope).unwrap();
        assert!(!rendered.has_secrets());
        rendered.masked()
    }

    /// Case B15: no HTML escaping, whatever the content.
    #[test]
    fn b15_no_autoescape() {
        let cmd = r#"tar czf /var/backups/a.tgz . && echo "done" > /var/log/x 2>&1 <'in'"#;
        let s = scope(&[("cmd", cmd)]);
        assert_eq!(plain("{{ cmd }}", &s), cmd);
        assert_eq!(plain("{{ vars.cmd }}", &s), cmd);
        // Tera keeps the newline after a tag; the trailing newline of a block stays.
        assert_eq!(
            plain("a\n{% if true %}\nb\n{% endif %}\nc\n", &s),
            "a\n\nb\n\nc\n"
        );
    }

    /// Case B12: values are substituted as their source text.
    #[test]
    fn b12_source_text_values() {
        let s = scope(&[
            ("app_version", "1.20"),
            ("python", "3.10"),
            ("country", "NO"),
            ("mode", "0755"),
            ("build", "0x1F"),
            ("feature_flag", "yes"),
        ]);
        let template = "pip install \"app=={{ app_version }}\"\npyenv local {{ python }}\nchmod {{ mode }} /opt/app/run.sh\necho \"{{ country }} {{ build }} {{ feature_flag }}\"\n";
        assert_eq!(
            plain(template, &s),
            "pip install \"app==1.20\"\npyenv local 3.10\nchmod 0755 /opt/app/run.sh\necho \"NO 0x1F yes\"\n"
        );
    }

    #[test]
    fn cloud_assistant_and_shell_syntax_survive() {
        let mut s = scope(&[("pkg", "nginx")]);
        s.parameters.insert("conf".into());
        let cases = [
            "echo {{ACS::InstanceId}} {{ ACS::RegionId }}",
            "python3 {{ACS::ScriptFileName|Ext(\".py\")}}",
            "cat {{oos:my-param}} {{oos-secret:db-pass}}",
            "logrotate -f {{conf}} {{ conf }}",
            "docker inspect -f '{{.State.Status}}' x; docker ps --format '{{ .Names }}'",
            "arr=(a b); echo ${#arr[@]} ${#HOME}",
            "echo ${VAR:-x} $((1+2)) ${HOME}",
        ];
        for case in cases {
            assert_eq!(plain(case, &s), case, "{case}");
        }
        assert_eq!(
            plain("yum install {{ pkg }} && echo {{ACS::InstanceId}}", &s),
            "yum install nginx && echo {{ACS::InstanceId}}"
        );
    }

    #[test]
    fn undefined_variables_are_all_reported_with_offsets() {
        let s = scope(&[("a", "1")]);
        let errors = render("x {{ a }} {{ missing }} {{ vars.other }}", &s).unwrap_err();
        let kinds: Vec<_> = errors.iter().map(|e| (&e.kind, e.offset)).collect();
        assert_eq!(
            kinds,
            [
                (&TemplateErrorKind::Undefined("missing".into()), Some(13)),
                (&TemplateErrorKind::Undefined("vars.other".into()), Some(27)),
            ]
        );
    }

    #[test]
    fn syntax_errors_point_into_the_original_template() {
        let s = scope(&[]);
        let template = "echo {{ACS::InstanceId}}\necho {{ a + }}\n";
        let errors = render(template, &s).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert!(matches!(errors[0].kind, TemplateErrorKind::Syntax(_)));
        let offset = errors[0].offset.unwrap();
        assert!(
            (25..template.len()).contains(&offset),
            "offset {offset} not on line 2"
        );
    }

    #[test]
    fn secrets_become_segments_and_transformations_are_refused() {
        let mut s = scope(&[("user", "deploy")]);
        s.secrets.insert("token".into());
        let rendered = render(
            "curl -H 'X: {{ token }}' -u {{ user }} {{ vars.token }}",
            &s,
        )
        .unwrap();
        assert_eq!(
            rendered.masked(),
            "curl -H 'X: ********' -u deploy ********"
        );
        assert_eq!(
            rendered.expose(|_| Some("s3cr3t".into())).unwrap(),
            "curl -H 'X: s3cr3t' -u deploy s3cr3t"
        );
        assert_eq!(
            rendered.secrets().into_iter().collect::<Vec<_>>(),
            ["token"]
        );
        let errors = render("{{ token | upper }}", &s).unwrap_err();
        assert!(matches!(
            errors[0].kind,
            TemplateErrorKind::SecretTransformed(_)
        ));
    }

    #[test]
    fn detects_templates_that_need_step_results() {
        assert!(uses_step_results(
            "{{ steps['check-disk'].outputs.usage | int < 90 }}"
        ));
        assert!(uses_step_results(
            "{% if steps.a.status == 'success' %}x{% endif %}"
        ));
        assert!(!uses_step_results("echo steps.a {{ vars.steps_total }}"));
    }

    #[test]
    fn step_references_name_the_steps_read() {
        let table: &[(&str, Option<&[&str]>)] = &[
            ("echo {{ steps.a.output }}", Some(&["a"])),
            (
                "{{ steps['check-disk'].outputs.usage | int < 90 and steps[\"b\"].status }}",
                Some(&["b", "check-disk"]),
            ),
            (
                "{% if steps . a_1.status == 'x' %}{% endif %}",
                Some(&["a_1"]),
            ),
            (
                "echo steps.a {{ vars.steps_total }} {{ x.steps }}",
                Some(&[]),
            ),
            ("{% for s in steps %}{{ s }}{% endfor %}", None),
            ("{{ steps[name] }}", None),
        ];
        for (template, expected) in table {
            let got = step_references(template);
            let want = expected.map(|names| names.iter().map(|n| (*n).to_owned()).collect());
            assert_eq!(got, want, "{template}");
        }
    }

    #[test]
    fn parameter_uses_are_found_with_their_ranges() {
        let parameters: BTreeSet<String> = ["conf".to_owned()].into();
        let template = "a {{conf}} {{ conf }} {{ other }}";
        let uses = parameter_uses(template, &parameters);
        let got: Vec<(&str, &str)> = uses
            .iter()
            .map(|(r, n)| (&template[r.clone()], n.as_str()))
            .collect();
        assert_eq!(got, [("{{conf}}", "conf"), ("{{ conf }}", "conf")]);
    }
}
