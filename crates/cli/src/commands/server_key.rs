//! Rotating the server key (`trustgate keys rotate-server-key`) and what depends on each key
//! (`server-key-status`); where the keys come from is the server's `keys::server_key_file`.

use serde_json::{json, Value};
use time::OffsetDateTime;
use trustgate_core::custody::KeyVault;
use trustgate_core::event;
use trustgate_core::federation::SecretVault;
use trustgate_core::secret::{ServerKey, ServerKeyring};
use trustgate_store::Store;

use super::failure::Failure;
use super::text::table;
use trustgate_server::keys::server_key_file::{self, RETIRED_ENV};

use super::{key_of_deployment, Output, Place};

/// `keys rotate-server-key`. With `server.key` (the embedded store, or a node keeping its key in
/// the data directory): a new current key is made and the old one retired in the file. With
/// `TRUSTGATE_SERVER_KEY`: the operator has rolled every node to the new key already, with the old
/// in `TRUSTGATE_RETIRED_SERVER_KEYS`. Either way every signing key and identity-provider secret is
/// resealed under the current key in one transaction, and every console session ends.
pub async fn rotate(store: &dyn Store, place: Place<'_>, out: Output) -> anyhow::Result<()> {
    let before = key_of_deployment(store, place, false).await?;
    let from_env = server_key_file::from_env();
    // The key being replaced: the file's current one, or the first of the retired variable.
    let retired = if from_env { before.retired().first() } else { Some(before.current()) }.map(ServerKey::id);
    let ring = if from_env {
        if before.retired().is_empty() {
            return Err(Failure::invalid(format!(
                "TRUSTGATE_SERVER_KEY is the new key: give the key it replaces in {RETIRED_ENV} \
                 (every node must already run with both), or use server.key in --data-dir to have a new key made"
            ))
            .into());
        }
        before
    } else {
        let retired = before.all().cloned().collect();
        let ring = ServerKeyring::new(ServerKey::generate(), retired);
        server_key_file::write_ring(place.data_dir, &ring)?;
        // The running server takes up the new ring before anything is resealed under its key.
        #[cfg(unix)]
        if let Err(error) = trustgate_server::control_socket::reload_server_keys(place.data_dir).await {
            eprintln!("warning: the running server did not take up the new server key ({error:#}); restart it");
        }
        ring
    };
    // Secrets from before records named their key are stamped now, while the signing keys still
    // say which key was in use: once resealed, they would name the new one.
    trustgate_server::keys::stamp_server_key(store, &ring).await?;
    let vault = KeyVault::for_ring(&ring);
    let mut resealed = Vec::new();
    for stored in store.signing_keys().await? {
        // A key stored raw stays raw: `keys reseal` is the operator's explicit act of adopting it.
        if !stored.is_sealed() {
            continue;
        }
        let key = vault.open(&stored).map_err(|e| Failure::invalid(e.to_string()))?;
        resealed.push(vault.seal(&key, stored.created_at));
    }
    let secrets = SecretVault::for_ring(&ring);
    let mut providers = Vec::new();
    let customers = store.customers().await?;
    for customer in &customers {
        for provider in store.identity_providers(&customer.id).await? {
            let secret = secrets.open(&provider).map_err(|e| Failure::invalid(e.to_string()))?;
            providers.push((provider.id, secrets.seal(provider.id, &secret)));
        }
    }
    let current = ring.current().id();
    let retired = retired.unwrap_or_else(|| current.clone());
    let now = OffsetDateTime::now_utc();
    // Every customer's administrators see their sessions end and their secrets to replace.
    let entries: Vec<_> = customers.iter().map(|c| event::server_key_rotated(&c.id, &retired, &current, now)).collect();
    let ended = store.reseal_under_server_key(&resealed, &providers, &entries).await?;
    let webhooks = reseal_webhooks(store, &ring, &customers).await?;
    let second_factors = reseal_second_factors(store, &ring).await?;
    tracing::warn!(%current, %retired, signing_keys = resealed.len(), providers = providers.len(), sessions = ended,
        "rotated the server key");
    let retired_ids: Vec<String> = ring.retired().iter().map(|k| k.id().to_string()).collect();
    out.print(
        json!({
            "serverKey": current.as_str(),
            "retiredServerKeys": retired_ids,
            "resealedSigningKeys": resealed.len(),
            "resealedProviderSecrets": providers.len(),
            "endedSessions": ended,
            "resealedWebhooks": webhooks,
            "resealedSecondFactors": second_factors,
        }),
        format!(
            "Now using server key {current}; retired: {}.\nResealed {} signing key(s) and {} identity-provider \
             secret(s); ended {ended} console session(s).\nSecrets made under a retired key keep working until they \
             are replaced: `trustgate keys server-key-status` counts them.",
            retired_ids.join(", "),
            resealed.len(),
            providers.len(),
        ),
    );
    Ok(())
}

