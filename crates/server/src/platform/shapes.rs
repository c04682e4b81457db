//! Citrix wire shapes shared by several routes: timestamps, `AdministratorResult`,
//! `AdministratorAccessModel`.

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use trustgate_core::access::{Access, PermissionSet};
use trustgate_core::admin::Provider;
use trustgate_core::catalog::Catalog;
use trustgate_core::client::{ApiClient, ClientKind};
use trustgate_core::ids::CustomerId;
use trustgate_core::ValidationError;
use trustgate_store::Member;
use utoipa::ToSchema;

pub fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

pub fn parse_rfc3339(field: &'static str, text: &str) -> Result<OffsetDateTime, ValidationError> {
    OffsetDateTime::parse(text.trim(), &Rfc3339).map_err(|_| {
        ValidationError::invalid(field, format!("{field} must be an RFC 3339 date-time, e.g. 2026-01-31T12:00:00Z"))
    })
}

/// A page size as the platform APIs take it: `default` when absent, else a whole number from 1 to
/// `max`.
pub fn page_size(field: &'static str, text: Option<&str>, default: u32, max: u32) -> Result<u32, ValidationError> {
    let Some(text) = text else { return Ok(default) };
    text.parse::<u32>()
        .ok()
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| ValidationError::out_of_range(field, format!("{field} must be 1 to {max}")))
}

/// Citrix's `AdministratorResult`, in Citrix's field order.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdministratorResult {
    customer_id: String,
    /// `OID:/citrix/<userId>`
    uc_oid: String,
    user_id: String,
    /// `AdministratorUser`; `AdministratorGroup` for a group of the customer's identity provider
    /// (whose `userId` is its id); or `ServicePrincipal` for a service principal (whose `userId` is
    /// its client id).
    #[serde(rename = "type")]
    kind: &'static str,
    #[schema(inline)]
    access_type: AccessType,
    first_name: Option<String>,
    last_name: Option<String>,
    display_name: String,
    /// Null for a service principal, which has no e-mail.
    email: Option<String>,
    /// Null for a service principal.
    #[schema(inline)]
    provider_type: Option<ProviderType>,
    /// The provider's directory, as given at creation (`externalProviderId`): the Azure AD tenant
    /// id or the Active Directory domain; null when none was given, and for local administrators.
    provider_id: Option<String>,
    external_oid: Option<String>,
    /// The external identity provider of a federated administrator; null for `CitrixSts` accounts.
    #[schema(inline)]
    external_provider_type: Option<ExternalProviderType>,
    /// `active` or `disabled`.
    status: &'static str,
    /// Invited and not accepted yet: the administrator has no access until they accept.
    pending: bool,
    /// The invitation expired unaccepted; `accessType: Reinvite` sends a new one.
    invitation_expired: bool,
    legacy_providers: Vec<String>,
    #[schema(format = DateTime)]
    created_date: String,
    #[schema(format = DateTime)]
    updated_date: String,
}

/// `Full`, or `Custom` with the policies granted.
#[derive(Serialize, ToSchema)]
pub enum AccessType {
    Full,
    Custom,
}

impl From<&Access> for AccessType {
    fn from(access: &Access) -> Self {
        match access {
            Access::Full => AccessType::Full,
            Access::Custom(_) => AccessType::Custom,
        }
    }
}

/// Citrix's `AdministratorProviderType`: a client that knows only these four refuses a whole page
/// holding any other value, so an Okta administrator is `CitrixSts` plus `externalProviderType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub enum ProviderType {
    Ad,
    AzureAd,
    /// A local Trustgate account, or an administrator federated from Okta.
    CitrixSts,
    Google,
}

impl ProviderType {
    const ALL: [ProviderType; 4] =
        [ProviderType::Ad, ProviderType::AzureAd, ProviderType::CitrixSts, ProviderType::Google];

    fn name(self) -> &'static str {
        match self {
            ProviderType::Ad => "Ad",
            ProviderType::AzureAd => "AzureAd",
            ProviderType::CitrixSts => "CitrixSts",
            ProviderType::Google => "Google",
        }
    }

    /// Citrix's spellings, case-insensitively; nothing else (not `Okta`).
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        Self::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| ValidationError::invalid_enum("providerType", &Self::ALL.map(ProviderType::name)))
    }
}

