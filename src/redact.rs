//! The one redaction point: every piece of upstream text that can reach an
//! error message, a log line or a response passes through the invocation's
//! [`Redactor`], which knows every secret value the invocation has held (API
//! key, PAT, OAuth token, minted JWT, key passphrase).
//!
//! Two passes:
//! 1. each secret is replaced wherever it appears verbatim, in any ASCII
//!    case, percent-encoded or base64-encoded, and any `apikey=…` query
//!    fragment is blanked;
//! 2. the text is then *canonicalised* — percent-escapes, `\uXXXX` escapes
//!    and HTML entities decoded, HTML tags dropped, case folded, everything but
//!    letters and digits removed — and if a secret's canonical form still
//!    occurs, the whole text is withheld rather than quoted.
//!
//! The second pass catches the transformed echoes the first cannot place
//! (a key split by `<b></b>`, escaped character by character, and so on).

use std::sync::Mutex;

use base64::Engine;
use secrecy::{ExposeSecret, SecretString};

/// What replaces a secret in quoted text.
pub(crate) const MASK: &str = "[REDACTED]";
/// What replaces upstream text that still holds a (transformed) secret.
pub(crate) const WITHHELD: &str = "[upstream text withheld: it echoes a credential]";

/// Secrets shorter than this are not searched for (they would match
/// ordinary words); credentials are far longer.
const MIN_SECRET_LEN: usize = 6;
/// Canonical forms shorter than this are not searched for in pass 2.
const MIN_CANONICAL_LEN: usize = 8;

/// The secret values one invocation holds.
#[derive(Default)]
pub(crate) struct Redactor {
    secrets: Mutex<Vec<SecretString>>,
    /// The ones sent to an upstream (an API key, a bearer token): only these
    /// can come back in an upstream's data, so only these are looked for in
    /// response bodies (see [`Redactor::clean_json`]).
    sent: Mutex<Vec<SecretString>>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Redactor([REDACTED])")
    }
}

impl Redactor {
    /// A redactor that knows no secret yet.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Remember `value` (and each of its lines, for multi-line values such as
    /// PEM keys) as a secret.
    pub(crate) fn add(&self, value: &str) {
        let mut secrets = self.secrets.lock().unwrap_or_else(|p| p.into_inner());
        let mut push = |v: &str| {
            let v = v.trim();
            if v.len() >= MIN_SECRET_LEN && !secrets.iter().any(|s| s.expose_secret() == v) {
                secrets.push(SecretString::from(v.to_owned()));
            }
        };
        push(value);
        if value.trim().contains('\n') {
            for line in value.lines() {
                push(line);
            }
        }
    }

    /// Remember `value`, a credential about to be sent to an upstream, as a
    /// secret that response bodies are searched for too.
    pub(crate) fn add_sent(&self, value: &str) {
        self.add(value);
        let value = value.trim();
        let mut sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        if value.len() >= MIN_SECRET_LEN && !sent.iter().any(|s| s.expose_secret() == value) {
            sent.push(SecretString::from(value.to_owned()));
        }
    }

    /// `text` with every known secret masked, or [`WITHHELD`] when a
    /// transformed secret remains that cannot be masked in place.
    pub(crate) fn clean(&self, text: &str) -> String {
        let secrets = self.secrets.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = mask_query_keys(text);
        for secret in secrets.iter() {
            let secret = secret.expose_secret();
            for form in encodings(secret) {
                out = replace_ignore_ascii_case(&out, &form, MASK);
            }
        }
        let canonical = canonical(&out);
        let leaked = secrets.iter().any(|s| {
            let c = canonical_secret(s.expose_secret());
            c.len() >= MIN_CANONICAL_LEN && canonical.contains(&c)
        });
        if leaked { WITHHELD.to_owned() } else { out }
    }

    /// Mask, in serialized JSON output (a response body), the credentials
    /// this invocation sent upstream, where an upstream echoed them verbatim;
    /// JSON-safe ones only, so the JSON stays valid. Values never sent (a
    /// private key, its passphrase, the secret document) cannot come back
    /// from an upstream, and a large body is not scanned for them.
    pub(crate) fn clean_json(&self, json: String) -> String {
        if !self.echoes_sent(&json) {
            return json;
        }
        let secrets = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = json;
        for secret in secrets.iter() {
            let secret = secret.expose_secret();
            if !json_safe(secret) {
                continue;
            }
            if out.contains(secret) {
                out = out.replace(secret, MASK);
            }
        }
        out
    }

