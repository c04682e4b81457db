//! Service principals (SP1–SP5, SP7): API clients of a customer that belong to no administrator.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use trustgate_core::access::{Access, Permission};
use trustgate_core::ids::{ClientId, CustomerId};

use crate::harness::{custom, AdminKind, Session, TestApp, TestClient};

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("b64")).expect("json")
}

fn principals(customer: &CustomerId) -> String {
    format!("/api/v1/customers/{customer}/service-principals")
}

/// Creates a principal through the management API as `session`'s administrator.
async fn create(app: &TestApp, session: &Session, customer: &CustomerId, access: Value) -> (StatusCode, Value) {
    let mut body = json!({ "name": "nightly export" });
    if let (Some(body), Some(access)) = (body.as_object_mut(), access.as_object()) {
        body.extend(access.clone());
    }
    app.as_admin(session, Method::POST, &principals(customer), Some(body)).await
}

fn access_body(access_type: &str, policies: &[&str]) -> Value {
    json!({ "accessType": access_type, "policies": policies.iter().map(|p| json!({ "name": p })).collect::<Vec<_>>() })
}

fn client_of(customer: &CustomerId, created: &Value) -> TestClient {
    TestClient {
        id: ClientId::parse(created["id"].as_str().expect("id")).expect("a client id"),
        secret: created["secret"].as_str().expect("the secret, once").to_owned(),
        customer: customer.clone(),
    }
}

#[tokio::test]
async fn sp1_sp2_a_principal_acts_with_its_own_access_and_its_tokens_name_no_person() {
    let Some(app) = super::app().await else { return };
    let (customer, admin, session) = app.customer_with_session(Access::Full).await;
    let (status, created) = create(&app, &session, &customer, access_body("Custom", &["notifications"])).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!((created["accessType"].as_str(), &created["policies"]), (Some("Custom"), &json!(["notifications"])));
    let principal = client_of(&customer, &created);

    let token = app.token(&principal).await;
    let claims = claims_of(&token);
    assert!(claims.get("user_id").is_none(), "a principal's token names no person: {claims}");
    assert_eq!(
        (claims["sub"].as_str(), claims["customer_id"].as_str()),
        (created["id"].as_str(), Some(customer.as_str()))
    );
    assert_eq!(app.post_notification(&token, &customer).await, StatusCode::OK);
    assert_eq!(app.get("/systemlog/records", &token, &customer).await.0, StatusCode::FORBIDDEN);

    let created_log = app.log_of(&customer, "platform:serviceprincipal/create").await;
    assert_eq!(created_log.len(), 1);
    assert_eq!(
        (created_log[0].actor_id.clone(), created_log[0].target_type.as_str()),
        (Some(admin.id.to_string()), "ServicePrincipal")
    );
    assert!(app.store.clients_of(&customer, admin.id).await.unwrap().is_empty(), "no administrator owns it");
}

