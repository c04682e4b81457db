//! The Administrators API (`/administrators…`), with Citrix's paths and field names. Changing or
//! removing an administrator here applies R5 and R6 to their API clients.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use trustgate_core::admin::{parse_display_name, Email};
use trustgate_core::client::{ApiClient, ClientKind};
use trustgate_core::ids::{AdminId, ClientId, GroupId};
use trustgate_core::ValidationError;
use trustgate_store::{GroupFilter, StoreError};

use crate::actions::{self, admins::NewAdmin};
use crate::error::{ApiError, GatewayError};
use crate::http::body::{Json, PathParams, QueryParams};
use crate::platform::auth::{needs, Authorized};
use crate::platform::shapes::{
    access_model, administrator_result, group_result, page_size, parse_access, parse_provider, principal_result,
    AccessModel, AdministratorResult, PolicyIn, ProviderType,
};
use crate::state::AppState;
use utoipa::ToSchema;

const MAX_PAGE: u32 = 200;
const DEFAULT_PAGE: u32 = 100;
/// Citrix's `AdministratorType`: administrators are `AdministratorUser`s, groups of the
/// customer's identity provider `AdministratorGroup`s, service principals `ServicePrincipal`s.
const ADMINISTRATOR_TYPES: [&str; 3] = ["AdministratorUser", "AdministratorGroup", "ServicePrincipal"];

type Caller = Authorized<needs::Administrators>;

/// A page of administrators: `items` first, `continuationToken` last, as Citrix answers.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdministratorList {
    items: Vec<AdministratorResult>,
    /// Pass as `requestContinuation` for the next page; null on the last.
    continuation_token: Option<String>,
}

/// Accepts a `userId` or a `ucOid` (`OID:/citrix/<userId>`); a group's and a principal's ids have
/// the same form.
fn admin_id(text: &str) -> Result<AdminId, ApiError> {
    let text = text.strip_prefix("OID:/citrix/").unwrap_or(text);
    AdminId::parse(text).map_err(|_| ApiError::NotFound("administrator"))
}

