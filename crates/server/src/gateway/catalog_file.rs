//! The operator's catalog file (TOML, docs/catalog.md): `[[service]]`, `[[permission]]` and
//! `[[route]]` tables, read into a [`Catalog`]. Every error names the line of the table (or
//! value) it is about, so an operator finds it in their own file; unknown keys are refused, since
//! a misspelt `customer` would otherwise silently fall back to the header.

use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;
use trustgate_core::access::{Permission, PolicyName};
use trustgate_core::catalog::{
    Catalog, CustomerPlace, MethodRule, PathPattern, PermissionEntry, Place, RouteRule, Service,
};
use trustgate_core::ValidationError;

/// Why a catalog file was refused, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
pub struct CatalogFileError {
    /// 1-based line in the file, when the error is about one place.
    pub line: Option<usize>,
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    service: Vec<Spanned<ServiceTable>>,
    #[serde(default)]
    permission: Vec<Spanned<PermissionTable>>,
    #[serde(default)]
    route: Vec<Spanned<RouteTable>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceTable {
    name: String,
    display_name: String,
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PermissionTable {
    service: String,
    name: String,
    display_name: String,
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteTable {
    method: String,
    path: String,
    permission: String,
    customer: Option<String>,
}

/// Reads a catalog file, with every check [`Catalog::new`] makes.
pub fn parse(text: &str) -> Result<Catalog, CatalogFileError> {
    let file: File = toml::from_str(text).map_err(|e| CatalogFileError {
        line: e.span().map(|span| line_of(text, span.start)),
        message: e.message().trim_end().to_owned(),
    })?;
    let at = |span: Range<usize>| {
        move |e: ValidationError| CatalogFileError { line: Some(line_of(text, span.start)), message: e.to_string() }
    };
    let mut services = Vec::with_capacity(file.service.len());
    for table in &file.service {
        let t = table.get_ref();
        services.push(Service {
            name: PolicyName::parse("service name", &t.name).map_err(at(table.span()))?,
            display_name: display_name(&t.display_name).map_err(at(table.span()))?,
            description: description(t.description.as_deref()),
        });
    }
    let mut permissions = Vec::with_capacity(file.permission.len());
    for table in &file.permission {
        let t = table.get_ref();
        if t.service.trim().eq_ignore_ascii_case(trustgate_core::access::PLATFORM_SERVICE) {
            return Err(at(table.span())(ValidationError::invalid(
                "service",
                "the Platform permissions are built in and cannot be declared",
            )));
        }
        permissions.push(PermissionEntry {
            permission: Permission::of(&t.service, &t.name).map_err(at(table.span()))?,
            display_name: display_name(&t.display_name).map_err(at(table.span()))?,
            description: description(t.description.as_deref()),
        });
    }
    let mut routes = Vec::with_capacity(file.route.len());
    for table in &file.route {
        let t = table.get_ref();
        routes.push(RouteRule {
            method: MethodRule::parse(&t.method).map_err(at(table.span()))?,
            pattern: PathPattern::parse(&t.path).map_err(at(table.span()))?,
            permission: Permission::parse(&t.permission).map_err(at(table.span()))?,
            customer: match &t.customer {
                Some(place) => CustomerPlace::parse(place).map_err(at(table.span()))?,
                None => CustomerPlace::Header,
            },
        });
    }
    Catalog::new(services, permissions, routes).map_err(|e| {
        let span = match e.place {
            Place::Service(i) => file.service.get(i).map(Spanned::span),
            Place::Permission(i) => file.permission.get(i).map(Spanned::span),
            Place::Route(i) => file.route.get(i).map(Spanned::span),
        };
        CatalogFileError { line: span.map(|s| line_of(text, s.start)), message: e.message }
    })
}

const TEXT_MAX: usize = 200;

fn display_name(text: &str) -> Result<String, ValidationError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ValidationError::missing("display_name"));
    }
    if text.chars().count() > TEXT_MAX {
        return Err(ValidationError::too_long("display_name", TEXT_MAX));
    }
    Ok(text.to_owned())
}

fn description(text: Option<&str>) -> Option<String> {
    text.map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned)
}

/// The 1-based line of byte `offset`.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())].iter().filter(|b| **b == b'\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORDERS: &str = r#"
[[service]]
name = "orders"
display_name = "Orders"

[[permission]]
service = "orders"
name = "read"
display_name = "Read orders"

[[route]]
method = "GET"
path = "/orders/{id}"
permission = "orders.read"

[[route]]
method = "*"
path = "/orders/*"
permission = "orders.read"
customer = "path:{id}"
"#;

    #[test]
    fn an_overlap_is_refused_naming_the_line_of_its_route() {
        let error = parse(&ORDERS.replace("customer = \"path:{id}\"\n", "")).unwrap_err();
        assert_eq!(error.line, Some(16), "{error}");
        assert!(error.to_string().starts_with("line 16: "), "{error}");
        assert!(error.message.contains("overlaps"), "{error}");
    }

    #[test]
    fn a_file_reads_into_its_catalog() {
        let text = ORDERS.replace("path = \"/orders/*\"", "path = \"/c/{id}/orders\"");
        let catalog = parse(&text).unwrap();
        assert_eq!(catalog.services().len(), 1);
        assert_eq!(catalog.routes()[1].customer, CustomerPlace::PathParam("id".to_owned()));
        assert_eq!(catalog.routes()[0].customer, CustomerPlace::Header);
        assert_eq!(parse("").unwrap(), Catalog::builtin());
    }

    #[test]
    fn unknown_keys_and_bad_names_are_refused_with_their_line() {
        let misspelt = ORDERS.replace("customer = ", "custumer = ");
        let error = parse(&misspelt).unwrap_err();
        assert!(error.message.contains("custumer"), "{error}");
        assert_eq!(error.line, Some(20), "{error}");
        let unplaced = parse(ORDERS).unwrap_err();
        assert!(unplaced.message.contains("{id} is not in the path"), "{unplaced}");
        assert_eq!(unplaced.line, Some(16), "{unplaced}");
        let bad = ORDERS.replace("name = \"read\"", "name = \"re ad\"");
        assert_eq!(parse(&bad).unwrap_err().line, Some(6));
        let platform = ORDERS.replace("name = \"orders\"", "name = \"Platform\"");
        assert_eq!(parse(&platform).unwrap_err().line, Some(2));
    }
}
