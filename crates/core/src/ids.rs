//! Identifiers. Each kind of id is its own type so one can never be passed for another.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::encoding::random_bytes;
use crate::validate::{trim_pasted, ValidationError};

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            pub fn generate() -> Self {
                Self(random_v4())
            }

            pub fn parse(text: &str) -> Result<Self, ValidationError> {
                Uuid::parse_str(trim_pasted(text))
                    .map(Self)
                    .map_err(|_| ValidationError::invalid($field, concat!($field, " must be a UUID")))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = ValidationError;
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Self::parse(text)
            }
        }
    };
}

/// A version 4 UUID from [`random_bytes`], not `Uuid::new_v4`, which asks the kernel each time:
/// every request takes one for its transaction id (issue #26).
fn random_v4() -> Uuid {
    uuid::Builder::from_random_bytes(random_bytes()).into_uuid()
}

/// A fresh random UUID in text form, for transaction, event and record ids.
pub fn random_uuid() -> String {
    random_v4().hyphenated().to_string()
}

uuid_id!(
    /// An administrator (`userId` on the Citrix wire).
    AdminId,
    "adminId"
);
uuid_id!(
    /// A customer's connection to an OpenID provider (issue #12).
    ProviderId,
    "providerId"
);
uuid_id!(
    /// An API client; this is the `client_id` scripts send.
    ClientId,
    "clientId"
);
uuid_id!(
    /// A SCIM provisioning token of a customer (issue 12).
    ScimTokenId,
    "tokenId"
);
uuid_id!(
    /// A resource server of the deployment (issue #10): the `client_id` it introspects tokens with.
    ResourceServerId,
    "resourceServerId"
);
uuid_id!(
    /// A group of administrators of one customer, from its identity provider (issue #25).
    GroupId,
    "groupId"
);
uuid_id!(
    /// A local administrator's WebAuthn passkey (issue #25), as the console lists it.
    PasskeyId,
    "passkeyId"
);
uuid_id!(
    /// A customer's webhook endpoint.
    WebhookId,
    "webhookId"
);

/// The Administrators API names administrators and service principals alike by a UUID `userId`:
/// a principal's is its client id.
/// The Administrators API names users, groups and principals by one `userId`/`ucOid` form.
impl From<AdminId> for GroupId {
    fn from(id: AdminId) -> Self {
        GroupId(id.0)
    }
}

impl From<AdminId> for ClientId {
    fn from(id: AdminId) -> Self {
        ClientId(id.0)
    }
}

/// A customer (tenant). Short, lower-case, URL-safe; `root` is reserved by the token endpoints.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CustomerId(String);

impl CustomerId {
    pub const MAX_LEN: usize = 64;

    pub fn generate() -> Self {
        const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyz23456789";
        let id = random_bytes::<12>().iter().map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char).collect();
        Self(id)
    }

    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let text = trim_pasted(text);
        if text.is_empty() {
            return Err(ValidationError::missing("customerId"));
        }
        if text.len() > Self::MAX_LEN {
            return Err(ValidationError::too_long("customerId", Self::MAX_LEN));
        }
        let well_formed =
            text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') && !text.starts_with('-');
        if !well_formed {
            return Err(ValidationError::invalid(
                "customerId",
                "customerId may hold only lower-case letters, digits and '-'",
            ));
        }
        if text == "root" {
            return Err(ValidationError::invalid("customerId", "'root' is reserved"));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CustomerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for CustomerId {
    type Error = ValidationError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<CustomerId> for String {
    fn from(id: CustomerId) -> Self {
        id.0
    }
}

impl FromStr for CustomerId {
    type Err = ValidationError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_and_transaction_ids_are_distinct_random_version_4_uuids() {
        let ids = [ClientId::generate().0, Uuid::parse_str(&random_uuid()).unwrap()];
        for id in ids {
            assert_eq!(id.get_version(), Some(uuid::Version::Random));
            assert_eq!(id.get_variant(), uuid::Variant::RFC4122);
        }
        assert_ne!(ids[0], ids[1]);
    }

    #[test]
    fn customer_ids_drop_pasted_zero_width_spaces() {
        assert_eq!(CustomerId::parse("\u{200B}acme1 ").map(|c| c.0), Ok("acme1".to_owned()));
    }

    #[test]
    fn root_is_not_a_customer() {
        assert!(CustomerId::parse("root").is_err());
        assert!(CustomerId::parse("Acme").is_err());
    }

    #[test]
    fn generated_ids_parse_back() {
        let c = CustomerId::generate();
        assert_eq!(CustomerId::parse(c.as_str()), Ok(c));
        let a = AdminId::generate();
        assert_eq!(AdminId::parse(&a.to_string()), Ok(a));
    }

    #[test]
    fn generated_uuids_are_random_version_4() {
        let ids = [AdminId::generate().0, ClientId::generate().0, Uuid::parse_str(&random_uuid()).unwrap_or_default()];
        for id in ids {
            assert_eq!((id.get_version(), id.get_variant()), (Some(uuid::Version::Random), uuid::Variant::RFC4122));
        }
        assert_ne!(random_uuid(), random_uuid());
    }
}
