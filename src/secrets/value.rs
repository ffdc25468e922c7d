//! Secret values in memory: types that never print their contents.
//!
//! [`SecretDocument`] is what Secrets Manager stored (a string or binary);
//! [`SecretValue`] is the one credential a task needs, extracted from the
//! document by the reference's JSON key. Neither implements `Display`, both
//! redact themselves in `Debug`, and both zero their memory on drop
//! (through `secrecy`).

use std::fmt;

use secrecy::{ExposeSecret, SecretBox, SecretString};
use serde_json::Value;

use super::reference::SecretRef;
use crate::error::{AppError, ErrorKind};

/// One credential, e.g. an API key. Redacted in `Debug`; no `Display`.
#[derive(Clone)]
pub struct SecretValue(SecretString);

impl SecretValue {
    /// Wrap a credential.
    pub fn new(value: impl Into<String>) -> Self {
        SecretValue(SecretString::from(value.into()))
    }

    /// The credential itself: call only where it is sent upstream.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue([REDACTED])")
    }
}

impl PartialEq for SecretValue {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

/// A stored secret version, as Secrets Manager returned it.
pub enum SecretDocument {
    /// `SecretString`.
    Text(SecretString),
    /// `SecretBinary`.
    Binary(SecretBox<Vec<u8>>),
}

impl fmt::Debug for SecretDocument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretDocument::Text(_) => f.write_str("SecretDocument::Text([REDACTED])"),
            SecretDocument::Binary(_) => f.write_str("SecretDocument::Binary([REDACTED])"),
        }
    }
}

impl SecretDocument {
    /// A text secret.
    pub fn text(value: impl Into<String>) -> Self {
        SecretDocument::Text(SecretString::from(value.into()))
    }

    /// A binary secret.
    pub fn binary(value: Vec<u8>) -> Self {
        SecretDocument::Binary(SecretBox::new(Box::new(value)))
    }

    /// Extract the credential `reference` asks for.
    ///
    /// With a JSON key the document must be a JSON object holding that key.
    /// Without one, a JSON object is searched for the first of
    /// `default_keys`; anything else is used whole (trimmed), so a plain
    /// string secret works.
    pub fn extract(
        &self,
        reference: &SecretRef,
        default_keys: &[&str],
    ) -> Result<SecretValue, AppError> {
        let malformed = |why: String| {
            AppError::new(
                ErrorKind::SecretMalformed,
                format!("secret '{reference}' {why}"),
            )
        };
        let text = match self {
            SecretDocument::Text(s) => s.expose_secret(),
            SecretDocument::Binary(b) => std::str::from_utf8(b.expose_secret())
                .map_err(|_| malformed("is binary and not UTF-8 text".into()))?,
        };
        let trimmed = text.trim();
        // Anything that looks like JSON must be JSON: a document that fails
        // to parse is never used whole, since it would send every value it
        // holds as the credential.
        let object = match trimmed.as_bytes().first() {
            Some(b'{' | b'[') => match serde_json::from_str::<Value>(trimmed) {
                Ok(Value::Object(map)) => Some(map),
                Ok(_) => {
                    return Err(malformed(
                        "is a JSON array, not an object or a plain value".into(),
                    ));
                }
                Err(e) => {
                    return Err(malformed(format!(
                        "looks like JSON but is not valid JSON ({e}); fix the secret's text"
                    )));
                }
            },
            _ => None,
        };
        let value = match (reference.json_key(), &object) {
            (Some(key), Some(map)) => match map.get(key) {
                Some(v) => scalar(v).ok_or_else(|| {
                    malformed(format!(
                        "has key '{key}' but its value is not a non-empty string or number"
                    ))
                })?,
                None => return Err(malformed(format!("has no JSON key '{key}'"))),
            },
            (Some(key), None) => {
                return Err(malformed(format!(
                    "is not a JSON object, so JSON key '{key}' cannot be read"
                )));
            }
            (None, Some(map)) => {
                let found = default_keys
                    .iter()
                    .find_map(|k| map.get(*k).and_then(scalar));
                match found {
                    Some(v) => v,
                    None if default_keys.is_empty() => trimmed.to_owned(),
                    None => {
                        return Err(malformed(format!(
                            "is a JSON object without any of the keys {}; name the key in the reference as '{}:KEY'",
                            default_keys.join(", "),
                            reference.secret_id()
                        )));
                    }
                }
            }
            (None, None) => trimmed.to_owned(),
        };
        if value.is_empty() {
            return Err(malformed("is empty".into()));
        }
        Ok(SecretValue::new(value))
    }
}

