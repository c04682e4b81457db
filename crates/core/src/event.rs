//! System-log events (R10): every lifecycle change, with who did it. Built here, written by the
//! store in the same transaction as the change they describe.

use std::net::IpAddr;

use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::access::Access;
use crate::admin::{Admin, AdminStatus};
use crate::client::{ApiClient, ClientKind};
use crate::customer::{DisabledOwnerPolicy, LostAccessPolicy};
use crate::federation::IdentityProvider;
use crate::group::AdminGroup;
use crate::ids::{AdminId, ClientId, CustomerId, ScimTokenId};
use crate::provisioning::ScimToken;
use crate::secret::{SecretId, ServerKeyId};

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
    /// A service principal, acting with its own access.
    ServicePrincipal {
        id: ClientId,
        name: String,
    },
    /// The operator CLI, or Trustgate itself.
    System,
    /// A customer's identity provider, provisioning over SCIM with the token named `name`.
    Provider {
        token: ScimTokenId,
        name: String,
    },
}

impl Actor {
    /// An API client acting: a secure client, or a service principal.
    pub fn of_client(client: &ApiClient) -> Self {
        let (id, name) = (client.id, client.name.clone());
        match client.kind {
            ClientKind::SecureClient { .. } => Actor::ApiClient { id, name },
            ClientKind::ServicePrincipal { .. } => Actor::ServicePrincipal { id, name },
        }
    }

    pub fn actor_type(&self) -> &'static str {
        match self {
            Actor::Admin { .. } => "Administrator",
            Actor::ApiClient { .. } => "SecureClient",
            Actor::ServicePrincipal { .. } => "ServicePrincipal",
            Actor::System => "System",
            Actor::Provider { .. } => "IdentityProvider",
        }
    }

    pub fn id(&self) -> Option<String> {
        match self {
            Actor::Admin { id, .. } => Some(id.to_string()),
            Actor::ApiClient { id, .. } | Actor::ServicePrincipal { id, .. } => Some(id.to_string()),
            Actor::System => None,
            Actor::Provider { token, .. } => Some(token.to_string()),
        }
    }

    pub fn display_name(&self) -> &str {
        match self {
            Actor::Admin { name, .. }
            | Actor::ApiClient { name, .. }
            | Actor::ServicePrincipal { name, .. }
            | Actor::Provider { name, .. } => name,
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
    /// Its owner lost the last access they held, through a change to their groups (issue #25).
    OwnerLostLastAccess,
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

/// As Citrix's access model: Full access lists no policies (it holds every one there is, now and later).
fn access_json(access: &Access) -> Value {
    match access {
        Access::Full => json!({ "accessType": "Full", "policies": null }),
        Access::Custom(set) => {
            json!({ "accessType": "Custom", "policies": set.iter().map(ToString::to_string).collect::<Vec<_>>() })
        }
    }
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
    e.target_type = client.kind.wire_name();
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

/// A change to one of a customer's settings, whose message says what it now does.
fn customer_updated(customer: &CustomerId, at: OffsetDateTime, actor: &Actor) -> LogEntry {
    let mut e = entry(customer, at, "platform:customer/update", actor);
    e.target_type = "Customer";
    e.target_id = customer.to_string();
    e.target_name = customer.to_string();
    e
}

pub fn policy_changed(
    customer: &CustomerId,
    policy: DisabledOwnerPolicy,
    at: OffsetDateTime,
    actor: &Actor,
) -> LogEntry {
    let mut e = customer_updated(customer, at, actor);
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
        DeletionCause::OwnerLostLastAccess => format!(
            "API client {} was deleted because its owner no longer holds any access in the customer.",
            client.name
        ),
    };
    e.before = Some(client_json(client));
    e
}

/// What the log records of a client: its owner, or a principal's own access.
fn client_json(client: &ApiClient) -> Value {
    match &client.kind {
        ClientKind::SecureClient { owner } => json!({ "name": client.name, "ownerUserId": owner.to_string() }),
        ClientKind::ServicePrincipal { access } => json!({ "name": client.name, "access": access_json(access) }),
    }
}

pub fn principal_created(principal: &ApiClient, actor: &Actor) -> LogEntry {
    let mut e = about_client(
        entry(&principal.customer_id, principal.created_at, "platform:serviceprincipal/create", actor),
        principal,
    );
    e.message = format!("Service principal {} was created.", principal.name);
    e.after = Some(client_json(principal));
    e
}

pub fn principal_access_changed(
    principal: &ApiClient,
    before: &Access,
    after: &Access,
    at: OffsetDateTime,
    actor: &Actor,
) -> LogEntry {
    let mut e = about_client(entry(&principal.customer_id, at, "platform:serviceprincipal/update", actor), principal);
    e.message = format!("Access of service principal {} changed from {before} to {after}.", principal.name);
    e.before = Some(access_json(before));
    e.after = Some(access_json(after));
    e
}

pub fn principal_deleted(principal: &ApiClient, at: OffsetDateTime, actor: &Actor) -> LogEntry {
    let mut e = about_client(entry(&principal.customer_id, at, "platform:serviceprincipal/delete", actor), principal);
    e.message = format!("Service principal {} was deleted.", principal.name);
    e.before = Some(client_json(principal));
    e
}

/// `before` is the secure client, `after` the principal it became, with the same id (SP7).
pub fn client_converted(before: &ApiClient, after: &ApiClient, at: OffsetDateTime, actor: &Actor) -> LogEntry {
    let mut e = about_client(entry(&after.customer_id, at, "platform:serviceprincipal/convert", actor), after);
    e.message = format!("API client {} was converted into a service principal.", after.name);
    e.before = Some(client_json(before));
    e.after = Some(client_json(after));
    e
}

/// Why a client's secret is in the system log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretEvent {
    Added,
    Deleted,
    /// Its expiry passed: logged once, whether or not anyone still presents it.
    Expired,
    /// It expires within the warning period; the customer's Full administrators were notified.
    Expiring,
}

/// A client's secret added, deleted, expired or about to expire (R10). The secret's id and
/// expiry are named; the secret never is.
pub fn client_secret(
    client: &ApiClient,
    secret: &SecretId,
    expires_at: Option<OffsetDateTime>,
    what: SecretEvent,
    at: OffsetDateTime,
    actor: &Actor,
) -> LogEntry {
    let event_type = match what {
        SecretEvent::Added => "platform:secureclient/secret/create",
        SecretEvent::Deleted => "platform:secureclient/secret/delete",
        SecretEvent::Expired => "platform:secureclient/secret/expire",
        SecretEvent::Expiring => "platform:secureclient/secret/expiring",
    };
    let mut e = about_client(entry(&client.customer_id, at, event_type, actor), client);
    let until = expires_at.and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok());
    e.message = match (what, &until) {
        (SecretEvent::Added, Some(until)) => {
            format!("A secret {secret} was added to API client {}; it expires {until}.", client.name)
        }
        (SecretEvent::Added, None) => format!("A secret {secret} was added to API client {}.", client.name),
        (SecretEvent::Deleted, _) => format!("The secret {secret} of API client {} was deleted.", client.name),
        (SecretEvent::Expired, _) => format!("The secret {secret} of API client {} expired.", client.name),
        (SecretEvent::Expiring, until) => format!(
            "The secret {secret} of API client {} expires {}; add a new secret and move to it.",
            client.name,
            until.as_deref().unwrap_or("soon")
        ),
    };
    let details = json!({ "secretId": secret.as_str(), "expiresAt": until });
    if what == SecretEvent::Added {
        e.after = Some(details);
    } else {
        e.before = Some(details);
    }
    e
}