/// The customer's administrators, a page at a time.
#[utoipa::path(
    get,
    path = "/administrators",
    tag = "administrators",
    params(
        crate::openapi::CustomerHeader,
        ("maxItemCount" = Option<u32>, Query, minimum = 1, maximum = 200, description = "Page size (default 100)"),
        ("requestContinuation" = Option<String>, Query, description = "`continuationToken` of the previous page"),
        ("id" = Option<String>, Query, description = "Only this administrator (`userId` or `ucOid`)"),
        ("type" = Option<String>, Query, description = "`AdministratorUser`, `AdministratorGroup` or `ServicePrincipal`"),
        ("providerType" = Option<String>, Query, description = "Only administrators of this `providerType`: `Ad`, `AzureAd`, `CitrixSts` or `Google`"),
    ),
    responses(
        (status = 200, description = "A page of administrators", body = AdministratorList),
        crate::openapi::AdministratorsErrors,
    ),
    extensions(("x-trustgate-permission" = json!("administrators")))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: QueryParams,
) -> Result<axum::Json<AdministratorList>, ApiError> {
    let param = |name: &str| query.get(name);
    let limit = page_size("maxItemCount", param("maxItemCount"), DEFAULT_PAGE, MAX_PAGE)?;
    let start = param("requestContinuation").filter(|t| !t.is_empty()).map(Continuation::parse).transpose()?;
    let actor = caller.actor();
    let now = state.config.clock.now_utc();
    if let Some(id) = param("id") {
        let id = admin_id(id)?;
        let member = state.store.member(&caller.customer_id, id).await?;
        let mut items: Vec<_> = member.iter().map(|m| administrator_result(&caller.customer_id, m, now)).collect();
        if items.is_empty() {
            items.extend(state.store.group(&caller.customer_id, GroupId::from(id)).await?.as_ref().map(group_result));
        }
        if items.is_empty() {
            items.extend(
                visible_principal(&state, &caller, ClientId::from(id)).await?.as_ref().and_then(principal_result),
            );
        }
        return Ok(axum::Json(AdministratorList { items, continuation_token: None }));
    }
    let (users, groups, principals) = match param("type") {
        None => (true, true, true),
        Some(kind) => {
            let kind = ADMINISTRATOR_TYPES
                .iter()
                .find(|t| t.eq_ignore_ascii_case(kind.trim()))
                .ok_or_else(|| ValidationError::invalid_enum("type", &ADMINISTRATOR_TYPES))?;
            (*kind == "AdministratorUser", *kind == "AdministratorGroup", *kind == "ServicePrincipal")
        }
    };
    let provider = param("providerType").map(ProviderType::parse).transpose()?;
    let mut items = Vec::new();
    let mut listed = 0;
    let after_principal = match start {
        None | Some(Continuation::Administrators(_)) if users => {
            let after = match start {
                Some(Continuation::Administrators(after)) => Some(after),
                _ => None,
            };
            let members = state.store.members(&caller.customer_id, after, limit + 1).await?;
            let more = members.len() > limit as usize;
            let page = &members[..members.len().min(limit as usize)];
            items.extend(
                page.iter()
                    .filter(|m| provider.is_none_or(|p| ProviderType::from(m.admin.provider) == p))
                    .map(|m| administrator_result(&caller.customer_id, m, now)),
            );
            if more {
                let continuation = page.last().map(|m| m.admin.id.to_string());
                return Ok(axum::Json(AdministratorList { items, continuation_token: continuation }));
            }
            listed = page.len();
            None
        }
        Some(Continuation::Principals(after)) => after,
        _ => None,
    };
    // Groups follow the administrators, before the principals; a `providerType` filter, which
    // names how a person signs in, leaves them out.
    let groups_from = match start {
        None | Some(Continuation::Administrators(_)) => Some(0),
        Some(Continuation::Groups(offset)) => Some(offset),
        Some(Continuation::Principals(_)) => None,
    };
    if let (true, None, Some(offset)) = (groups, provider, groups_from) {
        let room = limit - u32::try_from(listed).unwrap_or(limit);
        let (_, found) = state.store.groups(&caller.customer_id, &GroupFilter::All, offset, room + 1).await?;
        let more = found.len() > room as usize;
        let page = &found[..found.len().min(room as usize)];
        items.extend(page.iter().map(group_result));
        if more {
            let next = offset + u64::from(room);
            return Ok(axum::Json(AdministratorList { items, continuation_token: Some(format!("{GROUPS}{next}")) }));
        }
        listed += page.len();
    }
    // Principals follow the administrators; they have no identity provider, so a `providerType`
    // filter leaves them out. Only Full administrators see them (SP3): to anyone else a list of
    // every type simply holds none.
    let room = limit - u32::try_from(listed).unwrap_or(limit);
    if principals && provider.is_none() {
        let found = match state.store.principals(&caller.customer_id, after_principal, room + 1, &actor).await {
            Err(StoreError::Refused(refusal)) if users && refusal.is_forbidden() => Vec::new(),
            found => found?,
        };
        let more = found.len() > room as usize;
        let page = &found[..found.len().min(room as usize)];
        items.extend(page.iter().filter_map(principal_result));
        if more {
            let last = page.last().map(|p| p.id).or(after_principal);
            let continuation = format!("{PRINCIPALS}{}", last.map(|id| id.to_string()).unwrap_or_default());
            return Ok(axum::Json(AdministratorList { items, continuation_token: Some(continuation) }));
        }
    }
    Ok(axum::Json(AdministratorList { items, continuation_token: None }))
}

/// Continuation tokens of the first principal page start with this; a principal's id follows on the next.
const PRINCIPALS: &str = "sp:";
/// Continuation tokens within the groups start with this, the offset of the next group following.
const GROUPS: &str = "grp:";

/// Where a page of administrators resumes: after an administrator, or among the principals that
/// follow them.
#[derive(Debug, Clone, Copy)]
enum Continuation {
    Administrators(AdminId),
    Groups(u64),
    Principals(Option<ClientId>),
}

impl Continuation {
    fn parse(text: &str) -> Result<Self, ValidationError> {
        let invalid = || ValidationError::invalid("requestContinuation", "not a continuation token");
        if let Some(offset) = text.strip_prefix(GROUPS) {
            return offset.parse().map(Continuation::Groups).map_err(|_| invalid());
        }
        match text.strip_prefix(PRINCIPALS) {
            Some("") => Ok(Continuation::Principals(None)),
            Some(id) => ClientId::parse(id).map(|id| Continuation::Principals(Some(id))).map_err(|_| invalid()),
            None => AdminId::parse(text).map(Continuation::Administrators).map_err(|_| invalid()),
        }
    }
}

/// The customer's service principal `id`, if there is one and the caller may see it (SP3).
async fn visible_principal(state: &AppState, caller: &Caller, id: ClientId) -> Result<Option<ApiClient>, ApiError> {
    match state.store.principal(&caller.customer_id, id, &caller.actor()).await {
        Err(StoreError::Refused(refusal)) if refusal.is_forbidden() => Ok(None),
        found => Ok(found?),
    }
}

