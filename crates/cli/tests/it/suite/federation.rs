//! Console sign-in through the customer's OpenID provider (issue #12), against a real provider
//! (npm `oidc-provider`): administrators are matched by (issuer, subject), the session reaches the
//! provider's customer only, and every refusal (cancelled, bad or replayed state, a code from
//! another sign-in, a provider that is not the issuer it claims) explains itself and signs nobody in.

use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::{json, Value};
use time::OffsetDateTime;
use trustgate_core::access::{Access, Permission};
use trustgate_core::admin::{Admin, AdminStatus, Email, Provider};
use trustgate_core::event::Actor;
use trustgate_core::federation::{IdentityProvider, DEFAULT_EMAIL_CLAIM};
use trustgate_core::group::AdminGroup;
use trustgate_core::ids::{AdminId, CustomerId, GroupId, ProviderId};
use trustgate_server::ServerConfig;

use crate::harness::{custom, Session, TestAdmin, TestApp};
use crate::idp::{self, Idp, Jar};

async fn app_and_idp(accounts: Value) -> Option<(TestApp, Idp)> {
    let app = super::app_with(ServerConfig { allow_http_issuers: true, ..ServerConfig::default() }).await?;
    let idp = Idp::start(&app.url, accounts).await?;
    Some((app, idp))
}

fn ada() -> Value {
    json!({
        "ada": { "email": "ada@example.com", "email_verified": true, "name": "Ada" },
        "unverified": { "email": "ada@example.com", "email_verified": false },
    })
}

async fn connect(app: &TestApp, customer: &CustomerId, issuer: &str) -> IdentityProvider {
    let id = ProviderId::generate();
    let provider = IdentityProvider {
        id,
        customer_id: customer.clone(),
        provider_type: Provider::Okta,
        issuer: issuer.to_owned(),
        client_id: idp::CLIENT_ID.to_owned(),
        sealed_secret: app
            .state
            .server_keys()
            .secret_vault
            .seal(id, &SecretString::from(idp::CLIENT_SECRET.to_owned())),
        email_claim: DEFAULT_EMAIL_CLAIM.to_owned(),
        created_at: OffsetDateTime::now_utc(),
    };
    app.store.connect_provider(&provider, &Actor::System).await.expect("connect the provider");
    provider
}

/// An Okta administrator of `customer`, known there by `email`, with `subject` as external id.
async fn okta_admin(app: &TestApp, customer: &CustomerId, email: &str, subject: Option<&str>) -> AdminId {
    let admin = Admin {
        id: AdminId::generate(),
        email: Email::parse(email).unwrap(),
        display_name: "Ada".to_owned(),
        provider: Provider::Okta,
        external_id: subject.map(str::to_owned),
        provider_id: None,
        status: AdminStatus::Active,
        created_at: OffsetDateTime::now_utc(),
    };
    app.store.create_admin(&admin, None).await.unwrap();
    app.store.add_member(customer, admin.id, Access::Full, &Actor::System).await.unwrap();
    admin.id
}

/// Acme with `idp` connected and Ada, its Okta administrator, known there by her e-mail and, when
/// given, by `subject`: where most sign-ins here start.
async fn acme_with_ada(app: &TestApp, idp: &Idp, subject: Option<&str>) -> (CustomerId, AdminId) {
    let acme = app.customer().await;
    connect(app, &acme, &idp.issuer).await;
    let ada = okta_admin(app, &acme, "ada@example.com", subject).await;
    (acme, ada)
}

/// Acme with a Full administrator and one who may manage administrators but not providers.
async fn acme_with_full_and_limited(app: &TestApp) -> (CustomerId, TestAdmin, TestAdmin) {
    let acme = app.customer().await;
    let full = app.admin(&acme, Access::Full).await;
    let limited = app.admin(&acme, custom(&[Permission::ADMINISTRATORS])).await;
    (acme, full, limited)
}

/// The console's sign-in page as a browser opens it: a client that follows no redirects, the
/// cookies it set, and the form's CSRF token.
async fn sign_in_form(app: &TestApp) -> (reqwest::Client, Jar, String) {
    let http = idp::no_redirects();
    let mut jar = Jar::default();
    let page = http.get(app.url("/console/sign-in")).send().await.unwrap();
    jar.keep(&page);
    let html = page.text().await.unwrap();
    let token = html.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    (http, jar, token)
}