/// What happened to a group (issue #25).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupEvent {
    Created,
    /// Its name or external id changed.
    Renamed,
    Deleted,
}

fn about_group(mut e: LogEntry, group: &AdminGroup) -> LogEntry {
    e.target_type = "AdministratorGroup";
    e.target_id = group.id.to_string();
    e.target_name = group.display_name.clone();
    e
}

fn group_json(group: &AdminGroup) -> Value {
    json!({ "displayName": group.display_name, "externalId": group.external_id, "access": access_json(&group.access) })
}

pub fn group_changed(group: &AdminGroup, what: GroupEvent, at: OffsetDateTime, actor: &Actor) -> LogEntry {
    let event_type = match what {
        GroupEvent::Created => "delegatedadministration:group/create",
        GroupEvent::Renamed => "delegatedadministration:group/update",
        GroupEvent::Deleted => "delegatedadministration:group/delete",
    };
    let mut e = about_group(entry(&group.customer_id, at, event_type, actor), group);
    e.message = match what {
        GroupEvent::Created => format!("Group {} was added.", group.display_name),
        GroupEvent::Renamed => format!("Group {} was updated.", group.display_name),
        GroupEvent::Deleted => format!(
            "Group {} was deleted; {} no longer hold its access.",
            group.display_name,
            counted(group.members.len() as u64, "member", "members")
        ),
    };
    if what == GroupEvent::Deleted {
        e.before = Some(group_json(group));
    } else {
        e.after = Some(group_json(group));
    }
    e
}