/// `keys server-key-status`: each key of the ring, whether it is current, and how many records
/// still depend on it; a retired key with none left can be dropped from the ring.
/// Webhook secrets and headers, sealed again under the ring's current key. Apart from the
/// transaction above: until they are, they open with the retired key, which the ring keeps.
async fn reseal_webhooks(
    store: &dyn Store,
    ring: &ServerKeyring,
    customers: &[trustgate_core::customer::Customer],
) -> anyhow::Result<u64> {
    let vault = trustgate_core::webhook::WebhookVault::for_ring(ring);
    let mut resealed = Vec::new();
    for customer in customers {
        for endpoint in store.webhooks(&customer.id, &trustgate_core::event::Actor::System).await? {
            let again = |what: &str, sealed: &[u8]| {
                vault.open(endpoint.id, what, sealed).map(|clear| vault.seal(endpoint.id, what, &clear))
            };
            let sealed = (|| {
                Ok::<_, trustgate_core::webhook::SealError>(trustgate_store::ResealedWebhook {
                    id: endpoint.id,
                    replaces: endpoint.sealed_secret.clone(),
                    sealed_secret: again("secret", &endpoint.sealed_secret)?,
                    sealed_previous_secret: endpoint
                        .sealed_previous_secret
                        .as_deref()
                        .map(|s| again("secret", s))
                        .transpose()?,
                    sealed_auth_headers: endpoint
                        .sealed_auth_headers
                        .as_deref()
                        .map(|s| again("headers", s))
                        .transpose()?,
                })
            })();
            match sealed {
                Ok(sealed) => resealed.push(sealed),
                // Its deliveries fail until an administrator rotates its secret; the attempts say why.
                Err(error) => eprintln!("warning: {error}; left as it is"),
            }
        }
    }
    Ok(store.reseal_webhooks(&resealed).await?)
}

/// Administrators' TOTP secrets, sealed again under the ring's current key (as webhooks, apart
/// from the transaction above: until they are, they open with the retired key the ring keeps).
async fn reseal_second_factors(store: &dyn Store, ring: &ServerKeyring) -> anyhow::Result<u64> {
    let vault = trustgate_core::mfa::TotpVault::for_ring(ring);
    let mut resealed = Vec::new();
    for (admin, sealed) in store.sealed_totp_secrets().await? {
        match vault.open(admin, &sealed) {
            Ok(secret) => resealed.push((admin, sealed, vault.seal(admin, &secret))),
            // A Full administrator (or `admin reset-mfa`) resets it; the administrator enrols again.
            Err(error) => eprintln!("warning: {error}; left as it is"),
        }
    }
    Ok(store.reseal_totp_secrets(&resealed).await?)
}

pub async fn status(store: &dyn Store, place: Place<'_>, out: Output) -> anyhow::Result<()> {
    let ring = key_of_deployment(store, place, false).await?;
    let uses = store.server_key_use().await?;
    let vault = KeyVault::for_ring(&ring);
    let signing = store.signing_keys().await?;
    let mut items = Vec::new();
    let mut rows = Vec::new();
    for key in ring.all() {
        let id = key.id();
        let used = uses.iter().find(|u| u.server_key.as_ref() == Some(&id)).cloned().unwrap_or_default();
        let sealed = signing.iter().filter(|k| vault.sealed_under(k) == Some(&id)).count();
        let current = !ring.is_retired(Some(&id));
        let droppable = !current && sealed == 0 && used.client_secrets + used.resource_servers + used.scim_tokens == 0;
        items.push(json!({
            "serverKey": id.as_str(),
            "current": current,
            "signingKeys": sealed,
            "clientSecrets": used.client_secrets,
            "resourceServers": used.resource_servers,
            "scimTokens": used.scim_tokens,
            "canBeDropped": droppable,
        }));
        rows.push([
            id.to_string(),
            if current { "current" } else { "retired" }.to_owned(),
            sealed.to_string(),
            used.client_secrets.to_string(),
            used.resource_servers.to_string(),
            used.scim_tokens.to_string(),
            if droppable { "yes" } else { "no" }.to_owned(),
        ]);
    }
    let unknown: Vec<Value> = uses
        .iter()
        .filter(|u| u.server_key.as_ref().is_none_or(|id| ring.key(id).is_none()))
        .map(|u| {
            json!({
                "serverKey": u.server_key.as_ref().map(|id| id.as_str()),
                "clientSecrets": u.client_secrets,
                "resourceServers": u.resource_servers,
                "scimTokens": u.scim_tokens,
            })
        })
        .collect();
    let mut text = table(
        ["SERVER KEY", "STATE", "SIGNING KEYS", "CLIENT SECRETS", "RESOURCE SERVERS", "SCIM TOKENS", "CAN BE DROPPED"],
        &rows,
    );
    if !unknown.is_empty() {
        text.push_str(
            "\nSome records name a server key that is not in the ring (or none): they no longer verify; \
             replace them (see --json).",
        );
    }
    out.print(json!({ "items": items, "notInRing": unknown }), text);
    Ok(())
}
