//! A SCIM 2.0 service provider per customer (RFC 7643/7644) at `/scim/v2/{customerId}/…`, through
//! which the customer's identity provider creates, disables, enables and removes administrators.
//! What it does drives the rules: `active: false` disables (R7), `DELETE` removes from the
//! customer (R6). Groups (`groups.rs`) say who holds a group's access (issue #25).

mod auth;
mod discovery;
mod error;
mod filter;
mod groups;
mod patch;
mod resource;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use serde_json::{json, Value};
use time::OffsetDateTime;
use trustgate_core::admin::{Admin, AdminStatus};
use trustgate_core::ids::AdminId;
use trustgate_store::{ScimFilter, ScimUser};

use crate::http::body::{media_type, PathParams, QueryParams};
use crate::state::AppState;
use auth::Provisioner;
pub use error::ScimError;
use error::MEDIA_TYPE;
use resource::Projection;

/// Largest page of Users one request returns (`filter.maxResults`).
pub const MAX_PAGE: u32 = 100;

pub fn router() -> Router<AppState> {
    const BASE: &str = "/scim/v2/{customer}";
    let at = |path: &str| format!("{BASE}{path}");
    let anything = || any(not_found);
    Router::new()
        .route(&at("/ServiceProviderConfig"), get(service_provider_config).fallback(method_not_allowed))
        .route(&at("/ResourceTypes"), get(resource_types).fallback(method_not_allowed))
        .route(&at("/ResourceTypes/{name}"), get(resource_type).fallback(method_not_allowed))
        .route(&at("/Schemas"), get(schemas).fallback(method_not_allowed))
        .route(&at("/Schemas/{id}"), get(schema).fallback(method_not_allowed))
        .route(&at("/Users"), get(list_users).post(create_user).fallback(method_not_allowed))
        .route(&at("/Users/.search"), post(search_users).fallback(method_not_allowed))
        .route(&at("/.search"), post(search_all).fallback(method_not_allowed))
        .route(
            &at("/Users/{id}"),
            get(get_user).put(replace_user).patch(patch_user).delete(delete_user).fallback(method_not_allowed),
        )
        .route(&at("/Groups"), get(groups::list).post(groups::create).fallback(method_not_allowed))
        .route(&at("/Groups/.search"), post(groups::search).fallback(method_not_allowed))
        .route(
            &at("/Groups/{id}"),
            get(groups::get)
                .put(groups::replace)
                .patch(groups::patch)
                .delete(groups::delete)
                .fallback(method_not_allowed),
        )
        .route(&at("/Bulk"), post(bulk).fallback(method_not_allowed))
        .route(BASE, anything())
        .route(&at("/{*rest}"), anything())
}

/// A SCIM response: the body as `application/scim+json`.
fn scim(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
    response
}

fn base(state: &AppState, provisioner: &Provisioner) -> String {
    format!("{}/scim/v2/{}", state.config.issuer.url.trim_end_matches('/'), provisioner.customer())
}

async fn service_provider_config(State(state): State<AppState>, p: Provisioner) -> Response {
    scim(StatusCode::OK, &discovery::service_provider_config(&base(&state, &p)))
}

async fn resource_types(State(state): State<AppState>, p: Provisioner) -> Response {
    let base = base(&state, &p);
    scim(
        StatusCode::OK,
        &discovery::list(vec![discovery::user_resource_type(&base), discovery::group_resource_type(&base)]),
    )
}

async fn resource_type(
    State(state): State<AppState>,
    p: Provisioner,
    PathParams((_, name)): PathParams<(String, String)>,
) -> Result<Response, ScimError> {
    match name.as_str() {
        "User" => Ok(scim(StatusCode::OK, &discovery::user_resource_type(&base(&state, &p)))),
        "Group" => Ok(scim(StatusCode::OK, &discovery::group_resource_type(&base(&state, &p)))),
        _ => Err(ScimError::not_found(format!("no resource type {name}; this service provider offers User and Group"))),
    }
}

async fn schemas(State(state): State<AppState>, p: Provisioner) -> Response {
    let base = base(&state, &p);
    scim(StatusCode::OK, &discovery::list(vec![discovery::user_schema(&base), discovery::group_schema(&base)]))
}

async fn schema(
    State(state): State<AppState>,
    p: Provisioner,
    PathParams((_, id)): PathParams<(String, String)>,
) -> Result<Response, ScimError> {
    match id.as_str() {
        resource::USER_SCHEMA => Ok(scim(StatusCode::OK, &discovery::user_schema(&base(&state, &p)))),
        groups::GROUP_SCHEMA => Ok(scim(StatusCode::OK, &discovery::group_schema(&base(&state, &p)))),
        _ => Err(ScimError::not_found(format!("no schema {id}"))),
    }
}

async fn not_found() -> ScimError {
    ScimError::not_found(
        "no such SCIM endpoint; this service provider offers Users, Groups, Schemas, ResourceTypes and ServiceProviderConfig",
    )
}

