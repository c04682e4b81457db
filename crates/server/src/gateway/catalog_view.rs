//! The permission catalog as JSON: one shape for `GET /api/v1/catalog` and `trustgate catalog show
//! --json`, so what an operator reads on the command line is what a script reads over HTTP.

use serde::Serialize;
use trustgate_core::access::Permission;
use trustgate_core::catalog::Catalog;
use utoipa::ToSchema;

/// The catalog a node decides with: the operator's services, every permission on offer (the
/// built-in Platform ones first) and the route rules of the gateway.
#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogView {
    services: Vec<ServiceView>,
    permissions: Vec<PermissionView>,
    routes: Vec<RouteView>,
}

/// A service the operator declared.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceView {
    name: String,
    display_name: String,
    description: Option<String>,
}

/// A permission on offer, in Citrix's policy shape (`serviceName` + `name`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PermissionView {
    /// How the CLI and `policies` name it: `orders.read`, or a Platform name such as `notifications`.
    permission: String,
    /// `Platform` for the built-in permissions.
    service_name: String,
    name: String,
    display_name: String,
    description: Option<String>,
    /// One of Trustgate's Platform permissions, which no catalog file can remove.
    built_in: bool,
}

/// A route rule: which permission a request through the gateway needs.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RouteView {
    /// An HTTP method, or `*` for any.
    method: String,
    /// Literal segments, `{param}` segments, and an optional final `/*`.
    path: String,
    permission: String,
    /// Where the request names its customer: `header` (`Citrix-CustomerId`) or `path:{name}`.
    customer: String,
}

impl From<&Catalog> for CatalogView {
    fn from(catalog: &Catalog) -> Self {
        let services = catalog
            .services()
            .iter()
            .map(|s| ServiceView {
                name: s.name.to_string(),
                display_name: s.display_name.clone(),
                description: s.description.clone(),
            })
            .collect();
        let permissions = catalog
            .entries()
            .map(|e| PermissionView {
                permission: e.permission.to_string(),
                service_name: e.permission.service_name().to_owned(),
                name: e.permission.name().to_owned(),
                built_in: matches!(e.permission, Permission::Platform(_)),
                display_name: e.display_name,
                description: e.description,
            })
            .collect();
        let routes = catalog
            .routes()
            .iter()
            .map(|r| RouteView {
                method: r.method.to_string(),
                path: r.pattern.to_string(),
                permission: r.permission.to_string(),
                customer: r.customer.to_string(),
            })
            .collect();
        Self { services, permissions, routes }
    }
}
