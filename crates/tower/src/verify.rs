//! The bearer token: where it is in the request, and whether Trustgate signed it for this
//! audience, now — the checks Trustgate's own verification makes.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::{header, HeaderMap};
use jsonwebtoken::{Header, Validation};
use serde::Deserialize;

use crate::rejection::Rejection;

/// Trustgate's tokens last one hour; a token claiming longer was not issued by it.
pub const MAX_TOKEN_LIFETIME_SECS: i64 = 3600;
/// How far in the future a token's `iat` may lie: the clock skew tolerated, as Trustgate does.
const ALLOWED_SKEW_SECS: i64 = 60;
/// Trustgate's tokens are under 1 KiB; anything much longer is refused unread.
const MAX_TOKEN_LEN: usize = 4096;

/// The claims of a Trustgate access token this layer reads.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Claims {
    pub(crate) iss: String,
    pub(crate) aud: String,
    pub(crate) sub: String,
    pub(crate) customer_id: String,
    pub(crate) iat: i64,
    pub(crate) exp: i64,
    pub(crate) jti: String,
    pub(crate) token_use: String,
}

/// `CwsAuth Bearer=<token>` (scheme and key in any case, other comma-separated keys ignored) or
/// `Bearer <token>`.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Result<&str, Rejection> {
    let value = headers.get(header::AUTHORIZATION).ok_or_else(Rejection::missing)?;
    let value = value.to_str().map_err(|_| Rejection::invalid())?.trim();
    let (scheme, rest) = value.split_once(char::is_whitespace).ok_or_else(Rejection::invalid)?;
    let token = if scheme.eq_ignore_ascii_case("CwsAuth") {
        rest.split(',')
            .filter_map(|pair| pair.split_once('='))
            .find(|(key, _)| key.trim().eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
    } else if scheme.eq_ignore_ascii_case("Bearer") {
        Some(rest.trim())
    } else {
        None
    };
    token.filter(|t| !t.is_empty() && t.len() <= MAX_TOKEN_LEN).ok_or_else(Rejection::invalid)
}

/// The token's header, read before its key is known.
pub(crate) fn header_of(token: &str) -> Result<(Header, String), Rejection> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| Rejection::invalid())?;
    let kid = header.kid.clone().ok_or_else(Rejection::invalid)?;
    Ok((header, kid))
}

/// Checks the signature with `key`, then the lifetime, issuer, audience and use, against now.
pub(crate) fn claims(
    token: &str,
    header: &Header,
    key: &crate::keys::Key,
    issuer: &str,
    audience: &str,
) -> Result<Claims, Rejection> {
    if header.alg != key.algorithm {
        return Err(Rejection::invalid());
    }
    let mut validation = Validation::new(key.algorithm);
    // The claims are checked below, against the same rules as Trustgate's.
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    let claims =
        jsonwebtoken::decode::<Claims>(token, &key.decoding, &validation).map_err(|_| Rejection::invalid())?.claims;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let lifetime = claims.exp.saturating_sub(claims.iat);
    if lifetime <= 0 || lifetime > MAX_TOKEN_LIFETIME_SECS || claims.iat > now.saturating_add(ALLOWED_SKEW_SECS) {
        return Err(Rejection::invalid());
    }
    if claims.exp <= now || claims.iss != issuer || claims.aud != audience {
        return Err(Rejection::invalid());
    }
    // The legacy endpoint's `openIdToken` is signed by the same keys but is no bearer token.
    if claims.token_use != "access" {
        return Err(Rejection::invalid());
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn token_of(value: &str) -> Option<String> {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).ok()?);
        bearer_token(&headers).ok().map(str::to_owned)
    }

    #[test]
    fn both_schemes_are_read() {
        assert_eq!(token_of("CwsAuth Bearer=abc").as_deref(), Some("abc"));
        assert_eq!(token_of("cwsauth service=x, bearer= abc").as_deref(), Some("abc"));
        assert_eq!(token_of("Bearer abc").as_deref(), Some("abc"));
        assert_eq!(token_of("Basic abc"), None);
        assert_eq!(token_of("CwsAuth Bearer="), None);
    }
}
