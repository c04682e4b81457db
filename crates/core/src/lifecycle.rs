//! Lifecycle decisions: who may add, change, remove or disable an administrator, how an existing
//! person is recognised, and what must stay true of a customer afterwards. Pure: the store reads
//! the facts inside the write transaction that applies the change (the actor's membership as it is
//! now, under the customer's lock) and asks here, so the API, the console and the CLI cannot diverge.

use crate::access::{Access, Permission};
use crate::admin::{Email, Provider};
use crate::rights::{self, Denied, PrincipalKind, Standing};
use time::OffsetDateTime;

/// What the party making a change holds in the customer, read in the transaction that makes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authority {
    /// The operator CLI (or Trustgate itself): allowed everything the customer's invariants allow.
    Operator,
    /// An administrator (console) or an API client (its owner's rights, R4), with the access they hold now.
    Holds(Access),
}

impl Authority {
    /// The authority of an administrator or API client whose membership was just read; `None`
    /// means they are no longer a member of the customer.
    pub fn of(kind: PrincipalKind, standing: Option<Standing>) -> Result<Self, Refusal> {
        let standing = standing.ok_or(Refusal::NotAMember)?;
        rights::effective_access(kind, &standing).cloned().map(Authority::Holds).map_err(Refusal::Denied)
    }

    /// An administrator may only grant, change or remove access they hold themselves.
    fn covers(&self, access: &Access) -> Result<(), Refusal> {
        match self {
            Authority::Operator => Ok(()),
            Authority::Holds(held) if held.covers(access) => Ok(()),
            Authority::Holds(_) => Err(Refusal::BeyondOwnAccess),
        }
    }
}

/// Why a lifecycle change is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the caller is no longer an administrator of this customer")]
    NotAMember,
    #[error(transparent)]
    Denied(Denied),
    #[error("the caller cannot grant or change access beyond its own")]
    BeyondOwnAccess,
    #[error("a customer must keep at least one administrator with Full access")]
    LastFullAdmin,
    #[error("a local administrator is not disabled or enabled: only federated ones are, at their identity provider (remove or delete local ones)")]
    NotFederated,
    #[error("an administrator may own at most {0} API clients in a customer; delete one first")]
    ClientLimit(u64),
    #[error("Custom access must grant at least one permission (or choose Full access)")]
    NoPermission,
    #[error("only administrators with Full access manage service principals")]
    NotFullAdministrator,
    #[error("a customer may hold at most {0} service principals; delete one first")]
    PrincipalLimit(u64),
    #[error("the administrator has accepted their invitation already: there is nothing to re-send")]
    NotPending,
    #[error("the invitation has expired: ask an administrator of the customer to send a new one")]
    InvitationExpired,
    #[error("an API client holds at most {0} secrets; delete one first")]
    SecretLimit(u64),
    #[error("this is the client's last secret; add another before deleting it, or delete the client")]
    LastSecret,
    #[error("a service principal's secrets expire: give expiresAt, at most 730 days ahead")]
    ExpiryRequired,
    #[error("only an administrator with Full access manages the customer's SCIM provisioning")]
    FullAccessRequired,
    #[error("the owner already has an API client named “{0}” in this customer: choose another name, or delete the old client first")]
    NameTaken(String),
    #[error("only an administrator with Full access manages the customer's webhooks")]
    WebhooksNeedFullAccess,
    #[error("a customer may hold at most {0} webhook endpoints; delete one first")]
    WebhookLimit(u64),
    #[error("only an administrator with Full access resets another administrator's second factor or sets the customer's multi-factor policy")]
    MfaNeedsFullAccess,
    #[error("an administrator does not reset their own second factor: another Full administrator does")]
    OwnSecondFactor,
    #[error("only an administrator with Full access gives access to a group")]
    GroupsNeedFullAccess,
    #[error("a customer may hold at most {0} groups; delete one first")]
    GroupLimit(u64),
    #[error(
        "only an administrator with Full access chooses what happens to members whose groups leave them without access"
    )]
    LostAccessPolicyNeedsFullAccess,
}

impl Refusal {
    /// The caller lacks the right (403), as opposed to a change that would break a rule (409).
    pub fn is_forbidden(&self) -> bool {
        matches!(
            self,
            Refusal::NotAMember
                | Refusal::Denied(_)
                | Refusal::BeyondOwnAccess
                | Refusal::NotFullAdministrator
                | Refusal::FullAccessRequired
                | Refusal::WebhooksNeedFullAccess
                | Refusal::MfaNeedsFullAccess
                | Refusal::OwnSecondFactor
                | Refusal::GroupsNeedFullAccess
                | Refusal::LostAccessPolicyNeedsFullAccess
        )
    }

