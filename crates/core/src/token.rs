//! Bearer tokens: JWTs signed and verified by the `jsonwebtoken` crate on its aws-lc-rs backend,
//! with the algorithm each deployment chooses (ES256, EdDSA or RS256). A token proves who the
//! caller is; what it may do is looked up live on every request (R4), so the claims carry identity
//! only.
//!
//! Every token presented is checked against its signature, as any verifier with the JWKS checks
//! it: no shortcut accepts what a signature check refuses (issue #21). The server's cache of
//! verified tokens keys on the whole token string and holds only tokens that verified.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair, RsaPublicKeyComponents, ECDSA_P256_SHA256_FIXED_SIGNING,
    RSA_PKCS1_SHA256,
};
use jsonwebtoken::{DecodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::encoding::{b64url, push_b64url, random_bytes};
use crate::ids::{AdminId, ClientId, CustomerId};

/// R9: tokens live one hour and are never refreshed.
pub const TOKEN_LIFETIME_SECS: i64 = 3600;
/// Longest token accepted for verification; ours are far shorter (an RS256 one is under 1 KiB).
const MAX_TOKEN_LEN: usize = 4096;
/// How far in the future a token's `iat` may lie: the clock skew tolerated between nodes.
pub const ALLOWED_SKEW_SECS: i64 = 60;
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
    /// The administrator who owns the client (read by Citrix's terraform provider); absent from a
    /// service principal's tokens, which name no person: `sub` is the principal's identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<AdminId>,
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

/// What a verified access token tells about its bearer, kept small because a node holds one for
/// every token in its verified-token cache (a couple of hundred thousand at scale): the issuer and
/// audience are left out because verification found them to be this deployment's own, and
/// `customers` because it repeats `customer_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedClaims {
    pub sub: ClientId,
    pub user_id: Option<AdminId>,
    pub customer_id: CustomerId,
    pub iat: i64,
    pub exp: i64,
    pub jti: Box<str>,
}

impl From<Claims> for VerifiedClaims {
    fn from(claims: Claims) -> Self {
        let Claims { sub, user_id, customer_id, iat, exp, jti, .. } = claims;
        Self { sub, user_id, customer_id, iat, exp, jti: jti.into_boxed_str() }
    }
}

impl Claims {
    pub fn new(
        issuer: &Issuer,
        client: ClientId,
        owner: Option<AdminId>,
        customer: CustomerId,
        now: OffsetDateTime,
        token_use: TokenUse,
    ) -> Self {
        let iat = now.unix_timestamp();
        // Written out rather than through `json!`, whose map costs a grant several allocations;
        // the keys are in the order `json!` sorts them, so the claim reads as it always has. A
        // customer id holds only lower-case letters, digits and '-' (`CustomerId` admits nothing
        // else), so it needs no escaping.
        let customers = format!(r#"[{{"CustomerId":"{customer}","Geo":"US"}}]"#);
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

/// A signing algorithm a deployment may choose (RFC 7518 and RFC 8037 names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// ECDSA on P-256 with SHA-256.
    Es256,
    /// Ed25519: the algorithm of every key made before the choice existed.
    EdDsa,
    /// RSASSA-PKCS1-v1_5 with SHA-256 on a 2048-bit key, for verifiers that know only RSA.
    Rs256,
}

impl Algorithm {
    pub const ALL: [Algorithm; 3] = [Algorithm::Es256, Algorithm::EdDsa, Algorithm::Rs256];

    /// The JWS `alg` name, as stored and as published.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Es256 => "ES256",
            Algorithm::EdDsa => "EdDSA",
            Algorithm::Rs256 => "RS256",
        }
    }

