//! The authorization cache: what each client is, and the current standing of each owner, so an
//! authorized call needs no database round trip. Every change the store commits evicts the
//! affected entries (here or, through the change feed, on every node).
//!
//! Loads race with evictions: a load that read the database before an eviction must not put the
//! old answer back. Each eviction bumps `epoch` while holding `gate` exclusively; a load checks the
//! epoch it started with and inserts while holding `gate` shared, so no eviction can slip in
//! between. Dropping entries for space needs no guard: a dropped entry is simply read again.
//!
//! Ids the store does not know are held too (issue #13), in a map of their own so that made-up
//! ids cannot push known clients out: a script still using a deleted client, or a caller
//! repeating a wrong id, costs no read. An unknown id only becomes known by a creation, which
//! announces `Change::ClientCreated` (or `ClientsSeeded`) on every node; the same epoch guard keeps
//! a read that saw no client from outliving that announcement.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use prometheus::IntCounter;
use time::OffsetDateTime;
use trustgate_core::client::{last_used_is_stale, ApiClient, ClientKind};
use trustgate_core::client_secrets::GrantSecret;
use trustgate_core::ids::{AdminId, ClientId, CustomerId};
use trustgate_core::rights::Standing;
use trustgate_core::secret::SecretRef;
use trustgate_store::{Change, ClientGrant};

use crate::cache::bounded::{bounded, Bounded};

/// What never changes about a client while it exists (a change of its secrets, or of a principal's
/// access, evicts it), so token grants need no database either.
#[derive(Debug)]
pub struct ClientFacts {
    pub client: ApiClient,
    pub secrets: Vec<CachedSecret>,
    /// None for a service principal.
    pub owner_email: Option<String>,
}

impl ClientFacts {
    /// The secret a presented one names, if the client holds it.
    pub fn secret(&self, reference: SecretRef) -> Option<&CachedSecret> {
        self.secrets.iter().find(|s| s.secret.is(reference))
    }
}

/// One of a client's secrets, with what this node noted about its use.
#[derive(Debug)]
pub struct CachedSecret {
    pub secret: GrantSecret,
    /// Unix seconds of the last recorded use; 0 for never.
    last_used: AtomicI64,
    /// Whether this node saw the expiry logged (or logged it): later refusals write nothing.
    expiry_logged: AtomicBool,
}

impl CachedSecret {
    fn new(secret: GrantSecret) -> Self {
        Self {
            expiry_logged: AtomicBool::new(secret.expiry_logged),
            last_used: AtomicI64::new(secret.last_used_at.map_or(0, OffsetDateTime::unix_timestamp)),
            secret,
        }
    }

    /// True for the first caller to ask after an expiry nobody has logged yet, on this node.
    pub fn expiry_unlogged(&self) -> bool {
        !self.expiry_logged.swap(true, Ordering::Relaxed)
    }

    /// Notes a use at `now`; true when the stored `last_used_at` is stale enough to rewrite. Only
    /// one of many concurrent callers gets true.
    pub fn record_use(&self, now: OffsetDateTime) -> bool {
        let seen = self.last_used.load(Ordering::Relaxed);
        let last = (seen != 0).then(|| OffsetDateTime::from_unix_timestamp(seen).ok()).flatten();
        last_used_is_stale(last, now)
            && self.last_used.compare_exchange(seen, now.unix_timestamp(), Ordering::Relaxed, Ordering::Relaxed).is_ok()
    }
}

#[derive(Debug, Clone)]
pub struct CachedClient {
    pub facts: Arc<ClientFacts>,
    pub standing: Standing,
}

pub struct AuthzCache {
    clients: Bounded<ClientId, Arc<ClientFacts>>,
    standings: Bounded<(CustomerId, AdminId), Standing>,
    /// Ids the store had no client for when read.
    unknown: Bounded<ClientId, ()>,
    epoch: AtomicU64,
    gate: RwLock<()>,
    flushes: AtomicU64,
    /// Entries dropped, by a change, a flush or for space: for metrics.
    evictions: IntCounter,
}

/// Taken before a load; [`AuthzCache::insert`] ignores loads that an eviction overtook.
#[derive(Debug, Clone, Copy)]
pub struct Epoch(u64);

impl AuthzCache {
    /// At most `capacity` clients and as many owner standings, and a quarter as many unknown ids.
    pub fn new(capacity: usize, evictions: IntCounter) -> Self {
        Self {
            clients: bounded(capacity, evictions.clone()),
            standings: bounded(capacity, evictions.clone()),
            unknown: bounded(capacity / 4, evictions.clone()),
            epoch: AtomicU64::new(0),
            gate: RwLock::new(()),
            flushes: AtomicU64::new(0),
            evictions,
        }
    }

    /// Clients held now.
    pub fn held(&self) -> usize {
        self.clients.len()
    }

    fn evicted(&self, count: usize) {
        self.evictions.inc_by(u64::try_from(count).unwrap_or(u64::MAX));
    }