impl From<Provider> for ProviderType {
    fn from(provider: Provider) -> Self {
        match provider {
            Provider::Local | Provider::Okta => ProviderType::CitrixSts,
            Provider::AzureAd => ProviderType::AzureAd,
            Provider::Google => ProviderType::Google,
            Provider::Ad => ProviderType::Ad,
        }
    }
}

/// Citrix's `AdministratorExternalProviderType`: the identity provider a federated administrator
/// signs in with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub enum ExternalProviderType {
    AzureAd,
    Ad,
    Okta,
    Google,
}

impl ExternalProviderType {
    const ALL: [ExternalProviderType; 4] = [
        ExternalProviderType::AzureAd,
        ExternalProviderType::Ad,
        ExternalProviderType::Okta,
        ExternalProviderType::Google,
    ];

    fn name(self) -> &'static str {
        match self {
            ExternalProviderType::AzureAd => "AzureAd",
            ExternalProviderType::Ad => "Ad",
            ExternalProviderType::Okta => "Okta",
            ExternalProviderType::Google => "Google",
        }
    }

    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        Self::ALL.into_iter().find(|p| p.name().eq_ignore_ascii_case(text.trim())).ok_or_else(|| {
            ValidationError::invalid_enum("externalProviderType", &Self::ALL.map(ExternalProviderType::name))
        })
    }

    fn of(provider: Provider) -> Option<Self> {
        match provider {
            Provider::Local => None,
            Provider::AzureAd => Some(ExternalProviderType::AzureAd),
            Provider::Ad => Some(ExternalProviderType::Ad),
            Provider::Okta => Some(ExternalProviderType::Okta),
            Provider::Google => Some(ExternalProviderType::Google),
        }
    }
}

/// The provider of an administrator added with Citrix's `providerType` and, optionally,
/// `externalProviderType` (which names the federation when given, as for Okta).
pub fn parse_provider(provider_type: &str, external: Option<&str>) -> Result<Provider, ValidationError> {
    let provider_type = ProviderType::parse(provider_type)?;
    let external = external.filter(|t| !t.trim().is_empty()).map(ExternalProviderType::parse).transpose()?;
    Ok(match (external, provider_type) {
        (Some(ExternalProviderType::AzureAd), _) => Provider::AzureAd,
        (Some(ExternalProviderType::Ad), _) => Provider::Ad,
        (Some(ExternalProviderType::Okta), _) => Provider::Okta,
        (Some(ExternalProviderType::Google), _) => Provider::Google,
        (None, ProviderType::CitrixSts) => Provider::Local,
        (None, ProviderType::AzureAd) => Provider::AzureAd,
        (None, ProviderType::Ad) => Provider::Ad,
        (None, ProviderType::Google) => Provider::Google,
    })
}

/// `now` tells whether a pending invitation has expired.
pub fn administrator_result(customer: &CustomerId, member: &Member, now: OffsetDateTime) -> AdministratorResult {
    let admin = &member.admin;
    AdministratorResult {
        customer_id: customer.to_string(),
        uc_oid: format!("OID:/citrix/{}", admin.id),
        user_id: admin.id.to_string(),
        kind: "AdministratorUser",
        access_type: (&member.access).into(),
        first_name: None,
        last_name: None,
        display_name: admin.display_name.clone(),
        email: Some(admin.email.to_string()),
        provider_type: Some(admin.provider.into()),
        provider_id: admin.provider_id.clone(),
        external_oid: admin.external_id.clone(),
        external_provider_type: ExternalProviderType::of(admin.provider),
        status: admin.status.as_str(),
        pending: member.pending.is_some(),
        invitation_expired: member.pending.is_some_and(|p| p.expired(now)),
        legacy_providers: Vec::new(),
        created_date: rfc3339(member.created_at),
        updated_date: rfc3339(member.updated_at),
    }
}

