//! The operator CLI, run as a separate process against the same data directory as a live server.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use trustgate_core::ids::{ClientId, CustomerId};

use crate::harness::{TempDir, TestApp, TestClient};

fn trustgate(dir: &std::path::Path, args: &[&str]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_trustgate"))
        .arg("--data-dir")
        .arg(dir)
        .arg("--json")
        .args(args)
        .stdin(Stdio::null())
        .env_remove("TRUSTGATE_SERVER_KEY")
        .output()
        .expect("run trustgate");
    assert!(output.status.success(), "trustgate {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{args:?} printed no JSON ({e}): {}", String::from_utf8_lossy(&output.stdout)))
}

fn trustgate_fails(dir: &std::path::Path, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_trustgate"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert!(!output.status.success(), "trustgate {args:?} should fail");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn cli_bootstraps_a_customer_and_a_client_whose_csv_credentials_get_a_token() {
    let app = TestApp::spawn_in(TempDir::new()).await;
    let dir = app.dir.path().to_owned();
    let customer = trustgate(&dir, &["customer", "create", "--name", "Acme", "--id", "acme"]);
    assert_eq!(customer["id"], "acme");
    trustgate(&dir, &["admin", "add", "--customer", "acme", "--email", "boss@acme.test", "--access", "full"]);
    let added = trustgate(
        &dir,
        &[
            "admin",
            "add",
            "--customer",
            "acme",
            "--email",
            "ops@acme.test",
            "--access",
            "custom",
            "--permission",
            "notifications,systemLog",
        ],
    );
    assert!(added["password"].as_str().is_some_and(|p| p.len() >= 12), "a generated password is shown once");
    let csv = dir.join("secureclient.csv");
    trustgate(
        &dir,
        &[
            "client",
            "create",
            "--customer",
            "acme",
            "--admin",
            "ops@acme.test",
            "--name",
            "nightly",
            "--csv",
            csv.to_str().unwrap(),
        ],
    );
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("ID,Secret"));
    let (id, secret) = lines.next().unwrap().split_once(',').unwrap();
    let client = TestClient {
        id: ClientId::parse(id).unwrap(),
        secret: secret.to_owned(),
        customer: CustomerId::parse("acme").unwrap(),
    };
    let token = app.token(&client).await;
    assert_eq!(app.post_notification(&token, &client.customer).await, StatusCode::OK);
    trustgate_fails(
        &dir,
        &[
            "client",
            "create",
            "--customer",
            "acme",
            "--admin",
            "ops@acme.test",
            "--name",
            "again",
            "--csv",
            csv.to_str().unwrap(),
        ],
    );

    // Changes made by the CLI reach the running server through the change feed.
    trustgate(
        &dir,
        &[
            "admin",
            "set-access",
            "--customer",
            "acme",
            "--admin",
            "ops@acme.test",
            "--access",
            "custom",
            "--permission",
            "systemLog",
        ],
    );
    assert!(
        eventually(|| async { app.post_notification(&token, &client.customer).await == StatusCode::FORBIDDEN }).await
    );
    let removed = trustgate(&dir, &["admin", "remove", "--customer", "acme", "--admin", "ops@acme.test"]);
    assert_eq!(removed["deletedApiClients"], 1);
    assert!(
        eventually(|| async { app.post_notification(&token, &client.customer).await == StatusCode::UNAUTHORIZED })
            .await
    );
}

#[tokio::test]
async fn cli_refuses_bad_input_with_a_clear_message() {
    let dir = TempDir::new();
    let message = trustgate_fails(dir.path(), &["customer", "create", "--name", "X", "--id", "Not Valid"]);
    assert!(message.contains("customerId"), "{message}");
    let message = trustgate_fails(dir.path(), &["admin", "disable", "--admin", "nobody@example.com"]);
    assert!(message.contains("no administrator"), "{message}");
    trustgate(dir.path(), &["customer", "create", "--name", "Acme", "--id", "acme"]);
    trustgate(dir.path(), &["admin", "add", "--customer", "acme", "--email", "a@acme.test", "--access", "full"]);
    let message = trustgate_fails(dir.path(), &["admin", "disable", "--admin", "a@acme.test"]);
    assert!(message.contains("local administrator"), "{message}");
    let message = trustgate_fails(dir.path(), &["admin", "remove", "--customer", "acme", "--admin", "a@acme.test"]);
    assert!(message.contains("Full access"), "{message}");
}

