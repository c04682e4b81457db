//! Notifications (`/notifications/items`, or `/{customer}/notifications/items` on the legacy
//! host): the canonical "restricted right" of Citrix's documentation.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use trustgate_core::admin::Email;
use trustgate_core::ids::random_uuid;
use trustgate_core::ValidationError;
use trustgate_store::Notification;
use utoipa::ToSchema;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::http::body::Json;
use crate::platform::auth::{needs, Authorized};
use crate::platform::shapes::rfc3339;
use crate::state::AppState;

const SEVERITIES: [&str; 5] = ["Information", "Success", "Warning", "Error", "Critical"];
const PRIORITIES: [&str; 4] = ["Normal", "Low", "High", "Urgent"];
const MAX_CONTENT: usize = 20;
const LIST_LIMIT: u32 = 100;

/// A notification to send.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationIn {
    /// An administrator's e-mail, or `*` (the default) for every administrator.
    destination_admin: Option<String>,
    #[schema(required = true, max_length = 200)]
    component: Option<String>,
    /// Defaults to now.
    created_date: Option<String>,
    /// Defaults to a random UUID.
    event_id: Option<String>,
    /// `Information` (the default), `Success`, `Warning`, `Error` or `Critical`.
    severity: Option<String>,
    /// `Normal` (the default), `Low`, `High` or `Urgent`.
    priority: Option<String>,
    /// One entry per language, 1 to 20.
    #[schema(required = true, min_items = 1, max_items = 20)]
    content: Option<Vec<ContentIn>>,
    categories: Option<Value>,
    data: Option<Value>,
    external_id: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContentIn {
    /// Defaults to `en-US`.
    language_tag: Option<String>,
    #[schema(required = true, max_length = 500)]
    title: Option<String>,
    description: Option<String>,
    detail_uri: Option<String>,
}

// Stored as JSON and read back into this type, so the list answers in Citrix's field order
// as the echo does (a `Value` would sort the keys).
/// A notification, as Citrix echoes it back and lists it.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationOut {
    /// An administrator's e-mail, or `*`.
    destination_admin: String,
    component: String,
    created_date: String,
    categories: Option<Value>,
    /// `Information`, `Success`, `Warning`, `Error` or `Critical`.
    severity: String,
    event_id: String,
    /// `Normal`, `Low`, `High` or `Urgent`.
    priority: String,
    content: Vec<ContentOut>,
    data: Option<Value>,
    external_id: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContentOut {
    language_tag: String,
    title: String,
    description: String,
    detail_uri: Option<String>,
}

/// A notification Trustgate itself sends to one administrator, stored as the API stores those it
/// is sent, so it lists alike.
pub(crate) fn from_trustgate(
    customer: &trustgate_core::ids::CustomerId,
    destination_admin: &str,
    severity: &'static str,
    title: String,
    description: String,
    data: Value,
    at: OffsetDateTime,
) -> Result<Notification, ApiError> {
    let body = NotificationOut {
        destination_admin: destination_admin.to_owned(),
        component: "Trustgate".to_owned(),
        created_date: rfc3339(at),
        categories: None,
        severity: severity.to_owned(),
        event_id: random_uuid(),
        priority: "High".to_owned(),
        content: vec![ContentOut { language_tag: "en-US".to_owned(), title, description, detail_uri: None }],
        data: Some(data),
        external_id: None,
    };
    Ok(Notification {
        id: random_uuid(),
        customer_id: customer.clone(),
        destination_admin: body.destination_admin.clone(),
        body: serde_json::to_value(&body).map_err(|_| ApiError::Internal)?,
        created_at: at,
    })
}

/// The notifications of the customer, newest first.
#[derive(Serialize, ToSchema)]
pub struct NotificationList {
    items: Vec<NotificationOut>,
}

fn bounded(
    field: &'static str,
    value: Option<&str>,
    max: usize,
    required: bool,
) -> Result<Option<String>, ValidationError> {
    match value.map(str::trim) {
        None | Some("") if required => Err(ValidationError::missing(field)),
        None | Some("") => Ok(None),
        Some(v) if v.chars().count() > max => Err(ValidationError::too_long(field, max)),
        // Text is shown to administrators and stored as text: a NUL or another control character
        // (line breaks and tabs aside) is refused, never stored (issue #20).
        Some(v) if v.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) => {
            Err(ValidationError::invalid(field, format!("{field} must not contain control characters")))
        }
        Some(v) => Ok(Some(v.to_owned())),
    }
}

fn one_of(field: &'static str, value: Option<&str>, allowed: &[&'static str]) -> Result<&'static str, ValidationError> {
    match value {
        None => Ok(allowed[0]),
        Some(v) => allowed
            .iter()
            .find(|a| a.eq_ignore_ascii_case(v.trim()))
            .copied()
            .ok_or_else(|| ValidationError::invalid_enum(field, allowed)),
    }
}

