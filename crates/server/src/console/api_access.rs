//! Identity and Access Management → API Access: the administrator's own API clients (R1–R3).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use trustgate_core::access::{Access, Permission};
use trustgate_core::client::{ApiClient, ClientKind, CLIENT_NAME_MAX};
use trustgate_core::client_secrets::{SecretInfo, MAX_SECRETS_PER_CLIENT};
use trustgate_core::ids::ClientId;
use trustgate_core::secret::SecretId;
use trustgate_core::secret::ServerKeyring;
use trustgate_core::ValidationError;

use super::confirm::{client_deletion, Confirmation};
use super::error::{render, ConsoleError};
use super::extract::{InCustomer, Posted};
use super::layout::{when, Layout, Section};
use super::lists::{by_text, Column, ListQuery, Listing, Pager, Sortable};
use super::usage::Usage;
use crate::actions;
use crate::cache::shown_once::Revealed;
use crate::error::ApiError;
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

/// The ID and Secret of a client just created, for the one view after the creating form (R2).
pub struct Created {
    pub id: String,
    pub name: String,
    pub secret: String,
    pub usage: Usage,
}

impl Created {
    pub fn shown(revealed: Revealed, state: &AppState, ctx: &InCustomer) -> Self {
        let secret = revealed.secret.expose();
        let usage = Usage::new(&state.config.issuer.url, &ctx.customer.id, revealed.id, secret, &revealed.access);
        Self { id: revealed.id.to_string(), name: revealed.name, secret: secret.to_owned(), usage }
    }
}

const PAGE_SIZE: usize = 25;
const COLUMNS: &[Sortable] = &[("name", "Name"), ("id", "ID"), ("created", "Created"), ("used", "Last used")];

#[derive(Template)]
#[template(path = "api_access.html")]
struct ApiAccessPage {
    layout: Layout,
    base: String,
    customer_id: String,
    clients: Vec<ClientRow>,
    owned: usize,
    listing: Listing,
    search_label: &'static str,
    columns: Vec<Column>,
    pager: Pager,
    name: String,
    name_max: usize,
    error: Option<String>,
    notice: Option<&'static str>,
    gone: bool,
    created: Option<Created>,
}

#[derive(Deserialize)]
pub struct Shown {
    pub done: Option<String>,
    /// The ticket of a secret waiting for its one view.
    pub created: Option<String>,
}

impl Shown {
    /// The secret the ticket holds, taken for its one view; `true` first when the ticket holds
    /// none (any more), so that the page can say it was shown already.
    pub fn reveal(&self, state: &AppState, ctx: &InCustomer) -> (bool, Option<Created>) {
        match self.created.as_deref().map(|t| state.reveals.take(t, &ctx.session.digest, &ctx.customer.id)) {
            Some(None) => (true, None),
            revealed => (false, revealed.flatten().map(|r| Created::shown(r, state, ctx))),
        }
    }
}

struct View {
    name: String,
    error: Option<String>,
    notice: Option<&'static str>,
    gone: bool,
    created: Option<Created>,
}

async fn show(
    state: &AppState,
    ctx: &InCustomer,
    status: StatusCode,
    list: &ListQuery,
    view: View,
) -> Result<Response, ConsoleError> {
    let clients = state.store.clients_of(&ctx.customer.id, ctx.session.admin.id).await.map_err(ApiError::from)?;
    let owned = clients.len();
    let listing = Listing::of(format!("{}/api-access", ctx.base()), list, COLUMNS, ("created", true), PAGE_SIZE);
    let matching = clients.into_iter().filter(|c| listing.matches([c.name.as_str(), &c.id.to_string()])).collect();
    let (shown, pager) = listing.page_of(matching, |column, a: &ApiClient, b: &ApiClient| match column {
        "name" => by_text(&a.name, &b.name),
        "id" => a.id.to_string().cmp(&b.id.to_string()),
        "used" => a.last_used_at.cmp(&b.last_used_at),
        _ => a.created_at.cmp(&b.created_at),
    });
    let page = ApiAccessPage {
        layout: ctx.layout("API Access", Section::ApiAccess),
        base: ctx.base(),
        customer_id: ctx.customer.id.to_string(),
        clients: shown.iter().map(ClientRow::from).collect(),
        owned,
        columns: listing.columns(COLUMNS),
        listing,
        search_label: "Search your API clients by name or ID",
        pager,
        name: view.name,
        name_max: CLIENT_NAME_MAX,
        error: view.error,
        notice: view.notice,
        gone: view.gone,
        created: view.created,
    };
    Ok(render(status, &page))
}

