//! The serde `Deserializer` over a [`Node`] tree, behind [`super::from_str`].
//!
//! It owns typing for serde targets: plain scalars become bools, numbers or unit only when the
//! target asks for them (YAML 1.2 core schema), every error carries the span of the node it is
//! about, and unknown fields and variants get a "did you mean". It leaves the runbook itself to
//! `load`, which does not use serde.

use std::fmt;

use miette::SourceSpan;
use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};

use super::{Node, NodeKind, Resolved, ScalarStyle, YAML11_BOOLS};
use crate::runbook::diagnostic::{Diagnostic, Kind};
use crate::suggest;

/// The subject or context of an error raised inside serde, which cannot know where it is; it
/// is replaced by the node's path (`` `instances[2].os` ``) when the error leaves serde.
const PATH: &str = "\u{0}path";

/// A deserialization error, placed on a node as it bubbles out.
#[derive(Debug)]
pub(crate) struct Error(Box<Inner>);

/// The fields of an [`Error`], boxed so results stay small.
#[derive(Debug)]
struct Inner {
    kind: Kind,
    span: Option<SourceSpan>,
    help: Option<String>,
    /// Keys and indices from the node the error is about up to the root, innermost first.
    path: Vec<String>,
}

impl Error {
    fn new(kind: Kind) -> Self {
        Self(Box::new(Inner {
            kind,
            span: None,
            help: None,
            path: Vec::new(),
        }))
    }

    /// Records that the error happened under mapping key `key`.
    fn under_key(mut self, key: &Node) -> Self {
        self.0.path.push(key.as_str().unwrap_or("?").to_owned());
        self
    }

    /// Records that the error happened in item `index` of a sequence.
    fn under_index(mut self, index: usize) -> Self {
        self.0.path.push(format!("[{index}]"));
        self
    }

    /// The path as written in messages: `` `instances[2].os` ``, or "the file" at the root.
    fn path_text(&self) -> String {
        if self.0.path.is_empty() {
            return "the file".to_owned();
        }
        let mut text = String::new();
        for segment in self.0.path.iter().rev() {
            if !segment.starts_with('[') && !text.is_empty() {
                text.push('.');
            }
            text.push_str(segment);
        }
        format!("`{text}`")
    }

    /// Sets the span unless a deeper node already did.
    fn at(mut self, span: SourceSpan) -> Self {
        self.0.span.get_or_insert(span);
        self
    }

    /// The diagnostic, placed at `fallback` when no node claimed the error.
    pub(crate) fn into_diagnostic(self, fallback: SourceSpan) -> Diagnostic {
        let path = self.path_text();
        let Inner {
            kind,
            span,
            help,
            path: segments,
        } = *self.0;
        let kind = match kind {
            Kind::WrongType {
                subject,
                expected,
                found,
            } if subject == PATH => Kind::WrongType {
                subject: path,
                expected,
                found,
            },
            Kind::Yaml11Bool { subject, word } if subject == PATH => Kind::Yaml11Bool {
                subject: path,
                word,
            },
            Kind::OutOfRange {
                subject,
                min,
                max,
                found,
            } if subject == PATH => Kind::OutOfRange {
                subject: path,
                min,
                max,
                found,
            },
            Kind::UnknownKey { key, context } if context == PATH => {
                // The path ends with the unknown key itself; its context is the parent.
                let parent = Self::new(Kind::EmptyFile);
                let parent = Self(Box::new(Inner {
                    path: segments[1..].to_vec(),
                    ..*parent.0
                }));
                Kind::UnknownKey {
                    key,
                    context: parent.path_text(),
                }
            }
            Kind::MissingKey { key, context } if context == PATH => {
                Kind::MissingKey { key, context: path }
            }
            other => other,
        };
        Diagnostic::new(kind, span.unwrap_or(fallback)).with_help_opt(help)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.kind.fmt(f)
    }
}

impl std::error::Error for Error {}