    /// Whether serialized JSON output holds, verbatim, a JSON-safe credential
    /// this invocation sent upstream (what [`Redactor::clean_json`] masks).
    pub(crate) fn echoes_sent(&self, json: &str) -> bool {
        let secrets = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        secrets.iter().any(|secret| {
            let secret = secret.expose_secret();
            json_safe(secret) && memchr::memmem::find(json.as_bytes(), secret.as_bytes()).is_some()
        })
    }
}

/// Whether `secret` reads the same inside a JSON string (no quote,
/// backslash or control character), so it can be found and masked there
/// without breaking the JSON.
fn json_safe(secret: &str) -> bool {
    !secret.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20)
}

/// The forms a secret is searched for verbatim (case-insensitively).
fn encodings(secret: &str) -> Vec<String> {
    let mut forms = vec![secret.to_owned()];
    let percent = percent_encode(secret);
    if percent != secret {
        forms.push(percent);
    }
    let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
    forms.push(b64.trim_end_matches('=').to_owned());
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
    if !forms.contains(&url) {
        forms.push(url);
    }
    forms
}

fn percent_encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, crate::upstream::UNRESERVED).to_string()
}

/// Replace every ASCII-case-insensitive occurrence of `needle`.
fn replace_ignore_ascii_case(haystack: &str, needle: &str, with: &str) -> String {
    if needle.is_empty() || haystack.len() < needle.len() {
        return haystack.to_owned();
    }
    // ASCII lower-casing keeps byte offsets and char boundaries.
    let lower_hay = haystack.to_ascii_lowercase();
    let lower_needle = needle.to_ascii_lowercase();
    let mut out = String::with_capacity(haystack.len());
    let mut last = 0;
    for (at, _) in lower_hay.match_indices(&lower_needle) {
        if at < last {
            continue;
        }
        out.push_str(&haystack[last..at]);
        out.push_str(with);
        last = at + needle.len();
    }
    out.push_str(&haystack[last..]);
    out
}

/// Blank the value of every `apikey=` fragment (any case).
fn mask_query_keys(text: &str) -> String {
    const NAME: &str = "apikey=";
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (at, _) in lower.match_indices(NAME) {
        if at < last {
            continue;
        }
        let start = at + NAME.len();
        let end = text[start..]
            .find(|c: char| c == '&' || c.is_whitespace() || "\"')<>".contains(c))
            .map_or(text.len(), |i| start + i);
        out.push_str(&text[last..start]);
        out.push_str(MASK);
        last = end;
    }
    out.push_str(&text[last..]);
    out
}

/// Letters and digits of a secret, lower-cased.
fn canonical_secret(secret: &str) -> String {
    secret
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Decode what an echo may have encoded, drop markup, fold case and keep
/// letters and digits only.
fn canonical(text: &str) -> String {
    let decoded = decode_escapes(text);
    let mut out = String::with_capacity(decoded.len());
    let mut in_tag = false;
    for c in decoded.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if in_tag => {}
            c if c.is_alphanumeric() => out.extend(c.to_lowercase()),
            _ => {}
        }
    }
    out
}

