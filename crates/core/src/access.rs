//! Access of an administrator in a customer: `Full`, or `Custom` with permissions from the catalog.
//!
//! A permission is either one of Trustgate's own Platform permissions or one the operator's catalog
//! declares for a service of theirs (`orders.read`); which of the latter exist is the catalog's
//! business (`crate::catalog`), so parsing here checks only the shape.

use std::fmt;
use std::sync::Arc;

use crate::validate::ValidationError;

/// The `serviceName` of Trustgate's own permissions, as Citrix names its platform services' policies.
pub const PLATFORM_SERVICE: &str = "Platform";

/// The permissions of Trustgate's own APIs: each built-in route needs exactly one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Platform {
    Administrators,
    ApiClients,
    Notifications,
    SystemLog,
    ResourceLocations,
}

impl Platform {
    pub const ALL: [Platform; 5] = [
        Platform::Administrators,
        Platform::ApiClients,
        Platform::Notifications,
        Platform::SystemLog,
        Platform::ResourceLocations,
    ];

    /// The policy name on the wire (`AdministratorAccessPolicyModel.name`) and in the CLI.
    pub fn name(self) -> &'static str {
        match self {
            Platform::Administrators => "administrators",
            Platform::ApiClients => "apiClients",
            Platform::Notifications => "notifications",
            Platform::SystemLog => "systemLog",
            Platform::ResourceLocations => "resourceLocations",
        }
    }

    pub fn display_name(self) -> &'static str {
        match self {
            Platform::Administrators => "Administrators",
            Platform::ApiClients => "API Clients",
            Platform::Notifications => "Notifications",
            Platform::SystemLog => "System Log",
            Platform::ResourceLocations => "Resource Locations",
        }
    }

    /// Finds a built-in permission by its name, case-insensitively.
    pub fn find(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name().eq_ignore_ascii_case(name))
    }
}

/// A policy or service name as Citrix constrains them: `^[a-zA-Z0-9_\-]{1,36}$`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PolicyName(Arc<str>);

impl PolicyName {
    pub const MAX: usize = 36;

    pub fn parse(field: &'static str, text: &str) -> Result<Self, ValidationError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(ValidationError::missing(field));
        }
        if text.len() > Self::MAX {
            return Err(ValidationError::too_long(field, Self::MAX));
        }
        if !text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
            return Err(ValidationError::invalid(
                field,
                format!("{field} may hold only letters, digits, '_' and '-' (found {text:?})"),
            ));
        }
        Ok(Self(text.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PolicyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One permission: a built-in Platform one, or one the operator's catalog declares for a service.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permission {
    Platform(Platform),
    Service { service: PolicyName, name: PolicyName },
}

impl Permission {
    pub const ADMINISTRATORS: Permission = Permission::Platform(Platform::Administrators);
    pub const API_CLIENTS: Permission = Permission::Platform(Platform::ApiClients);
    pub const NOTIFICATIONS: Permission = Permission::Platform(Platform::Notifications);
    pub const SYSTEM_LOG: Permission = Permission::Platform(Platform::SystemLog);
    pub const RESOURCE_LOCATIONS: Permission = Permission::Platform(Platform::ResourceLocations);

    /// The policy as Citrix's wire names it: `serviceName` plus `name`. `Platform` means a built-in.
    pub fn of(service: &str, name: &str) -> Result<Self, ValidationError> {
        if service.trim().eq_ignore_ascii_case(PLATFORM_SERVICE) {
            return Platform::find(name.trim())
                .map(Permission::Platform)
                .ok_or_else(|| ValidationError::invalid_enum("policies", &Platform::ALL.map(Platform::name)));
        }
        Ok(Permission::Service {
            service: PolicyName::parse("serviceName", service)?,
            name: PolicyName::parse("policies", name)?,
        })
    }

    /// Parses the stored and CLI form: a built-in's bare name (`notifications`), or `service.name`.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let text = text.trim();
        match text.split_once('.') {
            Some((service, name)) => Self::of(service, name),
            None => Self::of(PLATFORM_SERVICE, text),
        }
    }

    pub fn service_name(&self) -> &str {
        match self {
            Permission::Platform(_) => PLATFORM_SERVICE,
            Permission::Service { service, .. } => service.as_str(),
        }
    }

    /// The policy name within its service (`AdministratorAccessPolicyModel.name`).
    pub fn name(&self) -> &str {
        match self {
            Permission::Platform(p) => p.name(),
            Permission::Service { name, .. } => name.as_str(),
        }
    }
}

