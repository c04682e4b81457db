//! Tokens revoked before they expire (RFC 7009), held in memory so the verified-token path pays a
//! hash lookup, not a query. Loaded from the store at start and after a lost change feed, kept
//! current from `Change::TokenRevoked`; an entry goes once its token would have expired anyway.
//! A client past the per-client cap of revocations has a "not before" second instead
//! (`Change::TokensRevokedBefore`): its tokens issued at or before it are refused (issue #21).

use std::collections::HashMap;
use std::sync::RwLock;

use time::OffsetDateTime;
use trustgate_core::ids::ClientId;
use trustgate_core::token::{VerifiedClaims, ALLOWED_SKEW_SECS, TOKEN_LIFETIME_SECS};

/// Revoked tokens a client may have listed before its revocations become a "not before" time.
pub const REVOCATIONS_PER_CLIENT: u64 = 100;

/// Expired entries are swept when the set has doubled since the last sweep, so a burst of
/// revocations costs amortised constant time each.
const FIRST_SWEEP: usize = 1024;

pub struct RevokedTokens(RwLock<Inner>);

struct Inner {
    /// `jti` → unix time after which the token is refused as expired anyway.
    expiry: HashMap<String, i64>,
    /// client → (unix second at or before which its tokens are refused, unix time it is kept until).
    before: HashMap<ClientId, (i64, i64)>,
    sweep_at: usize,
}

impl Default for RevokedTokens {
    fn default() -> Self {
        Self(RwLock::new(Inner { expiry: HashMap::new(), before: HashMap::new(), sweep_at: FIRST_SWEEP }))
    }
}

impl RevokedTokens {
    #[cfg(test)]
    pub fn contains(&self, jti: &str) -> bool {
        match self.0.read() {
            Ok(inner) => inner.expiry.contains_key(jti),
            Err(poisoned) => poisoned.into_inner().expiry.contains_key(jti),
        }
    }

    /// Whether `claims` are of a revoked token: named by its `jti`, or issued at or before its
    /// client's "not before" second.
    pub fn refuses(&self, claims: &VerifiedClaims) -> bool {
        let refuses = |inner: &Inner| {
            inner.expiry.contains_key(&*claims.jti)
                || inner.before.get(&claims.sub).is_some_and(|(second, _)| claims.iat <= *second)
        };
        match self.0.read() {
            Ok(inner) => refuses(&inner),
            Err(poisoned) => refuses(&poisoned.into_inner()),
        }
    }

    /// Every token of `client` issued at or before the unix `second` is refused, as long as one
    /// could be alive.
    pub fn revoked_before(&self, client: ClientId, second: i64) {
        let until = second.saturating_add(TOKEN_LIFETIME_SECS + ALLOWED_SKEW_SECS);
        self.insert_before(std::iter::once((client, second, until)));
    }

    /// Adds the "not before" times read from the store, merged as [`Self::load`] merges.
    pub fn load_before(&self, stored: Vec<(ClientId, i64, OffsetDateTime)>) {
        self.insert_before(stored.into_iter().map(|(client, second, until)| (client, second, until.unix_timestamp())));
    }

    fn insert_before(&self, entries: impl Iterator<Item = (ClientId, i64, i64)>) {
        let mut inner = match self.0.write() {
            Ok(inner) => inner,
            Err(poisoned) => poisoned.into_inner(),
        };
        for (client, second, until) in entries {
            let kept = inner.before.entry(client).or_insert((second, until));
            *kept = (kept.0.max(second), kept.1.max(until));
        }
        // One entry a client at most: swept whenever the list of single tokens is.
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
            inner.before.retain(|_, (_, until)| *until > now);
            inner.sweep_at = (inner.expiry.len() * 2).max(FIRST_SWEEP);
        }
    }

    pub fn held(&self) -> usize {
        self.0.read().map(|inner| inner.expiry.len() + inner.before.len()).unwrap_or_default()
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
