//! "May principal P do X in customer C": the one function every path asks (DESIGN.md, Permissions).

use crate::access::{Access, Permission};
use crate::admin::AdminStatus;
use crate::customer::DisabledOwnerPolicy;

/// Everything about an administrator's membership that decides what they, and their clients, may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    pub access: Access,
    pub status: AdminStatus,
    pub policy: DisabledOwnerPolicy,
}

impl Standing {
    /// A service principal's standing: its own access, never disabled and never suspended, since
    /// nothing done to an administrator reaches it (SP5).
    pub fn of_principal(access: Access) -> Self {
        Standing { access, status: AdminStatus::Active, policy: DisabledOwnerPolicy::KeepActive }
    }
}

/// Who is asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind {
    /// An administrator in a console or management-API session.
    Admin,
    /// An API client, acting with its owner's current rights (R4).
    ApiClient,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("the caller's access does not include {0}")]
    Missing(Permission),
    #[error("the client's owner is disabled and this customer suspends such clients")]
    OwnerSuspended,
    #[error("the administrator is disabled")]
    AdminDisabled,
}

/// The access a principal holds right now, or why it holds none.
pub fn effective_access(kind: PrincipalKind, standing: &Standing) -> Result<&Access, Denied> {
    match (kind, standing.status, standing.policy) {
        (_, AdminStatus::Active, _) => Ok(&standing.access),
        (PrincipalKind::Admin, AdminStatus::Disabled, _) => Err(Denied::AdminDisabled),
        // R7: Citrix keeps a disabled federated owner's clients active unless the customer opted out.
        (PrincipalKind::ApiClient, AdminStatus::Disabled, DisabledOwnerPolicy::KeepActive) => Ok(&standing.access),
        (PrincipalKind::ApiClient, AdminStatus::Disabled, DisabledOwnerPolicy::SuspendClients) => {
            Err(Denied::OwnerSuspended)
        }
    }
}

pub fn authorize(kind: PrincipalKind, standing: &Standing, permission: &Permission) -> Result<(), Denied> {
    if effective_access(kind, standing)?.allows(permission) {
        Ok(())
    } else {
        Err(Denied::Missing(permission.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn standing(access: Access, status: AdminStatus, policy: DisabledOwnerPolicy) -> Standing {
        Standing { access, status, policy }
    }

    #[test]
    fn a_client_has_exactly_its_owners_permissions() {
        let notifications_only = Access::Custom(crate::access::Platform::Notifications.into());
        let s = standing(notifications_only, AdminStatus::Active, DisabledOwnerPolicy::KeepActive);
        assert_eq!(authorize(PrincipalKind::ApiClient, &s, &Permission::NOTIFICATIONS), Ok(()));
        assert_eq!(
            authorize(PrincipalKind::ApiClient, &s, &Permission::ADMINISTRATORS),
            Err(Denied::Missing(Permission::ADMINISTRATORS))
        );
    }

    #[test]
    fn clients_of_a_disabled_owner_stay_active_unless_the_customer_suspends_them() {
        let keep = standing(Access::Full, AdminStatus::Disabled, DisabledOwnerPolicy::KeepActive);
        assert_eq!(authorize(PrincipalKind::ApiClient, &keep, &Permission::SYSTEM_LOG), Ok(()));
        let suspend = standing(Access::Full, AdminStatus::Disabled, DisabledOwnerPolicy::SuspendClients);
        assert_eq!(authorize(PrincipalKind::ApiClient, &suspend, &Permission::SYSTEM_LOG), Err(Denied::OwnerSuspended));
    }

    #[test]
    fn a_disabled_admin_has_no_session_rights() {
        let s = standing(Access::Full, AdminStatus::Disabled, DisabledOwnerPolicy::KeepActive);
        assert_eq!(effective_access(PrincipalKind::Admin, &s), Err(Denied::AdminDisabled));
    }
}
