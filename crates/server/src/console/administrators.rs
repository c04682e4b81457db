//! Identity and Access Management → Administrators: list, add, change access, remove (R5, R6),
//! and the R7 warning for disabled federated administrators who still own active clients. The
//! rules themselves (grant only what you hold, the last Full administrator) live in `ops` and
//! the store, shared with the Administrators API.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use trustgate_core::access::{Access, Permission, PermissionSet, PLATFORM_SERVICE};
use trustgate_core::admin::{parse_display_name, AdminStatus, Email, Provider};
use trustgate_core::catalog::Catalog;
use trustgate_core::customer::{DisabledOwnerPolicy, LostAccessPolicy};
use trustgate_core::ids::AdminId;
use trustgate_core::lifecycle::{self, Authority, Refusal};
use trustgate_store::Member;

use super::confirm::{Alternative, Confirmation};
use super::error::{render, ConsoleError};
use super::extract::{Fields, InCustomer, Posted};
use super::layout::{describe, when, Layout, Section};
use super::lists::{by_text, Column, ListQuery, Listing, Pager, Sortable};
use crate::actions::{self, admins::NewAdmin};
use crate::cache::shown_once::InvitationShown;
use crate::error::ApiError;
use crate::state::AppState;

const PAGE_SIZE: usize = 50;
const COLUMNS: &[Sortable] =
    &[("name", "Administrator"), ("provider", "Identity provider"), ("status", "Status"), ("access", "Access")];

fn provider_label(provider: Provider) -> &'static str {
    match provider {
        Provider::Local => "Local (e-mail and password)",
        Provider::AzureAd => "Azure AD / Entra ID",
        Provider::Okta => "Okta",
        Provider::Google => "Google",
        Provider::Ad => "Active Directory",
    }
}

pub struct ProviderChoice {
    pub value: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

fn provider_choices(selected: Provider) -> Vec<ProviderChoice> {
    Provider::ALL
        .into_iter()
        .map(|p| ProviderChoice { value: p.wire_name(), label: provider_label(p), selected: p == selected })
        .collect()
}

/// Full or Custom with one checkbox per permission of the catalog, grouped by service.
pub struct AccessChoice {
    pub full: bool,
    pub services: Vec<ServiceChoice>,
}

/// The permissions of one service, under its display name: Platform first, then the operator's
/// services in the catalog's order.
pub struct ServiceChoice {
    pub legend: String,
    pub permissions: Vec<PermissionChoice>,
}

pub struct PermissionChoice {
    /// The form value: the permission's stored form (`systemLog`, `orders.read`).
    pub name: String,
    pub label: String,
    pub checked: bool,
}

impl AccessChoice {
    pub fn of(access: &Access, catalog: &Catalog) -> Self {
        let checked = |p: &Permission| matches!(access, Access::Custom(set) if set.contains(p));
        let choices = |service: &str| {
            catalog
                .entries()
                .filter(|e| e.permission.service_name() == service)
                .map(|e| PermissionChoice {
                    name: e.permission.to_string(),
                    checked: checked(&e.permission),
                    label: e.display_name,
                })
                .collect::<Vec<_>>()
        };
        let platform = ServiceChoice { legend: PLATFORM_SERVICE.to_owned(), permissions: choices(PLATFORM_SERVICE) };
        let declared = catalog
            .services()
            .iter()
            .map(|s| ServiceChoice { legend: s.display_name.clone(), permissions: choices(s.name.as_str()) })
            // A service declared without permissions offers nothing to tick.
            .filter(|s| !s.permissions.is_empty());
        Self { full: *access == Access::Full, services: std::iter::once(platform).chain(declared).collect() }
    }

