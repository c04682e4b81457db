//! The management API of SCIM provisioning (issue 12): a customer's provisioning tokens, and the
//! R7 warning's list of disabled administrators whose API clients are still active.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use trustgate_core::access::Access;
use trustgate_core::ids::ScimTokenId;
use trustgate_core::provisioning::ScimToken;
use trustgate_store::DisabledOwner;
use utoipa::ToSchema;

use crate::error::{ApiError, GatewayError};
use crate::http::body::{Json, PathParams};
use crate::platform::auth::needs;
use crate::platform::shapes::rfc3339;
use crate::session::AdminIn;
use crate::state::AppState;

/// A SCIM provisioning token, without its secret.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScimTokenView {
    id: String,
    name: String,
    /// `AzureAd`, `Okta`, `Google` or `Ad`: the provider of the administrators it provisions.
    provider: String,
    /// The `providerId` of the administrators it provisions; null when none was given.
    provider_id: Option<String>,
    created_by: String,
    #[schema(format = DateTime)]
    created_at: String,
}

impl From<&ScimToken> for ScimTokenView {
    fn from(t: &ScimToken) -> Self {
        Self {
            id: t.id.to_string(),
            name: t.name.clone(),
            provider: t.provider.wire_name().to_owned(),
            provider_id: t.provider_id.clone(),
            created_by: t.created_by.clone(),
            created_at: rfc3339(t.created_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ScimTokenList {
    items: Vec<ScimTokenView>,
}

/// A new token with its secret and the base URL to give the identity provider: the only
/// answer that ever holds the secret.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedScimToken {
    #[serde(flatten)]
    token: ScimTokenView,
    secret: String,
    scim_base_url: String,
}

#[derive(Deserialize, ToSchema)]
pub struct NewScimToken {
    #[schema(max_length = 100)]
    name: String,
    /// `AzureAd`, `Okta`, `Google` or `Ad`.
    provider: String,
    /// The provider's directory (the Azure AD tenant id, or the AD domain): the administrators
    /// the token provisions get it as their `providerId`.
    #[serde(rename = "providerId")]
    #[schema(max_length = 256)]
    provider_id: Option<String>,
}

async fn require_full(state: &AppState, caller: &AdminIn<needs::Administrators>) -> Result<(), ApiError> {
    let standing = state.store.standing(&caller.customer_id, caller.session.admin.id).await?;
    match standing.map(|s| s.access) {
        Some(Access::Full) => Ok(()),
        _ => Err(ApiError::Forbidden("only an administrator with Full access manages SCIM provisioning".to_owned())),
    }
}

/// The customer's SCIM provisioning tokens (Full administrators only).
#[utoipa::path(
    get,
    path = "/api/v1/customers/{customer}/scim-tokens",
    tag = "management",
    security(("Session" = [])),
    params(crate::openapi::CustomerPath),
    responses(
        (status = 200, description = "The tokens, without their secrets", body = ScimTokenList),
        crate::openapi::FullAdministratorErrors,
    ),
    extensions(("x-trustgate-permission" = json!("administrators")))
)]
pub async fn list_tokens(
    State(state): State<AppState>,
    caller: AdminIn<needs::Administrators>,
) -> Result<axum::Json<ScimTokenList>, ApiError> {
    require_full(&state, &caller).await?;
    let tokens = state.store.scim_tokens(&caller.customer_id).await?;
    Ok(axum::Json(ScimTokenList { items: tokens.iter().map(ScimTokenView::from).collect() }))
}

/// Creates a SCIM provisioning token; the response holds its secret, once.
#[utoipa::path(
    post,
    path = "/api/v1/customers/{customer}/scim-tokens",
    tag = "management",
    security(("Session" = [])),
    params(crate::openapi::CustomerPath, crate::openapi::CsrfHeader),
    request_body(content = NewScimToken, content_type = "application/json"),
    responses(
        (status = 201, description = "The token and its secret", body = CreatedScimToken),
        (status = "4XX", description = "Refused: 400 invalid input, 401 not signed in, 403 not a Full administrator, 404 not a member of the customer, 409 a token of that name exists", body = GatewayError),
        crate::openapi::StoreUnavailable,
    ),
    extensions(("x-trustgate-permission" = json!("administrators")))
)]
pub async fn create_token(
    State(state): State<AppState>,
    caller: AdminIn<needs::Administrators>,
    Json(form): Json<NewScimToken>,
) -> Result<Response, ApiError> {
    let (token, secret) = crate::actions::scim_tokens::new_scim_token(
        state.store.as_ref(),
        &state.server_key(),
        &caller.customer_id,
        &form.name,
        crate::actions::scim_tokens::TokenProvider { name: &form.provider, id: form.provider_id.as_deref() },
        caller.session.admin.email.as_str(),
        &caller.session.actor(),
    )
    .await?;
    let body = CreatedScimToken {
        token: ScimTokenView::from(&token),
        secret: secret.expose().to_owned(),
        scim_base_url: format!("{}/scim/v2/{}", state.config.issuer.url.trim_end_matches('/'), caller.customer_id),
    };
    Ok(super::created_with_secret(body))
}

