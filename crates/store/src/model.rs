//! What the store returns beyond the core domain types.

use time::OffsetDateTime;
use trustgate_core::access::Access;
use trustgate_core::admin::Admin;
use trustgate_core::client::ApiClient;
use trustgate_core::customer::Customer;
use trustgate_core::ids::{AdminId, CustomerId, ProviderId};
use trustgate_core::rights::Standing;
use trustgate_core::secret::SecretVerifier;

/// The store's connection pool at one moment, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUse {
    /// Connections open, idle or in use.
    pub open: u32,
    pub idle: u32,
    /// Most connections the pool opens.
    pub max: u32,
}

/// An administrator with their access in one customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub admin: Admin,
    pub access: Access,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A customer an administrator belongs to, with their access there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub customer: Customer,
    pub access: Access,
}

/// Everything needed to authenticate a client and decide what it may do, read in one query.
#[derive(Debug, Clone)]
pub struct ClientGrant {
    pub client: ApiClient,
    pub verifier: SecretVerifier,
    pub owner_email: String,
    pub standing: Standing,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub admin_id: AdminId,
    pub csrf_token: String,
    pub expires_at: OffsetDateTime,
    /// Set for a session opened through a customer's OpenID provider: it reaches that customer
    /// only, since the provider vouches for the person there and nowhere else.
    pub customer_id: Option<CustomerId>,
}

/// An OpenID Connect sign-in between the redirect to the provider and its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingSignIn {
    pub provider_id: ProviderId,
    pub nonce: String,
    pub pkce_verifier: String,
    /// The local console page to show once signed in.
    pub next_path: String,
    pub expires_at: OffsetDateTime,
}

/// A stored system-log record, as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRecord {
    pub seq: i64,
    pub record_id: String,
    pub customer_id: CustomerId,
    pub at: OffsetDateTime,
    pub event_type: String,
    pub actor_type: String,
    pub actor_id: Option<String>,
    pub actor_name: String,
    pub target_type: String,
    pub target_id: String,
    pub target_name: String,
    pub message: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// A page of the system log: records in `[start, end)`, oldest first, after the record `after_seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogQuery {
    pub customer_id: CustomerId,
    pub start: OffsetDateTime,
    pub end: OffsetDateTime,
    pub after_seq: Option<i64>,
    pub limit: u32,
}

/// How the console narrows and orders a page of the system log: `after_seq` of the [`LogQuery`]
/// then means "past this record in the chosen order".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogView {
    pub newest_first: bool,
    /// Part of the event type (`secureclient`, `signin/failure`), ignoring case.
    pub event_type: Option<String>,
    /// Part of the actor's name, ignoring case (ASCII case only on SQLite).
    pub actor: Option<String>,
}

impl LogView {
    /// A `LIKE` pattern matching values that contain `part`, with `%`, `_` and `\` taken literally.
    pub(crate) fn pattern(part: Option<&str>) -> String {
        let part = part.map(str::trim).unwrap_or_default().to_lowercase();
        let escaped: String = part
            .chars()
            .flat_map(|c| match c {
                '%' | '_' | '\\' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        format!("%{escaped}%")
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub id: String,
    pub customer_id: CustomerId,
    pub destination_admin: String,
    pub body: serde_json::Value,
    pub created_at: OffsetDateTime,
}
