//! Token signing keys: opened from the store with the server key, sealed if an older version
//! stored them raw, and rotated. The store only ever holds them sealed (issue #8).

use time::OffsetDateTime;
use trustgate_core::custody::KeyVault;
use trustgate_core::token::{Algorithm, SigningKey};
use trustgate_store::{Store, StoreError};

use crate::config::DEFAULT_SIGNING_ALGORITHM;

/// Every stored key in clear, newest first. A key still stored raw is sealed on the way: the key
/// itself does not change, so tokens it signed keep verifying.
pub async fn load(store: &dyn Store, vault: &KeyVault) -> Result<Vec<SigningKey>, StoreError> {
    let mut keys = Vec::new();
    for stored in store.signing_keys().await? {
        let key = vault.open(&stored).map_err(|e| StoreError::Internal(e.to_string()))?;
        if !stored.is_sealed() {
            store.reseal_signing_key(&vault.seal(&key, stored.created_at), &stored.format).await?;
            tracing::info!(kid = key.kid(), "sealed a signing key that was stored raw");
        }
        keys.push(key);
    }
    Ok(keys)
}

/// Starts signing with a new key of `algorithm` (by default the current key's). With
/// `revoke_previous`, every other key stops verifying at once on every node — for a key that
/// leaked — so the tokens it signed are refused on their next call.
pub async fn rotate(
    store: &dyn Store,
    vault: &KeyVault,
    algorithm: Option<Algorithm>,
    revoke_previous: bool,
) -> Result<SigningKey, StoreError> {
    // A new key sealed under another server key would leave the nodes unable to sign: refuse
    // unless this server key opens the keys already there.
    let current = load(store, vault).await?;
    let algorithm = algorithm.or(current.first().map(SigningKey::algorithm)).unwrap_or(DEFAULT_SIGNING_ALGORITHM);
    let key = generate(algorithm)?;
    store.add_signing_key(&vault.seal(&key, OffsetDateTime::now_utc()), revoke_previous).await?;
    Ok(key)
}

pub fn generate(algorithm: Algorithm) -> Result<SigningKey, StoreError> {
    SigningKey::generate(algorithm).map_err(|e| StoreError::Internal(e.to_string()))
}