/// Posts the sign-in page's provider form for `who`, returning to `next`, as the browser with
/// `jar` and the form's `token`.
async fn post_provider_form(
    app: &TestApp,
    (http, jar, token): &(reqwest::Client, Jar, String),
    next: &str,
    who: &str,
) -> reqwest::Response {
    let form = [("csrf", token.as_str()), ("next", next), ("who", who)];
    http.post(app.url("/console/sign-in/provider")).header("cookie", jar.header()).form(&form).send().await.unwrap()
}

/// Starts a sign-in from the console's sign-in page for `who`: the provider's authorization URL
/// and the browser's cookies (the one binding the sign-in to it among them).
async fn begin(app: &TestApp, who: &str) -> (String, Jar) {
    let browser = sign_in_form(app).await;
    let response = post_provider_form(app, &browser, "/console", who).await;
    let (_, mut jar, _) = browser;
    jar.keep(&response);
    let status = response.status();
    let page = response.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{page}");
    let link = page.split("id=\"continue-to-provider\" href=\"").nth(1).expect("the way on").split('"').next().unwrap();
    (link.replace("&amp;", "&").replace("&#x2f;", "/").replace("&#38;", "&"), jar)
}

/// The browser arriving back at `url` with `jar`: status, page, and the session cookie if any.
async fn arrive(url: &str, jar: &Jar) -> (StatusCode, String, Option<Session>) {
    let response = idp::no_redirects().get(url).header("cookie", jar.header()).send().await.unwrap();
    let mut after = Jar::default();
    after.keep(&response);
    let status = response.status();
    let page = response.text().await.unwrap();
    let session = after.get("tg_session").map(|id| Session { cookie: format!("tg_session={id}"), csrf: String::new() });
    (status, page, session)
}

async fn sign_in_as(app: &TestApp, idp: &Idp, who: &str, login: &str) -> (StatusCode, String, Option<Session>) {
    let (authorize, jar) = begin(app, who).await;
    let back = idp::log_in(idp, &authorize, login).await;
    arrive(&back, &jar).await
}

/// Asserts that a sign-in ended on a page with `status` that says `why`, with nobody signed in.
fn assert_refused((status, page, session): (StatusCode, String, Option<Session>), expected: StatusCode, why: &str) {
    assert_eq!(status, expected, "{page}");
    assert!(page.contains(why), "{page}");
    assert!(session.is_none());
}

