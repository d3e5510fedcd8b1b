//! The limits a template must respect before Tera sees it, so that rendering is bounded in
//! stack, time and what it can reach.
//!
//! Tera parses and renders recursively and runs whatever a template asks for. A runbook
//! template fills values into one script, so this module refuses what that never needs and
//! what would overflow the stack (a 2 MiB tokio worker renders deferred scripts at run time),
//! loop without end, or read outside the runbook:
//!
//! - `{% include %}`, `{% import %}`, `{% extends %}` and `{% macro %}`: the template could
//!   include or call itself without end;
//! - blocks (`{% if %}`, `{% for %}`, `{% filter %}`, `{% block %}`) nested deeper than
//!   [`MAX_NESTING`], brackets inside one tag nested deeper than [`MAX_NESTING`], and `for`
//!   loops nested deeper than [`MAX_LOOP_NESTING`];
//! - `get_env`, which would put the environment (the AccessKey secret among it) into a script;
//! - `range` of more than [`MAX_RANGE`] numbers (enforced by `range`, which replaces Tera's).
//!
//! `render` calls `check` on the text Tera will parse (Cloud Assistant tokens already swapped
//! for markers) and registers `range` and `get_env`; the offsets it returns are in that
//! text.

use std::collections::HashMap;

use crate::plan::render::TemplateErrorKind;

/// The deepest nesting of blocks, and of brackets inside one tag.
pub const MAX_NESTING: usize = 32;

/// The deepest nesting of `for` loops.
pub const MAX_LOOP_NESTING: usize = 3;

/// The most numbers `range` gives.
pub const MAX_RANGE: u64 = 1_000;

/// Tags that open a block closed by `end<name>`.
const BLOCKS: [&str; 4] = ["if", "for", "filter", "block"];

/// Tags that are refused, with why.
const REFUSED: [(&str, &str); 4] = [
    ("include", "includes another template"),
    ("import", "imports macros from another template"),
    ("extends", "extends another template"),
    (
        "macro",
        "defines a macro, which could call itself without end",
    ),
];

/// Checks `text` (as Tera will parse it); on a problem, its byte offset and length in `text`.
pub(crate) fn check(text: &str) -> Result<(), (usize, usize, TemplateErrorKind)> {
    let mut blocks: Vec<&str> = Vec::new();
    let mut at = 0;
    while let Some(found) = text[at..].find('{') {
        let start = at + found;
        let rest = &text[start..];
        let close = if rest.starts_with("{{") {
            "}}"
        } else if rest.starts_with("{%") {
            "%}"
        } else if rest.starts_with("{#") {
            // A comment ends at the first `#}`; an unclosed one is Tera's syntax error.
            at = rest.find("#}").map_or(text.len(), |end| start + end + 2);
            continue;
        } else {
            at = start + 1;
            continue;
        };
        let Some(body_len) = tag_body_len(&rest[2..], close) else {
            // Unclosed: Tera reports it as a syntax error.
            return Ok(());
        };
        let body = &rest[2..2 + body_len];
        let end = start + 2 + body_len + close.len();
        let refuse = |detail: String| Err((start, end - start, TemplateErrorKind::Refused(detail)));
        if bracket_depth(body) > MAX_NESTING {
            return refuse(format!(
                "brackets are nested deeper than {MAX_NESTING} levels in one tag"
            ));
        }
        if calls(body, "get_env") {
            return refuse(
                "`get_env` would put the environment into the script; declare a secret \
                 variable with `env:` instead"
                    .to_owned(),
            );
        }
        if close == "%}" {
            let keyword = keyword(body);
            if let Some((_, why)) = REFUSED.iter().find(|(name, _)| *name == keyword) {
                return refuse(format!("`{{% {keyword} %}}` {why}"));
            }
            if keyword == "raw" {
                // Nothing up to `{% endraw %}` is a tag.
                at = find_endraw(text, end).unwrap_or(text.len());
                continue;
            }
            if BLOCKS.contains(&keyword) {
                blocks.push(keyword);
                if blocks.len() > MAX_NESTING {
                    return refuse(format!(
                        "blocks are nested deeper than {MAX_NESTING} levels"
                    ));
                }
                if keyword == "for"
                    && blocks.iter().filter(|b| **b == "for").count() > MAX_LOOP_NESTING
                {
                    return refuse(format!(
                        "`for` loops are nested deeper than {MAX_LOOP_NESTING} levels"
                    ));
                }
            } else if let Some(name) = keyword.strip_prefix("end")
                && BLOCKS.contains(&name)
            {
                // A mismatched end is Tera's syntax error; only the depth matters here.
                blocks.pop();
            }
        }
        at = end;
    }
    Ok(())
}