/// A JSON value as credential text: strings as they are, numbers printed.
/// Null, "", booleans, objects and arrays are not credentials.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if s.trim().is_empty() => None,
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> SecretRef {
        SecretRef::parse(s).unwrap()
    }

    #[test]
    fn debug_redacts() {
        let v = SecretValue::new("hunter2-sentinel");
        assert_eq!(format!("{v:?}"), "SecretValue([REDACTED])");
        let d = SecretDocument::text("hunter2-sentinel");
        assert!(!format!("{d:?}").contains("hunter2"));
    }

    #[test]
    fn plain_string_is_used_whole() {
        let d = SecretDocument::text("  ABCDEF123  \n");
        assert_eq!(
            d.extract(&r("av"), &["apikey"]).unwrap().expose(),
            "ABCDEF123"
        );
    }

    #[test]
    fn json_object_with_default_key() {
        let d = SecretDocument::text(r#"{"apikey": "K1", "other": 1}"#);
        assert_eq!(d.extract(&r("av"), &["apikey"]).unwrap().expose(), "K1");
    }

    #[test]
    fn json_key_from_reference_wins() {
        let d = SecretDocument::text(r#"{"apikey": "K1", "backup": "K2", "n": 42}"#);
        assert_eq!(
            d.extract(&r("av:backup"), &["apikey"]).unwrap().expose(),
            "K2"
        );
        assert_eq!(d.extract(&r("av:n"), &["apikey"]).unwrap().expose(), "42");
    }

    #[test]
    fn binary_secrets_work_when_utf8() {
        let d = SecretDocument::binary(br#"{"apikey":"B1"}"#.to_vec());
        assert_eq!(d.extract(&r("av"), &["apikey"]).unwrap().expose(), "B1");
        let d = SecretDocument::binary(vec![0xff, 0xfe, 0x00]);
        let err = d.extract(&r("av"), &["apikey"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::SecretMalformed);
    }

    #[test]
    fn errors_name_the_reference_never_the_value() {
        let d = SecretDocument::text(r#"{"user": "SENTINEL-VALUE"}"#);
        for (reference, defaults) in [("db:password", &["apikey"][..]), ("db", &["apikey"][..])] {
            let err = d.extract(&r(reference), defaults).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::SecretMalformed);
            assert!(err.message().contains("'db"), "{}", err.message());
            assert!(!err.message().contains("SENTINEL"), "{}", err.message());
        }
        let d = SecretDocument::text("SENTINEL-PLAIN");
        let err = d.extract(&r("db:password"), &[]).unwrap_err();
        assert!(!err.message().contains("SENTINEL"));
        let err = SecretDocument::text("   ")
            .extract(&r("db"), &[])
            .unwrap_err();
        assert!(err.message().contains("empty"));
    }

    #[test]
    fn only_parsed_strings_and_numbers_are_credentials() {
        for text in [
            // JSON that does not parse is never used whole.
            r#"{"apikey": "K", "db_password": "P",}"#,
            r#"{"apikey": "K""#,
            r#"["K"]"#,
            // Structured values are not credentials.
            r#"{"apikey": {"k": "v"}}"#,
            r#"{"apikey": ["K"]}"#,
            r#"{"apikey": true}"#,
        ] {
            let err = SecretDocument::text(text)
                .extract(&r("av/key"), &["apikey"])
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::SecretMalformed, "{text}");
            assert!(err.message().contains("'av/key'"), "{}", err.message());
            assert!(!err.message().contains("db_password"));
        }
    }

    #[test]
    fn null_value_is_malformed() {
        let d = SecretDocument::text(r#"{"apikey": null}"#);
        let err = d.extract(&r("av:apikey"), &[]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::SecretMalformed);
    }
}
