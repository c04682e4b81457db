//! Who is calling a platform API, and whether the route's permission allows it (R4: looked up live).
//!
//! Request path: parse `Authorization` → verify the JWT → resolve the customer → client and owner
//! standing from the authorization cache → effective rights → the route's permission.

use std::marker::PhantomData;
use std::sync::Arc;

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use trustgate_core::access::{Permission, Platform};
use trustgate_core::event::Actor;
use trustgate_core::ids::{AdminId, ClientId, CustomerId};
use trustgate_core::rights::{self, PrincipalKind};
use trustgate_core::token::VerifiedClaims;

use crate::error::ApiError;
use crate::state::AppState;

/// Declares the one permission a route needs: `Authorized<needs::Notifications>`.
pub trait Needs: Send + Sync + 'static {
    const PERMISSION: Permission;
}

pub mod needs {
    use super::{Needs, Permission, Platform};

    macro_rules! need {
        ($name:ident) => {
            pub struct $name;
            impl Needs for $name {
                const PERMISSION: Permission = Permission::Platform(Platform::$name);
            }
        };
    }
    need!(Administrators);
    need!(Notifications);
    need!(SystemLog);
    need!(ApiClients);
}

/// An API client allowed to call a route needing `N`.
pub struct Authorized<N: Needs> {
    /// Who acts, for the system log: the secure client or the service principal.
    actor: Actor,
    pub customer_id: CustomerId,
    needs: PhantomData<N>,
}

impl<N: Needs> Authorized<N> {
    pub fn actor(&self) -> Actor {
        self.actor.clone()
    }
}

impl<N: Needs> FromRequestParts<AppState> for Authorized<N> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authorize(parts, state).await
    }
}

/// The authorization path of a built-in route: the token, then the customer it names, then [`check`].
async fn authorize<N: Needs>(parts: &mut Parts, state: &AppState) -> Result<Authorized<N>, ApiError> {
    let claims = verified_claims(state, &parts.headers)?;
    let customer = requested_customer(parts).await?;
    let caller = check(state, &claims, customer, &N::PERMISSION).await?;
    Ok(Authorized { actor: caller.actor, customer_id: caller.customer_id, needs: PhantomData })
}

/// The verified claims of the request's bearer token; 401 when it is missing, malformed, forged,
/// expired or revoked.
pub fn verified_claims(state: &AppState, headers: &HeaderMap) -> Result<Arc<VerifiedClaims>, ApiError> {
    let token = bearer_token(headers)?;
    state.verify_token(token).ok_or_else(ApiError::invalid_credentials)
}

/// A client a call was allowed for, and who it acts as.
pub struct Caller {
    pub actor: Actor,
    pub client_id: ClientId,
    pub customer_id: CustomerId,
    /// The owning administrator of a secure client; none for a service principal, which acts as itself.
    pub owner: Option<AdminId>,
}

/// The one live check every protected call goes through, built-in route or gateway decision:
/// the token's customer, the client's and owner's standing now (R4–R6), then `permission`.
/// In a span naming the permission, the client and the customer (never the token).
#[tracing::instrument(
    name = "authorize",
    skip_all,
    fields(permission = %permission, client_id = %claims.sub, customer = %claims.customer_id)
)]
pub async fn check(
    state: &AppState,
    claims: &VerifiedClaims,
    customer: CustomerId,
    permission: &Permission,
) -> Result<Caller, ApiError> {
    if customer != claims.customer_id {
        return Err(ApiError::Forbidden("the token was issued for another customer".to_owned()));
    }
    // A deleted client, or one whose owner left the customer, no longer authenticates (R6).
    let client = state.client(claims.sub).await?.ok_or_else(ApiError::invalid_credentials)?;
    let facts = &client.facts.client;
    if facts.customer_id != claims.customer_id {
        return Err(ApiError::invalid_credentials());
    }
    // A secure client's token names its owner. A principal's names no one, except tokens issued
    // before it was converted (SP7), which stay valid and now act with the principal's own access.
    if let Some(owner) = facts.owner() {
        if claims.user_id != Some(owner) {
            return Err(ApiError::invalid_credentials());
        }
    }
    let access = rights::effective_access(PrincipalKind::ApiClient, &client.standing)?;
    if !access.allows(permission) {
        return Err(rights::Denied::Missing(permission.clone()).into());
    }
    Ok(Caller { actor: Actor::of_client(facts), client_id: facts.id, customer_id: customer, owner: facts.owner() })
}