/// `GET /console/c/{customer}/api-access` — with `?created=`, the one view of a new secret.
pub async fn page(
    State(state): State<AppState>,
    ctx: InCustomer,
    Query(shown): Query<Shown>,
    Query(list): Query<ListQuery>,
) -> Result<Response, ConsoleError> {
    ctx.require(Permission::API_CLIENTS)?;
    let notice = match shown.done.as_deref() {
        Some("deleted") => Some("The API client was deleted. Scripts that used it can no longer get tokens."),
        _ => None,
    };
    let (gone, created) = shown.reveal(&state, &ctx);
    let view = View { name: String::new(), error: None, notice, gone, created };
    show(&state, &ctx, StatusCode::OK, &list, view).await
}

/// `POST /console/c/{customer}/api-access` — creates, holds the secret for one view, and
/// redirects to it (post/redirect/get), so a reload shows the list instead of creating again.
///
/// A second client with the name of one the administrator already owns here is refused rather
/// than merely warned about: the list, the confirmation to delete and the system log tell clients
/// apart by name, and a double-clicked Create button then cannot make two.
pub async fn create(State(state): State<AppState>, Posted { ctx, form }: Posted) -> Result<Response, ConsoleError> {
    ctx.require(Permission::API_CLIENTS)?;
    let name = form.get("name");
    let refuse = |message: String| View {
        name: name.to_owned(),
        error: Some(message),
        notice: None,
        gone: false,
        created: None,
    };
    let created = actions::clients::new_client(
        state.store.as_ref(),
        &state.server_key(),
        &ctx.customer.id,
        &ctx.session.admin,
        name,
        state.config.max_clients_per_owner,
        &ctx.actor(),
    )
    .await;
    match created {
        Ok((client, secret)) => {
            let revealed = Revealed { id: client.id, name: client.name, secret, access: ctx.access() };
            let ticket = state.reveals.hold(ctx.session.digest, &ctx.customer.id, revealed);
            Ok(Redirect::to(&format!("{}/api-access?created={ticket}", ctx.base())).into_response())
        }
        Err(ApiError::Refused { reason: "nameTaken", .. }) => {
            let message = format!(
                "You already have an API client named “{}” in this customer. Choose another name, or delete the old client first.",
                name.trim()
            );
            show(&state, &ctx, StatusCode::CONFLICT, &ListQuery::default(), refuse(message)).await
        }
        Err(error @ (ApiError::Invalid(_) | ApiError::Refused { .. })) => {
            let error = ConsoleError::from(error);
            show(&state, &ctx, error.status(), &ListQuery::default(), refuse(error.message().to_owned())).await
        }
        Err(other) => Err(other.into()),
    }
}

/// The access `client` calls APIs with: its own if a service principal, else its owner's, who
/// is the caller wherever the console shows a secret of an API client (R3).
pub fn acts_with(client: &ApiClient, ctx: &InCustomer) -> Access {
    match &client.kind {
        ClientKind::ServicePrincipal { access } => access.clone(),
        ClientKind::SecureClient { .. } => ctx.access(),
    }
}

/// The caller's own client with this id; anyone else's is "not found" (R3).
async fn own_client(state: &AppState, ctx: &InCustomer, id: &str) -> Result<ApiClient, ConsoleError> {
    let id = ClientId::parse(id).map_err(|_| ApiError::NotFound("API client"))?;
    let clients = state.store.clients_of(&ctx.customer.id, ctx.session.admin.id).await.map_err(ApiError::from)?;
    Ok(clients.into_iter().find(|c| c.id == id).ok_or(ApiError::NotFound("API client"))?)
}

/// The client whose secrets the panel shows: one of the caller's own secure clients or, to a Full
/// administrator, any service principal of the customer (SP3); the store checks again.
async fn secrets_client(state: &AppState, ctx: &InCustomer, id: &str) -> Result<ApiClient, ConsoleError> {
    match own_client(state, ctx, id).await {
        Err(not_own) if ctx.access() == Access::Full => {
            let Ok(id) = ClientId::parse(id) else { return Err(not_own) };
            let found = state.store.principal(&ctx.customer.id, id, &ctx.actor()).await.map_err(ApiError::from)?;
            found.ok_or(not_own)
        }
        own => own,
    }
}