pub fn group_access_changed(group: &AdminGroup, before: &Access, at: OffsetDateTime, actor: &Actor) -> LogEntry {
    let mut e = about_group(entry(&group.customer_id, at, "delegatedadministration:group/access", actor), group);
    e.message = format!(
        "Access of group {} changed from {before} to {}; its members and their API clients follow.",
        group.display_name, group.access
    );
    e.before = Some(access_json(before));
    e.after = Some(access_json(&group.access));
    e
}

/// An administrator joined (`joined`) or left a group.
pub fn group_member(group: &AdminGroup, admin: &Admin, joined: bool, at: OffsetDateTime, actor: &Actor) -> LogEntry {
    let event_type =
        if joined { "delegatedadministration:group/member/add" } else { "delegatedadministration:group/member/remove" };
    let mut e = about_group(entry(&group.customer_id, at, event_type, actor), group);
    e.message = if joined {
        format!("{} joined group {}.", admin.email, group.display_name)
    } else {
        format!("{} left group {}.", admin.email, group.display_name)
    };
    let member = json!({ "userId": admin.id.to_string(), "email": admin.email.to_string() });
    if joined {
        e.after = Some(member);
    } else {
        e.before = Some(member);
    }
    e
}

/// A member's access changed because of their groups; `before` and `after` are what they hold
/// in all (their own joined with their groups').
pub fn access_through_groups(
    customer: &CustomerId,
    admin: &Admin,
    before: &Access,
    after: &Access,
    clients_deleted: usize,
    at: OffsetDateTime,
    actor: &Actor,
) -> LogEntry {
    let mut e = about_admin(entry(customer, at, "delegatedadministration:administrator/update", actor), admin);
    e.message = if after.grants_nothing() {
        format!(
            "Administrator {} no longer holds any access, through their groups; {} deleted.",
            admin.email,
            counted(clients_deleted as u64, "API client was", "API clients were")
        )
    } else {
        format!(
            "Access of administrator {} changed from {before} to {after} through their groups; their API clients follow.",
            admin.email
        )
    };
    e.before = Some(access_json(before));
    e.after = Some(access_json(after));
    e
}

pub fn admin_added(
    customer: &CustomerId,
    admin: &Admin,
    access: &Access,
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
    before: &Access,
    after: &Access,
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
        "Administrator {} was removed from the customer; {} deleted.",
        admin.email,
        counted(clients_deleted as u64, "API client was", "API clients were")
    );
    e
}

/// A member whom a change to their groups left with no access, removed from the customer under
/// its [`LostAccessPolicy`]: the removal's record, saying why and what they held.
pub fn admin_removed_without_access(
    customer: &CustomerId,
    admin: &Admin,
    before: &Access,
    clients_deleted: usize,
    at: OffsetDateTime,
    actor: &Actor,
) -> LogEntry {
    let mut e = admin_removed(customer, admin, clients_deleted, at, actor);
    e.message = format!(
        "Administrator {} was removed from the customer: their groups no longer give them any access; {} deleted.",
        admin.email,
        counted(clients_deleted as u64, "API client was", "API clients were")
    );
    e.before = Some(access_json(before));
    e
}

pub fn lost_access_policy_changed(
    customer: &CustomerId,
    policy: LostAccessPolicy,
    at: OffsetDateTime,
    actor: &Actor,
) -> LogEntry {
    let mut e = customer_updated(customer, at, actor);
    e.message = match policy {
        LostAccessPolicy::RemoveFromCustomer => {
            "A member whose groups leave them no access is now removed from the customer, with their API clients."
                .to_owned()
        }
        LostAccessPolicy::KeepInCustomer => {
            "A member whose groups leave them no access now stays in the customer without access; their API clients are deleted."
                .to_owned()
        }
    };
    e.after = Some(json!({ "lostAccessPolicy": policy.as_str() }));
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
                "Administrator {} was disabled at their identity provider. Warning: their {} active; delete the administrator to revoke them.",
                admin.email,
                counted(active_clients as u64, "API client remains", "API clients remain")
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

/// What happened to an invitation (issue #12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitationEvent {
    Sent,
    Resent,
    Accepted,
    Expired,
    Cancelled,
}

