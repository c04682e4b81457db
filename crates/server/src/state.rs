//! What every request handler shares.

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use time::OffsetDateTime;
use trustgate_core::ids::ClientId;
use trustgate_core::secret::ServerKey;
use trustgate_core::token::{Claims, KeySet, SigningKey};
use trustgate_store::{Change, ChangeListener, Store, StoreError};

use crate::authz_cache::{AuthzCache, CachedClient};
use crate::config::ServerConfig;
use crate::error::ApiError;
use crate::list_cache::ListCache;
use crate::token_cache::VerifiedTokens;

#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub store: Arc<dyn Store>,
    pub cache: AuthzCache,
    pub server_key: ServerKey,
    pub config: ServerConfig,
    keys: RwLock<Arc<KeySet>>,
    verified: VerifiedTokens,
    pub notifications: ListCache,
    last_used: LastUsed,
}

impl Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// Loads the signing keys (creating the first one on an empty store) and subscribes the
    /// authorization cache to the store's change feed.
    pub async fn new(store: Arc<dyn Store>, server_key: ServerKey, config: ServerConfig) -> Result<Self, StoreError> {
        let keys = load_keys(store.as_ref()).await?;
        let shared = Arc::new(Shared {
            store,
            cache: AuthzCache::new(config.cache_capacity),
            server_key,
            verified: VerifiedTokens::new(config.cache_capacity),
            notifications: ListCache::new(config.cache_capacity),
            last_used: LastUsed::default(),
            config,
            keys: RwLock::new(Arc::new(keys)),
        });
        shared.store.watch_changes(Arc::new(Feed(Arc::downgrade(&shared))));
        tokio::spawn(flush_last_used(Arc::downgrade(&shared)));
        Ok(Self(shared))
    }

    /// Brings this node up to date with changes other processes committed (the operator CLI),
    /// signing keys included, before answering: the next request sees them.
    pub async fn catch_up(&self) -> Result<(), StoreError> {
        self.store.catch_up().await?;
        reload_keys(Arc::downgrade(&self.0)).await;
        Ok(())
    }

    pub fn keys(&self) -> Arc<KeySet> {
        match self.keys.read() {
            Ok(keys) => keys.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The identity a bearer token proves, if its signature and lifetime check out.
    pub fn verify_token(&self, token: &str) -> Option<Arc<Claims>> {
        let now = OffsetDateTime::now_utc();
        if let Some(claims) = self.verified.get(token, now) {
            return Some(claims);
        }
        let claims = Arc::new(self.keys().verify(token, now).ok()?);
        self.verified.insert(token, claims.clone());
        Some(claims)
    }

    /// Notes that a client was used; written to the store in batches, off the request path.
    pub fn record_use(&self, id: ClientId, at: OffsetDateTime) {
        if let Ok(mut pending) = self.last_used.0.lock() {
            pending.insert(id, at);
        }
    }

    /// The client and its owner's current standing: from the cache, or loaded and cached.
    pub async fn client(&self, id: ClientId) -> Result<Option<CachedClient>, ApiError> {
        if let Some(hit) = self.cache.get(id) {
            return Ok(Some(hit));
        }
        let epoch = self.cache.epoch();
        Ok(self.store.client_grant(id).await?.map(|grant| self.cache.insert(epoch, &grant)))
    }
}

async fn load_keys(store: &dyn Store) -> Result<KeySet, StoreError> {
    if let Some(keys) = KeySet::new(store.signing_keys().await?) {
        return Ok(keys);
    }
    store.add_signing_key(&SigningKey::generate(), OffsetDateTime::now_utc()).await?;
    KeySet::new(store.signing_keys().await?).ok_or_else(|| StoreError::Internal("no signing key was stored".to_owned()))
}

/// Receives the store's changes. Weak, because the store that calls it belongs to the state.
struct Feed(Weak<Shared>);

impl ChangeListener for Feed {
    fn changed(&self, changes: &[Change]) {
        let Some(shared) = self.0.upgrade() else { return };
        shared.cache.evict(changes);
        for change in changes {
            if let Change::NotificationsPosted(customer) = change {
                shared.notifications.evict(customer);
            }
        }
        if changes.contains(&Change::KeysChanged) {
            tokio::spawn(reload_keys(self.0.clone()));
        }
    }

    fn flush(&self) {
        if let Some(shared) = self.0.upgrade() {
            shared.cache.flush();
            shared.notifications.clear();
            tokio::spawn(reload_keys(self.0.clone()));
        }
    }
}

/// Uses waiting to be written: one row per client, the latest time wins.
#[derive(Default)]
struct LastUsed(Mutex<HashMap<ClientId, OffsetDateTime>>);

const LAST_USED_FLUSH: Duration = Duration::from_secs(5);

async fn flush_last_used(shared: Weak<Shared>) {
    loop {
        tokio::time::sleep(LAST_USED_FLUSH).await;
        let Some(shared) = shared.upgrade() else { return };
        let pending: Vec<_> = match shared.last_used.0.lock() {
            Ok(mut pending) => pending.drain().collect(),
            Err(_) => continue,
        };
        if !pending.is_empty() {
            if let Err(error) = shared.store.touch_clients(&pending).await {
                tracing::warn!(%error, clients = pending.len(), "could not record when clients were last used");
            }
        }
    }
}

async fn reload_keys(shared: Weak<Shared>) {
    let Some(shared) = shared.upgrade() else { return };
    match shared.store.signing_keys().await.map(KeySet::new) {
        Ok(Some(keys)) => {
            if let Ok(mut slot) = shared.keys.write() {
                *slot = Arc::new(keys);
            }
            // A key that left the set must stop vouching for the tokens it signed.
            shared.verified.clear();
        }
        Ok(None) => tracing::error!("the store holds no signing key; keeping the current ones"),
        Err(error) => tracing::warn!(%error, "reloading signing keys failed; keeping the current ones"),
    }
}
