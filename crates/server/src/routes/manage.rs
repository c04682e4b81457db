//! Trustgate's own management API: sign-in, and an administrator's API clients (R1–R3, R8).

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use trustgate_core::admin::Admin;
use trustgate_core::client::ApiClient;
use trustgate_core::ids::ClientId;
use trustgate_store::Session;

use crate::auth::needs;
use crate::body::Json;
use crate::error::ApiError;
use crate::session::{self, AdminIn, AdminSession};
use crate::state::AppState;
use crate::throttle::Source;
use crate::wire::rfc3339;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignIn {
    email: String,
    password: String,
}

/// `POST /api/v1/session`
pub async fn sign_in(
    State(state): State<AppState>,
    Source(source): Source,
    Json(form): Json<SignIn>,
) -> Result<Response, ApiError> {
    let admin = crate::ops::authenticate(&state, &form.email, form.password, source).await?;
    let (cookie, session) = session::start(&state, &admin).await?;
    let mut response = Json200(who_am_i(&state, &admin, &session).await?).into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

struct Json200(serde_json::Value);

impl IntoResponse for Json200 {
    fn into_response(self) -> Response {
        (StatusCode::OK, axum::Json(self.0)).into_response()
    }
}

async fn who_am_i(state: &AppState, admin: &Admin, session: &Session) -> Result<serde_json::Value, ApiError> {
    let customers: Vec<_> = state
        .store
        .memberships(admin.id)
        .await?
        .into_iter()
        .map(|m| {
            json!({
                "id": m.customer.id.as_str(),
                "name": m.customer.name,
                "accessType": m.access.access_type(),
                "policies": m.access.permissions().iter().map(|p| p.name()).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(json!({
        "admin": { "id": admin.id.to_string(), "email": admin.email.as_str(), "displayName": admin.display_name },
        "customers": customers,
        "csrfToken": session.csrf_token,
        "expiresAt": rfc3339(session.expires_at),
    }))
}

/// `GET /api/v1/session`
pub async fn current(State(state): State<AppState>, session: AdminSession) -> Result<Response, ApiError> {
    Ok(Json200(who_am_i(&state, &session.admin, &session.session).await?).into_response())
}

/// `DELETE /api/v1/session`
pub async fn sign_out(State(state): State<AppState>, session: AdminSession) -> Result<Response, ApiError> {
    let expired = session::end(&state, &session).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(header::SET_COOKIE, expired);
    Ok(response)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientView {
    id: String,
    name: String,
    customer_id: String,
    created_at: String,
    last_used_at: Option<String>,
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

/// `GET /api/v1/customers/{customer}/api-clients` — the caller's own clients only (R3).
pub async fn list_clients(
    State(state): State<AppState>,
    caller: AdminIn<needs::ApiClients>,
) -> Result<Response, ApiError> {
    let clients = state.store.clients_of(&caller.customer_id, caller.session.admin.id).await?;
    let items: Vec<ClientView> = clients.iter().map(ClientView::from).collect();
    Ok(Json200(json!({ "items": items })).into_response())
}

#[derive(Deserialize)]
pub struct NewClient {
    name: String,
}

/// `POST /api/v1/customers/{customer}/api-clients` — the only response that ever holds the secret (R2).
pub async fn create_client(
    State(state): State<AppState>,
    caller: AdminIn<needs::ApiClients>,
    Json(form): Json<NewClient>,
) -> Result<Response, ApiError> {
    let (client, secret) = crate::ops::new_client(
        state.store.as_ref(),
        &state.server_key,
        &caller.customer_id,
        &caller.session.admin,
        &form.name,
        state.config.max_clients_per_owner,
        &caller.session.actor(),
    )
    .await?;
    let mut body = serde_json::to_value(ClientView::from(&client)).map_err(|_| ApiError::Internal)?;
    body["secret"] = json!(secret.expose());
    let mut response = (StatusCode::CREATED, axum::Json(body)).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `DELETE /api/v1/customers/{customer}/api-clients/{id}` — 404 for anyone but the owner (R3).
pub async fn delete_client(
    State(state): State<AppState>,
    caller: AdminIn<needs::ApiClients>,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id = ClientId::parse(&id).map_err(|_| ApiError::NotFound("API client"))?;
    let deleted =
        state.store.delete_client(&caller.customer_id, caller.session.admin.id, id, &caller.session.actor()).await?;
    if deleted {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("API client"))
    }
}
