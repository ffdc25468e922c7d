//! Snowflake credentials: what the secret holds, and the bearer token each
//! request carries.
//!
//! The secret's content picks the method:
//! - a PKCS#8 PEM private key (`private_key`, optionally encrypted, with
//!   `private_key_passphrase`) → key-pair JWT, RS256, `iss` =
//!   `ACCOUNT.USER.SHA256:<fingerprint>`, `sub` = `ACCOUNT.USER`;
//! - `token` / `programmatic_access_token` / `pat` → programmatic access token;
//! - `oauth_token` / `access_token` → OAuth.
//!
//! A plain-string secret is a PEM key if it looks like one, else a PAT. A
//! secret holding only a `password` is refused: the SQL API does not accept
//! passwords. Account, user, role, warehouse, database and schema may sit in
//! the secret or in `SNOWFLAKE_*` environment variables (the secret wins).
//!
//! JWTs are minted with a 59-minute lifetime and reused while at least
//! [`JWT_MIN_REMAINING`] is left, so a token never expires mid-invocation.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{KeyPair, RsaKeyPair};
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use pkcs8::der::Decode;
use serde::Serialize;
use serde_json::Value;

use crate::error::{AppError, ErrorKind};
use crate::secrets::SecretValue;

/// Lifetime of a minted JWT (Snowflake honours at most one hour).
pub(crate) const JWT_LIFETIME: Duration = Duration::from_secs(59 * 60);
/// A cached JWT is replaced when less than this is left (longer than the
/// longest Lambda invocation).
pub(crate) const JWT_MIN_REMAINING: Duration = Duration::from_secs(16 * 60);

/// How requests authenticate.
pub(crate) enum Auth {
    /// Key-pair JWT.
    KeyPair(KeyPairAuth),
    /// A bearer token of the given `X-Snowflake-Authorization-Token-Type`.
    Token {
        token: SecretValue,
        token_type: &'static str,
    },
}

/// A parsed RSA private key and its public-key fingerprint.
pub(crate) struct KeyPairAuth {
    encoding_key: EncodingKey,
    /// `SHA256:` + base64 of SHA-256 of the DER SubjectPublicKeyInfo.
    pub(crate) fingerprint: String,
    /// A key for cursor MACs derived from the private key (never the key itself).
    cursor_key: [u8; 32],
}

/// Who connects and in which context: from the secret, or from the
/// `SNOWFLAKE_*` variables for whatever the secret leaves out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Session {
    /// Account identifier as given.
    pub(crate) account: Option<String>,
    /// Login name.
    pub(crate) user: Option<String>,
    /// Role, warehouse, database, schema.
    pub(crate) role: Option<String>,
    pub(crate) warehouse: Option<String>,
    pub(crate) database: Option<String>,
    pub(crate) schema: Option<String>,
}

impl Session {
    /// Each field from `self`, else from `fallback`.
    pub(crate) fn or(&self, fallback: &Session) -> Session {
        let pick =
            |own: &Option<String>, other: &Option<String>| own.clone().or_else(|| other.clone());
        Session {
            account: pick(&self.account, &fallback.account),
            user: pick(&self.user, &fallback.user),
            role: pick(&self.role, &fallback.role),
            warehouse: pick(&self.warehouse, &fallback.warehouse),
            database: pick(&self.database, &fallback.database),
            schema: pick(&self.schema, &fallback.schema),
        }
    }
}

/// Everything the secret says about the connection.
pub(crate) struct Credential {
    /// Authentication.
    pub(crate) auth: Auth,
    /// The connection fields the secret sets.
    pub(crate) session: Session,
    /// The secret values inside the secret (token, passphrase, the key's
    /// PEM lines), for the invocation's redactor.
    pub(crate) sensitive: Vec<SecretValue>,
}

