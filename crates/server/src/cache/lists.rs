//! Rendered per-customer lists (the notifications a `GET /notifications/items` returns), so the
//! most frequent read needs no database round trip. Evicted through the change feed whenever the
//! customer's list changes, with the same epoch guard as the authorization cache.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;

use axum::body::Bytes;
use prometheus::IntCounter;
use trustgate_core::ids::CustomerId;

use crate::cache::bounded::{bounded, Bounded};

pub struct ListCache {
    lists: Bounded<CustomerId, Bytes>,
    epoch: AtomicU64,
    /// Held shared by a load from its epoch check to its insert, exclusively by an eviction.
    gate: RwLock<()>,
}

impl ListCache {
    pub fn new(capacity: usize, evictions: IntCounter) -> Self {
        Self { lists: bounded(capacity, evictions), epoch: AtomicU64::new(0), gate: RwLock::new(()) }
    }

    pub fn held(&self) -> usize {
        self.lists.len()
    }

    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    pub fn get(&self, customer: &CustomerId) -> Option<Bytes> {
        self.lists.get(customer)
    }

    /// Keeps `body` unless an eviction happened since `loaded_at`.
    pub fn insert(&self, loaded_at: u64, customer: &CustomerId, body: Bytes) {
        let Ok(_no_eviction_meanwhile) = self.gate.read() else { return };
        if self.epoch.load(Ordering::Acquire) == loaded_at {
            self.lists.insert(customer.clone(), body);
        }
    }

    pub fn evict(&self, customer: &CustomerId) {
        if let Ok(_loads_wait) = self.gate.write() {
            self.epoch.fetch_add(1, Ordering::AcqRel);
            self.lists.remove(customer);
        }
    }

    pub fn clear(&self) {
        if let Ok(_loads_wait) = self.gate.write() {
            self.epoch.fetch_add(1, Ordering::AcqRel);
            self.lists.clear();
        }
    }
}
