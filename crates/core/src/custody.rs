//! Signing keys at rest. A private key is stored sealed with AES-256-GCM under a key derived from
//! the server key, which lives outside the store: a copy of the database alone cannot mint tokens.
//!
//! The key id is the associated data, so a sealed key moved to another row does not open.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use time::OffsetDateTime;

use crate::encoding::random_bytes;
use crate::secret::{ServerKey, ServerKeyId, ServerKeyring};
use crate::token::{Algorithm, SigningKey};

/// How keys written before encryption at rest are marked (the migration's column default).
pub const RAW: &str = "raw";
/// A 12-byte random nonce followed by the AES-256-GCM ciphertext and tag.
pub const SEALED: &str = "aes-256-gcm";
/// Separates this use of the server key from every other; the other HMAC inputs (secrets,
/// session ids) are base64url and cannot contain a space, so none can collide with it.
const LABEL: &str = "trustgate signing-key sealing v1";
const NONCE_LEN: usize = 12;

/// A signing key as the store keeps it.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyAtRest {
    pub kid: String,
    /// Stored beside the key, never read from a token: it pins how the key's tokens verify.
    pub algorithm: Algorithm,
    /// [`SEALED`], or [`RAW`] for a key stored before it was sealed.
    pub format: String,
    pub bytes: Vec<u8>,
    pub created_at: OffsetDateTime,
}

impl fmt::Debug for KeyAtRest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyAtRest({}, {}, {}, <redacted>)", self.kid, self.algorithm, self.format)
    }
}

impl KeyAtRest {
    pub fn is_sealed(&self) -> bool {
        self.format == SEALED
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CustodyError {
    #[error("signing key {0} does not open with this server key (every node must share the server key)")]
    WrongServerKey(String),
    #[error("signing key {0} is stored in an unknown format")]
    UnknownFormat(String),
    /// Stored raw: from before sealing, or planted by whoever could write to the database. Never
    /// used until an operator reseals it (`trustgate keys reseal`, issue #21).
    #[error("signing key {0} is stored unsealed; it is not used until `trustgate keys reseal` seals it")]
    Unsealed(String),
    #[error("signing key {0} is not a valid key")]
    Invalid(String),
}

/// Seals signing keys with the key derived from the current server key, and opens them with
/// whichever key of the ring they were sealed under: AES-GCM refuses a wrong key, so trying each
/// is unambiguous.
pub struct KeyVault(Vec<(ServerKeyId, Aes256Gcm)>);

impl KeyVault {
    pub fn new(server_key: &ServerKey) -> Self {
        Self::for_ring(&server_key.clone().into())
    }

    pub fn for_ring(ring: &ServerKeyring) -> Self {
        Self(
            ring.all()
                .map(|key| (key.id(), Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&key.derive(LABEL)))))
                .collect(),
        )
    }

    fn sealer(&self) -> &Aes256Gcm {
        // A vault is made from a ring, which always holds its current key.
        &self.0[0].1
    }

    /// The id of the server key `stored` is sealed under, if it is one of this vault's.
    pub fn sealed_under(&self, stored: &KeyAtRest) -> Option<&ServerKeyId> {
        let (nonce, sealed) = stored.bytes.split_at_checked(NONCE_LEN)?;
        let payload = || Payload { msg: sealed, aad: stored.kid.as_bytes() };
        (stored.format == SEALED)
            .then(|| self.0.iter().find(|(_, aead)| aead.decrypt(Nonce::from_slice(nonce), payload()).is_ok()))
            .flatten()
            .map(|(id, _)| id)
    }

    pub fn seal(&self, key: &SigningKey, created_at: OffsetDateTime) -> KeyAtRest {
        let nonce = random_bytes::<NONCE_LEN>();
        let private = key.private_bytes();
        let payload = Payload { msg: private, aad: key.kid().as_bytes() };
        // AES-GCM fails only on messages of gigabytes; a key is at most about 1.2 KiB (RSA).
        let sealed = self.sealer().encrypt(Nonce::from_slice(&nonce), payload).unwrap_or_default();
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        KeyAtRest {
            kid: key.kid().to_owned(),
            algorithm: key.algorithm(),
            format: SEALED.to_owned(),
            bytes,
            created_at,
        }
    }

    /// The key in clear, if it is sealed under this server key. A [`RAW`] key is refused: one
    /// INSERT would otherwise plant a signer (issue #21).
    pub fn open(&self, stored: &KeyAtRest) -> Result<SigningKey, CustodyError> {
        if stored.format == RAW {
            return Err(CustodyError::Unsealed(stored.kid.clone()));
        }
        self.open_for_resealing(stored)
    }

