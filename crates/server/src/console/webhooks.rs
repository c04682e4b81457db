//! Webhooks (issue #24, docs/webhooks.md): a Full administrator subscribes endpoints to the
//! customer's system log, sees each signing secret once, rotates it, reads the deliveries and
//! their attempts, replays, enables an endpoint disabled after failing, and deletes. The same
//! store calls as the management API (`manage/webhooks.rs`), which the store checks again.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use secrecy::ExposeSecret;
use serde::Deserialize;
use trustgate_core::access::Access;
use trustgate_core::ids::WebhookId;
use trustgate_core::webhook::{self, Endpoint, EndpointState, Style};
use trustgate_store::{StoreError, WebhookAttempt};

use super::confirm::Confirmation;
use super::error::{render, ConsoleError};
use super::extract::{InCustomer, Posted};
use super::layout::{when, when_exactly, Layout, Section};
use crate::cache::shown_once::WebhookSecretShown;
use crate::error::ApiError;
use crate::manage::webhooks::{subscribe, Subscription};
use crate::state::AppState;

/// The event groups the subscribe form offers as checkboxes: prefixes of system-log event types.
/// None ticked: every event, including types added later.
pub const EVENT_GROUPS: &[(&str, &str)] = &[
    ("platform:secureclient/*", "API clients and their secrets"),
    ("platform:serviceprincipal/*", "Service principals"),
    ("delegatedadministration:administrator/*", "Administrators"),
    ("delegatedadministration:invitation/*", "Invitations"),
    ("platform:signin/*", "Console sign-ins"),
    ("platform:token/*", "Refused token requests"),
    ("platform:identityprovider/*", "Identity providers"),
    ("platform:scimtoken/*", "SCIM tokens"),
    ("platform:customer/*", "Customer settings"),
    ("platform:webhook/*", "Webhook endpoints"),
];

/// Attempts the endpoint page reads, newest first, grouped into deliveries.
const ATTEMPTS_SHOWN: u32 = 200;

pub fn require_full(ctx: &InCustomer) -> Result<(), ConsoleError> {
    if ctx.access() == Access::Full {
        return Ok(());
    }
    Err(ConsoleError::page(StatusCode::FORBIDDEN, "Only Full administrators manage webhooks."))
}

pub struct EndpointRow {
    pub id: String,
    pub url: String,
    pub description: String,
    pub events: String,
    pub disabled: bool,
    pub citrix: bool,
    pub created: String,
    pub created_by: String,
    /// `Failing since … (n attempts)`, while deliveries fail.
    pub failing: Option<String>,
    pub next_attempt: String,
    pub delivered_seq: i64,
}

impl From<&Endpoint> for EndpointRow {
    fn from(e: &Endpoint) -> Self {
        let events = if e.event_types.is_empty() {
            "Every event".to_owned()
        } else {
            e.event_types
                .iter()
                .map(|t| EVENT_GROUPS.iter().find(|(p, _)| *p == t.as_str()).map_or(t.as_str(), |(_, label)| *label))
                .collect::<Vec<_>>()
                .join(", ")
        };
        Self {
            id: e.id.to_string(),
            url: e.url.clone(),
            description: e.description.clone(),
            events,
            disabled: e.state == EndpointState::Disabled,
            citrix: matches!(e.style, Style::Citrix { .. }),
            created: when(e.created_at),
            created_by: e.created_by.clone(),
            failing: e.failing_since.map(|since| {
                let tries = if e.failures == 1 {
                    "1 failed attempt".to_owned()
                } else {
                    format!("{} failed attempts", e.failures)
                };
                format!("Failing since {} ({tries})", when(since))
            }),
            next_attempt: when_exactly(e.next_attempt_at),
            delivered_seq: e.delivered_seq,
        }
    }
}

/// The customer's disabled endpoints, for the banner (home and the webhooks tab); none for
/// anyone but a Full administrator.
pub async fn disabled_endpoints(state: &AppState, ctx: &InCustomer) -> Result<Vec<EndpointRow>, ConsoleError> {
    if ctx.access() != Access::Full {
        return Ok(Vec::new());
    }
    let endpoints = state.store.webhooks(&ctx.customer.id, &ctx.actor()).await.map_err(ApiError::from)?;
    Ok(endpoints.iter().filter(|e| e.state == EndpointState::Disabled).map(EndpointRow::from).collect())
}

pub struct GroupChoice {
    pub value: &'static str,
    pub label: &'static str,
    pub checked: bool,
}

/// A new signing secret, for its one view.
pub struct SecretView {
    pub id: String,
    pub url: String,
    pub secret: String,
    pub rotated: bool,
}

#[derive(Deserialize)]
pub struct Shown {
    done: Option<String>,
    /// The ticket of a secret waiting for its one view.
    created: Option<String>,
}

