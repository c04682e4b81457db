//! A customer's OpenID Connect provider (issue #12): what a Full administrator connects, checked
//! here, and the sealing of its client secret, which the store keeps only encrypted.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;

use crate::admin::Provider;
use crate::encoding::random_bytes;
use crate::ids::{CustomerId, ProviderId};
use crate::secret::{ServerKey, ServerKeyring};
use crate::validate::{label, trim_pasted, ValidationError};

/// Separates this use of the server key from the others (see `custody`).
const LABEL: &str = "trustgate idp-client-secret sealing v1";
const NONCE_LEN: usize = 12;
pub const MAX_URL_LEN: usize = 512;
pub const MAX_CLIENT_ID_LEN: usize = 256;
pub const MAX_CLIENT_SECRET_LEN: usize = 512;
pub const MAX_CLAIM_LEN: usize = 64;
/// The claim that carries the e-mail unless the connection names another (Entra ID: `upn`).
pub const DEFAULT_EMAIL_CLAIM: &str = "email";

/// The provider types a customer can connect, in Citrix's terms: Entra ID is `AzureAd`, Google is
/// `Google`, Okta is `CitrixSts` with `externalProviderType` `Okta`.
pub const CONNECTABLE: [Provider; 3] = [Provider::AzureAd, Provider::Google, Provider::Okta];

pub fn parse_provider_type(text: &str) -> Result<Provider, ValidationError> {
    Provider::parse(text)
        .ok()
        .filter(|p| CONNECTABLE.contains(p))
        .ok_or_else(|| ValidationError::invalid_enum("providerType", &CONNECTABLE.map(Provider::wire_name)))
}

/// An issuer is an absolute `https` URL without query or fragment (OpenID Connect Discovery §2);
/// plain `http` only on the loopback interface, for a provider running beside Trustgate.
pub fn parse_issuer(text: &str) -> Result<String, ValidationError> {
    let issuer = trim_pasted(text);
    if issuer.is_empty() {
        return Err(ValidationError::missing("issuer"));
    }
    if issuer.len() > MAX_URL_LEN {
        return Err(ValidationError::too_long("issuer", MAX_URL_LEN));
    }
    let invalid = || ValidationError::invalid("issuer", "issuer must be an https URL without query or fragment");
    let rest = if let Some(rest) = issuer.strip_prefix("https://") {
        rest
    } else if let Some(rest) = issuer.strip_prefix("http://") {
        let host = rest.split(['/', ':']).next().unwrap_or_default();
        if !(host == "127.0.0.1" || host == "localhost" || rest.starts_with("[::1]")) {
            return Err(invalid());
        }
        rest
    } else {
        return Err(invalid());
    };
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty()
        || issuer.contains(['?', '#', '@'])
        || issuer.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(invalid());
    }
    Ok(issuer.to_owned())
}

pub fn parse_client_id(text: &str) -> Result<String, ValidationError> {
    label("clientId", text, MAX_CLIENT_ID_LEN)
}

pub fn parse_email_claim(text: &str) -> Result<String, ValidationError> {
    let claim = trim_pasted(text);
    if claim.is_empty() {
        return Ok(DEFAULT_EMAIL_CLAIM.to_owned());
    }
    if claim.len() > MAX_CLAIM_LEN || !claim.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(ValidationError::invalid("emailClaim", "emailClaim must be a claim name such as email or upn"));
    }
    Ok(claim.to_owned())
}

pub fn parse_client_secret(text: &str) -> Result<SecretString, ValidationError> {
    let secret = trim_pasted(text);
    if secret.is_empty() {
        return Err(ValidationError::missing("clientSecret"));
    }
    if secret.len() > MAX_CLIENT_SECRET_LEN {
        return Err(ValidationError::too_long("clientSecret", MAX_CLIENT_SECRET_LEN));
    }
    Ok(SecretString::from(secret.to_owned()))
}

/// A customer's connection to an OpenID provider, as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct IdentityProvider {
    pub id: ProviderId,
    pub customer_id: CustomerId,
    pub provider_type: Provider,
    pub issuer: String,
    pub client_id: String,
    /// The client secret sealed by [`SecretVault`]; never in clear at rest.
    pub sealed_secret: Vec<u8>,
    pub email_claim: String,
    pub created_at: OffsetDateTime,
}

impl fmt::Debug for IdentityProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdentityProvider({}, {}, {}, <redacted>)", self.id, self.customer_id, self.issuer)
    }
}