/// Polls for up to five seconds: the feed from another process is read every 200 ms.
async fn eventually<F, Fut>(mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// `trustgate serve` as an operator runs it: a separate process on `dir` (and `database`, if given).
struct Served {
    child: std::process::Child,
    url: String,
    dir: std::path::PathBuf,
    database: Option<String>,
}

impl Served {
    fn start(dir: &std::path::Path, database: Option<String>) -> Self {
        use std::io::BufRead;
        let mut command = Command::new(env!("CARGO_BIN_EXE_trustgate"));
        command.arg("--data-dir").arg(dir);
        if let Some(url) = &database {
            command.arg("--database").arg(url);
        }
        let mut child = command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .env_remove("TRUSTGATE_SERVER_KEY")
            .spawn()
            .expect("start trustgate serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = std::io::BufReader::new(stdout).lines();
        let url = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|line| {
                line.strip_prefix("Trustgate is listening on ")
                    .and_then(|rest| rest.split_whitespace().next())
                    .map(str::to_owned)
            })
            .expect("the server says where it listens");
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Self { child, url, dir: dir.to_owned(), database }
    }

    fn cli(&self, args: &[&str]) -> Value {
        let mut command = Command::new(env!("CARGO_BIN_EXE_trustgate"));
        command.arg("--data-dir").arg(&self.dir).arg("--json");
        if let Some(url) = &self.database {
            command.arg("--database").arg(url);
        }
        let output =
            command.args(args).stdin(Stdio::null()).env_remove("TRUSTGATE_SERVER_KEY").output().expect("run trustgate");
        assert!(output.status.success(), "trustgate {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice(&output.stdout).expect("JSON output")
    }

    /// SIGINT, as Ctrl-C: the server stops cleanly.
    fn stop(mut self) {
        let stopped = Command::new("kill").arg("-INT").arg(self.child.id().to_string()).status().expect("kill");
        assert!(stopped.success());
        let status = self.child.wait().expect("wait");
        assert!(status.success(), "the server exits cleanly on SIGINT: {status}");
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The README walkthrough, pasted as one block, 100 times: each operator command is enforced on
/// the very next request (R5, R6), because the CLI waits until the running server has taken it in.
async fn cli_changes_hold_on_the_very_next_request(database: Option<String>) {
    let dir = TempDir::new();
    let served = Served::start(dir.path(), database);
    let socket = dir.path().join("trustgate.sock");
    assert!(socket.exists(), "the server opens its control socket before it says it listens");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "only the server's own user may talk to it");
    }
    let customers = served.cli(&["customer", "list"]);
    let customer = customers["items"][0]["id"].as_str().expect("the bootstrap customer").to_owned();
    let customer_id = CustomerId::parse(&customer).unwrap();
    let http = reqwest::Client::new();
    let call = |method: reqwest::Method, path: &str, token: &str| {
        let request = http
            .request(method.clone(), format!("{}{path}", served.url))
            .header("authorization", format!("CwsAuth Bearer={token}"))
            .header("citrix-customerid", customer_id.as_str());
        let request =
            if method == reqwest::Method::POST { request.json(&crate::harness::notification()) } else { request };
        async move { request.send().await.expect("send").status() }
    };
    let mut outcomes = Vec::new();
    for round in 0..100 {
        let email = format!("ops{round}@example.com");
        served.cli(&[
            "admin",
            "add",
            "--customer",
            &customer,
            "--email",
            &email,
            "--access",
            "custom",
            "--permission",
            "notifications",
        ]);
        let created =
            served.cli(&["client", "create", "--customer", &customer, "--admin", &email, "--name", "nightly"]);
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", created["id"].as_str().unwrap()),
            ("client_secret", created["secret"].as_str().unwrap()),
        ];
        let token: Value = http
            .post(format!("{}/cctrustoauth2/root/tokens/clients", served.url))
            .form(&form)
            .send()
            .await
            .expect("token")
            .json()
            .await
            .expect("token JSON");
        let token = token["access_token"].as_str().expect("a token").to_owned();

        let posted = call(reqwest::Method::POST, "/notifications/items", &token).await;
        served.cli(&[
            "admin",
            "set-access",
            "--customer",
            &customer,
            "--admin",
            &email,
            "--access",
            "custom",
            "--permission",
            "systemLog",
        ]);
        let reduced = call(reqwest::Method::POST, "/notifications/items", &token).await;
        served.cli(&["admin", "remove", "--customer", &customer, "--admin", &email]);
        let removed = call(reqwest::Method::GET, "/systemlog/records", &token).await;
        outcomes.push((posted.as_u16(), reduced.as_u16(), removed.as_u16()));
    }
    let wrong: Vec<_> = outcomes.iter().enumerate().filter(|(_, o)| **o != (200, 403, 401)).collect();
    assert!(wrong.is_empty(), "{} of 100 rounds did not answer 200, 403, 401: {wrong:?}", wrong.len());
    served.stop();
    assert!(!socket.exists(), "the server removes its control socket when it stops");
}

#[tokio::test]
async fn cli_changes_hold_on_the_very_next_request_on_sqlite() {
    cli_changes_hold_on_the_very_next_request(None).await;
}

#[tokio::test]
async fn cli_changes_hold_on_the_very_next_request_on_postgres() {
    let Some(database) = crate::harness::TestDatabase::create().await else { return };
    cli_changes_hold_on_the_very_next_request(Some(database.url.clone())).await;
}

#[tokio::test]
async fn cli_refuses_a_client_beyond_the_per_owner_cap() {
    let dir = TempDir::new();
    trustgate(dir.path(), &["customer", "create", "--name", "Acme", "--id", "acme"]);
    trustgate(dir.path(), &["admin", "add", "--customer", "acme", "--email", "a@acme.test", "--access", "full"]);
    let create = ["client", "create", "--customer", "acme", "--admin", "a@acme.test", "--name", "n"];
    for _ in 0..2 {
        trustgate(dir.path(), &[&["--max-clients-per-owner", "2"], &create[..]].concat());
    }
    let message = trustgate_fails(dir.path(), &[&["--max-clients-per-owner", "2"], &create[..]].concat());
    assert!(message.contains("at most 2 API clients"), "{message}");
}

/// `trustgate serve` as a child process, stopped when dropped.
struct ServeProcess(std::process::Child);

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `trustgate serve` on a free port; returns the process and the address it printed.
fn serve(dir: &std::path::Path, args: &[&str]) -> (ServeProcess, String) {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_trustgate"))
        .arg("--data-dir")
        .arg(dir)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .env_remove("TRUSTGATE_PUBLIC_URL")
        .env_remove("TRUSTGATE_AUDIENCE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run trustgate serve");
    let stdout = child.stdout.take().expect("stdout");
    let served = ServeProcess(child);
    let mut stdout = std::io::BufReader::new(stdout);
    let mut first = String::new();
    stdout.read_line(&mut first).expect("read");
    // The server prints more; a closed pipe would make its next line fail.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let url = first.split_whitespace().find(|w| w.starts_with("http://")).expect("the address").to_owned();
    (served, url)
}

async fn discovery(url: &str) -> Value {
    reqwest::get(format!("{url}/.well-known/openid-configuration")).await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn serve_takes_its_issuer_from_public_url_and_defaults_to_its_listen_address() {
    let dir = TempDir::new();
    let (_served, url) = serve(dir.path(), &["--public-url", "https://id.example.com/", "--audience", "api://reports"]);
    let doc = discovery(&url).await;
    assert_eq!(doc["issuer"], "https://id.example.com", "without the trailing slash");
    assert_eq!(doc["token_endpoint"], "https://id.example.com/cctrustoauth2/root/tokens/clients");
    trustgate(dir.path(), &["customer", "create", "--name", "Acme", "--id", "acme"]);
    trustgate(dir.path(), &["admin", "add", "--customer", "acme", "--email", "ops@acme.test", "--access", "full"]);
    let csv = dir.path().join("secureclient.csv");
    let create = ["client", "create", "--customer", "acme", "--admin", "ops@acme.test", "--name", "n", "--csv"];
    trustgate(dir.path(), &[&create[..], &[csv.to_str().unwrap()]].concat());
    let text = std::fs::read_to_string(&csv).unwrap();
    let (id, secret) = text.lines().nth(1).unwrap().split_once(',').unwrap();
    let form = [("grant_type", "client_credentials"), ("client_id", id), ("client_secret", secret)];
    let response = reqwest::Client::new()
        .post(format!("{url}/cctrustoauth2/root/tokens/clients"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(form).unwrap())
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    let payload = body["access_token"].as_str().unwrap().split('.').nth(1).unwrap().to_owned();
    use base64::Engine;
    let claims: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    assert_eq!(
        (&claims["iss"], &claims["aud"]),
        (&Value::from("https://id.example.com"), &Value::from("api://reports"))
    );
    drop(_served);

    let (_served, url) = serve(dir.path(), &[]);
    assert_eq!(discovery(&url).await["issuer"], url.as_str());
    drop(_served);

    for bad in ["ftp://id.example.com", "id.example.com", "https://", "https://id.example.com/?x=1"] {
        let error = trustgate_fails(dir.path(), &["serve", "--listen", "127.0.0.1:0", "--public-url", bad]);
        assert!(error.contains("--public-url"), "{bad}: {error}");
    }
}
