//! Trustgate's own management API: sign-in, and an administrator's API clients (R1–R3, R8).

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use trustgate_core::admin::Admin;
use trustgate_core::client::ApiClient;
use trustgate_core::client_secrets::SecretInfo;
use trustgate_core::ids::ClientId;
use trustgate_core::secret::SecretId;
use trustgate_core::secret::ServerKeyring;
use trustgate_core::ValidationError;
use trustgate_store::Session;
use utoipa::ToSchema;

use crate::actions::second_factor::{self, SecondStep};
use crate::error::{ApiError, GatewayError};
use crate::http::body::{Json, PathParams};
use crate::platform::auth::needs;
use crate::platform::shapes::{parse_rfc3339, rfc3339, AccessType};
use crate::session::{self, AdminIn, AdminSession};
use crate::state::AppState;
use crate::throttle::Source;

/// An administrator's e-mail and password, and their second factor when they hold one.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignIn {
    email: String,
    password: String,
    /// The 6-digit code of the administrator's authenticator app, or one of their recovery codes;
    /// required when they hold a second factor (each code is accepted once).
    #[serde(default)]
    #[schema(max_length = 32)]
    code: Option<String>,
}

/// Signs in with e-mail and password; sets the session cookie.
#[utoipa::path(
    post,
    path = "/api/v1/session",
    tag = "management",
    security(()),
    request_body(content = SignIn, content_type = "application/json"),
    responses(
        (status = 200, description = "Signed in; `Set-Cookie` carries the session", body = WhoAmI,
            headers(("Set-Cookie" = String, description = "The HttpOnly session cookie"))),
        (status = "4XX", description = "Refused: 400 invalid input; 401 wrong e-mail or password, a second factor required (`code` missing) or a wrong or already used code; 403 a customer requires a second factor the administrator has not set up (they do so in the console); 429 locked out after failed sign-ins or codes (with `Retry-After`)", body = GatewayError),
        (status = "5XX", description = "503: the store is unavailable, or every password check is busy (with `Retry-After`)", body = GatewayError),
    )
)]
pub async fn sign_in(
    State(state): State<AppState>,
    Source(source): Source,
    Json(form): Json<SignIn>,
) -> Result<Response, ApiError> {
    if form.code.as_ref().is_some_and(|code| code.len() > second_factor::MAX_CODE_LEN) {
        return Err(ValidationError::too_long("code", second_factor::MAX_CODE_LEN).into());
    }
    let admin = crate::actions::sign_in::authenticate(&state, &form.email, form.password, source).await?;
    match second_factor::after_password(&state, &admin).await? {
        SecondStep::None => {}
        SecondStep::Verify => match form.code.as_deref() {
            Some(code) => second_factor::check_code(&state, &admin, code, source).await?,
            None => {
                return Err(ApiError::Unauthenticated {
                    reason: "invalid",
                    detail: "This administrator signs in with a second factor: send `code`, from their authenticator app or a recovery code.",
                })
            }
        },
        SecondStep::Enrol => {
            return Err(ApiError::Forbidden(
                "a customer of this administrator requires a second factor: set it up by signing in to the console first"
                    .to_owned(),
            ))
        }
    }
    second_factor::signed_in(&state, &admin).await?;
    let (cookie, session) = session::start(&state, &admin, None).await?;
    let mut response = axum::Json(who_am_i(&state, &admin, &session).await?).into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

/// The signed-in administrator, their customers, and the CSRF token of the session.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WhoAmI {
    admin: AdminView,
    customers: Vec<CustomerAccess>,
    /// Send as `X-CSRF-Token` on every call that changes something.
    csrf_token: String,
    #[schema(format = DateTime)]
    expires_at: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminView {
    id: String,
    email: String,
    display_name: String,
}

/// A customer the administrator belongs to, and their access there.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerAccess {
    id: String,
    name: String,
    #[schema(inline)]
    access_type: AccessType,
    /// The permissions granted with `Custom` access (all of them with `Full`).
    policies: Vec<String>,
}