impl IdentityProvider {
    /// How Citrix names the type: `providerType` and `externalProviderType`.
    pub fn citrix_types(&self) -> (&'static str, &'static str) {
        match self.provider_type {
            Provider::Okta => ("CitrixSts", "Okta"),
            other => (other.wire_name(), other.wire_name()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the client secret of identity provider {0} does not open with this server key")]
pub struct SealError(pub ProviderId);

/// Seals providers' client secrets with a key derived from the current server key, and opens
/// them with whichever key of the ring sealed them; the connection id is the associated data, so a
/// sealed secret moved to another row does not open.
pub struct SecretVault(Vec<Aes256Gcm>);

impl SecretVault {
    pub fn new(server_key: &ServerKey) -> Self {
        Self::for_ring(&server_key.clone().into())
    }

    pub fn for_ring(ring: &ServerKeyring) -> Self {
        Self(ring.all().map(|key| Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&key.derive(LABEL)))).collect())
    }

    pub fn seal(&self, id: ProviderId, secret: &SecretString) -> Vec<u8> {
        let nonce = random_bytes::<NONCE_LEN>();
        let aad = id.to_string();
        let payload = Payload { msg: secret.expose_secret().as_bytes(), aad: aad.as_bytes() };
        // AES-GCM fails only on messages of gigabytes; a secret is at most MAX_CLIENT_SECRET_LEN.
        // A vault is made from a ring, which always holds its current key.
        let sealed = self.0[0].encrypt(Nonce::from_slice(&nonce), payload).unwrap_or_default();
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        bytes
    }

    pub fn open(&self, provider: &IdentityProvider) -> Result<SecretString, SealError> {
        let fail = || SealError(provider.id);
        let (nonce, sealed) = provider.sealed_secret.split_at_checked(NONCE_LEN).ok_or_else(fail)?;
        let aad = provider.id.to_string();
        let clear = self
            .0
            .iter()
            .find_map(|aead| aead.decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad: aad.as_bytes() }).ok())
            .ok_or_else(fail)?;
        let clear = zeroize::Zeroizing::new(clear);
        Ok(SecretString::from(std::str::from_utf8(&clear).map_err(|_| fail())?.to_owned()))
    }
}

impl fmt::Debug for SecretVault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretVault(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(vault: &SecretVault, secret: &str) -> IdentityProvider {
        let id = ProviderId::generate();
        IdentityProvider {
            id,
            customer_id: CustomerId::generate(),
            provider_type: Provider::Okta,
            issuer: "https://example.okta.com".to_owned(),
            client_id: "trustgate".to_owned(),
            sealed_secret: vault.seal(id, &SecretString::from(secret.to_owned())),
            email_claim: DEFAULT_EMAIL_CLAIM.to_owned(),
            created_at: OffsetDateTime::now_utc(),
        }
    }

    #[test]
    fn a_sealed_client_secret_opens_with_its_server_key_and_row_only() {
        let vault = SecretVault::new(&ServerKey::generate());
        let stored = provider(&vault, "s3cret-value");
        assert!(!stored.sealed_secret.windows(12).any(|w| w == b"s3cret-value"));
        assert_eq!(vault.open(&stored).map(|s| s.expose_secret().to_owned()), Ok("s3cret-value".to_owned()));
        assert!(SecretVault::new(&ServerKey::generate()).open(&stored).is_err());
        let moved = IdentityProvider { id: ProviderId::generate(), ..stored.clone() };
        assert!(vault.open(&moved).is_err());
        assert!(!format!("{stored:?}").contains("s3cret"));
    }

    #[test]
    fn issuers_are_https_or_loopback_http() {
        assert!(parse_issuer("https://login.microsoftonline.com/tid/v2.0").is_ok());
        assert!(parse_issuer("http://127.0.0.1:4000").is_ok());
        assert!(parse_issuer("http://localhost:4000/oidc").is_ok());
        assert!(parse_issuer("http://idp.example.com").is_err());
        assert!(parse_issuer("https://idp.example.com/?x=1").is_err());
        assert!(parse_issuer("https://user@idp.example.com").is_err());
        assert!(parse_issuer("ftp://idp.example.com").is_err());
        assert!(parse_issuer("").is_err());
    }

    #[test]
    fn only_oidc_provider_types_connect_and_okta_is_citrix_sts() {
        assert_eq!(parse_provider_type("AzureAd"), Ok(Provider::AzureAd));
        assert_eq!(parse_provider_type("okta"), Ok(Provider::Okta));
        assert!(parse_provider_type("Ad").is_err());
        assert!(parse_provider_type("CitrixSts").is_err());
        let vault = SecretVault::new(&ServerKey::generate());
        assert_eq!(provider(&vault, "x").citrix_types(), ("CitrixSts", "Okta"));
    }
}
