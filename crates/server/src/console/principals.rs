//! Identity and Access Management → API Access → Service principals: the customer's API clients
//! that belong to no administrator (SP1–SP4), for Full administrators only (SP3).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use trustgate_core::access::{Access, Permission, PermissionSet};
use trustgate_core::catalog::Catalog;
use trustgate_core::client::{ApiClient, ClientKind, CLIENT_NAME_MAX, PRINCIPALS_PER_CUSTOMER_MAX};
use trustgate_core::ids::ClientId;
use trustgate_core::ValidationError;

use super::administrators::{posted_access, AccessChoice};
use super::api_access::{acts_with, posted_expiry, Created, Shown};
use super::confirm::client_deletion;
use super::error::{render, ConsoleError};
use super::extract::{InCustomer, Posted};
use super::layout::{when, Layout, Section};
use crate::actions;
use crate::cache::shown_once::Revealed;
use crate::error::ApiError;
use crate::state::AppState;

pub struct PrincipalRow {
    pub id: String,
    pub name: String,
    pub access: String,
    pub created: String,
    pub last_used: String,
}

impl PrincipalRow {
    fn of(p: &ApiClient, catalog: &Catalog) -> Option<Self> {
        let ClientKind::ServicePrincipal { access } = &p.kind else { return None };
        let access = match access {
            Access::Full => "Full".to_owned(),
            Access::Custom(set) => set.iter().map(|p| catalog.display_name(p)).collect::<Vec<_>>().join(", "),
        };
        Some(Self {
            id: p.id.to_string(),
            name: p.name.clone(),
            access,
            created: when(p.created_at),
            last_used: p.last_used_at.map(when).unwrap_or_else(|| "Never".to_owned()),
        })
    }
}

#[derive(Template)]
#[template(path = "service_principals.html")]
struct PrincipalsPage {
    layout: Layout,
    base: String,
    customer_id: String,
    principals: Vec<PrincipalRow>,
    name: String,
    name_max: usize,
    access: AccessChoice,
    expiry_days: &'static [&'static str],
    expires: String,
    error: Option<String>,
    notice: Option<&'static str>,
    gone: bool,
    created: Option<Created>,
}

/// A principal's secret must expire (SP6): the create form offers the Secrets panel's choices
/// without "Never", a year chosen unless the administrator picks another.
const PRINCIPAL_EXPIRY_DAYS: [&str; 5] = ["30", "90", "180", "365", "730"];
const DEFAULT_EXPIRY: &str = "365";

struct View {
    name: String,
    access: Access,
    expires: String,
    error: Option<String>,
    notice: Option<&'static str>,
    gone: bool,
    created: Option<Created>,
}

/// Only Full administrators see the tab; the store refuses anyone else too.
fn require_full(ctx: &InCustomer) -> Result<(), ConsoleError> {
    ctx.require(Permission::API_CLIENTS)?;
    if ctx.access() == Access::Full {
        Ok(())
    } else {
        Err(ConsoleError::page(
            StatusCode::FORBIDDEN,
            "Only administrators with Full access manage service principals.",
        ))
    }
}

async fn show(state: &AppState, ctx: &InCustomer, status: StatusCode, view: View) -> Result<Response, ConsoleError> {
    let limit = u32::try_from(PRINCIPALS_PER_CUSTOMER_MAX).unwrap_or(u32::MAX);
    let principals =
        state.store.principals(&ctx.customer.id, None, limit, &ctx.actor()).await.map_err(ApiError::from)?;
    let page = PrincipalsPage {
        layout: ctx.layout("Service principals", Section::ApiAccess),
        base: ctx.base(),
        customer_id: ctx.customer.id.to_string(),
        principals: principals.iter().filter_map(|p| PrincipalRow::of(p, &state.catalog())).collect(),
        name: view.name,
        name_max: CLIENT_NAME_MAX,
        access: AccessChoice::of(&view.access, &state.catalog()),
        expiry_days: &PRINCIPAL_EXPIRY_DAYS,
        expires: view.expires,
        error: view.error,
        notice: view.notice,
        gone: view.gone,
        created: view.created,
    };
    Ok(render(status, &page))
}