    pub fn epoch(&self) -> Epoch {
        Epoch(self.epoch.load(Ordering::Acquire))
    }

    pub fn get(&self, id: ClientId) -> Option<CachedClient> {
        let facts = self.clients.get(&id)?;
        let standing = match &facts.client.kind {
            ClientKind::SecureClient { owner } => self.standings.get(&(facts.client.customer_id.clone(), *owner))?,
            // A principal's access is part of its facts: a change to it evicts the client.
            ClientKind::ServicePrincipal { access } => Standing::of_principal(access.clone()),
        };
        Some(CachedClient { facts, standing })
    }

    /// Whether the store had no client `id` when last read, and none was created since.
    pub fn is_unknown(&self, id: ClientId) -> bool {
        self.unknown.get(&id).is_some()
    }

    /// Notes that the store had no client `id` at `loaded_at`, unless a change came in since.
    pub fn insert_unknown(&self, loaded_at: Epoch, id: ClientId) {
        let Ok(_no_eviction_meanwhile) = self.gate.read() else { return };
        if self.epoch.load(Ordering::Acquire) == loaded_at.0 {
            self.unknown.insert(id, ());
        }
    }

    pub fn insert(&self, loaded_at: Epoch, grant: &ClientGrant) -> CachedClient {
        let facts = Arc::new(ClientFacts {
            client: grant.client.clone(),
            secrets: grant.secrets.iter().cloned().map(CachedSecret::new).collect(),
            owner_email: grant.owner_email.clone(),
        });
        let entry = CachedClient { facts: facts.clone(), standing: grant.standing.clone() };
        let Ok(_no_eviction_meanwhile) = self.gate.read() else { return entry };
        if self.epoch.load(Ordering::Acquire) != loaded_at.0 {
            return entry;
        }
        if let ClientKind::SecureClient { owner } = grant.client.kind {
            self.standings.insert((grant.client.customer_id.clone(), owner), grant.standing.clone());
        }
        self.clients.insert(grant.client.id, facts);
        entry
    }

    pub fn evict(&self, changes: &[Change]) {
        let Ok(_loads_wait) = self.gate.write() else { return };
        self.epoch.fetch_add(1, Ordering::AcqRel);
        let mut dropped = 0;
        for change in changes {
            match change {
                Change::ClientDeleted(id) | Change::ClientChanged(id) | Change::SecretsChanged(id) => {
                    dropped += usize::from(self.clients.remove(id).is_some());
                }
                Change::MembershipChanged(customer, admin) => {
                    dropped += usize::from(self.standings.remove(&(customer.clone(), *admin)).is_some());
                }
                Change::AdminChanged(admin) => dropped += self.drop_standings(|(_, a)| a == admin),
                Change::CustomerChanged(customer) => dropped += self.drop_standings(|(c, _)| c == customer),
                Change::ClientCreated(id) => dropped += usize::from(self.unknown.remove(id).is_some()),
                Change::ClientsSeeded => {
                    dropped += self.unknown.len();
                    self.unknown.clear();
                }
                Change::KeysChanged
                | Change::NotificationsPosted(_)
                | Change::TokenRevoked(_)
                | Change::TokensRevokedBefore(..)
                | Change::CatalogChanged => {}
            }
        }
        self.evicted(dropped);
    }

    /// Drops the standings whose owner `matches`; how many.
    fn drop_standings(&self, matches: impl Fn(&(CustomerId, AdminId)) -> bool) -> usize {
        let before = self.standings.len();
        self.standings.retain(|owner, _| !matches(owner));
        before.saturating_sub(self.standings.len())
    }

    pub fn flush(&self) {
        let Ok(_loads_wait) = self.gate.write() else { return };
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.flushes.fetch_add(1, Ordering::Relaxed);
        self.evicted(self.clients.len() + self.standings.len() + self.unknown.len());
        self.clients.clear();
        self.standings.clear();
        self.unknown.clear();
    }

