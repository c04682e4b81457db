//! Rendered per-customer lists (the notifications a `GET /notifications/items` returns), so the
//! most frequent read needs no database round trip. Evicted through the change feed whenever the
//! customer's list changes, with the same epoch guard as the authorization cache.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;

use axum::body::Bytes;
use trustgate_core::ids::CustomerId;

pub struct ListCache {
    lists: RwLock<HashMap<CustomerId, Bytes>>,
    epoch: AtomicU64,
    capacity: usize,
}

impl ListCache {
    pub fn new(capacity: usize) -> Self {
        Self { lists: RwLock::default(), epoch: AtomicU64::new(0), capacity: capacity.max(1) }
    }

    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    pub fn get(&self, customer: &CustomerId) -> Option<Bytes> {
        self.lists.read().ok()?.get(customer).cloned()
    }

    /// Keeps `body` unless an eviction happened since `loaded_at`.
    pub fn insert(&self, loaded_at: u64, customer: &CustomerId, body: Bytes) {
        let Ok(mut lists) = self.lists.write() else { return };
        if self.epoch.load(Ordering::Acquire) != loaded_at {
            return;
        }
        if lists.len() >= self.capacity {
            lists.clear();
        }
        lists.insert(customer.clone(), body);
    }

    pub fn evict(&self, customer: &CustomerId) {
        if let Ok(mut lists) = self.lists.write() {
            self.epoch.fetch_add(1, Ordering::AcqRel);
            lists.remove(customer);
        }
    }

    pub fn clear(&self) {
        if let Ok(mut lists) = self.lists.write() {
            self.epoch.fetch_add(1, Ordering::AcqRel);
            lists.clear();
        }
    }
}
