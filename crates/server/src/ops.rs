//! Operations that more than one front door performs (management API, operator CLI, console),
//! so each rule is enforced in one place whatever the path.

use time::OffsetDateTime;
use trustgate_core::admin::Admin;
use trustgate_core::client::{parse_client_name, ApiClient};
use trustgate_core::event::Actor;
use trustgate_core::ids::{ClientId, CustomerId};
use trustgate_core::secret::{ClientSecret, ServerKey};
use trustgate_store::Store;

use crate::error::ApiError;

/// Creates an API client owned by `owner` in `customer` (R1) and returns its secret, the only
/// time it exists in clear (R2).
pub async fn new_client(
    store: &dyn Store,
    server_key: &ServerKey,
    customer: &CustomerId,
    owner: &Admin,
    name: &str,
    actor: &Actor,
) -> Result<(ApiClient, ClientSecret), ApiError> {
    let client = ApiClient {
        id: ClientId::generate(),
        customer_id: customer.clone(),
        owner_id: owner.id,
        name: parse_client_name(name)?,
        created_at: OffsetDateTime::now_utc(),
        last_used_at: None,
    };
    let secret = ClientSecret::generate();
    store.create_client(&client, &server_key.verifier(&secret), actor).await?;
    Ok((client, secret))
}
