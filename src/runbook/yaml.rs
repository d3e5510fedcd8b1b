//! A span-keeping YAML document tree, built from saphyr-parser events, and a serde bridge over
//! it ([`from_str`]).
//!
//! This module owns YAML syntax and structure: it turns text into a [`Node`] tree whose every
//! node knows its byte span, and reports what YAML itself gets wrong. It does not know what a
//! runbook is; `raw` and `load` decide what the nodes mean.
//!
//! Policies, each documented in `docs/runbook-format.md`:
//!
//! - **Scalars keep their source text.** [`Scalar::text`] is the value exactly as YAML delivers
//!   it (escapes resolved in quoted styles, block scalars with their final newline). Typing is
//!   left to the consumer: the runbook decoder asks for what each field needs, and the serde
//!   bridge resolves plain scalars with the YAML 1.2 *core* schema only when the target type
//!   asks for a bool, number or null. `yes`, `no`, `on`, `off` are never booleans.
//! - **Duplicate keys** are reported (with the first occurrence labelled) and the later entry is
//!   dropped from the tree, never silently overwriting the first.
//! - **Aliases** are expanded, with a hard budget of [`MAX_NODES`] nodes for the whole expanded
//!   tree, so an alias bomb ("billion laughs") fails fast with a diagnostic. An expanded alias
//!   takes the alias's span at its root; the nodes inside keep the spans of the anchored text.
//! - **Merge keys** (`<<`, a YAML 1.1 extension) are rejected with a help line; a quoted `"<<"`
//!   is an ordinary key.
//! - **Nesting** deeper than [`MAX_DEPTH`] collections is rejected.
//! - **One document** per stream: a second `---` document is an error. An empty stream gives
//!   an empty plain scalar (null) as its root.
//! - **BOM and CRLF** are accepted (the parser handles both). **Tabs** used as indentation get
//!   their own diagnostic, labelled on the tab.
//! - **Spans** are byte offsets into the text. saphyr-parser's markers count characters, so
//!   they are converted once, here, and never recomputed later.

mod de;

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use miette::SourceSpan;
use saphyr_parser::{Event, Parser, ScanError};

use crate::runbook::diagnostic::{Diagnostic, Diagnostics, Kind};

/// The largest number of nodes a document may have once aliases are expanded.
pub const MAX_NODES: usize = 1_000_000;

/// The deepest nesting of collections a document may have.
pub const MAX_DEPTH: usize = 64;

/// The largest file the loader reads, in bytes.
pub const MAX_FILE_SIZE: usize = 16 * 1024 * 1024;

/// YAML 1.1 spellings of booleans, which YAML 1.2 (and this tool) reads as strings. Where a
/// boolean is expected they are rejected with a help line, never read as `true` or `false`.
pub const YAML11_BOOLS: &[&str] = &[
    "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off",
    "OFF",
];

/// The YAML 1.2 core schema tag prefix (`!!` expands to it).
const CORE_TAG_PREFIX: &str = "tag:yaml.org,2002:";

/// One YAML node with its byte span.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Scalar, sequence or mapping.
    pub kind: NodeKind,
    /// Where the node was written, in bytes. For a block collection this runs from its first
    /// entry to the end of its last one.
    pub span: SourceSpan,
    /// The node's tag, when it has one.
    pub tag: Option<Tag>,
}

/// The content of a [`Node`].
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// A scalar.
    Scalar(Scalar),
    /// A sequence, in order.
    Seq(Vec<Node>),
    /// A mapping, in file order, each key once (duplicates were reported and dropped).
    Map(Vec<(Node, Node)>),
}

/// A scalar's value and how it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scalar {
    /// The exact value YAML delivers: escapes resolved, folding applied, block scalars with
    /// their final line break (unless chomped). Never re-typed.
    pub text: String,
    /// How it was written.
    pub style: ScalarStyle,
}

/// How a scalar was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarStyle {
    /// No quotes.
    Plain,
    /// `'...'`.
    SingleQuoted,
    /// `"..."`.
    DoubleQuoted,
    /// `|` block.
    Literal,
    /// `>` block.
    Folded,
}

/// A YAML tag, as resolved by the parser (`!!str` has handle `tag:yaml.org,2002:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    /// The handle or prefix.
    pub handle: String,
    /// The suffix.
    pub suffix: String,
}

impl Tag {
    /// The core-schema name (`str`, `int`, ...) when this is a `!!` tag.
    pub fn core(&self) -> Option<&str> {
        (self.handle == CORE_TAG_PREFIX).then_some(self.suffix.as_str())
    }
}

impl std::fmt::Display for Tag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(core) = self.core() {
            write!(f, "!!{core}")
        } else if self.handle == "!" {
            write!(f, "!{}", self.suffix)
        } else {
            write!(f, "!<{}{}>", self.handle, self.suffix)
        }
    }
}

/// A plain scalar resolved with the YAML 1.2 core schema.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Resolved<'a> {
    /// `null`, `Null`, `NULL`, `~` or nothing.
    Null,
    /// `true`/`false` in the three core spellings.
    Bool(bool),
    /// Decimal, `0o` octal or `0x` hex integers.
    Int(i128),
    /// Floats, `.inf`, `.nan`.
    Float(f64),
    /// Anything else, and every quoted or block scalar.
    Str(&'a str),
}

impl Node {
    /// The scalar, when this is one.
    pub fn as_scalar(&self) -> Option<&Scalar> {
        match &self.kind {
            NodeKind::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// The scalar's text, when this is a scalar.
    pub fn as_str(&self) -> Option<&str> {
        self.as_scalar().map(|s| s.text.as_str())
    }

    /// The entries, when this is a mapping.
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            NodeKind::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The items, when this is a sequence.
    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.kind {
            NodeKind::Seq(items) => Some(items),
            _ => None,
        }
    }

    /// The value under scalar key `key`, when this is a mapping that has it.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }

    /// Whether this is a plain scalar the core schema reads as null (including nothing at all,
    /// as in `key:`), without a tag saying otherwise.
    pub fn is_null(&self) -> bool {
        matches!(self.resolve(), Some(Resolved::Null))
    }

    /// The scalar resolved with the YAML 1.2 core schema; `None` for collections. Quoted and
    /// block scalars, and `!!str`-tagged ones, are always strings.
    pub fn resolve(&self) -> Option<Resolved<'_>> {
        let scalar = self.as_scalar()?;
        let text = scalar.text.as_str();
        if scalar.style != ScalarStyle::Plain {
            return Some(Resolved::Str(text));
        }
        match self.tag.as_ref().and_then(Tag::core) {
            Some("str") => Some(Resolved::Str(text)),
            _ => Some(resolve_plain(text)),
        }
    }