/// How serde's `Unexpected` reads in our messages.
fn found(unexpected: &de::Unexpected<'_>) -> String {
    match unexpected {
        de::Unexpected::Str(s) => format!("`{s}`"),
        de::Unexpected::Bool(b) => format!("`{b}`"),
        de::Unexpected::Unsigned(n) => format!("`{n}`"),
        de::Unexpected::Signed(n) => format!("`{n}`"),
        de::Unexpected::Float(n) => format!("`{n}`"),
        de::Unexpected::Char(c) => format!("`{c}`"),
        de::Unexpected::Unit => "nothing".to_owned(),
        de::Unexpected::Seq => "a sequence".to_owned(),
        de::Unexpected::Map => "a mapping".to_owned(),
        other => other.to_string(),
    }
}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self::new(Kind::Custom {
            message: msg.to_string(),
        })
    }

    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        Self::new(Kind::WrongType {
            subject: PATH.to_owned(),
            expected: exp.to_string(),
            found: found(&unexp),
        })
    }

    fn invalid_value(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        Self::new(Kind::WrongType {
            subject: PATH.to_owned(),
            expected: exp.to_string(),
            found: found(&unexp),
        })
    }

    fn invalid_length(len: usize, exp: &dyn de::Expected) -> Self {
        Self::new(Kind::WrongType {
            subject: PATH.to_owned(),
            expected: exp.to_string(),
            found: crate::count::Count(len, "item").to_string(),
        })
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        let mut error = Self::new(Kind::WrongType {
            subject: PATH.to_owned(),
            expected: format!("one of {}", suggest::one_of(expected)),
            found: format!("`{variant}`"),
        });
        error.0.help = suggest::nearest(variant, expected.iter().copied())
            .map(|s| format!("did you mean `{s}`?"));
        error
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        let mut error = Self::new(Kind::UnknownKey {
            key: field.to_owned(),
            context: PATH.to_owned(),
        });
        error.0.help = Some(match suggest::nearest(field, expected.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("expected one of {}", suggest::one_of(expected)),
        });
        error
    }

    fn missing_field(field: &'static str) -> Self {
        Self::new(Kind::MissingKey {
            key: field.to_owned(),
            context: PATH.to_owned(),
        })
    }

    fn duplicate_field(field: &'static str) -> Self {
        Self::new(Kind::DuplicateKey {
            key: field.to_owned(),
        })
    }
}

/// Deserializes one node.
pub(crate) struct NodeDeserializer<'a> {
    node: &'a Node,
}

impl<'a> NodeDeserializer<'a> {
    pub(crate) fn new(node: &'a Node) -> Self {
        Self { node }
    }

    fn text(&self) -> Option<&'a str> {
        self.node.as_str()
    }

    fn wrong(&self, expected: &str) -> Error {
        Error::new(Kind::WrongType {
            subject: PATH.to_owned(),
            expected: expected.to_owned(),
            found: self.node.describe(),
        })
        .at(self.node.span)
    }

    fn integer(&self) -> Result<i128, Error> {
        match self.node.resolve() {
            Some(Resolved::Int(n)) => Ok(n),
            _ => Err(self.wrong("an integer")),
        }
    }
}

macro_rules! deserialize_int {
    ($($method:ident => $visit:ident as $ty:ty),* $(,)?) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                let n = self.integer()?;
                let value = <$ty>::try_from(n).map_err(|_| {
                    Error::new(Kind::OutOfRange {
                        subject: PATH.to_owned(),
                        min: i64::try_from(<$ty>::MIN).unwrap_or(i64::MIN),
                        max: i64::try_from(<$ty>::MAX).unwrap_or(i64::MAX),
                        found: n.to_string(),
                    })
                    .at(self.node.span)
                })?;
                visitor.$visit(value).map_err(|e: Error| e.at(self.node.span))
            }
        )*
    };
}

