//! A customer's webhook endpoints over the management API: a Full administrator subscribes,
//! lists, deletes, rotates the signing secret, reads the attempts and replays. The signing secret
//! is shown once, at creation and at rotation. Who may is decided in the store, in the
//! transaction that acts (`lifecycle::manage_webhooks`).

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use trustgate_core::ids::WebhookId;
use trustgate_core::webhook::{self, Endpoint, EndpointState, Style};
use trustgate_core::ValidationError;
use trustgate_store::WebhookAttempt;
use utoipa::ToSchema;

use crate::error::{ApiError, GatewayError};
use crate::http::body::{Json, PathParams};
use crate::http::webhook_client::{self, UrlRefused};
use crate::platform::auth::needs;
use crate::platform::shapes::rfc3339;
use crate::session::AdminIn;
use crate::state::AppState;

/// An endpoint as the API shows it: never its secret or headers.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookView {
    id: String,
    url: String,
    description: String,
    /// The system-log event types sent; empty: every one.
    event_types: Vec<String>,
    /// `enabled`, or `disabled` after failing for the retry window (enabling it, or a replay, sends again).
    state: &'static str,
    created_by: String,
    #[schema(format = DateTime)]
    created_at: String,
    /// When the current run of failures began; null while deliveries succeed.
    #[schema(format = DateTime)]
    failing_since: Option<String>,
    /// Failed attempts in a row.
    failures: u32,
    #[schema(format = DateTime)]
    next_attempt_at: String,
    /// The `seq` of the last system-log record sent (or passed over).
    delivered_seq: i64,
}

#[derive(Serialize, ToSchema)]
pub struct WebhookList {
    items: Vec<WebhookView>,
}

/// A new endpoint with its signing secret, shown this once.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookCreated {
    #[serde(flatten)]
    endpoint: WebhookView,
    /// `whsec_…`: verifies the `webhook-signature` of every delivery (Standard Webhooks).
    secret: String,
}

pub(crate) fn view(e: &Endpoint) -> WebhookView {
    WebhookView {
        id: e.id.to_string(),
        url: e.url.clone(),
        description: e.description.clone(),
        event_types: e.event_types.clone(),
        state: e.state.as_str(),
        created_by: e.created_by.clone(),
        created_at: rfc3339(e.created_at),
        failing_since: e.failing_since.map(rfc3339),
        failures: e.failures,
        next_attempt_at: rfc3339(e.next_attempt_at),
        delivered_seq: e.delivered_seq,
    }
}

/// Checks an endpoint's URL as deliveries will: its form, and where its host resolves now. A
/// name that does not resolve yet is accepted; each delivery checks again.
pub(crate) async fn check_url(state: &AppState, url: &str) -> Result<String, ApiError> {
    let allow_private = state.config.webhooks_allow_private;
    let refused = |e: UrlRefused| ApiError::from(ValidationError::invalid("url", e.to_string()));
    let target = webhook_client::parse_url(url, allow_private).map_err(refused)?;
    match webhook_client::resolve(&target, allow_private).await {
        Ok(_) | Err(UrlRefused::Unresolved(_)) => Ok(url.trim().to_owned()),
        Err(e) => Err(refused(e)),
    }
}

/// What a new endpoint is made of, from either API's shape.
pub(crate) struct Subscription {
    pub url: String,
    pub description: String,
    pub event_types: Vec<String>,
    pub style: Style,
    pub auth_headers: Vec<(String, String)>,
}

/// Subscribes an endpoint for `caller`'s customer; returns it with its new secret.
pub(crate) async fn subscribe(
    state: &AppState,
    customer_id: &trustgate_core::ids::CustomerId,
    actor: &trustgate_core::event::Actor,
    created_by: String,
    form: Subscription,
) -> Result<(Endpoint, SecretString), ApiError> {
    let id = WebhookId::generate();
    let url = check_url(state, &form.url).await?;
    let secret = webhook::new_secret();
    let keys = state.server_keys();
    let auth_headers = webhook::parse_auth_headers(&form.auth_headers)?;
    let sealed_auth_headers = if auth_headers.is_empty() {
        None
    } else {
        let json = serde_json::to_string(&auth_headers).map_err(|_| ApiError::Internal)?;
        Some(keys.webhook_vault.seal(id, "headers", &SecretString::from(json)))
    };
    let now = OffsetDateTime::now_utc();
    let endpoint = Endpoint {
        id,
        customer_id: customer_id.clone(),
        url,
        description: webhook::parse_description(&form.description)?,
        event_types: webhook::parse_event_types(&form.event_types)?,
        style: form.style,
        sealed_secret: keys.webhook_vault.seal(id, "secret", &secret),
        sealed_previous_secret: None,
        previous_until: None,
        sealed_auth_headers,
        created_by,
        created_at: now,
        state: EndpointState::Enabled,
        failing_since: None,
        next_attempt_at: now,
        failures: 0,
        delivered_seq: 0,
    };
    state.store.create_webhook(&endpoint, actor).await?;
    Ok((endpoint, secret))
}