/// The stored and CLI form that `Permission::parse` reads back.
impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Permission::Platform(p) => f.write_str(p.name()),
            Permission::Service { service, name } => write!(f, "{service}.{name}"),
        }
    }
}

impl From<Platform> for Permission {
    fn from(p: Platform) -> Self {
        Permission::Platform(p)
    }
}

/// A set of permissions, sorted and shared: cloning it (once per authorized call, from the cache)
/// costs a reference count, not an allocation.
#[derive(Debug, Clone, PartialEq, Eq, Default, Hash)]
pub struct PermissionSet(Arc<[Permission]>);

impl PermissionSet {
    pub fn empty() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn contains(&self, permission: &Permission) -> bool {
        self.0.binary_search(permission).is_ok()
    }

    pub fn with(&self, permission: Permission) -> Self {
        self.iter().cloned().chain([permission]).collect()
    }

    pub fn without(&self, permission: &Permission) -> Self {
        self.iter().filter(|p| *p != permission).cloned().collect()
    }

    pub fn is_subset_of(&self, other: &PermissionSet) -> bool {
        self.iter().all(|p| other.contains(p))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Permission> {
        self.0.iter()
    }

    /// The stored form: permissions in their `Display` form, separated by commas.
    pub fn to_list(&self) -> String {
        self.iter().map(Permission::to_string).collect::<Vec<_>>().join(",")
    }

    pub fn parse_list(text: &str) -> Result<Self, ValidationError> {
        text.split(',').filter(|s| !s.trim().is_empty()).map(Permission::parse).collect()
    }
}

impl FromIterator<Permission> for PermissionSet {
    fn from_iter<I: IntoIterator<Item = Permission>>(iter: I) -> Self {
        let mut all: Vec<Permission> = iter.into_iter().collect();
        all.sort();
        all.dedup();
        Self(all.into())
    }
}

impl From<Platform> for PermissionSet {
    fn from(p: Platform) -> Self {
        [Permission::Platform(p)].into_iter().collect()
    }
}

/// An administrator's access in one customer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Access {
    Full,
    Custom(PermissionSet),
}

impl Access {
    pub fn allows(&self, permission: &Permission) -> bool {
        match self {
            Access::Full => true,
            Access::Custom(set) => set.contains(permission),
        }
    }

    /// Whether everything `other` allows is allowed by `self`: an administrator may only grant
    /// access they hold themselves.
    pub fn covers(&self, other: &Access) -> bool {
        match (self, other) {
            (Access::Full, _) => true,
            (Access::Custom(_), Access::Full) => false,
            (Access::Custom(mine), Access::Custom(theirs)) => theirs.is_subset_of(mine),
        }
    }

    /// `accessType` on the Citrix wire.
    pub fn access_type(&self) -> &'static str {
        match self {
            Access::Full => "Full",
            Access::Custom(_) => "Custom",
        }
    }

    /// No access at all: what a provisioned administrator or a new group holds until a Full
    /// administrator grants some.
    pub fn none() -> Self {
        Access::Custom(PermissionSet::empty())
    }

    /// Whether this access allows nothing.
    pub fn grants_nothing(&self) -> bool {
        matches!(self, Access::Custom(set) if set.is_empty())
    }

    /// The union of two accesses: Full if either is, else every permission of both.
    pub fn join(&self, other: &Access) -> Access {
        match (self, other) {
            (Access::Full, _) | (_, Access::Full) => Access::Full,
            (Access::Custom(mine), Access::Custom(theirs)) if theirs.is_subset_of(mine) => self.clone(),
            (Access::Custom(mine), Access::Custom(theirs)) if mine.is_subset_of(theirs) => other.clone(),
            (Access::Custom(mine), Access::Custom(theirs)) => {
                Access::Custom(mine.iter().chain(theirs.iter()).cloned().collect())
            }
        }
    }

    /// Builds access from its wire or stored parts (`accessType` plus the granted policies).
    pub fn from_parts(access_type: &str, permissions: PermissionSet) -> Result<Self, ValidationError> {
        match access_type.trim().to_ascii_lowercase().as_str() {
            "full" => Ok(Access::Full),
            "custom" => Ok(Access::Custom(permissions)),
            _ => Err(ValidationError::invalid_enum("accessType", &["Full", "Custom"])),
        }
    }
}

