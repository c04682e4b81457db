//! Identity and Access Management → API Access: the administrator's own API clients (R1–R3).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use trustgate_core::access::Permission;
use trustgate_core::client::{ApiClient, CLIENT_NAME_MAX};
use trustgate_core::ids::ClientId;

use super::error::{render, ConsoleError};
use super::extract::{InCustomer, Posted};
use super::layout::{when, Layout, Section};
use crate::error::ApiError;
use crate::ops;
use crate::state::AppState;

pub struct ClientRow {
    pub id: String,
    pub name: String,
    pub created: String,
    pub last_used: String,
}

impl From<&ApiClient> for ClientRow {
    fn from(c: &ApiClient) -> Self {
        Self {
            id: c.id.to_string(),
            name: c.name.clone(),
            created: when(c.created_at),
            last_used: c.last_used_at.map(when).unwrap_or_else(|| "Never".to_owned()),
        }
    }
}

/// The ID and Secret of a client just created: rendered into this one response and nowhere else (R2).
pub struct Created {
    pub id: String,
    pub name: String,
    pub secret: String,
}

#[derive(Template)]
#[template(path = "api_access.html")]
struct ApiAccessPage {
    layout: Layout,
    base: String,
    customer_id: String,
    clients: Vec<ClientRow>,
    name: String,
    name_max: usize,
    error: Option<String>,
    notice: Option<&'static str>,
    created: Option<Created>,
}

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

async fn show(
    state: &AppState,
    ctx: &InCustomer,
    status: StatusCode,
    name: String,
    error: Option<String>,
    notice: Option<&'static str>,
    created: Option<Created>,
) -> Result<Response, ConsoleError> {
    let clients = state.store.clients_of(&ctx.customer.id, ctx.session.admin.id).await.map_err(ApiError::from)?;
    let page = ApiAccessPage {
        layout: ctx.layout("API Access", Section::ApiAccess),
        base: ctx.base(),
        customer_id: ctx.customer.id.to_string(),
        clients: clients.iter().map(ClientRow::from).collect(),
        name,
        name_max: CLIENT_NAME_MAX,
        error,
        notice,
        created,
    };
    Ok(render(status, &page))
}

/// `GET /console/c/{customer}/api-access`
pub async fn page(
    State(state): State<AppState>,
    ctx: InCustomer,
    Query(done): Query<Done>,
) -> Result<Response, ConsoleError> {
    ctx.require(Permission::ApiClients)?;
    let notice = match done.done.as_deref() {
        Some("deleted") => Some("The API client was deleted. Scripts that used it can no longer get tokens."),
        _ => None,
    };
    show(&state, &ctx, StatusCode::OK, String::new(), None, notice, None).await
}

/// `POST /console/c/{customer}/api-access` — answers with the page and the one-time dialog; no
/// redirect, because the secret must not be kept anywhere to show it after one.
pub async fn create(State(state): State<AppState>, Posted { ctx, form }: Posted) -> Result<Response, ConsoleError> {
    ctx.require(Permission::ApiClients)?;
    let name = form.get("name");
    let created = ops::new_client(
        state.store.as_ref(),
        &state.server_key,
        &ctx.customer.id,
        &ctx.session.admin,
        name,
        state.config.max_clients_per_owner,
        &ctx.actor(),
    )
    .await;
    match created {
        Ok((client, secret)) => {
            let created =
                Created { id: client.id.to_string(), name: client.name.clone(), secret: secret.expose().to_owned() };
            let mut response = show(&state, &ctx, StatusCode::OK, String::new(), None, None, Some(created)).await?;
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            Ok(response)
        }
        Err(error @ ApiError::Invalid(_)) => {
            let error = ConsoleError::from(error);
            show(&state, &ctx, error.status(), name.to_owned(), Some(error.message().to_owned()), None, None).await
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Template)]
#[template(path = "confirm.html")]
pub struct ConfirmPage {
    pub layout: Layout,
    pub heading: String,
    pub lines: Vec<String>,
    pub warning: Option<String>,
    pub action: String,
    pub confirm_label: &'static str,
    pub cancel: String,
}

/// The caller's own client with this id; anyone else's is "not found" (R3).
async fn own_client(state: &AppState, ctx: &InCustomer, id: &str) -> Result<ApiClient, ConsoleError> {
    let id = ClientId::parse(id).map_err(|_| ApiError::NotFound("API client"))?;
    let clients = state.store.clients_of(&ctx.customer.id, ctx.session.admin.id).await.map_err(ApiError::from)?;
    Ok(clients.into_iter().find(|c| c.id == id).ok_or(ApiError::NotFound("API client"))?)
}

/// `GET /console/c/{customer}/api-access/{id}/delete`
pub async fn confirm_delete(
    State(state): State<AppState>,
    ctx: InCustomer,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ConsoleError> {
    ctx.require(Permission::ApiClients)?;
    let client = own_client(&state, &ctx, &id).await?;
    let page = ConfirmPage {
        layout: ctx.layout("Delete API client", Section::ApiAccess),
        heading: format!("Delete the API client “{}”?", client.name),
        lines: vec![format!("ID: {}", client.id)],
        warning: Some(
            "Scripts that use this client can no longer get tokens, and tokens already issued stop working at once. This cannot be undone."
                .to_owned(),
        ),
        action: format!("{}/api-access/{}/delete", ctx.base(), client.id),
        confirm_label: "Delete client",
        cancel: format!("{}/api-access", ctx.base()),
    };
    Ok(render(StatusCode::OK, &page))
}

/// `POST /console/c/{customer}/api-access/{id}/delete`
pub async fn delete(
    State(state): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    Posted { ctx, .. }: Posted,
) -> Result<Response, ConsoleError> {
    ctx.require(Permission::ApiClients)?;
    let id = ClientId::parse(&id).map_err(|_| ApiError::NotFound("API client"))?;
    let deleted = state
        .store
        .delete_client(&ctx.customer.id, ctx.session.admin.id, id, &ctx.actor())
        .await
        .map_err(ApiError::from)?;
    if !deleted {
        return Err(ApiError::NotFound("API client").into());
    }
    Ok(Redirect::to(&format!("{}/api-access?done=deleted", ctx.base())).into_response())
}