/// Decode `%XX`, `\uXXXX`, `\xXX`, `&#NN;`, `&#xNN;` and a few named HTML
/// entities; anything malformed is kept as it is.
fn decode_escapes(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let hex = |s: &[char]| -> Option<u32> {
        let s: String = s.iter().collect();
        u32::from_str_radix(&s, 16).ok()
    };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let rest = &chars[i..];
        let decoded: Option<(char, usize)> = match c {
            '%' if rest.len() >= 3 => hex(&rest[1..3]).and_then(char::from_u32).map(|c| (c, 3)),
            '\\' if rest.len() >= 6 && (rest[1] == 'u' || rest[1] == 'U') => {
                hex(&rest[2..6]).and_then(char::from_u32).map(|c| (c, 6))
            }
            '\\' if rest.len() >= 4 && rest[1] == 'x' => {
                hex(&rest[2..4]).and_then(char::from_u32).map(|c| (c, 4))
            }
            '&' => {
                let end = rest.iter().take(12).position(|&c| c == ';');
                end.and_then(|end| {
                    let entity: String = rest[1..end].iter().collect();
                    let c = if let Some(h) = entity
                        .strip_prefix("#x")
                        .or_else(|| entity.strip_prefix("#X"))
                    {
                        u32::from_str_radix(h, 16).ok().and_then(char::from_u32)
                    } else if let Some(d) = entity.strip_prefix('#') {
                        d.parse::<u32>().ok().and_then(char::from_u32)
                    } else {
                        match entity.as_str() {
                            "amp" => Some('&'),
                            "lt" => Some('<'),
                            "gt" => Some('>'),
                            "quot" => Some('"'),
                            "apos" => Some('\''),
                            _ => None,
                        }
                    };
                    c.map(|c| (c, end + 1))
                })
            }
            _ => None,
        };
        match decoded {
            Some((c, used)) => {
                out.push(c);
                i += used;
            }
            None => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "SENTINEL-av-key-7f3a9c1e5b";

    fn redactor() -> Redactor {
        let r = Redactor::new();
        r.add(KEY);
        r
    }

    fn assert_clean(text: &str) {
        let out = redactor().clean(text);
        assert!(
            !canonical(&out).contains(&canonical_secret(KEY)),
            "{text:?} -> {out:?}"
        );
    }

    #[test]
    fn verbatim_and_case_variants_are_masked_in_place() {
        let r = redactor();
        assert_eq!(
            r.clean(&format!("We have detected your API key as {KEY} and")),
            "We have detected your API key as [REDACTED] and"
        );
        assert_eq!(
            r.clean(&format!("key {} here", KEY.to_ascii_lowercase())),
            "key [REDACTED] here"
        );
        assert_eq!(
            r.clean(&format!("KEY {}", KEY.to_ascii_uppercase())),
            "KEY [REDACTED]"
        );
    }

    #[test]
    fn query_fragments_are_blanked() {
        let r = Redactor::new();
        assert_eq!(
            r.clean("https://x/query?function=F&APIKEY=other&symbol=IBM"),
            "https://x/query?function=F&APIKEY=[REDACTED]&symbol=IBM"
        );
    }

    #[test]
    fn transformed_echoes_never_survive() {
        let escaped: String = KEY
            .chars()
            .map(|c| format!("\\u{:04x}", c as u32))
            .collect();
        let split = format!("{}<b></b>{}", &KEY[..8], &KEY[8..]);
        let entities: String = KEY.chars().map(|c| format!("&#{};", c as u32)).collect();
        let spaced: String = KEY.chars().map(|c| format!("{c} ")).collect();
        let b64 = base64::engine::general_purpose::STANDARD.encode(KEY);
        for text in [
            format!("bad key {}", percent_encode(KEY)),
            format!("bad key {}", percent_encode(KEY).to_ascii_lowercase()),
            format!("key: {escaped}"),
            format!("<html>{split}</html>"),
            format!("key {entities}"),
            format!("key {spaced}"),
            format!("Basic {b64}"),
            format!("{{\"{KEY}\": 1}}"),
        ] {
            assert_clean(&text);
        }
    }

    #[test]
    fn unrelated_text_is_kept() {
        let r = redactor();
        let text = "Thank you for using Alpha Vantage! 25 requests per day.";
        assert_eq!(r.clean(text), text);
        assert_eq!(Redactor::new().clean("tiny"), "tiny");
        let short = Redactor::new();
        short.add("abc");
        assert_eq!(short.clean("abc def"), "abc def", "too short to search");
    }

    #[test]
    fn multi_line_values_register_each_line() {
        let r = Redactor::new();
        r.add("-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END KEY-----");
        assert_eq!(
            r.clean("oops MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"),
            "oops [REDACTED]"
        );
    }

    #[test]
    fn json_output_is_masked_and_stays_json() {
        let r = Redactor::new();
        r.add_sent(KEY);
        let body = format!("{{\"rows\":[{{\"note\":\"{KEY}\"}}]}}");
        let out = r.clean_json(body);
        assert!(!out.contains(KEY));
        assert!(serde_json::from_str::<serde_json::Value>(&out).is_ok());
    }
}
