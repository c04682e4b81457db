//! The Group resource (RFC 7643 §4.2) at `/Groups` (issue #25): groups of the customer's
//! administrators, as the identity provider keeps them. Members are the customer's provisioned
//! Users, by id. PATCH takes members the ways Entra ID and Okta send them: `add` and `remove` on
//! `members` with a list of `{"value": id}`, `remove` with the path `members[value eq "id"]`, and
//! `replace` of the whole list or of `displayName`/`externalId`, with or without a path.
//! What a group may do is not SCIM's to say: a Full administrator sets it (the Administrators API,
//! the console), and every change here applies to its members at once (R5, R6).

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};
use time::OffsetDateTime;
use trustgate_core::access::Access;
use trustgate_core::group::{parse_external_id, parse_group_name, AdminGroup};
use trustgate_core::ids::{AdminId, GroupId};
use trustgate_store::{GroupFilter, GroupWrite};

use super::auth::Provisioner;
use super::error::ScimError;
use super::resource::{self, key_of, Projection, LIST_SCHEMA};
use super::{base, number, scim, ScimBody, MAX_PAGE};
use crate::http::body::{PathParams, QueryParams};
use crate::platform::shapes::rfc3339;
use crate::state::AppState;

pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// Most member operations one PATCH may carry.
const MAX_OPERATIONS: usize = 100;

/// An attribute name without the core Group schema's URN prefix.
fn attribute_name(path: &str) -> &str {
    let path = path.trim();
    match path.get(..GROUP_SCHEMA.len() + 1) {
        Some(prefix) if prefix.eq_ignore_ascii_case(&format!("{GROUP_SCHEMA}:")) => &path[GROUP_SCHEMA.len() + 1..],
        _ => path,
    }
}

fn group_id(id: &str) -> Result<GroupId, ScimError> {
    GroupId::parse(id).map_err(|_| ScimError::not_found(format!("no Group {id}")))
}

fn location(state: &AppState, p: &Provisioner, id: GroupId) -> String {
    format!("{}/Groups/{id}", base(state, p))
}

fn member_id(member: &Value) -> Result<AdminId, ScimError> {
    let value =
        member.as_object().and_then(|o| o.get(&key_of(o, "value"))).and_then(Value::as_str).ok_or_else(|| {
            ScimError::bad_request("invalidValue", "each member is an object with a value (a User's id)")
        })?;
    AdminId::parse(value).map_err(|_| ScimError::bad_request("invalidValue", format!("no User {value}")))
}

/// Reads a Group the provider wrote (POST, PUT, or the result of a PATCH).
fn parse_write(document: Value) -> Result<GroupWrite, ScimError> {
    let Value::Object(mut object) = document else {
        return Err(ScimError::bad_request("invalidSyntax", "the body must be a JSON object"));
    };
    for owned in ["id", "meta", "schemas"] {
        object.remove(&key_of(&object, owned));
    }
    let name = object
        .get(&key_of(&object, "displayName"))
        .and_then(Value::as_str)
        .ok_or_else(|| ScimError::bad_request("invalidValue", "displayName is required"))?;
    let display_name = parse_group_name(name)?;
    let external_id = parse_external_id(object.get(&key_of(&object, "externalId")).and_then(Value::as_str))?;
    let members_key = key_of(&object, "members");
    let mut members = Vec::new();
    let mut kept = Vec::new();
    match object.remove(&members_key) {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for item in items {
                let id = member_id(&item)?;
                if !members.contains(&id) {
                    members.push(id);
                    kept.push(item);
                }
            }
        }
        Some(_) => return Err(ScimError::bad_request("invalidValue", "members must be a list")),
    }
    if !kept.is_empty() {
        object.insert(members_key, Value::Array(kept));
    }
    Ok(GroupWrite { display_name, external_id, members, document: Value::Object(object) })
}