    /// How often the whole cache was dropped (a lost change feed, a key reload): for operators
    /// and tests.
    pub fn flushes(&self) -> u64 {
        self.flushes.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trustgate_core::access::Access;
    use trustgate_core::admin::AdminStatus;
    use trustgate_core::customer::DisabledOwnerPolicy;
    use trustgate_core::secret::{ClientSecret, SecretId, ServerKey};

    fn cache(capacity: usize) -> AuthzCache {
        AuthzCache::new(capacity, IntCounter::new("evictions", "evictions").unwrap())
    }

    fn grant() -> ClientGrant {
        ClientGrant {
            client: ApiClient {
                id: ClientId::generate(),
                customer_id: CustomerId::generate(),
                kind: ClientKind::SecureClient { owner: AdminId::generate() },
                name: "ci".to_owned(),
                created_at: OffsetDateTime::now_utc(),
                last_used_at: None,
            },
            secrets: vec![GrantSecret {
                id: SecretId::generate(),
                legacy: false,
                verifier: ServerKey::generate().verifier(&ClientSecret::generate()),
                expires_at: None,
                expiry_logged: false,
                last_used_at: None,
            }],
            owner_email: Some("a@example.com".to_owned()),
            standing: Standing {
                access: Access::Full,
                status: AdminStatus::Active,
                policy: DisabledOwnerPolicy::KeepActive,
            },
        }
    }

    #[test]
    fn a_load_overtaken_by_an_eviction_is_not_cached() {
        let cache = cache(10);
        let g = grant();
        let before = cache.epoch();
        cache.evict(&[Change::MembershipChanged(g.client.customer_id.clone(), g.client.owner().unwrap())]);
        cache.insert(before, &g);
        assert!(cache.get(g.client.id).is_none());
        cache.insert(cache.epoch(), &g);
        assert!(cache.get(g.client.id).is_some());
    }

    #[test]
    fn an_owner_change_evicts_the_standing_of_all_their_clients() {
        let cache = cache(10);
        let g = grant();
        cache.insert(cache.epoch(), &g);
        cache.evict(&[Change::AdminChanged(g.client.owner().unwrap())]);
        assert!(cache.get(g.client.id).is_none());
        assert_eq!(cache.evictions.get(), 1, "the owner's standing was evicted");
    }

    #[test]
    fn a_principal_holds_its_own_access_and_a_change_to_it_evicts_it() {
        let cache = cache(10);
        let mut g = grant();
        let creator = g.client.owner().unwrap();
        g.client.kind = ClientKind::ServicePrincipal { access: Access::Full };
        cache.insert(cache.epoch(), &g);
        cache.evict(&[Change::AdminChanged(creator)]);
        assert_eq!(cache.get(g.client.id).map(|c| c.standing.access), Some(Access::Full));
        cache.evict(&[Change::ClientChanged(g.client.id)]);
        assert!(cache.get(g.client.id).is_none());
    }

    #[test]
    fn a_use_is_recorded_once_a_minute() {
        let cache = cache(10);
        let entry = cache.insert(cache.epoch(), &grant());
        let now = OffsetDateTime::now_utc();
        let secret = &entry.facts.secrets[0];
        assert!(secret.record_use(now));
        assert!(!secret.record_use(now + time::Duration::seconds(30)));
        assert!(secret.record_use(now + time::Duration::seconds(61)));
    }

    #[test]
    fn an_unknown_id_is_forgotten_once_a_client_is_created_with_it() {
        let cache = cache(8);
        let id = ClientId::generate();
        cache.insert_unknown(cache.epoch(), id);
        assert!(cache.is_unknown(id));
        cache.evict(&[Change::ClientCreated(ClientId::generate())]);
        assert!(cache.is_unknown(id), "another client's creation leaves it");
        cache.evict(&[Change::ClientCreated(id)]);
        assert!(!cache.is_unknown(id));
        cache.insert_unknown(cache.epoch(), id);
        cache.evict(&[Change::ClientsSeeded]);
        assert!(!cache.is_unknown(id), "a bulk seeding forgets every unknown id");
        cache.insert_unknown(cache.epoch(), id);
        cache.flush();
        assert!(!cache.is_unknown(id));
    }

    #[test]
    fn a_read_that_found_no_client_before_its_creation_is_not_cached() {
        let cache = cache(8);
        let id = ClientId::generate();
        let before = cache.epoch();
        cache.evict(&[Change::ClientCreated(id)]);
        cache.insert_unknown(before, id);
        assert!(!cache.is_unknown(id));
    }

    #[test]
    fn a_change_of_secrets_evicts_the_client() {
        let cache = cache(10);
        let g = grant();
        cache.insert(cache.epoch(), &g);
        cache.evict(&[Change::SecretsChanged(g.client.id)]);
        assert!(cache.get(g.client.id).is_none());
    }

    #[test]
    fn a_full_cache_drops_single_entries_and_keeps_answering_right() {
        let cache = cache(100);
        let grants: Vec<_> = (0..1_000).map(|_| grant()).collect();
        for g in &grants {
            cache.insert(cache.epoch(), g);
        }
        assert!(cache.held() <= 100, "{} held", cache.held());
        assert!(cache.held() > 50, "a full cache drops what it must, not everything: {} held", cache.held());
        assert!(cache.evictions.get() >= 900, "dropped entries are counted: {}", cache.evictions.get());
        for g in &grants {
            if let Some(hit) = cache.get(g.client.id) {
                assert_eq!(hit.facts.client.id, g.client.id);
                assert_eq!(hit.facts.client.owner(), g.client.owner());
                assert_eq!(hit.standing, g.standing);
            }
        }
    }

    #[test]
    fn a_client_asked_for_again_survives_a_scan_of_new_ones() {
        let cache = cache(100);
        let hot = grant();
        cache.insert(cache.epoch(), &hot);
        for round in 0..20 {
            assert!(cache.get(hot.client.id).is_some(), "the hot client was dropped in round {round}");
            for _ in 0..50 {
                cache.insert(cache.epoch(), &grant());
            }
        }
    }
}
