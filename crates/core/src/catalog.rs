//! The permission catalog: Trustgate's Platform permissions plus the services, permissions and route
//! rules an operator declares for their own APIs, and the one decision of which permission a proxied
//! request needs.
//!
//! Route rules may not overlap, so a request matches at most one rule and the order of rules in the
//! operator's file never changes a decision.

use std::fmt;

use crate::access::{Access, Permission, Platform, PolicyName, PLATFORM_SERVICE};
use crate::validate::ValidationError;

/// A service of the operator's platform (`serviceName` of its permissions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub name: PolicyName,
    pub display_name: String,
    pub description: Option<String>,
}

/// A permission the catalog offers, with the texts the console and the Administrators API show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionEntry {
    pub permission: Permission,
    pub display_name: String,
    pub description: Option<String>,
}

/// The HTTP method a rule applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MethodRule {
    Any,
    Only(String),
}

impl MethodRule {
    /// `*` or `ANY` for every method, otherwise an HTTP method token (upper-cased).
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let text = text.trim();
        if text == "*" || text.eq_ignore_ascii_case("any") {
            return Ok(MethodRule::Any);
        }
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(ValidationError::invalid("method", format!("{text:?} is not an HTTP method")));
        }
        Ok(MethodRule::Only(text.to_ascii_uppercase()))
    }

    fn admits(&self, method: &str) -> bool {
        match self {
            MethodRule::Any => true,
            MethodRule::Only(m) => m.eq_ignore_ascii_case(method),
        }
    }

    fn overlaps(&self, other: &MethodRule) -> bool {
        match (self, other) {
            (MethodRule::Only(a), MethodRule::Only(b)) => a == b,
            _ => true,
        }
    }
}

impl fmt::Display for MethodRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MethodRule::Any => f.write_str("*"),
            MethodRule::Only(m) => f.write_str(m),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
}

/// A path pattern: literal segments, `{name}` segments that match any one segment, and an optional
/// final `*` that matches any rest of the path, including none (`/reports/*` matches `/reports`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPattern {
    segments: Vec<Segment>,
    rest: bool,
}

impl PathPattern {
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let text = text.trim();
        let Some(body) = text.strip_prefix('/') else {
            return Err(ValidationError::invalid("path", format!("{text:?} must start with '/'")));
        };
        let mut parts: Vec<&str> = if body.is_empty() { Vec::new() } else { body.split('/').collect() };
        let rest = parts.last() == Some(&"*");
        if rest {
            parts.pop();
        }
        let mut segments = Vec::with_capacity(parts.len());
        for part in parts {
            segments.push(Self::segment(text, part)?);
        }
        let mut names: Vec<&str> = segments
            .iter()
            .filter_map(|s| match s {
                Segment::Param(n) => Some(n.as_str()),
                Segment::Literal(_) => None,
            })
            .collect();
        names.sort_unstable();
        if names.windows(2).any(|w| w[0] == w[1]) {
            return Err(ValidationError::invalid("path", format!("{text:?} names a parameter twice")));
        }
        Ok(Self { segments, rest })
    }

    fn segment(pattern: &str, part: &str) -> Result<Segment, ValidationError> {
        if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(ValidationError::invalid("path", format!("{pattern:?}: bad parameter {part:?}")));
            }
            return Ok(Segment::Param(name.to_owned()));
        }
        if part.is_empty() || part == "." || part == ".." {
            return Err(ValidationError::invalid("path", format!("{pattern:?} has an empty or dot segment")));
        }
        if part.contains(['{', '}', '*', '%', '?', '#', '\\']) {
            return Err(ValidationError::invalid(
                "path",
                format!("{pattern:?}: segment {part:?} may not hold '{{', '}}', '*', '%', '?', '#' or '\\'"),
            ));
        }
        Ok(Segment::Literal(part.to_owned()))
    }

    fn has_param(&self, name: &str) -> bool {
        self.segments.iter().any(|s| matches!(s, Segment::Param(n) if n == name))
    }

    /// Whether some path matches both patterns.
    fn overlaps(&self, other: &PathPattern) -> bool {
        let shared_fit = self.segments.iter().zip(&other.segments).all(|pair| match pair {
            (Segment::Literal(a), Segment::Literal(b)) => a == b,
            _ => true,
        });
        let (mine, theirs) = (self.segments.len(), other.segments.len());
        shared_fit && (mine == theirs || (mine < theirs && self.rest) || (theirs < mine && other.rest))
    }

    /// The parameters bound by a match of `segments`, or `None` when the path does not match.
    fn bind<'p>(&self, segments: &[&'p str]) -> Option<Vec<(&str, &'p str)>> {
        let fits = segments.len() == self.segments.len() || (self.rest && segments.len() > self.segments.len());
        if !fits {
            return None;
        }
        let mut bound = Vec::new();
        for (pattern, actual) in self.segments.iter().zip(segments) {
            match pattern {
                Segment::Literal(l) if l == actual => {}
                Segment::Literal(_) => return None,
                Segment::Param(name) => bound.push((name.as_str(), *actual)),
            }
        }
        Some(bound)
    }
}

