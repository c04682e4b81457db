//! Client secrets and their verifiers (security baseline of DESIGN.md).
//!
//! A secret is 32 bytes from the OS CSPRNG, shown once. Only an HMAC-SHA-256 of it under the
//! server key is stored, and checks compare verifiers in constant time.

use std::fmt;
use std::sync::Arc;

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretBox, SecretString};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::encoding::{b64url, from_b64url, random_bytes};
use crate::validate::{trim_pasted, ValidationError};

/// Separates the key id from every other use of the server key (a space, as in the other labels,
/// keeps it apart from the base64url values that are MACed).
const ID_LABEL: &str = "trustgate server-key id";
/// Every secret starts with this, so secret scanners can recognise a leaked one.
pub const SECRET_PREFIX: &str = "tgs_";
const SECRET_BYTES: usize = 32;
/// 32 bytes in unpadded base64url.
const RANDOM_LEN: usize = 43;
/// The first format, still accepted: `tgs_` and the random part, naming no secret.
const LEGACY_LEN: usize = SECRET_PREFIX.len() + RANDOM_LEN;
/// `tgs_`, the secret's id, `_`, the random part: the id says which of a client's secrets to
/// check, so a grant costs one HMAC however many secrets the client holds.
const NAMED_LEN: usize = SECRET_PREFIX.len() + SecretId::LEN + 1 + RANDOM_LEN;

/// One of a client's secrets: 16 lower-case hex digits, not secret (it is in the clear at the
/// start of the secret it names, and in lists).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SecretId([u8; SecretId::LEN]);

impl SecretId {
    pub const LEN: usize = 16;

    pub fn generate() -> Self {
        let mut id = [0u8; Self::LEN];
        for (pair, byte) in id.chunks_mut(2).zip(random_bytes::<{ SecretId::LEN / 2 }>()) {
            pair.copy_from_slice(format!("{byte:02x}").as_bytes());
        }
        Self(id)
    }

    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let text = trim_pasted(text);
        let bytes: [u8; Self::LEN] = text
            .as_bytes()
            .try_into()
            .ok()
            .filter(|b: &[u8; Self::LEN]| b.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')))
            .ok_or_else(|| ValidationError::invalid("secretId", "secretId must be 16 lower-case hex digits"))?;
        Ok(Self(bytes))
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever stored.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Display for SecretId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which of a client's stored secrets a presented one must match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretRef {
    /// A secret issued before secrets had ids: the client's one migrated secret.
    Legacy,
    Named(SecretId),
}

/// A client secret in clear, wiped from memory when dropped. It has no `Display`, and its
/// `Debug` prints nothing of it.
pub struct ClientSecret(SecretString);

impl ClientSecret {
    /// A new secret, named by a fresh id; [`ClientSecret::id`] tells it.
    pub fn generate() -> Self {
        Self::generate_as(SecretId::generate())
    }

    /// A new secret named by `id`, which the caller stores it under.
    pub fn generate_as(id: SecretId) -> Self {
        Self(format!("{SECRET_PREFIX}{id}_{}", b64url(&random_bytes::<SECRET_BYTES>())).into())
    }

    /// Accepts what a caller presented, if it has the shape of a Trustgate secret; anything else
    /// cannot match a stored verifier and is refused before any look-up.
    pub fn from_presented(text: &str) -> Option<Self> {
        let random = |part: &str| from_b64url(part).is_some_and(|b| b.len() == SECRET_BYTES);
        let rest = text.strip_prefix(SECRET_PREFIX)?;
        let well_formed = match text.len() {
            LEGACY_LEN => random(rest),
            NAMED_LEN => {
                rest.as_bytes().get(SecretId::LEN) == Some(&b'_')
                    && SecretId::parse(&rest[..SecretId::LEN]).is_ok()
                    && random(&rest[SecretId::LEN + 1..])
            }
            _ => false,
        };
        well_formed.then(|| Self(text.into()))
    }