async fn who_am_i(state: &AppState, admin: &Admin, session: &Session) -> Result<WhoAmI, ApiError> {
    let customers = state
        .store
        .memberships(admin.id)
        .await?
        .into_iter()
        .filter(|m| session.customer_id.as_ref().is_none_or(|only| *only == m.customer.id))
        .map(|m| CustomerAccess {
            id: m.customer.id.to_string(),
            name: m.customer.name,
            access_type: (&m.access).into(),
            policies: state.catalog().granted(&m.access).iter().map(ToString::to_string).collect(),
        })
        .collect();
    Ok(WhoAmI {
        admin: AdminView {
            id: admin.id.to_string(),
            email: admin.email.to_string(),
            display_name: admin.display_name.clone(),
        },
        customers,
        csrf_token: session.csrf_token.clone(),
        expires_at: rfc3339(session.expires_at),
    })
}

/// The signed-in administrator and their customers.
#[utoipa::path(
    get,
    path = "/api/v1/session",
    tag = "management",
    security(("Session" = [])),
    responses(
        (status = 200, description = "The session", body = WhoAmI),
        crate::openapi::SessionErrors,
    )
)]
pub async fn current(State(state): State<AppState>, session: AdminSession) -> Result<axum::Json<WhoAmI>, ApiError> {
    Ok(axum::Json(who_am_i(&state, &session.admin, &session.session).await?))
}

/// Signs out: ends the session and clears its cookie.
#[utoipa::path(
    delete,
    path = "/api/v1/session",
    tag = "management",
    security(("Session" = [])),
    params(crate::openapi::CsrfHeader),
    responses(
        (status = 204, description = "Signed out"),
        crate::openapi::SessionErrors,
    )
)]
pub async fn sign_out(State(state): State<AppState>, session: AdminSession) -> Result<Response, ApiError> {
    let expired = session::end(&state, &session).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(header::SET_COOKIE, expired);
    Ok(response)
}

/// An API client; its secret is never shown again after creation (R2).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientView {
    id: String,
    name: String,
    customer_id: String,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    last_used_at: Option<String>,
}

/// The caller's own API clients in the customer.
#[derive(Serialize, ToSchema)]
pub struct ClientList {
    items: Vec<ClientView>,
}

/// A new API client with its secret: the only answer that ever holds it.
#[derive(Serialize, ToSchema)]
pub struct CreatedClient {
    #[serde(flatten)]
    client: ClientView,
    secret: String,
}

impl From<&ApiClient> for ClientView {
    fn from(c: &ApiClient) -> Self {
        Self {
            id: c.id.to_string(),
            name: c.name.clone(),
            customer_id: c.customer_id.to_string(),
            created_at: rfc3339(c.created_at),
            last_used_at: c.last_used_at.map(rfc3339),
        }
    }
}

/// The caller's own API clients in the customer (R3: nobody else's).
#[utoipa::path(
    get,
    path = "/api/v1/customers/{customer}/api-clients",
    tag = "management",
    security(("Session" = [])),
    params(crate::openapi::CustomerPath),
    responses(
        (status = 200, description = "The caller's clients", body = ClientList),
        crate::openapi::SessionErrors,
    ),
    extensions(("x-trustgate-permission" = json!("apiClients")))
)]
pub async fn list_clients(
    State(state): State<AppState>,
    caller: AdminIn<needs::ApiClients>,
) -> Result<axum::Json<ClientList>, ApiError> {
    let clients = state.store.clients_of(&caller.customer_id, caller.session.admin.id).await?;
    Ok(axum::Json(ClientList { items: clients.iter().map(ClientView::from).collect() }))
}

/// The name of a new API client.
#[derive(Deserialize, ToSchema)]
pub struct NewClient {
    #[schema(max_length = 100)]
    name: String,
}

