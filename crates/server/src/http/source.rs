//! Where a request comes from, as the throttles key it: the peer, or the client a trusted proxy
//! names (`--trusted-proxy`).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::state::AppState;
use crate::throttle::Source;

impl FromRequestParts<AppState> for Source {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Source::of(&parts.extensions, &parts.headers, &state.config.trusted_proxies))
    }
}