/// Revokes a SCIM provisioning token: the provider's next request is refused.
#[utoipa::path(
    delete,
    path = "/api/v1/customers/{customer}/scim-tokens/{id}",
    tag = "management",
    security(("Session" = [])),
    params(crate::openapi::CustomerPath, ("id" = String, Path, description = "The token id"), crate::openapi::CsrfHeader),
    responses(
        (status = 204, description = "Revoked"),
        (status = "4XX", description = "Refused: 400 invalid input, 401 not signed in, 403 not a Full administrator, 404 no such token", body = GatewayError),
        crate::openapi::StoreUnavailable,
    ),
    extensions(("x-trustgate-permission" = json!("administrators")))
)]
pub async fn revoke_token(
    State(state): State<AppState>,
    caller: AdminIn<needs::Administrators>,
    PathParams((_, id)): PathParams<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id = ScimTokenId::parse(&id).map_err(|_| ApiError::NotFound("SCIM token"))?;
    let revoked = state.store.revoke_scim_token(&caller.customer_id, id, &caller.session.actor()).await?;
    ApiError::unless_found(revoked, "SCIM token")?;
    Ok(StatusCode::NO_CONTENT)
}

/// A disabled administrator whose API clients are still active (R7).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DisabledOwnerView {
    admin_id: String,
    email: String,
    display_name: String,
    active_clients: u64,
}

impl From<&DisabledOwner> for DisabledOwnerView {
    fn from(o: &DisabledOwner) -> Self {
        Self {
            admin_id: o.admin.id.to_string(),
            email: o.admin.email.to_string(),
            display_name: o.admin.display_name.clone(),
            active_clients: o.active_clients,
        }
    }
}

/// The R7 warning: whose clients stay active although their owner was disabled, and the two
/// ways out.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DisabledOwnerList {
    items: Vec<DisabledOwnerView>,
    /// How many API clients in all.
    active_clients: u64,
    /// Deleting the administrator deletes their clients (R6); the policy `suspend-clients`
    /// suspends the clients of every disabled administrator.
    ways_out: Vec<&'static str>,
}

pub const WAYS_OUT: [&str; 2] = ["removeAdministrator", "setPolicySuspendClients"];

/// Disabled administrators whose API clients remain active (R7), for every administrator who
/// manages administrators.
#[utoipa::path(
    get,
    path = "/api/v1/customers/{customer}/disabled-owners",
    tag = "management",
    security(("Session" = [])),
    params(crate::openapi::CustomerPath),
    responses(
        (status = 200, description = "The disabled administrators with active clients; empty under the policy suspend-clients", body = DisabledOwnerList),
        (status = "4XX", description = "Refused: 400 invalid input, 401 not signed in, 403 the access does not allow it, 404 not a member of the customer", body = GatewayError),
        crate::openapi::StoreUnavailable,
    ),
    extensions(("x-trustgate-permission" = json!("administrators")))
)]
pub async fn disabled_owners(
    State(state): State<AppState>,
    caller: AdminIn<needs::Administrators>,
) -> Result<axum::Json<DisabledOwnerList>, ApiError> {
    let owners = state.store.disabled_owners(&caller.customer_id).await?;
    Ok(axum::Json(DisabledOwnerList {
        active_clients: owners.iter().map(|o| o.active_clients).sum(),
        items: owners.iter().map(DisabledOwnerView::from).collect(),
        ways_out: WAYS_OUT.to_vec(),
    }))
}