    /// How the node reads in a "found ..." message: the scalar in backticks (shortened),
    /// "nothing", "a sequence" or "a mapping".
    pub fn describe(&self) -> String {
        match &self.kind {
            NodeKind::Scalar(s) if s.style == ScalarStyle::Plain && s.text.is_empty() => {
                "nothing".to_owned()
            }
            NodeKind::Scalar(s) => {
                let mut text: String = s.text.chars().take(40).collect();
                if text.len() < s.text.len() {
                    text.push('…');
                }
                if text.contains('\n') || text.contains('`') {
                    format!("{text:?}")
                } else {
                    format!("`{text}`")
                }
            }
            NodeKind::Seq(_) => "a sequence".to_owned(),
            NodeKind::Map(_) => "a mapping".to_owned(),
        }
    }

    /// The span to label when the node as a whole is wrong: for a mapping, its first key (a
    /// block mapping's span runs over many lines); otherwise the node itself.
    pub fn head_span(&self) -> SourceSpan {
        match &self.kind {
            NodeKind::Map(entries) if !entries.is_empty() => entries[0].0.span,
            _ => self.span,
        }
    }

    /// The number of nodes in this subtree, itself included.
    fn size(&self) -> usize {
        match &self.kind {
            NodeKind::Scalar(_) => 1,
            NodeKind::Seq(items) => 1 + items.iter().map(Node::size).sum::<usize>(),
            NodeKind::Map(entries) => {
                1 + entries
                    .iter()
                    .map(|(k, v)| k.size() + v.size())
                    .sum::<usize>()
            }
        }
    }
}

/// Resolves a plain scalar with the YAML 1.2 core schema (§10.3.2).
pub fn resolve_plain(text: &str) -> Resolved<'_> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        "true" | "True" | "TRUE" => return Resolved::Bool(true),
        "false" | "False" | "FALSE" => return Resolved::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Resolved::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
        _ => {}
    }
    for (prefix, radix) in [("0x", 16), ("0o", 8)] {
        if let Some(digits) = text.strip_prefix(prefix) {
            // `from_str_radix` accepts a sign; the core schema does not.
            let valid = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_alphanumeric());
            return match i128::from_str_radix(digits, radix) {
                Ok(n) if valid => Resolved::Int(n),
                _ => Resolved::Str(text),
            };
        }
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(n) = text.parse::<i128>() {
            return Resolved::Int(n);
        }
        return Resolved::Str(text);
    }
    match text.parse::<f64>() {
        Ok(f) if is_core_float(digits) => Resolved::Float(f),
        _ => Resolved::Str(text),
    }
}

/// `( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?` without the sign.
fn is_core_float(text: &str) -> bool {
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], Some(&text[i + 1..])),
        None => (text, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => {
            (!int.is_empty() || !frac.is_empty())
                && int.bytes().all(|b| b.is_ascii_digit())
                && frac.bytes().all(|b| b.is_ascii_digit())
                && !(int.is_empty() && frac.is_empty())
        }
        None => !mantissa.is_empty() && mantissa.bytes().all(|b| b.is_ascii_digit()),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())
    });
    mantissa_ok && exponent_ok
}

/// The outcome of [`parse`]: the tree (absent after a fatal error) and every problem found.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The document's root; `None` when the text could not be parsed at all.
    pub root: Option<Node>,
    /// YAML-level problems: syntax, duplicate keys, merge keys, aliases, documents.
    pub errors: Vec<Diagnostic>,
}

/// Parses one YAML document into a span-keeping tree. Never panics; every problem is a
/// diagnostic. Non-fatal problems (a duplicate key, a merge key, a second document) still
/// give a root, so the caller can report more.
pub fn parse(text: &str) -> Parsed {
    if text.len() > MAX_FILE_SIZE {
        return Parsed {
            root: None,
            errors: vec![Diagnostic::new(
                Kind::TooLarge {
                    size: text.len(),
                    limit: MAX_FILE_SIZE,
                },
                (0, 0),
            )],
        };
    }
    if let Some((at, c)) = text.char_indices().find(|(_, c)| !is_printable(*c)) {
        return Parsed {
            root: None,
            errors: vec![
                Diagnostic::new(
                    Kind::Unprintable {
                        code: format!("U+{:04X}", u32::from(c)),
                    },
                    (at, c.len_utf8()),
                )
                .with_label("here"),
            ],
        };
    }
    let mut builder = Builder::new(text);
    let fatal = builder.run();
    let root = if fatal {
        None
    } else {
        Some(builder.root.unwrap_or_else(|| Node {
            kind: NodeKind::Scalar(Scalar {
                text: String::new(),
                style: ScalarStyle::Plain,
            }),
            span: SourceSpan::from((text.len(), 0)),
            tag: None,
        }))
    };
    Parsed {
        root,
        errors: builder.errors,
    }
}

/// The tab a syntax error at `at` is blamed on, if any: one in the indentation of its line or
/// of the few lines before it, or one the parser refused as whitespace near it.
fn blamed_tab(text: &str, at: usize, info: &str) -> Option<usize> {
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    let line = &text[line_start..line_end];
    let indent_tab = line
        .char_indices()
        .take_while(|(_, c)| c.is_whitespace())
        .find(|(_, c)| *c == '\t')
        .map(|(i, _)| line_start + i);
    // A tab that starts one of the few lines before the error is the likely cause of a
    // structural error there (`\tversion: 1` makes the next key unexpected).
    let indent_tab = indent_tab.or_else(|| {
        if !info.contains("did not find expected") {
            return None;
        }
        let recent = text[..line_start]
            .char_indices()
            .rev()
            .filter(|(_, c)| *c == '\n')
            .nth(3)
            .map_or(0, |(i, _)| i + 1);
        let window = &text[recent..line_start];
        let mut offset = recent;
        window.split_inclusive('\n').find_map(|l| {
            let start = offset;
            offset += l.len();
            l.char_indices()
                .take_while(|(_, c)| *c == ' ' || *c == '\t')
                .find(|(_, c)| *c == '\t')
                .map(|(i, _)| start + i)
        })
    });
    // A tab is worth its own message wherever the parser noticed it: in indentation, or
    // as the "whitespace" after a `:` or `-` that the parser refused.
    // The parser sometimes notices a tab that starts the next line while still on this
    // one, so look ahead a little too.
    let here_end = (at + text[at..].chars().next().map_or(0, char::len_utf8)).min(line_end);
    let near_tab = text[line_start..here_end.max(line_start)]
        .rfind('\t')
        .map(|i| line_start + i)
        .or_else(|| {
            if !info.contains("tab") {
                return None;
            }
            text[at..]
                .char_indices()
                .take_while(|(i, _)| *i < 200)
                .find(|(_, c)| *c == '\t')
                .map(|(i, _)| at + i)
        });
    indent_tab.or(near_tab
        .filter(|_| info.contains("tab") || info.contains("whitespace") || info.contains("token")))
}