    /// Which stored secret this one must match.
    pub fn reference(&self) -> SecretRef {
        let text = self.expose();
        match text.get(SECRET_PREFIX.len()..SECRET_PREFIX.len() + SecretId::LEN) {
            Some(id) if text.len() == NAMED_LEN => SecretId::parse(id).map_or(SecretRef::Legacy, SecretRef::Named),
            _ => SecretRef::Legacy,
        }
    }

    /// The id of a secret this version issued; `None` for one in the first format.
    pub fn id(&self) -> Option<SecretId> {
        match self.reference() {
            SecretRef::Named(id) => Some(id),
            SecretRef::Legacy => None,
        }
    }

    /// The clear text, for the one response that shows it to its owner.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret(<redacted>)")
    }
}

/// What is stored in place of a secret: its HMAC, and the id of the server key it was made under
/// (`None` for one stored before server keys had ids, which any key of the ring may have made).
#[derive(Clone, PartialEq, Eq)]
pub struct SecretVerifier {
    mac: [u8; 32],
    key: Option<ServerKeyId>,
}

impl SecretVerifier {
    pub fn from_stored(bytes: &[u8], key: Option<ServerKeyId>) -> Option<Self> {
        bytes.try_into().ok().map(|mac| Self { mac, key })
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.mac
    }

    /// The server key it was made under, as recorded beside it.
    pub fn key(&self) -> Option<&ServerKeyId> {
        self.key.as_ref()
    }
}

impl fmt::Debug for SecretVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretVerifier(<redacted>)")
    }
}

/// Names a server key without revealing it: the first 8 bytes of an HMAC under the key, in
/// base64url (11 characters). Derived from the key itself, so no numbering has to be kept in step
/// across nodes, and a record made under a key says which one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServerKeyId(String);

impl ServerKeyId {
    pub const LEN: usize = 11;

    pub fn parse(text: &str) -> Option<Self> {
        (text.len() == Self::LEN && from_b64url(text).is_some()).then(|| Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ServerKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The server's HMAC key, wiped from memory when dropped. Kept outside the store, so a copy of the
/// database alone verifies nothing.
#[derive(Clone)]
pub struct ServerKey {
    bytes: Arc<SecretBox<[u8; 32]>>,
    /// Kept beside the key: a grant looks its verifier's key up by id, and an HMAC per key and
    /// grant to recompute the ids would be work on the token endpoint's path.
    id: ServerKeyId,
}

impl ServerKey {
    pub fn generate() -> Self {
        Self::from_bytes(random_bytes())
    }

    pub fn from_encoded(text: &str) -> Option<Self> {
        let bytes: [u8; 32] = from_b64url(text.trim())?.try_into().ok()?;
        Some(Self::from_bytes(bytes))
    }

    fn from_bytes(bytes: [u8; 32]) -> Self {
        let mut key = Self { bytes: Arc::new(SecretBox::new(Box::new(bytes))), id: ServerKeyId(String::new()) };
        key.id = ServerKeyId(b64url(&key.derive(ID_LABEL)[..8]));
        key
    }

    pub fn encode(&self) -> String {
        b64url(self.bytes.expose_secret())
    }

    pub fn id(&self) -> ServerKeyId {
        self.id.clone()
    }

    pub fn verifier(&self, secret: &ClientSecret) -> SecretVerifier {
        SecretVerifier { mac: self.mac(secret.expose().as_bytes()), key: Some(self.id()) }
    }

    /// Whether `secret` is the one `stored` was made from under this key; the key `stored` names
    /// is the caller's to choose ([`ServerKeyring::matches`]).
    pub fn matches(&self, secret: &ClientSecret, stored: &SecretVerifier) -> bool {
        self.mac(secret.expose().as_bytes()).ct_eq(&stored.mac).into()
    }

    /// A keyed digest for other bearer values kept server-side (session ids), so the store
    /// never holds one that could be replayed.
    pub fn digest(&self, value: &str) -> [u8; 32] {
        self.mac(value.as_bytes())
    }

    /// A key for another purpose, named by `label` (HKDF-Expand of RFC 5869 with the server key,
    /// uniformly random already, as the pseudorandom key: one block of HMAC-SHA-256).
    pub(crate) fn derive(&self, label: &str) -> [u8; 32] {
        let mut info = label.as_bytes().to_vec();
        info.push(1);
        self.mac(&info)
    }

    fn mac(&self, data: &[u8]) -> [u8; 32] {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(self.bytes.expose_secret()) else {
            unreachable!("HMAC accepts keys of any length")
        };
        mac.update(data);
        mac.finalize().into_bytes().into()
    }
}

impl fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServerKey(<redacted>)")
    }
}

/// The server keys a node holds: the current one, which makes every new verifier, digest and
/// sealed value, and retired ones, which still check what was made under them until that has been
/// replaced. Dropping a retired key from the ring makes exactly the records under it fail.
#[derive(Clone, Debug)]
pub struct ServerKeyring {
    current: ServerKey,
    retired: Vec<ServerKey>,
}

impl ServerKeyring {
    /// A ring of `current` and `retired`; a retired key equal to the current one, or given twice,
    /// is left out.
    pub fn new(current: ServerKey, retired: Vec<ServerKey>) -> Self {
        let mut ids = vec![current.id()];
        let mut kept = Vec::new();
        for key in retired {
            let id = key.id();
            if !ids.contains(&id) {
                ids.push(id);
                kept.push(key);
            }
        }
        Self { current, retired: kept }
    }

