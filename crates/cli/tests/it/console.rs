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
use crate::harness::{custom, Session, TempDir, TestAdmin, TestApp, FORM};

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

async fn app() -> TestApp {
    TestApp::spawn_in(TempDir::new()).await
}

/// A console node with a customer and a Full administrator of it who signs in with a password.
async fn app_with_admin() -> (TestApp, CustomerId, TestAdmin) {
    let app = app().await;
    let customer = app.customer().await;
    let admin = app.admin_with_password(&customer, Access::Full).await;
    (app, customer, admin)
}

/// A federated administrator of `customer` who owns a client and is disabled: the R7 warning on
/// every page, and a removal that offers to convert the client first.
async fn disabled_owner_of_a_client(app: &TestApp, customer: &CustomerId) -> TestAdmin {
    let owner = app.federated_admin(customer, custom(&[Permission::NOTIFICATIONS])).await;
    app.client(customer, &owner).await;
    app.store.set_admin_status(owner.id, AdminStatus::Disabled, &Actor::System).await.unwrap();
    owner
}

/// Creates a client named `name` on the API Access page the browser shows, up to its one-time
/// dialog.
async fn create_client(browser: &Browser, name: &str) {
    browser.type_into("#client-name", name).await;
    browser.click_for("#create-client", "#secret-dialog").await;
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
    let (customer, owner, colleague) = app.customer_with_colleagues().await;
    let notifier = app.admin_with_password(&customer, custom(&[Permission::NOTIFICATIONS])).await;

    browser.goto(&app.url("/console/sign-in")).await;
    shoot(&browser, "sign-in").await;
    sign_in(&browser, &app, &owner).await;
    assert_eq!(browser.text_of("#customer-id").await, customer.as_str(), "the id shows without stray characters");
    shoot(&browser, "home").await;

    // Menu → Identity and Access Management → API Access → name → Create API client.
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
    browser.click_for("#close-dialog", &format!("tr[data-client-id='{id}']")).await;
    assert!(!browser.source().await.contains(&secret), "the secret is gone once the dialog closes");
    shoot(&browser, "api-access").await;
    if screenshots().is_some() {
        // A fuller list and a notification, so the pictures show what a working day looks like.
        for name in ["inventory sync", "monitoring"] {
            browser.type_into("#client-name", name).await;
            browser.click("#create-client").await;
            browser.click_for("#close-dialog", "#client-name").await;
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
    let expected = if owned == 1 {
        "their 1 API client was deleted".to_owned()
    } else {
        format!("{owned} of their API clients were deleted")
    };
    assert!(notice.contains(&expected), "{notice}");
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
    post_raw(app, path, Some(&session.cookie), FORM, serde_urlencoded::to_string(form).unwrap()).await
}

/// `POST path` as a browser sends it, with `cookie` when there is one and `body` as
/// `content_type`; the answer, not followed.
async fn post_raw(
    app: &TestApp,
    path: &str,
    cookie: Option<&str>,
    content_type: &str,
    body: String,
) -> reqwest::Response {
    let mut request = http().post(app.url(path));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request.header("content-type", content_type).body(body).send().await.unwrap()
}

#[tokio::test]
async fn console_forms_without_the_session_csrf_token_are_refused() {
    let app = app().await;
    let (customer, admin, session) = app.customer_with_session(Access::Full).await;
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
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.store.clients_of(&customer, admin.id).await.unwrap().len(), 1);
}

#[tokio::test]
async fn the_sign_in_form_is_refused_without_its_form_token() {
    let (app, _, admin) = app_with_admin().await;
    let form = [("email", admin.email.as_str()), ("password", admin.password.as_str()), ("csrf", "guess")];
    let response = post_raw(&app, "/console/sign-in", None, FORM, serde_urlencoded::to_string(form).unwrap()).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.headers().get_all("set-cookie").iter().all(|c| !c.to_str().unwrap().starts_with("tg_session=")));
}

/// Signs in through the console's own form, as a browser would.
async fn form_sign_in(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    let (cookie, html) = sign_in_page(app, "/console/sign-in").await;
    let token = html.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    post_sign_in(app, cookie, &[("email", email), ("password", password), ("csrf", &token)]).await
}

/// The sign-in page at `page` as a browser opens it: the form cookie it sets, and its HTML.
async fn sign_in_page(app: &TestApp, page: &str) -> (String, String) {
    let page = http().get(app.url(page)).send().await.unwrap();
    let cookie = page.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    (cookie, page.text().await.unwrap())
}

/// Posts the sign-in `form` with the form `cookie`; the answer, not followed.
async fn post_sign_in(app: &TestApp, cookie: String, form: &[(&str, &str)]) -> reqwest::Response {
    post_raw(app, "/console/sign-in", Some(&cookie), FORM, serde_urlencoded::to_string(form).unwrap()).await
}

