//! What every request leaves behind: one access-log line and its request metrics, both keyed by
//! the matched route template (never the raw path, which holds ids).

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderName;
use axum::middleware::Next;
use axum::response::Response;
use tracing::{Instrument, Level};

use crate::logging::access_line::{self, AccessLine};
use crate::metrics::UNMATCHED;
use crate::state::AppState;

const CWS_TRANSACTION: HeaderName = HeaderName::from_static("x-cws-transactionid");

/// Runs the request in a `request` span (so the grant and authorization spans nest in it), then
/// logs it with the transaction id its response carries, the one a caller quotes to support.
///
/// The span is at debug level: at the default level a request makes none, and its access line
/// carries the method and route instead (issue #26: a span per request is formatted and stored
/// whether or not anything nested in it logs).
pub async fn request(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let route = matched.as_ref().map_or(UNMATCHED, MatchedPath::as_str);
    let span = tracing::debug_span!("request", method = %method, route = %route);
    let response = next.run(request).instrument(span).await;
    let took = started.elapsed();
    let status = response.status();
    state.metrics.request(&method, route, status, took);
    if tracing::enabled!(target: access_line::TARGET, Level::INFO) {
        let transaction = response.headers().get(&CWS_TRANSACTION).and_then(|v| v.to_str().ok()).unwrap_or("-");
        let line = AccessLine {
            method: method.as_str(),
            route,
            status: status.as_u16(),
            latency_ms: took.as_secs_f64() * 1000.0,
            transaction_id: transaction,
        };
        access_line::write(&line);
    }
    response
}
