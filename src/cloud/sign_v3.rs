//! Signature V3 (`ACS3-HMAC-SHA256`), the new SDKs' default, as a pure function of credential,
//! request, time and nonce.
//!
//! See <https://www.alibabacloud.com/help/en/sdk/product-overview/v3-request-structure-and-signature>
//! and reference §2.6. The action, version, date and nonce travel in `x-acs-*` headers, the
//! parameters stay in the query, and the signature covers the method, path, sorted query,
//! the signed headers and the hash of the (empty) body:
//!
//! ```text
//! canonical request = METHOD \n / \n sorted query \n name:value\n ... \n signed names \n payload hash
//! string to sign    = ACS3-HMAC-SHA256 \n hex(SHA-256(canonical request))
//! signature         = hex(HMAC-SHA256(secret, string to sign))
//! Authorization     : ACS3-HMAC-SHA256 Credential=<id>,SignedHeaders=<names>,Signature=<hex>
//! ```
//!
//! The client signs with [`sign_request`]; the sandbox checks with [`string_to_sign`] and
//! [`signature`]. Nothing here does I/O or reads the clock; V1 lives in `sign`.

use std::fmt::Write as _;

use hmac::{Hmac, Mac};
use sha2::{Digest as _, Sha256};

use crate::cloud::sign::{self, API_VERSION};
use crate::cloud::wire::Params;

/// The algorithm name, first word of the `Authorization` header and of the string to sign.
pub const ALGORITHM: &str = "ACS3-HMAC-SHA256";

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

/// Hex SHA-256 of `bytes`: the `x-acs-content-sha256` of a body.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// The canonical request: method, path (`/` when empty), the query sorted by name with values
/// RFC 3986-encoded (names as they are, as the Tea runtime writes them), one `name:value` line
/// per header sorted by name, the header names joined by `;`, and the payload hash. Header
/// names must already be lower case and values trimmed.
pub fn canonical_request(
    method: &str,
    path: &str,
    query: &Params,
    headers: &[(String, String)],
    payload_sha256: &str,
) -> String {
    // `Params` is a `BTreeMap`, so the query is already in byte order of the names.
    let canonical_query: Vec<String> = query
        .iter()
        .map(|(k, v)| format!("{k}={}", sign::percent_encode(v)))
        .collect();
    let mut headers: Vec<&(String, String)> = headers.iter().collect();
    headers.sort();
    let canonical_headers = headers.iter().fold(String::new(), |mut out, (k, v)| {
        let _ = writeln!(out, "{k}:{v}");
        out
    });
    let names: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
    format!(
        "{method}\n{}\n{}\n{canonical_headers}\n{}\n{payload_sha256}",
        if path.is_empty() { "/" } else { path },
        canonical_query.join("&"),
        names.join(";"),
    )
}

/// `ACS3-HMAC-SHA256\n` + hex SHA-256 of a [`canonical_request`].
pub fn string_to_sign(canonical_request: &str) -> String {
    format!("{ALGORITHM}\n{}", sha256_hex(canonical_request.as_bytes()))
}

/// Hex HMAC-SHA256 of `string_to_sign`, keyed with the bare secret (no `&`, unlike V1).
pub fn signature(secret: &str, string_to_sign: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(string_to_sign.as_bytes());
    hex(&mac.finalize().into_bytes())
}

/// What one V3-signed request is made of, all fixed by the caller so that signing is
/// repeatable. The method is always `POST` and the body always empty, as the Tea SDK sends
/// ECS actions.
#[derive(Debug, Clone, Copy)]
pub struct SignInput<'a> {
    /// The `Host` header exactly as sent: `ecs.cn-hangzhou.aliyuncs.com`, `127.0.0.1:8080`.
    pub host: &'a str,
    /// The action name, e.g. `InvokeCommand`.
    pub action: &'a str,
    /// `AccessKey` id.
    pub access_key_id: &'a str,
    /// `AccessKey` secret; only used as the HMAC key.
    pub access_key_secret: &'a str,
    /// STS token, sent and signed as `x-acs-security-token` when present.
    pub security_token: Option<&'a str>,
    /// `yyyy-MM-ddTHH:mm:ssZ` in UTC.
    pub date: &'a str,
    /// Unique per request.
    pub nonce: &'a str,
}

/// The method every V3 request here uses.
pub const METHOD: &str = "POST";