    fn jws(self) -> jsonwebtoken::Algorithm {
        match self {
            Algorithm::Es256 => jsonwebtoken::Algorithm::ES256,
            Algorithm::EdDsa => jsonwebtoken::Algorithm::EdDSA,
            Algorithm::Rs256 => jsonwebtoken::Algorithm::RS256,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a signing algorithm Trustgate offers (ES256, EdDSA, RS256)")]
pub struct UnknownAlgorithm(pub String);

impl FromStr for Algorithm {
    type Err = UnknownAlgorithm;
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Algorithm::ALL.into_iter().find(|a| a.as_str() == name).ok_or_else(|| UnknownAlgorithm(name.to_owned()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("generating a signing key failed")]
    Generate,
    #[error("signing a token failed")]
    Sign,
}

/// A private signing key with its key id and algorithm, ready to sign, and its public half.
pub struct SigningKey {
    kid: String,
    algorithm: Algorithm,
    /// As stored: an Ed25519 key's 32-byte seed (the format since the first version), else PKCS#8.
    private: Zeroizing<Vec<u8>>,
    pair: Pair,
    public: PublicKey,
}

/// The private key parsed once. `jsonwebtoken::encode` parses its key again for every signature,
/// which for P-256 costs a scalar multiplication (deriving the public point) on top of the
/// signature, and for RSA a key check.
enum Pair {
    Ed(Ed25519KeyPair),
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

impl Pair {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        match self {
            Pair::Ed(pair) => Ok(pair.sign(message).as_ref().to_vec()),
            Pair::Ec(pair) => {
                pair.sign(&SystemRandom::new(), message).map(|s| s.as_ref().to_vec()).map_err(|_| KeyError::Sign)
            }
            Pair::Rsa(pair) => {
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), message, &mut signature)
                    .map_err(|_| KeyError::Sign)?;
                Ok(signature)
            }
        }
    }
}

/// What verifies a key's tokens, and its JSON Web Key (RFC 7517) without `kid`.
struct PublicKey {
    algorithm: Algorithm,
    decoding: DecodingKey,
    jwk: serde_json::Value,
}

impl SigningKey {
    pub fn generate(algorithm: Algorithm) -> Result<Self, KeyError> {
        let private = match algorithm {
            Algorithm::EdDsa => random_bytes::<32>().to_vec(),
            Algorithm::Es256 => EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                .and_then(|pair| pair.to_pkcs8v1())
                .map_err(|_| KeyError::Generate)?
                .as_ref()
                .to_vec(),
            Algorithm::Rs256 => RsaKeyPair::generate(KeySize::Rsa2048)
                .and_then(|pair| pair.as_der())
                .map_err(|_| KeyError::Generate)?
                .as_ref()
                .to_vec(),
        };
        Self::from_stored(b64url(&random_bytes::<12>()), algorithm, &private).ok_or(KeyError::Generate)
    }

    /// `None` when the bytes are not a private key of `algorithm`.
    pub fn from_stored(kid: String, algorithm: Algorithm, private_key: &[u8]) -> Option<Self> {
        let (pair, jwk) = match algorithm {
            Algorithm::EdDsa => {
                let pair = Ed25519KeyPair::from_seed_unchecked(private_key).ok()?;
                let x = b64url(pair.public_key().as_ref());
                (Pair::Ed(pair), serde_json::json!({ "kty": "OKP", "crv": "Ed25519", "x": x }))
            }
            Algorithm::Es256 => {
                let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, private_key).ok()?;
                // SEC 1 uncompressed point: 0x04, then x and y of 32 bytes each.
                let point = pair.public_key().as_ref();
                let (x, y) = point.get(1..)?.split_at_checked(32)?;
                let jwk = serde_json::json!({ "kty": "EC", "crv": "P-256", "x": b64url(x), "y": b64url(y) });
                (Pair::Ec(pair), jwk)
            }
            Algorithm::Rs256 => {
                let pair = RsaKeyPair::from_pkcs8(private_key).ok()?;
                let public = RsaPublicKeyComponents::<Vec<u8>>::from(pair.public_key());
                let jwk = serde_json::json!({ "kty": "RSA", "n": b64url(&public.n), "e": b64url(&public.e) });
                (Pair::Rsa(pair), jwk)
            }
        };
        let public = PublicKey::from_jwk(algorithm, jwk)?;
        Some(Self { kid, algorithm, private: Zeroizing::new(private_key.to_vec()), pair, public })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The private key, for the store only.
    pub fn private_bytes(&self) -> &[u8] {
        &self.private
    }
}

impl PublicKey {
    /// Verifies with exactly what the JWKS publishes, so a verifier elsewhere sees the same key.
    fn from_jwk(algorithm: Algorithm, jwk: serde_json::Value) -> Option<Self> {
        let field = |name: &str| jwk[name].as_str().unwrap_or_default().to_owned();
        let decoding = match algorithm {
            Algorithm::EdDsa => DecodingKey::from_ed_components(&field("x")),
            Algorithm::Es256 => DecodingKey::from_ec_components(&field("x"), &field("y")),
            Algorithm::Rs256 => DecodingKey::from_rsa_components(&field("n"), &field("e")),
        }
        .ok()?;
        Some(Self { algorithm, decoding, jwk })
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({}, {}, <redacted>)", self.kid, self.algorithm)
    }
}

/// The keys a node signs and verifies with: the newest signs, all verify, so tokens signed before a
/// rotation — with the same algorithm or another — keep working until they expire.
pub struct KeySet {
    signer: SigningKey,
    /// The encoded JWS header of every token, with the `.` that follows it.
    header: String,
    verifiers: HashMap<String, PublicKey>,
}

impl KeySet {
    /// `keys` newest first; the first one signs. `None` when there is no key.
    pub fn new(mut keys: Vec<SigningKey>) -> Option<Self> {
        if keys.is_empty() {
            return None;
        }
        let signer = keys.swap_remove(0);
        let mut verifiers: HashMap<String, PublicKey> = keys.into_iter().map(|k| (k.kid, k.public)).collect();
        let own = PublicKey::from_jwk(signer.algorithm, signer.public.jwk.clone())?;
        verifiers.insert(signer.kid.clone(), own);
        let mut header = Header::new(signer.algorithm.jws());
        header.kid = Some(signer.kid.clone());
        let json = serde_json::to_string(&header).ok()?;
        let header = format!("{}.", b64url(json.as_bytes()));
        Some(Self { signer, header, verifiers })
    }

    /// A compact JWS (RFC 7515) of `claims`, as `jsonwebtoken::encode` makes it, signed with the
    /// key parsed once.
    pub fn sign(&self, claims: &Claims) -> Result<String, KeyError> {
        self.sign_json(claims)
    }

    fn sign_json(&self, claims: &impl Serialize) -> Result<String, KeyError> {
        let payload = serde_json::to_vec(claims).map_err(|_| KeyError::Sign)?;
        // One allocation for the whole token: base64 takes 4 characters for every 3 bytes, and an
        // RSA-2048 signature, the longest, is 256 bytes.
        let mut token = String::with_capacity(self.header.len() + (payload.len() + 256) * 4 / 3 + 8);
        token.push_str(&self.header);
        push_b64url(&mut token, &payload);
        let signature = self.signer.pair.sign(token.as_bytes())?;
        token.push('.');
        push_b64url(&mut token, &signature);
        Ok(token)
    }

    /// The algorithm new tokens are signed with.
    pub fn algorithm(&self) -> Algorithm {
        self.signer.algorithm
    }

    /// Every algorithm a live key verifies, the signing one first.
    pub fn algorithms(&self) -> Vec<Algorithm> {
        let mut algorithms = vec![self.signer.algorithm];
        for key in self.verifiers.values() {
            if !algorithms.contains(&key.algorithm) {
                algorithms.push(key.algorithm);
            }
        }
        algorithms[1..].sort_by_key(|a| a.as_str());
        algorithms
    }

    /// Verifies an access token's signature, lifetime, issuer and audience. The algorithm is the
    /// one stored with the key the header names, never the header's own choice. Header parameters
    /// this server does not know (such as the `tgt` of earlier releases) are covered by the
    /// signature and otherwise ignored, as RFC 7515 §4 requires.
    pub fn verify(&self, token: &str, now: OffsetDateTime, issuer: &Issuer) -> Result<Claims, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        let kid = header.kid.as_deref().ok_or(TokenError::Malformed)?;
        let key = self.verifiers.get(kid).ok_or(TokenError::UnknownKey)?;
        if header.alg != key.algorithm.jws() {
            return Err(TokenError::Malformed);
        }
        // The signature is checked before the claims are parsed; the claims are checked below,
        // against `now`, so the library checks none of them itself.
        let mut validation = Validation::new(key.algorithm.jws());
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        let claims = match jsonwebtoken::decode::<Claims>(token, &key.decoding, &validation) {
            Ok(data) => data.claims,
            Err(error) if *error.kind() == jsonwebtoken::errors::ErrorKind::InvalidSignature => {
                return Err(TokenError::BadSignature)
            }
            Err(_) => return Err(TokenError::Malformed),
        };
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

    /// The public keys as a JSON Web Key Set (RFC 7517), each with its `alg` (RFC 7518, RFC 8037).
    pub fn jwks(&self) -> serde_json::Value {
        let mut keys: Vec<_> = self
            .verifiers
            .iter()
            .map(|(kid, key)| {
                let mut jwk = key.jwk.clone();
                if let Some(fields) = jwk.as_object_mut() {
                    fields.insert("use".to_owned(), "sig".into());
                    fields.insert("alg".to_owned(), key.algorithm.as_str().into());
                    fields.insert("kid".to_owned(), kid.as_str().into());
                }
                jwk
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
        Claims::new(
            &issuer(),
            ClientId::generate(),
            Some(AdminId::generate()),
            CustomerId::generate(),
            now,
            TokenUse::Access,
        )
    }

    fn key(algorithm: Algorithm) -> SigningKey {
        SigningKey::generate(algorithm).unwrap_or_else(|e| unreachable!("{e}"))
    }

    fn keyset_of(algorithm: Algorithm) -> KeySet {
        KeySet::new(vec![key(algorithm)]).unwrap_or_else(|| unreachable!())
    }

    fn keyset() -> KeySet {
        keyset_of(Algorithm::EdDsa)
    }

    fn sign(keys: &KeySet, claims: &Claims) -> String {
        keys.sign(claims).unwrap_or_else(|e| unreachable!("{e}"))
    }

    #[test]
    fn the_customers_claim_is_the_citrix_array_written_as_a_string() {
        let claims = claims(OffsetDateTime::now_utc());
        let customer = claims.customer_id.as_str();
        let parsed: serde_json::Value = serde_json::from_str(&claims.customers).unwrap_or_default();
        assert_eq!(parsed, serde_json::json!([{ "CustomerId": customer, "Geo": "US" }]));
        assert_eq!(claims.customers, format!(r#"[{{"CustomerId":"{customer}","Geo":"US"}}]"#));
    }

    #[test]
    fn a_token_signed_with_the_parsed_key_is_the_one_jsonwebtoken_makes() {
        // Ed25519 signatures are deterministic, so the whole token must match byte for byte.
        let signer = key(Algorithm::EdDsa);
        let pkcs8 = Ed25519KeyPair::from_seed_unchecked(signer.private_bytes())
            .ok()
            .and_then(|pair| pair.to_pkcs8v1().ok())
            .unwrap_or_else(|| unreachable!());
        let mut header = Header::new(jsonwebtoken::Algorithm::EdDSA);
        header.kid = Some(signer.kid().to_owned());
        let c = claims(OffsetDateTime::now_utc());
        let expected = jsonwebtoken::encode(&header, &c, &jsonwebtoken::EncodingKey::from_ed_der(pkcs8.as_ref()))
            .unwrap_or_else(|e| unreachable!("{e}"));
        let keys = KeySet::new(vec![signer]).unwrap_or_else(|| unreachable!());
        assert_eq!(sign(&keys, &c), expected);
    }

    #[test]
    fn a_signed_token_verifies_until_it_expires_with_every_algorithm() {
        for algorithm in Algorithm::ALL {
            let keys = keyset_of(algorithm);
            let now = OffsetDateTime::now_utc();
            let c = claims(now);
            let token = sign(&keys, &c);
            assert_eq!(keys.verify(&token, now, &issuer()), Ok(c), "{algorithm}");
            let later = now + time::Duration::hours(1);
            assert_eq!(keys.verify(&token, later, &issuer()), Err(TokenError::Expired), "{algorithm}");
        }
    }

    #[test]
    fn a_stored_key_of_each_algorithm_is_the_same_key() {
        for algorithm in Algorithm::ALL {
            let original = key(algorithm);
            let stored = SigningKey::from_stored(original.kid.clone(), algorithm, original.private_bytes())
                .unwrap_or_else(|| unreachable!());
            let token = sign(
                &KeySet::new(vec![original]).unwrap_or_else(|| unreachable!()),
                &claims(OffsetDateTime::now_utc()),
            );
            let reopened = KeySet::new(vec![stored]).unwrap_or_else(|| unreachable!());
            assert!(reopened.verify(&token, OffsetDateTime::now_utc(), &issuer()).is_ok(), "{algorithm}");
        }
    }

    #[test]
    fn a_key_is_only_read_as_the_algorithm_it_was_made_for() {
        for made in Algorithm::ALL {
            let key = key(made);
            for read in Algorithm::ALL.into_iter().filter(|a| *a != made) {
                assert!(
                    SigningKey::from_stored(key.kid.clone(), read, key.private_bytes()).is_none(),
                    "{made} as {read}"
                );
            }
        }
    }

    /// The header's `alg` must be the one stored with the key its `kid` names: a token re-labelled
    /// with another algorithm (the classic "alg confusion") is refused before any verification.
    #[test]
    fn the_algorithm_is_the_keys_not_the_tokens() {
        let keys = KeySet::new(vec![key(Algorithm::Es256), key(Algorithm::Rs256)]).unwrap_or_else(|| unreachable!());
        let now = OffsetDateTime::now_utc();
        let token = sign(&keys, &claims(now));
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        for alg in ["RS256", "HS256", "none", "EdDSA"] {
            let header = serde_json::json!({ "alg": alg, "typ": "JWT", "kid": keys.signing_kid() });
            parts[0] = b64url(&serde_json::to_vec(&header).unwrap_or_default());
            assert_eq!(keys.verify(&parts.join("."), now, &issuer()), Err(TokenError::Malformed), "{alg}");
        }
    }

    #[test]
    fn a_token_longer_than_the_cap_is_refused_before_decoding() {
        let keys = keyset();
        let now = OffsetDateTime::now_utc();
        let mut long = claims(now);
        long.jti = "x".repeat(MAX_TOKEN_LEN);
        let token = sign(&keys, &long);
        assert_eq!(keys.verify(&token, now, &issuer()), Err(TokenError::Malformed));
    }

    #[test]
    fn algorithm_names_are_the_jws_names() {
        for algorithm in Algorithm::ALL {
            assert_eq!(algorithm.as_str().parse(), Ok(algorithm));
        }
        assert!("es256".parse::<Algorithm>().is_err());
        assert!("HS256".parse::<Algorithm>().is_err());
    }

    #[test]
    fn tampered_and_foreign_tokens_are_refused() {
        let keys = keyset();
        let now = OffsetDateTime::now_utc();
        let token = sign(&keys, &claims(now));
        let mut parts: Vec<&str> = token.split('.').collect();
        let other_payload = b64url(&serde_json::to_vec(&claims(now)).unwrap_or_default());
        parts[1] = &other_payload;
        assert_eq!(keys.verify(&parts.join("."), now, &issuer()), Err(TokenError::BadSignature));
        assert_eq!(keyset().verify(&token, now, &issuer()), Err(TokenError::UnknownKey));
        assert_eq!(keys.verify(&format!("{token}.x"), now, &issuer()), Err(TokenError::Malformed));
        assert_eq!(keys.verify("not.a.token", now, &issuer()), Err(TokenError::Malformed));
    }

    #[test]
    fn old_keys_keep_verifying_after_a_rotation() {
        for (from, to) in Algorithm::ALL.into_iter().flat_map(|a| Algorithm::ALL.map(|b| (a, b))) {
            let old = key(from);
            let old_again =
                SigningKey::from_stored(old.kid.clone(), from, old.private_bytes()).unwrap_or_else(|| unreachable!());
            let before = KeySet::new(vec![old]).unwrap_or_else(|| unreachable!());
            let now = OffsetDateTime::now_utc();
            let token = sign(&before, &claims(now));
            let after = KeySet::new(vec![key(to), old_again]).unwrap_or_else(|| unreachable!());
            assert!(after.verify(&token, now, &issuer()).is_ok(), "{from} then {to}");
            assert_ne!(after.signing_kid(), before.signing_kid());
            assert_eq!((after.algorithm(), after.algorithms().len()), (to, if from == to { 1 } else { 2 }));
        }
    }

    #[test]
    fn a_token_living_longer_than_issued_is_refused_even_with_a_good_signature() {
        let keys = keyset();
        let now = OffsetDateTime::now_utc();
        let mut ten_years = claims(now);
        ten_years.exp = ten_years.iat + 10 * 365 * 24 * 3600;
        assert_eq!(keys.verify(&sign(&keys, &ten_years), now, &issuer()), Err(TokenError::BadLifetime));
        let mut one_second_more = claims(now);
        one_second_more.exp += 1;
        assert_eq!(keys.verify(&sign(&keys, &one_second_more), now, &issuer()), Err(TokenError::BadLifetime));
        let mut backwards = claims(now);
        backwards.exp = backwards.iat - 1;
        assert_eq!(keys.verify(&sign(&keys, &backwards), now, &issuer()), Err(TokenError::BadLifetime));
        let mut extreme = claims(now);
        (extreme.iat, extreme.exp) = (i64::MIN, i64::MAX);
        assert_eq!(keys.verify(&sign(&keys, &extreme), now, &issuer()), Err(TokenError::BadLifetime));
    }

    #[test]
    fn a_token_issued_in_the_future_is_refused_beyond_the_allowed_skew() {
        let keys = keyset();
        let now = OffsetDateTime::now_utc();
        let within = claims(now + time::Duration::seconds(ALLOWED_SKEW_SECS));
        assert_eq!(keys.verify(&sign(&keys, &within), now, &issuer()), Ok(within));
        let beyond = claims(now + time::Duration::seconds(ALLOWED_SKEW_SECS + 1));
        assert_eq!(keys.verify(&sign(&keys, &beyond), now, &issuer()), Err(TokenError::BadLifetime));
        let far = claims(now + time::Duration::days(3650));
        assert_eq!(keys.verify(&sign(&keys, &far), now, &issuer()), Err(TokenError::BadLifetime));
    }

    #[test]
    fn id_tokens_are_not_bearer_tokens() {
        let keys = keyset();
        let now = OffsetDateTime::now_utc();
        let mut c = claims(now);
        c.token_use = TokenUse::Id;
        assert_eq!(keys.verify(&sign(&keys, &c), now, &issuer()), Err(TokenError::WrongUse));
    }

    #[test]
    fn a_token_of_another_issuer_or_audience_or_without_them_is_refused() {
        let keys = keyset();
        let now = OffsetDateTime::now_utc();
        let mut other_issuer = claims(now);
        other_issuer.iss = "https://elsewhere.example.com".to_owned();
        assert_eq!(keys.verify(&sign(&keys, &other_issuer), now, &issuer()), Err(TokenError::WrongAudience));
        let mut other_audience = claims(now);
        other_audience.aud = "https://other-api.example.com".to_owned();
        assert_eq!(keys.verify(&sign(&keys, &other_audience), now, &issuer()), Err(TokenError::WrongAudience));
        let issued_before_tokens_named_them = serde_json::json!({
            "sub": ClientId::generate(), "user_id": AdminId::generate(), "customer_id": CustomerId::generate(),
            "customers": "[]", "iat": now.unix_timestamp(), "exp": now.unix_timestamp() + 60,
            "jti": "old", "token_use": "access",
        });
        let old = keys.sign_json(&issued_before_tokens_named_them).unwrap_or_default();
        assert_eq!(keys.verify(&old, now, &issuer()), Err(TokenError::Malformed));
    }

    fn with_segment(token: &str, index: usize, segment: &str) -> String {
        let mut segments: Vec<&str> = token.split('.').collect();
        segments[index] = segment;
        segments.join(".")
    }

    /// Issue #21: what every JWKS verifier refuses, Trustgate refuses — whatever replaces the
    /// signature, including another token's.
    #[test]
    fn a_token_whose_signature_is_replaced_is_refused_with_every_algorithm() {
        for algorithm in Algorithm::ALL {
            let keys = KeySet::new(vec![key(algorithm)]).unwrap_or_else(|| unreachable!());
            let now = OffsetDateTime::now_utc();
            let token = sign(&keys, &claims(now));
            assert!(keys.verify(&token, now, &issuer()).is_ok(), "{algorithm}");
            let another = sign(&keys, &claims(now));
            let zeros = b64url(&vec![0; another.split('.').nth(2).map_or(0, |s| s.len() * 3 / 4)]);
            for signature in ["", "xxx", "AAAA", zeros.as_str(), another.split('.').nth(2).unwrap_or_default()] {
                let replaced = with_segment(&token, 2, signature);
                assert!(
                    matches!(
                        keys.verify(&replaced, now, &issuer()),
                        Err(TokenError::BadSignature | TokenError::Malformed)
                    ),
                    "{algorithm}: signature {signature:?} accepted"
                );
            }
        }
    }

    /// Tokens issued by a release that tagged them still verify, by their signature, until they
    /// expire; the tag in their header vouches for nothing.
    #[test]
    fn a_token_with_an_unknown_header_parameter_verifies_by_its_signature_alone() {
        let signer = key(Algorithm::EdDsa);
        let pkcs8 = Ed25519KeyPair::from_seed_unchecked(signer.private_bytes())
            .ok()
            .and_then(|pair| pair.to_pkcs8v1().ok())
            .unwrap_or_else(|| unreachable!());
        let mut header = Header::new(jsonwebtoken::Algorithm::EdDSA);
        header.kid = Some(signer.kid().to_owned());
        header.extras.insert("tgt".to_owned(), "AAAAAAAAAAAAAAAAAAAAAA".to_owned());
        let keys = KeySet::new(vec![signer]).unwrap_or_else(|| unreachable!());
        let now = OffsetDateTime::now_utc();
        let c = claims(now);
        let token = jsonwebtoken::encode(&header, &c, &jsonwebtoken::EncodingKey::from_ed_der(pkcs8.as_ref()))
            .unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(keys.verify(&token, now, &issuer()), Ok(c));
        assert_eq!(keys.verify(&with_segment(&token, 2, ""), now, &issuer()), Err(TokenError::BadSignature));
    }
}