    /// Custom access with nothing ticked: where every form starts.
    pub fn none(catalog: &Catalog) -> Self {
        Self::of(&Access::Custom(PermissionSet::empty()), catalog)
    }
}

/// Reads the access fields of a form; permissions are ignored when Full is chosen.
pub fn posted_access(form: &Fields, catalog: &Catalog) -> Result<Access, ApiError> {
    let granted = form.all("permission").map(|name| catalog.resolve(name)).collect::<Result<PermissionSet, _>>()?;
    Ok(Access::from_parts(form.get("access"), granted)?)
}

pub struct AdminRow {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub provider: &'static str,
    pub federated: bool,
    pub disabled: bool,
    pub access: String,
    pub is_you: bool,
    /// R7: a disabled federated administrator whose clients still work.
    pub warning: Option<String>,
    /// Why removing them would be refused, so it is not offered: in a few words for the list,
    /// and in full.
    pub not_removable: Option<(&'static str, &'static str)>,
    /// Invited and not accepted yet (issue #12): how the invitation stands, in a few words.
    pub pending: Option<String>,
}

/// Why the administrator may not remove `member` (the same rule the store enforces), or `None`.
fn removal_refused(ctx: &InCustomer, member: &Member, full_admins: u64) -> Option<(&'static str, &'static str)> {
    let authority = Authority::Holds(ctx.access());
    let decision = match member.pending {
        Some(_) => lifecycle::withdraw_or_resend(&authority, &member.access),
        None => lifecycle::remove(&authority, &member.access, full_admins),
    };
    match decision {
        Ok(()) => None,
        Err(Refusal::LastFullAdmin) => Some((
            "Cannot be removed: the only Full administrator",
            "The only administrator with Full access cannot be removed: a customer must keep one. Give someone else Full access first.",
        )),
        Err(_) => Some((
            "Cannot be removed: access beyond yours",
            "Their access goes beyond yours, so you cannot remove them.",
        )),
    }
}

/// Full administrators who hold it now: a pending invitation holds nothing yet.
fn full_admins(members: &[Member]) -> u64 {
    members.iter().filter(|m| m.access == Access::Full && m.pending.is_none()).count() as u64
}

/// Every administrator of the customer (a list cut into pages here, see `lists`).
async fn all_members(state: &AppState, ctx: &InCustomer) -> Result<Vec<Member>, ApiError> {
    Ok(state.store.members(&ctx.customer.id, None, u32::MAX).await?)
}

async fn row(state: &AppState, ctx: &InCustomer, member: &Member, full_admins: u64) -> Result<AdminRow, ApiError> {
    let admin = &member.admin;
    let disabled = admin.status == AdminStatus::Disabled;
    let warning = if disabled && ctx.customer.disabled_owner_policy == DisabledOwnerPolicy::KeepActive {
        let active = state.store.clients_of(&ctx.customer.id, admin.id).await?.len();
        let clients = match active {
            1 => "their API client remains active. Remove the administrator to revoke it.".to_owned(),
            n => format!("their {n} API clients remain active. Remove the administrator to revoke them."),
        };
        (active > 0).then(|| format!("Disabled at their identity provider, but {clients}"))
    } else {
        None
    };
    Ok(AdminRow {
        id: admin.id.to_string(),
        email: admin.email.to_string(),
        display_name: admin.display_name.clone(),
        provider: provider_label(admin.provider),
        federated: admin.provider.is_federated(),
        disabled,
        access: describe(&member.access, &state.catalog()),
        is_you: admin.id == ctx.session.admin.id,
        warning,
        not_removable: removal_refused(ctx, member, full_admins),
        pending: member.pending.map(|p| {
            if p.expired(state.config.clock.now_utc()) {
                "Invitation expired".to_owned()
            } else {
                format!("Invited, until {}", when(p.expires_at))
            }
        }),
    })
}

/// What the add form held, to show it again beside an error.
pub struct AddForm {
    pub email: String,
    pub display_name: String,
    pub providers: Vec<ProviderChoice>,
    pub access: AccessChoice,
}

impl AddForm {
    fn empty(catalog: &Catalog) -> Self {
        Self {
            email: String::new(),
            display_name: String::new(),
            providers: provider_choices(Provider::Local),
            access: AccessChoice::none(catalog),
        }
    }
}

#[derive(Template)]
#[template(path = "administrators.html")]
struct AdministratorsPage {
    layout: Layout,
    base: String,
    rows: Vec<AdminRow>,
    listing: Listing,
    search_label: &'static str,
    columns: Vec<Column>,
    pager: Pager,
    add: AddForm,
    error: Option<String>,
    notice: Option<String>,
    /// How an invitation just made went out, for its one view.
    invited: Option<InvitationShown>,
    /// How long an invitation lasts, counted: `5 days`, `1 day`.
    invitation_lifetime: String,
    /// For a Full administrator: whether local administrators must hold a second factor.
    mfa_policy: Option<bool>,
    /// For a Full administrator: whether a member whom their groups leave without access stays.
    keeps_without_access: Option<bool>,
}

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
    clients: Option<String>,
    /// The ticket of an invitation's delivery waiting for its one view.
    invited: Option<String>,
}

