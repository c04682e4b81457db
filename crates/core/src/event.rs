//! System-log events (R10): every lifecycle change, with who did it. Built here, written by the
//! store in the same transaction as the change they describe.

use std::net::IpAddr;

use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::access::Access;
use crate::admin::{Admin, AdminStatus};
use crate::client::ApiClient;
use crate::customer::DisabledOwnerPolicy;
use crate::federation::IdentityProvider;
use crate::ids::{AdminId, ClientId, CustomerId};

/// Who caused an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    Admin {
        id: AdminId,
        name: String,
    },
    ApiClient {
        id: ClientId,
        name: String,
    },
    /// The operator CLI, or Trustgate itself.
    System,
}

impl Actor {
    pub fn actor_type(&self) -> &'static str {
        match self {
            Actor::Admin { .. } => "Administrator",
            Actor::ApiClient { .. } => "SecureClient",
            Actor::System => "System",
        }
    }

    pub fn id(&self) -> Option<String> {
        match self {
            Actor::Admin { id, .. } => Some(id.to_string()),
            Actor::ApiClient { id, .. } => Some(id.to_string()),
            Actor::System => None,
        }
    }

    pub fn display_name(&self) -> &str {
        match self {
            Actor::Admin { name, .. } | Actor::ApiClient { name, .. } => name,
            Actor::System => "Trustgate",
        }
    }
}

/// Why a client was deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeletionCause {
    ByOwner,
    OwnerRemovedFromCustomer,
    OwnerDeleted,
}

/// One system-log record before it is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    pub customer_id: CustomerId,
    pub at: OffsetDateTime,
    /// `service:object/action`, as Citrix's SystemLog does.
    pub event_type: &'static str,
    pub actor: Actor,
    pub target_type: &'static str,
    pub target_id: String,
    pub target_name: String,
    pub message: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

fn access_json(access: Access) -> Value {
    json!({ "accessType": access.access_type(), "policies": access.permissions().iter().map(|p| p.name()).collect::<Vec<_>>() })
}

fn entry(customer_id: &CustomerId, at: OffsetDateTime, event_type: &'static str, actor: &Actor) -> LogEntry {
    LogEntry {
        customer_id: customer_id.clone(),
        at,
        event_type,
        actor: actor.clone(),
        target_type: "",
        target_id: String::new(),
        target_name: String::new(),
        message: String::new(),
        before: None,
        after: None,
    }
}

fn about_client(mut e: LogEntry, client: &ApiClient) -> LogEntry {
    e.target_type = "SecureClient";
    e.target_id = client.id.to_string();
    e.target_name = client.name.clone();
    e
}

fn about_admin(mut e: LogEntry, admin: &Admin) -> LogEntry {
    e.target_type = "Administrator";
    e.target_id = admin.id.to_string();
    e.target_name = admin.email.to_string();
    e
}

pub fn customer_created(customer: &CustomerId, name: &str, at: OffsetDateTime, actor: &Actor) -> LogEntry {
    let mut e = entry(customer, at, "platform:customer/create", actor);
    e.target_type = "Customer";
    e.target_id = customer.to_string();
    e.target_name = name.to_owned();
    e.message = format!("Customer {name} was created.");
    e
}

pub fn policy_changed(
    customer: &CustomerId,
    policy: DisabledOwnerPolicy,
    at: OffsetDateTime,
    actor: &Actor,
) -> LogEntry {
    let mut e = entry(customer, at, "platform:customer/update", actor);
    e.target_type = "Customer";
    e.target_id = customer.to_string();
    e.target_name = customer.to_string();
    e.message = match policy {
        DisabledOwnerPolicy::KeepActive => {
            "API clients of administrators disabled at their identity provider now remain active.".to_owned()
        }
        DisabledOwnerPolicy::SuspendClients => {
            "API clients of administrators disabled at their identity provider are now suspended.".to_owned()
        }
    };
    e.after = Some(json!({ "disabledOwnerPolicy": policy.as_str() }));
    e
}

pub fn client_created(client: &ApiClient, owner: &Admin, actor: &Actor) -> LogEntry {
    let mut e =
        about_client(entry(&client.customer_id, client.created_at, "platform:secureclient/create", actor), client);
    e.message = format!("API client {} was created for {}.", client.name, owner.email);
    e.after = Some(json!({ "name": client.name, "ownerUserId": owner.id.to_string() }));
    e
}