/// `GET /console/c/{customer}/api-access/{id}/delete`
pub async fn confirm_delete(
    State(state): State<AppState>,
    ctx: InCustomer,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ConsoleError> {
    ctx.require(Permission::API_CLIENTS)?;
    let client = own_client(&state, &ctx, &id).await?;
    let warning = "Scripts that use this client can no longer get tokens, and tokens already issued stop working at once. This cannot be undone.";
    Ok(client_deletion(&ctx, &client, "API client", "api-access", warning))
}

/// `POST /console/c/{customer}/api-access/{id}/delete`
pub async fn delete(
    State(state): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    Posted { ctx, .. }: Posted,
) -> Result<Response, ConsoleError> {
    ctx.require(Permission::API_CLIENTS)?;
    let id = ClientId::parse(&id).map_err(|_| ApiError::NotFound("API client"))?;
    let deleted = state
        .store
        .delete_client(&ctx.customer.id, ctx.session.admin.id, id, &ctx.actor())
        .await
        .map_err(ApiError::from)?;
    ApiError::unless_found(deleted, "API client")?;
    Ok(Redirect::to(&format!("{}/api-access?done=deleted", ctx.base())).into_response())
}

// ---- Client secrets (issue #11): the secrets panel of one client ----

pub struct SecretRow {
    pub id: String,
    pub legacy: bool,
    pub created: String,
    pub created_by: String,
    pub expires: String,
    pub last_used: String,
    /// Its verifier was made under a server key the operator has since retired.
    pub retired_server_key: bool,
}

impl SecretRow {
    fn of(s: &SecretInfo, ring: &ServerKeyring) -> Self {
        Self {
            retired_server_key: ring.is_retired(s.server_key.as_ref()),
            id: s.id.to_string(),
            legacy: s.legacy,
            created: when(s.created_at),
            created_by: s.created_by.clone(),
            expires: s.expires_at.map(when).unwrap_or_else(|| "Never".to_owned()),
            last_used: s.last_used_at.map(when).unwrap_or_else(|| "Never".to_owned()),
        }
    }
}

#[derive(Template)]
#[template(path = "client_secrets.html")]
struct SecretsPage {
    layout: Layout,
    base: String,
    client_id: String,
    client_name: String,
    /// A service principal's secrets must expire, and its panel leads back to the principals.
    principal: bool,
    secrets: Vec<SecretRow>,
    full: bool,
    max: u64,
    error: Option<String>,
    notice: Option<&'static str>,
    gone: bool,
    created: Option<Created>,
}

/// The choices of the expiry field, in days; `never` is the other, for secure clients only.
const EXPIRY_DAYS: [&str; 5] = ["30", "90", "180", "365", "730"];

/// The expiry a posted `expires` field names: `never` (or nothing) is none, which the store
/// refuses for a service principal's secret (SP6).
pub fn posted_expiry(expires: &str) -> Result<Option<time::OffsetDateTime>, ApiError> {
    match expires {
        "never" | "" => Ok(None),
        days if EXPIRY_DAYS.contains(&days) => {
            let days: i64 = days.parse().unwrap_or_default();
            Ok(Some(time::OffsetDateTime::now_utc() + time::Duration::days(days)))
        }
        _ => Err(ApiError::Invalid(ValidationError::invalid_enum("expires", &EXPIRY_DAYS))),
    }
}

async fn show_secrets(
    state: &AppState,
    ctx: &InCustomer,
    client: &ApiClient,
    status: StatusCode,
    view: View,
) -> Result<Response, ConsoleError> {
    let secrets =
        state.store.client_secrets(&ctx.customer.id, client.id, &ctx.actor()).await.map_err(ApiError::from)?;
    let principal = matches!(client.kind, ClientKind::ServicePrincipal { .. });
    let title = if principal { "Service principal secrets" } else { "API client secrets" };
    let page = SecretsPage {
        layout: ctx.layout(title, Section::ApiAccess),
        base: ctx.base(),
        client_id: client.id.to_string(),
        client_name: client.name.clone(),
        principal,
        full: u64::try_from(secrets.len()).unwrap_or(u64::MAX) >= MAX_SECRETS_PER_CLIENT,
        secrets: secrets.iter().map(|s| SecretRow::of(s, &state.server_keys().ring)).collect(),
        max: MAX_SECRETS_PER_CLIENT,
        error: view.error,
        notice: view.notice,
        gone: view.gone,
        created: view.created,
    };
    Ok(render(status, &page))
}

/// `GET /console/c/{customer}/api-access/{id}/secrets` — with `?created=`, the one view of a new secret.
pub async fn secrets(
    State(state): State<AppState>,
    ctx: InCustomer,
    Path((_, id)): Path<(String, String)>,
    Query(shown): Query<Shown>,
) -> Result<Response, ConsoleError> {
    ctx.require(Permission::API_CLIENTS)?;
    let client = secrets_client(&state, &ctx, &id).await?;
    let notice = match shown.done.as_deref() {
        Some("deleted") => Some(
            "The secret was deleted: it gets no new token from now on. Tokens it already got expire within the hour.",
        ),
        _ => None,
    };
    let (gone, created) = shown.reveal(&state, &ctx);
    let created = created.filter(|c| c.id == client.id.to_string());
    let view = View { name: String::new(), error: None, notice, gone, created };
    show_secrets(&state, &ctx, &client, StatusCode::OK, view).await
}

/// `POST /console/c/{customer}/api-access/{id}/secrets` — adds a secret, holds it for one view,
/// and redirects to it (post/redirect/get), as creating a client does.
pub async fn add_secret(
    State(state): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    Posted { ctx, form }: Posted,
) -> Result<Response, ConsoleError> {
    ctx.require(Permission::API_CLIENTS)?;
    let client = secrets_client(&state, &ctx, &id).await?;
    let expires_at = posted_expiry(form.get("expires"))?;
    let added = actions::clients::add_secret(
        state.store.as_ref(),
        &state.server_key(),
        &ctx.customer.id,
        client.id,
        expires_at,
        &ctx.actor(),
    )
    .await;
    match added {
        Ok((_, secret)) => {
            let revealed =
                Revealed { id: client.id, name: client.name.clone(), secret, access: acts_with(&client, &ctx) };
            let ticket = state.reveals.hold(ctx.session.digest, &ctx.customer.id, revealed);
            Ok(Redirect::to(&format!("{}/api-access/{}/secrets?created={ticket}", ctx.base(), client.id))
                .into_response())
        }
        Err(error @ (ApiError::Invalid(_) | ApiError::Refused { .. })) => {
            let error = ConsoleError::from(error);
            let view = View {
                name: String::new(),
                error: Some(error.message().to_owned()),
                notice: None,
                gone: false,
                created: None,
            };
            show_secrets(&state, &ctx, &client, error.status(), view).await
        }
        Err(other) => Err(other.into()),
    }
}

fn secret_in_path(secret: &str) -> Result<SecretId, ConsoleError> {
    Ok(SecretId::parse(secret).map_err(|_| ApiError::NotFound("secret"))?)
}

/// `GET /console/c/{customer}/api-access/{id}/secrets/{secret}/delete`
pub async fn confirm_delete_secret(
    State(state): State<AppState>,
    ctx: InCustomer,
    Path((_, id, secret)): Path<(String, String, String)>,
) -> Result<Response, ConsoleError> {
    ctx.require(Permission::API_CLIENTS)?;
    let client = secrets_client(&state, &ctx, &id).await?;
    let secret = secret_in_path(&secret)?;
    let held = state.store.client_secrets(&ctx.customer.id, client.id, &ctx.actor()).await.map_err(ApiError::from)?;
    let info = held.iter().find(|s| s.id == secret).ok_or(ApiError::NotFound("secret"))?;
    let back = format!("{}/api-access/{}/secrets", ctx.base(), client.id);
    let heading = format!("Delete the secret {} of “{}”?", info.id, client.name);
    let action = format!("{back}/{}/delete", info.id);
    let confirmation = Confirmation::new(&ctx, Section::ApiAccess, "Delete secret", heading, action, back)
        .line(format!("Last used: {}", info.last_used_at.map(when).unwrap_or_else(|| "Never".to_owned())))
        .warning("Scripts still using this secret can no longer get tokens; tokens it already got keep working until they expire (within the hour). Move your scripts to another secret first.");
    Ok(confirmation.into_response())
}

/// `POST /console/c/{customer}/api-access/{id}/secrets/{secret}/delete`
pub async fn delete_secret(
    State(state): State<AppState>,
    Path((_, id, secret)): Path<(String, String, String)>,
    Posted { ctx, .. }: Posted,
) -> Result<Response, ConsoleError> {
    ctx.require(Permission::API_CLIENTS)?;
    let client = secrets_client(&state, &ctx, &id).await?;
    let secret = secret_in_path(&secret)?;
    state
        .store
        .delete_client_secret(&ctx.customer.id, client.id, secret, &ctx.actor())
        .await
        .map_err(ApiError::from)?;
    Ok(Redirect::to(&format!("{}/api-access/{}/secrets?done=deleted", ctx.base(), client.id)).into_response())
}