impl<'de> de::Deserializer<'de> for NodeDeserializer<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let span = self.node.span;
        let result = match &self.node.kind {
            NodeKind::Seq(items) => visitor.visit_seq(SeqAccess {
                items: items.iter().enumerate(),
            }),
            NodeKind::Map(entries) => visitor.visit_map(MapAccess {
                entries: entries.iter(),
                value: None,
            }),
            NodeKind::Scalar(_) => match self.node.resolve() {
                Some(Resolved::Null) => visitor.visit_unit(),
                Some(Resolved::Bool(b)) => visitor.visit_bool(b),
                Some(Resolved::Int(n)) => match (i64::try_from(n), u64::try_from(n)) {
                    (Ok(n), _) => visitor.visit_i64(n),
                    (_, Ok(n)) => visitor.visit_u64(n),
                    _ => visitor.visit_i128(n),
                },
                Some(Resolved::Float(f)) => visitor.visit_f64(f),
                Some(Resolved::Str(s)) => visitor.visit_str(s),
                None => unreachable!("a scalar always resolves"),
            },
        };
        result.map_err(|e: Error| e.at(span))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if let Some(Resolved::Bool(b)) = self.node.resolve() {
            return visitor
                .visit_bool(b)
                .map_err(|e: Error| e.at(self.node.span));
        }
        let word = self.text().unwrap_or_default();
        let plain = self
            .node
            .as_scalar()
            .is_some_and(|s| s.style == ScalarStyle::Plain);
        if plain && YAML11_BOOLS.contains(&word) {
            Err(Error::new(Kind::Yaml11Bool {
                subject: PATH.to_owned(),
                word: word.to_owned(),
            })
            .at(self.node.span))
        } else {
            Err(self.wrong("`true` or `false`"))
        }
    }

    deserialize_int! {
        deserialize_i8 => visit_i8 as i8,
        deserialize_i16 => visit_i16 as i16,
        deserialize_i32 => visit_i32 as i32,
        deserialize_i64 => visit_i64 as i64,
        deserialize_u8 => visit_u8 as u8,
        deserialize_u16 => visit_u16 as u16,
        deserialize_u32 => visit_u32 as u32,
        deserialize_u64 => visit_u64 as u64,
    }

    fn deserialize_i128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let n = self.integer()?;
        visitor
            .visit_i128(n)
            .map_err(|e: Error| e.at(self.node.span))
    }

    fn deserialize_u128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let n = self.integer()?;
        let n = u128::try_from(n).map_err(|_| self.wrong("a non-negative integer"))?;
        visitor
            .visit_u128(n)
            .map_err(|e: Error| e.at(self.node.span))
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let value = match self.node.resolve() {
            Some(Resolved::Float(f)) => f,
            #[expect(
                clippy::cast_precision_loss,
                reason = "YAML integers read as floats lose precision past 2^53, as in every YAML \
                          library"
            )]
            Some(Resolved::Int(n)) => n as f64,
            _ => return Err(self.wrong("a number")),
        };
        visitor
            .visit_f64(value)
            .map_err(|e: Error| e.at(self.node.span))
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.node.resolve() {
            Some(Resolved::Null) | None => Err(self.wrong("a string")),
            Some(_) => {
                let text = self.text().unwrap_or_default();
                visitor
                    .visit_str(text)
                    .map_err(|e: Error| e.at(self.node.span))
            }
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.node.is_null() {
            visitor
                .visit_none()
                .map_err(|e: Error| e.at(self.node.span))
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.node.is_null() {
            visitor
                .visit_unit()
                .map_err(|e: Error| e.at(self.node.span))
        } else {
            Err(self.wrong("nothing (null)"))
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        let span = self.node.span;
        visitor
            .visit_newtype_struct(self)
            .map_err(|e: Error| e.at(span))
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match &self.node.kind {
            NodeKind::Seq(items) => visitor
                .visit_seq(SeqAccess {
                    items: items.iter().enumerate(),
                })
                .map_err(|e: Error| e.at(self.node.span)),
            _ => Err(self.wrong("a sequence")),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match &self.node.kind {
            NodeKind::Map(entries) => visitor
                .visit_map(MapAccess {
                    entries: entries.iter(),
                    value: None,
                })
                .map_err(|e: Error| e.at(self.node.head_span())),
            _ => Err(self.wrong("a mapping")),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let span = self.node.span;
        match &self.node.kind {
            NodeKind::Scalar(_) if !self.node.is_null() => visitor
                .visit_enum(EnumAccess {
                    variant: self.node,
                    value: None,
                })
                .map_err(|e: Error| e.at(span)),
            NodeKind::Map(entries) if entries.len() == 1 => visitor
                .visit_enum(EnumAccess {
                    variant: &entries[0].0,
                    value: Some(&entries[0].1),
                })
                .map_err(|e: Error| e.at(span)),
            _ => Err(self.wrong("a variant name, or a mapping with one key")),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }
}

struct SeqAccess<'a> {
    items: std::iter::Enumerate<std::slice::Iter<'a, Node>>,
}

impl<'de> de::SeqAccess<'de> for SeqAccess<'_> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        match self.items.next() {
            None => Ok(None),
            Some((index, node)) => seed
                .deserialize(NodeDeserializer::new(node))
                .map(Some)
                .map_err(|e: Error| e.at(node.span).under_index(index)),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct MapAccess<'a> {
    entries: std::slice::Iter<'a, (Node, Node)>,
    value: Option<(&'a Node, &'a Node)>,
}

impl<'de> de::MapAccess<'de> for MapAccess<'_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.entries.next() {
            None => Ok(None),
            Some((key, value)) => {
                self.value = Some((key, value));
                seed.deserialize(NodeDeserializer::new(key))
                    .map(Some)
                    .map_err(|e: Error| e.at(key.span).under_key(key))
            }
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let (key, value) = self
            .value
            .take()
            .expect("serde asks for a value only after its key");
        seed.deserialize(NodeDeserializer::new(value))
            .map_err(|e: Error| e.at(value.span).under_key(key))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

struct EnumAccess<'a> {
    variant: &'a Node,
    value: Option<&'a Node>,
}

impl<'de, 'a> de::EnumAccess<'de> for EnumAccess<'a> {
    type Error = Error;
    type Variant = VariantAccess<'a>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Self::Variant), Error> {
        let value = seed
            .deserialize(NodeDeserializer::new(self.variant))
            .map_err(|e: Error| e.at(self.variant.span))?;
        Ok((
            value,
            VariantAccess {
                value: self.value,
                span: self.variant.span,
            },
        ))
    }
}