pub fn client_deleted(client: &ApiClient, cause: DeletionCause, at: OffsetDateTime, actor: &Actor) -> LogEntry {
    let mut e = about_client(entry(&client.customer_id, at, "platform:secureclient/delete", actor), client);
    e.message = match cause {
        DeletionCause::ByOwner => format!("API client {} was deleted.", client.name),
        DeletionCause::OwnerRemovedFromCustomer => {
            format!("API client {} was deleted because its owner was removed from the customer.", client.name)
        }
        DeletionCause::OwnerDeleted => format!("API client {} was deleted because its owner was deleted.", client.name),
    };
    e.before = Some(json!({ "name": client.name, "ownerUserId": client.owner_id.to_string() }));
    e
}

pub fn admin_added(
    customer: &CustomerId,
    admin: &Admin,
    access: Access,
    at: OffsetDateTime,
    actor: &Actor,
) -> LogEntry {
    let mut e = about_admin(entry(customer, at, "delegatedadministration:administrator/create", actor), admin);
    e.message = format!("Administrator {} was added with {} access.", admin.email, access.access_type());
    e.after = Some(access_json(access));
    e
}

pub fn access_changed(
    customer: &CustomerId,
    admin: &Admin,
    before: Access,
    after: Access,
    at: OffsetDateTime,
    actor: &Actor,
) -> LogEntry {
    let mut e = about_admin(entry(customer, at, "delegatedadministration:administrator/update", actor), admin);
    e.message =
        format!("Access of administrator {} changed from {before} to {after}; their API clients follow.", admin.email);
    e.before = Some(access_json(before));
    e.after = Some(access_json(after));
    e
}

pub fn admin_removed(
    customer: &CustomerId,
    admin: &Admin,
    clients_deleted: usize,
    at: OffsetDateTime,
    actor: &Actor,
) -> LogEntry {
    let mut e = about_admin(entry(customer, at, "delegatedadministration:administrator/delete", actor), admin);
    e.message = format!(
        "Administrator {} was removed from the customer; {clients_deleted} API client(s) were deleted.",
        admin.email
    );
    e
}

pub fn admin_status_changed(
    customer: &CustomerId,
    admin: &Admin,
    status: AdminStatus,
    active_clients: usize,
    at: OffsetDateTime,
    actor: &Actor,
) -> LogEntry {
    let (event_type, message) = match status {
        AdminStatus::Disabled if active_clients > 0 => (
            "delegatedadministration:administrator/disable",
            format!(
                "Administrator {} was disabled at their identity provider. Warning: their {active_clients} API client(s) remain active; delete the administrator to revoke them.",
                admin.email
            ),
        ),
        AdminStatus::Disabled => (
            "delegatedadministration:administrator/disable",
            format!("Administrator {} was disabled at their identity provider.", admin.email),
        ),
        AdminStatus::Active => (
            "delegatedadministration:administrator/enable",
            format!("Administrator {} was enabled at their identity provider.", admin.email),
        ),
    };
    let mut e = about_admin(entry(customer, at, event_type, actor), admin);
    e.message = message;
    e.after = Some(json!({ "status": status.as_str() }));
    e
}

pub fn sign_in(customer: &CustomerId, admin: &Admin, succeeded: bool, at: OffsetDateTime) -> LogEntry {
    let actor = Actor::Admin { id: admin.id, name: admin.email.to_string() };
    let (event_type, message) = if succeeded {
        ("platform:signin/success", format!("Administrator {} signed in.", admin.email))
    } else {
        ("platform:signin/failure", format!("Sign-in failed for administrator {}: wrong password.", admin.email))
    };
    about_admin(LogEntry { message, ..entry(customer, at, event_type, &actor) }, admin)
}

fn about_provider(mut e: LogEntry, provider: &IdentityProvider) -> LogEntry {
    e.target_type = "IdentityProvider";
    e.target_id = provider.id.to_string();
    e.target_name = provider.issuer.clone();
    e
}

