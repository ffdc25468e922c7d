//! A TTL cache of secret documents shared by warm invocations.
//!
//! Entries are keyed by the stored version a reference points at
//! ([`VersionKey`]), so references that differ only in their JSON key share
//! one `GetSecretValue` call. A forced refresh (after the upstream rejected
//! the credential) bypasses the entry and replaces it. The lock is held
//! across a fetch, so concurrent callers never fetch the same secret twice.
//!
//! Like aws-secretsmanager-agent, an expired entry is served when its
//! refresh fails *transiently* (throttling, a 5xx, a timeout — the refresh is
//! bounded by `refresh_timeout` while a fallback exists — or a connection
//! error), for at most `max_stale` past the TTL, with a warning and a
//! metric. Never after not-found, access denied, decryption failure or
//! deletion: those drop the entry. A forced refresh never falls back (the
//! cached value is the one the upstream just rejected).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use super::reference::{SecretRef, VersionKey};
use super::source::SecretSource;
use super::value::{SecretDocument, SecretValue};
use crate::error::{AppError, ErrorKind};

/// How a lookup was served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheStatus {
    /// From memory, within the TTL.
    Hit,
    /// Fetched: not cached yet, or expired.
    Miss,
    /// Fetched because the caller forced a refresh.
    Refreshed,
    /// Expired, but the refresh failed transiently: served from memory.
    Stale,
}

struct Entry {
    document: Arc<SecretDocument>,
    fetched_at: Instant,
}

/// The cache; one per process, built at start-up.
pub struct SecretCache<S> {
    source: S,
    ttl: Duration,
    max_stale: Duration,
    refresh_timeout: Duration,
    entries: Mutex<HashMap<VersionKey, Entry>>,
}