#[tokio::test]
async fn an_administrator_signs_in_through_the_customers_provider_into_that_customer_only() {
    let Some((app, idp)) = app_and_idp(ada()).await else { return };
    let (acme, other) = (app.customer().await, app.customer().await);
    let provider = connect(&app, &acme, &idp.issuer).await;
    let admin = okta_admin(&app, &acme, "ada@example.com", Some("ada")).await;
    app.store.add_member(&other, admin, Access::Full, &Actor::System).await.unwrap();

    let (authorize, jar) = begin(&app, acme.as_str()).await;
    assert!(authorize.starts_with(&format!("{}/auth?", idp.issuer)), "{authorize}");
    for part in ["code_challenge_method=S256", "code_challenge=", "nonce=", "state=", "response_type=code"] {
        assert!(authorize.contains(part), "{part} missing from {authorize}");
    }
    assert!(jar.get("tg_oidc_state").is_some(), "the sign-in is bound to the browser");
    let back = idp::log_in(&idp, &authorize, "ada").await;
    let (status, page, session) = arrive(&back, &jar).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains(&format!("/console/c/{acme}")), "{page}");
    let mut session = session.expect("a session cookie");

    let (status, me) = app.as_admin(&session, Method::GET, "/api/v1/session", None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(me["admin"]["id"], admin.to_string());
    let customers: Vec<&str> = me["customers"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(customers, [acme.as_str()], "the provider vouches for this customer only");
    session.csrf = me["csrfToken"].as_str().unwrap().to_owned();
    let (status, _) =
        app.as_admin(&session, Method::GET, &format!("/api/v1/customers/{other}/api-clients"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{page}");
    let console = |customer: &CustomerId| {
        idp::no_redirects()
            .get(app.url(&format!("/console/c/{customer}")))
            .header("cookie", session.cookie.clone())
            .send()
    };
    assert_eq!(console(&acme).await.unwrap().status(), StatusCode::OK);
    assert_eq!(console(&other).await.unwrap().status(), StatusCode::NOT_FOUND);

    let records = app.log_of(&acme, "platform:signin/success").await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].actor_id.as_deref(), Some(admin.to_string().as_str()));
    assert!(records[0].message.contains(&provider.issuer), "{}", records[0].message);
    assert!(app.log_of(&other, "platform:signin/success").await.is_empty());
}

#[tokio::test]
async fn an_administrator_without_a_subject_is_linked_by_verified_email_once_then_known_by_subject() {
    let Some((app, idp)) = app_and_idp(ada()).await else { return };
    let (acme, admin) = acme_with_ada(&app, &idp, None).await;

    let (status, page, session) = sign_in_as(&app, &idp, "ada@example.com", "ada").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(session.is_some());
    let linked = app.store.admin(admin).await.unwrap().unwrap();
    assert_eq!(linked.external_id.as_deref(), Some("ada"), "the subject is now the external id");

    // Known by (issuer, subject) from now on, whatever e-mail the customer gives them.
    let (status, page, session) = sign_in_as(&app, &idp, acme.as_str(), "ada").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(session.is_some());
}

#[tokio::test]
async fn an_unverified_email_or_an_unknown_subject_signs_nobody_in() {
    let Some((app, idp)) = app_and_idp(ada()).await else { return };
    let (acme, admin) = acme_with_ada(&app, &idp, None).await;
    // A local administrator with the same e-mail is someone else: never reached through a provider.
    let local = app.admin(&acme, Access::Full).await;
    let _ = local;

    assert_refused(
        sign_in_as(&app, &idp, acme.as_str(), "unverified").await,
        StatusCode::FORBIDDEN,
        "not an administrator of this customer",
    );
    assert_eq!(app.store.admin(admin).await.unwrap().unwrap().external_id, None, "nobody was linked");
}

#[tokio::test]
async fn a_cancelled_sign_in_explains_itself_on_the_sign_in_page() {
    let Some((app, idp)) = app_and_idp(ada()).await else { return };
    let (acme, _) = acme_with_ada(&app, &idp, Some("ada")).await;

    let (authorize, jar) = begin(&app, acme.as_str()).await;
    let back = idp::cancel(&idp, &authorize).await;
    assert!(back.contains("error=access_denied"), "{back}");
    let refused = arrive(&back, &jar).await;
    assert!(refused.1.contains("id=\"provider-error\""), "shown on the sign-in page: {}", refused.1);
    let why = "cancelled or refused at your identity provider (access_denied)";
    assert_refused(refused, StatusCode::BAD_REQUEST, why);
}

#[tokio::test]
async fn a_state_is_used_once_and_only_by_the_browser_that_started_the_sign_in() {
    let Some((app, idp)) = app_and_idp(ada()).await else { return };
    let (acme, _) = acme_with_ada(&app, &idp, Some("ada")).await;

    let (authorize, jar) = begin(&app, acme.as_str()).await;
    let back = idp::log_in(&idp, &authorize, "ada").await;
    // Another browser (an attacker's link in a victim's): no binding cookie, nobody signed in.
    let (status, page, session) = arrive(&back, &Jar::default()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    assert!(page.contains("started in another browser"), "{page}");
    assert!(session.is_none());
    // The browser that started it still can, once.
    let (status, _, session) = arrive(&back, &jar).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(session.is_some());
    let (status, page, session) = arrive(&back, &jar).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a replayed state is refused");
    assert!(page.contains("already used"), "{page}");
    assert!(session.is_none());
}

#[tokio::test]
async fn a_code_issued_to_another_sign_in_fails_its_pkce_check() {
    let Some((app, idp)) = app_and_idp(ada()).await else { return };
    let (acme, _) = acme_with_ada(&app, &idp, Some("ada")).await;

    let (first, _) = begin(&app, acme.as_str()).await;
    let (_, second_jar) = begin(&app, acme.as_str()).await;
    let stolen = idp::log_in(&idp, &first, "ada").await;
    let code = stolen.split("code=").nth(1).unwrap().split('&').next().unwrap();
    let second_state = second_jar.get("tg_oidc_state").unwrap();
    let replayed = app.url(&format!("/console/sign-in/callback?code={code}&state={second_state}"));
    let refused = arrive(&replayed, &second_jar).await;
    assert!(refused.1.contains("invalid_grant"), "the provider refused the code verifier: {}", refused.1);
    assert_refused(refused, StatusCode::BAD_REQUEST, "did not check out");
}

#[tokio::test]
async fn a_provider_that_is_not_the_issuer_connected_is_refused() {
    let Some((app, idp)) = app_and_idp(ada()).await else { return };
    let acme = app.customer().await;
    // The same provider under another name: its discovery document names another issuer.
    let other_name = idp.issuer.replace("127.0.0.1", "localhost");
    connect(&app, &acme, &other_name).await;

    let response = post_provider_form(&app, &sign_in_form(&app).await, "/console", acme.as_str()).await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    let page = response.text().await.unwrap();
    assert!(page.contains("answered something unexpected"), "{page}");
    assert!(page.contains("issuer"), "{page}");
}

#[tokio::test]
async fn a_disabled_administrator_is_refused_and_the_refusal_is_logged() {
    let Some((app, idp)) = app_and_idp(ada()).await else { return };
    let (acme, admin) = acme_with_ada(&app, &idp, Some("ada")).await;
    app.store.set_admin_status(admin, AdminStatus::Disabled, &Actor::System).await.unwrap();

    assert_refused(
        sign_in_as(&app, &idp, acme.as_str(), "ada").await,
        StatusCode::FORBIDDEN,
        "disabled at your identity provider",
    );
    let refused = app.log_of(&acme, "platform:signin/failure").await;
    assert_eq!(refused.len(), 1);
    assert!(refused[0].message.contains("disabled"), "{}", refused[0].message);
}

#[tokio::test]
async fn the_sign_in_page_offers_providers_for_an_email_and_says_when_there_is_none() {
    let Some((app, idp)) = app_and_idp(ada()).await else { return };
    acme_with_ada(&app, &idp, Some("ada")).await;

    let (authorize, _) = begin(&app, "Ada@Example.com").await;
    assert!(authorize.starts_with(&idp.issuer), "{authorize}");

    let response = post_provider_form(&app, &sign_in_form(&app).await, "/console", "nobody@example.com").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(response.text().await.unwrap().contains("No identity provider is connected"));
}

#[tokio::test]
async fn only_full_administrators_connect_providers_and_the_client_secret_is_stored_sealed() {
    let Some(app) = super::app().await else { return };
    let (acme, full, limited) = acme_with_full_and_limited(&app).await;
    let as_admin = |admin: &TestAdmin| Actor::Admin { id: admin.id, name: admin.email.clone() };
    let provider = |issuer: &str| {
        let id = ProviderId::generate();
        IdentityProvider {
            id,
            customer_id: acme.clone(),
            provider_type: Provider::AzureAd,
            issuer: issuer.to_owned(),
            client_id: "trustgate".to_owned(),
            sealed_secret: app
                .state
                .server_keys()
                .secret_vault
                .seal(id, &SecretString::from("very-secret-value".to_owned())),
            email_claim: "upn".to_owned(),
            created_at: OffsetDateTime::now_utc(),
        }
    };
    let refused = app.store.connect_provider(&provider("https://login.example.com/a"), &as_admin(&limited)).await;
    assert!(refused.is_err(), "Custom access does not connect providers");
    let connected = provider("https://login.example.com/b");
    app.store.connect_provider(&connected, &as_admin(&full)).await.unwrap();
    let again = app.store.connect_provider(&provider("https://login.example.com/b"), &as_admin(&full)).await;
    assert!(again.is_err(), "one connection per issuer and customer");

    let stored = app.store.identity_providers(&acme).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert!(!stored[0].sealed_secret.windows(17).any(|w| w == b"very-secret-value"));
    let records = app.log_of(&acme, "platform:identityprovider/connected").await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].actor_id.as_deref(), Some(full.id.to_string().as_str()));
    assert!(!records[0].after.as_ref().unwrap().to_string().contains("very-secret"));

    assert!(!app.store.disconnect_provider(&acme, connected.id, &as_admin(&limited)).await.is_ok_and(|d| d));
    assert!(app.store.disconnect_provider(&acme, connected.id, &as_admin(&full)).await.unwrap());
    assert!(app.store.identity_providers(&acme).await.unwrap().is_empty());
    assert_eq!(app.log_of(&acme, "platform:identityprovider/disconnected").await.len(), 1);
}

