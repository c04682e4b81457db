//! A second factor for administrators who sign in with a password (issue #25, items 4–6): time-based
//! one-time passwords (TOTP, RFC 6238: HOTP of RFC 4226 over 30-second steps, HMAC-SHA-1, six
//! digits, as every authenticator app reads them from an `otpauth://` URI) and one-time recovery
//! codes. The TOTP secret is kept sealed under the server key, as it must be read back to check a
//! code; recovery codes are kept only as keyed digests, as client secrets are (R2).

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use aws_lc_rs::hmac;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::encoding::random_bytes;
use crate::ids::AdminId;
use crate::secret::ServerKeyring;

/// RFC 6238 §4: the time step, in seconds (the RFC's recommended default, and what apps assume).
pub const STEP_SECONDS: i64 = 30;
/// RFC 4226 §5.3: six digits.
pub const DIGITS: u32 = 6;
/// RFC 6238 §5.2 allows for clock drift: a code of the step before or after is accepted too.
pub const DRIFT_STEPS: i64 = 1;
/// RFC 4226 §4 R6 asks for at least 128 bits; 160 bits is the size of an HMAC-SHA-1 key.
const SECRET_LEN: usize = 20;
/// How many recovery codes an enrolment hands out.
pub const RECOVERY_CODES: usize = 10;
const NONCE_LEN: usize = 12;
const LABEL: &str = "trustgate totp secret sealing v1";

/// A TOTP shared secret. Never printed; shown to its administrator once, at enrolment.
#[derive(Clone)]
pub struct TotpSecret(Zeroizing<Vec<u8>>);

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

impl TotpSecret {
    pub fn generate() -> Self {
        Self(Zeroizing::new(random_bytes::<SECRET_LEN>().to_vec()))
    }

    /// The secret in RFC 4648 base32 without padding, as authenticator apps take it typed in.
    pub fn base32(&self) -> String {
        base32(&self.0)
    }

    /// The `otpauth://totp/` URI of Google Authenticator's key-URI format, which a QR code carries.
    pub fn uri(&self, issuer: &str, account: &str) -> String {
        let label = format!("{}:{}", percent(issuer), percent(account));
        format!(
            "otpauth://totp/{label}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
            self.base32(),
            percent(issuer)
        )
    }

    /// The code of time step `step` (RFC 6238 §4.2, RFC 4226 §5.3 dynamic truncation).
    pub fn code_at_step(&self, step: i64) -> u32 {
        let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &self.0);
        let mac = hmac::sign(&key, &step.to_be_bytes());
        let mac = mac.as_ref();
        let offset = usize::from(mac[mac.len() - 1] & 0x0f);
        let binary = u32::from_be_bytes([mac[offset] & 0x7f, mac[offset + 1], mac[offset + 2], mac[offset + 3]]);
        binary % 10u32.pow(DIGITS)
    }

    /// The time step a valid `code` belongs to, within [`DRIFT_STEPS`] of `unix_time`; `None` when
    /// it matches none. The caller refuses a step already used (RFC 6238 §5.2: one use per code).
    pub fn matching_step(&self, code: &str, unix_time: i64) -> Option<i64> {
        let code = parse_code(code)?;
        let now = step_of(unix_time);
        let mut found = None;
        // Every candidate is computed and compared in constant time, whichever matches.
        for step in (now - DRIFT_STEPS)..=(now + DRIFT_STEPS) {
            let expected = format!("{:06}", self.code_at_step(step));
            if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) {
                found = found.or(Some(step));
            }
        }
        found
    }
}

/// The RFC 6238 time step of `unix_time`.
pub fn step_of(unix_time: i64) -> i64 {
    unix_time.div_euclid(STEP_SECONDS)
}

