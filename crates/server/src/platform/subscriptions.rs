//! Citrix Cloud's webhook subscription API in its shapes (`webhooks.citrixworkspacesapi.net`), so
//! a script written for Citrix's webhooks works by changing the base URL: an API client whose
//! owner is a Full administrator (or a Full service principal) subscribes, lists and deletes. The
//! callbacks carry Citrix's fields (`CustomerId`, `Type`, `ChangeType`, `TransactionId`,
//! `Identity`, `BeforeChange`, `AfterChange`, `TimeStamp`) and are signed like every delivery
//! (docs/webhooks.md).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use trustgate_core::ids::WebhookId;
use trustgate_core::webhook::{self, Endpoint, Style};
use trustgate_core::ValidationError;
use utoipa::ToSchema;

use crate::error::{ApiError, GatewayError};
use crate::http::body::{Json, PathParams};
use crate::manage::webhooks::{subscribe, Subscription};
use crate::platform::auth::{needs, Authorized};
use crate::state::AppState;

/// A subscription as Citrix's API takes it.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewSubscription {
    /// Must be the customer of the path when given.
    #[serde(default)]
    customer_id: Option<String>,
    #[serde(default)]
    description: String,
    url: String,
    /// Headers added to every callback: `{"Name": "value"}` or `[{"name", "value"}]`.
    #[serde(default)]
    #[schema(value_type = Object)]
    auth_headers: Option<Value>,
    /// `Create`, `Update`, `Delete` or `All`.
    #[serde(default)]
    change_type: String,
    /// `ClientAdministrator` (secure-client events) or `Administrator`.
    event_type: String,
}

/// A subscription as Citrix's API shows it, with the Standard Webhooks secret (shown once, at
/// creation) that signs its callbacks.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionView {
    id: String,
    customer_id: String,
    description: String,
    url: String,
    change_type: String,
    event_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    signing_secret: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SubscriptionList {
    items: Vec<SubscriptionView>,
}

fn view(e: &Endpoint, secret: Option<String>) -> Option<SubscriptionView> {
    let Style::Citrix { event_type, change_type } = &e.style else { return None };
    Some(SubscriptionView {
        id: e.id.to_string(),
        customer_id: e.customer_id.to_string(),
        description: e.description.clone(),
        url: e.url.clone(),
        change_type: change_type.clone(),
        event_type: event_type.clone(),
        signing_secret: secret,
    })
}

fn auth_headers(given: Option<Value>) -> Result<Vec<(String, String)>, ValidationError> {
    let refused =
        || ValidationError::invalid("authHeaders", "authHeaders is {\"Name\": \"value\"} or [{\"name\", \"value\"}]");
    let text = |v: &Value| v.as_str().map(str::to_owned).ok_or_else(refused);
    match given {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(map)) => map.iter().map(|(k, v)| Ok((k.clone(), text(v)?))).collect(),
        Some(Value::Array(list)) => list
            .iter()
            .map(|item| {
                let field = |names: [&str; 2]| names.iter().find_map(|n| item.get(*n)).ok_or_else(refused);
                Ok((text(field(["name", "Name"])?)?, text(field(["value", "Value"])?)?))
            })
            .collect(),
        Some(_) => Err(refused()),
    }
}

/// Subscribes a callback URL to the customer's events, in Citrix's shape.
#[utoipa::path(
    post,
    path = "/{customer}/subscriptions",
    tag = "webhooks",
    params(("customer" = String, Path, description = "The customer the call is for")),
    request_body(content = NewSubscription, content_type = "application/json"),
    responses(
        (status = 201, description = "Subscribed; `signingSecret` is not shown again", body = SubscriptionView),
        (status = "4XX", description = "Refused: 400 invalid input or a URL webhooks do not reach, 401 missing or invalid token, 403 the owner is not a Full administrator, 409 too many endpoints", body = GatewayError),
        crate::openapi::StoreUnavailable,
    ),
    extensions(("x-trustgate-permission" = json!("administrators")))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Authorized<needs::Administrators>,
    Json(form): Json<NewSubscription>,
) -> Result<Response, ApiError> {
    if form.customer_id.as_deref().is_some_and(|c| c.trim() != caller.customer_id.as_str()) {
        return Err(ValidationError::invalid("customerId", "customerId must be the customer of the path").into());
    }
    let change_type = if form.change_type.is_empty() { "All".to_owned() } else { form.change_type };
    let subscription = Subscription {
        event_types: webhook::citrix_event_types(&form.event_type, &change_type)?,
        url: form.url,
        description: form.description,
        style: Style::Citrix { event_type: form.event_type, change_type },
        auth_headers: auth_headers(form.auth_headers)?,
    };
    let actor = caller.actor();
    let created_by = actor.display_name().to_owned();
    let (endpoint, secret) = subscribe(&state, &caller.customer_id, &actor, created_by, subscription).await?;
    let shown = view(&endpoint, Some(secret.expose_secret().to_owned())).ok_or(ApiError::Internal)?;
    Ok((StatusCode::CREATED, axum::Json(shown)).into_response())
}

/// The customer's subscriptions made in Citrix's shape.
#[utoipa::path(
    get,
    path = "/{customer}/subscriptions",
    tag = "webhooks",
    params(("customer" = String, Path, description = "The customer the call is for")),
    responses(
        (status = 200, description = "The subscriptions", body = SubscriptionList),
        (status = "4XX", description = "Refused: 401 missing or invalid token, 403 the owner is not a Full administrator", body = GatewayError),
        crate::openapi::StoreUnavailable,
    ),
    extensions(("x-trustgate-permission" = json!("administrators")))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Authorized<needs::Administrators>,
) -> Result<axum::Json<SubscriptionList>, ApiError> {
    let endpoints = state.store.webhooks(&caller.customer_id, &caller.actor()).await?;
    Ok(axum::Json(SubscriptionList { items: endpoints.iter().filter_map(|e| view(e, None)).collect() }))
}

/// Deletes a subscription.
#[utoipa::path(
    delete,
    path = "/{customer}/subscriptions/{id}",
    tag = "webhooks",
    params(("customer" = String, Path, description = "The customer the call is for"), ("id" = String, Path, description = "The subscription id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = "4XX", description = "Refused: 401 missing or invalid token, 403 the owner is not a Full administrator, 404 no such subscription", body = GatewayError),
        crate::openapi::StoreUnavailable,
    ),
    extensions(("x-trustgate-permission" = json!("administrators")))
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Authorized<needs::Administrators>,
    PathParams((_, id)): PathParams<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id = WebhookId::parse(&id).map_err(|_| ApiError::NotFound("subscription"))?;
    if state.store.delete_webhook(&caller.customer_id, id, &caller.actor()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("subscription"))
    }
}
