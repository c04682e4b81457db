//! Notifications (`/notifications/items`, or `/{customer}/notifications/items` on the legacy
//! host): the canonical "restricted right" of Citrix's documentation.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use time::OffsetDateTime;
use trustgate_core::admin::Email;
use trustgate_core::ids::random_uuid;
use trustgate_core::ValidationError;
use trustgate_store::Notification;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::auth::{needs, Authorized};
use crate::body::Json;
use crate::error::ApiError;
use crate::state::AppState;
use crate::wire::rfc3339;

const SEVERITIES: [&str; 5] = ["Information", "Success", "Warning", "Error", "Critical"];
const PRIORITIES: [&str; 4] = ["Normal", "Low", "High", "Urgent"];
const MAX_CONTENT: usize = 20;
const LIST_LIMIT: u32 = 100;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationIn {
    destination_admin: Option<String>,
    component: Option<String>,
    created_date: Option<String>,
    event_id: Option<String>,
    severity: Option<String>,
    priority: Option<String>,
    content: Option<Vec<ContentIn>>,
    categories: Option<Value>,
    data: Option<Value>,
    external_id: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentIn {
    language_tag: Option<String>,
    title: Option<String>,
    description: Option<String>,
    detail_uri: Option<String>,
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
fn normalise(input: NotificationIn) -> Result<Value, ValidationError> {
    let destination = match bounded("destinationAdmin", input.destination_admin.as_deref(), Email::MAX_LEN, false)? {
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
            Ok(json!({
                "languageTag": bounded("languageTag", c.language_tag.as_deref(), 35, false)?.unwrap_or_else(|| "en-US".to_owned()),
                "title": bounded("title", c.title.as_deref(), 500, true)?,
                "description": bounded("description", c.description.as_deref(), 10_000, false)?.unwrap_or_default(),
                "detailUri": bounded("detailUri", c.detail_uri.as_deref(), 2048, false)?,
            }))
        })
        .collect::<Result<Vec<_>, ValidationError>>()?;
    let size_of = |v: &Option<Value>| v.as_ref().map(|v| v.to_string().len()).unwrap_or(0);
    if size_of(&input.data) + size_of(&input.categories) > 16 * 1024 {
        return Err(ValidationError::too_long("data", 16 * 1024));
    }
    Ok(json!({
        "destinationAdmin": destination,
        "component": bounded("component", input.component.as_deref(), 200, true)?,
        "createdDate": bounded("createdDate", input.created_date.as_deref(), 64, false)?
            .unwrap_or_else(|| rfc3339(OffsetDateTime::now_utc())),
        "categories": input.categories,
        "severity": one_of("severity", input.severity.as_deref(), &SEVERITIES)?,
        "eventId": bounded("eventId", input.event_id.as_deref(), 64, false)?.unwrap_or_else(random_uuid),
        "priority": one_of("priority", input.priority.as_deref(), &PRIORITIES)?,
        "content": content,
        "data": input.data,
        "externalId": bounded("externalId", input.external_id.as_deref(), 256, false)?,
    }))
}

/// `POST /notifications/items`
pub async fn create(
    State(state): State<AppState>,
    caller: Authorized<needs::Notifications>,
    Json(input): Json<NotificationIn>,
) -> Result<axum::Json<Value>, ApiError> {
    let body = normalise(input)?;
    let notification = Notification {
        id: random_uuid(),
        customer_id: caller.customer_id.clone(),
        destination_admin: body["destinationAdmin"].as_str().unwrap_or("*").to_owned(),
        body: body.clone(),
        created_at: OffsetDateTime::now_utc(),
    };
    state.store.add_notification(&notification).await?;
    Ok(axum::Json(body))
}

/// `GET /notifications/items` — the newest first, served from the list cache when it can be.
pub async fn list(
    State(state): State<AppState>,
    caller: Authorized<needs::Notifications>,
) -> Result<Response, ApiError> {
    let body = match state.notifications.get(&caller.customer_id) {
        Some(body) => body,
        None => {
            let epoch = state.notifications.epoch();
            let items: Vec<Value> =
                state.store.notifications(&caller.customer_id, LIST_LIMIT).await?.into_iter().map(|n| n.body).collect();
            let body = Bytes::from(serde_json::to_vec(&json!({ "items": items })).map_err(|_| ApiError::Internal)?);
            state.notifications.insert(epoch, &caller.customer_id, body.clone());
            body
        }
    };
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}
