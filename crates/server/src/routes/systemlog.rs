//! SystemLog (`GET /systemlog/records`): every R10 event of the customer, with its actor.
//!
//! Field names are camelCase, as the production clients that read this API expect.

use axum::extract::State;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use time::OffsetDateTime;
use trustgate_core::ValidationError;
use trustgate_store::{LogQuery, LogRecord};

use crate::auth::{needs, Authorized};
use crate::body::QueryParams;
use crate::error::ApiError;
use crate::state::AppState;
use crate::wire::{parse_rfc3339, rfc3339};

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

fn record(r: &LogRecord) -> Value {
    let is_admin = r.target_type == "Administrator";
    json!({
        "recordId": r.record_id,
        "utcTimestamp": rfc3339(r.at),
        "customerId": r.customer_id.as_str(),
        "eventType": r.event_type,
        "targetId": r.target_id,
        "targetDisplayName": r.target_name,
        "targetEmail": if is_admin { Some(&r.target_name) } else { None },
        "targetUserId": if is_admin { Some(&r.target_id) } else { None },
        "targetType": r.target_type,
        "beforeChanges": r.before,
        "afterChanges": r.after,
        "agentId": null,
        "serviceProfileName": null,
        "actorId": r.actor_id,
        "actorDisplayName": r.actor_name,
        "actorType": r.actor_type,
        "message": { "en-US": r.message },
    })
}

/// `GET /systemlog/records?StartDateTime=&EndDateTime=&Limit=&ContinuationToken=`
pub async fn records(
    State(state): State<AppState>,
    caller: Authorized<needs::SystemLog>,
    query: QueryParams,
) -> Result<axum::Json<Value>, ApiError> {
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
    let limit = match query.get("Limit") {
        None => DEFAULT_LIMIT,
        Some(text) => text
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| ValidationError::out_of_range("Limit", format!("Limit must be 1 to {MAX_LIMIT}")))?,
    };
    let after_seq = query.get("ContinuationToken").filter(|t| !t.is_empty()).map(parse_continuation).transpose()?;
    let q = LogQuery { customer_id: caller.customer_id.clone(), start, end, after_seq, limit: limit + 1 };
    let mut rows = state.store.log_records(&q).await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let continuation = if more { rows.last().map(|r| continuation_token(r.seq)) } else { None };
    let items: Vec<Value> = rows.iter().map(record).collect();
    Ok(axum::Json(json!({ "items": items, "continuationToken": continuation })))
}