pub fn invitation(
    customer: &CustomerId,
    admin: &Admin,
    access: &Access,
    what: InvitationEvent,
    at: OffsetDateTime,
    actor: &Actor,
) -> LogEntry {
    let (event_type, message) = match what {
        InvitationEvent::Sent => (
            "delegatedadministration:invitation/create",
            format!("{} was invited to administer the customer with {} access.", admin.email, access.access_type()),
        ),
        InvitationEvent::Resent => (
            "delegatedadministration:invitation/resend",
            format!("A new invitation was sent to {}; the previous link no longer works.", admin.email),
        ),
        InvitationEvent::Accepted => (
            "delegatedadministration:invitation/accept",
            format!(
                "{} accepted the invitation and now administers the customer with {} access.",
                admin.email,
                access.access_type()
            ),
        ),
        InvitationEvent::Expired => (
            "delegatedadministration:invitation/expire",
            format!("The invitation of {} expired unaccepted.", admin.email),
        ),
        InvitationEvent::Cancelled => {
            ("delegatedadministration:invitation/delete", format!("The invitation of {} was cancelled.", admin.email))
        }
    };
    let mut e = about_admin(entry(customer, at, event_type, actor), admin);
    e.message = message;
    e.after = Some(access_json(access));
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
        "{} failed for administrator {} in the last {}{}.",
        counted(refusals.count, "further sign-in", "further sign-ins"),
        admin.email,
        refusals.window(),
        refusals.from()
    );
    e.after = Some(refusals.json());
    e
}

pub fn token_refused(client: &ApiClient, reason: &str, at: OffsetDateTime) -> LogEntry {
    let actor = Actor::of_client(client);
    let mut e = about_client(entry(&client.customer_id, at, "platform:token/failure", &actor), client);
    e.message = format!("A token request for API client {} was refused: {reason}.", client.name);
    e
}

/// The refused token requests for `client` that followed the one already logged (see
/// [`sign_in_failures`]).
pub fn token_refusals(client: &ApiClient, refusals: &Refusals, at: OffsetDateTime) -> LogEntry {
    let mut e = token_refused(client, "", at);
    e.message = format!(
        "{} for API client {} {} refused in the last {}{}.",
        counted(refusals.count, "further token request", "further token requests"),
        client.name,
        if refusals.count == 1 { "was" } else { "were" },
        refusals.window(),
        refusals.from()
    );
    e.after = Some(refusals.json());
    e
}

