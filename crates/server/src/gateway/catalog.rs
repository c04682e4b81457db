//! `GET /api/v1/catalog`: the permission catalog this node decides with (docs/catalog.md).

use axum::extract::State;

use crate::error::{ApiError, GatewayError};
use crate::gateway::catalog_view::CatalogView;
use crate::session::AdminSession;
use crate::state::AppState;

/// The catalog this node decides with now: the operator's services, every permission on offer
/// (the built-in Platform ones with `builtIn: true`) and the gateway's route rules. Any signed-in
/// administrator may read it, whatever their access: it is what every access editor offers.
#[utoipa::path(
    get,
    path = "/api/v1/catalog",
    operation_id = "get_catalog",
    tag = "management",
    security(("Session" = [])),
    responses(
        (status = 200, description = "The catalog", body = CatalogView),
        (status = "4XX", description = "Refused: 401 not signed in", body = GatewayError),
        crate::openapi::StoreUnavailable,
    )
)]
pub async fn show(State(state): State<AppState>, _session: AdminSession) -> Result<axum::Json<CatalogView>, ApiError> {
    Ok(axum::Json(CatalogView::from(state.catalog().as_ref())))
}