/// YAML 1.2's `c-printable` (§5.1): tab, line breaks, and everything but the C0 and C1
/// controls, DEL, and U+FFFE/U+FFFF; NEL (U+0085) is printable. The parser lets some of the
/// others through, where they would hide inside keys and values.
fn is_printable(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{85}')
        || !(c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}')
}

/// Converts saphyr-parser's character indices to byte offsets.
struct Offsets {
    /// Byte offset of each character index, plus one past the end; `None` for ASCII text,
    /// where they are equal.
    table: Option<Vec<usize>>,
    len: usize,
}

impl Offsets {
    fn new(text: &str) -> Self {
        let table = (!text.is_ascii()).then(|| {
            text.char_indices()
                .map(|(i, _)| i)
                .chain(std::iter::once(text.len()))
                .collect()
        });
        Self {
            table,
            len: text.len(),
        }
    }

    fn byte(&self, char_index: usize) -> usize {
        match &self.table {
            None => char_index.min(self.len),
            Some(table) => table.get(char_index).copied().unwrap_or(self.len),
        }
    }

    fn span(&self, span: saphyr_parser::Span) -> SourceSpan {
        let start = self.byte(span.start.index());
        let end = self.byte(span.end.index()).max(start);
        SourceSpan::from((start, end - start))
    }
}

/// An open collection while events arrive.
enum Frame {
    Seq {
        start: usize,
        anchor: usize,
        tag: Option<Tag>,
        items: Vec<Node>,
    },
    Map {
        start: usize,
        anchor: usize,
        tag: Option<Tag>,
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
        /// A key that was rejected (duplicate or merge key); its value is dropped.
        skip_value: bool,
        seen: HashMap<String, SourceSpan>,
    },
}

struct Builder<'t> {
    text: &'t str,
    offsets: Offsets,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    nodes: usize,
    /// Whether an alias was expanded, which is what a blown budget usually means.
    aliased: bool,
    documents: usize,
    root: Option<Node>,
    errors: Vec<Diagnostic>,
}

impl<'t> Builder<'t> {
    fn new(text: &'t str) -> Self {
        Self {
            text,
            offsets: Offsets::new(text),
            stack: Vec::new(),
            anchors: HashMap::new(),
            nodes: 0,
            aliased: false,
            documents: 0,
            root: None,
            errors: Vec::new(),
        }
    }

    /// Feeds every event through; returns whether a fatal error stopped it.
    fn run(&mut self) -> bool {
        let mut parser = Parser::new_from_str(self.text);
        loop {
            let (event, span) = match parser.next_event() {
                None => return false,
                Some(Err(error)) => {
                    let diagnostic = self.syntax_error(&error);
                    self.errors.push(diagnostic);
                    return true;
                }
                Some(Ok(pair)) => pair,
            };
            let span = self.offsets.span(span);
            let step = match event {
                Event::Nothing | Event::StreamStart | Event::DocumentEnd => Ok(()),
                Event::StreamEnd => return false,
                Event::DocumentStart(_) => {
                    self.documents += 1;
                    if self.documents > 1 {
                        self.errors.push(
                            Diagnostic::new(Kind::MultipleDocuments, span)
                                .with_label("a second document starts here"),
                        );
                        return false;
                    }
                    Ok(())
                }
                Event::Scalar(value, style, anchor, tag) => {
                    let node = Node {
                        kind: NodeKind::Scalar(Scalar {
                            text: value.into_owned(),
                            style: style_of(style),
                        }),
                        span,
                        tag: tag.map(|t| Tag {
                            handle: t.handle.clone(),
                            suffix: t.suffix.clone(),
                        }),
                    };
                    self.count(1, span).map(|()| self.finish(node, anchor))
                }
                Event::SequenceStart(anchor, tag) => self.open(span, |start| Frame::Seq {
                    start,
                    anchor,
                    tag: tag.map(|t| Tag {
                        handle: t.handle.clone(),
                        suffix: t.suffix.clone(),
                    }),
                    items: Vec::new(),
                }),
                Event::MappingStart(anchor, tag) => self.open(span, |start| Frame::Map {
                    start,
                    anchor,
                    tag: tag.map(|t| Tag {
                        handle: t.handle.clone(),
                        suffix: t.suffix.clone(),
                    }),
                    entries: Vec::new(),
                    key: None,
                    skip_value: false,
                    seen: HashMap::new(),
                }),
                Event::SequenceEnd | Event::MappingEnd => {
                    self.close(span);
                    Ok(())
                }
                Event::Alias(id) => self.alias(id, span),
            };
            if step.is_err() {
                return true;
            }
        }
    }

