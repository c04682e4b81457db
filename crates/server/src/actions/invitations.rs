//! Invitations for local administrators: the token, its e-mail, and accepting it.

use std::net::IpAddr;

use time::OffsetDateTime;
use trustgate_core::access::Access;
use trustgate_core::admin::Admin;
use trustgate_core::event::Actor;
use trustgate_core::ids::{AdminId, CustomerId};
use trustgate_core::lifecycle::Refusal;
use trustgate_core::secret::{random_token, ServerKey};
use trustgate_core::ValidationError;
use trustgate_store::{Invitation, InvitationTerms, Member, StoreError};

use crate::error::ApiError;
use crate::password;
use crate::state::AppState;

pub use crate::mail::Delivery;

use super::admins::NewAdmin;
use super::sign_in::{authenticate, bad_sign_in};
/// Marks invitation tokens, so a secret scanner can tell one pasted where it should not be.
const INVITATION_PREFIX: &str = "tgi_";

/// An administrator just added: a member at once, or a pending one and how their invitation
/// went out.
pub struct Added {
    pub member: Member,
    pub invitation: Option<Delivery>,
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
