//! Redaction: what keeps secrets out of every record a service leaves. One
//! pass over text masks email addresses, bearer credentials, long hex
//! strings (a session token is 64 hex digits) and the value of any
//! `password`, `token`, `secret` or `authorization` field, written as
//! `key=value`, `key: value` or JSON. The kit runs it on every log line
//! (`telemetry`), every exported span attribute and span event, and every
//! error the HTTP client builds; the harness runs it on what its recorder
//! keeps. It masks rather than drops, so a reader still sees that a value
//! was there.

use std::borrow::Cow;

/// What a masked secret is replaced by.
pub const MASK: &str = "<redacted>";
/// What a masked email address is replaced by.
pub const EMAIL_MASK: &str = "<email>";

/// Field names whose values are secret whatever they look like.
const SECRET_KEYS: &[&str] = &["password", "token", "secret", "authorization", "cookie", "api_key", "apikey"];

/// A hex run this long is taken for a credential: longer than any trace id
/// (32) or span id (16) the platform logs, shorter than its tokens (64).
const HEX_RUN: usize = 40;

/// Whether a field named `key` holds a secret (`password`, `new_password`,
/// `X-Session-Token`, `Authorization`…).
pub fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SECRET_KEYS.iter().any(|k| key.contains(k))
}

/// `text` with every secret in it masked; borrowed when nothing was.
pub fn text(text: &str) -> Cow<'_, str> {
    if !might_hold_secret(text) {
        return Cow::Borrowed(text);
    }
    let masked = mask_keyed_values(text);
    let masked = mask_bearer(&masked);
    let masked = mask_emails(&masked);
    let masked = mask_hex_runs(&masked);
    if masked == text { Cow::Borrowed(text) } else { Cow::Owned(masked) }
}

/// Masks a JSON value in place: the value of any secret key whole, and
/// every string by [`text`].
pub fn json(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::String(s) => {
            if let Cow::Owned(masked) = text(s) {
                *s = masked;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(json),
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if is_secret_key(key) && !v.is_null() {
                    *v = Value::String(MASK.to_owned());
                } else {
                    json(v);
                }
            }
        }
        _ => {}
    }
}

/// A cheap first look, so that most log lines are not copied at all.
fn might_hold_secret(text: &str) -> bool {
    if text.contains('@') {
        return true;
    }
    let lower = text.to_ascii_lowercase();
    if lower.contains("bearer") || SECRET_KEYS.iter().any(|k| lower.contains(k)) {
        return true;
    }
    let mut run = 0;
    for b in text.bytes() {
        run = if b.is_ascii_hexdigit() { run + 1 } else { 0 };
        if run >= HEX_RUN {
            return true;
        }
    }
    false
}

/// `password=x`, `"token": "x"`, `Authorization: x` → the value masked. The
/// value ends at a quote, whitespace (unless it was quoted), `,`, `;`, `&`,
/// `}` or `]`.
fn mask_keyed_values(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < text.len() {
        let Some(key) = SECRET_KEYS.iter().find(|k| lower[i..].starts_with(*k)) else {
            i += 1;
            continue;
        };
        // The key may run on (`password_hash`, `token_count`): take the whole word.
        let mut j = i + key.len();
        while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_' || bytes[j] == b'-') {
            j += 1;
        }
        let mut k = j;
        if k < bytes.len() && bytes[k] == b'"' {
            k += 1;
        }
        while k < bytes.len() && bytes[k] == b' ' {
            k += 1;
        }
        if k >= bytes.len() || (bytes[k] != b'=' && bytes[k] != b':') {
            i = j;
            continue;
        }
        k += 1;
        while k < bytes.len() && bytes[k] == b' ' {
            k += 1;
        }
        let quoted = k < bytes.len() && bytes[k] == b'"';
        if quoted {
            k += 1;
        }
        // `Authorization: Bearer x`: the scheme stays, the credential goes.
        for scheme in ["bearer ", "basic "] {
            if lower[k..].starts_with(scheme) {
                k += scheme.len();
            }
        }
        let start = k;
        while k < bytes.len() {
            let b = bytes[k];
            let ends = b == b'"' || (!quoted && (b.is_ascii_whitespace() || b",;&}]".contains(&b)));
            if ends {
                break;
            }
            // A quoted value may hold an escaped quote.
            k += if quoted && b == b'\\' { 2 } else { 1 };
        }
        let k = k.min(bytes.len());
        let value = &text[start..k];
        if !value.is_empty() && value != MASK {
            out.push_str(&text[copied..start]);
            out.push_str(MASK);
            copied = k;
        }
        i = k.max(i + 1);
    }
    out.push_str(&text[copied..]);
    out
}