/// A service principal as the Administrators API lists it: `type` `ServicePrincipal`, its client id
/// as `userId`, its name as `displayName`, its own access; no e-mail and no identity provider.
pub fn principal_result(principal: &ApiClient) -> Option<AdministratorResult> {
    let ClientKind::ServicePrincipal { access } = &principal.kind else {
        return None;
    };
    Some(AdministratorResult {
        customer_id: principal.customer_id.to_string(),
        uc_oid: format!("OID:/citrix/{}", principal.id),
        user_id: principal.id.to_string(),
        kind: "ServicePrincipal",
        access_type: access.into(),
        first_name: None,
        last_name: None,
        display_name: principal.name.clone(),
        email: None,
        provider_type: None,
        provider_id: None,
        external_oid: None,
        external_provider_type: None,
        status: "active",
        pending: false,
        invitation_expired: false,
        legacy_providers: Vec::new(),
        created_date: rfc3339(principal.created_at),
        updated_date: rfc3339(principal.created_at),
    })
}

/// A group of administrators (issue #25) as the Administrators API lists it: `type`
/// `AdministratorGroup`, its id as `userId` (and in its `ucOid`), the provider's id of the group
/// as `externalOid`, the access its members get from it; no e-mail.
pub fn group_result(group: &trustgate_core::group::AdminGroup) -> AdministratorResult {
    AdministratorResult {
        customer_id: group.customer_id.to_string(),
        uc_oid: format!("OID:/citrix/{}", group.id),
        user_id: group.id.to_string(),
        kind: "AdministratorGroup",
        access_type: (&group.access).into(),
        first_name: None,
        last_name: None,
        display_name: group.display_name.clone(),
        email: None,
        provider_type: None,
        provider_id: None,
        external_oid: group.external_id.clone(),
        external_provider_type: None,
        status: "active",
        pending: false,
        invitation_expired: false,
        legacy_providers: Vec::new(),
        created_date: rfc3339(group.created_at),
        updated_date: rfc3339(group.updated_at),
    }
}

/// Citrix's `AdministratorAccessModel`: every policy of the catalog, checked where granted.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessModel {
    #[schema(inline)]
    access_type: AccessType,
    policies: Vec<Policy>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    name: String,
    service_name: String,
    display_name: String,
    checkable: Checkable,
    scope_choices: ScopeChoices,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Checkable {
    value: bool,
    can_change_value: bool,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScopeChoices {
    all_scopes_selected: bool,
    choices: Vec<String>,
}

/// Every policy of the catalog, checked where `access` grants it: the template Citrix scripts
/// read, edit and send back.
pub fn access_model(access: &Access, catalog: &Catalog) -> AccessModel {
    let policies = catalog
        .entries()
        .map(|entry| Policy {
            name: entry.permission.name().to_owned(),
            service_name: entry.permission.service_name().to_owned(),
            checkable: Checkable { value: access.allows(&entry.permission), can_change_value: true },
            display_name: entry.display_name,
            scope_choices: ScopeChoices { all_scopes_selected: true, choices: Vec::new() },
        })
        .collect();
    AccessModel { access_type: access.into(), policies }
}

/// A policy sent back from the template: granted when `checkable.value` is true or `checkable` is absent.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyIn {
    pub name: String,
    /// The service offering `name` (`Platform` for the built-ins). May be left out when `name`
    /// is a Platform policy or only one service offers it.
    pub service_name: Option<String>,
    pub checkable: Option<CheckableIn>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CheckableIn {
    pub value: bool,
}

/// Reads `accessType` plus `policies`: a policy is granted when present with `checkable.value`
/// true (or no `checkable` at all). Unknown or ambiguous policies are refused, not ignored.
pub fn parse_access(
    access_type: &str,
    policies: Option<&[PolicyIn]>,
    catalog: &Catalog,
) -> Result<Access, ValidationError> {
    let mut granted = Vec::new();
    for policy in policies.unwrap_or_default() {
        let permission = catalog.resolve_named(policy.service_name.as_deref(), &policy.name)?;
        if policy.checkable.as_ref().is_none_or(|c| c.value) {
            granted.push(permission);
        }
    }
    Access::from_parts(access_type, granted.into_iter().collect::<PermissionSet>())
}
