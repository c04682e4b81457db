//! A client's secrets (SP6): up to [`MAX_SECRETS_PER_CLIENT`] at once, each with its own id,
//! creator, optional expiry and last use, so a script can move to a new secret before the old
//! one is deleted. The rules are here; the store applies them inside the write transaction.

use time::OffsetDateTime;

use crate::access::Access;
use crate::client::{ApiClient, ClientKind};
use crate::ids::AdminId;
use crate::lifecycle::Refusal;
use crate::secret::{SecretId, SecretRef, SecretVerifier, ServerKeyId};
use crate::validate::ValidationError;

/// Secrets one client may hold at once: one in use, one being moved to, one spare — a rotation
/// never needs more, and each extra live secret is one more that can leak.
pub const MAX_SECRETS_PER_CLIENT: u64 = 3;

/// The longest expiry a secret may be given: two years, Databricks' default service-principal
/// secret lifetime (730 days, https://docs.databricks.com/api/workspace/serviceprincipalsecretsproxy).
pub const MAX_SECRET_LIFETIME_DAYS: i64 = 730;

/// Days before an expiry that the customer's Full administrators are warned, by default.
pub const DEFAULT_EXPIRY_WARNING_DAYS: u32 = 14;

/// A stored secret, as listed: never its verifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretInfo {
    pub id: SecretId,
    /// Issued before secrets had ids (in the first `tgs_` format); it never expires (R2).
    pub legacy: bool,
    pub created_at: OffsetDateTime,
    /// The display name of whoever added it (the system-log actor).
    pub created_by: String,
    pub expires_at: Option<OffsetDateTime>,
    pub last_used_at: Option<OffsetDateTime>,
    /// The server key its verifier was made under; `None` when made before keys had ids.
    pub server_key: Option<ServerKeyId>,
}

/// A secret that can grant, as the token endpoint checks it.
#[derive(Debug, Clone)]
pub struct GrantSecret {
    pub id: SecretId,
    pub legacy: bool,
    pub verifier: SecretVerifier,
    pub expires_at: Option<OffsetDateTime>,
    /// Whether its expiry has been written to the system log already.
    pub expiry_logged: bool,
    pub last_used_at: Option<OffsetDateTime>,
}

impl GrantSecret {
    /// Whether a presented secret naming `reference` is to be checked against this one.
    pub fn is(&self, reference: SecretRef) -> bool {
        match reference {
            SecretRef::Legacy => self.legacy,
            SecretRef::Named(id) => !self.legacy && self.id == id,
        }
    }

    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

/// A secret about to be stored.
#[derive(Debug, Clone)]
pub struct NewSecret {
    pub id: SecretId,
    pub verifier: SecretVerifier,
    pub created_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
}

/// The expiry a new secret gets: `requested`, which must lie in the future and within
/// [`MAX_SECRET_LIFETIME_DAYS`]. `required` is for kinds of client whose secrets must expire
/// (service principals); a secure client's may live until deleted, as Citrix's do.
pub fn expiry(
    requested: Option<OffsetDateTime>,
    required: bool,
    now: OffsetDateTime,
) -> Result<Option<OffsetDateTime>, ValidationError> {
    let Some(at) = requested else {
        return if required { Err(ValidationError::missing("expiresAt")) } else { Ok(None) };
    };
    if at <= now {
        return Err(ValidationError::out_of_range("expiresAt", "expiresAt must be in the future"));
    }
    if at > now + time::Duration::days(MAX_SECRET_LIFETIME_DAYS) {
        return Err(ValidationError::out_of_range(
            "expiresAt",
            format!("expiresAt must be at most {MAX_SECRET_LIFETIME_DAYS} days ahead"),
        ));
    }
    Ok(Some(at))
}

/// A service principal's secret when its creator names no expiry: a year, well inside the
/// maximum, so a forgotten principal stops working within a year rather than never.
pub const DEFAULT_PRINCIPAL_SECRET_DAYS: i64 = 365;

/// SP6: a service principal's secrets all expire (a secure client's may not, as before). A
/// converted client keeps the secrets it had (SP7); every secret added after must expire.
pub fn expiry_fits(client: &ApiClient, expires_at: Option<OffsetDateTime>) -> Result<(), Refusal> {
    match (&client.kind, expires_at) {
        (ClientKind::ServicePrincipal { .. }, None) => Err(Refusal::ExpiryRequired),
        _ => Ok(()),
    }
}

/// Adding a secret to a client that holds `held` already.
pub fn add(held: u64) -> Result<(), Refusal> {
    if held < MAX_SECRETS_PER_CLIENT {
        Ok(())
    } else {
        Err(Refusal::SecretLimit(MAX_SECRETS_PER_CLIENT))
    }
}

/// Who asks to list, add or delete a client's secrets, as read in the transaction that does it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Manager {
    /// The operator CLI: it names the client itself.
    Operator,
    /// An administrator of the client's customer, with their access there now.
    Admin(AdminId, Access),
    /// Anyone else (an API client's token never manages secrets).
    Other,
}

/// Whether `manager` may see and change the secrets of a client owned by `owner`: a secure
/// client's owner only (R3: to anyone else it does not exist); a client owned by no
/// administrator (a service principal) by the customer's Full administrators (SP3).
pub fn may_manage(owner: Option<AdminId>, manager: &Manager) -> bool {
    match (manager, owner) {
        (Manager::Operator, _) => true,
        (Manager::Admin(admin, _), Some(owner)) => *admin == owner,
        (Manager::Admin(_, access), None) => *access == Access::Full,
        (Manager::Other, _) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_must_be_ahead_and_within_the_maximum() {
        let now = OffsetDateTime::now_utc();
        assert_eq!(expiry(None, false, now), Ok(None));
        assert!(expiry(None, true, now).is_err());
        assert!(expiry(Some(now), false, now).is_err());
        let far = now + time::Duration::days(MAX_SECRET_LIFETIME_DAYS);
        assert_eq!(expiry(Some(far), true, now), Ok(Some(far)));
        assert!(expiry(Some(far + time::Duration::seconds(1)), false, now).is_err());
    }

    #[test]
    fn a_client_holds_at_most_three_secrets() {
        assert!(add(2).is_ok());
        assert_eq!(add(3), Err(Refusal::SecretLimit(3)));
    }

    #[test]
    fn only_the_owner_manages_a_secure_clients_secrets() {
        let (owner, other) = (AdminId::generate(), AdminId::generate());
        assert!(may_manage(Some(owner), &Manager::Admin(owner, Access::Full)));
        assert!(!may_manage(Some(owner), &Manager::Admin(other, Access::Full)));
        assert!(may_manage(None, &Manager::Admin(other, Access::Full)));
        assert!(!may_manage(Some(owner), &Manager::Other));
        assert!(may_manage(Some(owner), &Manager::Operator));
    }
}