/// `CwsAuth Bearer=<token>` (scheme and key in any case, spaces after `=` tolerated, other
/// comma-separated keys ignored) or the standard `Bearer <token>`.
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, ApiError> {
    let value = headers.get(axum::http::header::AUTHORIZATION).ok_or_else(ApiError::missing_credentials)?;
    let value = value.to_str().map_err(|_| ApiError::invalid_credentials())?.trim();
    let (scheme, rest) = value.split_once(char::is_whitespace).ok_or_else(ApiError::invalid_credentials)?;
    let token = if scheme.eq_ignore_ascii_case("CwsAuth") {
        rest.split(',')
            .filter_map(|pair| pair.split_once('='))
            .find(|(key, _)| key.trim().eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
    } else if scheme.eq_ignore_ascii_case("Bearer") {
        Some(rest.trim())
    } else {
        None
    };
    token.filter(|t| !t.is_empty()).ok_or_else(ApiError::invalid_credentials)
}

/// The customer a call is for: the path on legacy-style routes, else `Citrix-CustomerId`
/// (or `Customer`, as Monitor OData callers send).
async fn requested_customer(parts: &mut Parts) -> Result<CustomerId, ApiError> {
    if let Ok(params) = RawPathParams::from_request_parts(parts, &()).await {
        if let Some((_, value)) = params.iter().find(|(name, _)| *name == "customer") {
            return Ok(CustomerId::parse(value)?);
        }
    }
    customer_header(&parts.headers)
}

/// The customer named by `Citrix-CustomerId` (or `Customer`, as Monitor OData callers send).
pub fn customer_header(headers: &HeaderMap) -> Result<CustomerId, ApiError> {
    let mut values = ["citrix-customerid", "customer"].into_iter().flat_map(|name| headers.get_all(name));
    let Some(value) = values.next() else {
        return Err(trustgate_core::ValidationError::missing("Citrix-CustomerId").into());
    };
    // Two values are refused, not resolved: a proxy and its backend may each pick another one,
    // or join them (issue #20).
    if values.next().is_some() {
        return Err(trustgate_core::ValidationError::invalid("Citrix-CustomerId", "given more than once").into());
    }
    // Not `to_str`: a pasted zero-width space arrives as UTF-8, and is trimmed by the parser.
    let value = std::str::from_utf8(value.as_bytes())
        .map_err(|_| trustgate_core::ValidationError::invalid("Citrix-CustomerId", "not UTF-8 text"))?;
    Ok(CustomerId::parse(value)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn token_of(value: &str) -> Result<String, ()> {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_str(value).map_err(|_| ())?);
        bearer_token(&headers).map(str::to_owned).map_err(|_| ())
    }

    #[test]
    fn cwsauth_is_parsed_in_any_case_with_spaces_after_the_equals_sign() {
        assert_eq!(token_of("CwsAuth Bearer=abc"), Ok("abc".to_owned()));
        assert_eq!(token_of("CWSAuth bearer= abc"), Ok("abc".to_owned()));
        assert_eq!(token_of("cwsauth service=svc, bearer=abc"), Ok("abc".to_owned()));
        assert_eq!(token_of("Bearer abc"), Ok("abc".to_owned()));
    }

    #[test]
    fn other_schemes_and_empty_tokens_are_refused() {
        assert!(token_of("Basic abc").is_err());
        assert!(token_of("CwsAuth Bearer=").is_err());
        assert!(token_of("CwsAuth").is_err());
    }
}
