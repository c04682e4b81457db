//! Identity and Access Management → Groups (issue #25): the groups the customer's identity
//! provider keeps (SCIM `/Groups`, the `groups` claim), with their members, and the access a Full
//! administrator gives each. The rules (Full only, what members lose) live in `core::lifecycle`,
//! `core::group` and the store, shared with the Administrators API.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use trustgate_core::access::{Access, Permission};
use trustgate_core::customer::LostAccessPolicy;
use trustgate_core::group::AdminGroup;
use trustgate_core::ids::{AdminId, GroupId};

use super::administrators::{posted_access, AccessChoice};
use super::error::{render, ConsoleError};
use super::extract::{InCustomer, Posted};
use super::layout::{describe, when, Layout, Section};
use crate::error::ApiError;
use crate::state::AppState;

pub struct GroupRow {
    pub id: String,
    pub name: String,
    pub external_id: String,
    pub access: String,
    /// The members' e-mails in this customer.
    pub members: Vec<String>,
    pub updated: String,
}

#[derive(Template)]
#[template(path = "groups.html")]
struct GroupsPage {
    layout: Layout,
    base: String,
    rows: Vec<GroupRow>,
    full: bool,
    /// Whether a member whom their groups leave without access stays in the customer.
    keeps: bool,
}

#[derive(Template)]
#[template(path = "group_edit.html")]
struct GroupEditPage {
    layout: Layout,
    base: String,
    row: GroupRow,
    access: AccessChoice,
    error: Option<String>,
    keeps: bool,
}

async fn emails(state: &AppState, ctx: &InCustomer) -> Result<HashMap<AdminId, String>, ApiError> {
    let members = state.store.members(&ctx.customer.id, None, u32::MAX).await?;
    Ok(members.into_iter().map(|m| (m.admin.id, m.admin.email.to_string())).collect())
}

fn row(state: &AppState, group: &AdminGroup, emails: &HashMap<AdminId, String>) -> GroupRow {
    GroupRow {
        id: group.id.to_string(),
        name: group.display_name.clone(),
        external_id: group.external_id.clone().unwrap_or_default(),
        access: if group.access.grants_nothing() {
            "No access".to_owned()
        } else {
            describe(&group.access, &state.catalog())
        },
        members: group.members.iter().map(|m| emails.get(m).cloned().unwrap_or_else(|| m.to_string())).collect(),
        updated: when(group.updated_at),
    }
}

/// `GET /console/c/{customer}/groups`
pub async fn page(State(state): State<AppState>, ctx: InCustomer) -> Result<Response, ConsoleError> {
    ctx.require(Permission::ADMINISTRATORS)?;
    let (_, groups) = state
        .store
        .groups(&ctx.customer.id, &trustgate_store::GroupFilter::All, 0, 1000)
        .await
        .map_err(ApiError::from)?;
    let emails = emails(&state, &ctx).await?;
    let page = GroupsPage {
        layout: ctx.layout("Groups", Section::Groups),
        base: ctx.base(),
        rows: groups.iter().map(|g| row(&state, g, &emails)).collect(),
        full: ctx.access() == Access::Full,
        keeps: keeps_without_access(&ctx),
    };
    Ok(render(StatusCode::OK, &page))
}

fn keeps_without_access(ctx: &InCustomer) -> bool {
    ctx.customer.lost_access_policy == LostAccessPolicy::KeepInCustomer
}

async fn group(state: &AppState, ctx: &InCustomer, id: &str) -> Result<AdminGroup, ConsoleError> {
    let id = GroupId::parse(id).map_err(|_| ApiError::NotFound("group"))?;
    Ok(state.store.group(&ctx.customer.id, id).await.map_err(ApiError::from)?.ok_or(ApiError::NotFound("group"))?)
}

async fn show_edit(
    state: &AppState,
    ctx: &InCustomer,
    group: &AdminGroup,
    status: StatusCode,
    access: &Access,
    error: Option<String>,
) -> Result<Response, ConsoleError> {
    let emails = emails(state, ctx).await?;
    let page = GroupEditPage {
        layout: ctx.layout("Group access", Section::Groups),
        base: ctx.base(),
        row: row(state, group, &emails),
        access: AccessChoice::of(access, &state.catalog()),
        error,
        keeps: keeps_without_access(ctx),
    };
    Ok(render(status, &page))
}

/// `GET /console/c/{customer}/groups/{id}`
pub async fn edit(
    State(state): State<AppState>,
    ctx: InCustomer,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ConsoleError> {
    ctx.require(Permission::ADMINISTRATORS)?;
    let group = group(&state, &ctx, &id).await?;
    show_edit(&state, &ctx, &group, StatusCode::OK, &group.access, None).await
}

/// `POST /console/c/{customer}/groups/{id}` — every member and their clients follow at once
/// (R5); a member left with no access loses their clients (R6), and the customer too unless it
/// keeps such members.
pub async fn change_access(
    State(state): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    Posted { ctx, form }: Posted,
) -> Result<Response, ConsoleError> {
    ctx.require(Permission::ADMINISTRATORS)?;
    let group = group(&state, &ctx, &id).await?;
    let catalog = state.catalog();
    let changed = match posted_access(&form, &catalog) {
        Ok(access) => state
            .store
            .set_group_access(&ctx.customer.id, group.id, access, &ctx.actor())
            .await
            .map(drop)
            .map_err(ApiError::from),
        Err(error) => Err(error),
    };
    match changed {
        Ok(()) => Ok(Redirect::to(&format!("{}/groups", ctx.base())).into_response()),
        Err(error) => {
            let error = ConsoleError::from(error);
            let shown = posted_access(&form, &catalog).unwrap_or_else(|_| group.access.clone());
            show_edit(&state, &ctx, &group, error.status(), &shown, Some(error.message().to_owned())).await
        }
    }
}