    /// The key in clear, a [`RAW`] one included: only for `trustgate keys reseal`, the operator's
    /// explicit act of adopting a key stored before sealing existed.
    pub fn open_for_resealing(&self, stored: &KeyAtRest) -> Result<SigningKey, CustodyError> {
        let kid = || stored.kid.clone();
        let private = match stored.format.as_str() {
            SEALED => {
                let (nonce, sealed) =
                    stored.bytes.split_at_checked(NONCE_LEN).ok_or_else(|| CustodyError::WrongServerKey(kid()))?;
                let payload = || Payload { msg: sealed, aad: stored.kid.as_bytes() };
                self.0
                    .iter()
                    .find_map(|(_, aead)| aead.decrypt(Nonce::from_slice(nonce), payload()).ok())
                    .ok_or_else(|| CustodyError::WrongServerKey(kid()))?
            }
            RAW => stored.bytes.clone(),
            _ => return Err(CustodyError::UnknownFormat(kid())),
        };
        let private = zeroize::Zeroizing::new(private);
        SigningKey::from_stored(kid(), stored.algorithm, &private).ok_or_else(|| CustodyError::Invalid(kid()))
    }
}

impl fmt::Debug for KeyVault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyVault(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn a_sealed_key_opens_with_its_server_key_only() {
        let server_key = ServerKey::generate();
        let key = SigningKey::generate(Algorithm::EdDsa).unwrap_or_else(|e| unreachable!("{e}"));
        let stored = KeyVault::new(&server_key).seal(&key, OffsetDateTime::now_utc());
        assert_eq!(stored.format, SEALED);
        assert!(!contains(&stored.bytes, key.private_bytes()), "the stored bytes are not the key");
        let opened = KeyVault::new(&server_key).open(&stored).unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(opened.private_bytes(), key.private_bytes());
        assert_eq!(
            KeyVault::new(&ServerKey::generate()).open(&stored).err(),
            Some(CustodyError::WrongServerKey(key.kid().to_owned()))
        );
    }

    #[test]
    fn a_key_sealed_under_a_retired_server_key_opens_until_that_key_leaves_the_ring() {
        let (old, new) = (ServerKey::generate(), ServerKey::generate());
        let key = SigningKey::generate(Algorithm::EdDsa).unwrap_or_else(|e| unreachable!("{e}"));
        let stored = KeyVault::new(&old).seal(&key, OffsetDateTime::now_utc());
        let ring = KeyVault::for_ring(&ServerKeyring::new(new.clone(), vec![old.clone()]));
        assert!(ring.open(&stored).is_ok());
        assert_eq!(ring.sealed_under(&stored), Some(&old.id()));
        let resealed = ring.seal(&key, stored.created_at);
        assert_eq!(ring.sealed_under(&resealed), Some(&new.id()), "new seals use the current key");
        assert!(KeyVault::new(&old).open(&resealed).is_err());
        assert!(KeyVault::new(&new).open(&stored).is_err());
    }

    #[test]
    fn a_sealed_key_moved_to_another_kid_or_altered_does_not_open() {
        let vault = KeyVault::new(&ServerKey::generate());
        let stored = vault.seal(
            &SigningKey::generate(Algorithm::EdDsa).unwrap_or_else(|e| unreachable!("{e}")),
            OffsetDateTime::now_utc(),
        );
        let moved = KeyAtRest { kid: "another".to_owned(), ..stored.clone() };
        assert!(vault.open(&moved).is_err());
        let mut altered = stored.clone();
        if let Some(last) = altered.bytes.last_mut() {
            *last ^= 1;
        }
        assert!(vault.open(&altered).is_err());
        let truncated = KeyAtRest { bytes: stored.bytes[..5].to_vec(), ..stored.clone() };
        assert!(vault.open(&truncated).is_err());
        let unknown = KeyAtRest { format: "rot13".to_owned(), ..stored };
        assert!(matches!(vault.open(&unknown), Err(CustodyError::UnknownFormat(_))));
    }

    #[test]
    fn a_raw_key_is_refused_and_opens_only_for_resealing() {
        let key = SigningKey::generate(Algorithm::EdDsa).unwrap_or_else(|e| unreachable!("{e}"));
        let raw = KeyAtRest {
            kid: key.kid().to_owned(),
            algorithm: Algorithm::EdDsa,
            format: RAW.to_owned(),
            bytes: key.private_bytes().to_vec(),
            created_at: OffsetDateTime::now_utc(),
        };
        let vault = KeyVault::new(&ServerKey::generate());
        assert!(matches!(vault.open(&raw), Err(CustodyError::Unsealed(_))));
        let opened = vault.open_for_resealing(&raw).unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(opened.private_bytes(), key.private_bytes());
    }

    #[test]
    fn debug_output_never_contains_key_material() {
        let stored = KeyVault::new(&ServerKey::generate()).seal(
            &SigningKey::generate(Algorithm::EdDsa).unwrap_or_else(|e| unreachable!("{e}")),
            OffsetDateTime::now_utc(),
        );
        assert!(format!("{stored:?}").contains("redacted"));
        assert!(!format!("{stored:?}").contains(&format!("{:?}", &stored.bytes[..4])));
    }
}
