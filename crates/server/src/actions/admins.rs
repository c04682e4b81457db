//! Adding an administrator to a customer, as a member at once or by invitation.

use time::OffsetDateTime;
use trustgate_core::access::Access;
use trustgate_core::admin::{Admin, AdminStatus, Email, Provider};
use trustgate_core::event::Actor;
use trustgate_core::ids::{AdminId, CustomerId};
use trustgate_store::{Member, Store};

use crate::error::ApiError;
/// Who an administrator-management operation adds, as the caller described them.
pub struct NewAdmin {
    pub email: Email,
    pub display_name: String,
    pub provider: Provider,
    /// The subject at a federated provider; ignored for local administrators.
    pub external_id: Option<String>,
    /// The provider's directory (Azure AD tenant id, AD domain); ignored for local administrators.
    pub provider_id: Option<String>,
}

impl NewAdmin {
    /// The administrator to create if the store knows no one with the same identity.
    pub fn candidate(self) -> Admin {
        Admin {
            id: AdminId::generate(),
            external_id: if self.provider.is_federated() { self.external_id } else { None },
            provider_id: if self.provider.is_federated() { self.provider_id } else { None },
            email: self.email,
            display_name: self.display_name,
            provider: self.provider,
            status: AdminStatus::Active,
            created_at: OffsetDateTime::now_utc(),
        }
    }
}

/// Adds an administrator to `customer` with `access`. Who may, and how an existing person is
/// recognised, is decided inside the store's transaction (`trustgate_core::lifecycle`).
pub async fn add_admin(
    store: &dyn Store,
    customer: &CustomerId,
    new: NewAdmin,
    access: Access,
    actor: &Actor,
) -> Result<Member, ApiError> {
    Ok(store.add_admin(customer, &new.candidate(), None, access, None, actor).await?.0)
}
