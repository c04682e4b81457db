//! PATCH (RFC 7644 §3.5.2) applied to the stored User document: `add`, `replace` and `remove`,
//! with or without a `path`, paths of the forms `attr`, `attr.sub`, `attr[filter]` and
//! `attr[filter].sub` (filters `sub eq "…"`), and extension URNs. Operation names are taken in
//! any case (Entra ID sends `Replace`). The result is read again as a whole User, so every rule
//! of a PUT holds after a PATCH.

use serde_json::{Map, Value};

use super::error::ScimError;
use super::resource::{attribute_name, boolean, key_of};

/// Most operations one PATCH may carry.
const MAX_OPERATIONS: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Add,
    Replace,
    Remove,
}

/// Where in the document a path points.
struct Target {
    /// The top-level attribute, or an extension's URN.
    attribute: String,
    /// Inside an extension: its attribute.
    extension_attribute: Option<String>,
    /// `[sub eq "value"]`
    filter: Option<(String, Value)>,
    sub: Option<String>,
}

fn invalid_path(path: &str) -> ScimError {
    ScimError::bad_request("invalidPath", format!("the path {path:?} is not supported"))
}

fn parse_path(path: &str) -> Result<Target, ScimError> {
    let trimmed = attribute_name(path);
    // An extension attribute: `urn:…:User:department`.
    let (attribute, extension_attribute, rest) = if trimmed.to_ascii_lowercase().starts_with("urn:") {
        let (urn, attr) = trimmed.rsplit_once(':').ok_or_else(|| invalid_path(path))?;
        (urn.to_owned(), Some(attr.to_owned()), "")
    } else {
        let end = trimmed.find(['[', '.']).unwrap_or(trimmed.len());
        (trimmed[..end].to_owned(), None, &trimmed[end..])
    };
    if attribute.is_empty() || attribute.contains(char::is_whitespace) {
        return Err(invalid_path(path));
    }
    let (filter, rest) = match rest.strip_prefix('[') {
        Some(inner) => {
            let (filter, after) = inner.split_once(']').ok_or_else(|| invalid_path(path))?;
            let mut parts = filter.trim().splitn(3, char::is_whitespace);
            let (Some(sub), Some(op), Some(value)) = (parts.next(), parts.next(), parts.next()) else {
                return Err(invalid_path(path));
            };
            if !op.eq_ignore_ascii_case("eq") {
                return Err(ScimError::bad_request("invalidFilter", "only eq filters are supported in a path"));
            }
            let value: Value = serde_json::from_str(value.trim()).map_err(|_| invalid_path(path))?;
            (Some((sub.to_owned(), value)), after)
        }
        None => (None, rest),
    };
    let sub = match rest {
        "" => None,
        rest => Some(
            rest.strip_prefix('.')
                .filter(|s| !s.is_empty() && !s.contains(['.', '[']))
                .ok_or_else(|| invalid_path(path))?
                .to_owned(),
        ),
    };
    Ok(Target { attribute, extension_attribute, filter, sub })
}

/// Applies the PATCH request `body` to `document`.
pub fn apply(document: &mut Value, body: &Value) -> Result<(), ScimError> {
    let operations = body
        .as_object()
        .and_then(|o| o.get(&key_of(o, "Operations")))
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::bad_request("invalidSyntax", "a PATCH body holds an Operations list"))?;
    if operations.len() > MAX_OPERATIONS {
        return Err(ScimError::bad_request("tooMany", format!("at most {MAX_OPERATIONS} operations per PATCH")));
    }
    let Value::Object(root) = document else {
        return Err(ScimError::bad_request("invalidSyntax", "the resource is not an object"));
    };
    for operation in operations {
        let operation = operation
            .as_object()
            .ok_or_else(|| ScimError::bad_request("invalidSyntax", "each operation is an object"))?;
        let op = match operation
            .get(&key_of(operation, "op"))
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("add") => Op::Add,
            Some("replace") => Op::Replace,
            Some("remove") => Op::Remove,
            _ => return Err(ScimError::bad_request("invalidSyntax", "op must be add, replace or remove")),
        };
        let path = operation.get(&key_of(operation, "path")).and_then(Value::as_str).filter(|p| !p.trim().is_empty());
        let value = operation.get(&key_of(operation, "value")).cloned();
        match (op, path, value) {
            (Op::Remove, None, _) => {
                return Err(ScimError::bad_request("noTarget", "remove needs a path"));
            }
            (Op::Remove, Some(path), _) => remove(root, &parse_path(path)?)?,
            (_, _, None) => return Err(ScimError::bad_request("invalidValue", "add and replace need a value")),
            (op, None, Some(Value::Object(values))) => {
                for (name, value) in values {
                    let target = parse_path(&name)?;
                    set(root, &target, value, op)?;
                }
            }
            (_, None, Some(_)) => {
                return Err(ScimError::bad_request(
                    "invalidValue",
                    "without a path, the value is an object of attributes",
                ));
            }
            (op, Some(path), Some(value)) => set(root, &parse_path(path)?, value, op)?,
        }
    }
    Ok(())
}

/// The object that holds the target's attribute: the resource, or the extension's object.
fn holder<'a>(
    root: &'a mut Map<String, Value>,
    target: &Target,
) -> Result<(&'a mut Map<String, Value>, String), ScimError> {
    match &target.extension_attribute {
        None => {
            let key = key_of(root, &target.attribute);
            Ok((root, key))
        }
        Some(attribute) => {
            let urn = key_of(root, &target.attribute);
            let extension = root.entry(urn).or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(extension) = extension else {
                return Err(ScimError::bad_request("invalidPath", "the extension is not an object"));
            };
            let key = key_of(extension, attribute);
            Ok((extension, key))
        }
    }
}

