//! API clients: credentials owned by one administrator in one customer (R1).

use time::OffsetDateTime;

use crate::ids::{AdminId, ClientId, CustomerId};
use crate::validate::{label, ValidationError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiClient {
    pub id: ClientId,
    pub customer_id: CustomerId,
    pub owner_id: AdminId,
    pub name: String,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
}

pub const CLIENT_NAME_MAX: usize = 100;

pub fn parse_client_name(text: &str) -> Result<String, ValidationError> {
    label("name", text, CLIENT_NAME_MAX)
}

/// How stale `last_used_at` may get before a token grant records a new time; keeps the grant path
/// from writing on every request.
pub const LAST_USED_RESOLUTION: time::Duration = time::Duration::minutes(1);

pub fn last_used_is_stale(last_used_at: Option<OffsetDateTime>, now: OffsetDateTime) -> bool {
    last_used_at.is_none_or(|at| now - at >= LAST_USED_RESOLUTION)
}
