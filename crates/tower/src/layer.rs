//! The layers: [`AuthLayer`] authenticates every request and asks the decision; [`require`]
//! checks one route's permission.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use tower_layer::Layer;
use tower_service::Service;

use crate::caller::Caller;
use crate::rejection::Rejection;
use crate::Trustgate;

type BoxFuture = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

/// Authenticates every request with [`Trustgate::authenticate`]: the caller goes into the
/// request's extensions as `Arc<Caller>`, a refusal is answered without calling the service.
#[derive(Clone)]
pub struct AuthLayer {
    pub(crate) trustgate: Trustgate,
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService { trustgate: self.trustgate.clone(), inner }
    }
}

/// The service [`AuthLayer`] wraps around yours.
#[derive(Clone)]
pub struct AuthService<S> {
    trustgate: Trustgate,
    inner: S,
}

impl<S> Service<Request> for AuthService<S>
where
    S: Service<Request, Error = Infallible> + Clone + Send + 'static,
    S::Response: IntoResponse,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        // The clone that was polled ready serves this request; the fresh clone waits for the next.
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        let trustgate = self.trustgate.clone();
        Box::pin(async move {
            match trustgate.authenticate(request.headers()).await {
                Ok(caller) => {
                    request.extensions_mut().insert(caller);
                    Ok(inner.call(request).await?.into_response())
                }
                Err(rejection) => Ok(rejection.into_response()),
            }
        })
    }
}

/// A route layer admitting only callers with `permission` (403 otherwise), under an
/// [`AuthLayer`]:
///
/// ```
/// use axum::{routing::get, Router};
/// use trustgate_tower::require;
///
/// async fn list_orders() -> &'static str {
///     "[]"
/// }
///
/// let orders: Router = Router::new().route("/orders", get(list_orders).route_layer(require("orders.read")));
/// ```
pub fn require(permission: impl Into<String>) -> RequireLayer {
    RequireLayer { permission: Arc::from(permission.into()) }
}

/// The layer [`require`] returns.
#[derive(Clone)]
pub struct RequireLayer {
    permission: Arc<str>,
}

impl<S> Layer<S> for RequireLayer {
    type Service = RequireService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireService { permission: self.permission.clone(), inner }
    }
}

/// The service [`RequireLayer`] wraps around a route.
#[derive(Clone)]
pub struct RequireService<S> {
    permission: Arc<str>,
    inner: S,
}

impl<S> Service<Request> for RequireService<S>
where
    S: Service<Request, Error = Infallible> + Clone + Send + 'static,
    S::Response: IntoResponse,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let allowed = match request.extensions().get::<Arc<Caller>>() {
            None => Err(Rejection::missing()),
            Some(caller) if caller.has(&self.permission) => Ok(()),
            Some(_) => Err(Rejection::Forbidden {
                reason: format!("missing permission {}", self.permission),
                scope: Some(self.permission.to_string()),
            }),
        };
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        Box::pin(async move {
            match allowed {
                Ok(()) => Ok(inner.call(request).await?.into_response()),
                Err(rejection) => Ok(rejection.into_response()),
            }
        })
    }
}
