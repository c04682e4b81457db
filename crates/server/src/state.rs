//! What every request handler shares.

use std::collections::HashMap;
use std::net::IpAddr;
use std::ops::Deref;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use time::OffsetDateTime;
use trustgate_core::catalog::Catalog;
use trustgate_core::custody::KeyVault;
use trustgate_core::event::{self, LogEntry};
use trustgate_core::federation::SecretVault;
use trustgate_core::ids::ClientId;
use trustgate_core::secret::{SecretId, ServerKey, ServerKeyring};
use trustgate_core::token::{Algorithm, KeySet, VerifiedClaims};
use trustgate_store::{Change, ChangeListener, Store, StoreError};

use crate::cache::authz::{AuthzCache, CachedClient};
use crate::cache::lists::ListCache;
use crate::cache::revoked_tokens::RevokedTokens;
use crate::cache::verified_tokens::VerifiedTokens;
use crate::config::ServerConfig;
use crate::error::ApiError;
use crate::jobs::refusals::{RefusalLog, Subject};
use crate::keys;
use crate::metrics::{CacheCounters, Metrics};
use crate::throttle::{SourcedThrottle, Throttles};

#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub store: Arc<dyn Store>,
    pub cache: AuthzCache,
    pub config: ServerConfig,
    /// Replaced whole when the operator rotates the server key (`trustgate keys
    /// rotate-server-key` tells this node over the control socket).
    server_keys: RwLock<Arc<ServerKeys>>,
    keys: RwLock<Arc<Keys>>,
    /// Reloads run one at a time, so an older read of the key set cannot land after a newer one
    /// and bring back a revoked key.
    key_reload: tokio::sync::Mutex<()>,
    pub notifications: ListCache,
    last_used: LastUsed,
    pub throttles: Throttles,
    refusals: RefusalLog,
    revoked: RevokedTokens,
    pub metrics: Metrics,
    /// Secrets of clients just created in the console, each waiting for its one view.
    pub reveals: crate::cache::shown_once::Reveals,
    /// Invitation links just made in the console, each waiting for its one view (issue #12).
    pub invitation_links: crate::cache::shown_once::Reveals<crate::cache::shown_once::InvitationShown>,
    /// Webhook signing secrets just made or rotated in the console, each waiting for its one view.
    pub webhook_secrets: crate::cache::shown_once::Reveals<crate::cache::shown_once::WebhookSecretShown>,
    /// Talks to customers' OpenID providers.
    pub oidc_http: crate::http::client::Client,
    pub sign_in_starts: crate::throttle::sign_in_starts::SignInStarts,
    /// The permission catalog: Platform permissions plus the operator's services and route rules.
    catalog: RwLock<Arc<Catalog>>,
    /// Catalog reloads run one at a time, so an older read cannot land after a newer one.
    catalog_reload: tokio::sync::Mutex<()>,
}

/// The server keys and what is derived from them, replaced together.
pub struct ServerKeys {
    pub ring: ServerKeyring,
    /// Opens the sealed signing keys.
    vault: KeyVault,
    /// Seals and opens the client secrets of customers' OpenID providers.
    pub secret_vault: SecretVault,
    /// Seals and opens webhook endpoints' signing secrets and headers.
    pub webhook_vault: trustgate_core::webhook::WebhookVault,
    /// Seals and opens administrators' TOTP secrets (issue #25).
    pub totp_vault: trustgate_core::mfa::TotpVault,
}

impl ServerKeys {
    fn new(ring: ServerKeyring) -> Self {
        Self {
            vault: KeyVault::for_ring(&ring),
            secret_vault: SecretVault::for_ring(&ring),
            webhook_vault: trustgate_core::webhook::WebhookVault::for_ring(&ring),
            totp_vault: trustgate_core::mfa::TotpVault::for_ring(&ring),
            ring,
        }
    }
}

/// The signing keys and the tokens verified with them, replaced together: a token verified with
/// a key while it is being revoked is remembered only by the set that is thrown away.
pub struct Keys {
    set: KeySet,
    pub(crate) verified: VerifiedTokens,
}

impl Keys {
    fn new(set: KeySet, capacity: usize, counters: &CacheCounters) -> Self {
        Self { set, verified: VerifiedTokens::new(capacity, counters.evictions.clone()) }
    }
}

impl Deref for Keys {
    type Target = KeySet;
    fn deref(&self) -> &KeySet {
        &self.set
    }
}