/// A bearer token must be a valid header value: visible ASCII, no space,
/// no CR/LF. Anything else is refused before it is sent anywhere.
fn token(reference: &str, value: &str) -> Result<SecretValue, AppError> {
    if value.is_empty() || !value.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err(malformed(
            reference,
            "holds a token with characters an HTTP header cannot carry (white space, line breaks or non-ASCII); store the token alone",
        ));
    }
    Ok(SecretValue::new(value))
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let method = match &self.auth {
            Auth::KeyPair(k) => format!("KeyPair({})", k.fingerprint),
            Auth::Token { token_type, .. } => format!("Token({token_type}, [REDACTED])"),
        };
        f.debug_struct("Credential")
            .field("auth", &method)
            .field("session", &self.session)
            .finish()
    }
}

fn malformed(reference: &str, why: impl fmt::Display) -> AppError {
    AppError::new(
        ErrorKind::SecretMalformed,
        format!("Snowflake secret '{reference}' {why}"),
    )
}

impl Credential {
    /// Parse the secret's value; `reference` names it in errors.
    pub(crate) fn parse(secret: &SecretValue, reference: &str) -> Result<Self, AppError> {
        let text = secret.expose().trim();
        let mut cred = Credential {
            auth: Auth::Token {
                token: SecretValue::new(""),
                token_type: "PROGRAMMATIC_ACCESS_TOKEN",
            },
            session: Session::default(),
            sensitive: Vec::new(),
        };
        if text.starts_with("-----BEGIN") {
            cred.sensitive = pem_lines(text);
            cred.auth = Auth::KeyPair(KeyPairAuth::from_pem(text, None, reference)?);
            return Ok(cred);
        }
        if !text.starts_with('{') {
            let pat = token(reference, text)?;
            cred.sensitive.push(pat.clone());
            cred.auth = Auth::Token {
                token: pat,
                token_type: "PROGRAMMATIC_ACCESS_TOKEN",
            };
            return Ok(cred);
        }
        let Ok(Value::Object(map)) = serde_json::from_str::<Value>(text) else {
            return Err(malformed(reference, "is not valid JSON"));
        };
        let get = |keys: &[&str]| {
            keys.iter().find_map(|k| {
                map.get(*k)
                    .and_then(Value::as_str)
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
            })
        };
        cred.session = Session {
            account: get(&["account", "account_identifier"]),
            user: get(&["user", "username", "login"]),
            role: get(&["role"]),
            warehouse: get(&["warehouse"]),
            database: get(&["database"]),
            schema: get(&["schema"]),
        };
        if let Some(pem) = get(&["private_key", "private_key_pem"]) {
            let passphrase = get(&[
                "private_key_passphrase",
                "passphrase",
                "private_key_password",
            ]);
            cred.sensitive = pem_lines(&pem);
            cred.sensitive
                .extend(passphrase.as_deref().map(SecretValue::new));
            cred.auth = Auth::KeyPair(KeyPairAuth::from_pem(
                &pem,
                passphrase.as_deref(),
                reference,
            )?);
        } else if let Some(token) = get(&["token", "programmatic_access_token", "pat"]) {
            let token_type = match get(&["token_type"])
                .map(|t| t.to_ascii_uppercase())
                .as_deref()
            {
                None | Some("PROGRAMMATIC_ACCESS_TOKEN") | Some("PAT") => {
                    "PROGRAMMATIC_ACCESS_TOKEN"
                }
                Some("OAUTH") => "OAUTH",
                Some(_) => {
                    return Err(malformed(
                        reference,
                        "has a token_type other than PROGRAMMATIC_ACCESS_TOKEN or OAUTH",
                    ));
                }
            };
            let value = self::token(reference, &token)?;
            cred.sensitive.push(value.clone());
            cred.auth = Auth::Token {
                token: value,
                token_type,
            };
        } else if let Some(oauth) = get(&["oauth_token", "access_token"]) {
            let value = token(reference, &oauth)?;
            cred.sensitive.push(value.clone());
            cred.auth = Auth::Token {
                token: value,
                token_type: "OAUTH",
            };
        } else if map.contains_key("password") {
            return Err(malformed(
                reference,
                "holds a password, which the Snowflake SQL API does not accept; store a key pair (private_key) or a programmatic access token (token) instead",
            ));
        } else {
            return Err(malformed(
                reference,
                "has no private_key, token or oauth_token",
            ));
        }
        Ok(cred)
    }

