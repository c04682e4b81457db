//! Token signing keys: opened from the store with the server key, sealed if an older version
//! stored them raw, and rotated. The store only ever holds them sealed (issue #8).

use time::OffsetDateTime;
use trustgate_core::custody::KeyVault;
use trustgate_core::token::SigningKey;
use trustgate_store::{Store, StoreError};

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

/// Starts signing with a new key. With `revoke_previous`, every other key stops verifying at once
/// on every node — for a key that leaked — so the tokens it signed are refused on their next call.
pub async fn rotate(store: &dyn Store, vault: &KeyVault, revoke_previous: bool) -> Result<SigningKey, StoreError> {
    // A new key sealed under another server key would leave the nodes unable to sign: refuse
    // unless this server key opens the keys already there.
    load(store, vault).await?;
    let key = SigningKey::generate();
    store.add_signing_key(&vault.seal(&key, OffsetDateTime::now_utc()), revoke_previous).await?;
    Ok(key)
}
