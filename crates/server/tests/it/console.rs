//! The administrator console: the issue-#3 flow in a real headless Chromium, and its security
//! properties (CSRF, CSP, cookies, sessions, rights read per request) over plain HTTP.

use std::path::PathBuf;

use reqwest::redirect::Policy;
use reqwest::StatusCode;
use trustgate_core::access::{Access, Permission};
use trustgate_core::admin::AdminStatus;
use trustgate_core::event::Actor;
use trustgate_core::ids::CustomerId;

use crate::browser::Browser;
use crate::harness::{custom, Session, TempDir, TestAdmin, TestApp};

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

async fn app() -> TestApp {
    TestApp::spawn_in(TempDir::new()).await
}

/// Where to save screenshots of each page, when `TRUSTGATE_CONSOLE_SCREENSHOTS` names a folder.
fn screenshots() -> Option<PathBuf> {
    std::env::var_os("TRUSTGATE_CONSOLE_SCREENSHOTS").map(PathBuf::from)
}

async fn shoot(browser: &Browser, name: &str) {
    if let Some(dir) = screenshots() {
        std::fs::create_dir_all(&dir).unwrap();
        browser.screenshot(&dir.join(format!("{name}.png"))).await;
    }
}

async fn sign_in(browser: &Browser, app: &TestApp, admin: &TestAdmin) {
    browser.goto(&app.url("/")).await;
    browser.wait_for_url(|u| u.ends_with("/console/sign-in")).await;
    browser.type_into("#email", &admin.email).await;
    browser.type_into("#password", &admin.password).await;
    browser.click("#sign-in").await;
    browser.wait_for_url(|u| u.contains("/console/c/")).await;
}

async fn sign_out(browser: &Browser) {
    browser.click("form[action='/console/sign-out'] button").await;
    browser.wait_for_url(|u| u.ends_with("/console/sign-in")).await;
}

