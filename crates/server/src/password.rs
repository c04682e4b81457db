//! Administrator passwords: argon2id, computed off the async runtime (≈20 ms each).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use crate::error::ApiError;

pub const MIN_PASSWORD_LEN: usize = 12;
pub const MAX_PASSWORD_LEN: usize = 256;

/// A hash of a random password, verified against when the e-mail is unknown, so a sign-in takes
/// as long for a wrong e-mail as for a wrong password.
static DECOY: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();

pub fn check_strength(password: &str) -> Result<(), trustgate_core::ValidationError> {
    let len = password.chars().count();
    if len < MIN_PASSWORD_LEN {
        return Err(trustgate_core::ValidationError::out_of_range(
            "password",
            format!("password must be at least {MIN_PASSWORD_LEN} characters"),
        ));
    }
    if len > MAX_PASSWORD_LEN {
        return Err(trustgate_core::ValidationError::too_long("password", MAX_PASSWORD_LEN));
    }
    Ok(())
}

pub async fn hash(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || hash_now(&password)).await.map_err(|_| ApiError::Internal)?
}

fn hash_now(password: &str) -> Result<String, ApiError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|_| ApiError::Internal)?;
    let salt = SaltString::encode_b64(&salt).map_err(|_| ApiError::Internal)?;
    Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|_| ApiError::Internal)
}

/// Whether `password` matches `stored`; with `None` it still spends the time of one verification.
pub async fn verify(password: String, stored: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let decoy = DECOY.get_or_init(|| hash_now("decoy password that never matches").ok());
        let Some(stored) = stored.as_ref().or(decoy.as_ref()) else { return false };
        let matches = PasswordHash::new(stored)
            .map(|hash| Argon2::default().verify_password(password.as_bytes(), &hash).is_ok())
            .unwrap_or(false);
        matches && stored.as_str() != decoy.as_deref().unwrap_or_default()
    })
    .await
    .unwrap_or(false)
}
