//! The RPC parameter encoding: typed structs to and from flat `Name.N.Field` string maps.
//!
//! Every RPC parameter travels as a string. Lists are flattened to `Name.1`, `Name.2` (1-based)
//! and lists of objects to `Name.1.Key` (reference §2.1). The client serialises request structs
//! with [`to_params`]; the sandbox parses them back with [`from_params`]. Signing and HTTP are
//! left to `sign` and `transport`.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};
use serde::{Serialize, forward_to_deserialize_any};

/// A flat parameter map, sorted by name in byte order, which is the order signing needs.
pub type Params = BTreeMap<String, String>;

/// Serialises a request struct into flat RPC parameters.
///
/// `None` fields are omitted, booleans become `true`/`false`, numbers their decimal text.
pub fn to_params<T: Serialize>(value: &T) -> Params {
    let json = serde_json::to_value(value).expect("request structs always serialise to JSON");
    let mut out = Params::new();
    flatten("", &json, &mut out);
    out
}

fn flatten(prefix: &str, value: &serde_json::Value, out: &mut Params) {
    use serde_json::Value;
    let join = |name: &str| {
        if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{prefix}.{name}")
        }
    };
    match value {
        Value::Null => {}
        Value::Bool(b) => {
            out.insert(prefix.to_owned(), b.to_string());
        }
        Value::Number(n) => {
            out.insert(prefix.to_owned(), n.to_string());
        }
        Value::String(s) => {
            out.insert(prefix.to_owned(), s.clone());
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                flatten(&join(&(i + 1).to_string()), item, out);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                flatten(&join(k), v, out);
            }
        }
    }
}

/// Why a parameter map does not fit a request struct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamError {
    /// A required parameter is absent.
    Missing(String),
    /// A parameter is present but its value does not parse.
    Invalid(String),
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing(name) => write!(f, "{name} is mandatory for this action."),
            Self::Invalid(name) => write!(f, "The specified parameter \"{name}\" is not valid."),
        }
    }
}

impl std::error::Error for ParamError {}

impl de::Error for ParamError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        let msg = msg.to_string();
        // serde reports a missing field as "missing field `Name`".
        if let Some(rest) = msg.strip_prefix("missing field `") {
            return Self::Missing(rest.trim_end_matches('`').to_owned());
        }
        Self::Invalid(msg)
    }

    fn missing_field(field: &'static str) -> Self {
        Self::Missing(field.to_owned())
    }
}

/// Parses flat RPC parameters into a request struct.
///
/// Unknown parameters are ignored, as the gateway ignores them (the SDKs send owner fields and
/// others that no action here reads).
pub fn from_params<T: DeserializeOwned>(params: &Params) -> Result<T, ParamError> {
    let tree = build_tree(params)?;
    T::deserialize(Node {
        path: String::new(),
        kind: tree,
    })
}

/// One level of the unflattened parameter tree.
#[derive(Debug)]
enum Tree {
    Leaf(String),
    Branch(BTreeMap<String, Tree>),
}

fn build_tree(params: &Params) -> Result<Tree, ParamError> {
    let mut root = BTreeMap::new();
    for (key, value) in params {
        let mut node = &mut root;
        let segments: Vec<&str> = key.split('.').collect();
        for (i, segment) in segments.iter().enumerate() {
            let last = i + 1 == segments.len();
            if last {
                if node
                    .insert((*segment).to_owned(), Tree::Leaf(value.clone()))
                    .is_some()
                {
                    return Err(ParamError::Invalid(key.clone()));
                }
            } else {
                let entry = node
                    .entry((*segment).to_owned())
                    .or_insert_with(|| Tree::Branch(BTreeMap::new()));
                match entry {
                    Tree::Branch(children) => node = children,
                    Tree::Leaf(_) => return Err(ParamError::Invalid(key.clone())),
                }
            }
        }
    }
    Ok(Tree::Branch(root))
}

/// A tree node together with its dotted path, for error messages.
struct Node {
    path: String,
    kind: Tree,
}

impl Node {
    fn invalid(&self) -> ParamError {
        ParamError::Invalid(self.path.clone())
    }

    fn leaf(&self) -> Result<&str, ParamError> {
        match &self.kind {
            Tree::Leaf(s) => Ok(s),
            Tree::Branch(_) => Err(self.invalid()),
        }
    }

    fn parse<N: std::str::FromStr>(&self) -> Result<N, ParamError> {
        self.leaf()?.trim().parse().map_err(|_| self.invalid())
    }
}

macro_rules! parse_number {
    ($($method:ident => $visit:ident: $ty:ty),* $(,)?) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamError> {
            visitor.$visit(self.parse::<$ty>()?)
        })*
    };
}

