//! SCIM 2.0 provisioning (issue 12) over real HTTP: the customer's identity provider creates,
//! disables and deletes administrators, and the rules follow — R7 on disable (clients stay,
//! the warning appears, or they are suspended under the stricter policy), R6 on delete — all in
//! the system log with the provider's token as actor.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use trustgate_core::access::{Access, Permission};
use trustgate_core::event::Actor;
use trustgate_core::ids::{AdminId, CustomerId};

use crate::harness::{custom, status_and_json, Session, TestAdmin, TestApp};

const TOKEN_NAME: &str = "Entra provisioning";

struct Provider {
    base: String,
    token: String,
}

/// A Full administrator creates a SCIM token for `customer` through the management API.
async fn provider(app: &TestApp, customer: &CustomerId, full: &Session) -> Provider {
    let (status, body) = app
        .as_admin(
            full,
            Method::POST,
            &format!("/api/v1/customers/{customer}/scim-tokens"),
            Some(json!({ "name": TOKEN_NAME, "provider": "AzureAd" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(body["scimBaseUrl"].as_str().unwrap().ends_with(&format!("/scim/v2/{customer}")));
    Provider { base: format!("/scim/v2/{customer}"), token: body["secret"].as_str().unwrap().to_owned() }
}

async fn scim(
    app: &TestApp,
    provider: &Provider,
    method: Method,
    path: &str,
    body: Option<Value>,
    if_match: Option<&str>,
) -> (StatusCode, Value, Option<String>) {
    let mut request = app
        .http
        .request(method, app.url(&format!("{}{path}", provider.base)))
        .header("authorization", format!("Bearer {}", provider.token));
    if let Some(body) = body {
        request = request.header("content-type", "application/scim+json").body(body.to_string());
    }
    if let Some(tag) = if_match {
        request = request.header("if-match", tag);
    }
    let response = request.send().await.unwrap();
    let etag = response.headers().get("etag").and_then(|v| v.to_str().ok()).map(str::to_owned);
    if response.status() != StatusCode::NO_CONTENT {
        let media = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        assert_eq!(media, "application/scim+json", "every SCIM answer is application/scim+json");
    }
    let (status, body) = status_and_json(response).await;
    (status, body, etag)
}

/// `POST /Users` with `user`, as the provider provisions an administrator.
async fn provision(app: &TestApp, provider: &Provider, user: Value) -> (StatusCode, Value, Option<String>) {
    scim(app, provider, Method::POST, "/Users", Some(user), None).await
}

async fn scim_get(app: &TestApp, provider: &Provider, path: &str) -> (StatusCode, Value, Option<String>) {
    scim(app, provider, Method::GET, path, None, None).await
}

/// A customer, a Full administrator of it signed in, and the SCIM token they made: where most
/// provisioning starts.
async fn customer_with_provider(app: &TestApp) -> (CustomerId, Session, Provider) {
    let customer = app.customer().await;
    let (_, full) = full_admin(app, &customer).await;
    let provider = provider(app, &customer, &full).await;
    (customer, full, provider)
}

fn user(name: &str, external_id: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": name,
        "externalId": external_id,
        "name": { "givenName": "Grace", "familyName": "Hopper" },
        "emails": [{ "value": name, "type": "work", "primary": true }],
        "active": true,
    })
}

async fn full_admin(app: &TestApp, customer: &CustomerId) -> (TestAdmin, Session) {
    let admin = app.admin(customer, Access::Full).await;
    let session = app.session_for(&admin).await;
    (admin, session)
}

fn by_provider(records: &[trustgate_store::LogRecord], event_type: &str) -> usize {
    records
        .iter()
        .filter(|r| r.event_type == event_type && r.actor_type == "IdentityProvider" && r.actor_name == TOKEN_NAME)
        .count()
}

#[tokio::test]
async fn provider_disabling_keeps_clients_with_a_warning_until_suspended_and_deleting_removes_them() {
    let Some(app) = super::app().await else { return };
    let (customer, full, provider) = customer_with_provider(&app).await;

    let (status, created, _) = provision(&app, &provider, user("grace@example.com", "entra-oid-1")).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = AdminId::parse(created["id"].as_str().unwrap()).unwrap();
    // Provisioned with no access: a Full administrator grants it.
    assert_eq!(app.store.standing(&customer, id).await.unwrap().unwrap().access, custom(&[]));
    app.store.set_access(&customer, id, custom(&[Permission::API_CLIENTS]), &Actor::System).await.unwrap();
    let grace = TestAdmin { id, email: "grace@example.com".to_owned(), password: String::new() };
    let client = app.client(&customer, &grace).await;
    app.token(&client).await;

    let disable = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{ "op": "Replace", "path": "active", "value": "False" }],
    });
    let (status, patched, _) = scim(&app, &provider, Method::PATCH, &format!("/Users/{id}"), Some(disable), None).await;
    assert_eq!((status, &patched["active"]), (StatusCode::OK, &json!(false)), "{patched}");

    // R7: the disabled administrator's client still gets tokens, and every Full admin is warned.
    app.token(&client).await;
    let (status, warning) =
        app.as_admin(&full, Method::GET, &format!("/api/v1/customers/{customer}/disabled-owners"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(warning["items"][0]["email"], "grace@example.com");
    assert_eq!(warning["items"][0]["activeClients"], 1);
    assert_eq!(warning["waysOut"], json!(["removeAdministrator", "setPolicySuspendClients"]));
    let cli = app.cli(&["customer", "disabled-owners", "--customer", customer.as_str()]).await;
    assert_eq!(cli["items"][0]["adminId"], id.to_string());
    let home = console(&app, &full, &format!("/console/c/{customer}")).await;
    assert!(home.contains("id=\"r7-warning\"") && home.contains("grace@example.com"), "{home}");

    // The banner's second way out: the customer suspends clients of disabled admins.
    let suspend = format!("/console/c/{customer}/suspend-disabled-owners");
    let response = app.console_post(&full, &suspend, &[("csrf", full.csrf.as_str())]).await;
    // Redirected (and followed) back to the customer's home page.
    assert_eq!((response.status(), response.url().path()), (StatusCode::OK, format!("/console/c/{customer}").as_str()));
    let (status, refused) = app.grant(&client).await;
    assert_ne!(status, StatusCode::OK, "suspended under the stricter policy: {refused}");
    assert!(!console(&app, &full, &format!("/console/c/{customer}")).await.contains("r7-warning"));

    let (status, _, _) = scim(&app, &provider, Method::DELETE, &format!("/Users/{id}"), None, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // R6: removed from the customer, the client is gone at once.
    assert!(app.store.client_grant(client.id).await.unwrap().is_none());
    assert!(app.store.admin(id).await.unwrap().is_none(), "a member of no other customer is deleted altogether");
    let (status, _, _) = scim_get(&app, &provider, &format!("/Users/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let log = app.log(&customer).await;
    assert_eq!(by_provider(&log, "delegatedadministration:administrator/create"), 1);
    assert_eq!(by_provider(&log, "delegatedadministration:administrator/disable"), 1);
    assert_eq!(by_provider(&log, "delegatedadministration:administrator/delete"), 1);
    assert_eq!(
        log.iter().filter(|r| r.event_type == "platform:secureclient/delete" && r.actor_name == TOKEN_NAME).count(),
        1
    );
}

async fn console(app: &TestApp, session: &Session, path: &str) -> String {
    let response = app.console_get(session, path).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.unwrap()
}

#[tokio::test]
async fn provider_enabling_an_admin_again_is_logged_and_their_clients_follow() {
    let Some(app) = super::app().await else { return };
    let (customer, _, provider) = customer_with_provider(&app).await;
    let mut body = user("ada@example.com", "okta-1");
    body["active"] = json!(false);
    let (status, created, _) = provision(&app, &provider, body).await;
    assert_eq!((status, &created["active"]), (StatusCode::CREATED, &json!(false)));
    let id = created["id"].as_str().unwrap();
    let enable = json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{ "op": "replace", "value": { "active": true } }] });
    let (status, patched, _) = scim(&app, &provider, Method::PATCH, &format!("/Users/{id}"), Some(enable), None).await;
    assert_eq!((status, &patched["active"]), (StatusCode::OK, &json!(true)));
    assert_eq!(by_provider(&app.log(&customer).await, "delegatedadministration:administrator/enable"), 1);
}

#[tokio::test]
async fn users_are_found_by_user_name_or_external_id_and_paged() {
    let Some(app) = super::app().await else { return };
    let (_, _, provider) = customer_with_provider(&app).await;
    for n in 0..3 {
        let (status, _, _) = provision(&app, &provider, user(&format!("u{n}@example.com"), &format!("ext-{n}"))).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (_, found, _) = scim_get(&app, &provider, "/Users?filter=userName%20eq%20%22U1@EXAMPLE.com%22").await;
    assert_eq!(
        (found["totalResults"].clone(), found["Resources"][0]["externalId"].clone()),
        (json!(1), json!("ext-1"))
    );
    let (_, found, _) = scim_get(&app, &provider, "/Users?filter=externalId%20eq%20%22ext-2%22").await;
    assert_eq!(found["Resources"][0]["userName"], "u2@example.com");
    let (_, none, _) = scim_get(&app, &provider, "/Users?filter=externalId%20eq%20%22EXT-2%22").await;
    assert_eq!(none["totalResults"], 0, "externalId is compared exactly");
    let (_, page, _) = scim_get(&app, &provider, "/Users?startIndex=2&count=1").await;
    assert_eq!(
        (page["totalResults"].clone(), page["startIndex"].clone(), page["itemsPerPage"].clone()),
        (json!(3), json!(2), json!(1))
    );
    // Users made within one millisecond come in an order of their own: walk every page instead.
    let mut walked = Vec::new();
    for start in 1..=3 {
        let (_, page, _) = scim_get(&app, &provider, &format!("/Users?startIndex={start}&count=1")).await;
        walked.push(page["Resources"][0]["userName"].as_str().unwrap_or_default().to_owned());
    }
    walked.sort();
    assert_eq!(walked, ["u0@example.com", "u1@example.com", "u2@example.com"], "each user on exactly one page");
    let (status, refused, _) = scim_get(&app, &provider, "/Users?filter=displayName%20co%20%22x%22").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(refused["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:Error"]));
    assert_eq!((refused["scimType"].clone(), refused["status"].clone()), (json!("invalidFilter"), json!("400")));
}

#[tokio::test]
async fn a_stale_version_is_refused_and_user_names_are_unique() {
    let Some(app) = super::app().await else { return };
    let (_, _, provider) = customer_with_provider(&app).await;
    let (_, created, etag) = provision(&app, &provider, user("lin@example.com", "e-1")).await;
    let id = created["id"].as_str().unwrap();
    let etag = etag.unwrap();
    assert_eq!(created["meta"]["version"], etag.as_str());
    let mut renamed = user("lin@example.com", "e-1");
    renamed["displayName"] = json!("Lin Ma");
    let (status, replaced, new_etag) =
        scim(&app, &provider, Method::PUT, &format!("/Users/{id}"), Some(renamed.clone()), Some(&etag)).await;
    assert_eq!((status, &replaced["displayName"]), (StatusCode::OK, &json!("Lin Ma")));
    assert_ne!(new_etag.as_deref(), Some(etag.as_str()));
    let (status, stale, _) =
        scim(&app, &provider, Method::PUT, &format!("/Users/{id}"), Some(renamed), Some(&etag)).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{stale}");
    let (status, _, _) = scim(&app, &provider, Method::DELETE, &format!("/Users/{id}"), None, Some(&etag)).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    let (status, duplicate, _) = provision(&app, &provider, user("LIN@example.com", "e-2")).await;
    assert_eq!((status, &duplicate["scimType"]), (StatusCode::CONFLICT, &json!("uniqueness")));
}

#[tokio::test]
async fn only_a_live_token_of_the_customer_provisions_and_only_full_admins_make_one() {
    let Some(app) = super::app().await else { return };
    let customer = app.customer().await;
    let other = app.customer().await;
    let (_, full) = full_admin(&app, &customer).await;
    let (_, other_full) = full_admin(&app, &other).await;
    let ours = provider(&app, &customer, &full).await;
    let theirs = provider(&app, &other, &other_full).await;
    let crossed = Provider { base: ours.base.clone(), token: theirs.token.clone() };
    let (status, body, _) = scim_get(&app, &crossed, "/Users").await;
    assert_eq!((status, &body["status"]), (StatusCode::UNAUTHORIZED, &json!("401")));
    let forged = Provider { base: ours.base.clone(), token: "tgp_not-a-token".to_owned() };
    assert_eq!(scim_get(&app, &forged, "/Users").await.0, StatusCode::UNAUTHORIZED);

    let (_, list) = app.as_admin(&full, Method::GET, &format!("/api/v1/customers/{customer}/scim-tokens"), None).await;
    let token_id = list["items"][0]["id"].as_str().unwrap().to_owned();
    assert!(list["items"][0].get("secret").is_none());
    let (status, _) = app
        .as_admin(&full, Method::DELETE, &format!("/api/v1/customers/{customer}/scim-tokens/{token_id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(scim_get(&app, &ours, "/Users").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.log_of(&customer, "platform:scimtoken/delete").await.len(), 1);

    let manager = app.admin(&customer, custom(&[Permission::ADMINISTRATORS])).await;
    let manager = app.session_for(&manager).await;
    let (status, _) = app
        .as_admin(
            &manager,
            Method::POST,
            &format!("/api/v1/customers/{customer}/scim-tokens"),
            Some(json!({ "name": "mine", "provider": "Okta" })),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_operator_cli_creates_lists_and_revokes_tokens() {
    let Some(app) = super::app().await else { return };
    let customer = app.customer().await;
    let created = app
        .cli(&["scim-token", "create", "--customer", customer.as_str(), "--name", "okta", "--provider", "okta"])
        .await;
    let provider =
        Provider { base: format!("/scim/v2/{customer}"), token: created["secret"].as_str().unwrap().to_owned() };
    let (status, config, _) = scim_get(&app, &provider, "/ServiceProviderConfig").await;
    assert_eq!((status, &config["patch"]["supported"]), (StatusCode::OK, &json!(true)));
    let listed = app.cli(&["scim-token", "list", "--customer", customer.as_str()]).await;
    assert_eq!(listed["items"][0]["provider"], "Okta");
    let id = created["id"].as_str().unwrap();
    app.cli(&["scim-token", "revoke", "--customer", customer.as_str(), "--id", id]).await;
    assert_eq!(scim_get(&app, &provider, "/Users").await.0, StatusCode::UNAUTHORIZED);
}

/// Issue #20: customer A's provider provisions subject X; customer B later adds its own
/// administrator with the same (AzureAd, X). They are two people to Trustgate: nothing A's SCIM
/// token does — disable, re-point the subject — reaches B's administrator, and A learns nothing
/// of which subjects B knows.
#[tokio::test]
async fn one_customers_provider_cannot_disable_or_repoint_another_customers_administrator() {
    let Some(app) = super::app().await else { return };
    let a = app.customer().await;
    let (_, a_full) = full_admin(&app, &a).await;
    let a_provider = provider(&app, &a, &a_full).await;
    let (status, provisioned, _) = provision(&app, &a_provider, user("newhire@b.example", "shared-oid")).await;
    assert_eq!(status, StatusCode::CREATED, "{provisioned}");
    let a_user = provisioned["id"].as_str().unwrap().to_owned();

    let b = app.customer().await;
    let b_boss = app.admin(&b, Access::Full).await;
    let b_token = app.token(&app.client(&b, &b_boss).await).await;
    let person = json!({"accessType": "Full", "providerType": "AzureAd", "type": "AdministratorUser",
                        "email": "newhire@b.example", "displayName": "New Hire", "externalUserId": "shared-oid"});
    let (status, added) = app.call(Method::POST, "/administrators/$create", &b_token, &b, Some(person)).await;
    assert_eq!(status, StatusCode::OK, "{added}");
    let b_admin = AdminId::parse(added["userId"].as_str().unwrap()).unwrap();
    assert_ne!(b_admin.to_string(), a_user, "B's administrator is a person of B's own");

    let disable = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{ "op": "Replace", "path": "active", "value": false }],
    });
    let (status, body, _) =
        scim(&app, &a_provider, Method::PATCH, &format!("/Users/{a_user}"), Some(disable), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut repointed = user("newhire@b.example", "attacker-sub");
    repointed["active"] = json!(false);
    let (status, body, _) =
        scim(&app, &a_provider, Method::PUT, &format!("/Users/{a_user}"), Some(repointed), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let member = app.store.member(&b, b_admin).await.unwrap().expect("still B's administrator");
    assert_eq!(member.admin.status, trustgate_core::admin::AdminStatus::Active, "A's disable does not reach B");
    assert_eq!(member.admin.external_id.as_deref(), Some("shared-oid"), "A's re-pointing does not reach B");
    assert_eq!(member.access, Access::Full);

    // A subject only B knows is no obstacle, and no tell, to A's provider.
    let b_only = json!({"accessType": "Full", "providerType": "AzureAd", "type": "AdministratorUser",
                        "email": "boss@b.example", "displayName": "Boss", "externalUserId": "b-only-oid"});
    assert_eq!(app.call(Method::POST, "/administrators/$create", &b_token, &b, Some(b_only)).await.0, StatusCode::OK);
    let (status, body, _) = provision(&app, &a_provider, user("probe@a.example", "b-only-oid")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// Issue #20: a filter holding a NUL byte is bad input on both stores (PostgreSQL answered 500).
#[tokio::test]
async fn a_filter_holding_a_nul_byte_is_refused_with_400() {
    let Some(app) = super::app().await else { return };
    let (_, _, provider) = customer_with_provider(&app).await;
    let (status, body, _) = scim_get(&app, &provider, "/Users?filter=userName%20eq%20%22a%00b%22").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["scimType"], "invalidFilter");
}

/// A SCIM token that names the provider's directory (the Entra tenant id) gives it to the
/// administrators it provisions, who then list with that `providerId` as Terraform-created ones
/// do; the token shows it, in the API and in the CLI (issue #22).
#[tokio::test]
async fn administrators_provisioned_by_a_token_naming_a_tenant_carry_it_as_their_provider_id() {
    let Some(app) = super::app().await else { return };
    let customer = app.customer().await;
    let (_, full) = full_admin(&app, &customer).await;
    let tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    let (status, body) = app
        .as_admin(
            &full,
            Method::POST,
            &format!("/api/v1/customers/{customer}/scim-tokens"),
            Some(json!({ "name": TOKEN_NAME, "provider": "AzureAd", "providerId": tenant })),
        )
        .await;
    assert_eq!((status, &body["providerId"]), (StatusCode::CREATED, &json!(tenant)), "{body}");
    let provider =
        Provider { base: format!("/scim/v2/{customer}"), token: body["secret"].as_str().unwrap().to_owned() };
    let (status, created, _) = provision(&app, &provider, user("ada@example.com", "aad-ada")).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");

    let client = app.client(&customer, &app.admin(&customer, Access::Full).await).await;
    let token = app.token(&client).await;
    let (_, page) = app.get("/administrators", &token, &customer).await;
    let ada = page["items"].as_array().unwrap().iter().find(|i| i["email"] == "ada@example.com").expect("listed");
    assert_eq!(ada["providerId"], tenant, "{ada}");

    let (_, list) = app.as_admin(&full, Method::GET, &format!("/api/v1/customers/{customer}/scim-tokens"), None).await;
    assert_eq!(list["items"][0]["providerId"], tenant, "{list}");
    let cli = app
        .cli(&[
            "scim-token",
            "create",
            "--customer",
            customer.as_str(),
            "--name",
            "second",
            "--provider",
            "azure-ad",
            "--provider-id",
            " corp.example.com ",
        ])
        .await;
    assert_eq!(cli["providerId"], "corp.example.com", "{cli}");
}

/// A group as the provider creates it, with `members` (User ids).
fn group(name: &str, members: &[AdminId]) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": name,
        "externalId": format!("entra-{name}"),
        "members": members.iter().map(|m| json!({ "value": m.to_string(), "display": "Grace" })).collect::<Vec<_>>(),
    })
}

/// Provisions a person with no access of their own, as Entra ID does before adding them to groups.
async fn provisioned(app: &TestApp, provider: &Provider, name: &str) -> TestAdmin {
    let (status, created, _) = provision(app, provider, user(name, &format!("oid-{name}"))).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    TestAdmin {
        id: AdminId::parse(created["id"].as_str().unwrap()).unwrap(),
        email: name.to_owned(),
        password: String::new(),
    }
}

/// A Full administrator's API client sets a group's access through Citrix's Administrators API.
async fn set_group_access(app: &TestApp, customer: &CustomerId, token: &str, group: &str, body: Value) -> StatusCode {
    let path = format!("/administrators/access?id=OID:/citrix/{group}");
    let (status, answer) = app.call(Method::PUT, &path, token, customer, Some(body)).await;
    assert!(status == StatusCode::OK || status.is_client_error(), "{answer}");
    status
}

fn policies(names: &[&str]) -> Value {
    json!({
        "accessType": "Custom",
        "policies": names.iter().map(|n| json!({
            "name": n, "serviceName": "Platform", "displayName": n,
            "checkable": { "value": true, "canChangeValue": true },
        })).collect::<Vec<_>>(),
    })
}

#[tokio::test]
async fn r5_through_groups_a_members_clients_follow_their_groups_at_their_next_call_and_r6_when_the_last_access_goes() {
    let Some(app) = super::app().await else { return };
    let (customer, _, provider) = customer_with_provider(&app).await;
    let (full, _) = full_admin(&app, &customer).await;
    let full_token = app.token(&app.client(&customer, &full).await).await;
    let grace = provisioned(&app, &provider, "grace@example.com").await;
    let (status, created, _) =
        scim(&app, &provider, Method::POST, "/Groups", Some(group("Operators", &[grace.id])), None).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let group_id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["members"][0]["value"], grace.id.to_string());

    // A Full administrator gives the group access; Grace holds it through the group alone.
    let granted = policies(&["apiClients", "notifications", "systemLog"]);
    assert_eq!(set_group_access(&app, &customer, &full_token, &group_id, granted).await, StatusCode::OK);
    let standing = app.store.standing(&customer, grace.id).await.unwrap().unwrap();
    assert_eq!(standing.access, custom(&[Permission::API_CLIENTS, Permission::NOTIFICATIONS, Permission::SYSTEM_LOG]));
    let client = app.client(&customer, &grace).await;
    let token = app.token(&client).await;
    assert_eq!(app.get("/systemlog/records", &token, &customer).await.0, StatusCode::OK);

    // R5 through the group: reducing the group's access reduces her client on its very next call,
    // with the token it already holds.
    assert_eq!(
        set_group_access(&app, &customer, &full_token, &group_id, policies(&["notifications"])).await,
        StatusCode::OK
    );
    assert_eq!(app.get("/systemlog/records", &token, &customer).await.0, StatusCode::FORBIDDEN);
    assert_eq!(app.post_notification(&token, &customer).await, StatusCode::OK);

    // The Administrators API lists the group in Citrix's shape and answers its access by ucOid.
    let (status, list) = app.get("/administrators?type=AdministratorGroup", &full_token, &customer).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["items"][0]["type"], "AdministratorGroup");
    assert_eq!(list["items"][0]["ucOid"], format!("OID:/citrix/{group_id}"));
    assert_eq!(list["items"][0]["displayName"], "Operators");
    let (status, access) =
        app.get(&format!("/administrators/OID:%2Fcitrix%2F{group_id}/access"), &full_token, &customer).await;
    assert_eq!(status, StatusCode::OK, "{access}");
    assert_eq!(access["accessType"], "Custom");

    // Entra ID removes her from the group: her last access goes, and with it her client (R6) and
    // her place in the customer (the default choice).
    let remove = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{ "op": "Remove", "path": format!("members[value eq \"{}\"]", grace.id) }],
    });
    let (status, patched, _) =
        scim(&app, &provider, Method::PATCH, &format!("/Groups/{group_id}"), Some(remove), None).await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert!(patched.get("members").is_none(), "{patched}");
    assert_eq!(app.post_notification(&token, &customer).await, StatusCode::UNAUTHORIZED);
    assert!(app.store.client_grant(client.id).await.unwrap().is_none());
    assert!(app.store.member(&customer, grace.id).await.unwrap().is_none());

    let log = app.log(&customer).await;
    assert_eq!(by_provider(&log, "delegatedadministration:group/create"), 1);
    assert_eq!(by_provider(&log, "delegatedadministration:group/member/add"), 1);
    assert_eq!(by_provider(&log, "delegatedadministration:group/member/remove"), 1);
    let access_changes: Vec<_> =
        log.iter().filter(|r| r.event_type == "delegatedadministration:group/access").collect();
    assert_eq!(access_changes.len(), 2);
    assert!(access_changes.iter().all(|r| r.actor_type == "SecureClient"), "the actor is the Full admin's client");
    assert_eq!(
        log.iter().filter(|r| r.event_type == "platform:secureclient/delete" && r.actor_name == TOKEN_NAME).count(),
        1
    );
}