/// `1 API client`, `2 API clients`: messages count in proper English, never "client(s)".
pub fn counted(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
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

/// Written to every customer's log: each customer's console sessions ended, and its secrets made
/// under the retired key are for its administrators to replace.
pub fn server_key_rotated(
    customer: &CustomerId,
    retired: &ServerKeyId,
    current: &ServerKeyId,
    at: OffsetDateTime,
) -> LogEntry {
    let mut e = entry(customer, at, "platform:serverkey/rotate", &Actor::System);
    e.target_type = "ServerKey";
    e.target_id = current.to_string();
    e.target_name = current.to_string();
    e.message = format!(
        "The operator rotated the server key from {retired} to {current}: every console session ended. \
         Client secrets, resource-server secrets and SCIM tokens made under {retired} keep working \
         until they are replaced."
    );
    e.before = Some(json!({ "serverKey": retired.as_str() }));
    e.after = Some(json!({ "serverKey": current.as_str() }));
    e
}

pub fn scim_token_created(token: &ScimToken, actor: &Actor) -> LogEntry {
    let mut e = entry(&token.customer_id, token.created_at, "platform:scimtoken/create", actor);
    e.target_type = "ScimToken";
    e.target_id = token.id.to_string();
    e.target_name = token.name.clone();
    e.message = format!("SCIM provisioning token {} ({}) was created.", token.name, token.provider);
    e
}

pub fn scim_token_revoked(token: &ScimToken, at: OffsetDateTime, actor: &Actor) -> LogEntry {
    let mut e = entry(&token.customer_id, at, "platform:scimtoken/delete", actor);
    e.target_type = "ScimToken";
    e.target_id = token.id.to_string();
    e.target_name = token.name.clone();
    e.message = format!("SCIM provisioning token {} was revoked; the provider can no longer provision.", token.name);
    e
}

/// The customer's policy for local administrators' second factor (issue #25).
pub fn local_mfa_policy_changed(customer: &CustomerId, required: bool, at: OffsetDateTime, actor: &Actor) -> LogEntry {
    let mut e = customer_updated(customer, at, actor);
    e.message = if required {
        "Administrators who sign in with a password now need a second factor.".to_owned()
    } else {
        "Administrators who sign in with a password no longer need a second factor.".to_owned()
    };
    e.after = Some(json!({ "requireLocalMfa": required }));
    e
}

/// An administrator enrolled an authenticator app as their second factor.
pub fn second_factor_enrolled(customer: &CustomerId, admin: &Admin, at: OffsetDateTime) -> LogEntry {
    let actor = Actor::Admin { id: admin.id, name: admin.email.to_string() };
    let mut e = about_admin(entry(customer, at, "platform:administrator/mfaEnrolled", &actor), admin);
    e.message = format!("Administrator {} enrolled an authenticator app as a second factor.", admin.email);
    e
}

/// An administrator registered a passkey named `name` (issue #25): a second factor, and a sign-in
/// on its own.
pub fn passkey_registered(customer: &CustomerId, admin: &Admin, name: &str, at: OffsetDateTime) -> LogEntry {
    let actor = Actor::Admin { id: admin.id, name: admin.email.to_string() };
    let mut e = about_admin(entry(customer, at, "platform:administrator/mfaEnrolled", &actor), admin);
    e.message = format!("Administrator {} registered a passkey ({name}) as a second factor.", admin.email);
    e
}

/// An administrator deleted their own passkey named `name`.
pub fn passkey_deleted(customer: &CustomerId, admin: &Admin, name: &str, at: OffsetDateTime) -> LogEntry {
    let actor = Actor::Admin { id: admin.id, name: admin.email.to_string() };
    let mut e = about_admin(entry(customer, at, "platform:administrator/mfaRemoved", &actor), admin);
    e.message = format!("Administrator {} deleted their passkey ({name}).", admin.email);
    e
}

/// The second factor of `admin` was removed by `actor`; their sessions ended with it.
pub fn second_factor_reset(customer: &CustomerId, admin: &Admin, at: OffsetDateTime, actor: &Actor) -> LogEntry {
    let mut e = about_admin(entry(customer, at, "platform:administrator/mfaReset", actor), admin);
    e.message = format!(
        "The second factor of administrator {} was reset by {}; their sessions ended, and they enrol again at their next sign-in.",
        admin.email,
        actor.display_name()
    );
    e
}

/// A sign-in completed with one of the administrator's recovery codes.
pub fn recovery_code_used(customer: &CustomerId, admin: &Admin, remaining: u64, at: OffsetDateTime) -> LogEntry {
    let mut e = sign_in(customer, admin, true, at);
    e.message = format!(
        "Administrator {} signed in with a recovery code ({} left).",
        admin.email,
        counted(remaining, "recovery code", "recovery codes")
    );
    e
}

/// A wrong, expired or replayed second-factor code after a right password (aggregated afterwards
/// with failed sign-ins, see [`sign_in_failures`]).
pub fn second_factor_failed(customer: &CustomerId, admin: &Admin, at: OffsetDateTime) -> LogEntry {
    let mut e = sign_in(customer, admin, false, at);
    e.message = format!("Sign-in failed for administrator {}: wrong or already used second-factor code.", admin.email);
    e
}

/// A passkey assertion refused for `admin`: not one of theirs, a stale or replayed ceremony, a bad
/// signature or a counter that did not move on (aggregated as failed sign-ins are).
pub fn passkey_failed(customer: &CustomerId, admin: &Admin, at: OffsetDateTime) -> LogEntry {
    let mut e = sign_in(customer, admin, false, at);
    e.message = format!("Sign-in failed for administrator {}: the passkey was not accepted.", admin.email);
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::{Email, Provider};

    fn admin() -> Admin {
        Admin {
            id: AdminId::generate(),
            email: Email::parse("ops@example.com").unwrap(),
            display_name: "Ops".to_owned(),
            provider: Provider::Okta,
            external_id: Some("00u1".to_owned()),
            provider_id: None,
            status: AdminStatus::Active,
            created_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn messages_count_in_proper_english() {
        let customer = CustomerId::parse("acme").unwrap();
        let (admin, at) = (admin(), OffsetDateTime::UNIX_EPOCH);
        let removed = |n| admin_removed(&customer, &admin, n, at, &Actor::System).message;
        assert!(removed(1).ends_with("; 1 API client was deleted."), "{}", removed(1));
        assert!(removed(2).ends_with("; 2 API clients were deleted."), "{}", removed(2));
        let disabled =
            |n| admin_status_changed(&customer, &admin, AdminStatus::Disabled, n, at, &Actor::System).message;
        assert!(disabled(1).contains("their 1 API client remains active;"), "{}", disabled(1));
        assert!(disabled(3).contains("their 3 API clients remain active;"), "{}", disabled(3));
        let refusals = |count| Refusals { count, window_secs: 60, sources: vec![], more_sources: false };
        let failures = |n| sign_in_failures(&customer, &admin, &refusals(n), at).message;
        assert!(failures(1).starts_with("1 further sign-in failed for"), "{}", failures(1));
        assert!(failures(5).starts_with("5 further sign-ins failed for"), "{}", failures(5));
        for message in [removed(0), removed(1), disabled(2), failures(1)] {
            assert!(!message.contains("(s)"), "{message}");
        }
    }
}
