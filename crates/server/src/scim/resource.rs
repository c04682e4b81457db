//! The User resource (RFC 7643 §4.1) as Trustgate keeps it: what the provider wrote is stored as
//! written and returned as written, except the attributes Trustgate owns (`id`, `meta`) and the
//! ones that drive the rules (`userName`, `externalId`, `active`, the e-mail and display name).

use serde_json::{json, Map, Value};
use trustgate_core::admin::{parse_display_name, AdminStatus, Email};
use trustgate_store::{ScimUser, ScimUserWrite};

use super::error::ScimError;
use crate::platform::shapes::rfc3339;

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// Longest `userName`, `externalId` or other text value accepted.
const MAX_TEXT: usize = 256;

/// An attribute name without the core User schema's URN prefix.
pub fn attribute_name(path: &str) -> &str {
    let path = path.trim();
    match path.get(..USER_SCHEMA.len() + 1) {
        Some(prefix) if prefix.eq_ignore_ascii_case(&format!("{USER_SCHEMA}:")) => &path[USER_SCHEMA.len() + 1..],
        _ => path,
    }
}

/// The key of `object` that is `name` regardless of case (attribute names are case-insensitive).
pub fn key_of(object: &Map<String, Value>, name: &str) -> String {
    object.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned().unwrap_or_else(|| name.to_owned())
}

fn text<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object.get(&key_of(object, name)).filter(|v| !v.is_null())
}

fn bounded(field: &'static str, value: &Value) -> Result<String, ScimError> {
    let text = value
        .as_str()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ScimError::bad_request("invalidValue", format!("{field} must be a non-empty string")))?;
    if text.chars().count() > MAX_TEXT || text.chars().any(char::is_control) {
        return Err(ScimError::bad_request(
            "invalidValue",
            format!("{field} must be at most {MAX_TEXT} characters, none of them control characters"),
        ));
    }
    Ok(text.to_owned())
}

/// Entra ID sends booleans as the strings "True" and "False" in PATCH values.
pub fn boolean(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// Reads a User the provider wrote (POST, PUT, or the result of a PATCH).
pub fn parse_write(document: Value) -> Result<ScimUserWrite, ScimError> {
    let Value::Object(mut object) = document else {
        return Err(ScimError::bad_request("invalidSyntax", "the body must be a JSON object"));
    };
    for owned in ["id", "meta", "schemas"] {
        object.remove(&key_of(&object, owned));
    }
    let user_name = bounded(
        "userName",
        text(&object, "userName").ok_or_else(|| ScimError::bad_request("invalidValue", "userName is required"))?,
    )?;
    let external_id = text(&object, "externalId").map(|v| bounded("externalId", v)).transpose()?;
    // Absent (or removed by a PATCH), `active` means enabled, and stays absent in answers.
    let key = key_of(&object, "active");
    let active = match object.remove(&key).filter(|v| !v.is_null()) {
        None => true,
        Some(value) => {
            let active =
                boolean(&value).ok_or_else(|| ScimError::bad_request("invalidValue", "active must be a boolean"))?;
            object.insert(key, json!(active));
            active
        }
    };
    let email = primary_email(&object).or_else(|| Email::parse(&user_name).ok()).ok_or_else(|| {
        ScimError::bad_request("invalidValue", "emails must hold an e-mail address (or userName be one)")
    })?;
    let display_name = display_name(&object).unwrap_or_else(|| user_name.clone());
    let display_name = parse_display_name(&display_name.replace(['<', '>', ':', '/', '\\'], " "))
        .or_else(|_| parse_display_name(email.as_str().split('@').next().unwrap_or("administrator")))?;
    Ok(ScimUserWrite { user_name, external_id, email, display_name, active, document: Value::Object(object) })
}

fn primary_email(object: &Map<String, Value>) -> Option<Email> {
    let emails = text(object, "emails")?.as_array()?;
    let value = |e: &Value| e.as_object().and_then(|o| text(o, "value")).and_then(Value::as_str).map(str::to_owned);
    let primary =
        emails.iter().find(|e| e.as_object().and_then(|o| text(o, "primary")).and_then(boolean) == Some(true));
    primary.and_then(value).or_else(|| emails.iter().find_map(value)).and_then(|v| Email::parse(&v).ok())
}

fn display_name(object: &Map<String, Value>) -> Option<String> {
    if let Some(name) = text(object, "displayName").and_then(Value::as_str).filter(|n| !n.trim().is_empty()) {
        return Some(name.trim().chars().take(256).collect());
    }
    let name = text(object, "name")?.as_object()?;
    if let Some(formatted) = text(name, "formatted").and_then(Value::as_str).filter(|n| !n.trim().is_empty()) {
        return Some(formatted.trim().chars().take(256).collect());
    }
    let parts: Vec<&str> =
        ["givenName", "familyName"].iter().filter_map(|k| text(name, k).and_then(Value::as_str)).collect();
    (!parts.is_empty()).then(|| parts.join(" ").chars().take(256).collect())
}

/// The strong-looking but weak ETag of a version (`meta.version`, and the `ETag` header).
pub fn etag(version: &str) -> String {
    format!("W/\"{version}\"")
}

/// The version a request's `If-Match` names, if any (users and groups alike).
pub fn if_match(headers: &axum::http::HeaderMap) -> Option<String> {
    version_in(headers, axum::http::header::IF_MATCH)
}

/// Whether a request's `If-None-Match` names `version`: the client's copy is current (304).
pub fn not_modified(headers: &axum::http::HeaderMap, version: &str) -> bool {
    version_in(headers, axum::http::header::IF_NONE_MATCH).as_deref() == Some(version)
}

fn version_in(headers: &axum::http::HeaderMap, name: axum::http::HeaderName) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).and_then(version_of_etag)
}