#[tokio::test]
async fn groups_come_and_go_by_scim_okta_style_and_only_a_full_administrator_gives_them_access() {
    let Some(app) = super::app().await else { return };
    let (customer, _, provider) = customer_with_provider(&app).await;
    let ada = provisioned(&app, &provider, "ada@example.com").await;
    let alan = provisioned(&app, &provider, "alan@example.com").await;
    let (status, created, _) = scim(&app, &provider, Method::POST, "/Groups", Some(group("Auditors", &[])), None).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let (status, again, _) = scim(&app, &provider, Method::POST, "/Groups", Some(group("auditors", &[])), None).await;
    assert_eq!(status, StatusCode::CONFLICT, "names are unique regardless of case: {again}");

    // Okta adds and removes members with the values in the operation.
    let add = json!({ "Operations": [{ "op": "add", "path": "members", "value": [
        { "value": ada.id.to_string() }, { "value": alan.id.to_string() }] }] });
    let (status, patched, _) = scim(&app, &provider, Method::PATCH, &format!("/Groups/{id}"), Some(add), None).await;
    assert_eq!((status, patched["members"].as_array().map(Vec::len)), (StatusCode::OK, Some(2)), "{patched}");
    let remove =
        json!({ "Operations": [{ "op": "remove", "path": "members", "value": [{ "value": ada.id.to_string() }] }] });
    let (status, patched, _) = scim(&app, &provider, Method::PATCH, &format!("/Groups/{id}"), Some(remove), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(patched["members"], json!([{ "value": alan.id.to_string() }]));

    let (status, found, _) = scim_get(&app, &provider, "/Groups?filter=displayName%20eq%20%22AUDITORS%22").await;
    assert_eq!((status, &found["totalResults"]), (StatusCode::OK, &json!(1)), "{found}");

    // A Custom administrator with the right to manage administrators cannot give a group access.
    let custom_admin = app.admin(&customer, custom(&[Permission::ADMINISTRATORS, Permission::API_CLIENTS])).await;
    let custom_token = app.token(&app.client(&customer, &custom_admin).await).await;
    assert_eq!(
        set_group_access(&app, &customer, &custom_token, &id, json!({ "accessType": "Full", "policies": null })).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(app.store.standing(&customer, alan.id).await.unwrap().unwrap().access, custom(&[]));

    // Another customer's token and URL never reach the group: 404 in its own customer's URL.
    let (other, _, other_provider) = customer_with_provider(&app).await;
    let (status, _, _) = scim_get(&app, &other_provider, &format!("/Groups/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let hostile = Provider { base: format!("/scim/v2/{customer}"), token: other_provider.token.clone() };
    assert_eq!(scim_get(&app, &hostile, &format!("/Groups/{id}")).await.0, StatusCode::UNAUTHORIZED);
    let (other_full, _) = full_admin(&app, &other).await;
    let other_token = app.token(&app.client(&other, &other_full).await).await;
    assert_eq!(
        set_group_access(&app, &other, &other_token, &id, json!({ "accessType": "Full", "policies": null })).await,
        StatusCode::NOT_FOUND
    );

    let (status, _, _) = scim(&app, &provider, Method::DELETE, &format!("/Groups/{id}"), None, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(scim_get(&app, &provider, &format!("/Groups/{id}")).await.0, StatusCode::NOT_FOUND);
    let log = app.log(&customer).await;
    assert_eq!(by_provider(&log, "delegatedadministration:group/delete"), 1);
}

/// Citrix's `AdministratorType`, as its Administrators API documents the enum: a list holding users,
/// groups and principals decodes with every item's `type` among these, strictly.
#[derive(Debug, serde::Deserialize, PartialEq, Eq, Clone, Copy)]
enum AdministratorType {
    AdministratorUser,
    AdministratorGroup,
    ServicePrincipal,
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct AdministratorResult {
    uc_oid: String,
    #[serde(rename = "type")]
    kind: AdministratorType,
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct AdministratorList {
    items: Vec<AdministratorResult>,
    continuation_token: Option<String>,
}

#[tokio::test]
async fn a_list_of_users_groups_and_principals_decodes_with_citrix_administrator_types_across_pages() {
    let Some(app) = super::app().await else { return };
    let (customer, _, provider) = customer_with_provider(&app).await;
    let (full, _) = full_admin(&app, &customer).await;
    let token = app.token(&app.client(&customer, &full).await).await;
    provisioned(&app, &provider, "ada@example.com").await;
    for name in ["Operators", "Auditors"] {
        assert_eq!(
            scim(&app, &provider, Method::POST, "/Groups", Some(group(name, &[])), None).await.0,
            StatusCode::CREATED
        );
    }
    trustgate_server::actions::clients::new_principal(
        app.store.as_ref(),
        &app.server_key,
        &customer,
        "nightly export",
        Access::Full,
        None,
        &Actor::System,
    )
    .await
    .unwrap();
    let mut seen = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let path = match &next {
            None => "/administrators?maxItemCount=2".to_owned(),
            Some(token) => format!("/administrators?maxItemCount=2&requestContinuation={token}"),
        };
        let text = app.get_text(&path, &token, &customer).await;
        let page: AdministratorList = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        seen.extend(page.items.iter().map(|i| (i.kind, i.uc_oid.clone())));
        match page.continuation_token {
            Some(token) => next = Some(token),
            None => break,
        }
    }
    let count = |kind| seen.iter().filter(|(k, _)| *k == kind).count();
    assert_eq!(
        (
            count(AdministratorType::AdministratorUser),
            count(AdministratorType::AdministratorGroup),
            count(AdministratorType::ServicePrincipal)
        ),
        (3, 2, 1),
        "{seen:?}"
    );
    let distinct: std::collections::BTreeSet<_> = seen.iter().map(|(_, oid)| oid.clone()).collect();
    assert_eq!(distinct.len(), seen.len(), "no item twice across pages");
}

#[tokio::test]
async fn the_console_shows_groups_with_their_members_and_a_full_administrator_sets_their_access() {
    let Some(app) = super::app().await else { return };
    let (customer, full, provider) = customer_with_provider(&app).await;
    let ada = provisioned(&app, &provider, "ada@example.com").await;
    let (status, created, _) =
        scim(&app, &provider, Method::POST, "/Groups", Some(group("Auditors", &[ada.id])), None).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();

    let page = console(&app, &full, &format!("/console/c/{customer}/groups")).await;
    assert!(page.contains("Auditors") && page.contains("ada@example.com") && page.contains("No access"), "{page}");
    assert!(page.contains("id=\"group-loss\""), "the page says what members lose: {page}");

    // A Full administrator gives the group System Log; Ada holds it through the group.
    let path = format!("/console/c/{customer}/groups/{id}");
    let form = [("csrf", full.csrf.as_str()), ("access", "Custom"), ("permission", "systemLog")];
    let response = app.console_post(&full, &path, &form).await;
    assert_eq!(response.status(), StatusCode::OK, "redirected back to the list");
    assert_eq!(app.store.standing(&customer, ada.id).await.unwrap().unwrap().access, custom(&[Permission::SYSTEM_LOG]));

    // A Custom administrator who manages administrators sees the groups but cannot give access.
    let custom_admin = app.admin(&customer, custom(&[Permission::ADMINISTRATORS])).await;
    let session = app.session_for(&custom_admin).await;
    let page = console(&app, &session, &format!("/console/c/{customer}/groups")).await;
    assert!(page.contains("Auditors") && !page.contains(&format!("/groups/{id}\"")), "{page}");
    let form = [("csrf", session.csrf.as_str()), ("access", "Full")];
    let response = app.console_post(&session, &path, &form).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.store.standing(&customer, ada.id).await.unwrap().unwrap().access, custom(&[Permission::SYSTEM_LOG]));
}

/// Grace, provisioned with no access of her own, holding apiClients+notifications through the
/// group "Operators" alone, with an API client and its token, and a console session.
struct GroupOnly {
    grace: TestAdmin,
    group: String,
    client: crate::harness::TestClient,
    token: String,
    session: Session,
}

async fn group_only_member(app: &TestApp, customer: &CustomerId, provider: &Provider) -> GroupOnly {
    let grace = provisioned(app, provider, "grace@example.com").await;
    let (status, created, _) =
        scim(app, provider, Method::POST, "/Groups", Some(group("Operators", &[grace.id])), None).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let group = created["id"].as_str().unwrap().to_owned();
    let id = trustgate_core::ids::GroupId::parse(&group).unwrap();
    let granted = custom(&[Permission::API_CLIENTS, Permission::NOTIFICATIONS]);
    app.store.set_group_access(customer, id, granted, &Actor::System).await.unwrap();
    let client = app.client(customer, &grace).await;
    let token = app.token(&client).await;
    assert_eq!(app.post_notification(&token, customer).await, StatusCode::OK);
    let session = app.session_for(&grace).await;
    assert_eq!(app.as_admin(&session, Method::GET, "/api/v1/session", None).await.0, StatusCode::OK);
    GroupOnly { grace, group, client, token, session }
}

fn remove_member(admin: AdminId) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{ "op": "Remove", "path": format!("members[value eq \"{admin}\"]") }],
    })
}

#[tokio::test]
async fn a_member_who_loses_their_last_access_through_a_group_is_removed_from_the_customer_with_their_clients() {
    let Some(app) = super::app().await else { return };
    let (customer, _, provider) = customer_with_provider(&app).await;
    let GroupOnly { grace, group, client, token, session } = group_only_member(&app, &customer, &provider).await;

    let path = format!("/Groups/{group}");
    let (status, patched, _) = scim(&app, &provider, Method::PATCH, &path, Some(remove_member(grace.id)), None).await;
    assert_eq!(status, StatusCode::OK, "{patched}");

    // Exactly as a removal by a Full administrator: no longer a member, clients deleted and their
    // tokens refused at once, her sessions ended (it was her only customer), in the system log.
    assert!(app.store.member(&customer, grace.id).await.unwrap().is_none());
    assert!(app.store.client_grant(client.id).await.unwrap().is_none());
    assert_eq!(app.post_notification(&token, &customer).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.as_admin(&session, Method::GET, "/api/v1/session", None).await.0, StatusCode::UNAUTHORIZED);
    let log = app.log(&customer).await;
    let removed: Vec<_> =
        log.iter().filter(|r| r.event_type == "delegatedadministration:administrator/delete").collect();
    assert_eq!(removed.len(), 1, "{removed:?}");
    assert_eq!((removed[0].actor_type.as_str(), removed[0].actor_name.as_str()), ("IdentityProvider", TOKEN_NAME));
    assert!(removed[0].message.contains("groups no longer give them any access"), "{}", removed[0].message);
    assert_eq!(by_provider(&log, "platform:secureclient/delete"), 1);

    // The provider finds the User no more, as after its own DELETE, and can provision the person
    // again: they come back with no access.
    assert_eq!(scim_get(&app, &provider, &format!("/Users/{}", grace.id)).await.0, StatusCode::NOT_FOUND);
    let (status, found, _) = scim_get(&app, &provider, "/Users?filter=userName%20eq%20%22grace%40example.com%22").await;
    assert_eq!((status, found["totalResults"].as_u64()), (StatusCode::OK, Some(0)), "{found}");
    let again = provisioned(&app, &provider, "grace@example.com").await;
    assert_eq!(app.store.standing(&customer, again.id).await.unwrap().unwrap().access, custom(&[]));
}

#[tokio::test]
async fn a_customer_that_keeps_members_without_access_keeps_them_and_deletes_only_their_clients() {
    let Some(app) = super::app().await else { return };
    let (customer, _, provider) = customer_with_provider(&app).await;
    let set = ["customer", "set-lost-access-policy", "--customer", customer.as_str()];
    let answer = app.cli(&[&set[..], &["--lost-access-policy", "keep-in-customer"]].concat()).await;
    assert_eq!(answer["lostAccessPolicy"], "keep-in-customer", "{answer}");
    let GroupOnly { grace, group: operators, client, token, session } =
        group_only_member(&app, &customer, &provider).await;

    // The provider deletes the group: Grace holds nothing now.
    let (status, _, _) = scim(&app, &provider, Method::DELETE, &format!("/Groups/{operators}"), None, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let member = app.store.member(&customer, grace.id).await.unwrap().expect("she stays in the customer");
    assert!(member.held().grants_nothing(), "{member:?}");
    assert!(app.store.client_grant(client.id).await.unwrap().is_none(), "her clients go either way (R6)");
    assert_eq!(app.post_notification(&token, &customer).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.as_admin(&session, Method::GET, "/api/v1/session", None).await.0, StatusCode::OK);
    assert_eq!(scim_get(&app, &provider, &format!("/Users/{}", grace.id)).await.0, StatusCode::OK);
    assert!(app.log_of(&customer, "delegatedadministration:administrator/delete").await.is_empty());
    let changed = app.log_of(&customer, "platform:customer/update").await;
    assert!(changed.iter().any(|r| r.message.contains("stays in the customer")), "{changed:?}");

    // Back to the default: the next member her groups leave without access is removed.
    let answer = app.cli(&[&set[..], &["--lost-access-policy", "remove-from-customer"]].concat()).await;
    assert_eq!(answer["lostAccessPolicy"], "remove-from-customer", "{answer}");
    let ada = provisioned(&app, &provider, "ada@example.com").await;
    let (status, created, _) =
        scim(&app, &provider, Method::POST, "/Groups", Some(group("Auditors", &[ada.id])), None).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let auditors = trustgate_core::ids::GroupId::parse(created["id"].as_str().unwrap()).unwrap();
    app.store.set_group_access(&customer, auditors, custom(&[Permission::SYSTEM_LOG]), &Actor::System).await.unwrap();
    let path = format!("/Groups/{auditors}");
    let (status, _, _) = scim(&app, &provider, Method::PATCH, &path, Some(remove_member(ada.id)), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(app.store.member(&customer, ada.id).await.unwrap().is_none());
}

#[tokio::test]
async fn a_group_change_never_leaves_a_customer_without_a_full_administrator() {
    let Some(app) = super::app().await else { return };
    let customer = app.customer().await;
    let (full, session) = full_admin(&app, &customer).await;
    let provider = provider(&app, &customer, &session).await;
    // The only Full administrator is in a group that gives Full too; the group's access goes, and
    // the group with it: they keep their own Full access, and their place.
    let (status, created, _) =
        scim(&app, &provider, Method::POST, "/Groups", Some(group("Admins", &[full.id])), None).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = trustgate_core::ids::GroupId::parse(created["id"].as_str().unwrap()).unwrap();
    app.store.set_group_access(&customer, id, Access::Full, &Actor::System).await.unwrap();
    app.store.set_group_access(&customer, id, custom(&[Permission::NOTIFICATIONS]), &Actor::System).await.unwrap();
    let (status, _, _) = scim(&app, &provider, Method::DELETE, &format!("/Groups/{id}"), None, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let member = app.store.member(&customer, full.id).await.unwrap().expect("still a member");
    assert_eq!(member.access, Access::Full);
    assert_eq!(app.as_admin(&session, Method::GET, "/api/v1/session", None).await.0, StatusCode::OK);
    // Nobody was removed from the customer on the way.
    assert!(app.log_of(&customer, "delegatedadministration:administrator/delete").await.is_empty());
}

#[tokio::test]
async fn a_full_administrator_chooses_in_the_console_what_happens_to_members_their_groups_leave_without_access() {
    let Some(app) = super::app().await else { return };
    let (customer, full, _) = customer_with_provider(&app).await;
    let page = console(&app, &full, &format!("/console/c/{customer}/administrators")).await;
    assert!(page.contains("id=\"lost-access-policy\""), "{page}");
    assert!(page.contains("id=\"lost-access-remove\" checked"), "removal is the default: {page}");
    let groups = console(&app, &full, &format!("/console/c/{customer}/groups")).await;
    assert!(groups.contains("is removed from this customer"), "{groups}");

    let path = format!("/console/c/{customer}/lost-access-policy");
    let response =
        app.console_post(&full, &path, &[("csrf", full.csrf.as_str()), ("policy", "keep-in-customer")]).await;
    assert_eq!(response.status(), StatusCode::OK, "redirected back to the page");
    let page = response.text().await.unwrap();
    assert!(page.contains("id=\"lost-access-keep\" checked"), "{page}");
    let stored = app.store.customer(&customer).await.unwrap().unwrap().lost_access_policy;
    assert_eq!(stored, trustgate_core::customer::LostAccessPolicy::KeepInCustomer);
    let groups = console(&app, &full, &format!("/console/c/{customer}/groups")).await;
    assert!(groups.contains("stays in this customer without access"), "{groups}");
    let log = app.log_of(&customer, "platform:customer/update").await;
    assert!(
        log.iter().any(|r| r.actor_type == "Administrator" && r.message.contains("stays in the customer")),
        "{log:?}"
    );

    // Someone without Full access neither sees the choice nor makes it.
    let limited = app.admin(&customer, custom(&[Permission::ADMINISTRATORS])).await;
    let session = app.session_for(&limited).await;
    let page = console(&app, &session, &format!("/console/c/{customer}/administrators")).await;
    assert!(!page.contains("id=\"lost-access-policy\""), "{page}");
    let form = [("csrf", session.csrf.as_str()), ("policy", "remove-from-customer")];
    assert_eq!(app.console_post(&session, &path, &form).await.status(), StatusCode::FORBIDDEN);
    let stored = app.store.customer(&customer).await.unwrap().unwrap().lost_access_policy;
    assert_eq!(stored, trustgate_core::customer::LostAccessPolicy::KeepInCustomer);
}

#[tokio::test]
async fn the_operator_lists_a_customers_groups_with_their_members_and_access_and_shows_one() {
    let Some(app) = super::app().await else { return };
    let (customer, _, provider) = customer_with_provider(&app).await;
    let listed = app.cli(&["group", "list", "--customer", customer.as_str()]).await;
    assert_eq!(listed["items"], json!([]), "{listed}");
    let ada = provisioned(&app, &provider, "ada@example.com").await;
    let (status, created, _) =
        scim(&app, &provider, Method::POST, "/Groups", Some(group("Auditors", &[ada.id])), None).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let group_id = trustgate_core::ids::GroupId::parse(&id).unwrap();
    app.store.set_group_access(&customer, group_id, custom(&[Permission::SYSTEM_LOG]), &Actor::System).await.unwrap();
    assert_eq!(
        scim(&app, &provider, Method::POST, "/Groups", Some(group("Empty", &[])), None).await.0,
        StatusCode::CREATED
    );

    let listed = app.cli(&["group", "list", "--customer", customer.as_str()]).await;
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{listed}");
    let auditors = items.iter().find(|g| g["id"] == id.as_str()).expect("the group is listed");
    assert_eq!(auditors["displayName"], "Auditors");
    assert_eq!(auditors["externalId"], "entra-Auditors");
    assert_eq!(auditors["access"], json!({ "accessType": "Custom", "policies": ["systemLog"] }));
    assert_eq!(auditors["members"], json!([{ "id": ada.id.to_string(), "email": "ada@example.com" }]));

    let shown = app.cli(&["group", "show", "--customer", customer.as_str(), "--group", &id]).await;
    assert_eq!(&shown, auditors);
    // Another customer's id does not reach the group.
    let other = app.customer().await;
    let (code, failure) = app.cli_fails(&["group", "show", "--customer", other.as_str(), "--group", &id]).await;
    assert_eq!((code, failure["error"].as_str()), (4, Some("notFound")), "{failure}");
}
