//! A bounded, in-memory cache of upstream response bodies with one TTL.
//!
//! It lives as long as the warm sandbox (minutes to hours) and holds raw
//! body bytes keyed by a caller-chosen string that must never contain a
//! credential. Entries older than the TTL are never served, and are dropped
//! when found. The bytes held (bodies plus keys plus a fixed overhead per
//! entry) never exceed the bound: the oldest entries go first, and an entry
//! larger than the bound is not stored at all.
//!
//! Eviction is first-in first-out, by insertion. With one TTL for every
//! entry, insertion order is also expiry order, so one queue serves both:
//! the oldest entry is the first to expire and the first to evict, and
//! dropping expired entries only ever looks at the front. (LRU would keep a
//! popular entry longer under pressure, but never past its TTL, so it would
//! buy little for the bookkeeping.)
//!
//! The lock is a `std::sync::Mutex`, held only for map operations and never
//! across an `.await`.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Bytes an entry is charged besides its body and key: its map and queue
/// slots and the shared allocation's header.
pub(crate) const ENTRY_OVERHEAD: usize = 96;

/// The default bound for a function of `memory_mb` MB: 1/16 of its memory
/// (16 MiB at 256 MB, 64 MiB at 1024 MB). That is three bodies at the body
/// cap (1/48 of memory, `upstream::body_cap`), while normalising one such
/// body peaks near half the memory: the cache never crowds out the work.
pub(crate) fn default_max_bytes(memory_mb: u64) -> usize {
    usize::try_from(memory_mb.saturating_mul(1024 * 1024) / 16).unwrap_or(usize::MAX)
}

struct Entry {
    body: Arc<Vec<u8>>,
    stored: Instant,
    seq: u64,
    cost: usize,
}

#[derive(Default)]
struct State {
    entries: HashMap<String, Entry>,
    /// Insertion sequence number → key: the eviction (and expiry) order.
    order: BTreeMap<u64, String>,
    bytes: usize,
    next_seq: u64,
}

impl State {
    fn remove(&mut self, key: &str) {
        if let Some(old) = self.entries.remove(key) {
            self.order.remove(&old.seq);
            self.bytes -= old.cost;
        }
    }

    fn pop_oldest(&mut self) -> bool {
        match self.order.pop_first() {
            Some((_, key)) => {
                if let Some(old) = self.entries.remove(&key) {
                    self.bytes -= old.cost;
                }
                true
            }
            None => false,
        }
    }

    /// Drop expired entries from the front of the queue.
    fn drop_expired(&mut self, ttl: Duration, now: Instant) {
        while let Some((_, key)) = self.order.first_key_value() {
            let expired = self
                .entries
                .get(key)
                .is_none_or(|e| now.saturating_duration_since(e.stored) >= ttl);
            if !expired {
                break;
            }
            self.pop_oldest();
        }
    }
}

/// The cache. Disabled (stores and serves nothing) when its TTL or its
/// bound is zero.
pub(crate) struct ByteCache {
    ttl: Duration,
    max_bytes: usize,
    state: Mutex<State>,
}

impl fmt::Debug for ByteCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ByteCache")
            .field("ttl", &self.ttl)
            .field("max_bytes", &self.max_bytes)
            .finish_non_exhaustive()
    }
}

impl ByteCache {
    /// A cache whose entries live `ttl` and whose entries together hold at
    /// most `max_bytes`.
    pub(crate) fn new(ttl: Duration, max_bytes: usize) -> Self {
        ByteCache {
            ttl,
            max_bytes,
            state: Mutex::new(State::default()),
        }
    }

