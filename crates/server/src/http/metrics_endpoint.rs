//! `GET /metrics`, on the listener of `serve --metrics-listen`: the node's metrics with its gauges
//! sampled at the scrape.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::metrics::Sample;
use crate::state::AppState;

/// `GET /metrics` and nothing else.
pub fn router(state: AppState) -> Router {
    Router::new().route("/metrics", get(scrape)).with_state(state)
}

async fn scrape(State(state): State<AppState>) -> Response {
    let sample = Sample {
        pool: state.store.pool_use(),
        authorization: state.cache.held(),
        verified_tokens: state.keys().verified.held(),
        notification_lists: state.notifications.held(),
        revoked_tokens: state.revoked_len(),
    };
    match state.metrics.render(&sample) {
        Ok(body) => ([(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)], body).into_response(),
        Err(error) => {
            tracing::error!(%error, "encoding the metrics failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
