//! Client secrets nearing or past their expiry (issue #11), checked in the background on every
//! node: the customer's Full administrators get a notification the configured number of days
//! before, and the system log a record; once the expiry passes, the log records it. Each happens
//! once per secret: the store claims it in the transaction that writes it, so nodes sharing a
//! PostgreSQL database never send it twice.

use std::sync::Weak;

use serde_json::json;
use time::OffsetDateTime;
use trustgate_core::access::Access;
use trustgate_core::ids::CustomerId;
use trustgate_store::{ExpiringSecret, Notification, Store};

use crate::error::ApiError;
use crate::platform::notifications;
use crate::platform::shapes::rfc3339;
use crate::state::Shared;

/// Secrets handled per query: a pass goes on until a query returns fewer.
const BATCH: u32 = 100;
/// Most administrators read from one customer to notify its Full administrators.
const MEMBERS_PAGE: u32 = 500;

/// Runs a pass at start and then every `secret_expiry_interval`, until the state is dropped.
pub(crate) async fn check_periodically(shared: Weak<Shared>) {
    loop {
        let interval = {
            let Some(shared) = shared.upgrade() else { return };
            let now = shared.config.clock.now_utc();
            if let Err(error) = check(shared.store.as_ref(), shared.config.secret_expiry_warning, now).await {
                tracing::warn!(%error, "checking client secrets for expiry failed; retrying at the next pass");
            }
            shared.config.secret_expiry_interval
        };
        tokio::time::sleep(interval).await;
    }
}

/// One pass at `now`: warns of the secrets expiring within `warning`, and logs the ones expired.
/// Returns how many warnings and expiries this call wrote (another node's are not counted).
pub async fn check(
    store: &dyn Store,
    warning: std::time::Duration,
    now: OffsetDateTime,
) -> Result<(usize, usize), ApiError> {
    let mut warned = 0;
    if !warning.is_zero() {
        let by = now + time::Duration::try_from(warning).unwrap_or(time::Duration::MAX);
        loop {
            let due = store.expiring_secrets(now, by, BATCH).await?;
            for expiring in &due {
                let notifications = notices(store, expiring, now).await?;
                if store.warn_secret_expiry(expiring.client.id, expiring.secret.id, &notifications, now).await? {
                    warned += 1;
                }
            }
            if due.len() < BATCH as usize {
                break;
            }
        }
    }
    let mut expired = 0;
    loop {
        let due = store.expired_secrets(now, BATCH).await?;
        for secret in &due {
            if store.log_secret_expired(secret.client.id, secret.secret.id, now).await? {
                expired += 1;
            }
        }
        if due.len() < BATCH as usize {
            break;
        }
    }
    Ok((warned, expired))
}

/// One notification per Full administrator of the client's customer.
async fn notices(
    store: &dyn Store,
    expiring: &ExpiringSecret,
    now: OffsetDateTime,
) -> Result<Vec<Notification>, ApiError> {
    let client = &expiring.client;
    let until = expiring.secret.expires_at.map(rfc3339).unwrap_or_default();
    let title = format!("A secret of API client {} expires soon", client.name);
    let description = format!(
        "The secret {} of API client {} ({}) expires {until}. Add a new secret, move the scripts that use it, then delete the old one.",
        expiring.secret.id, client.name, client.id
    );
    let data =
        json!({ "clientId": client.id.to_string(), "secretId": expiring.secret.id.as_str(), "expiresAt": until });
    full_admins(store, &client.customer_id)
        .await?
        .iter()
        .map(|email| {
            notifications::from_trustgate(
                &client.customer_id,
                email,
                "Warning",
                title.clone(),
                description.clone(),
                data.clone(),
                now,
            )
        })
        .collect()
}

async fn full_admins(store: &dyn Store, customer: &CustomerId) -> Result<Vec<String>, ApiError> {
    let mut emails = Vec::new();
    let mut after = None;
    loop {
        let page = store.members(customer, after, MEMBERS_PAGE).await?;
        emails.extend(page.iter().filter(|m| m.access == Access::Full).map(|m| m.admin.email.to_string()));
        match page.last() {
            Some(last) if page.len() == MEMBERS_PAGE as usize => after = Some(last.admin.id),
            _ => return Ok(emails),
        }
    }
}
