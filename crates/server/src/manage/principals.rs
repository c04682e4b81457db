//! Service principals in Trustgate's management API (SP1–SP7): API clients of the customer that no
//! administrator owns. Only Full administrators manage them (SP3); the store decides, in the
//! transaction that applies each change.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use trustgate_core::catalog::Catalog;
use trustgate_core::client::{ApiClient, ClientKind};
use trustgate_core::ids::ClientId;
use utoipa::ToSchema;

use crate::error::{ApiError, GatewayError};
use crate::http::body::{Json, PathParams};
use crate::platform::auth::needs;
use crate::platform::shapes::{parse_access, parse_rfc3339, rfc3339, AccessType, PolicyIn};
use crate::session::AdminIn;
use crate::state::AppState;

type Caller = AdminIn<needs::ApiClients>;

/// Most principals one page lists: every one a customer may hold.
const PAGE: u32 = trustgate_core::client::PRINCIPALS_PER_CUSTOMER_MAX as u32;

/// A service principal; its secret is never shown again after creation.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrincipalView {
    id: String,
    name: String,
    customer_id: String,
    #[schema(inline)]
    access_type: AccessType,
    /// The permissions granted (all of them with `Full`).
    policies: Vec<String>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    last_used_at: Option<String>,
}

impl PrincipalView {
    pub fn of(principal: &ApiClient, catalog: &Catalog) -> Option<Self> {
        let ClientKind::ServicePrincipal { access } = &principal.kind else {
            return None;
        };
        Some(Self {
            id: principal.id.to_string(),
            name: principal.name.clone(),
            customer_id: principal.customer_id.to_string(),
            access_type: access.into(),
            policies: catalog.granted(access).iter().map(ToString::to_string).collect(),
            created_at: rfc3339(principal.created_at),
            last_used_at: principal.last_used_at.map(rfc3339),
        })
    }
}

/// Every service principal of the customer.
#[derive(Serialize, ToSchema)]
pub struct PrincipalList {
    items: Vec<PrincipalView>,
}

/// A new service principal with its secret: the only answer that ever holds it.
#[derive(Serialize, ToSchema)]
pub struct CreatedPrincipal {
    #[serde(flatten)]
    principal: PrincipalView,
    secret: String,
}

/// A new principal's name and access.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewPrincipal {
    #[schema(max_length = 100)]
    name: String,
    /// `Full` or `Custom`.
    #[schema(example = "Custom")]
    access_type: String,
    /// With `Custom`: the policies granted.
    policies: Option<Vec<PolicyIn>>,
    /// When the first secret stops granting tokens, RFC 3339: ahead, and at most 730 days ahead.
    /// Default: 365 days after creation.
    #[schema(format = DateTime)]
    secret_expires_at: Option<String>,
}

/// A principal's new access.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrincipalAccess {
    /// `Full` or `Custom`.
    #[schema(example = "Full")]
    access_type: String,
    policies: Option<Vec<PolicyIn>>,
}

fn principal_id(text: &str) -> Result<ClientId, ApiError> {
    ClientId::parse(text).map_err(|_| ApiError::NotFound("service principal"))
}

fn view(principal: &ApiClient, catalog: &Catalog) -> Result<PrincipalView, ApiError> {
    PrincipalView::of(principal, catalog).ok_or(ApiError::NotFound("service principal"))
}

/// Every service principal of the customer, to a Full administrator (SP3).
#[utoipa::path(
    get,
    path = "/api/v1/customers/{customer}/service-principals",
    tag = "management",
    security(("Session" = [])),
    params(crate::openapi::CustomerPath),
    responses(
        (status = 200, description = "The customer's service principals", body = PrincipalList),
        crate::openapi::FullAdministratorErrors,
    ),
    extensions(("x-trustgate-permission" = json!("apiClients")))
)]
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<axum::Json<PrincipalList>, ApiError> {
    let principals = state.store.principals(&caller.customer_id, None, PAGE, &caller.session.actor()).await?;
    Ok(axum::Json(PrincipalList {
        items: principals.iter().filter_map(|p| PrincipalView::of(p, &state.catalog())).collect(),
    }))
}