/// What a member holds in a customer: their own access joined with that of every group of the
/// customer they belong to (issue #25). The one place the union is decided; the store keeps the
/// groups' part beside the member's own, so reading a standing stays one row.
pub fn joined<'a>(own: &Access, groups: impl IntoIterator<Item = &'a Access>) -> Access {
    groups.into_iter().fold(own.clone(), |held, group| held.join(group))
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Access::Full => f.write_str("Full"),
            Access::Custom(set) => write!(f, "Custom({})", set.to_list()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn orders(name: &str) -> Permission {
        Permission::of("orders", name).unwrap()
    }

    #[test]
    fn custom_access_allows_only_its_permissions() {
        let access = Access::Custom([Permission::NOTIFICATIONS, orders("read")].into_iter().collect());
        assert!(access.allows(&Permission::NOTIFICATIONS));
        assert!(access.allows(&orders("read")));
        assert!(!access.allows(&orders("write")));
        assert!(!access.allows(&Permission::ADMINISTRATORS));
        assert!(Access::Full.allows(&orders("write")));
    }

    #[test]
    fn only_full_access_covers_full_access() {
        let custom = Access::Custom(Platform::ALL.into_iter().map(Permission::from).collect());
        assert!(!custom.covers(&Access::Full));
        assert!(Access::Full.covers(&custom));
        assert!(custom.covers(&Access::Custom(Platform::ApiClients.into())));
        assert!(!custom.covers(&Access::Custom([orders("read")].into_iter().collect())));
    }

    #[test]
    fn permission_lists_round_trip_and_reject_malformed_names() {
        let set: PermissionSet =
            [Permission::SYSTEM_LOG, Permission::API_CLIENTS, orders("read")].into_iter().collect();
        assert_eq!(set.to_list(), "apiClients,systemLog,orders.read");
        assert_eq!(PermissionSet::parse_list(&set.to_list()), Ok(set));
        assert_eq!(PermissionSet::parse_list(""), Ok(PermissionSet::empty()));
        assert!(PermissionSet::parse_list("notifications,root").is_err());
        assert!(PermissionSet::parse_list("orders.re ad").is_err());
        assert!(Permission::parse(&format!("orders.{}", "x".repeat(37))).is_err());
    }

    #[test]
    fn a_members_access_is_the_union_of_their_own_and_their_groups() {
        let notifications = Access::Custom(Platform::Notifications.into());
        let log_and_orders = Access::Custom([Permission::SYSTEM_LOG, orders("read")].into_iter().collect());
        let joined_access = joined(&Access::none(), [&notifications, &log_and_orders]);
        assert_eq!(
            joined_access,
            Access::Custom([Permission::NOTIFICATIONS, Permission::SYSTEM_LOG, orders("read")].into_iter().collect())
        );
        assert_eq!(joined(&notifications, [&Access::Full]), Access::Full);
        assert_eq!(joined(&Access::Full, [&Access::none()]), Access::Full);
        assert_eq!(joined(&notifications, []), notifications);
        assert!(joined(&Access::none(), [&Access::none()]).grants_nothing());
        assert!(!notifications.grants_nothing() && !Access::Full.grants_nothing());
    }

    #[test]
    fn platform_is_the_service_of_the_built_in_permissions() {
        assert_eq!(Permission::parse("platform.SystemLog"), Ok(Permission::SYSTEM_LOG));
        assert_eq!(Permission::of("Platform", "notifications"), Ok(Permission::NOTIFICATIONS));
        assert!(Permission::of("Platform", "orders").is_err());
        assert_eq!(orders("read").service_name(), "orders");
        assert_eq!(Permission::API_CLIENTS.service_name(), PLATFORM_SERVICE);
    }
}
