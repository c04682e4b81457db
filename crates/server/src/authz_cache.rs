//! The authorization cache: what each client is, and the current standing of each owner, so an
//! authorized call needs no database round trip. Every change the store commits evicts the
//! affected entries (here or, through the change feed, on every node).
//!
//! Loads race with evictions: a load that read the database before an eviction must not put the
//! old answer back. Each eviction bumps `epoch`; a load inserts only if the epoch it started
//! with is still current.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;

use trustgate_core::ids::{AdminId, ClientId, CustomerId};
use trustgate_core::rights::Standing;
use trustgate_store::{Change, ClientGrant};

/// What never changes about a client while it exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFacts {
    pub customer_id: CustomerId,
    pub owner_id: AdminId,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedClient {
    pub facts: ClientFacts,
    pub standing: Standing,
}

pub struct AuthzCache {
    clients: RwLock<HashMap<ClientId, ClientFacts>>,
    standings: RwLock<HashMap<(CustomerId, AdminId), Standing>>,
    epoch: AtomicU64,
    flushes: AtomicU64,
    capacity: usize,
}

/// Taken before a load; [`AuthzCache::insert`] ignores loads that an eviction overtook.
#[derive(Debug, Clone, Copy)]
pub struct Epoch(u64);

impl AuthzCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            clients: RwLock::default(),
            standings: RwLock::default(),
            epoch: AtomicU64::new(0),
            flushes: AtomicU64::new(0),
            capacity: capacity.max(1),
        }
    }

    pub fn epoch(&self) -> Epoch {
        Epoch(self.epoch.load(Ordering::Acquire))
    }

    pub fn get(&self, id: ClientId) -> Option<CachedClient> {
        let facts = self.clients.read().ok()?.get(&id)?.clone();
        let standing = *self.standings.read().ok()?.get(&(facts.customer_id.clone(), facts.owner_id))?;
        Some(CachedClient { facts, standing })
    }

    pub fn insert(&self, loaded_at: Epoch, grant: &ClientGrant) -> CachedClient {
        let facts = ClientFacts {
            customer_id: grant.client.customer_id.clone(),
            owner_id: grant.client.owner_id,
            name: grant.client.name.clone(),
        };
        let entry = CachedClient { facts: facts.clone(), standing: grant.standing };
        let (Ok(mut clients), Ok(mut standings)) = (self.clients.write(), self.standings.write()) else {
            return entry;
        };
        // Checked under the write locks, which evictions also take, so none can slip in between.
        if self.epoch.load(Ordering::Acquire) != loaded_at.0 {
            return entry;
        }
        if clients.len() >= self.capacity {
            clients.clear();
        }
        if standings.len() >= self.capacity {
            standings.clear();
        }
        standings.insert((facts.customer_id.clone(), facts.owner_id), grant.standing);
        clients.insert(grant.client.id, facts);
        entry
    }

    pub fn evict(&self, changes: &[Change]) {
        let (Ok(mut clients), Ok(mut standings)) = (self.clients.write(), self.standings.write()) else {
            return;
        };
        self.epoch.fetch_add(1, Ordering::AcqRel);
        for change in changes {
            match change {
                Change::ClientDeleted(id) => {
                    clients.remove(id);
                }
                Change::MembershipChanged(customer, admin) => {
                    standings.remove(&(customer.clone(), *admin));
                }
                Change::AdminChanged(admin) => standings.retain(|(_, a), _| a != admin),
                Change::CustomerChanged(customer) => standings.retain(|(c, _), _| c != customer),
                Change::KeysChanged => {}
            }
        }
    }

    pub fn flush(&self) {
        let (Ok(mut clients), Ok(mut standings)) = (self.clients.write(), self.standings.write()) else {
            return;
        };
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.flushes.fetch_add(1, Ordering::Relaxed);
        clients.clear();
        standings.clear();
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
    use time::OffsetDateTime;
    use trustgate_core::access::Access;
    use trustgate_core::admin::AdminStatus;
    use trustgate_core::client::ApiClient;
    use trustgate_core::customer::DisabledOwnerPolicy;
    use trustgate_core::secret::{ClientSecret, ServerKey};

    fn grant() -> ClientGrant {
        ClientGrant {
            client: ApiClient {
                id: ClientId::generate(),
                customer_id: CustomerId::generate(),
                owner_id: AdminId::generate(),
                name: "ci".to_owned(),
                created_at: OffsetDateTime::now_utc(),
                last_used_at: None,
            },
            verifier: ServerKey::generate().verifier(&ClientSecret::generate()),
            owner_email: "a@example.com".to_owned(),
            standing: Standing {
                access: Access::Full,
                status: AdminStatus::Active,
                policy: DisabledOwnerPolicy::KeepActive,
            },
        }
    }

    #[test]
    fn a_load_overtaken_by_an_eviction_is_not_cached() {
        let cache = AuthzCache::new(10);
        let g = grant();
        let before = cache.epoch();
        cache.evict(&[Change::MembershipChanged(g.client.customer_id.clone(), g.client.owner_id)]);
        cache.insert(before, &g);
        assert_eq!(cache.get(g.client.id), None);
        cache.insert(cache.epoch(), &g);
        assert!(cache.get(g.client.id).is_some());
    }

    #[test]
    fn an_owner_change_evicts_the_standing_of_all_their_clients() {
        let cache = AuthzCache::new(10);
        let g = grant();
        cache.insert(cache.epoch(), &g);
        cache.evict(&[Change::AdminChanged(g.client.owner_id)]);
        assert_eq!(cache.get(g.client.id), None);
    }

    #[test]
    fn the_cache_stays_within_its_capacity() {
        let cache = AuthzCache::new(2);
        for _ in 0..5 {
            cache.insert(cache.epoch(), &grant());
        }
        assert!(cache.clients.read().map(|c| c.len()).unwrap_or(0) <= 2);
    }
}