    /// Counts `n` new nodes against the budget.
    fn count(&mut self, n: usize, span: SourceSpan) -> Result<(), ()> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > MAX_NODES {
            let kind = if self.aliased {
                Kind::AliasBudget { limit: MAX_NODES }
            } else {
                Kind::TooManyNodes { limit: MAX_NODES }
            };
            self.errors
                .push(Diagnostic::new(kind, span).with_label("the budget runs out here"));
            return Err(());
        }
        Ok(())
    }

    fn open(&mut self, span: SourceSpan, frame: impl FnOnce(usize) -> Frame) -> Result<(), ()> {
        if self.stack.len() >= MAX_DEPTH {
            self.errors.push(
                Diagnostic::new(Kind::TooDeep { limit: MAX_DEPTH }, span)
                    .with_label("too deep here"),
            );
            return Err(());
        }
        self.count(1, span)?;
        self.stack.push(frame(span.offset()));
        Ok(())
    }

    fn close(&mut self, end_span: SourceSpan) {
        // The parser balances collection events; an unbalanced end is ignored, not a panic.
        let Some(frame) = self.stack.pop() else {
            return;
        };
        let (start, anchor, tag, kind) = match frame {
            Frame::Seq {
                start,
                anchor,
                tag,
                items,
            } => (start, anchor, tag, NodeKind::Seq(items)),
            Frame::Map {
                start,
                anchor,
                tag,
                entries,
                ..
            } => (start, anchor, tag, NodeKind::Map(entries)),
        };
        // A flow collection ends with its bracket; a block one where its last child ends.
        let end = if end_span.is_empty() {
            let last = match &kind {
                NodeKind::Seq(items) => items.last().map(|n| n.span),
                NodeKind::Map(entries) => entries.last().map(|(_, v)| v.span),
                NodeKind::Scalar(_) => None,
            };
            last.map_or(start, |s| s.offset() + s.len())
        } else {
            end_span.offset() + end_span.len()
        }
        .max(start);
        let node = Node {
            kind,
            span: SourceSpan::from((start, end - start)),
            tag,
        };
        self.finish(node, anchor);
    }

    fn alias(&mut self, id: usize, span: SourceSpan) -> Result<(), ()> {
        let Some(target) = self.anchors.get(&id) else {
            let name = self.text[span.offset()..span.offset() + span.len()]
                .trim_start_matches('*')
                .to_owned();
            self.errors.push(
                Diagnostic::new(Kind::RecursiveAlias { name }, span)
                    .with_label("used inside its own anchor"),
            );
            return Err(());
        };
        let size = target.size();
        let mut node = target.clone();
        node.span = span;
        self.aliased = true;
        self.count(size, span)?;
        self.finish(node, 0);
        Ok(())
    }

    /// Places a completed node into its parent (or makes it the root).
    fn finish(&mut self, node: Node, anchor: usize) {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        let Some(parent) = self.stack.last_mut() else {
            self.root = Some(node);
            return;
        };
        match parent {
            Frame::Seq { items, .. } => items.push(node),
            Frame::Map {
                entries,
                key,
                skip_value,
                seen,
                ..
            } => match key.take() {
                None => {
                    if let Some(scalar) = node.as_scalar() {
                        let merge_tag = node.tag.as_ref().and_then(Tag::core) == Some("merge");
                        if (scalar.style == ScalarStyle::Plain
                            && scalar.text == "<<"
                            && node.tag.is_none())
                            || merge_tag
                        {
                            self.errors.push(
                                Diagnostic::new(Kind::MergeKey, node.span).with_label("merge key"),
                            );
                            *skip_value = true;
                        } else if let Some(first) = seen.get(&scalar.text) {
                            self.errors.push(
                                Diagnostic::new(
                                    Kind::DuplicateKey {
                                        key: scalar.text.clone(),
                                    },
                                    node.span,
                                )
                                .with_label("defined again here")
                                .with_related(*first, "first defined here")
                                .with_help("remove one of them; YAML keeps neither silently"),
                            );
                            *skip_value = true;
                        } else {
                            seen.insert(scalar.text.clone(), node.span);
                        }
                    }
                    *key = Some(node);
                }
                Some(k) => {
                    if !std::mem::take(skip_value) {
                        entries.push((k, node));
                    }
                }
            },
        }
    }

    fn syntax_error(&self, error: &ScanError) -> Diagnostic {
        let text = self.text;
        let at = self.offsets.byte(error.marker().index());
        let info = error.info();
        if let Some(tab) = blamed_tab(text, at, info) {
            return Diagnostic::new(Kind::Tab, (tab, 1)).with_label("tab");
        }
        let len = text[at..].chars().next().map_or(0, char::len_utf8);
        if info.contains("recursion limit exceeded") {
            // The parser's own depth limit, reached while it scans ahead of ours.
            return Diagnostic::new(Kind::TooDeep { limit: MAX_DEPTH }, (at, len))
                .with_label("too deep here");
        }
        let at_end = text[at..].trim().is_empty();
        let help = if info.contains("unexpected end of stream") || at_end {
            Some(
                "the file ends inside an unclosed quote, bracket or brace; is it truncated, or \
                 is a closing character missing?",
            )
        } else if info.contains("quoted scalar") {
            Some(
                "is a closing quote missing? A quoted string that continues on the next line \
                 must indent that line",
            )
        } else if info.contains("mapping values are not allowed") {
            Some(
                "`: ` inside a plain value starts a mapping; quote the value, or check the \
                 indentation of this line",
            )
        } else if info.contains("did not find expected key")
            || info.contains("did not find expected '-'")
            || info.contains("invalid indentation")
        {
            Some(
                "check the indentation of this line: the keys of one mapping, and the `-` of one \
                 sequence, start in the same column",
            )
        } else if info.contains("cannot start any token") || info.contains("unexpected character") {
            Some("quote the value; `@` and `` ` `` cannot start a plain YAML value")
        } else if info.contains("simple key expect") {
            Some(
                "a key without `?` ends with `: ` on its line and is at most 1024 characters \
                 long; is the `:` missing, or is the key too long?",
            )
        } else if info.contains("unknown anchor") {
            Some("define the anchor (`&name`) before using the alias (`*name`)")
        } else {
            None
        };
        let diagnostic = Diagnostic::new(
            Kind::Syntax {
                message: info.to_owned(),
            },
            (at, len),
        )
        .with_label("here");
        match help {
            Some(help) => diagnostic.with_help(help),
            None => diagnostic,
        }
    }
}

fn style_of(style: saphyr_parser::ScalarStyle) -> ScalarStyle {
    match style {
        saphyr_parser::ScalarStyle::Plain => ScalarStyle::Plain,
        saphyr_parser::ScalarStyle::SingleQuoted => ScalarStyle::SingleQuoted,
        saphyr_parser::ScalarStyle::DoubleQuoted => ScalarStyle::DoubleQuoted,
        saphyr_parser::ScalarStyle::Literal => ScalarStyle::Literal,
        saphyr_parser::ScalarStyle::Folded => ScalarStyle::Folded,
    }
}

