//! What the store returns beyond the core domain types.

use time::OffsetDateTime;
use trustgate_core::access::Access;
use trustgate_core::admin::Admin;
use trustgate_core::client::ApiClient;
use trustgate_core::client_secrets::{GrantSecret, SecretInfo};
use trustgate_core::customer::Customer;
use trustgate_core::ids::{AdminId, CustomerId, PasskeyId, ProviderId};
use trustgate_core::rights::Standing;

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
    /// What the membership grants; while `pending`, what it will grant once accepted.
    pub access: Access,
    /// What the member's groups give them (issue #25), joined with `access` in [`Member::held`].
    pub group_access: Access,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// An invitation not yet accepted: until it is, the membership grants nothing.
    pub pending: Option<Pending>,
}

impl Member {
    /// What the member holds in all: their own access joined with their groups'.
    pub fn held(&self) -> Access {
        trustgate_core::access::joined(&self.access, [&self.group_access])
    }
}

/// A membership waiting for its invitee (issue #12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    pub expires_at: OffsetDateTime,
}

impl Pending {
    pub fn expired(&self, now: OffsetDateTime) -> bool {
        self.expires_at <= now
    }
}

/// What an invitation is made with: the keyed verifier of its one-time token (the token itself
/// is never stored) and when it stops working.
#[derive(Clone, PartialEq, Eq)]
pub struct InvitationTerms {
    pub verifier: [u8; 32],
    pub expires_at: OffsetDateTime,
}

impl std::fmt::Debug for InvitationTerms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InvitationTerms").field("expires_at", &self.expires_at).finish_non_exhaustive()
    }
}

/// An invitation found by its token, as the invitee's pages show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub customer: Customer,
    /// The invitee, as the inviting customer knows them.
    pub admin: Admin,
    pub access: Access,
    pub expires_at: OffsetDateTime,
    /// Whether the invitee has a password already (they administer another customer): they
    /// accept without choosing one, and sign in with theirs.
    pub has_password: bool,
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
    /// Every secret the client holds, expired ones included (they are refused, and logged once).
    pub secrets: Vec<GrantSecret>,
    /// None for a service principal, which has no owner.
    pub owner_email: Option<String>,
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

/// A secret whose expiry is near or past, with its client, for the expiry task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiringSecret {
    pub client: ApiClient,
    pub secret: SecretInfo,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub id: String,
    pub customer_id: CustomerId,
    pub destination_admin: String,
    pub body: serde_json::Value,
    pub created_at: OffsetDateTime,
}

/// What a customer's identity provider said about an administrator it provisioned over SCIM.
#[derive(Debug, Clone, PartialEq)]
pub struct ScimUser {
    /// The administrator, with this customer's profile of them (e-mail, display name).
    pub admin: Admin,
    pub user_name: String,
    pub external_id: Option<String>,
    /// The resource as the provider last wrote it, less what Trustgate sets (`id`, `meta`).
    pub document: serde_json::Value,
    /// The resource's version (`meta.version`): bumped by every SCIM write, and changed when the
    /// administrator's status changes by any other path.
    pub version: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A provisioned administrator as the provider writes them (POST, PUT, or PATCH applied).
#[derive(Debug, Clone, PartialEq)]
pub struct ScimUserWrite {
    pub user_name: String,
    pub external_id: Option<String>,
    pub email: trustgate_core::admin::Email,
    pub display_name: String,
    pub active: bool,
    pub document: serde_json::Value,
}

/// Which provisioned administrators a SCIM query asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScimFilter {
    All,
    /// `userName eq`, compared without regard to case (RFC 7643 §4.1.1: `caseExact` false).
    UserName(String),
    /// `externalId eq`, compared exactly.
    ExternalId(String),
}

/// What a provider writes of a group (issue #25): SCIM's PUT, or a PATCH applied.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupWrite {
    pub display_name: String,
    pub external_id: Option<String>,
    pub members: Vec<trustgate_core::ids::AdminId>,
    /// The group as the provider wrote it, returned as written.
    pub document: serde_json::Value,
}

/// Which groups a SCIM list asks for (issue #25).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupFilter {
    All,
    /// `displayName eq`, compared without regard to case.
    DisplayName(String),
    /// `externalId eq`, compared exactly.
    ExternalId(String),
}

/// A disabled administrator whose API clients are still active (the R7 warning).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisabledOwner {
    pub admin: Admin,
    pub active_clients: u64,
}

/// What `Store::apply_catalog` did (issue 10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogApplied {
    /// The catalog the applied one replaced (the same one when nothing changed).
    pub before: trustgate_core::catalog::Catalog,
    /// Memberships and service principals that held a removed permission and lost it (`--force`).
    pub stripped: Vec<Stripped>,
}

/// One holder that lost permissions the applied catalog removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stripped {
    pub customer: CustomerId,
    /// `administrator`, `invitation`, `servicePrincipal` or `group`, and its id.
    pub holder: (&'static str, String),
    pub before: trustgate_core::access::Access,
    pub after: trustgate_core::access::Access,
}

/// How many records depend on one server key, as `trustgate keys server-key-status` shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerKeyUse {
    /// `None` for records made before records named their key.
    pub server_key: Option<trustgate_core::secret::ServerKeyId>,
    /// Client secrets, service principals' included.
    pub client_secrets: u64,
    pub resource_servers: u64,
    pub scim_tokens: u64,
}

/// An administrator's TOTP factor (issue #25): the secret sealed under the server key, whether
/// they confirmed it with a code, and the last time step a code was accepted for.
#[derive(Debug, Clone)]
pub struct TotpEnrolment {
    pub sealed_secret: Vec<u8>,
    pub confirmed: bool,
    pub last_step: i64,
}

/// A local administrator's WebAuthn passkey (issue #25): the credential as the server's WebAuthn
/// library keeps it (`passkey`, JSON the store does not read) and the signature counter last
/// accepted.
#[derive(Debug, Clone)]
pub struct StoredPasskey {
    pub id: PasskeyId,
    pub admin_id: AdminId,
    pub name: String,
    pub credential_id: Vec<u8>,
    pub passkey: String,
    pub sign_count: i64,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
}

/// A WebAuthn ceremony under way, as taken from the store: the administrator it is for (when known
/// at its start) and the serialised state its answer is checked against.
#[derive(Debug, Clone)]
pub struct Ceremony {
    pub admin_id: Option<AdminId>,
    pub state: String,
}
