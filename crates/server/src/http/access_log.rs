//! What every request leaves behind: one access-log line and its request metrics, both keyed by
//! the matched route template (never the raw path, which holds ids).

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderName;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::metrics::UNMATCHED;
use crate::state::AppState;

const CWS_TRANSACTION: HeaderName = HeaderName::from_static("x-cws-transactionid");

/// Runs the request in a `request` span (so the grant and authorization spans nest in it), then
/// logs it with the transaction id its response carries, the one a caller quotes to support.
pub async fn request(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().map_or(UNMATCHED, MatchedPath::as_str).to_owned();
    let span = tracing::info_span!("request", method = %method, route = %route);
    let response = next.run(request).instrument(span).await;
    let took = started.elapsed();
    let status = response.status();
    state.metrics.request(&method, &route, status, took);
    let transaction = response.headers().get(&CWS_TRANSACTION).and_then(|v| v.to_str().ok()).unwrap_or("-");
    tracing::info!(
        target: "trustgate::access",
        method = %method,
        route = %route,
        status = status.as_u16(),
        latency_ms = took.as_secs_f64() * 1000.0,
        transaction_id = transaction,
        "request"
    );
    response
}