/// What the page says above the list: an error, a notice, or how an invitation just made went out.
#[derive(Default)]
struct Said {
    error: Option<String>,
    notice: Option<String>,
    invited: Option<InvitationShown>,
}

async fn show(
    state: &AppState,
    ctx: &InCustomer,
    status: StatusCode,
    list: &ListQuery,
    add: AddForm,
    said: Said,
) -> Result<Response, ConsoleError> {
    let Said { error, notice, invited } = said;
    let members = all_members(state, ctx).await?;
    let full = full_admins(&members);
    let listing = Listing::of(format!("{}/administrators", ctx.base()), list, COLUMNS, ("name", false), PAGE_SIZE);
    let matching = members
        .into_iter()
        .filter(|m| {
            let access = describe(&m.access, &state.catalog());
            let fields = [m.admin.display_name.as_str(), m.admin.email.as_str(), provider_label(m.admin.provider)];
            listing.matches(fields.into_iter().chain([access.as_str()]))
        })
        .collect();
    let (shown, pager) = listing.page_of(matching, |column, a: &Member, b: &Member| {
        let by_name = by_text(&a.admin.display_name, &b.admin.display_name);
        match column {
            "provider" => by_text(provider_label(a.admin.provider), provider_label(b.admin.provider)),
            "status" => (a.admin.status == AdminStatus::Disabled).cmp(&(b.admin.status == AdminStatus::Disabled)),
            "access" => by_text(&describe(&a.access, &state.catalog()), &describe(&b.access, &state.catalog())),
            _ => by_name,
        }
        .then(by_name)
        .then_with(|| a.admin.email.as_str().cmp(b.admin.email.as_str()))
    });
    let mut rows = Vec::with_capacity(shown.len());
    for member in &shown {
        rows.push(row(state, ctx, member, full).await?);
    }
    let page = AdministratorsPage {
        layout: ctx.layout("Administrators", Section::Administrators),
        base: ctx.base(),
        rows,
        columns: listing.columns(COLUMNS),
        listing,
        search_label: "Search administrators by name, e-mail, provider or access",
        pager,
        add,
        error,
        notice,
        invited,
        invitation_lifetime: super::layout::count(
            state.config.invitation_lifetime.as_secs().div_ceil(86_400),
            "day",
            "days",
        ),
        mfa_policy: (ctx.access() == Access::Full).then_some(ctx.customer.require_local_mfa),
        keeps_without_access: (ctx.access() == Access::Full)
            .then_some(ctx.customer.lost_access_policy == LostAccessPolicy::KeepInCustomer),
    };
    Ok(render(status, &page))
}