async fn method_not_allowed() -> ScimError {
    ScimError { status: StatusCode::METHOD_NOT_ALLOWED, scim_type: None, detail: "method not allowed here".to_owned() }
}

async fn bulk(_: Provisioner) -> ScimError {
    ScimError::not_implemented("bulk operations are not supported (ServiceProviderConfig bulk.supported is false)")
}

/// A JSON request body (`application/scim+json` or `application/json`), within the body limit.
struct ScimBody(Value);

impl FromRequest<AppState> for ScimBody {
    type Rejection = ScimError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ScimError> {
        match media_type(request.headers()).as_deref() {
            None | Some("application/scim+json" | "application/json") => {}
            Some(_) => {
                return Err(ScimError {
                    status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    scim_type: None,
                    detail: "send the body as application/scim+json".to_owned(),
                })
            }
        }
        let body: Bytes = crate::http::body::bytes(request, state).await?;
        serde_json::from_slice(&body)
            .map(ScimBody)
            .map_err(|e| ScimError::bad_request("invalidSyntax", format!("the body is not JSON: {e}")))
    }
}

struct Page {
    filter: ScimFilter,
    start_index: u64,
    count: u32,
    projection: Projection,
}

fn page(
    filter: Option<&str>,
    start_index: Option<i64>,
    count: Option<i64>,
    projection: Projection,
) -> Result<Page, ScimError> {
    Ok(Page {
        filter: filter::parse(filter)?,
        // RFC 7644 §3.4.2.4: a startIndex below 1 is read as 1, a negative count as 0.
        start_index: u64::try_from(start_index.unwrap_or(1).max(1)).unwrap_or(1),
        count: u32::try_from(count.unwrap_or(i64::from(MAX_PAGE)).clamp(0, i64::from(MAX_PAGE))).unwrap_or(MAX_PAGE),
        projection,
    })
}

fn number(query: &QueryParams, name: &str) -> Result<Option<i64>, ScimError> {
    query
        .get(name)
        .map(|v| {
            v.trim().parse().map_err(|_| ScimError::bad_request("invalidValue", format!("{name} must be an integer")))
        })
        .transpose()
}

fn location(state: &AppState, p: &Provisioner, user: &ScimUser) -> String {
    format!("{}/Users/{}", base(state, p), user.admin.id)
}

async fn answer_page(state: &AppState, p: &Provisioner, page: Page) -> Result<Response, ScimError> {
    let (total, users) = state.store.scim_users(p.customer(), &page.filter, page.start_index - 1, page.count).await?;
    let resources: Vec<Value> =
        users.iter().map(|u| page.projection.apply(resource::render(u, &location(state, p, u)))).collect();
    Ok(scim(
        StatusCode::OK,
        &json!({
            "schemas": [resource::LIST_SCHEMA],
            "totalResults": total,
            "startIndex": page.start_index,
            "itemsPerPage": resources.len(),
            "Resources": resources,
        }),
    ))
}

async fn list_users(State(state): State<AppState>, p: Provisioner, query: QueryParams) -> Result<Response, ScimError> {
    let projection = Projection::new(query.get("attributes"), query.get("excludedAttributes"));
    let page = page(query.get("filter"), number(&query, "startIndex")?, number(&query, "count")?, projection)?;
    answer_page(&state, &p, page).await
}

/// `POST /.search` (RFC 7644 §3.4.3), the same query in a body.
async fn search_users(
    State(state): State<AppState>,
    p: Provisioner,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimError> {
    let text = |name: &str| match body.get(name) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Array(items)) => Some(items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(",")),
        _ => None,
    };
    let int = |name: &str| body.get(name).and_then(Value::as_i64);
    let projection = Projection::new(text("attributes").as_deref(), text("excludedAttributes").as_deref());
    let page = page(text("filter").as_deref(), int("startIndex"), int("count"), projection)?;
    answer_page(&state, &p, page).await
}

/// `POST /.search` at the root (RFC 7644 §3.4.3): every resource type, Users then Groups, in one
/// list. A filter names User attributes (`userName`, `externalId`), so with one only Users answer.
async fn search_all(
    State(state): State<AppState>,
    p: Provisioner,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimError> {
    let text = |name: &str| match body.get(name) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Array(items)) => Some(items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(",")),
        _ => None,
    };
    let int = |name: &str| body.get(name).and_then(Value::as_i64);
    let projection = Projection::new(text("attributes").as_deref(), text("excludedAttributes").as_deref());
    let page = page(text("filter").as_deref(), int("startIndex"), int("count"), projection)?;
    if page.filter != ScimFilter::All {
        return answer_page(&state, &p, page).await;
    }
    let offset = page.start_index - 1;
    let (users_total, users) = state.store.scim_users(p.customer(), &page.filter, offset, page.count).await?;
    let mut resources: Vec<Value> =
        users.iter().map(|u| page.projection.apply(resource::render(u, &location(&state, &p, u)))).collect();
    let room = page.count.saturating_sub(u32::try_from(resources.len()).unwrap_or(page.count));
    let group_offset = offset.saturating_sub(users_total);
    let (groups_total, found) =
        state.store.groups(p.customer(), &trustgate_store::GroupFilter::All, group_offset, room).await?;
    resources.extend(found.iter().map(|g| page.projection.apply(groups::rendered(&state, &p, g))));
    Ok(scim(
        StatusCode::OK,
        &json!({
            "schemas": [resource::LIST_SCHEMA],
            "totalResults": users_total + groups_total,
            "startIndex": page.start_index,
            "itemsPerPage": resources.len(),
            "Resources": resources,
        }),
    ))
}