    pub fn current(&self) -> &ServerKey {
        &self.current
    }

    pub fn retired(&self) -> &[ServerKey] {
        &self.retired
    }

    /// The current key, then the retired ones.
    pub fn all(&self) -> impl Iterator<Item = &ServerKey> {
        std::iter::once(&self.current).chain(&self.retired)
    }

    pub fn key(&self, id: &ServerKeyId) -> Option<&ServerKey> {
        self.all().find(|key| key.id == *id)
    }

    /// Whether a record made under `id` is made under a key other than the current one.
    pub fn is_retired(&self, id: Option<&ServerKeyId>) -> bool {
        id.is_some_and(|id| *id != self.current.id)
    }

    /// Checks `secret` with the key `stored` names; a verifier from before key ids is checked
    /// with each key. A key no longer in the ring still costs one HMAC, so a refusal takes as long
    /// as any other.
    pub fn matches(&self, secret: &ClientSecret, stored: &SecretVerifier) -> bool {
        match stored.key() {
            Some(id) => match self.key(id) {
                Some(key) => key.matches(secret, stored),
                None => {
                    std::hint::black_box(self.current.matches(secret, stored));
                    false
                }
            },
            None => self.all().any(|key| key.matches(secret, stored)),
        }
    }

    /// The digests of `value` under each key, the current key's first: a look-up by digest tries
    /// them in turn, so values stored before a rotation are still found.
    pub fn digests(&self, value: &str) -> Vec<[u8; 32]> {
        self.all().map(|key| key.digest(value)).collect()
    }
}

impl From<ServerKey> for ServerKeyring {
    fn from(current: ServerKey) -> Self {
        Self::new(current, Vec::new())
    }
}

/// A fresh random token for session ids and CSRF tokens.
pub fn random_token() -> String {
    b64url(&random_bytes::<32>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_matches_only_its_own_verifier() {
        let key = ServerKey::generate();
        let secret = ClientSecret::generate();
        let stored = key.verifier(&secret);
        assert!(key.matches(&secret, &stored));
        assert!(!key.matches(&ClientSecret::generate(), &stored));
        assert!(!ServerKey::generate().matches(&secret, &stored));
    }

    #[test]
    fn debug_output_never_contains_the_secret() {
        let secret = ClientSecret::generate();
        assert!(!format!("{secret:?}").contains(&secret.expose()[4..]));
        let key = ServerKey::generate();
        assert_eq!(format!("{key:?}"), "ServerKey(<redacted>)");
    }

    #[test]
    fn presented_secrets_must_have_the_generated_shape() {
        let secret = ClientSecret::generate();
        assert!(ClientSecret::from_presented(secret.expose()).is_some());
        assert!(ClientSecret::from_presented("tgs_short").is_none());
        assert!(ClientSecret::from_presented(&secret.expose().replace("tgs_", "xyz_")).is_none());
    }

    #[test]
    fn a_new_secret_names_its_id_and_a_first_format_one_names_none() {
        let secret = ClientSecret::generate();
        let id = secret.id().expect("a new secret names its id");
        assert_eq!(ClientSecret::from_presented(secret.expose()).map(|s| s.reference()), Some(SecretRef::Named(id)));
        let legacy = format!("{SECRET_PREFIX}{}", b64url(&random_bytes::<SECRET_BYTES>()));
        let presented = ClientSecret::from_presented(&legacy).expect("the first format is still accepted");
        assert_eq!(presented.reference(), SecretRef::Legacy);
        let mut bad_id = secret.expose().to_owned();
        bad_id.replace_range(4..5, "Z");
        assert!(ClientSecret::from_presented(&bad_id).is_none());
    }

    #[test]
    fn secret_ids_are_sixteen_hex_digits() {
        let id = SecretId::generate();
        assert_eq!(SecretId::parse(id.as_str()), Ok(id));
        assert!(SecretId::parse("0123456789abcdeF").is_err());
        assert!(SecretId::parse("0123").is_err());
    }

    #[test]
    fn a_verifier_is_checked_with_the_key_it_names_while_that_key_is_in_the_ring() {
        let (old, new) = (ServerKey::generate(), ServerKey::generate());
        let secret = ClientSecret::generate();
        let stored = old.verifier(&secret);
        assert_eq!(stored.key(), Some(&old.id()));
        let ring = ServerKeyring::new(new.clone(), vec![old.clone()]);
        assert!(ring.matches(&secret, &stored));
        assert!(ring.is_retired(stored.key()));
        assert!(!ring.matches(&ClientSecret::generate(), &stored));
        assert!(!ServerKeyring::from(new.clone()).matches(&secret, &stored), "dropping the key fails its verifiers");
        assert!(!ring.is_retired(new.verifier(&secret).key()));
        let unnamed = SecretVerifier::from_stored(stored.as_bytes(), None).unwrap_or_else(|| unreachable!());
        assert!(ring.matches(&secret, &unnamed), "a verifier from before key ids is checked with each key");
        assert!(!ServerKeyring::from(new).matches(&secret, &unnamed));
    }

    #[test]
    fn a_key_id_is_stable_short_and_tells_keys_apart() {
        let key = ServerKey::generate();
        let again = ServerKey::from_encoded(&key.encode()).unwrap_or_else(|| unreachable!());
        assert_eq!(key.id(), again.id());
        assert_eq!(key.id().as_str().len(), ServerKeyId::LEN);
        assert_eq!(ServerKeyId::parse(key.id().as_str()), Some(key.id()));
        assert_ne!(key.id(), ServerKey::generate().id());
        assert!(ServerKeyId::parse("short").is_none());
        let ring = ServerKeyring::new(key.clone(), vec![again, ServerKey::generate()]);
        assert_eq!(ring.retired().len(), 1, "the current key is not also retired");
    }

    #[test]
    fn server_keys_round_trip_through_their_encoding() {
        let key = ServerKey::generate();
        let again = ServerKey::from_encoded(&key.encode());
        assert!(again.is_some_and(|k| k.bytes.expose_secret() == key.bytes.expose_secret()));
    }
}
