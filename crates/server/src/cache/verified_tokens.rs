//! Tokens already verified, so repeated calls with the same token skip the signature check
//! (DESIGN.md: "a small cache of verified tokens"). Only identity is cached; rights are still
//! looked up on every call. Bounded: when full it drops the tokens least likely to come back.

use std::sync::Arc;

use prometheus::IntCounter;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use trustgate_core::token::VerifiedClaims;

use crate::cache::bounded::{bounded, Bounded};

pub struct VerifiedTokens {
    entries: Bounded<[u8; 32], Arc<VerifiedClaims>>,
    evictions: IntCounter,
}

impl VerifiedTokens {
    pub fn new(capacity: usize, evictions: IntCounter) -> Self {
        Self { entries: bounded(capacity, evictions.clone()), evictions }
    }

    pub fn held(&self) -> usize {
        self.entries.len()
    }

    /// Counts every entry as evicted: the key set they were verified with is being replaced.
    pub fn retire(&self) {
        self.evictions.inc_by(u64::try_from(self.held()).unwrap_or(u64::MAX));
    }

    fn key(token: &str) -> [u8; 32] {
        Sha256::digest(token.as_bytes()).into()
    }

    /// The claims of `token` if it was verified before and has not expired since.
    pub fn get(&self, token: &str, now: OffsetDateTime) -> Option<Arc<VerifiedClaims>> {
        let claims = self.entries.get(&Self::key(token))?;
        (claims.exp > now.unix_timestamp()).then_some(claims)
    }

    pub fn insert(&self, token: &str, claims: Arc<VerifiedClaims>) {
        self.entries.insert(Self::key(token), claims);
    }
}