/// The customer's webhook endpoints.
#[utoipa::path(
    get,
    path = "/api/v1/customers/{customer}/webhooks",
    tag = "management",
    security(("Session" = [])),
    params(crate::openapi::CustomerPath),
    responses(
        (status = 200, description = "The endpoints", body = WebhookList),
        (status = "4XX", description = "Refused: 401 not signed in, 403 not a Full administrator, 404 not a member of the customer", body = GatewayError),
        crate::openapi::StoreUnavailable,
    ),
    extensions(("x-trustgate-permission" = json!("administrators")))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: AdminIn<needs::Administrators>,
) -> Result<axum::Json<WebhookList>, ApiError> {
    let endpoints = state.store.webhooks(&caller.customer_id, &caller.session.actor()).await?;
    Ok(axum::Json(WebhookList { items: endpoints.iter().map(view).collect() }))
}

/// What a Full administrator enters to subscribe an endpoint.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewWebhook {
    /// `https://…`; refused if it resolves to a loopback, link-local or private address.
    #[schema(max_length = 2048)]
    url: String,
    #[serde(default)]
    #[schema(max_length = 256)]
    description: String,
    /// System-log event types such as `platform:apiclient/create`, or `*`; empty or absent: every one.
    #[serde(default)]
    event_types: Vec<String>,
}

/// Subscribes an endpoint to the customer's system log; its signing secret is shown this once.
#[utoipa::path(
    post,
    path = "/api/v1/customers/{customer}/webhooks",
    tag = "management",
    security(("Session" = [])),
    params(crate::openapi::CustomerPath, crate::openapi::CsrfHeader),
    request_body(content = NewWebhook, content_type = "application/json"),
    responses(
        (status = 201, description = "Subscribed; `secret` is not shown again", body = WebhookCreated),
        (status = "4XX", description = "Refused: 400 invalid input or a URL webhooks do not reach, 401 not signed in, 403 not a Full administrator or missing X-CSRF-Token, 404 not a member of the customer, 409 too many endpoints", body = GatewayError),
        crate::openapi::StoreUnavailable,
    ),
    extensions(("x-trustgate-permission" = json!("administrators")))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: AdminIn<needs::Administrators>,
    Json(form): Json<NewWebhook>,
) -> Result<Response, ApiError> {
    let subscription = Subscription {
        url: form.url,
        description: form.description,
        event_types: form.event_types,
        style: Style::Standard,
        auth_headers: Vec::new(),
    };
    let actor = caller.session.actor();
    let created_by = caller.session.admin.email.to_string();
    let (endpoint, secret) = subscribe(&state, &caller.customer_id, &actor, created_by, subscription).await?;
    let created = WebhookCreated { endpoint: view(&endpoint), secret: secret.expose_secret().to_owned() };
    Ok((StatusCode::CREATED, axum::Json(created)).into_response())
}

fn parse_id(id: &str) -> Result<WebhookId, ApiError> {
    WebhookId::parse(id).map_err(|_| ApiError::NotFound("webhook"))
}

