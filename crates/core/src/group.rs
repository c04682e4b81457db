//! Groups of administrators (issue #25): a customer's identity provider says who belongs to which
//! group (SCIM `/Groups`, or the `groups` claim at sign-in); a Full administrator of the customer
//! says what a group may do. A member holds their own access joined with their groups'
//! (`access::joined`), and their API clients follow it (R4, R5).

use time::OffsetDateTime;

use crate::access::Access;
use crate::admin::parse_display_name;
use crate::ids::{AdminId, CustomerId, GroupId};
use crate::validate::ValidationError;

/// At most this many groups in a customer: each is read when a member's standing is refreshed.
pub const MAX_GROUPS_PER_CUSTOMER: u64 = 1000;
/// At most this many members in one group.
pub const MAX_MEMBERS_PER_GROUP: usize = 10_000;
/// At most this many group names are read from one sign-in's `groups` claim; the rest are ignored.
pub const MAX_CLAIMED_GROUPS: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminGroup {
    pub id: GroupId,
    pub customer_id: CustomerId,
    /// The provider's name for the group, unique in the customer regardless of case.
    pub display_name: String,
    /// The provider's id of the group (Entra's object id, Okta's group id); the `groups` claim of
    /// a sign-in names groups by it, or by their display name.
    pub external_id: Option<String>,
    /// What the group's members may do: nothing until a Full administrator grants it.
    pub access: Access,
    pub members: Vec<AdminId>,
    /// The group as its provider last wrote it over SCIM, returned as written (`{}` otherwise).
    pub document: serde_json::Value,
    /// Changes with every write, for SCIM's `ETag` (`meta.version`).
    pub version: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A group's display name: as an administrator's (Citrix's rule), at most 256 characters.
pub fn parse_group_name(text: &str) -> Result<String, ValidationError> {
    parse_display_name(text)
}

/// A provider's id of a group: 1..=256 bytes, trimmed; empty is none.
pub fn parse_external_id(text: Option<&str>) -> Result<Option<String>, ValidationError> {
    match text.map(str::trim) {
        Some(id) if id.len() > 256 => Err(ValidationError::too_long("externalId", 256)),
        Some(id) if !id.is_empty() => Ok(Some(id.to_owned())),
        _ => Ok(None),
    }
}

/// The group names a sign-in's `groups` claim carries: strings only, trimmed, at most
/// [`MAX_CLAIMED_GROUPS`] of them, without duplicates.
pub fn claimed_groups<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for value in values {
        let value = value.trim();
        if value.is_empty() || value.len() > 256 || names.iter().any(|n| n == value) {
            continue;
        }
        names.push(value.to_owned());
        if names.len() == MAX_CLAIMED_GROUPS {
            break;
        }
    }
    names
}

/// What a group change means for one member whose access goes from `before` to `after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberOutcome {
    /// Nothing they hold changed.
    Unchanged,
    /// Their access changed; their clients follow on their next call (R5).
    Follows,
    /// They held access and hold none now: their API clients there are deleted (R6), and they are
    /// removed from the customer as a Full administrator removes someone, unless the customer
    /// keeps such members ([`LostAccessPolicy`](crate::customer::LostAccessPolicy)).
    LostLastAccess,
}

pub fn member_outcome(before: &Access, after: &Access) -> MemberOutcome {
    if before == after {
        MemberOutcome::Unchanged
    } else if after.grants_nothing() && !before.grants_nothing() {
        MemberOutcome::LostLastAccess
    } else {
        MemberOutcome::Follows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::{Permission, Platform};

    #[test]
    fn a_member_who_loses_their_last_access_through_a_group_loses_their_clients() {
        let notifications = Access::Custom(Platform::Notifications.into());
        assert_eq!(member_outcome(&notifications, &Access::none()), MemberOutcome::LostLastAccess);
        assert_eq!(member_outcome(&Access::Full, &notifications), MemberOutcome::Follows);
        assert_eq!(member_outcome(&notifications, &Access::Full), MemberOutcome::Follows);
        assert_eq!(member_outcome(&Access::none(), &Access::none()), MemberOutcome::Unchanged);
        assert_eq!(member_outcome(&Access::Full, &Access::Full), MemberOutcome::Unchanged);
        let both = Access::Custom([Permission::NOTIFICATIONS, Permission::SYSTEM_LOG].into_iter().collect());
        assert_eq!(member_outcome(&both, &notifications), MemberOutcome::Follows);
    }

    #[test]
    fn claimed_groups_are_bounded_trimmed_and_distinct() {
        assert_eq!(claimed_groups([" admins ", "admins", "", "ops"]), vec!["admins".to_owned(), "ops".to_owned()]);
        let many: Vec<String> = (0..500).map(|i| format!("g{i}")).collect();
        assert_eq!(claimed_groups(many.iter().map(String::as_str)).len(), MAX_CLAIMED_GROUPS);
        assert!(parse_group_name("a<b").is_err());
        assert_eq!(parse_external_id(Some("  ")), Ok(None));
    }
}