/// An administrator's access, as the full policy template.
#[utoipa::path(
    get,
    path = "/administrators/{id}/access",
    tag = "administrators",
    params(crate::openapi::CustomerHeader, ("id" = String, Path, description = "`userId` or `ucOid`")),
    responses(
        (status = 200, description = "The administrator's access", body = AccessModel),
        crate::openapi::AdministratorsErrors,
    ),
    extensions(("x-trustgate-permission" = json!("administrators")))
)]
pub async fn get_access(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(id): PathParams<String>,
) -> Result<axum::Json<AccessModel>, ApiError> {
    let id = admin_id(&id)?;
    if let Some(member) = state.store.member(&caller.customer_id, id).await? {
        return Ok(axum::Json(access_model(&member.access, &state.catalog())));
    }
    if let Some(group) = state.store.group(&caller.customer_id, GroupId::from(id)).await? {
        return Ok(axum::Json(access_model(&group.access, &state.catalog())));
    }
    match visible_principal(&state, &caller, ClientId::from(id)).await?.map(|p| p.kind) {
        Some(ClientKind::ServicePrincipal { access }) => Ok(axum::Json(access_model(&access, &state.catalog()))),
        _ => Err(ApiError::NotFound("administrator")),
    }
}

/// Citrix's `CreateAdministratorInputModel`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateAdministrator {
    /// `Full` or `Custom`.
    #[schema(example = "Custom")]
    access_type: String,
    /// `Ad`, `AzureAd`, `CitrixSts` or `Google`.
    #[schema(example = "CitrixSts")]
    provider_type: String,
    /// `AzureAd`, `Ad`, `Okta` or `Google`: the administrator's external identity provider
    /// (Okta is `providerType` `CitrixSts` with `externalProviderType` `Okta`).
    #[schema(example = "Okta")]
    external_provider_type: Option<String>,
    /// `AdministratorUser`.
    #[serde(rename = "type")]
    #[schema(example = "AdministratorUser")]
    kind: String,
    #[schema(max_length = 256)]
    display_name: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    /// Required.
    email: Option<String>,
    #[schema(max_length = 256)]
    external_user_id: Option<String>,
    /// The provider's directory the administrator comes from: the Azure AD (Entra) tenant id, or
    /// the Active Directory domain. Returned as `providerId`; ignored for `CitrixSts` administrators.
    #[schema(max_length = 256)]
    external_provider_id: Option<String>,
    /// With `Custom`: the policies granted.
    policies: Option<Vec<PolicyIn>>,
}

/// Adds an administrator (new, or known by e-mail) to the customer. A local (`CitrixSts`)
/// administrator, new or one who already administers another customer, is invited: the answer
/// is `pending` and grants nothing until accepted. The invitation link is e-mailed to the invitee
/// and never returned to the caller; without a mail server the deployment's operator passes it on.
#[utoipa::path(
    post,
    path = "/administrators/$create",
    tag = "administrators",
    params(crate::openapi::CustomerHeader),
    request_body(content = CreateAdministrator, content_type = "application/json"),
    responses(
        (status = 200, description = "The administrator, as added", body = AdministratorResult),
        crate::openapi::AdministratorsErrors,
    ),
    extensions(("x-trustgate-permission" = json!("administrators")))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(input): Json<CreateAdministrator>,
) -> Result<axum::Json<AdministratorResult>, ApiError> {
    if !input.kind.eq_ignore_ascii_case("AdministratorUser") {
        return Err(ValidationError::invalid_enum("type", &["AdministratorUser"]).into());
    }
    let access = parse_access(&input.access_type, input.policies.as_deref(), &state.catalog())?;
    let provider = parse_provider(&input.provider_type, input.external_provider_type.as_deref())?;
    let email = Email::parse_new(input.email.as_deref().unwrap_or_default())?;
    let display_name = match (&input.display_name, &input.first_name, &input.last_name) {
        (Some(name), _, _) => parse_display_name(name)?,
        (None, Some(first), Some(last)) => parse_display_name(&format!("{first} {last}"))?,
        (None, Some(one), None) | (None, None, Some(one)) => parse_display_name(one)?,
        (None, None, None) => email.to_string(),
    };
    let external_id = optional_text("externalUserId", input.external_user_id.as_deref())?;
    let provider_id = optional_text("externalProviderId", input.external_provider_id.as_deref())?;
    let new = NewAdmin { email, display_name, provider, external_id, provider_id };
    let added = actions::invitations::invite_admin(&state, &caller.customer_id, new, access, &caller.actor()).await?;
    Ok(axum::Json(administrator_result(&caller.customer_id, &added.member, state.config.clock.now_utc())))
}

/// An optional identifier of at most 256 bytes, trimmed; empty is none.
fn optional_text(field: &'static str, text: Option<&str>) -> Result<Option<String>, ApiError> {
    match text.map(str::trim) {
        Some(id) if id.len() > 256 => Err(ValidationError::too_long(field, 256).into()),
        Some(id) if !id.is_empty() => Ok(Some(id.to_owned())),
        _ => Ok(None),
    }
}

