//! The response formats of the gateway: JSON and XML, both rendered from one JSON value.
//!
//! Handlers produce the `cloud::actions` response structs; this module turns them into bytes.
//! XML is derived generically (reference §9.1): the root is `<ActionResponse>` (or `<Error>`),
//! object keys become elements, and an array becomes its key repeated once per item, so
//! `{"Tags":{"Tag":[a,b]}}` is `<Tags><Tag>a</Tag><Tag>b</Tag></Tags>`.

use serde_json::Value;

/// The `Format` parameter, case-insensitive; XML when absent (reference §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Format {
    /// `application/json`.
    Json,
    /// `text/xml`, the gateway default.
    #[default]
    Xml,
}

impl Format {
    /// Parses the `Format` parameter; `None` for a value that is neither JSON nor XML.
    pub(crate) fn parse(value: Option<&str>) -> Option<Self> {
        match value {
            None => Some(Self::Xml),
            Some(v) if v.eq_ignore_ascii_case("json") => Some(Self::Json),
            Some(v) if v.eq_ignore_ascii_case("xml") => Some(Self::Xml),
            Some(_) => None,
        }
    }

    /// The `Content-Type` header of a body in this format.
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/json;charset=utf-8",
            Self::Xml => "text/xml;charset=utf-8",
        }
    }

    /// Renders `value` with `root` as the XML root element name (ignored for JSON).
    pub(crate) fn render(self, root: &str, value: &Value) -> Vec<u8> {
        match self {
            Self::Json => serde_json::to_vec(value).expect("a JSON value always serialises"),
            Self::Xml => {
                let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
                write_element(&mut out, root, value);
                out.into_bytes()
            }
        }
    }
}

/// What every answer of one request shares: its id, the host that served it and the format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReplyContext {
    /// `RequestId`, upper-case hex with dashes like the real service's.
    pub(crate) request_id: String,
    /// `HostId`: the `Host` the client addressed.
    pub(crate) host_id: String,
    /// The requested format.
    pub(crate) format: Format,
}

impl Default for ReplyContext {
    fn default() -> Self {
        Self {
            request_id: String::new(),
            host_id: "127.0.0.1".to_owned(),
            format: Format::Xml,
        }
    }
}

fn write_element(out: &mut String, name: &str, value: &Value) {
    match value {
        Value::Array(items) => {
            for item in items {
                write_element(out, name, item);
            }
        }
        Value::Object(map) => {
            open(out, name);
            for (key, child) in map {
                write_element(out, key, child);
            }
            close(out, name);
        }
        Value::Null => {
            open(out, name);
            close(out, name);
        }
        Value::String(s) => {
            open(out, name);
            escape_into(out, s);
            close(out, name);
        }
        Value::Bool(b) => {
            open(out, name);
            out.push_str(if *b { "true" } else { "false" });
            close(out, name);
        }
        Value::Number(n) => {
            open(out, name);
            out.push_str(&n.to_string());
            close(out, name);
        }
    }
}

fn open(out: &mut String, name: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
}

fn close(out: &mut String, name: &str) {
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_format_case_insensitively() {
        let cases = [
            (None, Some(Format::Xml)),
            (Some("JSON"), Some(Format::Json)),
            (Some("json"), Some(Format::Json)),
            (Some("Xml"), Some(Format::Xml)),
            (Some("yaml"), None),
        ];
        for (input, expected) in cases {
            assert_eq!(Format::parse(input), expected, "{input:?}");
        }
    }

    #[test]
    fn xml_repeats_array_elements_and_escapes_text() {
        let value = serde_json::json!({
            "RequestId": "R1",
            "Tags": {"Tag": [{"TagKey": "a&b", "TagValue": "<x>"}, {"TagKey": "c", "TagValue": ""}]},
            "Ok": true,
            "Count": 3,
            "Empty": {"Item": []}
        });
        let xml = String::from_utf8(Format::Xml.render("DemoResponse", &value)).unwrap();
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><DemoResponse><Count>3</Count><Empty></Empty>\
             <Ok>true</Ok><RequestId>R1</RequestId><Tags><Tag><TagKey>a&amp;b</TagKey>\
             <TagValue>&lt;x&gt;</TagValue></Tag><Tag><TagKey>c</TagKey><TagValue></TagValue></Tag>\
             </Tags></DemoResponse>"
        );
    }
}