fn matches(element: &Value, filter: &(String, Value)) -> bool {
    let Some(object) = element.as_object() else { return false };
    let Some(found) = object.get(&key_of(object, &filter.0)) else { return false };
    match (found, &filter.1) {
        (Value::String(a), Value::String(b)) => a.eq_ignore_ascii_case(b),
        (a, b) => a == b || boolean(a).is_some() && boolean(a) == boolean(b),
    }
}

fn set(root: &mut Map<String, Value>, target: &Target, value: Value, op: Op) -> Result<(), ScimError> {
    if target.attribute.eq_ignore_ascii_case("id") || target.attribute.eq_ignore_ascii_case("meta") {
        return Err(ScimError::bad_request("mutability", format!("{} is read-only", target.attribute)));
    }
    let (object, key) = holder(root, target)?;
    match (&target.filter, &target.sub) {
        (None, None) => {
            let existing = object.get_mut(&key);
            match (op, existing, value) {
                (Op::Add, Some(Value::Array(items)), Value::Array(new)) => {
                    for item in new {
                        if !items.contains(&item) {
                            items.push(item);
                        }
                    }
                }
                (Op::Add, Some(Value::Object(existing)), Value::Object(new)) => existing.extend(new),
                (_, _, value) => {
                    object.insert(key, value);
                }
            }
        }
        (None, Some(sub)) => {
            let parent = object.entry(key).or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(parent) = parent else {
                return Err(ScimError::bad_request(
                    "invalidPath",
                    format!("{} has no sub-attributes", target.attribute),
                ));
            };
            let sub = key_of(parent, sub);
            parent.insert(sub, value);
        }
        (Some(filter), sub) => {
            let Some(Value::Array(items)) = object.get_mut(&key) else {
                return Err(ScimError::bad_request(
                    "noTarget",
                    format!("{} has no values to filter", target.attribute),
                ));
            };
            let mut found = false;
            for item in items.iter_mut().filter(|i| matches(i, filter)) {
                found = true;
                match (sub, item, &value) {
                    (Some(sub), Value::Object(element), value) => {
                        let sub = key_of(element, sub);
                        element.insert(sub, value.clone());
                    }
                    (None, Value::Object(element), Value::Object(new)) => element.extend(new.clone()),
                    (None, item, value) => *item = value.clone(),
                    (Some(_), _, _) => {}
                }
            }
            if !found {
                return Err(ScimError::bad_request(
                    "noTarget",
                    format!("no value of {} matches the filter", target.attribute),
                ));
            }
        }
    }
    Ok(())
}

fn remove(root: &mut Map<String, Value>, target: &Target) -> Result<(), ScimError> {
    let (object, key) = holder(root, target)?;
    match (&target.filter, &target.sub) {
        (None, None) => {
            object.remove(&key);
        }
        (None, Some(sub)) => {
            if let Some(Value::Object(parent)) = object.get_mut(&key) {
                let sub = key_of(parent, sub);
                parent.remove(&sub);
            }
        }
        (Some(filter), None) => {
            if let Some(Value::Array(items)) = object.get_mut(&key) {
                items.retain(|i| !matches(i, filter));
            }
        }
        (Some(filter), Some(sub)) => {
            if let Some(Value::Array(items)) = object.get_mut(&key) {
                for item in items.iter_mut().filter(|i| matches(i, filter)) {
                    if let Value::Object(element) = item {
                        let sub = key_of(element, sub);
                        element.remove(&sub);
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

    fn patched(document: Value, operations: Value) -> Result<Value, ScimError> {
        let mut document = document;
        apply(&mut document, &json!({"schemas": [PATCH_SCHEMA], "Operations": operations}))?;
        Ok(document)
    }

    #[test]
    fn entra_and_okta_deactivations_both_apply() {
        let user = json!({"userName": "a", "active": true});
        let entra = patched(user.clone(), json!([{"op": "Replace", "path": "active", "value": "False"}]));
        assert_eq!(entra.ok().map(|d| d["active"].clone()), Some(json!("False")));
        let okta = patched(user, json!([{"op": "replace", "value": {"active": false}}]));
        assert_eq!(okta.ok().map(|d| d["active"].clone()), Some(json!(false)));
    }

    #[test]
    fn filtered_paths_reach_the_matching_values_only() {
        let user = json!({"emails": [{"type": "work", "value": "a@x"}, {"type": "home", "value": "b@x"}]});
        let done =
            patched(user.clone(), json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "c@x"}]));
        assert_eq!(done.ok().map(|d| d["emails"][0]["value"].clone()), Some(json!("c@x")));
        let removed = patched(user.clone(), json!([{"op": "remove", "path": "emails[type eq \"home\"]"}]));
        assert_eq!(removed.ok().map(|d| d["emails"].as_array().map(Vec::len)), Some(Some(1)));
        let missing =
            patched(user, json!([{"op": "replace", "path": "emails[type eq \"other\"].value", "value": "x"}]));
        assert_eq!(missing.err().and_then(|e| e.scim_type), Some("noTarget"));
    }

    #[test]
    fn remove_needs_a_path_and_ids_are_read_only() {
        assert_eq!(patched(json!({}), json!([{"op": "remove"}])).err().and_then(|e| e.scim_type), Some("noTarget"));
        let id = patched(json!({}), json!([{"op": "replace", "path": "id", "value": "x"}]));
        assert_eq!(id.err().and_then(|e| e.scim_type), Some("mutability"));
    }
}
