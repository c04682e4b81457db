//! Who is using the console, in which customer, with which rights — read on every request, so an
//! administrator removed from a customer (or whose access shrank) loses it at the next click —
//! and the forms they post, whose CSRF token is checked before any handler sees them.

use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use trustgate_core::access::{Access, Permission};
use trustgate_core::customer::Customer;
use trustgate_core::event::Actor;
use trustgate_core::ids::CustomerId;
use trustgate_core::rights::{self, PrincipalKind, Standing};

use super::error::ConsoleError;
use super::layout::{Layout, Menu, Section, Warned};
use super::PREFIX;
use crate::error::ApiError;
use crate::http::body;
use crate::session::AdminSession;
use crate::state::AppState;
use trustgate_store::DisabledOwner;

/// A signed-in administrator; anyone else is sent to the sign-in page.
pub struct Signed(pub AdminSession);

impl FromRequestParts<AppState> for Signed {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ConsoleError> {
        match AdminSession::from_cookie(&parts.headers, state).await {
            Ok(session) => Ok(Signed(session)),
            Err(ApiError::Unauthenticated { .. }) => {
                // A page asked for while signed out is shown after signing in; a form is not
                // replayed (its CSRF token died with the session).
                let next = (parts.method == Method::GET)
                    .then(|| parts.uri.path_and_query().map(|p| format!("{PREFIX}{p}")))
                    .flatten();
                Err(ConsoleError::SignIn { next })
            }
            Err(other) => Err(other.into()),
        }
    }
}

/// A signed-in administrator in the customer of the path, which they are a member of right now.
pub struct InCustomer {
    pub session: AdminSession,
    pub customer: Customer,
    pub standing: Standing,
    /// Whether the administrator belongs to other customers too (the menu offers to switch).
    pub several: bool,
    /// For a Full administrator: disabled administrators whose API clients remain active (the R7
    /// warning every page shows them).
    pub disabled_owners: Vec<DisabledOwner>,
}

impl FromRequestParts<AppState> for InCustomer {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ConsoleError> {
        let Signed(session) = Signed::from_request_parts(parts, state).await?;
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| ConsoleError::from(ApiError::NotFound("customer")))?;
        let raw = params.iter().find(|(name, _)| *name == "customer").map(|(_, value)| value).unwrap_or_default();
        Self::load(session, raw, state).await
    }
}

impl InCustomer {
    /// The administrator's standing in the customer `raw` names, as it is now.
    pub async fn load(session: AdminSession, raw: &str, state: &AppState) -> Result<Self, ConsoleError> {
        let id = CustomerId::parse(raw).map_err(|_| ApiError::NotFound("customer"))?;
        let mut memberships = state.store.memberships(session.admin.id).await.map_err(ApiError::from)?;
        memberships.retain(|m| session.reaches(&m.customer.id));
        let several = memberships.len() > 1;
        // Not a member: the customer does not exist as far as this administrator can tell.
        let membership = memberships.into_iter().find(|m| m.customer.id == id).ok_or(ApiError::NotFound("customer"))?;
        let standing = Standing {
            access: membership.access,
            status: session.admin.status,
            policy: membership.customer.disabled_owner_policy,
        };
        rights::effective_access(PrincipalKind::Admin, &standing).map_err(ApiError::from)?;
        let disabled_owners = if standing.access == Access::Full {
            state.store.disabled_owners(&id).await.map_err(ApiError::from)?
        } else {
            Vec::new()
        };
        Ok(Self { session, customer: membership.customer, standing, several, disabled_owners })
    }

    /// Whether the administrator may do what `permission` covers here, asked of the one function
    /// every path asks.
    pub fn may(&self, permission: Permission) -> bool {
        rights::authorize(PrincipalKind::Admin, &self.standing, &permission).is_ok()
    }

    pub fn require(&self, permission: Permission) -> Result<(), ConsoleError> {
        rights::authorize(PrincipalKind::Admin, &self.standing, &permission).map_err(|_| {
            let named = match &permission {
                Permission::Platform(p) => p.display_name().to_owned(),
                other => other.to_string(),
            };
            ConsoleError::page(
                StatusCode::FORBIDDEN,
                format!("Your access in this customer does not include {named}. Ask an administrator for more rights."),
            )
        })
    }

    /// The access the administrator holds now; what they grant others must stay within it.
    pub fn access(&self) -> Access {
        self.standing.access.clone()
    }

    pub fn actor(&self) -> Actor {
        self.session.actor()
    }

    pub fn base(&self) -> String {
        format!("/console/c/{}", self.customer.id)
    }

    pub fn layout(&self, title: &str, section: Section) -> Layout {
        Layout {
            title: title.to_owned(),
            admin_email: self.session.admin.email.to_string(),
            csrf: self.session.session.csrf_token.clone(),
            customer_id: Some(self.customer.id.to_string()),
            customer_name: self.customer.name.clone(),
            several: self.several,
            menu: Menu {
                api_access: self.may(Permission::API_CLIENTS),
                principals: self.access() == Access::Full,
                administrators: self.may(Permission::ADMINISTRATORS),
                notifications: self.may(Permission::NOTIFICATIONS),
                system_log: self.may(Permission::SYSTEM_LOG),
                webhooks: self.access() == Access::Full,
            },
            section,
            warning: self
                .disabled_owners
                .iter()
                .map(|o| Warned {
                    id: o.admin.id.to_string(),
                    email: o.admin.email.to_string(),
                    clients: o.active_clients,
                })
                .collect(),
        }
    }
}

/// The fields of a posted form, in order; a name may repeat (one per ticked checkbox).
pub struct Fields(Vec<(String, String)>);

impl Fields {
    pub fn get(&self, name: &str) -> &str {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or_default()
    }

    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub async fn read(request: Request, state: &AppState) -> Result<Self, ConsoleError> {
        if body::media_type(request.headers()).as_deref() != Some("application/x-www-form-urlencoded") {
            return Err(ApiError::UnsupportedMediaType("application/x-www-form-urlencoded").into());
        }
        let bytes = body::bytes(request, state).await?;
        serde_urlencoded::from_bytes(&bytes).map(Fields).map_err(|_| {
            ConsoleError::page(StatusCode::BAD_REQUEST, "The form could not be read; reload the page and try again.")
        })
    }

    fn csrf_matches(&self, session: &AdminSession) -> bool {
        session.csrf_matches(self.get("csrf"))
    }
}

/// A form posted by a signed-in administrator in a customer, with the session's CSRF token.
pub struct Posted {
    pub ctx: InCustomer,
    pub form: Fields,
}

impl FromRequest<AppState> for Posted {
    type Rejection = ConsoleError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ConsoleError> {
        let (mut parts, body) = request.into_parts();
        let ctx = InCustomer::from_request_parts(&mut parts, state).await?;
        let form = Fields::read(Request::from_parts(parts, body), state).await?;
        if !form.csrf_matches(&ctx.session) {
            return Err(ConsoleError::stale_form());
        }
        Ok(Self { ctx, form })
    }
}

/// A form posted by a signed-in administrator outside any customer (sign-out).
pub struct SignedPost(pub AdminSession);

impl FromRequest<AppState> for SignedPost {
    type Rejection = ConsoleError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ConsoleError> {
        let (mut parts, body) = request.into_parts();
        let Signed(session) = Signed::from_request_parts(&mut parts, state).await?;
        let form = Fields::read(Request::from_parts(parts, body), state).await?;
        if !form.csrf_matches(&session) {
            return Err(ConsoleError::stale_form());
        }
        Ok(Self(session))
    }
}