/// `GET /console/c/{customer}/administrators`
pub async fn page(
    State(state): State<AppState>,
    ctx: InCustomer,
    Query(done): Query<Done>,
    Query(list): Query<ListQuery>,
) -> Result<Response, ConsoleError> {
    ctx.require(Permission::ADMINISTRATORS)?;
    let notice = match done.done.as_deref() {
        Some("added") => Some("The administrator was added.".to_owned()),
        Some("cancelled") => Some("The invitation was cancelled; its link no longer works.".to_owned()),
        Some("access") => Some("Access was changed. Their API clients follow the new access at once.".to_owned()),
        Some("mfa-reset") => Some(
            "Their second factor was reset and their sessions ended. They set up a new one at their next sign-in."
                .to_owned(),
        ),
        Some("mfa-policy") => Some("The multi-factor policy was saved.".to_owned()),
        Some("lost-access-policy") => {
            Some("Saved what happens to a member whose groups leave them without access.".to_owned())
        }
        Some("removed") => {
            let clients = done.clients.as_deref().and_then(|c| c.parse::<u32>().ok()).unwrap_or(0);
            Some(match clients {
                1 => "The administrator was removed from this customer; their 1 API client was deleted.".to_owned(),
                n => {
                    format!("The administrator was removed from this customer; {n} of their API clients were deleted.")
                }
            })
        }
        _ => None,
    };
    let invited =
        done.invited.as_deref().and_then(|t| state.invitation_links.take(t, &ctx.session.digest, &ctx.customer.id));
    show(
        &state,
        &ctx,
        StatusCode::OK,
        &list,
        AddForm::empty(&state.catalog()),
        Said { notice, invited, ..Said::default() },
    )
    .await
}

/// Says once, after the redirect, how `added`'s invitation went out; or that the administrator was added.
fn after_adding(state: &AppState, ctx: &InCustomer, added: actions::invitations::Added) -> Response {
    let Some(delivery) = added.invitation else {
        return Redirect::to(&format!("{}/administrators?done=added", ctx.base())).into_response();
    };
    let shown = InvitationShown { email: added.member.admin.email.to_string(), delivery };
    let ticket = state.invitation_links.hold(ctx.session.digest, &ctx.customer.id, shown);
    Redirect::to(&format!("{}/administrators?invited={ticket}", ctx.base())).into_response()
}

/// `POST /console/c/{customer}/administrators/{id}/reinvite` — a new link, e-mailed; the previous one stops working.
pub async fn reinvite(
    State(state): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    Posted { ctx, .. }: Posted,
) -> Result<Response, ConsoleError> {
    ctx.require(Permission::ADMINISTRATORS)?;
    let member = member(&state, &ctx, &id).await?;
    let added =
        actions::invitations::resend_invitation(&state, &ctx.customer.id, member.admin.id, &ctx.actor()).await?;
    Ok(after_adding(&state, &ctx, added))
}

/// `POST /console/c/{customer}/administrators`
pub async fn add(State(state): State<AppState>, Posted { ctx, form }: Posted) -> Result<Response, ConsoleError> {
    ctx.require(Permission::ADMINISTRATORS)?;
    let provider = match form.get("provider") {
        "" => Ok(Provider::Local),
        text => Provider::parse(text),
    };
    let catalog = state.catalog();
    let access = posted_access(&form, &catalog);
    let kept = AddForm {
        email: form.get("email").to_owned(),
        display_name: form.get("display_name").to_owned(),
        providers: provider_choices(provider.clone().unwrap_or(Provider::Local)),
        access: match &access {
            Ok(access) => AccessChoice::of(access, &catalog),
            Err(_) => AccessChoice::none(&catalog),
        },
    };
    let added = async {
        let access = access?;
        let provider = provider?;
        let email = Email::parse_new(form.get("email"))?;
        let display_name = match form.get("display_name").trim() {
            "" => email.to_string(),
            name => parse_display_name(name)?,
        };
        let new = NewAdmin { email, display_name, provider, external_id: None, provider_id: None };
        actions::invitations::invite_admin(&state, &ctx.customer.id, new, access, &ctx.actor()).await
    }
    .await;
    match added {
        Ok(added) => Ok(after_adding(&state, &ctx, added)),
        Err(error) => {
            let conflict = matches!(error, ApiError::Conflict(_));
            let error = ConsoleError::from(error);
            let message = if conflict {
                "That administrator already belongs to this customer.".to_owned()
            } else {
                error.message().to_owned()
            };
            let said = Said { error: Some(message), ..Said::default() };
            show(&state, &ctx, error.status(), &ListQuery::default(), kept, said).await
        }
    }
}