    /// A short machine-readable name for the refusal.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::NotAMember => "notAMember",
            Refusal::Denied(_) => "denied",
            Refusal::BeyondOwnAccess => "beyondOwnAccess",
            Refusal::LastFullAdmin => "lastFullAdministrator",
            Refusal::NotFederated => "notFederated",
            Refusal::ClientLimit(_) => "clientLimit",
            Refusal::NoPermission => "noPermission",
            Refusal::NotFullAdministrator => "notFullAdministrator",
            Refusal::PrincipalLimit(_) => "principalLimit",
            Refusal::NotPending => "notPending",
            Refusal::InvitationExpired => "invitationExpired",
            Refusal::SecretLimit(_) => "secretLimit",
            Refusal::LastSecret => "lastSecret",
            Refusal::ExpiryRequired => "expiryRequired",
            Refusal::FullAccessRequired => "fullAccessRequired",
            Refusal::NameTaken(_) => "nameTaken",
            Refusal::WebhooksNeedFullAccess => "fullAccessRequired",
            Refusal::WebhookLimit(_) => "webhookLimit",
            Refusal::MfaNeedsFullAccess => "fullAccessRequired",
            Refusal::OwnSecondFactor => "ownSecondFactor",
            Refusal::GroupsNeedFullAccess => "fullAccessRequired",
            Refusal::GroupLimit(_) => "groupLimit",
            Refusal::LostAccessPolicyNeedsFullAccess => "fullAccessRequired",
        }
    }
}

/// Whether `access` can be granted at all: Custom access with no permission would be a member who
/// can do nothing, almost always a forgotten `--permission` or an unticked form.
pub fn grantable(access: &Access) -> Result<(), Refusal> {
    match access {
        Access::Custom(set) if set.is_empty() => Err(Refusal::NoPermission),
        _ => Ok(()),
    }
}

/// Adding an administrator with `access`.
pub fn add(authority: &Authority, access: &Access) -> Result<(), Refusal> {
    authority.covers(access)?;
    grantable(access)
}

/// Changing a member's access from `before` to `after`, with `full_admins` Full administrators
/// in the customer (the member included) before the change.
pub fn change_access(authority: &Authority, before: &Access, after: &Access, full_admins: u64) -> Result<(), Refusal> {
    authority.covers(before)?;
    authority.covers(after)?;
    keeps_a_full_admin(before, *after != Access::Full, full_admins)?;
    grantable(after)
}

/// Removing a member holding `access` from the customer (R6 follows).
pub fn remove(authority: &Authority, access: &Access, full_admins: u64) -> Result<(), Refusal> {
    authority.covers(access)?;
    keeps_a_full_admin(access, true, full_admins)
}

/// Removing a member who holds `own` access and `held` in all, through their groups too (issue
/// #25): the remover must cover everything the member holds, not only their own access.
pub fn remove_holding(authority: &Authority, own: &Access, held: &Access, full_admins: u64) -> Result<(), Refusal> {
    authority.covers(held)?;
    remove(authority, own, full_admins)
}

/// Deleting an administrator altogether: in each of their customers, as a removal there.
pub fn delete(access: &Access, full_admins: u64) -> Result<(), Refusal> {
    remove(&Authority::Operator, access, full_admins)
}

/// Whether adding a person to a customer waits for them to accept an invitation (issue #12): every
/// local administrator does — a new one proves their e-mail and chooses a password, one who
/// already administers another customer signs in as themselves to join this one (issue #20). A federated administrator joins
/// at once: their identity provider vouches for them. Inviting only the federated people known
/// elsewhere would tell a customer that another customer has them (issue #8: nothing one customer
/// can call reveals another's administrators), so whether someone is invited depends on how they
/// sign in, never on who else knows them.
pub fn needs_invitation(provider: Provider) -> bool {
    !provider.is_federated()
}

/// Changing the access a pending invitation offers: as for a member, except that it holds none yet,
/// so no Full administrator is lost.
pub fn change_invited_access(authority: &Authority, before: &Access, after: &Access) -> Result<(), Refusal> {
    authority.covers(before)?;
    authority.covers(after)?;
    grantable(after)
}

