//! Administrator sessions for the management API (and the console): an HttpOnly, SameSite=Strict
//! cookie holding a random id, of which the store keeps only a keyed digest. State-changing
//! requests must echo the session's CSRF token in `X-CSRF-Token`.

use std::marker::PhantomData;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method};
use cookie::{Cookie, SameSite};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use trustgate_core::admin::Admin;
use trustgate_core::event::Actor;
use trustgate_core::ids::CustomerId;
use trustgate_core::rights::{self, PrincipalKind};
use trustgate_core::secret::random_token;
use trustgate_store::Session;

use crate::error::ApiError;
use crate::platform::auth::Needs;
use crate::state::AppState;

pub const COOKIE: &str = "tg_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A signed-in administrator.
pub struct AdminSession {
    pub admin: Admin,
    pub session: Session,
    /// The keyed digest of the session id, to end the session.
    pub digest: [u8; 32],
}

impl AdminSession {
    pub fn actor(&self) -> Actor {
        Actor::Admin { id: self.admin.id, name: self.admin.email.to_string() }
    }
}

pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
}

impl AdminSession {
    /// The session of the request's cookie, if it is live; the caller checks CSRF its own way
    /// (a header for the management API, a form field for the console).
    pub async fn from_cookie(headers: &HeaderMap, state: &AppState) -> Result<Self, ApiError> {
        let id = cookie_value(headers, COOKIE).ok_or_else(ApiError::missing_credentials)?;
        let now = OffsetDateTime::now_utc();
        // A session opened under a retired server key is found by its digest under that key
        // (rotating the server key ends every session; this covers nodes rolled to a new key first).
        let mut found = None;
        for digest in state.server_keys().ring.digests(&id) {
            if let Some(session) = state.store.session(&digest, now).await? {
                found = Some((digest, session));
                break;
            }
        }
        let (digest, session) = found.ok_or_else(ApiError::invalid_credentials)?;
        let admin = state.store.admin(session.admin_id).await?.ok_or_else(ApiError::invalid_credentials)?;
        Ok(Self { admin, session, digest })
    }

    /// Whether this session may act in `customer`: a session opened through a customer's OpenID
    /// provider reaches that customer only.
    pub fn reaches(&self, customer: &CustomerId) -> bool {
        self.session.customer_id.as_ref().is_none_or(|only| only == customer)
    }

    /// Whether `presented` is this session's CSRF token, compared in constant time.
    pub fn csrf_matches(&self, presented: &str) -> bool {
        bool::from(presented.as_bytes().ct_eq(self.session.csrf_token.as_bytes()))
    }
}

impl FromRequestParts<AppState> for AdminSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let session = Self::from_cookie(&parts.headers, state).await?;
        if !matches!(parts.method, Method::GET | Method::HEAD) {
            let presented = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
            if !session.csrf_matches(presented) {
                return Err(ApiError::Forbidden("the X-CSRF-Token header is missing or wrong".to_owned()));
            }
        }
        Ok(session)
    }
}

/// Starts a session for `admin`, reaching only `customer` when given; returns the `Set-Cookie`
/// value that carries it and the session.
pub async fn start(
    state: &AppState,
    admin: &Admin,
    customer: Option<&CustomerId>,
) -> Result<(HeaderValue, Session), ApiError> {
    let id = random_token();
    let now = OffsetDateTime::now_utc();
    let lifetime = state.config.session_lifetime;
    let session = Session {
        admin_id: admin.id,
        csrf_token: random_token(),
        expires_at: now + time::Duration::seconds(i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX)),
        customer_id: customer.cloned(),
    };
    state.store.create_session(&state.server_key().digest(&id), &session, now).await?;
    let cookie = cookie(state, COOKIE, &id, "/", lifetime.as_secs());
    Ok((HeaderValue::from_str(&cookie).map_err(|_| ApiError::Internal)?, session))
}

/// Ends `session` in the store; returns the `Set-Cookie` value that clears the cookie.
pub async fn end(state: &AppState, session: &AdminSession) -> Result<HeaderValue, ApiError> {
    state.store.delete_session(&session.digest).await?;
    HeaderValue::from_str(&cookie(state, COOKIE, "", "/", 0)).map_err(|_| ApiError::Internal)
}

/// A hardened cookie: HttpOnly, SameSite=Strict, and Secure when served over HTTPS.
pub fn cookie(state: &AppState, name: &str, value: &str, path: &str, max_age: u64) -> String {
    Cookie::build((name, value))
        .path(path)
        .http_only(true)
        .same_site(SameSite::Strict)
        .max_age(time::Duration::seconds(i64::try_from(max_age).unwrap_or(i64::MAX)))
        .secure(state.config.secure_cookies)
        .build()
        .to_string()
}

/// A signed-in administrator acting in the customer of the path, allowed what `N` needs there.
/// Membership is read on every request, so an admin removed from a customer loses it at once.
pub struct AdminIn<N: Needs> {
    pub session: AdminSession,
    pub customer_id: CustomerId,
    needs: PhantomData<N>,
}

impl<N: Needs> FromRequestParts<AppState> for AdminIn<N> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let session = AdminSession::from_request_parts(parts, state).await?;
        let Path(params): Path<Vec<(String, String)>> =
            Path::from_request_parts(parts, state).await.map_err(|_| ApiError::NotFound("customer"))?;
        let customer = params.iter().find(|(k, _)| k == "customer").map(|(_, v)| v.as_str()).unwrap_or_default();
        let customer_id = CustomerId::parse(customer)?;
        if !session.reaches(&customer_id) {
            return Err(ApiError::NotFound("customer"));
        }
        // Not a member: the customer does not exist as far as this admin can tell.
        let standing =
            state.store.standing(&customer_id, session.admin.id).await?.ok_or(ApiError::NotFound("customer"))?;
        rights::authorize(PrincipalKind::Admin, &standing, &N::PERMISSION)?;
        Ok(Self { session, customer_id, needs: PhantomData })
    }
}
