//! SystemLog (`GET /systemlog/records`): every R10 event of the customer, with its actor.
//!
//! Field names are camelCase, as the production clients that read this API expect.

use axum::extract::State;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use trustgate_core::ValidationError;
use trustgate_store::{LogQuery, LogRecord};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::http::body::QueryParams;
use crate::platform::auth::{needs, Authorized};
use crate::platform::shapes::{page_size, parse_rfc3339, rfc3339};
use crate::state::AppState;

const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 200;
const DEFAULT_WINDOW: time::Duration = time::Duration::days(90);

fn continuation_token(seq: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("seq:{seq}"))
}

fn parse_continuation(text: &str) -> Result<i64, ValidationError> {
    URL_SAFE_NO_PAD
        .decode(text.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("seq:").and_then(|n| n.parse().ok()))
        .ok_or_else(|| ValidationError::invalid("ContinuationToken", "not a continuation token from this API"))
}

/// A system-log record, in the field order of Citrix's `SystemLog` API.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    record_id: String,
    #[schema(format = DateTime)]
    utc_timestamp: String,
    customer_id: String,
    event_type: String,
    target_id: String,
    target_display_name: String,
    target_email: Option<String>,
    target_user_id: Option<String>,
    target_type: String,
    before_changes: Option<Value>,
    after_changes: Option<Value>,
    agent_id: Option<String>,
    service_profile_name: Option<String>,
    actor_id: Option<String>,
    actor_display_name: String,
    actor_type: String,
    message: Message,
}

/// The record's message, by language.
#[derive(Serialize, ToSchema)]
pub struct Message {
    #[serde(rename = "en-US")]
    en_us: String,
}

/// A page of records: `items` first, `continuationToken` last.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordList {
    items: Vec<Record>,
    /// Pass as `ContinuationToken` for the next page; null on the last.
    continuation_token: Option<String>,
}

pub(crate) fn record(r: &LogRecord) -> Record {
    let is_admin = r.target_type == "Administrator";
    Record {
        record_id: r.record_id.clone(),
        utc_timestamp: rfc3339(r.at),
        customer_id: r.customer_id.to_string(),
        event_type: r.event_type.clone(),
        target_id: r.target_id.clone(),
        target_display_name: r.target_name.clone(),
        target_email: is_admin.then(|| r.target_name.clone()),
        target_user_id: is_admin.then(|| r.target_id.clone()),
        target_type: r.target_type.clone(),
        before_changes: r.before.clone(),
        after_changes: r.after.clone(),
        agent_id: None,
        service_profile_name: None,
        actor_id: r.actor_id.clone(),
        actor_display_name: r.actor_name.clone(),
        actor_type: r.actor_type.clone(),
        message: Message { en_us: r.message.clone() },
    }
}

/// The customer's system log, oldest first, a page at a time.
#[utoipa::path(
    get,
    path = "/systemlog/records",
    tag = "systemlog",
    params(
        crate::openapi::CustomerHeader,
        ("StartDateTime" = Option<String>, Query, format = DateTime, description = "RFC 3339; default 90 days before EndDateTime"),
        ("EndDateTime" = Option<String>, Query, format = DateTime, description = "RFC 3339; default now"),
        ("Limit" = Option<u32>, Query, minimum = 1, maximum = 200, description = "Page size (default 50)"),
        ("ContinuationToken" = Option<String>, Query, description = "`continuationToken` of the previous page"),
    ),
    responses(
        (status = 200, description = "A page of records", body = RecordList),
        crate::openapi::PlatformErrors,
    ),
    extensions(("x-trustgate-permission" = json!("systemLog")))
)]
pub async fn records(
    State(state): State<AppState>,
    caller: Authorized<needs::SystemLog>,
    query: QueryParams,
) -> Result<axum::Json<RecordList>, ApiError> {
    let now = OffsetDateTime::now_utc();
    let start = query.get("StartDateTime").map(|t| parse_rfc3339("StartDateTime", t)).transpose()?;
    let end = query.get("EndDateTime").map(|t| parse_rfc3339("EndDateTime", t)).transpose()?;
    let end = end.unwrap_or(now + time::Duration::minutes(1));
    let start = start.unwrap_or(end - DEFAULT_WINDOW);
    if start > end {
        return Err(
            ValidationError::out_of_range("StartDateTime", "StartDateTime must not be after EndDateTime").into()
        );
    }
    let limit = page_size("Limit", query.get("Limit").map(str::trim), DEFAULT_LIMIT, MAX_LIMIT)?;
    let after_seq = query.get("ContinuationToken").filter(|t| !t.is_empty()).map(parse_continuation).transpose()?;
    let q = LogQuery { customer_id: caller.customer_id.clone(), start, end, after_seq, limit: limit + 1 };
    let mut rows = state.store.log_records(&q).await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let continuation = if more { rows.last().map(|r| continuation_token(r.seq)) } else { None };
    let items = rows.iter().map(record).collect();
    Ok(axum::Json(RecordList { items, continuation_token: continuation }))
}
