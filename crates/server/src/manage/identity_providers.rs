//! A customer's OpenID providers over the management API (issue #12): Full administrators list,
//! connect and disconnect them; the client secret goes in once and never comes back.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use trustgate_core::access::Access;
use trustgate_core::federation::{self, IdentityProvider};
use trustgate_core::ids::ProviderId;
use utoipa::ToSchema;

use crate::error::{ApiError, GatewayError};
use crate::http::body::{Json, PathParams};
use crate::platform::auth::needs;
use crate::platform::shapes::rfc3339;
use crate::session::AdminIn;
use crate::state::AppState;

/// A connection, as Citrix names the provider: Okta is `providerType` `CitrixSts` with
/// `externalProviderType` `Okta`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProviderView {
    id: String,
    provider_type: &'static str,
    external_provider_type: &'static str,
    issuer: String,
    client_id: String,
    email_claim: String,
    /// Register this at the provider.
    redirect_uri: String,
    #[schema(format = DateTime)]
    created_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct ProviderList {
    items: Vec<ProviderView>,
}

fn view(state: &AppState, p: &IdentityProvider) -> ProviderView {
    let (provider_type, external_provider_type) = p.citrix_types();
    ProviderView {
        id: p.id.to_string(),
        provider_type,
        external_provider_type,
        issuer: p.issuer.clone(),
        client_id: p.client_id.clone(),
        email_claim: p.email_claim.clone(),
        redirect_uri: crate::oidc::redirect_uri(state),
        created_at: rfc3339(p.created_at),
    }
}

/// Listing shows client ids and issuers: Full administrators only, as connecting is.
async fn require_full(state: &AppState, caller: &AdminIn<needs::Administrators>) -> Result<(), ApiError> {
    let standing = state.store.standing(&caller.customer_id, caller.session.admin.id).await?;
    match standing.map(|s| s.access) {
        Some(Access::Full) => Ok(()),
        _ => Err(ApiError::Forbidden("only Full administrators manage identity providers".to_owned())),
    }
}

/// The customer's OpenID providers.
#[utoipa::path(
    get,
    path = "/api/v1/customers/{customer}/identity-providers",
    tag = "management",
    security(("Session" = [])),
    params(crate::openapi::CustomerPath),
    responses(
        (status = 200, description = "The connections", body = ProviderList),
        (status = "4XX", description = "Refused: 401 not signed in, 403 not a Full administrator, 404 not a member of the customer", body = GatewayError),
        crate::openapi::StoreUnavailable,
    ),
    extensions(("x-trustgate-permission" = json!("administrators")))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: AdminIn<needs::Administrators>,
) -> Result<axum::Json<ProviderList>, ApiError> {
    require_full(&state, &caller).await?;
    let providers = state.store.identity_providers(&caller.customer_id).await?;
    Ok(axum::Json(ProviderList { items: providers.iter().map(|p| view(&state, p)).collect() }))
}

/// What a Full administrator enters to connect a provider.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewProvider {
    /// `AzureAd`, `Google` or `Okta`.
    provider_type: String,
    #[schema(max_length = 512)]
    issuer: String,
    #[schema(max_length = 256)]
    client_id: String,
    #[schema(max_length = 512)]
    client_secret: String,
    /// The ID-token claim carrying the e-mail; `email` by default.
    #[serde(default)]
    email_claim: Option<String>,
}

/// Connects an OpenID provider to the customer; its client secret is stored sealed.
#[utoipa::path(
    post,
    path = "/api/v1/customers/{customer}/identity-providers",
    tag = "management",
    security(("Session" = [])),
    params(crate::openapi::CustomerPath, crate::openapi::CsrfHeader),
    request_body(content = NewProvider, content_type = "application/json"),
    responses(
        (status = 201, description = "Connected", body = ProviderView),
        (status = "4XX", description = "Refused: 400 invalid input, 401 not signed in, 403 not a Full administrator or missing X-CSRF-Token, 404 not a member of the customer, 409 already connected to this issuer", body = GatewayError),
        crate::openapi::StoreUnavailable,
    ),
    extensions(("x-trustgate-permission" = json!("administrators")))
)]
pub async fn connect(
    State(state): State<AppState>,
    caller: AdminIn<needs::Administrators>,
    Json(form): Json<NewProvider>,
) -> Result<Response, ApiError> {
    let id = ProviderId::generate();
    let secret = federation::parse_client_secret(&form.client_secret)?;
    let provider = IdentityProvider {
        id,
        customer_id: caller.customer_id.clone(),
        provider_type: federation::parse_provider_type(&form.provider_type)?,
        issuer: federation::parse_issuer(&form.issuer)?,
        client_id: federation::parse_client_id(&form.client_id)?,
        sealed_secret: state.server_keys().secret_vault.seal(id, &secret),
        email_claim: federation::parse_email_claim(form.email_claim.as_deref().unwrap_or_default())?,
        created_at: OffsetDateTime::now_utc(),
    };
    state.store.connect_provider(&provider, &caller.session.actor()).await?;
    Ok((StatusCode::CREATED, axum::Json(view(&state, &provider))).into_response())
}

/// Disconnects an OpenID provider; sessions opened through the customer's providers end.
#[utoipa::path(
    delete,
    path = "/api/v1/customers/{customer}/identity-providers/{id}",
    tag = "management",
    security(("Session" = [])),
    params(crate::openapi::CustomerPath, ("id" = String, Path, description = "The connection id"), crate::openapi::CsrfHeader),
    responses(
        (status = 204, description = "Disconnected"),
        (status = "4XX", description = "Refused: 401 not signed in, 403 not a Full administrator or missing X-CSRF-Token, 404 no such connection", body = GatewayError),
        crate::openapi::StoreUnavailable,
    ),
    extensions(("x-trustgate-permission" = json!("administrators")))
)]
pub async fn disconnect(
    State(state): State<AppState>,
    caller: AdminIn<needs::Administrators>,
    PathParams((_, id)): PathParams<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id = ProviderId::parse(&id).map_err(|_| ApiError::NotFound("identity provider"))?;
    let disconnected = state.store.disconnect_provider(&caller.customer_id, id, &caller.session.actor()).await?;
    ApiError::unless_found(disconnected, "identity provider")?;
    Ok(StatusCode::NO_CONTENT)
}