#[tokio::test]
async fn sp2_custom_access_must_grant_a_permission_and_unknown_policies_are_refused() {
    let Some(app) = super::app().await else { return };
    let (customer, _, session) = app.customer_with_session(Access::Full).await;
    let (status, body) = create(&app, &session, &customer, access_body("Custom", &[])).await;
    assert_eq!((status, &body["parameters"][0]["value"]), (StatusCode::CONFLICT, &json!("noPermission")), "{body}");
    let (status, body) = create(&app, &session, &customer, access_body("Custom", &["root"])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = create(&app, &session, &customer, json!({ "accessType": "Owner" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (_, list) = app.as_admin(&session, Method::GET, &principals(&customer), None).await;
    assert_eq!(list["items"], json!([]), "nothing half-made");
}

#[tokio::test]
async fn sp3_only_full_administrators_manage_principals_and_each_sees_all() {
    let Some(app) = super::app().await else { return };
    let (customer, first, second) = app.customer_with_colleagues().await;
    let custom_admin =
        app.admin_with_password(&customer, custom(&[Permission::API_CLIENTS, Permission::ADMINISTRATORS])).await;
    let (status, created) = create(&app, &app.sign_in(&first).await, &customer, access_body("Full", &[])).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");

    let (status, list) = app.as_admin(&app.sign_in(&second).await, Method::GET, &principals(&customer), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        list["items"].as_array().map(|items| items.iter().map(|p| p["id"].clone()).collect::<Vec<_>>()),
        Some(vec![created["id"].clone()])
    );

    let limited = app.sign_in(&custom_admin).await;
    let (status, body) = app.as_admin(&limited, Method::GET, &principals(&customer), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, _) = create(&app, &limited, &customer, access_body("Custom", &["apiClients"])).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let path = format!("{}/{}", principals(&customer), created["id"].as_str().unwrap());
    assert_eq!(app.as_admin(&limited, Method::DELETE, &path, None).await.0, StatusCode::FORBIDDEN);
    let access = format!("{path}/access");
    let (status, _) = app.as_admin(&limited, Method::PUT, &access, Some(access_body("Custom", &["apiClients"]))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn sp4_an_access_change_reaches_issued_tokens_and_deletion_refuses_them_at_once() {
    let Some(app) = super::app().await else { return };
    let (customer, admin, session) = app.customer_with_session(Access::Full).await;
    let (_, created) = create(&app, &session, &customer, access_body("Custom", &["notifications"])).await;
    let principal = client_of(&customer, &created);
    let token = app.token(&principal).await;
    assert_eq!(app.post_notification(&token, &customer).await, StatusCode::OK);

    let path = format!("{}/{}", principals(&customer), principal.id);
    let (status, body) = app
        .as_admin(&session, Method::PUT, &format!("{path}/access"), Some(access_body("Custom", &["systemLog"])))
        .await;
    assert_eq!((status, body["policies"].clone()), (StatusCode::OK, json!(["systemLog"])), "{body}");
    assert_eq!(app.post_notification(&token, &customer).await, StatusCode::FORBIDDEN, "the same token is reduced");
    assert_eq!(app.get("/systemlog/records", &token, &customer).await.0, StatusCode::OK, "and raised");
    let changed = app.log_of(&customer, "platform:serviceprincipal/update").await;
    assert_eq!(changed.first().and_then(|r| r.actor_id.clone()), Some(admin.id.to_string()));

    assert_eq!(app.as_admin(&session, Method::DELETE, &path, None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(app.get("/systemlog/records", &token, &customer).await.0, StatusCode::UNAUTHORIZED);
    let (status, body) = app
        .oauth(
            "root",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &principal.id.to_string()),
                ("client_secret", &principal.secret),
            ],
        )
        .await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_client")));
    assert_eq!(app.log_of(&customer, "platform:serviceprincipal/delete").await.len(), 1);
    assert_eq!(app.as_admin(&session, Method::DELETE, &path, None).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn sp5_reducing_removing_or_deleting_the_creator_leaves_a_principal_untouched() {
    let Some(app) = super::app().await else { return };
    let (customer, creator, other) = app.customer_with_colleagues().await;
    let (_, created) = create(&app, &app.sign_in(&creator).await, &customer, access_body("Full", &[])).await;
    let principal = client_of(&customer, &created);
    let token = app.token(&principal).await;
    let actor = trustgate_core::event::Actor::System;

    app.store.set_access(&customer, creator.id, custom(&[Permission::SYSTEM_LOG]), &actor).await.unwrap();
    assert_eq!(app.post_notification(&token, &customer).await, StatusCode::OK, "reduced creator");
    app.store.remove_member(&customer, creator.id, &actor).await.unwrap();
    assert_eq!(app.post_notification(&token, &customer).await, StatusCode::OK, "removed creator");
    app.store.delete_admin(creator.id, &actor).await.unwrap();
    assert_eq!(app.post_notification(&token, &customer).await, StatusCode::OK, "deleted creator");
    app.token(&principal).await;
    let (_, list) = app.as_admin(&app.sign_in(&other).await, Method::GET, &principals(&customer), None).await;
    assert_eq!(list["items"][0]["id"], created["id"]);
}

#[tokio::test]
async fn sp7_a_converted_client_keeps_its_id_secret_and_tokens_and_outlives_its_owner() {
    let Some(app) = super::app().await else { return };
    let customer = app.customer().await;
    let boss = app.admin_with_password(&customer, Access::Full).await;
    let owner = app.admin_with_password(&customer, custom(&[Permission::API_CLIENTS, Permission::NOTIFICATIONS])).await;
    let stranger = app.admin_with_password(&customer, custom(&[Permission::API_CLIENTS])).await;
    let client = app.client(&customer, &owner).await;
    let issued_before = app.token(&client).await;
    let convert = format!("/api/v1/customers/{customer}/api-clients/{}/convert", client.id);

    let (status, _) = app.as_admin(&app.sign_in(&stranger).await, Method::POST, &convert, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "R3 holds until the conversion");
    let (status, body) = app.as_admin(&app.sign_in(&boss).await, Method::POST, &convert, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["id"].as_str(), body["accessType"].as_str(), &body["policies"]),
        (Some(client.id.to_string().as_str()), Some("Custom"), &json!(["apiClients", "notifications"])),
        "same id, with the owner's access at that moment"
    );
    assert_eq!(
        app.post_notification(&issued_before, &customer).await,
        StatusCode::OK,
        "tokens issued before still work"
    );

    app.store.remove_member(&customer, owner.id, &trustgate_core::event::Actor::System).await.unwrap();
    let token = app.token(&client).await;
    assert!(claims_of(&token).get("user_id").is_none());
    assert_eq!(app.post_notification(&token, &customer).await, StatusCode::OK, "the same secret outlives its owner");
    let converted = app.log_of(&customer, "platform:serviceprincipal/convert").await;
    assert_eq!(converted.first().and_then(|r| r.actor_id.clone()), Some(boss.id.to_string()));
    assert!(app.log_of(&customer, "platform:secureclient/delete").await.is_empty());
    assert_eq!(app.as_admin(&app.sign_in(&boss).await, Method::POST, &convert, None).await.0, StatusCode::NOT_FOUND);
}

/// Issue #20: a Custom owner who could convert their client would hold a principal that outlives
/// every reduction and removal (SP5 against R5/R6); conversion is a Full administrator's act.
#[tokio::test]
async fn a_custom_owner_cannot_turn_their_client_into_a_principal_that_outlives_them() {
    let Some(app) = super::app().await else { return };
    let owner_access = custom(&[Permission::API_CLIENTS, Permission::NOTIFICATIONS]);
    let (customer, owner, client) = app.customer_with_client_of(AdminKind::WithPassword, owner_access).await;
    let convert = format!("/api/v1/customers/{customer}/api-clients/{}/convert", client.id);
    let (status, body) = app.as_admin(&app.sign_in(&owner).await, Method::POST, &convert, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.to_string().contains("only administrators with Full access"), "{body}");

    app.store.remove_member(&customer, owner.id, &trustgate_core::event::Actor::System).await.unwrap();
    assert_eq!(app.grant(&client).await.0, StatusCode::BAD_REQUEST, "R6: the client went with its owner");
    assert!(app.log_of(&customer, "platform:serviceprincipal/convert").await.is_empty());
}

/// Issue #20 (SP6): a converted client's secrets, which never expired while it was a secure client,
/// all expire once it is a principal — within 90 days, a sooner expiry kept.
#[tokio::test]
async fn a_converted_principals_secrets_all_get_an_expiry() {
    let Some(app) = super::app().await else { return };
    let (customer, boss, client) = app.customer_with_client_of(AdminKind::WithPassword, Access::Full).await;
    let session = app.sign_in(&boss).await;
    let secrets = format!("/api/v1/customers/{customer}/api-clients/{}/secrets", client.id);
    let (status, added) = app.as_admin(&session, Method::POST, &secrets, Some(json!({}))).await;
    assert!(status.is_success(), "{status} {added}");
    let (_, listed) = app.as_admin(&session, Method::GET, &secrets, None).await;
    assert!(listed["items"].as_array().unwrap().iter().all(|s| s["expiresAt"].is_null()), "{listed}");

    let convert = format!("/api/v1/customers/{customer}/api-clients/{}/convert", client.id);
    assert_eq!(app.as_admin(&session, Method::POST, &convert, None).await.0, StatusCode::OK);
    let (_, listed) = app.as_admin(&session, Method::GET, &secrets, None).await;
    let latest = time::OffsetDateTime::now_utc() + time::Duration::days(90);
    for secret in listed["items"].as_array().unwrap() {
        let at = secret["expiresAt"].as_str().unwrap_or_else(|| panic!("every principal secret expires: {listed}"));
        let at = time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).unwrap();
        assert!(at <= latest, "{listed}");
    }
    assert_eq!(listed["items"].as_array().unwrap().len(), 2);
    app.token(&client).await;
}

#[tokio::test]
async fn the_administrators_api_lists_principals_to_full_callers_and_changes_their_access() {
    let Some(app) = super::app().await else { return };
    let customer = app.customer().await;
    let boss = app.admin_with_password(&customer, Access::Full).await;
    let boss_token = app.token(&app.client(&customer, &boss).await).await;
    let limited = app.admin(&customer, custom(&[Permission::ADMINISTRATORS])).await;
    let limited_token = app.token(&app.client(&customer, &limited).await).await;
    let (_, created) =
        create(&app, &app.sign_in(&boss).await, &customer, access_body("Custom", &["notifications"])).await;
    let principal = client_of(&customer, &created);
    let principal_token = app.token(&principal).await;

    let (status, list) = app.get("/administrators", &boss_token, &customer).await;
    assert_eq!(status, StatusCode::OK);
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{list}");
    let listed = items.iter().find(|i| i["type"] == "ServicePrincipal").expect("the principal is listed");
    assert_eq!(
        (listed["userId"].as_str(), listed["displayName"].as_str(), listed["accessType"].as_str(), &listed["email"]),
        (Some(principal.id.to_string().as_str()), Some("nightly export"), Some("Custom"), &Value::Null)
    );
    let (_, only) = app.get("/administrators?type=ServicePrincipal&maxItemCount=1", &boss_token, &customer).await;
    assert_eq!(only["items"][0]["userId"], listed["userId"]);
    let (_, page) = app.get("/administrators?maxItemCount=2", &boss_token, &customer).await;
    let next = page["continuationToken"].as_str().expect("a next page");
    let (_, rest) =
        app.get(&format!("/administrators?maxItemCount=2&requestContinuation={next}"), &boss_token, &customer).await;
    assert_eq!(
        (rest["items"][0]["type"].as_str(), &rest["continuationToken"]),
        (Some("ServicePrincipal"), &Value::Null)
    );

    let (_, limited_list) = app.get("/administrators", &limited_token, &customer).await;
    assert_eq!(limited_list["items"].as_array().map(Vec::len), Some(2), "SP3: only Full callers see principals");

    let access_path = format!("/administrators/{}/access", principal.id);
    let (status, model) = app.get(&access_path, &boss_token, &customer).await;
    assert_eq!((status, model["accessType"].as_str()), (StatusCode::OK, Some("Custom")));
    let put = format!("/administrators/access?id={}", principal.id);
    let (status, _) =
        app.call(Method::PUT, &put, &limited_token, &customer, Some(access_body("Custom", &["systemLog"]))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) =
        app.call(Method::PUT, &put, &boss_token, &customer, Some(access_body("Custom", &["systemLog"]))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(app.post_notification(&principal_token, &customer).await, StatusCode::FORBIDDEN);
    let changed = app.log_of(&customer, "platform:serviceprincipal/update").await;
    assert_eq!(changed.first().map(|r| r.actor_type.as_str()), Some("SecureClient"));

    // A principal acts under its own name in the log: here one with Full access adds an administrator.
    let (_, full) = create(&app, &app.sign_in(&boss).await, &customer, access_body("Full", &[])).await;
    let full_token = app.token(&client_of(&customer, &full)).await;
    let admin = json!({ "accessType": "Full", "providerType": "CitrixSts", "type": "AdministratorUser", "email": "new@example.com" });
    let (status, body) = app.call(Method::POST, "/administrators/$create", &full_token, &customer, Some(admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A local administrator is invited (issue #12): the invitation is what the principal did.
    let added = app.log_of(&customer, "delegatedadministration:invitation/create").await;
    let by_principal = added.last().expect("logged");
    assert_eq!(
        (by_principal.actor_type.as_str(), by_principal.actor_id.clone()),
        ("ServicePrincipal", full["id"].as_str().map(str::to_owned))
    );
}

/// The grant outcome for `client`, asked until it is `wanted` or a few seconds passed: another
/// process's change reaches this server through the change feed.
async fn grant_becomes(app: &TestApp, client: &TestClient, wanted: StatusCode) -> StatusCode {
    let id = client.id.to_string();
    let form = [("grant_type", "client_credentials"), ("client_id", id.as_str()), ("client_secret", &client.secret)];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let (status, _) = app.oauth("root", &form).await;
        if status == wanted || std::time::Instant::now() > deadline {
            return status;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_principal_cli_creates_lists_changes_converts_and_deletes() {
    let Some(app) = super::app().await else { return };
    let customer = app.customer().await;
    let owner = app.admin(&customer, custom(&[Permission::NOTIFICATIONS])).await;
    let c = customer.as_str();
    let created = app
        .cli(&[
            "principal",
            "create",
            "--customer",
            c,
            "--name",
            "etl",
            "--access",
            "custom",
            "--permission",
            "systemLog",
            "--expires-in-days",
            "30",
        ])
        .await;
    assert_eq!(created["access"], json!({ "accessType": "Custom", "policies": ["systemLog"] }), "{created}");
    let principal = client_of(&customer, &created);
    let held = app.cli(&["client", "secret", "list", "--customer", c, "--id", &principal.id.to_string()]).await;
    let expires = time::OffsetDateTime::parse(
        held["items"][0]["expiresAt"].as_str().expect("an expiry"),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let days = (expires - time::OffsetDateTime::now_utc()).whole_days();
    assert_eq!(days, 29, "--expires-in-days 30 sets the first secret's expiry: {held}");
    assert_eq!(grant_becomes(&app, &principal, StatusCode::OK).await, StatusCode::OK);

    let id = principal.id.to_string();
    let changed = app.cli(&["principal", "set-access", "--customer", c, "--id", &id, "--access", "full"]).await;
    assert_eq!(changed["access"]["accessType"], "Full");
    let client = app.client(&customer, &owner).await;
    let converted = app.cli(&["principal", "convert", "--customer", c, "--id", &client.id.to_string()]).await;
    assert_eq!(converted["access"], json!({ "accessType": "Custom", "policies": ["notifications"] }), "{converted}");
    let listed = app.cli(&["principal", "list", "--customer", c]).await;
    let mut ids: Vec<_> =
        listed["items"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap().to_owned()).collect();
    let mut expected = vec![id.clone(), client.id.to_string()];
    ids.sort();
    expected.sort();
    assert_eq!(ids, expected);

    let deleted = app.cli(&["principal", "delete", "--customer", c, "--id", &id]).await;
    assert_eq!(deleted["deleted"], true);
    assert_eq!(grant_becomes(&app, &principal, StatusCode::BAD_REQUEST).await, StatusCode::BAD_REQUEST);
    let types = app.log_types(&customer).await;
    for event in ["create", "update", "convert", "delete"] {
        assert!(types.contains(&format!("platform:serviceprincipal/{event}")), "{event} is logged: {types:?}");
    }
}

/// SP6 for principals: every secret of a principal expires — the one it is created with (a year)
/// and any added later (an expiry must be given); any Full administrator manages them (SP3).
#[tokio::test]
async fn sp6_a_principals_secrets_always_expire_and_full_administrators_rotate_them() {
    let Some(app) = super::app().await else { return };
    let (customer, boss, other_full) = app.customer_with_colleagues().await;
    let (status, created) = create(&app, &app.sign_in(&boss).await, &customer, access_body("Full", &[])).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secrets = format!("/api/v1/customers/{customer}/api-clients/{}/secrets", created["id"].as_str().unwrap());
    let session = app.sign_in(&other_full).await;
    let (status, listed) = app.as_admin(&session, Method::GET, &secrets, None).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let first = &listed["items"][0];
    assert!(first["expiresAt"].is_string(), "the first secret expires: {listed}");

    let (status, refused) = app.as_admin(&session, Method::POST, &secrets, Some(json!({}))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert!(refused.to_string().contains("expiryRequired"), "{refused}");
    let in_90_days = (time::OffsetDateTime::now_utc() + time::Duration::days(90))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let (status, added) =
        app.as_admin(&session, Method::POST, &secrets, Some(json!({ "expiresAt": in_90_days }))).await;
    assert!(status.is_success(), "{status} {added}");
    let rotated = TestClient {
        secret: added["secret"].as_str().expect("shown once").to_owned(),
        ..client_of(&customer, &created)
    };
    app.token(&rotated).await;
}

fn rfc3339_in(days: i64) -> (time::OffsetDateTime, String) {
    let at = (time::OffsetDateTime::now_utc() + time::Duration::days(days)).replace_nanosecond(0).unwrap();
    (at, at.format(&time::format_description::well_known::Rfc3339).unwrap())
}

/// The first secret's expiry is chosen at creation, within the same bounds as any secret's; a
/// refused one creates nothing.
#[tokio::test]
async fn a_principals_first_secret_expires_when_chosen_and_a_past_or_too_far_expiry_is_refused_with_400() {
    let Some(app) = super::app().await else { return };
    let (customer, _, session) = app.customer_with_session(Access::Full).await;
    for days in [-1, 731] {
        let (_, at) = rfc3339_in(days);
        let mut body = access_body("Full", &[]);
        body["secretExpiresAt"] = json!(at);
        let (status, refused) = create(&app, &session, &customer, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{days} days: {refused}");
        assert!(refused.to_string().contains("secretExpiresAt"), "{refused}");
    }
    let (status, listed) = app.as_admin(&session, Method::GET, &principals(&customer), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["items"], json!([]), "a refused principal is not created");

    let (chosen, at) = rfc3339_in(30);
    let mut body = access_body("Full", &[]);
    body["secretExpiresAt"] = json!(at);
    let (status, created) = create(&app, &session, &customer, body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secrets = format!("/api/v1/customers/{customer}/api-clients/{}/secrets", created["id"].as_str().unwrap());
    let (status, listed) = app.as_admin(&session, Method::GET, &secrets, None).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let stored = time::OffsetDateTime::parse(
        listed["items"][0]["expiresAt"].as_str().expect("an expiry"),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(stored, chosen, "{listed}");
    app.token(&client_of(&customer, &created)).await;
}