/// Creates a service principal with access within the caller's own (SP2); the response holds
/// the secret, once.
#[utoipa::path(
    post,
    path = "/api/v1/customers/{customer}/service-principals",
    tag = "management",
    security(("Session" = [])),
    params(crate::openapi::CustomerPath, crate::openapi::CsrfHeader),
    request_body(content = NewPrincipal, content_type = "application/json"),
    responses(
        (status = 201, description = "The principal and its secret", body = CreatedPrincipal),
        (status = "4XX", description = "Refused: 400 invalid input (`secretExpiresAt` past or beyond 730 days), 401 not signed in, 403 not a Full administrator, 404 not a member of the customer, 409 refused by a rule", body = GatewayError),
        crate::openapi::StoreUnavailable,
    ),
    extensions(("x-trustgate-permission" = json!("apiClients")))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(form): Json<NewPrincipal>,
) -> Result<Response, ApiError> {
    let access = parse_access(&form.access_type, form.policies.as_deref(), &state.catalog())?;
    let secret_expires_at =
        form.secret_expires_at.as_deref().map(|at| parse_rfc3339("secretExpiresAt", at)).transpose()?;
    let (principal, secret) = crate::actions::clients::new_principal(
        state.store.as_ref(),
        &state.server_key(),
        &caller.customer_id,
        &form.name,
        access,
        secret_expires_at,
        &caller.session.actor(),
    )
    .await?;
    let body = CreatedPrincipal { principal: view(&principal, &state.catalog())?, secret: secret.expose().to_owned() };
    Ok(super::created_with_secret(body))
}

/// Changes a principal's access (SP2); tokens already issued follow on their next call (SP4).
#[utoipa::path(
    put,
    path = "/api/v1/customers/{customer}/service-principals/{id}/access",
    tag = "management",
    security(("Session" = [])),
    params(crate::openapi::CustomerPath, ("id" = String, Path, description = "The principal's id"), crate::openapi::CsrfHeader),
    request_body(content = PrincipalAccess, content_type = "application/json"),
    responses(
        (status = 200, description = "The principal, with its new access", body = PrincipalView),
        (status = "4XX", description = "Refused: 400 invalid input, 401 not signed in, 403 not a Full administrator, 404 no such principal, 409 refused by a rule", body = GatewayError),
        crate::openapi::StoreUnavailable,
    ),
    extensions(("x-trustgate-permission" = json!("apiClients")))
)]
pub async fn set_access(
    State(state): State<AppState>,
    caller: Caller,
    PathParams((_, id)): PathParams<(String, String)>,
    Json(form): Json<PrincipalAccess>,
) -> Result<axum::Json<PrincipalView>, ApiError> {
    let id = principal_id(&id)?;
    let access = parse_access(&form.access_type, form.policies.as_deref(), &state.catalog())?;
    let actor = caller.session.actor();
    state.store.set_principal_access(&caller.customer_id, id, access, &actor).await?;
    let principal =
        state.store.principal(&caller.customer_id, id, &actor).await?.ok_or(ApiError::NotFound("service principal"))?;
    Ok(axum::Json(view(&principal, &state.catalog())?))
}

/// Deletes a service principal; its tokens fail at once (SP4).
#[utoipa::path(
    delete,
    path = "/api/v1/customers/{customer}/service-principals/{id}",
    tag = "management",
    security(("Session" = [])),
    params(crate::openapi::CustomerPath, ("id" = String, Path, description = "The principal's id"), crate::openapi::CsrfHeader),
    responses(
        (status = 204, description = "Deleted"),
        (status = "4XX", description = "Refused: 400 invalid input, 401 not signed in, 403 not a Full administrator, 404 no such principal", body = GatewayError),
        crate::openapi::StoreUnavailable,
    ),
    extensions(("x-trustgate-permission" = json!("apiClients")))
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    PathParams((_, id)): PathParams<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id = principal_id(&id)?;
    let deleted = state.store.delete_principal(&caller.customer_id, id, &caller.session.actor()).await?;
    ApiError::unless_found(deleted, "service principal")?;
    Ok(StatusCode::NO_CONTENT)
}

/// Converts a secure client into a service principal (SP7): same id, same secret, with the
/// access its owner holds now. Its owner or a Full administrator may; to anyone else it does not
/// exist (404, R3).
#[utoipa::path(
    post,
    path = "/api/v1/customers/{customer}/api-clients/{id}/convert",
    tag = "management",
    security(("Session" = [])),
    params(crate::openapi::CustomerPath, ("id" = String, Path, description = "The secure client's id"), crate::openapi::CsrfHeader),
    responses(
        (status = 200, description = "The service principal it became", body = PrincipalView),
        (status = "4XX", description = "Refused: 400 invalid input, 401 not signed in, 403 missing X-CSRF-Token, 404 no such secure client visible to the caller", body = GatewayError),
        crate::openapi::StoreUnavailable,
    ),
    extensions(("x-trustgate-permission" = json!("apiClients")))
)]
pub async fn convert(
    State(state): State<AppState>,
    caller: Caller,
    PathParams((_, id)): PathParams<(String, String)>,
) -> Result<axum::Json<PrincipalView>, ApiError> {
    let id = ClientId::parse(&id).map_err(|_| ApiError::NotFound("API client"))?;
    let principal = state.store.convert_to_principal(&caller.customer_id, id, &caller.session.actor()).await?;
    Ok(axum::Json(view(&principal, &state.catalog())?))
}
