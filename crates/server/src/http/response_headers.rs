//! Response headers every answer carries: a transaction id (echoed when the caller sent
//! `Citrix-TransactionId`) and the baseline security headers.

use axum::extract::Request;
use axum::http::{header, HeaderName, HeaderValue};
use axum::response::Response;
use axum::Router;
use tower::ServiceBuilder;
use tower_http::request_id::PropagateRequestIdLayer;
use tower_http::set_header::{SetRequestHeaderLayer, SetResponseHeaderLayer};

const CITRIX_TRANSACTION: HeaderName = HeaderName::from_static("citrix-transactionid");
/// Set on every request before it is routed (so handlers and logs see it) and echoed on the answer.
pub const CWS_TRANSACTION: HeaderName = HeaderName::from_static("x-cws-transactionid");

/// The caller's `Citrix-TransactionId` when it is a plausible id, else a fresh UUID; it replaces
/// any `X-Cws-TransactionId` the caller sent, so only these two kinds of value are ever echoed.
fn transaction_id(request: &Request) -> Option<HeaderValue> {
    let given = request.headers().get(&CITRIX_TRANSACTION).filter(|v| {
        v.len() <= 64 && v.to_str().is_ok_and(|s| s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
    });
    given.cloned().or_else(|| HeaderValue::from_str(&trustgate_core::ids::random_uuid()).ok())
}

/// Wraps every route with the transaction id and the headers every answer carries.
pub fn stamp<S: Clone + Send + Sync + 'static>(routes: Router<S>) -> Router<S> {
    routes.layer(
        ServiceBuilder::new()
            .layer(SetResponseHeaderLayer::overriding(CITRIX_TRANSACTION, |response: &Response| {
                response.headers().get(&CWS_TRANSACTION).cloned()
            }))
            .layer(SetResponseHeaderLayer::overriding(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static("X-Cws-TransactionId, Citrix-TransactionId"),
            ))
            .layer(SetResponseHeaderLayer::overriding(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ))
            .layer(SetRequestHeaderLayer::overriding(CWS_TRANSACTION, transaction_id))
            .layer(PropagateRequestIdLayer::new(CWS_TRANSACTION)),
    )
}