impl fmt::Display for PathPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for segment in &self.segments {
            match segment {
                Segment::Literal(l) => write!(f, "/{l}")?,
                Segment::Param(p) => write!(f, "/{{{p}}}")?,
            }
        }
        match (self.rest, self.segments.is_empty()) {
            (true, _) => f.write_str("/*"),
            (false, true) => f.write_str("/"),
            (false, false) => Ok(()),
        }
    }
}

/// Where a proxied request names its customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomerPlace {
    /// The `Citrix-CustomerId` header, as Citrix's own APIs take it.
    Header,
    /// A `{name}` segment of the rule's path.
    PathParam(String),
}

/// Method plus path pattern → the one permission a request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteRule {
    pub method: MethodRule,
    pub pattern: PathPattern,
    pub permission: Permission,
    pub customer: CustomerPlace,
}

/// What a request that matched a rule needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch<'c> {
    pub rule: &'c RouteRule,
    /// The customer id taken from the path, when the rule places it there.
    pub path_customer: Option<String>,
}

/// The part of a catalog an error is about, by position in what the operator wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Service(usize),
    Permission(usize),
    Route(usize),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CatalogError {
    pub place: Place,
    pub message: String,
}

impl CatalogError {
    fn at(place: Place, message: impl Into<String>) -> Self {
        Self { place, message: message.into() }
    }
}

/// The whole catalog. Build it with [`Catalog::new`], which refuses anything ambiguous.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    services: Vec<Service>,
    permissions: Vec<PermissionEntry>,
    routes: Vec<RouteRule>,
}

impl Default for Catalog {
    fn default() -> Self {
        Self::builtin()
    }
}

impl Catalog {
    /// Only Trustgate's own Platform permissions: the catalog before an operator applies one.
    pub fn builtin() -> Self {
        Self { services: Vec::new(), permissions: Vec::new(), routes: Vec::new() }
    }

