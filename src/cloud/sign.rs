//! RPC signature V1 (HMAC-SHA1), as a pure function of credential, parameters, time and nonce.
//!
//! See <https://www.alibabacloud.com/help/en/sdk/product-overview/rpc-mechanism> and reference
//! §2. The client signs with [`sign_request`]; the sandbox checks with [`string_to_sign`] and
//! [`signature`]. Nothing here does I/O or reads the clock.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::cloud::wire::Params;

/// The API version every action here belongs to.
pub const API_VERSION: &str = "2014-05-26";

/// Percent-encodes `value` as RFC 3986 strictly requires: only `A-Z a-z 0-9 - _ . ~` stay
/// literal, every other UTF-8 byte becomes `%XY` with upper-case hex (space is `%20`, never `+`).
pub fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + value.len() / 2);
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
    out
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// The canonicalised query string: every parameter but `Signature`, sorted by name in byte
/// order, each name and value percent-encoded, joined with `&`.
pub fn canonical_query(params: &Params) -> String {
    let mut out = String::new();
    // `Params` is a `BTreeMap<String, _>`, which iterates in byte order of the names.
    for (name, value) in params.iter().filter(|(name, _)| *name != "Signature") {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(&percent_encode(name));
        out.push('=');
        out.push_str(&percent_encode(value));
    }
    out
}

/// `METHOD&%2F&enc(canonical query)`.
pub fn string_to_sign(method: &str, params: &Params) -> String {
    format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        percent_encode("/"),
        percent_encode(&canonical_query(params))
    )
}