/// Six digits, spaces ignored (apps show `123 456`).
fn parse_code(text: &str) -> Option<String> {
    let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    (digits.len() == DIGITS as usize && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

/// Whether `text` has the shape of a TOTP code (rather than of a recovery code).
pub fn looks_like_totp(text: &str) -> bool {
    parse_code(text).is_some()
}

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(BASE32[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// Percent-encodes everything but unreserved characters (RFC 3986 §2.3).
fn percent(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A one-time recovery code: `xxxx-xxxx-xxxx` of lowercase base32 (60 random bits), shown once.
pub struct RecoveryCode(Zeroizing<String>);

impl fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryCode(<redacted>)")
    }
}

impl RecoveryCode {
    pub fn generate() -> Self {
        let letters = base32(&random_bytes::<8>()).to_ascii_lowercase();
        let letters = &letters[..12];
        Self(Zeroizing::new(format!("{}-{}-{}", &letters[..4], &letters[4..8], &letters[8..12])))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A presented code in the form it was made in: case, spaces and dashes do not matter.
    pub fn normalize(text: &str) -> Option<String> {
        let letters: String =
            text.chars().filter(|c| !c.is_whitespace() && *c != '-').map(|c| c.to_ascii_lowercase()).collect();
        let valid = letters.len() == 12 && letters.bytes().all(|b| matches!(b, b'a'..=b'z' | b'2'..=b'7'));
        valid.then(|| format!("{}-{}-{}", &letters[..4], &letters[4..8], &letters[8..12]))
    }

    /// What the store keeps: a keyed digest under the current server key, bound to its administrator.
    pub fn digest(&self, ring: &ServerKeyring, admin: AdminId) -> [u8; 32] {
        ring.current().digest(&recovery_input(admin, &self.0))
    }
}

/// The digests a presented recovery code may be stored under, one per key of the ring.
pub fn recovery_digests(ring: &ServerKeyring, admin: AdminId, normalized: &str) -> Vec<[u8; 32]> {
    ring.digests(&recovery_input(admin, normalized))
}

fn recovery_input(admin: AdminId, code: &str) -> String {
    format!("mfa-recovery:{admin}:{code}")
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the second factor of administrator {0} does not open with this server key")]
pub struct TotpSealError(pub AdminId);

/// Seals TOTP secrets under a key derived from the current server key and opens them with any key
/// of the ring; the administrator's id is the associated data, so a sealed secret moved to another
/// administrator's row does not open.
pub struct TotpVault(Vec<Aes256Gcm>);

impl TotpVault {
    pub fn for_ring(ring: &ServerKeyring) -> Self {
        Self(ring.all().map(|key| Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&key.derive(LABEL)))).collect())
    }

    pub fn seal(&self, admin: AdminId, secret: &TotpSecret) -> Vec<u8> {
        let nonce = random_bytes::<NONCE_LEN>();
        let aad = admin.to_string();
        let payload = Payload { msg: &secret.0, aad: aad.as_bytes() };
        // AES-GCM fails only on messages of gigabytes; a ring always holds its current key.
        let sealed = self.0.first().and_then(|aead| aead.encrypt(Nonce::from_slice(&nonce), payload).ok());
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed.unwrap_or_default());
        bytes
    }

    pub fn open(&self, admin: AdminId, sealed: &[u8]) -> Result<TotpSecret, TotpSealError> {
        let (nonce, sealed) = sealed.split_at_checked(NONCE_LEN).ok_or(TotpSealError(admin))?;
        let aad = admin.to_string();
        let clear = self
            .0
            .iter()
            .find_map(|aead| aead.decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad: aad.as_bytes() }).ok())
            .ok_or(TotpSealError(admin))?;
        Ok(TotpSecret(Zeroizing::new(clear)))
    }
}

impl fmt::Debug for TotpVault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpVault(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::ServerKey;

    /// RFC 6238 Appendix B, the SHA-1 rows (the seed is "12345678901234567890"), last six digits.
    #[test]
    fn codes_match_the_test_vectors_of_rfc_6238() {
        let secret = TotpSecret(Zeroizing::new(b"12345678901234567890".to_vec()));
        for (time, code) in [
            (59, 287_082),
            (1_111_111_109, 81_804),
            (1_111_111_111, 50_471),
            (1_234_567_890, 5_924),
            (2_000_000_000, 279_037),
            (20_000_000_000, 353_130),
        ] {
            assert_eq!(secret.code_at_step(step_of(time)), code, "at {time}");
        }
        assert_eq!(secret.matching_step("287082", 59), Some(1));
        assert_eq!(secret.matching_step("287 082", 59 + 30), Some(1), "one step of drift");
        assert_eq!(secret.matching_step("287082", 59 + 60), None, "two steps are too many");
        assert_eq!(secret.matching_step("28708", 59), None);
    }

    #[test]
    fn base32_is_rfc_4648_without_padding() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32(b"12345678901234567890"), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    }

    #[test]
    fn a_sealed_secret_opens_only_for_its_administrator() {
        let ring = ServerKeyring::from(ServerKey::generate());
        let vault = TotpVault::for_ring(&ring);
        let (admin, other) = (AdminId::generate(), AdminId::generate());
        let secret = TotpSecret::generate();
        let sealed = vault.seal(admin, &secret);
        assert_eq!(vault.open(admin, &sealed).map(|s| s.base32()), Ok(secret.base32()));
        assert!(vault.open(other, &sealed).is_err());
    }

    #[test]
    fn recovery_codes_are_read_whatever_their_case_and_dashes() {
        let code = RecoveryCode::generate();
        assert_eq!(
            RecoveryCode::normalize(&code.expose().to_uppercase().replace('-', " ")).as_deref(),
            Some(code.expose())
        );
        assert_eq!(RecoveryCode::normalize("abcd-efgh-ijk1"), None);
    }
}
