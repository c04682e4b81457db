//! The Administrators API (`/administrators…`), with Citrix's paths and field names. Changing or
//! removing an administrator here applies R5 and R6 to their API clients.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};
use trustgate_core::admin::{parse_display_name, Email, Provider};
use trustgate_core::ids::AdminId;
use trustgate_core::ValidationError;

use crate::auth::{needs, Authorized};
use crate::body::{Json, QueryParams};
use crate::error::ApiError;
use crate::ops::{self, NewAdmin};
use crate::state::AppState;
use crate::wire::{access_model, administrator_result, parse_access, PolicyIn};

const MAX_PAGE: u32 = 200;
const DEFAULT_PAGE: u32 = 100;

type Caller = Authorized<needs::Administrators>;

/// Accepts a `userId` or a `ucOid` (`OID:/citrix/<userId>`).
fn admin_id(text: &str) -> Result<AdminId, ApiError> {
    let text = text.strip_prefix("OID:/citrix/").unwrap_or(text);
    AdminId::parse(text).map_err(|_| ApiError::NotFound("administrator"))
}

/// `GET /administrators`
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: QueryParams,
) -> Result<axum::Json<Value>, ApiError> {
    let param = |name: &str| query.get(name);
    let limit = match param("maxItemCount") {
        None => DEFAULT_PAGE,
        Some(text) => text.parse::<u32>().ok().filter(|n| (1..=MAX_PAGE).contains(n)).ok_or_else(|| {
            ValidationError::out_of_range("maxItemCount", format!("maxItemCount must be 1 to {MAX_PAGE}"))
        })?,
    };
    let after = param("requestContinuation")
        .filter(|t| !t.is_empty())
        .map(|t| {
            AdminId::parse(t).map_err(|_| ValidationError::invalid("requestContinuation", "not a continuation token"))
        })
        .transpose()?;
    if let Some(id) = param("id") {
        let member = state.store.member(&caller.customer_id, admin_id(id)?).await?;
        let items: Vec<Value> = member.iter().map(|m| administrator_result(&caller.customer_id, m)).collect();
        return Ok(axum::Json(json!({ "items": items, "continuationToken": null })));
    }
    let type_matches = param("type").is_none_or(|t| t.eq_ignore_ascii_case("AdministratorUser"));
    let provider = param("providerType").map(Provider::parse).transpose()?;
    let members =
        if type_matches { state.store.members(&caller.customer_id, after, limit + 1).await? } else { Vec::new() };
    let more = members.len() > limit as usize;
    let page = &members[..members.len().min(limit as usize)];
    let items: Vec<Value> = page
        .iter()
        .filter(|m| provider.is_none_or(|p| m.admin.provider == p))
        .map(|m| administrator_result(&caller.customer_id, m))
        .collect();
    let continuation = if more { page.last().map(|m| m.admin.id.to_string()) } else { None };
    Ok(axum::Json(json!({ "items": items, "continuationToken": continuation })))
}

/// `GET /administrators/{id}/access`
pub async fn get_access(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    let member =
        state.store.member(&caller.customer_id, admin_id(&id)?).await?.ok_or(ApiError::NotFound("administrator"))?;
    Ok(axum::Json(access_model(member.access)))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateAdministrator {
    access_type: String,
    provider_type: String,
    #[serde(rename = "type")]
    kind: String,
    display_name: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
    external_user_id: Option<String>,
    policies: Option<Vec<PolicyIn>>,
}

/// `POST /administrators/$create` — adds an administrator (new, or known by e-mail) to the customer.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(input): Json<CreateAdministrator>,
) -> Result<axum::Json<Value>, ApiError> {
    if !input.kind.eq_ignore_ascii_case("AdministratorUser") {
        return Err(ValidationError::invalid_enum("type", &["AdministratorUser"]).into());
    }
    let access = parse_access(&input.access_type, input.policies.as_deref())?;
    let provider = Provider::parse(&input.provider_type)?;
    let email = Email::parse(input.email.as_deref().unwrap_or_default())?;
    let display_name = match (&input.display_name, &input.first_name, &input.last_name) {
        (Some(name), _, _) => parse_display_name(name)?,
        (None, Some(first), Some(last)) => parse_display_name(&format!("{first} {last}"))?,
        (None, Some(one), None) | (None, None, Some(one)) => parse_display_name(one)?,
        (None, None, None) => email.to_string(),
    };
    let external_id = match input.external_user_id.as_deref().map(str::trim) {
        Some(id) if id.len() > 256 => return Err(ValidationError::too_long("externalUserId", 256).into()),
        Some(id) if !id.is_empty() => Some(id.to_owned()),
        _ => None,
    };
    let new = NewAdmin { email, display_name, provider, external_id };
    let member = ops::add_admin(state.store.as_ref(), &caller.customer_id, new, access, &caller.actor()).await?;
    Ok(axum::Json(administrator_result(&caller.customer_id, &member)))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessModelIn {
    access_type: String,
    policies: Option<Vec<PolicyIn>>,
}

/// `PUT /administrators/access?id={id}` — R5: the admin's clients follow at once.
pub async fn update_access(
    State(state): State<AppState>,
    caller: Caller,
    query: QueryParams,
    Json(input): Json<AccessModelIn>,
) -> Result<axum::Json<Value>, ApiError> {
    let id = admin_id(query.get("id").ok_or_else(|| ValidationError::missing("id"))?)?;
    let access = parse_access(&input.access_type, input.policies.as_deref())?;
    state.store.set_access(&caller.customer_id, id, access, &caller.actor()).await?;
    Ok(axum::Json(access_model(access)))
}

/// `DELETE /administrators/{id}` — R6: the admin's clients in this customer are deleted with them.
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = admin_id(&id)?;
    state.store.remove_member(&caller.customer_id, id, &caller.actor()).await?;
    Ok(StatusCode::OK)
}