/// The length of a tag's body up to `close`, skipping string literals; `None` when unclosed.
fn tag_body_len(body: &str, close: &str) -> Option<usize> {
    let bytes = body.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            quote @ (b'"' | b'\'' | b'`') => {
                i += 1 + body[i + 1..].find(char::from(quote))? + 1;
            }
            _ if bytes[i..].starts_with(close.as_bytes()) => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// The deepest nesting of `(`, `[` and `{` in a tag body, outside string literals.
fn bracket_depth(body: &str) -> usize {
    let (mut depth, mut deepest, mut quote) = (0usize, 0usize, None);
    for b in body.bytes() {
        match (quote, b) {
            (Some(q), _) if b == q => quote = None,
            (None, b'"' | b'\'' | b'`') => quote = Some(b),
            (None, b'(' | b'[' | b'{') => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            (None, b')' | b']' | b'}') => depth = depth.saturating_sub(1),
            // Inside a string literal, or any other byte.
            _ => {}
        }
    }
    deepest
}

/// The first word of a `{% … %}` body, after the whitespace-control `-`.
fn keyword(body: &str) -> &str {
    let body = body.strip_prefix('-').unwrap_or(body).trim_start();
    let end = body
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(body.len());
    &body[..end]
}

/// Whether `body` calls function `name` (outside string literals).
fn calls(body: &str, name: &str) -> bool {
    let mut from = 0;
    while let Some(found) = body[from..].find(name) {
        let start = from + found;
        let end = start + name.len();
        let before = body[..start].chars().next_back();
        let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
        let quoted = body[..start]
            .bytes()
            .filter(|b| matches!(b, b'"' | b'\'' | b'`'))
            .count()
            % 2
            == 1;
        if !before.is_some_and(ident) && !quoted && body[end..].trim_start().starts_with('(') {
            return true;
        }
        from = end;
    }
    false
}

/// The end of the `{% endraw %}` tag at or after `from`.
fn find_endraw(text: &str, from: usize) -> Option<usize> {
    let mut at = from;
    while let Some(found) = text[at..].find("{%") {
        let start = at + found;
        let body_len = tag_body_len(&text[start + 2..], "%}")?;
        let end = start + 2 + body_len + 2;
        if keyword(&text[start + 2..start + 2 + body_len]) == "endraw" {
            return Some(end);
        }
        at = end;
    }
    None
}

/// Tera's `range(end, start=0, step_by=1)`, giving at most [`MAX_RANGE`] numbers.
pub(crate) fn range(args: &HashMap<String, tera::Value>) -> tera::Result<tera::Value> {
    let number = |name: &str, default: Option<i64>| -> tera::Result<i64> {
        match args.get(name) {
            Some(value) => value
                .as_i64()
                .ok_or_else(|| tera::Error::msg(format!("`range`: `{name}` must be an integer"))),
            None => default.ok_or_else(|| tera::Error::msg(format!("`range` needs `{name}`"))),
        }
    };
    let start = number("start", Some(0))?;
    let end = number("end", None)?;
    let step = number("step_by", Some(1))?;
    if step <= 0 {
        return Err(tera::Error::msg("`range`: `step_by` must be positive"));
    }
    let count = if end > start {
        (i128::from(end) - i128::from(start) + i128::from(step) - 1) / i128::from(step)
    } else {
        0
    };
    if count > i128::from(MAX_RANGE) {
        return Err(tera::Error::msg(format!(
            "`range` would give {count} numbers, more than the limit of {MAX_RANGE}"
        )));
    }
    let numbers = (0..count)
        .map(|i| {
            i64::try_from(i128::from(start) + i * i128::from(step))
                .map(tera::Value::from)
                .map_err(|_| tera::Error::msg("`range`: the numbers do not fit in 64 bits"))
        })
        .collect::<tera::Result<Vec<_>>>()?;
    Ok(tera::Value::Array(numbers))
}

/// Replaces Tera's `get_env`: always an error, in case [`check`] was bypassed.
pub(crate) fn get_env(_: &HashMap<String, tera::Value>) -> tera::Result<tera::Value> {
    Err(tera::Error::msg(
        "`get_env` is not available in runbook templates; declare a secret variable with `env:`",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(text: &str) -> Option<(usize, String)> {
        check(text)
            .err()
            .map(|(offset, _, kind)| (offset, kind.to_string()))
    }

    #[test]
    fn limits() {
        let deep_if = format!("{}x{}", "{% if a %}".repeat(33), "{% endif %}".repeat(33));
        let ok_if = format!("{}x{}", "{% if a %}".repeat(32), "{% endif %}".repeat(32));
        let deep_for = "{% for a in b %}{% for c in d %}{% for e in f %}{% for g in h %}";
        let parens = format!("{{{{ {}1{} }}}}", "(".repeat(33), ")".repeat(33));
        let table: &[(&str, Option<(usize, &str)>)] = &[
            ("echo {{ x }}", None),
            (&ok_if, None),
            (
                &deep_if,
                Some((
                    320,
                    "template refused: blocks are nested deeper than 32 levels",
                )),
            ),
            (
                deep_for,
                Some((
                    48,
                    "template refused: `for` loops are nested deeper than 3 levels",
                )),
            ),
            (
                &parens,
                Some((
                    0,
                    "template refused: brackets are nested deeper than 32 levels in one tag",
                )),
            ),
            ("{{ \"((((((((((((((((((((((((((((((((((\" }}", None),
            (
                "a {% include 'script' %}",
                Some((
                    2,
                    "template refused: `{% include %}` includes another template",
                )),
            ),
            (
                "{%- macro f() -%}{{ self::f() }}{%- endmacro f -%}",
                Some((
                    0,
                    "template refused: `{% macro %}` defines a macro, which could call itself without end",
                )),
            ),
            (
                "{{ get_env(name='HOME') }}",
                Some((
                    0,
                    "template refused: `get_env` would put the environment into the script; declare a secret variable with `env:` instead",
                )),
            ),
            ("{{ 'get_env(x)' }} {{ my_get_env }}", None),
            ("{% raw %}{% include 'x' %}{% endraw %}", None),
            ("{# {% include 'x' %} #}", None),
            ("{% if a %}{% endif %}{% if b %}{% endif %}", None),
            ("{{ unclosed", None),
            ("${#array[@]} {{ '}}' }}", None),
            // Fuzz finding: a multi-byte character inside a tag.
            (
                "{{ mo\u{fffd}e }} {% include 'é' %}",
                Some((
                    13,
                    "template refused: `{% include %}` includes another template",
                )),
            ),
        ];
        for (text, expected) in table {
            let expected = expected.map(|(o, m)| (o, m.to_owned()));
            assert_eq!(refused(text), expected, "{text:?}");
        }
    }

    #[test]
    fn bounded_range() {
        let args = |pairs: &[(&str, i64)]| -> HashMap<String, tera::Value> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), tera::Value::from(*v)))
                .collect()
        };
        assert_eq!(
            range(&args(&[("end", 3)])).unwrap(),
            serde_json::json!([0, 1, 2])
        );
        assert_eq!(
            range(&args(&[("start", 2), ("end", 9), ("step_by", 3)])).unwrap(),
            serde_json::json!([2, 5, 8])
        );
        assert_eq!(
            range(&args(&[("start", 5), ("end", 1)])).unwrap(),
            serde_json::json!([])
        );
        assert_eq!(
            range(&args(&[("end", 1000)]))
                .unwrap()
                .as_array()
                .map(Vec::len),
            Some(1000)
        );
        for bad in [
            args(&[("end", 1001)]),
            args(&[("start", i64::MIN), ("end", i64::MAX)]),
            args(&[("end", 5), ("step_by", 0)]),
            args(&[]),
        ] {
            assert!(range(&bad).is_err(), "{bad:?}");
        }
        assert!(get_env(&HashMap::new()).is_err());
    }
}