impl Shared {
    /// The server keys as this node holds them now.
    pub fn server_keys(&self) -> Arc<ServerKeys> {
        match self.server_keys.read() {
            Ok(keys) => keys.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
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
    pub async fn new(
        store: Arc<dyn Store>,
        server_keys: impl Into<ServerKeyring>,
        config: ServerConfig,
    ) -> Result<Self, StoreError> {
        let server_keys = ServerKeys::new(server_keys.into());
        let oidc_http = crate::http::client::Client::new(config.allow_http_issuers)
            .map_err(|e| StoreError::Internal(format!("cannot set up TLS for identity providers: {e}")))?;
        let metrics = Metrics::new().map_err(|e| StoreError::Internal(format!("cannot set up metrics: {e}")))?;
        let keys = Keys::new(
            load_keys(store.as_ref(), &server_keys.vault, config.signing_algorithm).await?,
            config.token_cache,
            &metrics.verified_tokens,
        );
        let shared = Arc::new(Shared {
            store,
            cache: AuthzCache::new(config.client_cache, metrics.authorization.evictions.clone()),
            server_keys: RwLock::new(Arc::new(server_keys)),
            notifications: ListCache::new(config.list_cache, metrics.notification_lists.evictions.clone()),
            last_used: LastUsed::default(),
            throttles: Throttles {
                clients: SourcedThrottle::new(config.client_throttle, config.throttle_capacity, config.clock.clone()),
                sign_ins: SourcedThrottle::new(config.sign_in_throttle, config.throttle_capacity, config.clock.clone()),
                resource_servers: SourcedThrottle::new(
                    config.client_throttle,
                    config.throttle_capacity,
                    config.clock.clone(),
                ),
            },
            refusals: RefusalLog::new(config.refusal_window, config.throttle_capacity),
            config,
            keys: RwLock::new(Arc::new(keys)),
            catalog: RwLock::new(Arc::new(Catalog::builtin())),
            catalog_reload: tokio::sync::Mutex::new(()),
            key_reload: tokio::sync::Mutex::new(()),
            revoked: RevokedTokens::default(),
            metrics,
            reveals: crate::cache::shown_once::Reveals::default(),
            invitation_links: crate::cache::shown_once::Reveals::default(),
            webhook_secrets: crate::cache::shown_once::Reveals::default(),
            oidc_http,
            sign_in_starts: crate::throttle::sign_in_starts::SignInStarts::default(),
        });
        shared.store.watch_changes(Arc::new(Feed(Arc::downgrade(&shared))));
        // Read after subscribing: a revocation committed in between arrives through the feed.
        let now = OffsetDateTime::now_utc();
        shared.revoked.load(shared.store.revoked_tokens(now).await?, now);
        shared.revoked.load_before(shared.store.revoked_before(now).await?);
        // Also read after subscribing: an apply committed in between arrives as a change.
        let catalog = shared.store.catalog().await?;
        shared.replace_catalog(catalog);
        tokio::spawn(flush_last_used(Arc::downgrade(&shared)));
        tokio::spawn(maintain_refusals(Arc::downgrade(&shared)));
        Ok(Self(shared))
    }

    /// A handle that does not keep the state alive, for work that ends when the node does.
    pub(crate) fn downgrade(&self) -> Weak<Shared> {
        Arc::downgrade(&self.0)
    }

    /// Brings this node up to date with changes other processes committed (the operator CLI),
    /// signing keys included, before answering: the next request sees them.
    pub async fn catch_up(&self) -> Result<(), StoreError> {
        self.store.catch_up().await?;
        reload_keys(Arc::downgrade(&self.0)).await;
        reload_catalog(Arc::downgrade(&self.0)).await;
        Ok(())
    }

    /// The current server key: every new verifier, digest and seal is made under it.
    pub fn server_key(&self) -> ServerKey {
        self.server_keys().ring.current().clone()
    }

    /// Takes up a new ring of server keys, then reopens the signing keys with it.
    pub async fn set_server_keys(&self, ring: ServerKeyring) {
        let keys = Arc::new(ServerKeys::new(ring));
        match self.server_keys.write() {
            Ok(mut slot) => *slot = keys,
            Err(poisoned) => *poisoned.into_inner() = keys,
        }
        reload_keys(Arc::downgrade(&self.0)).await;
    }

    /// The catalog as this node knows it now; a decision holds on to one version throughout.
    pub fn catalog(&self) -> Arc<Catalog> {
        match self.catalog.read() {
            Ok(catalog) => catalog.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn set_catalog(&self, catalog: Catalog) {
        self.replace_catalog(catalog);
    }

    pub fn keys(&self) -> Arc<Keys> {
        match self.keys.read() {
            Ok(keys) => keys.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The identity a bearer token proves, if its signature, lifetime, issuer and audience check
    /// out and it was not revoked.
    pub fn verify_token(&self, token: &str) -> Option<Arc<VerifiedClaims>> {
        let now = OffsetDateTime::now_utc();
        let keys = self.keys();
        let cached = keys.verified.get(token, now);
        self.metrics.verified_tokens.hit_or_miss(cached.is_some());
        let claims = match cached {
            Some(claims) => claims,
            None => {
                let claims = Arc::new(VerifiedClaims::from(keys.verify(token, now, &self.config.issuer).ok()?));
                keys.verified.insert(token, claims.clone());
                claims
            }
        };
        (!self.revoked.refuses(&claims)).then_some(claims)
    }

    /// Notes that a client was used; written to the store in batches, off the request path.
    pub fn record_use(&self, id: ClientId, secret: SecretId, at: OffsetDateTime) {
        if let Ok(mut pending) = self.last_used.0.lock() {
            pending.insert((id, secret), at);
        }
    }

    /// Logs a refusal (R10): the first of a window at once, the rest as a count when it ends.
    pub async fn refused(&self, subject: &Subject, entry: impl FnOnce() -> LogEntry, source: Option<IpAddr>) {
        if self.refusals.note(subject, source) {
            if let Err(error) = self.store.append_log(&event::from_source(entry(), source)).await {
                tracing::warn!(%error, "could not log a refusal");
            }
        }
    }

    /// Revoked tokens held in memory.
    pub fn revoked_len(&self) -> usize {
        self.revoked.held()
    }

    /// Writes every refusal counted so far; on graceful shutdown, so no count is lost.
    pub async fn flush_refusals(&self) {
        write_refusals(&self.0, true).await;
    }

    /// The client and its owner's current standing: from the cache, or loaded and cached (its
    /// absence too).
    pub async fn client(&self, id: ClientId) -> Result<Option<CachedClient>, ApiError> {
        if let Some(hit) = self.cache.get(id) {
            self.metrics.authorization.hit_or_miss(true);
            return Ok(Some(hit));
        }
        // An id read as unknown before is answered as such until a creation announces it.
        let unknown = self.cache.is_unknown(id);
        self.metrics.authorization.hit_or_miss(unknown);
        if unknown {
            return Ok(None);
        }
        let epoch = self.cache.epoch();
        match self.store.client_grant(id).await? {
            Some(grant) => Ok(Some(self.cache.insert(epoch, &grant))),
            None => {
                self.cache.insert_unknown(epoch, id);
                Ok(None)
            }
        }
    }
}

async fn load_keys(store: &dyn Store, vault: &KeyVault, algorithm: Algorithm) -> Result<KeySet, StoreError> {
    if let Some(keys) = KeySet::new(keys::load(store, vault).await?) {
        return Ok(keys);
    }
    let first = vault.seal(&keys::generate(algorithm)?, OffsetDateTime::now_utc());
    store.add_signing_key(&first, false).await?;
    KeySet::new(keys::load(store, vault).await?)
        .ok_or_else(|| StoreError::Internal("no signing key was stored".to_owned()))
}

/// Receives the store's changes. Weak, because the store that calls it belongs to the state.
struct Feed(Weak<Shared>);

impl ChangeListener for Feed {
    fn changed(&self, changes: &[Change]) {
        let Some(shared) = self.0.upgrade() else { return };
        shared.cache.evict(changes);
        for change in changes {
            match change {
                Change::NotificationsPosted(customer) => shared.notifications.evict(customer),
                Change::TokenRevoked(jti) => shared.revoked.announced(jti, OffsetDateTime::now_utc()),
                Change::TokensRevokedBefore(client, second) => shared.revoked.revoked_before(*client, *second),
                _ => {}
            }
        }
        if changes.contains(&Change::KeysChanged) {
            tokio::spawn(reload_keys(self.0.clone()));
        }
        if changes.contains(&Change::CatalogChanged) {
            tokio::spawn(reload_catalog(self.0.clone()));
        }
    }

    fn delivered(&self, lag: Duration) {
        if let Some(shared) = self.0.upgrade() {
            shared.metrics.feed_delivered(lag);
        }
    }

    fn lost(&self) {
        if let Some(shared) = self.0.upgrade() {
            shared.metrics.feed_lost();
        }
    }

    fn flush(&self) {
        if let Some(shared) = self.0.upgrade() {
            shared.cache.flush();
            shared.notifications.clear();
            tokio::spawn(reload_keys(self.0.clone()));
            tokio::spawn(reload_revoked(self.0.clone()));
            tokio::spawn(reload_catalog(self.0.clone()));
        }
    }
}

impl Shared {
    fn replace_catalog(&self, catalog: Catalog) {
        let mut held = self.catalog.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        *held = Arc::new(catalog);
    }
}

/// Reads the catalog the operator applied last (on this node or another) and decides with it from now.
async fn reload_catalog(shared: Weak<Shared>) {
    let Some(shared) = shared.upgrade() else { return };
    let _one_at_a_time = shared.catalog_reload.lock().await;
    match shared.store.catalog().await {
        Ok(catalog) => shared.replace_catalog(catalog),
        Err(error) => tracing::warn!(%error, "reloading the permission catalog failed; keeping the current one"),
    }
}

/// Uses waiting to be written: one row per client, the latest time wins.
#[derive(Default)]
struct LastUsed(Mutex<HashMap<(ClientId, SecretId), OffsetDateTime>>);

const LAST_USED_FLUSH: Duration = Duration::from_secs(5);

async fn flush_last_used(shared: Weak<Shared>) {
    loop {
        tokio::time::sleep(LAST_USED_FLUSH).await;
        let Some(shared) = shared.upgrade() else { return };
        let pending: Vec<_> = match shared.last_used.0.lock() {
            Ok(mut pending) => pending.drain().map(|((client, secret), at)| (client, secret, at)).collect(),
            Err(_) => continue,
        };
        if !pending.is_empty() {
            if let Err(error) = shared.store.touch_clients(&pending).await {
                tracing::warn!(%error, clients = pending.len(), "could not record when clients were last used");
            }
        }
    }
}

const REFUSALS_TICK: Duration = Duration::from_secs(5);
const SWEEP_EVERY_TICKS: u64 = 12;

/// Writes the counts of refusal windows as they end, and lets the throttles forget quiet keys.
async fn maintain_refusals(shared: Weak<Shared>) {
    let Some(tick) = shared.upgrade().map(|s| REFUSALS_TICK.min(s.config.refusal_window)) else { return };
    let mut ticks = 0u64;
    loop {
        tokio::time::sleep(tick).await;
        let Some(shared) = shared.upgrade() else { return };
        write_refusals(&shared, false).await;
        ticks += 1;
        if ticks.is_multiple_of(SWEEP_EVERY_TICKS) {
            shared.throttles.clients.sweep();
            shared.throttles.sign_ins.sweep();
            shared.throttles.resource_servers.sweep();
        }
    }
}

async fn write_refusals(shared: &Shared, everything: bool) {
    for entry in shared.refusals.due(everything) {
        if let Err(error) = shared.store.append_log(&entry).await {
            tracing::warn!(%error, "could not log a count of refusals");
        }
    }
}

async fn reload_keys(shared: Weak<Shared>) {
    let Some(shared) = shared.upgrade() else { return };
    let _one_at_a_time = shared.key_reload.lock().await;
    let server_keys = match shared.server_keys.read() {
        Ok(keys) => keys.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    };
    match keys::load(shared.store.as_ref(), &server_keys.vault).await.map(KeySet::new) {
        Ok(Some(set)) => {
            // The verified tokens go with the old set: a key that left it stops vouching for them.
            let keys = Arc::new(Keys::new(set, shared.config.token_cache, &shared.metrics.verified_tokens));
            let old = match shared.keys.write() {
                Ok(mut slot) => std::mem::replace(&mut *slot, keys),
                Err(poisoned) => std::mem::replace(&mut *poisoned.into_inner(), keys),
            };
            old.verified.retire();
        }
        Ok(None) => tracing::error!("the store holds no signing key; keeping the current ones"),
        Err(error) => tracing::warn!(%error, "reloading signing keys failed; keeping the current ones"),
    }
}

/// After changes may have been missed: revocations made meanwhile are in the store.
async fn reload_revoked(shared: Weak<Shared>) {
    let Some(shared) = shared.upgrade() else { return };
    let now = OffsetDateTime::now_utc();
    match shared.store.revoked_tokens(now).await {
        Ok(stored) => shared.revoked.load(stored, now),
        Err(error) => tracing::warn!(%error, "reloading revoked tokens failed; keeping the ones known"),
    }
    match shared.store.revoked_before(now).await {
        Ok(stored) => shared.revoked.load_before(stored),
        Err(error) => tracing::warn!(%error, "reloading revoked clients' tokens failed; keeping the ones known"),
    }
}