    /// Checks an operator's declarations: unique services (never `Platform`), permissions of declared
    /// services, unique permissions, routes needing a known permission, customer parameters present
    /// in their paths, and no two routes that one request could match.
    pub fn new(
        services: Vec<Service>,
        permissions: Vec<PermissionEntry>,
        routes: Vec<RouteRule>,
    ) -> Result<Self, CatalogError> {
        for (i, service) in services.iter().enumerate() {
            if service.name.as_str().eq_ignore_ascii_case(PLATFORM_SERVICE) {
                return Err(CatalogError::at(
                    Place::Service(i),
                    "the Platform service is built in and cannot be declared",
                ));
            }
            if services[..i].iter().any(|s| s.name.as_str().eq_ignore_ascii_case(service.name.as_str())) {
                return Err(CatalogError::at(Place::Service(i), format!("service {} is declared twice", service.name)));
            }
        }
        for (i, entry) in permissions.iter().enumerate() {
            let Permission::Service { service, .. } = &entry.permission else {
                return Err(CatalogError::at(Place::Permission(i), "Platform permissions are built in"));
            };
            if !services.iter().any(|s| &s.name == service) {
                return Err(CatalogError::at(Place::Permission(i), format!("service {service} is not declared")));
            }
            if permissions[..i].iter().any(|e| e.permission == entry.permission) {
                return Err(CatalogError::at(
                    Place::Permission(i),
                    format!("permission {} is declared twice", entry.permission),
                ));
            }
        }
        for (i, rule) in routes.iter().enumerate() {
            let known = match &rule.permission {
                Permission::Platform(_) => true,
                p => permissions.iter().any(|e| &e.permission == p),
            };
            if !known {
                return Err(CatalogError::at(
                    Place::Route(i),
                    format!("permission {} is not declared", rule.permission),
                ));
            }
            if let CustomerPlace::PathParam(name) = &rule.customer {
                if !rule.pattern.has_param(name) {
                    return Err(CatalogError::at(
                        Place::Route(i),
                        format!("the customer parameter {{{name}}} is not in the path {}", rule.pattern),
                    ));
                }
            }
            if let Some(j) = routes[..i]
                .iter()
                .position(|earlier| earlier.method.overlaps(&rule.method) && earlier.pattern.overlaps(&rule.pattern))
            {
                let earlier = &routes[j];
                return Err(CatalogError::at(
                    Place::Route(i),
                    format!(
                        "{} {} overlaps {} {} (route {}): a request could match both",
                        rule.method,
                        rule.pattern,
                        earlier.method,
                        earlier.pattern,
                        j + 1
                    ),
                ));
            }
        }
        Ok(Self { services, permissions, routes })
    }

    pub fn services(&self) -> &[Service] {
        &self.services
    }

