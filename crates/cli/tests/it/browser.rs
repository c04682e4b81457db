//! Headless Chromium for the console tests: starts `/usr/bin/chromedriver` on a free port and a
//! Chromium with a fresh profile, and drives it through `fantoccini` (W3C WebDriver).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::http::Method;
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};

use crate::harness::{skip, TempDir};

pub use fantoccini::elements::Element;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
const PATIENCE: Duration = Duration::from_secs(10);

pub struct Browser {
    client: Client,
    driver: Child,
    port: u16,
    session: String,
    profile: TempDir,
}

/// Chromium's DevTools command endpoint, which W3C WebDriver has no command for.
#[derive(Debug)]
struct DevTools(Value);

impl WebDriverCompatibleCommand for DevTools {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/goog/cdp/execute", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (Method, Option<String>) {
        (Method::POST, Some(self.0.to_string()))
    }
}

/// The WebDriver extension of W3C Web Authentication (§11.3, "Add Virtual Authenticator").
#[derive(Debug)]
struct AddVirtualAuthenticator(Value);

impl WebDriverCompatibleCommand for AddVirtualAuthenticator {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/webauthn/authenticator", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (Method, Option<String>) {
        (Method::POST, Some(self.0.to_string()))
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port()
}

impl Browser {
    /// A fresh headless Chromium, or `None` (see [`skip`]) when it is not installed here.
    pub async fn start() -> Option<Self> {
        let missing: Vec<_> = [CHROMEDRIVER, CHROMIUM].into_iter().filter(|p| !Path::new(p).exists()).collect();
        if !missing.is_empty() {
            skip(format_args!("{} not installed (apt-get install chromium chromium-driver)", missing.join(" and ")));
            return None;
        }
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let profile = TempDir::new();
        let downloads = profile.path().join("downloads");
        std::fs::create_dir_all(&downloads).expect("downloads dir");
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                    "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.path().join("profile").display()),
                ],
                "prefs": {
                    "download.default_directory": downloads.display().to_string(),
                    "download.prompt_for_download": false,
                },
            },
        });
        let Value::Object(capabilities) = capabilities else { unreachable!("an object literal") };
        // chromedriver takes a moment to listen; until then connecting fails.
        let deadline = Instant::now() + PATIENCE;
        let client = loop {
            let connected = ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await;
            match connected {
                Ok(client) => break client,
                Err(e) => {
                    assert!(Instant::now() < deadline, "chromedriver did not start a session on port {port}: {e}")
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let session = client.session_id().await.expect("session id").expect("a session");
        // Headless Chromium downloads only where it is told to, over the DevTools protocol.
        client
            .issue_cmd(DevTools(json!({ "cmd": "Browser.setDownloadBehavior", "params": {
                "behavior": "allow", "downloadPath": downloads.display().to_string() } })))
            .await
            .expect("allow downloads");
        Some(Self { client, driver, port, session, profile })
    }

    /// Gives the browser a platform authenticator that keeps passkeys and verifies its user (as a
    /// fingerprint or PIN would), through WebDriver's virtual authenticators; returns its id.
    pub async fn add_virtual_authenticator(&self) -> String {
        let options = json!({
            "protocol": "ctap2", "transport": "internal",
            "hasResidentKey": true, "hasUserVerification": true, "isUserVerified": true,
        });
        let id = self.client.issue_cmd(AddVirtualAuthenticator(options)).await.expect("a virtual authenticator");
        id.as_str().expect("the authenticator's id").to_owned()
    }

    pub fn downloads(&self) -> PathBuf {
        self.profile.path().join("downloads")
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap_or_else(|e| panic!("going to {url}: {e}"));
    }

    pub async fn url(&self) -> String {
        self.client.current_url().await.expect("current url").to_string()
    }

    pub async fn source(&self) -> String {
        self.client.source().await.expect("page source")
    }

    /// The first element matching `css`, waiting for it to appear.
    pub async fn find(&self, css: &str) -> Element {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(found) = self.find_all(css).await.into_iter().next() {
                return found;
            }
            assert!(Instant::now() < deadline, "no element matches {css} on {}", self.url().await);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every element matching `css` now, without waiting.
    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        self.client.find_all(Locator::Css(css)).await.unwrap_or_else(|e| panic!("finding {css}: {e}"))
    }

    pub async fn text(&self, element: &Element) -> String {
        element.text().await.expect("element text")
    }

    /// The text of the first element matching `css`. An element found just before the page changed
    /// (a form posted, a dialog opened) is gone by the time its text is asked for: it is found again.
    pub async fn text_of(&self, css: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            match self.find(css).await.text().await {
                Ok(text) => return text,
                Err(e) if e.is_stale_element_reference() && Instant::now() < deadline => {}
                Err(e) => panic!("the text of {css}: {e}"),
            }
        }
    }

    pub async fn is_displayed(&self, element: &Element) -> bool {
        element.is_displayed().await.expect("element displayed")
    }

    pub async fn click(&self, css: &str) {
        let element = self.find(css).await;
        element.click().await.unwrap_or_else(|e| panic!("clicking {css}: {e}"));
    }

    /// Clicks `css` and waits for `appears`, what the click opens.
    pub async fn click_for(&self, css: &str, appears: &str) {
        self.click(css).await;
        self.find(appears).await;
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        element.clear().await.unwrap_or_else(|e| panic!("clearing {css}: {e}"));
        element.send_keys(text).await.unwrap_or_else(|e| panic!("typing into {css}: {e}"));
    }

    /// Waits until the page's URL satisfies `wanted` and that page has loaded. A navigation started
    /// by a key or a click commits its URL before the document is parsed, so a test reading the page
    /// as soon as the URL changed could read half of it.
    /// The console's first sign-in step, e-mail and password, submitted; what follows is the caller's.
    pub async fn password_step(&self, app: &crate::harness::TestApp, admin: &crate::harness::TestAdmin) {
        self.goto(&app.url("/console/sign-in")).await;
        self.type_into("#email", &admin.email).await;
        self.type_into("#password", &admin.password).await;
        self.click("#sign-in").await;
    }

    /// Signs out from any console page, back at the sign-in page.
    pub async fn sign_out(&self) {
        self.click("form[action='/console/sign-out'] button").await;
        self.wait_for_url(|u| u.ends_with("/console/sign-in")).await;
    }

    pub async fn wait_for_url(&self, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let url = self.url().await;
            if wanted(&url) && self.execute("return document.readyState;").await == "complete" {
                return url;
            }
            assert!(Instant::now() < deadline, "the browser stayed on {url}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn resize(&self, width: u32, height: u32) {
        self.client.set_window_size(width, height).await.expect("resize");
    }

    /// Lets the page's script write and read the clipboard, as a user's Copy click would.
    pub async fn allow_clipboard(&self) {
        self.client
            .issue_cmd(DevTools(json!({ "cmd": "Browser.grantPermissions", "params": {
                "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"] } })))
            .await
            .expect("allow the clipboard");
    }

    /// What the clipboard holds.
    pub async fn clipboard(&self) -> String {
        let text = self
            .execute_async("navigator.clipboard.readText().then(arguments[0], (e) => arguments[0](`!${e}`));")
            .await;
        let text = text.as_str().expect("clipboard text").to_owned();
        assert!(!text.starts_with('!'), "reading the clipboard: {text}");
        text
    }

    pub async fn screenshot(&self, path: &Path) {
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(path, png).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    }

    /// Runs `script` (a function body) in the page and returns what it returns.
    pub async fn execute(&self, script: &str) -> Value {
        self.client.execute(script, Vec::new()).await.expect("execute")
    }

    /// Runs `script` in the page; it ends by calling `arguments[0]` with its answer.
    pub async fn execute_async(&self, script: &str) -> Value {
        self.client.execute_async(script, Vec::new()).await.expect("execute_async")
    }

    /// Presses `keys` one after the other on whatever has the focus (`\u{E004}` Tab,
    /// `\u{E007}` Enter, `\u{E00C}` Escape: the WebDriver key codes).
    pub async fn press(&self, keys: &str) {
        let mut actions = KeyActions::new("keyboard".to_owned());
        for value in keys.chars() {
            actions = actions.then(KeyAction::Down { value }).then(KeyAction::Up { value });
        }
        self.client.perform_actions(actions).await.expect("key presses");
    }

    /// The contents of a finished download named `name`.
    pub async fn downloaded(&self, name: &str) -> String {
        let path = self.downloads().join(name);
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Ok(text) = std::fs::read_to_string(&path) {
                if !text.is_empty() {
                    return text;
                }
            }
            assert!(Instant::now() < deadline, "{} was not downloaded", path.display());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Browser {
    /// Ends the session (so chromedriver closes Chromium), then stops chromedriver. The test's
    /// runtime may be unwinding, so the request gets a runtime of its own on another thread.
    fn drop(&mut self) {
        let url = format!("http://127.0.0.1:{}/session/{}", self.port, self.session);
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            runtime.block_on(async {
                let request = reqwest::Client::new().delete(url).timeout(PATIENCE).send();
                let _ = request.await;
            });
        })
        .join();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