/// `Bearer <credential>` → `Bearer <redacted>`.
fn mask_bearer(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut from = 0;
    while let Some(at) = lower[from..].find("bearer ") {
        let start = from + at + "bearer ".len();
        let end = text[start..]
            .find(|c: char| c.is_whitespace() || "\"',;&}]".contains(c))
            .map(|n| start + n)
            .unwrap_or(text.len());
        if end > start && &text[start..end] != MASK {
            out.push_str(&text[copied..start]);
            out.push_str(MASK);
            copied = end;
        }
        from = end.max(start);
    }
    out.push_str(&text[copied..]);
    out
}

/// `someone@example.com` → `<email>`.
fn mask_emails(text: &str) -> String {
    let local = |c: char| c.is_ascii_alphanumeric() || "._%+-".contains(c);
    let domain = |c: char| c.is_ascii_alphanumeric() || ".-".contains(c);
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut from = 0;
    while let Some(at) = text[from..].find('@').map(|n| from + n) {
        let start = text[..at].rfind(|c: char| !local(c)).map(|n| n + 1).unwrap_or(0).max(copied);
        let end = text[at + 1..].find(|c: char| !domain(c)).map(|n| at + 1 + n).unwrap_or(text.len());
        let host = text[at + 1..end].trim_end_matches('.');
        let end = at + 1 + host.len();
        if start < at && host.contains('.') && !host.starts_with('.') {
            out.push_str(&text[copied..start]);
            out.push_str(EMAIL_MASK);
            copied = end;
        }
        from = end.max(at + 1);
    }
    out.push_str(&text[copied..]);
    out
}

/// Hex runs of [`HEX_RUN`] digits or more → `<redacted>`.
fn mask_hex_runs(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_hexdigit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_hexdigit() {
            i += 1;
        }
        if i - start >= HEX_RUN {
            out.push_str(&text[copied..start]);
            out.push_str(MASK);
            copied = i;
        }
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const TOKEN: &str = "c453b9a8e0f14b2d9c7e5a3f1b0d8c6e4a2f0e9d7c5b3a1f9e8d7c6b5a4f3e2d";

    #[test]
    fn secrets_in_text_are_masked_and_the_rest_is_kept() {
        let cases = [
            (format!("request: users GET /sessions/{TOKEN}"), "request: users GET /sessions/<redacted>".to_owned()),
            (format!("authorization: Bearer {TOKEN}"), "authorization: Bearer <redacted>".to_owned()),
            (format!("sent Bearer {TOKEN} to store"), "sent Bearer <redacted> to store".to_owned()),
            (
                r#"{"email":"ada@example.com","password":"correct horse"}"#.to_owned(),
                r#"{"email":"<email>","password":"<redacted>"}"#.to_owned(),
            ),
            ("login password=hunter22 user=ada".to_owned(), "login password=<redacted> user=ada".to_owned()),
            (r#"{"token": "abc\"def", "n": 1}"#.to_owned(), r#"{"token": "<redacted>", "n": 1}"#.to_owned()),
            ("mail to Ada.L+x@mail.example.org.".to_owned(), "mail to <email>.".to_owned()),
        ];
        for (input, want) in cases {
            assert_eq!(text(&input), want, "{input}");
        }
        for kept in [
            "order 0f6c3d1e-7a42-4a0e-9a1c-2b9f1d3c4e5f placed",
            "traceparent 00-0f6c3d1e7a424a0e9a1c2b9f1d3c4e5f-00f067aa0ba902b7-01",
            "a@b is no address, nor is @example.com",
        ] {
            assert!(matches!(text(kept), Cow::Borrowed(_)), "{kept} -> {}", text(kept));
        }
    }

    #[test]
    fn json_masks_secret_keys_whole_and_strings_by_text() {
        let mut value = json!({
            "user": {"email": "ada@example.com", "name": "Ada"},
            "X-Session-Token": 12345,
            "notes": [format!("token {TOKEN}")],
            "password": null
        });
        json(&mut value);
        assert_eq!(
            value,
            json!({
                "user": {"email": "<email>", "name": "Ada"},
                "X-Session-Token": "<redacted>",
                "notes": ["token <redacted>"],
                "password": null
            })
        );
    }
}