/// The version an `If-Match` header names, weak or strong; `*` matches any.
pub fn version_of_etag(header: &str) -> Option<String> {
    let header = header.trim();
    if header == "*" {
        return None;
    }
    let tag = header.strip_prefix("W/").unwrap_or(header);
    Some(tag.trim_matches('"').to_owned())
}

/// The User as returned: the stored document with Trustgate's own attributes over it.
pub fn render(user: &ScimUser, location: &str) -> Value {
    let mut object = match &user.document {
        Value::Object(o) => o.clone(),
        _ => Map::new(),
    };
    let stated = object.remove(&key_of(&object, "active")).is_some();
    for owned in ["id", "meta", "schemas", "userName", "externalId"] {
        object.remove(&key_of(&object, owned));
    }
    object.insert("schemas".to_owned(), json!([USER_SCHEMA]));
    object.insert("id".to_owned(), json!(user.admin.id.to_string()));
    if let Some(external_id) = &user.external_id {
        object.insert("externalId".to_owned(), json!(external_id));
    }
    object.insert("userName".to_owned(), json!(user.user_name));
    // The status may have changed by another path (the CLI): a disabled administrator is always
    // shown so, an enabled one as the provider wrote it.
    let active = user.admin.status == AdminStatus::Active;
    if stated || !active {
        object.insert("active".to_owned(), json!(active));
    }
    object.insert(
        "meta".to_owned(),
        json!({
            "resourceType": "User",
            "created": rfc3339(user.created_at),
            "lastModified": rfc3339(user.updated_at),
            "location": location,
            "version": etag(&user.version),
        }),
    );
    Value::Object(object)
}

/// Which attributes a response carries (RFC 7644 §3.9): `attributes` keeps only those named
/// (and `id`, `schemas`, `meta`, always returned); `excludedAttributes` drops those named.
#[derive(Debug, Default)]
pub struct Projection {
    attributes: Vec<String>,
    excluded: Vec<String>,
}

impl Projection {
    pub fn new(attributes: Option<&str>, excluded: Option<&str>) -> Self {
        let list = |text: Option<&str>| {
            text.unwrap_or_default()
                .split(',')
                .map(|a| attribute_name(a).to_ascii_lowercase())
                .filter(|a| !a.is_empty())
                .collect::<Vec<_>>()
        };
        Self { attributes: list(attributes), excluded: list(excluded) }
    }

    pub fn apply(&self, resource: Value) -> Value {
        let Value::Object(object) = resource else { return resource };
        const ALWAYS: [&str; 3] = ["id", "schemas", "meta"];
        let mut kept = Map::new();
        for (key, value) in object {
            let lower = key.to_ascii_lowercase();
            if ALWAYS.contains(&lower.as_str()) {
                kept.insert(key, value);
                continue;
            }
            if self.excluded.contains(&lower) {
                continue;
            }
            let value = match self.excluded_subs(&lower) {
                subs if !subs.is_empty() => strip(value, &subs, false),
                _ => value,
            };
            if self.attributes.is_empty() || self.attributes.contains(&lower) {
                kept.insert(key, value);
                continue;
            }
            let subs = self.wanted_subs(&lower);
            if !subs.is_empty() {
                kept.insert(key, strip(value, &subs, true));
            }
        }
        Value::Object(kept)
    }

    fn wanted_subs(&self, parent: &str) -> Vec<String> {
        subs(&self.attributes, parent)
    }

    fn excluded_subs(&self, parent: &str) -> Vec<String> {
        subs(&self.excluded, parent)
    }
}

fn subs(list: &[String], parent: &str) -> Vec<String> {
    list.iter().filter_map(|a| a.strip_prefix(parent)?.strip_prefix('.').map(str::to_owned)).collect()
}

/// Keeps (or drops) the named sub-attributes of a complex value, or of each element of a list.
fn strip(value: Value, subs: &[String], keep: bool) -> Value {
    match value {
        Value::Object(o) => {
            Value::Object(o.into_iter().filter(|(k, _)| subs.contains(&k.to_ascii_lowercase()) == keep).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(|v| strip(v, subs, keep)).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_needs_a_user_name_and_an_email_and_active_may_be_a_string() {
        let write =
            parse_write(json!({"userName": "ada", "emails": [{"value": "Ada@Example.com"}], "active": "False"}));
        let write = write.ok().unwrap_or_else(|| unreachable!());
        assert_eq!(write.email.as_str(), "ada@example.com");
        assert!(!write.active);
        assert_eq!(write.display_name, "ada");
        assert!(parse_write(json!({"emails": [{"value": "a@b.c"}]})).is_err());
        assert!(parse_write(json!({"userName": "no-email"})).is_err());
        assert!(parse_write(json!({"userName": "grace@example.com"})).is_ok());
    }

    #[test]
    fn projections_keep_what_is_asked_and_always_the_id() {
        let user = json!({"id": "1", "userName": "a", "name": {"givenName": "A", "familyName": "B"}, "active": true});
        let only = Projection::new(Some("name.givenName"), None).apply(user.clone());
        assert_eq!(only, json!({"id": "1", "name": {"givenName": "A"}}));
        let without = Projection::new(None, Some("active,userName")).apply(user);
        assert_eq!(without, json!({"id": "1", "name": {"givenName": "A", "familyName": "B"}}));
    }
}
