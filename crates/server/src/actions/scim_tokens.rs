//! SCIM provisioning tokens, made by a Full administrator or the operator.

use time::OffsetDateTime;
use trustgate_core::event::Actor;
use trustgate_core::ids::{CustomerId, ScimTokenId};
use trustgate_core::provisioning::{self, ProvisioningToken, ScimToken};
use trustgate_core::secret::ServerKey;
use trustgate_core::ValidationError;
use trustgate_store::Store;

use crate::error::ApiError;
/// A provider id (`externalProviderId`, `--provider-id`): trimmed, at most 256 bytes; empty is none.
pub fn provider_id_of(text: Option<&str>) -> Result<Option<String>, ValidationError> {
    match text.map(str::trim) {
        Some(id) if id.len() > 256 => Err(ValidationError::too_long("providerId", 256)),
        Some(id) if !id.is_empty() => Ok(Some(id.to_owned())),
        _ => Ok(None),
    }
}

/// The provider a SCIM token speaks for: its name (`AzureAd`, …) and, optionally, its directory.
pub struct TokenProvider<'a> {
    pub name: &'a str,
    pub id: Option<&'a str>,
}

/// Creates a SCIM provisioning token for `customer` and returns it in clear, the only time it
/// exists so. Only a Full administrator (or the operator) may; the store checks it.
pub async fn new_scim_token(
    store: &dyn Store,
    server_key: &ServerKey,
    customer: &CustomerId,
    name: &str,
    provider: TokenProvider<'_>,
    created_by: &str,
    actor: &Actor,
) -> Result<(ScimToken, ProvisioningToken), ApiError> {
    let token = ScimToken {
        id: ScimTokenId::generate(),
        customer_id: customer.clone(),
        name: provisioning::parse_token_name(name)?,
        provider: provisioning::parse_token_provider(provider.name)?,
        provider_id: provider_id_of(provider.id)?,
        created_at: OffsetDateTime::now_utc(),
        created_by: created_by.to_owned(),
    };
    let secret = ProvisioningToken::generate();
    store.create_scim_token(&token, &server_key.digest(secret.expose()), &server_key.id(), actor).await?;
    Ok((token, secret))
}
