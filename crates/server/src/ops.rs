//! Operations that more than one front door performs (management API, operator CLI, console),
//! so each rule is enforced in one place whatever the path.

use std::net::IpAddr;

use time::OffsetDateTime;
use trustgate_core::access::Access;
use trustgate_core::admin::{Admin, AdminStatus, Email, Provider};
use trustgate_core::client::{parse_client_name, ApiClient, ClientKind};
use trustgate_core::client_secrets::{self, NewSecret, SecretInfo};
use trustgate_core::event::{self, Actor};
use trustgate_core::ids::{AdminId, ClientId, CustomerId, ScimTokenId};
use trustgate_core::lifecycle::Refusal;
use trustgate_core::provisioning::{self, ProvisioningToken, ScimToken};
use trustgate_core::secret::{random_token, ClientSecret, SecretId, ServerKey};
use trustgate_core::ValidationError;
use trustgate_store::{Invitation, InvitationTerms, Member, Store, StoreError};

use crate::error::ApiError;
use crate::password;
use crate::refusals::Subject;
use crate::state::AppState;
use crate::throttle::retry_after_secs;

/// Creates an API client owned by `owner` in `customer` (R1) and returns its secret, the only
/// time it exists in clear (R2). Refused once the owner holds `cap` clients there.
pub async fn new_client(
    store: &dyn Store,
    server_key: &ServerKey,
    customer: &CustomerId,
    owner: &Admin,
    name: &str,
    cap: u64,
    actor: &Actor,
) -> Result<(ApiClient, ClientSecret), ApiError> {
    let client = secure_client(customer, owner, name)?;
    let (secret, stored) = new_secret(server_key, None, client.created_at);
    store.create_client(&client, &stored, cap, actor).await?;
    Ok((client, secret))
}

fn secure_client(customer: &CustomerId, owner: &Admin, name: &str) -> Result<ApiClient, ApiError> {
    Ok(ApiClient {
        id: ClientId::generate(),
        customer_id: customer.clone(),
        kind: ClientKind::SecureClient { owner: owner.id },
        name: parse_client_name(name)?,
        created_at: OffsetDateTime::now_utc(),
        last_used_at: None,
    })
}

/// Creates a service principal of `customer` holding `access` (SP1, SP2) and returns its secret,
/// the only time it exists in clear. The secret expires at `secret_expires_at`, which must lie
/// ahead within `client_secrets::MAX_SECRET_LIFETIME_DAYS`, or when none is named after
/// `client_secrets::DEFAULT_PRINCIPAL_SECRET_DAYS` (SP6); rotate it through the secrets API.
pub async fn new_principal(
    store: &dyn Store,
    server_key: &ServerKey,
    customer: &CustomerId,
    name: &str,
    access: Access,
    secret_expires_at: Option<OffsetDateTime>,
    actor: &Actor,
) -> Result<(ApiClient, ClientSecret), ApiError> {
    let principal = ApiClient {
        id: ClientId::generate(),
        customer_id: customer.clone(),
        kind: ClientKind::ServicePrincipal { access },
        name: parse_client_name(name)?,
        created_at: OffsetDateTime::now_utc(),
        last_used_at: None,
    };
    let requested = secret_expires_at
        .unwrap_or(principal.created_at + time::Duration::days(client_secrets::DEFAULT_PRINCIPAL_SECRET_DAYS));
    // The create body names the first secret's expiry `secretExpiresAt`; refusals say so.
    let expires_at = client_secrets::expiry(Some(requested), true, principal.created_at).map_err(|e| {
        ValidationError { field: "secretExpiresAt", detail: e.detail.replace("expiresAt", "secretExpiresAt"), ..e }
    })?;
    let (secret, stored) = new_secret(server_key, expires_at, principal.created_at);
    store.create_principal(&principal, &stored, actor).await?;
    Ok((principal, secret))
}

