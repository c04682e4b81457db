//! Access of an administrator in a customer: `Full`, or `Custom` with permissions from one catalog.

use std::fmt;

use crate::validate::ValidationError;

/// The catalog of permissions. Each route of the platform needs exactly one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permission {
    Administrators,
    ApiClients,
    Notifications,
    SystemLog,
    ResourceLocations,
}

impl Permission {
    pub const ALL: [Permission; 5] = [
        Permission::Administrators,
        Permission::ApiClients,
        Permission::Notifications,
        Permission::SystemLog,
        Permission::ResourceLocations,
    ];

    /// The policy name on the wire (`AdministratorAccessPolicyModel.name`) and in the CLI.
    pub fn name(self) -> &'static str {
        match self {
            Permission::Administrators => "administrators",
            Permission::ApiClients => "apiClients",
            Permission::Notifications => "notifications",
            Permission::SystemLog => "systemLog",
            Permission::ResourceLocations => "resourceLocations",
        }
    }

    pub fn display_name(self) -> &'static str {
        match self {
            Permission::Administrators => "Administrators",
            Permission::ApiClients => "API Clients",
            Permission::Notifications => "Notifications",
            Permission::SystemLog => "System Log",
            Permission::ResourceLocations => "Resource Locations",
        }
    }

    /// Parses a policy name, case-insensitively.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        Self::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| ValidationError::invalid_enum("policies", &Self::ALL.map(Permission::name)))
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of permissions from the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct PermissionSet(u32);

impl PermissionSet {
    pub fn empty() -> Self {
        Self(0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn contains(self, permission: Permission) -> bool {
        self.0 & permission.bit() != 0
    }

    pub fn with(self, permission: Permission) -> Self {
        Self(self.0 | permission.bit())
    }

    pub fn is_subset_of(self, other: PermissionSet) -> bool {
        self.0 & !other.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL.into_iter().filter(move |p| self.contains(*p))
    }

    /// The stored form: policy names separated by commas.
    pub fn to_list(self) -> String {
        self.iter().map(Permission::name).collect::<Vec<_>>().join(",")
    }

    pub fn parse_list(text: &str) -> Result<Self, ValidationError> {
        text.split(',')
            .filter(|s| !s.trim().is_empty())
            .try_fold(Self::empty(), |set, name| Ok(set.with(Permission::parse(name)?)))
    }
}

impl FromIterator<Permission> for PermissionSet {
    fn from_iter<I: IntoIterator<Item = Permission>>(iter: I) -> Self {
        iter.into_iter().fold(Self::empty(), Self::with)
    }
}

/// An administrator's access in one customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    Full,
    Custom(PermissionSet),
}

impl Access {
    pub fn allows(self, permission: Permission) -> bool {
        match self {
            Access::Full => true,
            Access::Custom(set) => set.contains(permission),
        }
    }

    /// Whether everything `other` allows is allowed by `self`: an administrator may only grant
    /// access they hold themselves.
    pub fn covers(self, other: Access) -> bool {
        match (self, other) {
            (Access::Full, _) => true,
            (Access::Custom(_), Access::Full) => false,
            (Access::Custom(mine), Access::Custom(theirs)) => theirs.is_subset_of(mine),
        }
    }

    /// `accessType` on the Citrix wire.
    pub fn access_type(self) -> &'static str {
        match self {
            Access::Full => "Full",
            Access::Custom(_) => "Custom",
        }
    }

    pub fn permissions(self) -> PermissionSet {
        match self {
            Access::Full => Permission::ALL.into_iter().collect(),
            Access::Custom(set) => set,
        }
    }

    /// Builds access from its wire or stored parts (`accessType` plus the granted policy names).
    pub fn from_parts(access_type: &str, permissions: PermissionSet) -> Result<Self, ValidationError> {
        match access_type.trim().to_ascii_lowercase().as_str() {
            "full" => Ok(Access::Full),
            "custom" => Ok(Access::Custom(permissions)),
            _ => Err(ValidationError::invalid_enum("accessType", &["Full", "Custom"])),
        }
    }
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

    #[test]
    fn custom_access_allows_only_its_permissions() {
        let access = Access::Custom(PermissionSet::empty().with(Permission::Notifications));
        assert!(access.allows(Permission::Notifications));
        assert!(!access.allows(Permission::Administrators));
        assert!(Access::Full.allows(Permission::SystemLog));
    }

    #[test]
    fn only_full_access_covers_full_access() {
        let custom = Access::Custom(Permission::ALL.into_iter().collect());
        assert!(!custom.covers(Access::Full));
        assert!(Access::Full.covers(custom));
        assert!(custom.covers(Access::Custom(PermissionSet::empty().with(Permission::ApiClients))));
    }

    #[test]
    fn permission_lists_round_trip_and_reject_unknown_names() {
        let set: PermissionSet = [Permission::SystemLog, Permission::ApiClients].into_iter().collect();
        assert_eq!(PermissionSet::parse_list(&set.to_list()), Ok(set));
        assert_eq!(PermissionSet::parse_list(""), Ok(PermissionSet::empty()));
        assert!(PermissionSet::parse_list("notifications,root").is_err());
    }
}