/// Deserializes a whole file into `T` through serde, with every error placed on its node.
///
/// Plain scalars are typed with the YAML 1.2 core schema only when `T` asks for a bool, number
/// or unit; a `String` field gets the source text (`3.10` stays `3.10`). YAML 1.1 words
/// (`yes`, `no`, `on`, `off`, ...) where a bool is expected are errors with a help line.
/// `deny_unknown_fields` errors point at the key and suggest the nearest field. Serde stops at
/// its first error, so this reports YAML problems (all of them) plus at most one type error.
pub fn from_str<T: serde::de::DeserializeOwned>(path: &Path, text: &str) -> Result<T, Diagnostics> {
    // Spans count from after a byte-order mark, as every renderer expects.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut diagnostics = Diagnostics::new(path, Arc::from(text));
    let parsed = parse(text);
    diagnostics.errors.extend(parsed.errors);
    let Some(root) = parsed.root else {
        return Err(diagnostics);
    };
    match T::deserialize(de::NodeDeserializer::new(&root)) {
        Ok(value) if diagnostics.is_empty() => Ok(value),
        Ok(_) => Err(diagnostics),
        Err(error) => {
            diagnostics.push(error.into_diagnostic(root.span));
            Err(diagnostics)
        }
    }
}

/// Maps `range`, a byte range inside the value of the scalar written at `span` in `source`,
/// back to a span in `source`, so an error found in a scalar's value (a Tera error in a script)
/// can be labelled where the user wrote it.
///
/// Exact for single-line plain scalars and literal (`|`) blocks; approximate, but never out of
/// the scalar's span, for multi-line plain, quoted (escapes and line folding) and folded (`>`)
/// scalars. When no scalar was written at `span` (the text came from a `script_file`), the
/// whole `span` is returned.
pub fn value_span(source: &str, span: SourceSpan, range: Range<usize>) -> SourceSpan {
    ValueSpans::new(source).span(span, range)
}

/// [`value_span`] for many ranges in one file, which is parsed once.
pub struct ValueSpans<'a> {
    source: &'a str,
    root: Option<Node>,
}

impl<'a> ValueSpans<'a> {
    /// Parses `source` for later lookups.
    pub fn new(source: &'a str) -> Self {
        Self {
            source,
            root: parse(source).root,
        }
    }

    /// See [`value_span`].
    pub fn span(&self, span: SourceSpan, range: Range<usize>) -> SourceSpan {
        match self.root.as_ref().and_then(|root| find_scalar(root, span)) {
            Some(scalar) => scalar.source_span(self.source, span, range),
            None => span,
        }
    }
}

fn find_scalar(node: &Node, span: SourceSpan) -> Option<&Scalar> {
    match &node.kind {
        NodeKind::Scalar(s) => (node.span == span).then_some(s),
        NodeKind::Seq(items) => items.iter().find_map(|n| find_scalar(n, span)),
        NodeKind::Map(entries) => entries
            .iter()
            .find_map(|(k, v)| find_scalar(k, span).or_else(|| find_scalar(v, span))),
    }
}

impl Scalar {
    /// Maps `range` inside [`Scalar::text`] to a span in `source`, for this scalar written at
    /// `span`; see [`value_span`] for how exact it is.
    pub fn source_span(&self, source: &str, span: SourceSpan, range: Range<usize>) -> SourceSpan {
        let lo = floor_boundary(source, span.offset());
        let hi = floor_boundary(source, span.offset() + span.len()).max(lo);
        let start = floor_boundary(&self.text, range.start);
        let end = floor_boundary(&self.text, range.end).max(start);
        let map = |offset: usize| self.source_offset(source, lo, hi, offset).clamp(lo, hi);
        let from = map(start);
        let to = if end == start {
            from
        } else {
            // Map the last character, then take its whole source width.
            let last = self.text[..end]
                .char_indices()
                .next_back()
                .map_or(start, |(i, _)| i.max(start));
            let at = map(last);
            (at + source[at..].chars().next().map_or(0, char::len_utf8)).min(hi)
        };
        SourceSpan::from((from, to.max(from) - from))
    }

    /// The source offset of value byte `offset`, for a scalar whose span is `lo..hi`.
    fn source_offset(&self, source: &str, lo: usize, hi: usize, offset: usize) -> usize {
        let slice = &source[lo..hi];
        match self.style {
            ScalarStyle::Plain if !slice.contains('\n') && slice.ends_with(&self.text) => {
                hi - self.text.len() + offset
            }
            ScalarStyle::Literal => self.literal_offset(source, lo, hi, offset),
            ScalarStyle::Plain => {
                let content = slice
                    .find(self.text.lines().next().unwrap_or(""))
                    .unwrap_or(0);
                self.greedy_offset(source, lo + content, hi, offset)
            }
            ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => {
                let quote = if self.style == ScalarStyle::SingleQuoted {
                    '\''
                } else {
                    '"'
                };
                let content = slice.find(quote).map_or(0, |i| i + 1);
                self.greedy_offset(source, lo + content, hi, offset)
            }
            ScalarStyle::Folded => {
                let content = block_content_start(&self.text, slice);
                self.greedy_offset(source, lo + content, hi, offset)
            }
        }
    }

    /// Literal blocks: line `n` of the value is line `n` of the content with the block's
    /// indentation removed, so the mapping is exact.
    fn literal_offset(&self, source: &str, lo: usize, hi: usize, offset: usize) -> usize {
        let slice = &source[lo..hi];
        let content = lo + block_content_start(&self.text, slice);
        let line_start = source[..content].rfind('\n').map_or(0, |i| i + 1);
        let leading_newlines = self.text.len() - self.text.trim_start_matches('\n').len();
        let first_line = self.text[leading_newlines..].lines().next().unwrap_or("");
        let value_spaces = first_line.len() - first_line.trim_start_matches(' ').len();
        let source_spaces = content - line_start;
        let indent = source_spaces.saturating_sub(value_spaces);
        let mut s = line_start + indent.min(source_spaces);
        if offset < leading_newlines {
            return s;
        }
        let bytes = source.as_bytes();
        for ch in self.text[leading_newlines..offset.max(leading_newlines)].chars() {
            if s >= hi {
                break;
            }
            if ch == '\n' {
                s = source[s..hi].find('\n').map_or(hi, |i| s + i + 1);
                let mut skipped = 0;
                while skipped < indent && s < hi && bytes[s] == b' ' {
                    s += 1;
                    skipped += 1;
                }
            } else {
                s += source[s..].chars().next().map_or(1, char::len_utf8);
            }
        }
        s
    }