    /// Key for cursor MACs, derived from the credential (stable across
    /// sandboxes, changes when the credential rotates).
    pub(crate) fn cursor_key(&self) -> [u8; 32] {
        match &self.auth {
            Auth::KeyPair(k) => k.cursor_key,
            Auth::Token { token, .. } => derive_key(token.expose().as_bytes()),
        }
    }
}

/// The body lines of a PEM block (not its BEGIN/END lines).
fn pem_lines(pem: &str) -> Vec<SecretValue> {
    pem.lines()
        .map(str::trim)
        .filter(|l| l.len() >= 16 && !l.starts_with("-----"))
        .map(SecretValue::new)
        .collect()
}

fn derive_key(material: &[u8]) -> [u8; 32] {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, material);
    let tag = aws_lc_rs::hmac::sign(&key, b"secret-fetch/cursor/v1");
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

impl KeyPairAuth {
    /// Parse a PEM private key: PKCS#8 (encrypted with `passphrase`, or not)
    /// or PKCS#1.
    pub(crate) fn from_pem(
        pem: &str,
        passphrase: Option<&str>,
        reference: &str,
    ) -> Result<Self, AppError> {
        let (label, der) = pkcs8::der::pem::decode_vec(pem.trim().as_bytes())
            .map_err(|_| malformed(reference, "has a private_key that is not valid PEM"))?;
        let pkcs1: Vec<u8> = match label {
            "ENCRYPTED PRIVATE KEY" => {
                let passphrase = passphrase.ok_or_else(|| {
                    malformed(
                        reference,
                        "has an encrypted private_key but no private_key_passphrase",
                    )
                })?;
                let info = pkcs8::EncryptedPrivateKeyInfoRef::from_der(&der)
                    .map_err(|_| malformed(reference, "has an unreadable encrypted private_key"))?;
                let doc = info.decrypt(passphrase.as_bytes()).map_err(|_| {
                    malformed(
                        reference,
                        "has a private_key the passphrase does not decrypt",
                    )
                })?;
                inner_pkcs1(doc.as_bytes(), reference)?
            }
            "PRIVATE KEY" => inner_pkcs1(&der, reference)?,
            "RSA PRIVATE KEY" => der,
            other => {
                return Err(malformed(
                    reference,
                    format!("has a PEM block '{other}'; expected a PKCS#8 RSA PRIVATE KEY"),
                ));
            }
        };
        let pair = RsaKeyPair::from_der(&pkcs1)
            .map_err(|_| malformed(reference, "has a private_key that is not a usable RSA key"))?;
        let spki = pair
            .public_key()
            .as_der()
            .map_err(|_| AppError::internal("could not encode the public key"))?;
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, spki.as_ref());
        let fingerprint = format!(
            "SHA256:{}",
            base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
        );
        Ok(KeyPairAuth {
            encoding_key: EncodingKey::from_rsa_der(&pkcs1),
            fingerprint,
            cursor_key: derive_key(&pkcs1),
        })
    }

    /// A JWT for `account`/`user`, issued `now`.
    pub(crate) fn jwt(
        &self,
        account: &str,
        user: &str,
        now: SystemTime,
    ) -> Result<(String, SystemTime), AppError> {
        let account = jwt_account(account);
        let user = user.trim().to_ascii_uppercase();
        let iat = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let claims = Claims {
            iss: format!("{account}.{user}.{}", self.fingerprint),
            sub: format!("{account}.{user}"),
            iat,
            exp: iat + JWT_LIFETIME.as_secs(),
        };
        let token =
            jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.encoding_key)
                .map_err(|e| {
                    AppError::internal(format!("could not sign the Snowflake JWT: {e}"))
                })?;
        Ok((token, now + JWT_LIFETIME))
    }
}

fn inner_pkcs1(pkcs8_der: &[u8], reference: &str) -> Result<Vec<u8>, AppError> {
    let info = pkcs8::PrivateKeyInfoRef::from_der(pkcs8_der)
        .map_err(|_| malformed(reference, "has an unreadable PKCS#8 private_key"))?;
    Ok(info.private_key.as_bytes().to_vec())
}

#[derive(Serialize)]
struct Claims {
    iss: String,
    sub: String,
    iat: u64,
    exp: u64,
}

