//! Who calls the SCIM service provider: a customer's identity provider with one of the
//! customer's provisioning tokens. The path names the customer; a token of another customer is
//! refused as if unknown.

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use axum::http::StatusCode;
use trustgate_core::event::Actor;
use trustgate_core::ids::CustomerId;
use trustgate_core::provisioning::{ProvisioningToken, ScimToken};

use super::error::ScimError;
use crate::state::AppState;

pub struct Provisioner {
    pub token: ScimToken,
}

impl Provisioner {
    pub fn customer(&self) -> &CustomerId {
        &self.token.customer_id
    }

    /// The provider, named by its token, is the actor of everything it does (R10).
    pub fn actor(&self) -> Actor {
        Actor::Provider { token: self.token.id, name: self.token.name.clone() }
    }
}

fn unauthorized() -> ScimError {
    ScimError {
        status: StatusCode::UNAUTHORIZED,
        scim_type: None,
        detail: "Missing or invalid bearer token.".to_owned(),
    }
}

impl FromRequestParts<AppState> for Provisioner {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ScimError> {
        let presented = crate::platform::auth::bearer_token(&parts.headers).map_err(|_| unauthorized())?;
        let token = ProvisioningToken::from_presented(presented).ok_or_else(unauthorized)?;
        let params = RawPathParams::from_request_parts(parts, state).await.map_err(|_| unauthorized())?;
        let customer = params.iter().find(|(name, _)| *name == "customer").map(|(_, v)| v).unwrap_or_default();
        let customer = CustomerId::parse(customer).map_err(|_| unauthorized())?;
        // Read on every request, not cached: a revoked token stops at once on every node.
        // A token made under a retired server key is found by its digest under that key.
        let mut found = None;
        for digest in state.server_keys().ring.digests(token.expose()) {
            found = state.store.scim_token(&digest).await?;
            if found.is_some() {
                break;
            }
        }
        let token = found.ok_or_else(unauthorized)?;
        if token.customer_id != customer {
            return Err(unauthorized());
        }
        Ok(Self { token })
    }
}