fn new_secret(
    server_key: &ServerKey,
    expires_at: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> (ClientSecret, NewSecret) {
    let id = SecretId::generate();
    let secret = ClientSecret::generate_as(id);
    let stored = NewSecret { id, verifier: server_key.verifier(&secret), created_at: now, expires_at };
    (secret, stored)
}

/// Adds a secret to a client: the one time it exists in clear. `expires_at` must lie ahead,
/// within `client_secrets::MAX_SECRET_LIFETIME_DAYS`; secure clients may have none.
pub async fn add_secret(
    store: &dyn Store,
    server_key: &ServerKey,
    customer: &CustomerId,
    client: ClientId,
    expires_at: Option<OffsetDateTime>,
    actor: &Actor,
) -> Result<(SecretInfo, ClientSecret), ApiError> {
    let now = OffsetDateTime::now_utc();
    let expires_at = client_secrets::expiry(expires_at, false, now)?;
    let (secret, stored) = new_secret(server_key, expires_at, now);
    let info = store.add_client_secret(customer, client, &stored, actor).await?;
    Ok((info, secret))
}

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

/// Checks an administrator's e-mail and password from `source`. A success is written to the system
/// log of every customer where the administrator is an accepted member (the session it opens
/// reaches each of them; a customer that only invited them receives nothing, issue #20); failures
/// are counted there (R10, at most one record per administrator and customer per window) and
/// throttled per e-mail and source address. An unknown e-mail costs the same reads and hash as a wrong password, and is throttled
/// alike, so neither the time nor a 429 tells whether an account exists.
pub async fn authenticate(
    state: &AppState,
    email: &str,
    password: String,
    source: Option<IpAddr>,
) -> Result<Admin, ApiError> {
    let email = Email::parse(email)?;
    if password.len() > password::MAX_PASSWORD_LEN {
        return Err(ValidationError::too_long("password", password::MAX_PASSWORD_LEN).into());
    }
    if let Err(wait) = state.throttles.sign_ins.check(&email, source) {
        state.metrics.throttled(crate::metrics::ThrottleKind::SignIn);
        return Err(ApiError::Throttled { retry_after: retry_after_secs(wait) });
    }
    let store = state.store.as_ref();
    let admin = store.admin_by_email(&email).await?;
    let id = admin.as_ref().map_or_else(AdminId::generate, |a| a.id);
    let stored = store.password_hash(id).await?;
    let matches = password::verify(password, stored).await?;
    let memberships = store.memberships(id).await?;
    let now = OffsetDateTime::now_utc();
    let Some(admin) = admin else {
        state.throttles.sign_ins.failed(&email, source);
        return Err(bad_sign_in());
    };
    if matches {
        for membership in &memberships {
            store.append_log(&event::sign_in(&membership.customer.id, &admin, true, now)).await?;
        }
        return Ok(admin);
    }
    state.throttles.sign_ins.failed(&email, source);
    for membership in memberships {
        let entry = || event::sign_in(&membership.customer.id, &admin, false, now);
        state.refused(&Subject::SignIn(membership.customer.id.clone(), admin.clone()), entry, source).await;
    }
    Err(bad_sign_in())
}

fn bad_sign_in() -> ApiError {
    ApiError::Unauthenticated { reason: "invalid", detail: "Invalid e-mail or password." }
}

// Invitations for local administrators (issue #12).

/// Marks invitation tokens, so a secret scanner can tell one pasted where it should not be.
const INVITATION_PREFIX: &str = "tgi_";

/// An administrator just added: a member at once, or a pending one and how their invitation
/// went out.
pub struct Added {
    pub member: Member,
    pub invitation: Option<Delivery>,
}

/// How an invitation made through the API or the console reached the invitee (issue #20). The
/// link itself is never handed to the inviting administrator: whoever holds it may complete the
/// invitation, and the inviter does not control the invitee's mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// E-mailed to the invitee's address.
    Emailed,
    /// SMTP is configured but the mail server did not take the message: re-invite later.
    MailFailed,
    /// No mail server is configured: the deployment's operator passes the link on
    /// (`trustgate admin invite` prints a new one for a pending invitation).
    NoMailServer,
}

