//! The gateway decision endpoint: "may this proxied request pass?", asked by nginx `auth_request`,
//! Traefik ForwardAuth, Caddy `forward_auth` and Envoy `ext_authz`, each in its own conventions.
//!
//! The proxy names the original method and URI; the catalog's route rules say which permission
//! that request needs and where its customer is; the caller's token is then checked by the same
//! live path as every built-in route ([`auth::check`]). A request no rule matches is refused
//! (closed by default). Allowed answers carry identity headers the proxy copies to the upstream.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use trustgate_core::ids::CustomerId;
use trustgate_core::request_target;
use trustgate_core::ValidationError;

use crate::error::ApiError;
use crate::platform::auth::{self, Caller};
use crate::state::AppState;

/// Where Envoy's `ext_authz` HTTP service is pointed (`path_prefix`): Envoy appends the original
/// path and sends the original method.
pub const ENVOY_PREFIX: &str = "/gateway/envoy";
pub const ENVOY_ROUTE: &str = "/gateway/envoy/{*path}";

pub const CLIENT_ID: HeaderName = HeaderName::from_static("x-trustgate-client-id");
pub const CUSTOMER_ID: HeaderName = HeaderName::from_static("x-trustgate-customer-id");
pub const PRINCIPAL: HeaderName = HeaderName::from_static("x-trustgate-principal");
pub const PERMISSION: HeaderName = HeaderName::from_static("x-trustgate-permission");

/// Decides a request proxied by nginx (`X-Original-Method`, `X-Original-URI`), or by Traefik or
/// Caddy (`X-Forwarded-Method`, `X-Forwarded-Uri`). Any method is accepted.
#[utoipa::path(
    method(get, post, put, patch, delete, head, options),
    path = "/gateway/authorize",
    tag = "gateway",
    params(
        ("X-Original-Method" = Option<String>, Header, description = "nginx: the original method"),
        ("X-Original-URI" = Option<String>, Header, description = "nginx: the original path and query"),
        ("X-Forwarded-Method" = Option<String>, Header, description = "Traefik, Caddy: the original method"),
        ("X-Forwarded-Uri" = Option<String>, Header, description = "Traefik, Caddy: the original path and query"),
        ("Citrix-CustomerId" = Option<String>, Header, description = "The customer, for rules that take it from the header"),
    ),
    responses(
        (status = 200, description = "Allowed; the identity headers are for the upstream", headers(
            ("X-Trustgate-Client-Id" = String, description = "The API client"),
            ("X-Trustgate-Customer-Id" = String, description = "The customer"),
            ("X-Trustgate-Principal" = String, description = "The owning administrator, or the service principal itself"),
            ("X-Trustgate-Permission" = String, description = "The permission the matched rule needs, e.g. `orders.read`"),
        )),
        (status = 400, description = "The proxy did not name the original request, or the customer is malformed", body = crate::error::GatewayError),
        (status = 401, description = "No token, or an invalid one, a deleted client, an owner removed (R6)", body = crate::error::GatewayError),
        (status = 403, description = "Missing permission, another customer's token, or no rule matches", body = crate::error::GatewayError),
    )
)]
pub async fn authorize(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let (method, uri) = original_request(&headers)?;
    decide(&state, &headers, method, uri).await
}

/// Decides a request proxied by Envoy's `ext_authz` HTTP service: the original path follows the
/// prefix, the method is the original one.
#[utoipa::path(
    method(get, post, put, patch, delete, head, options),
    path = "/gateway/envoy/{path}",
    tag = "gateway",
    params(("path" = String, Path, description = "The original path, as Envoy appends it")),
    responses(
        (status = 200, description = "Allowed; the identity headers are for the upstream"),
        (status = 401, description = "Not authenticated", body = crate::error::GatewayError),
        (status = 403, description = "Not allowed, or no rule matches", body = crate::error::GatewayError),
    )
)]
pub async fn envoy(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let original = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    let original = original.strip_prefix(ENVOY_PREFIX).unwrap_or(original);
    decide(&state, &headers, method.as_str(), original).await
}

/// The original method and URI, as nginx or as Traefik and Caddy name them.
///
/// A proxy sets its own pair and passes the client's other headers along, so a client can send
/// the *other* convention's pair itself (issue #20: through Caddy, `DELETE /orders/1` with the
/// client's own `X-Original-Method: GET`). A request naming both conventions, or one header
/// twice, is therefore refused rather than resolved by a preference the client can exploit.
fn original_request(headers: &HeaderMap) -> Result<(&str, &str), ApiError> {
    let text = |name: &'static str| -> Result<Option<&str>, ApiError> {
        let mut values = headers.get_all(name).iter();
        let first = values.next();
        if values.next().is_some() {
            return Err(ValidationError::invalid(name, format!("{name} is given more than once")).into());
        }
        first.map(|v| v.to_str().map_err(|_| ValidationError::invalid(name, "not ASCII text").into())).transpose()
    };
    let pairs = [("X-Original-Method", "X-Original-URI"), ("X-Forwarded-Method", "X-Forwarded-Uri")];
    let mut named = Vec::new();
    for (method_header, uri_header) in pairs {
        let (method, uri) = (text(method_header)?, text(uri_header)?);
        if method.is_some() || uri.is_some() {
            named.push((method_header, method, uri_header, uri));
        }
    }
    match named.as_slice() {
        [] => Err(ValidationError::missing("X-Original-URI").into()),
        [(method_header, method, uri_header, uri)] => {
            let uri = uri.ok_or(ValidationError::missing(uri_header))?;
            Ok((method.ok_or(ValidationError::missing(method_header))?, uri))
        }
        _ => Err(ValidationError::invalid(
            "X-Original-URI",
            "the request names the original request in both nginx's (X-Original-*) and Traefik's or \
             Caddy's (X-Forwarded-*) headers: the proxy must remove the copies its clients send",
        )
        .into()),
    }
}

async fn decide(state: &AppState, headers: &HeaderMap, method: &str, uri: &str) -> Result<Response, ApiError> {
    let path = request_target::path_of(uri)?;
    // The token first, as on built-in routes: a caller without one is told to authenticate.
    let claims = auth::verified_claims(state, headers)?;
    let catalog = state.catalog();
    let Some(matched) = catalog.match_request(method, path) else {
        return Err(ApiError::Forbidden("no route rule of the catalog matches this request".to_owned()));
    };
    let customer = match &matched.path_customer {
        Some(value) => CustomerId::parse(value)?,
        None => auth::customer_header(headers)?,
    };
    let permission = &matched.rule.permission;
    let caller = auth::check(state, &claims, customer, permission).await?;
    Ok(allowed(&caller, &permission.to_string()))
}

fn allowed(caller: &Caller, permission: &str) -> Response {
    let principal = caller.owner.map_or_else(|| caller.client_id.to_string(), |owner| owner.to_string());
    let values = [
        (CLIENT_ID, caller.client_id.to_string()),
        (CUSTOMER_ID, caller.customer_id.to_string()),
        (PRINCIPAL, principal),
        (PERMISSION, permission.to_owned()),
    ];
    let mut response = StatusCode::OK.into_response();
    let out = response.headers_mut();
    for (name, value) in values {
        // Ids and permission names are ASCII by construction; a value that is not is left out
        // rather than sent mangled.
        if let Ok(value) = HeaderValue::from_str(&value) {
            out.insert(name, value);
        }
    }
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