/// The Group as returned: the document as the provider wrote it, with Trustgate's attributes over
/// it, and exactly the members the group has now (as the provider described each, if it did).
fn render(group: &AdminGroup, location: &str, users: &str) -> Value {
    let mut object = match &group.document {
        Value::Object(o) => o.clone(),
        _ => Map::new(),
    };
    let written: Vec<Value> = object
        .remove(&key_of(&object, "members"))
        .and_then(|m| if let Value::Array(items) = m { Some(items) } else { None })
        .unwrap_or_default();
    for owned in ["id", "meta", "schemas", "displayName", "externalId"] {
        object.remove(&key_of(&object, owned));
    }
    object.insert("schemas".to_owned(), json!([GROUP_SCHEMA]));
    object.insert("id".to_owned(), json!(group.id.to_string()));
    if let Some(external_id) = &group.external_id {
        object.insert("externalId".to_owned(), json!(external_id));
    }
    object.insert("displayName".to_owned(), json!(group.display_name));
    let members: Vec<Value> =
        group
            .members
            .iter()
            .map(|id| {
                written.iter().find(|m| member_id(m).ok() == Some(*id)).cloned().unwrap_or_else(
                    || json!({"value": id.to_string(), "$ref": format!("{users}/{id}"), "type": "User"}),
                )
            })
            .collect();
    if !members.is_empty() {
        object.insert("members".to_owned(), Value::Array(members));
    }
    object.insert(
        "meta".to_owned(),
        json!({
            "resourceType": "Group",
            "created": rfc3339(group.created_at),
            "lastModified": rfc3339(group.updated_at),
            "location": location,
            "version": resource::etag(&group.version),
        }),
    );
    Value::Object(object)
}

/// A group as a list answers it.
pub fn rendered(state: &AppState, p: &Provisioner, group: &AdminGroup) -> Value {
    render(group, &location(state, p, group.id), &format!("{}/Users", base(state, p)))
}

fn response(
    state: &AppState,
    p: &Provisioner,
    status: StatusCode,
    group: &AdminGroup,
    projection: &Projection,
) -> Response {
    let location = location(state, p, group.id);
    let users = format!("{}/Users", base(state, p));
    let mut response = scim(status, &projection.apply(render(group, &location, &users)));
    let headers = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&resource::etag(&group.version)) {
        headers.insert(header::ETAG, etag);
    }
    if status == StatusCode::CREATED {
        if let Ok(location) = HeaderValue::from_str(&location) {
            headers.insert(header::LOCATION, location);
        }
    }
    response
}

fn filter(text: Option<&str>) -> Result<GroupFilter, ScimError> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else { return Ok(GroupFilter::All) };
    let refuse = || {
        ScimError::bad_request(
            "invalidFilter",
            "only the filters displayName eq \"…\" and externalId eq \"…\" are supported",
        )
    };
    let (attribute, rest) = text.split_once(char::is_whitespace).ok_or_else(refuse)?;
    let (operator, value) = rest.trim_start().split_once(char::is_whitespace).ok_or_else(refuse)?;
    if !operator.eq_ignore_ascii_case("eq") {
        return Err(refuse());
    }
    let value: String = serde_json::from_str(value.trim()).map_err(|_| refuse())?;
    if value.chars().any(char::is_control) {
        return Err(refuse());
    }
    match attribute_name(attribute).to_ascii_lowercase().as_str() {
        "displayname" => Ok(GroupFilter::DisplayName(value)),
        "externalid" => Ok(GroupFilter::ExternalId(value)),
        _ => Err(refuse()),
    }
}

async fn answer_page(
    state: &AppState,
    p: &Provisioner,
    filter: GroupFilter,
    start_index: Option<i64>,
    count: Option<i64>,
    projection: Projection,
) -> Result<Response, ScimError> {
    let start_index = u64::try_from(start_index.unwrap_or(1).max(1)).unwrap_or(1);
    let count = u32::try_from(count.unwrap_or(i64::from(MAX_PAGE)).clamp(0, i64::from(MAX_PAGE))).unwrap_or(MAX_PAGE);
    let (total, groups) = state.store.groups(p.customer(), &filter, start_index - 1, count).await?;
    let users = format!("{}/Users", base(state, p));
    let resources: Vec<Value> =
        groups.iter().map(|g| projection.apply(render(g, &location(state, p, g.id), &users))).collect();
    Ok(scim(
        StatusCode::OK,
        &json!({
            "schemas": [LIST_SCHEMA],
            "totalResults": total,
            "startIndex": start_index,
            "itemsPerPage": resources.len(),
            "Resources": resources,
        }),
    ))
}

