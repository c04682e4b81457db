//! Identity providers (issue #12): a Full administrator connects the customer's OpenID provider,
//! through which its federated administrators sign in, and disconnects it.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use time::OffsetDateTime;
use trustgate_core::access::Access;
use trustgate_core::federation::{self, IdentityProvider};
use trustgate_core::ids::ProviderId;

use super::error::{render, ConsoleError};
use super::extract::{InCustomer, Posted};
use super::layout::{when, Layout, Section};
use crate::error::ApiError;
use crate::state::AppState;

pub struct ProviderRow {
    pub id: String,
    pub kind: &'static str,
    pub issuer: String,
    pub client_id: String,
    pub email_claim: String,
    pub created: String,
}

impl From<&IdentityProvider> for ProviderRow {
    fn from(p: &IdentityProvider) -> Self {
        let (provider_type, external) = p.citrix_types();
        Self {
            id: p.id.to_string(),
            kind: if provider_type == external { provider_type } else { external },
            issuer: p.issuer.clone(),
            client_id: p.client_id.clone(),
            email_claim: p.email_claim.clone(),
            created: when(p.created_at),
        }
    }
}

#[derive(Template)]
#[template(path = "identity_providers.html")]
struct ProvidersPage {
    layout: Layout,
    base: String,
    providers: Vec<ProviderRow>,
    redirect_uri: String,
    error: Option<String>,
}

fn require_full(ctx: &InCustomer) -> Result<(), ConsoleError> {
    if ctx.access() == Access::Full {
        return Ok(());
    }
    Err(ConsoleError::page(StatusCode::FORBIDDEN, "Only Full administrators connect identity providers."))
}

async fn page(
    state: &AppState,
    ctx: &InCustomer,
    status: StatusCode,
    error: Option<String>,
) -> Result<Response, ConsoleError> {
    let providers = state.store.identity_providers(&ctx.customer.id).await.map_err(ApiError::from)?;
    let page = ProvidersPage {
        layout: ctx.layout("Identity providers", Section::None),
        base: ctx.base(),
        providers: providers.iter().map(ProviderRow::from).collect(),
        redirect_uri: crate::oidc::redirect_uri(state),
        error,
    };
    Ok(render(status, &page))
}

/// `GET /console/c/{customer}/identity-providers`
pub async fn list(State(state): State<AppState>, ctx: InCustomer) -> Result<Response, ConsoleError> {
    require_full(&ctx)?;
    page(&state, &ctx, StatusCode::OK, None).await
}

/// `POST /console/c/{customer}/identity-providers`
pub async fn connect(State(state): State<AppState>, Posted { ctx, form }: Posted) -> Result<Response, ConsoleError> {
    require_full(&ctx)?;
    let id = ProviderId::generate();
    let parsed = (|| {
        Ok::<_, trustgate_core::ValidationError>(IdentityProvider {
            id,
            customer_id: ctx.customer.id.clone(),
            provider_type: federation::parse_provider_type(form.get("type"))?,
            issuer: federation::parse_issuer(form.get("issuer"))?,
            client_id: federation::parse_client_id(form.get("client_id"))?,
            sealed_secret: state
                .server_keys()
                .secret_vault
                .seal(id, &federation::parse_client_secret(form.get("client_secret"))?),
            email_claim: federation::parse_email_claim(form.get("email_claim"))?,
            created_at: OffsetDateTime::now_utc(),
        })
    })();
    let provider = match parsed {
        Ok(provider) => provider,
        Err(invalid) => return page(&state, &ctx, StatusCode::BAD_REQUEST, Some(invalid.detail)).await,
    };
    match state.store.connect_provider(&provider, &ctx.actor()).await {
        Ok(()) => Ok(Redirect::to(&format!("{}/identity-providers", ctx.base())).into_response()),
        Err(trustgate_store::StoreError::Conflict(message)) => {
            page(&state, &ctx, StatusCode::CONFLICT, Some(message)).await
        }
        Err(other) => Err(ApiError::from(other).into()),
    }
}

/// `POST /console/c/{customer}/identity-providers/{id}/disconnect`
pub async fn disconnect(
    State(state): State<AppState>,
    axum::extract::Path((_, id)): axum::extract::Path<(String, String)>,
    Posted { ctx, .. }: Posted,
) -> Result<Response, ConsoleError> {
    require_full(&ctx)?;
    let id = ProviderId::parse(&id).map_err(|_| ApiError::NotFound("identity provider"))?;
    let disconnected =
        state.store.disconnect_provider(&ctx.customer.id, id, &ctx.actor()).await.map_err(ApiError::from)?;
    ApiError::unless_found(disconnected, "identity provider")?;
    Ok(Redirect::to(&format!("{}/identity-providers", ctx.base())).into_response())
}
