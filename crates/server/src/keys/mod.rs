//! The keys a node holds: token signing keys, opened from the store with the server key and
//! rotated, and the server keys themselves ([`server_key_file`]). The store holds signing keys
//! sealed; a key stored raw — from before sealing, or planted by whoever could write to the
//! database — is never used until the operator reseals it.

pub mod server_key_file;

use time::OffsetDateTime;
use trustgate_core::custody::{CustodyError, KeyVault};
use trustgate_core::secret::ServerKeyring;
use trustgate_core::token::{Algorithm, SigningKey};
use trustgate_store::{Store, StoreError};

use crate::config::DEFAULT_SIGNING_ALGORITHM;

/// Every sealed key in clear, newest first. A raw key is left out, with a warning naming it.
pub async fn load(store: &dyn Store, vault: &KeyVault) -> Result<Vec<SigningKey>, StoreError> {
    let mut keys = Vec::new();
    for stored in store.signing_keys().await? {
        match vault.open(&stored) {
            Ok(key) => keys.push(key),
            Err(error @ CustodyError::Unsealed(_)) => {
                tracing::warn!(kid = %stored.kid, "{error}: it neither signs nor verifies");
            }
            Err(error) => return Err(StoreError::Internal(error.to_string())),
        }
    }
    Ok(keys)
}

/// Seals every key stored raw, each logged by its id, and returns their ids. The key itself does
/// not change, so tokens it signed verify again once the nodes reload.
pub async fn reseal(store: &dyn Store, vault: &KeyVault) -> Result<Vec<String>, StoreError> {
    let mut sealed = Vec::new();
    for stored in store.signing_keys().await?.into_iter().filter(|k| !k.is_sealed()) {
        let key = vault.open_for_resealing(&stored).map_err(|e| StoreError::Internal(e.to_string()))?;
        if store.reseal_signing_key(&vault.seal(&key, stored.created_at), &stored.format).await? {
            tracing::info!(kid = key.kid(), "sealed a signing key that was stored raw");
            sealed.push(stored.kid);
        }
    }
    Ok(sealed)
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

/// Records which server key the secrets stored before records named their key were made under:
/// the key the signing keys are sealed under, the one in use when they were made. Nothing is
/// stamped while no signing key is sealed (a new store has no such secrets).
pub async fn stamp_server_key(store: &dyn Store, ring: &ServerKeyring) -> Result<u64, StoreError> {
    let vault = KeyVault::for_ring(ring);
    let sealing = store.signing_keys().await?.iter().find_map(|stored| vault.sealed_under(stored).cloned());
    match sealing {
        Some(id) => store.stamp_server_key(&id).await,
        None => Ok(0),
    }
}
