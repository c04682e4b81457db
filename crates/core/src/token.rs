//! Bearer tokens: Ed25519-signed JWTs. A token proves who the caller is; what it may do is looked
//! up live on every request (R4), so the claims carry identity only.

use std::collections::HashMap;

use ed25519_dalek::{Signature, Signer, SigningKey as DalekSigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::encoding::{b64url, from_b64url, random_bytes};
use crate::ids::{AdminId, ClientId, CustomerId};

/// R9: tokens live one hour and are never refreshed.
pub const TOKEN_LIFETIME_SECS: i64 = 3600;
/// Longest token accepted for verification; ours are far shorter.
const MAX_TOKEN_LEN: usize = 4096;
/// How far in the future a token's `iat` may lie: the clock skew tolerated between nodes.
pub const ALLOWED_SKEW_SECS: i64 = 60;
const ALGORITHM: &str = "EdDSA";

/// Who issues a deployment's tokens and for whom: every node of a deployment shares both, and
/// verification refuses a token naming another issuer or audience — including tokens issued before
/// tokens carried them, which a client simply asks again for (R9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issuer {
    /// The deployment's public URL (RFC 8414 `issuer`), without a trailing slash.
    pub url: String,
    pub audience: String,
}

/// What a token says about its bearer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The API client.
    pub sub: ClientId,
    /// The administrator who owns the client (read by Citrix's terraform provider).
    pub user_id: AdminId,
    pub customer_id: CustomerId,
    /// Citrix's `customers` claim: a JSON array *inside a string*, read by Citrix PowerShell modules.
    pub customers: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    /// `access` for bearer tokens; the legacy endpoint's `openIdToken` says `id` and is refused as a bearer.
    pub token_use: TokenUse,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenUse {
    Access,
    Id,
}

