//! Stored results this warm sandbox already knows, so the upstream is asked
//! for less:
//!
//! - the metadata of results being paged (`rowType`, `partitionInfo`, …) by
//!   statement handle, so a cursor that continues at partition 1 or later
//!   fetches only its partitions — not the statement's answer again, which
//!   carries partition 0;
//! - for statements marked `cache_secs = N`, the handle of the last
//!   execution of the same statement with the same bindings and role, so an
//!   identical request within N seconds pages that stored result instead of
//!   running the statement again.
//!
//! Both are small (a few dozen entries, no rows) and bounded; the oldest
//! entry goes first. A handle is only ever looked up from a cursor this
//! function sealed, or from a key that includes the role, and every
//! partition is still fetched with the caller's own credential.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use super::client::{ResultMeta, ResultSet, Rows};

/// Entries of each kind kept at most.
const CAPACITY: usize = 32;
/// How long a result's metadata is trusted for a cursor (Snowflake keeps
/// results 24 hours; a cursor older than this fetches it again).
const META_TTL: Duration = Duration::from_secs(3600);

/// What a stored result's answer held besides partition 0.
#[derive(Clone, Debug)]
pub(crate) struct StoredMeta {
    meta: ResultMeta,
    sql_state: Option<String>,
    stats: Option<Map<String, Value>>,
}

impl StoredMeta {
    /// The result `rs` answered, without its rows.
    pub(crate) fn of(rs: &ResultSet) -> Self {
        StoredMeta {
            meta: rs.result_set_meta_data.clone().unwrap_or_default(),
            sql_state: rs.sql_state.clone(),
            stats: rs.stats.clone(),
        }
    }

    /// The result set for `handle` with no partition 0 rows: for a page
    /// that starts at partition 1 or later.
    pub(crate) fn result_set(&self, handle: &str) -> ResultSet {
        ResultSet {
            result_set_meta_data: Some(self.meta.clone()),
            data: Rows::default(),
            statement_handle: handle.to_owned(),
            sql_state: self.sql_state.clone(),
            code: None,
            stats: self.stats.clone(),
        }
    }
}

/// The store; one per provider, built at start-up.
#[derive(Debug, Default)]
pub(crate) struct ResultStore {
    metas: Mutex<Vec<(String, Arc<StoredMeta>, Instant)>>,
    reusable: Mutex<Vec<(String, String, Instant)>>,
}

impl ResultStore {
    /// Remember the metadata of the result `handle` names.
    pub(crate) fn keep_meta(&self, handle: &str, meta: StoredMeta) {
        let mut metas = self.metas.lock().unwrap_or_else(|p| p.into_inner());
        metas.retain(|(h, _, _)| h != handle);
        if metas.len() >= CAPACITY {
            metas.remove(0);
        }
        metas.push((handle.to_owned(), Arc::new(meta), Instant::now()));
    }

    /// The metadata of the result `handle` names, if known and fresh.
    pub(crate) fn meta(&self, handle: &str) -> Option<Arc<StoredMeta>> {
        let mut metas = self.metas.lock().unwrap_or_else(|p| p.into_inner());
        metas.retain(|(_, _, at)| at.elapsed() < META_TTL);
        metas
            .iter()
            .find(|(h, _, _)| h == handle)
            .map(|(_, m, _)| m.clone())
    }

    /// Remember that `handle` holds the result of the execution `key`.
    pub(crate) fn keep_result(&self, key: &str, handle: &str) {
        let mut reusable = self.reusable.lock().unwrap_or_else(|p| p.into_inner());
        reusable.retain(|(k, _, _)| k != key);
        if reusable.len() >= CAPACITY {
            reusable.remove(0);
        }
        reusable.push((key.to_owned(), handle.to_owned(), Instant::now()));
    }

    /// The handle of the execution `key` if it ran less than `max_age` ago.
    pub(crate) fn result(&self, key: &str, max_age: Duration) -> Option<String> {
        let reusable = self.reusable.lock().unwrap_or_else(|p| p.into_inner());
        reusable
            .iter()
            .find(|(k, _, at)| k == key && at.elapsed() < max_age)
            .map(|(_, h, _)| h.clone())
    }

    /// Forget the execution `key` (its stored result is gone).
    pub(crate) fn forget_result(&self, key: &str) {
        let mut reusable = self.reusable.lock().unwrap_or_else(|p| p.into_inner());
        reusable.retain(|(k, _, _)| k != key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(rows: u64) -> StoredMeta {
        StoredMeta {
            meta: ResultMeta {
                num_rows: rows,
                ..ResultMeta::default()
            },
            sql_state: Some("00000".into()),
            stats: None,
        }
    }

    #[test]
    fn metadata_by_handle_bounded_oldest_first() {
        let store = ResultStore::default();
        for i in 0..CAPACITY + 1 {
            store.keep_meta(&format!("h{i}"), meta(i as u64));
        }
        assert!(store.meta("h0").is_none(), "the oldest went first");
        let m = store.meta(&format!("h{CAPACITY}")).unwrap();
        let rs = m.result_set("hX");
        assert_eq!(rs.result_set_meta_data.unwrap().num_rows, CAPACITY as u64);
        assert_eq!(rs.statement_handle, "hX");
        assert!(rs.data.is_empty());
        store.keep_meta("h1", meta(99));
        assert_eq!(store.meta("h1").unwrap().meta.num_rows, 99, "replaced");
    }

    #[test]
    fn results_are_reused_only_within_their_age() {
        let store = ResultStore::default();
        store.keep_result("q|{}|ROLE", "h1");
        assert_eq!(store.result("q|{}|ROLE", Duration::from_secs(60)).as_deref(), Some("h1"));
        assert_eq!(store.result("q|{}|OTHER", Duration::from_secs(60)), None);
        assert_eq!(store.result("q|{}|ROLE", Duration::ZERO), None);
        store.keep_result("q|{}|ROLE", "h2");
        assert_eq!(store.result("q|{}|ROLE", Duration::from_secs(60)).as_deref(), Some("h2"));
        store.forget_result("q|{}|ROLE");
        assert_eq!(store.result("q|{}|ROLE", Duration::from_secs(60)), None);
    }
}