/// Creates an API client owned by the caller; the response holds the secret, once (R2).
#[utoipa::path(
    post,
    path = "/api/v1/customers/{customer}/api-clients",
    tag = "management",
    security(("Session" = [])),
    params(crate::openapi::CustomerPath, crate::openapi::CsrfHeader),
    request_body(content = NewClient, content_type = "application/json"),
    responses(
        (status = 201, description = "The client and its secret", body = CreatedClient),
        crate::openapi::SessionErrors,
    ),
    extensions(("x-trustgate-permission" = json!("apiClients")))
)]
pub async fn create_client(
    State(state): State<AppState>,
    caller: AdminIn<needs::ApiClients>,
    Json(form): Json<NewClient>,
) -> Result<Response, ApiError> {
    let (client, secret) = crate::actions::clients::new_client(
        state.store.as_ref(),
        &state.server_key(),
        &caller.customer_id,
        &caller.session.admin,
        &form.name,
        state.config.max_clients_per_owner,
        &caller.session.actor(),
    )
    .await?;
    let body = CreatedClient { client: ClientView::from(&client), secret: secret.expose().to_owned() };
    Ok(super::created_with_secret(body))
}

/// Deletes one of the caller's API clients; 404 for anyone but the owner (R3).
#[utoipa::path(
    delete,
    path = "/api/v1/customers/{customer}/api-clients/{id}",
    tag = "management",
    security(("Session" = [])),
    params(crate::openapi::CustomerPath, ("id" = String, Path, description = "The client id"), crate::openapi::CsrfHeader),
    responses(
        (status = 204, description = "Deleted"),
        crate::openapi::SessionErrors,
    ),
    extensions(("x-trustgate-permission" = json!("apiClients")))
)]
pub async fn delete_client(
    State(state): State<AppState>,
    caller: AdminIn<needs::ApiClients>,
    PathParams((_, id)): PathParams<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id = ClientId::parse(&id).map_err(|_| ApiError::NotFound("API client"))?;
    let deleted =
        state.store.delete_client(&caller.customer_id, caller.session.admin.id, id, &caller.session.actor()).await?;
    ApiError::unless_found(deleted, "API client")?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- Client secrets (issue #11) ----

/// One of a client's secrets: never the secret itself (R2).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretView {
    /// 16 hex digits; a secret issued since secrets have ids starts with `tgs_` and this id.
    id: String,
    /// Issued before secrets had ids (one per client, never expiring): it names no id.
    legacy: bool,
    #[schema(format = DateTime)]
    created_at: String,
    /// Who added it, as the system log names them.
    created_by: String,
    /// When it stops granting tokens; none: never.
    #[schema(format = DateTime)]
    expires_at: Option<String>,
    #[schema(format = DateTime)]
    last_used_at: Option<String>,
    /// Made under a server key the operator has since retired: it works until the operator drops
    /// that key. Add a new secret, move to it, and delete this one.
    retired_server_key: bool,
}

impl SecretView {
    fn of(s: &SecretInfo, ring: &ServerKeyring) -> Self {
        Self {
            retired_server_key: ring.is_retired(s.server_key.as_ref()),
            id: s.id.to_string(),
            legacy: s.legacy,
            created_at: rfc3339(s.created_at),
            created_by: s.created_by.clone(),
            expires_at: s.expires_at.map(rfc3339),
            last_used_at: s.last_used_at.map(rfc3339),
        }
    }
}

/// A client's secrets, oldest first.
#[derive(Serialize, ToSchema)]
pub struct SecretList {
    items: Vec<SecretView>,
}

/// A new secret's expiry.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewSecretIn {
    /// RFC 3339; ahead, and at most 730 days ahead. None: the secret lives until deleted.
    #[schema(format = DateTime)]
    expires_at: Option<String>,
}

/// A new secret: the only answer that ever holds it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedSecret {
    client_id: String,
    #[serde(flatten)]
    info: SecretView,
    secret: String,
}

fn client_in_path(id: &str) -> Result<ClientId, ApiError> {
    ClientId::parse(id).map_err(|_| ApiError::NotFound("API client"))
}