/// Cancelling, or re-sending, an invitation that offers `access`.
pub fn withdraw_or_resend(authority: &Authority, access: &Access) -> Result<(), Refusal> {
    authority.covers(access)
}

/// Connecting or disconnecting a customer's identity provider decides who may sign in as its
/// administrators: Full access only (issue #12).
pub fn manage_identity_providers(authority: &Authority) -> Result<(), Refusal> {
    authority.covers(&Access::Full)
}

/// A webhook endpoint receives every event of the customer's system log it asks for: only a
/// Full administrator (or the operator) subscribes, changes or deletes one.
pub fn manage_webhooks(authority: &Authority) -> Result<(), Refusal> {
    match authority {
        Authority::Operator | Authority::Holds(Access::Full) => Ok(()),
        Authority::Holds(_) => Err(Refusal::WebhooksNeedFullAccess),
    }
}

/// Setting the customer's multi-factor policy (issue #25): Full administrators and the operator.
pub fn set_mfa_policy(authority: &Authority) -> Result<(), Refusal> {
    match authority {
        Authority::Operator | Authority::Holds(Access::Full) => Ok(()),
        Authority::Holds(_) => Err(Refusal::MfaNeedsFullAccess),
    }
}

/// Resetting the second factor of a member who lost it (issue #25, item 6): another Full
/// administrator of a customer they belong to, or the operator. Not oneself: whoever holds a
/// session but not the device must not swap the factor.
pub fn reset_second_factor(authority: &Authority, own: bool) -> Result<(), Refusal> {
    set_mfa_policy(authority).map_err(|_| Refusal::MfaNeedsFullAccess)?;
    if own {
        return Err(Refusal::OwnSecondFactor);
    }
    Ok(())
}

/// Giving a group access (issue #25): every member holds it at once, whoever they are, so only a
/// Full administrator (or the operator) may, as Citrix lets Full administrators add groups. A
/// group may also be left with no access: it then only mirrors the provider. The identity
/// provider's token never reaches this (SCIM carries no access).
pub fn set_group_access(authority: &Authority, _access: &Access) -> Result<(), Refusal> {
    match authority {
        Authority::Operator | Authority::Holds(Access::Full) => Ok(()),
        Authority::Holds(_) => Err(Refusal::GroupsNeedFullAccess),
    }
}

/// Choosing what happens to a member whom their groups leave with no access: as giving a group
/// access, a Full administrator's or the operator's decision.
pub fn set_lost_access_policy(authority: &Authority) -> Result<(), Refusal> {
    match authority {
        Authority::Operator | Authority::Holds(Access::Full) => Ok(()),
        Authority::Holds(_) => Err(Refusal::LostAccessPolicyNeedsFullAccess),
    }
}

/// Creating a group in a customer that holds `held` of them.
pub fn add_group(held: u64, cap: u64) -> Result<(), Refusal> {
    if held < cap {
        Ok(())
    } else {
        Err(Refusal::GroupLimit(cap))
    }
}

/// Disabling or enabling an administrator: only their identity provider does that (R7).
pub fn change_status(provider: Provider) -> Result<(), Refusal> {
    if provider.is_federated() {
        Ok(())
    } else {
        Err(Refusal::NotFederated)
    }
}

/// Creating or revoking a SCIM provisioning token: whoever holds one adds, disables and removes
/// the customer's administrators, so only a Full administrator (or the operator) may.
pub fn manage_provisioning(authority: &Authority) -> Result<(), Refusal> {
    match authority {
        Authority::Operator | Authority::Holds(Access::Full) => Ok(()),
        Authority::Holds(_) => Err(Refusal::FullAccessRequired),
    }
}

/// Creating an API client for an owner who already owns `owned` in the customer: the creator
/// needs the right to (R8), read in the same transaction as the count.
pub fn add_client(authority: &Authority, owned: u64, cap: u64) -> Result<(), Refusal> {
    if let Authority::Holds(access) = authority {
        if !access.allows(&Permission::API_CLIENTS) {
            return Err(Refusal::Denied(Denied::Missing(Permission::API_CLIENTS)));
        }
    }
    if owned < cap {
        Ok(())
    } else {
        Err(Refusal::ClientLimit(cap))
    }
}

