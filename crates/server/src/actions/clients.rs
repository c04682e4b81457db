//! Creating API clients, service principals and their secrets: the rules each front door applies
//! the same way (R1, R2, SP1).

use time::OffsetDateTime;
use trustgate_core::access::Access;
use trustgate_core::admin::Admin;
use trustgate_core::client::{parse_client_name, ApiClient, ClientKind};
use trustgate_core::client_secrets::{self, NewSecret, SecretInfo};
use trustgate_core::event::Actor;
use trustgate_core::ids::{ClientId, CustomerId};
use trustgate_core::secret::{ClientSecret, SecretId, ServerKey};
use trustgate_core::ValidationError;
use trustgate_store::Store;

use crate::error::ApiError;
/// Creates an API client owned by `owner` in `customer` (R1) and returns its secret, the only
/// time it exists in clear (R2). Refused once the owner holds `cap` clients there.
pub async fn new_client(
    store: &dyn Store,
    server_key: &ServerKey,
    customer: &CustomerId,
    owner: &Admin,
    name: &str,
    cap: u64,
    actor: &Actor,
) -> Result<(ApiClient, ClientSecret), ApiError> {
    let client = secure_client(customer, owner, name)?;
    let (secret, stored) = new_secret(server_key, None, client.created_at);
    store.create_client(&client, &stored, cap, actor).await?;
    Ok((client, secret))
}

fn secure_client(customer: &CustomerId, owner: &Admin, name: &str) -> Result<ApiClient, ApiError> {
    Ok(ApiClient {
        id: ClientId::generate(),
        customer_id: customer.clone(),
        kind: ClientKind::SecureClient { owner: owner.id },
        name: parse_client_name(name)?,
        created_at: OffsetDateTime::now_utc(),
        last_used_at: None,
    })
}

/// Creates a service principal of `customer` holding `access` (SP1, SP2) and returns its secret,
/// the only time it exists in clear. The secret expires at `secret_expires_at`, which must lie
/// ahead within `client_secrets::MAX_SECRET_LIFETIME_DAYS`, or when none is named after
/// `client_secrets::DEFAULT_PRINCIPAL_SECRET_DAYS` (SP6); rotate it through the secrets API.
pub async fn new_principal(
    store: &dyn Store,
    server_key: &ServerKey,
    customer: &CustomerId,
    name: &str,
    access: Access,
    secret_expires_at: Option<OffsetDateTime>,
    actor: &Actor,
) -> Result<(ApiClient, ClientSecret), ApiError> {
    let principal = ApiClient {
        id: ClientId::generate(),
        customer_id: customer.clone(),
        kind: ClientKind::ServicePrincipal { access },
        name: parse_client_name(name)?,
        created_at: OffsetDateTime::now_utc(),
        last_used_at: None,
    };
    let requested = secret_expires_at
        .unwrap_or(principal.created_at + time::Duration::days(client_secrets::DEFAULT_PRINCIPAL_SECRET_DAYS));
    // The create body names the first secret's expiry `secretExpiresAt`; refusals say so.
    let expires_at = client_secrets::expiry(Some(requested), true, principal.created_at).map_err(|e| {
        ValidationError { field: "secretExpiresAt", detail: e.detail.replace("expiresAt", "secretExpiresAt"), ..e }
    })?;
    let (secret, stored) = new_secret(server_key, expires_at, principal.created_at);
    store.create_principal(&principal, &stored, actor).await?;
    Ok((principal, secret))
}

fn new_secret(
    server_key: &ServerKey,
    expires_at: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> (ClientSecret, NewSecret) {
    let id = SecretId::generate();
    let secret = ClientSecret::generate_as(id);
    let stored = NewSecret { id, verifier: server_key.verifier(&secret), created_at: now, expires_at };
    (secret, stored)
}

/// Adds a secret to a client: the one time it exists in clear. `expires_at` must lie ahead,
/// within `client_secrets::MAX_SECRET_LIFETIME_DAYS`; secure clients may have none.
pub async fn add_secret(
    store: &dyn Store,
    server_key: &ServerKey,
    customer: &CustomerId,
    client: ClientId,
    expires_at: Option<OffsetDateTime>,
    actor: &Actor,
) -> Result<(SecretInfo, ClientSecret), ApiError> {
    let now = OffsetDateTime::now_utc();
    let expires_at = client_secrets::expiry(expires_at, false, now)?;
    let (secret, stored) = new_secret(server_key, expires_at, now);
    let info = store.add_client_secret(customer, client, &stored, actor).await?;
    Ok((info, secret))
}