impl Claims {
    pub fn new(
        issuer: &Issuer,
        client: ClientId,
        owner: AdminId,
        customer: CustomerId,
        now: OffsetDateTime,
        token_use: TokenUse,
    ) -> Self {
        let iat = now.unix_timestamp();
        let customers = serde_json::json!([{ "CustomerId": customer.as_str(), "Geo": "US" }]).to_string();
        Self {
            iss: issuer.url.clone(),
            aud: issuer.audience.clone(),
            sub: client,
            user_id: owner,
            customer_id: customer,
            customers,
            iat,
            exp: iat + TOKEN_LIFETIME_SECS,
            jti: b64url(&random_bytes::<16>()),
            token_use,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token is signed by an unknown key")]
    UnknownKey,
    #[error("the token's signature is invalid")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    /// Signed by a known key but not as this server issues tokens: a lifetime longer than
    /// [`TOKEN_LIFETIME_SECS`], or issued in the future. Only a holder of the key can make one.
    #[error("the token's lifetime is not one this server issues")]
    BadLifetime,
    #[error("the token is not an access token")]
    WrongUse,
    #[error("the token was issued by another issuer or for another audience")]
    WrongAudience,
}

/// An Ed25519 signing key with its key id.
pub struct SigningKey {
    kid: String,
    key: DalekSigningKey,
}

impl SigningKey {
    pub fn generate() -> Self {
        let key = DalekSigningKey::from_bytes(&random_bytes());
        Self { kid: b64url(&random_bytes::<12>()), key }
    }

    pub fn from_stored(kid: String, private_key: &[u8]) -> Option<Self> {
        let bytes: [u8; 32] = private_key.try_into().ok()?;
        Some(Self { kid, key: DalekSigningKey::from_bytes(&bytes) })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The private key, for the store only.
    pub fn private_bytes(&self) -> [u8; 32] {
        self.key.to_bytes()
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({}, <redacted>)", self.kid)
    }
}

#[derive(Serialize, Deserialize)]
struct Header<'a> {
    alg: &'a str,
    typ: &'a str,
    kid: &'a str,
}

/// The keys a node signs and verifies with: the newest signs, all verify, so tokens signed before a
/// rotation keep working until they expire.
pub struct KeySet {
    signer: SigningKey,
    header: String,
    verifiers: HashMap<String, VerifyingKey>,
}

impl KeySet {
    /// `keys` newest first; the first one signs. `None` when there is no key.
    pub fn new(mut keys: Vec<SigningKey>) -> Option<Self> {
        let verifiers = keys.iter().map(|k| (k.kid.clone(), k.key.verifying_key())).collect();
        let signer = if keys.is_empty() { return None } else { keys.swap_remove(0) };
        let header = serde_json::to_vec(&Header { alg: ALGORITHM, typ: "JWT", kid: &signer.kid }).ok()?;
        Some(Self { header: b64url(&header), signer, verifiers })
    }

    pub fn sign(&self, claims: &Claims) -> String {
        // Serialising plain strings and integers cannot fail.
        let payload = serde_json::to_vec(claims).unwrap_or_default();
        let signing_input = format!("{}.{}", self.header, b64url(&payload));
        let signature = self.signer.key.sign(signing_input.as_bytes());
        format!("{signing_input}.{}", b64url(&signature.to_bytes()))
    }

    /// The JWS algorithm this set signs with (RFC 7518 / RFC 8037 name).
    pub fn algorithm(&self) -> &'static str {
        ALGORITHM
    }

    /// Verifies an access token's signature, lifetime, issuer and audience.
    pub fn verify(&self, token: &str, now: OffsetDateTime, issuer: &Issuer) -> Result<Claims, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        let mut parts = token.split('.');
        let (Some(header_b64), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let header_json = from_b64url(header_b64).ok_or(TokenError::Malformed)?;
        let header: Header<'_> = serde_json::from_slice(&header_json).map_err(|_| TokenError::Malformed)?;
        if header.alg != ALGORITHM {
            return Err(TokenError::Malformed);
        }
        let key = self.verifiers.get(header.kid).ok_or(TokenError::UnknownKey)?;
        let signature =
            from_b64url(signature).and_then(|bytes| Signature::from_slice(&bytes).ok()).ok_or(TokenError::Malformed)?;
        let signing_input = &token[..header_b64.len() + 1 + payload.len()];
        key.verify_strict(signing_input.as_bytes(), &signature).map_err(|_| TokenError::BadSignature)?;
        let claims: Claims =
            from_b64url(payload).and_then(|bytes| serde_json::from_slice(&bytes).ok()).ok_or(TokenError::Malformed)?;
        let now = now.unix_timestamp();
        let lifetime = claims.exp.saturating_sub(claims.iat);
        if lifetime <= 0 || lifetime > TOKEN_LIFETIME_SECS || claims.iat > now.saturating_add(ALLOWED_SKEW_SECS) {
            return Err(TokenError::BadLifetime);
        }
        if claims.exp <= now {
            return Err(TokenError::Expired);
        }
        if claims.iss != issuer.url || claims.aud != issuer.audience {
            return Err(TokenError::WrongAudience);
        }
        if claims.token_use != TokenUse::Access {
            return Err(TokenError::WrongUse);
        }
        Ok(claims)
    }

    /// The public keys as a JSON Web Key Set (RFC 8037 `OKP`/`Ed25519`).
    pub fn jwks(&self) -> serde_json::Value {
        let mut keys: Vec<_> = self
            .verifiers
            .iter()
            .map(|(kid, key)| {
                serde_json::json!({
                    "kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": ALGORITHM,
                    "kid": kid, "x": b64url(key.as_bytes()),
                })
            })
            .collect();
        keys.sort_by(|a, b| a["kid"].as_str().cmp(&b["kid"].as_str()));
        serde_json::json!({ "keys": keys })
    }

    pub fn signing_kid(&self) -> &str {
        &self.signer.kid
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer() -> Issuer {
        Issuer { url: "https://id.example.com".to_owned(), audience: "https://api.example.com".to_owned() }
    }

    fn claims(now: OffsetDateTime) -> Claims {
        Claims::new(&issuer(), ClientId::generate(), AdminId::generate(), CustomerId::generate(), now, TokenUse::Access)
    }

    fn keyset() -> KeySet {
        KeySet::new(vec![SigningKey::generate()]).unwrap_or_else(|| unreachable!())
    }

    #[test]
    fn a_signed_token_verifies_until_it_expires() {
        let keys = keyset();
        let now = OffsetDateTime::now_utc();
        let c = claims(now);
        let token = keys.sign(&c);
        assert_eq!(keys.verify(&token, now, &issuer()), Ok(c));
        assert_eq!(keys.verify(&token, now + time::Duration::hours(1), &issuer()), Err(TokenError::Expired));
    }

    #[test]
    fn tampered_and_foreign_tokens_are_refused() {
        let keys = keyset();
        let now = OffsetDateTime::now_utc();
        let token = keys.sign(&claims(now));
        let mut parts: Vec<&str> = token.split('.').collect();
        let other_payload = b64url(&serde_json::to_vec(&claims(now)).unwrap_or_default());
        parts[1] = &other_payload;
        assert_eq!(keys.verify(&parts.join("."), now, &issuer()), Err(TokenError::BadSignature));
        assert_eq!(keyset().verify(&token, now, &issuer()), Err(TokenError::UnknownKey));
        assert_eq!(keys.verify("not.a.token", now, &issuer()), Err(TokenError::Malformed));
    }

    #[test]
    fn old_keys_keep_verifying_after_a_rotation() {
        let old = SigningKey::generate();
        let old_again =
            SigningKey::from_stored(old.kid.clone(), &old.private_bytes()).unwrap_or_else(|| unreachable!());
        let before = KeySet::new(vec![old]).unwrap_or_else(|| unreachable!());
        let now = OffsetDateTime::now_utc();
        let token = before.sign(&claims(now));
        let after = KeySet::new(vec![SigningKey::generate(), old_again]).unwrap_or_else(|| unreachable!());
        assert!(after.verify(&token, now, &issuer()).is_ok());
        assert_ne!(after.signing_kid(), before.signing_kid());
    }

    #[test]
    fn a_token_living_longer_than_issued_is_refused_even_with_a_good_signature() {
        let keys = keyset();
        let now = OffsetDateTime::now_utc();
        let mut ten_years = claims(now);
        ten_years.exp = ten_years.iat + 10 * 365 * 24 * 3600;
        assert_eq!(keys.verify(&keys.sign(&ten_years), now, &issuer()), Err(TokenError::BadLifetime));
        let mut one_second_more = claims(now);
        one_second_more.exp += 1;
        assert_eq!(keys.verify(&keys.sign(&one_second_more), now, &issuer()), Err(TokenError::BadLifetime));
        let mut backwards = claims(now);
        backwards.exp = backwards.iat - 1;
        assert_eq!(keys.verify(&keys.sign(&backwards), now, &issuer()), Err(TokenError::BadLifetime));
        let mut extreme = claims(now);
        (extreme.iat, extreme.exp) = (i64::MIN, i64::MAX);
        assert_eq!(keys.verify(&keys.sign(&extreme), now, &issuer()), Err(TokenError::BadLifetime));
    }

    #[test]
    fn a_token_issued_in_the_future_is_refused_beyond_the_allowed_skew() {
        let keys = keyset();
        let now = OffsetDateTime::now_utc();
        let within = claims(now + time::Duration::seconds(ALLOWED_SKEW_SECS));
        assert_eq!(keys.verify(&keys.sign(&within), now, &issuer()), Ok(within));
        let beyond = claims(now + time::Duration::seconds(ALLOWED_SKEW_SECS + 1));
        assert_eq!(keys.verify(&keys.sign(&beyond), now, &issuer()), Err(TokenError::BadLifetime));
        let far = claims(now + time::Duration::days(3650));
        assert_eq!(keys.verify(&keys.sign(&far), now, &issuer()), Err(TokenError::BadLifetime));
    }

    #[test]
    fn id_tokens_are_not_bearer_tokens() {
        let keys = keyset();
        let now = OffsetDateTime::now_utc();
        let mut c = claims(now);
        c.token_use = TokenUse::Id;
        assert_eq!(keys.verify(&keys.sign(&c), now, &issuer()), Err(TokenError::WrongUse));
    }

    #[test]
    fn a_token_of_another_issuer_or_audience_or_without_them_is_refused() {
        let keys = keyset();
        let now = OffsetDateTime::now_utc();
        let mut other_issuer = claims(now);
        other_issuer.iss = "https://elsewhere.example.com".to_owned();
        assert_eq!(keys.verify(&keys.sign(&other_issuer), now, &issuer()), Err(TokenError::WrongAudience));
        let mut other_audience = claims(now);
        other_audience.aud = "https://other-api.example.com".to_owned();
        assert_eq!(keys.verify(&keys.sign(&other_audience), now, &issuer()), Err(TokenError::WrongAudience));
        let issued_before_tokens_named_them = serde_json::json!({
            "sub": ClientId::generate(), "user_id": AdminId::generate(), "customer_id": CustomerId::generate(),
            "customers": "[]", "iat": now.unix_timestamp(), "exp": now.unix_timestamp() + 60,
            "jti": "old", "token_use": "access",
        });
        let payload = b64url(&serde_json::to_vec(&issued_before_tokens_named_them).unwrap_or_default());
        let signing_input = format!("{}.{payload}", keys.header);
        let old = format!("{signing_input}.{}", b64url(&keys.signer.key.sign(signing_input.as_bytes()).to_bytes()));
        assert_eq!(keys.verify(&old, now, &issuer()), Err(TokenError::Malformed));
    }
}