#[tokio::test]
async fn a_client_created_in_the_browser_works_stays_private_and_is_deleted_with_its_owner() {
    let Some(browser) = Browser::start().await else { return };
    let app = app().await;
    let customer = app.customer().await;
    let owner = app.admin_with_password(&customer, Access::Full).await;
    let colleague = app.admin_with_password(&customer, Access::Full).await;
    let notifier = app.admin_with_password(&customer, custom(&[Permission::Notifications])).await;

    browser.goto(&app.url("/console/sign-in")).await;
    shoot(&browser, "sign-in").await;
    sign_in(&browser, &app, &owner).await;
    assert_eq!(browser.text_of("#customer-id").await, customer.as_str(), "the id shows without stray characters");
    shoot(&browser, "home").await;

    // Menu → Identity and Access Management → API Access → name → Create Client.
    browser.click("#menu summary").await;
    shoot(&browser, "menu").await;
    browser.click("#menu-iam").await;
    browser.wait_for_url(|u| u.ends_with("/api-access")).await;
    assert!(!browser.find_all("#no-clients").await.is_empty(), "an empty state before the first client");
    browser.type_into("#client-name", "nightly report").await;
    browser.click("#create-client").await;

    // The dialog shows ID and Secret once; Download saves them as secureclient.csv.
    let dialog = browser.find("#secret-dialog").await;
    assert!(browser.is_displayed(&dialog).await);
    let id = browser.text_of("#new-client-id").await;
    let secret = browser.text_of("#new-client-secret").await;
    assert!(secret.starts_with("tgs_"), "{secret}");
    shoot(&browser, "api-access-dialog").await;
    browser.click("#download-csv").await;
    let csv = browser.downloaded("secureclient.csv").await;
    assert_eq!(csv, format!("ID,Secret\r\n{id},{secret}\r\n"));

    // Those credentials get a token from the token endpoint.
    let (status, body) = app
        .oauth("root", &[("grant_type", "client_credentials"), ("client_id", &id), ("client_secret", &secret)])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["access_token"].is_string());

    // Closing the dialog leaves the secret nowhere on the page; the list shows the client.
    browser.click("#close-dialog").await;
    browser.find(&format!("tr[data-client-id='{id}']")).await;
    assert!(!browser.source().await.contains(&secret), "the secret is gone once the dialog closes");
    shoot(&browser, "api-access").await;
    if screenshots().is_some() {
        // A fuller list and a notification, so the pictures show what a working day looks like.
        for name in ["inventory sync", "monitoring"] {
            browser.type_into("#client-name", name).await;
            browser.click("#create-client").await;
            browser.click("#close-dialog").await;
            browser.find("#client-name").await;
        }
        let token = app
            .token(&crate::harness::TestClient {
                id: id.parse().unwrap(),
                secret: secret.clone(),
                customer: customer.clone(),
            })
            .await;
        app.post_notification(&token, &customer).await;
        shoot(&browser, "api-access").await;
        browser.resize(390, 844).await;
        shoot(&browser, "api-access-narrow").await;
        browser.resize(1280, 900).await;
        browser.goto(&format!("{}/console/c/{customer}/system-log", app.url)).await;
        shoot(&browser, "system-log").await;
        browser.goto(&format!("{}/console/c/{customer}/notifications", app.url)).await;
        shoot(&browser, "notifications").await;
    }
    sign_out(&browser).await;

    // R3: another administrator of the customer, even with Full access, does not see it.
    sign_in(&browser, &app, &colleague).await;
    browser.goto(&format!("{}/console/c/{customer}/api-access", app.url)).await;
    browser.find("#no-clients").await;
    assert!(!browser.source().await.contains(&id));
    sign_out(&browser).await;

    // R8: a Custom administrator without the right sees no IAM entry, and a note instead.
    sign_in(&browser, &app, &notifier).await;
    browser.click("#menu summary").await;
    let note = browser.text_of("#menu-no-iam").await;
    assert!(note.contains("ask an administrator"), "{note}");
    assert!(browser.find_all("#menu-iam").await.is_empty(), "no Identity and Access Management entry");
    assert!(!browser.source().await.contains("Identity and Access Management</a>"));
    shoot(&browser, "menu-without-iam").await;
    sign_out(&browser).await;

    // R6: removing the owner in the Administrators tab, after a confirmation that counts the
    // clients, deletes the client.
    sign_in(&browser, &app, &colleague).await;
    browser.click("#menu summary").await;
    browser.click("#menu-iam").await;
    browser.click("nav.tabs a[href$='/administrators']").await;
    browser.wait_for_url(|u| u.ends_with("/administrators")).await;
    shoot(&browser, "administrators").await;
    browser.click(&format!("tr[data-admin-email='{}'] a.danger", owner.email)).await;
    let warning = browser.text_of("#confirm-warning").await;
    let owned = app.store.clients_of(&customer, owner.id).await.unwrap().len();
    let expected =
        if owned == 1 { "Their 1 API client".to_owned() } else { format!("All {owned} of their API clients") };
    assert!(warning.contains(&expected), "{warning}");
    shoot(&browser, "remove-administrator").await;
    browser.click("#confirm").await;
    let notice = browser.text_of("#notice").await;
    assert!(notice.contains(&format!("{owned} of their API client(s) were deleted")), "{notice}");
    assert!(browser.find_all(&format!("tr[data-admin-email='{}']", owner.email)).await.is_empty());
    let (status, body) = app
        .oauth("root", &[("grant_type", "client_credentials"), ("client_id", &id), ("client_secret", &secret)])
        .await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_client")));
}

/// A client that does not follow redirects, to see the console's own answers.
fn http() -> reqwest::Client {
    reqwest::Client::builder().redirect(Policy::none()).build().unwrap()
}

async fn console_session(app: &TestApp, customer: &CustomerId, access: Access) -> (TestAdmin, Session) {
    let admin = app.admin_with_password(customer, access).await;
    let session = app.sign_in(&admin).await;
    (admin, session)
}

