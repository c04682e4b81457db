//! Tokens revoked before they expire (RFC 7009), held in memory so the verified-token path pays a
//! hash lookup, not a query. Loaded from the store at start and after a lost change feed, kept
//! current from `Change::TokenRevoked`; an entry goes once its token would have expired anyway.

use std::collections::HashMap;
use std::sync::RwLock;

use time::OffsetDateTime;
use trustgate_core::token::{ALLOWED_SKEW_SECS, TOKEN_LIFETIME_SECS};

/// Expired entries are swept when the set has doubled since the last sweep, so a burst of
/// revocations costs amortised constant time each.
const FIRST_SWEEP: usize = 1024;

pub struct RevokedTokens(RwLock<Inner>);

struct Inner {
    /// `jti` → unix time after which the token is refused as expired anyway.
    expiry: HashMap<String, i64>,
    sweep_at: usize,
}

impl Default for RevokedTokens {
    fn default() -> Self {
        Self(RwLock::new(Inner { expiry: HashMap::new(), sweep_at: FIRST_SWEEP }))
    }
}

impl RevokedTokens {
    pub fn contains(&self, jti: &str) -> bool {
        match self.0.read() {
            Ok(inner) => inner.expiry.contains_key(jti),
            Err(poisoned) => poisoned.into_inner().expiry.contains_key(jti),
        }
    }

    /// A revocation announced by the feed, which names the token but not its expiry: it is kept
    /// as long as any token issued now could live.
    pub fn announced(&self, jti: &str, now: OffsetDateTime) {
        let until = now.unix_timestamp().saturating_add(TOKEN_LIFETIME_SECS + ALLOWED_SKEW_SECS);
        self.insert(std::iter::once((jti.to_owned(), until)), now);
    }

    /// Adds revocations read from the store. Merged, never replaced: one announced while the
    /// store was being read must not be lost.
    pub fn load(&self, stored: Vec<(String, OffsetDateTime)>, now: OffsetDateTime) {
        self.insert(stored.into_iter().map(|(jti, at)| (jti, at.unix_timestamp())), now);
    }

    fn insert(&self, entries: impl Iterator<Item = (String, i64)>, now: OffsetDateTime) {
        let mut inner = match self.0.write() {
            Ok(inner) => inner,
            Err(poisoned) => poisoned.into_inner(),
        };
        for (jti, until) in entries {
            let kept = inner.expiry.entry(jti).or_insert(until);
            *kept = (*kept).max(until);
        }
        if inner.expiry.len() >= inner.sweep_at {
            let now = now.unix_timestamp();
            inner.expiry.retain(|_, until| *until > now);
            inner.sweep_at = (inner.expiry.len() * 2).max(FIRST_SWEEP);
        }
    }

    pub fn held(&self) -> usize {
        self.0.read().map(|inner| inner.expiry.len()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revoked_token_is_known_until_it_would_have_expired_anyway() {
        let revoked = RevokedTokens::default();
        let now = OffsetDateTime::now_utc();
        revoked.announced("a", now);
        assert!(revoked.contains("a"));
        assert!(!revoked.contains("b"));
        let later = now + time::Duration::seconds(TOKEN_LIFETIME_SECS + ALLOWED_SKEW_SECS + 1);
        let many = (0..FIRST_SWEEP).map(|i| (format!("later-{i}"), later + time::Duration::hours(1))).collect();
        revoked.load(many, later);
        assert!(!revoked.contains("a"), "swept once expired");
        assert_eq!(revoked.held(), FIRST_SWEEP);
    }
}
