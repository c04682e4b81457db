//! The change feed: what changed, so every node's authorization cache can evict it.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use trustgate_core::ids::{AdminId, ClientId, CustomerId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    ClientDeleted(ClientId),
    /// A client changed in place: a service principal's access, or a secure client converted
    /// into a principal (SP4, SP7).
    ClientChanged(ClientId),
    /// A secret of the client was added or deleted.
    SecretsChanged(ClientId),
    /// An administrator's access in a customer changed, or the membership ended.
    MembershipChanged(CustomerId, AdminId),
    /// An administrator's status changed, or the administrator was deleted.
    AdminChanged(AdminId),
    /// A customer's policies changed.
    CustomerChanged(CustomerId),
    /// The signing key set changed (rotation).
    KeysChanged,
    /// A customer's notification list changed.
    NotificationsPosted(CustomerId),
    /// A token was revoked (RFC 7009), named by its `jti`. It travels in the client column, the
    /// one that names what a change is about.
    TokenRevoked(String),
    /// A client was created (issue #13): nodes that cached its id as unknown forget that.
    ClientCreated(ClientId),
    /// Clients were created in bulk (`Store::seed_clients`): nodes forget every id cached as
    /// unknown, rather than being told each of up to a million new ids.
    ClientsSeeded,
    /// The operator applied a new permission catalog: every node reloads it.
    CatalogChanged,
    /// A client reached the cap of revoked tokens (issue #21, item 9): every token of the client
    /// issued at or before the unix second named is refused.
    TokensRevokedBefore(ClientId, i64),
}

impl Change {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Change::ClientDeleted(_) => "client",
            Change::ClientChanged(_) => "clientChanged",
            Change::SecretsChanged(_) => "secrets",
            Change::MembershipChanged(..) => "membership",
            Change::AdminChanged(_) => "admin",
            Change::CustomerChanged(_) => "customer",
            Change::KeysChanged => "keys",
            Change::NotificationsPosted(_) => "notifications",
            Change::TokenRevoked(_) => "revoked",
            Change::ClientCreated(_) => "clientCreated",
            Change::ClientsSeeded => "clientsSeeded",
            Change::CatalogChanged => "catalog",
            Change::TokensRevokedBefore(..) => "revokedBefore",
        }
    }

    pub(crate) fn columns(&self) -> (Option<String>, Option<String>, Option<String>) {
        match self {
            Change::ClientDeleted(client)
            | Change::ClientChanged(client)
            | Change::SecretsChanged(client)
            | Change::ClientCreated(client) => (None, None, Some(client.to_string())),
            Change::MembershipChanged(customer, admin) => (Some(customer.to_string()), Some(admin.to_string()), None),
            Change::AdminChanged(admin) => (None, Some(admin.to_string()), None),
            Change::CustomerChanged(customer) => (Some(customer.to_string()), None, None),
            Change::KeysChanged | Change::CatalogChanged => (None, None, None),
            Change::NotificationsPosted(customer) => (Some(customer.to_string()), None, None),
            Change::TokenRevoked(jti) => (None, None, Some(jti.clone())),
            Change::ClientsSeeded => (None, None, None),
            // The client column names what a change is about: the client and the second.
            Change::TokensRevokedBefore(client, second) => (None, None, Some(format!("{client} {second}"))),
        }
    }

    pub(crate) fn from_columns(
        kind: &str,
        customer: Option<&str>,
        admin: Option<&str>,
        client: Option<&str>,
    ) -> Option<Self> {
        let customer = || customer.and_then(|c| CustomerId::parse(c).ok());
        let admin = || admin.and_then(|a| AdminId::parse(a).ok());
        match kind {
            "client" => client.and_then(|c| ClientId::parse(c).ok()).map(Change::ClientDeleted),
            "clientChanged" => client.and_then(|c| ClientId::parse(c).ok()).map(Change::ClientChanged),
            "secrets" => client.and_then(|c| ClientId::parse(c).ok()).map(Change::SecretsChanged),
            "membership" => Some(Change::MembershipChanged(customer()?, admin()?)),
            "admin" => admin().map(Change::AdminChanged),
            "customer" => customer().map(Change::CustomerChanged),
            "keys" => Some(Change::KeysChanged),
            "notifications" => customer().map(Change::NotificationsPosted),
            "revoked" => client.map(|jti| Change::TokenRevoked(jti.to_owned())),
            "clientCreated" => client.and_then(|c| ClientId::parse(c).ok()).map(Change::ClientCreated),
            "clientsSeeded" => Some(Change::ClientsSeeded),
            "catalog" => Some(Change::CatalogChanged),
            "revokedBefore" => {
                let (id, second) = client?.split_once(' ')?;
                Some(Change::TokensRevokedBefore(ClientId::parse(id).ok()?, second.parse().ok()?))
            }
            _ => None,
        }
    }
}

/// Receives changes after they commit, from this process or (via the feed) from others.
pub trait ChangeListener: Send + Sync {
    fn changed(&self, changes: &[Change]);
    /// Called when changes may have been missed: everything cached must go.
    fn flush(&self);
    /// The feed delivered changes the newest of which was written `lag` ago (by this node's
    /// clock, and never less than zero).
    fn delivered(&self, lag: Duration);
    /// The feed was lost (its connection dropped, or it could not be read) and starts over.
    fn lost(&self);
}

/// How long ago a change written at `at_ms` (unix milliseconds) was, as the feed's lag.
pub(crate) fn lag_since(at_ms: i64) -> Duration {
    let now = crate::sql::ms(time::OffsetDateTime::now_utc());
    Duration::from_millis(u64::try_from(now.saturating_sub(at_ms)).unwrap_or(0))
}

/// The listener a store tells about its own commits, synchronously, before the write returns:
/// a caller's next request must not see the old answer.
#[derive(Default)]
pub(crate) struct ListenerSlot(RwLock<Option<Arc<dyn ChangeListener>>>);

impl ListenerSlot {
    pub(crate) fn set(&self, listener: Arc<dyn ChangeListener>) {
        if let Ok(mut slot) = self.0.write() {
            *slot = Some(listener);
        }
    }

    pub(crate) fn publish(&self, changes: &[Change]) {
        if changes.is_empty() {
            return;
        }
        if let Some(listener) = self.0.read().ok().and_then(|l| l.clone()) {
            listener.changed(changes);
        }
    }
}
