//! Who called, as Trustgate decided: put into the request's extensions by the layer.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::rejection::Rejection;

/// The authenticated caller of a request and what it may do now.
///
/// The layer inserts an `Arc<Caller>` into the request's extensions; a handler takes it as an
/// extractor (`caller: Caller`) or reads `request.extensions().get::<Arc<Caller>>()`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Caller {
    /// The API client (the token's `sub`).
    pub client_id: String,
    /// The customer the token was issued in.
    pub customer_id: String,
    /// Who the client acts as: its owning administrator, or the service principal itself.
    pub principal_id: String,
    /// Which of the two [`Self::principal_id`] is.
    pub principal_kind: PrincipalKind,
    /// `Full` or `Custom`.
    pub access_type: String,
    /// Every permission the client has now (`orders.read`, `notifications`, …); for `Full`
    /// access, every permission of the deployment's catalog.
    pub permissions: BTreeSet<String>,
    /// The token's id (`jti`).
    pub token_id: String,
    /// When the token expires (seconds since the Unix epoch).
    pub expires_at: i64,
}

/// What a [`Caller`] acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PrincipalKind {
    /// A secure client, acting with its owning administrator's access.
    Administrator,
    /// A service principal, acting with its own access.
    ServicePrincipal,
    /// A kind this version does not know.
    Other(String),
}

impl PrincipalKind {
    pub(crate) fn from_wire(kind: &str) -> Self {
        match kind {
            "administrator" => PrincipalKind::Administrator,
            "service_principal" => PrincipalKind::ServicePrincipal,
            other => PrincipalKind::Other(other.to_owned()),
        }
    }
}

impl Caller {
    /// Whether the caller has `permission` (`service.permission`, or a built-in like
    /// `notifications`).
    pub fn has(&self, permission: &str) -> bool {
        self.permissions.contains(permission)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Rejection> {
        // Absent only when the route is not behind the layer: refused rather than served to
        // no one in particular.
        parts.extensions.get::<Arc<Caller>>().map(|c| Caller::clone(c)).ok_or_else(Rejection::missing)
    }
}