    /// Walks value and source together, skipping source characters that the value does not
    /// show (quotes' escapes, folded line breaks, indentation).
    fn greedy_offset(&self, source: &str, content: usize, hi: usize, offset: usize) -> usize {
        let mut s = content;
        let double = self.style == ScalarStyle::DoubleQuoted;
        let single = self.style == ScalarStyle::SingleQuoted;
        for ch in self.text[..offset].chars() {
            loop {
                let Some(sc) = source[s.min(hi)..hi].chars().next() else {
                    return hi;
                };
                if double && sc == '\\' {
                    let next = source[s + 1..hi].chars().next();
                    if matches!(next, Some('\n' | '\r')) {
                        // An escaped line break: skip it and the next line's indentation.
                        s = source[s..hi].find('\n').map_or(hi, |i| s + i + 1);
                        s += source[s..hi].len()
                            - source[s..hi].trim_start_matches([' ', '\t']).len();
                        continue;
                    }
                    let width = match next {
                        Some('x') => 4,
                        Some('u') => 6,
                        Some('U') => 10,
                        _ => 2,
                    };
                    s = (s + width).min(hi);
                    break;
                }
                if single && sc == '\'' && source[s + 1..hi].starts_with('\'') {
                    s += 2;
                    break;
                }
                if sc == ch || (matches!(ch, ' ' | '\n') && matches!(sc, '\n' | '\r')) {
                    if sc == '\r' && source[s + 1..hi].starts_with('\n') {
                        s += 1;
                    }
                    s += sc.len_utf8();
                    break;
                }
                s += sc.len_utf8();
            }
        }
        // Land on the next character the value shows, not on skipped indentation.
        if let Some(next) = self.text[offset..].chars().next()
            && !next.is_whitespace()
        {
            {
                while let Some(sc) = source[s.min(hi)..hi].chars().next() {
                    if sc == next || !(sc.is_whitespace()) {
                        break;
                    }
                    s += sc.len_utf8();
                }
            }
        }
        s.min(hi)
    }
}