impl Shown {
    /// The secret the ticket holds, taken for its one view; `true` first when the ticket holds
    /// none any more.
    fn reveal(&self, state: &AppState, ctx: &InCustomer) -> (bool, Option<SecretView>) {
        let taken =
            self.created.as_deref().map(|t| state.webhook_secrets.take(t, &ctx.session.digest, &ctx.customer.id));
        match taken {
            Some(None) => (true, None),
            shown => (
                false,
                shown.flatten().map(|s| SecretView {
                    id: s.id.to_string(),
                    url: s.url,
                    secret: s.secret.expose_secret().to_owned(),
                    rotated: s.rotated,
                }),
            ),
        }
    }

    fn notice(&self) -> Option<&'static str> {
        match self.done.as_deref() {
            Some("deleted") => Some("The endpoint was deleted: nothing more is sent to it."),
            Some("replayed") => Some("The records will be sent again, from the one chosen on, with their webhook-ids."),
            Some("enabled") => Some("The endpoint is enabled: it is sent every record after the last one it received."),
            _ => None,
        }
    }
}

#[derive(Template)]
#[template(path = "webhooks.html")]
struct WebhooksPage {
    layout: Layout,
    base: String,
    endpoints: Vec<EndpointRow>,
    disabled: Vec<EndpointRow>,
    /// The customer holds as many endpoints as it may.
    full: bool,
    max: u64,
    groups: Vec<GroupChoice>,
    url: String,
    description: String,
    error: Option<String>,
    notice: Option<&'static str>,
    gone: bool,
    created: Option<SecretView>,
}

/// What the subscribe form shows besides the list: what was entered, and why it was refused.
#[derive(Default)]
struct Form {
    url: String,
    description: String,
    event_types: Vec<String>,
    error: Option<String>,
}

