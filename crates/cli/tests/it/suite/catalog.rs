//! The permission catalog (issue 10): `trustgate catalog apply`, its storage, and every node
//! deciding with the catalog applied last.

use trustgate_core::access::{Access, Permission};
use trustgate_core::event::Actor;
use trustgate_store::StoreError;

use super::app;
use crate::harness::custom;

pub const ORDERS: &str = r#"
[[service]]
name = "orders"
display_name = "Orders"
description = "Orders API"

[[permission]]
service = "orders"
name = "read"
display_name = "Read orders"

[[permission]]
service = "orders"
name = "write"
display_name = "Change orders"

[[route]]
method = "GET"
path = "/orders/{id}"
permission = "orders.read"

[[route]]
method = "POST"
path = "/c/{customer}/orders"
permission = "orders.write"
customer = "path:{customer}"
"#;

#[tokio::test]
async fn an_applied_catalog_is_what_the_server_decides_with_at_once() {
    let Some(app) = app().await else { return };
    assert!(!app.state.catalog().offers(&Permission::parse("orders.read").unwrap()));
    let applied = app.apply_catalog(ORDERS).await;
    assert_eq!(applied["changed"], true, "{applied}");
    assert_eq!(applied["permissions"]["added"], serde_json::json!(["orders.read", "orders.write"]));
    let catalog = app.state.catalog();
    assert!(catalog.offers(&Permission::parse("orders.write").unwrap()));
    let matched = catalog.match_request("POST", "/c/acme/orders").expect("a rule");
    assert_eq!(matched.path_customer.as_deref(), Some("acme"));
    assert_eq!(app.store.catalog().await.unwrap(), *catalog);
}

#[tokio::test]
async fn get_api_v1_catalog_shows_any_signed_in_administrator_the_catalog_applied_last() {
    use reqwest::{Method, StatusCode};
    use serde_json::json;

    use crate::harness::status_and_json;

    let Some(app) = app().await else { return };
    let (_, _, session) = app.customer_with_session(custom(&[Permission::NOTIFICATIONS])).await;
    let (status, before) = app.as_admin(&session, Method::GET, "/api/v1/catalog", None).await;
    assert_eq!(status, StatusCode::OK, "{before}");
    assert_eq!((before["services"].clone(), before["routes"].clone()), (json!([]), json!([])), "{before}");

    app.apply_catalog(ORDERS).await;
    let (status, body) = app.as_admin(&session, Method::GET, "/api/v1/catalog", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["services"], json!([{"name": "orders", "displayName": "Orders", "description": "Orders API"}]));
    let permissions = body["permissions"].as_array().expect("permissions");
    let platform = permissions.iter().filter(|p| p["builtIn"] == true && p["serviceName"] == "Platform").count();
    assert_eq!(platform, 5, "the built-in Platform permissions come too: {body}");
    assert_eq!(
        permissions.last(),
        Some(&json!({"permission": "orders.write", "serviceName": "orders", "name": "write",
                     "displayName": "Change orders", "description": null, "builtIn": false}))
    );
    assert_eq!(
        body["routes"],
        json!([
            {"method": "GET", "path": "/orders/{id}", "permission": "orders.read", "customer": "header"},
            {"method": "POST", "path": "/c/{customer}/orders", "permission": "orders.write",
             "customer": "path:{customer}"},
        ])
    );
    assert_eq!(body, app.cli(&["catalog", "show"]).await, "the API and `catalog show --json` say the same");

    let anonymous = app.http.get(app.url("/api/v1/catalog")).send().await.unwrap();
    let (status, refused) = status_and_json(anonymous).await;
    let (_, session_refused) = status_and_json(app.http.get(app.url("/api/v1/session")).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused, session_refused, "the same 401 as the other management endpoints");
}

#[tokio::test]
async fn applying_the_same_file_twice_changes_nothing_and_says_so() {
    let Some(app) = app().await else { return };
    app.apply_catalog(ORDERS).await;
    let again = app.apply_catalog(ORDERS).await;
    assert_eq!(again["changed"], false, "{again}");
    for part in ["services", "permissions", "routes"] {
        for what in ["added", "removed", "changed"] {
            assert_eq!(again[part][what], serde_json::json!([]), "{part}.{what}: {again}");
        }
    }
}