fn admin_id(id: &str) -> Result<AdminId, ScimError> {
    AdminId::parse(id).map_err(|_| ScimError::not_found(format!("no User {id}")))
}

/// A User in a response, with its version as `ETag`.
fn user_response(
    state: &AppState,
    p: &Provisioner,
    status: StatusCode,
    user: &ScimUser,
    projection: &Projection,
) -> Response {
    let location = location(state, p, user);
    let mut response = scim(status, &projection.apply(resource::render(user, &location)));
    let headers = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&resource::etag(&user.version)) {
        headers.insert(header::ETAG, etag);
    }
    if status == StatusCode::CREATED {
        if let Ok(location) = HeaderValue::from_str(&location) {
            headers.insert(header::LOCATION, location);
        }
    }
    response
}

async fn create_user(
    State(state): State<AppState>,
    p: Provisioner,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimError> {
    let write = resource::parse_write(body)?;
    let candidate = Admin {
        id: AdminId::generate(),
        email: write.email.clone(),
        display_name: write.display_name.clone(),
        provider: p.token.provider,
        external_id: write.external_id.clone(),
        provider_id: p.token.provider_id.clone(),
        status: AdminStatus::Active,
        created_at: OffsetDateTime::now_utc(),
    };
    let user = state.store.provision_user(p.customer(), &candidate, &write, &p.actor()).await?;
    Ok(user_response(&state, &p, StatusCode::CREATED, &user, &Projection::default()))
}

async fn current(state: &AppState, p: &Provisioner, id: AdminId) -> Result<ScimUser, ScimError> {
    state.store.scim_user(p.customer(), id).await?.ok_or_else(|| ScimError::not_found(format!("no User {id}")))
}

async fn get_user(
    State(state): State<AppState>,
    p: Provisioner,
    PathParams((_, id)): PathParams<(String, String)>,
    query: QueryParams,
    headers: HeaderMap,
) -> Result<Response, ScimError> {
    let user = current(&state, &p, admin_id(&id)?).await?;
    if resource::not_modified(&headers, &user.version) {
        return Ok(StatusCode::NOT_MODIFIED.into_response());
    }
    let projection = Projection::new(query.get("attributes"), query.get("excludedAttributes"));
    Ok(user_response(&state, &p, StatusCode::OK, &user, &projection))
}

async fn replace_user(
    State(state): State<AppState>,
    p: Provisioner,
    PathParams((_, id)): PathParams<(String, String)>,
    headers: HeaderMap,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimError> {
    let id = admin_id(&id)?;
    let write = resource::parse_write(body)?;
    let user = state
        .store
        .update_scim_user(p.customer(), id, &write, resource::if_match(&headers).as_deref(), &p.actor())
        .await?;
    Ok(user_response(&state, &p, StatusCode::OK, &user, &Projection::default()))
}

async fn patch_user(
    State(state): State<AppState>,
    p: Provisioner,
    PathParams((_, id)): PathParams<(String, String)>,
    headers: HeaderMap,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimError> {
    let id = admin_id(&id)?;
    let before = current(&state, &p, id).await?;
    if let Some(wanted) = resource::if_match(&headers) {
        if wanted != before.version {
            return Err(crate::error::ApiError::PreconditionFailed.into());
        }
    }
    let mut document = resource::render(&before, "");
    patch::apply(&mut document, &body)?;
    let write = resource::parse_write(document)?;
    // The patch was applied to this version: a write in between is refused, not overwritten.
    let user = state.store.update_scim_user(p.customer(), id, &write, Some(&before.version), &p.actor()).await?;
    Ok(user_response(&state, &p, StatusCode::OK, &user, &Projection::default()))
}

async fn delete_user(
    State(state): State<AppState>,
    p: Provisioner,
    PathParams((_, id)): PathParams<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, ScimError> {
    let id = admin_id(&id)?;
    state.store.deprovision_user(p.customer(), id, resource::if_match(&headers).as_deref(), &p.actor()).await?;
    Ok(StatusCode::NO_CONTENT)
}