    /// Whether it stores anything at all.
    pub(crate) fn enabled(&self) -> bool {
        !self.ttl.is_zero() && self.max_bytes > 0
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update leaves the state consistent before it could panic,
        // so a poisoned lock still guards a usable cache.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The body stored under `key`, unless it is older than the TTL.
    pub(crate) fn get(&self, key: &str) -> Option<Arc<Vec<u8>>> {
        self.get_at(key, Instant::now())
    }

    /// Store `body` under `key`, replacing what was there; false (and
    /// nothing stored) when the cache is disabled or the entry alone is over
    /// the bound.
    pub(crate) fn insert(&self, key: String, body: Arc<Vec<u8>>) -> bool {
        self.insert_at(key, body, Instant::now())
    }

    /// [`ByteCache::get`] as seen at `now`.
    fn get_at(&self, key: &str, now: Instant) -> Option<Arc<Vec<u8>>> {
        if !self.enabled() {
            return None;
        }
        let mut state = self.lock();
        state.drop_expired(self.ttl, now);
        let entry = state.entries.get(key)?;
        if now.saturating_duration_since(entry.stored) >= self.ttl {
            state.remove(key);
            return None;
        }
        Some(entry.body.clone())
    }

    /// [`ByteCache::insert`] as seen at `now`.
    fn insert_at(&self, key: String, body: Arc<Vec<u8>>, now: Instant) -> bool {
        if !self.enabled() {
            return false;
        }
        let cost = body.len() + key.len() + ENTRY_OVERHEAD;
        let mut state = self.lock();
        // What was there is older than this answer: it goes either way.
        state.remove(&key);
        if cost > self.max_bytes {
            return false;
        }
        state.drop_expired(self.ttl, now);
        while state.bytes + cost > self.max_bytes && state.pop_oldest() {}
        let seq = state.next_seq;
        state.next_seq += 1;
        state.order.insert(seq, key.clone());
        state.bytes += cost;
        state.entries.insert(
            key,
            Entry {
                body,
                stored: now,
                seq,
                cost,
            },
        );
        true
    }

    /// Entries held (expired ones not yet dropped included).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Bytes charged for the entries held.
    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.lock().bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_secs(60);

    fn body(len: usize) -> Arc<Vec<u8>> {
        vec![b'x'; len].into()
    }

    /// The bound that fits exactly `n` entries of `len`-byte bodies under
    /// one-character keys.
    fn room_for(n: usize, len: usize) -> usize {
        n * (len + 1 + ENTRY_OVERHEAD)
    }

    #[test]
    fn serves_what_it_stored_until_the_ttl_and_then_drops_it() {
        let cache = ByteCache::new(TTL, 1 << 20);
        let t0 = Instant::now();
        assert!(cache.insert_at("k".into(), Arc::new(b"body".to_vec()), t0));
        assert_eq!(cache.get_at("k", t0).as_deref(), Some(&b"body".to_vec()));
        let just_before = t0 + TTL - Duration::from_millis(1);
        assert_eq!(
            cache.get_at("k", just_before).as_deref(),
            Some(&b"body".to_vec())
        );
        assert_eq!(cache.get_at("k", t0 + TTL), None, "expired at the TTL");
        assert_eq!(cache.len(), 0, "an expired entry is dropped when found");
        assert_eq!(cache.bytes(), 0);
        assert_eq!(cache.get_at("other", t0), None);
    }

    #[test]
    fn expired_entries_at_the_front_are_dropped_on_any_access() {
        let cache = ByteCache::new(TTL, 1 << 20);
        let t0 = Instant::now();
        cache.insert_at("a".into(), body(10), t0);
        cache.insert_at("b".into(), body(10), t0 + Duration::from_secs(30));
        assert_eq!(cache.len(), 2);
        // Looking up something else at t0+61s drops "a" but keeps "b".
        assert!(cache.get_at("zzz", t0 + Duration::from_secs(61)).is_none());
        assert_eq!(cache.len(), 1);
        assert!(cache.get_at("b", t0 + Duration::from_secs(61)).is_some());
        assert_eq!(cache.bytes(), 10 + 1 + ENTRY_OVERHEAD);
    }

    #[test]
    fn the_byte_bound_evicts_the_oldest_first() {
        let cache = ByteCache::new(TTL, room_for(3, 100));
        let t0 = Instant::now();
        for (i, k) in ["a", "b", "c"].into_iter().enumerate() {
            assert!(cache.insert_at(k.into(), body(100), t0 + Duration::from_secs(i as u64)));
        }
        assert_eq!(cache.bytes(), room_for(3, 100));
        // Reading "a" does not save it: the order is insertion (FIFO).
        assert!(cache.get_at("a", t0).is_some());
        assert!(cache.insert_at("d".into(), body(100), t0 + Duration::from_secs(3)));
        let now = t0 + Duration::from_secs(4);
        assert!(cache.get_at("a", now).is_none(), "the oldest went first");
        for k in ["b", "c", "d"] {
            assert!(cache.get_at(k, now).is_some(), "{k} kept");
        }
        // A body twice the size makes room by evicting the two oldest.
        assert!(cache.insert_at("e".into(), body(200 + 1 + ENTRY_OVERHEAD), now));
        assert!(cache.get_at("b", now).is_none() && cache.get_at("c", now).is_none());
        assert!(cache.get_at("d", now).is_some() && cache.get_at("e", now).is_some());
        assert!(cache.bytes() <= room_for(3, 100));
    }

    #[test]
    fn an_entry_over_the_bound_is_not_stored_and_evicts_nothing() {
        let cache = ByteCache::new(TTL, room_for(2, 100));
        let t0 = Instant::now();
        assert!(cache.insert_at("a".into(), body(100), t0));
        assert!(!cache.insert_at("b".into(), body(room_for(2, 100)), t0));
        assert!(cache.get_at("b", t0).is_none());
        assert!(
            cache.get_at("a", t0).is_some(),
            "nothing was evicted for it"
        );
        // Exactly at the bound fits.
        let exact = room_for(2, 100) - 1 - ENTRY_OVERHEAD;
        assert!(cache.insert_at("c".into(), body(exact), t0));
        assert_eq!(cache.bytes(), room_for(2, 100));
        assert!(cache.get_at("a", t0).is_none());
    }

    #[test]
    fn replacing_a_key_charges_it_once_and_restarts_its_ttl() {
        let cache = ByteCache::new(TTL, 1 << 20);
        let t0 = Instant::now();
        cache.insert_at("k".into(), body(10), t0);
        let later = t0 + Duration::from_secs(50);
        cache.insert_at("k".into(), Arc::new(b"new".to_vec()), later);
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.bytes(), 3 + 1 + ENTRY_OVERHEAD);
        let after_first_ttl = t0 + Duration::from_secs(70);
        assert_eq!(
            cache.get_at("k", after_first_ttl).as_deref(),
            Some(&b"new".to_vec())
        );
        // A replacement too large to store still removes the older answer.
        let small = ByteCache::new(TTL, room_for(1, 10));
        small.insert_at("k".into(), body(10), t0);
        assert!(!small.insert_at("k".into(), body(1000), t0));
        assert!(small.get_at("k", t0).is_none());
        assert_eq!(small.bytes(), 0);
    }

    #[test]
    fn zero_ttl_or_zero_bytes_disables_it() {
        let t0 = Instant::now();
        for cache in [
            ByteCache::new(Duration::ZERO, 1 << 20),
            ByteCache::new(TTL, 0),
        ] {
            assert!(!cache.enabled());
            assert!(!cache.insert_at("k".into(), body(1), t0));
            assert!(cache.get_at("k", t0).is_none());
            assert_eq!(cache.len(), 0);
        }
        assert!(ByteCache::new(TTL, 1).enabled());
    }

    #[test]
    fn the_real_clock_expires_entries_too() {
        let cache = ByteCache::new(Duration::from_millis(30), 1 << 20);
        assert!(cache.insert("k".into(), body(1)));
        assert!(cache.get("k").is_some());
        std::thread::sleep(Duration::from_millis(40));
        assert!(cache.get("k").is_none());
    }

    #[test]
    fn default_bound_is_a_sixteenth_of_memory() {
        assert_eq!(default_max_bytes(256), 16 * 1024 * 1024);
        assert_eq!(default_max_bytes(1024), 64 * 1024 * 1024);
        assert!(default_max_bytes(256) >= 3 * crate::upstream::body_cap(256));
    }
}