/// One endpoint.
#[utoipa::path(
    get,
    path = "/api/v1/customers/{customer}/webhooks/{id}",
    tag = "management",
    security(("Session" = [])),
    params(crate::openapi::CustomerPath, ("id" = String, Path, description = "The endpoint id")),
    responses(
        (status = 200, description = "The endpoint", body = WebhookView),
        (status = "4XX", description = "Refused: 401 not signed in, 403 not a Full administrator, 404 no such endpoint", body = GatewayError),
        crate::openapi::StoreUnavailable,
    ),
    extensions(("x-trustgate-permission" = json!("administrators")))
)]
pub async fn show(
    State(state): State<AppState>,
    caller: AdminIn<needs::Administrators>,
    PathParams((_, id)): PathParams<(String, String)>,
) -> Result<axum::Json<WebhookView>, ApiError> {
    let id = parse_id(&id)?;
    let endpoint = state.store.webhook(&caller.customer_id, id, &caller.session.actor()).await?;
    Ok(axum::Json(view(&endpoint.ok_or(ApiError::NotFound("webhook"))?)))
}

/// Deletes an endpoint and its attempts; nothing more is sent to it.
#[utoipa::path(
    delete,
    path = "/api/v1/customers/{customer}/webhooks/{id}",
    tag = "management",
    security(("Session" = [])),
    params(crate::openapi::CustomerPath, ("id" = String, Path, description = "The endpoint id"), crate::openapi::CsrfHeader),
    responses(
        (status = 204, description = "Deleted"),
        (status = "4XX", description = "Refused: 401 not signed in, 403 not a Full administrator or missing X-CSRF-Token, 404 no such endpoint", body = GatewayError),
        crate::openapi::StoreUnavailable,
    ),
    extensions(("x-trustgate-permission" = json!("administrators")))
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: AdminIn<needs::Administrators>,
    PathParams((_, id)): PathParams<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(&id)?;
    if state.store.delete_webhook(&caller.customer_id, id, &caller.session.actor()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("webhook"))
    }
}

/// The new signing secret, shown this once.
#[derive(Serialize, ToSchema)]
pub struct RotatedSecret {
    /// `whsec_…`; the previous secret signs too for 24 hours, so receivers can switch over.
    secret: String,
}

/// Replaces the signing secret. For 24 hours every delivery carries both signatures.
#[utoipa::path(
    post,
    path = "/api/v1/customers/{customer}/webhooks/{id}/rotate-secret",
    tag = "management",
    security(("Session" = [])),
    params(crate::openapi::CustomerPath, ("id" = String, Path, description = "The endpoint id"), crate::openapi::CsrfHeader),
    responses(
        (status = 200, description = "Rotated; `secret` is not shown again", body = RotatedSecret),
        (status = "4XX", description = "Refused: 401 not signed in, 403 not a Full administrator or missing X-CSRF-Token, 404 no such endpoint", body = GatewayError),
        crate::openapi::StoreUnavailable,
    ),
    extensions(("x-trustgate-permission" = json!("administrators")))
)]
pub async fn rotate_secret(
    State(state): State<AppState>,
    caller: AdminIn<needs::Administrators>,
    PathParams((_, id)): PathParams<(String, String)>,
) -> Result<axum::Json<RotatedSecret>, ApiError> {
    let id = parse_id(&id)?;
    let secret = webhook::new_secret();
    let sealed = state.server_keys().webhook_vault.seal(id, "secret", &secret);
    let now = state.config.clock.now_utc();
    if state.store.rotate_webhook_secret(&caller.customer_id, id, &sealed, now, &caller.session.actor()).await? {
        Ok(axum::Json(RotatedSecret { secret: secret.expose_secret().to_owned() }))
    } else {
        Err(ApiError::NotFound("webhook"))
    }
}

/// One try at delivering one record.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttemptView {
    /// The `webhook-id` sent: the same on every try of the record.
    webhook_id: String,
    record_seq: i64,
    event_type: String,
    #[schema(format = DateTime)]
    at: String,
    /// The receiver's HTTP status; null when it gave none.
    status: Option<u16>,
    error: Option<String>,
    duration_ms: u64,
}

#[derive(Serialize, ToSchema)]
pub struct AttemptList {
    items: Vec<AttemptView>,
}

#[derive(Deserialize)]
pub struct AttemptQuery {
    limit: Option<u32>,
}

fn attempt_view(a: &WebhookAttempt) -> AttemptView {
    AttemptView {
        webhook_id: a.webhook_id.clone(),
        record_seq: a.record_seq,
        event_type: a.event_type.clone(),
        at: rfc3339(a.at),
        status: a.status,
        error: a.error.clone(),
        duration_ms: a.duration_ms,
    }
}

