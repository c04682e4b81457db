//! What the service provider says about itself (RFC 7644 §4): its configuration, its resource
//! types (User, Group), and the schemas of what it keeps.

use serde_json::{json, Value};

use super::groups::GROUP_SCHEMA;
use super::resource::{LIST_SCHEMA, USER_SCHEMA};
use super::MAX_PAGE;

const SPC_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

pub fn service_provider_config(base: &str) -> Value {
    json!({
        "schemas": [SPC_SCHEMA],
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": MAX_PAGE},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "Bearer token",
            "description": "A provisioning token a Full administrator created for this customer (tgp_…).",
            "primary": true,
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig")},
    })
}

pub fn user_resource_type(base: &str) -> Value {
    json!({
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": "An administrator of the customer, federated from its identity provider",
        "schema": USER_SCHEMA,
        "schemaExtensions": [],
        "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/User")},
    })
}

pub fn group_resource_type(base: &str) -> Value {
    json!({
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": "Group",
        "name": "Group",
        "endpoint": "/Groups",
        "description": "A group of the customer's administrators; a Full administrator gives it access",
        "schema": GROUP_SCHEMA,
        "schemaExtensions": [],
        "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/Group")},
    })
}

pub fn group_schema(base: &str) -> Value {
    let sub = |name: &str, kind: &str, description: &str| attribute(name, kind, false, "none", description);
    let mut members = attribute("members", "complex", false, "none", "The administrators in the group (Users, by id)");
    members["multiValued"] = json!(true);
    let mut value = sub("value", "string", "The id of a User of this customer");
    value["mutability"] = json!("immutable");
    let mut reference = sub("$ref", "reference", "The User's URI");
    reference["referenceTypes"] = json!(["User"]);
    reference["mutability"] = json!("immutable");
    let mut kind = sub("type", "string", "User");
    kind["canonicalValues"] = json!(["User"]);
    kind["mutability"] = json!("immutable");
    members["subAttributes"] = json!([value, reference, kind, sub("display", "string", "The member's name")]);
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": GROUP_SCHEMA,
        "name": "Group",
        "description": "A group of administrators of the customer",
        "attributes": [
            attribute("displayName", "string", true, "server", "Unique within the customer, compared without regard to case"),
            members,
        ],
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{GROUP_SCHEMA}")},
    })
}

fn attribute(name: &str, kind: &str, required: bool, uniqueness: &str, description: &str) -> Value {
    json!({
        "name": name,
        "type": kind,
        "multiValued": false,
        "description": description,
        "required": required,
        "caseExact": false,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": uniqueness,
    })
}

pub fn user_schema(base: &str) -> Value {
    let sub = |name: &str, kind: &str, description: &str| attribute(name, kind, false, "none", description);
    let mut name = attribute("name", "complex", false, "none", "The administrator's name");
    name["subAttributes"] = json!([
        sub("formatted", "string", "The full name"),
        sub("givenName", "string", "The given name"),
        sub("familyName", "string", "The family name"),
    ]);
    let mut emails = attribute(
        "emails",
        "complex",
        true,
        "none",
        "E-mail addresses; the primary one is the administrator's e-mail in this customer",
    );
    emails["multiValued"] = json!(true);
    let mut address = sub("value", "string", "The e-mail address");
    address["required"] = json!(true);
    emails["subAttributes"] = json!([
        address,
        sub("type", "string", "work, home or other"),
        sub("primary", "boolean", "The administrator's e-mail in this customer"),
    ]);
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": USER_SCHEMA,
        "name": "User",
        "description": "An administrator of the customer",
        "attributes": [
            attribute("userName", "string", true, "server", "Unique within the customer, compared without regard to case"),
            attribute("displayName", "string", false, "none", "Shown in the console and the system log"),
            name,
            emails,
            attribute("active", "boolean", false, "none", "false disables the administrator (their API clients follow the customer's policy)"),
        ],
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{USER_SCHEMA}")},
    })
}

pub fn list(resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": resources.len(),
        "startIndex": 1,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}