#[tokio::test]
async fn a_dry_run_prints_the_difference_and_writes_nothing() {
    let Some(app) = app().await else { return };
    app.apply_catalog(ORDERS).await;
    let renamed = ORDERS
        .replace("display_name = \"Change orders\"", "display_name = \"Write orders\"")
        .replace("[[route]]\nmethod = \"GET\"\npath = \"/orders/{id}\"\npermission = \"orders.read\"\n", "");
    let dry = app.catalog_command(&renamed, &["--dry-run"]).await;
    assert_eq!(dry["dryRun"], true);
    assert_eq!(dry["permissions"]["changed"], serde_json::json!(["orders.write"]), "{dry}");
    assert_eq!(dry["routes"]["removed"], serde_json::json!(["GET /orders/{id}"]), "{dry}");
    assert_eq!(app.state.catalog().routes().len(), 2, "a dry run changed the catalog");
    assert_eq!(app.store.catalog().await.unwrap().routes().len(), 2, "a dry run wrote the catalog");
    let applied = app.apply_catalog(&renamed).await;
    assert_eq!(applied["routes"]["removed"], serde_json::json!(["GET /orders/{id}"]), "{applied}");
    assert_eq!(app.state.catalog().routes().len(), 1);
}

/// ORDERS without `orders.read` (and the route that needs it).
const WRITE_ONLY: &str = r#"
[[service]]
name = "orders"
display_name = "Orders"

[[permission]]
service = "orders"
name = "write"
display_name = "Change orders"
"#;

#[tokio::test]
async fn removing_a_held_permission_is_refused_unless_forced_which_takes_it_from_its_holders() {
    let Some(app) = app().await else { return };
    app.apply_catalog(ORDERS).await;
    let customer = app.customer().await;
    let read = Permission::parse("orders.read").unwrap();
    let admin = app.admin(&customer, custom(&[read.clone(), Permission::NOTIFICATIONS])).await;

    let catalog = trustgate_server::gateway::catalog_file::parse(WRITE_ONLY).unwrap();
    let refused = app.store.apply_catalog(&catalog, false, &Actor::System).await.unwrap_err();
    assert!(refused.to_string().contains("orders.read is held by 1 holder in 1 customer"), "{refused}");
    assert!(app.store.catalog().await.unwrap().offers(&read), "a refused apply wrote the catalog");

    // The dry run refuses what the apply refuses, with the same exit code (issue #22); with
    // --force it names the holders that would lose the permission, and writes nothing.
    let file = app.dir.path().join("write-only.toml");
    std::fs::write(&file, WRITE_ONLY).unwrap();
    let file = file.to_str().unwrap();
    let (real, refusal) = app.cli_fails(&["catalog", "apply", file]).await;
    let (dry, dry_refusal) = app.cli_fails(&["catalog", "apply", file, "--dry-run"]).await;
    assert_eq!((real, dry), (3, 3), "{refusal} {dry_refusal}");
    assert!(dry_refusal["message"].as_str().unwrap().contains("orders.read is held by 1 holder"), "{dry_refusal}");
    assert!(dry_refusal["message"].as_str().unwrap().contains("nothing would be applied"), "{dry_refusal}");
    let preview = app.catalog_command(WRITE_ONLY, &["--dry-run", "--force"]).await;
    assert_eq!(preview["dryRun"], true, "{preview}");
    assert_eq!(preview["stripped"].as_array().map(Vec::len), Some(1), "{preview}");
    let held = app.store.member(&customer, admin.id).await.unwrap().expect("a member").access;
    assert_eq!(held, custom(&[read.clone(), Permission::NOTIFICATIONS]), "a dry run stripped it");
    assert!(app.store.catalog().await.unwrap().offers(&read), "a dry run wrote the catalog");
    assert!(app.log_of(&customer, "delegatedadministration:administrator/update").await.is_empty());

    let forced = app.catalog_command(WRITE_ONLY, &["--force"]).await;
    assert_eq!(forced["stripped"].as_array().map(Vec::len), Some(1), "{forced}");
    let member = app.store.member(&customer, admin.id).await.unwrap().expect("still a member");
    assert_eq!(member.access, custom(&[Permission::NOTIFICATIONS]));
    assert!(!app.state.catalog().offers(&read));
    let logged = app.log_of(&customer, "delegatedadministration:administrator/update").await;
    assert_eq!(logged.len(), 1, "one record for the one holder");
    assert_eq!(logged[0].actor_type, "System");
}