/// The keyed verifier the store finds an invitation by; `None` for text that cannot be a token.
pub fn invitation_verifier(state: &AppState, token: &str) -> Option<[u8; 32]> {
    let token = token.trim();
    let body = token.strip_prefix(INVITATION_PREFIX)?;
    (body.len() == 43 && body.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        .then(|| state.server_key().digest(token))
}

/// A fresh invitation token made at `now`, and what the store keeps of it.
pub fn new_invitation(
    server_key: &ServerKey,
    lifetime: std::time::Duration,
    now: OffsetDateTime,
) -> (String, InvitationTerms) {
    let token = format!("{INVITATION_PREFIX}{}", random_token());
    let lifetime = time::Duration::try_from(lifetime).unwrap_or(time::Duration::days(5));
    let terms = InvitationTerms { verifier: server_key.digest(&token), expires_at: now + lifetime };
    (token, terms)
}

/// Adds an administrator to `customer` as the console and the Administrators API do: a local
/// administrator, new or one who already administers another customer, is invited (the
/// membership grants nothing until accepted); a federated administrator joins at once
/// (`trustgate_core::lifecycle::needs_invitation` says why).
pub async fn invite_admin(
    state: &AppState,
    customer: &CustomerId,
    new: NewAdmin,
    access: Access,
    actor: &Actor,
) -> Result<Added, ApiError> {
    let (token, terms) =
        new_invitation(&state.server_key(), state.config.invitation_lifetime, state.config.clock.now_utc());
    let (member, _) = state.store.add_admin(customer, &new.candidate(), None, access, Some(&terms), actor).await?;
    let invitation = match member.pending {
        Some(_) => Some(deliver(state, customer, &member, &token, actor).await),
        None => None,
    };
    Ok(Added { member, invitation })
}

/// Citrix's `accessType: Reinvite`: a new link for a pending member, valid for a full lifetime
/// again; the previous link stops working.
pub async fn resend_invitation(
    state: &AppState,
    customer: &CustomerId,
    admin: AdminId,
    actor: &Actor,
) -> Result<Added, ApiError> {
    let (token, terms) =
        new_invitation(&state.server_key(), state.config.invitation_lifetime, state.config.clock.now_utc());
    let member = state.store.resend_invitation(customer, admin, &terms, actor).await?;
    let invitation = Some(deliver(state, customer, &member, &token, actor).await);
    Ok(Added { member, invitation })
}

/// The link the invitee opens, on the deployment reached at `public_url`.
pub fn invitation_url(public_url: &str, token: &str) -> String {
    format!("{}/console/invitation?token={token}", public_url.trim_end_matches('/'))
}

/// Sends the invitation link to the invitee's mailbox, the only place it goes from the API and the
/// console: the link proves the e-mail, so it must reach the person who reads that mailbox and no
/// one else (issue #20). A mail server that fails is reported, never answered with the link.
async fn deliver(state: &AppState, customer: &CustomerId, member: &Member, token: &str, actor: &Actor) -> Delivery {
    let Some(smtp) = &state.config.smtp else { return Delivery::NoMailServer };
    let url = invitation_url(&state.config.issuer.url, token);
    let name = match state.store.customer(customer).await {
        Ok(Some(found)) => found.name,
        _ => customer.to_string(),
    };
    let days = match state.config.invitation_lifetime.as_secs().div_ceil(86_400) {
        1 => "1 day".to_owned(),
        n => format!("{n} days"),
    };
    let body = format!(
        "{} invites you to administer {name} in Trustgate.\n\n\
         Open this link to accept the invitation (it works once, for {days}):\n\n{url}\n\n\
         If you did not expect this invitation, ignore this message.\n",
        actor.display_name()
    );
    let subject = format!("Invitation to administer {name}");
    match crate::mail::send(smtp, member.admin.email.as_str(), &subject, body).await {
        Ok(()) => Delivery::Emailed,
        Err(error) => {
            tracing::warn!(%error, customer = %customer, "the invitation e-mail was not sent; the inviter may re-invite");
            Delivery::MailFailed
        }
    }
}

/// Looks up the invitation behind `token` for the invitee's page. An expired one is reported as
/// such, and its expiry written to the system log if it was not yet.
pub async fn invitation(state: &AppState, token: &str) -> Result<Invitation, ApiError> {
    Ok(find_invitation(state, token).await?.1)
}

/// The verifier an invitation is stored under and the invitation: made under the current server
/// key, or under a retired one before the server key was rotated.
async fn find_invitation(state: &AppState, token: &str) -> Result<([u8; 32], Invitation), ApiError> {
    invitation_verifier(state, token).ok_or(ApiError::NotFound("invitation"))?;
    let mut found = None;
    for verifier in state.server_keys().ring.digests(token.trim()) {
        if let Some(invitation) = state.store.invitation(&verifier).await? {
            found = Some((verifier, invitation));
            break;
        }
    }
    let (verifier, found) = found.ok_or(ApiError::NotFound("invitation"))?;
    let now = state.config.clock.now_utc();
    if found.expires_at <= now {
        state.store.log_expired_invitations(now).await?;
        return Err(StoreError::Refused(Refusal::InvitationExpired).into());
    }
    Ok((verifier, found))
}

/// Accepts the invitation behind `token` with `password` (issue #20: nobody joins a customer
/// without proving control of the identity). An invitee who has no password yet chooses it here
/// (under the usual rules): the link reached their mailbox, which proves the e-mail. One who
/// already has a password must give it: that is a sign-in as the account, throttled and logged as
/// any other ([`authenticate`]), and without it holding the link is not enough to make the account
/// join. Returns the invitation accepted and the administrator, now proven, for a session.
pub async fn accept_invitation(
    state: &AppState,
    token: &str,
    password: String,
    source: Option<IpAddr>,
) -> Result<(Invitation, Admin), ApiError> {
    let (verifier, found) = find_invitation(state, token).await?;
    if password.is_empty() {
        return Err(ValidationError::missing("password").into());
    }
    let hash = if found.has_password {
        let admin = authenticate(state, found.admin.email.as_str(), password, source).await?;
        if admin.id != found.admin.id {
            return Err(bad_sign_in());
        }
        None
    } else {
        password::check_strength(&password)?;
        Some(password::hash(password).await?)
    };
    let now = state.config.clock.now_utc();
    let accepted = match state.store.accept_invitation(&verifier, hash.as_deref(), now).await {
        Err(StoreError::Refused(Refusal::InvitationExpired)) => {
            state.store.log_expired_invitations(now).await?;
            return Err(StoreError::Refused(Refusal::InvitationExpired).into());
        }
        other => other?,
    };
    let admin = state.store.admin(accepted.admin.id).await?.ok_or(ApiError::NotFound("invitation"))?;
    Ok((accepted, admin))
}

/// A provider id (`externalProviderId`, `--provider-id`): trimmed, at most 256 bytes; empty is none.
pub fn provider_id_of(text: Option<&str>) -> Result<Option<String>, ValidationError> {
    match text.map(str::trim) {
        Some(id) if id.len() > 256 => Err(ValidationError::too_long("providerId", 256)),
        Some(id) if !id.is_empty() => Ok(Some(id.to_owned())),
        _ => Ok(None),
    }
}

/// The provider a SCIM token speaks for: its name (`AzureAd`, …) and, optionally, its directory.
pub struct TokenProvider<'a> {
    pub name: &'a str,
    pub id: Option<&'a str>,
}

/// Creates a SCIM provisioning token for `customer` and returns it in clear, the only time it
/// exists so. Only a Full administrator (or the operator) may; the store checks it.
pub async fn new_scim_token(
    store: &dyn Store,
    server_key: &ServerKey,
    customer: &CustomerId,
    name: &str,
    provider: TokenProvider<'_>,
    created_by: &str,
    actor: &Actor,
) -> Result<(ScimToken, ProvisioningToken), ApiError> {
    let token = ScimToken {
        id: ScimTokenId::generate(),
        customer_id: customer.clone(),
        name: provisioning::parse_token_name(name)?,
        provider: provisioning::parse_token_provider(provider.name)?,
        provider_id: provider_id_of(provider.id)?,
        created_at: OffsetDateTime::now_utc(),
        created_by: created_by.to_owned(),
    };
    let secret = ProvisioningToken::generate();
    store.create_scim_token(&token, &server_key.digest(secret.expose()), &server_key.id(), actor).await?;
    Ok((token, secret))
}
