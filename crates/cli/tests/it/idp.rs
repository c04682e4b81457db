//! A real OpenID provider for the sign-in tests: npm `oidc-provider` (pinned in `js/package.json`)
//! run by `js/oidc_provider.mjs` on an ephemeral loopback port, and a small cookie-keeping HTTP
//! walk through its developer login pages for tests that speak HTTP rather than drive a browser.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::skip;

pub const CLIENT_ID: &str = "trustgate-console";
pub const CLIENT_SECRET: &str = "idp-client-secret-for-the-tests-0123456789";

pub struct Idp {
    pub issuer: String,
    child: Child,
    /// Kept open: the provider's process dies writing to a closed pipe.
    _stdout: std::io::BufReader<std::process::ChildStdout>,
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Idp {
    /// The provider with one client whose redirect URI is `trustgate`'s callback, and `accounts`
    /// (login → claims); `None` (see [`skip`]) when the package is missing.
    pub async fn start(trustgate: &str, accounts: Value) -> Option<Self> {
        Self::start_with(trustgate, accounts, false).await
    }

    /// As [`Idp::start`], with the scopes' claims (the e-mail among them) served by the userinfo
    /// endpoint only when `conform` — oidc-provider's default.
    pub async fn start_with(trustgate: &str, accounts: Value, conform: bool) -> Option<Self> {
        Self::start_config(trustgate, json!({ "accounts": accounts, "conform": conform })).await
    }

    /// As [`Idp::start`], with the accounts read from `file` at every look-up, so a test changes
    /// a person's claims between sign-ins by writing it again.
    pub async fn start_with_file(trustgate: &str, file: &std::path::Path) -> Option<Self> {
        Self::start_config(trustgate, json!({ "accountsFile": file, "conform": false })).await
    }

    async fn start_config(trustgate: &str, accounts: Value) -> Option<Self> {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/js");
        if !dir.join("node_modules/oidc-provider/package.json").exists() {
            skip(format_args!("the OpenID provider: oidc-provider not installed (npm ci in {})", dir.display()));
            return None;
        }
        let mut config = json!({
            "clients": [{
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "redirect_uris": [format!("{trustgate}/console/sign-in/callback")],
            }],
        });
        config.as_object_mut().expect("an object").extend(accounts.as_object().expect("an object").clone());
        let mut child = Command::new("node")
            .arg("oidc_provider.mjs")
            .arg(config.to_string())
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start node");
        let stdout = child.stdout.take().expect("stdout");
        let (issuer, stdout) = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            let mut reader = std::io::BufReader::new(stdout);
            reader.read_line(&mut line).map(|_| (line.trim().to_owned(), reader))
        })
        .await
        .expect("the reading thread")
        .expect("the issuer line");
        assert!(issuer.starts_with("http://127.0.0.1:"), "the provider did not start: {issuer:?}");
        Some(Self { issuer, child, _stdout: stdout })
    }
}

/// A browser's cookies, reduced to what these flows need: every cookie goes back to every path.
#[derive(Default)]
pub struct Jar(BTreeMap<String, String>);

impl Jar {
    pub fn keep(&mut self, response: &reqwest::Response) {
        for value in response.headers().get_all("set-cookie") {
            let pair = value.to_str().unwrap().split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() {
                self.0.remove(name);
            } else {
                self.0.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    pub fn header(&self) -> String {
        self.0.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

fn location(response: &reqwest::Response) -> String {
    response.headers().get("location").map(|l| l.to_str().unwrap().to_owned()).unwrap_or_default()
}

/// Follows redirects by hand from `url`, keeping cookies in `jar`, until one leads outside
/// `origin`; returns that URL (the callback, with `code` or `error`).
async fn follow(http: &reqwest::Client, jar: &mut Jar, origin: &str, mut url: String) -> String {
    for _ in 0..10 {
        if !url.starts_with(origin) {
            return url;
        }
        let response = http.get(&url).header("cookie", jar.header()).send().await.unwrap();
        jar.keep(&response);
        assert!(response.status().is_redirection(), "{url} answered {}", response.status());
        let next = location(&response);
        url = if next.starts_with('/') { format!("{origin}{next}") } else { next };
    }
    panic!("too many redirects");
}

/// The provider's interaction page that `authorize` leads to, with the jar that holds its cookies.
async fn interaction(idp: &Idp, http: &reqwest::Client, authorize: &str) -> (Jar, String) {
    let mut jar = Jar::default();
    let response = http.get(authorize).send().await.unwrap();
    jar.keep(&response);
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "the provider refused {authorize}");
    (jar, format!("{}{}", idp.issuer, location(&response)))
}

/// Signs in as `login` at the provider's developer login page, starting from the provider's
/// authorization URL; returns the URL the provider sends the browser back to.
pub async fn log_in(idp: &Idp, authorize: &str, login: &str) -> String {
    let http = no_redirects();
    let (mut jar, page) = interaction(idp, &http, authorize).await;
    let response = http
        .post(&page)
        .header("cookie", jar.header())
        .form(&[("prompt", "login"), ("login", login), ("password", "any")])
        .send()
        .await
        .unwrap();
    jar.keep(&response);
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "the login was not taken");
    let resume = location(&response);
    let resume = if resume.starts_with('/') { format!("{}{resume}", idp.issuer) } else { resume };
    follow(&http, &mut jar, &idp.issuer, resume).await
}

/// Cancels at the provider's login page, as a person pressing "Cancel" does; returns the URL the
/// provider sends the browser back to.
pub async fn cancel(idp: &Idp, authorize: &str) -> String {
    let http = no_redirects();
    let (mut jar, page) = interaction(idp, &http, authorize).await;
    follow(&http, &mut jar, &idp.issuer, format!("{page}/abort")).await
}