/// `accessType` and, with `Custom`, the policies granted (the template of `GET …/access`, edited).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessModelIn {
    /// `Full` or `Custom`; or `Reinvite`, to send a pending administrator a new invitation.
    #[schema(example = "Full")]
    access_type: String,
    policies: Option<Vec<PolicyIn>>,
}

/// Changes an administrator's access; their API clients follow at once (R5). `accessType:
/// Reinvite` sends a pending administrator a new invitation instead (the previous link stops
/// working; the new one is e-mailed to them) and answers with their access.
#[utoipa::path(
    put,
    path = "/administrators/access",
    tag = "administrators",
    params(crate::openapi::CustomerHeader, ("id" = String, Query, description = "`userId` or `ucOid`")),
    request_body(content = AccessModelIn, content_type = "application/json"),
    responses(
        (status = 200, description = "The access now held", body = AccessModel),
        crate::openapi::AdministratorsErrors,
    ),
    extensions(("x-trustgate-permission" = json!("administrators")))
)]
pub async fn update_access(
    State(state): State<AppState>,
    caller: Caller,
    query: QueryParams,
    Json(input): Json<AccessModelIn>,
) -> Result<axum::Json<AccessModel>, ApiError> {
    let id = admin_id(query.required("id")?)?;
    if input.access_type.trim().eq_ignore_ascii_case("Reinvite") {
        let added = actions::invitations::resend_invitation(&state, &caller.customer_id, id, &caller.actor()).await?;
        return Ok(axum::Json(access_model(&added.member.access, &state.catalog())));
    }
    let access = parse_access(&input.access_type, input.policies.as_deref(), &state.catalog())?;
    if state.store.member(&caller.customer_id, id).await?.is_none()
        && state.store.group(&caller.customer_id, GroupId::from(id)).await?.is_some()
    {
        // A group's access: a Full caller only; every member and their clients follow at once.
        state.store.set_group_access(&caller.customer_id, GroupId::from(id), access.clone(), &caller.actor()).await?;
        return Ok(axum::Json(access_model(&access, &state.catalog())));
    }
    if state.store.member(&caller.customer_id, id).await?.is_none() {
        // Not an administrator: a service principal's access, changed by a Full caller only (SP3).
        state
            .store
            .set_principal_access(&caller.customer_id, ClientId::from(id), access.clone(), &caller.actor())
            .await
            .map_err(|e| match e {
                StoreError::NotFound(_) => ApiError::NotFound("administrator"),
                e => e.into(),
            })?;
        return Ok(axum::Json(access_model(&access, &state.catalog())));
    }
    state.store.set_access(&caller.customer_id, id, access.clone(), &caller.actor()).await?;
    Ok(axum::Json(access_model(&access, &state.catalog())))
}

/// Removes an administrator from the customer; their API clients there are deleted with them (R6).
#[utoipa::path(
    delete,
    path = "/administrators/{id}",
    tag = "administrators",
    params(crate::openapi::CustomerHeader, ("id" = String, Path, description = "`userId` or `ucOid`")),
    responses(
        (status = 200, description = "Removed; the body is empty"),
        crate::openapi::AdministratorsErrors,
    ),
    extensions(("x-trustgate-permission" = json!("administrators")))
)]
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(id): PathParams<String>,
) -> Result<StatusCode, ApiError> {
    let id = admin_id(&id)?;
    state.store.remove_member(&caller.customer_id, id, &caller.actor()).await?;
    Ok(StatusCode::OK)
}

/// Cancels the pending invitation of the administrator with this e-mail; answers `true`, as Citrix does.
#[utoipa::path(
    delete,
    path = "/administrators/invitations",
    tag = "administrators",
    params(
        crate::openapi::CustomerHeader,
        ("email" = String, Query, description = "The e-mail the administrator was invited with"),
    ),
    responses(
        (status = 200, description = "Cancelled", body = bool),
        (status = "4XX", description = "Refused: 400 invalid input, 401 missing or invalid token, 403 the owner's access does not allow it, 404 no pending invitation for this e-mail", body = GatewayError),
        crate::openapi::StoreUnavailable,
    ),
    extensions(("x-trustgate-permission" = json!("administrators")))
)]
pub async fn delete_invitation(
    State(state): State<AppState>,
    caller: Caller,
    query: QueryParams,
) -> Result<axum::Json<bool>, ApiError> {
    let email = Email::parse(query.required("email")?)?;
    let cancelled = state.store.cancel_invitation(&caller.customer_id, &email, &caller.actor()).await?;
    ApiError::unless_found(cancelled, "invitation")?;
    Ok(axum::Json(true))
}