/// The account as the JWT wants it: upper case, without region, cloud or
/// `privatelink` segments (`xy12345.us-east-2.aws` → `XY12345`); for
/// `*.global` identifiers the part before the first `-`.
pub(crate) fn jwt_account(account: &str) -> String {
    let account = account.trim();
    let base = if account.to_ascii_lowercase().contains(".global") {
        account.split('-').next().unwrap_or(account)
    } else {
        account.split('.').next().unwrap_or(account)
    };
    base.to_ascii_uppercase()
}

/// JWTs minted once and reused until close to expiry.
#[derive(Default)]
pub(crate) struct JwtCache {
    entry: Mutex<Option<CachedJwt>>,
}

struct CachedJwt {
    identity: String,
    token: SecretValue,
    expires: SystemTime,
}

impl JwtCache {
    /// A valid JWT for `key` as `account`/`user`, minted if needed.
    pub(crate) fn token(
        &self,
        key: &KeyPairAuth,
        account: &str,
        user: &str,
    ) -> Result<SecretValue, AppError> {
        let identity = format!(
            "{}|{}|{}",
            jwt_account(account),
            user.to_ascii_uppercase(),
            key.fingerprint
        );
        let now = SystemTime::now();
        let mut entry = self.entry.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(cached) = entry.as_ref()
            && cached.identity == identity
            && cached.expires.duration_since(now).unwrap_or_default() >= JWT_MIN_REMAINING
        {
            return Ok(cached.token.clone());
        }
        let (token, expires) = key.jwt(account, user, now)?;
        let token = SecretValue::new(token);
        *entry = Some(CachedJwt {
            identity,
            token: token.clone(),
            expires,
        });
        Ok(token)
    }

    /// Forget the cached token (after Snowflake rejected it).
    pub(crate) fn clear(&self) {
        *self.entry.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_normalisation() {
        assert_eq!(jwt_account("acme-analytics"), "ACME-ANALYTICS");
        assert_eq!(jwt_account("xy12345.us-east-2.aws"), "XY12345");
        assert_eq!(jwt_account("xy12345.us-east-1.privatelink"), "XY12345");
        assert_eq!(jwt_account("acme-prod_eu"), "ACME-PROD_EU");
        assert_eq!(jwt_account("testaccount-user.global"), "TESTACCOUNT");
    }

    fn cred(text: &str) -> Result<Credential, AppError> {
        Credential::parse(&SecretValue::new(text), "sf/creds")
    }

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/snowflake");

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{FIXTURES}/{name}")).unwrap()
    }

    #[test]
    fn every_key_format_gives_the_same_fingerprint() {
        let want = fixture("fingerprint.txt").trim().to_owned();
        for (file, pass) in [
            ("rsa_key.p8", None),
            ("rsa_key_aes.p8", Some("test-passphrase")),
            ("rsa_key_des3.p8", Some("test-passphrase")),
            ("rsa_key_pkcs1.pem", None),
        ] {
            let key = KeyPairAuth::from_pem(&fixture(file), pass, "sf")
                .unwrap_or_else(|e| panic!("{file}: {}", e.message()));
            assert_eq!(key.fingerprint, want, "{file}");
        }
        let err = KeyPairAuth::from_pem(&fixture("rsa_key_aes.p8"), Some("wrong"), "sf")
            .err()
            .unwrap();
        assert!(err.message().contains("passphrase"), "{}", err.message());
        let err = KeyPairAuth::from_pem(&fixture("rsa_key_aes.p8"), None, "sf")
            .err()
            .unwrap();
        assert!(err.message().contains("private_key_passphrase"));
    }

