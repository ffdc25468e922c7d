//! Secret references: `secret-id[:json-key[:version-stage[:version-id]]]`,
//! the convention ECS and CodeBuild use.
//!
//! `secret-id` is a name or a full ARN. ARNs contain colons themselves
//! (`arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME`), so a reference that
//! starts with `arn:` takes its first seven colon-separated fields as the id.
//! Empty fields mean "not set": `db/creds::AWSPREVIOUS` selects a stage
//! without a JSON key. A reference is an identifier, never a value, so it may
//! appear in logs and error messages.

use std::fmt;

use crate::error::AppError;

/// Where a credential lives in Secrets Manager.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SecretRef {
    secret_id: String,
    json_key: Option<String>,
    version_stage: Option<String>,
    version_id: Option<String>,
}

/// The part of a reference that names one stored secret version: what the
/// cache fetches once and shares between references with different JSON keys.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct VersionKey {
    /// Secret name or ARN.
    pub secret_id: String,
    /// Version stage label (`AWSCURRENT` when neither is set).
    pub version_stage: Option<String>,
    /// Version id.
    pub version_id: Option<String>,
}

const ARN_FIELDS: usize = 7;
const MAX_LEN: usize = 2048;

impl SecretRef {
    /// Parse a reference. Errors name what is wrong, in terms of the reference.
    pub fn parse(text: &str) -> Result<Self, AppError> {
        let text = text.trim();
        let bad = |why: &str| AppError::config(format!("invalid secret reference '{text}': {why}"));
        if text.is_empty() {
            return Err(bad("it is empty"));
        }
        if text.len() > MAX_LEN {
            return Err(AppError::config(format!(
                "invalid secret reference: longer than {MAX_LEN} characters"
            )));
        }
        if text.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(bad("it contains white space or control characters"));
        }
        let fields: Vec<&str> = text.split(':').collect();
        let id_fields = if text.starts_with("arn:") {
            if fields.len() < ARN_FIELDS || fields[2] != "secretsmanager" || fields[5] != "secret" {
                return Err(bad(
                    "an ARN must look like arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME",
                ));
            }
            ARN_FIELDS
        } else {
            1
        };
        let secret_id = fields[..id_fields].join(":");
        let rest = &fields[id_fields..];
        if rest.len() > 3 {
            return Err(bad(
                "too many ':' fields; expected secret-id:json-key:version-stage:version-id",
            ));
        }
        if secret_id.rsplit(':').next().is_none_or(str::is_empty) {
            return Err(bad("the secret name is empty"));
        }
        let field = |i: usize| {
            rest.get(i)
                .filter(|s| !s.is_empty())
                .map(|s| (*s).to_owned())
        };
        let reference = SecretRef {
            secret_id,
            json_key: field(0),
            version_stage: field(1),
            version_id: field(2),
        };
        if reference.version_stage.is_some() && reference.version_id.is_some() {
            return Err(bad("set a version stage or a version id, not both"));
        }
        Ok(reference)
    }

    /// The secret's name or ARN.
    pub fn secret_id(&self) -> &str {
        &self.secret_id
    }

    /// The JSON key to extract, if any.
    pub fn json_key(&self) -> Option<&str> {
        self.json_key.as_deref()
    }

    /// The version stage, if any.
    pub fn version_stage(&self) -> Option<&str> {
        self.version_stage.as_deref()
    }

    /// The version id, if any.
    pub fn version_id(&self) -> Option<&str> {
        self.version_id.as_deref()
    }

    /// What the cache stores: the stored version this reference points at.
    pub fn version_key(&self) -> VersionKey {
        VersionKey {
            secret_id: self.secret_id.clone(),
            version_stage: self.version_stage.clone(),
            version_id: self.version_id.clone(),
        }
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.secret_id)?;
        let fields = [&self.json_key, &self.version_stage, &self.version_id];
        let used = fields
            .iter()
            .rposition(|f| f.is_some())
            .map_or(0, |i| i + 1);
        for field in &fields[..used] {
            write!(f, ":{}", field.as_deref().unwrap_or(""))?;
        }
        Ok(())
    }
}

impl std::str::FromStr for SecretRef {
    type Err = AppError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SecretRef::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:av/api-key-wLJuST";

    #[test]
    fn plain_name() {
        let r = SecretRef::parse("av/api-key").unwrap();
        assert_eq!(r.secret_id(), "av/api-key");
        assert_eq!(r.json_key(), None);
        assert_eq!(r.version_stage(), None);
        assert_eq!(r.to_string(), "av/api-key");
    }

    #[test]
    fn name_with_every_field() {
        let r = SecretRef::parse("db/creds:password:AWSPREVIOUS").unwrap();
        assert_eq!(r.json_key(), Some("password"));
        assert_eq!(r.version_stage(), Some("AWSPREVIOUS"));
        let r = SecretRef::parse("db/creds:password::0f1e2d3c").unwrap();
        assert_eq!(r.version_id(), Some("0f1e2d3c"));
        assert_eq!(r.to_string(), "db/creds:password::0f1e2d3c");
    }

    #[test]
    fn empty_fields_are_unset() {
        let r = SecretRef::parse("db/creds::AWSPENDING").unwrap();
        assert_eq!(r.json_key(), None);
        assert_eq!(r.version_stage(), Some("AWSPENDING"));
        assert_eq!(r.to_string(), "db/creds::AWSPENDING");
        let r = SecretRef::parse("db/creds:::").unwrap();
        assert_eq!(r, SecretRef::parse("db/creds").unwrap());
    }

    #[test]
    fn arn_keeps_its_colons() {
        let r = SecretRef::parse(ARN).unwrap();
        assert_eq!(r.secret_id(), ARN);
        assert_eq!(r.json_key(), None);
        let r = SecretRef::parse(&format!("{ARN}:apikey:AWSCURRENT")).unwrap();
        assert_eq!(r.secret_id(), ARN);
        assert_eq!(r.json_key(), Some("apikey"));
        assert_eq!(r.version_stage(), Some("AWSCURRENT"));
        assert_eq!(r.to_string(), format!("{ARN}:apikey:AWSCURRENT"));
    }

    #[test]
    fn rejects_malformed_references() {
        for bad in [
            "",
            "   ",
            "a:b:c:d:e",
            "arn:aws:s3:::bucket",
            "arn:aws:secretsmanager:us-east-1:1:secret:",
            ":key",
            "name:key:AWSCURRENT:abc",
            "has space",
        ] {
            let err = SecretRef::parse(bad).unwrap_err();
            assert_eq!(
                err.kind(),
                crate::error::ErrorKind::ConfigurationError,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn version_key_ignores_the_json_key() {
        let a = SecretRef::parse("sf/creds:private_key").unwrap();
        let b = SecretRef::parse("sf/creds:private_key_passphrase").unwrap();
        assert_eq!(a.version_key(), b.version_key());
        assert_ne!(a, b);
    }
}