/// The secrets of one of the caller's API clients; 404 for anyone but the owner (R3).
#[utoipa::path(
    get,
    path = "/api/v1/customers/{customer}/api-clients/{id}/secrets",
    tag = "management",
    security(("Session" = [])),
    params(crate::openapi::CustomerPath, ("id" = String, Path, description = "The client id")),
    responses(
        (status = 200, description = "The client's secrets, without the secrets themselves", body = SecretList),
        (status = "4XX", description = "Refused: 400 invalid input, 401 not signed in, 403 the access does not allow it, 404 no such client of the caller", body = GatewayError),
        crate::openapi::StoreUnavailable,
    ),
    extensions(("x-trustgate-permission" = json!("apiClients")))
)]
pub async fn list_secrets(
    State(state): State<AppState>,
    caller: AdminIn<needs::ApiClients>,
    PathParams((_, id)): PathParams<(String, String)>,
) -> Result<axum::Json<SecretList>, ApiError> {
    let id = client_in_path(&id)?;
    let secrets = state.store.client_secrets(&caller.customer_id, id, &caller.session.actor()).await?;
    let ring = &state.server_keys().ring;
    Ok(axum::Json(SecretList { items: secrets.iter().map(|s| SecretView::of(s, ring)).collect() }))
}

/// Adds a secret to one of the caller's API clients (at most 3); the response holds it, once.
#[utoipa::path(
    post,
    path = "/api/v1/customers/{customer}/api-clients/{id}/secrets",
    tag = "management",
    security(("Session" = [])),
    params(crate::openapi::CustomerPath, ("id" = String, Path, description = "The client id"), crate::openapi::CsrfHeader),
    request_body(content = NewSecretIn, content_type = "application/json"),
    responses(
        (status = 201, description = "The secret, shown this once", body = CreatedSecret),
        (status = "4XX", description = "Refused: 400 invalid input (`expiresAt` past or beyond 730 days), 401 not signed in, 403 missing X-CSRF-Token or the access does not allow it, 404 no such client of the caller, 409 the client holds 3 secrets already (`secretLimit`)", body = GatewayError),
        crate::openapi::StoreUnavailable,
    ),
    extensions(("x-trustgate-permission" = json!("apiClients")))
)]
pub async fn add_secret(
    State(state): State<AppState>,
    caller: AdminIn<needs::ApiClients>,
    PathParams((_, id)): PathParams<(String, String)>,
    Json(form): Json<NewSecretIn>,
) -> Result<Response, ApiError> {
    let id = client_in_path(&id)?;
    let expires_at = form.expires_at.as_deref().map(|at| parse_rfc3339("expiresAt", at)).transpose()?;
    let (info, secret) = crate::actions::clients::add_secret(
        state.store.as_ref(),
        &state.server_key(),
        &caller.customer_id,
        id,
        expires_at,
        &caller.session.actor(),
    )
    .await?;
    let info = SecretView::of(&info, &state.server_keys().ring);
    let body = CreatedSecret { client_id: id.to_string(), info, secret: secret.expose().to_owned() };
    Ok(super::created_with_secret(body))
}

/// Deletes a secret: it grants no token from now on, on every node; tokens it already got stay
/// valid until they expire (an hour at most). The last secret cannot be deleted (409 `lastSecret`).
#[utoipa::path(
    delete,
    path = "/api/v1/customers/{customer}/api-clients/{id}/secrets/{secretId}",
    tag = "management",
    security(("Session" = [])),
    params(crate::openapi::CustomerPath, ("id" = String, Path, description = "The client id"), ("secretId" = String, Path, description = "The secret's id"), crate::openapi::CsrfHeader),
    responses(
        (status = 204, description = "Deleted"),
        (status = "4XX", description = "Refused: 400 invalid input, 401 not signed in, 403 missing X-CSRF-Token or the access does not allow it, 404 no such client of the caller or no such secret, 409 the client's last secret (`lastSecret`)", body = GatewayError),
        crate::openapi::StoreUnavailable,
    ),
    extensions(("x-trustgate-permission" = json!("apiClients")))
)]
pub async fn delete_secret(
    State(state): State<AppState>,
    caller: AdminIn<needs::ApiClients>,
    PathParams((_, id, secret)): PathParams<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    let id = client_in_path(&id)?;
    let secret = SecretId::parse(&secret).map_err(|_| ApiError::NotFound("secret"))?;
    state.store.delete_client_secret(&caller.customer_id, id, secret, &caller.session.actor()).await?;
    Ok(StatusCode::NO_CONTENT)
}
