//! SCIM 2.0 provisioning (RFC 7643/7644): the bearer tokens a customer's identity provider
//! presents, and what a provisioned administrator is granted.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;

use crate::access::{Access, PermissionSet};
use crate::admin::Provider;
use crate::encoding::{b64url, from_b64url, random_bytes};
use crate::ids::{CustomerId, ScimTokenId};
use crate::validate::{label, ValidationError};

/// Every provisioning token starts with this, so secret scanners can tell it from a client secret.
pub const TOKEN_PREFIX: &str = "tgp_";
const TOKEN_BYTES: usize = 32;
const TOKEN_LEN: usize = TOKEN_PREFIX.len() + 43;

/// A provisioning token in clear, shown once at creation; only its keyed digest is stored.
pub struct ProvisioningToken(SecretString);

impl ProvisioningToken {
    pub fn generate() -> Self {
        Self(format!("{TOKEN_PREFIX}{}", b64url(&random_bytes::<TOKEN_BYTES>())).into())
    }

    /// Accepts a presented bearer value if it has the generated shape; anything else is refused
    /// before any look-up.
    pub fn from_presented(text: &str) -> Option<Self> {
        let well_formed = text.len() == TOKEN_LEN
            && text.starts_with(TOKEN_PREFIX)
            && from_b64url(&text[TOKEN_PREFIX.len()..]).is_some_and(|b| b.len() == TOKEN_BYTES);
        well_formed.then(|| Self(text.into()))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for ProvisioningToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProvisioningToken(<redacted>)")
    }
}

/// A customer's SCIM token: which provider it speaks for, and who made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimToken {
    pub id: ScimTokenId,
    pub customer_id: CustomerId,
    /// Shown as the actor of everything the provider does (R10).
    pub name: String,
    /// The provider the administrators it provisions are federated from.
    pub provider: Provider,
    /// The provider's directory (Azure AD tenant id, AD domain) of the administrators it
    /// provisions, returned as their `providerId`; `None` when not given.
    pub provider_id: Option<String>,
    pub created_at: OffsetDateTime,
    /// The e-mail of the Full administrator who created it.
    pub created_by: String,
}

pub fn parse_token_name(text: &str) -> Result<String, ValidationError> {
    label("name", text, 100)
}

/// The provider of a token must be an external one: a provisioned administrator signs in there.
pub fn parse_token_provider(text: &str) -> Result<Provider, ValidationError> {
    let provider = Provider::parse(text)?;
    if provider.is_federated() {
        Ok(provider)
    } else {
        Err(ValidationError::invalid_enum("provider", &["AzureAd", "Okta", "Google", "Ad"]))
    }
}

/// What a newly provisioned administrator holds: nothing, until a Full administrator grants
/// access. A provider says who works there, not what they may do in Trustgate.
pub fn provisioned_access() -> Access {
    Access::Custom(PermissionSet::empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presented_tokens_must_have_the_generated_shape() {
        let token = ProvisioningToken::generate();
        assert!(ProvisioningToken::from_presented(token.expose()).is_some());
        assert!(ProvisioningToken::from_presented("tgp_short").is_none());
        assert!(ProvisioningToken::from_presented(&token.expose().replace("tgp_", "tgs_")).is_none());
        assert!(!format!("{token:?}").contains(&token.expose()[4..]));
    }

    #[test]
    fn tokens_speak_for_external_providers_only() {
        assert_eq!(parse_token_provider("azure-ad"), Ok(Provider::AzureAd));
        assert!(parse_token_provider("CitrixSts").is_err());
    }
}