pub async fn list(State(state): State<AppState>, p: Provisioner, query: QueryParams) -> Result<Response, ScimError> {
    let projection = Projection::new(query.get("attributes"), query.get("excludedAttributes"));
    let filter = filter(query.get("filter"))?;
    answer_page(&state, &p, filter, number(&query, "startIndex")?, number(&query, "count")?, projection).await
}

/// `POST /Groups/.search` (RFC 7644 §3.4.3).
pub async fn search(
    State(state): State<AppState>,
    p: Provisioner,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimError> {
    let text = |name: &str| match body.get(name) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Array(items)) => Some(items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(",")),
        _ => None,
    };
    let int = |name: &str| body.get(name).and_then(Value::as_i64);
    let projection = Projection::new(text("attributes").as_deref(), text("excludedAttributes").as_deref());
    let filter = filter(text("filter").as_deref())?;
    answer_page(&state, &p, filter, int("startIndex"), int("count"), projection).await
}

pub async fn create(
    State(state): State<AppState>,
    p: Provisioner,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimError> {
    let write = parse_write(body)?;
    let now = OffsetDateTime::now_utc();
    let new = AdminGroup {
        id: GroupId::generate(),
        customer_id: p.customer().clone(),
        display_name: write.display_name,
        external_id: write.external_id,
        access: Access::none(),
        members: write.members,
        document: write.document,
        version: String::new(),
        created_at: now,
        updated_at: now,
    };
    let group = state.store.create_group(&new, &p.actor()).await?;
    Ok(response(&state, &p, StatusCode::CREATED, &group, &Projection::default()))
}

async fn current(state: &AppState, p: &Provisioner, id: GroupId) -> Result<AdminGroup, ScimError> {
    state.store.group(p.customer(), id).await?.ok_or_else(|| ScimError::not_found(format!("no Group {id}")))
}

pub async fn get(
    State(state): State<AppState>,
    p: Provisioner,
    PathParams((_, id)): PathParams<(String, String)>,
    query: QueryParams,
    headers: HeaderMap,
) -> Result<Response, ScimError> {
    let group = current(&state, &p, group_id(&id)?).await?;
    if resource::not_modified(&headers, &group.version) {
        return Ok(StatusCode::NOT_MODIFIED.into_response());
    }
    let projection = Projection::new(query.get("attributes"), query.get("excludedAttributes"));
    Ok(response(&state, &p, StatusCode::OK, &group, &projection))
}

async fn write(
    state: &AppState,
    p: &Provisioner,
    id: GroupId,
    write: GroupWrite,
    if_version: Option<&str>,
) -> Result<Response, ScimError> {
    let group = state.store.replace_group(p.customer(), id, &write, if_version, &p.actor()).await?;
    Ok(response(state, p, StatusCode::OK, &group, &Projection::default()))
}

pub async fn replace(
    State(state): State<AppState>,
    p: Provisioner,
    PathParams((_, id)): PathParams<(String, String)>,
    headers: HeaderMap,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimError> {
    let id = group_id(&id)?;
    let parsed = parse_write(body)?;
    write(&state, &p, id, parsed, resource::if_match(&headers).as_deref()).await
}

pub async fn patch(
    State(state): State<AppState>,
    p: Provisioner,
    PathParams((_, id)): PathParams<(String, String)>,
    headers: HeaderMap,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimError> {
    let id = group_id(&id)?;
    let before = current(&state, &p, id).await?;
    if let Some(wanted) = resource::if_match(&headers) {
        if wanted != before.version {
            return Err(crate::error::ApiError::PreconditionFailed.into());
        }
    }
    let users = format!("{}/Users", base(&state, &p));
    let mut document = render(&before, "", &users);
    apply(&mut document, &body)?;
    let parsed = parse_write(document)?;
    // The patch was applied to this version: a write in between is refused, not overwritten.
    write(&state, &p, id, parsed, Some(&before.version)).await
}

pub async fn delete(
    State(state): State<AppState>,
    p: Provisioner,
    PathParams((_, id)): PathParams<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, ScimError> {
    let id = group_id(&id)?;
    if !state.store.delete_group(p.customer(), id, resource::if_match(&headers).as_deref(), &p.actor()).await? {
        return Err(ScimError::not_found(format!("no Group {id}")));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The values of a member list in an operation: a list of members, or one member.
fn member_values(value: Option<&Value>) -> Result<Vec<Value>, ScimError> {
    match value {
        Some(Value::Array(items)) => Ok(items.clone()),
        Some(item @ Value::Object(_)) => Ok(vec![item.clone()]),
        _ => Err(ScimError::bad_request("invalidValue", "members are given as a list of {\"value\": id}")),
    }
}

/// The members of the document, taken out of it; [`put_members`] puts them back.
fn take_members(root: &mut Map<String, Value>) -> Vec<Value> {
    match root.remove(&key_of(root, "members")) {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    }
}

fn put_members(root: &mut Map<String, Value>, members: Vec<Value>) {
    root.insert("members".to_owned(), Value::Array(members));
}

fn add_members(root: &mut Map<String, Value>, values: Vec<Value>) -> Result<(), ScimError> {
    let mut members = take_members(root);
    for value in values {
        let id = member_id(&value)?;
        if !members.iter().any(|m| member_id(m).ok() == Some(id)) {
            members.push(value);
        }
    }
    put_members(root, members);
    Ok(())
}

fn remove_members(root: &mut Map<String, Value>, ids: &[AdminId]) {
    let mut members = take_members(root);
    members.retain(|m| member_id(m).map_or(true, |id| !ids.contains(&id)));
    put_members(root, members);
}

/// `members[value eq "id"]`: the member named, if the path is of that form.
fn filtered_member(path: &str) -> Result<Option<AdminId>, ScimError> {
    let Some(inner) = path.get(..8).filter(|p| p.eq_ignore_ascii_case("members[")).map(|_| &path[8..]) else {
        return Ok(None);
    };
    let invalid = || ScimError::bad_request("invalidPath", format!("the path {path:?} is not supported"));
    let inner = inner.strip_suffix(']').ok_or_else(invalid)?;
    let mut parts = inner.trim().splitn(3, char::is_whitespace);
    let (Some(sub), Some(op), Some(value)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(invalid());
    };
    if !sub.eq_ignore_ascii_case("value") || !op.eq_ignore_ascii_case("eq") {
        return Err(ScimError::bad_request("invalidFilter", "only members[value eq \"…\"] is supported"));
    }
    let value: String = serde_json::from_str(value.trim()).map_err(|_| invalid())?;
    AdminId::parse(&value).map(Some).map_err(|_| ScimError::bad_request("invalidValue", format!("no User {value}")))
}

/// Sets one attribute of the group document (`displayName`, `externalId`, `members`, or another
/// the provider keeps), as `add` or `replace` does.
fn set(root: &mut Map<String, Value>, name: &str, value: Value, add: bool) -> Result<(), ScimError> {
    match name.to_ascii_lowercase().as_str() {
        "members" if add => add_members(root, member_values(Some(&value))?),
        "members" => {
            take_members(root);
            add_members(root, member_values(Some(&value))?)
        }
        "id" | "meta" => match (root.get("id"), &value) {
            // Okta repeats the id in a replace without a path: the same value is no change.
            (Some(id), given) if name.eq_ignore_ascii_case("id") && id == given => Ok(()),
            _ => Err(ScimError::bad_request("mutability", format!("{name} is read-only"))),
        },
        "schemas" => Ok(()),
        _ => {
            let key = key_of(root, name);
            root.insert(key, value);
            Ok(())
        }
    }
}

/// Applies a PATCH request (RFC 7644 §3.5.2) to a rendered group.
fn apply(document: &mut Value, body: &Value) -> Result<(), ScimError> {
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
        let op = operation.get(&key_of(operation, "op")).and_then(Value::as_str).map(str::to_ascii_lowercase);
        let path = operation
            .get(&key_of(operation, "path"))
            .and_then(Value::as_str)
            .map(attribute_name)
            .filter(|p| !p.is_empty());
        let value = operation.get(&key_of(operation, "value")).cloned();
        match (op.as_deref(), path, value) {
            (Some("remove"), None, _) => return Err(ScimError::bad_request("noTarget", "remove needs a path")),
            (Some("remove"), Some(path), value) => {
                if let Some(id) = filtered_member(path)? {
                    remove_members(root, &[id]);
                } else if path.eq_ignore_ascii_case("members") {
                    match value {
                        // Okta and Entra ID name the members to remove in the value.
                        Some(value @ (Value::Array(_) | Value::Object(_))) => {
                            let ids =
                                member_values(Some(&value))?.iter().map(member_id).collect::<Result<Vec<_>, _>>()?;
                            remove_members(root, &ids);
                        }
                        _ => {
                            take_members(root);
                        }
                    }
                } else if path.eq_ignore_ascii_case("displayName") {
                    return Err(ScimError::bad_request("mutability", "displayName is required"));
                } else if path.contains(['[', '.']) {
                    return Err(ScimError::bad_request("invalidPath", format!("the path {path:?} is not supported")));
                } else {
                    let key = key_of(root, path);
                    root.remove(&key);
                }
            }
            (Some("add" | "replace"), _, None) => {
                return Err(ScimError::bad_request("invalidValue", "add and replace need a value"))
            }
            (Some(op @ ("add" | "replace")), None, Some(Value::Object(values))) => {
                for (name, value) in values {
                    set(root, attribute_name(&name), value, op == "add")?;
                }
            }
            (Some("add" | "replace"), None, Some(_)) => {
                return Err(ScimError::bad_request(
                    "invalidValue",
                    "without a path, the value is an object of attributes",
                ))
            }
            (Some(op @ ("add" | "replace")), Some(path), Some(value)) => {
                if path.contains(['[', '.']) {
                    return Err(ScimError::bad_request("invalidPath", format!("the path {path:?} is not supported")));
                }
                set(root, path, value, op == "add")?;
            }
            _ => return Err(ScimError::bad_request("invalidSyntax", "op must be add, replace or remove")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(members: &[AdminId]) -> Value {
        json!({
            "id": "g", "displayName": "Admins",
            "members": members.iter().map(|m| json!({"value": m.to_string()})).collect::<Vec<_>>(),
        })
    }

    fn ids(document: &Value) -> Vec<AdminId> {
        parse_write(document.clone()).map(|w| w.members).unwrap_or_default()
    }

    #[test]
    fn entra_and_okta_member_changes_both_apply() {
        let (a, b, c) = (AdminId::generate(), AdminId::generate(), AdminId::generate());
        let mut document = group(&[a, b]);
        // Entra ID: remove by filter; add a list.
        apply(
            &mut document,
            &json!({"Operations": [
                {"op": "Remove", "path": format!("members[value eq \"{a}\"]")},
                {"op": "Add", "path": "members", "value": [{"value": c.to_string()}]},
            ]}),
        )
        .unwrap();
        assert_eq!(ids(&document), vec![b, c]);
        // Okta: remove with the members in the value; rename without a path, repeating the id.
        apply(
            &mut document,
            &json!({"Operations": [
                {"op": "remove", "path": "members", "value": [{"value": b.to_string()}]},
                {"op": "replace", "value": {"id": "g", "displayName": "Operators"}},
            ]}),
        )
        .unwrap();
        assert_eq!(ids(&document), vec![c]);
        assert_eq!(document["displayName"], "Operators");
        assert!(apply(&mut document, &json!({"Operations": [{"op": "replace", "value": {"id": "other"}}]})).is_err());
        assert!(apply(&mut document, &json!({"Operations": [{"op": "remove", "path": "displayName"}]})).is_err());
    }

    #[test]
    fn display_name_and_external_id_are_the_supported_filters() {
        assert_eq!(filter(Some("displayName eq \"Ops\"")).ok(), Some(GroupFilter::DisplayName("Ops".into())));
        assert_eq!(filter(Some("externalId eq \"x\"")).ok(), Some(GroupFilter::ExternalId("x".into())));
        assert!(filter(Some("members eq \"x\"")).is_err());
    }
}
