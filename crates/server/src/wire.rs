//! Citrix wire shapes shared by several routes: timestamps, `AdministratorResult`,
//! `AdministratorAccessModel`.

use serde::Deserialize;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use trustgate_core::access::{Access, Permission, PermissionSet};
use trustgate_core::ids::CustomerId;
use trustgate_core::ValidationError;
use trustgate_store::Member;

pub fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

pub fn parse_rfc3339(field: &'static str, text: &str) -> Result<OffsetDateTime, ValidationError> {
    OffsetDateTime::parse(text.trim(), &Rfc3339).map_err(|_| {
        ValidationError::invalid(field, format!("{field} must be an RFC 3339 date-time, e.g. 2026-01-31T12:00:00Z"))
    })
}

pub fn administrator_result(customer: &CustomerId, member: &Member) -> Value {
    let admin = &member.admin;
    json!({
        "customerId": customer.as_str(),
        "ucOid": format!("OID:/citrix/{}", admin.id),
        "userId": admin.id.to_string(),
        "type": "AdministratorUser",
        "accessType": member.access.access_type(),
        "displayName": admin.display_name,
        "firstName": null,
        "lastName": null,
        "email": admin.email.as_str(),
        "providerType": admin.provider.wire_name(),
        "providerId": null,
        "externalOid": admin.external_id,
        "status": admin.status.as_str(),
        "pending": false,
        "invitationExpired": false,
        "legacyProviders": [],
        "createdDate": rfc3339(member.created_at),
        "updatedDate": rfc3339(member.updated_at),
    })
}

/// Every policy of the catalog, checked where `access` grants it: the template Citrix scripts
/// read, edit and send back.
pub fn access_model(access: Access) -> Value {
    let policies: Vec<Value> = Permission::ALL
        .into_iter()
        .map(|p| {
            json!({
                "name": p.name(),
                "serviceName": "Platform",
                "displayName": p.display_name(),
                "checkable": { "value": access.allows(p), "canChangeValue": true },
                "scopeChoices": { "allScopesSelected": true, "choices": [] },
            })
        })
        .collect();
    json!({ "accessType": access.access_type(), "policies": policies })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyIn {
    pub name: String,
    pub checkable: Option<CheckableIn>,
}

#[derive(Debug, Deserialize)]
pub struct CheckableIn {
    pub value: bool,
}

/// Reads `accessType` plus `policies`: a policy is granted when present with `checkable.value`
/// true (or no `checkable` at all). Unknown policy names are refused, not ignored.
pub fn parse_access(access_type: &str, policies: Option<&[PolicyIn]>) -> Result<Access, ValidationError> {
    let mut granted = PermissionSet::empty();
    for policy in policies.unwrap_or_default() {
        let permission = Permission::parse(&policy.name)?;
        if policy.checkable.as_ref().is_none_or(|c| c.value) {
            granted = granted.with(permission);
        }
    }
    Access::from_parts(access_type, granted)
}
