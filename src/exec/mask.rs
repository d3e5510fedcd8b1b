//! Masking secret values in the output instances send back, before anything keeps it.
//!
//! A script may print a secret as it is, URL-encoded or in Base64 (`echo "$TOKEN" | base64`).
//! Each of those forms becomes [`MASK`], and so does every Base64-looking word whose decoding
//! holds a secret, however the secret was aligned inside it. Where output is shown or stored
//! (reports, journal, templates of later steps) is left to the callers; they only ever see the
//! masked text.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

use crate::cloud::sign::percent_encode;
use crate::plan::render::MASK;

/// Words shorter than this are not decoded: they cannot hold a secret of two bytes or more
/// next to anything else.
const SHORTEST_WORD: usize = 4;

/// `text` with every form of every non-empty secret in `secrets` replaced by [`MASK`].
pub(crate) fn mask(text: &str, secrets: &[String]) -> String {
    let mut secrets: Vec<&str> = secrets
        .iter()
        .map(String::as_str)
        .filter(|s| !s.is_empty())
        .collect();
    if secrets.is_empty() {
        return text.to_owned();
    }
    // Longest first, so a secret inside another is not masked half-way.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    // Whole Base64 words first, so no encoded tail is left beside a mask.
    let mut out = mask_base64_words(text, &secrets);
    for secret in &secrets {
        for form in forms(secret) {
            if out.contains(&form) {
                out = out.replace(&form, MASK);
            }
        }
    }
    out
}

/// A secret as written, URL-encoded (`%20` and form `+`, upper- and lower-case hex) and in
/// Base64 (standard and URL-safe, padded or not), longest first.
fn forms(secret: &str) -> Vec<String> {
    let encoded = percent_encode(secret);
    let plus = encoded.replace("%20", "+");
    let mut forms = vec![
        secret.to_owned(),
        lower_hex(&encoded),
        lower_hex(&plus),
        plus,
        encoded,
    ];
    for engine in [STANDARD, URL_SAFE, STANDARD_NO_PAD, URL_SAFE_NO_PAD] {
        forms.push(engine.encode(secret));
    }
    forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
    forms.dedup();
    forms
}

/// `%2F` → `%2f`.
fn lower_hex(encoded: &str) -> String {
    let mut out = String::with_capacity(encoded.len());
    let mut hex = 0;
    for c in encoded.chars() {
        if hex > 0 {
            out.push(c.to_ascii_lowercase());
            hex -= 1;
        } else {
            out.push(c);
            if c == '%' {
                hex = 2;
            }
        }
    }
    out
}

/// Replaces each Base64-looking word whose decoding contains a secret.
fn mask_base64_words(text: &str, secrets: &[&str]) -> String {
    let is_b64 = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '-' | '_');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(is_b64) {
        out.push_str(&rest[..start]);
        let word_len = rest[start..]
            .find(|c| !is_b64(c))
            .unwrap_or(rest.len() - start);
        let word = &rest[start..start + word_len];
        if word.len() >= SHORTEST_WORD && decoded_holds_secret(word, secrets) {
            out.push_str(MASK);
        } else {
            out.push_str(word);
        }
        rest = &rest[start + word_len..];
    }
    out.push_str(rest);
    out
}

/// Whether `word`, decoded from any of its first four offsets in either alphabet, holds a secret.
fn decoded_holds_secret(word: &str, secrets: &[&str]) -> bool {
    (0..4.min(word.len())).any(|start| {
        let body = word[start..].trim_end_matches('=');
        [STANDARD_NO_PAD, URL_SAFE_NO_PAD].iter().any(|engine| {
            // An unaligned tail is dropped: what comes before it still decodes.
            (0..4.min(body.len() + 1)).any(|cut| {
                engine.decode(&body[..body.len() - cut]).is_ok_and(|bytes| {
                    secrets
                        .iter()
                        .any(|s| bytes.windows(s.len()).any(|w| w == s.as_bytes()))
                })
            })
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FANCY: &str = "p@ss w/rd?&=+%#";

    #[test]
    fn every_form_is_masked() {
        let secrets = vec![FANCY.to_owned(), "Zq7x".to_owned()];
        let b64 = |s: &str| STANDARD.encode(s);
        for (input, expected) in [
            (format!("a {FANCY} b"), "a ******** b".to_owned()),
            (
                "p%40ss%20w%2Frd%3F%26%3D%2B%25%23".to_owned(),
                MASK.to_owned(),
            ),
            (
                "p%40ss+w%2frd%3f%26%3d%2b%25%23".to_owned(),
                MASK.to_owned(),
            ),
            ("x Zq7x y".to_owned(), "x ******** y".to_owned()),
            (format!("b64: {}", b64(FANCY)), "b64: ********".to_owned()),
            (
                format!("{}\n", b64(&format!("{FANCY}\n"))),
                "********\n".to_owned(),
            ),
            (
                format!("[{}]", b64(&format!("export T='{FANCY}'"))),
                "[********]".to_owned(),
            ),
            (b64("xxZq7xyy"), MASK.to_owned()),
            (
                "no secret here, nor in aGVsbG8gd29ybGQ=".to_owned(),
                "no secret here, nor in aGVsbG8gd29ybGQ=".to_owned(),
            ),
        ] {
            assert_eq!(mask(&input, &secrets), expected, "{input}");
        }
    }

    #[test]
    fn nothing_to_mask_keeps_the_text() {
        assert_eq!(mask("héllo wörld", &[]), "héllo wörld");
        assert_eq!(mask("héllo wörld", &[String::new()]), "héllo wörld");
        assert_eq!(mask("héllo wörld", &["ö".to_owned()]), "héllo w********rld");
    }
}