pub fn provider_connected(provider: &IdentityProvider, actor: &Actor) -> LogEntry {
    let mut e = about_provider(
        entry(&provider.customer_id, provider.created_at, "platform:identityprovider/connected", actor),
        provider,
    );
    e.message = format!("OpenID provider {} ({}) was connected.", provider.issuer, provider.provider_type);
    e.after = Some(json!({
        "providerType": provider.citrix_types().0,
        "externalProviderType": provider.citrix_types().1,
        "issuer": provider.issuer,
        "clientId": provider.client_id,
        "emailClaim": provider.email_claim,
    }));
    e
}

pub fn provider_disconnected(provider: &IdentityProvider, at: OffsetDateTime, actor: &Actor) -> LogEntry {
    let mut e =
        about_provider(entry(&provider.customer_id, at, "platform:identityprovider/disconnected", actor), provider);
    e.message = format!("OpenID provider {} was disconnected; its sign-in sessions ended.", provider.issuer);
    e
}

/// A sign-in through the customer's OpenID provider, successful or refused after the provider
/// vouched for the person (`reason` says why it was refused).
pub fn federated_sign_in(
    provider: &IdentityProvider,
    admin: &Admin,
    refused: Option<&str>,
    at: OffsetDateTime,
) -> LogEntry {
    let mut e = sign_in(&provider.customer_id, admin, refused.is_none(), at);
    e.message = match refused {
        None => format!("Administrator {} signed in through {}.", admin.email, provider.issuer),
        Some(reason) => {
            format!("Sign-in through {} failed for administrator {}: {reason}.", provider.issuer, admin.email)
        }
    };
    e
}

/// The failed sign-ins for `admin` that followed the one already logged, counted over a window
/// rather than written once each, so that guessing passwords cannot fill the log.
pub fn sign_in_failures(customer: &CustomerId, admin: &Admin, refusals: &Refusals, at: OffsetDateTime) -> LogEntry {
    let mut e = sign_in(customer, admin, false, at);
    e.message = format!(
        "{} further sign-in(s) failed for administrator {} in the last {}{}.",
        refusals.count,
        admin.email,
        refusals.window(),
        refusals.from()
    );
    e.after = Some(refusals.json());
    e
}

pub fn token_refused(client: &ApiClient, reason: &str, at: OffsetDateTime) -> LogEntry {
    let actor = Actor::ApiClient { id: client.id, name: client.name.clone() };
    let mut e = about_client(entry(&client.customer_id, at, "platform:token/failure", &actor), client);
    e.message = format!("A token request for API client {} was refused: {reason}.", client.name);
    e
}

/// The refused token requests for `client` that followed the one already logged (see
/// [`sign_in_failures`]).
pub fn token_refusals(client: &ApiClient, refusals: &Refusals, at: OffsetDateTime) -> LogEntry {
    let mut e = token_refused(client, "", at);
    e.message = format!(
        "{} further token request(s) for API client {} were refused in the last {}{}.",
        refusals.count,
        client.name,
        refusals.window(),
        refusals.from()
    );
    e.after = Some(refusals.json());
    e
}

/// Refusals counted over a window: how many, and from which source addresses (a bounded list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusals {
    pub count: u64,
    pub window_secs: u64,
    pub sources: Vec<IpAddr>,
    /// Whether more addresses were seen than `sources` holds.
    pub more_sources: bool,
}

impl Refusals {
    fn window(&self) -> String {
        match self.window_secs {
            60 => "minute".to_owned(),
            secs if secs % 60 == 0 => format!("{} minutes", secs / 60),
            secs => format!("{secs} seconds"),
        }
    }

    fn from(&self) -> String {
        if self.sources.is_empty() {
            return String::new();
        }
        let list = self.sources.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
        let more = if self.more_sources { " and others" } else { "" };
        format!(", from {list}{more}")
    }

    fn json(&self) -> Value {
        json!({
            "refusals": self.count,
            "windowSeconds": self.window_secs,
            "sourceAddresses": self.sources.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "moreSourceAddresses": self.more_sources,
        })
    }
}

/// Notes where a refused request came from.
pub fn from_source(mut e: LogEntry, source: Option<IpAddr>) -> LogEntry {
    if let Some(source) = source {
        e.after = Some(json!({ "sourceAddress": source.to_string() }));
    }
    e
}