async fn get(app: &TestApp, session: &Session, path: &str) -> (StatusCode, String) {
    let response = http().get(app.url(path)).header("cookie", &session.cookie).send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

async fn post(app: &TestApp, session: &Session, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
    http()
        .post(app.url(path))
        .header("cookie", &session.cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(form).unwrap())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn console_forms_without_the_session_csrf_token_are_refused() {
    let app = app().await;
    let customer = app.customer().await;
    let (admin, session) = console_session(&app, &customer, Access::Full).await;
    let path = format!("/console/c/{customer}/api-access");
    for form in [vec![("name", "x")], vec![("name", "x"), ("csrf", "forged")], vec![("name", "x"), ("csrf", "")]] {
        let response = post(&app, &session, &path, &form).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert!(response.text().await.unwrap().contains("did not come from the console"));
    }
    let other = app.admin(&customer, Access::Full).await;
    let remove = format!("/console/c/{customer}/administrators/{}/remove", other.id);
    assert_eq!(post(&app, &session, &remove, &[]).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(post(&app, &session, "/console/sign-out", &[]).await.status(), StatusCode::FORBIDDEN);
    assert!(app.store.clients_of(&customer, admin.id).await.unwrap().is_empty(), "nothing was created");
    assert!(app.store.member(&customer, other.id).await.unwrap().is_some(), "nobody was removed");

    let response = post(&app, &session, &path, &[("name", "x"), ("csrf", &session.csrf)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert!(response.text().await.unwrap().contains("tgs_"), "the one response with the secret");
    assert_eq!(app.store.clients_of(&customer, admin.id).await.unwrap().len(), 1);
}

#[tokio::test]
async fn the_sign_in_form_is_refused_without_its_form_token() {
    let app = app().await;
    let customer = app.customer().await;
    let admin = app.admin_with_password(&customer, Access::Full).await;
    let form = [("email", admin.email.as_str()), ("password", admin.password.as_str()), ("csrf", "guess")];
    let response = http()
        .post(app.url("/console/sign-in"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(form).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.headers().get_all("set-cookie").iter().all(|c| !c.to_str().unwrap().starts_with("tg_session=")));
}

/// Signs in through the console's own form, as a browser would.
async fn form_sign_in(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    let page = http().get(app.url("/console/sign-in")).send().await.unwrap();
    let cookie = page.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let html = page.text().await.unwrap();
    let token = html.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    http()
        .post(app.url("/console/sign-in"))
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string([("email", email), ("password", password), ("csrf", &token)]).unwrap())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn console_pages_carry_a_strict_content_security_policy_and_hardened_cookies() {
    let app = app().await;
    let customer = app.customer().await;
    let admin = app.admin_with_password(&customer, Access::Full).await;
    let page = http().get(app.url("/console/sign-in")).send().await.unwrap();
    assert_eq!(page.headers()["content-security-policy"], CSP);
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    let form_cookie = page.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(form_cookie.contains("HttpOnly") && form_cookie.contains("SameSite=Strict"), "{form_cookie}");
    let html = page.text().await.unwrap();
    assert!(!html.contains("<script>") && !html.contains("style="), "nothing inline for the CSP to forbid");

    let signed_in = form_sign_in(&app, &admin.email, &admin.password).await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let session = signed_in
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("tg_session="))
        .expect("a session cookie");
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Strict"), "{session}");
    let cookie = session.split(';').next().unwrap().to_owned();
    for path in ["/console/static/console.css", "/console/static/console.js", &format!("/console/c/{customer}")] {
        let response = http().get(app.url(path)).header("cookie", &cookie).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(response.headers()["content-security-policy"], CSP, "{path}");
    }
    let wrong = form_sign_in(&app, &admin.email, "not the password at all").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.text().await.unwrap().contains("Invalid e-mail or password."));
    let log = app.log_types(&customer).await;
    assert!(log.contains(&"platform:signin/success".to_owned()) && log.contains(&"platform:signin/failure".to_owned()));
}

#[tokio::test]
async fn the_root_path_leads_to_the_console_sign_in() {
    let app = app().await;
    let root = http().get(app.url("/")).send().await.unwrap();
    assert_eq!((root.status(), root.headers()["location"].to_str().unwrap()), (StatusCode::SEE_OTHER, "/console"));
    let console = http().get(app.url("/console")).send().await.unwrap();
    assert_eq!(console.headers()["location"], "/console/sign-in");
    let unknown = http().get(app.url("/console/nowhere")).send().await.unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert!(unknown.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
}

#[tokio::test]
async fn signing_out_of_the_console_ends_the_session() {
    let app = app().await;
    let customer = app.customer().await;
    let (_, session) = console_session(&app, &customer, Access::Full).await;
    let home = format!("/console/c/{customer}");
    assert_eq!(get(&app, &session, &home).await.0, StatusCode::OK);
    let out = post(&app, &session, "/console/sign-out", &[("csrf", &session.csrf)]).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(out.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    let after = http().get(app.url(&home)).header("cookie", &session.cookie).send().await.unwrap();
    assert_eq!(
        (after.status(), after.headers()["location"].to_str().unwrap()),
        (StatusCode::SEE_OTHER, "/console/sign-in")
    );
}

#[tokio::test]
async fn an_admin_removed_from_a_customer_loses_its_console_at_once() {
    let app = app().await;
    let customer = app.customer().await;
    app.admin(&customer, Access::Full).await;
    let (admin, session) = console_session(&app, &customer, Access::Full).await;
    // Still an administrator elsewhere, so the session goes on (removal from the last customer ends it).
    app.join(&app.customer().await, &admin, Access::Full).await;
    let path = format!("/console/c/{customer}/api-access");
    assert_eq!(get(&app, &session, &path).await.0, StatusCode::OK);
    app.store.remove_member(&customer, admin.id, &Actor::System).await.unwrap();
    let (status, html) = get(&app, &session, &path).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("The customer was not found."));
}

#[tokio::test]
async fn r8_an_admin_without_iam_rights_gets_no_iam_menu_and_a_403_page() {
    let app = app().await;
    let customer = app.customer().await;
    let (_, session) = console_session(&app, &customer, custom(&[Permission::SystemLog])).await;
    let (status, home) = get(&app, &session, &format!("/console/c/{customer}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!home.contains("id=\"menu-iam\"") && home.contains("id=\"menu-no-iam\""));
    assert!(home.contains("/system-log") && !home.contains("/notifications\""));
    for page in ["api-access", "administrators", "notifications"] {
        let (status, html) = get(&app, &session, &format!("/console/c/{customer}/{page}")).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
        assert!(html.contains("Ask an administrator for more rights"), "{page}");
    }
    let (_, admins_only) = console_session(&app, &customer, custom(&[Permission::Administrators])).await;
    let (_, home) = get(&app, &session_of(&admins_only), &format!("/console/c/{customer}")).await;
    assert!(home.contains("id=\"menu-iam\"") && home.contains("/administrators\" aria-current"));
}

fn session_of(session: &Session) -> Session {
    Session { cookie: session.cookie.clone(), csrf: session.csrf.clone() }
}

/// A path, a form, the status it must get and a phrase the page must hold.
type BadInput<'a> = (String, Vec<(&'a str, &'a str)>, StatusCode, &'a str);

#[tokio::test]
async fn bad_console_input_gets_a_clear_4xx_page_never_a_5xx() {
    let app = app().await;
    let customer = app.customer().await;
    let (_, session) = console_session(&app, &customer, Access::Full).await;
    let c = format!("/console/c/{customer}");
    let csrf = session.csrf.as_str();
    let long = "n".repeat(101);
    let cases: Vec<BadInput> = vec![
        (format!("{c}/api-access"), vec![("csrf", csrf), ("name", "  ")], StatusCode::BAD_REQUEST, "Name is required."),
        (format!("{c}/api-access"), vec![("csrf", csrf), ("name", &long)], StatusCode::BAD_REQUEST, "at most 100"),
        (
            format!("{c}/administrators"),
            vec![("csrf", csrf), ("email", "not-an-email"), ("access", "Full")],
            StatusCode::BAD_REQUEST,
            "name@example.com",
        ),
        (
            format!("{c}/administrators"),
            vec![("csrf", csrf), ("email", "a@example.com"), ("access", "Custom"), ("permission", "root")],
            StatusCode::BAD_REQUEST,
            "must be one of",
        ),
        (format!("{c}/api-access/not-a-uuid/delete"), vec![("csrf", csrf)], StatusCode::NOT_FOUND, "not found"),
        (format!("{c}/administrators/{}/remove", uuid()), vec![("csrf", csrf)], StatusCode::NOT_FOUND, "not found"),
    ];
    for (path, form, status, message) in cases {
        let response = post(&app, &session, &path, &form).await;
        assert_eq!(response.status(), status, "{path} {form:?}");
        let html = response.text().await.unwrap();
        assert!(html.contains(message), "{path} {form:?}: {html}");
    }
    let (status, html) = get(&app, &session, &format!("{c}/system-log?from=yesterday")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("From must be a date and time"));
    let (status, _) = get(&app, &session, "/console/c/Not%20A%20Customer/api-access").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let json = http()
        .post(app.url(&format!("{c}/api-access")))
        .header("cookie", &session.cookie)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

fn uuid() -> String {
    trustgate_core::ids::AdminId::generate().to_string()
}

#[tokio::test]
async fn admins_are_added_changed_and_removed_within_the_callers_own_access() {
    let app = app().await;
    let customer = app.customer().await;
    let (_, session) =
        console_session(&app, &customer, custom(&[Permission::Administrators, Permission::Notifications])).await;
    let c = format!("/console/c/{customer}");
    let csrf = session.csrf.as_str();
    let escalate = [("csrf", csrf), ("email", "e@example.com"), ("access", "Full")];
    assert_eq!(post(&app, &session, &format!("{c}/administrators"), &escalate).await.status(), StatusCode::FORBIDDEN);
    let add = [("csrf", csrf), ("email", "n@example.com"), ("access", "Custom"), ("permission", "notifications")];
    let added = post(&app, &session, &format!("{c}/administrators"), &add).await;
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    let again = post(&app, &session, &format!("{c}/administrators"), &add).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert!(again.text().await.unwrap().contains("already belongs to this customer"));
    let email = trustgate_core::admin::Email::parse("n@example.com").unwrap();
    let new = app.store.admin_by_email(&email).await.unwrap().unwrap();
    let change = [("csrf", csrf), ("access", "Custom"), ("permission", "systemLog")];
    let refused = post(&app, &session, &format!("{c}/administrators/{}", new.id), &change).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN, "cannot grant systemLog it does not hold");
    let change = [("csrf", csrf), ("access", "Custom")];
    let refused = post(&app, &session, &format!("{c}/administrators/{}", new.id), &change).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT, "Custom access with no permission");
    assert!(refused.text().await.unwrap().contains("at least one permission"));
    let unticked = [("csrf", csrf), ("email", "m@example.com"), ("access", "Custom")];
    let refused = post(&app, &session, &format!("{c}/administrators"), &unticked).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT, "adding with Custom access and no permission");
    assert!(refused.text().await.unwrap().contains("at least one permission"));
    assert_eq!(
        app.store.member(&customer, new.id).await.unwrap().unwrap().access,
        custom(&[Permission::Notifications])
    );
}

#[tokio::test]
async fn r6_the_remove_confirmation_counts_the_clients_that_go_with_the_admin() {
    let app = app().await;
    let customer = app.customer().await;
    let (_, session) = console_session(&app, &customer, Access::Full).await;
    let owner = app.admin(&customer, custom(&[Permission::ApiClients])).await;
    for _ in 0..3 {
        app.client(&customer, &owner).await;
    }
    let path = format!("/console/c/{customer}/administrators/{}/remove", owner.id);
    let (status, html) = get(&app, &session, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("All 3 of their API clients in this customer will be deleted"), "{html}");
    let removed = post(&app, &session, &path, &[("csrf", &session.csrf)]).await;
    assert_eq!(removed.status(), StatusCode::SEE_OTHER);
    assert!(removed.headers()["location"].to_str().unwrap().ends_with("done=removed&clients=3"));
    assert!(app.store.clients_of(&customer, owner.id).await.unwrap().is_empty());
}

#[tokio::test]
async fn r7_a_disabled_federated_owner_with_active_clients_is_flagged() {
    let app = app().await;
    let customer = app.customer().await;
    let (_, session) = console_session(&app, &customer, Access::Full).await;
    let federated = app.federated_admin(&customer, custom(&[Permission::Notifications])).await;
    app.client(&customer, &federated).await;
    let path = format!("/console/c/{customer}/administrators");
    assert!(!get(&app, &session, &path).await.1.contains("remain active"));
    app.store.set_admin_status(federated.id, AdminStatus::Disabled, &Actor::System).await.unwrap();
    let (status, html) = get(&app, &session, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Disabled") && html.contains("their 1 API client(s) remain active"), "{html}");
}

#[tokio::test]
async fn the_system_log_page_filters_by_time_and_pages() {
    let app = app().await;
    let customer = app.customer().await;
    let (admin, session) = console_session(&app, &customer, Access::Full).await;
    for _ in 0..55 {
        app.client(&customer, &admin).await;
    }
    let path = format!("/console/c/{customer}/system-log");
    let (status, first) = get(&app, &session, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first.matches("data-label=\"Time\"").count(), 50, "one page holds 50 events");
    let next =
        first.split("id=\"next-page\"").next().unwrap().rsplit("href=\"").next().unwrap().split('"').next().unwrap();
    let (status, second) = get(&app, &session, &next.replace("&#38;", "&")).await;
    assert_eq!(status, StatusCode::OK, "{next}");
    assert!(second.contains("secureclient/create") && !second.contains("id=\"next-page\""));
    let (_, past) = get(&app, &session, &format!("{path}?from=2001-01-01T00:00&to=2001-01-02T00:00")).await;
    assert!(past.contains("No events in this period"));
}

#[tokio::test]
async fn the_console_sign_in_answers_429_with_retry_after_while_locked_out() {
    let mut config = trustgate_server::ServerConfig::default();
    config.sign_in_throttle.failures = std::num::NonZeroU32::MIN;
    let app = TestApp::spawn_with(crate::harness::Backend::Sqlite, config).await.unwrap();
    let customer = app.customer().await;
    let admin = app.admin_with_password(&customer, Access::Full).await;
    for _ in 0..2 {
        assert_eq!(
            form_sign_in(&app, &admin.email, "not the password at all").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let locked = form_sign_in(&app, &admin.email, &admin.password).await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = locked.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(wait >= 1);
    let page = locked.text().await.unwrap();
    assert!(page.contains("Too many failed sign-ins."), "{page}");
    assert!(page.contains("name=\"csrf\""), "the form is shown again");
}