/// `Base64(HMAC-SHA1(secret + "&", string_to_sign))`.
pub fn signature(secret: &str, string_to_sign: &str) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(format!("{secret}&").as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(string_to_sign.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// What one signed request is made of, all fixed by the caller so that signing is repeatable.
#[derive(Debug, Clone, Copy)]
pub struct SignInput<'a> {
    /// `GET` or `POST`.
    pub method: &'a str,
    /// The action name, e.g. `InvokeCommand`.
    pub action: &'a str,
    /// The region of the resources.
    pub region: &'a str,
    /// `AccessKey` id.
    pub access_key_id: &'a str,
    /// `AccessKey` secret; only used as the HMAC key.
    pub access_key_secret: &'a str,
    /// STS token, signed as the `SecurityToken` parameter when present.
    pub security_token: Option<&'a str>,
    /// `yyyy-MM-ddTHH:mm:ssZ` in UTC.
    pub timestamp: &'a str,
    /// Unique per request.
    pub nonce: &'a str,
}

/// Adds the common parameters to `params` and returns them with `Signature` set.
pub fn sign_request(input: &SignInput<'_>, mut params: Params) -> Params {
    let common = [
        ("Action", input.action),
        ("Version", API_VERSION),
        ("Format", "JSON"),
        ("RegionId", input.region),
        ("AccessKeyId", input.access_key_id),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
        ("SignatureNonce", input.nonce),
        ("Timestamp", input.timestamp),
    ];
    for (name, value) in common {
        params.insert(name.to_owned(), value.to_owned());
    }
    if let Some(token) = input.security_token {
        params.insert("SecurityToken".to_owned(), token.to_owned());
    }
    let to_sign = string_to_sign(input.method, &params);
    params.insert(
        "Signature".to_owned(),
        signature(input.access_key_secret, &to_sign),
    );
    params
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn published(timestamp_key: &str) -> Params {
        params(&[
            ("Action", "DescribeRegions"),
            ("Format", "XML"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"),
            ("SignatureVersion", "1.0"),
            ("Version", "2014-05-26"),
            (timestamp_key, "2016-02-23T12:46:24Z"),
            ("AccessKeyId", "testid"),
        ])
    }

    /// Reference §2.5 vectors 1 and 2: the published ones.
    #[test]
    fn published_vectors() {
        let cases = [
            (
                "Timestamp",
                "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26",
                "OLeaidS1JvxuMvnyHOwuJ+uX5qY=",
            ),
            (
                "TimeStamp",
                "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0%26TimeStamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26",
                "CT9X0VtwR86fNWSnsc6v8YGOjuE=",
            ),
        ];
        for (key, expected_sts, expected_sig) in cases {
            let sts = string_to_sign("GET", &published(key));
            assert_eq!(sts, expected_sts);
            assert_eq!(signature("testsecret", &sts), expected_sig);
        }
        assert_eq!(
            percent_encode("OLeaidS1JvxuMvnyHOwuJ+uX5qY="),
            "OLeaidS1JvxuMvnyHOwuJ%2BuX5qY%3D"
        );
    }

    const SDK_ID: &str = "LTAI5tTestAccessKeyId";
    const SDK_SECRET: &str = "TestSecretKey0123456789abcdef";

    fn sdk_common(nonce: &str, timestamp: &str, region: &str, action: &str) -> Params {
        params(&[
            ("AccessKeyId", SDK_ID),
            ("Action", action),
            ("Format", "JSON"),
            ("RegionId", region),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", nonce),
            ("SignatureType", ""),
            ("SignatureVersion", "1.0"),
            ("Timestamp", timestamp),
            ("Version", "2014-05-26"),
        ])
    }

    /// Reference §2.5 vector 3: POST `CreateCommand` with spaces, an en dash and CJK in the name.
    #[test]
    fn official_sdk_vector_3_create_command() {
        let mut p = sdk_common(
            "a1b2c3d4e5f60718293a4b5c6d7e8f90",
            "2024-05-01T08:30:00Z",
            "cn-hangzhou",
            "CreateCommand",
        );
        p.extend(params(&[
            (
                "Name",
                "Disk check \u{2013} \u{c4}\u{d6} \u{78c1}\u{76d8} v1",
            ),
            ("Type", "RunShellScript"),
            ("ContentEncoding", "Base64"),
            ("Timeout", "120"),
            ("WorkingDir", "/tmp"),
            ("Description", "check disk & load*"),
            (
                "CommandContent",
                "IyEvYmluL2Jhc2gKZWNobyAiaGVsbG8gZnJvbSAkKGhvc3RuYW1lKSIKdXB0aW1lCg==",
            ),
        ]));
        let sts = string_to_sign("POST", &p);
        assert_eq!(
            sts,
            "POST&%2F&AccessKeyId%3DLTAI5tTestAccessKeyId%26Action%3DCreateCommand%26CommandContent%3DIyEvYmluL2Jhc2gKZWNobyAiaGVsbG8gZnJvbSAkKGhvc3RuYW1lKSIKdXB0aW1lCg%253D%253D%26ContentEncoding%3DBase64%26Description%3Dcheck%2520disk%2520%2526%2520load%252A%26Format%3DJSON%26Name%3DDisk%2520check%2520%25E2%2580%2593%2520%25C3%2584%25C3%2596%2520%25E7%25A3%2581%25E7%259B%2598%2520v1%26RegionId%3Dcn-hangzhou%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3Da1b2c3d4e5f60718293a4b5c6d7e8f90%26SignatureType%3D%26SignatureVersion%3D1.0%26Timeout%3D120%26Timestamp%3D2024-05-01T08%253A30%253A00Z%26Type%3DRunShellScript%26Version%3D2014-05-26%26WorkingDir%3D%252Ftmp"
        );
        assert_eq!(signature(SDK_SECRET, &sts), "rDkeCSQZlOddGDPaRoYEinMalC0=");
        p.remove("SignatureType");
        assert_eq!(
            signature(SDK_SECRET, &string_to_sign("POST", &p)),
            "05MRW+tjxefTGZvLEu9G3Absw5I="
        );
    }

    /// Reference §2.5 vector 4: `InvokeCommand` with two instances and JSON `Parameters`.
    #[test]
    fn official_sdk_vector_4_invoke_command() {
        let mut p = sdk_common(
            "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
            "2024-05-01T08:30:00Z",
            "cn-hangzhou",
            "InvokeCommand",
        );
        p.extend(params(&[
            ("CommandId", "c-hz01abcdef0123456"),
            ("InstanceId.1", "i-bp1aaaaaaaaaaaaaaaa1"),
            ("InstanceId.2", "i-bp1bbbbbbbbbbbbbbbb2"),
            (
                "Parameters",
                r#"{"name":"Jack O'Neil","path":"/var/log/~app"}"#,
            ),
            ("RepeatMode", "Once"),
            ("Timeout", "300"),
            ("ClientToken", "runbook-42-step-3"),
        ]));
        let sts = string_to_sign("POST", &p);
        assert_eq!(
            sts,
            "POST&%2F&AccessKeyId%3DLTAI5tTestAccessKeyId%26Action%3DInvokeCommand%26ClientToken%3Drunbook-42-step-3%26CommandId%3Dc-hz01abcdef0123456%26Format%3DJSON%26InstanceId.1%3Di-bp1aaaaaaaaaaaaaaaa1%26InstanceId.2%3Di-bp1bbbbbbbbbbbbbbbb2%26Parameters%3D%257B%2522name%2522%253A%2522Jack%2520O%2527Neil%2522%252C%2522path%2522%253A%2522%252Fvar%252Flog%252F~app%2522%257D%26RegionId%3Dcn-hangzhou%26RepeatMode%3DOnce%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D0f1e2d3c4b5a69788796a5b4c3d2e1f0%26SignatureType%3D%26SignatureVersion%3D1.0%26Timeout%3D300%26Timestamp%3D2024-05-01T08%253A30%253A00Z%26Version%3D2014-05-26"
        );
        let sig = signature(SDK_SECRET, &sts);
        assert_eq!(sig, "ODoAeP10NrYBwBf259CL/7TOntQ=");
        assert_eq!(percent_encode(&sig), "ODoAeP10NrYBwBf259CL%2F7TOntQ%3D");
    }

    /// Reference §2.5 vector 5: query and form-body parameters are signed as one set.
    #[test]
    fn official_sdk_vector_5_body_parameters_are_signed() {
        let mut p = sdk_common(
            "5e7c0d2a9b8f4c1e8d3a6b5c4f2e1d0a",
            "2024-05-01T08:31:15Z",
            "cn-shanghai",
            "DescribeInvocationResults",
        );
        p.insert("InvokeId".into(), "t-sh01abcdef0123456".into());
        let body = "InstanceId=i-uf6cccccccccccccccc3&ContentEncoding=PlainText&MaxResults=50";
        p.extend(form_urlencoded::parse(body.as_bytes()).into_owned());
        let sts = string_to_sign("POST", &p);
        assert_eq!(
            sts,
            "POST&%2F&AccessKeyId%3DLTAI5tTestAccessKeyId%26Action%3DDescribeInvocationResults%26ContentEncoding%3DPlainText%26Format%3DJSON%26InstanceId%3Di-uf6cccccccccccccccc3%26InvokeId%3Dt-sh01abcdef0123456%26MaxResults%3D50%26RegionId%3Dcn-shanghai%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D5e7c0d2a9b8f4c1e8d3a6b5c4f2e1d0a%26SignatureType%3D%26SignatureVersion%3D1.0%26Timestamp%3D2024-05-01T08%253A31%253A15Z%26Version%3D2014-05-26"
        );
        assert_eq!(signature(SDK_SECRET, &sts), "ZaYJiXhanIh9rlGCr/TVaf1Jzho=");
    }

    fn b01_common(action: &str) -> Params {
        params(&[
            ("AccessKeyId", "testid"),
            ("Action", action),
            ("Format", "JSON"),
            ("RegionId", "cn-hangzhou"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"),
            ("SignatureVersion", "1.0"),
            ("Timestamp", "2025-06-01T12:00:00Z"),
            ("Version", "2014-05-26"),
        ])
    }

    /// Case B01: spaces and other special characters.
    #[test]
    fn b01_special_characters() {
        let mut p = b01_common("CreateCommand");
        p.extend(params(&[
            ("Name", "nightly backup *~"),
            (
                "Description",
                "it's (nightly)! \u{591c}\u{95f4}\u{5907}\u{4efd}",
            ),
            ("Type", "RunShellScript"),
            ("CommandContent", "ZGYgLWggLyA+PiB+L2Rpc2sudHh0ICMgb2s/Cg=="),
            ("WorkingDir", "/opt/app data"),
            ("Timeout", "600"),
        ]));
        assert_eq!(
            canonical_query(&p),
            "AccessKeyId=testid&Action=CreateCommand&CommandContent=ZGYgLWggLyA%2BPiB%2BL2Rpc2sudHh0ICMgb2s%2FCg%3D%3D&Description=it%27s%20%28nightly%29%21%20%E5%A4%9C%E9%97%B4%E5%A4%87%E4%BB%BD&Format=JSON&Name=nightly%20backup%20%2A~&RegionId=cn-hangzhou&SignatureMethod=HMAC-SHA1&SignatureNonce=3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf&SignatureVersion=1.0&Timeout=600&Timestamp=2025-06-01T12%3A00%3A00Z&Type=RunShellScript&Version=2014-05-26&WorkingDir=%2Fopt%2Fapp%20data"
        );
        let get = string_to_sign("GET", &p);
        assert_eq!(
            get,
            "GET&%2F&AccessKeyId%3Dtestid%26Action%3DCreateCommand%26CommandContent%3DZGYgLWggLyA%252BPiB%252BL2Rpc2sudHh0ICMgb2s%252FCg%253D%253D%26Description%3Dit%2527s%2520%2528nightly%2529%2521%2520%25E5%25A4%259C%25E9%2597%25B4%25E5%25A4%2587%25E4%25BB%25BD%26Format%3DJSON%26Name%3Dnightly%2520backup%2520%252A~%26RegionId%3Dcn-hangzhou%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0%26Timeout%3D600%26Timestamp%3D2025-06-01T12%253A00%253A00Z%26Type%3DRunShellScript%26Version%3D2014-05-26%26WorkingDir%3D%252Fopt%252Fapp%2520data"
        );
        assert_eq!(
            signature("testsecret", &get),
            "IQhab1XSxBpJrGcwrP8iF6Dbo3k="
        );
        let post = string_to_sign("POST", &p);
        assert_eq!(post.strip_prefix("POST"), get.strip_prefix("GET"));
        assert_eq!(
            signature("testsecret", &post),
            "y/KfT+EchAn+K6v0w7z33Z7qdyA="
        );

        let chars = [
            (" ", "%20"),
            ("*", "%2A"),
            ("~", "~"),
            ("+", "%2B"),
            ("/", "%2F"),
            ("!", "%21"),
            ("'", "%27"),
            ("(", "%28"),
            (")", "%29"),
            ("?", "%3F"),
            (":", "%3A"),
            ("=", "%3D"),
            ("&", "%26"),
            ("%", "%25"),
            ("\n", "%0A"),
            ("\u{e9}", "%C3%A9"),
            ("\u{591c}", "%E5%A4%9C"),
        ];
        for (input, expected) in chars {
            assert_eq!(percent_encode(input), expected, "encoding {input:?}");
        }
    }

    /// Case B01, second vector: a scheduled `InvokeCommand`.
    #[test]
    fn b01_scheduled_invoke() {
        let mut p = b01_common("InvokeCommand");
        p.extend(params(&[
            ("CommandId", "c-placeholder01"),
            ("InstanceId.1", "i-placeholder01"),
            ("InstanceId.2", "i-placeholder02"),
            ("RepeatMode", "Period"),
            ("Frequency", "0 0 9 ? * MON-FRI Asia/Shanghai"),
            ("Timeout", "600"),
            ("ClientToken", "rb-nightly-20250601-step1"),
        ]));
        assert!(
            canonical_query(&p)
                .contains("Frequency=0%200%209%20%3F%20%2A%20MON-FRI%20Asia%2FShanghai")
        );
        let sig = signature("testsecret", &string_to_sign("GET", &p));
        assert_eq!(sig, "VlJWNkUjih05+ub2ahAiPoo34U0=");
        assert_eq!(percent_encode(&sig), "VlJWNkUjih05%2Bub2ahAiPoo34U0%3D");
    }

    /// Case B03: `InstanceId.10` sorts before `InstanceId.2`; numeric order is a different
    /// signature, which the sandbox must reject.
    #[test]
    fn b03_byte_order_of_repeat_lists() {
        let mut p = b01_common("InvokeCommand");
        p.insert("CommandId".into(), "c-placeholder01".into());
        p.insert("ClientToken".into(), "rb-demo-step2-attempt-0001".into());
        p.insert("Timeout".into(), "600".into());
        for i in 1..=12 {
            p.insert(format!("InstanceId.{i}"), format!("i-placeholder{i:02}"));
        }
        assert_eq!(
            signature("testsecret", &string_to_sign("GET", &p)),
            "7bilK1JVCPSSmawH9MpjOu2OrHI="
        );
        // The numerically sorted variant, built by hand.
        let mut numeric: Vec<(String, String)> = p.clone().into_iter().collect();
        numeric.sort_by_key(|(k, _)| {
            let n = k
                .strip_prefix("InstanceId.")
                .and_then(|n| n.parse::<u32>().ok())
                .map_or(String::new(), |n| format!("{n:04}"));
            (k.split('.').next().unwrap().to_owned(), n)
        });
        let query: Vec<String> = numeric
            .iter()
            .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
            .collect();
        let sts = format!("GET&%2F&{}", percent_encode(&query.join("&")));
        assert_eq!(
            signature("testsecret", &sts),
            "xSimNLCgPYgqbEaLWSex6mV8kW4="
        );
    }

    #[test]
    fn sign_request_adds_common_parameters() {
        let input = SignInput {
            method: "POST",
            action: "DescribeInstances",
            region: "cn-hangzhou",
            access_key_id: "id",
            access_key_secret: "secret",
            security_token: Some("tok"),
            timestamp: "2024-05-01T08:30:00Z",
            nonce: "n1",
        };
        let signed = sign_request(&input, Params::new());
        assert_eq!(signed["SecurityToken"], "tok");
        assert_eq!(signed["Format"], "JSON");
        let expected = signature("secret", &string_to_sign("POST", &signed));
        assert_eq!(signed["Signature"], expected);
    }
}
