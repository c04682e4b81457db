//! Tokens already verified, so repeated calls with the same token skip the signature check
//! (DESIGN.md: "a small cache of verified tokens"). Only identity is cached; rights are still
//! looked up on every call. Bounded: when full it starts over.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use trustgate_core::token::Claims;

pub struct VerifiedTokens {
    entries: RwLock<HashMap<[u8; 32], Arc<Claims>>>,
    capacity: usize,
}

impl VerifiedTokens {
    pub fn new(capacity: usize) -> Self {
        Self { entries: RwLock::default(), capacity: capacity.max(1) }
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
                entries.clear();
            }
            entries.insert(Self::key(token), claims);
        }
    }
}
