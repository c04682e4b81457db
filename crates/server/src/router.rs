//! Every route of the server, with the handler that serves it. The API routes are registered
//! through `utoipa_axum::routes!`, so the OpenAPI document served at `/openapi.json` is generated
//! from the same handlers and types that answer, and cannot list a route the server does not serve.

use axum::extract::Request;
use axum::http::Uri;
use axum::Router;
use tower::ServiceExt;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::gateway::{catalog, decision, introspection};
use crate::http::{access_log, meta, response_headers};
use crate::manage::{clients as manage, identity_providers, principals, provisioning, webhooks};
use crate::oauth::{discovery, revocation, tokens};
use crate::platform::{administrators, notifications, subscriptions, system_log};
use crate::state::AppState;

/// The routes that the OpenAPI document describes, and the document itself.
fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(crate::openapi::ApiDoc::openapi())
        .routes(routes!(tokens::oauth))
        .routes(routes!(tokens::legacy))
        .routes(routes!(tokens::jwks))
        .routes(routes!(discovery::authorization_server))
        .routes(routes!(discovery::openid_configuration))
        // RFC 8414 §3.1's form for an issuer with a path, which depends on the deployment's issuer:
        // served, but not in the OpenAPI document.
        .route(
            "/.well-known/oauth-authorization-server/{*path}",
            axum::routing::get(discovery::authorization_server_at),
        )
        .route("/.well-known/openid-configuration/{*path}", axum::routing::get(discovery::openid_configuration_at))
        .routes(routes!(revocation::revoke))
        .routes(routes!(introspection::introspect))
        .routes(routes!(notifications::list, notifications::create))
        .routes(routes!(notifications::list_in_path, notifications::create_in_path))
        .routes(routes!(administrators::list))
        .routes(routes!(administrators::create))
        .routes(routes!(administrators::update_access))
        .routes(routes!(administrators::remove))
        .routes(routes!(administrators::delete_invitation))
        .routes(routes!(administrators::get_access))
        .routes(routes!(system_log::records))
        .routes(routes!(subscriptions::list, subscriptions::create))
        .routes(routes!(subscriptions::delete))
        .routes(routes!(manage::current, manage::sign_in, manage::sign_out))
        .routes(routes!(manage::list_clients, manage::create_client))
        .routes(routes!(manage::delete_client))
        .routes(routes!(principals::list, principals::create))
        .routes(routes!(principals::set_access))
        .routes(routes!(principals::delete))
        .routes(routes!(principals::convert))
        .routes(routes!(manage::list_secrets, manage::add_secret))
        .routes(routes!(manage::delete_secret))
        .routes(routes!(provisioning::list_tokens, provisioning::create_token))
        .routes(routes!(provisioning::revoke_token))
        .routes(routes!(provisioning::disabled_owners))
        .routes(routes!(identity_providers::list, identity_providers::connect))
        .routes(routes!(identity_providers::disconnect))
        .routes(routes!(webhooks::list, webhooks::create))
        .routes(routes!(webhooks::show, webhooks::delete))
        .routes(routes!(webhooks::rotate_secret))
        .routes(routes!(webhooks::attempts))
        .routes(routes!(webhooks::replay))
        .routes(routes!(webhooks::enable))
        .routes(routes!(catalog::show))
        .routes(routes!(decision::authorize))
        // Envoy appends any path to the prefix: a catch-all axum serves, documented in `openapi::ApiDoc`.
        .route(decision::ENVOY_ROUTE, axum::routing::any(decision::envoy))
        .routes(routes!(meta::health))
        .routes(routes!(meta::ready))
        .routes(routes!(meta::openapi))
}

/// The OpenAPI document of every API route, as served at `/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().into_openapi()
}

pub fn router(state: AppState) -> Router {
    meta::describe_with(openapi);
    let routes = Router::from(api())
        .merge(crate::console::router(state.clone()))
        .merge(crate::scim::router())
        .fallback(meta::not_found)
        .method_not_allowed_fallback(meta::method_not_allowed);
    // Outside the stamp, so the access log sees the transaction id the response carries.
    let routes = response_headers::stamp(routes)
        .layer(axum::middleware::from_fn_with_state(state.clone(), access_log::request))
        .with_state(state);
    // Citrix's SDKs call `/administrators/` and friends; the path is rewritten before routing so
    // every route (and the OpenAPI document, which lists each once) stays slash-free.
    Router::new().fallback_service(routes.map_request(strip_trailing_slash))
}

/// Drops ONE trailing `/` from the path (never from `/` itself), keeping the query string.
fn strip_trailing_slash(mut request: Request) -> Request {
    let uri = request.uri();
    let path = uri.path();
    let Some(stripped) = path.strip_suffix('/').filter(|p| !p.is_empty()) else { return request };
    let path_and_query = match uri.query() {
        Some(query) => format!("{stripped}?{query}"),
        None => stripped.to_owned(),
    };
    let mut parts = uri.clone().into_parts();
    let Ok(path_and_query) = path_and_query.parse() else { return request };
    parts.path_and_query = Some(path_and_query);
    if let Ok(uri) = Uri::from_parts(parts) {
        *request.uri_mut() = uri;
    }
    request
}