/// The largest character boundary of `text` at or before `i` (and at most its length).
fn floor_boundary(text: &str, i: usize) -> usize {
    let mut i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Where a block scalar's first content line starts within its span's text `slice`: the span
/// starts at the content, unless an anchor or tag put the header (`&x |`) inside it.
fn block_content_start(value: &str, slice: &str) -> usize {
    let first = value.trim_start_matches('\n').lines().next().unwrap_or("");
    let first = first.trim_start_matches(' ');
    let body = slice.trim_start_matches(' ');
    let source_first = body.lines().next().unwrap_or("");
    // A folded block joins lines, so its first value line may be longer than the source's.
    if !source_first.is_empty() && first.starts_with(source_first) {
        return slice.len() - body.len();
    }
    let Some(header_end) = slice.find('\n') else {
        return 0;
    };
    let mut at = header_end + 1;
    // Skip blank lines, then the indentation of the first content line.
    loop {
        let rest = &slice[at..];
        let line_end = rest.find('\n').map_or(rest.len(), |i| i + 1);
        let line = &rest[..line_end];
        if line.trim().is_empty() && line.ends_with('\n') {
            at += line_end;
            continue;
        }
        return at + (line.len() - line.trim_start_matches(' ').len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runbook::diagnostic::line_col;

    /// The tree as a compact string: scalars as `text@start..end`, `[...]`, `{k: v}`.
    fn shape(node: &Node) -> String {
        let span = format!(
            "@{}..{}",
            node.span.offset(),
            node.span.offset() + node.span.len()
        );
        match &node.kind {
            NodeKind::Scalar(s) => format!("{:?}{span}", s.text),
            NodeKind::Seq(items) => {
                let inner: Vec<String> = items.iter().map(shape).collect();
                format!("[{}]{span}", inner.join(", "))
            }
            NodeKind::Map(entries) => {
                let inner: Vec<String> = entries
                    .iter()
                    .map(|(k, v)| format!("{}: {}", shape(k), shape(v)))
                    .collect();
                format!("{{{}}}{span}", inner.join(", "))
            }
        }
    }

    /// `line:col: message` of every problem.
    fn problems(text: &str) -> Vec<String> {
        parse(text)
            .errors
            .iter()
            .map(|d| {
                let (line, col) = line_col(text, d.span().map_or(0, |s| s.offset()));
                format!("{line}:{col}: {}", d.kind())
            })
            .collect()
    }

    #[test]
    fn trees_with_byte_spans() {
        let table: &[(&str, &str)] = &[
            ("a: 1\n", r#"{"a"@0..1: "1"@3..4}@0..4"#),
            ("- x\n- y\n", r#"["x"@2..3, "y"@6..7]@0..7"#),
            (
                "[1, {b: c}]",
                r#"["1"@1..2, {"b"@5..6: "c"@8..9}@4..10]@0..11"#,
            ),
            ("k: 'it''s'\n", r#"{"k"@0..1: "it's"@3..10}@0..10"#),
            ("k: |\n  a\n  b\n", r#"{"k"@0..1: "a\nb\n"@7..13}@0..13"#),
            ("k:\n", r#"{"k"@0..1: ""@1..1}@0..1"#),
            ("", r#"""@0..0"#),
            // Spans are bytes even after multi-byte characters (saphyr counts characters).
            (
                "é: ü\nb: c\n",
                r#"{"é"@0..2: "ü"@4..6, "b"@7..8: "c"@10..11}@0..11"#,
            ),
            ("\u{feff}a: 1\n", r#"{"a"@3..4: "1"@6..7}@3..7"#),
            (
                "a: 1\r\nb: 2\r\n",
                r#"{"a"@0..1: "1"@3..4, "b"@6..7: "2"@9..10}@0..10"#,
            ),
            (
                "a: &x [1]\nb: *x\n",
                r#"{"a"@0..1: ["1"@7..8]@3..9, "b"@10..11: ["1"@7..8]@13..15}@0..15"#,
            ),
            ("--- \na: 1\n...\n", r#"{"a"@5..6: "1"@8..9}@5..9"#),
        ];
        for (text, expected) in table {
            let parsed = parse(text);
            assert!(parsed.errors.is_empty(), "{text:?}: {:?}", parsed.errors);
            assert_eq!(shape(&parsed.root.expect("a root")), *expected, "{text:?}");
        }
    }

    #[test]
    fn scalars_keep_source_text_and_style() {
        let parsed = parse("a: 3.10\nb: \"x\\ty\"\nc: >-\n  f\n  g\nd: !!str 5\ne: 0755\n");
        let root = parsed.root.expect("a root");
        let get = |k: &str| root.get(k).expect(k);
        assert_eq!(get("a").as_str(), Some("3.10"));
        assert_eq!(get("a").resolve(), Some(Resolved::Float(3.1)));
        assert_eq!(get("b").as_str(), Some("x\ty"));
        assert_eq!(
            get("b").as_scalar().map(|s| s.style),
            Some(ScalarStyle::DoubleQuoted)
        );
        assert_eq!(get("c").as_str(), Some("f g"));
        assert_eq!(
            get("c").as_scalar().map(|s| s.style),
            Some(ScalarStyle::Folded)
        );
        assert_eq!(get("d").resolve(), Some(Resolved::Str("5")));
        assert_eq!(
            get("d").tag.as_ref().map(ToString::to_string).as_deref(),
            Some("!!str")
        );
        assert_eq!(get("e").as_str(), Some("0755"));
    }

    #[test]
    fn core_schema() {
        let table: &[(&str, Resolved<'_>)] = &[
            ("", Resolved::Null),
            ("~", Resolved::Null),
            ("null", Resolved::Null),
            ("NULL", Resolved::Null),
            ("true", Resolved::Bool(true)),
            ("False", Resolved::Bool(false)),
            ("yes", Resolved::Str("yes")),
            ("NO", Resolved::Str("NO")),
            ("on", Resolved::Str("on")),
            ("0", Resolved::Int(0)),
            ("-12", Resolved::Int(-12)),
            ("+7", Resolved::Int(7)),
            ("0755", Resolved::Int(755)),
            ("0x1F", Resolved::Int(31)),
            ("0o17", Resolved::Int(15)),
            ("0x", Resolved::Str("0x")),
            ("1.20", Resolved::Float(1.2)),
            (".5", Resolved::Float(0.5)),
            ("1e3", Resolved::Float(1000.0)),
            ("1_000", Resolved::Str("1_000")),
            ("1.2.3", Resolved::Str("1.2.3")),
            ("-.inf", Resolved::Float(f64::NEG_INFINITY)),
            ("10m", Resolved::Str("10m")),
            (".", Resolved::Str(".")),
        ];
        for (text, expected) in table {
            assert_eq!(resolve_plain(text), *expected, "{text:?}");
        }
        assert!(matches!(resolve_plain(".nan"), Resolved::Float(f) if f.is_nan()));
    }

    #[test]
    fn yaml_problems() {
        let bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n\
                    b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n\
                    c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n\
                    d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n\
                    e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n\
                    f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n\
                    g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n";
        let deep = format!("{}{}", "[".repeat(70), "]".repeat(70));
        let table: &[(&str, &[&str])] = &[
            ("a: 1\na: 2\n", &["2:1: duplicate key `a`"]),
            (
                "a: 1\nb:\n  c: 1\n  c: 2\na: 3\n",
                &["4:3: duplicate key `c`", "5:1: duplicate key `a`"],
            ),
            (
                "<<: {a: 1}\nb: 2\n",
                &["1:1: merge keys (`<<`) are not supported"],
            ),
            (
                "a: 1\n---\nb: 2\n",
                &["2:1: the file holds more than one YAML document"],
            ),
            (
                "a:\n\tb: 1\n",
                &["2:1: invalid YAML: tab character in indentation"],
            ),
            (
                "a: [1, 2\n",
                &["2:1: invalid YAML: while parsing a flow sequence, expected ',' or ']'"],
            ),
            (
                "a: \"abc\n",
                &[
                    "1:4: invalid YAML: while scanning a quoted scalar, found unexpected end of stream",
                ],
            ),
            (
                "a: &x [*x]\n",
                &["1:8: alias `*x` refers to a node that contains it"],
            ),
            (bomb, &["6:36: aliases expand to more than 1000000 nodes"]),
            (
                "a: \"x\u{7}\"\nb: \u{1}\n",
                &["1:6: the file contains the unprintable character U+0007"],
            ),
            ("a: \u{85}x\n", &[]),
            (
                "!!merge <<: {a: 1}\n",
                &["1:1: merge keys (`<<`) are not supported"],
            ),
            (
                "\tversion: 1\nname: demo\n",
                &["1:1: invalid YAML: tab character in indentation"],
            ),
            (&deep, &["1:65: nesting is deeper than 64 levels"]),
        ];
        for (text, expected) in table {
            assert_eq!(problems(text), *expected, "{text:?}");
        }
        // Non-fatal problems still give a tree, with the first occurrence kept.
        let parsed = parse("a: 1\na: 2\n<<: {x: 1}\nb: 3\n");
        let root = parsed.root.expect("a root");
        assert_eq!(root.get("a").and_then(Node::as_str), Some("1"));
        assert_eq!(root.as_map().map(<[_]>::len), Some(2));
        // A quoted "<<" is an ordinary key.
        assert!(parse("\"<<\": 1\n").errors.is_empty());
    }

    #[test]
    fn value_offsets_map_back_to_source() {
        // (source, a piece of the value that must map back to the same text)
        let table: &[(&str, &str)] = &[
            ("s: echo {{ x }}\n", "{{ x }}"),
            ("s: |\n  a\n  b {{ y }}\n", "{{ y }}"),
            ("s: |\n    a\n      b {{ y }}\n", "{{ y }}"),
            ("s: |\n\n  a\n  {{ y }}\n", "{{ y }}"),
            ("s: &k |\n  a\n  {{ z }}\n", "{{ z }}"),
            ("s: |\r\n  a\r\n  {{ z }}\r\n", "{{ z }}"),
            ("s: |\n  é\n  {{ z }}\n", "{{ z }}"),
            ("s: \"a\\tb {{ q }}\"\n", "{{ q }}"),
            ("s: \"a\\u00e9 {{ q }}\"\n", "{{ q }}"),
            ("s: 'it''s {{ q }}'\n", "{{ q }}"),
            ("s: >\n  a\n  b {{ f }}\n", "{{ f }}"),
            ("s: one\n  two {{ p }}\n", "{{ p }}"),
        ];
        for (text, piece) in table {
            let root = parse(text).root.expect("a root");
            let value = root.get("s").expect("s");
            let scalar = value.as_scalar().expect("a scalar");
            let start = scalar.text.find(piece).expect("the piece is in the value");
            let range = start..start + piece.len();
            let span = value_span(text, value.span, range.clone());
            let got = &text[span.offset()..span.offset() + span.len()];
            assert_eq!(got, *piece, "{text:?}");
            assert_eq!(scalar.source_span(text, value.span, range), span);
        }
        // Exact offsets for a literal block: `{{` of line 2 is at byte 11.
        let text = "s: |\n  a\n  {{ z }}\n";
        let value = parse(text)
            .root
            .expect("a root")
            .get("s")
            .cloned()
            .expect("s");
        assert_eq!(
            value_span(text, value.span, 2..4),
            SourceSpan::from((11, 2))
        );
    }

    proptest::proptest! {
        /// Mapping any range of any scalar's value never panics and stays inside its span.
        #[test]
        fn value_spans_stay_inside_the_scalar(
            body in "[a-z é{}\\\\'\"\n]{0,30}",
            style in 0usize..5,
            from in 0usize..40,
            len in 0usize..40,
        ) {
            let indented = body.replace('\n', "\n  ");
            let text = match style {
                0 => format!("s: x{}\n", body.replace(['\n', '\'', '"', '{', '}'], " ")),
                1 => format!("s: '{}'\n", indented.replace('\'', "''")),
                2 => format!("s: \"{}\"\n", indented.replace('\\', "\\\\").replace('"', "\\\"")),
                3 => format!("s: |\n  {indented}\n"),
                _ => format!("s: >\n  {indented}\n"),
            };
            let Some(root) = parse(&text).root else { return Ok(()) };
            let Some(value) = root.get("s") else { return Ok(()) };
            let Some(scalar) = value.as_scalar() else { return Ok(()) };
            let span = scalar.source_span(&text, value.span, from..from + len);
            proptest::prop_assert!(span.offset() >= value.span.offset());
            proptest::prop_assert!(span.offset() + span.len() <= value.span.offset() + value.span.len());
        }
    }

    #[derive(Debug, serde::Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Fleet {
        instances: Vec<Instance>,
        #[serde(default)]
        note: Option<String>,
    }

    #[derive(Debug, serde::Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Instance {
        id: String,
        #[serde(default)]
        running: bool,
        #[serde(default)]
        exit_code: Option<i32>,
        #[serde(default)]
        os: Os,
        #[serde(default)]
        ratio: f64,
        #[serde(default)]
        tags: std::collections::BTreeMap<String, String>,
    }

    #[derive(Debug, serde::Deserialize, PartialEq, Default)]
    #[serde(rename_all = "lowercase")]
    enum Os {
        #[default]
        Linux,
        Windows,
    }

    /// `line:col: message` of the serde bridge's problems.
    fn serde_problems(text: &str) -> Vec<String> {
        match from_str::<Fleet>(Path::new("fleet.yaml"), text) {
            Ok(_) => Vec::new(),
            Err(all) => all
                .records()
                .iter()
                .map(|r| {
                    format!(
                        "{}:{}: {}",
                        r.line.unwrap_or(0),
                        r.column.unwrap_or(0),
                        r.message
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn serde_bridge() {
        let fleet: Fleet = from_str(
            Path::new("fleet.yaml"),
            "instances:\n  - id: 0755\n    running: true\n    exit_code: -1\n    os: windows\n    \
             ratio: 3.10\n    tags: {version: 1.20, build: 0x1F}\n",
        )
        .expect("a valid fleet");
        let instance = &fleet.instances[0];
        assert_eq!(instance.id, "0755");
        assert!(instance.running);
        assert_eq!(instance.exit_code, Some(-1));
        assert_eq!(instance.os, Os::Windows);
        assert!((instance.ratio - 3.1).abs() < f64::EPSILON);
        assert_eq!(instance.tags["version"], "1.20");
        assert_eq!(instance.tags["build"], "0x1F");
        assert_eq!(fleet.note, None);

        let table: &[(&str, &str)] = &[
            (
                "instances:\n  - id: a\n    runing: true\n",
                "3:5: unknown key `runing` in `instances[0]`",
            ),
            (
                "instances:\n  - id: a\n    running: yes\n",
                "3:14: `instances[0].running` must be `true` or `false`, found `yes`",
            ),
            (
                "instances:\n  - id: a\n    exit_code: 3000000000\n",
                "3:16: `instances[0].exit_code` must be from -2147483648 to 2147483647, found 3000000000",
            ),
            (
                "instances:\n  - id: a\n    exit_code: '1'\n",
                "3:16: `instances[0].exit_code` must be an integer, found `1`",
            ),
            (
                "instances:\n  - running: true\n",
                "2:5: `instances[0]` is missing `id`",
            ),
            (
                "instances:\n  - id: a\n    os: windos\n",
                "3:9: `instances[0].os` must be one of `linux` or `windows`, found `windos`",
            ),
            ("instance: []\n", "1:1: unknown key `instance` in the file"),
            (
                "instances: {}\n",
                "1:12: `instances` must be a sequence, found a mapping",
            ),
            (
                "instances: []\ninstances: []\n",
                "2:1: duplicate key `instances`",
            ),
            ("- a\n", "1:1: the file must be a mapping, found a sequence"),
        ];
        for (text, expected) in table {
            assert_eq!(serde_problems(text), [*expected], "{text:?}");
        }
        let all = from_str::<Fleet>(
            Path::new("f.yaml"),
            "instances:\n  - id: a\n    runing: 1\n",
        )
        .expect_err("unknown field");
        assert_eq!(all.errors[0].help_text(), Some("did you mean `running`?"));
        let all = from_str::<Fleet>(Path::new("f.yaml"), "instances:\n  - id: a\n    on: yes\n")
            .expect_err("yaml 1.1 word");
        assert_eq!(all.errors[0].kind().code(), "runbook::unknown-key");
    }

    #[test]
    fn empty_stream_is_a_null_root() {
        let parsed = parse("# only a comment\n");
        assert!(parsed.errors.is_empty());
        assert!(parsed.root.expect("a root").is_null());
    }
}