/// The endpoint's latest delivery attempts, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/customers/{customer}/webhooks/{id}/attempts",
    tag = "management",
    security(("Session" = [])),
    params(
        crate::openapi::CustomerPath,
        ("id" = String, Path, description = "The endpoint id"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 200, description = "How many (default 50)"),
    ),
    responses(
        (status = 200, description = "The attempts", body = AttemptList),
        (status = "4XX", description = "Refused: 401 not signed in, 403 not a Full administrator, 404 no such endpoint", body = GatewayError),
        crate::openapi::StoreUnavailable,
    ),
    extensions(("x-trustgate-permission" = json!("administrators")))
)]
pub async fn attempts(
    State(state): State<AppState>,
    caller: AdminIn<needs::Administrators>,
    PathParams((_, id)): PathParams<(String, String)>,
    Query(query): Query<AttemptQuery>,
) -> Result<axum::Json<AttemptList>, ApiError> {
    let id = parse_id(&id)?;
    let limit = query.limit.unwrap_or(50).clamp(1, 200);
    let attempts = state
        .store
        .webhook_attempts(&caller.customer_id, id, limit, &caller.session.actor())
        .await?
        .ok_or(ApiError::NotFound("webhook"))?;
    Ok(axum::Json(AttemptList { items: attempts.iter().map(attempt_view).collect() }))
}

/// Where a replay starts.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Replay {
    /// The `seq` of the customer's system-log record to send again from (as each delivery's `seq`).
    from_seq: i64,
}

/// Sends again every record from `fromSeq` on, with the same `webhook-id`s, and enables a
/// disabled endpoint.
#[utoipa::path(
    post,
    path = "/api/v1/customers/{customer}/webhooks/{id}/replay",
    tag = "management",
    security(("Session" = [])),
    params(crate::openapi::CustomerPath, ("id" = String, Path, description = "The endpoint id"), crate::openapi::CsrfHeader),
    request_body(content = Replay, content_type = "application/json"),
    responses(
        (status = 202, description = "The records will be sent again", body = WebhookView),
        (status = "4XX", description = "Refused: 401 not signed in, 403 not a Full administrator or missing X-CSRF-Token, 404 no such endpoint or record", body = GatewayError),
        crate::openapi::StoreUnavailable,
    ),
    extensions(("x-trustgate-permission" = json!("administrators")))
)]
pub async fn replay(
    State(state): State<AppState>,
    caller: AdminIn<needs::Administrators>,
    PathParams((_, id)): PathParams<(String, String)>,
    Json(form): Json<Replay>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let (actor, now) = (caller.session.actor(), state.config.clock.now_utc());
    if !state.store.replay_webhook(&caller.customer_id, id, form.from_seq, now, &actor).await? {
        return Err(ApiError::NotFound("webhook"));
    }
    let endpoint = state.store.webhook(&caller.customer_id, id, &actor).await?.ok_or(ApiError::NotFound("webhook"))?;
    Ok((StatusCode::ACCEPTED, axum::Json(view(&endpoint))).into_response())
}

/// Enables an endpoint disabled after failing past the retry window, where it stopped: it is
/// sent every record after the last one delivered, the one that failed first. An enabled
/// endpoint is answered as it is.
#[utoipa::path(
    post,
    path = "/api/v1/customers/{customer}/webhooks/{id}/enable",
    tag = "management",
    security(("Session" = [])),
    params(crate::openapi::CustomerPath, ("id" = String, Path, description = "The endpoint id"), crate::openapi::CsrfHeader),
    responses(
        (status = 200, description = "Enabled", body = WebhookView),
        (status = "4XX", description = "Refused: 401 not signed in, 403 not a Full administrator or missing X-CSRF-Token, 404 no such endpoint", body = GatewayError),
        crate::openapi::StoreUnavailable,
    ),
    extensions(("x-trustgate-permission" = json!("administrators")))
)]
pub async fn enable(
    State(state): State<AppState>,
    caller: AdminIn<needs::Administrators>,
    PathParams((_, id)): PathParams<(String, String)>,
) -> Result<axum::Json<WebhookView>, ApiError> {
    let id = parse_id(&id)?;
    let now = state.config.clock.now_utc();
    let endpoint = state.store.enable_webhook(&caller.customer_id, id, now, &caller.session.actor()).await?;
    Ok(axum::Json(view(&endpoint.ok_or(ApiError::NotFound("webhook"))?)))
}
