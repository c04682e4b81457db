//! Tokens already verified, so repeated calls with the same token skip the signature check
//! (DESIGN.md: "a small cache of verified tokens"). Only identity is cached; rights are still
//! looked up on every call. Bounded: when full it starts over.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use prometheus::IntCounter;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use trustgate_core::token::Claims;

pub struct VerifiedTokens {
    entries: RwLock<HashMap<[u8; 32], Arc<Claims>>>,
    capacity: usize,
    evictions: IntCounter,
}

impl VerifiedTokens {
    pub fn new(capacity: usize, evictions: IntCounter) -> Self {
        Self { entries: RwLock::default(), capacity: capacity.max(1), evictions }
    }

    pub fn held(&self) -> usize {
        self.entries.read().map(|entries| entries.len()).unwrap_or_default()
    }

    /// Counts every entry as evicted: the key set they were verified with is being replaced.
    pub fn retire(&self) {
        self.evicted(self.held());
    }

    fn evicted(&self, count: usize) {
        self.evictions.inc_by(u64::try_from(count).unwrap_or(u64::MAX));
    }

    fn key(token: &str) -> [u8; 32] {
        Sha256::digest(token.as_bytes()).into()
    }

    /// The claims of `token` if it was verified before and has not expired since.
    pub fn get(&self, token: &str, now: OffsetDateTime) -> Option<Arc<Claims>> {
        let claims = self.entries.read().ok()?.get(&Self::key(token))?.clone();
        (claims.exp > now.unix_timestamp()).then_some(claims)
    }

    pub fn insert(&self, token: &str, claims: Arc<Claims>) {
        if let Ok(mut entries) = self.entries.write() {
            if entries.len() >= self.capacity {
                self.evicted(entries.len());
                entries.clear();
            }
            entries.insert(Self::key(token), claims);
        }
    }
}