#[tokio::test]
async fn full_administrators_connect_list_and_disconnect_providers_over_the_management_api() {
    let Some(app) = super::app().await else { return };
    let (acme, full, limited) = acme_with_full_and_limited(&app).await;
    let (full, limited) = (app.session_for(&full).await, app.session_for(&limited).await);
    let path = format!("/api/v1/customers/{acme}/identity-providers");
    let body = json!({
        "providerType": "Okta", "issuer": "https://acme.okta.example", "clientId": "0oa1",
        "clientSecret": "never-shown-again",
    });

    let (status, _) = app.as_admin(&limited, Method::POST, &path, Some(body.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "Custom access does not connect providers");
    let (status, _) = app.as_admin(&limited, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let mut bad = body.clone();
    bad["providerType"] = json!("Ad");
    let (status, refused) = app.as_admin(&full, Method::POST, &path, Some(bad)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");

    let (status, created) = app.as_admin(&full, Method::POST, &path, Some(body.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["providerType"], "CitrixSts");
    assert_eq!(created["externalProviderType"], "Okta");
    assert_eq!(created["emailClaim"], "email");
    assert_eq!(created["redirectUri"], app.url("/console/sign-in/callback"));
    assert!(!created.to_string().contains("never-shown-again"));
    let (status, _) = app.as_admin(&full, Method::POST, &path, Some(body)).await;
    assert_eq!(status, StatusCode::CONFLICT, "one connection per issuer");

    let (status, listed) = app.as_admin(&full, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert!(!listed.to_string().contains("never-shown-again"));
    let id = created["id"].as_str().unwrap();
    let (status, _) = app.as_admin(&full, Method::DELETE, &format!("{path}/{id}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.as_admin(&full, Method::DELETE, &format!("{path}/{id}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Issue #20: unauthenticated sign-in starts each fetched the provider's discovery document and
/// stored a row, unthrottled. One source address starts at most ten a minute; then 429 with
/// Retry-After, before the provider is asked anything.
#[tokio::test]
async fn one_source_starts_at_most_ten_sign_ins_a_minute() {
    let Some(app) = super::app_with(ServerConfig { allow_http_issuers: true, ..ServerConfig::default() }).await else {
        return;
    };
    let acme = app.customer().await;
    // Nothing listens there: each start that is let through fails fast at discovery.
    connect(&app, &acme, "http://127.0.0.1:9").await;
    let browser = sign_in_form(&app).await;
    let long_next = format!("/console/{}", "a".repeat(2048));
    let mut statuses = Vec::new();
    for _ in 0..11 {
        let response = post_provider_form(&app, &browser, &long_next, acme.as_str()).await;
        statuses.push((response.status(), response.headers().get("retry-after").cloned()));
    }
    assert!(statuses[..10].iter().all(|(s, _)| *s != StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
    let (status, retry_after) = &statuses[10];
    assert_eq!(*status, StatusCode::TOO_MANY_REQUESTS);
    let seconds: u64 = retry_after.as_ref().unwrap().to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&seconds), "{seconds}");
}

/// Issue #22: a provider that puts the e-mail in its userinfo answer only (oidc-provider's
/// default, `conformIdTokenClaims`) still links an administrator by verified e-mail; an
/// unverified one there links nobody.
#[tokio::test]
async fn an_email_only_in_the_userinfo_answer_links_an_administrator_as_one_in_the_id_token_does() {
    let Some(app) = super::app_with(ServerConfig { allow_http_issuers: true, ..ServerConfig::default() }).await else {
        return;
    };
    let Some(idp) = Idp::start_with(&app.url, ada(), true).await else { return };
    let (acme, admin) = acme_with_ada(&app, &idp, None).await;

    let (status, page, session) = sign_in_as(&app, &idp, acme.as_str(), "unverified").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    assert!(session.is_none());
    let (status, page, session) = sign_in_as(&app, &idp, acme.as_str(), "ada").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(session.is_some());
    let linked = app.store.admin(admin).await.unwrap().unwrap();
    assert_eq!(linked.external_id.as_deref(), Some("ada"));
}

/// Issue #25, end to end with a real provider: a sign-in whose ID token carries a `groups` claim
/// puts the person in the customer's groups it names, with their access at once; a later sign-in
/// whose claim no longer names the group takes it away, and as it was her only access she is
/// removed from the customer, her API client deleted, and that sign-in refused.
#[tokio::test]
async fn the_groups_claim_of_a_sign_in_gives_the_groups_access_and_a_later_sign_in_without_it_takes_it_away() {
    let accounts = crate::harness::TempDir::new();
    let file = accounts.path().join("accounts.json");
    let grace_in = |groups: Value| {
        let account = json!({ "grace": { "email": "grace@example.com", "email_verified": true, "groups": groups } });
        std::fs::write(&file, account.to_string()).unwrap();
    };
    grace_in(json!(["Operators"]));
    let Some(app) = super::app_with(ServerConfig { allow_http_issuers: true, ..ServerConfig::default() }).await else {
        return;
    };
    let Some(idp) = Idp::start_with_file(&app.url, &file).await else { return };
    let acme = app.customer().await;
    connect(&app, &acme, &idp.issuer).await;
    // Provisioned by the customer's provider with no access of her own, as SCIM leaves her.
    let candidate = Admin {
        id: AdminId::generate(),
        email: Email::parse("grace@example.com").unwrap(),
        display_name: "Grace".to_owned(),
        provider: Provider::Okta,
        external_id: Some("grace".to_owned()),
        provider_id: None,
        status: AdminStatus::Active,
        created_at: OffsetDateTime::now_utc(),
    };
    let write = trustgate_store::ScimUserWrite {
        user_name: "grace@example.com".to_owned(),
        external_id: Some("grace".to_owned()),
        email: candidate.email.clone(),
        display_name: "Grace".to_owned(),
        active: true,
        document: json!({}),
    };
    app.store.provision_user(&acme, &candidate, &write, &Actor::System).await.unwrap();
    let operators = AdminGroup {
        id: GroupId::generate(),
        customer_id: acme.clone(),
        display_name: "Operators".to_owned(),
        external_id: Some("00g-operators".to_owned()),
        access: custom(&[Permission::API_CLIENTS, Permission::NOTIFICATIONS]),
        members: Vec::new(),
        document: json!({}),
        version: String::new(),
        created_at: OffsetDateTime::now_utc(),
        updated_at: OffsetDateTime::now_utc(),
    };
    app.store.create_group(&operators, &Actor::System).await.unwrap();
    assert!(app.store.standing(&acme, candidate.id).await.unwrap().unwrap().access.grants_nothing());

    let (status, page, session) = sign_in_as(&app, &idp, acme.as_str(), "grace").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(session.is_some());
    let group = app.store.group(&acme, operators.id).await.unwrap().unwrap();
    assert_eq!(group.members, [candidate.id], "the claim named the group");
    let standing = app.store.standing(&acme, candidate.id).await.unwrap().unwrap();
    assert_eq!(standing.access, operators.access);
    let grace = TestAdmin { id: candidate.id, email: "grace@example.com".to_owned(), password: String::new() };
    let client = app.client(&acme, &grace).await;
    let token = app.token(&client).await;
    assert_eq!(app.post_notification(&token, &acme).await, StatusCode::OK);

    // The provider no longer puts her in Operators; her claim names another group only.
    grace_in(json!(["Visitors"]));
    let (status, page, session) = sign_in_as(&app, &idp, acme.as_str(), "grace").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    assert!(page.contains("you were removed from it"), "{page}");
    assert!(session.is_none());
    assert!(app.store.group(&acme, operators.id).await.unwrap().unwrap().members.is_empty());
    assert!(app.store.member(&acme, candidate.id).await.unwrap().is_none(), "removed from the customer");
    assert_eq!(app.post_notification(&token, &acme).await, StatusCode::UNAUTHORIZED);
    let removed = app.log_of(&acme, "delegatedadministration:administrator/delete").await;
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0].actor_id.as_deref(), Some(candidate.id.to_string().as_str()), "her sign-in did it");
}