    /// Every permission on offer: the Platform ones first, then the operator's in their order.
    pub fn entries(&self) -> impl Iterator<Item = PermissionEntry> + '_ {
        Platform::ALL
            .into_iter()
            .map(|p| PermissionEntry {
                permission: p.into(),
                display_name: p.display_name().to_owned(),
                description: None,
            })
            .chain(self.permissions.iter().cloned())
    }

    /// The operator's own permissions, without the built-in ones.
    pub fn declared(&self) -> &[PermissionEntry] {
        &self.permissions
    }

    pub fn routes(&self) -> &[RouteRule] {
        &self.routes
    }

    pub fn offers(&self, permission: &Permission) -> bool {
        match permission {
            Permission::Platform(_) => true,
            p => self.permissions.iter().any(|e| &e.permission == p),
        }
    }

    /// What `access` holds now: with Full, every permission the catalog offers.
    pub fn granted(&self, access: &Access) -> Vec<Permission> {
        match access {
            Access::Full => self.entries().map(|e| e.permission).collect(),
            Access::Custom(set) => set.iter().cloned().collect(),
        }
    }

    /// The name people read for a permission; one the catalog no longer offers shows its stored form.
    pub fn display_name(&self, permission: &Permission) -> String {
        match permission {
            Permission::Platform(p) => p.display_name().to_owned(),
            p => self
                .permissions
                .iter()
                .find(|e| &e.permission == p)
                .map_or_else(|| p.to_string(), |e| e.display_name.clone()),
        }
    }

    /// Parses a permission given by a caller and checks that the catalog offers it.
    pub fn resolve(&self, text: &str) -> Result<Permission, ValidationError> {
        let permission = Permission::parse(text)?;
        self.known(permission)
    }

    /// Checks a `serviceName` + `name` pair against the catalog.
    pub fn resolve_policy(&self, service: &str, name: &str) -> Result<Permission, ValidationError> {
        self.known(Permission::of(service, name)?)
    }

    /// Reads a policy sent back by a caller: with its `serviceName`, exactly that one; without, a
    /// Platform name (so scripts written before the operator's catalog keep working), else the
    /// one service that offers `name` (a stored `orders.read` form is read as such too).
    pub fn resolve_named(&self, service: Option<&str>, name: &str) -> Result<Permission, ValidationError> {
        if let Some(service) = service.map(str::trim).filter(|s| !s.is_empty()) {
            return self.resolve_policy(service, name);
        }
        let name = name.trim();
        if name.contains('.') || Platform::find(name).is_some() {
            return self.resolve(name);
        }
        let mut offering = self.permissions.iter().filter(|e| e.permission.name() == name);
        match (offering.next(), offering.next()) {
            (Some(only), None) => Ok(only.permission.clone()),
            (Some(_), Some(_)) => {
                let services: Vec<&str> = self
                    .permissions
                    .iter()
                    .filter(|e| e.permission.name() == name)
                    .map(|e| e.permission.service_name())
                    .collect();
                Err(ValidationError::invalid(
                    "policies",
                    format!(
                        "policy {name} is offered by several services ({}); give its serviceName",
                        services.join(", ")
                    ),
                ))
            }
            (None, _) => Err(self.unknown(name)),
        }
    }

    fn known(&self, permission: Permission) -> Result<Permission, ValidationError> {
        if self.offers(&permission) {
            Ok(permission)
        } else {
            Err(self.unknown(&permission.to_string()))
        }
    }

    /// A name outside the catalog is a value outside a closed set: Citrix's `invalidEnum`.
    fn unknown(&self, name: &str) -> ValidationError {
        ValidationError {
            field: "policies",
            kind: "invalidEnum",
            detail: format!("the catalog has no permission {name}; offered: {}", self.offered_list()),
        }
    }

    fn offered_list(&self) -> String {
        self.entries().map(|e| e.permission.to_string()).collect::<Vec<_>>().join(", ")
    }

    /// The rule a request matches, if any. `path` is the request target as the proxy passed it: the
    /// query is ignored, and paths that a server could read differently from how they are written
    /// here (dot segments, empty segments, percent-encoded or back slashes and dots) match nothing,
    /// so they are refused rather than guessed at.
    pub fn match_request(&self, method: &str, path: &str) -> Option<RouteMatch<'_>> {
        let path = path.split(['?', '#']).next().unwrap_or_default();
        let body = path.strip_prefix('/')?;
        // One trailing slash matches the rule written without it: Citrix SDKs add one (issue #22).
        let body = match body.strip_suffix('/') {
            Some(trimmed) if !trimmed.is_empty() => trimmed,
            _ => body,
        };
        let segments: Vec<&str> = if body.is_empty() { Vec::new() } else { body.split('/').collect() };
        let suspicious = |s: &&str| {
            s.is_empty() || *s == "." || *s == ".." || s.contains('\\') || {
                let lower = s.to_ascii_lowercase();
                lower.contains("%2f") || lower.contains("%5c") || lower.contains("%2e") || lower.contains("%00")
            }
        };
        if segments.iter().any(suspicious) {
            return None;
        }
        // HEAD follows GET, as HTTP servers answer it (RFC 9110 §9.3.2), unless a rule names HEAD.
        let exact = self.routes.iter().filter(|r| r.method.admits(method));
        let as_get = self
            .routes
            .iter()
            .filter(|r| method.eq_ignore_ascii_case("HEAD") && !r.method.admits(method) && r.method.admits("GET"));
        exact.chain(as_get).find_map(|rule| {
            let bound = rule.pattern.bind(&segments)?;
            let path_customer = match &rule.customer {
                CustomerPlace::Header => None,
                CustomerPlace::PathParam(name) => {
                    bound.iter().find(|(n, _)| n == name).map(|(_, value)| (*value).to_owned())
                }
            };
            Some(RouteMatch { rule, path_customer })
        })
    }
}

// ---- Text forms and differences, for the catalog file, its storage and `catalog apply` ----