/// `GET /console/c/{customer}/service-principals` — with `?created=`, the one view of a new secret.
pub async fn page(
    State(state): State<AppState>,
    ctx: InCustomer,
    Query(shown): Query<Shown>,
) -> Result<Response, ConsoleError> {
    require_full(&ctx)?;
    let notice = match shown.done.as_deref() {
        Some("deleted") => Some("The service principal was deleted. Its tokens stopped working at once."),
        _ => None,
    };
    let (gone, created) = shown.reveal(&state, &ctx);
    let access = Access::Custom(PermissionSet::empty());
    let view =
        View { name: String::new(), access, expires: DEFAULT_EXPIRY.to_owned(), error: None, notice, gone, created };
    show(&state, &ctx, StatusCode::OK, view).await
}

/// `POST /console/c/{customer}/service-principals` — creates, holds the secret for one view, and
/// redirects to it (post/redirect/get).
pub async fn create(State(state): State<AppState>, Posted { ctx, form }: Posted) -> Result<Response, ConsoleError> {
    require_full(&ctx)?;
    let name = form.get("name");
    let access = posted_access(&form, &state.catalog());
    let shown = access.as_ref().ok().cloned().unwrap_or(Access::Custom(PermissionSet::empty()));
    let expires = form.get("expires");
    let refuse = |error: ConsoleError, access: Access| View {
        name: name.to_owned(),
        access,
        expires: if PRINCIPAL_EXPIRY_DAYS.contains(&expires) { expires } else { DEFAULT_EXPIRY }.to_owned(),
        error: Some(error.message().to_owned()),
        notice: None,
        gone: false,
        created: None,
    };
    // A principal's secret always expires (SP6): "never" is no choice here; none takes the default year.
    let expiry = if expires == "never" {
        Err(ApiError::Invalid(ValidationError::invalid_enum("expires", &PRINCIPAL_EXPIRY_DAYS)))
    } else {
        posted_expiry(expires)
    };
    let created = match (access, expiry) {
        (Ok(access), Ok(expires_at)) => {
            let store = state.store.as_ref();
            actions::clients::new_principal(
                store,
                &state.server_key(),
                &ctx.customer.id,
                name,
                access,
                expires_at,
                &ctx.actor(),
            )
            .await
        }
        (Err(error), _) | (_, Err(error)) => Err(error),
    };
    match created {
        Ok((principal, secret)) => {
            let access = acts_with(&principal, &ctx);
            let revealed = Revealed { id: principal.id, name: principal.name, secret, access };
            let ticket = state.reveals.hold(ctx.session.digest, &ctx.customer.id, revealed);
            Ok(Redirect::to(&format!("{}/service-principals?created={ticket}", ctx.base())).into_response())
        }
        Err(error @ (ApiError::Invalid(_) | ApiError::Refused { .. })) => {
            let error = ConsoleError::from(error);
            show(&state, &ctx, error.status(), refuse(error, shown)).await
        }
        Err(other) => Err(other.into()),
    }
}

async fn principal(state: &AppState, ctx: &InCustomer, id: &str) -> Result<ApiClient, ConsoleError> {
    let id = ClientId::parse(id).map_err(|_| ApiError::NotFound("service principal"))?;
    let found = state.store.principal(&ctx.customer.id, id, &ctx.actor()).await.map_err(ApiError::from)?;
    Ok(found.ok_or(ApiError::NotFound("service principal"))?)
}

/// `GET /console/c/{customer}/service-principals/{id}/delete`
pub async fn confirm_delete(
    State(state): State<AppState>,
    ctx: InCustomer,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ConsoleError> {
    require_full(&ctx)?;
    let principal = principal(&state, &ctx, &id).await?;
    let warning = "Scripts that use it can no longer get tokens, and tokens already issued stop working at once. This cannot be undone.";
    Ok(client_deletion(&ctx, &principal, "service principal", "service-principals", warning))
}

/// `POST /console/c/{customer}/service-principals/{id}/delete`
pub async fn delete(
    State(state): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    Posted { ctx, .. }: Posted,
) -> Result<Response, ConsoleError> {
    require_full(&ctx)?;
    let id = ClientId::parse(&id).map_err(|_| ApiError::NotFound("service principal"))?;
    let deleted = state.store.delete_principal(&ctx.customer.id, id, &ctx.actor()).await.map_err(ApiError::from)?;
    ApiError::unless_found(deleted, "service principal")?;
    Ok(Redirect::to(&format!("{}/service-principals?done=deleted", ctx.base())).into_response())
}