/// Validates a notification and renders it as Citrix echoes it back.
fn normalise(input: NotificationIn) -> Result<NotificationOut, ValidationError> {
    let destination_admin =
        match bounded("destinationAdmin", input.destination_admin.as_deref(), Email::MAX_LEN, false)? {
            None => "*".to_owned(),
            Some(star) if star == "*" => star,
            Some(email) => Email::parse(&email)?.to_string(),
        };
    let content = input.content.unwrap_or_default();
    if content.is_empty() {
        return Err(ValidationError::missing("content"));
    }
    if content.len() > MAX_CONTENT {
        return Err(ValidationError::out_of_range("content", format!("content holds at most {MAX_CONTENT} languages")));
    }
    let content = content
        .iter()
        .map(|c| {
            Ok(ContentOut {
                language_tag: bounded("languageTag", c.language_tag.as_deref(), 35, false)?
                    .unwrap_or_else(|| "en-US".to_owned()),
                title: bounded("title", c.title.as_deref(), 500, true)?.unwrap_or_default(),
                description: bounded("description", c.description.as_deref(), 10_000, false)?.unwrap_or_default(),
                detail_uri: bounded("detailUri", c.detail_uri.as_deref(), 2048, false)?,
            })
        })
        .collect::<Result<Vec<_>, ValidationError>>()?;
    let size_of = |v: &Option<Value>| v.as_ref().map(|v| v.to_string().len()).unwrap_or(0);
    if size_of(&input.data) + size_of(&input.categories) > 16 * 1024 {
        return Err(ValidationError::too_long("data", 16 * 1024));
    }
    Ok(NotificationOut {
        destination_admin,
        component: bounded("component", input.component.as_deref(), 200, true)?.unwrap_or_default(),
        created_date: bounded("createdDate", input.created_date.as_deref(), 64, false)?
            .unwrap_or_else(|| rfc3339(OffsetDateTime::now_utc())),
        categories: input.categories,
        severity: one_of("severity", input.severity.as_deref(), &SEVERITIES)?.to_owned(),
        event_id: bounded("eventId", input.event_id.as_deref(), 64, false)?.unwrap_or_else(random_uuid),
        priority: one_of("priority", input.priority.as_deref(), &PRIORITIES)?.to_owned(),
        content,
        data: input.data,
        external_id: bounded("externalId", input.external_id.as_deref(), 256, false)?,
    })
}

/// Sends a notification to the customer's administrators.
#[utoipa::path(
    post,
    path = "/notifications/items",
    tag = "notifications",
    params(crate::openapi::CustomerHeader),
    request_body(content = NotificationIn, content_type = "application/json"),
    responses(
        (status = 200, description = "The notification, as stored", body = NotificationOut),
        crate::openapi::PlatformErrors,
    ),
    extensions(("x-trustgate-permission" = json!("notifications")))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Authorized<needs::Notifications>,
    Json(input): Json<NotificationIn>,
) -> Result<axum::Json<NotificationOut>, ApiError> {
    let body = normalise(input)?;
    let notification = Notification {
        id: random_uuid(),
        customer_id: caller.customer_id.clone(),
        destination_admin: body.destination_admin.clone(),
        body: serde_json::to_value(&body).map_err(|_| ApiError::Internal)?,
        created_at: OffsetDateTime::now_utc(),
    };
    state.store.add_notification(&notification).await?;
    Ok(axum::Json(body))
}

/// Sends a notification (legacy host style: the customer in the path).
#[utoipa::path(
    post,
    path = "/{customer}/notifications/items",
    tag = "notifications",
    params(("customer" = String, Path, description = "The customer the call is for")),
    request_body(content = NotificationIn, content_type = "application/json"),
    responses(
        (status = 200, description = "The notification, as stored", body = NotificationOut),
        crate::openapi::PlatformErrors,
    ),
    extensions(("x-trustgate-permission" = json!("notifications")))
)]
pub async fn create_in_path(
    state: State<AppState>,
    caller: Authorized<needs::Notifications>,
    input: Json<NotificationIn>,
) -> Result<axum::Json<NotificationOut>, ApiError> {
    create(state, caller, input).await
}

/// The customer's notifications, newest first, served from the list cache when it can be.
#[utoipa::path(
    get,
    path = "/notifications/items",
    tag = "notifications",
    params(crate::openapi::CustomerHeader),
    responses(
        (status = 200, description = "The newest notifications", body = NotificationList),
        crate::openapi::PlatformErrors,
    ),
    extensions(("x-trustgate-permission" = json!("notifications")))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Authorized<needs::Notifications>,
) -> Result<Response, ApiError> {
    let cached = state.notifications.get(&caller.customer_id);
    state.metrics.notification_lists.hit_or_miss(cached.is_some());
    let body = match cached {
        Some(body) => body,
        None => {
            let epoch = state.notifications.epoch();
            let items = state
                .store
                .notifications(&caller.customer_id, LIST_LIMIT)
                .await?
                .into_iter()
                .map(|n| serde_json::from_value(n.body))
                .collect::<Result<Vec<NotificationOut>, _>>()
                .map_err(|_| ApiError::Internal)?;
            let body = Bytes::from(serde_json::to_vec(&NotificationList { items }).map_err(|_| ApiError::Internal)?);
            state.notifications.insert(epoch, &caller.customer_id, body.clone());
            body
        }
    };
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// The customer's notifications (legacy host style: the customer in the path).
#[utoipa::path(
    get,
    path = "/{customer}/notifications/items",
    tag = "notifications",
    params(("customer" = String, Path, description = "The customer the call is for")),
    responses(
        (status = 200, description = "The newest notifications", body = NotificationList),
        crate::openapi::PlatformErrors,
    ),
    extensions(("x-trustgate-permission" = json!("notifications")))
)]
pub async fn list_in_path(
    state: State<AppState>,
    caller: Authorized<needs::Notifications>,
) -> Result<Response, ApiError> {
    list(state, caller).await
}