impl CustomerPlace {
    /// `header`, or `path:{name}` (the braces are optional).
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("header") {
            return Ok(CustomerPlace::Header);
        }
        let param = text
            .strip_prefix("path:")
            .map(|p| p.trim())
            .map(|p| p.strip_prefix('{').and_then(|q| q.strip_suffix('}')).unwrap_or(p));
        match param {
            Some(name) if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') => {
                Ok(CustomerPlace::PathParam(name.to_owned()))
            }
            _ => Err(ValidationError::invalid(
                "customer",
                format!("{text:?} is neither \"header\" nor \"path:{{name}}\""),
            )),
        }
    }
}

impl fmt::Display for CustomerPlace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CustomerPlace::Header => f.write_str("header"),
            CustomerPlace::PathParam(name) => write!(f, "path:{{{name}}}"),
        }
    }
}

impl RouteRule {
    /// What names the rule in a difference: its method and path.
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.pattern)
    }
}

/// What became of one part of the catalog (services, permissions or routes), by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartDiff {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
}

impl PartDiff {
    fn of<T: PartialEq>(before: &[T], after: &[T], key: impl Fn(&T) -> String) -> Self {
        let mut diff = Self::default();
        for new in after {
            match before.iter().find(|old| key(old) == key(new)) {
                None => diff.added.push(key(new)),
                Some(old) if old != new => diff.changed.push(key(new)),
                Some(_) => {}
            }
        }
        diff.removed = before.iter().filter(|old| !after.iter().any(|new| key(new) == key(old))).map(&key).collect();
        diff
    }

    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// What applying a catalog changes, part by part. Only a reordering is no change at all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CatalogDiff {
    pub services: PartDiff,
    pub permissions: PartDiff,
    pub routes: PartDiff,
}

impl CatalogDiff {
    pub fn is_empty(&self) -> bool {
        self.services.is_empty() && self.permissions.is_empty() && self.routes.is_empty()
    }
}

impl Catalog {
    /// What changes when `after` replaces this catalog.
    pub fn diff(&self, after: &Catalog) -> CatalogDiff {
        CatalogDiff {
            services: PartDiff::of(&self.services, &after.services, |s| s.name.to_string()),
            permissions: PartDiff::of(&self.permissions, &after.permissions, |e| e.permission.to_string()),
            routes: PartDiff::of(&self.routes, &after.routes, RouteRule::key),
        }
    }