struct VariantAccess<'a> {
    value: Option<&'a Node>,
    span: SourceSpan,
}

impl<'de> de::VariantAccess<'de> for VariantAccess<'_> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        match self.value {
            None => Ok(()),
            Some(node) if node.is_null() => Ok(()),
            Some(node) => Err(NodeDeserializer::new(node).wrong("nothing (a unit variant)")),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        match self.value {
            Some(node) => seed.deserialize(NodeDeserializer::new(node)),
            None => Err(Error::new(Kind::WrongType {
                subject: PATH.to_owned(),
                expected: "a mapping with a value".to_owned(),
                found: "a name only".to_owned(),
            })
            .at(self.span)),
        }
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Some(node) => de::Deserializer::deserialize_seq(NodeDeserializer::new(node), visitor),
            None => Err(Error::new(Kind::WrongType {
                subject: PATH.to_owned(),
                expected: "a sequence".to_owned(),
                found: "a name only".to_owned(),
            })
            .at(self.span)),
        }
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.value {
            Some(node) => de::Deserializer::deserialize_map(NodeDeserializer::new(node), visitor),
            None => Err(Error::new(Kind::WrongType {
                subject: PATH.to_owned(),
                expected: "a mapping".to_owned(),
                found: "a name only".to_owned(),
            })
            .at(self.span)),
        }
    }
}

impl IntoDeserializer<'_, Error> for NodeDeserializer<'_> {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}