/// Naming a new API client `name` when its owner already holds clients named `owned` in the
/// customer, read in the same transaction that creates it: another name than any the owner holds
/// there, ignoring case. One rule for every front door (issue #21, item 11): the console's list,
/// delete confirmation and system log tell clients apart by name, a double-clicked Create or a
/// retried API call or script must not make two, and before the API and the CLI made duplicates
/// the console refused.
pub fn name_client<'a>(name: &str, mut owned: impl Iterator<Item = &'a str>) -> Result<(), Refusal> {
    let folded = name.to_lowercase();
    if owned.any(|held| held.to_lowercase() == folded) {
        return Err(Refusal::NameTaken(name.to_owned()));
    }
    Ok(())
}

/// Creating, listing, changing or deleting service principals: Full administrators only, each of
/// whom sees every principal of the customer (SP3).
pub fn manage_principals(authority: &Authority) -> Result<(), Refusal> {
    match authority {
        Authority::Operator | Authority::Holds(Access::Full) => Ok(()),
        Authority::Holds(Access::Custom(_)) => Err(Refusal::NotFullAdministrator),
    }
}

/// Giving a service principal `access`, at creation or later: only within the setter's own
/// access (SP2).
pub fn set_principal_access(authority: &Authority, access: &Access) -> Result<(), Refusal> {
    manage_principals(authority)?;
    authority.covers(access)?;
    grantable(access)
}

/// Creating a service principal with `access` in a customer that already holds `held` of them.
pub fn add_principal(authority: &Authority, access: &Access, held: u64, cap: u64) -> Result<(), Refusal> {
    set_principal_access(authority, access)?;
    if held < cap {
        Ok(())
    } else {
        Err(Refusal::PrincipalLimit(cap))
    }
}

/// Converting a secure client into a service principal (SP7) is creating a principal, so it is a
/// Full administrator's act (SP3) — its owner's too only when Full: a Custom owner's principal
/// would outlive every reduction and removal of that owner (SP5), which R5 and R6 forbid for
/// their clients (issue #20). The principal keeps the access its owner holds at that moment.
pub fn convert(authority: &Authority) -> Result<(), Refusal> {
    manage_principals(authority)
}

/// The expiry a secret gets when its client becomes a service principal, whose secrets always
/// expire (SP6): its own if sooner, else [`CONVERTED_SECRET_LIFETIME_DAYS`] from the conversion.
pub fn converted_secret_expiry(current: Option<OffsetDateTime>, now: OffsetDateTime) -> OffsetDateTime {
    let latest = now + time::Duration::days(CONVERTED_SECRET_LIFETIME_DAYS);
    current.map_or(latest, |at| at.min(latest))
}

/// Ninety days: the scripts using a converted client keep working while its administrators,
/// warned before the expiry, add a secret and move to it; a secret made under a secure client's
/// rules does not live on for years under a principal's.
pub const CONVERTED_SECRET_LIFETIME_DAYS: i64 = 90;

fn keeps_a_full_admin(access: &Access, losing: bool, full_admins: u64) -> Result<(), Refusal> {
    if *access == Access::Full && losing && full_admins <= 1 {
        Err(Refusal::LastFullAdmin)
    } else {
        Ok(())
    }
}

/// How an administrator being added is recognised as a person Trustgate already knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// A local administrator is their e-mail: one password, whichever customers they administer.
    Local(Email),
    /// A federated administrator is their subject at the identity provider, never their e-mail.
    Federated { provider: Provider, subject: String },
    /// A federated administrator named without a subject cannot be recognised: always a new person.
    Unbound,
}