impl<S: SecretSource> SecretCache<S> {
    /// A cache over `source` whose entries live for `ttl` (zero disables caching).
    pub fn new(source: S, ttl: Duration) -> Self {
        SecretCache {
            source,
            ttl,
            max_stale: Duration::ZERO,
            refresh_timeout: Duration::from_secs(2),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Serve an expired entry for up to `max_stale` past its TTL when its
    /// refresh fails transiently; a refresh with such a fallback gets at most
    /// `refresh_timeout`.
    pub fn with_stale_fallback(mut self, max_stale: Duration, refresh_timeout: Duration) -> Self {
        self.max_stale = max_stale;
        self.refresh_timeout = refresh_timeout;
        self
    }

    /// The source, for tests that count its calls.
    pub fn source(&self) -> &S {
        &self.source
    }

    /// The credential `reference` names (see [`SecretDocument::extract`] for
    /// `default_keys`); `force_refresh` skips the cached entry.
    pub async fn get(
        &self,
        reference: &SecretRef,
        default_keys: &[&str],
        force_refresh: bool,
    ) -> Result<(SecretValue, CacheStatus), AppError> {
        let key = reference.version_key();
        let mut entries = self.entries.lock().await;
        if !force_refresh
            && let Some(entry) = entries.get(&key)
            && entry.fetched_at.elapsed() < self.ttl
        {
            let value = entry.document.extract(reference, default_keys)?;
            return Ok((value, CacheStatus::Hit));
        }
        let fallback = match entries.get(&key) {
            Some(entry)
                if !force_refresh
                    && !self.ttl.is_zero()
                    && entry.fetched_at.elapsed() < self.ttl + self.max_stale =>
            {
                Some(entry.document.clone())
            }
            _ => None,
        };
        let fetched = match &fallback {
            None => self.source.fetch(&key).await,
            Some(_) => tokio::time::timeout(self.refresh_timeout, self.source.fetch(&key))
                .await
                .unwrap_or_else(|_| {
                    Err(AppError::new(
                        ErrorKind::SecretUnavailable,
                        format!(
                            "secret '{}': Secrets Manager did not answer within {} ms",
                            key.secret_id,
                            self.refresh_timeout.as_millis()
                        ),
                    )
                    .transient())
                }),
        };
        let document = match (fetched, fallback) {
            (Ok(document), _) => Arc::new(document),
            (Err(e), Some(stale)) if e.is_transient() => {
                tracing::warn!(
                    secret = %reference,
                    error_kind = e.kind().as_str(),
                    error = e.message(),
                    max_stale_secs = self.max_stale.as_secs(),
                    "refreshing the secret failed transiently; serving the cached secret"
                );
                let value = stale.extract(reference, default_keys)?;
                return Ok((value, CacheStatus::Stale));
            }
            (Err(e), _) => {
                if !e.is_transient() {
                    entries.remove(&key);
                }
                return Err(e);
            }
        };
        let value = document.extract(reference, default_keys);
        if self.ttl.is_zero() {
            entries.remove(&key);
        } else {
            entries.insert(
                key,
                Entry {
                    document,
                    fetched_at: Instant::now(),
                },
            );
        }
        let status = if force_refresh {
            CacheStatus::Refreshed
        } else {
            CacheStatus::Miss
        };
        Ok((value?, status))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Serves "key-N" where N counts the fetches, or fails.
    struct Counting {
        calls: AtomicUsize,
        fail: bool,
    }

    impl SecretSource for Counting {
        async fn fetch(&self, _key: &VersionKey) -> Result<SecretDocument, AppError> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            if self.fail {
                return Err(AppError::new(
                    ErrorKind::SecretNotFound,
                    "secret 'x': not found",
                ));
            }
            Ok(SecretDocument::text(format!(
                r#"{{"apikey":"key-{n}","other":"o-{n}"}}"#
            )))
        }
    }

    fn cache(ttl: u64, fail: bool) -> SecretCache<Counting> {
        SecretCache::new(
            Counting {
                calls: AtomicUsize::new(0),
                fail,
            },
            Duration::from_secs(ttl),
        )
    }

    fn r(s: &str) -> SecretRef {
        SecretRef::parse(s).unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn hits_within_ttl_and_refetches_after() {
        let c = cache(300, false);
        let (v, s) = c.get(&r("av"), &["apikey"], false).await.unwrap();
        assert_eq!((v.expose(), s), ("key-1", CacheStatus::Miss));
        for _ in 0..50 {
            let (v, s) = c.get(&r("av"), &["apikey"], false).await.unwrap();
            assert_eq!((v.expose(), s), ("key-1", CacheStatus::Hit));
        }
        tokio::time::advance(Duration::from_secs(299)).await;
        assert_eq!(
            c.get(&r("av"), &["apikey"], false).await.unwrap().1,
            CacheStatus::Hit
        );
        tokio::time::advance(Duration::from_secs(2)).await;
        let (v, s) = c.get(&r("av"), &["apikey"], false).await.unwrap();
        assert_eq!((v.expose(), s), ("key-2", CacheStatus::Miss));
        assert_eq!(c.source().calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn forced_refresh_replaces_the_entry() {
        let c = cache(300, false);
        c.get(&r("av"), &["apikey"], false).await.unwrap();
        let (v, s) = c.get(&r("av"), &["apikey"], true).await.unwrap();
        assert_eq!((v.expose(), s), ("key-2", CacheStatus::Refreshed));
        let (v, s) = c.get(&r("av"), &["apikey"], false).await.unwrap();
        assert_eq!((v.expose(), s), ("key-2", CacheStatus::Hit));
    }

    #[tokio::test(start_paused = true)]
    async fn json_keys_share_one_fetch() {
        let c = cache(300, false);
        assert_eq!(
            c.get(&r("sf:apikey"), &[], false).await.unwrap().0.expose(),
            "key-1"
        );
        let (v, s) = c.get(&r("sf:other"), &[], false).await.unwrap();
        assert_eq!((v.expose(), s), ("o-1", CacheStatus::Hit));
        c.get(&r("sf::AWSPREVIOUS"), &["apikey"], false)
            .await
            .unwrap();
        assert_eq!(
            c.source().calls.load(Ordering::SeqCst),
            2,
            "another stage is another version"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn zero_ttl_disables_caching() {
        let c = cache(0, false);
        for i in 1..=3 {
            let (v, s) = c.get(&r("av"), &["apikey"], false).await.unwrap();
            assert_eq!(
                (v.expose(), s),
                (format!("key-{i}").as_str(), CacheStatus::Miss)
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn failures_are_not_cached() {
        let c = cache(300, true);
        for _ in 0..2 {
            let err = c.get(&r("av"), &["apikey"], false).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::SecretNotFound);
        }
        assert_eq!(c.source().calls.load(Ordering::SeqCst), 2);
    }
}