    #[test]
    fn jwt_claims_and_signature() {
        let key = KeyPairAuth::from_pem(&fixture("rsa_key.p8"), None, "sf").unwrap();
        let now = UNIX_EPOCH + Duration::from_secs(1_735_689_600);
        let (token, expires) = key
            .jwt("acme-analytics.privatelink", "svc_secret_fetch", now)
            .unwrap();
        assert_eq!(expires, now + JWT_LIFETIME);
        let public =
            jsonwebtoken::DecodingKey::from_rsa_pem(fixture("rsa_key.pub").as_bytes()).unwrap();
        let mut validation = jsonwebtoken::Validation::new(Algorithm::RS256);
        validation.validate_exp = false;
        validation.required_spec_claims.clear();
        let data = jsonwebtoken::decode::<serde_json::Value>(&token, &public, &validation).unwrap();
        let fp = fixture("fingerprint.txt").trim().to_owned();
        assert_eq!(
            data.claims["iss"],
            format!("ACME-ANALYTICS.SVC_SECRET_FETCH.{fp}")
        );
        assert_eq!(data.claims["sub"], "ACME-ANALYTICS.SVC_SECRET_FETCH");
        assert_eq!(data.claims["iat"], 1_735_689_600);
        assert_eq!(data.claims["exp"], 1_735_689_600 + 59 * 60);
    }

    #[test]
    fn jwt_cache_reuses_until_close_to_expiry() {
        let key = KeyPairAuth::from_pem(&fixture("rsa_key.p8"), None, "sf").unwrap();
        let cache = JwtCache::default();
        let a = cache.token(&key, "acme-x", "svc").unwrap();
        let b = cache.token(&key, "acme-x", "svc").unwrap();
        assert_eq!(a, b);
        let c = cache.token(&key, "acme-x", "other").unwrap();
        assert_ne!(a, c, "another identity gets its own token");
        cache.clear();
        let cred = Credential::parse(&SecretValue::new(serde_json::json!({"private_key": fixture("rsa_key_aes.p8"), "private_key_passphrase": "test-passphrase", "account": "acme-x", "user": "svc"}).to_string()), "sf").unwrap();
        assert!(matches!(cred.auth, Auth::KeyPair(_)));
        assert_ne!(cred.cursor_key(), [0u8; 32]);
    }

    #[test]
    fn session_fields_fall_back_one_by_one() {
        let own = Session {
            account: Some("a".into()),
            role: Some("r".into()),
            ..Session::default()
        };
        let env = Session {
            account: Some("x".into()),
            user: Some("u".into()),
            ..Session::default()
        };
        let merged = own.or(&env);
        assert_eq!(
            (
                merged.account.as_deref(),
                merged.user.as_deref(),
                merged.role.as_deref()
            ),
            (Some("a"), Some("u"), Some("r"))
        );
        assert_eq!(merged.schema, None);
    }

    #[test]
    fn token_secrets() {
        let c = cred("pat-secret-value").unwrap();
        assert!(matches!(
            c.auth,
            Auth::Token {
                token_type: "PROGRAMMATIC_ACCESS_TOKEN",
                ..
            }
        ));
        let c =
            cred(r#"{"token": "t", "token_type": "oauth", "account": "acme-x", "user": "svc"}"#)
                .unwrap();
        assert!(matches!(
            c.auth,
            Auth::Token {
                token_type: "OAUTH",
                ..
            }
        ));
        assert_eq!(c.session.account.as_deref(), Some("acme-x"));
        let c = cred(r#"{"oauth_token": "t"}"#).unwrap();
        assert!(matches!(
            c.auth,
            Auth::Token {
                token_type: "OAUTH",
                ..
            }
        ));
        assert!(!format!("{c:?}").contains("\"t\""));
    }

    #[test]
    fn passwords_and_garbage_are_refused_without_echoing() {
        let err = cred(r#"{"user": "svc", "password": "SENTINEL-pw"}"#).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::SecretMalformed);
        assert!(err.message().contains("does not accept"));
        assert!(!err.message().contains("SENTINEL"));
        assert_eq!(
            cred(r#"{"user": "svc"}"#).unwrap_err().kind(),
            ErrorKind::SecretMalformed
        );
        assert_eq!(
            cred("{not json").unwrap_err().kind(),
            ErrorKind::SecretMalformed
        );
        let err =
            cred("-----BEGIN PRIVATE KEY-----\nSENTINEL\n-----END PRIVATE KEY-----").unwrap_err();
        assert!(!err.message().contains("SENTINEL"));
        assert_eq!(
            cred(r#"{"token": "t", "token_type": "weird"}"#)
                .unwrap_err()
                .kind(),
            ErrorKind::SecretMalformed
        );
    }
}