    /// The operator's permissions this catalog has and `after` does not.
    pub fn removed_by(&self, after: &Catalog) -> Vec<Permission> {
        self.permissions.iter().map(|e| e.permission.clone()).filter(|p| !after.offers(p)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(name: &str) -> Service {
        Service { name: PolicyName::parse("service", name).unwrap(), display_name: name.to_owned(), description: None }
    }

    fn entry(service: &str, name: &str) -> PermissionEntry {
        PermissionEntry {
            permission: Permission::of(service, name).unwrap(),
            display_name: name.to_owned(),
            description: None,
        }
    }

    fn route(method: &str, path: &str, permission: &str) -> RouteRule {
        RouteRule {
            method: MethodRule::parse(method).unwrap(),
            pattern: PathPattern::parse(path).unwrap(),
            permission: Permission::parse(permission).unwrap(),
            customer: CustomerPlace::Header,
        }
    }

    fn orders(routes: Vec<RouteRule>) -> Result<Catalog, CatalogError> {
        Catalog::new(vec![service("orders")], vec![entry("orders", "read"), entry("orders", "write")], routes)
    }

    #[test]
    fn a_policy_without_service_name_must_name_one_permission_of_the_catalog() {
        let catalog = Catalog::new(
            vec![service("orders"), service("billing")],
            vec![entry("orders", "read"), entry("orders", "write"), entry("billing", "read")],
            Vec::new(),
        )
        .unwrap();
        assert_eq!(catalog.resolve_named(None, "write").unwrap().to_string(), "orders.write");
        assert_eq!(catalog.resolve_named(None, "notifications").unwrap(), Permission::NOTIFICATIONS);
        assert_eq!(catalog.resolve_named(Some("billing"), "read").unwrap().to_string(), "billing.read");
        assert_eq!(catalog.resolve_named(None, "orders.read").unwrap().to_string(), "orders.read");
        let ambiguous = catalog.resolve_named(None, "read").unwrap_err();
        assert_eq!(ambiguous.field, "policies");
        assert!(ambiguous.detail.contains("orders, billing"), "{}", ambiguous.detail);
        assert!(catalog.resolve_named(None, "delete").unwrap_err().detail.contains("orders.write"));
        assert!(catalog.resolve_named(Some("billing"), "write").is_err());
    }

    #[test]
    fn a_request_needs_the_permission_of_the_one_rule_it_matches() {
        let catalog = orders(vec![
            route("GET", "/orders/{id}", "orders.read"),
            route("POST", "/orders", "orders.write"),
            route("GET", "/reports/*", "orders.read"),
        ])
        .unwrap();
        let need = |m: &str, p: &str| catalog.match_request(m, p).map(|m| m.rule.permission.to_string());
        assert_eq!(need("GET", "/orders/42?x=1").as_deref(), Some("orders.read"));
        assert_eq!(need("post", "/orders").as_deref(), Some("orders.write"));
        assert_eq!(need("GET", "/reports").as_deref(), Some("orders.read"));
        assert_eq!(need("GET", "/reports/2026/11").as_deref(), Some("orders.read"));
        assert_eq!(need("DELETE", "/orders/42"), None);
        assert_eq!(need("GET", "/orders/42/lines"), None);
        assert_eq!(need("GET", "/orders"), None);
    }

    #[test]
    fn one_trailing_slash_and_head_follow_the_rule_as_written() {
        let catalog = orders(vec![
            route("GET", "/orders", "orders.read"),
            route("GET", "/orders/{id}", "orders.read"),
            route("POST", "/orders", "orders.write"),
            route("HEAD", "/reports", "orders.write"),
            route("GET", "/reports", "orders.read"),
        ])
        .unwrap();
        let need = |m: &str, p: &str| catalog.match_request(m, p).map(|m| m.rule.permission.to_string());
        assert_eq!(need("GET", "/orders/").as_deref(), Some("orders.read"));
        assert_eq!(need("GET", "/orders/42/?x=1").as_deref(), Some("orders.read"));
        assert_eq!(need("POST", "/orders/").as_deref(), Some("orders.write"));
        assert_eq!(need("HEAD", "/orders").as_deref(), Some("orders.read"));
        assert_eq!(need("head", "/orders/42/").as_deref(), Some("orders.read"));
        // A rule naming HEAD wins over the GET rule it would otherwise follow.
        assert_eq!(need("HEAD", "/reports").as_deref(), Some("orders.write"));
        assert_eq!(need("GET", "/orders//"), None);
        assert_eq!(need("DELETE", "/orders/"), None);
        assert_eq!(need("OPTIONS", "/orders"), None);
    }

    #[test]
    fn paths_a_server_could_read_differently_match_nothing() {
        let catalog = orders(vec![route("GET", "/orders/*", "orders.read")]).unwrap();
        for path in
            ["/orders/../admin", "/orders//x", "/orders/%2e%2e/admin", "/orders/a%2Fb", "/orders/a\\b", "orders/1"]
        {
            assert_eq!(catalog.match_request("GET", path), None, "{path}");
        }
    }

    #[test]
    fn overlapping_rules_are_refused_naming_both() {
        let err =
            orders(vec![route("GET", "/orders/{id}", "orders.read"), route("*", "/orders/summary", "orders.write")])
                .unwrap_err();
        assert_eq!(err.place, Place::Route(1));
        assert!(err.message.contains("/orders/{id}"), "{}", err.message);
        assert!(
            orders(vec![route("GET", "/orders/*", "orders.read"), route("GET", "/orders/1/x", "orders.read")]).is_err()
        );
        assert!(orders(vec![route("GET", "/a/*", "orders.read"), route("GET", "/a", "orders.read")]).is_err());
        assert!(orders(vec![
            route("GET", "/orders/{id}", "orders.read"),
            route("PUT", "/orders/{id}", "orders.write")
        ])
        .is_ok());
        assert!(
            orders(vec![route("GET", "/orders/{id}", "orders.read"), route("GET", "/orders", "orders.read")]).is_ok()
        );
    }

    #[test]
    fn the_customer_can_come_from_a_path_segment() {
        let mut rule = route("GET", "/c/{customer}/orders", "orders.read");
        rule.customer = CustomerPlace::PathParam("customer".to_owned());
        let catalog = orders(vec![rule.clone()]).unwrap();
        let found = catalog.match_request("GET", "/c/acme/orders").unwrap();
        assert_eq!(found.path_customer.as_deref(), Some("acme"));
        rule.customer = CustomerPlace::PathParam("tenant".to_owned());
        assert_eq!(orders(vec![rule]).unwrap_err().place, Place::Route(0));
    }

    #[test]
    fn declarations_must_be_unique_and_refer_to_what_exists() {
        assert!(Catalog::new(vec![service("Platform")], vec![], vec![]).is_err());
        assert!(Catalog::new(vec![service("orders"), service("Orders")], vec![], vec![]).is_err());
        assert!(Catalog::new(vec![], vec![entry("orders", "read")], vec![]).is_err());
        assert_eq!(
            Catalog::new(vec![service("orders")], vec![entry("orders", "read"), entry("orders", "read")], vec![])
                .unwrap_err()
                .place,
            Place::Permission(1)
        );
        assert!(orders(vec![route("GET", "/x", "orders.delete")]).is_err());
        assert!(orders(vec![route("GET", "/x", "systemLog")]).is_ok());
    }

    #[test]
    fn the_catalog_offers_platform_permissions_and_its_own_only() {
        let catalog = orders(vec![]).unwrap();
        assert_eq!(catalog.resolve("orders.read"), Ok(Permission::of("orders", "read").unwrap()));
        assert_eq!(catalog.resolve("notifications"), Ok(Permission::NOTIFICATIONS));
        assert!(catalog.resolve("orders.delete").is_err());
        assert!(Catalog::builtin().resolve("orders.read").is_err());
        assert_eq!(catalog.entries().count(), Platform::ALL.len() + 2);
    }

    #[test]
    fn patterns_read_back_as_written() {
        for text in ["/", "/orders", "/orders/{id}", "/reports/*", "/*"] {
            assert_eq!(PathPattern::parse(text).unwrap().to_string(), text);
        }
        for bad in ["orders", "/a//b", "/a/../b", "/a/{}", "/a/{x}/{x}", "/a/*/b", "/a%2f"] {
            assert!(PathPattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_difference_names_what_was_added_removed_and_changed() {
        let before = orders(vec![route("GET", "/orders/{id}", "orders.read")]).unwrap();
        let mut changed = route("GET", "/orders/{id}", "orders.write");
        changed.customer = CustomerPlace::PathParam("id".to_owned());
        let after = Catalog::new(vec![service("orders")], vec![entry("orders", "write")], vec![changed]).unwrap();
        let diff = before.diff(&after);
        assert_eq!(diff.permissions.removed, ["orders.read"]);
        assert_eq!(diff.routes.changed, ["GET /orders/{id}"]);
        assert!(diff.services.is_empty());
        assert!(before.diff(&before).is_empty());
        assert_eq!(before.removed_by(&after), [Permission::of("orders", "read").unwrap()]);
    }

    #[test]
    fn customer_places_read_back_as_written() {
        for text in ["header", "path:{customer}"] {
            assert_eq!(CustomerPlace::parse(text).unwrap().to_string(), text);
        }
        assert_eq!(CustomerPlace::parse("path:tenant").unwrap(), CustomerPlace::PathParam("tenant".to_owned()));
        for bad in ["query", "path:", "path:{a-b}"] {
            assert!(CustomerPlace::parse(bad).is_err(), "{bad}");
        }
    }
}