impl Identity {
    pub fn of(provider: Provider, email: &Email, subject: Option<&str>) -> Self {
        match (provider, subject) {
            (Provider::Local, _) => Identity::Local(email.clone()),
            (provider, Some(subject)) => Identity::Federated { provider, subject: subject.to_owned() },
            (_, None) => Identity::Unbound,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::PermissionSet;
    use crate::admin::AdminStatus;
    use crate::customer::DisabledOwnerPolicy;

    fn custom(permissions: &[Permission]) -> Access {
        Access::Custom(permissions.iter().cloned().collect::<PermissionSet>())
    }

    #[test]
    fn an_administrator_grants_only_what_they_hold() {
        let admins = Authority::Holds(custom(&[Permission::ADMINISTRATORS, Permission::NOTIFICATIONS]));
        assert_eq!(add(&admins, &custom(&[Permission::NOTIFICATIONS])), Ok(()));
        assert_eq!(add(&admins, &custom(&[Permission::SYSTEM_LOG])), Err(Refusal::BeyondOwnAccess));
        assert_eq!(add(&admins, &Access::Full), Err(Refusal::BeyondOwnAccess));
        assert_eq!(change_access(&admins, &Access::Full, &custom(&[]), 2), Err(Refusal::BeyondOwnAccess));
        assert_eq!(remove(&admins, &Access::Full, 2), Err(Refusal::BeyondOwnAccess));
        assert_eq!(add(&Authority::Operator, &Access::Full), Ok(()));
    }

    #[test]
    fn custom_access_grants_at_least_one_permission_whoever_asks() {
        for authority in [Authority::Operator, Authority::Holds(Access::Full)] {
            assert_eq!(add(&authority, &custom(&[])), Err(Refusal::NoPermission));
            assert_eq!(
                change_access(&authority, &custom(&[Permission::SYSTEM_LOG]), &custom(&[]), 2),
                Err(Refusal::NoPermission)
            );
            assert_eq!(add(&authority, &custom(&[Permission::SYSTEM_LOG])), Ok(()));
        }
    }

    #[test]
    fn a_pending_invitation_is_not_a_full_administrator_to_keep() {
        let full = Authority::Holds(Access::Full);
        assert_eq!(change_invited_access(&full, &Access::Full, &custom(&[Permission::SYSTEM_LOG])), Ok(()));
        assert_eq!(withdraw_or_resend(&full, &Access::Full), Ok(()));
        let limited = Authority::Holds(custom(&[Permission::ADMINISTRATORS]));
        assert_eq!(withdraw_or_resend(&limited, &Access::Full), Err(Refusal::BeyondOwnAccess));
        assert_eq!(
            change_invited_access(&limited, &custom(&[Permission::ADMINISTRATORS]), &custom(&[])),
            Err(Refusal::NoPermission)
        );
    }

    #[test]
    fn local_administrators_are_invited_and_federated_ones_join_at_once() {
        assert!(needs_invitation(Provider::Local));
        assert!(!needs_invitation(Provider::AzureAd));
        assert!(!needs_invitation(Provider::Okta));
    }

    #[test]
    fn a_customer_keeps_one_full_administrator_whoever_asks() {
        for authority in [Authority::Operator, Authority::Holds(Access::Full)] {
            assert_eq!(remove(&authority, &Access::Full, 1), Err(Refusal::LastFullAdmin));
            assert_eq!(change_access(&authority, &Access::Full, &custom(&[]), 1), Err(Refusal::LastFullAdmin));
            assert_eq!(change_access(&authority, &Access::Full, &Access::Full, 1), Ok(()));
            assert_eq!(remove(&authority, &Access::Full, 2), Ok(()));
        }
        assert_eq!(delete(&Access::Full, 1), Err(Refusal::LastFullAdmin));
    }

    #[test]
    fn a_caller_who_left_or_was_disabled_has_no_authority() {
        assert_eq!(Authority::of(PrincipalKind::Admin, None), Err(Refusal::NotAMember));
        let disabled =
            Standing { access: Access::Full, status: AdminStatus::Disabled, policy: DisabledOwnerPolicy::KeepActive };
        assert_eq!(
            Authority::of(PrincipalKind::Admin, Some(disabled.clone())),
            Err(Refusal::Denied(Denied::AdminDisabled))
        );
        assert_eq!(Authority::of(PrincipalKind::ApiClient, Some(disabled)), Ok(Authority::Holds(Access::Full)));
    }

    #[test]
    fn only_federated_administrators_change_status_and_clients_are_capped() {
        assert_eq!(change_status(Provider::Local), Err(Refusal::NotFederated));
        assert_eq!(change_status(Provider::Okta), Ok(()));
        assert_eq!(add_client(&Authority::Operator, 499, 500), Ok(()));
        assert_eq!(add_client(&Authority::Holds(Access::Full), 500, 500), Err(Refusal::ClientLimit(500)));
        assert_eq!(
            add_client(&Authority::Holds(custom(&[Permission::NOTIFICATIONS])), 0, 500),
            Err(Refusal::Denied(Denied::Missing(Permission::API_CLIENTS)))
        );
    }

    #[test]
    fn a_new_name_differs_from_every_owned_one_ignoring_case() {
        let owned = ["nightly", "Export"];
        assert_eq!(name_client("Nightly", owned.into_iter()), Err(Refusal::NameTaken("Nightly".into())));
        assert_eq!(name_client("export", owned.into_iter()), Err(Refusal::NameTaken("export".into())));
        assert_eq!(name_client("weekly", owned.into_iter()), Ok(()));
        assert_eq!(name_client("nightly", std::iter::empty()), Ok(()));
    }

    #[test]
    fn only_full_administrators_manage_service_principals() {
        let custom_admin = Authority::Holds(custom(&[Permission::ADMINISTRATORS, Permission::API_CLIENTS]));
        assert_eq!(manage_principals(&custom_admin), Err(Refusal::NotFullAdministrator));
        assert_eq!(
            add_principal(&custom_admin, &custom(&[Permission::API_CLIENTS]), 0, 10),
            Err(Refusal::NotFullAdministrator)
        );
        assert_eq!(manage_principals(&Authority::Holds(Access::Full)), Ok(()));
        assert_eq!(add_principal(&Authority::Holds(Access::Full), &Access::Full, 0, 10), Ok(()));
        assert_eq!(add_principal(&Authority::Operator, &Access::Full, 10, 10), Err(Refusal::PrincipalLimit(10)));
        assert_eq!(set_principal_access(&Authority::Operator, &custom(&[])), Err(Refusal::NoPermission));
    }

    #[test]
    fn a_secure_client_is_converted_by_a_full_administrator_only_even_its_custom_owner_is_refused() {
        let custom_admin = Authority::Holds(custom(&[Permission::API_CLIENTS]));
        assert_eq!(convert(&custom_admin), Err(Refusal::NotFullAdministrator));
        assert_eq!(convert(&Authority::Holds(Access::Full)), Ok(()));
        assert_eq!(convert(&Authority::Operator), Ok(()));
    }

    #[test]
    fn a_converted_clients_secrets_all_expire_within_ninety_days_keeping_a_sooner_expiry() {
        let now = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
        let ninety = now + time::Duration::days(90);
        assert_eq!(converted_secret_expiry(None, now), ninety);
        assert_eq!(converted_secret_expiry(Some(now + time::Duration::days(700)), now), ninety);
        let soon = now + time::Duration::days(3);
        assert_eq!(converted_secret_expiry(Some(soon), now), soon);
    }

    #[test]
    fn only_full_administrators_give_groups_access() {
        let custom_admin = Authority::Holds(custom(&[Permission::ADMINISTRATORS]));
        assert_eq!(
            set_group_access(&custom_admin, &custom(&[Permission::ADMINISTRATORS])),
            Err(Refusal::GroupsNeedFullAccess)
        );
        assert_eq!(set_group_access(&Authority::Holds(Access::Full), &Access::Full), Ok(()));
        assert_eq!(set_group_access(&Authority::Operator, &Access::none()), Ok(()));
        assert_eq!(add_group(1000, 1000), Err(Refusal::GroupLimit(1000)));
    }

    #[test]
    fn only_full_administrators_choose_what_happens_to_members_their_groups_leave_without_access() {
        let custom_admin = Authority::Holds(custom(&[Permission::ADMINISTRATORS]));
        assert_eq!(set_lost_access_policy(&custom_admin), Err(Refusal::LostAccessPolicyNeedsFullAccess));
        assert!(Refusal::LostAccessPolicyNeedsFullAccess.is_forbidden());
        assert_eq!(set_lost_access_policy(&Authority::Holds(Access::Full)), Ok(()));
        assert_eq!(set_lost_access_policy(&Authority::Operator), Ok(()));
    }

    #[test]
    fn only_full_administrators_manage_provisioning() {
        assert_eq!(manage_provisioning(&Authority::Operator), Ok(()));
        assert_eq!(manage_provisioning(&Authority::Holds(Access::Full)), Ok(()));
        assert_eq!(
            manage_provisioning(&Authority::Holds(custom(&[Permission::ADMINISTRATORS]))),
            Err(Refusal::FullAccessRequired)
        );
    }

    #[test]
    fn federated_people_are_known_by_subject_never_by_email() {
        let email = Email::parse("grace@example.com").unwrap();
        assert_eq!(Identity::of(Provider::Local, &email, Some("x")), Identity::Local(email.clone()));
        assert_eq!(
            Identity::of(Provider::AzureAd, &email, Some("aad-1")),
            Identity::Federated { provider: Provider::AzureAd, subject: "aad-1".to_owned() }
        );
        assert_eq!(Identity::of(Provider::AzureAd, &email, None), Identity::Unbound);
    }
}