/// The headers to send with a `POST /?<query>` and an empty body: every signed header, then
/// `Authorization`. Names are lower case.
pub fn sign_request(input: &SignInput<'_>, query: &Params) -> Vec<(String, String)> {
    let payload = sha256_hex(b"");
    let mut headers: Vec<(String, String)> = [
        ("host", input.host),
        ("x-acs-action", input.action),
        ("x-acs-version", API_VERSION),
        ("x-acs-date", input.date),
        ("x-acs-signature-nonce", input.nonce),
        ("x-acs-content-sha256", payload.as_str()),
    ]
    .into_iter()
    .chain(
        input
            .security_token
            .map(|token| ("x-acs-security-token", token)),
    )
    .map(|(k, v)| (k.to_owned(), v.trim().to_owned()))
    .collect();
    headers.sort();
    let to_sign = string_to_sign(&canonical_request(METHOD, "/", query, &headers, &payload));
    let signed_names: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
    let authorization = format!(
        "{ALGORITHM} Credential={},SignedHeaders={},Signature={}",
        input.access_key_id,
        signed_names.join(";"),
        signature(input.access_key_secret, &to_sign)
    );
    headers.push(("authorization".to_owned(), authorization));
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    const SDK_ID: &str = "LTAI5tTestAccessKeyId";
    const SDK_SECRET: &str = "TestSecretKey0123456789abcdef";

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn vector_query() -> Params {
        pairs(&[
            ("ContentEncoding", "PlainText"),
            ("IncludeOutput", "true"),
            ("InvokeId", "t-hz01abcdef0123456"),
            ("RegionId", "cn-hangzhou"),
        ])
        .into_iter()
        .collect()
    }

    /// Reference §2.6: the vector computed with the official Tea runtime
    /// (`Utils.get_authorization`), byte for byte.
    #[test]
    fn reference_vector() {
        let empty = sha256_hex(b"");
        assert_eq!(
            empty,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let headers = pairs(&[
            ("host", "ecs.cn-hangzhou.aliyuncs.com"),
            ("x-acs-action", "DescribeInvocations"),
            ("x-acs-version", "2014-05-26"),
            ("x-acs-date", "2024-05-01T08:30:00Z"),
            ("x-acs-signature-nonce", "6a1f0b2c3d4e5f60718293a4b5c6d7e8"),
            ("x-acs-content-sha256", empty.as_str()),
        ]);
        let canonical = canonical_request("POST", "/", &vector_query(), &headers, &empty);
        assert_eq!(
            canonical,
            format!(
                "POST\n/\nContentEncoding=PlainText&IncludeOutput=true&InvokeId=t-hz01abcdef0123456&RegionId=cn-hangzhou\n\
                 host:ecs.cn-hangzhou.aliyuncs.com\nx-acs-action:DescribeInvocations\n\
                 x-acs-content-sha256:{empty}\nx-acs-date:2024-05-01T08:30:00Z\n\
                 x-acs-signature-nonce:6a1f0b2c3d4e5f60718293a4b5c6d7e8\nx-acs-version:2014-05-26\n\n\
                 host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version\n\
                 {empty}"
            )
        );
        assert_eq!(
            sha256_hex(canonical.as_bytes()),
            "094cb96bbf38384bf5cc257ed43f60d1a27d19bf57a304b0bd552d6823a6869a"
        );
        let sts = string_to_sign(&canonical);
        assert_eq!(
            sts,
            "ACS3-HMAC-SHA256\n094cb96bbf38384bf5cc257ed43f60d1a27d19bf57a304b0bd552d6823a6869a"
        );
        assert_eq!(
            signature(SDK_SECRET, &sts),
            "376264e33e1b9f6199051f6ffac0cc10e84627ad9bf9b00fa5b918f17ee9efe6"
        );
    }

    /// `sign_request` sends exactly the vector's headers and reaches the vector's signature.
    #[test]
    fn sign_request_reproduces_the_reference_vector() {
        let input = SignInput {
            host: "ecs.cn-hangzhou.aliyuncs.com",
            action: "DescribeInvocations",
            access_key_id: SDK_ID,
            access_key_secret: SDK_SECRET,
            security_token: None,
            date: "2024-05-01T08:30:00Z",
            nonce: "6a1f0b2c3d4e5f60718293a4b5c6d7e8",
        };
        let headers = sign_request(&input, &vector_query());
        let names: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "host",
                "x-acs-action",
                "x-acs-content-sha256",
                "x-acs-date",
                "x-acs-signature-nonce",
                "x-acs-version",
                "authorization"
            ]
        );
        assert_eq!(
            headers.last().map(|(_, v)| v.as_str()),
            Some(
                "ACS3-HMAC-SHA256 Credential=LTAI5tTestAccessKeyId,\
                 SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;\
                 x-acs-signature-nonce;x-acs-version,\
                 Signature=376264e33e1b9f6199051f6ffac0cc10e84627ad9bf9b00fa5b918f17ee9efe6"
            )
        );
    }

    /// An STS token is sent and signed; values are RFC 3986-encoded in the canonical query.
    #[test]
    fn security_token_and_encoded_values_are_signed() {
        let query: Params = pairs(&[
            ("RegionId", "cn-hangzhou"),
            ("Name", "a b*~/é"),
            ("InstanceId.10", "i-2"),
            ("InstanceId.2", "i-1"),
        ])
        .into_iter()
        .collect();
        let input = SignInput {
            host: "127.0.0.1:8080",
            action: "CreateCommand",
            access_key_id: "id",
            access_key_secret: "secret",
            security_token: Some("tok"),
            date: "2024-05-01T08:30:00Z",
            nonce: "n1",
        };
        let headers = sign_request(&input, &query);
        assert!(headers.contains(&("x-acs-security-token".to_owned(), "tok".to_owned())));
        let (authorization, signed) = headers.split_last().expect("authorization last");
        assert!(authorization.1.contains(
            "SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;\
             x-acs-security-token;x-acs-signature-nonce;x-acs-version,"
        ));
        let canonical = canonical_request("POST", "/", &query, signed, &sha256_hex(b""));
        assert!(canonical.contains(
            "\nInstanceId.10=i-2&InstanceId.2=i-1&Name=a%20b%2A~%2F%C3%A9&RegionId=cn-hangzhou\n"
        ));
        let expected = signature("secret", &string_to_sign(&canonical));
        assert!(authorization.1.ends_with(&format!("Signature={expected}")));
    }
}
