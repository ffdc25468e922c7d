//! Opaque, tamper-evident page cursors.
//!
//! A cursor names where the next page of a stored result starts (statement
//! handle, partition, row offset) and which query it belongs to. It is
//! `base64url(JSON) "." base64url(HMAC-SHA256)`; the key is derived from the
//! provider's credential, so every sandbox of the function accepts it without
//! extra configuration and rotating the credential invalidates old cursors.
//! Cursors expire after [`MAX_AGE`] (Snowflake keeps results for 24 hours).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// Cursors older than this are refused.
pub(crate) const MAX_AGE: Duration = Duration::from_secs(23 * 3600);
const MAX_LEN: usize = 2048;

/// Where the next page starts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CursorState {
    /// Query the cursor belongs to.
    #[serde(rename = "q")]
    pub(crate) query: String,
    /// Statement handle of the stored result.
    #[serde(rename = "h")]
    pub(crate) handle: String,
    /// Partition of the next row.
    #[serde(rename = "p")]
    pub(crate) partition: usize,
    /// Row offset in that partition.
    #[serde(rename = "o")]
    pub(crate) offset: usize,
    /// Issued at, epoch seconds.
    #[serde(rename = "t")]
    pub(crate) issued: u64,
    /// Digest of the parameters the result was computed with.
    #[serde(rename = "b", default, skip_serializing_if = "Option::is_none")]
    pub(crate) params: Option<String>,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

fn mac(key: &[u8; 32], payload: &[u8]) -> aws_lc_rs::hmac::Tag {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key);
    aws_lc_rs::hmac::sign(&key, payload)
}

/// Seal `state` (its `issued` is set to now).
pub(crate) fn seal(mut state: CursorState, key: &[u8; 32]) -> String {
    state.issued = now_secs();
    let payload = serde_json::to_vec(&state).unwrap_or_default();
    let tag = mac(key, &payload);
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(&payload),
        URL_SAFE_NO_PAD.encode(tag.as_ref())
    )
}

/// Open a cursor for `query`, presented with parameters of digest `params`
/// (`None`: none given, the cursor's own apply); any tampering, another
/// query's cursor, other parameters, another credential's cursor or an
/// expired one is a `bad_request`.
pub(crate) fn open(
    token: &str,
    key: &[u8; 32],
    query: &str,
    params: Option<&str>,
) -> Result<CursorState, AppError> {
    let invalid = |why: &str| {
        AppError::bad_request(format!(
            "invalid cursor: {why}; run the query again without a cursor"
        ))
    };
    if token.len() > MAX_LEN {
        return Err(invalid("too long"));
    }
    let (payload, tag) = token.split_once('.').ok_or_else(|| invalid("malformed"))?;
    let payload = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| invalid("malformed"))?;
    let tag = URL_SAFE_NO_PAD
        .decode(tag)
        .map_err(|_| invalid("malformed"))?;
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key);
    aws_lc_rs::hmac::verify(&key, &payload, &tag)
        .map_err(|_| invalid("it was altered or issued for another credential"))?;
    let state: CursorState = serde_json::from_slice(&payload).map_err(|_| invalid("malformed"))?;
    if state.query != query {
        return Err(invalid("it belongs to another query"));
    }
    if params.is_some_and(|p| state.params.as_deref() != Some(p)) {
        return Err(invalid(
            "it was issued for other parameters; send the parameters of the first page, or none",
        ));
    }
    if now_secs().saturating_sub(state.issued) > MAX_AGE.as_secs() {
        return Err(invalid("it has expired"));
    }
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn state() -> CursorState {
        CursorState {
            query: "customers_by_city".into(),
            handle: "01b9f2c4-0305-7d21-0000-51a10003e2ba".into(),
            partition: 2,
            offset: 17,
            issued: 0,
            params: Some("d1".into()),
        }
    }

    #[test]
    fn round_trip() {
        let key = [7u8; 32];
        let token = seal(state(), &key);
        let back = open(&token, &key, "customers_by_city", None).unwrap();
        assert_eq!(
            back,
            open(&token, &key, "customers_by_city", Some("d1")).unwrap()
        );
        let err = open(&token, &key, "customers_by_city", Some("d2")).unwrap_err();
        assert!(err.message().contains("other parameters"));
        assert_eq!(
            (back.partition, back.offset, back.handle.as_str()),
            (2, 17, state().handle.as_str())
        );
        assert!(
            token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
            "URL-safe"
        );
    }

    #[test]
    fn tampering_and_misuse_are_bad_requests() {
        let key = [7u8; 32];
        let token = seal(state(), &key);
        let (payload, tag) = token.split_once('.').unwrap();
        let mut forged = state();
        forged.partition = 0;
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        for (bad, query) in [
            (format!("{forged_payload}.{tag}"), "customers_by_city"),
            (
                format!("{payload}.{}", URL_SAFE_NO_PAD.encode([0u8; 32])),
                "customers_by_city",
            ),
            (token.clone(), "other_query"),
            ("garbage".to_owned(), "customers_by_city"),
            ("a.b.c".to_owned(), "customers_by_city"),
            ("x".repeat(5000), "customers_by_city"),
        ] {
            let err = open(&bad, &key, query, None).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::BadRequest, "{bad}");
            assert!(err.message().starts_with("invalid cursor"));
        }
        assert!(
            open(&token, &[8u8; 32], "customers_by_city", None).is_err(),
            "another credential's key"
        );
    }

    #[test]
    fn expired_cursors_are_refused() {
        let key = [7u8; 32];
        let mut old = state();
        old.issued = now_secs() - MAX_AGE.as_secs() - 10;
        let payload = serde_json::to_vec(&old).unwrap();
        let token = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(mac(&key, &payload).as_ref())
        );
        assert!(
            open(&token, &key, "customers_by_city", None)
                .unwrap_err()
                .message()
                .contains("expired")
        );
    }
}