impl<'de> de::Deserializer<'de> for Node {
    type Error = ParamError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamError> {
        match self.kind {
            Tree::Leaf(s) => visitor.visit_string(s),
            Tree::Branch(children) => visitor.visit_map(BranchMap::new(&self.path, children)),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamError> {
        // The Python SDKs send `True`/`False`, others `true`/`false` (reference §2.1).
        match self.leaf()?.to_ascii_lowercase().as_str() {
            "true" => visitor.visit_bool(true),
            "false" => visitor.visit_bool(false),
            _ => Err(self.invalid()),
        }
    }

    parse_number! {
        deserialize_i8 => visit_i8: i8,
        deserialize_i16 => visit_i16: i16,
        deserialize_i32 => visit_i32: i32,
        deserialize_i64 => visit_i64: i64,
        deserialize_u8 => visit_u8: u8,
        deserialize_u16 => visit_u16: u16,
        deserialize_u32 => visit_u32: u32,
        deserialize_u64 => visit_u64: u64,
        deserialize_f32 => visit_f32: f32,
        deserialize_f64 => visit_f64: f64,
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ParamError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamError> {
        let Tree::Branch(children) = self.kind else {
            return Err(ParamError::Invalid(self.path));
        };
        // `Name.N` keys: order by N, which must be a positive integer.
        let mut items = Vec::with_capacity(children.len());
        for (key, child) in children {
            let index: usize = match key.parse() {
                Ok(n) if n > 0 => n,
                _ => return Err(ParamError::Invalid(format!("{}.{key}", self.path))),
            };
            items.push((index, format!("{}.{key}", self.path), child));
        }
        items.sort_by_key(|(index, _, _)| *index);
        let nodes: Vec<Node> = items
            .into_iter()
            .map(|(_, path, kind)| Node { path, kind })
            .collect();
        visitor.visit_seq(de::value::SeqDeserializer::new(nodes.into_iter()))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ParamError> {
        let path = self.path.clone();
        let value = self.leaf()?.to_owned();
        visitor
            .visit_enum(value.into_deserializer())
            .map_err(|_: ParamError| ParamError::Invalid(path))
    }

    forward_to_deserialize_any! {
        char str string bytes byte_buf unit unit_struct tuple tuple_struct map struct
        identifier ignored_any i128 u128
    }
}

impl IntoDeserializer<'_, ParamError> for Node {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

/// Map access over a branch of the tree, handing out children with their dotted paths.
struct BranchMap {
    prefix: String,
    iter: std::collections::btree_map::IntoIter<String, Tree>,
    value: Option<Node>,
}

impl BranchMap {
    fn new(prefix: &str, children: BTreeMap<String, Tree>) -> Self {
        Self {
            prefix: prefix.to_owned(),
            iter: children.into_iter(),
            value: None,
        }
    }
}

impl<'de> de::MapAccess<'de> for BranchMap {
    type Error = ParamError;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ParamError> {
        let Some((key, kind)) = self.iter.next() else {
            return Ok(None);
        };
        let path = if self.prefix.is_empty() {
            key.clone()
        } else {
            format!("{}.{key}", self.prefix)
        };
        self.value = Some(Node { path, kind });
        seed.deserialize(key.into_deserializer()).map(Some)
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, ParamError> {
        let node = self
            .value
            .take()
            .expect("serde calls next_value only after next_key");
        seed.deserialize(node)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Tag {
        key: String,
        value: Option<String>,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        command_id: String,
        #[serde(rename = "InstanceId")]
        instance_ids: Vec<String>,
        timeout: Option<u64>,
        enable_parameter: Option<bool>,
        #[serde(default, rename = "Tag")]
        tags: Vec<Tag>,
    }

    fn params(pairs: &[(&str, &str)]) -> Params {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn flattens_lists_and_objects_one_based() {
        let req = Req {
            command_id: "c-1".into(),
            instance_ids: (1..=11).map(|i| format!("i-{i}")).collect(),
            timeout: Some(600),
            enable_parameter: None,
            tags: vec![Tag {
                key: "env".into(),
                value: Some("prod".into()),
            }],
        };
        let p = to_params(&req);
        assert_eq!(p["CommandId"], "c-1");
        assert_eq!(p["InstanceId.1"], "i-1");
        assert_eq!(p["InstanceId.11"], "i-11");
        assert_eq!(p["Timeout"], "600");
        assert_eq!(p["Tag.1.Key"], "env");
        assert_eq!(p["Tag.1.Value"], "prod");
        assert!(!p.contains_key("EnableParameter"));
        // Byte order, as signing requires: `InstanceId.10` sorts before `InstanceId.2`.
        let keys: Vec<&str> = p.keys().map(String::as_str).collect();
        let ten = keys.iter().position(|k| *k == "InstanceId.10").unwrap();
        let two = keys.iter().position(|k| *k == "InstanceId.2").unwrap();
        assert!(ten < two);
        assert_eq!(from_params::<Req>(&p).unwrap(), req);
    }

    #[test]
    fn parses_python_sdk_booleans_and_orders_lists_numerically() {
        let p = params(&[
            ("CommandId", "c-1"),
            ("InstanceId.2", "b"),
            ("InstanceId.10", "j"),
            ("InstanceId.1", "a"),
            ("EnableParameter", "True"),
            ("OwnerId", "123"),
        ]);
        let req: Req = from_params(&p).unwrap();
        assert_eq!(req.instance_ids, ["a", "b", "j"]);
        assert_eq!(req.enable_parameter, Some(true));
    }

    #[test]
    fn reports_missing_and_invalid_parameters_by_name() {
        let cases: &[(&[(&str, &str)], ParamError)] = &[
            (
                &[("InstanceId.1", "a")],
                ParamError::Missing("CommandId".into()),
            ),
            (
                &[("CommandId", "c"), ("InstanceId.1", "a"), ("Timeout", "x")],
                ParamError::Invalid("Timeout".into()),
            ),
            (
                &[("CommandId", "c"), ("InstanceId.0", "a")],
                ParamError::Invalid("InstanceId.0".into()),
            ),
            (
                &[("CommandId", "c"), ("InstanceId", "a")],
                ParamError::Invalid("InstanceId".into()),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(&from_params::<Req>(&params(input)).unwrap_err(), expected);
        }
    }
}