/// A node decides with its copy of the catalog, which may be a moment behind an apply that another
/// node committed; the grant itself is checked against the stored catalog, in its transaction.
#[tokio::test]
async fn a_permission_the_stored_catalog_no_longer_declares_is_not_granted_by_a_node_that_still_offers_it() {
    let Some(app) = app().await else { return };
    app.apply_catalog(ORDERS).await;
    let customer = app.customer().await;
    let read = Permission::parse("orders.read").unwrap();
    let admin = app.admin(&customer, custom(&[Permission::NOTIFICATIONS])).await;
    let newcomer = app.admin(&app.customer().await, Access::Full).await;

    app.behind_the_servers_back("DELETE FROM catalog_permissions WHERE service = 'orders' AND name = 'read'").await;
    assert!(app.state.catalog().offers(&read), "the node has not heard of the removal");

    let granted = app.store.set_access(&customer, admin.id, custom(std::slice::from_ref(&read)), &Actor::System).await;
    assert!(
        matches!(&granted, Err(StoreError::Conflict(m)) if m.contains("orders.read is no longer in the catalog")),
        "{granted:?}"
    );
    let joined =
        app.store.add_member(&customer, newcomer.id, custom(std::slice::from_ref(&read)), &Actor::System).await;
    assert!(matches!(joined, Err(StoreError::Conflict(_))), "{joined:?}");
    let member = app.store.member(&customer, admin.id).await.unwrap().expect("still a member");
    assert_eq!(member.access, custom(&[Permission::NOTIFICATIONS]), "nothing was written");
    assert!(app.store.member(&customer, newcomer.id).await.unwrap().is_none(), "nobody joined");

    let write = Permission::parse("orders.write").unwrap();
    let still_declared =
        app.store.set_access(&customer, admin.id, custom(std::slice::from_ref(&write)), &Actor::System).await;
    assert!(still_declared.is_ok(), "a declared permission is granted as before: {still_declared:?}");
    assert_eq!(app.store.member(&customer, admin.id).await.unwrap().expect("a member").access, custom(&[write]));
}

/// Issue #25: a group holds permissions for its members; removing one it holds is refused, and
/// forced it is taken from the group, and from every member's standing with it.
#[tokio::test]
async fn a_permission_a_group_holds_is_refused_removal_unless_forced_and_its_members_follow() {
    let Some(app) = app().await else { return };
    app.apply_catalog(ORDERS).await;
    let customer = app.customer().await;
    let read = Permission::parse("orders.read").unwrap();
    let admin = app.admin(&customer, custom(&[Permission::NOTIFICATIONS])).await;
    let now = time::OffsetDateTime::now_utc();
    let group = trustgate_core::group::AdminGroup {
        id: trustgate_core::ids::GroupId::generate(),
        customer_id: customer.clone(),
        display_name: "Readers".to_owned(),
        external_id: None,
        access: custom(std::slice::from_ref(&read)),
        members: vec![admin.id],
        document: serde_json::json!({}),
        version: String::new(),
        created_at: now,
        updated_at: now,
    };
    app.store.create_group(&group, &Actor::System).await.unwrap();
    let standing = app.store.standing(&customer, admin.id).await.unwrap().unwrap();
    assert_eq!(standing.access, custom(&[read.clone(), Permission::NOTIFICATIONS]));

    let catalog = trustgate_server::gateway::catalog_file::parse(WRITE_ONLY).unwrap();
    let refused = app.store.apply_catalog(&catalog, false, &Actor::System).await.unwrap_err();
    assert!(refused.to_string().contains("group Readers"), "{refused}");

    let forced = app.catalog_command(WRITE_ONLY, &["--force"]).await;
    assert_eq!(forced["stripped"].as_array().map(Vec::len), Some(1), "{forced}");
    let group = app.store.group(&customer, group.id).await.unwrap().unwrap();
    assert!(group.access.grants_nothing(), "{:?}", group.access);
    let standing = app.store.standing(&customer, admin.id).await.unwrap().unwrap();
    assert_eq!(standing.access, custom(&[Permission::NOTIFICATIONS]), "the member's standing followed");
    assert_eq!(app.log_of(&customer, "delegatedadministration:group/access").await.len(), 1);
}