#[derive(Template)]
#[template(path = "admin_edit.html")]
struct EditPage {
    layout: Layout,
    base: String,
    row: AdminRow,
    /// The customer's only Full administrator: their access cannot be lowered.
    only_full: bool,
    since: String,
    access: AccessChoice,
    error: Option<String>,
    /// A local administrator's second factor: whether they hold one; `None` for a federated one.
    second_factor: Option<bool>,
    /// Whether this administrator may reset it: Full access, someone else, a factor to reset.
    can_reset: bool,
}

async fn member(state: &AppState, ctx: &InCustomer, id: &str) -> Result<Member, ConsoleError> {
    let id = AdminId::parse(id).map_err(|_| ApiError::NotFound("administrator"))?;
    Ok(state
        .store
        .member(&ctx.customer.id, id)
        .await
        .map_err(ApiError::from)?
        .ok_or(ApiError::NotFound("administrator"))?)
}

async fn show_edit(
    state: &AppState,
    ctx: &InCustomer,
    member: &Member,
    status: StatusCode,
    access: Access,
    error: Option<String>,
) -> Result<Response, ConsoleError> {
    let full = full_admins(&all_members(state, ctx).await?);
    let second_factor = if member.admin.provider.is_federated() {
        None
    } else {
        Some(crate::actions::second_factor::has_factor(state, &member.admin).await?)
    };
    let own = member.admin.id == ctx.session.admin.id;
    let can_reset =
        second_factor == Some(true) && lifecycle::reset_second_factor(&Authority::Holds(ctx.access()), own).is_ok();
    let page = EditPage {
        second_factor,
        can_reset,
        layout: ctx.layout("Change access", Section::Administrators),
        base: ctx.base(),
        only_full: member.pending.is_none() && member.access == Access::Full && full <= 1,
        row: row(state, ctx, member, full).await?,
        since: when(member.created_at),
        access: AccessChoice::of(&access, &state.catalog()),
        error,
    };
    Ok(render(status, &page))
}

