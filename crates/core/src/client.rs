//! API clients of one customer: secure clients, owned by one administrator (R1), and service
//! principals, which belong to no administrator and hold their own access (SP1, SP2).

use time::OffsetDateTime;

use crate::access::Access;
use crate::ids::{AdminId, ClientId, CustomerId};
use crate::validate::{label, ValidationError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiClient {
    pub id: ClientId,
    pub customer_id: CustomerId,
    pub kind: ClientKind,
    pub name: String,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
}

/// Whose rights a client acts with. One or the other, never both: a client with an owner and its
/// own access would have two answers to "what may it do".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientKind {
    /// Acts with its owner's current rights in the customer (R4), and dies with the owner's
    /// membership (R6).
    SecureClient { owner: AdminId },
    /// Acts with its own access (SP2); nothing done to any administrator touches it (SP5).
    ServicePrincipal { access: Access },
}

impl ClientKind {
    /// Citrix's `AdministratorType` spelling, also the system log's target type.
    pub fn wire_name(&self) -> &'static str {
        match self {
            ClientKind::SecureClient { .. } => "SecureClient",
            ClientKind::ServicePrincipal { .. } => "ServicePrincipal",
        }
    }
}

impl ApiClient {
    /// The administrator whose rights the client acts with; none for a service principal.
    pub fn owner(&self) -> Option<AdminId> {
        match &self.kind {
            ClientKind::SecureClient { owner } => Some(*owner),
            ClientKind::ServicePrincipal { .. } => None,
        }
    }
}

pub const CLIENT_NAME_MAX: usize = 100;

/// Most service principals one customer holds: automation identities, not one per person.
pub const PRINCIPALS_PER_CUSTOMER_MAX: u64 = 500;

pub fn parse_client_name(text: &str) -> Result<String, ValidationError> {
    label("name", text, CLIENT_NAME_MAX)
}

/// How stale `last_used_at` may get before a token grant records a new time; keeps the grant path
/// from writing on every request.
pub const LAST_USED_RESOLUTION: time::Duration = time::Duration::minutes(1);

pub fn last_used_is_stale(last_used_at: Option<OffsetDateTime>, now: OffsetDateTime) -> bool {
    last_used_at.is_none_or(|at| now - at >= LAST_USED_RESOLUTION)
}