#[tokio::test]
async fn console_pages_carry_a_strict_content_security_policy_and_hardened_cookies() {
    let (app, customer, admin) = app_with_admin().await;
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
    let (customer, _, session) = app.customer_with_session(Access::Full).await;
    let home = format!("/console/c/{customer}");
    assert_eq!(get(&app, &session, &home).await.0, StatusCode::OK);
    let out = post(&app, &session, "/console/sign-out", &[("csrf", &session.csrf)]).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(out.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    let after = http().get(app.url(&home)).header("cookie", &session.cookie).send().await.unwrap();
    assert_eq!(after.status(), StatusCode::SEE_OTHER);
    assert!(after.headers()["location"].to_str().unwrap().starts_with("/console/sign-in?next="));
}

#[tokio::test]
async fn an_admin_removed_from_a_customer_loses_its_console_at_once() {
    let app = app().await;
    let customer = app.customer_with_full_admin().await;
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
    let (customer, _, session) = app.customer_with_session(custom(&[Permission::SYSTEM_LOG])).await;
    let (status, home) = get(&app, &session, &format!("/console/c/{customer}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!home.contains("id=\"menu-iam\"") && home.contains("id=\"menu-no-iam\""));
    assert!(home.contains("/system-log") && !home.contains("/notifications\""));
    for page in ["api-access", "administrators", "notifications"] {
        let (status, html) = get(&app, &session, &format!("/console/c/{customer}/{page}")).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
        assert!(html.contains("Ask an administrator for more rights"), "{page}");
    }
    let (_, admins_only) = console_session(&app, &customer, custom(&[Permission::ADMINISTRATORS])).await;
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
    let (customer, _, session) = app.customer_with_session(Access::Full).await;
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
    let json =
        post_raw(&app, &format!("{c}/api-access"), Some(&session.cookie), "application/json", "{}".to_owned()).await;
    assert_eq!(json.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

fn uuid() -> String {
    trustgate_core::ids::AdminId::generate().to_string()
}

async fn with_orders(app: &TestApp) {
    app.apply_catalog(orders_service!()).await;
}

fn orders(name: &str) -> Permission {
    Permission::of("orders", name).unwrap()
}

#[tokio::test]
async fn the_access_editor_groups_the_catalogs_permissions_by_service_and_grants_them() {
    let app = app().await;
    with_orders(&app).await;
    let (customer, _, session) = app.customer_with_session(custom(&[Permission::ADMINISTRATORS, orders("read")])).await;
    let c = format!("/console/c/{customer}");
    let (status, page) = get(&app, &session, &format!("{c}/administrators")).await;
    assert_eq!(status, StatusCode::OK);
    let platform = page.find("<legend>Platform</legend>").expect("a Platform fieldset");
    let orders_at = page.find("<legend>Orders</legend>").expect("an Orders fieldset, by its display name");
    assert!(platform < orders_at, "Platform first");
    let read = page.find(r#"value="orders.read""#).expect("orders.read offered in its Display form");
    assert!(orders_at < read && page[read..].starts_with(r#"value="orders.read"> Read orders"#), "{page}");
    assert!(page.contains(r#"value="orders.write"> Write orders"#));

    let csrf = session.csrf.as_str();
    let add = [("csrf", csrf), ("email", "r@example.com"), ("access", "Custom"), ("permission", "orders.read")];
    assert_eq!(post(&app, &session, &format!("{c}/administrators"), &add).await.status(), StatusCode::SEE_OTHER);
    let email = trustgate_core::admin::Email::parse("r@example.com").unwrap();
    let reader = app.store.admin_by_email(&email).await.unwrap().unwrap();
    assert_eq!(app.store.member(&customer, reader.id).await.unwrap().unwrap().access, custom(&[orders("read")]));
    let (_, edit) = get(&app, &session, &format!("{c}/administrators/{}", reader.id)).await;
    assert!(edit.contains(r#"value="orders.read" checked> Read orders"#), "ticked where granted: {edit}");

    let beyond = [("csrf", csrf), ("access", "Custom"), ("permission", "orders.write")];
    let refused = post(&app, &session, &format!("{c}/administrators/{}", reader.id), &beyond).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN, "cannot grant orders.write it does not hold");
    for unknown in ["orders.delete", "shipping.read", "nonsense"] {
        let form = [("csrf", csrf), ("access", "Custom"), ("permission", unknown)];
        let refused = post(&app, &session, &format!("{c}/administrators/{}", reader.id), &form).await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{unknown}");
        let html = refused.text().await.unwrap();
        assert!(
            html.contains("id=\"menu\"") && html.contains("orders.write"),
            "inside the layout, naming what is offered: {html}"
        );
    }
    assert_eq!(app.store.member(&customer, reader.id).await.unwrap().unwrap().access, custom(&[orders("read")]));
}

#[tokio::test]
async fn admins_are_added_changed_and_removed_within_the_callers_own_access() {
    let app = app().await;
    let customer = app.customer().await;
    let (_, session) =
        console_session(&app, &customer, custom(&[Permission::ADMINISTRATORS, Permission::NOTIFICATIONS])).await;
    let c = format!("/console/c/{customer}");
    let csrf = session.csrf.as_str();
    let escalate = [("csrf", csrf), ("email", "e@example.com"), ("access", "Full")];
    assert_eq!(post(&app, &session, &format!("{c}/administrators"), &escalate).await.status(), StatusCode::FORBIDDEN);
    let add = [("csrf", csrf), ("email", "n@example.com"), ("access", "Custom"), ("permission", "notifications")];
    let added = post(&app, &session, &format!("{c}/administrators"), &add).await;
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    // The one view after adding says how the invitation went out (never the link: issue #20), and
    // the page how long an invitation lasts, counted in proper English.
    let (_, shown) = get(&app, &session, added.headers()["location"].to_str().unwrap()).await;
    assert!(shown.contains("id=\"invitation-delivery\"") && !shown.contains("token=tgi_"), "{shown}");
    assert!(shown.contains("within 5 days.") && !shown.contains("day(s)"), "{shown}");
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
        custom(&[Permission::NOTIFICATIONS])
    );
}

#[tokio::test]
async fn r6_the_remove_confirmation_counts_the_clients_that_go_with_the_admin() {
    let app = app().await;
    let (customer, _, session) = app.customer_with_session(Access::Full).await;
    let owner = app.admin(&customer, custom(&[Permission::API_CLIENTS])).await;
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
    let (customer, _, session) = app.customer_with_session(Access::Full).await;
    let federated = app.federated_admin(&customer, custom(&[Permission::NOTIFICATIONS])).await;
    app.client(&customer, &federated).await;
    let path = format!("/console/c/{customer}/administrators");
    assert!(!get(&app, &session, &path).await.1.contains("remain active"));
    app.store.set_admin_status(federated.id, AdminStatus::Disabled, &Actor::System).await.unwrap();
    let (status, html) = get(&app, &session, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Disabled") && html.contains("their API client remains active"), "{html}");
}

#[tokio::test]
async fn the_system_log_page_filters_by_time_and_pages() {
    let app = app().await;
    let (customer, admin, session) = app.customer_with_session(Access::Full).await;
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

/// The address a console answer redirects to.
fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn reloading_the_page_that_shows_a_new_secret_never_creates_a_second_client() {
    let app = app().await;
    let (customer, admin, session) = app.customer_with_session(Access::Full).await;
    let path = format!("/console/c/{customer}/api-access");
    let created = post(&app, &session, &path, &[("name", "nightly"), ("csrf", &session.csrf)]).await;
    assert_eq!(created.status(), StatusCode::SEE_OTHER, "post/redirect/get");
    let view = location(&created);
    assert!(view.starts_with(&format!("{path}?created=")) && !view.contains("tgs_"), "{view}");

    let first = http().get(app.url(&view)).header("cookie", &session.cookie).send().await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(first.headers()["cache-control"], "no-store");
    let html = first.text().await.unwrap();
    let secret = html.split("id=\"new-client-secret\"").nth(1).unwrap().split("tgs_").nth(1).unwrap();
    let secret = format!("tgs_{}", secret.split('<').next().unwrap());
    let (other_admin, other) = console_session(&app, &customer, Access::Full).await;
    for (session, who) in [(&session, "a reload"), (&other, "another administrator")] {
        let (status, again) = get(&app, session, &view).await;
        assert_eq!(status, StatusCode::OK, "{who}");
        assert!(!again.contains(&secret) && !again.contains("secret-dialog"), "{who} sees no secret");
        assert!(again.contains("id=\"secret-gone\""), "{who} is told why");
    }
    assert_eq!(app.store.clients_of(&customer, admin.id).await.unwrap().len(), 1, "reloads create nothing");
    assert!(app.store.clients_of(&customer, other_admin.id).await.unwrap().is_empty());

    // The same name again (a double click, a resubmitted form) is refused, not a second client.
    for name in ["nightly", " Nightly "] {
        let twice = post(&app, &session, &path, &[("name", name), ("csrf", &session.csrf)]).await;
        assert_eq!(twice.status(), StatusCode::CONFLICT, "{name:?}");
        assert!(twice.text().await.unwrap().contains("You already have an API client named"));
    }
    assert_eq!(app.store.clients_of(&customer, admin.id).await.unwrap().len(), 1);
    let other_name = post(&app, &other, &path, &[("name", "nightly"), ("csrf", &other.csrf)]).await;
    assert_eq!(other_name.status(), StatusCode::SEE_OTHER, "another owner may use the name");
}

#[tokio::test]
async fn the_last_full_administrator_is_not_offered_for_removal_and_refusals_stay_in_the_layout() {
    let app = app().await;
    let (customer, admin, session) = app.customer_with_session(Access::Full).await;
    let helper = app.admin(&customer, custom(&[Permission::NOTIFICATIONS])).await;
    let c = format!("/console/c/{customer}");
    let (_, list) = get(&app, &session, &format!("{c}/administrators")).await;
    assert!(!list.contains(&format!("/administrators/{}/remove", admin.id)), "no Remove for the last Full admin");
    assert!(list.contains("Cannot be removed: the only Full administrator"));
    assert!(list.contains(&format!("/administrators/{}/remove", helper.id)), "others can be removed");
    let (_, edit) = get(&app, &session, &format!("{c}/administrators/{}", admin.id)).await;
    assert!(edit.contains("id=\"only-full\"") && edit.contains("id=\"not-removable\""));

    // Asked anyway (an old link, a crafted form): refused inside the layout, with a way back.
    let remove = format!("{c}/administrators/{}/remove", admin.id);
    let (status, confirm) = get(&app, &session, &remove).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let refused = post(&app, &session, &remove, &[("csrf", &session.csrf)]).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    let refused = refused.text().await.unwrap();
    let lowered = post(
        &app,
        &session,
        &format!("{c}/administrators/{}", admin.id),
        &[("csrf", &session.csrf), ("access", "Custom")],
    )
    .await;
    assert_eq!(lowered.status(), StatusCode::CONFLICT);
    let lowered = lowered.text().await.unwrap();
    for (what, html) in [("the confirmation", &confirm), ("the removal", &refused)] {
        assert!(html.contains("id=\"menu\"") && html.contains("Sign out"), "{what}: inside the layout: {html}");
        assert!(html.contains(&format!("href=\"{c}/administrators\" id=\"back\"")), "{what}: a way back: {html}");
        assert!(html.contains("must keep"), "{what}: says why: {html}");
    }
    assert!(
        lowered.contains("id=\"menu\"") && lowered.contains("at least one administrator with Full access"),
        "{lowered}"
    );
    assert!(app.store.member(&customer, admin.id).await.unwrap().is_some());

    // Every other failure too: a missing page, a missing customer, a missing right.
    for (path, status, back) in [
        (format!("{c}/nowhere/at/all"), StatusCode::NOT_FOUND, c.clone()),
        ("/console/nowhere".to_owned(), StatusCode::NOT_FOUND, "/console".to_owned()),
        ("/console/c/nosuch/api-access".to_owned(), StatusCode::NOT_FOUND, "/console".to_owned()),
        (format!("{c}/api-access/{}/delete", uuid()), StatusCode::NOT_FOUND, format!("{c}/api-access")),
    ] {
        let (got, html) = get(&app, &session, &path).await;
        assert_eq!(got, status, "{path}");
        assert!(html.contains("Sign out") && html.contains(&format!("href=\"{back}\" id=\"back\"")), "{path}: {html}");
    }
    let signed_out = http().get(app.url("/console/nowhere")).send().await.unwrap();
    assert_eq!(signed_out.status(), StatusCode::NOT_FOUND);
    assert!(signed_out.text().await.unwrap().contains("Back to the console"), "signed out: the plain page");
}

/// The text of every `<td data-label="{label}">` of a page, in order.
fn cells(html: &str, label: &str) -> Vec<String> {
    let marker = format!("data-label=\"{label}\">");
    html.split(&marker).skip(1).map(|cell| cell.split("</td>").next().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn client_and_administrator_lists_search_sort_by_column_and_page() {
    let app = app().await;
    let (customer, admin, session) = app.customer_with_session(Access::Full).await;
    for i in 0..30 {
        app.try_client(&customer, admin.id, &format!("job {i:02}"), 100).await.unwrap();
    }
    let c = format!("/console/c/{customer}");
    let (_, first) = get(&app, &session, &format!("{c}/api-access?sort=name&dir=asc")).await;
    let names = cells(&first, "Name");
    assert_eq!((names.len(), names[0].as_str(), names[24].as_str()), (25, "job 00", "job 24"), "one page of 25");
    assert!(first.contains("1–25 of 30") && first.contains("aria-sort=\"ascending\""));
    let (_, second) = get(&app, &session, &format!("{c}/api-access?sort=name&dir=asc&page=2")).await;
    assert_eq!(cells(&second, "Name"), ["job 25", "job 26", "job 27", "job 28", "job 29"]);
    let (_, desc) = get(&app, &session, &format!("{c}/api-access?sort=name&dir=desc")).await;
    assert_eq!(cells(&desc, "Name")[0], "job 29");
    let (_, found) = get(&app, &session, &format!("{c}/api-access?q=JOB+1")).await;
    assert_eq!(cells(&found, "Name").len(), 10, "search ignores case");
    assert!(
        desc.contains("<option value=\"name\" selected>") && desc.contains("<option value=\"desc\" selected>"),
        "the form keeps the order"
    );
    let (status, mangled) = get(&app, &session, &format!("{c}/api-access?page=x&sort=nosuch")).await;
    assert_eq!((status, cells(&mangled, "Name").len()), (StatusCode::OK, 25));

    for i in 0..55 {
        let email = trustgate_core::admin::Email::parse(&format!("user{i:02}@example.com")).unwrap();
        let new = trustgate_server::actions::admins::NewAdmin {
            email,
            display_name: format!("User {i:02}"),
            provider: trustgate_core::admin::Provider::Local,
            external_id: None,
            provider_id: None,
        };
        trustgate_server::actions::admins::add_admin(
            app.store.as_ref(),
            &customer,
            new,
            custom(&[Permission::NOTIFICATIONS]),
            &Actor::System,
        )
        .await
        .unwrap();
    }
    let (_, admins) = get(&app, &session, &format!("{c}/administrators")).await;
    assert_eq!(cells(&admins, "Administrator").len(), 50, "one page of 50");
    assert!(admins.contains("id=\"next-page\""));
    let (_, found) = get(&app, &session, &format!("{c}/administrators?q=user07%40")).await;
    assert_eq!(cells(&found, "Administrator").len(), 1);
    let (_, by_access) = get(&app, &session, &format!("{c}/administrators?sort=access&dir=asc")).await;
    assert!(cells(&by_access, "Access")[0].contains("Custom"));
    let (_, by_access) = get(&app, &session, &format!("{c}/administrators?sort=access&dir=desc")).await;
    assert_eq!(cells(&by_access, "Access")[0], "Full access");
}

#[tokio::test]
async fn the_system_log_shows_the_newest_first_and_filters_by_event_type_and_actor() {
    for backend in [crate::harness::Backend::Sqlite, crate::harness::Backend::Postgres] {
        let Some(app) = TestApp::spawn_on(backend).await else { continue };
        let (customer, admin, session) = app.customer_with_session(Access::Full).await;
        let other = app.admin(&customer, Access::Full).await;
        app.client(&customer, &other).await;
        let created = post(
            &app,
            &session,
            &format!("/console/c/{customer}/api-access"),
            &[("csrf", &session.csrf), ("name", "n")],
        )
        .await;
        assert_eq!(created.status(), StatusCode::SEE_OTHER);
        let path = format!("/console/c/{customer}/system-log");
        let (_, newest) = get(&app, &session, &path).await;
        let events = cells(&newest, "Event");
        assert!(newest.contains("Newest first"), "{newest}");
        assert!(events[0].contains("secureclient/create"), "{events:?}");
        assert!(events.last().unwrap().contains("customer/create"), "{events:?}");
        let (_, oldest) = get(&app, &session, &format!("{path}?dir=asc")).await;
        assert!(cells(&oldest, "Event")[0].contains("customer/create"));

        let (_, creations) = get(&app, &session, &format!("{path}?event=SecureClient%2Fcreate")).await;
        let events = cells(&creations, "Event");
        assert_eq!(events.len(), 2, "{events:?}");
        let (_, by_actor) = get(&app, &session, &format!("{path}?event=secureclient&actor={}", admin.email)).await;
        assert_eq!(cells(&by_actor, "Event").len(), 1);
        assert!(cells(&by_actor, "Actor")[0].contains(&admin.email));
        let (_, literal) = get(&app, &session, &format!("{path}?actor=%25")).await;
        assert!(literal.contains("No events match these filters"), "% is a character, not a wildcard");
    }
}

/// Signs in through the console's form on the sign-in page `page` (which may carry `next`).
async fn form_sign_in_from(app: &TestApp, page: &str, email: &str, password: &str) -> reqwest::Response {
    let (cookie, html) = sign_in_page(app, page).await;
    let field = |name: &str| {
        let value = html.split(&format!("name=\"{name}\" value=\"")).nth(1).unwrap().split('"').next().unwrap();
        value.replace("&#47;", "/").replace("&#x2f;", "/").replace("&#38;", "&")
    };
    let form = [("email", email), ("password", password), ("csrf", &field("csrf")), ("next", &field("next"))];
    post_sign_in(app, cookie, &form).await
}

#[tokio::test]
async fn a_deep_link_followed_while_signed_out_returns_to_its_page_after_sign_in_and_nowhere_else() {
    let (app, customer, admin) = app_with_admin().await;
    let deep = format!("/console/c/{customer}/system-log?event=signin&dir=asc");
    let bounced = http().get(app.url(&deep)).send().await.unwrap();
    assert_eq!(bounced.status(), StatusCode::SEE_OTHER);
    let sign_in = location(&bounced);
    assert!(sign_in.starts_with("/console/sign-in?next="), "{sign_in}");
    let signed_in = form_sign_in_from(&app, &sign_in, &admin.email, &admin.password).await;
    assert_eq!((signed_in.status(), location(&signed_in)), (StatusCode::SEE_OTHER, deep.clone()));

    for evil in [
        "https://evil.example/",
        "//evil.example/console",
        "/\\evil.example",
        "/console/../api/v1/session",
        "/api/v1/session",
    ] {
        let page = format!("/console/sign-in?{}", serde_urlencoded::to_string([("next", evil)]).unwrap());
        let signed_in = form_sign_in_from(&app, &page, &admin.email, &admin.password).await;
        assert_eq!(
            (signed_in.status(), location(&signed_in)),
            (StatusCode::SEE_OTHER, "/console".to_owned()),
            "{evil}"
        );
    }
    // A form posted without a session is not replayed after signing in.
    let form = post_raw(&app, &format!("/console/c/{customer}/api-access"), None, FORM, "name=x".to_owned()).await;
    assert_eq!(location(&form), "/console/sign-in");
}

#[tokio::test]
async fn names_with_bidirectional_controls_or_invisible_characters_are_refused_everywhere() {
    let app = app().await;
    let (customer, admin, session) = app.customer_with_session(Access::Full).await;
    let spoof = "gnp\u{202E}exe.png";
    let api = format!("/api/v1/customers/{customer}/api-clients");
    let (status, body) =
        app.as_admin(&session, reqwest::Method::POST, &api, Some(serde_json::json!({"name": spoof}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("invisible or bidirectional-control characters (found U+202E)"), "{body}");
    let token = app.token(&app.client(&customer, &admin).await).await;
    let new_admin = serde_json::json!({
        "accessType": "Full", "providerType": "AzureAd", "type": "AdministratorUser",
        "email": "spoof@example.com", "displayName": "Ada\u{200B}Lovelace", "externalUserId": "x-1"
    });
    let (status, body) =
        app.call(reqwest::Method::POST, "/administrators/$create", &token, &customer, Some(new_admin)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("U+200B"), "{body}");

    let c = format!("/console/c/{customer}");
    let client = post(&app, &session, &format!("{c}/api-access"), &[("csrf", &session.csrf), ("name", spoof)]).await;
    assert_eq!(client.status(), StatusCode::BAD_REQUEST);
    assert!(client.text().await.unwrap().contains("invisible or bidirectional-control"));
    let form = [
        ("csrf", session.csrf.as_str()),
        ("email", "x@example.com"),
        ("display_name", "evil\u{2066}name"),
        ("access", "Full"),
    ];
    let added = post(&app, &session, &format!("{c}/administrators"), &form).await;
    assert_eq!(added.status(), StatusCode::BAD_REQUEST);
    assert!(added.text().await.unwrap().contains("invisible or bidirectional-control"));
    assert_eq!(app.store.clients_of(&customer, admin.id).await.unwrap().len(), 1, "only the token's client");
}

/// axe-core's script, from the npm package pinned in `js/package.json` (`npm ci` in `.ci/run`);
/// `None` (see [`crate::harness::skip`]) when it is not installed.
pub(crate) fn axe_source() -> Option<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/js/node_modules/axe-core/axe.min.js");
    match std::fs::read_to_string(&path) {
        Ok(source) => Some(source),
        Err(_) => {
            crate::harness::skip(
                "the accessibility check: axe-core not installed (npm ci --prefix crates/cli/tests/it/js)",
            );
            None
        }
    }
}

/// The serious and critical axe-core violations of the page the browser shows, one line each.
pub(crate) async fn axe_violations(browser: &Browser, axe: &str) -> Vec<String> {
    browser.execute(&format!("{axe}\n;return true;")).await;
    let found = browser
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { resultTypes: ['violations'] })
               .then((r) => done(r.violations
                 .filter((v) => v.impact === 'serious' || v.impact === 'critical')
                 .map((v) => `${v.impact} ${v.id}: ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)))
               .catch((e) => done([`axe failed: ${e}`]));",
        )
        .await;
    found.as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn every_console_page_has_no_serious_or_critical_axe_violations() {
    let Some(browser) = Browser::start().await else { return };
    let Some(axe) = axe_source() else { return };
    let (app, customer, admin) = app_with_admin().await;
    let other = disabled_owner_of_a_client(&app, &customer).await;
    // The access editors show a fieldset per service of the catalog.
    with_orders(&app).await;
    let c = format!("{}/console/c/{customer}", app.url);
    let mut failures = Vec::new();
    let mut check = |page: &str, found: Vec<String>| failures.extend(found.into_iter().map(|v| format!("{page}: {v}")));

    browser.goto(&app.url("/console/sign-in")).await;
    check("sign-in", axe_violations(&browser, &axe).await);
    sign_in(&browser, &app, &admin).await;
    check("home", axe_violations(&browser, &axe).await);
    browser.click("#menu summary").await;
    check("home with the menu open", axe_violations(&browser, &axe).await);
    browser.goto(&format!("{c}/api-access")).await;
    check("api-access, empty", axe_violations(&browser, &axe).await);
    create_client(&browser, "nightly report").await;
    check("the secret dialog", axe_violations(&browser, &axe).await);
    shoot(&browser, "a11y-secret-dialog").await;
    browser.click_for("#close-dialog", "#clients").await;
    check("api-access", axe_violations(&browser, &axe).await);
    shoot(&browser, "a11y-api-access").await;
    browser.click_for("#clients a[href$='/secrets']", "#secrets").await;
    check("a client's secrets", axe_violations(&browser, &axe).await);
    browser.goto(&format!("{c}/api-access")).await;
    browser.click_for("#clients a.danger", "#confirm").await;
    check("delete confirmation", axe_violations(&browser, &axe).await);
    for (page, path) in [
        ("administrators", format!("{c}/administrators")),
        ("change access", format!("{c}/administrators/{}", admin.id)),
        ("remove confirmation", format!("{c}/administrators/{}/remove", other.id)),
        ("service principals", format!("{c}/service-principals")),
        ("refusal inside the layout", format!("{c}/administrators/{}/remove", admin.id)),
        ("system log", format!("{c}/system-log")),
        ("system log, nothing found", format!("{c}/system-log?actor=nobody")),
        ("notifications", format!("{c}/notifications")),
        ("identity providers", format!("{c}/identity-providers")),
        ("sign-in security, enrolling", app.url("/console/account/second-factor")),
        ("not found", format!("{c}/nowhere")),
    ] {
        browser.goto(&path).await;
        browser.find("main").await;
        check(page, axe_violations(&browser, &axe).await);
        shoot(&browser, &format!("a11y-{}", page.replace(' ', "-"))).await;
    }
    browser.resize(390, 844).await;
    browser.goto(&format!("{c}/administrators")).await;
    check("administrators, narrow", axe_violations(&browser, &axe).await);
    shoot(&browser, "a11y-administrators-narrow").await;
    assert!(failures.is_empty(), "axe-core found serious or critical violations:\n{}", failures.join("\n"));
}

const TAB: &str = "\u{E004}";
const ENTER: &str = "\u{E007}";

/// Presses Tab until the focused element matches `css` (at most 40 times), as a keyboard user would.
async fn tab_to(browser: &Browser, css: &str) {
    for _ in 0..40 {
        browser.press(TAB).await;
        let script = format!("return document.activeElement.matches({});", serde_json::json!(css));
        if browser.execute(&script).await == serde_json::json!(true) {
            return;
        }
    }
    panic!("Tab never reached {css} on {}", browser.url().await);
}

async fn focused_id(browser: &Browser) -> String {
    browser.execute("return document.activeElement.id;").await.as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn the_console_works_from_the_keyboard_alone() {
    let Some(browser) = Browser::start().await else { return };
    let (app, customer, admin) = app_with_admin().await;

    // Sign in: the e-mail field has the focus, Tab to the password, Enter submits.
    browser.goto(&app.url("/console/sign-in")).await;
    browser.find("#email").await;
    assert_eq!(focused_id(&browser).await, "email");
    browser.press(&admin.email).await;
    browser.press(TAB).await;
    browser.press(&admin.password).await;
    browser.press(ENTER).await;
    browser.wait_for_url(|u| u.contains("/console/c/")).await;

    // The first Tab offers the skip link; the menu opens with Enter and leads to API Access.
    browser.press(TAB).await;
    assert_eq!(browser.execute("return document.activeElement.textContent;").await, "Skip to content");
    tab_to(&browser, "#menu summary").await;
    browser.press(ENTER).await;
    tab_to(&browser, "#menu-iam").await;
    browser.press(ENTER).await;
    browser.wait_for_url(|u| u.ends_with("/api-access")).await;

    // Name a client and create it with Enter; the dialog takes the focus and Escape closes it.
    tab_to(&browser, "#client-name").await;
    browser.press("keyboard job").await;
    browser.press(ENTER).await;
    browser.find("#secret-dialog").await;
    let inside = browser.execute("return !!document.activeElement.closest('#secret-dialog');").await;
    assert_eq!(inside, serde_json::json!(true), "focus moves into the dialog");
    browser.press("\u{E00C}").await;
    browser.find("#clients").await;
    let id = app.store.clients_of(&customer, admin.id).await.unwrap()[0].id;

    // Delete it: Tab to its Delete link, Enter; Cancel has the focus, Tab leads to the confirm button.
    tab_to(&browser, &format!("tr[data-client-id='{id}'] a.danger")).await;
    browser.press(ENTER).await;
    browser.find("#confirm").await;
    assert_eq!(focused_id(&browser).await, "cancel");
    browser.press(TAB).await;
    assert_eq!(focused_id(&browser).await, "confirm");
    browser.press(ENTER).await;
    browser.wait_for_url(|u| u.contains("done=deleted")).await;
    assert!(app.store.clients_of(&customer, admin.id).await.unwrap().is_empty());

    // Sort the administrators and search them from the keyboard.
    browser.goto(&format!("{}/console/c/{customer}/administrators", app.url)).await;
    browser.find("#administrators").await;
    tab_to(&browser, "#search").await;
    browser.press(&admin.email).await;
    browser.press(ENTER).await;
    browser.wait_for_url(|u| u.contains("q=")).await;
    tab_to(&browser, "a.sort").await;
    browser.press(ENTER).await;
    browser.wait_for_url(|u| u.contains("dir=desc")).await;
    assert!(browser.source().await.contains(&admin.email));
}

/// Issue #12 in the browser, on both stores: a Full administrator invites a local administrator;
/// the dialog says how the invitation went out and never shows its link (issue #20); the invitee
/// opens the link (here the operator's, as the server sends no e-mail), chooses a password and is
/// signed in to the customer; the list showed them pending until then.
#[tokio::test]
async fn an_invitee_follows_the_link_sets_a_password_and_is_signed_in() {
    let Some(browser) = Browser::start().await else { return };
    for backend in [crate::harness::Backend::Sqlite, crate::harness::Backend::Postgres] {
        let Some(app) = TestApp::spawn_on(backend).await else { continue };
        let customer = app.customer().await;
        let inviter = app.admin_with_password(&customer, Access::Full).await;
        sign_in(&browser, &app, &inviter).await;
        browser.goto(&format!("{}/console/c/{customer}/administrators", app.url)).await;
        browser.type_into("#admin-email", "invitee@example.com").await;
        browser.click("#add-admin input[name=permission][value=notifications]").await;
        browser.click("#add-admin button[type=submit]").await;
        browser.wait_for_url(|u| u.contains("/administrators?invited=")).await;
        shoot(&browser, "invitation-sent").await;
        let said = browser.text_of("#invitation-delivery").await;
        assert!(said.contains("sends no e-mail") && !said.contains("tgi_"), "{said}");
        assert!(!browser.source().await.contains("token=tgi_"), "the inviter is never shown the link");
        browser.click("#close-dialog").await;
        let row = browser.text_of("tr[data-admin-email='invitee@example.com']").await;
        assert!(row.contains("Invited, until"), "pending in the list: {row}");
        sign_out(&browser).await;

        let email = trustgate_core::admin::Email::parse("invitee@example.com").unwrap();
        let invitee = app.store.admin_by_email(&email).await.unwrap().expect("the invitee").id;
        let link = crate::harness::operator_invitation_link(&app, &customer, invitee).await;
        browser.goto(&link).await;
        shoot(&browser, "invitation-accept").await;
        browser.type_into("#password", "the invitee's own passphrase").await;
        browser.type_into("#password-again", "the invitee's own passphrase").await;
        browser.click("#accept").await;
        browser.wait_for_url(|u| u.ends_with(&format!("/console/c/{customer}"))).await;
        assert!(browser.source().await.contains("invitee@example.com"), "signed in as the invitee");
        sign_out(&browser).await;

        browser.goto(&link).await;
        let used = browser.text_of("#error-message").await;
        assert!(used.contains("used already"), "a used link explains itself: {used}");
    }
}

#[tokio::test]
async fn the_service_principals_tab_creates_principals_for_full_admins_and_removal_offers_conversion() {
    let Some(browser) = Browser::start().await else { return };
    let (app, customer, boss) = app_with_admin().await;
    let leaver = app.admin_with_password(&customer, custom(&[Permission::API_CLIENTS, Permission::SYSTEM_LOG])).await;
    let leavers_client = app.client(&customer, &leaver).await;

    // A Custom administrator sees no tab, and the page refuses them.
    sign_in(&browser, &app, &leaver).await;
    browser.goto(&app.url(&format!("/console/c/{customer}/api-access"))).await;
    assert!(browser.find_all("#tab-service-principals").await.is_empty(), "Full administrators only (SP3)");
    browser.goto(&app.url(&format!("/console/c/{customer}/service-principals"))).await;
    assert!(browser.source().await.contains("Only administrators with Full access"));
    sign_out(&browser).await;

    // IAM → API Access → Service principals → name and access → Create: the secret shows once.
    sign_in(&browser, &app, &boss).await;
    browser.goto(&app.url(&format!("/console/c/{customer}/api-access"))).await;
    browser.click("#tab-service-principals").await;
    browser.wait_for_url(|u| u.ends_with("/service-principals")).await;
    assert!(!browser.find_all("#no-principals").await.is_empty());
    browser.type_into("#principal-name", "nightly export").await;
    browser.click("input[name='access'][value='Custom']").await;
    browser.click("input[name='permission'][value='notifications']").await;
    browser.click("#create-principal").await;
    let dialog = browser.find("#secret-dialog").await;
    assert!(browser.is_displayed(&dialog).await);
    let id = browser.text_of("#new-client-id").await;
    let secret = browser.text_of("#new-client-secret").await;
    shoot(&browser, "service-principal-dialog").await;
    browser.click("#download-csv").await;
    assert_eq!(browser.downloaded("secureclient.csv").await, format!("ID,Secret\r\n{id},{secret}\r\n"));
    let principal =
        crate::harness::TestClient { id: id.parse().unwrap(), secret: secret.clone(), customer: customer.clone() };
    let token = app.token(&principal).await;
    assert_eq!(app.post_notification(&token, &customer).await, StatusCode::OK);
    assert_eq!(app.get("/systemlog/records", &token, &customer).await.0, StatusCode::FORBIDDEN, "its own access");
    browser.click("#close-dialog").await;
    let row = browser.find(&format!("tr[data-principal-id='{id}']")).await;
    assert!(browser.text(&row).await.contains("Notifications"));
    assert!(!browser.source().await.contains(&secret));
    shoot(&browser, "service-principals").await;

    // Removing an administrator offers to convert their clients first (SP7).
    browser.goto(&app.url(&format!("/console/c/{customer}/administrators/{}/remove", leaver.id))).await;
    assert_eq!(browser.text_of("#alternative").await, "Convert to a service principal");
    assert!(browser
        .text_of("#alternative-note")
        .await
        .contains("To keep it working, convert it to a service principal first"));
    browser.click_for("#alternative", "#confirm").await;
    assert!(browser.text_of("#confirm-warning").await.contains("They own no API clients"));
    browser.click("#confirm").await;
    browser.wait_for_url(|u| u.contains("/administrators?done=removed")).await;
    let converted = app.token(&leavers_client).await;
    assert_eq!(app.get("/systemlog/records", &converted, &customer).await.0, StatusCode::OK, "it outlived its owner");
    browser.goto(&app.url(&format!("/console/c/{customer}/service-principals"))).await;
    browser.find(&format!("tr[data-principal-id='{}']", leavers_client.id)).await;
}

/// Issue #11: a principal's expiry is chosen in its create dialog, and the tab leads to its
/// Secrets panel, where it rotates like any client — without "Never" on offer (SP6).
#[tokio::test]
async fn a_principal_created_with_an_expiry_rotates_its_secret_from_its_secrets_panel() {
    let Some(browser) = Browser::start().await else { return };
    let (app, customer, boss) = app_with_admin().await;
    sign_in(&browser, &app, &boss).await;
    browser.goto(&app.url(&format!("/console/c/{customer}/service-principals"))).await;
    let offered = browser.find_all("#principal-expires option").await.len();
    assert_eq!(offered, 5, "30, 90, 180, 365 and 730 days, no Never");
    browser.type_into("#principal-name", "nightly export").await;
    browser.click("input[name='access'][value='Full']").await;
    browser.execute("document.getElementById('principal-expires').value = '90'").await;
    browser.click_for("#create-principal", "#secret-dialog").await;
    let id = browser.text_of("#new-client-id").await;
    let first = crate::harness::TestClient {
        id: id.parse().unwrap(),
        secret: browser.text_of("#new-client-secret").await,
        customer: customer.clone(),
    };
    let held = app.cli(&["client", "secret", "list", "--customer", customer.as_str(), "--id", &id]).await;
    let expires = time::OffsetDateTime::parse(
        held["items"][0]["expiresAt"].as_str().expect("an expiry"),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!((expires - time::OffsetDateTime::now_utc()).whole_days(), 89, "the chosen 90 days: {held}");
    browser.click("#close-dialog").await;

    // The tab's row leads to the principal's own Secrets panel.
    browser.click(&format!("tr[data-principal-id='{id}'] a[href$='/secrets']")).await;
    browser.wait_for_url(|u| u.ends_with(&format!("/api-access/{id}/secrets"))).await;
    assert!(browser.text_of("#secrets-panel h2").await.contains("service principal"));
    assert_eq!(browser.text_of("#back-to-clients").await, "Back to service principals");
    assert!(browser.find_all("#secret-expires option[value='never']").await.is_empty(), "a principal's secret expires");
    let old = first.secret[4..20].to_owned();

    // Rotation: add a second secret, move to it, delete the first.
    browser.click_for("#add-secret", "#secret-dialog").await;
    let second = crate::harness::TestClient { secret: browser.text_of("#new-client-secret").await, ..first.clone() };
    browser.click("#close-dialog").await;
    browser.wait_for_url(|u| u.ends_with("/secrets")).await;
    assert_eq!(browser.find_all("#secrets tbody tr").await.len(), 2);
    app.token(&first).await;
    app.token(&second).await;
    browser.click_for(&format!("tr[data-secret-id='{old}'] a.danger"), "#confirm-warning").await;
    browser.click("#confirm").await;
    browser.wait_for_url(|u| u.ends_with("/secrets?done=deleted")).await;
    assert_eq!(browser.find_all("#secrets tbody tr").await.len(), 1);
    let grant = |secret: String| {
        let (app, id) = (&app, id.clone());
        async move {
            app.oauth("root", &[("grant_type", "client_credentials"), ("client_id", &id), ("client_secret", &secret)])
                .await
                .0
        }
    };
    assert_eq!(grant(first.secret.clone()).await, StatusCode::BAD_REQUEST, "the deleted secret grants no more");
    assert_eq!(grant(second.secret.clone()).await, StatusCode::OK, "the new secret grants");
    browser.click("#back-to-clients").await;
    browser.wait_for_url(|u| u.ends_with("/service-principals")).await;
}

#[tokio::test]
async fn a_clients_secrets_panel_adds_a_secret_shown_once_and_deletes_the_old_one() {
    let Some(browser) = Browser::start().await else { return };
    let (app, customer, owner) = app_with_admin().await;
    let client = app.client(&customer, &owner).await;
    let old = client.secret[4..20].to_owned();
    sign_in(&browser, &app, &owner).await;
    browser.goto(&format!("{}/console/c/{customer}/api-access", app.url)).await;
    browser.click(&format!("tr[data-client-id='{}'] a[href$='/secrets']", client.id)).await;
    browser.wait_for_url(|u| u.ends_with("/secrets")).await;
    assert_eq!(browser.find_all("#secrets tbody tr").await.len(), 1);
    assert!(
        browser.find_all(&format!("tr[data-secret-id='{old}'] a.danger")).await.is_empty(),
        "the last secret stays"
    );

    // Add a secret expiring in 90 days: shown once, with Copy and Download as at creation.
    browser.execute("document.getElementById('secret-expires').value = '90'").await;
    browser.click("#add-secret").await;
    let dialog = browser.find("#secret-dialog").await;
    assert!(browser.is_displayed(&dialog).await);
    assert_eq!(browser.text_of("#new-client-id").await, client.id.to_string());
    let secret = browser.text_of("#new-client-secret").await;
    assert!(secret.starts_with("tgs_"), "{secret}");
    shoot(&browser, "client-secrets-dialog").await;
    browser.click("#download-csv").await;
    assert_eq!(browser.downloaded("secureclient.csv").await, format!("ID,Secret\r\n{},{secret}\r\n", client.id));
    browser.click("#close-dialog").await;
    browser.wait_for_url(|u| u.ends_with("/secrets")).await;
    assert!(!browser.source().await.contains(&secret), "the secret is gone once the dialog closes");
    let new = &secret[4..20];
    let expires = browser.text_of(&format!("tr[data-secret-id='{new}'] td[data-label='Expires']")).await;
    assert_ne!(expires, "Never");
    shoot(&browser, "client-secrets").await;

    // Both secrets grant; deleting the old one, after a confirmation, leaves the new one.
    let grant = |secret: String| {
        let (app, id) = (&app, client.id.to_string());
        async move {
            app.oauth("root", &[("grant_type", "client_credentials"), ("client_id", &id), ("client_secret", &secret)])
                .await
                .0
        }
    };
    assert_eq!(grant(client.secret.clone()).await, StatusCode::OK);
    assert_eq!(grant(secret.clone()).await, StatusCode::OK);
    browser.click_for(&format!("tr[data-secret-id='{old}'] a.danger"), "#confirm-warning").await;
    browser.click("#confirm").await;
    browser.wait_for_url(|u| u.ends_with("/secrets?done=deleted")).await;
    assert_eq!(browser.find_all("#secrets tbody tr").await.len(), 1);
    assert_eq!(grant(client.secret.clone()).await, StatusCode::BAD_REQUEST, "the deleted secret grants no more");
    assert_eq!(grant(secret).await, StatusCode::OK);
}

/// Issue #12: the operator connects the customer's OpenID provider (a real `oidc-provider`) with
/// the CLI, and an administrator signs in through the provider's own pages in Chromium.
#[tokio::test]
async fn an_administrator_signs_in_in_the_browser_through_the_customers_openid_provider() {
    let Some(browser) = Browser::start().await else { return };
    let store = TempDir::new();
    let data = store.path().to_owned();
    let sqlite: std::sync::Arc<dyn trustgate_store::Store> =
        std::sync::Arc::new(trustgate_store::SqliteStore::open(&data).await.unwrap());
    let key = trustgate::commands::server_key(&data).unwrap();
    let config = trustgate_server::ServerConfig { allow_http_issuers: true, ..Default::default() };
    let app = TestApp::start_with(sqlite, key, store, None, config, None).await;
    let accounts = serde_json::json!({ "ada": { "email": "ada@example.com", "email_verified": true } });
    let Some(idp) = crate::idp::Idp::start(&app.url, accounts).await else { return };
    let customer = app.customer().await;
    app.cli(&[
        "admin",
        "add",
        "--customer",
        customer.as_str(),
        "--email",
        "ada@example.com",
        "--name",
        "Ada",
        "--access",
        "full",
        "--provider",
        "okta",
        "--external-id",
        "ada",
    ])
    .await;
    let connected = app
        .cli_with_input(
            &[
                "provider",
                "connect",
                "--customer",
                customer.as_str(),
                "--type",
                "okta",
                "--issuer",
                &idp.issuer,
                "--client-id",
                crate::idp::CLIENT_ID,
            ],
            Some(&format!("{}\n", crate::idp::CLIENT_SECRET)),
        )
        .await;
    assert_eq!(connected["providerType"], "CitrixSts");
    assert_eq!(connected["externalProviderType"], "Okta");
    let listed = app.cli(&["provider", "list", "--customer", customer.as_str()]).await;
    assert_eq!(listed["items"][0]["issuer"], idp.issuer.as_str());

    browser.goto(&app.url("/console/sign-in")).await;
    browser.type_into("#who", "ada@example.com").await;
    browser.click("#sign-in-provider").await;
    browser.wait_for_url(|u| u.starts_with(&idp.issuer)).await;
    browser.type_into("input[name=login]", "ada").await;
    browser.type_into("input[name=password]", "any").await;
    browser.click("button[type=submit]").await;
    browser.wait_for_url(|u| u.ends_with(&format!("/console/c/{customer}"))).await;
    assert_eq!(browser.text_of("#customer-id").await, customer.as_str());
    shoot(&browser, "signed-in-through-provider").await;

    let id = listed["items"][0]["id"].as_str().unwrap().to_owned();
    app.cli(&["provider", "disconnect", "--customer", customer.as_str(), "--id", &id]).await;
    browser.goto(&app.url(&format!("/console/c/{customer}"))).await;
    browser.wait_for_url(|u| u.contains("/console/sign-in")).await;
}

/// The console's form that connects an Azure AD provider at `issuer`, as `session` posts it.
fn provider_form<'a>(issuer: &'a str, session: &'a Session) -> [(&'a str, &'a str); 6] {
    [
        ("type", "AzureAd"),
        ("issuer", issuer),
        ("client_id", "trustgate-app"),
        ("client_secret", "a-console-secret"),
        ("email_claim", "upn"),
        ("csrf", &session.csrf),
    ]
}

#[tokio::test]
async fn a_full_administrator_connects_and_disconnects_an_identity_provider_in_the_console() {
    let app = app().await;
    let (customer, _, full) = app.customer_with_session(Access::Full).await;
    let (_, limited) = console_session(&app, &customer, custom(&[Permission::ADMINISTRATORS])).await;
    let path = format!("/console/c/{customer}/identity-providers");

    assert_eq!(get(&app, &limited, &path).await.0, StatusCode::FORBIDDEN);
    let (status, home) = get(&app, &full, &format!("/console/c/{customer}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(home.contains("id=\"identity-providers-tile\""));

    let refused = post(&app, &limited, &path, &provider_form("ftp://login.example.com", &limited)).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let invalid = post(&app, &full, &path, &provider_form("ftp://login.example.com", &full)).await;
    assert_eq!(invalid.status(), StatusCode::BAD_REQUEST);
    assert!(invalid.text().await.unwrap().contains("https URL"));
    let tenant = "https://login.microsoftonline.com/tenant/v2.0";
    let connected = post(&app, &full, &path, &provider_form(tenant, &full)).await;
    assert_eq!(connected.status(), StatusCode::SEE_OTHER);

    let (status, page) = get(&app, &full, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(tenant) && page.contains("trustgate-app") && page.contains("upn"), "{page}");
    assert!(!page.contains("a-console-secret"), "the secret is never shown again");
    assert!(page.contains("/console/sign-in/callback"), "the redirect URI to register");

    let id = app.store.identity_providers(&customer).await.unwrap()[0].id;
    let gone = post(&app, &full, &format!("{path}/{id}/disconnect"), &[("csrf", &full.csrf)]).await;
    assert_eq!(gone.status(), StatusCode::SEE_OTHER);
    assert!(get(&app, &full, &path).await.1.contains("id=\"no-providers\""));
    assert_eq!(app.log_types(&customer).await.iter().filter(|t| t.contains("identityprovider")).count(), 2);
}

/// Issue #22 item 12: what makes the page wider than the window, if anything — the document's
/// scroll width, and the element reaching furthest right (outside any scrolling box, which may
/// hold wide content by design).
const OVERFLOW: &str = r##"
const width = window.innerWidth;
const scrolls = (el) => {
  for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
    const x = getComputedStyle(up).overflowX;
    if (x !== "visible" && x !== "clip") return true;
  }
  return false;
};
// Visually hidden for screen readers only (.sr-only, a narrow table's head).
const hidden = (el) => {
  for (let up = el; up && up !== document.body; up = up.parentElement) {
    if (getComputedStyle(up).clip !== "auto") return true;
  }
  return false;
};
let widest = null;
for (const el of document.body.querySelectorAll("*")) {
  const r = el.getBoundingClientRect();
  // Text too long to wrap spills out of its box, which the box's own edges do not show.
  const spills = getComputedStyle(el).overflowX === "visible";
  const right = spills ? Math.max(r.right, r.left + el.scrollWidth) : r.right;
  if (r.width === 0 || r.height === 0 || right <= width + 0.5 || scrolls(el) || hidden(el)) continue;
  if (!widest || right > widest.right) {
    const classes = [...el.classList].map((c) => `.${c}`).join("");
    const text = (el.textContent || "").trim().replace(/\s+/g, " ").slice(0, 50);
    widest = { right: Math.round(right), what: `<${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}${classes}> “${text}”` };
  }
}
const scrollWidth = document.documentElement.scrollWidth;
return (scrollWidth > width || widest)
  ? `${scrollWidth}px wide in a ${width}px window; widest: ${widest ? `${widest.what} ends at ${widest.right}px` : "none found"}`
  : null;
"##;

const PHONE: (u32, u32) = (390, 844);

/// Brings `css` into the window, for the screenshot.
async fn scroll_to(browser: &Browser, css: &str) {
    let script = format!("document.querySelector({}).scrollIntoView({{ block: 'center' }});", serde_json::json!(css));
    browser.execute(&script).await;
}

/// Checks the page the browser shows fits the phone's width, and screenshots it.
async fn fits(browser: &Browser, page: &str, failures: &mut Vec<String>) {
    browser.find("main, body").await;
    let width = browser.execute("return window.innerWidth;").await;
    assert_eq!(width, serde_json::json!(PHONE.0), "the window is a phone's width on {page}");
    if let Some(why) = browser.execute(OVERFLOW).await.as_str() {
        failures.push(format!("{page}: {why}"));
    }
    shoot(browser, &format!("narrow-{}", page.replace([' ', ','], "-"))).await;
}

#[tokio::test]
async fn every_console_page_fits_a_390_px_wide_phone() {
    let Some(browser) = Browser::start().await else { return };
    let (app, customer, admin) = app_with_admin().await;
    let leaver = disabled_owner_of_a_client(&app, &customer).await;
    with_orders(&app).await;
    let c = format!("{}/console/c/{customer}", app.url);
    let mut failures = Vec::new();
    browser.resize(PHONE.0, PHONE.1).await;

    browser.goto(&app.url("/console/sign-in")).await;
    fits(&browser, "sign-in", &mut failures).await;
    sign_in(&browser, &app, &admin).await;
    fits(&browser, "home", &mut failures).await;
    browser.click("#menu summary").await;
    fits(&browser, "menu", &mut failures).await;

    browser.goto(&format!("{c}/api-access")).await;
    fits(&browser, "api-access, empty", &mut failures).await;
    create_client(&browser, "a rather long name for the nightly inventory report").await;
    fits(&browser, "api-access, the one-time secret", &mut failures).await;
    scroll_to(&browser, "#usage-curl").await;
    fits(&browser, "api-access, how to use it", &mut failures).await;
    browser.click_for("#close-dialog", "#clients").await;
    fits(&browser, "api-access", &mut failures).await;
    browser.click_for("#clients a[href$='/secrets']", "#secrets").await;
    fits(&browser, "secrets", &mut failures).await;
    browser.click_for("#add-secret", "#secret-dialog").await;
    fits(&browser, "secrets, the added secret", &mut failures).await;
    browser.click_for("#close-dialog", "#secrets a.danger").await;
    browser.click_for("#secrets a.danger", "#confirm").await;
    fits(&browser, "delete secret", &mut failures).await;
    browser.goto(&format!("{c}/api-access")).await;
    browser.click_for("#clients a.danger", "#confirm").await;
    fits(&browser, "delete api client", &mut failures).await;

    browser.goto(&format!("{c}/administrators")).await;
    browser.type_into("#admin-email", "a.pending.invitee.with.a.long.address@example.com").await;
    browser.click("#add-admin input[name=permission][value=notifications]").await;
    browser.click_for("#add-admin button[type=submit]", "#invitation-dialog").await;
    fits(&browser, "administrators, invited", &mut failures).await;
    browser.click("#close-dialog").await;
    let pending_row = "tr[data-admin-email='a.pending.invitee.with.a.long.address@example.com']";
    browser.find(pending_row).await;
    scroll_to(&browser, pending_row).await;
    fits(&browser, "administrators, with a pending invitee", &mut failures).await;
    browser
        .click_for("tr[data-admin-email='a.pending.invitee.with.a.long.address@example.com'] a.danger", "#confirm")
        .await;
    fits(&browser, "cancel invitation", &mut failures).await;
    assert_eq!(browser.text_of("#cancel").await, "Keep the invitation", "not two buttons saying Cancel");
    for (page, path) in [
        ("change access", format!("{c}/administrators/{}", admin.id)),
        ("remove, convert first", format!("{c}/administrators/{}/remove", leaver.id)),
        ("refusal", format!("{c}/administrators/{}/remove", admin.id)),
        ("service principals", format!("{c}/service-principals")),
        ("notifications", format!("{c}/notifications")),
        ("system log", format!("{c}/system-log")),
        ("not found", format!("{c}/nowhere")),
    ] {
        browser.goto(&path).await;
        fits(&browser, page, &mut failures).await;
    }
    browser.goto(&format!("{c}/service-principals")).await;
    browser.type_into("#principal-name", "nightly export").await;
    browser.click("input[name='access'][value='Full']").await;
    browser.click_for("#create-principal", "#secret-dialog").await;
    fits(&browser, "service principals, the one-time secret", &mut failures).await;

    browser.goto(&format!("{c}/identity-providers")).await;
    browser.type_into("#issuer", "https://login.microsoftonline.com/8f2c2a5e-9d1b-4e0b-a0c4-6d1f3e2b7a90/v2.0").await;
    browser.type_into("#client-id", "0c6f1f4e-2b1a-4c1e-9a57-0e2f3d4c5b6a").await;
    browser.type_into("#client-secret", "a-console-secret").await;
    browser.click_for("#connect", "#providers").await;
    fits(&browser, "identity providers", &mut failures).await;
    let field =
        |css: &'static str| format!("return getComputedStyle(document.querySelector('{css}')).borderTopLeftRadius;");
    let (url, text) = (browser.execute(&field("#issuer")).await, browser.execute(&field("#client-id")).await);
    if url != text {
        failures.push(format!("identity providers: the Issuer URL field is unstyled ({url} corners, not {text})"));
    }

    sign_out(&browser).await;
    let pending = trustgate_core::admin::Email::parse("a.pending.invitee.with.a.long.address@example.com").unwrap();
    let invitee = app.store.admin_by_email(&pending).await.unwrap().expect("the invitee").id;
    browser.goto(&crate::harness::operator_invitation_link(&app, &customer, invitee).await).await;
    browser.find("#password").await;
    fits(&browser, "invitation", &mut failures).await;
    assert!(failures.is_empty(), "pages that do not fit a 390 px phone:\n{}", failures.join("\n"));
}

/// Issue #22 item 12: a confirmation opens with the focus off its destructive button, so an
/// Enter pressed out of habit cancels rather than deletes.
#[tokio::test]
async fn enter_on_a_confirmation_cancels_rather_than_deletes() {
    let Some(browser) = Browser::start().await else { return };
    let (app, customer, admin) = app_with_admin().await;
    let client = app.client(&customer, &admin).await;
    let other = app.admin_with_password(&customer, Access::Full).await;
    sign_in(&browser, &app, &admin).await;
    let c = format!("{}/console/c/{customer}", app.url);
    for (path, back) in [
        (format!("{c}/api-access/{}/delete", client.id), "/api-access"),
        (format!("{c}/administrators/{}/remove", other.id), "/administrators"),
    ] {
        browser.goto(&path).await;
        browser.find("#confirm").await;
        assert!(browser.find_all("#confirm[autofocus], .danger[autofocus]").await.is_empty(), "{path}");
        let focused = browser.execute("return document.activeElement.matches('.danger, [type=submit]');").await;
        assert_eq!(focused, serde_json::json!(false), "no destructive button has the focus on {path}");
        assert_eq!(focused_id(&browser).await, "cancel", "the safe choice has the focus on {path}");
        browser.press(ENTER).await;
        browser.wait_for_url(|u| u.ends_with(back)).await;
    }
    assert_eq!(app.store.clients_of(&customer, admin.id).await.unwrap().len(), 1, "nothing deleted");
    assert!(app.store.member(&customer, other.id).await.unwrap().is_some(), "nobody removed");
}

/// Runs `script` with bash, as a user pasting it into a terminal would.
async fn run_in_bash(script: &str) -> String {
    let out = tokio::process::Command::new("bash").arg("-c").arg(script).output().await.expect("run bash");
    assert!(out.status.success(), "{script}\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Issue #22 item 11: the one-time dialog says how to use the new client — the token URL, the
/// customer id, the `CwsAuth` header — and its copied curl example gets a token and calls an API
/// the client may call.
#[tokio::test]
async fn the_one_time_dialog_shows_how_to_use_the_client_and_its_copied_curl_example_works() {
    let Some(browser) = Browser::start().await else { return };
    let (app, customer, admin) = app_with_admin().await;
    sign_in(&browser, &app, &admin).await;
    browser.allow_clipboard().await;
    let c = format!("{}/console/c/{customer}", app.url);

    browser.goto(&format!("{c}/api-access")).await;
    create_client(&browser, "curl example").await;
    let secret = browser.text_of("#new-client-secret").await;
    assert_eq!(browser.text_of("#usage-token-url").await, format!("{}/cctrustoauth2/root/tokens/clients", app.url));
    assert_eq!(browser.text_of("#usage-customer-id").await, customer.as_str());
    assert_eq!(
        browser.text_of("#usage-headers").await,
        format!("Authorization: CwsAuth Bearer=<token>\nCitrix-CustomerId: {customer}")
    );
    browser.click("button[data-copy='usage-curl']").await;
    let curl = browser.clipboard().await;
    assert!(curl.contains(&secret) && curl.contains("/systemlog/records"), "{curl}");
    let records: serde_json::Value = serde_json::from_str(&run_in_bash(&curl).await).expect("the API's JSON");
    assert!(records["items"].is_array(), "the system log answered: {records}");
    browser.click_for("#close-dialog", "#clients").await;
    assert!(!browser.source().await.contains(&secret), "the example leaves with the dialog");

    // A service principal's example calls what its own access allows.
    browser.goto(&format!("{c}/service-principals")).await;
    browser.type_into("#principal-name", "notifier").await;
    browser.click("input[name='access'][value='Custom']").await;
    browser.click("input[name='permission'][value='notifications']").await;
    browser.click_for("#create-principal", "#secret-dialog").await;
    browser.click("button[data-copy='usage-curl']").await;
    let curl = browser.clipboard().await;
    assert!(curl.contains("/notifications/items"), "{curl}");
    let notifications: serde_json::Value = serde_json::from_str(&run_in_bash(&curl).await).expect("the API's JSON");
    assert!(notifications["items"].is_array(), "the notifications answered: {notifications}");
}

// ---- Webhooks (issue #24) ----

/// A node that delivers webhooks to loopback receivers, promptly, on a clock the test moves.
async fn webhook_app() -> TestApp {
    let config = trustgate_server::ServerConfig {
        webhooks_allow_private: true,
        webhook_poll_interval: std::time::Duration::from_millis(50),
        ..trustgate_server::ServerConfig::default()
    };
    TestApp::spawn_with(crate::harness::Backend::Sqlite, config).await.expect("a SQLite node")
}

/// Waits until the node has recorded `count` attempts of the webhook endpoint at `endpoint`. A
/// receiver sees a try before the node records its outcome and schedules the retry from its
/// clock: advancing the clock in between would move that retry along with it.
async fn attempts_recorded(app: &TestApp, session: &Session, endpoint: &str, count: usize) {
    for _ in 0..200 {
        let (_, attempts) = app.as_admin(session, reqwest::Method::GET, &format!("{endpoint}/attempts"), None).await;
        if attempts["items"].as_array().is_some_and(|items| items.len() >= count) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{count} attempts were not recorded within 10 s");
}

/// Goes to `path` until `css` is on it: the page reads deliveries as they are recorded.
async fn reload_until(browser: &Browser, path: &str, css: &str) {
    for _ in 0..100 {
        browser.goto(path).await;
        if !browser.find_all(css).await.is_empty() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{css} never appeared on {path}");
}

#[tokio::test]
async fn a_webhook_subscribed_in_the_console_shows_its_secret_once_delivers_replays_and_is_deleted() {
    let Some(browser) = Browser::start().await else { return };
    let axe = axe_source();
    let app = webhook_app().await;
    let customer = app.customer().await;
    let admin = app.admin_with_password(&customer, Access::Full).await;
    let receiver = crate::webhook_receiver::Receiver::start().await;
    let c = format!("{}/console/c/{customer}", app.url);
    let mut failures = Vec::new();
    let mut check = |page: &str, found: Vec<String>| failures.extend(found.into_iter().map(|v| format!("{page}: {v}")));

    sign_in(&browser, &app, &admin).await;
    browser.click("#menu summary").await;
    browser.click_for("#menu-webhooks", "#subscribe-webhook").await;
    assert!(browser.url().await.ends_with("/webhooks"));
    browser.find("#no-webhooks").await;
    if let Some(axe) = &axe {
        check("webhooks, empty", axe_violations(&browser, axe).await);
    }
    browser.type_into("#webhook-url", &receiver.url).await;
    browser.type_into("#webhook-description", "audit sink").await;
    browser.click("#webhook-events input[value='platform:secureclient/*']").await;
    browser.click_for("#subscribe", "#secret-dialog").await;
    let shown_at = browser.url().await;
    assert!(shown_at.contains("/webhooks?created="), "{shown_at}");
    let secret = browser.text_of("#new-webhook-secret").await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    browser.allow_clipboard().await;
    browser.click("[data-copy='new-webhook-secret']").await;
    assert_eq!(browser.clipboard().await, secret, "Copy copies the secret");
    if let Some(axe) = &axe {
        check("webhook secret dialog", axe_violations(&browser, axe).await);
    }
    shoot(&browser, "webhook-secret-dialog").await;
    browser.click_for("#close-dialog", "#webhooks").await;
    let endpoints = app.store.webhooks(&customer, &Actor::System).await.unwrap();
    assert_eq!(endpoints.len(), 1);
    let endpoint = &endpoints[0];
    assert_eq!(
        (endpoint.url.as_str(), endpoint.description.as_str(), endpoint.event_types.clone()),
        (receiver.url.as_str(), "audit sink", vec!["platform:secureclient/*".to_owned()])
    );
    // The secret was shown once: the same link again shows it no more.
    browser.goto(&shown_at).await;
    browser.find("#secret-gone").await;
    assert!(!browser.source().await.contains(&secret));

    // A client created: its record reaches the receiver, signed with the secret shown.
    app.client(&customer, &admin).await;
    crate::harness::wait_until("a delivery", || !receiver.deliveries().is_empty()).await;
    let first = receiver.deliveries()[0].clone();
    assert_eq!(first.json()["type"], "platform:secureclient/create");
    let timestamp: i64 = first.timestamp.parse().unwrap();
    let signed =
        trustgate_core::webhook::signature(&secret.clone().into(), &first.id, timestamp, first.body.as_bytes());
    assert!(first.signature.split(' ').any(|s| Some(s) == signed.as_deref()), "signed with the secret shown");

    // Its attempt on the endpoint's page, then replayed from there.
    let page = format!("{c}/webhooks/{}", endpoint.id);
    reload_until(&browser, &page, "#deliveries tr[data-record-seq]").await;
    let row = format!("#deliveries tr[data-webhook-id='{}']", first.id);
    assert!(browser.text_of(&row).await.contains("HTTP 200"));
    if let Some(axe) = &axe {
        check("webhook endpoint", axe_violations(&browser, axe).await);
    }
    shoot(&browser, "webhook-endpoint").await;
    browser.click_for(&format!("{row} button"), "#webhook-notice").await;
    assert!(browser.url().await.ends_with("?done=replayed"));
    crate::harness::wait_until("the replay", || receiver.deliveries().len() >= 2).await;
    let again = receiver.deliveries()[1].clone();
    assert_eq!((again.id.as_str(), again.body.as_str()), (first.id.as_str(), first.body.as_str()), "the same record");
    reload_until(&browser, &page, &format!("{row} li.attempt:nth-child(2)")).await;
    let replays = app.log_of(&customer, "platform:webhook/replay").await;
    assert_eq!(replays.len(), 1);
    assert_eq!(replays[0].actor_name, admin.email);

    // Deleted, after asking.
    browser.click_for("#delete-endpoint", "#confirm").await;
    if let Some(axe) = &axe {
        check("webhook delete confirmation", axe_violations(&browser, axe).await);
    }
    browser.click_for("#confirm", "#no-webhooks").await;
    assert!(browser.url().await.ends_with("/webhooks?done=deleted"));
    assert!(app.store.webhooks(&customer, &Actor::System).await.unwrap().is_empty());
    let deleted = app.log_of(&customer, "platform:webhook/delete").await;
    assert_eq!((deleted.len(), deleted[0].actor_name.as_str()), (1, admin.email.as_str()));
    assert!(failures.is_empty(), "axe-core found serious or critical violations:\n{}", failures.join("\n"));
}

#[tokio::test]
async fn a_webhook_endpoint_disabled_after_failing_is_bannered_and_enabled_again_from_the_console() {
    let Some(browser) = Browser::start().await else { return };
    let axe = axe_source();
    let app = webhook_app().await;
    let customer = app.customer().await;
    let admin = app.admin_with_password(&customer, Access::Full).await;
    let session = app.sign_in(&admin).await;
    let receiver = crate::webhook_receiver::Receiver::start().await;
    receiver.answer(503);
    let api = format!("/api/v1/customers/{customer}/webhooks");
    let (status, created) = app
        .as_admin(
            &session,
            reqwest::Method::POST,
            &api,
            Some(serde_json::json!({ "url": receiver.url, "description": "siem" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();

    // Failing past the retry window, on the node's clock: the next failure disables it.
    let endpoint = format!("{api}/{id}");
    attempts_recorded(&app, &session, &endpoint, 1).await;
    app.clock().advance(std::time::Duration::from_secs(24 * 3600));
    attempts_recorded(&app, &session, &endpoint, 2).await;
    app.clock().advance(std::time::Duration::from_secs(2 * 24 * 3600));
    attempts_recorded(&app, &session, &endpoint, 3).await;
    for _ in 0..100 {
        let (_, endpoint) = app.as_admin(&session, reqwest::Method::GET, &format!("{api}/{id}"), None).await;
        if endpoint["state"] == "disabled" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let failed_id = receiver.deliveries()[0].id.clone();

    // A Custom administrator sees no banner, no menu entry, and is refused the pages and the enabling.
    let (_, custom_session) = console_session(&app, &customer, custom(&[Permission::ADMINISTRATORS])).await;
    let (status, home) = get(&app, &custom_session, &format!("/console/c/{customer}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!home.contains("webhooks-disabled") && !home.contains("menu-webhooks") && !home.contains(&receiver.url));
    let enable = format!("/console/c/{customer}/webhooks/{id}/enable");
    let refused = post(&app, &custom_session, &enable, &[("csrf", &custom_session.csrf)]).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let (status, _) = app.as_admin(&custom_session, reqwest::Method::POST, &format!("{api}/{id}/enable"), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The Full administrator: the banner on the home page and on the tab, naming the endpoint.
    sign_in(&browser, &app, &admin).await;
    let banner = browser.text_of("#webhooks-disabled").await;
    assert!(banner.contains(&receiver.url) && banner.contains("siem"), "{banner}");
    if let Some(axe) = &axe {
        let found = axe_violations(&browser, axe).await;
        assert!(found.is_empty(), "home with the banner: {found:?}");
    }
    shoot(&browser, "webhook-banner-home").await;
    browser.goto(&format!("{}/console/c/{customer}/webhooks", app.url)).await;
    browser.find("#webhooks-disabled").await;
    assert!(browser.text_of(&format!("tr[data-webhook-id='{id}']")).await.contains("Disabled"));

    // Enabled from the banner: it resumes where it stopped, with the record that failed.
    receiver.answer(200);
    let tries = receiver.deliveries().len();
    browser.click_for(&format!("[data-disabled-webhook='{id}'] button"), "#webhook-notice").await;
    assert!(browser.url().await.ends_with("/webhooks?done=enabled"));
    assert!(browser.find_all("#webhooks-disabled").await.is_empty(), "the banner is gone");
    crate::harness::wait_until("the delivery after enabling", || {
        receiver.deliveries().len() > tries && receiver.deliveries()[tries].id == failed_id
    })
    .await;
    let enabled = app.log_of(&customer, "platform:webhook/enable").await;
    assert_eq!(enabled.len(), 1);
    assert_eq!(
        (enabled[0].actor_type.as_str(), enabled[0].actor_name.as_str()),
        ("Administrator", admin.email.as_str())
    );
    let (status, endpoint) = app.as_admin(&session, reqwest::Method::POST, &format!("{api}/{id}/enable"), None).await;
    assert_eq!((status, endpoint["state"].as_str()), (StatusCode::OK, Some("enabled")));
    assert_eq!(
        app.log_of(&customer, "platform:webhook/enable").await.len(),
        1,
        "enabling an enabled endpoint writes nothing"
    );
}

#[tokio::test]
async fn webhook_pages_are_for_full_administrators_of_the_customer_only() {
    let app = app().await;
    let (customer, _, full) = app.customer_with_session(Access::Full).await;
    let c = format!("/console/c/{customer}");
    let (status, html) = get(&app, &full, &format!("{c}/webhooks")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("id=\"menu-webhooks\"") && html.contains("id=\"no-webhooks\""));
    // Refused input stays on the page, within the layout, with what was entered.
    let bad = post(
        &app,
        &full,
        &format!("{c}/webhooks"),
        &[("csrf", &full.csrf), ("url", "http://10.0.0.1/x"), ("description", "kept")],
    )
    .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let html = bad.text().await.unwrap();
    assert!(html.contains("value=\"kept\"") && html.contains("role=\"alert\""), "{html}");
    assert!(app.store.webhooks(&customer, &Actor::System).await.unwrap().is_empty());

    let (_, custom_session) =
        console_session(&app, &customer, custom(&[Permission::ADMINISTRATORS, Permission::SYSTEM_LOG])).await;
    let (_, home) = get(&app, &custom_session, &c).await;
    assert!(!home.contains("menu-webhooks") && !home.contains("webhooks-tile"));
    let id = trustgate_core::ids::WebhookId::generate();
    for path in [format!("{c}/webhooks"), format!("{c}/webhooks/{id}"), format!("{c}/webhooks/{id}/delete")] {
        assert_eq!(get(&app, &custom_session, &path).await.0, StatusCode::FORBIDDEN, "{path}");
    }
    let subscribe = post(
        &app,
        &custom_session,
        &format!("{c}/webhooks"),
        &[("csrf", &custom_session.csrf), ("url", "https://example.com/h")],
    )
    .await;
    assert_eq!(subscribe.status(), StatusCode::FORBIDDEN);
    // Another customer's administrator: the customer does not exist.
    let (_, _, stranger) = app.customer_with_session(Access::Full).await;
    assert_eq!(get(&app, &stranger, &format!("{c}/webhooks")).await.0, StatusCode::NOT_FOUND);
    // The Full administrator, for an endpoint that is not there.
    assert_eq!(get(&app, &full, &format!("{c}/webhooks/{id}")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(get(&app, &full, &format!("{c}/webhooks/not-an-id")).await.0, StatusCode::NOT_FOUND);
}