/// `GET /console/c/{customer}/administrators/{id}`
pub async fn edit(
    State(state): State<AppState>,
    ctx: InCustomer,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ConsoleError> {
    ctx.require(Permission::ADMINISTRATORS)?;
    let member = member(&state, &ctx, &id).await?;
    show_edit(&state, &ctx, &member, StatusCode::OK, member.access.clone(), None).await
}

/// `POST /console/c/{customer}/administrators/{id}` — R5: their clients follow at once.
pub async fn change_access(
    State(state): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    Posted { ctx, form }: Posted,
) -> Result<Response, ConsoleError> {
    ctx.require(Permission::ADMINISTRATORS)?;
    let member = member(&state, &ctx, &id).await?;
    let catalog = state.catalog();
    let wanted = posted_access(&form, &catalog);
    let changed = match &wanted {
        Ok(access) => state
            .store
            .set_access(&ctx.customer.id, member.admin.id, access.clone(), &ctx.actor())
            .await
            .map(drop)
            .map_err(ApiError::from),
        Err(_) => Ok(()),
    };
    match wanted.and(changed) {
        Ok(()) => Ok(Redirect::to(&format!("{}/administrators?done=access", ctx.base())).into_response()),
        Err(error) => {
            let error = ConsoleError::from(error);
            let shown = posted_access(&form, &catalog).unwrap_or_else(|_| member.access.clone());
            show_edit(&state, &ctx, &member, error.status(), shown, Some(error.message().to_owned())).await
        }
    }
}

/// `GET /console/c/{customer}/administrators/{id}/remove` — says how many clients go with them (R6).
pub async fn confirm_remove(
    State(state): State<AppState>,
    ctx: InCustomer,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ConsoleError> {
    ctx.require(Permission::ADMINISTRATORS)?;
    let member = member(&state, &ctx, &id).await?;
    let full = full_admins(&all_members(&state, &ctx).await?);
    if let Some((_, why)) = removal_refused(&ctx, &member, full) {
        return Err(ConsoleError::page(StatusCode::CONFLICT, why));
    }
    let clients = state.store.clients_of(&ctx.customer.id, member.admin.id).await.map_err(ApiError::from)?.len();
    let consequence = match clients {
        0 => "They own no API clients in this customer.".to_owned(),
        1 => "Their 1 API client in this customer will be deleted, and scripts using it stop working at once.".to_owned(),
        n => format!("All {n} of their API clients in this customer will be deleted, and scripts using them stop working at once."),
    };
    let action = format!("{}/administrators/{}/remove", ctx.base(), member.admin.id);
    let cancel = format!("{}/administrators", ctx.base());
    if member.pending.is_some() {
        let heading = format!("Cancel the invitation of {} to {}?", member.admin.email, ctx.customer.name);
        let confirmation =
            Confirmation::new(&ctx, Section::Administrators, "Cancel invitation", heading, action, cancel)
                .line(format!("Access offered: {}", describe(&member.access, &state.catalog())))
                .warning("The invitation link stops working at once.")
                .cancel_label("Keep the invitation");
        return Ok(confirmation.into_response());
    }
    // SP7: a Full administrator may keep the clients alive as service principals first.
    let alternative = (clients > 0 && ctx.access() == Access::Full).then(|| {
        let (it, what, they) = if clients == 1 {
            ("it", "a service principal", "it then belongs")
        } else {
            ("them", "service principals", "they then belong")
        };
        Alternative {
            note: format!(
                "To keep {it} working, convert {it} to {what} first: {they} to the customer, with the access {} has now, and outlive this removal.",
                member.admin.email
            ),
            action: format!("{}/administrators/{}/convert-clients", ctx.base(), member.admin.id),
            label: if clients == 1 { "Convert to a service principal" } else { "Convert to service principals" },
        }
    });
    let heading = format!("Remove {} from {}?", member.admin.email, ctx.customer.name);
    let confirmation =
        Confirmation::new(&ctx, Section::Administrators, "Remove administrator", heading, action, cancel)
            .line(format!("Access: {}", describe(&member.access, &state.catalog())))
            .line("Their API clients in other customers are not affected.".to_owned())
            .warning(consequence)
            .alternative(alternative);
    Ok(confirmation.into_response())
}

/// `POST /console/c/{customer}/administrators/{id}/convert-clients` — SP7 for each of the
/// administrator's clients here, then back to the removal, which now deletes none.
pub async fn convert_clients(
    State(state): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    Posted { ctx, .. }: Posted,
) -> Result<Response, ConsoleError> {
    ctx.require(Permission::ADMINISTRATORS)?;
    let member = member(&state, &ctx, &id).await?;
    let clients = state.store.clients_of(&ctx.customer.id, member.admin.id).await.map_err(ApiError::from)?;
    for client in clients {
        state.store.convert_to_principal(&ctx.customer.id, client.id, &ctx.actor()).await.map_err(ApiError::from)?;
    }
    Ok(Redirect::to(&format!("{}/administrators/{}/remove", ctx.base(), member.admin.id)).into_response())
}

/// `POST /console/c/{customer}/administrators/{id}/remove` — R6, atomically in the store.
pub async fn remove(
    State(state): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    Posted { ctx, .. }: Posted,
) -> Result<Response, ConsoleError> {
    ctx.require(Permission::ADMINISTRATORS)?;
    let member = member(&state, &ctx, &id).await?;
    let deleted =
        state.store.remove_member(&ctx.customer.id, member.admin.id, &ctx.actor()).await.map_err(ApiError::from)?;
    if member.pending.is_some() {
        return Ok(Redirect::to(&format!("{}/administrators?done=cancelled", ctx.base())).into_response());
    }
    if member.admin.id == ctx.session.admin.id {
        // They removed themselves: this customer is no longer theirs to see.
        return Ok(Redirect::to("/console").into_response());
    }
    Ok(Redirect::to(&format!("{}/administrators?done=removed&clients={deleted}", ctx.base())).into_response())
}

/// The R7 warning's second way out: the customer's policy becomes "suspend clients of disabled
/// admins". Full administrators only, as the warning is shown to them only.
pub async fn suspend_disabled_owners(
    State(state): State<AppState>,
    Posted { ctx, .. }: Posted,
) -> Result<Response, ConsoleError> {
    if ctx.access() != Access::Full {
        return Err(ApiError::Forbidden(
            "only an administrator with Full access changes the customer's policy".to_owned(),
        )
        .into());
    }
    state
        .store
        .set_disabled_owner_policy(&ctx.customer.id, DisabledOwnerPolicy::SuspendClients, &ctx.actor())
        .await
        .map_err(ApiError::from)?;
    Ok(Redirect::to(&ctx.base()).into_response())
}

/// `POST /console/c/{customer}/administrators/{id}/reset-second-factor` — for a member who lost
/// their device (issue #25): the factor and recovery codes go, their sessions end, and they enrol
/// again at their next sign-in. Another Full administrator only; checked again in the store.
pub async fn reset_second_factor(
    State(state): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    Posted { ctx, .. }: Posted,
) -> Result<Response, ConsoleError> {
    ctx.require(Permission::ADMINISTRATORS)?;
    let member = member(&state, &ctx, &id).await?;
    state.store.reset_second_factor(&ctx.customer.id, member.admin.id, &ctx.actor()).await.map_err(ApiError::from)?;
    Ok(Redirect::to(&format!("{}/administrators?done=mfa-reset", ctx.base())).into_response())
}

/// `POST /console/c/{customer}/mfa-policy` — whether local administrators must hold a second
/// factor; Full administrators only (checked in the store too).
pub async fn set_mfa_policy(
    State(state): State<AppState>,
    Posted { ctx, form }: Posted,
) -> Result<Response, ConsoleError> {
    lifecycle::set_mfa_policy(&Authority::Holds(ctx.access())).map_err(|r| ApiError::Forbidden(r.to_string()))?;
    let required = form.get("require") == "on";
    state.store.set_local_mfa_policy(&ctx.customer.id, required, &ctx.actor()).await.map_err(ApiError::from)?;
    Ok(Redirect::to(&format!("{}/administrators?done=mfa-policy", ctx.base())).into_response())
}

/// `POST /console/c/{customer}/lost-access-policy` — what happens to a member whom a change to
/// their groups leaves with no access (issue #25); Full administrators only (checked in the store too).
pub async fn set_lost_access_policy(
    State(state): State<AppState>,
    Posted { ctx, form }: Posted,
) -> Result<Response, ConsoleError> {
    lifecycle::set_lost_access_policy(&Authority::Holds(ctx.access()))
        .map_err(|r| ApiError::Forbidden(r.to_string()))?;
    let policy = LostAccessPolicy::parse(form.get("policy")).map_err(ApiError::from)?;
    state.store.set_lost_access_policy(&ctx.customer.id, policy, &ctx.actor()).await.map_err(ApiError::from)?;
    Ok(Redirect::to(&format!("{}/administrators?done=lost-access-policy", ctx.base())).into_response())
}