async fn list_page(
    state: &AppState,
    ctx: &InCustomer,
    status: StatusCode,
    form: Form,
    shown: (Option<&'static str>, bool, Option<SecretView>),
) -> Result<Response, ConsoleError> {
    let endpoints = state.store.webhooks(&ctx.customer.id, &ctx.actor()).await.map_err(ApiError::from)?;
    let (notice, gone, created) = shown;
    let page = WebhooksPage {
        layout: ctx.layout("Webhooks", Section::Webhooks),
        base: ctx.base(),
        disabled: endpoints.iter().filter(|e| e.state == EndpointState::Disabled).map(EndpointRow::from).collect(),
        endpoints: endpoints.iter().map(EndpointRow::from).collect(),
        full: u64::try_from(endpoints.len()).unwrap_or(u64::MAX) >= webhook::MAX_ENDPOINTS_PER_CUSTOMER,
        max: webhook::MAX_ENDPOINTS_PER_CUSTOMER,
        groups: EVENT_GROUPS
            .iter()
            .map(|(value, label)| GroupChoice { value, label, checked: form.event_types.iter().any(|t| t == value) })
            .collect(),
        url: form.url,
        description: form.description,
        error: form.error,
        notice,
        gone,
        created,
    };
    Ok(render(status, &page))
}

/// `GET /console/c/{customer}/webhooks` — with `?created=`, the one view of a new secret.
pub async fn list(
    State(state): State<AppState>,
    ctx: InCustomer,
    Query(shown): Query<Shown>,
) -> Result<Response, ConsoleError> {
    require_full(&ctx)?;
    let (gone, created) = shown.reveal(&state, &ctx);
    list_page(&state, &ctx, StatusCode::OK, Form::default(), (shown.notice(), gone, created)).await
}

/// Holds a new secret for its one view and redirects to `page` with its ticket
/// (post/redirect/get), so a reload never subscribes or rotates again.
fn show_once(state: &AppState, ctx: &InCustomer, shown: WebhookSecretShown, page: &str) -> Response {
    let ticket = state.webhook_secrets.hold(ctx.session.digest, &ctx.customer.id, shown);
    Redirect::to(&format!("{page}?created={ticket}")).into_response()
}

/// `POST /console/c/{customer}/webhooks`
pub async fn create(State(state): State<AppState>, Posted { ctx, form }: Posted) -> Result<Response, ConsoleError> {
    require_full(&ctx)?;
    let subscription = Subscription {
        url: form.get("url").to_owned(),
        description: form.get("description").to_owned(),
        event_types: form.all("event_type").map(str::to_owned).collect(),
        style: Style::Standard,
        auth_headers: Vec::new(),
    };
    let entered = Form {
        url: subscription.url.clone(),
        description: subscription.description.clone(),
        event_types: subscription.event_types.clone(),
        error: None,
    };
    let created_by = ctx.session.admin.email.to_string();
    match subscribe(&state, &ctx.customer.id, &ctx.actor(), created_by, subscription).await {
        Ok((endpoint, secret)) => {
            let shown = WebhookSecretShown { id: endpoint.id, url: endpoint.url, secret, rotated: false };
            Ok(show_once(&state, &ctx, shown, &format!("{}/webhooks", ctx.base())))
        }
        Err(error @ (ApiError::Invalid(_) | ApiError::Refused { .. })) => {
            let error = ConsoleError::from(error);
            let form = Form { error: Some(error.message().to_owned()), ..entered };
            list_page(&state, &ctx, error.status(), form, (None, false, None)).await
        }
        Err(other) => Err(other.into()),
    }
}

pub struct AttemptRow {
    pub at: String,
    /// The receiver's status, or what went wrong when it gave none.
    pub outcome: String,
    pub ok: bool,
    pub duration: String,
}

/// One record sent to the endpoint, with every try of it shown.
pub struct DeliveryRow {
    pub webhook_id: String,
    pub record_seq: i64,
    pub event_type: String,
    pub delivered: bool,
    pub attempts: Vec<AttemptRow>,
}

impl DeliveryRow {
    pub fn tries(&self) -> String {
        super::layout::count(u64::try_from(self.attempts.len()).unwrap_or(u64::MAX), "attempt", "attempts")
    }
}

/// Attempts, newest first, grouped by the record they sent (its `webhook-id`), newest first.
fn deliveries(attempts: &[WebhookAttempt]) -> Vec<DeliveryRow> {
    let mut rows: Vec<DeliveryRow> = Vec::new();
    for a in attempts {
        let ok = a.status.is_some_and(|s| (200..300).contains(&s));
        let attempt = AttemptRow {
            at: when_exactly(a.at),
            outcome: match (a.status, &a.error) {
                (Some(status), _) => format!("HTTP {status}"),
                (None, Some(error)) => error.clone(),
                (None, None) => "No answer".to_owned(),
            },
            ok,
            duration: format!("{} ms", a.duration_ms),
        };
        match rows.iter_mut().find(|d| d.webhook_id == a.webhook_id) {
            Some(delivery) => {
                delivery.delivered |= ok;
                delivery.attempts.push(attempt);
            }
            None => rows.push(DeliveryRow {
                webhook_id: a.webhook_id.clone(),
                record_seq: a.record_seq,
                event_type: a.event_type.clone(),
                delivered: ok,
                attempts: vec![attempt],
            }),
        }
    }
    rows
}

#[derive(Template)]
#[template(path = "webhook.html")]
struct EndpointPage {
    layout: Layout,
    base: String,
    endpoint: EndpointRow,
    deliveries: Vec<DeliveryRow>,
    shown: u32,
    error: Option<String>,
    notice: Option<&'static str>,
    gone: bool,
    created: Option<SecretView>,
}

fn parse_id(id: &str) -> Result<WebhookId, ConsoleError> {
    Ok(WebhookId::parse(id).map_err(|_| ApiError::NotFound("webhook"))?)
}

async fn endpoint_page(
    state: &AppState,
    ctx: &InCustomer,
    id: WebhookId,
    status: StatusCode,
    error: Option<String>,
    shown: (Option<&'static str>, bool, Option<SecretView>),
) -> Result<Response, ConsoleError> {
    let actor = ctx.actor();
    let endpoint = state.store.webhook(&ctx.customer.id, id, &actor).await.map_err(ApiError::from)?;
    let endpoint = endpoint.ok_or(ApiError::NotFound("webhook"))?;
    let attempts = state
        .store
        .webhook_attempts(&ctx.customer.id, id, ATTEMPTS_SHOWN, &actor)
        .await
        .map_err(ApiError::from)?
        .unwrap_or_default();
    let (notice, gone, created) = shown;
    let page = EndpointPage {
        layout: ctx.layout("Webhook endpoint", Section::Webhooks),
        base: ctx.base(),
        endpoint: EndpointRow::from(&endpoint),
        deliveries: deliveries(&attempts),
        shown: ATTEMPTS_SHOWN,
        error,
        notice,
        gone,
        created: created.filter(|c| c.id == endpoint.id.to_string()),
    };
    Ok(render(status, &page))
}

/// `GET /console/c/{customer}/webhooks/{id}` — with `?created=`, the one view of a rotated secret.
pub async fn show(
    State(state): State<AppState>,
    ctx: InCustomer,
    Path((_, id)): Path<(String, String)>,
    Query(shown): Query<Shown>,
) -> Result<Response, ConsoleError> {
    require_full(&ctx)?;
    let id = parse_id(&id)?;
    let (gone, created) = shown.reveal(&state, &ctx);
    endpoint_page(&state, &ctx, id, StatusCode::OK, None, (shown.notice(), gone, created)).await
}

/// `POST /console/c/{customer}/webhooks/{id}/rotate-secret`
pub async fn rotate_secret(
    State(state): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    Posted { ctx, .. }: Posted,
) -> Result<Response, ConsoleError> {
    require_full(&ctx)?;
    let id = parse_id(&id)?;
    let actor = ctx.actor();
    let endpoint = state.store.webhook(&ctx.customer.id, id, &actor).await.map_err(ApiError::from)?;
    let endpoint = endpoint.ok_or(ApiError::NotFound("webhook"))?;
    let secret = webhook::new_secret();
    let sealed = state.server_keys().webhook_vault.seal(id, "secret", &secret);
    let now = state.config.clock.now_utc();
    let rotated =
        state.store.rotate_webhook_secret(&ctx.customer.id, id, &sealed, now, &actor).await.map_err(ApiError::from)?;
    ApiError::unless_found(rotated, "webhook")?;
    let shown = WebhookSecretShown { id, url: endpoint.url, secret, rotated: true };
    Ok(show_once(&state, &ctx, shown, &format!("{}/webhooks/{id}", ctx.base())))
}

/// `POST /console/c/{customer}/webhooks/{id}/replay` — `from_seq`: the record to send again
/// from, with every later one.
pub async fn replay(
    State(state): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    Posted { ctx, form }: Posted,
) -> Result<Response, ConsoleError> {
    require_full(&ctx)?;
    let id = parse_id(&id)?;
    let Ok(from_seq) = form.get("from_seq").parse::<i64>() else {
        let error = "Choose a delivery to replay.".to_owned();
        return endpoint_page(&state, &ctx, id, StatusCode::BAD_REQUEST, Some(error), (None, false, None)).await;
    };
    let now = state.config.clock.now_utc();
    match state.store.replay_webhook(&ctx.customer.id, id, from_seq, now, &ctx.actor()).await {
        Ok(true) => Ok(Redirect::to(&format!("{}/webhooks/{id}?done=replayed", ctx.base())).into_response()),
        Ok(false) => Err(ApiError::NotFound("webhook").into()),
        Err(StoreError::NotFound(_)) => {
            let error = format!(
                "Record {from_seq} is no longer in the system log (past its retention): it cannot be sent again."
            );
            endpoint_page(&state, &ctx, id, StatusCode::NOT_FOUND, Some(error), (None, false, None)).await
        }
        Err(other) => Err(ApiError::from(other).into()),
    }
}

/// `POST /console/c/{customer}/webhooks/{id}/enable` — `back`: `list` returns to the list
/// (the banner's button), anything else to the endpoint.
pub async fn enable(
    State(state): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    Posted { ctx, form }: Posted,
) -> Result<Response, ConsoleError> {
    require_full(&ctx)?;
    let id = parse_id(&id)?;
    let now = state.config.clock.now_utc();
    let enabled = state.store.enable_webhook(&ctx.customer.id, id, now, &ctx.actor()).await.map_err(ApiError::from)?;
    enabled.ok_or(ApiError::NotFound("webhook"))?;
    let page = if form.get("back") == "list" { "/webhooks".to_owned() } else { format!("/webhooks/{id}") };
    Ok(Redirect::to(&format!("{}{page}?done=enabled", ctx.base())).into_response())
}

/// `GET /console/c/{customer}/webhooks/{id}/delete`
pub async fn confirm_delete(
    State(state): State<AppState>,
    ctx: InCustomer,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ConsoleError> {
    require_full(&ctx)?;
    let id = parse_id(&id)?;
    let endpoint = state.store.webhook(&ctx.customer.id, id, &ctx.actor()).await.map_err(ApiError::from)?;
    let endpoint = endpoint.ok_or(ApiError::NotFound("webhook"))?;
    let list = format!("{}/webhooks", ctx.base());
    let action = format!("{list}/{id}/delete");
    let heading = format!("Delete the webhook endpoint {}?", endpoint.url);
    let mut confirmation = Confirmation::new(&ctx, Section::Webhooks, "Delete endpoint", heading, action, list)
        .line(format!("ID: {id}"))
        .warning("Nothing more is sent to it, and its delivery attempts are deleted with it. This cannot be undone.");
    if !endpoint.description.is_empty() {
        confirmation = confirmation.line(format!("Description: {}", endpoint.description));
    }
    Ok(confirmation.into_response())
}

/// `POST /console/c/{customer}/webhooks/{id}/delete`
pub async fn delete(
    State(state): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    Posted { ctx, .. }: Posted,
) -> Result<Response, ConsoleError> {
    require_full(&ctx)?;
    let id = parse_id(&id)?;
    let deleted = state.store.delete_webhook(&ctx.customer.id, id, &ctx.actor()).await.map_err(ApiError::from)?;
    ApiError::unless_found(deleted, "webhook")?;
    Ok(Redirect::to(&format!("{}/webhooks?done=deleted", ctx.base())).into_response())
}
